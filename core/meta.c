/*
 * meta.c - the meta page (slots 0 and 1): encoding and validation. Pure.
 *
 * Body layout after the 32-byte header (docs/format.md):
 *   0 u64 magic "cowtree\x01"-ish constant CT_META_MAGIC
 *   8 u32 format version        12 u32 page size
 *  16 u64 high-water mark       24 u64 durable base txn id
 *  32 tree main    (root u64, gen u64, depth u32, pad u32, entries u64)
 *  64 tree catalog (same)
 *  96 u64 free-list head       104 u64 free-list head gen
 * 112 u64 free-list entries    120 u64 named buckets
 * 128 u32 free-list entries in this meta (at most CT_META_FREE_INLINE)
 * 132 u32 zero                 136 those entries (pgno u64, freed txn u64)
 * The header's txnid is the commit id; its pgno is the slot. Every further
 * 512-byte sector starts with the magic and the txnid (a sector stamp), so
 * a page torn between two writes of the slot never passes the checksum,
 * even when the writes differ only in the header: otherwise a torn
 * rewrite of a slot recovery judged invalid could bring an older meta
 * back to life after recovery had settled on another.
 */
#include <string.h>

#include "internal.h"

#define CT_META_MAGIC 0x3145455254574f43ull /* "COWTREE1" little-endian */
#define CT_FORMAT_VERSION 4u /* 4: free-list entries in the meta (docs/format.md) */
/* Version 3 is version 4 with no entries in the meta (its bytes there are
   zero), so this build reads it; the next commit writes version 4. */
#define CT_FORMAT_VERSION_READ_MIN 3u
#define META_BODY CT_PAGE_HDR_BYTES
#define META_INLINE (META_BODY + 136u)
#define META_INLINE_ENTRY 16u
#define META_SECTOR 512u
#define META_END (META_INLINE + CT_META_FREE_INLINE * META_INLINE_ENTRY)

_Static_assert(META_END <= META_SECTOR, "meta fields fit the first sector (before any stamp)");
_Static_assert(META_SECTOR <= CT_PAGE_SIZE_MIN, "meta fits the smallest page");

static void put_tree(uint8_t *p, const ct__tree *t)
{
    ct__put64(p, t->root);
    ct__put64(p + 8, t->gen);
    ct__put32(p + 16, t->depth);
    ct__put32(p + 20, 0);
    ct__put64(p + 24, t->entries);
}

static void get_tree(const uint8_t *p, ct__tree *t)
{
    t->root = ct__get64(p);
    t->gen = ct__get64(p + 8);
    t->depth = ct__get32(p + 16);
    t->entries = ct__get64(p + 24);
}

int ct__meta_foreign_size(const uint8_t *page, uint32_t page_size)
{
    const uint8_t *b = page + META_BODY;
    uint32_t p = ct__get32(b + 12);
    return ct__get64(b) == CT_META_MAGIC && p != page_size && p >= CT_PAGE_SIZE_MIN &&
           p <= CT_PAGE_SIZE_MAX && (p & (p - 1)) == 0;
}

int ct__meta_sector_plausible(const uint8_t *sector, int first_of_page)
{
    if (ct__get64(sector + (first_of_page ? META_BODY : 0u)) == CT_META_MAGIC) {
        return 1;
    }
    for (uint32_t i = 0; i < META_SECTOR; i++) {
        if (sector[i] != 0) {
            return 0;
        }
    }
    return 1;
}

