/*
 * test_handlers.c — td-auth's operations (services/auth/handlers.c) through
 * the RPC dispatch path its workers run (td_rpc_server_handle_bytes: decode,
 * route, handler, encode), wired as services/auth/main.c wires them, against
 * a real store in a fresh temporary directory per test. The contract checked
 * is proto/README.md ("td-auth operations"); tests/unit/diary/test_handlers.c
 * does the same for td-diary.
 *
 * Left out, as struct auth_app in handlers.h allows: the revocation feed
 * (events NULL: "not published") and the outbox thread (outbox NULL: "jobs
 * wait for the next start"); the outbox rows a deletion queues are checked
 * in the store instead. td-diary, which an account deletion calls before
 * anything is deleted, is a stand-in RPC server answering diary.delete_user
 * (fake_diary_delete_user), or absent.
 *
 * Hashing runs at libsodium's minimum cost, the cost services/auth/config.c
 * gives APP_ENV=testing (PWHASH_OPSLIMIT 1, PWHASH_MEMLIMIT 8192), so the
 * dozens of hashes a test makes take milliseconds.
 */
#include "../td_assert.h"
#include "../td_tempdir.h"
#include "services/auth/handlers.h"
#include "services/auth/lockout.h"
#include "services/auth/logic.h"
#include "services/auth/store.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char secret[] = "unit-test-secret-0123456789abcdef-0123456789";
static char dir[64], url[128], diary_url[128];
static struct auth_config cfg;
static struct auth_store *store;
static struct auth_app app;
static bool app_ready;
static struct td_rpc_server *server;
static struct td_rpc_server *diary; /* the stand-in td-diary; NULL: down */

#define PW "Correct-horse-1"
#define EMAIL "alice@example.com"

/* The users diary.delete_user was called for, in order. */
static int64_t erased[16];
static atomic_int nerased;

static int fake_diary_delete_user(void *ctx, const struct td_rpc_request *req,
                                  struct td_rpc_reply *rep)
{
    (void)ctx;
    int64_t uid = 0;
    if (req->args == NULL || td_mp_as_int64(td_mp_map_get(req->args, "user_id"), &uid) != 0)
        return td_rpc_reply_error(rep, TD_EINVAL, "user_id");
    int n = atomic_fetch_add(&nerased, 1);
    if (n < 16)
        erased[n] = uid;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    return msgpack_pack_map(pk, 1) == 0 && td_mp_pack_kv_int(pk, "deleted", 0) == 0 ? 0
                                                                                   : TD_ENOMEM;
}

static const struct td_rpc_route fake_diary_routes[] = {
    {TD_OP_DIARY_DELETE_USER, fake_diary_delete_user, false}};

static void fake_diary_start(void)
{
    struct td_rpc_server_opts so = {.service = "diary", .url = diary_url, .workers = 1,
                                    .routes = fake_diary_routes, .nroutes = 1};
    TD_ASSERT_OK(td_rpc_server_start(&so, &diary));
}

static void setup(void)
{
    td_log_threshold = TD_LOG_ERR;
    cr_assert_geq(sodium_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/td-auth-handlers-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof url, "ipc://%s/auth.sock", dir);
    snprintf(diary_url, sizeof diary_url, "ipc://%s/diary.sock", dir);
    atomic_store(&nerased, 0);
    fake_diary_start();
    /* A short deadline: the test that stops td-diary waits it out. */
    struct td_rpc_client_opts co = {.service = "diary", .urls = diary_url, .timeout_ms = 2000,
                                    .connect_grace_ms = 2000};
    struct td_rpc_client *diary_client = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&co, &diary_client));
    cfg = (struct auth_config){.jwt_secret = secret, .access_ttl = 900, .refresh_ttl = 604800,
                               .pwhash_ops = crypto_pwhash_OPSLIMIT_MIN,
                               .pwhash_mem = crypto_pwhash_MEMLIMIT_MIN,
                               .pwhash_concurrency = 2};
    TD_ASSERT_OK(auth_store_open(&(struct auth_store_opts){.data_dir = dir}, 1, &store));
    cfg.base.rpc_timeout_ms = 2000;
    app = (struct auth_app){.cfg = &cfg, .store = store, .diary = diary_client};
    TD_ASSERT_OK(auth_app_init(&app, &cfg));
    app_ready = true;
    struct td_rpc_server_opts so = {.service = "auth", .url = url, .workers = 1,
                                    .routes = auth_routes, .nroutes = auth_nroutes,
                                    .app = &app};
    TD_ASSERT_OK(td_rpc_server_start(&so, &server));
}

static void teardown(void)
{
    td_rpc_server_stop(&server, 1000);
    if (app_ready)
        auth_app_destroy(&app);
    app_ready = false;
    td_rpc_client_free(&app.diary);
    if (diary != NULL)
        td_rpc_server_stop(&diary, 1000);
    auth_store_close(&store);
    TD_ASSERT_OK(td_tempdir_remove(dir), "cannot remove %s", dir);
}

