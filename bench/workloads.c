/*
 * workloads.c - the db_bench workloads, run on one engine through the
 * bench_engine interface.
 *
 * Every engine sees the same keys in the same order: sequences come from
 * a splitmix64 generator seeded by --seed and the workload, never from
 * the engine or the clock. Keys are the decimal index, zero-padded to
 * --key-size bytes (so byte order is numeric order); values are slices of
 * a pool of random bytes.
 *
 * Database state between workloads (as db_bench): fillseq and fillrandom
 * each start a fresh database holding keys 0..num-1; overwrite, the reads
 * and deleterandom use the current one, and when there is none (or the
 * last workload emptied it) an untimed fillrandom loads one first.
 * fillsync, fillsyncmt and bigvalue use their own fresh databases.
 *
 * Durability: fillsync commits durably one put at a time; fillsyncmt does
 * the same from --sync-threads threads at once (BENCH_DURABLE_SHARED, so
 * engines with group commit share syncs); every other
 * workload commits txns of --batch ops without syncing and syncs once at
 * its end (or, with --bulk-durable, makes every txn durable).
 * Timing covers the operations and, for write workloads, the final sync
 * (so every engine's work reaches the disk inside the timed region); it
 * excludes opening, closing and the untimed loads, and the deletion of
 * the previous database, which is synced before the next workload starts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

const char *const bench_row_names[BENCH_ROW_COUNT] = {
#define BENCH_ROW_NAME(id, name) name,
    BENCH_ROWS(BENCH_ROW_NAME)
#undef BENCH_ROW_NAME
};

/* Keys are built on the stack: --key-size is capped at this (every peer
 * accepts it: LMDB's default limit is 511). */
#define BENCH_KEY_MAX 511

typedef struct runner {
    const bench_engine *eng;
    const bench_config *cfg;
    char root[BENCH_PATH_MAX];  /* this engine's temp directory */
    char dbdir[BENCH_PATH_MAX]; /* the current database's directory */
    unsigned db_seq;
    bench_db *db;
    int loaded;         /* db holds exactly keys 0..num-1 */
    uint64_t live_keys; /* entries in db */
    size_t live_vsize;  /* their value size */
    uint8_t *pool;      /* random bytes values are sliced from */
    size_t pool_len;
    uint32_t *perm; /* scratch: a permutation of 0..num-1 */
} runner;

/* Keeps the compiler from dropping reads whose results are unused; added
 * to once per loop, from any thread. */
static _Atomic uint64_t sink;

static void consume(uint64_t acc)
{
    atomic_fetch_add_explicit(&sink, acc, memory_order_relaxed);
}

/* ---- deterministic sequences -------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n; /* bias below 2^-40 for n < 2^24: irrelevant here */
}

static uint64_t seed_for(const runner *r, int row, uint64_t salt)
{
    return r->cfg->seed ^ ((uint64_t)(row + 1) * 0x100000001b3u) ^ (salt << 48);
}

static void make_key(uint8_t *buf, size_t ks, uint64_t idx)
{
    for (size_t i = ks; i > 0; i--) {
        buf[i - 1] = (uint8_t)('0' + idx % 10u);
        idx /= 10u;
    }
}

static const uint8_t *value_for(const runner *r, uint64_t *s, size_t vsize)
{
    return r->pool + rng_below(s, r->pool_len - vsize + 1u);
}

/* Fills r->perm with a shuffled 0..n-1 (Fisher-Yates). */
static void shuffle(runner *r, uint64_t n, uint64_t seed)
{
    for (uint64_t i = 0; i < n; i++) {
        r->perm[i] = (uint32_t)i;
    }
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rng_below(&seed, i);
        uint32_t t = r->perm[i - 1];
        r->perm[i - 1] = r->perm[j];
        r->perm[j] = t;
    }
}

/* ---- database lifecycle ------------------------------------------------- */

static void close_db(runner *r)
{
    if (r->db != NULL) {
        r->eng->close(r->db);
        r->db = NULL;
        if (!r->cfg->keep) {
            bench_rm_rf(r->dbdir);
            /* Settle the deletion before anything is timed: on a filesystem
               mounted with discard (this project's VMs' ext4), the freed
               blocks are discarded at the next journal commit, which the
               next workload's sync would otherwise pay for, whichever
               engine deleted them. */
            sync();
        }
    }
    r->loaded = 0;
    r->live_keys = 0;
}

