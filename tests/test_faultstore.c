/*
 * test_faultstore.c - the fault-injecting wrapper (cowtree/faultstore.h):
 * the memory store's device model stacked on another store. Checks that
 * only synced or crash-applied writes reach the inner store, that crash
 * outcomes and snapshots are mirrored page by page, that the inner store's
 * errors and wrong bytes are reported, that the device model traces the
 * same whatever is underneath, and that the engine recovers over a file
 * store after simulated power cuts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/faultstore.h"
#include "cowtree/filestore.h"
#include "cowtree/memstore.h"
#include "helpers.h"

#define PS 4096u

static void fill(uint8_t *buf, uint8_t v)
{
    memset(buf, v, PS);
}

/* A plain memory store (no faults) to stack the wrapper on. */
static ct_pagestore *plain_mem(void)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = PS;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_memstore_create(&o, &ps), CT_OK);
    return ps;
}

static ct_pagestore *wrap(ct_pagestore *inner, uint64_t seed)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.seed = seed;
    ct_pagestore *fs = NULL;
    assert_int_equal(ct_faultstore_wrap(inner, &o, &fs), CT_OK);
    assert_ptr_equal(ct_faultstore_inner(fs), inner);
    return fs;
}

/* Byte v at page pgno of store ps (through its read op), -1 if unreadable. */
static int byte_at(ct_pagestore *ps, uint64_t pgno)
{
    uint8_t buf[PS];
    if (ps->ops->read(ps, pgno, 1, buf) != CT_OK) {
        return -1;
    }
    return buf[0];
}

static uint64_t size_of(ct_pagestore *ps)
{
    uint64_t n = 0;
    assert_int_equal(ps->ops->size(ps, &n), CT_OK);
    return n;
}

static void test_only_synced_writes_reach_inner(void **state)
{
    (void)state;
    ct_pagestore *inner = plain_mem();
    ct_pagestore *fs = wrap(inner, 1);
    assert_null(fs->ops->map); /* every read must reach inner */
    uint8_t buf[PS];
    fill(buf, 0xa1);
    assert_int_equal(fs->ops->write(fs, 3, 1, buf), CT_OK);
    assert_int_equal(byte_at(fs, 3), 0xa1);  /* the view sees it */
    assert_int_equal(size_of(inner), 0);     /* inner does not, yet */
    assert_int_equal(fs->ops->sync(fs), CT_OK);
    assert_int_equal(size_of(inner), 4);
    assert_int_equal(byte_at(inner, 3), 0xa1);
    assert_int_equal(byte_at(inner, 0), 0);

    ct_faultstore_info fi;
    assert_int_equal(ct_faultstore_get_info(fs, &fi), CT_OK);
    assert_int_equal(fi.inner_writes, 1); /* pages 0..2 were never written */
    assert_int_equal(fi.inner_syncs, 1);
    assert_int_equal(fi.inner_errors, 0);
    /* A read of a durable page now comes from inner, and matches. */
    assert_int_equal(byte_at(fs, 3), 0xa1);
    assert_int_equal(byte_at(fs, 1), 0);
    assert_int_equal(ct_faultstore_get_info(fs, &fi), CT_OK);
    assert_int_equal(fi.inner_reads, 2);
    assert_int_equal(fi.inner_mismatches, 0);
    fs->ops->close(fs); /* closes inner too (ASan checks the leak) */
}

