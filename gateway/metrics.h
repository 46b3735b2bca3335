/*
 * metrics.h — what the rest of the gateway tells metrics.c besides the
 * finished request (edge.h): upstream RPC calls, and the rendering of
 * /metrics. The rate limiter, the token cache and the process figures keep
 * their own counters; metrics.c reads them when rendering.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "app.h"

/* One RPC call to the daemon serving `op` ("auth.login" → auth): `rc` is
 * td_rpc_call's return, `status` the reply status when rc is 0. */
void gw_metrics_upstream(struct gw_metrics *m, const char *op, int rc, int status,
                         int64_t duration_us);

/* The Prometheus text exposition (format 0.0.4) of every family: HTTP
 * requests and latencies, upstream calls, the connection gate's and the
 * bulkheads' counters (app->gate, app->bulkhead, may be NULL), the rate
 * limiter's (app->ratelimit), the token cache's (app->jwt, may be NULL), the
 * process figures and the build. Every sample has a distinct name and label set.
 * On 0, *out is malloc'd text the caller frees; TD_ENOMEM otherwise. */
int gw_metrics_render(const struct gw_app *app, char **out, size_t *len);

#endif
