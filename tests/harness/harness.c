/*
 * harness.c — process management and HTTP for the integration tests.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const proc_names[TH_NDAEMONS] = {"td-auth", "td-diary", "td-sentiment",
                                                    "td-gateway"};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- waiting ------------------------------------------------------------ */

#define POLL_MS 20

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool th_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (pred(arg))
            return true;
        long long left = deadline - mono_ms();
        if (left <= 0)
            return false;
        /* The last nap ends at the deadline, so pred gets one look there. */
        sleep_ms(left < POLL_MS ? (int)left : POLL_MS);
    }
}

/* GET <url><path> answers `status`. */
struct status_probe {
    const char *url, *path;
    long status;
};

static bool answers(void *arg)
{
    const struct status_probe *p = arg;
    struct th_response r;
    if (th_http_url(p->url, "GET", p->path, NULL, NULL, &r) != 0)
        return false;
    long st = r.status;
    th_response_free(&r);
    return st == p->status;
}

int th_log_count(struct th_stack *s, const char *file, const char *needle)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", s->dir, file);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    /* getline, not a fixed buffer: a long line split in two could hide a
     * needle across the split. A line still being written counts when its
     * written part holds the needle; the next read sees it whole. */
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) >= 0)
        n += strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}

bool th_log_has(struct th_stack *s, const char *file, const char *needle)
{
    return th_log_count(s, file, needle) > 0;
}

struct log_wait {
    struct th_stack *s;
    const char *file, *needle;
    int at_least, last;
};

static bool log_reached(void *arg)
{
    struct log_wait *w = arg;
    w->last = th_log_count(w->s, w->file, w->needle);
    return w->last >= w->at_least;
}

int th_wait_log_count(struct th_stack *s, const char *file, const char *needle, int at_least,
                      int timeout_ms)
{
    struct log_wait w = {s, file, needle, at_least, -1};
    th_wait_until(log_reached, &w, timeout_ms);
    return w.last;
}

bool th_wait_log(struct th_stack *s, const char *file, const char *needle, int timeout_ms)
{
    return th_wait_log_count(s, file, needle, 1, timeout_ms) >= 1;
}

/* A port the kernel would give a new socket now; the socket is closed, so
 * the kernel may give the same port again before anyone binds it. */
static int ephemeral_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int th_free_port(void)
{
    /* Never the same port twice in one process: a test that takes nine
     * ports and then starts a stack (one more, for the gateway) was handed a
     * port twice, and the daemon that came second could not listen. */
    static int given[1024];
    static unsigned ngiven;
    for (int tries = 0; tries < 100; tries++) {
        int port = ephemeral_port();
        if (port < 0)
            return -1;
        bool seen = false;
        for (unsigned i = 0; i < ngiven && i < sizeof given / sizeof given[0]; i++)
            seen = seen || given[i] == port;
        if (!seen) {
            given[ngiven++ % (sizeof given / sizeof given[0])] = port;
            return port;
        }
    }
    return -1;
}

void th_stack_print_logs(struct th_stack *s)
{
    for (int d = 0; d < TH_NDAEMONS; d++) {
        char path[512], line[2048];
        snprintf(path, sizeof path, "%s/%s.log", s->dir, proc_names[d]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        fprintf(stderr, "----- %s -----\n", path);
        while (fgets(line, sizeof line, f))
            fputs(line, stderr);
        fclose(f);
    }
}

/* Copies `from` to `to`; false on any failure. */
static bool copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL)
        return false;
    FILE *out = fopen(to, "wb");
    bool ok = out != NULL;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    if (out != NULL && fclose(out) != 0)
        ok = false;
    fclose(in);
    return ok;
}

/* With TD_TEST_LOG_DIR set (ops/ci-soak.sh sets it), every stack's daemon
 * logs outlive it, in <dir>/<test binary>-<pid>-<stack dir>/: a test that
 * fails once in fifty runs is diagnosed from that run, not a re-run. */
static void keep_logs(struct th_stack *s)
{
    const char *dir = getenv("TD_TEST_LOG_DIR");
    if (dir == NULL || dir[0] == '\0' || s->dir[0] == '\0')
        return;
    /* The test binary's name (Criterion renames its workers). */
    char exe[512] = "test";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 4] = '\0';
    const char *program = strrchr(exe, '/') != NULL ? strrchr(exe, '/') + 1 : exe;
    const char *stack = strrchr(s->dir, '/');
    char dest[1024];
    snprintf(dest, sizeof dest, "%s/%s-%d-%s", dir, program, (int)getpid(),
             stack != NULL ? stack + 1 : s->dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || mkdir(dest, 0755) != 0) {
        fprintf(stderr, "harness: cannot keep the logs in %s: %s\n", dest, strerror(errno));
        return;
    }
    for (int d = 0; d < TH_NDAEMONS; d++) {
        char from[512], to[1100];
        snprintf(from, sizeof from, "%s/%s.log", s->dir, proc_names[d]);
        snprintf(to, sizeof to, "%s/%s.log", dest, proc_names[d]);
        if (access(from, F_OK) == 0 && !copy_file(from, to))
            fprintf(stderr, "harness: cannot keep %s\n", from);
    }
}

