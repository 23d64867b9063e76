/*
 * exec.c - the executor: runs a workload's ops against an engine handle
 * and the model side by side, judging every result.
 *
 * Owns: the world's model bookkeeping (history, acked, floor, in-flight)
 * and the rules of what each engine call may return. Invariants: `work` is
 * the model of the open write txn; every reader slot holds the frozen
 * state it must see; hist[acked] is what a new reader sees. Errors from
 * the store or the allocator are legal only when the world is tolerant
 * (faults or a power cut are in play); CT_CORRUPT only when lenient. Must
 * never: judge a result against anything but the model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

void sim_world_init(sim_world *w, const sim_config *cfg, const sim_workload *wl,
                    ct_pagestore *ps, sim_alloc *alloc)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->w = wl;
    w->ps = ps;
    w->alloc = alloc;
    w->trace = 0x74726163653a3030ull;
    w->failed_writes_mark = sim_failed_writes(ps); /* (a restored store has its counts) */
}

void sim_world_set_base(sim_world *w, sim_state *s)
{
    sim_hist_free(&w->hist);
    w->acked = sim_hist_push(&w->hist, s);
    w->floor = w->acked;
    w->n_inflight = 0;
}

void sim_world_set_history(sim_world *w, const sim_hist *h, size_t upto)
{
    sim_hist_free(&w->hist);
    for (size_t i = 0; i <= upto && i < h->count; i++) {
        sim_hist_push(&w->hist, h->v[i]);
    }
    w->acked = w->hist.count - 1;
    w->floor = w->acked;
    w->n_inflight = 0;
}

void sim_world_free(sim_world *w)
{
    sim_world_close(w);
    sim_hist_free(&w->hist);
    free(w->vbuf);
    w->vbuf = NULL;
}

void sim_world_trace(sim_world *w, uint64_t v)
{
    w->trace = prng_hash_u64(w->trace, v);
}

sim_run_result sim_world_failf(sim_world *w, size_t op, const char *fmt, ...)
{
    if (w->failed) {
        return SIM_RUN_FAILED;
    }
    w->failed = 1;
    w->fail_op = op == SIM_NOOP ? w->cur_op : op;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
    return SIM_RUN_FAILED;
}

ct_options sim_world_options(const sim_world *w)
{
    ct_options o;
    ct_options_init(&o);
    o.durability = w->cfg->durability;
    o.cache_pages = w->cfg->cache_pages;
    o.autosync_pages = w->cfg->autosync_pages;
    o.alloc = w->alloc ? &w->alloc->a : NULL;
    return o;
}

int sim_world_open(sim_world *w)
{
    ct_options o = sim_world_options(w);
    int rc = ct_open(w->ps, &o, &w->db);
    if (rc == CT_OK) {
        w->key_max = ct_key_max(w->db);
        w->dead = 0;
    }
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    return rc;
}

static void reader_end(sim_world *w, int slot, int use_commit)
{
    sim_reader *r = &w->rd[slot];
    if (r->t) {
        if (use_commit) {
            (void)ct_commit(r->t);
        } else {
            ct_abort(r->t);
        }
    }
    sim_state_unref(r->st);
    r->t = NULL;
    r->st = NULL;
}

static void txn_reset(sim_world *w)
{
    w->wtxn = NULL;
    w->txn_open = 0;
    w->txn_doomed = 0;
    sim_state_unref(w->work);
    w->work = NULL;
    memset(w->bh, 0, sizeof(w->bh));
}

void sim_world_close(sim_world *w)
{
    for (int i = 0; i < SIM_READERS; i++) {
        reader_end(w, i, 0);
    }
    if (w->wtxn) {
        ct_abort(w->wtxn);
    }
    txn_reset(w);
    if (w->db) {
        ct_close(w->db);
        w->db = NULL;
        /* No engine holds map() pointers now: let the store free them. */
        (void)ct_memstore_unmap_all(w->ps);
    }
}

