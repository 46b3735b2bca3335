/*
 * nng_reaper_wedge.c — shows, with nng alone, the wedge that
 * docs/library-notes.md describes under "nng's reaper can wedge": a peer
 * that dies while requests and replies cross on a connection can leave
 * nng 1.5.2's reaper waiting for ever. Built in every build, run by hand:
 *
 *     build/bin/nng-reaper-wedge wedge  [contexts] [trials]   # 8, 10
 *     build/bin/nng-reaper-wedge redial [contexts] [trials]
 *     build/bin/nng-reaper-wedge client <url> <contexts>   # requests for ever
 *
 * `wedge`: each trial is a rep0 echo server in a process of its own that
 * sees 20 clients (req0, `contexts` requests in flight each) SIGKILLed one
 * after another, then closes its socket; a close that has not returned in
 * 3 s is a wedged reaper. `redial`: each trial is a req0 client with
 * `contexts` requests in flight whose server is SIGKILLed and restarted 20
 * times; a restarted server that sees no connection within 3 s means the
 * client will never dial again (nng redials from the dead connection's
 * teardown, which the reaper runs).
 *
 * On this project's 2-core machine, with Debian 12's nng 1.5.2: `wedge 8`
 * → 12 of 20 trials wedged; `wedge 1` and `wedge 2` → none of 15 and 10;
 * `redial 8` and `redial 16` → 4 of 55. With nng 1.5.2 built from source
 * plus upstream commit a1bc737b ("Finish receive aio on close", in nng
 * 1.10.0), run with LD_LIBRARY_PATH pointing at it: none of 10 and none of
 * 30. When Debian's nng shows none either, common/td_rpc_reaper.c's watch
 * has nothing left to see.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20
#define MAX_CONTEXTS 64
#define MESSAGE_BYTES 200
#define STUCK_MS 3000

static char self[4096]; /* this program, re-run for the peer processes */
static char url[64];
static int contexts = 8;

static void die(const char *what, int rv)
{
    fprintf(stderr, "nng-reaper-wedge: %s: %s\n", what, nng_strerror(rv));
    _exit(2);
}

/* ---- the peer processes --------------------------------------------- */

/* A req0 socket dialling `url` that never re-sends and redials quickly;
 * `on_connect` (may be NULL) sees each new connection. */
static nng_socket client_socket(nng_pipe_cb on_connect)
{
    nng_socket s;
    int rv = nng_req0_open(&s);
    rv = rv ? rv : nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    rv = rv ? rv : nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
    rv = rv ? rv : nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 100);
    if (rv == 0 && on_connect != NULL)
        rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_connect, NULL);
    rv = rv ? rv : nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0)
        die("client", rv);
    return s;
}

/* Requests on `contexts` contexts of `s` at once, for ever. */
static void client_loop(nng_socket s)
{
    nng_ctx ctx[MAX_CONTEXTS];
    nng_aio *aio[MAX_CONTEXTS];
    int rv = 0;
    for (int i = 0; rv == 0 && i < contexts; i++) {
        rv = nng_ctx_open(&ctx[i], s);
        rv = rv ? rv : nng_aio_alloc(&aio[i], NULL, NULL);
        if (rv == 0)
            nng_aio_set_timeout(aio[i], 500);
    }
    if (rv != 0)
        die("client", rv);
    for (;;) {
        for (int i = 0; i < contexts; i++) {
            nng_msg *m;
            if ((rv = nng_msg_alloc(&m, MESSAGE_BYTES)) != 0)
                die("nng_msg_alloc", rv);
            nng_aio_set_msg(aio[i], m);
            nng_ctx_send(ctx[i], aio[i]);
        }
        for (int i = 0; i < contexts; i++) {
            nng_aio_wait(aio[i]);
            if (nng_aio_result(aio[i]) != 0)
                nng_msg_free(nng_aio_get_msg(aio[i]));
            else
                nng_ctx_recv(ctx[i], aio[i]);
        }
        for (int i = 0; i < contexts; i++) {
            nng_aio_wait(aio[i]);
            if (nng_aio_result(aio[i]) == 0)
                nng_msg_free(nng_aio_get_msg(aio[i]));
        }
    }
}

/* Echoes every request on `contexts` contexts at once. */
struct echo {
    nng_ctx ctx;
    nng_aio *aio;
    bool replying;
};

