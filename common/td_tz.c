/*
 * td_tz.c — time zones through ICU's UCalendar (td_tz.h), and the zone-free
 * date helpers.
 *
 * A UCalendar is not thread-safe; struct td_tz owns one and is used by one
 * thread for one call (td-diary opens one per request that reads dates).
 * Opening one costs tens of microseconds, so callers convert many instants
 * through the same handle rather than reopening per entry.
 */
#include "td_tz.h"
#include "td_error.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

struct td_tz {
    UCalendar *cal;
};

/* ICU's earliest date (ucal.h, setGregorianChange): passing it makes the
 * calendar proleptic Gregorian, like td_time.c's formatter, so dates before
 * 1582 do not switch to the Julian calendar. */
#define ICU_MIN_MILLIS (-184303902528000000.0)

/* Widens an ASCII name to UTF-16; false when it is not a plausible zone
 * name (ICU's ids are ASCII letters, digits and "/_+-"). */
static bool to_uchars(const char *name, size_t len, UChar *out)
{
    if (len == 0 || len > TD_TZ_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '+' || c == '-';
        if (!ok)
            return false;
        out[i] = (UChar)c;
    }
    return true;
}

bool td_tz_valid(const char *name, size_t len)
{
    UChar id[TD_TZ_NAME_MAX], canon[128];
    if (!to_uchars(name, len, id))
        return false;
    UErrorCode st = U_ZERO_ERROR;
    UBool system = 0;
    int32_t n = ucal_getCanonicalTimeZoneID(id, (int32_t)len, canon, 128, &system, &st);
    if (U_FAILURE(st) || !system || n <= 0)
        return false;
    /* ICU's stand-in for "no idea" is a system id too. */
    static const char unknown[] = "Etc/Unknown";
    if (len == sizeof unknown - 1 && memcmp(name, unknown, len) == 0)
        return false;
    return true;
}

int td_tz_open(const char *name, size_t len, struct td_tz **out)
{
    if (!td_tz_valid(name, len))
        return TD_EINVAL;
    UChar id[TD_TZ_NAME_MAX];
    to_uchars(name, len, id);
    struct td_tz *tz = calloc(1, sizeof *tz);
    if (tz == NULL)
        return TD_ENOMEM;
    UErrorCode st = U_ZERO_ERROR;
    tz->cal = ucal_open(id, (int32_t)len, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_SUCCESS(st))
        ucal_setGregorianChange(tz->cal, ICU_MIN_MILLIS, &st);
    if (U_FAILURE(st)) {
        td_tz_free(&tz);
        return TD_EINTERNAL;
    }
    /* Where the clocks skip a local time (a DST gap), take the first valid
     * time after it: a day whose midnight does not exist starts at 01:00.
     * A repeated time is read with the offset after the change (ICU's
     * default). Both options need a lenient calendar, ICU's default: a strict
     * one fails on a skipped time instead. */
    ucal_setAttribute(tz->cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    ucal_setAttribute(tz->cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_LAST);
    *out = tz;
    return 0;
}

void td_tz_free(struct td_tz **tz)
{
    if (*tz == NULL)
        return;
    if ((*tz)->cal != NULL)
        ucal_close((*tz)->cal);
    free(*tz);
    *tz = NULL;
}

static bool date_ok(struct td_date d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1)
        return false;
    bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
    int max = mdays[d.month - 1] + (d.month == 2 && leap);
    return d.day <= max;
}

int td_tz_day_start(struct td_tz *tz, struct td_date d, int64_t *us)
{
    if (!date_ok(d))
        return TD_EINVAL;
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(tz->cal);
    ucal_setDateTime(tz->cal, d.year, d.month - 1, d.day, 0, 0, 0, &st);
    UDate ms = U_SUCCESS(st) ? ucal_getMillis(tz->cal, &st) : 0;
    if (U_FAILURE(st))
        return TD_EINTERNAL;
    *us = (int64_t)ms * 1000;
    return 0;
}

