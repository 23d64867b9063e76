/*
 * device.c - the memory store's device model: refcounted page buffers, the
 * durable image, the view, the log of unsynced writes and resizes, sync,
 * failed sync, power cut and crash outcomes, and poke/peek.
 *
 * Owns: ct__memstore.durable, .view, .log and the page buffers in them.
 * Invariants (with mem.h's):
 *   1. view = durable image + every log entry applied whole in log order,
 *      except after a failed sync, which resolves the log into the durable
 *      image at random while the view keeps the new data.
 *   2. An op either completes or, on CT_NOMEM, leaves images and log as
 *      they were: allocation happens before the first change, and outcomes
 *      that allocate (tears) are built on a copy of the durable image that
 *      replaces it only on success.
 *   3. Page buffers are replaced, never modified: a torn page is a new
 *      buffer, so a pointer map() handed out keeps its bytes.
 * Must never: decide faults (faults.c does), number ops, or abort.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Smallest capacity an image or the log grows to, in slots. */
#define GROW_MIN 16u

ct__mem_page *ct__mem_page_new(uint32_t page_size)
{
    ct__mem_page *p = malloc(sizeof *p + page_size);
    if (!p) {
        return NULL;
    }
    atomic_init(&p->refs, 1u);
    atomic_init(&p->pinned_by, 0u);
    return p;
}

void ct__mem_page_ref(ct__mem_page *p)
{
    if (p) {
        atomic_fetch_add_explicit(&p->refs, 1u, memory_order_relaxed);
    }
}

void ct__mem_page_unref(ct__mem_page *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1u, memory_order_acq_rel) == 1u) {
        free(p);
    }
}

/* New capacity for an array of `cap` slots that must hold `need`. */
static uint64_t grown_cap(uint64_t cap, uint64_t need)
{
    uint64_t c = cap > UINT64_MAX / 2u ? UINT64_MAX : cap * 2u;
    if (c < GROW_MIN) {
        c = GROW_MIN;
    }
    return c < need ? need : c;
}

int ct__mem_image_reserve(ct__mem_image *img, uint64_t npages)
{
    if (npages <= img->cap) {
        return CT_OK;
    }
    uint64_t cap = grown_cap(img->cap, npages);
    if (cap > SIZE_MAX / sizeof(ct__mem_page *)) {
        cap = npages;
        if (cap > SIZE_MAX / sizeof(ct__mem_page *)) {
            return CT_NOMEM;
        }
    }
    ct__mem_page **p = realloc(img->pages, (size_t)cap * sizeof(ct__mem_page *));
    if (!p) {
        return CT_NOMEM;
    }
    img->pages = p;
    img->cap = cap;
    return CT_OK;
}

void ct__mem_image_resize(ct__mem_image *img, uint64_t npages)
{
    for (uint64_t i = npages; i < img->npages; i++) {
        ct__mem_page_unref(img->pages[i]);
    }
    for (uint64_t i = img->npages; i < npages; i++) {
        img->pages[i] = NULL;
    }
    img->npages = npages;
}

int ct__mem_image_copy(ct__mem_image *dst, const ct__mem_image *src, uint64_t cap_min)
{
    memset(dst, 0, sizeof *dst);
    uint64_t cap = src->npages > cap_min ? src->npages : cap_min;
    if (ct__mem_image_reserve(dst, cap == 0 ? 1u : cap) != CT_OK) {
        return CT_NOMEM;
    }
    for (uint64_t i = 0; i < src->npages; i++) {
        dst->pages[i] = src->pages[i];
        ct__mem_page_ref(src->pages[i]);
    }
    dst->npages = src->npages;
    return CT_OK;
}

void ct__mem_image_release(ct__mem_image *img)
{
    ct__mem_image_resize(img, 0);
    free(img->pages);
    memset(img, 0, sizeof *img);
}

void ct__mem_image_read(const ct__mem_image *img, uint32_t page_size, uint64_t pgno,
                        unsigned char *out)
{
    const ct__mem_page *p = pgno < img->npages ? img->pages[pgno] : NULL;
    if (p) {
        memcpy(out, p->data, page_size);
    } else {
        memset(out, 0, page_size);
    }
}

/* Puts p (a new reference is taken) at slot pgno < npages. */
static void image_put(ct__mem_image *img, uint64_t pgno, ct__mem_page *p)
{
    ct__mem_page_ref(p);
    ct__mem_page_unref(img->pages[pgno]);
    img->pages[pgno] = p;
}

