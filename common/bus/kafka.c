/*
 * kafka.c - producing with delivery reports, and consuming as a group member
 * with commits and rebalance hooks.  See kafka.h; the shared set-up is
 * kafka_handle.c.
 */
#include "kafka.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kafka_private.h"
#include "log.h"

/* How long dr_kafka_produce waits for room in a full local queue. */
#define QUEUE_FULL_WAIT_MS 10000
/* How long dr_kafka_producer_free waits for outstanding deliveries. */
#define FREE_FLUSH_MS 10000

/* ---- producing ---- */

struct dr_kafka_producer {
    rd_kafka_t *rk;
    char *topic_prefix;
    /* Delivery reports may be served on one thread while another flushes. */
    pthread_mutex_t lock;
    size_t failed_since_flush;
    char first_failure[512];
};

/* What one message carries to its delivery report. */
typedef struct delivery {
    dr_kafka_delivered_fn fn;
    void *opaque;
} delivery;

static void on_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    dr_kafka_producer *p = opaque;
    delivery *d = msg->_private;
    char message[600] = "";
    if (msg->err) {
        snprintf(message, sizeof message, "delivery to %s [%d] failed: %s",
                 msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?", (int)msg->partition, rd_kafka_err2str(msg->err));
        pthread_mutex_lock(&p->lock);
        if (p->failed_since_flush++ == 0)
            snprintf(p->first_failure, sizeof p->first_failure, "%s", message);
        pthread_mutex_unlock(&p->lock);
    }
    if (d) {
        d->fn(d->opaque, msg->err ? DR_ERR_KAFKA : DR_OK, message);
        free(d);
    }
}

dr_status dr_kafka_producer_new(const dr_kafka_options *opt, dr_kafka_producer **out, dr_error *err)
{
    static const kafka_property defaults[] = {{"linger.ms", "5"}};
    /*
     * The partitioner is fixed because an agent (dr_kafka_consumer_new_for_key)
     * computes its jobs' partition with the same function.
     */
    static const kafka_property fixed[] = {
        {"enable.idempotence", "true"}, {"acks", "all"}, {"partitioner", "consistent_random"}};
    dr_status status = DR_OK;
    rd_kafka_conf_t *conf = NULL;
    dr_kafka_producer *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka producer");
        goto cleanup;
    }
    pthread_mutex_init(&p->lock, NULL);
    if (!(p->topic_prefix = strdup(dr_kafka_topic_prefix(opt)))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka producer");
        goto cleanup;
    }
    if ((status = dr_kafka_new_conf(opt, p, defaults, PROPERTY_COUNT(defaults), fixed, PROPERTY_COUNT(fixed), &conf,
                                    err)) != DR_OK)
        goto cleanup;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery_report);
    status = dr_kafka_new_handle(RD_KAFKA_PRODUCER, conf, &p->rk, err);
    conf = NULL;
    if (status != DR_OK)
        goto cleanup;
    *out = p;
    p = NULL;
cleanup:
    if (p) {
        pthread_mutex_destroy(&p->lock);
        free(p->topic_prefix);
        free(p);
    }
    return status;
}

void dr_kafka_producer_free(dr_kafka_producer *p)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->rk, FREE_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        dr_log(DR_LOG_ERROR, "kafka.undelivered",
               "client=%s messages=%d msg=\"not acknowledged within %d ms; dropped\"", rd_kafka_name(p->rk),
               rd_kafka_outq_len(p->rk), FREE_FLUSH_MS);
        /* Fail what is left so every caller's callback still runs once (and its delivery is freed). */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 1000);
    }
    rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->lock);
    free(p->topic_prefix);
    free(p);
}

dr_status dr_kafka_produce(dr_kafka_producer *p, dr_topic topic, const char *key, const void *value, size_t len,
                           dr_kafka_delivered_fn on_delivered, void *opaque, dr_error *err)
{
    dr_status status = DR_OK;
    char name[TOPIC_NAME_MAX];
    snprintf(name, sizeof name, "%s%s", p->topic_prefix, dr_topic_suffix(topic));
    delivery *d = NULL;
    if (on_delivered) {
        d = malloc(sizeof *d);
        if (!d) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory producing to %s", name);
            goto cleanup;
        }
        d->fn = on_delivered;
        d->opaque = opaque;
    }
    int64_t deadline = dr_monotonic_ms() + QUEUE_FULL_WAIT_MS;
    for (;;) {
        rd_kafka_resp_err_t kerr =
            rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(name), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
            d = NULL; /* the delivery report frees it */
            break;
        }
        if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            status = dr_error_set(err, DR_ERR_KAFKA, "producing to %s: %s", name, rd_kafka_err2str(kerr));
            goto cleanup;
        }
        if (dr_kafka_remaining_ms(deadline) == 0) {
            status = dr_error_set(err, DR_ERR_KAFKA,
                                  "producing to %s: the local queue stayed full for %d ms (%d messages waiting)", name,
                                  QUEUE_FULL_WAIT_MS, rd_kafka_outq_len(p->rk));
            goto cleanup;
        }
        /* Serving delivery reports is what makes room. */
        rd_kafka_poll(p->rk, 100);
    }
