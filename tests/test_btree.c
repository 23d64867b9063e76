/*
 * test_btree.c - the B+tree through the public API, against an ordered-map
 * model: seeded random operations (puts of keys of length 0..ct_key_max
 * and values from 0 B to overflow sizes, overwrites, deletes, gets, seeks,
 * cursor walks, CT_NOOVERWRITE, CT_APPEND) in txns that commit or abort,
 * with reopens, full forward/backward scans and ct_check at checkpoints;
 * on RAM stores (with and without map), the memory store and the file
 * store. Plus deterministic shapes: ascending/descending fills and drains,
 * cursor stability inside a write txn, and the key-length boundary.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

/* ---- random operations -------------------------------------------------- */

typedef struct rcfg {
    th_store_kind kind;
    uint32_t page_size;
    uint64_t seed;
    uint64_t ops;
    int durability;
} rcfg;

typedef struct rstate {
    const rcfg *cfg;
    th_env e;
    th_model *m;
    th_rng r;
    uint64_t op;
    size_t key_max;
    uint32_t cell_max;
    uint8_t *kbuf;
    uint8_t *vbuf;
    size_t vcap;
    int grow; /* phase: 1 grows the tree, 0 shrinks it */
    uint64_t stats_put;
    uint64_t stats_del;
    uint64_t stats_get;
    uint64_t stats_seek;
    uint64_t stats_commit;
    uint64_t stats_abort;
    uint64_t stats_reopen;
    uint64_t stats_overflow;
    size_t max_count;
} rstate;

static void ctx(rstate *s, const char *what)
{
    th_set_ctx("store=%s page=%u seed=%llu op=%llu (%s) keys=%zu", th_store_name(s->cfg->kind),
               s->cfg->page_size, (unsigned long long)s->cfg->seed, (unsigned long long)s->op,
               what, th_model_count(s->m));
}

/* Value length: mostly small, some exactly at the inline threshold for this
   key and one byte over, some overflow runs of several pages. */
static size_t gen_vlen(rstate *s, size_t klen)
{
    uint64_t p = th_below(&s->r, 100);
    size_t inline_max = s->cell_max - CT_LEAF_CELL_FIXED - klen; /* fixed + klen + vlen <= cap */
    if (p < 10) {
        return 0;
    }
    if (p < 50) {
        return (size_t)th_below(&s->r, 17);
    }
    if (p < 72) {
        return 17 + (size_t)th_below(&s->r, 64);
    }
    if (p < 80) {
        return inline_max;
    }
    if (p < 86) {
        return inline_max + 1;
    }
    if (p < 97) {
        return inline_max + 2 + (size_t)th_below(&s->r, 3u * s->cfg->page_size);
    }
    uint32_t unit = s->cfg->page_size < 4096u ? s->cfg->page_size : 4096u;
    return (size_t)th_below(&s->r, 16u * unit);
}

static const uint8_t *gen_val(rstate *s, size_t klen, size_t vlen)
{
    if (vlen > s->vcap) {
        s->vbuf = realloc(s->vbuf, vlen);
        assert_non_null(s->vbuf);
        s->vcap = vlen;
    }
    th_fill(&s->r, s->vbuf, vlen);
    if (CT_LEAF_CELL_FIXED + klen + vlen > s->cell_max) {
        s->stats_overflow++;
    }
    return s->vbuf;
}

/* A key present in the model (copied to kbuf), or a fresh random one. */
static size_t pick_key(rstate *s, int existing)
{
    size_t n = th_model_count(s->m);
    if (existing && n > 0) {
        const uint8_t *k = NULL;
        size_t kl = 0;
        th_model_at(s->m, (size_t)th_below(&s->r, n), &k, &kl, NULL, NULL);
        memcpy(s->kbuf, k, kl);
        return kl;
    }
    return th_gen_key(&s->r, s->kbuf, s->key_max);
}

static void check_get(rstate *s, ct_txn *t, const uint8_t *key, size_t klen)
{
    const uint8_t *mv = NULL;
    size_t mvl = 0;
    int have = th_model_get(s->m, key, klen, &mv, &mvl);
    const void *v = NULL;
    size_t vl = 0;
    int rc = ct_get(t, NULL, key, klen, &v, &vl);
    th_assert_rc(rc, have ? CT_OK : CT_NOTFOUND);
    if (have) {
        th_assert_eq(vl, mvl);
        th_assert_mem(v, mv, vl);
    }
    s->stats_get++;
}