static void echo_cb(void *arg)
{
    struct echo *e = arg;
    if (nng_aio_result(e->aio) != 0) {
        if (e->replying)
            nng_msg_free(nng_aio_get_msg(e->aio));
        if (nng_aio_result(e->aio) == NNG_ECLOSED)
            return;
        e->replying = false;
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    e->replying = !e->replying;
    if (e->replying)
        nng_ctx_send(e->ctx, e->aio); /* the request's message goes back */
    else
        nng_ctx_recv(e->ctx, e->aio);
}

static struct echo echoes[MAX_CONTEXTS];

static int start_echo(nng_socket s)
{
    for (int i = 0; i < contexts; i++) {
        int rv = nng_ctx_open(&echoes[i].ctx, s);
        rv = rv ? rv : nng_aio_alloc(&echoes[i].aio, echo_cb, &echoes[i]);
        if (rv != 0)
            return rv;
        nng_ctx_recv(echoes[i].ctx, echoes[i].aio);
    }
    return 0;
}

static void run_server(void)
{
    nng_socket s;
    int rv = nng_rep0_open(&s);
    rv = rv ? rv : nng_listen(s, url, NULL, 0);
    rv = rv ? rv : start_echo(s);
    if (rv != 0)
        die("server", rv);
    for (;;)
        pause();
}

static pid_t spawn(const char *role)
{
    char n[16];
    snprintf(n, sizeof n, "%d", contexts);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, role, url, n, (char *)NULL);
        _exit(3);
    }
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0)
        ;
}

/* ---- the trials (each in a process of its own) ------------------------ */

static nng_socket closing;
static atomic_bool closed;

static void *close_main(void *unused)
{
    (void)unused;
    nng_close(closing);
    atomic_store(&closed, true);
    return NULL;
}

/* 1: the server's close never returned. */
static int wedge_trial(void)
{
    nng_listener l;
    int port = 0;
    int rv = nng_rep0_open(&closing);
    rv = rv ? rv : nng_listen(closing, "tcp://127.0.0.1:0", &l, 0);
    rv = rv ? rv : nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
    rv = rv ? rv : start_echo(closing);
    if (rv != 0)
        die("server", rv);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    for (int r = 0; r < ROUNDS; r++) {
        pid_t client = spawn("client");
        usleep((useconds_t)(20000 + rand() % 30000));
        kill_and_reap(client);
    }
    usleep(100000);
    pthread_t t;
    if (pthread_create(&t, NULL, close_main, NULL) != 0)
        _exit(2);
    for (int waited = 0; waited < STUCK_MS && !atomic_load(&closed); waited += 10)
        usleep(10000);
    return atomic_load(&closed) ? 0 : 1;
}

static atomic_int connections;

static void count_connection(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    (void)arg;
    atomic_fetch_add(&connections, 1);
}

static nng_socket redialling;

static void *client_main(void *unused)
{
    (void)unused;
    client_loop(redialling);
    return NULL;
}

/* 1: the client did not dial a restarted server again. Its requests run
 * on a socket of this process, so the client's reaper is the one tested. */
static int redial_trial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* a free port for every server */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        _exit(2);
    close(fd);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    pid_t server = spawn("server");
    usleep(50000);
    redialling = client_socket(count_connection);
    pthread_t t;
    if (pthread_create(&t, NULL, client_main, NULL) != 0)
        _exit(2);
    for (int r = 0; r < ROUNDS; r++) {
        int before = atomic_load(&connections);
        if (r > 0) {
            for (int waited = 0; waited < STUCK_MS && atomic_load(&connections) == before;
                 waited += 10)
                usleep(10000);
            if (atomic_load(&connections) == before) {
                kill_and_reap(server);
                return 1;
            }
        }
        usleep((useconds_t)(30000 + rand() % 50000));
        kill_and_reap(server);
        server = spawn("server");
    }
    kill_and_reap(server);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && (strcmp(argv[1], "client") == 0 || strcmp(argv[1], "server") == 0)) {
        snprintf(url, sizeof url, "%s", argv[2]);
        contexts = atoi(argv[3]);
        if (strcmp(argv[1], "client") == 0)
            client_loop(client_socket(NULL));
        run_server();
    }
    bool redial = argc > 1 && strcmp(argv[1], "redial") == 0;
    if (argc < 2 || (!redial && strcmp(argv[1], "wedge") != 0)) {
        fprintf(stderr, "usage: %s wedge|redial [contexts] [trials]\n", argv[0]);
        return 2;
    }
    contexts = argc > 2 ? atoi(argv[2]) : 8;
    int trials = argc > 3 ? atoi(argv[3]) : 10;
    if (contexts < 1 || contexts > MAX_CONTEXTS || trials < 1) {
        fprintf(stderr, "contexts: 1 to %d; trials: 1 or more\n", MAX_CONTEXTS);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    /* nng is not used in this process: it is not safe across fork. */
    int stuck = 0;
    for (int k = 0; k < trials; k++) {
        pid_t trial = fork();
        if (trial == 0) {
            srand((unsigned)time(NULL) ^ (unsigned)getpid());
            _exit(redial ? redial_trial() : wedge_trial());
        }
        int status;
        while (waitpid(trial, &status, 0) < 0)
            ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
            stuck++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "trial %d failed (status 0x%x)\n", k, status);
    }
    printf("%s, %d request(s) in flight: %d of %d trials %s (%d peer deaths each)\n",
           redial ? "redial" : "wedge", contexts, stuck, trials,
           redial ? "never dialled a restarted server again" : "left the reaper wedged",
           ROUNDS);
    return 0;
}
