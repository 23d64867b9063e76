/*
 * test_memstore.c - the in-memory page store (pagestore/memory/) through its
 * public surface only: the vtable and cowtree/memstore.h. Covers the vtable
 * contract, the device model (log, sync, crash outcomes, power cut), every
 * seeded fault kind, countdowns, snapshots, map() pointer stability, the
 * trace hash, and the smallest and largest page sizes.
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
#include "cowtree/faultstore.h"
#include "cowtree/memstore.h"

#define PS_DEFAULT 4096u

/* assert_int_equal on a CT_* code, printing both names on failure. */
#define assert_rc(rc, want)                                                                        \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        int want_ = (want);                                                                        \
        if (rc_ != want_) {                                                                        \
            print_error("%s:%d: rc %d (%s), expected %d (%s)\n", __FILE__, __LINE__, rc_,          \
                        ct_errname(rc_), want_, ct_errname(want_));                                \
        }                                                                                          \
        assert_int_equal(rc_, want_);                                                              \
    } while (0)

/* ---- Helpers ----------------------------------------------------------------- */

static ct_pagestore *mk_opts(uint32_t page_size, uint64_t seed, int enable_map, uint64_t max_pages)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = page_size;
    o.seed = seed;
    o.enable_map = enable_map;
    o.max_pages = max_pages;
    ct_pagestore *ps = NULL;
    assert_rc(ct_memstore_create(&o, &ps), CT_OK);
    assert_non_null(ps);
    return ps;
}

static ct_pagestore *mk(uint32_t page_size, uint64_t seed)
{
    return mk_opts(page_size, seed, 1, 0);
}

/* Pattern of a page: tag 0 is all zeros, any other tag a distinct
   non-zero pattern in every sector. */
static void fill(unsigned char *buf, size_t len, uint32_t tag)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = tag == 0 ? 0 : (unsigned char)(tag * 37u + (uint32_t)(i * 13u + (i >> 9)) + 1u);
        if (tag != 0 && buf[i] == 0) {
            buf[i] = (unsigned char)tag;
        }
    }
}

static unsigned char *page_buf(ct_pagestore *ps, uint32_t npages)
{
    unsigned char *b = malloc((size_t)ps->page_size * npages);
    assert_non_null(b);
    return b;
}

static void wr(ct_pagestore *ps, uint64_t pgno, uint32_t tag)
{
    unsigned char *b = page_buf(ps, 1);
    fill(b, ps->page_size, tag);
    assert_rc(ps->ops->write(ps, pgno, 1, b), CT_OK);
    free(b);
}

/* 1 if the view's page pgno holds pattern tag. */
static int view_is(ct_pagestore *ps, uint64_t pgno, uint32_t tag)
{
    unsigned char *b = page_buf(ps, 1);
    unsigned char *w = page_buf(ps, 1);
    assert_rc(ps->ops->read(ps, pgno, 1, b), CT_OK);
    fill(w, ps->page_size, tag);
    int same = memcmp(b, w, ps->page_size) == 0;
    free(b);
    free(w);
    return same;
}

/* 1 if the durable image's page pgno holds pattern tag. */
static int durable_is(ct_pagestore *ps, uint64_t pgno, uint32_t tag)
{
    unsigned char *b = page_buf(ps, 1);
    unsigned char *w = page_buf(ps, 1);
    assert_rc(ct_memstore_peek(ps, pgno, b), CT_OK);
    fill(w, ps->page_size, tag);
    int same = memcmp(b, w, ps->page_size) == 0;
    free(b);
    free(w);
    return same;
}

static ct_memstore_info info_of(ct_pagestore *ps)
{
    ct_memstore_info in;
    assert_rc(ct_memstore_get_info(ps, &in), CT_OK);
    return in;
}

static uint64_t size_of(ct_pagestore *ps)
{
    uint64_t n = 0;
    assert_rc(ps->ops->size(ps, &n), CT_OK);
    return n;
}

static void crash_mode(ct_pagestore *ps, ct_crash_mode mode, uint64_t mask, uint32_t index,
                       uint64_t seed)
{
    ct_crash_outcome o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.mask = mask;
    o.index = index;
    o.seed = seed;
    assert_rc(ct_memstore_crash(ps, &o), CT_OK);
}

static void set_ratio(ct_memstore_faults *f, ct_memstore_fault_kind kind, uint32_t num,
                      uint32_t den)
{
    ct_ratio r = {num, den};
    switch (kind) {
    case CT_MEMSTORE_FAULT_WRITE_ERROR:
        f->write_error = r;
        break;
    case CT_MEMSTORE_FAULT_READ_ERROR:
        f->read_error = r;
        break;
    case CT_MEMSTORE_FAULT_READ_ERROR_STICKY:
        f->read_error_sticky = r;
        break;
    case CT_MEMSTORE_FAULT_SYNC_ERROR:
        f->sync_error = r;
        break;
    case CT_MEMSTORE_FAULT_BIT_ROT:
        f->bit_rot = r;
        break;
    case CT_MEMSTORE_FAULT_MISDIRECTED_WRITE:
        f->misdirected_write = r;
        break;
    case CT_MEMSTORE_FAULT_LOST_WRITE:
        f->lost_write = r;
        break;
    case CT_MEMSTORE_FAULT_LOST_SYNC:
        f->lost_sync = r;
        break;
    case CT_MEMSTORE_FAULT_NOSPACE:
        f->nospace = r;
        break;
    case CT_MEMSTORE_FAULT_MISDIRECTED_READ:
        f->misdirected_read = r;
        break;
    default:
        fail_msg("bad fault kind %d", (int)kind);
    }
}

/* Turns on exactly one fault kind at num/den. */
static void only_fault(ct_pagestore *ps, ct_memstore_fault_kind kind, uint32_t num, uint32_t den)
{
    ct_memstore_faults f;
    memset(&f, 0, sizeof f);
    set_ratio(&f, kind, num, den);
    assert_rc(ct_memstore_set_faults(ps, &f, 0), CT_OK);
}

/* ---- writev ---------------------------------------------------------------- */

static unsigned char *durable_image(ct_pagestore *ps, uint64_t n);

/* Writes npages pages at pgno, page i tagged tag + i, through write (one
   buffer) or writev (one buffer per page, in reverse order in memory).
   Returns the store's code. */
static int wr_run(ct_pagestore *ps, int gather, uint64_t pgno, uint32_t npages, uint32_t tag)
{
    unsigned char *b = page_buf(ps, npages);
    const void *vec[16];
    assert_true(npages <= 16u);
    for (uint32_t i = 0; i < npages; i++) {
        uint32_t slot = gather ? npages - 1u - i : i;
        fill(b + (size_t)slot * ps->page_size, ps->page_size, tag + i);
        vec[i] = b + (size_t)slot * ps->page_size;
    }
    int rc = gather ? ps->ops->writev(ps, pgno, npages, vec) : ps->ops->write(ps, pgno, npages, b);
    free(b);
    return rc;
}

/* Runs writes, syncs and a resize under every write fault on a memory store
   (kind 0) or a fault store over one (kind 1), through write or writev;
   then a RANDOM crash. Returns the store for comparison. */
static ct_pagestore *writev_workload(int kind, int gather, uint32_t page_size)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = page_size;
    o.seed = 77;
    set_ratio(&o.faults, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 9);
    set_ratio(&o.faults, CT_MEMSTORE_FAULT_MISDIRECTED_WRITE, 1, 5);
    set_ratio(&o.faults, CT_MEMSTORE_FAULT_LOST_WRITE, 1, 7);
    set_ratio(&o.faults, CT_MEMSTORE_FAULT_NOSPACE, 1, 6);
    ct_pagestore *ps = NULL;
    if (kind == 0) {
        assert_rc(ct_memstore_create(&o, &ps), CT_OK);
    } else {
        ct_pagestore *inner = mk(page_size, 1);
        assert_rc(ct_faultstore_wrap(inner, &o, &ps), CT_OK);
    }
    assert_non_null(ps->ops->writev);
    for (uint32_t i = 0; i < 40; i++) {
        uint64_t pgno = (i * 7u) % 23u;
        uint32_t npages = 1u + (i * 5u) % 9u;
        (void)wr_run(ps, gather, pgno, npages, 10u * i + 1u);
        if (i % 9u == 8u) {
            (void)ps->ops->sync(ps);
        }
        if (i == 20u) {
            (void)ps->ops->resize(ps, 12);
        }
    }
    crash_mode(ps, CT_CRASH_RANDOM, 0, 0, 5);
    return ps;
}

/* writev is the same device op as write of the gathered bytes, on the
   memory store and the fault store: same op numbers, counters, injected
   faults, trace hash, log and, after the same RANDOM crash, the same
   durable image. The trace hash is what keeps cowtree-sim's hashes equal
   whichever call the engine makes. */
