/*
 * tracestore.c - the counting/tracing wrapper (cowtree/tracestore.h): a
 * ct_pagestore that forwards every op to its inner store and counts it.
 *
 * Invariants: the wrapper never changes an argument, a result or a byte;
 * it owns inner from a successful wrap until close; counters only grow
 * between resets (relaxed atomics: they order nothing, they only count);
 * the clock is called only when the options gave one.
 * Never: reads a clock on its own, allocates after wrap, or calls the hook
 * with a lock held (it holds none).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/tracestore.h"

typedef struct trace_counters {
    _Atomic uint64_t calls;
    _Atomic uint64_t errors;
    _Atomic uint64_t pages;
    _Atomic uint64_t bytes;
    _Atomic uint64_t latency_ns_total;
    _Atomic uint64_t latency_ns_max;
    _Atomic uint64_t latency_hist[CT_TRACE_LATENCY_BUCKETS];
} trace_counters;

typedef struct trace_store {
    ct_pagestore base; /* first: callers only see this */
    ct_pagestore *inner;
    ct_tracestore_options opt;
    _Atomic uint64_t seq;
    trace_counters op[CT_TRACE_OPS];
} trace_store;

/* Indexed [inner has map][inner has writev]: the wrapper offers an
   optional slot exactly when inner does. */
static const ct_pagestore_ops trace_tables[2][2];

static trace_store *trace_of(ct_pagestore *ps)
{
    if (!ps || !ps->ops) {
        return NULL;
    }
    for (int m = 0; m < 2; m++) {
        for (int v = 0; v < 2; v++) {
            if (ps->ops == &trace_tables[m][v]) {
                return (trace_store *)ps;
            }
        }
    }
    return NULL;
}

static uint64_t clock_now(const trace_store *t)
{
    return t->opt.now_ns ? t->opt.now_ns(t->opt.clock_ctx) : 0;
}

static uint32_t bucket_of(uint64_t ns)
{
    uint32_t b = 0;
    while (ns > 1u) {
        ns >>= 1;
        b++;
    }
    return b;
}

/* Counts one finished op and calls the hook. */
static void account(trace_store *t, ct_trace_op op, uint64_t start_ns, int failed, uint64_t pages,
                    const ct_trace_event *proto)
{
    trace_counters *k = &t->op[op];
    uint64_t latency_ns = 0;
    if (t->opt.now_ns) {
        uint64_t end_ns = clock_now(t);
        latency_ns = end_ns > start_ns ? end_ns - start_ns : 0;
        atomic_fetch_add_explicit(&k->latency_ns_total, latency_ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&k->latency_hist[bucket_of(latency_ns)], 1, memory_order_relaxed);
        uint64_t max = atomic_load_explicit(&k->latency_ns_max, memory_order_relaxed);
        while (latency_ns > max &&
               !atomic_compare_exchange_weak_explicit(&k->latency_ns_max, &max, latency_ns,
                                                      memory_order_relaxed, memory_order_relaxed)) {
        }
    }
    atomic_fetch_add_explicit(&k->calls, 1, memory_order_relaxed);
    if (failed) {
        atomic_fetch_add_explicit(&k->errors, 1, memory_order_relaxed);
    }
    if (pages) {
        atomic_fetch_add_explicit(&k->pages, pages, memory_order_relaxed);
        if (op == CT_TRACE_READ || op == CT_TRACE_WRITE || op == CT_TRACE_MAP) {
            atomic_fetch_add_explicit(&k->bytes, pages * t->base.page_size, memory_order_relaxed);
        }
    }
    uint64_t seq = atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
    if (t->opt.hook) {
        ct_trace_event ev = *proto;
        ev.seq = seq;
        ev.op = op;
        ev.latency_ns = latency_ns;
        t->opt.hook(t->opt.hook_ctx, &ev);
    }
}

static int trace_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->read(t->inner, pgno, npages, buf);
    ct_trace_event ev = {.pgno = pgno, .npages = npages, .rc = rc};
    account(t, CT_TRACE_READ, start_ns, rc != CT_OK, rc == CT_OK ? npages : 0u, &ev);
    return rc;
}

static int trace_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->write(t->inner, pgno, npages, buf);
    ct_trace_event ev = {.pgno = pgno, .npages = npages, .rc = rc};
    account(t, CT_TRACE_WRITE, start_ns, rc != CT_OK, rc == CT_OK ? npages : 0u, &ev);
    return rc;
}

/* Counted as a write: to every store it is one (pagestore.h). */
static int trace_writev(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->writev(t->inner, pgno, npages, pages);
    ct_trace_event ev = {.pgno = pgno, .npages = npages, .rc = rc};
    account(t, CT_TRACE_WRITE, start_ns, rc != CT_OK, rc == CT_OK ? npages : 0u, &ev);
    return rc;
}

static int trace_sync(ct_pagestore *ps)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->sync(t->inner);
    ct_trace_event ev = {.rc = rc};
    account(t, CT_TRACE_SYNC, start_ns, rc != CT_OK, 0, &ev);
    return rc;
}

static int trace_size(ct_pagestore *ps, uint64_t *npages)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->size(t->inner, npages);
    ct_trace_event ev = {.pgno = (rc == CT_OK && npages) ? *npages : 0, .rc = rc};
    account(t, CT_TRACE_SIZE, start_ns, rc != CT_OK, 0, &ev);
    return rc;
}

