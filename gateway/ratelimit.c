/*
 * ratelimit.c — per client IP and route limits.
 */
#include "edge.h"

#include <stdlib.h>

struct gw_ratelimit {
    int unused;
};

int gw_ratelimit_new(const struct gw_config *cfg, struct gw_ratelimit **out)
{
    (void)cfg;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -19;
}

void gw_ratelimit_free(struct gw_ratelimit **r)
{
    free(*r);
    *r = NULL;
}

bool gw_ratelimit_refuse(struct gw_request *req)
{
    (void)req;
    return false;
}
