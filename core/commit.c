/*
 * commit.c - the commit protocol (DESIGN.md, docs/format.md).
 *
 *   1. bucket descriptors into the catalog, then the free list (up to 21
 *      entries in the meta, the rest on chain pages that are this commit's
 *      last allocations);
 *   2. every dirty page sealed (crc) and written, sorted by page number,
 *      adjacent pages coalesced into one store write (writev() from the
 *      page buffers when the store has it, else write() of a copy); a
 *      small durable commit that grew the store writes zero pages a chunk
 *      past the high-water mark too (grow_ahead);
 *   3. the meta page written to the slot NOT holding the last durable meta;
 *   4. CT_SYNC_FULL: ONE sync; the commit is durable; reusable pages at the
 *      end of the store are given back (resize).
 * One sync suffices because the device may persist the meta without some
 * data page only to have recovery notice: it verifies every page of the
 * newest commit (generation > its durable base) and its free list before
 * accepting it, and the other slot still describes an intact commit
 * (DESIGN.md's generation walk; cowtree-sim checks every crash point).
 * CT_SYNC_GROUP commits write their pages but no meta, then (txn ended,
 * writer lock released) wait in ct__group_wait until a sync covers them:
 * one committer syncs for all that committed before it, the others wait.
 * That sync writes the newest meta to the non-durable slot under the
 * writer lock, then flushes WITHOUT it, so the next commits write their
 * pages meanwhile (pipelining). Safe because those commits write no meta
 * and reuse no page any meta slot or the newest commit holds (freelist.c
 * checks keep_txnid of the slot being flushed); the durable slot and id
 * they read change only under the writer lock (ct__group_adopt).
 * CT_SYNC_NONE skips 4: every unsynced commit's meta goes to the same
 * non-durable slot, and pages freed after the last durable commit are not
 * reused (freelist.c), so a crash always finds an intact earlier commit.
 * Every CT_TXNID_WINDOW / 2 ids a CT_SYNC_NONE commit syncs like a full
 * one, so the ids used since the last durable meta stay inside the window
 * the next open's fence skips (limits.h, recover.c).
 * A failed store write leaves the last commit as it was; a failed sync
 * poisons the db (the state of the unsynced writes is unknown).
 * Must never: write a page a durable meta or a live reader can reach.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sort.h"

typedef struct dirty_ref {
    uint64_t pgno;
    uint8_t *buf;
    uint32_t npages;
} dirty_ref;

static void seal(ct_db *db, dirty_ref *d)
{
#if defined(CT_DEBUG) && CT_DEBUG
    uint8_t type = ct__ph_type(d->buf);
    if (type == CT_PT_LEAF || type == CT_PT_BRANCH) {
        CT_ASSERT(ct__node_validate(d->buf, db->page_size, db->key_max) == CT_OK);
    }
    CT_ASSERT(ct__ph_pgno(d->buf) == d->pgno && ct__ph_txnid(d->buf) != 0);
#endif
    ct__page_seal(d->buf, (uint64_t)d->npages * db->page_size);
}

/* Where a coalesced run's bytes go: copied into staging for write(), or
   one pointer per page into vec for writev() (no copy). */
typedef struct run_sink {
    uint8_t *staging; /* CT_WRITE_RUN_PAGES_MAX pages, or NULL */
    const void **vec; /* CT_WRITE_VEC_PAGES_MAX pointers, or NULL */
    uint32_t cap;     /* pages one coalesced write may gather */
} run_sink;

/* Adds entry d (npages pages) at page offset `at` of the run. */
static void sink_add(const ct_db *db, run_sink *k, uint32_t at, const dirty_ref *d)
{
    CT_ASSERT(at <= k->cap && d->npages <= k->cap - at);
    if (k->vec) {
        /* An overflow run is one buffer of several pages: one pointer each. */
        for (uint32_t p = 0; p < d->npages; p++) {
            k->vec[at + p] = d->buf + (size_t)p * db->page_size;
        }
        return;
    }
    memcpy(k->staging + (size_t)at * db->page_size, d->buf, (size_t)d->npages * db->page_size);
}

static int sink_write(ct_db *db, run_sink *k, uint64_t start, uint32_t pages)
{
    ct_pagestore *ps = db->ps;
    if (k->vec) {
        return ps->ops->writev(ps, start, pages, k->vec);
    }
    return ps->ops->write(ps, start, pages, k->staging);
}

/* Seals and writes sorted dirty runs, coalescing adjacent ones (at most
   k->cap pages) into one store write. A store's writev is one write of
   the run, as its write() of the same bytes would be. Each
   page is sealed just before its write, so the store's copy finds it in
   cache (sealing them all first read a large commit's pages from memory
   twice). */
