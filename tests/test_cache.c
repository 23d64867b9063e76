/*
 * test_cache.c - the shared page cache (core/cache.c) on a store without
 * map(): pages are read from the store once and then shared by later txns
 * (store reads counted by a trace store wrapped around a RAM store), the
 * cache holds at most cache_pages unpinned pages after a scan of a much
 * larger db, a long scan keeps the shard tables' chains short, a hot set
 * survives one big scan, concurrent readers beside a writer always see
 * their own snapshot, page reuse never serves stale
 * bytes, ct_check still re-reads the store, and every allocation failure is
 * CT_NOMEM.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree/tracestore.h"
#include "internal.h"

#define PS 512u

typedef struct cenv {
    ct_pagestore *ram; /* inner store, owned by the trace store */
    ct_pagestore *ps;  /* trace store: counts reads */
    ct_db *db;
} cenv;

static void cenv_open(cenv *e, size_t cache_pages, const ct_allocator *alloc)
{
    e->ram = th_ram_create(PS, 0);
    assert_non_null(e->ram);
    th_assert_rc(ct_tracestore_wrap(e->ram, NULL, &e->ps), CT_OK);
    ct_options o;
    ct_options_init(&o);
    o.cache_pages = cache_pages;
    o.alloc = alloc;
    th_assert_rc(ct_open(e->ps, &o, &e->db), CT_OK);
}

static void cenv_close(cenv *e)
{
    ct_close(e->db);
    e->ps->ops->close(e->ps);
}

static uint64_t store_reads(cenv *e)
{
    ct_tracestore_stats st;
    th_assert_rc(ct_tracestore_get_stats(e->ps, &st), CT_OK);
    return st.op[CT_TRACE_READ].pages;
}

static void key_of(char *k, size_t cap, unsigned i)
{
    snprintf(k, cap, "key%06u", i);
}

/* n keys with 40-byte values tagged by version, in one write txn. */
static void fill(ct_db *db, unsigned n, uint64_t version)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (unsigned i = 0; i < n; i++) {
        char k[16];
        uint8_t v[40];
        key_of(k, sizeof(k), i);
        th_value_fill(v, sizeof(v), version * 1000003u + i);
        th_assert_rc(ct_put(t, NULL, k, strlen(k), v, sizeof(v), 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
}

static void get_key(ct_txn *t, unsigned i, uint64_t version)
{
    char k[16];
    key_of(k, sizeof(k), i);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, k, strlen(k), &v, &vl), CT_OK);
    assert_int_equal(vl, 40);
    assert_int_equal(th_value_check(v, vl, version * 1000003u + i), 40);
}

/* Reads every key with a cursor; returns the count. */
static unsigned scan(ct_txn *t)
{
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    unsigned n = 0;
    for (int rc = ct_cursor_first(c); rc != CT_NOTFOUND; rc = ct_cursor_next(c)) {
        th_assert_rc(rc, CT_OK);
        n++;
    }
    ct_cursor_close(c);
    return n;
}

/* A second read txn finds the pages the first one read: no store reads. */
static void test_hit_after_first_read(void **state)
{
    (void)state;
    cenv e;
    cenv_open(&e, 64, NULL);
    fill(e.db, 300, 1);
    for (int round = 0; round < 3; round++) {
        uint64_t before = store_reads(&e);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        get_key(t, 150, 1);
        get_key(t, 150, 1); /* the txn's own pins: never a store read */
        ct_abort(t);
        uint64_t reads = store_reads(&e) - before;
        if (round == 0) {
            assert_true(reads >= 2); /* root branch and leaf at least */
        } else {
            assert_int_equal(reads, 0);
        }
    }
    ct__cache_stats cs;
    ct__cache_stat(e.db, &cs);
    assert_int_equal(cs.cap_pages, 64);
    assert_int_equal(cs.pinned, 0);
    assert_true(cs.hits >= 4);
    cenv_close(&e);
}

