/*
 * engine_lmdb.c - the benchmark adapter for LMDB: one environment in the
 * directory, the unnamed database, a map of BENCH_LMDB_MAP_BYTES (virtual
 * address space only: the file grows as pages are used).
 * Bulk: MDB_NOSYNC and mdb_env_sync(force) at the end; durable: LMDB's
 * default (each commit syncs the data, then the meta page), for
 * BENCH_DURABLE and BENCH_DURABLE_SHARED alike; put_durable is
 * mdb_txn_begin/mdb_put/mdb_txn_commit on the calling thread's own txn
 * (LMDB serializes write txns: committers take turns, one sync each).
 * Readers use mdb_txn_reset/renew, LMDB's idiomatic fast path, and
 * MDB_NOTLS so a reader is not tied to thread-local slots.
 */
#include <lmdb.h>
#include <stdlib.h>

#include "engine.h"

/* 64 GiB: room for 1M 64 KiB values with plenty to spare; costs nothing
   but address space on a 64-bit system. Override it (-DBENCH_LMDB_MAP_BYTES=...)
   to profile under valgrind, whose address space is smaller. */
#ifndef BENCH_LMDB_MAP_BYTES
#define BENCH_LMDB_MAP_BYTES ((size_t)64 << 30)
#endif

struct bench_db {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *wtxn;
};

struct bench_reader {
    bench_db *h;
    MDB_txn *txn; /* reset (not aborted) between read txns */
    MDB_cursor *cur;
    int cur_live; /* cur is bound to the current txn */
    MDB_cursor_op step;
    MDB_cursor_op first_op;
    MDB_val seek_key;
    int started;
};

static int lm_fail(const char *what, int rc)
{
    return bench_fail("%s: %s", what, mdb_strerror(rc));
}

static int lm_open(const char *dir, enum bench_durability durability, bench_db **out)
{
    bench_db *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return bench_fail("out of memory");
    }
    int rc = mdb_env_create(&h->env);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(h->env, BENCH_LMDB_MAP_BYTES);
    }
    if (rc == 0) {
        rc = mdb_env_set_maxreaders(h->env, 126);
    }
    unsigned flags = MDB_NOTLS;
    if (durability == BENCH_BULK) {
        flags |= MDB_NOSYNC;
    }
    if (rc == 0) {
        rc = mdb_env_open(h->env, dir, flags, 0644);
    }
    MDB_txn *txn = NULL;
    if (rc == 0) {
        rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &h->dbi);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (h->env != NULL) {
            mdb_env_close(h->env);
        }
        free(h);
        return lm_fail("mdb open", rc);
    }
    *out = h;
    return 0;
}

static void lm_close(bench_db *h)
{
    if (h->wtxn != NULL) {
        mdb_txn_abort(h->wtxn);
    }
    mdb_env_close(h->env);
    free(h);
}

static int lm_begin(bench_db *h)
{
    int rc = mdb_txn_begin(h->env, NULL, 0, &h->wtxn);
    return rc == 0 ? 0 : lm_fail("mdb_txn_begin", rc);
}

static int lm_put(bench_db *h, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    MDB_val key = {kl, (void *)k};
    MDB_val val = {vl, (void *)v};
    int rc = mdb_put(h->wtxn, h->dbi, &key, &val, append ? MDB_APPEND : 0u);
    return rc == 0 ? 0 : lm_fail("mdb_put", rc);
}

static int lm_del(bench_db *h, const void *k, size_t kl)
{
    MDB_val key = {kl, (void *)k};
    int rc = mdb_del(h->wtxn, h->dbi, &key, NULL);
    if (rc == MDB_NOTFOUND) {
        return 1;
    }
    return rc == 0 ? 0 : lm_fail("mdb_del", rc);
}

static int lm_commit(bench_db *h)
{
    int rc = mdb_txn_commit(h->wtxn);
    h->wtxn = NULL;
    return rc == 0 ? 0 : lm_fail("mdb_txn_commit", rc);
}

