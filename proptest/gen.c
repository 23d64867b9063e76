/*
 * gen.c - seeded generators: keys (empty, short, long up to the key
 * limit, shared prefixes, binary bytes), values (0 bytes to overflow runs
 * beyond a page), op sequences and txn boundaries, tuned per property.
 * Pure: everything follows from the seed (no I/O, no clock).
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "prng.h"
#include "pt.h"

/* Keys remembered for reuse, so gets, deletes, NOOVERWRITE and seeks hit. */
#define GEN_POOL_MAX 64u

typedef struct gen {
    prng r;
    pt_prop prop;
    uint32_t page_size;
    uint32_t key_min;  /* 1 against LMDB: empty keys skipped there */
    uint32_t key_max;  /* what the engine accepts (LMDB: at most 511) */
    uint32_t pool_cap; /* per case: 4..GEN_POOL_MAX (small pools: dense hits) */
    uint32_t pool_n;
    uint32_t pool_len[GEN_POOL_MAX];
    uint8_t pool[GEN_POOL_MAX][PT_KEY_BYTES_MAX];
    uint8_t prefix[48];
    uint32_t prefix_len;
    uint32_t append_ctr;
    uint32_t txn_len_mean; /* txn boundaries: mean ops per txn */
    int no_buckets;        /* LMDB cases use named buckets or snapshots, never both */
    int no_snaps;
    int snap_open[PT_SNAPS];
    uint8_t kbuf[PT_KEY_BYTES_MAX + 8];
} gen;

static uint32_t range(gen *g, uint32_t lo, uint32_t hi)
{
    return (uint32_t)prng_range(&g->r, lo, hi);
}

static uint8_t key_byte(gen *g)
{
    uint32_t d = range(g, 0, 9);
    if (d < 6) {
        return (uint8_t)('a' + range(g, 0, 5)); /* small alphabet: near collisions */
    }
    if (d == 6) {
        return 0x00;
    }
    if (d == 7) {
        return 0xff;
    }
    return (uint8_t)prng_next(&g->r);
}

/* A fresh key in g->kbuf; returns its length. */
static uint32_t new_key(gen *g)
{
    uint32_t kmax = g->key_max;
    uint32_t shape = range(g, 0, 99);
    uint32_t len = 0;
    if (shape < 5 && g->key_min == 0) {
        return 0;
    }
    if (shape < 40) { /* short */
        len = range(g, 1, kmax < 8 ? kmax : 8);
        for (uint32_t i = 0; i < len; i++) {
            g->kbuf[i] = key_byte(g);
        }
    } else if (shape < 60) { /* shared prefix + short suffix */
        uint32_t p = g->prefix_len < kmax ? g->prefix_len : kmax - 1;
        memcpy(g->kbuf, g->prefix, p);
        len = p + range(g, 1, 4);
        len = len > kmax ? kmax : len;
        for (uint32_t i = p; i < len; i++) {
            g->kbuf[i] = key_byte(g);
        }
    } else if (shape < 85) { /* long, mostly shared, differing near the end */
        len = shape < 72 ? range(g, kmax > 3 ? kmax - 3 : 1, kmax) : range(g, kmax / 2, kmax);
        len = len == 0 ? 1 : len;
        for (uint32_t i = 0; i < len; i++) {
            g->kbuf[i] = i < g->prefix_len ? g->prefix[i] : (uint8_t)('k' + (i % 7));
        }
        for (uint32_t i = len > 3 ? len - 3 : 0; i < len; i++) {
            g->kbuf[i] = key_byte(g);
        }
    } else { /* binary */
        len = range(g, 1, kmax < 16 ? kmax : 16);
        for (uint32_t i = 0; i < len; i++) {
            g->kbuf[i] = (uint8_t)prng_next(&g->r);
        }
    }
    if (len < g->key_min) {
        g->kbuf[0] = 'a';
        len = g->key_min;
    }
    return len;
}

static void pool_add(gen *g, const uint8_t *k, uint32_t len)
{
    uint32_t at = g->pool_n < g->pool_cap ? g->pool_n++ : range(g, 0, g->pool_cap - 1);
    memcpy(g->pool[at], k, len);
    g->pool_len[at] = len;
}

/* A key for a data op: mostly from the pool. Sets op->key (points at kbuf). */
static void pick_key(gen *g, pt_op *op)
{
    if (g->pool_n > 0 && range(g, 0, 99) < 65) {
        uint32_t i = range(g, 0, g->pool_n - 1);
        op->klen = g->pool_len[i];
        memcpy(g->kbuf, g->pool[i], op->klen);
    } else {
        op->klen = new_key(g);
        pool_add(g, g->kbuf, op->klen);
    }
    if (g->prop == PT_PROP_MODEL && range(g, 0, 199) == 0) {
        op->klen = g->key_max + 1; /* CT_TOOBIG for puts, CT_NOTFOUND for get/del */
        memset(g->kbuf, 'z', op->klen);
    }
    op->key = g->kbuf;
}

