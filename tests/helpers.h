/*
 * helpers.h - shared test helpers for the cmocka suites in tests/:
 *   - th_rng:    a seeded PRNG (splitmix64), never rand();
 *   - th_model:  an ordered map (treap with subtree sizes: get, put, del,
 *                rank, select) with a journal so an aborted txn can be
 *                rolled back; the oracle of the random-operation tests;
 *   - th_ram:    a tiny plain RAM page store (no device model: every write
 *                is at once "durable"), with or without map(), whose page
 *                bytes a test can edit directly;
 *   - th_env:    one database on a chosen store kind (RAM, memory store,
 *                file), reopenable, with the store-size figure;
 *   - temp dirs under COWTREE_TEST_TMPDIR, removed recursively;
 *   - verification: full forward/backward scans and gets against a model,
 *                and ct_check that prints the first problem when it fails.
 * Assertions inside helpers are cmocka asserts: they fail the calling test.
 */
#ifndef CT_TESTS_HELPERS_H
#define CT_TESTS_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

#ifndef COWTREE_TEST_TMPDIR
#define COWTREE_TEST_TMPDIR "/tmp"
#endif

/* Sanitizer builds run smaller configurations (still meaningful). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                     \
    __has_feature(memory_sanitizer)
#define TH_SANITIZED 1
#endif
#endif
#ifndef TH_SANITIZED
#define TH_SANITIZED 0
#endif

/* Scales a workload: n in plain builds, n / 4 (at least 1) under sanitizers.
   COWTREE_TEST_SCALE=<percent> in the environment overrides both. */
uint64_t th_scaled(uint64_t n);

/* The seed to use: COWTREE_TEST_SEED from the environment when set (to
   replay or explore one seed), else dflt. */
uint64_t th_seed(uint64_t dflt);

/* ---- PRNG --------------------------------------------------------------- */

typedef struct th_rng {
    uint64_t s;
} th_rng;

