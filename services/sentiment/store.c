/*
 * store.c — td-sentiment's schema and queries.
 */
#include "store.h"
#include "td_db.h"
#include "td_error.h"

#include <stdlib.h>

/* Numbered migrations: append, never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: the analysis cache, keyed by a hash of (analyzer id, text). */
    "CREATE TABLE analysis_cache ("
    "  key BLOB PRIMARY KEY,"
    "  analyzed_content TEXT NOT NULL,"
    "  positive_count INTEGER NOT NULL,"
    "  negative_count INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
};

int senti_store_open(const char *data_dir, size_t nconns, struct senti_store **out)
{
    struct senti_store *s = calloc(1, sizeof *s);
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
        rc = td_db_open(data_dir, "sentiment.db", &s->conns[i]);
    if (rc == 0)
        rc = td_db_migrate(s->conns[0], migrations, sizeof migrations / sizeof migrations[0]);
    if (rc != 0) {
        senti_store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void senti_store_close(struct senti_store **ps)
{
    struct senti_store *s = *ps;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nconns; i++)
        td_db_close(&s->conns[i]);
    free(s->conns);
    free(s);
    *ps = NULL;
}
