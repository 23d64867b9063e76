/*
 * test_api_misuse.c - every public function of cowtree.h (and the store
 * constructors) given bad arguments returns CT_INVALID or its documented
 * code, never crashes (ASan/UBSan builds would catch a bad access), and
 * leaves the database usable: NULL handles and out-pointers, bad flags,
 * bad options, read-only misuse, foreign and dropped bucket handles,
 * oversize keys/values/names, CT_APPEND out of order, values aliasing the
 * database's own memory, and closing with txns still open.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowtree/memstore.h"

static void test_strerror_every_code(void **state)
{
    (void)state;
    /* Every code has a distinct static message and its name; unknown codes
       too (never NULL). */
    const int codes[] = {CT_OK,      CT_NOTFOUND, CT_EXISTS,  CT_INVALID, CT_TOOBIG,
                         CT_NOMEM,   CT_IO,       CT_NOSPACE, CT_CORRUPT, CT_READONLY,
                         CT_BUSY,    CT_VERSION,  CT_POISONED, CT_NOTSUP};
    const char *names[] = {"CT_OK",      "CT_NOTFOUND", "CT_EXISTS",  "CT_INVALID", "CT_TOOBIG",
                           "CT_NOMEM",   "CT_IO",       "CT_NOSPACE", "CT_CORRUPT", "CT_READONLY",
                           "CT_BUSY",    "CT_VERSION",  "CT_POISONED", "CT_NOTSUP"};
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(codes[i], -(int)i);
        const char *m = ct_strerror(codes[i]);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_equal(ct_errname(codes[i]), names[i]);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(m, ct_strerror(codes[j]));
        }
    }
    const int unknown[] = {1, -14, -1000, 12345, -2147483647 - 1};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_non_null(ct_strerror(unknown[i]));
        assert_string_equal(ct_errname(unknown[i]), "CT_UNKNOWN");
    }
}

static void *bad_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

/* ct_open / ct_open_path / ct_close / ct_options_init with bad arguments. */
static void test_open_misuse(void **state)
{
    (void)state;
    ct_options_init(NULL); /* no crash */
    ct_db *db = (ct_db *)&db;
    ct_pagestore *ps = th_ram_create(512, 1);
    th_assert_rc(ct_open(NULL, NULL, &db), CT_INVALID);
    th_assert_rc(ct_open(ps, NULL, NULL), CT_INVALID);
    ct_pagestore noops = {NULL, 512};
    th_assert_rc(ct_open(&noops, NULL, &db), CT_INVALID);
    ct_options o;
    ct_options_init(&o);
    o.flags = 0x80;
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    assert_null(db);
    ct_options_init(&o);
    o.durability = 7;
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    ct_options_init(&o);
    o.durability = -1;
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    ct_options_init(&o);
    o.page_size = 4096; /* not the store's */
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    ct_allocator half = {bad_malloc, NULL, NULL, NULL};
    ct_options_init(&o);
    o.alloc = &half;
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    /* None of the failed opens wrote anything. */
    uint64_t n = 9;
    th_assert_rc(ps->ops->size(ps, &n), CT_OK);
    assert_int_equal(n, 0);
    /* A store with an unsupported page size: CT_VERSION (documented). */
    const uint32_t bad_sizes[] = {256, 1000, 131072, 0};
    for (size_t i = 0; i < 4; i++) {
        ct_pagestore *odd = th_ram_create(bad_sizes[i], 1);
        th_assert_rc(ct_open(odd, NULL, &db), CT_VERSION);
        assert_null(db);
        odd->ops->close(odd);
    }
    ps->ops->close(ps);
    ct_close(NULL);

    th_assert_rc(ct_open_path(NULL, NULL, &db), CT_INVALID);
    char dir[512];
    th_tmpdir_make(dir, sizeof(dir));
    char path[600];
    snprintf(path, sizeof(path), "%s/db", dir);
    th_assert_rc(ct_open_path(path, NULL, NULL), CT_INVALID);
    th_assert_rc(ct_open_path("", NULL, &db), CT_INVALID);
    th_assert_rc(ct_open_path(dir, NULL, &db), CT_INVALID); /* a directory */
    ct_options_init(&o);
    o.flags = CT_NOCREATE;
    th_assert_rc(ct_open_path(path, &o, &db), CT_NOTFOUND);
    assert_int_not_equal(access(path, F_OK), 0); /* not created */
    /* Options checked before the file is created: a refused open leaves
       no file behind. */
    ct_options_init(&o);
    o.flags = 0x80;
    th_assert_rc(ct_open_path(path, &o, &db), CT_INVALID);
    assert_int_not_equal(access(path, F_OK), 0);
    ct_options_init(&o);
    o.durability = 7;
    th_assert_rc(ct_open_path(path, &o, &db), CT_INVALID);
    assert_int_not_equal(access(path, F_OK), 0);
    ct_options_init(&o);
    o.alloc = &half;
    th_assert_rc(ct_open_path(path, &o, &db), CT_INVALID);
    assert_int_not_equal(access(path, F_OK), 0);
    ct_options_init(&o);
    o.page_size = 768;
    th_assert_rc(ct_open_path(path, &o, &db), CT_INVALID);
    assert_null(db);
    assert_int_not_equal(access(path, F_OK), 0);
    th_tmpdir_remove(dir);
}

