/*
 * provider_llm.h — the network half of the LLM sentiment provider: one
 * OpenAI-compatible chat-completions exchange over libcurl, with timeouts,
 * a bounded retry and a size cap. The pure half (request body, response
 * parsing, phrase checking) is llm_parse.c; the markup is markup.c.
 *
 * A client owns one CURL easy handle, so its connection is kept alive from
 * call to call; it is used by one thread at a time (one client per RPC
 * worker). curl_global_init must have run before the first client is made.
 */
#ifndef SENTI_PROVIDER_LLM_H
#define SENTI_PROVIDER_LLM_H

#include "analyzer.h"

#include <stddef.h>

struct senti_llm_opts {
    const char *api_url; /* chat-completions endpoint */
    const char *token;   /* bearer token; copied, never logged */
    const char *model;
    long timeout_ms;     /* connect + transfer limit of one attempt */
    long deadline_ms;    /* every attempt and every backoff pause together */
    int retries;         /* extra attempts after a 429, a 5xx or a transport error */
    long backoff_base_ms; /* first pause before a retry (0: 100 ms); doubles each time */
};

struct senti_llm;

/* Makes a client. Returns 0 and *out, TD_EINVAL (missing option) or TD_ENOMEM. */
int senti_llm_new(const struct senti_llm_opts *opts, struct senti_llm **out);

/* Frees the client (wiping its copy of the token); NULLs *l. */
void senti_llm_free(struct senti_llm **l);

/* Asks the model about `len` bytes of `text` and stores the validated spans
 * in `out` (contents replaced). Returns 0 on success, possibly with no span.
 * On failure returns a negative TD_E* (TD_ETIMEDOUT, TD_EDOWN for transport
 * errors and refused statuses, TD_EPROTO for an unusable answer, TD_EINVAL
 * for a text the model cannot be sent, TD_ENOMEM), leaves `out` empty, and
 * writes a short reason for the logs into why (never the token, the text or
 * the model's answer). */
int senti_llm_spans(struct senti_llm *l, const char *text, size_t len, struct senti_spans *out,
                    char *why, size_t whylen);

#endif
