/*
 * copy.c - ct_copy: a consistent copy of the newest commit into another
 * page store (hot backup), optionally compacted.
 *
 * A read txn pins the snapshot, so writers keep committing meanwhile. The
 * copy walks every tree of the snapshot (main, catalog, each bucket) and
 * its overflow runs, verifying each page as it reads it (checksum,
 * identity, structure), and writes it to the destination:
 *   - plain: at the same page number, unchanged; every other page below
 *     the high-water mark goes on a fresh free list (the source's free
 *     list is not read: readers do not pin it);
 *   - CT_COPY_COMPACT: renumbered densely in walk order (branch pointers,
 *     overflow references and bucket descriptors rewritten, pages
 *     resealed), with no free list.
 * Pages keep their txn ids, so every pointer's generation still matches.
 * The destination gets its data pages, a sync, then the same meta in both
 * slots and a second sync: a copy cut short by a crash has no valid meta
 * and never opens as a database; one that fails empties the destination.
 * Memory: one page (or run) buffer, a bitmap and a stack of pending pages.
 */
#include <string.h>

#include "internal.h"

typedef struct copy_item {
    uint64_t pgno; /* in the source */
    uint64_t gen;
    uint64_t dst;    /* page number in the destination */
    uint32_t npages; /* overflow run: its pages; tree page: 0 */
    uint32_t level;  /* tree page: its level, 0 = root */
    uint32_t depth;  /* tree page: its tree's depth */
    int catalog;     /* tree page of the catalog; run: it holds a bucket descriptor */
} copy_item;

typedef struct copier {
    ct_txn *t;
    ct_pagestore *dst;
    int compact;
    uint64_t next;  /* compact: next free destination page */
    uint8_t *live;  /* one bit per source page reached */
    copy_item *stack;
    size_t count;
    size_t cap;
    uint8_t *buf;
    size_t buf_bytes;
} copier;

static int push(copier *k, uint64_t pgno, uint64_t gen, uint32_t npages, uint32_t level,
                uint32_t depth, int catalog, uint64_t *dst)
{
    const ct__meta *m = &k->t->meta;
    uint32_t span = npages ? npages : 1u;
    if (pgno < 2 || pgno >= m->hwm || span > m->hwm - pgno || gen > m->txnid) {
        return CT__CORRUPT(pgno, "pointer out of range");
    }
    int rc = ct__grow(&k->t->db->alloc, (void **)&k->stack, &k->cap, k->count + 1,
                      sizeof(*k->stack));
    if (rc != CT_OK) {
        return rc;
    }
    /* Both kinds: a compact copy would otherwise copy a shared subtree
       twice and hide the damage. */
    for (uint64_t p = pgno; p < pgno + span; p++) {
        uint8_t bit = (uint8_t)(1u << (p & 7u));
        if (k->live[p >> 3] & bit) {
            return CT__CORRUPT(p, "page reachable twice");
        }
        k->live[p >> 3] |= bit;
    }
    *dst = pgno;
    if (k->compact) {
        *dst = k->next;
        k->next += span;
    }
    k->stack[k->count++] = (copy_item){pgno, gen, *dst, npages, level, depth, catalog};
    return CT_OK;
}

static int push_tree(copier *k, ct__tree *tr, int catalog)
{
    if (tr->root == 0) {
        return CT_OK;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    return push(k, tr->root, tr->gen, 0, 0, tr->depth, catalog, &tr->root);
}

/* Queues a leaf's overflow runs and (catalog) bucket trees, rewriting
   their references when compacting. */
static int leaf_refs(copier *k, uint8_t *p, int catalog)
{
    ct_db *db = k->t->db;
    uint32_t n = ct__ph_count(p);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *c = (uint8_t *)ct__node_cell(p, i);
        uint8_t *v = (uint8_t *)ct__leaf_val(c);
        uint32_t vlen = ct__leaf_vlen(c);
        int rc = CT_OK;
        if (ct__leaf_flags(c) & CT_CELL_OVERFLOW) {
            /* In the catalog, a run holds the descriptor beside a long name
               at small pages: copy_one queues its bucket's tree. */
            uint64_t np = ((uint64_t)CT_PAGE_HDR_BYTES + vlen + db->page_size - 1) / db->page_size;
            uint64_t dst = 0;
            rc = push(k, ct__get64(v), ct__get64(v + 8), (uint32_t)np, 0, 0, catalog, &dst);
            ct__put64(v, dst);
        } else if (catalog) {
            ct__tree bt;
            rc = ct__bucket_desc_decode(v, vlen, &bt);
            if (rc == CT_OK) {
                rc = push_tree(k, &bt, 0);
                ct__put64(v, bt.root);
            }
        }
        if (rc != CT_OK) {
            return rc;
        }
    }
    return CT_OK;
}

