/*
 * test_pg_chaos.c — the whole stack scaled out on one PostgreSQL (issue 12):
 * 2 gateways, 3 td-auth, 3 td-diary, 2 td-sentiment. Clients create, edit,
 * delete, refresh and read through both gateways while replicas are
 * SIGKILLed and restarted one after another, and PostgreSQL itself is
 * restarted once. Then:
 * - every acknowledged create is there exactly once, with the content of
 *   its last acknowledged edit (or of a later edit whose answer was lost:
 *   whole, never a mix), and every acknowledged delete is gone;
 * - nothing was written twice (each attempt's text is unique);
 * - every entry is analysed, no entry version by two replicas;
 * - each client's logout is refused at both gateways within a second;
 * - every replica and both gateways still answer.
 *
 * Replica a of each service is the stack's own process; the others are
 * extra processes (<dir>/td-<name>-<tag>.log).
 */
#include "auth_helpers.h"
#include "pg.h"
#include "services/diary/pending.h"
#include "td_time.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define AUTH(t) "ipc://{dir}/auth" t ".sock"
#define FEED(t) "ipc://{dir}/events" t ".sock"
#define DIARY(t) "ipc://{dir}/diary" t ".sock"
#define SENTI(t) "ipc://{dir}/sentiment" t ".sock"
#define ALL_AUTH AUTH("") "," AUTH("-b") "," AUTH("-c")
#define ALL_FEEDS FEED("") "," FEED("-b") "," FEED("-c")
#define ALL_DIARY DIARY("") "," DIARY("-b") "," DIARY("-c")
#define ALL_SENTI SENTI("") "," SENTI("-b")

enum { CLIENTS = 4, MAX_ENTRIES = 400 };

/* How long entries saved unanalysed may wait for a pending pass: a td-diary
 * replica SIGKILLed in the middle of one (or one that could not hand its
 * batch back while PostgreSQL was down) leaves the batch leased, and the
 * other replicas take it when the lease ends: DIARY_PENDING_BATCH (16) x
 * SENTIMENT_TIMEOUT_MS (2000, left at its default here) x 2 = 64 s
 * (services/diary/pending.c). Then a pass and its analyses. Waiting 30 s
 * failed one run of eighteen here. */
#define SENTIMENT_TIMEOUT_DEFAULT_MS 2000
#define ANALYSED_WITHIN_MS (DIARY_PENDING_BATCH * SENTIMENT_TIMEOUT_DEFAULT_MS * 2 + 30000)

static struct th_stack stack;
static char gw2[64]; /* the second gateway's base URL */
static pid_t gw2_pid;

/* The extra replicas: what to start them with, and their pid (0: down). */
struct extra {
    enum th_daemon d;
    const char *tag;
    const char *env[4];
    pid_t pid;
};

static struct extra extras[] = {
    {TH_AUTH, "b", {"AUTH_RPC_URL=" AUTH("-b"), "AUTH_RPC_OPERATOR_URL=" AUTH("-b-op"),
                    "AUTH_EVENTS_URL=" FEED("-b"), NULL}, 0},
    {TH_AUTH, "c", {"AUTH_RPC_URL=" AUTH("-c"), "AUTH_RPC_OPERATOR_URL=" AUTH("-c-op"),
                    "AUTH_EVENTS_URL=" FEED("-c"), NULL}, 0},
    {TH_DIARY, "b", {"DIARY_RPC_URL=" DIARY("-b"), "DIARY_RPC_OPERATOR_URL=" DIARY("-b-op"), NULL},
     0},
    {TH_DIARY, "c", {"DIARY_RPC_URL=" DIARY("-c"), "DIARY_RPC_OPERATOR_URL=" DIARY("-c-op"), NULL},
     0},
    {TH_SENTIMENT, "b", {"SENTIMENT_RPC_URL=" SENTI("-b"), NULL}, 0},
};
#define NEXTRAS (sizeof extras / sizeof extras[0])

static void start_extra(struct extra *x)
{
    cr_assert_eq(th_daemon_start_extra(&stack, x->d, x->tag, x->env, &x->pid), 0);
}

static void kill_extra(struct extra *x)
{
    if (x->pid <= 0)
        return;
    kill(x->pid, SIGKILL);
    waitpid(x->pid, NULL, 0);
    x->pid = 0;
}