/* Store constructors with bad arguments. */
static void test_store_constructor_misuse(void **state)
{
    (void)state;
    ct_filestore_options_init(NULL);
    ct_pagestore *ps = NULL;
    th_assert_rc(ct_filestore_open(NULL, NULL, &ps), CT_INVALID);
    th_assert_rc(ct_filestore_open("/tmp/x", NULL, NULL), CT_INVALID);
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = 1000;
    th_assert_rc(ct_filestore_open("/tmp/ct-never-created", &fo, &ps), CT_INVALID);
    ct_filestore_options_init(&fo);
    fo.flags = 0x40;
    th_assert_rc(ct_filestore_open("/tmp/ct-never-created", &fo, &ps), CT_INVALID);
    assert_null(ps);
    ct_memstore_options_init(NULL);
    th_assert_rc(ct_memstore_create(NULL, NULL), CT_INVALID);
    ct_memstore_options mo;
    const uint32_t bad[] = {256, 1000, 131072, 3};
    for (size_t i = 0; i < 4; i++) {
        ct_memstore_options_init(&mo);
        mo.page_size = bad[i];
        th_assert_rc(ct_memstore_create(&mo, &ps), CT_INVALID);
    }
    /* A NULL options pointer: defaults (4096-byte pages). */
    th_assert_rc(ct_memstore_create(NULL, &ps), CT_OK);
    assert_int_equal(ps->page_size, 4096);
    /* Memory-store calls on a store that is not a memory store. */
    ct_pagestore *ram = th_ram_create(512, 1);
    uint8_t page[512];
    th_assert_rc(ct_memstore_peek(ram, 0, page), CT_INVALID);
    th_assert_rc(ct_memstore_poke(ram, 0, page), CT_INVALID);
    th_assert_rc(ct_memstore_crash(ram, NULL), CT_INVALID);
    th_assert_rc(ct_memstore_peek(ps, 0, NULL), CT_INVALID);
    ram->ops->close(ram);
    ps->ops->close(ps);
}

/* Txn calls with bad arguments. */
static void test_txn_misuse(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(NULL, 0, &t), CT_INVALID);
    th_assert_rc(ct_begin(e.db, 0, NULL), CT_INVALID);
    th_assert_rc(ct_begin(e.db, 0x10, &t), CT_INVALID);
    th_assert_rc(ct_begin(e.db, 0x10 | CT_TXN_RDONLY, &t), CT_INVALID);
    th_assert_rc(ct_commit(NULL), CT_INVALID);
    ct_abort(NULL);
    assert_int_equal(ct_txn_id(NULL), 0);
    th_assert_rc(ct_sync(NULL), CT_INVALID);
    assert_int_equal(ct_key_max(NULL), 0);
    th_assert_rc(ct_check(NULL, NULL), CT_INVALID);
    struct ct_stat st;
    th_assert_rc(ct_stat(NULL, &st), CT_INVALID);
    th_assert_rc(ct_stat(e.db, NULL), CT_INVALID);
    /* The db still works, and ct_check accepts a NULL report. */
    th_put1(e.db, "k", 1, "v", 1);
    th_assert_rc(ct_check(e.db, NULL), CT_OK);
    /* Committing a read txn just ends it. */
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    th_env_destroy(&e);
}

