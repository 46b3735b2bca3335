/*
 * proxies.c — who the client is: the socket peer, unless the peer is a
 * trusted proxy (TRUSTED_PROXIES: addresses or CIDR blocks, comma-separated).
 *
 * Only a trusted peer's forwarding headers are read, because anyone else can
 * write them. Each proxy appends the address it saw to the right of
 * X-Forwarded-For, so the list is walked from the right: trusted hops are
 * skipped and the first untrusted address is the client. Everything to its
 * left was written by the client itself and is ignored, so a spoofed
 * X-Forwarded-For cannot pick another client's rate-limit bucket. A
 * malformed entry stops the walk at the last good address. X-Forwarded-For
 * wins over Forwarded (RFC 7239), which wins over X-Real-IP; a proxy sends
 * one of them. X-Forwarded-Proto (or Forwarded proto=) "https" from a trusted
 * peer marks the request as received over TLS (HSTS is then sent).
 */
#include "edge.h"
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROXIES 64
#define MAX_HOPS 32

struct net {
    int family;          /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;          /* bits */
};

struct gw_proxies {
    struct net nets[MAX_PROXIES];
    size_t n;
};

/* Parses an address into canonical binary form; an IPv4-mapped IPv6 address
 * counts as the IPv4 address it carries. */
static bool parse_ip(const char *s, size_t len, struct net *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out->addr, mapped, 12) == 0) {
            memmove(out->addr, out->addr + 12, 4);
            memset(out->addr + 4, 0, 12);
            out->family = AF_INET;
            out->prefix = 32;
        } else {
            out->family = AF_INET6;
            out->prefix = 128;
        }
        return true;
    }
    return false;
}

static bool net_contains(const struct net *n, const struct net *a)
{
    if (n->family != a->family)
        return false;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(n->addr, a->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->addr[full] & mask) == (a->addr[full] & mask);
}

static bool is_trusted(const struct gw_proxies *p, const struct net *a)
{
    for (size_t i = 0; i < p->n; i++) {
        if (net_contains(&p->nets[i], a))
            return true;
    }
    return false;
}

static void format_ip(const struct net *a, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(a->family, a->addr, text, sizeof text) == NULL)
        snprintf(text, sizeof text, "invalid");
    snprintf(buf, size, "%s", text);
}

int gw_proxies_new(const struct gw_config *cfg, struct gw_proxies **out)
{
    struct gw_proxies *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TD_ENOMEM;
    const char *cursor = cfg->trusted_proxies, *item;
    size_t len;
    while (td_list_next(&cursor, &item, &len)) {
        const char *slash = memchr(item, '/', len);
        struct net n;
        bool ok = p->n < MAX_PROXIES && parse_ip(item, slash ? (size_t)(slash - item) : len, &n);
        if (ok && slash) {
            char bits[8];
            size_t blen = len - (size_t)(slash - item) - 1;
            char *end;
            ok = blen > 0 && blen < sizeof bits;
            if (ok) {
                memcpy(bits, slash + 1, blen);
                bits[blen] = '\0';
                long v = strtol(bits, &end, 10);
                int max = n.family == AF_INET ? 32 : 128;
                ok = *end == '\0' && isdigit((unsigned char)bits[0]) && v >= 0 && v <= max;
                n.prefix = (int)v;
            }
        }
        if (!ok) {
            fprintf(stderr,
                    "td-gateway: configuration error: TRUSTED_PROXIES: '%.*s' is not an IP "
                    "address or CIDR block (at most %d)\n",
                    (int)len, item, MAX_PROXIES);
            free(p);
            return TD_ECONFIG;
        }
        p->nets[p->n++] = n;
    }
    *out = p;
    return 0;
}

void gw_proxies_free(struct gw_proxies **p)
{
    free(*p);
    *p = NULL;
}

/* One X-Forwarded-For / X-Real-IP element: an address, possibly with a port
 * ("1.2.3.4:80", "[::1]:80"). */
static bool parse_hop(const char *s, size_t len, struct net *out)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len > 1 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        return close && parse_ip(s + 1, (size_t)(close - s - 1), out);
    }
    if (parse_ip(s, len, out))
        return true;
    const char *colon = memchr(s, ':', len);
    /* "a.b.c.d:port": only IPv4 has a single colon. */
    if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL)
        return parse_ip(s, (size_t)(colon - s), out);
    return false;
}

/* Collects the hops of every header `name` (repeated headers are one list, in
 * order) into hops[]; for "Forwarded" the for= parameters. */
