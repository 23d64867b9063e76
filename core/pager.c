/*
 * pager.c - page access inside a txn: verified reads (through the store's
 * map when it has one, else through the db's shared page cache, cache.c;
 * overflow runs and ct_check's reads into the txn's private cache),
 * copy-on-write,
 * allocation from the txn's reuse pool or the high-water mark, and frees.
 *
 * Invariants: a page handed out by ct__page_get passed crc, type, pgno and
 * generation checks (and node validation for leaves and branches), on this
 * access or, for a mapped page (memo.c) or a shared-cache entry (cache.c,
 * same pgno, generation and type), on an earlier one through this handle;
 * dirty pages are exactly the pages allocated by this txn, all of generation
 * t->id; a durable page is never written by a txn, only freed.
 */
#include <string.h>

#include "internal.h"

int ct__store_read(ct_db *db, uint64_t pgno, uint32_t npages, uint8_t *buf)
{
    int rc = db->ps->ops->read(db->ps, pgno, npages, buf);
    if (rc == CT_INVALID) {
        /* A pointer past the store's end is a corrupt pointer, not misuse. */
        return CT__CORRUPT(pgno, "page beyond the end of the store");
    }
    return rc;
}

void ct__txn_fail(ct_txn *t, int rc)
{
    if (!t->rdonly && !t->failed && rc != CT_OK && rc != CT_NOTFOUND && rc != CT_EXISTS) {
        t->failed = rc;
    }
}

static int verify_node(ct_db *db, const uint8_t *p, uint8_t type, uint64_t pgno, uint64_t gen)
{
    int rc = ct__page_verify(p, db->page_size, type, pgno, gen);
    if (rc == CT_OK && (type == CT_PT_LEAF || type == CT_PT_BRANCH)) {
        rc = ct__node_validate(p, db->page_size, db->key_max);
    }
    return rc;
}

/* ct__page_get through the shared cache (cache.c): a hit, or a read that
   is verified before it is published. Either way the entry stays pinned
   by this txn (t->pins) until the txn ends. */
static int page_get_shared(ct_txn *t, uint64_t pgno, uint64_t gen, uint8_t type,
                           const uint8_t **out)
{
    ct_db *db = t->db;
    const uint8_t *hit = ct__cache_pin(db, pgno, gen, type);
    uint8_t *fresh = NULL;
    int rc = CT_OK;
    if (!hit) {
        fresh = ct__cache_alloc(db);
        if (!fresh) {
            return CT_NOMEM;
        }
        rc = ct__store_read(db, pgno, 1, fresh);
        if (rc == CT_OK) {
            rc = verify_node(db, fresh, type, pgno, gen);
        }
    }
    const uint8_t *p = hit ? hit : fresh;
    if (rc == CT_OK) {
        rc = ct__pmap_insert(&t->pins, &db->alloc, pgno, (uint8_t *)(uintptr_t)p, 1);
    }
    if (rc != CT_OK) {
        if (hit) {
            ct__cache_unpin(db, hit);
        }
        ct__cache_discard(db, fresh);
        return rc;
    }
    if (fresh) {
        ct__cache_insert(db, fresh, pgno, gen, type); /* only verified bytes are shared */
    }
    *out = p;
    return CT_OK;
}

