/*
 * provider.c — lexicon or LLM, the fallback between them, the circuit
 * breaker and the cache (see provider.h).
 */
#include "provider.h"
#include "markup.h"
#include "td_error.h"
#include "td_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Part of the LLM cache key: bump it when the prompt (llm_parse.c) or the
 * way phrases are located changes, so old answers are not served again. */
#define SENTI_LLM_CACHE_VERSION "llm-1"

struct senti_provider {
    bool use_llm;
    char llm_name[160];      /* "github-models:<model>", reported to callers */
    char llm_key_id[192];    /* llm_name + prompt version, hashed into cache keys */
    struct senti_llm **clients;
    unsigned nclients;
    int breaker_failures;
    long breaker_cooldown_ms;
    atomic_int failures;          /* LLM calls failed in a row */
    atomic_llong open_until_ms;   /* monotonic ms until which the LLM is skipped */
    struct senti_store *store;
    struct senti_spans *scratch;  /* one span list per worker, reused */
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void senti_provider_free(struct senti_provider **pp)
{
    struct senti_provider *p = *pp;
    if (p == NULL)
        return;
    for (unsigned i = 0; p->clients != NULL && i < p->nclients; i++)
        senti_llm_free(&p->clients[i]);
    for (unsigned i = 0; p->scratch != NULL && i < p->nclients; i++)
        senti_spans_free(&p->scratch[i]);
    free(p->clients);
    free(p->scratch);
    free(p);
    *pp = NULL;
}

int senti_provider_new(const struct senti_provider_opts *o, struct senti_provider **out)
{
    if (o == NULL || o->provider == NULL || o->nclients == 0)
        return TD_EINVAL;
    bool llm = strcmp(o->provider, "github-models") == 0;
    if (!llm && strcmp(o->provider, "lexicon") != 0)
        return TD_EINVAL;
    struct senti_provider *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TD_ENOMEM;
    p->use_llm = llm;
    p->nclients = o->nclients;
    p->store = o->store;
    p->breaker_failures = o->breaker_failures;
    p->breaker_cooldown_ms = o->breaker_cooldown_ms;
    atomic_init(&p->failures, 0);
    atomic_init(&p->open_until_ms, 0);
    p->scratch = calloc(o->nclients, sizeof *p->scratch);
    int rc = p->scratch == NULL ? TD_ENOMEM : 0;
    if (rc == 0 && llm) {
        if (o->llm.model == NULL ||
            snprintf(p->llm_name, sizeof p->llm_name, "github-models:%s", o->llm.model) >=
                (int)sizeof p->llm_name)
            rc = TD_EINVAL;
        else
            snprintf(p->llm_key_id, sizeof p->llm_key_id, "%s/%s", p->llm_name,
                     SENTI_LLM_CACHE_VERSION);
        if (rc == 0) {
            p->clients = calloc(o->nclients, sizeof *p->clients);
            rc = p->clients == NULL ? TD_ENOMEM : 0;
        }
        for (unsigned i = 0; rc == 0 && i < o->nclients; i++)
            rc = senti_llm_new(&o->llm, &p->clients[i]);
    }
    if (rc != 0) {
        senti_provider_free(&p);
        return rc;
    }
    *out = p;
    return 0;
}

const char *senti_provider_name(const struct senti_provider *p)
{
    return p->use_llm ? p->llm_name : SENTI_ANALYZER_VERSION;
}

void senti_result_free(struct senti_result *r)
{
    free(r->html);
    memset(r, 0, sizeof *r);
}


/* Builds the markup of text with spans into *out. */
static int finish(const char *text, size_t len, const struct senti_spans *spans,
                  const char *analyzer, struct senti_result *out)
{
    struct senti_result r = {.analyzer = analyzer};
    int rc = senti_markup_build(text, len, spans, &r.html, &r.html_len, &r.positive, &r.negative);
    if (rc != 0)
        return rc;
    *out = r;
    return 0;
}

/* Cache lookup; any failure is a miss (the store logged it). */
static bool cache_get(struct senti_provider *p, unsigned worker, const unsigned char *key,
                      struct senti_spans *spans)
{
    return p->store != NULL && senti_cache_get(p->store, worker, key, spans) == 0;
}

static void cache_put(struct senti_provider *p, unsigned worker, const unsigned char *key,
                      const struct senti_spans *spans, const struct senti_result *r)
{
    /* A cache that cannot be written only costs a recomputation later. */
    if (p->store != NULL)
        (void)senti_cache_put(p->store, worker, key, spans, r->positive, r->negative);
}

/* The LLM path. Returns 0 with *out filled, 1 when the caller must fall back
 * (logged here), or a hard error (TD_ENOMEM, from the markup). */
static int analyze_llm(struct senti_provider *p, unsigned worker, const char *text, size_t len,
                       struct senti_spans *spans, struct senti_result *out)
{
    long long now = mono_ms();
    if (p->breaker_failures > 0 && now < atomic_load(&p->open_until_ms)) {
        TD_LOG(TD_LOG_WARN, "llm_fallback",
               "LLM skipped after %d failed calls in a row (breaker open for %lld ms more)",
               atomic_load(&p->failures), atomic_load(&p->open_until_ms) - now);
        return 1;
    }
    unsigned char key[SENTI_CACHE_KEY_BYTES];
    senti_cache_key(p->llm_key_id, text, len, key);
    if (cache_get(p, worker, key, spans)) {
        int rc = finish(text, len, spans, p->llm_name, out);
        if (rc == 0)
            out->cached = true;
        return rc;
    }
    char why[256] = "";
    int rc = senti_llm_spans(p->clients[worker], text, len, spans, why, sizeof why);
    if (rc != 0) {
        int f = atomic_fetch_add(&p->failures, 1) + 1;
        TD_LOG(TD_LOG_WARN, "llm_fallback", "LLM call failed, embedded analyzer used: %s (%s)",
               why, td_error_symbol(rc));
        if (p->breaker_failures > 0 && f >= p->breaker_failures) {
            atomic_store(&p->open_until_ms, mono_ms() + p->breaker_cooldown_ms);
            TD_LOG(TD_LOG_WARN, "llm_breaker_open",
                   "%d LLM calls failed in a row: skipping the LLM for %ld ms", f,
                   p->breaker_cooldown_ms);
        }
        return rc == TD_ENOMEM ? TD_ENOMEM : 1;
    }
    atomic_store(&p->failures, 0);
    rc = finish(text, len, spans, p->llm_name, out);
    if (rc == 0)
        cache_put(p, worker, key, spans, out);
    return rc;
}

int senti_provider_analyze(struct senti_provider *p, unsigned worker, const char *text,
                           size_t len, struct senti_result *out)
{
    if (p == NULL || out == NULL || (text == NULL && len > 0) || worker >= p->nclients)
        return TD_EINVAL;
    if (len > SENTI_MAX_TEXT_BYTES)
        return TD_ETOOBIG;
    if (text == NULL)
        text = "";
    struct senti_spans *spans = &p->scratch[worker];
    bool fallback = false;
    if (p->use_llm) {
        int rc = analyze_llm(p, worker, text, len, spans, out);
        if (rc <= 0)
            return rc;
        fallback = true;
    }
    /* the embedded analyzer: never cached (provider.h) */
    struct senti_result r;
    int rc = senti_analyze(text, len, spans);
    if (rc != 0)
        return rc;
    rc = finish(text, len, spans, SENTI_ANALYZER_VERSION, &r);
    if (rc != 0)
        return rc;
    r.fallback = fallback;
    *out = r;
    return 0;
}
