/*
 * shape.c - the conformance kit's checks of a store's extent: bounds
 * (what must be rejected with CT_INVALID, and that a rejected call
 * changes nothing), resize (grow, shrink, grow again: never old bytes),
 * and multi-page I/O at the boundaries (first page, last page, across the
 * end, the whole store in one read).
 *
 * Never: passes a buffer smaller than the range it names, except with
 * npages 0 or a NULL buffer, which the store must reject before touching.
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* Expects a rejected write: CT_INVALID, or also CT_NOSPACE when allowed. */
static void expect_bad_write(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                             const void *buf, int nospace_ok, const char *what)
{
    int rc = ct__sc_write(c, ps, pgno, npages, buf);
    if (rc != CT_INVALID && !(nospace_ok && rc == CT_NOSPACE)) {
        ct__sc_violation(c, "%s returned %s, expected CT_INVALID%s", what, ct__sc_rcname(rc),
                         nospace_ok ? " or CT_NOSPACE" : "");
    }
}

int ct__sc_check_bounds(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 8, &ps, &buf, &result)) {
        return result;
    }
    ct__sc_expect_invalid_read(c, ps, 0, 1, buf, "an empty store");
    if (ct__sc_write_pattern(c, ps, 0, 4, 1, buf) != CT_OK) {
        goto out_close;
    }
    const char *what = "a 4-page store";
    ct__sc_expect_invalid_read(c, ps, 4, 1, buf, what); /* at size() */
    ct__sc_expect_invalid_read(c, ps, 5, 1, buf, what); /* after it */
    ct__sc_expect_invalid_read(c, ps, 100, 2, buf, what);
    ct__sc_expect_invalid_read(c, ps, 3, 2, buf, what); /* crossing size() */
    ct__sc_expect_invalid_read(c, ps, 0, 5, buf, what); /* one page too many */
    ct__sc_expect_invalid_read(c, ps, UINT64_MAX, 1, buf, what);
    ct__sc_expect_invalid_read(c, ps, UINT64_MAX - 1u, 4, buf, what); /* wraps */
    ct__sc_expect_invalid_read(c, ps, 0, 0, buf, "npages 0 on a 4-page store");
    int rc = ct__sc_read(c, ps, 0, 1, NULL);
    if (rc != CT_INVALID) {
        ct__sc_violation(c, "a read into a NULL buffer returned %s, expected CT_INVALID",
                         ct__sc_rcname(rc));
    }
    expect_bad_write(c, ps, 0, 0, buf, 0, "a write of npages 0 at page 0");
    expect_bad_write(c, ps, 50, 0, buf, 0, "a write of npages 0 at page 50");
    expect_bad_write(c, ps, 2, 1, NULL, 0, "a write from a NULL buffer");
    expect_bad_write(c, ps, UINT64_MAX - 1u, 4, buf, 1,
                     "a 4-page write at page 2^64-2 (the range wraps)");
    /* Nothing a rejected call did may show. */
    ct__sc_expect_size(c, ps, 4, "after rejected calls");
    (void)ct__sc_expect(c, ps, 0, 4, NULL, 1, buf, "pages of a 4-page store after rejected calls");
out_close:
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}

/* Resizes and checks size(); returns 1 when both worked. */
static int resize_step(ct__sc *c, ct_pagestore *ps, uint64_t from, uint64_t to)
{
    int rc = ct__sc_resize(c, ps, to);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from %llu to %llu pages failed with %s",
                         (unsigned long long)from, (unsigned long long)to, ct__sc_rcname(rc));
        return 0;
    }
    char what[64];
    snprintf(what, sizeof(what), "after resize from %llu to %llu pages", (unsigned long long)from,
             (unsigned long long)to);
    return ct__sc_expect_size(c, ps, to, what);
}

