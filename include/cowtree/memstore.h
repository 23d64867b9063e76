/*
 * cowtree/memstore.h - in-memory page store with a device model and seeded
 * fault injection: the store the crash simulator drives.
 *
 * Device model (see cowtree/pagestore.h): the store holds
 *   - a durable image: what survives a power cut;
 *   - the view: what reads see (durable image + every write since);
 *   - an ordered log of unsynced writes and resizes.
 * sync() moves the log into the durable image. ct_memstore_crash() is a
 * power cut: it rebuilds the durable image from the log under a chosen
 * outcome (each write dropped, kept whole or torn per 512-byte sector, in
 * any order), drops the log and resets the view to the new durable image.
 *
 * writev() (the vtable's optional slot) is the same op as a write() of the
 * gathered pages: one log entry, one op number, the same fault decisions,
 * counters and trace record, so the trace hash does not depend on which
 * of the two the engine calls.
 *
 * I/O ops (write, sync, resize; reads are not counted) are numbered from 0
 * in issue order over the store's life (ct_memstore_info.ops). With
 * ct_memstore_set_power_cut(ps, k), op number k and everything after it
 * fails with CT_IO and changes nothing: the machine lost power just before
 * op k. The simulator then closes the engine, calls ct_memstore_crash(),
 * and reopens.
 *
 * Faults are seeded and deterministic: every decision comes from the
 * store's own PRNG (seed in the options) and its op counters, never from a
 * clock or rand(). Rates are integer ratios num/den (den 0 = off).
 *
 * Not thread-safe beyond what the engine needs: all ops are serialized
 * by an internal mutex, so concurrent readers and one writer are fine.
 *
 * The same device model stacks on any other store: cowtree/faultstore.h
 * (ct_faultstore_wrap). Every ct_memstore_* function below also accepts
 * such a fault store; the memory store is the case with no inner store.
 */
#ifndef COWTREE_MEMSTORE_H
#define COWTREE_MEMSTORE_H

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A probability as an integer ratio; den == 0 means never. */
typedef struct ct_ratio {
    uint32_t num;
    uint32_t den;
} ct_ratio;

/* Seeded fault rates, all off by default. */
typedef struct ct_memstore_faults {
    ct_ratio write_error;    /* write returns CT_IO after writing a prefix of its range
                                (none, some 512-byte sectors, or all of it) */
    ct_ratio read_error;     /* read returns CT_IO (transient) */
    ct_ratio read_error_sticky; /* this page reads CT_IO from now on */
    ct_ratio sync_error;     /* sync returns CT_IO; each unsynced write is then
                                randomly kept, dropped or torn in the durable image */
    ct_ratio bit_rot;        /* a read returns one flipped bit (the stored page is fine) */
    ct_ratio misdirected_write; /* a write of one page lands at another page number
                                   on the device (reads show it in place until a crash) */
    ct_ratio lost_write;     /* a write returns CT_OK and never reaches the device
                                (reads show it until a crash) */
    ct_ratio lost_sync;      /* a sync returns CT_OK and persists nothing */
    ct_ratio nospace;        /* a write or resize that grows the store returns CT_NOSPACE
                                (a write after writing a prefix, as write_error) */
    ct_ratio misdirected_read; /* a read returns, for one page of its range, the bytes
                                  of another page (half the time a neighbour of the
                                  range: an address off by one); nothing stored changes */
} ct_memstore_faults;

typedef struct ct_memstore_options {
    uint32_t page_size; /* 0 = 4096 */
    int enable_map;     /* 1 (default): provide ops->map (zero-copy reads);
                           0: map is NULL, every read goes through read() */
    uint64_t max_pages; /* growth beyond this is CT_NOSPACE; 0 = unlimited */
    uint64_t seed;      /* PRNG seed for faults and random crash outcomes */
    ct_memstore_faults faults;
} ct_memstore_options;

CT_API void ct_memstore_options_init(ct_memstore_options *opt);

/* Creates an empty store (size 0). opt NULL = defaults.
   Errors: CT_INVALID (bad page size), CT_NOMEM. */
CT_API int ct_memstore_create(const ct_memstore_options *opt, ct_pagestore **out);