static void test_writev_same_as_write(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        ct_pagestore *a = writev_workload(kind, 0, 512);
        ct_pagestore *b = writev_workload(kind, 1, 512);
        ct_memstore_info ia = info_of(a);
        ct_memstore_info ib = info_of(b);
        assert_int_equal(ia.ops, ib.ops);
        assert_int_equal(ia.writes, ib.writes);
        assert_int_equal(ia.trace_hash, ib.trace_hash);
        assert_memory_equal(ia.faults_injected, ib.faults_injected, sizeof ia.faults_injected);
        assert_true(ia.faults_injected[CT_MEMSTORE_FAULT_MISDIRECTED_WRITE] > 0);
        assert_int_equal(ia.durable_pages, ib.durable_pages);
        unsigned char *da = durable_image(a, ia.durable_pages);
        unsigned char *db = durable_image(b, ib.durable_pages);
        assert_memory_equal(da, db, (size_t)ia.durable_pages * 512u);
        free(da);
        free(db);
        a->ops->close(a);
        b->ops->close(b);
    }
}

/* writev really gathers (each page from its own pointer) and logs one
   entry; bad arguments are CT_INVALID and not counted as ops. */
static void test_writev_gathers_one_entry(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    assert_rc(wr_run(ps, 1, 2, 3, 40), CT_OK);
    assert_int_equal(size_of(ps), 5);
    assert_true(view_is(ps, 2, 40) && view_is(ps, 3, 41) && view_is(ps, 4, 42));
    assert_true(view_is(ps, 0, 0));
    assert_int_equal(info_of(ps).pending, 1);
    uint64_t pgno = 0;
    uint32_t npages = 0;
    int is_write = 0;
    assert_rc(ct_memstore_pending_entry(ps, 0, &is_write, &pgno, &npages), CT_OK);
    assert_true(is_write);
    assert_int_equal(pgno, 2);
    assert_int_equal(npages, 3);
    unsigned char *b = page_buf(ps, 1);
    const void *vec[2] = {b, NULL};
    uint64_t ops = info_of(ps).ops;
    assert_rc(ps->ops->writev(ps, 0, 2, vec), CT_INVALID);
    assert_rc(ps->ops->writev(ps, 0, 0, vec), CT_INVALID);
    assert_rc(ps->ops->writev(ps, 0, 1, NULL), CT_INVALID);
    assert_rc(ps->ops->writev(ps, UINT64_MAX, 1, vec), CT_INVALID);
    assert_int_equal(info_of(ps).ops, ops);
    free(b);
    ps->ops->close(ps);
}

/* ---- Vtable contract ----------------------------------------------------------- */

/* A written page reads back byte for byte, before and after a sync, and the
   store grows to cover the write. */
static void test_read_after_write(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    assert_int_equal(size_of(ps), 0);
    wr(ps, 0, 7);
    assert_int_equal(size_of(ps), 1);
    assert_true(view_is(ps, 0, 7));
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_true(view_is(ps, 0, 7));
    wr(ps, 0, 8);
    assert_true(view_is(ps, 0, 8));
    ps->ops->close(ps);
}

/* Pages never written read as zeros: the gap a write beyond the end leaves,
   and the pages a resize adds. */
static void test_zero_fill(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 5, 3);
    assert_int_equal(size_of(ps), 6);
    for (uint64_t p = 0; p < 5; p++) {
        assert_true(view_is(ps, p, 0));
    }
    assert_rc(ps->ops->resize(ps, 9), CT_OK);
    assert_true(view_is(ps, 8, 0));
    assert_true(view_is(ps, 5, 3));
    ps->ops->close(ps);
}

/* Reads at or beyond size, spanning the end, with NULL or zero pages are
   CT_INVALID and are not counted as reads. */
static void test_invalid_reads(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    unsigned char *b = page_buf(ps, 2);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_INVALID);
    wr(ps, 0, 1);
    wr(ps, 1, 2);
    assert_rc(ps->ops->read(ps, 2, 1, b), CT_INVALID);
    assert_rc(ps->ops->read(ps, 1, 2, b), CT_INVALID);
    assert_rc(ps->ops->read(ps, UINT64_MAX, 1, b), CT_INVALID);
    assert_rc(ps->ops->read(ps, 0, 0, b), CT_INVALID);
    assert_rc(ps->ops->read(ps, 0, 1, NULL), CT_INVALID);
    assert_rc(ps->ops->write(ps, 0, 0, b), CT_INVALID);
    assert_rc(ps->ops->write(ps, UINT64_MAX, 1, b), CT_INVALID);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.reads, 0);
    assert_int_equal(in.ops, 2);
    free(b);
    ps->ops->close(ps);
}

/* A multi-page write reads back whole and page by page, and a multi-page
   read of separately written pages concatenates them. */
static void test_multi_page(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    unsigned char *b = page_buf(ps, 3);
    unsigned char *r = page_buf(ps, 3);
    for (uint32_t k = 0; k < 3; k++) {
        fill(b + (size_t)k * PS_DEFAULT, PS_DEFAULT, 10 + k);
    }
    assert_rc(ps->ops->write(ps, 2, 3, b), CT_OK);
    assert_int_equal(size_of(ps), 5);
    assert_rc(ps->ops->read(ps, 2, 3, r), CT_OK);
    assert_memory_equal(b, r, 3 * PS_DEFAULT);
    for (uint32_t k = 0; k < 3; k++) {
        assert_true(view_is(ps, 2 + k, 10 + k));
    }
    wr(ps, 0, 20);
    assert_rc(ps->ops->read(ps, 0, 3, r), CT_OK);
    fill(b, PS_DEFAULT, 20);
    fill(b + PS_DEFAULT, PS_DEFAULT, 0);
    fill(b + 2 * PS_DEFAULT, PS_DEFAULT, 10);
    assert_memory_equal(b, r, 3 * PS_DEFAULT);
    free(b);
    free(r);
    ps->ops->close(ps);
}

/* Resize grows with zero pages and shrinking drops the tail: a page cut off
   and grown back reads as zeros, not as its old content. */
static void test_resize_up_down(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    assert_rc(ps->ops->resize(ps, 10), CT_OK);
    assert_int_equal(size_of(ps), 10);
    wr(ps, 7, 4);
    assert_rc(ps->ops->resize(ps, 3), CT_OK);
    assert_int_equal(size_of(ps), 3);
    unsigned char *b = page_buf(ps, 1);
    assert_rc(ps->ops->read(ps, 7, 1, b), CT_INVALID);
    assert_rc(ps->ops->resize(ps, 8), CT_OK);
    assert_true(view_is(ps, 7, 0));
    assert_rc(ps->ops->resize(ps, 0), CT_OK);
    assert_int_equal(size_of(ps), 0);
    assert_int_equal(info_of(ps).resizes, 4);
    free(b);
    ps->ops->close(ps);
}

/* Options: bad page sizes are CT_INVALID, NULL means defaults (4096, map
   on), enable_map 0 leaves the map slot NULL; foreign stores are refused. */
static void test_create_options(void **state)
{
    (void)state;
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    ct_pagestore *ps = NULL;
    uint32_t bad[] = {256, 1000, 131072, 4095};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.page_size = bad[i];
        assert_rc(ct_memstore_create(&o, &ps), CT_INVALID);
        assert_null(ps);
    }
    assert_rc(ct_memstore_create(NULL, NULL), CT_INVALID);
    assert_rc(ct_memstore_create(NULL, &ps), CT_OK);
    assert_int_equal(ps->page_size, 4096);
    assert_non_null(ps->ops->map);
    ps->ops->close(ps);
    ps = mk_opts(512, 1, 0, 0);
    assert_null(ps->ops->map);
    ps->ops->close(ps);

    ct_pagestore fake = {NULL, 4096};
    ct_memstore_info in;
    assert_rc(ct_memstore_get_info(&fake, &in), CT_INVALID);
    assert_rc(ct_memstore_set_power_cut(&fake, 1), CT_INVALID);
    assert_rc(ct_memstore_fail_nth(&fake, CT_MEMSTORE_OP_READ, 1, 0), CT_INVALID);
}

/* max_pages: a write or resize beyond it is CT_NOSPACE (not a fault), up to
   it is fine. */
static void test_max_pages(void **state)
{
    (void)state;
    ct_pagestore *ps = mk_opts(512, 1, 1, 4);
    wr(ps, 3, 1);
    unsigned char *b = page_buf(ps, 1);
    fill(b, 512, 2);
    assert_rc(ps->ops->write(ps, 4, 1, b), CT_NOSPACE);
    assert_rc(ps->ops->resize(ps, 5), CT_NOSPACE);
    assert_rc(ps->ops->resize(ps, 4), CT_OK);
    assert_int_equal(size_of(ps), 4);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_NOSPACE], 0);
    free(b);
    ps->ops->close(ps);
}

