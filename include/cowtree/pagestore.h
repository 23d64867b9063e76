/*
 * cowtree/pagestore.h - the page-store vtable: the only way the engine
 * touches storage (SQLite-VFS style).
 *
 * A store is a base struct (ct_pagestore) followed by the store's private
 * state; `ops` points at a const table. The table only ever grows at its
 * END, and optional slots may be NULL.
 *
 * Device-model contract every store must honour (and every store may do
 * to the engine):
 *   1. A write is not durable until a later sync() returns CT_OK.
 *   2. At a power cut each write issued since the last successful sync
 *      independently persists whole, not at all, or torn (each 512-byte
 *      sector old or new); unsynced writes persist in any order.
 *   3. sync() can fail; then unsynced writes are in an unknown state and a
 *      later successful sync does not vouch for them.
 *   4. read() can fail (CT_IO) or return rotted, misdirected or stale
 *      bytes: the engine verifies every page it reads.
 *   5. A sync can be lost (CT_OK, nothing persisted).
 * Stores return only CT_* codes (never errno values).
 *
 * Threads: read() and map() run on readers' threads while the writer
 * writes. Under CT_SYNC_GROUP, sync() runs on one thread while write() or
 * writev() of the next commits run on another (sync() vouches only for
 * writes that returned before it began); never two sync() calls at once,
 * and never resize() during a sync(). Everything else comes one at a time.
 */
#ifndef COWTREE_PAGESTORE_H
#define COWTREE_PAGESTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CT_API
#elif defined(__GNUC__)
#define CT_API __attribute__((visibility("default")))
#else
#define CT_API
#endif

/* Smallest and largest page sizes a store may have (powers of two). */
#define CT_PAGE_SIZE_MIN 512u
#define CT_PAGE_SIZE_MAX 65536u
/* The unit a power cut tears a write into. */
#define CT_SECTOR_SIZE 512u

typedef struct ct_pagestore ct_pagestore;

typedef struct ct_pagestore_ops {
    /* Read npages pages starting at pgno into buf (npages * page_size bytes).
       A page that was never written reads as zeros. Reading at or beyond
       size() is CT_INVALID. Fails with CT_IO; buf is then undefined. */
    int (*read)(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf);
    /* Write npages pages starting at pgno. Not durable until sync() returns
       CT_OK. The store grows itself to cover the write. Fails with CT_IO or
       CT_NOSPACE; the pages are then in an unknown state. */
    int (*write)(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf);
    /* Durability barrier: every write issued before it is durable when it
       returns CT_OK. On failure (CT_IO) the state of unsynced writes is
       unknown, and a later successful sync does not vouch for them. */
    int (*sync)(ct_pagestore *ps);
    /* Current size in pages. */
    int (*size)(ct_pagestore *ps, uint64_t *npages);
    /* Grow or shrink to npages pages (shrinking drops the tail). Like a
       write, not durable until the next successful sync. CT_IO, CT_NOSPACE. */
    int (*resize)(ct_pagestore *ps, uint64_t npages);
    /* Release the store and everything it owns. Never fails. */
    void (*close)(ct_pagestore *ps);
    /* OPTIONAL (may be NULL): zero-copy read access to page pgno, which must
       be below size(). The pointer stays valid and unchanged while the page
       is not rewritten (the engine never rewrites a page a live snapshot can
       reach), not dropped by a resize() below it (the engine never shrinks
       below a page a live snapshot can reach; a file store's pointer into a
       dropped tail faults), and until close(); it may return NULL, and the
       engine then falls back to read(). */
    const void *(*map)(ct_pagestore *ps, uint64_t pgno);
    /* OPTIONAL (may be NULL): write() gathered from separate buffers. Writes
       npages consecutive pages starting at pgno, page i taken from pages[i]
       (page_size bytes each; the buffers are borrowed for the call and may
       be anywhere). Same contract as write(): not durable until sync()
       returns CT_OK, the store grows itself to cover the write, and it
       fails with CT_IO or CT_NOSPACE, the pages then in an unknown state.
       To the device model it is ONE write of the whole run (it persists,
       drops or tears like a write() of the same bytes), so the engine may
       use either. When NULL, the engine copies runs into one buffer and
       calls write(). */
    int (*writev)(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages);
} ct_pagestore_ops;

struct ct_pagestore {
    const ct_pagestore_ops *ops;
    uint32_t page_size; /* bytes, power of two, CT_PAGE_SIZE_MIN..CT_PAGE_SIZE_MAX */
};

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_PAGESTORE_H */
