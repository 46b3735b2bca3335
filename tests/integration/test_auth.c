/*
 * test_auth.c — every /auth route of the contract (gateway/docs/openapi.json) through the gateway, against the
 * real daemons: the whole token life cycle, validation, and the token checks
 * (forged, tampered, wrong algorithm, wrong type, expired, not yet valid,
 * malformed headers).
 */
#include "auth_helpers.h"

#include <pthread.h>

static struct th_stack stack;

static void setup(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    cr_assert_eq(th_stack_start(&stack, NULL), 0, "stack did not start");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 90);

Test(auth, whole_flow_register_login_me_refresh_logout)
{
    struct th_response r;
    req(&stack, "POST", "/auth/register", NULL,
        "{\"email\":\"  Flow@Example.COM \",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_int_t id = json_integer_value(json_object_get(r.json, "id"));
    cr_assert_gt(id, 0);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), "flow@example.com");
    cr_assert_eq(strlen(json_string_value(json_object_get(r.json, "created_at"))), 27);
    cr_assert_eq(json_object_size(r.json), 4, "user has extra fields: %s", r.body);
    char cc[64];
    cr_assert(th_header(&r, "Cache-Control", cc, sizeof cc));
    cr_assert_str_eq(cc, "no-store");
    th_response_free(&r);

    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"flow@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "token_type")), "Bearer");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "expires_in")), 900);
    struct tokens t1;
    tokens_from(&r, &t1, "login");

    /* Claims as the contract lists them. */
    json_t *c = token_claims(t1.access);
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)id);
    cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), sub);
    cr_assert_str_eq(json_string_value(json_object_get(c, "type")), "access");
    cr_assert(json_is_true(json_object_get(c, "fresh")));
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")) -
                     json_integer_value(json_object_get(c, "iat")),
                 900);
    cr_assert_geq(strlen(json_string_value(json_object_get(c, "jti"))), 22);
    cr_assert(json_is_integer(json_object_get(c, "nbf")));
    json_decref(c);
    c = token_claims(t1.refresh);
    cr_assert_str_eq(json_string_value(json_object_get(c, "type")), "refresh");
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")) -
                     json_integer_value(json_object_get(c, "iat")),
                 604800);
    json_decref(c);

    req(&stack, "GET", "/auth/me", t1.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "email")), "flow@example.com");
    th_response_free(&r);

    /* Refresh rotates: a new pair, the access token not fresh. */
    req(&stack, "POST", "/auth/refresh", t1.refresh, NULL, &r);
    struct tokens t2;
    tokens_from(&r, &t2, "refresh");
    cr_assert_str_neq(t2.refresh, t1.refresh);
    c = token_claims(t2.access);
    cr_assert(json_is_false(json_object_get(c, "fresh")));
    json_decref(c);

    req(&stack, "GET", "/auth/me", t2.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    /* Logout revokes the access token and the given refresh token. */
    char body[2200];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", t2.refresh);
    req(&stack, "POST", "/auth/logout", t2.access, body, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")),
                     "Successfully logged out");
    th_response_free(&r);

    req(&stack, "GET", "/auth/me", t2.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "access token after logout");
    req(&stack, "POST", "/auth/refresh", t2.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "refresh token after logout");
    /* The rotated-away refresh token is revoked too. */
    req(&stack, "POST", "/auth/refresh", t1.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "rotated refresh token");
    /* The first access token was not logged out: still good. */
    req(&stack, "GET", "/auth/me", t1.access, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
}

Test(auth, reused_refresh_token_kills_the_family)
{
    register_user(&stack, "reuse@example.com", GOOD_PASSWORD);
    struct tokens t1, t2, t3, other;
    login(&stack, "reuse@example.com", GOOD_PASSWORD, &t1);
    login(&stack, "reuse@example.com", GOOD_PASSWORD, &other); /* a second login */
    struct th_response r;
    req(&stack, "POST", "/auth/refresh", t1.refresh, NULL, &r);
    tokens_from(&r, &t2, "first rotation");
    req(&stack, "POST", "/auth/refresh", t1.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "rotated token presented again");
    /* Theft assumed: the thief's (or owner's) current token is dead too. */
    req(&stack, "POST", "/auth/refresh", t2.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "current token of a killed family");
    /* Another login of the same user is not affected. */
    req(&stack, "POST", "/auth/refresh", other.refresh, NULL, &r);
    tokens_from(&r, &t3, "other family");
}

Test(auth, register_validation)
{
    struct th_response r;
    const char *pw = "\"password\":\"" GOOD_PASSWORD "\"";
    char body[1024];

    req(&stack, "POST", "/auth/register", NULL, "{}", &r);
    cr_expect(json_object_get(json_object_get(r.json, "details"), "password"));
    expect_invalid_field(&r, "email", "empty object");
    snprintf(body, sizeof body, "{%s}", pw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "email", "missing email");
    req(&stack, "POST", "/auth/register", NULL, "{\"email\":\"a@example.com\"}", &r);
    expect_invalid_field(&r, "password", "missing password");
    snprintf(body, sizeof body, "{\"email\":42,%s}", pw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "email", "email of the wrong type");
    req(&stack, "POST", "/auth/register", NULL,
        "{\"email\":\"a@example.com\",\"password\":[\"x\"]}", &r);
    expect_invalid_field(&r, "password", "password of the wrong type");
    snprintf(body, sizeof body, "{\"email\":null,%s}", pw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "email", "null email");
    snprintf(body, sizeof body, "{\"email\":\"a@example.com\",%s,\"admin\":true}", pw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "admin", "unknown field");

    req(&stack, "POST", "/auth/register", NULL, "[1,2]", &r);
    expect_error(&r, 400, "invalid_json", "array body");
    req(&stack, "POST", "/auth/register", NULL, "\"x\"", &r);
    expect_error(&r, 400, "invalid_json", "string body");
    req(&stack, "POST", "/auth/register", NULL, "{\"email\":", &r);
    expect_error(&r, 400, "invalid_json", "truncated body");

    const char *bad_emails[] = {"plain", "a@b", "@example.com", "a@.com", "a b@example.com",
                                "a@@example.com", "a..b@example.com", "a@example.c0m", "   "};
    for (size_t i = 0; i < sizeof bad_emails / sizeof bad_emails[0]; i++) {
        snprintf(body, sizeof body, "{\"email\":\"%s\",%s}", bad_emails[i], pw);
        req(&stack, "POST", "/auth/register", NULL, body, &r);
        expect_invalid_field(&r, "email", bad_emails[i]);
    }
    /* 255 characters: one over. */
    char longmail[300];
    memset(longmail, 'a', 243);
    strcpy(longmail + 243, "@example.com");
    cr_assert_eq(strlen(longmail), 255);
    snprintf(body, sizeof body, "{\"email\":\"%s\",%s}", longmail, pw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "email", "255-character email");

    const char *bad_pw[] = {"Sh0rt!", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSpecial11"};
    for (size_t i = 0; i < sizeof bad_pw / sizeof bad_pw[0]; i++) {
        snprintf(body, sizeof body, "{\"email\":\"p%zu@example.com\",\"password\":\"%s\"}", i,
                 bad_pw[i]);
        req(&stack, "POST", "/auth/register", NULL, body, &r);
        expect_invalid_field(&r, "password", bad_pw[i]);
    }
    char longpw[200];
    memset(longpw, 'a', 129);
    memcpy(longpw, "A1!", 3);
    longpw[129] = '\0';
    snprintf(body, sizeof body, "{\"email\":\"long@example.com\",\"password\":\"%s\"}", longpw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    expect_invalid_field(&r, "password", "129-character password");
    /* 128 characters exactly is fine; so is a non-ASCII special character. */
    longpw[128] = '\0';
    snprintf(body, sizeof body, "{\"email\":\"long@example.com\",\"password\":\"%s\"}", longpw);
    req(&stack, "POST", "/auth/register", NULL, body, &r);
    cr_expect_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);

    /* Nothing above created an account. */
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"a@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "login of a refused registration");
}

Test(auth, duplicate_email_in_any_case_or_whitespace_is_409)
{
    register_user(&stack, "dup@example.com", GOOD_PASSWORD);
    const char *variants[] = {"dup@example.com", "DUP@EXAMPLE.COM", "  Dup@Example.com  ",
                              "\\tdup@example.com\\n"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"Other1!pass\"}",
                 variants[i]);
        struct th_response r;
        req(&stack, "POST", "/auth/register", NULL, body, &r);
        expect_error(&r, 409, "email_exists", variants[i]);
    }
}

Test(auth, login_refusals_look_the_same)
{
    register_user(&stack, "known@example.com", GOOD_PASSWORD);
    struct th_response a, b;
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"known@example.com\",\"password\":\"Wrong1!pass\"}", &a);
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"unknown@example.com\",\"password\":\"Wrong1!pass\"}", &b);
    cr_expect_eq(a.status, 401);
    cr_expect_str_eq(a.body, b.body, "bodies differ: %s vs %s", a.body, b.body);
    char wa[64], wb[64];
    cr_expect(th_header(&a, "WWW-Authenticate", wa, sizeof wa));
    cr_expect(th_header(&b, "WWW-Authenticate", wb, sizeof wb));
    cr_expect_str_eq(wa, wb);
    expect_error(&a, 401, "invalid_credentials", "wrong password");
    expect_error(&b, 401, "invalid_credentials", "unknown email");

    struct th_response r;
    req(&stack, "POST", "/auth/login", NULL, "{\"email\":\"known@example.com\"}", &r);
    expect_invalid_field(&r, "password", "login without password");
    req(&stack, "POST", "/auth/login", NULL, "{\"email\":true,\"password\":\"x\"}", &r);
    expect_invalid_field(&r, "email", "login with a boolean email");
    /* Email case and spaces do not matter at login either. */
    struct tokens t;
    login(&stack, " KNOWN@example.com", GOOD_PASSWORD, &t);
}

