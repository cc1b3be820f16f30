/*
 * progress.h - a live progress line, as deploy draws it while it follows a
 * deployment:
 *
 *   [########............]  40%  120/300  SUCCESS 118  FAILED 2  IN_PROGRESS 10  elapsed 1m05s  ETA 1m38s
 *
 * The maths (percentage, ETA) and the fitting to the terminal's width are
 * pure, so they are tested alone (tests/unit/test_progress.c); the caller
 * draws the line (redrawn in place on a terminal only).
 */
#ifndef DROVER_PROGRESS_H
#define DROVER_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* What the line shows. */
typedef struct dr_progress {
    uint64_t done, total;
    int64_t elapsed_ms;
    const char *counts; /* "SUCCESS 118  FAILED 2  IN_PROGRESS 10", or NULL */
} dr_progress;

/*
 * The time left at the rate so far: elapsed * (total - done) / done, in ms.
 * 0 once done reaches total; -1 when there is no rate yet (nothing done, no
 * time passed) or nothing to do.
 */
int64_t dr_progress_eta_ms(uint64_t done, uint64_t total, int64_t elapsed_ms);

/* done as a whole percentage of total, rounded down (so 100 only when all is done); 0 when total is 0. */
unsigned dr_progress_percent(uint64_t done, uint64_t total);

/* A duration for people: "0s", "42s", "3m05s", "2h03m", "3d04h"; negative: "-". */
void dr_progress_format_duration(int64_t ms, char *buf, size_t size);

/*
 * The line, at most width columns (width 0: no limit, every part at its
 * fullest).  When the whole line does not fit, it gives up, in order: bar
 * width (from 20 down to 10), the counts, the elapsed time, the bar, the
 * done/total; the percentage and the ETA go last (cut at width).  The ETA
 * shows "ETA -" while there is no rate yet and is left out once all is done.
 */
void dr_progress_line(const dr_progress *p, size_t width, dr_strbuf *out);

/*
 * The columns a line drawn on fd may use: the terminal's width when fd is a
 * terminal (TIOCGWINSZ), else $COLUMNS when it is a number, else 80.
 */
size_t dr_terminal_width(int fd);

#endif
