/*
 * td_rpc_names.c — the names of td_rpc_names.h: which addresses a dialled
 * host name has, one set of dialers per address, and the thread that
 * re-resolves every name and adds or closes dialers to match.
 *
 * Every record lives in one process-wide list under names_lock, as the TLS
 * listener watcher's do (common/td_rpc_transport.c): the owners of RPC
 * sockets already call td_rpc_unwatch(sock) before nng_close(sock), and that
 * is where a socket's names are forgotten, so no owner keeps a handle.
 * getaddrinfo can take seconds when DNS is failing, so it never runs under
 * the lock: the thread copies a name out, resolves it, and applies the
 * answer only if the record still exists (found again by its id).
 */
#include "td_rpc_names.h"
#include "td_rpc.h"
#include "td_log.h"
#include "td_time.h"

#include <nng/nng.h>

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One resolved address and the dialers made to it. */
struct dialled_address {
    char ip[INET6_ADDRSTRLEN];
    nng_dialer *dialers; /* `connections` of them */
};

/* One dialled URL whose host is a name. */
struct named_url {
    uint64_t id;
    nng_socket sock;
    char scheme[16]; /* "tcp", "tls+tcp" */
    char host[256];  /* the name: the TLS server name of every dialer */
    char port[16];
    unsigned peer;
    int connections;
    char service[32];
    struct dialled_address *addresses;
    size_t naddresses;
    bool failing;   /* the last resolution had no answer (logged once) */
    int64_t due_ms; /* td_mono_ms of the next resolution */
};

/* names_life is held while the thread is started or joined (never by the
 * thread); names_lock guards the list, the settings and the dialers. */
static pthread_mutex_t names_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t names_wake = PTHREAD_COND_INITIALIZER;
static struct named_url **names;
static size_t nnames, names_cap;
static uint64_t names_next_id = 1;
static bool names_running, names_quit;
static pthread_t names_thread;
static td_rpc_resolve_fn names_resolver; /* NULL: getaddrinfo */
static int names_period_ms;               /* 0: TD_RPC_RESOLVE_MS */

void td_rpc_names_set_resolver(td_rpc_resolve_fn fn)
{
    pthread_mutex_lock(&names_lock);
    names_resolver = fn;
    pthread_mutex_unlock(&names_lock);
}

void td_rpc_names_set_period_ms(int ms)
{
    pthread_mutex_lock(&names_lock);
    names_period_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&names_lock);
}

