/*
 * engine_sqlite.c - the benchmark adapter for SQLite: file "data.sqlite"
 * in WAL mode, table kv(key BLOB PRIMARY KEY, val BLOB) WITHOUT ROWID,
 * prepared statements, each write txn a BEGIN/COMMIT.
 * Bulk: synchronous=OFF (no sync on commit or checkpoint) and, as sync, an
 * fsync of every file in the directory (SQLite has no "sync now" call);
 * durable: synchronous=FULL (the WAL is synced at every commit), for
 * BENCH_DURABLE and BENCH_DURABLE_SHARED alike.
 * put_durable (fillsyncmt) runs BEGIN/INSERT/COMMIT on the adapter's one
 * connection under a mutex: a connection cannot hold interleaved txns of
 * several threads, so concurrent committers take turns, each with its own
 * WAL sync. That is what one shared connection gives; a connection per
 * thread would not do better, as SQLite allows one writer at a time and
 * the others would get SQLITE_BUSY (or wait in a busy handler).
 * Each reader is its own connection (a connection must not be shared by
 * threads running at once); a read txn is BEGIN ... COMMIT on it.
 * Page cache size, page size and mmap stay at SQLite's defaults.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct bench_db {
    sqlite3 *conn;
    sqlite3_stmt *put;
    sqlite3_stmt *del;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    pthread_mutex_t put_durable_lock; /* serializes put_durable's txns */
    char dir[4096];
    char path[4096];
};

struct bench_reader {
    sqlite3 *conn;
    sqlite3_stmt *get;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *scan_fwd; /* WHERE key >= ? ORDER BY key */
    sqlite3_stmt *scan_rev; /* ORDER BY key DESC */
    sqlite3_stmt *scan_all; /* ORDER BY key */
    sqlite3_stmt *scan;     /* the one in use */
};

static int sq_fail(sqlite3 *conn, const char *what)
{
    return bench_fail("%s: %s", what, conn != NULL ? sqlite3_errmsg(conn) : "no connection");
}

