/*
 * schedule.h - an association's schedule.  Three forms, all UTC:
 *
 *   cron(M H DOM MON DOW YEAR)     State Manager's six fields (also with a
 *   cron(S M H DOM MON DOW YEAR)   leading seconds field, which must be 0)
 *   cron(M H DOM MON DOW)          Drover's five-field Unix form
 *   rate(N minute|minutes|hour|hours|day|days)
 *   at(YYYY-MM-DDThh:mm:ss)        once
 *
 * The six- and seven-field form is AWS's ("Reference: Cron and rate
 * expressions for Systems Manager"): minutes 0-59, hours 0-23, day of month
 * 1-31 with "?", "L" (the last day), "LW" (the last weekday) and "NW" (the
 * weekday nearest the Nth, within its month), month 1-12 or JAN-DEC, day of
 * week 1-7 starting Sunday or SUN-SAT with "?", "L" (Saturday), "NL" (the
 * last such day of the month) and "N#K" (the Kth such day), year 1970-2199.
 * Every field takes "*", values, ranges "A-B", steps "A/S", "*\/S" and
 * "A-B/S", and comma-separated lists of those (L, W and # stand alone).  One
 * of the two day fields must be "?" and the other not.
 *
 * The five-field form is Unix cron's: day of week 0-7 (0 and 7 Sunday), no
 * names, "?", L, W or #; when both day fields are restricted, a day matches
 * either.  It is what Drover accepted first and keeps meaning what it meant.
 *
 * Pure: the clock is the caller's.
 */
#ifndef DROVER_SCHEDULE_H
#define DROVER_SCHEDULE_H

#include <stdint.h>

#include "error.h"

#define DR_SCHEDULE_FIRST_YEAR 1970
#define DR_SCHEDULE_LAST_YEAR 2199

typedef enum dr_schedule_kind {
    DR_SCHEDULE_CRON_UNIX, /* five fields */
    DR_SCHEDULE_CRON_AWS,  /* six or seven fields */
    DR_SCHEDULE_RATE,
    DR_SCHEDULE_AT,
} dr_schedule_kind;

typedef struct dr_schedule {
    dr_schedule_kind kind;
    int64_t rate_ms; /* rate(): the period */
    int64_t at_ms;   /* at(): the moment */
    /* cron(): the allowed values of each field, as bits */
    uint64_t minutes;  /* 0-59 */
    uint32_t hours;    /* 0-23 */
    uint32_t days;     /* 1-31 */
    uint16_t months;   /* 1-12 */
    uint8_t weekdays;  /* 0-6, 0 Sunday */
    uint64_t years[4]; /* bit (year - DR_SCHEDULE_FIRST_YEAR); all set when unrestricted */
    int days_restricted, weekdays_restricted;
    /* AWS form only */
    int days_any, weekdays_any; /* "?" */
    int last_day;               /* L in day of month */
    int last_weekday;           /* LW */
    uint32_t nearest_weekday;   /* NW: bit N */
    uint8_t last_of_weekday;    /* NL in day of week: bit (weekday 0-6) */
    uint8_t nth_weekday[7];     /* N#K: bit K (1-5) of weekday N (0-6) */
} dr_schedule;

/* Parse text; DR_ERR_USAGE names the field that is wrong and why. */
dr_status dr_schedule_parse(const char *text, dr_schedule *out, dr_error *err);

/*
 * The first run time strictly after after_ms (Unix ms, UTC): for rate(),
 * after_ms + the period; for at(), its moment if it is later, else -1;
 * for cron(), the next matching minute, or -1 when none comes within 5
 * years (e.g. 31 February) or after the last year a year field allows.
 * after_ms before 1970 counts from 1970; after DR_SCHEDULE_LAST_YEAR, -1.
 */
int64_t dr_schedule_next(const dr_schedule *schedule, int64_t after_ms);

#endif
