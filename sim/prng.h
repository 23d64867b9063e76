/*
 * prng.h - the simulator's own seeded PRNG and hashes. Integer only.
 *
 * Owns: xoshiro256** streams seeded through splitmix64, unbiased bounded
 * draws, integer-ratio coin flips, and the 64-bit mixing/hash functions the
 * trace and the model digests use. Every random decision of the simulated
 * world comes from a sim_rng passed explicitly; nothing here reads a clock
 * or calls rand(). Must never: use floating point to decide anything.
 */
#ifndef SIM_PRNG_H
#define SIM_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

/* splitmix64 finalizer: a bijective 64-bit mix. */
uint64_t sim_mix64(uint64_t x);
/* Seed of an independent stream `tag` derived from `seed`. */
uint64_t sim_derive(uint64_t seed, uint64_t tag);

void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng *r);
/* Uniform in [0, n); n == 0 returns 0. Unbiased (rejection). */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive; lo <= hi). */
uint64_t sim_rng_range(sim_rng *r, uint64_t lo, uint64_t hi);
/* True with probability num/den (den 0: never; num >= den: always). */
int sim_rng_chance(sim_rng *r, uint32_t num, uint32_t den);
/* Index drawn with probability weight[i] / sum(weight); -1 if all zero. */
int sim_rng_pick(sim_rng *r, const uint32_t *weight, int count);

/* 64-bit hash of bytes (word at a time), chained through h. */
uint64_t sim_hash_bytes(const void *p, size_t n, uint64_t h);
/* Order-dependent combination of a running hash and a value. */
uint64_t sim_hash_u64(uint64_t h, uint64_t v);

/* Fills buf with the deterministic value stream of vseed (n bytes). */
void sim_fill_value(uint64_t vseed, uint8_t *buf, size_t n);

#endif
