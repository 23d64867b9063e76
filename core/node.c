/*
 * node.c - see node.h. Every offset read from a page has been bounded by
 * ct__node_validate before these helpers walk it (pages are validated when
 * they are read from the store; dirty pages are built by us).
 */
#include "node.h"

#include <string.h>

#include "debug.h"

/* Bytes p[0..7] as a big-endian number: comparing two of these compares
   the bytes as memcmp would (compilers turn this into a load and a bswap). */
static inline uint64_t be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
           ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

/* Keys up to this many common bytes compare inline, eight at a time; longer
   ones go to memcmp (vectorised). The searches are the hot path of every
   get, and most keys are short: a libc call per probe cost ~15% of a
   random read. */
#define KEY_CMP_INLINE_BYTES 32u

int ct__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    if (n > KEY_CMP_INLINE_BYTES) {
        int c = memcmp(a, b, n);
        if (c != 0) {
            return c;
        }
    } else {
        size_t i = 0;
        for (; n - i >= 8u; i += 8u) {
            uint64_t x = be64(a + i);
            uint64_t y = be64(b + i);
            if (x != y) {
                return x < y ? -1 : 1;
            }
        }
        for (; i < n; i++) {
            if (a[i] != b[i]) {
                return a[i] < b[i] ? -1 : 1;
            }
        }
    }
    return (alen > blen) - (alen < blen);
}

uint32_t ct__leaf_cell_bytes(const uint8_t *c)
{
    uint32_t klen = ct__leaf_klen(c);
    uint32_t body = (ct__leaf_flags(c) & CT_CELL_OVERFLOW) ? CT_OVERFLOW_REF_BYTES
                                                           : ct__leaf_vlen(c);
    return CT_LEAF_CELL_FIXED + klen + body;
}

static uint32_t branch_cell_bytes(const uint8_t *c)
{
    return CT_BRANCH_CELL_FIXED + ct__branch_klen(c);
}

/* Starts loading the cells the next probe of a search over [lo, hi) may
   compare, before this probe (at mid) compares. A cell sits anywhere in
   its page, so each probe is a cache miss that waits on the one before;
   fetching both candidates overlaps them (readrandom at 1M keys: 5-16%
   more gets a second in six pairs, docs/bench.md). With hi - lo > 2 both
   indices lie in [lo, hi), so both slots are the page's own. */
static inline void prefetch_next_probes(const uint8_t *p, uint32_t lo, uint32_t mid, uint32_t hi)
{
    if (hi - lo > 2) {
        __builtin_prefetch(ct__node_cell(p, lo + (mid - lo) / 2));
        __builtin_prefetch(ct__node_cell(p, mid + 1 + (hi - mid - 1) / 2));
    }
}

uint32_t ct__leaf_search(const uint8_t *p, const uint8_t *key, size_t klen, int *found)
{
    uint32_t lo = 0;
    uint32_t hi = ct__ph_count(p);
    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *c = ct__node_cell(p, mid);
        prefetch_next_probes(p, lo, mid, hi);
        int cmp = ct__key_cmp(ct__leaf_key(c), ct__leaf_klen(c), key, klen);
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            if (cmp == 0) {
                *found = 1;
                return mid;
            }
            hi = mid;
        }
    }
    return lo;
}

uint32_t ct__branch_search(const uint8_t *p, const uint8_t *key, size_t klen)
{
    /* Largest i >= 1 with sep[i] <= key, else 0. */
    uint32_t lo = 1;
    uint32_t hi = ct__ph_count(p);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *c = ct__node_cell(p, mid);
        prefetch_next_probes(p, lo, mid, hi);
        if (ct__key_cmp(ct__branch_key(c), ct__branch_klen(c), key, klen) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo - 1;
}

/* Slot and cell bytes of p's cells, summed until the total reaches limit
   (the exact total when it stays below). */
static uint32_t used_bytes_upto(const uint8_t *p, uint32_t limit)
{
    uint32_t n = ct__ph_count(p);
    uint32_t used = n * CT_SLOT_BYTES;
    int leaf = ct__ph_type(p) == CT_PT_LEAF;
    for (uint32_t i = 0; i < n && used < limit; i++) {
        const uint8_t *c = ct__node_cell(p, i);
        used += leaf ? ct__leaf_cell_bytes(c) : branch_cell_bytes(c);
    }
    return used;
}

uint32_t ct__node_used_bytes(const uint8_t *p)
{
    return used_bytes_upto(p, UINT32_MAX);
}

int ct__node_used_at_least(const uint8_t *p, uint32_t bytes)
{
    return used_bytes_upto(p, bytes) >= bytes;
}

uint32_t ct__leaf_cell_size(size_t klen, size_t inline_vlen, int overflow)
{
    return (uint32_t)(CT_LEAF_CELL_FIXED + klen + (overflow ? CT_OVERFLOW_REF_BYTES : inline_vlen));
}

void ct__leaf_cell_encode(uint8_t *out, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, int overflow, uint64_t ov_pgno, uint64_t ov_gen)
{
    ct__put16(out, (uint16_t)klen);
    out[2] = overflow ? (uint8_t)CT_CELL_OVERFLOW : 0u;
    ct__put32(out + 3, (uint32_t)vlen);
    if (klen) {
        memcpy(out + CT_LEAF_CELL_FIXED, key, klen);
    }
    uint8_t *body = out + CT_LEAF_CELL_FIXED + klen;
    if (overflow) {
        ct__put64(body, ov_pgno);
        ct__put64(body + 8, ov_gen);
    } else if (vlen) {
        memcpy(body, val, vlen);
    }
}

static void compact(uint8_t *p, uint32_t page_size, uint8_t *scratch)
{
    uint32_t n = ct__ph_count(p);
    int leaf = ct__ph_type(p) == CT_PT_LEAF;
    uint32_t upper = page_size;
    memcpy(scratch, p, page_size);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(scratch, i);
        uint32_t len = leaf ? ct__leaf_cell_bytes(c) : branch_cell_bytes(c);
        upper -= len;
        memcpy(p + upper, c, len);
        ct__put16(p + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i, (uint16_t)upper);
    }
    ct__ph_set_upper(p, upper);
}