static void setup(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    struct th_options opts = {
        .postgres = true,
        .peers_die = true,
        .daemon_env[TH_GATEWAY] = {"AUTH_RPC_URL=" ALL_AUTH, "AUTH_EVENTS_URL=" ALL_FEEDS,
                                   "DIARY_RPC_URL=" ALL_DIARY},
        .daemon_env[TH_AUTH] = {"DIARY_RPC_URL=" ALL_DIARY},
        .daemon_env[TH_DIARY] = {"SENTIMENT_RPC_URL=" ALL_SENTI},
    };
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
    for (size_t i = 0; i < NEXTRAS; i++)
        start_extra(&extras[i]);
    const char *e[] = {NULL};
    int port = 0;
    cr_assert_eq(th_gateway_start_extra(&stack, e, &gw2_pid, &port), 0);
    snprintf(gw2, sizeof gw2, "http://127.0.0.1:%d", port);
    /* Both gateways hear all three feeds before anything is revoked. */
    cr_assert_geq(th_wait_log_count(&stack, "td-gateway.log", "revocations_feed_up", 6,
                                    TH_WAIT_MS),
                  6, "the gateways did not subscribe to every td-auth replica");
}

static void teardown(void)
{
    for (size_t i = 0; i < NEXTRAS; i++) {
        if (extras[i].pid > 0) {
            kill(extras[i].pid, SIGTERM);
            int status = 0;
            cr_expect_eq(waitpid(extras[i].pid, &status, 0), extras[i].pid);
            cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "td-%d-%s exit status 0x%x", (int)extras[i].d, extras[i].tag, status);
            extras[i].pid = 0;
        }
    }
    if (gw2_pid > 0) {
        kill(gw2_pid, SIGTERM);
        waitpid(gw2_pid, NULL, 0);
        gw2_pid = 0;
    }
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(chaos, .init = setup, .fini = teardown, .timeout = 300);

/* ---- clients ------------------------------------------------------------ */

/* What one client was told, and what it tried. */
struct entry_log {
    int64_t id;
    int acked_text;   /* the text number of the last acknowledged write */
    int tried_after;  /* a later edit whose answer was lost (0: none) */
    bool deleted;     /* gone: a delete acknowledged, or a 404 after one was tried */
    bool delete_tried; /* a delete whose answer was lost */
};

struct client {
    int n;
    char email[64];
    char access[2048], refresh[2048];
    struct entry_log entries[MAX_ENTRIES];
    int nentries;
    int next_text; /* every attempt writes a text of its own: "c<n> t<k> happy" */
    atomic_int acked, refused, lost, refreshed;
    bool need_login; /* a 401: the token went with a rotation whose answer was lost */
    atomic_int bad; /* an answer outside the contract */
    char bad_example[256];
};

static struct client clients[CLIENTS];
static atomic_bool stop_clients;

static void text_of(const struct client *c, int k, char *out, size_t len)
{
    snprintf(out, len, "client %d text %d: a happy calm day", c->n, k);
}

/* One request through gateway g (0 or 1); returns the status, 0 when the
 * request itself failed. *r must be freed when the status is not 0. */
static long call(int g, const char *method, const char *path, const char *token,
                 const char *body, struct th_response *r)
{
    return try_req_url(g == 0 ? stack.base_url : gw2, method, path, token, body, r) == 0
               ? r->status
               : 0;
}

static void note_bad(struct client *c, const char *what, long status, const char *body)
{
    if (atomic_fetch_add(&c->bad, 1) == 0)
        snprintf(c->bad_example, sizeof c->bad_example, "%s: %ld %.180s", what, status,
                 body ? body : "");
}

/* A write's answer: acknowledged (1), refused for now (0: 503/504 may or
 * may not have happened; a 401 did not happen), or outside the contract. */
static int judge(struct client *c, const char *what, long status, long ok, struct th_response *r)
{
    if (status == ok)
        return 1;
    if (status == 503 || status == 504 || status == 0) {
        atomic_fetch_add(&c->refused, 1);
        return 0;
    }
    if (status == 401) {
        c->need_login = true;
        return 0;
    }
    note_bad(c, what, status, status ? r->body : NULL);
    return -1;
}

