/*
 * associations.h - the associations, as the compacted associations topic
 * holds them, with their next run: what the console's Associations view
 * and GET /associations show.
 *
 * Each aggregator follows the whole topic (no group) from its beginning;
 * a tombstone or a signed delete removes an association.  The next run is
 * counted as the control plane counts it (common/base/schedule.h): the
 * schedule's first tick after the last run (or the creation); a tick
 * already passed is "due" (the owning control plane runs it at its next
 * look).  Thread-safe: its own lock.
 */
#ifndef DROVER_AGGREGATOR_ASSOCIATIONS_H
#define DROVER_AGGREGATOR_ASSOCIATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kafka.h"
#include "strbuf.h"

typedef struct dr_associations dr_associations;

/* An empty table, following nothing (the tests feed it with dr_associations_apply); NULL when out of memory. */
dr_associations *dr_associations_new(void);
/* An empty table following the associations topic from its beginning. */
dr_status dr_associations_start(const dr_kafka_options *kafka, int timeout_ms, dr_associations **out, dr_error *err);
/* Take in what was written since the last call, at most max records; never waits. */
void dr_associations_poll(dr_associations *a, int max);
/* One record of the topic (value NULL: a tombstone).  0, or -1 when it is not an Association (skipped). */
int dr_associations_apply(dr_associations *a, const char *key, size_t key_len, const void *value, size_t len);
/* Moves whenever the table changes. */
uint64_t dr_associations_generation(dr_associations *a);
/*
 * {"now_ms", "associations": [{"association_id", "name", "package", "version",
 * "action", "selection", "schedule", "schedule_error", "next_run_ms", "due",
 * "run_on_create", "run_on_default_change", "run_on_launch", "created_at_ms",
 * "last_run_ms", "last_deployment_id", "last_run_version"}]}, by id; next_run_ms
 * null when there is no schedule or no tick left.
 */
void dr_associations_json(dr_associations *a, int64_t now_ms, dr_strbuf *sb);
void dr_associations_free(dr_associations *a); /* NULL is fine */

#endif
