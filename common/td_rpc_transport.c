/*
 * td_rpc_transport.c — where RPC sockets listen and dial, and who may reach
 * them: the one owner of URL schemes, ipc socket permissions, mutual TLS and
 * the production policy on plain tcp (td_rpc.h, "Transports").
 *
 * nng 1.5.2 cannot tell a server which certificate its peer presented, only
 * whether it was verified (docs/library-notes.md), so a tls+tcp listener trusts exactly one role's CA: whoever
 * completes the handshake there has that role, and the RPC server checks
 * every operation against the roles of the endpoint it arrived on. A dialer
 * trusts only the CA of the role it expects to reach, so a process that
 * takes over a daemon's address without that role's key never receives a
 * request.
 */
#include "td_rpc.h"
#include "td_error.h"
#include "td_log.h"

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The process's identity for tls+tcp: set once at start-up, before any
 * socket exists, then only read. */
static char tls_dir[PATH_MAX];
static unsigned tls_self;

int td_rpc_tls_setup(const char *dir, unsigned self_role)
{
    if (dir == NULL || dir[0] == '\0') {
        tls_dir[0] = '\0';
        tls_self = 0;
        return 0;
    }
    const char *self = td_role_name(self_role);
    if (self == NULL || strlen(dir) >= sizeof tls_dir - 32)
        return TD_EINVAL;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.pem", dir, self);
    if (access(path, R_OK) != 0) {
        TD_LOG(TD_LOG_ERR, "rpc_tls_missing", "cannot read %s: %s", path, strerror(errno));
        return TD_EINVAL;
    }
    snprintf(tls_dir, sizeof tls_dir, "%s", dir);
    tls_self = self_role;
    return 0;
}

static bool is_tls(const char *url)
{
    return strncmp(url, "tls+tcp://", 10) == 0;
}

/* A TLS configuration that presents our certificate and trusts only the CA
 * of `trusted` (one role). NULL on failure, logged. */
static nng_tls_config *tls_config(nng_tls_mode mode, unsigned trusted, const char *server_name)
{
    const char *peer = td_role_name(trusted);
    if (tls_dir[0] == '\0' || peer == NULL) {
        TD_LOG(TD_LOG_ERR, "rpc_tls_unconfigured",
               "a tls+tcp:// URL needs RPC_TLS_DIR and exactly one peer role");
        return NULL;
    }
    /* tls_dir is at most PATH_MAX - 32 long (td_rpc_tls_setup). */
    char own[PATH_MAX + 32], ca[PATH_MAX + 32];
    snprintf(own, sizeof own, "%s/%s.pem", tls_dir, td_role_name(tls_self));
    snprintf(ca, sizeof ca, "%s/ca-%s.pem", tls_dir, peer);
    nng_tls_config *cfg = NULL;
    int rv = nng_tls_config_alloc(&cfg, mode);
    if (rv == 0 && (rv = nng_tls_config_cert_key_file(cfg, own, NULL)) != 0)
        TD_LOG(TD_LOG_ERR, "rpc_tls_cert", "cannot load %s: %s", own, nng_strerror(rv));
    if (rv == 0 && (rv = nng_tls_config_ca_file(cfg, ca)) != 0)
        TD_LOG(TD_LOG_ERR, "rpc_tls_ca", "cannot load %s: %s", ca, nng_strerror(rv));
    if (rv == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0 && server_name != NULL)
        rv = nng_tls_config_server_name(cfg, server_name);
    if (rv != 0 && cfg != NULL) {
        nng_tls_config_free(cfg);
        cfg = NULL;
    }
    return cfg;
}

/* The directory of an ipc socket must exist and must not let others create
 * files in it: someone who can would be able to take the socket's name
 * while the daemon restarts. A missing directory is made for the stack's
 * accounts (owner and group). */
