/*
 * nng_req0_leak.c — shows, with nng alone, the request-message leak that
 * docs/library-notes.md describes under "A request sent as its connection
 * closes is leaked": eight threads send requests on one req0 socket over
 * four connections while the rep side keeps closing the connection a request
 * came in on. Built in every build; meaningful under AddressSanitizer:
 *
 *     build-asan/bin/nng-req0-leak [seconds]   # default 4
 *
 * With nng 1.5.2 LeakSanitizer reports, in about one run in four on a
 * 2-core machine, "Direct leak of 112 byte(s)" allocated by `send_loop`.
 * When a run of twenty shows none, the nng in use has the fix and
 * tests/lsan-peer-death.supp can go.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SENDERS 8
#define CONNECTIONS 4

static nng_socket req_sock, rep_sock;
static atomic_bool stop;
static atomic_long replies;

static void die(const char *what, int rv)
{
    fprintf(stderr, "nng-req0-leak: %s: %s\n", what, nng_strerror(rv));
    exit(2);
}

static void *send_loop(void *unused)
{
    (void)unused;
    nng_ctx ctx;
    nng_aio *aio;
    int rv;
    if ((rv = nng_ctx_open(&ctx, req_sock)) != 0 || (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
        die("ctx", rv);
    while (!atomic_load(&stop)) {
        nng_msg *msg;
        if ((rv = nng_msg_alloc(&msg, 0)) != 0 || (rv = nng_msg_append(msg, "ping", 4)) != 0)
            die("msg", rv);
        nng_aio_set_timeout(aio, 200);
        nng_aio_set_msg(aio, msg);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            nng_msg_free(msg); /* not taken: still ours */
            continue;
        }
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) == 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            atomic_fetch_add(&replies, 1);
        }
    }
    nng_aio_free(aio);
    return NULL;
}

/* Answers three requests in four; on the fourth, closes its connection. */
static void *answer_loop(void *unused)
{
    (void)unused;
    unsigned n = 0;
    while (!atomic_load(&stop)) {
        nng_msg *msg;
        if (nng_recvmsg(rep_sock, &msg, 0) != 0)
            continue; /* receive timeout: look at `stop` again */
        if (++n % 4 == 0) {
            nng_pipe pipe = nng_msg_get_pipe(msg);
            nng_msg_free(msg);
            nng_pipe_close(pipe);
        } else if (nng_sendmsg(rep_sock, msg, 0) != 0) {
            nng_msg_free(msg);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 4;
    char url[128];
    snprintf(url, sizeof url, "ipc:///tmp/nng-req0-leak-%ld.sock", (long)getpid());
    int rv;
    if ((rv = nng_rep0_open(&rep_sock)) != 0 ||
        (rv = nng_socket_set_ms(rep_sock, NNG_OPT_RECVTIMEO, 100)) != 0 ||
        (rv = nng_listen(rep_sock, url, NULL, 0)) != 0)
        die("rep", rv);
    /* The same options as common/td_rpc_client.c. */
    if ((rv = nng_req0_open(&req_sock)) != 0 ||
        (rv = nng_socket_set_ms(req_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(req_sock, NNG_OPT_RECONNMINT, 1)) != 0 ||
        (rv = nng_socket_set_ms(req_sock, NNG_OPT_RECONNMAXT, 5)) != 0)
        die("req", rv);
    for (int i = 0; i < CONNECTIONS; i++)
        if ((rv = nng_dial(req_sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
            die("dial", rv);
    pthread_t threads[SENDERS + 1];
    for (int i = 0; i <= SENDERS; i++)
        if (pthread_create(&threads[i], NULL, i < SENDERS ? send_loop : answer_loop, NULL) != 0)
            die("pthread_create", NNG_ENOMEM);
    nng_msleep(seconds * 1000);
    atomic_store(&stop, true);
    for (int i = 0; i <= SENDERS; i++)
        pthread_join(threads[i], NULL);
    /* No nng_close: under this churn nng 1.5.2's close waits for ever
     * (docs/library-notes.md, "The reaper can wedge for good"). Whatever the sockets
     * still hold stays reachable; only a message nng lost shows as a leak. */
    unlink(url + strlen("ipc://"));
    printf("nng-req0-leak: %ld replies in %d s\n", atomic_load(&replies), seconds);
    return 0;
}
