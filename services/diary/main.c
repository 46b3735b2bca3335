/*
 * main.c — td-diary: wires configuration, logging, storage, the sentiment
 * client, the pending-analysis worker and the RPC server; waits for
 * SIGTERM/SIGINT; tears down in reverse.
 */
#include "config.h"
#include "handlers.h"
#include "pending.h"
#include "store.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    struct td_daemon_args args;
    int rc = td_daemon_parse_args(argc, argv, "td-diary", "--copy-from-sqlite=FILE", &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (td_daemon_prepare() != 0)
        return 1;
    struct diary_config cfg;
    if (diary_config_load(&cfg) != 0)
        return 2;

    struct diary_app app = {.cfg = &cfg, .sentiment_timeout_ms = (int)cfg.sentiment_timeout_ms};
    struct td_rpc_server *server = NULL;
    struct diary_store_opts so = {.data_dir = cfg.base.data_dir,
                                  .database_url = cfg.database_url,
                                  .statement_timeout_ms = cfg.statement_timeout_ms};
    rc = diary_store_open(&so, (size_t)cfg.base.rpc_workers, &app.store);
    /* Moving a SQLite install into PostgreSQL (docs/operations.md): copy,
     * report, exit. */
    if (rc == 0 && args.copy_from != NULL) {
        int64_t copied = 0;
        rc = diary_store_copy_from_sqlite(app.store, args.copy_from, &copied);
        if (rc == 0)
            TD_LOG(TD_LOG_NOTICE, "db_copied", "%lld rows copied from %s", (long long)copied,
                   args.copy_from);
    }
    if (rc == 0 && !args.migrate_only && args.copy_from == NULL) {
        struct td_rpc_client_opts copts = {.service = "sentiment", .peer = TD_ROLE_SENTIMENT,
                                           .urls = cfg.sentiment_url,
                                           .timeout_ms = (int)cfg.sentiment_timeout_ms};
        rc = td_rpc_client_open(&copts, &app.sentiment);
        rc = rc ? rc
                : diary_pending_start(app.store, app.sentiment, (int)cfg.sentiment_timeout_ms,
                                      &app.pending);
        /* The gateway's listener; td-auth's own where TLS must tell them
         * apart; the operator's. */
        struct td_rpc_endpoint more[] = {{cfg.auth_url, TD_ROLE_AUTH},
                                         {cfg.operator_url, TD_ROLE_OPERATOR}};
        struct td_rpc_server_opts sopts = {.service = "diary", .url = cfg.rpc_url,
                                           .callers = td_rpc_url_callers(cfg.rpc_url,
                                                                         TD_ROLE_GATEWAY),
                                           .more = more, .nmore = 2,
                                           .workers = (unsigned)cfg.base.rpc_workers,
                                           .routes = diary_routes, .nroutes = diary_nroutes,
                                           .app = &app};
        rc = rc ? rc : td_rpc_server_start(&sopts, &server);
        if (rc == 0) {
            TD_LOG(TD_LOG_NOTICE, "ready", "td-diary %s serving on %s with %lld workers", TD_VERSION,
                   cfg.rpc_url, cfg.base.rpc_workers);
            int sig = td_daemon_wait((int)cfg.base.stop_deadline_ms);
            TD_LOG(TD_LOG_NOTICE, "stopping", "signal %d: draining requests", sig);
        }
    }
    td_daemon_stop_step("draining and closing the RPC server");
    td_rpc_server_stop(&server, 10000);
    td_daemon_stop_step("closing clients and storage");
    diary_pending_stop(&app.pending);
    td_rpc_client_free(&app.sentiment);
    diary_store_close(&app.store);
    diary_config_free(&cfg);
    if (rc != 0)
        fprintf(stderr, "td-diary: failed to start: %s\n", td_error_symbol(rc));
    td_daemon_stop_step("releasing nng");
    return td_daemon_finish(rc == 0 ? 0 : 1);
}
