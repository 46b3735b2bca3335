/*
 * test_insights.c — services/diary/insights.c: calendar buckets (days, ISO
 * weeks, months) and their local midnights across DST changes
 * (common/td_tz.c), the spans of a markup and the phrase as compared; then
 * diary.timeline and diary.phrases through the dispatch path (handlers.c)
 * for empty buckets, a DST day, and ties in the phrase order.
 */
#include "../td_assert.h"
#include "diary_test_util.h"
#include "services/diary/handlers.h"
#include "services/diary/insights.h"
#include "services/diary/store.h"
#include "td_log.h"
#include "td_markup.h"

TestSuite(insights);

static void expect_date(struct td_date got, struct td_date want, const char *what, size_t i)
{
    cr_assert(got.year == want.year && got.month == want.month && got.day == want.day,
              "%s [%zu]: %04d-%02d-%02d, want %04d-%02d-%02d", what, i, got.year, got.month,
              got.day, want.year, want.month, want.day);
}

Test(insights, bucket_names_parse_exactly)
{
    static const struct {
        const char *s;
        int want; /* -1: refused */
    } rows[] = {{"day", DIARY_BUCKET_DAY}, {"week", DIARY_BUCKET_WEEK},
                {"month", DIARY_BUCKET_MONTH}, {"Day", -1}, {"days", -1}, {"", -1},
                {"wee", -1}, {"year", -1}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum diary_bucket b = DIARY_BUCKET_DAY;
        int rc = diary_bucket_parse(rows[i].s, strlen(rows[i].s), &b);
        if (rows[i].want < 0) {
            cr_assert_eq(rc, TD_EINVAL, "[%zu] %s", i, rows[i].s);
        } else {
            TD_ASSERT_OK(rc, "[%zu] %s", i, rows[i].s);
            cr_assert_eq((int)b, rows[i].want);
            cr_assert_str_eq(diary_bucket_name(b), rows[i].s);
        }
    }
}

static const struct {
    enum diary_bucket b;
    struct td_date d, start;
} starts[] = {
    {DIARY_BUCKET_DAY, {2026, 3, 29}, {2026, 3, 29}},
    {DIARY_BUCKET_WEEK, {2026, 3, 29}, {2026, 3, 23}}, /* a Sunday: its Monday */
    {DIARY_BUCKET_WEEK, {2026, 3, 23}, {2026, 3, 23}}, /* a Monday: itself */
    {DIARY_BUCKET_WEEK, {2027, 1, 1}, {2026, 12, 28}}, /* ISO week across the year */
    {DIARY_BUCKET_WEEK, {2024, 3, 1}, {2024, 2, 26}},  /* across a leap day */
    {DIARY_BUCKET_MONTH, {2026, 2, 28}, {2026, 2, 1}},
    {DIARY_BUCKET_MONTH, {2026, 12, 31}, {2026, 12, 1}},
};

Test(insights, a_bucket_starts_on_its_first_local_date)
{
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        expect_date(diary_bucket_start(starts[i].b, starts[i].d), starts[i].start, "start", i);
}

static const struct {
    enum diary_bucket b;
    struct td_date from;
    int64_t n;
    struct td_date to;
    int64_t count; /* buckets from `from` to `to`, both included */
} steps[] = {
    {DIARY_BUCKET_DAY, {2026, 3, 28}, 2, {2026, 3, 30}, 3},
    {DIARY_BUCKET_DAY, {2026, 3, 1}, -1, {2026, 2, 28}, 0},
    {DIARY_BUCKET_WEEK, {2026, 3, 23}, 1, {2026, 3, 30}, 2},
    {DIARY_BUCKET_WEEK, {2026, 12, 28}, -12, {2026, 10, 5}, 0},
    {DIARY_BUCKET_MONTH, {2026, 1, 1}, 13, {2027, 2, 1}, 14},
    {DIARY_BUCKET_MONTH, {2026, 3, 1}, -3, {2025, 12, 1}, 0},
    {DIARY_BUCKET_DAY, {2026, 1, 1}, 0, {2026, 1, 1}, 1},
};

