/*
 * minimize.c - shrinking a failure to a minimal replay line.
 *
 * The predicate: rerun the failing phase (all of it, not just the one
 * case, since op indices move as the workload shrinks) on a reduced
 * workload; it fails or not. Steps: the shortest failing prefix of txns
 * (bisection), fault kinds switched off one by one, then delta debugging
 * (ddmin) over whole txns and then over single ops. Deterministic: the
 * same failure always shrinks to the same line. Bounded by a budget of
 * predicate runs.
 */
#include <string.h>

#include "sim.h"

#define MIN_BUDGET 400

typedef struct mini {
    sim_config cfg;       /* current config (txns, faults shrink) */
    sim_case phase_of;    /* the phase being minimized */
    uint8_t *drop;        /* per op of the full workload: 1 = dropped */
    size_t nops;
    int runs;
    char line[2048];      /* replay line of the last failure seen */
    char why[1200];
} mini;

static sim_config phase_config(const mini *m)
{
    sim_config c = m->cfg;
    c.crash_all = m->phase_of.phase == SIM_PHASE_CRASH && !m->phase_of.deep;
    c.crash_n = 0;
    c.deep_n = m->phase_of.deep ? (c.deep_n ? c.deep_n : 16) : 0;
    c.level2_every = m->phase_of.level2 ? 1 : 0;
    c.sweeps = m->phase_of.phase == SIM_PHASE_SWEEP;
    if (m->phase_of.phase != SIM_PHASE_FAULTS) {
        c.faults = 0;
    }
    c.verbose = 0;
    return c;
}

/* Does the reduced workload (cfg.txns, drop) still fail? */
static int fails(mini *m)
{
    if (m->runs >= MIN_BUDGET) {
        return 0;
    }
    m->runs++;
    sim_config c = phase_config(m);
    sim_workload wl;
    sim_gen_config g;
    memset(&g, 0, sizeof(g));
    /* Generate the full workload (same key limit as the run) and cut it. */
    sim_seed_run *fr = NULL;
    sim_counters cnt;
    memset(&cnt, 0, sizeof(cnt));
    sim_gen_config_of(&c, &g);
    g.txns = m->cfg.txns;
    sim_workload_gen(&g, &wl);
    for (size_t i = 0; i < wl.count && i < m->nops; i++) {
        wl.active[i] = (uint8_t)!m->drop[i];
    }
    int failed = sim_run_seed(&c, &wl, NULL, &cnt, &fr);
    if (failed && fr) {
        sim_replay_format(&m->cfg, &wl, &fr->fail_case, m->line, sizeof(m->line));
        snprintf(m->why, sizeof(m->why), "%s", fr->fail_msg);
        sim_seed_run_free(fr);
    }
    sim_workload_free(&wl);
    return failed;
}

/* Shortest failing txn prefix, by bisection over [1, txns]. */
static void shrink_txns(mini *m)
{
    uint32_t lo = 1;
    uint32_t hi = m->cfg.txns;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t keep = m->cfg.txns;
        m->cfg.txns = mid;
        if (fails(m)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
        m->cfg.txns = keep;
    }
    m->cfg.txns = hi;
    (void)fails(m); /* refresh the replay line */
}

static void shrink_faults(mini *m)
{
    for (int k = 0; k < SIM_F_KINDS; k++) {
        if (!(m->cfg.faults & (1u << k))) {
            continue;
        }
        m->cfg.faults &= ~(1u << k);
        if (!fails(m)) {
            m->cfg.faults |= 1u << k;
        }
    }
    (void)fails(m);
}

typedef struct unit {
    size_t from;
    size_t to;
} unit;

/* The live units [start, start + chunk) in live order, as indexes into the
   units, in idx; returns how many. */
static size_t live_window(const uint8_t *alive, size_t n, size_t start, size_t chunk, size_t *idx)
{
    size_t count = 0;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!alive[i]) {
            continue;
        }
        if (seen >= start && seen < start + chunk) {
            idx[count++] = i;
        }
        seen++;
    }
    return count;
}

