/*
 * cowtree/filestore.h - the production page store: a regular file written
 * with pwrite, read with pread or in place through read-only shared
 * mappings (the vtable's map slot, enable_map), and made durable with
 * fdatasync/fsync. The vtable's writev slot is pwritev: the engine's
 * coalesced runs go to the kernel from the page buffers, without a copy,
 * in calls of at most CT_FS_RUN_PIECE_BYTES (overflow runs) or
 * CT_FS_WRITE_PIECE_BYTES (tree pages).
 * With CT_FS_PREALLOC, a file that grows by writes is preallocated ahead
 * of its end in chunks (fallocate with FALLOC_FL_KEEP_SIZE; see
 * prealloc_max_bytes).
 *
 * The file is locked with an exclusive advisory lock (flock) for the life
 * of the store: a second opener, in this or another process, gets CT_BUSY.
 * When the file is created, its parent directory is synced so the file's
 * name is durable too. Descriptors are opened O_CLOEXEC.
 */
#ifndef COWTREE_FILESTORE_H
#define COWTREE_FILESTORE_H

#include <sys/types.h>
#include <sys/uio.h>

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* System calls the store uses; tests override them to inject faults.
   Each behaves like the POSIX call (returns -1 and sets errno on error).
   A NULL member means the real call. ct_filestore_open copies the table,
   so it need not outlive that call. Interrupted calls (EINTR) and short
   transfers are retried by the store, as with the real calls. */
typedef struct ct_filestore_syscalls {
    ssize_t (*pread)(int fd, void *buf, size_t count, off_t offset);
    ssize_t (*pwrite)(int fd, const void *buf, size_t count, off_t offset);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t length);
    /* writev: at most IOV_MAX entries per call; a short transfer resumes
       where it stopped, inside an iovec if need be. */
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
    /* Preallocation only, always with FALLOC_FL_KEEP_SIZE. Any failure is
       ignored (the write that follows reports a full disk); EOPNOTSUPP and
       ENOSYS turn preallocation off for the life of the store. Where the
       system has no fallocate the default fails with EOPNOTSUPP. */
    int (*fallocate)(int fd, int mode, off_t offset, off_t len);
    /* Early writeback only (writeback_bytes), always with flags
       SYNC_FILE_RANGE_WRITE (2): start writing a range out, wait for
       nothing. Any failure is ignored; ENOSYS, EINVAL and ESPIPE turn early
       writeback off for the life of the store. Where the system has no
       sync_file_range the default fails with ENOSYS. */
    int (*sync_file_range)(int fd, off_t offset, off_t nbytes, unsigned flags);
} ct_filestore_syscalls;

#define CT_FS_RDONLY 0x1u     /* open read-only (O_RDONLY, shared lock) */
#define CT_FS_NOCREATE 0x2u   /* a missing file is CT_NOTFOUND */
/* Preallocate ahead of the end (see prealloc_max_bytes). Off by default:
   on ext4, writes into preallocated (unwritten) extents made the bench's
   fillrandom 2.5x slower (bench/README.md); worth it where extents matter
   more than write speed (a nearly full or fragmenting file system). */
#define CT_FS_PREALLOC 0x4u
/* No early writeback (see writeback_bytes). */
#define CT_FS_NO_WRITEBACK 0x8u

/* Bytes at most per pwrite or pwritev call, which never crosses a
   multiple of it in the file (a pwritev call still takes a whole page when
   a page is larger). The page cache gives a buffered write a folio as
   large as the write (Linux 6.x, ext4), and every later write into part
   of a folio walks all its blocks: with 256-KiB pieces for everything,
   that walk (ext4_block_write_begin) was 24% of a 1M-key deleterandom's
   samples. But a fault on a mapped read maps a whole folio at once, so
   small folios slow reads (64-KiB values read 2-3x slower from 16-KiB
   folios), and creating four times the folios slows a bulk load. Hence:
     - write() (one buffer: a page, an overflow run) and, in writev(),
       pages whose memory continues into a neighbour's (one multi-page
       buffer: an overflow run, read as a whole) go in pieces of
       CT_FS_RUN_PIECE_BYTES (1 MiB): a commit's 64-KiB values reach the
       kernel in one call, as LMDB writes them, and a mapped read of them
       took 1,228 faults per 4,000 gets where 256-KiB pieces took 1,624
       (LMDB 1,114); gets 0.83-0.86x LMDB's before, 0.95-0.98x after. The
       price: their pages, once freed and reused for tree nodes, sit in
       folios of up to 256 blocks; a random fill into such pages ran 3-4%
       slower (docs/bench.md, twentieth stop). Past 1 MiB a folio would
       straddle the 2-MiB page-table boundaries of the chunks map() uses,
       which start at odd multiples of 1 MiB;
     - other writev() pages (tree nodes, each rewritten alone later) in
       pieces of CT_FS_NODE_PIECE_BYTES (one page a call if pages are
       larger), except in a writev that starts at or past the file's end
       while at least half of the pages recently written (by write or
       writev, over about CT_FS_WRITE_MIX_PAGES of them) grew the file: a
       bulk load, as a sequential fill, whose pages are seldom rewritten
       soon, goes in pieces of CT_FS_WRITE_PIECE_BYTES;
     - one call never mixes the two kinds, except in a writev that holds
       an overflow run and is a bulk write as above (a batch of large
       values appended at the file's end): it goes whole in run pieces,
       with the few tree pages its commit placed among the values, so a
       folio can hold the values on both sides of a tree page (4,000 cold
       64-KiB gets: 1,128 faults instead of 1,228; LMDB, which writes a
       commit's pages in one call, 1,114).
   An allocator that hands out page buffers back to back makes tree nodes
   look like one buffer (glibc's chunk headers keep them apart). With it,
   at 1M keys, overwrite ran 23-34% and deleterandom 13-19% faster, reads
   as fast; fillseq at 3M a median 6% lower, inside its spread
   (docs/bench.md). */