int ct__node_insert(uint8_t *p, uint32_t page_size, uint32_t idx, const uint8_t *cell,
                    uint32_t len, uint8_t *scratch)
{
    uint32_t n = ct__ph_count(p);
    uint32_t slots_end = CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * (n + 1);
    uint32_t upper = ct__ph_upper(p);
    if (upper < slots_end || upper - slots_end < len) {
        uint32_t used = ct__node_used_bytes(p) + CT_SLOT_BYTES + len;
        if (used > page_size - CT_PAGE_HDR_BYTES) {
            return -1;
        }
        compact(p, page_size, scratch);
        upper = ct__ph_upper(p);
    }
    upper -= len;
    memcpy(p + upper, cell, len);
    uint8_t *slots = p + CT_PAGE_HDR_BYTES;
    memmove(slots + CT_SLOT_BYTES * (idx + 1), slots + CT_SLOT_BYTES * idx,
            (size_t)CT_SLOT_BYTES * (n - idx));
    ct__put16(slots + CT_SLOT_BYTES * idx, (uint16_t)upper);
    ct__ph_set_upper(p, upper);
    ct__ph_set_count(p, (uint16_t)(n + 1));
    return 0;
}

void ct__node_delete(uint8_t *p, uint32_t idx)
{
    uint32_t n = ct__ph_count(p);
    CT_ASSERT(idx < n);
    uint8_t *slots = p + CT_PAGE_HDR_BYTES;
    memmove(slots + CT_SLOT_BYTES * idx, slots + CT_SLOT_BYTES * (idx + 1),
            (size_t)CT_SLOT_BYTES * (n - idx - 1));
    ct__ph_set_count(p, (uint16_t)(n - 1));
}

void ct__node_refs(const uint8_t *p, ct__cellref *refs)
{
    uint32_t n = ct__ph_count(p);
    int leaf = ct__ph_type(p) == CT_PT_LEAF;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(p, i);
        memset(&refs[i], 0, sizeof(refs[i]));
        if (leaf) {
            refs[i].raw = c;
            refs[i].len = ct__leaf_cell_bytes(c);
        } else {
            refs[i].child = ct__branch_child(c);
            refs[i].gen = ct__branch_gen(c);
            refs[i].key = ct__branch_key(c);
            refs[i].klen = ct__branch_klen(c);
        }
    }
}

uint32_t ct__ref_bytes(uint8_t type, const ct__cellref *r, int first)
{
    if (type == CT_PT_LEAF) {
        return r->len + CT_SLOT_BYTES;
    }
    return CT_BRANCH_CELL_FIXED + (first ? 0u : r->klen) + CT_SLOT_BYTES;
}

void ct__node_build(uint8_t *out, uint32_t page_size, uint8_t type, uint64_t pgno,
                    uint64_t txnid, const ct__cellref *refs, uint32_t n)
{
    ct__page_init(out, type, pgno, txnid);
    uint32_t upper = page_size;
    for (uint32_t i = 0; i < n; i++) {
        const ct__cellref *r = &refs[i];
        uint32_t len = ct__ref_bytes(type, r, i == 0) - CT_SLOT_BYTES;
        CT_ASSERT(upper >= CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * n + len);
        upper -= len;
        uint8_t *c = out + upper;
        if (type == CT_PT_LEAF) {
            memcpy(c, r->raw, len);
        } else {
            uint32_t klen = (i == 0) ? 0u : r->klen;
            ct__put64(c, r->child);
            ct__put64(c + 8, r->gen);
            ct__put16(c + 16, (uint16_t)klen);
            if (klen) {
                memcpy(c + CT_BRANCH_CELL_FIXED, r->key, klen);
            }
        }
        ct__put16(out + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i, (uint16_t)upper);
    }
    ct__ph_set_count(out, (uint16_t)n);
    ct__ph_set_upper(out, upper);
}

