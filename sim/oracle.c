/*
 * oracle.c - post-crash checks: content digests of a live database,
 * identification of the commit a database holds, and the image check.
 *
 * The image check (DESIGN.md, "The simulator"): after a power cut, with
 * every fault off, ct_open succeeds; ct_check is clean; the content equals
 * an allowed commit of the model ([floor..acked] plus commits in flight;
 * any earlier commit when damaging faults were on); one more commit works
 * and checks clean, and survives a power cut and a reopen. The second
 * level crashes inside that reopen and that
 * commit, and checks again (allowed: before or after the extra commit).
 * Must never: let a fault or a power cut be armed while it judges.
 */
#include <string.h>

#include "sim.h"

/* ---- digests ------------------------------------------------------------- */

static int bucket_digest(ct_txn *t, int b, uint64_t *h)
{
    ct_bucket *bk = NULL;
    int present = 1;
    if (b != 0) {
        int rc = ct_bucket_open(t, sim_bucket_name(b), 0, &bk);
        if (rc == CT_NOTFOUND) {
            present = 0;
        } else if (rc != CT_OK) {
            return rc;
        }
    }
    uint64_t c = 0;
    uint64_t count = 0;
    if (present) {
        ct_cursor *cur = NULL;
        int rc = ct_cursor_open(t, bk, &cur);
        if (rc != CT_OK) {
            return rc;
        }
        rc = ct_cursor_first(cur);
        while (rc == CT_OK) {
            const void *k = NULL;
            const void *v = NULL;
            size_t kl = 0;
            size_t vl = 0;
            rc = ct_cursor_get(cur, &k, &kl, &v, &vl);
            if (rc != CT_OK) {
                break;
            }
            c = sim_entry_hash(c, k, kl, vl, prng_hash_bytes(v, vl, 0));
            count++;
            rc = ct_cursor_next(cur);
        }
        ct_cursor_close(cur);
        if (rc != CT_NOTFOUND) {
            return rc;
        }
    }
    *h = sim_bucket_hash(*h, b, present, count, c);
    return CT_OK;
}

int sim_txn_digest(ct_txn *t, uint64_t *out)
{
    uint64_t h = 0x636f777472656521ull; /* as sim_state_digest */
    for (int b = 0; b < SIM_BUCKETS; b++) {
        int rc = bucket_digest(t, b, &h);
        if (rc != CT_OK) {
            return rc;
        }
    }
    *out = h;
    return CT_OK;
}

int sim_db_digest(ct_db *db, uint64_t *out)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, CT_TXN_RDONLY, &t);
    if (rc != CT_OK) {
        return rc;
    }
    rc = sim_txn_digest(t, out);
    ct_abort(t);
    return rc;
}

static int matches(sim_world *w, size_t i, uint64_t d)
{
    return i < w->hist.count && sim_state_digest(w->hist.v[i]) == d;
}

int sim_identify(sim_world *w, int any, size_t *m)
{
    uint64_t d = 0;
    int rc = sim_db_digest(w->db, &d);
    if (rc != CT_OK) {
        return rc;
    }
    if (matches(w, w->acked, d)) {
        *m = w->acked;
        return CT_OK;
    }
    for (int k = w->n_inflight; k-- > 0;) {
        if (matches(w, w->inflight[k], d)) {
            *m = w->inflight[k];
            return CT_OK;
        }
    }
    for (size_t i = w->acked; i-- > w->floor;) {
        if (matches(w, i, d)) {
            *m = i;
            return CT_OK;
        }
    }
    for (size_t i = w->hist.count; any && i-- > 0;) {
        if (matches(w, i, d)) {
            *m = i;
            return CT_OK;
        }
    }
    return CT_NOTFOUND;
}

