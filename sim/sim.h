/*
 * sim.h - the simulator's shared types: run configuration, the world (an
 * engine handle driven by a workload next to its model), and the
 * interfaces of the modules that drive it.
 *
 * Module map (one concept per file):
 *   model.c     ordered maps, states
 *   opgen.c     workload generator, swarm        exec.c      runs ops: engine + model
 *   oracle.c    digests, identify, image checks  crashpoint.c crash points x outcomes
 *   faults.c    fault rates, countdown sweeps, failing allocator
 *   trace.c     trace hash, replay lines         minimize.c  shrinking a failure
 *   seed.c      per-seed pipeline (golden run, phases)
 *   main.c      flags and the summary
 * The seeded PRNG and hashes (prng.h) are tools/prng/, shared with
 * cowtree-proptest.
 * Determinism: nothing here reads a clock (main.c reads one only to print
 * images per second), uses threads, or draws unseeded randomness.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "cowtree.h"
#include "cowtree/memstore.h"
#include "model.h"
#include "prng.h"
#include "workload.h"

/* ---- fault kinds (faults.c) -------------------------------------------- */

typedef enum sim_fault_kind {
    SIM_F_BIT_ROT = 0,
    SIM_F_MISDIRECTED,
    SIM_F_LOST_WRITE,
    SIM_F_LOST_SYNC,
    SIM_F_READ_ERROR,
    SIM_F_WRITE_ERROR,
    SIM_F_SYNC_ERROR,
    SIM_F_NOSPACE,
    SIM_F_ALLOC,
    SIM_F_MISREAD, /* a read returns another page for one of its own */
    SIM_F_KINDS
} sim_fault_kind;

/* Kinds after which the durable image may be damaged or rolled back: an
   earlier commit or CT_CORRUPT is then a legal outcome. */
#define SIM_F_DAMAGING                                                                             \
    ((1u << SIM_F_MISDIRECTED) | (1u << SIM_F_LOST_WRITE) | (1u << SIM_F_LOST_SYNC) |              \
     (1u << SIM_F_BIT_ROT) | (1u << SIM_F_MISREAD))
/* Damaging kinds that garble what a read returns, never what is stored. */
#define SIM_F_READ_DAMAGE ((1u << SIM_F_BIT_ROT) | (1u << SIM_F_MISREAD))

const char *sim_fault_name(int kind);
/* Parses "a,b,c" or "all" or "none" into a mask; -1 on an unknown name. */
int sim_faults_parse(const char *s, unsigned *mask);
/* Formats a mask as "a,b" ("none" when empty). */
void sim_faults_format(unsigned mask, char *out, size_t cap);

/* Countdown sweep kinds: the memstore's four, allocation, and reads
   inside the recovery that judges the segment's end (the segment itself
   runs without a fault). */
#define SIM_SWEEP_ALLOC 4
#define SIM_SWEEP_RECOVERY_READ 5
#define SIM_SWEEP_KINDS 6
const char *sim_sweep_name(int kind);

/* The failing allocator handed to the engine (ct_options.alloc). */
typedef struct sim_alloc {
    ct_allocator a;
    uint64_t calls;      /* allocation calls so far (malloc + realloc) */
    uint64_t fail_at;    /* countdown: this call number fails; 0 = off */
    int sticky;          /* every call from fail_at on fails */
    ct_ratio ratio;      /* random failures */
    prng rng;
    int paused;          /* no failures while set */
    uint64_t injected;
} sim_alloc;

void sim_alloc_init(sim_alloc *al, uint64_t seed);

struct sim_world;
/* Switches the world's random faults (store and allocator) off and back on,
   keeping the fault PRNG where it was. */
void sim_faults_pause(struct sim_world *w);
void sim_faults_resume(struct sim_world *w);
/* Sets the memstore's and the allocator's random fault rates for mask. */
void sim_faults_arm(struct sim_world *w, unsigned mask, uint64_t seed);

/* ---- configuration ------------------------------------------------------ */

typedef enum sim_phase {
    SIM_PHASE_GOLDEN = 0, /* the workload on one long-lived handle */
    SIM_PHASE_CRASH,      /* crash points x outcomes */
    SIM_PHASE_SWEEP,      /* countdown error sweeps */
    SIM_PHASE_FAULTS,     /* random faults with random power cuts */
    SIM_PHASES
} sim_phase;

