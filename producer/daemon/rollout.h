/*
 * rollout.h - one deployment's rollout under its rate controls: which jobs
 * are released, and what to do next.  Pure logic: no Kafka, no clock.  The
 * control plane (serve.c) feeds it what it reads and does what it says.
 *
 * What it knows:
 *   - the Deployment (once the control plane owns it), whose job_count says
 *     how many PENDING events to wait for and whose rate controls bound the
 *     rollout;
 *   - the released set: every target named by a Release record of the
 *     releases topic, whoever wrote it (this replica or an earlier owner),
 *     and the last Release record itself, the only one whose Jobs may not
 *     all have been written (see serve.c on in-doubt jobs);
 *   - the jobs' latest states, from the status fold (rollup.h) it is given.
 *
 * The rules (docs/control-plane.md):
 *   - jobs are released in target-id order, never one twice;
 *   - max concurrency: released jobs not yet terminal never exceed it
 *     (a count, or a percentage of the jobs rounded up, at least 1);
 *   - max errors: once more jobs count as errors (dr_job_counts_as_error)
 *     than it allows (a count or a percentage rounded up; 0 allowed),
 *     nothing more is released and every unreleased job ends CANCELLED
 *     with reason "max-errors";
 *   - a cancelled deployment releases nothing more; its unreleased jobs
 *     end CANCELLED with reason "cancelled";
 *   - a deployment is finished when every job is terminal.
 */
#ifndef DROVER_PRODUCER_ROLLOUT_H
#define DROVER_PRODUCER_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "rollup.h"

typedef struct dr_rollout dr_rollout;

/* An empty rollout of deployment id; NULL when out of memory. */
dr_rollout *dr_rollout_new(const char *deployment_id);
void dr_rollout_free(dr_rollout *rollout); /* NULL is fine */

const char *dr_rollout_id(const dr_rollout *rollout);

/* Take ownership of the decoded Deployment (replacing an earlier one). */
void dr_rollout_set_deployment(dr_rollout *rollout, Drover__V1__Deployment *deployment);
/* NULL until set. */
const Drover__V1__Deployment *dr_rollout_deployment(const dr_rollout *rollout);

/*
 * Record a Release record (read back or just written): its targets join the
 * released set and it becomes the last release.  DR_ERR_NOMEM leaves the
 * rollout as it was.
 */
dr_status dr_rollout_record_release(dr_rollout *rollout, const Drover__V1__Release *release, dr_error *err);
int dr_rollout_is_released(const dr_rollout *rollout, const char *target_id);
size_t dr_rollout_released_count(const dr_rollout *rollout);
/* The last Release record's targets and jobs-topic floors (borrowed; counts may be 0). */
/* When the last Release record was written, as it says (0: none read). */
int64_t dr_rollout_last_release_at_ms(const dr_rollout *rollout);
void dr_rollout_last_release(const dr_rollout *rollout, char *const **targets, size_t *target_count,
                             const int64_t **floors, size_t *floor_count);

typedef enum dr_rollout_action {
    DR_ROLLOUT_WAIT,    /* not owned yet, or not every PENDING event folded: nothing to do */
    DR_ROLLOUT_RELEASE, /* release `count` more jobs (dr_rollout_next_targets) */
    DR_ROLLOUT_IDLE,    /* released as many as allowed; wait for jobs to finish */
    DR_ROLLOUT_STOP,    /* end the unreleased jobs as CANCELLED with `reason` */
    DR_ROLLOUT_DONE,    /* every job is terminal */
} dr_rollout_action;

typedef struct dr_rollout_plan {
    dr_rollout_action action;
    size_t count;              /* RELEASE: how many; STOP: how many are unreleased */
    dr_status reason;          /* STOP: DR_ERR_CANCELLED or DR_ERR_ERROR_LIMIT */
    long long max_concurrency; /* resolved against the job count */
    long long max_errors;
    size_t in_flight; /* released and not terminal */
} dr_rollout_plan;

/*
 * What to do next, given the deployment's fold (NULL when no event of it was
 * folded yet) and whether a Cancel for it was seen.
 */
dr_rollout_plan dr_rollout_decide(dr_rollout *rollout, const dr_rollup_deployment *fold, int cancelled);

/*
 * Up to max target ids to release next, in order: jobs still PENDING in the
 * fold and not released.  Pointers are the fold's (valid until it changes).
 * Returns how many; 0 when out of memory too (then tried again later).
 */
size_t dr_rollout_next_targets(dr_rollout *rollout, const dr_rollup_deployment *fold, const dr_rollup_job **out,
                               size_t max);

/* The unreleased jobs were ended (a STOP done): decide says IDLE until DONE. */
void dr_rollout_mark_stopped(dr_rollout *rollout);

#endif
