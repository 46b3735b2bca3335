/*
 * td_rpc_transport.c — where RPC sockets listen and dial, and who may reach
 * them: the one owner of URL schemes, ipc socket permissions, mutual TLS and
 * the production policy on plain tcp (td_rpc.h, "Transports").
 *
 * nng 1.5.2 cannot tell a server which certificate its peer presented, only
 * whether it was verified (docs/library-notes.md), so a tls+tcp listener trusts exactly one role's CA: whoever
 * completes the handshake there has that role, and the RPC server checks
 * every operation against the roles of the endpoint it arrived on. A dialer
 * trusts only the CA of the role it expects to reach, so a process that
 * takes over a daemon's address without that role's key never receives a
 * request.
 */
#include "td_rpc.h"
#include "td_accept_watch.h"
#include "td_rpc_names.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The process's identity for tls+tcp: set once at start-up, before any
 * socket exists, then only read. */
static char tls_dir[PATH_MAX];
static unsigned tls_self;

int td_rpc_tls_setup(const char *dir, unsigned self_role)
{
    if (dir == NULL || dir[0] == '\0') {
        tls_dir[0] = '\0';
        tls_self = 0;
        return 0;
    }
    const char *self = td_role_name(self_role);
    if (self == NULL || strlen(dir) >= sizeof tls_dir - 32)
        return TD_EINVAL;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.pem", dir, self);
    if (access(path, R_OK) != 0) {
        TD_LOG(TD_LOG_ERR, "rpc_tls_missing", "cannot read %s: %s", path, strerror(errno));
        return TD_EINVAL;
    }
    snprintf(tls_dir, sizeof tls_dir, "%s", dir);
    tls_self = self_role;
    return 0;
}

static bool is_tls(const char *url)
{
    return strncmp(url, "tls+tcp://", 10) == 0;
}

/* A TLS configuration that presents our certificate and trusts only the CA
 * of `trusted` (one role). NULL on failure, logged. */
static nng_tls_config *tls_config(nng_tls_mode mode, unsigned trusted, const char *server_name)
{
    const char *peer = td_role_name(trusted);
    if (tls_dir[0] == '\0' || peer == NULL) {
        TD_LOG(TD_LOG_ERR, "rpc_tls_unconfigured",
               "a tls+tcp:// URL needs RPC_TLS_DIR and exactly one peer role");
        return NULL;
    }
    /* tls_dir is at most PATH_MAX - 32 long (td_rpc_tls_setup). */
    char own[PATH_MAX + 32], ca[PATH_MAX + 32];
    snprintf(own, sizeof own, "%s/%s.pem", tls_dir, td_role_name(tls_self));
    snprintf(ca, sizeof ca, "%s/ca-%s.pem", tls_dir, peer);
    nng_tls_config *cfg = NULL;
    int rv = nng_tls_config_alloc(&cfg, mode);
    if (rv == 0 && (rv = nng_tls_config_cert_key_file(cfg, own, NULL)) != 0)
        TD_LOG(TD_LOG_ERR, "rpc_tls_cert", "cannot load %s: %s", own, nng_strerror(rv));
    if (rv == 0 && (rv = nng_tls_config_ca_file(cfg, ca)) != 0)
        TD_LOG(TD_LOG_ERR, "rpc_tls_ca", "cannot load %s: %s", ca, nng_strerror(rv));
    if (rv == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0 && server_name != NULL)
        rv = nng_tls_config_server_name(cfg, server_name);
    if (rv != 0 && cfg != NULL) {
        nng_tls_config_free(cfg);
        cfg = NULL;
    }
    return cfg;
}

/* The directory of an ipc socket must exist and must not let others create
 * files in it: someone who can would be able to take the socket's name
 * while the daemon restarts. A missing directory is made for the stack's
 * accounts (owner and group). */
