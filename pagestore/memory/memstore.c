/*
 * memstore.c - the memory store's face: the page-store vtable (read, write,
 * sync, size, resize, close, map, writev), options, create, info, the pending-log
 * query, and the pins that keep map() pointers valid.
 *
 * Owns: the store's lifetime, its mutex, op numbering, the power-cut check
 * and the order in which fault decisions are asked for (see the notes at
 * the end of cowtree/memstore.h); device.c does the storage work.
 * Invariants: every entry point validates its arguments, then takes the
 * store mutex for its whole duration; an op that ends in CT_NOMEM restores
 * the scalar state (counters, PRNG, trace) so the store is unchanged.
 * Must never: hand out a pointer to a buffer it may free before close or
 * ct_memstore_unmap_all, abort, or use a clock or rand().
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define DEFAULT_PAGE_SIZE 4096u
/* FNV-1a 64 offset basis: the trace hash of a fresh store. */
#define TRACE_BASIS UINT64_C(0xcbf29ce484222325)

static _Atomic uint64_t next_store_id = 1;

static int mem_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf);
static int mem_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf);
static int mem_writev(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages);
static int mem_sync(ct_pagestore *ps);
static int mem_size(ct_pagestore *ps, uint64_t *npages);
static int mem_resize(ct_pagestore *ps, uint64_t npages);
static void mem_close(ct_pagestore *ps);
static const void *mem_map(ct_pagestore *ps, uint64_t pgno);

static const ct_pagestore_ops ops_map = {
    mem_read, mem_write, mem_sync, mem_size, mem_resize, mem_close, mem_map, mem_writev,
};
static const ct_pagestore_ops ops_nomap = {
    mem_read, mem_write, mem_sync, mem_size, mem_resize, mem_close, NULL, mem_writev,
};

ct__memstore *ct__mem_from(ct_pagestore *ps)
{
    if (!ps || (ps->ops != &ops_map && ps->ops != &ops_nomap)) {
        return NULL;
    }
    return (ct__memstore *)ps;
}

/* Numbers a write/sync/resize; 1 if the power is (now) out. */
static int op_begin(ct__mem_state *st)
{
    uint64_t idx = st->ops++;
    if (idx >= st->power_cut_at) {
        st->power_out = 1;
    }
    return st->power_out;
}

/* ---- read ----------------------------------------------------------------- */

/* The page a misdirected read of [pgno, pgno + npages) returns instead of
   one of its own (size > npages): half the time a neighbour of the range
   (an address off by one), which a commit often wrote along with it, so
   only the page number in its header tells it apart; else any page
   outside the range. */
static uint64_t misread_source(ct__mem_state *st, uint64_t pgno, uint32_t npages, uint64_t size)
{
    uint64_t end = pgno + npages;
    if (ct__mem_prng_below(&st->prng, 2) == 0) {
        int below = pgno > 0;
        int above = end < size;
        if (below && (!above || ct__mem_prng_below(&st->prng, 2) == 0)) {
            return pgno - 1;
        }
        return end; /* (above holds: size > npages leaves one side) */
    }
    uint64_t r = ct__mem_prng_below(&st->prng, size - npages);
    return r < pgno ? r : r + npages;
}

static int read_locked(ct__memstore *s, uint64_t pgno, uint32_t npages, unsigned char *buf)
{
    ct__mem_state *st = &s->st;
    uint32_t page_size = s->base.page_size;
    if (st->power_out || ct__mem_countdown_fires(st, CT_MEMSTORE_OP_READ) ||
        ct__mem_pgset_any_in(&s->sticky, pgno, npages) ||
        ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_READ_ERROR)) {
        return CT_IO;
    }
    if (ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_READ_ERROR_STICKY)) {
        uint64_t bad = pgno + ct__mem_prng_below(&st->prng, npages);
        return ct__mem_pgset_add(&s->sticky, bad) == CT_OK ? CT_IO : CT_NOMEM;
    }
    for (uint32_t k = 0; k < npages; k++) {
        int rc = ct__mem_read_page(s, pgno + k, buf + (size_t)k * page_size);
        if (rc != CT_OK) {
            return rc;
        }
    }
    if (s->view.npages > npages && ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_MISDIRECTED_READ)) {
        uint32_t k = (uint32_t)ct__mem_prng_below(&st->prng, npages);
        ct__mem_image_read(&s->view, page_size, misread_source(st, pgno, npages, s->view.npages),
                           buf + (size_t)k * page_size);
    }
    if (ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_BIT_ROT)) {
        uint64_t bit = ct__mem_prng_below(&st->prng, (uint64_t)npages * page_size * 8u);
        buf[bit / 8u] ^= (unsigned char)(1u << (bit % 8u));
    }
    return CT_OK;
}

