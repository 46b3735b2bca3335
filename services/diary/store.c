/*
 * store.c — td-diary's schema and queries: all of its SQL.
 *
 * Every statement is prepared once per connection (sqlite3_prepare_v3 with
 * SQLITE_PREPARE_PERSISTENT) and reset after each use. Writes that read
 * first (ownership checks, dedupe on the call id) run inside BEGIN IMMEDIATE,
 * which takes the write lock up front, so the check and the write see the
 * same row and two connections never deadlock upgrading a read lock.
 *
 * Group commit (store.h): with synchronous=FULL every COMMIT is an fsync,
 * and eight workers each committing their own entry queued on the write
 * lock (POST /diaries: ~1.9k/s, p99 30 ms, most of td-diary's CPU in the
 * kernel). Writes now queue in memory; whoever finds no commit in progress
 * leads: it runs the queued writes on its own connection in one BEGIN
 * IMMEDIATE ... COMMIT, each inside SAVEPOINT one_write, and wakes their
 * threads.
 *
 * A store opened on PostgreSQL has no SQLite connection: every public
 * function below first hands its call to store_pg.c (ON_PG).
 */
#include "store.h"
#include "store_pg.h"
#include "td_db.h"
#include "td_sql.h"
#include "td_error.h"
#include "td_time.h"
#include "td_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One entry's share of its user's stats row, added ("+", NEW) or taken
 * away ("-", OLD): the body the three triggers of migration 5 share. */
#define STATS_MOVE(sign, row)                                                                    \
    "  UPDATE user_stats SET total_entries = total_entries " sign " 1,"                          \
    "    positive_entries = positive_entries " sign " (" row ".positive_count > " row            \
    ".negative_count),"                                                                          \
    "    negative_entries = negative_entries " sign " (" row ".positive_count < " row            \
    ".negative_count),"                                                                          \
    "    neutral_entries = neutral_entries " sign " (" row ".positive_count = " row              \
    ".negative_count),"                                                                          \
    "    positive_count_total = positive_count_total " sign " " row ".positive_count,"           \
    "    negative_count_total = negative_count_total " sign " " row ".negative_count"            \
    "  WHERE user_id = " row ".user_id;"

/* SEARCH_KEY (migration 8): the rowid of an entry in entries_fts, unique,
 * and ordered like (created_at, id) among one user's entries:
 * created_at * 2048 + slot, where the slot is one more than the highest
 * taken at that microsecond (by anyone), so of two entries of one user at
 * the same instant the later insert — the higher id — sorts last. An entry
 * the key cannot place (created_at from 2112 on, past 2^52 µs, or a 2049th
 * entry at one microsecond) gets -id instead: the "overflow band", which
 * every search reads through the old join and merges (normally empty). */
#define KEY_SLOTS 2048
#define KEY_SLOTS_S "2048"
#define KEY_TIME_END (INT64_C(1) << 52)
#define KEY_TIME_LAST "4503599627370495" /* KEY_TIME_END - 1 */
/* The tokens of an entry's `tags` column in entries_fts: its user and tone
 * ("u42 tpos"); the user's search text only ever reads the content column. */
