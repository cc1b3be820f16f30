#include "schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MINUTE_MS 60000LL
#define FIELD_MAX 128

/* ---- fields ---- */

/* What one field of a cron expression allows. */
typedef struct field_spec {
    const char *name; /* as errors name it */
    int low, high;
    const char *const *names; /* names of the values from low on (JAN, SUN, ...); NULL: numbers only */
} field_spec;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

/* A set of values, bit (value - spec low); years need 230. */
typedef struct bitset {
    uint64_t w[4];
} bitset;

static void bit_set(bitset *b, int i)
{
    b->w[i / 64] |= 1ULL << (i % 64);
}

static int bit_get(const bitset *b, int i)
{
    return (int)((b->w[i / 64] >> (i % 64)) & 1);
}

static int bits_empty(const bitset *b)
{
    return !(b->w[0] | b->w[1] | b->w[2] | b->w[3]);
}

/* One value: a number in the field's range, or one of its names (any case).  -1 when neither. */
static int parse_value(const field_spec *f, const char *text, size_t len)
{
    if (len == 0 || len > 9)
        return -1;
    if (isdigit((unsigned char)text[0])) {
        int v = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)text[i]))
                return -1;
            v = v * 10 + (text[i] - '0');
        }
        return v >= f->low && v <= f->high ? v : -1;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (strlen(f->names[i]) == len && strncasecmp(f->names[i], text, len) == 0)
            return f->low + i;
    return -1;
}

/* A comma-separated list of "*", "A", "A-B", "A/S", "*\/S", "A-B/S" into bits. */
static dr_status parse_list(const field_spec *f, const char *text, bitset *bits, dr_error *err)
{
    char copy[FIELD_MAX];
    memset(bits, 0, sizeof *bits);
    if (strlen(text) >= sizeof copy)
        return dr_error_set(err, DR_ERR_USAGE, "schedule: the %s field is too long", f->name);
    strcpy(copy, text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int from = f->low, to = f->high, step = 1;
        char *slash = strchr(item, '/');
        if (slash) {
            *slash = '\0';
            char *end;
            long s = strtol(slash + 1, &end, 10);
            if (!isdigit((unsigned char)slash[1]) || *end || s < 1 || s > f->high - f->low + 1)
                return dr_error_set(err, DR_ERR_USAGE, "schedule: bad step '%s' in the %s field", slash + 1, f->name);
            step = (int)s;
        }
        if (strcmp(item, "*") != 0) {
            char *dash = strchr(item, '-');
            int a = parse_value(f, item, dash ? (size_t)(dash - item) : strlen(item));
            int b = dash ? parse_value(f, dash + 1, strlen(dash + 1)) : slash ? f->high : a;
            if (a < 0 || b < 0 || a > b)
                return dr_error_set(err, DR_ERR_USAGE,
                                    "schedule: '%s' is not a value, range or step of the %s field (%d-%d%s)", item,
                                    f->name, f->low, f->high, f->names ? " or names" : "");
            from = a;
            to = b;
        }
        for (int v = from; v <= to; v += step)
            bit_set(bits, v - f->low);
    }
    if (bits_empty(bits))
        return dr_error_set(err, DR_ERR_USAGE, "schedule: the %s field is empty", f->name);
    return DR_OK;
}

static uint64_t low_word(const bitset *b)
{
    return b->w[0];
}

/* ---- the five-field Unix form ---- */

static const field_spec unix_minute = {"minute", 0, 59, NULL}, unix_hour = {"hour", 0, 23, NULL},
                        unix_day = {"day-of-month", 1, 31, NULL}, unix_month = {"month", 1, 12, NULL},
                        unix_weekday = {"day-of-week", 0, 7, NULL};

static dr_status parse_unix(char fields[][FIELD_MAX], dr_schedule *out, dr_error *err)
{
    bitset b;
    dr_status status;
    out->kind = DR_SCHEDULE_CRON_UNIX;
    if ((status = parse_list(&unix_minute, fields[0], &b, err)) != DR_OK)
        return status;
    out->minutes = low_word(&b);
    if ((status = parse_list(&unix_hour, fields[1], &b, err)) != DR_OK)
        return status;
    out->hours = (uint32_t)low_word(&b);
    if ((status = parse_list(&unix_day, fields[2], &b, err)) != DR_OK)
        return status;
    out->days = (uint32_t)(low_word(&b) << 1);
    out->days_restricted = strcmp(fields[2], "*") != 0;
    if ((status = parse_list(&unix_month, fields[3], &b, err)) != DR_OK)
        return status;
    out->months = (uint16_t)(low_word(&b) << 1);
    if ((status = parse_list(&unix_weekday, fields[4], &b, err)) != DR_OK)
        return status;
    uint64_t days = low_word(&b);
    if (days & (1ULL << 7))
        days |= 1; /* 7 is Sunday too */
    out->weekdays = (uint8_t)(days & 0x7f);
    out->weekdays_restricted = strcmp(fields[4], "*") != 0;
    memset(out->years, 0xff, sizeof out->years);
    return DR_OK;
}

