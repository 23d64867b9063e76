/*
 * prop_model.c - the reference: an ordered map per bucket (sorted array,
 * bytewise key order, shorter first on a common prefix) with the txn and
 * cursor contract of include/cowtree.h written out plainly:
 *  - the write txn works on a copy of the last commit; commit publishes
 *    it, abort and reopen drop it;
 *  - a snapshot is a copy of the last commit at its begin;
 *  - put: missing bucket, then key > ct_key_max -> TOOBIG, then
 *    NOOVERWRITE/APPEND on a present key -> EXISTS, APPEND with a key not
 *    above every key -> EXISTS; get/del of a too-long key -> NOTFOUND;
 *  - cursor: a positioning call that finds nothing leaves it unpositioned;
 *    next on an unpositioned cursor is first, prev is last.
 * Deliberately naive (deep copies, linear inserts): obviously right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"

typedef struct ment {
    uint8_t *k;
    uint8_t *v;
    uint32_t kl;
    uint32_t vl;
} ment;

typedef struct mmap {
    ment *e;
    uint32_t n;
    uint32_t cap;
} mmap;

typedef struct mstate {
    int exists[PT_BUCKETS];
    mmap m[PT_BUCKETS];
} mstate;

struct pt_be {
    mstate committed;
    mstate work;
    mstate snaps[PT_SNAPS];
    uint32_t key_max;
    const mmap *cm; /* cursor's map */
    uint32_t pos;
    int positioned;
};

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static void *dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (!d) {
        fprintf(stderr, "cowtree-proptest: out of memory\n");
        exit(2);
    }
    if (n) {
        memcpy(d, p, n);
    }
    return d;
}

static void map_clear(mmap *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        free(m->e[i].k);
        free(m->e[i].v);
    }
    free(m->e);
    memset(m, 0, sizeof(*m));
}

static void state_clear(mstate *s)
{
    for (unsigned i = 0; i < PT_BUCKETS; i++) {
        map_clear(&s->m[i]);
        s->exists[i] = 0;
    }
    s->exists[0] = 1;
}

static void state_copy(mstate *dst, const mstate *src)
{
    state_clear(dst);
    for (unsigned b = 0; b < PT_BUCKETS; b++) {
        dst->exists[b] = src->exists[b];
        const mmap *s = &src->m[b];
        mmap *d = &dst->m[b];
        d->e = dup((const uint8_t *)s->e, (size_t)s->n * sizeof(ment));
        d->n = s->n;
        d->cap = s->n;
        for (uint32_t i = 0; i < s->n; i++) {
            d->e[i].k = dup(s->e[i].k, s->e[i].kl);
            d->e[i].v = dup(s->e[i].v, s->e[i].vl);
        }
    }
}

/* Index of the first entry >= key; *found when equal. */
static uint32_t lower_bound(const mmap *m, const uint8_t *k, size_t kl, int *found)
{
    uint32_t lo = 0;
    uint32_t hi = m->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_cmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < m->n && key_cmp(m->e[lo].k, m->e[lo].kl, k, kl) == 0;
    return lo;
}

static int m_open(pt_be **out, const pt_case *c, char *err, size_t errcap)
{
    pt_be *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errcap, "model: out of memory");
        return -1;
    }
    b->key_max = pt_key_max_for(c->page_size);
    state_clear(&b->committed);
    state_clear(&b->work);
    for (unsigned i = 0; i < PT_SNAPS; i++) {
        state_clear(&b->snaps[i]);
    }
    *out = b;
    return 0;
}

static void m_close(pt_be *b)
{
    if (!b) {
        return;
    }
    state_clear(&b->committed);
    state_clear(&b->work);
    for (unsigned i = 0; i < PT_SNAPS; i++) {
        state_clear(&b->snaps[i]);
    }
    free(b);
}

static int m_reopen(pt_be *b)
{
    state_copy(&b->work, &b->committed);
    return PT_R_OK;
}

static int m_commit(pt_be *b)
{
    state_copy(&b->committed, &b->work);
    return PT_R_OK;
}

static void m_abort(pt_be *b)
{
    state_copy(&b->work, &b->committed);
}

static mstate *state_of(pt_be *b, int snap)
{
    return snap < 0 ? &b->work : &b->snaps[snap];
}

static int m_put(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl, const uint8_t *v,
                 size_t vl, unsigned flags)
{
    if (!b->work.exists[bucket]) {
        return PT_R_NOBUCKET;
    }
    if (kl > b->key_max) {
        return PT_R_TOOBIG;
    }
    mmap *m = &b->work.m[bucket];
    int found = 0;
    uint32_t i = lower_bound(m, k, kl, &found);
    if (found && (flags & (PT_F_NOOVERWRITE | PT_F_APPEND))) {
        return PT_R_EXISTS;
    }
    if ((flags & PT_F_APPEND) && i < m->n) {
        return PT_R_EXISTS; /* not above every key */
    }
    if (found) {
        free(m->e[i].v);
        m->e[i].v = dup(v, vl);
        m->e[i].vl = (uint32_t)vl;
        return PT_R_OK;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        ment *e = realloc(m->e, m->cap * sizeof(*e));
        if (!e) {
            fprintf(stderr, "cowtree-proptest: out of memory\n");
            exit(2);
        }
        m->e = e;
    }
    memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(ment));
    m->e[i].k = dup(k, kl);
    m->e[i].kl = (uint32_t)kl;
    m->e[i].v = dup(v, vl);
    m->e[i].vl = (uint32_t)vl;
    m->n++;
    return PT_R_OK;
}

