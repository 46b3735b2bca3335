/*
 * td_accept_watch.c — see td_accept_watch.h. Three steps per listener:
 *
 *   1. Suspicion: nng's listener statistics count failed accepts by kind,
 *      and the kinds that end accepting (NNG_ECLOSED, NNG_ECANCELED) land in
 *      "other" and "canceled" (src/core/listener.c, listener_accept_cb). So
 *      do the errors of the connections it accepted (nni_pipe_bump_error,
 *      src/core/pipe.c): every peer that hangs up cleanly adds one. A grown
 *      count is only a suspicion.
 *   2. Cleared by any later accept: a stopped listener never accepts again.
 *   3. Confirmed when, still suspected, the kernel holds more established
 *      connections on the listener's port than the listener has open pipes,
 *      at every look for TD_ACCEPT_STUCK_AFTER_MS: someone finished a
 *      handshake and waits unaccepted.
 *
 * Before step 3 existed, every peer that hung up made the watcher replace
 * the listener, which closed every other peer's connection on it.
 */
#include "td_accept_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool td_accept_watch_look(struct td_accept_watch *w, const struct td_listener_counts *c,
                          unsigned port, int64_t now_ms, td_established_fn established,
                          void *arg)
{
    if (c->ended > w->ended) {
        w->ended = c->ended;
        w->suspected = true;
        w->accepted = c->accepted;
        w->waiting_since = 0;
        return false;
    }
    if (!w->suspected)
        return false;
    if (c->accepted > w->accepted) {
        w->suspected = false; /* it accepted since: still accepting */
        return false;
    }
    /* Unknown (no port, no /proc): assume the worst, as if someone waits;
     * replacing a listener costs its peers a reconnect, a stopped one costs
     * every new caller everything. */
    long n = port != 0 ? established(port, arg) : -1;
    if (n >= 0 && n <= (long)c->pipes) {
        w->waiting_since = 0;
        return false;
    }
    if (w->waiting_since == 0)
        w->waiting_since = now_ms;
    return now_ms - w->waiting_since >= TD_ACCEPT_STUCK_AFTER_MS;
}

long td_established_in(const char *table, unsigned port)
{
    FILE *f = fopen(table, "r");
    if (f == NULL)
        return -1;
    char line[512];
    long n = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* the header line */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        /* "  sl  local_address rem_address   st ...": addresses as HEX:PORT,
         * the state in hex, 01 for ESTABLISHED. */
        char local[64];
        unsigned state;
        if (sscanf(line, "%*s %63s %*s %x", local, &state) != 2)
            continue;
        const char *colon = strrchr(local, ':');
        if (colon != NULL && strtoul(colon + 1, NULL, 16) == port && state == 0x01)
            n++;
    }
    fclose(f);
    return n;
}

long td_established_on_host(unsigned port, void *unused)
{
    (void)unused;
    /* /proc/self/net, not /proc/net: the same table (this process's network
     * namespace), and still there under systemd's ProcSubset=pid
     * (ops/systemd/td-auth.service), which hides /proc/net. */
    long v4 = td_established_in("/proc/self/net/tcp", port);
    long v6 = td_established_in("/proc/self/net/tcp6", port);
    if (v4 < 0 && v6 < 0)
        return -1;
    return (v4 > 0 ? v4 : 0) + (v6 > 0 ? v6 : 0);
}