static int ipc_dir_ready(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* mkdir -p: each missing level for the stack's accounts. */
        for (char *p = dir + 1;; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
                TD_LOG(TD_LOG_ERR, "rpc_ipc_dir", "cannot create %s: %s", dir, strerror(errno));
                return TD_EINVAL;
            }
            *p = c;
            if (c == '\0')
                break;
        }
        if (chmod(dir, 0770) != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_ipc_dir", "cannot set the mode of %s: %s", dir,
                   strerror(errno));
            return TD_EINVAL;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || (st.st_mode & S_IWOTH)) {
        TD_LOG(TD_LOG_ERR, "rpc_ipc_dir",
               "%s must be a directory that only the stack's accounts can write to", dir);
        return TD_EINVAL;
    }
    return 0;
}

/* A listener on `url`, configured for `callers` but not started: nothing
 * connects to it before the caller has noted its id. */
static int listen_prepare(nng_socket sock, const char *url, unsigned callers, nng_listener *out)
{
    bool ipc = strncmp(url, "ipc://", 6) == 0;
    if (ipc && ipc_dir_ready(url + 6) != 0)
        return NNG_EADDRINVAL;
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv != 0)
        return rv;
    if (ipc) {
        /* Owner and group only (the stack's accounts share a group); the
         * operator's listener, owner only. Set before the file exists. */
        rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS,
                                  callers == TD_ROLE_OPERATOR ? 0600 : 0660);
    } else if (is_tls(url)) {
        nng_tls_config *cfg = tls_config(NNG_TLS_MODE_SERVER, callers, NULL);
        rv = cfg == NULL ? NNG_EINVAL : nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
        if (cfg != NULL)
            nng_tls_config_free(cfg); /* the listener holds its own reference */
    }
    if (rv != 0) {
        nng_listener_close(l);
        return rv;
    }
    *out = l;
    return 0;
}

static int listen_start(nng_listener l)
{
    int rv = nng_listener_start(l, 0);
    if (rv != 0)
        nng_listener_close(l);
    return rv;
}

static int listen_now(nng_socket sock, const char *url, unsigned callers, nng_listener *out)
{
    nng_listener l;
    int rv = listen_prepare(sock, url, callers, &l);
    rv = rv != 0 ? rv : listen_start(l);
    if (rv == 0 && out != NULL)
        *out = l;
    return rv;
}

/* ---- TLS listeners that stop accepting ---------------------------------
 *
 * In nng 1.5.2 a TLS handshake that ends because the peer hung up can fail
 * with NNG_ECLOSED (MBEDTLS_ERR_SSL_CONN_EOF), the transport hands that error
 * to the listener's pending accept, and the listener takes NNG_ECLOSED for
 * its own closing: it never accepts again (src/sp/transport/tls/tls.c,
 * tlstran_pipe_nego_cb; src/core/listener.c, listener_accept_cb). Every
 * connection after that completes its handshake on the client's side and
 * waits unanswered. Nothing in nng's API tells a listener's accepting has
 * ended: a watcher thread looks every WATCH_EVERY_MS, decides from the
 * listener's statistics and the kernel's view of its port
 * (common/td_accept_watch.h), and closes and replaces a stopped listener on
 * the same address. */

#define WATCH_EVERY_MS 100
#define MAX_WATCHED 64

struct watched {
    nng_socket sock;
    nng_listener listener;
    bool listening; /* false after a failed replacement: tried again */
    char url[512];
    unsigned callers;
    struct td_accept_watch state;
    td_rpc_moved_fn moved;
    void *arg;
};

/* watch_life is held while the thread is started or joined (never by the
 * thread itself); watch_lock guards the list and is the thread's. */
static pthread_mutex_t watch_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_wake = PTHREAD_COND_INITIALIZER;
static struct watched watch_list[MAX_WATCHED];
static unsigned watch_count;
static bool watch_running; /* the thread exists (started, not yet joined) */
static bool watch_quit;    /* the thread is asked to leave */
static pthread_t watch_thread;

