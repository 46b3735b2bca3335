/*
 * test_store.c — td-diary's SQL against a fresh database in a temp
 * directory per test: ownership, ordering, paging, stats, dedupe on the call
 * id, the pending-analysis bookkeeping and its version check.
 */
#include "diary_test_util.h"
#include "services/diary/store.h"
#include "td_log.h"
#include "../td_assert.h"
#include "../td_sqlite_query.h"

#include <pthread.h>
#include <stdio.h>

static char dir[64];
static struct diary_store *store;

static void setup(void)
{
    td_log_threshold = TD_LOG_WARN;
    tu_tmpdir(dir, sizeof dir);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 2, &store));
}

static void teardown(void)
{
    diary_store_close(&store);
    cr_assert_null(store);
    tu_rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static struct diary_write plain(const char *text, int64_t now, int64_t pos, int64_t neg)
{
    return (struct diary_write){.content = text, .content_len = strlen(text), .analyzed = text,
                                .analyzed_len = strlen(text), .positive_count = pos,
                                .negative_count = neg, .now_us = now};
}

static int64_t create(int64_t uid, const char *text, int64_t now, int64_t pos, int64_t neg)
{
    struct diary_write w = plain(text, now, pos, neg);
    struct diary_entry e;
    bool dup;
    TD_ASSERT_OK(diary_store_create(store, 0, uid, NULL, &w, &e, &dup));
    int64_t id = e.id;
    diary_entry_clear(&e);
    return id;
}

Test(store, create_then_get_returns_every_field)
{
    struct diary_write w = plain("hello", 1700000000000000, 2, 1);
    w.analyzed = "<span class=\"positive\">hello</span>";
    w.analyzed_len = strlen(w.analyzed);
    struct diary_entry e;
    bool dup = true;
    TD_ASSERT_OK(diary_store_create(store, 0, 7, "cid-1", &w, &e, &dup));
    cr_assert_not(dup);
    cr_assert_gt(e.id, 0);
    cr_assert_eq(e.user_id, 7);
    cr_assert_str_eq(e.content, "hello");
    cr_assert_str_eq(e.analyzed, w.analyzed);
    cr_assert_eq(e.positive_count, 2);
    cr_assert_eq(e.negative_count, 1);
    cr_assert_eq(e.created_at, 1700000000000000);
    cr_assert_eq(e.updated_at, 1700000000000000);
    cr_assert_eq(e.version, 1);
    cr_assert_not(e.pending);
    int64_t id = e.id;
    diary_entry_clear(&e);

    TD_ASSERT_OK(diary_store_get(store, 1, 7, id, &e), "another connection sees it");
    cr_assert_str_eq(e.content, "hello");
    diary_entry_clear(&e);
}

Test(store, content_with_multibyte_characters_round_trips)
{
    const char *text = "Caf\xc3\xa9 \xf0\x9f\x98\x8a \xe6\x97\xa5\xe8\xa8\x98";
    int64_t id = create(1, text, 1, 0, 0);
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_get(store, 0, 1, id, &e));
    cr_assert_eq(e.content_len, strlen(text));
    cr_assert_str_eq(e.content, text);
    diary_entry_clear(&e);
}

Test(store, get_tells_missing_from_forbidden)
{
    int64_t id = create(1, "mine", 1, 0, 0);
    struct diary_entry e;
    cr_assert_eq(diary_store_get(store, 0, 2, id, &e), TD_EFORBIDDEN);
    cr_assert_eq(diary_store_get(store, 0, 1, id + 100, &e), TD_EDIARYNOTFOUND);
}

Test(store, same_call_id_creates_once)
{
    struct diary_write w = plain("once", 5, 0, 0);
    struct diary_entry a, b;
    bool dup_a, dup_b;
    TD_ASSERT_OK(diary_store_create(store, 0, 3, "call-x", &w, &a, &dup_a));
    w.now_us = 6;
    TD_ASSERT_OK(diary_store_create(store, 1, 3, "call-x", &w, &b, &dup_b));
    cr_assert_not(dup_a);
    cr_assert(dup_b);
    cr_assert_eq(a.id, b.id);
    cr_assert_eq(b.created_at, 5, "the first entry comes back as it was");
    diary_entry_clear(&a);
    diary_entry_clear(&b);
    /* An empty call id never dedupes. */
    create(3, "once", 7, 0, 0);
    create(3, "once", 8, 0, 0);
    struct diary_entry *items;
    size_t n;
    int64_t total;
    TD_ASSERT_OK(diary_store_find(store, 0, 3, NULL, 10, 0, &items, &n, &total));
    cr_assert_eq(total, 3);
    diary_entries_free(&items, n);
}

