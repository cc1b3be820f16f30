/*
 * rollup.h - folding status events into per-deployment rollups.  Pure
 * logic: no Kafka, no locks, no clock (every time comes from the events).
 *
 * The table keeps, per deployment, the latest state of each job and counts
 * by state, overall and per (account, region).  A job is counted once,
 * by its latest state, whatever the redeliveries, because an event replaces
 * a job's recorded state only when it supersedes it:
 *   - an event of a higher attempt supersedes anything;
 *   - an event of a lower attempt supersedes nothing;
 *   - within one attempt, a terminal event supersedes anything (a redelivered
 *     SUCCESS replaces the SUCCESS: still one job), and a non-terminal one
 *     (PENDING, IN_PROGRESS) never supersedes a terminal one (a redelivered
 *     job emits IN_PROGRESS again after its SUCCESS) nor goes back from
 *     IN_PROGRESS to PENDING.
 * Counts move incrementally (old state down, new state up).
 *
 * Folding is therefore idempotent: folding a partition's events again in
 * their order leaves the table as it was.  That is how the aggregator
 * rebuilds after a restart: it re-reads the status topic from the start
 * instead of trusting committed offsets.
 *
 * The producer writes one PENDING event per job before releasing any job,
 * so a deployment's total is known as soon as those are folded.
 *
 * Overall status, from the counts and the deployment's max errors (which
 * its PENDING events carry; none known counts as 0):
 *   PENDING      every job is PENDING (none started);
 *   IN_PROGRESS  some job is PENDING or IN_PROGRESS;
 *   then, all terminal:
 *   FAILED       more jobs count as errors (dr_job_counts_as_error) than
 *                max errors allows;
 *   SUCCESS      each job SUCCESS or SKIPPED;
 *   CANCELLED    someone cancelled it (jobs CANCELLED with reason
 *                "cancelled");
 *   INCOMPLETE   otherwise: errors within the limit, or jobs rejected for
 *                having no file for their platform.
 *
 * Timings, all from the events' at_ms: started_at is the earliest event
 * applied, updated_at the latest, finished_at the updated_at at which the
 * status became terminal (0 while it is not).
 *
 * Strings handed out (ids, reasons, the structs below) belong to the table
 * and stay valid until the deployment is dropped or the table freed.
 */
#ifndef DROVER_ROLLUP_H
#define DROVER_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"

/* Counts are indexed by Drover__V1__JobState (0, UNSPECIFIED, stays 0). */
#define DR_ROLLUP_STATE_SLOTS 9
/* A job's message is kept up to this many bytes (cut at a UTF-8 boundary). */
#define DR_ROLLUP_MESSAGE_MAX 1024
/*
 * Failed targets carried by a published Rollup.  Small on purpose: rollups
 * are republished as a deployment moves, and the embedded broker keeps only
 * 5 MiB per partition without compacting; the full list is in the HTTP API
 * and the total is in the counts.
 */
#define DR_ROLLUP_FAILED_TARGETS_MAX 100
/* Bytes of each failed target's message in a published Rollup. */
#define DR_ROLLUP_FAILED_MESSAGE_MAX 256

typedef struct dr_rollup_table dr_rollup_table;
typedef struct dr_rollup_deployment dr_rollup_deployment;

/* One (account, region) of a deployment.  Read-only for callers. */
typedef struct dr_rollup_location {
    char *account;
    char *region;
    uint64_t counts[DR_ROLLUP_STATE_SLOTS];
} dr_rollup_location;

/* One job's latest state.  Read-only for callers. */
typedef struct dr_rollup_job {
    char *job_id;
    char *target_id;
    const dr_rollup_location *location;
    Drover__V1__JobState state;
    uint32_t attempt;
    char *reason;  /* error token, "" when none */
    char *message; /* sentence, "" when none */
    int64_t started_at_ms;
    int64_t at_ms;
} dr_rollup_job;

/* A deployment at a glance. */
typedef struct dr_rollup_summary {
    const char *deployment_id;
    const char *package; /* "" until an event names it */
    const char *version;
    Drover__V1__DeploymentStatus status;
    uint64_t total;          /* jobs known (each counted once) */
    uint64_t expected_total; /* jobs the deployment has, as its events say (0: unknown); more than
                                total: the events of the others are gone, and the rollup is incomplete */
    uint64_t counts[DR_ROLLUP_STATE_SLOTS];
    uint64_t failed_total; /* jobs FAILED, TIMED_OUT, CANCELLED or REJECTED */
    int64_t started_at_ms;
    int64_t updated_at_ms;
    int64_t finished_at_ms; /* 0 while not finished */
    int32_t partition;      /* status partition it was read from, -1 unknown */
    uint64_t errors;        /* jobs counting against max errors */
    const char *max_errors; /* as given ("2", "10%"); "" when unknown */
} dr_rollup_summary;

/* What folding one event did. */
typedef struct dr_rollup_fold_result {
    int applied;                         /* 0: the event was superseded and changed nothing */
    int job_finished;                    /* the job became terminal (the first time for its attempt) */
    int64_t job_duration_ms;             /* for a finished job: at_ms - started_at_ms; -1 when unknown */
    int deployment_finished;             /* the deployment's status became terminal with this event */
    Drover__V1__DeploymentStatus status; /* the deployment's status after the event */
} dr_rollup_fold_result;

/* An empty table; NULL when out of memory. */
dr_rollup_table *dr_rollup_table_new(void);
void dr_rollup_table_free(dr_rollup_table *table); /* NULL is fine */

