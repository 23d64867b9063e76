/*
 * crashpoint.c - enumeration of crash points and power-cut outcomes.
 *
 * A segment runs from a golden-run checkpoint (a store snapshot taken
 * where every acknowledged commit is durable) to the next one. Crash point
 * k of a segment: restore the checkpoint, open a fresh handle, cut the
 * power before store op k, run the segment's ops until the store fails,
 * close, then for each outcome of the unsynced log (drop all, keep all,
 * every subset up to cfg->subset_max entries, torn sectors, omit-one,
 * random orders) crash and check the image (oracle.c). Cost is linear in
 * the workload: each crash point replays only its own segment. Also:
 * crashes inside database creation, and "deep" crash points on the
 * long-lived handle's path (readers held across commits) from the start.
 */
#include <string.h>

#include "sim.h"

/* ---- outcomes ------------------------------------------------------------ */

static int entry_is_write(ct_pagestore *ps, uint32_t i)
{
    int is_write = 0;
    uint64_t pgno = 0;
    uint32_t npages = 0;
    return ct_memstore_pending_entry(ps, i, &is_write, &pgno, &npages) == CT_OK && is_write;
}

/* Fills out[] with the outcomes to check for n pending entries. */
static size_t outcomes(const sim_config *cfg, ct_pagestore *ps, uint32_t n, prng *r,
                       ct_crash_outcome *out, size_t cap)
{
    size_t k = 0;
    memset(out, 0, cap * sizeof(*out));
    out[k++].mode = CT_CRASH_DROP_ALL;
    if (n == 0) {
        return k;
    }
    out[k++].mode = CT_CRASH_KEEP_ALL;
    if (n <= cfg->subset_max && n < 20) {
        for (uint64_t m = 1; m + 1 < (1ull << n) && k < cap; m++) {
            out[k].mode = CT_CRASH_SUBSET;
            out[k++].mask = m;
        }
    } else {
        /* Omit-one of at most 64 entries: with more, the first 32 and the
           last 32, where the meta and a commit's last pages are (a subset
           drops every entry from 64 on, so it never keeps them). */
        for (uint32_t i = 0; i < n && k < cap; i++) {
            if (n > 64 && i == 32) {
                i = n - 32;
            }
            out[k].mode = CT_CRASH_OMIT_ONE;
            out[k++].index = i;
        }
        for (int j = 0; j < 8 && k < cap; j++) {
            out[k].mode = CT_CRASH_SUBSET;
            out[k++].mask = prng_next(r);
        }
    }
    uint32_t tears = n <= cfg->subset_max ? n : 4;
    for (uint32_t j = 0; j < tears && k < cap; j++) {
        uint32_t i = n <= cfg->subset_max ? j : (uint32_t)prng_below(r, n);
        if (entry_is_write(ps, i)) {
            out[k].mode = CT_CRASH_TEAR_ONE;
            out[k].index = i;
            out[k++].seed = prng_next(r);
        }
    }
    uint32_t randoms = n <= cfg->subset_max ? 2 : 8;
    for (uint32_t j = 0; j < randoms && k < cap; j++) {
        out[k].mode = CT_CRASH_RANDOM;
        out[k++].seed = prng_next(r);
    }
    return k;
}

static size_t outcome_cap(const sim_config *cfg)
{
    uint32_t s = cfg->subset_max < 16 ? cfg->subset_max : 16;
    return ((size_t)1 << s) + 128;
}

/* ---- one crash point --------------------------------------------------------- */

void sim_seed_fail(sim_seed_run *r, sim_world *w, const sim_case *c)
{
    if (r->failed) {
        return;
    }
    r->failed = 1;
    r->fail_case = *c;
    r->fail_op = w->fail_op;
    snprintf(r->fail_msg, sizeof(r->fail_msg), "%s", w->msg);
}

