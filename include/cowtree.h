/*
 * cowtree.h - public API of cowtree, an embedded, crash-safe,
 * copy-on-write B+tree key-value engine.
 *
 * Conventions (LMDB style):
 *  - Every function that can fail returns int: CT_OK (0) or a negative
 *    CT_* code. Nothing aborts the process on bad input, bad files or I/O
 *    faults. Bad arguments are CT_INVALID.
 *  - "Borrowed" means the caller keeps ownership and must keep the object
 *    alive for as long as stated.
 *  - One write txn at a time per db; any number of read txns from any
 *    threads, each on the snapshot of the last commit at its begin.
 */
#ifndef COWTREE_H
#define COWTREE_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_VERSION_MAJOR 0
#define CT_VERSION_MINOR 1
#define CT_VERSION_PATCH 0

/* ---- Return codes ------------------------------------------------------ */

/* X-macro: name, value, message. One table generates the codes and
   ct_strerror's strings. */
#define CT_ERROR_TABLE(X)                                                              \
    X(CT_OK, 0, "success")                                                             \
    X(CT_NOTFOUND, -1, "not found")                                                    \
    X(CT_EXISTS, -2, "already exists")                                                 \
    X(CT_INVALID, -3, "invalid argument or API misuse")                                \
    X(CT_TOOBIG, -4, "key or value too large")                                         \
    X(CT_NOMEM, -5, "out of memory")                                                   \
    X(CT_IO, -6, "I/O error")                                                          \
    X(CT_NOSPACE, -7, "no space left in the page store")                               \
    X(CT_CORRUPT, -8, "database corrupt")                                              \
    X(CT_READONLY, -9, "database is read-only")                                        \
    X(CT_BUSY, -10, "database is locked")                                              \
    X(CT_VERSION, -11, "unsupported format version or page size")                      \
    X(CT_POISONED, -12, "an earlier sync failed: reopen the database")                  \
    X(CT_NOTSUP, -13, "operation not supported by this page store")

enum {
#define CT__ERROR_ENUM(name, value, msg) name = (value),
    CT_ERROR_TABLE(CT__ERROR_ENUM)
#undef CT__ERROR_ENUM
};

/* Static, never-NULL message for any rc (unknown codes included). */
CT_API const char *ct_strerror(int rc);
/* Static name of the code ("CT_IO"), or "CT_UNKNOWN". */
CT_API const char *ct_errname(int rc);

/* ---- Handles ----------------------------------------------------------- */

typedef struct ct_db ct_db;
typedef struct ct_txn ct_txn;
typedef struct ct_bucket ct_bucket;
typedef struct ct_cursor ct_cursor;

/* ---- Options ----------------------------------------------------------- */

/* ct_options.flags */
#define CT_RDONLY 0x1u   /* open read-only: every write is CT_READONLY */
#define CT_NOCREATE 0x2u /* an empty store is CT_NOTFOUND instead of a new db */

/* ct_options.durability */
#define CT_SYNC_FULL 0 /* a commit is durable when ct_commit returns CT_OK */
#define CT_SYNC_NONE 1 /* commits do not sync; ct_sync makes them durable */
/* Group commit: as CT_SYNC_FULL, a commit is durable when ct_commit returns
   CT_OK, but commits of concurrent threads share one sync: a commit's
   writes reach the store when its txn ends (the next write txn may then
   begin, and sees it), and ct_commit then waits until a sync covers it,
   issuing that sync itself unless another committer already is (which
   holds the writer lock only while it writes the meta page, so the next
   commits are written while it flushes). A commit
   is visible to later txns before it is durable; if the sync fails,
   ct_commit returns CT_IO (the db is poisoned) and the commit may or may
   not have persisted, as when a CT_SYNC_FULL commit's sync fails. */
#define CT_SYNC_GROUP 2

/* Replaceable allocator (tests inject failures through it). All three
   functions must be set; ctx is passed back. realloc(ctx, NULL, n) acts as
   malloc; free(ctx, NULL) is a no-op. */
typedef struct ct_allocator {
    void *(*malloc)(void *ctx, size_t size_bytes);
    void *(*realloc)(void *ctx, void *ptr, size_t size_bytes);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} ct_allocator;