static void do_create(struct client *c, int g)
{
    if (c->nentries >= MAX_ENTRIES)
        return;
    int k = ++c->next_text;
    char text[128], body[192];
    text_of(c, k, text, sizeof text);
    snprintf(body, sizeof body, "{\"content\":\"%s\"}", text);
    struct th_response r;
    long st = call(g, "POST", "/diaries", c->access, body, &r);
    if (judge(c, "create", st, 201, &r) == 1) {
        json_t *id = json_object_get(r.json, "id");
        c->entries[c->nentries++] = (struct entry_log){.id = (int64_t)json_integer_value(id),
                                                       .acked_text = k};
        atomic_fetch_add(&c->acked, 1);
    }
    if (st != 0)
        th_response_free(&r);
}

static void do_update(struct client *c, int g, struct entry_log *e)
{
    int k = ++c->next_text;
    char text[128], body[192], path[64];
    text_of(c, k, text, sizeof text);
    snprintf(body, sizeof body, "{\"content\":\"%s\"}", text);
    snprintf(path, sizeof path, "/diaries/%lld", (long long)e->id);
    struct th_response r;
    long st = call(g, "PUT", path, c->access, body, &r);
    if (st == 404 && e->delete_tried) { /* the delete whose answer was lost did it */
        e->deleted = true;
        th_response_free(&r);
        return;
    }
    int v = judge(c, "update", st, 200, &r);
    if (v == 1) {
        e->acked_text = k;
        e->tried_after = 0;
        atomic_fetch_add(&c->acked, 1);
    } else if (v == 0) {
        e->tried_after = k; /* may have landed */
    }
    if (st != 0)
        th_response_free(&r);
}

static void do_delete(struct client *c, int g, struct entry_log *e)
{
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)e->id);
    struct th_response r;
    long st = call(g, "DELETE", path, c->access, NULL, &r);
    int v = st == 404 && e->delete_tried ? 1 : judge(c, "delete", st, 200, &r);
    if (v == 1) {
        e->deleted = true;
        atomic_fetch_add(&c->acked, st == 200);
    } else if (v == 0 && st != 401) {
        e->delete_tried = true;
    }
    if (st != 0)
        th_response_free(&r);
}

static void do_refresh(struct client *c, int g)
{
    struct th_response r;
    long st = call(g, "POST", "/auth/refresh", c->refresh, NULL, &r);
    if (st == 200) {
        const char *a = json_string_value(json_object_get(r.json, "access_token"));
        const char *f = json_string_value(json_object_get(r.json, "refresh_token"));
        if (a && f) {
            snprintf(c->access, sizeof c->access, "%s", a);
            snprintf(c->refresh, sizeof c->refresh, "%s", f);
            atomic_fetch_add(&c->refreshed, 1);
        }
    } else if (st == 401) {
        /* A refresh whose answer was lost rotated the token: the old one is
         * refused now, as reuse (and its family with it). Log in again. */
        c->need_login = true;
    } else if (st != 503 && st != 504 && st != 0) {
        note_bad(c, "refresh", st, r.body);
    }
    if (st != 0)
        th_response_free(&r);
}

static bool log_in(struct client *c, int g)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", c->email,
             GOOD_PASSWORD);
    struct th_response r;
    long st = call(g, "POST", "/auth/login", NULL, body, &r);
    bool ok = st == 200;
    if (ok) {
        snprintf(c->access, sizeof c->access, "%s",
                 json_string_value(json_object_get(r.json, "access_token")));
        snprintf(c->refresh, sizeof c->refresh, "%s",
                 json_string_value(json_object_get(r.json, "refresh_token")));
    }
    if (st != 0)
        th_response_free(&r);
    return ok;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    unsigned seed = (unsigned)c->n * 7919u + 1;
    for (int step = 0; !atomic_load(&stop_clients); step++) {
        int g = step & 1;
        int pick = rand_r(&seed) % 10;
        if (c->need_login) {
            if (log_in(c, g))
                c->need_login = false;
        } else if (step % 25 == 24) {
            do_refresh(c, g);
        } else if (pick < 6 || c->nentries == 0) {
            do_create(c, g);
        } else {
            struct entry_log *e = &c->entries[rand_r(&seed) % (unsigned)c->nentries];
            if (e->deleted)
                continue;
            if (pick < 9)
                do_update(c, g, e);
            else
                do_delete(c, g, e);
        }
        usleep(5000);
    }
    return NULL;
}

/* ---- chaos ---------------------------------------------------------------- */

