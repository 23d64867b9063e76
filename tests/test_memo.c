/*
 * test_memo.c - the verified-page memo (core/memo.c): what it records and
 * answers across its chunk boundaries, what it refuses to record, and,
 * through the engine on the RAM store with map(), that a hit is taken only
 * while the page header still names the pointer (a changed header is
 * verified again and reported), that bytes changed in place behind an
 * unchanged header are the one thing a hit trusts (ct_check and a reopen
 * still catch them: ct_check re-verifies, recovery of a fresh handle
 * rejects the commit).
 */
#include "helpers.h"

#include <string.h>

#include "internal.h"

#define PS 512u

/* Notes and hits at the first and last page of the first chunks, misses for
   another generation, generation 0, CT_PT_ANY and pages past the memo. */
static void test_note_and_hit(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_MEM, PS);
    ct_db *db = e.db;
    const uint64_t c0 = CT_MEMO_CHUNK0_PAGES;
    const uint64_t pages[] = {0, 1, c0 - 1, c0, 3 * c0 - 1, 3 * c0, 7 * c0 - 1, 7 * c0 + 5};
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        assert_false(ct__memo_hit(db, pages[i], 9));
        ct__memo_note(db, pages[i], 9, CT_PT_LEAF);
        assert_true(ct__memo_hit(db, pages[i], 9));
        assert_false(ct__memo_hit(db, pages[i], 8));
        assert_false(ct__memo_hit(db, pages[i], 10));
    }
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        assert_true(ct__memo_hit(db, pages[i], 9)); /* neighbours did not overwrite it */
    }
    ct__memo_note(db, c0, 11, CT_PT_BRANCH); /* a newer generation replaces it */
    assert_true(ct__memo_hit(db, c0, 11));
    assert_false(ct__memo_hit(db, c0, 9));
    ct__memo_note(db, 5, 0, CT_PT_LEAF);
    assert_false(ct__memo_hit(db, 5, 0));
    ct__memo_note(db, 6, 4, CT_PT_ANY);
    assert_false(ct__memo_hit(db, 6, 4));
    ct__memo_note(db, CT_MEMO_PAGES_MAX, 4, CT_PT_LEAF);
    assert_false(ct__memo_hit(db, CT_MEMO_PAGES_MAX, 4));
    assert_false(ct__memo_hit(db, UINT64_MAX, 4));
    th_env_destroy(&e);
}

/* Root leaf of the default bucket of a small db (depth 1). */
static uint64_t root_leaf(ct_db *db)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(t->meta.main.depth, 1);
    uint64_t root = t->meta.main.root;
    ct_abort(t);
    return root;
}

static int get_rc(ct_db *db, const char *key)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vlen = 0;
    int rc = ct_get(t, NULL, key, strlen(key), &v, &vlen);
    ct_abort(t);
    return rc;
}

/* A page verified once and then given another generation in its header
   (as a stale or misdirected page would be) is verified again on the next
   access: CT_CORRUPT, not a memo hit. */
static void test_hit_needs_matching_header(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_put1(e.db, "a", 1, "1", 1);
    th_put1(e.db, "b", 1, "2", 1);
    uint64_t leaf = root_leaf(e.db);
    th_assert_rc(get_rc(e.db, "a"), CT_OK); /* verified and noted */
    uint8_t *p = th_ram_page(e.ps, leaf);
    uint8_t saved[PS];
    memcpy(saved, p, PS);
    ct__put64(p + CT_PH_TXNID, ct__ph_txnid(p) - 1);
    th_assert_rc(get_rc(e.db, "a"), CT_CORRUPT);
    memcpy(p, saved, PS);
    ct__put64(p + CT_PH_PGNO, leaf + 1);
    th_assert_rc(get_rc(e.db, "a"), CT_CORRUPT);
    memcpy(p, saved, PS);
    p[CT_PH_TYPE] = CT_PT_BRANCH;
    th_assert_rc(get_rc(e.db, "a"), CT_CORRUPT);
    memcpy(p, saved, PS);
    th_assert_rc(get_rc(e.db, "a"), CT_OK);
    th_env_destroy(&e);
}

/* Bytes rotted in place behind an unchanged header after the page was
   verified are trusted by a hit (the documented trade-off: the engine
   never rewrites a reachable page, so only the device could do this);
   ct_check verifies every page again and reports it, and so does a fresh
   handle, whose memo starts empty. */
static void test_rot_behind_header_caught_by_check_and_reopen(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_put1(e.db, "a", 1, "1", 1);
    th_put1(e.db, "b", 1, "2", 1);
    uint64_t leaf = root_leaf(e.db);
    th_assert_rc(get_rc(e.db, "a"), CT_OK);
    uint8_t *p = th_ram_page(e.ps, leaf);
    p[PS - 1] ^= 0x40u; /* the last byte: cell data, not the header */
    th_assert_rc(get_rc(e.db, "a"), CT_OK);
    ct_check_report r;
    th_assert_rc(ct_check(e.db, &r), CT_CORRUPT);
    /* Recovery verifies the newest commit's pages afresh, finds the leaf
       bad and falls back to the commit before (which holds only "a"). */
    th_env_reopen(&e);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_int_equal(st.rejected_pgno, leaf);
    th_assert_rc(get_rc(e.db, "b"), CT_NOTFOUND);
    th_assert_rc(get_rc(e.db, "a"), CT_OK);
    th_env_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_and_hit),
        cmocka_unit_test(test_hit_needs_matching_header),
        cmocka_unit_test(test_rot_behind_header_caught_by_check_and_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
