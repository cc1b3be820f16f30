/*
 * refusals.h - the control plane's refusals of requests, counted from the
 * audit topic for monitoring: drover_requests_refused_total{action,reason}.
 *
 * The audit topic is followed in full by each aggregator (no group): with
 * several aggregators, each counts every refusal, so aggregate them with
 * max by (action, reason), not sum.  Records whose action or reason is not
 * one Drover writes are counted as malformed instead (labels come from
 * Kafka: an unknown value must not make a new series).
 */
#ifndef DROVER_AGGREGATOR_REFUSALS_H
#define DROVER_AGGREGATOR_REFUSALS_H

#include "error.h"
#include "kafka.h"
#include "metrics.h"

typedef struct dr_refusals dr_refusals;

/* Follow the audit topic from its beginning; metrics is borrowed. */
dr_status dr_refusals_start(const dr_kafka_options *kafka, dr_metrics *metrics, int timeout_ms, dr_refusals **out,
                            dr_error *err);
/* Count what was written since the last call, at most max records; never waits. */
void dr_refusals_poll(dr_refusals *refusals, int max);
void dr_refusals_free(dr_refusals *refusals); /* NULL is fine */

#endif