/* ---- Durability ----------------------------------------------------------------- */

/* DROP_ALL: a synced write survives, unsynced writes and growth are lost, and
   the view becomes the durable image with an empty log. */
static void test_drop_all(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    wr(ps, 0, 2);
    wr(ps, 3, 3);
    assert_int_equal(info_of(ps).pending, 2);
    assert_true(durable_is(ps, 0, 1));
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(ps, 0, 1));
    assert_int_equal(size_of(ps), 1);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.pending, 0);
    assert_int_equal(in.durable_pages, 1);
    assert_int_equal(in.ops, 4); /* ops keep counting across a crash */
    ps->ops->close(ps);
}

/* KEEP_ALL: every unsynced write and resize persists, in order (the later
   of two writes to one page wins). */
static void test_keep_all(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    wr(ps, 0, 2);
    wr(ps, 4, 3);
    assert_rc(ps->ops->resize(ps, 7), CT_OK);
    crash_mode(ps, CT_CRASH_KEEP_ALL, 0, 0, 0);
    assert_int_equal(size_of(ps), 7);
    assert_true(durable_is(ps, 0, 2));
    assert_true(durable_is(ps, 4, 3));
    assert_true(view_is(ps, 6, 0));
    ps->ops->close(ps);
}

/* SUBSET: exactly the entries whose mask bit is set persist; a resize entry
   is indexed like a write. */
static void test_subset(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    assert_rc(ps->ops->resize(ps, 4), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    for (uint32_t i = 0; i < 4; i++) {
        wr(ps, i, 10 + i); /* entries 0..3 */
    }
    assert_rc(ps->ops->resize(ps, 6), CT_OK); /* entry 4 */
    crash_mode(ps, CT_CRASH_SUBSET, 0x5u | 0x10u, 0, 0);
    assert_true(durable_is(ps, 0, 10));
    assert_true(durable_is(ps, 1, 0));
    assert_true(durable_is(ps, 2, 12));
    assert_true(durable_is(ps, 3, 0));
    assert_int_equal(size_of(ps), 6);

    /* Two writes to one page: keeping only the first leaves the first. */
    wr(ps, 0, 30);
    wr(ps, 0, 31);
    crash_mode(ps, CT_CRASH_SUBSET, 0x1u, 0, 0);
    assert_true(durable_is(ps, 0, 30));
    ps->ops->close(ps);
}

/* OMIT_ONE: all entries but `index` persist; an index >= pending is refused. */
static void test_omit_one(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    wr(ps, 1, 2);
    wr(ps, 2, 3);
    ct_crash_outcome o = {CT_CRASH_OMIT_ONE, 0, 3, 0};
    assert_rc(ct_memstore_crash(ps, &o), CT_INVALID);
    assert_int_equal(info_of(ps).pending, 3);
    crash_mode(ps, CT_CRASH_OMIT_ONE, 0, 1, 0);
    assert_true(durable_is(ps, 0, 1));
    assert_true(durable_is(ps, 1, 0));
    assert_true(durable_is(ps, 2, 3));
    ps->ops->close(ps);
}

/* Kinds of a torn sector, compared with the old and new content. */
enum { SEC_OLD, SEC_NEW, SEC_ZERO, SEC_GARBAGE, SEC_KINDS };

static int sector_kind(const unsigned char *got, const unsigned char *old, const unsigned char *neu)
{
    static const unsigned char zero[CT_SECTOR_SIZE];
    if (memcmp(got, neu, CT_SECTOR_SIZE) == 0) {
        return SEC_NEW;
    }
    if (memcmp(got, old, CT_SECTOR_SIZE) == 0) {
        return SEC_OLD;
    }
    if (memcmp(got, zero, CT_SECTOR_SIZE) == 0) {
        return SEC_ZERO;
    }
    return SEC_GARBAGE;
}

/* Runs TEAR_ONE on a page holding old content durably and new content
   unsynced, for many seeds: the page never equals old or new, has a new
   sector when it has several, and across the seeds every sector kind (old,
   new, zero, garbage) shows up (one-sector pages: only zero and garbage). */
static void tear_one_at(uint32_t page_size)
{
    ct_pagestore *ps = mk(page_size, 1);
    unsigned char *old = page_buf(ps, 1);
    unsigned char *neu = page_buf(ps, 1);
    unsigned char *got = page_buf(ps, 1);
    fill(old, page_size, 1);
    fill(neu, page_size, 2);
    uint64_t seen[SEC_KINDS] = {0};
    for (uint64_t seed = 1; seed <= 40; seed++) {
        assert_rc(ps->ops->write(ps, 0, 1, old), CT_OK);
        assert_rc(ps->ops->sync(ps), CT_OK);
        assert_rc(ps->ops->write(ps, 0, 1, neu), CT_OK);
        crash_mode(ps, CT_CRASH_TEAR_ONE, 0, 0, seed);
        assert_rc(ct_memstore_peek(ps, 0, got), CT_OK);
        assert_memory_not_equal(got, old, page_size);
        assert_memory_not_equal(got, neu, page_size);
        uint64_t news = 0;
        for (size_t off = 0; off < page_size; off += CT_SECTOR_SIZE) {
            int k = sector_kind(got + off, old + off, neu + off);
            seen[k]++;
            news += k == SEC_NEW;
        }
        if (page_size > CT_SECTOR_SIZE) {
            assert_true(news > 0); /* a multi-sector tear always has a new sector */
        }
    }
    for (int k = 0; k < SEC_KINDS; k++) {
        if (page_size == CT_SECTOR_SIZE && (k == SEC_NEW || k == SEC_OLD)) {
            assert_int_equal(seen[k], 0); /* one sector: torn is zero or garbage */
        } else {
            assert_true(seen[k] > 0);
        }
    }
    free(old);
    free(neu);
    free(got);
    ps->ops->close(ps);
}

/* TEAR_ONE on 4096-byte pages (8 sectors each old/new/zero/garbage). */
static void test_tear_one(void **state)
{
    (void)state;
    tear_one_at(4096);
}

/* TEAR_ONE of a 4-page write over 4 durable pages, many seeds: never all
   old or all new; about half the outcomes at page granularity (each page
   wholly old or wholly new, both present: the commonest crash outcome of
   a run, each old page an intact page of an older txn), the others mixing
   sectors. */
static void test_tear_multi_page_granularity(void **state)
{
    (void)state;
    const uint32_t ps_bytes = 4096;
    ct_pagestore *ps = mk(ps_bytes, 1);
    unsigned char *old = page_buf(ps, 4);
    unsigned char *neu = page_buf(ps, 4);
    unsigned char *got = page_buf(ps, 1);
    fill(old, 4 * ps_bytes, 1);
    fill(neu, 4 * ps_bytes, 2);
    int page_grain = 0;
    int sector_mixed = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        assert_rc(ps->ops->write(ps, 0, 4, old), CT_OK);
        assert_rc(ps->ops->sync(ps), CT_OK);
        assert_rc(ps->ops->write(ps, 0, 4, neu), CT_OK);
        crash_mode(ps, CT_CRASH_TEAR_ONE, 0, 0, seed);
        int olds = 0;
        int news = 0;
        int mixed = 0;
        for (uint64_t p = 0; p < 4; p++) {
            assert_rc(ct_memstore_peek(ps, p, got), CT_OK);
            if (memcmp(got, old + p * ps_bytes, ps_bytes) == 0) {
                olds++;
            } else if (memcmp(got, neu + p * ps_bytes, ps_bytes) == 0) {
                news++;
            } else {
                mixed++;
            }
        }
        assert_true(olds < 4 && news < 4);
        page_grain += mixed == 0;
        sector_mixed += mixed > 0;
        if (mixed == 0) {
            assert_true(olds > 0 && news > 0);
        }
    }
    assert_true(page_grain > 50 && sector_mixed > 50);
    free(old);
    free(neu);
    free(got);
    ps->ops->close(ps);
}

/* TEAR_ONE's "old" is the durable content when the entry is applied: after
   an earlier whole entry to the same page, old sectors come from it. */
static void test_tear_old_is_durable_at_apply(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    unsigned char *mid = page_buf(ps, 1);
    unsigned char *neu = page_buf(ps, 1);
    unsigned char *got = page_buf(ps, 1);
    unsigned char *base = page_buf(ps, 1);
    fill(base, PS_DEFAULT, 1);
    fill(mid, PS_DEFAULT, 2);
    fill(neu, PS_DEFAULT, 3);
    int saw_mid = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        wr(ps, 0, 1);
        assert_rc(ps->ops->sync(ps), CT_OK);
        wr(ps, 0, 2);
        wr(ps, 0, 3);
        crash_mode(ps, CT_CRASH_TEAR_ONE, 0, 1, seed);
        assert_rc(ct_memstore_peek(ps, 0, got), CT_OK);
        for (size_t off = 0; off < PS_DEFAULT; off += CT_SECTOR_SIZE) {
            assert_memory_not_equal(got + off, base + off, CT_SECTOR_SIZE);
            saw_mid |= sector_kind(got + off, mid + off, neu + off) == SEC_OLD;
        }
    }
    assert_true(saw_mid);
    free(mid);
    free(neu);
    free(got);
    free(base);
    ps->ops->close(ps);
}