/* The key limit is part of the format (docs/format.md: (page_size - 32) / 4
   - 30 bytes, 90 at 512-byte pages, 986 at 4096; API.md: at least 511 at
   the default page size), so it is written here, not read from the
   engine: a limit that shrank would refuse keys that files already hold.
   A key at the limit goes in and comes back after a reopen, one byte more
   is CT_TOOBIG. */
static void test_key_limit_from_format(void **state)
{
    (void)state;
    for (uint32_t p = 512; p <= 65536; p <<= 1) {
        th_set_ctx("page_size=%u", p);
        size_t want = (p - 32u) / 4u - 30u;
        th_env e;
        th_env_init(&e, TH_STORE_RAM, p);
        assert_int_equal(ct_key_max(e.db), want);
        uint8_t *key = malloc(want + 1);
        assert_non_null(key);
        memset(key, 0xa5, want + 1);
        th_put1(e.db, key, want, "v", 1);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
        th_assert_rc(ct_put(t, NULL, key, want + 1, "v", 1, 0), CT_TOOBIG);
        ct_abort(t);
        th_env_reopen(&e);
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        const void *v = NULL;
        size_t vl = 0;
        th_assert_rc(ct_get(t, NULL, key, want, &v, &vl), CT_OK);
        assert_int_equal(vl, 1);
        ct_abort(t);
        free(key);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

/* ct_get / ct_put / ct_del with bad arguments, in read and write txns. */
static void test_data_misuse(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_put1(e.db, "k", 1, "v", 1);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(NULL, NULL, "k", 1, &v, &vl), CT_INVALID);
    th_assert_rc(ct_get(w, NULL, NULL, 1, &v, &vl), CT_INVALID);
    th_assert_rc(ct_get(w, NULL, "k", 1, NULL, &vl), CT_INVALID);
    th_assert_rc(ct_get(w, NULL, "k", 1, &v, NULL), CT_INVALID);
    th_assert_rc(ct_get(w, NULL, NULL, 0, &v, &vl), CT_NOTFOUND); /* empty key is valid */
    th_assert_rc(ct_put(NULL, NULL, "a", 1, "b", 1, 0), CT_INVALID);
    th_assert_rc(ct_put(w, NULL, NULL, 1, "b", 1, 0), CT_INVALID);
    th_assert_rc(ct_put(w, NULL, "a", 1, NULL, 1, 0), CT_INVALID);
    th_assert_rc(ct_put(w, NULL, "a", 1, "b", 1, 0x100), CT_INVALID);
    th_assert_rc(ct_put(w, NULL, "a", 1, NULL, 0, 0), CT_OK); /* NULL value of 0 bytes */
    th_assert_rc(ct_put(w, NULL, "a", 1, "b", CT_VALUE_MAX + 1, 0), CT_TOOBIG);
    th_assert_rc(ct_put(w, NULL, "a", 1, "b", SIZE_MAX, 0), CT_TOOBIG);
    uint8_t longkey[200];
    memset(longkey, 'x', sizeof(longkey));
    th_assert_rc(ct_put(w, NULL, longkey, ct_key_max(e.db) + 1, "b", 1, 0), CT_TOOBIG);
    th_assert_rc(ct_put(w, NULL, longkey, SIZE_MAX, "b", 1, 0), CT_TOOBIG);
    th_assert_rc(ct_del(NULL, NULL, "a", 1), CT_INVALID);
    th_assert_rc(ct_del(w, NULL, NULL, 1), CT_INVALID);
    /* None of the rejected calls failed the txn: it still commits. */
    th_assert_rc(ct_get(w, NULL, "a", 1, &v, &vl), CT_OK);
    assert_int_equal(vl, 0);
    th_assert_rc(ct_commit(w), CT_OK);
    /* Writes in a read txn: CT_INVALID (the db is not read-only). */
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    th_assert_rc(ct_put(r, NULL, "a", 1, "b", 1, 0), CT_INVALID);
    th_assert_rc(ct_del(r, NULL, "k", 1), CT_INVALID);
    th_assert_rc(ct_get(r, NULL, "k", 1, &v, &vl), CT_OK);
    ct_abort(r);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

/* CT_APPEND with a key not above every key is CT_EXISTS (cowtree.h, as
   LMDB's MDB_APPEND answers MDB_KEYEXIST), whether the key is below the largest or equal to it; the txn stays
   usable and nothing was written. */
/* An allocator that refuses any block above 1 GiB. */
static void *capped_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return n > ((size_t)1 << 30) ? NULL : malloc(n ? n : 1);
}

static void *capped_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return n > ((size_t)1 << 30) ? NULL : realloc(p, n ? n : 1);
}

