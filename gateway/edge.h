/*
 * edge.h — the hooks the request pipeline (server.c) calls, one module each:
 * proxies.c (who the client is), cors.c, ratelimit.c, auth.c (tokens and
 * revocations), metrics.c. Each *_new returns 0 or a TD_E* code and logs
 * why; each *_free accepts NULL and NULLs the pointer.
 */
#ifndef GW_EDGE_H
#define GW_EDGE_H

#include "app.h"

/* proxies.c: fills req->client_ip (the socket peer, or the right-most
 * untrusted X-Forwarded-For address when the peer is a trusted proxy) and
 * req->over_tls. */
int gw_proxies_new(const struct gw_config *cfg, struct gw_proxies **out);
void gw_proxies_free(struct gw_proxies **p);
void gw_proxies_identify(struct gw_request *req);

/* proxies.c: whether `ip` (text) is one of TRUSTED_PROXIES; false for NULL p. */
bool gw_proxies_trusts(const struct gw_proxies *p, const char *ip);

/* proxies.c: the bucket a client address counts in (rate limits, the
 * per-address connection cap): an IPv4 address itself, an IPv6 address's
 * /64 network ("2001:db8:1:2::/64"; an IPv4-mapped one as IPv4), anything
 * unparsable as given. Written NUL-terminated into out (truncated to size). */
void gw_client_key(const char *ip, char *out, size_t size);

/* cors.c: queues the CORS headers for the request's Origin; answers a
 * preflight itself and returns true when it did. */
int gw_cors_new(const struct gw_config *cfg, struct gw_cors **out);
void gw_cors_free(struct gw_cors **c);
bool gw_cors_handle(struct gw_request *req);

/* ratelimit.c: counts the request against its route's limit (routed requests
 * only), queues the X-RateLimit-* headers, and sends 429 and returns true when
 * the limit is exhausted. */
int gw_ratelimit_new(const struct gw_config *cfg, struct gw_ratelimit **out);
void gw_ratelimit_free(struct gw_ratelimit **r);
bool gw_ratelimit_refuse(struct gw_request *req);

/* auth.c: checks the bearer token the route needs; sends 401 and returns
 * true when it is missing or not acceptable, else fills req->user_id. */
int gw_auth_new(struct gw_app *app, struct gw_jwt **jwt, struct gw_revocations **rev);
void gw_auth_free(struct gw_jwt **jwt, struct gw_revocations **rev);
bool gw_auth_refuse(struct gw_request *req);

/* metrics.c: records one finished request. */
int gw_metrics_new(struct gw_metrics **out);
void gw_metrics_free(struct gw_metrics **m);
void gw_metrics_observe(struct gw_request *req, int64_t duration_us);

#endif