uint64_t sim_failed_syncs(ct_pagestore *ps)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    return info.countdown_failures[CT_MEMSTORE_OP_SYNC] +
           info.faults_injected[CT_MEMSTORE_FAULT_SYNC_ERROR];
}

uint64_t sim_failed_writes(ct_pagestore *ps)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    return info.countdown_failures[CT_MEMSTORE_OP_WRITE] +
           info.faults_injected[CT_MEMSTORE_FAULT_WRITE_ERROR] +
           info.faults_injected[CT_MEMSTORE_FAULT_NOSPACE];
}

void sim_world_crash(sim_world *w, const ct_crash_outcome *o)
{
    (void)ct_memstore_crash(w->ps, o);
    w->judge_lenient = w->durable_unknown;
    w->durable_unknown = 0;
    w->after_crash = 1;
    w->failed_syncs_mark = sim_failed_syncs(w->ps);
    w->failed_writes_mark = sim_failed_writes(w->ps);
}

void sim_world_rebase(sim_world *w, size_t m)
{
    if (m != w->acked) {
        m = sim_hist_push(&w->hist, w->hist.v[m]);
    }
    w->acked = m;
    w->floor = m;
    w->n_inflight = 0;
}

/* ---- judging results -------------------------------------------------- */

int sim_world_legal(const sim_world *w, int rc)
{
    if (rc == CT_IO || rc == CT_NOSPACE || rc == CT_POISONED || rc == CT_NOMEM) {
        return w->tolerant;
    }
    return rc == CT_CORRUPT && w->lenient;
}

static int is_store_failure(int rc)
{
    return rc == CT_IO || rc == CT_NOSPACE || rc == CT_POISONED;
}

/* An unexpected rc: legal error (the txn is doomed) or a failure. */
static sim_run_result bad_rc(sim_world *w, size_t i, const char *call, int rc, int want)
{
    if (rc != want && rc != CT_OK && sim_world_legal(w, rc)) {
        w->store_errors++;
        if (w->cfg->verbose) {
            fprintf(stderr, "  op %zu: %s returned %s (legal here)\n", i, call, ct_errname(rc));
        }
        w->txn_doomed = 1;
        if (w->stop_on_io && is_store_failure(rc)) {
            return SIM_RUN_STOPPED;
        }
        return SIM_RUN_DONE;
    }
    return sim_world_failf(w, i, "%s returned %s, expected %s", call, ct_errname(rc),
                           ct_errname(want));
}

static const uint8_t *value_of(sim_world *w, const sim_op *op)
{
    if (op->vlen > w->vbuf_cap) {
        w->vbuf_cap = op->vlen;
        w->vbuf = sim_xrealloc(w->vbuf, w->vbuf_cap);
    }
    prng_fill_value(op->vseed, w->vbuf, op->vlen);
    return w->vbuf;
}

static int same_entry(const sim_entry *e, const void *k, size_t klen, const void *v, size_t vlen)
{
    return sim_key_cmp(e->key, e->klen, k, klen) == 0 && e->vlen == vlen &&
           prng_hash_bytes(v, vlen, 0) == e->vhash;
}

/* Handle of bucket b in the write txn: 0 ok, 1 absent (op skipped). */
static int wbucket(sim_world *w, size_t i, int b, ct_bucket **h, sim_run_result *res)
{
    *h = NULL;
    *res = SIM_RUN_DONE;
    if (b == 0) {
        return 0;
    }
    if (w->bh[b]) {
        *h = w->bh[b];
        return 0;
    }
    int rc = ct_bucket_open(w->wtxn, sim_bucket_name(b), 0, h);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    int present = w->work->b[b].present;
    if (rc == CT_OK && present) {
        w->bh[b] = *h;
        return 0;
    }
    if (rc == CT_NOTFOUND && !present) {
        return 1;
    }
    *res = bad_rc(w, i, "ct_bucket_open", rc, present ? CT_OK : CT_NOTFOUND);
    return 1;
}

/* ---- write-txn ops -------------------------------------------------------- */