Test(insights, buckets_step_and_count_both_ends_included)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct td_date got = diary_bucket_add(steps[i].b, steps[i].from, steps[i].n);
        expect_date(got, steps[i].to, "add", i);
        cr_assert_eq(diary_bucket_count(steps[i].b, steps[i].from, steps[i].to), steps[i].count,
                     "count [%zu]", i);
    }
}

/* A bucket's length is what its local midnights say: a Berlin day of the
 * spring change has 23 hours, its week 167, the autumn one 25 and 169;
 * New York changes on other dates. */
Test(insights, buckets_across_dst_changes_follow_the_zone)
{
    static const struct {
        const char *zone;
        enum diary_bucket b;
        struct td_date start;
        int64_t hours;
    } rows[] = {
        {"Europe/Berlin", DIARY_BUCKET_DAY, {2026, 3, 29}, 23},
        {"Europe/Berlin", DIARY_BUCKET_DAY, {2026, 3, 28}, 24},
        {"Europe/Berlin", DIARY_BUCKET_WEEK, {2026, 3, 23}, 167},
        {"Europe/Berlin", DIARY_BUCKET_DAY, {2026, 10, 25}, 25},
        {"Europe/Berlin", DIARY_BUCKET_WEEK, {2026, 10, 19}, 169},
        {"Europe/Berlin", DIARY_BUCKET_MONTH, {2026, 3, 1}, 31 * 24 - 1},
        {"America/New_York", DIARY_BUCKET_DAY, {2026, 3, 8}, 23},
        {"America/New_York", DIARY_BUCKET_DAY, {2026, 3, 29}, 24},
        {"America/New_York", DIARY_BUCKET_WEEK, {2026, 10, 26}, 169},
        {"UTC", DIARY_BUCKET_WEEK, {2026, 3, 23}, 168},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct td_tz *tz = NULL;
        TD_ASSERT_OK(td_tz_open(rows[i].zone, strlen(rows[i].zone), &tz));
        int64_t a = 0, b = 0;
        TD_ASSERT_OK(td_tz_day_start(tz, rows[i].start, &a));
        TD_ASSERT_OK(td_tz_day_start(tz, diary_bucket_add(rows[i].b, rows[i].start, 1), &b));
        td_tz_free(&tz);
        cr_assert_eq((b - a) / 3600000000, rows[i].hours, "[%zu] %s: %lld h", i, rows[i].zone,
                     (long long)((b - a) / 3600000000));
    }
}

struct spans {
    int n;
    bool positive[4];
    char text[4][64];
};

static int collect(void *arg, bool positive, const char *text, size_t len)
{
    struct spans *s = arg;
    cr_assert_lt(s->n, 4);
    cr_assert_lt(len, 64);
    s->positive[s->n] = positive;
    memcpy(s->text[s->n], text, len);
    s->text[s->n][len] = '\0';
    s->n++;
    return 0;
}

static int stop_at_first(void *arg, bool positive, const char *text, size_t len)
{
    (void)arg, (void)positive, (void)text, (void)len;
    return 7;
}

Test(insights, spans_are_read_back_unescaped_in_order)
{
    const char *m = "I felt " TD_MARKUP_OPEN_POSITIVE "grateful &amp; calm" TD_MARKUP_CLOSE
                    " but " TD_MARKUP_OPEN_NEGATIVE "&lt;so&gt; tired" TD_MARKUP_CLOSE ".";
    struct spans s = {0};
    TD_ASSERT_OK(diary_spans_each(m, strlen(m), collect, &s));
    cr_assert_eq(s.n, 2);
    cr_assert(s.positive[0]);
    cr_assert_str_eq(s.text[0], "grateful & calm");
    cr_assert_not(s.positive[1]);
    cr_assert_str_eq(s.text[1], "<so> tired");
    struct spans none = {0};
    TD_ASSERT_OK(diary_spans_each("no spans &amp; here", 19, collect, &none));
    cr_assert_eq(none.n, 0);
    cr_assert_eq(diary_spans_each(m, strlen(m), stop_at_first, NULL), 7);
}

