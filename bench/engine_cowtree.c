/*
 * engine_cowtree.c - the benchmark adapter for cowtree: one file
 * "data.ct" in the directory through ct_open_path, the default bucket.
 * Bulk: CT_SYNC_NONE and ct_sync at the end; durable: CT_SYNC_FULL;
 * durable shared (fillsyncmt): CT_SYNC_GROUP, so concurrent committers
 * share one sync, and put_durable is ct_begin/ct_put/ct_commit on a txn of
 * the calling thread's own (ct_begin waits while another thread holds the
 * write txn).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cowtree.h"
#include "engine.h"

struct bench_db {
    ct_db *db;
    ct_txn *wtxn;
};

struct bench_reader {
    ct_db *db;
    ct_txn *txn;
    ct_cursor *cur;
    int reverse;
    int started; /* scan_next has returned the positioned entry */
    int positioned_rc;
};

static int ct_fail(const char *what, int rc)
{
    return bench_fail("%s: %s (%s)", what, ct_errname(rc), ct_strerror(rc));
}

static int ctb_open(const char *dir, enum bench_durability durability, bench_db **out)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.ct", dir) >= (int)sizeof path) {
        return bench_fail("path too long");
    }
    bench_db *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return bench_fail("out of memory");
    }
    ct_options opt;
    ct_options_init(&opt);
    switch (durability) {
    case BENCH_DURABLE:
        opt.durability = CT_SYNC_FULL;
        break;
    case BENCH_DURABLE_SHARED:
        opt.durability = CT_SYNC_GROUP;
        break;
    default:
        opt.durability = CT_SYNC_NONE;
        break;
    }
    /* Trade-off experiments only (bench/README.md): the default is what
       ships; COWTREE_BENCH_AUTOSYNC=N sets ct_options.autosync_pages. */
    const char *autosync = getenv("COWTREE_BENCH_AUTOSYNC");
    if (autosync != NULL) {
        opt.autosync_pages = (size_t)strtoull(autosync, NULL, 10);
    }
    int rc = ct_open_path(path, &opt, &h->db);
    if (rc != CT_OK) {
        free(h);
        return ct_fail("ct_open_path", rc);
    }
    *out = h;
    return 0;
}

static void ctb_close(bench_db *h)
{
    ct_abort(h->wtxn);
    ct_close(h->db);
    free(h);
}

static int ctb_begin(bench_db *h)
{
    int rc = ct_begin(h->db, 0, &h->wtxn);
    return rc == CT_OK ? 0 : ct_fail("ct_begin", rc);
}

static int ctb_put(bench_db *h, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    int rc = ct_put(h->wtxn, NULL, k, kl, v, vl, append ? CT_APPEND : 0u);
    return rc == CT_OK ? 0 : ct_fail("ct_put", rc);
}

static int ctb_del(bench_db *h, const void *k, size_t kl)
{
    int rc = ct_del(h->wtxn, NULL, k, kl);
    if (rc == CT_NOTFOUND) {
        return 1;
    }
    return rc == CT_OK ? 0 : ct_fail("ct_del", rc);
}

static int ctb_commit(bench_db *h)
{
    int rc = ct_commit(h->wtxn);
    h->wtxn = NULL;
    return rc == CT_OK ? 0 : ct_fail("ct_commit", rc);
}

static int ctb_sync(bench_db *h)
{
    int rc = ct_sync(h->db);
    return rc == CT_OK ? 0 : ct_fail("ct_sync", rc);
}

static int ctb_put_durable(bench_db *h, const void *k, size_t kl, const void *v, size_t vl)
{
    ct_txn *txn;
    int rc = ct_begin(h->db, 0, &txn);
    if (rc != CT_OK) {
        return ct_fail("ct_begin", rc);
    }
    rc = ct_put(txn, NULL, k, kl, v, vl, 0u);
    if (rc != CT_OK) {
        ct_abort(txn);
        return ct_fail("ct_put", rc);
    }
    rc = ct_commit(txn); /* CT_SYNC_GROUP: returns once a sync covers it */
    return rc == CT_OK ? 0 : ct_fail("ct_commit", rc);
}

static int ctb_reader_open(bench_db *h, bench_reader **out)
{
    bench_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return bench_fail("out of memory");
    }
    r->db = h->db;
    *out = r;
    return 0;
}

static void ctb_reader_close(bench_reader *r)
{
    ct_abort(r->txn);
    free(r);
}

static int ctb_read_begin(bench_reader *r)
{
    int rc = ct_begin(r->db, CT_TXN_RDONLY, &r->txn);
    return rc == CT_OK ? 0 : ct_fail("ct_begin(rdonly)", rc);
}

static int ctb_read_end(bench_reader *r)
{
    int rc = ct_commit(r->txn); /* ends a read txn; frees its cursors */
    r->txn = NULL;
    r->cur = NULL;
    return rc == CT_OK ? 0 : ct_fail("ct_commit(rdonly)", rc);
}

static int ctb_get(bench_reader *r, const void *k, size_t kl, const void **v, size_t *vl)
{
    int rc = ct_get(r->txn, NULL, k, kl, v, vl);
    if (rc == CT_NOTFOUND) {
        return 1;
    }
    return rc == CT_OK ? 0 : ct_fail("ct_get", rc);
}

static int ctb_scan_start(bench_reader *r, const void *k, size_t kl, int reverse)
{
    if (r->cur == NULL) {
        int rc = ct_cursor_open(r->txn, NULL, &r->cur);
        if (rc != CT_OK) {
            return ct_fail("ct_cursor_open", rc);
        }
    }
    int rc;
    if (k != NULL) {
        rc = ct_cursor_seek(r->cur, k, kl);
    } else if (reverse) {
        rc = ct_cursor_last(r->cur);
    } else {
        rc = ct_cursor_first(r->cur);
    }
    if (rc != CT_OK && rc != CT_NOTFOUND) {
        return ct_fail("ct_cursor position", rc);
    }
    r->positioned_rc = rc;
    r->reverse = reverse;
    r->started = 0;
    return 0;
}

static int ctb_scan_next(bench_reader *r, const void **k, size_t *kl, const void **v, size_t *vl)
{
    int rc;
    if (!r->started) {
        r->started = 1;
        rc = r->positioned_rc;
    } else {
        rc = r->reverse ? ct_cursor_prev(r->cur) : ct_cursor_next(r->cur);
    }
    if (rc == CT_NOTFOUND) {
        return 1;
    }
    if (rc != CT_OK) {
        return ct_fail("ct_cursor step", rc);
    }
    rc = ct_cursor_get(r->cur, k, kl, v, vl);
    return rc == CT_OK ? 0 : ct_fail("ct_cursor_get", rc);
}

#define CTB_STR2(x) #x
#define CTB_STR(x) CTB_STR2(x)

const bench_engine bench_engine_cowtree = {
    .name = "cowtree",
    .version =
        CTB_STR(CT_VERSION_MAJOR) "." CTB_STR(CT_VERSION_MINOR) "." CTB_STR(CT_VERSION_PATCH),
    .open = ctb_open,
    .close = ctb_close,
    .begin = ctb_begin,
    .put = ctb_put,
    .del = ctb_del,
    .commit = ctb_commit,
    .sync = ctb_sync,
    .reader_open = ctb_reader_open,
    .reader_close = ctb_reader_close,
    .read_begin = ctb_read_begin,
    .read_end = ctb_read_end,
    .get = ctb_get,
    .scan_start = ctb_scan_start,
    .scan_next = ctb_scan_next,
    .put_durable = ctb_put_durable,
};
