/*
 * td_accept_watch.h — deciding that an nng TLS listener has stopped
 * accepting (docs/library-notes.md, "A TLS listener stops accepting"),
 * from its statistics and the kernel's view of its port, without taking a
 * peer's ordinary hang-up for it. Pure bookkeeping; the watcher thread in
 * common/td_rpc_transport.c reads the numbers and replaces the listener.
 */
#ifndef TD_ACCEPT_WATCH_H
#define TD_ACCEPT_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* How long a connection may wait unaccepted on a suspected listener before
 * the listener counts as stopped: a handshake in progress takes
 * milliseconds, one that waits on a stopped listener waits for ever. */
#define TD_ACCEPT_STUCK_AFTER_MS 1000

/* What nng's statistics say of one listener. */
struct td_listener_counts {
    uint64_t ended;    /* "other" + "canceled": the kinds that end accepting */
    uint64_t accepted; /* "accept" */
    uint64_t pipes;    /* "pipes": the connections it accepted that are open */
};

/* One listener's state between looks; zero it for a new listener. */
struct td_accept_watch {
    uint64_t ended;        /* "other" + "canceled" at the last look */
    bool suspected;        /* it grew since the last accept */
    uint64_t accepted;     /* "accept" when it last grew */
    int64_t waiting_since; /* when a connection was first seen waiting, or 0 */
};

/* Counts the kernel's established connections to `port` on this host. */
typedef long (*td_established_fn)(unsigned port, void *arg);

/* One look at a listener on `port`: true when it has stopped accepting and
 * must be replaced. `established` is called only while the listener is
 * suspected and has accepted nothing since; when it cannot tell (-1), or
 * `port` is 0, a connection is assumed to wait. */
bool td_accept_watch_look(struct td_accept_watch *w, const struct td_listener_counts *c,
                          unsigned port, int64_t now_ms, td_established_fn established,
                          void *arg);

/* Established TCP connections whose local port is `port` in a table in the
 * format of /proc/net/tcp (or tcp6); -1 when it cannot be read. */
long td_established_in(const char *table, unsigned port);

/* td_established_fn over this process's /proc/self/net/tcp and tcp6. */
long td_established_on_host(unsigned port, void *unused);

#endif
