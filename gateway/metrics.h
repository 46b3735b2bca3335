/*
 * metrics.h — what the rest of the gateway tells metrics.c besides the
 * finished request (edge.h): rate-limit rejections and upstream RPC calls,
 * and the rendering of /metrics.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "app.h"

/* A request refused with 429 on `route`. */
void gw_metrics_ratelimit_rejected(struct gw_metrics *m, const struct gw_route *route);

/* One RPC call to the daemon serving `op` ("auth.login" → auth): `rc` is
 * td_rpc_call's return, `status` the reply status when rc is 0. */
void gw_metrics_upstream(struct gw_metrics *m, const char *op, int rc, int status,
                         int64_t duration_us);

/* The Prometheus text exposition of every counter, including the rate
 * limiter's (app->ratelimit). On 0, *out is malloc'd text the caller frees;
 * TD_ENOMEM otherwise. */
int gw_metrics_render(const struct gw_app *app, char **out, size_t *len);

#endif