/* A forgery: the control token's claims with a few changes, signed as said. */
enum claim_change { KEEP = 0, DROP, AT, AT_US, TEXT, REAL_AT, UID_AS_INT };
struct claim_edit {
    const char *claim;
    enum claim_change change; /* AT: now + v s; AT_US: the same in µs; REAL_AT: now + v + 0.5 */
    long long v;
    const char *text;
};
struct forgery {
    const char *what;
    jwt_alg_t alg;
    const char *key;
    struct claim_edit edits[4];
    long status;
    const char *error;
};

#define OTHER_KEY "another-key-0123456789abcdefghijkl"
#define EXPIRED                                                                                    \
    {"iat", AT, -1000, NULL}, {"nbf", AT, -1000, NULL}, {"iat_us", AT_US, -1000, NULL},          \
        {"exp", AT, -100, NULL}
#define WITHOUT(c)                                                                                 \
    {"without " c, JWT_ALG_HS256, TH_JWT_SECRET, {{c, DROP, 0, NULL}}, 401, "invalid_token"}

static const struct forgery forgeries[] = {
    {"alg none", JWT_ALG_NONE, NULL, {{0}}, 401, "invalid_token"},
    {"other key", JWT_ALG_HS256, OTHER_KEY, {{0}}, 401, "invalid_token"},
    {"HS512 with the right key", JWT_ALG_HS512, TH_JWT_SECRET, {{0}}, 401, "invalid_token"},
    {"HS384 with the right key", JWT_ALG_HS384, TH_JWT_SECRET, {{0}}, 401, "invalid_token"},
    /* Expired, by the right key; expired and badly signed is invalid_token. */
    {"expired", JWT_ALG_HS256, TH_JWT_SECRET, {EXPIRED}, 401, "token_expired"},
    {"expired with a bad signature", JWT_ALG_HS256, OTHER_KEY, {EXPIRED}, 401, "invalid_token"},
    {"nbf in the future", JWT_ALG_HS256, TH_JWT_SECRET, {{"nbf", AT, 3600, NULL}}, 401,
     "invalid_token"},
    /* Required claims missing or mistyped. */
    WITHOUT("sub"), WITHOUT("type"), WITHOUT("exp"), WITHOUT("jti"), WITHOUT("iat"),
    WITHOUT("nbf"), WITHOUT("fresh"),
    {"integer sub", JWT_ALG_HS256, TH_JWT_SECRET, {{"sub", UID_AS_INT, 0, NULL}}, 401,
     "invalid_token"},
    {"string exp", JWT_ALG_HS256, TH_JWT_SECRET, {{"exp", TEXT, 0, "9999999999"}}, 401,
     "invalid_token"},
    {"real exp", JWT_ALG_HS256, TH_JWT_SECRET, {{"exp", REAL_AT, 900, NULL}}, 401,
     "invalid_token"},
    /* A well-signed token for an account that does not exist. */
    {"no such user", JWT_ALG_HS256, TH_JWT_SECRET, {{"sub", TEXT, 0, "999999"}}, 404,
     "user_not_found"},
};