static sim_run_result op_begin(sim_world *w, size_t i)
{
    int rc = ct_begin(w->db, 0, &w->wtxn);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    w->txn_open = 1;
    w->work = sim_state_copy(w->hist.v[w->acked]);
    if (rc != CT_OK) {
        w->wtxn = NULL;
        return bad_rc(w, i, "ct_begin", rc, CT_OK);
    }
    return SIM_RUN_DONE;
}

static sim_run_result op_put(sim_world *w, size_t i, const sim_op *op)
{
    ct_bucket *h = NULL;
    sim_run_result res = SIM_RUN_DONE;
    if (wbucket(w, i, op->b, &h, &res)) {
        return res;
    }
    int want = CT_OK;
    const sim_bmap *m = &w->work->b[op->b];
    if (op->klen > w->key_max) {
        want = CT_TOOBIG;
    } else if (sim_put_refused(m, op)) {
        want = CT_EXISTS;
    }
    unsigned flags = op->arg == SIM_PUT_NOOVERWRITE ? CT_NOOVERWRITE
                     : op->arg == SIM_PUT_APPEND    ? CT_APPEND
                                                    : 0u;
    int rc = ct_put(w->wtxn, h, op->key, op->klen, value_of(w, op), op->vlen, flags);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    if (rc != want) {
        return bad_rc(w, i, "ct_put", rc, want);
    }
    if (rc == CT_OK) {
        sim_entry e = {op->key, op->klen, op->vlen, op->vseed, op->vhash};
        sim_state_put(w->work, op->b, &e);
    }
    return SIM_RUN_DONE;
}

static sim_run_result op_del(sim_world *w, size_t i, const sim_op *op)
{
    ct_bucket *h = NULL;
    sim_run_result res = SIM_RUN_DONE;
    if (wbucket(w, i, op->b, &h, &res)) {
        return res;
    }
    int present = sim_bmap_get(&w->work->b[op->b], op->key, op->klen) != NULL;
    int want = present ? CT_OK : CT_NOTFOUND;
    int rc = ct_del(w->wtxn, h, op->key, op->klen);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    if (rc != want) {
        return bad_rc(w, i, "ct_del", rc, want);
    }
    if (rc == CT_OK) {
        sim_state_del(w->work, op->b, op->key, op->klen);
    }
    return SIM_RUN_DONE;
}

/* Deletes [key, key2) walking a cursor; the keys seen must be the model's. */
static sim_run_result op_range(sim_world *w, size_t i, const sim_op *op)
{
    ct_bucket *h = NULL;
    sim_run_result res = SIM_RUN_DONE;
    if (wbucket(w, i, op->b, &h, &res)) {
        return res;
    }
    ct_cursor *c = NULL;
    int rc = ct_cursor_open(w->wtxn, h, &c);
    if (rc != CT_OK) {
        return bad_rc(w, i, "ct_cursor_open", rc, CT_OK);
    }
    uint8_t kbuf[CT_PAGE_SIZE_MAX / 4 + 8];
    rc = ct_cursor_seek(c, op->key, op->klen);
    size_t guard_max = w->work->b[op->b].count;
    for (size_t guard = 0; rc == CT_OK; guard++) {
        const sim_bmap *m = &w->work->b[op->b];
        size_t at = sim_bmap_lower(m, op->key, op->klen, NULL);
        const void *k = NULL;
        const void *v = NULL;
        size_t klen = 0;
        size_t vlen = 0;
        rc = ct_cursor_get(c, &k, &klen, &v, &vlen);
        if (rc != CT_OK) {
            break;
        }
        if (!(op->arg & 1) && sim_key_cmp(k, klen, op->key2, op->k2len) >= 0) {
            rc = CT_NOTFOUND;
            break;
        }
        if (at >= m->count || !same_entry(&m->v[at], k, klen, v, vlen) || guard > guard_max) {
            ct_cursor_close(c);
            return sim_world_failf(w, i, "range-del: cursor entry %zu differs from the model",
                                   guard);
        }
        memcpy(kbuf, k, klen);
        rc = ct_del(w->wtxn, h, kbuf, klen);
        sim_world_trace(w, (uint64_t)(int64_t)rc);
        if (rc != CT_OK) {
            ct_cursor_close(c);
            return bad_rc(w, i, "ct_del (range)", rc, CT_OK);
        }
        sim_state_del(w->work, op->b, kbuf, klen);
        /* The cursor now sits on the next key (API.md); or re-seek. */
        rc = (op->arg & 2) ? CT_OK : ct_cursor_seek(c, kbuf, klen);
    }
    ct_cursor_close(c);
    if (rc != CT_NOTFOUND) {
        return bad_rc(w, i, "range-del cursor", rc, CT_NOTFOUND);
    }
    /* Nothing in [key, key2) may remain in the model either. */
    const sim_bmap *m = &w->work->b[op->b];
    size_t at = sim_bmap_lower(m, op->key, op->klen, NULL);
    if (at < m->count &&
        ((op->arg & 1) || sim_key_cmp(m->v[at].key, m->v[at].klen, op->key2, op->k2len) < 0)) {
        char a[64], b2[64], c2[64];
        sim_hex(op->key, op->klen, a, sizeof(a));
        sim_hex(op->key2, op->k2len, b2, sizeof(b2));
        sim_hex(m->v[at].key, m->v[at].klen, c2, sizeof(c2));
        return sim_world_failf(w, i, "range-del [%s, %s%s): the cursor missed model entry %s",
                               a, (op->arg & 1) ? "end" : "", b2, c2);
    }
    return SIM_RUN_DONE;
}

