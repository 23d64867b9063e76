/*
 * test_page.c - the page format (core/page.h, core/node.h, meta encoding):
 * encode/decode round trips, the CRC catching any single flipped bit, and
 * page identity (page number, generation, type) checks, first on raw page
 * buffers and then through the engine on an edited store image.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "internal.h"

#define PS 512u

/* A page header written by init and sealed decodes to the same fields and
   verifies; a changed field after sealing no longer does. */
/* Byte offset of slot i; the key limit at PS. */
#define SLOT(i) (CT_PAGE_HDR_BYTES + CT_SLOT_BYTES * (i))
#define KMAX ct__key_max_bytes(PS)

static void test_header_roundtrip(void **state)
{
    (void)state;
    uint8_t p[PS];
    memset(p, 0xa5, sizeof(p));
    ct__page_init(p, CT_PT_LEAF, 0x0102030405060708ull, 0x1112131415161718ull);
    ct__ph_set_count(p, 7);
    ct__ph_set_upper(p, 300);
    ct__page_seal(p, PS);
    assert_int_equal(ct__ph_type(p), CT_PT_LEAF);
    assert_int_equal(ct__ph_count(p), 7);
    assert_int_equal(ct__ph_pgno(p), 0x0102030405060708ull);
    assert_int_equal(ct__ph_txnid(p), 0x1112131415161718ull);
    assert_int_equal(ct__ph_upper(p), 300);
    assert_int_equal(ct__ph_aux(p), 0);
    /* Explicit little-endian: byte 8 holds the low byte of the pgno. */
    assert_int_equal(p[CT_PH_PGNO], 0x08);
    assert_int_equal(p[CT_PH_PGNO + 7], 0x01);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_LEAF, 0x0102030405060708ull,
                                 0x1112131415161718ull),
                 CT_OK);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_ANY, 0x0102030405060708ull,
                                 0x1112131415161718ull),
                 CT_OK);
    ct__ph_set_count(p, 8);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_LEAF, 0x0102030405060708ull,
                                 0x1112131415161718ull),
                 CT_CORRUPT);
}

/* Endian helpers round-trip every width at boundary values. */
static void test_endian_roundtrip(void **state)
{
    (void)state;
    uint8_t b[8];
    const uint64_t v64[] = {0, 1, 0xff, 0x100, 0x7fffffffffffffffull, 0x8000000000000000ull,
                            UINT64_MAX, 0x0123456789abcdefull};
    for (size_t i = 0; i < sizeof(v64) / sizeof(v64[0]); i++) {
        ct__put64(b, v64[i]);
        assert_int_equal(ct__get64(b), v64[i]);
        ct__put32(b, (uint32_t)v64[i]);
        assert_int_equal(ct__get32(b), (uint32_t)v64[i]);
        ct__put16(b, (uint16_t)v64[i]);
        assert_int_equal(ct__get16(b), (uint16_t)v64[i]);
    }
}

typedef struct kv {
    uint8_t key[128];
    size_t klen;
    uint8_t val[128];
    size_t vlen;
} kv;

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a;
    const kv *y = b;
    return th_key_cmp(x->key, x->klen, y->key, y->klen);
}

/* Leaf cells inserted in random order through ct__node_insert come back in
   key order with the same bytes, after a seal/verify/validate round trip,
   and after a refs -> build rebuild; ct__leaf_search finds each key. */
static void test_leaf_roundtrip(void **state)
{
    (void)state;
    uint32_t kmax = ct__key_max_bytes(PS);
    assert_int_equal(kmax, 90); /* (512 - 32) / 4 - 6 - 4 - 20 */
    for (uint64_t seed = 1; seed <= 200; seed++) {
        th_rng r;
        th_rng_seed(&r, seed);
        uint8_t page[PS];
        uint8_t scratch[PS];
        ct__page_init(page, CT_PT_LEAF, 5, 9);
        ct__ph_set_upper(page, PS);
        kv items[64];
        size_t n = 0;
        for (int tries = 0; tries < 64; tries++) {
            kv it;
            it.klen = th_gen_key(&r, it.key, kmax);
            it.vlen = (size_t)th_below(&r, 40);
            th_fill(&r, it.val, it.vlen);
            int found = 0;
            uint32_t idx = ct__leaf_search(page, it.key, it.klen, &found);
            if (found) {
                continue;
            }
            uint32_t len = ct__leaf_cell_size(it.klen, it.vlen, 0);
            if (len > ct__cell_max_bytes(PS)) {
                continue;
            }
            uint8_t cell[PS];
            ct__leaf_cell_encode(cell, it.key, it.klen, it.val, it.vlen, 0, 0, 0);
            assert_int_equal(ct__leaf_cell_bytes(cell), len);
            if (ct__node_insert(page, PS, idx, cell, len, scratch) != 0) {
                break; /* full */
            }
            items[n++] = it;
        }
        assert_true(n >= 3);
        qsort(items, n, sizeof(items[0]), kv_cmp);
        ct__page_seal(page, PS);
        th_assert_rc(ct__page_verify(page, PS, CT_PT_LEAF, 5, 9), CT_OK);
        th_assert_rc(ct__node_validate(page, PS, kmax), CT_OK);
        assert_int_equal(ct__ph_count(page), n);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *c = ct__node_cell(page, i);
            assert_int_equal(ct__leaf_klen(c), items[i].klen);
            assert_memory_equal(ct__leaf_key(c), items[i].key, items[i].klen);
            assert_int_equal(ct__leaf_vlen(c), items[i].vlen);
            assert_int_equal(ct__leaf_flags(c), 0);
            if (items[i].vlen) {
                assert_memory_equal(ct__leaf_val(c), items[i].val, items[i].vlen);
            }
            int found = 0;
            assert_int_equal(ct__leaf_search(page, items[i].key, items[i].klen, &found), i);
            assert_true(found);
        }
        /* Rebuild from refs: identical cells, identical used bytes. */
        ct__cellref refs[64];
        ct__node_refs(page, refs);
        uint8_t copy[PS];
        ct__node_build(copy, PS, CT_PT_LEAF, 6, 10, refs, (uint32_t)n);
        ct__page_seal(copy, PS);
        th_assert_rc(ct__page_verify(copy, PS, CT_PT_LEAF, 6, 10), CT_OK);
        th_assert_rc(ct__node_validate(copy, PS, kmax), CT_OK);
        assert_int_equal(ct__node_used_bytes(copy), ct__node_used_bytes(page));
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *a = ct__node_cell(page, i);
            const uint8_t *b = ct__node_cell(copy, i);
            assert_int_equal(ct__leaf_cell_bytes(a), ct__leaf_cell_bytes(b));
            assert_memory_equal(a, b, ct__leaf_cell_bytes(a));
        }
        /* Deleting every other cell keeps the rest in order and valid. */
        for (uint32_t i = (uint32_t)n; i-- > 0;) {
            if (i % 2) {
                ct__node_delete(page, i);
            }
        }
        th_assert_rc(ct__node_validate(page, PS, kmax), CT_OK);
        assert_int_equal(ct__ph_count(page), (n + 1) / 2);
        for (uint32_t i = 0; i < ct__ph_count(page); i++) {
            const uint8_t *c = ct__node_cell(page, i);
            assert_int_equal(ct__leaf_klen(c), items[2 * i].klen);
            assert_memory_equal(ct__leaf_key(c), items[2 * i].key, items[2 * i].klen);
        }
    }
}

