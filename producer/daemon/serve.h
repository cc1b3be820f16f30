/*
 * serve.h - the control plane daemon (drover-producer serve): owns
 * deployments and releases their jobs under their rate controls.
 *
 * Replicas share the deployments topic as one consumer group; a replica
 * owns the deployments of the partitions it is assigned, and re-reads them
 * from the beginning on every assignment.  Every replica follows the whole
 * status, releases and control topics (dr_kafka_follower): the status fold
 * (rollup.h) says how far each job got, the releases topic which jobs were
 * released (by anyone), the control topic which deployments are cancelled.
 * The rules of one rollout are in rollout.h.
 *
 * Releasing a batch of jobs:
 *   1. the jobs topic's high watermarks are taken (the floors);
 *   2. a Release record (deployment, targets, floors) is written to the
 *      releases topic and acknowledged;
 *   3. the Jobs are written to the jobs topic and acknowledged.
 * A replica that crashes between 2 and 3 leaves jobs "in doubt": released
 * on record but perhaps never written.  Every one of them lies at or after
 * its partition's floor, so the replica that takes the deployment over
 * reads the jobs topic from the floors of the last Release record, and
 * writes only the Jobs it does not find there.  So no job is released
 * twice and none is lost, and the concurrency cap holds across the crash
 * (in-doubt jobs are counted as released throughout).
 *
 * Taking over: when partitions are assigned, the replica takes a sync point
 * (the followed topics' high watermarks) and acts on no deployment until it
 * has read up to it.  A replica that lost the partitions stopped before the
 * group reassigned them (its releases are synchronous, between polls), and
 * one that died did so at least a session timeout earlier; so everything it
 * wrote is before the sync point.
 *
 * Writes that fail (a broker down) are retried on the next turn of the
 * loop; nothing is marked done until Kafka acknowledged it.
 *
 * State bounded by active work: a replica starts its status fold from the
 * checkpoints its group wrote (checkpoints.h), following each status
 * partition from the offset its checkpoint covers, and the holder of
 * deployments partition N writes status partition N's checkpoint as it
 * goes.  Deployments finished longer than retention_ms ago leave the fold,
 * with everything the replica kept of them (docs/control-plane.md).
 *
 * The same replicas run associations (associations.h): the group covers the
 * associations topic too, and the packages and events topics are followed.
 */
#ifndef DROVER_PRODUCER_SERVE_H
#define DROVER_PRODUCER_SERVE_H

#include <signal.h>
#include <stdatomic.h>

#include "authority.h"
#include "aws_events.h"
#include "error.h"
#include "kafka.h"
#include "keys.h"
#include "metrics.h"

typedef struct dr_serve_settings {
    dr_kafka_options kafka;
    int timeout_ms;         /* for each flush and table read */
    const char *group;      /* the replicas' consumer group */
    const char *replica_id; /* in Release records and the statuses it writes */
    /*
     * Fault injection for tests: when > 0, the process exits (status 70) as
     * soon as its Nth Release record is acknowledged, before the Jobs are
     * written: the crash that leaves jobs in doubt, on demand.
     */
    long exit_after_releases;
    /* Testing: added to the clock that schedules read (a cron tick can be made seconds away). */
    int64_t schedule_clock_offset_ms;
    const dr_key *signing_key; /* signs every job released; NULL: jobs go out unsigned (demo only) */
    int64_t job_expiry_ms;     /* every job released expires this long after (dr_job_fill); 0: never */
    int64_t retention_ms;      /* finished deployments leave memory this long after they finish; 0: never */
    dr_authority *authority;   /* decides on every request read (authority.h); not owned */
    dr_metrics *metrics;       /* may be NULL; not owned.  serve declares and feeds its metrics */
    atomic_int *ready;         /* may be NULL; set once the replica first caught up */
    /* AWS launch events (aws_intake.h): read only when templates are given; borrowed. */
    const dr_target_templates *target_templates;
    int64_t aws_event_max_age_ms; /* older events are refused; 0: any age */
} dr_serve_settings;

/*
 * Run until *stop becomes non-zero, then leave the group (handing the
 * deployments to the other replicas) and return.  DR_ERR_KAFKA when it
 * could not start.  Strings in settings must outlive the call.
 */
dr_status dr_serve_run(const dr_serve_settings *settings, volatile sig_atomic_t *stop, dr_error *err);

#endif
