/*
 * check.c - ct_check: reads every page reachable from the last commit and
 * accounts for every page below the high-water mark: each is exactly one
 * of meta, live tree page (branch, leaf, overflow), free-list page, or
 * free. Verifies checksums and page identity (through ct__page_get, every
 * page again, never trusting the verified-page memo), key
 * order inside pages (node validation) and across them (each child's keys
 * lie within its parent's separators), the fill bound of non-root pages,
 * entry counts, the catalog and both meta pages as stored.
 * Never writes. Memory: one bit per page plus the pages it reads.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct checker {
    ct_txn *t;
    ct_check_report *r;
    uint8_t *bits;
    uint64_t hwm;
} checker;

static int problem(checker *k, uint64_t pgno, const char *what)
{
    if (k->r->problems++ == 0) {
        k->r->first_problem_pgno = pgno;
        snprintf(k->r->first_problem, sizeof(k->r->first_problem), "page %llu: %s",
                 (unsigned long long)pgno, what);
    }
    return CT_CORRUPT;
}

static int claim(checker *k, uint64_t pgno, uint64_t npages, const char *what)
{
    if (pgno >= k->hwm || npages > k->hwm - pgno) {
        return problem(k, pgno, what);
    }
    for (uint64_t p = pgno; p < pgno + npages; p++) {
        uint8_t m = (uint8_t)(1u << (p & 7u));
        if (k->bits[p >> 3] & m) {
            return problem(k, p, "page used twice (live twice, or live and free)");
        }
        k->bits[p >> 3] |= m;
    }
    return CT_OK;
}

/* The catalog's buckets, found while walking it. Grown as they are found:
   the meta's bucket count is only compared, never used as a size (a
   corrupt count would size the allocation). */
typedef struct bucket_list {
    ct__tree *v;
    size_t n;
    size_t cap;
} bucket_list;

static int bucket_list_add(checker *k, bucket_list *bl, const uint8_t *desc, size_t len,
                           uint64_t pgno)
{
    int rc = ct__grow(&k->t->db->alloc, (void **)&bl->v, &bl->cap, bl->n + 1u, sizeof(*bl->v));
    if (rc != CT_OK) {
        return rc;
    }
    if (ct__bucket_desc_decode(desc, len, &bl->v[bl->n]) != CT_OK) {
        return problem(k, pgno, "bad bucket descriptor");
    }
    bl->n++;
    return CT_OK;
}

typedef struct frame {
    uint64_t pgno;
    uint64_t gen;
    uint32_t idx;
    const uint8_t *page;
    const uint8_t *lo; /* keys of this subtree are >= lo (NULL: no bound) */
    uint32_t lolen;
    const uint8_t *hi; /* and < hi */
    uint32_t hilen;
} frame;

static int check_leaf(checker *k, const frame *f, uint64_t *entries, bucket_list *catalog)
{
    uint32_t n = ct__ph_count(f->page);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(f->page, i);
        const uint8_t *key = ct__leaf_key(c);
        uint32_t klen = ct__leaf_klen(c);
        if ((f->lo && ct__key_cmp(key, klen, f->lo, f->lolen) < 0) ||
            (f->hi && ct__key_cmp(key, klen, f->hi, f->hilen) >= 0)) {
            return problem(k, f->pgno, "key outside its parent's separators");
        }
        const uint8_t *v = NULL;
        size_t vlen = 0;
        int rc = ct__cell_value(k->t, c, &v, &vlen);
        if (rc == CT_CORRUPT) {
            return problem(k, f->pgno, "bad overflow run");
        }
        if (rc != CT_OK) {
            return rc;
        }
        if (ct__leaf_flags(c) & CT_CELL_OVERFLOW) {
            uint64_t np = ((uint64_t)CT_PAGE_HDR_BYTES + vlen + k->t->db->page_size - 1) /
                          k->t->db->page_size;
            rc = claim(k, ct__get64(ct__leaf_val(c)), np, "overflow run out of range");
            if (rc != CT_OK) {
                return rc;
            }
            k->r->pages_overflow += np;
        }
        if (catalog && (klen == 0 || klen > CT_BUCKET_NAME_MAX || memchr(key, 0, klen))) {
            return problem(k, f->pgno, "catalog key is not a bucket name");
        }
        if (catalog) {
            rc = bucket_list_add(k, catalog, v, vlen, f->pgno);
            if (rc != CT_OK) {
                return rc;
            }
        }
        (*entries)++;
    }
    return CT_OK;
}

