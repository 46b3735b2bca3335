/*
 * test_webapp.c — the web app (frontend/) served by td-gateway at / and
 * /app/: content types, caching headers and validators, the app's strict
 * CSP, no way out of STATIC_DIR, the API beside it untouched; then the
 * browser tests of tests/e2e/webapp.mjs (playwright-core driving Debian's
 * chromium) against this real stack. Their screenshots land in
 * <build>/screenshots/ (diary.png, stats.png, diary-375.png). TD_E2E_ONLY="name ..."
 * runs only the named tests of the script.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define APP_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "              \
    "frame-ancestors 'none'"

static struct th_stack stack;

static void setup(void)
{
    cr_assert_eq(th_stack_start(&stack, NULL), 0, "stack did not start");
}
static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}
TestSuite(webapp, .init = setup, .fini = teardown, .timeout = 300);

static void expect_file(const char *path, const char *type, const char *cache)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", path, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %ld", path, r.status);
    cr_assert_gt(r.body_len, 0);
    char v[1024];
    cr_assert(th_header(&r, "Content-Type", v, sizeof v));
    cr_assert_str_eq(v, type, "%s: %s", path, v);
    cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert_str_eq(v, APP_CSP, "%s: %s", path, v);
    cr_assert(th_header(&r, "Cache-Control", v, sizeof v));
    cr_assert_str_eq(v, cache, "%s: %s", path, v);
    cr_assert(th_header(&r, "ETag", v, sizeof v));
    cr_assert(th_header(&r, "Last-Modified", v, sizeof v));
    cr_assert(th_header(&r, "X-Content-Type-Options", v, sizeof v));
    cr_assert_str_eq(v, "nosniff");
    cr_assert(th_header(&r, "X-Frame-Options", v, sizeof v));
    cr_assert(th_header(&r, "Referrer-Policy", v, sizeof v));
    th_response_free(&r);
}

Test(webapp, files_are_served_with_their_types_caching_and_the_app_csp)
{
    expect_file("/", "text/html; charset=utf-8", "no-cache");
    expect_file("/app/index.html", "text/html; charset=utf-8", "no-cache");
    expect_file("/app/app.css", "text/css; charset=utf-8", "public, max-age=300");
    expect_file("/app/js/main.js", "text/javascript; charset=utf-8", "public, max-age=300");
    expect_file("/app/js/views/diary.js", "text/javascript; charset=utf-8", "public, max-age=300");
    expect_file("/app/favicon.svg", "image/svg+xml", "public, max-age=300");

    /* index.html loads only its own files and has nothing inline */
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/", NULL, NULL, &r), 0);
    /* ...named by version (routes_static.c): "/app/v-<16 hex>/js/main.js" */
    const char *src = strstr(r.body, "src=\"/app/v-");
    cr_assert_not_null(src, "index.html does not load a versioned main.js");
    cr_assert_eq(strncmp(src + strlen("src=\"/app/v-") + 16, "/js/main.js\"", 12), 0, "%.60s", src);
    cr_assert_null(strstr(r.body, "\"/app/js/"), "an unversioned URL is left in index.html");
    cr_assert_null(strstr(r.body, "http://"));
    cr_assert_null(strstr(r.body, "https://"));
    cr_assert_null(strstr(r.body, "style="));
    cr_assert_null(strstr(r.body, "<style"));
    cr_assert_null(strstr(r.body, "<script>"));
    th_response_free(&r);
}