typedef struct ct_options {
    uint32_t page_size; /* for a new database; 0 = the store's (4096 for files) */
    unsigned flags;     /* CT_RDONLY, CT_NOCREATE */
    int durability;     /* CT_SYNC_FULL (default), CT_SYNC_NONE */
    size_t cache_pages; /* shared page cache (pages) for reads map() does not serve;
                           0 = 2048 (docs/embedding.md) */
    /* Fields below are additions to the original contract. */
    /* borrowed, must outlive the db, used for every allocation. NULL =
       libc, with large freed blocks kept for the next commits (up to
       64 MiB, freed by ct_close; docs/embedding.md). */
    const ct_allocator *alloc;
    /* CT_SYNC_NONE only: a commit also syncs once this many pages of the
       last synced tree were freed and wait for a sync to be reused, so the
       file stays within about this many pages above the tree. 0 (default)
       = never: between ct_sync calls the file may grow by up to the whole
       last synced tree (each of its pages is held once). The price of a
       bound is write bandwidth: every autosync flushes what was written
       since the last one (bench/README.md measures both). */
    size_t autosync_pages;
} ct_options;

/* Fills defaults. opt must not be NULL. */
CT_API void ct_options_init(ct_options *opt);

/* ---- Database ---------------------------------------------------------- */

/* Opens the database held by store ps.
 * ps:   borrowed; must outlive the db; the caller closes it after ct_close.
 * opt:  NULL means defaults.
 * out:  receives the handle.
 * An empty store becomes a new database (unless CT_NOCREATE: CT_NOTFOUND).
 * A store of at most the two meta slots, neither valid, is a creation a
 * crash interrupted and is created afresh, overwriting those pages (their
 * bytes cannot tell it from a small file that is no database: a torn
 * sector may hold anything); with CT_NOCREATE it is CT_NOTFOUND and left
 * as it is. Otherwise the newest commit whose meta and newly written
 * pages verify is recovered.
 * Errors: CT_INVALID (NULL ps/out, bad options, page size mismatch),
 * CT_CORRUPT (no valid meta in a non-empty store), CT_VERSION (newer
 * format or unsupported page size), CT_IO, CT_NOMEM, CT_READONLY (a new
 * database would have to be created read-only). */
CT_API int ct_open(ct_pagestore *ps, const ct_options *opt, ct_db **out);

/* Convenience: opens (creating if needed, unless CT_NOCREATE) a file store
 * at path and owns it; ct_close closes it. The page size of an existing
 * file is read from the file. Bad options (CT_INVALID) are refused before
 * the file is created. A file of at most two pages with no valid meta is
 * created afresh (as ct_open does) only when its bytes are what a creation
 * a crash cut short leaves, every 512-byte sector zero or a meta's; any
 * other such file (one that is no database) is CT_CORRUPT and left as it
 * is. Errors: those of ct_open and ct_filestore_open
 * (CT_BUSY when another process has the file open). */
CT_API int ct_open_path(const char *path, const ct_options *opt, ct_db **out);

/* Never writes to the store; aborts an open write txn (read txns must be
 * ended first; any still open are released); frees everything. Safe after
 * the store has started failing (a simulated crash). NULL is a no-op. */
CT_API void ct_close(ct_db *db);

/* Makes every commit acknowledged so far durable (one store sync). A no-op
 * under CT_SYNC_FULL. Errors: CT_INVALID, CT_IO (the handle is then
 * CT_POISONED), CT_POISONED. */
CT_API int ct_sync(ct_db *db);

/* Largest key length in bytes accepted by db (depends on its page size:
 * a key and an overflow reference take at most a quarter page: 90 bytes
 * at 512-byte pages, 986 at 4096, so at least 511 from 4096 up). 0 for NULL. */
CT_API size_t ct_key_max(const ct_db *db);

/* Largest value length in bytes (2^31 - 1). */
#define CT_VALUE_MAX ((size_t)0x7fffffff)

/* ---- Transactions ------------------------------------------------------ */

#define CT_TXN_RDONLY 0x1u

/* Begins a txn. A write txn (flags 0) waits while another thread holds the
 * write txn; a second write txn on the same thread is CT_INVALID. A read
 * txn sees the last commit at its begin and never blocks.
 * Errors: CT_INVALID, CT_READONLY (write txn on a read-only db),
 * CT_POISONED (write txn after a failed sync), CT_NOMEM. */
CT_API int ct_begin(ct_db *db, unsigned flags, ct_txn **out);

