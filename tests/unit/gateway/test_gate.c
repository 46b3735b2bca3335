/*
 * test_gate.c — the pure parts of the edge under slow and hostile clients:
 * the header-tab rewrite the gate applies to what civetweb reads, its
 * whole-request check, the client bucket of an address (IPv6 per /64), and
 * the password-check queue of the bulkheads.
 */
#include "gateway/bulkhead.h"
#include "gateway/edge.h"
#include "gateway/gate.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- the header rewrite -------------------------------------------------- */

/* Runs the rewrite over `in` cut into chunks of `chunk` bytes. */
static void scan(const char *in, size_t chunk, char *out)
{
    size_t len = strlen(in);
    memcpy(out, in, len + 1);
    unsigned char state = 0;
    for (size_t at = 0; at < len; at += chunk)
        gw_gate_scan(&state, out + at, len - at < chunk ? len - at : chunk);
}

Test(gate_scan, header_tabs_become_spaces_in_any_chunking)
{
    const char *in = "GET /x HTTP/1.1\r\nHost: x\r\nX-A:\ta\tb\t\r\n\r\n";
    const char *want = "GET /x HTTP/1.1\r\nHost: x\r\nX-A: a b \r\n\r\n";
    for (size_t chunk = 1; chunk <= strlen(in); chunk++) {
        char out[256];
        scan(in, chunk, out);
        cr_assert_str_eq(out, want, "chunks of %zu", chunk);
    }
}

Test(gate_scan, the_request_line_and_the_body_stay_as_sent)
{
    char out[256];
    scan("GET\t/x HTTP/1.1\r\nX-A: a\tb\r\n\r\n{\"a\":\"\t\"}\tGET /y\t", 7, out);
    cr_assert_str_eq(out, "GET\t/x HTTP/1.1\r\nX-A: a b\r\n\r\n{\"a\":\"\t\"}\tGET /y\t");
    /* Bare LF line ends (civetweb accepts them) end the headers too. */
    scan("GET /x HTTP/1.1\nX-A: a\tb\n\n\tbody", 3, out);
    cr_assert_str_eq(out, "GET /x HTTP/1.1\nX-A: a b\n\n\tbody");
    /* Blank lines before the request line are skipped, as civetweb does. */
    scan("\r\n\r\nGET /x HTTP/1.1\r\nX-A:\t1\r\n\r\n\t", 5, out);
    cr_assert_str_eq(out, "\r\n\r\nGET /x HTTP/1.1\r\nX-A: 1\r\n\r\n\t");
}

Test(gate_scan, an_obs_fold_line_starts_with_a_tab_which_civetweb_refuses)
{
    char out[256];
    scan("GET /x HTTP/1.1\r\nX-A: a\r\n b\tc\r\n\td\r\n\r\n", 4, out);
    cr_assert_str_eq(out, "GET /x HTTP/1.1\r\nX-A: a\r\n\tb c\r\n\td\r\n\r\n");
}

Test(gate_scan, the_state_carries_to_the_next_request_only_when_reset)
{
    /* After the blank line nothing changes until the caller starts the next
     * request (state 0 again). */
    unsigned char state = 0;
    char a[] = "GET /x HTTP/1.1\r\n\r\n";
    gw_gate_scan(&state, a, strlen(a));
    char b[] = "GET /y HTTP/1.1\r\nX-A:\t1\r\n\r\n";
    gw_gate_scan(&state, b, strlen(b));
    cr_assert_str_eq(b, "GET /y HTTP/1.1\r\nX-A:\t1\r\n\r\n");
    state = 0;
    gw_gate_scan(&state, b, strlen(b));
    cr_assert_str_eq(b, "GET /y HTTP/1.1\r\nX-A: 1\r\n\r\n");
}

/* ---- whole requests ------------------------------------------------------ */

static bool complete(const char *s)
{
    return gw_gate_request_complete(s, strlen(s));
}

