/*
 * test_space.c - free space (issue 3): the persistent free list keeps a
 * steady workload from growing the store; a long-lived reader keeps its
 * exact snapshot while it pins pages, and those pages are reused once it
 * ends; free pages at the end of the store are given back; deletes
 * rebalance (every non-root page at least a quarter full after deleting
 * 90% of the keys, measured by walking the tree) and the store shrinks with
 * later commits; reopening keeps the free list (nothing leaks at restart).
 * Figures are printed with print_message. 512-byte pages throughout.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree/tracestore.h"
#include "internal.h"

#define PS 512u
#ifndef CT_META_FREE_INLINE
#define CT_META_FREE_INLINE 21u
#endif
/* Largest value the tests write (overflow values of the mixed workload). */
#define VALUE_BYTES_MAX 1200u

typedef struct figures {
    uint64_t store_pages;
    uint64_t pages_total;
    uint64_t pages_free;
    uint64_t held;
} figures;

static figures fig(th_env *e)
{
    struct ct_stat st;
    th_assert_rc(ct_stat(e->db, &st), CT_OK);
    figures f = {th_env_store_pages(e), st.pages_total, st.pages_free, st.pages_held_by_readers};
    return f;
}

/* Key i of a keyspace: 8..16 bytes, spread so inserts land everywhere. */
static size_t space_key(uint64_t i, uint8_t *k)
{
    uint64_t h = i * 0x9e3779b97f4a7c15ull;
    int n = snprintf((char *)k, 24, "%08x%u", (unsigned)(h >> 32), (unsigned)(i % 100000000u));
    return (size_t)n;
}

/* Builds keys 0..n-1 in random order in txns of 1000, values 8..40 bytes.
   The model gets value lengths (content is th_value_fill(i, version 0)). */
static void build_keys(th_env *e, uint64_t n, th_rng *r, uint32_t *ver)
{
    uint64_t *perm = malloc(n * sizeof(*perm));
    assert_non_null(perm);
    for (uint64_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = th_below(r, i);
        uint64_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    ct_txn *t = NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (i % 1000 == 0) {
            th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
        }
        uint8_t k[24];
        size_t kl = space_key(perm[i], k);
        uint8_t v[VALUE_BYTES_MAX];
        size_t vl = 8 + (size_t)(perm[i] % 33);
        th_value_fill(v, vl, perm[i] << 20);
        th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
        ver[perm[i]] = 0;
        if (i % 1000 == 999 || i + 1 == n) {
            th_assert_rc(ct_commit(t), CT_OK);
        }
    }
    free(perm);
}

/* When set, one rewritten version in 16 of a key is an overflow value
   (600..1100 bytes at 512-byte pages: 2 or 3 pages per run); version 0 (the
   build) is always small. */
static int g_big_values;


static size_t value_of(uint64_t i, uint32_t ver, uint8_t *v)
{
    size_t vl = 8 + (size_t)((i + ver) % 33);
    if (g_big_values && ver > 0 && (i + ver) % 16 == 0) {
        vl = 600 + (size_t)((i * 7 + ver) % 500);
    }
    th_value_fill(v, vl, (i << 20) | ver);
    return vl;
}

/* Puts the next version of key i. */
static void put_next_version(ct_txn *t, uint64_t i, uint32_t *ver)
{
    uint8_t k[24];
    size_t kl = space_key(i, k);
    uint8_t v[VALUE_BYTES_MAX];
    ver[i]++;
    size_t vl = value_of(i, ver[i], v);
    th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
}

/* commits write txns of puts random overwrites each. */
static void overwrite_random(th_env *e, th_rng *r, uint64_t nkeys, uint32_t *ver,
                             uint64_t commits, int puts)
{
    for (uint64_t c = 0; c < commits; c++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
        for (int j = 0; j < puts; j++) {
            put_next_version(t, th_below(r, nkeys), ver);
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
}

/* Deletes every step-th key below n in one txn. */
static void delete_every(ct_db *db, uint64_t n, uint64_t step, uint32_t *ver)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint64_t i = 0; i < n; i += step) {
        uint8_t k[24];
        size_t kl = space_key(i, k);
        th_assert_rc(ct_del(t, NULL, k, kl), CT_OK);
        ver[i] = UINT32_MAX;
    }
    th_assert_rc(ct_commit(t), CT_OK);
}

/* Every key i < n must read its current version (UINT32_MAX = absent). */
static void check_keys(ct_txn *t, uint64_t n, const uint32_t *ver)
{
    for (uint64_t i = 0; i < n; i++) {
        uint8_t k[24];
        size_t kl = space_key(i, k);
        const void *v = NULL;
        size_t vl = 0;
        int rc = ct_get(t, NULL, k, kl, &v, &vl);
        if (ver[i] == UINT32_MAX) {
            th_assert_rc(rc, CT_NOTFOUND);
            continue;
        }
        th_assert_rc(rc, CT_OK);
        uint8_t want[VALUE_BYTES_MAX];
        size_t wl = value_of(i, ver[i], want);
        th_assert_eq(vl, wl);
        th_assert_mem(v, want, wl);
    }
}

/* Every key reads its version, ct_check is clean; then frees ver and the env. */
static void check_and_destroy(th_env *e, uint64_t nkeys, uint32_t *ver)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e->db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    th_check_clean(e->db);
    free(ver);
    th_env_destroy(e);
}

/* Steady state: 20,000 keys built, then 200,000 random overwrites and
   delete+reinsert pairs in txns of 1..100 ops. The store never grows past
   2x its size after the build; the free list survives a reopen mid-way;
   content and ct_check are verified at the end. */