/* The durability of the bulk workloads' databases (all but fillsync). */
static enum bench_durability bulk(const runner *r)
{
    return r->cfg->bulk_durable ? BENCH_DURABLE : BENCH_BULK;
}

static int fresh_db(runner *r, enum bench_durability durability)
{
    close_db(r);
    r->db_seq++;
    if (snprintf(r->dbdir, sizeof r->dbdir, "%s/db%u", r->root, r->db_seq) >=
        (int)sizeof r->dbdir) {
        return bench_fail("path too long");
    }
    if (mkdir(r->dbdir, 0755) != 0) {
        return bench_fail("mkdir %s: %s", r->dbdir, strerror(errno));
    }
    return r->eng->open(r->dbdir, durability, &r->db);
}

/* ---- building blocks ---------------------------------------------------- */

/* Puts n keys (order[i], or i when order is NULL) in write txns of batch
 * puts, then syncs. */
static int put_keys(runner *r, const uint32_t *order, uint64_t n, uint64_t batch, size_t vsize,
                    int append, uint64_t seed)
{
    const bench_engine *e = r->eng;
    uint8_t key[BENCH_KEY_MAX];
    size_t ks = r->cfg->key_size_bytes;
    for (uint64_t i = 0; i < n;) {
        if (e->begin(r->db) != 0) {
            return -1;
        }
        for (uint64_t end = i + batch < n ? i + batch : n; i < end; i++) {
            make_key(key, ks, order != NULL ? order[i] : i);
            if (e->put(r->db, key, ks, value_for(r, &seed, vsize), vsize, append) != 0) {
                return -1;
            }
        }
        if (e->commit(r->db) != 0) {
            return -1;
        }
    }
    return e->sync(r->db);
}

/* An untimed fillrandom when the database does not hold keys 0..num-1. */
static int ensure_loaded(runner *r)
{
    if (r->loaded) {
        return 0;
    }
    if (fresh_db(r, bulk(r)) != 0) {
        return -1;
    }
    shuffle(r, r->cfg->num, seed_for(r, BENCH_ROW_FILLRANDOM, 0));
    if (put_keys(r, r->perm, r->cfg->num, r->cfg->batch, r->cfg->value_size_bytes, 0,
                 seed_for(r, BENCH_ROW_FILLRANDOM, 1)) != 0) {
        return -1;
    }
    r->loaded = 1;
    r->live_keys = r->cfg->num;
    r->live_vsize = r->cfg->value_size_bytes;
    return 0;
}

/* n gets of uniformly random keys below key_count, in read txns of batch
 * gets. *missing counts absent keys and wrong value sizes. */
static int get_random(const runner *r, bench_reader *rd, uint64_t n, uint64_t key_count,
                      size_t vsize, uint64_t seed, uint64_t *missing)
{
    const bench_engine *e = r->eng;
    uint8_t key[BENCH_KEY_MAX];
    size_t ks = r->cfg->key_size_bytes;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n;) {
        if (e->read_begin(rd) != 0) {
            return -1;
        }
        for (uint64_t end = i + r->cfg->batch < n ? i + r->cfg->batch : n; i < end; i++) {
            const void *v;
            size_t vl;
            make_key(key, ks, rng_below(&seed, key_count));
            int rc = e->get(rd, key, ks, &v, &vl);
            if (rc < 0) {
                return -1;
            }
            if (rc > 0 || vl != vsize) {
                (*missing)++;
                continue;
            }
            acc += ((const uint8_t *)v)[0] + ((const uint8_t *)v)[vl - 1] + vl;
        }
        if (e->read_end(rd) != 0) {
            return -1;
        }
    }
    consume(acc);
    return 0;
}

static void set_ok(bench_result *res, uint64_t ops, double t0)
{
    res->seconds = bench_now_s() - t0;
    res->ops = ops;
    res->ok = 1;
    res->done = 1;
}

static void set_size(const runner *r, bench_result *res)
{
    res->db_bytes = bench_dir_bytes(r->dbdir, &res->alloc_bytes);
    res->raw_bytes = r->live_keys * (r->cfg->key_size_bytes + r->live_vsize);
}

/* ---- the workloads: each returns -1 with bench_fail's message on error --- */

