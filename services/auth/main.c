/*
 * main.c — td-auth: wires configuration, logging, storage, the revocation
 * feed, the td-diary client and outbox thread (account deletion) and the RPC
 * server; waits for SIGTERM/SIGINT; tears down in reverse.
 */
#include "config.h"
#include "events.h"
#include "handlers.h"
#include "outbox.h"
#include "store.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    struct td_daemon_args args;
    int rc = td_daemon_parse_args(argc, argv, "td-auth", "--copy-from-sqlite=FILE", &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (td_daemon_prepare() != 0)
        return 1;
    struct auth_config cfg;
    if (auth_config_load(&cfg) != 0)
        return 2;

    struct auth_app app = {.cfg = &cfg};
    struct td_rpc_server *server = NULL;
    bool app_ready = false;
    /* One connection per RPC worker, plus one for the outbox thread. */
    size_t workers = (size_t)cfg.base.rpc_workers;
    struct auth_store_opts so = {.data_dir = cfg.base.data_dir, .database_url = cfg.database_url,
                                 .statement_timeout_ms = cfg.statement_timeout_ms};
    rc = auth_store_open(&so, workers + 1, &app.store);
    /* Moving a SQLite install into PostgreSQL (docs/operations.md): copy,
     * report, exit. */
    if (rc == 0 && args.copy_from != NULL) {
        int64_t copied = 0;
        rc = auth_store_copy_from_sqlite(app.store, args.copy_from, &copied);
        if (rc == 0)
            TD_LOG(TD_LOG_NOTICE, "db_copied", "%lld rows copied from %s", (long long)copied,
                   args.copy_from);
    }
    if (rc == 0 && !args.migrate_only && args.copy_from == NULL) {
        rc = auth_app_init(&app, &cfg);
        app_ready = rc == 0;
        rc = rc ? rc : auth_events_open(cfg.events_url, &app.events);
        /* Account deletion and the outbox call td-diary where it listens
         * for td-auth. A deletion waits up to a second for a connection,
         * not the default 100 ms: long enough to ride out td-diary's
         * restart (a redial comes every 500 ms at most), since a deletion
         * refused with 503 has to be asked again by a person. */
        struct td_rpc_client_opts copts = {.service = "diary", .peer = TD_ROLE_DIARY,
                                           .urls = cfg.diary_auth_url ? cfg.diary_auth_url
                                                                      : cfg.diary_url,
                                           .timeout_ms = (int)cfg.base.rpc_timeout_ms,
                                           .connect_grace_ms = 1000};
        rc = rc ? rc : td_rpc_client_open(&copts, &app.diary);
        rc = rc ? rc : auth_outbox_start(auth_store_conn(app.store, workers), app.diary,
                                         cfg.base.rpc_timeout_ms, &app.outbox);
        struct td_rpc_endpoint more[] = {{cfg.operator_url, TD_ROLE_OPERATOR}};
        struct td_rpc_server_opts sopts = {.service = "auth", .url = cfg.rpc_url,
                                           .callers = td_rpc_url_callers(cfg.rpc_url,
                                                                         TD_ROLE_GATEWAY),
                                           .more = more, .nmore = 1,
                                           .workers = (unsigned)workers,
                                           .routes = auth_routes, .nroutes = auth_nroutes,
                                           .app = &app};
        rc = rc ? rc : td_rpc_server_start(&sopts, &server);
        if (rc == 0) {
            TD_LOG(TD_LOG_NOTICE, "ready", "td-auth %s serving on %s", TD_VERSION, cfg.rpc_url);
            int sig = td_daemon_wait((int)cfg.base.stop_deadline_ms);
            TD_LOG(TD_LOG_NOTICE, "stopping", "signal %d: draining requests", sig);
        }
    }
    td_daemon_stop_step("draining and closing the RPC server");
    td_rpc_server_stop(&server, 10000);
    td_daemon_stop_step("closing clients and storage");
    auth_outbox_stop(&app.outbox);
    td_rpc_client_free(&app.diary);
    auth_events_close(&app.events);
    if (app_ready)
        auth_app_destroy(&app);
    auth_store_close(&app.store);
    auth_config_free(&cfg);
    if (rc != 0)
        fprintf(stderr, "td-auth: failed to start: %s\n", td_error_symbol(rc));
    td_daemon_stop_step("releasing nng");
    return td_daemon_finish(rc == 0 ? 0 : 1);
}