Test(webapp, validators_answer_304_without_a_body)
{
    struct th_response r;
    char etag[128], modified[128], v[128];
    cr_assert_eq(th_http(&stack, "GET", "/app/app.css", NULL, NULL, &r), 0);
    cr_assert(th_header(&r, "ETag", etag, sizeof etag));
    cr_assert(th_header(&r, "Last-Modified", modified, sizeof modified));
    cr_assert_eq(etag[0], '"');
    th_response_free(&r);

    char h1[200], h2[200];
    snprintf(h1, sizeof h1, "If-None-Match: %s", etag);
    const char *inm[] = {h1, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/app.css", inm, NULL, &r), 0);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body_len, 0);
    cr_assert_not(th_header(&r, "Content-Length", v, sizeof v));
    cr_assert(th_header(&r, "ETag", v, sizeof v));
    cr_assert_str_eq(v, etag);
    th_response_free(&r);

    /* index.html's Last-Modified is the newest of the app's files (its URLs
     * name their version, routes_static.c), so ask "/" for its own. */
    cr_assert_eq(th_http(&stack, "GET", "/", NULL, NULL, &r), 0);
    cr_assert(th_header(&r, "Last-Modified", modified, sizeof modified));
    th_response_free(&r);
    snprintf(h2, sizeof h2, "If-Modified-Since: %s", modified);
    const char *ims[] = {h2, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/", ims, NULL, &r), 0);
    cr_assert_eq(r.status, 304);
    th_response_free(&r);

    const char *stale[] = {"If-None-Match: \"0-0-0\"", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/app.css", stale, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_gt(r.body_len, 0);
    th_response_free(&r);

    const char *old[] = {"If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/", old, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
}

/* The version in index.html's main.js URL ("3fa2..."), copied into hex[17]. */
static void app_version(char hex[17])
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/", NULL, NULL, &r), 0);
    const char *src = strstr(r.body, "src=\"/app/v-");
    cr_assert_not_null(src);
    memcpy(hex, src + strlen("src=\"/app/v-"), 16);
    hex[16] = '\0';
    th_response_free(&r);
}

Test(webapp, versioned_assets_are_immutable_and_stale_versions_revalidate)
{
    char hex[17], path[128], v[256];
    app_version(hex);
    struct th_response r;
    snprintf(path, sizeof path, "/app/v-%s/js/main.js", hex);
    cr_assert_eq(th_http(&stack, "GET", path, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(th_header(&r, "Cache-Control", v, sizeof v));
    cr_assert_str_eq(v, "public, max-age=31536000, immutable");
    th_response_free(&r);

    /* a page loaded before a deploy asks for its own version: today's file, revalidated */
    cr_assert_eq(th_http(&stack, "GET", "/app/v-0000000000000000/js/main.js", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(th_header(&r, "Cache-Control", v, sizeof v));
    cr_assert_str_eq(v, "no-cache");
    th_response_free(&r);

    static const char *const bad[] = {
        "/app/v-/js/main.js", "/app/v-123/js/main.js", "/app/v-ABCDEF0123456789/js/main.js",
        "/app/v-0000000000000000", "/app/v-0000000000000000/", "/app/v-0000000000000000/../README.md",
        "/app/v-0000000000000000/%2e%2e/README.md", "/app/v-0000000000000000/.git/config",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[512], out[8192];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", bad[i]);
        cr_assert_gt(th_raw(&stack, req, (size_t)n, out, sizeof out, 3000), 0, "%s", bad[i]);
        cr_expect(strncmp(out, "HTTP/1.1 404 ", 13) == 0 || strncmp(out, "HTTP/1.1 400 ", 13) == 0,
                  "%s answered: %.40s", bad[i], out);
    }
}

Test(webapp, text_is_gzipped_when_accepted_and_each_encoding_has_its_etag)
{
    struct th_response plain, packed, r;
    char v[256], etag_plain[128], etag_gz[128];
    cr_assert_eq(th_http(&stack, "GET", "/app/js/api.js", NULL, NULL, &plain), 0);
    cr_assert_not(th_header(&plain, "Content-Encoding", v, sizeof v), "gzip without Accept-Encoding");
    cr_assert(th_header(&plain, "Vary", v, sizeof v));
    cr_assert_str_eq(v, "Accept-Encoding");
    cr_assert(th_header(&plain, "ETag", etag_plain, sizeof etag_plain));

    const char *gz[] = {"Accept-Encoding: br, gzip;q=0.8", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/js/api.js", gz, NULL, &packed), 0);
    cr_assert_eq(packed.status, 200);
    cr_assert(th_header(&packed, "Content-Encoding", v, sizeof v));
    cr_assert_str_eq(v, "gzip");
    cr_assert(th_header(&packed, "Vary", v, sizeof v));
    cr_assert(th_header(&packed, "Content-Security-Policy", v, sizeof v));
    cr_assert_str_eq(v, APP_CSP, "the app's CSP stays on compressed files");
    cr_assert_geq(packed.body_len, 2);
    cr_assert_eq((unsigned char)packed.body[0], 0x1f, "not a gzip stream");
    cr_assert_eq((unsigned char)packed.body[1], 0x8b, "not a gzip stream");
    cr_assert_lt(packed.body_len, plain.body_len / 2, "%zu of %zu bytes", packed.body_len, plain.body_len);
    cr_assert(th_header(&packed, "ETag", etag_gz, sizeof etag_gz));
    cr_assert_str_neq(etag_gz, etag_plain);

    /* each ETag revalidates its own encoding only */
    char inm[200];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag_gz);
    const char *again[] = {"Accept-Encoding: gzip", inm, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/js/api.js", again, NULL, &r), 0);
    cr_assert_eq(r.status, 304);
    th_response_free(&r);
    const char *other[] = {inm, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/js/api.js", other, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "a gzip ETag answered an identity request");
    th_response_free(&r);

    /* q=0 refuses gzip; images are never compressed twice */
    const char *refused[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/app/js/api.js", refused, NULL, &r), 0);
    cr_assert_not(th_header(&r, "Content-Encoding", v, sizeof v));
    th_response_free(&r);
    const char *gzhtml[] = {"Accept-Encoding: gzip", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/", gzhtml, NULL, &r), 0);
    cr_assert(th_header(&r, "Content-Encoding", v, sizeof v), "index.html is not compressed");
    cr_assert(th_header(&r, "Cache-Control", v, sizeof v));
    cr_assert_str_eq(v, "no-cache");
    th_response_free(&r);
    th_response_free(&plain);
    th_response_free(&packed);
}

/* Raw request lines, so no client normalises the path first. */
Test(webapp, nothing_outside_the_app_is_reachable)
{
    static const char *const paths[] = {
        "/app/../README.md", "/app/../../etc/passwd", "/app/%2e%2e/README.md",
        "/app/%2E%2E/%2E%2E/etc/passwd", "/app/js%2f..%2f..%2fREADME.md",
        "/app/js/..%2f..%2fREADME.md", "/app/..%5cREADME.md", "/app/..\\README.md",
        "/app/js\\..\\..\\README.md", "/app/%00", "/app/index.html%00.css", "/app/",
        "/app/js", "/app/js/", "/app//etc/passwd", "/app/js/./main.js", "/app/.gitignore",
        "/app/.git/config", "/app/js/.", "/app/nothing.css", "/app/README", "/app/%2fetc%2fpasswd",
        "/app/js/main.js/", "/index.html", "/app.css", "/js/main.js", "/..", "/%2e%2e/README.md",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char req[512], out[8192];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         paths[i]);
        cr_assert_gt(th_raw(&stack, req, (size_t)n, out, sizeof out, 3000), 0, "%s", paths[i]);
        bool refused = strncmp(out, "HTTP/1.1 404 ", 13) == 0 || strncmp(out, "HTTP/1.1 400 ", 13) == 0;
        cr_expect(refused, "%s answered: %.40s", paths[i], out);
        cr_expect_null(strstr(out, "root:"), "%s", paths[i]);
        cr_expect_null(strstr(out, "Thought Diary — backend"), "%s", paths[i]);
    }
    /* A NUL byte inside the raw request line. */
    static const char nul[] = "GET /app/app.css\0/../../README.md HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    char out[8192];
    ssize_t got = th_raw(&stack, nul, sizeof nul - 1, out, sizeof out, 3000);
    cr_expect(got <= 0 || strncmp(out, "HTTP/1.1 200 ", 13) != 0, "%.60s", out);
}

Test(webapp, the_api_docs_and_errors_keep_working_beside_the_app)
{
    struct th_response r;
    char v[1024];
    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert_null(strstr(v, "script-src"), "JSON keeps the strictest CSP: %s", v);
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "GET", "/docs", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert_not_null(strstr(v, "'unsafe-inline'"), "the docs keep their own CSP: %s", v);
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "GET", "/openapi.json", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_object_get(json_object_get(r.json, "paths"), "/"), "the app is not API");
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "GET", "/diaries", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "GET", "/no-such-thing", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "not_found");
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "POST", "/", NULL, "{}", &r), 0);
    cr_assert_eq(r.status, 405);
    cr_assert(th_header(&r, "Allow", v, sizeof v));
    cr_assert_str_eq(v, "GET");
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "HEAD", "/", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    th_response_free(&r);
}

/* Runs the Node script; prints its report; returns its exit status. */
/* Runs tests/e2e/webapp.mjs against `on`; on a failure, the daemons' logs
 * follow its report (a 503 or a 500 is explained there). */
static int run_browser_tests(struct th_stack *on, const char *only)
{
    char shots[600], cmd[2048];
    snprintf(shots, sizeof shots, "%s/../screenshots", TD_BIN_DIR);
    snprintf(cmd, sizeof cmd,
             "cd %s/tests/e2e && TD_BASE_URL=%s TD_SCREENSHOT_DIR=%s timeout 240 node webapp.mjs "
             "%s %s %s 2>&1",
             TD_SOURCE_DIR, on->base_url, shots, on->base_url, shots, only ? only : "");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[4096];
    while (fgets(line, sizeof line, p))
        fprintf(stderr, "webapp.mjs: %s", line);
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0)
        th_stack_print_logs(on);
    return rc;
}

static void require_browser(void)
{
    if (system("command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1") != 0)
        cr_skip_test("chromium or node is not installed (ops/install-deps.sh installs them)");
    struct stat st;
    cr_assert_eq(stat(TD_SOURCE_DIR "/tests/e2e/node_modules/playwright-core/package.json", &st),
                 0, "playwright-core is missing: run ops/install-deps.sh (npm ci in tests/e2e)");
}

Test(webapp, chromium_journey_xss_errors_and_paging)
{
    require_browser();
    cr_assert_eq(run_browser_tests(&stack, getenv("TD_E2E_ONLY")), 0, "tests/e2e/webapp.mjs failed (its report is above)");
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/../screenshots/diary.png", TD_BIN_DIR);
    cr_expect_eq(stat(path, &st), 0, "no %s", path);
    snprintf(path, sizeof path, "%s/../screenshots/stats.png", TD_BIN_DIR);
    cr_expect_eq(stat(path, &st), 0, "no %s", path);
}

/* ---- a 20-second access token (issue 19) ------------------------------- */

static struct th_stack short_tokens;

static void setup_short_tokens(void)
{
    struct th_options o = {.env = {"JWT_ACCESS_TTL=20", NULL}};
    cr_assert_eq(th_stack_start(&short_tokens, &o), 0, "stack did not start");
}
static void teardown_short_tokens(void)
{
    cr_expect_eq(th_stack_stop(&short_tokens), 0, "a daemon did not stop cleanly");
}
TestSuite(webapp_short_tokens, .init = setup_short_tokens, .fini = teardown_short_tokens, .timeout = 120);

/* The app used to refresh 30 s before expiry whatever the lifetime: with a
 * 20 s token, before every call. */
Test(webapp_short_tokens, a_short_lived_token_is_not_refreshed_before_every_call)
{
    require_browser();
    cr_assert_eq(run_browser_tests(&short_tokens, "access_refresh_follows_the_token_lifetime"), 0,
                 "tests/e2e/webapp.mjs failed (its report is above)");
}

/* ---- STATIC_DIR elsewhere, with symbolic links pointing out of it ------ */

static struct th_stack linked;

static void setup_linked(void)
{
    struct th_options o = {.env = {"STATIC_DIR={dir}/static", NULL}};
    cr_assert_eq(th_stack_start(&linked, &o), 0, "stack did not start");
}
static void teardown_linked(void)
{
    cr_expect_eq(th_stack_stop(&linked), 0, "a daemon did not stop cleanly");
}
TestSuite(webapp_static_dir, .init = setup_linked, .fini = teardown_linked, .timeout = 60);

static long status_of(const char *path)
{
    struct th_response r;
    cr_assert_eq(th_http(&linked, "GET", path, NULL, NULL, &r), 0);
    long st = r.status;
    th_response_free(&r);
    return st;
}

Test(webapp_static_dir, symlinks_out_of_static_dir_are_not_followed)
{
    char dir[400], path[600];
    snprintf(dir, sizeof dir, "%s/static", linked.dir);
    cr_assert_eq(status_of("/"), 404, "no index.html yet");
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/js", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("<!doctype html><title>t</title>", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/js/ok.js", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("export {};\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/js/passwd.js", dir);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof path, "%s/ext", dir); /* a directory elsewhere */
    cr_assert_eq(symlink(TD_SOURCE_DIR "/gateway/docs", path), 0);
    snprintf(path, sizeof path, "%s/readme.txt", dir);
    cr_assert_eq(symlink(TD_SOURCE_DIR "/README.md", path), 0);

    cr_expect_eq(status_of("/"), 200);
    cr_expect_eq(status_of("/app/js/ok.js"), 200);
    cr_expect_eq(status_of("/app/js/passwd.js"), 404);
    cr_expect_eq(status_of("/app/ext/openapi.json"), 404);
    cr_expect_eq(status_of("/app/ext/index.html"), 404);
    cr_expect_eq(status_of("/app/readme.txt"), 404);
}
