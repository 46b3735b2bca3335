/*
 * test_edge_slow.c — the edge under slow clients (issue 13): forty
 * connections that send their headers, or their body, a byte at a time must
 * not keep /health waiting; every request has one deadline for headers and
 * body together (408 when it passes); a client address past
 * GATEWAY_MAX_CLIENT_CONNECTIONS is answered 503 with Retry-After at once.
 *
 * The stack runs with the test defaults (32 workers, 8 of them reserved),
 * a 3 s request deadline and a cap of 8 connections per address. Before the
 * gate, /health waited 10 s behind forty slow header senders and never
 * answered behind forty slow bodies.
 */
#include "edge_raw.h"
#include "suite.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#define DEADLINE_MS 3000
#define PER_ADDRESS 8
#define SLOW 40

TH_STACK_SUITE(edge_slow_clients, 120,
               .env = {"GATEWAY_REQUEST_TIMEOUT_MS=3000", "GATEWAY_MAX_CLIENT_CONNECTIONS=8"});

/* ---- slow clients -------------------------------------------------------- */

struct dribbler {
    int *fds;
    int n;
    int every_ms;
    atomic_bool stop;
    pthread_t thread;
};

/* Sends one byte to every connection every `every_ms`, until told to stop;
 * a connection the gateway closed just fails its sends. */