static void expect_cursor_at(rstate *s, ct_cursor *c, size_t rank)
{
    const uint8_t *mk = NULL;
    const uint8_t *mv = NULL;
    size_t mkl = 0;
    size_t mvl = 0;
    th_model_at(s->m, rank, &mk, &mkl, &mv, &mvl);
    const void *k = NULL;
    const void *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    th_assert_rc(ct_cursor_get(c, &k, &kl, &v, &vl), CT_OK);
    th_assert_eq(kl, mkl);
    th_assert_mem(k, mk, kl);
    th_assert_eq(vl, mvl);
    th_assert_mem(v, mv, vl);
}

/* Seek at a random key, then walk a few steps in a random direction. */
static void do_seek(rstate *s, ct_txn *t)
{
    size_t klen = pick_key(s, th_chance(&s->r, 1, 3));
    if (klen > 0 && th_chance(&s->r, 1, 3)) {
        s->kbuf[klen - 1] ^= 1; /* near an existing key */
    }
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    size_t n = th_model_count(s->m);
    size_t rank = th_model_lower_bound(s->m, s->kbuf, klen);
    int rc = ct_cursor_seek(c, s->kbuf, klen);
    s->stats_seek++;
    if (rank == n) {
        th_assert_rc(rc, CT_NOTFOUND);
        th_assert_rc(ct_cursor_get(c, NULL, NULL, NULL, NULL), CT_NOTFOUND);
        ct_cursor_close(c);
        return;
    }
    th_assert_rc(rc, CT_OK);
    expect_cursor_at(s, c, rank);
    int dir = th_chance(&s->r, 1, 2) ? 1 : -1;
    uint32_t steps = (uint32_t)th_below(&s->r, 12);
    for (uint32_t i = 0; i < steps; i++) {
        rc = dir > 0 ? ct_cursor_next(c) : ct_cursor_prev(c);
        if (dir > 0 ? rank + 1 == n : rank == 0) {
            th_assert_rc(rc, CT_NOTFOUND);
            break;
        }
        th_assert_rc(rc, CT_OK);
        rank = dir > 0 ? rank + 1 : rank - 1;
        expect_cursor_at(s, c, rank);
    }
    ct_cursor_close(c);
}

static void do_put(rstate *s, ct_txn *t, int existing)
{
    size_t klen = pick_key(s, existing);
    size_t vlen = gen_vlen(s, klen);
    const uint8_t *val = gen_val(s, klen, vlen);
    unsigned flags = th_chance(&s->r, 1, 10) ? CT_NOOVERWRITE : 0u;
    const uint8_t *mv = NULL;
    size_t mvl = 0;
    int have = th_model_get(s->m, s->kbuf, klen, &mv, &mvl);
    int rc = ct_put(t, NULL, s->kbuf, klen, val, vlen, flags);
    s->stats_put++;
    if (have && flags == CT_NOOVERWRITE) {
        th_assert_rc(rc, CT_EXISTS);
    } else {
        th_assert_rc(rc, CT_OK);
        th_model_put(s->m, s->kbuf, klen, val, vlen);
    }
    if (th_chance(&s->r, 1, 4)) {
        check_get(s, t, s->kbuf, klen);
    }
}

/* CT_APPEND with a key above every key: extend the largest key by one byte
   (or use a fresh key when it is already at the limit). */
static void do_append(rstate *s, ct_txn *t)
{
    size_t n = th_model_count(s->m);
    size_t klen = 0;
    if (n > 0) {
        const uint8_t *k = NULL;
        th_model_at(s->m, n - 1, &k, &klen, NULL, NULL);
        if (klen >= s->key_max) {
            return;
        }
        memcpy(s->kbuf, k, klen);
        s->kbuf[klen++] = (uint8_t)(1 + th_below(&s->r, 255));
    }
    size_t vlen = gen_vlen(s, klen);
    const uint8_t *val = gen_val(s, klen, vlen);
    th_assert_rc(ct_put(t, NULL, s->kbuf, klen, val, vlen, CT_APPEND), CT_OK);
    th_model_put(s->m, s->kbuf, klen, val, vlen);
    s->stats_put++;
}

static void do_del(rstate *s, ct_txn *t, int existing)
{
    size_t klen = pick_key(s, existing);
    int have = th_model_del(s->m, s->kbuf, klen);
    th_assert_rc(ct_del(t, NULL, s->kbuf, klen), have ? CT_OK : CT_NOTFOUND);
    s->stats_del++;
    if (th_chance(&s->r, 1, 4)) {
        check_get(s, t, s->kbuf, klen);
    }
}

