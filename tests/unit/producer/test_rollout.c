/* The rollout rules (rollout.h) and the rate-limit arithmetic they rest on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "messages.h"
#include "rollout.h"
#include "rollup.h"

enum {
    PENDING = DROVER__V1__JOB_STATE__JOB_STATE_PENDING,
    IN_PROGRESS = DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS,
    SUCCESS = DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS,
    FAILED = DROVER__V1__JOB_STATE__JOB_STATE_FAILED,
    REJECTED = DROVER__V1__JOB_STATE__JOB_STATE_REJECTED,
};

static void fold(dr_rollup_table *t, const char *target, int state, const char *reason)
{
    char job_id[64];
    snprintf(job_id, sizeof job_id, "d/%s", target);
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    e.schema_version = 1;
    e.deployment_id = "d";
    e.job_id = job_id;
    e.target_id = (char *)target;
    e.account = "111";
    e.region = "eu";
    e.state = (Drover__V1__JobState)state;
    e.reason = (char *)(reason ? reason : "");
    e.attempt = 1;
    e.at_ms = 1;
    dr_rollup_fold_result r;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollup_fold(t, &e, 0, &r, &err));
}

/* A rollout of n targets t00..t(n-1), all PENDING, with the given rate controls. */
static dr_rollout *new_rollout(dr_rollup_table *t, int n, const char *max_concurrency, const char *max_errors)
{
    char target[16];
    for (int i = 0; i < n; i++) {
        snprintf(target, sizeof target, "t%02d", i);
        fold(t, target, PENDING, NULL);
    }
    Drover__V1__Deployment *d = malloc(sizeof *d);
    Drover__V1__RateControls *rc = malloc(sizeof *rc);
    drover__v1__deployment__init(d);
    drover__v1__rate_controls__init(rc);
    rc->max_concurrency = strdup(max_concurrency);
    rc->max_errors = strdup(max_errors);
    d->deployment_id = strdup("d");
    d->rate_controls = rc;
    d->job_count = (uint32_t)n;
    dr_rollout *r = dr_rollout_new("d");
    dr_rollout_set_deployment(r, d);
    return r;
}

/* Release what the plan says, as serve does; returns how many. */
static size_t release(dr_rollout *r, const dr_rollup_deployment *fold_d, size_t count, const char **first)
{
    const dr_rollup_job *jobs[64];
    char *ids[64];
    size_t n = dr_rollout_next_targets(r, fold_d, jobs, count < 64 ? count : 64);
    for (size_t i = 0; i < n; i++)
        ids[i] = jobs[i]->target_id;
    Drover__V1__Release rel = DROVER__V1__RELEASE__INIT;
    rel.deployment_id = "d";
    rel.target_ids = ids;
    rel.n_target_ids = n;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollout_record_release(r, &rel, &err));
    if (first && n)
        *first = jobs[0]->target_id;
    return n;
}

static void rate_limits_round_up(void)
{
    CHECK_INT(3, dr_rate_limit("10%", 24, 1, 50));
    CHECK_INT(1, dr_rate_limit("1%", 5, 1, 50)); /* 0.05 rounds up to 1 */
    CHECK_INT(0, dr_rate_limit("0%", 100, 0, 0));
    CHECK_INT(2, dr_rate_limit("10%", 20, 0, 0));
    CHECK_INT(7, dr_rate_limit("7", 3, 1, 50)); /* a count is a count */
    CHECK_INT(50, dr_rate_limit("", 1000, 1, 50));
    CHECK_INT(1, dr_rate_limit("0", 10, 1, 50)); /* at least 1 */
    CHECK_INT(-1, dr_rate_limit("101%", 10, 0, 0));
    CHECK_INT(-1, dr_rate_limit("ten", 10, 0, 0));
    CHECK_INT(-1, dr_rate_limit("5%%", 10, 0, 0));
}

