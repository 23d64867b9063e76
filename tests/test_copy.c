/*
 * test_copy.c - ct_copy (hot backup): plain and compact copies hold exactly
 * the source's newest commit (default bucket, named buckets, overflow
 * values), check clean, reopen and take new commits; a compact copy of a
 * store with free space is smaller; a copy taken while another thread
 * commits is one consistent commit; bad arguments and damaged sources are
 * errors that leave nothing that opens.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree/memstore.h"
#include "internal.h"

#define PS 512u

/* Random puts (some overflow values) into the default bucket and two
   named ones, then deletes a third of the default bucket's keys so the
   store has free pages. Models: [0] default, [1] "b1", [2] "b2". */
static void build(th_env *e, th_model **m, uint64_t seed)
{
    th_rng r;
    th_rng_seed(&r, seed);
    const char *names[3] = {NULL, "b1", "b2"};
    for (int round = 0; round < 6; round++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
        for (int b = 0; b < 3; b++) {
            ct_bucket *bk = NULL;
            if (names[b]) {
                th_assert_rc(ct_bucket_open(t, names[b], CT_CREATE, &bk), CT_OK);
            }
            for (int i = 0; i < 300; i++) {
                uint8_t k[64];
                size_t kl = th_gen_key(&r, k, 60);
                size_t vl = th_chance(&r, 1, 20) ? 600 + th_below(&r, 3000) : th_below(&r, 40);
                uint8_t *v = malloc(vl + 1);
                assert_non_null(v);
                th_value_fill(v, vl, th_next(&r));
                th_assert_rc(ct_put(t, bk, k, kl, v, vl, 0), CT_OK);
                th_model_put(m[b], k, kl, v, vl);
                free(v);
            }
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
    size_t n = th_model_count(m[0]);
    uint8_t (*dk)[64] = malloc(n * sizeof(*dk));
    size_t *dl = malloc(n * sizeof(*dl));
    assert_non_null(dk);
    assert_non_null(dl);
    size_t nd = 0;
    for (size_t i = 0; i < n; i += 3) {
        const uint8_t *k = NULL;
        th_model_at(m[0], i, &k, &dl[nd], NULL, NULL);
        memcpy(dk[nd], k, dl[nd]);
        nd++;
    }
    for (size_t i = 0; i < nd; i++) {
        th_assert_rc(ct_del(t, NULL, dk[i], dl[i]), CT_OK);
        th_model_del(m[0], dk[i], dl[i]);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    free(dk);
    free(dl);
}

static void verify_all(ct_db *db, th_model **m)
{
    th_verify_db(db, NULL, m[0]);
    th_verify_db(db, "b1", m[1]);
    th_verify_db(db, "b2", m[2]);
    th_check_clean(db);
}

static uint64_t store_pages(ct_pagestore *ps)
{
    uint64_t n = 0;
    th_assert_rc(ps->ops->size(ps, &n), CT_OK);
    return n;
}

/* Both kinds of copy from RAM, memory and file stores: exact content, a
   clean check, new commits accepted after a reopen of the copy. */
static void test_copy_exact(void **state)
{
    (void)state;
    const th_store_kind kinds[] = {TH_STORE_RAM, TH_STORE_MEM_NOMAP, TH_STORE_FILE};
    for (size_t s = 0; s < 3; s++) {
        for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
            th_set_ctx("source %s, flags %u", th_store_name(kinds[s]), flags);
            th_env e;
            th_env_init(&e, kinds[s], PS);
            th_model *m[3] = {th_model_new(), th_model_new(), th_model_new()};
            build(&e, m, 11 + s);
            ct_check_report src;
            th_assert_rc(ct_check(e.db, &src), CT_OK);
            assert_true(src.pages_free > 50);
            ct_pagestore *dst = th_ram_create(PS, 1);
            th_assert_rc(ct_copy(e.db, dst, flags), CT_OK);
            uint64_t live = src.pages_leaf + src.pages_branch + src.pages_overflow;
            uint64_t dst_pages = store_pages(dst);
            print_message("  %s %s: source %llu pages (%llu live, %llu free, %llu free-list), "
                          "copy %llu pages\n",
                          th_store_name(kinds[s]), flags ? "compact" : "plain",
                          (unsigned long long)src.pages_total, (unsigned long long)live,
                          (unsigned long long)src.pages_free,
                          (unsigned long long)src.pages_freelist, (unsigned long long)dst_pages);
            assert_int_equal(dst_pages, flags ? live + 2 : src.pages_total);
            ct_db *c = NULL;
            th_assert_rc(ct_open(dst, NULL, &c), CT_OK);
            verify_all(c, m);
            ct_check_report cr;
            th_assert_rc(ct_check(c, &cr), CT_OK);
            assert_int_equal(cr.pages_leaf + cr.pages_branch + cr.pages_overflow, live);
            assert_int_equal(cr.pages_free + cr.pages_freelist,
                             flags ? 0 : src.pages_free + src.pages_freelist);
            th_put1(c, "after", 5, "copy", 4);
            th_model_put(m[0], "after", 5, "copy", 4);
            ct_close(c);
            th_assert_rc(ct_open(dst, NULL, &c), CT_OK);
            verify_all(c, m);
            ct_close(c);
            dst->ops->close(dst);
            for (int b = 0; b < 3; b++) {
                th_model_free(m[b]);
            }
            th_env_destroy(&e);
        }
    }
    th_ctx[0] = '\0';
}

typedef struct writer_arg {
    ct_db *db;
    atomic_int stop; /* set by the main thread while the writer runs */
    uint64_t commits;
} writer_arg;

/* Commit i adds key "w%06d" for i and rewrites "count" = i. */
static void *writer(void *p)
{
    writer_arg *a = p;
    for (uint64_t i = 1; !atomic_load(&a->stop) && i < 100000; i++) {
        ct_txn *t = NULL;
        if (ct_begin(a->db, 0, &t) != CT_OK) {
            break;
        }
        char k[16];
        int kl = snprintf(k, sizeof(k), "w%06llu", (unsigned long long)i);
        int rc = ct_put(t, NULL, k, (size_t)kl, "v", 1, 0);
        if (rc == CT_OK) {
            rc = ct_put(t, NULL, "count", 5, &i, sizeof(i), 0);
        }
        if (rc != CT_OK || ct_commit(t) != CT_OK) {
            if (rc != CT_OK) {
                ct_abort(t);
            }
            break;
        }
        a->commits = i;
    }
    return NULL;
}

/* Copies taken while another thread commits: each copy is one commit
   (the keys w1..wN for its count N, nothing more), checks clean. */
static void test_copy_while_writing(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_model *m[3] = {th_model_new(), th_model_new(), th_model_new()};
    build(&e, m, 5);
    writer_arg a = {e.db, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, &a), 0);
    uint64_t last_count = 0;
    for (int round = 0; round < 20; round++) {
        ct_pagestore *dst = th_ram_create(PS, 1);
        th_assert_rc(ct_copy(e.db, dst, round % 2 ? CT_COPY_COMPACT : 0), CT_OK);
        ct_db *c = NULL;
        th_assert_rc(ct_open(dst, NULL, &c), CT_OK);
        th_check_clean(c);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(c, CT_TXN_RDONLY, &t), CT_OK);
        const void *v = NULL;
        size_t vl = 0;
        uint64_t count = 0;
        int rc = ct_get(t, NULL, "count", 5, &v, &vl);
        if (rc == CT_OK) {
            assert_int_equal(vl, sizeof(count));
            memcpy(&count, v, sizeof(count));
        } else {
            th_assert_rc(rc, CT_NOTFOUND);
        }
        ct_cursor *cur = NULL;
        th_assert_rc(ct_cursor_open(t, NULL, &cur), CT_OK);
        uint64_t seen = 0;
        rc = ct_cursor_seek(cur, "w", 1);
        while (rc == CT_OK) {
            const void *k = NULL;
            size_t kl = 0;
            th_assert_rc(ct_cursor_get(cur, &k, &kl, NULL, NULL), CT_OK);
            if (kl < 1 || ((const char *)k)[0] != 'w') {
                break;
            }
            seen++;
            rc = ct_cursor_next(cur);
        }
        assert_int_equal(seen, count);
        assert_true(count >= last_count);
        last_count = count;
        ct_abort(t);
        ct_close(c);
        dst->ops->close(dst);
    }
    atomic_store(&a.stop, 1);
    pthread_join(th, NULL);
    print_message("  20 copies during %llu commits; the last copy held %llu of them\n",
                  (unsigned long long)a.commits, (unsigned long long)last_count);
    assert_true(a.commits > 0);
    for (int b = 0; b < 3; b++) {
        th_model_free(m[b]);
    }
    th_env_destroy(&e);
}

