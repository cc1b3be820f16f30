/*
 * schedule.h - an association's schedule, as State Manager writes them:
 *   cron(MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK)   five fields, UTC
 *   rate(N minutes|hours|days)                       (also "minute", "hour", "day" for N = 1)
 * Cron fields take "*", a number, a range "A-B", a step "*\/S" or "A-B/S",
 * and comma-separated lists of those; day of week 0-6 (0 is Sunday, 7 too).
 * When both day fields are restricted, a day matches either (as cron does).
 * Pure: the clock is the caller's.
 */
#ifndef DROVER_PRODUCER_SCHEDULE_H
#define DROVER_PRODUCER_SCHEDULE_H

#include <stdint.h>

#include "error.h"

typedef struct dr_schedule {
    int is_rate;
    int64_t rate_ms; /* rate(): the period */
    /* cron(): the allowed values of each field, as bits */
    uint64_t minutes; /* 0-59 */
    uint32_t hours;   /* 0-23 */
    uint32_t days;    /* 1-31 */
    uint16_t months;  /* 1-12 */
    uint8_t weekdays; /* 0-6 */
    int days_restricted, weekdays_restricted;
} dr_schedule;

/* Parse text; DR_ERR_USAGE says what is wrong with it. */
dr_status dr_schedule_parse(const char *text, dr_schedule *out, dr_error *err);

/*
 * The first run time strictly after after_ms (Unix ms, UTC): for rate(),
 * after_ms + the period; for cron(), the next matching minute.  -1 when a
 * cron expression matches nothing within 5 years (e.g. 31 February).
 */
int64_t dr_schedule_next(const dr_schedule *schedule, int64_t after_ms);

#endif
