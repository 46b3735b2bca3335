/*
 * test_tz.c — td_tz.h: zone names, day starts and local parts across DST
 * changes (Europe/Berlin's 23- and 25-hour days of 2026, America/Santiago's
 * skipped midnight), ISO weeks spanning a change, and the RFC 3339 parser.
 */
#include "td_error.h"
#include "td_tz.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <string.h>

#define H (3600LL * 1000000)

static struct td_tz *open_tz(const char *name)
{
    struct td_tz *tz = NULL;
    int rc = td_tz_open(name, strlen(name), &tz);
    cr_assert_eq(rc, 0, "%s: %s", name, td_error_symbol(rc));
    return tz;
}

static int64_t day_start(struct td_tz *tz, int y, int m, int d)
{
    int64_t us = 0;
    struct td_date date = {y, m, d};
    TD_ASSERT_OK(td_tz_day_start(tz, date, &us));
    return us;
}

static int64_t utc(const char *ts)
{
    int64_t us = 0;
    TD_ASSERT_OK(td_rfc3339_parse(ts, strlen(ts), &us), "%s", ts);
    return us;
}

Test(tz, known_zones_and_links_are_valid_others_not)
{
    static const char *const good[] = {"UTC", "Europe/Berlin", "America/Santiago",
                                       "Asia/Beirut", "US/Pacific", "Etc/GMT+5"};
    static const char *const bad[] = {"", "Mars/Olympus", "Europe/Berlin ", "GMT+5", "utc/",
                                      "Europe/../Berlin", "Etc/Unknown", "Europe/Berlín",
                                      "Europe/Berlin\n"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(td_tz_valid(good[i], strlen(good[i])), "%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!td_tz_valid(bad[i], strlen(bad[i])), "%s accepted", bad[i]);
    char longname[100];
    memset(longname, 'A', sizeof longname);
    cr_expect(!td_tz_valid(longname, sizeof longname));
    struct td_tz *tz = NULL;
    cr_expect_eq(td_tz_open("Nowhere/Land", 12, &tz), TD_EINVAL);
    cr_expect_null(tz);
}

Test(tz, berlin_spring_day_has_23_hours_and_autumn_day_25)
{
    struct td_tz *tz = open_tz("Europe/Berlin");
    int64_t mar29 = day_start(tz, 2026, 3, 29), mar30 = day_start(tz, 2026, 3, 30);
    cr_expect_eq(mar29, utc("2026-03-28T23:00:00Z")); /* CET, +01:00 */
    cr_expect_eq(mar30, utc("2026-03-29T22:00:00Z")); /* CEST, +02:00 */
    cr_expect_eq(mar30 - mar29, 23 * H);
    int64_t oct25 = day_start(tz, 2026, 10, 25), oct26 = day_start(tz, 2026, 10, 26);
    cr_expect_eq(oct25, utc("2026-10-24T22:00:00Z"));
    cr_expect_eq(oct26, utc("2026-10-25T23:00:00Z"));
    cr_expect_eq(oct26 - oct25, 25 * H);

    struct td_local l;
    TD_ASSERT_OK(td_tz_local(tz, utc("2026-03-29T22:30:00Z"), &l));
    cr_expect(l.date.year == 2026 && l.date.month == 3 && l.date.day == 30 && l.hour == 0 &&
              l.minute == 30 && l.offset_s == 7200 && l.iso_weekday == 1);
    /* the repeated hour of the autumn change: both instants are 02:30 local */
    TD_ASSERT_OK(td_tz_local(tz, utc("2026-10-25T00:30:00Z"), &l));
    cr_expect(l.hour == 2 && l.minute == 30 && l.offset_s == 7200);
    TD_ASSERT_OK(td_tz_local(tz, utc("2026-10-25T01:30:00Z"), &l));
    cr_expect(l.hour == 2 && l.minute == 30 && l.offset_s == 3600 && l.iso_weekday == 7);
    td_tz_free(&tz);
    cr_expect_null(tz);
}

Test(tz, iso_weeks_across_the_changes_are_167_and_169_hours)
{
    struct td_tz *tz = open_tz("Europe/Berlin");
    /* Monday 2026-03-23 .. Monday 2026-03-30 holds the spring change. */
    struct td_date mon = {2026, 3, 23};
    cr_expect_eq(td_date_iso_weekday(mon), 1);
    struct td_date next = td_date_from_days(td_date_to_days(mon) + 7);
    cr_expect(next.month == 3 && next.day == 30);
    cr_expect_eq(day_start(tz, 2026, 3, 30) - day_start(tz, 2026, 3, 23), 167 * H);
    cr_expect_eq(day_start(tz, 2026, 10, 26) - day_start(tz, 2026, 10, 19), 169 * H);
    td_tz_free(&tz);
}

Test(tz, a_skipped_midnight_starts_the_day_at_one)
{
    /* Chile moves its clocks from 00:00 to 01:00 on 2026-09-06 (-04 -> -03). */
    struct td_tz *tz = open_tz("America/Santiago");
    int64_t start = day_start(tz, 2026, 9, 6);
    cr_expect_eq(start, utc("2026-09-06T04:00:00Z"));
    struct td_local l;
    TD_ASSERT_OK(td_tz_local(tz, start, &l));
    cr_expect(l.date.day == 6 && l.hour == 1 && l.minute == 0 && l.offset_s == -3 * 3600);
    TD_ASSERT_OK(td_tz_local(tz, start - 1, &l));
    cr_expect(l.date.day == 5 && l.hour == 23 && l.minute == 59);
    cr_expect_eq(day_start(tz, 2026, 9, 7) - start, 23 * H); /* a 23-hour day */
    cr_expect_eq(start - day_start(tz, 2026, 9, 5), 24 * H); /* 00:00 -04 .. 01:00 -03 */
    td_tz_free(&tz);
}

Test(tz, utc_day_start_and_negative_microseconds)
{
    struct td_tz *tz = open_tz("UTC");
    cr_expect_eq(day_start(tz, 1970, 1, 1), 0);
    cr_expect_eq(day_start(tz, 2026, 1, 14), utc("2026-01-14T00:00:00Z"));
    struct td_local l;
    TD_ASSERT_OK(td_tz_local(tz, utc("2026-01-14T12:34:56.789123Z"), &l));
    cr_expect(l.hour == 12 && l.minute == 34 && l.second == 56 && l.microsecond == 789123);
    struct td_date bad = {2026, 2, 29};
    int64_t us;
    cr_expect_eq(td_tz_day_start(tz, bad, &us), TD_EINVAL);
    td_tz_free(&tz);
}

Test(tz, dates_parse_strictly)
{
    struct td_date d;
    cr_expect_eq(td_date_parse("2026-03-29", 10, &d), 0);
    cr_expect(d.year == 2026 && d.month == 3 && d.day == 29);
    cr_expect_eq(td_date_parse("2024-02-29", 10, &d), 0);
    static const char *const bad[] = {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01",
                                      "26-01-01", "2026/01/01", "2026-01-32", "0000-01-01",
                                      "2026-01-01x", "+026-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(td_date_parse(bad[i], strlen(bad[i]), &d), TD_EINVAL, "%s", bad[i]);
    char buf[11];
    struct td_date x = {987, 1, 2};
    td_date_format(x, buf);
    cr_expect_str_eq(buf, "0987-01-02");
    struct td_date m = td_date_add_months((struct td_date){2026, 11, 15}, 3);
    cr_expect(m.year == 2027 && m.month == 2 && m.day == 1);
    m = td_date_add_months((struct td_date){2026, 1, 1}, -13);
    cr_expect(m.year == 2024 && m.month == 12);
}

Test(tz, rfc3339_offsets_fractions_and_refusals)
{
    cr_expect_eq(utc("1970-01-01T00:00:00Z"), 0);
    cr_expect_eq(utc("2026-01-14T13:00:00+01:00"), utc("2026-01-14T12:00:00Z"));
    cr_expect_eq(utc("2026-01-14T12:00:00.5Z") - utc("2026-01-14T12:00:00Z"), 500000);
    cr_expect_eq(utc("2026-01-14t12:00:00.123456789z") - utc("2026-01-14T12:00:00Z"), 123456);
    cr_expect_eq(utc("2026-01-14T00:30:00-05:30"), utc("2026-01-14T06:00:00Z"));
    static const char *const bad[] = {"2026-01-14", "2026-01-14T12:00:00", "2026-01-14 12:00:00Z",
                                      "2026-01-14T24:00:00Z", "2026-01-14T12:00:60Z",
                                      "2026-01-14T12:00:00.Z", "2026-01-14T12:00:00+0100",
                                      "2026-01-14T12:00:00.1234567890Z", "1969-12-31T23:59:59Z",
                                      "2026-01-14T12:00:00Zjunk", "2026-02-30T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us;
        cr_expect_eq(td_rfc3339_parse(bad[i], strlen(bad[i]), &us), TD_EINVAL, "%s", bad[i]);
    }
}
