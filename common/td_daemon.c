/*
 * td_daemon.c — the shared lifecycle pieces of td_daemon.h.
 */
#include "td_daemon.h"
#include "td_config.h"
#include "td_error.h"

#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

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

int td_daemon_configure(const char *name, const struct td_cfg_var *vars, unsigned n, void *cfg,
                        struct td_base_config *base)
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
    return 0;
}

void td_daemon_finish(void)
{
    nng_fini();
}

int td_daemon_wait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0)
            return sig;
    }
}
