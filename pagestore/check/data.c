/*
 * data.c - the conformance kit's data checks: open, read-after-write,
 * zero-fill, grow-on-write, sync, and the return-codes tally.
 *
 * Each check opens a FRESH store, keeps a model of what every page must
 * hold (a version per page, 0 = zeros) and its size, compares every read
 * with the model, and closes the store on every path.
 * Never: calls an op with arguments the contract does not allow (those
 * are bounds.c's job), or a store op after close.
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* Pages the random read-after-write phase spreads its writes over. */
#define RAW_SPAN_PAGES 40u
/* Longest multi-page write of the random phase. */
#define RAW_RUN_PAGES_MAX 8u
/* Random writes (each followed by a random read-back). */
#define RAW_ROUNDS 40u

/* Model of one store: version of each page and the size in pages. */
typedef struct raw_model {
    uint32_t ver[RAW_SPAN_PAGES + RAW_RUN_PAGES_MAX];
    uint64_t size_pages;
} raw_model;

int ct__sc_check_open(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &ps) != CT_OK) {
        return CT_OK; /* the violation is reported */
    }
    ct__sc_expect_size(c, ps, 0, "a fresh store");
    uint8_t *buf = ct__sc_pages(c, 2);
    if (!buf) {
        ps->ops->close(ps);
        return CT_NOMEM;
    }
    /* A second FRESH open must not see what the first one left. */
    (void)ct__sc_write_pattern(c, ps, 0, 2, 1, buf);
    ps->ops->close(ps);
    free(buf);
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &ps) != CT_OK) {
        return CT_OK;
    }
    ct__sc_expect_size(c, ps, 0, "a fresh open after a store of 2 pages was closed");
    ps->ops->close(ps);
    return CT_OK;
}

/* Writes n pages at pgno in version v, records them, reads them back as a
   range and page by page. */
static void raw_write_check(ct__sc *c, ct_pagestore *ps, raw_model *m, uint64_t pgno, uint32_t n,
                            uint32_t v, uint8_t *buf)
{
    if (ct__sc_write_pattern(c, ps, pgno, n, v, buf) != CT_OK) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        m->ver[pgno + i] = v;
    }
    if (pgno + n > m->size_pages) {
        m->size_pages = pgno + n;
    }
    char what[96];
    snprintf(what, sizeof(what), "after a %u-page write at %llu", (unsigned)n,
             (unsigned long long)pgno);
    if (ct__sc_expect(c, ps, pgno, n, NULL, v, buf, what) != 0 || n == 1) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        snprintf(what, sizeof(what), "page %u of a %u-page write at %llu, read alone", (unsigned)i,
                 (unsigned)n, (unsigned long long)pgno);
        (void)ct__sc_expect(c, ps, pgno + i, 1, NULL, v, buf, what);
    }
}

int ct__sc_check_read_after_write(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &ps) != CT_OK) {
        return CT_OK;
    }
    uint8_t *buf = ct__sc_pages(c, RAW_SPAN_PAGES + RAW_RUN_PAGES_MAX);
    raw_model *m = calloc(1, sizeof(*m));
    if (!buf || !m) {
        free(buf);
        free(m);
        ps->ops->close(ps);
        return CT_NOMEM;
    }
    /* Fixed steps: single pages, a multi-page write, an overwrite inside it. */
    raw_write_check(c, ps, m, 0, 1, 1, buf);
    raw_write_check(c, ps, m, 3, 1, 1, buf);
    raw_write_check(c, ps, m, 1, 1, 1, buf);
    raw_write_check(c, ps, m, 5, 3, 2, buf);
    raw_write_check(c, ps, m, 6, 1, 3, buf);
    (void)ct__sc_expect(c, ps, 5, 3, &m->ver[5], 0, buf,
                        "after overwriting page 6 of a 3-page write at 5");
    /* Random phase: writes anywhere in the span, then a random read-back. */
    for (uint32_t round = 0; round < RAW_ROUNDS && c->violations == 0; round++) {
        uint64_t pgno = ct__sc_below(c, RAW_SPAN_PAGES);
        uint32_t n = 1u + (uint32_t)ct__sc_below(c, RAW_RUN_PAGES_MAX);
        raw_write_check(c, ps, m, pgno, n, 4u + round, buf);
        uint64_t at = ct__sc_below(c, m->size_pages);
        uint64_t span = m->size_pages - at;
        uint32_t rn = 1u + (uint32_t)ct__sc_below(c, span < 16u ? span : 16u);
        (void)ct__sc_expect(c, ps, at, rn, &m->ver[at], 0, buf,
                            "a random read after random writes");
    }
    /* Everything, once as one read and once page by page. */
    ct__sc_expect_size(c, ps, m->size_pages, "after the random writes");
    if (c->violations == 0) {
        (void)ct__sc_expect(c, ps, 0, (uint32_t)m->size_pages, m->ver, 0, buf,
                            "the whole store after random writes");
    }
    ps->ops->close(ps);
    free(buf);
    free(m);
    return CT_OK;
}

