/*
 * ratelimit.c — per client IP (an IPv6 client per /64) and route limits
 * (the contract's rate limits, gateway/docs/openapi.json): the register and login routes, RATELIMIT_REGISTER /
 * RATELIMIT_LOGIN, counted in memory or in Redis (RATELIMIT_STORAGE), with
 * the memory store as the fallback whenever Redis is unusable: limits then
 * hold per gateway, the gateway never fails open and never answers 500
 * because of Redis.
 *
 * A hit Redis allowed is also recorded in the memory store ("mirrored"), so a
 * fallback starts from the hits this gateway really let through rather than
 * from zero. The limit runs after routing and before the token check and the
 * body are read, so every request to a limited route counts (failed logins
 * and malformed bodies included) and a refused one reaches no daemon.
 *
 * The limiter counts its own refusals and fallbacks; metrics.c only reads
 * them (gw_ratelimit_stats), so neither module calls into the other's hot
 * path.
 */
#include "edge.h"
#include "ratelimit.h"
#include "router.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Upper bound of the memory store: ~100 bytes per key plus the hit log, so a
 * few tens of MiB at worst, however many addresses a flood comes from. */
#define MEMORY_MAX_KEYS 131072

struct gw_ratelimit {
    bool enabled;
    struct gw_rl_limit reg, login;
    struct gw_rl_mem *mem;
    struct gw_rl_redis *redis; /* NULL with memory storage */
    atomic_ullong fallbacks;
    atomic_ullong rejected_register, rejected_login; /* requests refused with 429 */
};

int gw_rl_parse(const char *spec, struct gw_rl_limit *out)
{
    static const struct {
        const char *name;
        int64_t seconds;
    } units[] = {{"second", 1}, {"minute", 60}, {"hour", 3600}, {"day", 86400}};
    const char *p = spec;
    if (!isdigit((unsigned char)*p))
        return TD_EINVAL;
    errno = 0;
    char *end;
    long long n = strtoll(p, &end, 10);
    if (errno || n < 1 || n > GW_RL_MAX_LIMIT || *end != '/')
        return TD_EINVAL;
    p = end + 1;
    long long mult = 1;
    if (isdigit((unsigned char)*p)) {
        errno = 0;
        mult = strtoll(p, &end, 10);
        if (errno || mult < 1 || mult > GW_RL_MAX_WINDOW_S)
            return TD_EINVAL;
        p = end;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t len = strlen(units[i].name);
        if (strncmp(p, units[i].name, len) != 0)
            continue;
        const char *rest = p + len;
        if (strcmp(rest, "") != 0 && strcmp(rest, "s") != 0)
            return TD_EINVAL;
        if (mult > GW_RL_MAX_WINDOW_S / units[i].seconds)
            return TD_EINVAL;
        out->limit = n;
        out->window_us = mult * units[i].seconds * 1000000LL;
        return 0;
    }
    return TD_EINVAL;
}

static int config_error(const char *var, const char *value, const char *want)
{
    fprintf(stderr, "td-gateway: configuration error: %s: '%s' is not %s\n", var, value, want);
    return TD_ECONFIG;
}

int gw_ratelimit_new(const struct gw_config *cfg, struct gw_ratelimit **out)
{
    struct gw_ratelimit r;
    memset(&r, 0, sizeof r);
    r.enabled = cfg->ratelimit_enabled;
    const char *want = "a limit like 3/hour or 5/15minutes";
    /* Values are checked even when limits are off: a typo must not wait for
     * the day someone turns them on. */
    if (gw_rl_parse(cfg->ratelimit_register, &r.reg) != 0)
        return config_error("RATELIMIT_REGISTER", cfg->ratelimit_register, want);
    if (gw_rl_parse(cfg->ratelimit_login, &r.login) != 0)
        return config_error("RATELIMIT_LOGIN", cfg->ratelimit_login, want);
    bool use_redis = strcmp(cfg->ratelimit_storage, "memory") != 0;
    if (use_redis && gw_rl_redis_new(cfg->ratelimit_storage, &r.redis) != 0)
        return config_error("RATELIMIT_STORAGE", cfg->ratelimit_storage,
                            "'memory' or redis://host:port/db");
    struct gw_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL || gw_rl_mem_new(MEMORY_MAX_KEYS, &r.mem) != 0) {
        free(rl);
        gw_rl_redis_free(&r.redis);
        return TD_ENOMEM;
    }
    *rl = r;
    atomic_init(&rl->fallbacks, 0);
    atomic_init(&rl->rejected_register, 0);
    atomic_init(&rl->rejected_login, 0);
    /* A production deployment usually runs several gateways; in memory each
     * would enforce its own limit, multiplying the real one. */
    if (r.enabled && !use_redis && cfg->base.app_env == TD_ENV_PRODUCTION)
        TD_LOG(TD_LOG_WARN, "ratelimit_per_gateway",
               "RATELIMIT_STORAGE=memory: limits hold per gateway; with more than one gateway "
               "use redis://host:port/db");
    *out = rl;
    return 0;
}