Test(insights, phrases_compare_lower_cased_with_white_space_collapsed)
{
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } rows[] = {
        {"Grateful", "grateful"},
        {"  so \t  GRATEFUL\n", "so grateful"},
        {"ÉTÉ Calme", "été calme"},
        {"İstanbul", "i\xcc\x87stanbul"}, /* grows under lower-casing */
        {"a\xc2\xa0" "b", "a b"},         /* no-break space is white space */
        {"", ""},
        {"\xff", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = 0;
        char *got = diary_phrase_normalize_new(rows[i].in, strlen(rows[i].in), &n);
        if (rows[i].want == NULL) {
            cr_assert_null(got, "[%zu]", i);
            continue;
        }
        cr_assert_not_null(got, "[%zu]", i);
        cr_assert_str_eq(got, rows[i].want, "[%zu]", i);
        cr_assert_eq(n, strlen(rows[i].want));
        free(got);
    }
}

/* ---- diary.timeline and diary.phrases through the dispatch path --------- */

static char dir[64], url[128];
static struct diary_store *store;
static struct td_rpc_server *server;
static struct diary_app app;

static void setup(void)
{
    td_log_threshold = TD_LOG_ERR;
    tu_tmpdir(dir, sizeof dir);
    snprintf(url, sizeof url, "ipc://%s/diary.sock", dir);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &store));
    app = (struct diary_app){.store = store};
    struct td_rpc_server_opts so = {.service = "diary", .url = url, .workers = 1,
                                    .routes = diary_routes, .nroutes = diary_nroutes,
                                    .app = &app};
    TD_ASSERT_OK(td_rpc_server_start(&so, &server));
}

static void teardown(void)
{
    td_rpc_server_stop(&server, 1000);
    diary_store_close(&store);
    tu_rmdir(dir);
}

TestSuite(insight_ops, .init = setup, .fini = teardown, .timeout = 30);

/* An analysed entry of user 1 at `at` (µs) with this markup. */
static void entry(const char *markup, int64_t at, int64_t pos, int64_t neg)
{
    struct diary_write w = {.content = "text", .content_len = 4, .analyzed = markup,
                            .analyzed_len = strlen(markup), .positive_count = pos,
                            .negative_count = neg, .now_us = at};
    struct diary_entry e;
    bool dup;
    TD_ASSERT_OK(diary_store_create(store, 0, 1, NULL, &w, &e, &dup));
    diary_entry_clear(&e);
}

/* Calls `op` for user 1 with string arguments k1=v1, k2=v2, ... */
static void call(const char *op, const char *const *kv, size_t n, struct tu_reply *r)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)(n / 2));
    for (size_t i = 0; i + 1 < n; i += 2)
        td_mp_pack_kv_str(&pk, kv[i], kv[i + 1]);
    tu_call(server, op, 1, NULL, sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
}

Test(insight_ops, timeline_lists_empty_buckets_and_a_short_dst_day)
{
    /* Berlin moves to UTC+2 at 01:00Z on 2026-03-29, a 23-hour day: 21:30Z
     * that day is 23:30 on the 29th, 22:30Z is 00:30 on the 30th. The 27th
     * has nothing and is listed all the same. */
    entry("a", INT64_C(1774695600000000), 1, 0); /* 2026-03-28T11:00:00Z */
    entry("b", INT64_C(1774823400000000), 0, 1); /* 2026-03-29T22:30:00Z = 30th 00:30 */
    entry("c", INT64_C(1774819800000000), 0, 0); /* 2026-03-29T21:30:00Z = 29th 23:30 */
    const char *kv[] = {"bucket", "day", "from", "2026-03-27", "to", "2026-03-31",
                        "tz", "Europe/Berlin"};
    struct tu_reply r;
    call("diary.timeline", kv, 8, &r);
    cr_assert_eq(r.status, 200);
    const msgpack_object *pts = td_mp_map_get(r.result, "points");
    cr_assert_eq(pts->via.array.size, 4);
    static const struct {
        const char *start;
        int64_t entries, pos, neg, neu;
    } want[] = {{"2026-03-27", 0, 0, 0, 0},
                {"2026-03-28", 1, 1, 0, 0},
                {"2026-03-29", 1, 0, 0, 1},
                {"2026-03-30", 1, 0, 1, 0}};
    for (size_t i = 0; i < 4; i++) {
        const msgpack_object *p = &pts->via.array.ptr[i];
        char *start = tu_str(p, "start");
        cr_assert_str_eq(start, want[i].start, "[%zu]", i);
        free(start);
        cr_assert_eq(tu_int(p, "entries"), want[i].entries, "[%zu]", i);
        cr_assert_eq(tu_int(p, "positive_entries"), want[i].pos, "[%zu]", i);
        cr_assert_eq(tu_int(p, "negative_entries"), want[i].neg, "[%zu]", i);
        cr_assert_eq(tu_int(p, "neutral_entries"), want[i].neu, "[%zu]", i);
    }
    tu_reply_free(&r);

    /* weeks: the one of the change and an empty one after it */
    const char *wk[] = {"bucket", "week", "from", "2026-03-23", "to", "2026-04-06",
                        "tz", "Europe/Berlin"};
    call("diary.timeline", wk, 8, &r);
    cr_assert_eq(r.status, 200);
    pts = td_mp_map_get(r.result, "points");
    cr_assert_eq(pts->via.array.size, 2);
    cr_assert_eq(tu_int(&pts->via.array.ptr[0], "entries"), 2); /* 28th and 29th */
    cr_assert_eq(tu_int(&pts->via.array.ptr[1], "entries"), 1); /* the 30th: a Monday */
    tu_reply_free(&r);
}

