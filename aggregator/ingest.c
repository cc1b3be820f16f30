#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoints.h"
#include "clock.h"
#include "log.h"
#include "messages.h"

/* How long a watermark query may block the loop. */
#define WATERMARK_TIMEOUT_MS 5000
/* How often lag gauges and event counters reach the metrics registry. */
#define HOUSEKEEPING_INTERVAL_MS 1000
/* How long the last Rollups may take to be acknowledged. */
#define FINAL_FLUSH_MS 10000

/* One assigned partition of the status topic. */
typedef struct partition_state {
    int32_t id;
    int64_t next; /* the next offset to read */
    int64_t high; /* high watermark when assigned; -1 until learned */
    int caught_up;
    int64_t checkpointed;       /* the offset the last checkpoint written or restored covers up to; -1 none */
    int64_t next_checkpoint_ms; /* monotonic: the earliest the next one is written */
} partition_state;

struct dr_ingest {
    dr_ingest_settings s;
    char status_topic[256];
    char reader[300]; /* whose checkpoints: "aggregator:GROUP" */
    dr_kafka_consumer *consumer;
    dr_kafka_producer *producer;
    partition_state *parts;
    size_t part_count;
    size_t part_alloc;
    int assignment_seen; /* the group gave this member an assignment (maybe empty) */
    int closing;         /* leaving the group: keep the table as it is */
    int publish_now;     /* a deployment finished */
    int64_t next_publish_ms;
    int64_t next_expiry_ms; /* monotonic: when finished deployments are looked at for retention next */
    int64_t next_housekeeping_ms;
    int64_t next_watermark_try_ms;
    uint64_t unreported_events; /* not yet added to the metrics */
    uint64_t unreported_malformed;
    int64_t first_event_ms;
    int64_t caught_up_ms;
    dr_ingest_stats stats;
};

static void describe_metrics(dr_metrics *m)
{
    static const double duration_buckets[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};
    dr_metrics_describe(m, "drover_status_events_total", DR_METRIC_COUNTER,
                        "status events folded (including redeliveries that changed nothing)", NULL, 0);
    dr_metrics_describe(m, "drover_status_events_malformed_total", DR_METRIC_COUNTER,
                        "messages on the status topic skipped as malformed", NULL, 0);
    dr_metrics_describe(m, "drover_aggregator_deployments_expired_total", DR_METRIC_COUNTER,
                        "finished deployments that left memory past the retention", NULL, 0);
    dr_metrics_describe(m, "drover_rollups_published_total", DR_METRIC_COUNTER, "Rollups queued for the rollups topic",
                        NULL, 0);
    dr_metrics_describe(m, "drover_job_duration_seconds", DR_METRIC_HISTOGRAM,
                        "job time from start to terminal status, once per job (attempt)", duration_buckets,
                        sizeof duration_buckets / sizeof duration_buckets[0]);
    dr_metrics_describe(m, "drover_aggregator_consumer_lag", DR_METRIC_GAUGE,
                        "status events not yet folded: high watermark minus position, per partition", NULL, 0);
    /* Series appear on first use; these two should read 0 before any event. */
    dr_metrics_counter_add(m, "drover_status_events_total", "", 0);
    dr_metrics_counter_add(m, "drover_status_events_malformed_total", "", 0);
    dr_metrics_counter_add(m, "drover_rollups_published_total", "", 0);
}

/* ---- partitions ---- */

static partition_state *find_partition(dr_ingest *in, int32_t id)
{
    for (size_t i = 0; i < in->part_count; i++)
        if (in->parts[i].id == id)
            return &in->parts[i];
    return NULL;
}

static void set_lag(dr_ingest *in, int32_t partition, double lag)
{
    if (!in->s.metrics)
        return;
    char topic[512], labels[600];
    snprintf(labels, sizeof labels, "topic=\"%s\",partition=\"%d\"",
             dr_metrics_label_escape(in->status_topic, topic, sizeof topic), (int)partition);
    dr_metrics_gauge_set(in->s.metrics, "drover_aggregator_consumer_lag", labels, lag);
}