/* Commits and ends the txn, whatever it returns. Under CT_SYNC_FULL, CT_OK
 * means the commit survives any later crash. A read txn just ends.
 * Errors: CT_INVALID (NULL), CT_IO/CT_NOSPACE (nothing committed; a failed
 * sync also poisons the db), CT_POISONED, CT_NOMEM, and the sticky error of
 * a txn that failed earlier (it is then aborted). */
CT_API int ct_commit(ct_txn *txn);

/* Ends the txn discarding its changes. NULL is a no-op. */
CT_API void ct_abort(ct_txn *txn);

/* Id of the commit the txn reads (read txn) or will write (write txn). */
CT_API uint64_t ct_txn_id(const ct_txn *txn);

/* ---- Data -------------------------------------------------------------- */

#define CT_NOOVERWRITE 0x1u /* put fails with CT_EXISTS if key present */
#define CT_APPEND 0x2u      /* caller promises key > every key (bulk load) */

/* Looks key up in bucket b (NULL = default bucket).
 * *val stays valid until the txn ends or the next write in the same txn.
 * Errors: CT_NOTFOUND, CT_INVALID, CT_CORRUPT, CT_IO, CT_NOMEM. */
CT_API int ct_get(ct_txn *txn, ct_bucket *b, const void *key, size_t klen, const void **val,
                  size_t *vlen);

/* Inserts or replaces key. key/val are copied. val may be NULL when vlen 0.
 * Errors: CT_EXISTS (CT_NOOVERWRITE and the key is present; CT_APPEND with
 * a key not above every key, as LMDB's MDB_APPEND), CT_INVALID (read txn,
 * bad flags), CT_READONLY (read-only db), CT_TOOBIG, CT_CORRUPT, CT_IO,
 * CT_NOMEM, CT_NOSPACE. An error other than CT_EXISTS/CT_INVALID/CT_TOOBIG
 * fails the txn: only abort (or commit, which aborts) is then legal. */
CT_API int ct_put(ct_txn *txn, ct_bucket *b, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned flags);

/* Deletes key. Errors: CT_NOTFOUND, as ct_put. */
CT_API int ct_del(ct_txn *txn, ct_bucket *b, const void *key, size_t klen);

/* ---- Buckets ----------------------------------------------------------- */

#define CT_CREATE 0x1u
#define CT_EXCL 0x2u
/* Longest bucket name in bytes. */
#define CT_BUCKET_NAME_MAX 255u

/* Opens named bucket name (1..255 bytes, NUL-terminated; at most
 * ct_key_max(db) bytes, so small page sizes allow shorter names: longer is
 * CT_TOOBIG). CT_CREATE
 * creates it in a write txn; with CT_EXCL an existing one is CT_EXISTS.
 * The handle is owned by the txn and valid until the txn ends.
 * Errors: CT_NOTFOUND, CT_EXISTS, CT_INVALID, CT_TOOBIG, CT_READONLY
 * (CT_CREATE of a missing bucket on a read-only db), CT_CORRUPT, CT_IO,
 * CT_NOMEM, and the sticky error of a failed write txn. */
CT_API int ct_bucket_open(ct_txn *txn, const char *name, unsigned flags, ct_bucket **out);

/* Drops a named bucket and frees its pages. Handles to it become invalid.
 * Errors: CT_NOTFOUND, CT_INVALID (also a read txn), CT_READONLY
 * (read-only db), CT_TOOBIG (as ct_bucket_open), CT_CORRUPT, CT_IO,
 * CT_NOMEM, and the sticky error of a failed write txn. */
CT_API int ct_bucket_drop(ct_txn *txn, const char *name);

/* Calls fn once for each named bucket of txn's snapshot, in name order
 * (unsigned bytewise, a shorter name before its extensions). The default
 * bucket is not listed. In a write txn the listing is what a commit would
 * store: buckets created in the txn are included, dropped ones are not.
 * fn:   gets ctx, the name (NUL-terminated; it holds no NUL byte) and its
 *       length in bytes (1..CT_BUCKET_NAME_MAX). The name is borrowed and
 *       valid only during the call. fn may read in the txn (open a bucket
 *       without CT_CREATE, get, stat, use cursors) but must not write in it
 *       (put, del, create or drop a bucket): the walk then stops with
 *       CT_INVALID. A non-zero return stops the walk and is returned by
 *       ct_bucket_list as is (use positive values to tell them from CT_*
 *       codes).
 * ctx:  passed to fn, may be NULL.
 * Every catalog page is verified as it is read. Returns CT_OK after the
 * last bucket (also when there are none), fn's non-zero value, or an error:
 * CT_INVALID (NULL txn or fn, a write in fn), CT_CORRUPT, CT_IO, CT_NOMEM,
 * or the sticky error of a failed write txn. Never changes the txn. */
