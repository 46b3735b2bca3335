/*
 * harness.h — the integration-test harness: starts the real daemons as child
 * processes on loopback (HTTP on a free port, RPC on ipc:// sockets in a fresh
 * temporary directory, one DATA_DIR per daemon), waits until the gateway's
 * /ready says 200, speaks HTTP to it with libcurl, and tears everything down
 * with SIGTERM then SIGKILL. Each daemon's output goes to <dir>/<name>.log;
 * the logs are printed when a daemon did not exit cleanly (sanitizer
 * reports included) or when TD_TEST_VERBOSE is set, and copied under
 * TD_TEST_LOG_DIR when that is set (ops/ci-soak.sh).
 */
#ifndef TD_HARNESS_H
#define TD_HARNESS_H

#include "pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum th_daemon { TH_AUTH = 0, TH_DIARY, TH_SENTIMENT, TH_GATEWAY, TH_NDAEMONS };

/* The JWT secret every test stack runs with, so tests can sign tokens. */
#define TH_JWT_SECRET "integration-test-secret-0123456789abcdefXYZ"

#define TH_MAX_ENV 32

/* Environment strings may contain "{dir}", replaced by the stack's
 * temporary directory (for ipc:// URLs and data directories). */
struct th_options {
    const char *env[TH_MAX_ENV]; /* extra "NAME=value" for every daemon, NULL-terminated */
    const char *daemon_env[TH_NDAEMONS][8]; /* extra "NAME=value" for one daemon */
    bool no_wait;                /* do not wait for /ready == 200 */
    /* The test kills or stops a daemon while the others still send to it:
     * their LeakSanitizer ignores the request messages nng 1.5.2 leaks then
     * (tests/lsan-peer-death.supp, docs/library-notes.md). */
    bool peers_die;
    /* The test cuts TLS handshakes short: the daemons' LeakSanitizer
     * ignores what nng 1.5.2 leaks then (tests/lsan-tls-cuts.supp). */
    bool tls_cuts;
    /* td-auth and td-diary keep their data in a PostgreSQL server of the
     * stack's own (pg.h; AUTH_DATABASE_URL, DIARY_DATABASE_URL). Also
     * turned on for every stack by TD_TEST_STORAGE=postgres in the
     * environment: how CTest runs the storage suites a second time (the
     * *_pg tests, label postgres). */
    bool postgres;
};

struct th_proc {
    const char *name; /* "td-auth" */
    pid_t pid;        /* 0 when not running */
    int starts;
};

struct th_stack {
    char dir[256];
    int http_port;
    char base_url[64];
    char auth_url[300], diary_url[300], sentiment_url[300], events_url[300];
    char auth_operator_url[300], diary_operator_url[300]; /* tdctl's listeners */
    struct th_options opts;
    struct th_proc procs[TH_NDAEMONS];
    int problems; /* daemons that exited badly, sanitizer reports seen */
    struct th_pg pg; /* running when opts.postgres: td-auth's and td-diary's database */
};

/* Whether stacks run td-auth and td-diary on PostgreSQL: opts->postgres, or
 * TD_TEST_STORAGE=postgres in the environment. */
bool th_want_postgres(const struct th_options *opts);

/* Starts the four daemons and waits (up to 20 s) for /ready == 200.
 * Returns 0, or -1 with the logs printed. */
int th_stack_start(struct th_stack *s, const struct th_options *opts);

/* SIGTERM (then SIGKILL after 10 s) every daemon, checks exit statuses and
 * logs for sanitizer reports, removes the directory. Returns the number of
 * problems found (0 is clean). */
int th_stack_stop(struct th_stack *s);

/* In a forked child, before exec: dies with the test process (after any
 * change of credentials, which clears that) and writes its output to `log`. */
void th_child_tie(const char *log);

/* Starts TD_BIN_DIR/<binary> `arg` (NULL: none) once, outside any stack, as
 * the tests that run a daemon's one-shot modes do (--migrate-only,
 * --copy-from-sqlite=): APP_ENV=testing, no environment file, DATA_DIR
 * `dir`/data-<tag>, LOG_LEVEL=info, then `env` ("NAME=value", NULL-terminated,
 * may be NULL); output to `dir`/<tag>.log. Returns the child's pid (give it
 * to th_exit_code), or -1. */
pid_t th_spawn_once(const char *binary, const char *arg, const char *dir, const char *tag,
                    const char *const *env);

/* Waits for `pid`: its exit code, or -1 when it did not exit normally. */
int th_exit_code(pid_t pid);

/* Prints every daemon's log to stderr: for a test that failed in a way the
 * logs may explain (th_stack_stop prints them itself on a bad exit). */
void th_stack_print_logs(struct th_stack *s);

/* Starts daemon `d` (again). 0 or -1. */
int th_daemon_start(struct th_stack *s, enum th_daemon d);

/* Sends `sig` to daemon `d` and reaps it. Returns its wait status or -1. */
int th_daemon_signal(struct th_stack *s, enum th_daemon d, int sig);

/* Starts one more gateway on a free port with the stack's settings plus
 * `env` (NULL-terminated, may be NULL); *pid and *port describe it. */
int th_gateway_start_extra(struct th_stack *s, const char *const *env, pid_t *pid, int *port);

/* Starts one more process of daemon `d` with the stack's settings, that
 * daemon's daemon_env, and `env` (NULL-terminated, may be NULL, "{dir}"
 * expanded). Its output goes to <dir>/<name>-<tag>.log. 0 or -1. */