int td_tz_local(struct td_tz *tz, int64_t us, struct td_local *out)
{
    int64_t ms = us / 1000 - (us % 1000 < 0); /* floor */
    int64_t sub_us = us - ms * 1000;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(tz->cal, (UDate)ms, &st);
    struct td_local l = {0};
    l.date.year = ucal_get(tz->cal, UCAL_EXTENDED_YEAR, &st);
    l.date.month = ucal_get(tz->cal, UCAL_MONTH, &st) + 1;
    l.date.day = ucal_get(tz->cal, UCAL_DATE, &st);
    l.hour = ucal_get(tz->cal, UCAL_HOUR_OF_DAY, &st);
    l.minute = ucal_get(tz->cal, UCAL_MINUTE, &st);
    l.second = ucal_get(tz->cal, UCAL_SECOND, &st);
    l.microsecond = ucal_get(tz->cal, UCAL_MILLISECOND, &st) * 1000 + (int)sub_us;
    int dow = ucal_get(tz->cal, UCAL_DAY_OF_WEEK, &st); /* 1 = Sunday */
    l.offset_s = (ucal_get(tz->cal, UCAL_ZONE_OFFSET, &st) +
                  ucal_get(tz->cal, UCAL_DST_OFFSET, &st)) / 1000;
    if (U_FAILURE(st))
        return TD_EINTERNAL;
    l.iso_weekday = (dow + 5) % 7 + 1;
    if (!date_ok(l.date))
        return TD_EINVAL;
    *out = l;
    return 0;
}

/* ---- zone-free helpers ---------------------------------------------------- */

/* Reads exactly n digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int td_date_parse(const char *s, size_t len, struct td_date *out)
{
    struct td_date d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &d.year) ||
        !digits(s + 5, 2, &d.month) || !digits(s + 8, 2, &d.day) || !date_ok(d))
        return TD_EINVAL;
    *out = d;
    return 0;
}

void td_date_format(struct td_date d, char *buf)
{
    int v[3] = {d.year, d.month, d.day}, w[3] = {4, 2, 2};
    char *p = buf;
    for (int k = 0; k < 3; k++) {
        for (int i = w[k] - 1; i >= 0; i--) {
            p[i] = (char)('0' + v[k] % 10);
            v[k] /= 10;
        }
        p += w[k];
        if (k < 2)
            *p++ = '-';
    }
    *p = '\0';
}

/* Howard Hinnant's days-from-civil and civil-from-days, as td_time.c. */
int64_t td_date_to_days(struct td_date d)
{
    int64_t y = d.year - (d.month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = d.month > 2 ? d.month - 3 : d.month + 9;
    int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct td_date td_date_from_days(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    struct td_date d;
    d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    d.year = (int)(yoe + era * 400 + (d.month <= 2));
    return d;
}

int td_date_iso_weekday(struct td_date d)
{
    /* 1970-01-01 was a Thursday (4). */
    int64_t days = td_date_to_days(d);
    int64_t r = ((days % 7) + 7 + 3) % 7; /* 0 = Monday */
    return (int)r + 1;
}

struct td_date td_date_add_months(struct td_date d, int months)
{
    int64_t m = (int64_t)d.year * 12 + (d.month - 1) + months;
    struct td_date out = {(int)(m / 12), (int)(m % 12) + 1, 1};
    return out;
}

int td_rfc3339_parse(const char *s, size_t len, int64_t *us)
{
    struct td_date d;
    int hh, mm, ss;
    if (len < 20 || td_date_parse(s, 10, &d) != 0 || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &hh) || s[13] != ':' || !digits(s + 14, 2, &mm) || s[16] != ':' ||
        !digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
        return TD_EINVAL;
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 6)
                frac = frac * 10 + (s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0 || n > 9)
            return TD_EINVAL;
        for (size_t k = n; k < 6; k++)
            frac *= 10;
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (len - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return TD_EINVAL;
        offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return TD_EINVAL;
    }
    if (i != len)
        return TD_EINVAL;
    int64_t secs = td_date_to_days(d) * 86400 + hh * 3600 + mm * 60 + ss - offset_s;
    if (secs < 0 || secs >= 253402300800LL) /* 1970-01-01 .. 9999-12-31 UTC */
        return TD_EINVAL;
    *us = secs * 1000000 + frac;
    return 0;
}