#define TAGS(row)                                                                              \
    "('u' || " row ".user_id || CASE WHEN " row ".positive_count > " row ".negative_count"      \
    " THEN ' tpos' WHEN " row ".positive_count < " row ".negative_count THEN ' tneg'"           \
    " ELSE ' tneu' END)"

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
    /* 2: analysis done later when td-sentiment was unavailable (pending_analysis,
     * with a per-entry retry schedule), a version bumped by every edit so a
     * late analysis of old text never overwrites a newer edit, and the call id
     * of the create that made the entry (a retried call finds it). */
    "ALTER TABLE entries ADD COLUMN pending_analysis INTEGER NOT NULL DEFAULT 0"
    "  CHECK (pending_analysis IN (0, 1));"
    "ALTER TABLE entries ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE entries ADD COLUMN analysis_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE entries ADD COLUMN next_analysis_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE entries ADD COLUMN call_id TEXT;"
    "CREATE UNIQUE INDEX entries_call ON entries(user_id, call_id) WHERE call_id IS NOT NULL;"
    "CREATE INDEX entries_pending ON entries(id) WHERE pending_analysis = 1;",
    /* 3: demo entries made by `tdctl seed`, so --clear removes those and
     * nothing else. */
    "ALTER TABLE entries ADD COLUMN seeded INTEGER NOT NULL DEFAULT 0 CHECK (seeded IN (0, 1));",
    /* 4: accounts deleted through diary.delete_user. A token issued before
     * the deletion can reach td-diary for a moment after it (a gateway learns
     * of the cut-off within a second); the tombstone makes sure nothing is
     * written for that account again. Ids are never reused (AUTOINCREMENT
     * in td-auth). */
    "CREATE TABLE deleted_users ("
    "  user_id INTEGER PRIMARY KEY,"
    "  deleted_at INTEGER NOT NULL"
    ");",
    /* 5: GET /diaries/stats from a row per user kept by triggers, in the
     * same transaction as the change, instead of aggregating every entry of
     * the user on each call (the dearest read of the API, and it grew with
     * the diary). */
    "CREATE TABLE user_stats ("
    "  user_id INTEGER PRIMARY KEY,"
    "  total_entries INTEGER NOT NULL,"
    "  positive_entries INTEGER NOT NULL,"
    "  negative_entries INTEGER NOT NULL,"
    "  neutral_entries INTEGER NOT NULL,"
    "  positive_count_total INTEGER NOT NULL,"
    "  negative_count_total INTEGER NOT NULL"
    ");"
    "INSERT INTO user_stats SELECT user_id, COUNT(*), SUM(positive_count > negative_count),"
    "  SUM(positive_count < negative_count), SUM(positive_count = negative_count),"
    "  SUM(positive_count), SUM(negative_count) FROM entries GROUP BY user_id;"
    "CREATE TRIGGER entries_stats_insert AFTER INSERT ON entries BEGIN"
    "  INSERT OR IGNORE INTO user_stats VALUES (NEW.user_id, 0, 0, 0, 0, 0, 0);"
    STATS_MOVE("+", "NEW")
    "END;"
    "CREATE TRIGGER entries_stats_delete AFTER DELETE ON entries BEGIN"
    STATS_MOVE("-", "OLD")
    "  DELETE FROM user_stats WHERE user_id = OLD.user_id AND total_entries = 0;"
    "END;"
    /* an edit or a late analysis: the entry leaves its old figures and
     * takes its new ones (user_id never changes, but the trigger would
     * still be right if it did) */
    "CREATE TRIGGER entries_stats_update AFTER UPDATE OF user_id, positive_count, negative_count"
    "  ON entries BEGIN"
    STATS_MOVE("-", "OLD")
    "  INSERT OR IGNORE INTO user_stats VALUES (NEW.user_id, 0, 0, 0, 0, 0, 0);"
    STATS_MOVE("+", "NEW")
    "  DELETE FROM user_stats WHERE user_id = OLD.user_id AND total_entries = 0;"
    "END;",
    /* 6: full-text search over the content (GET /diaries?q=). An
     * external-content FTS5 table: the text lives once, in entries; the
     * index is kept by triggers in the same transaction as the change, and
     * built here for the entries that exist. unicode61 folds case;
     * remove_diacritics 0 keeps "été" and "ete" apart (the contract: simple case
     * folding, nothing more). */
    "CREATE VIRTUAL TABLE entries_fts USING fts5(content, content='entries',"
    "  content_rowid='id', tokenize=\"unicode61 remove_diacritics 0\");"
    "CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN"
    "  INSERT INTO entries_fts(rowid, content) VALUES (NEW.id, NEW.content);"
    "END;"
    "CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN"
    "  INSERT INTO entries_fts(entries_fts, rowid, content) VALUES ('delete', OLD.id, OLD.content);"
    "END;"
    "CREATE TRIGGER entries_fts_update AFTER UPDATE OF content ON entries BEGIN"
    "  INSERT INTO entries_fts(entries_fts, rowid, content) VALUES ('delete', OLD.id, OLD.content);"
    "  INSERT INTO entries_fts(rowid, content) VALUES (NEW.id, NEW.content);"
    "END;"
    "INSERT INTO entries_fts(entries_fts) VALUES ('rebuild');",
    /* 7: POST /diaries/import arrives in pieces (each under the RPC request
     * cap) that must land all or nothing: diary.import_stage keeps them
     * here, keyed by user and import id, and diary.import_commit moves them
     * into entries in one transaction. Rows older than an hour are stale (an
     * import whose gateway died) and go at the next staging. The analysed
     * form is the escaped content: imported entries are analysed by the
     * pending pass, like creates made while td-sentiment was down. */
    "CREATE TABLE import_staged ("
    "  user_id INTEGER NOT NULL,"
    "  import_id TEXT NOT NULL,"
    "  idx INTEGER NOT NULL,"
    "  content TEXT NOT NULL,"
    "  analyzed_content TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  staged_at INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, import_id, idx)"
    ") WITHOUT ROWID;"
    "CREATE INDEX import_staged_age ON import_staged(staged_at);",
    /* 8: search in the listing's order (issue 15). Migration 6 keyed the
     * index by entry id, so a page of a search had to join every match to
     * its entry and sort them all by created_at: 0.15-0.5 s for a common
     * word over 100,000 entries (ops/bench/bench_search.c). Now every entry
     * has a search key that sorts like (created_at, id) and is the index's
     * rowid, and the index also holds the entry's user and tone as tokens
     * of a second column, so a page is the first rowids of the match walked
     * backwards, a total is a count inside the index, and from/to are a
     * rowid range: nothing is joined but the page itself. See SEARCH_KEY. */
    "DROP TRIGGER entries_fts_insert;"
    "DROP TRIGGER entries_fts_delete;"
    "DROP TRIGGER entries_fts_update;"
    "DROP TABLE entries_fts;"
    "ALTER TABLE entries ADD COLUMN search_key INTEGER;"
    "UPDATE entries SET search_key = k.key FROM (SELECT id,"
    "  CASE WHEN created_at BETWEEN 0 AND " KEY_TIME_LAST " AND r < " KEY_SLOTS_S
    "  THEN created_at * " KEY_SLOTS_S " + r ELSE -id END AS key"
    "  FROM (SELECT id, created_at,"
    "    row_number() OVER (PARTITION BY created_at ORDER BY id) - 1 AS r FROM entries)) k"
    "  WHERE entries.id = k.id;"
    "CREATE UNIQUE INDEX entries_search_key ON entries(search_key);"
    /* contentless: the text lives once, in entries; every change below
     * hands the index the exact old values to take out */
    "CREATE VIRTUAL TABLE entries_fts USING fts5(content, tags, content='', prefix='1 2 3',"
    "  tokenize=\"unicode61 remove_diacritics 0\");"
    "INSERT INTO entries_fts(rowid, content, tags) SELECT search_key, content, " TAGS("entries")
    "  FROM entries;"
    "CREATE TRIGGER entries_search_insert AFTER INSERT ON entries BEGIN"
    "  UPDATE entries SET search_key = (SELECT CASE"
    "    WHEN NEW.created_at BETWEEN 0 AND " KEY_TIME_LAST
    "      AND COALESCE(m - NEW.created_at * " KEY_SLOTS_S ", -1) < " KEY_SLOTS_S " - 1"
    "    THEN COALESCE(m + 1, NEW.created_at * " KEY_SLOTS_S ") ELSE -NEW.id END"
    "    FROM (SELECT MAX(search_key) AS m FROM entries WHERE search_key BETWEEN"
    "      NEW.created_at * " KEY_SLOTS_S " AND NEW.created_at * " KEY_SLOTS_S " + " KEY_SLOTS_S " - 1))"
    "  WHERE id = NEW.id;"
    "  INSERT INTO entries_fts(rowid, content, tags)"
    "    SELECT search_key, NEW.content, " TAGS("NEW") " FROM entries WHERE id = NEW.id;"
    "END;"
    "CREATE TRIGGER entries_search_delete AFTER DELETE ON entries BEGIN"
    "  INSERT INTO entries_fts(entries_fts, rowid, content, tags)"
    "    VALUES ('delete', OLD.search_key, OLD.content, " TAGS("OLD") ");"
    "END;"
    /* an edit, or an analysis that changes the tone (created_at and
     * search_key never change after the insert) */
    "CREATE TRIGGER entries_search_update"
    "  AFTER UPDATE OF user_id, content, positive_count, negative_count ON entries"
    "  WHEN OLD.content IS NOT NEW.content OR " TAGS("OLD") " IS NOT " TAGS("NEW") " BEGIN"
    "  INSERT INTO entries_fts(entries_fts, rowid, content, tags)"
    "    VALUES ('delete', OLD.search_key, OLD.content, " TAGS("OLD") ");"
    "  INSERT INTO entries_fts(rowid, content, tags)"
    "    VALUES (NEW.search_key, NEW.content, " TAGS("NEW") ");"
    "END;",
    /* 9: an edit that keeps the entry's counts (most edits of a few words)
     * leaves the stats row alone: migration 5's trigger moved it out and
     * back in for every edit. On PostgreSQL that also held the user's stats
     * row locked until the edit's commit reached the disk, so one user's
     * edits queued one flush each (docs/performance.md). */
    "DROP TRIGGER entries_stats_update;"
    "CREATE TRIGGER entries_stats_update AFTER UPDATE OF user_id, positive_count, negative_count"
    "  ON entries WHEN OLD.user_id IS NOT NEW.user_id"
    "    OR OLD.positive_count IS NOT NEW.positive_count"
    "    OR OLD.negative_count IS NOT NEW.negative_count BEGIN"
    STATS_MOVE("-", "OLD")
    "  INSERT OR IGNORE INTO user_stats VALUES (NEW.user_id, 0, 0, 0, 0, 0, 0);"
    STATS_MOVE("+", "NEW")
    "  DELETE FROM user_stats WHERE user_id = OLD.user_id AND total_entries = 0;"
    "END;",
};

#define ENTRY_COLS                                                                             \
    "id, user_id, content, analyzed_content, positive_count, negative_count, created_at, "    \
    "updated_at, version, pending_analysis"

enum st {
    ST_BEGIN,
    ST_BEGIN_WRITE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_FIND_CALL,
    ST_INSERT,
    ST_GET,
    ST_OWNER,
    ST_UPDATE,
    ST_DELETE,
    ST_DELETE_USER,
    ST_SEED_CLEAR,
    ST_TOMBSTONE_ADD,
    ST_TOMBSTONE_HAS,
    ST_SEED_HAS,
    ST_SEED_INSERT,
    ST_COUNT,
    ST_PAGE,
    ST_STATS,
    ST_PENDING,
    ST_APPLY,
    ST_DEFER,
    ST_PENDING_COUNT,
    ST_F_COUNT,
    ST_F_PAGE,
    ST_Q_COUNT,
    ST_Q_PAGE,
    ST_F_AFTER,
    ST_Q_AFTER,
    ST_RANGE_STATS,
    ST_RANGE_TONES,
    ST_RANGE_MARKUP,
    ST_STAGE_EXPIRE,
    ST_STAGE_PUT,
    ST_STAGE_DROP,
    ST_STAGE_SHAPE,
    ST_STAGE_ROWS,
    ST_IMPORT_HAS,
    ST_IMPORT_INSERT,
    ST_N
};

/* The filters of GET /diaries (filter.h): ?1 user, ?2/?3 the created_at
 * range, ?4 the tone (0 any, 1 positive, 2 negative, 3 neutral). The search
 * variants drive the query from the FTS index (?5, the MATCH expression
 * filter.c builds) and join the entries by rowid; user_id is checked on the
 * entry, so another user's match is never returned. */
#define FILTER_WHERE                                                                           \
    " e.user_id = ?1 AND e.created_at >= ?2 AND e.created_at < ?3"                            \
    " AND (?4 = 0 OR (?4 = 1 AND e.positive_count > e.negative_count)"                        \
    "  OR (?4 = 2 AND e.positive_count < e.negative_count)"                                   \
    "  OR (?4 = 3 AND e.positive_count = e.negative_count))"
