/*
 * fs.h - private to pagestore/file/: the pieces the file store's sources
 * share (resolved syscall table, I/O loops, locking, errno mapping).
 * Nothing outside pagestore/file/ may include it. errno values stop here:
 * every function below that can fail returns a CT_* code.
 */
#ifndef CT_PAGESTORE_FILE_FS_H
#define CT_PAGESTORE_FILE_FS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

/* iovecs per pwritev call: IOV_MAX (the kernel rejects more with EINVAL),
   at most 1024 so the array fits on the stack (16 KiB). */
#if defined(IOV_MAX) && IOV_MAX < 1024
#define CT_FS_IOV_BATCH IOV_MAX
#else
#define CT_FS_IOV_BATCH 1024
#endif

/* Consecutive EINTRs (or zero-byte writes) tolerated before an I/O loop
   gives up with CT_IO: a loop must end even against a broken syscall. */
#define CT_FS_RETRY_MAX 1000

/* Fills every member of out: the user's override where it is non-NULL,
   the real system call otherwise. user may be NULL. */
void ct__fs_syscalls_resolve(const ct_filestore_syscalls *user, ct_filestore_syscalls *out);

/* CT_* code for a failed data syscall's errno (ENOSPC/EDQUOT/EFBIG ->
   CT_NOSPACE, anything else, ENOMEM included, -> CT_IO: the two codes
   the vtable's write, writev and resize may return). */
int ct__fs_errno_rc(int err);

/* Reads len bytes at off, retrying EINTR and short reads; bytes past the
   end of the file read as zeros. CT_OK or CT_IO. */
int ct__fs_pread_full(const ct_filestore_syscalls *sys, int fd, void *buf, size_t len,
                      uint64_t off);

/* Writes len bytes at off in calls of at most CT_FS_RUN_PIECE_BYTES,
   retrying EINTR and short writes. CT_OK, CT_IO or CT_NOSPACE. */
int ct__fs_pwrite_full(const ct_filestore_syscalls *sys, int fd, const void *buf, size_t len,
                       uint64_t off);

/* Whether page k of pages is part of a multi-page buffer (an overflow
   run): its memory continues into a neighbour's. */
int ct__fs_in_run(const void *const *pages, uint32_t npages, uint32_t page_size, uint32_t k);

/* Whether some page of pages continues into the next one's memory: the
   writev carries (part of) an overflow run, which writes in
   CT_FS_RUN_PIECE_BYTES pieces and counts as write-once data. */
int ct__fs_holds_run(const void *const *pages, uint32_t npages, uint32_t page_size);

/* Writes npages pages of page_size bytes, page i from pages[i], at off
   with pwritev: at most CT_FS_IOV_BATCH iovecs and (unless one page is
   more) CT_FS_RUN_PIECE_BYTES per call for the pages of one buffer,
   node_piece for pages from separate buffers, the two kinds in separate
   calls unless mix_kinds (then every page goes in CT_FS_RUN_PIECE_BYTES
   pieces), retrying EINTR and short writes (resuming inside a page).
   CT_OK, CT_IO or CT_NOSPACE. */
int ct__fs_pwritev_full(const ct_filestore_syscalls *sys, int fd, const void *const *pages,
                        uint32_t npages, uint32_t page_size, uint64_t off, size_t node_piece,
                        int mix_kinds);

/* Takes the advisory lock for the life of fd: shared for a read-only
   store, exclusive otherwise; never waits. CT_OK, CT_BUSY, CT_NOMEM or
   CT_IO. */
int ct__fs_lock(int fd, int shared);

/* ---- prealloc.c: disk blocks reserved ahead of a growing file ---------- */

/* Only the writer (write, writev, resize) touches it: no lock. */
typedef struct ct__fs_prealloc {
    int enabled;        /* 0: off (option, read-only, or no fallocate) */
    uint64_t max_bytes; /* cap of one chunk */
    uint64_t end_bytes; /* blocks below this are believed allocated */
} ct__fs_prealloc;

/* Sets p up for a file of file_bytes bytes; max_bytes 0 = the default. */
void ct__fs_prealloc_init(ct__fs_prealloc *p, int enabled, uint64_t max_bytes, uint64_t file_bytes);
/* Called before a write of [off, end): reserves [off, end + chunk) when end
   lies past p->end_bytes. Never fails: preallocation is only a hint. */
void ct__fs_prealloc_write(ct__fs_prealloc *p, const ct_filestore_syscalls *sys, int fd,
                           uint64_t off, uint64_t end);
/* The file was truncated to bytes (which drops blocks past it). */
void ct__fs_prealloc_truncated(ct__fs_prealloc *p, uint64_t bytes);

/* ---- writeback.c: early writeback of write-once data --------------------- */

/* sync_file_range's SYNC_FILE_RANGE_WRITE (Linux's value: the table's
   member takes it on every system; elsewhere the default fails). */
#define CT_FS_SFR_WRITE 2u

/* Separate file ranges of eligible writes kept between kicks: a kick
   covers exactly these, never a page between two of them (filestore.h). */
#define CT_FS_WRITEBACK_RANGES 8u

/* Only the writer (write, writev) touches it: no lock. */
typedef struct ct__fs_writeback {
    int enabled;        /* 0: off (option, read-only, or no such call) */
    uint64_t threshold; /* bytes of eligible writes between kicks */
    uint64_t pending;   /* eligible bytes written since the last kick */
    uint32_t nranges;   /* the byte ranges they cover, disjoint */
    struct {
        uint64_t lo, hi;
    } range[CT_FS_WRITEBACK_RANGES];
} ct__fs_writeback;