Test(gate_request, complete_only_with_headers_and_the_declared_body)
{
    cr_assert(complete("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    cr_assert(complete("GET /health HTTP/1.1\nHost: x\n\n"));
    cr_assert_not(complete("GET /health HTTP/1.1\r\nHost: x\r\n"));
    cr_assert_not(complete("GET /health HTTP/1.1\r\nHost: x"));
    cr_assert_not(complete(""));
    const char *post = "POST /auth/login HTTP/1.1\r\ncontent-length: 5\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s{\"a\"", post);
    cr_assert_not(complete(buf));
    snprintf(buf, sizeof buf, "%s{\"a\":", post);
    cr_assert(complete(buf));
    snprintf(buf, sizeof buf, "%s{\"a\":1}GET", post);
    cr_assert(complete(buf), "what follows the body does not matter");
}

Test(gate_request, a_chunked_body_is_complete_at_its_last_chunk)
{
    const char *head = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s2\r\n{}\r\n", head);
    cr_assert_not(complete(buf));
    snprintf(buf, sizeof buf, "%s2\r\n{}\r\n0\r\n\r\n", head);
    cr_assert(complete(buf));
    snprintf(buf, sizeof buf, "%s0\r\n\r\n", head);
    cr_assert(complete(buf));
}

/* ---- client buckets ------------------------------------------------------ */

static void expect_key(const char *ip, const char *want)
{
    char out[64];
    gw_client_key(ip, out, sizeof out);
    cr_assert_str_eq(out, want, "%s", ip);
}

Test(client_key, ipv6_counts_per_slash_64_and_ipv4_per_address)
{
    expect_key("203.0.113.7", "203.0.113.7");
    expect_key("2001:db8:1:2::1", "2001:db8:1:2::/64");
    expect_key("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64");
    expect_key("2001:DB8:1:2:0:0:0:9", "2001:db8:1:2::/64");
    expect_key("2001:db8:1:3::1", "2001:db8:1:3::/64");
    expect_key("::1", "::/64");
    expect_key("::ffff:203.0.113.7", "203.0.113.7");
    expect_key("not-an-address", "not-an-address");
}

/* ---- the password-check queue -------------------------------------------- */

Test(bulkhead, the_expected_wait_counts_whole_rounds_ahead)
{
    cr_assert_eq(gw_bulkhead_expected_wait(0, 0, 2, 100000), 0);
    cr_assert_eq(gw_bulkhead_expected_wait(0, 1, 2, 100000), 0);
    cr_assert_eq(gw_bulkhead_expected_wait(0, 2, 2, 100000), 100000);
    cr_assert_eq(gw_bulkhead_expected_wait(1, 2, 2, 100000), 100000);
    cr_assert_eq(gw_bulkhead_expected_wait(2, 2, 2, 100000), 200000);
    cr_assert_eq(gw_bulkhead_expected_wait(29, 2, 2, 100000), 1500000);
}

static struct gw_config bcfg = {.upstream_max_inflight = 4, .pwhash_concurrency = 1,
                                .pwhash_queue_ms = 3000};

Test(bulkhead, a_daemon_over_its_cap_is_refused_at_once_with_retry_after)
{
    struct gw_bulkhead *b = NULL;
    TD_ASSERT_OK(gw_bulkhead_new(&bcfg, &b));
    struct gw_bulkhead_ticket t[5];
    int retry = 0;
    for (int i = 0; i < 4; i++)
        TD_ASSERT_OK(gw_bulkhead_enter(b, GW_UP_DIARY, false, &t[i], &retry));
    cr_assert_eq(gw_bulkhead_enter(b, GW_UP_DIARY, false, &t[4], &retry), TD_EDOWN);
    cr_assert_geq(retry, 1);
    /* Another daemon has its own cap. */
    TD_ASSERT_OK(gw_bulkhead_enter(b, GW_UP_AUTH, false, &t[4], &retry));
    gw_bulkhead_leave(b, &t[4], 0);
    /* A full cap, or a call that just timed out with none answered since,
     * makes the daemon unresponsive to /ready. */
    cr_assert(gw_bulkhead_unresponsive(b, GW_UP_DIARY, 1000), "every slot taken");
    gw_bulkhead_leave(b, &t[0], TD_ETIMEDOUT);
    cr_assert(gw_bulkhead_unresponsive(b, GW_UP_DIARY, 1000), "it just timed out");
    for (int i = 1; i < 4; i++)
        gw_bulkhead_leave(b, &t[i], 0);
    cr_assert_not(gw_bulkhead_unresponsive(b, GW_UP_DIARY, 1000), "answered since");
    TD_ASSERT_OK(gw_bulkhead_enter(b, GW_UP_DIARY, false, &t[0], &retry));
    gw_bulkhead_leave(b, &t[0], 0);
    struct gw_bulkhead_stats st;
    gw_bulkhead_stats(b, &st);
    cr_assert_eq(st.shed[GW_UP_DIARY], 1);
    cr_assert_eq(st.in_flight[GW_UP_DIARY], 0);
    gw_bulkhead_free(&b);
    cr_assert_null(b);
}

struct checker {
    struct gw_bulkhead *b;
    atomic_int *order;
    int admitted_as;
    int rc;
};

static void *check_main(void *arg)
{
    struct checker *c = arg;
    struct gw_bulkhead_ticket t;
    int retry = 0;
    c->rc = gw_bulkhead_enter(c->b, GW_UP_AUTH, true, &t, &retry);
    if (c->rc == 0) {
        c->admitted_as = atomic_fetch_add(c->order, 1);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        gw_bulkhead_leave(c->b, &t, 0);
    }
    return NULL;
}

Test(bulkhead, password_checks_wait_their_turn_one_at_a_time)
{
    struct gw_bulkhead *b = NULL;
    TD_ASSERT_OK(gw_bulkhead_new(&bcfg, &b));
    /* Hold the only slot, queue three behind it (the auth cap of 4 counts
     * waiting checks too), then let them through in order. */
    struct gw_bulkhead_ticket first;
    int retry = 0;
    TD_ASSERT_OK(gw_bulkhead_enter(b, GW_UP_AUTH, true, &first, &retry));
    atomic_int order = 0;
    struct checker c[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (struct checker){.b = b, .order = &order, .admitted_as = -1};
        cr_assert_eq(pthread_create(&t[i], NULL, check_main, &c[i]), 0);
        struct gw_bulkhead_stats st;
        for (int spin = 0; spin < 1000; spin++) {
            gw_bulkhead_stats(b, &st);
            if (st.pwhash_waiting == (unsigned)i + 1)
                break;
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        cr_assert_eq(st.pwhash_waiting, (unsigned)i + 1);
    }
    /* A fifth is over the cap: refused at once. */
    struct gw_bulkhead_ticket extra;
    cr_assert_eq(gw_bulkhead_enter(b, GW_UP_AUTH, true, &extra, &retry), TD_EDOWN);
    cr_assert_geq(retry, 1);
    gw_bulkhead_leave(b, &first, 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(c[i].rc, 0);
        cr_assert_eq(c[i].admitted_as, i, "checker %d went in as number %d", i, c[i].admitted_as);
    }
    struct gw_bulkhead_stats st;
    gw_bulkhead_stats(b, &st);
    cr_assert_eq(st.pwhash_waiting, 0);
    cr_assert_eq(st.pwhash_shed, 1);
    cr_assert_gt(st.pwhash_seconds, 0.0);
    gw_bulkhead_free(&b);
}

Test(bulkhead, a_check_whose_wait_would_be_too_long_is_shed_with_that_wait)
{
    struct gw_config cfg = bcfg;
    cfg.upstream_max_inflight = 64;
    cfg.pwhash_queue_ms = 150; /* one check is guessed at 100 ms */
    struct gw_bulkhead *b = NULL;
    TD_ASSERT_OK(gw_bulkhead_new(&cfg, &b));
    struct gw_bulkhead_ticket first;
    int retry = 0;
    TD_ASSERT_OK(gw_bulkhead_enter(b, GW_UP_AUTH, true, &first, &retry));
    atomic_int order = 0;
    struct checker one = {.b = b, .order = &order, .admitted_as = -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, check_main, &one), 0); /* waits ~100 ms: queued */
    struct gw_bulkhead_stats st;
    for (int spin = 0; spin < 1000; spin++) {
        gw_bulkhead_stats(b, &st);
        if (st.pwhash_waiting == 1)
            break;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(st.pwhash_waiting, 1);
    struct gw_bulkhead_ticket late;
    cr_assert_eq(gw_bulkhead_enter(b, GW_UP_AUTH, true, &late, &retry), TD_EDOWN,
                 "a second round (~200 ms) is over the 150 ms bound");
    cr_assert_eq(retry, 1);
    gw_bulkhead_leave(b, &first, 0);
    pthread_join(t, NULL);
    cr_assert_eq(one.rc, 0);
    gw_bulkhead_free(&b);
}
