/* Folding status events: each job counted once by its latest state, whatever the redeliveries. */
#include <stdlib.h>

#include "check.h"
#include "messages.h"
#include "rollup.h"

enum {
    PENDING = DROVER__V1__JOB_STATE__JOB_STATE_PENDING,
    IN_PROGRESS = DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS,
    SUCCESS = DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS,
    FAILED = DROVER__V1__JOB_STATE__JOB_STATE_FAILED,
    TIMED_OUT = DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT,
    CANCELLED = DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED,
    SKIPPED = DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED,
    REJECTED = DROVER__V1__JOB_STATE__JOB_STATE_REJECTED,
};

enum {
    D_PENDING = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_PENDING,
    D_IN_PROGRESS = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_IN_PROGRESS,
    D_SUCCESS = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_SUCCESS,
    D_FAILED = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_FAILED,
    D_CANCELLED = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_CANCELLED,
    D_INCOMPLETE = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_INCOMPLETE,
};

/* One event: target "tN" of deployment dep in (account, region). */
typedef struct event_spec {
    const char *deployment;
    const char *target;
    const char *account;
    const char *region;
    int state;
    unsigned attempt;
    int64_t started_at_ms;
    int64_t at_ms;
    const char *reason;
    const char *message;
    const char *max_errors;
} event_spec;

/* The deployment_job_count the next fold_spec puts on its event (0: none). */
static unsigned next_job_count;

static dr_rollup_fold_result fold_spec(dr_rollup_table *t, event_spec s)
{
    char job_id[256];
    snprintf(job_id, sizeof job_id, "%s/%s", s.deployment, s.target);
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    e.schema_version = 1;
    e.deployment_id = (char *)s.deployment;
    e.job_id = job_id;
    e.target_id = (char *)s.target;
    e.account = (char *)(s.account ? s.account : "111");
    e.region = (char *)(s.region ? s.region : "eu-west-1");
    e.package = "acme-agent";
    e.version = "1.0";
    e.state = (Drover__V1__JobState)s.state;
    e.attempt = s.attempt;
    e.started_at_ms = s.started_at_ms;
    e.at_ms = s.at_ms;
    e.reason = (char *)(s.reason ? s.reason : "");
    e.message = (char *)(s.message ? s.message : "");
    e.max_errors = (char *)(s.max_errors ? s.max_errors : "");
    e.deployment_job_count = next_job_count;
    dr_rollup_fold_result r;
    dr_error err = {0};
    dr_status status = dr_rollup_fold(t, &e, 3, &r, &err);
    if (status != DR_OK)
        fprintf(stderr, "fold failed: %s\n", err.detail);
    CHECK_INT(DR_OK, status);
    return r;
}

#define FOLD(t, ...) fold_spec((t), (event_spec){__VA_ARGS__})

static dr_rollup_summary summary_of(const dr_rollup_table *t, const char *id)
{
    dr_rollup_summary s;
    memset(&s, 0, sizeof s);
    const dr_rollup_deployment *d = dr_rollup_find(t, id);
    CHECK(d != NULL);
    if (d)
        dr_rollup_summarize(d, &s);
    return s;
}

