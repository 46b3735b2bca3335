/*
 * provider.h — which analyzer answers a request, and what happens when it
 * cannot: the one entry point the RPC handler and --analyze-lines share.
 *
 * With SENTIMENT_PROVIDER=lexicon every text goes to the embedded analyzer.
 * With github-models the LLM is asked first; on any failure (timeout, HTTP
 * error, garbage, a text it cannot be sent) the embedded analyzer answers
 * instead and a warning "llm_fallback" records why. After
 * breaker_failures failed calls in a row the LLM is skipped for
 * breaker_cooldown_ms, so a dead endpoint does not cost every request the
 * whole deadline.
 *
 * The LLM's answers go through the cache (store.h) when a store is given,
 * keyed by the model and the prompt's version. The embedded analyzer's never
 * do, fallbacks included: it reads a 1 KB entry in ~23 µs, while a cache
 * miss and its row cost td-sentiment ~90 µs more per new text, and diary
 * entries are new texts (docs/performance.md, "Writes").
 */
#ifndef SENTI_PROVIDER_H
#define SENTI_PROVIDER_H

#include "analyzer.h"
#include "provider_llm.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

struct senti_provider_opts {
    const char *provider;  /* "lexicon" or "github-models" */
    struct senti_llm_opts llm; /* used with github-models only */
    unsigned nclients;     /* concurrent callers: one LLM client each (the worker index) */
    int breaker_failures;  /* 0: never skip the LLM */
    long breaker_cooldown_ms;
    struct senti_store *store; /* NULL: no cache */
};

struct senti_provider;

/* Returns 0 and *out, TD_EINVAL (unknown provider, bad LLM options) or TD_ENOMEM. */
int senti_provider_new(const struct senti_provider_opts *opts, struct senti_provider **out);

/* Frees the provider and its LLM clients (not the store); NULLs *p. */
void senti_provider_free(struct senti_provider **p);

/* The analyzer this provider prefers: SENTI_ANALYZER_VERSION ("lexicon-5") or "github-models:<model>". */
const char *senti_provider_name(const struct senti_provider *p);

struct senti_result {
    char *html;           /* analyzed_content, NUL-terminated, malloc'd */
    size_t html_len;
    size_t positive;      /* spans actually marked */
    size_t negative;
    const char *analyzer; /* who produced it; static or the provider's storage */
    bool cached;          /* served from the cache */
    bool fallback;        /* the LLM failed or was skipped; the lexicon answered */
};

/* Analyses `len` bytes of `text` (len <= SENTI_MAX_TEXT_BYTES) on behalf of
 * caller `worker` (< nclients; picks the LLM client and the store
 * connection). Returns 0 and fills *out (free with senti_result_free), or
 * TD_EINVAL (bad arguments), TD_ETOOBIG (text too long) or TD_ENOMEM, with
 * *out untouched. LLM and cache failures are not errors: they fall back. */
int senti_provider_analyze(struct senti_provider *p, unsigned worker, const char *text,
                           size_t len, struct senti_result *out);

void senti_result_free(struct senti_result *r);

#endif
