/*
 * filestore.c - the production page store: the ct_pagestore vtable over
 * one regular file, opened O_CLOEXEC and locked (lock.c) for its life.
 * write and writev share every check and all bookkeeping; only the
 * syscall loop differs (io.c). Both preallocate first (prealloc.c) and
 * report write-once data for early writeback after (writeback.c). A tree
 * page written again before a sync may go by a copy into a writable
 * mapping instead (mapwrite.c decides which); the rest stay pwrite.
 *
 * Invariants:
 *   - page p lives at byte offset p * page_size; size() is the file length
 *     in pages, rounded up (a partial last page reads zero-filled);
 *   - file_bytes mirrors the file length: we hold the lock, so only this
 *     store changes it. It is atomic because readers call read()/size()
 *     from their threads while the writer grows the file;
 *   - sticky state: OPEN --sync fails--> POISONED. A poisoned store
 *     refuses write, sync and resize with CT_IO until closed: after a
 *     failed fsync the kernel may have dropped the dirty pages and cleared
 *     the error, so a later "successful" sync would vouch for nothing.
 *   - map (map.c) hands out only pages wholly below file_bytes; a shrink
 *     lowers file_bytes before it truncates, so from then on no pointer
 *     into the dropped tail is handed out (SIGBUS would follow a touch).
 * Never: lets errno cross the API, aborts, or reads/writes outside the
 * range the arguments name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* Mode of a newly created database file (before the umask). */
#define FS_CREATE_MODE 0644
/* Largest byte offset a file can address: off_t is signed. */
#define FS_OFF_MAX ((uint64_t)(((uint64_t)1 << (sizeof(off_t) * 8u - 1u)) - 1u))
#define FS_FLAGS_ALL (CT_FS_RDONLY | CT_FS_NOCREATE | CT_FS_PREALLOC | CT_FS_NO_WRITEBACK)

typedef struct fs_store {
    ct_pagestore base; /* first: the engine only ever sees this */
    int fd;
    unsigned flags;
    int full_fsync;
    atomic_int poisoned;
    _Atomic uint64_t file_bytes;
    uint64_t page_max; /* pages addressable through off_t */
    ct_filestore_syscalls sys;
    ct__fs_map map;             /* the zero-copy read path (map.c) */
    ct__fs_prealloc prealloc;   /* blocks reserved ahead (prealloc.c); writer only */
    ct__fs_writeback writeback; /* early writeback (writeback.c); writer only */
    ct__fs_mapwrite mapwrite;   /* rewrites through a writable map (mapwrite.c) */
    /* Pages recently written past the file's end and inside it (writer
       only; both halved once their sum passes CT_FS_WRITE_MIX_PAGES). */
    uint64_t wrote_past;
    uint64_t wrote_inside;
    unsigned char *zeros; /* CT_FS_GAP_FILL_PAGES zero pages, made at first use */
} fs_store;

static fs_store *store_of(ct_pagestore *ps)
{
    return (fs_store *)ps;
}

static uint64_t pages_of(const fs_store *fs, uint64_t bytes)
{
    return bytes / fs->base.page_size + (bytes % fs->base.page_size != 0);
}

/* After a failed write or truncate the length is unknown: ask the kernel. */
static void refresh_size(fs_store *fs)
{
    struct stat st;
    if (fstat(fs->fd, &st) == 0 && st.st_size >= 0) {
        atomic_store(&fs->file_bytes, (uint64_t)st.st_size);
    }
}

/* Checks buf/npages and sets *len_bytes; CT_INVALID when they are unusable. */
static int io_args(const fs_store *fs, const void *buf, uint32_t npages, size_t *len_bytes)
{
    if (!buf || npages == 0 || npages > SIZE_MAX / fs->base.page_size) {
        return CT_INVALID;
    }
    *len_bytes = (size_t)npages * fs->base.page_size;
    return CT_OK;
}

