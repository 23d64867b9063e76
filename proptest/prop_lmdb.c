/*
 * prop_lmdb.c - LMDB as a reference: an environment in a fresh temporary
 * directory per case (MDB_NOSYNC, MDB_NOTLS so several read txns and the
 * write txn share a thread), every bucket a named database "b0".."b3"
 * (b0, the default bucket, is created at open: the unnamed main database
 * would list the bucket names as keys). Flags map one to one: NOOVERWRITE
 * -> MDB_NOOVERWRITE, APPEND -> MDB_APPEND (out of order: MDB_KEYEXIST).
 *
 * Cursors: LMDB's raw MDB_FIRST/LAST/SET_RANGE/NEXT/PREV/GET_CURRENT, with
 * one adapter rule (docs/proptest.md, "LMDB cursor contract"): after a
 * move that answers MDB_NOTFOUND the adapter treats the cursor as
 * unpositioned, as cowtree documents, so the next NEXT is MDB_FIRST and
 * PREV is MDB_LAST and GET_CURRENT answers NOTFOUND. LMDB itself leaves
 * the cursor on the edge entry (prev after a failed next returns the
 * second-to-last key); that difference is documented, not compared.
 * Set PT_LMDB_RAW=1 in the environment to compare raw LMDB instead.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be.h"

struct pt_be {
    MDB_env *env;
    MDB_txn *w;
    MDB_txn *snaps[PT_SNAPS];
    MDB_cursor *cur;
    MDB_dbi dbi0; /* bucket 0, "b0", opened and committed at every env open */
    int positioned;
    int raw;
    char dir[256];
};

static int ans(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return PT_R_OK;
    case MDB_NOTFOUND:
        return PT_R_NOTFOUND;
    case MDB_KEYEXIST:
        return PT_R_EXISTS;
    case MDB_BAD_VALSIZE:
        return PT_R_TOOBIG;
    default:
        return rc < 0 ? rc - 3000 : -3000 - rc;
    }
}

static int env_open(pt_be *b)
{
    int rc = mdb_env_create(&b->env);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(b->env, (size_t)1 << 30);
    }
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(b->env, PT_BUCKETS + 2);
    }
    if (rc == 0) {
        rc = mdb_env_open(b->env, b->dir, MDB_NOSYNC | MDB_NOTLS | MDB_NOMETASYNC, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(b->env, NULL, 0, &b->w);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(b->w, "b0", MDB_CREATE, &b->dbi0);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(b->w); /* b->dbi0 now valid in every later txn */
        b->w = NULL;
    }
    if (rc == 0) {
        rc = mdb_txn_begin(b->env, NULL, 0, &b->w);
    }
    return rc;
}

static void remove_dir(const char *dir)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static int lm_open(pt_be **out, const pt_case *c, char *err, size_t errcap)
{
    (void)c;
    pt_be *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errcap, "lmdb: out of memory");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof(b->dir), "%s/cowtree-proptest-lmdb.XXXXXX", tmp ? tmp : "/tmp");
    const char *raw = getenv("PT_LMDB_RAW");
    b->raw = raw && raw[0] == '1';
    if (!mkdtemp(b->dir)) {
        snprintf(err, errcap, "lmdb: mkdtemp %s failed", b->dir);
        free(b);
        return -1;
    }
    int rc = env_open(b);
    if (rc != 0) {
        snprintf(err, errcap, "lmdb open: %s", mdb_strerror(rc));
        if (b->w) {
            mdb_txn_abort(b->w);
        }
        mdb_env_close(b->env);
        remove_dir(b->dir);
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static void lm_close(pt_be *b)
{
    if (!b) {
        return;
    }
    if (b->cur) {
        mdb_cursor_close(b->cur);
    }
    for (unsigned i = 0; i < PT_SNAPS; i++) {
        if (b->snaps[i]) {
            mdb_txn_abort(b->snaps[i]);
        }
    }
    if (b->w) {
        mdb_txn_abort(b->w);
    }
    mdb_env_close(b->env);
    remove_dir(b->dir);
    free(b);
}

static int lm_reopen(pt_be *b)
{
    if (b->w) {
        mdb_txn_abort(b->w);
        b->w = NULL;
    }
    mdb_env_close(b->env);
    b->env = NULL;
    return ans(env_open(b));
}

static int lm_commit(pt_be *b)
{
    int rc = mdb_txn_commit(b->w);
    b->w = NULL;
    int rc2 = mdb_txn_begin(b->env, NULL, 0, &b->w);
    return ans(rc != 0 ? rc : rc2);
}

static void lm_abort(pt_be *b)
{
    mdb_txn_abort(b->w);
    b->w = NULL;
    (void)mdb_txn_begin(b->env, NULL, 0, &b->w);
}

static MDB_txn *txn_of(pt_be *b, int snap)
{
    return snap < 0 ? b->w : b->snaps[snap];
}

/* The handle of bucket in txn t. Bucket 0 uses the handle opened at env
   open. Named buckets are opened in the write txn only (LMDB: a txn that
   calls mdb_dbi_open must end before another calls it); in a read txn
   their existence is read from the main database and a present named
   bucket is an error (the generator never mixes them, see gen.c). */
static int dbi_of(pt_be *b, MDB_txn *t, unsigned bucket, MDB_dbi *dbi)
{
    if (bucket == 0) {
        *dbi = b->dbi0;
        return PT_R_OK;
    }
    char name[8];
    snprintf(name, sizeof(name), "b%u", bucket % 100u);
    if (t != b->w) {
        MDB_val key = {strlen(name), name};
        MDB_val val = {0, NULL};
        int rc = mdb_get(t, 1 /* MAIN_DBI */, &key, &val);
        return rc == MDB_NOTFOUND ? PT_R_NOBUCKET : rc == 0 ? -3999 : ans(rc);
    }
    int rc = mdb_dbi_open(t, name, 0, dbi);
    return rc == MDB_NOTFOUND ? PT_R_NOBUCKET : ans(rc);
}

static int lm_put(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl, const uint8_t *v,
                  size_t vl, unsigned flags)
{
    MDB_dbi dbi;
    int r = dbi_of(b, b->w, bucket, &dbi);
    if (r != PT_R_OK) {
        return r;
    }
    MDB_val key = {kl, (void *)(uintptr_t)k};
    MDB_val val = {vl, (void *)(uintptr_t)v};
    unsigned f = ((flags & PT_F_NOOVERWRITE) ? MDB_NOOVERWRITE : 0u) |
                 ((flags & PT_F_APPEND) ? MDB_APPEND : 0u);
    return ans(mdb_put(b->w, dbi, &key, &val, f));
}

static int lm_get(pt_be *b, int snap, unsigned bucket, const uint8_t *k, size_t kl,
                  const uint8_t **v, size_t *vl)
{
    MDB_txn *t = txn_of(b, snap);
    MDB_dbi dbi;
    int r = dbi_of(b, t, bucket, &dbi);
    if (r != PT_R_OK) {
        return r;
    }
    MDB_val key = {kl, (void *)(uintptr_t)k};
    MDB_val val = {0, NULL};
    r = ans(mdb_get(t, dbi, &key, &val));
    *v = val.mv_data;
    *vl = val.mv_size;
    return r;
}

static int lm_del(pt_be *b, unsigned bucket, const uint8_t *k, size_t kl)
{
    MDB_dbi dbi;
    int r = dbi_of(b, b->w, bucket, &dbi);
    if (r != PT_R_OK) {
        return r;
    }
    MDB_val key = {kl, (void *)(uintptr_t)k};
    return ans(mdb_del(b->w, dbi, &key, NULL));
}

static int lm_bucket_create(pt_be *b, unsigned bucket)
{
    MDB_dbi dbi;
    if (dbi_of(b, b->w, bucket, &dbi) == PT_R_OK) {
        return PT_R_EXISTS;
    }
    char name[8];
    snprintf(name, sizeof(name), "b%u", bucket % 100u);
    return ans(mdb_dbi_open(b->w, name, MDB_CREATE, &dbi));
}

static int lm_bucket_drop(pt_be *b, unsigned bucket)
{
    MDB_dbi dbi;
    int r = dbi_of(b, b->w, bucket, &dbi);
    if (r != PT_R_OK) {
        return r;
    }
    return ans(mdb_drop(b->w, dbi, 1));
}

static int lm_snap_begin(pt_be *b, unsigned slot)
{
    return ans(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &b->snaps[slot]));
}

