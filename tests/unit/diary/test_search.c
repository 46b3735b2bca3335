/*
 * test_search.c — td-diary's search index (store.c, migrations 6 and 8)
 * against a fresh database per test: pages newest first with ties broken
 * by id, totals, from/to and tone inside the index, the overflow band of
 * search keys merged in, export's keyset pages, the index in step with
 * every kind of write, and migration 8 over entries that already exist.
 */
#include "diary_test_util.h"
#include "../td_assert.h"
#include "services/diary/filter.h"
#include "services/diary/store.h"
#include "td_log.h"

#include <sqlite3.h>

static char dir[64];
static struct diary_store *store;

static void setup(void)
{
    td_log_threshold = TD_LOG_WARN;
    tu_tmpdir(dir, sizeof dir);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &store));
}

static void teardown(void)
{
    diary_store_close(&store);
    tu_rmdir(dir);
}

TestSuite(search, .init = setup, .fini = teardown, .timeout = 60);

/* 2112-09: past the last instant a search key can hold (store.c,
 * SEARCH_KEY), so such an entry is in the overflow band. */
#define FAR_FUTURE ((INT64_C(1) << 52) + 5)

static int64_t create(int64_t uid, const char *text, int64_t at, int64_t pos, int64_t neg)
{
    struct diary_write w = {.content = text, .content_len = strlen(text), .analyzed = text,
                            .analyzed_len = strlen(text), .positive_count = pos,
                            .negative_count = neg, .now_us = at};
    struct diary_entry e;
    bool dup;
    TD_ASSERT_OK(diary_store_create(store, 0, uid, NULL, &w, &e, &dup));
    int64_t id = e.id;
    diary_entry_clear(&e);
    return id;
}

struct query {
    const char *q;
    int64_t from, to;
    enum diary_tone tone;
};

static struct diary_filter filter_of(struct query q)
{
    struct diary_filter f = {.from_us = q.from ? q.from : INT64_MIN, .to_us = q.to ? q.to : INT64_MAX, .tone = q.tone};
    const char *why = NULL;
    if (q.q != NULL)
        TD_ASSERT_OK(diary_fts_query_new(q.q, strlen(q.q), &f.match, &why), "q %s", q.q);
    return f;
}

/* The ids of one page, newest first; returns the total. */
static int64_t find(int64_t uid, struct query q, int64_t limit, int64_t offset, int64_t *ids,
                    size_t *n)
{
    struct diary_filter f = filter_of(q);
    struct diary_entry *items = NULL;
    int64_t total = -1;
    TD_ASSERT_OK(diary_store_find(store, 0, uid, &f, limit, offset, &items, n, &total));
    for (size_t i = 0; i < *n; i++) {
        cr_assert_eq(items[i].user_id, uid);
        ids[i] = items[i].id;
    }
    diary_entries_free(&items, *n);
    diary_filter_clear(&f);
    return total;
}

/* Every id the search finds, by pages of `per`, newest first; checks that
 * each page's total agrees. Returns how many. */
static size_t find_all(int64_t uid, struct query q, int64_t per, int64_t *ids, size_t cap)
{
    size_t got = 0, n = 0;
    int64_t total = -1;
    do {
        cr_assert_leq(got + (size_t)per, cap + (size_t)per);
        int64_t t = find(uid, q, per, (int64_t)got, ids + got, &n);
        cr_assert(total < 0 || t == total, "total %lld then %lld", (long long)total,
                  (long long)t);
        total = t;
        got += n;
    } while (n > 0 && got < cap);
    cr_assert_eq((int64_t)got, total);
    return got;
}

/* Export's pages, oldest first, `per` at a time. Returns how many. */
static size_t export_all(int64_t uid, struct query q, int64_t per, int64_t *ids, size_t cap)
{
    struct diary_filter f = filter_of(q);
    int64_t after_at = INT64_MIN, after_id = 0;
    size_t got = 0, n = 0;
    do {
        struct diary_entry *items = NULL;
        TD_ASSERT_OK(diary_store_export_page(store, 0, uid, &f, after_at, after_id, per, &items,
                                             &n));
        for (size_t i = 0; i < n && got < cap; i++)
            ids[got++] = items[i].id;
        if (n > 0) {
            after_at = items[n - 1].created_at;
            after_id = items[n - 1].id;
        }
        diary_entries_free(&items, n);
    } while (n > 0);
    diary_filter_clear(&f);
    return got;
}

static void expect_ids(const int64_t *got, size_t n, const int64_t *want, size_t nwant,
                       const char *what)
{
    cr_assert_eq(n, nwant, "%s: %zu entries, want %zu", what, n, nwant);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "%s: [%zu] is %lld, want %lld", what, i,
                     (long long)got[i], (long long)want[i]);
}

