/*
 * td_proto.c — name lookups over the TD_OPS list.
 */
#include "td_proto.h"

#include <string.h>

static const char *const op_names[TD_OP_COUNT] = {
#define TD_OP_NAME(id, name, svc) [id] = name,
    TD_OPS(TD_OP_NAME)
#undef TD_OP_NAME
};

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