static int run_fill(runner *r, int row, bench_result *res)
{
    const bench_config *c = r->cfg;
    if (fresh_db(r, bulk(r)) != 0) {
        return -1;
    }
    int seq = row == BENCH_ROW_FILLSEQ;
    if (!seq) {
        shuffle(r, c->num, seed_for(r, BENCH_ROW_FILLRANDOM, 0));
    }
    double t0 = bench_now_s();
    if (put_keys(r, seq ? NULL : r->perm, c->num, c->batch, c->value_size_bytes, seq,
                 seed_for(r, BENCH_ROW_FILLRANDOM, 1)) != 0) {
        return -1;
    }
    set_ok(res, c->num, t0);
    r->loaded = 1;
    r->live_keys = c->num;
    r->live_vsize = c->value_size_bytes;
    set_size(r, res);
    return 0;
}

static int run_overwrite(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    if (ensure_loaded(r) != 0) {
        return -1;
    }
    uint64_t s = seed_for(r, BENCH_ROW_OVERWRITE, 0);
    for (uint64_t i = 0; i < c->num; i++) {
        r->perm[i] = (uint32_t)rng_below(&s, c->num); /* with replacement */
    }
    double t0 = bench_now_s();
    if (put_keys(r, r->perm, c->num, c->batch, c->value_size_bytes, 0,
                 seed_for(r, BENCH_ROW_OVERWRITE, 1)) != 0) {
        return -1;
    }
    set_ok(res, c->num, t0);
    set_size(r, res);
    return 0;
}

static int run_readrandom(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    bench_reader *rd;
    if (ensure_loaded(r) != 0 || r->eng->reader_open(r->db, &rd) != 0) {
        return -1;
    }
    uint64_t missing = 0;
    double t0 = bench_now_s();
    int rc = get_random(r, rd, c->reads, c->num, c->value_size_bytes,
                        seed_for(r, BENCH_ROW_READRANDOM, 0), &missing);
    set_ok(res, c->reads, t0);
    r->eng->reader_close(rd);
    if (rc == 0 && missing != 0) {
        return bench_fail("%llu of %llu gets found no key or a wrong value size",
                          (unsigned long long)missing, (unsigned long long)c->reads);
    }
    return rc;
}

/* readseq / readreverse: one full scan in one read txn. */
static int run_scan(runner *r, int reverse, bench_result *res)
{
    const bench_engine *e = r->eng;
    bench_reader *rd;
    if (ensure_loaded(r) != 0 || e->reader_open(r->db, &rd) != 0) {
        return -1;
    }
    uint64_t count = 0;
    uint64_t acc = 0;
    int rc;
    double t0 = bench_now_s();
    rc = e->read_begin(rd);
    if (rc == 0) {
        rc = e->scan_start(rd, NULL, 0, reverse);
    }
    const void *k;
    const void *v;
    size_t kl;
    size_t vl;
    while (rc == 0 && (rc = e->scan_next(rd, &k, &kl, &v, &vl)) == 0) {
        acc += ((const uint8_t *)k)[0] + vl;
        count++;
    }
    if (rc == 1) {
        rc = e->read_end(rd);
    }
    set_ok(res, count, t0);
    consume(acc);
    e->reader_close(rd);
    if (rc == 0 && count != r->live_keys) {
        return bench_fail("scan saw %llu entries, expected %llu", (unsigned long long)count,
                          (unsigned long long)r->live_keys);
    }
    return rc;
}

static int seek_and_read(const runner *r, bench_reader *rd, const uint8_t *key, uint64_t *acc)
{
    const bench_engine *e = r->eng;
    if (e->scan_start(rd, key, r->cfg->key_size_bytes, 0) != 0) {
        return -1;
    }
    for (uint64_t j = 0; j <= r->cfg->seek_nexts; j++) {
        const void *k;
        const void *v;
        size_t kl;
        size_t vl;
        int rc = e->scan_next(rd, &k, &kl, &v, &vl);
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
        *acc += ((const uint8_t *)k)[kl - 1] + vl;
    }
    return 0;
}

/* seekrandom: seeks random keys, reading each and seek_nexts more entries;
 * read txns of batch seeks; ops are seeks. */
