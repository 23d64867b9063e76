/*
 * workload.h - a recorded workload: a flat list of concrete operations.
 *
 * Owns: the op list and its key arena. Ops are concrete (key bytes, value
 * length and seed), so a workload replays without the generator, and
 * subsets of it (minimization) stay meaningful: an op whose precondition
 * no longer holds (a delete of a missing key, a check of a reader that was
 * never opened) is judged or skipped by the executor against the model.
 * Write txn t is ops[txn_first[t] .. txn_first[t + 1]): its boundary ops
 * (readers, sync, reopen), then BEGIN .. COMMIT/ABORT. Generation is
 * prefix-stable: the first N txns of a workload of M > N txns are the
 * workload of N txns.
 */
#ifndef SIM_WORKLOAD_H
#define SIM_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "util.h"

/* SIM_OP_PUT's arg. */
enum { SIM_PUT_PLAIN = 0, SIM_PUT_NOOVERWRITE = 1, SIM_PUT_APPEND = 2 };

typedef enum sim_op_kind {
    SIM_OP_BEGIN = 0,  /* begin the write txn */
    SIM_OP_PUT,        /* b, key, value (vlen, vseed); arg SIM_PUT_NOOVERWRITE or
                          SIM_PUT_APPEND: that flag */
    SIM_OP_DEL,        /* b, key */
    SIM_OP_RANGE_DEL,  /* b, [key, key2) through a cursor; arg bit 0: to the end;
                          bit 1: rely on the cursor staying valid across deletes
                          (else re-seek after each delete) */
    SIM_OP_GET,        /* b, key: read-your-writes check */
    SIM_OP_SCAN,       /* b: arg 0 forward, 1 backward, 2 seek key and 16 steps */
    SIM_OP_BCREATE,    /* b; arg 1 = CT_EXCL */
    SIM_OP_BDROP,      /* b */
    SIM_OP_COMMIT,
    SIM_OP_ABORT,
    SIM_OP_RBEGIN,     /* slot = arg */
    SIM_OP_RCHECK,     /* slot = arg & 3, mode = arg >> 2 (0 full, 1 gets, 2 one bucket) */
    SIM_OP_REND,       /* slot = arg */
    SIM_OP_SYNC,
    SIM_OP_REOPEN,
    SIM_OP_KINDS
} sim_op_kind;

/* Reader slots (snapshots held open across commits). */
#define SIM_READERS 4

typedef struct sim_op {
    uint8_t kind;
    uint8_t b;
    uint8_t arg;
    uint8_t pad;
    uint32_t txn; /* write txn this op belongs to */
    uint32_t klen;
    uint32_t k2len;
    uint32_t vlen;
    const uint8_t *key;
    const uint8_t *key2;
    uint64_t vseed;
    uint64_t vhash;
} sim_op;

/* A put op that m (its bucket before the put) answers with CT_EXISTS:
   CT_NOOVERWRITE on a present key, CT_APPEND on a key not above all. */
static inline int sim_put_refused(const sim_bmap *m, const sim_op *op)
{
    return (op->arg == SIM_PUT_NOOVERWRITE && sim_bmap_get(m, op->key, op->klen)) ||
           (op->arg == SIM_PUT_APPEND && !sim_bmap_above_all(m, op->key, op->klen));
}

/* Swarm profile: what a seed's workload is made of. */
enum { SIM_W_PUT, SIM_W_DEL, SIM_W_RANGE, SIM_W_GET, SIM_W_SCAN, SIM_W_BCREATE, SIM_W_BDROP,
       SIM_W_OPS };
enum { SIM_K_SEQ, SIM_K_SHORT, SIM_K_LONG, SIM_K_PREFIX, SIM_K_EMPTY, SIM_K_TOOBIG, SIM_K_KINDS };
enum { SIM_V_EMPTY, SIM_V_SMALL, SIM_V_MEDIUM, SIM_V_EDGE, SIM_V_OVERFLOW, SIM_V_HUGE,
       SIM_V_KINDS };

typedef struct sim_profile {
    uint32_t op_w[SIM_W_OPS];
    uint32_t key_w[SIM_K_KINDS];
    uint32_t val_w[SIM_V_KINDS];
    uint32_t ops_max;       /* ops in an ordinary txn: 1..ops_max */
    uint32_t bulk_pct;      /* % of txns with 20..120 ops */
    uint32_t abort_pct;
    uint32_t reader_pct;    /* % chance of a reader op before each txn */
    uint32_t sync_every;    /* CT_SYNC_NONE: a sync after ~this many commits */
    uint32_t reopen_pct;
    uint32_t overwrite_pct; /* % of puts that pick an existing key */
    uint32_t bucket_pct;    /* % of ops that target a named bucket */
    uint32_t noover_pct;    /* % of puts with CT_NOOVERWRITE */
    uint32_t append_pct;    /* % of puts with CT_APPEND (half above every key) */
    uint32_t stable_cursor_pct; /* % of range deletes relying on cursor stability */
} sim_profile;

typedef struct sim_gen_config {
    uint64_t seed;
    uint32_t txns;
    uint32_t key_max;
    uint32_t page_size;
    int durability; /* CT_SYNC_FULL / CT_SYNC_NONE */
    int swarm;
    int stable_cursor_pct; /* -1: the profile's */
} sim_gen_config;

typedef struct sim_workload {
    sim_op *ops;
    size_t count;
    size_t cap;
    size_t *txn_first; /* txns + 1 entries */
    uint32_t txns;
    uint8_t *active;   /* per op: 0 = dropped (minimization) */
    uint32_t vlen_max; /* largest value in the workload */
    sim_profile prof;
    sim_arena arena;
} sim_workload;

/* The profile of a seed: fixed defaults, or swarm-varied. */
void sim_profile_make(uint64_t seed, int swarm, uint32_t page_size, sim_profile *out);
/* Generates the workload of cfg (prefix-stable in cfg->txns). */
void sim_workload_gen(const sim_gen_config *cfg, sim_workload *w);
/* Cuts w to its first n txns. */
void sim_workload_truncate(sim_workload *w, uint32_t n);
void sim_workload_free(sim_workload *w);
/* Digest of the active ops (for the trace). */
uint64_t sim_workload_digest(const sim_workload *w);
const char *sim_op_name(int kind);

#endif