#define FROM_F " FROM entries e WHERE" FILTER_WHERE
/* The search (?5, the expression filter.c builds) narrowed inside the
 * index to the user and the tone: "tags : u1 AND tags : tpos AND content :
 * (...)". ?9 and ?10 are the search keys of from/to (search_key_range). */
#define Q_EXPR                                                                                 \
    " ('tags : u' || ?1 || CASE ?4 WHEN 1 THEN ' AND tags : tpos' WHEN 2 THEN"                  \
    " ' AND tags : tneg' WHEN 3 THEN ' AND tags : tneu' ELSE '' END"                           \
    " || ' AND content : (' || ?5 || ')')"
#define Q_KEYS " FROM entries_fts WHERE entries_fts MATCH" Q_EXPR " AND rowid BETWEEN ?9 AND ?10"
/* The overflow band (SEARCH_KEY), joined and filtered as before migration
 * 8. CROSS JOIN keeps the index as the outer loop: with a plain JOIN the
 * planner walked the user's 100,000 entries and ran the match for each
 * (5.3 s for a term found in 11 entries). */
#define Q_OVER                                                                                 \
    " FROM entries_fts f CROSS JOIN entries e ON e.search_key = f.rowid"                      \
    " WHERE entries_fts MATCH" Q_EXPR " AND f.rowid < 0 AND" FILTER_WHERE
#define E_COLS                                                                                 \
    "e.id, e.user_id, e.content, e.analyzed_content, e.positive_count, e.negative_count,"      \
    " e.created_at, e.updated_at, e.version, e.pending_analysis"
/* Export's keyset: oldest first, after (?6 created_at, ?7 id), ?8 rows. */
#define KEYSET " AND (e.created_at > ?6 OR (e.created_at = ?6 AND e.id > ?7))"
#define AFTER KEYSET " ORDER BY e.created_at, e.id LIMIT ?8"
#define RANGE " FROM entries WHERE user_id = ?1 AND created_at >= ?2 AND created_at < ?3"

static const char *const sql[ST_N] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT one_write",
    [ST_RELEASE] = "RELEASE one_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO one_write",
    [ST_FIND_CALL] = "SELECT " ENTRY_COLS " FROM entries WHERE user_id = ?1 AND call_id = ?2",
    [ST_INSERT] = "INSERT INTO entries (user_id, content, analyzed_content, positive_count,"
                  " negative_count, created_at, updated_at, pending_analysis, call_id)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
    [ST_GET] = "SELECT " ENTRY_COLS " FROM entries WHERE id = ?1",
    [ST_OWNER] = "SELECT user_id FROM entries WHERE id = ?1",
    [ST_UPDATE] = "UPDATE entries SET content = ?2, analyzed_content = ?3, positive_count = ?4,"
                  " negative_count = ?5, pending_analysis = ?6,"
                  " updated_at = MAX(?7, updated_at + 1), version = version + 1,"
                  " analysis_attempts = 0, next_analysis_at = 0 WHERE id = ?1",
    [ST_DELETE] = "DELETE FROM entries WHERE id = ?1",
    [ST_DELETE_USER] = "DELETE FROM entries WHERE user_id = ?1",
    [ST_SEED_CLEAR] = "DELETE FROM entries WHERE seeded = 1",
    [ST_TOMBSTONE_ADD] = "INSERT OR IGNORE INTO deleted_users (user_id, deleted_at) VALUES (?1, ?2)",
    [ST_TOMBSTONE_HAS] = "SELECT COUNT(*) FROM deleted_users WHERE user_id = ?1",
    [ST_SEED_HAS] = "SELECT COUNT(*) FROM entries WHERE user_id = ?1 AND seeded = 1",
    [ST_SEED_INSERT] = "INSERT INTO entries (user_id, content, analyzed_content, created_at,"
                       " updated_at, pending_analysis, seeded) VALUES (?1, ?2, ?3, ?4, ?4, 1, 1)",
    /* the total of a page: the stats row, not a count of the entries */
    [ST_COUNT] = "SELECT COALESCE((SELECT total_entries FROM user_stats WHERE user_id = ?1), 0)",
    [ST_PAGE] = "SELECT " ENTRY_COLS " FROM entries WHERE user_id = ?1"
                " ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [ST_STATS] = "SELECT total_entries, positive_entries, negative_entries, neutral_entries,"
                 " positive_count_total, negative_count_total FROM user_stats WHERE user_id = ?1",
    [ST_PENDING] = "SELECT id, version, analysis_attempts, content FROM entries"
                   " WHERE pending_analysis = 1 AND next_analysis_at <= ?1 ORDER BY id LIMIT ?2",
    [ST_APPLY] = "UPDATE entries SET analyzed_content = ?3, positive_count = ?4,"
                 " negative_count = ?5, pending_analysis = 0, analysis_attempts = 0,"
                 " next_analysis_at = 0"
                 " WHERE id = ?1 AND version = ?2 AND pending_analysis = 1",
    [ST_DEFER] = "UPDATE entries SET analysis_attempts = analysis_attempts + 1,"
                 " next_analysis_at = ?3"
                 " WHERE id = ?1 AND version = ?2 AND pending_analysis = 1",
    [ST_PENDING_COUNT] = "SELECT COUNT(*) FROM entries WHERE pending_analysis = 1",
    [ST_F_COUNT] = "SELECT COUNT(*)" FROM_F,
    [ST_F_PAGE] = "SELECT " E_COLS FROM_F " ORDER BY e.created_at DESC, e.id DESC LIMIT ?6 OFFSET ?7",
    /* Searches (migration 8): the keys of the newest ?11 (offset + limit)
     * matches, walked backwards in the index, fetch their entries; the
     * overflow band joins in; the union is sorted exactly and cut. */
    [ST_Q_COUNT] = "SELECT (SELECT COUNT(*)" Q_KEYS ") + (SELECT COUNT(*)" Q_OVER ")",
    [ST_Q_PAGE] = "SELECT " E_COLS " FROM entries e WHERE e.search_key IN (SELECT rowid" Q_KEYS
                  " ORDER BY rowid DESC LIMIT ?11) AND" FILTER_WHERE
                  " UNION ALL SELECT " E_COLS Q_OVER " ORDER BY 7 DESC, 1 DESC LIMIT ?6 OFFSET ?7",
    [ST_F_AFTER] = "SELECT " E_COLS FROM_F AFTER,
    /* ?9 is also past the keyset's instant: the index walks forward from
     * there and stops after ?8 rows that pass the keyset */
    [ST_Q_AFTER] = "SELECT * FROM (SELECT " E_COLS
                   " FROM entries_fts f CROSS JOIN entries e ON e.search_key = f.rowid"
                   " WHERE entries_fts MATCH" Q_EXPR " AND f.rowid BETWEEN ?9 AND ?10 AND"
                   FILTER_WHERE KEYSET " ORDER BY f.rowid LIMIT ?8)"
                   " UNION ALL SELECT " E_COLS Q_OVER KEYSET " ORDER BY 7, 1 LIMIT ?8",
    [ST_RANGE_STATS] = "SELECT COUNT(*), TOTAL(positive_count > negative_count),"
                       " TOTAL(positive_count < negative_count), TOTAL(positive_count = negative_count),"
                       " TOTAL(positive_count), TOTAL(negative_count)" RANGE,
    [ST_RANGE_TONES] = "SELECT created_at, positive_count, negative_count" RANGE
                       " ORDER BY created_at",
    [ST_RANGE_MARKUP] = "SELECT analyzed_content" RANGE " AND (positive_count > 0 OR negative_count > 0)",
    [ST_STAGE_EXPIRE] = "DELETE FROM import_staged WHERE staged_at < ?1",
    [ST_STAGE_PUT] = "INSERT OR REPLACE INTO import_staged (user_id, import_id, idx, content,"
                     " analyzed_content, created_at, staged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_STAGE_DROP] = "DELETE FROM import_staged WHERE user_id = ?1 AND import_id = ?2",
    [ST_STAGE_SHAPE] = "SELECT COUNT(*), COALESCE(MIN(idx), -1), COALESCE(MAX(idx), -1)"
                       " FROM import_staged WHERE user_id = ?1 AND import_id = ?2",
    [ST_STAGE_ROWS] = "SELECT content, analyzed_content, created_at FROM import_staged"
                      " WHERE user_id = ?1 AND import_id = ?2 ORDER BY idx",
    [ST_IMPORT_HAS] = "SELECT COUNT(*) FROM entries WHERE user_id = ?1 AND created_at = ?2"
                      " AND content = ?3",
    [ST_IMPORT_INSERT] = "INSERT INTO entries (user_id, content, analyzed_content, created_at,"
                         " updated_at, pending_analysis) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
};

