/*
 * catalog.c - a read-only reader of the on-disk format (docs/format.md,
 * version 1) for what the public API does not expose: the names of the
 * named buckets, each bucket's depth, and the shape of its tree (pages by
 * type and how full they are).
 *
 * It reads the file with pread on its own descriptor, at the snapshot a
 * read txn of the caller already holds (the caller's shared lock keeps
 * writers out), picks the meta slot of that commit, and verifies every
 * page it reads as the engine does (CRC32C, type, pgno, generation,
 * bounds). Bad bytes are reported as CT_CORRUPT with the page number;
 * nothing from the file is trusted before it is bounded. Tree walks are
 * bounded by the format's depth limit. Never writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define FMT_HEADER_BYTES 32u
#define FMT_TYPE_META 1u
#define FMT_TYPE_BRANCH 2u
#define FMT_TYPE_LEAF 3u
#define FMT_MAGIC 0x3145455254574f43ull
#define FMT_VERSION 1u
#define FMT_DESC_BYTES 32u
#define FMT_DEPTH_MAX 32u /* the engine's CT_DEPTH_MAX */
#define FMT_LEAF_CELL_FIXED 7u
#define FMT_BRANCH_CELL_FIXED 18u
#define FMT_OVERFLOW_REF_BYTES 16u
#define FMT_LEAF_OVERFLOW 0x1u

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc_table[n] = c;
    }
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    if (crc_table[1] == 0) {
        crc_init();
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c = (c >> 8) ^ crc_table[(c ^ p[i]) & 0xffu];
    }
    return ~c;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int problem(tool_catalog *cat, uint64_t pgno, const char *what)
{
    cat->problem_pgno = pgno;
    cat->problem = what;
    return CT_CORRUPT;
}

