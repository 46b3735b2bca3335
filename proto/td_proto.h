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

/* The roles of the stack's processes. A caller's role is known from where it
 * connected: a tls+tcp listener trusts one role's CA (docs/architecture.md,
 * "Trust"); an ipc or plain tcp listener on one host admits the stack's
 * daemons, and the operator's tool has listeners of its own. */
enum td_role {
    TD_ROLE_GATEWAY = 1u << 0,
    TD_ROLE_AUTH = 1u << 1,
    TD_ROLE_DIARY = 1u << 2,
    TD_ROLE_SENTIMENT = 1u << 3,
    TD_ROLE_OPERATOR = 1u << 4, /* tdctl */
};
#define TD_ROLES_STACK (TD_ROLE_GATEWAY | TD_ROLE_AUTH | TD_ROLE_DIARY | TD_ROLE_SENTIMENT)
#define TD_ROLES_ALL (TD_ROLES_STACK | TD_ROLE_OPERATOR)
#define TD_R_G TD_ROLE_GATEWAY
#define TD_R_A TD_ROLE_AUTH
#define TD_R_D TD_ROLE_DIARY
#define TD_R_O TD_ROLE_OPERATOR

/* Every operation: its id, its wire name, the daemon that serves it, and
 * the roles that may call it (enforced by the RPC server on every request).
 *      id                     name                    served by    callers */
#define TD_OPS(X)                                                                       \
    X(TD_OP_PING,              "ping",                 "any",       TD_ROLES_ALL)       \
    X(TD_OP_AUTH_REGISTER,     "auth.register",        "auth",      TD_R_G)             \
    X(TD_OP_AUTH_LOGIN,        "auth.login",           "auth",      TD_R_G)             \
    X(TD_OP_AUTH_REFRESH,      "auth.refresh",         "auth",      TD_R_G)             \
    X(TD_OP_AUTH_LOGOUT,       "auth.logout",          "auth",      TD_R_G)             \
    X(TD_OP_AUTH_ME,           "auth.me",              "auth",      TD_R_G)             \
    X(TD_OP_AUTH_DELETE,       "auth.delete",          "auth",      TD_R_G)             \
    X(TD_OP_AUTH_PASSWORD,     "auth.password",        "auth",      TD_R_G)             \
    X(TD_OP_AUTH_REVOCATIONS,  "auth.revocations",     "auth",      TD_R_G)             \
    X(TD_OP_AUTH_SEED,         "auth.seed",            "auth",      TD_R_O)             \
    X(TD_OP_AUTH_USER_LIST,    "auth.user_list",       "auth",      TD_R_O)             \
    X(TD_OP_AUTH_USER_DELETE,  "auth.user_delete",     "auth",      TD_R_O)             \
    X(TD_OP_DIARY_LIST,        "diary.list",           "diary",     TD_R_G)             \
    X(TD_OP_DIARY_CREATE,      "diary.create",         "diary",     TD_R_G)             \
    X(TD_OP_DIARY_GET,         "diary.get",            "diary",     TD_R_G)             \
    X(TD_OP_DIARY_UPDATE,      "diary.update",         "diary",     TD_R_G)             \
    X(TD_OP_DIARY_DELETE,      "diary.delete",         "diary",     TD_R_G)             \
    X(TD_OP_DIARY_STATS,       "diary.stats",          "diary",     TD_R_G | TD_R_O)    \
    X(TD_OP_DIARY_TIMELINE,    "diary.timeline",       "diary",     TD_R_G)             \
    X(TD_OP_DIARY_PHRASES,     "diary.phrases",        "diary",     TD_R_G)             \
    X(TD_OP_DIARY_EXPORT,      "diary.export",         "diary",     TD_R_G)             \
    X(TD_OP_DIARY_IMPORT_STAGE, "diary.import_stage",  "diary",     TD_R_G)             \
    X(TD_OP_DIARY_IMPORT_COMMIT, "diary.import_commit", "diary",    TD_R_G)             \
    X(TD_OP_DIARY_DELETE_USER, "diary.delete_user",    "diary",     TD_R_A | TD_R_O)    \
    X(TD_OP_DIARY_SEED,        "diary.seed",           "diary",     TD_R_O)             \
    X(TD_OP_SENTIMENT_ANALYZE, "sentiment.analyze",    "sentiment", TD_R_D)

enum td_op {
#define TD_OP_ENUM(id, name, svc, callers) id,
    TD_OPS(TD_OP_ENUM)
#undef TD_OP_ENUM
    TD_OP_COUNT
};

/* The wire name of an op ("diary.list"); NULL for an out-of-range id. */
const char *td_op_name(enum td_op op);

/* Looks a wire name up. Returns the op id, or -1 when unknown. */
int td_op_from_name(const char *name, size_t len);

/* The roles (TD_ROLE_* bits) that may call `op`; 0 for an out-of-range id. */
unsigned td_op_callers(enum td_op op);

/* "gateway", "auth", "diary", "sentiment", "operator" for one TD_ROLE_* bit;
 * NULL for anything else. */
const char *td_role_name(unsigned role);

/* Parses a role name. Returns its TD_ROLE_* bit, or 0 when unknown. */
unsigned td_role_from_name(const char *name, size_t len);

#endif
