/*
 * writev.c - the conformance kit's writev() check (only for stores whose
 * writev slot is non-NULL): a gathered write is the same write as write()
 * of the same bytes. Pages come from separate buffers laid out in reverse
 * order in memory, so a store that reads the run as one buffer, or takes
 * every page from pages[0], reads back the wrong bytes.
 *
 * Checks: read-after-write through writev; growth to cover a writev past
 * the end and no growth for one inside; overwrites mixed with write()
 * give the same bytes as write() alone; a single-page writev; npages 0
 * and a NULL array are CT_INVALID and change nothing.
 * Never: passes a NULL page pointer (except as the whole array).
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* Pages of the largest writev the check makes. */
#define WV_PAGES_MAX 8u
/* Store pages the check touches (0..WV_STORE_PAGES-1). */
#define WV_STORE_PAGES 12u

/* writev of npages pages at pgno in version v; page i lives in slot
   npages-1-i of buf (reverse order). Reports a failure; returns rc. */
static int writev_pattern(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages, uint32_t v,
                          uint8_t *buf)
{
    const void *vec[WV_PAGES_MAX];
    for (uint32_t i = 0; i < npages; i++) {
        uint8_t *slot = buf + (size_t)(npages - 1u - i) * c->page_size;
        ct__sc_fill(c, slot, pgno + i, v);
        vec[i] = slot;
    }
    int rc = ct__sc_writev(c, ps, pgno, npages, vec);
    if (rc != CT_OK) {
        ct__sc_violation(c, "a %u-page writev at page %llu failed with %s", (unsigned)npages,
                         (unsigned long long)pgno, ct__sc_rcname(rc));
    }
    return rc;
}

/* npages 0 and a NULL array: CT_INVALID, size unchanged. */
static void bad_calls(ct__sc *c, ct_pagestore *ps, uint8_t *buf, uint64_t size)
{
    const void *vec[1] = {buf};
    int rc = ct__sc_writev(c, ps, 0, 0, vec);
    if (rc != CT_INVALID) {
        ct__sc_violation(c, "a 0-page writev returned %s, expected CT_INVALID", ct__sc_rcname(rc));
    }
    rc = ct__sc_writev(c, ps, 0, 1, NULL);
    if (rc != CT_INVALID) {
        ct__sc_violation(c, "a writev with a NULL page array returned %s, expected CT_INVALID",
                         ct__sc_rcname(rc));
    }
    (void)ct__sc_expect_size(c, ps, size, "after rejected writev calls");
}

int ct__sc_check_writev(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &ps) != CT_OK) {
        return CT_OK;
    }
    if (!ps->ops->writev) {
        ps->ops->close(ps);
        return CT_NOTSUP;
    }
    uint8_t *buf = ct__sc_pages(c, WV_STORE_PAGES);
    if (!buf) {
        ps->ops->close(ps);
        return CT_NOMEM;
    }
    /* Final version of each page; 0 = never written. */
    uint32_t ver[WV_STORE_PAGES] = {0, 2, 2, 1, 4, 5, 5, 1, 0, 0, 6, 0};
    if (writev_pattern(c, ps, 3, 5, 1, buf) != CT_OK ||
        !ct__sc_expect_size(c, ps, 8, "after a 5-page writev at 3 on an empty store")) {
        goto out_close;
    }
    (void)ct__sc_expect(c, ps, 3, 5, NULL, 1, buf, "read after a 5-page writev");
    if (writev_pattern(c, ps, 1, 2, 2, buf) != CT_OK ||
        !ct__sc_expect_size(c, ps, 8, "after a 2-page writev at 1 inside the store") ||
        ct__sc_write_pattern(c, ps, 4, 2, 4, buf) != CT_OK ||
        writev_pattern(c, ps, 5, 2, 5, buf) != CT_OK) {
        goto out_close;
    }
    bad_calls(c, ps, buf, 8);
    if (writev_pattern(c, ps, 10, 1, 6, buf) != CT_OK ||
        !ct__sc_expect_size(c, ps, 11, "after a 1-page writev at 10 past the end") ||
        ct__sc_write_pattern(c, ps, 11, 1, 0, buf) != CT_OK) {
        goto out_close;
    }
    (void)ct__sc_expect(c, ps, 0, WV_STORE_PAGES, ver, 0, buf, "writev mixed with write");
    for (uint64_t p = 0; p < WV_STORE_PAGES; p++) {
        (void)ct__sc_expect(c, ps, p, 1, NULL, ver[p], buf, "writev, page by page");
    }
    if (ct__sc_sync(c, ps) == CT_OK) {
        (void)ct__sc_expect(c, ps, 0, WV_STORE_PAGES, ver, 0, buf, "writev, after sync");
    }
out_close:
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}
