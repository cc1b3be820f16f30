/* Checkpoints of the fold: a partition written out and restored is the fold it was, and folds on alike. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "messages.h"
#include "rollup.h"

static void fold(dr_rollup_table *t, int32_t partition, const char *deployment, const char *target, int state,
                 unsigned attempt, int64_t at_ms, const char *reason, const char *message)
{
    char job_id[256];
    dr_job_id_format(job_id, sizeof job_id, deployment, target);
    Drover__V1__StatusEvent e;
    dr_status_event_start(&e, deployment, job_id, target, target[1] == '1' ? "222" : "111", "eu-west-1", "acme-agent",
                          "1.0", (Drover__V1__JobState)state, at_ms);
    e.attempt = attempt;
    e.started_at_ms = at_ms - 5;
    e.reason = (char *)reason;
    e.message = (char *)message;
    e.max_errors = "1";
    e.deployment_job_count = 4;
    dr_rollup_fold_result r;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollup_fold(t, &e, partition, &r, &err));
}

/* A table with two deployments on partition 3 (one finished) and one on partition 4. */
static dr_rollup_table *sample(void)
{
    char long_message[2000];
    memset(long_message, 'x', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    dr_rollup_table *t = dr_rollup_table_new();
    for (int i = 0; i < 4; i++) {
        char target[8];
        snprintf(target, sizeof target, "t%d", i);
        fold(t, 3, "dep-a", target, DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 100 + i, "", "");
        fold(t, 3, "dep-b", target, DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 100 + i, "", "");
    }
    fold(t, 3, "dep-a", "t0", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 1, 200, "", "installed");
    fold(t, 3, "dep-a", "t1", DROVER__V1__JOB_STATE__JOB_STATE_FAILED, 1, 210, "script-failed", long_message);
    fold(t, 3, "dep-a", "t2", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 2, 220, "", "");
    fold(t, 3, "dep-a", "t3", DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED, 1, 230, "", "already installed");
    fold(t, 3, "dep-b", "t1", DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, 1, 240, "", "");
    fold(t, 4, "dep-c", "t0", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 300, "", "");
    return t;
}

/* The checkpoint as it travels: packed and unpacked. */
static Drover__V1__FoldCheckpoint *through_the_wire(const dr_rollup_table *t, int32_t partition)
{
    Drover__V1__FoldCheckpoint *c = dr_rollup_checkpoint(t, partition, 77, 5000);
    CHECK(c != NULL);
    size_t len = drover__v1__fold_checkpoint__get_packed_size(c);
    uint8_t *bytes = malloc(len + 1);
    drover__v1__fold_checkpoint__pack(c, bytes);
    dr_rollup_checkpoint_free(c);
    Drover__V1__FoldCheckpoint *back = drover__v1__fold_checkpoint__unpack(NULL, len, bytes);
    free(bytes);
    CHECK(back != NULL);
    return back;
}

static void check_same_deployment(const dr_rollup_table *want_table, const dr_rollup_table *got_table, const char *id)
{
    const dr_rollup_deployment *want = dr_rollup_find(want_table, id), *got = dr_rollup_find(got_table, id);
    CHECK(want && got);
    if (!want || !got)
        return;
    dr_rollup_summary a, b;
    dr_rollup_summarize(want, &a);
    dr_rollup_summarize(got, &b);
    CHECK_INT(a.status, b.status);
    CHECK_INT(a.total, b.total);
    CHECK_INT(a.expected_total, b.expected_total);
    CHECK_INT(0, memcmp(a.counts, b.counts, sizeof a.counts));
    CHECK_INT(a.errors, b.errors);
    CHECK_INT(a.started_at_ms, b.started_at_ms);
    CHECK_INT(a.updated_at_ms, b.updated_at_ms);
    CHECK_INT(a.finished_at_ms, b.finished_at_ms);
    CHECK_INT(a.partition, b.partition);
    CHECK_STR(a.package, b.package);
    CHECK_STR(a.version, b.version);
    CHECK_STR(a.max_errors, b.max_errors);
    size_t n = 0, m = 0;
    const dr_rollup_job **x = dr_rollup_jobs(want, &n), **y = dr_rollup_jobs(got, &m);
    CHECK_INT(n, m);
    for (size_t i = 0; i < n && i < m; i++) {
        CHECK_STR(x[i]->job_id, y[i]->job_id);
        CHECK_STR(x[i]->target_id, y[i]->target_id);
        CHECK_INT(x[i]->state, y[i]->state);
        CHECK_INT(x[i]->attempt, y[i]->attempt);
        CHECK_STR(x[i]->reason, y[i]->reason);
        CHECK_INT(x[i]->at_ms, y[i]->at_ms);
        CHECK_INT(x[i]->started_at_ms, y[i]->started_at_ms);
        CHECK_STR(x[i]->location->account, y[i]->location->account);
        /* Messages are kept to 256 bytes in a checkpoint. */
        CHECK_INT(0, strncmp(x[i]->message, y[i]->message, strlen(y[i]->message)));
        CHECK(strlen(y[i]->message) <= DR_ROLLUP_FAILED_MESSAGE_MAX);
    }
    free(x);
    free(y);
}

static void a_restored_partition_is_the_fold_it_was(void)
{
    dr_rollup_table *t = sample();
    Drover__V1__FoldCheckpoint *c = through_the_wire(t, 3);
    CHECK_INT(77, c->next_offset);
    CHECK_INT(2, c->n_deployments); /* partition 3's only */
    CHECK_STR("dep-a", c->deployments[0]->deployment_id);

    /* Into a table holding another partition, and stale deployments of this one. */
    dr_rollup_table *r = dr_rollup_table_new();
    fold(r, 4, "dep-c", "t0", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 300, "", "");
    fold(r, 3, "dep-stale", "t0", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 1, "", "");
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollup_restore(r, c, 3, &err));
    CHECK_INT(3, dr_rollup_table_count(r));
    CHECK(dr_rollup_find(r, "dep-stale") == NULL);
    check_same_deployment(t, r, "dep-a");
    check_same_deployment(t, r, "dep-b");
    dr_rollup_summary s;
    dr_rollup_summarize(dr_rollup_find(r, "dep-a"), &s);
    CHECK_INT(DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_INCOMPLETE, s.status);
    CHECK(s.finished_at_ms > 0);

    /* Folding on from there gives what folding on from the original gives. */
    fold(t, 3, "dep-b", "t1", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 1, 250, "", "");
    fold(r, 3, "dep-b", "t1", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 1, 250, "", "");
    fold(t, 3, "dep-b", "t1", DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, 1, 260, "", ""); /* redelivered */
    fold(r, 3, "dep-b", "t1", DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, 1, 260, "", "");
    check_same_deployment(t, r, "dep-b");

    /* Two readers at one offset write the same bytes. */
    Drover__V1__FoldCheckpoint *x = dr_rollup_checkpoint(t, 3, 9, 1), *y = dr_rollup_checkpoint(r, 3, 9, 1);
    size_t xl = drover__v1__fold_checkpoint__get_packed_size(x), yl = drover__v1__fold_checkpoint__get_packed_size(y);
    uint8_t *xb = malloc(xl + 1), *yb = malloc(yl + 1);
    drover__v1__fold_checkpoint__pack(x, xb);
    drover__v1__fold_checkpoint__pack(y, yb);
    CHECK_INT(xl, yl);
    CHECK_INT(0, memcmp(xb, yb, xl < yl ? xl : yl));
    free(xb);
    free(yb);
    dr_rollup_checkpoint_free(x);
    dr_rollup_checkpoint_free(y);
    drover__v1__fold_checkpoint__free_unpacked(c, NULL);
    dr_rollup_table_free(t);
    dr_rollup_table_free(r);
}

