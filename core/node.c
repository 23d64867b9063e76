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

static inline uint32_t be32(const uint8_t *s)
{
    return ((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) | ((uint32_t)s[2] << 8) | s[3];
}

/* A slot's key bytes as a big-endian number (compares as memcmp would). */
static inline uint32_t slot_prefix(const uint8_t *p, uint32_t i)
{
    return be32(p + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i + 2u);
}

static inline void put_slot_prefix(uint8_t *p, uint32_t i, uint32_t v)
{
    uint8_t *s = p + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i + 2u;
    s[0] = (uint8_t)(v >> 24);
    s[1] = (uint8_t)(v >> 16);
    s[2] = (uint8_t)(v >> 8);
    s[3] = (uint8_t)v;
}

/* The 4 bytes of key from byte skip on, zero-padded, as slot_prefix reads them. */
static inline uint32_t key_prefix(const uint8_t *key, size_t klen, uint32_t skip)
{
    if (klen >= (size_t)skip + CT_SLOT_PREFIX_BYTES) {
        return be32(key + skip);
    }
    /* The key ends inside the 4 bytes (short separators, or a skip close to
       the keys' length): the bytes it has, then zeros. */
    uint32_t v = 0;
    uint32_t shift = 32;
    for (size_t i = skip; i < klen; i++) {
        shift -= 8;
        v |= (uint32_t)key[i] << shift;
    }
    return v;
}

static inline uint32_t node_skip(const uint8_t *p) { return ct__ph_aux(p); }

/* Where key lies against the first `skip` bytes every keyed cell shares
   (read from one of them, shared): 0 when key starts with them, else <0
   (key sorts below every keyed cell) or >0 (above every one). */
static int against_shared(const uint8_t *key, size_t klen, const uint8_t *shared, uint32_t skip)
{
    int cmp = ct__key_cmp(key, klen < skip ? klen : skip, shared, skip);
    return klen < skip && cmp == 0 ? -1 : cmp;
}

uint32_t ct__leaf_search(const uint8_t *p, const uint8_t *key, size_t klen, int *found)
{
    uint32_t n = ct__ph_count(p);
    uint32_t skip = node_skip(p);
    uint32_t want = key_prefix(key, klen, skip);
    uint32_t lo = 0;
    uint32_t hi = n;
    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t have = slot_prefix(p, mid);
        int cmp = (have > want) - (have < want);
        if (cmp == 0) {
            const uint8_t *c = ct__node_cell(p, mid);
            cmp = ct__key_cmp(ct__leaf_key(c), ct__leaf_klen(c), key, klen);
        }
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
    if (skip == 0 || n == 0) {
        return lo;
    }
    int side = against_shared(key, klen, ct__leaf_key(ct__node_cell(p, lo < n ? lo : n - 1)), skip);
    return side < 0 ? 0 : side > 0 ? n : lo;
}

uint32_t ct__branch_search(const uint8_t *p, const uint8_t *key, size_t klen)
{
    /* Largest i >= 1 with sep[i] <= key, else 0. */
    uint32_t n = ct__ph_count(p);
    uint32_t skip = node_skip(p);
    uint32_t want = key_prefix(key, klen, skip);
    uint32_t lo = 1;
    uint32_t hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t have = slot_prefix(p, mid);
        int cmp = (have > want) - (have < want);
        if (cmp == 0) {
            const uint8_t *c = ct__node_cell(p, mid);
            cmp = ct__key_cmp(ct__branch_key(c), ct__branch_klen(c), key, klen);
        }
        if (cmp <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (skip == 0 || n < 2) {
        return lo - 1;
    }
    int side =
        against_shared(key, klen, ct__branch_key(ct__node_cell(p, lo < n ? lo : n - 1)), skip);
    return side < 0 ? 0 : side > 0 ? n - 1 : lo - 1;
}

/* Key of cell i (a branch's cell 0 has none: length 0). */
static const uint8_t *cell_key(const uint8_t *p, uint32_t i, uint32_t *klen)
{
    const uint8_t *c = ct__node_cell(p, i);
    if (ct__ph_type(p) == CT_PT_LEAF) {
        *klen = ct__leaf_klen(c);
        return ct__leaf_key(c);
    }
    *klen = ct__branch_klen(c);
    return ct__branch_key(c);
}

static uint32_t first_keyed(const uint8_t *p) { return ct__ph_type(p) == CT_PT_LEAF ? 0u : 1u; }

/* Bytes a and b share from the start, at most limit. */
static uint32_t common_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                             uint32_t limit)
{
    size_t n = alen < blen ? alen : blen;
    n = n < limit ? n : limit;
    size_t i = 0;
    for (; n - i >= 8u; i += 8u) {
        uint64_t x = be64(a + i) ^ be64(b + i);
        if (x != 0) {
            return (uint32_t)(i + (size_t)__builtin_clzll(x) / 8u);
        }
    }
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return (uint32_t)i;
}

/* a and b (both at least n bytes) start with the same n bytes: eight at a
   time, the last eight overlapping (an insert checks this every time). */
static int starts_alike(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    if (n < 8u) {
        return memcmp(a, b, n) == 0;
    }
    for (uint32_t i = 0; i + 8u < n; i += 8u) {
        if (be64(a + i) != be64(b + i)) {
            return 0;
        }
    }
    return be64(a + n - 8u) == be64(b + n - 8u);
}

/* Sets skip to the bytes the first and last keyed cells share (so, sorted,
   every keyed cell shares), or to `skip` when given (not UINT32_MAX), and
   rewrites every slot's prefix. */
static void reprefix(uint8_t *p, uint32_t skip)
{
    uint32_t n = ct__ph_count(p);
    uint32_t k0 = first_keyed(p);
    if (skip == UINT32_MAX) {
        skip = 0;
        if (n > k0) {
            uint32_t alen = 0;
            uint32_t blen = 0;
            const uint8_t *a = cell_key(p, k0, &alen);
            const uint8_t *b = cell_key(p, n - 1, &blen);
            skip = common_bytes(a, alen, b, blen, UINT32_MAX);
        }
    }
    ct__put32(p + CT_PH_AUX, skip);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = 0;
        const uint8_t *key = cell_key(p, i, &klen);
        put_slot_prefix(p, i, i < k0 ? 0u : key_prefix(key, klen, skip));
    }
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
    /* Callers place a value inline only when its cell fits the cell cap,
       which keeps its length below the mark (node.h's static assert). */
    CT_ASSERT(overflow || vlen < CT_CELL_VWORD_OVERFLOW);
    ct__put16(out, (uint16_t)klen);
    ct__put16(out + 2, (uint16_t)(overflow ? CT_CELL_VWORD_OVERFLOW : vlen));
    if (klen) {
        memcpy(out + CT_LEAF_CELL_FIXED, key, klen);
    }
    uint8_t *body = out + CT_LEAF_CELL_FIXED + klen;
    if (overflow) {
        ct__put64(body, ov_pgno);
        ct__put64(body + 8, ov_gen);
        ct__put32(body + 16, (uint32_t)vlen);
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

/* After cell idx was inserted: its slot's prefix, and a smaller skip when
   its key does not share the page's first skip bytes. Every other keyed
   key shares them with the neighbour compared, so it shares what the new
   key shares with that neighbour. */
static void keep_shared_prefix(uint8_t *p, uint32_t idx)
{
    uint32_t n = ct__ph_count(p);
    uint32_t k0 = first_keyed(p);
    if (idx < k0 || n - k0 < 2) {
        /* A branch's new cell 0 turns the old one (no key) into a keyed
           cell; a page's only keyed cell: compute afresh. */
        reprefix(p, UINT32_MAX);
        return;
    }
    uint32_t skip = node_skip(p);
    uint32_t klen = 0;
    uint32_t nlen = 0;
    const uint8_t *key = cell_key(p, idx, &klen);
    const uint8_t *next = cell_key(p, idx > k0 ? idx - 1 : idx + 1, &nlen);
    if (klen >= skip && starts_alike(key, next, skip)) {
        put_slot_prefix(p, idx, key_prefix(key, klen, skip));
    } else {
        reprefix(p, common_bytes(key, klen, next, nlen, skip));
    }
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
    if (idx < n) { /* appends (CT_APPEND, fillseq) move no slot */
        memmove(slots + CT_SLOT_BYTES * (idx + 1), slots + CT_SLOT_BYTES * idx,
                (size_t)CT_SLOT_BYTES * (n - idx));
    }
    ct__put16(slots + CT_SLOT_BYTES * idx, (uint16_t)upper);
    ct__ph_set_upper(p, upper);
    ct__ph_set_count(p, (uint16_t)(n + 1));
    keep_shared_prefix(p, idx);
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
    if (idx < first_keyed(p) && n > 1) {
        put_slot_prefix(p, idx, 0); /* a branch's new cell 0: no key, prefix 0 */
    }
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

/* Key of refs[i] as it will be stored (none for a branch's cell 0). */
static const uint8_t *ref_key(uint8_t type, const ct__cellref *refs, uint32_t i, uint32_t *klen)
{
    if (type == CT_PT_LEAF) {
        *klen = ct__leaf_klen(refs[i].raw);
        return ct__leaf_key(refs[i].raw);
    }
    *klen = i == 0 ? 0u : refs[i].klen;
    return refs[i].key;
}

void ct__node_build(uint8_t *out, uint32_t page_size, uint8_t type, uint64_t pgno,
                    uint64_t txnid, const ct__cellref *refs, uint32_t n)
{
    ct__page_init(out, type, pgno, txnid);
    uint32_t k0 = type == CT_PT_LEAF ? 0u : 1u;
    uint32_t skip = 0;
    if (n > k0) {
        uint32_t alen = 0;
        uint32_t blen = 0;
        const uint8_t *a = ref_key(type, refs, k0, &alen);
        const uint8_t *b = ref_key(type, refs, n - 1, &blen);
        skip = common_bytes(a, alen, b, blen, UINT32_MAX);
    }
    ct__put32(out + CT_PH_AUX, skip);
    uint32_t upper = page_size;
    for (uint32_t i = 0; i < n; i++) {
        const ct__cellref *r = &refs[i];
        uint32_t len = ct__ref_bytes(type, r, i == 0) - CT_SLOT_BYTES;
        CT_ASSERT(upper >= CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * n + len);
        upper -= len;
        uint8_t *c = out + upper;
        uint32_t prefix = 0;
        if (type == CT_PT_LEAF) {
            memcpy(c, r->raw, len);
            prefix = key_prefix(ct__leaf_key(r->raw), ct__leaf_klen(r->raw), skip);
        } else {
            uint32_t klen = (i == 0) ? 0u : r->klen;
            ct__put64(c, r->child);
            ct__put64(c + 8, r->gen);
            ct__put16(c + 16, (uint16_t)klen);
            if (klen) {
                memcpy(c + CT_BRANCH_CELL_FIXED, r->key, klen);
                prefix = key_prefix(r->key, klen, skip);
            }
        }
        ct__put16(out + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i, (uint16_t)upper);
        put_slot_prefix(out, i, prefix);
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
    int overflow = 0;
    if (leaf) {
        uint32_t w = ct__leaf_vword(c);
        overflow = w == CT_CELL_VWORD_OVERFLOW;
        if (w > CT_CELL_VWORD_OVERFLOW) {
            return -1;
        }
        body = overflow ? CT_OVERFLOW_REF_BYTES : w;
    }
    if (body > page_size || klen + body > page_size - fixed - off) {
        return -1;
    }
    /* The ref's vlen is read only once the ref lies inside the page. */
    if (overflow && ct__leaf_vlen(c) > CT_VALUE_MAX_BYTES) {
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

void ct__node_reprefix(uint8_t *p) { reprefix(p, UINT32_MAX); }

/* Slot i's prefix is its key's, and a keyed cell's key starts with the
   page's first skip bytes (those of its first keyed cell). Cell i's bounds
   are checked. */
static int check_slot_prefix(const uint8_t *p, uint32_t i, uint32_t skip)
{
    uint32_t k0 = first_keyed(p);
    if (i < k0) {
        return slot_prefix(p, i) == 0 ? 0 : -1;
    }
    uint32_t klen = 0;
    uint32_t flen = 0;
    const uint8_t *key = cell_key(p, i, &klen);
    const uint8_t *first = cell_key(p, k0, &flen);
    if (klen < skip || (i > k0 && common_bytes(key, klen, first, flen, skip) < skip)) {
        return -1;
    }
    return slot_prefix(p, i) == key_prefix(key, klen, skip) ? 0 : -1;
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
    uint32_t skip = node_skip(p);
    if (p[CT_PH_FLAGS] != 0 || skip > key_max) {
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
        if (check_slot_prefix(p, i, skip) != 0) {
            return CT__CORRUPT(pgno, "slot prefix");
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