/*
 * Fold one event read from the status topic's partition (-1 when unknown).
 * DR_ERR_MALFORMED_MESSAGE, table unchanged, for an event without a
 * deployment id, without a job or target id, or with a state that is not
 * one of PENDING..REJECTED; DR_ERR_NOMEM when out of memory (the table is
 * unchanged or holds the event fully: counts always stay consistent).
 */
dr_status dr_rollup_fold(dr_rollup_table *table, const Drover__V1__StatusEvent *event, int32_t partition,
                         dr_rollup_fold_result *result, dr_error *err);

/* Non-success terminal: FAILED, TIMED_OUT, CANCELLED, REJECTED. */
int dr_rollup_state_is_failure(Drover__V1__JobState state);
/* Terminal deployment status: SUCCESS, FAILED, INCOMPLETE, CANCELLED. */
int dr_rollup_status_is_terminal(Drover__V1__DeploymentStatus status);

size_t dr_rollup_table_count(const dr_rollup_table *table);
const dr_rollup_deployment *dr_rollup_find(const dr_rollup_table *table, const char *deployment_id);

/*
 * Every deployment, newest first (by started_at, then id).  A malloc'd
 * array of *count entries that the caller frees (not its entries); NULL only
 * when out of memory.
 */
const dr_rollup_deployment **dr_rollup_table_list(const dr_rollup_table *table, size_t *count);

void dr_rollup_summarize(const dr_rollup_deployment *deployment, dr_rollup_summary *out);

/* The deployment's locations sorted by account then region; malloc'd array, as above. */
const dr_rollup_location **dr_rollup_locations(const dr_rollup_deployment *deployment, size_t *count);

/*
 * The deployment's first max jobs (0: all) in a failure state
 * (dr_rollup_state_is_failure), sorted by target id then job id; malloc'd
 * array, as above.  The summary's failed_total says how many there are.
 */
const dr_rollup_job **dr_rollup_failed_jobs(const dr_rollup_deployment *deployment, size_t max, size_t *count);

/* Every job of the deployment, sorted by target id then job id; malloc'd array, as above. */
const dr_rollup_job **dr_rollup_jobs(const dr_rollup_deployment *deployment, size_t *count);
/* One job by id; NULL when unknown. */
const dr_rollup_job *dr_rollup_find_job(const dr_rollup_deployment *deployment, const char *job_id);

/*
 * The deployment as a Rollup message: counts (states with a non-zero
 * count), locations, and up to max_failed failed targets (messages cut to
 * DR_ROLLUP_FAILED_MESSAGE_MAX bytes).  Every field is malloc'd: free with
 * drover__v1__rollup__free_unpacked(rollup, NULL).  NULL when out of memory.
 */
Drover__V1__Rollup *dr_rollup_build(const dr_rollup_deployment *deployment, size_t max_failed);

/*
 * The deployments changed by folding since they were last taken, one at a
 * time (the caller publishes each); NULL when none.  Taking clears the mark.
 */
const dr_rollup_deployment *dr_rollup_take_changed(dr_rollup_table *table);
/* Whether any deployment is marked changed. */
int dr_rollup_has_changed(const dr_rollup_table *table);
/* Mark a deployment changed again (its Rollup was not published); 0 when it is unknown. */
int dr_rollup_mark_changed(dr_rollup_table *table, const char *deployment_id);

/*
 * Forget every deployment read from partition (revoked: another aggregator
 * owns it now, and re-reads it from the start).  Returns how many.
 */
size_t dr_rollup_drop_partition(dr_rollup_table *table, int32_t partition);

/*
 * Retention: remove every finished deployment whose finish is before
 * finished_before_ms and, with taken_only (a table whose rollups are
 * published), whose latest rollup was taken (not changed since
 * dr_rollup_take_changed), and return how many.  Their ids are remembered
 * (the last 65,536): a later event of one of them is ignored, so a late
 * copy cannot bring back half a deployment whose final rollup stands.
 */
size_t dr_rollup_table_expire(dr_rollup_table *table, int64_t finished_before_ms, int taken_only);
/* Whether deployment_id was expired (and is still remembered). */
int dr_rollup_table_is_expired(const dr_rollup_table *table, const char *deployment_id);

/*
 * Checkpoints (docs/pipeline.md): a partition's deployments as a
 * FoldCheckpoint, to resume from instead of reading the partition again
 * from its start.
 *
 * dr_rollup_checkpoint: the deployments read from partition, sorted by id,
 * their jobs by job id (two readers at one offset write the same bytes),
 * job messages cut to DR_ROLLUP_FAILED_MESSAGE_MAX bytes.  Its strings are
 * the table's: valid while the table is unchanged; free it with
 * dr_rollup_checkpoint_free.  NULL when out of memory.
 *
 * dr_rollup_restore: the deployments of partition become those of a
 * checkpoint (read off Kafka: checked as events are, deployments expired
 * from this table left out), each marked changed.  DR_ERR_MALFORMED_MESSAGE
 * with the table unchanged when one is not what dr_rollup_checkpoint
 * writes; DR_ERR_NOMEM with the partition's deployments dropped (read it
 * from its start instead).
 */
Drover__V1__FoldCheckpoint *dr_rollup_checkpoint(const dr_rollup_table *table, int32_t partition, int64_t next_offset,
                                                 int64_t now_ms);
void dr_rollup_checkpoint_free(Drover__V1__FoldCheckpoint *checkpoint); /* NULL is fine */
dr_status dr_rollup_restore(dr_rollup_table *table, const Drover__V1__FoldCheckpoint *checkpoint, int32_t partition,
                            dr_error *err);

#endif
