#include "rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "rollup_private.h"
#include "strmap.h"

/* How many expired deployment ids a table remembers (about 6 MB at most). */
#define EXPIRED_REMEMBERED 65536
static char expired_mark;

/* ---- small helpers ---- */

/* (rollup_private.h) */
char *dr_rollup_dup_cut(const char *s, size_t max)
{
    size_t len = strlen(dr_rollup_or_empty(s));
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, dr_rollup_or_empty(s), len);
        copy[len] = '\0';
    }
    return copy;
}

static char *dup_string(const char *s)
{
    return strdup(dr_rollup_or_empty(s));
}

int dr_rollup_state_is_failure(Drover__V1__JobState state)
{
    return state == DROVER__V1__JOB_STATE__JOB_STATE_FAILED || state == DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT ||
           state == DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED || state == DROVER__V1__JOB_STATE__JOB_STATE_REJECTED;
}

int dr_rollup_status_is_terminal(Drover__V1__DeploymentStatus status)
{
    return status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_SUCCESS ||
           status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_FAILED ||
           status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_INCOMPLETE ||
           status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_CANCELLED ||
           status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED;
}

static int state_is_valid(Drover__V1__JobState state)
{
    return state >= DROVER__V1__JOB_STATE__JOB_STATE_PENDING && state <= DROVER__V1__JOB_STATE__JOB_STATE_REJECTED;
}

/* The overall status, from the counts and the error limit (see rollup.h). */
static Drover__V1__DeploymentStatus status_from_counts(const dr_rollup_deployment *d)
{
    const uint64_t *c = d->counts;
    uint64_t pending = c[DROVER__V1__JOB_STATE__JOB_STATE_PENDING];
    uint64_t running = c[DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS];
    if (d->total == 0 || pending == d->total)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_PENDING;
    if (pending + running > 0)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_IN_PROGRESS;
    if (d->refused == d->total)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED;
    long long limit = dr_rate_limit(d->max_errors, d->total, 0, 0);
    if (limit < 0 || d->errors > (uint64_t)limit)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_FAILED;
    /* Never SUCCESS on jobs whose events are gone: what cannot be seen did not succeed here. */
    if (c[DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS] + c[DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED] == d->total &&
        d->expected <= d->total)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_SUCCESS;
    if (d->user_cancelled > 0)
        return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_CANCELLED;
    return DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_INCOMPLETE;
}

static int is_user_cancel(Drover__V1__JobState state, const char *reason)
{
    return state == DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED && strcmp(reason, dr_status_name(DR_ERR_CANCELLED)) == 0;
}

static int is_refusal(Drover__V1__JobState state, const char *reason)
{
    return state == DROVER__V1__JOB_STATE__JOB_STATE_REJECTED &&
           dr_status_is_request_refusal(dr_status_from_name(reason));
}

/*
 * Whether an event (state, attempt) replaces a job's recorded state: the
 * rule that makes every redelivery harmless (see rollup.h).
 */
static int supersedes(Drover__V1__JobState state, uint32_t attempt, const dr_rollup_job *job)
{
    if (attempt != job->attempt)
        return attempt > job->attempt;
    if (dr_job_state_is_terminal(state))
        return 1;
    if (dr_job_state_is_terminal(job->state))
        return 0;
    return state >= job->state; /* IN_PROGRESS over PENDING, not back */
}

/* ---- freeing ---- */

static void free_job(dr_rollup_job *job)
{
    if (!job)
        return;
    free(job->job_id);
    free(job->target_id);
    free(job->reason);
    free(job->message);
    free(job);
}

static void free_location(dr_rollup_location *loc)
{
    if (!loc)
        return;
    free(loc->account);
    free(loc->region);
    free(loc);
}

static int free_job_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_job(value);
    return 0;
}

static int free_location_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_location(value);
    return 0;
}