/* Bad arguments: CT_INVALID, and the destination untouched. A damaged
   source page: CT_CORRUPT, and the destination does not open. */
static void test_copy_errors(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_model *m[3] = {th_model_new(), th_model_new(), th_model_new()};
    build(&e, m, 7);
    ct_pagestore *dst = th_ram_create(PS, 1);
    th_assert_rc(ct_copy(NULL, dst, 0), CT_INVALID);
    th_assert_rc(ct_copy(e.db, NULL, 0), CT_INVALID);
    th_assert_rc(ct_copy(e.db, dst, 0x80), CT_INVALID);
    ct_pagestore *other = th_ram_create(4096, 1);
    th_assert_rc(ct_copy(e.db, other, 0), CT_INVALID);
    other->ops->close(other);
    assert_int_equal(store_pages(dst), 0);
    th_assert_rc(ct_copy(e.db, dst, 0), CT_OK);
    ct_pagestore *again = dst;
    th_assert_rc(ct_copy(e.db, again, 0), CT_INVALID); /* not empty */
    dst->ops->close(dst);
    /* Rot a bit of the source's root page under the open db (a reopen
       would fall back to the previous commit, which copies fine). */
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    uint64_t root = t->meta.main.root;
    ct_abort(t);
    th_ram_page(e.ps, root)[200] ^= 0x10;
    for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
        dst = th_ram_create(PS, 1);
        th_assert_rc(ct_copy(e.db, dst, flags), CT_CORRUPT);
        assert_int_equal(store_pages(dst), 0); /* emptied again */
        ct_options o;
        ct_options_init(&o);
        o.flags = CT_NOCREATE;
        ct_db *c = NULL;
        th_assert_rc(ct_open(dst, &o, &c), CT_NOTFOUND);
        assert_null(c);
        dst->ops->close(dst);
    }
    th_ram_page(e.ps, root)[200] ^= 0x10; /* healed, so the env closes cleanly */
    for (int b = 0; b < 3; b++) {
        th_model_free(m[b]);
    }
    th_env_destroy(&e);
}

