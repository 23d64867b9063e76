/*
 * fuzz_page.c - libFuzzer target, white-box: one page through the pure
 * routines of core/ (page.c, node.c, meta.c). Untrusted bytes may only be
 * reported CT_CORRUPT (or CT_VERSION by the meta decoder); a page that
 * ct__node_validate accepts must be safe for every node routine, and the
 * routines must agree with a plain linear model: searches, rebuild,
 * insert and delete keep the page valid and ordered.
 *
 * Input format (zeros past the end, see fuzz_common.h):
 *   byte 0   bits 0-1 page size 512 << n; bits 2-3 type: 0 leaf, 1 branch,
 *            2 leaf, 3 as in the bytes (meta, free list... paths)
 *   page     sparse: u16 head length, bytes at the start of the page, u16
 *            tail length, bytes at its end, zeros between
 *   rest     probes, up to PROBES_MAX: key (length byte, bytes), a byte
 *            for the insert's value length and the delete index
 *
 * ct__node_validate once let pages with overlapping cells pass (an insert
 * then built a page it rejected); the corpus keeps that input as
 * regress-validate-accepts-overlapping-cells.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "internal.h"

#define PROBES_MAX 16u

static int key_at(const uint8_t *p, int leaf, uint32_t i, const uint8_t **k, size_t *klen)
{
    const uint8_t *c = ct__node_cell(p, i);
    *k = leaf ? ct__leaf_key(c) : ct__branch_key(c);
    *klen = leaf ? ct__leaf_klen(c) : ct__branch_klen(c);
    return 0;
}

/* Searches must agree with a linear scan. */
static void check_search(const uint8_t *p, int leaf, const uint8_t *key, size_t klen)
{
    uint32_t n = ct__ph_count(p);
    const uint8_t *k = NULL;
    size_t kl = 0;
    if (leaf) {
        int found = 0;
        uint32_t got = ct__leaf_search(p, key, klen, &found);
        uint32_t want = 0;
        while (want < n && (key_at(p, 1, want, &k, &kl), fz_key_cmp(k, kl, key, klen) < 0)) {
            want++;
        }
        int want_found = want < n && (key_at(p, 1, want, &k, &kl), fz_key_cmp(k, kl, key, klen) == 0);
        FZ_CHECK(got == want && found == want_found, "leaf search: %u/%d, linear %u/%d", got,
                 found, want, want_found);
        return;
    }
    uint32_t got = ct__branch_search(p, key, klen);
    uint32_t want = 0;
    for (uint32_t i = 1; i < n; i++) {
        key_at(p, 0, i, &k, &kl);
        if (fz_key_cmp(k, kl, key, klen) <= 0) {
            want = i;
        }
    }
    FZ_CHECK(got == want, "branch search: %u, linear %u", got, want);
}

/* Rebuilding a valid node from its refs gives a valid node, same cells. */
static void check_rebuild(const uint8_t *p, uint32_t ps, int leaf, size_t key_max)
{
    uint32_t n = ct__ph_count(p);
    ct__cellref *refs = calloc(n ? n : 1, sizeof(*refs));
    uint8_t *out = malloc(ps);
    FZ_CHECK(refs && out, "out of memory");
    ct__node_refs(p, refs);
    ct__node_build(out, ps, ct__ph_type(p), ct__ph_pgno(p), ct__ph_txnid(p), refs, n);
    FZ_RC(ct__node_validate(out, ps, key_max), CT_OK);
    FZ_CHECK(ct__ph_count(out) == n, "rebuild count");
    FZ_CHECK(ct__node_used_bytes(out) == ct__node_used_bytes(p), "rebuild used bytes");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *a = NULL;
        const uint8_t *b = NULL;
        size_t al = 0;
        size_t bl = 0;
        key_at(p, leaf, i, &a, &al);
        key_at(out, leaf, i, &b, &bl);
        FZ_CHECK(fz_key_cmp(a, al, b, bl) == 0, "rebuild key %u", i);
        if (leaf) {
            const uint8_t *ca = ct__node_cell(p, i);
            FZ_CHECK(memcmp(ca, ct__node_cell(out, i), ct__leaf_cell_bytes(ca)) == 0,
                     "rebuild cell %u", i);
        }
    }
    free(refs);
    free(out);
}

/* Inserts key (with a small inline value, or as a separator) if absent;
   the page must stay valid and find it, or the insert must not fit. */
