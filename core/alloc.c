/*
 * alloc.c - the libc allocator and the helpers every module allocates
 * through. Sizes are checked against overflow before multiplying.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n ? n : 1);
}

static void *libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n ? n : 1);
}

static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const ct_allocator ct__libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};

void *ct__malloc(const ct_allocator *a, size_t size_bytes)
{
    return a->malloc(a->ctx, size_bytes);
}

void *ct__calloc(const ct_allocator *a, size_t count, size_t size_bytes)
{
    if (size_bytes != 0 && count > SIZE_MAX / size_bytes) {
        return NULL;
    }
    void *p = a->malloc(a->ctx, count * size_bytes);
    if (p) {
        memset(p, 0, count * size_bytes);
    }
    return p;
}

void *ct__realloc(const ct_allocator *a, void *p, size_t size_bytes)
{
    return a->realloc(a->ctx, p, size_bytes);
}

void ct__free(const ct_allocator *a, void *p)
{
    if (p) {
        a->free(a->ctx, p);
    }
}

int ct__grow(const ct_allocator *a, void **arr, size_t *cap, size_t need, size_t elem_bytes)
{
    if (need <= *cap) {
        return CT_OK;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            return CT_NOMEM;
        }
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem_bytes) {
        return CT_NOMEM;
    }
    void *p = ct__realloc(a, *arr, ncap * elem_bytes);
    if (!p) {
        return CT_NOMEM;
    }
    *arr = p;
    *cap = ncap;
    return CT_OK;
}