static void free_deployment(dr_rollup_deployment *d)
{
    if (!d)
        return;
    if (d->jobs) {
        dr_strmap_each(d->jobs, free_job_visit, NULL);
        dr_strmap_free(d->jobs);
    }
    if (d->locations) {
        dr_strmap_each(d->locations, free_location_visit, NULL);
        dr_strmap_free(d->locations);
    }
    free(d->id);
    free(d->package);
    free(d->version);
    free(d->max_errors);
    free(d);
}

/* ---- the table ---- */

dr_rollup_table *dr_rollup_table_new(void)
{
    dr_rollup_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->deployments = dr_strmap_new();
    t->expired = dr_strmap_new();
    t->expired_ring = calloc(EXPIRED_REMEMBERED, sizeof *t->expired_ring);
    if (!t->deployments || !t->expired || !t->expired_ring) {
        dr_rollup_table_free(t);
        return NULL;
    }
    return t;
}

static int free_deployment_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_deployment(value);
    return 0;
}

void dr_rollup_table_free(dr_rollup_table *t)
{
    if (!t)
        return;
    if (t->deployments)
        dr_strmap_each(t->deployments, free_deployment_visit, NULL);
    dr_strmap_free(t->deployments);
    dr_strmap_free(t->expired);
    for (size_t i = 0; t->expired_ring && i < EXPIRED_REMEMBERED; i++)
        free(t->expired_ring[i]);
    free(t->expired_ring);
    free(t);
}

size_t dr_rollup_table_count(const dr_rollup_table *t)
{
    return dr_strmap_count(t->deployments);
}

const dr_rollup_deployment *dr_rollup_find(const dr_rollup_table *t, const char *deployment_id)
{
    return dr_strmap_get(t->deployments, deployment_id);
}

static dr_rollup_deployment *new_deployment(const char *id, int32_t partition)
{
    dr_rollup_deployment *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->partition = partition;
    d->status = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_PENDING;
    d->id = strdup(id);
    d->package = strdup("");
    d->version = strdup("");
    d->max_errors = strdup("");
    d->jobs = dr_strmap_new();
    d->locations = dr_strmap_new();
    if (!d->id || !d->package || !d->version || !d->max_errors || !d->jobs || !d->locations) {
        free_deployment(d);
        return NULL;
    }
    return d;
}

/*
 * The map key of (account, region) in small, or malloc'd when longer (the
 * caller frees it when it is not small); NULL when out of memory.  The unit
 * separator does not occur in ids; a hostile one could only merge two
 * locations of its own deployment.
 */
static char *location_key(const char *account, const char *region, char *small, size_t small_size)
{
    size_t need = strlen(account) + strlen(region) + 2;
    char *key = need <= small_size ? small : malloc(need);
    if (key)
        snprintf(key, need, "%s\x1f%s", account, region);
    return key;
}

/* The deployment's (account, region), created when new (*created set); NULL when out of memory. */
static dr_rollup_location *get_location(dr_rollup_deployment *d, const char *account, const char *region, int *created)
{
    char small[256];
    char *key = location_key(account, region, small, sizeof small);
    dr_rollup_location *loc = NULL;
    *created = 0;
    if (!key)
        return NULL;
    loc = dr_strmap_get(d->locations, key);
    if (loc)
        goto cleanup;
    loc = calloc(1, sizeof *loc);
    if (!loc)
        goto cleanup;
    loc->account = strdup(account);
    loc->region = strdup(region);
    if (!loc->account || !loc->region || dr_strmap_put(d->locations, key, loc) != 0) {
        free_location(loc);
        loc = NULL;
        goto cleanup;
    }
    *created = 1;
cleanup:
    if (key != small)
        free(key);
    return loc;
}

/* Undo a location just created for an event that then failed. */
static void forget_location(dr_rollup_deployment *d, dr_rollup_location *loc)
{
    char small[256];
    char *key = location_key(loc->account, loc->region, small, sizeof small);
    if (!key)
        return; /* an empty location stays listed: harmless */
    dr_strmap_remove(d->locations, key);
    if (key != small)
        free(key);
    free_location(loc);
}

