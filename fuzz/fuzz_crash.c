/*
 * fuzz_crash.c - libFuzzer target: a workload on the memory store with
 * faults, a power cut at a chosen I/O op and a chosen crash outcome; after
 * the crash and a fault-free reopen the database must hold an allowed
 * commit, check clean, and accept one more commit.
 *
 * Allowed states (a small oracle of its own, in the spirit of sim/):
 *   CT_SYNC_FULL: the last acknowledged commit, or any commit attempted
 *                 after it (in flight at the cut, or failed: a failed sync
 *                 may still have persisted it);
 *   CT_SYNC_NONE: any commit from the last successful ct_sync up to the
 *                 last acknowledged one, or an attempt after it.
 * Faults used never damage acknowledged data (write/sync/read errors,
 * CT_NOSPACE, countdown failures), so no other state is acceptable. During
 * the workload every call returns CT_OK, the expected CT_NOTFOUND/CT_EXISTS,
 * or CT_IO/CT_NOSPACE/CT_POISONED (the txn is then aborted); never
 * CT_CORRUPT.
 *
 * Input format (zeros past the end, see fuzz_common.h):
 *   byte 0    bits 0-1 page size page_sizes[n]; bit 2 no map; bit 3
 *             CT_SYNC_NONE; bits 4-7 faults on: write error, sync error,
 *             read error, nospace
 *   byte 1    fault rate: 1 in (2 + byte)
 *   byte 2    countdown: 0 none, else op kind (bits 0-1) fails at the
 *             (1 + (byte >> 2))th op of that kind
 *   u16       power cut: I/O ops after the initial open (>= 0xf000: none)
 *   byte      crash mode (% 6, ct_crash_mode), u64 mask, byte index, u32 seed
 *   txns      header byte: op count (bits 0-3) + 1; end (bits 4-5): commit,
 *             abort, commit then ct_sync, commit; then per op: kind byte
 *             (bits 0-1 put, del, bucket toggle, put run; bits 2-7 key
 *             index), value byte (put, put run)
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree/memstore.h"
#include "fuzz_common.h"
#include "fuzz_model.h"

#define TXNS_MAX 48u
#define STATES_MAX (TXNS_MAX + 2u)
#define BUCKET_NAME "nb"

static const size_t value_lengths[8] = {0, 5, 30, 100, 300, 1500, 5000, 20000};

typedef struct state {
    fz_map m[2]; /* default bucket, bucket "nb" */
    int nb_exists;
} state;

typedef struct run {
    ct_pagestore *ps;
    ct_db *db;
    ct_options opt;
    state st[STATES_MAX]; /* st[0] empty; one per commit attempt after */
    int acked[STATES_MAX]; /* 1: the commit returned CT_OK */
    unsigned count;        /* states used */
    unsigned acked_last;   /* index of the last acknowledged state */
    unsigned floor;        /* SYNC_NONE: index of the last synced state */
    state work;
    int stop; /* power out or poisoned: nothing more can commit */
    uint8_t *vbuf;
} run;

static void state_copy(state *dst, const state *src)
{
    fz_map_copy(&dst->m[0], &src->m[0]);
    fz_map_copy(&dst->m[1], &src->m[1]);
    dst->nb_exists = src->nb_exists;
}

static void state_free(state *s)
{
    fz_map_free(&s->m[0]);
    fz_map_free(&s->m[1]);
}

static size_t make_key(unsigned idx, uint8_t *k)
{
    size_t len = 2 + (size_t)(idx % 4u) * 20u;
    memset(k, (int)('a' + idx % 26u), len);
    k[0] = 'c';
    k[1] = (uint8_t)idx;
    return len;
}

/* An error a fault can cause: the txn cannot go on. Anything else aborts. */
static int fault_rc(run *r, int rc)
{
    FZ_CHECK(rc == CT_IO || rc == CT_NOSPACE || rc == CT_POISONED,
             "unexpected %s during the workload", ct_errname(rc));
    ct_memstore_info info;
    if (ct_memstore_get_info(r->ps, &info) == CT_OK && info.power_out) {
        r->stop = 1;
    }
    return rc;
}

static int do_put(run *r, ct_txn *t, ct_bucket *b, unsigned m, unsigned idx, uint8_t vsel)
{
    uint8_t k[2 + 3 * 20];
    size_t klen = make_key(idx, k);
    size_t vlen = value_lengths[vsel & 7u];
    uint32_t seed = (uint32_t)vsel * 977u + idx;
    fz_val_fill(r->vbuf, vlen, seed);
    int rc = ct_put(t, b, k, klen, r->vbuf, vlen, 0);
    if (rc != CT_OK) {
        return fault_rc(r, rc);
    }
    fz_map_put(&r->work.m[m], k, klen, vlen, seed);
    return CT_OK;
}

