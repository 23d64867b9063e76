/*
 * sweep.c - countdown error sweeps (SQLite style).
 *
 * For each of the first segments, each kind (read, write, sync, resize,
 * allocation) and transient then sticky: fail the nth op of the kind for
 * n = 1, 2, ..., 64, then n growing by an eighth per step, until a run
 * injects nothing. Each run replays the segment
 * on a fresh handle with the countdown armed (errors are legal, wrong
 * data never), then disarms, and checks the store three ways in turn:
 * reopen as is, power cut dropping the unsynced log, power cut keeping it.
 * After each: ct_open, ct_check clean, content an allowed commit.
 * The recovery-read kind runs the segment without a fault and arms the
 * read countdown for that check's recovery instead: a read error while
 * recovery validates the newest commit must fail the open (CT_IO, which
 * the check retries), never make it fall back to an older commit.
 */
#include <string.h>

#include "sim.h"

/* Ops of a kind the store's countdown failed so far. */
static uint64_t countdown_failures(ct_pagestore *ps, int kind)
{
    ct_memstore_info info;
    memset(&info, 0, sizeof(info));
    (void)ct_memstore_get_info(ps, &info);
    return info.countdown_failures[kind];
}

static void arm(sim_seed_run *r, int kind, uint64_t n, int sticky)
{
    if (kind == SIM_SWEEP_ALLOC) {
        r->alloc.calls = 0;
        r->alloc.fail_at = n;
        r->alloc.sticky = sticky;
        return;
    }
    ct_memstore_op_kind op =
        kind == SIM_SWEEP_RECOVERY_READ ? CT_MEMSTORE_OP_READ : (ct_memstore_op_kind)kind;
    (void)ct_memstore_fail_nth(r->ps, op, n, sticky);
}

static void disarm(sim_seed_run *r)
{
    r->alloc.fail_at = 0;
    r->alloc.sticky = 0;
    (void)ct_memstore_clear_countdowns(r->ps);
}

/* One sweep run; *injected tells whether the nth op happened. */
static sim_run_result sweep_run(sim_seed_run *r, size_t s, int kind, int sticky, uint64_t n,
                                int *injected)
{
    sim_world w;
    uint64_t base = 0;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_SWEEP;
    c.seg = (uint32_t)s;
    c.cut = n;
    c.sweep_kind = kind;
    c.sweep_sticky = sticky;
    c.sweep_check = (int)(n % 3);
    int in_recovery = kind == SIM_SWEEP_RECOVERY_READ;
    uint64_t before = 0;
    sim_run_result res = sim_segment_start(r, s, &w, &base);
    if (res == SIM_RUN_DONE) {
        w.tolerant = 1;
        if (!in_recovery) {
            before = kind == SIM_SWEEP_ALLOC ? 0 : countdown_failures(r->ps, kind);
            arm(r, kind, n, sticky);
        }
        res = sim_world_run(&w, r->cps[s].op, sim_segment_end(r, s));
        if (kind == SIM_SWEEP_ALLOC) {
            *injected = r->alloc.calls >= n;
        } else if (!in_recovery) {
            *injected = countdown_failures(r->ps, kind) > before;
        }
        sim_world_close(&w);
        disarm(r);
    }
    if (res == SIM_RUN_DONE) {
        if (c.sweep_check) {
            ct_crash_outcome o;
            memset(&o, 0, sizeof(o));
            o.mode = c.sweep_check == 1 ? CT_CRASH_DROP_ALL : CT_CRASH_KEEP_ALL;
            sim_world_crash(&w, &o);
        }
        if (in_recovery) {
            before = countdown_failures(r->ps, CT_MEMSTORE_OP_READ);
            arm(r, kind, n, sticky);
        }
        res = sim_recover(&w, r->cnt, "after a countdown fault");
        if (in_recovery) {
            *injected = countdown_failures(r->ps, CT_MEMSTORE_OP_READ) > before;
            disarm(r);
        }
        sim_world_close(&w);
    }
    r->cnt->sweep_runs++;
    if (*injected) {
        r->cnt->sweep_injected[kind]++;
    }
    r->trace = prng_hash_u64(r->trace, w.trace);
    if (res == SIM_RUN_FAILED) {
        sim_seed_fail(r, &w, &c);
    }
    sim_world_free(&w);
    return res;
}

/* Every n up to SWEEP_EXHAUSTIVE, then n grows by an eighth per step: a
   segment with thousands of allocations or reads stays linear-ish while
   every order of magnitude is still hit. */
#define SWEEP_EXHAUSTIVE 64u

static uint64_t next_n(uint64_t n)
{
    return n < SWEEP_EXHAUSTIVE ? n + 1 : n + n / 8;
}

sim_run_result sim_sweep_phase(sim_seed_run *r, const sim_case *only)
{
    if (only) {
        if (only->seg >= r->n_cps) {
            return sim_replay_stale(r, only);
        }
        int injected = 0;
        return sweep_run(r, only->seg, only->sweep_kind, only->sweep_sticky, only->cut, &injected);
    }
    size_t last_op =
        r->wl->txn_first[r->cfg->sweep_txns < r->wl->txns ? r->cfg->sweep_txns : r->wl->txns];
    sim_run_result res = SIM_RUN_DONE;
    for (size_t s = 0; s < r->n_cps && r->cps[s].op < last_op && res == SIM_RUN_DONE; s++) {
        for (int kind = 0; kind < SIM_SWEEP_KINDS && res == SIM_RUN_DONE; kind++) {
            for (int sticky = 0; sticky < 2 && res == SIM_RUN_DONE; sticky++) {
                int injected = 1;
                for (uint64_t n = 1; injected && res == SIM_RUN_DONE; n = next_n(n)) {
                    injected = 0;
                    res = sweep_run(r, s, kind, sticky, n, &injected);
                }
            }
        }
    }
    return res;
}
