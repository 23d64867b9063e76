/*
 * lossy_plugin.c - a deliberately broken store plugin for the simulator's
 * own tests: the file store, except that every 11th write returns CT_OK
 * without writing anything. A store like this must make
 * `cowtree-sim --store plugin:...` fail (the fault store sees the real
 * store read back pages unlike what was written).
 */
#include <stdlib.h>

#include "cowtree.h"
#include "cowtree/filestore.h"
#include "cowtree/plugin.h"

typedef struct lossy {
    ct_pagestore base;
    ct_pagestore *inner;
    uint64_t writes;
} lossy;

static ct_pagestore *in(ct_pagestore *ps)
{
    return ((lossy *)ps)->inner;
}

static int lossy_read(ct_pagestore *ps, uint64_t pgno, uint32_t n, void *buf)
{
    return in(ps)->ops->read(in(ps), pgno, n, buf);
}

static int lossy_write(ct_pagestore *ps, uint64_t pgno, uint32_t n, const void *buf)
{
    lossy *l = (lossy *)ps;
    if (l->writes++ % 11u == 5u) {
        uint64_t size = 0;
        int rc = in(ps)->ops->size(in(ps), &size);
        /* Lost, but the store still grows: only the bytes are missing. */
        return rc == CT_OK && pgno + n > size ? in(ps)->ops->resize(in(ps), pgno + n) : rc;
    }
    return in(ps)->ops->write(in(ps), pgno, n, buf);
}

static int lossy_sync(ct_pagestore *ps)
{
    return in(ps)->ops->sync(in(ps));
}

static int lossy_size(ct_pagestore *ps, uint64_t *n)
{
    return in(ps)->ops->size(in(ps), n);
}

static int lossy_resize(ct_pagestore *ps, uint64_t n)
{
    return in(ps)->ops->resize(in(ps), n);
}

static void lossy_close(ct_pagestore *ps)
{
    in(ps)->ops->close(in(ps));
    free(ps);
}

static const ct_pagestore_ops lossy_ops = {
    lossy_read, lossy_write, lossy_sync, lossy_size, lossy_resize, lossy_close, NULL, NULL,
};

CT_API int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags,
                                ct_pagestore **out);

int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags,
                         ct_pagestore **out)
{
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = page_size;
    fo.flags = (flags & CT_STORE_PLUGIN_FRESH) ? 0u : CT_FS_NOCREATE;
    lossy *l = calloc(1, sizeof(*l));
    if (!l) {
        return CT_NOMEM;
    }
    int rc = ct_filestore_open(arg, &fo, &l->inner);
    if (rc == CT_OK && (flags & CT_STORE_PLUGIN_FRESH)) {
        rc = l->inner->ops->resize(l->inner, 0);
        if (rc != CT_OK) {
            l->inner->ops->close(l->inner);
        }
    }
    if (rc != CT_OK) {
        free(l);
        return rc;
    }
    l->base.ops = &lossy_ops;
    l->base.page_size = page_size;
    *out = &l->base;
    return CT_OK;
}