static char *forge(const struct forgery *f, long long uid)
{
    json_t *c = good_claims(uid, "access");
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < sizeof f->edits / sizeof f->edits[0] && f->edits[i].claim; i++) {
        const struct claim_edit *e = &f->edits[i];
        json_t *v = NULL;
        switch (e->change) {
        case KEEP: break;
        case DROP:
            cr_assert_eq(json_object_del(c, e->claim), 0, "%s: no %s", f->what, e->claim);
            break;
        case AT: v = json_integer(now + e->v); break;
        case AT_US: v = json_integer((now + e->v) * 1000000); break;
        case TEXT: v = json_string(e->text); break;
        case REAL_AT: v = json_real((double)(now + e->v) + 0.5); break;
        case UID_AS_INT: v = json_integer(uid); break;
        }
        if (v != NULL)
            cr_assert_eq(json_object_set_new(c, e->claim, v), 0, "%s", f->what);
    }
    return sign(c, f->alg, f->key);
}

Test(auth, forged_and_malformed_tokens_are_refused)
{
    register_user(&stack, "forge@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "forge@example.com", GOOD_PASSWORD, &t);
    json_t *mine = token_claims(t.access);
    long long uid = atoll(json_string_value(json_object_get(mine, "sub")));
    json_decref(mine);
    struct th_response r;

    /* Our own well-formed token is accepted: each forgery differs in one
     * thing from it. */
    char *tok = sign(good_claims(uid, "access"), JWT_ALG_HS256, TH_JWT_SECRET);
    req(&stack, "GET", "/auth/me", tok, NULL, &r);
    cr_assert_eq(r.status, 200, "control token refused: %s", r.body);
    th_response_free(&r);
    free(tok);

    for (size_t i = 0; i < sizeof forgeries / sizeof forgeries[0]; i++) {
        tok = forge(&forgeries[i], uid);
        req(&stack, "GET", "/auth/me", tok, NULL, &r);
        expect_error(&r, forgeries[i].status, forgeries[i].error, forgeries[i].what);
        free(tok);
    }

    /* Tampered payload: the real token with sub changed, signature kept. */
    json_t *c = token_claims(t.access);
    char other[24];
    snprintf(other, sizeof other, "%lld", uid + 1000);
    json_object_set_new(c, "sub", json_string(other));
    char *payload = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char b64[2048], forged[4096];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)payload, strlen(payload),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(payload);
    const char *d1 = strchr(t.access, '.'), *d2 = strrchr(t.access, '.');
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - t.access), t.access, b64, d2);
    req(&stack, "GET", "/auth/me", forged, NULL, &r);
    expect_error(&r, 401, "invalid_token", "tampered payload");
}

