/*
 * internal.h - the engine's handles and the internal interfaces between
 * core modules. Nothing outside core/ includes this (tests may, white-box).
 *
 * Txn state machine (owned by txn.c):
 *     ACTIVE --(error inside a write op)--> FAILED --(abort/commit)--> ended
 *     ACTIVE --(commit ok / abort)--> ended
 *   In FAILED only abort (or commit, which aborts and returns the error) is
 *   legal; every other call returns the sticky error.
 * Db states (owned by db.c / commit.c):
 *     OK --(store sync failed)--> POISONED: write txns get CT_POISONED until
 *   the handle is closed and the store reopened.
 */
#ifndef CT_CORE_INTERNAL_H
#define CT_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "cowtree.h"
#include "debug.h"
#include "limits.h"
#include "node.h"
#include "page.h"
#include "pmap.h"

/* Keeps a rare path out of line, so the hot caller needs no stack frame
   for it (a plain static function called once is inlined). */
#if defined(__GNUC__) || defined(__clang__)
#define CT_NOINLINE __attribute__((noinline))
#else
#define CT_NOINLINE
#endif

/* ---- cache.c: the shared page cache (see cache.c for the design) ---- */
typedef struct ct__centry ct__centry;
typedef struct ct__clist {
    ct__centry *head; /* most recently unpinned */
    ct__centry *tail;
    size_t count;
} ct__clist;
typedef struct ct__cshard {
    pthread_mutex_t mu;
    int mu_ready;
    ct__centry **heads; /* chained table by pgno: every entry, pinned or not */
    size_t nheads;      /* power of two */
    size_t count;       /* entries in the table */
    ct__clist prob;     /* unpinned, used by one txn so far */
    ct__clist prot;     /* unpinned, used again */
    size_t cap_pages;   /* unpinned entries allowed */
    size_t prot_cap;    /* of which protected */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
} ct__cshard;
typedef struct ct__cache {
    ct__cshard *shards;
    unsigned nshards; /* power of two */
    size_t cap_pages;
} ct__cache;
/* Counters for tests and tools (ct__cache_stat). */
typedef struct ct__cache_stats {
    size_t cap_pages;
    unsigned shards;
    size_t entries;  /* in the tables (not counting detached ones) */
    size_t heads;    /* chain heads of the tables */
    size_t unpinned; /* never above cap_pages */
    size_t pinned;
    size_t protected_count;
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
} ct__cache_stats;

/* One B+tree: the default bucket, a named bucket or the catalog. */
typedef struct ct__tree {
    uint64_t root; /* 0 = empty tree */
    uint64_t gen;  /* txn that wrote the root */
    uint32_t depth;
    uint64_t entries;
} ct__tree;

/* Decoded meta page (meta.c has the encoding). */
typedef struct ct__meta {
    uint64_t txnid;
    uint32_t page_size;
    uint64_t hwm;          /* pages 0..hwm-1 are meta, live or free */
    uint64_t durable_base; /* every page of txn <= this was durable when written */
    ct__tree main;
    ct__tree catalog;
    uint64_t free_head; /* first free-list page, 0 = none */
    uint64_t free_gen;
    uint64_t free_count; /* entries on the free list, those in the meta included */
    uint64_t buckets;
    /* Free-list entries carried in the meta itself (format version 4): a
       commit that changes at most CT_META_FREE_INLINE entries writes them
       here instead of on a free-list page, so a small durable commit
       writes its tree pages and the meta, nothing else. */
    uint32_t free_inline;
    uint64_t free_inline_pgno[CT_META_FREE_INLINE];
    uint64_t free_inline_txn[CT_META_FREE_INLINE]; /* freeing txn, 0 = anyone */
} ct__meta;

/* A free page and the txn that freed it (0 = reusable by anyone). In
   memory only, chain_of marks a page of an old free-list chain: the id of
   the last meta that referenced it (0 = a tree page). Readers never see
   such pages, so only the meta slots hold them back. */
