/*
 * pmap.c - see pmap.h. Load factor kept at or below 1/2.
 */
#include "pmap.h"

#include "alloc.h"

#define PMAP_EMPTY UINT64_MAX

static size_t slot_of(uint64_t pgno, size_t cap)
{
    uint64_t h = pgno * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

ct__pent *ct__pmap_find(const ct__pmap *m, uint64_t pgno)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t i = slot_of(pgno, m->cap);
    for (;;) {
        ct__pent *e = &m->slots[i];
        if (e->pgno == pgno) {
            return e;
        }
        if (e->pgno == PMAP_EMPTY) {
            return NULL;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

static void place(ct__pent *slots, size_t cap, ct__pent e)
{
    size_t i = slot_of(e.pgno, cap);
    while (slots[i].pgno != PMAP_EMPTY) {
        i = (i + 1) & (cap - 1);
    }
    slots[i] = e;
}

static int rehash(ct__pmap *m, const ct_allocator *a, size_t ncap)
{
    ct__pent *ns = ct__malloc(a, ncap * sizeof(*ns));
    if (!ns) {
        return CT_NOMEM;
    }
    for (size_t i = 0; i < ncap; i++) {
        ns[i].pgno = PMAP_EMPTY;
        ns[i].buf = NULL;
        ns[i].npages = 0;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].pgno != PMAP_EMPTY) {
            place(ns, ncap, m->slots[i]);
        }
    }
    ct__free(a, m->slots);
    m->slots = ns;
    m->cap = ncap;
    return CT_OK;
}

int ct__pmap_insert(ct__pmap *m, const ct_allocator *a, uint64_t pgno, uint8_t *buf,
                    uint32_t npages)
{
    if ((m->count + 1) * 2 > m->cap) {
        int rc = rehash(m, a, m->cap ? m->cap * 2 : 64);
        if (rc != CT_OK) {
            return rc;
        }
    }
    ct__pent e = {pgno, buf, npages};
    place(m->slots, m->cap, e);
    m->count++;
    return CT_OK;
}

uint8_t *ct__pmap_remove(ct__pmap *m, uint64_t pgno)
{
    ct__pent *e = ct__pmap_find(m, pgno);
    if (!e) {
        return NULL;
    }
    uint8_t *buf = e->buf;
    size_t i = (size_t)(e - m->slots);
    size_t mask = m->cap - 1;
    /* Backward-shift deletion keeps probe chains intact without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].pgno == PMAP_EMPTY) {
            break;
        }
        size_t home = slot_of(m->slots[j].pgno, m->cap);
        int movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].pgno = PMAP_EMPTY;
    m->slots[i].buf = NULL;
    m->count--;
    return buf;
}

void ct__pmap_free(ct__pmap *m, const ct_allocator *a)
{
    ct__free(a, m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}