/* A run holding a bucket descriptor: queues the bucket's tree and writes
   the root it gets in the copy back into the descriptor. */
static int run_desc_refs(copier *k, uint8_t *run)
{
    ct__tree bt;
    uint8_t *desc = run + CT_PAGE_HDR_BYTES;
    int rc = ct__bucket_desc_decode(desc, ct__ph_aux(run), &bt);
    if (rc == CT_OK) {
        rc = push_tree(k, &bt, 0);
        ct__put64(desc, bt.root);
    }
    return rc;
}

/* Reads, verifies, rewrites (compact) and writes one queued item. */
static int copy_one(copier *k, const copy_item *it)
{
    ct_db *db = k->t->db;
    uint32_t span = it->npages ? it->npages : 1u;
    size_t bytes = (size_t)span * db->page_size;
    int rc = ct__grow(&db->alloc, (void **)&k->buf, &k->buf_bytes, bytes, 1);
    if (rc != CT_OK) {
        return rc;
    }
    uint8_t *p = k->buf;
    int leaf = it->level + 1 == it->depth;
    uint8_t type = it->npages ? CT_PT_OVERFLOW : leaf ? CT_PT_LEAF : CT_PT_BRANCH;
    rc = ct__store_read(db, it->pgno, span, p);
    if (rc == CT_OK) {
        rc = ct__page_verify(p, bytes, type, it->pgno, it->gen);
    }
    if (rc == CT_OK && type != CT_PT_OVERFLOW) {
        rc = ct__node_validate(p, db->page_size, db->key_max);
    }
    if (rc == CT_OK && type == CT_PT_OVERFLOW && ct__ph_upper(p) != span) {
        rc = CT__CORRUPT(it->pgno, "overflow run length");
    }
    if (rc != CT_OK) {
        return rc;
    }
    if (type == CT_PT_LEAF) {
        rc = leaf_refs(k, p, it->catalog);
    } else if (type == CT_PT_OVERFLOW && it->catalog) {
        rc = run_desc_refs(k, p);
    } else if (type == CT_PT_BRANCH) {
        uint32_t n = ct__ph_count(p);
        for (uint32_t i = 0; i < n && rc == CT_OK; i++) {
            uint8_t *c = (uint8_t *)ct__node_cell(p, i);
            uint64_t dst = 0;
            rc = push(k, ct__branch_child(c), ct__branch_gen(c), 0, it->level + 1, it->depth,
                      it->catalog, &dst);
            ct__branch_set_child(c, dst, ct__branch_gen(c));
        }
    }
    if (rc != CT_OK) {
        return rc;
    }
    if (k->compact) {
        ct__put64(p + CT_PH_PGNO, it->dst);
        ct__page_seal(p, bytes);
    }
    return k->dst->ops->write(k->dst, it->dst, span, p);
}

static int walk(copier *k, ct__meta *m)
{
    int rc = push_tree(k, &m->main, 0);
    if (rc == CT_OK) {
        rc = push_tree(k, &m->catalog, 1);
    }
    while (rc == CT_OK && k->count > 0) {
        copy_item it = k->stack[--k->count];
        rc = copy_one(k, &it);
    }
    return rc;
}

/* Plain copy: every page below hwm that is not live goes on a new chain,
   written on the lowest of those pages. */