/* The value of `scope`'s child statistic `name`, 0 when it has none. */
static uint64_t child_value(nng_stat *scope, const char *name)
{
    for (nng_stat *c = nng_stat_child(scope); c != NULL; c = nng_stat_next(c)) {
        if (strcmp(nng_stat_name(c), name) == 0)
            return nng_stat_value(c);
    }
    return 0;
}

/* The scope of listener `id` under `stat`, walked by hand: nng 1.5.2's
 * nng_stat_find_listener ignores the id below the top level and answers
 * the first listener it meets (src/core/stats.c, nng_stat_find_scope). */
static nng_stat *find_listener(nng_stat *stat, uint64_t id)
{
    if (nng_stat_type(stat) != NNG_STAT_SCOPE)
        return NULL;
    if (strcmp(nng_stat_name(stat), "listener") == 0 && child_value(stat, "id") == id)
        return stat;
    for (nng_stat *c = nng_stat_child(stat); c != NULL; c = nng_stat_next(c)) {
        nng_stat *found = find_listener(c, id);
        if (found != NULL)
            return found;
    }
    return NULL;
}

static bool listener_counts(nng_stat *stats, nng_listener l, struct td_listener_counts *out)
{
    nng_stat *ls = find_listener(stats, (uint64_t)nng_listener_id(l));
    if (ls == NULL)
        return false;
    out->ended = child_value(ls, "other") + child_value(ls, "canceled");
    out->accepted = child_value(ls, "accept");
    out->pipes = child_value(ls, "pipes");
    return true;
}

/* The TCP port a listener is bound to; 0 when it has none. */
static unsigned listener_port(nng_listener l)
{
    nng_sockaddr sa;
    if (nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) != 0)
        return 0;
    return sa.s_family == NNG_AF_INET    ? ntohs(sa.s_in.sa_port)
           : sa.s_family == NNG_AF_INET6 ? ntohs(sa.s_in6.sa_port)
                                         : 0;
}

/* Replaces w's listener. Called with watch_lock held. The new listener's
 * id reaches the owner (`moved`) before it accepts: a request that arrives
 * on it is judged by the roles of its endpoint, never by none. */
static void relisten(struct watched *w)
{
    if (w->listening && nng_listener_close(w->listener) != 0)
        TD_LOG(TD_LOG_WARN, "rpc_relisten", "%s: closing the stopped listener failed", w->url);
    w->listening = false;
    nng_listener l;
    int rv = listen_prepare(w->sock, w->url, w->callers, &l);
    if (rv == 0) {
        uint32_t old_id = (uint32_t)nng_listener_id(w->listener);
        if (w->moved != NULL)
            w->moved(w->arg, old_id, (uint32_t)nng_listener_id(l));
        w->listener = l; /* its id is the endpoint's now, started or not */
        rv = listen_start(l);
    }
    if (rv != 0) {
        TD_LOG(TD_LOG_ERR, "rpc_relisten_failed", "%s: cannot listen again: %s", w->url,
               nng_strerror(rv));
        return; /* tried again at the next look */
    }
    w->listening = true;
    w->state = (struct td_accept_watch){0}; /* a new listener counts from zero */
    TD_LOG(TD_LOG_WARN, "rpc_relistened",
           "%s: the listener had stopped accepting (a peer left mid-handshake) while a caller "
           "waited; listening again",
           w->url);
}

