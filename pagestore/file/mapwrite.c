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
 * and dirties the page again, and the next sync writes it whole. One
 * difference: pwrite copies under the page lock, a copy does not, so a
 * writeback (the kernel's flusher, or a sync on another thread) that
 * starts in the middle of a copy may put a page on disk half old and half
 * new. That is a torn write, which the device model already inflicts:
 * the engine only ever writes pages no durable commit reaches and the meta
 * slot that does not hold the durable commit, and a crash before the
 * commit's sync leaves them unreferenced (or the meta failing its CRC).
 *
 * What a store cannot do is fail with an error code: the kernel can only
 * raise SIGBUS. So a page goes through the mapping only when its fault
 * needs no new disk block and reads nothing from the disk in the usual
 * case:
 *   1. the page lies wholly below the file's end (the store tracks it and
 *      holds the lock; a resize starts a new epoch, so a page a shrink
 *      dropped must be written with pwrite again first);
 *   2. the file has no hole and no unwritten (fallocated) extent below its
 *      end (lseek SEEK_HOLE and FIEMAP at open, and again once per epoch
 *      after a write past the end or a growing resize may have made one).
 *      The kernel makes a whole folio writable at a fault, up to 256 pages
 *      on ext4 since 6.16, and a hole anywhere in it would need a block
 *      then: SIGBUS on a full disk (a review reproduced it with a file
 *      ct_copy left sparse, read sequentially);
 *   3. the store wrote the page with pwrite in this epoch (since the last
 *      sync or resize began): its blocks are allocated or reserved, and
 *      the page is in the page cache, dirty (no read at the fault). This
 *      also keeps pwrite where a page is written once per sync (durable
 *      single puts): a store there would pay a write fault, not save one;
 *   4. the file system overwrites blocks in place: ext2/3/4 and tmpfs
 *      (fstatfs at open). Not XFS (a reflink copy, cp's default there,
 *      shares blocks, and the first write of a shared block allocates),
 *      nor btrfs, ZFS and other copy-on-write or network file systems;
 *   5. Linux, the read mapping on (enable_map: whoever turns it off wants
 *      no SIGBUS at all), no syscall table (a fault test sees every
 *      write), a writable store, and the option (map_writes).
 * Left (filestore.h says it to the user): the kernel may write a page back
 * and evict it between its pwrite and the copy; the fault then reads it
 * first, and a read error there is SIGBUS, as a read through the read
 * mapping is. A file system in its low-space mode (ext4 without delayed
 * allocation then) whose journal aborted may refuse such a fault too. A
 * stray write anywhere in the process that lands in the writable mapping
 * changes the file, as with LMDB's MDB_WRITEMAP; children of fork() do not
 * inherit the mapping (MADV_DONTFORK). Another process that truncates the
 * file despite the lock makes the copy fault, as it makes readers fault.
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
#include <unistd.h>

#if defined(__linux__)
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#endif

#include "fs.h"

#define SEEN_EPOCH_BITS 24u
#define SEEN_EPOCH_MASK (((uint64_t)1 << SEEN_EPOCH_BITS) - 1u)
/* Pages numbered at or past this always go through pwrite (their number
   plus one does not fit beside the epoch; 2^40 pages are 4 PiB at 4 KiB). */
#define SEEN_PGNO_LIMIT (((uint64_t)1 << (64u - SEEN_EPOCH_BITS)) - 1u)
#define SEEN_CLEAR_EVERY ((uint64_t)1 << (SEEN_EPOCH_BITS - 1u))

/* f_type values (linux/magic.h) of file systems that overwrite in place.
   Not XFS: a file whose blocks a reflink copy shares (cp's default there)
   allocates at every first write of a block. */
#define FS_MAGIC_EXT4 0xEF53u /* ext2, ext3 and ext4 share it */
#define FS_MAGIC_TMPFS 0x01021994u
/* hole_from when no hole below the file's end is known. */
#define NO_HOLE UINT64_MAX

static int overwrites_in_place(int fd)
{
#if defined(__linux__)
    struct statfs st;
    if (fstatfs(fd, &st) != 0) {
        return 0;
    }
    unsigned long type = (unsigned long)st.f_type;
    return type == FS_MAGIC_EXT4 || type == FS_MAGIC_TMPFS;
#else
    (void)fd;
    return 0;
#endif
}

#if defined(__linux__)
/* Extents asked for per FIEMAP call (56 bytes each). */
#define FIEMAP_BATCH 64u