TestSuite(handlers, .init = setup, .fini = teardown, .timeout = 60);

/* ---- calling ------------------------------------------------------------ */

enum kind { STR, INT, NIL, BOOL, ARRAY, BIN_KEY };

/* One argument. BIN_KEY packs `key` as a binary key (not a string) with an
 * int value: the one way a field name can fail to be a name. */
struct arg {
    const char *key;
    enum kind kind;
    const char *s;
    int64_t i;
};

#define S(k, v) {(k), STR, (v), 0}
#define I(k, v) {(k), INT, NULL, (v)}
#define N(k) {(k), NIL, NULL, 0}
/* An empty map, {} (not nil): n is 0, the pointer only says "a map". */
static const struct arg no_args[1];
#define EMPTY_MAP no_args, 0
#define ARGS(...) (const struct arg[]){__VA_ARGS__}, \
                  sizeof((const struct arg[]){__VA_ARGS__}) / sizeof(struct arg)

struct reply {
    char *bytes; /* the reply's bytes: unpacked strings point into them */
    msgpack_unpacked up;
    int status;
    const msgpack_object *result;
    const msgpack_object *error;
};

/* Packs the envelope of proto/README.md ("Envelope") around args (NULL:
 * nil; else a map of n entries) and serves it on worker 0. */
static void call(const char *op, int64_t uid, const struct arg *args, size_t n, struct reply *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 6);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "v", 1);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "op", op);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "rid", "unit");
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "cid", "");
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "uid", uid);
    rc = rc ? rc : td_mp_pack_cstr(&pk, "args");
    if (args == NULL) {
        rc = rc ? rc : msgpack_pack_nil(&pk);
    } else {
        rc = rc ? rc : msgpack_pack_map(&pk, n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const struct arg *a = &args[i];
            if (a->kind == BIN_KEY) {
                rc = msgpack_pack_bin(&pk, strlen(a->key));
                rc = rc ? rc : msgpack_pack_bin_body(&pk, a->key, strlen(a->key));
            } else {
                rc = td_mp_pack_cstr(&pk, a->key);
            }
            if (rc != 0)
                break;
            switch (a->kind) {
            case STR: rc = td_mp_pack_cstr(&pk, a->s); break;
            case INT: case BIN_KEY: rc = msgpack_pack_int64(&pk, a->i); break;
            case NIL: rc = msgpack_pack_nil(&pk); break;
            case BOOL: rc = a->i ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk); break;
            case ARRAY: rc = msgpack_pack_array(&pk, 0); break;
            }
        }
    }
    cr_assert_eq(rc, 0, "packing the request");
    char *bytes = NULL;
    size_t len = 0;
    TD_ASSERT_OK(td_rpc_server_handle_bytes(server, 0, sb.data, sb.size, &bytes, &len), "%s", op);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_init(&out->up);
    TD_ASSERT_OK(td_mp_unpack(bytes, len, &out->up), "reply of %s", op);
    out->bytes = bytes;
    int64_t status = 0;
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(&out->up.data, "status"), &status));
    out->status = (int)status;
    out->result = td_mp_map_get(&out->up.data, "result");
    out->error = td_mp_map_get(&out->up.data, "error");
}

static void reply_free(struct reply *r)
{
    msgpack_unpacked_destroy(&r->up);
    free(r->bytes);
}

/* A copy of string field `key` of `map` (NUL-terminated, malloc'd), or NULL. */
static char *field_str(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = td_mp_map_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    char *s = malloc(o->via.str.size + 1);
    cr_assert_not_null(s);
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static int64_t field_int(const msgpack_object *map, const char *key)
{
    int64_t v = -999;
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(map, key), &v), "field %s", key);
    return v;
}

/* String field `key` of `map` equals `want`. */
static void expect_field(const msgpack_object *map, const char *key, const char *want)
{
    char *got = field_str(map, key);
    cr_expect_not_null(got, "no string field %s", key);
    if (got != NULL)
        cr_expect_str_eq(got, want, "field %s", key);
    free(got);
}

static void assert_error(const struct reply *r, int status, const char *code)
{
    char got[64] = "";
    const msgpack_object *e = td_mp_map_get(r->error, "error");
    if (e != NULL)
        TD_ASSERT_OK(td_mp_copy_str(e, got, sizeof got));
    cr_assert_eq(r->status, status, "status %d, want %d (%s)", r->status, status, got);
    cr_assert_str_eq(got, code);
}

/* Whether the details of `field` in an error reply hold `message`. */
static bool has_detail(const struct reply *r, const char *field, const char *message)
{
    const msgpack_object *list = td_mp_map_get(td_mp_map_get(r->error, "details"), field);
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *m = &list->via.array.ptr[i];
        if (m->type == MSGPACK_OBJECT_STR && m->via.str.size == strlen(message) &&
            memcmp(m->via.str.ptr, message, m->via.str.size) == 0)
            return true;
    }
    return false;
}

