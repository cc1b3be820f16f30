#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dr_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t dr_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void dr_format_utc_ms(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        snprintf(buf, size, "-");
        return;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
