/*
 * td_sqlite_query.h — the one value a statement returns, read straight from a
 * SQLite file behind the code under test (header-only, like td_assert.h):
 * PRAGMA user_version, a count(*), an FTS5 match count. Any failure fails
 * the test, naming the statement.
 */
#ifndef TD_TEST_SQLITE_QUERY_H
#define TD_TEST_SQLITE_QUERY_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* Prepares `sql` and steps it to its first row. */
static inline sqlite3_stmt *td_sqlite_first_row_(sqlite3 *conn, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(conn, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(conn));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(conn));
    return st;
}

/* The one integer `sql` returns. */
static inline int64_t query_int(sqlite3 *conn, const char *sql)
{
    sqlite3_stmt *st = td_sqlite_first_row_(conn, sql);
    int64_t v = sqlite3_column_int64(st, 0);
    cr_assert_eq(sqlite3_finalize(st), SQLITE_OK);
    return v;
}

/* The one text `sql` returns, copied into buf. */
static inline void query_text(sqlite3 *conn, const char *sql, char *buf, size_t size)
{
    sqlite3_stmt *st = td_sqlite_first_row_(conn, sql);
    const unsigned char *t = sqlite3_column_text(st, 0);
    cr_assert_not_null(t);
    snprintf(buf, size, "%s", (const char *)t);
    cr_assert_eq(sqlite3_finalize(st), SQLITE_OK);
}

#endif