Test(store, update_moves_updated_at_and_bumps_version)
{
    int64_t id = create(1, "before", 100, 0, 0);
    struct diary_write w = plain("after", 50, 1, 0); /* a clock that went backwards */
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_update(store, 0, 1, id, &w, &e));
    cr_assert_str_eq(e.content, "after");
    cr_assert_eq(e.created_at, 100);
    cr_assert_gt(e.updated_at, 100, "updated_at never goes backwards");
    cr_assert_eq(e.version, 2);
    cr_assert_eq(e.positive_count, 1);
    diary_entry_clear(&e);
    cr_assert_eq(diary_store_update(store, 0, 2, id, &w, &e), TD_EFORBIDDEN);
    cr_assert_eq(diary_store_update(store, 0, 1, id + 1, &w, &e), TD_EDIARYNOTFOUND);
}

Test(store, delete_checks_the_owner)
{
    int64_t id = create(1, "bye", 1, 0, 0);
    cr_assert_eq(diary_store_delete(store, 0, 2, id), TD_EFORBIDDEN);
    TD_ASSERT_OK(diary_store_delete(store, 0, 1, id));
    cr_assert_eq(diary_store_delete(store, 0, 1, id), TD_EDIARYNOTFOUND);
}

Test(store, delete_user_removes_only_that_user_and_is_idempotent)
{
    create(1, "a", 1, 0, 0);
    create(1, "b", 2, 0, 0);
    int64_t other = create(2, "c", 3, 0, 0);
    int64_t n = -1;
    TD_ASSERT_OK(diary_store_delete_user(store, 0, 1, &n));
    cr_assert_eq(n, 2);
    TD_ASSERT_OK(diary_store_delete_user(store, 0, 1, &n));
    cr_assert_eq(n, 0);
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_get(store, 0, 2, other, &e));
    diary_entry_clear(&e);
}

Test(store, nothing_is_created_for_a_deleted_account)
{
    int64_t n = -1;
    TD_ASSERT_OK(diary_store_delete_user(store, 0, 7, &n));
    struct diary_write w = plain("late write from an old token", 5, 0, 0);
    struct diary_entry e;
    bool dup;
    cr_assert_eq(diary_store_create(store, 0, 7, NULL, &w, &e, &dup), TD_EUSERNOTFOUND);
    create(8, "another account is unaffected", 6, 0, 0);
}

Test(store, list_is_newest_first_with_id_breaking_ties)
{
    int64_t a = create(1, "a", 10, 0, 0);
    int64_t b = create(1, "b", 30, 0, 0);
    int64_t c = create(1, "c", 20, 0, 0);
    int64_t d = create(1, "d", 30, 0, 0); /* same time as b, larger id */
    create(2, "other user", 40, 0, 0);
    struct diary_entry *items;
    size_t n;
    int64_t total;
    TD_ASSERT_OK(diary_store_find(store, 0, 1, NULL, 10, 0, &items, &n, &total));
    cr_assert_eq(total, 4);
    cr_assert_eq(n, 4);
    int64_t want[] = {d, b, c, a};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(items[i].id, want[i], "position %zu", i);
    diary_entries_free(&items, n);
    cr_assert_null(items);

    TD_ASSERT_OK(diary_store_find(store, 0, 1, NULL, 3, 3, &items, &n, &total));
    cr_assert_eq(n, 1);
    cr_assert_eq(items[0].id, a);
    diary_entries_free(&items, n);

    TD_ASSERT_OK(diary_store_find(store, 0, 1, NULL, 3, 100, &items, &n, &total));
    cr_assert_eq(n, 0, "a page past the end is empty");
    cr_assert_eq(total, 4, "with the true total");
    diary_entries_free(&items, n);

    TD_ASSERT_OK(diary_store_find(store, 0, 1, NULL, 3, INT64_MAX, &items, &n, &total));
    cr_assert_eq(n, 0);
    diary_entries_free(&items, n);
}

