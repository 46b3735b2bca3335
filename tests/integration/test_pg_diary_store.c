/*
 * test_pg_diary_store.c — td-diary's PostgreSQL engine (services/diary/
 * store_pg.c) opened twice on one real server, as two replicas would: the
 * pending pass's leases, the call-id dedupe across replicas, and search
 * finding the same entries as the SQLite engine (store.c) for the same
 * texts and queries (filter.h builds both engines' queries).
 */
#include "harness.h"
#include "pg.h"
#include "services/diary/filter.h"
#include "services/diary/store.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct th_pg pg;
static struct diary_store *a, *b; /* two replicas' stores */

static void setup(void)
{
    td_log_threshold = TD_LOG_WARN;
    cr_assert_eq(th_pg_start(&pg), 0);
    struct diary_store_opts o = {.database_url = pg.diary_url, .statement_timeout_ms = 5000};
    cr_assert_eq(diary_store_open(&o, 1, &a), 0);
    cr_assert_eq(diary_store_open(&o, 1, &b), 0);
}

static void teardown(void)
{
    diary_store_close(&a);
    diary_store_close(&b);
    th_pg_destroy(&pg);
}

TestSuite(pg_store, .init = setup, .fini = teardown, .timeout = 120);

static int64_t create(struct diary_store *s, int64_t uid, const char *call_id, const char *text,
                      bool pending, int64_t at, bool *deduped)
{
    struct diary_write w = {.content = text, .content_len = strlen(text), .analyzed = text,
                            .analyzed_len = strlen(text), .pending = pending, .now_us = at};
    struct diary_entry e;
    bool dup = false;
    cr_assert_eq(diary_store_create(s, 0, uid, call_id, &w, &e, &dup), 0);
    int64_t id = e.id;
    diary_entry_clear(&e);
    if (deduped != NULL)
        *deduped = dup;
    return id;
}

Test(pg_store, pending_entries_taken_by_one_replica_are_leased_from_the_other)
{
    int64_t now = td_now_us();
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = create(a, 5, NULL, "saved while td-sentiment was down", true, now, NULL);
    struct diary_pending_item *taken = NULL, *other = NULL;
    size_t n = 0, m = 0;
    int64_t lease = 60 * INT64_C(1000000);
    cr_assert_eq(diary_store_pending(a, diary_store_bg_conn(a), now, 16, lease, &taken, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(taken[0].id, ids[0], "oldest first");
    cr_assert_eq(diary_store_pending(b, diary_store_bg_conn(b), now, 16, lease, &other, &m), 0);
    cr_assert_eq(m, 0, "replica b took %zu entries replica a holds", m);
    diary_pending_free(&other, m);

    /* a analyses the first, stops: the two it did not try go back at once */
    bool applied = false;
    cr_assert_eq(diary_store_apply_analysis(a, diary_store_bg_conn(a), taken[0].id,
                                            taken[0].version, "done", 4, 1, 0, &applied),
                 0);
    cr_assert(applied);
    cr_assert_eq(diary_store_release(a, diary_store_bg_conn(a), &taken[1], 2), 0);
    cr_assert_eq(diary_store_pending(b, diary_store_bg_conn(b), now, 16, lease, &other, &m), 0);
    cr_assert_eq(m, 2);
    cr_assert_eq(other[0].id, ids[1]);
    cr_assert_eq(other[1].id, ids[2]);
    diary_pending_free(&other, m);
    diary_pending_free(&taken, n);

    /* b "dies" holding them: after the lease they are due for a again */
    cr_assert_eq(diary_store_pending(a, diary_store_bg_conn(a), now + lease - 1, 16, lease,
                                     &taken, &n),
                 0);
    cr_assert_eq(n, 0, "still leased");
    diary_pending_free(&taken, n);
    cr_assert_eq(diary_store_pending(a, diary_store_bg_conn(a), now + lease, 16, lease, &taken,
                                     &n),
                 0);
    cr_assert_eq(n, 2, "a dead replica's lease ends");
    diary_pending_free(&taken, n);
    int64_t left = -1;
    cr_assert_eq(diary_store_pending_count(b, 0, &left), 0);
    cr_assert_eq(left, 2);
}

Test(pg_store, one_call_id_sent_to_two_replicas_makes_one_entry)
{
    bool dup = true;
    int64_t first = create(a, 8, "call-1", "a walk by the river", false, td_now_us(), &dup);
    cr_assert_not(dup);
    int64_t again = create(b, 8, "call-1", "a walk by the river", false, td_now_us(), &dup);
    cr_assert(dup);
    cr_assert_eq(again, first);
    struct diary_stats st;
    cr_assert_eq(diary_store_stats(b, 0, 8, &st), 0);
    cr_assert_eq(st.total_entries, 1);
    /* the same call id of another user is that user's own */
    cr_assert_neq(create(b, 9, "call-1", "a walk by the river", false, td_now_us(), &dup), first);
    cr_assert_not(dup);
}

Test(pg_store, a_deleted_account_gets_no_entry_from_any_replica)
{
    create(a, 12, NULL, "before", false, td_now_us(), NULL);
    int64_t deleted = 0;
    cr_assert_eq(diary_store_delete_user(a, 0, 12, &deleted), 0);
    cr_assert_eq(deleted, 1);
    struct diary_write w = {.content = "after", .content_len = 5, .analyzed = "after",
                            .analyzed_len = 5, .now_us = td_now_us()};
    struct diary_entry e;
    bool dup;
    cr_assert_eq(diary_store_create(b, 0, 12, NULL, &w, &e, &dup), TD_EUSERNOTFOUND);
    struct diary_stats st;
    cr_assert_eq(diary_store_stats(b, 0, 12, &st), 0);
    cr_assert_eq(st.total_entries, 0);
}

/* ---- search: the same answers on both engines ---------------------------- */

static const char *const texts[] = {
    "I walked to the park and felt calm.",
    "ÉTÉ: the summer was long",
    "On a parlé de l'été dernier",
    "Don't give up, don’t stop",
    "Walking, walking... WALKS!",
    "ΣΊΣΥΦΟΣ pushes the stone",
    "3.14 is pi and 2024 was a year",
    "well-known e-mail: me@example.com",
    "naïve café, decomposed cafe\xcc\x81 too",
    "straße and STRASSE",
    "nothing to find here",
};

static const char *const queries[] = {
    "walk", "WALK", "été", "ÉTÉ", "ete", "don't", "don", "t", "σίσυφος", "ΣΊΣ", "3", "14",
    "2024", "well-known", "known", "mail", "example.com", "café", "cafe", "naïve", "straße",
    "strasse", "walk park", "calm walked", "summer long", "de l'été", "stone pushes", "zzz",
};

static struct diary_store *sqlite_store(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/td-pgstore-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    struct diary_store *s = NULL;
    cr_assert_eq(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &s), 0);
    return s;
}

/* The contents of user 3's entries matching q, newest first, joined. */
static void found(struct diary_store *s, const char *q, char *out, size_t len)
{
    struct diary_filter_in in = {.q = {q, strlen(q)}};
    struct diary_filter f;
    struct td_tz *tz = NULL;
    struct diary_problem problems[DIARY_FILTER_MAX_PROBLEMS];
    size_t np = 0;
    cr_assert_eq(diary_filter_parse(&in, &f, &tz, problems, &np), 0, "q %s", q);
    struct diary_entry *items = NULL;
    size_t count = 0;
    int64_t total = 0;
    cr_assert_eq(diary_store_find(s, 0, 3, &f, 100, 0, &items, &count, &total), 0, "q %s", q);
    cr_assert_eq((int64_t)count, total);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count; i++)
        o += (size_t)snprintf(out + o, len - o, "%s|", items[i].content);
    diary_entries_free(&items, count);
    diary_filter_clear(&f);
    td_tz_free(&tz);
}