static void capped_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* A value of exactly CT_VALUE_MAX bytes is legal: the put gets as far as
   allocating its run (refused here, CT_NOMEM), where one byte more is
   CT_TOOBIG before anything is allocated. The value's bytes are never
   read before the run exists, so a short buffer stands in for them. */
static void test_value_of_the_largest_size(void **state)
{
    (void)state;
    ct_pagestore *ps = th_ram_create(4096, 1);
    ct_options o;
    ct_options_init(&o);
    o.alloc = &(ct_allocator){capped_malloc, capped_realloc, capped_free, NULL};
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, &o, &db), CT_OK);
    uint8_t small[16] = {0};
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "a", 1, small, CT_VALUE_MAX + 1, 0), CT_TOOBIG);
    th_assert_rc(ct_put(w, NULL, "a", 1, small, CT_VALUE_MAX, 0), CT_NOMEM);
    ct_abort(w);
    th_assert_rc(ct_begin(db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "a", 1, small, sizeof(small), 0), CT_OK);
    th_assert_rc(ct_commit(w), CT_OK);
    th_check_clean(db);
    ct_close(db);
    ps->ops->close(ps);
}

static void test_append_out_of_order(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "b", 1, "1", 1, CT_APPEND), CT_OK);
    th_assert_rc(ct_put(w, NULL, "c", 1, "2", 1, CT_APPEND), CT_OK);
    th_assert_rc(ct_put(w, NULL, "a", 1, "3", 1, CT_APPEND), CT_EXISTS);
    th_assert_rc(ct_put(w, NULL, "bb", 2, "3", 1, CT_APPEND), CT_EXISTS);
    th_assert_rc(ct_put(w, NULL, "c", 1, "3", 1, CT_APPEND), CT_EXISTS);
    th_assert_rc(ct_put(w, NULL, "d", 1, "4", 1, CT_APPEND), CT_OK);
    th_assert_rc(ct_commit(w), CT_OK);
    th_model *m = th_model_new();
    th_model_put(m, "b", 1, "1", 1);
    th_model_put(m, "c", 1, "2", 1);
    th_model_put(m, "d", 1, "4", 1);
    th_verify_db(e.db, NULL, m);
    th_model_free(m);
    th_env_destroy(&e);
}

/* Bucket calls with bad arguments: NULL txn/name/out, bad flags, empty or
   too-long names, create in a read txn, handles of another txn. */
