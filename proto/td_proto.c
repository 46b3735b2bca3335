/*
 * td_proto.c — name lookups over the TD_OPS list.
 */
#include "td_proto.h"

#include <string.h>

static const char *const op_names[TD_OP_COUNT] = {
#define TD_OP_NAME(id, name, svc, callers, batch) [id] = name,
    TD_OPS(TD_OP_NAME)
#undef TD_OP_NAME
};

static const unsigned op_callers[TD_OP_COUNT] = {
#define TD_OP_CALLERS(id, name, svc, callers, batch) [id] = (callers),
    TD_OPS(TD_OP_CALLERS)
#undef TD_OP_CALLERS
};

static const enum td_batch_class op_batch[TD_OP_COUNT] = {
#define TD_OP_BATCH(id, name, svc, callers, batch) [id] = (batch),
    TD_OPS(TD_OP_BATCH)
#undef TD_OP_BATCH
};

static const struct {
    unsigned role;
    const char *name;
} roles[] = {{TD_ROLE_GATEWAY, "gateway"},
             {TD_ROLE_AUTH, "auth"},
             {TD_ROLE_DIARY, "diary"},
             {TD_ROLE_SENTIMENT, "sentiment"},
             {TD_ROLE_OPERATOR, "operator"}};

const char *td_op_name(enum td_op op)
{
    return (unsigned)op < TD_OP_COUNT ? op_names[op] : NULL;
}

int td_op_from_name(const char *name, size_t len)
{
    for (int i = 0; i < TD_OP_COUNT; i++) {
        if (strlen(op_names[i]) == len && memcmp(op_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

unsigned td_op_callers(enum td_op op)
{
    return (unsigned)op < TD_OP_COUNT ? op_callers[op] : 0;
}

enum td_batch_class td_op_batch_class(enum td_op op)
{
    return (unsigned)op < TD_OP_COUNT ? op_batch[op] : TD_B_ALONE;
}

const char *td_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (roles[i].role == role)
            return roles[i].name;
    }
    return NULL;
}

unsigned td_role_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strlen(roles[i].name) == len && memcmp(roles[i].name, name, len) == 0)
            return roles[i].role;
    }
    return 0;
}
