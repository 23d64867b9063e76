/*
 * io.c - whole-buffer positional I/O for the file store: pread, pwrite and
 * pwritev loops that retry EINTR and short transfers, zero-fill reads past
 * the end of the file, and turn errno into a CT_* code. Stateless; every loop is
 * bounded (progress or CT_FS_RETRY_MAX consecutive non-progress retries).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "fs.h"

int ct__fs_errno_rc(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return CT_NOSPACE;
    default:
        return CT_IO; /* ENOMEM too: a store's write and resize promise
                         CT_IO or CT_NOSPACE (pagestore.h) */
    }
}

int ct__fs_pread_full(const ct_filestore_syscalls *sys, int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    size_t done = 0;
    int stalls = 0;
    while (done < len) {
        ssize_t n = sys->pread(fd, p + done, len - done, (off_t)(off + done));
        if (n > 0) {
            /* A store must never trust the syscall to stay in bounds. */
            if ((size_t)n > len - done) {
                return CT_IO;
            }
            done += (size_t)n;
            stalls = 0;
        } else if (n == 0) {
            /* End of file: a page never written (or the tail of a partial
               last page) reads as zeros, as the vtable promises. */
            memset(p + done, 0, len - done);
            return CT_OK;
        } else if (errno == EINTR && ++stalls < CT_FS_RETRY_MAX) {
            continue;
        } else {
            return CT_IO;
        }
    }
    return CT_OK;
}

/* One pwrite/pwritev result: the bytes moved (checked against want: never
   trust the syscall to stay in bounds), 0 to retry (EINTR, or nothing
   written and no error: retried, but at most CT_FS_RETRY_MAX times in a
   row), or a CT_* error (negative). */
static ssize_t write_result(ssize_t n, size_t want, int *stalls)
{
    if (n > 0) {
        *stalls = 0;
        return (size_t)n > want ? CT_IO : n;
    }
    if (n == 0 || errno == EINTR) {
        return ++*stalls >= CT_FS_RETRY_MAX ? CT_IO : 0;
    }
    return ct__fs_errno_rc(errno);
}

/* Bytes of the next write call at off with left bytes to go: up to the
   next multiple of piece, so pieces (and the page-cache folios they
   create) are aligned, as fault-around windows are. */
static size_t piece_bytes(uint64_t off, size_t left, size_t piece)
{
    size_t to_edge = piece - (size_t)(off % piece);
    return left < to_edge ? left : to_edge;
}

/* Whether page k's memory continues into page k + 1's. */
static int continues(const void *const *pages, uint32_t page_size, uint32_t k)
{
    return (const unsigned char *)pages[k + 1] == (const unsigned char *)pages[k] + page_size;
}

/* Page k of pages is part of a multi-page buffer (an overflow run) when
   its memory continues into a neighbour's. */
int ct__fs_in_run(const void *const *pages, uint32_t npages, uint32_t page_size, uint32_t k)
{
    return (k + 1 < npages && continues(pages, page_size, k)) ||
           (k > 0 && continues(pages, page_size, k - 1));
}

int ct__fs_holds_run(const void *const *pages, uint32_t npages, uint32_t page_size)
{
    for (uint32_t k = 0; k + 1 < npages; k++) {
        if (continues(pages, page_size, k)) {
            return 1;
        }
    }
    return 0;
}

int ct__fs_pwrite_full(const ct_filestore_syscalls *sys, int fd, const void *buf, size_t len,
                       uint64_t off)
{
    const unsigned char *p = buf;
    size_t done = 0;
    int stalls = 0;
    while (done < len) {
        size_t want = piece_bytes(off + done, len - done, CT_FS_RUN_PIECE_BYTES);
        ssize_t n = write_result(sys->pwrite(fd, p + done, want, (off_t)(off + done)), want,
                                 &stalls);
        if (n < 0) {
            return (int)n;
        }
        done += (size_t)n;
    }
    return CT_OK;
}

/* Fills iov from page k, byte skip of that page on, for a write at off:
   at most CT_FS_IOV_BATCH entries of pages that are all or none part of a
   multi-page buffer (any pages when mix_kinds), and no further than the
   piece edge for their kind (filestore.h has why), but at least one entry.
   Returns the count; *bytes gets their total. */
static int fill_iov(struct iovec *iov, const void *const *pages, uint32_t npages,
                    uint32_t page_size, uint32_t k, size_t skip, uint64_t off, size_t node_piece,
                    int mix_kinds, size_t *bytes)
{
    int cnt = 0;
    *bytes = 0;
    int run = mix_kinds || ct__fs_in_run(pages, npages, page_size, k);
    size_t room =
        piece_bytes(off, SIZE_MAX, run ? CT_FS_RUN_PIECE_BYTES : node_piece);
    for (; k < npages && cnt < CT_FS_IOV_BATCH; k++) {
        if (cnt > 0 && (*bytes + (page_size - skip) > room ||
                        (!mix_kinds && ct__fs_in_run(pages, npages, page_size, k) != run))) {
            break;
        }
        /* pwritev reads through iov_base only: the cast drops no promise. */
        iov[cnt].iov_base = (void *)((const unsigned char *)pages[k] + skip);
        iov[cnt].iov_len = page_size - skip;
        *bytes += iov[cnt].iov_len;
        skip = 0;
        cnt++;
    }
    return cnt;
}

int ct__fs_pwritev_full(const ct_filestore_syscalls *sys, int fd, const void *const *pages,
                        uint32_t npages, uint32_t page_size, uint64_t off, size_t node_piece,
                        int mix_kinds)
{
    struct iovec iov[CT_FS_IOV_BATCH];
    uint32_t k = 0;   /* first page not wholly written */
    size_t skip = 0;  /* bytes of page k already written */
    uint64_t done = 0;
    int stalls = 0;
    while (k < npages) {
        size_t want = 0;
        int cnt = fill_iov(iov, pages, npages, page_size, k, skip, off + done, node_piece,
                           mix_kinds, &want);
        ssize_t n = write_result(sys->pwritev(fd, iov, cnt, (off_t)(off + done)), want, &stalls);
        if (n < 0) {
            return (int)n;
        }
        done += (uint64_t)n;
        /* Advance (k, skip) by n bytes: a short write resumes mid-page. */
        size_t left = (size_t)n;
        while (left > 0) {
            size_t rest = page_size - skip;
            if (left < rest) {
                skip += left;
                break;
            }
            left -= rest;
            skip = 0;
            k++;
        }
    }
    return CT_OK;
}
