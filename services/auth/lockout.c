/*
 * lockout.c — the bounded failure table of lockout.h.
 */
#include "lockout.h"

#include <string.h>

void auth_lockout_init(struct auth_lockout *l)
{
    memset(l->slots, 0, sizeof l->slots);
    pthread_mutex_init(&l->lock, NULL);
}

void auth_lockout_destroy(struct auth_lockout *l)
{
    pthread_mutex_destroy(&l->lock);
}

static unsigned slot_of(int64_t uid)
{
    /* Ids are sequential: a multiplicative hash spreads neighbours. */
    return (unsigned)(((uint64_t)uid * 0x9E3779B97F4A7C15ull) >> 52) % AUTH_LOCKOUT_SLOTS;
}

bool auth_lockout_blocked(struct auth_lockout *l, int64_t uid, int64_t now_s)
{
    unsigned i = slot_of(uid);
    pthread_mutex_lock(&l->lock);
    bool blocked = l->slots[i].uid == uid && l->slots[i].locked_until > now_s;
    pthread_mutex_unlock(&l->lock);
    return blocked;
}

void auth_lockout_failed(struct auth_lockout *l, int64_t uid, int64_t now_s)
{
    unsigned i = slot_of(uid);
    pthread_mutex_lock(&l->lock);
    if (l->slots[i].uid != uid || now_s - l->slots[i].window_start >= AUTH_LOCKOUT_WINDOW_S) {
        l->slots[i].uid = uid;
        l->slots[i].window_start = now_s;
        l->slots[i].failures = 0;
        l->slots[i].locked_until = 0;
    }
    if (++l->slots[i].failures >= AUTH_LOCKOUT_FAILURES)
        l->slots[i].locked_until = now_s + AUTH_LOCKOUT_S;
    pthread_mutex_unlock(&l->lock);
}

void auth_lockout_succeeded(struct auth_lockout *l, int64_t uid)
{
    unsigned i = slot_of(uid);
    pthread_mutex_lock(&l->lock);
    if (l->slots[i].uid == uid)
        memset(&l->slots[i], 0, sizeof l->slots[i]);
    pthread_mutex_unlock(&l->lock);
}
