/*
 * db.c - opening, closing, syncing and describing a database.
 */
#include <string.h>

#include "cowtree/filestore.h"
#include "internal.h"

void ct_options_init(ct_options *opt)
{
    if (!opt) {
        return;
    }
    memset(opt, 0, sizeof(*opt));
    opt->durability = CT_SYNC_FULL;
}

static int page_size_supported(uint32_t p)
{
    return p >= CT_PAGE_SIZE_MIN && p <= CT_PAGE_SIZE_MAX && (p & (p - 1)) == 0;
}

/* The checks that need no store: ct_open_path makes them before it
   creates a file, so bad options leave nothing behind. */
static int check_store_free_options(const ct_options *o)
{
    if (o->flags & ~(CT_RDONLY | CT_NOCREATE)) {
        return CT_INVALID;
    }
    if (o->durability != CT_SYNC_FULL && o->durability != CT_SYNC_NONE &&
        o->durability != CT_SYNC_GROUP) {
        return CT_INVALID;
    }
    if (o->alloc && (!o->alloc->malloc || !o->alloc->realloc || !o->alloc->free)) {
        return CT_INVALID;
    }
    return CT_OK;
}

static int check_options(const ct_options *o, const ct_pagestore *ps)
{
    int rc = check_store_free_options(o);
    if (rc != CT_OK) {
        return rc;
    }
    if (o->page_size != 0 && o->page_size != ps->page_size) {
        return CT_INVALID;
    }
    if (!page_size_supported(ps->page_size)) {
        return CT_VERSION;
    }
    return CT_OK;
}

/* The db struct goes back through the allocator it came from, once every
   other block went back through db->alloc. */
static void free_db(ct_db *db)
{
    if (db->retains) {
        ct__retain_destroy(&db->retain);
    }
    ct_allocator a = db->base_alloc;
    ct__free(&a, db);
}

int ct_open(ct_pagestore *ps, const ct_options *opt, ct_db **out)
{
    if (!ps || !out || !ps->ops) {
        return CT_INVALID;
    }
    *out = NULL;
    ct_options o;
    ct_options_init(&o);
    if (opt) {
        o = *opt;
    }
    int rc = check_options(&o, ps);
    if (rc != CT_OK) {
        return rc;
    }
    const ct_allocator *a = o.alloc ? o.alloc : &ct__libc_allocator;
    ct_db *db = ct__calloc(a, 1, sizeof(*db));
    if (!db) {
        return CT_NOMEM;
    }
    db->base_alloc = *a;
    db->alloc = *a;
    if (!o.alloc) {
        ct__retain_init(&db->retain, &db->alloc, ps->page_size);
        db->retains = 1;
    }
    db->ps = ps;
    db->page_size = ps->page_size;
    db->flags = o.flags;
    db->durability = o.durability;
    db->autosync_pages = o.autosync_pages;
    db->cell_max = ct__cell_max_bytes(db->page_size);
    db->key_max = ct__key_max_bytes(db->page_size);
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->write_cv, NULL);
    pthread_cond_init(&db->group_cv, NULL);
    rc = ct__cache_init(db, o.cache_pages);
    if (rc == CT_OK && db->durability == CT_SYNC_GROUP && !(db->flags & CT_RDONLY)) {
        /* Allocated now: a group sync runs after its commits are visible,
           so it must not fail for memory. */
        db->sync_page = ct__malloc(&db->alloc, db->page_size);
        rc = db->sync_page ? CT_OK : CT_NOMEM;
    }
    if (rc == CT_OK) {
        rc = ct__recover(db);
    }
    if (rc == CT_OK && !(db->flags & CT_RDONLY)) {
        /* Whatever the store shows becomes durable (the fence syncs): the
           commit we recovered is then the durable base the next commits
           build on. */
        rc = db->needs_fence ? ct__recover_fence(db) : ps->ops->sync(ps);
    }
    db->synced_txnid = db->durable_txnid;
    if (rc != CT_OK) {
        ct__freeset_free(db, &db->free);
        ct__memo_free(db);
        ct__page_spares_free(db);
        ct__txn_spares_free(db);
        ct__cache_free(db);
        ct__free(&db->alloc, db->sync_page);
        pthread_mutex_destroy(&db->mu);
        pthread_cond_destroy(&db->write_cv);
        pthread_cond_destroy(&db->group_cv);
        free_db(db);
        return rc;
    }
    *out = db;
    return CT_OK;
}

