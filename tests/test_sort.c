/*
 * test_sort.c - ct__sort_by_u64 (core/sort.h): against qsort on random
 * records of several sizes and key widths, across the insertion/radix
 * boundary, with duplicate keys to check stability.
 */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include "sort.h"

typedef struct rec48 {
    uint32_t pad;
    uint64_t seq; /* position before sorting: checks stability */
    uint64_t key;
    uint8_t rest[24];
} rec48;

static int cmp_key_then_seq(const void *a, const void *b)
{
    const rec48 *x = a;
    const rec48 *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void check_case(th_rng *r, size_t n, unsigned key_bits, int dups)
{
    rec48 *v = calloc(n + 1, sizeof(*v));
    rec48 *want = calloc(n + 1, sizeof(*v));
    rec48 *tmp = calloc(n + 1, sizeof(*v));
    assert_non_null(v);
    assert_non_null(want);
    assert_non_null(tmp);
    uint64_t mask = key_bits >= 64 ? UINT64_MAX : (((uint64_t)1 << key_bits) - 1);
    for (size_t i = 0; i < n; i++) {
        v[i].seq = i;
        v[i].key = th_next(r) & mask;
        if (dups && i > 0 && th_chance(r, 1, 3)) {
            v[i].key = v[th_below(r, i)].key;
        }
        th_fill(r, v[i].rest, sizeof(v[i].rest));
    }
    memcpy(want, v, n * sizeof(*v));
    qsort(want, n, sizeof(*want), cmp_key_then_seq);
    ct__sort_by_u64(v, n, sizeof(*v), offsetof(rec48, key), tmp);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&v[i], &want[i], sizeof(*v)) != 0) {
            print_error("n %zu, %u key bits: record %zu differs (key %llu seq %llu, want key "
                        "%llu seq %llu)\n",
                        n, key_bits, i, (unsigned long long)v[i].key,
                        (unsigned long long)v[i].seq, (unsigned long long)want[i].key,
                        (unsigned long long)want[i].seq);
        }
        assert_memory_equal(&v[i], &want[i], sizeof(*v));
    }
    free(v);
    free(want);
    free(tmp);
}

static void test_matches_qsort(void **state)
{
    (void)state;
    th_rng r;
    th_rng_seed(&r, th_seed(77));
    const size_t sizes[] = {0, 1, 2, 3, 47, 48, 49, 200, 1000, 5000};
    const unsigned bits[] = {1, 8, 11, 12, 22, 23, 40, 63, 64};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
            check_case(&r, sizes[s], bits[b], 0);
            check_case(&r, sizes[s], bits[b], 1);
        }
    }
}

/* Records of another size and key offset: 16-byte {key, value}. */
static void test_small_records(void **state)
{
    (void)state;
    th_rng r;
    th_rng_seed(&r, th_seed(78));
    enum { N = 3000 };
    uint64_t (*v)[2] = calloc(N, sizeof(*v));
    uint64_t (*tmp)[2] = calloc(N, sizeof(*v));
    assert_non_null(v);
    assert_non_null(tmp);
    for (size_t i = 0; i < N; i++) {
        v[i][1] = th_below(&r, 1000000);
        v[i][0] = v[i][1] * 3 + 1; /* payload tied to the key */
    }
    ct__sort_by_u64(v, N, sizeof(*v), sizeof(uint64_t), tmp);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(v[i][0], v[i][1] * 3 + 1);
        if (i > 0) {
            assert_true(v[i - 1][1] <= v[i][1]);
        }
    }
    free(v);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_qsort),
        cmocka_unit_test(test_small_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
