/*
 * store.c — td-auth's schema and queries.
 */
#include "store.h"
#include "td_db.h"
#include "td_error.h"

#include <stdlib.h>

/* Numbered migrations: append, never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: users; emails are stored trimmed and lower-cased, so UNIQUE is
     * case-insensitive in effect. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  email TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");",
};

int auth_store_open(const char *data_dir, size_t nconns, struct auth_store **out)
{
    struct auth_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TD_ENOMEM;
    s->conns = calloc(nconns, sizeof *s->conns);
    if (s->conns == NULL) {
        free(s);
        return TD_ENOMEM;
    }
    s->nconns = nconns;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nconns; i++)
        rc = td_db_open(data_dir, "auth.db", &s->conns[i]);
    if (rc == 0)
        rc = td_db_migrate(s->conns[0], migrations, sizeof migrations / sizeof migrations[0]);
    if (rc != 0) {
        auth_store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void auth_store_close(struct auth_store **ps)
{
    struct auth_store *s = *ps;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nconns; i++)
        td_db_close(&s->conns[i]);
    free(s->conns);
    free(s);
    *ps = NULL;
}
