/*
 * fake_llm.c — the fake OpenAI-compatible chat-completions server of
 * fake_llm.h: an accept thread and a thread per connection, each answering
 * as the test chose.
 */
#include "fake_llm.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct fake_llm_conn {
    struct fake_llm *f;
    int fd;
};

static bool fake_llm_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Waits for readable data up to 100 ms at a time, watching the stop flag.
 * Returns bytes read, 0 on close/stop, -1 on error. */
static ssize_t fake_llm_recv(struct fake_llm *f, int fd, char *buf, size_t n)
{
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        ssize_t got = recv(fd, buf, n, 0);
        return got < 0 ? -1 : got;
    }
    return 0;
}

static void fake_llm_reply(int fd, int status, const char *extra_headers, const char *body,
                           size_t body_len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, body_len, extra_headers ? extra_headers : "");
    if (fake_llm_send_all(fd, head, (size_t)n))
        fake_llm_send_all(fd, body, body_len);
}

static char *fake_llm_answer_body(const char *content)
{
    json_t *r = json_pack("{s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "object", "chat.completion",
                          "choices", "index", 0, "message", "role", "assistant", "content",
                          content ? content : "", "finish_reason", "stop");
    char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return s;
}

static void *fake_llm_conn_main(void *arg)
{
    struct fake_llm_conn *c = arg;
    struct fake_llm *f = c->f;
    int fd = c->fd;
    free(c);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        /* headers */
        char *end;
        buf[len] = '\0';
        while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
            if (len == cap)
                goto out;
            ssize_t n = fake_llm_recv(f, fd, buf + len, cap - len);
            if (n <= 0)
                goto out;
            len += (size_t)n;
            buf[len] = '\0';
        }
        size_t hlen = (size_t)(end - buf) + 4;
        size_t clen = 0;
        char auth[512] = "", path[256] = "";
        sscanf(buf, "%*s %255s", path);
        bool expect = false;
        for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
            const char *h = line + 2;
            if (strncasecmp(h, "Content-Length:", 15) == 0)
                clen = (size_t)strtoul(h + 15, NULL, 10);
            else if (strncasecmp(h, "Authorization:", 14) == 0)
                sscanf(h + 14, " %511[^\r\n]", auth);
            else if (strncasecmp(h, "Expect:", 7) == 0 && strstr(h, "100") != NULL)
                expect = true;
        }
        if (expect && !fake_llm_send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
            goto out;
        if (hlen + clen > cap) {
            cap = hlen + clen;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL)
                goto out;
            buf = nb;
        }
        while (len < hlen + clen) {
            ssize_t n = fake_llm_recv(f, fd, buf + len, cap - len);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }

        pthread_mutex_lock(&f->mu);
        f->requests++;
        snprintf(f->last_auth, sizeof f->last_auth, "%s", auth);
        snprintf(f->last_path, sizeof f->last_path, "%s", path);
        free(f->last_body);
        f->last_body = strndup(buf + hlen, clen);
        enum fake_llm_mode mode = f->mode;
        int status = 200, retry_after = -1;
        if (f->fail_first > 0) {
            f->fail_first--;
            status = f->fail_status;
            retry_after = f->retry_after;
        } else if (mode == FAKE_LLM_STATUS) {
            status = f->fail_status;
            retry_after = f->retry_after;
        }
        char *answer = (status == 200 && mode == FAKE_LLM_OK) ? fake_llm_answer_body(f->content)
                                                              : NULL;
        pthread_mutex_unlock(&f->mu);

        /* keep what followed this request (pipelining) */
        memmove(buf, buf + hlen + clen, len - hlen - clen);
        len -= hlen + clen;

        if (status != 200) {
            char extra[64] = "";
            if (retry_after >= 0)
                snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_after);
            const char *b = "{\"error\":{\"message\":\"fake failure\"}}";
            fake_llm_reply(fd, status, extra, b, strlen(b));
        } else if (mode == FAKE_LLM_HANG) {
            char sink[256];
            while (fake_llm_recv(f, fd, sink, sizeof sink) > 0)
                ;
            goto out;
        } else if (mode == FAKE_LLM_GARBAGE) {
            const char *b = "<html>this is not json {{{";
            fake_llm_reply(fd, 200, NULL, b, strlen(b));
        } else if (mode == FAKE_LLM_HUGE) {
            size_t n = 2u << 20;
            char *b = malloc(n);
            memset(b, 'x', n);
            b[0] = '"';
            fake_llm_reply(fd, 200, NULL, b, n);
            free(b);
        } else {
            fake_llm_reply(fd, 200, NULL, answer ? answer : "{}", answer ? strlen(answer) : 2);
        }
        free(answer);
    }
out:
    free(buf);
    return NULL;
}

static void *fake_llm_accept_main(void *arg)
{
    struct fake_llm *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&f->mu);
        bool room = f->nconns < FAKE_LLM_MAX_CONNS;
        struct fake_llm_conn *c = room ? malloc(sizeof *c) : NULL;
        if (c != NULL) {
            c->f = f;
            c->fd = fd;
            if (pthread_create(&f->conn_thread[f->nconns], NULL, fake_llm_conn_main, c) == 0) {
                f->conn_fd[f->nconns++] = fd;
                c = NULL;
                fd = -1;
            }
        }
        pthread_mutex_unlock(&f->mu);
        free(c);
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

int fake_llm_start(struct fake_llm *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->retry_after = -1;
    f->fail_status = 500;
    atomic_init(&f->stop, false);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->lfd < 0)
        return -1;
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 64) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0) {
        close(f->lfd);
        return -1;
    }
    f->port = ntohs(a.sin_port);
    if (pthread_create(&f->accept_thread, NULL, fake_llm_accept_main, f) != 0) {
        close(f->lfd);
        return -1;
    }
    return 0;
}

void fake_llm_stop(struct fake_llm *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->accept_thread, NULL);
    for (int i = 0; i < f->nconns; i++)
        shutdown(f->conn_fd[i], SHUT_RDWR);
    for (int i = 0; i < f->nconns; i++) {
        pthread_join(f->conn_thread[i], NULL);
        close(f->conn_fd[i]);
    }
    close(f->lfd);
    free(f->content);
    free(f->last_body);
    pthread_mutex_destroy(&f->mu);
}

void fake_llm_set(struct fake_llm *f, enum fake_llm_mode mode, const char *content)
{
    pthread_mutex_lock(&f->mu);
    f->mode = mode;
    free(f->content);
    f->content = content ? strdup(content) : NULL;
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_fail_first(struct fake_llm *f, int n, int status, int retry_after)
{
    pthread_mutex_lock(&f->mu);
    f->fail_first = n;
    f->fail_status = status;
    f->retry_after = retry_after;
    pthread_mutex_unlock(&f->mu);
}

int fake_llm_requests(struct fake_llm *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->requests;
    pthread_mutex_unlock(&f->mu);
    return n;
}