static void steady_case(th_store_kind kind, int big_values)
{
    g_big_values = 0;
    th_set_ctx("steady state on %s%s", th_store_name(kind), big_values ? ", overflow values" : "");
    th_env e;
    th_env_init(&e, kind, PS);
    const uint64_t nkeys = 20000;
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    assert_non_null(ver);
    th_rng r;
    th_rng_seed(&r, 42);
    build_keys(&e, nkeys, &r, ver);
    th_check_clean(e.db);
    figures built = fig(&e);
    g_big_values = big_values;
    uint64_t ops_total = th_scaled(200000);
    uint64_t ops = 0;
    uint64_t max_store = built.store_pages;
    uint64_t commits = 0;
    while (ops < ops_total) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        uint64_t len = 1 + th_below(&r, 100);
        for (uint64_t j = 0; j < len && ops < ops_total; j++, ops++) {
            uint64_t i = th_below(&r, nkeys);
            uint8_t k[24];
            size_t kl = space_key(i, k);
            uint8_t v[VALUE_BYTES_MAX];
            if (th_chance(&r, 1, 2)) {
                th_assert_rc(ct_del(t, NULL, k, kl), CT_OK);
            }
            ver[i]++;
            size_t vl = value_of(i, ver[i], v);
            th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
        }
        th_assert_rc(ct_commit(t), CT_OK);
        commits++;
        uint64_t sp = th_env_store_pages(&e);
        if (sp > max_store) {
            max_store = sp;
        }
        if (sp > 2 * built.store_pages) {
            print_error("store grew to %llu pages after %llu ops (built: %llu)\n",
                        (unsigned long long)sp, (unsigned long long)ops,
                        (unsigned long long)built.store_pages);
        }
        th_assert_true(sp <= 2 * built.store_pages);
        if (commits == 2000) {
            th_env_reopen(&e); /* the free list is persistent */
        }
    }
    figures end = fig(&e);
    print_message("  %s%s: after the build %llu store pages (hwm %llu, %llu free); after %llu ops in "
                  "%llu commits: max %llu, end %llu store pages (hwm %llu, %llu free) = %.2fx\n",
                  th_store_name(kind), big_values ? " (1/16 overflow values)" : "",
                  (unsigned long long)built.store_pages,
                  (unsigned long long)built.pages_total, (unsigned long long)built.pages_free,
                  (unsigned long long)ops, (unsigned long long)commits,
                  (unsigned long long)max_store, (unsigned long long)end.store_pages,
                  (unsigned long long)end.pages_total, (unsigned long long)end.pages_free,
                  (double)max_store / (double)built.store_pages);
    th_assert_true(max_store <= 2 * built.store_pages);
    check_and_destroy(&e, nkeys, ver);
    g_big_values = 0;
    th_ctx[0] = '\0';
}

static void test_steady_state_file(void **state)
{
    (void)state;
    steady_case(TH_STORE_FILE, 0);
}

static void test_steady_state_memstore(void **state)
{
    (void)state;
    steady_case(TH_STORE_MEM_NOMAP, 0);
}

/* The same with overflow runs in the mix (1 value in 16 takes 2-3 pages):
   runs are allocated and freed without fragmenting the store past 2x. */
static void test_steady_state_overflow_values(void **state)
{
    (void)state;
    steady_case(TH_STORE_MEM_NOMAP, 1);
}

/* A read txn held open across 10,000 write commits (one overwrite each)
   reads exactly its snapshot throughout (checked every 1000 commits); the
   store meanwhile grows at most linearly (each commit may pin the pages it
   frees: a bound of 16 pages per commit, checked every 100 commits so a
   runaway is caught early); ct_stat shows the held pages. Once the reader
   ends, the held pages are reused: pages_held_by_readers drops to 0 and
   2,000 further commits do not grow the store. */
