/*
 * test_production.c — APP_ENV=production start-up refusals: each bad
 * setting stops the daemon with a non-zero exit and one line naming the
 * variable; a secret mounted as a file (JWT_SECRET_KEY_FILE) is accepted.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "a-production-secret-that-is-long-enough-42"

struct outcome {
    int status; /* exit status, or -1 when still running after the wait (killed) */
    char err[4096];
};

/* A child run() watches: what it has written to stderr so far. */
struct watch {
    pid_t pid;
    int fd;
    const char *until;
    struct outcome *out;
    size_t len;
};

/* Appends what the child has written, waiting up to timeout_ms for each
 * read, until end of file or a full buffer. */
static void drain(struct watch *w, int timeout_ms)
{
    struct pollfd p = {w->fd, POLLIN, 0};
    while (w->len + 1 < sizeof w->out->err && poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = read(w->fd, w->out->err + w->len, sizeof w->out->err - 1 - w->len);
        if (n <= 0)
            break;
        w->len += (size_t)n;
        w->out->err[w->len] = '\0';
    }
}

/* True once the child has exited (reaped, status recorded) or, when
 * `until` is set, once its stderr holds `until`. */
static bool exited_or_said(void *arg)
{
    struct watch *w = arg;
    drain(w, 0);
    int status = 0;
    if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
        w->out->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
    }
    return w->until != NULL && strstr(w->out->err, w->until) != NULL;
}

/* Runs TD_BIN_DIR/<bin> with a clean production environment plus `env`
 * (NULL-terminated) and waits up to wait_ms for it to exit or, when `until`
 * is not NULL, to write `until` to stderr; one still running then is
 * stopped (status -1). Captures stderr. */
static void run(const char *bin, const char *const *env, const char *until, int wait_ms,
                struct outcome *out)
{
    char dir[] = "/tmp/td-prod-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        clearenv();
        char data[128], url[160];
        snprintf(data, sizeof data, "DATA_DIR=%s", dir);
        putenv(strdup(data));
        putenv("APP_ENV=production");
        putenv("TD_ENV_FILE=/dev/null");
        putenv("PATH=/usr/bin:/bin");
        snprintf(url, sizeof url, "AUTH_RPC_URL=ipc://%s/a.sock", dir);
        putenv(strdup(url));
        snprintf(url, sizeof url, "DIARY_RPC_URL=ipc://%s/d.sock", dir);
        putenv(strdup(url));
        snprintf(url, sizeof url, "SENTIMENT_RPC_URL=ipc://%s/s.sock", dir);
        putenv(strdup(url));
        snprintf(url, sizeof url, "AUTH_EVENTS_URL=ipc://%s/e.sock", dir);
        putenv(strdup(url));
        snprintf(url, sizeof url, "AUTH_RPC_OPERATOR_URL=ipc://%s/ao.sock", dir);
        putenv(strdup(url));
        snprintf(url, sizeof url, "DIARY_RPC_OPERATOR_URL=ipc://%s/do.sock", dir);
        putenv(strdup(url));
        putenv("GATEWAY_LISTEN=127.0.0.1:0");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", TD_BIN_DIR, bin);
        execl(path, bin, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    out->status = -1;
    out->err[0] = '\0';
    struct watch w = {pid, pipefd[0], until, out, 0};
    th_wait_until(exited_or_said, &w, wait_ms);
    if (out->status == -1) {
        int status = 0;
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    drain(&w, 1000); /* the rest, up to end of file */
    close(pipefd[0]);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Exits non-zero with exactly one stderr line that names `variable`. */
static void expect_refusal(const char *bin, const char *const *env, const char *variable)
{
    struct outcome o;
    run(bin, env, NULL, TH_WAIT_MS, &o);
    cr_expect(o.status > 0, "%s started despite a bad %s (status %d): %s", bin, variable,
              o.status, o.err);
    cr_expect_not_null(strstr(o.err, variable), "%s: error does not name %s: %s", bin, variable,
                       o.err);
    char *nl = strchr(o.err, '\n');
    cr_expect(nl != NULL && nl[1] == '\0', "%s: want one line, got: %s", bin, o.err);
}

Test(production, gateway_refuses_missing_or_weak_settings, .timeout = 60)
{
    const char *no_secret[] = {"CORS_ORIGINS=https://diary.example.com", NULL};
    expect_refusal("td-gateway", no_secret, "JWT_SECRET_KEY");
    const char *short_secret[] = {"JWT_SECRET_KEY=short", "CORS_ORIGINS=https://d.example.com",
                                  NULL};
    expect_refusal("td-gateway", short_secret, "JWT_SECRET_KEY");
    const char *no_origins[] = {"JWT_SECRET_KEY=" SECRET, NULL};
    expect_refusal("td-gateway", no_origins, "CORS_ORIGINS");
    const char *star[] = {"JWT_SECRET_KEY=" SECRET, "CORS_ORIGINS=*", NULL};
    expect_refusal("td-gateway", star, "CORS_ORIGINS");
    const char *bad_limit[] = {"JWT_SECRET_KEY=" SECRET, "CORS_ORIGINS=https://d.example.com",
                               "RATELIMIT_LOGIN=lots", NULL};
    expect_refusal("td-gateway", bad_limit, "RATELIMIT_LOGIN");
    const char *both[] = {"JWT_SECRET_KEY=" SECRET, "JWT_SECRET_KEY_FILE=/etc/hostname",
                          "CORS_ORIGINS=https://d.example.com", NULL};
    expect_refusal("td-gateway", both, "JWT_SECRET_KEY");
}

Test(production, daemons_refuse_bad_values, .timeout = 60)
{
    const char *no_secret[] = {NULL};
    expect_refusal("td-auth", no_secret, "JWT_SECRET_KEY");
    const char *bad_ttl[] = {"JWT_SECRET_KEY=" SECRET, "JWT_ACCESS_TTL=0", NULL};
    expect_refusal("td-auth", bad_ttl, "JWT_ACCESS_TTL");
    const char *bad_workers[] = {"RPC_WORKERS=0", NULL};
    expect_refusal("td-diary", bad_workers, "RPC_WORKERS");
    const char *bad_level[] = {"LOG_LEVEL=loud", NULL};
    expect_refusal("td-diary", bad_level, "LOG_LEVEL");
    const char *bad_provider[] = {"SENTIMENT_PROVIDER=oracle", NULL};
    expect_refusal("td-sentiment", bad_provider, "SENTIMENT_PROVIDER");
    const char *no_token[] = {"SENTIMENT_PROVIDER=github-models", NULL};
    expect_refusal("td-sentiment", no_token, "GITHUB_TOKEN");
}

Test(production, a_secret_mounted_as_a_file_is_used_and_logs_are_json, .timeout = 60)
{
    char path[] = "/tmp/td-jwt-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, SECRET "\n", sizeof SECRET), (ssize_t)sizeof SECRET);
    close(fd);
    char file_var[64];
    snprintf(file_var, sizeof file_var, "JWT_SECRET_KEY_FILE=%s", path);
    const char *env[] = {file_var, NULL};
    struct outcome o;
    /* Started: still running once it has said it is ready. */
    run("td-auth", env, "\"msgid\":\"ready\"", TH_WAIT_MS, &o);
    unlink(path);
    cr_assert_eq(o.status, -1, "td-auth did not start: %s", o.err);
    cr_assert_not_null(strstr(o.err, "\"msgid\":\"ready\""), "no JSON ready line: %s", o.err);
}
