/*
 * pg.h — a real PostgreSQL 15 server for one test: initdb into a fresh
 * directory, `postgres` on a free port of 127.0.0.1 (and a unix socket in
 * that directory), ops/postgres/init.sh run against it, and the URLs the
 * daemons' roles connect with. fsync is off: the tests are about behaviour,
 * not durability.
 *
 * PostgreSQL refuses to run as root (docs/library-notes.md): as root, the
 * server and initdb run as `nobody`, which owns the directory. The server is
 * a child of the test process with PR_SET_PDEATHSIG, so a test killed by a
 * timeout leaves no server behind.
 *
 * The binaries come from TD_PG_BINDIR, default /usr/lib/postgresql/15/bin
 * (Debian's postgresql-15); psql from PATH.
 */
#ifndef TD_HARNESS_PG_H
#define TD_HARNESS_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct th_pg {
    char dir[256];         /* data/, the socket, pg.log */
    int port;
    pid_t pid;             /* the postmaster; 0 when stopped */
    char auth_url[512];    /* postgresql://td_auth:...@127.0.0.1:port/thought_diary */
    char diary_url[512];   /* the same as td_diary */
    char super_url[512];   /* the superuser over the unix socket */
};

/* Makes a cluster, starts it, runs the init script. 0, or -1 with the
 * reason on stderr (everything made so far is removed). */
int th_pg_start(struct th_pg *pg);

/* Fast shutdown (SIGINT), waited for. 0 or -1. */
int th_pg_stop_server(struct th_pg *pg);

/* Starts the stopped server again on the same directory and port; waits
 * until it accepts connections. 0 or -1. */
int th_pg_start_server(struct th_pg *pg);

/* Stops the server when running and removes the directory (unless
 * TD_TEST_KEEP is set). */
void th_pg_destroy(struct th_pg *pg);

/* Runs `sql` (no parameters: test fixtures only) as the role of `url`.
 * Returns 0 and the first column of the first row in out (may be ""), or
 * -1 with "SQLSTATE: message" in out. */
int th_pg_query(const char *url, const char *sql, char *out, size_t outlen);

/* The SQLSTATE class an error from th_pg_query starts with ("42501"). */
bool th_pg_error_is(const char *out, const char *sqlstate);

#endif
