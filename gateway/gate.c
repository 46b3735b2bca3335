/*
 * gate.c — the connection gate of gate.h.
 *
 * Why accept(), poll() and recv() are interposed: civetweb 1.15 never shows
 * its callbacks a connection's socket, and hides even the peer's address
 * from the first callback for a connection (init_connection runs before
 * civetweb marks the connection as a request, so mg_get_request_info
 * returns NULL there); by then a worker is committed to reading it. So this
 * file defines accept(), poll() and recv() itself. The gateway's executable
 * exports them (libcivetweb.so references all three), so the dynamic linker
 * binds civetweb's calls to these definitions; each calls the C library's
 * accept4()/ppoll()/recvfrom() and only adds its work for the HTTP listener
 * and for the worker thread of a connection the gate tracks: accept()
 * registers the socket, the worker's first poll() after init_connection
 * (civetweb waits for the request's bytes before any read) names the socket
 * that worker took, recv() rewrites header tabs. Every other caller in the
 * process (nng, hiredis) passes straight through, and so does everything in
 * a unit test binary that links this file: with no gate installed nothing
 * changes.
 *
 * State: a fixed table of connections (GATEWAY_THREADS + GATEWAY_QUEUE +
 * slack: civetweb accepts no more than its workers and queue hold), one
 * mutex, and a watchdog thread that checks deadlines every WATCH_EVERY_MS.
 * An entry is found by its socket at the worker's first poll() and then
 * travels as the connection's user data; the hooks find it through
 * thread-local pointers, since a civetweb connection lives on one worker
 * thread.
 *
 * Closing: the gate never closes a socket civetweb owns. It shuts the read
 * side (deadline) or both sides (refusal after writing a 503) and lets
 * civetweb's read fail and close as usual; civetweb calls connection_close,
 * which releases the entry, before it closes the descriptor, so the watchdog
 * never touches a descriptor number that was reused.
 */
#include "gate.h"
#include "edge.h"
#include "td_error.h"
#include "td_log.h"
#include "td_rpc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCH_EVERY_MS 25
/* Requests taken under pressure get at most this long to arrive (their
 * whole request was there when taken; this only backs up that check). */
#define PRESSURE_DEADLINE_MS 1000
/* The most a pressure check reads ahead: bigger requests wait for calmer
 * times (503 with Retry-After). */
#define PEEK_MAX 65536
/* Table slots beyond threads + queue: civetweb's master holds one accepted
 * socket while its queue is full, and a few more cover the moment between
 * a worker finishing and civetweb closing. */
#define SLACK 16
#define KEY_MAX 64

enum conn_state { CONN_FREE = 0, CONN_QUEUED, CONN_ACTIVE };

struct gate_conn {
    enum conn_state state;
    int fd;
    unsigned short port;
    bool trusted;          /* a trusted proxy: no per-address cap */
    bool expired;          /* the watchdog cut the request (read side shut) */
    bool refused;          /* the gate answered 503 itself and shut the socket */
    bool answered;         /* civetweb's error path answered (http_error) */
    unsigned char admit;   /* enum gw_gate_admit, set when a worker takes it */
    unsigned char scan;    /* gw_gate_scan state; the worker's thread only */
    size_t scanned;        /* bytes of civetweb's request buffer scanned so far */
    int64_t since_us;      /* accepted, then taken by a worker (monotonic) */
    int64_t deadline_us;   /* the current request's deadline, 0: none */
    char addr[48];         /* the peer, as civetweb writes remote_addr */
    char key[KEY_MAX];     /* the per-address bucket (gw_client_key) */
};

