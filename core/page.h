/*
 * page.h - the common page header and its seal/verify (pure: no I/O).
 *
 * Header layout (32 bytes, little-endian, docs/format.md):
 *   0  u32 crc32c  over bytes [4, run_bytes) of the page (or overflow run)
 *   4  u8  type    CT_PT_*
 *   5  u8  flags   0
 *   6  u16 count   cells (leaf/branch), entries (free list)
 *   8  u64 pgno    the page's own number
 *  16  u64 txnid   the txn that wrote it (its generation)
 *  24  u32 upper   leaf/branch: start of the cell area; overflow: pages in run
 *  28  u32 aux     overflow: value bytes; leaf/branch: the bytes every key
 *                  shares (node.h); otherwise 0
 * A page read from the store is verified before use: crc, type, pgno and
 * generation; any mismatch is CT_CORRUPT.
 */
#ifndef CT_CORE_PAGE_H
#define CT_CORE_PAGE_H

#include <stdint.h>

#include "endian.h"
#include "limits.h"

enum {
    CT_PT_META = 1,
    CT_PT_BRANCH = 2,
    CT_PT_LEAF = 3,
    CT_PT_OVERFLOW = 4,
    CT_PT_FREELIST = 5,
    CT_PT_ANY = 0 /* verify_page: accept any type */
};

#define CT_PH_CRC 0u
#define CT_PH_TYPE 4u
#define CT_PH_FLAGS 5u
#define CT_PH_COUNT 6u
#define CT_PH_PGNO 8u
#define CT_PH_TXNID 16u
#define CT_PH_UPPER 24u
#define CT_PH_AUX 28u

_Static_assert(CT_PH_AUX + 4u == CT_PAGE_HDR_BYTES, "page header is 32 bytes");

static inline uint8_t ct__ph_type(const uint8_t *p) { return p[CT_PH_TYPE]; }
static inline uint16_t ct__ph_count(const uint8_t *p) { return ct__get16(p + CT_PH_COUNT); }
static inline uint64_t ct__ph_pgno(const uint8_t *p) { return ct__get64(p + CT_PH_PGNO); }
static inline uint64_t ct__ph_txnid(const uint8_t *p) { return ct__get64(p + CT_PH_TXNID); }
static inline uint32_t ct__ph_upper(const uint8_t *p) { return ct__get32(p + CT_PH_UPPER); }
static inline uint32_t ct__ph_aux(const uint8_t *p) { return ct__get32(p + CT_PH_AUX); }
static inline void ct__ph_set_count(uint8_t *p, uint16_t v) { ct__put16(p + CT_PH_COUNT, v); }
static inline void ct__ph_set_upper(uint8_t *p, uint32_t v) { ct__put32(p + CT_PH_UPPER, v); }

/* Writes a fresh header (crc left 0 until seal). */
void ct__page_init(uint8_t *p, uint8_t type, uint64_t pgno, uint64_t txnid);
/* Computes and stores the crc over run_bytes bytes. */
void ct__page_seal(uint8_t *p, uint64_t run_bytes);
/* Verifies crc, type (unless CT_PT_ANY), pgno and txnid. CT_OK or CT_CORRUPT. */
int ct__page_verify(const uint8_t *p, uint64_t run_bytes, uint8_t type, uint64_t pgno,
                    uint64_t txnid);

#endif