bool td_rpc_host_is_address(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Adds `ip` to out unless it is there already; false when out is full. */
static bool add_address(struct td_rpc_addresses *out, const char *ip)
{
    for (size_t i = 0; i < out->count; i++) {
        if (strcmp(out->ip[i], ip) == 0)
            return true;
    }
    if (out->count >= TD_RPC_NAME_MAX_ADDRESSES)
        return false;
    snprintf(out->ip[out->count++], sizeof out->ip[0], "%s", ip);
    return true;
}

int td_rpc_resolve_getaddrinfo(const char *host, struct td_rpc_addresses *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rv = getaddrinfo(host, NULL, &hints, &res);
    if (rv != 0)
        return rv;
    out->count = 0;
    bool cut = false;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *bytes = a->ai_family == AF_INET
                                ? (const void *)&((const struct sockaddr_in *)a->ai_addr)->sin_addr
                            : a->ai_family == AF_INET6
                                ? (const void *)&((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                : NULL;
        if (bytes != NULL && inet_ntop(a->ai_family, bytes, ip, sizeof ip) != NULL &&
            !add_address(out, ip))
            cut = true;
    }
    freeaddrinfo(res);
    if (cut)
        TD_LOG(TD_LOG_WARN, "rpc_resolve_cut", "%s has more than %d addresses; dialling %d",
               host, TD_RPC_NAME_MAX_ADDRESSES, TD_RPC_NAME_MAX_ADDRESSES);
    return 0;
}

static int period_ms_locked(void)
{
    return names_period_ms > 0 ? names_period_ms : TD_RPC_RESOLVE_MS;
}

/* When `n` is next resolved: a whole period while it has addresses, sooner
 * while it has none. Called with names_lock held. */
static void schedule_locked(struct named_url *n)
{
    int period = period_ms_locked();
    if (n->naddresses == 0)
        period /= TD_RPC_RESOLVE_EMPTY_DIVISOR;
    n->due_ms = td_mono_ms() + (period > 0 ? period : 1);
}

static void close_dialers(nng_dialer *dialers, int count)
{
    for (int k = 0; k < count; k++) {
        int rv = nng_dialer_close(dialers[k]);
        if (rv != 0) /* only a dialer closed already, which we never do */
            TD_LOG(TD_LOG_WARN, "rpc_dialer_close", "closing dialer %d: %s",
                   nng_dialer_id(dialers[k]), nng_strerror(rv));
    }
}

/* Dials `ip` for `n` (connections dialers, the TLS server name n->host).
 * Returns 0 and fills a, or nng's error with nothing left open. */
static int dial_address(const struct named_url *n, const char *ip, struct dialled_address *a)
{
    char url[sizeof n->scheme + INET6_ADDRSTRLEN + sizeof n->port + 8];
    bool v6 = strchr(ip, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%s", n->scheme, v6 ? "[" : "", ip, v6 ? "]" : "",
             n->port);
    nng_dialer *dialers = calloc((size_t)n->connections, sizeof *dialers);
    if (dialers == NULL)
        return NNG_ENOMEM;
    int rv = 0, made = 0;
    for (; rv == 0 && made < n->connections; made++) {
        rv = td_rpc_dial_as(n->sock, url, n->host, n->peer, &dialers[made]);
        if (rv != 0)
            break;
    }
    if (rv != 0) {
        close_dialers(dialers, made);
        free(dialers);
        return rv;
    }
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    a->dialers = dialers;
    return 0;
}

static bool answer_has(const struct td_rpc_addresses *answer, const char *ip)
{
    for (size_t i = 0; i < answer->count; i++) {
        if (strcmp(answer->ip[i], ip) == 0)
            return true;
    }
    return false;
}

static bool dialled(const struct named_url *n, const char *ip)
{
    for (size_t i = 0; i < n->naddresses; i++) {
        if (strcmp(n->addresses[i].ip, ip) == 0)
            return true;
    }
    return false;
}

/* Makes n's dialers match a successful answer. Returns 0, or the first
 * dial's error (that address stays undialled and is tried again at the
 * next resolution). Called with names_lock held. */
static int apply_answer_locked(struct named_url *n, const struct td_rpc_addresses *answer)
{
    /* Gone from the answer: the replica is gone (or moved). Its calls in
     * flight fail with TD_EDOWN; the others go to the remaining pipes. */
    for (size_t i = 0; i < n->naddresses;) {
        struct dialled_address *a = &n->addresses[i];
        if (answer_has(answer, a->ip)) {
            i++;
            continue;
        }
        close_dialers(a->dialers, n->connections);
        TD_LOG(TD_LOG_NOTICE, "rpc_peer_address_dropped", "%s: %s no longer lists %s", n->service,
               n->host, a->ip);
        free(a->dialers);
        n->addresses[i] = n->addresses[--n->naddresses];
    }
    int rc = 0;
    for (size_t i = 0; i < answer->count; i++) {
        const char *ip = answer->ip[i];
        if (dialled(n, ip))
            continue;
        /* The answer holds at most TD_RPC_NAME_MAX_ADDRESSES and so does
         * addresses, allocated that size. */
        struct dialled_address a;
        int rv = dial_address(n, ip, &a);
        if (rv != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_dial_failed", "%s: cannot dial %s (%s): %s", n->service, ip,
                   n->host, nng_strerror(rv));
            rc = rc ? rc : rv;
            continue;
        }
        n->addresses[n->naddresses++] = a;
        TD_LOG(TD_LOG_NOTICE, "rpc_peer_address_added", "%s: dialling %s (%s)", n->service, ip,
               n->host);
    }
    return rc;
}

/* Applies one resolution (rv: the resolver's result). Called with
 * names_lock held. */
static int apply_locked(struct named_url *n, int rv, const struct td_rpc_addresses *answer)
{
    int rc = 0;
    if (rv != 0) {
        /* No answer says nothing about the replicas: keep dialling them. */
        if (!n->failing)
            TD_LOG(TD_LOG_WARN, "rpc_resolve_failed",
                   "%s: cannot resolve %s (keeping %zu address(es), retrying)", n->service,
                   n->host, n->naddresses);
        n->failing = true;
    } else {
        if (n->failing)
            TD_LOG(TD_LOG_NOTICE, "rpc_resolved", "%s: %s resolves again", n->service, n->host);
        n->failing = false;
        rc = apply_answer_locked(n, answer);
    }
    schedule_locked(n);
    return rc;
}

static struct named_url *find_locked(uint64_t id)
{
    for (size_t i = 0; i < nnames; i++) {
        if (names[i]->id == id)
            return names[i];
    }
    return NULL;
}

static void named_free(struct named_url *n)
{
    for (size_t i = 0; i < n->naddresses; i++)
        free(n->addresses[i].dialers);
    free(n->addresses);
    free(n);
}

static void timespec_at_mono(struct timespec *ts, int64_t due_ms)
{
    *ts = td_realtime_in(due_ms - td_mono_ms());
}

static void *names_main(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "rpc-names");
    pthread_mutex_lock(&names_lock);
    while (!names_quit) {
        struct named_url *next = NULL;
        for (size_t i = 0; i < nnames; i++) {
            if (next == NULL || names[i]->due_ms < next->due_ms)
                next = names[i];
        }
        int64_t now = td_mono_ms();
        if (next == NULL || next->due_ms > now) {
            struct timespec ts;
            timespec_at_mono(&ts, next != NULL ? next->due_ms : now + period_ms_locked());
            pthread_cond_timedwait(&names_wake, &names_lock, &ts);
            continue;
        }
        uint64_t id = next->id;
        char host[sizeof next->host];
        snprintf(host, sizeof host, "%s", next->host);
        td_rpc_resolve_fn resolve = names_resolver ? names_resolver : td_rpc_resolve_getaddrinfo;
        pthread_mutex_unlock(&names_lock);
        struct td_rpc_addresses answer = {0};
        int rv = resolve(host, &answer);
        pthread_mutex_lock(&names_lock);
        struct named_url *n = find_locked(id);
        if (n != NULL)
            (void)apply_locked(n, rv, &answer); /* a failed dial is logged and retried */
    }
    pthread_mutex_unlock(&names_lock);
    return NULL;
}

