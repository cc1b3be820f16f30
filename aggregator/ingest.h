/*
 * ingest.h - the aggregator's Kafka side: status events in, Rollups out.
 *
 * A consumer-group member on the status topic (key deployment id, so one
 * member sees all of a deployment's events, in order).  It folds each event
 * into the shared rollup table and publishes the Rollup of every changed
 * deployment to the rollups topic (key deployment id), at most once per
 * publish interval, and at once when a deployment finishes.
 *
 * Rebuilding without double counting: the aggregator never commits offsets
 * and does not trust any it finds.  Every partition it is assigned is
 * rebuilt from its checkpoint (checkpoints.h: the fold of the partition as
 * of an offset, which this aggregator's group wrote) and the events after
 * it, or, with no usable checkpoint, from its beginning; both are exact
 * because the fold is idempotent (rollup.h).  While caught up it writes a
 * partition's checkpoint every 5 s or 10,000 events when it moved, when the
 * partition is revoked, and when it stops, so a restart reads what came
 * after the last one, not the history.  A revoked partition's deployments
 * are dropped from the table: their new owner rebuilds them.  A partition
 * whose first offset is past what was read lost events (retention, or the
 * embedded broker's 5 MiB cap); that is logged as status.history_truncated,
 * since deployments of that time may be counted short.
 *
 * Caught up: every assigned partition has been read up to the high
 * watermark observed when it was assigned.  Until then *ready is 0 and
 * nothing is published, so a restarting aggregator never publishes a
 * half-rebuilt Rollup that would look like a deployment going backwards;
 * once caught up it publishes every deployment it rebuilt (the same
 * Rollups as before: compaction keeps the latest).
 *
 * A message that is not a StatusEvent (or one without ids or a valid
 * state) is logged as status.malformed with its partition and offset,
 * counted, and skipped.
 *
 * Retention: once caught up, a deployment finished more than
 * retention_ms ago (by its events' clock) whose final Rollup was published
 * leaves the table, and with it /deployments and /metrics; its id is
 * remembered, so late copies of its events are ignored (rollup.h), and
 * GET /deployments/{id} answers from the rollups topic (api.h).
 *
 * Threads: dr_ingest_run runs on the caller's thread; the table is touched
 * only under settings->lock, which the HTTP threads take too.
 */
#ifndef DROVER_AGGREGATOR_INGEST_H
#define DROVER_AGGREGATOR_INGEST_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "error.h"
#include "fleet.h"
#include "kafka.h"
#include "metrics.h"
#include "refusals.h"
#include "rollup.h"

typedef struct dr_ingest_settings {
    dr_kafka_options kafka;
    const char *group;       /* consumer group, e.g. "drover-aggregator" */
    int publish_interval_ms; /* >= 0 */
    int64_t retention_ms;    /* finished deployments leave the table this long after they finish; 0: never */
    dr_rollup_table *table;  /* shared; not owned */
    pthread_mutex_t *lock;   /* guards table */
    dr_metrics *metrics;     /* may be NULL; not owned.  Ingest declares and feeds its metrics */
    atomic_int *ready;       /* set to 1 while caught up, 0 while catching up */
    dr_refusals *refusals;   /* may be NULL; not owned: polled by the ingest's loop */
    dr_fleet *fleet;         /* may be NULL; not owned: terminal statuses folded in, changes written */
} dr_ingest_settings;

typedef struct dr_ingest dr_ingest;

/* Connect (consumer and producer).  Strings and pointers in settings must outlive the ingest. */
dr_status dr_ingest_start(const dr_ingest_settings *settings, dr_ingest **out, dr_error *err);

/*
 * Consume, fold and publish until *stop becomes non-zero, or, with
 * until_caught_up, until caught up for the first time.  Then publish the
 * last Rollups (when caught up) and wait up to 10 s for their delivery.
 * DR_ERR_KAFKA when they could not be delivered.
 */
dr_status dr_ingest_run(dr_ingest *ingest, volatile sig_atomic_t *stop, int until_caught_up, dr_error *err);

typedef struct dr_ingest_stats {
    uint64_t events;         /* status events folded (applied or superseded) */
    uint64_t malformed;      /* messages skipped */
    uint64_t published;      /* Rollups queued for publishing */
    double catch_up_seconds; /* from the first event read until caught up; 0 before */
} dr_ingest_stats;

void dr_ingest_get_stats(const dr_ingest *ingest, dr_ingest_stats *out);

/* Leave the group (after run returned), flush and free.  NULL is fine. */
void dr_ingest_free(dr_ingest *ingest);

#endif