static void add_partition(dr_ingest *in, int32_t id)
{
    partition_state *p = find_partition(in, id);
    if (!p) {
        if (in->part_count == in->part_alloc) {
            size_t want = in->part_alloc ? in->part_alloc * 2 : 16;
            partition_state *grown = realloc(in->parts, want * sizeof *grown);
            if (!grown) {
                /* Untracked, it simply never holds readiness back; say so. */
                dr_log(DR_LOG_ERROR, "partition.untracked", "partition=%d msg=\"out of memory\"", (int)id);
                return;
            }
            in->parts = grown;
            in->part_alloc = want;
        }
        p = &in->parts[in->part_count++];
    }
    p->id = id;
    p->next = 0;
    p->high = -1;
    p->caught_up = 0;
    p->checkpointed = -1;
    p->next_checkpoint_ms = 0;
}

static void remove_partition(dr_ingest *in, int32_t id)
{
    partition_state *p = find_partition(in, id);
    if (!p)
        return;
    *p = in->parts[--in->part_count];
    set_lag(in, id, 0);
}

/* Write p's checkpoint (the table's deployments of p, covering it up to p->next). */
static void write_checkpoint(dr_ingest *in, partition_state *p)
{
    dr_error err = {0};
    size_t bytes = 0, len = 0;
    uint8_t *packed = NULL;
    pthread_mutex_lock(in->s.lock);
    dr_status status = dr_checkpoint_pack(in->s.table, p->id, p->next, &packed, &len, &err);
    pthread_mutex_unlock(in->s.lock);
    if (status == DR_OK) /* deflated outside the lock: the HTTP threads wait only for the packing */
        status = dr_checkpoint_send(in->producer, in->reader, p->id, p->next, packed, len, &bytes, &err);
    free(packed);
    p->next_checkpoint_ms = dr_monotonic_ms() + DR_CHECKPOINT_INTERVAL_MS;
    if (status != DR_OK) {
        char quoted[DR_ERROR_DETAIL_MAX + 16];
        dr_log(DR_LOG_WARN, "checkpoint.write_failed", "partition=%d msg=%s", (int)p->id,
               dr_log_quote(quoted, sizeof quoted, err.detail));
        return;
    }
    p->checkpointed = p->next;
    dr_log(DR_LOG_DEBUG, "checkpoint.written", "partition=%d next_offset=%lld bytes=%zu", (int)p->id,
           (long long)p->next, bytes);
}

/* Caught-up partitions whose checkpoint is due (or every moved one, with all). */
static void write_checkpoints(dr_ingest *in, int all)
{
    int64_t now = dr_monotonic_ms();
    for (size_t i = 0; i < in->part_count; i++) {
        partition_state *p = &in->parts[i];
        if (p->caught_up && p->next != p->checkpointed &&
            (all || dr_checkpoint_due(p->checkpointed, p->next, p->next_checkpoint_ms, now)))
            write_checkpoint(in, p);
    }
}

/*
 * Where to read each newly assigned partition from: its checkpoint's offset
 * once the checkpoint is restored into the table, or -1 (its beginning).  A
 * checkpoint past the partition's end is of another life of the topic (a
 * broker started afresh), and one that cannot be read is not used: both
 * are logged, and the partition is read from its beginning.
 */