/* The number of details of `field`. */
static uint32_t detail_count(const struct reply *r, const char *field)
{
    const msgpack_object *list = td_mp_map_get(td_mp_map_get(r->error, "details"), field);
    return list != NULL && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
}

/* ---- users and tokens ------------------------------------------------------- */

static int64_t register_ok(const char *email, const char *pw)
{
    struct reply r;
    call("auth.register", 0, ARGS(S("email", email), S("password", pw)), &r);
    cr_assert_eq(r.status, 201, "register %s: status %d", email, r.status);
    int64_t id = field_int(r.result, "id");
    reply_free(&r);
    return id;
}

/* What the gateway takes out of a verified token pair to call td-auth. */
struct pair {
    int64_t uid;
    char access_jti[65], refresh_jti[65], fam[65];
    int64_t access_exp, refresh_iat_us;
    bool fresh;
};

/* Verifies `token` with the secret (libjwt) and reads its claims. */
static void read_token(const char *token, const char *type, struct pair *p)
{
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)), 0,
                 "a %s token that does not verify", type);
    const char *t = jwt_get_grant(jwt, "type");
    cr_assert_not_null(t);
    cr_assert_str_eq(t, type);
    const char *sub = jwt_get_grant(jwt, "sub");
    cr_assert_not_null(sub);
    p->uid = strtoll(sub, NULL, 10);
    const char *jti = jwt_get_grant(jwt, "jti");
    cr_assert_not_null(jti);
    cr_assert_eq(strlen(jti), 22, "token ids are 22 characters (proto/README.md)");
    if (strcmp(type, "access") == 0) {
        snprintf(p->access_jti, sizeof p->access_jti, "%s", jti);
        p->access_exp = jwt_get_grant_int(jwt, "exp");
        p->fresh = jwt_get_grant_bool(jwt, "fresh") == 1;
    } else {
        snprintf(p->refresh_jti, sizeof p->refresh_jti, "%s", jti);
        const char *fam = jwt_get_grant(jwt, "fam");
        cr_assert_not_null(fam);
        snprintf(p->fam, sizeof p->fam, "%s", fam);
        p->refresh_iat_us = jwt_get_grant_int(jwt, "iat_us");
    }
    jwt_free(jwt);
}

/* Checks the token-pair result of login and refresh and reads both tokens. */
static void read_pair(const struct reply *r, struct pair *p)
{
    cr_assert_eq(r->status, 200);
    cr_assert_eq(r->result->type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(r->result->via.map.size, 4);
    expect_field(r->result, "token_type", "Bearer");
    cr_expect_eq(field_int(r->result, "expires_in"), cfg.access_ttl);
    char *access = field_str(r->result, "access_token");
    char *refresh = field_str(r->result, "refresh_token");
    cr_assert_not_null(access);
    cr_assert_not_null(refresh);
    memset(p, 0, sizeof *p);
    read_token(access, "access", p);
    int64_t uid = p->uid;
    read_token(refresh, "refresh", p);
    cr_expect_eq(p->uid, uid, "the two tokens name different users");
    free(access);
    free(refresh);
}

static void login(const char *email, const char *pw, struct reply *r)
{
    call("auth.login", 0, ARGS(S("email", email), S("password", pw)), r);
}

static void login_ok(const char *email, const char *pw, struct pair *p)
{
    struct reply r;
    login(email, pw, &r);
    read_pair(&r, p);
    reply_free(&r);
}

static void refresh(const struct pair *p, struct reply *r)
{
    call("auth.refresh", p->uid,
         ARGS(S("jti", p->refresh_jti), S("fam", p->fam), I("iat_us", p->refresh_iat_us)), r);
}

/* ---- auth.register ------------------------------------------------------------ */

Test(handlers, register_returns_the_normalised_user_and_stores_only_a_hash)
{
    struct reply r;
    call("auth.register", 0, ARGS(S("email", "  Alice@Example.COM\t"), S("password", PW)), &r);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.result->type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(r.result->via.map.size, 4, "a user is id, email, created_at, updated_at");
    int64_t id = field_int(r.result, "id");
    cr_expect_gt(id, 0);
    expect_field(r.result, "email", EMAIL);
    char *created = field_str(r.result, "created_at");
    char *updated = field_str(r.result, "updated_at");
    cr_assert_not_null(created);
    cr_assert_not_null(updated);
    cr_expect_eq(strlen(created), TD_TIMESTAMP_LEN);
    cr_expect_str_eq(created, updated);
    free(created);
    free(updated);
    reply_free(&r);

    struct auth_user u;
    TD_ASSERT_OK(auth_store_user_by_email(auth_store_conn(store, 0), EMAIL, &u));
    cr_expect_eq(u.id, id);
    cr_expect_eq(strncmp(u.hash, "$argon2id$", 10), 0, "not an argon2id hash: %.12s", u.hash);
    cr_expect_null(strstr(u.hash, PW));
    cr_expect_eq(crypto_pwhash_str_verify(u.hash, PW, strlen(PW)), 0);
}

Test(handlers, a_registered_email_is_409_email_exists_in_any_case_or_spacing)
{
    register_ok(EMAIL, PW);
    const char *again[] = {EMAIL, "ALICE@example.com", " alice@EXAMPLE.com "};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
        struct reply r;
        call("auth.register", 0, ARGS(S("email", again[i]), S("password", "Other-pass-2")), &r);
        assert_error(&r, 409, "email_exists");
        reply_free(&r);
    }
    /* the first registration's password still logs in */
    struct pair p;
    login_ok(EMAIL, PW, &p);
}

