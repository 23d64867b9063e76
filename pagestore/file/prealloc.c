/*
 * prealloc.c - disk blocks reserved ahead of a file that grows by writes
 * (ct_filestore_options.prealloc_max_bytes says why and how much).
 *
 * Invariants:
 *   - end_bytes is the end of the last reservation (or the file's length
 *     at open): a write ending at or below it reserves nothing. It grows
 *     only by a successful fallocate and shrinks only by a truncate;
 *   - every fallocate is FALLOC_FL_KEEP_SIZE: the file's length, and so
 *     size() and the mapped range, never change here;
 *   - the chunk past a write's end is max(1 MiB, min(end, cap)): it
 *     doubles with the file, so growth costs O(log size) calls.
 * Never: fails a write (preallocation is a hint), or retries a filesystem
 * that said it cannot (EOPNOTSUPP, ENOSYS: off for the store's life).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>

#include "fs.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01 /* Linux's value; elsewhere fallocate fails */
#endif

/* Largest offset + length fallocate may be asked for (off_t is signed). */
#define PREALLOC_END_MAX ((uint64_t)INT64_MAX)

void ct__fs_prealloc_init(ct__fs_prealloc *p, int enabled, uint64_t max_bytes, uint64_t file_bytes)
{
    p->enabled = enabled;
    p->max_bytes = max_bytes ? max_bytes : CT_FS_PREALLOC_MAX_DEFAULT;
    /* What an earlier opener reserved past the end is unknown: the first
       growing write reserves again (allocated ranges cost nothing). */
    p->end_bytes = file_bytes;
}

static uint64_t chunk_bytes(const ct__fs_prealloc *p, uint64_t end)
{
    uint64_t chunk = end < p->max_bytes ? end : p->max_bytes;
    if (chunk < CT_FS_PREALLOC_MIN_BYTES) {
        chunk = CT_FS_PREALLOC_MIN_BYTES;
    }
    return chunk < p->max_bytes ? chunk : p->max_bytes;
}

void ct__fs_prealloc_write(ct__fs_prealloc *p, const ct_filestore_syscalls *sys, int fd,
                           uint64_t off, uint64_t end)
{
    if (!p->enabled || end <= p->end_bytes || off >= end) {
        return;
    }
    uint64_t chunk = chunk_bytes(p, end);
    uint64_t to = end > PREALLOC_END_MAX - chunk ? PREALLOC_END_MAX : end + chunk;
    /* From the write's offset: a hole the engine left below it stays one. */
    if (sys->fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)(to - off)) == 0) {
        p->end_bytes = to;
    } else if (errno == EOPNOTSUPP || errno == ENOSYS) {
        p->enabled = 0; /* tmpfs, ext4 and xfs support it; others may not */
    }
    /* Any other failure (ENOSPC, EINTR, EIO): skip it; the write that
       follows reports what matters, and the next growing write retries. */
}

void ct__fs_prealloc_truncated(ct__fs_prealloc *p, uint64_t bytes)
{
    if (bytes < p->end_bytes) {
        p->end_bytes = bytes;
    }
}
