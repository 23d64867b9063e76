/*
 * test_shrink.c - when a durable commit gives the store's free tail back.
 *
 * A commit truncates the store only once the reusable tail is at least
 * 1/CT_SHRINK_FRACTION of it (commit.c, shrink_store): durable single-put
 * commits into a growing tree otherwise shrank the file by a few pages
 * and grew it again a few commits later, and on a real file system every
 * such size change makes the commit's fdatasync write metadata too.
 * test_space.c checks that large tails still come back.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define PS 512u

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static uint64_t high_water(ct_db *db)
{
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    return st.pages_total;
}

/* Single-put durable commits of random keys, half of them new: the tree
   grows, and every commit frees and takes a few pages, so the store's
   free tail comes and goes. After each commit the store holds its two
   slots' high-water marks and less than 1/CT_SHRINK_FRACTION past them;
   a shrink gives back at least that fraction; and shrinks stay rare. */
static void run_small_commits(th_store_kind kind)
{
    th_env e;
    th_env_init(&e, kind, PS);
    th_rng r;
    th_rng_seed(&r, 61);
    const uint64_t keyspace = 6000;
    const uint64_t commits = 3000;
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    for (uint64_t i = 0; i < keyspace; i += 2) {
        uint64_t k = i * 0x9e3779b97f4a7c15ull;
        th_assert_rc(ct_put(t, NULL, &k, sizeof(k), &i, sizeof(i), 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    uint64_t size = th_env_store_pages(&e);
    uint64_t hwm = high_water(e.db);
    uint64_t shrinks = 0;
    uint64_t changes = 0;
    for (uint64_t c = 0; c < commits; c++) {
        uint64_t i = th_below(&r, keyspace);
        uint64_t k = i * 0x9e3779b97f4a7c15ull;
        uint8_t v[24] = {0};
        v[c % sizeof(v)] = (uint8_t)c;
        th_put1(e.db, &k, sizeof(k), v, sizeof(v));
        uint64_t now = th_env_store_pages(&e);
        uint64_t now_hwm = high_water(e.db);
        uint64_t held = now_hwm > hwm ? now_hwm : hwm; /* both meta slots' marks */
        th_set_ctx("%s, commit %llu: store %llu -> %llu pages, high-water %llu -> %llu",
                   th_store_name(kind), (unsigned long long)c, (unsigned long long)size,
                   (unsigned long long)now, (unsigned long long)hwm, (unsigned long long)now_hwm);
        th_assert_true(now >= held);
        th_assert_true(now - held < div_up(now, CT_SHRINK_FRACTION));
        if (now < size) {
            th_assert_true(size - now >= div_up(size, CT_SHRINK_FRACTION));
            shrinks++;
        }
        changes += now != size;
        size = now;
        hwm = now_hwm;
    }
    th_ctx[0] = '\0';
    print_message("  %s: %llu durable single-put commits, store %llu pages at the end; its size "
                  "changed in %llu commits, shrank in %llu\n",
                  th_store_name(kind), (unsigned long long)commits, (unsigned long long)size,
                  (unsigned long long)changes, (unsigned long long)shrinks);
    /* The tree grows by single pages here, so growth changes the size in
       about 200 commits; giving back every free page at the end shrank it
       in 112 more (and regrew it in as many). */
    th_assert_true(shrinks * 100 <= commits);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

static void test_small_commits_keep_store_size_file(void **state)
{
    (void)state;
    run_small_commits(TH_STORE_FILE);
}

static void test_small_commits_keep_store_size_ram(void **state)
{
    (void)state;
    run_small_commits(TH_STORE_RAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_commits_keep_store_size_file),
        cmocka_unit_test(test_small_commits_keep_store_size_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
