/*
 * token_cache.c — the verified-token table of token_cache.h.
 *
 * A set-associative table: the first bytes of a token's keyed hash pick one
 * of a power-of-two number of sets, and the full 32-byte hash is compared
 * within the set's GW_TOKEN_CACHE_WAYS entries. Each set has its own mutex,
 * held only to copy one small struct in or out, so lock hold times are tiny
 * and workers on different tokens almost never share a lock. The hash key
 * is random per table, so which set a token lands in cannot be predicted
 * from outside and one client cannot flush another's entries on purpose.
 */
#include "token_cache.h"
#include "td_error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS ((size_t)1 << 24)

struct slot {
    bool used;
    uint32_t stamp; /* the set's clock at the last put or hit: LRU order */
    unsigned char hash[GW_TOKEN_CACHE_HASH];
    struct gw_token tok;
};

struct set {
    pthread_mutex_t lock;
    uint32_t clock;        /* wraps; ages are compared as clock - stamp */
    uint64_t hits, misses; /* per set, so no shared counter line bounces between cores */
    struct slot slots[GW_TOKEN_CACHE_WAYS];
};

struct gw_token_cache {
    unsigned char key[crypto_generichash_KEYBYTES];
    size_t nsets; /* a power of two */
    struct set *sets;
};

int gw_token_cache_new(size_t slots, struct gw_token_cache **out)
{
    size_t nsets = 1;
    while (nsets * GW_TOKEN_CACHE_WAYS < slots && nsets < MAX_SETS)
        nsets <<= 1;
    struct gw_token_cache *c = calloc(1, sizeof *c);
    if (c == NULL || (c->sets = calloc(nsets, sizeof *c->sets)) == NULL) {
        free(c);
        return TD_ENOMEM;
    }
    for (size_t i = 0; i < nsets; i++) {
        if (pthread_mutex_init(&c->sets[i].lock, NULL) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&c->sets[i].lock);
            free(c->sets);
            free(c);
            return TD_EINTERNAL;
        }
    }
    c->nsets = nsets;
    randombytes_buf(c->key, sizeof c->key);
    *out = c;
    return 0;
}

void gw_token_cache_free(struct gw_token_cache **pc)
{
    struct gw_token_cache *c = *pc;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nsets; i++)
        pthread_mutex_destroy(&c->sets[i].lock);
    sodium_memzero(c->sets, c->nsets * sizeof *c->sets);
    free(c->sets);
    sodium_memzero(c, sizeof *c);
    free(c);
    *pc = NULL;
}

void gw_token_cache_key(const struct gw_token_cache *c, const char *token, size_t len,
                        struct gw_token_key *key)
{
    crypto_generichash(key->h, sizeof key->h, (const unsigned char *)token, len, c->key,
                       sizeof c->key);
}

static struct set *set_of(struct gw_token_cache *c, const struct gw_token_key *key)
{
    uint64_t x;
    memcpy(&x, key->h, sizeof x);
    return &c->sets[x & (c->nsets - 1)];
}

/* The slot holding `key` in `s`, or NULL. Called with s->lock held. */
static struct slot *find(struct set *s, const struct gw_token_key *key)
{
    for (int i = 0; i < GW_TOKEN_CACHE_WAYS; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->used && sodium_memcmp(sl->hash, key->h, sizeof sl->hash) == 0)
            return sl;
    }
    return NULL;
}

bool gw_token_cache_get(struct gw_token_cache *c, const struct gw_token_key *key,
                        struct gw_token *out)
{
    struct set *s = set_of(c, key);
    pthread_mutex_lock(&s->lock);
    struct slot *sl = find(s, key);
    if (sl != NULL) {
        sl->stamp = ++s->clock;
        *out = sl->tok;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return sl != NULL;
}

void gw_token_cache_put(struct gw_token_cache *c, const struct gw_token_key *key,
                        const struct gw_token *t)
{
    struct set *s = set_of(c, key);
    pthread_mutex_lock(&s->lock);
    /* Two workers that missed on the same token both put it: the second
     * finds the first's entry and overwrites it instead of taking a second
     * way. */
    struct slot *victim = find(s, key);
    for (int i = 0; victim == NULL && i < GW_TOKEN_CACHE_WAYS; i++) {
        if (!s->slots[i].used)
            victim = &s->slots[i];
    }
    if (victim == NULL) {
        victim = &s->slots[0];
        for (int i = 1; i < GW_TOKEN_CACHE_WAYS; i++) {
            if (s->clock - s->slots[i].stamp > s->clock - victim->stamp)
                victim = &s->slots[i];
        }
    }
    memcpy(victim->hash, key->h, sizeof victim->hash);
    victim->tok = *t;
    victim->used = true;
    victim->stamp = ++s->clock;
    pthread_mutex_unlock(&s->lock);
}

void gw_token_cache_drop(struct gw_token_cache *c, const struct gw_token_key *key)
{
    struct set *s = set_of(c, key);
    pthread_mutex_lock(&s->lock);
    struct slot *sl = find(s, key);
    if (sl != NULL)
        sodium_memzero(sl, sizeof *sl);
    pthread_mutex_unlock(&s->lock);
}

void gw_token_cache_stats(struct gw_token_cache *c, uint64_t *hits, uint64_t *misses)
{
    uint64_t h = 0, m = 0;
    for (size_t i = 0; i < c->nsets; i++) {
        pthread_mutex_lock(&c->sets[i].lock);
        h += c->sets[i].hits;
        m += c->sets[i].misses;
        pthread_mutex_unlock(&c->sets[i].lock);
    }
    if (hits != NULL)
        *hits = h;
    if (misses != NULL)
        *misses = m;
}