Test(pg_store, search_finds_what_the_sqlite_engine_finds)
{
    char dir[64];
    struct diary_store *lite = sqlite_store(dir, sizeof dir);
    int64_t t0 = td_now_us();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        create(a, 3, NULL, texts[i], false, t0 + (int64_t)i, NULL);
        create(lite, 3, NULL, texts[i], false, t0 + (int64_t)i, NULL);
        create(a, 4, NULL, texts[i], false, t0 + (int64_t)i, NULL); /* never found for 3 */
    }
    int nonempty = 0;
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char on_pg[2048], on_lite[2048];
        found(b, queries[i], on_pg, sizeof on_pg);
        found(lite, queries[i], on_lite, sizeof on_lite);
        cr_expect_str_eq(on_pg, on_lite, "q \"%s\": PostgreSQL [%s], SQLite [%s]", queries[i],
                         on_pg, on_lite);
        nonempty += on_lite[0] != '\0';
    }
    cr_assert_geq(nonempty, 20, "the queries find something (%d of them did)", nonempty);
    diary_store_close(&lite);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The stats row follows edits that change an entry's counts, and is left
 * alone (not even locked) by edits that keep them (migration 9). */
Test(pg_store, the_stats_follow_edits_that_change_the_counts)
{
    struct diary_write w = {.content = "a good day", .content_len = 10, .analyzed = "a good day",
                            .analyzed_len = 10, .positive_count = 1, .now_us = td_now_us()};
    struct diary_entry e;
    bool dup;
    cr_assert_eq(diary_store_create(a, 0, 21, NULL, &w, &e, &dup), 0);
    int64_t id = e.id;
    diary_entry_clear(&e);
    w.content = w.analyzed = "a good day!";
    w.content_len = w.analyzed_len = 11;
    cr_assert_eq(diary_store_update(b, 0, 21, id, &w, &e), 0); /* same counts */
    diary_entry_clear(&e);
    struct diary_stats st;
    cr_assert_eq(diary_store_stats(a, 0, 21, &st), 0);
    cr_assert_eq(st.total_entries, 1);
    cr_assert_eq(st.positive_entries, 1);
    cr_assert_eq(st.positive_count_total, 1);
    w.positive_count = 0;
    w.negative_count = 2;
    cr_assert_eq(diary_store_update(b, 0, 21, id, &w, &e), 0);
    diary_entry_clear(&e);
    cr_assert_eq(diary_store_stats(a, 0, 21, &st), 0);
    cr_assert_eq(st.total_entries, 1);
    cr_assert_eq(st.positive_entries, 0);
    cr_assert_eq(st.negative_entries, 1);
    cr_assert_eq(st.positive_count_total, 0);
    cr_assert_eq(st.negative_count_total, 2);
}
