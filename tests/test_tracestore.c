/*
 * test_tracestore.c - the counting/tracing wrapper (cowtree/tracestore.h):
 * exact counts of calls, pages, bytes and errors per op kind (errors from
 * the inner memory store's fail_nth countdowns), the hook's events, the
 * latency histogram with a fake clock (and none without a clock), reset,
 * the printed table, atomic counters under concurrent readers, a database
 * running over the wrapper, and the wrapper passing the conformance kit.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/memstore.h"
#include "cowtree/plugin.h"
#include "cowtree/storecheck.h"
#include "cowtree/tracestore.h"
#include "helpers.h"

#define PS 4096u

static ct_pagestore *mem(int enable_map)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = PS;
    o.enable_map = enable_map;
    ct_pagestore *ps = NULL;
    th_assert_rc(ct_memstore_create(&o, &ps), CT_OK);
    return ps;
}

static ct_pagestore *traced(int enable_map, const ct_tracestore_options *opt)
{
    ct_pagestore *inner = mem(enable_map);
    ct_pagestore *t = NULL;
    th_assert_rc(ct_tracestore_wrap(inner, opt, &t), CT_OK);
    assert_non_null(t);
    th_assert_true(ct_tracestore_inner(t) == inner);
    th_assert_eq(t->page_size, PS);
    return t;
}

static ct_tracestore_stats stats(ct_pagestore *t)
{
    ct_tracestore_stats s;
    memset(&s, 0xff, sizeof(s));
    th_assert_rc(ct_tracestore_get_stats(t, &s), CT_OK);
    return s;
}

/* Every op kind counted exactly: calls, pages and bytes of successful
   calls, errors for failed ones (CT_INVALID from the store and CT_IO from
   fail_nth countdowns), map NULL returns as map errors. */