sim_run_result sim_replay_stale(sim_seed_run *r, const sim_case *c)
{
    if (!r->failed) {
        r->failed = 1;
        r->fail_case = *c;
        r->fail_op = 0;
        snprintf(r->fail_msg, sizeof(r->fail_msg),
                 "replay: the line names segment %u, this run has %zu: a stale line "
                 "(record it again from the seed)",
                 c->seg, r->n_cps);
    }
    return SIM_RUN_FAILED;
}

sim_run_result sim_segment_start(sim_seed_run *r, size_t s, sim_world *w, uint64_t *base)
{
    const sim_checkpoint *cp = &r->cps[s];
    (void)ct_memstore_snapshot_restore(r->ps, cp->snap);
    sim_world_init(w, r->cfg, r->wl, r->ps, &r->alloc);
    sim_world_set_history(w, &r->golden.hist, cp->hist_index);
    int rc = sim_world_open(w);
    if (rc != CT_OK) {
        return sim_world_failf(w, cp->op, "open at a checkpoint returned %s", ct_errname(rc));
    }
    *base = sim_store_ops(r->ps);
    return SIM_RUN_DONE;
}

/* Runs segment s with the power cut before store op `cut` (UINT64_MAX:
   none) and leaves the world closed and the store crashed-but-unresolved. */
static sim_run_result cut_run(sim_seed_run *r, size_t s, size_t to, uint64_t cut, sim_world *w)
{
    uint64_t base = 0;
    sim_run_result res = sim_segment_start(r, s, w, &base);
    if (res != SIM_RUN_DONE) {
        return res;
    }
    if (cut != UINT64_MAX) {
        w->tolerant = 1;
        w->stop_on_io = 1;
        (void)ct_memstore_set_power_cut(r->ps, cut);
    }
    res = sim_world_run(w, r->cps[s].op, to);
    sim_world_close(w);
    return res == SIM_RUN_FAILED ? res : SIM_RUN_DONE;
}

/* Checks every outcome (or only `only`) of the crashed store in world w. */
static sim_run_result check_outcomes(sim_seed_run *r, sim_world *w, sim_case *c,
                                     const sim_case *only, size_t n_out_max)
{
    ct_memstore_info info;
    (void)ct_memstore_get_info(r->ps, &info);
    ct_memstore_snapshot *pre = NULL;
    if (ct_memstore_snapshot_take(r->ps, &pre) != CT_OK) {
        return sim_world_failf(w, SIM_NOOP, "memstore snapshot failed");
    }
    prng rng;
    prng_seed(&rng, prng_derive(r->cfg->seed, prng_hash_u64(c->seg, c->cut)));
    size_t cap = outcome_cap(r->cfg);
    ct_crash_outcome *outs = sim_xmalloc(cap * sizeof(*outs));
    size_t n = only ? 1 : outcomes(r->cfg, r->ps, (uint32_t)info.pending, &rng, outs, cap);
    if (only) {
        outs[0] = only->out;
    }
    n = n > n_out_max ? n_out_max : n;
    sim_run_result res = SIM_RUN_DONE;
    for (size_t i = 0; i < n && res == SIM_RUN_DONE; i++) {
        if (i > 0) {
            (void)ct_memstore_snapshot_restore(r->ps, pre);
        }
        (void)ct_memstore_crash(r->ps, &outs[i]);
        sim_image_plan plan;
        memset(&plan, 0, sizeof(plan));
        /* From the outcome itself, not its position in the list: a replay of
           one outcome must draw the same extra commit and damage. */
        uint64_t id = prng_hash_u64(prng_hash_u64(r->cfg->seed, c->seg), c->cut);
        id = prng_hash_u64(id, (uint64_t)outs[i].mode);
        id = prng_hash_u64(id, outs[i].mask);
        id = prng_hash_u64(id, outs[i].index);
        plan.image_id = prng_hash_u64(id, outs[i].seed);
        r->image_seq++;
        plan.level2 = r->cfg->level2_every && r->image_seq % r->cfg->level2_every == 0;
        /* CT_SYNC_FULL and CT_SYNC_GROUP promise that BOTH slots describe
           intact trees (under CT_SYNC_NONE only the last synced commit is
           protected). */
        uint32_t me = r->cfg->durability != CT_SYNC_NONE ? r->cfg->meta_every : 0;
        if (me && r->image_seq % me == me / 2) {
            plan.meta_damage = 1 + (int)((r->image_seq / me) % 3);
        }
        if (only) {
            plan.level2 = only->level2;
            plan.only_l2 = only->level2;
            plan.cut2 = only->cut2;
            plan.out2 = only->out2;
            plan.meta_damage = only->meta_damage;
        }
        c->out = outs[i];
        res = sim_check_image(w, &plan, r->cnt, c);
        sim_world_trace(w, (uint64_t)outs[i].mode ^ outs[i].mask ^ outs[i].seed);
    }
    free(outs);
    ct_memstore_snapshot_free(pre);
    return res;
}