/* A cursor inside the write txn survives a change made through the txn:
   it re-positions on the first key >= the key it was on. */
static void do_cursor_stability(rstate *s, ct_txn *t)
{
    size_t n = th_model_count(s->m);
    if (n < 2) {
        return;
    }
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    size_t rank = (size_t)th_below(&s->r, n);
    const uint8_t *k = NULL;
    size_t kl = 0;
    th_model_at(s->m, rank, &k, &kl, NULL, NULL);
    uint8_t *held = malloc(kl + 1);
    assert_non_null(held);
    memcpy(held, k, kl);
    size_t held_len = kl;
    th_assert_rc(ct_cursor_seek(c, held, held_len), CT_OK);
    /* Change: delete the cursor's key, or put another key. */
    if (th_chance(&s->r, 1, 2)) {
        th_assert_rc(ct_del(t, NULL, held, held_len), CT_OK);
        th_model_del(s->m, held, held_len);
        s->stats_del++;
    } else {
        do_put(s, t, 0);
    }
    n = th_model_count(s->m);
    size_t lb = th_model_lower_bound(s->m, held, held_len);
    const uint8_t *mv = NULL;
    size_t mvl = 0;
    int held_exists = th_model_get(s->m, held, held_len, &mv, &mvl);
    if (th_chance(&s->r, 1, 2)) {
        /* get first: on the first key >= the held key; the moves after it
           continue from there. */
        if (lb == n) {
            th_assert_rc(ct_cursor_get(c, NULL, NULL, NULL, NULL), CT_NOTFOUND);
        } else {
            expect_cursor_at(s, c, lb);
            int rc = ct_cursor_next(c);
            if (lb + 1 == n) {
                th_assert_rc(rc, CT_NOTFOUND);
            } else {
                th_assert_rc(rc, CT_OK);
                expect_cursor_at(s, c, lb + 1);
            }
        }
    } else {
        /* next first: the first key > the held key. */
        size_t want = held_exists ? lb + 1 : lb;
        int rc = ct_cursor_next(c);
        if (want == n) {
            th_assert_rc(rc, CT_NOTFOUND);
        } else {
            th_assert_rc(rc, CT_OK);
            expect_cursor_at(s, c, want);
        }
    }
    ct_cursor_close(c);
    free(held);
}

static void one_op(rstate *s, ct_txn *t)
{
    uint64_t p = th_below(&s->r, 100);
    size_t n = th_model_count(s->m);
    if (n > 5000) {
        s->grow = 0;
    }
    if (s->grow) {
        if (p < 42) {
            do_put(s, t, 0);
        } else if (p < 57) {
            do_put(s, t, 1);
        } else if (p < 67) {
            do_del(s, t, 1);
        } else if (p < 71) {
            do_del(s, t, 0);
        } else if (p < 81) {
            check_get(s, t, s->kbuf, pick_key(s, th_chance(&s->r, 1, 2)));
        } else if (p < 91) {
            do_seek(s, t);
        } else if (p < 95) {
            do_append(s, t);
        } else {
            do_cursor_stability(s, t);
        }
    } else {
        if (p < 10) {
            do_put(s, t, 0);
        } else if (p < 20) {
            do_put(s, t, 1);
        } else if (p < 62) {
            do_del(s, t, 1);
        } else if (p < 67) {
            do_del(s, t, 0);
        } else if (p < 77) {
            check_get(s, t, s->kbuf, pick_key(s, th_chance(&s->r, 1, 2)));
        } else if (p < 92) {
            do_seek(s, t);
        } else if (p < 94) {
            do_append(s, t);
        } else {
            do_cursor_stability(s, t);
        }
    }
}

static void checkpoint(rstate *s)
{
    ctx(s, "checkpoint verify");
    th_verify_db(s->e.db, NULL, s->m);
    ctx(s, "checkpoint ct_check");
    th_check_clean(s->e.db);
}

/* COWTREE_TEST_CHECKPOINT=<n>: verify and check every n txns (default 25;
   1 finds the first bad commit when replaying a seed). */
static uint64_t checkpoint_every(void)
{
    const char *v = getenv("COWTREE_TEST_CHECKPOINT");
    uint64_t n = v && *v ? strtoull(v, NULL, 10) : 25u;
    return n ? n : 25u;
}

