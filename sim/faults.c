/*
 * faults.c - fault schedules: the failing allocator, random fault rates
 * for the memory store, countdown error sweeps (SQLite style) and the
 * random-fault phase.
 *
 * Oracle per kind (DESIGN.md, "Device model"): read/write/sync errors,
 * no-space and allocation failures must give errors, never wrong data,
 * and a reopen yields exactly an allowed commit (acked or in flight).
 * Bit rot, misdirected reads and writes, lost writes and lost syncs may
 * legally roll back to an earlier commit or end in CT_CORRUPT; never
 * wrong data.
 * Every rate is an integer ratio; every decision comes from a seeded PRNG.
 */
#include <string.h>

#include "sim.h"

static const char *const fault_names[SIM_F_KINDS] = {
    "bit_rot",     "misdirected", "lost_write", "lost_sync", "read_error",
    "write_error", "sync_error",  "nospace",    "alloc",     "misread"};

const char *sim_fault_name(int kind)
{
    return (kind >= 0 && kind < SIM_F_KINDS) ? fault_names[kind] : "?";
}

int sim_faults_parse(const char *s, unsigned *mask)
{
    *mask = 0;
    if (strcmp(s, "none") == 0 || *s == 0) {
        return 0;
    }
    if (strcmp(s, "all") == 0) {
        *mask = (1u << SIM_F_KINDS) - 1;
        return 0;
    }
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = 0;
        for (int k = 0; k < SIM_F_KINDS; k++) {
            if (strlen(fault_names[k]) == n && strncmp(s, fault_names[k], n) == 0) {
                *mask |= 1u << k;
                found = 1;
            }
        }
        if (!found) {
            return -1;
        }
        s += n;
        s += *s == ',';
    }
    return 0;
}

void sim_faults_format(unsigned mask, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < SIM_F_KINDS; k++) {
        if (mask & (1u << k)) {
            int n = snprintf(out + o, cap - o, "%s%s", o ? "," : "", fault_names[k]);
            if (n < 0 || (size_t)n >= cap - o) {
                break;
            }
            o += (size_t)n;
        }
    }
    if (o == 0) {
        snprintf(out, cap, "none");
    }
}

static const char *const sweep_names[SIM_SWEEP_KINDS] = {"read",   "write", "sync",
                                                         "resize", "alloc", "recovery-read"};

const char *sim_sweep_name(int kind)
{
    return (kind >= 0 && kind < SIM_SWEEP_KINDS) ? sweep_names[kind] : "?";
}

/* ---- the failing allocator ---------------------------------------------- */

static int alloc_fails(sim_alloc *al)
{
    if (al->paused) {
        return 0;
    }
    al->calls++;
    int fail =
        al->fail_at != 0 && (al->calls == al->fail_at || (al->sticky && al->calls > al->fail_at));
    if (!fail && al->ratio.den) {
        fail = prng_chance(&al->rng, al->ratio.num, al->ratio.den);
    }
    al->injected += (uint64_t)fail;
    return fail;
}

static void *al_malloc(void *ctx, size_t n)
{
    return alloc_fails(ctx) ? NULL : malloc(n ? n : 1);
}

static void *al_realloc(void *ctx, void *p, size_t n)
{
    return alloc_fails(ctx) ? NULL : realloc(p, n ? n : 1);
}

static void al_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

void sim_alloc_init(sim_alloc *al, uint64_t seed)
{
    memset(al, 0, sizeof(*al));
    al->a.malloc = al_malloc;
    al->a.realloc = al_realloc;
    al->a.free = al_free;
    al->a.ctx = al;
    prng_seed(&al->rng, prng_derive(seed, 0x616c6c6f63ull)); /* "alloc" */
}

/* ---- random fault rates ----------------------------------------------------- */

/* Rates per kind: one in `den` ops of the kind (reads, writes, syncs...). */
static const uint32_t base_den[SIM_F_KINDS] = {
    150,  /* bit_rot: reads */
    120,  /* misdirected: writes */
    120,  /* lost_write */
    8,    /* lost_sync */
    150,  /* read_error */
    60,   /* write_error */
    15,   /* sync_error */
    60,   /* nospace */
    1000, /* alloc: allocations */
    150,  /* misread: reads */
};

