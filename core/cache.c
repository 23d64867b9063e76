/*
 * cache.c - the shared page cache: verified node pages (leaf, branch) read
 * through the store's read() when map() does not serve them, shared by
 * every txn of one handle and bounded by ct_options.cache_pages.
 *
 * Keys and soundness: an entry holds the bytes of page pgno at generation
 * gen (the txn that wrote it) after they passed full verification for a
 * concrete type (crc, pgno, generation, type, node validation). Generations
 * are never reused within a handle and the engine never rewrites a page a
 * live snapshot can reach (memo.c, rules 1 and 2), so while any txn can
 * follow a pointer (pgno, gen) the verified bytes are the page's bytes: a
 * hit needs pgno, gen AND type to match, and anything else is a miss that
 * reads and verifies again. A handle starts with an empty cache (a crash,
 * a reopen, another process's writes are verified again) and ct_close
 * frees it.
 *
 * Layout: nshards shards (a power of two, CT_CACHE_SHARDS_MAX at most) by
 * a hash of pgno, each with its own mutex, a chained table holding at most
 * one entry per pgno, and two LRU lists of UNPINNED entries (segmented
 * LRU, for scan resistance):
 *   probation: entries used by one txn so far (new entries land here);
 *   protected: entries hit again by a later pin (at most 3/4 of the
 *              shard's pages; its overflow is demoted to probation).
 * Eviction takes the probation tail first, so one scan only cycles
 * probation and leaves the hot (protected) set alone.
 *
 * Pins: a txn pins every entry it is handed (ct__cache_pin, or its own
 * ct__cache_insert) and unpins each once at txn end, so the page pointer
 * stays valid until then. A pinned entry is in no list and never evicted;
 * a shard holds at most its share of cache_pages UNPINNED entries (checked
 * on every unpin), plus whatever live txns pin.
 * A detached entry (its insert lost to another entry of the same pgno, or
 * came when the shard's table already held CT_CACHE_CHAIN_LOAD_MAX entries
 * a chain head, most of them pinned by a long txn) is private to the txn
 * that read it and freed at its unpin.
 *
 * Concurrency: readers and the writer take only the shard mutex of the
 * page; entries are freed outside it. Fields read without the mutex (pgno,
 * detached, page bytes) are written before the entry is published and
 * never change after. Must never: hand out an entry of another generation
 * or type, evict a pinned entry, or fail a read (no memory for an entry is
 * CT_NOMEM from the caller's allocation, and an insert that cannot place
 * an entry just keeps it private).
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

struct ct__centry {
    uint64_t pgno;
    uint64_t gen;
    struct ct__centry *hnext; /* chain in the shard table (or a local free list) */
    struct ct__centry *prev;  /* LRU list of its segment, when unpinned */
    struct ct__centry *next;
    uint32_t pins;
    uint8_t type;
    uint8_t protected_seg; /* 1: protected segment, 0: probation */
    uint8_t detached;      /* never published: private to the txn that read it */
    uint8_t page[];        /* page_size bytes */
};

#define CACHE_PROBATION 0
#define CACHE_PROTECTED 1

static ct__centry *entry_of(const uint8_t *page)
{
    return (ct__centry *)(void *)(page - offsetof(ct__centry, page));
}

static uint64_t mix(uint64_t pgno)
{
    return pgno * 0x9e3779b97f4a7c15ull;
}

static ct__cshard *shard_of(const ct__cache *c, uint64_t pgno)
{
    return &c->shards[(size_t)(mix(pgno) >> 40) & (c->nshards - 1u)];
}

static ct__centry **bucket_of(const ct__cshard *s, uint64_t pgno)
{
    return &s->heads[(size_t)(mix(pgno) >> 16) & (s->nheads - 1u)];
}

/* ---- LRU lists (shard mutex held) ---- */

static void list_push_head(ct__clist *l, ct__centry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head) {
        l->head->prev = e;
    } else {
        l->tail = e;
    }
    l->head = e;
    l->count++;
}