static sim_run_result op_bucket(sim_world *w, size_t i, const sim_op *op)
{
    int present = w->work->b[op->b].present;
    const char *name = sim_bucket_name(op->b);
    if (op->kind == SIM_OP_BDROP) {
        int want = present ? CT_OK : CT_NOTFOUND;
        int rc = ct_bucket_drop(w->wtxn, name);
        sim_world_trace(w, (uint64_t)(int64_t)rc);
        w->bh[op->b] = NULL;
        if (rc != want) {
            return bad_rc(w, i, "ct_bucket_drop", rc, want);
        }
        sim_state_drop(w->work, op->b);
        return SIM_RUN_DONE;
    }
    int want = (present && op->arg) ? CT_EXISTS : CT_OK;
    ct_bucket *h = NULL;
    int rc = ct_bucket_open(w->wtxn, name, CT_CREATE | (op->arg ? CT_EXCL : 0u), &h);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    if (rc != want) {
        return bad_rc(w, i, "ct_bucket_open(CT_CREATE)", rc, want);
    }
    if (rc == CT_OK) {
        w->bh[op->b] = h;
        sim_state_create(w->work, op->b);
    }
    return SIM_RUN_DONE;
}

static void push_inflight(sim_world *w, sim_state *s)
{
    size_t idx = sim_hist_push(&w->hist, s);
    if (w->n_inflight < SIM_INFLIGHT_MAX) {
        w->inflight[w->n_inflight++] = idx;
    }
}

