/*
 * rollup_text.h - a deployment's rollup as people read it: the counts line,
 * the progress line deploy redraws, and the report deploy ends with and
 * deployment show prints.
 */
#ifndef DROVER_PRODUCER_ROLLUP_TEXT_H
#define DROVER_PRODUCER_ROLLUP_TEXT_H

#include <stdint.h>
#include <stdio.h>

#include "drover.pb-c.h"
#include "strbuf.h"

/* At most this many failed targets are listed, then "... and N more". */
#define DR_ROLLUP_FAILED_LISTED 20

/* Whether the deployment is over: SUCCESS, FAILED, INCOMPLETE or CANCELLED. */
int dr_rollup_is_finished(const Drover__V1__Rollup *rollup);

/* The count of jobs in state (0 when the rollup has none). */
uint64_t dr_rollup_count(const Drover__V1__Rollup *rollup, Drover__V1__JobState state);

/* Jobs in a terminal state. */
uint64_t dr_rollup_done(const Drover__V1__Rollup *rollup);

/* "SUCCESS 118  FAILED 2  IN_PROGRESS 10": SUCCESS always, the other states when not 0. */
void dr_rollup_format_counts(const Drover__V1__Rollup *rollup, dr_strbuf *out);

/*
 * The live line (progress.h) of a rollup, at most width columns (0: no
 * limit): "[########............]  40%  120/300  SUCCESS 118  FAILED 2
 * IN_PROGRESS 10  elapsed 1m05s  ETA 1m38s".  The total is the rollup's, or
 * expected_total while the aggregator has not counted every job yet.
 */
void dr_rollup_format_progress(const Drover__V1__Rollup *rollup, uint64_t expected_total, int64_t elapsed_ms,
                               size_t width, dr_strbuf *out);

/*
 * The report: status and package, the counts, with_locations the counts per
 * account/region and the timings, then the failed targets with their
 * reasons (DR_ROLLUP_FAILED_LISTED of them, then how many more).
 */
void dr_rollup_print_report(const Drover__V1__Rollup *rollup, int with_locations, FILE *out);

#endif