typedef struct ct__free_entry {
    uint64_t pgno;
    uint64_t freed_txn;
    uint64_t chain_of;   /* last meta that referenced the dropped chain page */
    uint64_t chain_from; /* the commit that wrote it */
    uint32_t home;       /* index of the chain page listing this entry */
    uint64_t born;       /* the txn that wrote the page, 0 = unknown (loaded) */
} ct__free_entry;
#define CT__NO_HOME UINT32_MAX /* not on disk yet */

typedef struct ct__freeset {
    ct__free_entry *v; /* sorted by pgno */
    size_t count;
    size_t cap;
    uint64_t *chain;     /* pages holding this free list on disk, in chain order */
    uint64_t *chain_gen; /* the commit that wrote each (kept pages keep theirs) */
    uint32_t *chain_n;   /* entries each lists */
    size_t chain_count;
    /* The frozen tail (freelist.c): the last frozen_pages chain pages list
       exactly these entries (any order; home counts from the chain's end,
       0 = last page), each held until a sync after frozen_durable. Not in
       v: commits leave them alone until that sync. */
    ct__free_entry *frozen;
    size_t frozen_count;
    size_t frozen_cap;
    size_t frozen_pages;
    uint64_t frozen_durable;
    /* A commit's new set until ct__freelist_adopt: how many of db->free's
       frozen entries stay frozen (the rest rejoined v: a sync made them
       reusable, or the commit rewrites their pages), on how many pages at
       the chain's end, and the entries it freezes. */
    size_t frozen_left;
    size_t frozen_left_pages;
    ct__free_entry *newly_frozen;
    size_t newly_count;
    size_t newly_pages;
} ct__freeset;

struct ct_bucket {
    ct_txn *txn;
    ct__tree tree;
    int is_main;
    int dirty;   /* tree changed in this write txn */
    int dropped; /* handle invalid */
    int created; /* created in this txn */
    size_t name_len;
    char name[CT_BUCKET_NAME_MAX + 1];
    struct ct_bucket *next;
};

typedef struct ct__cframe {
    uint64_t pgno;
    const uint8_t *page;
    uint32_t idx;
} ct__cframe;

struct ct_cursor {
    ct_txn *txn;
    ct_bucket *b;
    int positioned;
    uint32_t depth;
    ct__cframe stack[CT_DEPTH_MAX];
    uint64_t mod_seq; /* txn->mod_seq when the stack was built */
    uint8_t *keybuf;  /* write txns: copy of the current key, to re-seek */
    size_t keybuf_len;
    size_t keybuf_cap;
    uint8_t *valbuf; /* overflow value of the current entry (no map) */
    struct ct_cursor *next;
};

/* A buffer the txn owns until it ends (overflow values read for ct_get). */
typedef struct ct__ownbuf {
    struct ct__ownbuf *next;
} ct__ownbuf;

/* A write txn's work buffers (txn.c): scratch is 3 pages, sepbuf 2,
   refs room for the cells of two pages. */
typedef struct ct__write_bufs {
    uint8_t *scratch;
    uint8_t *sepbuf;
    ct__cellref *refs;
} ct__write_bufs;

/* A root-to-leaf path of dirty (copied) pages: page[l] at pgno[l], and the
   child index idx[l] taken at each branch level (btree.c). */
typedef struct ct__path {
    uint8_t *page[CT_DEPTH_MAX];
    uint64_t pgno[CT_DEPTH_MAX];
    uint32_t idx[CT_DEPTH_MAX];
    uint32_t depth;
} ct__path;