static void run_random(const rcfg *cfg)
{
    rstate s;
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.m = th_model_new();
    th_rng_seed(&s.r, cfg->seed);
    th_env_init(&s.e, cfg->kind, cfg->page_size);
    if (cfg->durability != CT_SYNC_FULL) {
        s.e.durability = cfg->durability;
        th_env_reopen(&s.e);
    }
    s.key_max = ct_key_max(s.e.db);
    s.cell_max = ct__cell_max_bytes(cfg->page_size);
    s.kbuf = malloc(s.key_max + 1);
    assert_non_null(s.kbuf);
    s.grow = 1;
    uint64_t txns = 0;
    uint64_t next_phase = 3000;
    int drained = 0;
    while (s.op < cfg->ops) {
        ct_txn *t = NULL;
        ctx(&s, "begin");
        th_assert_rc(ct_begin(s.e.db, 0, &t), CT_OK);
        th_model_begin(s.m);
        uint64_t len = th_chance(&s.r, 1, 20) ? 1 + th_below(&s.r, 400) : 1 + th_below(&s.r, 60);
        for (uint64_t i = 0; i < len && s.op < cfg->ops; i++, s.op++) {
            ctx(&s, "op");
            one_op(&s, t);
            if (s.op >= next_phase) {
                s.grow = !s.grow;
                next_phase = s.op + 500 + th_below(&s.r, 6000);
            }
        }
        /* Once per run (half way): delete everything, so the tree collapses
           to empty, then grows again. */
        if (!drained && s.op >= cfg->ops / 2) {
            drained = 1;
            while (th_model_count(s.m) > 0) {
                ctx(&s, "drain");
                do_del(&s, t, 1);
            }
            th_verify_txn(t, NULL, s.m);
        }
        if (th_chance(&s.r, 1, 15)) {
            ctx(&s, "verify inside write txn");
            th_verify_txn(t, NULL, s.m);
        }
        if (th_chance(&s.r, 1, 10)) {
            ct_abort(t);
            th_model_rollback(s.m);
            s.stats_abort++;
        } else {
            ctx(&s, "commit");
            th_assert_rc(ct_commit(t), CT_OK);
            th_model_commit(s.m);
            s.stats_commit++;
            if (cfg->durability == CT_SYNC_NONE && th_chance(&s.r, 1, 4)) {
                th_assert_rc(ct_sync(s.e.db), CT_OK);
            }
        }
        if (th_model_count(s.m) > s.max_count) {
            s.max_count = th_model_count(s.m);
        }
        txns++;
        if (th_chance(&s.r, 1, 40)) {
            ctx(&s, "reopen");
            th_env_reopen(&s.e);
            s.stats_reopen++;
        }
        if (txns % checkpoint_every() == 0) {
            checkpoint(&s);
        }
    }
    th_env_reopen(&s.e);
    checkpoint(&s);
    struct ct_stat st;
    th_assert_rc(ct_stat(s.e.db, &st), CT_OK);
    print_message("  %-14s page %5u seed %llu: %llu ops (%llu put, %llu del, %llu get, %llu seek,"
                  " %llu overflow values), %llu commits, %llu aborts, %llu reopens, max %zu keys,"
                  " final depth %u, %llu pages\n",
                  th_store_name(cfg->kind), cfg->page_size, (unsigned long long)cfg->seed,
                  (unsigned long long)s.op, (unsigned long long)s.stats_put,
                  (unsigned long long)s.stats_del, (unsigned long long)s.stats_get,
                  (unsigned long long)s.stats_seek, (unsigned long long)s.stats_overflow,
                  (unsigned long long)s.stats_commit, (unsigned long long)s.stats_abort,
                  (unsigned long long)s.stats_reopen, s.max_count, st.depth,
                  (unsigned long long)st.pages_total);
    th_env_destroy(&s.e);
    th_model_free(s.m);
    free(s.kbuf);
    free(s.vbuf);
    th_ctx[0] = '\0';
}

static void run(th_store_kind kind, uint32_t page_size, uint64_t seed, uint64_t ops, int dur)
{
    rcfg c = {kind, page_size, th_seed(seed), th_scaled(ops), dur}; /* COWTREE_TEST_SEED replays */
    run_random(&c);
}

/* Random ops on the plain RAM store with map(): 2 seeds x 60k ops, one of
   them with CT_SYNC_NONE (and ct_sync now and then). */
