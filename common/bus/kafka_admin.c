#include "kafka_admin.h"

#include <stdio.h>
#include <string.h>

#include "kafka_private.h"

dr_status dr_kafka_create_topics(const dr_kafka_options *opt, int partitions, int replication_factor, int timeout_ms,
                                 dr_topic_created out[DR_TOPIC_COUNT], dr_error *err)
{
    dr_status status = DR_OK;
    char reason[512] = "out of memory";
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_NewTopic_t *topics[DR_TOPIC_COUNT] = {0};
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *event = NULL;

    if (partitions < 1 || replication_factor < 1)
        return dr_error_set(err, DR_ERR_USAGE, "partitions (%d) and replication factor (%d) must be at least 1",
                            partitions, replication_factor);
    status = dr_kafka_new_conf(opt, NULL, NULL, 0, NULL, 0, &conf, err);
    if (status == DR_OK)
        status = dr_kafka_new_handle(RD_KAFKA_PRODUCER, conf, &rk, err);
    conf = NULL; /* the handle owns it, or it is gone */
    if (status != DR_OK)
        goto cleanup;
    for (int t = 0; t < DR_TOPIC_COUNT; t++) {
        dr_kafka_topic_name(opt, (dr_topic)t, out[t].name, sizeof out[t].name);
        out[t].created = 0;
        topics[t] = rd_kafka_NewTopic_new(out[t].name, partitions, replication_factor, reason, sizeof reason);
        if (!topics[t] ||
            (dr_topic_is_compacted((dr_topic)t) &&
             rd_kafka_NewTopic_set_config(topics[t], "cleanup.policy", "compact") != RD_KAFKA_RESP_ERR_NO_ERROR)) {
            status =
                dr_error_set(err, DR_ERR_KAFKA, "topic %s: %s", out[t].name, topics[t] ? "cleanup.policy" : reason);
            goto cleanup;
        }
    }
    options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    queue = rd_kafka_queue_new(rk);
    if (!options || !queue || rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, reason, sizeof reason) ||
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, reason, sizeof reason)) {
        status = dr_error_set(err, DR_ERR_KAFKA, "admin options: %s", reason);
        goto cleanup;
    }
    rd_kafka_CreateTopics(rk, topics, DR_TOPIC_COUNT, options, queue);
    /* One result event; the extra second covers the request's own round trip. */
    event = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    if (!event) {
        status = dr_error_set(err, DR_ERR_KAFKA, "no answer from %s within %d ms", opt->brokers, timeout_ms);
        goto cleanup;
    }
    if (rd_kafka_event_error(event)) {
        /* The embedded broker names no controller, so the request times out there. */
        status = dr_error_set(err, DR_ERR_KAFKA, "creating topics on %s: %s%s", opt->brokers,
                              rd_kafka_event_error_string(event),
                              rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR__TIMED_OUT
                                  ? " (no controller answered; the embedded broker makes its topics itself)"
                                  : "");
        goto cleanup;
    }
    const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t **results = result ? rd_kafka_CreateTopics_result_topics(result, &count) : NULL;
    for (size_t i = 0; i < count; i++) {
        const char *name = rd_kafka_topic_result_name(results[i]);
        rd_kafka_resp_err_t kerr = rd_kafka_topic_result_error(results[i]);
        for (int t = 0; t < DR_TOPIC_COUNT; t++) {
            if (strcmp(out[t].name, name) != 0)
                continue;
            if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
                out[t].created = 1;
            else if (kerr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && status == DR_OK) {
                const char *why = rd_kafka_topic_result_error_string(results[i]);
                status = dr_error_set(err, DR_ERR_KAFKA, "creating topic %s: %s", name,
                                      why && why[0] ? why : rd_kafka_err2str(kerr));
            }
        }
    }
    if (status == DR_OK && count != DR_TOPIC_COUNT)
        status = dr_error_set(err, DR_ERR_KAFKA, "the broker answered for %zu of %d topics", count, DR_TOPIC_COUNT);
cleanup:
    if (event)
        rd_kafka_event_destroy(event);
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (options)
        rd_kafka_AdminOptions_destroy(options);
    for (int t = 0; t < DR_TOPIC_COUNT; t++)
        if (topics[t])
            rd_kafka_NewTopic_destroy(topics[t]);
    if (rk)
        rd_kafka_destroy(rk);
    return status;
}
