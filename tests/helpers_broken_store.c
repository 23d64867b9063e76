/*
 * helpers_broken_store.c - the deliberately broken page store (see
 * helpers_broken_store.h). Each page is its own allocation so map()
 * pointers stay valid while the page is not rewritten (in the correct
 * modes); the store copies its pages to the disk on sync and from it on
 * reopen. Never aborts: every misbehaviour is a wrong answer, not a crash.
 */
#include "helpers_broken_store.h"

#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/plugin.h"

typedef struct bs_store {
    ct_pagestore base;
    bs_disk *disk;
    uint64_t npages;
    uint64_t cap;
    uint8_t **pages;
    uint8_t *scratch;    /* BS_MAP_MOVES */
    uint8_t **graveyard; /* rewritten pages kept until close (map pointers) */
    uint64_t dead;
    uint64_t dead_cap;
} bs_store;

static const char *const mode_names[BS_MODES] = {
    "correct", "drop-last-page", "garbage-unwritten", "read-beyond", "shrink-keeps",
    "errno",   "map-moves",      "sync-noop",         "no-grow",      "writev-first"};

const char *bs_mode_name(bs_mode mode)
{
    return (unsigned)mode < BS_MODES ? mode_names[mode] : "?";
}

static int bs_bad_args(const bs_store *s)
{
    return s->disk->mode == BS_ERRNO ? -22 : CT_INVALID;
}

/* Makes room for page numbers below n. */
static int reserve(bs_store *s, uint64_t n)
{
    if (n <= s->cap) {
        return CT_OK;
    }
    uint64_t cap = s->cap ? s->cap : 8u;
    while (cap < n) {
        cap *= 2u;
    }
    uint8_t **p = realloc(s->pages, (size_t)cap * sizeof(*p));
    if (!p) {
        return CT_NOMEM;
    }
    memset(p + s->cap, 0, (size_t)(cap - s->cap) * sizeof(*p));
    s->pages = p;
    s->cap = cap;
    return CT_OK;
}

/* Frees page i, or keeps it until close when map() may have handed it out. */
static void drop_page(bs_store *s, uint64_t i)
{
    if (!s->pages[i]) {
        return;
    }
    if (s->dead == s->dead_cap) {
        uint64_t cap = s->dead_cap ? s->dead_cap * 2u : 16u;
        uint8_t **g = realloc(s->graveyard, (size_t)cap * sizeof(*g));
        if (!g) {
            free(s->pages[i]); /* tests never get here */
            s->pages[i] = NULL;
            return;
        }
        s->graveyard = g;
        s->dead_cap = cap;
    }
    s->graveyard[s->dead++] = s->pages[i];
    s->pages[i] = NULL;
}

static int bs_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    bs_store *s = (bs_store *)ps;
    if (!buf || npages == 0) {
        return bs_bad_args(s);
    }
    int beyond = pgno >= s->npages || npages > s->npages - pgno;
    if (beyond && !(s->disk->mode == BS_READ_BEYOND && pgno < UINT64_MAX - npages)) {
        return bs_bad_args(s);
    }
    for (uint32_t i = 0; i < npages; i++) {
        uint8_t *dst = (uint8_t *)buf + (size_t)i * ps->page_size;
        uint64_t p = pgno + i;
        uint8_t *src = p < s->cap ? s->pages[p] : NULL;
        if (src) {
            memcpy(dst, src, ps->page_size);
        } else {
            memset(dst, s->disk->mode == BS_GARBAGE_UNWRITTEN ? 0xee : 0, ps->page_size);
        }
    }
    return CT_OK;
}

/* Stores npages pages at pgno, page i from buf or, when buf is NULL, from
   vec[i] (vec[0] for every page in BS_WRITEV_FIRST). */
static int put_pages(bs_store *s, uint64_t pgno, uint32_t npages, const uint8_t *buf,
                     const void *const *vec)
{
    uint32_t page_size = s->base.page_size;
    int rc = reserve(s, pgno + npages);
    if (rc != CT_OK) {
        return rc;
    }
    uint32_t n = npages;
    if (s->disk->mode == BS_DROP_LAST_PAGE && n > 1u) {
        n--;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *page = malloc(page_size);
        if (!page) {
            return CT_NOMEM;
        }
        const void *src = buf ? buf + (size_t)i * page_size
                              : vec[s->disk->mode == BS_WRITEV_FIRST ? 0u : i];
        memcpy(page, src, page_size);
        drop_page(s, pgno + i);
        s->pages[pgno + i] = page;
    }
    if (pgno + npages > s->npages && !(s->disk->mode == BS_NO_GROW)) {
        s->npages = pgno + npages;
    }
    return CT_OK;
}

static int bs_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    bs_store *s = (bs_store *)ps;
    if (!buf || npages == 0 || pgno > (1u << 20) || npages > (1u << 20)) {
        return pgno > (1u << 20) ? CT_NOSPACE : bs_bad_args(s);
    }
    return put_pages(s, pgno, npages, buf, NULL);
}

