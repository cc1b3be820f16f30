/*
 * audit_log.h - the control plane's record of its decisions on requests:
 * a log line each (values from Kafka quoted), an AuditRecord on the audit
 * topic (waited for: the trail is part of the decision), and a count in
 * drover_control_plane_requests_total{action,decision,reason}.
 */
#ifndef DROVER_PRODUCER_AUDIT_LOG_H
#define DROVER_PRODUCER_AUDIT_LOG_H

#include "authority.h"
#include "kafka.h"
#include "metrics.h"

/* Where decisions go; every pointer is borrowed. */
typedef struct dr_audit_log {
    dr_kafka_producer *producer;
    const char *replica_id;
    dr_metrics *metrics; /* may be NULL */
    int timeout_ms;      /* for the write */
} dr_audit_log;

/* Declare the counter (once, before the first write). */
void dr_audit_log_describe(dr_metrics *metrics);

/* Record decision on a request of action about subject (scope: what was asked, for people). */
void dr_audit_log_write(const dr_audit_log *log, const dr_authority_decision *decision, dr_request_action action,
                        const char *subject, const char *scope);

#endif