static sim_run_result op_commit(sim_world *w, size_t i)
{
    if (!w->wtxn) {
        txn_reset(w); /* its begin failed (legally) */
        return SIM_RUN_DONE;
    }
    uint64_t id = ct_txn_id(w->wtxn);
    int rc = ct_commit(w->wtxn);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    w->wtxn = NULL;
    /* Pages are told from stale copies by the id of the txn that wrote
       them, so ids only grow: past every commit, every failed attempt
       (it may have left pages stamped with its id) and every crash (the
       fence at open; limits.h). Not with damaging faults: a store that
       loses syncs can take recovery back past the ids the fence knows
       of. A commit with nothing to write spends no id. */
    struct ct_stat st;
    int have_stat = rc == CT_OK && ct_stat(w->db, &st) == CT_OK;
    int landed = have_stat && st.txnid == id;
    if (landed && !w->lenient && id <= w->max_id) {
        txn_reset(w);
        return sim_world_failf(w, i, "commit got txn id %llu, not above id %llu used before",
                               (unsigned long long)id, (unsigned long long)w->max_id);
    }
    int spent = landed || ((rc == CT_IO || rc == CT_NOSPACE) && !w->txn_doomed);
    if (spent && id > w->max_id) {
        w->max_id = id;
    }
    sim_state *s = w->work;
    w->work = NULL;
    int doomed = w->txn_doomed;
    txn_reset(w);
    if (rc == CT_OK) {
        w->acked = sim_hist_push(&w->hist, s);
        if (w->cfg->verbose) {
            fprintf(stderr, "  op %zu: commit #%zu acknowledged\n", i, w->acked);
        }
        int synced = w->cfg->durability != CT_SYNC_NONE || /* FULL and GROUP: acked = durable */
                     (have_stat && st.durable_txnid == st.txnid);
        if (synced) { /* CT_SYNC_NONE: an autosync made this commit durable */
            w->floor = w->acked;
            w->n_inflight = 0;
        }
        sim_state_unref(s);
        if (w->check_commits) {
            ct_check_report rep;
            int crc = ct_check(w->db, &rep);
            if (crc != CT_OK && !sim_world_legal(w, crc)) {
                return sim_world_failf(w, i, "ct_check after commit: %s: %s", ct_errname(crc),
                                       rep.first_problem);
            }
        }
        return SIM_RUN_DONE;
    }
    if (!sim_world_legal(w, rc) && !(doomed && rc != CT_OK)) {
        sim_state_unref(s);
        return sim_world_failf(w, i, "ct_commit returned %s", ct_errname(rc));
    }
    w->store_errors++;
    if (w->cfg->verbose) {
        fprintf(stderr, "  op %zu: ct_commit returned %s: in flight as commit #%zu\n", i,
                ct_errname(rc), w->hist.count);
    }
    /* It may or may not have landed, with every op applied before the one
       that doomed the txn (a failed read does not fail the engine's txn). */
    push_inflight(w, s);
    sim_state_unref(s);
    if (w->stop_on_io && is_store_failure(rc)) {
        return SIM_RUN_STOPPED;
    }
    return SIM_RUN_DONE;
}

/* ---- reads ---------------------------------------------------------------- */

static sim_run_result check_get(sim_world *w, size_t i, ct_txn *t, ct_bucket *h,
                                const sim_bmap *m, const uint8_t *key, size_t klen)
{
    const void *v = NULL;
    size_t vlen = 0;
    int rc = ct_get(t, h, key, klen, &v, &vlen);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    const sim_entry *e = sim_bmap_get(m, key, klen);
    if (rc == CT_OK && e && same_entry(e, key, klen, v, vlen)) {
        return SIM_RUN_DONE;
    }
    if (rc == CT_NOTFOUND && !e) {
        return SIM_RUN_DONE;
    }
    if (rc != CT_OK && rc != CT_NOTFOUND && sim_world_legal(w, rc)) {
        w->store_errors++;
        return (w->stop_on_io && is_store_failure(rc)) ? SIM_RUN_STOPPED : SIM_RUN_DONE;
    }
    char kx[64];
    sim_hex(key, klen, kx, sizeof(kx));
    return sim_world_failf(w, i, "ct_get(%s) returned %s (vlen %zu), model has %s (vlen %u)",
                           kx, ct_errname(rc), rc == CT_OK ? vlen : 0,
                           e ? "the key" : "no such key", e ? e->vlen : 0);
}

/* Cursor walk compared with the model: mode 0 forward, 1 backward,
   2 seek key then 16 steps forward. */