static void mark_changed(dr_rollup_table *t, dr_rollup_deployment *d)
{
    if (d->changed)
        return;
    d->changed = 1;
    d->next_changed = t->changed_head;
    t->changed_head = d;
}

/* After a job changed: names, timings and the overall status. */
static void update_deployment(dr_rollup_deployment *d, const Drover__V1__StatusEvent *e, int32_t partition,
                              dr_rollup_fold_result *result)
{
    /* The first event that names them; a failed copy keeps "" and the next event tries again. */
    if (!d->package[0] && e->package && e->package[0]) {
        char *copy = dr_rollup_dup_cut(e->package, DR_ROLLUP_MESSAGE_MAX);
        if (copy) {
            free(d->package);
            d->package = copy;
        }
    }
    if (!d->version[0] && e->version && e->version[0]) {
        char *copy = dr_rollup_dup_cut(e->version, DR_ROLLUP_MESSAGE_MAX);
        if (copy) {
            free(d->version);
            d->version = copy;
        }
    }
    if (!d->max_errors[0] && e->max_errors && e->max_errors[0]) {
        char *copy = dr_rollup_dup_cut(e->max_errors, 16);
        if (copy) {
            free(d->max_errors);
            d->max_errors = copy;
        }
    }
    if (e->deployment_job_count > d->expected)
        d->expected = e->deployment_job_count;
    if (d->partition < 0)
        d->partition = partition;
    if (e->at_ms > 0 && (d->started_at_ms == 0 || e->at_ms < d->started_at_ms))
        d->started_at_ms = e->at_ms;
    if (e->at_ms > d->updated_at_ms)
        d->updated_at_ms = e->at_ms;

    Drover__V1__DeploymentStatus before = d->status;
    d->status = status_from_counts(d);
    if (!dr_rollup_status_is_terminal(d->status))
        d->finished_at_ms = 0;
    else if (!dr_rollup_status_is_terminal(before))
        d->finished_at_ms = d->updated_at_ms;
    result->deployment_finished = dr_rollup_status_is_terminal(d->status) && !dr_rollup_status_is_terminal(before);
    result->status = d->status;
}