/* The end of a crash point whose run left w (res): when the run got to the
   cut, checks up to n_out_max outcomes; then counts the point, folds w's
   trace into the seed's, reports a failure, and frees w. */
static sim_run_result finish_point(sim_seed_run *r, sim_world *w, sim_case *c, sim_run_result res,
                                   const sim_case *only, size_t n_out_max)
{
    if (res == SIM_RUN_DONE) {
        res = check_outcomes(r, w, c, only, n_out_max);
    }
    r->cnt->crash_points++;
    r->trace = prng_hash_u64(r->trace, w->trace);
    if (res == SIM_RUN_FAILED) {
        sim_seed_fail(r, w, c);
    }
    sim_world_free(w);
    return res;
}

static sim_run_result crash_point(sim_seed_run *r, size_t s, size_t to, uint64_t k,
                                  const sim_case *only)
{
    sim_world w;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_CRASH;
    c.seg = (uint32_t)s;
    c.cut = k;
    c.out.mode = CT_CRASH_DROP_ALL;
    sim_run_result res = cut_run(r, s, to, k, &w);
    ct_memstore_info info;
    (void)ct_memstore_get_info(r->ps, &info);
    r->trace = prng_hash_u64(r->trace, info.trace_hash); /* every op up to the cut */
    return finish_point(r, &w, &c, res, only, SIZE_MAX);
}

/* ---- creation ------------------------------------------------------------------- */

static sim_run_result creation_points(sim_seed_run *r, const sim_case *only)
{
    sim_run_result res = SIM_RUN_DONE;
    for (uint64_t k = 0; k < 8 && res == SIM_RUN_DONE; k++) {
        if (only && only->cut != k) {
            continue;
        }
        ct_pagestore *ps = NULL;
        if (sim_store_create(r->cfg, &ps) != CT_OK) {
            return SIM_RUN_FAILED;
        }
        sim_world w;
        sim_world_init(&w, r->cfg, r->wl, ps, &r->alloc);
        sim_state *empty = sim_state_new();
        sim_world_set_base(&w, empty);
        sim_state_unref(empty);
        (void)ct_memstore_set_power_cut(ps, k);
        int rc = sim_world_open(&w);
        sim_world_close(&w);
        sim_case c;
        memset(&c, 0, sizeof(c));
        c.phase = SIM_PHASE_CRASH;
        c.seg = UINT32_MAX;
        c.cut = k;
        sim_seed_run tmp = *r;
        tmp.ps = ps;
        res = check_outcomes(&tmp, &w, &c, only, SIZE_MAX);
        r->image_seq = tmp.image_seq;
        r->cnt->crash_points++;
        if (res == SIM_RUN_FAILED) {
            sim_seed_fail(r, &w, &c);
        }
        sim_world_free(&w);
        sim_store_destroy(ps);
        if (rc == CT_OK) {
            break; /* the cut came after creation finished */
        }
    }
    return res;
}

/* ---- deep points: the long-lived handle's path --------------------------------- */