/* Reads the whole content of db into a state (keys copied into a). */
static int db_content(ct_db *db, sim_arena *a, sim_state **out)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, CT_TXN_RDONLY, &t);
    if (rc != CT_OK) {
        return rc;
    }
    sim_state *s = sim_state_new();
    for (int b = 0; b < SIM_BUCKETS && rc == CT_OK; b++) {
        ct_bucket *bk = NULL;
        if (b != 0) {
            rc = ct_bucket_open(t, sim_bucket_name(b), 0, &bk);
            if (rc == CT_NOTFOUND) {
                rc = CT_OK;
                continue;
            }
            sim_state_create(s, b);
        }
        ct_cursor *c = NULL;
        if (rc == CT_OK) {
            rc = ct_cursor_open(t, bk, &c);
        }
        if (rc == CT_OK) {
            rc = ct_cursor_first(c);
        }
        while (rc == CT_OK) {
            const void *k = NULL;
            const void *v = NULL;
            size_t kl = 0;
            size_t vl = 0;
            rc = ct_cursor_get(c, &k, &kl, &v, &vl);
            if (rc == CT_OK) {
                sim_entry e = {sim_arena_copy(a, k, kl), (uint32_t)kl, (uint32_t)vl, 0,
                               prng_hash_bytes(v, vl, 0)};
                sim_state_put(s, b, &e);
                rc = ct_cursor_next(c);
            }
        }
        if (rc == CT_NOTFOUND) {
            rc = CT_OK;
        }
    }
    ct_abort(t);
    *out = s;
    return rc;
}

void sim_describe_diff(sim_world *w, size_t m, char *out, size_t cap)
{
    sim_arena a = {0};
    sim_state *got = NULL;
    if (!w->db || m >= w->hist.count) {
        snprintf(out, cap, "(no database)");
        return;
    }
    int rc = db_content(w->db, &a, &got);
    if (rc != CT_OK) {
        snprintf(out, cap, "reading the content failed: %s", ct_errname(rc));
    } else {
        char d[400];
        sim_state_diff(w->hist.v[m], got, d, sizeof(d));
        snprintf(out, cap, "vs commit #%zu (%llu entries; db has %llu): %s", m,
                 (unsigned long long)sim_state_entries(w->hist.v[m]),
                 (unsigned long long)sim_state_entries(got), d);
    }
    sim_state_unref(got);
    sim_arena_free(&a);
}

/* ---- the extra commit ------------------------------------------------------ */

static const uint8_t extra_keys[8][3] = {"~x0", "~x1", "~x2", "~x3", "~y0", "~y1", "~y2", "~y3"};

/* One more commit on db: two puts (one may overflow) and one delete of an
   existing key. *expect receives the model after it, *txn_id the id the
   commit got. */
static int extra_commit(sim_world *w, const sim_state *base, uint64_t id, sim_state **expect,
                        uint64_t *txn_id)
{
    sim_state *s = sim_state_copy(base);
    *expect = s;
    ct_txn *t = NULL;
    int rc = ct_begin(w->db, 0, &t);
    if (rc != CT_OK) {
        return rc;
    }
    *txn_id = ct_txn_id(t);
    uint8_t vbuf[4096];
    for (int k = 0; k < 2 && rc == CT_OK; k++) {
        uint64_t r = prng_hash_u64(id, (uint64_t)k);
        const uint8_t *key = extra_keys[(r & 3) + (uint64_t)k * 4];
        uint32_t vlen = (uint32_t)(r >> 8) % 40;
        if (k == 1 && (r >> 20) % 4 == 0) {
            vlen = 2 * w->cfg->page_size + (uint32_t)(r >> 24) % 100;
            vlen = vlen > sizeof(vbuf) ? (uint32_t)sizeof(vbuf) : vlen;
        }
        uint64_t vseed = prng_hash_u64(r, 0x76);
        prng_fill_value(vseed, vbuf, vlen);
        sim_entry e = {key, 3, vlen, vseed, prng_hash_bytes(vbuf, vlen, 0)};
        rc = ct_put(t, NULL, key, 3, vbuf, vlen, 0);
        if (rc == CT_OK) {
            sim_state_put(s, 0, &e);
        }
    }
    const sim_bmap *m = &base->b[0];
    if (rc == CT_OK && m->count > 0) {
        const sim_entry *e = &m->v[id % m->count];
        rc = ct_del(t, NULL, e->key, e->klen);
        if (rc == CT_OK) {
            sim_state_del(s, 0, e->key, e->klen);
        }
    }
    if (rc != CT_OK) {
        ct_abort(t);
        return rc;
    }
    rc = ct_commit(t);
    if (rc == CT_OK && w->cfg->durability == CT_SYNC_NONE) {
        rc = ct_sync(w->db);
    }
    return rc;
}

/* ---- the image check ------------------------------------------------------- */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* --verbose: what the two meta slots of the durable image say (page
   header: txn id at byte 16), and the commit the handle opened. */