static void test_crash_outcomes_are_mirrored(void **state)
{
    (void)state;
    ct_pagestore *inner = plain_mem();
    ct_pagestore *fs = wrap(inner, 2);
    uint8_t buf[PS];
    fill(buf, 1);
    assert_int_equal(fs->ops->write(fs, 0, 1, buf), CT_OK);
    assert_int_equal(fs->ops->sync(fs), CT_OK);
    fill(buf, 2);
    assert_int_equal(fs->ops->write(fs, 0, 1, buf), CT_OK);
    fill(buf, 3);
    assert_int_equal(fs->ops->write(fs, 5, 1, buf), CT_OK);

    ct_memstore_snapshot *snap = NULL;
    assert_int_equal(ct_memstore_snapshot_take(fs, &snap), CT_OK);

    ct_crash_outcome o = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(fs, &o), CT_OK);
    assert_int_equal(size_of(inner), 1);
    assert_int_equal(byte_at(inner, 0), 1);

    assert_int_equal(ct_memstore_snapshot_restore(fs, snap), CT_OK);
    o.mode = CT_CRASH_SUBSET;
    o.mask = 2; /* only the write of page 5 */
    assert_int_equal(ct_memstore_crash(fs, &o), CT_OK);
    assert_int_equal(size_of(inner), 6);
    assert_int_equal(byte_at(inner, 0), 1);
    assert_int_equal(byte_at(inner, 5), 3);

    assert_int_equal(ct_memstore_snapshot_restore(fs, snap), CT_OK);
    assert_int_equal(size_of(inner), 1); /* back to the snapshot's durable image */
    o.mode = CT_CRASH_KEEP_ALL;
    assert_int_equal(ct_memstore_crash(fs, &o), CT_OK);
    assert_int_equal(byte_at(inner, 0), 2);
    assert_int_equal(byte_at(inner, 5), 3);

    /* A torn write reaches inner as the torn bytes the model chose. */
    assert_int_equal(ct_memstore_snapshot_restore(fs, snap), CT_OK);
    o.mode = CT_CRASH_TEAR_ONE;
    o.index = 0;
    o.seed = 77;
    assert_int_equal(ct_memstore_crash(fs, &o), CT_OK);
    uint8_t want[PS];
    uint8_t got[PS];
    assert_int_equal(ct_memstore_peek(fs, 0, want), CT_OK);
    assert_int_equal(inner->ops->read(inner, 0, 1, got), CT_OK);
    assert_memory_equal(got, want, PS);
    int old = 0;
    int neu = 0;
    for (size_t i = 0; i < PS; i += CT_SECTOR_SIZE) {
        old += got[i] == 1;
        neu += got[i] == 2;
    }
    assert_true(neu < (int)(PS / CT_SECTOR_SIZE)); /* not the whole new page */

    ct_memstore_snapshot_free(snap);
    fs->ops->close(fs);
    (void)old;
}

static void test_restore_rewrites_only_changed_pages(void **state)
{
    (void)state;
    ct_pagestore *inner = plain_mem();
    ct_pagestore *fs = wrap(inner, 3);
    uint8_t buf[8 * PS];
    memset(buf, 9, sizeof buf);
    assert_int_equal(fs->ops->write(fs, 0, 8, buf), CT_OK);
    assert_int_equal(fs->ops->sync(fs), CT_OK);
    ct_memstore_snapshot *snap = NULL;
    assert_int_equal(ct_memstore_snapshot_take(fs, &snap), CT_OK);
    fill(buf, 4);
    assert_int_equal(fs->ops->write(fs, 6, 1, buf), CT_OK);
    assert_int_equal(fs->ops->sync(fs), CT_OK);
    ct_faultstore_info before;
    assert_int_equal(ct_faultstore_get_info(fs, &before), CT_OK);
    assert_int_equal(ct_memstore_snapshot_restore(fs, snap), CT_OK);
    ct_faultstore_info after;
    assert_int_equal(ct_faultstore_get_info(fs, &after), CT_OK);
    assert_int_equal(after.inner_writes - before.inner_writes, 1);
    assert_int_equal(byte_at(inner, 6), 9);
    ct_memstore_snapshot_free(snap);
    fs->ops->close(fs);
}

static void test_inner_errors_and_wrong_bytes_are_reported(void **state)
{
    (void)state;
    ct_pagestore *inner = plain_mem();
    ct_pagestore *fs = wrap(inner, 4);
    uint8_t buf[PS];
    fill(buf, 5);
    assert_int_equal(fs->ops->write(fs, 2, 1, buf), CT_OK);
    assert_int_equal(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_SYNC, 1, 0), CT_OK);
    assert_int_equal(fs->ops->sync(fs), CT_IO);
    ct_faultstore_info fi;
    assert_int_equal(ct_faultstore_get_info(fs, &fi), CT_OK);
    assert_int_equal(fi.inner_errors, 1);
    /* The next sync succeeds and inner holds the page. */
    assert_int_equal(fs->ops->sync(fs), CT_OK);
    assert_int_equal(byte_at(inner, 2), 5);

    /* Inner garbles a page behind the wrapper's back: the read returns
       inner's bytes (the engine must see what the store gives) and the
       mismatch is counted. */
    fill(buf, 6);
    assert_int_equal(ct_memstore_poke(inner, 2, buf), CT_OK);
    assert_int_equal(byte_at(fs, 2), 6);
    assert_int_equal(ct_faultstore_get_info(fs, &fi), CT_OK);
    assert_int_equal(fi.inner_mismatches, 1);

    /* A failing inner read is CT_IO. */
    assert_int_equal(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_READ, 1, 0), CT_OK);
    assert_int_equal(fs->ops->read(fs, 2, 1, buf), CT_IO);
    fs->ops->close(fs);
}

