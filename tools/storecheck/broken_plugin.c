/*
 * broken_plugin.c - test-only plugin: the deliberately broken store of
 * tests/helpers_broken_store.c behind ct_store_plugin_open, so the
 * command-line tests can make cowtree-storecheck find violations. arg is
 * the mode number (bs_mode); the store persists in a process-wide "disk".
 */
#include <stdlib.h>

#include "cowtree.h"
#include "cowtree/plugin.h"
#include "helpers_broken_store.h"

CT_API int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags,
                                ct_pagestore **out);

/* Lives as long as the process: a reopen finds what the last sync left. */
static bs_disk disk;

int ct_store_plugin_open(const char *arg, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    long mode = arg ? strtol(arg, NULL, 10) : 0;
    if (!out || mode < 0 || mode >= BS_MODES) {
        return CT_INVALID;
    }
    disk.mode = (bs_mode)mode;
    return bs_open(&disk, page_size, flags, out);
}
