/*
 * events.c — the pub side of the revocation feed (events.h).
 *
 * nng sockets are thread-safe, so every RPC worker publishes on the one
 * socket directly. pub0 never blocks a sender: a subscriber whose queue is
 * full loses the message, which the gateways' re-sync covers.
 */
#include "events.h"
#include "td_rpc.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>

struct auth_events {
    nng_socket sock;
};

int auth_events_open(const char *url, struct auth_events **out)
{
    struct auth_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return TD_ENOMEM;
    int rv = nng_pub0_open(&ev->sock);
    if (rv != 0) {
        free(ev);
        return TD_ENOMEM;
    }
    /* A pub socket never needs to receive; cap it anyway
     * (docs/library-notes.md, "NNG_OPT_RECVMAXSZ"). The feed is for
     * gateways; over TLS its listener is watched (td_rpc.h). */
    rv = nng_socket_set_size(ev->sock, NNG_OPT_RECVMAXSZ, 1024);
    if (rv == 0)
        rv = td_rpc_listen(ev->sock, url, TD_ROLE_GATEWAY, NULL);
    if (rv != 0) {
        TD_LOG(TD_LOG_ERR, "events_listen_failed", "cannot listen on %s: %s", url,
               nng_strerror(rv));
        nng_close(ev->sock);
        free(ev);
        return TD_EDOWN;
    }
    *out = ev;
    return 0;
}

void auth_events_close(struct auth_events **pev)
{
    struct auth_events *ev = *pev;
    if (ev == NULL)
        return;
    td_rpc_unwatch(ev->sock);
    td_rpc_close_listening("auth events", ev->sock);
    free(ev);
    *pev = NULL;
}

static void publish(struct auth_events *ev, msgpack_sbuffer *sb, int rc)
{
    if (rc == 0) {
        int rv = nng_send(ev->sock, sb->data, sb->size, NNG_FLAG_NONBLOCK);
        if (rv != 0)
            TD_LOG(TD_LOG_WARN, "events_send_failed", "revocation event not sent: %s",
                   nng_strerror(rv));
    }
    msgpack_sbuffer_destroy(sb);
}

void auth_events_publish_jti(struct auth_events *ev, const char *jti, int64_t exp)
{
    if (ev == NULL)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 4);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "v", 1);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "kind", "jti");
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "jti", jti);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "exp", exp);
    publish(ev, &sb, rc);
}

void auth_events_publish_user(struct auth_events *ev, int64_t uid, int64_t cutoff_us,
                              int64_t until)
{
    if (ev == NULL)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 5);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "v", 1);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "kind", "user");
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "uid", uid);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "cutoff_us", cutoff_us);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "until", until);
    publish(ev, &sb, rc);
}