/* A seek key: pool keys, their neighbours, fresh keys and keys past the end. */
static void pick_seek(gen *g, pt_op *op)
{
    uint32_t d = range(g, 0, 99);
    if (d < 15) {
        op->klen = range(g, 1, 4);
        memset(g->kbuf, 0xff, op->klen);
        op->key = g->kbuf;
        return;
    }
    pick_key(g, op);
    if (d < 35 && op->klen > 0) {
        g->kbuf[op->klen - 1] = (uint8_t)(g->kbuf[op->klen - 1] + (d & 1 ? 1 : 0xff));
    } else if (d < 45 && op->klen < g->key_max) {
        g->kbuf[op->klen++] = 0x00; /* just above a key */
    } else if (d < 50 && op->klen > g->key_min) {
        op->klen--; /* a prefix: just below */
    }
}

static uint32_t value_len(gen *g)
{
    uint32_t ps = g->page_size;
    uint32_t d = range(g, 0, 99);
    uint32_t len;
    if (d < 10) {
        len = 0;
    } else if (d < 50) {
        len = range(g, 1, 32);
    } else if (d < 70) {
        len = range(g, 33, ps / 4);
    } else if (d < 85) {
        len = range(g, ps / 4 - 16, ps / 2 + 16); /* around the inline limit */
    } else if (d < 96) {
        len = range(g, ps, 3 * ps); /* overflow runs beyond a page */
    } else if (d < 99) {
        len = range(g, 3 * ps, PT_VALUE_RUN_BYTES);
    } else {
        /* Past 64 KiB: a copy that wraps a 16-bit offset, or repeats its
           first 64 KiB, shows here. */
        len = range(g, 65536u - 100u, PT_VALUE_BYTES_MAX);
    }
    return len > PT_VALUE_BYTES_MAX ? PT_VALUE_BYTES_MAX : len;
}

static int8_t pick_reader(gen *g)
{
    uint32_t open[PT_SNAPS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < PT_SNAPS; i++) {
        if (g->snap_open[i]) {
            open[n++] = i;
        }
    }
    uint32_t pct = g->prop == PT_PROP_SNAPSHOT ? 50 : 25;
    if (n == 0 || range(g, 0, 99) >= pct) {
        return -1;
    }
    return (int8_t)open[range(g, 0, n - 1)];
}

static uint8_t pick_bucket(gen *g)
{
    if (g->no_buckets) {
        return 0;
    }
    return range(g, 0, 99) < 70 ? 0 : (uint8_t)range(g, 1, PT_BUCKETS - 1);
}

static void gen_put(gen *g, pt_op *op)
{
    op->kind = PT_PUT;
    uint32_t d = range(g, 0, 99);
    if (d < 15) {
        op->flags = PT_F_NOOVERWRITE;
    } else if (d < 30) {
        op->flags = PT_F_APPEND;
    }
    if (op->flags == PT_F_APPEND && range(g, 0, 1) == 0 && g->key_max >= 6) {
        /* Ascending keys above almost everything: appends that succeed. */
        uint32_t ctr = ++g->append_ctr;
        g->kbuf[0] = 0xff;
        g->kbuf[1] = 0xfe;
        g->kbuf[2] = (uint8_t)(ctr >> 24);
        g->kbuf[3] = (uint8_t)(ctr >> 16);
        g->kbuf[4] = (uint8_t)(ctr >> 8);
        g->kbuf[5] = (uint8_t)ctr;
        op->key = g->kbuf;
        op->klen = 6;
        pool_add(g, g->kbuf, 6);
    } else {
        pick_key(g, op);
    }
    op->vlen = value_len(g);
    op->vseed = (uint32_t)prng_next(&g->r);
}

/* Relative op weights per property, indexed by pt_kind. */
static const uint16_t weights[PT_PROPS][PT_KINDS] = {
    /* put get del scan walk commit abort reopen bcreate bdrop sbegin send check */
    [PT_PROP_MODEL] = {300, 120, 140, 70, 70, 0, 0, 15, 20, 8, 25, 8, 10},
    [PT_PROP_SQLITE] = {320, 140, 150, 90, 0, 0, 0, 10, 20, 8, 0, 0, 10},
    [PT_PROP_LMDB] = {300, 120, 140, 70, 80, 0, 0, 15, 20, 8, 25, 8, 10},
    [PT_PROP_SNAPSHOT] = {300, 120, 130, 60, 40, 0, 0, 5, 15, 8, 60, 20, 5},
    [PT_PROP_REOPEN] = {300, 100, 140, 40, 40, 0, 0, 60, 20, 8, 10, 5, 10},
};