static void test_counts(void **state)
{
    (void)state;
    ct_pagestore *t = traced(1, NULL);
    uint8_t *buf = calloc(4, PS);
    assert_non_null(buf);
    memset(buf, 7, 4u * PS);
    th_assert_rc(t->ops->write(t, 0, 3, buf), CT_OK);
    th_assert_rc(t->ops->write(t, 5, 1, buf), CT_OK);
    th_assert_rc(t->ops->read(t, 0, 2, buf), CT_OK);
    th_assert_rc(t->ops->read(t, 6, 1, buf), CT_INVALID); /* beyond size */
    th_assert_rc(t->ops->sync(t), CT_OK);
    uint64_t n = 0;
    th_assert_rc(t->ops->size(t, &n), CT_OK);
    th_assert_eq(n, 6);
    th_assert_rc(t->ops->resize(t, 10), CT_OK); /* 4 pages added */
    th_assert_rc(t->ops->resize(t, 8), CT_OK);  /* 2 dropped */
    assert_non_null(t->ops->map);
    assert_non_null(t->ops->map(t, 1));
    assert_null(t->ops->map(t, 7)); /* never written: NULL */

    ct_pagestore *inner = ct_tracestore_inner(t);
    th_assert_rc(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_WRITE, 1, 0), CT_OK);
    th_assert_rc(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_READ, 1, 0), CT_OK);
    th_assert_rc(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_SYNC, 1, 0), CT_OK);
    th_assert_rc(ct_memstore_fail_nth(inner, CT_MEMSTORE_OP_RESIZE, 1, 0), CT_OK);
    th_assert_rc(t->ops->write(t, 0, 2, buf), CT_IO);
    th_assert_rc(t->ops->read(t, 0, 4, buf), CT_IO);
    th_assert_rc(t->ops->sync(t), CT_IO);
    th_assert_rc(t->ops->resize(t, 20), CT_IO);

    ct_tracestore_stats s = stats(t);
    const ct_trace_op_stats *w = &s.op[CT_TRACE_WRITE];
    th_assert_eq(w->calls, 3);
    th_assert_eq(w->errors, 1);
    th_assert_eq(w->pages, 4);
    th_assert_eq(w->bytes, 4u * PS);
    const ct_trace_op_stats *r = &s.op[CT_TRACE_READ];
    th_assert_eq(r->calls, 3);
    th_assert_eq(r->errors, 2);
    th_assert_eq(r->pages, 2);
    th_assert_eq(r->bytes, 2u * PS);
    th_assert_eq(s.op[CT_TRACE_SYNC].calls, 2);
    th_assert_eq(s.op[CT_TRACE_SYNC].errors, 1);
    th_assert_eq(s.op[CT_TRACE_SYNC].pages, 0);
    th_assert_eq(s.op[CT_TRACE_SIZE].calls, 1);
    th_assert_eq(s.op[CT_TRACE_RESIZE].calls, 3);
    th_assert_eq(s.op[CT_TRACE_RESIZE].errors, 1);
    th_assert_eq(s.op[CT_TRACE_RESIZE].pages, 6);
    th_assert_eq(s.op[CT_TRACE_RESIZE].bytes, 0);
    th_assert_eq(s.op[CT_TRACE_MAP].calls, 2);
    th_assert_eq(s.op[CT_TRACE_MAP].errors, 1);
    th_assert_eq(s.op[CT_TRACE_MAP].pages, 1);
    th_assert_eq(s.op[CT_TRACE_MAP].bytes, PS);
    /* No clock: no latency anywhere. */
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        th_assert_eq(s.op[o].latency_ns_total, 0);
        th_assert_eq(s.op[o].latency_ns_max, 0);
        for (uint32_t b = 0; b < CT_TRACE_LATENCY_BUCKETS; b++) {
            th_assert_eq(s.op[o].latency_hist[b], 0);
        }
    }
    /* Reset zeroes everything; counting goes on. */
    th_assert_rc(ct_tracestore_reset(t), CT_OK);
    s = stats(t);
    for (uint32_t o = 0; o < CT_TRACE_OPS; o++) {
        th_assert_eq(s.op[o].calls, 0);
        th_assert_eq(s.op[o].errors, 0);
        th_assert_eq(s.op[o].pages, 0);
        th_assert_eq(s.op[o].bytes, 0);
    }
    th_assert_rc(t->ops->read(t, 0, 1, buf), CT_OK);
    th_assert_eq(stats(t).op[CT_TRACE_READ].calls, 1);
    t->ops->close(t);
    free(buf);
}

typedef struct events {
    uint32_t count;
    ct_trace_event ev[16];
} events;

static void hook(void *ctx, const ct_trace_event *ev)
{
    events *e = ctx;
    if (e->count < 16u) {
        e->ev[e->count] = *ev;
    }
    e->count++;
}

static uint64_t fake_clock(void *ctx)
{
    uint64_t *now = ctx;
    *now += 100u; /* every op takes 100 ns: start and end are one tick apart */
    return *now;
}

/* The hook sees each op with its arguments and rc, in order; with a clock
   the latency lands in the histogram bucket of 100 ns (64..127). */