static void list_remove(ct__clist *l, ct__centry *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        l->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        l->tail = e->prev;
    }
    e->prev = NULL;
    e->next = NULL;
    l->count--;
}

static ct__clist *list_of(ct__cshard *s, const ct__centry *e)
{
    return e->protected_seg ? &s->prot : &s->prob;
}

/* Unlinks e from its table chain (it must be there). */
static void table_remove(ct__cshard *s, ct__centry *e)
{
    ct__centry **pp = bucket_of(s, e->pgno);
    while (*pp != e) {
        CT_ASSERT(*pp != NULL);
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    e->hnext = NULL;
    s->count--;
}

/* Demotes protected overflow, then evicts unpinned entries (probation tail
   first) until the shard holds at most its cap unpinned; the victims are
   chained on *victims for the caller to free after unlocking. */
static void shard_trim(ct__cshard *s, ct__centry **victims)
{
    while (s->prot.count > s->prot_cap) {
        ct__centry *e = s->prot.tail;
        list_remove(&s->prot, e);
        e->protected_seg = CACHE_PROBATION;
        list_push_head(&s->prob, e);
    }
    while (s->prob.count + s->prot.count > s->cap_pages) {
        ct__clist *l = s->prob.tail ? &s->prob : &s->prot;
        ct__centry *e = l->tail;
        CT_ASSERT(e != NULL && e->pins == 0);
        list_remove(l, e);
        table_remove(s, e);
        e->hnext = *victims;
        *victims = e;
        s->evictions++;
    }
}

static void free_chain(ct_db *db, ct__centry *e)
{
    while (e) {
        ct__centry *n = e->hnext;
        ct__free(&db->alloc, e);
        e = n;
    }
}

/* ---- setup ---- */

static unsigned shard_count(size_t cap_pages)
{
    unsigned n = 1;
    while (n * 2u <= CT_CACHE_SHARDS_MAX &&
           (size_t)n * 2u * CT_CACHE_SHARD_PAGES_MIN <= cap_pages) {
        n *= 2u;
    }
    return n;
}

int ct__cache_init(ct_db *db, size_t cache_pages)
{
    ct__cache *c = &db->cache;
    memset(c, 0, sizeof(*c));
    size_t cap = cache_pages ? cache_pages : CT_CACHE_PAGES_DEFAULT;
    unsigned n = shard_count(cap);
    c->shards = ct__calloc(&db->alloc, n, sizeof(*c->shards));
    if (!c->shards) {
        return CT_NOMEM;
    }
    c->nshards = n;
    c->cap_pages = cap;
    for (unsigned i = 0; i < n; i++) {
        ct__cshard *s = &c->shards[i];
        s->cap_pages = cap / n + (i < cap % n ? 1u : 0u);
        s->prot_cap = s->cap_pages - s->cap_pages / 4u;
        size_t heads = CT_CACHE_HEADS_MIN;
        while (heads < CT_CACHE_HEADS_MAX && heads < s->cap_pages * 2u) {
            heads *= 2u;
        }
        s->heads = ct__calloc(&db->alloc, heads, sizeof(*s->heads));
        if (!s->heads) {
            ct__cache_free(db);
            return CT_NOMEM;
        }
        s->nheads = heads;
        pthread_mutex_init(&s->mu, NULL);
        s->mu_ready = 1;
    }
    return CT_OK;
}

void ct__cache_free(ct_db *db)
{
    ct__cache *c = &db->cache;
    for (unsigned i = 0; c->shards && i < c->nshards; i++) {
        ct__cshard *s = &c->shards[i];
        for (size_t h = 0; s->heads && h < s->nheads; h++) {
            for (ct__centry *e = s->heads[h]; e;) {
                ct__centry *n = e->hnext;
                CT_ASSERT(e->pins == 0); /* only when no txn is live */
                ct__free(&db->alloc, e);
                e = n;
            }
        }
        ct__free(&db->alloc, s->heads);
        if (s->mu_ready) {
            pthread_mutex_destroy(&s->mu);
        }
    }
    ct__free(&db->alloc, c->shards);
    memset(c, 0, sizeof(*c));
}

/* ---- pins ---- */

const uint8_t *ct__cache_pin(ct_db *db, uint64_t pgno, uint64_t gen, uint8_t type)
{
    ct__cache *c = &db->cache;
    if (!c->shards) {
        return NULL;
    }
    ct__cshard *s = shard_of(c, pgno);
    const uint8_t *out = NULL;
    pthread_mutex_lock(&s->mu);
    ct__centry *e = *bucket_of(s, pgno);
    while (e && e->pgno != pgno) {
        e = e->hnext;
    }
    if (e && e->gen == gen && e->type == type) {
        if (e->pins == 0) {
            list_remove(list_of(s, e), e);
        }
        e->pins++;
        e->protected_seg = CACHE_PROTECTED; /* used again: hot */
        out = e->page;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

uint8_t *ct__cache_alloc(ct_db *db)
{
    ct__centry *e = ct__malloc(&db->alloc, sizeof(ct__centry) + db->page_size);
    if (!e) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    e->pins = 1;
    return e->page;
}

void ct__cache_discard(ct_db *db, uint8_t *page)
{
    if (page) {
        ct__free(&db->alloc, entry_of(page));
    }
}

void ct__cache_insert(ct_db *db, uint8_t *page, uint64_t pgno, uint64_t gen, uint8_t type)
{
    ct__cache *c = &db->cache;
    ct__centry *e = entry_of(page);
    CT_ASSERT(e->pins == 1 && type != CT_PT_ANY);
    e->pgno = pgno;
    e->gen = gen;
    e->type = type;
    if (!c->shards) {
        e->detached = 1;
        return;
    }
    ct__cshard *s = shard_of(c, pgno);
    ct__centry *victims = NULL;
    pthread_mutex_lock(&s->mu);
    ct__centry *old = *bucket_of(s, pgno);
    while (old && old->pgno != pgno) {
        old = old->hnext;
    }
    if (old && old->pins == 0 && (old->gen != gen || old->type != type)) {
        /* Another generation of this page: it can no longer be reached
           by a pointer this snapshot holds; drop it. */
        list_remove(list_of(s, old), old);
        table_remove(s, old);
        victims = old;
        s->evictions++;
        old = NULL;
    }
    if (old || s->count >= (size_t)CT_CACHE_CHAIN_LOAD_MAX * s->nheads) {
        /* A pinned entry, the same page placed by a racing txn, or a full
           table (limits.h: chains stay short while a long txn pins). */
        e->detached = 1;
    } else {
        ct__centry **head = bucket_of(s, pgno);
        e->hnext = *head;
        *head = e;
        e->protected_seg = CACHE_PROBATION;
        s->count++;
    }
    pthread_mutex_unlock(&s->mu);
    free_chain(db, victims);
}

void ct__cache_unpin(ct_db *db, const uint8_t *page)
{
    ct__centry *e = entry_of(page);
    if (e->detached) {
        ct__free(&db->alloc, e);
        return;
    }
    ct__cshard *s = shard_of(&db->cache, e->pgno);
    ct__centry *victims = NULL;
    pthread_mutex_lock(&s->mu);
    CT_ASSERT(e->pins > 0);
    if (--e->pins == 0) {
        list_push_head(list_of(s, e), e);
        shard_trim(s, &victims);
    }
    pthread_mutex_unlock(&s->mu);
    free_chain(db, victims);
}

void ct__cache_stat(ct_db *db, ct__cache_stats *out)
{
    ct__cache *c = &db->cache;
    memset(out, 0, sizeof(*out));
    out->cap_pages = c->cap_pages;
    out->shards = c->nshards;
    for (unsigned i = 0; c->shards && i < c->nshards; i++) {
        ct__cshard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        size_t unpinned = s->prob.count + s->prot.count;
        out->entries += s->count;
        out->heads += s->nheads;
        out->unpinned += unpinned;
        out->pinned += s->count - unpinned;
        out->protected_count += s->prot.count;
        out->hits += s->hits;
        out->misses += s->misses;
        out->evictions += s->evictions;
        pthread_mutex_unlock(&s->mu);
    }
}
