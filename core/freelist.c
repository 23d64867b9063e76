/*
 * freelist.c - the persistent free list and the page-reuse rule.
 *
 * On disk (docs/format.md) the free list of a commit is a chain of
 * CT_PT_FREELIST pages: body = next pgno u64, next gen u64, then `count`
 * entries (pgno u64, freed_txn u64). A commit writes new pages at the
 * front of the chain for every entry that changed (new frees, pages it
 * reused, entries of old pages it rewrites) and keeps the longest suffix
 * of the old chain whose pages list exactly what is still free: a long
 * reader or unsynced commits that pin many pages then cost one page write
 * per commit instead of a rewrite of the whole list. Recovery verifies
 * every chain page through the (pgno, gen) pointing at it.
 *
 * Reuse rule: a tree page freed by txn F is reusable iff F <= the commit
 * each meta slot describes (both slots keep describing intact trees; with
 * CT_SYNC_FULL that is F + 2 <= T for consecutive ids), no live reader
 * holds a snapshot older than F (a reader of snapshot S < F may still see
 * it), and F <= the last durable commit (CT_SYNC_NONE: the last synced
 * tree stays intact), unless the page was written after the last durable
 * commit and freed by a commit already made, and the other slot's commit
 * does not hold it (CT_SYNC_NONE: that slot holds the newest commit, so
 * unsynced batches do not grow the file; CT_SYNC_GROUP: a sync may be
 * flushing an older commit there while the next ones commit).
 * A dropped chain page is reusable as soon as no meta slot describes a
 * commit that referenced it, nor the newest commit (CT_SYNC_GROUP writes
 * its meta later), nor a live snapshot at or below the last commit that
 * referenced it (ct_check reads its snapshot's free list; other reads
 * never touch free-list pages). Entry freed_txn 0 means "reusable by
 * anyone".
 *
 * Placement: entries the next commits reuse go to the front of the chain,
 * entries held until a sync or a reader's end to the back (settle_held),
 * so the held ones sit on kept pages. Under CT_SYNC_NONE those pages form
 * a frozen tail (freeze_more): their entries leave the in-memory set that
 * every commit walks, until a sync makes them reusable (old_view thaws
 * them) or a commit must rewrite some of those pages (thaw_at_commit
 * thaws those pages' entries; the rest stay frozen). A long unsynced run
 * then costs each commit its own changes, not a pass over every page the
 * last synced tree gave up.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sort.h"

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
    ct__free(&db->alloc, fs->chain_gen);
    ct__free(&db->alloc, fs->chain_n);
    ct__free(&db->alloc, fs->frozen);
    ct__free(&db->alloc, fs->newly_frozen);
    memset(fs, 0, sizeof(*fs));
}

size_t ct__freeset_total(const ct__freeset *fs)
{
    return fs->count + fs->frozen_count;
}

/* A dropped chain page e is in the free list of commit id. */
static int chain_of_commit(const ct__free_entry *e, uint64_t id)
{
    return id >= e->chain_from && id <= e->chain_of;
}

int ct__freeset_reusable(const ct_db *db, const ct__free_entry *e, uint64_t oldest_reader)
{
    if (e->freed_txn == 0) {
        return 1;
    }
    if (e->chain_of != 0) { /* referenced by the metas chain_from..chain_of */
        if (e->chain_of >= oldest_reader) {
            return 0; /* a snapshot's ct_check may still read its free list */
        }
        /* Both slots' commits and the newest one: under CT_SYNC_GROUP its
           meta is in no slot yet, and a later sync writes it even if this
           txn fails. */
        return !chain_of_commit(e, db->keep_txnid[0]) && !chain_of_commit(e, db->keep_txnid[1]) &&
               !chain_of_commit(e, db->meta.txnid);
    }
    if (e->freed_txn > oldest_reader) {
        return 0; /* a live snapshot may still read it */
    }
    uint64_t other = db->keep_txnid[1 - db->durable_slot];
    if (e->born > db->durable_txnid && e->freed_txn <= db->meta.txnid &&
        !(e->born <= other && other < e->freed_txn)) {
        /* Written after the last durable commit and freed by a commit
           already made (CT_SYNC_NONE, CT_SYNC_GROUP): in neither slot's
           tree. The durable one predates it; the other holds the newest
           commit (CT_SYNC_NONE), which freed or outlived it, or (a group
           sync flushing it) an older one, whose tree must not hold it.
           (Pages the committing txn frees itself are still in the newest
           commit's tree: F <= newest excludes them.) */
        return 1;
    }
    uint64_t keep = db->keep_txnid[0] < db->keep_txnid[1] ? db->keep_txnid[0] : db->keep_txnid[1];
    return e->freed_txn <= keep && e->freed_txn <= db->durable_txnid;
}

/* In the last durable tree and freed after it: held until the next sync. */
static int sync_held(const ct_db *db, const ct__free_entry *e)
{
    return e->chain_of == 0 && e->freed_txn > db->durable_txnid && e->born <= db->durable_txnid;
}