struct diary_conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_N];
};

/* The PostgreSQL engine's connection of the same index, for ON_PG. */
#define PG_CONN(s, conn) td_sql_pool_conn((s)->pg, (conn))
#define ON_PG(s, call)                                                                         \
    do {                                                                                       \
        if ((s)->pg != NULL)                                                                   \
            return call;                                                                       \
    } while (0)

const char *const *diary_sqlite_migrations(size_t *n)
{
    if (n != NULL)
        *n = sizeof migrations / sizeof migrations[0];
    return migrations;
}

/* ---- helpers ------------------------------------------------------------- */

static sqlite3_stmt *stmt(struct diary_store *s, unsigned conn, enum st which)
{
    return s->conns[conn].st[which];
}

/* Resets a statement for its next use, dropping its bindings. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int storage_error(struct diary_store *s, unsigned conn, const char *what)
{
    TD_LOG(TD_LOG_ERR, "diary_db_error", "%s: %s", what, sqlite3_errmsg(s->conns[conn].db));
    return TD_ESTORAGE;
}

/* Runs a statement that returns no row (BEGIN, an UPDATE). 0 or TD_ESTORAGE. */
static int run(struct diary_store *s, unsigned conn, enum st which)
{
    sqlite3_stmt *st = stmt(s, conn, which);
    int rc = sqlite3_step(st);
    done(st);
    return rc == SQLITE_DONE ? 0 : storage_error(s, conn, sql[which]);
}

static int begin(struct diary_store *s, unsigned conn, bool write)
{
    return run(s, conn, write ? ST_BEGIN_WRITE : ST_BEGIN);
}

/* Commits, or rolls back and returns `rc` when rc is an error already. */
static int end(struct diary_store *s, unsigned conn, int rc)
{
    if (rc == 0)
        rc = run(s, conn, ST_COMMIT);
    if (rc != 0 && !sqlite3_get_autocommit(s->conns[conn].db))
        run(s, conn, ST_ROLLBACK);
    return rc;
}

static char *dup_column(sqlite3_stmt *st, int col, size_t *len)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    if (n)
        memcpy(out, text, n);
    out[n] = '\0';
    *len = n;
    return out;
}

/* Copies the ENTRY_COLS row `st` stands on into *e. 0 or TD_ENOMEM. */
static int read_entry(sqlite3_stmt *st, struct diary_entry *e)
{
    struct diary_entry r = {
        .id = sqlite3_column_int64(st, 0),
        .user_id = sqlite3_column_int64(st, 1),
        .positive_count = sqlite3_column_int64(st, 4),
        .negative_count = sqlite3_column_int64(st, 5),
        .created_at = sqlite3_column_int64(st, 6),
        .updated_at = sqlite3_column_int64(st, 7),
        .version = sqlite3_column_int64(st, 8),
        .pending = sqlite3_column_int(st, 9) != 0,
    };
    r.content = dup_column(st, 2, &r.content_len);
    r.analyzed = dup_column(st, 3, &r.analyzed_len);
    if (r.content == NULL || r.analyzed == NULL) {
        diary_entry_clear(&r);
        return TD_ENOMEM;
    }
    *e = r;
    return 0;
}

/* Reads entry `id` into *out (within the caller's transaction, if any). */
static int get_by_id(struct diary_store *s, unsigned conn, int64_t id, struct diary_entry *out)
{
    sqlite3_stmt *st = stmt(s, conn, ST_GET);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW    ? read_entry(st, out)
             : step == SQLITE_DONE ? TD_EDIARYNOTFOUND
                                   : storage_error(s, conn, "get entry");
    done(st);
    return rc;
}

/* 0 when entry `id` exists and belongs to `user_id`; TD_EDIARYNOTFOUND,
 * TD_EFORBIDDEN or TD_ESTORAGE otherwise. */
static int check_owner(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id)
{
    sqlite3_stmt *st = stmt(s, conn, ST_OWNER);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    int rc;
    if (step == SQLITE_ROW)
        rc = sqlite3_column_int64(st, 0) == user_id ? 0 : TD_EFORBIDDEN;
    else
        rc = step == SQLITE_DONE ? TD_EDIARYNOTFOUND : storage_error(s, conn, "entry owner");
    done(st);
    return rc;
}

/* Reads one integer row (COUNT(*)) of a statement whose bindings are set. */
static int one_int(struct diary_store *s, unsigned conn, enum st which, int64_t *out)
{
    sqlite3_stmt *st = stmt(s, conn, which);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : storage_error(s, conn, sql[which]);
    if (rc == 0)
        *out = sqlite3_column_int64(st, 0);
    done(st);
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

static int commits_new(struct diary_commits **out);
static void commits_free(struct diary_commits **pc);

static int conn_prepare(struct diary_conn *c)
{
    for (int i = 0; i < ST_N; i++) {
        if (sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            TD_LOG(TD_LOG_ERR, "diary_db_prepare", "cannot prepare statement %d: %s", i,
                   sqlite3_errmsg(c->db));
            return TD_ESTORAGE;
        }
    }
    return 0;
}

int diary_store_open(const struct diary_store_opts *o, size_t nworkers, struct diary_store **out)
{
    enum td_sql_engine engine;
    char err[256];
    if (td_sql_url_engine(o->database_url, &engine, err, sizeof err) != 0) {
        TD_LOG(TD_LOG_ERR, "db_url_invalid", "DIARY_DATABASE_URL: %s", err);
        return TD_ESTORAGE;
    }
    const char *data_dir = o->data_dir;
    struct diary_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TD_ENOMEM;
    s->nconns = nworkers + 1;
    s->conns = calloc(s->nconns, sizeof *s->conns);
    if (s->conns == NULL || commits_new(&s->commits) != 0) {
        free(s->conns);
        free(s);
        return TD_ENOMEM;
    }
    if (engine == TD_SQL_PG) {
        int rc = diary_pg_open(o, s->nconns, &s->pg);
        if (rc != 0) {
            diary_store_close(&s);
            return rc;
        }
        *out = s;
        return 0;
    }
    /* The schema first (statements can only be prepared against it), then the
     * other connections. */
    int rc = td_db_open(data_dir, "diary.db", &s->conns[0].db);
    if (rc == 0)
        rc = td_db_migrate(s->conns[0].db, migrations, sizeof migrations / sizeof migrations[0]);
    for (size_t i = 1; rc == 0 && i < s->nconns; i++)
        rc = td_db_open(data_dir, "diary.db", &s->conns[i].db);
    for (size_t i = 0; rc == 0 && i < s->nconns; i++)
        rc = conn_prepare(&s->conns[i]);
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
    for (size_t i = 0; i < s->nconns; i++) {
        for (int j = 0; j < ST_N; j++)
            sqlite3_finalize(s->conns[i].st[j]);
        td_db_close(&s->conns[i].db);
    }
    td_sql_pool_close(&s->pg);
    commits_free(&s->commits);
    free(s->conns);
    free(s);
    *ps = NULL;
}

int diary_store_copy_from_sqlite(struct diary_store *s, const char *path, int64_t *rows)
{
    if (s->pg == NULL) {
        TD_LOG(TD_LOG_ERR, "db_copy_target", "--copy-from-sqlite needs DIARY_DATABASE_URL "
               "(PostgreSQL) to copy into");
        return TD_EINVAL;
    }
    return diary_pg_copy_from_sqlite(s->pg, path, rows);
}

unsigned diary_store_bg_conn(const struct diary_store *s)
{
    return (unsigned)(s->nconns - 1);
}

void diary_entry_clear(struct diary_entry *e)
{
    free(e->content);
    free(e->analyzed);
    memset(e, 0, sizeof *e);
}

void diary_entries_free(struct diary_entry **items, size_t count)
{
    if (*items == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        diary_entry_clear(&(*items)[i]);
    free(*items);
    *items = NULL;
}

void diary_pending_free(struct diary_pending_item **items, size_t count)
{
    if (*items == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free((*items)[i].content);
    free(*items);
    *items = NULL;
}

/* ---- entries ------------------------------------------------------------ */

/* The bodies of the three grouped writes: they run inside the group's
 * transaction and savepoint, and neither begin nor end one. */

static int create_in_tx(struct diary_store *s, unsigned conn, int64_t user_id, const char *call_id,
                        const struct diary_write *w, struct diary_entry *out, bool *deduped)
{
    bool has_call = call_id != NULL && call_id[0] != '\0';
    int64_t gone = 0;
    sqlite3_bind_int64(stmt(s, conn, ST_TOMBSTONE_HAS), 1, user_id);
    int rc = one_int(s, conn, ST_TOMBSTONE_HAS, &gone);
    if (rc == 0 && gone > 0)
        rc = TD_EUSERNOTFOUND; /* the account was deleted: nothing is written for it */
    if (rc != 0)
        return rc;
    if (has_call) {
        sqlite3_stmt *st = stmt(s, conn, ST_FIND_CALL);
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, call_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            rc = read_entry(st, out);
            done(st);
            if (rc == 0)
                *deduped = true;
            return rc;
        }
        done(st);
        if (step != SQLITE_DONE)
            return storage_error(s, conn, "find call id");
    }
    sqlite3_stmt *st = stmt(s, conn, ST_INSERT);
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, w->content, (int)w->content_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w->analyzed, (int)w->analyzed_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, w->positive_count);
    sqlite3_bind_int64(st, 5, w->negative_count);
    sqlite3_bind_int64(st, 6, w->now_us);
    sqlite3_bind_int(st, 7, w->pending ? 1 : 0);
    if (has_call)
        sqlite3_bind_text(st, 8, call_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "insert entry");
    done(st);
    if (rc == 0)
        rc = get_by_id(s, conn, sqlite3_last_insert_rowid(s->conns[conn].db), out);
    if (rc == 0)
        *deduped = false;
    return rc;
}

static int update_in_tx(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id,
                        const struct diary_write *w, struct diary_entry *out)
{
    int rc = check_owner(s, conn, user_id, id);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = stmt(s, conn, ST_UPDATE);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, w->content, (int)w->content_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w->analyzed, (int)w->analyzed_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, w->positive_count);
    sqlite3_bind_int64(st, 5, w->negative_count);
    sqlite3_bind_int(st, 6, w->pending ? 1 : 0);
    sqlite3_bind_int64(st, 7, w->now_us);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "update entry");
    done(st);
    return rc ? rc : get_by_id(s, conn, id, out);
}