typedef struct sim_config {
    uint64_t seed;
    uint32_t txns;
    uint32_t page_size;
    int durability;         /* CT_SYNC_FULL / CT_SYNC_NONE */
    int enable_map;
    uint32_t cache_pages;
    uint32_t autosync_pages; /* ct_options.autosync_pages (CT_SYNC_NONE) */
    int swarm;
    int crash_all;          /* every crash point */
    uint32_t crash_n;       /* else this many sampled crash points */
    uint32_t level2_every;  /* two-level crashes on every Nth image (0 = off) */
    uint32_t meta_every;    /* meta-loss check on every Nth image (0 = off) */
    uint32_t subset_max;    /* every subset up to this many pending entries */
    unsigned faults;        /* random-fault kinds for the fault phase */
    uint32_t fault_rounds;  /* fault-phase runs per seed */
    int sweeps;             /* run the countdown sweeps */
    uint32_t sweep_txns;    /* txns covered by the sweeps */
    uint32_t deep_n;        /* crash points on the long-lived handle's path */
    int stable_cursor_pct;  /* range deletes relying on cursor stability; -1 default */
    int verbose;
    const char *store;      /* --store spec (store.c); NULL = memory */
} sim_config;

/* A case that replays exactly (trace.c formats and parses it). */
typedef struct sim_case {
    int phase;
    uint32_t seg;           /* crash/sweep: segment index; faults: round */
    uint64_t cut;           /* crash: power cut op index; sweep: n */
    ct_crash_outcome out;   /* crash outcome */
    int level2;             /* 1: the failure is in the second level */
    uint64_t cut2;          /* level 2: cut relative to the recovered store */
    ct_crash_outcome out2;
    int sweep_kind;
    int sweep_sticky;
    int sweep_check;        /* 0 same handle, 1 reopen, 2 crash */
    int deep;               /* crash on the long-lived handle's path */
    int meta_damage;        /* the failure is in the meta-loss check (1..3) */
} sim_case;

/* ---- the world (exec.c) -------------------------------------------------- */

/* "No particular op" for failures found by the oracle after a crash. */
#define SIM_NOOP SIZE_MAX

typedef enum sim_run_result { SIM_RUN_DONE = 0, SIM_RUN_STOPPED, SIM_RUN_FAILED } sim_run_result;

typedef struct sim_reader {
    ct_txn *t;
    sim_state *st;
} sim_reader;

#define SIM_INFLIGHT_MAX 64

typedef struct sim_world {
    const sim_config *cfg;
    const sim_workload *w;
    ct_pagestore *ps;
    ct_db *db;
    sim_alloc *alloc;
    size_t key_max;
    int tolerant;      /* store/alloc errors are expected */
    int lenient;       /* CT_CORRUPT and rollbacks are legal (damaging faults) */
    int storage_damage; /* the durable image itself may be damaged: CT_CORRUPT stays
                           legal with faults paused (not so for bit rot alone) */
    int stop_on_io;    /* stop at the first store failure (power cut) */
    int check_commits; /* ct_check after every commit */
    int dead;          /* the db could not be reopened (legal in lenient mode) */
    /* A failed sync leaves unsynced writes in an unknown durable state; a
       reopen of the view (no crash) then lets the new handle's sync vouch
       for them. Until the next crash, the durable image is unknown: the
       recovery after that crash may legally give an earlier commit or
       CT_CORRUPT (issue 4: "failed or lost syncs"). */
    uint64_t failed_syncs_mark; /* store's failed syncs when last judged */
    uint64_t failed_writes_mark; /* store's failed writes when last judged */
    uint64_t max_id;             /* highest txn id a commit or failed attempt used (0: none) */
    int durable_unknown;
    int after_crash;    /* sim_world_crash ran since the last recovery */
    int judge_lenient;  /* the recovery after this crash may roll back/CT_CORRUPT */
    unsigned fault_mask; /* random faults to restore after a pause */
    ct_memstore_faults armed;
    /* model */
    sim_hist hist;
    size_t acked;      /* last acknowledged commit */
    size_t floor;      /* last commit known durable */
    size_t inflight[SIM_INFLIGHT_MAX]; /* failed commits since floor */
    int n_inflight;
    /* the open write txn */
    ct_txn *wtxn;
    int txn_open;
    int txn_doomed;    /* a write op failed: the rest is skipped */
    sim_state *work;
    ct_bucket *bh[SIM_BUCKETS];
    sim_reader rd[SIM_READERS];
    uint8_t *vbuf;
    size_t vbuf_cap;
    /* outcome */
    size_t cur_op;     /* op being executed */
    uint64_t trace;
    int failed;
    size_t fail_op;
    char msg[1024];
    uint64_t store_errors; /* tolerated errors seen */
} sim_world;

void sim_world_init(sim_world *w, const sim_config *cfg, const sim_workload *wl,
                    ct_pagestore *ps, sim_alloc *alloc);
