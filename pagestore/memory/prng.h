/*
 * prng.h - private to pagestore/memory/: the store's small seeded PRNG
 * (xoshiro256** seeded through splitmix64).
 *
 * Owns: nothing but the four state words in the caller's struct.
 * Invariants: integer-only and platform-independent: the same seed yields
 * the same sequence on every machine, so a fault schedule or a crash
 * outcome replays from its seed.
 * Must never: read a clock, call rand(), allocate, or keep global state.
 */
#ifndef CT_MEM_PRNG_H
#define CT_MEM_PRNG_H

#include <stdint.h>

typedef struct ct__mem_prng {
    uint64_t s[4];
} ct__mem_prng;

/* Seeds the generator; every seed (0 included) is valid. */
void ct__mem_prng_seed(ct__mem_prng *p, uint64_t seed);
/* Next 64 random bits. */
uint64_t ct__mem_prng_next(ct__mem_prng *p);
/* Uniform value in [0, n); n must be > 0 (n == 0 returns 0). */
uint64_t ct__mem_prng_below(ct__mem_prng *p, uint64_t n);

#endif