struct ct_txn {
    ct_db *db;
    int rdonly;
    int verify_all; /* 1: verify every mapped page, never trust the memo (ct_check) */
    int failed; /* sticky rc of a failed write txn, 0 = ACTIVE */
    uint64_t id;
    ct__meta meta; /* read: the snapshot; write: the working meta */
    ct__pmap cache; /* clean pages read privately by this txn (no map, no shared cache) */
    ct__pmap pins;  /* pgno -> page of a shared-cache entry this txn pinned */
    int use_cache;  /* 1: read node pages through db->cache (ct_begin txns) */
    ct_bucket main;
    ct_bucket *buckets;
    /* Open-addressing index over every handle in buckets (dropped ones
       too), by name: a txn may open tens of thousands of buckets, and a
       walk of the list per open made that quadratic. */
    ct_bucket **bucket_index;
    size_t bucket_index_cap; /* 0 or a power of two, over twice the handles */
    size_t bucket_handles;
    ct_cursor *cursors;
    ct__ownbuf *ownbufs;
    uint64_t mod_seq;
    /* The dirty right-spine path the last CT_APPEND put left (btree.c):
       valid while mod_seq == append_seq and the tree is append_tree. */
    ct__path append_path;
    const void *append_tree;
    uint64_t append_seq;
    struct ct_txn *next_reader; /* db's list of live read txns */
    struct ct_txn *prev_reader;
    /* write txn state */
    ct__pmap dirty;     /* pgno -> page buffer (npages for overflow runs) */
    uint64_t *pool;     /* reusable pages, sorted descending (pop = lowest) */
    size_t pool_count;
    size_t pool_cap;
    /* Reusable pages the last meta listed itself, descending; taken before
       the pool: reusing them rewrites no free-list page, where taking a
       page's entry rewrites that page and every page in front of it. */
    uint64_t pool_meta[CT_META_FREE_INLINE];
    size_t pool_meta_count;
    uint64_t run_end; /* end of the last run taken from the high-water mark */
    ct__free_entry *held; /* free pages not reusable yet (kept on the list) */
    size_t held_count;
    /* The free set this txn started from, by pgno: db->free.v, or with the
       frozen entries merged in (owned) when a sync thawed them. */
    const ct__free_entry *fl_old;
    size_t fl_old_count;
    ct__free_entry *fl_thawed; /* owned copy behind fl_old, or NULL */
    ct__free_entry *freed; /* durable pages this txn freed (with their writers) */
    size_t freed_count;
    size_t freed_cap;
    uint8_t *scratch; /* three page-sized buffers: build left, build right, cell */
    uint8_t *sepbuf;  /* two page-sized buffers for separators moving up */
    ct__cellref *refs; /* cells of two nodes plus one */
    int catalog_dirty;
};

