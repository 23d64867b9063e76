/*
 * recover.c - open-time recovery and database creation.
 *
 * Creation writes both meta slots (txn 0 in slot 0, txn 1 in slot 1) and
 * syncs before anything else, so a store holding only those two pages with
 * no valid meta is an interrupted creation and is created afresh; a larger
 * store without a valid meta is CT_CORRUPT, never a new empty database.
 * Recovery takes the valid meta with the highest txn id whose commit
 * validates (every page written after its durable base, reached through
 * pointers of those generations, verifies), else the other one. An I/O
 * error while validating is returned as is, never taken as a reason to
 * fall back (that could drop an acknowledged commit). A valid meta of a
 * newer format is CT_VERSION (never fall back past a newer engine's
 * commit); a slot that fails its checksum with another page size recorded
 * is CT_VERSION only when the other slot holds no valid meta either.
 *
 * A read-write open then writes a fence: a copy of the recovered meta
 * whose id lies CT_TXNID_WINDOW above every id seen, made durable before
 * any page is written, so no later txn reuses an id that a failed or
 * crashed attempt may have left on pages (limits.h).
 */
#include <string.h>

#include "internal.h"

/* Walks one tree's pages of generation > base (and, for the catalog, the
   bucket trees its new leaves point to). */
static int walk_new(ct_txn *t, const ct__tree *tr, uint64_t base, int catalog,
                    uint32_t *bucket_budget);

static int check_leaf(ct_txn *t, const uint8_t *p, uint64_t base, int catalog,
                      uint32_t *bucket_budget)
{
    uint32_t n = ct__ph_count(p);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = ct__node_cell(p, i);
        if (ct__leaf_flags(c) & CT_CELL_OVERFLOW) {
            const uint8_t *ref = ct__leaf_val(c);
            if (ct__get64(ref + 8) > base) {
                const uint8_t *v = NULL;
                int rc = ct__overflow_get(t, ct__get64(ref), ct__get64(ref + 8),
                                          ct__leaf_vlen(c), &v);
                if (rc != CT_OK) {
                    return rc;
                }
            }
        }
        if (catalog) {
            ct__tree bt;
            const uint8_t *v = NULL;
            size_t vlen = 0;
            int rc = ct__cell_value(t, c, &v, &vlen);
            if (rc == CT_OK) {
                rc = ct__bucket_desc_decode(v, vlen, &bt);
            }
            if (rc == CT_OK && bt.gen > base) {
                if (*bucket_budget == 0) {
                    return CT__CORRUPT(ct__ph_pgno(p), "catalog too large");
                }
                (*bucket_budget)--;
                rc = walk_new(t, &bt, base, 0, bucket_budget);
            }
            if (rc != CT_OK) {
                return rc;
            }
        }
    }
    return CT_OK;
}

