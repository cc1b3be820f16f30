/*
 * rollup_checkpoint.c - a partition's part of the rollup table as a
 * FoldCheckpoint, and back (rollup.h).
 *
 * Restoring folds one event per job, built from the job's latest state, so
 * counts, errors and locations are made by the same code as when folding
 * the status topic; only the deployment's times, which the events of the
 * past decided, are then set from the checkpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "rollup_private.h"

typedef struct gather {
    const void **items;
    size_t count;
    int32_t partition; /* deployments: only this partition's; -1: all */
} gather;

static int gather_deployment(void *ctx, const char *key, void *value)
{
    (void)key;
    gather *g = ctx;
    if (((const dr_rollup_deployment *)value)->partition == g->partition)
        g->items[g->count++] = value;
    return 0;
}

static int gather_job(void *ctx, const char *key, void *value)
{
    (void)key;
    gather *g = ctx;
    g->items[g->count++] = value;
    return 0;
}

static int by_deployment_id(const void *a, const void *b)
{
    return strcmp((*(const dr_rollup_deployment *const *)a)->id, (*(const dr_rollup_deployment *const *)b)->id);
}

static int by_job_id(const void *a, const void *b)
{
    return strcmp((*(const dr_rollup_job *const *)a)->job_id, (*(const dr_rollup_job *const *)b)->job_id);
}

static void free_deployment_fold(Drover__V1__DeploymentFold *d)
{
    if (!d)
        return;
    for (size_t j = 0; j < d->n_jobs; j++) {
        free(d->jobs[j]->message); /* the only string copied (cut) */
        free(d->jobs[j]);
    }
    free(d->jobs);
    free(d);
}

void dr_rollup_checkpoint_free(Drover__V1__FoldCheckpoint *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_deployments; i++)
        free_deployment_fold(c->deployments[i]);
    free(c->deployments);
    free(c);
}

static Drover__V1__DeploymentFold *deployment_fold(const dr_rollup_deployment *d)
{
    Drover__V1__DeploymentFold *f = calloc(1, sizeof *f);
    gather jobs = {.items = calloc(dr_strmap_count(d->jobs) + 1, sizeof *jobs.items)};
    if (!f || !jobs.items)
        goto nomem;
    drover__v1__deployment_fold__init(f);
    f->deployment_id = d->id;
    f->package = d->package;
    f->version = d->version;
    f->max_errors = d->max_errors;
    f->expected_jobs = d->expected;
    f->started_at_ms = d->started_at_ms;
    f->updated_at_ms = d->updated_at_ms;
    f->finished_at_ms = d->finished_at_ms;
    dr_strmap_each(d->jobs, gather_job, &jobs);
    qsort(jobs.items, jobs.count, sizeof *jobs.items, by_job_id);
    if (!(f->jobs = calloc(jobs.count + 1, sizeof *f->jobs)))
        goto nomem;
    for (size_t i = 0; i < jobs.count; i++) {
        const dr_rollup_job *job = jobs.items[i];
        Drover__V1__JobFold *j = calloc(1, sizeof *j);
        char *message = dr_rollup_dup_cut(job->message, DR_ROLLUP_FAILED_MESSAGE_MAX);
        if (!j || !message) {
            free(j);
            free(message);
            goto nomem;
        }
        drover__v1__job_fold__init(j);
        j->job_id = job->job_id;
        j->target_id = job->target_id;
        j->account = job->location->account;
        j->region = job->location->region;
        j->state = job->state;
        j->attempt = job->attempt;
        j->reason = job->reason;
        j->message = message;
        j->started_at_ms = job->started_at_ms;
        j->at_ms = job->at_ms;
        f->jobs[f->n_jobs++] = j;
    }
    free(jobs.items);
    return f;
nomem:
    free_deployment_fold(f);
    free(jobs.items);
    return NULL;
}

