/*
 * node.h - cells inside one leaf or branch page: search, insert, delete,
 * build, validate. Pure: no I/O, no allocation.
 *
 * Slotted layout (docs/format.md): after the header, `count` slots in key
 * order; cells live in [upper, page_size). A slot is the cell's u16 offset,
 * then the 4 bytes of its key from byte `skip` (header aux) on, zero-padded
 * past the key's end. Every keyed cell (a leaf's all, a branch's from 1 on)
 * has a key of at least `skip` bytes and the same first `skip` bytes.
 *   Why: a search compares its key with the slots' 4 bytes and reads a cell
 *   only when they are equal, or once at the end to see that the key shares
 *   the page's first `skip` bytes. The slots sit next to the header, so a
 *   random get takes about two cache misses a page instead of one a probe.
 *   Padding with zero bytes keeps the order: prefixes that differ order
 *   their keys as the keys themselves (a shorter key pads lower).
 *   leaf cell:   klen u16, vword u16, key, then either the value inline
 *                (vword is its length, below 0x8000) or, when vword is
 *                exactly CT_CELL_VWORD_OVERFLOW, an overflow ref: pgno u64,
 *                gen u64 of a run holding vlen bytes, vlen u32.
 *                Why: most cells hold short values, and 4 bytes of header
 *                fit 32 cells of 16 + 100 bytes in a 4096-byte page where
 *                7 fitted 31; a long value pays 4 bytes in its ref instead.
 *   branch cell: child u64, gen u64, klen u16, key. Cell 0's key is empty
 *                and means "below every separator".
 * Keys compare bytewise unsigned, a prefix before its extensions.
 */
#ifndef CT_CORE_NODE_H
#define CT_CORE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree/pagestore.h"
#include "page.h"

#define CT_CELL_OVERFLOW 0x1u /* ct__leaf_flags: the value is in a run */
/* The vword of a leaf cell whose value is in an overflow run. Inline
   values are shorter (a cell takes at most a quarter of a 64-KiB page). */
#define CT_CELL_VWORD_OVERFLOW 0x8000u

/* A cell to place by ct__node_build: leaf cells as raw bytes; branch cells
   as fields (so a key can be substituted when cells move between nodes). */
typedef struct ct__cellref {
    const uint8_t *raw; /* leaf: the encoded cell */
    uint32_t len;       /* leaf: encoded bytes */
    uint64_t child;     /* branch */
    uint64_t gen;       /* branch */
    const uint8_t *key; /* branch */
    uint32_t klen;      /* branch */
} ct__cellref;

/* Largest encoded cell (slot excluded): CT_CELLS_PER_PAGE_MIN cells and
   their slots fit in a page. */
static inline uint32_t ct__cell_max_bytes(uint32_t page_size)
{
    return (page_size - CT_PAGE_HDR_BYTES) / CT_CELLS_PER_PAGE_MIN - CT_SLOT_BYTES;
}
/* Largest key: a leaf cell with an overflow ref must fit the cell cap. */
static inline uint32_t ct__key_max_bytes(uint32_t page_size)
{
    return ct__cell_max_bytes(page_size) - CT_LEAF_CELL_FIXED - CT_OVERFLOW_REF_BYTES;
}

_Static_assert((CT_PAGE_SIZE_MAX - CT_PAGE_HDR_BYTES) / CT_CELLS_PER_PAGE_MIN < CT_CELL_VWORD_OVERFLOW,
               "an inline value's length is below the overflow mark");

int ct__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

static inline const uint8_t *ct__node_cell(const uint8_t *p, uint32_t i)
{
    return p + ct__get16(p + CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * i);
}

