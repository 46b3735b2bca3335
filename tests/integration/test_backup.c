/*
 * test_backup.c — the online backup of docs/operations.md, taken with the
 * sqlite3 tool while writes run: the copy passes PRAGMA integrity_check and
 * holds every entry acknowledged before the backup began; restored in place
 * of td-diary's database, the daemon serves those entries again.
 */
#include "harness.h"
#include "suite.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tests here kill or stop a daemon while others still send to it. */
TH_STACK_SUITE(backup, 120, .peers_die = true);

#define MAX_IDS 50000

struct writers {
    char auth[2100];
    atomic_bool stop;
    pthread_mutex_t lock;
    int64_t ids[MAX_IDS];
    int n;
};

static void *writer(void *arg)
{
    struct writers *w = arg;
    const char *h[] = {w->auth, "Content-Type: application/json", NULL};
    for (int i = 0; !atomic_load(&w->stop); i++) {
        struct th_response r;
        if (th_http(&stack, "POST", "/diaries", h, "{\"content\": \"Backed up, I hope.\"}", &r) !=
            0)
            continue;
        if (r.status == 201) {
            pthread_mutex_lock(&w->lock);
            if (w->n < MAX_IDS)
                w->ids[w->n++] = json_integer_value(json_object_get(r.json, "id"));
            pthread_mutex_unlock(&w->lock);
        }
        th_response_free(&r);
    }
    return NULL;
}

static bool backup_has(sqlite3 *db, int64_t id)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM entries WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, id) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* At least `at_least` of the writers' creates have been acknowledged. */
struct acked_probe {
    struct writers *w;
    int at_least;
};

static bool acked(void *arg)
{
    struct acked_probe *p = arg;
    pthread_mutex_lock(&p->w->lock);
    int n = p->w->n;
    pthread_mutex_unlock(&p->w->lock);
    return n >= p->at_least;
}

Test(backup, online_backup_under_writes_is_consistent_and_restores)
{
    struct writers *w = calloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    char *token = th_token_access(5, 600);
    cr_assert_not_null(th_bearer_header(token, w->auth, sizeof w->auth));
    free(token);
    enum { WRITERS = 3 };
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, writer, w), 0);
    /* Writes are under way (acknowledged ones), not merely started. */
    struct acked_probe before = {w, 20};
    cr_assert(th_wait_until(acked, &before, TH_WAIT_MS), "the writers got no create through");

    /* Everything acknowledged up to here must be in the backup. */
    pthread_mutex_lock(&w->lock);
    int acked_before = w->n;
    pthread_mutex_unlock(&w->lock);
    char db[600], copy[600], cmd[3000];
    snprintf(db, sizeof db, "%s/data-td-diary/diary.db", stack.dir);
    snprintf(copy, sizeof copy, "%s/diary-backup.db", stack.dir);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"VACUUM INTO '%s'\"", db, copy);
    cr_assert_eq(system(cmd), 0, "backup command failed: %s", cmd);
    /* Writes go on after the backup. */
    pthread_mutex_lock(&w->lock);
    struct acked_probe after = {w, w->n + 10};
    pthread_mutex_unlock(&w->lock);
    cr_assert(th_wait_until(acked, &after, TH_WAIT_MS), "writes stopped after the backup");
    atomic_store(&w->stop, true);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "backup: %d entries acknowledged before the backup, %d in all\n",
            acked_before, w->n);
    cr_assert_gt(acked_before, 0);

    sqlite3 *b = NULL;
    cr_assert_eq(sqlite3_open_v2(copy, &b, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(b, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    for (int i = 0; i < acked_before; i++)
        cr_assert(backup_has(b, w->ids[i]), "entry %lld acknowledged before the backup is missing",
                  (long long)w->ids[i]);
    sqlite3_close(b);

    /* Restore: stop td-diary, put the copy in place, start it again. */
    int status = th_daemon_signal(&stack, TH_DIARY, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", copy, db, db, db);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 15000), 0);
    const char *h[] = {w->auth, NULL};
    for (int i = 0; i < acked_before; i += acked_before / 20 + 1) {
        char path[64];
        snprintf(path, sizeof path, "/diaries/%lld", (long long)w->ids[i]);
        struct th_response r;
        cr_assert_eq(th_http(&stack, "GET", path, h, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "restored entry %lld: %ld %s", (long long)w->ids[i], r.status,
                     r.body);
        th_response_free(&r);
    }
    free(w);
}