static int walk_new(ct_txn *t, const ct__tree *tr, uint64_t base, int catalog,
                    uint32_t *bucket_budget)
{
    if (tr->root == 0 || tr->gen <= base) {
        return CT_OK;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    struct {
        uint64_t pgno;
        uint64_t gen;
        uint32_t idx;
    } st[CT_DEPTH_MAX];
    uint32_t top = 0;
    st[0].pgno = tr->root;
    st[0].gen = tr->gen;
    st[0].idx = 0;
    for (;;) {
        const uint8_t *p = NULL;
        uint8_t type = top + 1 == tr->depth ? CT_PT_LEAF : CT_PT_BRANCH;
        int rc = ct__page_get(t, st[top].pgno, st[top].gen, type, &p);
        if (rc != CT_OK) {
            return rc;
        }
        if (type == CT_PT_LEAF) {
            if (st[top].idx == 0) {
                rc = check_leaf(t, p, base, catalog, bucket_budget);
                if (rc != CT_OK) {
                    return rc;
                }
            }
        } else {
            uint32_t n = ct__ph_count(p);
            while (st[top].idx < n) {
                const uint8_t *c = ct__node_cell(p, st[top].idx++);
                if (ct__branch_gen(c) > base) {
                    top++;
                    st[top].pgno = ct__branch_child(c);
                    st[top].gen = ct__branch_gen(c);
                    st[top].idx = 0;
                    break;
                }
            }
            if (st[top].idx == 0) {
                continue; /* descended */
            }
        }
        if (top == 0) {
            return CT_OK;
        }
        top--;
    }
}

int ct__validate_commit(ct_db *db, const ct__meta *m)
{
    ct_txn t;
    ct__txn_temp_init(db, m, &t);
    uint32_t budget = (uint32_t)(m->buckets < UINT32_MAX ? m->buckets : UINT32_MAX);
    int rc = walk_new(&t, &m->main, m->durable_base, 0, &budget);
    if (rc == CT_OK) {
        rc = walk_new(&t, &m->catalog, m->durable_base, 1, &budget);
    }
    ct__txn_free(&t);
    return rc;
}

static int create_db(ct_db *db)
{
    uint8_t *pages = ct__calloc(&db->alloc, 2, db->page_size);
    if (!pages) {
        return CT_NOMEM;
    }
    ct__meta m;
    memset(&m, 0, sizeof(m));
    m.page_size = db->page_size;
    m.hwm = 2;
    ct__meta_encode(&m, pages, db->page_size, 0);
    m.txnid = 1;
    ct__meta_encode(&m, pages + db->page_size, db->page_size, 1);
    int rc = db->ps->ops->write(db->ps, 0, 2, pages);
    if (rc == CT_OK) {
        rc = db->ps->ops->sync(db->ps);
    }
    ct__free(&db->alloc, pages);
    if (rc != CT_OK) {
        return rc;
    }
    db->meta = m;
    db->meta_slot = 1;
    db->durable_slot = 1;
    db->durable_txnid = 1;
    db->durable_meta = m;
    db->keep_txnid[0] = 0;
    db->keep_txnid[1] = 1;
    db->slot_hwm[0] = 2;
    db->slot_hwm[1] = 2;
    db->next_txnid = 2;
    db->needs_fence = 0; /* nothing but these two metas ever used an id */
    return CT_OK;
}

/* Tries one candidate meta: its new pages and its free list. */
static int try_meta(ct_db *db, const ct__meta *m, int slot, uint64_t store_pages)
{
    /* Every page below a commit's high-water mark was written by then
       (tail pages that are free and reusable are trimmed first), so a
       larger mark is damage, and trusting it would size ct_check's bitmap
       and the next allocations by a number from disk. */
    if (m->hwm > store_pages) {
        return CT__CORRUPT(slot, "high-water mark beyond the end of the store");
    }
    int rc = ct__validate_commit(db, m);
    ct__freeset fs;
    if (rc == CT_OK) {
        rc = ct__freelist_load(db, m, &fs);
    }
    if (rc != CT_OK) {
        return rc;
    }
    db->meta = *m;
    db->meta_slot = slot;
    db->durable_slot = slot;
    db->durable_txnid = m->txnid;
    db->durable_meta = *m;
    db->keep_txnid[slot] = m->txnid;
    db->slot_hwm[slot] = m->hwm;
    db->free = fs;
    return CT_OK;
}

int ct__recover(ct_db *db)
{
    uint64_t size = 0;
    int rc = db->ps->ops->size(db->ps, &size);
    if (rc != CT_OK) {
        return rc;
    }
    int rdonly = (db->flags & CT_RDONLY) != 0;
    if (size == 0) {
        if (db->flags & CT_NOCREATE) {
            return CT_NOTFOUND;
        }
        return rdonly ? CT_READONLY : create_db(db);
    }
    uint8_t *buf = ct__calloc(&db->alloc, 2, db->page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    rc = ct__store_read(db, 0, size >= 2 ? 2u : 1u, buf);
    ct__meta m[2];
    int ok[2] = {0, 0};
    int version = 0;
    int foreign = 0;
    for (int s = 0; s < 2 && rc == CT_OK; s++) {
        if ((uint64_t)s >= size) {
            continue;
        }
        const uint8_t *page = buf + (size_t)s * db->page_size;
        int r = ct__meta_decode(page, db->page_size, s, &m[s]);
        version |= r == CT_VERSION;
        foreign |= r == CT_CORRUPT && ct__meta_foreign_size(page, db->page_size);
        ok[s] = r == CT_OK;
    }
    ct__free(&db->alloc, buf);
    if (rc != CT_OK) {
        return rc;
    }
    if (version || (foreign && !ok[0] && !ok[1])) {
        return CT_VERSION;
    }
    uint64_t seen = 0;
    for (int s = 0; s < 2; s++) {
        if (ok[s] && m[s].txnid > seen) {
            seen = m[s].txnid;
        }
    }
    int first = (ok[0] && ok[1]) ? (m[1].txnid > m[0].txnid ? 1 : 0) : (ok[1] ? 1 : 0);
    int last_rc = CT_CORRUPT;
    for (int k = 0; k < 2; k++) {
        int s = k == 0 ? first : 1 - first;
        if (!ok[s]) {
            continue;
        }
        last_rc = try_meta(db, &m[s], s, size);
        if (last_rc == CT_OK) {
            /* The other slot's tree stays intact only if it is an older
               valid commit; a newer one failed validation. */
            int o = 1 - s;
            db->keep_txnid[o] = ok[o] && m[o].txnid < m[s].txnid ? m[o].txnid : UINT64_MAX;
            db->slot_hwm[o] = ok[o] && m[o].hwm <= size ? m[o].hwm : 2;
            db->next_txnid = seen + 1;
            db->needs_fence = 1;
            db->meta_slots_invalid = (ok[0] ? 0u : 1u) | (ok[1] ? 0u : 2u);
            return CT_OK;
        }
        if (last_rc != CT_CORRUPT) {
            return last_rc;
        }
        if (db->rejected_txnid == 0) {
            db->rejected_txnid = m[s].txnid;
            db->rejected_pgno = ct__last_corrupt_pgno();
        }
    }
    if (!ok[0] && !ok[1] && size <= 2) {
        if (rdonly) {
            return CT__CORRUPT(0, "no valid meta page");
        }
        /* A creation a crash interrupted (or a small file that is no
           database: its bytes cannot tell, a torn sector may hold
           anything). CT_NOCREATE promises no new database, and leaves
           the pages as they are. */
        if (db->flags & CT_NOCREATE) {
            return CT_NOTFOUND;
        }
        return create_db(db);
    }
    return ok[0] || ok[1] ? last_rc : CT__CORRUPT(0, "no valid meta page");
}

int ct__recover_fence(ct_db *db)
{
    int slot = 1 - db->durable_slot;
    ct__meta m = db->meta;
    m.txnid = db->next_txnid - 1 + CT_TXNID_WINDOW;
    if ((m.txnid & 1u) != (uint64_t)slot) {
        m.txnid++; /* keep "slot = id parity" while commits alternate */
    }
    m.durable_base = m.txnid; /* synced below: every page is durable */
    uint8_t *page = ct__malloc(&db->alloc, db->page_size);
    if (!page) {
        return CT_NOMEM;
    }
    ct__meta_encode(&m, page, db->page_size, slot);
    /* Sync what recovery read first: the fence must not become durable
       ahead of the commit it copies. */
    int rc = db->ps->ops->sync(db->ps);
    if (rc == CT_OK) {
        rc = db->ps->ops->write(db->ps, (uint64_t)slot, 1, page);
    }
    if (rc == CT_OK) {
        rc = db->ps->ops->sync(db->ps);
    }
    ct__free(&db->alloc, page);
    if (rc != CT_OK) {
        return rc == CT_NOSPACE ? CT_NOSPACE : CT_IO;
    }
    db->meta = m;
    db->meta_slot = slot;
    db->durable_slot = slot;
    db->durable_txnid = m.txnid;
    db->durable_meta = m;
    db->keep_txnid[slot] = m.txnid;
    db->slot_hwm[slot] = m.hwm;
    db->next_txnid = m.txnid + 1;
    db->needs_fence = 0;
    return CT_OK;
}
