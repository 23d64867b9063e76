/*
 * gen_corpus.c - writes hand-designed seed inputs for every fuzz target in
 * the targets' input formats (see the comment at the top of each
 * fuzz_<t>.c), including real store images the engine builds, so the
 * fuzzers start deep instead of rediscovering the format:
 *
 *     fuzz_gen_corpus OUTDIR    -> OUTDIR/{ops,open,crash,page}/seed-*
 *
 * The checked-in corpora (fuzz/corpus/<t>/) are these seeds plus what the
 * fuzzers found, minimized with -merge=1 (docs/fuzzing.md). Deterministic:
 * the same build writes the same files.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cowtree/memstore.h"
#include "fuzz_common.h"
#include "page.h"

typedef struct buf {
    uint8_t *p;
    size_t n;
    size_t cap;
} buf;

static void put8(buf *b, unsigned v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->p = realloc(b->p, b->cap);
        FZ_CHECK(b->p != NULL, "out of memory");
    }
    b->p[b->n++] = (uint8_t)v;
}

static void put16(buf *b, unsigned v)
{
    put8(b, v & 0xffu);
    put8(b, (v >> 8) & 0xffu);
}

static void putn(buf *b, const void *src, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        put8(b, ((const uint8_t *)src)[i]);
    }
}

static void putv(buf *b, int count, const unsigned *v)
{
    for (int i = 0; i < count; i++) {
        put8(b, v[i]);
    }
}

#define PUTV(b, ...)                                                                       \
    do {                                                                                   \
        const unsigned v_[] = {__VA_ARGS__};                                               \
        putv((b), (int)(sizeof(v_) / sizeof(v_[0])), v_);                                  \
    } while (0)

static const char *outdir;

static void emit(const char *target, const char *name, buf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL, "cannot write %s", path);
    FZ_CHECK(fwrite(b->p, 1, b->n, f) == b->n, "short write %s", path);
    fclose(f);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- fuzz_ops ----------------------------------------------------------- */
/* Opcodes as in fuzz_ops.c. */
enum {
    OP_BEGIN = 0, OP_COMMIT = 1, OP_ABORT = 2, OP_PUT = 3, OP_GET = 4, OP_DEL = 5,
    OP_WALK = 6, OP_SEEK = 7, OP_REOPEN = 8, OP_BUCKET = 9, OP_READER = 10,
    OP_PUT_RUN = 11, OP_DEL_RUN = 12, OP_SYNC = 13, OP_VERIFY = 14, OP_PCURSOR = 15
};

