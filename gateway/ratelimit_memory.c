/*
 * ratelimit_memory.c — the in-process rate-limit store: one gateway's
 * sliding-window logs (ratelimit.h), and the fallback when Redis is away.
 *
 * Keys are spread over GW_RL_STRIPES independently locked stripes so that
 * civetweb workers limiting different clients rarely wait on each other.
 * Each stripe is a chained hash table plus an LRU list; its share of
 * max_keys bounds its memory. Expired keys are reclaimed from the LRU tail a
 * little at every hit (so idle clients do not linger) and all at once when a
 * stripe is full; only then is a live key evicted, least recently used first.
 */
#include "ratelimit.h"
#include "td_error.h"

#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_RL_STRIPES 64

struct entry {
    struct entry *hnext;        /* hash chain */
    struct entry *prev, *next;  /* LRU list, most recent first */
    uint64_t hash;
    int64_t window_us;
    int64_t cap;                /* ring capacity = the limit it was made for */
    int64_t head, n;            /* ring of the n hit times, oldest at head */
    char key[GW_RL_KEY_MAX];
    int64_t hits[];
};

struct stripe {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    struct entry *lru_head, *lru_tail;
    size_t count, max;
};

struct gw_rl_mem {
    struct stripe stripes[GW_RL_STRIPES];
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

/* A key's place: libsodium's SipHash (crypto_shorthash) under a random key
 * of this table, so clients who choose their keys (any IPv6 /64 is theirs to
 * pick addresses in) cannot aim them all at one bucket. */
static uint64_t key_hash(const struct gw_rl_mem *m, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), m->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

int gw_rl_mem_new(size_t max_keys, struct gw_rl_mem **out)
{
    struct gw_rl_mem *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TD_ENOMEM;
    crypto_shorthash_keygen(m->hash_key);
    size_t per = max_keys / GW_RL_STRIPES;
    if (per == 0)
        per = 1;
    size_t nb = 16;
    while (nb < per)
        nb <<= 1;
    for (int i = 0; i < GW_RL_STRIPES; i++) {
        struct stripe *s = &m->stripes[i];
        s->max = per;
        s->nbuckets = nb;
        s->buckets = calloc(nb, sizeof *s->buckets);
        if (s->buckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
            free(s->buckets);
            s->buckets = NULL;
            for (int j = 0; j < i; j++) {
                pthread_mutex_destroy(&m->stripes[j].lock);
                free(m->stripes[j].buckets);
            }
            free(m);
            return TD_ENOMEM;
        }
    }
    *out = m;
    return 0;
}

void gw_rl_mem_free(struct gw_rl_mem **mp)
{
    struct gw_rl_mem *m = *mp;
    if (m == NULL)
        return;
    for (int i = 0; i < GW_RL_STRIPES; i++) {
        struct stripe *s = &m->stripes[i];
        for (struct entry *e = s->lru_head, *next; e; e = next) {
            next = e->next;
            free(e);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(m);
    *mp = NULL;
}

static void lru_unlink(struct stripe *s, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct stripe *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->lru_head;
    if (s->lru_head)
        s->lru_head->prev = e;
    s->lru_head = e;
    if (s->lru_tail == NULL)
        s->lru_tail = e;
}

static void remove_entry(struct stripe *s, struct entry *e)
{
    struct entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(s, e);
    s->count--;
    free(e);
}

/* A key is expired when its newest hit has left the window: it would answer
 * exactly like a key never seen. */
static bool expired(const struct entry *e, int64_t now_us)
{
    if (e->n == 0)
        return true;
    int64_t newest = e->hits[(e->head + e->n - 1) % e->cap];
    return newest <= now_us - e->window_us;
}

static void prune(struct entry *e, int64_t now_us)
{
    while (e->n > 0 && e->hits[e->head] <= now_us - e->window_us) {
        e->head = (e->head + 1) % e->cap;
        e->n--;
    }
}

static struct entry *find(struct stripe *s, const char *key, uint64_t h)
{
    for (struct entry *e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* Makes room for one more key: expired keys first, then the least recently
 * used one (its client gets a fresh window; only under memory pressure). */
static void make_room(struct stripe *s, int64_t now_us)
{
    if (s->count < s->max)
        return;
    for (struct entry *e = s->lru_tail, *prev; e; e = prev) {
        prev = e->prev;
        if (expired(e, now_us))
            remove_entry(s, e);
    }
    if (s->count >= s->max && s->lru_tail)
        remove_entry(s, s->lru_tail);
}

static struct entry *create(struct stripe *s, const char *key, uint64_t h,
                            const struct gw_rl_limit *lim, int64_t now_us)
{
    make_room(s, now_us);
    struct entry *e = calloc(1, sizeof *e + (size_t)lim->limit * sizeof e->hits[0]);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->window_us = lim->window_us;
    e->cap = lim->limit;
    snprintf(e->key, sizeof e->key, "%s", key);
    struct entry **b = &s->buckets[h & (s->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    lru_push_front(s, e);
    s->count++;
    return e;
}

void gw_rl_mem_hit(struct gw_rl_mem *m, const char *key, const struct gw_rl_limit *lim,
                   int64_t now_us, bool force, struct gw_rl_result *out)
{
    uint64_t h = key_hash(m, key);
    struct stripe *s = &m->stripes[(h >> 32) % GW_RL_STRIPES];
    memset(out, 0, sizeof *out);
    out->limit = lim->limit;

    pthread_mutex_lock(&s->lock);
    /* Reclaim one idle key per hit: memory follows the active clients. */
    if (s->lru_tail && expired(s->lru_tail, now_us) && strcmp(s->lru_tail->key, key) != 0)
        remove_entry(s, s->lru_tail);

    struct entry *e = find(s, key, h);
    if (e != NULL && (e->cap != lim->limit || e->window_us != lim->window_us)) {
        remove_entry(s, e); /* the limit was reconfigured: start afresh */
        e = NULL;
    }
    if (e == NULL)
        e = create(s, key, h, lim, now_us);
    if (e == NULL) {
        /* Out of memory for a few dozen bytes: refuse for a second rather
         * than fail open on the routes that guard passwords. */
        pthread_mutex_unlock(&s->lock);
        out->allowed = false;
        out->remaining = 0;
        out->retry_us = 1000000;
        out->reset_us = now_us + out->retry_us;
        return;
    }
    prune(e, now_us);
    if (e->n < e->cap || force) {
        if (e->n == e->cap) { /* forced over the limit: the oldest hit gives way */
            e->head = (e->head + 1) % e->cap;
            e->n--;
        }
        e->hits[(e->head + e->n) % e->cap] = now_us;
        e->n++;
        out->allowed = true;
    }
    out->remaining = e->cap - e->n;
    out->reset_us = e->hits[e->head] + e->window_us;
    if (!out->allowed)
        out->retry_us = out->reset_us - now_us;
    lru_unlink(s, e);
    lru_push_front(s, e);
    pthread_mutex_unlock(&s->lock);
}

size_t gw_rl_mem_size(struct gw_rl_mem *m)
{
    size_t n = 0;
    for (int i = 0; i < GW_RL_STRIPES; i++) {
        pthread_mutex_lock(&m->stripes[i].lock);
        n += m->stripes[i].count;
        pthread_mutex_unlock(&m->stripes[i].lock);
    }
    return n;
}
