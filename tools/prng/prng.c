/*
 * prng.c - see prng.h: xoshiro256** seeded by splitmix64, bounded draws,
 * hashes.
 * Pure: no I/O, no allocation, no clock, no floating point.
 */
#include "prng.h"

#include <string.h>

uint64_t prng_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t prng_derive(uint64_t seed, uint64_t tag)
{
    return prng_mix64(prng_mix64(seed) ^ prng_mix64(tag + 0x632be59bd9b4e019ull));
}

void prng_seed(prng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ull;
        r->s[i] = prng_mix64(x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1; /* the all-zero state is a fixed point */
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t prng_next(prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t prng_below(prng *r, uint64_t n)
{
    if (n == 0) {
        return 0;
    }
    /* Reject the top partial block so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    for (;;) {
        uint64_t x = prng_next(r);
        if (x <= limit) {
            return x % n;
        }
    }
}

uint64_t prng_range(prng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    if (lo == 0 && hi == UINT64_MAX) {
        return prng_next(r);
    }
    return lo + prng_below(r, hi - lo + 1);
}

int prng_chance(prng *r, uint32_t num, uint32_t den)
{
    if (den == 0 || num == 0) {
        return 0;
    }
    if (num >= den) {
        return 1;
    }
    return prng_below(r, den) < num;
}

int prng_pick(prng *r, const uint32_t *weight, int count)
{
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        total += weight[i];
    }
    if (total == 0) {
        return -1;
    }
    uint64_t x = prng_below(r, total);
    for (int i = 0; i < count; i++) {
        if (x < weight[i]) {
            return i;
        }
        x -= weight[i];
    }
    return count - 1;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

uint64_t prng_hash_u64(uint64_t h, uint64_t v)
{
    return prng_mix64(h ^ prng_mix64(v + 0x2545f4914f6cdd1dull));
}

uint64_t prng_hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    uint64_t acc = h ^ (0xcbf29ce484222325ull + (uint64_t)n);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc = (acc ^ load64(b + i)) * 0x9e3779b97f4a7c15ull;
        acc ^= acc >> 29;
    }
    uint64_t tail = 0;
    for (size_t j = n; j > i; j--) {
        tail = (tail << 8) | b[j - 1];
    }
    return prng_mix64(acc ^ tail ^ ((uint64_t)(n - i) << 56));
}

void prng_fill_value(uint64_t vseed, uint8_t *buf, size_t n)
{
    uint64_t x = vseed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x += 0x9e3779b97f4a7c15ull;
        uint64_t v = prng_mix64(x);
        for (int k = 0; k < 8; k++) {
            buf[i + (size_t)k] = (uint8_t)(v >> (8 * k));
        }
    }
    if (i < n) {
        x += 0x9e3779b97f4a7c15ull;
        uint64_t v = prng_mix64(x);
        for (size_t k = 0; i + k < n; k++) {
            buf[i + k] = (uint8_t)(v >> (8 * k));
        }
    }
}