/* An overflow reference cell encodes flag, length, pgno and generation. */
static void test_overflow_ref_cell(void **state)
{
    (void)state;
    uint8_t cell[64];
    ct__leaf_cell_encode(cell, (const uint8_t *)"key", 3, NULL, 0x7fffffff, 1,
                         0x1234567890ull, 77);
    assert_int_equal(ct__leaf_cell_bytes(cell), CT_LEAF_CELL_FIXED + 3 + CT_OVERFLOW_REF_BYTES);
    assert_int_equal(ct__leaf_flags(cell), CT_CELL_OVERFLOW);
    assert_int_equal(ct__leaf_vlen(cell), 0x7fffffff);
    assert_int_equal(ct__get64(ct__leaf_val(cell)), 0x1234567890ull);
    assert_int_equal(ct__get64(ct__leaf_val(cell) + 8), 77);
}

/* A leaf whose overflow cell's ref carries a value length: validate takes
   the largest legal length and refuses one past it. */
static void test_overflow_ref_vlen_validated(void **state)
{
    (void)state;
    uint8_t page[PS];
    uint8_t scratch[PS];
    ct__page_init(page, CT_PT_LEAF, 3, 4);
    ct__ph_set_upper(page, PS);
    uint8_t cell[64];
    uint32_t len = ct__leaf_cell_size(3, 0, 1);
    ct__leaf_cell_encode(cell, (const uint8_t *)"key", 3, NULL, CT_VALUE_MAX_BYTES, 1, 9, 4);
    assert_int_equal(ct__node_insert(page, PS, 0, cell, len, scratch), 0);
    th_assert_rc(ct__node_validate(page, PS, KMAX), CT_OK);
    uint8_t *c = (uint8_t *)ct__node_cell(page, 0);
    assert_int_equal(ct__leaf_vlen(c), CT_VALUE_MAX_BYTES);
    ct__put32(c + CT_LEAF_CELL_FIXED + 3 + 16, CT_VALUE_MAX_BYTES + 1u);
    th_assert_rc(ct__node_validate(page, PS, KMAX), CT_CORRUPT);
    /* A small length is legal again; the overflow mark with stray low
       bits is no legal vword (the ref's length at +3 + 16: past the
       3-byte key, the pgno and the generation). */
    ct__put32(c + CT_LEAF_CELL_FIXED + 3 + 16, 5);
    th_assert_rc(ct__node_validate(page, PS, KMAX), CT_OK);
    ct__put16(c + 2, (uint16_t)(CT_CELL_VWORD_OVERFLOW | 3u));
    th_assert_rc(ct__node_validate(page, PS, KMAX), CT_CORRUPT);
}

/* A branch built from refs keeps children, generations and separators (cell
   0 keyless); ct__branch_search routes every key to the right child. */