Test(search, pages_are_newest_first_ties_by_id_with_the_overflow_band_merged)
{
    int64_t old = create(1, "apple pie", 100, 0, 0);
    int64_t t1 = create(1, "apple one", 500, 0, 0);
    int64_t far = create(1, "apple from the future", FAR_FUTURE, 0, 0);
    int64_t t2 = create(1, "apple two", 500, 0, 0);
    create(2, "apple of someone else", 500, 0, 0);
    int64_t t3 = create(1, "Apples three", 500, 0, 0);
    int64_t newest = create(1, "apple newest", 900, 0, 0);
    create(1, "banana", 950, 0, 0);
    int64_t want[] = {far, newest, t3, t2, t1, old};
    int64_t ids[16];
    size_t n = find_all(1, (struct query){.q = "apple"}, 2, ids, 16);
    expect_ids(ids, n, want, 6, "pages of 2");
    n = find_all(1, (struct query){.q = "APPLE"}, 4, ids, 16);
    expect_ids(ids, n, want, 6, "pages of 4");
    int64_t oldest_first[] = {old, t1, t2, t3, newest, far};
    n = export_all(1, (struct query){.q = "apple"}, 2, ids, 16);
    expect_ids(ids, n, oldest_first, 6, "export by 2");
    n = export_all(1, (struct query){.q = "apple"}, 1, ids, 16);
    expect_ids(ids, n, oldest_first, 6, "export by 1");
    /* from/to bound both bands: [500, 950) and [600, end) */
    int64_t mid[] = {newest, t3, t2, t1};
    n = find_all(1, (struct query){.q = "apple", .from = 500, .to = 950}, 3, ids, 16);
    expect_ids(ids, n, mid, 4, "from 500 to 950");
    int64_t late[] = {far, newest};
    n = find_all(1, (struct query){.q = "apple", .from = 600, .to = 0}, 3, ids, 16);
    expect_ids(ids, n, late, 2, "from 600");
    n = find_all(1, (struct query){.q = "apple", .from = FAR_FUTURE + 1, .to = 0}, 3, ids, 16);
    cr_assert_eq(n, 0);
    n = find_all(1, (struct query){.q = "apple", .from = 0, .to = 500}, 3, ids, 16);
    expect_ids(ids, n, (int64_t[]){old}, 1, "to 500");
}

/* 2048 entries fit one microsecond in the keys; the next ones of that
 * instant go to the overflow band, and the order stays by id. */
Test(search, more_entries_at_one_instant_than_the_keys_hold_keep_their_order)
{
    enum { N = 2060 };
    struct diary_seed_entry *seed = calloc(N, sizeof *seed);
    for (size_t i = 0; i < N; i++)
        seed[i] = (struct diary_seed_entry){.user_id = 1, .content = "same instant",
                                            .content_len = 12, .analyzed = "same instant",
                                            .analyzed_len = 12, .created_at = 1000};
    int64_t cleared = 0, inserted = 0;
    TD_ASSERT_OK(diary_store_seed(store, 0, seed, N, false, &cleared, &inserted));
    free(seed);
    cr_assert_eq(inserted, N);
    int64_t before = create(1, "same but earlier", 999, 0, 0);
    int64_t *ids = calloc(N + 1, sizeof *ids);
    size_t n = find_all(1, (struct query){.q = "same"}, 100, ids, N + 1);
    cr_assert_eq(n, N + 1);
    for (size_t i = 1; i + 1 < n; i++)
        cr_assert_gt(ids[i - 1], ids[i], "newest first, by id: [%zu]", i);
    cr_assert_eq(ids[N], before);
    n = export_all(1, (struct query){.q = "instant"}, 300, ids, N + 1);
    cr_assert_eq(n, N);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(ids[i - 1], ids[i], "oldest first, by id: [%zu]", i);
    free(ids);
}

/* Every write keeps the index in step in its own transaction: create, edit,
 * late analysis (a new tone), delete, seed and its clearing, import,
 * account deletion; another user's words never match. */
