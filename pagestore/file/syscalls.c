/*
 * syscalls.c - the file store's seam to the kernel: the default table of
 * real system calls and the resolution of a caller's override table.
 * Tests inject faults by overriding members; production passes NULL.
 * Owns no state: the resolved table is copied into each store at open.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <unistd.h>

#include "fs.h"

static const ct_filestore_syscalls default_syscalls = {
    .pread = pread,
    .pwrite = pwrite,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .ftruncate = ftruncate,
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
}