/* Not reusable, and stays so until a sync or a reader's end: a snapshot
   older than the free may read it, or the last durable tree holds it. */
static int stays_held(const ct_db *db, const ct__free_entry *e, uint64_t oldest)
{
    return e->chain_of == 0 && (e->freed_txn > oldest || sync_held(db, e));
}

static size_t count_sync_held(const ct_db *db, const ct__free_entry *v, size_t n)
{
    size_t held = 0;
    for (size_t i = 0; i < n; i++) {
        held += (size_t)sync_held(db, &v[i]);
    }
    return held;
}

size_t ct__freeset_sync_held(const ct_db *db, const ct__freeset *fs)
{
    size_t n = count_sync_held(db, fs->v, fs->count) +
               count_sync_held(db, fs->frozen, fs->frozen_count) +
               count_sync_held(db, fs->newly_frozen, fs->newly_count);
    if (fs != &db->free) { /* a commit's set keeps part of db->free's frozen tail */
        const ct__freeset *cur = &db->free;
        for (size_t i = 0; i < cur->frozen_count; i++) {
            n += (size_t)(cur->frozen[i].home < fs->frozen_left_pages &&
                          sync_held(db, &cur->frozen[i]));
        }
    }
    return n;
}

static int cmp_entry(const void *a, const void *b)
{
    const ct__free_entry *x = a;
    const ct__free_entry *y = b;
    return (x->pgno > y->pgno) - (x->pgno < y->pgno);
}

static int chain_reserve(ct_db *db, ct__freeset *fs, size_t n)
{
    fs->chain = ct__malloc(&db->alloc, (n + 1) * sizeof(*fs->chain));
    fs->chain_gen = ct__malloc(&db->alloc, (n + 1) * sizeof(*fs->chain_gen));
    fs->chain_n = ct__malloc(&db->alloc, (n + 1) * sizeof(*fs->chain_n));
    return fs->chain && fs->chain_gen && fs->chain_n ? CT_OK : CT_NOMEM;
}

/* ---- load ---------------------------------------------------------------- */

static int load_page(ct_db *db, const ct__meta *m, uint8_t *buf, ct__freeset *out,
                     uint64_t *next, uint64_t *next_gen)
{
    size_t k = out->chain_count - 1;
    int rc = ct__store_read(db, out->chain[k], 1, buf);
    if (rc == CT_OK) {
        rc = ct__page_verify(buf, db->page_size, CT_PT_FREELIST, out->chain[k], out->chain_gen[k]);
    }
    if (rc != CT_OK) {
        return rc;
    }
    uint32_t n = ct__ph_count(buf);
    if (n > ct__freelist_per_page(db->page_size) || n > m->free_count - out->count) {
        return CT__CORRUPT(out->chain[k], "free-list page count");
    }
    out->chain_n[k] = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + FL_ENTRIES + (size_t)i * FL_ENTRY_BYTES;
        ct__free_entry fe = {ct__get64(e), ct__get64(e + 8), 0, 0, (uint32_t)k, 0};
        if (fe.pgno < 2 || fe.pgno >= m->hwm || fe.freed_txn > m->txnid) {
            return CT__CORRUPT(out->chain[k], "free-list entry out of range");
        }
        out->v[out->count++] = fe;
    }
    *next = ct__get64(buf + FL_BODY);
    *next_gen = ct__get64(buf + FL_BODY + 8);
    return CT_OK;
}

/* Whether the set's entries, sorted by page number, list pgno. */
static int sorted_set_holds(const ct__freeset *fs, uint64_t pgno)
{
    size_t lo = 0;
    size_t hi = fs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fs->v[mid].pgno < pgno) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < fs->count && fs->v[lo].pgno == pgno;
}