/* The first unwritten extent (fallocated, never written) in [from, to):
   its start, or to. A file system without FIEMAP (tmpfs) has none to
   report and none that a fault would convert; any other failure counts as
   one at from. Why unwritten extents count as holes: on ext4 without
   delayed allocation, the first write fault converts the folio's other
   unwritten blocks, and splitting an extent may take a new block (a review
   reproduced SIGBUS once ext4's reserved blocks were gone). */
static uint64_t find_unwritten(int fd, uint64_t from, uint64_t to)
{
    size_t bytes = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
    struct fiemap *q = malloc(bytes);
    if (!q) {
        return from;
    }
    uint64_t found = to;
    uint64_t at = from;
    while (at < to) {
        memset(q, 0, bytes);
        q->fm_start = at;
        q->fm_length = to - at;
        q->fm_extent_count = FIEMAP_BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, q) != 0) {
            found = (errno == EOPNOTSUPP || errno == ENOTTY) ? to : from;
            break;
        }
        if (q->fm_mapped_extents == 0) {
            break; /* the rest is a hole, which SEEK_HOLE reported */
        }
        uint64_t before = at;
        int last = 0;
        for (uint32_t i = 0; i < q->fm_mapped_extents && !last; i++) {
            const struct fiemap_extent *e = &q->fm_extents[i];
            if (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN) {
                found = e->fe_logical > from ? e->fe_logical : from;
                at = to;
                break;
            }
            last = (e->fe_flags & FIEMAP_EXTENT_LAST) != 0;
            at = e->fe_logical + e->fe_length;
        }
        if (last) {
            break;
        }
        if (at <= before) {
            found = from; /* no progress: a broken answer counts as a hole */
            break;
        }
    }
    free(q);
    return found;
}
#endif

/* The first hole, or unwritten extent, at or past from below file_bytes,
   or NO_HOLE. A failed lseek counts as a hole at from (no copies until a
   later check). */
static uint64_t find_hole(int fd, uint64_t from, uint64_t file_bytes)
{
    if (from >= file_bytes) {
        return NO_HOLE;
    }
    off_t h = lseek(fd, (off_t)from, SEEK_HOLE);
    if (h < 0) {
        return from;
    }
    uint64_t hole = (uint64_t)h < file_bytes ? (uint64_t)h : file_bytes;
#if defined(__linux__)
    hole = find_unwritten(fd, from, hole);
#endif
    return hole >= file_bytes ? NO_HOLE : hole;
}

int ct__fs_mapwrite_init(ct__fs_mapwrite *w, int fd, uint32_t page_size, int enable,
                         uint64_t file_bytes)
{
    memset(w, 0, sizeof(*w));
    atomic_init(&w->epoch, (uint64_t)1);
    atomic_init(&w->mapped_pages, (uint64_t)0);
    w->fd = fd;
    w->enabled = enable && overwrites_in_place(fd);
    w->hole_from = w->enabled ? find_hole(fd, 0, file_bytes) : NO_HOLE;
    w->hole_epoch = 1;
    return ct__fs_map_init(&w->map, fd, page_size, w->enabled, 1);
}

/* Never 0, the empty slot: page numbers are stored plus one. */
static uint64_t seen_tag(uint64_t pgno, uint64_t epoch)
{
    return ((pgno + 1u) << SEEN_EPOCH_BITS) | (epoch & SEEN_EPOCH_MASK);
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

/* Whether the file has no hole below file_bytes (rule 2). A hole once
   seen is looked for again once per epoch: the pwrites since may have
   filled it. */
static int hole_free(ct__fs_mapwrite *w, uint64_t epoch, uint64_t file_bytes)
{
    if (w->hole_from >= file_bytes) {
        return 1;
    }
    if (w->hole_epoch != epoch) {
        w->hole_epoch = epoch;
        w->hole_from = find_hole(w->fd, w->hole_from, file_bytes);
    }
    return w->hole_from >= file_bytes;
}

void *ct__fs_mapwrite_target(ct__fs_mapwrite *w, uint64_t pgno, uint64_t file_bytes)
{
    if (!w->seen || pgno >= SEEN_PGNO_LIMIT) {
        return NULL;
    }
    uint64_t e = current_epoch(w);
    if (w->seen[pgno & (w->slots - 1u)] != seen_tag(pgno, e) || !hole_free(w, e, file_bytes)) {
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
            seen[((tag >> SEEN_EPOCH_BITS) - 1u) & (slots - 1u)] = tag;
        }
    }
    free(w->seen);
    w->seen = seen;
    w->slots = slots;
}

void ct__fs_mapwrite_note(ct__fs_mapwrite *w, uint64_t pgno, uint32_t npages, uint64_t file_bytes)
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

void ct__fs_mapwrite_may_hole(ct__fs_mapwrite *w, uint64_t from)
{
    if (from < w->hole_from) {
        w->hole_from = from;
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
