/*
 * powercut.c - the conformance kit's power-cut check: the store under a
 * fault store (cowtree/faultstore.h), as cowtree-sim --store runs it.
 * Writes through the wrapper reach the store only at a sync or a
 * simulated power cut, and then exactly as the device model chose: whole,
 * not at all, or torn. The store must hold precisely that (read back
 * directly, and after close and reopen when it is persistent), and every
 * read the wrapper made of it must have matched what was applied.
 * Never: judges the wrapper's choices, only what the store then holds.
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree/faultstore.h"
#include "kit.h"

#define PC_PAGES 6u

/* Expects the store (inner) to hold the wrapper's durable image, page by
   page (ct_memstore_peek), and to have its size. */
static void expect_image(ct__sc *c, ct_pagestore *fs, ct_pagestore *inner, uint8_t *want,
                         uint8_t *got, const char *when)
{
    ct_memstore_info mi;
    if (ct_memstore_get_info(fs, &mi) != CT_OK ||
        !ct__sc_expect_size(c, inner, mi.durable_pages, when)) {
        return;
    }
    for (uint64_t p = 0; p < mi.durable_pages; p++) {
        if (ct_memstore_peek(fs, p, want) != CT_OK) {
            continue;
        }
        int rc = ct__sc_read(c, inner, p, 1, got);
        if (rc != CT_OK) {
            ct__sc_violation(c, "%s: read of page %llu failed with %s", when,
                             (unsigned long long)p, ct__sc_rcname(rc));
        } else if (memcmp(want, got, c->page_size) != 0) {
            ct__sc_violation(c, "%s: page %llu does not hold what the power cut left there",
                             when, (unsigned long long)p);
        }
    }
}

static void crash(ct__sc *c, ct_pagestore *fs, ct_crash_mode mode, uint32_t index)
{
    ct_crash_outcome o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.index = index;
    o.seed = ct__sc_below(c, UINT64_MAX);
    int rc = ct_memstore_crash(fs, &o);
    if (rc != CT_OK) {
        ct__sc_violation(c, "a simulated power cut could not apply its writes (%s)",
                         ct__sc_rcname(rc));
    }
}

int ct__sc_check_power_cut(ct__sc *c)
{
    ct_pagestore *inner = NULL;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, &inner) != CT_OK) {
        return CT_OK;
    }
    ct_pagestore *fs = NULL;
    int rc = ct_faultstore_wrap(inner, NULL, &fs);
    if (rc != CT_OK) {
        inner->ops->close(inner);
        if (rc == CT_NOMEM) {
            return CT_NOMEM;
        }
        ct__sc_violation(c, "the fault store could not read the fresh store (%s)",
                         ct__sc_rcname(rc));
        return CT_OK;
    }
    uint8_t *buf = ct__sc_pages(c, PC_PAGES + 2u);
    if (!buf) {
        fs->ops->close(fs);
        return CT_NOMEM;
    }
    uint8_t *want = buf + (size_t)PC_PAGES * c->page_size;
    uint8_t *got = want + c->page_size;
    /* Synced: reaches the store. */
    (void)ct__sc_write_pattern(c, fs, 0, 4, 1, buf);
    if ((rc = fs->ops->sync(fs)) != CT_OK) {
        ct__sc_violation(c, "a sync through the fault store failed with %s: the store's "
                            "write, resize or sync failed", ct__sc_rcname(rc));
    }
    expect_image(c, fs, inner, want, got, "after a sync through the fault store");
    /* Unsynced: must not reach the store before the power cut. */
    (void)ct__sc_write_pattern(c, fs, 1, 1, 2, buf);
    (void)ct__sc_write_pattern(c, fs, 5, 1, 1, buf);
    expect_image(c, fs, inner, want, got, "with writes not yet synced");
    crash(c, fs, CT_CRASH_KEEP_ALL, 0);
    expect_image(c, fs, inner, want, got, "after a power cut that kept every write");
    (void)ct__sc_write_pattern(c, fs, 2, 2, 3, buf);
    crash(c, fs, CT_CRASH_TEAR_ONE, 0);
    expect_image(c, fs, inner, want, got, "after a power cut that tore a 2-page write");
    (void)ct__sc_write_pattern(c, fs, 3, 1, 4, buf);
    if (ct__sc_resize(c, fs, 2) == CT_OK) {
        crash(c, fs, CT_CRASH_DROP_ALL, 0);
    }
    expect_image(c, fs, inner, want, got, "after a power cut that dropped every write");
    (void)ct__sc_resize(c, fs, 3);
    (void)fs->ops->sync(fs);
    expect_image(c, fs, inner, want, got, "after a synced shrink to 3 pages");
    /* What the store must hold after a reopen: the durable image now. */
    uint8_t *image = ct__sc_pages(c, 3);
    for (uint64_t p = 0; image && p < 3; p++) {
        (void)ct_memstore_peek(fs, p, image + (size_t)p * c->page_size);
    }
    ct_faultstore_info fi;
    if (ct_faultstore_get_info(fs, &fi) == CT_OK && fi.inner_mismatches) {
        ct__sc_violation(c, "%llu read(s) through the fault store returned bytes unlike what "
                            "the store was given", (unsigned long long)fi.inner_mismatches);
    }
    fs->ops->close(fs); /* closes the store too */
    if (image && c->opt->persistence != CT_STORECHECK_VOLATILE &&
        ct__sc_open(c, 0, &inner) == CT_OK) {
        if (ct__sc_expect_size(c, inner, 3, "after the power cuts, close and reopen")) {
            for (uint64_t p = 0; p < 3; p++) {
                if (ct__sc_read(c, inner, p, 1, got) == CT_OK &&
                    memcmp(got, image + (size_t)p * c->page_size, c->page_size) != 0) {
                    ct__sc_violation(c, "after the power cuts, close and reopen: page %llu "
                                        "lost what was synced", (unsigned long long)p);
                }
            }
        }
        inner->ops->close(inner);
    }
    free(image);
    free(buf);
    return CT_OK;
}