static void a_normal_run_counts_every_job_once(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    for (int i = 0; i < 4; i++) {
        char target[8];
        snprintf(target, sizeof target, "t%d", i);
        dr_rollup_fold_result r = FOLD(t, "d1", target, .state = PENDING, .attempt = 1, .at_ms = 1000 + i);
        CHECK_INT(1, r.applied);
        CHECK_INT(0, r.job_finished);
        CHECK_INT(D_PENDING, r.status);
    }
    dr_rollup_summary s = summary_of(t, "d1");
    CHECK_INT(4, s.total);
    CHECK_INT(4, s.counts[PENDING]);
    CHECK_INT(D_PENDING, s.status);
    CHECK_INT(1000, s.started_at_ms);
    CHECK_INT(1003, s.updated_at_ms);
    CHECK_STR("acme-agent", s.package);
    CHECK_STR("1.0", s.version);
    CHECK_INT(3, s.partition);

    dr_rollup_fold_result r =
        FOLD(t, "d1", "t0", .state = IN_PROGRESS, .attempt = 1, .started_at_ms = 2000, .at_ms = 2000);
    CHECK_INT(D_IN_PROGRESS, r.status);
    for (int i = 0; i < 4; i++) {
        char target[8];
        snprintf(target, sizeof target, "t%d", i);
        if (i > 0)
            FOLD(t, "d1", target, .state = IN_PROGRESS, .attempt = 1, .started_at_ms = 2000 + i, .at_ms = 2000 + i);
        r = FOLD(t, "d1", target, .state = SUCCESS, .attempt = 1, .started_at_ms = 2000 + i, .at_ms = 3000 + 10 * i);
        CHECK_INT(1, r.job_finished);
        CHECK_INT(1000 + 9 * i, r.job_duration_ms);
        CHECK_INT(i == 3, r.deployment_finished);
        CHECK_INT(i == 3 ? D_SUCCESS : D_IN_PROGRESS, r.status);
    }
    s = summary_of(t, "d1");
    CHECK_INT(4, s.total);
    CHECK_INT(0, s.counts[PENDING]);
    CHECK_INT(0, s.counts[IN_PROGRESS]);
    CHECK_INT(4, s.counts[SUCCESS]);
    CHECK_INT(0, s.failed_total);
    CHECK_INT(D_SUCCESS, s.status);
    CHECK_INT(1000, s.started_at_ms);
    CHECK_INT(3030, s.updated_at_ms);
    CHECK_INT(3030, s.finished_at_ms);
    dr_rollup_table_free(t);
}

static void redeliveries_change_nothing(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    FOLD(t, "d1", "t0", .state = PENDING, .attempt = 1, .at_ms = 100);
    FOLD(t, "d1", "t1", .state = PENDING, .attempt = 1, .at_ms = 100);
    FOLD(t, "d1", "t0", .state = IN_PROGRESS, .attempt = 1, .started_at_ms = 200, .at_ms = 200);
    /* A redelivered PENDING does not take the job back. */
    dr_rollup_fold_result r = FOLD(t, "d1", "t0", .state = PENDING, .attempt = 1, .at_ms = 210);
    CHECK_INT(0, r.applied);
    FOLD(t, "d1", "t0", .state = SUCCESS, .attempt = 1, .started_at_ms = 200, .at_ms = 300);
    FOLD(t, "d1", "t1", .state = IN_PROGRESS, .attempt = 1, .started_at_ms = 200, .at_ms = 200);
    r = FOLD(t, "d1", "t1", .state = SUCCESS, .attempt = 1, .started_at_ms = 200, .at_ms = 400);
    CHECK_INT(1, r.deployment_finished);
    CHECK_INT(400, summary_of(t, "d1").finished_at_ms);

    /* The job is redelivered to another worker: IN_PROGRESS again, then SUCCESS again. */
    r = FOLD(t, "d1", "t0", .state = IN_PROGRESS, .attempt = 1, .started_at_ms = 500, .at_ms = 500);
    CHECK_INT(0, r.applied);
    CHECK_INT(D_SUCCESS, r.status);
    dr_rollup_summary s = summary_of(t, "d1");
    CHECK_INT(2, s.counts[SUCCESS]);
    CHECK_INT(0, s.counts[IN_PROGRESS]);
    CHECK_INT(D_SUCCESS, s.status);

    r = FOLD(t, "d1", "t0", .state = SUCCESS, .attempt = 1, .started_at_ms = 500, .at_ms = 600);
    CHECK_INT(1, r.applied);
    CHECK_INT(0, r.job_finished); /* already finished: its duration is not observed twice */
    CHECK_INT(0, r.deployment_finished);
    s = summary_of(t, "d1");
    CHECK_INT(2, s.total);
    CHECK_INT(2, s.counts[SUCCESS]);
    CHECK_INT(D_SUCCESS, s.status);
    CHECK_INT(400, s.finished_at_ms); /* when it first finished */

    /* A late event of an older attempt changes nothing either. */
    r = FOLD(t, "d1", "t1", .state = FAILED, .attempt = 0, .at_ms = 700);
    CHECK_INT(0, r.applied);
    CHECK_INT(2, summary_of(t, "d1").counts[SUCCESS]);
    dr_rollup_table_free(t);
}