struct gw_gate {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t watchdog;
    bool started, stopping;
    struct gate_conn *conns;
    size_t nconns;
    const struct gw_proxies *proxies;
    atomic_int http_port; /* the listener's port; 0 until known */
    atomic_int http_lfd;  /* its descriptor, once seen; -1 before */
    unsigned threads, reserve, active, queued;
    long long max_per_client; /* 0: no cap */
    int64_t deadline_us;      /* GATEWAY_REQUEST_TIMEOUT_MS */
    int64_t keepalive_us;     /* GATEWAY_KEEPALIVE_MS: idle time before a next request */
    atomic_ullong refused_client, refused_busy, timeouts;
};

static _Atomic(struct gw_gate *) the_gate;
/* The connection this worker thread serves (recv() hook), the one it has
 * just taken and not yet polled (poll() hook), and civetweb's request buffer
 * of this worker (where it reads headers; found at the connection's first
 * read, which always lands at its start). */
static __thread struct gate_conn *tls_conn;
static __thread const struct mg_connection *tls_pending;
static __thread char *tls_reqbuf;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- set-up -------------------------------------------------------------- */

/* The port of GATEWAY_LISTEN ("127.0.0.1:8080"), or 0. */
static int listen_port(const char *listen)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    const char *p = colon ? colon + 1 : listen;
    if (p == NULL || !isdigit((unsigned char)*p))
        return 0;
    char *end;
    long v = strtol(p, &end, 10);
    return (*end == '\0' && v > 0 && v < 65536) ? (int)v : 0;
}

int gw_gate_new(const struct gw_config *cfg, const struct gw_proxies *proxies,
                struct gw_gate **out)
{
    struct gw_gate *g = calloc(1, sizeof *g);
    if (g == NULL)
        return TD_ENOMEM;
    g->threads = (unsigned)cfg->threads;
    /* At most half the workers are held back, so a small pool still serves. */
    g->reserve = (unsigned)cfg->reserved_threads;
    if (g->reserve > g->threads / 2)
        g->reserve = g->threads / 2;
    g->max_per_client = cfg->max_client_connections;
    g->deadline_us = cfg->request_timeout_ms * 1000;
    g->keepalive_us = cfg->keepalive_ms * 1000;
    g->proxies = proxies;
    g->nconns = (size_t)cfg->threads + (size_t)cfg->queue + SLACK;
    g->conns = calloc(g->nconns, sizeof *g->conns);
    atomic_init(&g->http_port, listen_port(cfg->listen));
    atomic_init(&g->http_lfd, -1);
    atomic_init(&g->refused_client, 0);
    atomic_init(&g->refused_busy, 0);
    atomic_init(&g->timeouts, 0);
    pthread_condattr_t ca;
    bool ok = g->conns != NULL && pthread_mutex_init(&g->lock, NULL) == 0;
    if (ok && (pthread_condattr_init(&ca) != 0)) {
        pthread_mutex_destroy(&g->lock);
        ok = false;
    } else if (ok) {
        bool cond = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                    pthread_cond_init(&g->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
        if (!cond) {
            pthread_mutex_destroy(&g->lock);
            ok = false;
        }
    }
    if (!ok) {
        free(g->conns);
        free(g);
        return TD_ENOMEM;
    }
    for (size_t i = 0; i < g->nconns; i++)
        g->conns[i].fd = -1;
    *out = g;
    return 0;
}

static void *watch_main(void *arg);

int gw_gate_start(struct gw_gate *g)
{
    atomic_store(&the_gate, g);
    if (pthread_create(&g->watchdog, NULL, watch_main, g) != 0) {
        atomic_store(&the_gate, NULL);
        return TD_ENOMEM;
    }
    g->started = true;
    return 0;
}

void gw_gate_set_port(struct gw_gate *g, int port)
{
    if (g != NULL && port > 0)
        atomic_store(&g->http_port, port);
}

void gw_gate_free(struct gw_gate **gp)
{
    struct gw_gate *g = *gp;
    if (g == NULL)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->lock);
        g->stopping = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->watchdog, NULL);
    }
    struct gw_gate *expected = g;
    atomic_compare_exchange_strong(&the_gate, &expected, NULL);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g->conns);
    free(g);
    *gp = NULL;
}