void th_rng_seed(th_rng *r, uint64_t seed);
uint64_t th_next(th_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t th_below(th_rng *r, uint64_t n);
/* 1 with probability num/den. */
int th_chance(th_rng *r, uint32_t num, uint32_t den);
void th_fill(th_rng *r, uint8_t *buf, size_t len);

/* Random key of length 0..key_max into buf (key_max bytes): mostly short
   keys over a small alphabet (so they collide and share prefixes), some
   empty, some exactly key_max, some of any length. Returns the length. */
size_t th_gen_key(th_rng *r, uint8_t *buf, size_t key_max);

/* Deterministic value content for (tag, len): tests can regenerate it
   instead of storing it. */
void th_value_fill(uint8_t *buf, size_t len, uint64_t tag);
/* Index of the first byte differing from th_value_fill(tag), or len. */
size_t th_value_check(const uint8_t *buf, size_t len, uint64_t tag);

/* ---- Ordered-map model ---------------------------------------------------- */

typedef struct th_model th_model;

th_model *th_model_new(void);
void th_model_free(th_model *m);
/* Inserts or replaces; returns 1 when the key was new. */
int th_model_put(th_model *m, const void *key, size_t klen, const void *val, size_t vlen);
/* Returns 1 when the key was present (and is now gone). */
int th_model_del(th_model *m, const void *key, size_t klen);
/* Returns 1 and the value when present. Pointers valid until the next change. */
int th_model_get(const th_model *m, const void *key, size_t klen, const uint8_t **val,
                 size_t *vlen);
size_t th_model_count(const th_model *m);
/* Entry of rank i (0-based, ascending key order); i < count. */
void th_model_at(const th_model *m, size_t i, const uint8_t **key, size_t *klen,
                 const uint8_t **val, size_t *vlen);
/* Rank of the first key >= key (count when none). */
size_t th_model_lower_bound(const th_model *m, const void *key, size_t klen);
/* Journal: begin records every change until commit (drop the journal) or
   rollback (undo every change since begin). */
void th_model_begin(th_model *m);
void th_model_commit(th_model *m);
void th_model_rollback(th_model *m);
/* Total value bytes held (for sizing workloads). */
uint64_t th_model_value_bytes(const th_model *m);

/* Bytewise unsigned comparison, a prefix before its extensions. */
int th_key_cmp(const void *a, size_t alen, const void *b, size_t blen);

/* ---- Plain RAM page store ------------------------------------------------- */

/* A store with no device model: writes land at once and survive "crashes".
   Pages are separately allocated so map() pointers stay valid while a page
   is not rewritten; shrinking frees the dropped pages (ASan then catches a
   use after a shrink). Thread-safe (one mutex). */
ct_pagestore *th_ram_create(uint32_t page_size, int with_map);
/* A memory store (ct_memstore, with its device model) of page_size pages,
   map() on or off, fault PRNG seeded with seed. */
ct_pagestore *th_mem_create(uint32_t page_size, int with_map, uint64_t seed);
/* Direct access to page pgno's bytes (NULL when pgno >= size). Editing them
   edits the image. */
uint8_t *th_ram_page(ct_pagestore *ps, uint64_t pgno);
typedef struct th_ram_stats {
    uint64_t writes;
    uint64_t pages_written;
    uint64_t syncs;
    uint64_t resizes;
} th_ram_stats;
void th_ram_get_stats(ct_pagestore *ps, th_ram_stats *out);

/* ---- Wrapping stores -------------------------------------------------------- */

/* A test store that wraps another starts with a th_fwd_store and fills its
   ops table with its own functions for the ops it changes and th_fwd_*
   for the rest, which forward to inner. th_fwd_close leaves inner open
   (the test closes it, often after a crash and a reopen through the same
   wrapper). */
typedef struct th_fwd_store {
    ct_pagestore base;
    ct_pagestore *inner;
} th_fwd_store;
/* Points w at inner with ops; the page size is inner's. */
void th_fwd_init(th_fwd_store *w, const ct_pagestore_ops *ops, ct_pagestore *inner);
int th_fwd_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf);
int th_fwd_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf);
int th_fwd_sync(ct_pagestore *ps);
int th_fwd_size(ct_pagestore *ps, uint64_t *npages);
int th_fwd_resize(ct_pagestore *ps, uint64_t npages);
void th_fwd_close(ct_pagestore *ps);

/* ---- Temp dirs ------------------------------------------------------------ */

/* Creates a fresh directory under COWTREE_TEST_TMPDIR; out holds >= 256 bytes. */
void th_tmpdir_make(char *out, size_t cap);
/* Removes dir and everything below it. */
void th_tmpdir_remove(const char *dir);

/* ---- Databases on any store ----------------------------------------------- */

typedef enum th_store_kind {
    TH_STORE_RAM = 0,       /* th_ram with map() */
    TH_STORE_RAM_NOMAP = 1, /* th_ram without map() */
    TH_STORE_MEM = 2,       /* ct_memstore, map enabled */
    TH_STORE_MEM_NOMAP = 3, /* ct_memstore, map disabled */
    TH_STORE_FILE = 4       /* file store through ct_open_path */
} th_store_kind;

const char *th_store_name(th_store_kind kind);

typedef struct th_env {
    th_store_kind kind;
    uint32_t page_size;
    int durability;
    size_t autosync_pages; /* ct_options.autosync_pages */
    ct_pagestore *ps; /* RAM and memory stores: owned by the env */
    char dir[512];    /* file store: temp dir */
    char path[600];   /* file store: the database file */
    ct_db *db;
} th_env;

/* Creates the store (empty) and opens a database on it; asserts success. */
void th_env_init(th_env *e, th_store_kind kind, uint32_t page_size);
/* Opens the db on the env's store with its options; returns the rc (the db
   is NULL unless CT_OK). */
