#include "refusals.h"

#include <stdio.h>
#include <stdlib.h>

#include "messages.h"

#define REFUSED_METRIC "drover_requests_refused_total"
#define MALFORMED_METRIC "drover_audit_records_malformed_total"

struct dr_refusals {
    dr_kafka_follower *follower;
    dr_metrics *metrics;
};

dr_status dr_refusals_start(const dr_kafka_options *kafka, dr_metrics *metrics, int timeout_ms, dr_refusals **out,
                            dr_error *err)
{
    static const dr_topic topics[] = {DR_TOPIC_AUDIT};
    dr_refusals *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    r->metrics = metrics;
    dr_status status = dr_kafka_follower_new(kafka, topics, 1, timeout_ms, &r->follower, err);
    if (status != DR_OK) {
        free(r);
        return status;
    }
    if (metrics) {
        dr_metrics_describe(metrics, REFUSED_METRIC, DR_METRIC_COUNTER,
                            "requests the control plane refused, by action and reason (from the audit topic)", NULL, 0);
        dr_metrics_describe(metrics, MALFORMED_METRIC, DR_METRIC_COUNTER,
                            "records on the audit topic skipped: not decodable, or naming no known action or reason",
                            NULL, 0);
        dr_metrics_counter_add(metrics, MALFORMED_METRIC, "", 0);
    }
    *out = r;
    return DR_OK;
}

/* A refusal's labels, when its action and reason are Drover's own; -1 otherwise. */
static int refusal_labels(const Drover__V1__AuditRecord *a, char *labels, size_t size)
{
    dr_request_action action = dr_request_action_from_name(a->action);
    dr_status reason = dr_status_from_name(a->reason);
    if (action == DR_ACTION_COUNT || !dr_status_is_request_refusal(reason))
        return -1;
    snprintf(labels, size, "action=\"%s\",reason=\"%s\"", dr_request_action_name(action), dr_status_name(reason));
    return 0;
}

void dr_refusals_poll(dr_refusals *r, int max)
{
    dr_topic topic;
    rd_kafka_message_t *msg;
    for (int i = 0; i < max && (msg = dr_kafka_follower_poll(r->follower, 0, &topic)); i++) {
        Drover__V1__AuditRecord *a = NULL;
        dr_error err = {0};
        char labels[128];
        if (!msg->payload || dr_audit_record_decode(msg->payload, msg->len, &a, &err) != DR_OK) {
            if (r->metrics)
                dr_metrics_counter_add(r->metrics, MALFORMED_METRIC, "", 1);
        } else if (!a->allowed) {
            if (refusal_labels(a, labels, sizeof labels) == 0) {
                if (r->metrics)
                    dr_metrics_counter_add(r->metrics, REFUSED_METRIC, labels, 1);
            } else if (r->metrics) {
                dr_metrics_counter_add(r->metrics, MALFORMED_METRIC, "", 1);
            }
        }
        if (a)
            drover__v1__audit_record__free_unpacked(a, NULL);
        rd_kafka_message_destroy(msg);
    }
}

void dr_refusals_free(dr_refusals *r)
{
    if (!r)
        return;
    dr_kafka_follower_free(r->follower);
    free(r);
}
