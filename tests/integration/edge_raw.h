/*
 * edge_raw.h — raw-socket helpers for the edge tests that need more than
 * one HTTP exchange can say (test_edge_slow.c, test_edge_framing.c,
 * test_bulkhead.c): connections from a chosen loopback source address that
 * send what they like when they like, a response read with a deadline, and
 * a timed probe. Header-only, like edge_http.h.
 */
#ifndef EDGE_RAW_H
#define EDGE_RAW_H

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static __attribute__((unused)) double raw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static __attribute__((unused)) void raw_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A TCP connection to 127.0.0.1:port from source address `src` (NULL: the
 * kernel's choice). The descriptor, or -1. */
static __attribute__((unused)) int raw_connect(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (src != NULL) {
        struct sockaddr_in s = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src, &s.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&s, sizeof s) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends all of s; false when the peer is gone. */
static __attribute__((unused)) bool raw_send(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

static __attribute__((unused)) bool raw_send_str(int fd, const char *s)
{
    return raw_send(fd, s, strlen(s));
}

/* Reads into out (NUL-terminated) until the peer closes, `size` - 1 bytes
 * arrived, or timeout_ms passes. Returns the bytes read; *closed tells
 * whether the peer closed (EOF or reset) within the time. */
static __attribute__((unused)) size_t raw_read_all(int fd, char *out, size_t size, int timeout_ms,
                                                   bool *closed)
{
    size_t got = 0;
    double until = raw_now_ms() + timeout_ms;
    *closed = false;
    while (got + 1 < size) {
        int left = (int)(until - raw_now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        ssize_t n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        got += (size_t)n;
    }
    out[got] = '\0';
    return got;
}

/* Reads one response (headers, and a body of its Content-Length) within
 * timeout_ms. Returns its status, or -1 (nothing, or not HTTP). */
static __attribute__((unused)) int raw_read_response(int fd, char *out, size_t size, int timeout_ms)
{
    size_t got = 0;
    double until = raw_now_ms() + timeout_ms;
    out[0] = '\0';
    while (got + 1 < size) {
        const char *end = strstr(out, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strcasestr(out, "\r\nContent-Length:");
            size_t want = (size_t)(end + 4 - out) + (cl && cl < end ? (size_t)atol(cl + 17) : 0);
            if (got >= want)
                break;
        }
        int left = (int)(until - raw_now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        ssize_t n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        out[got] = '\0';
    }
    int status = -1;
    if (strncmp(out, "HTTP/1.1 ", 9) == 0)
        status = atoi(out + 9);
    return status;
}

/* How many status lines ("HTTP/1.1 NNN") text holds. */
static __attribute__((unused)) int raw_count_responses(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, "HTTP/1.1 ")) != NULL; p += 9)
        n++;
    return n;
}

/* One whole exchange: connect from src, send req, read until the server
 * closes or timeout_ms. Returns the bytes read, or -1 (no connection). */
static __attribute__((unused)) long raw_exchange(int port, const char *src, const char *req,
                                                 size_t len, char *out, size_t size,
                                                 int timeout_ms, bool *closed)
{
    int fd = raw_connect(port, src);
    if (fd < 0)
        return -1;
    long got = -1;
    if (raw_send(fd, req, len))
        got = (long)raw_read_all(fd, out, size, timeout_ms, closed);
    close(fd);
    return got;
}

/* GET `path` on a fresh connection from src: its status (-1 when nothing
 * came within timeout_ms) and how long the answer took, in *ms. */
static __attribute__((unused)) int raw_probe(int port, const char *src, const char *path,
                                             int timeout_ms, double *ms)
{
    char req[512], out[8192];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    double t0 = raw_now_ms();
    int fd = raw_connect(port, src);
    int status = -1;
    if (fd >= 0) {
        if (raw_send_str(fd, req))
            status = raw_read_response(fd, out, sizeof out, timeout_ms);
        close(fd);
    }
    *ms = raw_now_ms() - t0;
    return status;
}

/* The value of header `name` in a raw response, copied into buf; false
 * when absent. */
static __attribute__((unused)) bool raw_header(const char *resp, const char *name, char *buf,
                                               size_t size)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *h = strcasestr(resp, key);
    const char *end = h ? strstr(h + 2, "\r\n") : NULL;
    if (h == NULL || end == NULL)
        return false;
    h += strlen(key);
    while (*h == ' ')
        h++;
    size_t n = (size_t)(end - h) < size - 1 ? (size_t)(end - h) : size - 1;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return true;
}

static __attribute__((unused)) int raw_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of n values (sorted in place). */
static __attribute__((unused)) double raw_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, raw_cmp_double);
    return n > 0 ? v[n / 2] : 0;
}

#endif
