#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "strmap.h"

/* Defaults when a Deployment carries no rate controls (as the producer's settings). */
#define DEFAULT_MAX_CONCURRENCY 50
#define DEFAULT_MAX_ERRORS 0

struct dr_rollout {
    char *id;
    Drover__V1__Deployment *deployment; /* owned; NULL until the control plane owns the deployment */
    dr_strmap *released;                /* target id -> the rollout itself (a set) */
    char **last_targets;                /* the last Release record's */
    size_t last_target_count;
    int64_t *last_floors;
    size_t last_floor_count;
    const dr_rollup_job **order; /* the fold's jobs by target id, once all are known */
    size_t order_count;
    size_t cursor;              /* order[0..cursor) are released or no longer PENDING */
    int64_t last_release_at_ms; /* the last Release record's at_ms; 0 none */
    int stopped;                /* the unreleased jobs were ended (STOP done): release nothing more */
};

dr_rollout *dr_rollout_new(const char *deployment_id)
{
    dr_rollout *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->id = strdup(deployment_id);
    r->released = dr_strmap_new();
    if (!r->id || !r->released) {
        dr_rollout_free(r);
        return NULL;
    }
    return r;
}

static void free_last_release(dr_rollout *r)
{
    for (size_t i = 0; i < r->last_target_count; i++)
        free(r->last_targets[i]);
    free(r->last_targets);
    free(r->last_floors);
    r->last_targets = NULL;
    r->last_floors = NULL;
    r->last_target_count = r->last_floor_count = 0;
}

void dr_rollout_free(dr_rollout *r)
{
    if (!r)
        return;
    free(r->id);
    if (r->deployment)
        drover__v1__deployment__free_unpacked(r->deployment, NULL);
    dr_strmap_free(r->released);
    free_last_release(r);
    free(r->order);
    free(r);
}

const char *dr_rollout_id(const dr_rollout *r)
{
    return r->id;
}

void dr_rollout_set_deployment(dr_rollout *r, Drover__V1__Deployment *deployment)
{
    if (r->deployment)
        drover__v1__deployment__free_unpacked(r->deployment, NULL);
    r->deployment = deployment;
}

const Drover__V1__Deployment *dr_rollout_deployment(const dr_rollout *r)
{
    return r->deployment;
}

dr_status dr_rollout_record_release(dr_rollout *r, const Drover__V1__Release *release, dr_error *err)
{
    char **targets = calloc(release->n_target_ids + 1, sizeof *targets);
    int64_t *floors = calloc(release->n_jobs_floor + 1, sizeof *floors);
    size_t copied = 0;
    if (!targets || !floors)
        goto nomem;
    for (; copied < release->n_target_ids; copied++)
        if (!(targets[copied] = strdup(release->target_ids[copied])))
            goto nomem;
    /* Into the set last: nothing below can fail half way through a map that stays consistent anyway. */
    for (size_t i = 0; i < release->n_target_ids; i++)
        if (!dr_strmap_get(r->released, release->target_ids[i]) &&
            dr_strmap_put(r->released, release->target_ids[i], r) != 0)
            goto nomem;
    if (release->n_jobs_floor)
        memcpy(floors, release->jobs_floor, release->n_jobs_floor * sizeof *floors);
    free_last_release(r);
    r->last_targets = targets;
    r->last_target_count = release->n_target_ids;
    r->last_floors = floors;
    r->last_floor_count = release->n_jobs_floor;
    r->last_release_at_ms = release->at_ms;
    return DR_OK;
nomem:
    for (size_t i = 0; i < copied; i++)
        free(targets[i]);
    free(targets);
    free(floors);
    return dr_error_set(err, DR_ERR_NOMEM, "out of memory recording a release of deployment %s", r->id);
}

int dr_rollout_is_released(const dr_rollout *r, const char *target_id)
{
    return dr_strmap_get(r->released, target_id) != NULL;
}

size_t dr_rollout_released_count(const dr_rollout *r)
{
    return dr_strmap_count(r->released);
}

int64_t dr_rollout_last_release_at_ms(const dr_rollout *r)
{
    return r->last_release_at_ms;
}