static int load_chain(ct_db *db, const ct__meta *m, ct__freeset *out, uint8_t *buf)
{
    /* Both bounds come from a meta that passed its checksum and range
       checks: free_count <= hwm, and a chain longer than hwm loops. */
    out->v = ct__malloc(&db->alloc, ((size_t)m->free_count + 1) * sizeof(*out->v));
    if (!out->v) {
        return CT_NOMEM;
    }
    out->cap = (size_t)m->free_count + 1;
    /* The meta's own entries (meta.c bounds their count by free_count):
       on no page, so the next commit writes them again. */
    for (uint32_t i = 0; i < m->free_inline; i++) {
        ct__free_entry fe = {m->free_inline_pgno[i], m->free_inline_txn[i], 0, 0, CT__NO_HOME, 0};
        if (fe.pgno < 2 || fe.pgno >= m->hwm || fe.freed_txn > m->txnid) {
            return CT__CORRUPT(fe.pgno, "meta free-list entry out of range");
        }
        out->v[out->count++] = fe;
    }
    size_t cap = 0;
    uint64_t pgno = m->free_head;
    uint64_t gen = m->free_gen;
    while (pgno != 0) {
        if (pgno < 2 || pgno >= m->hwm || gen > m->txnid || out->chain_count >= m->hwm) {
            return CT__CORRUPT(pgno, "free-list chain pointer");
        }
        if (out->chain_count == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            uint64_t *c = ct__realloc(&db->alloc, out->chain, ncap * sizeof(*c));
            if (c) {
                out->chain = c;
            }
            uint64_t *g = ct__realloc(&db->alloc, out->chain_gen, ncap * sizeof(*g));
            if (g) {
                out->chain_gen = g;
            }
            uint32_t *n = ct__realloc(&db->alloc, out->chain_n, ncap * sizeof(*n));
            if (n) {
                out->chain_n = n;
            }
            if (!c || !g || !n) {
                return CT_NOMEM;
            }
            cap = ncap;
        }
        out->chain[out->chain_count] = pgno;
        out->chain_gen[out->chain_count] = gen;
        out->chain_count++;
        int rc = load_page(db, m, buf, out, &pgno, &gen);
        if (rc != CT_OK) {
            return rc;
        }
    }
    if (out->count != m->free_count) {
        return CT__CORRUPT(m->free_head, "free-list length differs from the meta");
    }
    qsort(out->v, out->count, sizeof(*out->v), cmp_entry);
    for (size_t i = 1; i < out->count; i++) {
        if (out->v[i].pgno == out->v[i - 1].pgno) {
            return CT__CORRUPT(out->v[i].pgno, "free-list entry listed twice");
        }
    }
    /* A chain page listed as free would be handed out while it holds the
       list (a meta's entries or a page's may name one). */
    for (size_t c = 0; c < out->chain_count; c++) {
        if (sorted_set_holds(out, out->chain[c])) {
            return CT__CORRUPT(out->chain[c], "free-list page listed as free");
        }
    }
    return CT_OK;
}

int ct__freelist_load(ct_db *db, const ct__meta *m, ct__freeset *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t *buf = ct__malloc(&db->alloc, db->page_size);
    int rc = buf ? load_chain(db, m, out, buf) : CT_NOMEM;
    ct__free(&db->alloc, buf);
    if (rc != CT_OK) {
        ct__freeset_free(db, out);
    }
    return rc;
}

/* ---- write txn ------------------------------------------------------------ */

/* The frozen entries on pages in front of the last keep_pages, with their
   homes counted from the chain's start, sorted by pgno, into out; out and
   tmp have room for every frozen entry. Returns how many. */
static size_t thaw_into(const ct__freeset *fs, size_t keep_pages, ct__free_entry *out,
                        ct__free_entry *tmp)
{
    size_t n = 0;
    for (size_t i = 0; i < fs->frozen_count; i++) {
        if (fs->frozen[i].home >= keep_pages) {
            out[n] = fs->frozen[i];
            out[n].home = (uint32_t)(fs->chain_count - 1 - fs->frozen[i].home);
            n++;
        }
    }
    ct__sort_by_u64(out, n, sizeof(*out), offsetof(ct__free_entry, pgno), tmp);
    return n;
}

/* Merges sorted a and b (distinct pgnos) into out. */
static void merge_by_pgno(const ct__free_entry *a, size_t na, const ct__free_entry *b, size_t nb,
                          ct__free_entry *out)
{
    size_t i = 0;
    size_t j = 0;
    while (i < na || j < nb) {
        if (j == nb || (i < na && a[i].pgno < b[j].pgno)) {
            *out++ = a[i++];
        } else {
            *out++ = b[j++];
        }
    }
}

/* A new array: v (n entries, by pgno) with the entries of db->free's
   frozen pages in front of the last keep_pages merged in, their homes
   counted from the chain's start; *thawed: how many. NULL: no memory. */
static ct__free_entry *with_frozen(ct_db *db, const ct__free_entry *v, size_t n,
                                   size_t keep_pages, size_t *thawed)
{
    const ct__freeset *fs = &db->free;
    ct__free_entry *tmp = ct__malloc(&db->alloc, (2 * fs->frozen_count + 1) * sizeof(*tmp));
    if (!tmp) {
        return NULL;
    }
    *thawed = thaw_into(fs, keep_pages, tmp, tmp + fs->frozen_count);
    ct__free_entry *all = ct__malloc(&db->alloc, (n + *thawed + 1) * sizeof(*all));
    if (all) {
        merge_by_pgno(v, n, tmp, *thawed, all);
    }
    ct__free(&db->alloc, tmp);
    return all;
}

/* The txn's view of the set it starts from: db->free.v, or, once a sync
   may have made frozen entries reusable, v with them merged back. */
static int old_view(ct_txn *t)
{
    ct_db *db = t->db;
    const ct__freeset *fs = &db->free;
    t->fl_old = fs->v;
    t->fl_old_count = fs->count;
    if (fs->frozen_count == 0 || fs->frozen_durable == db->durable_txnid) {
        return CT_OK;
    }
    size_t n = 0;
    ct__free_entry *thawed = with_frozen(db, fs->v, fs->count, 0, &n);
    if (!thawed) {
        return CT_NOMEM;
    }
    t->fl_thawed = thawed;
    t->fl_old = thawed;
    t->fl_old_count = fs->count + n;
    return CT_OK;
}

