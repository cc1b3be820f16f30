/*
 * rollup_watch.c - one deployment's rollups as they are published, over a
 * group-less follower of the rollups topic from its end (kafka.h): the same
 * handle set-up, settings and error reports as every other Kafka client.
 */
#include "rollup_watch.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "messages.h"

struct dr_rollup_watch {
    dr_kafka_follower *follower;
};

dr_status dr_rollup_watch_open(const dr_kafka_options *opt, int timeout_ms, dr_rollup_watch **out, dr_error *err)
{
    dr_status status = DR_OK;
    dr_rollup_watch *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if ((status = dr_kafka_follower_new_from_end(opt, DR_TOPIC_ROLLUPS, timeout_ms, &w->follower, err)) != DR_OK)
        goto cleanup;
    *out = w;
    w = NULL;

cleanup:
    if (status != DR_OK)
        dr_error_wrap(err, "following rollups");
    dr_rollup_watch_close(w);
    return status;
}

dr_status dr_rollup_watch_next(dr_rollup_watch *w, const char *deployment_id, int timeout_ms, Drover__V1__Rollup **out,
                               dr_error *err)
{
    (void)err; /* a bad message is skipped, not fatal: the next rollup replaces it */
    int64_t deadline = dr_monotonic_ms() + timeout_ms;
    size_t id_len = strlen(deployment_id);
    *out = NULL;
    do {
        dr_topic topic;
        int64_t left = deadline - dr_monotonic_ms();
        rd_kafka_message_t *msg = dr_kafka_follower_poll(w->follower, left > 0 ? (int)left : 0, &topic);
        if (!msg)
            break;
        if (msg->payload && msg->key && msg->key_len == id_len && memcmp(msg->key, deployment_id, id_len) == 0) {
            dr_error decode_err = {0};
            if (dr_rollup_decode(msg->payload, msg->len, out, &decode_err) != DR_OK) {
                char quoted[256];
                dr_log(DR_LOG_WARN, "rollups.damaged", "deployment=%s msg=%s", deployment_id,
                       dr_log_quote(quoted, sizeof quoted, decode_err.detail));
            }
        }
        rd_kafka_message_destroy(msg);
    } while (!*out && dr_monotonic_ms() < deadline);
    return DR_OK;
}

void dr_rollup_watch_close(dr_rollup_watch *w)
{
    if (!w)
        return;
    dr_kafka_follower_free(w->follower);
    free(w);
}