static void test_bucket_misuse(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 4096);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    ct_bucket *b = NULL;
    th_assert_rc(ct_bucket_open(NULL, "b", CT_CREATE, &b), CT_INVALID);
    th_assert_rc(ct_bucket_open(w, NULL, CT_CREATE, &b), CT_INVALID);
    th_assert_rc(ct_bucket_open(w, "b", CT_CREATE, NULL), CT_INVALID);
    th_assert_rc(ct_bucket_open(w, "b", 0x40, &b), CT_INVALID);
    th_assert_rc(ct_bucket_open(w, "", CT_CREATE, &b), CT_INVALID);
    char name[300];
    memset(name, 'n', sizeof(name));
    name[256] = '\0';
    th_assert_rc(ct_bucket_open(w, name, CT_CREATE, &b), CT_INVALID);
    name[255] = '\0';
    th_assert_rc(ct_bucket_open(w, name, CT_CREATE, &b), CT_OK);
    th_assert_rc(ct_bucket_drop(NULL, "b"), CT_INVALID);
    th_assert_rc(ct_bucket_drop(w, NULL), CT_INVALID);
    th_assert_rc(ct_bucket_drop(w, ""), CT_INVALID);
    name[255] = 'n';
    th_assert_rc(ct_bucket_drop(w, name), CT_INVALID);
    th_assert_rc(ct_bucket_drop(w, "absent"), CT_NOTFOUND);
    th_assert_rc(ct_bucket_open(w, "absent", 0, &b), CT_NOTFOUND);
    th_assert_rc(ct_bucket_open(w, "mine", CT_CREATE, &b), CT_OK);
    th_assert_rc(ct_put(w, b, "k", 1, "v", 1, 0), CT_OK);
    th_assert_rc(ct_commit(w), CT_OK);
    /* Read txn: create and drop are CT_INVALID; opening works. */
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    th_assert_rc(ct_bucket_open(r, "new", CT_CREATE, &b), CT_INVALID);
    th_assert_rc(ct_bucket_drop(r, "mine"), CT_INVALID);
    ct_bucket *rb = NULL;
    th_assert_rc(ct_bucket_open(r, "mine", 0, &rb), CT_OK);
    /* A handle of the read txn used in a write txn: CT_INVALID. */
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(w, rb, "k", 1, &v, &vl), CT_INVALID);
    th_assert_rc(ct_put(w, rb, "k", 1, "v", 1, 0), CT_INVALID);
    th_assert_rc(ct_del(w, rb, "k", 1), CT_INVALID);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(w, rb, &c), CT_INVALID);
    /* A dropped bucket's handle: CT_INVALID everywhere. */
    ct_bucket *wb = NULL;
    th_assert_rc(ct_bucket_open(w, "mine", 0, &wb), CT_OK);
    th_assert_rc(ct_bucket_drop(w, "mine"), CT_OK);
    th_assert_rc(ct_get(w, wb, "k", 1, &v, &vl), CT_INVALID);
    th_assert_rc(ct_put(w, wb, "k", 1, "v", 1, 0), CT_INVALID);
    th_assert_rc(ct_del(w, wb, "k", 1), CT_INVALID);
    th_assert_rc(ct_cursor_open(w, wb, &c), CT_INVALID);
    th_assert_rc(ct_commit(w), CT_OK);
    /* The read txn still sees its snapshot through its handle. */
    th_assert_rc(ct_get(r, rb, "k", 1, &v, &vl), CT_OK);
    ct_abort(r);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

/* Cursor calls with bad arguments and on unpositioned cursors. */
static void test_cursor_misuse(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_put1(e.db, "k", 1, "v", 1);
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(NULL, NULL, &c), CT_INVALID);
    th_assert_rc(ct_cursor_open(r, NULL, NULL), CT_INVALID);
    th_assert_rc(ct_cursor_first(NULL), CT_INVALID);
    th_assert_rc(ct_cursor_last(NULL), CT_INVALID);
    th_assert_rc(ct_cursor_next(NULL), CT_INVALID);
    th_assert_rc(ct_cursor_prev(NULL), CT_INVALID);
    th_assert_rc(ct_cursor_seek(NULL, "k", 1), CT_INVALID);
    th_assert_rc(ct_cursor_get(NULL, NULL, NULL, NULL, NULL), CT_INVALID);
    ct_cursor_close(NULL);
    th_assert_rc(ct_cursor_open(r, NULL, &c), CT_OK);
    th_assert_rc(ct_cursor_seek(c, NULL, 3), CT_INVALID);
    /* Unpositioned: get is CT_NOTFOUND; next/prev start at an end. */
    const void *k = NULL;
    size_t kl = 0;
    th_assert_rc(ct_cursor_get(c, &k, &kl, NULL, NULL), CT_NOTFOUND);
    th_assert_rc(ct_cursor_next(c), CT_OK);
    th_assert_rc(ct_cursor_get(c, &k, &kl, NULL, NULL), CT_OK);
    assert_int_equal(kl, 1);
    th_assert_rc(ct_cursor_next(c), CT_NOTFOUND);
    th_assert_rc(ct_cursor_get(c, &k, &kl, NULL, NULL), CT_NOTFOUND);
    th_assert_rc(ct_cursor_seek(c, "z", 1), CT_NOTFOUND);
    th_assert_rc(ct_cursor_prev(c), CT_OK);
    th_assert_rc(ct_cursor_seek(c, NULL, 0), CT_OK); /* empty key: first key >= "" */
    ct_cursor_close(c);
    /* A cursor left open is freed with its txn (ASan checks the leak). */
    th_assert_rc(ct_cursor_open(r, NULL, &c), CT_OK);
    ct_abort(r);
    th_env_destroy(&e);
}

/* A value given to ct_put that points into the database's own memory (a
   value just read by ct_get, inline or overflow) is copied before the old
   value is freed: put of the same key and of another key both store it. */