static int mem_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !buf || npages == 0 || pgno > UINT64_MAX - npages ||
        npages > SIZE_MAX / ps->page_size) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    int rc = CT_INVALID;
    if (pgno + npages <= s->view.npages) {
        ct__mem_state saved = s->st;
        s->st.reads++;
        rc = read_locked(s, pgno, npages, buf);
        if (rc == CT_NOMEM) {
            s->st = saved;
        } else {
            ct__mem_trace(&s->st, CT_MEMSTORE_OP_READ, pgno, npages, 0, rc);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- write ---------------------------------------------------------------- */

/* The log entry of a plain write of [pgno, pgno + npages). */
static ct__mem_entry write_entry(uint64_t pgno, uint32_t npages)
{
    ct__mem_entry e;
    memset(&e, 0, sizeof e);
    e.pgno = pgno;
    e.npages = npages;
    e.mis_index = CT__MEM_NO_MISDIRECT;
    e.is_write = 1;
    return e;
}

/* A write that fails may still have written part of its range first (a
   short write, then the error), so what a failed write leaves is unknown
   to its caller: the first `sectors` 512-byte sectors of the range go to
   the view and the log as a write of their own, the rest of the range is
   untouched. Returns fail_rc, or CT_NOMEM with nothing changed. */
static int write_prefix_then_fail(ct__memstore *s, uint64_t pgno, const ct__mem_src *src,
                                  uint64_t sectors, int fail_rc)
{
    uint32_t page_size = s->base.page_size;
    uint32_t per_page = page_size / CT_SECTOR_SIZE;
    if (s->max_pages != 0) { /* (a countdown fires before the size check) */
        uint64_t room = pgno < s->max_pages ? (s->max_pages - pgno) * per_page : 0;
        sectors = sectors < room ? sectors : room;
    }
    uint32_t whole = (uint32_t)(sectors / per_page);
    uint32_t part = (uint32_t)(sectors % per_page);
    uint32_t npages = whole + (part != 0);
    if (npages == 0) {
        return fail_rc;
    }
    unsigned char *buf = malloc((size_t)npages * page_size);
    if (!buf) {
        return CT_NOMEM;
    }
    for (uint32_t k = 0; k < whole; k++) {
        memcpy(buf + (size_t)k * page_size, ct__mem_src_page(src, k, page_size), page_size);
    }
    if (part != 0) {
        unsigned char *last = buf + (size_t)whole * page_size;
        ct__mem_image_read(&s->view, page_size, pgno + whole, last);
        memcpy(last, ct__mem_src_page(src, whole, page_size), (size_t)part * CT_SECTOR_SIZE);
    }
    ct__mem_entry e = write_entry(pgno, npages);
    ct__mem_src prefix = {buf, NULL};
    int rc = ct__mem_device_write(s, &e, &prefix, 0);
    free(buf);
    return rc == CT_OK ? fail_rc : rc;
}

/* How much of a range of `total` sectors a failed write wrote, 0..total:
   from the store PRNG for a write_error or nospace fault, which draws
   anyway; for a countdown from the op number alone, so a countdown draws
   nothing. */
static uint64_t failed_write_sectors(ct__mem_state *st, uint64_t total, int countdown)
{
    if (!countdown) {
        return ct__mem_prng_below(&st->prng, total + 1u);
    }
    uint64_t x = st->ops * UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    return x % (total + 1u);
}

static int write_locked(ct__memstore *s, uint64_t pgno, uint32_t npages, const ct__mem_src *src)
{
    ct__mem_state *st = &s->st;
    st->writes++;
    uint64_t sectors = (uint64_t)npages * (s->base.page_size / CT_SECTOR_SIZE);
    if (op_begin(st)) {
        return CT_IO;
    }
    if (ct__mem_countdown_fires(st, CT_MEMSTORE_OP_WRITE)) {
        return write_prefix_then_fail(s, pgno, src, failed_write_sectors(st, sectors, 1), CT_IO);
    }
    uint64_t end = pgno + npages;
    int grows = end > s->view.npages;
    if (s->max_pages != 0 && end > s->max_pages) {
        return CT_NOSPACE;
    }
    if (grows && ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_NOSPACE)) {
        return write_prefix_then_fail(s, pgno, src, failed_write_sectors(st, sectors, 0),
                                      CT_NOSPACE);
    }
    if (ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_WRITE_ERROR)) {
        return write_prefix_then_fail(s, pgno, src, failed_write_sectors(st, sectors, 0), CT_IO);
    }
    ct__mem_entry e = write_entry(pgno, npages);
    if (ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_LOST_WRITE)) {
        /* Reads still show it (the page cache has it); the device never
           gets it, so it is gone after a crash. The size still grows. */
        int rc = grows ? ct__mem_device_resize(s, end) : CT_OK;
        return rc == CT_OK ? ct__mem_device_write(s, &e, src, 1) : rc;
    }
    uint64_t size = grows ? end : s->view.npages;
    if (size > npages && ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_MISDIRECTED_WRITE)) {
        /* Page mis_index lands at a page outside [pgno, end) below size. */
        e.mis_index = (uint32_t)ct__mem_prng_below(&st->prng, npages);
        uint64_t r = ct__mem_prng_below(&st->prng, size - npages);
        e.mis_pgno = r < pgno ? r : r + npages;
    }
    return ct__mem_device_write(s, &e, src, 0);
}

