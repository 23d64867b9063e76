/*
 * print.c - ct_tracestore_print: the trace store's counters as a table,
 * built only from ct_tracestore_get_stats (no access to the wrapper's
 * insides).
 *
 * A wrapper had a clock exactly when some histogram bucket is non-zero
 * (every timed op lands in one), so latency columns appear only then.
 * Never: allocates, or prints a row for an op kind never called.
 */
#include <stdio.h>

#include "cowtree.h"
#include "cowtree/tracestore.h"

/* Upper bound (ns) of the bucket holding the q-th fraction (num/den) of
   the ops: an approximate percentile. */
static uint64_t bucket_percentile(const ct_trace_op_stats *s, uint64_t num, uint64_t den)
{
    uint64_t total = 0;
    for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
        total += s->latency_hist[b];
    }
    uint64_t want = (total * num + den - 1u) / den;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
        seen += s->latency_hist[b];
        if (seen >= want && seen > 0) {
            return b + 1u < 64u ? ((uint64_t)1 << (b + 1u)) - 1u : UINT64_MAX;
        }
    }
    return 0;
}

static int timed(const ct_tracestore_stats *st)
{
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
            if (st->op[o].latency_hist[b]) {
                return 1;
            }
        }
    }
    return 0;
}

int ct_tracestore_print(ct_pagestore *ps, FILE *f)
{
    ct_tracestore_stats st;
    if (!f || ct_tracestore_get_stats(ps, &st) != CT_OK) {
        return CT_INVALID;
    }
    int with_latency = timed(&st);
    fprintf(f, "%-7s %12s %10s %12s %14s", "op", "calls", "errors", "pages", "bytes");
    if (with_latency) {
        fprintf(f, " %12s %12s %12s %12s", "mean_ns", "p50_ns<=", "p99_ns<=", "max_ns");
    }
    fputc('\n', f);
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        const ct_trace_op_stats *s = &st.op[o];
        if (s->calls == 0) {
            continue;
        }
        fprintf(f, "%-7s %12llu %10llu %12llu %14llu", ct_trace_op_name((ct_trace_op)o),
                (unsigned long long)s->calls, (unsigned long long)s->errors,
                (unsigned long long)s->pages, (unsigned long long)s->bytes);
        if (with_latency) {
            fprintf(f, " %12llu %12llu %12llu %12llu",
                    (unsigned long long)(s->latency_ns_total / s->calls),
                    (unsigned long long)bucket_percentile(s, 1, 2),
                    (unsigned long long)bucket_percentile(s, 99, 100),
                    (unsigned long long)s->latency_ns_max);
        }
        fputc('\n', f);
    }
    return ferror(f) ? CT_IO : CT_OK;
}