/* Default size when cache_pages is 0, and the shard split of small caches. */
static void test_default_size(void **state)
{
    (void)state;
    const size_t caps[] = {0, 1, 2, 64, 4096};
    const unsigned shards[] = {32, 1, 1, 4, 32};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        cenv e;
        cenv_open(&e, caps[i], NULL);
        ct__cache_stats cs;
        ct__cache_stat(e.db, &cs);
        assert_int_equal(cs.cap_pages, caps[i] ? caps[i] : CT_CACHE_PAGES_DEFAULT);
        assert_int_equal(cs.shards, shards[i]);
        cenv_close(&e);
    }
}

/* After a scan of a db of ~20x cache_pages pages, the cache holds at most
   cache_pages entries (all unpinned); during the scan it held more, all
   pinned by the scanning txn. */
static void test_bound_after_scan(void **state)
{
    (void)state;
    const size_t cap = 16;
    cenv e;
    cenv_open(&e, cap, NULL);
    fill(e.db, 3000, 1);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_true(st.pages_in_use > 20 * cap);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(scan(t), 3000);
    ct__cache_stats cs;
    ct__cache_stat(e.db, &cs);
    assert_true(cs.pinned > cap);
    assert_true(cs.unpinned <= cap);
    ct_abort(t);
    ct__cache_stat(e.db, &cs);
    assert_int_equal(cs.pinned, 0);
    assert_true(cs.unpinned <= cap);
    assert_true(cs.entries <= cap);
    assert_true(cs.evictions > 0);
    /* Point reads in many txns keep the bound too. */
    for (unsigned i = 0; i < 3000; i += 37) {
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        get_key(t, i, 1);
        ct_abort(t);
        ct__cache_stat(e.db, &cs);
        assert_true(cs.entries <= cap);
    }
    cenv_close(&e);
}

/* One txn that reads far more pages than the cache holds pins them all,
   but a shard's table keeps at most CT_CACHE_CHAIN_LOAD_MAX entries a
   chain head: the rest stay private to that txn, so another reader's
   lookups walk short chains. Both txns still read every value, and the
   scan's private pages are freed at its end. */
static void test_long_txn_keeps_chains_short(void **state)
{
    (void)state;
    const size_t cap = 16;
    cenv e;
    cenv_open(&e, cap, NULL);
    fill(e.db, 6000, 1);
    ct__cache_stats cs;
    ct__cache_stat(e.db, &cs);
    const size_t bound = (size_t)CT_CACHE_CHAIN_LOAD_MAX * cs.heads;
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_true(st.pages_in_use > 2 * bound); /* the scan could overfill it */
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(scan(t), 6000);
    ct__cache_stat(e.db, &cs);
    assert_true(cs.entries <= bound);
    assert_true(cs.pinned > bound / 2); /* the table still took its share */
    ct_txn *other = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &other), CT_OK);
    for (unsigned i = 0; i < 6000; i += 53) {
        get_key(other, i, 1);
    }
    ct__cache_stat(e.db, &cs);
    assert_true(cs.entries <= bound);
    ct_abort(other);
    ct_abort(t);
    ct__cache_stat(e.db, &cs);
    assert_int_equal(cs.pinned, 0);
    assert_true(cs.entries <= cap);
    cenv_close(&e);
}

/* A hot set read in several txns survives one full scan: reading it again
   afterwards costs no store reads (the scan only cycled probation). */
static void test_scan_resistance(void **state)
{
    (void)state;
    cenv e;
    cenv_open(&e, 64, NULL);
    fill(e.db, 3000, 1);
    const unsigned hot[] = {10, 1500, 2990};
    for (int round = 0; round < 3; round++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        for (size_t i = 0; i < 3; i++) {
            get_key(t, hot[i], 1);
        }
        ct_abort(t);
    }
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    uint64_t before_scan = store_reads(&e);
    assert_int_equal(scan(t), 3000);
    uint64_t scan_reads = store_reads(&e) - before_scan;
    ct_abort(t);
    assert_true(scan_reads > 100); /* the scan did go to the store */
    uint64_t before = store_reads(&e);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    for (size_t i = 0; i < 3; i++) {
        get_key(t, hot[i], 1);
    }
    ct_abort(t);
    assert_int_equal(store_reads(&e) - before, 0);
    cenv_close(&e);
}

