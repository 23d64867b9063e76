/*
 * opgen.c - the seeded workload generator and swarm profiles.
 *
 * Owns: turning (seed, txns, key limit, page size, durability, swarm) into
 * a concrete op list. It keeps its own model of what the database will
 * hold to aim deletes, range deletes and overwrites at existing keys; the
 * executor's model, not this one, is the oracle. Deterministic: every
 * choice comes from the "opgen" stream of the seed, and txn t's ops depend
 * only on the seed and txns 0..t-1 (prefix-stable).
 */
#include <string.h>

#include "cowtree.h"
#include "prng.h"
#include "workload.h"

typedef struct gen {
    const sim_gen_config *cfg;
    sim_workload *w;
    prng rng;
    sim_state *committed;
    sim_state *work;
    int reader_open[SIM_READERS];
    uint32_t seq;
    uint32_t since_sync;
    uint8_t *vbuf;
    size_t vbuf_cap;
} gen;

static const char *const op_names[SIM_OP_KINDS] = {
    "begin", "put", "del", "range-del", "get", "scan", "bucket-create", "bucket-drop",
    "commit", "abort", "read-begin", "read-check", "read-end", "sync", "reopen"};

const char *sim_op_name(int kind)
{
    return (kind >= 0 && kind < SIM_OP_KINDS) ? op_names[kind] : "?";
}

static void profile_defaults(sim_profile *p)
{
    static const uint32_t op_w[SIM_W_OPS] = {50, 15, 4, 10, 4, 4, 2};
    static const uint32_t key_w[SIM_K_KINDS] = {25, 30, 10, 20, 2, 1};
    static const uint32_t val_w[SIM_V_KINDS] = {3, 40, 25, 12, 12, 2};
    memcpy(p->op_w, op_w, sizeof(op_w));
    memcpy(p->key_w, key_w, sizeof(key_w));
    memcpy(p->val_w, val_w, sizeof(val_w));
    p->ops_max = 12;
    p->bulk_pct = 8;
    p->abort_pct = 10;
    p->reader_pct = 30;
    p->sync_every = 4;
    p->reopen_pct = 3;
    p->overwrite_pct = 35;
    p->bucket_pct = 30;
    p->noover_pct = 5;
    p->append_pct = 5;
    p->stable_cursor_pct = 50;
}

/* Swarm: each weight is switched off with probability 1/3, else redrawn. */
static void swarm_weights(prng *r, uint32_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        w[i] = prng_chance(r, 1, 3) ? 0 : (uint32_t)prng_range(r, 1, 100);
    }
}

void sim_profile_make(uint64_t seed, int swarm, uint32_t page_size, sim_profile *p)
{
    (void)page_size;
    profile_defaults(p);
    if (!swarm) {
        return;
    }
    prng r;
    prng_seed(&r, prng_derive(seed, 0x737761726dull)); /* "swarm" */
    swarm_weights(&r, p->op_w, SIM_W_OPS);
    p->op_w[SIM_W_PUT] = (uint32_t)prng_range(&r, 20, 100); /* something to crash */
    swarm_weights(&r, p->key_w, SIM_K_KINDS);
    if (p->key_w[SIM_K_SEQ] + p->key_w[SIM_K_SHORT] + p->key_w[SIM_K_LONG] +
            p->key_w[SIM_K_PREFIX] == 0) {
        p->key_w[SIM_K_SHORT] = 50;
    }
    swarm_weights(&r, p->val_w, SIM_V_KINDS);
    if (p->val_w[SIM_V_SMALL] + p->val_w[SIM_V_MEDIUM] + p->val_w[SIM_V_EDGE] +
            p->val_w[SIM_V_OVERFLOW] == 0) {
        p->val_w[SIM_V_SMALL] = 50;
    }
    if (p->val_w[SIM_V_HUGE] > 10) {
        p->val_w[SIM_V_HUGE] = 10; /* keep images cheap to check */
    }
    p->ops_max = (uint32_t)prng_range(&r, 1, 40);
    p->bulk_pct = (uint32_t)prng_below(&r, 25);
    p->abort_pct = (uint32_t)prng_below(&r, 30);
    p->reader_pct = (uint32_t)prng_below(&r, 70);
    p->sync_every = (uint32_t)prng_range(&r, 1, 12);
    p->reopen_pct = (uint32_t)prng_below(&r, 10);
    p->overwrite_pct = (uint32_t)prng_below(&r, 90);
    p->bucket_pct = (uint32_t)prng_below(&r, 80);
    p->noover_pct = (uint32_t)prng_below(&r, 20);
    p->append_pct = (uint32_t)prng_below(&r, 40);
}