dr_status dr_rollup_fold(dr_rollup_table *t, const Drover__V1__StatusEvent *e, int32_t partition,
                         dr_rollup_fold_result *result, dr_error *err)
{
    dr_status status = DR_OK;
    dr_rollup_deployment *d = NULL;
    dr_rollup_location *loc = NULL;
    dr_rollup_job *fresh = NULL;
    char *reason = NULL, *message = NULL;
    int deployment_created = 0, location_created = 0;
    memset(result, 0, sizeof *result);
    result->job_duration_ms = -1;

    const char *deployment_id = dr_rollup_or_empty(e->deployment_id);
    const char *target_id = dr_rollup_or_empty(e->target_id);
    const char *job_key = e->job_id && e->job_id[0] ? e->job_id : target_id;
    Drover__V1__JobState state = e->state;
    if (!deployment_id[0] || !job_key[0]) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "status event without %s",
                              deployment_id[0] ? "a job or target id" : "a deployment id");
        goto cleanup;
    }
    if (!state_is_valid(state)) {
        status =
            dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "status event for job %s has state %d", job_key, (int)state);
        goto cleanup;
    }

    d = dr_strmap_get(t->deployments, deployment_id);
    if (!d && dr_strmap_get(t->expired, deployment_id))
        goto cleanup; /* finished and expired: a late copy of an event must not bring back half of it */
    if (!d) {
        d = new_deployment(deployment_id, partition);
        if (!d)
            goto nomem;
        if (dr_strmap_put(t->deployments, deployment_id, d) != 0) {
            free_deployment(d);
            goto nomem;
        }
        deployment_created = 1;
    }
    result->status = d->status;

    dr_rollup_job *job = dr_strmap_get(d->jobs, job_key);
    if (job && !supersedes(state, e->attempt, job))
        goto cleanup; /* a redelivery or a late event: nothing changes */

    /* Allocate everything first: once counts move, nothing may fail. */
    loc = get_location(d, dr_rollup_or_empty(e->account), dr_rollup_or_empty(e->region), &location_created);
    reason = dr_rollup_dup_cut(e->reason, DR_ROLLUP_MESSAGE_MAX);
    message = dr_rollup_dup_cut(e->message, DR_ROLLUP_MESSAGE_MAX);
    if (!loc || !reason || !message)
        goto nomem;
    if (!job) {
        fresh = calloc(1, sizeof *fresh);
        if (!fresh || !(fresh->job_id = strdup(job_key)) ||
            !(fresh->target_id = strdup(target_id[0] ? target_id : job_key)) ||
            dr_strmap_put(d->jobs, job_key, fresh) != 0)
            goto nomem;
        job = fresh;
        fresh = NULL;
        d->total++;
        result->job_finished = dr_job_state_is_terminal(state);
    } else {
        result->job_finished =
            dr_job_state_is_terminal(state) && (!dr_job_state_is_terminal(job->state) || e->attempt > job->attempt);
        d->counts[job->state]--;
        ((dr_rollup_location *)job->location)->counts[job->state]--;
        d->errors -= (uint64_t)dr_job_counts_as_error(job->state, job->reason);
        d->user_cancelled -= (uint64_t)is_user_cancel(job->state, job->reason);
        d->refused -= (uint64_t)is_refusal(job->state, job->reason);
    }
    d->counts[state]++;
    d->errors += (uint64_t)dr_job_counts_as_error(state, reason);
    d->user_cancelled += (uint64_t)is_user_cancel(state, reason);
    d->refused += (uint64_t)is_refusal(state, reason);
    loc->counts[state]++;
    free(job->reason);
    free(job->message);
    job->reason = reason;
    job->message = message;
    reason = message = NULL;
    job->location = loc;
    job->state = state;
    job->attempt = e->attempt;
    job->started_at_ms = e->started_at_ms;
    job->at_ms = e->at_ms;
    if (result->job_finished && e->started_at_ms > 0 && e->at_ms >= e->started_at_ms)
        result->job_duration_ms = e->at_ms - e->started_at_ms;

    update_deployment(d, e, partition, result);
    result->applied = 1;
    mark_changed(t, d);
    goto cleanup;

nomem:
    status = dr_error_set(err, DR_ERR_NOMEM, "folding a status event of deployment %s", deployment_id);
    if (location_created)
        forget_location(d, loc);
    if (deployment_created) {
        dr_strmap_remove(t->deployments, deployment_id);
        free_deployment(d);
    }
cleanup:
    free_job(fresh);
    free(reason);
    free(message);
    return status;
}

/* ---- reading ---- */

void dr_rollup_summarize(const dr_rollup_deployment *d, dr_rollup_summary *out)
{
    memset(out, 0, sizeof *out);
    out->deployment_id = d->id;
    out->package = d->package;
    out->version = d->version;
    out->status = d->status;
    out->total = d->total;
    out->expected_total = d->expected;
    memcpy(out->counts, d->counts, sizeof out->counts);
    for (int s = 0; s < DR_ROLLUP_STATE_SLOTS; s++)
        if (dr_rollup_state_is_failure((Drover__V1__JobState)s))
            out->failed_total += d->counts[s];
    out->started_at_ms = d->started_at_ms;
    out->updated_at_ms = d->updated_at_ms;
    out->finished_at_ms = d->finished_at_ms;
    out->partition = d->partition;
    out->errors = d->errors;
    out->max_errors = d->max_errors;
}

/* Collecting a map's values into an array. */
typedef struct collector {
    const void **items;
    size_t count;
    int (*keep)(const void *item); /* NULL: keep all */
} collector;

static int collect_visit(void *ctx, const char *key, void *value)
{
    (void)key;
    collector *c = ctx;
    if (!c->keep || c->keep(value))
        c->items[c->count++] = value;
    return 0;
}