Test(auth, token_type_must_match_the_route)
{
    register_user(&stack, "types@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "types@example.com", GOOD_PASSWORD, &t);
    struct th_response r;
    req(&stack, "GET", "/auth/me", t.refresh, NULL, &r);
    expect_error(&r, 401, "invalid_token", "refresh token as access token");
    req(&stack, "POST", "/auth/logout", t.refresh, NULL, &r);
    expect_error(&r, 401, "invalid_token", "refresh token to logout");
    req(&stack, "POST", "/auth/refresh", t.access, NULL, &r);
    expect_error(&r, 401, "invalid_token", "access token to refresh");
}

Test(auth, authorization_header_is_parsed_strictly)
{
    register_user(&stack, "hdr@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "hdr@example.com", GOOD_PASSWORD, &t);
    struct th_response r;

    cr_assert_eq(th_http(&stack, "GET", "/auth/me", NULL, NULL, &r), 0);
    char www[128];
    cr_assert(th_header(&r, "WWW-Authenticate", www, sizeof www));
    cr_expect_str_eq(www, "Bearer");
    expect_error(&r, 401, "missing_token", "no header");

    char h[4096];
    const char *bad[] = {"Bearer", "Bearer ", "Bearer  %s", "Bearer %s ", "Bearer %s x",
                         "Bearer %s.x", "Bearer abc", "Bearer %s="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fmt[64];
        snprintf(fmt, sizeof fmt, "Authorization: %s", bad[i]);
        snprintf(h, sizeof h, fmt, t.access);
        const char *headers[] = {h, NULL};
        cr_assert_eq(th_http(&stack, "GET", "/auth/me", headers, NULL, &r), 0);
        cr_expect_eq(r.status, 401, "%s: %ld", bad[i], r.status);
        const char *code = json_string_value(json_object_get(r.json, "error"));
        cr_expect(code && (strcmp(code, "invalid_token") == 0 ||
                           strcmp(code, "missing_token") == 0),
                  "%s: %s", bad[i], r.body);
        th_response_free(&r);
    }
    snprintf(h, sizeof h, "Authorization: Basic %s", "dXNlcjpwYXNz");
    const char *basic[] = {h, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/auth/me", basic, NULL, &r), 0);
    expect_error(&r, 401, "missing_token", "Basic scheme");

    /* The scheme is case-insensitive (RFC 7235). */
    snprintf(h, sizeof h, "Authorization: bearer %s", t.access);
    const char *lower[] = {h, NULL};
    cr_assert_eq(th_http(&stack, "GET", "/auth/me", lower, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    /* Two Authorization headers: refused, whichever one is good. */
    char h2[4096];
    snprintf(h2, sizeof h2, "Authorization: Bearer %s", t.access);
    const char *twice[] = {h2, "Authorization: Bearer x.y.z", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/auth/me", twice, NULL, &r), 0);
    expect_error(&r, 401, "invalid_token", "two headers");
}

Test(auth, logout_body_is_checked)
{
    register_user(&stack, "lo@example.com", GOOD_PASSWORD);
    struct tokens t, other;
    login(&stack, "lo@example.com", GOOD_PASSWORD, &t);
    register_user(&stack, "lo2@example.com", GOOD_PASSWORD);
    login(&stack, "lo2@example.com", GOOD_PASSWORD, &other);
    struct th_response r;
    req(&stack, "POST", "/auth/logout", t.access, "{\"refresh\":\"x\"}", &r);
    expect_invalid_field(&r, "refresh", "unknown logout field");
    req(&stack, "POST", "/auth/logout", t.access, "{\"refresh_token\":5}", &r);
    expect_invalid_field(&r, "refresh_token", "non-string refresh token");
    req(&stack, "POST", "/auth/logout", t.access, "[]", &r);
    expect_error(&r, 400, "invalid_json", "array logout body");
    /* Nothing was revoked by the refused calls. */
    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    /* Someone else's refresh token is not revoked by my logout. */
    char body[2200];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", other.refresh);
    req(&stack, "POST", "/auth/logout", t.access, body, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    req(&stack, "POST", "/auth/refresh", other.refresh, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    /* Logging out twice: the token is already revoked. */
    req(&stack, "POST", "/auth/logout", t.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "second logout");
}

Test(auth, password_change_revokes_every_earlier_token)
{
    register_user(&stack, "pw@example.com", GOOD_PASSWORD);
    struct tokens a, b;
    login(&stack, "pw@example.com", GOOD_PASSWORD, &a);
    login(&stack, "pw@example.com", GOOD_PASSWORD, &b);
    struct th_response r;
    req(&stack, "PUT", "/auth/password", a.access,
        "{\"current_password\":\"Wrong1!pass\",\"new_password\":\"New1!password\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "wrong current password");
    req(&stack, "PUT", "/auth/password", a.access,
        "{\"current_password\":\"" GOOD_PASSWORD "\",\"new_password\":\"weak\"}", &r);
    expect_invalid_field(&r, "new_password", "weak new password");
    req(&stack, "PUT", "/auth/password", a.access, "{\"new_password\":\"New1!password\"}", &r);
    expect_invalid_field(&r, "current_password", "missing current password");

    req(&stack, "PUT", "/auth/password", a.access,
        "{\"current_password\":\"" GOOD_PASSWORD "\",\"new_password\":\"New1!password\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")), "Password changed");
    cr_assert_eq(json_object_size(r.json), 1, "internal fields leaked: %s", r.body);
    th_response_free(&r);

    req(&stack, "GET", "/auth/me", a.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "access token used for the change");
    req(&stack, "GET", "/auth/me", b.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "access token of another login");
    req(&stack, "POST", "/auth/refresh", b.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "refresh token of another login");

    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"pw@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "old password");
    struct tokens c;
    login(&stack, "pw@example.com", "New1!password", &c);
    req(&stack, "GET", "/auth/me", c.access, NULL, &r);
    cr_expect_eq(r.status, 200, "token issued right after the change: %s", r.body);
    th_response_free(&r);
}

Test(auth, account_deletion)
{
    register_user(&stack, "del@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "del@example.com", GOOD_PASSWORD, &t);
    struct th_response r;
    req(&stack, "DELETE", "/auth/me", t.access, "{\"password\":\"Wrong1!pass\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "wrong password");
    req(&stack, "DELETE", "/auth/me", t.access, "{}", &r);
    expect_invalid_field(&r, "password", "no password");
    req(&stack, "DELETE", "/auth/me", t.access, NULL, &r);
    expect_error(&r, 400, "invalid_json", "no body");

    req(&stack, "DELETE", "/auth/me", t.access, "{\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")), "Account deleted");
    cr_assert_eq(json_object_size(r.json), 1, "internal fields leaked: %s", r.body);
    th_response_free(&r);

    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "token of a deleted account");
    req(&stack, "POST", "/auth/refresh", t.refresh, NULL, &r);
    expect_error(&r, 401, "token_revoked", "refresh token of a deleted account");
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"del@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "login to a deleted account");
    /* The email is free again, for a new account with a new id. */
    register_user(&stack, "del@example.com", GOOD_PASSWORD);
    struct tokens t2;
    login(&stack, "del@example.com", GOOD_PASSWORD, &t2);
    req(&stack, "GET", "/auth/me", t2.access, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
}

struct race_arg {
    long status;
};

static void *register_racer(void *p)
{
    struct race_arg *a = p;
    struct th_response r;
    const char *headers[] = {"Content-Type: application/json", NULL};
    if (th_http(&stack, "POST", "/auth/register", headers,
                "{\"email\":\"race@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r) == 0) {
        a->status = r.status;
        th_response_free(&r);
    }
    return NULL;
}

Test(auth, concurrent_registrations_of_one_email_make_one_account)
{
    enum { N = 6 };
    pthread_t th[N];
    struct race_arg args[N] = {{0}};
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, register_racer, &args[i]), 0);
    int created = 0, conflicts = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        created += args[i].status == 201;
        conflicts += args[i].status == 409;
    }
    cr_expect_eq(created, 1, "%d accounts created", created);
    cr_expect_eq(conflicts, N - 1, "%d conflicts", conflicts);
}