static pt_kind pick_kind(gen *g)
{
    /* Txn boundaries: a commit or abort ends a txn of about txn_len_mean ops. */
    if (range(g, 1, g->txn_len_mean) == 1) {
        return range(g, 0, 99) < 80 ? PT_COMMIT : PT_ABORT;
    }
    uint16_t w[PT_KINDS];
    memcpy(w, weights[g->prop], sizeof(w));
    if (g->no_buckets) {
        w[PT_BUCKET_CREATE] = 0;
        w[PT_BUCKET_DROP] = 0;
    }
    if (g->no_snaps) {
        w[PT_SNAP_BEGIN] = 0;
        w[PT_SNAP_END] = 0;
    }
    uint32_t total = 0;
    for (unsigned k = 0; k < PT_KINDS; k++) {
        total += w[k];
    }
    uint32_t x = range(g, 0, total - 1);
    for (unsigned k = 0; k < PT_KINDS; k++) {
        if (x < w[k]) {
            return (pt_kind)k;
        }
        x -= w[k];
    }
    return PT_GET;
}

static void gen_op(gen *g, pt_op *op)
{
    memset(op, 0, sizeof(*op));
    op->snap = -1;
    pt_kind k = pick_kind(g);
    switch (k) {
    case PT_PUT:
        gen_put(g, op);
        op->bucket = pick_bucket(g);
        return;
    case PT_GET:
    case PT_DEL:
        op->kind = (uint8_t)k;
        pick_key(g, op);
        op->bucket = pick_bucket(g);
        op->snap = k == PT_GET ? pick_reader(g) : -1;
        return;
    case PT_SCAN:
    case PT_WALK:
        op->kind = (uint8_t)k;
        op->bucket = pick_bucket(g);
        op->snap = pick_reader(g);
        uint32_t s = range(g, 0, 99);
        op->start = s < 70 ? PT_START_SEEK : s < 85 ? PT_START_FIRST : PT_START_LAST;
        if (op->start == PT_START_SEEK) {
            pick_seek(g, op);
        }
        if (k == PT_SCAN) {
            op->dir = (uint8_t)range(g, 0, 1);
            op->count = range(g, 0, 9) == 0 ? PT_SCAN_MAX : range(g, 1, 20);
        } else {
            op->count = range(g, 1, PT_WALK_MOVES_MAX);
            op->moves = (uint32_t)prng_next(&g->r);
        }
        return;
    case PT_BUCKET_CREATE:
    case PT_BUCKET_DROP:
        op->kind = (uint8_t)k;
        op->bucket = (uint8_t)range(g, 1, PT_BUCKETS - 1);
        return;
    case PT_SNAP_BEGIN:
    case PT_SNAP_END:
        op->kind = (uint8_t)k;
        op->snap = (int8_t)range(g, 0, PT_SNAPS - 1);
        g->snap_open[op->snap] = k == PT_SNAP_BEGIN;
        return;
    case PT_REOPEN:
        memset(g->snap_open, 0, sizeof(g->snap_open));
        op->kind = (uint8_t)k;
        return;
    default:
        op->kind = (uint8_t)k;
        return;
    }
}

int pt_gen_case(pt_case *c, pt_prop p, uint64_t seed, uint32_t max_ops)
{
    gen *g = calloc(1, sizeof(*g));
    if (!g) {
        return -1;
    }
    pt_case_init(c);
    prng_seed(&g->r, seed);
    c->prop = p;
    c->seed = seed;
    uint32_t d = range(g, 0, 99);
    c->page_size = d < 60 ? 512 : d < 80 ? 1024 : 4096;
    c->durability = range(g, 0, 3) == 0 ? CT_SYNC_NONE : CT_SYNC_FULL;
    c->map = range(g, 0, 3) != 0;
    g->prop = p;
    g->page_size = c->page_size;
    g->key_max = pt_key_max_for(c->page_size);
    if (g->key_max > PT_KEY_BYTES_MAX) {
        g->key_max = PT_KEY_BYTES_MAX;
    }
    if (p == PT_PROP_LMDB) {
        /* LMDB's handle rules (mdb_dbi_open only in the write txn, mdb_drop
           closes the handle at once) make named buckets and read txns
           incompatible in one test: each LMDB case takes one or the other. */
        g->no_buckets = range(g, 0, 1) == 0;
        g->no_snaps = !g->no_buckets;
        g->key_min = 1;
        g->key_max = g->key_max > PT_LMDB_KEY_MAX ? PT_LMDB_KEY_MAX : g->key_max;
    }
    g->pool_cap = range(g, 4, GEN_POOL_MAX);
    g->prefix_len = range(g, 2, (uint32_t)sizeof(g->prefix));
    for (uint32_t i = 0; i < g->prefix_len; i++) {
        g->prefix[i] = key_byte(g);
    }
    g->txn_len_mean = range(g, 2, 40);
    uint32_t n = range(g, max_ops / 4 + 1, max_ops);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        pt_op op;
        gen_op(g, &op);
        rc = pt_case_push(c, &op);
    }
    free(g);
    if (rc != 0) {
        pt_case_free(c);
    }
    return rc;
}
