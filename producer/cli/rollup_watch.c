/*
 * rollup_watch.c - a group-less consumer on the rollups topic, assigned at
 * the end offsets.
 *
 * kafka.h offers group members and whole-topic reads; neither fits a
 * watcher that must start at "now" without joining a group, so this file
 * builds its own handle from the same options (brokers, client id, the
 * pass-through kafka-property items).
 */
#include "rollup_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "messages.h"

struct dr_rollup_watch {
    rd_kafka_t *rk;
    char topic[256];
};

static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - dr_monotonic_ms();
    return left > 0 ? (int)left : 0;
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *text)
{
    char quoted[1024];
    dr_log(level <= 3 ? DR_LOG_ERROR : level == 4 ? DR_LOG_WARN : DR_LOG_DEBUG, "kafka.log",
           "client=%s facility=%s msg=%s", rd_kafka_name(rk), facility, dr_log_quote(quoted, sizeof quoted, text));
}

static dr_status set_property(rd_kafka_conf_t *conf, const char *name, const char *value, dr_error *err)
{
    char reason[512];
    if (rd_kafka_conf_set(conf, name, value, reason, sizeof reason) != RD_KAFKA_CONF_OK)
        return dr_error_set(err, DR_ERR_USAGE, "kafka setting %s: %s", name, reason);
    return DR_OK;
}

static dr_status new_conf(const dr_kafka_options *opt, rd_kafka_conf_t **out, dr_error *err)
{
    dr_status status = DR_OK;
    char group[128];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka configuration");
        goto cleanup;
    }
    if (!opt->brokers || !opt->brokers[0]) {
        status = dr_error_set(err, DR_ERR_USAGE, "no Kafka brokers given (brokers HOST:PORT)");
        goto cleanup;
    }
    if ((status = set_property(conf, "bootstrap.servers", opt->brokers, err)) != DR_OK ||
        (status = set_property(conf, "client.id", opt->client_id ? opt->client_id : "drover", err)) != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < opt->property_count; i++) {
        const char *item = opt->properties[i];
        const char *equals = strchr(item, '=');
        char name[256];
        if (!equals || equals == item || (size_t)(equals - item) >= sizeof name) {
            status = dr_error_set(err, DR_ERR_USAGE, "kafka-property: expected KEY=VALUE");
            goto cleanup;
        }
        snprintf(name, sizeof name, "%.*s", (int)(equals - item), item);
        if ((status = set_property(conf, name, equals + 1, err)) != DR_OK)
            goto cleanup;
    }
    /*
     * librdkafka's consumer API wants a group id even when partitions are
     * assigned by hand; a unique one that never commits shares nothing.
     */
    snprintf(group, sizeof group, "drover-rollup-watch-%ld-%lld", (long)getpid(), (long long)dr_monotonic_ms());
    if ((status = set_property(conf, "group.id", group, err)) != DR_OK ||
        (status = set_property(conf, "enable.auto.commit", "false", err)) != DR_OK ||
        (status = set_property(conf, "enable.auto.offset.store", "false", err)) != DR_OK)
        goto cleanup;
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    *out = conf;
    conf = NULL;

cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return status;
}

/* Every partition of the topic at its high watermark. */
static dr_status assign_at_end(dr_rollup_watch *w, int64_t deadline, dr_error *err)
{
    dr_status status = DR_OK;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, w->topic, NULL);
    if (!rkt) {
        status = dr_error_set(err, DR_ERR_KAFKA, "%s: %s", w->topic, rd_kafka_err2str(rd_kafka_last_error()));
        goto cleanup;
    }
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(w->rk, 0, rkt, &md, remaining_ms(deadline));
    if (!kerr && (md->topic_cnt != 1 || md->topics[0].err))
        kerr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (kerr) {
        status = dr_error_set(err, DR_ERR_KAFKA, "%s: metadata: %s", w->topic, rd_kafka_err2str(kerr));
        goto cleanup;
    }
    list = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t partition = md->topics[0].partitions[i].id;
        int64_t low = 0, high = 0;
        kerr = rd_kafka_query_watermark_offsets(w->rk, w->topic, partition, &low, &high, remaining_ms(deadline));
        if (kerr) {
            status = dr_error_set(err, DR_ERR_KAFKA, "%s [%d]: end offset: %s", w->topic, (int)partition,
                                  rd_kafka_err2str(kerr));
            goto cleanup;
        }
        rd_kafka_topic_partition_list_add(list, w->topic, partition)->offset = high;
    }
    kerr = rd_kafka_assign(w->rk, list);
    if (kerr)
        status = dr_error_set(err, DR_ERR_KAFKA, "%s: assign: %s", w->topic, rd_kafka_err2str(kerr));

cleanup:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return status;
}

dr_status dr_rollup_watch_open(const dr_kafka_options *opt, int timeout_ms, dr_rollup_watch **out, dr_error *err)
{
    dr_status status = DR_OK;
    char reason[512];
    rd_kafka_conf_t *conf = NULL;
    dr_rollup_watch *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    dr_kafka_topic_name(opt, DR_TOPIC_ROLLUPS, w->topic, sizeof w->topic);
    if ((status = new_conf(opt, &conf, err)) != DR_OK)
        goto cleanup;
    w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason);
    if (!w->rk) {
        status = dr_error_set(err, DR_ERR_KAFKA, "creating a Kafka consumer: %s", reason);
        goto cleanup;
    }
    conf = NULL; /* owned by the handle now */
    rd_kafka_poll_set_consumer(w->rk);
    status = assign_at_end(w, dr_monotonic_ms() + timeout_ms, err);
    if (status != DR_OK)
        goto cleanup;
    *out = w;
    w = NULL;

cleanup:
    if (status != DR_OK)
        dr_error_wrap(err, "following rollups");
    if (conf)
        rd_kafka_conf_destroy(conf);
    dr_rollup_watch_close(w);
    return status;
}

dr_status dr_rollup_watch_next(dr_rollup_watch *w, const char *deployment_id, int timeout_ms,
                               Drover__V1__Rollup **out, dr_error *err)
{
    (void)err; /* a bad message is skipped, not fatal: the next rollup replaces it */
    int64_t deadline = dr_monotonic_ms() + timeout_ms;
    size_t id_len = strlen(deployment_id);
    *out = NULL;
    do {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(w->rk, remaining_ms(deadline));
        if (!msg)
            break;
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                dr_log(DR_LOG_WARN, "rollups.consumer_error", "topic=%s error=%s", w->topic,
                       rd_kafka_err2name(msg->err));
        } else if (msg->payload && msg->key && msg->key_len == id_len && memcmp(msg->key, deployment_id, id_len) == 0) {
            dr_error decode_err = {0};
            if (dr_rollup_decode(msg->payload, msg->len, out, &decode_err) != DR_OK) {
                char quoted[256];
                dr_log(DR_LOG_WARN, "rollups.damaged", "deployment=%s msg=%s", deployment_id,
                       dr_log_quote(quoted, sizeof quoted, decode_err.detail));
            }
        }
        rd_kafka_message_destroy(msg);
    } while (!*out && remaining_ms(deadline) > 0);
    return DR_OK;
}

void dr_rollup_watch_close(dr_rollup_watch *w)
{
    if (!w)
        return;
    if (w->rk) {
        rd_kafka_consumer_close(w->rk);
        rd_kafka_destroy(w->rk);
    }
    free(w);
}
