/*
 * txn.c - transactions (state machine in internal.h) and the data calls
 * ct_get/ct_put/ct_del with their argument checks.
 */
#include <string.h>

#include "internal.h"

int ct__u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void free_pmap_buffers(ct_db *db, ct__pmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].pgno != UINT64_MAX) {
            ct__free(&db->alloc, m->slots[i].buf);
        }
    }
    ct__pmap_free(m, &db->alloc);
}

static void write_bufs_free(ct_db *db, ct__write_bufs *w)
{
    ct__free(&db->alloc, w->scratch);
    ct__free(&db->alloc, w->sepbuf);
    ct__free(&db->alloc, w->refs);
    *w = (ct__write_bufs){NULL, NULL, NULL};
}

void ct__txn_free(ct_txn *t)
{
    ct_db *db = t->db;
    while (t->cursors) {
        ct_cursor *c = t->cursors;
        t->cursors = c->next;
        ct__cursor_free(c);
    }
    while (t->buckets) {
        ct_bucket *b = t->buckets;
        t->buckets = b->next;
        ct__free(&db->alloc, b);
    }
    ct__free(&db->alloc, t->bucket_index);
    t->bucket_index = NULL;
    t->bucket_index_cap = 0;
    t->bucket_handles = 0;
    for (size_t i = 0; i < t->pins.cap; i++) {
        if (t->pins.slots[i].pgno != UINT64_MAX) {
            ct__cache_unpin(db, t->pins.slots[i].buf);
        }
    }
    ct__pmap_free(&t->pins, &db->alloc);
    free_pmap_buffers(db, &t->cache);
    for (size_t i = 0; i < t->dirty.cap; i++) {
        if (t->dirty.slots[i].pgno != UINT64_MAX) {
            ct__page_buf_release(db, t->dirty.slots[i].buf, t->dirty.slots[i].npages);
        }
    }
    ct__pmap_free(&t->dirty, &db->alloc);
    ct__free(&db->alloc, t->pool);
    ct__free(&db->alloc, t->held);
    ct__free(&db->alloc, t->fl_thawed);
    ct__free(&db->alloc, t->freed);
    ct__write_bufs w = {t->scratch, t->sepbuf, t->refs};
    t->scratch = NULL;
    t->sepbuf = NULL;
    t->refs = NULL;
    if (w.scratch && w.sepbuf && w.refs && !db->spare_wbufs.scratch) {
        db->spare_wbufs = w; /* only a write txn has them; it ends under the writer lock */
    } else {
        write_bufs_free(db, &w);
    }
}

void ct__txn_spares_free(ct_db *db)
{
    write_bufs_free(db, &db->spare_wbufs);
}

int ct__txn_temp_init(ct_db *db, const ct__meta *m, ct_txn *t)
{
    memset(t, 0, sizeof(*t));
    t->db = db;
    t->rdonly = 1;
    t->meta = *m;
    t->id = m->txnid;
    t->main.txn = t;
    t->main.is_main = 1;
    t->main.tree = m->main;
    return CT_OK;
}

int ct__txn_write_buffers(ct_txn *t)
{
    ct_db *db = t->db;
    size_t max_cells = (db->page_size - CT_PAGE_HDR_BYTES) / CT_SLOT_BYTES + 2u;
    if (db->spare_wbufs.scratch) { /* the last write txn's (caller holds the writer lock) */
        t->scratch = db->spare_wbufs.scratch;
        t->sepbuf = db->spare_wbufs.sepbuf;
        t->refs = db->spare_wbufs.refs;
        db->spare_wbufs = (ct__write_bufs){NULL, NULL, NULL};
        /* Zeroed again, as calloc had them: see below. refs need not be,
           every user fills the entries it reads. */
        memset(t->scratch, 0, 3u * (size_t)db->page_size);
        memset(t->sepbuf, 0, 2u * (size_t)db->page_size);
        return CT_OK;
    }
    /* Zeroed: page gaps built from scratch reach the store, and a trace
       must not depend on what malloc left there. */
    t->scratch = ct__calloc(&db->alloc, 3u, (size_t)db->page_size);
    t->sepbuf = ct__calloc(&db->alloc, 2u, (size_t)db->page_size);
    t->refs = ct__calloc(&db->alloc, 2u * max_cells, sizeof(ct__cellref));
    return (t->scratch && t->sepbuf && t->refs) ? CT_OK : CT_NOMEM;
}

static void end_txn(ct_txn *t)
{
    ct_db *db = t->db;
    if (t->rdonly) {
        pthread_mutex_lock(&db->mu);
        ct__readers_remove(db, t);
        pthread_mutex_unlock(&db->mu);
    }
    ct__txn_free(t);
    if (!t->rdonly) {
        pthread_mutex_lock(&db->mu);
        db->write_txn = NULL;
        pthread_mutex_unlock(&db->mu);
        ct__writer_release(db);
    }
    ct__free(&db->alloc, t);
}

static int begin_write(ct_db *db, ct_txn *t)
{
    int rc = ct__writer_acquire(db);
    if (rc != CT_OK) {
        return rc;
    }
    if (db->durability == CT_SYNC_GROUP) {
        ct__group_adopt(db);
    }
    pthread_mutex_lock(&db->mu);
    int poisoned = db->poisoned;
    t->meta = db->meta;
    if (!poisoned) {
        db->write_txn = t;
    }
    pthread_mutex_unlock(&db->mu);
    if (poisoned) {
        ct__writer_release(db);
        return CT_POISONED;
    }
    t->id = db->next_txnid; /* db->mu not needed: only the writer changes it */
    t->main.tree = t->meta.main;
    rc = ct__txn_write_buffers(t);
    if (rc == CT_OK) {
        rc = ct__freelist_begin(t);
    }
    if (rc != CT_OK) {
        pthread_mutex_lock(&db->mu);
        db->write_txn = NULL;
        pthread_mutex_unlock(&db->mu);
        ct__txn_free(t);
        ct__writer_release(db);
    }
    return rc;
}