static void test_branch_roundtrip(void **state)
{
    (void)state;
    uint8_t keys[10][2];
    ct__cellref refs[10];
    memset(refs, 0, sizeof(refs));
    for (uint32_t i = 0; i < 10; i++) {
        keys[i][0] = 'a';
        keys[i][1] = (uint8_t)('a' + 2 * i); /* "aa", "ac", ... */
        refs[i].child = 100 + i;
        refs[i].gen = 1000 + i;
        refs[i].key = keys[i];
        refs[i].klen = 2;
    }
    uint8_t page[PS];
    ct__node_build(page, PS, CT_PT_BRANCH, 42, 43, refs, 10);
    ct__page_seal(page, PS);
    th_assert_rc(ct__page_verify(page, PS, CT_PT_BRANCH, 42, 43), CT_OK);
    th_assert_rc(ct__node_validate(page, PS, ct__key_max_bytes(PS)), CT_OK);
    assert_int_equal(ct__branch_klen(ct__node_cell(page, 0)), 0);
    for (uint32_t i = 0; i < 10; i++) {
        const uint8_t *c = ct__node_cell(page, i);
        assert_int_equal(ct__branch_child(c), 100 + i);
        assert_int_equal(ct__branch_gen(c), 1000 + i);
        if (i > 0) {
            assert_int_equal(ct__branch_klen(c), 2);
            assert_memory_equal(ct__branch_key(c), keys[i], 2);
        }
    }
    /* Key "ac" (== sep 1) goes to child 1; "ab" to child 0; "" to 0; "b" to 9. */
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"ac", 2), 1);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"ab", 2), 0);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"", 0), 0);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"acz", 3), 1);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"ad", 2), 1);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"b", 1), 9);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"as", 2), 9);
    assert_int_equal(ct__branch_search(page, (const uint8_t *)"aq", 2), 8);
}

/* ct__crc32c (the best path the CPU has) and each hardware path apart
   (the SSE4.2 instruction with three interleaved chains; carry-less
   folding of 64-byte blocks) equal the portable table path for every
   length 0..4200 and several start offsets, continue a running crc the
   same way, and give the standard check value. Paths the CPU lacks are
   named on stdout and compared as the table path. */
static void test_crc32c_paths_agree(void **state)
{
    (void)state;
    assert_int_equal(ct__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(ct__crc32c_sw(0, "123456789", 9), 0xe3069283u);
    const int paths[] = {CT_CRC32C_INSTRUCTION, CT_CRC32C_FOLD};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (!ct__crc32c_path_available(paths[i])) {
            printf("crc32c path %d: not on this CPU\n", paths[i]);
        }
    }
    size_t cap = 4200u + 8u;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    th_rng r;
    th_rng_seed(&r, 32);
    th_fill(&r, buf, cap);
    for (size_t off = 0; off < 8; off += 3) {
        for (size_t len = 0; len + off <= cap && len <= 4200u; len++) {
            uint32_t sw = ct__crc32c_sw(0, buf + off, len);
            uint32_t got[3] = {ct__crc32c(0, buf + off, len),
                               ct__crc32c_path(CT_CRC32C_INSTRUCTION, 0, buf + off, len),
                               ct__crc32c_path(CT_CRC32C_FOLD, 0, buf + off, len)};
            for (int g = 0; g < 3; g++) {
                if (got[g] != sw) {
                    print_error("path %d off %zu len %zu: %08x != %08x\n", g, off, len, got[g],
                                sw);
                    fail();
                }
            }
        }
    }
    uint32_t whole = ct__crc32c(0, buf, 4096);
    uint32_t split = ct__crc32c(ct__crc32c(0, buf, 1000), buf + 1000, 3096);
    assert_int_equal(whole, split);
    uint32_t folded = ct__crc32c_path(CT_CRC32C_FOLD, 0, buf, 1000);
    assert_int_equal(whole, ct__crc32c_path(CT_CRC32C_FOLD, folded, buf + 1000, 3096));
    assert_int_equal(whole, ct__crc32c_sw(ct__crc32c_sw(0, buf, 2500), buf + 2500, 1596));
    free(buf);
}

/* Flipping any one bit of a sealed page (or of an overflow run) makes
   verify return CT_CORRUPT; flipping it back restores CT_OK. All bits of a
   512-byte and a 4096-byte page, every 7th bit of a 3-page run. */
static void test_crc_detects_every_bit_flip(void **state)
{
    (void)state;
    const uint32_t sizes[] = {512, 4096};
    for (size_t s = 0; s < 2; s++) {
        uint32_t ps = sizes[s];
        uint8_t *p = malloc(ps);
        assert_non_null(p);
        th_rng r;
        th_rng_seed(&r, ps);
        th_fill(&r, p, ps);
        ct__page_init(p, CT_PT_LEAF, 77, 88);
        ct__page_seal(p, ps);
        th_assert_rc(ct__page_verify(p, ps, CT_PT_LEAF, 77, 88), CT_OK);
        uint64_t caught = 0;
        for (uint32_t bit = 0; bit < ps * 8u; bit++) {
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (ct__page_verify(p, ps, CT_PT_ANY, 77, 88) == CT_CORRUPT) {
                caught++;
            }
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        assert_int_equal(caught, (uint64_t)ps * 8u);
        th_assert_rc(ct__page_verify(p, ps, CT_PT_LEAF, 77, 88), CT_OK);
        free(p);
    }
    uint64_t run = 3u * 512u;
    uint8_t *p = malloc(run);
    assert_non_null(p);
    th_rng r;
    th_rng_seed(&r, 3);
    th_fill(&r, p, run);
    ct__page_init(p, CT_PT_OVERFLOW, 9, 4);
    ct__page_seal(p, run);
    th_assert_rc(ct__page_verify(p, run, CT_PT_OVERFLOW, 9, 4), CT_OK);
    for (uint64_t bit = 0; bit < run * 8u; bit += 7) {
        p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        th_assert_rc(ct__page_verify(p, run, CT_PT_OVERFLOW, 9, 4), CT_CORRUPT);
        p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(p);
}

/* A valid page read where another page number, generation or type was
   expected is CT_CORRUPT (misdirected / lost / stale write). */
static void test_wrong_identity_is_corrupt(void **state)
{
    (void)state;
    uint8_t p[PS];
    memset(p, 0, sizeof(p));
    ct__page_init(p, CT_PT_BRANCH, 10, 20);
    ct__page_seal(p, PS);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_BRANCH, 10, 20), CT_OK);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_BRANCH, 11, 20), CT_CORRUPT);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_BRANCH, 9, 20), CT_CORRUPT);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_BRANCH, 10, 21), CT_CORRUPT);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_BRANCH, 10, 19), CT_CORRUPT);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_LEAF, 10, 20), CT_CORRUPT);
    th_assert_rc(ct__page_verify(p, PS, CT_PT_OVERFLOW, 10, 20), CT_CORRUPT);
    /* An all-zero page (never written) is not a valid page of any identity. */
    memset(p, 0, sizeof(p));
    th_assert_rc(ct__page_verify(p, PS, CT_PT_ANY, 0, 0), CT_CORRUPT);
}

