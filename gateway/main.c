/*
 * main.c — td-gateway: wires configuration, logging, the RPC clients, the
 * edge modules and the HTTP server; waits for SIGTERM/SIGINT; tears down in
 * reverse.
 */
#include "config.h"
#include "edge.h"
#include "server.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_log.h"

#include <civetweb.h>
#include <stdio.h>
#include <sys/stat.h>

static int open_client(const char *service, unsigned peer, const char *urls, int timeout_ms,
                       struct td_rpc_client **out)
{
    struct td_rpc_client_opts opts = {.service = service, .peer = peer, .urls = urls,
                                      .timeout_ms = timeout_ms};
    int rc = td_rpc_client_open(&opts, out);
    if (rc != 0)
        fprintf(stderr, "td-gateway: cannot use %s RPC URL '%s'\n", service, urls);
    return rc;
}

/* The docs and the web app default to where `cmake --install` put them; a
 * gateway run from a build tree, or installed under another prefix than it
 * was configured for, would answer 404 at / and /docs with no hint why. */
static void warn_if_missing(const char *name, const char *dir, const char *what)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        TD_LOG(TD_LOG_WARN, "files_missing", "%s %s is not a directory: %s will answer 404",
               name, dir, what);
}

int main(int argc, char **argv)
{
    struct td_daemon_args args;
    int rc = td_daemon_parse_args(argc, argv, "td-gateway", NULL, &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (td_daemon_prepare() != 0)
        return 1;
    struct gw_config cfg;
    if (gw_config_load(&cfg) != 0)
        return 2;
    if (args.migrate_only) { /* the gateway owns no storage */
        gw_config_free(&cfg);
        return 0;
    }
    mg_init_library(0);

    struct gw_app app = {.cfg = &cfg};
    int timeout = (int)cfg.base.rpc_timeout_ms;
    /* The settings that can still be refused come first: a gateway that
     * exits on one must not have started dialling the daemons, since a peer
     * that hangs up mid-handshake sends nng 1.5.2's listener into an accept
     * cool-down (common/td_rpc_server.c, "Shutdown"). */
    rc = gw_proxies_new(&cfg, &app.proxies);
    rc = rc ? rc : gw_cors_new(&cfg, &app.cors);
    rc = rc ? rc : gw_ratelimit_new(&cfg, &app.ratelimit);
    rc = rc ? rc : gw_metrics_new(&app.metrics);
    rc = rc ? rc : open_client("auth", TD_ROLE_AUTH, cfg.auth_url, timeout, &app.auth);
    rc = rc ? rc : open_client("diary", TD_ROLE_DIARY, cfg.diary_url, timeout, &app.diary);
    /* Only for /ready's ping: td-sentiment's listener for gateways, if any. */
    rc = rc ? rc
            : open_client("sentiment", TD_ROLE_SENTIMENT,
                          cfg.sentiment_gateway_url ? cfg.sentiment_gateway_url
                                                    : cfg.sentiment_url,
                          timeout, &app.sentiment);
    rc = rc ? rc : gw_auth_new(&app, &app.jwt, &app.revocations);
    rc = rc ? rc : gw_server_start(&app);
    if (rc == 0) {
        /* After start-up succeeded: a refused setting stays a one-line error. */
        warn_if_missing("STATIC_DIR", cfg.static_dir, "the web app (/, /app/)");
        warn_if_missing("DOCS_DIR", cfg.docs_dir, "the API docs (/docs, /openapi.json)");
        TD_LOG(TD_LOG_NOTICE, "ready", "td-gateway %s listening on http://%s", TD_VERSION,
               cfg.listen);
        int sig = td_daemon_wait((int)cfg.base.stop_deadline_ms);
        TD_LOG(TD_LOG_NOTICE, "stopping", "signal %d: draining requests", sig);
    }
    td_daemon_stop_step("stopping the HTTP server");
    gw_server_stop(&app);
    td_daemon_stop_step("closing RPC clients");
    gw_auth_free(&app.jwt, &app.revocations);
    gw_metrics_free(&app.metrics);
    gw_ratelimit_free(&app.ratelimit);
    gw_cors_free(&app.cors);
    gw_proxies_free(&app.proxies);
    td_rpc_client_free(&app.sentiment);
    td_rpc_client_free(&app.diary);
    td_rpc_client_free(&app.auth);
    gw_config_free(&cfg);
    mg_exit_library();
    if (rc == 0)
        TD_LOG(TD_LOG_NOTICE, "stopped", "td-gateway stopped");
    td_daemon_stop_step("releasing nng");
    return td_daemon_finish(rc == 0 ? 0 : 1);
}
