/*
 * seed.c - one seed's pipeline: generate the workload, run it on one
 * long-lived handle (the golden run) taking store checkpoints wherever
 * every acknowledged commit is durable, then the crash, sweep and fault
 * phases. Also the store factory and small shared helpers.
 */
#include <string.h>

#include "sim.h"

size_t sim_segment_end(const sim_seed_run *r, size_t s)
{
    return s + 1 < r->n_cps ? r->cps[s + 1].op : r->wl->count;
}

static void checkpoint(sim_seed_run *r, size_t op)
{
    r->cps = sim_xrealloc(r->cps, (r->n_cps + 1) * sizeof(*r->cps));
    sim_checkpoint *cp = &r->cps[r->n_cps];
    cp->op = op;
    cp->hist_index = r->golden.acked;
    cp->snap = NULL;
    if (ct_memstore_snapshot_take(r->ps, &cp->snap) != CT_OK) {
        fprintf(stderr, "cowtree-sim: memstore snapshot failed\n");
        exit(2);
    }
    r->n_cps++;
}

sim_run_result sim_golden(sim_seed_run *r)
{
    sim_world *w = &r->golden;
    sim_world_init(w, r->cfg, r->wl, r->ps, &r->alloc);
    sim_state *empty = sim_state_new();
    sim_world_set_base(w, empty);
    sim_state_unref(empty);
    w->check_commits = 1;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_GOLDEN;
    int rc = sim_world_open(w);
    if (rc != CT_OK) {
        sim_world_failf(w, 0, "creating the database: ct_open returned %s", ct_errname(rc));
        sim_seed_fail(r, w, &c);
        return SIM_RUN_FAILED;
    }
    sim_run_result res = SIM_RUN_DONE;
    for (uint32_t t = 0; t < r->wl->txns && res == SIM_RUN_DONE; t++) {
        if (w->floor == w->acked && w->n_inflight == 0) {
            checkpoint(r, r->wl->txn_first[t]);
        }
        res = sim_world_run(w, r->wl->txn_first[t], r->wl->txn_first[t + 1]);
    }
    if (r->n_cps == 0) {
        checkpoint(r, r->wl->count);
    }
    if (res == SIM_RUN_DONE) {
        ct_check_report rep;
        rc = ct_check(w->db, &rep);
        uint64_t d = 0;
        int drc = sim_db_digest(w->db, &d);
        if (rc != CT_OK) {
            res = sim_world_failf(w, r->wl->count, "final ct_check returned %s: %s",
                                  ct_errname(rc), rep.first_problem);
        } else if (drc != CT_OK || d != sim_state_digest(w->hist.v[w->acked])) {
            res = sim_world_failf(w, r->wl->count, "final content differs from the model (%s)",
                                  ct_errname(drc));
        }
    }
    sim_world_close(w);
    ct_memstore_info info;
    (void)ct_memstore_get_info(r->ps, &info);
    r->trace = prng_hash_u64(r->trace, w->trace);
    r->trace = prng_hash_u64(r->trace, info.trace_hash);
    if (res == SIM_RUN_FAILED) {
        sim_seed_fail(r, w, &c);
    }
    return res;
}

uint32_t sim_key_max_of(const sim_config *cfg)
{
    ct_pagestore *ps = NULL;
    ct_db *db = NULL;
    uint32_t k = 0;
    if (sim_store_create(cfg, &ps) == CT_OK && ct_open(ps, NULL, &db) == CT_OK) {
        k = (uint32_t)ct_key_max(db);
    }
    ct_close(db);
    sim_store_destroy(ps);
    return k;
}

void sim_gen_config_of(const sim_config *cfg, sim_gen_config *g)
{
    memset(g, 0, sizeof(*g));
    g->seed = cfg->seed;
    g->txns = cfg->txns;
    g->key_max = sim_key_max_of(cfg);
    g->page_size = cfg->page_size;
    g->durability = cfg->durability;
    g->swarm = cfg->swarm;
    g->stable_cursor_pct = cfg->stable_cursor_pct;
}

void sim_seed_run_free(sim_seed_run *r)
{
    if (!r) {
        return;
    }
    sim_world_free(&r->golden);
    for (size_t i = 0; i < r->n_cps; i++) {
        ct_memstore_snapshot_free(r->cps[i].snap);
    }
    free(r->cps);
    sim_store_destroy(r->ps);
    sim_workload_free(&r->own);
    free(r);
}

static int phase_wanted(const sim_config *cfg, const sim_case *only, int phase)
{
    if (only) {
        return only->phase == phase;
    }
    switch (phase) {
    case SIM_PHASE_CRASH:
        return cfg->crash_all || cfg->crash_n || cfg->deep_n;
    case SIM_PHASE_SWEEP:
        return cfg->sweeps;
    case SIM_PHASE_FAULTS:
        return cfg->faults != 0;
    default:
        return 1;
    }
}

int sim_run_seed(const sim_config *cfg, const sim_workload *prebuilt, const sim_case *only,
                 sim_counters *cnt, sim_seed_run **out_failure)
{
    sim_seed_run *r = sim_xcalloc(1, sizeof(*r));
    r->cfg = cfg;
    r->cnt = cnt;
    r->trace = prng_hash_u64(0x7365656421ull, cfg->seed);
    sim_bucket_names_init(sim_key_max_of(cfg));
    if (prebuilt) {
        r->wl = prebuilt;
    } else {
        sim_gen_config g;
        sim_gen_config_of(cfg, &g);
        sim_workload_gen(&g, &r->own);
        r->wl = &r->own;
    }
    r->trace = prng_hash_u64(r->trace, sim_workload_digest(r->wl));
    sim_alloc_init(&r->alloc, cfg->seed);
    if (sim_store_create(cfg, &r->ps) != CT_OK) {
        fprintf(stderr, "cowtree-sim: cannot create a memory store\n");
        exit(2);
    }
    sim_run_result res = sim_golden(r);
    if (res == SIM_RUN_DONE && phase_wanted(cfg, only, SIM_PHASE_CRASH)) {
        res = sim_crash_phase(r, only);
    }
    if (res == SIM_RUN_DONE && phase_wanted(cfg, only, SIM_PHASE_SWEEP)) {
        res = sim_sweep_phase(r, only);
    }
    if (res == SIM_RUN_DONE && phase_wanted(cfg, only, SIM_PHASE_FAULTS)) {
        res = sim_fault_phase(r, only);
    }
    cnt->seeds++;
    cnt->trace = prng_hash_u64(cnt->trace, r->trace);
    cnt->seed_trace = r->trace;
    int failed = r->failed;
    if (failed) {
        cnt->failures++;
    }
    if (failed && out_failure) {
        *out_failure = r;
    } else {
        sim_seed_run_free(r);
    }
    return failed;
}