int ct__freelist_begin(ct_txn *t)
{
    ct_db *db = t->db;
    int rc = old_view(t);
    if (rc != CT_OK) {
        return rc;
    }
    const ct__free_entry *v = t->fl_old;
    size_t count = t->fl_old_count;
    t->pool = ct__malloc(&db->alloc, (count + 1) * sizeof(uint64_t));
    t->held = ct__malloc(&db->alloc, (count + 1) * sizeof(ct__free_entry));
    if (!t->pool || !t->held) {
        return CT_NOMEM;
    }
    t->pool_cap = count + 1;
    pthread_mutex_lock(&db->mu);
    uint64_t oldest = ct__readers_oldest(db);
    pthread_mutex_unlock(&db->mu);
    /* A reader that begins later reads the last commit, which no page
       reusable now belongs to: `oldest` only needs to be a lower bound.
       Frozen entries (not in the view) are held until a sync. Pages the
       meta lists go to pool_meta, taken first (no page is rewritten to
       take them), except those where the file would end if its free pages
       were all at the end: those wait their turn in the pool, lowest
       first, so live pages move down and the file's end can be given back. */
    uint64_t nfree = ct__freeset_total(&db->free); /* the frozen tail too */
    uint64_t packed_end = t->meta.hwm > nfree ? t->meta.hwm - nfree : 0;
    t->pool_meta_count = 0;
    /* One pass, descending: the pools want that order, held ascending. */
    for (size_t i = count; i-- > 0;) {
        if (ct__freeset_reusable(db, &v[i], oldest)) {
            if (v[i].home == CT__NO_HOME && v[i].pgno < packed_end &&
                t->pool_meta_count < CT_META_FREE_INLINE) {
                t->pool_meta[t->pool_meta_count++] = v[i].pgno;
            } else {
                t->pool[t->pool_count++] = v[i].pgno;
            }
        } else {
            t->held[t->held_count++] = v[i];
        }
    }
    for (size_t i = 0, j = t->held_count; i + 1 < j; i++, j--) {
        ct__free_entry tmp = t->held[i];
        t->held[i] = t->held[j - 1];
        t->held[j - 1] = tmp;
    }
    return CT_OK;
}

/* The old set's entry for pgno, or a new one (a page this txn took from
   the end of the store and gave back). Calls come in ascending pgno, so
   *at only moves forward: one pass over the old set per commit. */
static ct__free_entry pool_entry(const ct_txn *t, size_t *at, uint64_t pgno)
{
    while (*at < t->fl_old_count && t->fl_old[*at].pgno < pgno) {
        (*at)++;
    }
    if (*at < t->fl_old_count && t->fl_old[*at].pgno == pgno) {
        return t->fl_old[*at];
    }
    return (ct__free_entry){pgno, 0, 0, 0, CT__NO_HOME, 0};
}

/* held (ascending) + what is left of the pools (descending) + this txn's
   frees, merged by pgno into out->v. */
