/*
 * td_config.h — table-driven configuration from the environment.
 *
 * Each daemon declares one table: variable name, type, default, bounds and
 * the field it fills (the shape of redis's config.c). td_config_load reads an
 * optional .env file first (never overriding the real environment), then
 * validates every value; a bad one stops start-up with one line naming the
 * variable. APP_ENV selects per-environment defaults (`testing` may differ),
 * and `production` refuses variables flagged TD_CFG_SECRET or TD_CFG_PROD_SET
 * that are not set explicitly, and secrets shorter than their minimum.
 * Variables flagged TD_CFG_FILE may be read from a file instead
 * (JWT_SECRET_KEY_FILE=/run/secrets/jwt), as container secrets are mounted.
 */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum td_app_env { TD_ENV_DEVELOPMENT = 0, TD_ENV_TESTING, TD_ENV_PRODUCTION };

enum td_cfg_type {
    TD_CFG_STRING, /* char *, owned by the config struct; min/max bound the length */
    TD_CFG_INT,    /* long long within [min, max] */
    TD_CFG_BOOL,   /* bool: true/false, 1/0, yes/no, on/off */
};

#define TD_CFG_SECRET 0x1u   /* production refuses the development default */
#define TD_CFG_FILE 0x2u     /* may instead come from the file named by NAME_FILE
                              * (container secrets); setting both is an error */
#define TD_CFG_PROD_SET 0x4u /* production requires it set explicitly */
#define TD_CFG_RPC_URL 0x8u  /* an RPC URL or comma list of them: td_daemon_configure
                              * checks each (td_rpc_url_check) */

struct td_cfg_var {
    const char *name;
    enum td_cfg_type type;
    const char *def;         /* default; NULL means "unset" (string fields stay NULL) */
    const char *def_testing; /* default under APP_ENV=testing; NULL means same as def */
    long long min, max;
    size_t offset;
    unsigned flags;
};

/* Settings every daemon shares. */
struct td_base_config {
    enum td_app_env app_env;
    char *log_level;
    char *log_format;
    char *data_dir;
    long long rpc_workers;
    long long rpc_timeout_ms;
    long long stop_deadline_ms; /* td_daemon_wait's watchdog */
    char *rpc_tls_dir;          /* certificates for tls+tcp:// (td_rpc.h); NULL: none */
    bool rpc_coalesce;          /* batch RPC calls under load (td_rpc.h, "Coalescing") */
};

/* Rows for struct td_base_config embedded as member `base` of `type`. */
#define TD_CFG_BASE_ROWS(type)                                                                 \
    {"LOG_LEVEL", TD_CFG_STRING, "info", NULL, 1, 16, offsetof(type, base.log_level), 0},      \
        {"LOG_FORMAT", TD_CFG_STRING, "text", NULL, 1, 16, offsetof(type, base.log_format), 0}, \
        {"DATA_DIR", TD_CFG_STRING, "./var", NULL, 1, 4096, offsetof(type, base.data_dir), 0}, \
        {"RPC_WORKERS", TD_CFG_INT, "8", NULL, 1, 256, offsetof(type, base.rpc_workers), 0},   \
        {"RPC_TIMEOUT_MS", TD_CFG_INT, "5000", NULL, 10, 600000,                               \
         offsetof(type, base.rpc_timeout_ms), 0},                                               \
        {"STOP_DEADLINE_MS", TD_CFG_INT, "15000", NULL, 1000, 600000,                           \
         offsetof(type, base.stop_deadline_ms), 0},                                             \
        {"RPC_TLS_DIR", TD_CFG_STRING, NULL, NULL, 1, 3800, offsetof(type, base.rpc_tls_dir), 0}, \
        {"RPC_COALESCE", TD_CFG_BOOL, "false", NULL, 0, 0, offsetof(type, base.rpc_coalesce), 0}

/* Loads the .env file named by TD_ENV_FILE, or ./.env when that exists.
 * Existing environment variables win. Must run before threads start.
 * Returns 0, or TD_ECONFIG with a message in err. */
int td_env_load_file(char *err, size_t errlen);

/* Reads APP_ENV. Returns 0 or TD_ECONFIG (message in err). */
int td_app_env_get(enum td_app_env *out, char *err, size_t errlen);

/* Fills `cfg` from the environment per `vars`. On failure nothing needs
 * freeing and err holds "NAME: reason". Returns 0 or TD_ECONFIG. */
int td_config_load(const struct td_cfg_var *vars, size_t n, void *cfg, char *err, size_t errlen);

/* Frees the strings td_config_load stored in `cfg`. */
void td_config_free(const struct td_cfg_var *vars, size_t n, void *cfg);

/* Parses a whole decimal integer within [min, max]; 0 or TD_EINVAL. */
int td_parse_ll(const char *s, long long min, long long max, long long *out);

/* Parses true/false, 1/0, yes/no, on/off; 0 or TD_EINVAL. */
int td_parse_bool(const char *s, bool *out);

/* Walks a comma-separated list (CORS_ORIGINS, TRUSTED_PROXIES, RPC URL
 * lists): each call yields the next item with surrounding whitespace trimmed,
 * skipping empty items. *cursor starts at the list (NULL is an empty list)
 * and is advanced. Returns false at the end. */
bool td_list_next(const char **cursor, const char **item, size_t *len);

/* Applies the shared part: sets up logging from LOG_LEVEL/LOG_FORMAT (JSON
 * lines by default in production, where machines read the logs).
 * Returns 0 or TD_ECONFIG with a message in err. */
int td_base_config_apply(const struct td_base_config *base, const char *service, char *err,
                         size_t errlen);

#endif