static int fs_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    fs_store *fs = store_of(ps);
    size_t len = 0;
    int rc = io_args(fs, buf, npages, &len);
    if (rc != CT_OK) {
        return rc;
    }
    uint64_t size = pages_of(fs, atomic_load(&fs->file_bytes));
    if (pgno >= size || npages > size - pgno) {
        return CT_INVALID;
    }
    return ct__fs_pread_full(&fs->sys, fs->fd, buf, len, pgno * ps->page_size);
}

/* Whether the file may grow to end_bytes under the process's file-size
   limit (RLIMIT_FSIZE). A write or truncate past it raises SIGXFSZ, which
   ends the process unless the embedder ignores it, so growth past it is
   CT_NOSPACE before any syscall. Read at each growth: the embedder may
   change it. */
static int within_size_limit(const fs_store *fs, uint64_t end_bytes)
{
    if (end_bytes <= atomic_load(&fs->file_bytes)) {
        return 1; /* no growth */
    }
    struct rlimit r;
    if (getrlimit(RLIMIT_FSIZE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) {
        return 1;
    }
    return end_bytes <= (uint64_t)r.rlim_cur;
}

/* What write and writev check before touching the file; *off_bytes gets
   the write's byte offset. */
static int write_allowed(fs_store *fs, uint64_t pgno, uint32_t npages, uint64_t *off_bytes)
{
    if (fs->flags & CT_FS_RDONLY) {
        return CT_READONLY;
    }
    if (atomic_load(&fs->poisoned)) {
        return CT_IO;
    }
    if (pgno > fs->page_max || npages > fs->page_max - pgno) {
        return CT_NOSPACE; /* beyond what a file offset can address */
    }
    if (!within_size_limit(fs, (pgno + npages) * fs->base.page_size)) {
        return CT_NOSPACE;
    }
    *off_bytes = pgno * fs->base.page_size;
    return CT_OK;
}

/* Whether a write at off counts as a bulk load's (filestore.h, the rule of
   CT_FS_WRITE_PIECE_BYTES): past the file's end while at least half of the
   pages recently written grew the file. */
static int bulk_write(const fs_store *fs, uint64_t off)
{
    return off >= atomic_load(&fs->file_bytes) && fs->wrote_past >= fs->wrote_inside;
}

/* The piece size for pages from separate buffers in a writev starting at
   off: the large one for a bulk load, which filestore.h defines. A fresh
   file (no writes yet) counts as one. */
static size_t node_piece(const fs_store *fs, uint64_t off)
{
    return bulk_write(fs, off) ? CT_FS_WRITE_PIECE_BYTES : CT_FS_NODE_PIECE_BYTES;
}

/* Counts a successful write of len bytes at off (write or writev, any
   page) into the growth/rewrite mix; eof is the file's end before it. */
static void note_write(fs_store *fs, uint64_t off, size_t len, uint64_t eof)
{
    uint64_t end = off + len;
    uint64_t past = end > eof ? end - (off > eof ? off : eof) : 0;
    fs->wrote_past += past / fs->base.page_size;
    fs->wrote_inside += (len - past) / fs->base.page_size;
    while (fs->wrote_past + fs->wrote_inside > CT_FS_WRITE_MIX_PAGES) {
        fs->wrote_past /= 2;
        fs->wrote_inside /= 2;
    }
}

/* Bookkeeping after a write of len bytes at off returned rc. */
static int write_done(fs_store *fs, uint64_t off, size_t len, int rc)
{
    if (off > atomic_load(&fs->file_bytes)) { /* the bytes between may be a hole */
        ct__fs_mapwrite_may_hole(&fs->mapwrite, atomic_load(&fs->file_bytes));
    }
    if (rc != CT_OK) {
        refresh_size(fs); /* a partial write may have grown the file */
        return rc;
    }
    /* Only the writer grows the file, so load-then-store cannot race. */
    uint64_t eof = atomic_load(&fs->file_bytes);
    note_write(fs, off, len, eof);
    if (off + len > eof) {
        atomic_store(&fs->file_bytes, off + len);
    }
    return CT_OK;
}

/* A write at off, at most CT_FS_GAP_FILL_PAGES past the file's end, first
   writes zeros over the bytes between (filestore.h says why). Without
   memory for the zeros the gap stays a hole: correct, only slower. */
static int fill_gap(fs_store *fs, uint64_t off)
{
    uint64_t eof = atomic_load(&fs->file_bytes);
    uint64_t gap = off > eof ? off - eof : 0;
    if (gap == 0 || gap > (uint64_t)CT_FS_GAP_FILL_PAGES * fs->base.page_size) {
        return CT_OK;
    }
    if (!fs->zeros) {
        fs->zeros = calloc(CT_FS_GAP_FILL_PAGES, fs->base.page_size);
        if (!fs->zeros) {
            return CT_OK;
        }
    }
    /* No reservation here: the zeros' pwrite allocates their blocks, and
       the write that follows reserves ahead of itself as any other. */
    int rc = ct__fs_pwrite_full(&fs->sys, fs->fd, fs->zeros, (size_t)gap, eof);
    if (rc != CT_OK) {
        refresh_size(fs); /* it may have written a part */
        return rc;
    }
    atomic_store(&fs->file_bytes, off);
    return CT_OK;
}

/* A rewrite of tree pages (no run, no bulk load; write() of one page
   too): each page mapwrite.c allows is copied through the map, the
   stretches between go through pwritev and count as written for the next
   time. */
static int writev_rewrite(fs_store *fs, uint64_t pgno, uint32_t npages, const void *const *pages,
                          uint64_t off, size_t len)
{
    uint32_t page_size = fs->base.page_size;
    uint64_t eof = atomic_load(&fs->file_bytes);
    int rc = CT_OK;
    void *dst = ct__fs_mapwrite_target(&fs->mapwrite, pgno, eof);
    for (uint32_t k = 0; rc == CT_OK && k < npages;) {
        if (dst) {
            memcpy(dst, pages[k], page_size);
            ct__fs_mapwrite_copied(&fs->mapwrite, 1);
            k++;
            dst = k < npages ? ct__fs_mapwrite_target(&fs->mapwrite, pgno + k, eof) : NULL;
            continue;
        }
        /* The stretch up to the next page that can be copied (whose
           target is kept for the next round, not looked up twice). */
        uint32_t j = k + 1;
        while (j < npages && !(dst = ct__fs_mapwrite_target(&fs->mapwrite, pgno + j, eof))) {
            j++;
        }
        uint64_t at = off + (uint64_t)k * page_size;
        ct__fs_prealloc_write(&fs->prealloc, &fs->sys, fs->fd, at,
                              at + (uint64_t)(j - k) * page_size);
        rc = ct__fs_pwritev_full(&fs->sys, fs->fd, pages + k, j - k, page_size, at,
                                 node_piece(fs, at), 0);
        if (rc == CT_OK) {
            uint64_t end = at + (uint64_t)(j - k) * page_size;
            ct__fs_mapwrite_note(&fs->mapwrite, pgno + k, j - k, end > eof ? end : eof);
        }
        k = j;
    }
    return write_done(fs, off, len, rc);
}

static int fs_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    fs_store *fs = store_of(ps);
    size_t len = 0;
    uint64_t off = 0;
    int rc = io_args(fs, buf, npages, &len);
    if (rc == CT_OK) {
        rc = write_allowed(fs, pgno, npages, &off);
    }
    if (rc == CT_OK) {
        rc = fill_gap(fs, off);
    }
    if (rc != CT_OK) {
        return rc;
    }
    int once = npages > 1 || bulk_write(fs, off); /* before write_done moves the end */
    if (!once && fs->mapwrite.enabled) {
        const void *pages[1] = {buf};
        return writev_rewrite(fs, pgno, 1, pages, off, len);
    }
    ct__fs_prealloc_write(&fs->prealloc, &fs->sys, fs->fd, off, off + len);
    rc = ct__fs_pwrite_full(&fs->sys, fs->fd, buf, len, off);
    if (rc == CT_OK && once) {
        ct__fs_writeback_note(&fs->writeback, &fs->sys, fs->fd, off, len);
    }
    rc = write_done(fs, off, len, rc);
    if (rc == CT_OK) {
        ct__fs_mapwrite_note(&fs->mapwrite, pgno, npages, atomic_load(&fs->file_bytes));
    }
    return rc;
}