/* Leaf cell fields. */
static inline uint32_t ct__leaf_klen(const uint8_t *c) { return ct__get16(c); }
static inline uint32_t ct__leaf_vword(const uint8_t *c) { return ct__get16(c + 2); }
static inline uint8_t ct__leaf_flags(const uint8_t *c)
{
    return ct__leaf_vword(c) == CT_CELL_VWORD_OVERFLOW ? (uint8_t)CT_CELL_OVERFLOW : 0u;
}
static inline uint32_t ct__leaf_vlen(const uint8_t *c)
{
    uint32_t w = ct__leaf_vword(c);
    if (w != CT_CELL_VWORD_OVERFLOW) {
        return w;
    }
    return ct__get32(c + CT_LEAF_CELL_FIXED + ct__leaf_klen(c) + 16u);
}
static inline const uint8_t *ct__leaf_key(const uint8_t *c) { return c + CT_LEAF_CELL_FIXED; }
static inline const uint8_t *ct__leaf_val(const uint8_t *c)
{
    return c + CT_LEAF_CELL_FIXED + ct__leaf_klen(c);
}
uint32_t ct__leaf_cell_bytes(const uint8_t *c);

/* Branch cell fields. */
static inline uint64_t ct__branch_child(const uint8_t *c) { return ct__get64(c); }
static inline uint64_t ct__branch_gen(const uint8_t *c) { return ct__get64(c + 8); }
static inline uint32_t ct__branch_klen(const uint8_t *c) { return ct__get16(c + 16); }
static inline const uint8_t *ct__branch_key(const uint8_t *c)
{
    return c + CT_BRANCH_CELL_FIXED;
}
static inline void ct__branch_set_child(uint8_t *c, uint64_t child, uint64_t gen)
{
    ct__put64(c, child);
    ct__put64(c + 8, gen);
}

/* Leaf: index of the first key >= key; *found = exact match. */
uint32_t ct__leaf_search(const uint8_t *p, const uint8_t *key, size_t klen, int *found);
/* Branch: index of the child whose range holds key. */
uint32_t ct__branch_search(const uint8_t *p, const uint8_t *key, size_t klen);

/* Bytes used by cells and slots (header excluded). */
uint32_t ct__node_used_bytes(const uint8_t *p);
/* ct__node_used_bytes(p) >= bytes, reading only as many cells as it takes
   (a delete checks every leaf it touches for underflow). */
int ct__node_used_at_least(const uint8_t *p, uint32_t bytes);
/* Fill bound: a non-root node off the tree's right spine (the last child
   of the last child ... of the root) holds at least this many used bytes
   once an operation completes (a quarter of the cell area; the largest cell and
   its slot take at most a quarter, so splits and borrows can keep it). */
static inline uint32_t ct__node_min_fill(uint32_t page_size)
{
    return (page_size - CT_PAGE_HDR_BYTES) / 4u;
}

/* Encodes a leaf cell into out (len from ct__leaf_cell_size). */
uint32_t ct__leaf_cell_size(size_t klen, size_t inline_vlen, int overflow);
void ct__leaf_cell_encode(uint8_t *out, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, int overflow, uint64_t ov_pgno, uint64_t ov_gen);

/* Inserts an encoded cell at index idx, compacting if fragmented; scratch
   is a page-sized buffer. Returns 0, or -1 when it does not fit. */
int ct__node_insert(uint8_t *p, uint32_t page_size, uint32_t idx, const uint8_t *cell,
                    uint32_t len, uint8_t *scratch);
/* Removes cell idx (its bytes become a hole reclaimed by compaction). */
void ct__node_delete(uint8_t *p, uint32_t idx);

/* Fills refs[0..count) from page p (branch keys as stored). */
void ct__node_refs(const uint8_t *p, ct__cellref *refs);
/* Encoded bytes of a ref (slot included); first = it becomes cell 0 of a branch. */
uint32_t ct__ref_bytes(uint8_t type, const ct__cellref *r, int first);
/* Writes cells into out (a page buffer distinct from every ref's memory),
   keeping out's header fields pgno/txnid as given. */
void ct__node_build(uint8_t *out, uint32_t page_size, uint8_t type, uint64_t pgno,
                    uint64_t txnid, const ct__cellref *refs, uint32_t n);

/* Sets the page's skip and every slot's prefix afresh from its cells (for
   tests that rewrite keys in place; the node functions keep them). */
void ct__node_reprefix(uint8_t *p);

/* Structural validation of a page that passed its crc: slot and cell
   bounds, key lengths, key order, the slots' prefixes and the shared
   bytes. CT_OK or CT_CORRUPT. */
int ct__node_validate(const uint8_t *p, uint32_t page_size, size_t key_max);

#endif
