/*
 * engine_rocksdb.c - the benchmark adapter for RocksDB through its C API
 * (rocksdb/c.h): a DB in the directory with default options except
 * create_if_missing and no compression (the other engines do not compress;
 * the values are random bytes anyway). The WAL is on, as the other engines
 * are crash-consistent. A write txn is a WriteBatch applied by
 * rocksdb_write at commit.
 * Bulk: WriteOptions sync=false, then rocksdb_flush_wal(sync=1) as sync;
 * durable: sync=true on every write. put_durable (fillsyncmt) is
 * rocksdb_put with a second, sync=true WriteOptions: rocksdb_put is
 * thread-safe, and RocksDB groups concurrent writers into one WAL write and
 * sync (its own group commit).
 * A read txn is an explicit snapshot; gets use rocksdb_get_pinned (no copy).
 * del cannot tell whether the key existed: it always returns 0.
 */
#include <rocksdb/c.h>
#include <stdlib.h>

#include "engine.h"

#ifndef BENCH_ROCKSDB_VERSION
#define BENCH_ROCKSDB_VERSION "?"
#endif

struct bench_db {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_writeoptions_t *wopt;
    rocksdb_writeoptions_t *wopt_sync; /* put_durable's: sync=true */
    rocksdb_writebatch_t *batch;
};

struct bench_reader {
    bench_db *h;
    rocksdb_readoptions_t *ropt;
    const rocksdb_snapshot_t *snap;
    rocksdb_iterator_t *it; /* one per read txn, created on the first scan */
    rocksdb_pinnableslice_t *pinned;
    int reverse;
    int started;
};

static int rk_fail(const char *what, char *err)
{
    int rc = bench_fail("%s: %s", what, err != NULL ? err : "?");
    rocksdb_free(err);
    return rc;
}

static void rk_close(bench_db *h)
{
    if (h->batch != NULL) {
        rocksdb_writebatch_destroy(h->batch);
    }
    if (h->wopt != NULL) {
        rocksdb_writeoptions_destroy(h->wopt);
    }
    if (h->wopt_sync != NULL) {
        rocksdb_writeoptions_destroy(h->wopt_sync);
    }
    if (h->db != NULL) {
        rocksdb_close(h->db);
    }
    if (h->opt != NULL) {
        rocksdb_options_destroy(h->opt);
    }
    free(h);
}

static int rk_open(const char *dir, enum bench_durability durability, bench_db **out)
{
    bench_db *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return bench_fail("out of memory");
    }
    h->opt = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(h->opt, 1);
    rocksdb_options_set_compression(h->opt, rocksdb_no_compression);
    char *err = NULL;
    h->db = rocksdb_open(h->opt, dir, &err);
    if (err != NULL) {
        h->db = NULL;
        rk_close(h);
        return rk_fail("rocksdb_open", err);
    }
    h->wopt = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(h->wopt, durability != BENCH_BULK ? 1 : 0);
    h->wopt_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(h->wopt_sync, 1);
    h->batch = rocksdb_writebatch_create();
    *out = h;
    return 0;
}

static int rk_begin(bench_db *h)
{
    rocksdb_writebatch_clear(h->batch);
    return 0;
}

static int rk_put(bench_db *h, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    (void)append;
    rocksdb_writebatch_put(h->batch, k, kl, v, vl);
    return 0;
}

static int rk_del(bench_db *h, const void *k, size_t kl)
{
    rocksdb_writebatch_delete(h->batch, k, kl);
    return 0;
}

static int rk_commit(bench_db *h)
{
    char *err = NULL;
    rocksdb_write(h->db, h->wopt, h->batch, &err);
    rocksdb_writebatch_clear(h->batch);
    return err == NULL ? 0 : rk_fail("rocksdb_write", err);
}

static int rk_sync(bench_db *h)
{
    char *err = NULL;
    rocksdb_flush_wal(h->db, 1, &err);
    return err == NULL ? 0 : rk_fail("rocksdb_flush_wal", err);
}