/* One past the last page the entry lands on (write) or its new size. */
static uint64_t entry_end(const ct__mem_entry *e)
{
    if (!e->is_write) {
        return e->pgno;
    }
    uint64_t end = e->pgno + e->npages;
    if (e->mis_index != CT__MEM_NO_MISDIRECT && e->mis_pgno >= end) {
        end = e->mis_pgno + 1u;
    }
    return end;
}

/* Page number where page k of a write entry lands. */
static uint64_t landing(const ct__mem_entry *e, uint32_t k)
{
    return k == e->mis_index ? e->mis_pgno : e->pgno + k;
}

/* Applies the entry whole; img has capacity for entry_end(e). */
static void apply_whole(ct__mem_image *img, const ct__mem_entry *e)
{
    if (!e->is_write) {
        ct__mem_image_resize(img, e->pgno);
        return;
    }
    uint64_t end = entry_end(e);
    if (end > img->npages) {
        ct__mem_image_resize(img, end);
    }
    for (uint32_t k = 0; k < e->npages; k++) {
        image_put(img, landing(e, k), e->pages[k]);
    }
}

/* ---- The log ------------------------------------------------------------- */

static void entry_release(ct__mem_entry *e)
{
    for (uint32_t k = 0; k < e->npages && e->pages; k++) {
        ct__mem_page_unref(e->pages[k]);
    }
    free(e->pages);
    e->pages = NULL;
}

static void log_clear(ct__mem_log *log)
{
    for (uint64_t i = 0; i < log->count; i++) {
        entry_release(&log->entries[i]);
    }
    log->count = 0;
}

void ct__mem_log_release(ct__mem_log *log)
{
    log_clear(log);
    free(log->entries);
    memset(log, 0, sizeof *log);
}

/* Room for one more entry. */
static int log_reserve(ct__mem_log *log)
{
    if (log->count < log->cap) {
        return CT_OK;
    }
    uint64_t cap = grown_cap(log->cap, log->count + 1u);
    if (cap > SIZE_MAX / sizeof(ct__mem_entry)) {
        return CT_NOMEM;
    }
    ct__mem_entry *p = realloc(log->entries, (size_t)cap * sizeof(ct__mem_entry));
    if (!p) {
        return CT_NOMEM;
    }
    log->entries = p;
    log->cap = cap;
    return CT_OK;
}

int ct__mem_log_copy(ct__mem_log *dst, const ct__mem_log *src)
{
    memset(dst, 0, sizeof *dst);
    if (src->count == 0) {
        return CT_OK;
    }
    if (src->count > SIZE_MAX / sizeof(ct__mem_entry)) {
        return CT_NOMEM;
    }
    dst->entries = malloc((size_t)src->count * sizeof(ct__mem_entry));
    if (!dst->entries) {
        return CT_NOMEM;
    }
    dst->cap = src->count;
    for (uint64_t i = 0; i < src->count; i++) {
        const ct__mem_entry *e = &src->entries[i];
        ct__mem_entry *d = &dst->entries[i];
        *d = *e;
        if (!e->is_write) {
            dst->count++;
            continue;
        }
        d->pages = malloc((size_t)e->npages * sizeof(ct__mem_page *));
        if (!d->pages) {
            ct__mem_log_release(dst);
            return CT_NOMEM;
        }
        for (uint32_t k = 0; k < e->npages; k++) {
            d->pages[k] = e->pages[k];
            ct__mem_page_ref(e->pages[k]);
        }
        dst->count++;
    }
    return CT_OK;
}

/* Largest size any order of applying entries of the log can give img. */
static uint64_t log_max_end(const ct__mem_log *log, uint64_t npages)
{
    uint64_t end = npages;
    for (uint64_t i = 0; i < log->count; i++) {
        uint64_t e = entry_end(&log->entries[i]);
        end = e > end ? e : end;
    }
    return end;
}

/* ---- Device operations ---------------------------------------------------- */

