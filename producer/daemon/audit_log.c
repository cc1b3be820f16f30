#include "audit_log.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "messages.h"
#include "publish.h"

#define REQUESTS_METRIC "drover_control_plane_requests_total"

void dr_audit_log_describe(dr_metrics *metrics)
{
    if (metrics)
        dr_metrics_describe(metrics, REQUESTS_METRIC, DR_METRIC_COUNTER,
                            "requests this replica decided on, by action, decision and refusal reason", NULL, 0);
}

void dr_audit_log_write(const dr_audit_log *log, const dr_authority_decision *decision, dr_request_action action,
                        const char *subject, const char *scope)
{
    char q_subject[300], q_operator[300], q_message[1400];
    dr_error err = {0};
    dr_publish_count count = {0};
    int unsigned_request = strcmp(decision->operator_name, DR_AUTHORITY_UNSIGNED) == 0;
    const char *message = decision->message[0] ? decision->message
                          : unsigned_request   ? "an unsigned request, taken (--allow-unsigned-requests)"
                                               : "allowed";
    dr_log(
        decision->allowed && !unsigned_request ? DR_LOG_INFO : DR_LOG_WARN,
        decision->allowed ? "request.allowed" : "request.refused",
        "action=%s subject=%s operator=%s reason=%s rule=%s msg=%s", dr_request_action_name(action),
        dr_log_quote(q_subject, sizeof q_subject, subject),
        dr_log_quote(q_operator, sizeof q_operator, decision->operator_name[0] ? decision->operator_name : "unknown"),
        decision->allowed ? "-" : dr_status_name(decision->reason), decision->rule[0] ? decision->rule : "-",
        dr_log_quote(q_message, sizeof q_message, message));
    Drover__V1__AuditRecord record;
    dr_authority_audit_fill(&record, decision, action, subject, scope, log->replica_id, dr_now_ms());
    dr_status status = dr_publish_message(log->producer, DR_TOPIC_AUDIT, subject, &record.base, &count, &err);
    if (status == DR_OK)
        status = dr_publish_flush(log->producer, &count, log->timeout_ms, &err);
    if (status == DR_OK && count.acknowledged != 1)
        status = dr_error_set(&err, DR_ERR_KAFKA, "the audit record was not acknowledged");
    if (status != DR_OK)
        dr_log(DR_LOG_ERROR, "audit.write_failed", "subject=%s msg=%s", q_subject,
               dr_log_quote(q_message, sizeof q_message, err.detail));
    if (log->metrics) {
        char labels[160];
        snprintf(labels, sizeof labels, "action=\"%s\",decision=\"%s\",reason=\"%s\"", dr_request_action_name(action),
                 decision->allowed ? "allowed" : "refused", decision->allowed ? "" : dr_status_name(decision->reason));
        dr_metrics_counter_add(log->metrics, REQUESTS_METRIC, labels, 1);
    }
}
