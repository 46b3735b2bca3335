/*
 * td_json_mp.c — the recursive converters of td_json_mp.h. Depth is bounded
 * by the callers: the gateway refuses deep JSON before converting, and
 * td_mp_unpack refuses deep msgpack before anything reaches td_mp_to_json.
 */
#include "td_json_mp.h"
#include "td_utf8.h"
#include "td_error.h"
#include "td_mp.h"

#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int td_json_to_mp(const json_t *json, msgpack_packer *pk)
{
    int rc = 0;
    switch (json_typeof(json)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        rc = msgpack_pack_map(pk, json_object_size(json));
        json_object_foreach((json_t *)json, key, value)
        {
            if (rc != 0)
                break;
            rc = td_mp_pack_cstr(pk, key);
            rc = rc ? rc : td_json_to_mp(value, pk);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *value;
        rc = msgpack_pack_array(pk, json_array_size(json));
        json_array_foreach(json, i, value)
        {
            if (rc != 0)
                break;
            rc = td_json_to_mp(value, pk);
        }
        break;
    }
    case JSON_STRING:
        rc = td_mp_pack_strn(pk, json_string_value(json), json_string_length(json));
        break;
    case JSON_INTEGER:
        rc = msgpack_pack_int64(pk, json_integer_value(json));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double(pk, json_real_value(json));
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        rc = msgpack_pack_nil(pk);
        break;
    }
    return rc == 0 ? 0 : (rc < 0 ? TD_ENOMEM : rc);
}