static int run_seekrandom(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    const bench_engine *e = r->eng;
    bench_reader *rd;
    if (ensure_loaded(r) != 0 || e->reader_open(r->db, &rd) != 0) {
        return -1;
    }
    uint64_t s = seed_for(r, BENCH_ROW_SEEKRANDOM, 0);
    uint8_t key[BENCH_KEY_MAX];
    uint64_t acc = 0;
    int rc = 0;
    double t0 = bench_now_s();
    for (uint64_t i = 0; rc == 0 && i < c->seeks;) {
        rc = e->read_begin(rd);
        for (uint64_t end = i + c->batch < c->seeks ? i + c->batch : c->seeks; rc == 0 && i < end;
             i++) {
            make_key(key, c->key_size_bytes, rng_below(&s, c->num));
            rc = seek_and_read(r, rd, key, &acc);
        }
        if (rc == 0) {
            rc = e->read_end(rd);
        }
    }
    set_ok(res, c->seeks, t0);
    consume(acc);
    e->reader_close(rd);
    return rc;
}

static int run_deleterandom(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    const bench_engine *e = r->eng;
    if (ensure_loaded(r) != 0) {
        return -1;
    }
    shuffle(r, c->num, seed_for(r, BENCH_ROW_DELETERANDOM, 0));
    uint8_t key[BENCH_KEY_MAX];
    uint64_t absent = 0;
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < c->num;) {
        if (e->begin(r->db) != 0) {
            return -1;
        }
        for (uint64_t end = i + c->batch < c->num ? i + c->batch : c->num; i < end; i++) {
            make_key(key, c->key_size_bytes, r->perm[i]);
            int rc = e->del(r->db, key, c->key_size_bytes);
            if (rc < 0) {
                return -1;
            }
            absent += (uint64_t)rc;
        }
        if (e->commit(r->db) != 0) {
            return -1;
        }
    }
    if (e->sync(r->db) != 0) {
        return -1;
    }
    set_ok(res, c->num, t0);
    r->loaded = 0;
    r->live_keys = 0;
    set_size(r, res);
    if (absent != 0) {
        return bench_fail("%llu deleted keys were reported absent", (unsigned long long)absent);
    }
    return 0;
}

/* fillsync: durable single-put commits of random keys into a fresh db. */
static int run_fillsync(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    const bench_engine *e = r->eng;
    if (fresh_db(r, BENCH_DURABLE) != 0) {
        return -1;
    }
    uint64_t s = seed_for(r, BENCH_ROW_FILLSYNC, 0);
    uint8_t key[BENCH_KEY_MAX];
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < c->sync_ops; i++) {
        make_key(key, c->key_size_bytes, rng_below(&s, c->num));
        if (e->begin(r->db) != 0 ||
            e->put(r->db, key, c->key_size_bytes, value_for(r, &s, c->value_size_bytes),
                   c->value_size_bytes, 0) != 0 ||
            e->commit(r->db) != 0) {
            return -1;
        }
    }
    set_ok(res, c->sync_ops, t0);
    close_db(r);
    return 0;
}

/* ---- fillsyncmt --------------------------------------------------------- */

/* The threads wait at a gate opened once all exist (or, if one could not
 * be created, opened with abort set: they then return at once). */
typedef struct syncmt_shared {
    const runner *r;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open;
    int abort;
} syncmt_shared;

typedef struct syncmt_thread {
    syncmt_shared *sh;
    size_t index;
    uint64_t seed;
    uint64_t commits;
    int rc;
    char err[160];
} syncmt_thread;

static void *syncmt_main(void *arg)
{
    syncmt_thread *t = arg;
    syncmt_shared *sh = t->sh;
    const runner *r = sh->r;
    const bench_config *c = r->cfg;
    pthread_mutex_lock(&sh->lock);
    while (!sh->open) {
        pthread_cond_wait(&sh->cond, &sh->lock);
    }
    int abort_run = sh->abort;
    pthread_mutex_unlock(&sh->lock);
    if (abort_run) {
        return NULL;
    }
    uint8_t key[BENCH_KEY_MAX];
    uint64_t s = t->seed;
    for (uint64_t i = 0; i < t->commits; i++) {
        make_key(key, c->key_size_bytes, rng_below(&s, c->num));
        if (r->eng->put_durable(r->db, key, c->key_size_bytes,
                                value_for(r, &s, c->value_size_bytes), c->value_size_bytes) != 0) {
            t->rc = -1;
            snprintf(t->err, sizeof t->err, "thread %zu: %s", t->index, bench_last_error());
            return NULL;
        }
    }
    return NULL;
}