/* ddmin over units: drops every chunk whose removal keeps the failure. */
static void ddmin(mini *m, unit *u, size_t n)
{
    uint8_t *alive = sim_xmalloc(n + 1);
    memset(alive, 1, n + 1);
    size_t *idx = sim_xmalloc((n + 1) * sizeof(*idx));
    size_t live = n;
    size_t parts = 2;
    while (live >= 1 && m->runs < MIN_BUDGET) {
        size_t chunk = (live + parts - 1) / parts;
        int progress = 0;
        for (size_t start = 0; start < live && !progress; start += chunk) {
            /* Drop live units [start, start + chunk) (in live order). */
            size_t count = live_window(alive, n, start, chunk, idx);
            for (size_t j = 0; j < count; j++) {
                for (size_t k = u[idx[j]].from; k < u[idx[j]].to; k++) {
                    m->drop[k] |= 2;
                }
            }
            int f = fails(m);
            for (size_t j = 0; j < count; j++) {
                for (size_t k = u[idx[j]].from; k < u[idx[j]].to; k++) {
                    m->drop[k] = f ? 1 : (uint8_t)(m->drop[k] & 1);
                }
                if (f) {
                    alive[idx[j]] = 0;
                }
            }
            if (f) {
                live -= (start + chunk <= live ? chunk : live - start);
                progress = 1;
            }
        }
        if (progress) {
            parts = parts > 2 ? parts - 1 : 2;
        } else if (parts >= live) {
            break;
        } else {
            parts = parts * 2 > live ? live : parts * 2;
        }
    }
    free(idx);
    free(alive);
}

static int structural(int kind)
{
    return kind == SIM_OP_BEGIN || kind == SIM_OP_COMMIT || kind == SIM_OP_ABORT;
}

int sim_minimize(const sim_config *cfg, const sim_case *c, const char *drops, char *line,
                 size_t cap)
{
    mini m;
    memset(&m, 0, sizeof(m));
    m.cfg = *cfg;
    m.phase_of = *c;
    sim_workload wl;
    sim_gen_config g;
    sim_gen_config_of(cfg, &g);
    sim_workload_gen(&g, &wl);
    m.nops = wl.count;
    m.drop = sim_xcalloc(m.nops + 1, 1);
    if (drops) {
        (void)sim_drops_apply(&wl, drops);
        for (size_t i = 0; i < wl.count; i++) {
            m.drop[i] = (uint8_t)!wl.active[i];
        }
    }
    if (!fails(&m)) {
        fprintf(stderr, "minimize: the phase does not fail as a whole; nothing to shrink\n");
        sim_workload_free(&wl);
        free(m.drop);
        return -1;
    }
    fprintf(stderr, "minimize: shrinking txns (%u) ...\n", m.cfg.txns);
    shrink_txns(&m);
    shrink_faults(&m);
    unit *u = sim_xmalloc((wl.count + 1) * sizeof(unit));
    size_t n = 0;
    for (uint32_t t = 0; t < m.cfg.txns && t < wl.txns; t++) {
        u[n++] = (unit){wl.txn_first[t], wl.txn_first[t + 1]};
    }
    fprintf(stderr, "minimize: %u txns; ddmin over txns ...\n", m.cfg.txns);
    ddmin(&m, u, n);
    n = 0;
    size_t end = m.cfg.txns < wl.txns ? wl.txn_first[m.cfg.txns] : wl.count;
    for (size_t i = 0; i < end; i++) {
        if (!m.drop[i] && !structural(wl.ops[i].kind)) {
            u[n++] = (unit){i, i + 1};
        }
    }
    fprintf(stderr, "minimize: ddmin over %zu ops ...\n", n);
    ddmin(&m, u, n);
    (void)fails(&m);
    size_t kept = 0;
    for (size_t i = 0; i < end; i++) {
        kept += !m.drop[i];
    }
    fprintf(stderr, "minimize: %d runs; %zu ops left in %u txns\n", m.runs, kept, m.cfg.txns);
    fprintf(stderr, "minimize: failure: %s\n", m.why);
    snprintf(line, cap, "%s", m.line);
    free(u);
    free(m.drop);
    sim_workload_free(&wl);
    return 0;
}