/* catalog: the tree is the catalog, its buckets go there (else NULL). */
static int check_tree(checker *k, const ct__tree *tr, bucket_list *catalog)
{
    if (tr->root == 0) {
        return tr->entries == 0 ? CT_OK : problem(k, 0, "entries counted in an empty tree");
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return problem(k, tr->root, "tree depth");
    }
    frame st[CT_DEPTH_MAX];
    memset(st, 0, sizeof(st));
    uint32_t top = 0;
    uint64_t entries = 0;
    st[0].pgno = tr->root;
    st[0].gen = tr->gen;
    st[0].idx = UINT32_MAX;
    for (;;) {
        frame *f = &st[top];
        int leaf = top + 1 == tr->depth;
        if (f->idx == UINT32_MAX) { /* first visit */
            int rc = ct__page_get(k->t, f->pgno, f->gen, leaf ? CT_PT_LEAF : CT_PT_BRANCH,
                                  &f->page);
            if (rc == CT_CORRUPT) {
                return problem(k, f->pgno, "checksum, identity or structure");
            }
            if (rc == CT_OK) {
                rc = claim(k, f->pgno, 1, "tree page out of range");
            }
            if (rc != CT_OK) {
                return rc;
            }
            if (top > 0 && ct__ph_count(f->page) == 0) {
                return problem(k, f->pgno, "empty non-root page");
            }
            /* The right spine (no upper bound) is exempt: appends fill
               pages completely and leave the last one short. */
            if (top > 0 && f->hi != NULL &&
                ct__node_used_bytes(f->page) < ct__node_min_fill(k->t->db->page_size)) {
                return problem(k, f->pgno, "non-root page under a quarter full (fill bound)");
            }
            f->idx = 0;
            if (leaf) {
                k->r->pages_leaf++;
                rc = check_leaf(k, f, &entries, catalog);
                if (rc != CT_OK) {
                    return rc;
                }
            } else {
                k->r->pages_branch++;
            }
        }
        uint32_t n = ct__ph_count(f->page);
        if (!leaf && f->idx < n) {
            const uint8_t *c = ct__node_cell(f->page, f->idx);
            frame *ch = &st[top + 1];
            ch->pgno = ct__branch_child(c);
            ch->gen = ct__branch_gen(c);
            ch->idx = UINT32_MAX;
            ch->lo = f->idx == 0 ? f->lo : ct__branch_key(c);
            ch->lolen = f->idx == 0 ? f->lolen : ct__branch_klen(c);
            if (f->idx + 1 < n) {
                const uint8_t *nc = ct__node_cell(f->page, f->idx + 1);
                ch->hi = ct__branch_key(nc);
                ch->hilen = ct__branch_klen(nc);
            } else {
                ch->hi = f->hi;
                ch->hilen = f->hilen;
            }
            if (f->idx > 0 && ((f->lo && ct__key_cmp(ch->lo, ch->lolen, f->lo, f->lolen) < 0) ||
                               (f->hi && ct__key_cmp(ch->lo, ch->lolen, f->hi, f->hilen) >= 0))) {
                return problem(k, f->pgno, "separator outside its parent's range");
            }
            f->idx++;
            top++;
            continue;
        }
        if (top == 0) {
            break;
        }
        top--;
    }
    if (entries != tr->entries) {
        return problem(k, tr->root, "entry count differs from the tree's descriptor");
    }
    k->r->entries += catalog ? 0u : entries;
    return CT_OK;
}

