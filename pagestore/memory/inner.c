/*
 * inner.c - the fault store: the memory store's device model stacked on an
 * inner page store (cowtree/faultstore.h).
 *
 * The device model (device.c) is unchanged: it keeps its durable image of
 * shared page buffers, the view and the log. This file makes the inner
 * store hold the durable image: after every change of the durable image
 * (sync, failed sync, crash, poke, snapshot restore) ct__mem_mirror writes
 * to inner exactly the pages whose buffer differs from what inner was last
 * given (`applied`), resizes it, and syncs it after a successful sync. Reads
 * of a page the log has not overwritten go to inner and are compared with
 * what was applied.
 *
 * Owns: ct__memstore.inner, .applied, .inner_stale, .finfo.
 * Invariants: mem.h invariant 6; inner is only ever called with the store
 * locked, so it sees one call at a time.
 * Must never: trace or number inner's calls (the trace hash describes the
 * device model only, so it is the same whatever store is underneath), or
 * return a code outside the CT_* set whatever inner returns.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Pages per inner write when mirroring a run of changed pages. */
#define MIRROR_BATCH 64u

/* Any inner failure becomes CT_NOSPACE or CT_IO: all the engine may see. */
static int inner_failed(ct__memstore *s, int rc)
{
    s->finfo.inner_errors++;
    return rc == CT_NOSPACE ? CT_NOSPACE : CT_IO;
}

static int is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return 0;
        }
    }
    return 1;
}

int ct__mem_read_page(ct__memstore *s, uint64_t pgno, unsigned char *out)
{
    uint32_t page_size = s->base.page_size;
    const ct__mem_page *v = pgno < s->view.npages ? s->view.pages[pgno] : NULL;
    if (!s->inner || s->inner_stale || pgno >= s->applied.npages ||
        s->applied.pages[pgno] != v) {
        ct__mem_image_read(&s->view, page_size, pgno, out);
        return CT_OK;
    }
    int rc = s->inner->ops->read(s->inner, pgno, 1, out);
    if (rc != CT_OK) {
        return inner_failed(s, rc);
    }
    s->finfo.inner_reads++;
    if (v ? memcmp(out, v->data, page_size) != 0 : !is_zero(out, page_size)) {
        s->finfo.inner_mismatches++;
    }
    return CT_OK;
}

/* Writes durable pages [pgno, pgno + n) to inner, n <= MIRROR_BATCH. */
static int write_run(ct__memstore *s, unsigned char *scratch, uint64_t pgno, uint32_t n)
{
    uint32_t page_size = s->base.page_size;
    for (uint32_t k = 0; k < n; k++) {
        ct__mem_image_read(&s->durable, page_size, pgno + k, scratch + (size_t)k * page_size);
    }
    int rc = s->inner->ops->write(s->inner, pgno, n, scratch);
    if (rc != CT_OK) {
        return inner_failed(s, rc);
    }
    s->finfo.inner_writes += n;
    return CT_OK;
}

/* Does inner (holding cur pages, per applied unless stale) need page p? */
static int page_differs(const ct__memstore *s, uint64_t p, uint64_t cur)
{
    const ct__mem_page *d = s->durable.pages[p];
    if (p >= cur) {
        return d != NULL; /* beyond inner's end: a resize gives zeros */
    }
    return s->inner_stale || p >= s->applied.npages || s->applied.pages[p] != d;
}

static int mirror_pages(ct__memstore *s, uint64_t *inner_size)
{
    ct_pagestore *in = s->inner;
    uint64_t want = s->durable.npages;
    uint64_t cur = *inner_size;
    int rc;
    if (want < cur) {
        if ((rc = in->ops->resize(in, want)) != CT_OK) {
            return inner_failed(s, rc);
        }
        s->finfo.inner_resizes++;
        cur = *inner_size = want;
    }
    unsigned char *scratch = NULL;
    uint64_t p = 0;
    while (p < want) {
        if (!page_differs(s, p, cur)) {
            p++;
            continue;
        }
        uint32_t n = 1;
        while (n < MIRROR_BATCH && p + n < want && page_differs(s, p + n, cur)) {
            n++;
        }
        if (!scratch && !(scratch = malloc((size_t)MIRROR_BATCH * s->base.page_size))) {
            return CT_NOMEM;
        }
        if ((rc = write_run(s, scratch, p, n)) != CT_OK) {
            free(scratch);
            return rc;
        }
        p += n;
        if (p > *inner_size) {
            *inner_size = p;
        }
    }
    free(scratch);
    if (*inner_size != want) {
        if ((rc = in->ops->resize(in, want)) != CT_OK) {
            return inner_failed(s, rc);
        }
        s->finfo.inner_resizes++;
        *inner_size = want;
    }
    return CT_OK;
}

