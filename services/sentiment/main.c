/*
 * main.c — td-sentiment: wires configuration, logging, its cache and the RPC server; waits for SIGTERM/SIGINT; tears down in reverse.
 */
#include "config.h"
#include "handlers.h"
#include "store.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    struct td_daemon_args args;
    int rc = td_daemon_parse_args(argc, argv, "td-sentiment", "--analyze-lines", &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (td_daemon_prepare() != 0)
        return 1;
    struct senti_config cfg;
    if (senti_config_load(&cfg) != 0)
        return 2;

    struct senti_app app = {.cfg = &cfg};
    struct td_rpc_server *server = NULL;
    rc = senti_store_open(cfg.base.data_dir, (size_t)cfg.base.rpc_workers, &app.store);
    if (rc == 0 && !args.migrate_only) {
        struct td_rpc_server_opts sopts = {.service = "sentiment", .url = cfg.rpc_url,
                                           .workers = (unsigned)cfg.base.rpc_workers,
                                           .routes = senti_routes, .nroutes = senti_nroutes,
                                           .app = &app};
        rc = td_rpc_server_start(&sopts, &server);
        if (rc == 0) {
            TD_LOG(TD_LOG_NOTICE, "ready", "td-sentiment %s serving on %s", TD_VERSION, cfg.rpc_url);
            int sig = td_daemon_wait();
            TD_LOG(TD_LOG_NOTICE, "stopping", "signal %d: draining requests", sig);
        }
    }
    td_rpc_server_stop(&server, 10000);
    senti_store_close(&app.store);
    senti_config_free(&cfg);
    if (rc != 0)
        fprintf(stderr, "td-sentiment: failed to start: %s\n", td_error_symbol(rc));
    return rc == 0 ? 0 : 1;
}