/* Replaces the fault rates (and reseeds when seed != 0). ps must be a memstore. */
CT_API int ct_memstore_set_faults(ct_pagestore *ps, const ct_memstore_faults *faults,
                                  uint64_t seed);

/* Countdown faults (SQLite style): the nth future op of the kind fails
   (n = 1: the next one). sticky: that op and every later op of the kind
   fails until ct_memstore_clear_countdowns(). */
typedef enum ct_memstore_op_kind {
    CT_MEMSTORE_OP_READ = 0,
    CT_MEMSTORE_OP_WRITE = 1,
    CT_MEMSTORE_OP_SYNC = 2,
    CT_MEMSTORE_OP_RESIZE = 3,
    CT_MEMSTORE_OP_KINDS = 4
} ct_memstore_op_kind;
CT_API int ct_memstore_fail_nth(ct_pagestore *ps, ct_memstore_op_kind kind, uint64_t n,
                                int sticky);
CT_API int ct_memstore_clear_countdowns(ct_pagestore *ps);

/* Power cut before I/O op number op_index (see above). UINT64_MAX = never. */
CT_API int ct_memstore_set_power_cut(ct_pagestore *ps, uint64_t op_index);

/* How a power cut treats the unsynced log. */
typedef enum ct_crash_mode {
    CT_CRASH_DROP_ALL = 0, /* nothing unsynced persists */
    CT_CRASH_KEEP_ALL = 1, /* every unsynced write persists whole, in order */
    CT_CRASH_SUBSET = 2,   /* log entry i persists whole iff bit i of mask (i < 64;
                              entries >= 64 are dropped), applied in log order */
    CT_CRASH_OMIT_ONE = 3, /* all persist whole, in order, except entry `index` */
    CT_CRASH_TEAR_ONE = 4, /* all persist whole, in order, except entry `index`,
                              whose sectors are each old/new/zero/garbage by `seed`
                              (a write of several pages, half the time: each page
                              wholly old or wholly new, at least one of each) */
    CT_CRASH_RANDOM = 5    /* each entry dropped, whole or torn, applied in a
                              random order, all decided by `seed` */
} ct_crash_mode;

typedef struct ct_crash_outcome {
    ct_crash_mode mode;
    uint64_t mask;  /* CT_CRASH_SUBSET */
    uint32_t index; /* CT_CRASH_OMIT_ONE, CT_CRASH_TEAR_ONE */
    uint64_t seed;  /* CT_CRASH_TEAR_ONE, CT_CRASH_RANDOM */
} ct_crash_outcome;

/* Power cut now: rebuild the durable image from the log per outcome, drop
   the log, reset the view, clear any pending power cut, and let I/O work
   again. Errors: CT_INVALID, CT_NOMEM. */
CT_API int ct_memstore_crash(ct_pagestore *ps, const ct_crash_outcome *outcome);

/* Counters and state, for the simulator's trace and summary. */
typedef struct ct_memstore_info {
    uint64_t ops;            /* I/O ops issued so far (write, sync, resize) */
    uint64_t reads;
    uint64_t writes;
    uint64_t syncs;
    uint64_t resizes;
    uint64_t pending;        /* unsynced log entries (writes and resizes) */
    uint64_t size_pages;     /* current view size */
    uint64_t durable_pages;  /* durable image size */
    uint64_t faults_injected[10]; /* indexed in ct_memstore_faults field order */
    uint64_t trace_hash;     /* FNV-1a over every op (kind, pgno, count, content hash) */
    /* Added fields (see the notes at the end of this header). */
    uint64_t countdown_failures[CT_MEMSTORE_OP_KINDS]; /* ops failed by fail_nth, per kind */
    uint64_t power_cut_at;   /* pending power cut op index, UINT64_MAX = none */
    uint64_t pinned_pages;   /* page buffers kept alive for pointers map() handed out */
    int power_out;           /* 1 from the power cut until ct_memstore_crash() */
} ct_memstore_info;
CT_API int ct_memstore_get_info(ct_pagestore *ps, ct_memstore_info *out);

/* Kind of a pending log entry, for enumerating crash outcomes. */
CT_API int ct_memstore_pending_entry(ct_pagestore *ps, uint32_t index, int *is_write,
                                     uint64_t *pgno, uint32_t *npages);