static sim_op *emit(gen *g, int kind)
{
    sim_workload *w = g->w;
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 256;
        w->ops = sim_xrealloc(w->ops, w->cap * sizeof(sim_op));
    }
    sim_op *op = &w->ops[w->count++];
    memset(op, 0, sizeof(*op));
    op->kind = (uint8_t)kind;
    op->txn = w->txns;
    return op;
}

static const uint8_t *new_key(gen *g, uint32_t *klen)
{
    uint8_t buf[CT_PAGE_SIZE_MAX / 4 + 16];
    uint32_t kmax = g->cfg->key_max;
    uint32_t n = 0;
    switch (prng_pick(&g->rng, g->w->prof.key_w, SIM_K_KINDS)) {
    case SIM_K_SEQ: {
        uint32_t s = g->seq++;
        buf[0] = 'k';
        for (int i = 0; i < 4; i++) {
            buf[1 + i] = (uint8_t)(s >> (24 - 8 * i));
        }
        n = kmax >= 5 ? 5 : kmax;
        break;
    }
    case SIM_K_LONG:
        n = kmax - (uint32_t)prng_below(&g->rng, kmax < 5 ? kmax + 1 : 5);
        for (uint32_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)prng_below(&g->rng, 256);
        }
        break;
    case SIM_K_PREFIX: {
        uint32_t pre = kmax / 2;
        n = pre + (uint32_t)prng_range(&g->rng, 1, 8);
        n = n > kmax ? kmax : n;
        memset(buf, 'p', pre);
        for (uint32_t i = pre; i < n; i++) {
            buf[i] = (uint8_t)("abcd\x00\xff"[prng_below(&g->rng, 6)]);
        }
        break;
    }
    case SIM_K_EMPTY:
        n = 0;
        break;
    case SIM_K_TOOBIG:
        n = kmax + (uint32_t)prng_range(&g->rng, 1, 4);
        memset(buf, 'x', n);
        break;
    default: /* SIM_K_SHORT: few letters, many collisions */
        n = (uint32_t)prng_range(&g->rng, 1, 6);
        n = n > kmax ? kmax : n;
        for (uint32_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)('a' + prng_below(&g->rng, 4));
        }
        break;
    }
    *klen = n;
    return sim_arena_copy(&g->w->arena, buf, n);
}

/* An existing key of bucket b with probability pct %, else a new one. */
static const uint8_t *pick_key(gen *g, int b, uint32_t pct, uint32_t *klen)
{
    const sim_bmap *m = &g->work->b[b];
    if (m->present && m->count > 0 && prng_below(&g->rng, 100) < pct) {
        const sim_entry *e = &m->v[prng_below(&g->rng, m->count)];
        *klen = e->klen;
        return e->key;
    }
    return new_key(g, klen);
}

/* A key above every key of bucket b (a bulk load's next key): its last
   key with the last byte raised, or extended by a zero byte; key itself
   when neither fits (the put then fails with CT_EXISTS, also a case). */
static const uint8_t *key_above_all(gen *g, int b, const uint8_t *key, uint32_t *klen)
{
    const sim_bmap *m = &g->work->b[b];
    if (!m->present || m->count == 0) {
        return key;
    }
    const sim_entry *last = &m->v[m->count - 1];
    uint8_t buf[CT_PAGE_SIZE_MAX / 4 + 16];
    uint32_t n = (uint32_t)last->klen;
    if (n > g->cfg->key_max) {
        return key;
    }
    memcpy(buf, last->key, n);
    if (n > 0 && buf[n - 1] < 0xff) {
        buf[n - 1]++;
    } else if (n < g->cfg->key_max) {
        buf[n++] = 0;
    } else {
        return key;
    }
    *klen = n;
    return sim_arena_copy(&g->w->arena, buf, n);
}

static uint32_t value_len(gen *g)
{
    uint32_t p = g->cfg->page_size;
    switch (prng_pick(&g->rng, g->w->prof.val_w, SIM_V_KINDS)) {
    case SIM_V_EMPTY:
        return 0;
    case SIM_V_MEDIUM:
        return (uint32_t)prng_range(&g->rng, 25, 100);
    case SIM_V_EDGE:
        return (uint32_t)prng_range(&g->rng, p / 4 - 40, p / 4 + 40);
    case SIM_V_OVERFLOW:
        return (uint32_t)prng_range(&g->rng, p / 2, 6u * p);
    case SIM_V_HUGE: {
        uint64_t hi = 48ull * p > 65536 ? 65536 : 48ull * p;
        return (uint32_t)prng_range(&g->rng, 6ull * p, hi);
    }
    default:
        return (uint32_t)prng_range(&g->rng, 1, 24);
    }
}