static int write_free_list(copier *k, ct__meta *m)
{
    ct_db *db = k->t->db;
    uint32_t per = ct__freelist_per_page(db->page_size);
    size_t nfree = 0;
    for (uint64_t p = 2; p < m->hwm; p++) {
        nfree += !(k->live[p >> 3] & (1u << (p & 7u)));
    }
    m->free_head = 0;
    m->free_gen = 0;
    m->free_count = 0;
    m->free_inline = 0; /* the source's entries in its meta: listed anew below */
    if (nfree == 0) {
        return CT_OK;
    }
    uint64_t *pg = ct__malloc(&db->alloc, nfree * sizeof(*pg));
    if (!pg) {
        return CT_NOMEM;
    }
    size_t n = 0;
    for (uint64_t p = 2; p < m->hwm; p++) {
        if (!(k->live[p >> 3] & (1u << (p & 7u)))) {
            pg[n++] = p;
        }
    }
    size_t nchain = 1; /* fewest chain pages c with c * per >= nfree - c */
    while (nchain * per < nfree - nchain) {
        nchain++;
    }
    const uint64_t *entries = pg + nchain;
    size_t nentries = nfree - nchain;
    uint8_t *page = k->buf;
    int rc = CT_OK;
    for (size_t c = 0; c < nchain && rc == CT_OK; c++) {
        memset(page, 0, db->page_size);
        ct__page_init(page, CT_PT_FREELIST, pg[c], m->txnid);
        uint64_t next = c + 1 < nchain ? pg[c + 1] : 0;
        ct__put64(page + CT_PAGE_HDR_BYTES, next);
        ct__put64(page + CT_PAGE_HDR_BYTES + 8, next ? m->txnid : 0);
        size_t from = c * per;
        size_t cnt = nentries - from < per ? nentries - from : per;
        for (size_t i = 0; i < cnt; i++) {
            uint8_t *e = page + CT_PAGE_HDR_BYTES + 16u + i * 16u;
            ct__put64(e, entries[from + i]);
            ct__put64(e + 8, 0);
        }
        ct__ph_set_count(page, (uint16_t)cnt);
        ct__page_seal(page, db->page_size);
        rc = k->dst->ops->write(k->dst, pg[c], 1, page);
    }
    m->free_head = pg[0];
    m->free_gen = m->txnid;
    m->free_count = nentries;
    ct__free(&db->alloc, pg);
    return rc;
}

static int finish(copier *k, ct__meta *m)
{
    ct_db *db = k->t->db;
    int rc = CT_OK;
    if (k->compact) {
        m->hwm = k->next;
        m->free_head = 0;
        m->free_gen = 0;
        m->free_count = 0;
        m->free_inline = 0;
    } else {
        rc = ct__grow(&db->alloc, (void **)&k->buf, &k->buf_bytes, db->page_size, 1);
        if (rc == CT_OK) {
            rc = write_free_list(k, m);
        }
    }
    m->durable_base = m->txnid;
    if (rc == CT_OK && m->hwm > 2) {
        /* The size is the high-water mark even when its last pages are
           free (plain) and so were never written. */
        rc = k->dst->ops->resize(k->dst, m->hwm);
    }
    if (rc == CT_OK) {
        rc = k->dst->ops->sync(k->dst);
    }
    for (int slot = 0; slot < 2 && rc == CT_OK; slot++) {
        ct__meta_encode(m, k->buf, db->page_size, slot);
        rc = k->dst->ops->write(k->dst, (uint64_t)slot, 1, k->buf);
    }
    if (rc == CT_OK) {
        rc = k->dst->ops->sync(k->dst);
    }
    return rc;
}

int ct_copy(ct_db *db, ct_pagestore *dst, unsigned flags)
{
    if (!db || !dst || !dst->ops || (flags & ~CT_COPY_COMPACT) ||
        dst->page_size != db->page_size) {
        return CT_INVALID;
    }
    uint64_t size = 0;
    int rc = dst->ops->size(dst, &size);
    if (rc != CT_OK) {
        return rc;
    }
    if (size != 0) {
        return CT_INVALID; /* never overwrite a store that holds something */
    }
    copier k;
    memset(&k, 0, sizeof(k));
    k.dst = dst;
    k.compact = (flags & CT_COPY_COMPACT) != 0;
    k.next = 2;
    rc = ct_begin(db, CT_TXN_RDONLY, &k.t);
    if (rc != CT_OK) {
        return rc;
    }
    ct__meta m = k.t->meta;
    k.live = ct__calloc(&db->alloc, (size_t)(m.hwm / 8 + 1), 1);
    rc = k.live ? CT_OK : CT_NOMEM;
    if (rc == CT_OK) {
        rc = walk(&k, &m);
    }
    if (rc == CT_OK) {
        rc = ct__grow(&db->alloc, (void **)&k.buf, &k.buf_bytes, db->page_size, 1);
    }
    if (rc == CT_OK) {
        rc = finish(&k, &m);
    }
    if (rc != CT_OK) {
        /* Empty again, so no meta the store took before failing can open
           it and the caller may retry into it. Best effort: a store that
           refuses this too is named in ct_copy's comment. */
        (void)dst->ops->resize(dst, 0);
    }
    ct__free(&db->alloc, k.live);
    ct__free(&db->alloc, k.stack);
    ct__free(&db->alloc, k.buf);
    ct_abort(k.t);
    return rc;
}