static void syncmt_open_gate(syncmt_shared *sh, int abort_run)
{
    pthread_mutex_lock(&sh->lock);
    sh->open = 1;
    sh->abort = abort_run;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

/* fillsyncmt: --sync-threads threads share --sync-ops durable single-put
 * commits of random keys (thread i's seed is seed_for(row, i); the first
 * sync_ops % threads threads make one more), into a fresh db opened
 * BENCH_DURABLE_SHARED; timed from the gate's opening until all are
 * joined; ops are commits. */
static int run_fillsyncmt(runner *r, bench_result *res)
{
    const bench_config *c = r->cfg;
    if (r->eng->put_durable == NULL) {
        res->unsupported = 1;
        return bench_fail("not supported (the adapter has no put_durable)");
    }
    if (fresh_db(r, BENCH_DURABLE_SHARED) != 0) {
        return -1;
    }
    size_t n = (size_t)c->sync_threads;
    syncmt_shared sh = {.r = r};
    syncmt_thread t[BENCH_SYNC_THREADS_MAX];
    pthread_t tid[BENCH_SYNC_THREADS_MAX];
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    size_t created = 0;
    for (; created < n; created++) {
        size_t i = created;
        t[i] = (syncmt_thread){.sh = &sh,
                               .index = i,
                               .seed = seed_for(r, BENCH_ROW_FILLSYNCMT, (uint64_t)i),
                               .commits = c->sync_ops / n + (i < c->sync_ops % n ? 1u : 0u)};
        if (pthread_create(&tid[i], NULL, syncmt_main, &t[i]) != 0) {
            break;
        }
    }
    double t0 = bench_now_s();
    syncmt_open_gate(&sh, created < n);
    for (size_t i = 0; i < created; i++) {
        pthread_join(tid[i], NULL);
    }
    double end = bench_now_s();
    pthread_cond_destroy(&sh.cond);
    pthread_mutex_destroy(&sh.lock);
    if (created < n) {
        return bench_fail("pthread_create failed after %zu threads", created);
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i].rc != 0) {
            return bench_fail("%s", t[i].err);
        }
    }
    res->seconds = end - t0;
    res->ops = c->sync_ops;
    res->ok = 1;
    res->done = 1;
    close_db(r);
    return 0;
}

/* bigvalue: big_count values of big_size bytes into a fresh db, in txns of
 * big_batch puts, then as many random gets. Two rows. */
static int run_bigvalue(runner *r, bench_result *put_res, bench_result *get_res)
{
    const bench_config *c = r->cfg;
    if (fresh_db(r, bulk(r)) != 0) {
        return -1;
    }
    shuffle(r, c->big_count, seed_for(r, BENCH_ROW_BIGVALUE_PUT, 0));
    double t0 = bench_now_s();
    if (put_keys(r, r->perm, c->big_count, c->big_batch, c->big_size_bytes, 0,
                 seed_for(r, BENCH_ROW_BIGVALUE_PUT, 1)) != 0) {
        return -1;
    }
    set_ok(put_res, c->big_count, t0);
    r->live_keys = c->big_count;
    r->live_vsize = c->big_size_bytes;
    set_size(r, put_res);
    bench_reader *rd;
    if (r->eng->reader_open(r->db, &rd) != 0) {
        return -1;
    }
    uint64_t missing = 0;
    t0 = bench_now_s();
    int rc = get_random(r, rd, c->big_count, c->big_count, c->big_size_bytes,
                        seed_for(r, BENCH_ROW_BIGVALUE_GET, 0), &missing);
    set_ok(get_res, c->big_count, t0);
    r->eng->reader_close(rd);
    close_db(r);
    if (rc == 0 && missing != 0) {
        return bench_fail("%llu big values missing or of the wrong size",
                          (unsigned long long)missing);
    }
    return rc;
}

/* ---- readwhilewriting -------------------------------------------------- */

typedef struct rww_shared {
    const runner *r;
    pthread_barrier_t start;
    atomic_int readers_done;
} rww_shared;

typedef struct rww_reader {
    rww_shared *sh;
    uint64_t seed;
    uint64_t gets;
    uint64_t missing;
    double end_s;
    int rc;
    char err[160];
} rww_reader;