static void test_long_reader_across_commits(void **state)
{
    (void)state;
    th_env e;
    /* The memory store: 12,000 synced commits on a file cost minutes of
       fsync and test nothing the steady-state file case does not. */
    th_env_init(&e, TH_STORE_MEM_NOMAP, PS);
    const uint64_t nkeys = 2000;
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    uint32_t *snap = calloc(nkeys, sizeof(*snap));
    assert_non_null(ver);
    assert_non_null(snap);
    th_rng r;
    th_rng_seed(&r, 5);
    build_keys(&e, nkeys, &r, ver);
    memcpy(snap, ver, nkeys * sizeof(*ver));
    ct_txn *reader = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &reader), CT_OK);
    figures start = fig(&e);
    uint64_t commits = th_scaled(10000);
    uint64_t max_held = 0;
    for (uint64_t c = 1; c <= commits; c++) {
        uint64_t i = th_below(&r, nkeys);
        uint8_t k[24];
        size_t kl = space_key(i, k);
        uint8_t v[VALUE_BYTES_MAX];
        ver[i]++;
        size_t vl = value_of(i, ver[i], v);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
        th_assert_rc(ct_commit(t), CT_OK);
        if (c % 100 == 0) {
            figures f = fig(&e);
            if (f.held > max_held) {
                max_held = f.held;
            }
            uint64_t bound = start.store_pages + 16 * c;
            if (f.store_pages > bound) {
                print_error("after %llu commits under one reader: %llu store pages, %llu free, "
                            "%llu held (started at %llu; bound %llu)\n",
                            (unsigned long long)c, (unsigned long long)f.store_pages,
                            (unsigned long long)f.pages_free, (unsigned long long)f.held,
                            (unsigned long long)start.store_pages, (unsigned long long)bound);
            }
            th_assert_true(f.store_pages <= bound);
        }
        if (c % 1000 == 0 || c == commits) {
            th_set_ctx("reader snapshot after %llu commits", (unsigned long long)c);
            check_keys(reader, nkeys, snap);
        }
    }
    figures held = fig(&e);
    ct_abort(reader);
    /* Released: one commit recomputes reusability. */
    th_put1(e.db, "x", 1, "y", 1);
    figures released = fig(&e);
    for (uint64_t c = 0; c < th_scaled(2000); c++) {
        uint64_t i = th_below(&r, nkeys);
        uint8_t k[24];
        size_t kl = space_key(i, k);
        uint8_t v[VALUE_BYTES_MAX];
        ver[i]++;
        size_t vl = value_of(i, ver[i], v);
        th_put1(e.db, k, kl, v, vl);
    }
    figures after = fig(&e);
    print_message("  reader held over %llu commits: store %llu -> %llu pages, up to %llu held; "
                  "released: %llu held; after 2000 more commits: %llu store pages (%llu free)\n",
                  (unsigned long long)commits, (unsigned long long)start.store_pages,
                  (unsigned long long)held.store_pages, (unsigned long long)max_held,
                  (unsigned long long)released.held, (unsigned long long)after.store_pages,
                  (unsigned long long)after.pages_free);
    assert_true(max_held > 0);
    assert_int_equal(released.held, 0);
    assert_true(after.store_pages <= held.store_pages);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    th_check_clean(e.db);
    free(ver);
    free(snap);
    th_env_destroy(&e);
    th_ctx[0] = '\0';
}

/* Deleting everything gives the free tail back: within a dozen small
   commits the store shrinks to a handful of pages (pages freed by txn N are
   reusable from N+2, and the pages a commit needs meanwhile go to the end,
   so the tail comes back in steps), on the file, memory and RAM stores. */
static void test_free_tail_given_back(void **state)
{
    (void)state;
    const th_store_kind kinds[] = {TH_STORE_FILE, TH_STORE_MEM_NOMAP, TH_STORE_RAM};
    for (size_t s = 0; s < 3; s++) {
        th_env e;
        th_env_init(&e, kinds[s], PS);
        const uint64_t nkeys = 10000;
        uint32_t *ver = calloc(nkeys, sizeof(*ver));
        assert_non_null(ver);
        th_rng r;
        th_rng_seed(&r, 9);
        build_keys(&e, nkeys, &r, ver);
        figures full = fig(&e);
        ct_txn *t = NULL;
        for (uint64_t i = 0; i < nkeys; i++) {
            if (i % 2500 == 0) {
                th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            }
            uint8_t k[24];
            size_t kl = space_key(i, k);
            th_assert_rc(ct_del(t, NULL, k, kl), CT_OK);
            if (i % 2500 == 2499) {
                th_assert_rc(ct_commit(t), CT_OK);
            }
        }
        figures emptied = fig(&e);
        char steps[200] = "";
        size_t used = 0;
        for (int c = 0; c < 12; c++) {
            th_put1(e.db, "a", 1, &c, sizeof(c));
            used += (size_t)snprintf(steps + used, sizeof(steps) - used, " %llu",
                                     (unsigned long long)th_env_store_pages(&e));
        }
        figures later = fig(&e);
        print_message("  %s: %llu store pages with 10000 keys, %llu right after deleting all, "
                      "then per commit:%s (hwm %llu, %llu free)\n",
                      th_store_name(kinds[s]), (unsigned long long)full.store_pages,
                      (unsigned long long)emptied.store_pages, steps,
                      (unsigned long long)later.pages_total, (unsigned long long)later.pages_free);
        assert_true(later.store_pages < full.store_pages / 10);
        assert_true(later.store_pages <= 16);
        /* What is left past the mark: at most a grow-ahead chunk. */
        assert_true(later.store_pages >= later.pages_total);
        assert_true(later.store_pages - later.pages_total <= CT_GROW_AHEAD_MIN);
        th_check_clean(e.db);
        free(ver);
        th_env_destroy(&e);
    }
}

typedef struct fill_stats {
    uint64_t pages;
    uint64_t underfull;
    uint64_t used_bytes;
    uint32_t min_used;
    uint64_t min_pgno;
    uint32_t quarter;
} fill_stats;

static void fill_page(const th_page_info *pi, void *ctx)
{
    fill_stats *f = ctx;
    if (pi->level == 0 || pi->rightmost) {
        return; /* the root and the right spine may hold anything */
    }
    uint32_t used = ct__node_used_bytes(pi->page);
    f->pages++;
    f->used_bytes += used;
    if (used < f->min_used) {
        f->min_used = used;
        f->min_pgno = pi->pgno;
    }
    if (used < f->quarter) {
        f->underfull++;
    }
}

static fill_stats measure_fill(ct_db *db)
{
    fill_stats f;
    memset(&f, 0, sizeof(f));
    f.min_used = UINT32_MAX;
    f.quarter = (PS - CT_PAGE_HDR_BYTES) / 4u;
    th_walk_tree(db, NULL, fill_page, &f);
    return f;
}

/* Deleting a random 90% of 100,000 keys (in txns of 1000): every non-root
   leaf and branch stays at least a quarter full (bytes of cells and slots
   >= (page - header) / 4), measured by walking every page; the tree stays
   correct; and the store shrinks with later commits that rewrite the
   surviving keys. */
