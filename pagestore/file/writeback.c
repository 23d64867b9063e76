/*
 * writeback.c - early writeback of write-once data (filestore.h,
 * writeback_bytes): after enough bytes of overflow runs and bulk appends,
 * ask the kernel to start writing them out (sync_file_range with
 * SYNC_FILE_RANGE_WRITE), so the sync that ends a bulk load or a batch of
 * large values finds most of them on their way already. It changes no
 * durability promise: the kernel may write any dirty page at any time, and
 * only a sync says what is durable.
 *
 * Invariants:
 *   - only the writer (write, writev) touches it: no lock;
 *   - range[0..nranges) cover every eligible write since the last kick,
 *     and no two of them touch or overlap: a write that meets ranges
 *     merges with them all, another starts a range. pending counts the
 *     bytes written; a kick hands over each range and empties them all;
 *   - a kick happens once pending reaches the threshold, or when a write
 *     needs a range and all CT_FS_WRITEBACK_RANGES are taken;
 *   - a kick never fails a write: any error is ignored, and ENOSYS,
 *     EINVAL or ESPIPE (no such call, or not for this file) turn it off
 *     for the store's life.
 * Never: kick pages the engine rewrites soon (tree nodes inside the file),
 * not even those that lie between two eligible writes: writing them out
 * early would write them twice or more (a random fill ran at half speed
 * when every write was kicked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>

#include "fs.h"

void ct__fs_writeback_init(ct__fs_writeback *w, int enabled, uint64_t threshold_bytes)
{
    w->enabled = enabled;
    w->threshold = threshold_bytes ? threshold_bytes : CT_FS_WRITEBACK_DEFAULT_BYTES;
    w->pending = 0;
    w->nranges = 0;
}

/* Hands every range over to the kernel and starts over. */
static void kick(ct__fs_writeback *w, const ct_filestore_syscalls *sys, int fd)
{
    for (uint32_t i = 0; i < w->nranges && w->enabled; i++) {
        off_t off = (off_t)w->range[i].lo;
        off_t len = (off_t)(w->range[i].hi - w->range[i].lo);
        if (sys->sync_file_range(fd, off, len, CT_FS_SFR_WRITE) != 0 &&
            (errno == ENOSYS || errno == EINVAL || errno == ESPIPE)) {
            w->enabled = 0;
        }
    }
    w->pending = 0;
    w->nranges = 0;
}

/* Whether [lo, hi) touches or overlaps range i. */
static int meets(const ct__fs_writeback *w, uint32_t i, uint64_t lo, uint64_t hi)
{
    return lo <= w->range[i].hi && hi >= w->range[i].lo;
}

/* Takes every range [*off, *end) meets out of the set and widens
   [*off, *end) to cover them. One pass finds them all: the ranges never
   meet each other, so one that missed the interval also misses it once
   grown by ranges it does not meet. */
static void absorb(ct__fs_writeback *w, uint64_t *off, uint64_t *end)
{
    for (uint32_t j = w->nranges; j-- > 0;) {
        if (!meets(w, j, *off, *end)) {
            continue;
        }
        *off = w->range[j].lo < *off ? w->range[j].lo : *off;
        *end = w->range[j].hi > *end ? w->range[j].hi : *end;
        w->range[j] = w->range[--w->nranges]; /* the last range fills j's slot */
    }
}

void ct__fs_writeback_note(ct__fs_writeback *w, const ct_filestore_syscalls *sys, int fd,
                           uint64_t off, uint64_t len)
{
    if (!w->enabled || len == 0) {
        return;
    }
    uint64_t lo = off;
    uint64_t hi = off + len;
    absorb(w, &lo, &hi);
    if (w->nranges == CT_FS_WRITEBACK_RANGES) {
        kick(w, sys, fd); /* no room, and [lo, hi) merged with none */
    }
    w->range[w->nranges].lo = lo;
    w->range[w->nranges].hi = hi;
    w->nranges++;
    w->pending += len;
    if (w->pending >= w->threshold) {
        kick(w, sys, fd);
    }
}