static int sq_exec(sqlite3 *conn, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bench_fail("%s: %s", sql, msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_prepare(sqlite3 *conn, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        return sq_fail(conn, sql);
    }
    return 0;
}

/* Runs a statement that returns no rows. */
static int sq_step_done(sqlite3 *conn, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(conn, what);
}

static void sq_close(bench_db *h)
{
    sqlite3_finalize(h->put);
    sqlite3_finalize(h->del);
    sqlite3_finalize(h->begin);
    sqlite3_finalize(h->commit);
    sqlite3_close(h->conn);
    pthread_mutex_destroy(&h->put_durable_lock);
    free(h);
}

static int sq_open(const char *dir, enum bench_durability durability, bench_db **out)
{
    bench_db *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return bench_fail("out of memory");
    }
    if (pthread_mutex_init(&h->put_durable_lock, NULL) != 0) {
        free(h);
        return bench_fail("pthread_mutex_init failed");
    }
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    if (snprintf(h->path, sizeof h->path, "%s/data.sqlite", dir) >= (int)sizeof h->path) {
        free(h);
        return bench_fail("path too long");
    }
    if (sqlite3_open_v2(h->path, &h->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        sq_fail(h->conn, "sqlite3_open_v2");
        sq_close(h);
        return -1;
    }
    const char *sync_pragma =
        durability != BENCH_BULK ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF";
    if (sq_exec(h->conn, "PRAGMA journal_mode=WAL") != 0 || sq_exec(h->conn, sync_pragma) != 0 ||
        sq_exec(h->conn, "CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, val BLOB) "
                         "WITHOUT ROWID") != 0 ||
        sq_prepare(h->conn, "INSERT OR REPLACE INTO kv(key, val) VALUES(?1, ?2)", &h->put) != 0 ||
        sq_prepare(h->conn, "DELETE FROM kv WHERE key = ?1", &h->del) != 0 ||
        sq_prepare(h->conn, "BEGIN", &h->begin) != 0 ||
        sq_prepare(h->conn, "COMMIT", &h->commit) != 0) {
        sq_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

static int sq_begin(bench_db *h)
{
    return sq_step_done(h->conn, h->begin, "BEGIN");
}

static int sq_put(bench_db *h, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    (void)append;
    sqlite3_bind_blob(h->put, 1, k, (int)kl, SQLITE_STATIC);
    sqlite3_bind_blob(h->put, 2, v, (int)vl, SQLITE_STATIC);
    return sq_step_done(h->conn, h->put, "INSERT");
}

static int sq_del(bench_db *h, const void *k, size_t kl)
{
    sqlite3_bind_blob(h->del, 1, k, (int)kl, SQLITE_STATIC);
    if (sq_step_done(h->conn, h->del, "DELETE") != 0) {
        return -1;
    }
    return sqlite3_changes(h->conn) == 0 ? 1 : 0;
}

static int sq_commit(bench_db *h)
{
    return sq_step_done(h->conn, h->commit, "COMMIT");
}

static int sq_put_durable(bench_db *h, const void *k, size_t kl, const void *v, size_t vl)
{
    pthread_mutex_lock(&h->put_durable_lock);
    int rc = sq_begin(h);
    if (rc == 0) {
        rc = sq_put(h, k, kl, v, vl, 0);
        if (rc == 0) {
            rc = sq_commit(h);
        }
        if (rc != 0 && !sqlite3_get_autocommit(h->conn)) {
            sqlite3_exec(h->conn, "ROLLBACK", NULL, NULL, NULL); /* the message is recorded */
        }
    }
    pthread_mutex_unlock(&h->put_durable_lock);
    return rc;
}

static int sq_sync(bench_db *h)
{
    return bench_fsync_dir(h->dir);
}

static void sq_reader_close(bench_reader *r)
{
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_finalize(r->scan_fwd);
    sqlite3_finalize(r->scan_rev);
    sqlite3_finalize(r->scan_all);
    sqlite3_close(r->conn);
    free(r);
}

static int sq_reader_open(bench_db *h, bench_reader **out)
{
    bench_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return bench_fail("out of memory");
    }
    if (sqlite3_open_v2(h->path, &r->conn, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sq_fail(r->conn, "sqlite3_open_v2(reader)");
        sq_reader_close(r);
        return -1;
    }
    if (sq_prepare(r->conn, "SELECT val FROM kv WHERE key = ?1", &r->get) != 0 ||
        sq_prepare(r->conn, "BEGIN", &r->begin) != 0 ||
        sq_prepare(r->conn, "COMMIT", &r->commit) != 0 ||
        sq_prepare(r->conn, "SELECT key, val FROM kv WHERE key >= ?1 ORDER BY key", &r->scan_fwd) !=
            0 ||
        sq_prepare(r->conn, "SELECT key, val FROM kv ORDER BY key DESC", &r->scan_rev) != 0 ||
        sq_prepare(r->conn, "SELECT key, val FROM kv ORDER BY key", &r->scan_all) != 0) {
        sq_reader_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

static int sq_read_begin(bench_reader *r)
{
    return sq_step_done(r->conn, r->begin, "BEGIN(read)");
}

static int sq_read_end(bench_reader *r)
{
    if (r->scan != NULL) {
        sqlite3_reset(r->scan);
        r->scan = NULL;
    }
    return sq_step_done(r->conn, r->commit, "COMMIT(read)");
}

static int sq_get(bench_reader *r, const void *k, size_t kl, const void **v, size_t *vl)
{
    sqlite3_reset(r->get);
    sqlite3_bind_blob(r->get, 1, k, (int)kl, SQLITE_STATIC);
    int rc = sqlite3_step(r->get);
    if (rc == SQLITE_DONE) {
        return 1;
    }
    if (rc != SQLITE_ROW) {
        return sq_fail(r->conn, "SELECT");
    }
    /* Valid until the next step/reset of r->get: the next call. */
    *v = sqlite3_column_blob(r->get, 0);
    *vl = (size_t)sqlite3_column_bytes(r->get, 0);
    return 0;
}

static int sq_scan_start(bench_reader *r, const void *k, size_t kl, int reverse)
{
    if (r->scan != NULL) {
        sqlite3_reset(r->scan);
    }
    if (k != NULL) {
        if (reverse) {
            return bench_fail("sqlite adapter: reverse scan from a key not implemented");
        }
        r->scan = r->scan_fwd;
        sqlite3_bind_blob(r->scan, 1, k, (int)kl, SQLITE_STATIC);
    } else {
        r->scan = reverse ? r->scan_rev : r->scan_all;
    }
    return 0;
}

static int sq_scan_next(bench_reader *r, const void **k, size_t *kl, const void **v, size_t *vl)
{
    int rc = sqlite3_step(r->scan);
    if (rc == SQLITE_DONE) {
        return 1;
    }
    if (rc != SQLITE_ROW) {
        return sq_fail(r->conn, "SELECT(scan)");
    }
    *k = sqlite3_column_blob(r->scan, 0);
    *kl = (size_t)sqlite3_column_bytes(r->scan, 0);
    *v = sqlite3_column_blob(r->scan, 1);
    *vl = (size_t)sqlite3_column_bytes(r->scan, 1);
    return 0;
}

const bench_engine bench_engine_sqlite = {
    .name = "sqlite",
    .version = SQLITE_VERSION,
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .put = sq_put,
    .del = sq_del,
    .commit = sq_commit,
    .sync = sq_sync,
    .reader_open = sq_reader_open,
    .reader_close = sq_reader_close,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .get = sq_get,
    .scan_start = sq_scan_start,
    .scan_next = sq_scan_next,
    .put_durable = sq_put_durable,
};
