/*
 * cowtree/plugin.h - the one entry point a page-store plugin exports, so
 * the tools (cowtree-sim --store plugin:LIB.so, cowtree-storecheck) can
 * load an embedder's store from a shared library with dlopen.
 *
 * A plugin is a shared library that defines, with C linkage and default
 * visibility:
 *
 *   int ct_store_plugin_open(const char *arg, uint32_t page_size,
 *                            unsigned flags, ct_pagestore **out);
 *
 * arg is the text after "plugin:LIB.so:" on the command line (or "" when
 * there is none): typically a path. page_size is the page size the caller
 * needs (a power of two, CT_PAGE_SIZE_MIN..CT_PAGE_SIZE_MAX). flags:
 * CT_STORE_PLUGIN_FRESH asks for an empty store (size 0: erase or truncate
 * what arg names); without it the store reopens what a previous open left.
 * Returns CT_OK with *out set, or a CT_* error code. The caller closes the
 * store with (*out)->ops->close.
 */
#ifndef COWTREE_PLUGIN_H
#define COWTREE_PLUGIN_H

#include "cowtree/pagestore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_STORE_PLUGIN_SYMBOL "ct_store_plugin_open"
#define CT_STORE_PLUGIN_FRESH 0x1u

typedef int (*ct_store_plugin_open_fn)(const char *arg, uint32_t page_size, unsigned flags,
                                       ct_pagestore **out);

#ifdef __cplusplus
}
#endif

#endif /* COWTREE_PLUGIN_H */
