/*
 * map.c - the file store's zero-copy read path (the vtable's optional map
 * slot): read-only MAP_SHARED mappings of the file that grow with it and
 * never move.
 *
 * Layout: the file's byte range is cut into chunks of doubling size.
 * Chunk k covers [C0 * (2^k - 1), C0 * (2^(k+1) - 1)) with C0 =
 * CT_FS_MAP_CHUNK0_BYTES, so chunk 0 is C0 bytes, chunk 1 2*C0, ... and
 * a file of n bytes needs about log2(n / C0) chunks: there is no map size
 * to guess. A chunk is mapped on first use, whole, even where it reaches
 * past the end of the file (the kernel allows that; only touching a page
 * past EOF raises SIGBUS, see below), and stays mapped until close.
 *
 * Invariants:
 *   1. A pointer handed out never moves and stays valid until close: a
 *      chunk, once mapped, is never unmapped or remapped before close.
 *   2. chunk[k] goes 0 -> address or 0 -> MAP_FAIL once, under mu; readers
 *      load it with acquire and never take mu when it is set (the hot path
 *      is two atomic loads and arithmetic).
 *   3. Only pages wholly below the file's length (as the store tracks it)
 *      are handed out, so a reader never gets a pointer that faults with
 *      SIGBUS: not a page at or past size(), not a partial last page. A
 *      shrink drops the pages past the new size from what map() hands out
 *      before the file is truncated (filestore.c); pointers to them handed
 *      out earlier must not be touched after the shrink, which the engine
 *      guarantees (it never shrinks below a page a live snapshot reaches).
 *   4. Chunk boundaries are multiples of C0, a multiple of every legal
 *      page size and of the system page size: no page straddles two chunks
 *      and every chunk's file offset is a legal mmap offset.
 * Coherence: pwrite and MAP_SHARED see the same page cache (Linux and
 * every system with a unified buffer cache), so a page rewritten with
 * pwrite reads its new bytes through the old pointer.
 * A second instance, writable (mapwrite.c), serves the store's own writes
 * and never hands a pointer out.
 * Never: maps the read path writable, unmaps before close, or lets errno
 * escape.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"

/* Marks a chunk whose mmap failed: map() then returns NULL for its pages
   (the engine falls back to read()) without retrying on every access. */
#define MAP_FAIL ((uintptr_t)-1)

int ct__fs_map_init(ct__fs_map *m, int fd, uint32_t page_size, int enable, int writable)
{
    m->fd = fd;
    m->prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
    m->page_size = page_size;
    m->page_shift = page_size ? (unsigned)__builtin_ctz(page_size) : 0u;
    m->enabled = 0;
    for (unsigned k = 0; k < CT_FS_MAP_CHUNKS_MAX; k++) {
        atomic_init(&m->chunk[k], (uintptr_t)0);
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        return CT_NOMEM;
    }
    long sys_page = sysconf(_SC_PAGESIZE);
    /* Invariant 4; otherwise every page goes through read(). C0 is a power
       of two, so a page size dividing it is one too (page_shift is exact). */
    m->enabled = enable && sys_page > 0 &&
                 CT_FS_MAP_CHUNK0_BYTES % (uint64_t)sys_page == 0 &&
                 CT_FS_MAP_CHUNK0_BYTES % page_size == 0;
    return CT_OK;
}

/* Maps chunk k (or records that it cannot be mapped); returns chunk[k]. */
static uintptr_t map_chunk(ct__fs_map *m, unsigned k)
{
    pthread_mutex_lock(&m->mu);
    uintptr_t c = atomic_load_explicit(&m->chunk[k], memory_order_acquire);
    if (c == 0) {
        uint64_t base = CT_FS_MAP_CHUNK0_BYTES * (((uint64_t)1 << k) - 1u);
        uint64_t len = CT_FS_MAP_CHUNK0_BYTES << k;
        void *p = MAP_FAILED;
        if (len <= SIZE_MAX && base <= (uint64_t)INT64_MAX - len) {
            p = mmap(NULL, (size_t)len, m->prot, MAP_SHARED, m->fd, (off_t)base);
        }
        if (p != MAP_FAILED && (m->prot & PROT_WRITE)) {
            /* A child of fork() must not inherit a way to write the file
               (a hint: the mapping works without it). */
            (void)madvise(p, (size_t)len, MADV_DONTFORK);
        }
        c = p == MAP_FAILED ? MAP_FAIL : (uintptr_t)p;
        atomic_store_explicit(&m->chunk[k], c, memory_order_release);
    }
    pthread_mutex_unlock(&m->mu);
    return c;
}

const void *ct__fs_map_page(ct__fs_map *m, uint64_t pgno, uint64_t file_bytes)
{
    /* Shifts, not divisions: this runs for every page a read descends
       through, and a 64-bit divide is tens of cycles. */
    if (!m->enabled || pgno >= file_bytes >> m->page_shift) {
        return NULL; /* disabled, past the end, or the partial last page */
    }
    uint64_t off = pgno << m->page_shift; /* < file_bytes: cannot wrap */
    uint64_t q = off / CT_FS_MAP_CHUNK0_BYTES + 1u;
    unsigned k = 63u - (unsigned)__builtin_clzll(q); /* floor(log2(q)), q >= 1 */
    if (k >= CT_FS_MAP_CHUNKS_MAX) {
        return NULL;
    }
    uintptr_t c = atomic_load_explicit(&m->chunk[k], memory_order_acquire);
    if (c == 0) {
        c = map_chunk(m, k);
    }
    if (c == MAP_FAIL) {
        return NULL;
    }
    uint64_t base = CT_FS_MAP_CHUNK0_BYTES * (((uint64_t)1 << k) - 1u);
    return (const unsigned char *)c + (size_t)(off - base);
}

void ct__fs_map_close(ct__fs_map *m)
{
    for (unsigned k = 0; k < CT_FS_MAP_CHUNKS_MAX; k++) {
        uintptr_t c = atomic_load_explicit(&m->chunk[k], memory_order_acquire);
        if (c != 0 && c != MAP_FAIL) {
            (void)munmap((void *)c, (size_t)(CT_FS_MAP_CHUNK0_BYTES << k));
        }
    }
    pthread_mutex_destroy(&m->mu);
}