static int read_page(tool_catalog *cat, uint64_t pgno, uint8_t *buf)
{
    if (pgno > (uint64_t)INT64_MAX / cat->page_size) {
        return problem(cat, pgno, "page number out of range");
    }
    size_t done = 0;
    while (done < cat->page_size) {
        ssize_t n = pread(cat->fd, buf + done, cat->page_size - done,
                          (off_t)(pgno * cat->page_size + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return CT_IO;
        }
        if (n == 0) {
            memset(buf + done, 0, cat->page_size - done); /* past the end reads zeros */
            break;
        }
        done += (size_t)n;
    }
    return CT_OK;
}

/* Reads pgno and checks it is the page a pointer (type, generation) expects. */
static int read_verified(tool_catalog *cat, uint64_t pgno, uint64_t gen, unsigned type,
                         uint8_t *buf)
{
    if (pgno < 2 || pgno >= cat->hwm) {
        return problem(cat, pgno, "pointer outside the pages in use");
    }
    int rc = read_page(cat, pgno, buf);
    if (rc != CT_OK) {
        return rc;
    }
    if (crc32c(buf + 4, cat->page_size - 4) != get32(buf)) {
        return problem(cat, pgno, "checksum mismatch");
    }
    if (buf[4] != type || get64(buf + 8) != pgno || get64(buf + 16) != gen) {
        return problem(cat, pgno, "page type, number or generation not the expected one");
    }
    return CT_OK;
}

typedef int (*leaf_visit)(tool_catalog *cat, uint64_t pgno, const uint8_t *key, size_t klen,
                          const uint8_t *val, size_t vlen, int overflow, void *ctx);

typedef struct walk_ctx {
    tool_catalog *cat;
    uint8_t *pages[FMT_DEPTH_MAX]; /* one buffer per level */
    uint32_t depth;
    tool_tree_stats *st;
    leaf_visit visit;
    void *visit_ctx;
} walk_ctx;

/* The slot array of a slotted page must fit in the page. */
static int slots_fit(walk_ctx *w, uint64_t pgno, const uint8_t *p)
{
    uint64_t slots_end = FMT_HEADER_BYTES + 2u * (uint64_t)get16(p + 6);
    if (slots_end > w->cat->page_size) {
        return problem(w->cat, pgno, "cell count too large for the page");
    }
    return CT_OK;
}

/* Cell i of a slotted page: its offset, bounded so fixed bytes fit. */
static int cell_at(walk_ctx *w, uint64_t pgno, const uint8_t *p, unsigned i, size_t fixed,
                   size_t *off)
{
    uint32_t ps = w->cat->page_size;
    size_t o = get16(p + FMT_HEADER_BYTES + 2u * i);
    size_t slots_end = FMT_HEADER_BYTES + 2u * (size_t)get16(p + 6);
    if (o < slots_end || o > ps || fixed > ps - o) {
        return problem(w->cat, pgno, "cell offset out of bounds");
    }
    *off = o;
    return CT_OK;
}

static int walk_leaf(walk_ctx *w, uint64_t pgno, const uint8_t *p)
{
    uint32_t ps = w->cat->page_size;
    unsigned count = get16(p + 6);
    uint64_t used = FMT_HEADER_BYTES + 2u * (uint64_t)count;
    if (slots_fit(w, pgno, p) != CT_OK) {
        return CT_CORRUPT;
    }
    for (unsigned i = 0; i < count; i++) {
        size_t off = 0;
        int rc = cell_at(w, pgno, p, i, FMT_LEAF_CELL_FIXED, &off);
        if (rc != CT_OK) {
            return rc;
        }
        size_t klen = get16(p + off);
        int overflow = (p[off + 2] & FMT_LEAF_OVERFLOW) != 0;
        size_t vlen = get32(p + off + 3);
        size_t stored = overflow ? FMT_OVERFLOW_REF_BYTES : vlen;
        size_t room = ps - off - FMT_LEAF_CELL_FIXED;
        if (klen > room || stored > room - klen) {
            return problem(w->cat, pgno, "leaf cell past the end of the page");
        }
        const uint8_t *key = p + off + FMT_LEAF_CELL_FIXED;
        used += FMT_LEAF_CELL_FIXED + klen + stored;
        if (w->st) {
            w->st->key_bytes += klen;
            w->st->value_bytes += vlen;
            if (overflow) {
                w->st->overflow_pages += (FMT_HEADER_BYTES + (uint64_t)vlen + ps - 1) / ps;
                w->st->overflow_value_bytes += vlen;
            }
        }
        if (w->visit) {
            rc = w->visit(w->cat, pgno, key, klen, overflow ? NULL : key + klen, vlen, overflow,
                          w->visit_ctx);
            if (rc != CT_OK) {
                return rc;
            }
        }
    }
    if (w->st) {
        w->st->leaf_pages++;
        w->st->leaf_used_bytes += used;
    }
    return CT_OK;
}

static int walk(walk_ctx *w, uint64_t pgno, uint64_t gen, uint32_t level)
{
    int leaf = level + 1 == w->depth;
    uint8_t *p = w->pages[level];
    int rc = read_verified(w->cat, pgno, gen, leaf ? FMT_TYPE_LEAF : FMT_TYPE_BRANCH, p);
    if (rc != CT_OK) {
        return rc;
    }
    if (leaf) {
        return walk_leaf(w, pgno, p);
    }
    unsigned count = get16(p + 6);
    uint64_t used = FMT_HEADER_BYTES + 2u * (uint64_t)count;
    if (slots_fit(w, pgno, p) != CT_OK) {
        return CT_CORRUPT;
    }
    for (unsigned i = 0; i < count; i++) {
        size_t off = 0;
        rc = cell_at(w, pgno, p, i, FMT_BRANCH_CELL_FIXED, &off);
        if (rc != CT_OK) {
            return rc;
        }
        size_t klen = get16(p + off + 16);
        if (klen > w->cat->page_size - off - FMT_BRANCH_CELL_FIXED) {
            return problem(w->cat, pgno, "branch cell past the end of the page");
        }
        used += FMT_BRANCH_CELL_FIXED + klen;
        rc = walk(w, get64(p + off), get64(p + off + 8), level + 1);
        if (rc != CT_OK) {
            return rc;
        }
        p = w->pages[level]; /* unchanged: each level has its own buffer */
    }
    if (w->st) {
        w->st->branch_pages++;
        w->st->branch_used_bytes += used;
    }
    return CT_OK;
}

static int walk_tree(tool_catalog *cat, const tool_bucket_info *t, tool_tree_stats *st,
                     leaf_visit visit, void *ctx)
{
    if (t->depth == 0) {
        return CT_OK;
    }
    if (t->depth > FMT_DEPTH_MAX) {
        return problem(cat, t->root, "tree deeper than the format allows");
    }
    walk_ctx w = {.cat = cat, .depth = t->depth, .st = st, .visit = visit, .visit_ctx = ctx};
    int rc = CT_OK;
    for (uint32_t i = 0; i < t->depth && rc == CT_OK; i++) {
        w.pages[i] = malloc(cat->page_size);
        rc = w.pages[i] ? CT_OK : CT_NOMEM;
    }
    if (rc == CT_OK) {
        rc = walk(&w, t->root, t->root_gen, 0);
    }
    for (uint32_t i = 0; i < t->depth; i++) {
        free(w.pages[i]);
    }
    return rc;
}

int tool_tree_walk(tool_catalog *cat, const tool_bucket_info *tree, tool_tree_stats *st)
{
    return walk_tree(cat, tree, st, NULL, NULL);
}

static int desc_decode(tool_catalog *cat, uint64_t pgno, const uint8_t *d, tool_bucket_info *t)
{
    t->root = get64(d);
    t->root_gen = get64(d + 8);
    t->depth = get32(d + 16);
    t->entries = get64(d + 24);
    if ((t->root == 0) != (t->depth == 0) || t->depth > FMT_DEPTH_MAX) {
        return problem(cat, pgno, "tree descriptor fields");
    }
    return CT_OK;
}

static int add_bucket(tool_catalog *cat, uint64_t pgno, const uint8_t *key, size_t klen,
                      const uint8_t *val, size_t vlen, int overflow, void *ctx)
{
    (void)ctx;
    if (overflow || vlen != FMT_DESC_BYTES || klen == 0 || klen > CT_BUCKET_NAME_MAX) {
        return problem(cat, pgno, "catalog entry is not a bucket name and descriptor");
    }
    tool_bucket_info *grown = realloc(cat->buckets, (cat->bucket_count + 1) * sizeof(*grown));
    if (!grown) {
        return CT_NOMEM;
    }
    cat->buckets = grown;
    tool_bucket_info *b = &grown[cat->bucket_count];
    memset(b, 0, sizeof(*b));
    memcpy(b->name, key, klen);
    b->name_len = klen;
    cat->bucket_count++;
    return desc_decode(cat, pgno, val, b);
}

static int meta_valid(const tool_catalog *cat, const uint8_t *buf, uint64_t slot)
{
    return crc32c(buf + 4, cat->page_size - 4) == get32(buf) && buf[4] == FMT_TYPE_META &&
           get64(buf + 8) == slot && get64(buf + 32) == FMT_MAGIC &&
           get32(buf + 40) == FMT_VERSION && get32(buf + 44) == cat->page_size;
}

/* Finds the meta slot holding commit txnid. */
static int read_meta(tool_catalog *cat, uint8_t *buf)
{
    for (uint64_t slot = 0; slot < 2; slot++) {
        int rc = read_page(cat, slot, buf);
        if (rc != CT_OK) {
            return rc;
        }
        if (!meta_valid(cat, buf, slot) || get64(buf + 16) != cat->txnid) {
            continue;
        }
        cat->meta_slot = slot;
        cat->hwm = get64(buf + 48);
        cat->freelist_entries = get64(buf + 144);
        rc = desc_decode(cat, slot, buf + 64, &cat->main_tree);
        if (rc == CT_OK) {
            rc = desc_decode(cat, slot, buf + 96, &cat->catalog_tree);
        }
        return rc;
    }
    return problem(cat, 0, "no meta page (0 or 1) holds the open commit");
}

int tool_catalog_read(const char *path, uint32_t page_size, uint64_t txnid, tool_catalog *cat)
{
    memset(cat, 0, sizeof(*cat));
    cat->page_size = page_size;
    cat->txnid = txnid;
    cat->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (cat->fd < 0) {
        return CT_IO;
    }
    uint8_t *buf = malloc(page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    int rc = read_meta(cat, buf);
    free(buf);
    if (rc == CT_OK) {
        rc = walk_tree(cat, &cat->catalog_tree, NULL, add_bucket, NULL);
    }
    return rc;
}

void tool_catalog_close(tool_catalog *cat)
{
    if (cat->fd >= 0) {
        close(cat->fd);
    }
    cat->fd = -1;
    free(cat->buckets);
    cat->buckets = NULL;
    cat->bucket_count = 0;
}
