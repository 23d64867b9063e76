/*
 * bucketlist.c - ct_bucket_list (the named buckets, in name order) and
 * ct_bucket_stat (the shape of one bucket's tree). Both walk a tree with a
 * fixed-depth stack through ct__page_get, so every page they look at has
 * passed its checksum, identity and node validation; bad bytes come back
 * as CT_CORRUPT, never as a crash or an endless walk.
 *
 * Invariants: a walk reads at most hwm tree pages (a pointer cycle in a
 * damaged tree ends as CT_CORRUPT); names are handed out strictly
 * ascending; a write txn's buckets created but not yet in the catalog are
 * merged into the listing, so it matches what a commit would store.
 * Never writes: neither function changes the txn, the catalog or a page.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- the walk ------------------------------------------------------------ */

/* Called for each page of a tree in depth-first, key order. */
typedef int (*page_fn)(ct_txn *t, uint64_t pgno, const uint8_t *page, int leaf, void *ctx);

typedef struct frame {
    uint64_t pgno;
    uint64_t gen;
    const uint8_t *page; /* NULL until read */
    uint32_t idx;        /* next child to visit (branch) */
} frame;

static int walk_tree(ct_txn *t, const ct__tree *tr, page_fn fn, void *ctx)
{
    if (tr->root == 0) {
        return CT_OK;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    frame st[CT_DEPTH_MAX];
    uint32_t top = 0;
    uint64_t visited = 0;
    st[0] = (frame){tr->root, tr->gen, NULL, 0};
    for (;;) {
        frame *f = &st[top];
        int leaf = top + 1 == tr->depth;
        if (!f->page) {
            if (++visited > t->meta.hwm) {
                return CT__CORRUPT(f->pgno, "tree reaches more pages than the store holds");
            }
            int rc = ct__page_get(t, f->pgno, f->gen, leaf ? CT_PT_LEAF : CT_PT_BRANCH, &f->page);
            if (rc != CT_OK) {
                return rc;
            }
            if (top > 0 && ct__ph_count(f->page) == 0) {
                return CT__CORRUPT(f->pgno, "empty non-root page");
            }
            rc = fn(t, f->pgno, f->page, leaf, ctx);
            if (rc != CT_OK) {
                return rc;
            }
        }
        if (!leaf && f->idx < ct__ph_count(f->page)) {
            const uint8_t *c = ct__node_cell(f->page, f->idx);
            f->idx++;
            top++;
            st[top] = (frame){ct__branch_child(c), ct__branch_gen(c), NULL, 0};
            continue;
        }
        if (top == 0) {
            return CT_OK;
        }
        top--;
    }
}

/* ---- ct_bucket_list --------------------------------------------------------- */

typedef struct lister {
    int (*fn)(void *ctx, const char *name, size_t name_len);
    void *ctx;
    uint64_t mod_seq;    /* the txn's, at the start: a change means the callback wrote */
    ct_bucket **pending; /* write txn: created, not in the catalog yet; sorted */
    size_t pending_count;
    size_t pending_next;
    char prev[CT_BUCKET_NAME_MAX + 1];
    size_t prev_len; /* 0 = nothing emitted yet (names are never empty) */
    char name[CT_BUCKET_NAME_MAX + 1];
} lister;

static int emit(ct_txn *t, lister *l, uint64_t pgno, const uint8_t *name, size_t len)
{
    if (l->prev_len > 0 && ct__key_cmp((const uint8_t *)l->prev, l->prev_len, name, len) >= 0) {
        return CT__CORRUPT(pgno, "catalog names out of order");
    }
    memcpy(l->name, name, len);
    l->name[len] = '\0';
    memcpy(l->prev, name, len);
    l->prev_len = len;
    int rc = l->fn(l->ctx, l->name, len);
    if (rc != 0) {
        return rc;
    }
    /* The walk holds page pointers a write in the txn may free. */
    return t->mod_seq == l->mod_seq ? CT_OK : CT_INVALID;
}

/* Emits the pending names below key (all of them when key is NULL). */
static int emit_pending(ct_txn *t, lister *l, const uint8_t *key, size_t klen)
{
    while (l->pending_next < l->pending_count) {
        const ct_bucket *b = l->pending[l->pending_next];
        if (key && ct__key_cmp((const uint8_t *)b->name, b->name_len, key, klen) >= 0) {
            break;
        }
        l->pending_next++;
        int rc = emit(t, l, 0, (const uint8_t *)b->name, b->name_len);
        if (rc != CT_OK) {
            return rc;
        }
    }
    return CT_OK;
}

static int list_page(ct_txn *t, uint64_t pgno, const uint8_t *page, int leaf, void *ctx)
{
    lister *l = ctx;
    if (!leaf) {
        return CT_OK;
    }
    uint32_t n = ct__ph_count(page);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(page, i);
        const uint8_t *key = ct__leaf_key(c);
        size_t klen = ct__leaf_klen(c);
        if (klen == 0 || klen > CT_BUCKET_NAME_MAX || memchr(key, 0, klen) != NULL) {
            return CT__CORRUPT(pgno, "catalog key is not a bucket name");
        }
        /* The descriptor is inline, or in an overflow run beside a long name
           at small pages. */
        const uint8_t *v = NULL;
        size_t vlen = 0;
        ct__tree desc;
        int rc = ct__cell_value(t, c, &v, &vlen);
        if (rc == CT_OK) {
            rc = ct__bucket_desc_decode(v, vlen, &desc);
        }
        if (rc == CT_OK) {
            rc = emit_pending(t, l, key, klen);
        }
        if (rc == CT_OK) {
            rc = emit(t, l, pgno, key, klen);
        }
        if (rc != CT_OK) {
            return rc;
        }
    }
    return CT_OK;
}