/* ---- refusing ------------------------------------------------------------ */

/* Writes the 503 of a refused connection, in the API's error shape with the
 * headers every response carries. The socket is the client's only way to
 * learn why; when its buffer is full or it is gone, there is nothing left to
 * tell it, so a failed send is not an error here. */
static void write_refusal(int fd, const char *message)
{
    char rid[33], body[200], resp[1024];
    td_rpc_new_id(rid);
    int b = snprintf(body, sizeof body, "{\"error\":\"service_unavailable\",\"message\":\"%s\"}",
                     message);
    if (b < 0 || (size_t)b >= sizeof body)
        return;
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 503 Service Unavailable\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n"
                     "Retry-After: 1\r\nX-Request-ID: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; "
                     "base-uri 'none'\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
                     b, rid, body);
    if (n > 0 && (size_t)n < sizeof resp && send(fd, resp, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        TD_LOG(TD_LOG_DEBUG, "gate_refusal_unsent", "503 not written: %s", strerror(errno));
}

#define MSG_CLIENT_LIMIT "Too many connections from this address; try again shortly"
#define MSG_BUSY "The server is busy; try again shortly"

/* A connection refused at accept is ours to close: it never reached
 * civetweb. What the client already sent is read first, so the close sends
 * a FIN after the 503 rather than a reset that could discard it. */
static void close_refused(int fd, const char *message)
{
    write_refusal(fd, message);
    char sink[4096];
    for (int i = 0; i < 16 && recvfrom(fd, sink, sizeof sink, MSG_DONTWAIT, NULL, NULL) > 0; i++)
        ;
    if (close(fd) != 0)
        TD_LOG(TD_LOG_DEBUG, "gate_close_failed", "close: %s", strerror(errno));
}

/* ---- the table ----------------------------------------------------------- */

/* Forgets entry c; the caller holds the lock. */
static void release_locked(struct gw_gate *g, struct gate_conn *c)
{
    if (c->state == CONN_QUEUED && g->queued > 0)
        g->queued--;
    else if (c->state == CONN_ACTIVE && g->active > 0)
        g->active--;
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void peer_text(const struct sockaddr *sa, char *addr, size_t size, unsigned short *port)
{
    *port = 0;
    const void *raw = NULL;
    if (sa->sa_family == AF_INET) {
        raw = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        *port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        raw = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        *port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    }
    if (raw == NULL || inet_ntop(sa->sa_family, raw, addr, (socklen_t)size) == NULL)
        snprintf(addr, size, "unknown");
}

/* A connection that has waited GATE_QUEUE_WAIT_MS for a worker is refused
 * only while every worker holds a connection. With a worker free, the wait
 * means a machine short of CPU, where the free worker is merely late to be
 * scheduled: refusing then turns ordinary load into 503s (the likely cause
 * of a POST /auth/register answered 503 by a gateway serving one browser,
 * in a CI soak run at a load average near 10). Such a connection still has
 * its request deadline (408). The caller holds the lock. */
static bool every_worker_taken(const struct gw_gate *g)
{
    return g->active >= g->threads;
}

/* Registers a connection civetweb just accepted. Returns false when it was
 * refused (answered, closed: civetweb must not see it). */
static bool gate_accepted(struct gw_gate *g, int fd, const struct sockaddr *sa)
{
    struct gate_conn fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.state = CONN_QUEUED;
    fresh.fd = fd;
    peer_text(sa, fresh.addr, sizeof fresh.addr, &fresh.port);
    gw_client_key(fresh.addr, fresh.key, sizeof fresh.key);
    fresh.trusted = gw_proxies_trusts(g->proxies, fresh.addr);
    int64_t now = mono_us();
    fresh.since_us = now;
    fresh.deadline_us = now + g->deadline_us;

    enum { ADMITTED, CLIENT_LIMIT, BUSY } verdict = ADMITTED;
    long long same = 0;
    int64_t oldest_wait = 0;
    struct gate_conn *slot = NULL;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nconns; i++) {
        struct gate_conn *c = &g->conns[i];
        if (c->state != CONN_FREE && c->fd == fd)
            release_locked(g, c); /* civetweb closed that socket without telling us */
        if (c->state == CONN_FREE) {
            if (slot == NULL)
                slot = c;
            continue;
        }
        if (!fresh.trusted && strcmp(c->key, fresh.key) == 0)
            same++;
        if (c->state == CONN_QUEUED && !c->refused && now - c->since_us > oldest_wait)
            oldest_wait = now - c->since_us;
    }
    if (!fresh.trusted && g->max_per_client > 0 && same >= g->max_per_client)
        verdict = CLIENT_LIMIT;
    else if ((oldest_wait >= GATE_QUEUE_WAIT_MS * 1000LL && every_worker_taken(g)) ||
             slot == NULL)
        verdict = BUSY;
    else {
        *slot = fresh;
        g->queued++;
    }
    pthread_mutex_unlock(&g->lock);
    if (verdict == ADMITTED)
        return true;
    bool client = verdict == CLIENT_LIMIT;
    atomic_fetch_add_explicit(client ? &g->refused_client : &g->refused_busy, 1,
                              memory_order_relaxed);
    TD_LOG(TD_LOG_INFO, "gate_refused", "%s: 503 at accept (%s)", fresh.addr,
           client ? "too many connections from this address" : "every worker busy");
    close_refused(fd, client ? MSG_CLIENT_LIMIT : MSG_BUSY);
    return false;
}

/* Whether lfd is civetweb's HTTP listener (nng may listen in this process
 * too). The first match is remembered. */
static bool is_http_listener(struct gw_gate *g, int lfd)
{
    if (atomic_load(&g->http_lfd) == lfd)
        return true;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    int port = ss.ss_family == AF_INET
                   ? ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port)
                   : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port)
                                              : -1;
    if (port <= 0 || port != atomic_load(&g->http_port))
        return false;
    atomic_store(&g->http_lfd, lfd);
    return true;
}

