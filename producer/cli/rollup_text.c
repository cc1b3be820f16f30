/*
 * rollup_text.c - rollups rendered for people.
 */
#include "rollup_text.h"

#include "commands.h"
#include "messages.h"
#include "progress.h"
#include "rollup.h"

/* The order states are listed in: outcomes first, then what is still moving. */
static const Drover__V1__JobState listed_states[] = {
    DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS,     DROVER__V1__JOB_STATE__JOB_STATE_FAILED,
    DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT,   DROVER__V1__JOB_STATE__JOB_STATE_REJECTED,
    DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED,   DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED,
    DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, DROVER__V1__JOB_STATE__JOB_STATE_PENDING,
};
#define LISTED_STATE_COUNT (sizeof listed_states / sizeof listed_states[0])

int dr_rollup_is_finished(const Drover__V1__Rollup *rollup)
{
    return dr_rollup_status_is_terminal(rollup->status);
}

static uint64_t count_in(Drover__V1__StateCount *const *counts, size_t n, Drover__V1__JobState state)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (counts[i]->state == state)
            total += counts[i]->count;
    return total;
}

uint64_t dr_rollup_count(const Drover__V1__Rollup *rollup, Drover__V1__JobState state)
{
    return count_in(rollup->counts, rollup->n_counts, state);
}

uint64_t dr_rollup_done(const Drover__V1__Rollup *rollup)
{
    uint64_t done = 0;
    for (size_t i = 0; i < rollup->n_counts; i++)
        if (dr_job_state_is_terminal(rollup->counts[i]->state))
            done += rollup->counts[i]->count;
    return done;
}

static void format_counts(Drover__V1__StateCount *const *counts, size_t n, dr_strbuf *out)
{
    for (size_t i = 0; i < LISTED_STATE_COUNT; i++) {
        uint64_t count = count_in(counts, n, listed_states[i]);
        if (count || i == 0)
            dr_strbuf_printf(out, "%s%s %llu", i ? "  " : "", dr_job_state_name(listed_states[i]),
                             (unsigned long long)count);
    }
}

void dr_rollup_format_counts(const Drover__V1__Rollup *rollup, dr_strbuf *out)
{
    format_counts(rollup->counts, rollup->n_counts, out);
}

void dr_rollup_format_progress(const Drover__V1__Rollup *rollup, uint64_t expected_total, int64_t elapsed_ms,
                               size_t width, dr_strbuf *out)
{
    dr_strbuf counts = DR_STRBUF_INIT;
    dr_rollup_format_counts(rollup, &counts);
    dr_progress p = {
        .done = dr_rollup_done(rollup),
        .total = rollup->total_jobs > expected_total ? rollup->total_jobs : expected_total,
        .elapsed_ms = elapsed_ms,
        .counts = dr_strbuf_str(&counts),
    };
    dr_progress_line(&p, width, out);
    dr_strbuf_free(&counts);
}

/* Jobs that did not succeed and are over (what "failed targets" may list). */
static uint64_t unsuccessful(const Drover__V1__Rollup *rollup)
{
    return dr_rollup_done(rollup) - dr_rollup_count(rollup, DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS) -
           dr_rollup_count(rollup, DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED);
}

void dr_rollup_print_report(const Drover__V1__Rollup *rollup, int with_locations, FILE *out)
{
    dr_strbuf line = DR_STRBUF_INIT;
    dr_rollup_format_counts(rollup, &line);
    fprintf(out, "deployment %s: %s  (%s %s)\n", rollup->deployment_id, dr_deployment_status_name(rollup->status),
            rollup->package, rollup->version);
    fprintf(out, "jobs: %llu  %s\n", (unsigned long long)rollup->total_jobs, dr_strbuf_str(&line));
    if (rollup->expected_jobs > rollup->total_jobs)
        fprintf(out,
                "incomplete: the deployment has %llu jobs; the events of %llu of them are no longer in Kafka, "
                "so these counts are short\n",
                (unsigned long long)rollup->expected_jobs,
                (unsigned long long)(rollup->expected_jobs - rollup->total_jobs));
    if (with_locations) {
        char started[32], updated[32], finished[32];
        dr_format_utc_ms(rollup->started_at_ms, started, sizeof started);
        dr_format_utc_ms(rollup->updated_at_ms, updated, sizeof updated);
        dr_format_utc_ms(rollup->finished_at_ms, finished, sizeof finished);
        fprintf(out, "started: %s  updated: %s  finished: %s\n", started, updated, finished);
        for (size_t i = 0; i < rollup->n_locations; i++) {
            const Drover__V1__LocationRollup *loc = rollup->locations[i];
            dr_strbuf_reset(&line);
            format_counts(loc->counts, loc->n_counts, &line);
            fprintf(out, "  %s/%s  %s\n", loc->account, loc->region, dr_strbuf_str(&line));
        }
    }
    if (rollup->status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED && rollup->n_failed_targets > 0) {
        /* One refusal of the whole request: said once, not once per target. */
        const Drover__V1__FailedTarget *f = rollup->failed_targets[0];
        fprintf(out, "refused (%s): %s\n", f->reason, f->message ? f->message : "");
        dr_strbuf_free(&line);
        return;
    }
    size_t listed =
        rollup->n_failed_targets < DR_ROLLUP_FAILED_LISTED ? rollup->n_failed_targets : DR_ROLLUP_FAILED_LISTED;
    if (listed)
        fprintf(out, "failed targets:\n");
    for (size_t i = 0; i < listed; i++) {
        const Drover__V1__FailedTarget *f = rollup->failed_targets[i];
        fprintf(out, "  %s  %s  %s%s%s\n", f->target_id, dr_job_state_name(f->state), f->reason,
                f->message && f->message[0] ? ": " : "", f->message ? f->message : "");
    }
    /* The aggregator may cap its list; the counts say how many there really are. */
    uint64_t failed = unsuccessful(rollup);
    if (failed < rollup->n_failed_targets)
        failed = rollup->n_failed_targets;
    if (failed > listed && listed == 0)
        fprintf(out, "failed targets: %llu (the rollup names none)\n", (unsigned long long)failed);
    else if (failed > listed)
        fprintf(out, "  ... and %llu more\n", (unsigned long long)(failed - listed));
    dr_strbuf_free(&line);
}