static void a_higher_attempt_replaces_the_job(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    FOLD(t, "d1", "t0", .state = PENDING, .attempt = 1, .at_ms = 100);
    FOLD(t, "d1", "t0", .state = FAILED, .attempt = 1, .started_at_ms = 100, .at_ms = 200, .reason = "script-failed");
    CHECK_INT(D_FAILED, summary_of(t, "d1").status);
    CHECK_INT(200, summary_of(t, "d1").finished_at_ms);

    dr_rollup_fold_result r =
        FOLD(t, "d1", "t0", .state = IN_PROGRESS, .attempt = 2, .started_at_ms = 300, .at_ms = 300);
    CHECK_INT(1, r.applied);
    CHECK_INT(D_IN_PROGRESS, r.status);
    dr_rollup_summary s = summary_of(t, "d1");
    CHECK_INT(1, s.total);
    CHECK_INT(0, s.counts[FAILED]);
    CHECK_INT(1, s.counts[IN_PROGRESS]);
    CHECK_INT(0, s.finished_at_ms);
    CHECK_INT(0, s.failed_total);

    /* The first attempt's FAILED arrives again (redelivered): too old. */
    r = FOLD(t, "d1", "t0", .state = FAILED, .attempt = 1, .at_ms = 310);
    CHECK_INT(0, r.applied);

    r = FOLD(t, "d1", "t0", .state = SUCCESS, .attempt = 2, .started_at_ms = 300, .at_ms = 450);
    CHECK_INT(1, r.job_finished);
    CHECK_INT(150, r.job_duration_ms);
    CHECK_INT(1, r.deployment_finished);
    s = summary_of(t, "d1");
    CHECK_INT(1, s.counts[SUCCESS]);
    CHECK_INT(D_SUCCESS, s.status);
    CHECK_INT(450, s.finished_at_ms);

    /* A higher attempt's terminal event straight after a terminal one is timed again. */
    r = FOLD(t, "d1", "t0", .state = SKIPPED, .attempt = 3, .started_at_ms = 500, .at_ms = 520);
    CHECK_INT(1, r.job_finished);
    CHECK_INT(1, summary_of(t, "d1").counts[SKIPPED]);
    CHECK_INT(0, summary_of(t, "d1").counts[SUCCESS]);
    dr_rollup_table_free(t);
}

static void locations_are_counted_apart(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    const char *accounts[] = {"222", "111", "111"};
    const char *regions[] = {"us-east-1", "eu-west-1", "us-east-1"};
    for (int i = 0; i < 9; i++) {
        char target[8];
        snprintf(target, sizeof target, "t%d", i);
        FOLD(t, "d1", target, accounts[i % 3], regions[i % 3], PENDING, 1, 0, 100, NULL, NULL, NULL);
    }
    FOLD(t, "d1", "t0", accounts[0], regions[0], SUCCESS, 1, 100, 200, NULL, NULL, NULL);
    FOLD(t, "d1", "t1", accounts[1], regions[1], FAILED, 1, 100, 200, "checksum", "sha256 mismatch", NULL);
    FOLD(t, "d1", "t4", accounts[1], regions[1], IN_PROGRESS, 1, 100, 200, NULL, NULL, NULL);
    FOLD(t, "d1", "t4", accounts[1], regions[1], IN_PROGRESS, 1, 100, 210, NULL, NULL, NULL); /* same state again */

    size_t n = 0;
    const dr_rollup_location **locs = dr_rollup_locations(dr_rollup_find(t, "d1"), &n);
    CHECK_INT(3, n);
    if (locs && n == 3) {
        CHECK_STR("111", locs[0]->account); /* sorted by account, then region */
        CHECK_STR("eu-west-1", locs[0]->region);
        CHECK_INT(1, locs[0]->counts[PENDING]);
        CHECK_INT(1, locs[0]->counts[IN_PROGRESS]);
        CHECK_INT(1, locs[0]->counts[FAILED]);
        CHECK_STR("111", locs[1]->account);
        CHECK_STR("us-east-1", locs[1]->region);
        CHECK_INT(3, locs[1]->counts[PENDING]);
        CHECK_STR("222", locs[2]->account);
        CHECK_INT(2, locs[2]->counts[PENDING]);
        CHECK_INT(1, locs[2]->counts[SUCCESS]);
    }
    free(locs);

    /* A job that reports another location moves there, still counted once. */
    FOLD(t, "d1", "t2", "333", "ap-south-1", SUCCESS, 1, 100, 300, NULL, NULL, NULL);
    locs = dr_rollup_locations(dr_rollup_find(t, "d1"), &n);
    CHECK_INT(4, n);
    if (locs && n == 4) {
        CHECK_INT(2, locs[1]->counts[PENDING]);
        CHECK_STR("333", locs[3]->account);
        CHECK_INT(1, locs[3]->counts[SUCCESS]);
    }
    free(locs);
    dr_rollup_summary s = summary_of(t, "d1");
    CHECK_INT(9, s.total);
    CHECK_INT(5, s.counts[PENDING]);
    CHECK_INT(2, s.counts[SUCCESS]);

    /* Names longer than any fixed buffer work the same. */
    char account[400];
    memset(account, 'a', sizeof account - 1);
    account[sizeof account - 1] = '\0';
    FOLD(t, "d1", "t9", account, "r", PENDING, 1, 0, 100, NULL, NULL, NULL);
    FOLD(t, "d1", "t9", account, "r", SUCCESS, 1, 100, 200, NULL, NULL, NULL);
    locs = dr_rollup_locations(dr_rollup_find(t, "d1"), &n);
    CHECK_INT(5, n);
    if (locs && n == 5) {
        CHECK_STR(account, locs[4]->account); /* sorted last */
        CHECK_INT(0, locs[4]->counts[PENDING]);
        CHECK_INT(1, locs[4]->counts[SUCCESS]);
    }
    free(locs);
    dr_rollup_table_free(t);
}