static void test_rebalance_fill_after_deletes(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_FILE, PS);
    const uint64_t nkeys = th_scaled(100000);
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    assert_non_null(ver);
    th_rng r;
    th_rng_seed(&r, 11);
    build_keys(&e, nkeys, &r, ver);
    fill_stats before = measure_fill(e.db);
    figures full = fig(&e);
    uint64_t *perm = malloc(nkeys * sizeof(*perm));
    assert_non_null(perm);
    for (uint64_t i = 0; i < nkeys; i++) {
        perm[i] = i;
    }
    for (uint64_t i = nkeys; i > 1; i--) {
        uint64_t j = th_below(&r, i);
        uint64_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    uint64_t ndel = nkeys / 10 * 9;
    ct_txn *t = NULL;
    for (uint64_t d = 0; d < ndel; d++) {
        if (d % 1000 == 0) {
            th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        }
        uint8_t k[24];
        size_t kl = space_key(perm[d], k);
        th_assert_rc(ct_del(t, NULL, k, kl), CT_OK);
        ver[perm[d]] = UINT32_MAX;
        if (d % 1000 == 999 || d + 1 == ndel) {
            th_assert_rc(ct_commit(t), CT_OK);
        }
    }
    fill_stats after = measure_fill(e.db);
    figures deleted = fig(&e);
    th_check_clean(e.db);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    /* Later commits: rewrite every surviving key (1000 per txn), twice. */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t in_txn = 0;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (uint64_t i = 0; i < nkeys; i++) {
            if (ver[i] == UINT32_MAX) {
                continue;
            }
            put_next_version(t, i, ver);
            if (++in_txn == 1000) {
                th_assert_rc(ct_commit(t), CT_OK);
                th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
                in_txn = 0;
            }
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    th_put1(e.db, "z", 1, "1", 1);
    th_put1(e.db, "z", 1, "2", 1);
    figures later = fig(&e);
    print_message("  before deletes: %llu non-root pages, avg fill %.1f%%; after deleting %llu of "
                  "%llu keys: %llu non-root pages, avg fill %.1f%%, min %u bytes (page %llu), "
                  "%llu under a quarter (%u bytes)\n",
                  (unsigned long long)before.pages,
                  100.0 * (double)before.used_bytes /
                      ((double)before.pages * (double)(PS - CT_PAGE_HDR_BYTES)),
                  (unsigned long long)ndel, (unsigned long long)nkeys,
                  (unsigned long long)after.pages,
                  100.0 * (double)after.used_bytes /
                      ((double)after.pages * (double)(PS - CT_PAGE_HDR_BYTES)),
                  after.min_used, (unsigned long long)after.min_pgno,
                  (unsigned long long)after.underfull, after.quarter);
    print_message("  store pages: %llu full, %llu after the deletes, %llu after rewriting the "
                  "survivors (hwm %llu, %llu free)\n",
                  (unsigned long long)full.store_pages, (unsigned long long)deleted.store_pages,
                  (unsigned long long)later.store_pages, (unsigned long long)later.pages_total,
                  (unsigned long long)later.pages_free);
    assert_int_equal(after.underfull, 0);
    assert_true(after.min_used >= after.quarter);
    assert_true(later.store_pages < deleted.store_pages);
    /* The tree's extent (hwm) is down to a third; the store follows it as
       the meta slots move on (test_free_tail_given_back). */
    assert_true(later.pages_total <= full.store_pages / 3);
    th_check_clean(e.db);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    free(perm);
    free(ver);
    th_env_destroy(&e);
}

/* The same fill bound with long keys (40..90 bytes at 512-byte pages, so a
   separator takes up to a fifth of a page and branches hold few cells):
   30,000 random keys, a random 90% deleted in txns of 1000, three seeds;
   every non-root page must stay at least a quarter full and the tree
   correct. */
static void test_rebalance_fill_long_keys(void **state)
{
    (void)state;
    uint64_t under_total = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, PS);
        th_model *m = th_model_new();
        th_rng r;
        th_rng_seed(&r, seed);
        uint64_t n = 30000; /* not scaled: smaller trees rarely show the problem */
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (uint64_t i = 0; i < n; i++) {
            uint8_t k[90];
            size_t kl = 40 + (size_t)th_below(&r, 51);
            th_fill(&r, k, kl);
            th_assert_rc(ct_put(t, NULL, k, kl, "v", 1, 0), CT_OK);
            th_model_put(m, k, kl, "v", 1);
            if (i % 1000 == 999) {
                th_assert_rc(ct_commit(t), CT_OK);
                th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            }
        }
        th_assert_rc(ct_commit(t), CT_OK);
        size_t count = th_model_count(m);
        uint8_t **del = malloc(count * sizeof(*del));
        size_t *dlen = malloc(count * sizeof(*dlen));
        assert_non_null(del);
        assert_non_null(dlen);
        size_t nd = 0;
        for (size_t i = 0; i < count; i++) {
            if (th_below(&r, 10) < 9) {
                const uint8_t *k = NULL;
                th_model_at(m, i, &k, &dlen[nd], NULL, NULL);
                del[nd] = malloc(dlen[nd]);
                assert_non_null(del[nd]);
                memcpy(del[nd], k, dlen[nd]);
                nd++;
            }
        }
        for (size_t i = nd; i > 1; i--) { /* delete in random order */
            size_t j = (size_t)th_below(&r, i);
            uint8_t *tk = del[i - 1];
            size_t tl = dlen[i - 1];
            del[i - 1] = del[j];
            dlen[i - 1] = dlen[j];
            del[j] = tk;
            dlen[j] = tl;
        }
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (size_t i = 0; i < nd; i++) {
            th_assert_rc(ct_del(t, NULL, del[i], dlen[i]), CT_OK);
            th_model_del(m, del[i], dlen[i]);
            free(del[i]);
            if (i % 1000 == 999) {
                th_assert_rc(ct_commit(t), CT_OK);
                th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            }
        }
        th_assert_rc(ct_commit(t), CT_OK);
        free(del);
        free(dlen);
        fill_stats f = measure_fill(e.db);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        print_message("  seed %llu: %llu of %zu keys left, depth %u, %llu non-root pages, avg "
                      "fill %.1f%%, min %u bytes (page %llu), %llu under a quarter\n",
                      (unsigned long long)seed, (unsigned long long)th_model_count(m), count,
                      st.depth, (unsigned long long)f.pages,
                      100.0 * (double)f.used_bytes /
                          ((double)f.pages * (double)(PS - CT_PAGE_HDR_BYTES)),
                      f.min_used, (unsigned long long)f.min_pgno,
                      (unsigned long long)f.underfull);
        under_total += f.underfull;
        th_verify_db(e.db, NULL, m);
        th_check_clean(e.db);
        th_model_free(m);
        th_env_destroy(&e);
    }
    assert_int_equal(under_total, 0);
}

