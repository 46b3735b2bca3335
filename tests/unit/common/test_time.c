/*
 * test_time.c — td_format_timestamp against gmtime_r + strftime-style
 * formatting, over the whole four-digit-year range.
 */
#include "td_error.h"
#include "td_time.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>

static void expect_like_gmtime(int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    cr_assert_not_null(gmtime_r(&secs, &tm));
    char want[64], got[TD_TIMESTAMP_LEN + 1];
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    TD_ASSERT_OK(td_format_timestamp(us, got, sizeof got), "%lld", (long long)us);
    cr_assert_str_eq(got, want, "%lld", (long long)us);
}

Test(time, edges_of_days_months_years_and_leap_rules)
{
    static const int64_t secs[] = {
        0, 59, 86399, 86400,           /* the epoch's first day */
        951782399, 951782400,           /* 2000-02-28/29 (a leap century) */
        951868800,                      /* 2000-03-01 */
        4107542399, 4107542400,         /* 2100-02-28 -> 03-01 (no Feb 29) */
        1709164800,                     /* 2024-02-29 */
        1767225599, 1767225600,         /* 2025-12-31 -> 2026-01-01 */
        253402300799,                   /* 9999-12-31T23:59:59 */
    };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        expect_like_gmtime(secs[i] * 1000000);
        expect_like_gmtime(secs[i] * 1000000 + 999999);
    }
}

Test(time, agrees_with_gmtime_across_the_range)
{
    /* a fixed pseudo-random walk over 0 .. 9999-12-31, every day of 2024 too */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        expect_like_gmtime((int64_t)(x % 253402300800000000ULL));
    }
    for (int64_t d = 19723; d < 19723 + 366; d++)
        expect_like_gmtime(d * 86400 * 1000000 + 43200123456);
}

Test(time, refuses_what_it_cannot_write)
{
    char buf[TD_TIMESTAMP_LEN + 1];
    cr_assert_eq(td_format_timestamp(-1, buf, sizeof buf), TD_EINVAL);
    cr_assert_eq(td_format_timestamp(253402300800LL * 1000000, buf, sizeof buf), TD_EINVAL);
    cr_assert_eq(td_format_timestamp(0, buf, TD_TIMESTAMP_LEN), TD_EINVAL);
}

static int64_t realtime_ms(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

Test(time, a_deadline_in_ms_is_that_far_ahead_and_normalised)
{
    const int64_t waits[] = {1, 999, 1000, 1500, 2000, 61001};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        struct timespec t = td_realtime_in(waits[i]);
        int64_t ahead = realtime_ms(t) - realtime_ms(now);
        cr_assert(ahead >= waits[i] && ahead <= waits[i] + 50, "%lld ms ahead for %lld",
                  (long long)ahead, (long long)waits[i]);
        cr_assert(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
    }
    /* none left: now */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t late = realtime_ms(td_realtime_in(-5)) - realtime_ms(now);
    cr_assert(late >= 0 && late <= 50, "%lld", (long long)late);
}