static int delete_in_tx(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id)
{
    int rc = check_owner(s, conn, user_id, id);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = stmt(s, conn, ST_DELETE);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "delete entry");
    done(st);
    return rc;
}

/* ---- group commit (see the top of this file) ----------------------------- */

enum write_kind { WRITE_CREATE, WRITE_UPDATE, WRITE_DELETE };

struct write_job {
    enum write_kind kind;
    int64_t user_id, id;
    const char *call_id;
    const struct diary_write *w;
    struct diary_entry *out; /* create, update: filled by whichever thread leads */
    bool *deduped;
    int rc;
    bool done;
    struct write_job *next;
};

struct diary_commits {
    pthread_mutex_t lock;
    pthread_cond_t finished; /* a group ended: waiters check their `done` */
    struct write_job *head, **tail;
    bool leading;            /* a thread is running a group */
    int64_t writes, transactions;
};

static int commits_new(struct diary_commits **out)
{
    struct diary_commits *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TD_ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return TD_ENOMEM;
    }
    if (pthread_cond_init(&c->finished, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return TD_ENOMEM;
    }
    c->tail = &c->head;
    *out = c;
    return 0;
}

static void commits_free(struct diary_commits **pc)
{
    if (*pc == NULL)
        return;
    pthread_cond_destroy(&(*pc)->finished);
    pthread_mutex_destroy(&(*pc)->lock);
    free(*pc);
    *pc = NULL;
}

static int run_job(struct diary_store *s, unsigned conn, struct write_job *j)
{
    switch (j->kind) {
    case WRITE_CREATE:
        return create_in_tx(s, conn, j->user_id, j->call_id, j->w, j->out, j->deduped);
    case WRITE_UPDATE:
        return update_in_tx(s, conn, j->user_id, j->id, j->w, j->out);
    case WRITE_DELETE:
        return delete_in_tx(s, conn, j->user_id, j->id);
    }
    return TD_EINTERNAL;
}

/* A job that had succeeded but whose group did not commit. */
static void unwind_job(struct write_job *j, int rc)
{
    if (j->rc == 0 && j->out != NULL)
        diary_entry_clear(j->out);
    j->rc = rc;
}

/* Runs `group` (a list) in one transaction on `conn`; sets every job's rc. */
static void run_group(struct diary_store *s, unsigned conn, struct write_job *group)
{
    int rc = begin(s, conn, true);
    for (struct write_job *j = group; j != NULL; j = j->next) {
        if (rc != 0) {
            j->rc = rc;
            continue;
        }
        rc = run(s, conn, ST_SAVEPOINT);
        if (rc != 0) {
            j->rc = rc;
            continue;
        }
        j->rc = run_job(s, conn, j);
        if (j->rc != 0 && j->out != NULL)
            diary_entry_clear(j->out);
        /* A failed write leaves nothing behind; the others carry on. */
        if (j->rc != 0)
            rc = run(s, conn, ST_ROLLBACK_TO);
        rc = rc ? rc : run(s, conn, ST_RELEASE);
        /* Some errors (I/O, disk full) make SQLite roll back the whole
         * transaction itself: then nothing of the group stands. */
        if (rc == 0 && sqlite3_get_autocommit(s->conns[conn].db))
            rc = storage_error(s, conn, "group transaction lost");
    }
    if (rc == 0)
        rc = end(s, conn, 0);
    else
        end(s, conn, rc); /* rolls back what is left */
    if (rc != 0) {
        for (struct write_job *j = group; j != NULL; j = j->next)
            unwind_job(j, j->rc != 0 && j->rc != TD_ESTORAGE && j->rc != TD_ENOMEM ? j->rc : rc);
        /* a job that failed on its own merits keeps its answer; every
         * other one fails with the group */
        for (struct write_job *j = group; j != NULL; j = j->next)
            if (j->rc == 0)
                j->rc = rc;
    }
}

/* Queues `job` and returns when a group containing it has ended. */
static int submit(struct diary_store *s, unsigned conn, struct write_job *job)
{
    struct diary_commits *c = s->commits;
    pthread_mutex_lock(&c->lock);
    job->next = NULL;
    *c->tail = job;
    c->tail = &job->next;
    while (!job->done) {
        if (c->leading) {
            pthread_cond_wait(&c->finished, &c->lock);
            continue;
        }
        c->leading = true;
        struct write_job *group = c->head;
        c->head = NULL;
        c->tail = &c->head;
        pthread_mutex_unlock(&c->lock);
        run_group(s, conn, group);
        pthread_mutex_lock(&c->lock);
        for (struct write_job *j = group, *next; j != NULL; j = next) {
            next = j->next; /* read before `done`: its owner may return at once */
            c->writes++;
            j->done = true;
        }
        c->transactions++;
        c->leading = false;
        pthread_cond_broadcast(&c->finished);
    }
    pthread_mutex_unlock(&c->lock);
    return job->rc;
}

void diary_store_commit_counts(struct diary_store *s, int64_t *writes, int64_t *transactions)
{
    pthread_mutex_lock(&s->commits->lock);
    *writes = s->commits->writes;
    *transactions = s->commits->transactions;
    pthread_mutex_unlock(&s->commits->lock);
}

/* ---- entries ------------------------------------------------------------ */