static void a_bad_checkpoint_changes_nothing(void)
{
    dr_rollup_table *t = sample();
    Drover__V1__FoldCheckpoint *c = through_the_wire(t, 3);
    dr_rollup_table *r = dr_rollup_table_new();
    fold(r, 3, "dep-kept", "t0", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 0, 1, "", "");
    dr_error err = {0};
    /* Read for another partition. */
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_restore(r, c, 5, &err));
    /* A job with a state no event may have. */
    c->deployments[1]->jobs[2]->state = (Drover__V1__JobState)99;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_restore(r, c, 3, &err));
    c->deployments[1]->jobs[2]->state = DROVER__V1__JOB_STATE__JOB_STATE_PENDING;
    /* A job without an id. */
    c->deployments[0]->jobs[0]->job_id[0] = '\0';
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_restore(r, c, 3, &err));
    CHECK_INT(1, dr_rollup_table_count(r));
    CHECK(dr_rollup_find(r, "dep-kept") != NULL);
    drover__v1__fold_checkpoint__free_unpacked(c, NULL);
    dr_rollup_table_free(t);
    dr_rollup_table_free(r);
}

static void expired_deployments_stay_out(void)
{
    dr_rollup_table *t = sample();
    Drover__V1__FoldCheckpoint *c = through_the_wire(t, 3);
    dr_rollup_table *r = dr_rollup_table_new();
    fold(r, 3, "dep-a", "t0", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 1, 10, "", "");
    CHECK_INT(1, dr_rollup_table_expire(r, 1000, 0));
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollup_restore(r, c, 3, &err));
    CHECK(dr_rollup_find(r, "dep-a") == NULL);
    CHECK(dr_rollup_find(r, "dep-b") != NULL);
    drover__v1__fold_checkpoint__free_unpacked(c, NULL);
    dr_rollup_table_free(t);
    dr_rollup_table_free(r);
}

int main(void)
{
    a_restored_partition_is_the_fold_it_was();
    a_bad_checkpoint_changes_nothing();
    expired_deployments_stay_out();
    return check_done("test_checkpoint");
}