/* ---- the interposed calls ------------------------------------------------ */

/* civetweb's master thread accepts here. With _GNU_SOURCE the C library
 * declares the address argument as a transparent union; the definition must
 * match it. */
int accept(int lfd, __SOCKADDR_ARG addr, socklen_t *__restrict addrlen)
{
    struct sockaddr *given = addr.__sockaddr__;
    struct sockaddr_storage own;
    socklen_t own_len = sizeof own;
    bool use_given = given != NULL && addrlen != NULL;
    struct sockaddr *sa = use_given ? given : (struct sockaddr *)&own;
    int fd = accept4(lfd, sa, use_given ? addrlen : &own_len, 0);
    struct gw_gate *g = atomic_load(&the_gate);
    if (fd < 0 || g == NULL || !is_http_listener(g, lfd))
        return fd;
    if (gate_accepted(g, fd, sa))
        return fd;
    /* Refused and closed: civetweb's master treats a failed accept as
     * nothing to do and goes back to waiting for the next connection. */
    errno = EAGAIN;
    return -1;
}

/* civetweb reads requests here (from the worker serving the connection).
 * Only reads into its request buffer are header reads: a body is read into
 * the caller's buffer (mg_read), and is never touched. civetweb starts each
 * request's headers at the buffer's start, after whatever of it the last
 * read had already brought (a pipelined request), so the rewrite catches up
 * over those bytes first and always scans a request from its first byte. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
    struct gate_conn *c = tls_conn;
    if (n <= 0 || c == NULL || c->fd != fd || (flags & MSG_PEEK))
        return n;
    if (tls_reqbuf == NULL)
        tls_reqbuf = buf;
    uintptr_t off = (uintptr_t)buf - (uintptr_t)tls_reqbuf;
    if (off >= GW_MAX_REQUEST_SIZE)
        return n; /* not the request buffer: a body */
    if (off < c->scanned) { /* a new request the pipeline did not report */
        c->scan = 0;
        c->scanned = 0;
    }
    gw_gate_scan(&c->scan, tls_reqbuf + c->scanned, off - c->scanned);
    gw_gate_scan(&c->scan, buf, (size_t)n);
    c->scanned = off + (size_t)n;
    return n;
}