static void restore_checkpoints(dr_ingest *in, const rd_kafka_topic_partition_list_t *partitions, int64_t *from)
{
    dr_checkpoints *checkpoints = NULL;
    dr_error err = {0};
    for (int i = 0; i < partitions->cnt; i++)
        from[i] = -1;
    if (dr_checkpoints_read(&in->s.kafka, in->reader, WATERMARK_TIMEOUT_MS, &checkpoints, &err) != DR_OK) {
        char quoted[DR_ERROR_DETAIL_MAX + 16];
        dr_log(DR_LOG_WARN, "checkpoint.read_failed", "msg=%s (partitions are read from their beginning)",
               dr_log_quote(quoted, sizeof quoted, err.detail));
        return;
    }
    rd_kafka_t *rk = dr_kafka_producer_handle(in->producer);
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t id = partitions->elems[i].partition;
        int found = 0;
        int64_t next = -1, low = 0, high = 0;
        err = (dr_error){0};
        pthread_mutex_lock(in->s.lock);
        dr_status status = dr_checkpoints_restore(checkpoints, id, in->s.table, &found, &next, &err);
        if (status == DR_OK && found &&
            (rd_kafka_query_watermark_offsets(rk, in->status_topic, id, &low, &high, WATERMARK_TIMEOUT_MS) ||
             next > high)) {
            dr_rollup_drop_partition(in->s.table, id);
            snprintf(err.detail, sizeof err.detail,
                     "its offset %lld is past the partition's end, or the end is unknown", (long long)next);
            found = 0;
        }
        size_t deployments = 0;
        if (found) {
            size_t count = 0;
            const dr_rollup_deployment **list = dr_rollup_table_list(in->s.table, &count);
            for (size_t k = 0; list && k < count; k++) {
                dr_rollup_summary summary;
                dr_rollup_summarize(list[k], &summary);
                deployments += summary.partition == id;
            }
            free(list);
        }
        pthread_mutex_unlock(in->s.lock);
        if (found) {
            from[i] = next;
            partition_state *p = find_partition(in, id);
            if (p)
                p->next = p->checkpointed = next;
            dr_log(DR_LOG_INFO, "checkpoint.restored", "partition=%d next_offset=%lld deployments=%zu", (int)id,
                   (long long)next, deployments);
        } else if (strcmp(err.detail, "no checkpoint") != 0) {
            char quoted[DR_ERROR_DETAIL_MAX + 16];
            dr_log(DR_LOG_WARN, "checkpoint.not_used", "partition=%d msg=%s (read from its beginning)", (int)id,
                   dr_log_quote(quoted, sizeof quoted, err.detail));
        }
    }
    dr_checkpoints_free(checkpoints);
}

/* Runs inside dr_kafka_consumer_poll, on the ingest thread. */
static void on_rebalance(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned)
{
    dr_ingest *in = opaque;
    if (assigned) {
        in->assignment_seen = 1;
        for (int i = 0; i < partitions->cnt; i++)
            add_partition(in, partitions->elems[i].partition);
        if (!in->closing) {
            /* The table is rebuilt from each partition's checkpoint and what follows it, or from its start. */
            int64_t *from = calloc((size_t)partitions->cnt + 1, sizeof *from);
            if (from)
                restore_checkpoints(in, partitions, from);
            dr_kafka_consumer_assign_from(in->consumer, partitions, from);
            for (int i = 0; i < partitions->cnt; i++)
                dr_log(DR_LOG_INFO, "partition.assigned", "topic=%s partition=%d from=%s%lld",
                       partitions->elems[i].topic, (int)partitions->elems[i].partition,
                       from && from[i] >= 0 ? "checkpoint:" : "beginning:", from ? (long long)from[i] : -1LL);
            free(from);
        }
        atomic_store(in->s.ready, 0);
        return;
    }
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t id = partitions->elems[i].partition;
        size_t dropped = 0;
        partition_state *p = find_partition(in, id);
        if (p && p->caught_up && p->next != p->checkpointed)
            write_checkpoint(in, p); /* the next owner starts from here */
        remove_partition(in, id);
        if (!in->closing) {
            pthread_mutex_lock(in->s.lock);
            dropped = dr_rollup_drop_partition(in->s.table, id);
            pthread_mutex_unlock(in->s.lock);
        }
        dr_log(DR_LOG_INFO, "partition.revoked", "topic=%s partition=%d deployments_dropped=%zu",
               partitions->elems[i].topic, (int)id, dropped);
    }
}