static int trace_resize(ct_pagestore *ps, uint64_t npages)
{
    trace_store *t = (trace_store *)ps;
    uint64_t before = 0;
    int have_before = t->inner->ops->size(t->inner, &before) == CT_OK;
    uint64_t start_ns = clock_now(t);
    int rc = t->inner->ops->resize(t->inner, npages);
    uint64_t moved = 0;
    if (rc == CT_OK && have_before) {
        moved = npages > before ? npages - before : before - npages;
    }
    ct_trace_event ev = {.pgno = npages, .rc = rc};
    account(t, CT_TRACE_RESIZE, start_ns, rc != CT_OK, moved, &ev);
    return rc;
}

static const void *trace_map(ct_pagestore *ps, uint64_t pgno)
{
    trace_store *t = (trace_store *)ps;
    uint64_t start_ns = clock_now(t);
    const void *p = t->inner->ops->map(t->inner, pgno);
    ct_trace_event ev = {.pgno = pgno, .npages = 1, .rc = p ? CT_OK : CT_NOTFOUND};
    account(t, CT_TRACE_MAP, start_ns, p == NULL, p ? 1u : 0u, &ev);
    return p;
}

static void trace_close(ct_pagestore *ps)
{
    trace_store *t = trace_of(ps);
    if (!t) {
        return;
    }
    t->inner->ops->close(t->inner);
    free(t);
}

#define TRACE_OPS(map_fn, writev_fn)                                                            \
    {                                                                                              \
        .read = trace_read, .write = trace_write, .sync = trace_sync, .size = trace_size,          \
        .resize = trace_resize, .close = trace_close, .map = map_fn, .writev = writev_fn,          \
    }

static const ct_pagestore_ops trace_tables[2][2] = {
    {TRACE_OPS(NULL, NULL), TRACE_OPS(NULL, trace_writev)},
    {TRACE_OPS(trace_map, NULL), TRACE_OPS(trace_map, trace_writev)},
};

void ct_tracestore_options_init(ct_tracestore_options *opt)
{
    if (opt) {
        memset(opt, 0, sizeof(*opt));
    }
}

static void counters_zero(trace_store *t)
{
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        trace_counters *k = &t->op[o];
        atomic_store_explicit(&k->calls, 0, memory_order_relaxed);
        atomic_store_explicit(&k->errors, 0, memory_order_relaxed);
        atomic_store_explicit(&k->pages, 0, memory_order_relaxed);
        atomic_store_explicit(&k->bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&k->latency_ns_total, 0, memory_order_relaxed);
        atomic_store_explicit(&k->latency_ns_max, 0, memory_order_relaxed);
        for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
            atomic_store_explicit(&k->latency_hist[b], 0, memory_order_relaxed);
        }
    }
}

int ct_tracestore_wrap(ct_pagestore *inner, const ct_tracestore_options *opt, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    if (!inner || !inner->ops) {
        return CT_INVALID;
    }
    trace_store *t = calloc(1, sizeof(*t));
    if (!t) {
        return CT_NOMEM;
    }
    t->base.ops = &trace_tables[inner->ops->map != NULL][inner->ops->writev != NULL];
    t->base.page_size = inner->page_size;
    t->inner = inner;
    ct_tracestore_options_init(&t->opt);
    if (opt) {
        t->opt = *opt;
    }
    atomic_init(&t->seq, 0);
    counters_zero(t);
    *out = &t->base;
    return CT_OK;
}

int ct_tracestore_get_stats(ct_pagestore *ps, ct_tracestore_stats *out)
{
    trace_store *t = trace_of(ps);
    if (!t || !out) {
        return CT_INVALID;
    }
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        trace_counters *k = &t->op[o];
        ct_trace_op_stats *s = &out->op[o];
        s->calls = atomic_load_explicit(&k->calls, memory_order_relaxed);
        s->errors = atomic_load_explicit(&k->errors, memory_order_relaxed);
        s->pages = atomic_load_explicit(&k->pages, memory_order_relaxed);
        s->bytes = atomic_load_explicit(&k->bytes, memory_order_relaxed);
        s->latency_ns_total = atomic_load_explicit(&k->latency_ns_total, memory_order_relaxed);
        s->latency_ns_max = atomic_load_explicit(&k->latency_ns_max, memory_order_relaxed);
        for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
            s->latency_hist[b] = atomic_load_explicit(&k->latency_hist[b], memory_order_relaxed);
        }
    }
    return CT_OK;
}

int ct_tracestore_reset(ct_pagestore *ps)
{
    trace_store *t = trace_of(ps);
    if (!t) {
        return CT_INVALID;
    }
    counters_zero(t);
    return CT_OK;
}

ct_pagestore *ct_tracestore_inner(ct_pagestore *ps)
{
    trace_store *t = trace_of(ps);
    return t ? t->inner : NULL;
}

const char *ct_trace_op_name(ct_trace_op op)
{
    static const char *const names[CT_TRACE_OPS] = {"read", "write",  "sync",
                                                    "size", "resize", "map"};
    return (unsigned)op < CT_TRACE_OPS ? names[op] : "?";
}