static void the_status_follows_the_counts(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    /* FAILED wins over CANCELLED; reasons are listed per failed target. */
    FOLD(t, "f", "t0", .state = PENDING, .at_ms = 10);
    FOLD(t, "f", "t1", .state = PENDING, .at_ms = 10);
    FOLD(t, "f", "t2", .state = PENDING, .at_ms = 10);
    FOLD(t, "f", "t3", .state = PENDING, .at_ms = 10);
    CHECK_INT(D_PENDING, summary_of(t, "f").status);
    FOLD(t, "f", "t3", .state = CANCELLED, .at_ms = 20, .reason = "cancelled", .message = "deployment cancelled");
    CHECK_INT(D_IN_PROGRESS, summary_of(t, "f").status); /* something ended: no longer pending */
    FOLD(t, "f", "t2", .state = REJECTED, .at_ms = 30, .reason = "signature", .message = "bad signature");
    FOLD(t, "f", "t0", .state = SUCCESS, .at_ms = 40);
    CHECK_INT(D_IN_PROGRESS, summary_of(t, "f").status);
    dr_rollup_fold_result r = FOLD(t, "f", "t1", .state = TIMED_OUT, .at_ms = 50, .reason = "script-timeout",
                                   .message = "install.sh ran 60 s");
    CHECK_INT(1, r.deployment_finished);
    dr_rollup_summary s = summary_of(t, "f");
    CHECK_INT(D_FAILED, s.status);
    CHECK_INT(3, s.failed_total);
    CHECK_INT(50, s.finished_at_ms);

    size_t n = 0;
    const dr_rollup_job **failed = dr_rollup_failed_jobs(dr_rollup_find(t, "f"), 0, &n);
    CHECK_INT(3, n);
    if (failed && n == 3) {
        CHECK_STR("t1", failed[0]->target_id);
        CHECK_INT(TIMED_OUT, failed[0]->state);
        CHECK_STR("script-timeout", failed[0]->reason);
        CHECK_STR("install.sh ran 60 s", failed[0]->message);
        CHECK_STR("t2", failed[1]->target_id);
        CHECK_STR("signature", failed[1]->reason);
        CHECK_STR("t3", failed[2]->target_id);
        CHECK_INT(CANCELLED, failed[2]->state);
    }
    free(failed);

    /* Cancelled by someone: CANCELLED. SKIPPED counts as success. */
    FOLD(t, "c", "t0", .state = PENDING, .at_ms = 10);
    FOLD(t, "c", "t1", .state = PENDING, .at_ms = 10);
    FOLD(t, "c", "t0", .state = SKIPPED, .at_ms = 20);
    FOLD(t, "c", "t1", .state = CANCELLED, .at_ms = 30, .reason = "cancelled");
    CHECK_INT(D_CANCELLED, summary_of(t, "c").status);
    FOLD(t, "s", "t0", .state = SKIPPED, .at_ms = 20);
    FOLD(t, "s", "t1", .state = SUCCESS, .at_ms = 20);
    CHECK_INT(D_SUCCESS, summary_of(t, "s").status);
    /* Events that say the deployment has more jobs than are known: incomplete, never SUCCESS. */
    next_job_count = 3;
    FOLD(t, "short", "t0", .state = SUCCESS, .at_ms = 20);
    FOLD(t, "short", "t1", .state = SUCCESS, .at_ms = 20);
    s = summary_of(t, "short");
    CHECK_INT(D_INCOMPLETE, s.status);
    CHECK_INT(2, s.total);
    CHECK_INT(3, s.expected_total);
    FOLD(t, "short", "t2", .state = SUCCESS, .at_ms = 20);
    CHECK_INT(D_SUCCESS, summary_of(t, "short").status);
    next_job_count = 0;
    FOLD(t, "x", "t0", .state = FAILED, .at_ms = 20);
    CHECK_INT(D_FAILED, summary_of(t, "x").status);

    /* Max errors: errors within the limit end INCOMPLETE, past it FAILED; a
       rejection for "no file for this platform" is not an error. */
    FOLD(t, "m", "t0", .state = PENDING, .at_ms = 10, .max_errors = "1");
    FOLD(t, "m", "t1", .state = PENDING, .at_ms = 10, .max_errors = "1");
    FOLD(t, "m", "t2", .state = PENDING, .at_ms = 10, .max_errors = "1");
    FOLD(t, "m", "t0", .state = FAILED, .at_ms = 20, .reason = "script-failed");
    FOLD(t, "m", "t1", .state = REJECTED, .at_ms = 20, .reason = "no-platform-match");
    FOLD(t, "m", "t2", .state = SUCCESS, .at_ms = 20);
    s = summary_of(t, "m");
    CHECK_INT(D_INCOMPLETE, s.status);
    CHECK_INT(1, s.errors);
    CHECK_STR("1", s.max_errors);
    FOLD(t, "m", "t1", .state = REJECTED, .attempt = 2, .at_ms = 30, .reason = "signature");
    s = summary_of(t, "m");
    CHECK_INT(D_FAILED, s.status);
    CHECK_INT(2, s.errors);
    /* 50% of 3 is 2 (rounded up): two errors stay within it. */
    FOLD(t, "p", "t0", .state = PENDING, .at_ms = 10, .max_errors = "50%");
    FOLD(t, "p", "t1", .state = PENDING, .at_ms = 10, .max_errors = "50%");
    FOLD(t, "p", "t2", .state = PENDING, .at_ms = 10, .max_errors = "50%");
    FOLD(t, "p", "t0", .state = FAILED, .at_ms = 20);
    FOLD(t, "p", "t1", .state = TIMED_OUT, .at_ms = 20);
    FOLD(t, "p", "t2", .state = CANCELLED, .at_ms = 20, .reason = "max-errors");
    CHECK_INT(D_INCOMPLETE, summary_of(t, "p").status);
    /* Cancelled by someone but past the error limit: FAILED wins. */
    FOLD(t, "q", "t0", .state = FAILED, .at_ms = 20);
    FOLD(t, "q", "t1", .state = CANCELLED, .at_ms = 20, .reason = "cancelled");
    CHECK_INT(D_FAILED, summary_of(t, "q").status);

    /* The list is newest first. */
    FOLD(t, "new", "t0", .state = PENDING, .at_ms = 999);
    size_t count = 0;
    const dr_rollup_deployment **all = dr_rollup_table_list(t, &count);
    CHECK_INT(9, count);
    CHECK_INT(9, dr_rollup_table_count(t));
    if (all && count == 9) {
        dr_rollup_summary first;
        dr_rollup_summarize(all[0], &first);
        CHECK_STR("new", first.deployment_id);
    }
    free(all);
    dr_rollup_table_free(t);
}

