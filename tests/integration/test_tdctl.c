/*
 * test_tdctl.c — the real tdctl binary against a real stack: its command
 * line keeps its promises (every --help exits 0, an unknown command, daemon
 * name or option exits 2 with a message, version), `ping` and `health`
 * report each daemon and exit non-zero when one is down or is not the
 * service asked for, `user list` lists the accounts, `user delete` is the
 * cascade of DELETE /auth/me (tokens revoked, entries gone from td-diary,
 * other accounts untouched), and `seed --clear` reports the entries it
 * really cleared.
 */
#include "auth_helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_stack stack;

struct run {
    int status; /* exit status, -1 when it did not exit */
    char out[32768];
    char err[8192];
};

/* Reads what a temporary file received (NUL-terminated, cut at size). */
static void slurp(int fd, char *buf, size_t size)
{
    size_t n = 0;
    if (lseek(fd, 0, SEEK_SET) == 0) {
        ssize_t got;
        while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0)
            n += (size_t)got;
    }
    buf[n] = '\0';
    close(fd);
}

static int temp_file(void)
{
    char path[] = "/tmp/td-tdctl-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    return fd;
}

/* Runs tdctl with `args` (NULL-terminated) and, when `with_stack`, the
 * stack's addresses; `env` (NULL or NULL-terminated "NAME=value") last. */
static void tdctl_env(struct run *r, bool with_stack, const char *const *env,
                      const char *const *args)
{
    int out = temp_file(), err = temp_file();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (with_stack) {
            th_tdctl_env(&stack);
        } else {
            setenv("TD_ENV_FILE", "/dev/null", 1);
            setenv("APP_ENV", "testing", 1);
        }
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        const char *argv[16] = {"tdctl"};
        for (size_t i = 0; args[i] && i + 2 < 16; i++)
            argv[i + 1] = args[i];
        execv(TD_BIN_DIR "/tdctl", (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

#define TDCTL(r, ...) tdctl_env((r), true, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define TDCTL_ALONE(r, ...) tdctl_env((r), false, NULL, (const char *const[]){__VA_ARGS__, NULL})

/* ---- the command line, no daemons needed ---------------------------------- */

TestSuite(tdctl_cli, .timeout = 60);

Test(tdctl_cli, every_help_exits_0_on_stdout)
{
    const char *const helps[][3] = {
        {"--help", NULL, NULL},        {"-h", NULL, NULL},
        {"help", NULL, NULL},          {"help", "seed", NULL},
        {"ping", "--help", NULL},      {"ping", "diary", "--help"},
        {"health", "--help", NULL},    {"user", "--help", NULL},
        {"user", "delete", "--help"},  {"seed", "--help", NULL},
        {"seed", "--clear", "--help"}, {"version", "--help", NULL},
        {"help", "--help", NULL},
    };
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        struct run r;
        tdctl_env(&r, false, NULL, helps[i]);
        cr_expect_eq(r.status, 0, "tdctl %s %s: exit %d: %s", helps[i][0],
                     helps[i][1] ? helps[i][1] : "", r.status, r.err);
        cr_expect_not_null(strstr(r.out, "usage: tdctl"), "tdctl %s %s printed: %s%s", helps[i][0],
                           helps[i][1] ? helps[i][1] : "", r.out, r.err);
    }
}

Test(tdctl_cli, usage_errors_exit_2_with_a_message)
{
    struct {
        const char *args[4];
        const char *says;
    } bad[] = {
        {{"bogus", NULL}, "unknown command 'bogus'"},
        {{"ping", "bogus", NULL}, "unknown daemon 'bogus'"},
        {{"ping", "auth", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"health", "redis", NULL}, "unknown daemon 'redis'"},
        {{"seed", "--bogus", NULL}, "unknown argument '--bogus'"},
        {{"user", NULL}, "list or delete"},
        {{"user", "frob", NULL}, "unknown subcommand 'frob'"},
        {{"user", "delete", NULL}, "one email"},
        {{"user", "delete", "a@example.com", "b@example.com"}, "one email"},
        {{"user", "list", "extra", NULL}, "no argument"},
        {{"version", "extra", NULL}, "no argument"},
        {{"help", "bogus", NULL}, "unknown command 'bogus'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        tdctl_env(&r, false, NULL, bad[i].args);
        cr_expect_eq(r.status, 2, "tdctl %s %s: exit %d", bad[i].args[0],
                     bad[i].args[1] ? bad[i].args[1] : "", r.status);
        cr_expect_not_null(strstr(r.err, bad[i].says), "tdctl %s %s: stderr %s", bad[i].args[0],
                           bad[i].args[1] ? bad[i].args[1] : "", r.err);
    }
    /* No command at all: the usage, on stderr, and 2. */
    struct run r;
    tdctl_env(&r, false, NULL, (const char *const[]){NULL});
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "usage: tdctl"), "%s", r.err);
}

Test(tdctl_cli, version_and_dash_dash_version)
{
    struct run r;
    TDCTL_ALONE(&r, "version");
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "tdctl " TD_VERSION), "%s", r.out);
    TDCTL_ALONE(&r, "--version");
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "tdctl " TD_VERSION), "%s", r.out);
}