/* Pages freed and reused under a new generation: every read sees the value
   of its snapshot, never bytes cached for an older generation of the page
   (a tiny db, rewritten 200 times with no reader: pages are reused). */
static void test_reuse_never_stale(void **state)
{
    (void)state;
    cenv e;
    cenv_open(&e, 8, NULL);
    for (uint64_t v = 1; v <= 200; v++) {
        fill(e.db, 40, v);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        for (unsigned i = 0; i < 40; i += 7) {
            get_key(t, i, v);
        }
        ct_abort(t);
    }
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_true(st.pages_total < 200); /* pages were reused */
    th_check_clean(e.db);
    cenv_close(&e);
}

/* A cached page whose bytes rot in the store: readers may keep using the
   verified copy, but ct_check re-reads the store and reports it. */
static void test_check_bypasses_cache(void **state)
{
    (void)state;
    cenv e;
    cenv_open(&e, 64, NULL);
    fill(e.db, 5, 1); /* one leaf: the root */
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    uint64_t root = t->meta.main.root;
    get_key(t, 3, 1);
    ct_abort(t);
    th_ram_page(e.ram, root)[PS - 1] ^= 0x40;
    ct_check_report r;
    int rc = ct_check(e.db, &r);
    assert_true(rc == CT_CORRUPT || (rc == CT_OK && r.problems > 0));
    cenv_close(&e);
}

/* ---- concurrency ---- */

#define CONC_KEYS 400u
#define CONC_READERS 4
#define CONC_VERSIONS 60u

typedef struct conc {
    ct_db *db;
    atomic_int stop;
    atomic_ulong checks;
} conc;

/* Each snapshot: every key carries the same version (the writer rewrites
   all of them in each txn). */
static void *conc_reader(void *arg)
{
    conc *c = arg;
    while (!atomic_load(&c->stop)) {
        ct_txn *t = NULL;
        if (ct_begin(c->db, CT_TXN_RDONLY, &t) != CT_OK) {
            return (void *)1;
        }
        uint64_t version = 0;
        int bad = 0;
        for (unsigned i = 0; i < CONC_KEYS && !bad; i += 3) {
            char k[16];
            key_of(k, sizeof(k), i);
            const void *v = NULL;
            size_t vl = 0;
            if (ct_get(t, NULL, k, strlen(k), &v, &vl) != CT_OK || vl != 40) {
                bad = 1;
                break;
            }
            for (uint64_t ver = 1; i == 0 && ver <= CONC_VERSIONS; ver++) {
                if (th_value_check(v, vl, ver * 1000003u) == 40) {
                    version = ver; /* key 0 names the snapshot's version */
                }
            }
            bad = version == 0 || th_value_check(v, vl, version * 1000003u + i) != 40;
        }
        ct_abort(t);
        if (bad) {
            return (void *)1;
        }
        atomic_fetch_add(&c->checks, 1);
    }
    return NULL;
}

/* Readers on 4 threads beside a writer that rewrites every key 60 times, on
   a 16-page cache (constant eviction and reuse): every snapshot read is
   consistent, the cache stays bounded and nothing stays pinned. */
static void test_concurrent_readers_and_writer(void **state)
{
    (void)state;
    cenv e;
    cenv_open(&e, 16, NULL);
    fill(e.db, CONC_KEYS, 1);
    conc c;
    c.db = e.db;
    atomic_init(&c.stop, 0);
    atomic_init(&c.checks, 0);
    pthread_t th[CONC_READERS];
    for (int i = 0; i < CONC_READERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, conc_reader, &c), 0);
    }
    for (uint64_t v = 2; v <= CONC_VERSIONS; v++) {
        fill(e.db, CONC_KEYS, v);
    }
    atomic_store(&c.stop, 1);
    for (int i = 0; i < CONC_READERS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    print_message("  %lu consistent snapshots read\n", (unsigned long)atomic_load(&c.checks));
    ct__cache_stats cs;
    ct__cache_stat(e.db, &cs);
    assert_int_equal(cs.pinned, 0);
    assert_true(cs.entries <= 16);
    th_check_clean(e.db);
    cenv_close(&e);
}