/* write and writev: the same op to the device model, the fault decisions
   and the trace (a writev records as a write of the gathered bytes), so a
   run gives the same trace hash whichever the engine calls. */
static int write_src(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const ct__mem_src *src)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || npages == 0 || pgno > UINT64_MAX - npages || npages > SIZE_MAX / ps->page_size) {
        return CT_INVALID;
    }
    uint64_t content = ct__mem_content_hash_src(src, npages, ps->page_size);
    pthread_mutex_lock(&s->lock);
    ct__mem_state saved = s->st;
    int rc = write_locked(s, pgno, npages, src);
    if (rc == CT_NOMEM) {
        s->st = saved;
    } else {
        ct__mem_trace(&s->st, CT_MEMSTORE_OP_WRITE, pgno, npages, content, rc);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int mem_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    if (!buf) {
        return CT_INVALID;
    }
    ct__mem_src src = {buf, NULL};
    return write_src(ps, pgno, npages, &src);
}

static int mem_writev(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages)
{
    if (!pages) {
        return CT_INVALID;
    }
    for (uint32_t k = 0; k < npages; k++) {
        if (!pages[k]) {
            return CT_INVALID;
        }
    }
    ct__mem_src src = {NULL, pages};
    return write_src(ps, pgno, npages, &src);
}

/* ---- sync, size, resize ------------------------------------------------------ */

static int sync_locked(ct__memstore *s)
{
    ct__mem_state *st = &s->st;
    st->syncs++;
    if (op_begin(st)) {
        return CT_IO;
    }
    if (ct__mem_countdown_fires(st, CT_MEMSTORE_OP_SYNC) ||
        ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_SYNC_ERROR)) {
        int rc = ct__mem_device_sync_failed(s);
        if (rc == CT_IO) {
            (void)ct__mem_mirror(s, 0); /* the sync failed either way */
        }
        return rc;
    }
    if (ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_LOST_SYNC)) {
        return CT_OK;
    }
    int rc = ct__mem_device_sync(s);
    if (rc == CT_OK && ct__mem_mirror(s, 1) != CT_OK) {
        rc = CT_IO; /* sync's contract: CT_IO whatever failed underneath */
    }
    return rc;
}