/* The free list is persistent: free pages recorded before a reopen are
   reused after it (the store does not grow when the same work is redone),
   and the checker accounts for every page across the reopen. */
static void test_free_list_survives_reopen(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_MEM_NOMAP, PS);
    const uint64_t nkeys = 5000;
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    assert_non_null(ver);
    th_rng r;
    th_rng_seed(&r, 3);
    build_keys(&e, nkeys, &r, ver);
    /* Delete half: lots of free pages in the middle of the store. */
    delete_every(e.db, nkeys, 2, ver);
    ct_txn *t = NULL;
    th_put1(e.db, "a", 1, "1", 1);
    th_put1(e.db, "a", 1, "2", 1);
    figures before = fig(&e);
    assert_true(before.pages_free > 50);
    th_env_reopen(&e);
    figures reopened = fig(&e);
    assert_int_equal(reopened.pages_free, before.pages_free);
    assert_int_equal(reopened.pages_total, before.pages_total);
    th_check_clean(e.db);
    /* Re-insert the deleted half: served from the free list. */
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    for (uint64_t i = 0; i < nkeys; i += 2) {
        uint8_t k[24];
        size_t kl = space_key(i, k);
        uint8_t v[VALUE_BYTES_MAX];
        ver[i] = 0;
        size_t vl = value_of(i, 0, v);
        th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    figures after = fig(&e);
    print_message("  %llu free pages survive a reopen; re-inserting: hwm %llu -> %llu\n",
                  (unsigned long long)reopened.pages_free, (unsigned long long)before.pages_total,
                  (unsigned long long)after.pages_total);
    assert_true(after.pages_total <= before.pages_total + before.pages_total / 10);
    th_check_clean(e.db);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    free(ver);
    th_env_destroy(&e);
}

/* A store that counts the free-list pages written to it (the commits
   here write no overflow values, so every page written starts with a
   header). */
typedef struct fl_count_store {
    th_fwd_store fwd;
    uint64_t freelist_pages;
    uint64_t pages;
} fl_count_store;

static int flc_write(ct_pagestore *ps, uint64_t pgno, uint32_t n, const void *buf)
{
    fl_count_store *s = (fl_count_store *)ps;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *pg = (const uint8_t *)buf + (size_t)i * PS;
        s->freelist_pages += ct__ph_type(pg) == CT_PT_FREELIST;
        s->pages++;
    }
    return th_fwd_write(ps, pgno, n, buf);
}

static const ct_pagestore_ops flc_ops = {th_fwd_read,   flc_write,    th_fwd_sync, th_fwd_size,
                                         th_fwd_resize, th_fwd_close, NULL,        NULL};

/* count single-put commits overwriting keys 0..nkeys-1 at random; returns
   the free-list pages they wrote. */
static uint64_t single_puts(ct_db *db, fl_count_store *s, uint64_t nkeys, int count, th_rng *r,
                            uint32_t *ver)
{
    uint64_t before = s->freelist_pages;
    for (int c = 0; c < count; c++) {
        uint64_t i = th_below(r, nkeys);
        uint8_t k[24];
        uint8_t v[64];
        size_t kl = space_key(i, k);
        ver[i] = ver[i] == UINT32_MAX ? 0 : ver[i] + 1;
        size_t vl = value_of(i, ver[i], v);
        th_put1(db, k, kl, v, vl);
    }
    return s->freelist_pages - before;
}

/* Format version 4: a commit that changes at most CT_META_FREE_INLINE
   free-list entries carries them in its meta and writes no free-list page
   (a durable single put writes its tree pages and the meta). A commit that
   frees more writes pages; small commits after it keep most of those
   pages and add their own entries in the meta. Across a reopen the whole list (meta
   and pages) is read back: the same free pages, nothing leaked, and the
   data intact. */