Test(store, stats_are_computed_over_the_users_entries)
{
    create(1, "p", 1, 3, 1);  /* positive */
    create(1, "p", 2, 1, 0);  /* positive */
    create(1, "n", 3, 0, 2);  /* negative */
    create(1, "z", 4, 1, 1);  /* neutral */
    create(1, "z", 5, 0, 0);  /* neutral */
    create(2, "x", 6, 9, 0);  /* someone else's */
    struct diary_stats s;
    TD_ASSERT_OK(diary_store_stats(store, 0, 1, &s));
    cr_assert_eq(s.total_entries, 5);
    cr_assert_eq(s.positive_entries, 2);
    cr_assert_eq(s.negative_entries, 1);
    cr_assert_eq(s.neutral_entries, 2);
    cr_assert_eq(s.positive_count_total, 5);
    cr_assert_eq(s.negative_count_total, 4);
    TD_ASSERT_OK(diary_store_stats(store, 0, 99, &s));
    cr_assert_eq(s.total_entries, 0);
    cr_assert_eq(s.positive_count_total, 0);
}

static int64_t create_pending(int64_t uid, const char *text, int64_t now)
{
    struct diary_write w = plain(text, now, 0, 0);
    w.pending = true;
    struct diary_entry e;
    bool dup;
    TD_ASSERT_OK(diary_store_create(store, 0, uid, NULL, &w, &e, &dup));
    cr_assert(e.pending);
    int64_t id = e.id;
    diary_entry_clear(&e);
    return id;
}

Test(store, pending_entries_come_oldest_first_and_respect_their_schedule)
{
    int64_t a = create_pending(1, "a", 1);
    create(1, "analysed", 2, 0, 0);
    int64_t b = create_pending(2, "b", 3);
    struct diary_pending_item *items;
    size_t n;
    TD_ASSERT_OK(diary_store_pending(store, 0, 1000, 16, 0, &items, &n));
    cr_assert_eq(n, 2);
    cr_assert_eq(items[0].id, a);
    cr_assert_eq(items[1].id, b);
    cr_assert_str_eq(items[1].content, "b");
    cr_assert_eq(items[0].attempts, 0);
    diary_pending_free(&items, n);

    TD_ASSERT_OK(diary_store_defer(store, 0, a, 1, 5000));
    TD_ASSERT_OK(diary_store_pending(store, 0, 1000, 16, 0, &items, &n));
    cr_assert_eq(n, 1, "a deferred entry waits for its time");
    cr_assert_eq(items[0].id, b);
    diary_pending_free(&items, n);
    TD_ASSERT_OK(diary_store_pending(store, 0, 5000, 1, 0, &items, &n));
    cr_assert_eq(n, 1, "the batch limit holds");
    cr_assert_eq(items[0].id, a);
    cr_assert_eq(items[0].attempts, 1);
    diary_pending_free(&items, n);

    int64_t count = -1;
    TD_ASSERT_OK(diary_store_pending_count(store, 0, &count));
    cr_assert_eq(count, 2);
}

Test(store, analysis_applies_only_to_the_version_it_was_made_for)
{
    int64_t id = create_pending(1, "old text", 1);
    /* The user edits before the analysis of "old text" lands. */
    struct diary_write w = plain("new text", 2, 0, 0);
    w.pending = true;
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_update(store, 0, 1, id, &w, &e));
    cr_assert_eq(e.version, 2);
    int64_t updated_at = e.updated_at;
    diary_entry_clear(&e);

    bool applied = true;
    TD_ASSERT_OK(diary_store_apply_analysis(store, 0, id, 1, "stale", 5, 1, 0, &applied));
    cr_assert_not(applied, "a stale analysis is dropped");
    TD_ASSERT_OK(diary_store_apply_analysis(store, 0, id, 2, "fresh", 5, 0, 1, &applied));
    cr_assert(applied);
    TD_ASSERT_OK(diary_store_get(store, 0, 1, id, &e));
    cr_assert_str_eq(e.analyzed, "fresh");
    cr_assert_eq(e.negative_count, 1);
    cr_assert_not(e.pending);
    cr_assert_eq(e.updated_at, updated_at, "analysis is not an edit");
    diary_entry_clear(&e);
    TD_ASSERT_OK(diary_store_apply_analysis(store, 0, id, 2, "again", 5, 0, 0, &applied));
    cr_assert_not(applied, "an entry no longer pending is left alone");
}