static int bucket_cmp(const void *a, const void *b)
{
    const ct_bucket *x = *(ct_bucket *const *)a;
    const ct_bucket *y = *(ct_bucket *const *)b;
    return ct__key_cmp((const uint8_t *)x->name, x->name_len, (const uint8_t *)y->name,
                       y->name_len);
}

/* A write txn's live buckets created in it: not in the catalog until commit. */
static int collect_pending(ct_txn *t, lister *l)
{
    size_t n = 0;
    for (ct_bucket *b = t->buckets; b; b = b->next) {
        n += b->created && !b->dropped;
    }
    if (n == 0) {
        return CT_OK;
    }
    l->pending = ct__malloc(&t->db->alloc, n * sizeof(*l->pending));
    if (!l->pending) {
        return CT_NOMEM;
    }
    for (ct_bucket *b = t->buckets; b; b = b->next) {
        if (b->created && !b->dropped) {
            l->pending[l->pending_count++] = b;
        }
    }
    qsort(l->pending, l->pending_count, sizeof(*l->pending), bucket_cmp);
    return CT_OK;
}

int ct_bucket_list(ct_txn *t, int (*fn)(void *ctx, const char *name, size_t name_len), void *ctx)
{
    if (!t || !fn) {
        return CT_INVALID;
    }
    if (t->failed) {
        return t->failed;
    }
    lister *l = ct__calloc(&t->db->alloc, 1, sizeof(*l));
    if (!l) {
        return CT_NOMEM;
    }
    l->fn = fn;
    l->ctx = ctx;
    l->mod_seq = t->mod_seq;
    int rc = collect_pending(t, l);
    if (rc == CT_OK) {
        rc = walk_tree(t, &t->meta.catalog, list_page, l);
    }
    if (rc == CT_OK) {
        rc = emit_pending(t, l, NULL, 0);
    }
    ct__free(&t->db->alloc, l->pending);
    ct__free(&t->db->alloc, l);
    return rc;
}

/* ---- ct_bucket_stat ---------------------------------------------------------- */

static int stat_leaf(ct_txn *t, uint64_t pgno, const uint8_t *page, struct ct_bucket_stat *s)
{
    uint32_t ps = t->db->page_size;
    uint32_t n = ct__ph_count(page);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(page, i);
        uint32_t vlen = ct__leaf_vlen(c);
        s->key_bytes += ct__leaf_klen(c);
        s->value_bytes += vlen;
        if (ct__leaf_flags(c) & CT_CELL_OVERFLOW) {
            /* The run is not read: its reference must lie inside the store. */
            uint64_t run = ct__get64(ct__leaf_val(c));
            uint64_t np = ((uint64_t)CT_PAGE_HDR_BYTES + vlen + ps - 1) / ps;
            if (vlen > CT_VALUE_MAX_BYTES || run < 2 || run >= t->meta.hwm ||
                np > t->meta.hwm - run) {
                return CT__CORRUPT(pgno, "overflow reference out of range");
            }
            s->pages_overflow += np;
            s->overflow_value_bytes += vlen;
        }
    }
    s->entries += n;
    s->pages_leaf++;
    s->leaf_used_bytes += CT_PAGE_HDR_BYTES + ct__node_used_bytes(page);
    return CT_OK;
}

static int stat_page(ct_txn *t, uint64_t pgno, const uint8_t *page, int leaf, void *ctx)
{
    struct ct_bucket_stat *s = ctx;
    if (leaf) {
        return stat_leaf(t, pgno, page, s);
    }
    s->pages_branch++;
    s->branch_used_bytes += CT_PAGE_HDR_BYTES + ct__node_used_bytes(page);
    return CT_OK;
}

int ct_bucket_stat(ct_txn *t, ct_bucket *b, struct ct_bucket_stat *out)
{
    if (!t || !out) {
        return CT_INVALID;
    }
    int rc = ct__bucket_check(t, &b);
    if (rc != CT_OK) {
        return rc;
    }
    if (t->failed) {
        return t->failed;
    }
    struct ct_bucket_stat s;
    memset(&s, 0, sizeof(s));
    s.page_size = t->db->page_size;
    s.depth = b->tree.depth;
    rc = walk_tree(t, &b->tree, stat_page, &s);
    if (rc == CT_OK && s.entries != b->tree.entries) {
        rc = CT__CORRUPT(b->tree.root, "entry count differs from the tree's descriptor");
    }
    if (rc == CT_OK) {
        *out = s;
    }
    return rc;
}