/* Parses url into a new record for `sock`; NULL with *rv set when it has
 * no host name or memory is short. */
static struct named_url *named_new(nng_socket sock, const char *url, unsigned peer,
                                   int connections, const char *service, int *rv)
{
    nng_url *u = NULL;
    if ((*rv = nng_url_parse(&u, url)) != 0)
        return NULL;
    struct named_url *n = NULL;
    if (u->u_hostname == NULL || u->u_hostname[0] == '\0' || u->u_port == NULL ||
        strlen(u->u_scheme) >= sizeof n->scheme || strlen(u->u_hostname) >= sizeof n->host ||
        strlen(u->u_port) >= sizeof n->port)
        *rv = NNG_EINVAL;
    else if ((n = calloc(1, sizeof *n)) == NULL ||
             (n->addresses = calloc(TD_RPC_NAME_MAX_ADDRESSES, sizeof *n->addresses)) == NULL)
        *rv = NNG_ENOMEM;
    if (*rv == 0) {
        n->sock = sock;
        snprintf(n->scheme, sizeof n->scheme, "%s", u->u_scheme);
        snprintf(n->host, sizeof n->host, "%s", u->u_hostname);
        snprintf(n->port, sizeof n->port, "%s", u->u_port);
        snprintf(n->service, sizeof n->service, "%s", service ? service : "?");
        n->peer = peer;
        n->connections = connections;
    } else if (n != NULL) {
        free(n);
        n = NULL;
    }
    nng_url_free(u);
    return n;
}


