/*
 * store.c - the store the simulated world runs on.
 *
 * By default the memory store. With --store file:DIR or
 * --store plugin:LIB.so:DIR, every store the simulator needs is the fault
 * store (cowtree/faultstore.h) stacked on a fresh real store named
 * DIR/sim-<pid>-<n>.ct, so every crash point and fault of the campaign is
 * played against the engine over that store: writes and syncs reach the
 * real store, and its reads are compared with what was written. Each file
 * is removed when its store is destroyed.
 *
 * The device model is the same either way, so a seed's trace hash over a
 * file equals its trace hash over memory with map off (a fault store never
 * maps: every read reaches the real store).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cowtree/faultstore.h"
#include "sim.h"
#include "storespec.h"
#include "util.h"

/* Real files currently open, to remove them when their store goes. */
typedef struct open_file {
    ct_pagestore *ps;
    char *path;
} open_file;

static open_file *files;
static size_t n_files;
static uint64_t next_file;
/* Mismatching reads of the real stores destroyed since the last take. */
static uint64_t mismatches;

int sim_store_is_memory(const char *spec)
{
    return !spec || strcmp(spec, "memory") == 0;
}

int sim_store_spec_check(const char *spec, char *err, size_t cap)
{
    if (sim_store_is_memory(spec)) {
        return 0;
    }
    const char *dir = storespec_path(spec);
    if (!dir || !*dir) {
        snprintf(err, cap, "--store %s: expected memory, file:DIR or plugin:LIB.so:DIR", spec);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, cap, "--store %s: %s is not a writable directory", spec, dir);
        return -1;
    }
    return 0;
}

static ct_memstore_options store_options(const sim_config *cfg)
{
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = cfg->page_size;
    o.enable_map = cfg->enable_map;
    o.seed = prng_derive(cfg->seed, 0x73746f7265ull); /* "store" */
    return o;
}

int sim_store_create(const sim_config *cfg, ct_pagestore **out)
{
    ct_memstore_options o = store_options(cfg);
    if (sim_store_is_memory(cfg->store)) {
        return ct_memstore_create(&o, out);
    }
    const char *dir = storespec_path(cfg->store);
    size_t prefix = (size_t)(dir - cfg->store);
    char name[64];
    snprintf(name, sizeof(name), "/sim-%ld-%llu.ct", (long)getpid(),
             (unsigned long long)next_file++);
    size_t len = strlen(cfg->store) + strlen(name) + 1;
    char *spec = sim_xmalloc(len);
    snprintf(spec, len, "%s%s", cfg->store, name);
    char err[256];
    ct_pagestore *inner = NULL;
    int rc = storespec_open(spec, cfg->page_size, CT_STORE_PLUGIN_FRESH, &inner, err,
                            sizeof(err));
    if (rc != CT_OK) {
        fprintf(stderr, "cowtree-sim: %s: %s\n", spec, err);
        free(spec);
        return rc;
    }
    rc = ct_faultstore_wrap(inner, &o, out);
    if (rc != CT_OK) {
        inner->ops->close(inner);
        (void)unlink(spec + prefix);
        free(spec);
        return rc;
    }
    files = sim_xrealloc(files, (n_files + 1) * sizeof(*files));
    files[n_files].ps = *out;
    files[n_files].path = spec;
    n_files++;
    return CT_OK;
}

void sim_store_destroy(ct_pagestore *ps)
{
    if (!ps) {
        return;
    }
    mismatches += sim_store_inner_mismatches(ps);
    ps->ops->close(ps);
    for (size_t i = 0; i < n_files; i++) {
        if (files[i].ps == ps) {
            char *spec = files[i].path;
            (void)unlink(storespec_path(spec));
            free(spec);
            files[i] = files[--n_files];
            break;
        }
    }
}

uint64_t sim_store_ops(ct_pagestore *ps)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    return info.ops;
}

uint64_t sim_store_inner_mismatches(ct_pagestore *ps)
{
    ct_faultstore_info fi;
    memset(&fi, 0, sizeof(fi));
    (void)ct_faultstore_get_info(ps, &fi);
    return fi.inner_mismatches;
}

uint64_t sim_store_take_mismatches(void)
{
    uint64_t n = mismatches;
    mismatches = 0;
    return n;
}
