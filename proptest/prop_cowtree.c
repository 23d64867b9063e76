/*
 * prop_cowtree.c - the engine under test behind the backend seam: a
 * memstore (the case's page size, map on/off), one write txn always open,
 * read txns in snapshot slots. Every error code is passed through as a
 * negative CT_* value shifted below the PT_R_* answers.
 *
 * Two reopens in three go through ct_copy (a plain copy, then a compact
 * one) and open the copy in place of the store, so every case that
 * reopens also checks that a copy holds exactly the last commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "cowtree.h"
#include "cowtree/memstore.h"

struct pt_be {
    ct_memstore_options mo; /* a copy's store is made the same way */
    unsigned reopens;
    ct_pagestore *ps;
    ct_db *db;
    ct_options opt;
    ct_txn *w;
    ct_txn *snaps[PT_SNAPS];
    ct_cursor *cur;
};

void pt_bucket_name(unsigned bucket, char out[PT_BUCKET_NAME_BYTES])
{
    int n = snprintf(out, PT_BUCKET_NAME_BYTES, "b%u", bucket % 100u);
    if (bucket % 100u == 3u) {
        memset(out + n, 'x', PT_BUCKET_NAME_LONG - (size_t)n);
        out[PT_BUCKET_NAME_LONG] = '\0';
    }
}

/* Maps a CT_* code to a PT_R_* answer (or a distinct negative error). */
static int ans(int rc)
{
    switch (rc) {
    case CT_OK:
        return PT_R_OK;
    case CT_NOTFOUND:
        return PT_R_NOTFOUND;
    case CT_EXISTS:
        return PT_R_EXISTS;
    case CT_TOOBIG:
        return PT_R_TOOBIG;
    default:
        return rc < 0 ? rc - 1000 : -1000;
    }
}

static int begin_write(pt_be *b)
{
    return ct_begin(b->db, 0, &b->w);
}