/* Hands the early writeback the overflow runs among pages (written at
   off), each stretch of run pages as one range: never the tree pages a
   commit placed beside them, which may be rewritten before the sync. */
static void note_runs(fs_store *fs, const void *const *pages, uint32_t npages, uint64_t off)
{
    uint32_t page_size = fs->base.page_size;
    for (uint32_t k = 0; k < npages;) {
        if (!ct__fs_in_run(pages, npages, page_size, k)) {
            k++;
            continue;
        }
        uint32_t first = k;
        while (k < npages && ct__fs_in_run(pages, npages, page_size, k)) {
            k++;
        }
        ct__fs_writeback_note(&fs->writeback, &fs->sys, fs->fd, off + (uint64_t)first * page_size,
                              (uint64_t)(k - first) * page_size);
    }
}

static int fs_writev(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages)
{
    fs_store *fs = store_of(ps);
    size_t len = 0;
    uint64_t off = 0;
    int rc = io_args(fs, pages, npages, &len);
    for (uint32_t k = 0; rc == CT_OK && k < npages; k++) {
        rc = pages[k] ? CT_OK : CT_INVALID;
    }
    if (rc == CT_OK) {
        rc = write_allowed(fs, pgno, npages, &off);
    }
    if (rc == CT_OK) {
        rc = fill_gap(fs, off);
    }
    if (rc != CT_OK) {
        return rc;
    }
    int bulk = bulk_write(fs, off);
    int holds_run = ct__fs_holds_run(pages, npages, ps->page_size);
    if (fs->mapwrite.enabled && !bulk && !holds_run) {
        return writev_rewrite(fs, pgno, npages, pages, off, len);
    }
    ct__fs_prealloc_write(&fs->prealloc, &fs->sys, fs->fd, off, off + len);
    /* A batch of large values appended with the few tree pages placed
       among them goes whole in run pieces (filestore.h, the rule of
       CT_FS_RUN_PIECE_BYTES). */
    rc = ct__fs_pwritev_full(&fs->sys, fs->fd, pages, npages, ps->page_size, off,
                             node_piece(fs, off), bulk && holds_run);
    if (rc == CT_OK && bulk) {
        ct__fs_writeback_note(&fs->writeback, &fs->sys, fs->fd, off, len);
    } else if (rc == CT_OK && holds_run) {
        note_runs(fs, pages, npages, off);
    }
    rc = write_done(fs, off, len, rc);
    if (rc == CT_OK) {
        ct__fs_mapwrite_note(&fs->mapwrite, pgno, npages, atomic_load(&fs->file_bytes));
    }
    return rc;
}