int ct__mem_device_write(ct__memstore *s, const ct__mem_entry *proto, const ct__mem_src *src,
                         int lost)
{
    uint32_t page_size = s->base.page_size;
    ct__mem_page **pages = calloc(proto->npages, sizeof *pages);
    if (!pages) {
        return CT_NOMEM;
    }
    for (uint32_t k = 0; k < proto->npages; k++) {
        pages[k] = ct__mem_page_new(page_size);
        if (!pages[k]) {
            goto out_nomem;
        }
        memcpy(pages[k]->data, ct__mem_src_page(src, k, page_size), page_size);
    }
    uint64_t end = proto->pgno + proto->npages;
    if (ct__mem_image_reserve(&s->view, end) != CT_OK ||
        (!lost && log_reserve(&s->log) != CT_OK)) {
        goto out_nomem;
    }
    ct__mem_entry meant = *proto;
    meant.is_write = 1;
    meant.pages = pages;
    meant.mis_index = CT__MEM_NO_MISDIRECT;
    apply_whole(&s->view, &meant);
    if (lost) {
        for (uint32_t k = 0; k < proto->npages; k++) {
            ct__mem_page_unref(pages[k]); /* the view holds its own references */
        }
        free(pages);
        return CT_OK;
    }
    ct__mem_entry *e = &s->log.entries[s->log.count++];
    *e = *proto;
    e->is_write = 1;
    e->pages = pages;
    return CT_OK;
out_nomem:
    for (uint32_t k = 0; k < proto->npages; k++) {
        ct__mem_page_unref(pages[k]);
    }
    free(pages);
    return CT_NOMEM;
}

int ct__mem_device_resize(ct__memstore *s, uint64_t npages)
{
    if (ct__mem_image_reserve(&s->view, npages) != CT_OK || log_reserve(&s->log) != CT_OK) {
        return CT_NOMEM;
    }
    ct__mem_entry *e = &s->log.entries[s->log.count++];
    memset(e, 0, sizeof *e);
    e->pgno = npages;
    e->mis_index = CT__MEM_NO_MISDIRECT;
    e->is_write = 0;
    ct__mem_image_resize(&s->view, npages);
    return CT_OK;
}

int ct__mem_device_sync(ct__memstore *s)
{
    if (ct__mem_image_reserve(&s->durable, log_max_end(&s->log, s->durable.npages)) != CT_OK) {
        return CT_NOMEM;
    }
    for (uint64_t i = 0; i < s->log.count; i++) {
        apply_whole(&s->durable, &s->log.entries[i]);
    }
    log_clear(&s->log);
    return CT_OK;
}

/* Fills one sector of a torn page per its choice (see tear_choose). */
static void tear_sector(unsigned char *dst, const ct__mem_page *old, const ct__mem_page *neu,
                        size_t off, unsigned char choice, ct__mem_prng *rng)
{
    switch (choice) {
    case 0: /* old */
        if (old) {
            memcpy(dst + off, old->data + off, CT_SECTOR_SIZE);
        } else {
            memset(dst + off, 0, CT_SECTOR_SIZE);
        }
        break;
    case 1: /* new */
        memcpy(dst + off, neu->data + off, CT_SECTOR_SIZE);
        break;
    case 2: /* zero */
        memset(dst + off, 0, CT_SECTOR_SIZE);
        break;
    default: /* garbage */
        for (size_t i = 0; i < CT_SECTOR_SIZE; i += 8u) {
            uint64_t r = ct__mem_prng_next(rng);
            for (unsigned b = 0; b < 8u; b++) {
                dst[off + i + b] = (unsigned char)(r >> (8u * b));
            }
        }
        break;
    }
}

/* Draws old(0)/new(1)/zero(2)/garbage(3) for each of n sectors, then makes
   the tear real, so the result is neither the old nor the new content: at
   least one sector not new, and one new when n >= 2; a single sector is
   zero or garbage (old would be a dropped write, new a whole one).
   A write of several pages is torn at page granularity half the time:
   each page wholly old or wholly new, at least one of each. That is the
   most ordinary crash outcome of a run (the page cache writes its pages
   back independently, a disk cache may keep any of them), and each old
   page is an intact, checksum-valid page of an older txn; per-sector
   draws would almost never produce it. */
static void tear_choose(unsigned char *choice, size_t n, size_t per_page, ct__mem_prng *rng)
{
    size_t npages = n / per_page;
    if (npages >= 2u && ct__mem_prng_below(rng, 2u) == 0u) {
        size_t old_page = ct__mem_prng_below(rng, npages);
        size_t new_page = (old_page + 1u + ct__mem_prng_below(rng, npages - 1u)) % npages;
        for (size_t p = 0; p < npages; p++) {
            unsigned char c = (unsigned char)ct__mem_prng_below(rng, 2u);
            c = p == old_page ? 0u : p == new_page ? 1u : c;
            memset(choice + p * per_page, c, per_page);
        }
        return;
    }
    int any_new = 0;
    int any_other = 0;
    for (size_t i = 0; i < n; i++) {
        choice[i] = (unsigned char)ct__mem_prng_below(rng, 4u);
        any_new |= choice[i] == 1u;
        any_other |= choice[i] != 1u;
    }
    if (!any_other) {
        choice[ct__mem_prng_below(rng, n)] = 0;
    }
    if (n >= 2u && !any_new) {
        choice[ct__mem_prng_below(rng, n)] = 1;
    }
    if (n == 1u && choice[0] == 0u) {
        choice[0] = (unsigned char)(2u + ct__mem_prng_below(rng, 2u));
    }
}

