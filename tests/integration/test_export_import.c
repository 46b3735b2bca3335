/*
 * test_export_import.c — GET /diaries/export and POST /diaries/import
 * through the real stack: headers, both formats, oldest first over several
 * of td-diary's pages, filters applied; import all or nothing, idempotent,
 * created_at kept, its own body limit; a client that walks away in the
 * middle of a large export leaves both daemons serving.
 */
#include "auth_helpers.h"
#include "edge_raw.h"
#include "suite.h"

#include <dirent.h>
#include <sys/types.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

static struct tokens alice;

static void after_start(void);
TH_STACK_SUITE_THEN(export_import, 120, after_start);

static void after_start(void)
{
    register_user(&stack, "alice@example.com", GOOD_PASSWORD);
    login(&stack, "alice@example.com", GOOD_PASSWORD, &alice);
}

/* n entries "entry <i>", one a day from 2026-01-01 (28-day months), oldest first. */
static json_t *doc_of(int n, int first)
{
    json_t *entries = json_array();
    for (int i = 0; i < n; i++) {
        char content[64], ts[64];
        snprintf(content, sizeof content, "entry %03d", first + i);
        int k = first + i;
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT10:00:00.000001Z", 2026 + k / 336,
                 1 + k / 28 % 12, 1 + k % 28);
        json_array_append_new(entries, json_pack("{s:s, s:s}", "content", content, "created_at", ts));
    }
    return json_pack("{s:s, s:i, s:o}", "format", "thought-diary", "version", 1, "entries", entries);
}

static void post_import(json_t *doc, struct th_response *r)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    req(&stack, "POST", "/diaries/import", alice.access, body, r);
    free(body);
}

static void import_ok(json_t *doc, long imported, long skipped)
{
    struct th_response r;
    post_import(doc, &r);
    cr_assert_eq(r.status, 200, "import: %ld %s", r.status, r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "imported")), imported, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "skipped")), skipped, "%s", r.body);
    th_response_free(&r);
}

static long total(void)
{
    struct th_response r;
    req(&stack, "GET", "/diaries", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200);
    long n = (long)json_integer_value(json_object_get(r.json, "total"));
    th_response_free(&r);
    return n;
}

Test(export_import, import_is_idempotent_keeps_created_at_and_exports_back)
{
    json_t *doc = doc_of(120, 0); /* more than two of td-diary's export pages */
    import_ok(doc, 120, 0);
    import_ok(doc, 0, 120);
    cr_expect_eq(total(), 120);

    struct th_response r;
    req(&stack, "GET", "/diaries/export", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char h[256];
    cr_expect(th_header(&r, "Content-Type", h, sizeof h) && strcmp(h, "application/json") == 0, "%s", h);
    cr_expect(th_header(&r, "Cache-Control", h, sizeof h) && strcmp(h, "no-store") == 0);
    cr_expect(th_header(&r, "Transfer-Encoding", h, sizeof h) && strcmp(h, "chunked") == 0);
    cr_assert(th_header(&r, "Content-Disposition", h, sizeof h));
    cr_expect(strncmp(h, "attachment; filename=\"thought-diary-", 36) == 0 &&
              strlen(h) == 36 + 10 + 6 && strcmp(h + 46, ".json\"") == 0, "%s", h);
    cr_assert_not_null(r.json, "export is not JSON: %.200s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "format")), "thought-diary");
    cr_expect_eq(json_integer_value(json_object_get(r.json, "version")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(r.json, "user"), "email")),
                     "alice@example.com");
    json_t *entries = json_object_get(r.json, "entries");
    cr_assert_eq(json_array_size(entries), 120);
    for (size_t i = 0; i < 120; i++) {
        json_t *e = json_array_get(entries, i);
        char want[32];
        snprintf(want, sizeof want, "entry %03zu", i); /* oldest first */
        cr_expect_str_eq(json_string_value(json_object_get(e, "content")), want);
        cr_expect_eq(json_object_size(e), 8);
    }
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(entries, 0), "created_at")),
                     "2026-01-01T10:00:00.000001Z");

    /* The export imports as is: everything already there. */
    char *again = strdup(r.body);
    th_response_free(&r);
    req(&stack, "POST", "/diaries/import", alice.access, again, &r);
    free(again);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "skipped")), 120, "%s", r.body);
    th_response_free(&r);
    json_decref(doc);
}