static void *watch_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&watch_lock);
    while (!watch_quit) {
        nng_stat *stats = NULL;
        if (nng_stats_get(&stats) == 0) {
            for (unsigned i = 0; i < watch_count; i++) {
                struct watched *w = &watch_list[i];
                struct td_listener_counts c;
                if (!w->listening)
                    relisten(w);
                else if (listener_counts(stats, w->listener, &c) &&
                         td_accept_watch_look(&w->state, &c, listener_port(w->listener),
                                              td_mono_ms(), td_established_on_host, NULL))
                    relisten(w);
            }
            nng_stats_free(stats);
        }
        struct timespec ts = td_realtime_in(WATCH_EVERY_MS);
        pthread_cond_timedwait(&watch_wake, &watch_lock, &ts);
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

int td_rpc_listen_watched(nng_socket sock, const char *url, unsigned callers,
                          td_rpc_moved_fn moved, void *arg, nng_listener *out)
{
    nng_listener l;
    int rv = listen_now(sock, url, callers, &l);
    if (rv != 0 || !is_tls(url)) {
        if (rv == 0 && out != NULL)
            *out = l;
        return rv;
    }
    pthread_mutex_lock(&watch_life);
    pthread_mutex_lock(&watch_lock);
    int rc = 0;
    if (watch_count >= MAX_WATCHED || strlen(url) >= sizeof watch_list[0].url)
        rc = NNG_ENOMEM;
    else if (!watch_running && pthread_create(&watch_thread, NULL, watch_main, NULL) != 0)
        rc = NNG_ENOMEM;
    if (rc == 0) {
        watch_running = true;
        struct watched *w = &watch_list[watch_count++];
        *w = (struct watched){.sock = sock, .listener = l, .listening = true,
                              .callers = callers, .moved = moved, .arg = arg};
        snprintf(w->url, sizeof w->url, "%s", url);
    }
    pthread_mutex_unlock(&watch_lock);
    pthread_mutex_unlock(&watch_life);
    if (rc != 0) {
        nng_listener_close(l);
        return rc;
    }
    if (out != NULL)
        *out = l;
    return 0;
}

int td_rpc_listen(nng_socket sock, const char *url, unsigned callers, nng_listener *out)
{
    return td_rpc_listen_watched(sock, url, callers, NULL, NULL, out);
}

void td_rpc_unwatch(nng_socket sock)
{
    td_rpc_names_forget(sock); /* no dialer is added or closed from here on */
    pthread_mutex_lock(&watch_life);
    pthread_mutex_lock(&watch_lock);
    for (unsigned i = 0; i < watch_count;) {
        if (nng_socket_id(watch_list[i].sock) == nng_socket_id(sock))
            watch_list[i] = watch_list[--watch_count];
        else
            i++;
    }
    bool join = watch_running && watch_count == 0;
    if (join) {
        watch_quit = true;
        pthread_cond_broadcast(&watch_wake);
    }
    pthread_mutex_unlock(&watch_lock);
    if (join) {
        pthread_join(watch_thread, NULL);
        watch_running = false; /* both under watch_life */
        watch_quit = false;
    }
    pthread_mutex_unlock(&watch_life);
}

int td_rpc_dial_as(nng_socket sock, const char *url, const char *server_name, unsigned peer,
                   nng_dialer *out)
{
    nng_dialer d;
    int rv = nng_dialer_create(&d, sock, url);
    if (rv != 0)
        return rv;
    if (is_tls(url)) {
        nng_url *u = NULL;
        nng_tls_config *cfg = NULL;
        rv = server_name != NULL ? 0 : nng_url_parse(&u, url);
        if (rv == 0)
            cfg = tls_config(NNG_TLS_MODE_CLIENT, peer, server_name ? server_name : u->u_hostname);
        rv = rv != 0 ? rv : cfg == NULL ? NNG_EINVAL : nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
        if (cfg != NULL)
            nng_tls_config_free(cfg);
        if (u != NULL)
            nng_url_free(u);
    }
    /* Non-blocking: a peer that is down now is dialled again in the
     * background until it comes up. */
    if (rv == 0)
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_dialer_close(d);
        return rv;
    }
    if (out != NULL)
        *out = d;
    return 0;
}

int td_rpc_dial(nng_socket sock, const char *url, unsigned peer, nng_dialer *out)
{
    return td_rpc_dial_as(sock, url, NULL, peer, out);
}

unsigned td_rpc_url_callers(const char *url, unsigned role)
{
    return is_tls(url) ? role : TD_ROLES_STACK;
}

