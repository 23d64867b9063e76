/*
 * prop_sqlite.c - SQLite as a reference: one in-memory database, one
 * table per bucket, `tN(key BLOB PRIMARY KEY, val BLOB) WITHOUT ROWID`
 * (bytewise key order, shorter first: the same order as cowtree). The
 * write txn is BEGIN..COMMIT/ROLLBACK; DDL is transactional, so bucket
 * create/drop roll back too. Cursors are positioned queries on the current
 * key (first/last/seek/next/prev), with cowtree's contract for an
 * unpositioned cursor. No snapshots (one connection): the SQLite property
 * never generates them. A reopen rolls back and begins again (the
 * in-memory database lives as long as its connection).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"

struct pt_be {
    sqlite3 *db;
    unsigned cur_bucket;
    int positioned;
    uint8_t *ck; /* current key and value (copies) */
    uint8_t *cv;
    size_t ckl;
    size_t cvl;
    size_t ckcap;
    size_t cvcap;
    uint8_t *gv; /* last get's value (copy) */
    size_t gvcap;
};

static const uint8_t empty_blob[1] = {0};

static void *grow(void *p, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return p;
    }
    size_t cap2 = need < 64 ? 64 : need * 2;
    void *q = realloc(p, cap2);
    if (!q) {
        fprintf(stderr, "cowtree-proptest: out of memory\n");
        exit(2);
    }
    *cap = cap2;
    return q;
}

static int exec_sql(pt_be *b, const char *sql)
{
    return sqlite3_exec(b->db, sql, NULL, NULL, NULL) == SQLITE_OK ? PT_R_OK : -2000;
}

/* A blob bind that never binds NULL (a zero-length key is a key). */
static int bind(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
    return sqlite3_bind_blob(st, i, n ? (const void *)p : (const void *)empty_blob, (int)n,
                             SQLITE_STATIC);
}

static int prep(pt_be *b, sqlite3_stmt **st, const char *fmt, unsigned bucket)
{
    char sql[256];
    snprintf(sql, sizeof(sql), fmt, bucket, bucket);
    return sqlite3_prepare_v2(b->db, sql, -1, st, NULL) == SQLITE_OK ? PT_R_OK : -2001;
}

static int table_exists(pt_be *b, unsigned bucket)
{
    sqlite3_stmt *st = NULL;
    if (prep(b, &st, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='t%u'", bucket) !=
        PT_R_OK) {
        return 0;
    }
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int create_table(pt_be *b, unsigned bucket)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE TABLE t%u(key BLOB PRIMARY KEY, val BLOB) WITHOUT ROWID",
             bucket);
    return exec_sql(b, sql);
}

static int sq_open(pt_be **out, const pt_case *c, char *err, size_t errcap)
{
    (void)c;
    pt_be *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errcap, "sqlite: out of memory");
        return -1;
    }
    if (sqlite3_open(":memory:", &b->db) != SQLITE_OK || create_table(b, 0) != PT_R_OK ||
        exec_sql(b, "BEGIN") != PT_R_OK) {
        snprintf(err, errcap, "sqlite open: %s", b->db ? sqlite3_errmsg(b->db) : "?");
        sqlite3_close(b->db);
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static void sq_close(pt_be *b)
{
    if (!b) {
        return;
    }
    sqlite3_close(b->db);
    free(b->ck);
    free(b->cv);
    free(b->gv);
    free(b);
}

static int sq_commit(pt_be *b)
{
    int r = exec_sql(b, "COMMIT");
    int r2 = exec_sql(b, "BEGIN");
    return r != PT_R_OK ? r : r2;
}

static void sq_abort(pt_be *b)
{
    (void)exec_sql(b, "ROLLBACK");
    (void)exec_sql(b, "BEGIN");
}

static int sq_reopen(pt_be *b)
{
    sq_abort(b);
    return PT_R_OK;
}

/* Runs a one-row query; copies column 0 (and 1) into the cursor. */
static int row(pt_be *b, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        return PT_R_NOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        return -2002;
    }
    b->ckl = (size_t)sqlite3_column_bytes(st, 0);
    b->ck = grow(b->ck, &b->ckcap, b->ckl + 1);
    if (b->ckl) {
        memcpy(b->ck, sqlite3_column_blob(st, 0), b->ckl);
    }
    b->cvl = (size_t)sqlite3_column_bytes(st, 1);
    b->cv = grow(b->cv, &b->cvcap, b->cvl + 1);
    if (b->cvl) {
        memcpy(b->cv, sqlite3_column_blob(st, 1), b->cvl);
    }
    return PT_R_OK;
}

static int sq_get(pt_be *b, int snap, unsigned bucket, const uint8_t *k, size_t kl,
                  const uint8_t **v, size_t *vl)
{
    (void)snap;
    if (!table_exists(b, bucket)) {
        return PT_R_NOBUCKET;
    }
    sqlite3_stmt *st = NULL;
    int r = prep(b, &st, "SELECT val FROM t%u WHERE key = ?", bucket);
    if (r != PT_R_OK) {
        return r;
    }
    bind(st, 1, k, kl);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *vl = (size_t)sqlite3_column_bytes(st, 0);
        b->gv = grow(b->gv, &b->gvcap, *vl + 1);
        if (*vl) {
            memcpy(b->gv, sqlite3_column_blob(st, 0), *vl);
        }
        *v = b->gv;
        r = PT_R_OK;
    } else {
        r = rc == SQLITE_DONE ? PT_R_NOTFOUND : -2003;
    }
    sqlite3_finalize(st);
    return r;
}