static void seeds_ops(void)
{
    buf b = {0};
    /* Fill, walk both ways, delete most, commit, reopen (512-byte pages). */
    PUTV(&b, 0x00, OP_PUT_RUN, 0, 0, 0, 63, 6, 0, OP_PUT_RUN, 0, 64, 0, 63, 5, 2, OP_COMMIT);
    PUTV(&b, OP_WALK, 0, 0xff, OP_WALK, 0, 0xfe, OP_SEEK, 0, 0x20, 0x05);
    PUTV(&b, OP_DEL_RUN, 0, 0x00, 60, OP_DEL_RUN, 0, 0xc0, 2, 'r', 0x00, 50, OP_COMMIT);
    PUTV(&b, OP_REOPEN, 0, OP_WALK, 0, 0x81, OP_VERIFY, 0);
    emit("ops", "fill-delete", &b);
    /* Overflow values without map, tiny cache, overwrite and delete them. */
    PUTV(&b, 0x28, OP_PUT, 0, 1, 0x0e, 0, OP_PUT, 0, 2, 0x0f, 0, OP_PUT, 0, 3, 0x0c, 0);
    PUTV(&b, OP_COMMIT, OP_PUT, 0, 1, 0x03, 0, OP_DEL, 0, 2, OP_GET, 0, 3, OP_COMMIT);
    PUTV(&b, OP_REOPEN, 0, OP_GET, 0, 1, OP_WALK, 0, 0x11);
    emit("ops", "overflow-nomap", &b);
    /* Buckets: create, fill, commit, drop, recreate, abort, reopen read-only. */
    PUTV(&b, 0x01, OP_BUCKET, 0x00, OP_BUCKET, 0x04, OP_PUT_RUN, 1, 0, 1, 40, 4, 0);
    PUTV(&b, OP_PUT_RUN, 2, 9, 0, 20, 0x0d, 0, OP_COMMIT, OP_BUCKET, 0x03, OP_BUCKET, 0x01);
    PUTV(&b, OP_BUCKET, 0x02, OP_ABORT, OP_BUCKET, 0x07, OP_COMMIT, OP_REOPEN, 1);
    PUTV(&b, OP_WALK, 1, 0x10, OP_WALK, 2, 0x11, OP_PUT, 0, 1, 1, 0, OP_REOPEN, 0);
    emit("ops", "buckets", &b);
    /* A reader keeps its snapshot while the writer commits. */
    PUTV(&b, 0x00, OP_PUT_RUN, 0, 0, 0, 30, 5, 0, OP_COMMIT, OP_READER, 0);
    PUTV(&b, OP_DEL_RUN, 0, 0x00, 20, OP_PUT_RUN, 0, 100, 0, 30, 7, 0, OP_COMMIT);
    PUTV(&b, OP_READER, 1, OP_READER, 3, OP_READER, 2, OP_VERIFY, 0);
    emit("ops", "reader-snapshot", &b);
    /* A cursor kept across puts and deletes of its own key. */
    PUTV(&b, 0x00, OP_PUT_RUN, 0, 0, 0, 20, 4, 0, OP_PCURSOR, 4, 0xc0, 3, 'r', 0, 5);
    PUTV(&b, OP_PCURSOR, 5, OP_DEL, 0, 0xc0, 3, 'r', 0, 5, OP_PCURSOR, 5, OP_PCURSOR, 2);
    PUTV(&b, OP_DEL, 0, 0xc0, 3, 'r', 0, 6, OP_PCURSOR, 3, OP_PCURSOR, 2, OP_PCURSOR, 2);
    PUTV(&b, OP_DEL_RUN, 0, 0x00, 63, OP_PCURSOR, 3, OP_PCURSOR, 0, OP_COMMIT);
    emit("ops", "pcursor", &b);
    /* CT_SYNC_NONE commits, ct_sync, reopen; NOOVERWRITE and APPEND. */
    PUTV(&b, 0x13, OP_PUT, 0, 5, 3, 1, OP_PUT, 0, 5, 4, 1, OP_PUT, 0, 9, 3, 2);
    PUTV(&b, OP_PUT, 0, 7, 3, 2, OP_COMMIT, OP_SYNC, OP_PUT_RUN, 0, 0, 2, 60, 8, 2);
    PUTV(&b, OP_COMMIT, OP_REOPEN, 0, OP_SYNC, OP_PUT, 0, 0xff, 1, 0, OP_GET, 0, 0xff);
    PUTV(&b, OP_PUT, 0, 0xfe, 200, 1, 0);
    for (int i = 0; i < 200; i++) {
        put8(&b, 'L');
    }
    PUTV(&b, 0, 0, OP_COMMIT);
    emit("ops", "syncnone-flags", &b);
    /* Larger pages, long keys, many splits. */
    PUTV(&b, 0x06, OP_PUT_RUN, 0, 0, 0, 63, 9, 0, OP_PUT_RUN, 0, 4, 1, 63, 10, 0);
    PUTV(&b, OP_PUT_RUN, 0, 3, 2, 63, 11, 0, OP_COMMIT, OP_DEL_RUN, 0, 0x00, 63, OP_COMMIT);
    emit("ops", "pages-4k", &b);
}

/* ---- fuzz_crash --------------------------------------------------------- */

