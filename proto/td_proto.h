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
 *
 * Batch (README.md, "Batches"): several calls in one message, a msgpack
 * *array* of bin, each bin one request envelope's exact bytes (with "ttl");
 * its reply an array of as many elements in the same order, each a bin
 * holding one reply envelope, or TD_PROTO_BATCH_LATE / TD_PROTO_BATCH_ALONE.
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
/* Batched requests only: the milliseconds the caller still waits for this
 * call, 1..TD_PROTO_TTL_MAX (README.md, "Batches"). */
#define TD_KEY_TTL "ttl"
#define TD_PROTO_TTL_MAX 600000

/* Limits of the envelope's strings. */
#define TD_PROTO_OP_MAX 48
#define TD_PROTO_RID_MAX 128
#define TD_PROTO_CID_MAX 64

/* Largest request a daemon accepts, and largest reply a caller accepts
 * (a page of 100 entries of 10,000 escaped characters each fits). */
#define TD_PROTO_MAX_REQUEST (1u << 20)
#define TD_PROTO_MAX_REPLY (64u << 20)

/* Batches: at most this many calls, and at most this many bytes of request
 * envelopes, in one message (the whole message stays under
 * TD_PROTO_MAX_REQUEST). A reply element that is not a bin is one of the
 * two markers: the call was not finished when the batch had to be answered
 * (the caller sees a timeout, as it would alone), or its reply did not fit
 * beside the others under TD_PROTO_MAX_REPLY (a short read: the caller asks
 * again alone). */
#define TD_PROTO_BATCH_MAX 32
#define TD_PROTO_BATCH_BYTES (256u << 10)
#define TD_PROTO_BATCH_LATE 1
#define TD_PROTO_BATCH_ALONE 2

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

/* Which calls may share one message (README.md, "Batches"): a batch holds
 * calls of one class only, so its reply never waits on work of another
 * kind. TD_B_SHORT: short reads every daemon serves inline (a few tens of
 * microseconds); TD_B_WORK: one entry's write or analysis on the worker pool
 * (similar costs; td-diary's group commit shares their fsync); TD_B_ALONE:
 * always its own message (password hashing, bulk and operator operations,
 * pages of unbounded size). */
enum td_batch_class { TD_B_ALONE = 0, TD_B_SHORT, TD_B_WORK, TD_B_CLASSES };

/* Every operation: its id, its wire name, the daemon that serves it, the
 * roles that may call it (enforced by the RPC server on every request), and
 * its batch class.
 *      id                     name                    served by    callers             batch */
#define TD_OPS(X)                                                                                   \
    X(TD_OP_PING,              "ping",                 "any",       TD_ROLES_ALL,       TD_B_SHORT) \
    X(TD_OP_AUTH_REGISTER,     "auth.register",        "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_LOGIN,        "auth.login",           "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_REFRESH,      "auth.refresh",         "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_LOGOUT,       "auth.logout",          "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_ME,           "auth.me",              "auth",      TD_R_G,             TD_B_SHORT) \
    X(TD_OP_AUTH_DELETE,       "auth.delete",          "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_PASSWORD,     "auth.password",        "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_REVOCATIONS,  "auth.revocations",     "auth",      TD_R_G,             TD_B_ALONE) \
    X(TD_OP_AUTH_SEED,         "auth.seed",            "auth",      TD_R_O,             TD_B_ALONE) \
    X(TD_OP_AUTH_USER_LIST,    "auth.user_list",       "auth",      TD_R_O,             TD_B_ALONE) \
    X(TD_OP_AUTH_USER_DELETE,  "auth.user_delete",     "auth",      TD_R_O,             TD_B_ALONE) \
    X(TD_OP_DIARY_LIST,        "diary.list",           "diary",     TD_R_G,             TD_B_SHORT) \
    X(TD_OP_DIARY_CREATE,      "diary.create",         "diary",     TD_R_G,             TD_B_WORK)  \
    X(TD_OP_DIARY_GET,         "diary.get",            "diary",     TD_R_G,             TD_B_SHORT) \
    X(TD_OP_DIARY_UPDATE,      "diary.update",         "diary",     TD_R_G,             TD_B_WORK)  \
    X(TD_OP_DIARY_DELETE,      "diary.delete",         "diary",     TD_R_G,             TD_B_WORK)  \
    X(TD_OP_DIARY_STATS,       "diary.stats",          "diary",     TD_R_G | TD_R_O,    TD_B_SHORT) \
    X(TD_OP_DIARY_TIMELINE,    "diary.timeline",       "diary",     TD_R_G,             TD_B_ALONE) \
    X(TD_OP_DIARY_PHRASES,     "diary.phrases",        "diary",     TD_R_G,             TD_B_ALONE) \
    X(TD_OP_DIARY_EXPORT,      "diary.export",         "diary",     TD_R_G,             TD_B_ALONE) \
    X(TD_OP_DIARY_IMPORT_STAGE, "diary.import_stage",  "diary",     TD_R_G,             TD_B_ALONE) \
    X(TD_OP_DIARY_IMPORT_COMMIT, "diary.import_commit", "diary",    TD_R_G,             TD_B_ALONE) \
    X(TD_OP_DIARY_DELETE_USER, "diary.delete_user",    "diary",     TD_R_A | TD_R_O,    TD_B_ALONE) \
    X(TD_OP_DIARY_SEED,        "diary.seed",           "diary",     TD_R_O,             TD_B_ALONE) \
    X(TD_OP_SENTIMENT_ANALYZE, "sentiment.analyze",    "sentiment", TD_R_D,             TD_B_WORK)

enum td_op {
#define TD_OP_ENUM(id, name, svc, callers, batch) id,
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

/* The batch class of `op`; TD_B_ALONE for an out-of-range id. */
enum td_batch_class td_op_batch_class(enum td_op op);

/* "gateway", "auth", "diary", "sentiment", "operator" for one TD_ROLE_* bit;
 * NULL for anything else. */
const char *td_role_name(unsigned role);

/* Parses a role name. Returns its TD_ROLE_* bit, or 0 when unknown. */
unsigned td_role_from_name(const char *name, size_t len);

#endif
