/*
 * td_rpc_names.h — dialling every address a host name resolves to, and
 * keeping that set current (td_rpc.h, td_rpc_dial_replicas).
 *
 * nng 1.5.2 resolves a tcp:// or tls+tcp:// host name itself, to one address
 * per connect attempt (docs/library-notes.md, "nng resolves a host name to
 * one address"), so a caller given the name of a scaled service reaches one
 * replica. Here a URL whose host is a name (not an IP literal) is resolved
 * by us, every address gets its own dialers, and the name is resolved again
 * every TD_RPC_RESOLVE_MS by one background thread: an address that appears
 * gets dialers, one that a successful answer no longer lists loses them, and
 * a failed answer changes nothing (the next look tries again).
 *
 * The records of a socket are dropped by td_rpc_unwatch(sock), which every
 * owner of an RPC socket already calls before nng_close(sock).
 */
#ifndef TD_RPC_NAMES_H
#define TD_RPC_NAMES_H

#include <nng/nng.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>

/* How often a name is resolved again. Docker's DNS answers a scaled
 * service's name with the replicas running now: a replica that starts is
 * used within this time, and one that is gone stops being dialled (nng
 * would otherwise redial its address for ever, and reach whatever container
 * gets that address next). A resolution is one getaddrinfo per name per
 * period, cheap next to the traffic; 5 s keeps a new replica idle for at
 * most 5 s after it is up. */
#define TD_RPC_RESOLVE_MS 5000

/* A name that has no address yet (its service not started, or DNS failing
 * before the first answer) is asked again this much sooner: the first
 * replica should not wait a whole period to be used. */
#define TD_RPC_RESOLVE_EMPTY_DIVISOR 5

/* Addresses kept per name; an answer beyond this is cut (and logged). */
#define TD_RPC_NAME_MAX_ADDRESSES 64

struct td_rpc_addresses {
    size_t count;
    char ip[TD_RPC_NAME_MAX_ADDRESSES][INET6_ADDRSTRLEN]; /* numeric, no brackets */
};

/* Resolves `host` into out (each address once). Returns 0 on an answer
 * (count may be 0), nonzero when there was none (unknown name, DNS
 * failure): the caller then keeps the addresses it has. */
typedef int (*td_rpc_resolve_fn)(const char *host, struct td_rpc_addresses *out);

/* The resolver used by default: getaddrinfo (AF_UNSPEC, SOCK_STREAM). */
int td_rpc_resolve_getaddrinfo(const char *host, struct td_rpc_addresses *out);

/* True when `host` is an IP literal (IPv4, or IPv6 without brackets), which
 * nng dials as it is. */
bool td_rpc_host_is_address(const char *host);

/* Dials every address of the name in `url` (tcp:// or tls+tcp://, host a
 * name) with `connections` connections each, and keeps re-resolving it (see
 * above). A name that does not resolve now is not an error: calls find no
 * peer until it does. `service` names the logs. Returns 0, or nng's error
 * (NNG_EINVAL: no host name; a dial's own error when a resolved address
 * cannot be dialled, e.g. TLS not set up; NNG_ENOMEM). */
int td_rpc_names_dial(nng_socket sock, const char *url, unsigned peer, int connections,
                      const char *service);

/* Forgets every name dialled on `sock`; when it returns, no dialer of that
 * socket is being made or closed by the resolver thread, or will be. The
 * dialers themselves close with the socket. A resolution under way for
 * another socket's name is not waited for, but the last forget joins the
 * thread and so waits for one under way (getaddrinfo's own timeouts bound
 * it). Called by td_rpc_unwatch. */
void td_rpc_names_forget(nng_socket sock);

/* ---- tests only ----------------------------------------------------------
 * Real sockets, fake DNS: a test points the resolver at a function of its
 * own (NULL: getaddrinfo again) and shortens the period (0: the default).
 * Either takes effect at the next resolution; daemons never call these. */
void td_rpc_names_set_resolver(td_rpc_resolve_fn fn);
void td_rpc_names_set_period_ms(int ms);

#endif