static void check_insert(uint8_t *p, uint32_t ps, int leaf, size_t key_max, const uint8_t *key,
                         size_t klen, uint8_t vsel, uint8_t *scratch)
{
    if (klen > key_max) {
        return;
    }
    uint8_t cell[CT_PAGE_SIZE_MAX / 4];
    uint32_t len = 0;
    uint32_t idx = 0;
    if (leaf) {
        int found = 0;
        idx = ct__leaf_search(p, key, klen, &found);
        size_t vlen = vsel % 64u;
        uint8_t val[64];
        fz_val_fill(val, vlen, vsel);
        len = ct__leaf_cell_size(klen, vlen, (vsel & 0x80u) != 0);
        if (found || len > ct__cell_max_bytes(ps)) {
            return;
        }
        ct__leaf_cell_encode(cell, key, klen, val, vlen, (vsel & 0x80u) != 0, 99, 7);
    } else {
        uint32_t at = ct__branch_search(p, key, klen);
        const uint8_t *k = NULL;
        size_t kl = 0;
        key_at(p, 0, at, &k, &kl);
        if (at > 0 && fz_key_cmp(k, kl, key, klen) == 0) {
            return; /* an equal separator exists */
        }
        idx = at + 1;
        len = CT_BRANCH_CELL_FIXED + (uint32_t)klen;
        ct__put64(cell, 1234);
        ct__put64(cell + 8, 5);
        ct__put16(cell + 16, (uint16_t)klen);
        memcpy(cell + CT_BRANCH_CELL_FIXED, key, klen);
    }
    uint32_t n = ct__ph_count(p);
    uint32_t used = ct__node_used_bytes(p);
    if (ct__node_insert(p, ps, idx, cell, len, scratch) != 0) {
        FZ_CHECK(used + CT_SLOT_BYTES + len > ps - CT_PAGE_HDR_BYTES,
                 "insert refused with room: used %u len %u", used, len);
        return;
    }
    FZ_RC(ct__node_validate(p, ps, key_max), CT_OK);
    FZ_CHECK(ct__ph_count(p) == n + 1, "insert count");
    const uint8_t *k = NULL;
    size_t kl = 0;
    key_at(p, leaf, idx, &k, &kl);
    FZ_CHECK(fz_key_cmp(k, kl, key, klen) == 0, "inserted key not at %u", idx);
}

static void check_delete(uint8_t *p, uint32_t ps, int leaf, size_t key_max, uint8_t sel)
{
    uint32_t n = ct__ph_count(p);
    if (n == 0 || (!leaf && n < 3)) {
        return;
    }
    uint32_t idx = leaf ? sel % n : 1u + sel % (n - 1u); /* branch cell 0 stays */
    ct__node_delete(p, idx);
    FZ_RC(ct__node_validate(p, ps, key_max), CT_OK);
    FZ_CHECK(ct__ph_count(p) == n - 1, "delete count");
}

/* Decoders that take any bytes: only their documented codes. */
static void other_decoders(const uint8_t *p, uint32_t ps)
{
    int rc = ct__page_verify(p, ps, CT_PT_ANY, ct__ph_pgno(p), ct__ph_txnid(p));
    FZ_CHECK(rc == CT_OK || rc == CT_CORRUPT, "page_verify: %s", ct_errname(rc));
    for (int slot = 0; slot < 2; slot++) {
        ct__meta m;
        rc = ct__meta_decode(p, ps, slot, &m);
        FZ_CHECK(rc == CT_OK || rc == CT_CORRUPT || rc == CT_VERSION, "meta_decode: %s",
                 ct_errname(rc));
        if (rc == CT_OK) {
            FZ_CHECK(m.hwm >= 2 && m.page_size == ps && m.durable_base <= m.txnid,
                     "meta accepted out-of-range fields");
        }
    }
    (void)ct__meta_foreign_size(p, ps);
    ct__tree tr;
    rc = ct__bucket_desc_decode(p + CT_PAGE_HDR_BYTES, CT_BUCKET_DESC_BYTES, &tr);
    FZ_CHECK(fz_is_ct_code(rc), "bucket_desc_decode: %d", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t cfg = fz_u8(&in);
    uint32_t ps = 512u << (cfg & 3u);
    unsigned tsel = (cfg >> 2) & 3u;
    uint8_t *p = calloc(1, ps);
    uint8_t *scratch = malloc(ps);
    FZ_CHECK(p && scratch, "out of memory");
    uint32_t head = fz_u16(&in);
    head = head < ps ? head : ps;
    fz_bytes(&in, p, head);
    uint32_t tail = fz_u16(&in);
    tail = tail < ps - head ? tail : ps - head;
    fz_bytes(&in, p + ps - tail, tail);
    if (tsel != 3) {
        p[CT_PH_TYPE] = tsel == 1 ? (uint8_t)CT_PT_BRANCH : (uint8_t)CT_PT_LEAF;
    }
    other_decoders(p, ps);
    uint8_t type = ct__ph_type(p);
    size_t key_max = ct__key_max_bytes(ps);
    int rc = ct__node_validate(p, ps, key_max);
    FZ_CHECK(rc == CT_OK || rc == CT_CORRUPT, "node_validate: %s", ct_errname(rc));
    if (rc == CT_OK && (type == CT_PT_LEAF || type == CT_PT_BRANCH)) {
        int leaf = type == CT_PT_LEAF;
        FZ_CHECK(ct__node_used_bytes(p) <= ps - CT_PAGE_HDR_BYTES, "used bytes");
        check_rebuild(p, ps, leaf, key_max);
        for (unsigned i = 0; i < PROBES_MAX && !fz_empty(&in); i++) {
            uint8_t key[256];
            size_t klen = fz_u8(&in);
            fz_bytes(&in, key, klen);
            uint8_t sel = fz_u8(&in);
            check_search(p, leaf, key, klen);
            check_insert(p, ps, leaf, key_max, key, klen, sel, scratch);
            check_search(p, leaf, key, klen);
            check_delete(p, ps, leaf, key_max, sel);
        }
        check_rebuild(p, ps, leaf, key_max);
    }
    free(scratch);
    free(p);
    return 0;
}