/* Model starts from state s (taken by reference) as acked and durable. */
void sim_world_set_base(sim_world *w, sim_state *s);
/* Model starts from h[0..upto] (references), h[upto] acked and durable:
   older commits stay identifiable. */
void sim_world_set_history(sim_world *w, const sim_hist *h, size_t upto);
void sim_world_free(sim_world *w);
int sim_world_open(sim_world *w);
/* Ends readers and the write txn, closes the engine handle. */
void sim_world_close(sim_world *w);
/* Runs active ops [from, to). */
sim_run_result sim_world_run(sim_world *w, size_t from, size_t to);
/* Records a failure (first one wins); returns SIM_RUN_FAILED. */
sim_run_result sim_world_failf(sim_world *w, size_t op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_world_trace(sim_world *w, uint64_t v);
/* Whether rc is a legal error in this world (faults, power cut). */
int sim_world_legal(const sim_world *w, int rc);
ct_options sim_world_options(const sim_world *w);
/* A power cut now with outcome o (ct_memstore_crash) and the bookkeeping
   of what the next recovery may legally yield. */
void sim_world_crash(sim_world *w, const ct_crash_outcome *o);
/* Failed syncs the store reported so far (countdown and random). */
uint64_t sim_failed_syncs(ct_pagestore *ps);
/* Failed writes the store reported so far (countdown, write_error, nospace). */
uint64_t sim_failed_writes(ct_pagestore *ps);
/* After a reopen or recovery matched history index m: model follows it. */
void sim_world_rebase(sim_world *w, size_t m);

/* ---- oracle (oracle.c) --------------------------------------------------- */

/* Digest of what txn t sees, comparable with sim_state_digest. */
int sim_txn_digest(ct_txn *t, uint64_t *out);
int sim_db_digest(ct_db *db, uint64_t *out);
/* Finds the history index whose content the open db holds, among the
   allowed ones ([floor..acked] + in-flight; all of history if lenient).
   CT_OK and *m, CT_NOTFOUND (content matches nothing allowed), or the
   engine's error. */
int sim_identify(sim_world *w, int any, size_t *m);
/* Closes the handle if open, reopens with faults paused, runs ct_check,
   identifies the content and rebases the model on it (the handle stays
   open). Lenient worlds may end dead (CT_CORRUPT). */
struct sim_counters;
sim_run_result sim_recover(sim_world *w, struct sim_counters *cnt, const char *when);
/* Describes how the open db differs from history index m. */
void sim_describe_diff(sim_world *w, size_t m, char *out, size_t cap);

typedef struct sim_counters {
    uint64_t seeds;
    uint64_t crash_points;
    uint64_t images;
    uint64_t images_l2;
    uint64_t images_meta;      /* meta-loss images */
    uint64_t corrupt_detected; /* CT_CORRUPT reported where legal */
    uint64_t rollbacks;        /* earlier commit recovered where legal */
    uint64_t faults[SIM_F_KINDS];
    uint64_t sweep_injected[SIM_SWEEP_KINDS];
    uint64_t sweep_runs;
    uint64_t fault_crashes;
    uint64_t failures;
    uint64_t trace;
    uint64_t seed_trace;       /* trace of the last seed run */
    uint64_t store_mismatches; /* --store: reads of the real store unlike the writes */
} sim_counters;

/* Checks the crashed store of world w: open, ct_check, content is an
   allowed commit, one more commit works. With a level-2 plan it also
   crashes inside recovery and that commit. On failure it fills w's
   failure fields and returns SIM_RUN_FAILED. *matched gets the index. */
typedef struct sim_image_plan {
    int level2;            /* enumerate second-level crashes */
    int only_l2;           /* replay: one second-level case */
    uint64_t cut2;
    ct_crash_outcome out2;
    uint64_t image_id;     /* seeds the extra commit and level-2 outcomes */
    int meta_damage;       /* also damage the newest valid meta: 1 zero, 2 bit, 3 garbage */
} sim_image_plan;
sim_run_result sim_check_image(sim_world *w, const sim_image_plan *plan, sim_counters *cnt,
                               sim_case *fail_case);

/* ---- phases --------------------------------------------------------------- */

/* Golden-run checkpoints: store snapshots at segment starts. */
typedef struct sim_checkpoint {
    size_t op;               /* first op of the segment */
    ct_memstore_snapshot *snap;
    size_t hist_index;       /* the world's acked index there */
} sim_checkpoint;

typedef struct sim_seed_run {
    const sim_config *cfg;
    sim_workload own;        /* generated here unless prebuilt */
    const sim_workload *wl;
    sim_alloc alloc;
    ct_pagestore *ps;
    sim_world golden;
    sim_checkpoint *cps;
    size_t n_cps;
    sim_counters *cnt;
    int failed;
    sim_case fail_case;
    char fail_msg[1200];
    size_t fail_op;
    uint64_t trace;
    uint64_t image_seq;      /* images so far (picks level-2 images) */
} sim_seed_run;

/* ---- the store (store.c) ------------------------------------------------ */

/* 1 for the memory store (spec NULL or "memory"). */
int sim_store_is_memory(const char *spec);
/* 0 if spec is memory, file:DIR or plugin:LIB.so:DIR with DIR writable;
   else -1 and a message in err. */
int sim_store_spec_check(const char *spec, char *err, size_t cap);
/* Creates a store as the config says (store kind, page size, map, seed). */
int sim_store_create(const sim_config *cfg, ct_pagestore **out);
/* Closes a store from sim_store_create and removes its file. NULL-safe. */
void sim_store_destroy(ct_pagestore *ps);
/* I/O ops the store has numbered so far. */
uint64_t sim_store_ops(ct_pagestore *ps);
/* Reads the real store returned unlike what was written (0 for memory). */
uint64_t sim_store_inner_mismatches(ct_pagestore *ps);
/* Mismatching reads of every store destroyed since the last call. */
uint64_t sim_store_take_mismatches(void);

/* Helpers shared by the phases (seed.c, crashpoint.c). */
/* Restores checkpoint s into a new world on the seed's store and opens it;
   *base gets the store's op count after the open. */
sim_run_result sim_segment_start(sim_seed_run *r, size_t s, sim_world *w, uint64_t *base);
/* End op (exclusive) of segment s. */
size_t sim_segment_end(const sim_seed_run *r, size_t s);
/* Records the seed's first failure from world w and case c. */
void sim_seed_fail(sim_seed_run *r, sim_world *w, const sim_case *c);
/* A replayed case naming a segment this run does not have (a line recorded
   by another build): a failure, never a silent pass or a read past the
   checkpoints. */
sim_run_result sim_replay_stale(sim_seed_run *r, const sim_case *c);

/* The generator's configuration for cfg (key limit included). */
void sim_gen_config_of(const sim_config *cfg, sim_gen_config *g);
/* The key limit of the configured page size, from a scratch database. */
uint32_t sim_key_max_of(const sim_config *cfg);
/* Golden run with checkpoints; SIM_RUN_FAILED on an oracle failure. */
sim_run_result sim_golden(sim_seed_run *r);
/* Crash phase (all or sampled points; `only` replays one case). */
sim_run_result sim_crash_phase(sim_seed_run *r, const sim_case *only);
sim_run_result sim_sweep_phase(sim_seed_run *r, const sim_case *only);
sim_run_result sim_fault_phase(sim_seed_run *r, const sim_case *only);

/* One seed's whole pipeline (seed.c). only != NULL replays one case. */
int sim_run_seed(const sim_config *cfg, const sim_workload *prebuilt, const sim_case *only,
                 sim_counters *cnt, sim_seed_run **out_failure);
void sim_seed_run_free(sim_seed_run *r);

/* ---- raw meta slots (metaslot.c) ------------------------------------------ */

typedef struct sim_meta_info {
    int valid[2];       /* page checksum correct */
    uint64_t txnid[2];  /* header txn id (meaningful when valid) */
} sim_meta_info;
int sim_meta_slots(ct_pagestore *ps, sim_meta_info *out);

/* ---- trace and replay lines (trace.c) ---------------------------------- */

/* "full", "none" or "group". */
const char *sim_durability_name(int durability);
void sim_outcome_format(const ct_crash_outcome *o, char *out, size_t cap);
int sim_outcome_parse(const char *s, ct_crash_outcome *o);
/* The replay line of a case: "seed=... txns=... phase=... ...". */
void sim_replay_format(const sim_config *cfg, const sim_workload *wl, const sim_case *c,
                       char *out, size_t cap);
/* Parses a replay line into cfg, case and an op-drop list (minimization). */
int sim_replay_parse(const char *line, sim_config *cfg, sim_case *c, char **drops);
/* Applies a drop list ("3-7,12") to a workload's active mask. */
int sim_drops_apply(sim_workload *wl, const char *drops);
/* Seed from "123", "0x1f" or a 40-hex commit id. -1 if malformed. */
int sim_seed_parse(const char *s, uint64_t *seed);

/* ---- self-test (selftest.c) ------------------------------------------------- */

/* Unit checks of the pure modules; 0 when they pass. */
int sim_self_test(void);

/* ---- minimization (minimize.c) -------------------------------------------- */

/* Shrinks a failing seed run; prints and returns the minimal replay line. */
int sim_minimize(const sim_config *cfg, const sim_case *c, const char *drops, char *line,
                 size_t cap);

#endif
