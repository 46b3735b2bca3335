/*
 * td_daemon.c — the shared lifecycle pieces of td_daemon.h.
 */
#include "td_daemon.h"
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_rpc.h"

#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic(const char *) stop_step = "stopping";

/* The reaper watch (td_rpc.h): a canary teardown every second; ten seconds
 * without one is far beyond any healthy teardown (they wait only for
 * callbacks already running) and short beside a peer that stays unreachable. */
#define TD_REAPER_WATCH_PERIOD_MS 1000
#define TD_REAPER_STUCK_MS 10000

int td_daemon_parse_args(int argc, char **argv, const char *name, const char *extra,
                         struct td_daemon_args *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--migrate-only") == 0) {
            out->migrate_only = true;
        } else if (extra && strcmp(argv[i], extra) == 0 &&
                   strcmp(extra, "--analyze-lines") == 0) {
            out->analyze_lines = true;
        } else if (extra && strcmp(extra, "--copy-from-sqlite=FILE") == 0 &&
                   strncmp(argv[i], "--copy-from-sqlite=", 19) == 0 && argv[i][19] != '\0') {
            out->copy_from = argv[i] + 19;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", name, TD_VERSION);
            return 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--migrate-only]%s%s [--version]\n"
                   "Configuration comes from the environment and ./.env; see README.md.\n",
                   name, extra ? " " : "", extra ? extra : "");
            return 1;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", name, argv[i]);
            return -1;
        }
    }
    return 0;
}

int td_daemon_prepare(void)
{
    if (sodium_init() < 0)
        return TD_EINTERNAL;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : TD_EINTERNAL;
}

/* Checks every URL of every TD_CFG_RPC_URL variable; prints the error. */
static int check_rpc_urls(const char *name, const struct td_cfg_var *vars, unsigned n,
                          const void *cfg, bool production)
{
    for (unsigned i = 0; i < n; i++) {
        if (!(vars[i].flags & TD_CFG_RPC_URL))
            continue;
        const char *list = *(char *const *)((const char *)cfg + vars[i].offset);
        const char *cursor = list, *item;
        size_t len;
        while (list != NULL && td_list_next(&cursor, &item, &len)) {
            char url[1024], err[512];
            if (len >= sizeof url) {
                fprintf(stderr, "%s: configuration error: %s: a URL is too long\n", name,
                        vars[i].name);
                return TD_ECONFIG;
            }
            memcpy(url, item, len);
            url[len] = '\0';
            if (td_rpc_url_check(url, production, err, sizeof err) != 0) {
                fprintf(stderr, "%s: configuration error: %s: %s\n", name, vars[i].name, err);
                return TD_ECONFIG;
            }
        }
    }
    return 0;
}

int td_daemon_configure(const char *name, unsigned role, const struct td_cfg_var *vars,
                        unsigned n, void *cfg, struct td_base_config *base)
{
    char err[512];
    enum td_app_env env;
    if (td_env_load_file(err, sizeof err) != 0 || td_app_env_get(&env, err, sizeof err) != 0 ||
        td_config_load(vars, n, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s: configuration error: %s\n", name, err);
        return TD_ECONFIG;
    }
    base->app_env = env;
    if (td_base_config_apply(base, name, err, sizeof err) != 0) {
        fprintf(stderr, "%s: configuration error: %s\n", name, err);
        td_config_free(vars, n, cfg);
        return TD_ECONFIG;
    }
    if (td_rpc_tls_setup(base->rpc_tls_dir, role) != 0) {
        fprintf(stderr, "%s: configuration error: RPC_TLS_DIR: cannot read %s/%s.pem\n", name,
                base->rpc_tls_dir, td_role_name(role));
        td_config_free(vars, n, cfg);
        return TD_ECONFIG;
    }
    if (check_rpc_urls(name, vars, n, cfg, env == TD_ENV_PRODUCTION) != 0) {
        td_config_free(vars, n, cfg);
        return TD_ECONFIG;
    }
    return 0;
}

int td_daemon_finish(int status)
{
    bool wedged = td_rpc_reaper_wedged();
    /* Either way nng_fini would wait for ever for a socket's teardown. */
    if (!td_rpc_close_stuck() && !wedged)
        nng_fini();
    /* A wedged reaper never dials a dead peer again: exit non-zero so the
     * supervisor (systemd's Restart=on-failure, Compose's restart policy)
     * starts a fresh process. */
    return wedged ? 1 : status;
}

void td_daemon_stop_step(const char *step)
{
    atomic_store(&stop_step, step);
}

/* The stop deadline's watchdog: a normal exit ends the process (and this
 * thread) long before it wakes. */
static void *stop_watchdog(void *arg)
{
    int ms = (int)(intptr_t)arg;
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
    TD_LOG(TD_LOG_ERR, "stop_deadline", "shutdown still not done after %d ms, at: %s; exiting",
           ms, atomic_load(&stop_step));
    _exit(1);
}

/* The reaper watch's answer to a wedged reaper: the daemon's own graceful
 * stop, as for SIGTERM; td_daemon_finish then makes the exit status 1. */
static void stop_for_wedged_reaper(void)
{
    kill(getpid(), SIGTERM);
}

int td_daemon_wait(int stop_deadline_ms)
{
    const struct td_rpc_reaper_watch_opts watch = {.period_ms = TD_REAPER_WATCH_PERIOD_MS,
                                                   .stuck_ms = TD_REAPER_STUCK_MS,
                                                   .on_wedged = stop_for_wedged_reaper};
    bool watching = td_rpc_reaper_watch_start(&watch) == 0; /* else logged, and served on */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    if (watching)
        td_rpc_reaper_watch_stop();
    pthread_t t;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 ||
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
        pthread_create(&t, &attr, stop_watchdog, (void *)(intptr_t)stop_deadline_ms) != 0)
        TD_LOG(TD_LOG_WARN, "stop_deadline_unarmed", "cannot start the stop watchdog");
    pthread_attr_destroy(&attr);
    return sig;
}