static int write_sorted(ct_db *db, dirty_ref *d, size_t n, run_sink *k)
{
    ct_pagestore *ps = db->ps;
    size_t i = 0;
    while (i < n) {
        if (d[i].npages >= k->cap || i + 1 == n ||
            d[i + 1].pgno != d[i].pgno + d[i].npages) {
            seal(db, &d[i]);
            int rc = ps->ops->write(ps, d[i].pgno, d[i].npages, d[i].buf);
            if (rc != CT_OK) {
                return rc;
            }
            i++;
            continue;
        }
        uint64_t start = d[i].pgno;
        uint32_t pages = 0;
        while (i < n && d[i].pgno == start + pages &&
               pages + d[i].npages <= k->cap) {
            seal(db, &d[i]);
            sink_add(db, k, pages, &d[i]);
            pages += d[i].npages;
            i++;
        }
        int rc = sink_write(db, k, start, pages);
        if (rc != CT_OK) {
            return rc;
        }
    }
    return CT_OK;
}

/* A page this handle just sealed and wrote is as verified as one it read
   and checked (memo.c, rule 5): noting it spares the next txn a crc and
   node validation of bytes this process produced. Only with a map, the
   one path that consults the memo; a write the device lost or misdirected
   still fails the header comparison every memo hit makes, and an id whose
   commit later fails is never referenced. */
static void memo_own_writes(ct_db *db, const dirty_ref *d, size_t n)
{
    ct_pagestore *ps = db->ps;
    if (!ps->ops->map) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t type = ct__ph_type(d[i].buf);
        if (type == CT_PT_OVERFLOW) { /* a run only where map() is contiguous (memo.c, 6) */
            const uint8_t *m = ps->ops->map(ps, d[i].pgno);
            if (!m || !ct__overflow_mapped_contiguously(ps, d[i].pgno, d[i].npages, m)) {
                continue;
            }
        } else if (type != CT_PT_LEAF && type != CT_PT_BRANCH) {
            continue;
        }
        ct__memo_note(db, d[i].pgno, ct__ph_txnid(d[i].buf), type);
    }
}

static int write_dirty(ct_txn *t)
{
    ct_db *db = t->db;
    size_t n = t->dirty.count;
    dirty_ref *d = ct__malloc(&db->alloc, 2 * (n + 1) * sizeof(*d)); /* + sort space */
    run_sink k = {NULL, NULL, 0};
    if (db->ps->ops->writev) {
        k.cap = CT_WRITE_VEC_PAGES_MAX;
        k.vec = ct__malloc(&db->alloc, (size_t)k.cap * sizeof(*k.vec));
    } else {
        k.cap = CT_WRITE_RUN_PAGES_MAX;
        k.staging = ct__malloc(&db->alloc, (size_t)k.cap * db->page_size);
    }
    int rc = (d && (k.vec || k.staging)) ? CT_OK : CT_NOMEM;
    if (rc == CT_OK) {
        size_t m = 0;
        for (size_t i = 0; i < t->dirty.cap; i++) {
            const ct__pent *e = &t->dirty.slots[i];
            if (e->pgno != UINT64_MAX) {
                d[m].pgno = e->pgno;
                d[m].buf = e->buf;
                d[m].npages = e->npages;
                m++;
            }
        }
        ct__sort_by_u64(d, m, sizeof(*d), offsetof(dirty_ref, pgno), d + n + 1);
        rc = write_sorted(db, d, m, &k);
        if (rc == CT_OK) {
            memo_own_writes(db, d, m);
        }
    }
    ct__free(&db->alloc, d);
    ct__free(&db->alloc, k.staging);
    ct__free(&db->alloc, k.vec);
    return rc;
}

/* Writes meta m to slot through the page buffer buf, between two bumps of
   meta_seq (ct_check reads the meta pages only between two writes). */
