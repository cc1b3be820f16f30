/*
 * kafka_read.c - reading topics without a consumer group: a topic read once
 * as a table (dr_kafka_read_topic) and topics followed for good
 * (dr_kafka_follower).  See kafka.h.
 */
#include "kafka.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_private.h"
#include "log.h"

/* ---- reading a topic as a table ---- */

/* One partition's progress towards the high watermark seen at the start. */
typedef struct partition_progress {
    int32_t id;
    int64_t high;
    int64_t next; /* the next offset expected */
    int done;
} partition_progress;

typedef struct topic_reader {
    rd_kafka_t *rk;
    char topic[TOPIC_NAME_MAX];
    partition_progress *parts;
    int part_count;
    int unfinished;
    size_t records;
} topic_reader;

/* A group id no other reader shares, so no two readers ever see each other's (never made) commits. */
static void unique_reader_group(char *buf, size_t size)
{
    static atomic_uint counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, size, "drover-reader-%ld-%lld%09ld-%u", (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec,
             atomic_fetch_add(&counter, 1));
}

static dr_status reader_open(const dr_kafka_options *opt, topic_reader *r, dr_error *err)
{
    static const kafka_property fixed[] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        /* EOF ends a partition whose last offsets are gone (compaction, transaction markers). */
        {"enable.partition.eof", "true"},
    };
    dr_status status = DR_OK;
    rd_kafka_conf_t *conf = NULL;
    char group[128];
    unique_reader_group(group, sizeof group);
    if ((status = dr_kafka_new_conf(opt, r, NULL, 0, fixed, PROPERTY_COUNT(fixed), &conf, err)) != DR_OK)
        goto cleanup;
    if ((status = dr_kafka_set_property(conf, "kafka setting", "group.id", group, err)) != DR_OK)
        goto cleanup;
    status = dr_kafka_new_handle(RD_KAFKA_CONSUMER, conf, &r->rk, err);
    conf = NULL;
    if (status != DR_OK)
        goto cleanup;
    rd_kafka_poll_set_consumer(r->rk);
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return status;
}

/*
 * The topic's partitions and their watermarks; partitions with nothing in
 * them are done already.  The metadata asked for is the whole cluster's:
 * asking for one topic by name makes a broker that auto-creates topics
 * (the embedded one does, whatever allow.auto.create.topics says) create it.
 */
static dr_status reader_find_partitions(topic_reader *r, const int64_t *from, size_t from_count, const char *key,
                                        int64_t deadline, dr_error *err)
{
    dr_status status = DR_OK;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(r->rk, 1, NULL, &md, dr_kafka_remaining_ms(deadline));
    if (kerr) {
        status = dr_error_set(err, DR_ERR_KAFKA, "reading %s: metadata: %s", r->topic, rd_kafka_err2str(kerr));
        goto cleanup;
    }
    const rd_kafka_metadata_topic_t *topic = dr_kafka_find_topic(md, r->topic);
    if (!topic || topic->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        status = dr_error_set(err, DR_ERR_KAFKA, "topic %s does not exist", r->topic);
        goto cleanup;
    }
    if (topic->err) {
        status = dr_error_set(err, DR_ERR_KAFKA, "reading %s: metadata: %s", r->topic, rd_kafka_err2str(topic->err));
        goto cleanup;
    }
    r->part_count = topic->partition_cnt;
    r->parts = calloc(r->part_count > 0 ? (size_t)r->part_count : 1, sizeof *r->parts);
    if (!r->parts) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading %s", r->topic);
        goto cleanup;
    }
    /* With a key: only the partition librdkafka's default partitioner (consistent_random) gives it. */
    int32_t only = key && key[0] && r->part_count > 0
                       ? rd_kafka_msg_partitioner_consistent_random(NULL, key, strlen(key), r->part_count, NULL, NULL)
                       : -1;
    for (int i = 0; i < r->part_count; i++) {
        partition_progress *p = &r->parts[i];
        int64_t low = 0;
        p->id = topic->partitions[i].id;
        if (only >= 0 && p->id != only) {
            p->done = 1;
            continue;
        }
        kerr = dr_kafka_query_watermarks(r->rk, r->topic, p->id, &low, &p->high, dr_kafka_remaining_ms(deadline));
        if (kerr) {
            status = dr_error_set(err, DR_ERR_KAFKA, "reading %s [%d]: watermarks: %s", r->topic, (int)p->id,
                                  rd_kafka_err2str(kerr));
            goto cleanup;
        }
        p->next = (size_t)p->id < from_count && from[p->id] > low ? from[p->id] : low;
        p->done = p->next >= p->high;
        r->unfinished += !p->done;
    }
cleanup:
    if (md)
        rd_kafka_metadata_destroy(md);
    return status;
}

