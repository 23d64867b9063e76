/*
 * freelist.c - the persistent free list and the page-reuse rule.
 *
 * On disk (docs/format.md) the free list of commit N is a chain of
 * CT_PT_FREELIST pages, all written by N: body = next pgno u64, next gen
 * u64, then `count` entries (pgno u64, freed_txn u64) in ascending pgno
 * order across the chain. The whole chain is rewritten by every commit
 * (the old chain's pages are freed by that commit), so recovery validates
 * it with the pages of the last commit.
 *
 * Reuse rule: a tree page freed by txn F is reusable iff F <= the commit
 * each meta slot describes (both slots keep describing intact trees; with
 * CT_SYNC_FULL that is F + 2 <= T for consecutive ids), no live reader
 * holds a snapshot older than F (a reader of snapshot S < F may still see
 * it), and F <= the last durable commit (CT_SYNC_NONE: the last synced
 * tree stays intact). A page of an old chain is reusable as soon as no
 * meta slot describes a commit that referenced it: readers never read
 * free-list pages, so a long reader or unsynced commits cannot pin the
 * chains every commit rewrites (which would grow the list geometrically).
 * Entry freed_txn 0 means "reusable by anyone".
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FL_BODY CT_PAGE_HDR_BYTES
#define FL_ENTRIES (FL_BODY + 16u)
#define FL_ENTRY_BYTES 16u

uint32_t ct__freelist_per_page(uint32_t page_size)
{
    return (page_size - FL_ENTRIES) / FL_ENTRY_BYTES;
}

void ct__freeset_free(ct_db *db, ct__freeset *fs)
{
    ct__free(&db->alloc, fs->v);
    ct__free(&db->alloc, fs->chain);
    memset(fs, 0, sizeof(*fs));
}

int ct__freeset_reusable(const ct_db *db, const ct__free_entry *e, uint64_t oldest_reader)
{
    if (e->freed_txn == 0) {
        return 1;
    }
    if (e->chain_of != 0) {
        return e->chain_of != db->keep_txnid[0] && e->chain_of != db->keep_txnid[1];
    }
    uint64_t keep = db->keep_txnid[0] < db->keep_txnid[1] ? db->keep_txnid[0] : db->keep_txnid[1];
    return e->freed_txn <= keep && e->freed_txn <= db->durable_txnid &&
           e->freed_txn <= oldest_reader;
}

static int load_page(ct_db *db, const ct__meta *m, uint8_t *buf, uint64_t pgno, uint64_t gen,
                     ct__freeset *out, uint64_t *next, uint64_t *next_gen)
{
    int rc = ct__store_read(db, pgno, 1, buf);
    if (rc == CT_OK) {
        rc = ct__page_verify(buf, db->page_size, CT_PT_FREELIST, pgno, gen);
    }
    if (rc != CT_OK) {
        return rc;
    }
    uint32_t n = ct__ph_count(buf);
    if (n > ct__freelist_per_page(db->page_size) || n > m->free_count - out->count) {
        return CT__CORRUPT(pgno, "free-list page count");
    }
    rc = ct__grow(&db->alloc, (void **)&out->v, &out->cap, out->count + n, sizeof(*out->v));
    if (rc != CT_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + FL_ENTRIES + (size_t)i * FL_ENTRY_BYTES;
        ct__free_entry fe = {ct__get64(e), ct__get64(e + 8), 0};
        uint64_t prev = out->count ? out->v[out->count - 1].pgno : 1;
        if (fe.pgno <= prev || fe.pgno >= m->hwm || fe.freed_txn > m->txnid) {
            return CT__CORRUPT(pgno, "free-list entry out of order or range");
        }
        out->v[out->count++] = fe;
    }
    *next = ct__get64(buf + FL_BODY);
    *next_gen = ct__get64(buf + FL_BODY + 8);
    return CT_OK;
}

int ct__freelist_load(ct_db *db, const ct__meta *m, ct__freeset *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t *buf = ct__malloc(&db->alloc, db->page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    uint64_t pgno = m->free_head;
    uint64_t gen = m->free_gen;
    int rc = CT_OK;
    while (pgno != 0 && rc == CT_OK) {
        if (pgno < 2 || pgno >= m->hwm || out->chain_count >= m->hwm) {
            rc = CT__CORRUPT(pgno, "free-list chain pointer");
            break;
        }
        uint64_t *nc = ct__realloc(&db->alloc, out->chain, (out->chain_count + 1) * sizeof(uint64_t));
        if (!nc) {
            rc = CT_NOMEM;
            break;
        }
        out->chain = nc;
        out->chain[out->chain_count++] = pgno;
        rc = load_page(db, m, buf, pgno, gen, out, &pgno, &gen);
    }
    ct__free(&db->alloc, buf);
    if (rc == CT_OK && out->count != m->free_count) {
        rc = CT__CORRUPT(m->free_head, "free-list length differs from the meta");
    }
    if (rc != CT_OK) {
        ct__freeset_free(db, out);
    }
    return rc;
}

int ct__freelist_begin(ct_txn *t)
{
    ct_db *db = t->db;
    const ct__freeset *fs = &db->free;
    t->pool = ct__malloc(&db->alloc, (fs->count + 1) * sizeof(uint64_t));
    t->held = ct__malloc(&db->alloc, (fs->count + 1) * sizeof(ct__free_entry));
    if (!t->pool || !t->held) {
        return CT_NOMEM;
    }
    t->pool_cap = fs->count + 1;
    pthread_mutex_lock(&db->mu);
    uint64_t oldest = ct__readers_oldest(db);
    pthread_mutex_unlock(&db->mu);
    /* A reader that begins later reads the last commit, which no page
       reusable now belongs to: `oldest` only needs to be a lower bound. */
    for (size_t i = fs->count; i-- > 0;) { /* descending into the pool */
        if (ct__freeset_reusable(db, &fs->v[i], oldest)) {
            t->pool[t->pool_count++] = fs->v[i].pgno;
        }
    }
    for (size_t i = 0; i < fs->count; i++) {
        if (!ct__freeset_reusable(db, &fs->v[i], oldest)) {
            t->held[t->held_count++] = fs->v[i];
        }
    }
    return CT_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const ct__free_entry *x = a;
    const ct__free_entry *y = b;
    return (x->pgno > y->pgno) - (x->pgno < y->pgno);
}