#define CT_FS_RUN_PIECE_BYTES ((size_t)1 << 20)
#define CT_FS_WRITE_PIECE_BYTES ((size_t)256 << 10)
#define CT_FS_NODE_PIECE_BYTES ((size_t)16 << 10)
#define CT_FS_WRITE_MIX_PAGES 8192u

/* A write that starts past the file's end by at most this many pages
   first writes zeros over the pages between, so the file keeps no hole
   below its end: rewrites go through the writable mapping only in a file
   without holes (ct_filestore_options.map_writes), and the engine leaves
   such small gaps
   where it starts a large value at an aligned page (docs/format.md). A
   larger gap stays a hole. */
#define CT_FS_GAP_FILL_PAGES 16u

/* Default and first preallocation chunk (see prealloc_max_bytes). */
#define CT_FS_PREALLOC_MAX_DEFAULT ((uint64_t)64 << 20)
#define CT_FS_PREALLOC_MIN_BYTES ((uint64_t)1 << 20)

/* Default bytes of write-once data between early writebacks (see
   writeback_bytes). */
#define CT_FS_WRITEBACK_DEFAULT_BYTES ((uint64_t)4 << 20)

typedef struct ct_filestore_options {
    uint32_t page_size; /* 0 = 4096 */
    unsigned flags;     /* CT_FS_RDONLY, CT_FS_NOCREATE, CT_FS_PREALLOC */
    int full_fsync;     /* 1: fsync; 0 (default): fdatasync where enough */
    const ct_filestore_syscalls *syscalls; /* borrowed; NULL in production */
    /* 1 (default): provide the vtable's map slot, zero-copy reads through
       read-only shared mappings of the file (mmap), so the engine reads
       pages in place instead of copying them with pread. The mappings grow
       with the file in chunks of doubling size (no map size to configure),
       are never moved or unmapped before close (so the address space
       stays at the largest size the file had, also after it shrinks; a
       pointer into a tail a resize dropped faults), and take address
       space, not memory: the pages are the kernel's page cache. map() returns
       NULL (the engine then uses read()) for a page at or past size(), for
       a partial last page and when mmap fails. map() bypasses the syscall
       table: a test injecting read faults through pread sets 0.
       Trade-off: a disk error while the kernel pages a mapped page in
       raises SIGBUS in the reading thread instead of returning CT_IO
       (as with LMDB), and the engine verifies a mapped page on its first
       access through a handle, not on every access (ct_check verifies
       all). The mappings take address space up to about twice the file.
       0: map is NULL, every read goes through pread. */
    int enable_map;
    /* Preallocation cap in bytes; 0 = CT_FS_PREALLOC_MAX_DEFAULT (64 MiB).
       When a write reaches past the end of what the store has allocated,
       it first reserves disk blocks from the write's offset to the write's
       end plus a chunk: the file's size after the write, at least
       CT_FS_PREALLOC_MIN_BYTES (1 MiB) and at most this cap. So the
       reservation doubles as the file grows (about log2(size / 1 MiB)
       calls, then one per cap) and what lies reserved past the end stays
       below max(file size, 1 MiB) and the cap. Why: blocks allocated in
       large chunks ahead of the data give fewer, longer extents and keep
       block allocation out of most writes. 1 MiB is the first map chunk,
       a few hundred pages, cheap for a tiny database; 64 MiB bounds the
       disk a database that stopped growing holds in reserve. KEEP_SIZE
       leaves size() and st_size alone (only st_blocks shows it); shrinking
       (resize) truncates, which frees the blocks past the new end.
       Only with CT_FS_PREALLOC, never for read-only stores. */
    uint64_t prealloc_max_bytes;
    /* Early writeback, in bytes; 0 = CT_FS_WRITEBACK_DEFAULT_BYTES (4 MiB).
       Once this many bytes of write-once data were written since the last
       time, the store asks the kernel to start writing them out
       (sync_file_range, SYNC_FILE_RANGE_WRITE: nothing waits), so the sync
       that ends a bulk load or a batch of large values has less left to
       write. Write-once data: a write of an overflow run (one buffer of
       several pages), and a write past the file's end while the store sees
       a bulk load (the rule of CT_FS_WRITE_PIECE_BYTES above). The store
       hands over the ranges those writes cover (up to 8 separate ones,
       sooner when more come), never the pages between them. Tree nodes
       rewritten inside the file are never kicked: they may be rewritten
       before the sync, and writing every write out early ran a random fill
       at half speed. Measured (docs/bench.md): sequential fill 10-13%
       faster, 64-KiB puts 13-20% faster, other workloads within the noise.
       Durability is unchanged: only a sync makes anything durable.
       Off with CT_FS_NO_WRITEBACK, and for read-only stores. */
    uint64_t writeback_bytes;
    /* 1 (default): a tree page the store already wrote with pwrite since
       the last sync is written again by a copy into a writable shared
       mapping of the file (the store's own; readers keep the read-only
       one), which spares the kernel's per-page write path: random fill,
       overwrite and delete 29-40% faster (docs/bench.md). Same effect on
       the file as pwrite, same durability (a sync writes both out). Only
       where the copy's page fault needs no new disk block: pages below
       the file's end, in a file with no hole or fallocated (unwritten)
       extent below its end, that the
       store wrote with pwrite since the last sync, on ext2/3/4 or tmpfs
       (Linux only; XFS, btrfs, ZFS, NFS and the rest keep pwrite), with
       enable_map on and no syscall table (fault tests see every write);
       pagestore/file/mapwrite.c has why each. Trade-off, as enable_map's:
       when the kernel wrote such a page back and evicted it before the
       copy, the copy reads it in, and a disk read error there raises
       SIGBUS in the committing thread instead of returning CT_IO (so may
       an ext4 short of space whose journal aborted); a stray write of the
       process into the writable mapping changes the file, as with LMDB's
       MDB_WRITEMAP (children of fork() do not inherit it). 0: every
       write is a pwrite. ct_filestore_mapped_pages counts the pages
       written by copies. Costs up to 2 MiB (a table of the pages written
       since the last sync) and address space like enable_map's. */
    int map_writes;
} ct_filestore_options;