/* True for a host that only this machine can reach. */
static bool loopback_host(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strncmp(host, "127.", 4) == 0;
}

int td_rpc_url_check(const char *url, bool production, char *err, size_t errlen)
{
    if (strncmp(url, "listen+", 7) == 0)
        url += 7;
    if (strncmp(url, "ipc://", 6) == 0)
        return url[6] != '\0' ? 0 : (snprintf(err, errlen, "an ipc:// URL needs a path"), TD_EINVAL);
    bool tls = is_tls(url);
    if (!tls && strncmp(url, "tcp://", 6) != 0) {
        snprintf(err, errlen, "'%s': use ipc://, tls+tcp:// or tcp://", url);
        return TD_EINVAL;
    }
    nng_url *u = NULL;
    if (nng_url_parse(&u, url) != 0 || u->u_hostname == NULL || u->u_port == NULL ||
        u->u_port[0] == '\0') {
        if (u != NULL)
            nng_url_free(u);
        snprintf(err, errlen, "'%s' is not host:port", url);
        return TD_EINVAL;
    }
    int rc = 0;
    if (tls && tls_dir[0] == '\0') {
        snprintf(err, errlen, "'%s' needs RPC_TLS_DIR (the certificates)", url);
        rc = TD_EINVAL;
    } else if (!tls && production && !loopback_host(u->u_hostname)) {
        snprintf(err, errlen,
                 "'%s': plain tcp carries requests unauthenticated; in production use "
                 "tls+tcp:// (or ipc://) beyond loopback",
                 url);
        rc = TD_EINVAL;
    }
    nng_url_free(u);
    return rc;
}

/* ---- closing a listening socket, bounded ------------------------------------
 *
 * nng 1.5.2's reaper can block for good (docs/library-notes.md, "nng's
 * reaper can wedge"); nng_close then waits for ever for the socket's pipes
 * and endpoints. So the close runs on a thread of its own, waited for
 * CLOSE_WAIT_MS at most: every context of the socket is closed by then (nng
 * closes them before it waits for pipes and endpoints), so a server's slots
 * finish and the daemon can exit; td_rpc_close_stuck() then tells
 * td_daemon_finish not to call nng_fini, which would wait for the same
 * socket. The closing thread and its record are left to the process's
 * exit. */
#define CLOSE_WAIT_MS 2000

struct closing {
    nng_socket sock;
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    bool done;
};

static atomic_bool close_stuck;

bool td_rpc_close_stuck(void)
{
    return atomic_load(&close_stuck);
}

static void *close_main(void *arg)
{
    struct closing *c = arg;
    nng_close(c->sock);
    pthread_mutex_lock(&c->lock);
    c->done = true;
    pthread_cond_signal(&c->done_cv);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

void td_rpc_close_listening(const char *service, nng_socket sock)
{
    struct closing *c = calloc(1, sizeof *c);
    pthread_t t;
    if (c == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        nng_close(sock); /* no memory for a thread: close in place */
        return;
    }
    c->sock = sock;
    if (pthread_cond_init(&c->done_cv, NULL) != 0 ||
        pthread_create(&t, NULL, close_main, c) != 0) {
        nng_close(sock);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return;
    }
    struct timespec deadline = td_realtime_in(CLOSE_WAIT_MS);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (!c->done && rc == 0)
        rc = pthread_cond_timedwait(&c->done_cv, &c->lock, &deadline);
    bool done = c->done;
    pthread_mutex_unlock(&c->lock);
    if (!done) {
        atomic_store(&close_stuck, true);
        TD_LOG(TD_LOG_WARN, "rpc_close_stuck",
               "%s: nng did not close the socket within %d ms (its reaper is stuck); "
               "going on without it",
               service, CLOSE_WAIT_MS);
        pthread_detach(t);
        return;
    }
    pthread_join(t, NULL);
    pthread_cond_destroy(&c->done_cv);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