static int merge_sets(ct_txn *t, ct__freeset *out)
{
    ct_db *db = t->db;
    size_t n = t->held_count + t->pool_count + t->pool_meta_count + t->freed_count +
               db->free.chain_count;
    out->v = ct__malloc(&db->alloc, (n + 1) * sizeof(*out->v));
    if (!out->v) {
        return CT_NOMEM;
    }
    out->cap = n + 1;
    if (t->freed_count > 1) {
        /* out->v has room for them all: it is the sort's scratch here. */
        ct__sort_by_u64(t->freed, t->freed_count, sizeof(*t->freed),
                        offsetof(ct__free_entry, pgno), out->v);
    }
    /* A page freed twice means a page reachable twice: an image whose
       pages point at one page from two places (ct_check reports "page
       used twice"). That is corrupt input, not an engine state to assert
       on; the tests that build only valid trees (sim, fuzz_ops,
       fuzz_crash, proptest) fail on any CT_CORRUPT, so an engine bug
       doing this is still caught. */
    for (size_t i = 1; i < t->freed_count; i++) {
        if (t->freed[i].pgno == t->freed[i - 1].pgno) {
            return CT__CORRUPT(t->freed[i].pgno, "page freed twice");
        }
    }
    size_t h = 0;
    size_t p = t->pool_count;
    size_t q = t->pool_meta_count;
    size_t f = 0;
    size_t k = 0;
    size_t old_at = 0;
    for (;;) {
        uint64_t hp = h < t->held_count ? t->held[h].pgno : UINT64_MAX;
        uint64_t pp = p > 0 ? t->pool[p - 1] : UINT64_MAX;
        uint64_t qp = q > 0 ? t->pool_meta[q - 1] : UINT64_MAX;
        uint64_t fp = f < t->freed_count ? t->freed[f].pgno : UINT64_MAX;
        uint64_t low = hp < pp ? hp : pp;
        low = qp < low ? qp : low;
        low = fp < low ? fp : low;
        if (low == UINT64_MAX) {
            break;
        }
        if ((hp == low) + (pp == low) + (qp == low) + (fp == low) > 1) {
            return CT__CORRUPT(low, "page freed twice");
        }
        if (hp == low) {
            out->v[k++] = t->held[h++];
        } else if (pp == low) {
            out->v[k++] = pool_entry(t, &old_at, pp);
            p--;
        } else if (qp == low) {
            out->v[k++] = pool_entry(t, &old_at, qp);
            q--;
        } else {
            out->v[k++] = t->freed[f++];
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

/* Entries that stay held (until a sync, or a reader's end) belong at the
   tail of the chain, entries about to be reused at the front: a reuse
   rewrites its page and every page in front of it. New held entries are
   written in front of the kept pages, so they pile up in front of pages
   still listing soon-reused entries, and each later reuse there rewrites
   them again (a CT_SYNC_NONE workload rewrote nearly its whole chain
   every commit). When the kept pages up to the last one listing any
   soon-reused entry hold at least as many held entries as others, drop
   them too: the rewrite lays the soon-reused entries first and the held
   ones last, so the kept suffix is then held entries only. Each such
   rewrite costs at most twice the held entries it moves. */
static size_t settle_held(const ct__freeset *old, const uint32_t *left, const uint32_t *held,
                          size_t first)
{
    size_t last_mixed = first;
    uint64_t nheld = 0;
    uint64_t nother = 0;
    uint64_t nheld_upto = 0;
    uint64_t nother_upto = 0;
    for (size_t c = first; c < old->chain_count; c++) {
        nheld += held[c];
        nother += left[c] - held[c];
        if (left[c] != held[c]) {
            last_mixed = c + 1;
            nheld_upto = nheld;
            nother_upto = nother;
        }
    }
    return nheld_upto > 0 && nheld_upto >= nother_upto ? last_mixed : first;
}

/* Kept pages never merge, and a commit's last new page is partly full:
   many small commits would leave a chain of nearly empty pages. When the
   kept pages are more than twice as many as their entries need, keep only
   the longest suffix that is at least half full on average and rewrite
   the rest compactly. */
static size_t compact_kept(const ct__freeset *old, uint32_t per, size_t first)
{
    uint64_t entries = 0;
    for (size_t c = first; c < old->chain_count; c++) {
        entries += old->chain_n[c];
    }
    uint64_t pages = old->chain_count - first;
    if (pages <= 2 * ((entries + per - 1) / per) + 1) {
        return first;
    }
    size_t keep_from = old->chain_count;
    uint64_t sum = 0;
    for (size_t c = old->chain_count; c-- > first;) {
        sum += old->chain_n[c];
        if (2 * sum >= (uint64_t)(old->chain_count - c) * per) {
            keep_from = c;
        }
    }
    return keep_from;
}

/* Index of the first old chain page of the suffix to keep: the longest
   whose pages still list exactly the entries that are free, shortened
   (see settle_held) so that held entries settle behind the rest. */
static int kept_suffix(ct_db *db, const ct__freeset *fs, uint64_t oldest, size_t frozen_pages,
                       size_t *first)
{
    const ct__freeset *old = &db->free;
    *first = old->chain_count;
    if (old->chain_count == 0) {
        return CT_OK;
    }
    uint32_t *left = ct__calloc(&db->alloc, 2 * old->chain_count, sizeof(*left));
    if (!left) {
        return CT_NOMEM;
    }
    uint32_t *held = left + old->chain_count;
    for (size_t i = 0; i < fs->count; i++) {
        const ct__free_entry *e = &fs->v[i];
        if (e->home != CT__NO_HOME) {
            left[e->home]++;
            held[e->home] += (uint32_t)stays_held(db, e, oldest);
        }
    }
    for (size_t c = old->chain_count - frozen_pages; c < old->chain_count; c++) {
        left[c] = held[c] = old->chain_n[c]; /* untouched until a sync */
    }
    while (*first > 0 && left[*first - 1] == old->chain_n[*first - 1]) {
        (*first)--;
    }
    *first = settle_held(old, left, held, *first);
    *first = compact_kept(old, ct__freelist_per_page(db->page_size), *first);
    ct__free(&db->alloc, left);
    return CT_OK;
}

/* Adds the old chain pages [0, first) to the set: this commit drops them. */
static int drop_old_pages(ct_txn *t, ct__freeset *fs, size_t first)
{
    ct_db *db = t->db;
    const ct__freeset *old = &db->free;
    if (first == 0) {
        return CT_OK;
    }
    int rc = ct__grow(&db->alloc, (void **)&fs->v, &fs->cap, fs->count + first, sizeof(*fs->v));
    if (rc != CT_OK) {
        return rc;
    }
    ct__free_entry *add = ct__malloc(&db->alloc, first * sizeof(*add));
    if (!add) {
        return CT_NOMEM;
    }
    for (size_t c = 0; c < first; c++) {
        add[c] = (ct__free_entry){old->chain[c], t->id, db->meta.txnid, old->chain_gen[c],
                                  CT__NO_HOME, old->chain_gen[c]};
    }
    qsort(add, first, sizeof(*add), cmp_entry);
    /* Merge the few dropped pages in from the back: O(count), not a sort. */
    size_t i = fs->count;
    size_t j = first;
    for (size_t k = fs->count + first; j > 0; k--) {
        if (i > 0 && fs->v[i - 1].pgno > add[j - 1].pgno) {
            fs->v[k - 1] = fs->v[--i];
        } else {
            fs->v[k - 1] = add[--j];
        }
    }
    fs->count += first;
    ct__free(&db->alloc, add);
    return CT_OK;
}

/* Order of entries on the new pages: what the next txns reuse first goes
   first, entries held until a sync or a reader's end last, so those pages
   stay unchanged (settle_held). */
#define WRITE_RANKS 4
static int write_rank(const ct_db *db, const ct__free_entry *e, uint64_t oldest)
{
    if (ct__freeset_reusable(db, e, oldest)) {
        return 0;
    }
    if (e->chain_of != 0) {
        return 1;
    }
    return stays_held(db, e, oldest) ? 3 : 2;
}

static int fill_new_pages(ct_txn *t, ct__freeset *fs, size_t nnew, const size_t *order,
                          size_t norder, uint64_t kept_head, uint64_t kept_gen)
{
    ct_db *db = t->db;
    uint32_t per = ct__freelist_per_page(db->page_size);
    size_t next = 0;
    for (size_t c = 0; c < nnew; c++) {
        uint8_t *buf = ct__page_buf_take(db, 1, 1);
        if (!buf) {
            return CT_NOMEM;
        }
        int rc = ct__pmap_insert(&t->dirty, &db->alloc, fs->chain[c], buf, 1);
        if (rc != CT_OK) {
            ct__page_buf_release(db, buf, 1);
            return rc;
        }
        ct__page_init(buf, CT_PT_FREELIST, fs->chain[c], t->id);
        int last = c + 1 == nnew;
        ct__put64(buf + FL_BODY, last ? kept_head : fs->chain[c + 1]);
        ct__put64(buf + FL_BODY + 8, last ? kept_gen : t->id);
        uint32_t n = 0;
        while (n < per && next < norder) {
            ct__free_entry *e = &fs->v[order[next++]];
            uint8_t *p = buf + FL_ENTRIES + (size_t)n * FL_ENTRY_BYTES;
            ct__put64(p, e->pgno);
            ct__put64(p + 8, e->freed_txn);
            e->home = (uint32_t)c;
            n++;
        }
        ct__ph_set_count(buf, (uint16_t)n);
        fs->chain_gen[c] = t->id;
        fs->chain_n[c] = n;
    }
    CT_ASSERT(next == norder);
    return CT_OK;
}

/* Free-list pages that hold `written` changed entries once the meta
   carries the first CT_META_FREE_INLINE of them. */
static size_t pages_for(size_t written, uint32_t per)
{
    return written > CT_META_FREE_INLINE ? (written - CT_META_FREE_INLINE + per - 1) / per : 0;
}

/* Writes the changed entries (its frees, the entries of the old chain
   pages it drops, and those the last meta carried) in front of the kept
   suffix of the old chain: the first CT_META_FREE_INLINE, in the order the
   next commits reuse them, into the meta, the rest onto new pages taken
   from reusable changed entries first, then the end of the store. A
   commit that changes few entries (a durable single put frees two or
   three pages) writes no free-list page at all, and the next commits
   reuse what the meta carries (t->pool_meta) before any page's entry, so
   they do not rewrite pages either. Entries in the meta stay on no page
   (CT__NO_HOME): the next commit writes them again. */
static int write_chain(ct_txn *t, ct__freeset *fs, size_t first, uint64_t oldest)
{
    ct_db *db = t->db;
    const ct__freeset *old = &db->free;
    uint32_t per = ct__freelist_per_page(db->page_size);
    size_t nkept = old->chain_count - first;
    size_t changed = 0;
    for (size_t i = 0; i < fs->count; i++) {
        changed += fs->v[i].home == CT__NO_HOME || fs->v[i].home < first;
    }
    size_t *take = ct__malloc(&db->alloc, (pages_for(changed, per) + 1) * sizeof(*take));
    if (!take) {
        return CT_NOMEM;
    }
    /* The lowest reusable changed entries become the new pages; each one
       taken shortens the list the pages hold. */
    size_t ntake = 0;
    size_t kept = 0;
    size_t written = changed;
    for (size_t i = 0; i < fs->count; i++) {
        ct__free_entry *e = &fs->v[i];
        int mine = e->home == CT__NO_HOME || e->home < first;
        /* Taking e leaves written - 1 entries: take it while they need more
           pages than are taken. */
        if (mine && ntake < pages_for(written - 1, per) && ct__freeset_reusable(db, e, oldest)) {
            take[ntake++] = e->pgno;
            written--;
            continue;
        }
        fs->v[kept++] = *e;
    }
    fs->count = kept;
    size_t nnew = pages_for(written, per);
    CT_ASSERT(ntake <= nnew);
    int rc = chain_reserve(db, fs, nnew + nkept);
    for (size_t c = 0; c < nnew && rc == CT_OK; c++) {
        fs->chain[c] = c < ntake ? take[c] : t->meta.hwm++;
    }
    ct__free(&db->alloc, take);
    if (rc != CT_OK) {
        return rc;
    }
    for (size_t c = 0; c < nkept; c++) {
        fs->chain[nnew + c] = old->chain[first + c];
        fs->chain_gen[nnew + c] = old->chain_gen[first + c];
        fs->chain_n[nnew + c] = old->chain_n[first + c];
    }
    fs->chain_count = nnew + nkept;
    size_t *order = ct__malloc(&db->alloc, (written + 1) * sizeof(*order));
    if (!order) {
        return CT_NOMEM;
    }
    /* Counting sort by rank, stable in pgno, in one classifying pass;
       kept pages' entries move behind the new pages. */
    size_t at[WRITE_RANKS] = {0};
    uint8_t *rank = ct__malloc(&db->alloc, fs->count + 1);
    if (!rank) {
        ct__free(&db->alloc, order);
        return CT_NOMEM;
    }
    for (size_t i = 0; i < fs->count; i++) {
        ct__free_entry *e = &fs->v[i];
        if (e->home == CT__NO_HOME || e->home < first) {
            rank[i] = (uint8_t)write_rank(db, e, oldest);
            at[rank[i]]++;
        } else {
            rank[i] = WRITE_RANKS; /* on a kept page */
            e->home = (uint32_t)(e->home - first + nnew);
        }
    }
    for (size_t r = 0, start = 0; r < WRITE_RANKS; r++) {
        size_t n = at[r];
        at[r] = start;
        start += n;
    }
    for (size_t i = 0; i < fs->count; i++) {
        if (rank[i] < WRITE_RANKS) {
            order[at[rank[i]]++] = i;
        }
    }
    ct__free(&db->alloc, rank);
    size_t inl = written < CT_META_FREE_INLINE ? written : CT_META_FREE_INLINE;
    for (size_t i = 0; i < inl; i++) {
        ct__free_entry *e = &fs->v[order[i]];
        t->meta.free_inline_pgno[i] = e->pgno;
        t->meta.free_inline_txn[i] = e->freed_txn;
        e->home = CT__NO_HOME;
    }
    t->meta.free_inline = (uint32_t)inl;
    uint64_t kept_head = nkept ? old->chain[first] : 0;
    uint64_t kept_gen = nkept ? old->chain_gen[first] : 0;
    rc = fill_new_pages(t, fs, nnew, order + inl, written - inl, kept_head, kept_gen);
    ct__free(&db->alloc, order);
    if (rc != CT_OK) {
        return rc;
    }
#ifdef CT_DEBUG
    uint64_t listed = t->meta.free_inline;
    for (size_t c = 0; c < fs->chain_count; c++) {
        listed += fs->chain_n[c];
    }
    CT_ASSERT(listed == fs->count + fs->frozen_left);
#endif
    t->meta.free_head = fs->chain_count ? fs->chain[0] : 0;
    t->meta.free_gen = fs->chain_count ? fs->chain_gen[0] : 0;
    t->meta.free_count = fs->count + fs->frozen_left;
    return CT_OK;
}

/* The commit drops the old chain pages [0, first), among them some frozen
   ones: their entries rejoin out->v; those of the frozen pages it keeps
   stay frozen. */
static int thaw_at_commit(ct_db *db, ct__freeset *out, size_t first)
{
    size_t keep_pages = db->free.chain_count - first;
    size_t n = 0;
    ct__free_entry *v = with_frozen(db, out->v, out->count, keep_pages, &n);
    if (!v) {
        return CT_NOMEM;
    }
    ct__free(&db->alloc, out->v);
    out->v = v;
    out->count += n;
    out->cap = out->count + 1;
    out->frozen_left -= n;
    out->frozen_left_pages = keep_pages;
    return CT_OK;
}

/* Moves the entries of the pages in front of the frozen tail that list
   only entries held until the next sync out of v, into newly_frozen: later
   commits skip them (every pass over v is per commit) until a sync. */
static int freeze_more(ct_txn *t, ct__freeset *fs)
{
    ct_db *db = t->db;
    const ct__freeset *cur = &db->free;
    if (db->durability != CT_SYNC_NONE) {
        return CT_OK; /* every commit (or group) syncs: the next would thaw */
    }
    if (fs->frozen_left > 0 && cur->frozen_durable != db->durable_txnid) {
        return CT_OK; /* a sync during the txn: the next one thaws */
    }
    size_t b = fs->chain_count - fs->frozen_left_pages; /* first page of the frozen tail */
    if (b == 0 || fs->count == 0) {
        return CT_OK;
    }
    uint32_t *all = ct__calloc(&db->alloc, 2 * b, sizeof(*all));
    if (!all) {
        return CT_NOMEM;
    }
    uint32_t *held = all + b;
    for (size_t i = 0; i < fs->count; i++) {
        const ct__free_entry *e = &fs->v[i];
        CT_ASSERT(e->home < b || e->home == CT__NO_HOME); /* NO_HOME: in the meta */
        if (e->home < b) {
            all[e->home]++;
            held[e->home] += (uint32_t)sync_held(db, e);
        }
    }
    size_t c0 = b;
    size_t k = 0;
    while (c0 > 0 && all[c0 - 1] > 0 && held[c0 - 1] == all[c0 - 1] &&
           all[c0 - 1] == fs->chain_n[c0 - 1]) {
        c0--;
        k += all[c0];
    }
    ct__free(&db->alloc, all);
    if (k == 0) {
        return CT_OK;
    }
    /* Room for ct__freelist_adopt, which cannot fail. */
    pthread_mutex_lock(&db->mu);
    int rc = ct__grow(&db->alloc, (void **)&db->free.frozen, &db->free.frozen_cap,
                      fs->frozen_left + k, sizeof(*cur->frozen));
    pthread_mutex_unlock(&db->mu);
    if (rc != CT_OK) {
        return rc;
    }
    fs->newly_frozen = ct__malloc(&db->alloc, k * sizeof(*fs->newly_frozen));
    if (!fs->newly_frozen) {
        return CT_NOMEM;
    }
    size_t kept = 0;
    for (size_t i = 0; i < fs->count; i++) {
        ct__free_entry e = fs->v[i];
        if (e.home >= c0 && e.home < b) {
            e.home = (uint32_t)(fs->chain_count - 1 - e.home);
            fs->newly_frozen[fs->newly_count++] = e;
        } else {
            fs->v[kept++] = e;
        }
    }
    CT_ASSERT(fs->newly_count == k);
    fs->count = kept;
    fs->newly_pages = b - c0;
    fs->frozen_durable = db->durable_txnid;
    return CT_OK;
}

int ct__freelist_commit(ct_txn *t, ct__freeset *out)
{
    ct_db *db = t->db;
    memset(out, 0, sizeof(*out));
    int thawed = t->fl_thawed != NULL; /* old_view took the frozen tail back */
    out->frozen_left = thawed ? 0 : db->free.frozen_count;
    out->frozen_left_pages = thawed ? 0 : db->free.frozen_pages;
    pthread_mutex_lock(&db->mu);
    uint64_t oldest = ct__readers_oldest(db);
    pthread_mutex_unlock(&db->mu);
    size_t zone = out->frozen_left_pages;
    size_t first = 0;
    int rc = merge_sets(t, out);
    if (rc == CT_OK) {
        trim_tail(t, out, oldest);
        rc = kept_suffix(db, out, oldest, zone, &first);
    }
    /* A kept page at the end of the store would stop the tail from ever
       shrinking: drop it (and the pages before it) to the free list. */
    for (size_t c = first; rc == CT_OK && c < db->free.chain_count; c++) {
        if (db->free.chain[c] + 1 == t->meta.hwm) {
            first = c + 1;
        }
    }
    if (rc == CT_OK && first > db->free.chain_count - zone) {
        rc = thaw_at_commit(db, out, first);
    }
    if (rc == CT_OK) {
        rc = drop_old_pages(t, out, first);
    }
    if (rc == CT_OK) {
        rc = write_chain(t, out, first, oldest);
    }
    if (rc == CT_OK) {
        rc = freeze_more(t, out);
    }
    if (rc != CT_OK) {
        ct__freeset_free(db, out);
    }
    return rc;
}

void ct__freelist_adopt(ct_db *db, ct__freeset *fs, ct__freeset *old)
{
    *old = db->free;
    uint64_t durable = fs->newly_count ? fs->frozen_durable : old->frozen_durable;
    /* The old frozen array keeps the entries still frozen (on the last
       frozen_left_pages pages), then takes the newly frozen ones. */
    fs->frozen = old->frozen;
    fs->frozen_cap = old->frozen_cap;
    fs->frozen_count = old->frozen_count;
    if (fs->frozen_left < old->frozen_count) { /* part of it thawed */
        fs->frozen_count = 0;
        for (size_t i = 0; i < old->frozen_count; i++) {
            if (old->frozen[i].home < fs->frozen_left_pages) {
                fs->frozen[fs->frozen_count++] = old->frozen[i];
            }
        }
    }
    CT_ASSERT(fs->frozen_count == fs->frozen_left);
    fs->frozen_pages = fs->frozen_left_pages;
    fs->frozen_durable = durable;
    old->frozen = NULL;
    CT_ASSERT(fs->frozen_count + fs->newly_count <= fs->frozen_cap);
    if (fs->newly_count > 0) {
        memcpy(fs->frozen + fs->frozen_count, fs->newly_frozen,
               fs->newly_count * sizeof(*fs->frozen));
        fs->frozen_count += fs->newly_count;
        fs->frozen_pages += fs->newly_pages;
    }
    ct__free(&db->alloc, fs->newly_frozen);
    fs->newly_frozen = NULL;
    fs->newly_count = 0;
    fs->newly_pages = 0;
    fs->frozen_left = 0;
    fs->frozen_left_pages = 0;
    db->free = *fs;
}