Test(handlers, register_names_every_broken_password_rule)
{
    char long_pw[140];
    memset(long_pw, 'a', 129);
    memcpy(long_pw, "A1!", 3);
    long_pw[129] = '\0';
    static const struct {
        const char *pw;
        unsigned problems;
    } cases[] = {
        {"Ab1!", AUTH_PW_TOO_SHORT},
        {"abcdefg1!", AUTH_PW_NO_UPPER},
        {"ABCDEFG1!", AUTH_PW_NO_LOWER},
        {"Abcdefgh!", AUTH_PW_NO_DIGIT},
        {"Abcdefgh1", AUTH_PW_NO_SPECIAL},
        {"Abcdefg 1", AUTH_PW_NO_SPECIAL}, /* a space is not special */
        {"abcdefgh", AUTH_PW_NO_UPPER | AUTH_PW_NO_DIGIT | AUTH_PW_NO_SPECIAL},
        {"", AUTH_PW_TOO_SHORT | AUTH_PW_NO_UPPER | AUTH_PW_NO_LOWER | AUTH_PW_NO_DIGIT |
                 AUTH_PW_NO_SPECIAL},
        {"Abcdef1!\x01", AUTH_PW_BAD_UTF8},
        {"Abcdef1!\xff", AUTH_PW_BAD_UTF8},
        {"Abcdef1!\xed\xa0\x80", AUTH_PW_BAD_UTF8}, /* a surrogate */
        {NULL, AUTH_PW_TOO_LONG},                   /* long_pw: 129 characters */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *pw = cases[i].pw ? cases[i].pw : long_pw;
        char email[64];
        snprintf(email, sizeof email, "pw%zu@example.com", i);
        struct reply r;
        call("auth.register", 0, ARGS(S("email", email), S("password", pw)), &r);
        assert_error(&r, 400, "validation_error");
        unsigned n = 0;
        for (unsigned bit = 1; bit <= AUTH_PW_NO_SPECIAL; bit <<= 1) {
            if ((cases[i].problems & bit) == 0)
                continue;
            n++;
            cr_expect(has_detail(&r, "password", auth_password_problem_message(bit)),
                      "case %zu: no detail '%s'", i, auth_password_problem_message(bit));
        }
        cr_expect_eq(detail_count(&r, "password"), n, "case %zu: %u details, want %u", i,
                     detail_count(&r, "password"), n);
        cr_expect_eq(detail_count(&r, "email"), 0, "case %zu: the email was fine", i);
        reply_free(&r);
        struct auth_user u;
        cr_expect_eq(auth_store_user_by_email(auth_store_conn(store, 0), email, &u), TD_EUSERNOTFOUND,
                     "case %zu: a user was stored", i);
    }
}

Test(handlers, register_refuses_malformed_emails)
{
    char long_email[300];
    memset(long_email, 'a', 251);
    memcpy(long_email + 251, "@b.com", 7); /* 257 characters */
    const char *bad[] = {"", "   ", "plain", "a@b", "@example.com", "a@", "a b@example.com",
                         "a@@example.com", "a..b@example.com", "a@example..com",
                         "\xc3\xa9@example.com", long_email};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct reply r;
        call("auth.register", 0, ARGS(S("email", bad[i]), S("password", PW)), &r);
        assert_error(&r, 400, "validation_error");
        cr_expect_eq(detail_count(&r, "email"), 1, "case %zu: want one email detail", i);
        cr_expect_eq(detail_count(&r, "password"), 0, "case %zu", i);
        reply_free(&r);
    }
}

Test(handlers, unknown_duplicate_and_non_string_keys_are_named)
{
    struct reply r;
    call("auth.register", 0,
         ARGS(S("email", EMAIL), S("password", PW), S("name", "Alice")), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "name", "Unknown field."));
    reply_free(&r);

    /* the envelope's keys are unique-checked by the RPC server; args' keys
     * by the handler (proto/README.md: "an unknown key, a duplicate key") */
    call("auth.register", 0,
         ARGS(S("email", EMAIL), S("password", PW), S("email", "mallory@example.com")), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "email", "Duplicate field."));
    reply_free(&r);

    call("auth.register", 0, ARGS(S("email", EMAIL), S("password", PW), {"x", BIN_KEY, NULL, 1}),
         &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "?", "Field names must be strings."));
    reply_free(&r);

    /* an empty name is a name nobody expects */
    call("auth.register", 0, ARGS(S("email", EMAIL), S("password", PW), I("", 1)), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "", "Unknown field."));
    reply_free(&r);

    struct auth_user u;
    cr_expect_eq(auth_store_user_by_email(auth_store_conn(store, 0), EMAIL, &u), TD_EUSERNOTFOUND,
                 "a request with a bad key registered anyway");
    cr_expect_eq(auth_store_user_by_email(auth_store_conn(store, 0), "mallory@example.com", &u),
                 TD_EUSERNOTFOUND);
}