static void test_small_commits_keep_free_list_in_meta(void **state)
{
    (void)state;
    fl_count_store *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    ct_pagestore *inner = th_ram_create(PS, 0);
    th_fwd_init(&s->fwd, &flc_ops, inner);
    ct_db *db = NULL;
    th_assert_rc(ct_open(&s->fwd.base, NULL, &db), CT_OK);
    const uint64_t nkeys = 3000;
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    assert_non_null(ver);
    th_rng r;
    th_rng_seed(&r, 11);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK); /* one txn: nothing freed yet */
    for (uint64_t i = 0; i < nkeys; i++) {
        uint8_t k[24];
        uint8_t v[64];
        size_t kl = space_key(i, k);
        size_t vl = value_of(i, 0, v);
        th_assert_rc(ct_put(t, NULL, k, kl, v, vl, 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    assert_int_equal(single_puts(db, s, nkeys, 300, &r, ver), 0);
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    assert_true(st.pages_free > 0); /* the entries are somewhere: in the meta */
    th_check_clean(db);
    /* Delete a third in one txn: more entries than a meta carries. */
    uint64_t fl_before = s->freelist_pages;
    delete_every(db, nkeys, 3, ver);
    assert_true(s->freelist_pages > fl_before);
    /* Now the list's pages hold most entries, and a third of the file is
       free: the meta's pages near the end wait (the file's end can be
       given back), so now and then a commit takes a page's entry and
       rewrites the pages in front of it (one in about 12 here). Not at
       every commit, though: with reuse lowest-first from anywhere in the
       list, each of these commits rewrote 14 of its 15 pages. */
    uint64_t rewritten = single_puts(db, s, nkeys, 100, &r, ver);
    print_message("  100 single puts after the delete wrote %llu free-list pages\n",
                  (unsigned long long)rewritten);
    assert_true(rewritten <= 200);
    th_assert_rc(ct_stat(db, &st), CT_OK);
    assert_true(st.free_list_pages > 0);
    assert_true(st.pages_free > (uint64_t)CT_META_FREE_INLINE);
    th_check_clean(db);
    ct_close(db);
    th_assert_rc(ct_open(&s->fwd.base, NULL, &db), CT_OK);
    struct ct_stat again;
    th_assert_rc(ct_stat(db, &again), CT_OK);
    assert_int_equal(again.pages_free, st.pages_free);
    assert_int_equal(again.pages_total, st.pages_total);
    assert_int_equal(again.free_list_pages, st.free_list_pages);
    th_check_clean(db);
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    check_keys(t, nkeys, ver);
    ct_abort(t);
    ct_close(db);
    inner->ops->close(inner);
    free(ver);
    free(s);
}

/* A CT_SYNC_NONE database (memory store, autosync_pages as given) holding
   keys 0..nkeys-1, synced; returns their versions (caller frees). */
static uint32_t *build_synced_none(th_env *e, uint64_t nkeys, th_rng *r, uint64_t seed,
                                   size_t autosync_pages)
{
    th_env_init(e, TH_STORE_MEM_NOMAP, PS);
    e->durability = CT_SYNC_NONE;
    e->autosync_pages = autosync_pages;
    th_env_reopen(e);
    uint32_t *ver = calloc(nkeys, sizeof(*ver));
    assert_non_null(ver);
    th_rng_seed(r, seed);
    build_keys(e, nkeys, r, ver);
    th_assert_rc(ct_sync(e->db), CT_OK);
    return ver;
}

/* CT_SYNC_NONE: commits that are never synced do not reuse pages freed
   since the last durable commit (so a crash finds an intact tree), but
   ct_sync makes them reusable: a steady workload with a ct_sync every 10
   commits stays bounded like the synced one. */
static void test_sync_none_space(void **state)
{
    (void)state;
    th_env e;
    const uint64_t nkeys = 5000;
    th_rng r;
    uint32_t *ver = build_synced_none(&e, nkeys, &r, 21, 0);
    figures built = fig(&e);
    uint64_t max_store = built.store_pages;
    for (uint64_t c = 1; c <= th_scaled(3000); c++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (int j = 0; j < 10; j++) {
            put_next_version(t, th_below(&r, nkeys), ver);
        }
        th_assert_rc(ct_commit(t), CT_OK);
        if (c % 10 == 0) {
            th_assert_rc(ct_sync(e.db), CT_OK);
        }
        uint64_t sp = th_env_store_pages(&e);
        max_store = sp > max_store ? sp : max_store;
        if (sp > 2 * built.store_pages) {
            print_error("CT_SYNC_NONE with ct_sync every 10 commits: %llu store pages after %llu "
                        "commits (built: %llu)\n",
                        (unsigned long long)sp, (unsigned long long)c,
                        (unsigned long long)built.store_pages);
        }
        th_assert_true(sp <= 2 * built.store_pages);
    }
    print_message("  CT_SYNC_NONE, ct_sync every 10 commits: %llu store pages after the build, "
                  "max %llu\n",
                  (unsigned long long)built.store_pages, (unsigned long long)max_store);
    th_check_clean(e.db);
    free(ver);
    th_env_destroy(&e);
}

/* Puts a trace store between the env's store and the db, to count the
   pages each commit writes. */
static ct_pagestore *trace_env_store(th_env *e)
{
    th_env_close(e);
    ct_pagestore *traced = NULL;
    th_assert_rc(ct_tracestore_wrap(e->ps, NULL, &traced), CT_OK);
    e->ps = traced;
    th_assert_rc(th_env_open(e), CT_OK);
    return traced;
}

static uint64_t pages_written(ct_pagestore *traced)
{
    ct_tracestore_stats st;
    th_assert_rc(ct_tracestore_get_stats(traced, &st), CT_OK);
    return st.op[CT_TRACE_WRITE].pages;
}

/* CT_SYNC_NONE, never synced: every page of the synced tree a commit frees
   stays on the free list until a sync, so that list only grows. A commit
   must write its own changes, not the list again: the held entries settle
   on chain pages that later commits keep (they used to be rewritten by
   nearly every commit). Many small commits must not leave a chain of
   nearly empty pages either. */
static void test_sync_none_held_entries_settle(void **state)
{
    (void)state;
    th_env e;
    const uint64_t nkeys = 20000;
    th_rng r;
    uint32_t *ver = build_synced_none(&e, nkeys, &r, 45, 0);
    ct_pagestore *traced = trace_env_store(&e);
    const uint64_t per = ct__freelist_per_page(PS);
    const uint64_t commits = 1200; /* unscaled: the held set must outgrow a commit */
    uint64_t late_written = 0;
    uint64_t late_commits = 0;
    uint64_t most_written = 0;
    for (uint64_t c = 1; c <= commits; c++) {
        uint64_t before = pages_written(traced);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (int j = 0; j < 4; j++) {
            put_next_version(t, th_below(&r, nkeys), ver);
        }
        th_assert_rc(ct_commit(t), CT_OK);
        uint64_t w = pages_written(traced) - before;
        if (c > commits / 2) {
            late_written += w;
            late_commits++;
            most_written = w > most_written ? w : most_written;
        }
    }
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    uint64_t held_pages = (st.pages_held_by_sync + per - 1) / per;
    print_message("  CT_SYNC_NONE, %llu commits of 4 puts, no sync: %llu entries held by sync "
                  "(%llu chain pages' worth), chain %llu pages, depth %u; late commits wrote %.1f "
                  "pages on average, at most %llu\n",
                  (unsigned long long)commits, (unsigned long long)st.pages_held_by_sync,
                  (unsigned long long)held_pages, (unsigned long long)st.free_list_pages,
                  st.depth, (double)late_written / (double)late_commits, (unsigned long long)most_written);
    /* White box: those entries sit frozen, out of every commit's passes. */
    th_assert_true(e.db->free.frozen_count > 0);
    th_assert_true(e.db->free.frozen_count <= st.pages_held_by_sync);
    /* Rewriting the held entries would cost held_pages per commit. */
    /* 4 puts touch at most 4 root-to-leaf paths, then the meta, the
       free-list pages for this commit's changes, and a few pages of
       entries that turned reusable. */
    th_assert_true(held_pages > 2 * (4 * st.depth + 1 + 8));
    th_assert_true(late_written <= late_commits * (4 * st.depth + 1 + 8));
    /* Compact enough: at most twice the pages the entries need, plus the
       pages of the last commit. */
    th_assert_true(st.free_list_pages <= 2 * ((st.pages_free + per - 1) / per) + 3);
    /* A sync makes them reusable: the next commit thaws them, and later
       commits reuse them instead of growing the store. */
    th_assert_rc(ct_sync(e.db), CT_OK);
    uint64_t hwm_synced = st.pages_total;
    overwrite_random(&e, &r, nkeys, ver, 50, 4);
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    print_message("  after a sync and 50 commits: %zu of %llu free entries frozen, hwm %llu "
                  "(%llu at the sync)\n",
                  e.db->free.frozen_count, (unsigned long long)st.pages_free,
                  (unsigned long long)st.pages_total, (unsigned long long)hwm_synced);
    th_assert_true(e.db->free.frozen_count < st.pages_free);
    /* Until the first commit after the sync overwrites the older meta slot,
       that slot's tree still holds them: one or two commits' worth of
       growth, not fifty. */
    th_assert_true(st.pages_total <= hwm_synced + 2 * (4 * st.depth + 1 + 8));
    check_and_destroy(&e, nkeys, ver);
}

/* White box: db->free's frozen tail lists only entries held until a sync,
   each on one of its frozen_pages last chain pages. Returns frozen_pages. */
static size_t check_frozen_tail(const ct_db *db)
{
    const ct__freeset *fs = &db->free;
    th_assert_true(fs->frozen_pages <= fs->chain_count);
    uint64_t listed = 0;
    for (size_t c = fs->chain_count - fs->frozen_pages; c < fs->chain_count; c++) {
        listed += fs->chain_n[c];
    }
    th_assert_eq(listed, fs->frozen_count);
    for (size_t i = 0; i < fs->frozen_count; i++) {
        const ct__free_entry *f = &fs->frozen[i];
        th_assert_true(f->home < fs->frozen_pages);
        th_assert_true(f->freed_txn > db->durable_txnid && f->chain_of == 0);
    }
    return fs->frozen_pages;
}

/* CT_SYNC_NONE deletes after overwrites: the pages the last synced tree
   gave up pile up frozen, and as the tree shrinks the store's end recedes
   onto frozen chain pages, which a commit must then rewrite lower down.
   It thaws only the frozen pages in front of the one it drops (freelist.c,
   thaw_at_commit); the ones behind stay frozen. The tail must stay
   consistent through every such commit, the high-water mark must fall,
   and content and ct_check must hold after it. */
static void test_sync_none_deletes_cut_frozen_tail(void **state)
{
    (void)state;
    th_env e;
    const uint64_t nkeys = 20000;
    th_rng r;
    uint32_t *ver = build_synced_none(&e, nkeys, &r, 47, 0);
    overwrite_random(&e, &r, nkeys, ver, 200, 20);
    uint64_t cuts = 0;
    uint64_t shrinks = 0;
    size_t frozen_pages = check_frozen_tail(e.db);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    uint64_t hwm = st.pages_total;
    for (uint64_t i = 0; i < nkeys; i += 25) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        for (uint64_t k = i; k < i + 25 && k < nkeys; k++) {
            uint64_t victim = (k * 7919) % nkeys; /* 7919 is prime: a permutation */
            uint8_t key[24];
            size_t kl = space_key(victim, key);
            th_assert_rc(ct_del(t, NULL, key, kl), CT_OK);
            ver[victim] = UINT32_MAX;
        }
        th_assert_rc(ct_commit(t), CT_OK);
        size_t now = check_frozen_tail(e.db);
        cuts += now > 0 && now < frozen_pages;
        frozen_pages = now;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        shrinks += st.pages_total < hwm;
        hwm = st.pages_total;
    }
    print_message("  CT_SYNC_NONE, 20,000 deletes after 4,000 overwrites, no sync: %llu commits "
                  "cut the frozen tail and kept part of it, the high-water mark fell in %llu\n",
                  (unsigned long long)cuts, (unsigned long long)shrinks);
    th_assert_true(cuts > 0);
    th_assert_true(shrinks > 0);
    check_and_destroy(&e, nkeys, ver);
}

/* Overwrites every key of a synced tree under CT_SYNC_NONE, never calling
   ct_sync, in txns of 100; returns the largest store size seen and how
   many commits ended durable (an autosync). */
static uint64_t overwrite_all_unsynced(th_env *e, uint64_t nkeys, uint32_t *ver,
                                       uint64_t *autosyncs, uint64_t *max_held)
{
    uint64_t max_store = th_env_store_pages(e);
    *autosyncs = 0;
    *max_held = 0;
    for (uint64_t base = 0; base < nkeys; base += 100) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
        for (uint64_t i = base; i < base + 100 && i < nkeys; i++) {
            put_next_version(t, (i * 7919u) % nkeys, ver); /* every key once (7919 is prime) */
        }
        th_assert_rc(ct_commit(t), CT_OK);
        struct ct_stat st;
        th_assert_rc(ct_stat(e->db, &st), CT_OK);
        *autosyncs += st.durable_txnid == st.txnid;
        *max_held = st.pages_held_by_sync > *max_held ? st.pages_held_by_sync : *max_held;
        uint64_t sp = th_env_store_pages(e);
        max_store = sp > max_store ? sp : max_store;
    }
    return max_store;
}