static void test_random_ram(void **state)
{
    (void)state;
    run(TH_STORE_RAM, 512, 1, 60000, CT_SYNC_FULL);
    run(TH_STORE_RAM, 512, 2, 60000, CT_SYNC_NONE);
}

/* Random ops on the RAM store without map() (every read through read()). */
static void test_random_ram_nomap(void **state)
{
    (void)state;
    run(TH_STORE_RAM_NOMAP, 512, 3, 40000, CT_SYNC_FULL);
}

/* Random ops on the memory store, map() enabled and disabled. */
static void test_random_memstore(void **state)
{
    (void)state;
    run(TH_STORE_MEM, 512, 7, 40000, CT_SYNC_FULL);
    run(TH_STORE_MEM_NOMAP, 512, 8, 30000, CT_SYNC_FULL);
}

/* Random ops with 4096-byte pages: keys up to 986 bytes. */
static void test_random_ram_4k(void **state)
{
    (void)state;
    run(TH_STORE_RAM, 4096, 6, 30000, CT_SYNC_FULL);
}

/* Random ops at every other page size, 1 KiB to 64 KiB (fewer ops: the
   trees are shallower), on the RAM store. */
static void test_random_page_sizes(void **state)
{
    (void)state;
    for (uint32_t ps = 1024; ps <= 65536; ps *= 2) {
        if (ps == 4096) {
            continue;
        }
        run(TH_STORE_RAM, ps, 40u + ps / 1024u, 6000, CT_SYNC_FULL);
    }
}

/* Random ops on the file store (ct_open_path; reopen closes the file), at
   512-byte pages with CT_SYNC_FULL and 4096-byte pages with CT_SYNC_NONE. */
static void test_random_file(void **state)
{
    (void)state;
    run(TH_STORE_FILE, 512, 4, 40000, CT_SYNC_FULL);
    run(TH_STORE_FILE, 4096, 5, 20000, CT_SYNC_NONE);
}

/* ---- deterministic shapes --------------------------------------------- */

static void key_of(uint32_t i, uint8_t k[8])
{
    snprintf((char *)k, 8, "%07u", i % 10000000u);
}

static void fill_range(ct_db *db, uint32_t n, int descending, unsigned flags, th_model *m)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = descending ? n - 1 - j : j;
        uint8_t k[8];
        key_of(i, k);
        uint8_t v[40];
        th_value_fill(v, sizeof(v), i);
        th_assert_rc(ct_put(t, NULL, k, 7, v, (size_t)(i % 41), flags), CT_OK);
        th_model_put(m, k, 7, v, (size_t)(i % 41));
    }
    th_assert_rc(ct_commit(t), CT_OK);
}

/* Ascending, descending and CT_APPEND fills of 5000 keys grow the tree;
   draining ascending or descending (one commit each 100 deletes) shrinks
   it back to depth 0 and the check stays clean at every step. */
static void test_fill_and_drain_shapes(void **state)
{
    (void)state;
    for (int shape = 0; shape < 6; shape++) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, 512);
        th_model *m = th_model_new();
        int desc_fill = shape % 3 == 1;
        unsigned flags = shape % 3 == 2 ? CT_APPEND : 0u;
        fill_range(e.db, 5000, desc_fill, flags, m);
        th_check_clean(e.db);
        th_verify_db(e.db, NULL, m);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        assert_int_equal(st.entries, 5000);
        assert_true(st.depth >= 3);
        int desc_drain = shape >= 3;
        for (uint32_t base = 0; base < 5000; base += 100) {
            ct_txn *t = NULL;
            th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
            for (uint32_t j = base; j < base + 100; j++) {
                uint32_t i = desc_drain ? 4999 - j : j;
                uint8_t k[8];
                key_of(i, k);
                th_assert_rc(ct_del(t, NULL, k, 7), CT_OK);
                th_model_del(m, k, 7);
            }
            th_assert_rc(ct_commit(t), CT_OK);
            if (base % 1000 == 0) {
                th_check_clean(e.db);
                th_verify_db(e.db, NULL, m);
            }
        }
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        assert_int_equal(st.entries, 0);
        assert_int_equal(st.depth, 0);
        th_check_clean(e.db);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        ct_cursor *c = NULL;
        th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
        th_assert_rc(ct_cursor_first(c), CT_NOTFOUND);
        th_assert_rc(ct_cursor_last(c), CT_NOTFOUND);
        th_assert_rc(ct_cursor_seek(c, "", 0), CT_NOTFOUND);
        ct_abort(t);
        th_model_free(m);
        th_env_destroy(&e);
    }
}

