/*
 * td_log.h — one line per event on stderr, text or JSON.
 *
 * Every line names the service, the level, a stable message id (a short
 * snake_case word a machine can grep for) and the request id of the request
 * being served on this thread, so one X-Request-ID can be followed through
 * every daemon. TD_LOG tests the level before formatting anything.
 *
 * Never log tokens, passwords or diary text.
 */
#ifndef TD_LOG_H
#define TD_LOG_H

enum td_log_level { TD_LOG_ERR = 0, TD_LOG_WARN, TD_LOG_NOTICE, TD_LOG_INFO, TD_LOG_DEBUG };
enum td_log_format { TD_LOG_TEXT = 0, TD_LOG_JSON };

extern enum td_log_level td_log_threshold;

/* Sets the service name (static storage, e.g. "td-auth"), level and format. */
void td_log_init(const char *service, enum td_log_level level, enum td_log_format format);

/* Parses "err|warn|notice|info|debug" and "text|json". Return 0 or TD_EINVAL. */
int td_log_level_parse(const char *s, enum td_log_level *out);
int td_log_format_parse(const char *s, enum td_log_format *out);

/* The request id attached to this thread's log lines; NULL or "" clears it.
 * The string is copied (at most 128 bytes). */
void td_log_set_request_id(const char *rid);
const char *td_log_request_id(void);

void td_log_write(enum td_log_level level, const char *msgid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TD_LOG(level, msgid, ...)                                                              \
    do {                                                                                       \
        if ((level) <= td_log_threshold)                                                       \
            td_log_write((level), (msgid), __VA_ARGS__);                                       \
    } while (0)

#endif