static void describe(sim_world *w, const char *tag)
{
    if (!w->cfg->verbose) {
        return;
    }
    uint8_t page[CT_PAGE_SIZE_MAX];
    uint64_t id[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        if (ct_memstore_peek(w->ps, (uint64_t)s, page) == CT_OK) {
            id[s] = le64(page + 16);
        }
    }
    struct ct_stat st;
    memset(&st, 0, sizeof(st));
    if (w->db) {
        (void)ct_stat(w->db, &st);
    }
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(w->ps, &info);
    fprintf(stderr,
            "  [%s] meta slot txn ids %llu/%llu, open handle at txn %llu, store %llu pages, "
            "%llu ops, %llu pending\n",
            tag, (unsigned long long)id[0], (unsigned long long)id[1],
            (unsigned long long)st.txnid, (unsigned long long)info.size_pages,
            (unsigned long long)info.ops, (unsigned long long)info.pending);
}

static uint64_t store_ops(ct_pagestore *ps)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    return info.ops;
}

static sim_run_result check_clean(sim_world *w, const char *when)
{
    ct_check_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = ct_check(w->db, &rep);
    if (rc == CT_OK) {
        return SIM_RUN_DONE;
    }
    return sim_world_failf(w, SIM_NOOP, "%s: ct_check returned %s: %s (page %llu)", when,
                           ct_errname(rc), rep.first_problem,
                           (unsigned long long)rep.first_problem_pgno);
}

typedef struct image_result {
    int opened;
    size_t m;               /* matched history index */
    sim_state *after;       /* model after the extra commit */
    uint64_t ops;           /* store ops from open to the end */
} image_result;

/* The commit after recovery was acknowledged and made durable (a ct_sync
   follows it under CT_SYNC_NONE): a power cut that drops every unsynced
   write, then a reopen, must still give exactly it. (Level 2 cuts only
   inside the reopen and that commit, where either side is allowed.) */
static sim_run_result after_survives(sim_world *w, const image_result *ir)
{
    ct_crash_outcome drop;
    memset(&drop, 0, sizeof(drop));
    drop.mode = CT_CRASH_DROP_ALL;
    (void)ct_memstore_crash(w->ps, &drop);
    int rc = sim_world_open(w);
    if (rc != CT_OK) {
        return sim_world_failf(w, SIM_NOOP,
                               "reopen after the post-recovery commit returned %s",
                               ct_errname(rc));
    }
    uint64_t d = 0;
    rc = sim_db_digest(w->db, &d);
    sim_run_result res = SIM_RUN_DONE;
    if (rc != CT_OK || d != sim_state_digest(ir->after)) {
        res = sim_world_failf(w, SIM_NOOP,
                              "the post-recovery commit is lost after a power cut and a "
                              "reopen (%s)",
                              ct_errname(rc));
    }
    sim_world_close(w);
    return res;
}

static sim_run_result image_once(sim_world *w, uint64_t id, sim_counters *cnt, image_result *ir)
{
    uint64_t ops0 = store_ops(w->ps);
    int rc = sim_world_open(w);
    if (rc != CT_OK) {
        if (rc == CT_CORRUPT && w->lenient) {
            cnt->corrupt_detected++;
            return SIM_RUN_DONE;
        }
        return sim_world_failf(w, SIM_NOOP, "recovery: ct_open returned %s", ct_errname(rc));
    }
    ir->opened = 1;
    describe(w, "recovered");
    ct_check_report rep;
    rc = ct_check(w->db, &rep);
    if (rc == CT_CORRUPT && w->lenient) {
        cnt->corrupt_detected++;
        sim_world_close(w);
        ir->opened = 0;
        return SIM_RUN_DONE;
    }
    sim_run_result res = rc == CT_OK ? SIM_RUN_DONE : check_clean(w, "after recovery");
    if (res == SIM_RUN_DONE) {
        rc = sim_identify(w, w->lenient, &ir->m);
        if (rc != CT_OK) {
            char diff[400];
            sim_describe_diff(w, w->acked, diff, sizeof(diff));
            res = sim_world_failf(w, SIM_NOOP, "recovered content is no allowed commit (%s): %s",
                                  ct_errname(rc), diff);
        }
    }
    if (res == SIM_RUN_DONE) {
        if (ir->m < w->floor) {
            cnt->rollbacks++;
        }
        sim_world_trace(w, ir->m);
        uint64_t txn_id = 0;
        rc = extra_commit(w, w->hist.v[ir->m], id, &ir->after, &txn_id);
        if (rc != CT_OK) {
            res = sim_world_failf(w, SIM_NOOP, "a commit after recovery returned %s", ct_errname(rc));
        } else if (!w->lenient && txn_id <= w->max_id) {
            /* The id rule (exec.c): the fence must skip every id used
               before the crash, by commits that are now lost included. */
            res = sim_world_failf(w, SIM_NOOP,
                                  "the commit after recovery got txn id %llu, not above id %llu "
                                  "used before the crash",
                                  (unsigned long long)txn_id, (unsigned long long)w->max_id);
        }
    }
    if (res == SIM_RUN_DONE) {
        res = check_clean(w, "after the commit that followed recovery");
    }
    if (res == SIM_RUN_DONE) {
        uint64_t d = 0;
        rc = sim_db_digest(w->db, &d);
        if (rc != CT_OK || d != sim_state_digest(ir->after)) {
            res = sim_world_failf(w, SIM_NOOP, "content after the post-recovery commit differs (%s)",
                                  ct_errname(rc));
        }
    }
    sim_world_close(w);
    ir->ops = store_ops(w->ps) - ops0;
    if (res == SIM_RUN_DONE) {
        res = after_survives(w, ir);
    }
    return res;
}