/* Applies write entry e torn into img (capacity reserved). CT_NOMEM may
   leave img half changed: img is always a scratch copy. */
static int apply_torn(ct__mem_image *img, const ct__mem_entry *e, uint32_t page_size,
                      ct__mem_prng *rng)
{
    size_t per_page = page_size / CT_SECTOR_SIZE;
    size_t n = (size_t)e->npages * per_page;
    unsigned char *choice = malloc(n);
    if (!choice) {
        return CT_NOMEM;
    }
    tear_choose(choice, n, per_page, rng);
    uint64_t end = entry_end(e);
    if (end > img->npages) {
        ct__mem_image_resize(img, end);
    }
    for (uint32_t k = 0; k < e->npages; k++) {
        uint64_t slot = landing(e, k);
        ct__mem_page *t = ct__mem_page_new(page_size);
        if (!t) {
            free(choice);
            return CT_NOMEM;
        }
        for (size_t j = 0; j < per_page; j++) {
            tear_sector(t->data, img->pages[slot], e->pages[k], j * CT_SECTOR_SIZE,
                        choice[(size_t)k * per_page + j], rng);
        }
        image_put(img, slot, t);
        ct__mem_page_unref(t);
    }
    free(choice);
    return CT_OK;
}

/* Builds in out the durable image after applying the log per actions (by
   entry index), in the given order (NULL = log order), tears drawn from
   rng. On error out is empty and the store unchanged. */
static int resolve(ct__memstore *s, const unsigned char *actions, const uint64_t *order,
                   ct__mem_prng *rng, ct__mem_image *out)
{
    uint64_t cap = log_max_end(&s->log, s->durable.npages);
    if (ct__mem_image_copy(out, &s->durable, cap) != CT_OK) {
        return CT_NOMEM;
    }
    for (uint64_t i = 0; i < s->log.count; i++) {
        uint64_t idx = order ? order[i] : i;
        const ct__mem_entry *e = &s->log.entries[idx];
        if (actions[idx] == CT__MEM_WHOLE || (actions[idx] == CT__MEM_TORN && !e->is_write)) {
            apply_whole(out, e);
        } else if (actions[idx] == CT__MEM_TORN &&
                   apply_torn(out, e, s->base.page_size, rng) != CT_OK) {
            ct__mem_image_release(out);
            return CT_NOMEM;
        }
    }
    return CT_OK;
}

int ct__mem_device_sync_failed(ct__memstore *s)
{
    uint64_t n = s->log.count;
    unsigned char *actions = malloc(n ? (size_t)n : 1u);
    if (!actions) {
        return CT_NOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        actions[i] = (unsigned char)ct__mem_prng_below(&s->st.prng, 3u);
    }
    ct__mem_image dur;
    int rc = resolve(s, actions, NULL, &s->st.prng, &dur);
    free(actions);
    if (rc != CT_OK) {
        return rc;
    }
    ct__mem_image_release(&s->durable);
    s->durable = dur;
    log_clear(&s->log);
    return CT_IO;
}

/* ---- Power cut and crash ------------------------------------------------- */

int ct_memstore_set_power_cut(ct_pagestore *ps, uint64_t op_index)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    s->st.power_cut_at = op_index;
    if (op_index < s->st.ops) {
        s->st.power_out = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

/* Fills actions (and order for RANDOM) for a valid outcome. */
static void crash_plan(const ct__mem_log *log, const ct_crash_outcome *o, ct__mem_prng *rng,
                       unsigned char *actions, uint64_t *order)
{
    uint64_t n = log->count;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char a = CT__MEM_WHOLE;
        switch (o->mode) {
        case CT_CRASH_DROP_ALL:
            a = CT__MEM_DROP;
            break;
        case CT_CRASH_SUBSET:
            a = i < 64u && ((o->mask >> i) & 1u) ? CT__MEM_WHOLE : CT__MEM_DROP;
            break;
        case CT_CRASH_OMIT_ONE:
            a = i == o->index ? CT__MEM_DROP : CT__MEM_WHOLE;
            break;
        case CT_CRASH_TEAR_ONE:
            if (i == o->index) {
                a = log->entries[i].is_write ? CT__MEM_TORN
                                             : (unsigned char)ct__mem_prng_below(rng, 2u);
            }
            break;
        case CT_CRASH_RANDOM:
            a = (unsigned char)ct__mem_prng_below(rng, 3u);
            break;
        case CT_CRASH_KEEP_ALL:
            break;
        }
        actions[i] = a;
    }
    if (order) {
        for (uint64_t i = 0; i < n; i++) {
            order[i] = i;
        }
        for (uint64_t i = n; i > 1u; i--) {
            uint64_t j = ct__mem_prng_below(rng, i);
            uint64_t t = order[i - 1u];
            order[i - 1u] = order[j];
            order[j] = t;
        }
    }
}