Test(handlers, missing_and_mistyped_arguments_are_named)
{
    static const struct {
        struct arg email, password;
        const char *email_msg, *password_msg;
    } cases[] = {
        {I("email", 5), S("password", PW), "Not a valid string.", NULL},
        {S("email", EMAIL), I("password", 12345678), NULL, "Not a valid string."},
        {N("email"), N("password"), "Not a valid string.", "Not a valid string."},
        {{"email", BOOL, NULL, 1}, {"password", ARRAY, NULL, 0}, "Not a valid string.",
         "Not a valid string."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct arg args[] = {cases[i].email, cases[i].password};
        struct reply r;
        call("auth.register", 0, args, 2, &r);
        assert_error(&r, 400, "validation_error");
        if (cases[i].email_msg)
            cr_expect(has_detail(&r, "email", cases[i].email_msg), "case %zu: email", i);
        if (cases[i].password_msg)
            cr_expect(has_detail(&r, "password", cases[i].password_msg), "case %zu: password",
                      i);
        reply_free(&r);
    }
    /* no args at all (nil), and an empty map: both fields missing */
    struct reply r;
    call("auth.register", 0, NULL, 0, &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "email", "Missing data for required field."));
    cr_expect(has_detail(&r, "password", "Missing data for required field."));
    reply_free(&r);
    call("auth.login", 0, EMPTY_MAP, &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "email", "Missing data for required field."));
    cr_expect(has_detail(&r, "password", "Missing data for required field."));
    reply_free(&r);
}

/* ---- auth.login --------------------------------------------------------------- */

Test(handlers, login_issues_a_fresh_access_token_and_a_refresh_token_for_the_user)
{
    int64_t id = register_ok(EMAIL, PW);
    struct pair p;
    login_ok("  ALICE@example.com ", PW, &p);
    cr_expect_eq(p.uid, id);
    cr_expect(p.fresh, "a login's access token is fresh (proto/README.md, auth.refresh)");
    cr_expect_gt(p.access_exp, td_now_us() / 1000000);
    cr_expect_neq(strcmp(p.access_jti, p.refresh_jti), 0);
}

Test(handlers, a_wrong_password_and_an_unknown_email_get_the_same_401)
{
    register_ok(EMAIL, PW);
    struct reply wrong, unknown, malformed;
    login(EMAIL, "Correct-horse-2", &wrong);
    login("bob@example.com", PW, &unknown);
    login("not-an-email", PW, &malformed); /* "a malformed email just matches nobody" */
    const struct reply *all[] = {&wrong, &unknown, &malformed};
    for (size_t i = 0; i < 3; i++) {
        assert_error(all[i], 401, "invalid_credentials");
        cr_expect_null(td_mp_map_get(all[i]->error, "details"), "case %zu has details", i);
    }
    /* byte for byte the same error: nothing tells the cases apart */
    const msgpack_object *e0 = wrong.error;
    for (size_t i = 1; i < 3; i++) {
        char a[256] = "", b[256] = "";
        TD_ASSERT_OK(td_mp_copy_str(td_mp_map_get(e0, "message"), a, sizeof a));
        TD_ASSERT_OK(td_mp_copy_str(td_mp_map_get(all[i]->error, "message"), b, sizeof b));
        cr_expect_str_eq(a, b, "case %zu", i);
        cr_expect_eq(all[i]->error->via.map.size, e0->via.map.size, "case %zu", i);
    }
    reply_free(&wrong);
    reply_free(&unknown);
    reply_free(&malformed);
}

Test(handlers, login_refuses_only_over_long_input_as_a_client_error)
{
    char long_email[300];
    memset(long_email, 'a', 251);
    memcpy(long_email + 251, "@b.com", 7);
    char long_pw[140];
    memset(long_pw, 'a', 129);
    long_pw[129] = '\0';
    register_ok(EMAIL, PW);
    struct reply r;
    login(long_email, PW, &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "email", auth_email_too_long));
    reply_free(&r);
    login(EMAIL, long_pw, &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "password", "Longer than maximum length 128."));
    reply_free(&r);
    /* a given password is not judged by the policy: a short one is a 401 */
    login(EMAIL, "x", &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
}