/* The high watermark of partitions assigned since the last call: how far "caught up" is. */
static void learn_watermarks(dr_ingest *in)
{
    int64_t now = dr_monotonic_ms();
    if (now < in->next_watermark_try_ms)
        return;
    /*
     * Asked through the producer's connection: on the consumer's, each query
     * waits behind a long-polling fetch (half a second per partition).
     */
    rd_kafka_t *rk = dr_kafka_producer_handle(in->producer);
    for (size_t i = 0; i < in->part_count; i++) {
        partition_state *p = &in->parts[i];
        if (p->high >= 0)
            continue;
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t kerr =
            rd_kafka_query_watermark_offsets(rk, in->status_topic, p->id, &low, &high, WATERMARK_TIMEOUT_MS);
        if (kerr) {
            dr_log(DR_LOG_WARN, "partition.watermarks_unknown", "topic=%s partition=%d error=\"%s\" retry_in_ms=500",
                   in->status_topic, (int)p->id, rd_kafka_err2str(kerr));
            in->next_watermark_try_ms = now + 500;
            return;
        }
        if (low > 0)
            dr_log(DR_LOG_WARN, "status.history_truncated",
                   "topic=%s partition=%d first_offset=%lld msg=\"older status events are gone (retention or the "
                   "embedded broker's size cap): deployments from then may be counted short\"",
                   in->status_topic, (int)p->id, (long long)low);
        if (p->next < low)
            p->next = low;
        p->high = high;
        dr_log(DR_LOG_DEBUG, "partition.catching_up", "topic=%s partition=%d from=%lld to=%lld", in->status_topic,
               (int)p->id, (long long)low, (long long)high);
    }
}

static void housekeeping(dr_ingest *in);

/* Ready: assigned, and every partition read up to its watermark at assignment. */
static int check_caught_up(dr_ingest *in)
{
    if (!in->assignment_seen)
        return 0;
    int all = 1;
    for (size_t i = 0; i < in->part_count; i++) {
        partition_state *p = &in->parts[i];
        if (!p->caught_up && p->high >= 0 && p->next >= p->high)
            p->caught_up = 1;
        all &= p->caught_up;
    }
    if (all && !atomic_load(in->s.ready)) {
        housekeeping(in); /* so /metrics agrees with the table from the first ready answer */
        atomic_store(in->s.ready, 1);
        if (!in->caught_up_ms) {
            in->caught_up_ms = dr_monotonic_ms();
            in->stats.catch_up_seconds =
                in->first_event_ms ? (double)(in->caught_up_ms - in->first_event_ms) / 1000.0 : 0.0;
        }
        pthread_mutex_lock(in->s.lock);
        size_t deployments = dr_rollup_table_count(in->s.table);
        pthread_mutex_unlock(in->s.lock);
        dr_log(DR_LOG_INFO, "aggregator.caught_up", "partitions=%zu events=%llu malformed=%llu deployments=%zu",
               in->part_count, (unsigned long long)in->stats.events, (unsigned long long)in->stats.malformed,
               deployments);
    }
    return all;
}

/* ---- folding ---- */

static void observe_job(dr_ingest *in, const Drover__V1__StatusEvent *e, const dr_rollup_fold_result *r)
{
    if (!in->s.metrics || !r->job_finished || r->job_duration_ms < 0)
        return;
    char package[512], labels[600];
    snprintf(labels, sizeof labels, "package=\"%s\",state=\"%s\"",
             dr_metrics_label_escape(e->package, package, sizeof package), dr_job_state_name(e->state));
    dr_metrics_histogram_observe(in->s.metrics, "drover_job_duration_seconds", labels,
                                 (double)r->job_duration_ms / 1000.0);
}

static void log_malformed(const rd_kafka_message_t *msg, const dr_error *err)
{
    char quoted[DR_ERROR_DETAIL_MAX + 16];
    dr_log(DR_LOG_WARN, "status.malformed", "partition=%d offset=%lld bytes=%zu error=%s msg=%s", (int)msg->partition,
           (long long)msg->offset, msg->len, dr_status_name(err->status),
           dr_log_quote(quoted, sizeof quoted, err->detail));
}

static void on_fleet_delivered(void *opaque, dr_status status, const char *message)
{
    char *key = opaque;
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_ERROR, "fleet.write_failed", "key=%s msg=%s (the next status of it writes it again)", key,
               dr_log_quote(quoted, sizeof quoted, message));
    }
    free(key);
}