static dr_status reader_assign(topic_reader *r, dr_error *err)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->part_count);
    for (int i = 0; i < r->part_count; i++)
        if (!r->parts[i].done)
            /* The low watermark just queried: a logical offset would cost an offset lookup (~0.5 s) per read. */
            rd_kafka_topic_partition_list_add(list, r->topic, r->parts[i].id)->offset = r->parts[i].next;
    rd_kafka_resp_err_t kerr = rd_kafka_assign(r->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr)
        return dr_error_set(err, DR_ERR_KAFKA, "reading %s: assign: %s", r->topic, rd_kafka_err2str(kerr));
    return DR_OK;
}

static partition_progress *reader_partition(topic_reader *r, int32_t id)
{
    for (int i = 0; i < r->part_count; i++)
        if (r->parts[i].id == id)
            return &r->parts[i];
    return NULL;
}

static void reader_finish_partition(topic_reader *r, partition_progress *p)
{
    if (!p->done) {
        p->done = 1;
        r->unfinished--;
    }
}

/* "read 12 records; unfinished: 0 at 3/10, 2 at 0/4" for a timeout's detail. */
static void reader_describe_progress(const topic_reader *r, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "read %zu records; %d of %d partitions unfinished:", r->records,
                                   r->unfinished, r->part_count);
    for (int i = 0; i < r->part_count && used < size; i++)
        if (!r->parts[i].done)
            used += (size_t)snprintf(buf + used, size - used, " %d at %lld/%lld", (int)r->parts[i].id,
                                     (long long)r->parts[i].next, (long long)r->parts[i].high);
}

/* Returns 1 when fn asked to stop. */
static int reader_take(topic_reader *r, const rd_kafka_message_t *msg, dr_kafka_record_fn fn, void *ctx)
{
    partition_progress *p = reader_partition(r, msg->partition);
    if (!p || p->done)
        return 0;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        reader_finish_partition(r, p);
        return 0;
    }
    if (msg->err) {
        dr_kafka_report_consumer_error(msg);
        return 0;
    }
    if (msg->offset >= p->high) { /* written after the call: not part of this read */
        reader_finish_partition(r, p);
        return 0;
    }
    p->next = msg->offset + 1;
    if (p->next >= p->high)
        reader_finish_partition(r, p);
    r->records++;
    int64_t timestamp = rd_kafka_message_timestamp(msg, NULL);
    return fn(ctx, msg->key ? (const char *)msg->key : "", msg->key ? msg->key_len : 0, msg->payload, msg->len,
              timestamp) != 0;
}

static dr_status read_topic(const dr_kafka_options *opt, dr_topic topic, const int64_t *from, size_t from_count,
                            const char *key, dr_kafka_record_fn fn, void *ctx, int timeout_ms, dr_error *err)
{
    dr_status status = DR_OK;
    int64_t deadline = dr_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    topic_reader r = {0};
    dr_kafka_topic_name(opt, topic, r.topic, sizeof r.topic);
    if ((status = reader_open(opt, &r, err)) != DR_OK)
        goto cleanup;
    if ((status = reader_find_partitions(&r, from, from_count, key, deadline, err)) != DR_OK)
        goto cleanup;
    if (r.unfinished == 0)
        goto cleanup;
    if ((status = reader_assign(&r, err)) != DR_OK)
        goto cleanup;
    while (r.unfinished > 0) {
        if (dr_kafka_remaining_ms(deadline) == 0) {
            char progress[700];
            reader_describe_progress(&r, progress, sizeof progress);
            status =
                dr_error_set(err, DR_ERR_KAFKA, "reading %s timed out after %d ms: %s", r.topic, timeout_ms, progress);
            goto cleanup;
        }
        rd_kafka_message_t *msg =
            rd_kafka_consumer_poll(r.rk, dr_kafka_remaining_ms(deadline) < 100 ? dr_kafka_remaining_ms(deadline) : 100);
        if (!msg)
            continue;
        int stop = reader_take(&r, msg, fn, ctx);
        rd_kafka_message_destroy(msg);
        if (stop)
            break;
    }
cleanup:
    if (r.rk) {
        rd_kafka_consumer_close(r.rk);
        rd_kafka_destroy(r.rk);
    }
    free(r.parts);
    return status;
}

dr_status dr_kafka_read_topic_from(const dr_kafka_options *opt, dr_topic topic, const int64_t *from, size_t from_count,
                                   dr_kafka_record_fn fn, void *ctx, int timeout_ms, dr_error *err)
{
    return read_topic(opt, topic, from, from_count, NULL, fn, ctx, timeout_ms, err);
}

dr_status dr_kafka_read_topic(const dr_kafka_options *opt, dr_topic topic, dr_kafka_record_fn fn, void *ctx,
                              int timeout_ms, dr_error *err)
{
    return read_topic(opt, topic, NULL, 0, NULL, fn, ctx, timeout_ms, err);
}

