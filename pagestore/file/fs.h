/*
 * fs.h - private to pagestore/file/: the pieces the file store's sources
 * share (resolved syscall table, I/O loops, locking, errno mapping).
 * Nothing outside pagestore/file/ may include it. errno values stop here:
 * every function below that can fail returns a CT_* code.
 */
#ifndef CT_PAGESTORE_FILE_FS_H
#define CT_PAGESTORE_FILE_FS_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

/* Consecutive EINTRs (or zero-byte writes) tolerated before an I/O loop
   gives up with CT_IO: a loop must end even against a broken syscall. */
#define CT_FS_RETRY_MAX 1000

/* Fills every member of out: the user's override where it is non-NULL,
   the real system call otherwise. user may be NULL. */
void ct__fs_syscalls_resolve(const ct_filestore_syscalls *user, ct_filestore_syscalls *out);

/* CT_* code for a failed data syscall's errno (ENOSPC/EDQUOT/EFBIG ->
   CT_NOSPACE, ENOMEM -> CT_NOMEM, anything else -> CT_IO). */
int ct__fs_errno_rc(int err);

/* Reads len bytes at off, retrying EINTR and short reads; bytes past the
   end of the file read as zeros. CT_OK or CT_IO. */
int ct__fs_pread_full(const ct_filestore_syscalls *sys, int fd, void *buf, size_t len,
                      uint64_t off);

/* Writes len bytes at off, retrying EINTR and short writes.
   CT_OK, CT_IO or CT_NOSPACE. */
int ct__fs_pwrite_full(const ct_filestore_syscalls *sys, int fd, const void *buf, size_t len,
                       uint64_t off);

/* Takes the advisory lock for the life of fd: shared for a read-only
   store, exclusive otherwise; never waits. CT_OK, CT_BUSY, CT_NOMEM or
   CT_IO. */
int ct__fs_lock(int fd, int shared);

#endif /* CT_PAGESTORE_FILE_FS_H */