/* Sets w up; threshold_bytes 0 = CT_FS_WRITEBACK_DEFAULT_BYTES. */
void ct__fs_writeback_init(ct__fs_writeback *w, int enabled, uint64_t threshold_bytes);
/* After a successful eligible write of [off, off + len): counts it and,
   past the threshold, starts writeback of the range noted so far. Never
   fails: early writeback is only a hint. */
void ct__fs_writeback_note(ct__fs_writeback *w, const ct_filestore_syscalls *sys, int fd,
                           uint64_t off, uint64_t len);

/* ---- map.c: the zero-copy read path ------------------------------------- */

/* Bytes of the first mapping chunk; chunk k is CT_FS_MAP_CHUNK0_BYTES << k
   bytes. 1 MiB: a multiple of every legal page size (<= 64 KiB) and of
   every common system page size, and small enough that a tiny database
   maps little address space. */
#define CT_FS_MAP_CHUNK0_BYTES ((uint64_t)1 << 20)
/* Chunks 0..42 cover 2^62 bytes with C0 = 1 MiB, the most an off_t file can
   hold that the doubling layout reaches (chunk 43 would end past 2^63). */
#define CT_FS_MAP_CHUNKS_MAX 43u

typedef struct ct__fs_map {
    int enabled; /* 0: map() always returns NULL */
    int fd;      /* the store's: borrowed */
    int prot;    /* PROT_READ, or PROT_READ | PROT_WRITE (mapwrite.c's) */
    uint32_t page_size;
    unsigned page_shift; /* log2(page_size): enabled implies a power of two */
    pthread_mutex_t mu;  /* serialises mapping a chunk */
    _Atomic uintptr_t chunk[CT_FS_MAP_CHUNKS_MAX]; /* 0, an address or MAP_FAIL */
} ct__fs_map;

/* Sets m up for fd (nothing is mapped yet), read-only unless writable.
   enable 0, or a system page size that does not divide the chunk size,
   leaves map() returning NULL. CT_OK or CT_NOMEM (mutex). */
int ct__fs_map_init(ct__fs_map *m, int fd, uint32_t page_size, int enable, int writable);

/* Address of page pgno in the mapping, or NULL when pgno is not wholly
   below file_bytes, the mapping is disabled or mmap failed. Safe from any
   thread; takes m->mu only the first time a chunk is needed. */
const void *ct__fs_map_page(ct__fs_map *m, uint64_t pgno, uint64_t file_bytes);

/* Unmaps every chunk: every pointer handed out becomes invalid. */
void ct__fs_map_close(ct__fs_map *m);

/* ---- mapwrite.c: rewrites through a writable mapping -------------------- */

/* Slots of the table of pages written in this epoch: at least the file's
   pages, between these bounds (8 bytes each: 32 KiB to 2 MiB; files up to
   1 GiB at 4 KiB pages have one slot per page). */
#define CT_FS_SEEN_SLOTS_MIN 4096u
#define CT_FS_SEEN_SLOTS_MAX (1u << 18)

typedef struct ct__fs_mapwrite {
    int enabled;                   /* mapwrite.c's rules 4 and 5 */
    ct__fs_map map;                /* writable; never handed out */
    _Atomic uint64_t epoch;        /* bumped when a sync or resize begins */
    _Atomic uint64_t mapped_pages; /* pages copied through the map */
    uint64_t cleared_at;           /* epoch of the table's last clear */
    int fd;                        /* the store's: borrowed */
    uint64_t hole_from;            /* lowest offset that may be a hole, or UINT64_MAX */
    uint64_t hole_epoch;           /* epoch hole_from was last looked for in */
    uint64_t *seen;                /* slots tags (pgno, epoch), or NULL */
    uint32_t slots;                /* a power of two, or 0 */
} ct__fs_mapwrite;

/* Sets w up for fd, a file of file_bytes bytes; enable 0 (or a file
   system that does not overwrite in place, or a system other than Linux)
   turns it off for good. CT_OK or CT_NOMEM. */
int ct__fs_mapwrite_init(ct__fs_mapwrite *w, int fd, uint32_t page_size, int enable,
                         uint64_t file_bytes);
/* Where page pgno may be written by a copy now (mapwrite.c's rules 1-3),
   or NULL: write it with pwrite. Writer only. */
void *ct__fs_mapwrite_target(ct__fs_mapwrite *w, uint64_t pgno, uint64_t file_bytes);
/* Counts npages pages copied through the map. */
void ct__fs_mapwrite_copied(ct__fs_mapwrite *w, uint32_t npages);
/* Pages pgno..pgno+npages-1 were written with pwrite (the file is
   file_bytes long now). Writer only. */
void ct__fs_mapwrite_note(ct__fs_mapwrite *w, uint64_t pgno, uint32_t npages, uint64_t file_bytes);
/* The file may have a hole from byte offset from on (a write past its
   end, a resize that grew it). Writer only. */
void ct__fs_mapwrite_may_hole(ct__fs_mapwrite *w, uint64_t from);
/* A sync or resize begins: no page counts as written any more. */
void ct__fs_mapwrite_new_epoch(ct__fs_mapwrite *w);
/* Pages copied through the map since init. */
uint64_t ct__fs_mapwrite_pages(ct__fs_mapwrite *w);
void ct__fs_mapwrite_close(ct__fs_mapwrite *w);

#endif /* CT_PAGESTORE_FILE_FS_H */