int ct__sc_check_zero_fill(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 32, &ps, &buf, &result)) {
        return result;
    }
    if (ct__sc_write_pattern(c, ps, 10, 1, 1, buf) == CT_OK) {
        const char *what = "a page below a write at 10 into an empty store (never written)";
        (void)ct__sc_expect(c, ps, 0, 10, NULL, 0, buf, what);
        for (uint64_t p = 0; p < 10u; p += 3u) {
            (void)ct__sc_expect(c, ps, p, 1, NULL, 0, buf, what);
        }
    }
    if (ct__sc_write_pattern(c, ps, 40, 2, 1, buf) == CT_OK) {
        (void)ct__sc_expect(c, ps, 11, 29, NULL, 0, buf,
                            "a page between a write at 10 and one at 40 (never written)");
    }
    int rc = ct__sc_resize(c, ps, 60);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 42 to 60 pages failed with %s", ct__sc_rcname(rc));
    } else {
        (void)ct__sc_expect(c, ps, 42, 18, NULL, 0, buf,
                            "a page added by growing the store from 42 to 60 pages");
    }
    (void)ct__sc_expect(c, ps, 10, 1, NULL, 1, buf, "page 10 after later writes and growth");
    (void)ct__sc_expect(c, ps, 40, 2, NULL, 1, buf, "pages 40-41 after growth");
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}

/* One write followed by a size check. */
static void grow_step(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t n, uint64_t want,
                      uint8_t *buf)
{
    if (ct__sc_write_pattern(c, ps, pgno, n, 1, buf) != CT_OK) {
        return;
    }
    char what[96];
    snprintf(what, sizeof(what), "after a %u-page write at %llu", (unsigned)n,
             (unsigned long long)pgno);
    ct__sc_expect_size(c, ps, want, what);
}

int ct__sc_check_grow_on_write(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 4, &ps, &buf, &result)) {
        return result;
    }
    grow_step(c, ps, 0, 1, 1, buf);  /* the first page of an empty store */
    grow_step(c, ps, 4, 3, 7, buf);  /* beyond the end, leaving a gap */
    grow_step(c, ps, 2, 1, 7, buf);  /* inside: no change */
    grow_step(c, ps, 6, 4, 10, buf); /* across the end */
    grow_step(c, ps, 30, 1, 31, buf);
    grow_step(c, ps, 30, 1, 31, buf); /* the last page again */
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}

/* Runs sync and reports anything but CT_OK. */
static void sync_step(ct__sc *c, ct_pagestore *ps, const char *when)
{
    int rc = ct__sc_sync(c, ps);
    if (rc != CT_OK) {
        ct__sc_violation(c, "sync %s returned %s on a healthy store", when, ct__sc_rcname(rc));
    }
}

int ct__sc_check_sync(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 4, &ps, &buf, &result)) {
        return result;
    }
    sync_step(c, ps, "of an empty store");
    (void)ct__sc_write_pattern(c, ps, 0, 4, 1, buf);
    sync_step(c, ps, "after a 4-page write");
    sync_step(c, ps, "right after another sync");
    int rc = ct__sc_resize(c, ps, 9);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 4 to 9 pages failed with %s", ct__sc_rcname(rc));
    }
    sync_step(c, ps, "after growing to 9 pages");
    rc = ct__sc_resize(c, ps, 3);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 9 to 3 pages failed with %s", ct__sc_rcname(rc));
    }
    sync_step(c, ps, "after shrinking to 3 pages");
    ct__sc_expect_size(c, ps, 3, "after the syncs");
    (void)ct__sc_expect(c, ps, 0, 3, NULL, 1, buf, "pages written before four syncs");
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}

int ct__sc_check_return_codes(ct__sc *c)
{
    uint32_t shown = c->bad_count < SC_BAD_CODES_MAX ? c->bad_count : SC_BAD_CODES_MAX;
    for (uint32_t i = 0; i < shown; i++) {
        ct__sc_violation(c, "%s returned %d, not a CT_* code (during the %s check)", c->bad[i].op,
                         c->bad[i].rc, c->bad[i].check);
    }
    if (c->bad_count > shown) {
        ct__sc_violation(c, "%u more returns outside the CT_* codes",
                         (unsigned)(c->bad_count - shown));
    }
    return CT_OK;
}
