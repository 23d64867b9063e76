/*
 * helpers.c - see helpers.h. Test-only code: plain libc, pthreads, cmocka.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "helpers.h"

#include "cowtree/tracestore.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowtree/memstore.h"
#include "internal.h"

/* ---- context ------------------------------------------------------------- */

char th_ctx[256];

void th_set_ctx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(th_ctx, sizeof(th_ctx), fmt, ap);
    va_end(ap);
}

void th_print_ctx(void)
{
    if (th_ctx[0]) {
        print_error("context: %s\n", th_ctx);
    }
}

/* ---- scale ---------------------------------------------------------------- */

uint64_t th_scaled(uint64_t n)
{
    const char *s = getenv("COWTREE_TEST_SCALE");
    uint64_t pct = TH_SANITIZED ? 25u : 100u;
    if (s && *s) {
        pct = strtoull(s, NULL, 10);
    }
    uint64_t v = n * pct / 100u;
    return v ? v : 1u;
}

uint64_t th_seed(uint64_t dflt)
{
    const char *v = getenv("COWTREE_TEST_SEED");
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

/* ---- PRNG ------------------------------------------------------------------- */

void th_rng_seed(th_rng *r, uint64_t seed)
{
    r->s = seed ^ 0x9e3779b97f4a7c15ull;
}

uint64_t th_next(th_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t th_below(th_rng *r, uint64_t n)
{
    return n ? th_next(r) % n : 0;
}

int th_chance(th_rng *r, uint32_t num, uint32_t den)
{
    return th_below(r, den) < num;
}

void th_fill(th_rng *r, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)th_next(r);
    }
}

size_t th_gen_key(th_rng *r, uint8_t *buf, size_t key_max)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 'c', 'k', 0x7f, 0x80, 0xfe, 0xff};
    uint64_t pick = th_below(r, 100);
    size_t len;
    if (pick < 4) {
        len = 0;
    } else if (pick < 9) {
        len = key_max;
    } else if (pick < 24) {
        len = (size_t)th_below(r, key_max + 1);
    } else {
        len = 1 + (size_t)th_below(r, key_max < 10 ? key_max : 10);
    }
    if (len > key_max) {
        len = key_max;
    }
    int small = th_chance(r, 3, 4);
    for (size_t i = 0; i < len; i++) {
        buf[i] = small ? alphabet[th_below(r, sizeof(alphabet))] : (uint8_t)th_next(r);
    }
    return len;
}

void th_value_fill(uint8_t *buf, size_t len, uint64_t tag)
{
    th_rng r;
    th_rng_seed(&r, tag * 0x2545f4914f6cdd1dull + 7u);
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t v = th_next(&r);
        memcpy(buf + i, &v, 8);
        i += 8;
    }
    if (i < len) {
        uint64_t v = th_next(&r);
        memcpy(buf + i, &v, len - i);
    }
}

size_t th_value_check(const uint8_t *buf, size_t len, uint64_t tag)
{
    th_rng r;
    th_rng_seed(&r, tag * 0x2545f4914f6cdd1dull + 7u);
    size_t i = 0;
    while (i < len) {
        uint64_t v = th_next(&r);
        size_t n = len - i < 8 ? len - i : 8;
        if (memcmp(buf + i, &v, n) != 0) {
            for (size_t j = 0; j < n; j++) {
                if (buf[i + j] != ((const uint8_t *)&v)[j]) {
                    return i + j;
                }
            }
        }
        i += n;
    }
    return len;
}

/* ---- model: treap with subtree sizes --------------------------------------- */

int th_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return (alen > blen) - (alen < blen);
}

typedef struct tnode {
    struct tnode *l;
    struct tnode *r;
    uint64_t prio;
    size_t size;
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
} tnode;

typedef struct jent {
    uint8_t *key;
    size_t klen;
    int had;
    uint8_t *val;
    size_t vlen;
} jent;

struct th_model {
    tnode *root;
    th_rng rng;
    uint64_t value_bytes;
    int journaling;
    jent *j;
    size_t jn;
    size_t jcap;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = xmalloc(n);
    if (n) {
        memcpy(d, p, n);
    }
    return d;
}

static size_t tsize(const tnode *n)
{
    return n ? n->size : 0;
}

static void tfix(tnode *n)
{
    n->size = 1 + tsize(n->l) + tsize(n->r);
}

