/*
 * snapshot.c - snapshots of a whole memory store: take, restore, free.
 *
 * Owns: struct ct_memstore_snapshot (mem.h) and its references.
 * Invariants: a snapshot holds its own reference on every page buffer it
 * names (images and log), so taking one costs one pointer copy per page
 * slot and log page, never a page copy; buffers are immutable, so sharing
 * them is safe. A snapshot is independent of its store: it may be freed
 * (without any lock: references are atomic) after the store is closed.
 * Restore builds every copy before it changes anything (CT_NOMEM leaves
 * the store as it was), then replaces the whole state.
 * Must never: modify a page buffer, or restore the store's own options
 * (map on/off, max_pages) or its map() pins.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Deep copy of the reference-holding parts (images, log, sticky set). */
static int copy_parts(ct__mem_image *durable, ct__mem_image *view, ct__mem_log *log,
                      ct__mem_pgset *sticky, const ct__mem_image *src_durable,
                      const ct__mem_image *src_view, const ct__mem_log *src_log,
                      const ct__mem_pgset *src_sticky)
{
    if (ct__mem_image_copy(durable, src_durable, 0) != CT_OK) {
        return CT_NOMEM;
    }
    if (ct__mem_image_copy(view, src_view, 0) != CT_OK) {
        goto out_durable;
    }
    if (ct__mem_log_copy(log, src_log) != CT_OK) {
        goto out_view;
    }
    if (ct__mem_pgset_copy(sticky, src_sticky) != CT_OK) {
        ct__mem_log_release(log);
        goto out_view;
    }
    return CT_OK;
out_view:
    ct__mem_image_release(view);
out_durable:
    ct__mem_image_release(durable);
    return CT_NOMEM;
}

int ct_memstore_snapshot_take(ct_pagestore *ps, ct_memstore_snapshot **out)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !out) {
        return CT_INVALID;
    }
    *out = NULL;
    ct_memstore_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap) {
        return CT_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    int rc = copy_parts(&snap->durable, &snap->view, &snap->log, &snap->sticky, &s->durable,
                        &s->view, &s->log, &s->sticky);
    snap->st = s->st;
    pthread_mutex_unlock(&s->lock);
    if (rc != CT_OK) {
        free(snap);
        return rc;
    }
    snap->page_size = ps->page_size;
    *out = snap;
    return CT_OK;
}

int ct_memstore_snapshot_restore(ct_pagestore *ps, const ct_memstore_snapshot *snap)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !snap || snap->page_size != ps->page_size) {
        return CT_INVALID;
    }
    ct__mem_image durable;
    ct__mem_image view;
    ct__mem_log log;
    ct__mem_pgset sticky;
    /* The snapshot is immutable: no lock needed to copy from it. */
    if (copy_parts(&durable, &view, &log, &sticky, &snap->durable, &snap->view, &snap->log,
                   &snap->sticky) != CT_OK) {
        return CT_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    ct__mem_image_release(&s->durable);
    ct__mem_image_release(&s->view);
    ct__mem_log_release(&s->log);
    ct__mem_pgset_release(&s->sticky);
    s->durable = durable;
    s->view = view;
    s->log = log;
    s->sticky = sticky;
    s->st = snap->st;
    int rc = ct__mem_mirror(s, 0);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void ct_memstore_snapshot_free(ct_memstore_snapshot *snap)
{
    if (!snap) {
        return;
    }
    ct__mem_image_release(&snap->durable);
    ct__mem_image_release(&snap->view);
    ct__mem_log_release(&snap->log);
    ct__mem_pgset_release(&snap->sticky);
    free(snap);
}