static int do_del(run *r, ct_txn *t, ct_bucket *b, unsigned m, unsigned idx)
{
    uint8_t k[2 + 3 * 20];
    size_t klen = make_key(idx, k);
    int rc = ct_del(t, b, k, klen);
    int had = fz_map_del(&r->work.m[m], k, klen);
    if (rc == CT_OK || rc == CT_NOTFOUND) {
        FZ_RC(rc, had ? CT_OK : CT_NOTFOUND);
        return CT_OK;
    }
    return fault_rc(r, rc);
}

static int toggle_bucket(run *r, ct_txn *t, ct_bucket **nb)
{
    int rc = CT_OK;
    if (r->work.nb_exists) {
        rc = ct_bucket_drop(t, BUCKET_NAME);
        *nb = NULL;
    } else {
        rc = ct_bucket_open(t, BUCKET_NAME, CT_CREATE | CT_EXCL, nb);
    }
    if (rc != CT_OK) {
        return fault_rc(r, rc);
    }
    r->work.nb_exists = !r->work.nb_exists;
    fz_map_clear(&r->work.m[1]);
    return CT_OK;
}

/* One op of a txn: CT_OK, or a fault's error (the txn must be aborted). */
static int txn_op(run *r, fz_in *in, ct_txn *t, ct_bucket **nb)
{
    uint8_t op = fz_u8(in);
    unsigned idx = op >> 2;
    unsigned m = (idx & 1u) && r->work.nb_exists ? 1u : 0u;
    ct_bucket *b = m ? *nb : NULL;
    if (m && !b) {
        int rc = ct_bucket_open(t, BUCKET_NAME, 0, nb);
        if (rc != CT_OK) {
            return fault_rc(r, rc);
        }
        b = *nb;
    }
    switch (op & 3u) {
    case 0:
        return do_put(r, t, b, m, idx, fz_u8(in));
    case 1:
        return do_del(r, t, b, m, idx);
    case 2:
        return toggle_bucket(r, t, nb);
    default: {
        uint8_t v = fz_u8(in);
        for (unsigned i = 0; i < 8u; i++) {
            int rc = do_put(r, t, b, m, (idx * 7u + i * 13u) & 63u, v);
            if (rc != CT_OK) {
                return rc;
            }
        }
        return CT_OK;
    }
    }
}

/* Records a commit attempt's outcome. */
static void commit_done(run *r, int rc)
{
    FZ_CHECK(r->count < STATES_MAX, "too many states");
    if (rc == CT_OK) {
        state_copy(&r->st[r->count], &r->work);
        r->acked[r->count] = 1;
        r->acked_last = r->count;
        if (r->opt.durability == CT_SYNC_FULL) {
            r->floor = r->count;
        }
        r->count++;
        return;
    }
    (void)fault_rc(r, rc);
    state_copy(&r->st[r->count], &r->work);
    r->acked[r->count] = 0;
    r->count++;
    if (rc == CT_POISONED || rc == CT_IO) {
        /* A failed sync poisons the handle: nothing can commit after it. */
        ct_txn *t = NULL;
        int brc = ct_begin(r->db, 0, &t);
        if (brc == CT_OK) {
            ct_abort(t);
        } else {
            r->stop = 1;
        }
    }
}

static void one_txn(run *r, fz_in *in)
{
    uint8_t h = fz_u8(in);
    unsigned ops = 1u + (h & 15u);
    unsigned end = (h >> 4) & 3u;
    ct_txn *t = NULL;
    int rc = ct_begin(r->db, 0, &t);
    if (rc != CT_OK) {
        (void)fault_rc(r, rc);
        r->stop = 1;
        return;
    }
    state_copy(&r->work, &r->st[r->acked_last]);
    ct_bucket *nb = NULL;
    for (unsigned i = 0; i < ops && rc == CT_OK; i++) {
        rc = txn_op(r, in, t, &nb);
    }
    if (rc != CT_OK || end == 1) {
        ct_abort(t);
        return;
    }
    commit_done(r, ct_commit(t));
    if (end == 2 && r->opt.durability == CT_SYNC_NONE && !r->stop) {
        rc = ct_sync(r->db);
        if (rc == CT_OK) {
            r->floor = r->acked_last;
        } else {
            (void)fault_rc(r, rc);
            r->stop = 1;
        }
    }
}

/* 0 when the database's content is state s; 1 different; <0 a CT_* code. */
static int matches(ct_txn *t, const state *s)
{
    const char *why = "";
    int d = fz_map_compare(t, NULL, &s->m[0], FZ_CMP_VALUES, &why);
    if (d != 0) {
        return d;
    }
    ct_bucket *nb = NULL;
    int rc = ct_bucket_open(t, BUCKET_NAME, 0, &nb);
    if (rc == CT_NOTFOUND) {
        return s->nb_exists ? 1 : 0;
    }
    if (rc != CT_OK) {
        return rc;
    }
    if (!s->nb_exists) {
        return 1;
    }
    return fz_map_compare(t, nb, &s->m[1], FZ_CMP_VALUES, &why);
}

static void check_clean(ct_db *db)
{
    ct_check_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = ct_check(db, &rep);
    FZ_CHECK(rc == CT_OK && rep.problems == 0, "ct_check: %s, first problem at page %llu: %s",
             ct_errname(rc), (unsigned long long)rep.first_problem_pgno, rep.first_problem);
}