static void *dribble_main(void *arg)
{
    struct dribbler *d = arg;
    while (!atomic_load(&d->stop)) {
        for (int i = 0; i < d->n; i++) {
            if (d->fds[i] >= 0)
                (void)!send(d->fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        for (int slept = 0; slept < d->every_ms && !atomic_load(&d->stop); slept += 50)
            raw_sleep_ms(50);
    }
    return NULL;
}

static void dribble_start(struct dribbler *d, int *fds, int n, int every_ms)
{
    d->fds = fds;
    d->n = n;
    d->every_ms = every_ms;
    atomic_init(&d->stop, false);
    cr_assert_eq(pthread_create(&d->thread, NULL, dribble_main, d), 0);
}

static void dribble_stop(struct dribbler *d)
{
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
}

/* Opens n connections, the i-th from src(i), each sending `start`. */
static void open_slow(int *fds, int n, const char *(*src)(int), const char *start)
{
    for (int i = 0; i < n; i++) {
        fds[i] = raw_connect(stack.http_port, src(i));
        cr_assert_geq(fds[i], 0, "connection %d", i);
        cr_assert(raw_send_str(fds[i], start), "connection %d", i);
    }
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static const char *one_address(int i)
{
    (void)i;
    return "127.0.0.2";
}

/* 127.0.1.10, 127.0.1.11, ...: one connection per address, so the
 * per-address cap never applies and only the worker reserve protects. */
static const char *many_addresses(int i)
{
    static __thread char buf[32];
    snprintf(buf, sizeof buf, "127.0.1.%d", 10 + i);
    return buf;
}

/* /health from a client of its own, ten times over a second: each must be
 * 200, and quick. */
static void assert_health_stays_fast(const char *what)
{
    double ms[10];
    for (int i = 0; i < 10; i++) {
        int st = raw_probe(stack.http_port, "127.0.0.1", "/health", 2000, &ms[i]);
        cr_assert_eq(st, 200, "%s: /health probe %d answered %d after %.0f ms", what, i, st,
                     ms[i]);
        cr_assert_lt(ms[i], 1000.0, "%s: /health probe %d took %.0f ms", what, i, ms[i]);
        raw_sleep_ms(100);
    }
    double median = raw_median(ms, 10);
    fprintf(stderr, "edge_slow: %s: /health median %.1f ms, max %.1f ms\n", what, median, ms[9]);
    cr_assert_lt(median, 100.0, "%s: /health median %.0f ms", what, median);
}

/* Every slow connection must have been answered (408, or 503 when it was
 * refused) and closed within the deadline plus slack from when it opened. */
static void assert_all_cut(int *fds, int n, double opened_ms)
{
    int cut408 = 0, refused503 = 0;
    for (int i = 0; i < n; i++) {
        char out[4096];
        bool closed = false;
        int left = (int)(opened_ms + DEADLINE_MS + 2000 - raw_now_ms());
        raw_read_all(fds[i], out, sizeof out, left > 0 ? left : 1, &closed);
        cr_assert(closed, "slow connection %d still open %.0f ms after it opened: %.200s", i,
                  raw_now_ms() - opened_ms, out);
        if (strncmp(out, "HTTP/1.1 408", 12) == 0) {
            cr_assert_not_null(strstr(out, "\"error\":\"request_timeout\""), "%s", out);
            cut408++;
        } else {
            cr_assert(strncmp(out, "HTTP/1.1 503", 12) == 0,
                      "slow connection %d: want 408 or 503, got: %.300s", i, out);
            cr_assert_not_null(strcasestr(out, "\r\nRetry-After: "), "%s", out);
            refused503++;
        }
    }
    fprintf(stderr, "edge_slow: %d cut with 408, %d refused with 503\n", cut408, refused503);
    cr_assert_gt(cut408, 0, "no request reached its deadline");
}

Test(edge_slow_clients, forty_slow_header_senders_on_one_address_are_capped)
{
    int fds[SLOW];
    open_slow(fds, SLOW, one_address, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    struct dribbler d;
    dribble_start(&d, fds, SLOW, 500);
    raw_sleep_ms(300);
    assert_health_stays_fast("40 slow header senders, one address");
    /* Past the cap, each connection was answered at once. */
    int refused = 0;
    for (int i = PER_ADDRESS; i < SLOW; i++) {
        char out[4096];
        if (raw_read_response(fds[i], out, sizeof out, 500) == 503) {
            char v[32];
            cr_assert(raw_header(out, "Retry-After", v, sizeof v), "%s", out);
            cr_assert_geq(atoi(v), 1);
            cr_assert_not_null(strstr(out, "\"error\":\"service_unavailable\""), "%s", out);
            refused++;
        }
    }
    dribble_stop(&d);
    close_all(fds, SLOW);
    cr_assert_eq(refused, SLOW - PER_ADDRESS, "%d of %d over the cap were refused", refused,
                 SLOW - PER_ADDRESS);
    cr_assert_geq(th_wait_metric(stack.base_url,
                                 "td_http_connections_refused_total{reason=\"client_limit\"}",
                                 SLOW - PER_ADDRESS, TH_WAIT_MS),
                  SLOW - PER_ADDRESS);
}

Test(edge_slow_clients, forty_slow_header_senders_on_forty_addresses_leave_health_fast)
{
    int fds[SLOW];
    double opened = raw_now_ms();
    open_slow(fds, SLOW, many_addresses, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    struct dribbler d;
    dribble_start(&d, fds, SLOW, 500);
    raw_sleep_ms(500);
    assert_health_stays_fast("40 slow header senders, 40 addresses");
    /* New work is answered at once (served, or 503 with Retry-After), never
     * left waiting behind the slow clients. */
    double ms;
    int st = raw_probe(stack.http_port, "127.0.0.1", "/version", 2000, &ms);
    cr_assert(st == 200 || st == 503, "/version: %d", st);
    cr_assert_lt(ms, 1000.0, "/version took %.0f ms", ms);
    assert_all_cut(fds, SLOW, opened);
    dribble_stop(&d);
    close_all(fds, SLOW);
    cr_assert_geq(th_wait_metric(stack.base_url, "td_http_request_timeouts_total", 1, TH_WAIT_MS),
                  1);
}

Test(edge_slow_clients, forty_slow_bodies_leave_health_fast_and_end_at_the_deadline)
{
    int fds[SLOW];
    double opened = raw_now_ms();
    /* The headers arrive whole; the body then comes a byte every 2 s. */
    open_slow(fds, SLOW, many_addresses,
              "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Content-Length: 100\r\n\r\n{");
    struct dribbler d;
    dribble_start(&d, fds, SLOW, 2000);
    raw_sleep_ms(500);
    assert_health_stays_fast("40 slow bodies");
    assert_all_cut(fds, SLOW, opened);
    dribble_stop(&d);
    close_all(fds, SLOW);
}

Test(edge_slow_clients, headers_dribbled_within_every_read_timeout_still_end_at_the_deadline)
{
    /* A byte every 250 ms: civetweb's per-read timeout never fires; the
     * request's own deadline does, with a 408 in the API's shape. */
    int fd = raw_connect(stack.http_port, "127.0.0.5");
    cr_assert_geq(fd, 0);
    double t0 = raw_now_ms();
    cr_assert(raw_send_str(fd, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    char out[4096] = "";
    int status = -1;
    while (raw_now_ms() - t0 < DEADLINE_MS + 3000 && status < 0) {
        (void)!send(fd, "a", 1, MSG_NOSIGNAL);
        status = raw_read_response(fd, out, sizeof out, 250);
    }
    double took = raw_now_ms() - t0;
    close(fd);
    cr_assert_eq(status, 408, "after %.0f ms: %.300s", took, out);
    cr_assert_not_null(strstr(out, "\"error\":\"request_timeout\""), "%s", out);
    cr_assert_not_null(strcasestr(out, "\r\nX-Request-ID: "), "%s", out);
    cr_assert_geq(took, DEADLINE_MS - 200.0, "cut after %.0f ms, before its deadline", took);
    cr_assert_lt(took, DEADLINE_MS + 1500.0, "cut only after %.0f ms", took);
}

static bool address_served(void *arg)
{
    double ms;
    return raw_probe(stack.http_port, arg, "/health", 2000, &ms) == 200;
}

Test(edge_slow_clients, an_address_over_its_connection_cap_gets_503_at_once)
{
    int idle[PER_ADDRESS];
    for (int i = 0; i < PER_ADDRESS; i++) {
        idle[i] = raw_connect(stack.http_port, "127.0.0.3");
        cr_assert_geq(idle[i], 0);
    }
    /* The idle connections are registered by the time their accept has
     * run; the next one from the same address is over the cap. */
    raw_sleep_ms(200);
    int extra = raw_connect(stack.http_port, "127.0.0.3");
    cr_assert_geq(extra, 0);
    double t0 = raw_now_ms();
    char out[4096];
    bool closed = false;
    raw_read_all(extra, out, sizeof out, 2000, &closed);
    double took = raw_now_ms() - t0;
    close(extra);
    cr_assert(strncmp(out, "HTTP/1.1 503", 12) == 0, "over the cap: %.300s", out);
    cr_assert(closed, "the refused connection stayed open");
    cr_assert_lt(took, 1000.0, "refused only after %.0f ms", took);
    char v[32];
    cr_assert(raw_header(out, "Retry-After", v, sizeof v), "%s", out);
    cr_assert(raw_header(out, "X-Request-ID", v, sizeof v), "%s", out);
    cr_assert_not_null(strstr(out, "\"error\":\"service_unavailable\""), "%s", out);

    /* Other addresses are not affected. */
    double ms;
    cr_assert_eq(raw_probe(stack.http_port, "127.0.0.4", "/health", 2000, &ms), 200);

    /* Once its connections close (the gateway notices at its next read),
     * the address is served again. */
    close_all(idle, PER_ADDRESS);
    cr_assert(th_wait_until(address_served, "127.0.0.3", TH_WAIT_MS),
              "the address stayed refused after closing its connections");
}