static void sample_meta(ct__meta *m)
{
    memset(m, 0, sizeof(*m));
    m->txnid = 1234;
    m->page_size = PS;
    m->hwm = 999;
    m->durable_base = 1233;
    m->main.root = 17;
    m->main.gen = 1200;
    m->main.depth = 3;
    m->main.entries = 4567;
    m->catalog.root = 18;
    m->catalog.gen = 1100;
    m->catalog.depth = 1;
    m->catalog.entries = 2;
    m->free_head = 40;
    m->free_gen = 1234;
    m->free_count = 55;
    m->buckets = 2;
}

/* The meta page round-trips every field; it is slot-bound; a meta from a
   newer format version is CT_VERSION, one of another page size CT_VERSION,
   nonsense fields CT_CORRUPT. */
static void test_meta_roundtrip(void **state)
{
    (void)state;
    ct__meta m;
    sample_meta(&m);
    uint8_t p[PS];
    ct__meta_encode(&m, p, PS, 0);
    ct__meta d;
    th_assert_rc(ct__meta_decode(p, PS, 0, &d), CT_OK);
    assert_int_equal(d.txnid, m.txnid);
    assert_int_equal(d.page_size, PS);
    assert_int_equal(d.hwm, m.hwm);
    assert_int_equal(d.durable_base, m.durable_base);
    assert_int_equal(d.main.root, m.main.root);
    assert_int_equal(d.main.gen, m.main.gen);
    assert_int_equal(d.main.depth, m.main.depth);
    assert_int_equal(d.main.entries, m.main.entries);
    assert_int_equal(d.catalog.root, m.catalog.root);
    assert_int_equal(d.catalog.gen, m.catalog.gen);
    assert_int_equal(d.catalog.depth, m.catalog.depth);
    assert_int_equal(d.catalog.entries, m.catalog.entries);
    assert_int_equal(d.free_head, m.free_head);
    assert_int_equal(d.free_gen, m.free_gen);
    assert_int_equal(d.free_count, m.free_count);
    assert_int_equal(d.buckets, m.buckets);
    /* Slot 0's page read as slot 1: CT_CORRUPT. */
    th_assert_rc(ct__meta_decode(p, PS, 1, &d), CT_CORRUPT);
    /* Newer format version (body offset 8), resealed: CT_VERSION. */
    uint8_t q[PS];
    memcpy(q, p, PS);
    ct__put32(q + CT_PAGE_HDR_BYTES + 8, ct__get32(q + CT_PAGE_HDR_BYTES + 8) + 1);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_VERSION);
    /* Written with another page size: CT_VERSION. */
    memcpy(q, p, PS);
    ct__put32(q + CT_PAGE_HDR_BYTES + 12, 4096);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_VERSION);
    /* Root beyond the high-water mark, resealed: CT_CORRUPT. */
    memcpy(q, p, PS);
    ct__put64(q + CT_PAGE_HDR_BYTES + 32, 5000);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    /* Bad magic: CT_CORRUPT; a zeroed page: CT_CORRUPT. */
    memcpy(q, p, PS);
    q[CT_PAGE_HDR_BYTES] ^= 1;
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    memset(q, 0, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    /* One flipped bit anywhere in the meta page: never CT_OK. */
    for (uint32_t bit = 0; bit < PS * 8u; bit++) {
        memcpy(q, p, PS);
        q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = ct__meta_decode(q, PS, 0, &d);
        if (rc == CT_OK) {
            print_error("bit %u flipped still decodes\n", bit);
        }
        assert_int_not_equal(rc, CT_OK);
    }
}

/* Format version 4 carries up to CT_META_FREE_INLINE free-list entries in
   the meta: they round-trip, in the first sector at every page size; a
   count above the limit or above the list's total, a nonzero pad word, or
   entries in a version-3 meta are CT_CORRUPT; a version-3 meta without
   them decodes (version 3 is version 4 with none); version 2 and 5 are
   CT_VERSION. */
