/*
 * storespec.c - parses a store spec (memory | file:PATH | plugin:LIB[:ARG])
 * and opens the store it names; see storespec.h.
 *
 * Invariants: a plugin library, once loaded, is never dlclose()d; every
 * failure leaves *out NULL and a reason in err.
 * Never: exits, or returns an errno value.
 */
#include "storespec.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/filestore.h"
#include "cowtree/memstore.h"

/* Longest LIB path of a plugin spec. */
#define SPEC_LIB_MAX 4096u

static int fail(char *err, size_t errcap, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(char *err, size_t errcap, int rc, const char *fmt, ...)
{
    if (err && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int open_memory(uint32_t page_size, unsigned flags, ct_pagestore **out, char *err,
                       size_t errcap)
{
    if (!(flags & CT_STORE_PLUGIN_FRESH)) {
        return fail(err, errcap, CT_NOTSUP, "memory: a memory store is volatile (no reopen)");
    }
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = page_size;
    int rc = ct_memstore_create(&o, out);
    if (rc != CT_OK) {
        return fail(err, errcap, rc, "memory: %s", ct_strerror(rc));
    }
    return CT_OK;
}

static int open_file(const char *path, uint32_t page_size, unsigned flags, ct_pagestore **out,
                     char *err, size_t errcap)
{
    if (!*path) {
        return fail(err, errcap, CT_INVALID, "file: missing PATH (file:PATH)");
    }
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = page_size;
    o.flags = (flags & CT_STORE_PLUGIN_FRESH) ? 0u : CT_FS_NOCREATE;
    ct_pagestore *ps = NULL;
    int rc = ct_filestore_open(path, &o, &ps);
    if (rc != CT_OK) {
        return fail(err, errcap, rc, "file:%s: %s", path, ct_strerror(rc));
    }
    if (flags & CT_STORE_PLUGIN_FRESH) {
        /* Truncate under the store's own lock rather than unlinking a file
           another opener may hold. */
        rc = ps->ops->resize(ps, 0);
        if (rc == CT_OK) {
            rc = ps->ops->sync(ps);
        }
        if (rc != CT_OK) {
            ps->ops->close(ps);
            return fail(err, errcap, rc, "file:%s: truncating: %s", path, ct_strerror(rc));
        }
    }
    *out = ps;
    return CT_OK;
}

/* The ':' ending LIB in "LIB[:ARG]": after the first ".so", else the
   first ':'; NULL when there is no ARG. */
static const char *plugin_lib_end(const char *rest)
{
    const char *end = strstr(rest, ".so:");
    return end ? end + 3 : strchr(rest, ':');
}

const char *storespec_path(const char *spec)
{
    if (!spec) {
        return NULL;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        return spec + 5;
    }
    const char *end = strncmp(spec, "plugin:", 7) == 0 ? plugin_lib_end(spec + 7) : NULL;
    return end ? end + 1 : NULL;
}

/* Splits "LIB[:ARG]" into lib (copied) and *arg. */
static int split_plugin(const char *rest, char *lib, size_t libcap, const char **arg)
{
    const char *end = plugin_lib_end(rest);
    size_t n = end ? (size_t)(end - rest) : strlen(rest);
    if (n == 0 || n >= libcap) {
        return CT_INVALID;
    }
    memcpy(lib, rest, n);
    lib[n] = '\0';
    *arg = end ? end + 1 : "";
    return CT_OK;
}

static int open_plugin(const char *rest, uint32_t page_size, unsigned flags, ct_pagestore **out,
                       char *err, size_t errcap)
{
    char *lib = malloc(SPEC_LIB_MAX);
    if (!lib) {
        return fail(err, errcap, CT_NOMEM, "plugin: out of memory");
    }
    const char *arg = "";
    if (split_plugin(rest, lib, SPEC_LIB_MAX, &arg) != CT_OK) {
        free(lib);
        return fail(err, errcap, CT_INVALID, "plugin: expected plugin:LIB.so[:ARG]");
    }
    /* Never dlclose()d: see the header. dlopen counts references, so
       loading the same library again costs nothing. */
    void *handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        int rc = fail(err, errcap, CT_INVALID, "plugin:%s: %s", lib, why ? why : "dlopen failed");
        free(lib);
        return rc;
    }
    ct_store_plugin_open_fn fn = NULL;
    void *sym = dlsym(handle, CT_STORE_PLUGIN_SYMBOL);
    /* POSIX allows this conversion for dlsym; memcpy keeps -Wpedantic quiet. */
    memcpy(&fn, &sym, sizeof(fn));
    if (!fn) {
        int rc = fail(err, errcap, CT_INVALID, "plugin:%s: no %s", lib, CT_STORE_PLUGIN_SYMBOL);
        free(lib);
        return rc;
    }
    int rc = fn(arg, page_size, flags, out);
    if (rc != CT_OK) {
        *out = NULL;
        rc = fail(err, errcap, rc, "plugin:%s: open(\"%s\"): %s (%d)", lib, arg, ct_strerror(rc),
                  rc);
    }
    free(lib);
    return rc;
}

int storespec_open(const char *spec, uint32_t page_size, unsigned flags, ct_pagestore **out,
                   char *err, size_t errcap)
{
    if (err && errcap > 0) {
        err[0] = '\0';
    }
    if (!out) {
        return fail(err, errcap, CT_INVALID, "no output store");
    }
    *out = NULL;
    if (!spec) {
        return fail(err, errcap, CT_INVALID, "no store spec");
    }
    if (page_size < CT_PAGE_SIZE_MIN || page_size > CT_PAGE_SIZE_MAX ||
        (page_size & (page_size - 1u)) != 0) {
        return fail(err, errcap, CT_INVALID, "bad page size %u", (unsigned)page_size);
    }
    if (strcmp(spec, "memory") == 0) {
        return open_memory(page_size, flags, out, err, errcap);
    }
    if (strncmp(spec, "file:", 5) == 0) {
        return open_file(spec + 5, page_size, flags, out, err, errcap);
    }
    if (strncmp(spec, "plugin:", 7) == 0) {
        return open_plugin(spec + 7, page_size, flags, out, err, errcap);
    }
    return fail(err, errcap, CT_INVALID,
                "unknown store \"%s\" (expected memory, file:PATH or plugin:LIB.so[:ARG])", spec);
}