static int fs_sync(ct_pagestore *ps)
{
    fs_store *fs = store_of(ps);
    if (fs->flags & CT_FS_RDONLY) {
        return CT_OK; /* nothing of ours can be dirty */
    }
    if (atomic_load(&fs->poisoned)) {
        return CT_IO;
    }
    /* The sync cleans what was written: a copy after it would fault. */
    ct__fs_mapwrite_new_epoch(&fs->mapwrite);
    int (*sync_fn)(int) = fs->full_fsync ? fs->sys.fsync : fs->sys.fdatasync;
    for (int tries = 0; tries < CT_FS_RETRY_MAX; tries++) {
        if (sync_fn(fs->fd) == 0) {
            return CT_OK;
        }
        if (errno != EINTR) {
            break;
        }
    }
    atomic_store(&fs->poisoned, 1);
    return CT_IO;
}

static int fs_size(ct_pagestore *ps, uint64_t *npages)
{
    if (!npages) {
        return CT_INVALID;
    }
    fs_store *fs = store_of(ps);
    *npages = pages_of(fs, atomic_load(&fs->file_bytes));
    return CT_OK;
}

static int fs_resize(ct_pagestore *ps, uint64_t npages)
{
    fs_store *fs = store_of(ps);
    if (fs->flags & CT_FS_RDONLY) {
        return CT_READONLY;
    }
    if (atomic_load(&fs->poisoned)) {
        return CT_IO;
    }
    if (npages > fs->page_max || !within_size_limit(fs, npages * ps->page_size)) {
        return CT_NOSPACE;
    }
    uint64_t bytes = npages * ps->page_size;
    /* A shrink frees blocks a page written before may have had; growth
       leaves a hole. */
    ct__fs_mapwrite_new_epoch(&fs->mapwrite);
    if (bytes > atomic_load(&fs->file_bytes)) {
        ct__fs_mapwrite_may_hole(&fs->mapwrite, atomic_load(&fs->file_bytes));
    }
    if (bytes < atomic_load(&fs->file_bytes)) {
        /* Stop handing out mapped pages of the tail before it goes. */
        atomic_store(&fs->file_bytes, bytes);
    }
    for (int tries = 0; tries < CT_FS_RETRY_MAX; tries++) {
        if (fs->sys.ftruncate(fs->fd, (off_t)bytes) == 0) {
            atomic_store(&fs->file_bytes, bytes);
            ct__fs_prealloc_truncated(&fs->prealloc, bytes);
            return CT_OK;
        }
        if (errno != EINTR) {
            break;
        }
    }
    int rc = ct__fs_errno_rc(errno);
    refresh_size(fs);
    /* The truncate may have happened in part: reserve again from there. */
    ct__fs_prealloc_truncated(&fs->prealloc, atomic_load(&fs->file_bytes));
    return rc;
}

