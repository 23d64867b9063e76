/*
 * test_overflow.c - large values: sizes 0 B, 1 B, exactly the inline
 * threshold (a leaf cell of 4 + klen + vlen bytes <= ct__cell_max_bytes)
 * and one byte over it (for short and maximal keys), one-page and two-page
 * runs at their boundary, 1 MiB, and 64 MiB at 4096-byte pages; each
 * written, read back, overwritten (bigger, smaller, inline) and deleted,
 * with ct_check after every step proving the runs are accounted for and
 * nothing leaks; snapshots keep an overwritten run readable; a random mix
 * of sizes across the thresholds; large runs from the end of the store
 * start aligned.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

static uint8_t *big_value(size_t len, uint64_t tag)
{
    uint8_t *v = malloc(len ? len : 1);
    assert_non_null(v);
    th_value_fill(v, len, tag);
    return v;
}

/* Pages of an overflow run holding vlen bytes (header included). */
static uint64_t run_pages(uint32_t page_size, uint64_t vlen)
{
    return (CT_PAGE_HDR_BYTES + vlen + page_size - 1) / page_size;
}

static ct_check_report checked(ct_db *db)
{
    th_check_clean(db);
    ct_check_report r;
    th_assert_rc(ct_check(db, &r), CT_OK);
    return r;
}

static void put_value(ct_db *db, const void *key, size_t klen, size_t vlen, uint64_t tag)
{
    uint8_t *v = big_value(vlen, tag);
    th_put1(db, key, klen, v, vlen);
    free(v);
}

static void expect_val(ct_db *db, const void *key, size_t klen, size_t vlen, uint64_t tag)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, key, klen, &v, &vl), CT_OK);
    th_assert_eq(vl, vlen);
    th_assert_eq(th_value_check(v, vl, tag), vlen);
    /* The cursor sees the same value. */
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    th_assert_rc(ct_cursor_seek(c, key, klen), CT_OK);
    const void *ck = NULL;
    size_t ckl = 0;
    th_assert_rc(ct_cursor_get(c, &ck, &ckl, &v, &vl), CT_OK);
    th_assert_eq(ckl, klen);
    th_assert_eq(vl, vlen);
    th_assert_eq(th_value_check(v, vl, tag), vlen);
    ct_abort(t);
}

/* One value size through its life: put, read, check (overflow pages as
   expected), overwrite with `next` bytes, read, check, delete, check. */