static void test_hook_and_latency(void **state)
{
    (void)state;
    events e;
    memset(&e, 0, sizeof(e));
    uint64_t now = 0;
    ct_tracestore_options opt;
    ct_tracestore_options_init(&opt);
    opt.hook = hook;
    opt.hook_ctx = &e;
    opt.now_ns = fake_clock;
    opt.clock_ctx = &now;
    ct_pagestore *t = traced(0, &opt);
    assert_null(t->ops->map); /* inner without map: wrapper without map */
    uint8_t *buf = calloc(2, PS);
    assert_non_null(buf);
    th_assert_rc(t->ops->write(t, 3, 2, buf), CT_OK);
    th_assert_rc(t->ops->read(t, 9, 1, buf), CT_INVALID);
    th_assert_rc(t->ops->resize(t, 7), CT_OK);
    th_assert_rc(t->ops->sync(t), CT_OK);
    th_assert_eq(e.count, 4);
    th_assert_eq(e.ev[0].seq, 0);
    th_assert_eq(e.ev[0].op, CT_TRACE_WRITE);
    th_assert_eq(e.ev[0].pgno, 3);
    th_assert_eq(e.ev[0].npages, 2);
    th_assert_rc(e.ev[0].rc, CT_OK);
    th_assert_eq(e.ev[0].latency_ns, 100);
    th_assert_eq(e.ev[1].op, CT_TRACE_READ);
    th_assert_rc(e.ev[1].rc, CT_INVALID);
    th_assert_eq(e.ev[2].op, CT_TRACE_RESIZE);
    th_assert_eq(e.ev[2].pgno, 7);
    th_assert_eq(e.ev[3].op, CT_TRACE_SYNC);
    th_assert_eq(e.ev[3].seq, 3);
    ct_tracestore_stats s = stats(t);
    th_assert_eq(s.op[CT_TRACE_WRITE].latency_ns_total, 100);
    th_assert_eq(s.op[CT_TRACE_WRITE].latency_ns_max, 100);
    th_assert_eq(s.op[CT_TRACE_WRITE].latency_hist[6], 1);
    th_assert_eq(s.op[CT_TRACE_READ].latency_hist[6], 1);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    th_assert_rc(ct_tracestore_print(t, f), CT_OK);
    fclose(f);
    th_assert_true(strstr(text, "mean_ns") != NULL);
    th_assert_true(strstr(text, "write") != NULL);
    th_assert_true(strstr(text, "map") == NULL); /* never called: no row */
    free(text);
    t->ops->close(t);
    free(buf);
}

/* Misuse: NULL arguments, a store that is not a trace store. A failed wrap
   leaves inner with the caller. */
static void test_misuse(void **state)
{
    (void)state;
    ct_pagestore *out = (ct_pagestore *)&out;
    th_assert_rc(ct_tracestore_wrap(NULL, NULL, &out), CT_INVALID);
    assert_null(out);
    ct_pagestore *inner = mem(1);
    th_assert_rc(ct_tracestore_wrap(inner, NULL, NULL), CT_INVALID);
    ct_tracestore_stats s;
    th_assert_rc(ct_tracestore_get_stats(inner, &s), CT_INVALID);
    th_assert_rc(ct_tracestore_get_stats(NULL, &s), CT_INVALID);
    th_assert_rc(ct_tracestore_reset(inner), CT_INVALID);
    th_assert_rc(ct_tracestore_print(inner, stdout), CT_INVALID);
    assert_null(ct_tracestore_inner(inner));
    assert_string_equal(ct_trace_op_name(CT_TRACE_RESIZE), "resize");
    assert_string_equal(ct_trace_op_name((ct_trace_op)99), "?");
    inner->ops->close(inner); /* still ours */
}

typedef struct reader_arg {
    ct_pagestore *t;
    uint32_t rounds;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    uint8_t buf[PS];
    for (uint32_t i = 0; i < a->rounds; i++) {
        if (a->t->ops->read(a->t, i % 4u, 1, buf) != CT_OK) {
            return p; /* non-NULL: failure */
        }
        (void)a->t->ops->map(a->t, i % 4u);
    }
    return NULL;
}

/* Counters are exact under concurrent readers (atomics). */
static void test_concurrent_counts(void **state)
{
    (void)state;
    ct_pagestore *t = traced(1, NULL);
    uint8_t *buf = calloc(4, PS);
    assert_non_null(buf);
    th_assert_rc(t->ops->write(t, 0, 4, buf), CT_OK);
    th_assert_rc(ct_tracestore_reset(t), CT_OK);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    reader_arg a = {t, (uint32_t)th_scaled(2000)};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, reader, &a), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *r = (void *)&a;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    ct_tracestore_stats s = stats(t);
    th_assert_eq(s.op[CT_TRACE_READ].calls, (uint64_t)THREADS * a.rounds);
    th_assert_eq(s.op[CT_TRACE_READ].bytes, (uint64_t)THREADS * a.rounds * PS);
    th_assert_eq(s.op[CT_TRACE_MAP].calls, (uint64_t)THREADS * a.rounds);
    t->ops->close(t);
    free(buf);
}

