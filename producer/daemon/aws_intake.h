/*
 * aws_intake.h - AWS launch events, as EventBridge delivers them to Kafka,
 * turned into the control plane's own target events.
 *
 * The replicas read the aws-events topic as one consumer group (each event
 * to one replica; offsets committed after it is handled, so an event
 * written while no replica ran is handled when one comes back).  Each event
 * is parsed and completed by the operator's target templates
 * (aws_events.h), then written to the events topic as a TargetEvent signed
 * with the control plane's key, keyed by the instance id: from there it
 * goes the way every launch goes (the inventory, on-launch associations),
 * checked by the authority as the control plane's own request.
 *
 * Nothing an event says is trusted beyond its checked fields: an event
 * that does not parse is logged and counted; one older than max_age_ms,
 * or that no template matches, is refused with its reason on the audit
 * trail.  None stops serve.  A TargetEvent that cannot be written is not
 * committed: the event is read again at the next poll.
 */
#ifndef DROVER_PRODUCER_AWS_INTAKE_H
#define DROVER_PRODUCER_AWS_INTAKE_H

#include "audit_log.h"
#include "aws_events.h"
#include "kafka.h"
#include "keys.h"
#include "metrics.h"

typedef struct dr_aws_intake_settings {
    const dr_kafka_options *kafka;        /* aws_events_topic names the topic read */
    const char *group;                    /* the replicas' group for it */
    const dr_target_templates *templates; /* borrowed */
    dr_kafka_producer *producer;          /* borrowed: writes the TargetEvents */
    const dr_key *signing_key;            /* signs them; NULL: unsigned (a demo's control plane) */
    const dr_audit_log *audit;            /* refusals go here; borrowed */
    dr_metrics *metrics;                  /* may be NULL */
    int timeout_ms;                       /* for each write */
    int64_t max_age_ms;                   /* an event older than this is refused (stale); 0: any age */
} dr_aws_intake_settings;

typedef struct dr_aws_intake dr_aws_intake;

dr_status dr_aws_intake_new(const dr_aws_intake_settings *settings, dr_aws_intake **out, dr_error *err);

/* Handle up to max events waiting, each committed once handled. */
void dr_aws_intake_poll(dr_aws_intake *in, int max);

/* Leave the group and free. */
void dr_aws_intake_free(dr_aws_intake *in);

/* Declare drover_control_plane_aws_events_total{result}. */
void dr_aws_intake_describe(dr_metrics *metrics);

#endif