/* Splits t into keys < key (l) and >= key (r). */
static void tsplit(tnode *t, const void *key, size_t klen, tnode **l, tnode **r)
{
    if (!t) {
        *l = NULL;
        *r = NULL;
        return;
    }
    if (th_key_cmp(t->key, t->klen, key, klen) < 0) {
        tsplit(t->r, key, klen, &t->r, r);
        *l = t;
    } else {
        tsplit(t->l, key, klen, l, &t->l);
        *r = t;
    }
    tfix(t);
}

static tnode *tmerge(tnode *a, tnode *b)
{
    if (!a) {
        return b;
    }
    if (!b) {
        return a;
    }
    if (a->prio > b->prio) {
        a->r = tmerge(a->r, b);
        tfix(a);
        return a;
    }
    b->l = tmerge(a, b->l);
    tfix(b);
    return b;
}

static tnode *tfind(tnode *t, const void *key, size_t klen)
{
    while (t) {
        int c = th_key_cmp(key, klen, t->key, t->klen);
        if (c == 0) {
            return t;
        }
        t = c < 0 ? t->l : t->r;
    }
    return NULL;
}

static void tfree(tnode *t)
{
    while (t) {
        tfree(t->l);
        tnode *r = t->r;
        free(t->key);
        free(t->val);
        free(t);
        t = r;
    }
}

th_model *th_model_new(void)
{
    th_model *m = xmalloc(sizeof(*m));
    memset(m, 0, sizeof(*m));
    th_rng_seed(&m->rng, 12345);
    return m;
}

static void jfree(th_model *m)
{
    for (size_t i = 0; i < m->jn; i++) {
        free(m->j[i].key);
        free(m->j[i].val);
    }
    m->jn = 0;
}

void th_model_free(th_model *m)
{
    if (!m) {
        return;
    }
    tfree(m->root);
    jfree(m);
    free(m->j);
    free(m);
}

static void journal(th_model *m, const void *key, size_t klen, const tnode *old)
{
    if (!m->journaling) {
        return;
    }
    if (m->jn == m->jcap) {
        m->jcap = m->jcap ? m->jcap * 2 : 64;
        m->j = realloc(m->j, m->jcap * sizeof(*m->j));
        assert_non_null(m->j);
    }
    jent *e = &m->j[m->jn++];
    e->key = dup_bytes(key, klen);
    e->klen = klen;
    e->had = old != NULL;
    e->val = old ? dup_bytes(old->val, old->vlen) : NULL;
    e->vlen = old ? old->vlen : 0;
}

