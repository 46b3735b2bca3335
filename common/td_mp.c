/*
 * td_mp.c — the pre-parse walker and map helpers of td_mp.h.
 */
#include "td_mp.h"
#include "td_error.h"

#include <string.h>

struct walker {
    const unsigned char *p;
    size_t left;
};

static int take(struct walker *w, size_t n)
{
    if (n > w->left)
        return TD_EPROTO;
    w->p += n;
    w->left -= n;
    return 0;
}

static int read_be(struct walker *w, size_t n, uint64_t *out)
{
    if (n > w->left)
        return TD_EPROTO;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | w->p[i];
    w->p += n;
    w->left -= n;
    *out = v;
    return 0;
}

static int walk(struct walker *w, int depth);

/* Every element takes at least one byte, so a count larger than the bytes
 * left is a lie that would make msgpack-c reserve memory for nothing. */
static int walk_items(struct walker *w, uint64_t count, int depth)
{
    if (depth > TD_MP_MAX_DEPTH || count > w->left)
        return TD_EPROTO;
    for (uint64_t i = 0; i < count; i++) {
        int rc = walk(w, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk(struct walker *w, int depth)
{
    uint64_t n;
    if (w->left == 0)
        return TD_EPROTO;
    unsigned char b = *w->p;
    take(w, 1);
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0; /* fixint, nil, bool */
    if (b >= 0x80 && b <= 0x8f)
        return walk_items(w, (uint64_t)(b & 0x0f) * 2, depth + 1);
    if (b >= 0x90 && b <= 0x9f)
        return walk_items(w, b & 0x0f, depth + 1);
    if (b >= 0xa0 && b <= 0xbf)
        return take(w, b & 0x1f);
    switch (b) {
    case 0xc4: case 0xd9: /* bin8, str8 */
        return read_be(w, 1, &n) ? TD_EPROTO : take(w, n);
    case 0xc5: case 0xda: /* bin16, str16 */
        return read_be(w, 2, &n) ? TD_EPROTO : take(w, n);
    case 0xc6: case 0xdb: /* bin32, str32 */
        return read_be(w, 4, &n) ? TD_EPROTO : take(w, n);
    case 0xca: return take(w, 4);          /* float32 */
    case 0xcb: return take(w, 8);          /* float64 */
    case 0xcc: case 0xd0: return take(w, 1);
    case 0xcd: case 0xd1: return take(w, 2);
    case 0xce: case 0xd2: return take(w, 4);
    case 0xcf: case 0xd3: return take(w, 8);
    case 0xdc: return read_be(w, 2, &n) ? TD_EPROTO : walk_items(w, n, depth + 1);
    case 0xdd: return read_be(w, 4, &n) ? TD_EPROTO : walk_items(w, n, depth + 1);
    case 0xde: return read_be(w, 2, &n) ? TD_EPROTO : walk_items(w, n * 2, depth + 1);
    case 0xdf: return read_be(w, 4, &n) ? TD_EPROTO : walk_items(w, n * 2, depth + 1);
    default:
        /* 0xc1 is reserved; ext types (0xc7-0xc9, 0xd4-0xd8) are not part of
         * our protocol, so they are refused rather than skipped. */
        return TD_EPROTO;
    }
}

int td_mp_validate(const char *data, size_t len)
{
    if (data == NULL || len == 0)
        return TD_EPROTO;
    struct walker w = {(const unsigned char *)data, len};
    int rc = walk(&w, 0);
    if (rc != 0)
        return rc;
    return w.left == 0 ? 0 : TD_EPROTO;
}

int td_mp_unpack(const char *data, size_t len, msgpack_unpacked *out)
{
    int rc = td_mp_validate(data, len);
    if (rc != 0)
        return rc;
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(out, data, len, &off);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        return TD_ENOMEM;
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len)
        return TD_EPROTO;
    return 0;
}

const msgpack_object *td_mp_map_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (td_mp_str_eq(&kv->key, key))
            return &kv->val;
    }
    return NULL;
}

bool td_mp_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
}

int td_mp_as_int64(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return TD_EINVAL;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return TD_EINVAL;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return TD_EINVAL;
}

int td_mp_copy_str(const msgpack_object *o, char *buf, size_t size)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
        return TD_EINVAL;
    /* msgpack-c leaves ptr NULL for "", and memchr/memcpy must not see NULL
     * even for 0 bytes. */
    if (o->via.str.size > 0) {
        if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
            return TD_EINVAL;
        memcpy(buf, o->via.str.ptr, o->via.str.size);
    }
    buf[o->via.str.size] = '\0';
    return 0;
}

int td_mp_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
    int rc = msgpack_pack_str(pk, len);
    return rc != 0 ? rc : msgpack_pack_str_body(pk, s, len);
}

int td_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    return td_mp_pack_strn(pk, s, strlen(s));
}

int td_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    int rc = td_mp_pack_cstr(pk, key);
    return rc != 0 ? rc : td_mp_pack_cstr(pk, value);
}

int td_mp_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    int rc = td_mp_pack_cstr(pk, key);
    return rc != 0 ? rc : msgpack_pack_int64(pk, value);
}

bool td_mp_map_keys_unique(const msgpack_object *map)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return false;
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *o = &map->via.map.ptr[j].key;
            if (o->via.str.size == k->via.str.size &&
                memcmp(o->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
                return false;
        }
    }
    return true;
}