/* Page size at which slot 0 or slot 1 of the file holds a valid meta (the
   newest if several), 0 when none does. Both slots are tried: a torn
   slot 0 must not hide a valid slot 1, or the file would be opened at the
   wrong page size, show no valid meta, and could pass for a creation a
   crash interrupted. */
static uint32_t probe_valid_meta(ct_pagestore *ps, uint64_t size, uint8_t *buf)
{
    uint32_t best = 0;
    uint64_t best_txnid = 0;
    for (uint32_t p = CT_PAGE_SIZE_MIN; p <= CT_PAGE_SIZE_MAX; p <<= 1) {
        uint32_t n = p / CT_PAGE_SIZE_MIN;
        for (int slot = 0; slot < 2 && (uint64_t)(slot + 1) * n <= size; slot++) {
            ct__meta m;
            if (ps->ops->read(ps, (uint64_t)slot * n, n, buf) == CT_OK &&
                ct__meta_decode(buf, p, slot, &m) == CT_OK && (!best || m.txnid > best_txnid)) {
                best = p;
                best_txnid = m.txnid;
            }
        }
    }
    return best;
}

/* A file of at most two pages of page_size with no valid meta is taken
   for a creation a crash cut short, and created afresh (ct_open). Through
   a path, where the file may be anything, that is only allowed when its
   bytes are what such a creation leaves: every 512-byte sector (probe
   pages) zero or a meta's. CT_CORRUPT for anything else: ct_open_path
   never turns a foreign file into a database. */
static int small_file_is_torn_creation(ct_pagestore *probe, uint64_t sectors,
                                       uint32_t page_size, uint8_t *buf)
{
    if (sectors > 2u * (uint64_t)(page_size / CT_PAGE_SIZE_MIN)) {
        return CT_OK; /* not small: ct_open judges it (CT_CORRUPT) */
    }
    for (uint64_t s = 0; s < sectors; s++) {
        int rc = probe->ops->read(probe, s, 1, buf);
        if (rc != CT_OK) {
            return rc;
        }
        if (!ct__meta_sector_plausible(buf, (s * CT_PAGE_SIZE_MIN) % page_size == 0)) {
            return CT_CORRUPT;
        }
    }
    return CT_OK;
}

/* Reads the page size of an existing file (see probe_valid_meta); when no
   slot is valid, the size meta 0 records, and recovery judges (but a small
   file a writable open would create afresh must look like a torn
   creation: small_file_is_torn_creation). */
static int probe_page_size(const char *path, const ct_options *o, uint32_t *page_size)
{
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = CT_PAGE_SIZE_MIN;
    fo.flags = CT_FS_RDONLY | CT_FS_NOCREATE;
    ct_pagestore *ps = NULL;
    int rc = ct_filestore_open(path, &fo, &ps);
    uint32_t dflt = o->page_size ? o->page_size : 4096u;
    const ct_allocator *a = o->alloc ? o->alloc : &ct__libc_allocator;
    if (rc == CT_NOTFOUND) {
        *page_size = dflt;
        return CT_OK;
    }
    if (rc != CT_OK) {
        return rc;
    }
    uint64_t size = 0;
    rc = ps->ops->size(ps, &size);
    uint8_t *buf = NULL;
    if (rc == CT_OK && size == 0) {
        *page_size = dflt;
    } else if (rc == CT_OK && !(buf = ct__malloc(a, CT_PAGE_SIZE_MAX))) {
        rc = CT_NOMEM;
    } else if (rc == CT_OK) {
        uint32_t p = probe_valid_meta(ps, size, buf);
        if (p == 0) {
            rc = ps->ops->read(ps, 0, 1, buf);
            /* Body offset 12 of the meta page holds the page size (meta.c). */
            p = ct__get32(buf + CT_PAGE_HDR_BYTES + 12);
            if (rc == CT_OK && !page_size_supported(p)) {
                p = dflt;
            }
            if (rc == CT_OK && !(o->flags & (CT_RDONLY | CT_NOCREATE))) {
                rc = small_file_is_torn_creation(ps, size, p, buf);
            }
        }
        *page_size = p;
    }
    ct__free(a, buf);
    ps->ops->close(ps);
    return rc;
}

