/*
 * main.c — td-sentiment: wires configuration, logging, libcurl, its cache,
 * the provider and the RPC server; waits for SIGTERM/SIGINT; tears down in
 * reverse. With --analyze-lines it runs the evaluation mode instead, with
 * neither database nor RPC server.
 */
#include "analyze_lines.h"
#include "config.h"
#include "handlers.h"
#include "provider.h"
#include "store.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_log.h"

#include <curl/curl.h>
#include <stdio.h>

static struct senti_provider_opts provider_opts(const struct senti_config *cfg,
                                                unsigned nclients, struct senti_store *store)
{
    struct senti_provider_opts o = {
        .provider = cfg->provider,
        .llm = {.api_url = cfg->api_url, .token = cfg->github_token, .model = cfg->model,
                .timeout_ms = (long)cfg->llm_timeout_ms, .deadline_ms = (long)cfg->llm_deadline_ms,
                .retries = (int)cfg->llm_retries},
        .nclients = nclients,
        .breaker_failures = (int)cfg->llm_breaker_failures,
        .breaker_cooldown_ms = (long)cfg->llm_breaker_cooldown_ms,
        .store = store,
    };
    return o;
}

static int run_analyze_lines(const struct senti_config *cfg)
{
    struct senti_provider_opts o = provider_opts(cfg, 1, NULL);
    struct senti_provider *p = NULL;
    int rc = senti_provider_new(&o, &p);
    if (rc == 0)
        rc = senti_analyze_lines(p, stdin, stdout);
    senti_provider_free(&p);
    if (rc != 0)
        fprintf(stderr, "td-sentiment: --analyze-lines failed: %s\n", td_error_symbol(rc));
    return rc == 0 ? 0 : 1;
}

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
    /* curl_global_init is not thread-safe: once, before any thread exists. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "td-sentiment: failed to start: cannot initialise libcurl\n");
        senti_config_free(&cfg);
        return 1;
    }
    if (args.analyze_lines) {
        rc = run_analyze_lines(&cfg);
        curl_global_cleanup();
        senti_config_free(&cfg);
        return rc;
    }

    struct senti_app app = {.cfg = &cfg};
    struct td_rpc_server *server = NULL;
    unsigned workers = (unsigned)cfg.base.rpc_workers;
    rc = senti_store_open(cfg.base.data_dir, workers, cfg.cache_max_rows, &app.store);
    if (rc == 0 && !args.migrate_only) {
        struct senti_provider_opts po = provider_opts(&cfg, workers, app.store);
        rc = senti_provider_new(&po, &app.provider);
    }
    if (rc == 0 && !args.migrate_only) {
        struct td_rpc_endpoint more[] = {{cfg.gateway_url, TD_ROLE_GATEWAY},
                                         {cfg.operator_url, TD_ROLE_OPERATOR}};
        struct td_rpc_server_opts sopts = {.service = "sentiment", .url = cfg.rpc_url,
                                           .callers = td_rpc_url_callers(cfg.rpc_url,
                                                                         TD_ROLE_DIARY),
                                           .more = more, .nmore = 2,
                                           .dial_urls = cfg.dial_urls,
                                           .dial_callers = TD_ROLE_DIARY, .workers = workers,
                                           .routes = senti_routes, .nroutes = senti_nroutes,
                                           .app = &app};
        rc = td_rpc_server_start(&sopts, &server);
        if (rc == 0) {
            TD_LOG(TD_LOG_NOTICE, "ready", "td-sentiment %s serving on %s%s%s with %s",
                   TD_VERSION, cfg.rpc_url, cfg.dial_urls ? ", dialling in to " : "",
                   cfg.dial_urls ? cfg.dial_urls : "", senti_provider_name(app.provider));
            int sig = td_daemon_wait((int)cfg.base.stop_deadline_ms);
            TD_LOG(TD_LOG_NOTICE, "stopping", "signal %d: draining requests", sig);
        }
    }
    td_daemon_stop_step("draining and closing the RPC server");
    td_rpc_server_stop(&server, 10000);
    td_daemon_stop_step("closing clients and storage");
    senti_provider_free(&app.provider);
    senti_store_close(&app.store);
    curl_global_cleanup();
    senti_config_free(&cfg);
    if (rc != 0)
        fprintf(stderr, "td-sentiment: failed to start: %s\n", td_error_symbol(rc));
    td_daemon_stop_step("releasing nng");
    return td_daemon_finish(rc == 0 ? 0 : 1);
}