void gw_ratelimit_free(struct gw_ratelimit **rp)
{
    struct gw_ratelimit *r = *rp;
    if (r == NULL)
        return;
    gw_rl_mem_free(&r->mem);
    gw_rl_redis_free(&r->redis);
    free(r);
    *rp = NULL;
}

static int64_t ceil_seconds(int64_t us)
{
    return us <= 0 ? 0 : (us + 999999) / 1000000;
}

bool gw_ratelimit_refuse(struct gw_request *req)
{
    struct gw_ratelimit *r = req->app->ratelimit;
    if (r == NULL || !r->enabled || req->route == NULL)
        return false;
    const struct gw_rl_limit *lim;
    const char *name;
    atomic_ullong *rejected;
    if (req->route->flags & GW_ROUTE_LIMIT_REGISTER) {
        lim = &r->reg;
        name = "register";
        rejected = &r->rejected_register;
    } else if (req->route->flags & GW_ROUTE_LIMIT_LOGIN) {
        lim = &r->login;
        name = "login";
        rejected = &r->rejected_login;
    } else {
        return false;
    }
    /* IPv6 clients count per /64 (gw_client_key). */
    char client[64], key[GW_RL_KEY_MAX];
    gw_client_key(req->client_ip, client, sizeof client);
    snprintf(key, sizeof key, "td:rl:%s:%s", name, client);

    struct gw_rl_result res;
    if (r->redis != NULL && gw_rl_redis_hit(r->redis, key, lim, &res) == 0) {
        if (res.allowed) {
            struct gw_rl_result mirror;
            gw_rl_mem_hit(r->mem, key, lim, td_now_us(), true, &mirror);
        }
    } else {
        if (r->redis != NULL)
            atomic_fetch_add_explicit(&r->fallbacks, 1, memory_order_relaxed);
        gw_rl_mem_hit(r->mem, key, lim, td_now_us(), false, &res);
    }

    gw_add_header(req, "X-RateLimit-Limit", "%lld", (long long)res.limit);
    gw_add_header(req, "X-RateLimit-Remaining", "%lld", (long long)res.remaining);
    gw_add_header(req, "X-RateLimit-Reset", "%lld", (long long)ceil_seconds(res.reset_us));
    if (res.allowed)
        return false;
    int64_t retry = ceil_seconds(res.retry_us);
    gw_add_header(req, "Retry-After", "%lld", (long long)(retry < 1 ? 1 : retry));
    atomic_fetch_add_explicit(rejected, 1, memory_order_relaxed);
    TD_LOG(TD_LOG_INFO, "ratelimit_refused", "%s limit reached for %s", name, req->client_ip);
    gw_respond_error(req, TD_ERATELIMIT, NULL, NULL);
    return true;
}

void gw_ratelimit_stats(struct gw_ratelimit *r, struct gw_ratelimit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return;
    out->enabled = r->enabled;
    out->redis = r->redis != NULL;
    out->fallbacks = atomic_load_explicit(&r->fallbacks, memory_order_relaxed);
    out->rejected_register = atomic_load_explicit(&r->rejected_register, memory_order_relaxed);
    out->rejected_login = atomic_load_explicit(&r->rejected_login, memory_order_relaxed);
    out->memory_keys = gw_rl_mem_size(r->mem);
    if (r->redis) {
        struct gw_rl_redis_stats rs;
        gw_rl_redis_stats(r->redis, &rs);
        out->redis_up = rs.up;
        out->redis_errors = rs.errors;
        out->redis_outages = rs.outages;
    }
}