static void fs_close(ct_pagestore *ps)
{
    if (!ps) {
        return;
    }
    fs_store *fs = store_of(ps);
    /* close() also drops the flock. Its error is not retried: on Linux the
       descriptor is gone either way, and durability is sync()'s job. */
    ct__fs_map_close(&fs->map);
    ct__fs_mapwrite_close(&fs->mapwrite);
    (void)close(fs->fd);
    free(fs->zeros);
    free(fs);
}

static const void *fs_map(ct_pagestore *ps, uint64_t pgno)
{
    fs_store *fs = store_of(ps);
    return ct__fs_map_page(&fs->map, pgno, atomic_load(&fs->file_bytes));
}

static const ct_pagestore_ops fs_ops_map = {
    .read = fs_read,
    .write = fs_write,
    .sync = fs_sync,
    .size = fs_size,
    .resize = fs_resize,
    .close = fs_close,
    .map = fs_map,
    .writev = fs_writev,
};

/* enable_map = 0: no map slot, every read goes through pread. */
static const ct_pagestore_ops fs_ops_nomap = {
    .read = fs_read,
    .write = fs_write,
    .sync = fs_sync,
    .size = fs_size,
    .resize = fs_resize,
    .close = fs_close,
    .map = NULL,
    .writev = fs_writev,
};

void ct_filestore_options_init(ct_filestore_options *opt)
{
    if (!opt) {
        return;
    }
    memset(opt, 0, sizeof(*opt));
    opt->page_size = 4096u;
    opt->enable_map = 1;
    opt->map_writes = 1;
}

