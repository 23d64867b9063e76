/*
 * engine_leveldb.c - the benchmark adapter for LevelDB through its C API
 * (leveldb/c.h): a DB in the directory with default options except
 * create_if_missing and no compression (as for RocksDB: the other engines
 * do not compress). The log is on, so a commit survives a crash once it is
 * synced. A write txn is a WriteBatch applied by leveldb_write at commit.
 * Bulk: WriteOptions sync=false; sync writes an empty batch with sync=true,
 * which appends to the log and syncs it (LevelDB has no flush of the log
 * alone; db_bench's sync workloads are sync=true writes too). Durable:
 * sync=true on every write. put_durable (fillsyncmt) is leveldb_put with a
 * sync=true WriteOptions: leveldb_put is thread-safe, and LevelDB groups
 * concurrent writers into one log write and sync.
 * A read txn is an explicit snapshot. leveldb_get returns a malloc'd copy
 * (the C API has no pinned get); the reader keeps it until its next call.
 * del cannot tell whether the key existed: it always returns 0.
 */
#include <leveldb/c.h>
#include <stdlib.h>

#include "engine.h"

#ifndef BENCH_LEVELDB_VERSION
#define BENCH_LEVELDB_VERSION "?"
#endif

struct bench_db {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_writeoptions_t *wopt;
    leveldb_writeoptions_t *wopt_sync; /* sync's and put_durable's: sync=true */
    leveldb_writebatch_t *batch;
    leveldb_writebatch_t *empty; /* what sync writes */
};

struct bench_reader {
    bench_db *h;
    leveldb_readoptions_t *ropt;
    const leveldb_snapshot_t *snap;
    leveldb_iterator_t *it; /* one per read txn, created on the first scan */
    char *value;            /* the last get's copy */
    int reverse;
    int started;
};

static int ldb_fail(const char *what, char *err)
{
    int rc = bench_fail("%s: %s", what, err != NULL ? err : "?");
    leveldb_free(err);
    return rc;
}

static void ldb_close(bench_db *h)
{
    if (h->batch != NULL) {
        leveldb_writebatch_destroy(h->batch);
    }
    if (h->empty != NULL) {
        leveldb_writebatch_destroy(h->empty);
    }
    if (h->wopt != NULL) {
        leveldb_writeoptions_destroy(h->wopt);
    }
    if (h->wopt_sync != NULL) {
        leveldb_writeoptions_destroy(h->wopt_sync);
    }
    if (h->db != NULL) {
        leveldb_close(h->db);
    }
    if (h->opt != NULL) {
        leveldb_options_destroy(h->opt);
    }
    free(h);
}

static int ldb_open(const char *dir, enum bench_durability durability, bench_db **out)
{
    bench_db *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return bench_fail("out of memory");
    }
    h->opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(h->opt, 1);
    leveldb_options_set_compression(h->opt, leveldb_no_compression);
    char *err = NULL;
    h->db = leveldb_open(h->opt, dir, &err);
    if (err != NULL) {
        h->db = NULL;
        ldb_close(h);
        return ldb_fail("leveldb_open", err);
    }
    h->wopt = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(h->wopt, durability != BENCH_BULK ? 1 : 0);
    h->wopt_sync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(h->wopt_sync, 1);
    h->batch = leveldb_writebatch_create();
    h->empty = leveldb_writebatch_create();
    *out = h;
    return 0;
}

static int ldb_begin(bench_db *h)
{
    leveldb_writebatch_clear(h->batch);
    return 0;
}

static int ldb_put(bench_db *h, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    (void)append;
    leveldb_writebatch_put(h->batch, k, kl, v, vl);
    return 0;
}

static int ldb_del(bench_db *h, const void *k, size_t kl)
{
    leveldb_writebatch_delete(h->batch, k, kl);
    return 0;
}

static int ldb_commit(bench_db *h)
{
    char *err = NULL;
    leveldb_write(h->db, h->wopt, h->batch, &err);
    leveldb_writebatch_clear(h->batch);
    return err == NULL ? 0 : ldb_fail("leveldb_write", err);
}