int td_mp_to_json(const msgpack_object *obj, json_t **out)
{
    json_t *j = NULL;
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        j = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(obj->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (obj->via.u64 > INT64_MAX)
            return TD_EPROTO;
        j = json_integer((json_int_t)obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* NaN and infinities have no JSON twin (json_real refuses them);
         * x - x is 0 for every finite x and NaN for the others. */
        if (!(obj->via.f64 - obj->via.f64 == 0.0))
            return TD_EPROTO;
        j = json_real(obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        /* jansson refuses invalid UTF-8 here, so no bad bytes reach a client. */
        /* msgpack-c leaves ptr NULL for "", which json_stringn refuses. */
        j = json_stringn(obj->via.str.size ? obj->via.str.ptr : "", obj->via.str.size);
        if (j == NULL)
            return TD_EPROTO;
        break;
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        for (uint32_t i = 0; j && i < obj->via.array.size; i++) {
            json_t *item;
            int rc = td_mp_to_json(&obj->via.array.ptr[i], &item);
            if (rc != 0 || json_array_append_new(j, item) != 0) {
                json_decref(j);
                return rc != 0 ? rc : TD_ENOMEM;
            }
        }
        break;
    case MSGPACK_OBJECT_MAP:
        j = json_object();
        for (uint32_t i = 0; j && i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            char key[256];
            json_t *item;
            if (td_mp_copy_str(&kv->key, key, sizeof key) != 0) {
                json_decref(j);
                return TD_EPROTO;
            }
            int rc = td_mp_to_json(&kv->val, &item);
            if (rc != 0 || json_object_set_new(j, key, item) != 0) {
                json_decref(j);
                if (rc == 0) {
                    /* jansson refuses a key that is not UTF-8: no JSON twin,
                     * not a lack of memory. */
                    json_t *probe = json_string(key);
                    rc = probe != NULL ? TD_ENOMEM : TD_EPROTO;
                    json_decref(probe);
                }
                return rc;
            }
        }
        break;
    default: /* BIN, EXT */
        return TD_EPROTO;
    }
    if (j == NULL)
        return TD_ENOMEM;
    *out = j;
    return 0;
}

int td_json_depth(const json_t *json)
{
    int deepest = 0;
    if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)json, key, value)
        {
            int d = td_json_depth(value);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(json)) {
        size_t i;
        json_t *value;
        json_array_foreach(json, i, value)
        {
            int d = td_json_depth(value);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

/* ---- msgpack -> JSON text, without a jansson tree ------------------------ */

struct jbuf {
    char *p;
    size_t len, cap;
};

/* Room for n more bytes (and the final NUL). */
static int jb_reserve(struct jbuf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        return TD_ENOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return TD_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    return 0;
}

static int jb_put(struct jbuf *b, const char *s, size_t n)
{
    int rc = jb_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* True when none of the 8 bytes at p needs a look of its own: no control
 * character, '"', '\\' or non-ASCII byte (the classic SWAR tests; a borrow
 * can only add a false hit next to a true one, so "none" is exact). */
static bool word_is_plain(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t quote = ((w ^ (ones * '"')) - ones) & ~(w ^ (ones * '"'));
    uint64_t backslash = ((w ^ (ones * '\\')) - ones) & ~(w ^ (ones * '\\'));
    return ((w | control | quote | backslash) & highs) == 0;
}

/* A JSON string as json_dumps(JSON_COMPACT) writes it: '"', '\\' and control
 * characters escaped (\b \f \n \r \t, else \u00XX), everything else as is. */
static int jb_string(struct jbuf *b, const char *str, size_t len)
{
    /* Room for the worst case (every byte as \u00XX) up front, so the loop
     * writes straight into the buffer. */
    if (len > (SIZE_MAX - 2) / 6 || jb_reserve(b, len * 6 + 2) != 0)
        return TD_ENOMEM;
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    char *o = b->p + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        /* Eight plain ASCII bytes at a time: most of a diary is. */
        if (len - i >= 8 && word_is_plain(s + i)) {
            memcpy(o, s + i, 8);
            o += 8;
            i += 8;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            uint32_t cp; /* jansson accepts exactly what td_utf8_decode does */
            size_t n = td_utf8_decode((const char *)s + i, len - i, &cp);
            if (n == 0)
                return TD_EPROTO; /* b->len is unchanged: nothing was written */
            memcpy(o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        i++;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 0xF];
            o += 5;
            break;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

/* A real as jansson writes it (jsonp_dtostr, precision 17): "%.17g", ".0"
 * added when there is neither '.' nor 'e', no '+' or leading zeros in the
 * exponent. NaN and infinities have no JSON form. */
static int jb_real(struct jbuf *b, double v)
{
    if (v != v || v > DBL_MAX || v < -DBL_MAX)
        return TD_EPROTO;
    char buf[64];
    int n = snprintf(buf, sizeof buf - 3, "%.17g", v);
    if (n < 0 || n >= (int)sizeof buf - 3)
        return TD_EPROTO;
    size_t len = (size_t)n;
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(buf, 'e');
    if (start != NULL) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    return jb_put(b, buf, len);
}

static int jb_value(struct jbuf *b, const msgpack_object *o, int depth)
{
    char num[32];
    int rc = 0;
    if (depth > 64)
        return TD_EPROTO;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return jb_put(b, "null", 4);
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean ? jb_put(b, "true", 4) : jb_put(b, "false", 5);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX)
            return TD_EPROTO;
        return jb_put(b, num, (size_t)snprintf(num, sizeof num, "%" PRIu64, o->via.u64));
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return jb_put(b, num, (size_t)snprintf(num, sizeof num, "%" PRId64, o->via.i64));
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return jb_real(b, o->via.f64);
    case MSGPACK_OBJECT_STR:
        return jb_string(b, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        rc = jb_put(b, "[", 1);
        for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
            if (i > 0)
                rc = jb_put(b, ",", 1);
            rc = rc ? rc : jb_value(b, &o->via.array.ptr[i], depth + 1);
        }
        return rc ? rc : jb_put(b, "]", 1);
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = o->via.map.size;
        if (n > 64) /* duplicate keys are checked pairwise: leave big maps to jansson */
            return TD_EPROTO;
        rc = jb_put(b, "{", 1);
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            /* the keys td_mp_to_json takes: strings under 256 bytes without NUL */
            /* ("" may have a NULL ptr, which memchr/memcmp must not see) */
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= 256 ||
                (k->via.str.size > 0 && memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL))
                return TD_EPROTO;
            for (uint32_t j = 0; j < i; j++) {
                const msgpack_object *kj = &o->via.map.ptr[j].key;
                if (kj->via.str.size == k->via.str.size &&
                    (k->via.str.size == 0 ||
                     memcmp(kj->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0))
                    return TD_EPROTO; /* jansson keeps the first place, last value */
            }
            if (i > 0)
                rc = jb_put(b, ",", 1);
            rc = rc ? rc : jb_string(b, k->via.str.ptr, k->via.str.size);
            rc = rc ? rc : jb_put(b, ":", 1);
            rc = rc ? rc : jb_value(b, &o->via.map.ptr[i].val, depth + 1);
        }
        return rc ? rc : jb_put(b, "}", 1);
    }
    default: /* BIN, EXT */
        return TD_EPROTO;
    }
}

int td_mp_to_json_text(const msgpack_object *obj, char **out, size_t *out_len)
{
    /* json_dumps writes only an object or an array at the top (no
     * JSON_ENCODE_ANY): the gateway answers 500 for anything else. */
    if (obj->type != MSGPACK_OBJECT_MAP && obj->type != MSGPACK_OBJECT_ARRAY)
        return TD_EPROTO;
    struct jbuf b = {0};
    int rc = jb_value(&b, obj, 0);
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *out_len = b.len;
    return 0;
}