struct ct_db {
    ct_pagestore *ps;
    int owns_store;
    ct_allocator alloc;      /* what every allocation of the db goes through */
    ct_allocator base_alloc; /* the embedder's (or libc's): the db struct itself */
    int retains;             /* alloc is retain's, over libc (no embedder allocator) */
    ct__retain retain;
    uint32_t page_size;
    unsigned flags;
    int durability;
    size_t autosync_pages; /* ct_options.autosync_pages (0 = automatic) */
    size_t key_max;
    uint32_t cell_max;
    pthread_mutex_t mu; /* meta, free set, readers, poisoned, write-txn owner */
    pthread_cond_t write_cv;
    pthread_cond_t group_cv; /* CT_SYNC_GROUP: a group sync finished */
    int group_syncing;       /* CT_SYNC_GROUP: a committer is syncing for all */
    /* CT_SYNC_GROUP pipelining (commit.c): a sync writes the newest meta
       under the writer lock, then flushes without it while the next
       commits write their pages. */
    int sync_busy;          /* a sync is writing or flushing a meta: one at a time */
    uint64_t synced_txnid;  /* newest commit a sync made durable (ct_commit waits for it) */
    int pending_durable;    /* a finished sync the writer has not adopted yet */
    int pending_slot;       /* its slot; its meta is durable_meta */
    uint8_t *sync_page;     /* the meta page a group sync encodes */
    uint32_t writers_waiting; /* threads blocked in ct__writer_acquire */
    int writer_active;
    pthread_t writer_thread;
    ct_txn *write_txn;
    ct__meta meta;      /* last commit */
    int meta_slot;      /* slot holding the last commit's meta */
    int durable_slot;   /* slot holding the last meta known durable */
    uint64_t durable_txnid;
    ct__meta durable_meta; /* newest durable meta (CT_SYNC_GROUP readers after a
                              failure); may be ahead of durable_slot/_txnid while
                              pending_durable is set */
    /* Per meta slot: the id of the commit whose tree (and free list) must
       stay intact because the slot describes it; UINT64_MAX when the slot
       holds nothing recovery could use. */
    uint64_t keep_txnid[2];
    /* Per meta slot: its high-water mark. The store never shrinks below
       either, so every meta recovery may fall back to fits the store. */
    uint64_t slot_hwm[2];
    uint64_t next_txnid; /* id of the next write txn: above every id used */
    int needs_fence;     /* recovered an existing store: fence before writing */
    uint64_t rejected_txnid; /* a newer commit recovery rejected (ct_stat) */
    uint64_t rejected_pgno;
    uint32_t meta_slots_invalid; /* slots whose meta failed to decode at open (ct_stat) */
    ct__freeset free;   /* free list of the last commit */
    ct_txn *readers;    /* live read txns */
    uint64_t reader_count;
    int poisoned;
    /* Odd while a meta write is under way, bumped before and after it (db->mu):
       ct_check reads the meta slots only between two writes. */
    uint64_t meta_seq;
    /* Verified-page memo (memo.c): chunk k of page generations, lock-free. */
    _Atomic(_Atomic uint64_t *) memo[CT_MEMO_CHUNKS_MAX];
    /* Shared page cache (cache.c) for pages map() does not serve. */
    ct__cache cache;
    /* One-page buffers of ended write txns, for the next one's dirty pages
       (pager.c): only the writer (holding the writer lock) touches them. */
    uint8_t **spare;
    size_t spare_count;
    size_t spare_cap;
    /* Multi-page run buffers (overflow values) kept the same way, matched
       by length; their bytes together stay under the same cap. */
    struct {
        uint8_t *buf;
        uint32_t npages;
    } spare_run[CT_SPARE_RUNS_MAX];
    size_t spare_run_count;
    uint64_t spare_run_bytes;
    /* The last write txn's scratch, sepbuf and refs (txn.c), for the next
       one: refs alone is about 200 KiB at 4 KiB pages, which calloc zeroed
       (or mapped and faulted in) on every write txn. Writer only. */
    ct__write_bufs spare_wbufs;
};

/* ---- meta.c ---- */
void ct__meta_encode(const ct__meta *m, uint8_t *page, uint32_t page_size, int slot);
/* CT_OK valid; CT_CORRUPT invalid; CT_VERSION newer format / other page size. */
int ct__meta_decode(const uint8_t *page, uint32_t page_size, int slot, ct__meta *out);
/* A meta magic with another legal page size recorded: a page that failed
   its crc may have been written at that size (or holds a flipped bit). */
int ct__meta_foreign_size(const uint8_t *page, uint32_t page_size);
/* Whether a 512-byte sector can be part of what a creation a crash cut
   short leaves in a file that was empty (sectors persist whole, old or
   new): never written (all zero), or a sector of a meta page, which
   carries the magic after the page header in a page's first sector and
   at its start in every further one (the sector stamp). */
int ct__meta_sector_plausible(const uint8_t *sector, int first_of_page);

/* ---- memo.c: pages already verified through map() ---- */
/* 1 when page pgno of generation gen passed full verification through this
   handle's map path (the caller still compares the header with the
   pointer). */
int ct__memo_hit(ct_db *db, uint64_t pgno, uint64_t gen);
/* Records that page pgno of generation gen and type passed verification.
   Never fails (no memory: nothing recorded). */
void ct__memo_note(ct_db *db, uint64_t pgno, uint64_t gen, uint8_t type);
/* 1 when map() gives pages pgno+1..pgno+np-1 right after first, the
   pointer of pgno (pager.c: the memo notes an overflow run only then). */
int ct__overflow_mapped_contiguously(ct_pagestore *ps, uint64_t pgno, uint32_t np,
                                     const uint8_t *first);
/* Frees the memo; only when no txn is live. */
void ct__memo_free(ct_db *db);