void ct__meta_encode(const ct__meta *m, uint8_t *page, uint32_t page_size, int slot)
{
    memset(page, 0, page_size);
    ct__page_init(page, CT_PT_META, (uint64_t)slot, m->txnid);
    uint8_t *b = page + META_BODY;
    ct__put64(b, CT_META_MAGIC);
    ct__put32(b + 8, CT_FORMAT_VERSION);
    ct__put32(b + 12, page_size);
    ct__put64(b + 16, m->hwm);
    ct__put64(b + 24, m->durable_base);
    put_tree(b + 32, &m->main);
    put_tree(b + 64, &m->catalog);
    ct__put64(b + 96, m->free_head);
    ct__put64(b + 104, m->free_gen);
    ct__put64(b + 112, m->free_count);
    ct__put64(b + 120, m->buckets);
    CT_ASSERT(m->free_inline <= CT_META_FREE_INLINE && m->free_inline <= m->free_count);
    ct__put32(b + 128, m->free_inline);
    for (uint32_t i = 0; i < m->free_inline; i++) {
        uint8_t *e = page + META_INLINE + i * META_INLINE_ENTRY;
        ct__put64(e, m->free_inline_pgno[i]);
        ct__put64(e + 8, m->free_inline_txn[i]);
    }
    for (uint32_t off = META_SECTOR; off < page_size; off += META_SECTOR) {
        ct__put64(page + off, CT_META_MAGIC);
        ct__put64(page + off + 8, m->txnid);
    }
    ct__page_seal(page, page_size);
}

static int tree_sane(const ct__tree *t, uint64_t hwm, uint64_t txnid)
{
    if (t->root == 0) {
        return t->depth == 0 && t->entries == 0;
    }
    return t->root >= 2 && t->root < hwm && t->depth >= 1 && t->depth <= CT_DEPTH_MAX &&
           t->gen <= txnid;
}

int ct__meta_decode(const uint8_t *page, uint32_t page_size, int slot, ct__meta *out)
{
    const uint8_t *b = page + META_BODY;
    if (ct__get64(b) != CT_META_MAGIC) {
        return CT__CORRUPT(slot, "meta magic");
    }
    int rc = ct__page_verify(page, page_size, CT_PT_META, (uint64_t)slot, ct__ph_txnid(page));
    if (rc != CT_OK) {
        return rc;
    }
    if (ct__get32(b + 12) != page_size) {
        return CT_VERSION;
    }
    for (uint32_t off = META_SECTOR; off < page_size; off += META_SECTOR) {
        if (ct__get64(page + off) != CT_META_MAGIC ||
            ct__get64(page + off + 8) != ct__ph_txnid(page)) {
            return CT__CORRUPT(slot, "meta sector stamp");
        }
    }
    uint32_t version = ct__get32(b + 8);
    if (version < CT_FORMAT_VERSION_READ_MIN || version > CT_FORMAT_VERSION) {
        return CT_VERSION; /* older formats too: their pages differ */
    }
    memset(out, 0, sizeof(*out));
    out->txnid = ct__ph_txnid(page);
    out->page_size = page_size;
    out->hwm = ct__get64(b + 16);
    out->durable_base = ct__get64(b + 24);
    get_tree(b + 32, &out->main);
    get_tree(b + 64, &out->catalog);
    out->free_head = ct__get64(b + 96);
    out->free_gen = ct__get64(b + 104);
    out->free_count = ct__get64(b + 112);
    out->buckets = ct__get64(b + 120);
    out->free_inline = ct__get32(b + 128);
    if (out->free_inline > CT_META_FREE_INLINE || out->free_inline > out->free_count ||
        ct__get32(b + 132) != 0 || (version < 4 && out->free_inline != 0)) {
        return CT__CORRUPT(slot, "meta free-list entries");
    }
    for (uint32_t i = 0; i < out->free_inline; i++) {
        const uint8_t *e = page + META_INLINE + i * META_INLINE_ENTRY;
        out->free_inline_pgno[i] = ct__get64(e);
        out->free_inline_txn[i] = ct__get64(e + 8);
    }
    if (out->hwm < 2 ||
        out->durable_base > out->txnid || !tree_sane(&out->main, out->hwm, out->txnid) ||
        !tree_sane(&out->catalog, out->hwm, out->txnid) ||
        (out->free_head != 0 && (out->free_head < 2 || out->free_head >= out->hwm)) ||
        out->free_count > out->hwm) {
        return CT__CORRUPT(slot, "meta fields out of range");
    }
    return CT_OK;
}