static void crash_header(buf *b, unsigned cfg, unsigned rate, unsigned cd, unsigned cut,
                         unsigned mode)
{
    PUTV(b, cfg, rate, cd);
    put16(b, cut);
    put8(b, mode);
    for (int i = 0; i < 8; i++) {
        put8(b, 0x5a + (unsigned)i * 17u); /* mask */
    }
    PUTV(b, 1, 0x11, 0x22, 0x33, 0x44); /* index, seed */
}

static void crash_workload(buf *b)
{
    /* txn: 8 ops, commit */
    PUTV(b, 0x07, 0x03, 5, 0x07, 5, 0x0b, 3, 0x13, 6, 0x00, 7, 0x02, 0x04, 2, 0x09, 2, 0x10);
    PUTV(b, 0x03, 0x47, 1, 0x4b, 4, 0x01, 0x05, 0x0f, 6);
    PUTV(b, 0x25, 0x03, 6, 0x05, 0x09, 0x0d, 0x11, 0x02, 0x0c, 6);
    PUTV(b, 0x13, 0x13, 7, 0x17, 7, 0x21, 0x03, 0x30, 4);
}

static void seeds_crash(void)
{
    buf b = {0};
    static const unsigned cuts[] = {0, 1, 3, 6, 10, 20, 40, 0xffff};
    for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char name[64];
        crash_header(&b, 0x00, 0, 0, cuts[i], i % 6u);
        crash_workload(&b);
        snprintf(name, sizeof(name), "cut-%u-mode-%u", cuts[i], i % 6u);
        emit("crash", name, &b);
    }
    crash_header(&b, 0x08, 0, 0, 30, 5); /* CT_SYNC_NONE, random outcome */
    crash_workload(&b);
    emit("crash", "syncnone", &b);
    crash_header(&b, 0x34, 6, 0, 0xffff, 4); /* write and sync errors, no map */
    crash_workload(&b);
    emit("crash", "write-sync-errors", &b);
    crash_header(&b, 0xc1, 4, (2u << 2) | 2u, 25, 3); /* read errors, nospace, sync countdown */
    crash_workload(&b);
    emit("crash", "read-nospace-countdown", &b);
}

/* ---- real images: fuzz_open and fuzz_page -------------------------------- */

/* Builds a small database in a memory store. kind 0: keys, an overflow
   value, a bucket, deletes (free list); kind 1: just a few keys. */
static ct_pagestore *build_image(uint32_t page_size, int kind)
{
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_size;
    ct_pagestore *ps = NULL;
    FZ_RC(ct_memstore_create(&mo, &ps), CT_OK);
    ct_db *db = NULL;
    FZ_RC(ct_open(ps, NULL, &db), CT_OK);
    ct_txn *t = NULL;
    FZ_RC(ct_begin(db, 0, &t), CT_OK);
    int keys = kind == 0 ? 24 : 3;
    for (int i = 0; i < keys; i++) {
        char k[32];
        char v[32];
        int kl = snprintf(k, sizeof(k), "key%03d", i * 3);
        int vl = snprintf(v, sizeof(v), "value-%d", i);
        FZ_RC(ct_put(t, NULL, k, (size_t)kl, v, (size_t)vl, 0), CT_OK);
    }
    if (kind == 0) {
        uint8_t big[1200];
        fz_val_fill(big, sizeof(big), 3);
        FZ_RC(ct_put(t, NULL, "big", 3, big, sizeof(big), 0), CT_OK);
        ct_bucket *b = NULL;
        FZ_RC(ct_bucket_open(t, "b1", CT_CREATE, &b), CT_OK);
        FZ_RC(ct_put(t, b, "x", 1, "y", 1, 0), CT_OK);
    }
    FZ_RC(ct_commit(t), CT_OK);
    if (kind == 0) {
        FZ_RC(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < keys; i += 2) {
            char k[32];
            int kl = snprintf(k, sizeof(k), "key%03d", i * 3);
            FZ_RC(ct_del(t, NULL, k, (size_t)kl), CT_OK);
        }
        FZ_RC(ct_commit(t), CT_OK);
    }
    ct_close(db);
    return ps;
}