Test(store, reopening_keeps_data_and_schema)
{
    int64_t id = create(4, "persist", 1, 0, 0);
    diary_store_close(&store);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &store));
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_get(store, 0, 4, id, &e));
    cr_assert_str_eq(e.content, "persist");
    diary_entry_clear(&e);
}

/* Group commit: eight threads write at once, each on its own connection, and
 * mix writes that succeed with writes that must fail (another user's entry,
 * a repeated call id). Every answer is the one a lone writer would get, and
 * what the database holds afterwards is exactly what was acknowledged. */
#define GC_THREADS 8
#define GC_ROUNDS 40

struct gc_worker {
    pthread_t th;
    unsigned conn;
    int64_t uid;
    int64_t kept;     /* entries this thread created and did not delete */
    int failures;     /* answers that were not what they should be */
};

static struct diary_store *gc_store;

static void *gc_run(void *arg)
{
    struct gc_worker *g = arg;
    for (int k = 0; k < GC_ROUNDS; k++) {
        char text[64], cid[64];
        snprintf(text, sizeof text, "thread %u entry %d", g->conn, k);
        snprintf(cid, sizeof cid, "c-%u-%d", g->conn, k);
        struct diary_write w = plain(text, 1700000000000000 + k, 1, 0);
        struct diary_entry e, again;
        bool dup = true, dup2 = false;
        if (diary_store_create(gc_store, g->conn, g->uid, cid, &w, &e, &dup) != 0 || dup) {
            g->failures++;
            continue;
        }
        /* the same call again: the same entry, nothing new */
        if (diary_store_create(gc_store, g->conn, g->uid, cid, &w, &again, &dup2) != 0 || !dup2 ||
            again.id != e.id)
            g->failures++;
        else
            diary_entry_clear(&again);
        /* another user's entry: refused, and nothing changes */
        struct diary_entry theirs;
        if (diary_store_update(gc_store, g->conn, g->uid + 1000, e.id, &w, &theirs) !=
                TD_EFORBIDDEN ||
            diary_store_delete(gc_store, g->conn, g->uid + 1000, e.id) != TD_EFORBIDDEN)
            g->failures++;
        struct diary_write w2 = plain("edited", 1700000000000000 + k, 0, 2);
        struct diary_entry upd;
        if (diary_store_update(gc_store, g->conn, g->uid, e.id, &w2, &upd) != 0 ||
            strcmp(upd.content, "edited") != 0 || upd.version != 2)
            g->failures++;
        else
            diary_entry_clear(&upd);
        if (k % 4 == 0) {
            if (diary_store_delete(gc_store, g->conn, g->uid, e.id) != 0)
                g->failures++;
        } else {
            g->kept++;
        }
        diary_entry_clear(&e);
    }
    return NULL;
}

