/*
 * sort.c - ct__sort_by_u64 (sort.h).
 */
#include "sort.h"

#include <stdint.h>
#include <string.h>

#define RADIX_BITS 11u
#define RADIX_BUCKETS (1u << RADIX_BITS)
#define INSERTION_MAX 48u

static uint64_t key_at(const uint8_t *rec, size_t key_offset)
{
    uint64_t k;
    memcpy(&k, rec + key_offset, sizeof(k));
    return k;
}

static void insertion(uint8_t *base, size_t n, size_t size, size_t key_offset, uint8_t *hold)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t k = key_at(base + i * size, key_offset);
        size_t j = i;
        while (j > 0 && key_at(base + (j - 1) * size, key_offset) > k) {
            j--;
        }
        if (j != i) {
            memcpy(hold, base + i * size, size);
            memmove(base + (j + 1) * size, base + j * size, (i - j) * size);
            memcpy(base + j * size, hold, size);
        }
    }
}

void ct__sort_by_u64(void *base, size_t n, size_t size, size_t key_offset, void *tmp)
{
    uint8_t *from = base;
    uint8_t *to = tmp;
    if (n < INSERTION_MAX) {
        insertion(from, n, size, key_offset, to); /* tmp holds one record */
        return;
    }
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        bits |= key_at(from + i * size, key_offset);
    }
    size_t at[RADIX_BUCKETS];
    for (unsigned shift = 0; shift < 64 && (bits >> shift) != 0; shift += RADIX_BITS) {
        memset(at, 0, sizeof(at));
        for (size_t i = 0; i < n; i++) {
            at[(key_at(from + i * size, key_offset) >> shift) & (RADIX_BUCKETS - 1)]++;
        }
        for (size_t b = 0, start = 0; b < RADIX_BUCKETS; b++) {
            size_t c = at[b];
            at[b] = start;
            start += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t b = (key_at(from + i * size, key_offset) >> shift) & (RADIX_BUCKETS - 1);
            memcpy(to + at[b]++ * size, from + i * size, size);
        }
        uint8_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != (uint8_t *)base) {
        memcpy(base, from, n * size);
    }
}