static void set_value(gen *g, sim_op *op)
{
    op->vlen = value_len(g);
    op->vseed = prng_next(&g->rng);
    if (op->vlen > g->vbuf_cap) {
        g->vbuf_cap = op->vlen;
        g->vbuf = sim_xrealloc(g->vbuf, g->vbuf_cap);
    }
    prng_fill_value(op->vseed, g->vbuf, op->vlen);
    op->vhash = prng_hash_bytes(g->vbuf, op->vlen, 0);
    if (op->vlen > g->w->vlen_max) {
        g->w->vlen_max = op->vlen;
    }
}

static void model_put(gen *g, const sim_op *op)
{
    if (!g->work->b[op->b].present || op->klen > g->cfg->key_max) {
        return;
    }
    if (sim_put_refused(&g->work->b[op->b], op)) {
        return; /* CT_EXISTS */
    }
    sim_entry e = {op->key, op->klen, op->vlen, op->vseed, op->vhash};
    sim_state_put(g->work, op->b, &e);
}

static void gen_range(gen *g, int b)
{
    const sim_bmap *m = &g->work->b[b];
    sim_op *op = emit(g, SIM_OP_RANGE_DEL);
    op->b = (uint8_t)b;
    if (!m->present || m->count == 0) {
        op->key = new_key(g, &op->klen);
        op->arg = 1;
        return;
    }
    if (prng_below(&g->rng, 100) < g->w->prof.stable_cursor_pct) {
        op->arg |= 2;
    }
    size_t i = prng_below(&g->rng, m->count);
    size_t j = i + prng_range(&g->rng, 1, 10);
    op->key = m->v[i].key;
    op->klen = m->v[i].klen;
    if (j < m->count) {
        op->key2 = m->v[j].key;
        op->k2len = m->v[j].klen;
    } else {
        op->arg |= 1;
        j = m->count;
    }
    for (size_t k = i; k < j; k++) {
        sim_state_del(g->work, b, m->v[i].key, m->v[i].klen);
    }
}

static int pick_bucket(gen *g)
{
    if (prng_below(&g->rng, 100) >= g->w->prof.bucket_pct) {
        return 0;
    }
    int b = (int)prng_range(&g->rng, 1, SIM_NAMED);
    if (!g->work->b[b].present && prng_chance(&g->rng, 4, 5)) {
        sim_op *op = emit(g, SIM_OP_BCREATE);
        op->b = (uint8_t)b;
        sim_state_create(g->work, b);
    }
    return b;
}

static void gen_op(gen *g)
{
    const sim_profile *p = &g->w->prof;
    int kind = prng_pick(&g->rng, p->op_w, SIM_W_OPS);
    if (kind == SIM_W_BCREATE || kind == SIM_W_BDROP) {
        int b = (int)prng_range(&g->rng, 1, SIM_NAMED);
        sim_op *op = emit(g, kind == SIM_W_BCREATE ? SIM_OP_BCREATE : SIM_OP_BDROP);
        op->b = (uint8_t)b;
        if (kind == SIM_W_BCREATE) {
            op->arg = prng_chance(&g->rng, 3, 10) ? 1 : 0;
            sim_state_create(g->work, b);
        } else {
            sim_state_drop(g->work, b);
        }
        return;
    }
    int b = pick_bucket(g);
    if (kind == SIM_W_RANGE) {
        gen_range(g, b);
        return;
    }
    static const uint8_t kinds[SIM_W_OPS] = {SIM_OP_PUT, SIM_OP_DEL, 0, SIM_OP_GET, SIM_OP_SCAN};
    sim_op *op = emit(g, kinds[kind]);
    op->b = (uint8_t)b;
    uint32_t pct = kind == SIM_W_PUT ? p->overwrite_pct : 75;
    op->key = pick_key(g, b, pct, &op->klen);
    if (kind == SIM_W_PUT) {
        uint32_t u = (uint32_t)prng_below(&g->rng, 100);
        op->arg = u < p->noover_pct                   ? SIM_PUT_NOOVERWRITE
                  : u < p->noover_pct + p->append_pct ? SIM_PUT_APPEND
                                                      : SIM_PUT_PLAIN;
        if (op->arg == SIM_PUT_APPEND && u % 2 == 0) {
            op->key = key_above_all(g, b, op->key, &op->klen);
        }
        set_value(g, op);
        model_put(g, op);
    } else if (kind == SIM_W_DEL) {
        if (g->work->b[b].present) {
            sim_state_del(g->work, b, op->key, op->klen);
        }
    } else if (kind == SIM_W_SCAN) {
        op->arg = (uint8_t)prng_below(&g->rng, 3);
    }
}

