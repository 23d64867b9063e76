/*
 * test_retain.c - the default allocator's kept blocks (core/retain.c):
 * large freed blocks come back to later requests they fit, small ones and
 * ill-fitting ones do not, the slot and byte bounds hold, the smallest
 * kept block is evicted and the smallest fitting one taken, large pages
 * raise the floor, realloc keeps contents (and the block when it fails),
 * AddressSanitizer still sees kept blocks and rounded tails, two threads
 * never get one block, and a db uses it only when the embedder gives no
 * allocator.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct fixture {
    ct__retain r;
    ct_allocator a;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) {
        return -1;
    }
    ct__retain_init(&f->r, &f->a, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ct__retain_destroy(&f->r);
    free(f);
    return 0;
}

static void test_large_block_comes_back(void **state)
{
    fixture *f = *state;
    uint8_t *p = ct__malloc(&f->a, 100u << 10);
    assert_non_null(p);
    memset(p, 0xa5, 100u << 10);
    ct__free(&f->a, p);
    assert_int_equal(f->r.count, 1);
    uint8_t *q = ct__malloc(&f->a, 90u << 10);
    assert_ptr_equal(q, p); /* 100 KiB was rounded to 128 KiB: 90 KiB fits */
    assert_int_equal(f->r.count, 0);
    assert_int_equal(f->r.bytes, 0);
    ct__free(&f->a, q);
}

static void test_small_and_ill_fitting_blocks_are_not_reused(void **state)
{
    fixture *f = *state;
    void *small = ct__malloc(&f->a, CT_RETAIN_MIN_BYTES - 1);
    assert_non_null(small);
    ct__free(&f->a, small);
    assert_int_equal(f->r.count, 0);

    void *big = ct__malloc(&f->a, 1u << 20);
    assert_non_null(big);
    ct__free(&f->a, big);
    assert_int_equal(f->r.count, 1);
    /* 1 MiB for 64 KiB would waste 15/16 of it: a block of its own. */
    void *q = ct__malloc(&f->a, 64u << 10);
    assert_non_null(q);
    assert_ptr_not_equal(q, big);
    assert_int_equal(f->r.count, 1);
    /* A request over the kept capacity cannot use it either. */
    void *r = ct__malloc(&f->a, (1u << 20) + 1);
    assert_non_null(r);
    assert_ptr_not_equal(r, big);
    ct__free(&f->a, q);
    ct__free(&f->a, r);
}