/* Called holding names_life and names_lock, releases both; when no record
 * is left, stops the thread (joined once names_lock is released, since it
 * takes that lock) and frees the array. */
static void unlock_stopping_when_idle(void)
{
    bool join = names_running && nnames == 0;
    if (join) {
        names_quit = true;
        pthread_cond_broadcast(&names_wake);
    }
    if (nnames == 0) {
        free(names);
        names = NULL;
        names_cap = 0;
    }
    pthread_mutex_unlock(&names_lock);
    if (join) {
        pthread_join(names_thread, NULL);
        names_running = false; /* both under names_life */
    }
    pthread_mutex_unlock(&names_life);
}

int td_rpc_names_dial(nng_socket sock, const char *url, unsigned peer, int connections,
                      const char *service)
{
    if (connections <= 0)
        return NNG_EINVAL;
    int rv = 0;
    struct named_url *n = named_new(sock, url, peer, connections, service, &rv);
    if (n == NULL)
        return rv;

    /* Resolved once now, in the caller's thread, so the first calls find
     * their peers dialled; a name with no answer yet is not an error (the
     * stack's services start in any order): the thread keeps asking. */
    pthread_mutex_lock(&names_lock);
    td_rpc_resolve_fn resolve = names_resolver ? names_resolver : td_rpc_resolve_getaddrinfo;
    pthread_mutex_unlock(&names_lock);
    struct td_rpc_addresses answer = {0};
    int resolved = resolve(n->host, &answer);

    pthread_mutex_lock(&names_life);
    pthread_mutex_lock(&names_lock);
    int rc = 0;
    if (nnames == names_cap) {
        size_t cap = names_cap ? names_cap * 2 : 8;
        struct named_url **grown = realloc(names, cap * sizeof *grown);
        if (grown == NULL) {
            rc = NNG_ENOMEM;
        } else {
            names = grown;
            names_cap = cap;
        }
    }
    if (rc == 0 && !names_running) {
        names_quit = false;
        if (pthread_create(&names_thread, NULL, names_main, NULL) != 0)
            rc = NNG_ENOMEM;
        else
            names_running = true;
    }
    if (rc == 0)
        rc = apply_locked(n, resolved, &answer);
    if (rc == 0) {
        n->id = names_next_id++;
        names[nnames++] = n;
        pthread_cond_broadcast(&names_wake); /* a sooner due time, maybe */
    }
    /* A thread started for nobody is joined: it runs while some record
     * exists. */
    unlock_stopping_when_idle();
    if (rc != 0) {
        for (size_t i = 0; i < n->naddresses; i++)
            close_dialers(n->addresses[i].dialers, n->connections);
        named_free(n);
    }
    return rc;
}

void td_rpc_names_forget(nng_socket sock)
{
    pthread_mutex_lock(&names_life);
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < nnames;) {
        if (nng_socket_id(names[i]->sock) == nng_socket_id(sock)) {
            named_free(names[i]);
            names[i] = names[--nnames];
        } else {
            i++;
        }
    }
    unlock_stopping_when_idle();
}

int td_rpc_dial_replicas(nng_socket sock, const char *url, unsigned peer, int connections,
                         const char *service)
{
    if (connections <= 0)
        return NNG_EINVAL;
    bool named = false;
    if (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tls+tcp://", 10) == 0) {
        nng_url *u = NULL;
        int rv = nng_url_parse(&u, url);
        if (rv != 0)
            return rv;
        named = u->u_hostname != NULL && u->u_hostname[0] != '\0' &&
                !td_rpc_host_is_address(u->u_hostname);
        nng_url_free(u);
    }
    if (named)
        return td_rpc_names_dial(sock, url, peer, connections, service);
    int rv = 0;
    for (int k = 0; rv == 0 && k < connections; k++)
        rv = td_rpc_dial(sock, url, peer, NULL);
    return rv;
}