int diary_store_create(struct diary_store *s, unsigned conn, int64_t user_id, const char *call_id,
                       const struct diary_write *w, struct diary_entry *out, bool *deduped)
{
    ON_PG(s, diary_pg_create(PG_CONN(s, conn), user_id, call_id, w, out, deduped));
    struct diary_entry e = {0};
    bool dedup = false;
    struct write_job job = {.kind = WRITE_CREATE, .user_id = user_id, .call_id = call_id,
                            .w = w, .out = &e, .deduped = &dedup};
    int rc = submit(s, conn, &job);
    if (rc == 0) {
        *out = e;
        *deduped = dedup;
    }
    return rc;
}

int diary_store_get(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id,
                    struct diary_entry *out)
{
    ON_PG(s, diary_pg_get(PG_CONN(s, conn), user_id, id, out));
    struct diary_entry e = {0};
    int rc = get_by_id(s, conn, id, &e);
    if (rc == 0 && e.user_id != user_id) {
        diary_entry_clear(&e);
        rc = TD_EFORBIDDEN;
    }
    if (rc == 0)
        *out = e;
    return rc;
}

int diary_store_update(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id,
                       const struct diary_write *w, struct diary_entry *out)
{
    ON_PG(s, diary_pg_update(PG_CONN(s, conn), user_id, id, w, out));
    struct diary_entry e = {0};
    struct write_job job = {.kind = WRITE_UPDATE, .user_id = user_id, .id = id, .w = w, .out = &e};
    int rc = submit(s, conn, &job);
    if (rc == 0)
        *out = e;
    return rc;
}

int diary_store_delete(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id)
{
    ON_PG(s, diary_pg_delete(PG_CONN(s, conn), user_id, id));
    struct write_job job = {.kind = WRITE_DELETE, .user_id = user_id, .id = id};
    return submit(s, conn, &job);
}

int diary_store_delete_user(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t *deleted)
{
    ON_PG(s, diary_pg_delete_user(PG_CONN(s, conn), user_id, deleted));
    int rc = begin(s, conn, true);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = stmt(s, conn, ST_DELETE_USER);
    sqlite3_bind_int64(st, 1, user_id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "delete user entries");
    done(st);
    int64_t n = rc == 0 ? sqlite3_changes64(s->conns[conn].db) : 0;
    if (rc == 0) {
        st = stmt(s, conn, ST_TOMBSTONE_ADD);
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, td_now_us());
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "tombstone");
        done(st);
    }
    rc = end(s, conn, rc);
    if (rc == 0)
        *deleted = n;
    return rc;
}

int diary_store_seed(struct diary_store *s, unsigned conn, const struct diary_seed_entry *entries,
                     size_t n, bool clear, int64_t *cleared, int64_t *inserted)
{
    ON_PG(s, diary_pg_seed(PG_CONN(s, conn), entries, n, clear, cleared, inserted));
    int rc = begin(s, conn, true);
    if (rc != 0)
        return rc;
    *cleared = *inserted = 0;
    if (clear) {
        rc = run(s, conn, ST_SEED_CLEAR);
        if (rc == 0)
            *cleared = sqlite3_changes64(s->conns[conn].db);
    }
    /* A user who already has demo entries keeps them: a second seed adds
     * nothing (idempotence). The check runs once per user, before that
     * user's first insert, which is why a user's entries must be adjacent. */
    int64_t checked_user = 0;
    bool skip_user = false;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct diary_seed_entry *e = &entries[i];
        if (e->user_id != checked_user) {
            sqlite3_bind_int64(stmt(s, conn, ST_SEED_HAS), 1, e->user_id);
            int64_t have = 0;
            rc = one_int(s, conn, ST_SEED_HAS, &have);
            checked_user = e->user_id;
            skip_user = have > 0;
        }
        if (rc != 0 || skip_user)
            continue;
        sqlite3_stmt *st = stmt(s, conn, ST_SEED_INSERT);
        if (sqlite3_bind_int64(st, 1, e->user_id) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, e->content, (int)e->content_len, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, e->analyzed, (int)e->analyzed_len, SQLITE_STATIC) !=
                SQLITE_OK ||
            sqlite3_bind_int64(st, 4, e->created_at) != SQLITE_OK)
            rc = storage_error(s, conn, "seed bind");
        else if (sqlite3_step(st) != SQLITE_DONE)
            rc = storage_error(s, conn, "seed insert");
        else
            (*inserted)++;
        done(st);
    }
    return end(s, conn, rc);
}

int diary_store_stats(struct diary_store *s, unsigned conn, int64_t user_id,
                      struct diary_stats *out)
{
    ON_PG(s, diary_pg_stats(PG_CONN(s, conn), user_id, out));
    sqlite3_stmt *st = stmt(s, conn, ST_STATS);
    sqlite3_bind_int64(st, 1, user_id);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : storage_error(s, conn, "stats");
    memset(out, 0, sizeof *out); /* no row: a user without entries */
    if (step == SQLITE_ROW) {
        out->total_entries = sqlite3_column_int64(st, 0);
        out->positive_entries = sqlite3_column_int64(st, 1);
        out->negative_entries = sqlite3_column_int64(st, 2);
        out->neutral_entries = sqlite3_column_int64(st, 3);
        out->positive_count_total = sqlite3_column_int64(st, 4);
        out->negative_count_total = sqlite3_column_int64(st, 5);
    }
    done(st);
    return rc;
}

/* ---- pending analyses --------------------------------------------------- */

int diary_store_pending(struct diary_store *s, unsigned conn, int64_t now_us, size_t limit,
                        int64_t lease_us, struct diary_pending_item **items, size_t *count)
{
    ON_PG(s, diary_pg_pending(PG_CONN(s, conn), now_us, limit, lease_us, items, count));
    struct diary_pending_item *arr = calloc(limit ? limit : 1, sizeof *arr);
    if (arr == NULL)
        return TD_ENOMEM;
    sqlite3_stmt *st = stmt(s, conn, ST_PENDING);
    sqlite3_bind_int64(st, 1, now_us);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    size_t got = 0;
    int rc = 0, step = SQLITE_DONE;
    while (rc == 0 && got < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct diary_pending_item *p = &arr[got];
        p->id = sqlite3_column_int64(st, 0);
        p->version = sqlite3_column_int64(st, 1);
        int64_t attempts = sqlite3_column_int64(st, 2);
        p->attempts = attempts < 0 ? 0 : attempts > 64 ? 64 : (unsigned)attempts;
        p->content = dup_column(st, 3, &p->content_len);
        if (p->content == NULL)
            rc = TD_ENOMEM;
        else
            got++;
    }
    if (rc == 0 && got < limit && step != SQLITE_DONE)
        rc = storage_error(s, conn, "pending entries");
    done(st);
    if (rc != 0) {
        diary_pending_free(&arr, got);
        return rc;
    }
    *items = arr;
    *count = got;
    return 0;
}

int diary_store_apply_analysis(struct diary_store *s, unsigned conn, int64_t id, int64_t version,
                               const char *analyzed, size_t analyzed_len, int64_t pos,
                               int64_t neg, bool *applied)
{
    ON_PG(s, diary_pg_apply_analysis(PG_CONN(s, conn), id, version, analyzed, analyzed_len, pos, neg, applied));
    sqlite3_stmt *st = stmt(s, conn, ST_APPLY);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_text(st, 3, analyzed, (int)analyzed_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, pos);
    sqlite3_bind_int64(st, 5, neg);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "apply analysis");
    done(st);
    if (rc == 0)
        *applied = sqlite3_changes(s->conns[conn].db) > 0;
    return rc;
}

int diary_store_defer(struct diary_store *s, unsigned conn, int64_t id, int64_t version,
                      int64_t next_at_us)
{
    ON_PG(s, diary_pg_defer(PG_CONN(s, conn), id, version, next_at_us));
    sqlite3_stmt *st = stmt(s, conn, ST_DEFER);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int64(st, 3, next_at_us);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : storage_error(s, conn, "defer analysis");
    done(st);
    return rc;
}

int diary_store_release(struct diary_store *s, unsigned conn,
                        const struct diary_pending_item *items, size_t n)
{
    ON_PG(s, diary_pg_release(PG_CONN(s, conn), items, n));
    return 0; /* SQLite: nothing was leased */
}