static void malformed_events_are_refused(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    dr_rollup_fold_result r;
    dr_error err = {0};
    e.job_id = "d/t";
    e.state = DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_fold(t, &e, 0, &r, &err));
    CHECK_CONTAINS("deployment id", err.detail);
    e.deployment_id = "d";
    e.job_id = "";
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_fold(t, &e, 0, &r, &err));
    e.target_id = "t"; /* a target id alone names the job */
    e.state = DROVER__V1__JOB_STATE__JOB_STATE_UNSPECIFIED;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_fold(t, &e, 0, &r, &err));
    e.state = (Drover__V1__JobState)42;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_rollup_fold(t, &e, 0, &r, &err));
    CHECK_CONTAINS("state 42", err.detail);
    CHECK_INT(0, dr_rollup_table_count(t));
    e.state = DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS;
    CHECK_INT(DR_OK, dr_rollup_fold(t, &e, 0, &r, &err));
    CHECK_INT(1, summary_of(t, "d").counts[SUCCESS]);
    dr_rollup_table_free(t);
}

/* The fold a restart relies on: reading the same events again changes nothing. */
static void folding_the_stream_again_is_exact(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    event_spec stream[] = {
        {"d", "a", "1", "r", PENDING, 1, 0, 10, NULL, NULL, NULL},
        {"d", "b", "1", "r", PENDING, 1, 0, 10, NULL, NULL, NULL},
        {"d", "c", "2", "r", PENDING, 1, 0, 10, NULL, NULL, NULL},
        {"d", "a", "1", "r", IN_PROGRESS, 1, 20, 20, NULL, NULL, NULL},
        {"d", "a", "1", "r", SUCCESS, 1, 20, 30, NULL, NULL, NULL},
        {"d", "b", "1", "r", IN_PROGRESS, 1, 20, 20, NULL, NULL, NULL},
        {"d", "a", "1", "r", IN_PROGRESS, 1, 40, 40, NULL, NULL, NULL},
        {"d", "b", "1", "r", FAILED, 1, 20, 50, "script-failed", "install.sh exited 3", NULL},
        {"d", "c", "2", "r", IN_PROGRESS, 1, 60, 60, NULL, NULL, NULL},
        {"d", "a", "1", "r", SUCCESS, 1, 40, 70, NULL, NULL, NULL},
    };
    size_t n = sizeof stream / sizeof stream[0];
    for (size_t i = 0; i < n; i++)
        fold_spec(t, stream[i]);
    dr_rollup_summary once = summary_of(t, "d");
    for (size_t i = 0; i < n; i++)
        fold_spec(t, stream[i]);
    dr_rollup_summary twice = summary_of(t, "d");
    CHECK_INT(3, twice.total);
    CHECK_INT(1, twice.counts[SUCCESS]);
    CHECK_INT(1, twice.counts[FAILED]);
    CHECK_INT(1, twice.counts[IN_PROGRESS]);
    CHECK_INT(D_IN_PROGRESS, twice.status);
    CHECK(memcmp(once.counts, twice.counts, sizeof once.counts) == 0);
    CHECK_INT(once.total, twice.total);
    CHECK_INT(once.started_at_ms, twice.started_at_ms);
    CHECK_INT(once.updated_at_ms, twice.updated_at_ms);
    dr_rollup_table_free(t);
}

