/*
 * td_tz.h — IANA time zones without the process's TZ.
 *
 * glibc converts times for one process-wide zone (TZ + tzset), so switching
 * zones per request is not thread-safe (docs/library-notes.md, "glibc 2.36:
 * time zones"). This module answers every zone question through
 * ICU's C API instead (unicode/ucal.h, ICU 72 on Debian 12): a struct td_tz
 * wraps one UCalendar, opened per call by the code that needs it and never
 * shared between threads. The civil-date arithmetic and the RFC 3339 parser
 * here need no zone at all and are plain functions.
 *
 * Instants are microseconds since the Unix epoch (as td_time.h); ICU works in
 * milliseconds, and every instant this module is asked to convert is
 * truncated towards minus infinity to the millisecond first (sub-millisecond
 * parts never move a local date).
 */
#ifndef TD_TZ_H
#define TD_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_TZ_NAME_MAX 64 /* bytes of a zone name ("America/Argentina/ComodRivadavia" is 32) */

/* A civil (proleptic Gregorian) date. */
struct td_date {
    int year;  /* 1..9999 */
    int month; /* 1..12 */
    int day;   /* 1..31 */
};

/* Local wall-clock parts of an instant in a zone. */
struct td_local {
    struct td_date date;
    int hour, minute, second;
    int microsecond;
    int iso_weekday;   /* 1 = Monday .. 7 = Sunday */
    int offset_s;      /* UTC offset in force, DST included (seconds east of UTC) */
};

struct td_tz;

/* True when `name` (len bytes) is an IANA zone ICU knows by that exact
 * name ("UTC", "Europe/Berlin", links such as "US/Pacific"); custom ids
 * ("GMT+5"), unknown names, non-ASCII and names over TD_TZ_NAME_MAX are
 * false. */
bool td_tz_valid(const char *name, size_t len);

/* Opens zone `name` (len bytes) for one thread's use. Returns 0 and *out
 * (free with td_tz_free), TD_EINVAL for a zone td_tz_valid refuses, or
 * TD_ENOMEM / TD_EINTERNAL when ICU fails. */
int td_tz_open(const char *name, size_t len, struct td_tz **out);

/* Frees and NULLs *tz (no-op on NULL). */
void td_tz_free(struct td_tz **tz);

/* The first instant whose local date in `tz` is `d`: local midnight, or,
 * where the clocks skip midnight (America/Santiago, Asia/Beirut), the first
 * valid time after it. Returns 0 and *us, or TD_EINVAL (date out of range),
 * TD_EINTERNAL. */
int td_tz_day_start(struct td_tz *tz, struct td_date d, int64_t *us);

/* The local parts of instant `us` in `tz`. 0 or TD_EINVAL / TD_EINTERNAL. */
int td_tz_local(struct td_tz *tz, int64_t us, struct td_local *out);

/* ---- zone-free helpers ---------------------------------------------------- */

/* Parses exactly "YYYY-MM-DD" (a real calendar date, year 0001-9999).
 * 0 or TD_EINVAL. */
int td_date_parse(const char *s, size_t len, struct td_date *out);

/* Writes "YYYY-MM-DD" and a NUL into buf (at least 11 bytes). */
void td_date_format(struct td_date d, char *buf);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t td_date_to_days(struct td_date d);
struct td_date td_date_from_days(int64_t days);

/* 1 = Monday .. 7 = Sunday. */
int td_date_iso_weekday(struct td_date d);

/* The date `months` calendar months after the first of d's month (day 1). */
struct td_date td_date_add_months(struct td_date d, int months);

/* Parses an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"
 * ('T'/'t', 'Z'/'z'; 1-9 fraction digits, truncated to microseconds; no leap
 * second). The instant must lie in years 1970-9999 UTC. Returns 0 and *us,
 * or TD_EINVAL. */
int td_rfc3339_parse(const char *s, size_t len, int64_t *us);

#endif
