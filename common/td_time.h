/*
 * td_time.h — wall-clock and monotonic time, and the API's timestamp format.
 *
 * The HTTP contract (gateway/docs/openapi.json) fixes timestamps as
 * RFC 3339 UTC with microseconds and a Z
 * ("2026-01-14T12:00:00.123456Z"): fixed width, so string order is time
 * order. Storage keeps microseconds since the epoch as integers and only the
 * edges format them.
 */
#ifndef TD_TIME_H
#define TD_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TD_TIMESTAMP_LEN 27 /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" without NUL */

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t td_now_us(void);

/* Milliseconds from an arbitrary fixed point (CLOCK_MONOTONIC), for timeouts. */
int64_t td_mono_ms(void);

/* The CLOCK_REALTIME moment `ms` milliseconds from now (now when `ms` <= 0):
 * the absolute deadline pthread_cond_timedwait takes. */
struct timespec td_realtime_in(int64_t ms);

/* Formats `us` into buf (at least TD_TIMESTAMP_LEN + 1 bytes). Returns 0, or
 * TD_EINVAL when the time cannot be represented. */
int td_format_timestamp(int64_t us, char *buf, size_t size);

#endif