/* Builds a log of 12 writes (some to the same pages) and a resize on top of
   a synced base. */
static void random_workload(ct_pagestore *ps)
{
    for (uint32_t p = 0; p < 8; p++) {
        wr(ps, p, 1 + p);
    }
    assert_rc(ps->ops->sync(ps), CT_OK);
    for (uint32_t i = 0; i < 12; i++) {
        wr(ps, i % 10, 50 + i);
    }
    assert_rc(ps->ops->resize(ps, 12), CT_OK);
}

/* Durable image as one buffer of n pages (missing pages as 0xee). */
static unsigned char *durable_image(ct_pagestore *ps, uint64_t n)
{
    unsigned char *img = malloc((size_t)n * ps->page_size);
    assert_non_null(img);
    for (uint64_t p = 0; p < n; p++) {
        unsigned char *dst = img + (size_t)p * ps->page_size;
        if (ct_memstore_peek(ps, p, dst) != CT_OK) {
            memset(dst, 0xee, ps->page_size);
        }
    }
    return img;
}

/* RANDOM is a function of its seed: the same seed on the same log gives the
   same durable image, different seeds give different images. */
static void test_random_deterministic(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    random_workload(ps);
    ct_memstore_snapshot *snap = NULL;
    assert_rc(ct_memstore_snapshot_take(ps, &snap), CT_OK);
    unsigned char *imgs[6];
    uint64_t sizes[6];
    for (uint64_t seed = 0; seed < 6; seed++) {
        assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
        crash_mode(ps, CT_CRASH_RANDOM, 0, 0, 100 + seed);
        sizes[seed] = info_of(ps).durable_pages;
        imgs[seed] = durable_image(ps, 12);
    }
    assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
    crash_mode(ps, CT_CRASH_RANDOM, 0, 0, 100);
    unsigned char *again = durable_image(ps, 12);
    assert_int_equal(info_of(ps).durable_pages, sizes[0]);
    assert_memory_equal(again, imgs[0], 12 * PS_DEFAULT);
    int differ = 0;
    for (int i = 1; i < 6; i++) {
        differ += sizes[i] != sizes[0] || memcmp(imgs[i], imgs[0], 12 * PS_DEFAULT) != 0;
    }
    assert_true(differ >= 3);
    for (int i = 0; i < 6; i++) {
        free(imgs[i]);
    }
    free(again);
    ct_memstore_snapshot_free(snap);
    ps->ops->close(ps);
}

/* RANDOM covers the outcomes: over seeds a single unsynced write is seen
   dropped, kept whole and torn. */
static void test_random_covers_outcomes(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    int dropped = 0;
    int kept = 0;
    int torn = 0;
    for (uint64_t seed = 0; seed < 60; seed++) {
        wr(ps, 0, 1);
        assert_rc(ps->ops->sync(ps), CT_OK);
        wr(ps, 0, 2);
        crash_mode(ps, CT_CRASH_RANDOM, 0, 0, seed);
        if (durable_is(ps, 0, 1)) {
            dropped++;
        } else if (durable_is(ps, 0, 2)) {
            kept++;
        } else {
            torn++;
        }
    }
    assert_true(dropped > 0);
    assert_true(kept > 0);
    assert_true(torn > 0);
    ps->ops->close(ps);
}

/* A bad outcome is refused and changes nothing: NULL, unknown mode, tear
   index beyond the log. */
static void test_crash_invalid(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    assert_rc(ct_memstore_crash(ps, NULL), CT_INVALID);
    ct_crash_outcome o = {(ct_crash_mode)9, 0, 0, 0};
    assert_rc(ct_memstore_crash(ps, &o), CT_INVALID);
    o.mode = CT_CRASH_TEAR_ONE;
    o.index = 1;
    assert_rc(ct_memstore_crash(ps, &o), CT_INVALID);
    assert_int_equal(info_of(ps).pending, 1);
    assert_true(view_is(ps, 0, 1));
    ps->ops->close(ps);
}

/* pending_entry lists writes (range asked for) and resizes (new size),
   CT_NOTFOUND past the end. */
static void test_pending_entry(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    unsigned char *b = page_buf(ps, 2);
    fill(b, 2 * PS_DEFAULT, 1);
    assert_rc(ps->ops->write(ps, 3, 2, b), CT_OK);
    assert_rc(ps->ops->resize(ps, 9), CT_OK);
    int is_write = -1;
    uint64_t pgno = 0;
    uint32_t n = 0;
    assert_rc(ct_memstore_pending_entry(ps, 0, &is_write, &pgno, &n), CT_OK);
    assert_int_equal(is_write, 1);
    assert_int_equal(pgno, 3);
    assert_int_equal(n, 2);
    assert_rc(ct_memstore_pending_entry(ps, 1, &is_write, &pgno, &n), CT_OK);
    assert_int_equal(is_write, 0);
    assert_int_equal(pgno, 9);
    assert_int_equal(n, 0);
    assert_rc(ct_memstore_pending_entry(ps, 2, &is_write, &pgno, &n), CT_NOTFOUND);
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_rc(ct_memstore_pending_entry(ps, 0, NULL, NULL, NULL), CT_NOTFOUND);
    free(b);
    ps->ops->close(ps);
}

/* ---- Power cut ------------------------------------------------------------------ */

/* Power cut at op k: ops before k work, op k and every later op (reads,
   size, map too) fail with CT_IO and change nothing; crash brings the
   power back, ops keep their numbers. */
static void test_power_cut(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);                        /* op 0 */
    assert_rc(ps->ops->sync(ps), CT_OK); /* op 1 */
    assert_rc(ct_memstore_set_power_cut(ps, 3), CT_OK);
    wr(ps, 1, 2); /* op 2 */
    assert_non_null(ps->ops->map(ps, 0));
    unsigned char *b = page_buf(ps, 1);
    fill(b, PS_DEFAULT, 3);
    assert_rc(ps->ops->write(ps, 0, 1, b), CT_IO); /* op 3 */
    assert_rc(ps->ops->sync(ps), CT_IO);           /* op 4 */
    assert_rc(ps->ops->resize(ps, 10), CT_IO);     /* op 5 */
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_IO);
    uint64_t n = 0;
    assert_rc(ps->ops->size(ps, &n), CT_IO);
    assert_null(ps->ops->map(ps, 0));
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.ops, 6);
    assert_int_equal(in.power_out, 1);
    assert_int_equal(in.pending, 1);
    crash_mode(ps, CT_CRASH_KEEP_ALL, 0, 0, 0);
    in = info_of(ps);
    assert_int_equal(in.power_out, 0);
    assert_int_equal(in.power_cut_at, UINT64_MAX);
    assert_true(view_is(ps, 0, 1));
    assert_true(view_is(ps, 1, 2));
    wr(ps, 2, 4); /* op 6 */
    assert_int_equal(info_of(ps).ops, 7);
    free(b);
    ps->ops->close(ps);
}

/* A power cut set at an op index already passed takes effect at once. */
static void test_power_cut_in_past(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    wr(ps, 1, 1);
    assert_rc(ct_memstore_set_power_cut(ps, 1), CT_OK);
    unsigned char *b = page_buf(ps, 1);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_IO);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_int_equal(size_of(ps), 0);
    free(b);
    ps->ops->close(ps);
}

/* ---- Faults ---------------------------------------------------------------------- */

/* Rates with den 0 never inject (even with num set), whatever the op mix. */
static void test_faults_off_with_den_zero(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    ct_memstore_faults f;
    memset(&f, 0, sizeof f);
    for (int k = 0; k < CT_MEMSTORE_FAULT_KINDS; k++) {
        set_ratio(&f, (ct_memstore_fault_kind)k, 1, 0);
    }
    assert_rc(ct_memstore_set_faults(ps, &f, 0), CT_OK);
    for (uint32_t i = 0; i < 50; i++) {
        wr(ps, i, i + 1);
        assert_true(view_is(ps, i, i + 1));
        assert_rc(ps->ops->sync(ps), CT_OK);
    }
    assert_rc(ps->ops->resize(ps, 60), CT_OK);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    for (uint32_t i = 0; i < 50; i++) {
        assert_true(view_is(ps, i, i + 1));
    }
    ct_memstore_info in = info_of(ps);
    for (int k = 0; k < CT_MEMSTORE_FAULT_KINDS; k++) {
        assert_int_equal(in.faults_injected[k], 0);
    }
    ps->ops->close(ps);
}

