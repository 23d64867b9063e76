/*
 * alloc.h - every allocation of the engine goes through the db's
 * replaceable allocator (tests and the simulator inject failures there).
 */
#ifndef CT_CORE_ALLOC_H
#define CT_CORE_ALLOC_H

#include <stddef.h>

#include "cowtree.h"

extern const ct_allocator ct__libc_allocator;

void *ct__malloc(const ct_allocator *a, size_t size_bytes);
void *ct__calloc(const ct_allocator *a, size_t count, size_t size_bytes);
void *ct__realloc(const ct_allocator *a, void *p, size_t size_bytes);
void ct__free(const ct_allocator *a, void *p);
/* Grows *arr (element size elem_bytes) to hold at least need elements.
   Returns CT_OK or CT_NOMEM (the array is then unchanged). */
int ct__grow(const ct_allocator *a, void **arr, size_t *cap, size_t need, size_t elem_bytes);

#endif
