/*
 * test_shrink.c - when a durable commit gives the store's free tail back.
 *
 * A commit truncates the store only once the reusable tail is at least
 * 1/CT_SHRINK_FRACTION of it (commit.c, shrink_store): durable single-put
 * commits into a growing tree otherwise shrank the file by a few pages
 * and grew it again a few commits later, and on a real file system every
 * such size change makes the commit's fdatasync write metadata too.
 * Growth goes ahead by a chunk of zero pages, so a growing tree changes
 * the store's size once a chunk, not once a page (commit.c, grow_ahead).
 * Large tails must still come back (test_space.c has more of that).
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

/* The tail a durable commit may leave written past the high-water mark
   (commit.c, grow_ahead): hwm / CT_GROW_AHEAD_FRACTION pages, within
   [CT_GROW_AHEAD_MIN, CT_GROW_AHEAD_MAX]. */
static uint64_t grow_ahead_chunk(uint64_t hwm)
{
    uint64_t c = hwm / CT_GROW_AHEAD_FRACTION;
    c = c < CT_GROW_AHEAD_MIN ? CT_GROW_AHEAD_MIN : c;
    return c > CT_GROW_AHEAD_MAX ? CT_GROW_AHEAD_MAX : c;
}

static uint64_t high_water(ct_db *db)
{
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    return st.pages_total;
}

/* What the store did across the commits seen so far. */
typedef struct store_track {
    th_env *e;
    uint64_t size; /* store pages after the last commit */
    uint64_t hwm;  /* its high-water mark */
    uint64_t commits;
    uint64_t shrinks;
    uint64_t changes;
} store_track;

static void track_init(store_track *s, th_env *e)
{
    s->e = e;
    s->size = th_env_store_pages(e);
    s->hwm = high_water(e->db);
    s->commits = s->shrinks = s->changes = 0;
}

/* After a durable commit: the store holds both meta slots' high-water
   marks (this commit's and the last one's) and less than
   1/CT_SHRINK_FRACTION past them or at most a grow-ahead chunk, and a
   shrink gave back at least that fraction of the store. */
static void track_commit(store_track *s)
{
    uint64_t now = th_env_store_pages(s->e);
    uint64_t now_hwm = high_water(s->e->db);
    uint64_t held = now_hwm > s->hwm ? now_hwm : s->hwm;
    th_set_ctx("%s, commit %llu: store %llu -> %llu pages, high-water %llu -> %llu",
               th_store_name(s->e->kind), (unsigned long long)s->commits,
               (unsigned long long)s->size, (unsigned long long)now,
               (unsigned long long)s->hwm, (unsigned long long)now_hwm);
    th_assert_true(now >= held);
    th_assert_true(now - held < div_up(now, CT_SHRINK_FRACTION) ||
                   now - held <= grow_ahead_chunk(held));
    if (now < s->size) {
        th_assert_true(s->size - now >= div_up(s->size, CT_SHRINK_FRACTION));
        s->shrinks++;
    }
    s->changes += now != s->size;
    s->size = now;
    s->hwm = now_hwm;
    s->commits++;
}

static uint64_t key_of(uint64_t i)
{
    return i * 0x9e3779b97f4a7c15ull;
}

/* Single-put durable commits of random keys, half of them new: the tree
   grows, and every commit frees and takes a few pages, so the store's
   free tail comes and goes; shrinks must stay rare. Then every key goes,
   in commits of 500 deletes, and a few more single puts: the tail grows
   large and the store must shrink, in steps of at least the fraction. */
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
        uint64_t k = key_of(i);
        th_assert_rc(ct_put(t, NULL, &k, sizeof(k), &i, sizeof(i), 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    store_track s;
    track_init(&s, &e);
    for (uint64_t c = 0; c < commits; c++) {
        uint64_t k = key_of(th_below(&r, keyspace));
        uint8_t v[24] = {0};
        v[c % sizeof(v)] = (uint8_t)c;
        th_put1(e.db, &k, sizeof(k), v, sizeof(v));
        track_commit(&s);
    }
    print_message("  %s: %llu durable single-put commits, store %llu pages at the end; its size "
                  "changed in %llu commits, shrank in %llu\n",
                  th_store_name(kind), (unsigned long long)commits, (unsigned long long)s.size,
                  (unsigned long long)s.changes, (unsigned long long)s.shrinks);
    /* The tree grows by single pages here: growth changed the size in
       about 200 commits before commits wrote a grow-ahead chunk (12 with
       it); giving back every free page at the end shrank it in 112 more
       (and regrew it in as many). */
    th_assert_true(s.shrinks * 100 <= commits);
    th_assert_true(s.changes * 100 <= commits);
    uint64_t grown = s.size;
    uint64_t small_shrinks = s.shrinks;
    for (uint64_t i = 0; i < keyspace; i++) {
        if (i % 500 == 0) {
            th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        }
        uint64_t k = key_of(i);
        int rc = ct_del(t, NULL, &k, sizeof(k));
        th_assert_true(rc == CT_OK || rc == CT_NOTFOUND);
        if (i % 500 == 499) {
            th_assert_rc(ct_commit(t), CT_OK);
            track_commit(&s);
        }
    }
    for (int c = 0; c < 12; c++) {
        th_put1(e.db, "a", 1, &c, sizeof(c));
        track_commit(&s);
    }
    th_ctx[0] = '\0';
    print_message("  %s: deleting every key, then 12 single puts: store %llu -> %llu pages in "
                  "%llu shrinks\n",
                  th_store_name(kind), (unsigned long long)grown, (unsigned long long)s.size,
                  (unsigned long long)(s.shrinks - small_shrinks));
    th_assert_true(s.shrinks > small_shrinks);
    th_assert_true(s.size * 10 < grown);
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