/* ---- the header rewrite -------------------------------------------------- */

enum scan_state {
    SCAN_START = 0,   /* before the request line (civetweb skips blank lines) */
    SCAN_REQLINE,     /* in the request line: left alone */
    SCAN_LINE_START,  /* at the start of a header line */
    SCAN_IN_LINE,     /* inside a header line */
    SCAN_BLANK_CR,    /* a CR at the start of a line: the end, if LF follows */
    SCAN_DONE,        /* past the headers: body or the next request */
};

void gw_gate_scan(unsigned char *state, char *buf, size_t len)
{
    unsigned char s = *state;
    for (size_t i = 0; i < len && s != SCAN_DONE; i++) {
        char ch = buf[i];
        switch (s) {
        case SCAN_START:
            if (ch == '\r' || ch == '\n')
                break;
            s = SCAN_REQLINE;
            /* fall through */
        case SCAN_REQLINE:
            if (ch == '\n')
                s = SCAN_LINE_START;
            break;
        case SCAN_LINE_START:
            if (ch == '\r') {
                s = SCAN_BLANK_CR;
            } else if (ch == '\n') {
                s = SCAN_DONE;
            } else {
                /* obs-fold: civetweb would end the header list at a line
                 * starting with a space and drop what follows without a
                 * word; given a tab it refuses the request (400). */
                if (ch == ' ')
                    buf[i] = '\t';
                s = SCAN_IN_LINE;
            }
            break;
        case SCAN_IN_LINE:
            if (ch == '\t')
                buf[i] = ' ';
            else if (ch == '\n')
                s = SCAN_LINE_START;
            break;
        case SCAN_BLANK_CR:
            if (ch == '\n') {
                s = SCAN_DONE;
            } else {
                if (ch == '\t')
                    buf[i] = ' ';
                s = SCAN_IN_LINE; /* a stray CR: civetweb refuses the line itself */
            }
            break;
        default:
            break;
        }
    }
    *state = s;
}

/* ---- whole-request check ------------------------------------------------- */

/* Case-insensitive: does the line at p (len bytes) start with name? */
static bool line_is(const char *p, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && strncasecmp(p, name, n) == 0;
}

bool gw_gate_request_complete(const char *buf, size_t len)
{
    /* The end of the headers: the first empty line. */
    size_t body = 0;
    for (size_t i = 0; i < len && body == 0; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            body = i + 2;
        else if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            body = i + 3;
    }
    if (body == 0)
        return false;
    bool chunked = false;
    long long declared = -1;
    for (size_t at = 0; at < body;) {
        const char *line = buf + at;
        const char *nl = memchr(line, '\n', body - at);
        size_t n = nl ? (size_t)(nl - line) : body - at;
        if (line_is(line, n, "content-length:")) {
            declared = 0;
            for (size_t k = strlen("content-length:"); k < n; k++) {
                if (isdigit((unsigned char)line[k]) && declared < 1000000000LL)
                    declared = declared * 10 + (line[k] - '0');
            }
        } else if (line_is(line, n, "transfer-encoding:")) {
            chunked = true;
        }
        at += n + 1;
    }
    size_t have = len - body;
    if (chunked) {
        /* The last chunk: "0" alone on a line, then the empty line. Good
         * enough to judge arrival; civetweb parses the chunks. */
        static const char last[] = "0\r\n\r\n";
        for (size_t i = body; i + sizeof last - 1 <= len; i++) {
            if ((i == body || buf[i - 1] == '\n') && memcmp(buf + i, last, sizeof last - 1) == 0)
                return true;
        }
        return false;
    }
    return declared <= 0 || (long long)have >= declared;
}