int th_env_open(th_env *e);
/* Closes the db (not the store). */
void th_env_close(th_env *e);
/* Closes and reopens the db; asserts CT_OK. */
void th_env_reopen(th_env *e);
/* Closes everything and removes files. */
void th_env_destroy(th_env *e);
/* Size of the store in pages (the file's size for files). */
uint64_t th_env_store_pages(th_env *e);
/* For image editing with the db CLOSED: raw page read/write of the store
   (file: pread/pwrite on the path; RAM: the bytes; memstore: peek/poke). */
void th_env_page_read(th_env *e, uint64_t pgno, void *buf);
void th_env_page_write(th_env *e, uint64_t pgno, const void *buf);

/* ---- Verification ------------------------------------------------------- */

/* ct_check must be CT_OK with 0 problems; prints the first problem else. */
void th_check_clean(ct_db *db);
/* In a fresh read txn: forward and backward cursor scans equal the model,
   ct_get finds every model key with its value, and entries agree. */
void th_verify_db(ct_db *db, const char *bucket, const th_model *m);
/* Same inside an open txn (read or write) on bucket b. */
void th_verify_txn(ct_txn *t, ct_bucket *b, const th_model *m);

/* Convenience: one put / del in its own write txn; asserts CT_OK. */
void th_put1(ct_db *db, const void *key, size_t klen, const void *val, size_t vlen);
/* Context printed with every failing th_assert_* (seed, op index, ...). */
extern char th_ctx[256];
void th_set_ctx(const char *fmt, ...) CMOCKA_PRINTF_ATTRIBUTE(1, 2);
void th_print_ctx(void);

/* assert_int_equal on rc with both code names and the context printed. */
#define th_assert_rc(rc, want)                                                                 \
    do {                                                                                       \
        int th_rc_ = (rc);                                                                     \
        int th_want_ = (want);                                                                 \
        if (th_rc_ != th_want_) {                                                              \
            th_print_ctx();                                                                    \
            print_error("%s:%d: rc %d (%s), expected %d (%s)\n", __FILE__, __LINE__, th_rc_, \
                        ct_errname(th_rc_), th_want_, ct_errname(th_want_));                   \
        }                                                                                      \
        assert_int_equal(th_rc_, th_want_);                                                    \
    } while (0)

/* assert_int_equal / assert_true / assert_memory_equal printing the context. */
#define th_assert_eq(a, b)                                                                     \
    do {                                                                                       \
        uint64_t th_a_ = (uint64_t)(a);                                                        \
        uint64_t th_b_ = (uint64_t)(b);                                                        \
        if (th_a_ != th_b_) {                                                                  \
            th_print_ctx();                                                                    \
        }                                                                                      \
        assert_int_equal(th_a_, th_b_);                                                        \
    } while (0)
#define th_assert_true(c)                                                                      \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            th_print_ctx();                                                                    \
        }                                                                                      \
        assert_true(c);                                                                        \
    } while (0)
#define th_assert_mem(a, b, n)                                                                 \
    do {                                                                                       \
        size_t th_n_ = (n);                                                                    \
        if (th_n_ && memcmp((a), (b), th_n_) != 0) {                                           \
            th_print_ctx();                                                                    \
            assert_memory_equal((a), (b), th_n_);                                              \
        }                                                                                      \
    } while (0)

/* ---- White-box tree walk (core/internal.h) --------------------------------- */

/* One page of a tree walk: level 0 is the root. page points at the verified
   page bytes (valid during the callback). */
typedef struct th_page_info {
    uint64_t pgno;
    uint64_t gen;
    uint32_t level;
    uint32_t depth; /* tree depth */
    int leaf;
    const uint8_t *page;
    uint64_t parent_pgno; /* 0 for the root */
    uint32_t parent_idx;  /* index of the branch cell pointing here */
    int rightmost;        /* on the tree's right spine (exempt from the fill bound) */
} th_page_info;
typedef void (*th_page_fn)(const th_page_info *pi, void *ctx);

/* Visits every leaf and branch page of bucket (NULL = default) of the last
   commit in depth-first order; asserts every read succeeds. Returns the
   tree depth. */
uint32_t th_walk_tree(ct_db *db, const char *bucket, th_page_fn fn, void *ctx);

#endif