void dr_rollout_last_release(const dr_rollout *r, char *const **targets, size_t *target_count, const int64_t **floors,
                             size_t *floor_count)
{
    *targets = r->last_targets;
    *target_count = r->last_target_count;
    *floors = r->last_floors;
    *floor_count = r->last_floor_count;
}

/* Whether a job can still be released: PENDING in the fold and not released. */
static int releasable(const dr_rollout *r, const dr_rollup_job *job)
{
    return job->state == DROVER__V1__JOB_STATE__JOB_STATE_PENDING && !dr_rollout_is_released(r, job->target_id);
}

size_t dr_rollout_next_targets(dr_rollout *r, const dr_rollup_deployment *fold, const dr_rollup_job **out, size_t max)
{
    if (!r->order) {
        r->order = dr_rollup_jobs(fold, &r->order_count);
        if (!r->order)
            return 0;
    }
    /* Jobs already passed are released or terminal: neither comes back to PENDING-and-unreleased. */
    while (r->cursor < r->order_count && !releasable(r, r->order[r->cursor]))
        r->cursor++;
    size_t n = 0;
    for (size_t i = r->cursor; i < r->order_count && n < max; i++)
        if (releasable(r, r->order[i]))
            out[n++] = r->order[i];
    return n;
}

static size_t count_unreleased(dr_rollout *r, const dr_rollup_deployment *fold)
{
    size_t n = 0;
    if (!r->order && !(r->order = dr_rollup_jobs(fold, &r->order_count)))
        return 0;
    for (size_t i = r->cursor; i < r->order_count; i++)
        n += (size_t)releasable(r, r->order[i]);
    return n;
}

dr_rollout_plan dr_rollout_decide(dr_rollout *r, const dr_rollup_deployment *fold, int cancelled)
{
    dr_rollout_plan plan = {.action = DR_ROLLOUT_WAIT};
    if (!r->deployment || !fold)
        return plan;
    dr_rollup_summary s;
    dr_rollup_summarize(fold, &s);
    if (s.total < r->deployment->job_count || s.total == 0)
        return plan; /* the rest of its PENDING events are still on their way */

    uint64_t terminal = 0;
    for (int state = 0; state < DR_ROLLUP_STATE_SLOTS; state++)
        if (dr_job_state_is_terminal((Drover__V1__JobState)state))
            terminal += s.counts[state];
    const Drover__V1__RateControls *rc = r->deployment->rate_controls;
    plan.max_concurrency = dr_rate_limit(rc ? rc->max_concurrency : NULL, s.total, 1, DEFAULT_MAX_CONCURRENCY);
    plan.max_errors = dr_rate_limit(rc ? rc->max_errors : NULL, s.total, 0, DEFAULT_MAX_ERRORS);
    if (plan.max_concurrency < 0)
        plan.max_concurrency = DEFAULT_MAX_CONCURRENCY; /* the producer checks it; a hand-written one may not be */
    if (plan.max_errors < 0)
        plan.max_errors = DEFAULT_MAX_ERRORS;
    /*
     * Only released jobs become terminal before a STOP (the unreleased ones
     * end CANCELLED by it, after which nothing is released), so the
     * difference is exactly the released jobs still running or queued.
     */
    size_t released = dr_rollout_released_count(r);
    plan.in_flight = released > terminal ? released - (size_t)terminal : 0;

    if (terminal == s.total) {
        plan.action = DR_ROLLOUT_DONE;
        return plan;
    }
    int over_limit = s.errors > (uint64_t)plan.max_errors;
    if (cancelled || over_limit || r->stopped) {
        plan.count = r->stopped ? 0 : count_unreleased(r, fold);
        plan.action = plan.count ? DR_ROLLOUT_STOP : DR_ROLLOUT_IDLE;
        plan.reason = cancelled ? DR_ERR_CANCELLED : DR_ERR_ERROR_LIMIT;
        return plan;
    }
    size_t left = s.total > released ? (size_t)s.total - released : 0;
    size_t room = plan.in_flight < (size_t)plan.max_concurrency ? (size_t)plan.max_concurrency - plan.in_flight : 0;
    plan.count = left < room ? left : room;
    plan.action = plan.count ? DR_ROLLOUT_RELEASE : DR_ROLLOUT_IDLE;
    return plan;
}

void dr_rollout_mark_stopped(dr_rollout *r)
{
    r->stopped = 1;
}