static ct_memstore_faults armed_faults(unsigned mask, uint64_t seed, int swarm)
{
    ct_memstore_faults f;
    memset(&f, 0, sizeof(f));
    prng r;
    prng_seed(&r, prng_derive(seed, 0x7261746573ull)); /* "rates" */
    uint32_t den[SIM_F_KINDS];
    for (int k = 0; k < SIM_F_KINDS; k++) {
        den[k] = base_den[k];
        if (swarm) {
            den[k] = (uint32_t)prng_range(&r, den[k] / 4 + 1, den[k] * 4);
        }
        if (!(mask & (1u << k))) {
            den[k] = 0;
        }
    }
    f.bit_rot = (ct_ratio){den[SIM_F_BIT_ROT] ? 1u : 0u, den[SIM_F_BIT_ROT]};
    f.misdirected_write = (ct_ratio){den[SIM_F_MISDIRECTED] ? 1u : 0u, den[SIM_F_MISDIRECTED]};
    f.lost_write = (ct_ratio){den[SIM_F_LOST_WRITE] ? 1u : 0u, den[SIM_F_LOST_WRITE]};
    f.lost_sync = (ct_ratio){den[SIM_F_LOST_SYNC] ? 1u : 0u, den[SIM_F_LOST_SYNC]};
    f.read_error = (ct_ratio){den[SIM_F_READ_ERROR] ? 1u : 0u, den[SIM_F_READ_ERROR]};
    f.read_error_sticky = (ct_ratio){den[SIM_F_READ_ERROR] ? 1u : 0u, den[SIM_F_READ_ERROR] * 20u};
    f.write_error = (ct_ratio){den[SIM_F_WRITE_ERROR] ? 1u : 0u, den[SIM_F_WRITE_ERROR]};
    f.sync_error = (ct_ratio){den[SIM_F_SYNC_ERROR] ? 1u : 0u, den[SIM_F_SYNC_ERROR]};
    f.nospace = (ct_ratio){den[SIM_F_NOSPACE] ? 1u : 0u, den[SIM_F_NOSPACE]};
    f.misdirected_read = (ct_ratio){den[SIM_F_MISREAD] ? 1u : 0u, den[SIM_F_MISREAD]};
    return f;
}

void sim_faults_arm(sim_world *w, unsigned mask, uint64_t seed)
{
    w->armed = armed_faults(mask, seed, w->cfg->swarm);
    w->fault_mask = mask;
    (void)ct_memstore_set_faults(w->ps, &w->armed, prng_derive(seed, 0x6d656d));
    if (w->alloc) {
        uint32_t den = (mask & (1u << SIM_F_ALLOC)) ? base_den[SIM_F_ALLOC] : 0u;
        w->alloc->ratio = (ct_ratio){den ? 1u : 0u, den};
        w->alloc->paused = 0;
    }
}

void sim_faults_pause(sim_world *w)
{
    if (w->fault_mask) {
        ct_memstore_faults none;
        memset(&none, 0, sizeof(none));
        (void)ct_memstore_set_faults(w->ps, &none, 0);
    }
    if (w->alloc) {
        w->alloc->paused = 1;
    }
}

void sim_faults_resume(sim_world *w)
{
    if (w->fault_mask) {
        (void)ct_memstore_set_faults(w->ps, &w->armed, 0);
    }
    if (w->alloc) {
        w->alloc->paused = 0;
    }
}

/* ---- the random-fault phase ---------------------------------------------------- */

#define READ_KINDS (SIM_F_READ_DAMAGE | (1u << SIM_F_READ_ERROR))