/* Snapshot of the whole store (durable image, view, log, counters, fault
   state, PRNG). Cheap: pages are shared copy-on-write between the store
   and its snapshots. Restore makes the store exactly as at the snapshot
   (a snapshot can be restored many times). */
typedef struct ct_memstore_snapshot ct_memstore_snapshot;
CT_API int ct_memstore_snapshot_take(ct_pagestore *ps, ct_memstore_snapshot **out);
CT_API int ct_memstore_snapshot_restore(ct_pagestore *ps, const ct_memstore_snapshot *snap);
CT_API void ct_memstore_snapshot_free(ct_memstore_snapshot *snap);

/* Direct access to the durable image, for tests that edit a store image
   (corrupt a page, flip a bit). Writes go straight to BOTH the durable
   image and the view, bypassing the log and faults. */
CT_API int ct_memstore_poke(ct_pagestore *ps, uint64_t pgno, const void *page);
CT_API int ct_memstore_peek(ct_pagestore *ps, uint64_t pgno, void *page);

/* ---- Additions to the original contract -------------------------------- */

/* Index of each fault kind in ct_memstore_info.faults_injected: the field
   order of ct_memstore_faults. */
typedef enum ct_memstore_fault_kind {
    CT_MEMSTORE_FAULT_WRITE_ERROR = 0,
    CT_MEMSTORE_FAULT_READ_ERROR = 1,
    CT_MEMSTORE_FAULT_READ_ERROR_STICKY = 2,
    CT_MEMSTORE_FAULT_SYNC_ERROR = 3,
    CT_MEMSTORE_FAULT_BIT_ROT = 4,
    CT_MEMSTORE_FAULT_MISDIRECTED_WRITE = 5,
    CT_MEMSTORE_FAULT_LOST_WRITE = 6,
    CT_MEMSTORE_FAULT_LOST_SYNC = 7,
    CT_MEMSTORE_FAULT_NOSPACE = 8,
    CT_MEMSTORE_FAULT_MISDIRECTED_READ = 9,
    CT_MEMSTORE_FAULT_KINDS = 10
} ct_memstore_fault_kind;

/* Releases the page buffers the store keeps alive only because map()
   handed out pointers to them (a page rewritten, dropped by a shrink, a
   crash or a restore keeps its old buffer until close otherwise). Every
   pointer map() returned before the call becomes invalid: call it only
   while no engine is open on the store (between ct_close and the next
   ct_open), to bound memory in long simulations. Errors: CT_INVALID. */
CT_API int ct_memstore_unmap_all(ct_pagestore *ps);

