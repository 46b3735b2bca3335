/*
 * pg.c — the PostgreSQL server of pg.h.
 */
#include "pg.h"
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bindir(void)
{
    const char *d = getenv("TD_PG_BINDIR");
    return d && *d ? d : "/usr/lib/postgresql/15/bin";
}

/* The account PostgreSQL runs as: nobody when we are root, else ourselves. */
static int server_account(uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0) {
        *uid = geteuid();
        *gid = getegid();
        return 0;
    }
    struct passwd *pw = getpwnam("nobody");
    if (pw == NULL)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* In a child: becomes the server's account, dies with the test process,
 * sends output to `log`. */
static void child_setup(const char *log, bool drop)
{
    uid_t uid;
    gid_t gid;
    if (drop && geteuid() == 0) {
        if (server_account(&uid, &gid) != 0 || setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
            setuid(uid) != 0)
            _exit(126);
    }
    th_child_tie(log); /* after setuid, which clears the death signal */
}

/* Runs argv to completion (as the server's account when `drop`). Returns
 * its exit status, or -1. */
static int run(const char *const *argv, const char *log, bool drop, const char *const *env)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child_setup(log, drop);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[1024];
    fprintf(stderr, "----- %s -----\n", path);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static bool pg_up(void *arg)
{
    struct th_pg *pg = arg;
    int status = 0;
    if (pg->pid <= 0 || waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
        pg->pid = 0; /* exited: do not wait for nothing */
        return true;
    }
    return PQping(pg->super_url) == PQPING_OK;
}

int th_pg_start_server(struct th_pg *pg)
{
    char data[300], log[300], port[16], bin[300];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(log, sizeof log, "%s/pg.log", pg->dir);
    snprintf(port, sizeof port, "%d", pg->port);
    snprintf(bin, sizeof bin, "%s/postgres", bindir());
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child_setup(log, true);
        execl(bin, "postgres", "-D", data, "-p", port, "-k", pg->dir, "-c",
              "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
              "-c", "shared_buffers=16MB", "-c", "max_connections=60", "-c",
              "log_min_messages=warning", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    pg->pid = pid;
    if (!th_wait_until(pg_up, pg, 30000) || pg->pid == 0) {
        fprintf(stderr, "harness: PostgreSQL did not start\n");
        print_file(log);
        return -1;
    }
    return 0;
}

int th_pg_stop_server(struct th_pg *pg)
{
    if (pg->pid <= 0)
        return 0;
    kill(pg->pid, SIGINT); /* fast shutdown: sessions are ended, not waited for */
    int status = 0;
    pid_t r = waitpid(pg->pid, &status, 0);
    pg->pid = 0;
    return r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void th_pg_destroy(struct th_pg *pg)
{
    th_pg_stop_server(pg);
    if (pg->dir[0] && !getenv("TD_TEST_KEEP"))
        nftw(pg->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    pg->dir[0] = '\0';
}

/* 2 * bytes hex digits of libsodium's randomness into out. */
static void random_hex(char *out, size_t bytes)
{
    unsigned char b[32];
    randombytes_buf(b, bytes);
    sodium_bin2hex(out, 2 * bytes + 1, b, bytes);
}

int th_pg_start(struct th_pg *pg)
{
    memset(pg, 0, sizeof *pg);
    snprintf(pg->dir, sizeof pg->dir, "/tmp/td-pg-XXXXXX");
    uid_t uid;
    gid_t gid;
    if (mkdtemp(pg->dir) == NULL || server_account(&uid, &gid) != 0 ||
        chown(pg->dir, uid, gid) != 0) {
        fprintf(stderr, "harness: cannot prepare %s: %s\n", pg->dir, strerror(errno));
        return -1;
    }
    pg->port = th_free_port();
    snprintf(pg->super_url, sizeof pg->super_url,
             "host=%s port=%d user=postgres dbname=postgres connect_timeout=5", pg->dir,
             pg->port);
    char data[300], log[300], initdb[300];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(log, sizeof log, "%s/initdb.log", pg->dir);
    snprintf(initdb, sizeof initdb, "%s/initdb", bindir());
    /* Local (socket) connections trust: the directory is the server
     * account's alone. TCP needs the roles' passwords, as in production. */
    const char *iargv[] = {initdb, "-D", data, "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "-N",
                           NULL};
    if (run(iargv, log, true, NULL) != 0) {
        fprintf(stderr, "harness: initdb failed\n");
        print_file(log);
        th_pg_destroy(pg);
        return -1;
    }
    if (th_pg_start_server(pg) != 0) {
        th_pg_destroy(pg);
        return -1;
    }
    char apw[40], dpw[40];
    random_hex(apw, 16);
    random_hex(dpw, 16);
    char env_a[80], env_d[80], port[16];
    snprintf(env_a, sizeof env_a, "TD_PG_AUTH_PASSWORD=%s", apw);
    snprintf(env_d, sizeof env_d, "TD_PG_DIARY_PASSWORD=%s", dpw);
    snprintf(port, sizeof port, "%d", pg->port);
    const char *env[] = {env_a, env_d, NULL};
    const char *sargv[] = {"/bin/sh", TD_SOURCE_DIR "/ops/postgres/init.sh", "-h", pg->dir,
                           "-p", port, "-U", "postgres", "-d", "postgres", NULL};
    snprintf(log, sizeof log, "%s/init.log", pg->dir);
    /* psql as ourselves: a client, which root may be. */
    if (run(sargv, log, false, env) != 0) {
        fprintf(stderr, "harness: ops/postgres/init.sh failed\n");
        print_file(log);
        th_pg_destroy(pg);
        return -1;
    }
    snprintf(pg->auth_url, sizeof pg->auth_url,
             "postgresql://td_auth:%s@127.0.0.1:%d/thought_diary", apw, pg->port);
    snprintf(pg->diary_url, sizeof pg->diary_url,
             "postgresql://td_diary:%s@127.0.0.1:%d/thought_diary", dpw, pg->port);
    return 0;
}

int th_pg_query(const char *url, const char *sql, char *out, size_t outlen)
{
    out[0] = '\0';
    PGconn *c = PQconnectdb(url);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        snprintf(out, outlen, "connect: %s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return -1;
    }
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0)
            snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
    } else {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(out, outlen, "%s: %s", state ? state : "?????",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(c));
        rc = -1;
    }
    PQclear(res);
    PQfinish(c);
    return rc;
}

bool th_pg_error_is(const char *out, const char *sqlstate)
{
    return strncmp(out, sqlstate, strlen(sqlstate)) == 0;
}