/* ---- against a stack ---------------------------------------------------------- */

static void setup(void)
{
    /* Tests here kill or stop a daemon while others still send to it. */
    struct th_options opts = {.peers_die = true};
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(tdctl, .init = setup, .fini = teardown, .timeout = 120);

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

Test(tdctl, ping_and_health_see_every_daemon_and_fail_for_one_down)
{
    struct run r;
    TDCTL(&r, "ping");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count(r.out, " up\n"), 3, "%s", r.out);

    TDCTL(&r, "health");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_eq(count(r.out, " healthy "), 4, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "gateway "), "%s", r.out);
    cr_assert_geq(count(r.out, " " TD_VERSION " "), 3, "%s", r.out);

    /* A URL that reaches the wrong daemon answers ping but is not healthy. */
    char wrong[400];
    snprintf(wrong, sizeof wrong, "DIARY_RPC_OPERATOR_URL=%s", stack.auth_operator_url);
    tdctl_env(&r, true, (const char *const[]){wrong, NULL},
              (const char *const[]){"health", "diary", NULL});
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "another service: auth"), "%s", r.out);

    /* td-diary down: ping and health of it fail, the others stay healthy. */
    cr_assert_geq(th_daemon_signal(&stack, TH_DIARY, SIGTERM), 0);
    TDCTL(&r, "ping", "diary");
    cr_assert_eq(r.status, 1, "%s", r.out);
    TDCTL(&r, "health");
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "down (service_unavailable)"), "%s", r.out);
    cr_assert_eq(count(r.out, " healthy "), 3, "%s", r.out);
    TDCTL(&r, "health", "auth", "gateway");
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);

    /* The gateway down (another port): health of it fails. */
    tdctl_env(&r, true, (const char *const[]){"GATEWAY_LISTEN=127.0.0.1:1", NULL},
              (const char *const[]){"health", "gateway", NULL});
    cr_assert_eq(r.status, 1, "%s", r.out);
}

/* td-diary's count of a user's entries, asked over RPC as that user. */
static bool me_unauthorized(void *token)
{
    struct th_response r;
    req(&stack, "GET", "/auth/me", token, NULL, &r);
    bool gone = r.status == 401;
    th_response_free(&r);
    return gone;
}