/* How many leading 512-byte sectors of the view's pages [pgno, pgno+n)
   hold pattern `neu` while every later sector holds pattern `old` (tag 0 =
   zeros, as never-written pages read); -1 when the view is not such a
   prefix. */
static long view_prefix_sectors(ct_pagestore *ps, uint64_t pgno, uint32_t n, uint32_t neu,
                                uint32_t old)
{
    size_t len = (size_t)ps->page_size * n;
    unsigned char *v = page_buf(ps, n);
    unsigned char *a = page_buf(ps, n);
    unsigned char *b = page_buf(ps, n);
    assert_rc(ps->ops->read(ps, pgno, n, v), CT_OK);
    for (uint32_t k = 0; k < n; k++) {
        fill(a + (size_t)k * ps->page_size, ps->page_size, neu);
        fill(b + (size_t)k * ps->page_size, ps->page_size, old);
    }
    size_t sectors = len / CT_SECTOR_SIZE;
    size_t k = 0;
    while (k < sectors &&
           memcmp(v + k * CT_SECTOR_SIZE, a + k * CT_SECTOR_SIZE, CT_SECTOR_SIZE) == 0) {
        k++;
    }
    long out = (long)k;
    for (size_t j = k; j < sectors; j++) {
        if (memcmp(v + j * CT_SECTOR_SIZE, b + j * CT_SECTOR_SIZE, CT_SECTOR_SIZE) != 0) {
            out = -1;
        }
    }
    free(v);
    free(a);
    free(b);
    return out;
}

/* write_error 1/1: every write returns CT_IO, counted, having written a
   prefix of its range (none, some sectors or all of it: a short write,
   then the error): the view shows the prefix over the old bytes, and the
   prefix is logged like a write, so a crash that keeps the log keeps it. */
static void test_fault_write_error(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    for (uint64_t p = 0; p < 3; p++) {
        wr(ps, p, 1);
    }
    assert_rc(ps->ops->sync(ps), CT_OK);
    only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 1);
    unsigned char *b = page_buf(ps, 3);
    long total = (long)(3 * PS_DEFAULT / CT_SECTOR_SIZE);
    int none = 0;
    int some = 0;
    for (uint32_t tag = 2; tag < 40; tag++) {
        for (uint32_t k = 0; k < 3; k++) {
            fill(b + (size_t)k * PS_DEFAULT, PS_DEFAULT, tag);
        }
        /* Make the view uniform first, with the fault off. */
        assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
        for (uint64_t p = 0; p < 3; p++) {
            wr(ps, p, tag + 100);
        }
        only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 1);
        assert_rc(ps->ops->write(ps, 0, 3, b), CT_IO);
        long k = view_prefix_sectors(ps, 0, 3, tag, tag + 100);
        assert_true(k >= 0 && k <= total);
        none += k == 0;
        some += k > 0 && k < total;
    }
    assert_true(none > 0);
    assert_true(some > 0);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.faults_injected[CT_MEMSTORE_FAULT_WRITE_ERROR], 38);
    /* The prefix is in the log: kept by a crash that keeps every write. */
    long k = view_prefix_sectors(ps, 0, 3, 39, 139);
    crash_mode(ps, CT_CRASH_KEEP_ALL, 0, 0, 0);
    assert_int_equal(view_prefix_sectors(ps, 0, 3, 39, 139), k);
    /* A failed write past the end grows the store by its prefix only. */
    only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 1);
    uint64_t p = 8;
    for (; size_of(ps) == 3 && p < 200; p += 4) {
        assert_rc(ps->ops->write(ps, p, 3, b), CT_IO);
    }
    p -= 4;
    assert_true(size_of(ps) > p && size_of(ps) <= p + 3);
    assert_true(view_is(ps, p, 39));
    free(b);
    ps->ops->close(ps);
}

/* read_error 1/1: every read fails with CT_IO, transiently: off again, the
   same page reads fine. */
static void test_fault_read_error(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 0, 1);
    only_fault(ps, CT_MEMSTORE_FAULT_READ_ERROR, 1, 1);
    unsigned char *b = page_buf(ps, 1);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_IO);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_IO);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_READ_ERROR], 2);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_true(view_is(ps, 0, 1));
    free(b);
    ps->ops->close(ps);
}

/* read_error_sticky 1/1: the page read turns unreadable for good: later
   reads of it (alone or in a range, even after a rewrite) fail without a new
   injection, until the fault knobs are reset; other pages read fine. */
static void test_fault_read_error_sticky(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 0, 1);
    wr(ps, 1, 2);
    only_fault(ps, CT_MEMSTORE_FAULT_READ_ERROR_STICKY, 1, 1);
    unsigned char *b = page_buf(ps, 2);
    assert_rc(ps->ops->read(ps, 1, 1, b), CT_IO);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_READ_ERROR_STICKY], 1);
    wr(ps, 1, 3);
    assert_rc(ps->ops->read(ps, 1, 1, b), CT_IO);
    assert_rc(ps->ops->read(ps, 0, 2, b), CT_IO); /* the sticky page inside a range */
    /* The sticky set answered: no new decision was drawn or counted. */
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_READ_ERROR_STICKY], 1);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_true(view_is(ps, 0, 1));
    assert_true(view_is(ps, 1, 3));
    free(b);
    ps->ops->close(ps);
}

/* sync_error 1/1: CT_IO, the log is resolved (cleared) into the durable
   image at random, the view still shows every write; a crash then exposes
   what did not persist, and a later good sync does not bring it back. */
static void test_fault_sync_error_then_crash(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    for (uint32_t p = 0; p < 16; p++) {
        wr(ps, p, 1);
    }
    assert_rc(ps->ops->sync(ps), CT_OK);
    for (uint32_t p = 0; p < 16; p++) {
        wr(ps, p, 2);
    }
    only_fault(ps, CT_MEMSTORE_FAULT_SYNC_ERROR, 1, 1);
    assert_rc(ps->ops->sync(ps), CT_IO);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.pending, 0);
    assert_int_equal(in.faults_injected[CT_MEMSTORE_FAULT_SYNC_ERROR], 1);
    for (uint32_t p = 0; p < 16; p++) {
        assert_true(view_is(ps, p, 2));
    }
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    crash_mode(ps, CT_CRASH_KEEP_ALL, 0, 0, 0);
    int old = 0;
    int neu = 0;
    int torn = 0;
    for (uint32_t p = 0; p < 16; p++) {
        old += view_is(ps, p, 1);
        neu += view_is(ps, p, 2);
    }
    torn = 16 - old - neu;
    assert_true(neu < 16);
    assert_true(old + torn > 0);
    ps->ops->close(ps);
}

/* misdirected_read 1/1: a read of pages 3..4 of 8 (page p holds pattern
   p + 1) returns one of them as another page of the store, a neighbour
   (2 or 5) about half the time; the stored pages are intact. A one-page
   store has no other page: no fault. */
static void test_fault_misdirected_read(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 5);
    for (uint32_t p = 0; p < 8; p++) {
        wr(ps, p, p + 1);
    }
    only_fault(ps, CT_MEMSTORE_FAULT_MISDIRECTED_READ, 1, 1);
    unsigned char *b = page_buf(ps, 2);
    unsigned char *w = page_buf(ps, 1);
    int neighbour = 0;
    int far = 0;
    for (int i = 0; i < 64; i++) {
        assert_rc(ps->ops->read(ps, 3, 2, b), CT_OK);
        int wrong = 0;
        for (uint32_t k = 0; k < 2; k++) {
            unsigned char *got = b + (size_t)k * PS_DEFAULT;
            fill(w, PS_DEFAULT, 3 + k + 1);
            if (memcmp(got, w, PS_DEFAULT) == 0) {
                continue;
            }
            wrong++;
            int source = -1;
            for (uint32_t p = 0; p < 8; p++) {
                fill(w, PS_DEFAULT, p + 1);
                if (memcmp(got, w, PS_DEFAULT) == 0) {
                    source = (int)p;
                }
            }
            assert_true(source >= 0 && (source < 3 || source > 4));
            neighbour += source == 2 || source == 5;
            far += source != 2 && source != 5;
        }
        assert_int_equal(wrong, 1);
    }
    assert_true(neighbour > 16);
    assert_true(far > 0);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_MISDIRECTED_READ], 64);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    for (uint32_t p = 0; p < 8; p++) {
        assert_true(view_is(ps, p, p + 1));
    }
    ps->ops->close(ps);
    ps = mk(PS_DEFAULT, 5);
    wr(ps, 0, 1);
    only_fault(ps, CT_MEMSTORE_FAULT_MISDIRECTED_READ, 1, 1);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_OK);
    fill(w, PS_DEFAULT, 1);
    assert_memory_equal(b, w, PS_DEFAULT);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_MISDIRECTED_READ], 0);
    free(b);
    free(w);
    ps->ops->close(ps);
}