static sim_run_result check_scan(sim_world *w, size_t i, ct_txn *t, ct_bucket *h,
                                 const sim_bmap *m, int mode, const uint8_t *key, size_t klen)
{
    ct_cursor *c = NULL;
    int rc = ct_cursor_open(t, h, &c);
    if (rc != CT_OK) {
        return bad_rc(w, i, "ct_cursor_open", rc, CT_OK);
    }
    size_t at = 0;
    size_t steps = m->count;
    if (mode == 0) {
        rc = ct_cursor_first(c);
    } else if (mode == 1) {
        rc = ct_cursor_last(c);
        at = m->count ? m->count - 1 : 0;
    } else {
        rc = ct_cursor_seek(c, key, klen);
        at = sim_bmap_lower(m, key, klen, NULL);
        steps = m->count - at < 16 ? m->count - at : 16;
    }
    size_t n = 0;
    while (rc == CT_OK && n < steps) {
        const void *k = NULL;
        const void *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        rc = ct_cursor_get(c, &k, &kl, &v, &vl);
        if (rc != CT_OK) {
            break;
        }
        if (!same_entry(&m->v[at], k, kl, v, vl)) {
            ct_cursor_close(c);
            return sim_world_failf(w, i, "scan mode %d: entry %zu differs from the model", mode,
                                   n);
        }
        n++;
        rc = mode == 1 ? ct_cursor_prev(c) : ct_cursor_next(c);
        at = mode == 1 ? at - 1 : at + 1;
    }
    ct_cursor_close(c);
    if (rc != CT_OK && rc != CT_NOTFOUND) {
        return bad_rc(w, i, "cursor walk", rc, CT_OK);
    }
    if (n != steps || (mode != 2 && rc != CT_NOTFOUND)) {
        return sim_world_failf(w, i, "scan mode %d: %zu entries seen, model has %zu (rc %s)",
                               mode, n, steps, ct_errname(rc));
    }
    return SIM_RUN_DONE;
}

static sim_run_result op_wread(sim_world *w, size_t i, const sim_op *op)
{
    ct_bucket *h = NULL;
    sim_run_result res = SIM_RUN_DONE;
    if (wbucket(w, i, op->b, &h, &res)) {
        return res;
    }
    const sim_bmap *m = &w->work->b[op->b];
    if (op->kind == SIM_OP_GET) {
        return check_get(w, i, w->wtxn, h, m, op->key, op->klen);
    }
    return check_scan(w, i, w->wtxn, h, m, op->arg, op->key, op->klen);
}

/* ---- readers ----------------------------------------------------------------- */

static sim_run_result op_rbegin(sim_world *w, size_t i, int slot)
{
    reader_end(w, slot, 0);
    ct_txn *t = NULL;
    int rc = ct_begin(w->db, CT_TXN_RDONLY, &t);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    if (rc != CT_OK) {
        return bad_rc(w, i, "ct_begin(CT_TXN_RDONLY)", rc, CT_OK);
    }
    w->rd[slot].t = t;
    w->rd[slot].st = sim_state_ref(w->hist.v[w->acked]);
    return SIM_RUN_DONE;
}

static sim_run_result op_rcheck(sim_world *w, size_t i, const sim_op *op)
{
    sim_reader *r = &w->rd[op->arg & 3];
    int mode = op->arg >> 2;
    if (!r->t) {
        return SIM_RUN_DONE;
    }
    if (mode == 0) {
        uint64_t d = 0;
        int rc = sim_txn_digest(r->t, &d);
        if (rc != CT_OK) {
            return bad_rc(w, i, "reader digest", rc, CT_OK);
        }
        if (d != sim_state_digest(r->st)) {
            return sim_world_failf(w, i, "reader snapshot (slot %d) changed under it",
                                   op->arg & 3);
        }
        return SIM_RUN_DONE;
    }
    ct_bucket *h = NULL;
    const sim_bmap *m = &r->st->b[op->b];
    if (op->b != 0) {
        int rc = ct_bucket_open(r->t, sim_bucket_name(op->b), 0, &h);
        if (rc == CT_NOTFOUND && !m->present) {
            return SIM_RUN_DONE;
        }
        if (rc != CT_OK || !m->present) {
            return bad_rc(w, i, "reader ct_bucket_open", rc, m->present ? CT_OK : CT_NOTFOUND);
        }
    }
    if (mode == 1) {
        sim_run_result res = check_get(w, i, r->t, h, m, op->key, op->klen);
        for (uint64_t k = 0; res == SIM_RUN_DONE && k < 3 && m->count; k++) {
            const sim_entry *e = &m->v[prng_hash_u64(op->vseed, k + op->klen) % m->count];
            res = check_get(w, i, r->t, h, m, e->key, e->klen);
        }
        return res;
    }
    return check_scan(w, i, r->t, h, m, 0, NULL, 0);
}