static void test_bounds_hold_and_a_larger_block_takes_a_slot(void **state)
{
    fixture *f = *state;
    void *p[CT_RETAIN_SLOTS + 4];
    for (size_t i = 0; i < CT_RETAIN_SLOTS + 4; i++) {
        p[i] = ct__malloc(&f->a, CT_RETAIN_MIN_BYTES);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < CT_RETAIN_SLOTS + 4; i++) {
        ct__free(&f->a, p[i]);
        assert_true(f->r.count <= CT_RETAIN_SLOTS);
    }
    assert_int_equal(f->r.count, CT_RETAIN_SLOTS);
    assert_int_equal(f->r.bytes, (size_t)CT_RETAIN_SLOTS * CT_RETAIN_MIN_BYTES);

    /* Full of small blocks: a larger one takes the place of one of them. */
    void *big = ct__malloc(&f->a, 4u * CT_RETAIN_MIN_BYTES);
    assert_non_null(big);
    ct__free(&f->a, big);
    assert_int_equal(f->r.count, CT_RETAIN_SLOTS);
    assert_int_equal(f->r.bytes, (size_t)(CT_RETAIN_SLOTS - 1) * CT_RETAIN_MIN_BYTES +
                                     4u * CT_RETAIN_MIN_BYTES);
    assert_ptr_equal(ct__malloc(&f->a, 3u * CT_RETAIN_MIN_BYTES), big);
    ct__free(&f->a, big);

    /* Blocks past the byte bound are never kept, and the bound holds. */
    void *huge = ct__malloc(&f->a, CT_RETAIN_TOTAL_MAX + 1);
    assert_non_null(huge);
    size_t before = f->r.count;
    ct__free(&f->a, huge);
    assert_int_equal(f->r.count, before);
    void *half[3];
    for (size_t i = 0; i < 3; i++) {
        half[i] = ct__malloc(&f->a, CT_RETAIN_TOTAL_MAX / 2);
        assert_non_null(half[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        ct__free(&f->a, half[i]);
        assert_true(f->r.bytes <= CT_RETAIN_TOTAL_MAX);
    }
}

static void test_full_slots_keep_the_larger_blocks(void **state)
{
    fixture *f = *state;
    void *p[CT_RETAIN_SLOTS];
    for (size_t i = 0; i < CT_RETAIN_SLOTS; i++) {
        p[i] = ct__malloc(&f->a, 2u * CT_RETAIN_MIN_BYTES);
        assert_non_null(p[i]);
    }
    void *small = ct__malloc(&f->a, CT_RETAIN_MIN_BYTES);
    assert_non_null(small);
    for (size_t i = 0; i < CT_RETAIN_SLOTS; i++) {
        ct__free(&f->a, p[i]);
    }
    ct__free(&f->a, small); /* smaller than every kept block: freed */
    assert_int_equal(f->r.count, CT_RETAIN_SLOTS);
    assert_int_equal(f->r.bytes, (size_t)CT_RETAIN_SLOTS * 2u * CT_RETAIN_MIN_BYTES);
}

static void test_smallest_block_is_evicted(void **state)
{
    fixture *f = *state;
    /* 15 blocks of 64 KiB with one of 32 KiB in the middle of the slots. */
    void *p[CT_RETAIN_SLOTS];
    for (size_t i = 0; i < CT_RETAIN_SLOTS; i++) {
        p[i] = ct__malloc(&f->a, i == 7 ? CT_RETAIN_MIN_BYTES : 2u * CT_RETAIN_MIN_BYTES);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < CT_RETAIN_SLOTS; i++) {
        ct__free(&f->a, p[i]);
    }
    void *big = ct__malloc(&f->a, 8u * CT_RETAIN_MIN_BYTES);
    assert_non_null(big);
    ct__free(&f->a, big); /* takes the 32 KiB block's place, no other's */
    assert_int_equal(f->r.count, CT_RETAIN_SLOTS);
    assert_int_equal(f->r.bytes, (size_t)(CT_RETAIN_SLOTS - 1) * 2u * CT_RETAIN_MIN_BYTES +
                                     8u * CT_RETAIN_MIN_BYTES);
    /* 100 KiB fits the 256 KiB block only (the 64 KiB ones are too small). */
    assert_ptr_equal(ct__malloc(&f->a, 100u << 10), big);
    ct__free(&f->a, big);
}

static void test_smallest_fitting_block_is_taken(void **state)
{
    fixture *f = *state;
    void *mid = ct__malloc(&f->a, 2u * CT_RETAIN_MIN_BYTES);
    void *large = ct__malloc(&f->a, 4u * CT_RETAIN_MIN_BYTES);
    assert_non_null(mid);
    assert_non_null(large);
    ct__free(&f->a, large);
    ct__free(&f->a, mid);
    /* 40 KiB is at least a quarter of both: the 64 KiB block serves it. */
    void *q = ct__malloc(&f->a, 40u << 10);
    assert_ptr_equal(q, mid);
    assert_int_equal(f->r.count, 1);
    assert_int_equal(f->r.bytes, 4u * CT_RETAIN_MIN_BYTES);
    ct__free(&f->a, q);
}

static void test_large_pages_raise_the_floor(void **state)
{
    (void)state;
    ct__retain r;
    ct_allocator a;
    ct__retain_init(&r, &a, 65536);
    assert_int_equal(r.min_bytes, 256u << 10);
    /* A page buffer or a cache entry of 64 KiB pages is never kept. */
    void *p = ct__malloc(&a, 65536u + 48u);
    assert_non_null(p);
    ct__free(&a, p);
    void *q = ct__malloc(&a, 128u << 10);
    assert_non_null(q);
    ct__free(&a, q);
    assert_int_equal(r.count, 0);
    void *big = ct__malloc(&a, 256u << 10);
    assert_non_null(big);
    ct__free(&a, big);
    assert_int_equal(r.count, 1);
    ct__retain_destroy(&r);
}

static void test_failed_realloc_keeps_the_block(void **state)
{
    fixture *f = *state;
    uint8_t *p = ct__malloc(&f->a, 64u << 10);
    assert_non_null(p);
    memset(p, 0x5c, 64u << 10);
    assert_null(ct__realloc(&f->a, p, SIZE_MAX - 8));
    for (size_t i = 0; i < (64u << 10); i += 4096) {
        assert_int_equal(p[i], 0x5c);
    }
    ct__free(&f->a, p);
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>

/* AddressSanitizer still sees a kept block as freed, and the rounded tail
   of a live block as out of bounds. */
static void test_asan_sees_kept_and_tail_bytes(void **state)
{
    fixture *f = *state;
    size_t n = (40u << 10) + 8u; /* capacity 64 KiB */
    uint8_t *p = ct__malloc(&f->a, n);
    assert_non_null(p);
    assert_false(__asan_address_is_poisoned(p + n - 1));
    assert_true(__asan_address_is_poisoned(p + n + 8));
    ct__free(&f->a, p);
    assert_int_equal(f->r.count, 1);
    assert_true(__asan_address_is_poisoned(p));
    uint8_t *q = ct__malloc(&f->a, n);
    assert_ptr_equal(q, p);
    assert_false(__asan_address_is_poisoned(q));
    ct__free(&f->a, q);
}
#endif

static void test_realloc_keeps_contents(void **state)
{
    fixture *f = *state;
    th_rng rng;
    th_rng_seed(&rng, 77);
    size_t n = 100;
    uint8_t *p = ct__malloc(&f->a, n);
    assert_non_null(p);
    uint8_t *want = malloc(4u << 20);
    assert_non_null(want);
    th_fill(&rng, want, 4u << 20);
    memcpy(p, want, n);
    /* Across the small/large boundary and through several large sizes. */
    for (size_t next = 1000; next <= (4u << 20); next *= 3) {
        uint8_t *q = ct__realloc(&f->a, p, next);
        assert_non_null(q);
        assert_memory_equal(q, want, n);
        memcpy(q, want, next);
        p = q;
        n = next;
    }
    /* Shrinking keeps the block. */
    assert_ptr_equal(ct__realloc(&f->a, p, 10), p);
    /* A large block's rounded capacity absorbs a small growth in place. */
    uint8_t *r = ct__malloc(&f->a, 40u << 10);
    assert_non_null(r);
    assert_ptr_equal(ct__realloc(&f->a, r, 60u << 10), r);
    ct__free(&f->a, r);
    ct__free(&f->a, p);
    free(want);
}

enum { THREAD_ROUNDS = 2000 };

typedef struct worker {
    fixture *f;
    uint8_t tag;
    int bad;
} worker;

/* Fills each block with its tag and checks it before freeing: a block
   handed to both threads at once shows the other's tag. */
static void *churn(void *arg)
{
    worker *w = arg;
    for (unsigned i = 0; i < THREAD_ROUNDS; i++) {
        size_t n = CT_RETAIN_MIN_BYTES + (i % 7u) * 4096u;
        uint8_t *p = ct__malloc(&w->f->a, n);
        if (!p) {
            w->bad = 1;
            return NULL;
        }
        memset(p, w->tag, n);
        for (size_t k = 0; k < n; k += 1024) {
            w->bad |= p[k] != w->tag;
        }
        w->bad |= p[n - 1] != w->tag;
        ct__free(&w->f->a, p);
    }
    return NULL;
}

static void test_threads_never_share_a_block(void **state)
{
    fixture *f = *state;
    worker w[2] = {{f, 0x11, 0}, {f, 0x22, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_false(w[i].bad);
    }
}

/* ---- a db: retention only without an embedder allocator ---------------- */

typedef struct counting {
    size_t calls;
} counting;

static void *count_malloc(void *ctx, size_t n)
{
    ((counting *)ctx)->calls++;
    return malloc(n ? n : 1);
}

static void *count_realloc(void *ctx, void *p, size_t n)
{
    ((counting *)ctx)->calls++;
    return realloc(p, n ? n : 1);
}

static void count_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void fill(ct_db *db, uint64_t n)
{
    ct_txn *t;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    uint8_t val[100] = {0};
    for (uint64_t i = 0; i < n; i++) {
        uint8_t key[8];
        ct__put64(key, i * 0x9e3779b97f4a7c15ull);
        assert_int_equal(ct_put(t, NULL, key, sizeof(key), val, sizeof(val), 0), CT_OK);
    }
    assert_int_equal(ct_commit(t), CT_OK);
}

static void test_db_retains_only_without_embedder_allocator(void **state)
{
    (void)state;
    ct_pagestore *ps = th_ram_create(4096, 1);
    ct_db *db = NULL;
    assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
    assert_true(db->retains);
    fill(db, 20000); /* a commit of ~800 dirty pages: its arrays are large */
    fill(db, 20000);
    assert_true(db->retain.count >= 1);
    ct_close(db);
    ps->ops->close(ps);

    counting c = {0};
    ct_allocator mine = {count_malloc, count_realloc, count_free, &c};
    ct_options o;
    ct_options_init(&o);
    o.alloc = &mine;
    ps = th_ram_create(4096, 1);
    assert_int_equal(ct_open(ps, &o, &db), CT_OK);
    assert_false(db->retains);
    size_t before = c.calls;
    fill(db, 20000);
    assert_true(c.calls > before);
    ct_close(db);
    ps->ops->close(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_block_comes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_and_ill_fitting_blocks_are_not_reused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bounds_hold_and_a_larger_block_takes_a_slot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_slots_keep_the_larger_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smallest_block_is_evicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smallest_fitting_block_is_taken, setup, teardown),
        cmocka_unit_test(test_large_pages_raise_the_floor),
        cmocka_unit_test_setup_teardown(test_failed_realloc_keeps_the_block, setup, teardown),
#ifdef __SANITIZE_ADDRESS__
        cmocka_unit_test_setup_teardown(test_asan_sees_kept_and_tail_bytes, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_realloc_keeps_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_never_share_a_block, setup, teardown),
        cmocka_unit_test(test_db_retains_only_without_embedder_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