/* A terminal status that changes what is installed where: the entry (or its tombstone) onto the fleet topic. */
static void fold_fleet(dr_ingest *in, const Drover__V1__StatusEvent *e)
{
    char *key = NULL;
    uint8_t *value = NULL;
    size_t len = 0;
    int changed = dr_fleet_fold(in->s.fleet, e, &key, &value, &len);
    dr_error err = {0};
    if (changed < 0)
        dr_log(DR_LOG_ERROR, "fleet.nomem", "target=%s", e->target_id);
    if (changed == 1 &&
        dr_kafka_produce(in->producer, DR_TOPIC_FLEET, key, value, len, on_fleet_delivered, key, &err) != DR_OK) {
        dr_log(DR_LOG_ERROR, "fleet.write_failed", "key=%s msg=\"%s\"", key, err.detail);
        free(key);
    }
    free(value);
}

static void take_message(dr_ingest *in, const rd_kafka_message_t *msg)
{
    dr_error err = {0};
    Drover__V1__StatusEvent *e = NULL;
    dr_rollup_fold_result result;
    if (!in->first_event_ms)
        in->first_event_ms = dr_monotonic_ms();
    partition_state *p = find_partition(in, msg->partition);
    if (p && msg->offset + 1 > p->next)
        p->next = msg->offset + 1;

    dr_status status = dr_status_event_decode(msg->payload, msg->len, &e, &err);
    if (status == DR_OK) {
        pthread_mutex_lock(in->s.lock);
        status = dr_rollup_fold(in->s.table, e, msg->partition, &result, &err);
        pthread_mutex_unlock(in->s.lock);
    }
    if (status != DR_OK) {
        log_malformed(msg, &err);
        in->stats.malformed++;
        in->unreported_malformed++;
        goto cleanup;
    }
    in->stats.events++;
    in->unreported_events++;
    observe_job(in, e, &result);
    if (in->s.fleet)
        fold_fleet(in, e);
    if (result.deployment_finished) {
        in->publish_now = 1;
        /* While catching up this is history, not news. */
        dr_log(atomic_load(in->s.ready) ? DR_LOG_INFO : DR_LOG_DEBUG, "deployment.finished", "deployment=%s status=%s",
               e->deployment_id, dr_deployment_status_name(result.status));
    }
cleanup:
    if (e)
        drover__v1__status_event__free_unpacked(e, NULL);
}

/* ---- publishing ---- */

/* What a Rollup's delivery report needs to retry it. */
typedef struct rollup_delivery {
    dr_ingest *in;
    char deployment_id[];
} rollup_delivery;

static void on_rollup_delivered(void *opaque, dr_status status, const char *message)
{
    rollup_delivery *d = opaque;
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_ERROR, "rollup.publish_failed", "deployment=%s msg=%s retry=next_interval", d->deployment_id,
               dr_log_quote(quoted, sizeof quoted, message));
        pthread_mutex_lock(d->in->s.lock);
        dr_rollup_mark_changed(d->in->s.table, d->deployment_id);
        pthread_mutex_unlock(d->in->s.lock);
    }
    free(d);
}

/* One encoded Rollup waiting to be produced. */
typedef struct encoded_rollup {
    char *deployment_id;
    uint8_t *bytes;
    size_t len;
} encoded_rollup;

/* Encode every changed deployment's Rollup, under the lock; returns how many (*out malloc'd). */
static size_t encode_changed(dr_ingest *in, encoded_rollup **out)
{
    size_t count = 0, alloc = 0;
    encoded_rollup *list = NULL;
    const dr_rollup_deployment *d;
    pthread_mutex_lock(in->s.lock);
    while ((d = dr_rollup_take_changed(in->s.table)) != NULL) {
        dr_rollup_summary summary;
        dr_rollup_summarize(d, &summary);
        encoded_rollup item = {strdup(summary.deployment_id), NULL, 0};
        Drover__V1__Rollup *r = dr_rollup_build(d, DR_ROLLUP_FAILED_TARGETS_MAX);
        if (r) {
            item.bytes = dr_message_encode(&r->base, &item.len);
            drover__v1__rollup__free_unpacked(r, NULL);
        }
        if (count == alloc) {
            size_t want = alloc ? alloc * 2 : 16;
            encoded_rollup *grown = realloc(list, want * sizeof *grown);
            if (grown) {
                list = grown;
                alloc = want;
            }
        }
        if (!item.deployment_id || !item.bytes || count == alloc) {
            /* Out of memory: leave it marked for the next round, and stop this one. */
            dr_rollup_mark_changed(in->s.table, summary.deployment_id);
            dr_log(DR_LOG_ERROR, "rollup.encode_failed", "deployment=%s msg=\"out of memory\"", summary.deployment_id);
            free(item.deployment_id);
            free(item.bytes);
            break;
        }
        list[count++] = item;
    }
    pthread_mutex_unlock(in->s.lock);
    *out = list;
    return count;
}