/* Same ops, same seed: a memory store and the wrapper over a memory store
   trace the same hash (one device model), and their images agree. */
static void test_same_trace_as_memory_store(void **state)
{
    (void)state;
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.seed = 99;
    o.faults.sync_error = (ct_ratio){1, 4};
    o.faults.misdirected_write = (ct_ratio){1, 8};
    ct_pagestore *mem = NULL;
    assert_int_equal(ct_memstore_create(&o, &mem), CT_OK);
    ct_pagestore *fs = NULL;
    assert_int_equal(ct_faultstore_wrap(plain_mem(), &o, &fs), CT_OK);
    ct_pagestore *both[2] = {mem, fs};
    th_rng r;
    th_rng_seed(&r, 5);
    uint8_t buf[4 * PS];
    for (int i = 0; i < 300; i++) {
        uint64_t kind = th_below(&r, 10);
        uint64_t pgno = th_below(&r, 40);
        uint32_t n = (uint32_t)(1 + th_below(&r, 4));
        th_fill(&r, buf, sizeof buf);
        for (int s = 0; s < 2; s++) {
            ct_pagestore *ps = both[s];
            if (kind < 6) {
                (void)ps->ops->write(ps, pgno, n, buf);
            } else if (kind < 8) {
                (void)ps->ops->sync(ps);
            } else if (kind < 9) {
                (void)ps->ops->resize(ps, pgno);
            } else {
                ct_crash_outcome c = {.mode = CT_CRASH_RANDOM, .seed = pgno};
                assert_int_equal(ct_memstore_crash(ps, &c), CT_OK);
            }
        }
    }
    ct_memstore_info a;
    ct_memstore_info b;
    assert_int_equal(ct_memstore_get_info(mem, &a), CT_OK);
    assert_int_equal(ct_memstore_get_info(fs, &b), CT_OK);
    assert_int_equal(a.trace_hash, b.trace_hash);
    assert_int_equal(a.durable_pages, b.durable_pages);
    assert_true(a.faults_injected[CT_MEMSTORE_FAULT_SYNC_ERROR] > 0);
    ct_pagestore *inner = ct_faultstore_inner(fs);
    ct_crash_outcome c = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(mem, &c), CT_OK);
    assert_int_equal(ct_memstore_crash(fs, &c), CT_OK);
    assert_int_equal(size_of(inner), a.durable_pages);
    uint8_t x[PS];
    uint8_t y[PS];
    for (uint64_t p = 0; p < a.durable_pages; p++) {
        assert_int_equal(ct_memstore_peek(mem, p, x), CT_OK);
        assert_int_equal(inner->ops->read(inner, p, 1, y), CT_OK);
        assert_memory_equal(x, y, PS);
    }
    ct_faultstore_info fi;
    assert_int_equal(ct_faultstore_get_info(fs, &fi), CT_OK);
    assert_int_equal(fi.inner_mismatches, 0);
    mem->ops->close(mem);
    fs->ops->close(fs);
}

/* The engine over the wrapper over a real file: power cuts at every op of
   a few commits; after each crash the file, reopened on its own, holds the
   last acknowledged commit or the one in flight. */