/* A destination that fails its nth write, sync or resize, for every n up
   to the copy's first success: each failed copy leaves dst empty (no meta
   that opens, even one written before the last sync failed) and a retry
   into the same store succeeds. */
static void test_copy_dst_failures(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_model *m[3] = {th_model_new(), th_model_new(), th_model_new()};
    build(&e, m, 11);
    const ct_memstore_op_kind kinds[] = {CT_MEMSTORE_OP_WRITE, CT_MEMSTORE_OP_SYNC,
                                         CT_MEMSTORE_OP_RESIZE};
    for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
        for (size_t kd = 0; kd < 3; kd++) {
            uint64_t failed = 0;
            for (uint64_t n = 1;; n++) {
                th_set_ctx("flags=%u kind=%d n=%llu", flags, (int)kinds[kd],
                           (unsigned long long)n);
                ct_pagestore *dst = th_mem_create(PS, 1, 0);
                th_assert_rc(ct_memstore_fail_nth(dst, kinds[kd], n, 0), CT_OK);
                int rc = ct_copy(e.db, dst, flags);
                ct_memstore_clear_countdowns(dst);
                if (rc == CT_OK) {
                    dst->ops->close(dst);
                    break;
                }
                failed++;
                th_assert_rc(rc, CT_IO);
                assert_int_equal(store_pages(dst), 0);
                ct_options o;
                ct_options_init(&o);
                o.flags = CT_NOCREATE;
                ct_db *c = NULL;
                th_assert_rc(ct_open(dst, &o, &c), CT_NOTFOUND);
                th_assert_rc(ct_copy(e.db, dst, flags), CT_OK);
                th_assert_rc(ct_open(dst, NULL, &c), CT_OK);
                th_check_clean(c);
                ct_close(c);
                dst->ops->close(dst);
            }
            /* Writes: every data page and both metas; syncs: two. */
            assert_true(failed >= (kinds[kd] == CT_MEMSTORE_OP_SYNC ? 2u : 1u));
        }
    }
    th_ctx[0] = '\0';
    for (int b = 0; b < 3; b++) {
        th_model_free(m[b]);
    }
    th_env_destroy(&e);
}