dr_status dr_kafka_read_key_partition(const dr_kafka_options *opt, dr_topic topic, const char *key,
                                      dr_kafka_record_fn fn, void *ctx, int timeout_ms, dr_error *err)
{
    return read_topic(opt, topic, NULL, 0, key, fn, ctx, timeout_ms, err);
}

dr_status dr_kafka_high_watermarks(const dr_kafka_options *opt, rd_kafka_t *rk, dr_topic topic, int timeout_ms,
                                   int64_t **out, size_t *count, dr_error *err)
{
    char name[TOPIC_NAME_MAX];
    dr_kafka_topic_name(opt, topic, name, sizeof name);
    int64_t deadline = dr_monotonic_ms() + timeout_ms;
    int partitions = 0;
    *out = NULL;
    *count = 0;
    dr_status status = dr_kafka_partition_count(rk, name, timeout_ms, &partitions, err);
    if (status != DR_OK)
        return status;
    int64_t *high = calloc((size_t)partitions, sizeof *high);
    if (!high)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory for %s's watermarks", name);
    for (int i = 0; i < partitions; i++) {
        int64_t low = 0;
        rd_kafka_resp_err_t kerr =
            dr_kafka_query_watermarks(rk, name, i, &low, &high[i], dr_kafka_remaining_ms(deadline));
        if (kerr) {
            free(high);
            return dr_error_set(err, DR_ERR_KAFKA, "%s [%d]: watermarks: %s", name, i, rd_kafka_err2str(kerr));
        }
    }
    *out = high;
    *count = (size_t)partitions;
    return DR_OK;
}

/* ---- following topics ---- */

typedef struct followed_partition {
    dr_topic topic;
    int32_t id;
    int64_t next;      /* the next offset not yet returned */
    int64_t sync_high; /* high watermark at the last sync */
} followed_partition;

struct dr_kafka_follower {
    rd_kafka_t *rk;
    dr_kafka_options options;
    char names[DR_TOPIC_COUNT][TOPIC_NAME_MAX];
    followed_partition *parts;
    size_t part_count;
};

static followed_partition *follower_partition(dr_kafka_follower *f, const char *topic, int32_t id, dr_topic *which)
{
    for (size_t i = 0; i < f->part_count; i++)
        if (f->parts[i].id == id && strcmp(f->names[f->parts[i].topic], topic) == 0) {
            *which = f->parts[i].topic;
            return &f->parts[i];
        }
    return NULL;
}

/* Where a followed partition starts: a given offset (within the partition), else its beginning or end. */
static int64_t follower_start(dr_topic topic, int32_t id, int from_end, int64_t low, int64_t high,
                              const dr_kafka_start *starts, size_t start_count)
{
    for (size_t i = 0; i < start_count; i++)
        if (starts[i].topic == topic && starts[i].partition == id && starts[i].offset >= low &&
            starts[i].offset <= high)
            return starts[i].offset;
    return from_end ? high : low;
}

static dr_status follower_add_topic(dr_kafka_follower *f, dr_topic topic, int from_end, const dr_kafka_start *starts,
                                    size_t start_count, rd_kafka_topic_partition_list_t *list, int timeout_ms,
                                    dr_error *err)
{
    int count = 0;
    dr_kafka_topic_name(&f->options, topic, f->names[topic], sizeof f->names[topic]);
    dr_status status = dr_kafka_partition_count(f->rk, f->names[topic], timeout_ms, &count, err);
    if (status != DR_OK)
        return status;
    followed_partition *grown = realloc(f->parts, (f->part_count + (size_t)count) * sizeof *grown);
    if (!grown)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory following %s", f->names[topic]);
    f->parts = grown;
    for (int i = 0; i < count; i++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t kerr = dr_kafka_query_watermarks(f->rk, f->names[topic], i, &low, &high, timeout_ms);
        if (kerr)
            return dr_error_set(err, DR_ERR_KAFKA, "%s [%d]: watermarks: %s", f->names[topic], i,
                                rd_kafka_err2str(kerr));
        int64_t start = follower_start(topic, i, from_end, low, high, starts, start_count);
        f->parts[f->part_count++] = (followed_partition){.topic = topic, .id = i, .next = start, .sync_high = 0};
        /* A watermark, not a logical offset: no offset lookup per partition (see reader_assign). */
        rd_kafka_topic_partition_list_add(list, f->names[topic], i)->offset = start;
    }
    return DR_OK;
}