cleanup:
    free(d);
    return status;
}

void dr_kafka_producer_prepare(dr_kafka_producer *p, const dr_topic *topics, size_t count, int timeout_ms)
{
    int64_t deadline = dr_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (size_t i = 0; i < count; i++) {
        char name[TOPIC_NAME_MAX];
        snprintf(name, sizeof name, "%s%s", p->topic_prefix, dr_topic_suffix(topics[i]));
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, name, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t kerr =
            rkt ? rd_kafka_metadata(p->rk, 0, rkt, &md, dr_kafka_remaining_ms(deadline)) : rd_kafka_last_error();
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            dr_log(DR_LOG_DEBUG, "kafka.prepare_failed", "topic=%s msg=\"%s\"", name, rd_kafka_err2str(kerr));
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
}

void dr_kafka_producer_poll(dr_kafka_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
}

dr_status dr_kafka_producer_flush(dr_kafka_producer *p, int timeout_ms, dr_error *err)
{
    rd_kafka_resp_err_t kerr = rd_kafka_flush(p->rk, timeout_ms);
    pthread_mutex_lock(&p->lock);
    size_t failed = p->failed_since_flush;
    char first[sizeof p->first_failure];
    memcpy(first, p->first_failure, sizeof first);
    p->failed_since_flush = 0;
    p->first_failure[0] = '\0';
    pthread_mutex_unlock(&p->lock);

    if (kerr == RD_KAFKA_RESP_ERR__TIMED_OUT && failed)
        return dr_error_set(err, DR_ERR_KAFKA,
                            "flush timed out after %d ms with %d messages unacknowledged, and %zu failed; first: %s",
                            timeout_ms, rd_kafka_outq_len(p->rk), failed, first);
    if (kerr == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return dr_error_set(err, DR_ERR_KAFKA, "flush timed out after %d ms with %d messages unacknowledged",
                            timeout_ms, rd_kafka_outq_len(p->rk));
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return dr_error_set(err, DR_ERR_KAFKA, "flush: %s", rd_kafka_err2str(kerr));
    if (failed)
        return dr_error_set(err, DR_ERR_KAFKA, "%zu message%s failed since the last flush; first: %s", failed,
                            failed == 1 ? "" : "s", first);
    return DR_OK;
}

rd_kafka_t *dr_kafka_producer_handle(dr_kafka_producer *p)
{
    return p->rk;
}

/* ---- consuming ---- */

struct dr_kafka_consumer {
    rd_kafka_t *rk;
    dr_kafka_rebalance_fn on_rebalance;
    void *rebalance_opaque;
};

static void log_partitions(const char *event, const rd_kafka_topic_partition_list_t *partitions)
{
    for (int i = 0; i < partitions->cnt; i++)
        dr_log(DR_LOG_DEBUG, event, "topic=%s partition=%d", partitions->elems[i].topic,
               (int)partitions->elems[i].partition);
}

/*
 * The group moved partitions.  Eager protocols (the default range and
 * roundrobin) hand over the whole assignment each time; cooperative-sticky,
 * if a kafka-property asks for it, hands over only the difference.
 */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t kerr, rd_kafka_topic_partition_list_t *partitions,
                         void *opaque)
{
    dr_kafka_consumer *c = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int assigned = kerr == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* Revoked: the application hears first, while it may still commit what it finished. */
    if (!assigned && c->on_rebalance)
        c->on_rebalance(c->rebalance_opaque, partitions, 0);

    if (kerr != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && kerr != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        dr_log(DR_LOG_WARN, "kafka.rebalance_error", "client=%s error=%s", rd_kafka_name(rk), rd_kafka_err2name(kerr));
    if (cooperative)
        error = assigned ? rd_kafka_incremental_assign(rk, partitions) : rd_kafka_incremental_unassign(rk, partitions);
    else
        assign_err = rd_kafka_assign(rk, assigned ? partitions : NULL);
    if (error || assign_err) {
        dr_log(DR_LOG_ERROR, "kafka.assign_failed", "client=%s assigned=%d error=\"%s\"", rd_kafka_name(rk), assigned,
               error ? rd_kafka_error_string(error) : rd_kafka_err2str(assign_err));
        rd_kafka_error_destroy(error);
    }
    log_partitions(assigned ? "kafka.partitions_assigned" : "kafka.partitions_revoked", partitions);
    if (assigned && c->on_rebalance)
        c->on_rebalance(c->rebalance_opaque, partitions, 1);
}

/* Asynchronous commits report here; a failed one is retried by the next commit of the partition. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t kerr, rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)opaque;
    if (kerr == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        rd_kafka_resp_err_t partition_err = offsets->elems[i].err ? offsets->elems[i].err : kerr;
        if (partition_err)
            dr_log(DR_LOG_WARN, "kafka.commit_failed", "client=%s topic=%s partition=%d offset=%lld error=\"%s\"",
                   rd_kafka_name(rk), offsets->elems[i].topic, (int)offsets->elems[i].partition,
                   (long long)offsets->elems[i].offset, rd_kafka_err2str(partition_err));
    }
}

/*
 * session.timeout.ms defaults to 10 s instead of librdkafka's 45 s: the
 * embedded broker waits session.timeout.ms - 1 s for every member before
 * it finishes a rebalance, so a worker joining or leaving would stall the
 * group for 44 s.  10 s is what Kafka used before 3.0 and well above the
 * broker's 6 s minimum.
 */
/* Assign the one partition of topic that holds key's messages, from the group's committed offset. */
static dr_status assign_key_partition(dr_kafka_consumer *c, const dr_kafka_options *opt, dr_topic topic,
                                      const char *key, dr_error *err)
{
    char name[TOPIC_NAME_MAX];
    dr_kafka_topic_name(opt, topic, name, sizeof name);
    int partitions = 0;
    dr_status status = dr_kafka_partition_count(c->rk, name, 10000, &partitions, err);
    if (status != DR_OK)
        return status;
    /* What the producers use (see dr_kafka_producer_new): crc32(key) % partitions. */
    int32_t partition = rd_kafka_msg_partitioner_consistent_random(NULL, key, strlen(key), partitions, NULL, NULL);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, name, partition)->offset = RD_KAFKA_OFFSET_STORED;
    rd_kafka_resp_err_t kerr = rd_kafka_assign(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr)
        return dr_error_set(err, DR_ERR_KAFKA, "assigning %s [%d]: %s", name, (int)partition, rd_kafka_err2str(kerr));
    dr_log(DR_LOG_INFO, "partitions.assigned", "topic=%s partition=%d of=%d key=%s", name, (int)partition, partitions,
           key);
    return DR_OK;
}

/* A group member: subscribed to topics, or (key set) assigned the partition of key in topics[0]. */
static dr_status consumer_new(const dr_kafka_options *opt, const char *group_id, const dr_topic *topics,
                              size_t topic_count, const char *key, dr_kafka_consumer **out, dr_error *err)
{
    /*
     * A job or a deployment waits for no full fetch interval: 100 ms, not
     * librdkafka's 500.  Prefetch is bounded by bytes, 16 MiB, not by a
     * count: librdkafka 2.0 counts queued.min.messages over the consumer's
     * one queue (every partition's fetch queue forwards to it), and once
     * past it fetches again only at its broker thread's next second.  At
     * 1,000 a worker drained its prefetch in half a second and waited the
     * other half, every second (bench/fleet_bench.sh: 2,000 decided jobs/s
     * with 1,000, 2,860 with 20,000).  A worker whose queue is full stops
     * taking messages, and what librdkafka holds meanwhile is bounded by
     * the 16 MiB: about 30,000 jobs.
     */
    static const kafka_property defaults[] = {{"auto.offset.reset", "earliest"},
                                              {"session.timeout.ms", "10000"},
                                              {"fetch.wait.max.ms", "100"},
                                              {"queued.min.messages", "100000"},
                                              {"queued.max.messages.kbytes", "16384"}};
    static const kafka_property fixed[] = {{"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"}};
    dr_status status = DR_OK;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subscription = NULL;
    dr_kafka_consumer *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka consumer");
        goto cleanup;
    }
    if (!group_id || !group_id[0] || topic_count == 0) {
        status = dr_error_set(err, DR_ERR_USAGE, "a Kafka consumer needs a group id and at least one topic");
        goto cleanup;
    }
    if ((status = dr_kafka_new_conf(opt, c, defaults, PROPERTY_COUNT(defaults), fixed, PROPERTY_COUNT(fixed), &conf,
                                    err)) != DR_OK)
        goto cleanup;
    if ((status = dr_kafka_set_property(conf, "kafka setting", "group.id", group_id, err)) != DR_OK)
        goto cleanup;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    status = dr_kafka_new_handle(RD_KAFKA_CONSUMER, conf, &c->rk, err);
    conf = NULL;
    if (status != DR_OK)
        goto cleanup;
    /* One queue for messages, rebalances and errors: dr_kafka_consumer_poll serves them all. */
    rd_kafka_poll_set_consumer(c->rk);

    if (key) {
        if ((status = assign_key_partition(c, opt, topics[0], key, err)) != DR_OK)
            goto cleanup;
        *out = c;
        c = NULL;
        goto cleanup;
    }
    subscription = rd_kafka_topic_partition_list_new((int)topic_count);
    for (size_t i = 0; i < topic_count; i++) {
        char name[TOPIC_NAME_MAX];
        dr_kafka_topic_name(opt, topics[i], name, sizeof name);
        rd_kafka_topic_partition_list_add(subscription, name, RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(c->rk, subscription);
    if (kerr) {
        status = dr_error_set(err, DR_ERR_KAFKA, "subscribing group %s: %s", group_id, rd_kafka_err2str(kerr));
        goto cleanup;
    }
    *out = c;
    c = NULL;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (subscription)
        rd_kafka_topic_partition_list_destroy(subscription);
    if (c && c->rk)
        rd_kafka_destroy(c->rk);
    free(c);
    return status;
}

dr_status dr_kafka_consumer_new(const dr_kafka_options *opt, const char *group_id, const dr_topic *topics,
                                size_t topic_count, dr_kafka_consumer **out, dr_error *err)
{
    return consumer_new(opt, group_id, topics, topic_count, NULL, out, err);
}

dr_status dr_kafka_consumer_new_for_key(const dr_kafka_options *opt, const char *group_id, dr_topic topic,
                                        const char *key, dr_kafka_consumer **out, dr_error *err)
{
    if (!key || !key[0])
        return dr_error_set(err, DR_ERR_USAGE, "a key is needed to find its partition");
    return consumer_new(opt, group_id, &topic, 1, key, out, err);
}

rd_kafka_message_t *dr_kafka_consumer_poll(dr_kafka_consumer *c, int timeout_ms)
{
    int64_t deadline = dr_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, timeout_ms < 0 ? -1 : dr_kafka_remaining_ms(deadline));
        if (!msg)
            return NULL;
        if (!msg->err)
            return msg;
        dr_kafka_report_consumer_error(msg);
        rd_kafka_message_destroy(msg);
        if (timeout_ms >= 0 && dr_kafka_remaining_ms(deadline) == 0)
            return NULL;
    }
}