/* A power cut at every store op of a copy into dst, each followed by
   drop-all, keep-all, every subset of the last pending writes (the
   earlier ones all kept or all dropped), omitting one and tearing one of
   each: an image that opens (CT_NOCREATE) holds exactly the source's
   commit and checks clean; the others are refused. The header's promise:
   a copy cut short by a crash never opens as a database. */
static void test_copy_power_cut(void **state)
{
    (void)state;
    ct_pagestore *src = th_mem_create(PS, 1, 0);
    ct_db *db = NULL;
    th_assert_rc(ct_open(src, NULL, &db), CT_OK);
    th_model *m[2] = {th_model_new(), th_model_new()};
    th_rng r;
    th_rng_seed(&r, 21);
    for (int round = 0; round < 2; round++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        ct_bucket *b1 = NULL;
        th_assert_rc(ct_bucket_open(t, "b1", CT_CREATE, &b1), CT_OK);
        for (int i = 0; i < 60; i++) {
            uint8_t k[32];
            uint8_t v[700];
            size_t kl = th_gen_key(&r, k, 24);
            size_t vl = th_chance(&r, 1, 10) ? 600 + th_below(&r, 100) : th_below(&r, 40);
            th_value_fill(v, vl, th_next(&r));
            int b = i % 3 == 0;
            th_assert_rc(ct_put(t, b ? b1 : NULL, k, kl, v, vl, 0), CT_OK);
            th_model_put(m[b], k, kl, v, vl);
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    uint64_t images = 0;
    uint64_t opened = 0;
    for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
        for (uint64_t cut = 0;; cut++) {
            th_set_ctx("flags=%u cut=%llu", flags, (unsigned long long)cut);
            ct_pagestore *dst = th_mem_create(PS, 1, 0);
            th_assert_rc(ct_memstore_set_power_cut(dst, cut), CT_OK);
            int copy_rc = ct_copy(db, dst, flags);
            ct_memstore_info in;
            th_assert_rc(ct_memstore_get_info(dst, &in), CT_OK);
            ct_memstore_snapshot *snap = NULL;
            th_assert_rc(ct_memstore_snapshot_take(dst, &snap), CT_OK);
            uint64_t p = in.pending < 64 ? in.pending : 64;
            uint32_t n = p < 6 ? (uint32_t)p : 6u;
            uint64_t subsets = 2ull << n;
            for (uint64_t o = 0; o < subsets + 2 * p; o++) {
                ct_crash_outcome out;
                memset(&out, 0, sizeof(out));
                if (o < subsets) {
                    out.mode = CT_CRASH_SUBSET;
                    out.mask = (o & ((1ull << n) - 1)) << (p - n);
                    if ((o >> n) & 1) {
                        out.mask |= (1ull << (p - n)) - 1;
                    }
                } else {
                    out.mode = o < subsets + p ? CT_CRASH_OMIT_ONE : CT_CRASH_TEAR_ONE;
                    out.index = (uint32_t)((o - subsets) % p);
                    out.seed = o;
                }
                th_assert_rc(ct_memstore_snapshot_restore(dst, snap), CT_OK);
                th_assert_rc(ct_memstore_crash(dst, &out), CT_OK);
                images++;
                ct_options opt;
                ct_options_init(&opt);
                opt.flags = CT_NOCREATE;
                ct_db *c = NULL;
                int rc = ct_open(dst, &opt, &c);
                if (rc != CT_OK) {
                    assert_true(rc == CT_NOTFOUND || rc == CT_CORRUPT);
                    continue;
                }
                opened++;
                th_verify_db(c, NULL, m[0]);
                th_verify_db(c, "b1", m[1]);
                th_check_clean(c);
                ct_close(c);
            }
            ct_memstore_snapshot_free(snap);
            dst->ops->close(dst);
            if (copy_rc == CT_OK) {
                break;
            }
            th_assert_rc(copy_rc, CT_IO);
        }
    }
    th_ctx[0] = '\0';
    print_message("  %llu crash images, %llu opened\n", (unsigned long long)images,
                  (unsigned long long)opened);
    assert_true(opened > 0 && opened < images);
    ct_close(db);
    src->ops->close(src);
    th_model_free(m[0]);
    th_model_free(m[1]);
}

/* A page reachable twice (a bucket descriptor naming the default bucket's
   root) is CT_CORRUPT for both kinds of copy: the compact one used to copy
   the shared tree twice and produce a copy that checks clean. */
static void test_copy_page_reachable_twice(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, PS);
    th_model *m[3] = {th_model_new(), th_model_new(), th_model_new()};
    build(&e, m, 13);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    uint8_t desc[CT_BUCKET_DESC_BYTES];
    memset(desc, 0, sizeof(desc));
    ct__put64(desc, t->meta.main.root);
    ct__put64(desc + 8, t->meta.main.gen);
    ct__put32(desc + 16, t->meta.main.depth);
    ct__put64(desc + 24, t->meta.main.entries);
    th_assert_rc(ct__tree_put(t, &t->meta.catalog, (const uint8_t *)"alias", 5, desc,
                              sizeof(desc), 0),
                 CT_OK);
    t->meta.buckets++;
    t->catalog_dirty = 1;
    th_assert_rc(ct_commit(t), CT_OK);
    ct_check_report r;
    th_assert_rc(ct_check(e.db, &r), CT_CORRUPT);
    for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
        ct_pagestore *dst = th_ram_create(PS, 1);
        th_assert_rc(ct_copy(e.db, dst, flags), CT_CORRUPT);
        assert_int_equal(store_pages(dst), 0);
        dst->ops->close(dst);
    }
    for (int b = 0; b < 3; b++) {
        th_model_free(m[b]);
    }
    th_env_destroy(&e);
}