/* The producer's check and the control plane's reading are one grammar: what one refuses, the other does. */
static void rate_controls_have_one_grammar(void)
{
    static const char *const refused[] = {"05", "007%", "0100%", "1000000000", "-1", "1.5", " 5", "5 ", "%", ""};
    static const char *const accepted[] = {"0", "0%", "1", "9%", "10%", "99%", "100%", "999999999"};
    dr_error err = {0};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK_INT(DR_ERR_USAGE, dr_rate_control_check("--max-errors", refused[i], 1, &err));
        if (refused[i][0])
            CHECK_INT(-1, dr_rate_limit(refused[i], 10, 0, 0));
    }
    CHECK_STR("--max-errors: '05' is not a count (0, 1, 2, ...) or a percentage (0%-100%)",
              (dr_rate_control_check("--max-errors", "05", 1, &err), err.detail));
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        CHECK_INT(DR_OK, dr_rate_control_check("--max-errors", accepted[i], 1, &err));
        CHECK(dr_rate_limit(accepted[i], 10, 0, 0) >= 0);
    }
    /* Zero is a count the grammar has; max concurrency refuses it. */
    CHECK_INT(DR_ERR_USAGE, dr_rate_control_check("--max-concurrency", "0", 0, &err));
    CHECK_STR("--max-concurrency: '0' is not a count (1, 2, ...) or a percentage (1%-100%)", err.detail);
    CHECK_INT(DR_ERR_USAGE, dr_rate_control_check("--max-concurrency", "0%", 0, &err));
}

static void concurrency_is_capped(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    dr_rollout *r = new_rollout(t, 10, "3", "0");
    const dr_rollup_deployment *d = dr_rollup_find(t, "d");
    dr_rollout_plan plan = dr_rollout_decide(r, d, 0);
    CHECK_INT(DR_ROLLOUT_RELEASE, plan.action);
    CHECK_INT(3, plan.count);
    const char *first = NULL;
    CHECK_INT(3, release(r, d, plan.count, &first));
    CHECK_STR("t00", first);
    /* Released and queued or running: no room. */
    fold(t, "t00", IN_PROGRESS, NULL);
    CHECK_INT(DR_ROLLOUT_IDLE, dr_rollout_decide(r, d, 0).action);
    CHECK_INT(3, dr_rollout_decide(r, d, 0).in_flight);
    /* One finishes: one more, the next in order. */
    fold(t, "t00", SUCCESS, NULL);
    plan = dr_rollout_decide(r, d, 0);
    CHECK_INT(DR_ROLLOUT_RELEASE, plan.action);
    CHECK_INT(1, plan.count);
    release(r, d, plan.count, &first);
    CHECK_STR("t03", first);
    /* Never the same job twice, and everything ends DONE. */
    for (int i = 1; i < 10; i++) {
        char target[16];
        snprintf(target, sizeof target, "t%02d", i);
        fold(t, target, SUCCESS, NULL);
        plan = dr_rollout_decide(r, d, 0);
        if (plan.action == DR_ROLLOUT_RELEASE)
            release(r, d, plan.count, NULL);
    }
    CHECK_INT(10, dr_rollout_released_count(r));
    CHECK_INT(DR_ROLLOUT_DONE, dr_rollout_decide(r, d, 0).action);
    dr_rollout_free(r);
    dr_rollup_table_free(t);
}

static void waits_for_every_pending_event(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    dr_rollout *r = new_rollout(t, 4, "50", "0");
    Drover__V1__Deployment *d = malloc(sizeof *d);
    drover__v1__deployment__init(d);
    d->deployment_id = strdup("d");
    d->job_count = 5; /* one PENDING event still on its way */
    dr_rollout_set_deployment(r, d);
    CHECK_INT(DR_ROLLOUT_WAIT, dr_rollout_decide(r, dr_rollup_find(t, "d"), 0).action);
    CHECK_INT(DR_ROLLOUT_WAIT, dr_rollout_decide(r, NULL, 0).action);
    fold(t, "t04", PENDING, NULL);
    dr_rollout_plan plan = dr_rollout_decide(r, dr_rollup_find(t, "d"), 0);
    CHECK_INT(DR_ROLLOUT_RELEASE, plan.action);
    CHECK_INT(5, plan.count); /* no rate controls: the default 50 */
    dr_rollout_free(r);
    dr_rollup_table_free(t);
}