/* Publish the Rollup of every changed deployment (only when caught up: see ingest.h). */
static void publish_changed(dr_ingest *in)
{
    if (!atomic_load(in->s.ready))
        return;
    encoded_rollup *list = NULL;
    size_t count = encode_changed(in, &list);
    for (size_t i = 0; i < count; i++) {
        dr_error err = {0};
        size_t id_len = strlen(list[i].deployment_id);
        rollup_delivery *d = malloc(sizeof *d + id_len + 1);
        dr_status status = DR_ERR_NOMEM;
        if (d) {
            d->in = in;
            memcpy(d->deployment_id, list[i].deployment_id, id_len + 1);
            status = dr_kafka_produce(in->producer, DR_TOPIC_ROLLUPS, list[i].deployment_id, list[i].bytes, list[i].len,
                                      on_rollup_delivered, d, &err);
        }
        if (status != DR_OK) {
            char quoted[DR_ERROR_DETAIL_MAX + 16];
            dr_log(DR_LOG_ERROR, "rollup.publish_failed", "deployment=%s msg=%s retry=next_interval",
                   list[i].deployment_id, dr_log_quote(quoted, sizeof quoted, d ? err.detail : "out of memory"));
            free(d);
            pthread_mutex_lock(in->s.lock);
            dr_rollup_mark_changed(in->s.table, list[i].deployment_id);
            pthread_mutex_unlock(in->s.lock);
        } else {
            in->stats.published++;
            if (in->s.metrics)
                dr_metrics_counter_add(in->s.metrics, "drover_rollups_published_total", "", 1);
        }
        free(list[i].deployment_id);
        free(list[i].bytes);
    }
    free(list);
}

/* Counters and lag into the registry: when idle, and at least once a second. */
static void housekeeping(dr_ingest *in)
{
    if (!in->s.metrics)
        return;
    dr_metrics_counter_add(in->s.metrics, "drover_status_events_total", "", (double)in->unreported_events);
    dr_metrics_counter_add(in->s.metrics, "drover_status_events_malformed_total", "", (double)in->unreported_malformed);
    in->unreported_events = in->unreported_malformed = 0;
    rd_kafka_t *rk = dr_kafka_consumer_handle(in->consumer);
    for (size_t i = 0; i < in->part_count; i++) {
        partition_state *p = &in->parts[i];
        int64_t low = 0, high = -1;
        /* The cached watermark (from fetch responses): no request, no wait. */
        if (rd_kafka_get_watermark_offsets(rk, in->status_topic, p->id, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0)
            high = p->high;
        if (high >= 0)
            set_lag(in, p->id, high > p->next ? (double)(high - p->next) : 0.0);
    }
}

/* ---- lifecycle ---- */

dr_status dr_ingest_start(const dr_ingest_settings *settings, dr_ingest **out, dr_error *err)
{
    dr_status status = DR_OK;
    dr_ingest *in = calloc(1, sizeof *in);
    *out = NULL;
    if (!in) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory starting the aggregator");
        goto cleanup;
    }
    in->s = *settings;
    if (in->s.retention_ms < 0)
        in->s.retention_ms = 0;
    if (in->s.publish_interval_ms < 0)
        in->s.publish_interval_ms = 0;
    dr_kafka_topic_name(&in->s.kafka, DR_TOPIC_STATUS, in->status_topic, sizeof in->status_topic);
    snprintf(in->reader, sizeof in->reader, "aggregator:%s", in->s.group);
    atomic_store(in->s.ready, 0);
    if (in->s.metrics)
        describe_metrics(in->s.metrics);
    if ((status = dr_kafka_producer_new(&in->s.kafka, &in->producer, err)) != DR_OK)
        goto cleanup;
    static const dr_topic written[] = {DR_TOPIC_ROLLUPS, DR_TOPIC_FLEET, DR_TOPIC_CHECKPOINTS};
    dr_kafka_producer_prepare(in->producer, written, sizeof written / sizeof written[0], WATERMARK_TIMEOUT_MS);
    static const dr_topic topics[] = {DR_TOPIC_STATUS};
    if ((status = dr_kafka_consumer_new(&in->s.kafka, in->s.group, topics, 1, &in->consumer, err)) != DR_OK)
        goto cleanup;
    dr_kafka_consumer_on_rebalance(in->consumer, on_rebalance, in);
    *out = in;
    in = NULL;
cleanup:
    dr_ingest_free(in);
    return status;
}

