/* Association schedules: cron() (State Manager's and Unix), rate() and at(), and the next run time. */
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
    /* A time off Kafka past the last year a schedule knows: no next run, and no overflow. */
    CHECK_INT(-1, next("rate(1 day)", INT64_MAX - 1000));
    CHECK_INT(-1, next("cron(* * * * *)", INT64_MAX - 1000));
    CHECK_INT(60000, next("cron(* * * * *)", INT64_MIN)); /* before 1970: from 1970 */

    /*
     * State Manager's form: the examples of AWS's "Reference: Cron and rate
     * expressions for Systems Manager", and when they fire after Monday
     * 23 November 2026, 10:17 UTC.
     */
    CHECK_INT(at(2026, 11, 24, 10, 0), next("cron(0 10 * * ? *)", mon));       /* 10:00 every day */
    CHECK_INT(at(2026, 11, 23, 12, 15), next("cron(15 12 * * ? *)", mon));     /* 12:15 every day */
    CHECK_INT(at(2026, 11, 23, 18, 0), next("cron(0 18 ? * MON-FRI *)", mon)); /* 18:00 Monday to Friday */
    CHECK_INT(at(2026, 11, 30, 18, 0), next("cron(0 18 ? * MON-FRI *)", at(2026, 11, 27, 18, 30)));
    CHECK_INT(at(2026, 12, 1, 8, 0), next("cron(0 8 1 * ? *)", mon));             /* 8:00 on the 1st */
    CHECK_INT(at(2026, 11, 23, 10, 30), next("cron(0/15 * * * ? *)", mon));       /* every 15 minutes */
    CHECK_INT(at(2026, 11, 23, 10, 20), next("cron(0/10 * ? * MON-FRI *)", mon)); /* every 10 minutes, weekdays */
    CHECK_INT(at(2026, 11, 30, 0, 0), next("cron(0/10 * ? * MON-FRI *)", at(2026, 11, 28, 10, 0)));
    /* Every 5 minutes on weekdays from 8:00 to 17:55. */
    CHECK_INT(at(2026, 11, 23, 10, 20), next("cron(0/5 8-17 ? * MON-FRI *)", mon));
    CHECK_INT(at(2026, 11, 24, 8, 0), next("cron(0/5 8-17 ? * MON-FRI *)", at(2026, 11, 23, 17, 55)));
    /* The third Tuesday at 23:30 (17 November has passed: 15 December), the second Thursday at midnight. */
    CHECK_INT(at(2026, 12, 15, 23, 30), next("cron(30 23 ? * TUE#3 *)", mon));
    CHECK_INT(at(2026, 11, 17, 23, 30), next("cron(30 23 ? * TUE#3 *)", at(2026, 11, 1, 0, 0)));
    CHECK_INT(at(2026, 12, 10, 0, 0), next("cron(0 0 ? * THU#2 *)", mon));
    CHECK_INT(at(2026, 11, 24, 16, 0), next("cron(0 16 ? * TUE *)", mon)); /* 16:00 every Tuesday */
    /* With the seconds field first: 2:00 the third Thursday of every month; midnight on the 21st. */
    CHECK_INT(at(2026, 12, 17, 2, 0), next("cron(0 0 2 ? 1/1 THU#3 *)", mon));
    CHECK_INT(at(2026, 12, 21, 0, 0), next("cron(0 0 0 21 1/1 ? *)", mon));
    /* L: the last day of the month; 6L: its last Friday; LW: its last weekday; 15W: the weekday nearest the 15th. */
    CHECK_INT(at(2026, 11, 30, 2, 0), next("cron(0 2 L * ? *)", mon));
    CHECK_INT(at(2027, 2, 28, 2, 0), next("cron(0 2 L * ? *)", at(2027, 1, 31, 3, 0)));
    CHECK_INT(at(2026, 11, 27, 10, 15), next("cron(15 10 ? * 6L *)", mon));
    CHECK_INT(at(2026, 11, 27, 10, 15), next("cron(15 10 ? * FRIL *)", mon));
    CHECK_INT(at(2026, 11, 30, 9, 0), next("cron(0 9 LW * ? *)", mon));
    CHECK_INT(at(2027, 1, 29, 9, 0), next("cron(0 9 LW * ? *)", at(2026, 12, 31, 10, 0))); /* 31 Jan is a Sunday */
    CHECK_INT(at(2026, 11, 16, 9, 0), next("cron(0 9 15W * ? *)", at(2026, 11, 1, 0, 0))); /* the 15th: Sunday */
    CHECK_INT(at(2026, 12, 15, 9, 0), next("cron(0 9 15W * ? *)", mon));
    CHECK_INT(at(2026, 8, 3, 9, 0), next("cron(0 9 1W * ? *)", at(2026, 7, 15, 0, 0))); /* 1 August: Saturday */
    /* Names, day-of-week numbers from Sunday, L alone (Saturday), years. */
    CHECK_INT(at(2027, 1, 1, 0, 0), next("cron(0 0 1 JAN ? *)", mon));
    CHECK_INT(at(2026, 11, 29, 12, 0), next("cron(0 12 ? * 1 *)", mon));
    CHECK_INT(at(2026, 11, 28, 12, 0), next("cron(0 12 ? * L *)", mon));
    CHECK_INT(at(2026, 11, 25, 12, 0), next("cron(0 12 ? * wed *)", mon));
    CHECK_INT(at(2030, 1, 1, 0, 0), next("cron(0 0 1 1 ? 2030)", mon));
    CHECK_INT(at(2040, 6, 1, 0, 0), next("cron(0 0 1 6 ? 2040-2045)", mon));
    CHECK_INT(-1, next("cron(0 0 1 1 ? 2020)", mon));
    CHECK_INT(-1, next("cron(0 0 30 2 ? *)", mon)); /* 30 February never comes */
    /* at(): once. */
    CHECK_INT(at(2026, 12, 24, 18, 30), next("at(2026-12-24T18:30:00)", mon));
    CHECK_INT(-1, next("at(2026-12-24T18:30:00)", at(2026, 12, 24, 18, 30)));
    CHECK_INT(mon + 60000LL, next("rate(1 minute)", mon));

    refused("cron(* * * *)", "five fields");
    refused("cron(0 10 * * * *)", "exactly one must be '?'");
    refused("cron(0 10 ? * ? *)", "exactly one must be '?'");
    refused("cron(61 10 * * ? *)", "minutes field");
    refused("cron(0 24 * * ? *)", "hours field");
    refused("cron(0 10 * 13 ? *)", "month field");
    refused("cron(0 10 * FOO ? *)", "month field");
    refused("cron(0 10 ? * 8 *)", "day-of-week field");
    refused("cron(0 10 ? * THU#6 *)", "day-of-week field");
    refused("cron(0 10 ? * 1,? *)", "day-of-week field");
    refused("cron(0 10 32W * ? *)", "day-of-month field");
    refused("cron(0 10 L,5 * ? *)", "day-of-month field");
    refused("cron(0 10 * * ? 1969)", "year field");
    refused("cron(5 0 10 * * ? *)", "seconds field");
    refused("cron(0 0 10 * * ? * *)", "got 8");
    refused("cron(0 10 * * ?)", "day-of-week field"); /* five fields: Unix cron, which has no '?' */
    refused("at(2026-02-30T00:00:00)", "exists");
    refused("at(2026-12-24 18:30:00)", "yyyy-mm-ddThh:mm:ss");
    refused("at(tomorrow)", "yyyy-mm-ddThh:mm:ss");
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
