/*
 * be.h - the backend seam of cowtree-proptest: cowtree (prop_cowtree.c),
 * the ordered-map model (prop_model.c), SQLite (prop_sqlite.c) and LMDB
 * (prop_lmdb.c) each implement this table, so the executor drives all of
 * them with the same code and compares canonical answers.
 *
 * Contract for every backend:
 *  - open creates an empty database with a write txn open; after commit,
 *    abort and reopen a new write txn is open again (txn boundaries are
 *    the case's ops, never the backend's).
 *  - snap -1 reads through the write txn; 0..PT_SNAPS-1 through the read
 *    txn open in that slot (the executor only passes open slots).
 *  - Calls return a PT_R_* answer; any other negative value is a backend
 *    error code, reported as such (never equal across engines by chance:
 *    it fails the case).
 *  - Pointers returned by get / cur_get stay valid until the next call.
 */
#ifndef COWTREE_PROPTEST_BE_H
#define COWTREE_PROPTEST_BE_H

#include <stddef.h>
#include <stdint.h>

#include "pt.h"

#define PT_R_OK 0
#define PT_R_NOTFOUND 1
#define PT_R_EXISTS 2
#define PT_R_TOOBIG 3
#define PT_R_NOBUCKET 4 /* the named bucket does not exist (in this txn/snapshot) */

/* Cursor moves. */
#define PT_CUR_FIRST 0
#define PT_CUR_LAST 1
#define PT_CUR_SEEK 2
#define PT_CUR_NEXT 3
#define PT_CUR_PREV 4

typedef struct pt_be pt_be;

typedef struct pt_be_ops {
    const char *name;
    /* Fresh empty db for case c. err gets a message on failure (-1). */
    int (*open)(pt_be **out, const pt_case *c, char *err, size_t errcap);
    void (*close)(pt_be *b);
    int (*reopen)(pt_be *b); /* snapshots already ended; aborts the write txn */
    int (*commit)(pt_be *b);
    void (*abort)(pt_be *b);
    int (*put)(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl, const uint8_t *v,
               size_t vl, unsigned flags);
    int (*get)(pt_be *b, int snap, unsigned bucket, const uint8_t *k, size_t kl,
               const uint8_t **v, size_t *vl);
    int (*del)(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl);
    int (*bucket_create)(pt_be *b, unsigned bucket); /* PT_R_EXISTS if it exists */
    int (*bucket_drop)(pt_be *b, unsigned bucket);   /* PT_R_NOBUCKET if it does not */
    int (*snap_begin)(pt_be *b, unsigned slot);
    void (*snap_end)(pt_be *b, unsigned slot);
    /* One cursor at a time. cur_open answers PT_R_NOBUCKET for a missing bucket. */
    int (*cur_open)(pt_be *b, int snap, unsigned bucket);
    int (*cur_move)(pt_be *b, int how, const uint8_t *k, size_t kl);
    int (*cur_get)(pt_be *b, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl);
    void (*cur_close)(pt_be *b);
    /* OPTIONAL (NULL): structural self-check of the last commit (ct_check).
       0 when clean, else -1 with a description in why. */
    int (*check)(pt_be *b, char *why, size_t cap);
} pt_be_ops;

extern const pt_be_ops pt_be_cowtree;
extern const pt_be_ops pt_be_model;
extern const pt_be_ops pt_be_sqlite;
extern const pt_be_ops pt_be_lmdb;

/* cowtree's bucket names: "b1", "b2", and "b3" padded with 'x' to
   PT_BUCKET_NAME_LONG bytes. That is longer than a catalog cell holds
   beside a descriptor at 512-byte pages (78 bytes), so there the
   descriptor sits in an overflow run, which reopens through ct_copy must
   carry; it is within the key limit at every page size (90 at 512). */
#define PT_BUCKET_NAME_LONG 80u
#define PT_BUCKET_NAME_BYTES (PT_BUCKET_NAME_LONG + 1u)
void pt_bucket_name(unsigned bucket, char out[PT_BUCKET_NAME_BYTES]);

#endif /* COWTREE_PROPTEST_BE_H */