int ct_begin(ct_db *db, unsigned flags, ct_txn **out)
{
    if (!db || !out || (flags & ~CT_TXN_RDONLY)) {
        return CT_INVALID;
    }
    *out = NULL;
    int rdonly = (flags & CT_TXN_RDONLY) != 0;
    if (!rdonly && (db->flags & CT_RDONLY)) {
        return CT_READONLY;
    }
    ct_txn *t = ct__calloc(&db->alloc, 1, sizeof(*t));
    if (!t) {
        return CT_NOMEM;
    }
    t->db = db;
    t->rdonly = rdonly;
    t->use_cache = 1;
    t->main.txn = t;
    t->main.is_main = 1;
    if (rdonly) {
        pthread_mutex_lock(&db->mu);
        /* A failed group sync leaves commits in memory whose ct_commit
           failed: later readers see the last durable commit instead (the
           db takes no more writes, and that tree is intact). */
        t->meta = db->poisoned && db->durability == CT_SYNC_GROUP ? db->durable_meta : db->meta;
        ct__readers_add(db, t);
        pthread_mutex_unlock(&db->mu);
        t->id = t->meta.txnid;
        t->main.tree = t->meta.main;
    } else {
        int rc = begin_write(db, t);
        if (rc != CT_OK) {
            ct__free(&db->alloc, t);
            return rc;
        }
    }
    *out = t;
    return CT_OK;
}

int ct_commit(ct_txn *t)
{
    if (!t) {
        return CT_INVALID;
    }
    int rc = CT_OK;
    ct_db *db = t->db;
    uint64_t wait_for = 0;
    if (!t->rdonly) {
        rc = t->failed ? t->failed : ct__commit(t);
        if (rc == CT_OK && db->durability == CT_SYNC_GROUP) {
            pthread_mutex_lock(&db->mu);
            wait_for = db->meta.txnid == t->id ? t->id : 0; /* 0: nothing written */
            pthread_mutex_unlock(&db->mu);
        }
    }
    end_txn(t);
    /* After the txn ended: the writer lock is free for the next committer
       while this one waits for (or issues) the shared sync. */
    if (wait_for) {
        rc = ct__group_wait(db, wait_for);
    }
    return rc;
}

void ct_abort(ct_txn *t)
{
    if (t) {
        end_txn(t);
    }
}

uint64_t ct_txn_id(const ct_txn *t)
{
    return t ? t->id : 0;
}

static int check_key(ct_txn *t, const void *key, size_t klen)
{
    if (!key && klen) {
        return CT_INVALID;
    }
    if (klen > t->db->key_max) {
        return CT_TOOBIG;
    }
    return CT_OK;
}

int ct_get(ct_txn *t, ct_bucket *b, const void *key, size_t klen, const void **val, size_t *vlen)
{
    if (!t || !val || !vlen) {
        return CT_INVALID;
    }
    int rc = ct__bucket_check(t, &b);
    if (rc == CT_OK) {
        rc = check_key(t, key, klen);
    }
    if (rc == CT_TOOBIG) {
        return CT_NOTFOUND; /* no such key can exist */
    }
    if (rc != CT_OK) {
        return rc;
    }
    if (t->failed) {
        return t->failed;
    }
    const uint8_t *cell = NULL;
    rc = ct__tree_get(t, &b->tree, key, klen, &cell);
    if (rc == CT_OK) {
        const uint8_t *v = NULL;
        rc = ct__cell_value(t, cell, &v, vlen);
        *val = v;
    }
    return rc;
}

static int write_prologue(ct_txn *t, ct_bucket **b, const void *key, size_t klen)
{
    if (!t) {
        return CT_INVALID;
    }
    if (t->rdonly) {
        return (t->db->flags & CT_RDONLY) ? CT_READONLY : CT_INVALID;
    }
    if (t->failed) {
        return t->failed;
    }
    int rc = ct__bucket_check(t, b);
    if (rc == CT_OK) {
        rc = check_key(t, key, klen);
    }
    return rc;
}

int ct_put(ct_txn *t, ct_bucket *b, const void *key, size_t klen, const void *val, size_t vlen,
           unsigned flags)
{
    int rc = write_prologue(t, &b, key, klen);
    if (rc != CT_OK) {
        return rc;
    }
    if ((!val && vlen) || (flags & ~(CT_NOOVERWRITE | CT_APPEND))) {
        return CT_INVALID;
    }
    if (vlen > CT_VALUE_MAX_BYTES) {
        return CT_TOOBIG;
    }
    t->mod_seq++;
    rc = ct__tree_put(t, &b->tree, key, klen, val, vlen, flags);
    if (rc == CT_OK) {
        b->dirty = 1;
    }
    ct__txn_fail(t, rc);
    return rc;
}

int ct_del(ct_txn *t, ct_bucket *b, const void *key, size_t klen)
{
    int rc = write_prologue(t, &b, key, klen);
    if (rc == CT_TOOBIG) {
        return CT_NOTFOUND;
    }
    if (rc != CT_OK) {
        return rc;
    }
    t->mod_seq++;
    rc = ct__tree_del(t, &b->tree, key, klen);
    if (rc == CT_OK) {
        b->dirty = 1;
    }
    ct__txn_fail(t, rc);
    return rc;
}
