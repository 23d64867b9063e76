/*
 * engine.h - the small interface every benchmarked engine implements
 * (cowtree, LMDB, SQLite, RocksDB, LevelDB), and what the benchmark shares between
 * its files.
 *
 * An adapter owns one database in one directory and exposes:
 *  - one writer (the thread that opened it): begin / put / del / commit,
 *    then sync, which makes every commit so far durable;
 *  - any number of readers, each used by one thread at a time: a read txn
 *    (a snapshot in every engine) holding gets and one ordered scan;
 *  - optionally, put_durable: one durable single-put commit, callable from
 *    several threads at once (fillsyncmt), on a db opened with
 *    BENCH_DURABLE_SHARED.
 * Adapters never print and never exit: a failure returns -1 after
 * bench_fail() recorded a message (thread-local) for the caller.
 */
#ifndef COWTREE_BENCH_ENGINE_H
#define COWTREE_BENCH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_db bench_db;         /* an adapter's open database */
typedef struct bench_reader bench_reader; /* an adapter's per-thread reader */

/* Durability of an open database. */
enum bench_durability {
    BENCH_BULK = 0,    /* commits need not sync; ->sync makes all durable */
    BENCH_DURABLE = 1, /* each commit is durable when it returns (fillsync) */
    /* As BENCH_DURABLE, with commits issued from several threads at once
       through put_durable only (fillsyncmt): an engine may share one sync
       between concurrent committers (group commit). */
    BENCH_DURABLE_SHARED = 2,
};

typedef struct bench_engine {
    const char *name;    /* "cowtree", "lmdb", ... (the --engines name) */
    const char *version; /* library version, for the report */
    /* Creates a database in the existing empty directory dir. -1 on error. */
    int (*open)(const char *dir, enum bench_durability durability, bench_db **out);
    /* Closes; never fails (errors are ignored: the directory is removed next). */
    void (*close)(bench_db *db);
    /* Write txn. put's append is a hint: key > every key (fillseq). del
       returns 1 when the key was absent. Errors: -1. */
    int (*begin)(bench_db *db);
    int (*put)(bench_db *db, const void *key, size_t klen, const void *val, size_t vlen,
               int append);
    int (*del)(bench_db *db, const void *key, size_t klen);
    int (*commit)(bench_db *db);
    /* Makes every commit so far durable. -1 on error. */
    int (*sync)(bench_db *db);
    /* Readers: open/close on the thread that uses them. */
    int (*reader_open)(bench_db *db, bench_reader **out);
    void (*reader_close)(bench_reader *r);
    int (*read_begin)(bench_reader *r);
    int (*read_end)(bench_reader *r);
    /* 0 found (*val valid until the next call on r), 1 absent, -1 error. */
    int (*get)(bench_reader *r, const void *key, size_t klen, const void **val, size_t *vlen);
    /* Positions a scan on the first key >= key (key NULL: the first key, or
       the last when reverse); scan_next then returns that entry and each
       following one in the scan's direction: 0 entry, 1 end, -1 error. */
    int (*scan_start)(bench_reader *r, const void *key, size_t klen, int reverse);
    int (*scan_next)(bench_reader *r, const void **key, size_t *klen, const void **val,
                     size_t *vlen);
    /* Optional (NULL: fillsyncmt reports the engine as not supported). One
       durable single-put commit: durable when it returns 0. Callable from
       several threads concurrently on a db opened with BENCH_DURABLE_SHARED
       (and not mixed with begin/put/commit there). -1 on error, after
       bench_fail (thread-local, so the message is the calling thread's). */
    int (*put_durable)(bench_db *db, const void *key, size_t klen, const void *val, size_t vlen);
} bench_engine;

/* Records a printf-style message for this thread; returns -1. */
int bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message bench_fail recorded on this thread ("" if none). */
const char *bench_last_error(void);
/* fsync every regular file in dir, then dir itself. -1 on error. */
int bench_fsync_dir(const char *dir);

/* Adapters compiled in (main.c lists them; a define says which exist). */
extern const bench_engine bench_engine_cowtree;
#ifdef BENCH_HAVE_LMDB
extern const bench_engine bench_engine_lmdb;
#endif
#ifdef BENCH_HAVE_SQLITE
extern const bench_engine bench_engine_sqlite;
#endif
#ifdef BENCH_HAVE_ROCKSDB
extern const bench_engine bench_engine_rocksdb;
#endif
#ifdef BENCH_HAVE_LEVELDB
extern const bench_engine bench_engine_leveldb;
#endif

#endif /* COWTREE_BENCH_ENGINE_H */
