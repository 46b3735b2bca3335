/*
 * td_time.c — clocks and the RFC 3339 formatter of td_time.h.
 */
#include "td_time.h"
#include "td_error.h"

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

struct timespec td_realtime_in(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (ms <= 0)
        return t;
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Writes `v` as exactly `width` decimal digits. */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Every listed entry formats two timestamps; gmtime_r takes glibc's tz lock
 * and snprintf parses its format each time, which together were ~7% of
 * td-diary's CPU on GET /diaries. The civil date comes from the day count
 * by Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, as
 * gmtime_r), checked against gmtime_r in test_time.c. */
int td_format_timestamp(int64_t us, char *buf, size_t size)
{
    /* 253402300800 s is 10000-01-01: four-digit years only */
    if (size < TD_TIMESTAMP_LEN + 1 || us < 0 || us / 1000000 >= 253402300800LL)
        return TD_EINVAL;
    int64_t secs = us / 1000000, days = secs / 86400, rem = secs % 86400;
    int64_t z = days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;                                    /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                  /* [0, 11] from March */
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    char *p = buf;
    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem % 60, 2);
    *p++ = '.';
    p = put_digits(p, us % 1000000, 6);
    *p++ = 'Z';
    *p = '\0';
    return 0;
}