/* ---- the six- and seven-field AWS form ---- */

static const field_spec aws_minute = {"minutes", 0, 59, NULL}, aws_hour = {"hours", 0, 23, NULL},
                        aws_day = {"day-of-month", 1, 31, NULL}, aws_month = {"month", 1, 12, month_names},
                        aws_weekday = {"day-of-week", 1, 7, day_names},
                        aws_year = {"year", DR_SCHEDULE_FIRST_YEAR, DR_SCHEDULE_LAST_YEAR, NULL};

/* Day of month: "?", "L", "LW", "NW", or a list. */
static dr_status parse_aws_day(const char *text, dr_schedule *out, dr_error *err)
{
    size_t len = strlen(text);
    if (strcmp(text, "?") == 0) {
        out->days_any = 1;
        return DR_OK;
    }
    out->days_restricted = 1;
    if (strcasecmp(text, "L") == 0) {
        out->last_day = 1;
        return DR_OK;
    }
    if (strcasecmp(text, "LW") == 0) {
        out->last_weekday = 1;
        return DR_OK;
    }
    if (len >= 2 && toupper((unsigned char)text[len - 1]) == 'W') {
        int n = parse_value(&aws_day, text, len - 1);
        if (n < 0)
            return dr_error_set(err, DR_ERR_USAGE,
                                "schedule: '%s' in the day-of-month field: W follows a single day 1-31 (15W: the "
                                "weekday nearest the 15th)",
                                text);
        out->nearest_weekday = 1u << n;
        return DR_OK;
    }
    if (strpbrk(text, "LlWw#?"))
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: '%s' in the day-of-month field: ?, L, LW and NW stand alone, not in a list",
                            text);
    bitset b;
    dr_status status = parse_list(&aws_day, text, &b, err);
    out->days = (uint32_t)(low_word(&b) << 1);
    return status;
}

/* Day of week: "?", "L", "NL", "N#K", or a list; AWS numbers 1-7 from Sunday, stored 0-6. */
static dr_status parse_aws_weekday(const char *text, dr_schedule *out, dr_error *err)
{
    size_t len = strlen(text);
    const char *hash = strchr(text, '#');
    if (strcmp(text, "?") == 0) {
        out->weekdays_any = 1;
        return DR_OK;
    }
    out->weekdays_restricted = 1;
    if (strcasecmp(text, "L") == 0) {
        out->weekdays = 1u << 6; /* the last day of the week: Saturday */
        return DR_OK;
    }
    if (hash) {
        int day = parse_value(&aws_weekday, text, (size_t)(hash - text));
        if (day < 0 || strlen(hash + 1) != 1 || hash[1] < '1' || hash[1] > '5')
            return dr_error_set(err, DR_ERR_USAGE,
                                "schedule: '%s' in the day-of-week field: N#K takes a day (1-7 or SUN-SAT) and K 1-5 "
                                "(THU#3: the third Thursday)",
                                text);
        out->nth_weekday[day - 1] = (uint8_t)(1u << (hash[1] - '0'));
        return DR_OK;
    }
    if (len >= 2 && toupper((unsigned char)text[len - 1]) == 'L') {
        int day = parse_value(&aws_weekday, text, len - 1);
        if (day < 0)
            return dr_error_set(err, DR_ERR_USAGE,
                                "schedule: '%s' in the day-of-week field: NL takes a day (1-7 or SUN-SAT; 6L: the "
                                "last Friday)",
                                text);
        out->last_of_weekday = (uint8_t)(1u << (day - 1));
        return DR_OK;
    }
    if (strchr(text, '?'))
        return dr_error_set(err, DR_ERR_USAGE, "schedule: '%s' in the day-of-week field: ? stands alone", text);
    bitset b;
    dr_status status = parse_list(&aws_weekday, text, &b, err);
    out->weekdays = (uint8_t)(low_word(&b) & 0x7f);
    return status;
}

