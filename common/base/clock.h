/*
 * clock.h - the two clocks Drover reads: wall time for what is recorded
 * (the *_ms fields of messages and records), and a clock that never jumps
 * for timeouts and intervals.  One place, so no module keeps its own.
 */
#ifndef DROVER_CLOCK_H
#define DROVER_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch, for the *_ms fields. */
int64_t dr_now_ms(void);
/* Milliseconds on a clock that never jumps, for intervals and deadlines. */
int64_t dr_monotonic_ms(void);
/* "2026-11-23T07:30:00Z" for a Unix time in milliseconds (UTC); "-" for 0 or less. */
void dr_format_utc_ms(int64_t ms, char *buf, size_t size);

#endif
