/*
 * fake_llm.h — a fake OpenAI-compatible chat-completions server for tests,
 * on 127.0.0.1 and an ephemeral port, in threads of the test process.
 *
 * Built as the library td_fake_llm (tests/fake_llm/fake_llm.c), linked into
 * the sentiment unit tests and the integration tests.
 *
 * It speaks just enough HTTP/1.1 for libcurl: one request after another on
 * each kept-alive connection, Content-Length bodies, "Expect: 100-continue".
 * The test chooses the behaviour (a normal answer with a given message
 * content, a hang, garbage, an over-size body, error statuses for the first N
 * requests with an optional Retry-After) and reads back what it saw: the
 * number of requests, the last Authorization header, path and body.
 */
#ifndef TD_FAKE_LLM_H
#define TD_FAKE_LLM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

enum fake_llm_mode {
    FAKE_LLM_OK,      /* 200 with choices[0].message.content = content */
    FAKE_LLM_HANG,    /* read the request, never answer */
    FAKE_LLM_GARBAGE, /* 200 with a body that is not JSON */
    FAKE_LLM_HUGE,    /* 200 with a 2 MiB body */
    FAKE_LLM_STATUS,  /* every request gets fail_status */
};

#define FAKE_LLM_MAX_CONNS 128

struct fake_llm {
    int port;
    int lfd;
    pthread_t accept_thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    /* behaviour (under mu) */
    enum fake_llm_mode mode;
    char *content;
    int fail_first;   /* the next N requests get fail_status */
    int fail_status;
    int retry_after;  /* seconds; < 0: no header */
    /* observations (under mu) */
    int requests;
    char last_auth[512];
    char last_path[256];
    char *last_body;
    /* connections */
    int nconns;
    int conn_fd[FAKE_LLM_MAX_CONNS];
    pthread_t conn_thread[FAKE_LLM_MAX_CONNS];
};

/* Starts the server; returns 0 or -1. */
int fake_llm_start(struct fake_llm *f);
void fake_llm_stop(struct fake_llm *f);

/* Sets the mode and, for FAKE_LLM_OK, the message content the model "says". */
void fake_llm_set(struct fake_llm *f, enum fake_llm_mode mode, const char *content);

/* The next n requests get `status` (with Retry-After: retry_after when >= 0). */
void fake_llm_fail_first(struct fake_llm *f, int n, int status, int retry_after);

/* The number of requests answered so far. */
int fake_llm_requests(struct fake_llm *f);

#endif