int ct__sc_check_resize(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 16, &ps, &buf, &result)) {
        return result;
    }
    if (ct__sc_write_pattern(c, ps, 0, 8, 1, buf) != CT_OK) {
        goto out_close;
    }
    if (resize_step(c, ps, 8, 16)) {
        (void)ct__sc_expect(c, ps, 8, 8, NULL, 0, buf, "a page added by growing 8 -> 16");
        (void)ct__sc_expect(c, ps, 0, 8, NULL, 1, buf, "a written page after growing 8 -> 16");
    }
    if (resize_step(c, ps, 16, 5)) {
        const char *what = "a page dropped by shrinking 16 -> 5";
        ct__sc_expect_invalid_read(c, ps, 5, 1, buf, what);
        ct__sc_expect_invalid_read(c, ps, 7, 1, buf, what);
        ct__sc_expect_invalid_read(c, ps, 4, 2, buf, what);
        (void)ct__sc_expect(c, ps, 0, 5, NULL, 1, buf, "a page kept by shrinking 16 -> 5");
    }
    if (resize_step(c, ps, 5, 12)) {
        (void)ct__sc_expect(c, ps, 5, 7, NULL, 0, buf,
                            "a page dropped by shrinking to 5, then grown back to 12 "
                            "(old bytes must not come back)");
    }
    /* Grow again by a write further out instead of a resize. */
    if (resize_step(c, ps, 12, 3) && ct__sc_write_pattern(c, ps, 9, 1, 2, buf) == CT_OK) {
        ct__sc_expect_size(c, ps, 10, "after shrinking to 3 and a write at 9");
        (void)ct__sc_expect(c, ps, 3, 6, NULL, 0, buf,
                            "a page dropped by shrinking to 3, then covered by a write at 9");
        (void)ct__sc_expect(c, ps, 0, 3, NULL, 1, buf, "a page kept by shrinking 12 -> 3");
    }
    if (resize_step(c, ps, 10, 0)) {
        ct__sc_expect_invalid_read(c, ps, 0, 1, buf, "a store shrunk to 0 pages");
    }
    if (resize_step(c, ps, 0, 2) && resize_step(c, ps, 2, 2)) {
        (void)ct__sc_expect(c, ps, 0, 2, NULL, 0, buf, "a page of a store shrunk to 0, grown to 2");
    }
out_close:
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}

int ct__sc_check_boundaries(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, 16, &ps, &buf, &result)) {
        return result;
    }
    uint32_t ver[16] = {0};
    /* First pages, then the last page, then across the end, then a long
       run at the end, then the first pages again. */
    static const struct {
        uint64_t pgno;
        uint32_t npages;
    } steps[] = {{0, 4}, {3, 1}, {2, 5}, {7, 8}, {0, 2}, {14, 1}};
    uint64_t size = 0;
    for (uint32_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        uint64_t pgno = steps[s].pgno;
        uint32_t n = steps[s].npages;
        if (ct__sc_write_pattern(c, ps, pgno, n, 1u + s, buf) != CT_OK) {
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            ver[pgno + i] = 1u + s;
        }
        size = pgno + n > size ? pgno + n : size;
        char what[96];
        snprintf(what, sizeof(what), "the whole %llu-page store after a %u-page write at %llu",
                 (unsigned long long)size, (unsigned)n, (unsigned long long)pgno);
        if (!ct__sc_expect_size(c, ps, size, what)) {
            break;
        }
        (void)ct__sc_expect(c, ps, 0, (uint32_t)size, ver, 0, buf, what);
        snprintf(what, sizeof(what), "the last page of a %llu-page store",
                 (unsigned long long)size);
        (void)ct__sc_expect(c, ps, size - 1u, 1, &ver[size - 1u], 0, buf, what);
        if (size >= 3u) {
            snprintf(what, sizeof(what), "the last 3 pages of a %llu-page store",
                     (unsigned long long)size);
            (void)ct__sc_expect(c, ps, size - 3u, 3, &ver[size - 3u], 0, buf, what);
        }
    }
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}
