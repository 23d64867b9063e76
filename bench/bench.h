/*
 * bench.h - what main.c and workloads.c share: the parameters of a run,
 * the result rows, and the per-engine runner.
 */
#ifndef COWTREE_BENCH_BENCH_H
#define COWTREE_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* Longest path we build for a database directory. */
#define BENCH_PATH_MAX 4096
/* Readers beside the writer in readwhilewriting (the figure). */
#define BENCH_RWW_READERS 2
/* Committing threads in fillsyncmt: default, and the cap (a thread each;
   far more than the cores, enough to show how a sync is shared). */
#define BENCH_SYNC_THREADS_DEFAULT 4
#define BENCH_SYNC_THREADS_MAX 64
/* Rounds --repeat may ask for (each is a full run of every engine). */
#define BENCH_REPEAT_MAX 15

typedef struct bench_config {
    uint64_t num;            /* keys in the database */
    size_t key_size_bytes;   /* every key (decimal, zero-padded) */
    size_t value_size_bytes; /* every value (random bytes) */
    uint64_t batch;          /* ops per write txn and per read txn */
    uint64_t reads;          /* gets in readrandom and in readwhilewriting */
    uint64_t seeks;          /* seeks in seekrandom */
    uint64_t seek_nexts;     /* entries read after each seek */
    uint64_t sync_ops;       /* durable 1-put commits in fillsync and in fillsyncmt */
    uint64_t sync_threads;   /* threads committing at once in fillsyncmt */
    uint64_t big_count;      /* values in bigvalue */
    size_t big_size_bytes;   /* size of each of them */
    uint64_t big_batch;      /* puts per write txn in bigvalue */
    uint64_t seed;
    const char *dir;  /* parent of the per-engine temp directories */
    int keep;         /* do not delete the directories */
    int bulk_durable; /* bulk workloads commit durably too (--bulk-durable) */
    int pair;         /* engines back to back for each workload (--pair, main.c) */
    uint64_t repeat;  /* rounds of every engine; each row reports its median */
} bench_config;

/* One row of output: a workload (or half of one: bigvalue_put/_get) on one engine. */
typedef struct bench_result {
    int done; /* the workload finished (ok or failed) */
    int ok;
    int unsupported; /* with done and !ok: the adapter lacks what the workload needs */
    uint64_t ops;
    double seconds;
    uint64_t db_bytes;    /* size of the db's files afterwards (write workloads), else 0 */
    uint64_t alloc_bytes; /* bytes allocated to them on disk */
    uint64_t raw_bytes;   /* live keys * (key + value size) then */
    char note[160];       /* error message, or extra figures */
} bench_result;

/* The benchmarks, in the default order. bigvalue yields two rows. */
#define BENCH_ROWS(X)                                                                              \
    X(FILLSEQ, "fillseq")                                                                          \
    X(FILLRANDOM, "fillrandom")                                                                    \
    X(OVERWRITE, "overwrite")                                                                      \
    X(READRANDOM, "readrandom")                                                                    \
    X(READSEQ, "readseq")                                                                          \
    X(READREVERSE, "readreverse")                                                                  \
    X(SEEKRANDOM, "seekrandom")                                                                    \
    X(READWHILEWRITING, "readwhilewriting")                                                        \
    X(DELETERANDOM, "deleterandom")                                                                \
    X(FILLSYNC, "fillsync")                                                                        \
    X(FILLSYNCMT, "fillsyncmt")                                                                    \
    X(BIGVALUE_PUT, "bigvalue_put")                                                                \
    X(BIGVALUE_GET, "bigvalue_get")

enum bench_row {
#define BENCH_ROW_ENUM(id, name) BENCH_ROW_##id,
    BENCH_ROWS(BENCH_ROW_ENUM)
#undef BENCH_ROW_ENUM
        BENCH_ROW_COUNT
};

extern const char *const bench_row_names[BENCH_ROW_COUNT];

/* Runs the benchmarks listed in order (BENCH_ROW_* values; BIGVALUE_PUT
 * stands for bigvalue) on engine eng, each database in a fresh directory
 * under cfg->dir, filling results[row]. Returns 0, or -1 when the engine
 * could not run at all (the message is in results' notes). */
int bench_run_engine(const bench_engine *eng, const bench_config *cfg, const int *benchmarks,
                     size_t benchmark_count, bench_result *results);

/* Monotonic clock in seconds. */
double bench_now_s(void);
/* Sum of the sizes (st_size) of the files under dir; *alloc_bytes gets the
 * bytes allocated to them (st_blocks * 512: counts preallocation, not holes). */
uint64_t bench_dir_bytes(const char *dir, uint64_t *alloc_bytes);
/* Removes dir and everything below it. */
void bench_rm_rf(const char *dir);

#endif /* COWTREE_BENCH_BENCH_H */