Drover__V1__FoldCheckpoint *dr_rollup_checkpoint(const dr_rollup_table *t, int32_t partition, int64_t next_offset,
                                                 int64_t now_ms)
{
    Drover__V1__FoldCheckpoint *c = calloc(1, sizeof *c);
    gather deployments = {.items = calloc(dr_strmap_count(t->deployments) + 1, sizeof *deployments.items),
                          .partition = partition};
    if (!c || !deployments.items)
        goto nomem;
    drover__v1__fold_checkpoint__init(c);
    c->schema_version = DR_SCHEMA_VERSION;
    c->partition = partition;
    c->next_offset = next_offset;
    c->at_ms = now_ms;
    dr_strmap_each(t->deployments, gather_deployment, &deployments);
    qsort(deployments.items, deployments.count, sizeof *deployments.items, by_deployment_id);
    if (!(c->deployments = calloc(deployments.count + 1, sizeof *c->deployments)))
        goto nomem;
    for (size_t i = 0; i < deployments.count; i++) {
        if (!(c->deployments[c->n_deployments] = deployment_fold(deployments.items[i])))
            goto nomem;
        c->n_deployments++;
    }
    free(deployments.items);
    return c;
nomem:
    free(deployments.items);
    dr_rollup_checkpoint_free(c);
    return NULL;
}

/* What dr_rollup_fold would refuse in a checkpoint, refused before anything changes. */
static dr_status check_checkpoint(const Drover__V1__FoldCheckpoint *c, int32_t partition, dr_error *err)
{
    if (c->partition != partition)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "checkpoint of partition %d read for partition %d",
                            (int)c->partition, (int)partition);
    for (size_t i = 0; i < c->n_deployments; i++) {
        const Drover__V1__DeploymentFold *d = c->deployments[i];
        if (!d->deployment_id || !d->deployment_id[0])
            return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "checkpoint of partition %d: a deployment without id",
                                (int)partition);
        for (size_t j = 0; j < d->n_jobs; j++) {
            const Drover__V1__JobFold *job = d->jobs[j];
            if (!job->job_id || !job->job_id[0] || !job->target_id || !job->target_id[0] ||
                job->state < DROVER__V1__JOB_STATE__JOB_STATE_PENDING ||
                job->state > DROVER__V1__JOB_STATE__JOB_STATE_REJECTED)
                return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE,
                                    "checkpoint of partition %d: deployment %.128s has a job without ids or with "
                                    "state %d",
                                    (int)partition, d->deployment_id, (int)job->state);
        }
    }
    return DR_OK;
}

dr_status dr_rollup_restore(dr_rollup_table *t, const Drover__V1__FoldCheckpoint *c, int32_t partition, dr_error *err)
{
    dr_status status = check_checkpoint(c, partition, err);
    if (status != DR_OK)
        return status;
    dr_rollup_drop_partition(t, partition);
    for (size_t i = 0; i < c->n_deployments && status == DR_OK; i++) {
        const Drover__V1__DeploymentFold *f = c->deployments[i];
        if (dr_rollup_table_is_expired(t, f->deployment_id))
            continue;
        for (size_t j = 0; j < f->n_jobs && status == DR_OK; j++) {
            const Drover__V1__JobFold *job = f->jobs[j];
            Drover__V1__StatusEvent e;
            dr_status_event_start(&e, f->deployment_id, job->job_id, job->target_id, dr_rollup_or_empty(job->account),
                                  dr_rollup_or_empty(job->region), dr_rollup_or_empty(f->package),
                                  dr_rollup_or_empty(f->version), job->state, job->at_ms);
            e.attempt = job->attempt;
            e.reason = (char *)dr_rollup_or_empty(job->reason);
            e.message = (char *)dr_rollup_or_empty(job->message);
            e.started_at_ms = job->started_at_ms;
            e.max_errors = (char *)dr_rollup_or_empty(f->max_errors);
            e.deployment_job_count = f->expected_jobs;
            dr_rollup_fold_result result;
            status = dr_rollup_fold(t, &e, partition, &result, err);
        }
        /* The times the events of the past decided. */
        dr_rollup_deployment *d = dr_strmap_get(t->deployments, f->deployment_id);
        if (status == DR_OK && d) {
            d->started_at_ms = f->started_at_ms;
            d->updated_at_ms = f->updated_at_ms;
            d->finished_at_ms = dr_rollup_status_is_terminal(d->status) ? f->finished_at_ms : 0;
        }
    }
    if (status != DR_OK)
        dr_rollup_drop_partition(t, partition);
    return status;
}