int th_daemon_start_extra(struct th_stack *s, enum th_daemon d, const char *tag,
                          const char *const *env, pid_t *pid);

/* Polls GET /ready until it answers `status` or `timeout_ms` passes. 0 or -1. */
int th_wait_ready(struct th_stack *s, long status, int timeout_ms);

struct th_response {
    long status;
    char *body;
    size_t body_len;
    char *headers; /* raw header block, all responses of the exchange */
    json_t *json;  /* the body parsed, NULL when it is not JSON */
};

/* One HTTP exchange with the stack's gateway. `headers` is NULL or a
 * NULL-terminated list of "Name: value"; `body` may be NULL. 0 or -1. */
int th_http(struct th_stack *s, const char *method, const char *path,
            const char *const *headers, const char *body, struct th_response *out);

/* One exchange with full control: `url` is the whole URL; `src` (NULL: any)
 * the local source address (127.0.0.2, ... are distinct clients);
 * `insecure` skips TLS verification (self-signed test certificates). */
struct th_request {
    const char *url;
    const char *method;
    const char *const *headers;
    const char *body;
    const char *src;
    bool insecure;
};
int th_http_ex(const struct th_request *rq, struct th_response *out);

/* The same against any base URL ("http://127.0.0.1:port"). */
int th_http_url(const char *base_url, const char *method, const char *path,
                const char *const *headers, const char *body, struct th_response *out);

/* Copies the value of the last header `name` (case-insensitive) into buf.
 * Returns true when present. */
bool th_header(const struct th_response *r, const char *name, char *buf, size_t size);

void th_response_free(struct th_response *r);

/* Writes `req` as raw bytes to the gateway and reads until the server closes
 * or `timeout_ms` of silence; the reply lands NUL-terminated in out.
 * Returns the number of bytes read, or -1. */
ssize_t th_raw(struct th_stack *s, const char *req, size_t len, char *out, size_t size,
               int timeout_ms);

/* A free TCP port on 127.0.0.1 (bound and released), never one this
 * process was given before. */
int th_free_port(void);

/* ---- waiting for what a test asserts -------------------------------------
 *
 * Much of what the daemons do lands after the reply a test has just read:
 * the gateway writes its access-log line and counts the request in /metrics
 * once the response has gone out; td-diary's pending-analysis pass, td-auth's
 * outbox and revocation feed, a replica dialling in, all run beside the
 * request. A test that asserts such an effect waits for it with a deadline
 * through these helpers, and never reads once after the fact.
 *
 * A deadline is a ceiling, not a delay: a wait returns as soon as its
 * condition holds, so deadlines are generous (TH_WAIT_MS) and cost nothing
 * when the machine is fast. A test asserting that something did NOT happen
 * first waits for a later effect that proves the writer got past that point,
 * then reads once (th_log_has, th_log_count, th_metric). */

/* The usual deadline of a wait, in milliseconds. */
#define TH_WAIT_MS 10000

/* Calls pred(arg) every 20 ms until it returns true or timeout_ms has
 * passed; pred runs at least once, and once more at the deadline. Returns
 * true when pred did. The harness's one polling loop: every th_wait_* (and
 * th_wait_ready) is built on it. pred may have side effects (send a probe,
 * record the last value it saw for the failure message). */
bool th_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* One read of <s->dir>/<file> (a daemon's output, e.g. "td-gateway.log"):
 * whether a line contains `needle`. Lines of any length. false when the file
 * cannot be opened. */
bool th_log_has(struct th_stack *s, const char *file, const char *needle);

/* One read of <s->dir>/<file>: the number of lines containing `needle`, or -1
 * when the file cannot be opened. */
int th_log_count(struct th_stack *s, const char *file, const char *needle);

/* Waits until a line of <s->dir>/<file> contains `needle`. Returns whether
 * one did before timeout_ms passed. */
bool th_wait_log(struct th_stack *s, const char *file, const char *needle, int timeout_ms);

/* Waits until at least `at_least` lines of <s->dir>/<file> contain `needle`.
 * Returns the last count read (-1: the file could not be opened), which may
 * exceed at_least: compare it with what the test expects. */
int th_wait_log_count(struct th_stack *s, const char *file, const char *needle, int at_least,
                      int timeout_ms);

/* One GET <base_url>/metrics: the value on the line whose text before the
 * value is exactly `series` (name and labels, e.g.
 * "td_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}"),
 * or -1 when the series is absent or /metrics does not answer. */
double th_metric(const char *base_url, const char *series);

/* Waits until th_metric(base_url, series) >= at_least (a counter reaching a
 * count, a gauge rising to a level). Returns the last value read, which may
 * exceed at_least: compare it with what the test expects. */
double th_wait_metric(const char *base_url, const char *series, double at_least, int timeout_ms);

/* ---- RPC probes (rpc_probe.c) ------------------------------------------ */

/* The number of diary entries of user `uid`, asked of td-diary directly
 * (diary.stats on the stack's diary URL); -1 when it could not be asked. */
int64_t th_diary_total_entries(struct th_stack *s, int64_t uid);

/* ---- tdctl ------------------------------------------------------------- */

/* In a child about to exec tdctl: points it at the stack (every RPC and
 * operator URL, GATEWAY_LISTEN), with APP_ENV=testing, no env file, and a
 * ping timeout for a loaded machine. The caller may setenv more after. */
void th_tdctl_env(const struct th_stack *s);

#endif
