/*
 * prng.c - the memory store's seeded PRNG: xoshiro256** (Blackman and
 * Vigna), its state expanded from a 64-bit seed with splitmix64.
 *
 * Owns: the generator arithmetic only.
 * Invariants: pure integer arithmetic on uint64_t (wrapping by design,
 * modulo 2^64, the only place in the store where it is), identical output
 * on every platform; below() is unbiased (rejection sampling, bounded).
 * Must never: read a clock, allocate, or touch any state but its argument.
 */
#include "prng.h"

/* Rejection sampling in below() gives up after this many draws and takes
   the biased remainder: each draw is rejected with probability < 1/2, so
   64 rejections in a row happen with probability < 2^-64. */
#define PRNG_REJECT_MAX 64u

static uint64_t rotl(uint64_t x, unsigned k)
{
    return (x << k) | (x >> (64u - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void ct__mem_prng_seed(ct__mem_prng *p, uint64_t seed)
{
    uint64_t x = seed;
    for (unsigned i = 0; i < 4u; i++) {
        p->s[i] = splitmix64(&x);
    }
}

uint64_t ct__mem_prng_next(ct__mem_prng *p)
{
    uint64_t *s = p->s;
    uint64_t result = rotl(s[1] * 5u, 7) * 9u;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t ct__mem_prng_below(ct__mem_prng *p, uint64_t n)
{
    if (n == 0) {
        return 0;
    }
    /* 2^64 mod n: values below it would make the low residues likelier. */
    uint64_t threshold = (0u - n) % n;
    uint64_t r = ct__mem_prng_next(p);
    for (unsigned i = 0; i < PRNG_REJECT_MAX && r < threshold; i++) {
        r = ct__mem_prng_next(p);
    }
    return r % n;
}