/* bit_rot 1/1: each returned buffer differs from the page in exactly one
   bit, and the stored page is intact. */
static void test_fault_bit_rot(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 0, 1);
    only_fault(ps, CT_MEMSTORE_FAULT_BIT_ROT, 1, 1);
    unsigned char *b = page_buf(ps, 1);
    unsigned char *w = page_buf(ps, 1);
    fill(w, PS_DEFAULT, 1);
    for (int i = 0; i < 16; i++) {
        assert_rc(ps->ops->read(ps, 0, 1, b), CT_OK);
        unsigned flipped = 0;
        for (size_t j = 0; j < PS_DEFAULT; j++) {
            flipped += (unsigned)__builtin_popcount((unsigned)(b[j] ^ w[j]));
        }
        assert_int_equal(flipped, 1);
    }
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_BIT_ROT], 16);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_true(view_is(ps, 0, 1));
    free(b);
    free(w);
    ps->ops->close(ps);
}

/* misdirected_write 1/1: reads show the write where it was meant to go
   (the page cache has it there); on the device one page of it lands at
   another page below the size and its own page keeps the old content,
   which a sync makes durable and a crash then shows. */
static void test_fault_misdirected_write(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    for (uint32_t p = 0; p < 8; p++) {
        wr(ps, p, 1 + p);
    }
    only_fault(ps, CT_MEMSTORE_FAULT_MISDIRECTED_WRITE, 1, 1);
    wr(ps, 3, 40);
    for (uint32_t p = 0; p < 8; p++) {
        assert_true(view_is(ps, p, p == 3 ? 40 : 1 + p));
    }
    assert_int_equal(size_of(ps), 8);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_MISDIRECTED_WRITE], 1);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_true(view_is(ps, 3, 40)); /* until a crash */
    assert_true(durable_is(ps, 3, 4));
    int landed = -1;
    for (uint32_t p = 0; p < 8; p++) {
        if (durable_is(ps, p, 40)) {
            assert_int_equal(landed, -1);
            landed = (int)p;
        } else if (p != 3) {
            assert_true(durable_is(ps, p, 1 + p)); /* every other page kept */
        }
    }
    assert_true(landed >= 0 && landed != 3);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(ps, 3, 4));
    assert_true(view_is(ps, (uint64_t)landed, 40));
    ps->ops->close(ps);
}

/* lost_write 1/1: CT_OK, and reads show the data (the page cache has it),
   but the device never gets it: nothing is logged but the growth, a sync
   reports success, and after a crash the old content (or zeros in the
   grown pages) is back. */
static void test_fault_lost_write(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 0, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    only_fault(ps, CT_MEMSTORE_FAULT_LOST_WRITE, 1, 1);
    wr(ps, 0, 2);
    assert_true(view_is(ps, 0, 2));
    assert_int_equal(info_of(ps).pending, 0);
    wr(ps, 2, 3);
    assert_int_equal(size_of(ps), 3);
    assert_true(view_is(ps, 2, 3));
    int is_write = -1;
    assert_rc(ct_memstore_pending_entry(ps, 0, &is_write, NULL, NULL), CT_OK);
    assert_int_equal(is_write, 0);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_LOST_WRITE], 2);
    assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_true(durable_is(ps, 0, 1));
    assert_true(view_is(ps, 0, 2));
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(ps, 0, 1));
    assert_int_equal(size_of(ps), 3);
    assert_true(view_is(ps, 2, 0));
    ps->ops->close(ps);
}

/* lost_sync 1/1: CT_OK but nothing persists and the writes stay in the log,
   so a crash can still drop them. */
static void test_fault_lost_sync(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 0, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    wr(ps, 0, 2);
    only_fault(ps, CT_MEMSTORE_FAULT_LOST_SYNC, 1, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.pending, 1);
    assert_int_equal(in.faults_injected[CT_MEMSTORE_FAULT_LOST_SYNC], 1);
    assert_true(durable_is(ps, 0, 1));
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(ps, 0, 1));
    ps->ops->close(ps);
}

/* nospace 1/1: writes and resizes that grow the store get CT_NOSPACE, those
   inside it (and shrinks) work; a failed write leaves a prefix. */
static void test_fault_nospace(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 3);
    wr(ps, 1, 1);
    only_fault(ps, CT_MEMSTORE_FAULT_NOSPACE, 1, 1);
    unsigned char *b = page_buf(ps, 1);
    fill(b, PS_DEFAULT, 2);
    assert_rc(ps->ops->resize(ps, 3), CT_NOSPACE);
    assert_rc(ps->ops->write(ps, 0, 1, b), CT_OK);
    assert_int_equal(size_of(ps), 2);
    assert_int_equal(info_of(ps).faults_injected[CT_MEMSTORE_FAULT_NOSPACE], 1);
    /* A growing write that runs out of space may have written a prefix of
       its range first (a short write, then ENOSPC), as a failed write. */
    unsigned char *w = page_buf(ps, 2);
    fill(w, PS_DEFAULT, 3);
    fill(w + PS_DEFAULT, PS_DEFAULT, 3);
    int none = 0;
    int some = 0;
    for (int i = 0; i < 30; i++) {
        assert_rc(ps->ops->write(ps, 1, 2, w), CT_NOSPACE);
        uint64_t size = size_of(ps);
        assert_true(size == 2 || size == 3);
        long k = view_prefix_sectors(ps, 1, 1, 3, 1);
        assert_true(k >= 0);
        assert_true(size == 2 || k == (long)(PS_DEFAULT / CT_SECTOR_SIZE));
        none += k == 0 && size == 2;
        some += k > 0;
        if (size == 3) {
            assert_rc(ps->ops->resize(ps, 2), CT_OK); /* a shrink: no fault */
        }
        wr(ps, 1, 1); /* inside the store: no fault */
    }
    assert_true(none > 0);
    assert_true(some > 0);
    assert_rc(ps->ops->resize(ps, 1), CT_OK);
    assert_int_equal(size_of(ps), 1);
    free(w);
    free(b);
    ps->ops->close(ps);
}

/* A fractional rate injects some but not all, and the schedule is a pure
   function of the seed. */
static void test_fault_rate_seeded(void **state)
{
    (void)state;
    uint64_t hits[2][2];
    for (int run = 0; run < 2; run++) {
        for (int s = 0; s < 2; s++) {
            ct_pagestore *ps = mk(512, 1000u + (uint64_t)s);
            only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 4);
            unsigned char *b = page_buf(ps, 1);
            uint64_t pattern = 0;
            for (uint32_t i = 0; i < 64; i++) {
                fill(b, 512, i + 1);
                pattern = pattern * 2u + (ps->ops->write(ps, i, 1, b) == CT_IO);
            }
            uint64_t n = info_of(ps).faults_injected[CT_MEMSTORE_FAULT_WRITE_ERROR];
            assert_true(n > 0 && n < 64);
            hits[run][s] = pattern;
            free(b);
            ps->ops->close(ps);
        }
    }
    assert_int_equal(hits[0][0], hits[1][0]);
    assert_int_equal(hits[0][1], hits[1][1]);
    assert_int_not_equal(hits[0][0], hits[0][1]);
}

/* ---- Countdowns ------------------------------------------------------------------- */

/* fail_nth(n) fails exactly the nth next op of the kind, once; other kinds
   are untouched; counted in countdown_failures. */
static void test_countdown_nth(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_WRITE, 3, 0), CT_OK);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_READ, 1, 0), CT_OK);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_KINDS, 1, 0), CT_INVALID);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_SYNC, 0, 0), CT_INVALID);
    unsigned char *b = page_buf(ps, 1);
    fill(b, PS_DEFAULT, 2);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_IO);
    assert_rc(ps->ops->read(ps, 0, 1, b), CT_OK);
    assert_rc(ps->ops->write(ps, 1, 1, b), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_rc(ps->ops->write(ps, 2, 1, b), CT_OK);
    assert_rc(ps->ops->write(ps, 3, 1, b), CT_IO);
    assert_rc(ps->ops->write(ps, 4, 1, b), CT_OK);
    assert_int_equal(size_of(ps), 5);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.countdown_failures[CT_MEMSTORE_OP_WRITE], 1);
    assert_int_equal(in.countdown_failures[CT_MEMSTORE_OP_READ], 1);
    assert_int_equal(in.faults_injected[CT_MEMSTORE_FAULT_WRITE_ERROR], 0);
    free(b);
    ps->ops->close(ps);
}

/* Which of 64 reads of page 0 (pattern tag) bit_rot 1/2 garbles: one
   bit per read, a fingerprint of the store PRNG's next 64 draws. */