int diary_store_pending_count(struct diary_store *s, unsigned conn, int64_t *count)
{
    ON_PG(s, diary_pg_pending_count(PG_CONN(s, conn), count));
    return one_int(s, conn, ST_PENDING_COUNT, count);
}

/* ---- filters, export, insights, import ------------------------------------ */

bool diary_filter_active(const struct diary_filter *f)
{
    return f != NULL && (f->match != NULL || f->from_us != INT64_MIN || f->to_us != INT64_MAX ||
                         f->tone != DIARY_TONE_ANY);
}

/* The smallest search key (SEARCH_KEY) of an entry created at or after
 * `t`, for t in [0, KEY_TIME_END]. */
static int64_t key_at(int64_t t)
{
    return t <= 0 ? 0 : t >= KEY_TIME_END ? INT64_MAX : t * KEY_SLOTS;
}

/* The keys [*lo, *hi] of entries created in [from, to), in the key's
 * band; an empty range is lo > hi. */
static void search_key_range(int64_t from, int64_t to, int64_t *lo, int64_t *hi)
{
    *lo = key_at(from);
    *hi = key_at(to) == INT64_MAX ? INT64_MAX : key_at(to) - 1;
    if (to <= 0 || (from >= KEY_TIME_END)) {
        *lo = 1;
        *hi = 0;
    }
}

/* Binds ?1-?5 of a FILTER_WHERE statement, and for a search ?9/?10, its
 * key range (a key range starting no earlier than `key_from`). */
static int bind_filter(sqlite3_stmt *st, int64_t user_id, const struct diary_filter *f,
                       int64_t key_from)
{
    int rc = sqlite3_bind_int64(st, 1, user_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, f->from_us);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, f->to_us);
    rc = rc ? rc : sqlite3_bind_int(st, 4, (int)f->tone);
    if (rc == SQLITE_OK && f->match != NULL) {
        int64_t lo, hi;
        search_key_range(f->from_us, f->to_us, &lo, &hi);
        rc = sqlite3_bind_text(st, 5, f->match, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_int64(st, 9, lo > key_from ? lo : key_from);
        rc = rc ? rc : sqlite3_bind_int64(st, 10, hi);
    }
    return rc == SQLITE_OK ? 0 : TD_ESTORAGE;
}

/* Reads up to `want` entries from a bound statement into a new array. */
static int read_entries(struct diary_store *s, unsigned conn, sqlite3_stmt *st, size_t want,
                        struct diary_entry **items, size_t *count)
{
    struct diary_entry *arr = calloc(want ? want : 1, sizeof *arr);
    if (arr == NULL)
        return TD_ENOMEM;
    size_t got = 0;
    int rc = 0, step = SQLITE_DONE;
    while (rc == 0 && got < want && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_entry(st, &arr[got]);
        got += rc == 0;
    }
    if (rc == 0 && got < want && step != SQLITE_DONE)
        rc = storage_error(s, conn, "filtered entries");
    if (rc != 0) {
        diary_entries_free(&arr, got);
        return rc;
    }
    *items = arr;
    *count = got;
    return 0;
}

/* diary_store_find without a filter: the total is the stats row. */
static int list_all(struct diary_store *s, unsigned conn, int64_t user_id, int64_t limit,
                    int64_t offset, struct diary_entry **items, size_t *count, int64_t *total)
{
    /* One read transaction: the total and the page come from one snapshot. */
    int rc = begin(s, conn, false);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    sqlite3_bind_int64(stmt(s, conn, ST_COUNT), 1, user_id);
    rc = one_int(s, conn, ST_COUNT, &n);
    struct diary_entry *arr = NULL;
    size_t got = 0;
    int64_t want = 0;
    if (rc == 0 && offset < n)
        want = n - offset < limit ? n - offset : limit;
    if (rc == 0 && want > 0) {
        arr = calloc((size_t)want, sizeof *arr);
        if (arr == NULL)
            rc = TD_ENOMEM;
    }
    if (rc == 0 && want > 0) {
        sqlite3_stmt *st = stmt(s, conn, ST_PAGE);
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, limit);
        sqlite3_bind_int64(st, 3, offset);
        int step = SQLITE_DONE;
        while (rc == 0 && got < (size_t)want && (step = sqlite3_step(st)) == SQLITE_ROW) {
            rc = read_entry(st, &arr[got]);
            got += rc == 0;
        }
        if (rc == 0 && got < (size_t)want && step != SQLITE_DONE)
            rc = storage_error(s, conn, "list entries");
        done(st);
    }
    rc = end(s, conn, rc);
    if (rc != 0) {
        diary_entries_free(&arr, got);
        return rc;
    }
    *items = arr;
    *count = got;
    *total = n;
    return 0;
}

int diary_store_find(struct diary_store *s, unsigned conn, int64_t user_id,
                     const struct diary_filter *f, int64_t limit, int64_t offset,
                     struct diary_entry **items, size_t *count, int64_t *total)
{
    ON_PG(s, diary_pg_find(PG_CONN(s, conn), user_id, f, limit, offset, items, count, total));
    if (!diary_filter_active(f))
        return list_all(s, conn, user_id, limit, offset, items, count, total);
    bool q = f->match != NULL;
    int rc = begin(s, conn, false);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = stmt(s, conn, q ? ST_Q_COUNT : ST_F_COUNT);
    int64_t n = 0;
    rc = bind_filter(st, user_id, f, 0);
    rc = rc ? rc : one_int(s, conn, q ? ST_Q_COUNT : ST_F_COUNT, &n);
    if (rc != 0)
        done(st);
    struct diary_entry *arr = NULL;
    size_t got = 0;
    int64_t want = 0;
    if (rc == 0 && offset < n)
        want = n - offset < limit ? n - offset : limit;
    if (rc == 0 && want > 0) {
        st = stmt(s, conn, q ? ST_Q_PAGE : ST_F_PAGE);
        rc = bind_filter(st, user_id, f, 0);
        if (rc == 0 && (sqlite3_bind_int64(st, 6, limit) != SQLITE_OK ||
                        sqlite3_bind_int64(st, 7, offset) != SQLITE_OK ||
                        (q && sqlite3_bind_int64(st, 11, offset + want) != SQLITE_OK)))
            rc = TD_ESTORAGE;
        rc = rc ? rc : read_entries(s, conn, st, (size_t)want, &arr, &got);
        done(st);
    }
    rc = end(s, conn, rc);
    if (rc != 0) {
        diary_entries_free(&arr, got);
        return rc;
    }
    *items = arr;
    *count = got;
    *total = n;
    return 0;
}

int diary_store_export_page(struct diary_store *s, unsigned conn, int64_t user_id,
                            const struct diary_filter *f, int64_t after_created,
                            int64_t after_id, int64_t limit, struct diary_entry **items,
                            size_t *count)
{
    ON_PG(s, diary_pg_export_page(PG_CONN(s, conn), user_id, f, after_created, after_id, limit, items, count));
    sqlite3_stmt *st = stmt(s, conn, f->match != NULL ? ST_Q_AFTER : ST_F_AFTER);
    int rc = bind_filter(st, user_id, f, key_at(after_created));
    if (rc == 0 && (sqlite3_bind_int64(st, 6, after_created) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 7, after_id) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 8, limit) != SQLITE_OK))
        rc = TD_ESTORAGE;
    rc = rc ? rc : read_entries(s, conn, st, (size_t)limit, items, count);
    done(st);
    return rc;
}

static int bind_range(sqlite3_stmt *st, int64_t user_id, int64_t from_us, int64_t to_us)
{
    int rc = sqlite3_bind_int64(st, 1, user_id);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, from_us);
    rc = rc ? rc : sqlite3_bind_int64(st, 3, to_us);
    return rc == SQLITE_OK ? 0 : TD_ESTORAGE;
}