int ct__page_get(ct_txn *t, uint64_t pgno, uint64_t gen, uint8_t type, const uint8_t **out)
{
    ct_db *db = t->db;
    if (pgno < 2 || pgno >= t->meta.hwm || gen > t->id) {
        return CT__CORRUPT(pgno, "page pointer out of range");
    }
    ct__pent *e = t->rdonly ? NULL : ct__pmap_find(&t->dirty, pgno);
    if (!e) {
        e = ct__pmap_find(&t->pins, pgno);
    }
    if (!e) {
        e = ct__pmap_find(&t->cache, pgno);
    }
    if (e) {
        if (ct__ph_txnid(e->buf) != gen || ct__ph_type(e->buf) != type) {
            return CT__CORRUPT(pgno, "cached page has another generation");
        }
        *out = e->buf;
        return CT_OK;
    }
    if (db->ps->ops->map) {
        const uint8_t *m = db->ps->ops->map(db->ps, pgno);
        if (m) {
            /* Verified once per handle (memo.c has why that is sound); the
               header must still name this pointer, else verify again. */
            if (!t->verify_all && ct__memo_hit(db, pgno, gen) && ct__ph_type(m) == type &&
                ct__ph_pgno(m) == pgno && ct__ph_txnid(m) == gen) {
                *out = m;
                return CT_OK;
            }
            int rc = verify_node(db, m, type, pgno, gen);
            if (rc == CT_OK) {
                ct__memo_note(db, pgno, gen, type);
                *out = m;
            }
            return rc;
        }
    }
    if (t->use_cache && !t->verify_all && type != CT_PT_ANY) {
        return page_get_shared(t, pgno, gen, type, out);
    }
    uint8_t *buf = ct__malloc(&db->alloc, db->page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    int rc = ct__store_read(db, pgno, 1, buf);
    if (rc == CT_OK) {
        rc = verify_node(db, buf, type, pgno, gen);
    }
    if (rc == CT_OK) {
        rc = ct__pmap_insert(&t->cache, &db->alloc, pgno, buf, 1);
    }
    if (rc != CT_OK) {
        ct__free(&db->alloc, buf);
        return rc;
    }
    *out = buf;
    return CT_OK;
}

static uint32_t run_pages(uint32_t page_size, uint32_t vlen)
{
    uint64_t bytes = (uint64_t)CT_PAGE_HDR_BYTES + vlen;
    return (uint32_t)((bytes + page_size - 1) / page_size);
}

int ct__overflow_mapped_contiguously(ct_pagestore *ps, uint64_t pgno, uint32_t np,
                                     const uint8_t *first)
{
    for (uint32_t i = 1; i < np; i++) {
        if ((const uint8_t *)ps->ops->map(ps, pgno + i) != first + (size_t)i * ps->page_size) {
            return 0;
        }
    }
    return 1;
}

/* Overflow run pgno..pgno+np-1 in place through map(), when the store maps
   every page of it exactly one page after the previous (a file mapping
   does inside one chunk; each pointer is checked, so the whole range is
   made of pointers map() vouches for). Verified once per handle like a
   node page, and only noted once the header's run length is np, so a
   hit means the crc covered exactly this run. CT_NOTFOUND: not mapped
   contiguously (use read()); CT_CORRUPT; CT_OK with *out. */
static int overflow_map(ct_txn *t, uint64_t pgno, uint64_t gen, uint32_t np, const uint8_t **out)
{
    ct_db *db = t->db;
    ct_pagestore *ps = db->ps;
    if (!ps->ops->map) {
        return CT_NOTFOUND;
    }
    const uint8_t *m = ps->ops->map(ps, pgno);
    if (!m) {
        return CT_NOTFOUND;
    }
    int header_ok = ct__ph_type(m) == CT_PT_OVERFLOW && ct__ph_pgno(m) == pgno &&
                    ct__ph_txnid(m) == gen && ct__ph_upper(m) == np;
    /* A run is noted only once map() showed it contiguous, and map()'s
       pointers do not change while their pages are not rewritten, which a
       run a snapshot reaches is not: a hit spares the per-page check. */
    if (!(header_ok && !t->verify_all && ct__memo_hit(db, pgno, gen))) {
        if (!ct__overflow_mapped_contiguously(ps, pgno, np, m)) {
            return CT_NOTFOUND;
        }
        int rc = ct__page_verify(m, (uint64_t)np * db->page_size, CT_PT_OVERFLOW, pgno, gen);
        if (rc != CT_OK) {
            return rc;
        }
        if (header_ok) {
            ct__memo_note(db, pgno, gen, CT_PT_OVERFLOW);
        }
    }
    *out = m;
    return CT_OK;
}

int ct__overflow_get(ct_txn *t, uint64_t pgno, uint64_t gen, uint32_t vlen, const uint8_t **val)
{
    ct_db *db = t->db;
    uint32_t np = run_pages(db->page_size, vlen);
    if (pgno < 2 || pgno >= t->meta.hwm || np > t->meta.hwm - pgno || gen > t->id) {
        return CT__CORRUPT(pgno, "overflow pointer out of range");
    }
    ct__pent *e = t->rdonly ? NULL : ct__pmap_find(&t->dirty, pgno);
    if (!e) {
        e = ct__pmap_find(&t->cache, pgno);
    }
    const uint8_t *p = e ? e->buf : NULL;
    if (!p) {
        int rc = overflow_map(t, pgno, gen, np, &p);
        if (rc != CT_OK && rc != CT_NOTFOUND) {
            return rc;
        }
    }
    if (!p) {
        uint64_t bytes = (uint64_t)np * db->page_size;
        uint8_t *buf = ct__malloc(&db->alloc, (size_t)bytes);
        if (!buf) {
            return CT_NOMEM;
        }
        int rc = ct__store_read(db, pgno, np, buf);
        if (rc == CT_OK) {
            rc = ct__page_verify(buf, bytes, CT_PT_OVERFLOW, pgno, gen);
        }
        if (rc == CT_OK) {
            rc = ct__pmap_insert(&t->cache, &db->alloc, pgno, buf, np);
        }
        if (rc != CT_OK) {
            ct__free(&db->alloc, buf);
            return rc;
        }
        p = buf;
    }
    if (ct__ph_type(p) != CT_PT_OVERFLOW || ct__ph_txnid(p) != gen || ct__ph_upper(p) != np ||
        ct__ph_aux(p) != vlen) {
        return CT__CORRUPT(pgno, "overflow run header does not match its reference");
    }
    *val = p + CT_PAGE_HDR_BYTES;
    return CT_OK;
}

/* Removes k consecutive pages from the pool (lowest run first). */
static int pool_take_run(ct_txn *t, uint32_t k, uint64_t *pgno)
{
    if (t->pool_count < k) {
        return 0;
    }
    /* Pool is descending: a run p..p+k-1 sits at [i, i+k) as p+k-1 .. p. */
    for (size_t i = t->pool_count - k + 1; i-- > 0;) {
        uint64_t top = t->pool[i];
        if (top < k - 1) {
            continue;
        }
        if (t->pool[i + k - 1] == top - (k - 1)) {
            *pgno = top - (k - 1);
            memmove(&t->pool[i], &t->pool[i + k], (t->pool_count - i - k) * sizeof(uint64_t));
            t->pool_count -= k;
            return 1;
        }
    }
    return 0;
}

static int pool_put(ct_txn *t, uint64_t pgno)
{
    int rc = ct__grow(&t->db->alloc, (void **)&t->pool, &t->pool_cap, t->pool_count + 1,
                      sizeof(uint64_t));
    if (rc != CT_OK) {
        return rc;
    }
    size_t lo = 0;
    size_t hi = t->pool_count;
    while (lo < hi) { /* first index whose value is < pgno */
        size_t mid = lo + (hi - lo) / 2;
        if (t->pool[mid] > pgno) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    memmove(&t->pool[lo + 1], &t->pool[lo], (t->pool_count - lo) * sizeof(uint64_t));
    t->pool[lo] = pgno;
    t->pool_count++;
    return CT_OK;
}

/* Spare one-page buffers: a random fill dirties a thousand pages per
   commit, and malloc/free of each (with the heap growing and shrinking
   under it) cost about 5% of its time. Runs (overflow values) are kept
   too, in their own budget: 16 puts of 64 KiB are 1.1 MiB a commit that
   glibc would hand back to the kernel and fault in again. */
#define SPARE_BYTES_MAX (4u << 20)

static uint8_t *run_buf_take(ct_db *db, uint32_t npages)
{
    for (size_t i = db->spare_run_count; i-- > 0;) {
        if (db->spare_run[i].npages == npages) {
            uint8_t *buf = db->spare_run[i].buf;
            db->spare_run[i] = db->spare_run[--db->spare_run_count];
            db->spare_run_bytes -= (uint64_t)npages * db->page_size;
            return buf;
        }
    }
    return NULL;
}

uint8_t *ct__page_buf_take(ct_db *db, uint32_t npages, int zero)
{
    size_t bytes = (size_t)npages * db->page_size;
    uint8_t *buf = NULL;
    if (npages == 1 && db->spare_count > 0) {
        buf = db->spare[--db->spare_count];
    } else if (npages > 1) {
        buf = run_buf_take(db, npages);
    }
    if (buf) {
        if (zero) {
            memset(buf, 0, bytes);
        }
        return buf;
    }
    return zero ? ct__calloc(&db->alloc, 1, bytes) : ct__malloc(&db->alloc, bytes);
}

void ct__page_buf_release(ct_db *db, uint8_t *buf, uint32_t npages)
{
    if (npages == 1 && !db->spare) { /* first release: room for the spares */
        size_t cap = SPARE_BYTES_MAX / db->page_size;
        cap = cap > 16 ? cap : 16;
        db->spare = ct__malloc(&db->alloc, cap * sizeof(*db->spare));
        db->spare_cap = db->spare ? cap : 0;
    }
    if (npages == 1 && db->spare_count < db->spare_cap) {
        db->spare[db->spare_count++] = buf;
        return;
    }
    uint64_t bytes = (uint64_t)npages * db->page_size;
    if (npages > 1 && db->spare_run_count < CT_SPARE_RUNS_MAX &&
        bytes <= SPARE_BYTES_MAX - db->spare_run_bytes) {
        db->spare_run[db->spare_run_count].buf = buf;
        db->spare_run[db->spare_run_count].npages = npages;
        db->spare_run_count++;
        db->spare_run_bytes += bytes;
        return;
    }
    ct__free(&db->alloc, buf);
}

void ct__page_spares_free(ct_db *db)
{
    while (db->spare_count > 0) {
        ct__free(&db->alloc, db->spare[--db->spare_count]);
    }
    ct__free(&db->alloc, db->spare);
    db->spare = NULL;
    db->spare_cap = 0;
    while (db->spare_run_count > 0) {
        ct__free(&db->alloc, db->spare_run[--db->spare_run_count].buf);
    }
    db->spare_run_bytes = 0;
}

/* Takes npages from the high-water mark. A large run first skips to the
   next multiple of CT_RUN_ALIGN_PAGES, giving the pages it skips to the
   pool (the tree pages that follow take them), unless it follows the
   txn's last run: a commit's values then reach the file as one write
   that starts aligned, and the page cache holds them in large folios. A
   mapped read takes one fault per folio, and a cold get of a value is
   mostly its faults (docs/bench.md, twenty-third stop). */
static uint64_t take_from_end(ct_txn *t, uint32_t npages)
{
    const uint32_t align = CT_RUN_ALIGN_PAGES;
    if (npages >= align && t->meta.hwm != t->run_end) {
        /* Should the pool fail to grow (no memory), the run starts where
           the skipping stopped: unaligned, and as correct. */
        while (t->meta.hwm % align != 0 && pool_put(t, t->meta.hwm) == CT_OK) {
            t->meta.hwm++;
        }
    }
    uint64_t p = t->meta.hwm;
    t->meta.hwm += npages;
    if (npages >= align) {
        t->run_end = t->meta.hwm;
    }
    return p;
}

/* ct__page_new; zero = 0 leaves the body uninitialised for a caller that
   overwrites every byte (copy-on-write), saving a page-sized memset. */
static int page_alloc(ct_txn *t, uint32_t npages, uint8_t type, int zero, uint64_t *pgno,
                      uint8_t **out)
{
    ct_db *db = t->db;
    uint64_t bytes = (uint64_t)npages * db->page_size;
    if (bytes > SIZE_MAX) {
        return CT_NOMEM;
    }
    uint8_t *buf = ct__page_buf_take(db, npages, zero);
    if (!buf) {
        return CT_NOMEM;
    }
    uint64_t p = 0;
    int from_pool = 0;
    if (npages == 1 && t->pool_meta_count > 0) {
        p = t->pool_meta[--t->pool_meta_count];
        from_pool = 1;
    } else if (npages == 1 && t->pool_count > 0) {
        p = t->pool[--t->pool_count];
        from_pool = 1;
    } else if (npages > 1 && pool_take_run(t, npages, &p)) {
        from_pool = 1;
    } else {
        p = take_from_end(t, npages);
    }
    int rc = ct__pmap_insert(&t->dirty, &db->alloc, p, buf, npages);
    if (rc != CT_OK) {
        if (!from_pool) {
            t->meta.hwm -= npages;
        } else {
            for (uint32_t i = 0; i < npages; i++) {
                (void)pool_put(t, p + i); /* room exists: these slots were just freed */
            }
        }
        ct__page_buf_release(db, buf, npages);
        return rc;
    }
    ct__page_init(buf, type, p, t->id);
    *pgno = p;
    *out = buf;
    return CT_OK;
}

int ct__page_new(ct_txn *t, uint32_t npages, uint8_t type, uint64_t *pgno, uint8_t **out)
{
    return page_alloc(t, npages, type, 1, pgno, out);
}

int ct__page_new_with(ct_txn *t, uint32_t npages, uint8_t type, const void *body, size_t blen,
                      uint64_t *pgno, uint8_t **out)
{
    size_t run_bytes = (size_t)npages * t->db->page_size;
    if (blen > run_bytes - CT_PAGE_HDR_BYTES) {
        return CT_INVALID;
    }
    /* Not zeroed first: a 64 KiB value would be written twice (memset was
       6.6% of a bigvalue put under perf). Every byte is still defined. */
    int rc = page_alloc(t, npages, type, 0, pgno, out);
    if (rc == CT_OK) {
        if (blen) {
            memcpy(*out + CT_PAGE_HDR_BYTES, body, blen);
        }
        memset(*out + CT_PAGE_HDR_BYTES + blen, 0, run_bytes - CT_PAGE_HDR_BYTES - blen);
    }
    return rc;
}

int ct__page_free(ct_txn *t, uint64_t pgno, uint32_t npages, uint64_t gen)
{
    ct_db *db = t->db;
    uint8_t *buf = ct__pmap_remove(&t->dirty, pgno);
    if (buf) {
        /* Allocated by this txn, never durable: reusable at once. */
        ct__page_buf_release(db, buf, npages);
        for (uint32_t i = 0; i < npages; i++) {
            int rc = pool_put(t, pgno + i);
            if (rc != CT_OK) {
                return rc;
            }
        }
        return CT_OK;
    }
    int rc = ct__grow(&db->alloc, (void **)&t->freed, &t->freed_cap, t->freed_count + npages,
                      sizeof(*t->freed));
    if (rc != CT_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < npages; i++) {
        t->freed[t->freed_count++] = (ct__free_entry){pgno + i, t->id, 0, 0, CT__NO_HOME, gen};
    }
    return CT_OK;
}

int ct__page_touch(ct_txn *t, uint64_t *pgno, uint64_t *gen, uint8_t type, uint8_t **out)
{
    ct__pent *e = ct__pmap_find(&t->dirty, *pgno);
    if (e) {
        if (*gen != t->id || ct__ph_type(e->buf) != type) {
            return CT__CORRUPT(*pgno, "dirty page reached through a stale pointer");
        }
        *out = e->buf;
        return CT_OK;
    }
    const uint8_t *src = NULL;
    int rc = ct__page_get(t, *pgno, *gen, type, &src);
    if (rc != CT_OK) {
        return rc;
    }
    uint64_t np = 0;
    uint8_t *dst = NULL;
    rc = page_alloc(t, 1, type, 0, &np, &dst);
    if (rc != CT_OK) {
        return rc;
    }
    memcpy(dst, src, t->db->page_size); /* every byte: no stale heap bytes reach the store */
    ct__put64(dst + CT_PH_PGNO, np);
    ct__put64(dst + CT_PH_TXNID, t->id);
    rc = ct__page_free(t, *pgno, 1, *gen);
    if (rc != CT_OK) {
        return rc;
    }
    *pgno = np;
    *gen = t->id;
    *out = dst;
    return CT_OK;
}