/* Sparse page: head up to the longest zero run, tail after it. */
static void put_sparse_page(buf *b, const uint8_t *p, uint32_t ps)
{
    uint32_t best_at = ps;
    uint32_t best_len = 0;
    for (uint32_t i = 0; i < ps;) {
        uint32_t j = i;
        while (j < ps && p[j] == 0) {
            j++;
        }
        if (j - i > best_len) {
            best_at = i;
            best_len = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    uint32_t head = best_len ? best_at : ps;
    uint32_t tail = ps - head - best_len;
    put16(b, head);
    putn(b, p, head);
    put16(b, tail);
    putn(b, p + ps - tail, tail);
}

static void seeds_images(void)
{
    static const uint32_t sizes[] = {512, 1024, 4096, 65536};
    for (unsigned si = 0; si < 4; si++) {
        for (int kind = 0; kind < 2; kind++) {
            uint32_t ps = sizes[si];
            ct_pagestore *store = build_image(ps, kind);
            uint64_t npages = 0;
            FZ_RC(store->ops->size(store, &npages), CT_OK);
            if (npages > 16) {
                npages = 16;
            }
            uint8_t *page = malloc(ps);
            FZ_CHECK(page != NULL, "out of memory");
            unsigned shift = 0;
            while ((512u << shift) < ps) {
                shift++;
            }
            for (unsigned sealed = 0; sealed < 2; sealed++) {
                buf b = {0};
                put8(&b, shift | (sealed ? 0x20u : 0u) | (kind ? 0x08u : 0u));
                put8(&b, (unsigned)npages - 2u);
                for (uint64_t i = 0; i < npages; i++) {
                    FZ_RC(ct_memstore_peek(store, i, page), CT_OK);
                    put_sparse_page(&b, page, ps);
                }
                PUTV(&b, 6, 'k', 'e', 'y', '0', '0', '3', 3, 'b', 'i', 'g', 4, 'n', 'e', 'w', '!');
                PUTV(&b, 200, 6, 'k', 'e', 'y', '0', '0', '9');
                char name[64];
                snprintf(name, sizeof(name), "image-%u-%s%s", ps, kind ? "small" : "mixed",
                         sealed ? "-sealed" : "");
                emit("open", name, &b);
            }
            /* Every leaf and branch page, for fuzz_page (page sizes up to 4096). */
            for (uint64_t i = 2; si < 3 && i < npages; i++) {
                FZ_RC(ct_memstore_peek(store, i, page), CT_OK);
                uint8_t type = page[CT_PH_TYPE];
                if (type != CT_PT_LEAF && type != CT_PT_BRANCH) {
                    continue;
                }
                buf b = {0};
                put8(&b, shift | (type == CT_PT_BRANCH ? 0x04u : 0u));
                put_sparse_page(&b, page, ps);
                PUTV(&b, 6, 'k', 'e', 'y', '0', '0', '4', 0x10, 3, 'k', 'e', 'y', 0x85);
                PUTV(&b, 0, 1, 6, 'k', 'e', 'y', '0', '0', '3', 2, 9, 'k', 'e', 'y', 0xff);
                char name[64];
                snprintf(name, sizeof(name), "%s-%u-%s-p%llu", type == CT_PT_LEAF ? "leaf" : "branch",
                         ps, kind ? "small" : "mixed", (unsigned long long)i);
                emit("page", name, &b);
            }
            free(page);
            store->ops->close(store);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR  (writes OUTDIR/{ops,open,crash,page}/seed-*)\n",
                argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    seeds_ops();
    seeds_crash();
    seeds_images();
    printf("seeds written under %s\n", outdir);
    return 0;
}
