/*
 * td_error.h — the one list of error codes used across Thought Diary.
 *
 * Every function that can fail returns int: 0 on success, a negative TD_E*
 * code otherwise. The X-macro below maps each code to the API's error string
 * and HTTP status (the HTTP contract, gateway/docs/openapi.json) and a default
 * human-readable message, so a daemon, the RPC layer and the gateway all speak
 * the same language without a second table to keep in sync.
 */
#ifndef TD_ERROR_H
#define TD_ERROR_H

/*      name                 value  http  api error string          default message */
#define TD_ERRORS(X)                                                                            \
    X(TD_OK,                   0,  200, "ok",                     "OK")                           \
    X(TD_EINVAL,              -1,  400, "validation_error",       "Validation failed")            \
    X(TD_EJSON,               -2,  400, "invalid_json",           "Request body is not valid JSON") \
    X(TD_EBADREQ,             -3,  400, "bad_request",            "Malformed request")            \
    X(TD_EMISSINGTOKEN,       -4,  401, "missing_token",          "Authorization token is required") \
    X(TD_EBADTOKEN,           -5,  401, "invalid_token",          "Token is invalid")             \
    X(TD_EEXPIRED,            -6,  401, "token_expired",          "Token has expired")            \
    X(TD_EREVOKED,            -7,  401, "token_revoked",          "Token has been revoked")       \
    X(TD_ECREDENTIALS,        -8,  401, "invalid_credentials",    "Invalid email or password")    \
    X(TD_EFORBIDDEN,          -9,  403, "forbidden",              "Access denied")                \
    X(TD_ENOTFOUND,          -10,  404, "not_found",              "Resource not found")           \
    X(TD_EDIARYNOTFOUND,     -11,  404, "diary_not_found",        "Diary entry not found")        \
    X(TD_EUSERNOTFOUND,      -12,  404, "user_not_found",         "User not found")               \
    X(TD_EMETHOD,            -13,  405, "method_not_allowed",     "Method not allowed")           \
    X(TD_EEXISTS,            -14,  409, "email_exists",           "Email already registered")     \
    X(TD_ETOOBIG,            -15,  413, "payload_too_large",      "Request body too large")       \
    X(TD_EMEDIA,             -16,  415, "unsupported_media_type", "Content-Type must be application/json") \
    X(TD_ERATELIMIT,         -17,  429, "rate_limit_exceeded",    "Too many requests. Please try again later.") \
    X(TD_EINTERNAL,          -18,  500, "internal_error",         "Internal server error")        \
    X(TD_ENOMEM,             -19,  500, "internal_error",         "Internal server error")        \
    X(TD_ESTORAGE,           -20,  500, "internal_error",         "Internal server error")        \
    X(TD_EPROTO,             -21,  400, "invalid_message",        "Malformed RPC message")        \
    X(TD_EUNKNOWNOP,         -22,  404, "unknown_operation",      "Unknown RPC operation")        \
    X(TD_EDOWN,              -23,  503, "service_unavailable",    "Service temporarily unavailable") \
    X(TD_ETIMEDOUT,          -24,  504, "upstream_timeout",       "Upstream service timed out")   \
    X(TD_ECONFIG,            -25,  500, "internal_error",         "Invalid configuration")        \
    X(TD_ECLOSED,            -26,  503, "service_unavailable",    "Service is shutting down")

enum td_error {
#define TD_ERROR_ENUM(name, value, http, str, msg) name = value,
    TD_ERRORS(TD_ERROR_ENUM)
#undef TD_ERROR_ENUM
};

/* The API error string ("validation_error") of a code; "internal_error" for
 * an unknown code. Never NULL; static storage. */
const char *td_error_name(int code);

/* The HTTP status of a code (500 for an unknown one). */
int td_error_http_status(int code);

/* The default message of a code. Never NULL; static storage. */
const char *td_error_message(int code);

/* The C identifier of a code ("TD_EINVAL"), for logs and test failures. */
const char *td_error_symbol(int code);

#endif