int diary_store_range_stats(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t from_us, int64_t to_us, struct diary_stats *out)
{
    ON_PG(s, diary_pg_range_stats(PG_CONN(s, conn), user_id, from_us, to_us, out));
    sqlite3_stmt *st = stmt(s, conn, ST_RANGE_STATS);
    int rc = bind_range(st, user_id, from_us, to_us);
    if (rc == 0 && sqlite3_step(st) != SQLITE_ROW)
        rc = storage_error(s, conn, "range stats");
    if (rc == 0) {
        out->total_entries = sqlite3_column_int64(st, 0);
        out->positive_entries = (int64_t)sqlite3_column_double(st, 1);
        out->negative_entries = (int64_t)sqlite3_column_double(st, 2);
        out->neutral_entries = (int64_t)sqlite3_column_double(st, 3);
        out->positive_count_total = (int64_t)sqlite3_column_double(st, 4);
        out->negative_count_total = (int64_t)sqlite3_column_double(st, 5);
    }
    done(st);
    return rc;
}

int diary_store_scan_tones(struct diary_store *s, unsigned conn, int64_t user_id,
                           int64_t from_us, int64_t to_us,
                           int (*fn)(void *arg, int64_t created_at, int64_t pos, int64_t neg),
                           void *arg)
{
    ON_PG(s, diary_pg_scan_tones(PG_CONN(s, conn), user_id, from_us, to_us, fn, arg));
    sqlite3_stmt *st = stmt(s, conn, ST_RANGE_TONES);
    int rc = bind_range(st, user_id, from_us, to_us), step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 2));
    if (rc == 0 && step != SQLITE_DONE)
        rc = storage_error(s, conn, "scan tones");
    done(st);
    return rc;
}

int diary_store_scan_markup(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t from_us, int64_t to_us,
                            int (*fn)(void *arg, const char *markup, size_t len), void *arg)
{
    ON_PG(s, diary_pg_scan_markup(PG_CONN(s, conn), user_id, from_us, to_us, fn, arg));
    sqlite3_stmt *st = stmt(s, conn, ST_RANGE_MARKUP);
    int rc = bind_range(st, user_id, from_us, to_us), step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        rc = m != NULL ? fn(arg, m, (size_t)n) : 0;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = storage_error(s, conn, "scan markup");
    done(st);
    return rc;
}

/* Binds user and import id (?1, ?2) of a staging statement. */
static int bind_import(sqlite3_stmt *st, int64_t user_id, const char *import_id)
{
    int rc = sqlite3_bind_int64(st, 1, user_id);
    rc = rc ? rc : sqlite3_bind_text(st, 2, import_id, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : TD_ESTORAGE;
}

int diary_store_import_stage(struct diary_store *s, unsigned conn, int64_t user_id,
                             const char *import_id, int64_t offset,
                             const struct diary_import_item *items, size_t n, int64_t now_us,
                             int64_t expire_before_us)
{
    ON_PG(s, diary_pg_import_stage(PG_CONN(s, conn), user_id, import_id, offset, items, n, now_us, expire_before_us));
    int rc = begin(s, conn, true);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = stmt(s, conn, ST_STAGE_EXPIRE);
    sqlite3_bind_int64(st, 1, expire_before_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = storage_error(s, conn, "expire staged imports");
    done(st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct diary_import_item *it = &items[i];
        st = stmt(s, conn, ST_STAGE_PUT);
        if (bind_import(st, user_id, import_id) != 0 ||
            sqlite3_bind_int64(st, 3, offset + (int64_t)i) != SQLITE_OK ||
            sqlite3_bind_text(st, 4, it->content, (int)it->content_len, SQLITE_STATIC) !=
                SQLITE_OK ||
            sqlite3_bind_text(st, 5, it->analyzed, (int)it->analyzed_len, SQLITE_STATIC) !=
                SQLITE_OK ||
            sqlite3_bind_int64(st, 6, it->created_at) != SQLITE_OK ||
            sqlite3_bind_int64(st, 7, now_us) != SQLITE_OK)
            rc = storage_error(s, conn, "stage bind");
        else if (sqlite3_step(st) != SQLITE_DONE)
            rc = storage_error(s, conn, "stage import");
        done(st);
    }
    return end(s, conn, rc);
}

int diary_store_import_drop(struct diary_store *s, unsigned conn, int64_t user_id,
                            const char *import_id)
{
    ON_PG(s, diary_pg_import_drop(PG_CONN(s, conn), user_id, import_id));
    sqlite3_stmt *st = stmt(s, conn, ST_STAGE_DROP);
    int rc = bind_import(st, user_id, import_id);
    if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
        rc = storage_error(s, conn, "drop staged import");
    done(st);
    return rc;
}

/* Inserts one staged row unless the same entry is there; inside the
 * commit's transaction. */
static int import_one(struct diary_store *s, unsigned conn, int64_t user_id, sqlite3_stmt *row,
                      int64_t now_us, bool *inserted)
{
    const char *content = (const char *)sqlite3_column_text(row, 0);
    int clen = sqlite3_column_bytes(row, 0);
    const char *analyzed = (const char *)sqlite3_column_text(row, 1);
    int alen = sqlite3_column_bytes(row, 1);
    int64_t created = sqlite3_column_int64(row, 2);
    if (content == NULL || analyzed == NULL)
        return TD_ENOMEM;
    sqlite3_stmt *has = stmt(s, conn, ST_IMPORT_HAS);
    int64_t n = 0;
    if (sqlite3_bind_int64(has, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_int64(has, 2, created) != SQLITE_OK ||
        sqlite3_bind_text(has, 3, content, clen, SQLITE_STATIC) != SQLITE_OK) {
        done(has);
        return storage_error(s, conn, "import check bind");
    }
    int rc = one_int(s, conn, ST_IMPORT_HAS, &n);
    if (rc != 0 || n > 0) {
        *inserted = false;
        return rc;
    }
    sqlite3_stmt *ins = stmt(s, conn, ST_IMPORT_INSERT);
    if (sqlite3_bind_int64(ins, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_text(ins, 2, content, clen, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(ins, 3, analyzed, alen, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(ins, 4, created) != SQLITE_OK ||
        sqlite3_bind_int64(ins, 5, now_us) != SQLITE_OK)
        rc = storage_error(s, conn, "import bind");
    else if (sqlite3_step(ins) != SQLITE_DONE)
        rc = storage_error(s, conn, "import insert");
    done(ins);
    *inserted = rc == 0;
    return rc;
}

int diary_store_import_commit(struct diary_store *s, unsigned conn, int64_t user_id,
                              const char *import_id, int64_t count, int64_t now_us,
                              int64_t *imported, int64_t *skipped)
{
    ON_PG(s, diary_pg_import_commit(PG_CONN(s, conn), user_id, import_id, count, now_us, imported, skipped));
    int rc = begin(s, conn, true);
    if (rc != 0)
        return rc;
    int64_t gone = 0;
    sqlite3_bind_int64(stmt(s, conn, ST_TOMBSTONE_HAS), 1, user_id);
    rc = one_int(s, conn, ST_TOMBSTONE_HAS, &gone);
    if (rc == 0 && gone > 0)
        rc = TD_EUSERNOTFOUND;
    /* Every piece arrived: exactly the indexes 0..count-1 (the primary key
     * makes them distinct). */
    sqlite3_stmt *st = stmt(s, conn, ST_STAGE_SHAPE);
    if (rc == 0)
        rc = bind_import(st, user_id, import_id);
    if (rc == 0 && sqlite3_step(st) != SQLITE_ROW)
        rc = storage_error(s, conn, "staged import shape");
    if (rc == 0 && (sqlite3_column_int64(st, 0) != count ||
                    (count > 0 && (sqlite3_column_int64(st, 1) != 0 ||
                                   sqlite3_column_int64(st, 2) != count - 1))))
        rc = TD_EINVAL;
    done(st);
    int64_t ins = 0, skip = 0;
    st = stmt(s, conn, ST_STAGE_ROWS);
    if (rc == 0)
        rc = bind_import(st, user_id, import_id);
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        bool inserted = false;
        rc = import_one(s, conn, user_id, st, now_us, &inserted);
        ins += inserted;
        skip += rc == 0 && !inserted;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = storage_error(s, conn, "staged import rows");
    done(st);
    /* The staged rows go with the same commit; after a failure they stay
     * until they expire (ST_STAGE_EXPIRE) or the gateway drops them. */
    if (rc == 0)
        rc = diary_store_import_drop(s, conn, user_id, import_id);
    rc = end(s, conn, rc);
    if (rc == 0) {
        *imported = ins;
        *skipped = skip;
    }
    return rc;
}