static int m_get(pt_be *b, int snap, unsigned bucket, const uint8_t *k, size_t kl,
                 const uint8_t **v, size_t *vl)
{
    mstate *s = state_of(b, snap);
    if (!s->exists[bucket]) {
        return PT_R_NOBUCKET;
    }
    int found = 0;
    uint32_t i = lower_bound(&s->m[bucket], k, kl, &found);
    if (!found || kl > b->key_max) {
        return PT_R_NOTFOUND;
    }
    *v = s->m[bucket].e[i].v;
    *vl = s->m[bucket].e[i].vl;
    return PT_R_OK;
}

static int m_del(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl)
{
    if (!b->work.exists[bucket]) {
        return PT_R_NOBUCKET;
    }
    mmap *m = &b->work.m[bucket];
    int found = 0;
    uint32_t i = lower_bound(m, k, kl, &found);
    if (!found || kl > b->key_max) {
        return PT_R_NOTFOUND;
    }
    free(m->e[i].k);
    free(m->e[i].v);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(ment));
    m->n--;
    return PT_R_OK;
}

static int m_bucket_create(pt_be *b, unsigned bucket)
{
    if (b->work.exists[bucket]) {
        return PT_R_EXISTS;
    }
    b->work.exists[bucket] = 1;
    return PT_R_OK;
}

static int m_bucket_drop(pt_be *b, unsigned bucket)
{
    if (!b->work.exists[bucket]) {
        return PT_R_NOBUCKET;
    }
    map_clear(&b->work.m[bucket]);
    b->work.exists[bucket] = 0;
    return PT_R_OK;
}

static int m_snap_begin(pt_be *b, unsigned slot)
{
    state_copy(&b->snaps[slot], &b->committed);
    return PT_R_OK;
}

static void m_snap_end(pt_be *b, unsigned slot)
{
    state_clear(&b->snaps[slot]);
}

static int m_cur_open(pt_be *b, int snap, unsigned bucket)
{
    mstate *s = state_of(b, snap);
    if (!s->exists[bucket]) {
        return PT_R_NOBUCKET;
    }
    b->cm = &s->m[bucket];
    b->positioned = 0;
    return PT_R_OK;
}

static int place(pt_be *b, int ok, uint32_t pos)
{
    b->positioned = ok;
    b->pos = pos;
    return ok ? PT_R_OK : PT_R_NOTFOUND;
}

static int m_cur_move(pt_be *b, int how, const uint8_t *k, size_t kl)
{
    uint32_t n = b->cm->n;
    if (how == PT_CUR_NEXT && !b->positioned) {
        how = PT_CUR_FIRST;
    }
    if (how == PT_CUR_PREV && !b->positioned) {
        how = PT_CUR_LAST;
    }
    switch (how) {
    case PT_CUR_FIRST:
        return place(b, n > 0, 0);
    case PT_CUR_LAST:
        return place(b, n > 0, n - 1);
    case PT_CUR_SEEK: {
        int found = 0;
        uint32_t i = lower_bound(b->cm, k, kl, &found);
        return place(b, i < n, i);
    }
    case PT_CUR_NEXT:
        return place(b, b->pos + 1 < n, b->pos + 1);
    default:
        return place(b, b->pos > 0, b->pos - 1);
    }
}

static int m_cur_get(pt_be *b, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    if (!b->positioned) {
        return PT_R_NOTFOUND;
    }
    const ment *e = &b->cm->e[b->pos];
    *k = e->k;
    *kl = e->kl;
    *v = e->v;
    *vl = e->vl;
    return PT_R_OK;
}

static void m_cur_close(pt_be *b)
{
    b->cm = NULL;
    b->positioned = 0;
}

const pt_be_ops pt_be_model = {
    .name = "model",
    .open = m_open,
    .close = m_close,
    .reopen = m_reopen,
    .commit = m_commit,
    .abort = m_abort,
    .put = m_put,
    .get = m_get,
    .del = m_del,
    .bucket_create = m_bucket_create,
    .bucket_drop = m_bucket_drop,
    .snap_begin = m_snap_begin,
    .snap_end = m_snap_end,
    .cur_open = m_cur_open,
    .cur_move = m_cur_move,
    .cur_get = m_cur_get,
    .cur_close = m_cur_close,
    .check = NULL,
};
