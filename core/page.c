/*
 * page.c - seal (crc) and verify (crc, type, pgno, generation). Pure.
 */
#include "page.h"

#include <string.h>

#include "crc32c.h"
#include "debug.h"

void ct__page_init(uint8_t *p, uint8_t type, uint64_t pgno, uint64_t txnid)
{
    memset(p, 0, CT_PAGE_HDR_BYTES);
    p[CT_PH_TYPE] = type;
    ct__put64(p + CT_PH_PGNO, pgno);
    ct__put64(p + CT_PH_TXNID, txnid);
}

static uint32_t page_crc(const uint8_t *p, uint64_t run_bytes)
{
    return ct__crc32c(0, p + 4, (size_t)(run_bytes - 4));
}

void ct__page_seal(uint8_t *p, uint64_t run_bytes)
{
    ct__put32(p + CT_PH_CRC, page_crc(p, run_bytes));
}

int ct__page_verify(const uint8_t *p, uint64_t run_bytes, uint8_t type, uint64_t pgno,
                    uint64_t txnid)
{
    if (ct__get32(p + CT_PH_CRC) != page_crc(p, run_bytes)) {
        return CT__CORRUPT(pgno, "checksum mismatch");
    }
    if (type != CT_PT_ANY && p[CT_PH_TYPE] != type) {
        return CT__CORRUPT(pgno, "unexpected page type");
    }
    if (ct__ph_pgno(p) != pgno) {
        return CT__CORRUPT(pgno, "page number mismatch (misdirected write?)");
    }
    if (ct__ph_txnid(p) != txnid) {
        return CT__CORRUPT(pgno, "generation mismatch (lost or stale write?)");
    }
    return CT_OK;
}