Test(export_import, filters_apply_and_markdown_has_headings)
{
    json_t *doc = doc_of(30, 0);
    import_ok(doc, 30, 0);
    json_decref(doc);
    struct th_response r;
    req(&stack, "GET", "/diaries/export?format=markdown&from=2026-01-03&to=2026-01-05&tz=Europe/Berlin",
        alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char h[256];
    cr_expect(th_header(&r, "Content-Type", h, sizeof h) &&
              strcmp(h, "text/markdown; charset=utf-8") == 0, "%s", h);
    cr_expect(th_header(&r, "Content-Disposition", h, sizeof h) && strstr(h, ".md\"") != NULL, "%s", h);
    cr_expect(strncmp(r.body, "# Thought Diary — alice@example.com\n", 37) == 0, "%s", r.body);
    const char *a = strstr(r.body, "## 2026-01-03 11:00 (UTC+01:00)\n\nentry 002\n");
    const char *b = strstr(r.body, "## 2026-01-04 11:00 (UTC+01:00)\n\nentry 003\n");
    cr_expect(a != NULL && b != NULL && a < b, "%s", r.body);
    cr_expect_null(strstr(r.body, "entry 004"), "%s", r.body);
    cr_expect_not_null(strstr(r.body, "Positive: 0 · Negative: 0"), "%s", r.body);
    th_response_free(&r);

    req(&stack, "GET", "/diaries/export?q=entry+001", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "entries")), 1, "%s", r.body);
    th_response_free(&r);

    req(&stack, "GET", "/diaries/export?tz=Nowhere/Land", alice.access, NULL, &r);
    expect_invalid_field(&r, "tz", "export with a bad zone");
    req(&stack, "GET", "/diaries/export?format=json&format=markdown", alice.access, NULL, &r);
    expect_invalid_field(&r, "format", "two formats");
}

Test(export_import, one_bad_entry_imports_nothing)
{
    json_t *doc = doc_of(1500, 0); /* two pieces: the bad entry is in the second */
    json_t *bad = json_array_get(json_object_get(doc, "entries"), 1217);
    json_object_set_new(bad, "content", json_string("   "));
    struct th_response r;
    post_import(doc, &r);
    expect_invalid_field(&r, "entries[1217].content", "blank content");
    cr_expect_eq(total(), 0);

    json_object_set_new(bad, "content", json_string("fine"));
    json_object_set_new(bad, "created_at", json_string("2026-01-01"));
    post_import(doc, &r);
    expect_invalid_field(&r, "entries[1217].created_at", "date without time");
    json_object_set_new(bad, "created_at", json_string("2026-01-01T00:00:00Z"));
    json_object_set_new(bad, "mood", json_string("x"));
    post_import(doc, &r);
    expect_invalid_field(&r, "entries[1217].mood", "unknown entry key");
    json_object_del(bad, "mood");
    json_object_set_new(bad, "analyzed_content", json_string("ignored"));
    json_object_set_new(doc, "extra", json_true());
    post_import(doc, &r);
    expect_invalid_field(&r, "extra", "unknown top-level key");
    json_object_del(doc, "extra");
    cr_expect_eq(total(), 0);
    import_ok(doc, 1500, 0);
    json_decref(doc);
}

Test(export_import, import_takes_more_than_the_default_body_limit)
{
    /* 2,000 entries of ~300 bytes: ~600 KiB, over the 256 KiB default. */
    json_t *entries = json_array();
    char content[400];
    memset(content, 'a', 300);
    for (int i = 0; i < 2000; i++) {
        snprintf(content + 300, 20, " %d", i);
        json_array_append_new(entries, json_pack("{s:s, s:s}", "content", content, "created_at",
                                                 "2026-02-01T00:00:00Z"));
    }
    json_t *doc = json_pack("{s:o}", "entries", entries);
    import_ok(doc, 2000, 0);
    json_decref(doc);
    /* Over 10,000 entries is refused. */
    entries = json_array();
    for (int i = 0; i < 10001; i++)
        json_array_append_new(entries, json_pack("{s:s, s:s}", "content", "x", "created_at",
                                                 "2026-02-01T00:00:00Z"));
    doc = json_pack("{s:o}", "entries", entries);
    struct th_response r;
    post_import(doc, &r);
    expect_invalid_field(&r, "entries", "10,001 entries");
    json_decref(doc);
}