/* Keys of length 0 and exactly ct_key_max work (put, get, seek, delete);
   ct_key_max + 1 is CT_TOOBIG for put and CT_NOTFOUND for get/del. The
   limit is 90 at 512-byte pages and 986 at 4096. */
static void test_key_length_limits(void **state)
{
    (void)state;
    const uint32_t sizes[] = {512, 4096};
    for (size_t si = 0; si < 2; si++) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, sizes[si]);
        size_t kmax = ct_key_max(e.db);
        assert_int_equal(kmax, sizes[si] == 512 ? 90 : 986);
        uint8_t *k = malloc(kmax + 1);
        assert_non_null(k);
        memset(k, 0xff, kmax + 1);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_put(t, NULL, "", 0, "empty", 5, 0), CT_OK);
        th_assert_rc(ct_put(t, NULL, NULL, 0, "null0", 5, CT_NOOVERWRITE), CT_EXISTS);
        th_assert_rc(ct_put(t, NULL, k, kmax, "max", 3, 0), CT_OK);
        th_assert_rc(ct_put(t, NULL, k, kmax + 1, "over", 4, 0), CT_TOOBIG);
        const void *v = NULL;
        size_t vl = 0;
        th_assert_rc(ct_get(t, NULL, k, kmax + 1, &v, &vl), CT_NOTFOUND);
        th_assert_rc(ct_del(t, NULL, k, kmax + 1), CT_NOTFOUND);
        th_assert_rc(ct_commit(t), CT_OK);
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        th_assert_rc(ct_get(t, NULL, "", 0, &v, &vl), CT_OK);
        assert_int_equal(vl, 5);
        assert_memory_equal(v, "empty", 5);
        th_assert_rc(ct_get(t, NULL, k, kmax, &v, &vl), CT_OK);
        assert_int_equal(vl, 3);
        ct_cursor *c = NULL;
        th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
        th_assert_rc(ct_cursor_first(c), CT_OK);
        const void *ck = NULL;
        size_t ckl = 99;
        th_assert_rc(ct_cursor_get(c, &ck, &ckl, NULL, NULL), CT_OK);
        assert_int_equal(ckl, 0);
        th_assert_rc(ct_cursor_last(c), CT_OK);
        th_assert_rc(ct_cursor_get(c, &ck, &ckl, NULL, NULL), CT_OK);
        assert_int_equal(ckl, kmax);
        assert_memory_equal(ck, k, kmax);
        th_assert_rc(ct_cursor_seek(c, k, kmax + 1), CT_NOTFOUND); /* above every key */
        th_assert_rc(ct_cursor_seek(c, "\x01", 1), CT_OK);
        th_assert_rc(ct_cursor_get(c, &ck, &ckl, NULL, NULL), CT_OK);
        assert_int_equal(ckl, kmax);
        ct_abort(t);
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_del(t, NULL, "", 0), CT_OK);
        th_assert_rc(ct_del(t, NULL, k, kmax), CT_OK);
        th_assert_rc(ct_del(t, NULL, k, kmax), CT_NOTFOUND);
        th_assert_rc(ct_commit(t), CT_OK);
        th_check_clean(e.db);
        free(k);
        th_env_destroy(&e);
    }
}

/* A write txn sees its own uncommitted changes; a read txn begun before
   its commit does not; an aborted txn leaves nothing behind. */
static void test_txn_visibility(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_put1(e.db, "a", 1, "1", 1);
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "a", 1, "2", 1, 0), CT_OK);
    th_assert_rc(ct_put(w, NULL, "b", 1, "3", 1, 0), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(w, NULL, "a", 1, &v, &vl), CT_OK);
    assert_memory_equal(v, "2", 1);
    th_assert_rc(ct_get(r, NULL, "a", 1, &v, &vl), CT_OK);
    assert_memory_equal(v, "1", 1);
    th_assert_rc(ct_get(r, NULL, "b", 1, &v, &vl), CT_NOTFOUND);
    ct_abort(w);
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_assert_rc(ct_get(w, NULL, "b", 1, &v, &vl), CT_NOTFOUND);
    th_assert_rc(ct_get(w, NULL, "a", 1, &v, &vl), CT_OK);
    assert_memory_equal(v, "1", 1);
    th_assert_rc(ct_del(w, NULL, "a", 1), CT_OK);
    th_assert_rc(ct_commit(w), CT_OK);
    th_assert_rc(ct_get(r, NULL, "a", 1, &v, &vl), CT_OK);
    assert_memory_equal(v, "1", 1);
    ct_abort(r);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    th_assert_rc(ct_get(r, NULL, "a", 1, &v, &vl), CT_NOTFOUND);
    ct_abort(r);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