static void errors_stop_the_rollout(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    dr_rollout *r = new_rollout(t, 6, "2", "1");
    const dr_rollup_deployment *d = dr_rollup_find(t, "d");
    release(r, d, dr_rollout_decide(r, d, 0).count, NULL); /* t00, t01 */
    fold(t, "t00", FAILED, "script-failed");
    dr_rollout_plan plan = dr_rollout_decide(r, d, 0);
    CHECK_INT(DR_ROLLOUT_RELEASE, plan.action); /* one error is within a limit of 1 */
    release(r, d, plan.count, NULL);            /* t02 */
    /* "No file for this platform" is not an error. */
    fold(t, "t01", REJECTED, "no-platform-match");
    CHECK_INT(DR_ROLLOUT_RELEASE, dr_rollout_decide(r, d, 0).action);
    fold(t, "t02", REJECTED, "signature");
    plan = dr_rollout_decide(r, d, 0);
    CHECK_INT(DR_ROLLOUT_STOP, plan.action);
    CHECK_INT(DR_ERR_ERROR_LIMIT, plan.reason);
    CHECK_INT(3, plan.count); /* t03..t05 were never released */
    dr_rollout_mark_stopped(r);
    CHECK_INT(DR_ROLLOUT_IDLE, dr_rollout_decide(r, d, 0).action);
    for (int i = 3; i < 6; i++) {
        char target[16];
        snprintf(target, sizeof target, "t%02d", i);
        fold(t, target, DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED, "max-errors");
    }
    CHECK_INT(DR_ROLLOUT_DONE, dr_rollout_decide(r, d, 0).action);
    dr_rollout_free(r);
    dr_rollup_table_free(t);
}

static void cancel_stops_and_releases_survive_a_takeover(void)
{
    dr_rollup_table *t = dr_rollup_table_new();
    dr_rollout *r = new_rollout(t, 5, "2", "0");
    const dr_rollup_deployment *d = dr_rollup_find(t, "d");
    release(r, d, 2, NULL);
    /* A new owner learns the same releases from the log: nothing released twice. */
    dr_rollout *again = dr_rollout_new("d");
    Drover__V1__Deployment *copy = malloc(sizeof *copy);
    drover__v1__deployment__init(copy);
    copy->deployment_id = strdup("d");
    copy->job_count = 5;
    dr_rollout_set_deployment(again, copy);
    char *ids[] = {"t00", "t01"};
    int64_t floors[] = {7, 9};
    Drover__V1__Release rel = DROVER__V1__RELEASE__INIT;
    rel.deployment_id = "d";
    rel.target_ids = ids;
    rel.n_target_ids = 2;
    rel.jobs_floor = floors;
    rel.n_jobs_floor = 2;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_rollout_record_release(again, &rel, &err));
    dr_rollout_plan taken = dr_rollout_decide(again, d, 0);
    CHECK_INT(DR_ROLLOUT_RELEASE, taken.action);
    CHECK_INT(3, taken.count); /* the default cap of 50, less nothing: 3 are left */
    CHECK_INT(2, taken.in_flight);
    const dr_rollup_job *next[4];
    CHECK_INT(3, dr_rollout_next_targets(again, d, next, 4));
    CHECK_STR("t02", next[0]->target_id);
    char *const *last;
    const int64_t *last_floors;
    size_t last_count, floor_count;
    dr_rollout_last_release(again, &last, &last_count, &last_floors, &floor_count);
    CHECK_INT(2, last_count);
    CHECK_INT(9, floor_count == 2 ? last_floors[1] : -1);
    dr_rollout_plan plan = dr_rollout_decide(r, d, 1);
    CHECK_INT(DR_ROLLOUT_STOP, plan.action);
    CHECK_INT(DR_ERR_CANCELLED, plan.reason);
    CHECK_INT(3, plan.count);
    dr_rollout_free(again);
    dr_rollout_free(r);
    dr_rollup_table_free(t);
}

int main(void)
{
    rate_limits_round_up();
    rate_controls_have_one_grammar();
    concurrency_is_capped();
    waits_for_every_pending_event();
    errors_stop_the_rollout();
    cancel_stops_and_releases_survive_a_takeover();
    return check_done("test_rollout");
}
