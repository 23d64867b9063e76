/*
 * cowtree/tracestore.h - a counting and tracing wrapper around any page
 * store: every op is forwarded to the inner store unchanged, and counted
 * per kind (calls, pages, bytes, errors and, with a clock, a latency
 * histogram); an optional hook sees each op as it completes.
 *
 * Deterministic unless asked otherwise: latency is measured only when the
 * options supply a clock (the crash simulator never does, so its runs
 * replay exactly). Counters are atomics: the engine's readers call read()
 * and map() from their own threads while the writer writes.
 */
#ifndef COWTREE_TRACESTORE_H
#define COWTREE_TRACESTORE_H

#include <stdio.h>

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Op kinds, indexing ct_tracestore_stats.op. */
typedef enum ct_trace_op {
    CT_TRACE_READ = 0,
    CT_TRACE_WRITE = 1,
    CT_TRACE_SYNC = 2,
    CT_TRACE_SIZE = 3,
    CT_TRACE_RESIZE = 4,
    CT_TRACE_MAP = 5,
    CT_TRACE_OPS = 6
} ct_trace_op;

/* Latency histogram: bucket b counts ops whose latency in ns has its
   highest set bit at b (bucket 0 also holds 0 ns): [2^b, 2^(b+1)). */
#define CT_TRACE_LATENCY_BUCKETS 64u

typedef struct ct_trace_op_stats {
    uint64_t calls;  /* every call, failed ones included */
    uint64_t errors; /* calls that returned anything but CT_OK; for map,
                        calls that returned NULL (the engine then reads) */
    uint64_t pages;  /* read/write: pages of successful calls; map: non-NULL
                        returns; resize: pages added or dropped; else 0 */
    uint64_t bytes;  /* pages * page_size for read, write and map; else 0 */
    /* Filled only when the options gave a clock; else all 0. */
    uint64_t latency_ns_total;
    uint64_t latency_ns_max;
    uint64_t latency_hist[CT_TRACE_LATENCY_BUCKETS];
} ct_trace_op_stats;

typedef struct ct_tracestore_stats {
    ct_trace_op_stats op[CT_TRACE_OPS];
} ct_tracestore_stats;

/* One completed op, for the hook. */
typedef struct ct_trace_event {
    uint64_t seq; /* 0, 1, 2... per wrapper in completion order (reset
                     does not restart it) */
    ct_trace_op op;
    uint64_t pgno;       /* read, write, map: first page; resize: new size;
                            size: the size returned (on CT_OK); sync: 0 */
    uint32_t npages;     /* read, write: pages; map: 1; else 0 */
    int rc;              /* the inner store's code; map: CT_OK, or CT_NOTFOUND
                            when it returned NULL */
    uint64_t latency_ns; /* 0 without a clock */
} ct_trace_event;

/* Called after each op, on the thread that made it (possibly several
   threads at once); must not call into the store. */
typedef void (*ct_trace_hook_fn)(void *hook_ctx, const ct_trace_event *ev);

typedef struct ct_tracestore_options {
    /* Optional monotonic clock in ns; NULL = no latency (deterministic). */
    uint64_t (*now_ns)(void *clock_ctx);
    void *clock_ctx;
    /* Optional per-op hook. */
    ct_trace_hook_fn hook;
    void *hook_ctx;
} ct_tracestore_options;

/* Fills defaults (no clock, no hook). opt NULL is a no-op. */
CT_API void ct_tracestore_options_init(ct_tracestore_options *opt);

/* Wraps inner (same page size; map() and writev() are offered exactly
   when inner has them; a writev is counted, and hooked, as a write). Takes ownership of inner on success: closing the wrapper closes
   inner. On failure inner is untouched and still the caller's.
   opt NULL = defaults (copied; the contexts are borrowed and must outlive
   the wrapper). Errors: CT_INVALID (NULL inner/out, inner without ops),
   CT_NOMEM. */
CT_API int ct_tracestore_wrap(ct_pagestore *inner, const ct_tracestore_options *opt,
                              ct_pagestore **out);

/* Copies the counters. Each counter is read atomically, the set is not a
   single snapshot while other threads run ops.
   Errors: CT_INVALID (NULL, or ps is not a trace store). */
CT_API int ct_tracestore_get_stats(ct_pagestore *ps, ct_tracestore_stats *out);

/* Sets every counter to 0. Errors: CT_INVALID. */
CT_API int ct_tracestore_reset(ct_pagestore *ps);

/* The wrapped store (borrowed; NULL when ps is not a trace store). */
CT_API ct_pagestore *ct_tracestore_inner(ct_pagestore *ps);

/* "read", "write", ...; "?" for an unknown kind. */
CT_API const char *ct_trace_op_name(ct_trace_op op);

/* Prints a table of the counters to f (one row per op kind that was
   called, latency columns only when a clock was given): calls, errors,
   pages, bytes, mean and max latency, and the median and 99th-percentile
   bucket bounds. Errors: CT_INVALID (NULL f, not a trace store), CT_IO
   (f reported a write error). */
CT_API int ct_tracestore_print(ct_pagestore *ps, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_TRACESTORE_H */