/* ---- allocation failures ---- */

typedef struct failing_alloc {
    long countdown; /* fail when it reaches 0; < 0: never */
    long failures;
} failing_alloc;

static void *fa_malloc(void *ctx, size_t n)
{
    failing_alloc *a = ctx;
    if (a->countdown >= 0 && a->countdown-- == 0) {
        a->failures++;
        return NULL;
    }
    return malloc(n ? n : 1);
}

static void *fa_realloc(void *ctx, void *p, size_t n)
{
    failing_alloc *a = ctx;
    if (a->countdown >= 0 && a->countdown-- == 0) {
        a->failures++;
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

static void fa_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* A read txn over every key and a write txn that updates a few: rc. */
static int nomem_step(ct_db *db, uint64_t version)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, CT_TXN_RDONLY, &t);
    for (unsigned i = 0; i < 300 && rc == CT_OK; i += 11) {
        char k[16];
        key_of(k, sizeof(k), i);
        const void *v = NULL;
        size_t vl = 0;
        rc = ct_get(t, NULL, k, strlen(k), &v, &vl);
    }
    if (t) {
        ct_abort(t);
    }
    t = NULL;
    if (rc == CT_OK) {
        rc = ct_begin(db, 0, &t);
    }
    for (unsigned i = 0; i < 300 && rc == CT_OK; i += 29) {
        char k[16];
        uint8_t v[40];
        key_of(k, sizeof(k), i);
        th_value_fill(v, sizeof(v), version * 1000003u + i);
        rc = ct_put(t, NULL, k, strlen(k), v, sizeof(v), 0);
    }
    if (t && rc == CT_OK) {
        return ct_commit(t);
    }
    if (t) {
        ct_abort(t);
    }
    return rc;
}

/* Open, then a read and a write step with the nth allocation failing for
   n = 0, 1, ...: each returns CT_OK or CT_NOMEM, nothing leaks (ASan), and
   the db reads back clean. */
static void test_nomem(void **state)
{
    (void)state;
    failing_alloc fa = {-1, 0};
    ct_allocator alloc = {fa_malloc, fa_realloc, fa_free, &fa};
    cenv e;
    cenv_open(&e, 8, &alloc);
    fill(e.db, 300, 1);
    ct_close(e.db);
    ct_options o;
    ct_options_init(&o);
    o.cache_pages = 8;
    o.alloc = &alloc;
    for (long n = 0;; n++) {
        fa.countdown = n;
        int rc = ct_open(e.ps, &o, &e.db);
        fa.countdown = -1;
        if (rc == CT_OK) {
            break;
        }
        th_assert_rc(rc, CT_NOMEM);
        assert_true(n < 10000);
    }
    long points = 0;
    for (long n = 0;; n++) {
        th_set_ctx("allocation %ld fails", n);
        fa.countdown = n;
        long before = fa.failures;
        int rc = nomem_step(e.db, 2);
        fa.countdown = -1;
        if (fa.failures == before) {
            th_assert_rc(rc, CT_OK);
            break;
        }
        points++;
        if (rc != CT_OK) {
            th_assert_rc(rc, CT_NOMEM);
        }
        ct__cache_stats cs;
        ct__cache_stat(e.db, &cs);
        assert_int_equal(cs.pinned, 0);
        assert_true(n < 100000);
    }
    print_message("  %ld allocation failure points exercised\n", points);
    th_check_clean(e.db);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    for (unsigned i = 0; i < 300; i += 29) {
        get_key(t, i, 2);
    }
    ct_abort(t);
    cenv_close(&e);
    th_ctx[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_after_first_read),
        cmocka_unit_test(test_default_size),
        cmocka_unit_test(test_bound_after_scan),
        cmocka_unit_test(test_long_txn_keeps_chains_short),
        cmocka_unit_test(test_scan_resistance),
        cmocka_unit_test(test_reuse_never_stale),
        cmocka_unit_test(test_check_bypasses_cache),
        cmocka_unit_test(test_concurrent_readers_and_writer),
        cmocka_unit_test(test_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