static int bs_writev(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *const *pages)
{
    bs_store *s = (bs_store *)ps;
    if (!pages || npages == 0 || pgno > (1u << 20) || npages > (1u << 20)) {
        return pgno > (1u << 20) ? CT_NOSPACE : bs_bad_args(s);
    }
    for (uint32_t i = 0; i < npages; i++) {
        if (!pages[i]) {
            return bs_bad_args(s);
        }
    }
    return put_pages(s, pgno, npages, NULL, pages);
}

/* Copies the store's pages to the disk (the disk's old pages are freed). */
static int persist(bs_store *s)
{
    bs_disk *d = s->disk;
    for (uint64_t i = 0; i < d->npages; i++) {
        free(d->pages[i]);
    }
    free(d->pages);
    d->pages = calloc(s->npages ? (size_t)s->npages : 1u, sizeof(*d->pages));
    d->npages = 0;
    if (!d->pages) {
        return CT_NOMEM;
    }
    for (uint64_t i = 0; i < s->npages; i++) {
        if (i < s->cap && s->pages[i]) {
            d->pages[i] = malloc(s->base.page_size);
            if (!d->pages[i]) {
                return CT_NOMEM;
            }
            memcpy(d->pages[i], s->pages[i], s->base.page_size);
        }
        d->npages = i + 1u;
    }
    d->page_size = s->base.page_size;
    return CT_OK;
}

static int bs_sync(ct_pagestore *ps)
{
    bs_store *s = (bs_store *)ps;
    switch (s->disk->mode) {
    case BS_ERRNO:
        return -5;
    case BS_SYNC_NOOP:
        return CT_OK;
    default:
        return persist(s);
    }
}

static int bs_size(ct_pagestore *ps, uint64_t *npages)
{
    bs_store *s = (bs_store *)ps;
    if (!npages) {
        return bs_bad_args(s);
    }
    *npages = s->npages;
    return CT_OK;
}

static int bs_resize(ct_pagestore *ps, uint64_t npages)
{
    bs_store *s = (bs_store *)ps;
    if (npages > (1u << 20)) {
        return CT_NOSPACE;
    }
    int rc = reserve(s, npages);
    if (rc != CT_OK) {
        return rc;
    }
    if (s->disk->mode != BS_SHRINK_KEEPS) {
        for (uint64_t i = npages; i < s->npages && i < s->cap; i++) {
            drop_page(s, i);
        }
    }
    s->npages = npages;
    return CT_OK;
}

static const void *bs_map(ct_pagestore *ps, uint64_t pgno)
{
    bs_store *s = (bs_store *)ps;
    uint8_t *page = pgno < s->cap ? s->pages[pgno] : NULL;
    if (!page) {
        return NULL;
    }
    if (s->disk->mode == BS_MAP_MOVES) {
        memcpy(s->scratch, page, ps->page_size);
        return s->scratch;
    }
    return page;
}

static void bs_close(ct_pagestore *ps)
{
    bs_store *s = (bs_store *)ps;
    for (uint64_t i = 0; i < s->cap; i++) {
        free(s->pages[i]);
    }
    for (uint64_t i = 0; i < s->dead; i++) {
        free(s->graveyard[i]);
    }
    s->disk->closes++;
    free(s->graveyard);
    free(s->pages);
    free(s->scratch);
    free(s);
}

static const ct_pagestore_ops bs_ops = {
    .read = bs_read,
    .write = bs_write,
    .sync = bs_sync,
    .size = bs_size,
    .resize = bs_resize,
    .close = bs_close,
    .map = bs_map,
    .writev = bs_writev,
};

/* Loads the disk's pages into a new store. */
static int load(bs_store *s)
{
    bs_disk *d = s->disk;
    int rc = reserve(s, d->npages);
    for (uint64_t i = 0; rc == CT_OK && i < d->npages; i++) {
        if (d->pages[i]) {
            s->pages[i] = malloc(s->base.page_size);
            if (!s->pages[i]) {
                return CT_NOMEM;
            }
            memcpy(s->pages[i], d->pages[i], s->base.page_size);
        }
    }
    s->npages = d->npages;
    return rc;
}

int bs_open(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    bs_disk *d = ctx;
    *out = NULL;
    if (!(flags & CT_STORE_PLUGIN_FRESH) && d->page_size != page_size) {
        return CT_NOTFOUND;
    }
    bs_store *s = calloc(1, sizeof(*s));
    if (!s) {
        return CT_NOMEM;
    }
    s->base.ops = &bs_ops;
    s->base.page_size = page_size;
    s->disk = d;
    s->scratch = malloc(page_size);
    int rc = s->scratch ? CT_OK : CT_NOMEM;
    if (rc == CT_OK && (flags & CT_STORE_PLUGIN_FRESH)) {
        rc = persist(s); /* an empty disk */
    } else if (rc == CT_OK) {
        rc = load(s);
    }
    if (rc != CT_OK) {
        bs_close(&s->base);
        return rc;
    }
    d->opens++;
    *out = &s->base;
    return CT_OK;
}

void bs_disk_free(bs_disk *d)
{
    for (uint64_t i = 0; i < d->npages; i++) {
        free(d->pages[i]);
    }
    free(d->pages);
    d->pages = NULL;
    d->npages = 0;
}