static int validate_cell(const uint8_t *p, uint32_t page_size, uint32_t off, int leaf,
                         size_t key_max, uint32_t *len)
{
    uint32_t fixed = leaf ? CT_LEAF_CELL_FIXED : CT_BRANCH_CELL_FIXED;
    if (off > page_size - fixed) {
        return -1;
    }
    const uint8_t *c = p + off;
    uint32_t klen = leaf ? ct__leaf_klen(c) : ct__branch_klen(c);
    if (klen > key_max) {
        return -1;
    }
    uint32_t body = 0;
    if (leaf) {
        uint8_t flags = ct__leaf_flags(c);
        if (flags & ~CT_CELL_OVERFLOW) {
            return -1;
        }
        body = (flags & CT_CELL_OVERFLOW) ? CT_OVERFLOW_REF_BYTES : ct__leaf_vlen(c);
        if (ct__leaf_vlen(c) > CT_VALUE_MAX_BYTES) {
            return -1;
        }
    }
    if (body > page_size || klen + body > page_size - fixed - off) {
        return -1;
    }
    *len = fixed + klen + body;
    return 0;
}

/* Marks bytes [a, b) in the page's byte bitmap; 1 when one was marked. */
static int mark_bytes(uint64_t *bits, uint32_t a, uint32_t b)
{
    for (uint32_t w = a / 64u; w <= (b - 1u) / 64u; w++) {
        uint32_t lo = w * 64u > a ? 0u : a - w * 64u;
        uint32_t hi = (w + 1u) * 64u < b ? 64u : b - w * 64u;
        uint64_t mask = (hi - lo == 64u ? ~0ull : ((1ull << (hi - lo)) - 1u)) << lo;
        if (bits[w] & mask) {
            return 1;
        }
        bits[w] |= mask;
    }
    return 0;
}

int ct__node_validate(const uint8_t *p, uint32_t page_size, size_t key_max)
{
    /* One bit per byte of the page: cells must not overlap (an insert into
       a page whose cells overlap would build a page that is not valid). */
    uint64_t bits[CT_PAGE_SIZE_MAX / 64u];
    memset(bits, 0, page_size / 8u);
    uint64_t pgno = ct__ph_pgno(p);
    int leaf = ct__ph_type(p) == CT_PT_LEAF;
    uint32_t n = ct__ph_count(p);
    uint32_t upper = ct__ph_upper(p);
    if (p[CT_PH_FLAGS] != 0 || ct__ph_aux(p) != 0) {
        return CT__CORRUPT(pgno, "node header flags");
    }
    if (n > (page_size - CT_PAGE_HDR_BYTES) / CT_SLOT_BYTES ||
        upper < CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * n || upper > page_size) {
        return CT__CORRUPT(pgno, "node bounds");
    }
    if (!leaf && n == 0) {
        return CT__CORRUPT(pgno, "empty branch");
    }
    uint32_t used = CT_SLOT_BYTES * n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = ct__get16(p + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i);
        uint32_t len = 0;
        if (off < upper || validate_cell(p, page_size, off, leaf, key_max, &len) != 0) {
            return CT__CORRUPT(pgno, "cell bounds");
        }
        if (len > ct__cell_max_bytes(page_size)) {
            return CT__CORRUPT(pgno, "cell larger than a quarter page");
        }
        used += len;
        /* Overlapping cells would make compaction overrun the page. */
        if (used > page_size - CT_PAGE_HDR_BYTES || mark_bytes(bits, off, off + len)) {
            return CT__CORRUPT(pgno, "cells overlap");
        }
        if (!leaf && i == 0 && ct__branch_klen(p + off) != 0) {
            return CT__CORRUPT(pgno, "branch cell 0 has a key");
        }
        if (i > (leaf ? 0u : 1u)) {
            const uint8_t *a = ct__node_cell(p, i - 1);
            const uint8_t *b = p + off;
            int cmp = leaf ? ct__key_cmp(ct__leaf_key(a), ct__leaf_klen(a), ct__leaf_key(b),
                                         ct__leaf_klen(b))
                           : ct__key_cmp(ct__branch_key(a), ct__branch_klen(a),
                                         ct__branch_key(b), ct__branch_klen(b));
            if (cmp >= 0) {
                return CT__CORRUPT(pgno, "keys out of order");
            }
        }
    }
    return CT_OK;
}