Test(handlers, login_upgrades_a_hash_made_at_a_lower_cost)
{
    register_ok(EMAIL, PW);
    struct auth_user before, after;
    TD_ASSERT_OK(auth_store_user_by_email(auth_store_conn(store, 0), EMAIL, &before));
    cfg.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN + 1; /* the operator raised the cost */
    struct pair p;
    login_ok(EMAIL, PW, &p);
    TD_ASSERT_OK(auth_store_user_by_email(auth_store_conn(store, 0), EMAIL, &after));
    cr_expect_neq(strcmp(before.hash, after.hash), 0, "hash not upgraded");
    cr_expect_eq(crypto_pwhash_str_needs_rehash(after.hash, (unsigned long long)cfg.pwhash_ops,
                                                (size_t)cfg.pwhash_mem),
                 0, "upgraded to the wrong cost");
    cr_expect_eq(after.updated_us, before.updated_us, "an upgrade is not the user's change");
    /* the refresh family made by that login matches the new hash */
    struct reply r;
    refresh(&p, &r);
    cr_expect_eq(r.status, 200);
    reply_free(&r);
    login_ok(EMAIL, PW, &p);
}

/* ---- auth.refresh / auth.logout ---------------------------------------------- */

Test(handlers, refresh_rotates_and_a_reused_refresh_token_revokes_its_login)
{
    register_ok(EMAIL, PW);
    struct pair first, second;
    login_ok(EMAIL, PW, &first);
    struct reply r;
    refresh(&first, &r);
    read_pair(&r, &second);
    reply_free(&r);
    cr_expect_eq(second.uid, first.uid);
    cr_expect_str_eq(second.fam, first.fam, "a refresh stays in its login's family");
    cr_expect_str_neq(second.refresh_jti, first.refresh_jti);
    cr_expect_not(second.fresh, "a refreshed access token is not fresh");

    /* the rotated-away token again: theft, the whole family goes */
    refresh(&first, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);
    refresh(&second, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);

    /* another login is another family, untouched */
    struct pair other;
    login_ok(EMAIL, PW, &other);
    refresh(&other, &r);
    cr_expect_eq(r.status, 200);
    reply_free(&r);
}

Test(handlers, refresh_needs_a_user_and_well_formed_token_ids)
{
    register_ok(EMAIL, PW);
    struct pair p;
    login_ok(EMAIL, PW, &p);
    struct reply r;
    struct pair nobody = p;
    nobody.uid = 0;
    refresh(&nobody, &r);
    assert_error(&r, 401, "invalid_token");
    reply_free(&r);
    nobody.uid = p.uid + 1000; /* no such user */
    refresh(&nobody, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);

    /* The last one is 65 characters: one past the longest token id. */
    static const char *const bad_ids[] = {
        "", "has space", "dot.ted", "slash/",
        "01234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        call("auth.refresh", p.uid,
             ARGS(S("jti", bad_ids[i]), S("fam", p.fam), I("iat_us", p.refresh_iat_us)), &r);
        assert_error(&r, 400, "validation_error");
        cr_expect(has_detail(&r, "jti", "Not a valid token id."), "case %zu", i);
        reply_free(&r);
    }
    call("auth.refresh", p.uid,
         ARGS(S("jti", p.refresh_jti), S("fam", p.fam), S("iat_us", "now")), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "iat_us", "Not a valid integer."));
    reply_free(&r);
    /* nothing above spent the token */
    refresh(&p, &r);
    cr_expect_eq(r.status, 200);
    reply_free(&r);
}

/* Whether auth.revocations' first page lists `jti`. */
static bool revoked(const char *jti)
{
    struct reply r;
    call("auth.revocations", 0, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    const msgpack_object *jtis = td_mp_map_get(r.result, "jtis");
    cr_assert_not_null(jtis);
    bool found = false;
    for (uint32_t i = 0; !found && i < jtis->via.array.size; i++) {
        const msgpack_object *row = &jtis->via.array.ptr[i];
        const msgpack_object *s = &row->via.array.ptr[0];
        found = s->via.str.size == strlen(jti) && memcmp(s->via.str.ptr, jti, s->via.str.size) == 0;
    }
    reply_free(&r);
    return found;
}

Test(handlers, logout_revokes_the_access_token_and_the_refresh_family)
{
    register_ok(EMAIL, PW);
    struct pair p, other;
    login_ok(EMAIL, PW, &p);
    login_ok(EMAIL, PW, &other);
    struct reply r;
    call("auth.logout", p.uid,
         ARGS(S("jti", p.access_jti), I("exp", p.access_exp), S("refresh_fam", p.fam)), &r);
    cr_assert_eq(r.status, 200);
    expect_field(r.result, "message", "Successfully logged out");
    reply_free(&r);
    cr_expect(revoked(p.access_jti));
    cr_expect_not(revoked(other.access_jti), "logout revoked another login's token");
    refresh(&p, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);
    refresh(&other, &r);
    cr_expect_eq(r.status, 200, "logout revoked another login's family");
    reply_free(&r);

    /* without a user it is refused, with an unknown key too */
    call("auth.logout", 0, ARGS(S("jti", other.access_jti), I("exp", other.access_exp)), &r);
    assert_error(&r, 401, "invalid_token");
    reply_free(&r);
    call("auth.logout", other.uid,
         ARGS(S("jti", other.access_jti), I("exp", other.access_exp), S("fam", other.fam)), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "fam", "Unknown field."));
    reply_free(&r);
    cr_expect_not(revoked(other.access_jti));
}