static int put_raw(th_model *m, const void *key, size_t klen, const void *val, size_t vlen)
{
    tnode *old = tfind(m->root, key, klen);
    journal(m, key, klen, old);
    if (old) {
        m->value_bytes -= old->vlen;
        free(old->val);
        old->val = dup_bytes(val, vlen);
        old->vlen = vlen;
        m->value_bytes += vlen;
        return 0;
    }
    tnode *n = xmalloc(sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->prio = th_next(&m->rng);
    n->size = 1;
    n->key = dup_bytes(key, klen);
    n->klen = klen;
    n->val = dup_bytes(val, vlen);
    n->vlen = vlen;
    m->value_bytes += vlen;
    tnode *l = NULL;
    tnode *r = NULL;
    tsplit(m->root, key, klen, &l, &r);
    m->root = tmerge(tmerge(l, n), r);
    return 1;
}

int th_model_put(th_model *m, const void *key, size_t klen, const void *val, size_t vlen)
{
    return put_raw(m, key, klen, val, vlen);
}

static tnode *tdel(tnode *t, const void *key, size_t klen, tnode **gone)
{
    if (!t) {
        return NULL;
    }
    int c = th_key_cmp(key, klen, t->key, t->klen);
    if (c == 0) {
        *gone = t;
        return tmerge(t->l, t->r);
    }
    if (c < 0) {
        t->l = tdel(t->l, key, klen, gone);
    } else {
        t->r = tdel(t->r, key, klen, gone);
    }
    tfix(t);
    return t;
}

int th_model_del(th_model *m, const void *key, size_t klen)
{
    tnode *old = tfind(m->root, key, klen);
    if (!old) {
        return 0;
    }
    journal(m, key, klen, old);
    tnode *gone = NULL;
    m->root = tdel(m->root, key, klen, &gone);
    m->value_bytes -= gone->vlen;
    free(gone->key);
    free(gone->val);
    free(gone);
    return 1;
}

int th_model_get(const th_model *m, const void *key, size_t klen, const uint8_t **val,
                 size_t *vlen)
{
    tnode *n = tfind(m->root, key, klen);
    if (!n) {
        return 0;
    }
    *val = n->val;
    *vlen = n->vlen;
    return 1;
}

size_t th_model_count(const th_model *m)
{
    return tsize(m->root);
}

void th_model_at(const th_model *m, size_t i, const uint8_t **key, size_t *klen,
                 const uint8_t **val, size_t *vlen)
{
    tnode *t = m->root;
    assert_true(i < tsize(t));
    for (;;) {
        size_t ls = tsize(t->l);
        if (i < ls) {
            t = t->l;
        } else if (i == ls) {
            break;
        } else {
            i -= ls + 1;
            t = t->r;
        }
    }
    *key = t->key;
    *klen = t->klen;
    if (val) {
        *val = t->val;
    }
    if (vlen) {
        *vlen = t->vlen;
    }
}

size_t th_model_lower_bound(const th_model *m, const void *key, size_t klen)
{
    size_t rank = 0;
    tnode *t = m->root;
    while (t) {
        if (th_key_cmp(t->key, t->klen, key, klen) < 0) {
            rank += tsize(t->l) + 1;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return rank;
}

void th_model_begin(th_model *m)
{
    jfree(m);
    m->journaling = 1;
}

void th_model_commit(th_model *m)
{
    jfree(m);
    m->journaling = 0;
}

void th_model_rollback(th_model *m)
{
    m->journaling = 0;
    for (size_t i = m->jn; i-- > 0;) {
        jent *e = &m->j[i];
        if (e->had) {
            put_raw(m, e->key, e->klen, e->val, e->vlen);
        } else {
            th_model_del(m, e->key, e->klen);
        }
    }
    jfree(m);
}

uint64_t th_model_value_bytes(const th_model *m)
{
    return m->value_bytes;
}

/* ---- RAM store ------------------------------------------------------------ */

typedef struct ram_store {
    ct_pagestore base;
    pthread_mutex_t mu;
    uint8_t **pages;
    uint64_t count;
    uint64_t cap;
    th_ram_stats stats;
} ram_store;

static ram_store *ram_of(ct_pagestore *ps)
{
    return (ram_store *)ps;
}

/* mu held. Grows to n pages (new pages zero). */
static int ram_grow(ram_store *s, uint64_t n)
{
    if (n > s->cap) {
        uint64_t ncap = s->cap ? s->cap : 16;
        while (ncap < n) {
            ncap *= 2;
        }
        uint8_t **np = realloc(s->pages, (size_t)ncap * sizeof(*np));
        if (!np) {
            return CT_NOMEM;
        }
        s->pages = np;
        s->cap = ncap;
    }
    while (s->count < n) {
        s->pages[s->count] = calloc(1, s->base.page_size);
        if (!s->pages[s->count]) {
            return CT_NOMEM;
        }
        s->count++;
    }
    return CT_OK;
}

static int ram_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    int rc = CT_OK;
    if (pgno >= s->count || npages > s->count - pgno) {
        rc = CT_INVALID;
    } else {
        for (uint32_t i = 0; i < npages; i++) {
            memcpy((uint8_t *)buf + (size_t)i * ps->page_size, s->pages[pgno + i], ps->page_size);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int ram_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    int rc = ram_grow(s, pgno + npages);
    if (rc == CT_OK) {
        for (uint32_t i = 0; i < npages; i++) {
            memcpy(s->pages[pgno + i], (const uint8_t *)buf + (size_t)i * ps->page_size,
                   ps->page_size);
        }
        s->stats.writes++;
        s->stats.pages_written += npages;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int ram_sync(ct_pagestore *ps)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    s->stats.syncs++;
    pthread_mutex_unlock(&s->mu);
    return CT_OK;
}

static int ram_size(ct_pagestore *ps, uint64_t *npages)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    *npages = s->count;
    pthread_mutex_unlock(&s->mu);
    return CT_OK;
}

static int ram_resize(ct_pagestore *ps, uint64_t npages)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    int rc = CT_OK;
    if (npages > s->count) {
        rc = ram_grow(s, npages);
    } else {
        while (s->count > npages) {
            free(s->pages[--s->count]);
            s->pages[s->count] = NULL;
        }
    }
    s->stats.resizes++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void ram_close(ct_pagestore *ps)
{
    ram_store *s = ram_of(ps);
    for (uint64_t i = 0; i < s->count; i++) {
        free(s->pages[i]);
    }
    free(s->pages);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const void *ram_map(ct_pagestore *ps, uint64_t pgno)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    const void *p = pgno < s->count ? s->pages[pgno] : NULL;
    pthread_mutex_unlock(&s->mu);
    return p;
}

static const ct_pagestore_ops ram_ops_map = {ram_read, ram_write, ram_sync, ram_size,
                                             ram_resize, ram_close, ram_map, NULL};
static const ct_pagestore_ops ram_ops_nomap = {ram_read, ram_write, ram_sync, ram_size,
                                               ram_resize, ram_close, NULL, NULL};

ct_pagestore *th_ram_create(uint32_t page_size, int with_map)
{
    ram_store *s = xmalloc(sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->base.ops = with_map ? &ram_ops_map : &ram_ops_nomap;
    s->base.page_size = page_size;
    pthread_mutex_init(&s->mu, NULL);
    return &s->base;
}

uint8_t *th_ram_page(ct_pagestore *ps, uint64_t pgno)
{
    ram_store *s = ram_of(ps);
    return pgno < s->count ? s->pages[pgno] : NULL;
}

void th_ram_get_stats(ct_pagestore *ps, th_ram_stats *out)
{
    ram_store *s = ram_of(ps);
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

/* ---- wrapping stores ------------------------------------------------------- */

static ct_pagestore *fwd_inner(ct_pagestore *ps)
{
    return ((th_fwd_store *)ps)->inner;
}

void th_fwd_init(th_fwd_store *w, const ct_pagestore_ops *ops, ct_pagestore *inner)
{
    w->base.ops = ops;
    w->base.page_size = inner->page_size;
    w->inner = inner;
}

int th_fwd_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    return fwd_inner(ps)->ops->read(fwd_inner(ps), pgno, npages, buf);
}

int th_fwd_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    return fwd_inner(ps)->ops->write(fwd_inner(ps), pgno, npages, buf);
}

int th_fwd_sync(ct_pagestore *ps)
{
    return fwd_inner(ps)->ops->sync(fwd_inner(ps));
}

int th_fwd_size(ct_pagestore *ps, uint64_t *npages)
{
    return fwd_inner(ps)->ops->size(fwd_inner(ps), npages);
}

int th_fwd_resize(ct_pagestore *ps, uint64_t npages)
{
    return fwd_inner(ps)->ops->resize(fwd_inner(ps), npages);
}

void th_fwd_close(ct_pagestore *ps)
{
    (void)ps;
}

/* ---- temp dirs -------------------------------------------------------------- */

void th_tmpdir_make(char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/ct-test-XXXXXX", COWTREE_TEST_TMPDIR);
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void th_tmpdir_remove(const char *dir)
{
    if (dir && *dir) {
        (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* ---- envs ----------------------------------------------------------------- */

const char *th_store_name(th_store_kind kind)
{
    switch (kind) {
    case TH_STORE_RAM:
        return "ram";
    case TH_STORE_RAM_NOMAP:
        return "ram-nomap";
    case TH_STORE_MEM:
        return "memstore";
    case TH_STORE_MEM_NOMAP:
        return "memstore-nomap";
    case TH_STORE_FILE:
        return "file";
    }
    return "?";
}

static int is_mem(th_store_kind k)
{
    return k == TH_STORE_MEM || k == TH_STORE_MEM_NOMAP;
}

static int is_ram(th_store_kind k)
{
    return k == TH_STORE_RAM || k == TH_STORE_RAM_NOMAP;
}

int th_env_open(th_env *e)
{
    ct_options o;
    ct_options_init(&o);
    o.page_size = e->page_size;
    o.durability = e->durability;
    o.autosync_pages = e->autosync_pages;
    e->db = NULL;
    if (e->kind == TH_STORE_FILE) {
        return ct_open_path(e->path, &o, &e->db);
    }
    return ct_open(e->ps, &o, &e->db);
}

ct_pagestore *th_mem_create(uint32_t page_size, int with_map, uint64_t seed)
{
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_size;
    mo.enable_map = with_map;
    mo.seed = seed;
    ct_pagestore *ps = NULL;
    th_assert_rc(ct_memstore_create(&mo, &ps), CT_OK);
    return ps;
}

void th_env_init(th_env *e, th_store_kind kind, uint32_t page_size)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->page_size = page_size;
    e->durability = CT_SYNC_FULL;
    if (is_ram(kind)) {
        e->ps = th_ram_create(page_size, kind == TH_STORE_RAM);
    } else if (is_mem(kind)) {
        e->ps = th_mem_create(page_size, kind == TH_STORE_MEM, 0);
    } else {
        th_tmpdir_make(e->dir, sizeof(e->dir));
        snprintf(e->path, sizeof(e->path), "%s/db", e->dir);
    }
    th_assert_rc(th_env_open(e), CT_OK);
}

void th_env_close(th_env *e)
{
    ct_close(e->db);
    e->db = NULL;
    if (is_mem(e->kind)) {
        /* No engine is open: release buffers kept alive for map() pointers
           (of the memory store under a trace store a test put on top). */
        ct_pagestore *traced = ct_tracestore_inner(e->ps);
        th_assert_rc(ct_memstore_unmap_all(traced ? traced : e->ps), CT_OK);
    }
}

void th_env_reopen(th_env *e)
{
    th_env_close(e);
    th_assert_rc(th_env_open(e), CT_OK);
}

void th_env_destroy(th_env *e)
{
    th_env_close(e);
    if (e->ps) {
        e->ps->ops->close(e->ps);
        e->ps = NULL;
    }
    if (e->dir[0]) {
        th_tmpdir_remove(e->dir);
        e->dir[0] = '\0';
    }
}

uint64_t th_env_store_pages(th_env *e)
{
    if (e->kind == TH_STORE_FILE) {
        struct stat st;
        assert_int_equal(stat(e->path, &st), 0);
        return ((uint64_t)st.st_size + e->page_size - 1) / e->page_size;
    }
    uint64_t n = 0;
    th_assert_rc(e->ps->ops->size(e->ps, &n), CT_OK);
    return n;
}

void th_env_page_read(th_env *e, uint64_t pgno, void *buf)
{
    assert_null(e->db);
    if (e->kind == TH_STORE_FILE) {
        int fd = open(e->path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = pread(fd, buf, e->page_size, (off_t)(pgno * e->page_size));
        assert_int_equal(n, (ssize_t)e->page_size);
        close(fd);
    } else if (is_ram(e->kind)) {
        uint8_t *p = th_ram_page(e->ps, pgno);
        assert_non_null(p);
        memcpy(buf, p, e->page_size);
    } else {
        th_assert_rc(ct_memstore_peek(e->ps, pgno, buf), CT_OK);
    }
}

void th_env_page_write(th_env *e, uint64_t pgno, const void *buf)
{
    assert_null(e->db);
    if (e->kind == TH_STORE_FILE) {
        int fd = open(e->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = pwrite(fd, buf, e->page_size, (off_t)(pgno * e->page_size));
        assert_int_equal(n, (ssize_t)e->page_size);
        assert_int_equal(fsync(fd), 0);
        close(fd);
    } else if (is_ram(e->kind)) {
        uint8_t *p = th_ram_page(e->ps, pgno);
        assert_non_null(p);
        memcpy(p, buf, e->page_size);
    } else {
        th_assert_rc(ct_memstore_poke(e->ps, pgno, buf), CT_OK);
    }
}

/* ---- verification ------------------------------------------------------- */

void th_check_clean(ct_db *db)
{
    ct_check_report r;
    int rc = ct_check(db, &r);
    if (rc != CT_OK || r.problems != 0) {
        print_error("ct_check: %s, %llu problems, first at page %llu: %s\n", ct_errname(rc),
                    (unsigned long long)r.problems, (unsigned long long)r.first_problem_pgno,
                    r.first_problem);
    }
    th_assert_rc(rc, CT_OK);
    assert_int_equal(r.problems, 0);
    assert_int_equal(r.pages_meta + r.pages_branch + r.pages_leaf + r.pages_overflow +
                         r.pages_freelist + r.pages_free,
                     r.pages_total);
}

static void expect_entry(ct_cursor *c, const th_model *m, size_t i)
{
    const uint8_t *mk = NULL;
    const uint8_t *mv = NULL;
    size_t mkl = 0;
    size_t mvl = 0;
    th_model_at(m, i, &mk, &mkl, &mv, &mvl);
    const void *k = NULL;
    const void *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    th_assert_rc(ct_cursor_get(c, &k, &kl, &v, &vl), CT_OK);
    th_assert_eq(kl, mkl);
    if (kl) {
        th_assert_mem(k, mk, kl);
    }
    th_assert_eq(vl, mvl);
    if (vl) {
        th_assert_mem(v, mv, vl);
    }
}

void th_verify_txn(ct_txn *t, ct_bucket *b, const th_model *m)
{
    size_t n = th_model_count(m);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, b, &c), CT_OK);
    /* Forward. */
    int rc = ct_cursor_first(c);
    for (size_t i = 0; i < n; i++) {
        th_assert_rc(rc, CT_OK);
        expect_entry(c, m, i);
        rc = ct_cursor_next(c);
    }
    th_assert_rc(rc, CT_NOTFOUND);
    /* Backward. */
    rc = ct_cursor_last(c);
    for (size_t i = n; i-- > 0;) {
        th_assert_rc(rc, CT_OK);
        expect_entry(c, m, i);
        rc = ct_cursor_prev(c);
    }
    th_assert_rc(rc, CT_NOTFOUND);
    ct_cursor_close(c);
    /* Point lookups. */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *mk = NULL;
        const uint8_t *mv = NULL;
        size_t mkl = 0;
        size_t mvl = 0;
        th_model_at(m, i, &mk, &mkl, &mv, &mvl);
        const void *v = NULL;
        size_t vl = 0;
        th_assert_rc(ct_get(t, b, mk, mkl, &v, &vl), CT_OK);
        th_assert_eq(vl, mvl);
        if (vl) {
            th_assert_mem(v, mv, vl);
        }
    }
}

void th_verify_db(ct_db *db, const char *bucket, const th_model *m)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    ct_bucket *b = NULL;
    if (bucket) {
        th_assert_rc(ct_bucket_open(t, bucket, 0, &b), CT_OK);
    } else {
        struct ct_stat st;
        th_assert_rc(ct_stat(db, &st), CT_OK);
        assert_int_equal(st.entries, th_model_count(m));
    }
    th_verify_txn(t, b, m);
    ct_abort(t);
}

void th_put1(ct_db *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    th_assert_rc(ct_put(t, NULL, key, klen, val, vlen, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
}

/* ---- white-box walk ------------------------------------------------------- */

uint32_t th_walk_tree(ct_db *db, const char *bucket, th_page_fn fn, void *ctx)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    ct_bucket *b = NULL;
    if (bucket) {
        th_assert_rc(ct_bucket_open(t, bucket, 0, &b), CT_OK);
    } else {
        b = &t->main;
    }
    const ct__tree *tr = &b->tree;
    uint32_t depth = tr->depth;
    if (tr->root == 0) {
        ct_abort(t);
        return 0;
    }
    struct {
        uint64_t pgno;
        uint64_t gen;
        uint32_t idx;
        const uint8_t *page;
        int rightmost;
    } st[CT_DEPTH_MAX];
    uint32_t top = 0;
    st[0].pgno = tr->root;
    st[0].gen = tr->gen;
    st[0].idx = UINT32_MAX;
    st[0].rightmost = 1;
    for (;;) {
        int leaf = top + 1 == depth;
        if (st[top].idx == UINT32_MAX) {
            th_assert_rc(ct__page_get(t, st[top].pgno, st[top].gen,
                                      leaf ? CT_PT_LEAF : CT_PT_BRANCH, &st[top].page),
                         CT_OK);
            th_page_info pi;
            pi.pgno = st[top].pgno;
            pi.gen = st[top].gen;
            pi.level = top;
            pi.depth = depth;
            pi.leaf = leaf;
            pi.page = st[top].page;
            pi.parent_pgno = top ? st[top - 1].pgno : 0;
            pi.parent_idx = top ? st[top - 1].idx - 1 : 0;
            pi.rightmost = st[top].rightmost;
            fn(&pi, ctx);
            st[top].idx = 0;
        }
        if (!leaf && st[top].idx < ct__ph_count(st[top].page)) {
            const uint8_t *c = ct__node_cell(st[top].page, st[top].idx++);
            int last = st[top].idx == ct__ph_count(st[top].page);
            top++;
            st[top].rightmost = st[top - 1].rightmost && last;
            st[top].pgno = ct__branch_child(c);
            st[top].gen = ct__branch_gen(c);
            st[top].idx = UINT32_MAX;
            continue;
        }
        if (top == 0) {
            break;
        }
        top--;
    }
    ct_abort(t);
    return depth;
}
