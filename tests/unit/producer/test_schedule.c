/* Association schedules: cron() and rate() parsing and the next run time. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "schedule.h"

/* Unix ms of a UTC date and time. */
static int64_t at(int year, int month, int day, int hour, int minute)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t next(const char *text, int64_t after)
{
    dr_schedule s;
    dr_error err = {0};
    if (dr_schedule_parse(text, &s, &err) != DR_OK) {
        fprintf(stderr, "%s: %s\n", text, err.detail);
        return -2;
    }
    return dr_schedule_next(&s, after);
}

static void refused(const char *text, const char *says)
{
    dr_schedule s;
    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, dr_schedule_parse(text, &s, &err));
    CHECK(strstr(err.detail, says) != NULL);
    if (!strstr(err.detail, says))
        fprintf(stderr, "  '%s' said: %s\n", text, err.detail);
}

int main(void)
{
    int64_t mon = at(2026, 11, 23, 10, 17); /* a Monday */
    CHECK_INT(at(2026, 11, 23, 10, 18), next("cron(* * * * *)", mon));
    CHECK_INT(at(2026, 11, 23, 10, 18), next("cron(* * * * *)", mon + 30000)); /* strictly after, whole minutes */
    CHECK_INT(at(2026, 11, 23, 10, 30), next("cron(*/15 * * * *)", mon));
    CHECK_INT(at(2026, 11, 24, 2, 0), next("cron(0 2 * * *)", mon));
    CHECK_INT(at(2026, 11, 23, 13, 5), next("cron(5 9-17/4,22 * * *)", mon)); /* 9, 13, 17, 22 */
    CHECK_INT(at(2026, 11, 23, 22, 5), next("cron(5 9-17/4,22 * * *)", at(2026, 11, 23, 17, 5)));
    CHECK_INT(at(2026, 11, 29, 3, 0), next("cron(0 3 * * 0)", mon)); /* Sunday */
    CHECK_INT(at(2026, 11, 29, 3, 0), next("cron(0 3 * * 7)", mon)); /* 7 is Sunday too */
    CHECK_INT(at(2026, 12, 1, 0, 0), next("cron(0 0 1 * *)", mon));
    CHECK_INT(at(2027, 2, 1, 0, 0), next("cron(0 0 1 2 *)", mon));
    /* Both day fields restricted: either matches (the 1st, or a Friday). */
    CHECK_INT(at(2026, 11, 27, 0, 0), next("cron(0 0 1 * 5)", mon));
    CHECK_INT(-1, next("cron(0 0 31 2 *)", mon)); /* 31 February never comes */
    CHECK_INT(mon + 30 * 60000LL, next("rate(30 minutes)", mon));
    CHECK_INT(mon + 3600000LL, next("rate(1 hour)", mon));
    CHECK_INT(mon + 2 * 86400000LL, next("rate(2 days)", mon));

    refused("cron(* * * *)", "five fields");
    refused("cron(60 * * * *)", "minute field");
    refused("cron(* 24 * * *)", "hour field");
    refused("cron(* * 0 * *)", "day-of-month field");
    refused("cron(* * * 13 *)", "month field");
    refused("cron(*/0 * * * *)", "bad step");
    refused("cron(5-1 * * * *)", "minute field");
    refused("rate(0 minutes)", "positive count");
    refused("rate(2 minute)", "unit 'minute'");
    refused("rate(5 seconds)", "unit 'seconds'");
    refused("every 5 minutes", "is not cron");
    return check_done("test_schedule");
}