static int ct_be_open(pt_be **out, const pt_case *c, char *err, size_t errcap)
{
    pt_be *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errcap, "cowtree: out of memory");
        return -1;
    }
    ct_memstore_options_init(&b->mo);
    b->mo.page_size = c->page_size;
    b->mo.enable_map = c->map;
    int rc = ct_memstore_create(&b->mo, &b->ps);
    if (rc == CT_OK) {
        ct_options_init(&b->opt);
        b->opt.durability = c->durability;
        b->opt.cache_pages = 8; /* tiny cache when map is off: eviction constantly */
        rc = ct_open(b->ps, &b->opt, &b->db);
    }
    if (rc == CT_OK) {
        rc = begin_write(b);
    }
    if (rc != CT_OK) {
        snprintf(err, errcap, "cowtree open: %s", ct_errname(rc));
        ct_close(b->db);
        if (b->ps) {
            b->ps->ops->close(b->ps);
        }
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static void ct_be_close(pt_be *b)
{
    if (!b) {
        return;
    }
    if (b->cur) {
        ct_cursor_close(b->cur);
    }
    for (unsigned i = 0; i < PT_SNAPS; i++) {
        ct_abort(b->snaps[i]);
    }
    ct_abort(b->w);
    ct_close(b->db);
    b->ps->ops->close(b->ps);
    free(b);
}

/* A fresh store holding a copy of the last commit, or NULL and the error. */
static int copy_last_commit(pt_be *b, unsigned flags, ct_pagestore **out)
{
    *out = NULL;
    int rc = ct_memstore_create(&b->mo, out);
    if (rc == CT_OK) {
        rc = ct_copy(b->db, *out, flags);
    }
    if (rc != CT_OK && *out) {
        (*out)->ops->close(*out);
        *out = NULL;
    }
    return rc;
}

static int ct_be_reopen(pt_be *b)
{
    ct_abort(b->w);
    b->w = NULL;
    unsigned how = b->reopens++ % 3u; /* 0: the store itself; 1, 2: a copy */
    ct_pagestore *copy = NULL;
    int rc = how == 0 ? CT_OK : copy_last_commit(b, how == 2 ? CT_COPY_COMPACT : 0u, &copy);
    if (rc != CT_OK) {
        (void)begin_write(b);
        return ans(rc);
    }
    ct_close(b->db);
    b->db = NULL;
    if (copy) {
        b->ps->ops->close(b->ps);
        b->ps = copy;
    }
    rc = ct_open(b->ps, &b->opt, &b->db);
    if (rc == CT_OK) {
        rc = begin_write(b);
    }
    return ans(rc);
}

static int ct_be_commit(pt_be *b)
{
    int rc = ct_commit(b->w);
    b->w = NULL;
    int rc2 = begin_write(b);
    return ans(rc != CT_OK ? rc : rc2);
}

static void ct_be_abort(pt_be *b)
{
    ct_abort(b->w);
    b->w = NULL;
    (void)begin_write(b);
}

static ct_txn *txn_of(pt_be *b, int snap)
{
    return snap < 0 ? b->w : b->snaps[snap];
}

/* Handle of bucket in txn t (NULL for the default bucket). */
static int handle(ct_txn *t, unsigned bucket, ct_bucket **out)
{
    *out = NULL;
    if (bucket == 0) {
        return PT_R_OK;
    }
    char name[PT_BUCKET_NAME_BYTES];
    pt_bucket_name(bucket, name);
    int rc = ct_bucket_open(t, name, 0, out);
    return rc == CT_NOTFOUND ? PT_R_NOBUCKET : ans(rc);
}

static int ct_be_put(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl, const uint8_t *v,
                     size_t vl, unsigned flags)
{
    ct_bucket *h = NULL;
    int rc = handle(b->w, bucket, &h);
    if (rc != PT_R_OK) {
        return rc;
    }
    unsigned f = ((flags & PT_F_NOOVERWRITE) ? CT_NOOVERWRITE : 0u) |
                 ((flags & PT_F_APPEND) ? CT_APPEND : 0u);
    return ans(ct_put(b->w, h, k, kl, v, vl, f));
}

static int ct_be_get(pt_be *b, int snap, unsigned bucket, const uint8_t *k, size_t kl,
                     const uint8_t **v, size_t *vl)
{
    ct_txn *t = txn_of(b, snap);
    ct_bucket *h = NULL;
    int rc = handle(t, bucket, &h);
    if (rc != PT_R_OK) {
        return rc;
    }
    const void *p = NULL;
    rc = ct_get(t, h, k, kl, &p, vl);
    *v = p;
    return ans(rc);
}

static int ct_be_del(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl)
{
    ct_bucket *h = NULL;
    int rc = handle(b->w, bucket, &h);
    if (rc != PT_R_OK) {
        return rc;
    }
    return ans(ct_del(b->w, h, k, kl));
}

static int ct_be_bucket_create(pt_be *b, unsigned bucket)
{
    char name[PT_BUCKET_NAME_BYTES];
    pt_bucket_name(bucket, name);
    ct_bucket *h = NULL;
    return ans(ct_bucket_open(b->w, name, CT_CREATE | CT_EXCL, &h));
}

static int ct_be_bucket_drop(pt_be *b, unsigned bucket)
{
    char name[PT_BUCKET_NAME_BYTES];
    pt_bucket_name(bucket, name);
    int rc = ct_bucket_drop(b->w, name);
    return rc == CT_NOTFOUND ? PT_R_NOBUCKET : ans(rc);
}

static int ct_be_snap_begin(pt_be *b, unsigned slot)
{
    return ans(ct_begin(b->db, CT_TXN_RDONLY, &b->snaps[slot]));
}

static void ct_be_snap_end(pt_be *b, unsigned slot)
{
    ct_abort(b->snaps[slot]);
    b->snaps[slot] = NULL;
}

typedef struct listed {
    const char *name;
    int seen;
    unsigned count;
} listed;

static int note_listed(void *ctx, const char *name, size_t len)
{
    listed *l = ctx;
    l->count++;
    l->seen += strlen(l->name) == len && memcmp(l->name, name, len) == 0;
    return 0;
}

/* The reference backends list no buckets, so cowtree's listing, stat and
   txn id are checked against cowtree's own answers where a dump opens a
   bucket: ct_bucket_list must name the bucket exactly when ct_bucket_open
   finds it, and ct_bucket_stat must count the entries a cursor walks. A
   disagreement is a backend error, which fails the case. */
static int cross_check(ct_txn *t, unsigned bucket, int present, ct_bucket *h)
{
    char name[PT_BUCKET_NAME_BYTES];
    pt_bucket_name(bucket, name);
    listed l = {name, 0, 0};
    if (ct_bucket_list(t, note_listed, &l) != CT_OK || l.seen != (bucket != 0 && present)) {
        return -1000;
    }
    if (!present) {
        return 0;
    }
    struct ct_bucket_stat st;
    ct_cursor *c = NULL;
    if (ct_bucket_stat(t, h, &st) != CT_OK || ct_cursor_open(t, h, &c) != CT_OK) {
        return -1001;
    }
    uint64_t walked = 0;
    int rc = ct_cursor_first(c);
    for (; rc == CT_OK; rc = ct_cursor_next(c)) {
        walked++;
    }
    ct_cursor_close(c);
    if (rc != CT_NOTFOUND || walked != st.entries || (st.entries == 0) != (st.depth == 0)) {
        return -1002;
    }
    return 0;
}

static int ct_be_cur_open(pt_be *b, int snap, unsigned bucket)
{
    ct_txn *t = txn_of(b, snap);
    ct_bucket *h = NULL;
    int rc = handle(t, bucket, &h);
    if (rc != PT_R_OK && rc != PT_R_NOBUCKET) {
        return rc;
    }
    int x = cross_check(t, bucket, rc == PT_R_OK, h);
    if (x != 0) {
        return x;
    }
    if (rc != PT_R_OK) {
        return rc;
    }
    return ans(ct_cursor_open(t, h, &b->cur));
}

static int ct_be_cur_move(pt_be *b, int how, const uint8_t *k, size_t kl)
{
    switch (how) {
    case PT_CUR_FIRST:
        return ans(ct_cursor_first(b->cur));
    case PT_CUR_LAST:
        return ans(ct_cursor_last(b->cur));
    case PT_CUR_SEEK:
        return ans(ct_cursor_seek(b->cur, k, kl));
    case PT_CUR_NEXT:
        return ans(ct_cursor_next(b->cur));
    default:
        return ans(ct_cursor_prev(b->cur));
    }
}

static int ct_be_cur_get(pt_be *b, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    const void *kp = NULL;
    const void *vp = NULL;
    int rc = ct_cursor_get(b->cur, &kp, kl, &vp, vl);
    *k = kp;
    *v = vp;
    return ans(rc);
}

static void ct_be_cur_close(pt_be *b)
{
    ct_cursor_close(b->cur);
    b->cur = NULL;
}

static int ct_be_check(pt_be *b, char *why, size_t cap)
{
    ct_check_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = ct_check(b->db, &rep);
    if (rc == CT_OK) {
        return 0;
    }
    snprintf(why, cap, "ct_check: %s, %llu problems, first at page %llu: %s", ct_errname(rc),
             (unsigned long long)rep.problems, (unsigned long long)rep.first_problem_pgno,
             rep.first_problem);
    return -1;
}

const pt_be_ops pt_be_cowtree = {
    .name = "cowtree",
    .open = ct_be_open,
    .close = ct_be_close,
    .reopen = ct_be_reopen,
    .commit = ct_be_commit,
    .abort = ct_be_abort,
    .put = ct_be_put,
    .get = ct_be_get,
    .del = ct_be_del,
    .bucket_create = ct_be_bucket_create,
    .bucket_drop = ct_be_bucket_drop,
    .snap_begin = ct_be_snap_begin,
    .snap_end = ct_be_snap_end,
    .cur_open = ct_be_cur_open,
    .cur_move = ct_be_cur_move,
    .cur_get = ct_be_cur_get,
    .cur_close = ct_be_cur_close,
    .check = ct_be_check,
};