/* How often finished deployments are looked at for retention. */
#define EXPIRY_INTERVAL_MS 1000

/* Finished deployments past the retention leave the table (their final Rollups were taken for publishing). */
static void expire(dr_ingest *in)
{
    pthread_mutex_lock(in->s.lock);
    size_t expired = dr_rollup_table_expire(in->s.table, dr_now_ms() - in->s.retention_ms, 1);
    size_t left = dr_rollup_table_count(in->s.table);
    pthread_mutex_unlock(in->s.lock);
    if (!expired)
        return;
    if (in->s.metrics)
        dr_metrics_counter_add(in->s.metrics, "drover_aggregator_deployments_expired_total", "", (double)expired);
    dr_log(DR_LOG_INFO, "aggregator.expired", "deployments=%zu kept=%zu retention_s=%lld", expired, left,
           (long long)(in->s.retention_ms / 1000));
}

dr_status dr_ingest_run(dr_ingest *in, volatile sig_atomic_t *stop, int until_caught_up, dr_error *err)
{
    dr_status status = DR_OK;
    int64_t now = dr_monotonic_ms();
    in->next_publish_ms = now + in->s.publish_interval_ms;
    in->next_housekeeping_ms = now + HOUSEKEEPING_INTERVAL_MS;
    while (!*stop) {
        rd_kafka_message_t *msg = dr_kafka_consumer_poll(in->consumer, 50);
        learn_watermarks(in);
        if (msg) {
            take_message(in, msg);
            rd_kafka_message_destroy(msg);
        }
        int caught_up = check_caught_up(in);
        now = dr_monotonic_ms();
        if (in->publish_now || now >= in->next_publish_ms) {
            publish_changed(in);
            in->publish_now = 0;
            in->next_publish_ms = now + in->s.publish_interval_ms;
        }
        if (caught_up && in->s.retention_ms > 0 && now >= in->next_expiry_ms) {
            expire(in);
            in->next_expiry_ms = now + EXPIRY_INTERVAL_MS;
        }
        write_checkpoints(in, 0);
        /* Idle: metrics can be exact at no cost to the fold rate. */
        if (!msg || now >= in->next_housekeeping_ms) {
            housekeeping(in);
            in->next_housekeeping_ms = now + HOUSEKEEPING_INTERVAL_MS;
        }
        dr_kafka_producer_poll(in->producer, 0);
        if (in->s.refusals)
            dr_refusals_poll(in->s.refusals, 500);
        if (until_caught_up && caught_up)
            break;
    }
    if (atomic_load(in->s.ready)) {
        publish_changed(in);
        write_checkpoints(in, 1); /* the next start resumes from here */
    } else
        dr_log(DR_LOG_WARN, "aggregator.stopped_catching_up", "msg=\"not caught up: no Rollups published\"");
    housekeeping(in);
    status = dr_kafka_producer_flush(in->producer, FINAL_FLUSH_MS, err);
    return status;
}

void dr_ingest_get_stats(const dr_ingest *in, dr_ingest_stats *out)
{
    *out = in->stats;
}

void dr_ingest_free(dr_ingest *in)
{
    if (!in)
        return;
    in->closing = 1;
    dr_kafka_consumer_close(in->consumer); /* leaves the group; revokes (on_rebalance) */
    dr_kafka_producer_free(in->producer);
    free(in->parts);
    free(in);
}