static void test_meta_free_entries(void **state)
{
    (void)state;
    ct__meta m;
    sample_meta(&m);
    m.free_inline = CT_META_FREE_INLINE;
    for (uint32_t i = 0; i < m.free_inline; i++) {
        m.free_inline_pgno[i] = 100u + 7u * i;
        m.free_inline_txn[i] = i % 3 == 0 ? 0 : 1000u + i;
    }
    uint8_t p[PS];
    ct__meta_encode(&m, p, PS, 0);
    ct__meta d;
    th_assert_rc(ct__meta_decode(p, PS, 0, &d), CT_OK);
    assert_int_equal(d.free_inline, CT_META_FREE_INLINE);
    for (uint32_t i = 0; i < m.free_inline; i++) {
        assert_int_equal(d.free_inline_pgno[i], m.free_inline_pgno[i]);
        assert_int_equal(d.free_inline_txn[i], m.free_inline_txn[i]);
    }
    /* The same at 4096 bytes: the entries sit before the first stamp. */
    static uint8_t big[4096];
    ct__meta_encode(&m, big, sizeof(big), 1);
    th_assert_rc(ct__meta_decode(big, sizeof(big), 1, &d), CT_OK);
    assert_int_equal(d.free_inline_pgno[CT_META_FREE_INLINE - 1],
                     m.free_inline_pgno[CT_META_FREE_INLINE - 1]);
    assert_int_equal(ct__get64(big + 512), ct__get64(big + CT_PAGE_HDR_BYTES)); /* stamp intact */

    const uint32_t count_at = CT_PAGE_HDR_BYTES + 128u;
    const uint32_t version_at = CT_PAGE_HDR_BYTES + 8u;
    uint8_t q[PS];
    /* One entry more than a meta holds. */
    memcpy(q, p, PS);
    ct__put32(q + count_at, CT_META_FREE_INLINE + 1u);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    /* More entries in the meta than on the whole list. */
    memcpy(q, p, PS);
    ct__put64(q + CT_PAGE_HDR_BYTES + 112u, CT_META_FREE_INLINE - 1u);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    /* The pad word after the count. */
    memcpy(q, p, PS);
    ct__put32(q + count_at + 4u, 1);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    /* Version 3 with entries: corrupt; without: read, as no entries. */
    memcpy(q, p, PS);
    ct__put32(q + version_at, 3);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_CORRUPT);
    m.free_inline = 0;
    ct__meta_encode(&m, q, PS, 0);
    ct__put32(q + version_at, 3);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_OK);
    assert_int_equal(d.free_inline, 0);
    assert_int_equal(d.free_count, m.free_count);
    /* Versions 2 and 5: CT_VERSION. */
    ct__put32(q + version_at, 2);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_VERSION);
    ct__put32(q + version_at, 5);
    ct__page_seal(q, PS);
    th_assert_rc(ct__meta_decode(q, PS, 0, &d), CT_VERSION);
}

/* ct__node_validate rejects structurally bad pages that carry a good CRC:
   keys out of order, a cell past the page end, overlapping cells, a branch
   whose cell 0 has a key, a count beyond the page. */