static long long me_id(const char *token)
{
    struct th_response r;
    req(&stack, "GET", "/auth/me", token, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    long long id = json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    return id;
}

static void write_entries(const char *token, int n)
{
    for (int i = 0; i < n; i++) {
        struct th_response r;
        req(&stack, "POST", "/diaries", token, "{\"content\": \"A calm and happy day.\"}", &r);
        cr_assert_eq(r.status, 201, "%s", r.body);
        th_response_free(&r);
    }
}

Test(tdctl, user_list_and_delete_cascade_like_account_deletion)
{
    register_user(&stack, "leaving@example.com", GOOD_PASSWORD);
    register_user(&stack, "staying@example.com", GOOD_PASSWORD);
    struct tokens leaving, staying;
    login(&stack, "leaving@example.com", GOOD_PASSWORD, &leaving);
    login(&stack, "staying@example.com", GOOD_PASSWORD, &staying);
    long long leaving_id = me_id(leaving.access), staying_id = me_id(staying.access);
    write_entries(leaving.access, 3);
    write_entries(staying.access, 2);
    cr_assert_eq(th_diary_total_entries(&stack, leaving_id), 3);

    struct run r;
    TDCTL(&r, "user", "list");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "leaving@example.com"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "staying@example.com"), "%s", r.out);
    cr_assert_eq(count(r.out, "\n"), 3, "a header and two accounts: %s", r.out);

    /* The address as a person types it: trimmed and lower-cased like login. */
    TDCTL(&r, "user", "delete", " Leaving@Example.com");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "deleted"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "none left in td-diary"), "%s%s", r.out, r.err);

    /* Everything DELETE /auth/me does: entries gone from td-diary (asked
     * here directly), tokens revoked at the gateway (through the feed,
     * within a second), the password no longer logs in. */
    cr_assert_eq(th_diary_total_entries(&stack, leaving_id), 0);
    cr_assert(th_wait_until(me_unauthorized, leaving.access, TH_WAIT_MS),
              "the deleted account's token still works");
    struct th_response h;
    req(&stack, "GET", "/auth/me", leaving.access, NULL, &h);
    expect_error(&h, 401, "token_revoked", "token of a deleted account");
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"leaving@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &h);
    expect_error(&h, 401, "invalid_credentials", "login of a deleted account");

    /* The other account and its entries are untouched. */
    cr_assert_eq(th_diary_total_entries(&stack, staying_id), 2);
    cr_assert_eq(me_id(staying.access), staying_id);
    TDCTL(&r, "user", "list");
    cr_assert_eq(r.status, 0);
    cr_assert_null(strstr(r.out, "leaving@example.com"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "staying@example.com"), "%s", r.out);

    /* No such account: 1 and a message; nothing else changes. */
    TDCTL(&r, "user", "delete", "leaving@example.com");
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.err, "no account"), "%s", r.err);
    cr_assert_eq(th_diary_total_entries(&stack, staying_id), 2);
}

Test(tdctl, user_list_marks_demo_accounts)
{
    register_user(&stack, "real@example.com", GOOD_PASSWORD);
    struct run r;
    TDCTL(&r, "seed");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    TDCTL(&r, "user", "list");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    const char *real = strstr(r.out, "real@example.com");
    const char *demo = strstr(r.out, "demo@thoughtdiary.example");
    cr_assert(real && demo, "%s", r.out);
    cr_assert_eq(strncmp(strchr(real, '\n') - 3, " no", 3), 0, "%s", r.out);
    cr_assert_eq(strncmp(strchr(demo, '\n') - 4, " yes", 4), 0, "%s", r.out);
}

Test(tdctl, seed_clear_reports_the_entries_it_cleared)
{
    struct run r;
    TDCTL(&r, "seed");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    long long seeded = 0;
    const char *line = strstr(r.out, "entries cleared: 0, inserted: ");
    cr_assert_not_null(line, "%s", r.out);
    cr_assert_eq(sscanf(line, "entries cleared: 0, inserted: %lld ", &seeded), 1);
    cr_assert_gt(seeded, 10);
    TDCTL(&r, "seed");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "entries cleared: 0, inserted: 0 "), "%s", r.out);

    /* --clear removes every demo entry and says how many: all it seeded. */
    TDCTL(&r, "seed", "--clear");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "demo accounts cleared: 3"), "%s", r.out);
    char want[96];
    snprintf(want, sizeof want, "entries cleared: %lld, inserted: %lld ", seeded, seeded);
    cr_assert_not_null(strstr(r.out, want), "want '%s' in: %s", want, r.out);
}