Test(store, concurrent_writers_are_committed_in_groups_and_answered_alone)
{
    char gdir[64];
    tu_tmpdir(gdir, sizeof gdir);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = gdir}, GC_THREADS, &gc_store));
    struct gc_worker g[GC_THREADS];
    memset(g, 0, sizeof g);
    for (unsigned i = 0; i < GC_THREADS; i++) {
        g[i].conn = i;
        g[i].uid = 1 + i % 3; /* threads share users, so groups mix their writes */
        cr_assert_eq(pthread_create(&g[i].th, NULL, gc_run, &g[i]), 0);
    }
    int64_t want[4] = {0};
    for (unsigned i = 0; i < GC_THREADS; i++) {
        pthread_join(g[i].th, NULL);
        cr_expect_eq(g[i].failures, 0, "thread %u got %d wrong answers", i, g[i].failures);
        want[g[i].uid] += g[i].kept;
    }
    for (int64_t uid = 1; uid <= 3; uid++) {
        struct diary_stats st;
        TD_ASSERT_OK(diary_store_stats(gc_store, 0, uid, &st));
        cr_expect_eq(st.total_entries, want[uid], "user %lld", (long long)uid);
        cr_expect_eq(st.negative_entries, want[uid], "every kept entry was edited to negative");
    }
    int64_t writes = 0, transactions = 0;
    diary_store_commit_counts(gc_store, &writes, &transactions);
    /* per round: 2 creates, a refused and a real update, a refused delete,
     * and a delete every fourth round */
    cr_expect_eq(writes, (int64_t)GC_THREADS * (GC_ROUNDS * 5 + GC_ROUNDS / 4));
    cr_expect_lt(transactions, writes, "no two writes ever shared a commit (%lld of %lld)",
                 (long long)transactions, (long long)writes);
    diary_store_close(&gc_store);

    /* The search index holds exactly the acknowledged text (what a
     * refused write or an edit took out is gone from it), and FTS5 finds
     * itself sound after the groups' savepoints. */
    char path[128];
    snprintf(path, sizeof path, "%s/diary.db", gdir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_expect_eq(query_int(db, "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH"
                               " 'content:edited'"),
                 want[1] + want[2] + want[3]);
    cr_expect_eq(query_int(db, "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH"
                               " 'content:thread'"),
                 0, "the text before each edit is still in the index");
    cr_expect_eq(query_int(db, "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH"
                               " 'tags:u2 AND tags:tneg'"),
                 want[2]);
    cr_expect_eq(sqlite3_exec(db, "INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    tu_rmdir(gdir);
}

/* The stats row that triggers keep equals the aggregate over the entries
 * themselves after every kind of change: create, edit (class changes), late
 * analysis, delete, seed with --clear, account deletion. */
static void expect_stats_match_entries(const char *db_path, int64_t uid, const char *when)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT COUNT(*), COALESCE(SUM(positive_count > negative_count), 0),"
                                    " COALESCE(SUM(positive_count < negative_count), 0),"
                                    " COALESCE(SUM(positive_count = negative_count), 0),"
                                    " COALESCE(SUM(positive_count), 0), COALESCE(SUM(negative_count), 0)"
                                    " FROM entries WHERE user_id = ?1",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(st, 1, uid);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    struct diary_stats s;
    TD_ASSERT_OK(diary_store_stats(store, 0, uid, &s));
    int64_t got[6] = {s.total_entries, s.positive_entries, s.negative_entries,
                      s.neutral_entries, s.positive_count_total, s.negative_count_total};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(got[i], sqlite3_column_int64(st, i), "%s: user %lld, figure %d", when,
                     (long long)uid, i);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store, stats_follow_every_kind_of_change)
{
    char path[128];
    snprintf(path, sizeof path, "%s/diary.db", dir);
    int64_t a = create(1, "a", 1, 3, 1), b = create(1, "b", 2, 0, 2);
    create(2, "c", 3, 1, 1);
    expect_stats_match_entries(path, 1, "created");
    struct diary_write w = plain("b now positive", 4, 5, 0);
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_update(store, 0, 1, b, &w, &e));
    diary_entry_clear(&e);
    w = plain("a now neutral", 5, 2, 2);
    TD_ASSERT_OK(diary_store_update(store, 0, 1, a, &w, &e));
    diary_entry_clear(&e);
    expect_stats_match_entries(path, 1, "edited");
    int64_t p = create_pending(1, "later", 6);
    bool applied = false;
    TD_ASSERT_OK(diary_store_apply_analysis(store, 0, p, 1, "later", 5, 0, 4, &applied));
    cr_assert(applied);
    expect_stats_match_entries(path, 1, "analysed late");
    TD_ASSERT_OK(diary_store_delete(store, 0, 1, a));
    expect_stats_match_entries(path, 1, "deleted");
    struct diary_seed_entry seed[] = {{.user_id = 3, .content = "s", .content_len = 1,
                                       .analyzed = "s", .analyzed_len = 1, .created_at = 7}};
    int64_t cleared, inserted;
    TD_ASSERT_OK(diary_store_seed(store, 0, seed, 1, false, &cleared, &inserted));
    expect_stats_match_entries(path, 3, "seeded");
    TD_ASSERT_OK(diary_store_seed(store, 0, seed, 0, true, &cleared, &inserted));
    cr_assert_eq(cleared, 1);
    expect_stats_match_entries(path, 3, "seed cleared");
    int64_t gone = 0;
    TD_ASSERT_OK(diary_store_delete_user(store, 0, 1, &gone));
    expect_stats_match_entries(path, 1, "account deleted");
    expect_stats_match_entries(path, 2, "someone else's, untouched");
}