/* ---- cache.c: shared cache of verified node pages read without map() ---- */
/* Sets up an empty cache of cache_pages pages (0: CT_CACHE_PAGES_DEFAULT).
   CT_OK or CT_NOMEM (nothing left allocated). */
int ct__cache_init(ct_db *db, size_t cache_pages);
/* Frees every entry; only when no txn is live (db close, failed open). */
void ct__cache_free(ct_db *db);
/* The cached page pgno of generation gen verified as type, pinned for the
   caller (ct__cache_unpin exactly once), or NULL (a miss). */
const uint8_t *ct__cache_pin(ct_db *db, uint64_t pgno, uint64_t gen, uint8_t type);
/* A page buffer for a new entry, pinned once by the caller; NULL = no memory. */
uint8_t *ct__cache_alloc(ct_db *db);
/* Frees a buffer from ct__cache_alloc that was never inserted (NULL ok). */
void ct__cache_discard(ct_db *db, uint8_t *page);
/* Publishes a buffer from ct__cache_alloc holding page pgno of generation
   gen, fully verified as type (never CT_PT_ANY). Drops an unpinned entry of
   another generation; when a pinned one holds the pgno the buffer stays
   private to the caller. Never fails; the caller still holds its pin. */
void ct__cache_insert(ct_db *db, uint8_t *page, uint64_t pgno, uint64_t gen, uint8_t type);
/* Drops one pin taken by ct__cache_pin or ct__cache_alloc (after insert). */
void ct__cache_unpin(ct_db *db, const uint8_t *page);
/* Sums the shard counters (each shard's mutex taken in turn). */
void ct__cache_stat(ct_db *db, ct__cache_stats *out);

/* ---- pager.c: page access inside a txn ---- */
/* Verified read-only access to page pgno of generation gen and type. */
int ct__page_get(ct_txn *t, uint64_t pgno, uint64_t gen, uint8_t type, const uint8_t **out);
/* Verified overflow run access (npages and value bytes from its header). */
int ct__overflow_get(ct_txn *t, uint64_t pgno, uint64_t gen, uint32_t vlen,
                     const uint8_t **val);
/* Writable copy of a page (copy-on-write): pgno and gen updated to the copy. */
int ct__page_touch(ct_txn *t, uint64_t *pgno, uint64_t *gen, uint8_t type, uint8_t **out);
/* New zeroed dirty run of npages (header initialised for type). */
int ct__page_new(ct_txn *t, uint32_t npages, uint8_t type, uint64_t *pgno, uint8_t **out);
/* New dirty run of npages holding body (blen bytes) right after the header
   (type's header initialised); the bytes after body are zeroed. */
int ct__page_new_with(ct_txn *t, uint32_t npages, uint8_t type, const void *body, size_t blen,
                      uint64_t *pgno, uint8_t **out);
/* A dirty page's buffer goes back to the db's spares (kept up to a few MiB)
   when its txn ends or frees it; ct__page_spares_free at close. */
void ct__page_buf_release(ct_db *db, uint8_t *buf, uint32_t npages);
/* A buffer of npages pages from the spares, or a new one (zeroed when
   zero != 0); NULL when memory runs out. Every buffer that will go into a
   txn's dirty map comes from here: a buffer from libc that went back into
   the spares would grow them commit after commit, faulting in fresh heap. */
uint8_t *ct__page_buf_take(ct_db *db, uint32_t npages, int zero);
void ct__page_spares_free(ct_db *db);
/* Frees a run: dirty ones go back to the pool, durable ones to freed. */
/* Frees pages pgno..+npages written by txn gen (their generation). */
int ct__page_free(ct_txn *t, uint64_t pgno, uint32_t npages, uint64_t gen);
/* Reads npages raw pages into buf (no verification). */
int ct__store_read(ct_db *db, uint64_t pgno, uint32_t npages, uint8_t *buf);
void ct__txn_fail(ct_txn *t, int rc);

/* ---- btree.c ---- */
int ct__tree_get(ct_txn *t, const ct__tree *tr, const uint8_t *key, size_t klen,
                 const uint8_t **cell);