static void count_faults(sim_counters *cnt, ct_pagestore *ps, const sim_alloc *al)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    /* info.faults_injected follows ct_memstore_faults' field order. */
    cnt->faults[SIM_F_WRITE_ERROR] += info.faults_injected[0];
    cnt->faults[SIM_F_READ_ERROR] += info.faults_injected[1] + info.faults_injected[2];
    cnt->faults[SIM_F_SYNC_ERROR] += info.faults_injected[3];
    cnt->faults[SIM_F_BIT_ROT] += info.faults_injected[4];
    cnt->faults[SIM_F_MISDIRECTED] += info.faults_injected[5];
    cnt->faults[SIM_F_LOST_WRITE] += info.faults_injected[6];
    cnt->faults[SIM_F_LOST_SYNC] += info.faults_injected[7];
    cnt->faults[SIM_F_NOSPACE] += info.faults_injected[8];
    cnt->faults[SIM_F_MISREAD] += info.faults_injected[9];
    cnt->faults[SIM_F_ALLOC] += al->injected;
}

/* One round: the workload under random faults with random power cuts. */
static sim_run_result fault_round(sim_seed_run *r, uint32_t round)
{
    sim_config cfg = *r->cfg;
    cfg.seed = prng_derive(r->cfg->seed, 0x6661756c74ull + round); /* "fault" */
    if (cfg.faults & READ_KINDS) {
        cfg.enable_map = 0; /* read faults need every read to go through read() */
    }
    ct_pagestore *ps = NULL;
    if (sim_store_create(&cfg, &ps) != CT_OK) {
        return SIM_RUN_FAILED;
    }
    sim_alloc al;
    sim_alloc_init(&al, cfg.seed);
    sim_world w;
    sim_world_init(&w, r->cfg, r->wl, ps, &al);
    sim_state *empty = sim_state_new();
    sim_world_set_base(&w, empty);
    sim_state_unref(empty);
    w.tolerant = 1;
    w.lenient = (cfg.faults & SIM_F_DAMAGING) != 0;
    w.storage_damage = (cfg.faults & SIM_F_DAMAGING & ~SIM_F_READ_DAMAGE) != 0;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_FAULTS;
    c.seg = round;
    sim_run_result res = SIM_RUN_DONE;
    int rc = sim_world_open(&w);
    if (rc != CT_OK) {
        res = sim_world_failf(&w, 0, "creating the database: %s", ct_errname(rc));
    }
    sim_faults_arm(&w, cfg.faults, cfg.seed);
    prng rng;
    prng_seed(&rng, prng_derive(cfg.seed, 0x637574ull)); /* "cut" */
    for (uint32_t t = 0; t < r->wl->txns && res == SIM_RUN_DONE && !w.dead; t++) {
        int cut = prng_chance(&rng, 1, 6);
        if (cut) {
            (void)ct_memstore_set_power_cut(ps, sim_store_ops(ps) + prng_below(&rng, 16));
            w.stop_on_io = 1;
        }
        res = sim_world_run(&w, r->wl->txn_first[t], r->wl->txn_first[t + 1]);
        if (res == SIM_RUN_STOPPED) {
            res = SIM_RUN_DONE;
        }
        if (cut && res == SIM_RUN_DONE) {
            w.stop_on_io = 0;
            sim_world_close(&w);
            ct_crash_outcome o;
            memset(&o, 0, sizeof(o));
            o.mode = CT_CRASH_RANDOM;
            o.seed = prng_next(&rng);
            sim_world_crash(&w, &o);
            r->cnt->fault_crashes++;
            res = sim_recover(&w, r->cnt, "after a power cut under faults");
        }
    }
    if (res == SIM_RUN_DONE && !w.dead) {
        res = sim_recover(&w, r->cnt, "at the end of a fault run");
    }
    sim_world_close(&w);
    count_faults(r->cnt, ps, &al);
    r->trace = prng_hash_u64(r->trace, w.trace);
    if (res == SIM_RUN_FAILED) {
        sim_seed_fail(r, &w, &c);
    }
    sim_world_free(&w);
    sim_store_destroy(ps);
    return res;
}

sim_run_result sim_fault_phase(sim_seed_run *r, const sim_case *only)
{
    if (only) {
        return fault_round(r, only->seg);
    }
    sim_run_result res = SIM_RUN_DONE;
    uint32_t rounds = r->cfg->fault_rounds ? r->cfg->fault_rounds : 1;
    for (uint32_t i = 0; i < rounds && res == SIM_RUN_DONE; i++) {
        res = fault_round(r, i);
    }
    return res;
}
