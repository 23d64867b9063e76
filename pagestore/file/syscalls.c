/*
 * syscalls.c - the file store's seam to the kernel: the default table of
 * real system calls and the resolution of a caller's override table.
 * Tests inject faults by overriding members; production passes NULL.
 * Owns no state: the resolved table is copied into each store at open.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"

#if !defined(__linux__)
/* No fallocate here: preallocation turns itself off (filestore.h). */
static int no_fallocate(int fd, int mode, off_t offset, off_t len)
{
    (void)fd;
    (void)mode;
    (void)offset;
    (void)len;
    errno = EOPNOTSUPP;
    return -1;
}
#define fallocate no_fallocate
#endif

#if defined(__linux__)
_Static_assert(CT_FS_SFR_WRITE == SYNC_FILE_RANGE_WRITE, "fs.h's flag is Linux's");

static int real_sync_file_range(int fd, off_t offset, off_t nbytes, unsigned flags)
{
    return sync_file_range(fd, offset, nbytes, flags);
}
#else
/* No sync_file_range here: early writeback turns itself off (filestore.h). */
static int real_sync_file_range(int fd, off_t offset, off_t nbytes, unsigned flags)
{
    (void)fd;
    (void)offset;
    (void)nbytes;
    (void)flags;
    errno = ENOSYS;
    return -1;
}
#endif

static const ct_filestore_syscalls default_syscalls = {
    .pread = pread,
    .pwrite = pwrite,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .ftruncate = ftruncate,
    .pwritev = pwritev,
    .fallocate = fallocate,
    .sync_file_range = real_sync_file_range,
};

void ct__fs_syscalls_resolve(const ct_filestore_syscalls *user, ct_filestore_syscalls *out)
{
    *out = default_syscalls;
    if (!user) {
        return;
    }
    /* Member by member: a test overrides only the call it breaks. */
    if (user->pread) {
        out->pread = user->pread;
    }
    if (user->pwrite) {
        out->pwrite = user->pwrite;
    }
    if (user->fsync) {
        out->fsync = user->fsync;
    }
    if (user->fdatasync) {
        out->fdatasync = user->fdatasync;
    }
    if (user->ftruncate) {
        out->ftruncate = user->ftruncate;
    }
    if (user->pwritev) {
        out->pwritev = user->pwritev;
    }
    if (user->fallocate) {
        out->fallocate = user->fallocate;
    }
    if (user->sync_file_range) {
        out->sync_file_range = user->sync_file_range;
    }
}