static void test_node_validate_rejects(void **state)
{
    (void)state;
    uint8_t page[PS];
    uint8_t scratch[PS];
    ct__page_init(page, CT_PT_LEAF, 3, 4);
    ct__ph_set_upper(page, PS);
    const char *ks[] = {"a", "b", "c", "d"};
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t cell[32];
        ct__leaf_cell_encode(cell, (const uint8_t *)ks[i], 1, (const uint8_t *)"v", 1, 0, 0, 0);
        assert_int_equal(ct__node_insert(page, PS, i, cell, ct__leaf_cell_size(1, 1, 0), scratch),
                         0);
    }
    th_assert_rc(ct__node_validate(page, PS, KMAX), CT_OK);
    uint8_t bad[PS];
    /* Swap slots 1 and 2 (offsets and prefixes): keys out of order. */
    memcpy(bad, page, PS);
    memcpy(bad + SLOT(1), page + SLOT(2), CT_SLOT_BYTES);
    memcpy(bad + SLOT(2), page + SLOT(1), CT_SLOT_BYTES);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* Slots 0 and 1 swapped: the first pair out of order, the rest fine. */
    memcpy(bad, page, PS);
    memcpy(bad + SLOT(0), page + SLOT(1), CT_SLOT_BYTES);
    memcpy(bad + SLOT(1), page + SLOT(0), CT_SLOT_BYTES);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* Two slots pointing at the same cell: duplicate key (order) / overlap. */
    memcpy(bad, page, PS);
    memcpy(bad + SLOT(1), page + SLOT(0), CT_SLOT_BYTES);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A slot past the end of the page. */
    memcpy(bad, page, PS);
    ct__put16(bad + SLOT(3), PS - 2);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A value length running past the page end. */
    memcpy(bad, page, PS);
    uint8_t *c3 = bad + ct__get16(bad + SLOT(3));
    ct__put16(c3 + 2, 400);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* An overflow ref running past the page end: cell 0 ("a") is the last
       in the page, and as an overflow cell its body grows from 1 byte to
       CT_OVERFLOW_REF_BYTES (validate must not read the ref's vlen). */
    memcpy(bad, page, PS);
    uint8_t *c0a = bad + ct__get16(bad + SLOT(0));
    assert_int_equal(c0a + ct__leaf_cell_size(1, 1, 0), bad + PS);
    ct__put16(c0a + 2, CT_CELL_VWORD_OVERFLOW);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A key longer than the key limit. */
    memcpy(bad, page, PS);
    c3 = bad + ct__get16(bad + SLOT(3));
    ct__put16(c3, (uint16_t)(KMAX + 1));
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* Count larger than the slot area allows. */
    memcpy(bad, page, PS);
    ct__ph_set_count(bad, 400);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* Upper below the slot array. */
    memcpy(bad, page, PS);
    ct__ph_set_upper(bad, CT_PAGE_HDR_BYTES + 2);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A vword above the overflow mark (neither an inline length nor the
       mark itself). */
    memcpy(bad, page, PS);
    c3 = bad + ct__get16(bad + SLOT(3));
    ct__put16(c3 + 2, (uint16_t)(CT_CELL_VWORD_OVERFLOW + 1u));
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A slot prefix that is not its key's bytes. */
    memcpy(bad, page, PS);
    bad[SLOT(2) + 2] ^= 1;
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A skip longer than a key, or past the key limit. */
    memcpy(bad, page, PS);
    ct__put32(bad + CT_PH_AUX, 2);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    ct__put32(bad + CT_PH_AUX, KMAX + 1);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A key that does not share the page's first skip bytes ("a" "b" "c"
       "d" share none: rebuilt as "xa" "xb" "xc" "xd" they share one, then
       the last key's first byte rewritten, prefixes recomputed for it). */
    {
        uint8_t xk[4][2];
        uint8_t xc[4][16];
        ct__cellref xr[4];
        memset(xr, 0, sizeof(xr));
        for (uint32_t i = 0; i < 4; i++) {
            xk[i][0] = 'x';
            xk[i][1] = (uint8_t)('a' + i);
            ct__leaf_cell_encode(xc[i], xk[i], 2, (const uint8_t *)"v", 1, 0, 0, 0);
            xr[i].raw = xc[i];
            xr[i].len = ct__leaf_cell_size(2, 1, 0);
        }
        ct__node_build(bad, PS, CT_PT_LEAF, 3, 4, xr, 4);
        assert_int_equal(ct__ph_aux(bad), 1);
        th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_OK);
        uint8_t *c = (uint8_t *)ct__node_cell(bad, 3);
        c[CT_LEAF_CELL_FIXED] = 'y'; /* "yd": still the largest key */
        th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
        ct__node_reprefix(bad); /* skip 0: valid again */
        assert_int_equal(ct__ph_aux(bad), 0);
        th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_OK);
        /* The same with two keys, where the second is the only one that
           can break the shared bytes ("xa" "xb", then "yb"). */
        ct__node_build(bad, PS, CT_PT_LEAF, 3, 4, xr, 2);
        assert_int_equal(ct__ph_aux(bad), 1);
        th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_OK);
        c = (uint8_t *)ct__node_cell(bad, 1);
        c[CT_LEAF_CELL_FIXED] = 'y';
        th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    }
    /* A branch whose cell 0 carries a key; an empty branch. */
    ct__cellref refs[2];
    memset(refs, 0, sizeof(refs));
    refs[0].child = 5;
    refs[1].child = 6;
    refs[1].key = (const uint8_t *)"m";
    refs[1].klen = 1;
    ct__node_build(bad, PS, CT_PT_BRANCH, 3, 4, refs, 2);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_OK);
    uint8_t *c0 = bad + ct__get16(bad + CT_PAGE_HDR_BYTES);
    ct__put16(c0 + 16, 1);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    /* A branch whose slot 0 (no key) holds a prefix. */
    ct__node_build(bad, PS, CT_PT_BRANCH, 3, 4, refs, 2);
    bad[SLOT(0) + 5] = 1;
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
    ct__node_build(bad, PS, CT_PT_BRANCH, 3, 4, refs, 0);
    th_assert_rc(ct__node_validate(bad, PS, KMAX), CT_CORRUPT);
}

/* A key near the page's keys: sharing a prefix of random length with a
   base key (the common part of the page's keys, most of the time), then
   random bytes from a small alphabet, so keys often tie in the slots' four
   bytes and often run shorter than the page's shared bytes. */
static size_t near_key(th_rng *r, const uint8_t *base, size_t blen, uint8_t *out, size_t kmax)
{
    size_t keep = (size_t)th_below(r, blen + 1);
    size_t tail = (size_t)th_below(r, 8);
    size_t len = keep + tail > kmax ? kmax : keep + tail;
    memcpy(out, base, keep < len ? keep : len);
    for (size_t i = keep; i < len; i++) {
        out[i] = (uint8_t)("\x00\x01\x7f\x80\xfe\xff"[th_below(r, 6)]);
    }
    return len;
}

/* First i with key_i >= key over n sorted keys (found: equal), and the
   branch answer: the largest i >= 1 with key_i <= key, else 0. */
static uint32_t linear_lower(const kv *items, uint32_t n, const uint8_t *key, size_t klen,
                             int *found)
{
    uint32_t i = 0;
    while (i < n && th_key_cmp(items[i].key, items[i].klen, key, klen) < 0) {
        i++;
    }
    *found = i < n && th_key_cmp(items[i].key, items[i].klen, key, klen) == 0;
    return i;
}

/* ct__leaf_search and ct__branch_search agree with a linear scan for keys
   in, around and outside the bytes a page's keys share: pages built by
   inserts in random order (their skip shrinks as keys arrive) and rebuilt
   from refs (skip from the first and last key), every key, neighbours and
   strangers probed. */
