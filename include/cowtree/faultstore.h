/*
 * cowtree/faultstore.h - the fault-injecting wrapper: the device model of
 * cowtree/memstore.h stacked on ANY page store.
 *
 * ct_faultstore_wrap(inner, opt, &out) returns a store that forwards to
 * `inner` but models the volatile write cache on top of it: writes and
 * resizes since the last sync are held in a log (reads see them), sync()
 * applies the log to `inner` and then syncs `inner`, and a power cut
 * (ct_memstore_set_power_cut + ct_memstore_crash) applies the log to
 * `inner` dropped, whole, torn per 512-byte sector or reordered, exactly
 * as for the memory store. Every fault knob of ct_memstore_options.faults
 * works the same way, and every ct_memstore_* function (faults,
 * countdowns, power cuts, crash outcomes, info, snapshots, peek/poke)
 * accepts the wrapper.
 *
 * There is one device model: the memory store IS this wrapper with no
 * inner store (its durable image then lives only in memory). With an inner
 * store the wrapper keeps a copy of what it has applied to `inner` (shared
 * page buffers, so snapshots stay cheap), reads durable pages back from
 * `inner`, and counts every read whose bytes differ from what was applied
 * (ct_faultstore_info.inner_mismatches): a store that loses or garbles data
 * shows up there even when the engine would merely see a bad checksum.
 * Restoring a snapshot or crashing rewrites only the pages of `inner` that
 * differ. inner's own sync() runs only when the wrapper's sync() succeeds.
 *
 * An error of `inner` while the wrapper applies its log makes the
 * wrapper's sync fail with CT_IO (the log then counts as applied: the
 * wrapper's durable image keeps it, and the next sync or crash rewrites
 * to inner every page inner may not hold); inner's read errors are CT_IO.
 */
#ifndef COWTREE_FAULTSTORE_H
#define COWTREE_FAULTSTORE_H

#include "cowtree/memstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wraps inner (its page size; opt->page_size must be 0 or equal). The
   wrapper takes ownership of inner on success (closing the wrapper closes
   inner); on failure inner is untouched and still the caller's. The
   wrapper starts as inner's current contents, all durable.
   opt NULL = defaults (no faults, map enabled).
   Errors: CT_INVALID, CT_NOMEM, or inner's read error. */
CT_API int ct_faultstore_wrap(ct_pagestore *inner, const ct_memstore_options *opt,
                              ct_pagestore **out);

typedef struct ct_faultstore_info {
    uint64_t inner_reads;      /* pages read back from inner */
    uint64_t inner_writes;     /* pages written to inner */
    uint64_t inner_syncs;
    uint64_t inner_resizes;
    uint64_t inner_errors;     /* inner calls that returned an error */
    uint64_t inner_mismatches; /* pages inner read back unlike what was applied */
} ct_faultstore_info;

/* Counters of the traffic to inner. A memory store (no inner) reports
   zeros. Errors: CT_INVALID (not a memory/fault store). */
CT_API int ct_faultstore_get_info(ct_pagestore *ps, ct_faultstore_info *out);

/* The wrapped store (NULL for a memory store or a non-fault store). */
CT_API ct_pagestore *ct_faultstore_inner(ct_pagestore *ps);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_FAULTSTORE_H */