/* Second level: power cut at op `cut` counted from the recovered store s2
   (inside the reopen or the extra commit); each outcome must recover the
   matched commit or the extra one. */
static sim_run_result level2_point(sim_world *w, const ct_memstore_snapshot *s2, uint64_t cut,
                                   const image_result *ir, const sim_image_plan *plan,
                                   sim_counters *cnt, sim_case *fc)
{
    (void)ct_memstore_snapshot_restore(w->ps, s2);
    (void)ct_memstore_set_power_cut(w->ps, store_ops(w->ps) + cut);
    if (sim_world_open(w) == CT_OK) {
        sim_state *ignored = NULL;
        uint64_t ignored_id = 0;
        (void)extra_commit(w, w->hist.v[ir->m], plan->image_id, &ignored, &ignored_id);
        sim_state_unref(ignored);
        sim_world_close(w);
    }
    ct_memstore_snapshot *pre = NULL;
    if (ct_memstore_snapshot_take(w->ps, &pre) != CT_OK) {
        return sim_world_failf(w, SIM_NOOP, "memstore snapshot failed");
    }
    ct_memstore_info info;
    (void)ct_memstore_get_info(w->ps, &info);
    ct_crash_outcome outs[3];
    memset(outs, 0, sizeof(outs));
    outs[0].mode = CT_CRASH_DROP_ALL;
    outs[1].mode = CT_CRASH_KEEP_ALL;
    outs[2].mode = CT_CRASH_RANDOM;
    outs[2].seed = prng_hash_u64(plan->image_id, cut);
    int n = info.pending ? 3 : 1;
    sim_run_result res = SIM_RUN_DONE;
    for (int k = 0; k < n && res == SIM_RUN_DONE; k++) {
        const ct_crash_outcome *o = plan->only_l2 ? &plan->out2 : &outs[k];
        if (k > 0) {
            (void)ct_memstore_snapshot_restore(w->ps, pre);
        }
        describe(w, "level 2, before the crash");
        (void)ct_memstore_crash(w->ps, o);
        cnt->images++;
        cnt->images_l2++;
        int rc = sim_world_open(w);
        describe(w, "level 2, recovered");
        if (rc != CT_OK) {
            res = sim_world_failf(w, SIM_NOOP, "level 2: ct_open returned %s", ct_errname(rc));
        } else {
            res = check_clean(w, "level 2 recovery");
        }
        if (res == SIM_RUN_DONE) {
            uint64_t d = 0;
            rc = sim_db_digest(w->db, &d);
            if (rc != CT_OK || (d != sim_state_digest(w->hist.v[ir->m]) &&
                                d != sim_state_digest(ir->after))) {
                res = sim_world_failf(w, SIM_NOOP,
                                      "level 2: content is neither the recovered commit nor "
                                      "the one after it (%s)",
                                      ct_errname(rc));
            }
            sim_world_trace(w, d);
        }
        sim_world_close(w);
        if (res == SIM_RUN_FAILED && fc) {
            fc->level2 = 1;
            fc->cut2 = cut;
            fc->out2 = *o;
        }
        if (plan->only_l2) {
            break;
        }
    }
    ct_memstore_snapshot_free(pre);
    return res;
}

/* DESIGN.md: "losing or tearing the newest meta falls back one commit,
   never to garbage". Damages the newest valid meta of the crashed image
   (zeros, one flipped bit or garbage) and requires a clean recovery to a
   commit of the history. Skipped unless both slots are valid. */
