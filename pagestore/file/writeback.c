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
 *   - [lo, hi) covers every eligible write since the last kick, and
 *     pending counts their bytes; a kick empties both;
 *   - a kick never fails a write: any error is ignored, and ENOSYS,
 *     EINVAL or ESPIPE (no such call, or not for this file) turn it off
 *     for the store's life.
 * Never: kick pages the engine rewrites soon (tree nodes inside the file):
 * writing them out early would write them twice or more (a random fill
 * ran at half speed when every write was kicked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>

#include "fs.h"

/* Nothing noted since the last kick. */
static void start_over(ct__fs_writeback *w)
{
    w->pending = 0;
    w->lo = UINT64_MAX;
    w->hi = 0;
}

void ct__fs_writeback_init(ct__fs_writeback *w, int enabled, uint64_t threshold_bytes)
{
    w->enabled = enabled;
    w->threshold = threshold_bytes ? threshold_bytes : CT_FS_WRITEBACK_DEFAULT_BYTES;
    start_over(w);
}

void ct__fs_writeback_note(ct__fs_writeback *w, const ct_filestore_syscalls *sys, int fd,
                           uint64_t off, uint64_t len)
{
    if (!w->enabled || len == 0) {
        return;
    }
    w->pending += len;
    w->lo = off < w->lo ? off : w->lo;
    w->hi = off + len > w->hi ? off + len : w->hi;
    if (w->pending < w->threshold) {
        return;
    }
    if (sys->sync_file_range(fd, (off_t)w->lo, (off_t)(w->hi - w->lo), CT_FS_SFR_WRITE) != 0 &&
        (errno == ENOSYS || errno == EINVAL || errno == ESPIPE)) {
        w->enabled = 0;
    }
    start_over(w);
}