/* Waits up to wait_ms for the whole request to be in the socket, without
 * reading it (civetweb will). True when it is, or when the client already
 * closed (civetweb then closes quietly). */
static bool whole_request_arrives(int fd, int wait_ms)
{
    char *buf = malloc(PEEK_MAX);
    if (buf == NULL)
        return true; /* cannot check: serve rather than refuse a client for our memory */
    int64_t until = mono_us() + (int64_t)wait_ms * 1000;
    bool arrived = false;
    for (;;) {
        ssize_t n = recvfrom(fd, buf, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT, NULL, NULL);
        if (n == 0 || (n > 0 && gw_gate_request_complete(buf, (size_t)n))) {
            arrived = true;
            break;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break; /* a socket error: civetweb's read fails too */
        int64_t left = until - mono_us();
        if (left <= 0 || n == PEEK_MAX)
            break;
        if (n > 0) {
            /* Part of it is there: poll would return at once, so sleep a
             * little and look again. */
            struct timespec ts = {0, (long)(left < 5000 ? left : 5000) * 1000L};
            nanosleep(&ts, NULL);
        } else {
            struct pollfd p = {fd, POLLIN, 0};
            struct timespec ts = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000L};
            if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
                break;
        }
    }
    free(buf);
    return arrived;
}

/* ---- civetweb's connection callbacks ------------------------------------- */

/* The worker's first poll() on its new connection (below) names the
 * socket: the entry registered at accept is now this worker's. Decides, when
 * workers are scarce, whether the connection is served at all. */
static void gate_claim(struct gw_gate *g, const struct mg_connection *conn, int fd)
{
    int64_t now = mono_us();
    struct gate_conn *c = NULL;
    bool pressure = false;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nconns && c == NULL; i++) {
        if (g->conns[i].state == CONN_QUEUED && g->conns[i].fd == fd)
            c = &g->conns[i];
    }
    if (c != NULL) {
        c->state = CONN_ACTIVE;
        g->queued--;
        g->active++;
        c->since_us = now;
        c->scan = SCAN_START;
        c->scanned = 0;
        /* Fewer than `reserve` workers left free after this one. */
        pressure = !c->refused && g->active + g->reserve > g->threads;
    }
    pthread_mutex_unlock(&g->lock);
    if (c == NULL)
        return; /* accepted before the gate knew its listener: served as is */
    mg_set_user_connection_data(conn, c);
    tls_conn = c;
    tls_reqbuf = NULL;
    if (!pressure)
        return;
    bool arrived = whole_request_arrives(c->fd, GATE_PEEK_MS);
    bool refuse = false;
    pthread_mutex_lock(&g->lock);
    if (arrived) {
        c->admit = GW_GATE_SERVE_ONCE;
        int64_t cap = mono_us() + PRESSURE_DEADLINE_MS * 1000LL;
        if (c->deadline_us == 0 || c->deadline_us > cap)
            c->deadline_us = cap;
    } else if (!c->refused && !c->expired) {
        c->refused = true;
        refuse = true;
    }
    pthread_mutex_unlock(&g->lock);
    if (refuse) {
        atomic_fetch_add_explicit(&g->refused_busy, 1, memory_order_relaxed);
        TD_LOG(TD_LOG_INFO, "gate_refused",
               "%s: 503 (request incomplete after %d ms while workers were scarce)", c->addr,
               GATE_PEEK_MS);
        write_refusal(c->fd, MSG_BUSY);
        /* civetweb's read now ends at once; it closes the socket itself. */
        if (shutdown(c->fd, SHUT_RDWR) != 0)
            TD_LOG(TD_LOG_DEBUG, "gate_shutdown_failed", "shutdown: %s", strerror(errno));
    }
}