static uint64_t rot_mask(ct_pagestore *ps, uint32_t tag)
{
    only_fault(ps, CT_MEMSTORE_FAULT_BIT_ROT, 1, 2);
    unsigned char *r = page_buf(ps, 1);
    unsigned char *w = page_buf(ps, 1);
    fill(w, ps->page_size, tag);
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) {
        assert_rc(ps->ops->read(ps, 0, 1, r), CT_OK);
        if (memcmp(r, w, ps->page_size) != 0) {
            mask |= UINT64_C(1) << i;
        }
    }
    free(r);
    free(w);
    return mask;
}

/* A write failed by a countdown also leaves a sector prefix of its range,
   how long from the op number alone: the same on a replay, and without a
   draw from the store PRNG (the random faults after it decide as on a
   store that saw no countdown). */
static void test_countdown_write_prefix(void **state)
{
    (void)state;
    long first[12];
    uint64_t masks[2];
    for (int round = 0; round < 2; round++) {
        ct_pagestore *ps = mk(PS_DEFAULT, 9);
        unsigned char *b = page_buf(ps, 2);
        int partial = 0;
        for (int i = 0; i < 12; i++) {
            wr(ps, 0, 1);
            wr(ps, 1, 1);
            assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_WRITE, 1, 0), CT_OK);
            fill(b, PS_DEFAULT, 2);
            fill(b + PS_DEFAULT, PS_DEFAULT, 2);
            assert_rc(ps->ops->write(ps, 0, 2, b), CT_IO);
            long k = view_prefix_sectors(ps, 0, 2, 2, 1);
            assert_true(k >= 0 && k <= (long)(2 * PS_DEFAULT / CT_SECTOR_SIZE));
            partial += k > 0;
            if (round == 0) {
                first[i] = k;
            } else {
                assert_int_equal(k, first[i]);
            }
        }
        assert_true(partial > 0);
        assert_int_equal(info_of(ps).countdown_failures[CT_MEMSTORE_OP_WRITE], 12);
        wr(ps, 0, 1);
        masks[round] = rot_mask(ps, 1);
        free(b);
        ps->ops->close(ps);
    }
    assert_true(masks[0] == masks[1]);
    ct_pagestore *fresh = mk(PS_DEFAULT, 9);
    wr(fresh, 0, 1);
    assert_true(rot_mask(fresh, 1) == masks[0]);
    fresh->ops->close(fresh);
}

/* A sticky countdown fails its op and every later op of the kind until
   ct_memstore_clear_countdowns(); resize countdowns work too. */
static void test_countdown_sticky(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_RESIZE, 2, 1), CT_OK);
    assert_rc(ps->ops->resize(ps, 2), CT_OK);
    for (int i = 0; i < 5; i++) {
        assert_rc(ps->ops->resize(ps, 3 + (uint64_t)i), CT_IO);
    }
    assert_int_equal(size_of(ps), 2);
    assert_int_equal(info_of(ps).countdown_failures[CT_MEMSTORE_OP_RESIZE], 5);
    assert_rc(ct_memstore_clear_countdowns(ps), CT_OK);
    assert_rc(ps->ops->resize(ps, 4), CT_OK);
    ps->ops->close(ps);
}

/* A sync failed by a countdown behaves like sync_error: CT_IO, log resolved
   and cleared, view unchanged. */
static void test_countdown_sync(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(PS_DEFAULT, 1);
    wr(ps, 0, 1);
    assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_SYNC, 1, 0), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_IO);
    ct_memstore_info in = info_of(ps);
    assert_int_equal(in.pending, 0);
    assert_int_equal(in.countdown_failures[CT_MEMSTORE_OP_SYNC], 1);
    assert_true(view_is(ps, 0, 1));
    assert_rc(ps->ops->sync(ps), CT_OK);
    ps->ops->close(ps);
}

/* ---- Snapshots -------------------------------------------------------------------- */

/* Reads every view page and the durable image into one buffer. */
static unsigned char *whole_state(ct_pagestore *ps, size_t *len)
{
    ct_memstore_info in = info_of(ps);
    size_t n = (size_t)(in.size_pages + in.durable_pages);
    unsigned char *buf = malloc(n * ps->page_size + 1u);
    assert_non_null(buf);
    for (uint64_t p = 0; p < in.size_pages; p++) {
        assert_rc(ps->ops->read(ps, p, 1, buf + (size_t)p * ps->page_size), CT_OK);
    }
    for (uint64_t p = 0; p < in.durable_pages; p++) {
        size_t off = (size_t)(in.size_pages + p) * ps->page_size;
        assert_rc(ct_memstore_peek(ps, p, buf + off), CT_OK);
    }
    *len = n * ps->page_size;
    return buf;
}

/* Take, mutate in every way (writes, sync, resize, faults, countdown, power
   cut, crash), restore: identical content and info; restore again works. */
static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 5);
    random_workload(ps);
    only_fault(ps, CT_MEMSTORE_FAULT_BIT_ROT, 1, 3);
    ct_memstore_snapshot *snap = NULL;
    assert_rc(ct_memstore_snapshot_take(ps, &snap), CT_OK);
    ct_memstore_info before = info_of(ps);
    ct_memstore_faults none;
    memset(&none, 0, sizeof none);
    assert_rc(ct_memstore_set_faults(ps, &none, 0), CT_OK);
    size_t len0 = 0;
    unsigned char *s0 = whole_state(ps, &len0);
    assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);

    for (int round = 0; round < 2; round++) {
        wr(ps, 1, 99);
        assert_rc(ps->ops->sync(ps), CT_OK);
        assert_rc(ps->ops->resize(ps, 30), CT_OK);
        only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 2);
        assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_READ, 1, 1), CT_OK);
        assert_rc(ct_memstore_set_power_cut(ps, 0), CT_OK);
        crash_mode(ps, CT_CRASH_RANDOM, 0, 0, 7);
        assert_rc(ct_memstore_set_power_cut(ps, 0), CT_OK);
        assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
        ct_memstore_info after = info_of(ps);
        assert_memory_equal(&before, &after, sizeof before);
        assert_rc(ct_memstore_set_faults(ps, &none, 0), CT_OK);
        size_t len1 = 0;
        unsigned char *s1 = whole_state(ps, &len1);
        assert_int_equal(len0, len1);
        assert_memory_equal(s0, s1, len0);
        free(s1);
        assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
    }
    free(s0);
    ct_memstore_snapshot_free(snap);
    ps->ops->close(ps);
}

/* After a restore the same op sequence replays identically: PRNG, fault
   rates and counters all come back (same results, same trace hash). */
static void test_snapshot_replays(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 9);
    wr(ps, 0, 1);
    only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 2);
    ct_memstore_snapshot *snap = NULL;
    assert_rc(ct_memstore_snapshot_take(ps, &snap), CT_OK);
    unsigned char *b = page_buf(ps, 1);
    int rcs[2][32];
    uint64_t hash[2];
    for (int run = 0; run < 2; run++) {
        for (uint32_t i = 0; i < 32; i++) {
            fill(b, 512, i + 2);
            rcs[run][i] = ps->ops->write(ps, i, 1, b);
        }
        hash[run] = info_of(ps).trace_hash;
        assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
    }
    assert_memory_equal(rcs[0], rcs[1], sizeof rcs[0]);
    assert_int_equal(hash[0], hash[1]);
    free(b);
    ct_memstore_snapshot_free(snap);
    ps->ops->close(ps);
}

/* A snapshot shares pages and stays valid after the store closes; it can
   seed a second store of the same page size, not of another. */