static void value_life(th_env *e, const uint8_t *key, size_t klen, size_t vlen, size_t next)
{
    uint32_t ps = e->page_size;
    uint32_t inline_max = ct__cell_max_bytes(ps) - CT_LEAF_CELL_FIXED - (uint32_t)klen;
    th_set_ctx("page %u klen %zu vlen %zu -> %zu (inline max %u)", ps, klen, vlen, next,
               inline_max);
    put_value(e->db, key, klen, vlen, vlen);
    expect_val(e->db, key, klen, vlen, vlen);
    ct_check_report r = checked(e->db);
    th_assert_eq(r.pages_overflow, vlen > inline_max ? run_pages(ps, vlen) : 0);
    th_assert_eq(r.entries, 1);
    put_value(e->db, key, klen, next, next + 1);
    expect_val(e->db, key, klen, next, next + 1);
    r = checked(e->db);
    th_assert_eq(r.pages_overflow, next > inline_max ? run_pages(ps, next) : 0);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
    th_assert_rc(ct_del(t, NULL, key, klen), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    r = checked(e->db);
    th_assert_eq(r.pages_overflow, 0);
    th_assert_eq(r.entries, 0);
}

/* Every threshold at 512 and 4096-byte pages, for the empty key, a short
   key and a maximal key: 0, 1, inline max, inline max + 1, the largest
   one-page run, the smallest two-page run, and a 10-page run, each
   overwritten by a neighbouring size class. */
static void test_thresholds(void **state)
{
    (void)state;
    const uint32_t sizes[] = {512, 4096};
    for (size_t s = 0; s < 2; s++) {
        th_env e;
        th_env_init(&e, TH_STORE_MEM_NOMAP, sizes[s]);
        uint32_t ps = sizes[s];
        size_t kmax = ct_key_max(e.db);
        uint8_t key[1024];
        memset(key, 0xab, sizeof(key));
        const size_t klens[] = {0, 5, kmax};
        for (size_t ki = 0; ki < 3; ki++) {
            size_t klen = klens[ki];
            size_t inline_max = ct__cell_max_bytes(ps) - CT_LEAF_CELL_FIXED - klen;
            /* The inline limit is exactly where the engine switches. */
            const size_t vals[] = {0,
                                   1,
                                   inline_max - 1,
                                   inline_max,
                                   inline_max + 1,
                                   ps - CT_PAGE_HDR_BYTES,
                                   ps - CT_PAGE_HDR_BYTES + 1,
                                   10u * ps - CT_PAGE_HDR_BYTES};
            size_t nv = sizeof(vals) / sizeof(vals[0]);
            for (size_t i = 0; i < nv; i++) {
                value_life(&e, key, klen, vals[i], vals[(i + 1) % nv]);
                value_life(&e, key, klen, vals[i], vals[(i + nv - 1) % nv]);
            }
        }
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

/* 1 MiB values at 512 and 4096-byte pages on the memory store (map on and
   off): written, read, overwritten by another 1 MiB value and by a small
   one, deleted; no leak after each step; reopen keeps them. */
static void test_one_mib(void **state)
{
    (void)state;
    const size_t mib = (size_t)1 << 20;
    const th_store_kind kinds[] = {TH_STORE_MEM, TH_STORE_MEM_NOMAP, TH_STORE_RAM};
    for (size_t k = 0; k < 3; k++) {
        for (uint32_t ps = 512; ps <= 4096; ps *= 8) {
            th_env e;
            th_env_init(&e, kinds[k], ps);
            th_set_ctx("%s page %u", th_store_name(kinds[k]), ps);
            put_value(e.db, "big", 3, mib, 1);
            put_value(e.db, "small", 5, 10, 2);
            expect_val(e.db, "big", 3, mib, 1);
            ct_check_report r = checked(e.db);
            th_assert_eq(r.pages_overflow, run_pages(ps, mib));
            th_env_reopen(&e);
            expect_val(e.db, "big", 3, mib, 1);
            put_value(e.db, "big", 3, mib - 1, 3);
            expect_val(e.db, "big", 3, mib - 1, 3);
            r = checked(e.db);
            th_assert_eq(r.pages_overflow, run_pages(ps, mib - 1));
            put_value(e.db, "big", 3, 7, 4);
            r = checked(e.db);
            th_assert_eq(r.pages_overflow, 0);
            th_assert_true(r.pages_free > 0);
            ct_txn *t = NULL;
            th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            th_assert_rc(ct_del(t, NULL, "big", 3), CT_OK);
            th_assert_rc(ct_commit(t), CT_OK);
            checked(e.db);
            th_env_destroy(&e);
        }
    }
    th_ctx[0] = '\0';
}

/* 64 MiB values at 4096-byte pages on the file store: written, read back
   byte for byte, overwritten by other 64 MiB values (with small commits in
   between) and then by a small one, deleted; the check accounts for the
   16385-page runs and leaks nothing after each step; freed runs are reused,
   so six overwrites keep the file within three runs (+3%: a freed run is
   held for two commits, and small allocations may nibble at it) and end
   within two; after the delete the file shrinks. */
static void test_sixty_four_mib(void **state)
{
    (void)state;
    const size_t len = (size_t)64 << 20;
    const uint64_t run = run_pages(4096, len);
    th_env e;
    th_env_init(&e, TH_STORE_FILE, 4096);
    put_value(e.db, "huge", 4, len, 10);
    expect_val(e.db, "huge", 4, len, 10);
    ct_check_report r = checked(e.db);
    th_assert_eq(r.pages_overflow, run);
    char sizes[200] = "";
    size_t used = 0;
    uint64_t last = 0;
    for (int i = 1; i <= 6; i++) {
        put_value(e.db, "huge", 4, len - (size_t)i, 10u + (uint64_t)i);
        put_value(e.db, "x", 1, 1, 0);
        put_value(e.db, "y", 1, 1, 0);
        uint64_t sp = th_env_store_pages(&e);
        used += (size_t)snprintf(sizes + used, sizeof(sizes) - used, " %llu",
                                 (unsigned long long)sp);
        if (sp > 3 * run + run / 32) {
            print_error("store pages after each overwrite:%s\n", sizes);
        }
        th_assert_true(sp <= 3 * run + run / 32);
        last = sp;
        if (i % 3 == 0) {
            expect_val(e.db, "huge", 4, len - (size_t)i, 10u + (uint64_t)i);
            r = checked(e.db);
            th_assert_eq(r.pages_overflow, run_pages(4096, len - (size_t)i));
        }
    }
    print_message("  64 MiB values (%llu-page runs): store pages after each overwrite:%s\n",
                  (unsigned long long)run, sizes);
    th_assert_true(last <= 2 * run + run / 32); /* runs are being reused */
    put_value(e.db, "huge", 4, 3, 13);
    r = checked(e.db);
    th_assert_eq(r.pages_overflow, 0);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    th_assert_rc(ct_del(t, NULL, "huge", 4), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    for (int i = 0; i < 10; i++) {
        put_value(e.db, "x", 1, 1, (uint64_t)i);
    }
    checked(e.db);
    uint64_t after = th_env_store_pages(&e);
    print_message("  after deleting it and 10 small commits: %llu store pages\n",
                  (unsigned long long)after);
    th_assert_true(after < 100);
    th_env_destroy(&e);
}

/* A read txn that began before a large value was overwritten and deleted
   still reads the old value in full (its run is not reused under it). */
static void test_snapshot_keeps_overwritten_run(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_MEM, 512);
    put_value(e.db, "v", 1, 50000, 1);
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    for (int i = 0; i < 10; i++) {
        put_value(e.db, "v", 1, 50000 - (size_t)i, (uint64_t)i + 2); /* reuse is tempting */
    }
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    th_assert_rc(ct_del(t, NULL, "v", 1), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    for (int i = 0; i < 5; i++) {
        put_value(e.db, "w", 1, 50000, (uint64_t)i + 100);
    }
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(r, NULL, "v", 1, &v, &vl), CT_OK);
    assert_int_equal(vl, 50000);
    assert_int_equal(th_value_check(v, vl, 1), 50000);
    ct_abort(r);
    checked(e.db);
    th_env_destroy(&e);
}

/* Run starts in the store: pages whose header says overflow, names the
   page itself and spans `pages` (value bytes never look like that: they
   are th_value_fill's pseudo-random bytes). */
static size_t find_runs(th_env *e, uint64_t pages, uint64_t *starts, size_t max)
{
    struct ct_stat st;
    th_assert_rc(ct_stat(e->db, &st), CT_OK);
    size_t n = 0;
    for (uint64_t p = 2; p < st.pages_total; p++) {
        const uint8_t *pg = th_ram_page(e->ps, p);
        th_assert_true(pg != NULL);
        if (ct__ph_type(pg) == CT_PT_OVERFLOW && ct__ph_pgno(pg) == p &&
            ct__ph_upper(pg) == pages) {
            th_assert_true(n < max);
            starts[n++] = p;
        }
    }
    return n;
}

/* A run of CT_RUN_ALIGN_PAGES pages or more taken from the end of the
   store starts at a multiple of CT_RUN_ALIGN_PAGES (the page cache then
   holds a commit's values in large folios); a second run of the same txn
   follows the first directly; the pages skipped are free, and a later
   txn's tree pages take them instead of growing the store. */
static void test_runs_from_end_start_aligned(void **state)
{
    (void)state;
    for (uint32_t ps = 512; ps <= 4096; ps *= 8) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, ps);
        th_set_ctx("page %u", ps);
        const size_t vlen = (size_t)CT_RUN_ALIGN_PAGES * ps; /* a run of align + 1 */
        const uint64_t np = run_pages(ps, vlen);
        put_value(e.db, "k", 1, 10, 1);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        th_assert_true(st.pages_total % CT_RUN_ALIGN_PAGES != 0); /* else nothing to show */

        uint8_t *v = big_value(vlen, 2);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_put(t, NULL, "a", 1, v, vlen, 0), CT_OK);
        th_assert_rc(ct_put(t, NULL, "b", 1, v, vlen, 0), CT_OK);
        th_assert_rc(ct_commit(t), CT_OK);
        uint64_t runs[4];
        th_assert_eq(find_runs(&e, np, runs, 4), 2);
        th_assert_eq(runs[0] % CT_RUN_ALIGN_PAGES, 0);
        th_assert_eq(runs[1], runs[0] + np);
        ct_check_report r = checked(e.db);
        th_assert_true(r.pages_free > 0); /* the pages skipped */
        expect_val(e.db, "a", 1, vlen, 2);

        /* The commit left the end unaligned (free-list and tree pages
           follow the runs); the next txn's run skips again. */
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        th_assert_true(st.pages_total % CT_RUN_ALIGN_PAGES != 0);
        put_value(e.db, "c", 1, vlen, 3);
        th_assert_eq(find_runs(&e, np, runs, 4), 3);
        th_assert_eq(runs[2] % CT_RUN_ALIGN_PAGES, 0);
        th_assert_true(runs[2] > runs[1]);
        r = checked(e.db);

        /* Small puts reuse the skipped pages: the store does not grow. */
        th_assert_true(r.pages_free >= 8);
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        uint64_t before = st.pages_total;
        put_value(e.db, "d", 1, 10, 4);
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        th_assert_eq(st.pages_total, before);
        checked(e.db);
        expect_val(e.db, "c", 1, vlen, 3);
        free(v);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

/* Random sizes across every threshold on 200 keys (txns of 1..20 ops,
   some aborted): content matches the model and ct_check is clean after
   every commit, so no run is ever leaked or shared. */
static void test_random_sizes(void **state)
{
    (void)state;
    const th_store_kind kinds[] = {TH_STORE_MEM, TH_STORE_RAM_NOMAP};
    for (size_t k = 0; k < 2; k++) {
        th_env e;
        th_env_init(&e, kinds[k], 512);
        th_model *m = th_model_new();
        th_rng r;
        th_rng_seed(&r, th_seed(31) + k);
        size_t inline0 = ct__cell_max_bytes(512) - CT_LEAF_CELL_FIXED;
        uint8_t *buf = malloc(40000);
        assert_non_null(buf);
        uint64_t commits = th_scaled(300);
        for (uint64_t c = 0; c < commits; c++) {
            th_set_ctx("%s commit %llu", th_store_name(kinds[k]), (unsigned long long)c);
            ct_txn *t = NULL;
            th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            th_model_begin(m);
            uint64_t ops = 1 + th_below(&r, 20);
            for (uint64_t i = 0; i < ops; i++) {
                uint8_t key[2] = {'k', (uint8_t)th_below(&r, 200)};
                if (th_chance(&r, 1, 5)) {
                    int had = th_model_del(m, key, 2);
                    th_assert_rc(ct_del(t, NULL, key, 2), had ? CT_OK : CT_NOTFOUND);
                    continue;
                }
                size_t inl = inline0 - 2;
                size_t choices[] = {0, 1, inl, inl + 1, 480, 481, 993, 994,
                                    (size_t)th_below(&r, 40000)};
                size_t vl = choices[th_below(&r, sizeof(choices) / sizeof(choices[0]))];
                th_fill(&r, buf, vl);
                th_assert_rc(ct_put(t, NULL, key, 2, buf, vl, 0), CT_OK);
                th_model_put(m, key, 2, buf, vl);
            }
            if (th_chance(&r, 1, 8)) {
                ct_abort(t);
                th_model_rollback(m);
            } else {
                th_assert_rc(ct_commit(t), CT_OK);
                th_model_commit(m);
            }
            th_check_clean(e.db);
            if (c % 50 == 0) {
                th_verify_db(e.db, NULL, m);
            }
        }
        th_env_reopen(&e);
        th_verify_db(e.db, NULL, m);
        th_check_clean(e.db);
        free(buf);
        th_model_free(m);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_one_mib),
        cmocka_unit_test(test_snapshot_keeps_overwritten_run),
        cmocka_unit_test(test_random_sizes),
        cmocka_unit_test(test_runs_from_end_start_aligned),
        cmocka_unit_test(test_sixty_four_mib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