static void lm_snap_end(pt_be *b, unsigned slot)
{
    if (b->snaps[slot]) {
        mdb_txn_abort(b->snaps[slot]);
        b->snaps[slot] = NULL;
    }
}

static int lm_cur_open(pt_be *b, int snap, unsigned bucket)
{
    MDB_txn *t = txn_of(b, snap);
    MDB_dbi dbi;
    int r = dbi_of(b, t, bucket, &dbi);
    if (r != PT_R_OK) {
        return r;
    }
    b->positioned = 0;
    return ans(mdb_cursor_open(t, dbi, &b->cur));
}

static int lm_cur_move(pt_be *b, int how, const uint8_t *k, size_t kl)
{
    MDB_val key = {kl, (void *)(uintptr_t)k};
    MDB_val val = {0, NULL};
    MDB_cursor_op op;
    if (!b->raw && !b->positioned && how == PT_CUR_NEXT) {
        how = PT_CUR_FIRST;
    }
    if (!b->raw && !b->positioned && how == PT_CUR_PREV) {
        how = PT_CUR_LAST;
    }
    switch (how) {
    case PT_CUR_FIRST:
        op = MDB_FIRST;
        break;
    case PT_CUR_LAST:
        op = MDB_LAST;
        break;
    case PT_CUR_SEEK:
        op = MDB_SET_RANGE;
        break;
    case PT_CUR_NEXT:
        op = MDB_NEXT;
        break;
    default:
        op = MDB_PREV;
        break;
    }
    int r = ans(mdb_cursor_get(b->cur, &key, &val, op));
    b->positioned = r == PT_R_OK;
    return r;
}

static int lm_cur_get(pt_be *b, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    if (!b->raw && !b->positioned) {
        return PT_R_NOTFOUND;
    }
    MDB_val key = {0, NULL};
    MDB_val val = {0, NULL};
    int rc = mdb_cursor_get(b->cur, &key, &val, MDB_GET_CURRENT);
    int r = rc == EINVAL ? PT_R_NOTFOUND : ans(rc); /* raw: never positioned */
    *k = key.mv_data;
    *kl = key.mv_size;
    *v = val.mv_data;
    *vl = val.mv_size;
    return r;
}

static void lm_cur_close(pt_be *b)
{
    mdb_cursor_close(b->cur);
    b->cur = NULL;
}

const pt_be_ops pt_be_lmdb = {
    .name = "lmdb",
    .open = lm_open,
    .close = lm_close,
    .reopen = lm_reopen,
    .commit = lm_commit,
    .abort = lm_abort,
    .put = lm_put,
    .get = lm_get,
    .del = lm_del,
    .bucket_create = lm_bucket_create,
    .bucket_drop = lm_bucket_drop,
    .snap_begin = lm_snap_begin,
    .snap_end = lm_snap_end,
    .cur_open = lm_cur_open,
    .cur_move = lm_cur_move,
    .cur_get = lm_cur_get,
    .cur_close = lm_cur_close,
    .check = NULL,
};
