/*
 * storespec.h - opens a page store named on a command line, for the
 * store tools (cowtree-storecheck, cowtree-sim --store):
 *
 *   memory              a fresh memory store (cowtree/memstore.h, defaults);
 *                       volatile: a reopen is CT_NOTSUP
 *   file:PATH           the file store (cowtree/filestore.h) on PATH
 *   plugin:LIB[:ARG]    ct_store_plugin_open from the shared library LIB
 *                       (cowtree/plugin.h), called with ARG ("" if none).
 *                       LIB ends at the first ".so:" (else at the first
 *                       ':'); give it with a '/' to load a file by path
 *                       (dlopen's search rules apply otherwise).
 *
 * Not part of the library: a static helper of the tools (target
 * cowtree_storespec). A plugin's library is loaded once per call with
 * dlopen(RTLD_NOW | RTLD_LOCAL) and never unloaded: a store it made may
 * still be open, and its code must stay mapped for the process lifetime.
 */
#ifndef COWTREE_TOOLS_STORESPEC_H
#define COWTREE_TOOLS_STORESPEC_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree/pagestore.h"
#include "cowtree/plugin.h"

/* Opens the store spec names with page_size (a power of two,
 * CT_PAGE_SIZE_MIN..MAX). flags: CT_STORE_PLUGIN_FRESH for an empty store
 * (a file is truncated to 0 pages and synced), 0 to reopen what is there
 * (a missing file is CT_NOTFOUND).
 * out: receives the store; the caller closes it with (*out)->ops->close.
 * err/errcap: on failure, a one-line reason (may be NULL/0).
 * Returns CT_OK, CT_INVALID (bad spec or page size; a plugin library that
 * cannot be loaded or lacks the entry point), CT_NOTSUP (reopening
 * memory), or the store's own error. */
int storespec_open(const char *spec, uint32_t page_size, unsigned flags, ct_pagestore **out,
                   char *err, size_t errcap);

/* The path part of spec, inside it: PATH of file:PATH, ARG of
   plugin:LIB[:ARG]; NULL for memory, a plugin without ARG, or an unknown
   spec. */
const char *storespec_path(const char *spec);

#endif