CT_API int ct_bucket_list(ct_txn *txn, int (*fn)(void *ctx, const char *name, size_t name_len),
                          void *ctx);

/* The shape of one bucket's tree (ct_bucket_stat). A struct tag, as
 * struct ct_stat: the function has the ordinary name. */
struct ct_bucket_stat {
    uint32_t page_size;         /* bytes, for fill = used_bytes / (pages * page_size) */
    uint32_t depth;             /* tree levels, 0 = empty bucket */
    uint64_t entries;           /* key/value pairs (counted in the leaves) */
    uint64_t pages_branch;      /* branch pages */
    uint64_t pages_leaf;        /* leaf pages */
    uint64_t pages_overflow;    /* pages of the overflow runs of large values */
    uint64_t branch_used_bytes; /* header, slots and cells over all branch pages */
    uint64_t leaf_used_bytes;   /* same over all leaf pages */
    uint64_t key_bytes;         /* sum of key lengths */
    uint64_t value_bytes;       /* sum of value lengths, overflow values included */
    uint64_t overflow_value_bytes; /* the part of value_bytes held in overflow runs */
};
typedef struct ct_bucket_stat ct_bucket_stat_info;

/* Walks bucket b (NULL = the default bucket) in txn's snapshot (a write
 * txn: including its own changes) and fills out. Every branch and leaf page
 * is read and verified (checksum, identity, cell bounds, key order inside
 * the page) and the leaf entries must add up to the bucket's entry count;
 * overflow runs are not read, only their references bounded by the
 * store's pages in use (ct_check verifies the runs). Cost: one read of
 * every tree page of the bucket. out is written only on success.
 * Errors: CT_INVALID (NULL txn or out, a handle of another txn or of a
 * dropped bucket), CT_CORRUPT, CT_IO, CT_NOMEM, or the sticky error of a
 * failed write txn. */
CT_API int ct_bucket_stat(ct_txn *txn, ct_bucket *b, struct ct_bucket_stat *out);

/* ---- Cursors ----------------------------------------------------------- */

/* A cursor is valid until its txn ends (close it before or not: the txn
 * frees its cursors). In a write txn it stays valid across puts and
 * deletes made through the same txn: after a change it is re-positioned
 * on the first key >= the key it was on. Positioning calls return
 * CT_NOTFOUND when no entry qualifies (the cursor is then unpositioned). */
CT_API int ct_cursor_open(ct_txn *txn, ct_bucket *b, ct_cursor **out);
CT_API int ct_cursor_first(ct_cursor *c);
CT_API int ct_cursor_last(ct_cursor *c);
CT_API int ct_cursor_seek(ct_cursor *c, const void *key, size_t klen); /* first key >= key */
CT_API int ct_cursor_next(ct_cursor *c);
CT_API int ct_cursor_prev(ct_cursor *c);
/* Current entry. Pointers stay valid until the cursor moves, a write in the
 * txn, or the txn ends. key/klen/val/vlen may each be NULL.
 * Errors: CT_NOTFOUND (unpositioned), CT_INVALID (also once the cursor's
 * bucket was dropped, as every cursor call), CT_CORRUPT, CT_IO. */
CT_API int ct_cursor_get(ct_cursor *c, const void **key, size_t *klen, const void **val,
                         size_t *vlen);
CT_API void ct_cursor_close(ct_cursor *c);

/* ---- Verification and statistics --------------------------------------- */

typedef struct ct_check_report {
    uint64_t pages_total;     /* high-water mark: pages 0..pages_total-1 */
    uint64_t pages_meta;      /* always 2 */
    uint64_t pages_branch;    /* live branch pages */
    uint64_t pages_leaf;      /* live leaf pages */
    uint64_t pages_overflow;  /* live overflow pages */
    uint64_t pages_freelist;  /* pages holding the free list */
    uint64_t pages_free;      /* pages on the free list */
    uint64_t entries;         /* key/value pairs in every bucket */
    uint64_t buckets;         /* named buckets */
    uint64_t problems;        /* 0 when clean */
    uint64_t first_problem_pgno;
    char first_problem[160]; /* "" when clean */
} ct_check_report;

