/*
 * td_rpc_reaper.c — the reaper watch of td_rpc.h: notices when nng's reaper
 * has stopped for good.
 *
 * nng 1.5.2 tears every connection down on one thread per process, and that
 * thread blocks for ever when a connection is closed while a read on it has
 * just completed (docs/library-notes.md, "nng's reaper can wedge";
 * tests/library/nng_reaper_wedge.c shows it happen). Nothing fails at
 * once: calls go on over the live connections. But a dialer dials again only once its
 * dead connection has been torn down, so from then on a peer that dies is
 * never dialled again, and every closed connection keeps its file
 * descriptor. This process cannot recover; a new one can.
 *
 * So the watch keeps one canary connection inside the process (two bus0
 * sockets over inproc) and, every period, closes it: a healthy reaper tears
 * it down (NNG_PIPE_EV_REM_POST runs on the reaper) and the dialer makes a
 * new one. A teardown still missing stuck_ms after the close means the
 * reaper is wedged: the watch logs nng_reaper_wedged and calls on_wedged
 * once, then stops looking (a wedged reaper never resumes).
 */
#include "td_rpc.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <nng/nng.h>
#include <nng/protocol/bus0/bus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

/* How long the dialer waits before it dials the canary again. */
#define CANARY_REDIAL_MS 10

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_wake = PTHREAD_COND_INITIALIZER;
static struct td_rpc_reaper_watch_opts watch_opts;
static bool watch_running, watch_quit;
static pthread_t watch_thread;
static nng_socket canary_listen, canary_dial;
static uint32_t canary_pipe;  /* the dialer's live canary connection; 0: none */
static uint32_t awaited_pipe; /* the one closed last, whose teardown is awaited */
static bool awaited_gone;     /* the reaper has torn awaited_pipe down */
static atomic_bool reaper_wedged;
static atomic_uint_fast64_t teardowns_seen;

bool td_rpc_reaper_wedged(void)
{
    return atomic_load(&reaper_wedged);
}

uint64_t td_rpc_reaper_teardowns(void)
{
    return (uint64_t)atomic_load(&teardowns_seen);
}

/* Runs on the dialing thread (ADD_POST) and on the reaper (REM_POST). */
static void canary_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        canary_pipe = nng_pipe_id(p);
    } else {
        uint32_t id = nng_pipe_id(p);
        if (canary_pipe == id)
            canary_pipe = 0;
        if (awaited_pipe == id)
            awaited_gone = true;
        atomic_fetch_add(&teardowns_seen, 1);
    }
    pthread_cond_broadcast(&watch_wake);
    pthread_mutex_unlock(&watch_lock);
}

/* Waits on watch_wake until `due` (td_mono_ms) or a wake-up. Called with
 * watch_lock held. */
static void wait_until_locked(int64_t due)
{
    struct timespec ts = td_realtime_in(due - td_mono_ms());
    pthread_cond_timedwait(&watch_wake, &watch_lock, &ts);
}