static int check_free(checker *k, const ct__meta *m)
{
    ct__freeset fs;
    int rc = ct__freelist_load(k->t->db, m, &fs);
    if (rc == CT_CORRUPT) {
        return problem(k, m->free_head, "free list unreadable");
    }
    if (rc != CT_OK) {
        return rc;
    }
    for (size_t i = 0; i < fs.chain_count && rc == CT_OK; i++) {
        rc = claim(k, fs.chain[i], 1, "free-list page out of range");
        k->r->pages_freelist++;
    }
    for (size_t i = 0; i < fs.count && rc == CT_OK; i++) {
        rc = claim(k, fs.v[i].pgno, 1, "free page out of range");
        k->r->pages_free++;
    }
    ct__freeset_free(k->t->db, &fs);
    return rc;
}

/* Both meta slots as the store holds them now: the snapshot's meta was
   verified at open or written since, and may have rotted in place, which
   the next open would silently answer with the older slot's commit. Read
   between two meta writes only (meta_seq even and unchanged), so a commit
   writing a slot meanwhile is no torn read; when commits keep writing,
   the slots are left unchecked. After a crash a read-only open leaves the
   in-flight commit's torn meta in place: a problem here too. */
static int check_metas(checker *k)
{
    ct_db *db = k->t->db;
    uint8_t *buf = ct__malloc(&db->alloc, 2u * (size_t)db->page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    int rc = CT_OK;
    int read = 0;
    for (int attempt = 0; attempt < 16 && !read && rc == CT_OK; attempt++) {
        pthread_mutex_lock(&db->mu);
        uint64_t before = db->meta_seq;
        pthread_mutex_unlock(&db->mu);
        rc = ct__store_read(db, 0, 2, buf);
        pthread_mutex_lock(&db->mu);
        read = (before & 1u) == 0 && db->meta_seq == before;
        pthread_mutex_unlock(&db->mu);
    }
    for (int slot = 0; slot < 2 && read && rc == CT_OK; slot++) {
        ct__meta m;
        if (ct__meta_decode(buf + (size_t)slot * db->page_size, db->page_size, slot, &m) !=
            CT_OK) {
            rc = problem(k, (uint64_t)slot, "meta page fails its checksum or does not decode");
        }
    }
    ct__free(&db->alloc, buf);
    return rc;
}

static int check_all(checker *k, const ct__meta *m)
{
    int rc = claim(k, 0, 2, "meta");
    k->r->pages_meta = 2;
    if (rc == CT_OK) {
        rc = check_metas(k);
    }
    if (rc == CT_OK) {
        rc = check_tree(k, &m->main, NULL);
    }
    bucket_list buckets = {NULL, 0, 0};
    if (rc == CT_OK) {
        rc = check_tree(k, &m->catalog, &buckets);
    }
    if (rc == CT_OK && buckets.n != m->buckets) {
        rc = problem(k, m->catalog.root, "bucket count differs from the meta");
    }
    for (size_t i = 0; i < buckets.n && rc == CT_OK; i++) {
        rc = check_tree(k, &buckets.v[i], NULL);
    }
    ct__free(&k->t->db->alloc, buckets.v);
    k->r->buckets = buckets.n;
    if (rc == CT_OK) {
        rc = check_free(k, m);
    }
    for (uint64_t p = 0; p < k->hwm && rc == CT_OK; p++) {
        if (!(k->bits[p >> 3] & (1u << (p & 7u)))) {
            rc = problem(k, p, "page leaked: neither live nor free");
        }
    }
    return rc;
}

int ct_check(ct_db *db, ct_check_report *report)
{
    if (!db) {
        return CT_INVALID;
    }
    ct_check_report local;
    ct_check_report *r = report ? report : &local;
    memset(r, 0, sizeof(*r));
    ct_txn *t = NULL;
    int rc = ct_begin(db, CT_TXN_RDONLY, &t);
    if (rc != CT_OK) {
        return rc;
    }
    /* A check re-reads what is there now: no page is taken on the memo's
       word (bytes may have rotted in place since they were verified). */
    t->verify_all = 1;
    checker k;
    k.t = t;
    k.r = r;
    k.hwm = t->meta.hwm;
    r->pages_total = k.hwm;
    k.bits = ct__calloc(&db->alloc, (size_t)(k.hwm / 8 + 1), 1);
    rc = k.bits ? check_all(&k, &t->meta) : CT_NOMEM;
    ct__free(&db->alloc, k.bits);
    ct_abort(t);
    return rc;
}