static void test_snapshot_outlives_store(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    wr(ps, 0, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    wr(ps, 1, 2);
    ct_memstore_snapshot *snap = NULL;
    assert_rc(ct_memstore_snapshot_take(ps, &snap), CT_OK);
    ps->ops->close(ps);
    ct_pagestore *other = mk(512, 2);
    assert_rc(ct_memstore_snapshot_restore(other, snap), CT_OK);
    assert_true(view_is(other, 1, 2));
    crash_mode(other, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(other, 0, 1));
    assert_int_equal(size_of(other), 1);
    ct_pagestore *big = mk(1024, 2);
    assert_rc(ct_memstore_snapshot_restore(big, snap), CT_INVALID);
    ct_memstore_snapshot_free(snap);
    other->ops->close(other);
    big->ops->close(big);
}

/* ---- map ------------------------------------------------------------------------- */

/* A mapped pointer keeps its address and bytes across rewrites of another
   page and across growth that reallocates the page table. */
static void test_map_stable(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    wr(ps, 0, 1);
    wr(ps, 1, 2);
    const unsigned char *m = ps->ops->map(ps, 0);
    assert_non_null(m);
    unsigned char *w = page_buf(ps, 1);
    fill(w, 512, 1);
    assert_memory_equal(m, w, 512);
    wr(ps, 1, 3);
    for (uint32_t p = 2; p < 2000; p++) {
        wr(ps, p, p);
    }
    assert_rc(ps->ops->sync(ps), CT_OK);
    assert_memory_equal(m, w, 512);
    assert_ptr_equal(ps->ops->map(ps, 0), m);
    free(w);
    ps->ops->close(ps);
}

/* Rewriting (or cutting off) a mapped page gives map a new buffer; the old
   pointer keeps the old bytes until close or ct_memstore_unmap_all. */
static void test_map_rewrite_keeps_old(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    unsigned char *w1 = page_buf(ps, 1);
    unsigned char *w2 = page_buf(ps, 1);
    fill(w1, 512, 1);
    fill(w2, 512, 2);
    assert_null(ps->ops->map(ps, 0)); /* beyond size */
    assert_rc(ps->ops->resize(ps, 2), CT_OK);
    assert_null(ps->ops->map(ps, 1)); /* never written */
    wr(ps, 0, 1);
    const unsigned char *m1 = ps->ops->map(ps, 0);
    assert_non_null(m1);
    wr(ps, 0, 2);
    const unsigned char *m2 = ps->ops->map(ps, 0);
    assert_non_null(m2);
    assert_ptr_not_equal(m1, m2);
    assert_ptr_equal(ps->ops->map(ps, 0), m2); /* mapping again pins nothing more */
    assert_memory_equal(m1, w1, 512);
    assert_memory_equal(m2, w2, 512);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_memory_equal(m2, w2, 512);
    assert_int_equal(info_of(ps).pinned_pages, 2);
    assert_rc(ct_memstore_unmap_all(ps), CT_OK);
    assert_int_equal(info_of(ps).pinned_pages, 0);
    free(w1);
    free(w2);
    ps->ops->close(ps);
}

/* ---- Trace hash ------------------------------------------------------------------- */

static uint64_t traced_run(uint64_t seed, uint32_t tag_shift, int faults)
{
    ct_pagestore *ps = mk(512, seed);
    if (faults) {
        only_fault(ps, CT_MEMSTORE_FAULT_WRITE_ERROR, 1, 3);
    }
    unsigned char *b = page_buf(ps, 1);
    for (uint32_t i = 0; i < 20; i++) {
        fill(b, 512, i + 1 + tag_shift);
        (void)ps->ops->write(ps, i % 7, 1, b);
        if (i % 5 == 4) {
            (void)ps->ops->sync(ps);
        }
    }
    (void)ps->ops->read(ps, 0, 1, b);
    crash_mode(ps, CT_CRASH_RANDOM, 0, 0, seed);
    uint64_t h = info_of(ps).trace_hash;
    free(b);
    ps->ops->close(ps);
    return h;
}

/* The trace hash is the same for the same ops and seed, and differs when
   written content differs or when the seed changes the fault schedule. */
static void test_trace_hash(void **state)
{
    (void)state;
    assert_int_equal(traced_run(1, 0, 1), traced_run(1, 0, 1));
    assert_int_not_equal(traced_run(1, 0, 0), traced_run(1, 1, 0));
    assert_int_not_equal(traced_run(1, 0, 1), traced_run(2, 0, 1));
}

/* ---- Page sizes, poke/peek, threads -------------------------------------------- */

/* The extreme page sizes do the basics: write, read, sync, crash, tear. */
static void test_page_size_512(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    wr(ps, 3, 1);
    assert_rc(ps->ops->sync(ps), CT_OK);
    wr(ps, 3, 2);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_true(view_is(ps, 3, 1));
    ps->ops->close(ps);
    tear_one_at(512);
}

static void test_page_size_65536(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(65536, 1);
    unsigned char *b = page_buf(ps, 2);
    unsigned char *r = page_buf(ps, 2);
    fill(b, 2 * 65536u, 3);
    assert_rc(ps->ops->write(ps, 1, 2, b), CT_OK);
    assert_rc(ps->ops->sync(ps), CT_OK);
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_rc(ps->ops->read(ps, 1, 2, r), CT_OK);
    assert_memory_equal(b, r, 2 * 65536u);
    free(b);
    free(r);
    ps->ops->close(ps);
    tear_one_at(65536);
}

/* poke writes both images at once (surviving a DROP_ALL crash, even beyond
   the old size); peek reads the durable image, CT_INVALID beyond it. */
static void test_poke_peek(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    wr(ps, 0, 1);
    unsigned char *b = page_buf(ps, 1);
    assert_rc(ct_memstore_peek(ps, 0, b), CT_INVALID); /* nothing durable yet */
    fill(b, 512, 5);
    assert_rc(ct_memstore_poke(ps, 2, b), CT_OK);
    assert_true(view_is(ps, 2, 5));
    assert_true(durable_is(ps, 2, 5));
    assert_true(durable_is(ps, 0, 0));
    crash_mode(ps, CT_CRASH_DROP_ALL, 0, 0, 0);
    assert_int_equal(size_of(ps), 3);
    assert_true(view_is(ps, 2, 5));
    assert_true(view_is(ps, 0, 0));
    assert_rc(ct_memstore_peek(ps, 3, b), CT_INVALID);
    assert_rc(ct_memstore_poke(ps, UINT64_MAX, b), CT_INVALID);
    free(b);
    ps->ops->close(ps);
}

typedef struct reader_arg {
    ct_pagestore *ps;
    int bad;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *a = p;
    unsigned char b[512];
    unsigned char w1[512];
    unsigned char w2[512];
    fill(w1, 512, 1);
    fill(w2, 512, 2);
    for (int i = 0; i < 2000; i++) {
        if (a->ps->ops->read(a->ps, 0, 1, b) != CT_OK ||
            (memcmp(b, w1, 512) != 0 && memcmp(b, w2, 512) != 0)) {
            a->bad++;
        }
        const unsigned char *m = a->ps->ops->map(a->ps, 0);
        if (!m || (memcmp(m, w1, 512) != 0 && memcmp(m, w2, 512) != 0)) {
            a->bad++;
        }
    }
    return NULL;
}

/* Readers in several threads see whole pages (old or new, never a mix)
   while a writer rewrites the page and syncs. */
static void test_concurrent_readers(void **state)
{
    (void)state;
    ct_pagestore *ps = mk(512, 1);
    wr(ps, 0, 1);
    pthread_t th[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].ps = ps;
        args[i].bad = 0;
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (uint32_t i = 0; i < 500; i++) {
        wr(ps, 0, 1 + i % 2);
        wr(ps, 1 + i % 50, 3);
        if (i % 10 == 0) {
            assert_rc(ps->ops->sync(ps), CT_OK);
        }
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    ps->ops->close(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_after_write),
        cmocka_unit_test(test_zero_fill),
        cmocka_unit_test(test_invalid_reads),
        cmocka_unit_test(test_multi_page),
        cmocka_unit_test(test_resize_up_down),
        cmocka_unit_test(test_create_options),
        cmocka_unit_test(test_max_pages),
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_keep_all),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_omit_one),
        cmocka_unit_test(test_tear_one),
        cmocka_unit_test(test_tear_multi_page_granularity),
        cmocka_unit_test(test_tear_old_is_durable_at_apply),
        cmocka_unit_test(test_random_deterministic),
        cmocka_unit_test(test_random_covers_outcomes),
        cmocka_unit_test(test_crash_invalid),
        cmocka_unit_test(test_pending_entry),
        cmocka_unit_test(test_power_cut),
        cmocka_unit_test(test_power_cut_in_past),
        cmocka_unit_test(test_faults_off_with_den_zero),
        cmocka_unit_test(test_fault_write_error),
        cmocka_unit_test(test_countdown_write_prefix),
        cmocka_unit_test(test_fault_read_error),
        cmocka_unit_test(test_fault_read_error_sticky),
        cmocka_unit_test(test_fault_sync_error_then_crash),
        cmocka_unit_test(test_fault_bit_rot),
        cmocka_unit_test(test_fault_misdirected_read),
        cmocka_unit_test(test_fault_misdirected_write),
        cmocka_unit_test(test_fault_lost_write),
        cmocka_unit_test(test_fault_lost_sync),
        cmocka_unit_test(test_fault_nospace),
        cmocka_unit_test(test_fault_rate_seeded),
        cmocka_unit_test(test_countdown_nth),
        cmocka_unit_test(test_countdown_sticky),
        cmocka_unit_test(test_countdown_sync),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_snapshot_replays),
        cmocka_unit_test(test_snapshot_outlives_store),
        cmocka_unit_test(test_map_stable),
        cmocka_unit_test(test_map_rewrite_keeps_old),
        cmocka_unit_test(test_trace_hash),
        cmocka_unit_test(test_page_size_512),
        cmocka_unit_test(test_page_size_65536),
        cmocka_unit_test(test_poke_peek),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_writev_same_as_write),
        cmocka_unit_test(test_writev_gathers_one_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