static void restart_own(enum th_daemon d)
{
    int status = th_daemon_signal(&stack, d, SIGKILL);
    cr_assert(status >= 0 && WIFSIGNALED(status));
    usleep(300000);
    cr_assert_eq(th_daemon_start(&stack, d), 0);
}

static void restart_extra(struct extra *x)
{
    kill_extra(x);
    usleep(300000);
    start_extra(x);
}

/* ---- the checks at the end ------------------------------------------------ */

/* Every entry of a client, through gateway g: id -> content. */
static json_t *all_entries(struct client *c, int g)
{
    json_t *all = json_object();
    for (int page = 1;; page++) {
        char path[64];
        snprintf(path, sizeof path, "/diaries?per_page=100&page=%d", page);
        struct th_response r;
        cr_assert_eq(call(g, "GET", path, c->access, NULL, &r), 200, "%s", r.body);
        json_t *items = json_object_get(r.json, "items");
        size_t n = json_array_size(items);
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(items, i);
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(it, "id")));
            cr_assert_null(json_object_get(all, key), "entry %s listed twice", key);
            json_object_set(all, key, it);
        }
        th_response_free(&r);
        if (n < 100)
            break;
    }
    return all;
}

static bool everything_analysed(void *arg)
{
    struct client *c = arg;
    json_t *all = all_entries(c, 0);
    const char *key;
    json_t *it;
    bool done = true;
    json_object_foreach(all, key, it)
    {
        if (json_integer_value(json_object_get(it, "positive_count")) == 0)
            done = false;
    }
    json_decref(all);
    return done;
}

static void check_client(struct client *c)
{
    json_t *all = all_entries(c, 1);
    /* each attempt's text at most once */
    json_t *texts = json_object();
    const char *key;
    json_t *it;
    json_object_foreach(all, key, it)
    {
        const char *t = json_string_value(json_object_get(it, "content"));
        cr_assert_not_null(t);
        cr_assert_null(json_object_get(texts, t), "client %d: \"%s\" written twice", c->n, t);
        json_object_set_new(texts, t, json_true());
    }
    for (int i = 0; i < c->nentries; i++) {
        struct entry_log *e = &c->entries[i];
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)e->id);
        json_t *got = json_object_get(all, k);
        if (e->deleted) {
            cr_assert_null(got, "client %d: entry %s deleted (acknowledged) but listed", c->n, k);
            continue;
        }
        if (got == NULL && e->delete_tried)
            continue; /* a delete whose answer was lost */
        cr_assert_not_null(got, "client %d: acknowledged entry %s is missing", c->n, k);
        char want[128], later[128] = "";
        text_of(c, e->acked_text, want, sizeof want);
        if (e->tried_after)
            text_of(c, e->tried_after, later, sizeof later);
        const char *t = json_string_value(json_object_get(got, "content"));
        /* an edit whose answer was lost may have landed; nothing else may */
        bool ok = strcmp(t, want) == 0;
        for (int k2 = e->acked_text + 1; !ok && k2 <= c->next_text; k2++) {
            char maybe[128];
            text_of(c, k2, maybe, sizeof maybe);
            ok = strcmp(t, maybe) == 0;
        }
        cr_assert(ok, "client %d: entry %s reads \"%s\", acknowledged \"%s\"", c->n, k, t, want);
    }
    json_decref(texts);
    json_decref(all);
}

/* Reads the (entry, version) pairs of every td-diary replica's
 * "analysis_applied" and "analysis_stale" lines (services/diary/pending.c).
 * No pair may be applied twice, and none may be both applied and stale: a
 * stale analysis of a version that was applied is one done twice (another
 * replica's); a stale one of a version never applied was overtaken by an
 * edit, as it should be. */