int ct__tree_put(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen, const uint8_t *val,
                 size_t vlen, unsigned flags);
int ct__tree_del(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen);
/* Frees every page of a tree (bucket drop). */
int ct__tree_free_all(ct_txn *t, const ct__tree *tr);
/* Value of a leaf cell (reads overflow runs). */
int ct__cell_value(ct_txn *t, const uint8_t *cell, const uint8_t **val, size_t *vlen);

/* ---- freelist.c ---- */
int ct__freelist_load(ct_db *db, const ct__meta *m, ct__freeset *out);
/* Builds the txn's pool/held split at write-txn begin. */
int ct__freelist_begin(ct_txn *t);
/* Merges the txn's changes into a new free set and writes its chain. */
int ct__freelist_commit(ct_txn *t, ct__freeset *out);
/* Makes a committed set db->free (caller holds db->mu; cannot fail: the
   room was reserved by ct__freelist_commit); *old gets the set it
   replaces, for the caller to free after unlocking. */
void ct__freelist_adopt(ct_db *db, ct__freeset *fs, ct__freeset *old);
/* Entries in db->free (v and frozen). */
size_t ct__freeset_total(const ct__freeset *fs);
/* Whether a write txn may overwrite the entry's page (db->mu not needed:
   only the writer changes the fields read). */
int ct__freeset_reusable(const ct_db *db, const ct__free_entry *e, uint64_t oldest_reader);
/* Entries of fs that only the next sync makes reusable: tree pages the
   last durable commit holds, freed since (CT_SYNC_NONE's cost in space). */
size_t ct__freeset_sync_held(const ct_db *db, const ct__freeset *fs);
void ct__freeset_free(ct_db *db, ct__freeset *fs);
uint32_t ct__freelist_per_page(uint32_t page_size);

int ct__u64_cmp(const void *a, const void *b);

/* ---- readers.c / writer lock ---- */
uint64_t ct__readers_oldest(const ct_db *db); /* UINT64_MAX when none; db->mu held */
void ct__readers_add(ct_db *db, ct_txn *t);    /* db->mu held */
void ct__readers_remove(ct_db *db, ct_txn *t); /* db->mu held */
/* Takes the single-writer lock (waits); CT_INVALID if this thread has it. */
int ct__writer_acquire(ct_db *db);
void ct__writer_release(ct_db *db);
/* A temporary read txn on meta m (recovery, check): no reader slot. */
int ct__txn_temp_init(ct_db *db, const ct__meta *m, ct_txn *t);
int ct__txn_write_buffers(ct_txn *t);

/* ---- bucket.c ---- */
int ct__buckets_flush(ct_txn *t);
int ct__bucket_check(ct_txn *t, ct_bucket **b); /* NULL -> main; dropped -> CT_INVALID */
int ct__bucket_desc_decode(const uint8_t *val, size_t vlen, ct__tree *out);
#define CT_BUCKET_DESC_BYTES 32u

/* ---- commit.c / recover.c ---- */
int ct__commit(ct_txn *t);
/* CT_SYNC_GROUP, after the txn ended: waits until commit id is durable,
   syncing for every committer so far unless another thread already is. */
int ct__group_wait(ct_db *db, uint64_t id);
/* CT_SYNC_GROUP, writer lock held: adopts the durable slot and id of a
   sync that finished since (the free list reads them only under the
   writer lock, so a sync never changes them under a running commit). */
void ct__group_adopt(ct_db *db);
int ct__recover(ct_db *db);
/* Read-write open of a recovered store: makes a meta durable whose id lies
   a window above every id a crashed predecessor may have used. */
int ct__recover_fence(ct_db *db);
/* Walks pages newer than base reachable from m: used by recovery. */
int ct__validate_commit(ct_db *db, const ct__meta *m);

/* ---- txn.c ---- */
void ct__txn_free(ct_txn *t);
/* Frees the write buffers a db keeps between write txns (at close). */
void ct__txn_spares_free(ct_db *db);

/* ---- cursor.c ---- */
void ct__cursor_free(ct_cursor *c);

#endif