static int count_state(Drover__V1__StateCount **counts, size_t n, int state)
{
    for (size_t i = 0; i < n; i++)
        if ((int)counts[i]->state == state)
            return (int)counts[i]->count;
    return 0;
}

/* The first N failed jobs are those a full sort puts first, whatever the order they were folded in. */
static void the_first_failed_jobs_are_picked_without_sorting_all(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    for (int i = 0; i < 300; i++) {
        char target[16];
        snprintf(target, sizeof target, "t%03d", (i * 7919) % 300); /* a permutation of 0..299 */
        FOLD(t, "many", target, .state = i % 3 ? FAILED : SUCCESS, .at_ms = 10 + i);
    }
    const dr_rollup_deployment *d = dr_rollup_find(t, "many");
    size_t all_count = 0, some_count = 0, one_count = 0;
    const dr_rollup_job **all = dr_rollup_failed_jobs(d, 0, &all_count);
    const dr_rollup_job **some = dr_rollup_failed_jobs(d, 17, &some_count);
    const dr_rollup_job **more = dr_rollup_failed_jobs(d, 1000, &one_count);
    CHECK_INT(200, all_count);
    CHECK_INT(17, some_count);
    CHECK_INT(200, one_count);
    for (size_t i = 0; all && some && i < some_count && i < all_count; i++)
        CHECK_STR(all[i]->target_id, some[i]->target_id);
    free(all);
    free(some);
    free(more);
    dr_rollup_table_free(t);
}