static int lm_sync(bench_db *h)
{
    int rc = mdb_env_sync(h->env, 1);
    return rc == 0 ? 0 : lm_fail("mdb_env_sync", rc);
}

static int lm_put_durable(bench_db *h, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    if (rc != 0) {
        return lm_fail("mdb_txn_begin", rc);
    }
    MDB_val key = {kl, (void *)k};
    MDB_val val = {vl, (void *)v};
    rc = mdb_put(txn, h->dbi, &key, &val, 0u);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lm_fail("mdb_put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? 0 : lm_fail("mdb_txn_commit", rc);
}

static int lm_reader_open(bench_db *h, bench_reader **out)
{
    bench_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return bench_fail("out of memory");
    }
    r->h = h;
    *out = r;
    return 0;
}

static void lm_reader_close(bench_reader *r)
{
    if (r->cur != NULL) {
        mdb_cursor_close(r->cur);
    }
    if (r->txn != NULL) {
        mdb_txn_abort(r->txn);
    }
    free(r);
}

static int lm_read_begin(bench_reader *r)
{
    int rc;
    if (r->txn == NULL) {
        rc = mdb_txn_begin(r->h->env, NULL, MDB_RDONLY, &r->txn);
    } else {
        rc = mdb_txn_renew(r->txn);
    }
    r->cur_live = 0;
    return rc == 0 ? 0 : lm_fail("mdb read txn", rc);
}

static int lm_read_end(bench_reader *r)
{
    mdb_txn_reset(r->txn);
    return 0;
}

static int lm_get(bench_reader *r, const void *k, size_t kl, const void **v, size_t *vl)
{
    MDB_val key = {kl, (void *)k};
    MDB_val val;
    int rc = mdb_get(r->txn, r->h->dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
        return 1;
    }
    if (rc != 0) {
        return lm_fail("mdb_get", rc);
    }
    *v = val.mv_data;
    *vl = val.mv_size;
    return 0;
}

static int lm_scan_start(bench_reader *r, const void *k, size_t kl, int reverse)
{
    if (!r->cur_live) {
        int rc = r->cur == NULL ? mdb_cursor_open(r->txn, r->h->dbi, &r->cur)
                                : mdb_cursor_renew(r->txn, r->cur);
        if (rc != 0) {
            return lm_fail("mdb cursor", rc);
        }
        r->cur_live = 1;
    }
    r->seek_key.mv_size = kl;
    r->seek_key.mv_data = (void *)k;
    r->first_op = k != NULL ? MDB_SET_RANGE : (reverse ? MDB_LAST : MDB_FIRST);
    r->step = reverse ? MDB_PREV : MDB_NEXT;
    r->started = 0;
    return 0;
}

static int lm_scan_next(bench_reader *r, const void **k, size_t *kl, const void **v, size_t *vl)
{
    MDB_val key = r->seek_key;
    MDB_val val;
    int rc = mdb_cursor_get(r->cur, &key, &val, r->started ? r->step : r->first_op);
    r->started = 1;
    if (rc == MDB_NOTFOUND) {
        return 1;
    }
    if (rc != 0) {
        return lm_fail("mdb_cursor_get", rc);
    }
    *k = key.mv_data;
    *kl = key.mv_size;
    *v = val.mv_data;
    *vl = val.mv_size;
    return 0;
}

const bench_engine bench_engine_lmdb = {
    .name = "lmdb",
    .version = MDB_VERSION_STRING,
    .open = lm_open,
    .close = lm_close,
    .begin = lm_begin,
    .put = lm_put,
    .del = lm_del,
    .commit = lm_commit,
    .sync = lm_sync,
    .reader_open = lm_reader_open,
    .reader_close = lm_reader_close,
    .read_begin = lm_read_begin,
    .read_end = lm_read_end,
    .get = lm_get,
    .scan_start = lm_scan_start,
    .scan_next = lm_scan_next,
    .put_durable = lm_put_durable,
};