static dr_status follower_new(const dr_kafka_options *opt, const dr_topic *topics, size_t topic_count, int from_end,
                              const dr_kafka_start *starts, size_t start_count, int timeout_ms, dr_kafka_follower **out,
                              dr_error *err)
{
    static const kafka_property fixed[] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
    };
    dr_status status = DR_OK;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    char group[128];
    dr_kafka_follower *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f || !list) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka follower");
        goto cleanup;
    }
    f->options = *opt;
    unique_reader_group(group, sizeof group); /* librdkafka wants a group.id even for assign() */
    static const kafka_property defaults[] = {{"fetch.wait.max.ms", "100"}}; /* as the group consumers' */
    if ((status = dr_kafka_new_conf(opt, f, defaults, PROPERTY_COUNT(defaults), fixed, PROPERTY_COUNT(fixed), &conf,
                                    err)) != DR_OK)
        goto cleanup;
    if ((status = dr_kafka_set_property(conf, "kafka setting", "group.id", group, err)) != DR_OK)
        goto cleanup;
    status = dr_kafka_new_handle(RD_KAFKA_CONSUMER, conf, &f->rk, err);
    conf = NULL;
    if (status != DR_OK)
        goto cleanup;
    rd_kafka_poll_set_consumer(f->rk);
    for (size_t i = 0; i < topic_count && status == DR_OK; i++)
        status = follower_add_topic(f, topics[i], from_end, starts, start_count, list, timeout_ms, err);
    if (status != DR_OK)
        goto cleanup;
    rd_kafka_resp_err_t kerr = rd_kafka_assign(f->rk, list);
    if (kerr) {
        status = dr_error_set(err, DR_ERR_KAFKA, "following topics: assign: %s", rd_kafka_err2str(kerr));
        goto cleanup;
    }
    *out = f;
    f = NULL;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    dr_kafka_follower_free(f);
    return status;
}

dr_status dr_kafka_follower_new(const dr_kafka_options *opt, const dr_topic *topics, size_t topic_count, int timeout_ms,
                                dr_kafka_follower **out, dr_error *err)
{
    return follower_new(opt, topics, topic_count, 0, NULL, 0, timeout_ms, out, err);
}

dr_status dr_kafka_follower_new_from(const dr_kafka_options *opt, const dr_topic *topics, size_t topic_count,
                                     const dr_kafka_start *starts, size_t start_count, int timeout_ms,
                                     dr_kafka_follower **out, dr_error *err)
{
    return follower_new(opt, topics, topic_count, 0, starts, start_count, timeout_ms, out, err);
}

int64_t dr_kafka_follower_position(const dr_kafka_follower *f, dr_topic topic, int32_t partition)
{
    for (size_t i = 0; i < f->part_count; i++)
        if (f->parts[i].topic == topic && f->parts[i].id == partition)
            return f->parts[i].next;
    return -1;
}

dr_status dr_kafka_follower_new_from_end(const dr_kafka_options *opt, dr_topic topic, int timeout_ms,
                                         dr_kafka_follower **out, dr_error *err)
{
    return follower_new(opt, &topic, 1, 1, NULL, 0, timeout_ms, out, err);
}

rd_kafka_message_t *dr_kafka_follower_poll(dr_kafka_follower *f, int timeout_ms, dr_topic *topic)
{
    int64_t deadline = dr_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(f->rk, dr_kafka_remaining_ms(deadline));
        if (!msg)
            return NULL;
        if (!msg->err && msg->rkt) {
            followed_partition *p = follower_partition(f, rd_kafka_topic_name(msg->rkt), msg->partition, topic);
            if (p) {
                p->next = msg->offset + 1;
                return msg;
            }
        } else {
            dr_kafka_report_consumer_error(msg);
        }
        rd_kafka_message_destroy(msg);
        if (dr_kafka_remaining_ms(deadline) == 0)
            return NULL;
    }
}

dr_status dr_kafka_follower_sync(dr_kafka_follower *f, rd_kafka_t *query, int timeout_ms, dr_error *err)
{
    int64_t deadline = dr_monotonic_ms() + timeout_ms;
    for (size_t i = 0; i < f->part_count; i++) {
        followed_partition *p = &f->parts[i];
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t kerr =
            dr_kafka_query_watermarks(query, f->names[p->topic], p->id, &low, &high, dr_kafka_remaining_ms(deadline));
        if (kerr)
            return dr_error_set(err, DR_ERR_KAFKA, "%s [%d]: watermarks: %s", f->names[p->topic], (int)p->id,
                                rd_kafka_err2str(kerr));
        /* Oldest data dropped under us: what is gone cannot be waited for. */
        if (p->next < low)
            p->next = low;
        p->sync_high = high;
    }
    return DR_OK;
}

int dr_kafka_follower_synced(const dr_kafka_follower *f)
{
    for (size_t i = 0; i < f->part_count; i++)
        if (f->parts[i].next < f->parts[i].sync_high)
            return 0;
    return 1;
}

void dr_kafka_follower_free(dr_kafka_follower *f)
{
    if (!f)
        return;
    if (f->rk) {
        rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    free(f->parts);
    free(f);
}