static void the_rollup_message_carries_everything(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    FOLD(t, "d9", "t0", "111", "eu", PENDING, 1, 0, 100, NULL, NULL, NULL);
    FOLD(t, "d9", "t1", "111", "eu", PENDING, 1, 0, 100, NULL, NULL, NULL);
    FOLD(t, "d9", "t2", "222", "us", PENDING, 1, 0, 100, NULL, NULL, NULL);
    FOLD(t, "d9", "t3", "222", "us", PENDING, 1, 0, 100, NULL, NULL, NULL);
    FOLD(t, "d9", "t0", "111", "eu", SUCCESS, 1, 100, 200, NULL, NULL, NULL);
    /* A long message with a multi-byte character across the cut. */
    char long_message[600];
    memset(long_message, 'x', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    memcpy(long_message + DR_ROLLUP_FAILED_MESSAGE_MAX - 1, "\xc3\xa9", 2);
    FOLD(t, "d9", "t1", "111", "eu", FAILED, 1, 100, 300, "checksum", long_message, NULL);
    FOLD(t, "d9", "t2", "222", "us", FAILED, 1, 100, 310, "script-failed", "install.sh exited 1", NULL);
    FOLD(t, "d9", "t3", "222", "us", REJECTED, 1, 0, 320, "no-platform-match", "no file for plan9", NULL);

    Drover__V1__Rollup *r = dr_rollup_build(dr_rollup_find(t, "d9"), 2);
    CHECK(r != NULL);
    size_t len = 0;
    uint8_t *bytes = r ? dr_message_encode(&r->base, &len) : NULL;
    drover__v1__rollup__free_unpacked(r, NULL);
    Drover__V1__Rollup *back = NULL;
    CHECK_INT(DR_OK, dr_rollup_decode(bytes, len, &back, NULL));
    free(bytes);
    if (back) {
        CHECK_INT(DR_SCHEMA_VERSION, back->schema_version);
        CHECK_STR("d9", back->deployment_id);
        CHECK_STR("acme-agent", back->package);
        CHECK_STR("1.0", back->version);
        CHECK_INT(D_FAILED, back->status);
        CHECK_INT(4, back->total_jobs);
        CHECK_INT(3, back->n_counts); /* only states that occur */
        CHECK_INT(1, count_state(back->counts, back->n_counts, SUCCESS));
        CHECK_INT(2, count_state(back->counts, back->n_counts, FAILED));
        CHECK_INT(1, count_state(back->counts, back->n_counts, REJECTED));
        CHECK_INT(2, back->n_locations);
        if (back->n_locations == 2) {
            CHECK_STR("111", back->locations[0]->account);
            CHECK_STR("eu", back->locations[0]->region);
            CHECK_INT(1, count_state(back->locations[0]->counts, back->locations[0]->n_counts, SUCCESS));
            CHECK_INT(1, count_state(back->locations[0]->counts, back->locations[0]->n_counts, FAILED));
            CHECK_STR("222", back->locations[1]->account);
            CHECK_INT(1, count_state(back->locations[1]->counts, back->locations[1]->n_counts, FAILED));
            CHECK_INT(1, count_state(back->locations[1]->counts, back->locations[1]->n_counts, REJECTED));
        }
        CHECK_INT(2, back->n_failed_targets); /* capped at 2 of 3 */
        if (back->n_failed_targets == 2) {
            CHECK_STR("t1", back->failed_targets[0]->target_id);
            CHECK_INT(FAILED, back->failed_targets[0]->state);
            CHECK_STR("checksum", back->failed_targets[0]->reason);
            /* cut before the two-byte character, not through it */
            CHECK_INT(DR_ROLLUP_FAILED_MESSAGE_MAX - 1, strlen(back->failed_targets[0]->message));
            CHECK_STR("t2", back->failed_targets[1]->target_id);
            CHECK_STR("install.sh exited 1", back->failed_targets[1]->message);
        }
        CHECK_INT(100, back->started_at_ms);
        CHECK_INT(320, back->updated_at_ms);
        CHECK_INT(320, back->finished_at_ms);
        drover__v1__rollup__free_unpacked(back, NULL);
    }
    dr_rollup_table_free(t);
}

static void changes_are_taken_once_and_partitions_dropped(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    CHECK_INT(0, dr_rollup_has_changed(t));
    FOLD(t, "a", "t0", .state = PENDING, .at_ms = 1);
    FOLD(t, "a", "t1", .state = PENDING, .at_ms = 1);
    FOLD(t, "b", "t0", .state = PENDING, .at_ms = 1);
    CHECK_INT(1, dr_rollup_has_changed(t));
    int taken = 0;
    while (dr_rollup_take_changed(t))
        taken++;
    CHECK_INT(2, taken);
    CHECK_INT(0, dr_rollup_has_changed(t));
    FOLD(t, "a", "t0", .state = PENDING, .at_ms = 1); /* PENDING again: applies, marks */
    FOLD(t, "a", "t0", .state = SUCCESS, .at_ms = 2);
    FOLD(t, "a", "t0", .state = IN_PROGRESS, .at_ms = 3); /* ignored */
    const dr_rollup_deployment *d = dr_rollup_take_changed(t);
    CHECK(d == dr_rollup_find(t, "a"));
    CHECK(dr_rollup_take_changed(t) == NULL);

    /* Everything here came from partition 3 (fold_spec's); a changed one is unlinked too. */
    FOLD(t, "b", "t0", .state = SUCCESS, .at_ms = 2);
    CHECK_INT(0, dr_rollup_drop_partition(t, 4));
    CHECK_INT(2, dr_rollup_drop_partition(t, 3));
    CHECK_INT(0, dr_rollup_table_count(t));
    CHECK(dr_rollup_take_changed(t) == NULL);
    dr_rollup_table_free(t);
}

/* Retention: finished, taken deployments past the cutoff leave; their late events are ignored. */
static void finished_deployments_expire(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    FOLD(t, "old", "t0", .state = SUCCESS, .at_ms = 20);
    FOLD(t, "new", "t0", .state = SUCCESS, .at_ms = 1000);
    FOLD(t, "running", "t0", .state = IN_PROGRESS, .at_ms = 10);
    /* Not taken yet (its final rollup unpublished): kept. */
    CHECK_INT(0, (long long)dr_rollup_table_expire(t, 500, 1));
    while (dr_rollup_take_changed(t))
        ;
    CHECK_INT(1, (long long)dr_rollup_table_expire(t, 500, 1));
    CHECK(dr_rollup_find(t, "old") == NULL);
    CHECK(dr_rollup_find(t, "new") != NULL);
    CHECK(dr_rollup_find(t, "running") != NULL);
    CHECK_INT(1, dr_rollup_table_is_expired(t, "old"));
    CHECK_INT(0, dr_rollup_table_is_expired(t, "new"));
    /* A late copy of an event of the expired one changes nothing. */
    dr_rollup_fold_result r = FOLD(t, "old", "t1", .state = FAILED, .at_ms = 30);
    CHECK_INT(0, r.applied);
    CHECK(dr_rollup_find(t, "old") == NULL);
    CHECK_INT(2, (long long)dr_rollup_table_count(t));
    dr_rollup_table_free(t);

    /* A table whose rollups are not published (the control plane's) expires without taking them. */
    t = dr_rollup_table_new();
    FOLD(t, "old", "t0", .state = SUCCESS, .at_ms = 20);
    CHECK_INT(0, (long long)dr_rollup_table_expire(t, 500, 1));
    CHECK_INT(1, (long long)dr_rollup_table_expire(t, 500, 0));
    CHECK(dr_rollup_take_changed(t) == NULL);
    dr_rollup_table_free(t);
}

int main(void)
{
    a_normal_run_counts_every_job_once();
    redeliveries_change_nothing();
    a_higher_attempt_replaces_the_job();
    locations_are_counted_apart();
    the_status_follows_the_counts();
    malformed_events_are_refused();
    folding_the_stream_again_is_exact();
    the_first_failed_jobs_are_picked_without_sorting_all();
    the_rollup_message_carries_everything();
    changes_are_taken_once_and_partitions_dropped();
    finished_deployments_expire();
    return check_done("test_rollup");
}