static int rk_put_durable(bench_db *h, const void *k, size_t kl, const void *v, size_t vl)
{
    char *err = NULL;
    rocksdb_put(h->db, h->wopt_sync, k, kl, v, vl, &err);
    return err == NULL ? 0 : rk_fail("rocksdb_put", err);
}

static int rk_reader_open(bench_db *h, bench_reader **out)
{
    bench_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return bench_fail("out of memory");
    }
    r->h = h;
    r->ropt = rocksdb_readoptions_create();
    *out = r;
    return 0;
}

static int rk_read_end(bench_reader *r)
{
    if (r->pinned != NULL) {
        rocksdb_pinnableslice_destroy(r->pinned);
        r->pinned = NULL;
    }
    if (r->it != NULL) {
        rocksdb_iter_destroy(r->it);
        r->it = NULL;
    }
    if (r->snap != NULL) {
        rocksdb_readoptions_set_snapshot(r->ropt, NULL);
        rocksdb_release_snapshot(r->h->db, r->snap);
        r->snap = NULL;
    }
    return 0;
}

static void rk_reader_close(bench_reader *r)
{
    rk_read_end(r);
    rocksdb_readoptions_destroy(r->ropt);
    free(r);
}

static int rk_read_begin(bench_reader *r)
{
    r->snap = rocksdb_create_snapshot(r->h->db);
    rocksdb_readoptions_set_snapshot(r->ropt, r->snap);
    return 0;
}

static int rk_get(bench_reader *r, const void *k, size_t kl, const void **v, size_t *vl)
{
    if (r->pinned != NULL) {
        rocksdb_pinnableslice_destroy(r->pinned);
        r->pinned = NULL;
    }
    char *err = NULL;
    r->pinned = rocksdb_get_pinned(r->h->db, r->ropt, k, kl, &err);
    if (err != NULL) {
        return rk_fail("rocksdb_get_pinned", err);
    }
    if (r->pinned == NULL) {
        return 1;
    }
    *v = rocksdb_pinnableslice_value(r->pinned, vl);
    return 0;
}

static int rk_scan_start(bench_reader *r, const void *k, size_t kl, int reverse)
{
    if (r->it == NULL) {
        r->it = rocksdb_create_iterator(r->h->db, r->ropt);
    }
    if (k != NULL) {
        rocksdb_iter_seek(r->it, k, kl);
    } else if (reverse) {
        rocksdb_iter_seek_to_last(r->it);
    } else {
        rocksdb_iter_seek_to_first(r->it);
    }
    r->reverse = reverse;
    r->started = 0;
    return 0;
}

static int rk_scan_next(bench_reader *r, const void **k, size_t *kl, const void **v, size_t *vl)
{
    if (r->started) {
        if (r->reverse) {
            rocksdb_iter_prev(r->it);
        } else {
            rocksdb_iter_next(r->it);
        }
    }
    r->started = 1;
    if (!rocksdb_iter_valid(r->it)) {
        char *err = NULL;
        rocksdb_iter_get_error(r->it, &err);
        return err == NULL ? 1 : rk_fail("rocksdb iterator", err);
    }
    *k = rocksdb_iter_key(r->it, kl);
    *v = rocksdb_iter_value(r->it, vl);
    return 0;
}

const bench_engine bench_engine_rocksdb = {
    .name = "rocksdb",
    .version = BENCH_ROCKSDB_VERSION,
    .open = rk_open,
    .close = rk_close,
    .begin = rk_begin,
    .put = rk_put,
    .del = rk_del,
    .commit = rk_commit,
    .sync = rk_sync,
    .reader_open = rk_reader_open,
    .reader_close = rk_reader_close,
    .read_begin = rk_read_begin,
    .read_end = rk_read_end,
    .get = rk_get,
    .scan_start = rk_scan_start,
    .scan_next = rk_scan_next,
    .put_durable = rk_put_durable,
};