static dr_status parse_aws(char fields[][FIELD_MAX], int count, dr_schedule *out, dr_error *err)
{
    bitset b;
    dr_status status;
    out->kind = DR_SCHEDULE_CRON_AWS;
    if (count == 7) {
        if (strcmp(fields[0], "0") != 0)
            return dr_error_set(err, DR_ERR_USAGE,
                                "schedule: the seconds field is '%s'; it may only be 0 (runs are at whole minutes)",
                                fields[0]);
        fields++;
    }
    if ((status = parse_list(&aws_minute, fields[0], &b, err)) != DR_OK)
        return status;
    out->minutes = low_word(&b);
    if ((status = parse_list(&aws_hour, fields[1], &b, err)) != DR_OK)
        return status;
    out->hours = (uint32_t)low_word(&b);
    if ((status = parse_aws_day(fields[2], out, err)) != DR_OK)
        return status;
    if ((status = parse_list(&aws_month, fields[3], &b, err)) != DR_OK)
        return status;
    out->months = (uint16_t)(low_word(&b) << 1);
    if ((status = parse_aws_weekday(fields[4], out, err)) != DR_OK)
        return status;
    if ((status = parse_list(&aws_year, fields[5], &b, err)) != DR_OK)
        return status;
    memcpy(out->years, b.w, sizeof out->years);
    if (out->days_any == out->weekdays_any)
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: the day-of-month and day-of-week fields: exactly one must be '?' (got '%s' and "
                            "'%s')",
                            fields[2], fields[4]);
    return DR_OK;
}

static dr_status parse_cron(const char *body, dr_schedule *out, dr_error *err)
{
    char fields[8][FIELD_MAX];
    int count = 0;
    const char *p = body;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        if (count == 8 || len >= FIELD_MAX)
            return dr_error_set(err, DR_ERR_USAGE, "schedule: cron() has too many or too long fields");
        memcpy(fields[count], p, len);
        fields[count++][len] = '\0';
        p += len;
    }
    if (count == 5)
        return parse_unix(fields, out, err);
    if (count == 6 || count == 7)
        return parse_aws(fields, count, out, err);
    return dr_error_set(err, DR_ERR_USAGE,
                        "schedule: cron() takes six fields (minutes hours day-of-month month day-of-week year, as "
                        "State Manager does; seven with seconds first) or five fields (Unix cron), got %d",
                        count);
}

/* ---- rate() and at() ---- */

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
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: rate() unit '%s' is not minutes, hours or days (minute, hour, day for 1)", unit);
    out->kind = DR_SCHEDULE_RATE;
    out->rate_ms = n * unit_ms;
    return DR_OK;
}

static int days_in_month(int year, int month) /* month 1-12 */
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* Unix ms of a UTC date and time (month 1-12). */
static int64_t utc_ms(int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return (int64_t)timegm(&tm) * 1000;
}