uint64_t ct_filestore_mapped_pages(ct_pagestore *ps)
{
    if (!ps || (ps->ops != &fs_ops_map && ps->ops != &fs_ops_nomap)) {
        return 0;
    }
    return ct__fs_mapwrite_pages(&store_of(ps)->mapwrite);
}

/* CT_* code for a failed open(2). */
static int open_errno_rc(int err, int writing)
{
    switch (err) {
    case ENOENT:
        return CT_NOTFOUND;
    case EACCES:
    case EROFS:
    case EPERM:
        return writing ? CT_READONLY : CT_IO;
    case EISDIR:
    case ENXIO:        /* a socket, or a device with nothing behind it */
    case ENOTDIR:      /* a component of the path is no directory */
    case ELOOP:        /* symbolic links in a loop */
    case ENAMETOOLONG: /* the path cannot name a file */
        return CT_INVALID;
    case ENOMEM:
        return CT_NOMEM;
    case EAGAIN: /* O_NONBLOCK and another process's lease: the open would
                    wait for the lease's break */
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return CT_BUSY;
    default:
        return ct__fs_errno_rc(err);
    }
}

/* Opens (or creates, unless told not to) path; *created says whether this
   call made the file (or may have: the caller makes an empty file's name
   durable either way). The create is no O_EXCL: a symbolic link whose
   target does not exist yet is followed and the target created, as
   SQLite does (O_EXCL refuses any existing link), and a file another
   process creates in between is simply opened. */
static int open_file(const char *path, unsigned flags, int *fd_out, int *created)
{
    int writing = !(flags & CT_FS_RDONLY);
    /* O_NONBLOCK until the type check: opening a FIFO for reading would
       otherwise wait for a writer, forever. open_locked clears it. */
    int base = (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    *created = 0;
    int fd = -1;
    /* A signal may interrupt an open that waits (a slow file system). */
    for (int tries = 0; tries < CT_FS_RETRY_MAX; tries++) {
        fd = open(path, base);
        if (fd < 0 && errno == ENOENT && writing && !(flags & CT_FS_NOCREATE)) {
            fd = open(path, base | O_CREAT, FS_CREATE_MODE);
            *created = fd >= 0;
        }
        if (fd >= 0 || errno != EINTR) {
            break;
        }
    }
    if (fd < 0) {
        return open_errno_rc(errno, writing);
    }
    *fd_out = fd;
    return CT_OK;
}

/* fsyncs the directory holding the file path names, so a new file's name
   survives a power cut (fsync on the file alone does not promise that).
   Through symbolic links: the directory of the file they lead to, where
   its name lives (realpath; the path as given when that fails). */
static int sync_parent_dir(const char *given, const ct_filestore_syscalls *sys)
{
    char *resolved = realpath(given, NULL);
    const char *path = resolved ? resolved : given;
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) : 1u;
    char *dir = malloc(dir_len + 2u);
    if (!dir) {
        free(resolved);
        return CT_NOMEM;
    }
    if (!slash) {
        memcpy(dir, ".", 2u);
    } else if (dir_len == 0) {
        memcpy(dir, "/", 2u);
    } else {
        memcpy(dir, path, dir_len);
        dir[dir_len] = '\0';
    }
    int rc = CT_IO;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int open_errno = errno;
    free(dir);
    free(resolved);
    if (dfd < 0) {
        return open_errno == ENOMEM ? CT_NOMEM : CT_IO;
    }
    for (int tries = 0; tries < CT_FS_RETRY_MAX; tries++) {
        /* EINVAL: a file system that cannot sync a directory (as SQLite,
           take it that its names need no sync) rather than fail every
           creation on it. */
        if (sys->fsync(dfd) == 0 || errno == EINVAL) {
            rc = CT_OK;
            break;
        }
        if (errno != EINTR) {
            break;
        }
    }
    (void)close(dfd);
    return rc;
}

