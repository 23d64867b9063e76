/*
 * alloc.h - every allocation of the engine goes through the db's
 * replaceable allocator (tests and the simulator inject failures there).
 */
#ifndef CT_CORE_ALLOC_H
#define CT_CORE_ALLOC_H

#include <pthread.h>
#include <stddef.h>

#include "cowtree.h"
#include "limits.h"

extern const ct_allocator ct__libc_allocator;

void *ct__malloc(const ct_allocator *a, size_t size_bytes);
void *ct__calloc(const ct_allocator *a, size_t count, size_t size_bytes);
void *ct__realloc(const ct_allocator *a, void *p, size_t size_bytes);
void ct__free(const ct_allocator *a, void *p);
/* Grows *arr (element size elem_bytes) to hold at least need elements.
   Returns CT_OK or CT_NOMEM (the array is then unchanged). */
int ct__grow(const ct_allocator *a, void **arr, size_t *cap, size_t need, size_t elem_bytes);

/* The allocator of a db opened without one (retain.c): libc's, keeping
   large freed blocks for the next commits. */
typedef struct ct__retain {
    pthread_mutex_t mu;
    size_t min_bytes; /* smallest block kept: CT_RETAIN_MIN_BYTES or 4 pages */
    size_t count;
    size_t bytes;
    uint8_t *block[CT_RETAIN_SLOTS]; /* kept blocks, header included */
    size_t cap[CT_RETAIN_SLOTS];
} ct__retain;

/* Points *a at r's allocator for a db of page_size pages; r must stay in
   place while *a is used. */
void ct__retain_init(ct__retain *r, ct_allocator *a, uint32_t page_size);
/* Frees the kept blocks; no block of r may be in use any more. */
void ct__retain_destroy(ct__retain *r);

#endif
