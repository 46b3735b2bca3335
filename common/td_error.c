/*
 * td_error.c — lookups over the TD_ERRORS table of td_error.h.
 */
#include "td_error.h"

#include <stddef.h>

struct td_error_row {
    int code;
    int http;
    const char *name;
    const char *message;
    const char *symbol;
};

static const struct td_error_row rows[] = {
#define TD_ERROR_ROW(sym, value, http, str, msg) {value, http, str, msg, #sym},
    TD_ERRORS(TD_ERROR_ROW)
#undef TD_ERROR_ROW
};

static const struct td_error_row *find_row(int code)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].code == code)
            return &rows[i];
    }
    return NULL;
}

const char *td_error_name(int code)
{
    const struct td_error_row *r = find_row(code);
    return r ? r->name : "internal_error";
}

int td_error_http_status(int code)
{
    const struct td_error_row *r = find_row(code);
    return r ? r->http : 500;
}

const char *td_error_message(int code)
{
    const struct td_error_row *r = find_row(code);
    return r ? r->message : "Internal server error";
}

const char *td_error_symbol(int code)
{
    const struct td_error_row *r = find_row(code);
    return r ? r->symbol : "TD_E?";
}
