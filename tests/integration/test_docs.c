/*
 * test_docs.c — GET /openapi.json and the Swagger UI page at /docs: the
 * document is served as JSON, every asset comes from the gateway itself
 * with the right content type and the docs CSP, and headless Chromium
 * renders one operation per documented operation, with no network access
 * beyond the gateway.
 */
#include "edge_http.h"
#include "suite.h"

#include <criterion/criterion.h>
#include <unistd.h>

TH_STACK_SUITE(docs, 120);

static int count_operations(json_t *doc)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "patch", "options"};
    const char *path;
    json_t *item;
    int n = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            n += json_object_get(item, methods[i]) != NULL;
    }
    return n;
}

Test(docs, openapi_json_is_served_from_the_repository_file)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/openapi.json", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(r.json);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "openapi")), "3.0.3");
    json_t *file = json_load_file(TD_SOURCE_DIR "/gateway/docs/openapi.json", 0, NULL);
    cr_assert(json_equal(file, r.json));
    json_decref(file);
    char ct[128];
    cr_assert(th_header(&r, "Content-Type", ct, sizeof ct));
    cr_assert_str_eq(ct, "application/json");
    th_response_free(&r);
}

Test(docs, page_and_assets_are_served_locally_with_the_docs_csp)
{
    const char *files[][2] = {{"/docs", "text/html"},
                              {"/docs/", "text/html"},
                              {"/docs/swagger-ui.css", "text/css"},
                              {"/docs/swagger-ui-bundle.js", "text/javascript"},
                              {"/docs/swagger-ui-standalone-preset.js", "text/javascript"},
                              {"/docs/swagger-init.js", "text/javascript"},
                              {"/docs/favicon-32x32.png", "image/png"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct th_response r;
        cr_assert_eq(th_http(&stack, "GET", files[i][0], NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "%s: %ld (run ops/install-deps.sh for swagger-ui-dist)",
                     files[i][0], r.status);
        cr_assert_gt(r.body_len, 0);
        char v[512];
        cr_assert(th_header(&r, "Content-Type", v, sizeof v));
        cr_assert(strncmp(v, files[i][1], strlen(files[i][1])) == 0, "%s: %s", files[i][0], v);
        cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
        cr_assert_not_null(strstr(v, "script-src 'self'"), "%s: %s", files[i][0], v);
        cr_assert_null(strstr(v, "unsafe-eval"));
        cr_assert(th_header(&r, "X-Content-Type-Options", v, sizeof v));
        th_response_free(&r);
    }
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/docs", NULL, NULL, &r), 0);
    cr_assert_null(strstr(r.body, "http://"), "the page loads nothing from elsewhere");
    cr_assert_null(strstr(r.body, "https://"));
    th_response_free(&r);
}

Test(docs, chromium_renders_every_operation)
{
    if (system("command -v chromium >/dev/null 2>&1") != 0)
        cr_skip_test("chromium is not installed (ops/install-deps.sh installs it)");
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/openapi.json", NULL, NULL, &r), 0);
    int want = count_operations(r.json);
    th_response_free(&r);
    cr_assert_gt(want, 15);

    char profile[] = "/tmp/td-chromium-XXXXXX";
    cr_assert_not_null(mkdtemp(profile));
    char cmd[2048];
    /* --virtual-time-budget lets the page's scripts run to completion
     * before the DOM is dumped; no proxy server keeps it on loopback. */
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--disable-dev-shm-usage --no-proxy-server --user-data-dir=%s "
             "--virtual-time-budget=15000 --dump-dom %s/docs 2>/dev/null",
             profile, stack.base_url);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 20, len = 0;
    char *dom = malloc(cap);
    size_t n;
    while ((n = fread(dom + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            dom = realloc(dom, cap);
        }
    }
    dom[len] = '\0';
    pclose(p);
    snprintf(cmd, sizeof cmd, "rm -rf %s", profile);
    cr_expect_eq(system(cmd), 0);

    int ops = 0;
    for (const char *s = dom; (s = strstr(s, "opblock-summary-path\"")) != NULL; s++)
        ops++;
    cr_assert_eq(ops, want, "Chromium rendered %d of %d operations", ops, want);
    const char *paths[] = {"data-path=\"/auth/login\"", "data-path=\"/diaries/{id}\"",
                           "data-path=\"/metrics\""};
    for (size_t i = 0; i < 3; i++)
        cr_assert_not_null(strstr(dom, paths[i]), "%s not rendered", paths[i]);
    free(dom);

    /* Every asset the page needed came from the gateway: its access log,
     * whose lines are written after each response has gone out (waited for).
     * /openapi.json twice: this test's own fetch above, then the page's. */
    int bundle = th_wait_log_count(&stack, "td-gateway.log", " GET /docs/ 200 ", 1, TH_WAIT_MS);
    int doc = th_wait_log_count(&stack, "td-gateway.log", " GET /openapi.json 200 ", 2, TH_WAIT_MS);
    cr_assert_gt(bundle, 0, "no asset was fetched from the gateway");
    cr_assert_gt(doc, 1, "the page did not fetch /openapi.json");
}
