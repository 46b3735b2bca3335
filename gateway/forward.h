/*
 * forward.h — turning one HTTP request into one RPC call and its reply back
 * into one HTTP response.
 */
#ifndef GW_FORWARD_H
#define GW_FORWARD_H

#include "app.h"

/* Calls `op` on `client` for `req` with `args` (a JSON object or NULL; not
 * consumed) as the call's args, the request id and the authenticated user.
 * Sends `ok_status` with the result on success, the daemon's own error (status
 * and body) on failure, 503/504 when the daemon is down/slow. Returns the
 * status sent. */
int gw_forward(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
               const json_t *args, int ok_status);

/* Like gw_forward but hands the decoded result to the caller instead of
 * responding: on 0, *result is a new JSON value (caller decrefs) and
 * *status the daemon's status; an error reply or transport failure is sent to
 * the client here and its (negative TD_E*) code returned. */
int gw_call(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
            const json_t *args, json_t **result, int *status);

/* Like gw_call but answers nothing, for calls made after a streamed
 * response has started: returns 0 with *result (caller decrefs) for a
 * success reply, or the failure (transport error, or TD_EPROTO for an
 * error reply or an unusable result). */
int gw_call_quiet(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
                  const json_t *args, json_t **result);

/* A copy of the request body (an empty object when there is none) with
 * `key` set to `value` (consumed). When the body already holds `key` the
 * client sent an unknown field: a 400 validation_error is sent and NULL
 * returned. */
json_t *gw_args_with(struct gw_request *req, const char *key, json_t *value);

#endif
