/*
 * td_proto.h — the RPC contract between Thought Diary's daemons.
 *
 * Every message on an nng req/rep socket is one msgpack map. README.md in
 * this directory documents each operation's arguments and result; this header
 * is the machine-readable side: the protocol version, the envelope keys and
 * the list of operations, from which each daemon's dispatch table is built.
 *
 * Request:  {"v": 1, "op": "diary.list", "rid": "<request id>",
 *            "cid": "<call id>", "uid": 7, "args": {...}}
 * Reply:    {"v": 1, "status": 200, "result": <any>}
 *       or  {"v": 1, "status": 409, "error": {"error": "email_exists",
 *                                             "message": "...", "details": {...}}}
 */
#ifndef TD_PROTO_H
#define TD_PROTO_H

#include <stddef.h>

#define TD_PROTO_VERSION 1

/* Envelope keys. */
#define TD_KEY_VERSION "v"
#define TD_KEY_OP "op"
#define TD_KEY_REQUEST_ID "rid"
#define TD_KEY_CALL_ID "cid"
#define TD_KEY_USER_ID "uid"
#define TD_KEY_ARGS "args"
#define TD_KEY_STATUS "status"
#define TD_KEY_RESULT "result"
#define TD_KEY_ERROR "error"

/* Limits of the envelope's strings. */
#define TD_PROTO_OP_MAX 48
#define TD_PROTO_RID_MAX 128
#define TD_PROTO_CID_MAX 64

/* Largest request a daemon accepts, and largest reply a caller accepts
 * (a page of 100 entries of 10,000 escaped characters each fits). */
#define TD_PROTO_MAX_REQUEST (1u << 20)
#define TD_PROTO_MAX_REPLY (64u << 20)

/*      id                     name                    served by */
#define TD_OPS(X)                                                          \
    X(TD_OP_PING,              "ping",                 "any")              \
    X(TD_OP_AUTH_REGISTER,     "auth.register",        "auth")             \
    X(TD_OP_AUTH_LOGIN,        "auth.login",           "auth")             \
    X(TD_OP_AUTH_REFRESH,      "auth.refresh",         "auth")             \
    X(TD_OP_AUTH_LOGOUT,       "auth.logout",          "auth")             \
    X(TD_OP_AUTH_ME,           "auth.me",              "auth")             \
    X(TD_OP_AUTH_DELETE,       "auth.delete",          "auth")             \
    X(TD_OP_AUTH_PASSWORD,     "auth.password",        "auth")             \
    X(TD_OP_AUTH_REVOCATIONS,  "auth.revocations",     "auth")             \
    X(TD_OP_AUTH_SEED,         "auth.seed",            "auth")             \
    X(TD_OP_AUTH_USER_LIST,    "auth.user_list",       "auth")             \
    X(TD_OP_AUTH_USER_DELETE,  "auth.user_delete",     "auth")             \
    X(TD_OP_DIARY_LIST,        "diary.list",           "diary")            \
    X(TD_OP_DIARY_CREATE,      "diary.create",         "diary")            \
    X(TD_OP_DIARY_GET,         "diary.get",            "diary")            \
    X(TD_OP_DIARY_UPDATE,      "diary.update",         "diary")            \
    X(TD_OP_DIARY_DELETE,      "diary.delete",         "diary")            \
    X(TD_OP_DIARY_STATS,       "diary.stats",          "diary")            \
    X(TD_OP_DIARY_DELETE_USER, "diary.delete_user",    "diary")            \
    X(TD_OP_DIARY_SEED,        "diary.seed",           "diary")            \
    X(TD_OP_SENTIMENT_ANALYZE, "sentiment.analyze",    "sentiment")

enum td_op {
#define TD_OP_ENUM(id, name, svc) id,
    TD_OPS(TD_OP_ENUM)
#undef TD_OP_ENUM
    TD_OP_COUNT
};

/* The wire name of an op ("diary.list"); NULL for an out-of-range id. */
const char *td_op_name(enum td_op op);

/* Looks a wire name up. Returns the op id, or -1 when unknown. */
int td_op_from_name(const char *name, size_t len);

#endif
