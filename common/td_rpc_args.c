/*
 * td_rpc_args.c — checks an operation's arguments against its declaration
 * (td_rpc_args.h). The only place where argument faults are worded.
 */
#include "td_rpc_args.h"

#include "td_error.h"
#include "td_mp.h"
#include "td_utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char td_arg_missing[] = "Missing data for required field.";
const char td_arg_not_str[] = "Not a valid string.";
const char td_arg_not_int[] = "Not a valid integer.";
const char td_arg_not_utf8[] = "Must be valid UTF-8 without NUL characters.";
const char td_arg_positive[] = "Must be a positive integer.";

static bool keys_equal(const msgpack_object *a, const msgpack_object *b)
{
    return a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR &&
           a->via.str.size == b->via.str.size &&
           (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
}

/* Finds each key's declaration; false (with details) on any key fault. */
static bool match_keys(const msgpack_object_map *m, struct td_rpc_reply *rep, struct td_arg *args,
                       size_t n)
{
    bool ok = true;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            td_rpc_reply_detail_key(rep, k, "Field names must be strings.");
            ok = false;
            continue;
        }
        size_t j = 0;
        while (j < n && !td_mp_str_eq(k, args[j].name))
            j++;
        bool repeated = false;
        for (uint32_t p = 0; p < i && !repeated; p++)
            repeated = keys_equal(&m->ptr[p].key, k);
        if (j == n || repeated) {
            /* each unknown or repeated key is one detail; a repeated
             * argument keeps its first value */
            td_rpc_reply_detail_key(rep, k, j == n ? "Unknown field." : "Duplicate field.");
            ok = false;
            continue;
        }
        args[j].value = &m->ptr[i].val;
    }
    return ok;
}

static void bounds_detail(struct td_rpc_reply *rep, const struct td_arg *a, int64_t got)
{
    char msg[128];
    if (a->type == TD_ARG_T_INT && a->min == 1 && a->max == INT64_MAX)
        snprintf(msg, sizeof msg, "%s", td_arg_positive);
    else if (a->type == TD_ARG_T_INT && a->max == INT64_MAX)
        snprintf(msg, sizeof msg, "Must be at least %" PRId64 ".", a->min);
    else if (a->type == TD_ARG_T_INT)
        snprintf(msg, sizeof msg, "Must be between %" PRId64 " and %" PRId64 ".", a->min, a->max);
    else if (got < a->min)
        snprintf(msg, sizeof msg, "Shorter than minimum length %" PRId64 ".", a->min);
    else
        snprintf(msg, sizeof msg, "Longer than maximum length %" PRId64 ".", a->max);
    td_rpc_reply_detail(rep, a->name, msg);
}

/* Checks one present value against its declaration and fills it in. */
static bool check_value(struct td_rpc_reply *rep, struct td_arg *a)
{
    const msgpack_object *v = a->value;
    switch (a->type) {
    case TD_ARG_T_STR:
        if (v->type != MSGPACK_OBJECT_STR) {
            td_rpc_reply_detail(rep, a->name, td_arg_not_str);
            return false;
        }
        if ((int64_t)v->via.str.size < a->min || (int64_t)v->via.str.size > a->max) {
            bounds_detail(rep, a, (int64_t)v->via.str.size);
            return false;
        }
        if ((a->flags & TD_ARG_TEXT) &&
            ((v->via.str.size > 0 && memchr(v->via.str.ptr, '\0', v->via.str.size) != NULL) ||
             td_utf8_count(v->via.str.ptr, v->via.str.size) < 0)) {
            td_rpc_reply_detail(rep, a->name, td_arg_not_utf8);
            return false;
        }
        a->s = v->via.str.size > 0 ? v->via.str.ptr : "";
        a->len = v->via.str.size;
        return true;
    case TD_ARG_T_INT:
        if (td_mp_as_int64(v, &a->i) != 0) {
            td_rpc_reply_detail(rep, a->name, td_arg_not_int);
            return false;
        }
        if (a->i < a->min || a->i > a->max) {
            bounds_detail(rep, a, a->i);
            a->i = 0;
            return false;
        }
        return true;
    case TD_ARG_T_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN) {
            td_rpc_reply_detail(rep, a->name, "Not a valid boolean.");
            return false;
        }
        a->b = v->via.boolean;
        return true;
    case TD_ARG_T_ARRAY:
        if (v->type != MSGPACK_OBJECT_ARRAY) {
            td_rpc_reply_detail(rep, a->name, "Not a valid list.");
            return false;
        }
        if ((int64_t)v->via.array.size < a->min || (int64_t)v->via.array.size > a->max) {
            char msg[96];
            snprintf(msg, sizeof msg, "Must hold between %" PRId64 " and %" PRId64 " items.",
                     a->min, a->max);
            td_rpc_reply_detail(rep, a->name, msg);
            return false;
        }
        return true;
    case TD_ARG_T_ANY:
        return true;
    }
    return false;
}

int td_rpc_args_take(const struct td_rpc_request *req, struct td_rpc_reply *rep,
                     struct td_arg *args, size_t n)
{
    return td_rpc_args_take_map(req->args, rep, args, n);
}

int td_rpc_args_take_map(const msgpack_object *map, struct td_rpc_reply *rep, struct td_arg *args,
                         size_t n)
{
    for (size_t j = 0; j < n; j++) {
        args[j].value = NULL;
        args[j].i = 0;
        args[j].b = false;
        args[j].s = NULL;
        args[j].len = 0;
    }
    bool ok = true;
    if (map != NULL) {
        if (map->type != MSGPACK_OBJECT_MAP)
            return td_rpc_reply_error(rep, TD_EINVAL, "Arguments must be a map.");
        ok = match_keys(&map->via.map, rep, args, n);
    }
    for (size_t j = 0; j < n; j++) {
        struct td_arg *a = &args[j];
        if (a->value == NULL) {
            if (a->flags & TD_ARG_REQUIRED) {
                td_rpc_reply_detail(rep, a->name, td_arg_missing);
                ok = false;
            }
            continue;
        }
        if (!check_value(rep, a)) {
            a->value = NULL;
            ok = false;
        }
    }
    return ok ? 0 : td_rpc_reply_error(rep, TD_EINVAL, NULL);
}