/* ---- auth.me ---------------------------------------------------------------- */

Test(handlers, me_returns_the_caller_and_404_for_no_or_an_unknown_user)
{
    int64_t id = register_ok(EMAIL, PW);
    struct reply r;
    call("auth.me", id, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    cr_expect_eq(field_int(r.result, "id"), id);
    expect_field(r.result, "email", EMAIL);
    cr_expect_eq(r.result->via.map.size, 4, "no hash or anything else leaves td-auth");
    reply_free(&r);
    call("auth.me", id, EMPTY_MAP, &r); /* {} is as good as none */
    cr_expect_eq(r.status, 200);
    reply_free(&r);

    const int64_t nobody[] = {0, id + 1};
    for (size_t i = 0; i < 2; i++) {
        call("auth.me", nobody[i], NULL, 0, &r);
        assert_error(&r, 404, "user_not_found");
        reply_free(&r);
    }
    call("auth.me", id, ARGS(I("id", id + 1)), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "id", "Unknown field."));
    reply_free(&r);
}

/* ---- auth.delete / auth.password --------------------------------------------- */

/* Checks a {"message", "cutoff": {uid, cutoff_us, until}} result. */
static void expect_cutoff_reply(const struct reply *r, const char *message, int64_t uid)
{
    cr_assert_eq(r->status, 200);
    expect_field(r->result, "message", message);
    const msgpack_object *c = td_mp_map_get(r->result, "cutoff");
    cr_assert_not_null(c);
    cr_expect_eq(field_int(c, "uid"), uid);
    int64_t cutoff_us = field_int(c, "cutoff_us");
    cr_expect_gt(cutoff_us, td_now_us() - 60 * 1000000LL);
    /* kept until the longest-lived token issued before it has expired
     * (refresh: 604800 s) plus the largest leeway */
    cr_expect_gt(field_int(c, "until"), cutoff_us / 1000000 + cfg.refresh_ttl);
}

Test(handlers, delete_needs_the_password_then_removes_the_account_and_queues_td_diary)
{
    int64_t id = register_ok(EMAIL, PW);
    struct pair p;
    login_ok(EMAIL, PW, &p);
    struct reply r;
    call("auth.delete", id, ARGS(S("password", "Wrong-horse-1")), &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
    call("auth.me", id, NULL, 0, &r);
    cr_expect_eq(r.status, 200, "a refused delete deleted");
    reply_free(&r);

    cr_expect_eq(atomic_load(&nerased), 0, "td-diary was asked to erase on a wrong password");
    call("auth.delete", id, ARGS(S("password", PW)), &r);
    expect_cutoff_reply(&r, "Account deleted", id);
    reply_free(&r);
    /* td-diary erased the entries before the account went. */
    cr_assert_eq(atomic_load(&nerased), 1);
    cr_expect_eq(erased[0], id);

    call("auth.me", id, NULL, 0, &r);
    assert_error(&r, 404, "user_not_found");
    reply_free(&r);
    login(EMAIL, PW, &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
    refresh(&p, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);
    call("auth.delete", id, ARGS(S("password", PW)), &r);
    assert_error(&r, 404, "user_not_found");
    reply_free(&r);

    /* diary.delete_user is queued for the outbox (not running here) */
    struct auth_outbox_job jobs[4];
    int n = auth_store_outbox_take(auth_store_conn(store, 0), "test",
                                   td_now_us() / 1000000 + 3600, 30, jobs, 4);
    cr_assert_eq(n, 1, "outbox jobs: %d", n);
    cr_expect_eq(jobs[0].user_id, id);
    /* and the email is free again */
    register_ok(EMAIL, PW);
}

Test(handlers, delete_with_td_diary_down_deletes_nothing_and_answers_503)
{
    int64_t id = register_ok(EMAIL, PW);
    td_rpc_server_stop(&diary, 1000);
    struct reply r;
    call("auth.delete", id, ARGS(S("password", PW)), &r);
    assert_error(&r, 503, "service_unavailable");
    reply_free(&r);
    call("auth.me", id, NULL, 0, &r);
    cr_expect_eq(r.status, 200, "the account went without its entries");
    reply_free(&r);
    struct auth_outbox_job jobs[4];
    cr_expect_eq(auth_store_outbox_take(auth_store_conn(store, 0), "test",
                                        td_now_us() / 1000000 + 3600, 30, jobs, 4),
                 0, "a refused deletion left work for td-diary");
    /* td-diary back: the same request deletes. */
    fake_diary_start();
    call("auth.delete", id, ARGS(S("password", PW)), &r);
    expect_cutoff_reply(&r, "Account deleted", id);
    reply_free(&r);
    cr_expect_eq(atomic_load(&nerased), 1);
}

Test(handlers, delete_and_password_refuse_missing_or_mistyped_passwords)
{
    int64_t id = register_ok(EMAIL, PW);
    struct reply r;
    call("auth.delete", id, NULL, 0, &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "password", "Missing data for required field."));
    reply_free(&r);
    call("auth.delete", id, ARGS(I("password", 1)), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "password", "Not a valid string."));
    reply_free(&r);
    call("auth.password", id, ARGS(S("current_password", PW)), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "new_password", "Missing data for required field."));
    reply_free(&r);
    call("auth.delete", 0, ARGS(S("password", PW)), &r);
    assert_error(&r, 404, "user_not_found");
    reply_free(&r);
}