static int mem_sync(ct_pagestore *ps)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    ct__mem_state saved = s->st;
    int rc = sync_locked(s);
    if (rc == CT_NOMEM) {
        s->st = saved;
    } else {
        ct__mem_trace(&s->st, CT_MEMSTORE_OP_SYNC, 0, 0, 0, rc);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int mem_size(ct_pagestore *ps, uint64_t *npages)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !npages) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    int rc = s->st.power_out ? CT_IO : CT_OK;
    if (rc == CT_OK) {
        *npages = s->view.npages;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int resize_locked(ct__memstore *s, uint64_t npages)
{
    ct__mem_state *st = &s->st;
    st->resizes++;
    if (op_begin(st) || ct__mem_countdown_fires(st, CT_MEMSTORE_OP_RESIZE)) {
        return CT_IO;
    }
    int grows = npages > s->view.npages;
    if (grows && ((s->max_pages != 0 && npages > s->max_pages) ||
                  ct__mem_fault_hits(st, CT_MEMSTORE_FAULT_NOSPACE))) {
        return CT_NOSPACE;
    }
    return ct__mem_device_resize(s, npages);
}

static int mem_resize(ct_pagestore *ps, uint64_t npages)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    ct__mem_state saved = s->st;
    int rc = resize_locked(s, npages);
    if (rc == CT_NOMEM) {
        s->st = saved;
    } else {
        ct__mem_trace(&s->st, CT_MEMSTORE_OP_RESIZE, npages, 0, 0, rc);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- map and pins ------------------------------------------------------------ */

static const void *mem_map(ct_pagestore *ps, uint64_t pgno)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    ct__mem_page *p = NULL;
    if (!s->st.power_out && pgno < s->view.npages) {
        p = s->view.pages[pgno];
    }
    if (p && atomic_load_explicit(&p->pinned_by, memory_order_relaxed) != s->id) {
        if (s->npins == s->cap_pins) {
            uint64_t cap = s->cap_pins ? s->cap_pins * 2u : 64u;
            ct__mem_page **pins = NULL;
            if (cap <= SIZE_MAX / sizeof *pins) {
                pins = realloc(s->pins, (size_t)cap * sizeof *pins);
            }
            if (!pins) {
                p = NULL; /* out of memory: the engine falls back to read() */
                goto out_unlock;
            }
            s->pins = pins;
            s->cap_pins = cap;
        }
        ct__mem_page_ref(p);
        atomic_store_explicit(&p->pinned_by, s->id, memory_order_relaxed);
        s->pins[s->npins++] = p;
    }
out_unlock:
    pthread_mutex_unlock(&s->lock);
    return p ? p->data : NULL;
}

static void unpin_all(ct__memstore *s)
{
    for (uint64_t i = 0; i < s->npins; i++) {
        uint64_t id = s->id;
        atomic_compare_exchange_strong(&s->pins[i]->pinned_by, &id, 0u);
        ct__mem_page_unref(s->pins[i]);
    }
    s->npins = 0;
}

int ct_memstore_unmap_all(ct_pagestore *ps)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    unpin_all(s);
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

/* ---- lifetime ---------------------------------------------------------------- */

static void mem_close(ct_pagestore *ps)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return;
    }
    unpin_all(s);
    free(s->pins);
    ct__mem_image_release(&s->durable);
    ct__mem_image_release(&s->view);
    ct__mem_log_release(&s->log);
    ct__mem_pgset_release(&s->sticky);
    ct__mem_inner_close(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void ct_memstore_options_init(ct_memstore_options *opt)
{
    if (!opt) {
        return;
    }
    memset(opt, 0, sizeof *opt);
    opt->page_size = DEFAULT_PAGE_SIZE;
    opt->enable_map = 1;
}

int ct__mem_new(const ct_memstore_options *opt, uint32_t page_size, int has_inner,
                ct__memstore **out)
{
    ct_memstore_options def;
    if (!opt) {
        ct_memstore_options_init(&def);
        opt = &def;
    }
    if (page_size < CT_PAGE_SIZE_MIN || page_size > CT_PAGE_SIZE_MAX ||
        (page_size & (page_size - 1u)) != 0) {
        return CT_INVALID;
    }
    ct__memstore *s = calloc(1, sizeof *s);
    if (!s) {
        return CT_NOMEM;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return CT_NOMEM;
    }
    /* A fault store never maps: every read must reach its inner store. */
    s->base.ops = opt->enable_map && !has_inner ? &ops_map : &ops_nomap;
    s->base.page_size = page_size;
    s->id = atomic_fetch_add(&next_store_id, 1u);
    s->max_pages = opt->max_pages;
    ct__mem_prng_seed(&s->st.prng, opt->seed);
    s->st.faults = opt->faults;
    s->st.power_cut_at = UINT64_MAX;
    s->st.trace_hash = TRACE_BASIS;
    *out = s;
    return CT_OK;
}

int ct_memstore_create(const ct_memstore_options *opt, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    uint32_t page_size = opt && opt->page_size ? opt->page_size : DEFAULT_PAGE_SIZE;
    ct__memstore *s = NULL;
    int rc = ct__mem_new(opt, page_size, 0, &s);
    if (rc == CT_OK) {
        *out = &s->base;
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------------- */

int ct_memstore_get_info(ct_pagestore *ps, ct_memstore_info *out)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !out) {
        return CT_INVALID;
    }
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->lock);
    const ct__mem_state *st = &s->st;
    out->ops = st->ops;
    out->reads = st->reads;
    out->writes = st->writes;
    out->syncs = st->syncs;
    out->resizes = st->resizes;
    out->pending = s->log.count;
    out->size_pages = s->view.npages;
    out->durable_pages = s->durable.npages;
    memcpy(out->faults_injected, st->faults_injected, sizeof out->faults_injected);
    out->trace_hash = st->trace_hash;
    memcpy(out->countdown_failures, st->countdown_failures, sizeof out->countdown_failures);
    out->power_cut_at = st->power_cut_at;
    out->pinned_pages = s->npins;
    out->power_out = st->power_out;
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

int ct_memstore_pending_entry(ct_pagestore *ps, uint32_t index, int *is_write, uint64_t *pgno,
                              uint32_t *npages)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    int rc = CT_NOTFOUND;
    if (index < s->log.count) {
        const ct__mem_entry *e = &s->log.entries[index];
        if (is_write) {
            *is_write = e->is_write;
        }
        if (pgno) {
            *pgno = e->pgno;
        }
        if (npages) {
            *npages = e->npages;
        }
        rc = CT_OK;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
