/*
 * util.h - small helpers of the simulator program: checked allocation
 * (the simulator's own allocation failure is fatal: it reports and exits;
 * the engine's allocations go through faults.c's allocator instead), a
 * chunked arena with stable pointers, hex formatting.
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *sim_xmalloc(size_t n);
void *sim_xcalloc(size_t count, size_t n);
void *sim_xrealloc(void *p, size_t n);

/* Hex of up to (cap-1)/2 bytes, "..." appended when cut. */
void sim_hex(const uint8_t *p, size_t n, char *out, size_t cap);

/* Bump allocator in chunks: pointers stay valid until sim_arena_free. */
typedef struct sim_arena_chunk {
    struct sim_arena_chunk *next;
    size_t used;
    size_t cap;
    uint8_t data[];
} sim_arena_chunk;

typedef struct sim_arena {
    sim_arena_chunk *head;
} sim_arena;

const uint8_t *sim_arena_copy(sim_arena *a, const void *p, size_t n);
void sim_arena_free(sim_arena *a);

#endif