static void test_engine_over_file_survives_power_cuts(void **state)
{
    (void)state;
    char dir[512];
    th_tmpdir_make(dir, sizeof dir);
    char path[600];
    snprintf(path, sizeof path, "%s/db", dir);
    unsigned checked = 0;
    for (uint64_t cut = 0; cut < 60; cut++) {
        ct_pagestore *file = NULL;
        ct_filestore_options fo;
        ct_filestore_options_init(&fo);
        fo.page_size = 512;
        (void)remove(path);
        assert_int_equal(ct_filestore_open(path, &fo, &file), CT_OK);
        ct_pagestore *fs = NULL;
        assert_int_equal(ct_faultstore_wrap(file, NULL, &fs), CT_OK);
        ct_db *db = NULL;
        assert_int_equal(ct_open(fs, NULL, &db), CT_OK);
        ct_memstore_info mi;
        assert_int_equal(ct_memstore_get_info(fs, &mi), CT_OK);
        assert_int_equal(ct_memstore_set_power_cut(fs, mi.ops + cut), CT_OK);
        int acked = 0;
        for (int i = 1; i <= 6; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            ct_txn *t = NULL;
            if (ct_begin(db, 0, &t) != CT_OK) {
                break;
            }
            ct_bucket *b = NULL;
            int rc = ct_bucket_open(t, "main", CT_CREATE, &b);
            if (rc == CT_OK) {
                rc = ct_put(t, b, k, strlen(k), "v", 1, 0);
            }
            if (rc == CT_OK) {
                rc = ct_commit(t);
            } else {
                ct_abort(t);
            }
            if (rc != CT_OK) {
                break;
            }
            acked = i;
        }
        ct_close(db);
        ct_crash_outcome o = {.mode = CT_CRASH_RANDOM, .seed = cut};
        assert_int_equal(ct_memstore_crash(fs, &o), CT_OK);
        fs->ops->close(fs); /* closes the file store too */

        /* The file alone, no wrapper: what a real machine would reopen. */
        assert_int_equal(ct_open_path(path, NULL, &db), CT_OK);
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
        ct_bucket *b = NULL;
        int found = 0;
        if (ct_bucket_open(t, "main", 0, &b) == CT_OK) {
            for (int i = 1; i <= 6; i++) {
                char k[16];
                snprintf(k, sizeof k, "k%d", i);
                const void *v = NULL;
                size_t vlen = 0;
                if (ct_get(t, b, k, strlen(k), &v, &vlen) == CT_OK) {
                    assert_int_equal(found, i - 1); /* a prefix of the commits */
                    found = i;
                }
            }
        }
        if (!(found == acked || found == acked + 1)) {
            print_error("cut %llu: found %d acked %d\n", (unsigned long long)cut, found, acked);
        }
        assert_true(found == acked || found == acked + 1);
        ct_abort(t);
        th_check_clean(db);
        ct_close(db);
        checked++;
        if (acked == 6) {
            break;
        }
    }
    assert_true(checked >= 10);
    th_tmpdir_remove(dir);
}

static void test_wrap_existing_contents_and_bad_args(void **state)
{
    (void)state;
    ct_pagestore *inner = plain_mem();
    uint8_t buf[PS];
    fill(buf, 8);
    assert_int_equal(inner->ops->write(inner, 2, 1, buf), CT_OK);
    assert_int_equal(inner->ops->sync(inner), CT_OK);
    ct_pagestore *fs = NULL;
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = 512;
    assert_int_equal(ct_faultstore_wrap(inner, &o, &fs), CT_INVALID);
    assert_null(fs);
    assert_int_equal(ct_faultstore_wrap(NULL, NULL, &fs), CT_INVALID);
    assert_int_equal(ct_faultstore_wrap(inner, NULL, NULL), CT_INVALID);
    fs = wrap(inner, 6);
    assert_int_equal(size_of(fs), 3);
    assert_int_equal(byte_at(fs, 2), 8);
    ct_memstore_info mi;
    assert_int_equal(ct_memstore_get_info(fs, &mi), CT_OK);
    assert_int_equal(mi.durable_pages, 3);
    assert_int_equal(mi.pending, 0);
    assert_null(ct_faultstore_inner(inner)); /* a memory store has none */
    ct_faultstore_info fi;
    assert_int_equal(ct_faultstore_get_info(inner, &fi), CT_OK);
    assert_int_equal(fi.inner_writes, 0);
    fs->ops->close(fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_synced_writes_reach_inner),
        cmocka_unit_test(test_crash_outcomes_are_mirrored),
        cmocka_unit_test(test_restore_rewrites_only_changed_pages),
        cmocka_unit_test(test_inner_errors_and_wrong_bytes_are_reported),
        cmocka_unit_test(test_same_trace_as_memory_store),
        cmocka_unit_test(test_engine_over_file_survives_power_cuts),
        cmocka_unit_test(test_wrap_existing_contents_and_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
