/*
 * map.c - the conformance kit's map() check (only for stores whose map
 * slot is non-NULL): map() returns NULL or a pointer to the page's current
 * bytes, and the bytes behind a pointer stay valid and unchanged while the
 * page is not rewritten: across writes to other pages, growth by a write
 * and growth by resize.
 *
 * Never: calls map() at or beyond size() (the contract does not allow
 * it), or reads through a pointer after a shrink or a rewrite of its page
 * (the contract lets the store drop it then).
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* Pages written before the pointers are taken. */
#define MAP_PAGES 8u

/* Maps pgno and compares with version v; returns the pointer (NULL when
   map returned NULL or the bytes were wrong, which is reported). */
static const uint8_t *map_expect(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t v,
                                 const char *when)
{
    const uint8_t *p = ps->ops->map(ps, pgno);
    if (!p) {
        return NULL;
    }
    uint32_t off = ct__sc_diff(c, p, pgno, v);
    if (off != c->page_size) {
        ct__sc_violation(c,
                         "map(%llu) %s points at bytes other than the page's current "
                         "contents (first difference at byte %u)",
                         (unsigned long long)pgno, when, (unsigned)off);
        return NULL;
    }
    return p;
}

/* Grows and rewrites around the mapped pages; returns 1 when all worked. */
static int disturb(ct__sc *c, ct_pagestore *ps, uint8_t *buf)
{
    if (ct__sc_write_pattern(c, ps, MAP_PAGES, 4, 3, buf) != CT_OK ||
        ct__sc_write_pattern(c, ps, 20, 1, 3, buf) != CT_OK ||
        ct__sc_write_pattern(c, ps, 5, 1, 4, buf) != CT_OK) {
        return 0;
    }
    int rc = ct__sc_resize(c, ps, 40);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 21 to 40 pages failed with %s", ct__sc_rcname(rc));
        return 0;
    }
    return 1;
}

int ct__sc_check_map(ct__sc *c)
{
    ct_pagestore *ps = NULL;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &ps) != CT_OK) {
        return CT_OK;
    }
    if (!ps->ops->map) {
        ps->ops->close(ps);
        return CT_NOTSUP;
    }
    uint8_t *buf = ct__sc_pages(c, MAP_PAGES);
    if (!buf) {
        ps->ops->close(ps);
        return CT_NOMEM;
    }
    uint32_t ver[MAP_PAGES] = {1, 1, 1, 2, 1, 1, 1, 1};
    const uint8_t *ptr[MAP_PAGES] = {NULL};
    if (ct__sc_write_pattern(c, ps, 0, MAP_PAGES, 1, buf) != CT_OK ||
        ct__sc_write_pattern(c, ps, 3, 1, 2, buf) != CT_OK) {
        goto out_close;
    }
    for (uint64_t p = 0; p < MAP_PAGES; p++) {
        ptr[p] = map_expect(c, ps, p, ver[p], "after the page was written");
    }
    if (!disturb(c, ps, buf)) {
        goto out_close;
    }
    for (uint64_t p = 0; p < MAP_PAGES; p++) {
        if (!ptr[p] || p == 5u) {
            continue; /* page 5 was rewritten: its old pointer may go */
        }
        uint32_t off = ct__sc_diff(c, ptr[p], p, ver[p]);
        if (off != c->page_size) {
            ct__sc_violation(c,
                             "the bytes behind the pointer map(%llu) returned changed after "
                             "writes to other pages and growth to 40 pages (first "
                             "difference at byte %u)",
                             (unsigned long long)p, (unsigned)off);
        }
    }
    (void)map_expect(c, ps, 5, 4, "after the page was rewritten");
    (void)map_expect(c, ps, 3, 2, "after other pages were written");
    (void)map_expect(c, ps, 10, 3, "of a page written while the store grew");
    (void)map_expect(c, ps, 30, 0, "of a never-written page inside the store");
out_close:
    ps->ops->close(ps);
    free(buf);
    return CT_OK;
}
