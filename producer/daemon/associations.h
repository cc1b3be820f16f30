/*
 * associations.h - the control plane running associations (standing
 * deployments, as State Manager's): on creation, on a schedule, when the
 * package's default version changes, and per target when a matching target
 * launches.
 *
 * Replicas own associations as they own deployments: by the partitions of
 * the associations topic their consumer group gives them.  A run is an
 * ordinary deployment (PENDING events, then the Deployment, with
 * association_id set); whichever replica owns that deployment releases it
 * under the association's rate controls.  After a run the owner writes the
 * association back with last_run_at_ms, last_deployment_id and
 * last_run_version, so a replica that takes it over knows what ran.
 *
 * Run ids are deterministic (the association id and what triggered the
 * run: its creation time, the scheduled tick, the default version's change
 * time, the launched target and the event's time), so a replica that dies
 * between publishing a run and recording it publishes the same deployment
 * again when it comes back: harmless, nothing runs twice.
 *
 * Schedules: the next run is the first tick after the last run (or the
 * creation); ticks missed while no replica ran give one run when one comes
 * back, not one per tick.  Runs of one target never overlap, because jobs
 * of one target are run one at a time in their order (the jobs topic is
 * keyed by target id; the worker serializes a target's jobs).
 *
 * Target events (topic events): launched and tags-changed write the target
 * to the inventory and run every owned on-launch association whose
 * selection matches it, for that target alone; terminated removes it from
 * the inventory.  The replica holding the event's partition in the events
 * group (serve.h) writes the inventory and runs its own associations; the
 * other replicas, reading the event live, run theirs.  An event written
 * while no replica ran is acted on by the holder when one comes back; while
 * several replicas come back at once, the associations of the others miss
 * it (their next scheduled run covers the target: it is in the inventory).
 */
#ifndef DROVER_PRODUCER_ASSOCIATIONS_H
#define DROVER_PRODUCER_ASSOCIATIONS_H

#include <stdint.h>

#include "audit_log.h"
#include "authority.h"
#include "drover.pb-c.h"
#include "error.h"
#include "kafka.h"
#include "keys.h"

typedef struct dr_associations dr_associations;

/* Every pointer is borrowed and must outlive the associations. */
typedef struct dr_associations_settings {
    const dr_kafka_options *options;
    dr_kafka_producer *producer;
    int timeout_ms;
    const dr_key *signing_key; /* signs the runs' deployments and the targets events register; NULL: unsigned */
    dr_authority *authority;   /* decides on association records and on each run */
    const dr_audit_log *audit; /* where those decisions go */
} dr_associations_settings;

dr_associations *dr_associations_new(const dr_associations_settings *settings);
void dr_associations_free(dr_associations *associations); /* NULL is fine */

/*
 * An associations-topic record of an owned partition (value NULL: a
 * tombstone, deleted; deleted = true: a signed delete).  The authority
 * decides on it as association.create (or .delete) of its package, the
 * control plane's bookkeeping fields (16-18) aside; a record whose request
 * is older than the association's latest one taken is refused as
 * replayed (an old create written again after a delete).  Each run is
 * decided on again with its targets, for the operator who signed the
 * association, before anything of it is published.
 */
void dr_associations_take(dr_associations *associations, const char *key, size_t key_len, const void *value, size_t len,
                          int32_t partition);
/* The partition was revoked: forget its associations. */
void dr_associations_drop_partition(dr_associations *associations, int32_t partition);
/* Something was written to the packages topic: look at default versions again. */
void dr_associations_packages_changed(dr_associations *associations);
/*
 * An allowed TargetEvent: run the owned on-launch associations it matches
 * (at the next tick); owner (the replica holding its partition in the
 * events group) also writes the inventory.
 */
void dr_associations_target_event(dr_associations *associations, const Drover__V1__TargetEvent *event, int owner);
/* Run what is due at now_ms (the schedule clock). */
void dr_associations_tick(dr_associations *associations, int64_t now_ms);

#endif