Test(search, the_index_follows_every_kind_of_write)
{
    int64_t ids[8];
    size_t n;
    create(2, "walnut walnut", 10, 1, 0);
    int64_t a = create(1, "walnut tree", 20, 0, 0);
    cr_assert_eq(find(1, (struct query){.q = "walnut"}, 10, 0, ids, &n), 1);
    cr_assert_eq(find(1, (struct query){.q = "walnut", .tone = DIARY_TONE_NEUTRAL}, 10, 0, ids, &n),
                 1);
    cr_assert_eq(find(1, (struct query){.q = "walnut", .tone = DIARY_TONE_POSITIVE}, 10, 0, ids, &n),
                 0);

    struct diary_write w = {.content = "chestnut tree", .content_len = 13,
                            .analyzed = "chestnut tree", .analyzed_len = 13, .pending = true,
                            .now_us = 30};
    struct diary_entry e;
    TD_ASSERT_OK(diary_store_update(store, 0, 1, a, &w, &e));
    diary_entry_clear(&e);
    cr_assert_eq(find(1, (struct query){.q = "walnut"}, 10, 0, ids, &n), 0);
    cr_assert_eq(find(1, (struct query){.q = "chest"}, 10, 0, ids, &n), 1);

    bool applied = false;
    TD_ASSERT_OK(diary_store_apply_analysis(store, 0, a, 2, "chestnut tree", 13, 0, 3, &applied));
    cr_assert(applied);
    cr_assert_eq(find(1, (struct query){.q = "chestnut", .tone = DIARY_TONE_NEGATIVE}, 10, 0, ids, &n),
                 1);
    cr_assert_eq(find(1, (struct query){.q = "chestnut", .tone = DIARY_TONE_NEUTRAL}, 10, 0, ids, &n),
                 0);
    TD_ASSERT_OK(diary_store_delete(store, 0, 1, a));
    cr_assert_eq(find(1, (struct query){.q = "chestnut"}, 10, 0, ids, &n), 0);

    struct diary_seed_entry seed[] = {{.user_id = 1, .content = "seeded hazel", .content_len = 12,
                                       .analyzed = "seeded hazel", .analyzed_len = 12,
                                       .created_at = 40}};
    int64_t cleared, inserted;
    TD_ASSERT_OK(diary_store_seed(store, 0, seed, 1, false, &cleared, &inserted));
    cr_assert_eq(find(1, (struct query){.q = "hazel"}, 10, 0, ids, &n), 1);
    TD_ASSERT_OK(diary_store_seed(store, 0, seed, 0, true, &cleared, &inserted));
    cr_assert_eq(find(1, (struct query){.q = "hazel"}, 10, 0, ids, &n), 0);

    struct diary_import_item items[] = {{"imported pecan", 14, "imported pecan", 14, 50},
                                        {"pecan far ahead", 15, "pecan far ahead", 15,
                                         FAR_FUTURE}};
    const char *imp = "0123456789abcdef0123456789abcdef";
    TD_ASSERT_OK(diary_store_import_stage(store, 0, 1, imp, 0, items, 2, 60, 0));
    int64_t imported = 0, skipped = 0;
    TD_ASSERT_OK(diary_store_import_commit(store, 0, 1, imp, 2, 60, &imported, &skipped));
    cr_assert_eq(imported, 2);
    cr_assert_eq(find(1, (struct query){.q = "pecan"}, 10, 0, ids, &n), 2);

    int64_t gone = 0;
    TD_ASSERT_OK(diary_store_delete_user(store, 0, 1, &gone));
    cr_assert_eq(find(1, (struct query){.q = "pecan"}, 10, 0, ids, &n), 0);
    cr_assert_eq(find(2, (struct query){.q = "walnut"}, 10, 0, ids, &n), 1);
    cr_assert_eq(find(2, (struct query){.q = "pecan"}, 10, 0, ids, &n), 0);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql,
                 err ? err : "?");
}

/* Migration 8 gives entries that already exist their keys (ties at one
 * instant in id order) and builds the new index from them. The database is
 * taken back to version 7's search schema by hand, with entries in it. */
Test(search, migration_8_indexes_the_entries_already_there)
{
    int64_t a = create(1, "plum one", 700, 0, 0);
    int64_t b = create(1, "plum two", 700, 2, 0);
    int64_t c = create(1, "plum later", FAR_FUTURE, 0, 0);
    int64_t d = create(1, "plum first", 600, 0, 0);
    create(3, "plum elsewhere", 700, 0, 0);
    diary_store_close(&store);
    char path[128];
    snprintf(path, sizeof path, "%s/diary.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec(db, "DROP TRIGGER entries_search_insert; DROP TRIGGER entries_search_delete;"
             "DROP TRIGGER entries_search_update; DROP TABLE entries_fts;"
             "DROP INDEX entries_search_key; ALTER TABLE entries DROP COLUMN search_key;"
             "CREATE VIRTUAL TABLE entries_fts USING fts5(content, content='entries',"
             "  content_rowid='id');"
             "CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN SELECT 1; END;"
             "CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN SELECT 1; END;"
             "CREATE TRIGGER entries_fts_update AFTER UPDATE ON entries BEGIN SELECT 1; END;"
             "PRAGMA user_version = 7;");
    sqlite3_close(db);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &store));
    int64_t ids[8];
    size_t n = find_all(1, (struct query){.q = "plum"}, 2, ids, 8);
    expect_ids(ids, n, (int64_t[]){c, b, a, d}, 4, "after migration");
    n = find_all(1, (struct query){.q = "plum", .tone = DIARY_TONE_POSITIVE}, 2, ids, 8);
    expect_ids(ids, n, (int64_t[]){b}, 1, "positive after migration");
    /* and new entries at a taken instant come after the migrated ones */
    int64_t e = create(1, "plum again", 700, 0, 0);
    n = find_all(1, (struct query){.q = "plum", .from = 700, .to = 701}, 2, ids, 8);
    expect_ids(ids, n, (int64_t[]){e, b, a}, 3, "a new tie");
}