static void *rww_reader_main(void *arg)
{
    rww_reader *t = arg;
    const runner *r = t->sh->r;
    bench_reader *rd = NULL;
    t->rc = r->eng->reader_open(r->db, &rd);
    pthread_barrier_wait(&t->sh->start); /* reached even after a failure */
    if (t->rc == 0) {
        t->rc =
            get_random(r, rd, t->gets, r->cfg->num, r->cfg->value_size_bytes, t->seed, &t->missing);
    }
    t->end_s = bench_now_s();
    atomic_fetch_add(&t->sh->readers_done, 1);
    if (t->rc != 0) {
        snprintf(t->err, sizeof t->err, "reader: %s", bench_last_error());
    }
    if (rd != NULL) {
        r->eng->reader_close(rd);
    }
    return NULL;
}

/* The writer: overwrites of random keys in txns of batch puts until every
 * reader is done. Returns the puts made, or -1. */
static int64_t rww_write(runner *r, rww_shared *sh)
{
    const bench_config *c = r->cfg;
    uint64_t s = seed_for(r, BENCH_ROW_READWHILEWRITING, 99);
    uint8_t key[BENCH_KEY_MAX];
    int64_t puts = 0;
    while (atomic_load(&sh->readers_done) < BENCH_RWW_READERS) {
        if (r->eng->begin(r->db) != 0) {
            return -1;
        }
        for (uint64_t i = 0; i < c->batch; i++, puts++) {
            make_key(key, c->key_size_bytes, rng_below(&s, c->num));
            if (r->eng->put(r->db, key, c->key_size_bytes, value_for(r, &s, c->value_size_bytes),
                            c->value_size_bytes, 0) != 0) {
                return -1;
            }
        }
        if (r->eng->commit(r->db) != 0) {
            return -1;
        }
    }
    return puts;
}

/* readwhilewriting: BENCH_RWW_READERS threads share cfg->reads random gets
 * while this thread overwrites; ops are reads, timed until the last reader
 * ends. */