static void gen_reader_op(gen *g)
{
    int slot = (int)prng_below(&g->rng, SIM_READERS);
    if (!g->reader_open[slot]) {
        emit(g, SIM_OP_RBEGIN)->arg = (uint8_t)slot;
        g->reader_open[slot] = 1;
        return;
    }
    if (prng_chance(&g->rng, 1, 3)) {
        emit(g, SIM_OP_REND)->arg = (uint8_t)slot;
        g->reader_open[slot] = 0;
        return;
    }
    sim_op *op = emit(g, SIM_OP_RCHECK);
    uint32_t mode = (uint32_t)prng_below(&g->rng, 3);
    op->arg = (uint8_t)((uint32_t)slot | (mode << 2));
    op->b = (uint8_t)prng_below(&g->rng, SIM_BUCKETS);
    op->key = pick_key(g, op->b, 70, &op->klen);
}

static void gen_preface(gen *g)
{
    const sim_profile *p = &g->w->prof;
    for (int i = 0; i < 2; i++) {
        if (prng_below(&g->rng, 100) < p->reader_pct) {
            gen_reader_op(g);
        }
    }
    int none = g->cfg->durability == CT_SYNC_NONE;
    if ((none && g->since_sync >= p->sync_every && prng_chance(&g->rng, 2, 3)) ||
        (!none && prng_chance(&g->rng, 1, 50))) {
        emit(g, SIM_OP_SYNC);
        g->since_sync = 0;
    }
    if (prng_below(&g->rng, 100) < p->reopen_pct) {
        emit(g, SIM_OP_REOPEN);
        memset(g->reader_open, 0, sizeof(g->reader_open));
        g->since_sync = 0;
    }
}

static void gen_txn(gen *g)
{
    const sim_profile *p = &g->w->prof;
    gen_preface(g);
    emit(g, SIM_OP_BEGIN);
    sim_state_unref(g->work);
    g->work = sim_state_copy(g->committed);
    uint64_t n = prng_below(&g->rng, 100) < p->bulk_pct ? prng_range(&g->rng, 20, 120)
                                                        : prng_range(&g->rng, 1, p->ops_max);
    for (uint64_t i = 0; i < n; i++) {
        gen_op(g);
    }
    if (prng_below(&g->rng, 100) < p->abort_pct) {
        emit(g, SIM_OP_ABORT);
        return;
    }
    emit(g, SIM_OP_COMMIT);
    sim_state_unref(g->committed);
    g->committed = sim_state_ref(g->work);
    g->since_sync++;
}

void sim_workload_gen(const sim_gen_config *cfg, sim_workload *w)
{
    memset(w, 0, sizeof(*w));
    sim_profile_make(cfg->seed, cfg->swarm, cfg->page_size, &w->prof);
    if (cfg->stable_cursor_pct >= 0) {
        w->prof.stable_cursor_pct = (uint32_t)cfg->stable_cursor_pct;
    }
    gen g;
    memset(&g, 0, sizeof(g));
    g.cfg = cfg;
    g.w = w;
    prng_seed(&g.rng, prng_derive(cfg->seed, 0x6f7067656eull)); /* "opgen" */
    g.committed = sim_state_new();
    g.work = sim_state_ref(g.committed);
    w->txn_first = sim_xmalloc(((size_t)cfg->txns + 1) * sizeof(size_t));
    for (uint32_t t = 0; t < cfg->txns; t++) {
        w->txn_first[t] = w->count;
        gen_txn(&g);
        w->txns++;
    }
    w->txn_first[cfg->txns] = w->count;
    w->active = sim_xmalloc(w->count + 1);
    memset(w->active, 1, w->count + 1);
    sim_state_unref(g.work);
    sim_state_unref(g.committed);
    free(g.vbuf);
}

void sim_workload_truncate(sim_workload *w, uint32_t n)
{
    if (n >= w->txns) {
        return;
    }
    w->count = w->txn_first[n];
    w->txns = n;
}

void sim_workload_free(sim_workload *w)
{
    free(w->ops);
    free(w->txn_first);
    free(w->active);
    sim_arena_free(&w->arena);
    memset(w, 0, sizeof(*w));
}

uint64_t sim_workload_digest(const sim_workload *w)
{
    uint64_t h = 0x776f726b6c6f6164ull;
    for (size_t i = 0; i < w->count; i++) {
        const sim_op *op = &w->ops[i];
        if (!w->active[i]) {
            continue;
        }
        h = prng_hash_u64(h, (uint64_t)op->kind | (uint64_t)op->b << 8 | (uint64_t)op->arg << 16);
        h = prng_hash_u64(h, prng_hash_bytes(op->key, op->klen, op->vseed ^ op->vlen));
        h = prng_hash_u64(h, prng_hash_bytes(op->key2, op->k2len, op->k2len));
    }
    return h;
}
