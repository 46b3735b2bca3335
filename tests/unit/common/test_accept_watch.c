/*
 * test_accept_watch.c — the decision that an nng TLS listener stopped
 * accepting (common/td_accept_watch.h), on made-up statistics and a made-up
 * kernel view, looked at every 100 ms like the watcher does; and the
 * /proc/net/tcp reader on a file in that format and on this host.
 */
#include "td_accept_watch.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#define PORT 40000

/* The kernel's view, as the test sets it; counts the calls. */
struct kernel {
    long established;
    int asked;
};

static long kernel_view(unsigned port, void *arg)
{
    struct kernel *k = arg;
    cr_assert_eq(port, PORT);
    k->asked++;
    return k->established;
}

/* Looks every 100 ms from `*now` for `ms`; the first look that says
 * "replace" ends it. Returns the time of that look, or -1. */
static int64_t look_for(struct td_accept_watch *w, const struct td_listener_counts *c,
                        struct kernel *k, int64_t *now, int ms)
{
    for (int64_t end = *now + ms; *now <= end; *now += 100) {
        if (td_accept_watch_look(w, c, PORT, *now, kernel_view, k))
            return *now;
    }
    return -1;
}

Test(accept_watch, a_peer_that_hangs_up_is_not_a_stopped_listener)
{
    /* Four peers connected; one leaves: its connection's error counts as
     * "other", and the kernel shows three connections for three pipes. */
    struct td_accept_watch w = {0};
    struct kernel k = {.established = 4};
    int64_t now = 1000;
    struct td_listener_counts c = {.ended = 0, .accepted = 4, .pipes = 4};
    cr_assert_eq(look_for(&w, &c, &k, &now, 500), -1);
    c.ended = 1, c.pipes = 3, k.established = 3;
    cr_assert_eq(look_for(&w, &c, &k, &now, 10000), -1, "a clean hang-up replaced the listener");
    cr_assert_gt(k.asked, 0, "the kernel was never asked: the suspicion was not raised");
}

Test(accept_watch, an_accept_after_the_suspicion_clears_it)
{
    struct td_accept_watch w = {0};
    struct kernel k = {.established = 4};
    int64_t now = 1000;
    struct td_listener_counts c = {.ended = 1, .accepted = 4, .pipes = 4};
    cr_assert_eq(look_for(&w, &c, &k, &now, 0), -1); /* suspected */
    c.accepted = 5;                                  /* then it accepted a caller */
    k.established = 9;                               /* even with many arriving */
    int asked = k.asked;
    cr_assert_eq(look_for(&w, &c, &k, &now, 10000), -1);
    cr_assert_eq(k.asked, asked, "a listener seen accepting was still checked");
}

Test(accept_watch, a_caller_waiting_on_a_stopped_listener_replaces_it_after_a_second)
{
    struct td_accept_watch w = {0};
    struct kernel k = {.established = 4};
    int64_t now = 1000;
    struct td_listener_counts c = {.ended = 0, .accepted = 4, .pipes = 4};
    cr_assert_eq(look_for(&w, &c, &k, &now, 300), -1);
    c.ended = 1; /* a peer left mid-handshake: accepting ended */
    cr_assert_eq(look_for(&w, &c, &k, &now, 5000), -1, "replaced while nobody waited");
    k.established = 5; /* a caller finished its handshake and waits */
    int64_t since = now;
    int64_t at = look_for(&w, &c, &k, &now, 5000);
    cr_assert_geq(at - since, TD_ACCEPT_STUCK_AFTER_MS, "replaced after %lld ms",
                  (long long)(at - since));
    cr_assert_leq(at - since, TD_ACCEPT_STUCK_AFTER_MS + 100, "replaced after %lld ms",
                  (long long)(at - since));
}

Test(accept_watch, a_handshake_in_progress_is_not_a_waiting_caller)
{
    /* Suspected; callers come and go, each seen for 300 ms, never a second. */
    struct td_accept_watch w = {0};
    struct kernel k = {.established = 2};
    int64_t now = 1000;
    struct td_listener_counts c = {.ended = 1, .accepted = 2, .pipes = 2};
    for (int i = 0; i < 10; i++) {
        k.established = 3;
        cr_assert_eq(look_for(&w, &c, &k, &now, 300), -1);
        k.established = 2;
        cr_assert_eq(look_for(&w, &c, &k, &now, 300), -1);
    }
}

Test(accept_watch, without_a_kernel_view_a_suspected_listener_is_replaced)
{
    struct td_accept_watch w = {0};
    struct kernel k = {.established = -1}; /* no /proc/net/tcp */
    int64_t now = 1000;
    struct td_listener_counts c = {.ended = 1, .accepted = 2, .pipes = 2};
    int64_t first = now;
    int64_t at = look_for(&w, &c, &k, &now, 5000);
    cr_assert_gt(at, 0, "a listener that may have stopped was kept for ever");
    cr_assert_geq(at - first, TD_ACCEPT_STUCK_AFTER_MS);
}

Test(accept_watch, established_connections_are_counted_from_the_kernel_table)
{
    char path[] = "/tmp/td-proc-tcp-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    /* 0x9C40 = 40000: listening (0A), two callers connected (01), one
     * closing (08); the last line is a caller's own end (local port 0xD431),
     * which is not a connection to 40000. */
    fputs("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n"
          "   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
          "       0 1 1 0000000000000000 100 0 0 10 0\n"
          "   1: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0 "
          "       0 2 1 0000000000000000 20 4 30 10 -1\n"
          "   2: 0100007F:9C40 0100007F:D432 01 00000000:00000000 00:00000000 00000000     0 "
          "       0 3 1 0000000000000000 20 4 30 10 -1\n"
          "   3: 0100007F:9C40 0100007F:D433 08 00000000:00000000 00:00000000 00000000     0 "
          "       0 4 1 0000000000000000 20 4 30 10 -1\n"
          "   4: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0 "
          "       0 5 1 0000000000000000 20 4 30 10 -1\n",
          f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(td_established_in(path, 40000), 2);
    cr_assert_eq(td_established_in(path, 0xD431), 1);
    cr_assert_eq(td_established_in(path, 1), 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(td_established_in(path, 40000), -1);
}

Test(accept_watch, this_hosts_connections_are_seen)
{
    /* A listener on a free loopback port, and one connection to it. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(l, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    cr_assert_eq(listen(l, 4), 0);
    unsigned port = ntohs(a.sin_port);
    cr_assert_eq(td_established_on_host(port, NULL), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    /* Established as soon as the kernel finished the handshake, accepted or
     * not: what a caller waiting on a stopped listener looks like. */
    cr_assert_eq(td_established_on_host(port, NULL), 1);
    int s = accept(l, NULL, NULL);
    cr_assert_geq(s, 0);
    cr_assert_eq(td_established_on_host(port, NULL), 1);
    close(c);
    close(s);
    close(l);
}
