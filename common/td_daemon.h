/*
 * td_daemon.h — what every daemon's main() does the same way: command-line
 * flags, process set-up before threads exist, and waiting for SIGTERM/SIGINT.
 */
#ifndef TD_DAEMON_H
#define TD_DAEMON_H

#include "proto/td_proto.h"

#include <stdbool.h>

struct td_daemon_args {
    bool migrate_only;  /* --migrate-only: run migrations, then exit */
    bool analyze_lines; /* --analyze-lines (td-sentiment only) */
    const char *copy_from; /* --copy-from-sqlite=FILE (td-auth, td-diary): NULL, or FILE */
};

/* Parses argv. Prints usage and returns 1 for --help/--version (exit 0),
 * -1 for an unknown flag (exit 2), 0 to go on. `extra` lists the optional
 * flag this daemon accepts beyond --migrate-only ("--analyze-lines",
 * "--copy-from-sqlite=FILE" or NULL). */
int td_daemon_parse_args(int argc, char **argv, const char *name, const char *extra,
                         struct td_daemon_args *out);

/* Initialises libsodium, ignores SIGPIPE and blocks SIGTERM/SIGINT/SIGHUP in
 * this thread, so every thread started later inherits the mask and only
 * td_daemon_wait sees them. Returns 0 or TD_EINTERNAL. */
int td_daemon_prepare(void);

/* Loads .env, reads APP_ENV and the daemon's table, sets up the RPC TLS
 * identity of `role` (a TD_ROLE_* of proto/td_proto.h) from RPC_TLS_DIR, and
 * checks every TD_CFG_RPC_URL value (schemes, and no plain tcp beyond
 * loopback in production); prints the one-line error itself. Returns 0 or
 * TD_ECONFIG. */
struct td_cfg_var;
struct td_base_config;
int td_daemon_configure(const char *name, unsigned role, const struct td_cfg_var *vars,
                        unsigned n, void *cfg, struct td_base_config *base);

/* Releases library-global state (nng's threads and pools) once every socket
 * is closed, so a leak checker sees a clean exit on every path. Call last;
 * returns the exit status: `status`, or 1 when nng's reaper wedged while
 * the daemon served (td_daemon_wait), so its supervisor restarts it. */
int td_daemon_finish(int status);

/* Blocks until SIGTERM or SIGINT; returns the signal number. Meanwhile it
 * runs the reaper watch (td_rpc.h): a wedged nng reaper stops the daemon as
 * SIGTERM would, and td_daemon_finish then returns 1. Before
 * returning it arms the stop deadline: if the process has not exited
 * `stop_deadline_ms` later (STOP_DEADLINE_MS, 15 s by default: the RPC
 * drain's 10 s plus time to close, and below the systemd units' 20 s
 * TimeoutStopSec, so a wedged shutdown is logged by the daemon itself before
 * systemd kills it), a watchdog logs the last step recorded with
 * td_daemon_stop_step and ends the process with exit status 1. What can
 * wedge: nng 1.5.2's reaper inside nng_close (docs/library-notes.md, "nng's
 * reaper can wedge"; a listening socket's close is bounded,
 * td_rpc_close_listening), or a
 * request in flight that waits on a peer that stopped answering. */
int td_daemon_wait(int stop_deadline_ms);

/* Records the shutdown step now running ("closing the RPC server"), for the
 * watchdog's message. `step` must be a string literal. */
void td_daemon_stop_step(const char *step);

#endif