static int put_meta(ct_db *db, const ct__meta *m, int slot, uint8_t *buf)
{
    ct__meta_encode(m, buf, db->page_size, slot);
    pthread_mutex_lock(&db->mu);
    db->meta_seq++;
    pthread_mutex_unlock(&db->mu);
    int rc = db->ps->ops->write(db->ps, (uint64_t)slot, 1, buf);
    pthread_mutex_lock(&db->mu);
    db->meta_seq++;
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* Writes meta m to slot through the page buffer buf. On failure the slot
   may hold garbage (a failed write may have written part of the page);
   under CT_SYNC_NONE it also held the last acknowledged commit, which a
   later ct_sync would then declare durable: the db is poisoned (no more
   writes until reopen). That commit's meta is then written back to the
   slot, so a reopen still finds it; should that write fail too, a reopen
   finds the last durable commit or a later one, as after a crash. */
static int write_meta(ct_db *db, const ct__meta *m, int slot, uint8_t *buf)
{
    int rc = put_meta(db, m, slot, buf);
    if (rc == CT_OK) {
        return CT_OK;
    }
    pthread_mutex_lock(&db->mu);
    db->poisoned = 1;
    ct__meta acked = db->meta;
    int restore = db->durability == CT_SYNC_NONE && slot == db->meta_slot &&
                  acked.txnid > db->durable_txnid;
    pthread_mutex_unlock(&db->mu);
    if (restore) {
        (void)put_meta(db, &acked, slot, buf);
    }
    return rc;
}

/* db->mu held. */
static void set_durable(ct_db *db, int slot, const ct__meta *m)
{
    db->durable_slot = slot;
    db->durable_txnid = m->txnid;
    db->durable_meta = *m;
    db->synced_txnid = m->txnid;
}

static int sync_or_poison(ct_db *db)
{
    int rc = db->ps->ops->sync(db->ps);
    if (rc != CT_OK) {
        pthread_mutex_lock(&db->mu);
        db->poisoned = 1;
        pthread_mutex_unlock(&db->mu);
        return rc == CT_NOSPACE ? CT_NOSPACE : CT_IO;
    }
    return CT_OK;
}

_Static_assert(CT_GROW_AHEAD_MAX <= CT_WRITE_RUN_PAGES_MAX, "grow-ahead is one store write");

/* Pages past the high-water mark grow_ahead keeps written (see there). */
static uint64_t grow_ahead_chunk(uint64_t hwm)
{
    uint64_t chunk = hwm / CT_GROW_AHEAD_FRACTION;
    if (chunk < CT_GROW_AHEAD_MIN) {
        chunk = CT_GROW_AHEAD_MIN;
    }
    return chunk < CT_GROW_AHEAD_MAX ? chunk : CT_GROW_AHEAD_MAX;
}

/* Gives the store's tail back, down to the larger high-water mark of the
   two metas (recovery rejects a meta whose mark lies past the store's end,
   and may fall back to the older one), once that tail is at least
   1/CT_SHRINK_FRACTION of the store and more than a grow-ahead chunk.
   When a file's size or block map changes, its fdatasync must also make
   that metadata durable (an inode write, or a journal commit); giving
   back a few pages each commit only to write them again a few commits
   later made the file's size change in 222 of 2,002 durable single-put
   commits (136 of them shrink, then grow again). Pages past the
   high-water mark are garbage the store already tolerates after a
   crash. */
static void shrink_store(ct_db *db)
{
    pthread_mutex_lock(&db->mu);
    uint64_t hwm = db->slot_hwm[0] > db->slot_hwm[1] ? db->slot_hwm[0] : db->slot_hwm[1];
    if (db->meta.hwm > hwm) {
        hwm = db->meta.hwm; /* CT_SYNC_GROUP: newest commit, meta not yet written */
    }
    pthread_mutex_unlock(&db->mu);
    uint64_t size = 0;
    if (db->ps->ops->size(db->ps, &size) == CT_OK && size > hwm &&
        size - hwm >= (size + CT_SHRINK_FRACTION - 1) / CT_SHRINK_FRACTION &&
        size - hwm > grow_ahead_chunk(hwm)) {
        /* Failure is harmless: pages past the high-water mark are unused. */
        (void)db->ps->ops->resize(db->ps, hwm);
    }
}

/* A file's fdatasync also makes its size and block map durable when
   they changed: a journal commit on ext4, which made the sync of a
   durable single put that grew the file take twice as long (128 of 3,002
   fillsync commits did, 7% of the run's sync time). So a durable commit
   that grows the store by less than a chunk also writes zero pages up to
   a chunk past the high-water mark, in the same sync: the next commits
   that grow the tree write into blocks the file already has. (SQLite's
   SQLITE_FCNTL_CHUNK_SIZE does the same for its file.) A bulk commit
   that grows the store by a chunk or more writes none: its own growth
   pays for the size change, and zeros would double its writes. The pages
   are past the high-water mark, so a failed or torn write of them is
   harmless, and recovery ignores them; shrink_store leaves a tail of up
   to a chunk in place. */
static void grow_ahead(ct_txn *t, uint64_t size_before)
{
    ct_db *db = t->db;
    ct_pagestore *ps = db->ps;
    uint64_t size = 0;
    uint64_t hwm = t->meta.hwm;
    uint64_t chunk = grow_ahead_chunk(hwm);
    if (ps->ops->size(ps, &size) != CT_OK || size <= size_before || size - size_before >= chunk ||
        size < hwm || size >= hwm + chunk) {
        return; /* (size < hwm: never after write_dirty; then pages <= chunk) */
    }
    uint32_t pages = (uint32_t)(hwm + chunk - size);
    uint8_t *zero = t->scratch + 2 * (size_t)db->page_size;
    memset(zero, 0, db->page_size);
    if (ps->ops->writev) {
        const void *vec[CT_GROW_AHEAD_MAX];
        for (uint32_t i = 0; i < pages; i++) {
            vec[i] = zero;
        }
        (void)ps->ops->writev(ps, size, pages, vec);
        return;
    }
    for (uint32_t i = 0; i < pages; i++) {
        if (ps->ops->write(ps, size + i, 1, zero) != CT_OK) {
            return;
        }
    }
}

static int has_changes(const ct_txn *t)
{
    return t->dirty.count > 0 || t->freed_count > 0 || t->catalog_dirty;
}

int ct__commit(ct_txn *t)
{
    ct_db *db = t->db;
    if (!has_changes(t)) {
        return CT_OK;
    }
    /* A failed sync (ct_sync on this thread, between this txn's puts)
       poisoned the handle: the state of the writes it covered is unknown,
       so nothing is written on top of them. */
    pthread_mutex_lock(&db->mu);
    if (db->poisoned) {
        pthread_mutex_unlock(&db->mu);
        return CT_POISONED;
    }
    /* The id is spent from here on, whatever happens: pages of a failed
       attempt may reach the store and must never match a later txn. */
    db->next_txnid = t->id + 1;
    pthread_mutex_unlock(&db->mu);
    if (t->id - db->durable_txnid >= CT_TXNID_WINDOW - 1) {
        /* Only a very long run of failed commits gets here (limits.h). */
        pthread_mutex_lock(&db->mu);
        db->poisoned = 1;
        pthread_mutex_unlock(&db->mu);
        return CT_IO;
    }
    int rc = ct__buckets_flush(t);
    if (rc != CT_OK) {
        return rc;
    }
    t->meta.main = t->main.tree;
    ct__freeset fs;
    rc = ct__freelist_commit(t, &fs);
    if (rc != CT_OK) {
        return rc;
    }
    /* CT_SYNC_NONE commits sync once every half window (limits.h), and
       when too many freed pages wait for a sync to be reused. */
    int group = db->durability == CT_SYNC_GROUP;
    /* (A group commit never syncs itself: a group sync may be flushing the
       non-durable slot. Its committer waits for a sync right after.) */
    int full = db->durability == CT_SYNC_FULL ||
               (db->durability == CT_SYNC_NONE &&
                (t->id - db->durable_txnid >= CT_TXNID_WINDOW / 2 ||
                 (db->autosync_pages != 0 &&
                  ct__freeset_sync_held(db, &fs) >= db->autosync_pages)));
    t->meta.txnid = t->id;
    t->meta.durable_base = db->durable_txnid;
    uint64_t size_before = 0;
    if (full && db->ps->ops->size(db->ps, &size_before) != CT_OK) {
        size_before = UINT64_MAX; /* unknown: no grow-ahead */
    }
    rc = write_dirty(t);
    if (rc == CT_OK && full) {
        grow_ahead(t, size_before);
    }
    int slot = 1 - db->durable_slot;
    if (rc == CT_OK && !group) {
        rc = write_meta(db, &t->meta, slot, t->scratch);
    }
    if (rc == CT_OK && full) {
        rc = sync_or_poison(db);
    }
    if (rc != CT_OK) {
        ct__freeset_free(db, &fs);
        return rc;
    }
    pthread_mutex_lock(&db->mu);
    db->meta = t->meta;
    if (!group) {
        db->meta_slot = slot;
        db->keep_txnid[slot] = t->id;
        db->slot_hwm[slot] = t->meta.hwm;
    }
    if (full) {
        set_durable(db, slot, &t->meta);
    }
    ct__freeset old;
    ct__freelist_adopt(db, &fs, &old);
    pthread_mutex_unlock(&db->mu);
    ct__freeset_free(db, &old);
    if (full) {
        shrink_store(db);
    }
    return CT_OK;
}

void ct__group_adopt(ct_db *db)
{
    pthread_mutex_lock(&db->mu);
    int adopt = db->pending_durable;
    if (adopt) {
        db->pending_durable = 0;
        db->durable_slot = db->pending_slot;
        db->durable_txnid = db->durable_meta.txnid;
    }
    pthread_mutex_unlock(&db->mu);
    if (adopt) {
        shrink_store(db);
    }
}

/* CT_SYNC_GROUP: writes the newest commit's meta to the non-durable slot
   under the writer lock (own: the caller's write txn holds it), then
   flushes without it. One such sync at a time (sync_busy): a second one
   would write the slot the first is flushing. */
static int group_sync(ct_db *db, int own)
{
    if (!own) {
        int rc = ct__writer_acquire(db);
        if (rc != CT_OK) {
            return rc;
        }
    }
    pthread_mutex_lock(&db->mu);
    while (db->sync_busy) {
        pthread_cond_wait(&db->group_cv, &db->mu);
    }
    db->sync_busy = 1;
    pthread_mutex_unlock(&db->mu);
    ct__group_adopt(db); /* the slot the last sync made durable */
    pthread_mutex_lock(&db->mu);
    int rc = db->poisoned ? CT_POISONED : CT_OK;
    ct__meta m = db->meta;
    int slot = 1 - db->durable_slot;
    int needed = m.txnid > db->synced_txnid;
    pthread_mutex_unlock(&db->mu);
    if (rc == CT_OK && needed) {
        rc = write_meta(db, &m, slot, db->sync_page);
    }
    if (rc == CT_OK && needed) {
        pthread_mutex_lock(&db->mu);
        db->meta_slot = slot;
        db->keep_txnid[slot] = m.txnid;
        db->slot_hwm[slot] = m.hwm;
        pthread_mutex_unlock(&db->mu);
    }
    if (!own) {
        ct__writer_release(db);
    }
    if (rc == CT_OK && needed) {
        rc = sync_or_poison(db);
    }
    pthread_mutex_lock(&db->mu);
    if (rc == CT_OK && needed) {
        /* Readers and waiters see it now; the writer adopts the slot and
           id at its next begin (ct__group_adopt). */
        db->durable_meta = m;
        db->synced_txnid = m.txnid;
        db->pending_durable = 1;
        db->pending_slot = slot;
    }
    db->sync_busy = 0;
    pthread_cond_broadcast(&db->group_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int ct_sync(ct_db *db)
{
    if (!db) {
        return CT_INVALID;
    }
    if (db->flags & CT_RDONLY) {
        return CT_OK;
    }
    /* Exclude commits: a commit writes the non-durable meta slot, which a
       concurrent sync would make the durable one. The writer's own thread
       may sync between its commits. */
    pthread_mutex_lock(&db->mu);
    int own = db->writer_active && pthread_equal(db->writer_thread, pthread_self());
    pthread_mutex_unlock(&db->mu);
    if (db->durability == CT_SYNC_GROUP) {
        return group_sync(db, own);
    }
    if (!own) {
        int rc = ct__writer_acquire(db);
        if (rc != CT_OK) {
            return rc;
        }
    }
    pthread_mutex_lock(&db->mu);
    int poisoned = db->poisoned;
    ct__meta synced = db->meta;
    int slot = db->meta_slot;
    pthread_mutex_unlock(&db->mu);
    int rc = poisoned ? CT_POISONED : CT_OK;
    if (rc == CT_OK && db->durability != CT_SYNC_FULL) {
        rc = sync_or_poison(db);
        if (rc == CT_OK) {
            pthread_mutex_lock(&db->mu);
            set_durable(db, slot, &synced);
            pthread_mutex_unlock(&db->mu);
            shrink_store(db);
        }
    }
    if (!own) {
        ct__writer_release(db);
    }
    return rc;
}

int ct__group_wait(ct_db *db, uint64_t id)
{
    int rc = CT_OK;
    pthread_mutex_lock(&db->mu);
    while (db->synced_txnid < id) {
        if (db->poisoned) {
            rc = CT_IO; /* a sync or write failed: this commit's fate is unknown */
            break;
        }
        if (db->group_syncing) {
            pthread_cond_wait(&db->group_cv, &db->mu);
            continue;
        }
        /* Lead: one sync covers every commit made so far. Commits made
           while it flushes wait for the next one. */
        db->group_syncing = 1;
        pthread_mutex_unlock(&db->mu);
        int src = ct_sync(db);
        pthread_mutex_lock(&db->mu);
        db->group_syncing = 0;
        pthread_cond_broadcast(&db->group_cv);
        if (src != CT_OK && db->synced_txnid < id) {
            rc = src == CT_NOSPACE ? CT_NOSPACE : CT_IO;
            break;
        }
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}