/* civetweb's workers wait for a request's bytes here (mg_poll, one socket).
 * The first call after init_connection is the moment the gate learns which
 * socket the worker took: civetweb hides the request info (and so the peer)
 * until a request has been read. */
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    const struct mg_connection *pending = tls_pending;
    if (pending != NULL && nfds == 1) {
        tls_pending = NULL;
        struct gw_gate *g = atomic_load(&the_gate);
        /* glibc declares poll's array write-only (access attribute), which
         * it is not: the caller filled in fd and events. gcc believes the
         * declaration and warns about reading them. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
        int fd = fds[0].fd;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
        if (g != NULL)
            gate_claim(g, pending, fd);
    }
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    return ppoll(fds, nfds, timeout >= 0 ? &ts : NULL, NULL);
}

int gw_gate_init_connection(const struct mg_connection *conn, void **conn_data)
{
    /* The worker's next poll() claims the connection (gate_claim). */
    *conn_data = NULL;
    tls_conn = NULL;
    tls_pending = atomic_load(&the_gate) != NULL ? conn : NULL;
    return 0;
}

void gw_gate_connection_close(const struct mg_connection *conn)
{
    tls_conn = NULL;
    tls_pending = NULL;
    struct gw_gate *g = atomic_load(&the_gate);
    if (g == NULL)
        return;
    struct gate_conn *c = mg_get_user_connection_data(conn);
    const struct mg_request_info *ri = mg_get_request_info(conn);
    pthread_mutex_lock(&g->lock);
    if (c == NULL && ri != NULL) {
        /* Closed before its first poll (civetweb stopping): found by its
         * peer, so the watchdog never acts on a descriptor civetweb closes. */
        for (size_t i = 0; i < g->nconns && c == NULL; i++) {
            struct gate_conn *e = &g->conns[i];
            if (e->state == CONN_QUEUED && e->port == ri->remote_port &&
                strcmp(e->addr, ri->remote_addr) == 0)
                c = e;
        }
    }
    if (c != NULL)
        release_locked(g, c);
    pthread_mutex_unlock(&g->lock);
}

/* ---- the pipeline's questions -------------------------------------------- */

static struct gate_conn *conn_of(const struct mg_connection *conn, struct gw_gate **g)
{
    *g = atomic_load(&the_gate);
    return *g != NULL ? mg_get_user_connection_data(conn) : NULL;
}

enum gw_gate_admit gw_gate_admission(const struct mg_connection *conn)
{
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    return c != NULL ? (enum gw_gate_admit)c->admit : GW_GATE_SERVE;
}