static void test_search_matches_linear(void **state)
{
    (void)state;
    uint32_t kmax = ct__key_max_bytes(PS);
    for (uint64_t seed = 1; seed <= 400; seed++) {
        th_rng r;
        th_rng_seed(&r, seed);
        uint8_t base[32];
        size_t blen = 1 + (size_t)th_below(&r, 12);
        th_fill(&r, base, blen);
        uint8_t page[PS];
        uint8_t scratch[PS];
        ct__page_init(page, CT_PT_LEAF, 5, 9);
        ct__ph_set_upper(page, PS);
        kv items[64];
        uint32_t n = 0;
        for (int tries = 0; tries < 64; tries++) {
            kv it;
            it.klen = near_key(&r, base, blen, it.key, kmax);
            it.vlen = 0;
            int found = 0;
            uint32_t idx = ct__leaf_search(page, it.key, it.klen, &found);
            qsort(items, n, sizeof(items[0]), kv_cmp);
            int lfound = 0;
            assert_int_equal(idx, linear_lower(items, n, it.key, it.klen, &lfound));
            assert_int_equal(found, lfound);
            if (found) {
                continue;
            }
            uint8_t cell[PS];
            ct__leaf_cell_encode(cell, it.key, it.klen, NULL, 0, 0, 0, 0);
            if (ct__node_insert(page, PS, idx, cell, ct__leaf_cell_size(it.klen, 0, 0),
                                scratch) != 0) {
                break;
            }
            items[n++] = it;
            th_assert_rc(ct__node_validate(page, PS, kmax), CT_OK);
        }
        qsort(items, n, sizeof(items[0]), kv_cmp);
        ct__cellref refs[64];
        ct__node_refs(page, refs);
        uint8_t built[PS];
        ct__node_build(built, PS, CT_PT_LEAF, 6, 10, refs, n);
        th_assert_rc(ct__node_validate(built, PS, kmax), CT_OK);
        /* The same keys, as many as fit, as a branch's separators 1..bn-1. */
        ct__cellref brefs[64];
        memset(brefs, 0, sizeof(brefs));
        uint32_t bn = 0;
        uint32_t bytes = 0;
        for (uint32_t i = 0; i < n; i++) {
            brefs[i].child = 100 + i;
            brefs[i].key = items[i].key;
            brefs[i].klen = (uint32_t)items[i].klen;
            bytes += ct__ref_bytes(CT_PT_BRANCH, &brefs[i], i == 0);
            if (bytes > PS - CT_PAGE_HDR_BYTES) {
                break;
            }
            bn = i + 1;
        }
        uint8_t branch[PS];
        ct__node_build(branch, PS, CT_PT_BRANCH, 7, 11, brefs, bn);
        th_assert_rc(ct__node_validate(branch, PS, kmax), CT_OK);
        for (int q = 0; q < 300; q++) {
            uint8_t key[128];
            size_t klen = 0;
            if (q < (int)n) {
                klen = items[q].klen;
                memcpy(key, items[q].key, klen);
            } else if (th_below(&r, 4) == 0) {
                klen = (size_t)th_below(&r, 16);
                th_fill(&r, key, klen);
            } else {
                klen = near_key(&r, base, blen, key, kmax);
            }
            int lfound = 0;
            uint32_t want = linear_lower(items, n, key, klen, &lfound);
            const uint8_t *pages[2] = {page, built};
            for (int w = 0; w < 2; w++) {
                int found = 0;
                if (ct__leaf_search(pages[w], key, klen, &found) != want || found != lfound) {
                    print_error("seed %llu query %d page %d: leaf search wrong\n",
                                (unsigned long long)seed, q, w);
                }
                assert_int_equal(ct__leaf_search(pages[w], key, klen, &found), want);
                assert_int_equal(found, lfound);
            }
            /* Branch: largest i >= 1 with sep_i <= key; cell 0's key is
               empty, so keys[0] plays no part. */
            uint32_t bwant = 0;
            for (uint32_t i = 1; i < bn; i++) {
                if (th_key_cmp(items[i].key, items[i].klen, key, klen) <= 0) {
                    bwant = i;
                }
            }
            assert_int_equal(ct__branch_search(branch, key, klen), bwant);
        }
    }
}

/* Key order: bytewise unsigned, a prefix before its extensions, empty first. */
static void test_key_order(void **state)
{
    (void)state;
    assert_true(ct__key_cmp((const uint8_t *)"", 0, (const uint8_t *)"\0", 1) < 0);
    assert_true(ct__key_cmp((const uint8_t *)"ab", 2, (const uint8_t *)"abc", 3) < 0);
    assert_true(ct__key_cmp((const uint8_t *)"\x7f", 1, (const uint8_t *)"\x80", 1) < 0);
    assert_true(ct__key_cmp((const uint8_t *)"\xff", 1, (const uint8_t *)"\x01\x02", 2) > 0);
    assert_int_equal(ct__key_cmp((const uint8_t *)"xy", 2, (const uint8_t *)"xy", 2), 0);
    assert_int_equal(ct__key_cmp(NULL, 0, NULL, 0), 0);
}

static int sign_of(int v)
{
    return (v > 0) - (v < 0);
}

/* The inline eight-bytes-at-a-time compare (keys up to 32 common bytes)
   and the memcmp path agree with a plain byte loop: random pairs of
   lengths 0..48 over four byte values (long shared prefixes, high bits
   set), b mostly a copy of a with one byte changed or a length changed. */
