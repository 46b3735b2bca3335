/* llm_parse.h — the pure half of the LLM sentiment provider.
 *
 * Owns: the JSON request body sent to an OpenAI-compatible chat-completions
 * endpoint, and the parsing of its response into validated spans. The model
 * is treated as untrusted: it only names phrases; each phrase must really
 * occur in the entry (found here, on word boundaries, without overlap), and
 * the HTML is always built by markup.c. No I/O here: the HTTP call (libcurl,
 * timeouts, retries) lives in the daemon.
 */
#ifndef TD_SENTI_LLM_PARSE_H
#define TD_SENTI_LLM_PARSE_H

#include <stddef.h>

#include "analyzer.h"

#define SENTI_LLM_MAX_RESPONSE ((size_t)1024 * 1024)   /* whole HTTP body */
#define SENTI_LLM_MAX_CONTENT ((size_t)256 * 1024)     /* message content */
#define SENTI_LLM_MAX_PHRASES 200                      /* items looked at */
#define SENTI_LLM_MAX_PHRASE_BYTES 512                 /* one phrase */

/* Builds the request body: {"model", "temperature": 0, "response_format":
 * {"type": "json_object"}, "messages": [system, user]} where the system
 * message asks for {"phrases":[{"text","sentiment"}]} and never HTML, and the
 * user message is the entry text. `model` must be a non-empty NUL-terminated
 * string; `text` must be valid UTF-8 without NUL of at most
 * SENTI_MAX_TEXT_BYTES. On success returns 0 and a malloc'd NUL-terminated
 * body in *out_body (caller frees) with its length in *out_len. Errors:
 * TD_EINVAL (bad argument, invalid UTF-8), TD_ETOOBIG (too long),
 * TD_ENOMEM; out-parameters untouched on failure. */
int senti_llm_request_new(const char *model, const char *text, size_t len,
                          char **out_body, size_t *out_len);

/* Parses a chat-completions response `body` (`body_len` bytes, any bytes)
 * for the entry `text` (`len` bytes). Reads choices[0].message.content,
 * which must hold (optionally inside ``` or ```json fences) a JSON object
 * {"phrases": [{"text": "...", "sentiment": "positive"|"negative"}, ...]}
 * (a bare array of such items is accepted too). Each phrase is located in
 * `text` ASCII-case-insensitively, on word boundaries, at its first
 * occurrence that overlaps no phrase accepted before it; phrases not found,
 * empty, too long, or with another sentiment are dropped, and at most
 * SENTI_LLM_MAX_PHRASES items are looked at.
 *
 * On success returns 0 and replaces the contents of `out` with the spans,
 * sorted and non-overlapping (weight 1.0) — possibly none. Errors, with
 * `out` left empty: TD_EINVAL (not JSON, duplicate keys, missing or
 * mistyped fields, content not the expected JSON), TD_ETOOBIG (body or
 * content over the limits, text over SENTI_MAX_TEXT_BYTES), TD_ENOMEM. */
int senti_llm_parse_response(const char *body, size_t body_len,
                             const char *text, size_t len,
                             struct senti_spans *out);

#endif