void gw_gate_arrived(const struct mg_connection *conn)
{
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    if (c == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    c->deadline_us = 0;
    pthread_mutex_unlock(&g->lock);
}

void gw_gate_served(const struct mg_connection *conn)
{
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    if (c == NULL)
        return;
    c->scan = SCAN_START;
    c->scanned = 0;
    /* A kept-alive connection may first sit idle (civetweb closes it after
     * GATEWAY_KEEPALIVE_MS of silence); the next request's own time starts
     * within that. */
    pthread_mutex_lock(&g->lock);
    if (!c->expired)
        c->deadline_us = mono_us() + g->keepalive_us + g->deadline_us;
    pthread_mutex_unlock(&g->lock);
}

bool gw_gate_timed_out(const struct mg_connection *conn)
{
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    if (c == NULL)
        return false;
    pthread_mutex_lock(&g->lock);
    bool expired = c->expired;
    pthread_mutex_unlock(&g->lock);
    return expired;
}

bool gw_gate_error_may_answer(const struct mg_connection *conn, bool *timed_out)
{
    *timed_out = false;
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    if (c == NULL)
        return true;
    pthread_mutex_lock(&g->lock);
    bool may = !c->refused && !c->answered;
    c->answered = true;
    /* The clock decides, not whether the watchdog has run yet: civetweb's
     * own read timeout (the same length, counted from when a worker took
     * the connection, so never earlier) can end the read first on a loaded
     * host, and it reports that as a malformed message. */
    if (!c->expired && !c->refused && c->deadline_us != 0 && mono_us() >= c->deadline_us) {
        c->expired = true; /* counted as the watchdog would have */
        c->deadline_us = 0;
        atomic_fetch_add_explicit(&g->timeouts, 1, memory_order_relaxed);
    }
    *timed_out = c->expired;
    pthread_mutex_unlock(&g->lock);
    return may;
}

bool gw_gate_unanswered(const struct mg_connection *conn)
{
    struct gw_gate *g;
    struct gate_conn *c = conn_of(conn, &g);
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (c == NULL || ri == NULL || ri->request_method == NULL || ri->request_uri == NULL ||
        ri->local_uri != NULL)
        return false;
    pthread_mutex_lock(&g->lock);
    bool open = !c->refused && !c->answered && !c->expired;
    pthread_mutex_unlock(&g->lock);
    return open;
}

/* ---- the watchdog -------------------------------------------------------- */

static void *watch_main(void *arg)
{
    struct gw_gate *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        int64_t now = mono_us();
        unsigned cut = 0, refused = 0;
        for (size_t i = 0; i < g->nconns; i++) {
            struct gate_conn *c = &g->conns[i];
            if (c->state == CONN_ACTIVE && c->deadline_us != 0 && now >= c->deadline_us &&
                !c->expired && !c->refused) {
                /* The read side only: civetweb's read (or the body intake)
                 * returns at once and the 408 can still be written. */
                c->expired = true;
                c->deadline_us = 0;
                cut++;
                if (shutdown(c->fd, SHUT_RD) != 0)
                    TD_LOG(TD_LOG_DEBUG, "gate_shutdown_failed", "shutdown: %s",
                           strerror(errno));
            } else if (c->state == CONN_QUEUED && !c->refused &&
                       now - c->since_us >= GATE_QUEUE_WAIT_MS * 1000LL &&
                       every_worker_taken(g)) {
                /* No worker took it in time: every worker is busy. Answer
                 * now rather than let it wait; the worker that takes it
                 * later only finds the socket shut. */
                c->refused = true;
                refused++;
                write_refusal(c->fd, MSG_BUSY);
                if (shutdown(c->fd, SHUT_RDWR) != 0)
                    TD_LOG(TD_LOG_DEBUG, "gate_shutdown_failed", "shutdown: %s",
                           strerror(errno));
            }
        }
        atomic_fetch_add_explicit(&g->timeouts, cut, memory_order_relaxed);
        atomic_fetch_add_explicit(&g->refused_busy, refused, memory_order_relaxed);
        if (cut + refused > 0) {
            /* Logged without the lock held: logging writes to stderr. */
            pthread_mutex_unlock(&g->lock);
            if (cut > 0)
                TD_LOG(TD_LOG_INFO, "request_timeout",
                       "%u request(s) not received within their deadline: cut (408)", cut);
            if (refused > 0)
                TD_LOG(TD_LOG_INFO, "gate_refused",
                       "%u connection(s) waited %d ms for a worker: 503", refused,
                       GATE_QUEUE_WAIT_MS);
            pthread_mutex_lock(&g->lock);
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!g->stopping)
            pthread_cond_timedwait(&g->wake, &g->lock, &ts);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* ---- /metrics ------------------------------------------------------------ */

void gw_gate_stats(struct gw_gate *g, struct gw_gate_stats *out)
{
    memset(out, 0, sizeof *out);
    if (g == NULL)
        return;
    out->refused_client = atomic_load_explicit(&g->refused_client, memory_order_relaxed);
    out->refused_busy = atomic_load_explicit(&g->refused_busy, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&g->timeouts, memory_order_relaxed);
    pthread_mutex_lock(&g->lock);
    out->active = g->active;
    out->queued = g->queued;
    pthread_mutex_unlock(&g->lock);
}