/* Sets the defaults: page_size 4096, enable_map 1, map_writes 1,
   everything else 0 (no preallocation). */
CT_API void ct_filestore_options_init(ct_filestore_options *opt);

/* Pages ps has written through its writable mapping since it was opened
   (map_writes); 0 for a store that never did and for any store that is
   not a file store. */
CT_API uint64_t ct_filestore_mapped_pages(ct_pagestore *ps);

/* Opens or creates the file at path. opt NULL = defaults.
   A partial last page (a crash while the file grew) counts as a page and
   reads zero-filled past the end of the file.
   Errors: CT_INVALID (NULL path/out, bad page size), CT_NOTFOUND (missing with
   CT_FS_NOCREATE), CT_BUSY (locked by another opener, or leased by
   another process: the open would wait for the lease's break),
   CT_READONLY (no permission to write), CT_IO, CT_NOMEM. An open a
   signal interrupts (EINTR) is retried. A failed sync makes every later
   write and sync of the store fail with CT_IO (poisoned); resize too.
   Reads stay available. Read-only stores (CT_FS_RDONLY) take a shared lock;
   their write and resize are CT_READONLY and their sync a no-op (CT_OK).
   A missing file opened CT_FS_RDONLY is CT_NOTFOUND (never created); a path
   naming a directory or other non-regular file (a FIFO, a socket, a
   device), or that cannot name a file (a component that is no directory,
   symbolic links in a loop, a name too long), is CT_INVALID, without
   waiting for a FIFO's other end. Symbolic links are followed, and one
   whose target does not exist yet creates the target. The file's length
   is read once the lock is held. A writable open of an empty file (a new
   one, or one whose creator stopped before its first commit) also fsyncs
   the directory holding it (the target's, through links), so its name
   survives a power cut. A write or resize that would grow the file past
   the process's file-size limit (RLIMIT_FSIZE) is CT_NOSPACE before
   anything is written: the kernel would otherwise raise SIGXFSZ, which
   ends the process unless it is ignored. */
CT_API int ct_filestore_open(const char *path, const ct_filestore_options *opt,
                             ct_pagestore **out);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_FILESTORE_H */