int ct__mem_mirror(ct__memstore *s, int do_sync)
{
    if (!s->inner) {
        return CT_OK;
    }
    uint64_t inner_size = s->applied.npages;
    int rc = CT_OK;
    if (s->inner_stale && (rc = s->inner->ops->size(s->inner, &inner_size)) != CT_OK) {
        return inner_failed(s, rc);
    }
    rc = mirror_pages(s, &inner_size);
    ct__mem_image_release(&s->applied);
    if (rc == CT_OK) {
        rc = ct__mem_image_copy(&s->applied, &s->durable, 0);
    }
    s->inner_stale = rc != CT_OK;
    if (rc == CT_NOMEM) {
        /* The device model's ops promise CT_NOMEM changes nothing, which
           is no longer true once inner was written to: report I/O. */
        rc = CT_IO;
    }
    if (rc == CT_OK && do_sync) {
        int src = s->inner->ops->sync(s->inner);
        s->finfo.inner_syncs++;
        if (src != CT_OK) {
            rc = inner_failed(s, src);
        }
    }
    return rc;
}

void ct__mem_inner_close(ct__memstore *s)
{
    ct__mem_image_release(&s->applied);
    if (s->inner) {
        s->inner->ops->close(s->inner);
        s->inner = NULL;
    }
}

/* ---- public -------------------------------------------------------------- */

/* Reads inner's n pages into img as buffers (all-zero pages stay NULL). */
static int load_image(ct_pagestore *in, uint64_t n, ct__mem_image *img)
{
    uint32_t page_size = in->page_size;
    if (ct__mem_image_reserve(img, n == 0 ? 1u : n) != CT_OK) {
        return CT_NOMEM;
    }
    ct__mem_image_resize(img, n);
    unsigned char *buf = malloc((size_t)MIRROR_BATCH * page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    int rc = CT_OK;
    for (uint64_t p = 0; p < n && rc == CT_OK; p += MIRROR_BATCH) {
        uint32_t k = n - p < MIRROR_BATCH ? (uint32_t)(n - p) : MIRROR_BATCH;
        rc = in->ops->read(in, p, k, buf);
        if (rc != CT_OK) {
            rc = rc == CT_NOMEM ? CT_NOMEM : CT_IO;
            break;
        }
        for (uint32_t i = 0; i < k && rc == CT_OK; i++) {
            const unsigned char *src = buf + (size_t)i * page_size;
            if (is_zero(src, page_size)) {
                continue;
            }
            ct__mem_page *pg = ct__mem_page_new(page_size);
            if (!pg) {
                rc = CT_NOMEM;
                break;
            }
            memcpy(pg->data, src, page_size);
            img->pages[p + i] = pg;
        }
    }
    free(buf);
    return rc;
}

int ct_faultstore_wrap(ct_pagestore *inner, const ct_memstore_options *opt, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    if (!inner || !inner->ops || (opt && opt->page_size && opt->page_size != inner->page_size)) {
        return CT_INVALID;
    }
    uint64_t n = 0;
    int rc = inner->ops->size(inner, &n);
    if (rc != CT_OK) {
        return rc == CT_NOMEM ? CT_NOMEM : CT_IO;
    }
    ct__memstore *s = NULL;
    if ((rc = ct__mem_new(opt, inner->page_size, 1, &s)) != CT_OK) {
        return rc;
    }
    rc = load_image(inner, n, &s->durable);
    if (rc == CT_OK && (ct__mem_image_copy(&s->view, &s->durable, 0) != CT_OK ||
                        ct__mem_image_copy(&s->applied, &s->durable, 0) != CT_OK)) {
        rc = CT_NOMEM;
    }
    if (rc != CT_OK) {
        s->base.ops->close(&s->base); /* inner not yet attached: stays the caller's */
        return rc;
    }
    s->inner = inner;
    *out = &s->base;
    return CT_OK;
}

int ct_faultstore_get_info(ct_pagestore *ps, ct_faultstore_info *out)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !out) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    *out = s->finfo;
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

ct_pagestore *ct_faultstore_inner(ct_pagestore *ps)
{
    ct__memstore *s = ct__mem_from(ps);
    return s ? s->inner : NULL;
}
