/*
 * plugin.c - the XOR store as a page-store plugin (cowtree/plugin.h):
 * libct_xorstore.so exports ct_store_plugin_open; arg is the path of the
 * file holding the encrypted pages (file store underneath). FRESH
 * truncates the file to 0 pages and syncs; a reopen of a missing file is
 * CT_NOTFOUND. The key is fixed (a demo): a real plugin would take it
 * from somewhere safer than its command line.
 *
 *   cowtree-storecheck plugin:./libct_xorstore.so:/tmp/x.pages
 */
#include <string.h>

#include "cowtree.h"
#include "cowtree/filestore.h"
#include "cowtree/plugin.h"
#include "xorstore.h"

#define PLUGIN_KEY "cowtree xorstore demo key"

CT_API int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags,
                                ct_pagestore **out);

int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    if (!arg || !*arg) {
        return CT_INVALID; /* needs a path */
    }
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = page_size;
    o.flags = (flags & CT_STORE_PLUGIN_FRESH) ? 0u : CT_FS_NOCREATE;
    ct_pagestore *file = NULL;
    int rc = ct_filestore_open(arg, &o, &file);
    if (rc != CT_OK) {
        return rc;
    }
    if (flags & CT_STORE_PLUGIN_FRESH) {
        rc = file->ops->resize(file, 0);
        rc = rc == CT_OK ? file->ops->sync(file) : rc;
    }
    if (rc == CT_OK) {
        rc = xorstore_wrap(file, PLUGIN_KEY, strlen(PLUGIN_KEY), out);
    }
    if (rc != CT_OK) {
        file->ops->close(file);
    }
    return rc;
}