static void test_put_value_aliasing_db_memory(void **state)
{
    (void)state;
    for (int map = 0; map < 2; map++) {
        th_env e;
        th_env_init(&e, map ? TH_STORE_RAM : TH_STORE_RAM_NOMAP, 512);
        uint8_t big[3000];
        th_value_fill(big, sizeof(big), 1);
        th_put1(e.db, "small", 5, "0123456789", 10);
        th_put1(e.db, "big", 3, big, sizeof(big));
        ct_txn *w = NULL;
        th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
        const char *keys[] = {"small", "big"};
        for (int i = 0; i < 2; i++) {
            const void *v = NULL;
            size_t vl = 0;
            th_assert_rc(ct_get(w, NULL, keys[i], strlen(keys[i]), &v, &vl), CT_OK);
            th_assert_rc(ct_put(w, NULL, keys[i], strlen(keys[i]), v, vl, 0), CT_OK);
            th_assert_rc(ct_get(w, NULL, keys[i], strlen(keys[i]), &v, &vl), CT_OK);
            char other[16];
            snprintf(other, sizeof(other), "copy-%s", keys[i]);
            th_assert_rc(ct_put(w, NULL, other, strlen(other), v, vl, 0), CT_OK);
        }
        th_assert_rc(ct_commit(w), CT_OK);
        th_model *m = th_model_new();
        th_model_put(m, "small", 5, "0123456789", 10);
        th_model_put(m, "copy-small", 10, "0123456789", 10);
        th_model_put(m, "big", 3, big, sizeof(big));
        th_model_put(m, "copy-big", 8, big, sizeof(big));
        th_verify_db(e.db, NULL, m);
        th_check_clean(e.db);
        th_model_free(m);
        th_env_destroy(&e);
    }
}

/* ct_close with a write txn and read txns still open aborts/releases them
   (documented); nothing of the open write txn is committed. */
static void test_close_with_open_txns(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_put1(e.db, "k", 1, "v", 1);
    ct_txn *r1 = NULL;
    ct_txn *r2 = NULL;
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r1), CT_OK);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r2), CT_OK);
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "uncommitted", 11, "x", 1, 0), CT_OK);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(r1, NULL, &c), CT_OK);
    th_assert_rc(ct_cursor_first(c), CT_OK);
    th_env_close(&e);
    th_assert_rc(th_env_open(&e), CT_OK);
    th_model *m = th_model_new();
    th_model_put(m, "k", 1, "v", 1);
    th_verify_db(e.db, NULL, m);
    th_check_clean(e.db);
    th_model_free(m);
    th_env_destroy(&e);
}

/* ct_sync: a no-op under CT_SYNC_FULL, works under CT_SYNC_NONE, including
   from the writer's own thread while its write txn is open. */
static void test_sync_calls(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    th_ram_stats s0;
    th_ram_stats s1;
    th_ram_get_stats(e.ps, &s0);
    th_assert_rc(ct_sync(e.db), CT_OK);
    th_ram_get_stats(e.ps, &s1);
    assert_int_equal(s1.syncs, s0.syncs);
    e.durability = CT_SYNC_NONE;
    th_env_reopen(&e);
    th_put1(e.db, "a", 1, "1", 1);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_ram_get_stats(e.ps, &s0);
    th_assert_rc(ct_sync(e.db), CT_OK);
    th_ram_get_stats(e.ps, &s1);
    assert_int_equal(s1.syncs, s0.syncs + 1);
    th_assert_rc(ct_put(w, NULL, "b", 1, "2", 1, 0), CT_OK);
    th_assert_rc(ct_commit(w), CT_OK);
    th_assert_rc(ct_sync(e.db), CT_OK);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_every_code),
        cmocka_unit_test(test_open_misuse),
        cmocka_unit_test(test_key_limit_from_format),
        cmocka_unit_test(test_store_constructor_misuse),
        cmocka_unit_test(test_txn_misuse),
        cmocka_unit_test(test_data_misuse),
        cmocka_unit_test(test_value_of_the_largest_size),
        cmocka_unit_test(test_append_out_of_order),
        cmocka_unit_test(test_bucket_misuse),
        cmocka_unit_test(test_cursor_misuse),
        cmocka_unit_test(test_put_value_aliasing_db_memory),
        cmocka_unit_test(test_close_with_open_txns),
        cmocka_unit_test(test_sync_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