static const void **collect(const dr_strmap *map, int (*keep)(const void *), int (*compare)(const void *, const void *),
                            size_t *count)
{
    collector c = {calloc(dr_strmap_count(map) + 1, sizeof *c.items), 0, keep};
    *count = 0;
    if (!c.items)
        return NULL;
    dr_strmap_each(map, collect_visit, &c);
    qsort(c.items, c.count, sizeof *c.items, compare);
    *count = c.count;
    return c.items;
}

static int compare_deployments(const void *a, const void *b)
{
    const dr_rollup_deployment *x = *(const dr_rollup_deployment *const *)a;
    const dr_rollup_deployment *y = *(const dr_rollup_deployment *const *)b;
    if (x->started_at_ms != y->started_at_ms)
        return x->started_at_ms > y->started_at_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

const dr_rollup_deployment **dr_rollup_table_list(const dr_rollup_table *t, size_t *count)
{
    return (const dr_rollup_deployment **)collect(t->deployments, NULL, compare_deployments, count);
}

static int compare_locations(const void *a, const void *b)
{
    const dr_rollup_location *x = *(const dr_rollup_location *const *)a;
    const dr_rollup_location *y = *(const dr_rollup_location *const *)b;
    int c = strcmp(x->account, y->account);
    return c ? c : strcmp(x->region, y->region);
}

const dr_rollup_location **dr_rollup_locations(const dr_rollup_deployment *d, size_t *count)
{
    return (const dr_rollup_location **)collect(d->locations, NULL, compare_locations, count);
}

static int job_is_failed(const void *item)
{
    return dr_rollup_state_is_failure(((const dr_rollup_job *)item)->state);
}

static int compare_jobs(const void *a, const void *b)
{
    const dr_rollup_job *x = *(const dr_rollup_job *const *)a;
    const dr_rollup_job *y = *(const dr_rollup_job *const *)b;
    int c = strcmp(x->target_id, y->target_id);
    return c ? c : strcmp(x->job_id, y->job_id);
}

/* Sift items[at] down the max-heap items[0..n) (by compare_jobs). */
static void sift_down(const void **items, size_t n, size_t at)
{
    for (;;) {
        size_t largest = at, left = 2 * at + 1, right = left + 1;
        if (left < n && compare_jobs(&items[left], &items[largest]) > 0)
            largest = left;
        if (right < n && compare_jobs(&items[right], &items[largest]) > 0)
            largest = right;
        if (largest == at)
            return;
        const void *swap = items[at];
        items[at] = items[largest];
        items[largest] = swap;
        at = largest;
    }
}

/*
 * The first max failed jobs without sorting them all: a deployment of
 * 50,000 failures is asked for its first 100 at every publish and request,
 * under the lock the fold waits on.  A max-heap of the max smallest seen.
 */
const dr_rollup_job **dr_rollup_failed_jobs(const dr_rollup_deployment *d, size_t max, size_t *count)
{
    collector c = {calloc(dr_strmap_count(d->jobs) + 1, sizeof *c.items), 0, job_is_failed};
    *count = 0;
    if (!c.items)
        return NULL;
    dr_strmap_each(d->jobs, collect_visit, &c);
    size_t keep = max && c.count > max ? max : c.count;
    if (keep < c.count) {
        for (size_t i = keep / 2; i-- > 0;)
            sift_down(c.items, keep, i);
        for (size_t i = keep; i < c.count; i++)
            if (compare_jobs(&c.items[i], &c.items[0]) < 0) {
                c.items[0] = c.items[i];
                sift_down(c.items, keep, 0);
            }
    }
    qsort(c.items, keep, sizeof *c.items, compare_jobs);
    *count = keep;
    return (const dr_rollup_job **)c.items;
}

const dr_rollup_job **dr_rollup_jobs(const dr_rollup_deployment *d, size_t *count)
{
    return (const dr_rollup_job **)collect(d->jobs, NULL, compare_jobs, count);
}

const dr_rollup_job *dr_rollup_find_job(const dr_rollup_deployment *d, const char *job_id)
{
    return dr_strmap_get(d->jobs, job_id);
}

/* ---- the Rollup message ---- */

/* StateCounts of the non-zero states; -1 when out of memory. */
static int build_counts(const uint64_t *counts, Drover__V1__StateCount ***out, size_t *n_out)
{
    *n_out = 0;
    *out = calloc(DR_ROLLUP_STATE_SLOTS, sizeof **out);
    if (!*out)
        return -1;
    for (int s = 1; s < DR_ROLLUP_STATE_SLOTS; s++) {
        if (!counts[s])
            continue;
        Drover__V1__StateCount *sc = malloc(sizeof *sc);
        if (!sc)
            return -1;
        drover__v1__state_count__init(sc);
        sc->state = (Drover__V1__JobState)s;
        sc->count = counts[s];
        (*out)[(*n_out)++] = sc;
    }
    return 0;
}

static Drover__V1__FailedTarget *build_failed_target(const dr_rollup_job *job)
{
    Drover__V1__FailedTarget *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    drover__v1__failed_target__init(f);
    f->state = job->state;
    f->target_id = dup_string(job->target_id);
    f->reason = dup_string(job->reason);
    f->message = dr_rollup_dup_cut(job->message, DR_ROLLUP_FAILED_MESSAGE_MAX);
    if (!f->target_id || !f->reason || !f->message) {
        drover__v1__failed_target__free_unpacked(f, NULL);
        return NULL;
    }
    return f;
}

Drover__V1__Rollup *dr_rollup_build(const dr_rollup_deployment *d, size_t max_failed)
{
    const dr_rollup_location **locations = NULL;
    const dr_rollup_job **failed = NULL;
    size_t location_count = 0, failed_count = 0;
    int ok = 0;
    Drover__V1__Rollup *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    drover__v1__rollup__init(r);
    /* Every string malloc'd, so free_unpacked can free the whole message. */
    r->deployment_id = r->package = r->version = NULL;
    r->schema_version = DR_SCHEMA_VERSION;
    r->status = d->status;
    r->total_jobs = d->total;
    r->expected_jobs = d->expected;
    r->started_at_ms = d->started_at_ms;
    r->updated_at_ms = d->updated_at_ms;
    r->finished_at_ms = d->finished_at_ms;
    if (!(r->deployment_id = dup_string(d->id)) || !(r->package = dup_string(d->package)) ||
        !(r->version = dup_string(d->version)) || build_counts(d->counts, &r->counts, &r->n_counts) != 0)
        goto cleanup;

    locations = dr_rollup_locations(d, &location_count);
    if (!locations || !(r->locations = calloc(location_count + 1, sizeof *r->locations)))
        goto cleanup;
    for (size_t i = 0; i < location_count; i++) {
        Drover__V1__LocationRollup *lr = malloc(sizeof *lr);
        if (!lr)
            goto cleanup;
        drover__v1__location_rollup__init(lr);
        r->locations[r->n_locations++] = lr;
        lr->account = lr->region = NULL;
        if (!(lr->account = dup_string(locations[i]->account)) || !(lr->region = dup_string(locations[i]->region)) ||
            build_counts(locations[i]->counts, &lr->counts, &lr->n_counts) != 0)
            goto cleanup;
    }

    failed = dr_rollup_failed_jobs(d, max_failed, &failed_count);
    if (!failed)
        goto cleanup;
    if (!(r->failed_targets = calloc(failed_count + 1, sizeof *r->failed_targets)))
        goto cleanup;
    for (size_t i = 0; i < failed_count; i++) {
        Drover__V1__FailedTarget *f = build_failed_target(failed[i]);
        if (!f)
            goto cleanup;
        r->failed_targets[r->n_failed_targets++] = f;
    }
    ok = 1;
cleanup:
    free(locations);
    free(failed);
    if (!ok) {
        /* Every pointer is NULL or malloc'd, so free_unpacked frees exactly what was built. */
        drover__v1__rollup__free_unpacked(r, NULL);
        r = NULL;
    }
    return r;
}

/* ---- changes and partitions ---- */

const dr_rollup_deployment *dr_rollup_take_changed(dr_rollup_table *t)
{
    dr_rollup_deployment *d = t->changed_head;
    if (!d)
        return NULL;
    t->changed_head = d->next_changed;
    d->next_changed = NULL;
    d->changed = 0;
    return d;
}

int dr_rollup_has_changed(const dr_rollup_table *t)
{
    return t->changed_head != NULL;
}

int dr_rollup_mark_changed(dr_rollup_table *t, const char *deployment_id)
{
    dr_rollup_deployment *d = dr_strmap_get(t->deployments, deployment_id);
    if (d)
        mark_changed(t, d);
    return d != NULL;
}

/* Which deployments a removal takes: the ones pick says yes to. */
typedef struct removal {
    int (*pick)(const dr_rollup_deployment *d, const void *arg);
    const void *arg;
    dr_rollup_deployment **doomed;
    size_t count;
} removal;

static int removal_visit(void *ctx, const char *key, void *value)
{
    (void)key;
    removal *r = ctx;
    if (r->pick(value, r->arg))
        r->doomed[r->count++] = value;
    return 0;
}

/* Remember id as expired, forgetting the oldest one remembered when the ring is full. */
static void remember_expired(dr_rollup_table *t, const char *id)
{
    char *copy = strdup(id);
    if (!copy)
        return;
    char *oldest = t->expired_ring[t->expired_next];
    if (oldest) {
        dr_strmap_remove(t->expired, oldest);
        free(oldest);
    }
    t->expired_ring[t->expired_next] = NULL;
    if (dr_strmap_put(t->expired, copy, &expired_mark) != 0) {
        free(copy);
        return;
    }
    t->expired_ring[t->expired_next] = copy;
    t->expired_next = (t->expired_next + 1) % EXPIRED_REMEMBERED;
}

/* Take every deployment pick says yes to out of the table (and off the changed list), remembering the ids when asked. */
static size_t remove_where(dr_rollup_table *t, int (*pick)(const dr_rollup_deployment *, const void *), const void *arg,
                           int remember)
{
    removal r = {pick, arg, calloc(dr_strmap_count(t->deployments) + 1, sizeof *r.doomed), 0};
    if (!r.doomed)
        return 0;
    dr_strmap_each(t->deployments, removal_visit, &r);
    for (size_t i = 0; i < r.count; i++) {
        dr_rollup_deployment *d = r.doomed[i];
        if (d->changed) {
            dr_rollup_deployment **link = &t->changed_head;
            while (*link != d)
                link = &(*link)->next_changed;
            *link = d->next_changed;
        }
        if (remember)
            remember_expired(t, d->id);
        dr_strmap_remove(t->deployments, d->id);
        free_deployment(d);
    }
    free(r.doomed);
    return r.count;
}

static int in_partition(const dr_rollup_deployment *d, const void *arg)
{
    return d->partition == *(const int32_t *)arg;
}

size_t dr_rollup_drop_partition(dr_rollup_table *t, int32_t partition)
{
    return remove_where(t, in_partition, &partition, 0);
}

typedef struct expiry {
    int64_t finished_before_ms;
    int taken_only;
} expiry;

/* Finished before the expiry's time, and (when asked) its final rollup taken for publishing. */
static int finished_before(const dr_rollup_deployment *d, const void *arg)
{
    const expiry *x = arg;
    return (!x->taken_only || !d->changed) && dr_rollup_status_is_terminal(d->status) && d->finished_at_ms > 0 &&
           d->finished_at_ms < x->finished_before_ms;
}

size_t dr_rollup_table_expire(dr_rollup_table *t, int64_t finished_before_ms, int taken_only)
{
    expiry x = {finished_before_ms, taken_only};
    return remove_where(t, finished_before, &x, 1);
}

int dr_rollup_table_is_expired(const dr_rollup_table *t, const char *deployment_id)
{
    return dr_strmap_get(t->expired, deployment_id) != NULL;
}
