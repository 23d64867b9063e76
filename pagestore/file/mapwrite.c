/*
 * mapwrite.c - the file store's fast path for rewrites: a page the store
 * wrote with pwrite since the last sync began is written again by a copy
 * into a writable shared mapping of the file instead of another pwrite.
 *
 * Why: between two syncs a random fill, an overwrite or a delete rewrites
 * the same few thousand tree pages commit after commit. Each pwrite of a
 * page costs the kernel a page-cache lookup, a write_begin, the copy and
 * the dirty marking, about 1 us here and 37% of a random fill's time (the
 * same share as LMDB's, which writes the same way). A store into a page
 * whose mapping is writable costs the copy alone: the kernel makes the
 * mapping writable at the first store after the page was cleaned (one
 * write fault) and leaves it so until writeback cleans the page again,
 * which a sync does. Measured (docs/bench.md): random fill, overwrite and
 * delete 29-40% faster.
 *
 * Same effect as pwrite: both change the page-cache page, which pread and
 * the read mapping see and fsync writes out; the kernel write-protects a
 * page before it writes it back, so a store during the writeback faults
 * and dirties the page again, as a pwrite would.
 *
 * What a store cannot do is fail with an error code: the kernel can only
 * raise SIGBUS. So a page goes through the mapping only when nothing but
 * a file system that shut down can make its store fault:
 *   1. the page lies wholly below the file's end (the store tracks it and
 *      holds the lock; a resize starts a new epoch, so a page a shrink
 *      dropped must be written with pwrite again first);
 *   2. the store wrote the page with pwrite in this epoch (since the last
 *      sync or resize began), so its disk blocks are allocated or reserved
 *      (delayed allocation): the fault needs no new block, no ENOSPC. This
 *      also keeps pwrite where a page is written once per sync (durable
 *      single puts): a store there would pay a write fault, not save one;
 *   3. the file system overwrites blocks in place: ext4, XFS, tmpfs
 *      (fstatfs at open). Copy-on-write ones (btrfs, ZFS, ...) allocate at
 *      every write fault and keep pwrite, as do unknown ones;
 *   4. Linux, no syscall table (a fault test sees every write), a
 *      writable store, and the option (ct_filestore_options.map_writes).
 * Left: a file system that shut down after a device error may refuse the
 * fault: SIGBUS in the committing thread instead of CT_IO (as with LMDB's
 * MDB_WRITEMAP; the file on disk is not harmed, the pages a commit writes
 * are reachable from no durable meta). map_writes = 0 trades the speed
 * for the error code.
 *
 * The writable mapping is the store's alone: the read path hands out
 * pointers into its own read-only mapping (map.c), so a caller's stray
 * write through a value pointer still faults.
 *
 * Epochs: epoch is bumped when a sync or resize begins (any thread for a
 * sync, so it is atomic); everything else here is the writer's, like the
 * store's other write state. A page is "seen" when its table slot holds
 * its number and the epoch's low 24 bits; the writer clears the table
 * before the epoch has moved 2^23 past the last clear, so equal low bits
 * mean an equal epoch. The table is direct-mapped by page number: a file
 * of at most CT_FS_SEEN_SLOTS_MAX pages has no collisions, and a
 * collision only sends a page through pwrite.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/vfs.h>
#endif

#include "fs.h"

#define SEEN_EPOCH_BITS 24u
#define SEEN_EPOCH_MASK (((uint64_t)1 << SEEN_EPOCH_BITS) - 1u)
/* Pages numbered at or past this always go through pwrite (their number
   does not fit beside the epoch; 2^40 pages are 4 PiB at 4 KiB). */
#define SEEN_PGNO_LIMIT ((uint64_t)1 << (64u - SEEN_EPOCH_BITS))
#define SEEN_CLEAR_EVERY ((uint64_t)1 << (SEEN_EPOCH_BITS - 1u))

/* f_type values (linux/magic.h) of file systems that overwrite in place. */
#define FS_MAGIC_EXT4 0xEF53u /* ext2, ext3 and ext4 share it */
#define FS_MAGIC_XFS 0x58465342u
#define FS_MAGIC_TMPFS 0x01021994u