static int crash_locked(ct__memstore *s, const ct_crash_outcome *o)
{
    uint64_t n = s->log.count;
    if ((o->mode == CT_CRASH_OMIT_ONE || o->mode == CT_CRASH_TEAR_ONE) && o->index >= n) {
        return CT_INVALID;
    }
    if (n > SIZE_MAX / sizeof(uint64_t)) {
        return CT_NOMEM;
    }
    int rc = CT_NOMEM;
    unsigned char *actions = malloc(n ? (size_t)n : 1u);
    uint64_t *order = NULL;
    if (o->mode == CT_CRASH_RANDOM) {
        order = malloc(n ? (size_t)n * sizeof(uint64_t) : 1u);
    }
    if (!actions || (o->mode == CT_CRASH_RANDOM && !order)) {
        goto out_free;
    }
    ct__mem_prng rng;
    ct__mem_prng_seed(&rng, o->seed);
    crash_plan(&s->log, o, &rng, actions, order);
    ct__mem_image dur;
    ct__mem_image view;
    if (resolve(s, actions, order, &rng, &dur) != CT_OK) {
        goto out_free;
    }
    if (ct__mem_image_copy(&view, &dur, dur.npages) != CT_OK) {
        ct__mem_image_release(&dur);
        goto out_free;
    }
    ct__mem_image_release(&s->durable);
    ct__mem_image_release(&s->view);
    s->durable = dur;
    s->view = view;
    log_clear(&s->log);
    s->st.power_out = 0;
    s->st.power_cut_at = UINT64_MAX;
    ct__mem_trace(&s->st, CT__MEM_TRACE_CRASH, (uint64_t)o->mode, o->index, o->mask, CT_OK);
    ct__mem_trace(&s->st, CT__MEM_TRACE_CRASH, o->seed, n, 0, CT_OK);
    rc = ct__mem_mirror(s, 0);
out_free:
    free(actions);
    free(order);
    return rc;
}

int ct_memstore_crash(ct_pagestore *ps, const ct_crash_outcome *outcome)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !outcome || (unsigned)outcome->mode > (unsigned)CT_CRASH_RANDOM) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    int rc = crash_locked(s, outcome);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- Direct image access --------------------------------------------------- */

int ct_memstore_poke(ct_pagestore *ps, uint64_t pgno, const void *page)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !page || pgno == UINT64_MAX) {
        return CT_INVALID;
    }
    ct__mem_page *p = ct__mem_page_new(ps->page_size);
    if (!p) {
        return CT_NOMEM;
    }
    memcpy(p->data, page, ps->page_size);
    uint64_t content = ct__mem_content_hash(page, ps->page_size);
    pthread_mutex_lock(&s->lock);
    int rc = CT_NOMEM;
    if (ct__mem_image_reserve(&s->durable, pgno + 1u) == CT_OK &&
        ct__mem_image_reserve(&s->view, pgno + 1u) == CT_OK) {
        ct__mem_image *imgs[2] = {&s->durable, &s->view};
        for (unsigned i = 0; i < 2u; i++) {
            if (imgs[i]->npages <= pgno) {
                ct__mem_image_resize(imgs[i], pgno + 1u);
            }
            image_put(imgs[i], pgno, p);
        }
        ct__mem_trace(&s->st, CT__MEM_TRACE_POKE, pgno, 1u, content, CT_OK);
        rc = ct__mem_mirror(s, 0);
    }
    pthread_mutex_unlock(&s->lock);
    ct__mem_page_unref(p);
    return rc;
}

int ct_memstore_peek(ct_pagestore *ps, uint64_t pgno, void *page)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || !page) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    int rc = CT_INVALID;
    if (pgno < s->durable.npages) {
        ct__mem_image_read(&s->durable, ps->page_size, pgno, page);
        rc = CT_OK;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