/* After the crash: reopen without faults, find the state, check, commit. */
static void judge(run *r)
{
    ct_options o;
    ct_options_init(&o);
    ct_db *db = NULL;
    FZ_RC(ct_open(r->ps, &o, &db), CT_OK);
    ct_txn *t = NULL;
    FZ_RC(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    int found = -1;
    for (unsigned i = r->floor; i < r->count && found < 0; i++) {
        if (i <= r->acked_last && !r->acked[i]) {
            continue; /* an attempt that failed before a later acknowledged commit */
        }
        int d = matches(t, &r->st[i]);
        FZ_CHECK(d >= 0, "reading the recovered database: %s", ct_errname(d));
        if (d == 0) {
            found = (int)i;
        }
    }
    ct_abort(t);
    FZ_CHECK(found >= 0,
             "recovered state is none of the allowed ones (floor %u, acked %u, attempts %u)",
             r->floor, r->acked_last, r->count);
    check_clean(db);
    FZ_RC(ct_begin(db, 0, &t), CT_OK);
    FZ_RC(ct_put(t, NULL, "after", 5, "crash", 5, 0), CT_OK);
    FZ_RC(ct_commit(t), CT_OK);
    check_clean(db);
    ct_close(db);
}

static void set_faults(run *r, fz_in *in, uint8_t cfg)
{
    uint8_t rate = fz_u8(in);
    uint8_t cd = fz_u8(in);
    ct_ratio q = {1u, 2u + rate};
    ct_memstore_faults f;
    memset(&f, 0, sizeof(f));
    if (cfg & 0x10u) {
        f.write_error = q;
    }
    if (cfg & 0x20u) {
        f.sync_error = q;
    }
    if (cfg & 0x40u) {
        f.read_error = q;
    }
    if (cfg & 0x80u) {
        f.nospace = q;
    }
    FZ_RC(ct_memstore_set_faults(r->ps, &f, 0x5eedu + rate), CT_OK);
    if (cd != 0) {
        FZ_RC(ct_memstore_fail_nth(r->ps, (ct_memstore_op_kind)(cd & 3u),
                                        1u + (cd >> 2u), 0), CT_OK);
    }
}

/* The smallest, a small, the common and a large page size (a
   meta page of several sectors can tear; one of 512 bytes cannot). */
static const uint32_t page_sizes[4] = {512, 1024, 4096, 16384};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t cfg = fz_u8(&in);
    run *r = calloc(1, sizeof(*r));
    FZ_CHECK(r != NULL, "out of memory");
    r->vbuf = malloc(value_lengths[7]);
    FZ_CHECK(r->vbuf != NULL, "out of memory");
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_sizes[cfg & 3u];
    mo.enable_map = !(cfg & 4u);
    mo.seed = cfg;
    FZ_RC(ct_memstore_create(&mo, &r->ps), CT_OK);
    ct_options_init(&r->opt);
    r->opt.durability = (cfg & 8u) ? CT_SYNC_NONE : CT_SYNC_FULL;
    r->opt.cache_pages = 16;
    FZ_RC(ct_open(r->ps, &r->opt, &r->db), CT_OK);
    r->acked[0] = 1;
    r->count = 1;
    set_faults(r, &in, cfg);
    uint16_t cut = fz_u16(&in);
    ct_crash_outcome co;
    memset(&co, 0, sizeof(co));
    co.mode = (ct_crash_mode)(fz_u8(&in) % 6u);
    co.mask = fz_u64(&in);
    co.index = fz_u8(&in);
    co.seed = fz_u32(&in);
    ct_memstore_info info;
    FZ_RC(ct_memstore_get_info(r->ps, &info), CT_OK);
    FZ_RC(ct_memstore_set_power_cut(r->ps, cut >= 0xf000u ? UINT64_MAX : info.ops + cut), CT_OK);
    for (unsigned i = 0; i < TXNS_MAX && !fz_empty(&in) && !r->stop; i++) {
        one_txn(r, &in);
    }
    ct_close(r->db);
    FZ_RC(ct_memstore_get_info(r->ps, &info), CT_OK);
    if ((co.mode == CT_CRASH_OMIT_ONE || co.mode == CT_CRASH_TEAR_ONE) &&
        co.index >= info.pending) {
        co.mode = CT_CRASH_DROP_ALL; /* no such entry: CT_INVALID otherwise */
    }
    FZ_RC(ct_memstore_crash(r->ps, &co), CT_OK);
    FZ_RC(ct_memstore_set_faults(r->ps, NULL, 0), CT_OK);
    FZ_RC(ct_memstore_clear_countdowns(r->ps), CT_OK);
    judge(r);
    r->ps->ops->close(r->ps);
    for (unsigned i = 0; i < r->count; i++) {
        state_free(&r->st[i]);
    }
    state_free(&r->work);
    free(r->vbuf);
    free(r);
    return 0;
}
