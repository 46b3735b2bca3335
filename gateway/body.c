/*
 * body.c — the JSON intake of body.h.
 */
#include "body.h"
#include "td_error.h"
#include "td_json_mp.h"

#include <stdbool.h>

/* True when the JSON text nests arrays/objects deeper than max. Checked on
 * the raw bytes before parsing, because jansson parses recursively (up to
 * 2048 levels) and a 10,000-deep "[[[[..." overflows a civetweb worker's
 * stack inside json_loadb before its own limit is reached. */
static bool json_text_too_deep(const char *buf, size_t len, long long max)
{
    long long depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return false;
}

int gw_parse_json_body(const char *buf, size_t len, long long max_depth, json_t **out,
                       const char **problem)
{
    if (max_depth > GW_BODY_MAX_DEPTH)
        max_depth = GW_BODY_MAX_DEPTH;
    json_error_t jerr;
    bool too_deep = json_text_too_deep(buf, len, max_depth);
    json_t *json = too_deep ? NULL : json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    const char *why = NULL;
    if (too_deep)
        why = "Request body is nested too deeply";
    else if (json == NULL)
        why = len == 0 ? "Request body is empty" : "Request body is not valid JSON";
    else if (!json_is_object(json))
        why = "Request body must be a JSON object";
    else if (td_json_depth(json) > max_depth)
        why = "Request body is nested too deeply";
    if (why != NULL) {
        json_decref(json);
        *problem = why;
        return TD_EJSON;
    }
    *out = json;
    return 0;
}
