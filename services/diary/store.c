/*
 * store.c — td-diary's schema and queries.
 */
#include "store.h"
#include "td_db.h"
#include "td_error.h"

#include <stdlib.h>

/* Numbered migrations: append, never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: entries, listed newest first per user (created_at, id descending). */
    "CREATE TABLE entries ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL CHECK (user_id > 0),"
    "  content TEXT NOT NULL,"
    "  analyzed_content TEXT NOT NULL,"
    "  positive_count INTEGER NOT NULL DEFAULT 0,"
    "  negative_count INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX entries_user_newest ON entries(user_id, created_at DESC, id DESC);",
};

int diary_store_open(const char *data_dir, size_t nconns, struct diary_store **out)
{
    struct diary_store *s = calloc(1, sizeof *s);
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
        rc = td_db_open(data_dir, "diary.db", &s->conns[i]);
    if (rc == 0)
        rc = td_db_migrate(s->conns[0], migrations, sizeof migrations / sizeof migrations[0]);
    if (rc != 0) {
        diary_store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void diary_store_close(struct diary_store **ps)
{
    struct diary_store *s = *ps;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nconns; i++)
        td_db_close(&s->conns[i]);
    free(s->conns);
    free(s);
    *ps = NULL;
}