/* ---- database-level ops ------------------------------------------------------- */

static sim_run_result op_sync(sim_world *w, size_t i)
{
    int rc = ct_sync(w->db);
    sim_world_trace(w, (uint64_t)(int64_t)rc);
    if (rc == CT_OK) {
        w->floor = w->acked;
        w->n_inflight = 0;
        return SIM_RUN_DONE;
    }
    return bad_rc(w, i, "ct_sync", rc, CT_OK);
}

static sim_run_result op_reopen(sim_world *w, size_t i)
{
    (void)i;
    return sim_recover(w, NULL, "reopen");
}

static sim_run_result exec_op(sim_world *w, size_t i, const sim_op *op)
{
    switch (op->kind) {
    case SIM_OP_BEGIN:
        return op_begin(w, i);
    case SIM_OP_COMMIT:
        return op_commit(w, i);
    case SIM_OP_ABORT:
        ct_abort(w->wtxn);
        txn_reset(w);
        return SIM_RUN_DONE;
    case SIM_OP_PUT:
        return op_put(w, i, op);
    case SIM_OP_DEL:
        return op_del(w, i, op);
    case SIM_OP_RANGE_DEL:
        return op_range(w, i, op);
    case SIM_OP_GET:
    case SIM_OP_SCAN:
        return op_wread(w, i, op);
    case SIM_OP_BCREATE:
    case SIM_OP_BDROP:
        return op_bucket(w, i, op);
    case SIM_OP_RBEGIN:
        return op_rbegin(w, i, op->arg & 3);
    case SIM_OP_RCHECK:
        return op_rcheck(w, i, op);
    case SIM_OP_REND:
        reader_end(w, op->arg & 3, (op->arg & 1) != 0);
        return SIM_RUN_DONE;
    case SIM_OP_SYNC:
        return op_sync(w, i);
    case SIM_OP_REOPEN:
        return op_reopen(w, i);
    default:
        return sim_world_failf(w, i, "unknown op kind %d", op->kind);
    }
}

/* Ops inside a write txn that is not really open are skipped. */
static int skipped(const sim_world *w, const sim_op *op)
{
    if (w->dead || !w->db) {
        return 1;
    }
    switch (op->kind) {
    case SIM_OP_BEGIN:
    case SIM_OP_RBEGIN:
    case SIM_OP_RCHECK:
    case SIM_OP_REND:
    case SIM_OP_SYNC:
    case SIM_OP_REOPEN:
        return 0;
    case SIM_OP_COMMIT:
    case SIM_OP_ABORT:
        return !w->txn_open;
    default:
        return !w->txn_open || !w->wtxn || w->txn_doomed;
    }
}

sim_run_result sim_world_run(sim_world *w, size_t from, size_t to)
{
    const sim_workload *wl = w->w;
    for (size_t i = from; i < to && i < wl->count; i++) {
        const sim_op *op = &wl->ops[i];
        if (!wl->active[i]) {
            continue;
        }
        w->cur_op = i;
        if (skipped(w, op)) {
            if ((op->kind == SIM_OP_COMMIT || op->kind == SIM_OP_ABORT) && w->txn_open) {
                if (w->wtxn) {
                    ct_abort(w->wtxn);
                }
                txn_reset(w);
            }
            continue;
        }
        sim_run_result res = exec_op(w, i, op);
        if (res != SIM_RUN_DONE) {
            return res;
        }
    }
    return SIM_RUN_DONE;
}