/* A database runs over the wrapper; commits show up as writes and syncs. */
static void test_database_over_wrapper(void **state)
{
    (void)state;
    ct_pagestore *t = traced(1, NULL);
    ct_db *db = NULL;
    th_assert_rc(ct_open(t, NULL, &db), CT_OK);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof(key), "key%02d", i);
        th_put1(db, key, strlen(key), "value", 5);
    }
    ct_close(db);
    ct_tracestore_stats s = stats(t);
    th_assert_true(s.op[CT_TRACE_WRITE].calls >= 20u);
    th_assert_true(s.op[CT_TRACE_SYNC].calls >= 20u);
    th_assert_eq(s.op[CT_TRACE_WRITE].errors, 0);
    th_assert_eq(s.op[CT_TRACE_WRITE].bytes, s.op[CT_TRACE_WRITE].pages * PS);
    th_assert_rc(ct_open(t, NULL, &db), CT_OK);
    th_check_clean(db);
    ct_close(db);
    t->ops->close(t);
}

/* writev is offered exactly when the inner store has it, forwarded
   unchanged, and counted (and hooked) as a write. */
static void test_writev_forwarded(void **state)
{
    (void)state;
    ct_pagestore *t = traced(0, NULL);
    th_assert_true(t->ops->writev != NULL);
    uint8_t a[PS];
    uint8_t b[PS];
    uint8_t out[2 * PS];
    memset(a, 0x11, sizeof(a));
    memset(b, 0x22, sizeof(b));
    const void *vec[2] = {b, a}; /* page 3 from b, page 4 from a */
    th_assert_rc(t->ops->writev(t, 3, 2, vec), CT_OK);
    th_assert_rc(t->ops->read(t, 3, 2, out), CT_OK);
    th_assert_true(memcmp(out, b, PS) == 0 && memcmp(out + PS, a, PS) == 0);
    th_assert_rc(t->ops->writev(t, 0, 0, vec), CT_INVALID);
    ct_tracestore_stats s = stats(t);
    th_assert_eq(s.op[CT_TRACE_WRITE].calls, 2);
    th_assert_eq(s.op[CT_TRACE_WRITE].errors, 1);
    th_assert_eq(s.op[CT_TRACE_WRITE].pages, 2);
    th_assert_eq(s.op[CT_TRACE_WRITE].bytes, 2u * PS);
    t->ops->close(t);

    ct_pagestore *ram = th_ram_create(PS, 1);
    ct_pagestore *w = NULL;
    th_assert_rc(ct_tracestore_wrap(ram, NULL, &w), CT_OK);
    th_assert_true(w->ops->writev == NULL);
    th_assert_true(w->ops->map != NULL);
    th_assert_true(ct_tracestore_inner(w) == ram);
    w->ops->close(w);
}

static int open_traced_memory(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    (void)ctx;
    if (!(flags & CT_STORE_PLUGIN_FRESH)) {
        return CT_NOTSUP;
    }
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = page_size;
    ct_pagestore *inner = NULL;
    int rc = ct_memstore_create(&o, &inner);
    if (rc != CT_OK) {
        return rc;
    }
    rc = ct_tracestore_wrap(inner, NULL, out);
    if (rc != CT_OK) {
        inner->ops->close(inner);
    }
    return rc;
}

/* The wrapper itself honours the store contract (map included). */
static void test_wrapper_passes_the_kit(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {512, 4096, 65536};
    ct_storecheck_options opt;
    ct_storecheck_options_init(&opt);
    opt.page_sizes = sizes;
    opt.page_size_count = 3;
    ct_storecheck_report rep;
    th_assert_rc(ct_storecheck_run(open_traced_memory, NULL, &opt, &rep), CT_OK);
    th_assert_eq(rep.checks_failed, 0);
    th_assert_eq(rep.checks_not_applicable, 3); /* durability: volatile */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_hook_and_latency),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_concurrent_counts),
        cmocka_unit_test(test_database_over_wrapper),
        cmocka_unit_test(test_wrapper_passes_the_kit),
        cmocka_unit_test(test_writev_forwarded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