static void expect_key(ct_cursor *c, const char *want)
{
    const void *k = NULL;
    size_t kl = 0;
    int rc = ct_cursor_get(c, &k, &kl, NULL, NULL);
    if (!want) {
        th_assert_rc(rc, CT_NOTFOUND);
        return;
    }
    th_assert_rc(rc, CT_OK);
    if (kl != strlen(want) || memcmp(k, want, kl) != 0) {
        th_print_ctx();
        print_error("cursor on \"%.*s\", expected \"%s\"\n", (int)kl, (const char *)k, want);
    }
    assert_int_equal(kl, strlen(want));
    assert_memory_equal(k, want, kl);
}

/* One write txn over keys a..f and a cursor seeked to `at`; `change`
   writes through the txn; then each call of `moves` (g=get, n=next,
   p=prev) must land on the next expected key (NULL = CT_NOTFOUND). */
static void cursor_case(const char *at, void (*change)(ct_txn *t), const char *moves,
                        const char *const *expect)
{
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    for (size_t i = 0; i < 6; i++) {
        th_assert_rc(ct_put(t, NULL, keys[i], 1, "v", 1, 0), CT_OK);
    }
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    th_assert_rc(ct_cursor_seek(c, at, strlen(at)), CT_OK);
    change(t);
    for (size_t i = 0; moves[i]; i++) {
        th_set_ctx("seek %s, change, moves \"%s\": step %zu", at, moves, i);
        int rc = CT_OK;
        if (moves[i] == 'n') {
            rc = ct_cursor_next(c);
        } else if (moves[i] == 'p') {
            rc = ct_cursor_prev(c);
        }
        if (!expect[i]) {
            if (moves[i] == 'g') {
                expect_key(c, NULL);
            } else {
                th_assert_rc(rc, CT_NOTFOUND);
            }
            continue;
        }
        th_assert_rc(rc, CT_OK);
        expect_key(c, expect[i]);
    }
    ct_abort(t);
    th_env_destroy(&e);
    th_ctx[0] = '\0';
}

static void put_x(ct_txn *t)
{
    th_assert_rc(ct_put(t, NULL, "x", 1, "v", 1, 0), CT_OK);
}

static void put_bb(ct_txn *t)
{
    th_assert_rc(ct_put(t, NULL, "bb", 2, "v", 1, 0), CT_OK);
}

static void del_b(ct_txn *t)
{
    th_assert_rc(ct_del(t, NULL, "b", 1), CT_OK);
}

static void del_f(ct_txn *t)
{
    th_assert_rc(ct_del(t, NULL, "f", 1), CT_OK);
}

/* A cursor in a write txn stays valid across puts and deletes through the
   txn (API: re-positioned on the first key >= the key it was on), whether
   the next call is a get, a next or a prev, and a get does not lose the
   position for the moves after it. */
static void test_cursor_stable_across_writes(void **state)
{
    (void)state;
    /* Put elsewhere, then move directly. */
    cursor_case("b", put_x, "nn", (const char *const[]){"c", "d"});
    cursor_case("c", put_bb, "p", (const char *const[]){"bb"});
    /* Delete the cursor's key, then move directly. */
    cursor_case("b", del_b, "n", (const char *const[]){"c"});
    cursor_case("b", del_b, "p", (const char *const[]){"a"});
    cursor_case("f", del_f, "p", (const char *const[]){"e"});
    /* Get after the change, then move: the get must keep the position. */
    cursor_case("b", put_x, "gnn", (const char *const[]){"b", "c", "d"});
    cursor_case("c", put_x, "gp", (const char *const[]){"c", "b"});
    cursor_case("b", del_b, "gn", (const char *const[]){"c", "d"});
    cursor_case("b", del_b, "gp", (const char *const[]){"c", "a"});
    cursor_case("f", del_f, "g", (const char *const[]){NULL});
}

