/*
 * td_rpc_args.h — the arguments of an RPC operation, declared as data.
 *
 * A handler lists what it takes (name, type, required, bounds) in an array
 * of struct td_arg and calls TD_RPC_ARGS_TAKE once: every key of the
 * request's args map is matched against the list, every value checked
 * against its entry, and each fault becomes one validation detail in the
 * reply, worded the same in every daemon (proto/README.md, "Errors").
 * What no table can say (an e-mail's shape, an entry's content rules) stays
 * with the handler, which reads the values the call filled in.
 *
 *     struct td_arg args[] = {
 *         TD_ARG_INT("id", TD_ARG_REQUIRED, 1, INT64_MAX),
 *         TD_ARG_STR("q", 0, 1, 1024),
 *     };
 *     int rc = TD_RPC_ARGS_TAKE(req, rep, args);
 *     if (rc != 0)
 *         return rc;               // the reply already says what is wrong
 *     int64_t id = args[0].i;      // required, so present
 *     if (args[1].value != NULL) ... args[1].s, args[1].len
 */
#ifndef TD_RPC_ARGS_H
#define TD_RPC_ARGS_H

#include "td_rpc.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

enum td_arg_type {
    TD_ARG_T_STR = 1, /* a string; min/max bound its length in bytes */
    TD_ARG_T_INT,     /* an integer; min/max bound its value */
    TD_ARG_T_BOOL,    /* true or false; min/max unused */
    TD_ARG_T_ARRAY,   /* an array; min/max bound its number of elements */
    TD_ARG_T_ANY,     /* any value: the handler checks it; min/max unused */
};

/* flags */
#define TD_ARG_REQUIRED 0x1u /* absent → "Missing data for required field." */
#define TD_ARG_TEXT 0x2u     /* a string that must be valid UTF-8 without NUL */

struct td_arg {
    /* the declaration */
    const char *name;
    enum td_arg_type type;
    unsigned flags;
    int64_t min, max;
    /* filled by td_rpc_args_take (left zero when absent or invalid) */
    const msgpack_object *value; /* NULL when the caller did not send it */
    int64_t i;                   /* TD_ARG_T_INT: the value */
    bool b;                      /* TD_ARG_T_BOOL: the value */
    const char *s;               /* TD_ARG_T_STR: the bytes ("" when empty), not NUL-terminated */
    size_t len;                  /* TD_ARG_T_STR: their length */
};

#define TD_ARG_STR(name_, flags_, min_, max_) \
    {.name = (name_), .type = TD_ARG_T_STR, .flags = (flags_), .min = (min_), .max = (max_)}
#define TD_ARG_INT(name_, flags_, min_, max_) \
    {.name = (name_), .type = TD_ARG_T_INT, .flags = (flags_), .min = (min_), .max = (max_)}
#define TD_ARG_BOOL(name_, flags_) {.name = (name_), .type = TD_ARG_T_BOOL, .flags = (flags_)}
#define TD_ARG_ARRAY(name_, flags_, min_, max_) \
    {.name = (name_), .type = TD_ARG_T_ARRAY, .flags = (flags_), .min = (min_), .max = (max_)}
#define TD_ARG_ANY(name_, flags_) {.name = (name_), .type = TD_ARG_T_ANY, .flags = (flags_)}

/* Matches req->args against args[0..n): a non-string, unknown or repeated
 * key, a missing required argument, a value of the wrong type or out of its
 * bounds each add one detail to rep. Returns 0 when all is well, or the
 * TD_EINVAL of td_rpc_reply_error when anything is wrong. Either way every
 * value that passed is filled in (an invalid one is left absent), so a
 * handler can add its own checks of the others to the same reply and list
 * every fault at once. A request without args is an empty map. */
int td_rpc_args_take(const struct td_rpc_request *req, struct td_rpc_reply *rep,
                     struct td_arg *args, size_t n);

/* The same for a map inside the args (e.g. each item of a list); NULL is an
 * empty map. */
int td_rpc_args_take_map(const msgpack_object *map, struct td_rpc_reply *rep, struct td_arg *args,
                         size_t n);

#define TD_RPC_ARGS_TAKE(req, rep, args) \
    td_rpc_args_take((req), (rep), (args), sizeof(args) / sizeof((args)[0]))

/* The messages, for handlers that check more than the table can say. */
extern const char td_arg_missing[];   /* "Missing data for required field." */
extern const char td_arg_not_str[];   /* "Not a valid string." */
extern const char td_arg_not_int[];   /* "Not a valid integer." */
extern const char td_arg_not_utf8[];  /* "Must be valid UTF-8 without NUL characters." */
extern const char td_arg_positive[];  /* "Must be a positive integer." */

#endif
