/*
 * lock.c - the cross-process guard of a file store: a flock() advisory
 * lock held for the life of the descriptor. Read-write stores take it
 * exclusive, read-only ones shared, so two writers (or a writer and a
 * reader) in different processes, or through two opens in one process,
 * never share a file: the second gets CT_BUSY instead of corrupting it.
 * Never blocks. The lock goes away with the descriptor (close or exit).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sys/file.h>

#include "fs.h"

int ct__fs_lock(int fd, int shared)
{
    int op = (shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    for (int tries = 0; tries < CT_FS_RETRY_MAX; tries++) {
        if (flock(fd, op) == 0) {
            return CT_OK;
        }
        if (errno == EWOULDBLOCK) {
            return CT_BUSY;
        }
        if (errno == ENOMEM) {
            return CT_NOMEM;
        }
        if (errno != EINTR) {
            return CT_IO; /* ENOLCK and friends: we cannot guarantee exclusion */
        }
    }
    return CT_IO;
}