#define POS(s) TD_MARKUP_OPEN_POSITIVE s TD_MARKUP_CLOSE
#define NEG(s) TD_MARKUP_OPEN_NEGATIVE s TD_MARKUP_CLOSE

Test(insight_ops, phrases_most_frequent_first_ties_alphabetical_and_cut_at_the_limit)
{
    entry(POS("Calm") " " POS("grateful") " " NEG("tired"), 1000, 2, 1);
    entry(POS("grateful") " " POS("BRAVE") " " NEG("Tired") " " NEG("alone"), 2000, 2, 2);
    entry(POS("calm") " " POS("brave") " " POS("  Grateful ") " " NEG("alone"), 3000, 3, 1);
    entry(POS("zest") " " NEG("worn  out"), 4000, 1, 1);
    const char *kv[] = {"limit", "3"};
    struct tu_reply r;
    call("diary.phrases", kv, 2, &r);
    cr_assert_eq(r.status, 200);
    static const struct {
        const char *tone;
        const char *phrase[3];
        int64_t count[3];
    } want[] = {{"positive", {"grateful", "brave", "calm"}, {3, 2, 2}},
                {"negative", {"alone", "tired", "worn out"}, {2, 2, 1}}};
    for (size_t t = 0; t < 2; t++) {
        const msgpack_object *list = td_mp_map_get(r.result, want[t].tone);
        cr_assert_eq(list->via.array.size, 3, "%s", want[t].tone);
        for (size_t i = 0; i < 3; i++) {
            char *p = tu_str(&list->via.array.ptr[i], "phrase");
            cr_assert_str_eq(p, want[t].phrase[i], "%s [%zu]", want[t].tone, i);
            free(p);
            cr_assert_eq(tu_int(&list->via.array.ptr[i], "count"), want[t].count[i]);
        }
    }
    tu_reply_free(&r);
}

Test(insight_ops, bad_bucket_and_limit_are_named)
{
    static const struct {
        const char *op, *key, *value;
    } rows[] = {{"diary.timeline", "bucket", "year"}, {"diary.timeline", "tz", "Nowhere/x"},
                {"diary.timeline", "from", "2026-02-30"}, {"diary.phrases", "limit", "0"},
                {"diary.phrases", "limit", "51"},         {"diary.phrases", "limit", "1e1"},
                {"diary.phrases", "to", "tomorrow"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *kv[] = {rows[i].key, rows[i].value};
        struct tu_reply r;
        call(rows[i].op, kv, 2, &r);
        char code[64];
        tu_error_code(&r, code, sizeof code);
        cr_assert_eq(r.status, 400, "[%zu] %s=%s", i, rows[i].key, rows[i].value);
        cr_assert_str_eq(code, "validation_error");
        cr_assert_not_null(td_mp_map_get(td_mp_map_get(r.error, "details"), rows[i].key),
                           "[%zu] names %s", i, rows[i].key);
        tu_reply_free(&r);
    }
}
