/*
 * durable.c - the conformance kit's durability check: data written and
 * synced survives close and reopen (flags 0) with the right size, twice
 * (the second time after a shrink and an overwrite).
 *
 * A store is volatile when the run says so, or (detect mode) when a
 * reopen returns CT_NOTSUP: the check is then not applicable.
 * Never: relies on anything not synced before the close.
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* Pages of the first round; page i holds version round1[i] (0 = zeros). */
#define DUR_PAGES 12u

/* Syncs, closes and reopens (flags 0). Returns CT_OK with *ps reopened,
   CT_NOTSUP for a volatile store, another code when it failed (reported). */
static int sync_close_reopen(ct__sc *c, ct_pagestore **ps, const char *when)
{
    int rc = ct__sc_sync(c, *ps);
    if (rc != CT_OK) {
        ct__sc_violation(c, "sync %s returned %s on a healthy store", when, ct__sc_rcname(rc));
    }
    (*ps)->ops->close(*ps);
    *ps = NULL;
    rc = ct__sc_open(c, 0, ps);
    if (rc != CT_NOTSUP) {
        return rc;
    }
    if (c->opt->persistence == CT_STORECHECK_PERSISTENT) {
        ct__sc_violation(c,
                         "a reopen %s returned CT_NOTSUP, but the store was declared "
                         "persistent",
                         when);
        return CT_INVALID;
    }
    return CT_NOTSUP;
}

int ct__sc_check_durability(ct__sc *c)
{
    if (c->opt->persistence == CT_STORECHECK_VOLATILE) {
        return CT_NOTSUP;
    }
    ct_pagestore *ps = NULL;
    uint8_t *buf = NULL;
    int result = CT_OK;
    if (!ct__sc_open_fresh(c, DUR_PAGES, &ps, &buf, &result)) {
        return result;
    }
    uint32_t ver[DUR_PAGES] = {1, 1, 2, 1, 1, 1, 0, 0, 0, 1, 0, 0};
    int ok = ct__sc_write_pattern(c, ps, 0, 6, 1, buf) == CT_OK &&
             ct__sc_write_pattern(c, ps, 9, 1, 1, buf) == CT_OK &&
             ct__sc_write_pattern(c, ps, 2, 1, 2, buf) == CT_OK;
    int rc = ct__sc_resize(c, ps, DUR_PAGES);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 10 to 12 pages failed with %s", ct__sc_rcname(rc));
        ok = 0;
    }
    rc = sync_close_reopen(c, &ps, "after writes and a resize to 12 pages");
    if (rc != CT_OK) {
        result = rc == CT_NOTSUP ? CT_NOTSUP : CT_OK;
        goto out_free;
    }
    if (ok && ct__sc_expect_size(c, ps, DUR_PAGES, "after sync, close and reopen")) {
        (void)ct__sc_expect(c, ps, 0, DUR_PAGES, ver, 0, buf,
                            "a page synced, then read after close and reopen");
    }
    /* Round two: shrink, overwrite, sync, reopen. */
    rc = ct__sc_resize(c, ps, 4);
    if (rc != CT_OK) {
        ct__sc_violation(c, "resize from 12 to 4 pages (after a reopen) failed with %s",
                         ct__sc_rcname(rc));
        ok = 0;
    }
    ok = ok && ct__sc_write_pattern(c, ps, 1, 1, 3, buf) == CT_OK;
    ver[1] = 3;
    rc = sync_close_reopen(c, &ps, "after a shrink to 4 pages and an overwrite of page 1");
    if (rc != CT_OK) {
        goto out_free;
    }
    if (ok && ct__sc_expect_size(c, ps, 4, "after a shrink to 4, sync, close and reopen")) {
        (void)ct__sc_expect(c, ps, 0, 4, ver, 0, buf,
                            "a page after a shrink, an overwrite, sync, close and reopen");
    }
    ps->ops->close(ps);
    ps = NULL;
out_free:
    if (ps) {
        ps->ops->close(ps);
    }
    free(buf);
    return result;
}