/* held + pool (as reusable) + this txn's frees + the old chain's pages. */
static int merge_sets(ct_txn *t, ct__freeset *out)
{
    ct_db *db = t->db;
    size_t n = t->held_count + t->pool_count + t->freed_count + db->free.chain_count;
    out->v = ct__malloc(&db->alloc, (n + 1) * sizeof(*out->v));
    if (!out->v) {
        return CT_NOMEM;
    }
    out->cap = n + 1;
    size_t k = 0;
    for (size_t i = 0; i < t->held_count; i++) {
        out->v[k++] = t->held[i];
    }
    for (size_t i = 0; i < t->pool_count; i++) {
        out->v[k++] = (ct__free_entry){t->pool[i], 0, 0};
    }
    for (size_t i = 0; i < t->freed_count; i++) {
        out->v[k++] = (ct__free_entry){t->freed[i], t->id, 0};
    }
    for (size_t i = 0; i < db->free.chain_count; i++) {
        out->v[k++] = (ct__free_entry){db->free.chain[i], t->id, db->meta.txnid};
    }
    qsort(out->v, k, sizeof(*out->v), cmp_entry);
    for (size_t i = 1; i < k; i++) {
        if (out->v[i].pgno == out->v[i - 1].pgno) {
            CT_ASSERT(0 && "page freed twice");
            return CT__CORRUPT(out->v[i].pgno, "page freed twice");
        }
    }
    out->count = k;
    return CT_OK;
}

/* Gives reusable free pages at the end of the file back. */
static void trim_tail(ct_txn *t, ct__freeset *fs, uint64_t oldest)
{
    while (fs->count > 0) {
        const ct__free_entry *last = &fs->v[fs->count - 1];
        if (last->pgno + 1 != t->meta.hwm || !ct__freeset_reusable(t->db, last, oldest)) {
            break;
        }
        fs->count--;
        t->meta.hwm--;
    }
}

/* Picks the chain's pages: the lowest reusable free pages (each taken
   one shortens the list it holds), then pages at the end. One pass. */
static int write_chain(ct_txn *t, ct__freeset *fs, uint64_t oldest)
{
    ct_db *db = t->db;
    uint32_t per = ct__freelist_per_page(db->page_size);
    size_t need = (fs->count + per - 1) / per;
    fs->chain = ct__malloc(&db->alloc, (need + 1) * sizeof(uint64_t));
    if (!fs->chain) {
        return CT_NOMEM;
    }
    size_t kept = 0;
    for (size_t i = 0; i < fs->count; i++) {
        size_t left = fs->count - (i - kept); /* entries if none more is taken */
        if (fs->chain_count < (left + per - 1) / per &&
            ct__freeset_reusable(db, &fs->v[i], oldest)) {
            fs->chain[fs->chain_count++] = fs->v[i].pgno;
            continue;
        }
        fs->v[kept++] = fs->v[i];
    }
    fs->count = kept;
    while (fs->chain_count < (fs->count + per - 1) / per) {
        fs->chain[fs->chain_count++] = t->meta.hwm++;
    }
    qsort(fs->chain, fs->chain_count, sizeof(uint64_t), ct__u64_cmp);
    size_t next_entry = 0;
    for (size_t c = 0; c < fs->chain_count; c++) {
        uint8_t *buf = ct__calloc(&db->alloc, 1, db->page_size);
        if (!buf) {
            return CT_NOMEM;
        }
        int rc = ct__pmap_insert(&t->dirty, &db->alloc, fs->chain[c], buf, 1);
        if (rc != CT_OK) {
            ct__free(&db->alloc, buf);
            return rc;
        }
        ct__page_init(buf, CT_PT_FREELIST, fs->chain[c], t->id);
        uint64_t next = c + 1 < fs->chain_count ? fs->chain[c + 1] : 0;
        ct__put64(buf + FL_BODY, next);
        ct__put64(buf + FL_BODY + 8, next ? t->id : 0);
        uint32_t n = 0;
        while (n < per && next_entry < fs->count) {
            uint8_t *e = buf + FL_ENTRIES + (size_t)n * FL_ENTRY_BYTES;
            ct__put64(e, fs->v[next_entry].pgno);
            ct__put64(e + 8, fs->v[next_entry].freed_txn);
            n++;
            next_entry++;
        }
        ct__ph_set_count(buf, (uint16_t)n);
    }
    CT_ASSERT(next_entry == fs->count);
    t->meta.free_head = fs->chain_count ? fs->chain[0] : 0;
    t->meta.free_gen = fs->chain_count ? t->id : 0;
    t->meta.free_count = fs->count;
    return CT_OK;
}

int ct__freelist_commit(ct_txn *t, ct__freeset *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&t->db->mu);
    uint64_t oldest = ct__readers_oldest(t->db);
    pthread_mutex_unlock(&t->db->mu);
    int rc = merge_sets(t, out);
    if (rc == CT_OK) {
        trim_tail(t, out, oldest);
        rc = write_chain(t, out, oldest);
    }
    if (rc != CT_OK) {
        ct__freeset_free(t->db, out);
    }
    return rc;
}
