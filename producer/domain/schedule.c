#include "schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MINUTE_MS 60000LL

/* One cron field ("*", "5", "1-5", "*\/15", "1-30/5", lists) into bits [low, high]. */
static dr_status parse_field(const char *name, const char *text, int low, int high, uint64_t *bits, int *restricted,
                             dr_error *err)
{
    char copy[128];
    *bits = 0;
    *restricted = strcmp(text, "*") != 0;
    if (strlen(text) >= sizeof copy)
        return dr_error_set(err, DR_ERR_USAGE, "schedule: the %s field is too long", name);
    strcpy(copy, text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int from = low, to = high, step = 1;
        char *slash = strchr(item, '/');
        if (slash) {
            *slash = '\0';
            char *end;
            long s = strtol(slash + 1, &end, 10);
            if (!isdigit((unsigned char)slash[1]) || *end || s < 1 || s > high)
                return dr_error_set(err, DR_ERR_USAGE, "schedule: bad step '%s' in the %s field", slash + 1, name);
            step = (int)s;
        }
        if (strcmp(item, "*") != 0) {
            char *end;
            long a = strtol(item, &end, 10), b = a;
            if (!isdigit((unsigned char)item[0]))
                goto bad;
            if (*end == '-') {
                char *end2;
                if (!isdigit((unsigned char)end[1]))
                    goto bad;
                b = strtol(end + 1, &end2, 10);
                end = end2;
            } else if (slash) {
                b = high; /* "5/15": from 5 on */
            }
            if (*end || a < low || b > high || a > b)
                goto bad;
            from = (int)a;
            to = (int)b;
        }
        for (int v = from; v <= to; v += step)
            *bits |= 1ULL << v;
        continue;
    bad:
        return dr_error_set(err, DR_ERR_USAGE, "schedule: '%s' is not a value, range or step of the %s field (%d-%d)",
                            item, name, low, high);
    }
    if (!*bits)
        return dr_error_set(err, DR_ERR_USAGE, "schedule: the %s field is empty", name);
    return DR_OK;
}

static dr_status parse_cron(const char *body, dr_schedule *out, dr_error *err)
{
    char fields[5][128];
    char extra[2];
    int n =
        sscanf(body, "%127s %127s %127s %127s %127s %1s", fields[0], fields[1], fields[2], fields[3], fields[4], extra);
    if (n != 5)
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: cron() takes five fields (minute hour day-of-month month day-of-week), got %d",
                            n < 0 ? 0 : n);
    uint64_t bits;
    int restricted;
    dr_status status;
    if ((status = parse_field("minute", fields[0], 0, 59, &out->minutes, &restricted, err)) != DR_OK)
        return status;
    if ((status = parse_field("hour", fields[1], 0, 23, &bits, &restricted, err)) != DR_OK)
        return status;
    out->hours = (uint32_t)bits;
    if ((status = parse_field("day-of-month", fields[2], 1, 31, &bits, &out->days_restricted, err)) != DR_OK)
        return status;
    out->days = (uint32_t)bits;
    if ((status = parse_field("month", fields[3], 1, 12, &bits, &restricted, err)) != DR_OK)
        return status;
    out->months = (uint16_t)bits;
    if ((status = parse_field("day-of-week", fields[4], 0, 7, &bits, &out->weekdays_restricted, err)) != DR_OK)
        return status;
    if (bits & (1ULL << 7))
        bits |= 1; /* 7 is Sunday too */
    out->weekdays = (uint8_t)(bits & 0x7f);
    return DR_OK;
}

static dr_status parse_rate(const char *body, dr_schedule *out, dr_error *err)
{
    long long n = 0;
    char unit[16] = "", extra[2];
    if (sscanf(body, "%lld %15s %1s", &n, unit, extra) != 2 || n < 1 || n > 100000)
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: rate() takes a positive count and a unit, e.g. rate(30 minutes)");
    long long unit_ms = 0;
    if (strcmp(unit, "minutes") == 0 || (n == 1 && strcmp(unit, "minute") == 0))
        unit_ms = MINUTE_MS;
    else if (strcmp(unit, "hours") == 0 || (n == 1 && strcmp(unit, "hour") == 0))
        unit_ms = 60 * MINUTE_MS;
    else if (strcmp(unit, "days") == 0 || (n == 1 && strcmp(unit, "day") == 0))
        unit_ms = 24 * 60 * MINUTE_MS;
    else
        return dr_error_set(err, DR_ERR_USAGE, "schedule: rate() unit '%s' is not minutes, hours or days", unit);
    out->is_rate = 1;
    out->rate_ms = n * unit_ms;
    return DR_OK;
}

dr_status dr_schedule_parse(const char *text, dr_schedule *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    char body[256];
    int is_cron = strncmp(text, "cron(", 5) == 0, is_rate = strncmp(text, "rate(", 5) == 0;
    if ((!is_cron && !is_rate) || len < 7 || text[len - 1] != ')' || len - 6 >= sizeof body)
        return dr_error_set(err, DR_ERR_USAGE, "schedule: '%.64s' is not cron(M H DOM MON DOW) or rate(N unit)", text);
    memcpy(body, text + 5, len - 6);
    body[len - 6] = '\0';
    return is_cron ? parse_cron(body, out, err) : parse_rate(body, out, err);
}

static int day_matches(const dr_schedule *s, const struct tm *tm)
{
    int dom = (s->days >> tm->tm_mday) & 1, dow = (s->weekdays >> tm->tm_wday) & 1;
    if (s->days_restricted && s->weekdays_restricted)
        return dom || dow;
    return dom && dow;
}

int64_t dr_schedule_next(const dr_schedule *s, int64_t after_ms)
{
    if (s->is_rate)
        return after_ms + s->rate_ms;
    /* The next whole minute, then minute by minute, skipping whole hours and days that cannot match. */
    int64_t t = (after_ms / MINUTE_MS + 1) * MINUTE_MS;
    int64_t limit = after_ms + 5LL * 366 * 24 * 60 * MINUTE_MS;
    while (t <= limit) {
        time_t seconds = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&seconds, &tm);
        if (!((s->months >> (tm.tm_mon + 1)) & 1) || !day_matches(s, &tm)) {
            t += (int64_t)(24 * 60 - tm.tm_hour * 60 - tm.tm_min) * MINUTE_MS; /* the next midnight */
            continue;
        }
        if (!((s->hours >> tm.tm_hour) & 1)) {
            t += (int64_t)(60 - tm.tm_min) * MINUTE_MS; /* the next hour */
            continue;
        }
        if ((s->minutes >> tm.tm_min) & 1)
            return t;
        t += MINUTE_MS;
    }
    return -1;
}
