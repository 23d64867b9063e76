/*
 * pmap.h - page map: pgno -> page buffer (with its page count), an
 * open-addressing hash table with backward-shift deletion. Used for a
 * txn's dirty pages and its private read cache. Owns the table, not the
 * buffers (callers free them).
 */
#ifndef CT_CORE_PMAP_H
#define CT_CORE_PMAP_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree.h"

typedef struct ct__pent {
    uint64_t pgno; /* UINT64_MAX = empty slot */
    uint8_t *buf;
    uint32_t npages;
} ct__pent;

typedef struct ct__pmap {
    ct__pent *slots;
    size_t cap; /* power of two or 0 */
    size_t count;
} ct__pmap;

ct__pent *ct__pmap_find(const ct__pmap *m, uint64_t pgno);
/* Inserts (pgno must be absent). CT_OK or CT_NOMEM (map unchanged). */
int ct__pmap_insert(ct__pmap *m, const ct_allocator *a, uint64_t pgno, uint8_t *buf,
                    uint32_t npages);
/* Removes pgno if present; returns its buffer (or NULL). */
uint8_t *ct__pmap_remove(ct__pmap *m, uint64_t pgno);
void ct__pmap_free(ct__pmap *m, const ct_allocator *a);

#endif
