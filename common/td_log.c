/*
 * td_log.c — the line writer behind TD_LOG.
 *
 * A line is formatted whole into a stack buffer and written with one
 * write(2), so lines from concurrent threads never interleave.
 */
#include "td_log.h"
#include "td_error.h"
#include "td_time.h"
#include "td_utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum td_log_level td_log_threshold = TD_LOG_INFO;
static const char *log_service = "td";
static enum td_log_format log_format = TD_LOG_TEXT;
static _Thread_local char thread_rid[129];

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void td_log_init(const char *service, enum td_log_level level, enum td_log_format format)
{
    log_service = service;
    td_log_threshold = level;
    log_format = format;
}

int td_log_level_parse(const char *s, enum td_log_level *out)
{
    for (int i = 0; i <= TD_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum td_log_level)i;
            return 0;
        }
    }
    return TD_EINVAL;
}

int td_log_format_parse(const char *s, enum td_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = TD_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = TD_LOG_JSON;
    else
        return TD_EINVAL;
    return 0;
}

void td_log_set_request_id(const char *rid)
{
    if (rid == NULL)
        rid = "";
    snprintf(thread_rid, sizeof thread_rid, "%s", rid);
}

const char *td_log_request_id(void)
{
    return thread_rid;
}

/* JSON needs valid UTF-8, and a message may hold anything (a civetweb
 * warning quoting raw request bytes, or a character cut by the buffer's end):
 * invalid bytes become '?' so the line is never lost. In place. */
static void make_utf8(char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = td_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}

void td_log_write(enum td_log_level level, const char *msgid, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(td_now_us(), ts, sizeof ts) != 0)
        strcpy(ts, "-");

    char line[1400];
    int n;
    if (log_format == TD_LOG_JSON) {
        make_utf8(msg);
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ts", ts, "level",
                                level_names[level], "service", log_service, "request_id",
                                thread_rid, "msgid", msgid, "msg", msg);
        char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        n = snprintf(line, sizeof line, "%s\n", text ? text : "{\"msg\":\"log encode failed\"}");
        free(text);
        json_decref(obj);
    } else {
        n = snprintf(line, sizeof line, "%s %s %s [%s] %s: %s\n", ts, level_names[level],
                     log_service, thread_rid[0] ? thread_rid : "-", msgid, msg);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nothing sensible to do when stderr is gone */
}
