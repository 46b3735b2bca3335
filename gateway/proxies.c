/*
 * proxies.c — who the client is: the socket peer, unless the peer is a
 * trusted proxy (TRUSTED_PROXIES).
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>

struct gw_proxies {
    int unused;
};

int gw_proxies_new(const struct gw_config *cfg, struct gw_proxies **out)
{
    (void)cfg;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -19;
}

void gw_proxies_free(struct gw_proxies **p)
{
    free(*p);
    *p = NULL;
}

void gw_proxies_identify(struct gw_request *req)
{
    snprintf(req->client_ip, sizeof req->client_ip, "%s", req->ri->remote_addr);
    req->over_tls = false;
}
