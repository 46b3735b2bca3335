/*
 * test_pg_tls.c — the daemons' PostgreSQL URL keeps libpq's TLS settings
 * (issue 12: "sslmode honoured"; docs/operations.md, "td-auth on
 * PostgreSQL"): against a server that refuses connections without TLS,
 * td-auth and td-diary migrate with sslmode=verify-full and the server's
 * CA, are refused with another CA (the server is not who it says), and are
 * refused by the server with sslmode=disable.
 *
 * The server's certificate is ops/tls/make-dev-certs.sh's "auth" one (it
 * names 127.0.0.1); ssl is turned on with ALTER SYSTEM and a reload.
 */
#include "harness.h"
#include "pg.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_pg pg;
static char certs[300];

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void)
{
    cr_assert_eq(th_pg_start(&pg), 0);
    snprintf(certs, sizeof certs, "%s/tls", pg.dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/ops/tls/make-dev-certs.sh' '%s' >/dev/null 2>&1", TD_SOURCE_DIR,
             certs);
    cr_assert_eq(sh(cmd), 0, "%s", cmd);
    /* The key must belong to the server's account, mode 0600. */
    snprintf(cmd, sizeof cmd,
             "install -m 0600 -o \"$(stat -c %%u '%s')\" '%s/auth.pem' '%s/data/server.pem'",
             pg.dir, certs, pg.dir);
    cr_assert_eq(sh(cmd), 0, "%s", cmd);
    char out[512];
    cr_assert_eq(th_pg_query(pg.super_url,
                             "ALTER SYSTEM SET ssl_cert_file = 'server.pem'", out, sizeof out),
                 0, "%s", out);
    cr_assert_eq(th_pg_query(pg.super_url, "ALTER SYSTEM SET ssl_key_file = 'server.pem'", out,
                             sizeof out),
                 0, "%s", out);
    cr_assert_eq(th_pg_query(pg.super_url, "ALTER SYSTEM SET ssl = on", out, sizeof out), 0,
                 "%s", out);
    /* TCP without TLS is refused before any password is asked. */
    char hba[400];
    snprintf(hba, sizeof hba, "%s/data/pg_hba.conf", pg.dir);
    FILE *f = fopen(hba, "r");
    cr_assert_not_null(f);
    char rest[8192];
    size_t n = fread(rest, 1, sizeof rest - 1, f);
    rest[n] = '\0';
    fclose(f);
    f = fopen(hba, "w");
    cr_assert_not_null(f);
    fprintf(f, "hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n%s", rest);
    fclose(f);
    cr_assert_eq(th_pg_query(pg.super_url, "SELECT pg_reload_conf()", out, sizeof out), 0, "%s",
                 out);
    cr_assert_eq(th_pg_query(pg.super_url, "SHOW ssl", out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "on");
}

static void teardown(void)
{
    th_pg_destroy(&pg);
}

TestSuite(pg_tls, .init = setup, .fini = teardown, .timeout = 120);

/* `binary --migrate-only` with its database URL `url`; its exit code. The
 * daemon's log goes to <pg dir>/<tag>.log. */
static int migrate(const char *binary, const char *var, const char *url, const char *tag)
{
    char env_url[1400];
    snprintf(env_url, sizeof env_url, "%s=%s", var, url);
    const char *env[] = {env_url, NULL};
    return th_exit_code(th_spawn_once(binary, "--migrate-only", pg.dir, tag, env));
}

static bool log_has(const char *tag, const char *needle)
{
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/%s.log", pg.dir, tag);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, needle) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

Test(pg_tls, verify_full_with_the_server_s_ca_connects_and_anything_less_is_refused)
{
    const struct {
        const char *binary, *var;
        const char *base;
    } daemons[] = {{"td-auth", "AUTH_DATABASE_URL", pg.auth_url},
                   {"td-diary", "DIARY_DATABASE_URL", pg.diary_url}};
    for (size_t i = 0; i < 2; i++) {
        char url[1200], tag[32];
        snprintf(url, sizeof url, "%s?sslmode=verify-full&sslrootcert=%s/ca-auth.pem",
                 daemons[i].base, certs);
        snprintf(tag, sizeof tag, "%s-good", daemons[i].binary);
        cr_expect_eq(migrate(daemons[i].binary, daemons[i].var, url, tag), 0,
                     "%s did not connect with verify-full and the right CA", daemons[i].binary);

        /* Another CA: libpq refuses the server's certificate. */
        snprintf(url, sizeof url, "%s?sslmode=verify-full&sslrootcert=%s/ca-diary.pem",
                 daemons[i].base, certs);
        snprintf(tag, sizeof tag, "%s-wrong-ca", daemons[i].binary);
        cr_expect_eq(migrate(daemons[i].binary, daemons[i].var, url, tag), 1);
        cr_expect(log_has(tag, "certificate verify failed"), "%s: no certificate error logged",
                  tag);

        /* No TLS at all: the server refuses (hostnossl reject). */
        snprintf(url, sizeof url, "%s?sslmode=disable", daemons[i].base);
        snprintf(tag, sizeof tag, "%s-plain", daemons[i].binary);
        cr_expect_eq(migrate(daemons[i].binary, daemons[i].var, url, tag), 1);
        cr_expect(log_has(tag, "no encryption"), "%s: no refusal logged", tag);
    }
}
