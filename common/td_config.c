/*
 * td_config.c — .env loading and the table-driven validator of td_config.h.
 */
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_rpc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int td_env_load_file(char *err, size_t errlen)
{
    const char *path = getenv("TD_ENV_FILE");
    bool explicit_path = path != NULL && path[0] != '\0';
    if (!explicit_path)
        path = ".env";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!explicit_path && errno == ENOENT)
            return 0; /* the .env file is optional */
        snprintf(err, errlen, "TD_ENV_FILE: cannot open %s: %s", path, strerror(errno));
        return TD_ECONFIG;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = TD_ECONFIG;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (eq == NULL || eq == s) {
            snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
            rc = TD_ECONFIG;
            break;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
            value[vlen - 1] = '\0';
            value++;
        }
        if (setenv(name, value, 0) != 0) {
            snprintf(err, errlen, "%s:%d: bad variable name", path, lineno);
            rc = TD_ECONFIG;
            break;
        }
    }
    fclose(f);
    return rc;
}

int td_app_env_get(enum td_app_env *out, char *err, size_t errlen)
{
    const char *v = getenv("APP_ENV");
    if (v == NULL || *v == '\0' || strcmp(v, "development") == 0)
        *out = TD_ENV_DEVELOPMENT;
    else if (strcmp(v, "testing") == 0)
        *out = TD_ENV_TESTING;
    else if (strcmp(v, "production") == 0)
        *out = TD_ENV_PRODUCTION;
    else {
        snprintf(err, errlen, "APP_ENV: must be development, testing or production");
        return TD_ECONFIG;
    }
    return 0;
}

int td_parse_ll(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return TD_EINVAL;
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '\0')
        return TD_EINVAL;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return TD_EINVAL;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return TD_EINVAL;
    *out = v;
    return 0;
}

int td_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return TD_EINVAL;
}

/* Reads the value of NAME_FILE into buf (one line; a final newline is
 * dropped). 0, or TD_ECONFIG with err set. */
static int read_value_file(const char *name, const char *path, char *buf, size_t size,
                           char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s_FILE: cannot open %s: %s", name, path, strerror(errno));
        return TD_ECONFIG;
    }
    size_t n = fread(buf, 1, size - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (more || strlen(buf) != n || strchr(buf, '\n') != NULL) {
        snprintf(err, errlen, "%s_FILE: %s must hold one line of at most %zu bytes", name, path,
                 size - 2);
        return TD_ECONFIG;
    }
    return 0;
}

static int load_one(const struct td_cfg_var *v, enum td_app_env env, void *cfg, char *err,
                    size_t errlen)
{
    const char *def = (env == TD_ENV_TESTING && v->def_testing) ? v->def_testing : v->def;
    const char *raw = getenv(v->name);
    bool from_env = raw != NULL && raw[0] != '\0';
    char *field = (char *)cfg + v->offset;

    char file_value[4096];
    if (v->flags & TD_CFG_FILE) {
        char file_var[128];
        snprintf(file_var, sizeof file_var, "%s_FILE", v->name);
        const char *path = getenv(file_var);
        if (path != NULL && path[0] != '\0') {
            if (from_env) {
                snprintf(err, errlen, "%s: set either %s or %s, not both", v->name, v->name,
                         file_var);
                return TD_ECONFIG;
            }
            int rc = read_value_file(v->name, path, file_value, sizeof file_value, err, errlen);
            if (rc != 0)
                return rc;
            raw = file_value;
            from_env = raw[0] != '\0';
        }
    }
    const char *value = from_env ? raw : def;

    if ((v->flags & (TD_CFG_SECRET | TD_CFG_PROD_SET)) && env == TD_ENV_PRODUCTION && !from_env) {
        snprintf(err, errlen, "%s: must be set explicitly in production%s", v->name,
                 (v->flags & TD_CFG_SECRET) ? " (no default secret)" : "");
        return TD_ECONFIG;
    }
    switch (v->type) {
    case TD_CFG_STRING: {
        if (value == NULL) {
            *(char **)field = NULL;
            return 0;
        }
        size_t len = strlen(value);
        if ((long long)len < v->min || (long long)len > v->max) {
            snprintf(err, errlen, "%s: length must be %lld to %lld characters (got %zu)", v->name,
                     v->min, v->max, len);
            return TD_ECONFIG;
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "%s: out of memory", v->name);
            return TD_ECONFIG;
        }
        *(char **)field = copy;
        return 0;
    }
    case TD_CFG_INT:
        if (value == NULL || td_parse_ll(value, v->min, v->max, (long long *)(void *)field) != 0) {
            snprintf(err, errlen, "%s: must be an integer from %lld to %lld", v->name, v->min,
                     v->max);
            return TD_ECONFIG;
        }
        return 0;
    case TD_CFG_BOOL:
        if (value == NULL || td_parse_bool(value, (bool *)(void *)field) != 0) {
            snprintf(err, errlen, "%s: must be true or false", v->name);
            return TD_ECONFIG;
        }
        return 0;
    }
    snprintf(err, errlen, "%s: unknown type", v->name);
    return TD_ECONFIG;
}

int td_config_load(const struct td_cfg_var *vars, size_t n, void *cfg, char *err, size_t errlen)
{
    enum td_app_env env;
    int rc = td_app_env_get(&env, err, errlen);
    if (rc != 0)
        return rc;
    /* Zero the string slots first so a failure part-way can free what was set. */
    for (size_t i = 0; i < n; i++) {
        if (vars[i].type == TD_CFG_STRING)
            *(char **)((char *)cfg + vars[i].offset) = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        rc = load_one(&vars[i], env, cfg, err, errlen);
        if (rc != 0) {
            td_config_free(vars, n, cfg);
            return rc;
        }
    }
    return 0;
}

void td_config_free(const struct td_cfg_var *vars, size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        if (vars[i].type == TD_CFG_STRING) {
            char **slot = (char **)((char *)cfg + vars[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

bool td_list_next(const char **cursor, const char **item, size_t *len)
{
    const char *s = *cursor;
    while (s != NULL && *s) {
        size_t n = strcspn(s, ",");
        const char *start = s;
        s += n;
        if (*s == ',')
            s++;
        while (n > 0 && isspace((unsigned char)*start)) {
            start++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)start[n - 1]))
            n--;
        if (n > 0) {
            *cursor = s;
            *item = start;
            *len = n;
            return true;
        }
    }
    *cursor = s;
    return false;
}

int td_base_config_apply(const struct td_base_config *base, const char *service, char *err,
                         size_t errlen)
{
    enum td_log_level level;
    enum td_log_format format;
    if (td_log_level_parse(base->log_level, &level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL: must be err, warn, notice, info or debug");
        return TD_ECONFIG;
    }
    const char *explicit_format = getenv("LOG_FORMAT");
    if (base->app_env == TD_ENV_PRODUCTION && (explicit_format == NULL || !explicit_format[0]))
        format = TD_LOG_JSON;
    else if (td_log_format_parse(base->log_format, &format) != 0) {
        snprintf(err, errlen, "LOG_FORMAT: must be text or json");
        return TD_ECONFIG;
    }
    td_log_init(service, level, format);
    td_rpc_coalesce_setup(base->rpc_coalesce);
    return 0;
}