static int ldb_sync(bench_db *h)
{
    char *err = NULL;
    leveldb_write(h->db, h->wopt_sync, h->empty, &err);
    return err == NULL ? 0 : ldb_fail("leveldb_write (sync)", err);
}

static int ldb_put_durable(bench_db *h, const void *k, size_t kl, const void *v, size_t vl)
{
    char *err = NULL;
    leveldb_put(h->db, h->wopt_sync, k, kl, v, vl, &err);
    return err == NULL ? 0 : ldb_fail("leveldb_put", err);
}

static int ldb_reader_open(bench_db *h, bench_reader **out)
{
    bench_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return bench_fail("out of memory");
    }
    r->h = h;
    r->ropt = leveldb_readoptions_create();
    *out = r;
    return 0;
}

static int ldb_read_end(bench_reader *r)
{
    leveldb_free(r->value);
    r->value = NULL;
    if (r->it != NULL) {
        leveldb_iter_destroy(r->it);
        r->it = NULL;
    }
    if (r->snap != NULL) {
        leveldb_readoptions_set_snapshot(r->ropt, NULL);
        leveldb_release_snapshot(r->h->db, r->snap);
        r->snap = NULL;
    }
    return 0;
}

static void ldb_reader_close(bench_reader *r)
{
    ldb_read_end(r);
    leveldb_readoptions_destroy(r->ropt);
    free(r);
}

static int ldb_read_begin(bench_reader *r)
{
    r->snap = leveldb_create_snapshot(r->h->db);
    leveldb_readoptions_set_snapshot(r->ropt, r->snap);
    return 0;
}

static int ldb_get(bench_reader *r, const void *k, size_t kl, const void **v, size_t *vl)
{
    leveldb_free(r->value);
    char *err = NULL;
    r->value = leveldb_get(r->h->db, r->ropt, k, kl, vl, &err);
    if (err != NULL) {
        return ldb_fail("leveldb_get", err);
    }
    if (r->value == NULL) {
        return 1;
    }
    *v = r->value;
    return 0;
}

static int ldb_scan_start(bench_reader *r, const void *k, size_t kl, int reverse)
{
    if (r->it == NULL) {
        r->it = leveldb_create_iterator(r->h->db, r->ropt);
    }
    if (k != NULL) {
        leveldb_iter_seek(r->it, k, kl);
    } else if (reverse) {
        leveldb_iter_seek_to_last(r->it);
    } else {
        leveldb_iter_seek_to_first(r->it);
    }
    r->reverse = reverse;
    r->started = 0;
    return 0;
}

static int ldb_scan_next(bench_reader *r, const void **k, size_t *kl, const void **v, size_t *vl)
{
    if (r->started) {
        if (r->reverse) {
            leveldb_iter_prev(r->it);
        } else {
            leveldb_iter_next(r->it);
        }
    }
    r->started = 1;
    if (!leveldb_iter_valid(r->it)) {
        char *err = NULL;
        leveldb_iter_get_error(r->it, &err);
        return err == NULL ? 1 : ldb_fail("leveldb iterator", err);
    }
    *k = leveldb_iter_key(r->it, kl);
    *v = leveldb_iter_value(r->it, vl);
    return 0;
}

const bench_engine bench_engine_leveldb = {
    .name = "leveldb",
    .version = BENCH_LEVELDB_VERSION,
    .open = ldb_open,
    .close = ldb_close,
    .begin = ldb_begin,
    .put = ldb_put,
    .del = ldb_del,
    .commit = ldb_commit,
    .sync = ldb_sync,
    .reader_open = ldb_reader_open,
    .reader_close = ldb_reader_close,
    .read_begin = ldb_read_begin,
    .read_end = ldb_read_end,
    .get = ldb_get,
    .scan_start = ldb_scan_start,
    .scan_next = ldb_scan_next,
    .put_durable = ldb_put_durable,
};