/* Open descriptors of a process (sockets included). */
static int fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Asks for the export on a raw connection, reads the headers and about
 * `body_bytes` of the body, then goes: with `reset`, an RST (SO_LINGER 0)
 * while the gateway is still writing; otherwise a plain close. */
static void export_and_walk_away(size_t body_bytes, bool reset)
{
    int fd = raw_connect(stack.http_port, NULL);
    cr_assert_geq(fd, 0);
    char rq[4096];
    snprintf(rq, sizeof rq,
             "GET /diaries/export?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Authorization: Bearer %s\r\n\r\n", alice.access);
    cr_assert(raw_send_str(fd, rq));
    char buf[16384];
    size_t got = 0;
    bool headers = false;
    double until = raw_now_ms() + 20000;
    while (got < body_bytes && raw_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
            break;
        if (!headers) {
            buf[n] = '\0';
            cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%.80s", buf);
            headers = true;
        }
        got += (size_t)n;
    }
    cr_assert(headers && got >= body_bytes, "read %zu bytes of the export", got);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

Test(export_import, a_client_that_aborts_a_large_export_leaves_the_stack_healthy)
{
    /* 5,000 entries of ~1 KB: an export of several MB, far more than the
     * socket buffers hold, so the gateway is mid-stream when the client goes. */
    json_t *entries = json_array();
    char content[1100];
    memset(content, 'w', 1000);
    for (int i = 0; i < 5000; i++) {
        snprintf(content + 1000, 40, " entry %d", i);
        char ts[64];
        snprintf(ts, sizeof ts, "2025-%02d-%02dT%02d:%02d:00Z", 1 + i / 500, 1 + i / 20 % 25,
                 i % 20, i % 60);
        json_array_append_new(entries, json_pack("{s:s, s:s}", "content", content, "created_at", ts));
    }
    json_t *doc = json_pack("{s:o}", "entries", entries);
    import_ok(doc, 5000, 0);
    json_decref(doc);

    pid_t gw = stack.procs[TH_GATEWAY].pid, diary = stack.procs[TH_DIARY].pid;
    cr_assert(gw > 0 && diary > 0);
    cr_assert_eq(total(), 5000); /* also settles the keep-alive connections */
    int gw_fds = fd_count(gw), diary_fds = fd_count(diary);

    /* More walk-aways than the gateway has calls in flight to td-diary: a
     * stream that leaked its slot or its RPC context would starve the rest. */
    for (int round = 0; round < 12; round++)
        export_and_walk_away(round % 3 == 0 ? 1 : 256 * 1024, round % 2 == 0);

    /* The next requests answer, and a whole export still arrives (January's
     * 500 entries: the full 5 MB outlasts the harness's 30 s under ASan on
     * a loaded machine). */
    cr_assert_eq(total(), 5000);
    struct th_response r;
    req(&stack, "GET", "/diaries/export?format=json&to=2025-02-01", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%ld", r.status);
    cr_assert_not_null(r.json, "the export after the aborts is complete JSON");
    cr_expect_eq(json_array_size(json_object_get(r.json, "entries")), 500);
    th_response_free(&r);
    req(&stack, "GET", "/ready", NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    th_response_free(&r);

    /* Nothing held on to: the descriptors come back to where they were (a
     * little slack for a keep-alive connection closing late). */
    bool settled = false;
    for (int i = 0; i < 100 && !settled; i++) {
        settled = fd_count(gw) <= gw_fds + 2 && fd_count(diary) <= diary_fds + 2;
        if (!settled)
            raw_sleep_ms(50);
    }
    cr_expect(settled, "gateway fds %d -> %d, td-diary fds %d -> %d", gw_fds, fd_count(gw),
              diary_fds, fd_count(diary));
    /* Leaks and sanitizer reports of the daemons fail teardown
     * (th_stack_stop, tests/harness/harness.c). */
}