static void *watch_main(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "reaper-watch");
    pthread_mutex_lock(&watch_lock);
    while (!watch_quit) {
        /* A period between checks; another while the canary has not come
         * back (the dialer redials it after each teardown). */
        int64_t next = td_mono_ms() + watch_opts.period_ms;
        while (!watch_quit && td_mono_ms() < next)
            wait_until_locked(next);
        if (watch_quit || canary_pipe == 0)
            continue;
        uint32_t closing = canary_pipe;
        awaited_pipe = closing;
        awaited_gone = false;
        pthread_mutex_unlock(&watch_lock);
        nng_pipe p = {.id = closing};
        /* Only the watch closes the canary, so this cannot fail but with
         * NNG_ENOENT for a connection already torn down, which the wait
         * below sees at once. */
        (void)nng_pipe_close(p);
        pthread_mutex_lock(&watch_lock);
        int64_t due = td_mono_ms() + watch_opts.stuck_ms;
        while (!watch_quit && !awaited_gone && td_mono_ms() < due)
            wait_until_locked(due);
        if (watch_quit || awaited_gone)
            continue;
        atomic_store(&reaper_wedged, true);
        pthread_mutex_unlock(&watch_lock);
        TD_LOG(TD_LOG_ERR, "nng_reaper_wedged",
               "nng has not torn a closed connection down in %d ms: its reaper is stuck "
               "(docs/library-notes.md), so peers that die will not be dialled again; "
               "this process should be replaced",
               watch_opts.stuck_ms);
        if (watch_opts.on_wedged != NULL)
            watch_opts.on_wedged();
        pthread_mutex_lock(&watch_lock);
        break;
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

int td_rpc_reaper_watch_start(const struct td_rpc_reaper_watch_opts *opts)
{
    if (opts->period_ms <= 0 || opts->stuck_ms <= 0)
        return TD_EINVAL;
    pthread_mutex_lock(&watch_lock);
    if (watch_running) {
        pthread_mutex_unlock(&watch_lock);
        return TD_EINVAL;
    }
    watch_opts = *opts;
    watch_quit = false;
    canary_pipe = awaited_pipe = 0; /* before the dial: its ADD_POST may come at once */
    awaited_gone = false;
    atomic_store(&reaper_wedged, false);
    pthread_mutex_unlock(&watch_lock);
    char url[64];
    snprintf(url, sizeof url, "inproc://td-reaper-watch-%ld", (long)getpid());
    bool listen_open = false, dial_open = false;
    int rv = nng_bus0_open(&canary_listen);
    listen_open = rv == 0;
    rv = rv ? rv : nng_bus0_open(&canary_dial);
    dial_open = listen_open && rv == 0;
    rv = rv ? rv : nng_pipe_notify(canary_dial, NNG_PIPE_EV_ADD_POST, canary_event, NULL);
    rv = rv ? rv : nng_pipe_notify(canary_dial, NNG_PIPE_EV_REM_POST, canary_event, NULL);
    rv = rv ? rv : nng_socket_set_ms(canary_dial, NNG_OPT_RECONNMINT, CANARY_REDIAL_MS);
    rv = rv ? rv : nng_socket_set_ms(canary_dial, NNG_OPT_RECONNMAXT, CANARY_REDIAL_MS);
    rv = rv ? rv : nng_listen(canary_listen, url, NULL, 0);
    rv = rv ? rv : nng_dial(canary_dial, url, NULL, NNG_FLAG_NONBLOCK);
    pthread_mutex_lock(&watch_lock);
    if (rv == 0 && pthread_create(&watch_thread, NULL, watch_main, NULL) != 0)
        rv = NNG_ENOMEM;
    watch_running = rv == 0;
    pthread_mutex_unlock(&watch_lock);
    if (rv != 0) {
        TD_LOG(TD_LOG_WARN, "reaper_watch_unarmed", "cannot watch nng's reaper: %s",
               nng_strerror(rv));
        if (dial_open)
            nng_close(canary_dial);
        if (listen_open)
            nng_close(canary_listen);
        return TD_EINTERNAL;
    }
    return 0;
}

void td_rpc_reaper_watch_stop(void)
{
    pthread_mutex_lock(&watch_lock);
    if (!watch_running) {
        pthread_mutex_unlock(&watch_lock);
        return;
    }
    watch_quit = true;
    pthread_cond_broadcast(&watch_wake);
    pthread_mutex_unlock(&watch_lock);
    pthread_join(watch_thread, NULL);
    pthread_mutex_lock(&watch_lock);
    watch_running = false;
    pthread_mutex_unlock(&watch_lock);
    /* A wedged reaper would hold these closes for ever (they wait for
     * their connections' teardown); the process's exit takes them. */
    if (!td_rpc_reaper_wedged()) {
        nng_close(canary_dial);
        nng_close(canary_listen);
    }
}
