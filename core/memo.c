/*
 * memo.c - the verified-page memo: for each page number, the generation
 * (txn id) at which a page read through the store's map() last passed full
 * verification (crc, pgno, generation, type, node validation), so
 * ct__page_get verifies a mapped page once per handle instead of on every
 * access.
 *
 * Layout: chunks of doubling size, like the file store's mappings. Chunk k
 * holds the entries of pages [C0 * (2^k - 1), C0 * (2^(k+1) - 1)), C0 =
 * CT_MEMO_CHUNK0_PAGES; a chunk is allocated (zeroed) by the first thread
 * that notes a page in it and installed with a compare-and-swap, and lives
 * until the handle closes. Memory: 8 bytes per page up to about twice the
 * high-water mark; pages at or past CT_MEMO_PAGES_MAX are simply always
 * verified.
 *
 * Soundness (why a hit may skip verification):
 *   1. Generations are never reused within a handle: a write txn's id is
 *      spent as soon as its commit starts, whether or not it succeeds
 *      (commit.c), recovery puts next_txnid above every id it saw (and a
 *      read-write open fences a whole window above), so (pgno, gen) names
 *      one page image.
 *   2. The engine writes a page only under a new generation and never
 *      rewrites a page a live snapshot can reach, so while any reader can
 *      follow a pointer (pgno, gen) the bytes behind map(pgno) are the ones
 *      verified. A pointer that is wrong (stale, misdirected, corrupt) is
 *      caught on a hit too: the caller also compares the header's pgno,
 *      generation and type with the pointer's, and any mismatch falls back
 *      to full verification, which reports the corruption.
 *   3. A fresh handle starts with an empty memo: a crash, a reopen or
 *      another process's writes are always verified again.
 *   4. Only concrete types are noted (never CT_PT_ANY), so a hit never
 *      skips node validation a typed request would have done.
 *   5. A commit notes the leaf, branch and overflow pages it wrote once
 *      every store write succeeded (commit.c): this handle built and
 *      sealed those bytes itself, which is what a verification would
 *      have established; a write the device dropped or misdirected leaves
 *      another header behind map(pgno), which 2's comparison catches.
 *   6. An overflow run is noted only where map() showed its pages
 *      contiguous (pager.c, commit.c); map() pointers do not change while
 *      their pages are not rewritten (pagestore.h), so a hit on a run a
 *      snapshot reaches also vouches for the contiguity.
 * Entry 0 means "not verified"; no page has generation 0.
 * Concurrency: readers and the writer note and look up without a lock;
 * entries are atomics (a racing note of an older generation only costs a
 * later miss). Must never: report an error (failing to allocate a chunk
 * only leaves pages unmemoized), or skip a check the caller asked for on a
 * miss.
 */
#include "internal.h"

/* Chunk k and the index of pgno inside it; 0 when pgno is past the memo. */
static int locate(uint64_t pgno, unsigned *k, uint64_t *idx)
{
    if (pgno >= CT_MEMO_PAGES_MAX) {
        return 0;
    }
    uint64_t q = pgno / CT_MEMO_CHUNK0_PAGES + 1u;
    *k = 63u - (unsigned)__builtin_clzll(q); /* floor(log2(q)), q >= 1 */
    *idx = pgno - CT_MEMO_CHUNK0_PAGES * (((uint64_t)1 << *k) - 1u);
    return 1;
}

int ct__memo_hit(ct_db *db, uint64_t pgno, uint64_t gen)
{
    unsigned k = 0;
    uint64_t idx = 0;
    if (gen == 0 || !locate(pgno, &k, &idx)) {
        return 0;
    }
    _Atomic uint64_t *c = atomic_load_explicit(&db->memo[k], memory_order_acquire);
    return c && atomic_load_explicit(&c[idx], memory_order_acquire) == gen;
}

void ct__memo_note(ct_db *db, uint64_t pgno, uint64_t gen, uint8_t type)
{
    unsigned k = 0;
    uint64_t idx = 0;
    if (gen == 0 || type == CT_PT_ANY || !locate(pgno, &k, &idx)) {
        return;
    }
    _Atomic uint64_t *c = atomic_load_explicit(&db->memo[k], memory_order_acquire);
    if (!c) {
        uint64_t n = (uint64_t)CT_MEMO_CHUNK0_PAGES << k; /* 64-bit: k reaches 23 */
        if (n > SIZE_MAX / sizeof(*c)) {
            return; /* this chunk cannot exist in this address space */
        }
        _Atomic uint64_t *fresh = ct__calloc(&db->alloc, (size_t)n, sizeof(*fresh));
        if (!fresh) {
            return; /* no memo for these pages: they stay verified per access */
        }
        _Atomic uint64_t *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&db->memo[k], &expected, fresh,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            c = fresh;
        } else {
            ct__free(&db->alloc, (void *)fresh); /* another thread won */
            c = expected;
        }
    }
    atomic_store_explicit(&c[idx], gen, memory_order_release);
}

void ct__memo_free(ct_db *db)
{
    for (unsigned k = 0; k < CT_MEMO_CHUNKS_MAX; k++) {
        _Atomic uint64_t *c = atomic_load_explicit(&db->memo[k], memory_order_acquire);
        ct__free(&db->alloc, (void *)c);
        atomic_store_explicit(&db->memo[k], NULL, memory_order_relaxed);
    }
}