static sim_run_result meta_loss(sim_world *w, const ct_memstore_snapshot *s2,
                                const sim_image_plan *plan, sim_counters *cnt, sim_case *fc)
{
    (void)ct_memstore_snapshot_restore(w->ps, s2);
    sim_meta_info mi;
    (void)sim_meta_slots(w->ps, &mi);
    if (!mi.valid[0] || !mi.valid[1]) {
        return SIM_RUN_DONE;
    }
    int slot = mi.txnid[1] > mi.txnid[0] ? 1 : 0;
    uint32_t size = w->ps->page_size;
    uint8_t page[CT_PAGE_SIZE_MAX];
    (void)ct_memstore_peek(w->ps, (uint64_t)slot, page);
    if (plan->meta_damage == 1) {
        memset(page, 0, size);
    } else if (plan->meta_damage == 2) {
        uint64_t bit = prng_hash_u64(plan->image_id, 0x626974) % ((uint64_t)size * 8);
        page[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    } else {
        prng_fill_value(plan->image_id, page, size);
    }
    (void)ct_memstore_poke(w->ps, (uint64_t)slot, page);
    cnt->images++;
    cnt->images_meta++;
    if (fc) {
        fc->meta_damage = plan->meta_damage;
    }
    int rc = sim_world_open(w);
    if (rc != CT_OK) {
        return sim_world_failf(w, SIM_NOOP,
                               "meta loss: with the newest meta (slot %d, txn %llu) damaged, "
                               "ct_open returned %s",
                               slot, (unsigned long long)mi.txnid[slot], ct_errname(rc));
    }
    sim_run_result res = check_clean(w, "meta loss: recovery from the older meta");
    size_t m = 0;
    if (res == SIM_RUN_DONE) {
        rc = sim_identify(w, 1, &m);
        if (rc != CT_OK) {
            res = sim_world_failf(w, SIM_NOOP,
                                  "meta loss: the older meta holds no commit of the history (%s)",
                                  ct_errname(rc));
        }
        sim_world_trace(w, m);
    }
    sim_world_close(w);
    if (res == SIM_RUN_DONE && fc) {
        fc->meta_damage = 0;
    }
    return res;
}

sim_run_result sim_check_image(sim_world *w, const sim_image_plan *plan, sim_counters *cnt,
                               sim_case *fc)
{
    ct_memstore_snapshot *s2 = NULL;
    int need = plan->level2 || plan->only_l2 || plan->meta_damage;
    if (need && ct_memstore_snapshot_take(w->ps, &s2) != CT_OK) {
        return sim_world_failf(w, SIM_NOOP, "memstore snapshot failed");
    }
    describe(w, "crashed image");
    image_result ir;
    memset(&ir, 0, sizeof(ir));
    sim_run_result res = image_once(w, plan->image_id, cnt, &ir);
    cnt->images++;
    if (res == SIM_RUN_DONE && ir.opened && (plan->level2 || plan->only_l2)) {
        for (uint64_t j = 0; j < ir.ops && res == SIM_RUN_DONE; j++) {
            if (plan->only_l2 && j != plan->cut2) {
                continue;
            }
            res = level2_point(w, s2, j, &ir, plan, cnt, fc);
        }
    }
    if (res == SIM_RUN_DONE && plan->meta_damage) {
        res = meta_loss(w, s2, plan, cnt, fc);
    }
    sim_state_unref(ir.after);
    if (s2) {
        ct_memstore_snapshot_free(s2);
    }
    return res;
}

/* A store/allocation error (countdown, fault) kept the db from being
   verified now: leave it closed; the phase's final recovery judges it. */
static sim_run_result recover_later(sim_world *w)
{
    sim_world_close(w);
    w->dead = 1;
    w->store_errors++;
    sim_faults_resume(w);
    return SIM_RUN_DONE;
}

/* Opens the store (retrying legal errors) and keeps the failed-sync books:
   a sync failed since the last judgement and no crash followed it, so this
   reopen reads the view and vouches for writes in an unknown state. */
static int recover_open(sim_world *w, int crashed)
{
    int rc = CT_IO;
    for (int attempt = 0; attempt < 3 && rc != CT_OK; attempt++) {
        rc = sim_world_open(w);
        if (rc == CT_OK || !sim_world_legal(w, rc) || rc == CT_CORRUPT) {
            break;
        }
    }
    uint64_t fs = sim_failed_syncs(w->ps);
    if (!crashed && fs > w->failed_syncs_mark) {
        w->durable_unknown = 1;
    }
    w->failed_syncs_mark = fs;
    return rc;
}

typedef struct judgement {
    int lenient;    /* any earlier commit is legal */
    int corrupt_ok; /* CT_CORRUPT is legal */
    int later;      /* a legal error kept us from judging now */
    size_t m;       /* the commit found */
} judgement;

/* ct_check and identification of the open db; *rc ends as the verdict. */
static sim_run_result recover_judge(sim_world *w, const char *when, int *rc, judgement *j)
{
    ct_check_report rep;
    memset(&rep, 0, sizeof(rep));
    *rc = ct_check(w->db, &rep);
    if (*rc != CT_OK && *rc != CT_CORRUPT && sim_world_legal(w, *rc)) {
        j->later = 1;
        return SIM_RUN_DONE;
    }
    if (*rc != CT_OK && !(*rc == CT_CORRUPT && j->corrupt_ok)) {
        return sim_world_failf(w, SIM_NOOP, "%s: ct_check returned %s: %s", when,
                               ct_errname(*rc), rep.first_problem);
    }
    if (*rc != CT_OK) {
        return SIM_RUN_DONE;
    }
    *rc = sim_identify(w, j->lenient, &j->m);
    if (*rc == CT_NOTFOUND) {
        char diff[400];
        sim_describe_diff(w, w->acked, diff, sizeof(diff));
        return sim_world_failf(w, SIM_NOOP, "%s: content is no allowed commit: %s", when, diff);
    }
    if (*rc != CT_OK && *rc != CT_CORRUPT && sim_world_legal(w, *rc)) {
        j->later = 1;
    }
    return SIM_RUN_DONE;
}

sim_run_result sim_recover(sim_world *w, sim_counters *cnt, const char *when)
{
    if (w->db) {
        sim_world_close(w);
    }
    int crashed = w->after_crash;
    judgement j = {w->lenient || (crashed && w->judge_lenient),
                   w->storage_damage || (crashed && w->judge_lenient), 0, 0};
    /* CT_SYNC_NONE writes each commit's meta over the slot of the last
       acknowledged one. A failed write may tear it; the engine then writes
       that meta back, and only when that write fails too (two failed
       writes) may a reopen find less, as after a crash (commit.c). */
    uint64_t failed_writes = sim_failed_writes(w->ps);
    int acked_meta_at_risk =
        w->cfg->durability == CT_SYNC_NONE && failed_writes - w->failed_writes_mark >= 2;
    w->after_crash = 0;
    w->judge_lenient = 0;
    sim_faults_pause(w);
    int rc = recover_open(w, crashed);
    if (rc != CT_OK && rc != CT_CORRUPT && sim_world_legal(w, rc)) {
        if (w->stop_on_io) {
            sim_faults_resume(w);
            return SIM_RUN_STOPPED; /* the power went out during the reopen */
        }
        return recover_later(w);
    }
    w->failed_writes_mark = sim_failed_writes(w->ps);
    if (!crashed && !j.lenient && !acked_meta_at_risk) {
        /* No power cut since the last judgement: the store still holds
           every acknowledged commit, whatever the durability mode (a
           CT_SYNC_NONE handle closed and reopened loses nothing; only a
           crash may take the commits since the last sync). */
        w->floor = w->acked;
    }
    sim_run_result res = rc == CT_OK ? recover_judge(w, when, &rc, &j) : SIM_RUN_DONE;
    if (j.later) {
        return recover_later(w);
    }
    if (res == SIM_RUN_DONE && rc == CT_CORRUPT && j.corrupt_ok) {
        if (cnt) {
            cnt->corrupt_detected++;
        }
        sim_world_close(w);
        w->dead = 1;
    } else if (res == SIM_RUN_DONE && rc != CT_OK) {
        res = sim_world_failf(w, SIM_NOOP, "%s: ct_open/identify returned %s", when,
                              ct_errname(rc));
    }
    if (w->cfg->verbose) {
        fprintf(stderr, "  %s: recovery %s, commit #%zu (acked #%zu, durable #%zu)%s%s\n", when,
                ct_errname(rc), j.m, w->acked, w->floor, crashed ? " after a crash" : "",
                w->dead ? ", db left closed" : "");
    }
    if (res == SIM_RUN_DONE && !w->dead) {
        if (cnt && j.m < w->floor) {
            cnt->rollbacks++;
        }
        sim_world_trace(w, j.m);
        sim_world_rebase(w, j.m);
    }
    sim_faults_resume(w);
    return res;
}
