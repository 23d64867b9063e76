/*
 * limits.h - every limit of the engine, with its reason.
 */
#ifndef CT_CORE_LIMITS_H
#define CT_CORE_LIMITS_H

/* Bytes of the common page header (page.h has the layout). */
#define CT_PAGE_HDR_BYTES 32u

/* A leaf or branch cell, with its slot, takes at most a quarter of
   the usable page so that any overfull node splits into two legal nodes
   and a node always holds at least 4 cells (3 separators per branch). */
#define CT_CELLS_PER_PAGE_MIN 4u

/* Fixed bytes of a leaf cell: klen u16, then vword u16: an inline value's length
   or the overflow mark (node.h). Four bytes, so that 32 cells of a 16-byte
   key and a 100-byte value fit a 4096-byte page. */
#define CT_LEAF_CELL_FIXED 4u
/* Bytes of an overflow reference inside a leaf cell: pgno u64, gen u64,
   vlen u32 (a value too long for a u16). */
#define CT_OVERFLOW_REF_BYTES 20u
/* Fixed bytes of a branch cell: child u64, gen u64, klen u16. */
#define CT_BRANCH_CELL_FIXED 18u
/* Bytes of one slot: the cell's u16 offset, then CT_SLOT_PREFIX_BYTES of
   its key past the page's common prefix (node.h says why). */
#define CT_SLOT_PREFIX_BYTES 4u
#define CT_SLOT_BYTES (2u + CT_SLOT_PREFIX_BYTES)

/* Tree depth bound: with at least 4 children per branch (a quarter-page
   cell cap), 32 levels address 4^31 > 2^62 leaves: more than any store. */
#define CT_DEPTH_MAX 32u

/* Free-list entries a meta page carries itself: they fill the meta's
   first 512-byte sector after its fields (offsets 168..503), so every page
   size holds the same number (meta.c, docs/format.md). */
#define CT_META_FREE_INLINE 21u

/* Largest value: 2^31 - 1 bytes (API.md), so lengths fit a u32. */
#define CT_VALUE_MAX_BYTES 0x7fffffffu

/* Txn id window. Pages are told apart from stale copies by the id of the
   txn that wrote them, so no id may be used twice, even by a commit that
   failed or a process that crashed before its meta reached the disk. A
   process uses ids only within CT_TXNID_WINDOW of its last durable meta
   (CT_SYNC_NONE commits turn into synced ones at half the window; failed
   attempts consume ids), and a read-write open first makes a fence meta
   durable whose id lies a whole window above every meta it found. A test
   build may shrink it (a power of two, at least 8): ci/sim.sh builds the
   simulator with a window of 8 ids so its code paths run. */
#ifndef CT_TXNID_WINDOW
#define CT_TXNID_WINDOW (1ull << 20)
#endif
_Static_assert(CT_TXNID_WINDOW >= 8 && (CT_TXNID_WINDOW & (CT_TXNID_WINDOW - 1)) == 0,
               "CT_TXNID_WINDOW: a power of two, at least 8");

/* A commit gives the store's free tail back only once it is at least
   1/CT_SHRINK_FRACTION of the store (commit.c's shrink_store says why). */
#define CT_SHRINK_FRACTION 16u

/* A durable commit that grows the store by fewer pages than the grow-ahead
   chunk writes zero pages past the high-water mark up to a chunk beyond
   it (commit.c's grow_ahead says why): hwm / CT_GROW_AHEAD_FRACTION pages,
   at least CT_GROW_AHEAD_MIN and at most CT_GROW_AHEAD_MAX
   (<= CT_WRITE_RUN_PAGES_MAX: one store write). A tail up to one chunk
   is never given back. */
#define CT_GROW_AHEAD_FRACTION 32u
#define CT_GROW_AHEAD_MIN 16u
#define CT_GROW_AHEAD_MAX 256u

/* Pages gathered into one coalesced store write at commit: through
   writev (one pointer per page, no copy) up to CT_WRITE_VEC_PAGES_MAX, so
   a commit of sixteen 64-KiB values reaches the store in one write (the
   file store cuts it into pieces by kind, cowtree/filestore.h); copied
   into a staging buffer for a store without writev, up to
   CT_WRITE_RUN_PAGES_MAX (the buffer is that many pages). */
#define CT_WRITE_RUN_PAGES_MAX 256u
#define CT_WRITE_VEC_PAGES_MAX 1024u

/* Run buffers (overflow values) a db keeps for its next write txns
   (pager.c): enough for a batch of 16 big puts, matched by length with a
   linear scan that stays short. */
#define CT_SPARE_RUNS_MAX 32u

/* A run of at least this many pages taken from the high-water mark starts
   at a page number that is a multiple of it, unless it follows the txn's
   last such run (pager.c's take_from_end says why): 64 KiB at 4-KiB
   pages, one fault-around window. Settable at build time so a build
   without it can be measured (-DCT_RUN_ALIGN_PAGES=4294967295u never
   aligns; docs/bench.md). */
#ifndef CT_RUN_ALIGN_PAGES
#define CT_RUN_ALIGN_PAGES 16u
#endif

/* Verified-page memo (memo.c): the first chunk holds 4096 pages (32 KiB of
   entries), chunk k 4096 << k, and 24 chunks cover 4096 * (2^24 - 1)
   pages, 2^36 pages less a little (256 TiB at 4 KiB pages): past that a
   page is verified on every access. */
#define CT_MEMO_CHUNK0_PAGES 4096u
#define CT_MEMO_CHUNKS_MAX 24u
#define CT_MEMO_PAGES_MAX ((uint64_t)CT_MEMO_CHUNK0_PAGES * ((1ull << CT_MEMO_CHUNKS_MAX) - 1u))

/* Shared page cache (cache.c), for pages the store's map() does not serve.
   Default 2048 pages (8 MiB at 4 KiB pages): every branch of a db of a few
   million keys plus a working set of leaves. Shards: one mutex each, so
   readers on different pages rarely meet; 32 shards keep collisions rare
   at 2 x the cores we target, and each shard gets at least 16 pages so a
   small cache is not split into slivers (2 pages = 1 shard). */
#define CT_CACHE_PAGES_DEFAULT 2048u
#define CT_CACHE_SHARDS_MAX 32u
#define CT_CACHE_SHARD_PAGES_MIN 16u
/* Chain heads per shard: twice its pages, within [64, 2^20]. */
#define CT_CACHE_HEADS_MIN 64u
#define CT_CACHE_HEADS_MAX (1u << 20)
/* Entries a shard's table holds per chain head at most. Pinned entries
   are in the table too, and one read txn pins every page it reads: a
   scan far beyond cache_pages would make every chain long, and every
   other reader's pin in that shard walk it under the shard mutex. Past
   this load a new entry stays private to the txn that read it. */
#define CT_CACHE_CHAIN_LOAD_MAX 2u

/* Large blocks the default allocator keeps for reuse (retain.c): a commit
   builds its free-list arrays anew, and on a virtual machine every page
   of a block glibc gave back and faulted in again cost far more than the
   work done in it. Blocks of at least 32 KiB (four pages when pages are
   larger than 8 KiB), at most 16 of them and 64 MiB in all, matched only
   to requests of at least a quarter of their size. */
#define CT_RETAIN_MIN_BYTES (32u << 10)
#define CT_RETAIN_SLOTS 16u
#define CT_RETAIN_TOTAL_MAX ((size_t)64 << 20)
#define CT_RETAIN_FIT_RATIO 4u

#endif