/* CT_APPEND bulk loads fill left pages and start right ones nearly empty;
   deleting the newest keys afterwards must still leave a legal tree (no
   empty non-root page), a working cursor and a clean check. 512-byte pages,
   90-byte keys (the limit) so branches split after a few keys; n = 1..120. */
static void test_append_then_delete_tail(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 120; n++) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, 512);
        th_model *m = th_model_new();
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        uint8_t k[90];
        for (uint32_t i = 0; i < n; i++) {
            memset(k, 'k', sizeof(k));
            k[0] = (uint8_t)(i >> 8);
            k[1] = (uint8_t)i;
            th_assert_rc(ct_put(t, NULL, k, sizeof(k), "v", 1, CT_APPEND), CT_OK);
            th_model_put(m, k, sizeof(k), "v", 1);
        }
        th_assert_rc(ct_commit(t), CT_OK);
        th_set_ctx("CT_APPEND of %u 90-byte keys, then delete the last one", n);
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        k[0] = (uint8_t)((n - 1) >> 8);
        k[1] = (uint8_t)(n - 1);
        th_assert_rc(ct_del(t, NULL, k, sizeof(k)), CT_OK);
        th_model_del(m, k, sizeof(k));
        th_assert_rc(ct_commit(t), CT_OK);
        th_verify_db(e.db, NULL, m);
        th_check_clean(e.db);
        th_model_free(m);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

typedef struct append_fill {
    uint64_t leaves;
    uint64_t short_leaves; /* off the right spine, with room for another cell */
    uint32_t cell_bytes;
} append_fill;

static void note_append_fill(const th_page_info *pi, void *ctx)
{
    append_fill *f = ctx;
    if (!pi->leaf || pi->rightmost) {
        return;
    }
    f->leaves++;
    f->short_leaves += ct__node_used_bytes(pi->page) + f->cell_bytes <= 512u - CT_PAGE_HDR_BYTES;
}

/* CT_APPEND fills every leaf off the right spine completely (the right
   spine is exempt from the fill bound, as with LMDB's MDB_APPEND); then
   deleting everything from the right end, one key per txn, empties the
   single-child right-spine branches that leaves behind and ends with an
   empty tree, with ct_check clean throughout. */
static void test_append_fills_pages(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_model *m = th_model_new();
    const uint32_t n = 3000;
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    uint8_t k[16];
    for (uint32_t i = 0; i < n; i++) {
        snprintf((char *)k, sizeof(k), "key%012u", i);
        th_assert_rc(ct_put(t, NULL, k, 15, "value-20-bytes-long!", 20, CT_APPEND), CT_OK);
        th_model_put(m, k, 15, "value-20-bytes-long!", 20);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    th_check_clean(e.db);
    append_fill f = {0, 0, ct__leaf_cell_size(15, 20, 0) + CT_SLOT_BYTES};
    th_walk_tree(e.db, NULL, note_append_fill, &f);
    print_message("  CT_APPEND of %u keys: %llu leaves off the right spine, %llu with room "
                  "for another cell\n",
                  n, (unsigned long long)f.leaves, (unsigned long long)f.short_leaves);
    th_assert_true(f.leaves > 100);
    th_assert_true(f.short_leaves == 0);
    for (uint32_t i = n; i-- > 0;) {
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        snprintf((char *)k, sizeof(k), "key%012u", i);
        th_assert_rc(ct_del(t, NULL, k, 15), CT_OK);
        th_model_del(m, k, 15);
        th_assert_rc(ct_commit(t), CT_OK);
        if (i % 97 == 0) {
            th_set_ctx("deleting from the right end: %u keys left", i);
            th_verify_db(e.db, NULL, m);
            th_check_clean(e.db);
        }
    }
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    th_assert_true(st.entries == 0 && st.depth == 0);
    th_ctx[0] = '\0';
    th_model_free(m);
    th_env_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_length_limits),
        cmocka_unit_test(test_txn_visibility),
        cmocka_unit_test(test_cursor_stable_across_writes),
        cmocka_unit_test(test_append_then_delete_tail),
        cmocka_unit_test(test_append_fills_pages),
        cmocka_unit_test(test_fill_and_drain_shapes),
        cmocka_unit_test(test_random_ram),
        cmocka_unit_test(test_random_ram_nomap),
        cmocka_unit_test(test_random_ram_4k),
        cmocka_unit_test(test_random_memstore),
        cmocka_unit_test(test_random_page_sizes),
        cmocka_unit_test(test_random_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