static int valid_page_size(uint32_t page_size)
{
    return page_size >= CT_PAGE_SIZE_MIN && page_size <= CT_PAGE_SIZE_MAX &&
           (page_size & (page_size - 1u)) == 0;
}

/* Opens the descriptor, checks it names a regular file, locks it, reads
   its length (only once locked: until then another store may still grow
   or shrink it) and, for a writable store whose file is empty, makes its
   name durable: whoever created it (this call, or an opener that crashed
   or lost the lock race before its own directory sync) may not have. */
static int open_locked(const char *path, fs_store *fs)
{
    int created = 0;
    int rc = open_file(path, fs->flags, &fs->fd, &created);
    if (rc != CT_OK) {
        return rc;
    }
    struct stat st;
    int fl = fcntl(fs->fd, F_GETFL);
    if (fstat(fs->fd, &st) != 0 || fl < 0) {
        rc = CT_IO;
    } else if (!S_ISREG(st.st_mode)) {
        rc = CT_INVALID;
    } else if (fcntl(fs->fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        rc = CT_IO;
    } else {
        rc = ct__fs_lock(fs->fd, (fs->flags & CT_FS_RDONLY) != 0);
    }
    if (rc == CT_OK && fstat(fs->fd, &st) != 0) {
        rc = CT_IO;
    }
    if (rc == CT_OK && !(fs->flags & CT_FS_RDONLY) && (created || st.st_size == 0)) {
        rc = sync_parent_dir(path, &fs->sys);
    }
    if (rc != CT_OK) {
        (void)close(fs->fd);
        return rc;
    }
    atomic_init(&fs->file_bytes, (uint64_t)st.st_size);
    return CT_OK;
}

int ct_filestore_open(const char *path, const ct_filestore_options *opt, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    if (opt) {
        o = *opt;
    }
    if (o.page_size == 0) {
        o.page_size = 4096u;
    }
    if (!path || !*path || !valid_page_size(o.page_size) || (o.flags & ~FS_FLAGS_ALL)) {
        return CT_INVALID;
    }
    fs_store *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        return CT_NOMEM;
    }
    fs->base.ops = o.enable_map ? &fs_ops_map : &fs_ops_nomap;
    fs->base.page_size = o.page_size;
    fs->flags = o.flags;
    fs->full_fsync = o.full_fsync != 0;
    fs->page_max = FS_OFF_MAX / o.page_size;
    atomic_init(&fs->poisoned, 0);
    ct__fs_syscalls_resolve(o.syscalls, &fs->sys);
    int rc = open_locked(path, fs);
    if (rc != CT_OK) {
        free(fs);
        return rc;
    }
    int prealloc = (o.flags & CT_FS_PREALLOC) && !(o.flags & CT_FS_RDONLY);
    ct__fs_prealloc_init(&fs->prealloc, prealloc, o.prealloc_max_bytes,
                         atomic_load(&fs->file_bytes));
    ct__fs_writeback_init(&fs->writeback, !(o.flags & (CT_FS_NO_WRITEBACK | CT_FS_RDONLY)),
                          o.writeback_bytes);
    rc = ct__fs_map_init(&fs->map, fs->fd, o.page_size, o.enable_map != 0, 0);
    if (rc != CT_OK) {
        (void)close(fs->fd);
        free(fs);
        return rc;
    }
    /* mapwrite.c's rule 4: a syscall table sees every write. */
    int map_writes = o.map_writes && o.enable_map && !o.syscalls && !(o.flags & CT_FS_RDONLY);
    rc = ct__fs_mapwrite_init(&fs->mapwrite, fs->fd, o.page_size, map_writes,
                              atomic_load(&fs->file_bytes));
    if (rc != CT_OK) {
        ct__fs_map_close(&fs->map);
        (void)close(fs->fd);
        free(fs);
        return rc;
    }
    *out = &fs->base;
    return CT_OK;
}
