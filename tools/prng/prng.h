/*
 * prng.h - the seeded PRNG and hashes of the test programs (cowtree-sim,
 * cowtree-proptest). Integer only.
 *
 * Owns: xoshiro256** streams seeded through splitmix64, unbiased bounded
 * draws, integer-ratio coin flips, and the 64-bit mixing/hash functions the
 * simulator's trace and model digests use. Every random decision of a
 * program comes from a prng passed explicitly; nothing here reads a clock
 * or calls rand(). Must never: use floating point to decide anything, or
 * change its output: the simulator's trace hashes, its replay lines and the
 * property tests' case seeds all pin the exact stream (sim --self-test
 * checks known answers).
 *
 * Not part of the library: a static helper of the programs (target
 * cowtree_prng). The memory store keeps its own generator
 * (pagestore/memory/prng.c): the library cannot depend on tools/, and its
 * bounded draw rejects differently, so the two streams are not the same.
 */
#ifndef COWTREE_TOOLS_PRNG_H
#define COWTREE_TOOLS_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct prng {
    uint64_t s[4];
} prng;

/* splitmix64 finalizer: a bijective 64-bit mix. */
uint64_t prng_mix64(uint64_t x);
/* Seed of an independent stream `tag` derived from `seed`. */
uint64_t prng_derive(uint64_t seed, uint64_t tag);

void prng_seed(prng *r, uint64_t seed);
uint64_t prng_next(prng *r);
/* Uniform in [0, n); n == 0 returns 0. Unbiased (rejection). */
uint64_t prng_below(prng *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive; lo <= hi). */
uint64_t prng_range(prng *r, uint64_t lo, uint64_t hi);
/* True with probability num/den (den 0: never; num >= den: always). */
int prng_chance(prng *r, uint32_t num, uint32_t den);
/* Index drawn with probability weight[i] / sum(weight); -1 if all zero. */
int prng_pick(prng *r, const uint32_t *weight, int count);

/* 64-bit hash of bytes (word at a time), chained through h. */
uint64_t prng_hash_bytes(const void *p, size_t n, uint64_t h);
/* Order-dependent combination of a running hash and a value. */
uint64_t prng_hash_u64(uint64_t h, uint64_t v);

/* Fills buf with the deterministic value stream of vseed (n bytes). */
void prng_fill_value(uint64_t vseed, uint8_t *buf, size_t n);

#endif