/* Reads every reachable page of the last commit and verifies checksums,
 * page identity, key order, fill bounds, separators, overflow runs, the
 * free list and the catalog, both meta pages as the store holds them, and
 * that every page below the high-water mark is exactly one of meta, live
 * tree page, or free. report may be NULL.
 * Returns CT_OK when clean, CT_CORRUPT when a problem was found (described
 * in the report), CT_IO, CT_NOMEM, CT_INVALID. */
CT_API int ct_check(ct_db *db, ct_check_report *report);

/* ---- Hot backup ---------------------------------------------------------- */

#define CT_COPY_COMPACT 0x1u /* only live pages, densely packed, no free list */

/* Copies the newest commit into dst, an EMPTY page store of the same page
 * size, while writers keep committing (a read txn pins the snapshot for
 * the copy's duration). Every page copied is verified first. Without
 * CT_COPY_COMPACT the copy keeps page numbers and lists every other page
 * as free; with it, live pages are renumbered densely (smaller when the
 * source had free space). dst gets data, a sync, both meta slots, a sync:
 * a copy cut short by a crash never opens as a database. dst stays open
 * (the caller closes it) and may then be opened with ct_open. A copy that fails
 * empties dst again (resize to 0 pages), so it may be retried; only when
 * dst refuses that too may a copy whose meta write or last sync failed
 * still open.
 * Errors: CT_INVALID (NULL, bad flags, dst not empty or of another page
 * size), CT_CORRUPT (a damaged source page; nothing valid in dst), CT_IO,
 * CT_NOSPACE, CT_NOMEM, CT_READONLY (dst refuses writes), or what dst's
 * size() returns. */
CT_API int ct_copy(ct_db *db, ct_pagestore *dst, unsigned flags);

/* A struct tag, not a typedef: the function ct_stat has the ordinary name
 * (as POSIX stat/struct stat). ct_stat_info is a typedef for convenience. */
struct ct_stat {
    uint64_t txnid;           /* id of the last commit */
    uint32_t page_size;       /* bytes */
    uint64_t pages_total;     /* high-water mark */
    uint64_t pages_in_use;    /* pages_total - pages_free */
    uint64_t pages_free;      /* on the free list */
    uint32_t depth;           /* default bucket's tree depth (0 = empty) */
    uint64_t entries;         /* default bucket's entries */
    uint64_t buckets;         /* named buckets */
    uint64_t readers;         /* live read txns */
    uint64_t oldest_reader_txnid; /* snapshot of the oldest live reader, 0 if none */
    uint64_t pages_held_by_readers; /* free pages not yet reusable because of readers */
    uint64_t store_pages;     /* size of the store in pages */
    uint64_t key_max;         /* ct_key_max() */
    /* Open found a newer commit than the one it recovered (a meta with a
     * valid checksum) whose pages did not verify, and fell back: its txn
     * id, else 0. After a crash during that commit this is expected (it
     * was never acknowledged); otherwise the medium damaged a commit. */
    uint64_t rejected_txnid;
    uint64_t rejected_pgno;   /* the first page that failed, when known */
    /* Meta page (0 or 1) holding the last commit; under CT_SYNC_GROUP the
       last commit a sync wrote (a commit's meta waits for its sync). */
    uint32_t meta_slot;
    uint64_t durable_txnid;   /* last commit known durable (synced) */
    /* CT_SYNC_NONE: free pages of the last synced tree that only the next
       sync makes reusable (see ct_options.autosync_pages). CT_SYNC_GROUP:
       counted against the sync the writer last adopted (at its begin). */
    uint64_t pages_held_by_sync;
    /* Pages of the persistent free list itself (its chain), counted in
       pages_in_use. */
    uint64_t free_list_pages;
    /* Meta slots whose page failed its checksum (or did not decode) when
       the db was opened: bit 0 slot 0, bit 1 slot 1. Open recovered the
       commit the other slot holds. After a crash during a commit's meta
       write this is expected (that commit was never acknowledged);
       otherwise the medium damaged a meta, and the commit it held is
       lost. A writable open rewrites the slot (its fence); the bit still
       tells what open found. */
    uint32_t meta_slots_invalid;
};
typedef struct ct_stat ct_stat_info;

/* Errors: CT_INVALID. */
CT_API int ct_stat(ct_db *db, struct ct_stat *out);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_H */
