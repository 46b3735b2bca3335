/*
 * td_time.c — clocks and the RFC 3339 formatter of td_time.h.
 */
#include "td_time.h"
#include "td_error.h"

#include <stdio.h>
#include <time.h>

int64_t td_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t td_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int td_format_timestamp(int64_t us, char *buf, size_t size)
{
    if (size < TD_TIMESTAMP_LEN + 1 || us < 0)
        return TD_EINVAL;
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999)
        return TD_EINVAL;
    int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(us % 1000000));
    return n == TD_TIMESTAMP_LEN ? 0 : TD_EINVAL;
}