static int overwrites_in_place(int fd)
{
#if defined(__linux__)
    struct statfs st;
    if (fstatfs(fd, &st) != 0) {
        return 0;
    }
    unsigned long type = (unsigned long)st.f_type;
    return type == FS_MAGIC_EXT4 || type == FS_MAGIC_XFS || type == FS_MAGIC_TMPFS;
#else
    (void)fd;
    return 0;
#endif
}

int ct__fs_mapwrite_init(ct__fs_mapwrite *w, int fd, uint32_t page_size, int enable)
{
    memset(w, 0, sizeof(*w));
    atomic_init(&w->epoch, (uint64_t)1);
    atomic_init(&w->mapped_pages, (uint64_t)0);
    w->enabled = enable && overwrites_in_place(fd);
    return ct__fs_map_init(&w->map, fd, page_size, w->enabled, 1);
}

static uint64_t seen_tag(uint64_t pgno, uint64_t epoch)
{
    return (pgno << SEEN_EPOCH_BITS) | (epoch & SEEN_EPOCH_MASK);
}

/* The epoch to tag with now; clears the table when the epoch has moved so
   far that its low bits could repeat an old tag's. */
static uint64_t current_epoch(ct__fs_mapwrite *w)
{
    uint64_t e = atomic_load_explicit(&w->epoch, memory_order_acquire);
    if (e - w->cleared_at >= SEEN_CLEAR_EVERY) {
        if (w->seen) {
            memset(w->seen, 0, (size_t)w->slots * sizeof(*w->seen));
        }
        w->cleared_at = e;
    }
    return e;
}

void *ct__fs_mapwrite_target(ct__fs_mapwrite *w, uint64_t pgno, uint64_t file_bytes)
{
    if (!w->seen || pgno >= SEEN_PGNO_LIMIT) {
        return NULL;
    }
    uint64_t e = current_epoch(w);
    if (w->seen[pgno & (w->slots - 1u)] != seen_tag(pgno, e)) {
        return NULL;
    }
    return (void *)ct__fs_map_page(&w->map, pgno, file_bytes);
}

void ct__fs_mapwrite_copied(ct__fs_mapwrite *w, uint32_t npages)
{
    atomic_fetch_add_explicit(&w->mapped_pages, (uint64_t)npages, memory_order_relaxed);
}

/* Makes the table at least as large as the file (up to the cap), keeping
   the tags of the old one (a growing file would otherwise send every page
   through pwrite again at each doubling). */
static void size_table(ct__fs_mapwrite *w, uint64_t file_pages)
{
    if (w->slots >= CT_FS_SEEN_SLOTS_MAX || (w->seen && w->slots >= file_pages)) {
        return;
    }
    uint32_t slots = CT_FS_SEEN_SLOTS_MIN;
    while (slots < file_pages && slots < CT_FS_SEEN_SLOTS_MAX) {
        slots *= 2u;
    }
    uint64_t *seen = calloc(slots, sizeof(*seen));
    if (!seen) {
        return; /* keep the old table (or none: every write stays pwrite) */
    }
    for (uint32_t i = 0; i < w->slots; i++) {
        uint64_t tag = w->seen[i];
        if (tag) {
            seen[(tag >> SEEN_EPOCH_BITS) & (slots - 1u)] = tag;
        }
    }
    free(w->seen);
    w->seen = seen;
    w->slots = slots;
}

void ct__fs_mapwrite_note(ct__fs_mapwrite *w, uint64_t pgno, uint32_t npages,
                          uint64_t file_bytes)
{
    if (!w->enabled) {
        return;
    }
    size_table(w, file_bytes / w->map.page_size);
    if (!w->seen) {
        return;
    }
    uint64_t e = current_epoch(w);
    for (uint32_t k = 0; k < npages && pgno + k < SEEN_PGNO_LIMIT; k++) {
        w->seen[(pgno + k) & (w->slots - 1u)] = seen_tag(pgno + k, e);
    }
}

void ct__fs_mapwrite_new_epoch(ct__fs_mapwrite *w)
{
    atomic_fetch_add_explicit(&w->epoch, (uint64_t)1, memory_order_acq_rel);
}

uint64_t ct__fs_mapwrite_pages(ct__fs_mapwrite *w)
{
    return atomic_load_explicit(&w->mapped_pages, memory_order_relaxed);
}

void ct__fs_mapwrite_close(ct__fs_mapwrite *w)
{
    ct__fs_map_close(&w->map);
    free(w->seen);
    w->seen = NULL;
}