/* Scans a daemon's log for sanitizer reports. */
static int log_has_sanitizer_report(struct th_stack *s, const char *name)
{
    char file[64];
    snprintf(file, sizeof file, "%s.log", name);
    return th_log_has(s, file, "ERROR: AddressSanitizer") ||
           th_log_has(s, file, "ERROR: LeakSanitizer") || th_log_has(s, file, "runtime error:");
}

/* putenv()s "NAME=value" with every "{dir}" replaced by the stack's
 * directory. Runs in the child only, so the copy is never freed. */
static void put_expanded(struct th_stack *s, const char *entry)
{
    size_t cap = strlen(entry) + 1;
    for (const char *p = strstr(entry, "{dir}"); p; p = strstr(p + 5, "{dir}"))
        cap += strlen(s->dir);
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        _exit(126);
    for (const char *p = entry; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            o = stpcpy(o, s->dir);
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    putenv(out);
}

void th_child_tie(const char *log)
{
    /* Dies with the test process, even when the test is killed by a timeout
     * or fails before its teardown runs, so no child outlives it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
        _exit(126);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

pid_t th_spawn_once(const char *binary, const char *arg, const char *dir, const char *tag,
                    const char *const *env)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char log[512], data[512], path[512];
    snprintf(log, sizeof log, "%s/%s.log", dir, tag);
    snprintf(data, sizeof data, "%s/data-%s", dir, tag);
    snprintf(path, sizeof path, "%s/%s", TD_BIN_DIR, binary);
    th_child_tie(log);
    setenv("APP_ENV", "testing", 1);
    setenv("TD_ENV_FILE", "/dev/null", 1);
    setenv("DATA_DIR", data, 1);
    setenv("LOG_LEVEL", "info", 1);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        putenv((char *)env[i]); /* the child's own copy of the caller's memory */
    execl(path, binary, arg, (char *)NULL);
    _exit(127);
}

int th_exit_code(pid_t pid)
{
    int status = 0;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static pid_t spawn_as(struct th_stack *s, enum th_daemon d, const char *tag,
                      const char *const *extra_env, int port)
{
    const char *name = proc_names[d];
    char bin[512], log[512];
    snprintf(bin, sizeof bin, "%s/%s", TD_BIN_DIR, name);
    if (tag != NULL)
        snprintf(log, sizeof log, "%s/%s-%s.log", s->dir, name, tag);
    else
        snprintf(log, sizeof log, "%s/%s.log", s->dir, name);
    pid_t pid = fork();
    if (pid != 0)
        return pid;

    th_child_tie(log);
    char data_dir[400], listen[64];
    snprintf(data_dir, sizeof data_dir, "%s/data-%s%s%s", s->dir, name, tag ? "-" : "",
             tag ? tag : "");
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    setenv("APP_ENV", "testing", 1);
    setenv("TD_ENV_FILE", "/dev/null", 1);
    setenv("DATA_DIR", data_dir, 1);
    setenv("AUTH_RPC_URL", s->auth_url, 1);
    setenv("DIARY_RPC_URL", s->diary_url, 1);
    setenv("SENTIMENT_RPC_URL", s->sentiment_url, 1);
    setenv("AUTH_EVENTS_URL", s->events_url, 1);
    setenv("AUTH_RPC_OPERATOR_URL", s->auth_operator_url, 1);
    setenv("DIARY_RPC_OPERATOR_URL", s->diary_operator_url, 1);
    setenv("GATEWAY_LISTEN", listen, 1);
    setenv("JWT_SECRET_KEY", TH_JWT_SECRET, 1);
    /* This source tree's docs and web app: the compiled-in defaults are
     * where `cmake --install` puts them, which need not exist here. */
    setenv("DOCS_DIR", TD_SOURCE_DIR "/gateway/docs", 1);
    setenv("STATIC_DIR", TD_SOURCE_DIR "/frontend", 1);
    setenv("LOG_LEVEL", "info", 1);
    if (d == TH_AUTH && s->pg.auth_url[0] != '\0')
        setenv("AUTH_DATABASE_URL", s->pg.auth_url, 1);
    if (d == TH_DIARY && s->pg.diary_url[0] != '\0')
        setenv("DIARY_DATABASE_URL", s->pg.diary_url, 1);
    setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=23", 0);
    setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=24", 0);
    if (s->opts.tls_cuts)
        setenv("LSAN_OPTIONS",
               "suppressions=" TD_SOURCE_DIR "/tests/lsan-tls-cuts.supp:print_suppressions=0", 1);
    else if (s->opts.peers_die)
        setenv("LSAN_OPTIONS",
               "suppressions=" TD_SOURCE_DIR "/tests/lsan-peer-death.supp:print_suppressions=0", 1);
    for (int i = 0; i < TH_MAX_ENV && s->opts.env[i]; i++)
        put_expanded(s, s->opts.env[i]);
    for (int i = 0; i < 8 && s->opts.daemon_env[d][i]; i++)
        put_expanded(s, s->opts.daemon_env[d][i]);
    for (int i = 0; extra_env && extra_env[i]; i++)
        put_expanded(s, extra_env[i]);
    execl(bin, name, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

int th_daemon_start(struct th_stack *s, enum th_daemon d)
{
    struct th_proc *p = &s->procs[d];
    p->name = proc_names[d];
    p->pid = spawn_as(s, d, NULL, NULL, s->http_port);
    p->starts++;
    return p->pid > 0 ? 0 : -1;
}

int th_gateway_start_extra(struct th_stack *s, const char *const *env, pid_t *pid, int *port)
{
    *port = th_free_port();
    *pid = spawn_as(s, TH_GATEWAY, NULL, env, *port);
    if (*pid <= 0)
        return -1;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", *port);
    struct status_probe p = {url, "/health", 200};
    return th_wait_until(answers, &p, 20000) ? 0 : -1;
}

static int reap(struct th_stack *s, struct th_proc *p, int sig, int grace_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    int status = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            break;
        if (r < 0) {
            status = -1;
            break;
        }
        if (waited >= grace_ms) {
            fprintf(stderr, "harness: %s did not stop within %d ms; killing\n", p->name,
                    grace_ms);
            s->problems++;
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            break;
        }
        sleep_ms(10);
    }
    p->pid = 0;
    return status;
}

int th_daemon_signal(struct th_stack *s, enum th_daemon d, int sig)
{
    return reap(s, &s->procs[d], sig, 10000);
}

int th_daemon_start_extra(struct th_stack *s, enum th_daemon d, const char *tag,
                          const char *const *env, pid_t *pid)
{
    *pid = spawn_as(s, d, tag, env, s->http_port);
    return *pid > 0 ? 0 : -1;
}

int th_wait_ready(struct th_stack *s, long status, int timeout_ms)
{
    struct status_probe p = {s->base_url, "/ready", status};
    return th_wait_until(answers, &p, timeout_ms) ? 0 : -1;
}

bool th_want_postgres(const struct th_options *opts)
{
    const char *storage = getenv("TD_TEST_STORAGE");
    return (opts != NULL && opts->postgres) || (storage != NULL && strcmp(storage, "postgres") == 0);
}

int th_stack_start(struct th_stack *s, const struct th_options *opts)
{
    memset(s, 0, sizeof *s);
    if (opts)
        s->opts = *opts;
    s->opts.postgres = th_want_postgres(opts);
    snprintf(s->dir, sizeof s->dir, "/tmp/td-test-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    if (s->opts.postgres && th_pg_start(&s->pg) != 0)
        return -1;
    s->http_port = th_free_port();
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->http_port);
    snprintf(s->auth_url, sizeof s->auth_url, "ipc://%s/auth.sock", s->dir);
    snprintf(s->diary_url, sizeof s->diary_url, "ipc://%s/diary.sock", s->dir);
    snprintf(s->sentiment_url, sizeof s->sentiment_url, "ipc://%s/sentiment.sock", s->dir);
    snprintf(s->events_url, sizeof s->events_url, "ipc://%s/events.sock", s->dir);
    snprintf(s->auth_operator_url, sizeof s->auth_operator_url, "ipc://%s/auth-operator.sock",
             s->dir);
    snprintf(s->diary_operator_url, sizeof s->diary_operator_url,
             "ipc://%s/diary-operator.sock", s->dir);
    for (int d = 0; d < TH_NDAEMONS; d++) {
        if (th_daemon_start(s, (enum th_daemon)d) != 0)
            return -1;
    }
    if (!s->opts.no_wait && th_wait_ready(s, 200, 20000) != 0) {
        fprintf(stderr, "harness: stack in %s did not become ready\n", s->dir);
        th_stack_print_logs(s);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int th_stack_stop(struct th_stack *s)
{
    /* Gateway first, like an operator would: no new work reaches the daemons. */
    for (int d = TH_NDAEMONS - 1; d >= 0; d--) {
        struct th_proc *p = &s->procs[d];
        if (p->pid <= 0)
            continue;
        int status = reap(s, p, SIGTERM, 10000);
        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "harness: %s exited badly (status 0x%x)\n", proc_names[d], status);
            s->problems++;
        }
    }
    for (int d = 0; d < TH_NDAEMONS; d++)
        s->problems += log_has_sanitizer_report(s, proc_names[d]);
    th_pg_destroy(&s->pg);
    if (s->problems || getenv("TD_TEST_VERBOSE"))
        th_stack_print_logs(s);
    keep_logs(s);
    if (s->dir[0] && !getenv("TD_TEST_KEEP"))
        nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return s->problems;
}

/* ---- HTTP ------------------------------------------------------------- */

struct buf {
    char *data;
    size_t len;
};

static size_t append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

int th_http_ex(const struct th_request *rq, struct th_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return -1;
    struct buf b = {0}, h = {0};
    struct curl_slist *list = NULL;
    for (int i = 0; rq->headers && rq->headers[i]; i++)
        list = curl_slist_append(list, rq->headers[i]);
    if (rq->body)
        list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, rq->url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
    if (strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (rq->src)
        curl_easy_setopt(curl, CURLOPT_INTERFACE, rq->src);
    if (rq->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
    }
    if (rq->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        free(b.data);
        free(h.data);
        return -1;
    }
    out->body = b.data ? b.data : strdup("");
    out->body_len = b.len;
    out->headers = h.data ? h.data : strdup("");
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
    return 0;
}

int th_http_url(const char *base_url, const char *method, const char *path,
                const char *const *headers, const char *body, struct th_response *out)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    struct th_request rq = {.url = url, .method = method, .headers = headers, .body = body};
    return th_http_ex(&rq, out);
}

int th_http(struct th_stack *s, const char *method, const char *path,
            const char *const *headers, const char *body, struct th_response *out)
{
    return th_http_url(s->base_url, method, path, headers, body, out);
}

bool th_header(const struct th_response *r, const char *name, char *buf, size_t size)
{
    bool found = false;
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            snprintf(buf, size, "%.*s", (int)vlen, v);
            found = true;
        }
        line = eol ? eol + 2 : line + len;
    }
    return found;
}

void th_response_free(struct th_response *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

ssize_t th_raw(struct th_stack *s, const char *req, size_t len, char *out, size_t size,
               int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got + 1 < size) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return (ssize_t)got;
}

/* ---- /metrics ------------------------------------------------------------ */

double th_metric(const char *base_url, const char *series)
{
    struct th_response r;
    if (th_http_url(base_url, "GET", "/metrics", NULL, NULL, &r) != 0)
        return -1;
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = r.body; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            v = atof(line + n + 1);
            break;
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    th_response_free(&r);
    return v;
}

struct metric_wait {
    const char *base_url, *series;
    double at_least, last;
};

static bool metric_reached(void *arg)
{
    struct metric_wait *w = arg;
    w->last = th_metric(w->base_url, w->series);
    return w->last >= w->at_least;
}

double th_wait_metric(const char *base_url, const char *series, double at_least, int timeout_ms)
{
    struct metric_wait w = {base_url, series, at_least, -1};
    th_wait_until(metric_reached, &w, timeout_ms);
    return w.last;
}

void th_tdctl_env(const struct th_stack *s)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->http_port);
    setenv("TD_ENV_FILE", "/dev/null", 1);
    setenv("APP_ENV", "testing", 1);
    setenv("AUTH_RPC_URL", s->auth_url, 1);
    setenv("DIARY_RPC_URL", s->diary_url, 1);
    setenv("SENTIMENT_RPC_URL", s->sentiment_url, 1);
    setenv("AUTH_RPC_OPERATOR_URL", s->auth_operator_url, 1);
    setenv("DIARY_RPC_OPERATOR_URL", s->diary_operator_url, 1);
    setenv("GATEWAY_LISTEN", listen, 1);
    /* A loaded CI machine (sanitizers, a CPU hog) can take more than the
     * default 2 s to answer a ping; the tests are about answers, not speed. */
    setenv("TDCTL_TIMEOUT_MS", "15000", 1);
}