static int ipc_dir_ready(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* mkdir -p: each missing level for the stack's accounts. */
        for (char *p = dir + 1;; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
                TD_LOG(TD_LOG_ERR, "rpc_ipc_dir", "cannot create %s: %s", dir, strerror(errno));
                return TD_EINVAL;
            }
            *p = c;
            if (c == '\0')
                break;
        }
        if (chmod(dir, 0770) != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_ipc_dir", "cannot set the mode of %s: %s", dir,
                   strerror(errno));
            return TD_EINVAL;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || (st.st_mode & S_IWOTH)) {
        TD_LOG(TD_LOG_ERR, "rpc_ipc_dir",
               "%s must be a directory that only the stack's accounts can write to", dir);
        return TD_EINVAL;
    }
    return 0;
}

int td_rpc_listen(nng_socket sock, const char *url, unsigned callers, nng_listener *out)
{
    bool ipc = strncmp(url, "ipc://", 6) == 0;
    if (ipc && ipc_dir_ready(url + 6) != 0)
        return NNG_EADDRINVAL;
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv != 0)
        return rv;
    if (ipc) {
        /* Owner and group only (the stack's accounts share a group); the
         * operator's listener, owner only. Set before the file exists. */
        rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS,
                                  callers == TD_ROLE_OPERATOR ? 0600 : 0660);
    } else if (is_tls(url)) {
        nng_tls_config *cfg = tls_config(NNG_TLS_MODE_SERVER, callers, NULL);
        rv = cfg == NULL ? NNG_EINVAL : nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
        if (cfg != NULL)
            nng_tls_config_free(cfg); /* the listener holds its own reference */
    }
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0) {
        nng_listener_close(l);
        return rv;
    }
    if (out != NULL)
        *out = l;
    return 0;
}

int td_rpc_dial(nng_socket sock, const char *url, unsigned peer, nng_dialer *out)
{
    nng_dialer d;
    int rv = nng_dialer_create(&d, sock, url);
    if (rv != 0)
        return rv;
    if (is_tls(url)) {
        nng_url *u = NULL;
        nng_tls_config *cfg = NULL;
        rv = nng_url_parse(&u, url);
        if (rv == 0)
            cfg = tls_config(NNG_TLS_MODE_CLIENT, peer, u->u_hostname);
        rv = rv != 0 ? rv : cfg == NULL ? NNG_EINVAL : nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
        if (cfg != NULL)
            nng_tls_config_free(cfg);
        if (u != NULL)
            nng_url_free(u);
    }
    /* Non-blocking: a peer that is down now is dialled again in the
     * background until it comes up. */
    if (rv == 0)
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_dialer_close(d);
        return rv;
    }
    if (out != NULL)
        *out = d;
    return 0;
}

unsigned td_rpc_url_callers(const char *url, unsigned role)
{
    return is_tls(url) ? role : TD_ROLES_STACK;
}

/* True for a host that only this machine can reach. */
static bool loopback_host(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strncmp(host, "127.", 4) == 0;
}

int td_rpc_url_check(const char *url, bool production, char *err, size_t errlen)
{
    if (strncmp(url, "listen+", 7) == 0)
        url += 7;
    if (strncmp(url, "ipc://", 6) == 0)
        return url[6] != '\0' ? 0 : (snprintf(err, errlen, "an ipc:// URL needs a path"), TD_EINVAL);
    bool tls = is_tls(url);
    if (!tls && strncmp(url, "tcp://", 6) != 0) {
        snprintf(err, errlen, "'%s': use ipc://, tls+tcp:// or tcp://", url);
        return TD_EINVAL;
    }
    nng_url *u = NULL;
    if (nng_url_parse(&u, url) != 0 || u->u_hostname == NULL || u->u_port == NULL ||
        u->u_port[0] == '\0') {
        if (u != NULL)
            nng_url_free(u);
        snprintf(err, errlen, "'%s' is not host:port", url);
        return TD_EINVAL;
    }
    int rc = 0;
    if (tls && tls_dir[0] == '\0') {
        snprintf(err, errlen, "'%s' needs RPC_TLS_DIR (the certificates)", url);
        rc = TD_EINVAL;
    } else if (!tls && production && !loopback_host(u->u_hostname)) {
        snprintf(err, errlen,
                 "'%s': plain tcp carries requests unauthenticated; in production use "
                 "tls+tcp:// (or ipc://) beyond loopback",
                 url);
        rc = TD_EINVAL;
    }
    nng_url_free(u);
    return rc;
}