static int sq_put(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl, const uint8_t *v,
                  size_t vl, unsigned flags)
{
    if (!table_exists(b, bucket)) {
        return PT_R_NOBUCKET;
    }
    sqlite3_stmt *st = NULL;
    int r;
    if (flags & PT_F_APPEND) { /* key must be above every key: max(key) first */
        r = prep(b, &st, "SELECT count(*) FROM t%u WHERE key >= ?", bucket);
        if (r != PT_R_OK) {
            return r;
        }
        bind(st, 1, k, kl);
        int above = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
        sqlite3_finalize(st);
        if (above != 0) {
            return above > 0 ? PT_R_EXISTS : -2004;
        }
    }
    r = prep(b, &st,
             flags ? "INSERT INTO t%u(key, val) VALUES(?, ?)"
                   : "INSERT OR REPLACE INTO t%u(key, val) VALUES(?, ?)",
             bucket);
    if (r != PT_R_OK) {
        return r;
    }
    bind(st, 1, k, kl);
    bind(st, 2, v, vl);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        return PT_R_OK;
    }
    return rc == SQLITE_CONSTRAINT ? PT_R_EXISTS : -2005;
}

static int sq_del(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl)
{
    if (!table_exists(b, bucket)) {
        return PT_R_NOBUCKET;
    }
    sqlite3_stmt *st = NULL;
    int r = prep(b, &st, "DELETE FROM t%u WHERE key = ?", bucket);
    if (r != PT_R_OK) {
        return r;
    }
    bind(st, 1, k, kl);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return -2006;
    }
    return sqlite3_changes(b->db) > 0 ? PT_R_OK : PT_R_NOTFOUND;
}

static int sq_bucket_create(pt_be *b, unsigned bucket)
{
    return table_exists(b, bucket) ? PT_R_EXISTS : create_table(b, bucket);
}

static int sq_bucket_drop(pt_be *b, unsigned bucket)
{
    if (!table_exists(b, bucket)) {
        return PT_R_NOBUCKET;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "DROP TABLE t%u", bucket);
    return exec_sql(b, sql);
}

static int sq_cur_open(pt_be *b, int snap, unsigned bucket)
{
    (void)snap;
    if (!table_exists(b, bucket)) {
        return PT_R_NOBUCKET;
    }
    b->cur_bucket = bucket;
    b->positioned = 0;
    return PT_R_OK;
}

static int sq_cur_move(pt_be *b, int how, const uint8_t *k, size_t kl)
{
    if (how == PT_CUR_NEXT && !b->positioned) {
        how = PT_CUR_FIRST;
    }
    if (how == PT_CUR_PREV && !b->positioned) {
        how = PT_CUR_LAST;
    }
    static const char *const sql[] = {
        "SELECT key, val FROM t%u ORDER BY key LIMIT 1",
        "SELECT key, val FROM t%u ORDER BY key DESC LIMIT 1",
        "SELECT key, val FROM t%u WHERE key >= ? ORDER BY key LIMIT 1",
        "SELECT key, val FROM t%u WHERE key > ? ORDER BY key LIMIT 1",
        "SELECT key, val FROM t%u WHERE key < ? ORDER BY key DESC LIMIT 1",
    };
    sqlite3_stmt *st = NULL;
    int r = prep(b, &st, sql[how], b->cur_bucket);
    if (r != PT_R_OK) {
        b->positioned = 0;
        return r;
    }
    if (how == PT_CUR_SEEK) {
        bind(st, 1, k, kl);
    } else if (how >= PT_CUR_NEXT) {
        /* The bound key is b->ck itself: bind a copy-free pointer, then
           row() overwrites b->ck only after the step. */
        bind(st, 1, b->ck, b->ckl);
    }
    uint8_t *keep = NULL;
    if (how >= PT_CUR_NEXT) { /* row() may realloc b->ck while it is bound */
        keep = b->ck;
        b->ck = NULL;
        b->ckcap = 0;
    }
    r = row(b, st);
    sqlite3_finalize(st);
    free(keep);
    b->positioned = r == PT_R_OK;
    return r;
}

static int sq_cur_get(pt_be *b, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    if (!b->positioned) {
        return PT_R_NOTFOUND;
    }
    *k = b->ck;
    *kl = b->ckl;
    *v = b->cv;
    *vl = b->cvl;
    return PT_R_OK;
}

static void sq_cur_close(pt_be *b)
{
    b->positioned = 0;
}

const pt_be_ops pt_be_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .reopen = sq_reopen,
    .commit = sq_commit,
    .abort = sq_abort,
    .put = sq_put,
    .get = sq_get,
    .del = sq_del,
    .bucket_create = sq_bucket_create,
    .bucket_drop = sq_bucket_drop,
    .snap_begin = NULL,
    .snap_end = NULL,
    .cur_open = sq_cur_open,
    .cur_move = sq_cur_move,
    .cur_get = sq_cur_get,
    .cur_close = sq_cur_close,
    .check = NULL,
};