/*
 * Semantic details (the contract above, made exact):
 *  - Calls rejected with CT_INVALID (NULL buffer or page pointer, npages
 *    0, a range that wraps, a read at or beyond size) are not counted, not
 *    numbered, not traced and draw no fault decision. Every other write, sync and resize
 *    gets the next op number, failed ones included (power cut, faults).
 *  - Fault decisions, in this order per op (each drawn from the store PRNG
 *    only when its ratio's den != 0, and only if the op got that far):
 *      read:   power out -> CT_IO; countdown -> CT_IO; a sticky page in the
 *              range -> CT_IO; read_error -> CT_IO; read_error_sticky ->
 *              one page of the range turns sticky, CT_IO; then copy;
 *              misdirected_read (only when the store has a page outside
 *              the range) -> page i of buf (i drawn) holds the view's
 *              page t outside the range instead: t = pgno - 1 or pgno +
 *              npages (whichever exists, drawn when both do) half the
 *              time, else any page outside the range; then bit_rot flips
 *              one bit of buf (never of the stored page).
 *      write:  power; countdown -> CT_IO; end > max_pages -> CT_NOSPACE
 *              (not a fault); nospace (only if the write grows the store)
 *              -> CT_NOSPACE; write_error -> CT_IO.
 *              A write failed by a countdown, nospace or write_error first
 *              wrote the first k 512-byte sectors of its range, 0 <= k <=
 *              all of them (a short write, then the error): the prefix
 *              shows in the view over the old bytes and is logged as a
 *              write of its own (so syncs and crashes treat it as any
 *              write), growing the store if it reaches past the end
 *              (never past max_pages). k comes from the store PRNG for
 *              nospace and write_error, from the op number for a countdown
 *              (which so draws nothing);
 *              lost_write -> CT_OK, reads show the data (the page cache
 *              has it) but no data reaches the device: only the growth,
 *              if the write grows the store, is logged (a resize entry),
 *              so after a crash those pages read as zeros and the others
 *              as before; misdirected_write (only when the store, grown
 *              by the write, has a page outside the written range) ->
 *              reads show the write where it was meant to go, but on the
 *              device page i of it lands at another page t outside the
 *              range and page pgno+i keeps its old content (seen after a
 *              crash). Both make the view differ from durable image +
 *              log until the next crash or restore, as a failed sync does.
 *      sync:   power; countdown or sync_error -> CT_IO, each log entry in
 *              order dropped, kept whole or torn (1/3 each) into the
 *              durable image, log cleared, view untouched; lost_sync ->
 *              CT_OK, nothing persisted, the log stays (a crash may still
 *              drop those writes); else the log is applied in order.
 *      resize: power; countdown -> CT_IO; growth beyond max_pages ->
 *              CT_NOSPACE; nospace (growth only) -> CT_NOSPACE.
 *    Countdown failures are counted in countdown_failures, not in
 *    faults_injected. A sticky page stays unreadable (even if rewritten)
 *    until ct_memstore_set_faults() or close.
 *  - Power: set_power_cut(k) with k below the number of ops already
 *    issued cuts the power at once; otherwise the power goes out when op
 *    k is issued. While it is out, write/sync/resize/read/size return
 *    CT_IO and map() returns NULL. Only ct_memstore_crash() restores it.
 *  - "Old" content of a torn sector is what the durable image holds at
 *    that page when the entry is applied (entries before it in the apply
 *    order included); zero beyond the durable size. A torn write always
 *    has at least one sector that is not new and, when it spans two or
 *    more sectors, at least one new sector; a torn one-sector write is
 *    zero or garbage (so a torn write never equals a dropped or whole one
 *    unless old and new bytes coincide). Garbage sectors come from the
 *    PRNG of the outcome (crash) or of the store (failed sync). A resize
 *    entry is never torn: it is applied or not (TEAR_ONE on a resize
 *    entry applies it or not by seed; RANDOM treats "torn" as "whole").
 *    Durable size changes only by applied entries: an applied write grows
 *    it to cover the pages it lands on, an applied resize sets it.
 *  - ct_memstore_crash: CT_INVALID for a NULL outcome, an unknown mode,
 *    or an OMIT_ONE/TEAR_ONE index >= pending. Ops, counters, fault
 *    rates, countdowns and sticky pages survive a crash.
 *  - ct_memstore_pending_entry: CT_NOTFOUND for index >= pending; for a
 *    resize entry is_write = 0, pgno = the new size in pages, npages = 0;
 *    out pointers may be NULL. For a misdirected write it reports the
 *    range the caller asked for.
 *  - map() bypasses every fault, is not counted and not traced; it
 *    returns NULL for a page never written (read() gives zeros).
 *  - size() is not an op: not counted, not traced (CT_IO when power out).
 *  - poke/peek bypass power and faults; poke grows both images to cover
 *    pgno and is mixed into the trace hash; peek beyond the durable size
 *    is CT_INVALID, a never-written page peeks as zeros.
 *  - ct_memstore_set_faults(ps, NULL, seed) turns every rate off; it
 *    clears sticky pages but not countdowns.
 *  - A snapshot may be restored into another memory store of the same
 *    page size (CT_INVALID otherwise); restore sets the whole state
 *    (durable image, view, log, counters, trace hash, PRNG, rates,
 *    countdowns, sticky pages, power state) but keeps the store's own
 *    options (enable_map, max_pages) and its map() pins.
 *  - Trace hash: FNV-1a 64 over one record per op: kind (READ 0, WRITE 1,
 *    SYNC 2, RESIZE 3, CRASH 4, POKE 5), pgno (resize: new size; crash:
 *    mode, then seed), npages (crash: index, then pending count), a 64-bit
 *    hash of the written bytes (crash: mask), result code; all encoded
 *    little-endian, so equal on every machine.
 */

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_MEMSTORE_H */
