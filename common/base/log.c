#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A copy: callers may name the program from a buffer of their own. */
static char log_program[64] = "drover";
static dr_log_level log_min_level = DR_LOG_INFO;
/* Worker threads log concurrently; one lock keeps each line whole. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void dr_log_init(const char *program, dr_log_level min_level)
{
    snprintf(log_program, sizeof log_program, "%s", program);
    log_min_level = min_level;
}

int dr_log_level_parse(const char *text)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(text, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void dr_log(dr_log_level level, const char *event, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    char rest[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "ts=%s.%03ldZ level=%s prog=%s event=%s%s%s\n", stamp, now.tv_nsec / 1000000, level_names[level],
            log_program, event, rest[0] ? " " : "", rest);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

char *dr_quote(char *buf, size_t size, const char *value)
{
    if (size == 0)
        return buf;
    size_t out = 0;
    buf[out++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p && out + 6 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[out++] = '\\';
            buf[out++] = (char)*p;
        } else if (*p == '\n') {
            buf[out++] = '\\';
            buf[out++] = 'n';
        } else if (*p == '\t') {
            buf[out++] = '\\';
            buf[out++] = 't';
        } else if (*p < ' ' || *p == 0x7f) {
            out += (size_t)snprintf(buf + out, size - out, "\\x%02x", *p);
        } else {
            buf[out++] = (char)*p;
        }
    }
    if (out < size)
        buf[out++] = '"';
    buf[out < size ? out : size - 1] = '\0';
    return buf;
}

char *dr_log_quote(char *buf, size_t size, const char *value)
{
    if (size == 0)
        return buf;
    int bare = value[0] != '\0';
    for (const unsigned char *p = (const unsigned char *)value; *p && bare; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            bare = 0;
    if (bare) {
        snprintf(buf, size, "%s", value);
        return buf;
    }
    return dr_quote(buf, size, value);
}