static dr_status parse_at(const char *body, dr_schedule *out, dr_error *err)
{
    int year, month, day, hour, minute, second, used = 0;
    if (strlen(body) != 19 ||
        sscanf(body, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) != 6 ||
        used != 19 || body[4] != '-' || body[7] != '-' || body[10] != 'T' || body[13] != ':' || body[16] != ':')
        return dr_error_set(err, DR_ERR_USAGE, "schedule: at() takes a UTC time yyyy-mm-ddThh:mm:ss, got '%.32s'",
                            body);
    if (year < DR_SCHEDULE_FIRST_YEAR || year > DR_SCHEDULE_LAST_YEAR || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
        return dr_error_set(err, DR_ERR_USAGE, "schedule: at(%s) is not a date and time that exists", body);
    out->kind = DR_SCHEDULE_AT;
    out->at_ms = utc_ms(year, month, day, hour, minute, second);
    return DR_OK;
}

dr_status dr_schedule_parse(const char *text, dr_schedule *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    char body[256];
    const char *open = strchr(text, '(');
    size_t name_len = open ? (size_t)(open - text) : 0;
    int is_cron = name_len == 4 && strncmp(text, "cron", 4) == 0;
    int is_rate = name_len == 4 && strncmp(text, "rate", 4) == 0;
    int is_at = name_len == 2 && strncmp(text, "at", 2) == 0;
    if ((!is_cron && !is_rate && !is_at) || text[len - 1] != ')' || len - name_len - 2 >= sizeof body)
        return dr_error_set(err, DR_ERR_USAGE,
                            "schedule: '%.64s' is not cron(...), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)", text);
    memcpy(body, open + 1, len - name_len - 2);
    body[len - name_len - 2] = '\0';
    if (is_at)
        return parse_at(body, out, err);
    return is_cron ? parse_cron(body, out, err) : parse_rate(body, out, err);
}

/* ---- when it runs ---- */

/* The weekday (0 Sunday) of day d of the month whose day mday is a wday. */
static int weekday_of(int d, int mday, int wday)
{
    return ((wday + d - mday) % 7 + 7) % 7;
}

/* The weekday nearest day n of the month (dim days), within the month (Quartz's "NW"). */
static int nearest_weekday(int n, int dim, int mday, int wday)
{
    int w = weekday_of(n, mday, wday);
    if (w == 6)
        return n > 1 ? n - 1 : n + 2;
    if (w == 0)
        return n < dim ? n + 1 : n - 2;
    return n;
}

static int aws_day_matches(const dr_schedule *s, const struct tm *tm)
{
    int mday = tm->tm_mday, wday = tm->tm_wday;
    int dim = days_in_month(tm->tm_year + 1900, tm->tm_mon + 1);
    if (s->days_any)
        return ((s->weekdays >> wday) & 1) || (((s->last_of_weekday >> wday) & 1) && mday + 7 > dim) ||
               ((s->nth_weekday[wday] >> ((mday - 1) / 7 + 1)) & 1);
    if ((s->days >> mday) & 1)
        return 1;
    if (s->last_day && mday == dim)
        return 1;
    if (s->last_weekday) {
        int last = weekday_of(dim, mday, wday);
        if (mday == (last == 6 ? dim - 1 : last == 0 ? dim - 2 : dim))
            return 1;
    }
    for (int n = 1; s->nearest_weekday && n <= dim; n++)
        if (((s->nearest_weekday >> n) & 1) && nearest_weekday(n, dim, mday, wday) == mday)
            return 1;
    return 0;
}

static int day_matches(const dr_schedule *s, const struct tm *tm)
{
    if (s->kind == DR_SCHEDULE_CRON_AWS)
        return aws_day_matches(s, tm);
    int dom = (s->days >> tm->tm_mday) & 1, dow = (s->weekdays >> tm->tm_wday) & 1;
    if (s->days_restricted && s->weekdays_restricted)
        return dom || dow;
    return dom && dow;
}

static int year_allowed(const dr_schedule *s, int year)
{
    if (year < DR_SCHEDULE_FIRST_YEAR || year > DR_SCHEDULE_LAST_YEAR)
        return 0;
    bitset b;
    memcpy(b.w, s->years, sizeof b.w);
    return bit_get(&b, year - DR_SCHEDULE_FIRST_YEAR);
}

/* Unix ms of 1 January of year, 00:00 UTC. */
static int64_t year_start_ms(int year)
{
    return utc_ms(year, 1, 1, 0, 0, 0);
}

int64_t dr_schedule_next(const dr_schedule *s, int64_t after_ms)
{
    /* after_ms may come off Kafka: outside the years a schedule knows, there is no next run (and no overflow). */
    if (after_ms < 0)
        after_ms = 0;
    if (after_ms >= year_start_ms(DR_SCHEDULE_LAST_YEAR + 1))
        return -1;
    if (s->kind == DR_SCHEDULE_RATE)
        return after_ms + s->rate_ms;
    if (s->kind == DR_SCHEDULE_AT)
        return s->at_ms > after_ms ? s->at_ms : -1;
    /* The next whole minute, then minute by minute, skipping whole years, days and hours that cannot match. */
    int64_t t = (after_ms / MINUTE_MS + 1) * MINUTE_MS;
    int64_t limit = after_ms + 5LL * 366 * 24 * 60 * MINUTE_MS;
    int last_year = DR_SCHEDULE_LAST_YEAR;
    while (last_year >= DR_SCHEDULE_FIRST_YEAR && !year_allowed(s, last_year))
        last_year--;
    if (last_year < DR_SCHEDULE_LAST_YEAR && year_start_ms(last_year + 1) > limit)
        limit = year_start_ms(last_year + 1); /* a year field: as far as the last year it allows */
    while (t <= limit) {
        time_t seconds = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&seconds, &tm);
        if (!year_allowed(s, tm.tm_year + 1900)) {
            if (tm.tm_year + 1900 >= last_year)
                return -1;
            t = year_start_ms(tm.tm_year + 1900 + 1);
            continue;
        }
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