int ct_open_path(const char *path, const ct_options *opt, ct_db **out)
{
    if (!path || !out) {
        return CT_INVALID;
    }
    *out = NULL;
    ct_options o;
    ct_options_init(&o);
    if (opt) {
        o = *opt;
    }
    int rc = check_store_free_options(&o);
    if (rc != CT_OK) {
        return rc;
    }
    if (o.page_size != 0 && !page_size_supported(o.page_size)) {
        return CT_INVALID; /* no file store takes it */
    }
    uint32_t page_size = 0;
    rc = probe_page_size(path, &o, &page_size);
    if (rc != CT_OK) {
        return rc;
    }
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = page_size;
    fo.flags = ((o.flags & CT_RDONLY) ? CT_FS_RDONLY : 0u) |
               ((o.flags & CT_NOCREATE) ? CT_FS_NOCREATE : 0u);
    ct_pagestore *ps = NULL;
    rc = ct_filestore_open(path, &fo, &ps);
    if (rc != CT_OK) {
        return rc;
    }
    o.page_size = 0;
    rc = ct_open(ps, &o, out);
    if (rc != CT_OK) {
        ps->ops->close(ps);
        return rc;
    }
    (*out)->owns_store = 1;
    return CT_OK;
}

void ct_close(ct_db *db)
{
    if (!db) {
        return;
    }
    if (db->write_txn) {
        ct_abort(db->write_txn);
    }
    while (db->readers) {
        ct_abort(db->readers);
    }
    ct__freeset_free(db, &db->free);
    ct__memo_free(db);
    ct__page_spares_free(db);
    ct__txn_spares_free(db);
    ct__cache_free(db); /* every txn ended above: nothing is pinned */
    ct__free(&db->alloc, db->sync_page);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->write_cv);
    pthread_cond_destroy(&db->group_cv);
    ct_pagestore *ps = db->owns_store ? db->ps : NULL;
    free_db(db);
    if (ps) {
        ps->ops->close(ps);
    }
}

size_t ct_key_max(const ct_db *db)
{
    return db ? db->key_max : 0;
}

int ct_stat(ct_db *db, struct ct_stat *out)
{
    if (!db || !out) {
        return CT_INVALID;
    }
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&db->mu);
    out->txnid = db->meta.txnid;
    out->page_size = db->page_size;
    out->pages_total = db->meta.hwm;
    out->pages_free = ct__freeset_total(&db->free);
    out->pages_in_use = db->meta.hwm - out->pages_free;
    out->depth = db->meta.main.depth;
    out->entries = db->meta.main.entries;
    out->buckets = db->meta.buckets;
    out->meta_slot = (uint32_t)db->meta_slot;
    out->readers = db->reader_count;
    uint64_t oldest = ct__readers_oldest(db);
    out->oldest_reader_txnid = oldest == UINT64_MAX ? 0 : oldest;
    const ct__free_entry *sets[2] = {db->free.v, db->free.frozen};
    size_t counts[2] = {db->free.count, db->free.frozen_count};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < counts[s]; i++) {
            uint64_t f = sets[s][i].freed_txn;
            if (f != 0 && sets[s][i].chain_of == 0 && oldest != UINT64_MAX && f > oldest) {
                out->pages_held_by_readers++;
            }
        }
    }
    out->durable_txnid = db->synced_txnid;
    out->pages_held_by_sync = ct__freeset_sync_held(db, &db->free);
    out->free_list_pages = db->free.chain_count;
    pthread_mutex_unlock(&db->mu);
    out->key_max = db->key_max;
    out->rejected_txnid = db->rejected_txnid;
    out->rejected_pgno = db->rejected_pgno;
    out->meta_slots_invalid = db->meta_slots_invalid;
    uint64_t size = 0;
    if (db->ps->ops->size(db->ps, &size) == CT_OK) {
        out->store_pages = size;
    }
    return CT_OK;
}