/* CT_SYNC_NONE without ct_sync: ct_options.autosync_pages bounds the pages
   that wait for a sync, so repeated full overwrites reach a plateau; with
   autosync off (0, the default) one overwrite grows the store by most of the
   tree, which is what the bound prevents. */
static void test_sync_none_autosync(void **state)
{
    (void)state;
    const uint64_t nkeys = 4000;
    uint64_t grown[2] = {0, 0};
    for (int off = 0; off < 2; off++) {
        th_env e;
        th_rng r;
        uint32_t *ver = build_synced_none(&e, nkeys, &r, 33, off ? 0 : 200); /* 0: never */
        figures built = fig(&e);
        uint64_t syncs = 0;
        uint64_t held = 0;
        uint64_t max1 = overwrite_all_unsynced(&e, nkeys, ver, &syncs, &held);
        uint64_t syncs2 = 0;
        uint64_t max2 = overwrite_all_unsynced(&e, nkeys, ver, &syncs2, &held);
        uint64_t max3 = overwrite_all_unsynced(&e, nkeys, ver, &syncs2, &held);
        print_message("  CT_SYNC_NONE, autosync %s: built %llu pages; max after 1/2/3 overwrite "
                      "passes %llu/%llu/%llu; autosyncs in pass 1: %llu; most pages held: %llu\n",
                      off ? "off" : "200", (unsigned long long)built.store_pages,
                      (unsigned long long)max1, (unsigned long long)max2,
                      (unsigned long long)max3, (unsigned long long)syncs,
                      (unsigned long long)held);
        grown[off] = max3 - built.store_pages;
        if (off) {
            th_assert_true(syncs == 0); /* nothing but ct_sync makes commits durable */
        } else {
            th_assert_true(syncs > 0);
            /* A commit can free about a txn's worth past the bound before
               its sync: 100 puts touch at most 100 leaves + paths. */
            th_assert_true(held < 200 + 200);
            /* A plateau: the store grows by about the bound once, and
               later passes stay under the first one's high point. */
            th_assert_true(max1 <= built.store_pages + 2 * 200);
            th_assert_true(max2 <= max1 && max3 <= max1);
        }
        check_and_destroy(&e, nkeys, ver);
    }
    th_assert_true(grown[0] * 2 < grown[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_tail_given_back),
        cmocka_unit_test(test_free_list_survives_reopen),
        cmocka_unit_test(test_small_commits_keep_free_list_in_meta),
        cmocka_unit_test(test_steady_state_file),
        cmocka_unit_test(test_steady_state_memstore),
        cmocka_unit_test(test_steady_state_overflow_values),
        cmocka_unit_test(test_sync_none_space),
        cmocka_unit_test(test_sync_none_autosync),
        cmocka_unit_test(test_sync_none_held_entries_settle),
        cmocka_unit_test(test_sync_none_deletes_cut_frozen_tail),
        cmocka_unit_test(test_rebalance_fill_after_deletes),
        cmocka_unit_test(test_rebalance_fill_long_keys),
        cmocka_unit_test(test_long_reader_across_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