dr_status dr_kafka_consumer_commit(dr_kafka_consumer *c, const char *topic, int32_t partition, int64_t next_offset,
                                   dr_error *err)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t kerr = rd_kafka_commit(c->rk, offsets, 1);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (kerr)
        return dr_error_set(err, DR_ERR_KAFKA, "committing %s [%d] at offset %lld: %s", topic, (int)partition,
                            (long long)next_offset, rd_kafka_err2str(kerr));
    return DR_OK;
}

void dr_kafka_consumer_close(dr_kafka_consumer *c)
{
    if (!c)
        return;
    /* Waits for commits in flight, revokes the assignment (on_rebalance runs) and leaves the group. */
    rd_kafka_resp_err_t kerr = rd_kafka_consumer_close(c->rk);
    if (kerr)
        dr_log(DR_LOG_WARN, "kafka.close_failed", "client=%s error=\"%s\"", rd_kafka_name(c->rk),
               rd_kafka_err2str(kerr));
    rd_kafka_destroy(c->rk);
    free(c);
}

void dr_kafka_consumer_rewind(dr_kafka_consumer *c, const rd_kafka_topic_partition_list_t *partitions)
{
    dr_kafka_consumer_assign_from(c, partitions, NULL);
}

void dr_kafka_consumer_assign_from(dr_kafka_consumer *c, const rd_kafka_topic_partition_list_t *partitions,
                                   const int64_t *offsets)
{
    rd_kafka_topic_partition_list_t *from_start = rd_kafka_topic_partition_list_copy(partitions);
    for (int i = 0; i < from_start->cnt; i++)
        from_start->elems[i].offset = offsets && offsets[i] >= 0 ? offsets[i] : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE") == 0) {
        error = rd_kafka_incremental_unassign(c->rk, partitions);
        if (!error)
            error = rd_kafka_incremental_assign(c->rk, from_start);
    } else {
        kerr = rd_kafka_assign(c->rk, from_start);
    }
    if (error || kerr)
        dr_log(DR_LOG_ERROR, "kafka.rewind_failed", "client=%s error=\"%s\"", rd_kafka_name(c->rk),
               error ? rd_kafka_error_string(error) : rd_kafka_err2str(kerr));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(from_start);
}

rd_kafka_t *dr_kafka_consumer_handle(dr_kafka_consumer *c)
{
    return c->rk;
}

void dr_kafka_consumer_on_rebalance(dr_kafka_consumer *c, dr_kafka_rebalance_fn fn, void *opaque)
{
    c->on_rebalance = fn;
    c->rebalance_opaque = opaque;
}