static int run_readwhilewriting(runner *r, bench_result *res)
{
    if (ensure_loaded(r) != 0) {
        return -1;
    }
    rww_shared sh = {.r = r};
    rww_reader t[BENCH_RWW_READERS];
    pthread_t tid[BENCH_RWW_READERS];
    pthread_barrier_init(&sh.start, NULL, BENCH_RWW_READERS + 1);
    atomic_init(&sh.readers_done, 0);
    for (int i = 0; i < BENCH_RWW_READERS; i++) {
        t[i] = (rww_reader){.sh = &sh,
                            .seed = seed_for(r, BENCH_ROW_READWHILEWRITING, (uint64_t)i),
                            .gets = r->cfg->reads / BENCH_RWW_READERS};
        if (pthread_create(&tid[i], NULL, rww_reader_main, &t[i]) != 0) {
            /* Earlier readers wait at the barrier for ever: give up on this
               engine's process (main.c reports the rows as crashed). */
            fprintf(stderr, "cowtree-bench: pthread_create failed\n");
            abort();
        }
    }
    pthread_barrier_wait(&sh.start);
    double t0 = bench_now_s();
    int64_t puts = rww_write(r, &sh);
    double wend = bench_now_s();
    char werr[160];
    snprintf(werr, sizeof werr, "writer: %s", bench_last_error());
    double end = t0;
    uint64_t gets = 0;
    uint64_t missing = 0;
    int rc = 0;
    for (int i = 0; i < BENCH_RWW_READERS; i++) {
        pthread_join(tid[i], NULL); /* the readers finish even if the writer failed */
        end = t[i].end_s > end ? t[i].end_s : end;
        gets += t[i].gets;
        missing += t[i].missing;
        if (t[i].rc != 0 && rc == 0) {
            rc = bench_fail("%s", t[i].err);
        }
    }
    pthread_barrier_destroy(&sh.start);
    if (rc != 0) {
        return -1;
    }
    if (puts < 0) {
        return bench_fail("%s", werr);
    }
    res->seconds = end - t0;
    res->ops = gets;
    res->ok = 1;
    res->done = 1;
    snprintf(res->note, sizeof res->note, "writer %.0f puts/s",
             (double)puts / (wend - t0 > 0 ? wend - t0 : 1e-9));
    if (r->eng->sync(r->db) != 0) {
        return -1;
    }
    set_size(r, res);
    if (missing != 0) {
        return bench_fail("%llu reads found no key", (unsigned long long)missing);
    }
    return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static int run_one(runner *r, int bench, bench_result *results)
{
    switch (bench) {
    case BENCH_ROW_FILLSEQ:
    case BENCH_ROW_FILLRANDOM:
        return run_fill(r, bench, &results[bench]);
    case BENCH_ROW_OVERWRITE:
        return run_overwrite(r, &results[bench]);
    case BENCH_ROW_READRANDOM:
        return run_readrandom(r, &results[bench]);
    case BENCH_ROW_READSEQ:
    case BENCH_ROW_READREVERSE:
        return run_scan(r, bench == BENCH_ROW_READREVERSE, &results[bench]);
    case BENCH_ROW_SEEKRANDOM:
        return run_seekrandom(r, &results[bench]);
    case BENCH_ROW_READWHILEWRITING:
        return run_readwhilewriting(r, &results[bench]);
    case BENCH_ROW_DELETERANDOM:
        return run_deleterandom(r, &results[bench]);
    case BENCH_ROW_FILLSYNC:
        return run_fillsync(r, &results[bench]);
    case BENCH_ROW_FILLSYNCMT:
        return run_fillsyncmt(r, &results[bench]);
    case BENCH_ROW_BIGVALUE_PUT:
        return run_bigvalue(r, &results[BENCH_ROW_BIGVALUE_PUT], &results[BENCH_ROW_BIGVALUE_GET]);
    default:
        return bench_fail("unknown benchmark %d", bench);
    }
}

/* Marks a failed benchmark's rows: those not done, or else its last one. */
static void record_failure(int bench, bench_result *results)
{
    int last = bench == BENCH_ROW_BIGVALUE_PUT ? BENCH_ROW_BIGVALUE_GET : bench;
    int marked = 0;
    for (int row = bench; row <= last; row++) {
        if (!results[row].done) {
            results[row].done = 1;
            results[row].ok = 0;
            snprintf(results[row].note, sizeof results[row].note, "%s", bench_last_error());
            marked = 1;
        }
    }
    if (!marked) {
        results[last].ok = 0;
        snprintf(results[last].note, sizeof results[last].note, "%s", bench_last_error());
    }
}

static int runner_init(runner *r, const bench_engine *eng, const bench_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->eng = eng;
    r->cfg = cfg;
    if (snprintf(r->root, sizeof r->root, "%s/cowtree-bench-%s-XXXXXX", cfg->dir, eng->name) >=
        (int)sizeof r->root) {
        return bench_fail("--dir path too long");
    }
    if (mkdtemp(r->root) == NULL) {
        return bench_fail("mkdtemp %s: %s", r->root, strerror(errno));
    }
    size_t vmax =
        cfg->value_size_bytes > cfg->big_size_bytes ? cfg->value_size_bytes : cfg->big_size_bytes;
    r->pool_len = ((size_t)1 << 20) + vmax;
    r->pool = malloc(r->pool_len);
    uint64_t n = cfg->num > cfg->big_count ? cfg->num : cfg->big_count;
    r->perm = malloc(n * sizeof *r->perm);
    if (r->pool == NULL || r->perm == NULL) {
        return bench_fail("out of memory");
    }
    uint64_t s = cfg->seed;
    for (size_t i = 0; i < r->pool_len; i++) {
        r->pool[i] = (uint8_t)rng_next(&s);
    }
    return 0;
}

int bench_run_engine(const bench_engine *eng, const bench_config *cfg, const int *benchmarks,
                     size_t benchmark_count, bench_result *results)
{
    runner r;
    int rc = runner_init(&r, eng, cfg);
    for (size_t i = 0; i < benchmark_count; i++) {
        if (rc != 0) {
            record_failure(benchmarks[i], results);
            continue;
        }
        int b = benchmarks[i];
        double t0 = bench_now_s();
        if (run_one(&r, b, results) != 0) {
            record_failure(b, results);
            close_db(&r); /* the state is unknown: the next workload starts afresh */
        }
        const bench_result *res = &results[b == BENCH_ROW_BIGVALUE_PUT ? b + 1 : b];
        fprintf(stderr, "  %-8s %-17s %s (%.1f s with setup)\n", eng->name, bench_row_names[b],
                res->ok            ? "ok"
                : res->unsupported ? "n/a"
                                   : "FAILED",
                bench_now_s() - t0);
    }
    close_db(&r);
    if (r.root[0] != '\0' && !cfg->keep) {
        bench_rm_rf(r.root);
    }
    free(r.pool);
    free(r.perm);
    return rc;
}
