/*
 * metaslot.c - the little the simulator knows of the on-disk format
 * (docs/format.md): every page starts with a header whose CRC32C (bytes
 * 0..3, little-endian) covers the rest of the page, and whose txn id sits
 * at byte 16; pages 0 and 1 are the meta slots. Used to pick the newest
 * valid meta of a crash image and damage it (oracle.c, meta-loss images).
 * Pure reads of the durable image through ct_memstore_peek.
 */
#include <string.h>

#include "sim.h"

#define PH_TXNID 16u

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc_table[n] = c;
    }
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    if (crc_table[1] == 0) {
        crc_init();
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c = (c >> 8) ^ crc_table[(c ^ p[i]) & 0xffu];
    }
    return ~c;
}

static uint64_t le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

int sim_meta_slots(ct_pagestore *ps, sim_meta_info *out)
{
    uint8_t page[CT_PAGE_SIZE_MAX];
    uint32_t size = ps->page_size;
    memset(out, 0, sizeof(*out));
    for (int s = 0; s < 2; s++) {
        if (ct_memstore_peek(ps, (uint64_t)s, page) != CT_OK) {
            continue;
        }
        out->txnid[s] = le(page + PH_TXNID, 8);
        out->valid[s] = (uint32_t)le(page, 4) == crc32c(page + 4, size - 4);
    }
    return CT_OK;
}