static size_t collect_hops(const struct gw_request *req, const char *name, struct net *hops,
                           bool *bad)
{
    size_t n = 0;
    bool forwarded = strcasecmp(name, "Forwarded") == 0;
    for (int i = 0; i < req->ri->num_headers; i++) {
        if (strcasecmp(req->ri->http_headers[i].name, name) != 0)
            continue;
        const char *v = req->ri->http_headers[i].value;
        while (v && *v) {
            size_t len = strcspn(v, ",");
            const char *elem = v;
            v += len;
            if (*v == ',')
                v++;
            if (forwarded) {
                /* element: pairs separated by ';', we want for=... */
                const char *f = NULL;
                for (const char *q = elem; q < elem + len;) {
                    while (q < elem + len && (*q == ' ' || *q == ';'))
                        q++;
                    if ((size_t)(elem + len - q) > 4 && strncasecmp(q, "for=", 4) == 0) {
                        f = q + 4;
                        break;
                    }
                    const char *semi = memchr(q, ';', (size_t)(elem + len - q));
                    q = semi ? semi : elem + len;
                }
                if (f == NULL)
                    continue;
                size_t flen = strcspn(f, ";,");
                if (f + flen > elem + len)
                    flen = (size_t)(elem + len - f);
                elem = f;
                len = flen;
            }
            if (n == MAX_HOPS) {
                /* Keep the right-most hops: those are the ones proxies wrote. */
                memmove(hops, hops + 1, (MAX_HOPS - 1) * sizeof *hops);
                n--;
            }
            if (!parse_hop(elem, len, &hops[n])) {
                /* Remember where the garbage was: the walk stops there. */
                memset(&hops[n], 0, sizeof hops[n]);
                *bad = true;
            }
            n++;
        }
    }
    return n;
}

static bool forwarded_https(const struct gw_request *req)
{
    const char *xfp = gw_header(req, "X-Forwarded-Proto");
    if (xfp != NULL) {
        /* The last proxy's word counts: the value after the last comma. */
        const char *last = strrchr(xfp, ',');
        last = last ? last + 1 : xfp;
        while (*last == ' ')
            last++;
        return strncasecmp(last, "https", 5) == 0 &&
               (last[5] == '\0' || last[5] == ' ');
    }
    const char *fwd = gw_header(req, "Forwarded");
    if (fwd != NULL) {
        const char *last = strrchr(fwd, ',');
        last = last ? last + 1 : fwd;
        const char *p = strcasestr(last, "proto=");
        if (p != NULL) {
            p += 6;
            if (*p == '"')
                p++;
            return strncasecmp(p, "https", 5) == 0;
        }
    }
    return false;
}

bool gw_proxies_trusts(const struct gw_proxies *p, const char *ip)
{
    struct net a;
    return p != NULL && p->n > 0 && ip != NULL && parse_ip(ip, strlen(ip), &a) &&
           is_trusted(p, &a);
}

void gw_client_key(const char *ip, char *out, size_t size)
{
    struct net a;
    if (ip == NULL || !parse_ip(ip, strlen(ip), &a)) {
        snprintf(out, size, "%s", ip ? ip : "");
        return;
    }
    if (a.family == AF_INET6) {
        /* One subscriber or host usually holds a whole /64 and picks its
         * addresses in it at will: counting per address would give it 2^64
         * budgets. */
        memset(a.addr + 8, 0, 8);
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, a.addr, text, sizeof text) == NULL)
            snprintf(text, sizeof text, "invalid");
        snprintf(out, size, "%s/64", text);
        return;
    }
    format_ip(&a, out, size);
}

void gw_proxies_identify(struct gw_request *req)
{
    struct gw_proxies *p = req->app ? req->app->proxies : NULL;
    struct net peer;
    req->over_tls = false;
    if (!parse_ip(req->ri->remote_addr, strlen(req->ri->remote_addr), &peer)) {
        snprintf(req->client_ip, sizeof req->client_ip, "%s", req->ri->remote_addr);
        return;
    }
    struct net client = peer;
    if (p != NULL && p->n > 0 && is_trusted(p, &peer)) {
        static const char *const headers[] = {"X-Forwarded-For", "Forwarded", "X-Real-IP"};
        for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
            struct net hops[MAX_HOPS];
            bool bad = false;
            size_t n = collect_hops(req, headers[h], hops, &bad);
            if (n == 0)
                continue;
            for (size_t i = n; i-- > 0;) {
                if (hops[i].family == 0)
                    break; /* malformed: believe nothing left of it */
                client = hops[i];
                if (!is_trusted(p, &hops[i]))
                    break;
            }
            break;
        }
        req->over_tls = forwarded_https(req);
    }
    format_ip(&client, req->client_ip, sizeof req->client_ip);
}
