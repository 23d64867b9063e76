/*
 * cowtree/storecheck.h - the page-store conformance kit: a library function
 * an embedder calls from their own test suite (or through the
 * cowtree-storecheck program) to check that a ct_pagestore honours the
 * contract of cowtree/pagestore.h.
 *
 * The kit opens many stores through a callback (each check starts from a
 * FRESH, empty store and closes it at the end), drives them with
 * deterministic patterns from a seeded PRNG (no clock, no rand()), and
 * reports every violation as one sentence naming the check, what was
 * done and what came back, e.g.
 *   "read-after-write: page 7 of a 3-page write at 5 reads back different
 *    bytes (first difference at byte 12, page size 4096)".
 *
 * What it checks, per page size (each name is a check in the report):
 *   open            a FRESH open succeeds at the page size, reports that
 *                   page size, has every required slot and size() 0;
 *   read-after-write single and multi-page writes, overwrites, random
 *                   patterns read back exactly (whole range and page by
 *                   page);
 *   zero-fill       pages inside size() that were never written (below a
 *                   write further out, or added by a resize) read zeros;
 *   bounds          reads at or after size(), ranges crossing size(), npages
 *                   0, a NULL buffer and ranges that wrap are rejected with
 *                   CT_INVALID (a wrapping write may also be CT_NOSPACE), and
 *                   a rejected call changes nothing;
 *   grow-on-write   a write beyond the end grows the store to cover it and
 *                   size() says so; a write inside does not change size();
 *   resize          growing adds zero pages; shrinking drops the tail (reads
 *                   there are CT_INVALID); growing again (by resize or by a
 *                   write further out) shows zeros, never the old bytes;
 *   boundaries      multi-page I/O at the first page, the last page, and
 *                   across the previous end; one read of the whole store;
 *   sync            sync() returns CT_OK on a healthy store (empty, after
 *                   writes, after a resize, twice in a row);
 *   durability      written + synced data survives close and reopen (flags
 *                   0) with the right size; a FRESH open empties the store.
 *                   Not applicable to a volatile store;
 *   map             when map() is non-NULL: it returns NULL or a pointer to
 *                   the page's current bytes, which stay valid and unchanged
 *                   while the page is not rewritten, across writes to other
 *                   pages and growth of the store. Not applicable without
 *                   map();
 *   writev          when writev() is non-NULL: pages gathered from separate
 *                   buffers read back exactly, alone and mixed with write()
 *                   overwrites; a writev past the end grows the store, one
 *                   inside does not; npages 0 and a NULL array are
 *                   CT_INVALID. Not applicable without writev();
 *   power-cut       under the fault store (cowtree/faultstore.h): writes
 *                   reach the store only at a sync or a simulated power
 *                   cut, and the store then holds exactly what the device
 *                   model applied (whole, dropped, torn, a shrink), read
 *                   back directly and, when persistent, after a reopen;
 *                   every read the wrapper made matched what it wrote;
 *   return-codes    every code any op returned (in any check at this page
 *                   size) is one of the CT_* codes of cowtree.h (a store
 *                   returning -errno fails here).
 * Each (check, page size) pair is one check in the report: it passes with
 * no violation, fails with at least one, or is not applicable (never
 * counted as passed). Leaks and use-after-free in close() are not visible
 * from here: run the kit's caller under AddressSanitizer.
 *
 * Ops run one at a time (no concurrency checks); the kit never calls an op
 * of a store after closing it.
 */
#ifndef COWTREE_STORECHECK_H
#define COWTREE_STORECHECK_H

#include <stdio.h>

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens a store with the given page size. flags: CT_STORE_PLUGIN_FRESH
   (cowtree/plugin.h) for an empty store (size 0: erase what a previous
   open left), or 0 to reopen what the last store, closed after a
   successful sync, left. A volatile store returns CT_NOTSUP for flags 0.
   Returns CT_OK with *out set, or a CT_* code. The kit closes every store
   it opens with (*out)->ops->close. ctx is the one given to the run. */
typedef int (*ct_storecheck_open_fn)(void *ctx, uint32_t page_size, unsigned flags,
                                     ct_pagestore **out);

/* Is the store persistent across close and reopen? */
#define CT_STORECHECK_DETECT 0     /* reopen returning CT_NOTSUP = volatile */
#define CT_STORECHECK_PERSISTENT 1 /* reopen must work (CT_NOTSUP is a violation) */
#define CT_STORECHECK_VOLATILE 2   /* never reopen: durability not applicable */

/* ct_storecheck_options.flags */
#define CT_STORECHECK_QUIET 0x1u /* print only violations, failed checks, summary */

/* The largest number of page sizes one run accepts (512..65536: 8). */
#define CT_STORECHECK_PAGE_SIZES_MAX 16u

/* Called once per violation: check name, page size, the sentence. */
typedef void (*ct_storecheck_violation_fn)(void *cb_ctx, const char *check, uint32_t page_size,
                                           const char *message);

typedef struct ct_storecheck_options {
    /* Page sizes to test (powers of two in CT_PAGE_SIZE_MIN..MAX); borrowed.
       NULL or count 0: every power of two from 512 to 65536. The store must
       open at every one of them (a failed open is a violation of "open"). */
    const uint32_t *page_sizes;
    uint32_t page_size_count;
    int persistence; /* CT_STORECHECK_DETECT (default), _PERSISTENT, _VOLATILE */
    unsigned flags;  /* CT_STORECHECK_QUIET */
    uint64_t seed;   /* pattern seed; 0 = the default (runs are repeatable) */
    /* Only run the check of this name (and return-codes, which tallies it);
       NULL = all. Borrowed. */
    const char *only;
    /* Where to print one line per check ("ok", "FAIL", "n/a"), each
       violation and a summary line; NULL = print nothing. Borrowed. */
    FILE *out;
    /* Optional callback per violation (besides out). */
    ct_storecheck_violation_fn on_violation;
    void *cb_ctx;
    /* Violations printed/called back per (check, page size) before the rest
       are only counted; 0 = 10. */
    uint32_t violations_shown_max;
} ct_storecheck_options;

typedef struct ct_storecheck_report {
    uint32_t checks_run;            /* (check, page size) pairs run */
    uint32_t checks_passed;         /* no violation */
    uint32_t checks_failed;         /* at least one violation */
    uint32_t checks_not_applicable; /* never counted as passed */
    uint64_t violations;            /* all violations, shown or not */
    char first_failed_check[32];    /* name of the first failed check, "" if none */
    char first_violation[256];      /* its first message, "" if none */
} ct_storecheck_report;

/* Fills the defaults (all page sizes, detect persistence, print nothing).
   opt NULL is a no-op. */
CT_API void ct_storecheck_options_init(ct_storecheck_options *opt);

/* Runs the checks on stores that open() creates.
 * open:  required; ctx is passed back to it.
 * opt:   NULL = defaults.
 * rep:   receives the counts; may be NULL.
 * Returns CT_OK when every check ran and none failed, CT_CORRUPT when at
 * least one violation was found (details in rep and out), CT_INVALID (NULL
 * open, a bad page size in the options, an unknown `only` name), CT_NOMEM
 * (the kit's own buffers). */
CT_API int ct_storecheck_run(ct_storecheck_open_fn open, void *ctx,
                             const ct_storecheck_options *opt, ct_storecheck_report *rep);

/* Name of check i (0-based, in run order), NULL past the last one. */
CT_API const char *ct_storecheck_name(uint32_t i);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_STORECHECK_H */