/* A bucket whose name is as long as the key limit: at 512-byte pages its
   descriptor does not fit the catalog cell and sits in an overflow run
   (bucketlist.c). Both kinds of copy carry the bucket, and the compact one
   rewrites the root that the run's descriptor names. */
static void test_copy_long_bucket_name(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= CT_COPY_COMPACT; flags++) {
        th_set_ctx("flags %u", flags);
        th_env e;
        th_env_init(&e, TH_STORE_RAM, PS);
        size_t kmax = ct_key_max(e.db);
        char *name = calloc(1, kmax + 1);
        assert_non_null(name);
        memset(name, 'n', kmax);
        th_model *m = th_model_new();
        th_rng r;
        th_rng_seed(&r, 5);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        ct_bucket *bk = NULL;
        th_assert_rc(ct_bucket_open(t, name, CT_CREATE, &bk), CT_OK);
        for (int i = 0; i < 200; i++) {
            uint8_t k[32];
            uint8_t v[40];
            size_t kl = th_gen_key(&r, k, 30);
            size_t vl = th_below(&r, 40);
            th_value_fill(v, vl, th_next(&r));
            th_assert_rc(ct_put(t, bk, k, kl, v, vl, 0), CT_OK);
            th_model_put(m, k, kl, v, vl);
        }
        th_assert_rc(ct_commit(t), CT_OK);
        ct_check_report src;
        th_assert_rc(ct_check(e.db, &src), CT_OK);
        assert_true(src.pages_overflow >= 1); /* the descriptor's run */
        /* Free pages below the bucket's tree, so a compact copy moves it. */
        th_put1(e.db, "a", 1, "1", 1);
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_del(t, NULL, "a", 1), CT_OK);
        th_assert_rc(ct_commit(t), CT_OK);
        ct_pagestore *dst = th_ram_create(PS, 1);
        th_assert_rc(ct_copy(e.db, dst, flags), CT_OK);
        ct_db *c = NULL;
        th_assert_rc(ct_open(dst, NULL, &c), CT_OK);
        th_verify_db(c, name, m);
        th_check_clean(c);
        ct_close(c);
        dst->ops->close(dst);
        th_model_free(m);
        free(name);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_exact),
        cmocka_unit_test(test_copy_while_writing),
        cmocka_unit_test(test_copy_errors),
        cmocka_unit_test(test_copy_dst_failures),
        cmocka_unit_test(test_copy_power_cut),
        cmocka_unit_test(test_copy_page_reachable_twice),
        cmocka_unit_test(test_copy_long_bucket_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