static void test_key_cmp_matches_bytewise(void **state)
{
    (void)state;
    static const uint8_t alphabet[4] = {0x00, 0x7f, 0x80, 0xff};
    th_rng r;
    th_rng_seed(&r, 48);
    uint8_t a[48];
    uint8_t b[48];
    for (int iter = 0; iter < 200000; iter++) {
        size_t alen = (size_t)(th_next(&r) % 49u);
        for (size_t i = 0; i < sizeof(a); i++) {
            a[i] = alphabet[th_next(&r) & 3u];
        }
        memcpy(b, a, sizeof(b));
        size_t blen = (th_next(&r) & 1u) ? alen : (size_t)(th_next(&r) % 49u);
        if (th_next(&r) & 1u) {
            b[th_next(&r) % sizeof(b)] = alphabet[th_next(&r) & 3u];
        }
        int want = 0;
        size_t n = alen < blen ? alen : blen;
        for (size_t i = 0; i < n && want == 0; i++) {
            want = (a[i] > b[i]) - (a[i] < b[i]);
        }
        if (want == 0) {
            want = (alen > blen) - (alen < blen);
        }
        int got = sign_of(ct__key_cmp(a, alen, b, blen));
        if (got != want) {
            print_error("iter %d: alen %zu blen %zu: got %d want %d\n", iter, alen, blen, got,
                        want);
            fail();
        }
    }
}

typedef struct leaves {
    uint64_t pgno[4096];
    uint64_t gen[4096];
    size_t n;
} leaves;

static void collect_leaf(const th_page_info *pi, void *ctx)
{
    leaves *l = ctx;
    if (pi->leaf && l->n < 4096) {
        l->pgno[l->n] = pi->pgno;
        l->gen[l->n] = pi->gen;
        l->n++;
    }
}

/* Keys 0..n-1 as 4-byte big-endian. */
static void fill_db(ct_db *db, uint32_t n)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        th_assert_rc(ct_put(t, NULL, k, 4, k, 4, 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
}

static int count_readable(ct_db *db, uint32_t n)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    int corrupt = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        const void *v = NULL;
        size_t vl = 0;
        int rc = ct_get(t, NULL, k, 4, &v, &vl);
        if (rc == CT_CORRUPT) {
            corrupt++;
        } else {
            th_assert_rc(rc, CT_OK);
            assert_int_equal(vl, 4);
            assert_memory_equal(v, k, 4);
        }
    }
    ct_abort(t);
    return corrupt;
}

/* Through the engine, on both RAM store paths (map and read): a leaf page
   overwritten by a copy of another valid leaf (misdirected write) or by a
   resealed copy of itself claiming another generation (stale/lost write)
   makes lookups of its keys CT_CORRUPT, never wrong data; other keys still
   read. The store image is edited with the db closed, then reopened. */
static void test_engine_catches_misdirected_and_stale(void **state)
{
    (void)state;
    for (int map = 0; map < 2; map++) {
        th_env e;
        th_env_init(&e, map ? TH_STORE_RAM : TH_STORE_RAM_NOMAP, PS);
        fill_db(e.db, 2000);
        /* Two more commits touching only the last leaf: the leaves we edit
           are then older than the newest commit's durable base, so open
           does not validate them (recovery would fall back a commit) and
           the damage is met by the reads. */
        uint8_t last[4] = {0, 0, 0x07, 0xcf};
        th_put1(e.db, last, 4, last, 4);
        th_put1(e.db, last, 4, last, 4);
        static leaves l;
        memset(&l, 0, sizeof(l));
        th_walk_tree(e.db, NULL, collect_leaf, &l);
        assert_true(l.n > 20);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        assert_true(l.gen[3] + 2 <= st.txnid);
        assert_true(l.gen[7] + 2 <= st.txnid);
        th_assert_rc(count_readable(e.db, 2000), 0);
        th_env_close(&e);
        /* Misdirected: leaf 3's bytes land on leaf 7's page. */
        uint8_t a[PS];
        uint8_t orig[PS];
        th_env_page_read(&e, l.pgno[3], a);
        th_env_page_read(&e, l.pgno[7], orig);
        th_env_page_write(&e, l.pgno[7], a);
        th_assert_rc(th_env_open(&e), CT_OK);
        int bad = count_readable(e.db, 2000);
        assert_true(bad > 0);
        assert_true(bad < 200);
        th_env_close(&e);
        /* Stale: leaf 7 restored but claiming generation+1, resealed. */
        memcpy(a, orig, PS);
        ct__put64(a + CT_PH_TXNID, l.gen[7] + 1);
        ct__page_seal(a, PS);
        th_env_page_write(&e, l.pgno[7], a);
        th_assert_rc(th_env_open(&e), CT_OK);
        assert_int_equal(count_readable(e.db, 2000), bad);
        ct_check_report rep;
        th_assert_rc(ct_check(e.db, &rep), CT_CORRUPT);
        assert_true(rep.problems > 0);
        th_env_close(&e);
        /* Restored: all readable and clean again. */
        th_env_page_write(&e, l.pgno[7], orig);
        th_assert_rc(th_env_open(&e), CT_OK);
        assert_int_equal(count_readable(e.db, 2000), 0);
        th_check_clean(e.db);
        th_env_destroy(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_endian_roundtrip),
        cmocka_unit_test(test_leaf_roundtrip),
        cmocka_unit_test(test_overflow_ref_cell),
        cmocka_unit_test(test_overflow_ref_vlen_validated),
        cmocka_unit_test(test_branch_roundtrip),
        cmocka_unit_test(test_crc32c_paths_agree),
        cmocka_unit_test(test_crc_detects_every_bit_flip),
        cmocka_unit_test(test_wrong_identity_is_corrupt),
        cmocka_unit_test(test_meta_roundtrip),
        cmocka_unit_test(test_meta_free_entries),
        cmocka_unit_test(test_node_validate_rejects),
        cmocka_unit_test(test_search_matches_linear),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_key_cmp_matches_bytewise),
        cmocka_unit_test(test_engine_catches_misdirected_and_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