static void check_analysed_once(void)
{
    static const char *const logs[] = {"td-diary.log", "td-diary-b.log", "td-diary-c.log"};
    static const char *const kinds[] = {"analysis_applied: entry ", "analysis_stale: entry "};
    json_t *seen[2] = {json_object(), json_object()};
    for (size_t i = 0; i < 3; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", stack.dir, logs[i]);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        char line[4096];
        while (fgets(line, sizeof line, f) != NULL) {
            for (int k = 0; k < 2; k++) {
                const char *p = strstr(line, kinds[k]);
                long long id = 0, version = 0;
                if (p == NULL ||
                    sscanf(p + strlen(kinds[k]), "%lld version %lld", &id, &version) != 2)
                    continue;
                char key[48];
                snprintf(key, sizeof key, "%lld/%lld", id, version);
                cr_assert(k == 1 || json_object_get(seen[0], key) == NULL,
                          "entry %s analysed twice", key);
                json_object_set_new(seen[k], key, json_true());
            }
        }
        fclose(f);
    }
    const char *key;
    json_t *v;
    json_object_foreach(seen[1], key, v)
    {
        cr_assert_null(json_object_get(seen[0], key), "entry %s analysed twice (once stale)",
                       key);
    }
    fprintf(stderr, "chaos: %zu pending analyses applied, %zu overtaken by an edit\n",
            json_object_size(seen[0]), json_object_size(seen[1]));
    json_decref(seen[0]);
    json_decref(seen[1]);
}

Test(chaos, replicas_and_postgresql_restarted_under_load_lose_nothing_acknowledged)
{
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        c->n = i;
        snprintf(c->email, sizeof c->email, "chaos%d@example.com", i);
        register_user(&stack, c->email, GOOD_PASSWORD);
        cr_assert(log_in(c, i & 1));
    }
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, client_main, &clients[i]), 0);

    /* One after another, with the clients running. */
    usleep(800000);
    restart_extra(&extras[2]); /* diary b */
    usleep(500000);
    restart_own(TH_AUTH);
    usleep(500000);
    /* Both td-sentiment replicas at once: writes are saved unanalysed and
     * the three td-diary replicas' pending passes share the work after. */
    kill_extra(&extras[4]);
    int status = th_daemon_signal(&stack, TH_SENTIMENT, SIGKILL);
    cr_assert(status >= 0 && WIFSIGNALED(status));
    usleep(1200000);
    start_extra(&extras[4]);
    cr_assert_eq(th_daemon_start(&stack, TH_SENTIMENT), 0);
    usleep(500000);
    cr_assert_eq(th_pg_stop_server(&stack.pg), 0);
    usleep(700000);
    cr_assert_eq(th_pg_start_server(&stack.pg), 0);
    usleep(800000);
    restart_own(TH_DIARY);
    usleep(500000);
    restart_extra(&extras[0]); /* auth b */
    usleep(500000);
    restart_extra(&extras[3]); /* diary c */
    usleep(1000000);

    atomic_store(&stop_clients, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);

    int acked = 0, refused = 0;
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        cr_assert_eq(atomic_load(&c->bad), 0, "client %d: %s", i, c->bad_example);
        acked += atomic_load(&c->acked);
        refused += atomic_load(&c->refused);
    }
    fprintf(stderr, "chaos: %d writes acknowledged, %d refused for now\n", acked, refused);
    cr_assert_gt(acked, 50, "the clients got little done");
    cr_assert_gt(refused, 0, "the outages were never seen");

    /* Every replica and gateway answers; every client's token still works
     * (a client whose refresh answer was lost logs in again). */
    cr_assert_eq(th_wait_ready(&stack, 200, 20000), 0);
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        struct th_response r;
        if (call(0, "GET", "/auth/me", c->access, NULL, &r) != 200)
            cr_assert(log_in(c, 0));
        else
            th_response_free(&r);
    }
    int64_t waited_from = td_now_us();
    for (int i = 0; i < CLIENTS; i++) {
        cr_assert(th_wait_until(everything_analysed, &clients[i], ANALYSED_WITHIN_MS),
                  "client %d: entries left unanalysed", i);
        check_client(&clients[i]);
    }
    fprintf(stderr, "chaos: every entry found analysed after %lld ms of waiting\n",
            (long long)((td_now_us() - waited_from) / 1000));
    check_analysed_once();

    /* Each client logs out through one gateway: refused at both within 1 s. */
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        struct th_response r;
        cr_assert_eq(call(i & 1, "POST", "/auth/logout", c->access, NULL, &r), 200, "%s", r.body);
        th_response_free(&r);
        for (int g = 0; g < 2; g++) {
            long st = 0;
            for (int tries = 0; tries < 20; tries++) {
                st = call(g, "GET", "/auth/me", c->access, NULL, &r);
                if (st != 0)
                    th_response_free(&r);
                if (st == 401)
                    break;
                usleep(50000);
            }
            cr_assert_eq(st, 401, "client %d's logout not enforced at gateway %d", i, g);
        }
    }
}