static sim_run_result deep_point(sim_seed_run *r, uint64_t k, const sim_case *only)
{
    sim_world w;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_CRASH;
    c.deep = 1;
    c.cut = k;
    sim_run_result res = cut_run(r, 0, r->wl->count, k, &w);
    return finish_point(r, &w, &c, res, only, 4);
}

static sim_run_result deep_points(sim_seed_run *r, const sim_case *only)
{
    if (only) {
        return deep_point(r, only->cut, only);
    }
    sim_world w;
    uint64_t base = 0;
    sim_run_result res = sim_segment_start(r, 0, &w, &base);
    if (res == SIM_RUN_DONE) {
        res = sim_world_run(&w, 0, r->wl->count);
    }
    uint64_t end = sim_store_ops(r->ps);
    sim_world_free(&w);
    if (res == SIM_RUN_FAILED || end <= base) {
        return res;
    }
    prng rng;
    prng_seed(&rng, prng_derive(r->cfg->seed, 0x64656570ull)); /* "deep" */
    for (uint32_t i = 0; i < r->cfg->deep_n && res == SIM_RUN_DONE; i++) {
        res = deep_point(r, base + prng_below(&rng, end - base), NULL);
    }
    return res;
}

/* ---- the phase ------------------------------------------------------------------ */

/* Probes segment s: its store-op range [*base, *end) on a fresh handle. */
static sim_run_result probe(sim_seed_run *r, size_t s, size_t to, uint64_t *base, uint64_t *end)
{
    sim_world w;
    sim_run_result res = sim_segment_start(r, s, &w, base);
    if (res == SIM_RUN_DONE) {
        res = sim_world_run(&w, r->cps[s].op, to);
    }
    *end = sim_store_ops(r->ps);
    if (res == SIM_RUN_FAILED) {
        sim_case c;
        memset(&c, 0, sizeof(c));
        c.phase = SIM_PHASE_CRASH;
        c.seg = (uint32_t)s;
        c.cut = UINT64_MAX;
        sim_seed_fail(r, &w, &c);
    }
    r->trace = prng_hash_u64(r->trace, w.trace);
    sim_world_free(&w);
    return res;
}

sim_run_result sim_crash_phase(sim_seed_run *r, const sim_case *only)
{
    if (only && only->seg == UINT32_MAX) {
        return creation_points(r, only);
    }
    if (only && only->deep) {
        return deep_points(r, only);
    }
    if (only) {
        size_t s = only->seg;
        if (s >= r->n_cps) {
            return sim_replay_stale(r, only);
        }
        size_t to = sim_segment_end(r, s);
        if (only->cut == UINT64_MAX) {
            uint64_t b = 0;
            uint64_t e = 0;
            return probe(r, s, to, &b, &e);
        }
        return crash_point(r, s, to, only->cut, only);
    }
    sim_run_result res = creation_points(r, NULL);
    uint64_t *range = sim_xmalloc((r->n_cps + 1) * 2 * sizeof(uint64_t));
    uint64_t total = 0;
    for (size_t s = 0; s < r->n_cps && res == SIM_RUN_DONE; s++) {
        size_t to = sim_segment_end(r, s);
        res = probe(r, s, to, &range[2 * s], &range[2 * s + 1]);
        total += range[2 * s + 1] - range[2 * s];
    }
    prng rng;
    prng_seed(&rng, prng_derive(r->cfg->seed, 0x63726173ull)); /* "cras" */
    for (size_t s = 0; s < r->n_cps && res == SIM_RUN_DONE; s++) {
        size_t to = sim_segment_end(r, s);
        for (uint64_t k = range[2 * s]; k < range[2 * s + 1] && res == SIM_RUN_DONE; k++) {
            if (!r->cfg->crash_all &&
                !prng_chance(&rng, r->cfg->crash_n, (uint32_t)(total ? total : 1))) {
                continue;
            }
            res = crash_point(r, s, to, k, NULL);
        }
    }
    free(range);
    if (res == SIM_RUN_DONE && r->cfg->deep_n) {
        res = deep_points(r, NULL);
    }
    return res;
}
