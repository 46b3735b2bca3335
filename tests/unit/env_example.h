/*
 * env_example.h — keeps .env.example equal to a daemon's configuration
 * table (its config.c: name, default, bounds), so the file people copy
 * cannot drift from what the binary accepts. Each daemon's unit tests
 * include it (tests/unit/<daemon>/test_env_example.c) with its own table;
 * tests/scripts/test_compose.py checks the other direction (no variable in
 * the file that no binary reads).
 *
 * What .env.example must say about each variable of the table (its header
 * tells the same to whoever edits it):
 * - a line `# NAME=<default>` (an empty value where the table has no
 *   default), or an uncommented `NAME=value` set on purpose, whose block
 *   then says the default unless it is a secret;
 * - its block (the comment lines right above it, up to a blank line or the
 *   previous variable) gives the bounds of an integer as `MIN-MAX`, the
 *   default under APP_ENV=testing where that differs, and the NAME_FILE
 *   form of a variable that may come from a file.
 * A few defaults are not the file's to show: they are listed below, with why.
 */
#ifndef TD_TEST_ENV_EXAMPLE_H
#define TD_TEST_ENV_EXAMPLE_H

#include "td_config.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Variables whose default the file shows empty, and why. */
static const struct {
    const char *name;
    const char *why;
} env_example_unshown[] = {
    {"DOCS_DIR", "a path compiled in from the install prefix"},
    {"STATIC_DIR", "a path compiled in from the install prefix"},
    {"JWT_SECRET_KEY", "the development key is not advertised; production refuses it"},
};

struct env_example {
    char **lines;
    size_t n;
};

static void env_example_load(struct env_example *e)
{
    FILE *f = fopen(TD_SOURCE_DIR "/.env.example", "r");
    cr_assert_not_null(f, "cannot open .env.example");
    e->lines = NULL;
    e->n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char **grown = realloc(e->lines, (e->n + 1) * sizeof *grown);
        cr_assert_not_null(grown);
        e->lines = grown;
        e->lines[e->n] = strdup(line);
        cr_assert_not_null(e->lines[e->n]);
        e->n++;
    }
    free(line);
    fclose(f);
}

static void env_example_free(struct env_example *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    free(e->lines);
    e->lines = NULL;
    e->n = 0;
}

/* When `line` is `NAME=value` or `# NAME=value`: the name's length, the
 * value, and whether it is commented. 0 when it is neither. */
static size_t env_example_var(const char *line, const char **value, bool *commented)
{
    const char *p = line;
    *commented = false;
    if (*p == '#') {
        *commented = true;
        p++;
        while (*p == ' ')
            p++;
    }
    const char *name = p;
    if (!isupper((unsigned char)*p))
        return 0;
    while (isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')
        p++;
    if (*p != '=')
        return 0;
    *value = p + 1;
    return (size_t)(p - name);
}

/* The line index of variable `name` (-1 when absent), its value and whether
 * it is commented. */
static long env_example_find(const struct env_example *e, const char *name, const char **value,
                             bool *commented)
{
    for (size_t i = 0; i < e->n; i++) {
        const char *v;
        bool c;
        size_t n = env_example_var(e->lines[i], &v, &c);
        const char *start = e->lines[i] + (c ? 1 : 0);
        while (c && *start == ' ')
            start++;
        if (n == strlen(name) && strncmp(start, name, n) == 0) {
            *value = v;
            *commented = c;
            return (long)i;
        }
    }
    return -1;
}

/* The comment lines right above line `at`, up to a blank line or another
 * variable's line, as one malloc'd text. */
static char *env_example_block(const struct env_example *e, long at)
{
    long first = at;
    while (first > 0) {
        const char *l = e->lines[first - 1], *v;
        bool c;
        if (l[0] != '#' || env_example_var(l, &v, &c) > 0)
            break;
        first--;
    }
    size_t len = 1;
    for (long i = first; i < at; i++)
        len += strlen(e->lines[i]) + 1;
    char *text = malloc(len);
    cr_assert_not_null(text);
    text[0] = '\0';
    for (long i = first; i < at; i++) {
        strcat(text, e->lines[i]);
        strcat(text, "\n");
    }
    return text;
}

static const char *env_example_unshown_why(const char *name)
{
    for (size_t i = 0; i < sizeof env_example_unshown / sizeof env_example_unshown[0]; i++) {
        if (strcmp(env_example_unshown[i].name, name) == 0)
            return env_example_unshown[i].why;
    }
    return NULL;
}

/* Checks every row of `vars` against .env.example; `daemon` names the table
 * in failure messages. */
static void env_example_check(const struct td_cfg_var *vars, size_t n, const char *daemon)
{
    struct env_example e;
    env_example_load(&e);
    cr_assert_gt(e.n, 20, ".env.example is nearly empty");
    for (size_t i = 0; i < n; i++) {
        const struct td_cfg_var *v = &vars[i];
        const char *value = NULL;
        bool commented = false;
        long at = env_example_find(&e, v->name, &value, &commented);
        if (at < 0) {
            cr_expect_fail("%s reads %s, which .env.example does not list", daemon, v->name);
            continue;
        }
        char *block = env_example_block(&e, at);
        const char *why = env_example_unshown_why(v->name);
        const char *def = v->def ? v->def : "";
        if (commented) {
            if (why != NULL)
                cr_expect(value[0] == '\0',
                          ".env.example:%ld: %s shows '%s'; its default is %s, so the line "
                          "stays empty",
                          at + 1, v->name, value, why);
            else
                cr_expect_str_eq(value, def, ".env.example:%ld: # %s=%s, but %s's default is '%s'",
                                 at + 1, v->name, value, daemon, def);
        } else if (why == NULL && strcmp(value, def) != 0) {
            cr_expect_not_null(strstr(block, def),
                               ".env.example:%ld: %s is set to '%s'; its block must give the "
                               "default, '%s'",
                               at + 1, v->name, value, def);
        }
        if (v->type == TD_CFG_INT) {
            char bounds[64];
            snprintf(bounds, sizeof bounds, "%lld-%lld", v->min, v->max);
            cr_expect_not_null(strstr(block, bounds),
                               ".env.example:%ld: %s's comment must give its bounds, %s "
                               "(%s's table); it says:\n%s",
                               at + 1, v->name, bounds, daemon, block);
        }
        if (v->def_testing != NULL && strcmp(v->def_testing, def) != 0) {
            cr_expect(strstr(block, v->def_testing) != NULL && strstr(block, "testing") != NULL,
                      ".env.example:%ld: %s defaults to '%s' under APP_ENV=testing; its comment "
                      "must say so:\n%s",
                      at + 1, v->name, v->def_testing, block);
        }
        if (v->flags & TD_CFG_FILE) {
            char file_form[96];
            snprintf(file_form, sizeof file_form, "%s_FILE", v->name);
            cr_expect_not_null(strstr(block, file_form),
                               ".env.example:%ld: %s may come from a file; its comment must name "
                               "%s:\n%s",
                               at + 1, v->name, file_form, block);
        }
        free(block);
    }
    env_example_free(&e);
}

#endif