Test(handlers, password_change_checks_both_passwords_then_revokes_every_login)
{
    int64_t id = register_ok(EMAIL, PW);
    struct pair p;
    login_ok(EMAIL, PW, &p);
    struct reply r;
    call("auth.password", id,
         ARGS(S("current_password", "Wrong-horse-1"), S("new_password", "New-horse-22")), &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
    call("auth.password", id, ARGS(S("current_password", PW), S("new_password", "weak")), &r);
    assert_error(&r, 400, "validation_error");
    cr_expect(has_detail(&r, "new_password", auth_password_problem_message(AUTH_PW_TOO_SHORT)));
    cr_expect_eq(detail_count(&r, "current_password"), 0);
    reply_free(&r);

    call("auth.password", id,
         ARGS(S("current_password", PW), S("new_password", "New-horse-22")), &r);
    expect_cutoff_reply(&r, "Password changed", id);
    reply_free(&r);

    refresh(&p, &r);
    assert_error(&r, 401, "token_revoked");
    reply_free(&r);
    login(EMAIL, PW, &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
    struct pair q;
    login_ok(EMAIL, "New-horse-22", &q);
    cr_expect_eq(q.uid, id);
    refresh(&q, &r);
    cr_expect_eq(r.status, 200, "a login after the change is not under its cut-off");
    reply_free(&r);
}

Test(handlers, wrong_passwords_lock_re_authentication_but_not_login)
{
    int64_t id = register_ok(EMAIL, PW);
    struct reply r;
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES; i++) {
        call("auth.delete", id, ARGS(S("password", "Wrong-horse-1")), &r);
        assert_error(&r, 401, "invalid_credentials");
        reply_free(&r);
    }
    /* now even the right password is refused, unchecked */
    call("auth.delete", id, ARGS(S("password", PW)), &r);
    assert_error(&r, 401, "invalid_credentials");
    char msg[128] = "";
    TD_ASSERT_OK(td_mp_copy_str(td_mp_map_get(r.error, "message"), msg, sizeof msg));
    cr_expect_str_eq(msg, "Too many wrong passwords; try again in 15 minutes");
    reply_free(&r);
    call("auth.password", id, ARGS(S("current_password", PW), S("new_password", "New-horse-22")),
         &r);
    assert_error(&r, 401, "invalid_credentials");
    reply_free(&r);
    call("auth.me", id, NULL, 0, &r);
    cr_expect_eq(r.status, 200, "the locked-out delete deleted");
    reply_free(&r);
    /* login is not locked (lockout.h: it would let anyone lock anyone out) */
    struct pair p;
    login_ok(EMAIL, PW, &p);
}

/* auth.logout used to take any integer as exp (only its type was checked),
 * and the store keeps the revocation until auth_revocation_keep_until(exp)
 * = exp + 301 (services/auth/logic.c): a signed overflow for an exp near
 * INT64_MAX, so the logout answered 200 and the revocation was never listed.
 * exp is now a Unix time up to AUTH_EXP_MAX (services/auth/logic.h), which
 * also keeps the gateway's own leeway sum (gateway/revocations.c) in range. */
Test(handlers, a_logout_is_never_accepted_and_then_dropped_for_an_extreme_exp)
{
    int64_t id = register_ok(EMAIL, PW);
    struct pair p;
    login_ok(EMAIL, PW, &p);
    struct reply r;
    const int64_t bad[] = {INT64_MAX, INT64_MAX - 300, AUTH_EXP_MAX + 1, 0, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call("auth.logout", id, ARGS(S("jti", p.access_jti), I("exp", bad[i])), &r);
        assert_error(&r, 400, "validation_error");
        cr_expect_gt(detail_count(&r, "exp"), 0, "exp %lld: the refusal must name exp",
                     (long long)bad[i]);
        reply_free(&r);
    }
    /* The largest one is kept, and listed. */
    call("auth.logout", id, ARGS(S("jti", p.access_jti), I("exp", AUTH_EXP_MAX)), &r);
    cr_expect_eq(r.status, 200);
    cr_expect(revoked(p.access_jti), "logout answered 200 but the revocation was dropped");
    reply_free(&r);
}
