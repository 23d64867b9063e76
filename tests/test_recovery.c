/*
 * test_recovery.c - open-time recovery on edited store images: a torn,
 * zeroed, stale or bit-flipped newest meta page falls back to the previous
 * commit (intact, with a clean check, and writable); a damaged page of the
 * newest commit does the same; both metas broken is CT_CORRUPT (and the
 * image is left untouched); a store of just two pages without a valid meta
 * is an interrupted creation and is created afresh; a newer format version
 * is CT_VERSION; an I/O error while validating is returned, not taken as a
 * reason to fall back; power cuts at every op of a commit; failed syncs
 * poison the handle; failed writes commit nothing; a full store is
 * CT_NOSPACE and recoverable; CT_SYNC_NONE crashes land on the last synced
 * commit or a later one; rotten, lost and misdirected pages give errors,
 * never wrong data. On RAM stores (map and read paths), the memory store
 * and the file store.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowtree/memstore.h"
#include "internal.h"

/* Random churn: `commits` txns of puts/deletes (some overflow values).
   The model ends at the last commit's state with the last txn journaled:
   th_model_rollback then gives the previous commit's state. */
static void build_history(th_env *e, th_model *m, uint64_t seed, int commits)
{
    th_rng r;
    th_rng_seed(&r, seed);
    size_t kmax = ct_key_max(e->db);
    uint8_t key[1024];
    uint8_t *val = malloc(8192);
    assert_non_null(val);
    for (int c = 0; c < commits; c++) {
        if (c + 1 == commits) {
            th_model_begin(m);
        }
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e->db, 0, &t), CT_OK);
        int ops = 1 + (int)th_below(&r, 80);
        for (int i = 0; i < ops; i++) {
            size_t n = th_model_count(m);
            if (n > 50 && th_chance(&r, 1, 3)) {
                const uint8_t *k = NULL;
                size_t kl = 0;
                th_model_at(m, (size_t)th_below(&r, n), &k, &kl, NULL, NULL);
                memcpy(key, k, kl);
                th_assert_rc(ct_del(t, NULL, key, kl), CT_OK);
                th_model_del(m, key, kl);
                continue;
            }
            size_t kl = th_gen_key(&r, key, kmax < 24 ? kmax : 24);
            size_t vl = th_chance(&r, 1, 10) ? (size_t)th_below(&r, 8192) : (size_t)th_below(&r, 40);
            th_fill(&r, val, vl);
            th_assert_rc(ct_put(t, NULL, key, kl, val, vl, 0), CT_OK);
            th_model_put(m, key, kl, val, vl);
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    free(val);
}

/* Txn ids of the meta slots as stored (0 when the slot does not decode). */
static uint64_t slot_txnid(th_env *e, int slot)
{
    uint8_t *p = malloc(e->page_size);
    assert_non_null(p);
    th_env_page_read(e, (uint64_t)slot, p);
    ct__meta m;
    uint64_t id = ct__meta_decode(p, e->page_size, slot, &m) == CT_OK ? m.txnid : 0;
    free(p);
    return id;
}

enum damage {
    DMG_ZERO = 0,       /* the whole page zeroed (write never landed) */
    DMG_GARBAGE = 1,    /* the first sector overwritten with random bytes */
    DMG_TORN_HALF = 2,  /* zeros from byte 100 on: a write torn inside the body */
    DMG_SECTOR_OLD = 3, /* first sector from the slot's previous meta */
    DMG_BITFLIP = 4,    /* one bit flipped in the body */
    DMG_COUNT = 5
};

static const char *damage_name(int d)
{
    static const char *names[] = {"zeroed", "garbage sector", "torn half", "stale sector",
                                  "bit flip"};
    return names[d];
}

static void damage_page(th_env *e, uint64_t pgno, int how, const uint8_t *old, uint64_t seed)
{
    uint8_t *p = malloc(e->page_size);
    assert_non_null(p);
    th_env_page_read(e, pgno, p);
    th_rng r;
    th_rng_seed(&r, seed);
    switch (how) {
    case DMG_ZERO:
        memset(p, 0, e->page_size);
        break;
    case DMG_GARBAGE:
        th_fill(&r, p, CT_SECTOR_SIZE);
        break;
    case DMG_TORN_HALF:
        memset(p + 100, 0, e->page_size - 100);
        break;
    case DMG_SECTOR_OLD:
        memcpy(p, old, CT_SECTOR_SIZE);
        break;
    case DMG_BITFLIP:
        p[CT_PAGE_HDR_BYTES + 16 + th_below(&r, 8)] ^= (uint8_t)(1u << th_below(&r, 8));
        break;
    }
    th_env_page_write(e, pgno, p);
    free(p);
}

/* A damaged newest meta (each kind of damage, each store kind, 512 and
   4096-byte pages) opens the previous commit: its exact content, a clean
   check, and it accepts new commits that survive another reopen. */
static void newest_meta_case(th_store_kind kind, uint32_t page_size, int how, uint64_t seed)
{
    th_set_ctx("store=%s page=%u damage=%s seed=%llu", th_store_name(kind), page_size,
               damage_name(how), (unsigned long long)seed);
    th_env e;
    th_env_init(&e, kind, page_size);
    th_model *m = th_model_new();
    build_history(&e, m, seed, 40);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    uint64_t newest = st.txnid;
    th_verify_db(e.db, NULL, m);
    th_env_close(&e);
    int slot = (int)(newest % 2);
    th_assert_eq(slot_txnid(&e, slot), newest);
    th_assert_eq(slot_txnid(&e, 1 - slot), newest - 1);
    /* For the stale-sector case: the image commit newest-2 wrote into this
       slot (the other slot's meta re-labelled with that id and this slot). */
    uint8_t *old = malloc(page_size);
    assert_non_null(old);
    th_env_page_read(&e, (uint64_t)(1 - slot), old);
    if (how == DMG_SECTOR_OLD) {
        ct__meta om;
        th_assert_rc(ct__meta_decode(old, page_size, 1 - slot, &om), CT_OK);
        om.txnid = newest - 2;
        ct__meta_encode(&om, old, page_size, slot);
    }
    damage_page(&e, (uint64_t)slot, how, old, seed);
    free(old);
    th_assert_rc(th_env_open(&e), CT_OK);
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    /* The open's fence meta (recover.c) lies a window above every id seen;
       the content check below shows the previous commit was recovered. */
    th_assert_true(st.txnid >= newest - 1 + CT_TXNID_WINDOW);
    th_assert_eq(st.rejected_txnid, 0); /* a damaged meta is no commit to reject */
    /* ...but ct_stat names its slot (the stale sector's fields do not fit
       its re-labelled id, so it fails to decode too). */
    th_assert_eq(st.meta_slots_invalid, 1u << slot);
    th_model_rollback(m);
    th_verify_db(e.db, NULL, m);
    th_check_clean(e.db);
    /* Still writable, and what it writes survives a reopen. */
    th_put1(e.db, "after", 5, "recovery", 8);
    th_model_put(m, "after", 5, "recovery", 8);
    build_history(&e, m, seed + 1000, 5);
    th_model_commit(m);
    th_env_reopen(&e);
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    th_assert_eq(st.meta_slots_invalid, 0); /* the fence rewrote the slot */
    th_verify_db(e.db, NULL, m);
    th_check_clean(e.db);
    th_model_free(m);
    th_env_destroy(&e);
    th_ctx[0] = '\0';
}

static void newest_meta_all(th_store_kind kind)
{
    const uint32_t sizes[] = {512, 4096};
    for (size_t s = 0; s < 2; s++) {
        for (int how = 0; how < DMG_COUNT; how++) {
            newest_meta_case(kind, sizes[s], how, 7u + (uint64_t)how);
        }
    }
}

static void test_newest_meta_damaged_ram(void **state)
{
    (void)state;
    newest_meta_all(TH_STORE_RAM);
    newest_meta_all(TH_STORE_RAM_NOMAP);
}

static void test_newest_meta_damaged_memstore(void **state)
{
    (void)state;
    newest_meta_all(TH_STORE_MEM);
    newest_meta_all(TH_STORE_MEM_NOMAP);
}

static void test_newest_meta_damaged_file(void **state)
{
    (void)state;
    newest_meta_all(TH_STORE_FILE);
}

/* Both metas broken: open is CT_CORRUPT (never a crash, never a new empty
   database), on every store, and the failed open changed no byte. */
static void both_metas_case(th_store_kind kind, int how)
{
    th_set_ctx("store=%s damage=%s", th_store_name(kind), damage_name(how));
    th_env e;
    th_env_init(&e, kind, 512);
    th_model *m = th_model_new();
    build_history(&e, m, 99, 10);
    th_model_commit(m);
    th_env_close(&e);
    uint64_t pages = th_env_store_pages(&e);
    uint8_t old[512];
    th_env_page_read(&e, 0, old);
    damage_page(&e, 0, how, old, 1);
    damage_page(&e, 1, how, old, 2);
    uint8_t *before = malloc((size_t)pages * 512);
    assert_non_null(before);
    for (uint64_t p = 0; p < pages; p++) {
        th_env_page_read(&e, p, before + p * 512);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        th_assert_rc(th_env_open(&e), CT_CORRUPT);
        assert_null(e.db);
    }
    /* Read-only open: CT_CORRUPT too. */
    if (kind == TH_STORE_FILE) {
        ct_options o;
        ct_options_init(&o);
        o.flags = CT_RDONLY;
        ct_db *db = NULL;
        th_assert_rc(ct_open_path(e.path, &o, &db), CT_CORRUPT);
    }
    th_assert_eq(th_env_store_pages(&e), pages);
    uint8_t page[512];
    for (uint64_t p = 0; p < pages; p++) {
        th_env_page_read(&e, p, page);
        th_assert_mem(page, before + p * 512, 512);
    }
    free(before);
    th_model_free(m);
    th_env_destroy(&e);
    th_ctx[0] = '\0';
}

static void test_both_metas_broken(void **state)
{
    (void)state;
    const th_store_kind kinds[] = {TH_STORE_RAM, TH_STORE_RAM_NOMAP, TH_STORE_MEM,
                                   TH_STORE_MEM_NOMAP, TH_STORE_FILE};
    for (size_t k = 0; k < 5; k++) {
        for (int how = 0; how < DMG_COUNT; how++) {
            if (how == DMG_SECTOR_OLD) {
                continue; /* needs an older image; both-slot damage is covered */
            }
            both_metas_case(kinds[k], how);
        }
    }
}

/* A page written by the newest commit (its root) zeroed or replaced by a
   stale copy: recovery's validation of that commit fails and the previous
   commit opens, intact. */
static void test_newest_commit_page_damaged(void **state)
{
    (void)state;
    const th_store_kind kinds[] = {TH_STORE_RAM, TH_STORE_RAM_NOMAP, TH_STORE_MEM,
                                   TH_STORE_MEM_NOMAP, TH_STORE_FILE};
    for (size_t k = 0; k < 5; k++) {
        th_set_ctx("store=%s", th_store_name(kinds[k]));
        th_env e;
        th_env_init(&e, kinds[k], 512);
        th_model *m = th_model_new();
        build_history(&e, m, 5, 30);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
        uint64_t root = t->meta.main.root;
        uint64_t root_gen = t->meta.main.gen;
        ct_abort(t);
        th_assert_eq(root_gen, st.txnid); /* every commit rewrites the root path */
        th_env_close(&e);
        damage_page(&e, root, DMG_ZERO, NULL, 0);
        th_assert_rc(th_env_open(&e), CT_OK);
        uint64_t newest = st.txnid;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        th_assert_true(st.txnid >= newest - 1 + CT_TXNID_WINDOW); /* the open's fence */
        /* ct_stat says a newer commit was rejected, and at which page. */
        th_assert_eq(st.rejected_txnid, newest);
        th_assert_eq(st.rejected_pgno, root);
        th_model_rollback(m);
        th_verify_db(e.db, NULL, m);
        th_check_clean(e.db);
        th_model_free(m);
        th_env_destroy(&e);
    }
    th_ctx[0] = '\0';
}

/* A store of at most two pages with no valid meta is a creation a crash
   interrupted: open creates the database afresh (zeroed or garbage pages),
   usable and reopenable; with CT_NOCREATE it is CT_NOTFOUND and nothing
   is written. Three pages and no valid meta: CT_CORRUPT. */
static void test_two_page_store_created_afresh(void **state)
{
    (void)state;
    for (int garbage = 0; garbage < 2; garbage++) {
        for (uint64_t npages = 1; npages <= 3; npages++) {
            th_set_ctx("garbage=%d pages=%llu", garbage, (unsigned long long)npages);
            ct_pagestore *ps = th_ram_create(512, 1);
            uint8_t p[512];
            th_rng r;
            th_rng_seed(&r, npages);
            for (uint64_t i = 0; i < npages; i++) {
                if (garbage) {
                    th_fill(&r, p, sizeof(p));
                } else {
                    memset(p, 0, sizeof(p));
                }
                th_assert_rc(ps->ops->write(ps, i, 1, p), CT_OK);
            }
            ct_db *db = NULL;
            ct_options nc;
            ct_options_init(&nc);
            nc.flags = CT_NOCREATE;
            int rc = ct_open(ps, &nc, &db);
            if (npages <= 2) {
                /* CT_NOCREATE: no new database, the pages left alone. */
                th_assert_rc(rc, CT_NOTFOUND);
                assert_null(db);
                uint8_t back[512];
                th_assert_rc(ps->ops->read(ps, npages - 1, 1, back), CT_OK);
                assert_memory_equal(back, p, sizeof(p));
                rc = ct_open(ps, NULL, &db);
            }
            if (npages <= 2) {
                th_assert_rc(rc, CT_OK);
                struct ct_stat st;
                th_assert_rc(ct_stat(db, &st), CT_OK);
                th_assert_eq(st.entries, 0);
                th_check_clean(db);
                th_put1(db, "k", 1, "v", 1);
                ct_close(db);
                th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
                ct_txn *t = NULL;
                th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
                const void *v = NULL;
                size_t vl = 0;
                th_assert_rc(ct_get(t, NULL, "k", 1, &v, &vl), CT_OK);
                ct_abort(t);
                ct_close(db);
            } else {
                th_assert_rc(rc, CT_CORRUPT);
                assert_null(db);
            }
            ps->ops->close(ps);
        }
    }
    /* The same through the file store: a file of two zero pages. */
    char dir[512];
    th_tmpdir_make(dir, sizeof(dir));
    char path[600];
    snprintf(path, sizeof(path), "%s/two", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 2 * 4096), 0);
    close(fd);
    ct_db *db = NULL;
    th_assert_rc(ct_open_path(path, NULL, &db), CT_OK);
    th_check_clean(db);
    ct_close(db);
    th_assert_rc(ct_open_path(path, NULL, &db), CT_OK);
    ct_close(db);
    th_tmpdir_remove(dir);
    th_ctx[0] = '\0';
}

/* Writes len bytes of buf as the whole of the file at path. */
static void write_whole_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Whether the file at path holds exactly len bytes of buf. */
static int file_holds(const char *path, const void *buf, size_t len)
{
    uint8_t back[2 * 4096 + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, back, sizeof(back));
    close(fd);
    return n == (ssize_t)len && memcmp(back, buf, len) == 0;
}

/* Through ct_open_path a small file with no valid meta is created afresh
   only when its bytes are what a creation a crash cut short leaves (every
   512-byte sector zero or a meta's, whole): a foreign file (text here) is
   CT_CORRUPT and left as it was, never turned into a database. A torn
   creation (each meta's first sector lost) still opens. */
static void test_small_foreign_file_kept(void **state)
{
    (void)state;
    char dir[512];
    th_tmpdir_make(dir, sizeof(dir));
    char path[600];
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    static uint8_t text[2 * 4096];
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = (uint8_t)('a' + i % 26);
    }
    ct_db *db = NULL;
    const size_t sizes[] = {100, 4096, sizeof(text)};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_whole_file(path, text, sizes[i]);
        th_assert_rc(ct_open_path(path, NULL, &db), CT_CORRUPT);
        assert_null(db);
        th_assert_true(file_holds(path, text, sizes[i]));
    }
    /* A creation cut short: the two meta pages a creation writes, each
       without its first sector (never reached the disk). */
    snprintf(path, sizeof(path), "%s/torn.ct", dir);
    th_assert_rc(ct_open_path(path, NULL, &db), CT_OK);
    ct_close(db);
    static uint8_t torn[2 * 4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
    close(fd);
    memset(torn, 0, 512);
    memset(torn + 4096, 0, 512);
    write_whole_file(path, torn, sizeof(torn));
    th_assert_rc(ct_open_path(path, NULL, &db), CT_OK);
    th_check_clean(db);
    ct_close(db);
    /* The same with one sector that no creation writes: kept. */
    memcpy(torn + 4096 + 1024, text, 512);
    write_whole_file(path, torn, sizeof(torn));
    th_assert_rc(ct_open_path(path, NULL, &db), CT_CORRUPT);
    th_assert_true(file_holds(path, torn, sizeof(torn)));
    th_tmpdir_remove(dir);
}

/* Empty stores: CT_NOCREATE gives CT_NOTFOUND, CT_RDONLY gives CT_READONLY,
   and neither writes anything. */
static void test_empty_store_flags(void **state)
{
    (void)state;
    ct_pagestore *ps = th_ram_create(512, 1);
    ct_options o;
    ct_options_init(&o);
    o.flags = CT_NOCREATE;
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, &o, &db), CT_NOTFOUND);
    assert_null(db);
    o.flags = CT_RDONLY;
    th_assert_rc(ct_open(ps, &o, &db), CT_READONLY);
    uint64_t n = 99;
    th_assert_rc(ps->ops->size(ps, &n), CT_OK);
    assert_int_equal(n, 0);
    ps->ops->close(ps);
}

/* A meta from a newer format version (resealed, so only the version is
   wrong) is CT_VERSION, whether in the newest slot or in both. */
static void test_newer_version(void **state)
{
    (void)state;
    for (int both = 0; both < 2; both++) {
        th_env e;
        th_env_init(&e, TH_STORE_RAM, 512);
        th_put1(e.db, "a", 1, "b", 1);
        struct ct_stat st;
        th_assert_rc(ct_stat(e.db, &st), CT_OK);
        th_env_close(&e);
        for (int slot = 0; slot < 2; slot++) {
            if (!both && (uint64_t)slot != st.txnid % 2) {
                continue;
            }
            uint8_t *p = th_ram_page(e.ps, (uint64_t)slot);
            ct__put32(p + CT_PAGE_HDR_BYTES + 8, ct__get32(p + CT_PAGE_HDR_BYTES + 8) + 1);
            ct__page_seal(p, 512);
        }
        th_assert_rc(th_env_open(&e), CT_VERSION);
        assert_null(e.db);
        th_env_destroy(&e);
    }
    /* A database opened with another page size than the store's: the store
       decides (ct_open with a mismatching option is CT_INVALID); a file
       written at 4096 opens at 4096 through ct_open_path whatever the
       options say. */
    ct_pagestore *ps = th_ram_create(4096, 1);
    ct_options o;
    ct_options_init(&o);
    o.page_size = 512;
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, &o, &db), CT_INVALID);
    ps->ops->close(ps);
    th_env e;
    th_env_init(&e, TH_STORE_FILE, 4096);
    th_put1(e.db, "a", 1, "b", 1);
    th_env_close(&e);
    e.page_size = 512;
    th_assert_rc(th_env_open(&e), CT_OK);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_int_equal(st.page_size, 4096);
    e.page_size = 4096;
    th_env_destroy(&e);
}

/* ---- a store whose reads of one page fail with CT_IO ------------------- */

typedef struct io_store {
    th_fwd_store fwd;
    uint64_t bad_pgno;
    int armed;
} io_store;

static int io_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    io_store *s = (io_store *)ps;
    if (s->armed && pgno <= s->bad_pgno && s->bad_pgno < pgno + npages) {
        return CT_IO;
    }
    return th_fwd_read(ps, pgno, npages, buf);
}

static const ct_pagestore_ops io_ops = {io_read,       th_fwd_write, th_fwd_sync, th_fwd_size,
                                        th_fwd_resize, th_fwd_close, NULL,        NULL};

/* An I/O error while recovery validates the newest commit is returned as
   CT_IO: recovery must not fall back to the previous commit (that could
   drop an acknowledged commit). Once the error clears, the newest opens. */
static void test_io_error_during_recovery_is_returned(void **state)
{
    (void)state;
    io_store s;
    memset(&s, 0, sizeof(s));
    th_fwd_init(&s.fwd, &io_ops, th_ram_create(512, 0));
    ct_db *db = NULL;
    th_assert_rc(ct_open(&s.fwd.base, NULL, &db), CT_OK);
    th_put1(db, "a", 1, "1", 1);
    th_put1(db, "a", 1, "2", 1);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    s.bad_pgno = t->meta.main.root;
    ct_abort(t);
    ct_close(db);
    s.armed = 1;
    th_assert_rc(ct_open(&s.fwd.base, NULL, &db), CT_IO);
    assert_null(db);
    s.armed = 0;
    th_assert_rc(ct_open(&s.fwd.base, NULL, &db), CT_OK);
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, "a", 1, &v, &vl), CT_OK);
    assert_memory_equal(v, "2", 1);
    ct_abort(t);
    ct_close(db);
    s.fwd.inner->ops->close(s.fwd.inner);
}

/* A read-only open of a database sees its content and refuses writes
   with CT_READONLY. */
static void test_readonly_open(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_FILE, 512);
    th_put1(e.db, "k", 1, "v", 1);
    th_env_close(&e);
    ct_options o;
    ct_options_init(&o);
    o.flags = CT_RDONLY;
    ct_db *db = NULL;
    th_assert_rc(ct_open_path(e.path, &o, &db), CT_OK);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_READONLY);
    assert_null(t);
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, "k", 1, &v, &vl), CT_OK);
    th_assert_rc(ct_put(t, NULL, "x", 1, "y", 1, 0), CT_READONLY);
    th_assert_rc(ct_del(t, NULL, "k", 1), CT_READONLY);
    ct_bucket *b = NULL;
    th_assert_rc(ct_bucket_open(t, "nb", CT_CREATE, &b), CT_READONLY);
    ct_abort(t);
    th_check_clean(db);
    th_assert_rc(ct_sync(db), CT_OK);
    ct_close(db);
    th_env_destroy(&e);
}

/* ---- power cuts during a commit (memory store device model) --------------- */

/* Applies `ops` random puts/deletes (deletes pick keys from m) to m and,
   when t is not NULL, to the db. */
static void churn(th_rng *r, ct_txn *t, th_model *m, int ops)
{
    uint8_t key[32];
    uint8_t val[3000];
    for (int i = 0; i < ops; i++) {
        size_t n = th_model_count(m);
        if (n > 20 && th_chance(r, 1, 3)) {
            const uint8_t *k = NULL;
            size_t kl = 0;
            th_model_at(m, (size_t)th_below(r, n), &k, &kl, NULL, NULL);
            memcpy(key, k, kl);
            if (t) {
                th_assert_rc(ct_del(t, NULL, key, kl), CT_OK);
            }
            th_model_del(m, key, kl);
            continue;
        }
        size_t kl = th_gen_key(r, key, 16);
        size_t vl = th_chance(r, 1, 8) ? (size_t)th_below(r, sizeof(val)) : (size_t)th_below(r, 30);
        th_fill(r, val, vl);
        if (t) {
            th_assert_rc(ct_put(t, NULL, key, kl, val, vl, 0), CT_OK);
        }
        th_model_put(m, key, kl, val, vl);
    }
}

/* 1 when the db's content (read txn, cursor scan) equals m; never asserts. */
static int db_equals(ct_db *db, const th_model *m)
{
    ct_txn *t = NULL;
    if (ct_begin(db, CT_TXN_RDONLY, &t) != CT_OK) {
        return 0;
    }
    ct_cursor *c = NULL;
    int ok = ct_cursor_open(t, NULL, &c) == CT_OK;
    size_t n = th_model_count(m);
    int rc = ok ? ct_cursor_first(c) : CT_INVALID;
    for (size_t i = 0; ok && i < n; i++) {
        const uint8_t *mk = NULL;
        const uint8_t *mv = NULL;
        size_t mkl = 0;
        size_t mvl = 0;
        th_model_at(m, i, &mk, &mkl, &mv, &mvl);
        const void *k = NULL;
        const void *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        ok = rc == CT_OK && ct_cursor_get(c, &k, &kl, &v, &vl) == CT_OK && kl == mkl &&
             vl == mvl && (kl == 0 || memcmp(k, mk, kl) == 0) &&
             (vl == 0 || memcmp(v, mv, vl) == 0);
        rc = ct_cursor_next(c);
    }
    ok = ok && rc == CT_NOTFOUND;
    ct_abort(t);
    return ok;
}

static int open_mem(ct_pagestore *ps, ct_db **db)
{
    return ct_open(ps, NULL, db);
}

/* A power cut at every I/O op of a commit, each followed by several crash
   outcomes (every unsynced write dropped; all kept; each one omitted; each
   one torn with 3 seeds; 4 random outcomes), on the memory store with and
   without map(): reopening always succeeds with exactly the commit before
   or the commit in flight (never other content, never an empty database),
   ct_check is clean, and the database accepts and keeps new commits. */
static void test_power_cut_during_commit(void **state)
{
    (void)state;
    for (int map = 0; map < 2; map++) {
        ct_memstore_options mo;
        ct_memstore_options_init(&mo);
        mo.page_size = 512;
        mo.enable_map = map;
        ct_pagestore *ps = NULL;
        th_assert_rc(ct_memstore_create(&mo, &ps), CT_OK);
        th_model *ma = th_model_new();
        th_model *mb = th_model_new();
        ct_db *db = NULL;
        th_assert_rc(open_mem(ps, &db), CT_OK);
        th_rng ra;
        th_rng rb;
        th_rng_seed(&ra, 77);
        th_rng_seed(&rb, 77);
        for (int c = 0; c < 15; c++) {
            ct_txn *t = NULL;
            th_assert_rc(ct_begin(db, 0, &t), CT_OK);
            churn(&ra, t, ma, 40);
            churn(&rb, NULL, mb, 40);
            th_assert_rc(ct_commit(t), CT_OK);
        }
        ct_close(db);
        th_assert_rc(ct_memstore_unmap_all(ps), CT_OK);
        th_rng rn;
        th_rng_seed(&rn, 1234);
        churn(&rn, NULL, mb, 60); /* mb: the state after the commit in flight */
        ct_memstore_snapshot *snap = NULL;
        th_assert_rc(ct_memstore_snapshot_take(ps, &snap), CT_OK);
        /* Dry run: which op numbers does the commit issue? */
        ct_memstore_info info;
        th_assert_rc(open_mem(ps, &db), CT_OK);
        th_assert_rc(ct_memstore_get_info(ps, &info), CT_OK);
        uint64_t first_op = info.ops;
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        th_model_begin(ma);
        th_rng_seed(&rn, 1234);
        churn(&rn, t, ma, 60);
        th_model_rollback(ma);
        th_assert_rc(ct_commit(t), CT_OK);
        th_assert_rc(ct_memstore_get_info(ps, &info), CT_OK);
        uint64_t end_op = info.ops;
        assert_true(end_op > first_op + 2); /* writes, sync, meta, sync at least */
        ct_close(db);
        uint64_t runs = 0;
        uint64_t saw_new = 0;
        for (uint64_t cut = first_op; cut < end_op; cut++) {
            for (int variant = 0;; variant++) {
                th_assert_rc(ct_memstore_unmap_all(ps), CT_OK);
                th_assert_rc(ct_memstore_snapshot_restore(ps, snap), CT_OK);
                th_assert_rc(open_mem(ps, &db), CT_OK);
                th_assert_rc(ct_memstore_set_power_cut(ps, cut), CT_OK);
                th_assert_rc(ct_begin(db, 0, &t), CT_OK);
                th_model_begin(ma);
                th_rng_seed(&rn, 1234);
                churn(&rn, t, ma, 60);
                th_model_rollback(ma);
                int crc = ct_commit(t); /* CT_OK only if the cut hit a step after the sync */
                ct_close(db);
                th_assert_rc(ct_memstore_get_info(ps, &info), CT_OK);
                uint32_t pending = (uint32_t)info.pending;
                ct_crash_outcome o;
                memset(&o, 0, sizeof(o));
                /* variants: 0 drop all, 1 keep all, then omit each, tear each
                   (3 seeds), then 4 random outcomes. */
                int v = variant;
                if (v == 0) {
                    o.mode = CT_CRASH_DROP_ALL;
                } else if (v == 1) {
                    o.mode = CT_CRASH_KEEP_ALL;
                } else if ((v -= 2) < (int)pending) {
                    o.mode = CT_CRASH_OMIT_ONE;
                    o.index = (uint32_t)v;
                } else if ((v -= (int)pending) < 3 * (int)pending) {
                    o.mode = CT_CRASH_TEAR_ONE;
                    o.index = (uint32_t)(v / 3);
                    o.seed = (uint64_t)(v % 3) + 1;
                } else if ((v -= 3 * (int)pending) < 4) {
                    o.mode = CT_CRASH_RANDOM;
                    o.seed = (uint64_t)v + 100;
                } else {
                    break;
                }
                th_set_ctx("map=%d cut at op %llu (commit ops %llu..%llu), crash mode %d index %u "
                           "seed %llu, %u pending",
                           map, (unsigned long long)cut, (unsigned long long)first_op,
                           (unsigned long long)end_op - 1, (int)o.mode, o.index,
                           (unsigned long long)o.seed, pending);
                th_assert_rc(ct_memstore_crash(ps, &o), CT_OK);
                th_assert_rc(ct_memstore_unmap_all(ps), CT_OK);
                th_assert_rc(open_mem(ps, &db), CT_OK);
                int is_a = db_equals(db, ma);
                int is_b = db_equals(db, mb);
                th_assert_true(is_a || is_b);
                if (crc == CT_OK) {
                    th_assert_true(is_b); /* acknowledged: must survive */
                }
                saw_new += (uint64_t)is_b;
                th_check_clean(db);
                th_put1(db, "after", 5, "crash", 5);
                ct_close(db);
                th_assert_rc(open_mem(ps, &db), CT_OK);
                ct_txn *r = NULL;
                th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &r), CT_OK);
                const void *val = NULL;
                size_t vl = 0;
                th_assert_rc(ct_get(r, NULL, "after", 5, &val, &vl), CT_OK);
                ct_abort(r);
                ct_close(db);
                runs++;
            }
        }
        print_message("  map=%d: %llu crash runs over %llu commit ops, %llu found the new commit\n",
                      map, (unsigned long long)runs, (unsigned long long)(end_op - first_op),
                      (unsigned long long)saw_new);
        assert_true(saw_new > 0);      /* e.g. keep-all after the meta write */
        assert_true(saw_new < runs);   /* e.g. drop-all before the meta sync */
        ct_memstore_snapshot_free(snap);
        th_model_free(ma);
        th_model_free(mb);
        ps->ops->close(ps);
    }
    th_ctx[0] = '\0';
}

/* ---- store faults (memory store) --------------------------------------------- */

static void put_range(ct_db *db, const char *prefix, int n, int expect_rc)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s%05d", prefix, i);
        th_assert_rc(ct_put(t, NULL, k, strlen(k), k, strlen(k), 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), expect_rc);
}

static int count_prefix(ct_db *db, const char *prefix)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    int n = 0;
    size_t pl = strlen(prefix);
    for (int rc = ct_cursor_seek(c, prefix, pl); rc == CT_OK; rc = ct_cursor_next(c)) {
        const void *k = NULL;
        size_t kl = 0;
        th_assert_rc(ct_cursor_get(c, &k, &kl, NULL, NULL), CT_OK);
        if (kl < pl || memcmp(k, prefix, pl) != 0) {
            break;
        }
        n++;
    }
    ct_abort(t);
    return n;
}

/* A failed sync during a commit: the commit returns CT_IO, the handle is
   poisoned (write txns and ct_sync get CT_POISONED, read txns still work
   and see the last good commit), and after close and reopen the database
   holds either the commit before or the failed one, checks clean and
   accepts writes again. The commit's sync (one under CT_SYNC_FULL:
   docs/format.md) is failed. */
static void test_sync_failure_poisons(void **state)
{
    (void)state;
    for (uint64_t nth = 1; nth <= 1; nth++) {
        ct_pagestore *ps = th_mem_create(512, 0, 0);
        ct_db *db = NULL;
        th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
        put_range(db, "a", 200, CT_OK);
        th_assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_SYNC, nth, 0), CT_OK);
        put_range(db, "b", 200, CT_IO);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_POISONED);
        th_assert_rc(ct_sync(db), CT_POISONED);
        assert_int_equal(count_prefix(db, "a"), 200);
        assert_int_equal(count_prefix(db, "b"), 0);
        ct_close(db);
        th_assert_rc(ct_memstore_clear_countdowns(ps), CT_OK);
        th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
        assert_int_equal(count_prefix(db, "a"), 200);
        int b = count_prefix(db, "b");
        th_assert_true(b == 0 || b == 200);
        th_check_clean(db);
        put_range(db, "c", 50, CT_OK);
        th_check_clean(db);
        ct_close(db);
        ps->ops->close(ps);
    }
}

/* A failed page write during a commit (each write op of the commit in
   turn): ct_commit returns CT_IO, nothing of the txn is visible, the db
   takes the next commit, and after a reopen everything but the failed
   txn is there with a clean check. */
static void test_write_failure_commits_nothing(void **state)
{
    (void)state;
    for (uint64_t nth = 1; nth <= 6; nth++) {
        th_set_ctx("write %llu of the commit fails", (unsigned long long)nth);
        ct_pagestore *ps = th_mem_create(512, 1, 0);
        ct_db *db = NULL;
        th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
        put_range(db, "a", 300, CT_OK);
        th_assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_WRITE, nth, 0), CT_OK);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 300; i += 3) {
            char k[32];
            snprintf(k, sizeof(k), "b%05d", i);
            th_assert_rc(ct_put(t, NULL, k, strlen(k), "x", 1, 0), CT_OK);
            snprintf(k, sizeof(k), "a%05d", i);
            th_assert_rc(ct_del(t, NULL, k, strlen(k)), CT_OK);
        }
        int rc = ct_commit(t);
        ct_memstore_info info;
        th_assert_rc(ct_memstore_get_info(ps, &info), CT_OK);
        uint64_t failed = info.countdown_failures[CT_MEMSTORE_OP_WRITE];
        th_assert_rc(ct_memstore_clear_countdowns(ps), CT_OK);
        if (failed == 0) {
            th_assert_rc(rc, CT_OK); /* the commit had fewer writes than nth */
        } else {
            th_assert_rc(rc, CT_IO);
            assert_int_equal(count_prefix(db, "a"), 300);
            assert_int_equal(count_prefix(db, "b"), 0);
            /* A failed meta write poisons (the slot is unknown); a failed page
               write does not. Either way the next steps below must hold. */
            int brc = ct_begin(db, 0, &t);
            if (brc == CT_OK) {
                th_assert_rc(ct_put(t, NULL, "c", 1, "1", 1, 0), CT_OK);
                th_assert_rc(ct_commit(t), CT_OK);
                th_check_clean(db);
            } else {
                th_assert_rc(brc, CT_POISONED);
            }
        }
        ct_close(db);
        th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
        if (failed) {
            assert_int_equal(count_prefix(db, "a"), 300);
            assert_int_equal(count_prefix(db, "b"), 0);
        } else {
            assert_int_equal(count_prefix(db, "a"), 200);
            assert_int_equal(count_prefix(db, "b"), 100);
        }
        th_check_clean(db);
        ct_close(db);
        ps->ops->close(ps);
    }
    th_ctx[0] = '\0';
}

/* A store that cannot grow: commits that need more pages fail with
   CT_NOSPACE (never a crash, never a half commit); deleting data makes
   room and the db continues, checks clean, and reopens. */
static void test_nospace(void **state)
{
    (void)state;
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = 512;
    mo.max_pages = 300;
    ct_pagestore *ps = NULL;
    th_assert_rc(ct_memstore_create(&mo, &ps), CT_OK);
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
    int committed = 0;
    int rc = CT_OK;
    for (int round = 0; round < 100; round++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "r%02d-", round);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 100 && rc == CT_OK; i++) {
            char k[32];
            snprintf(k, sizeof(k), "%s%05d", prefix, i);
            rc = ct_put(t, NULL, k, strlen(k), "0123456789012345678901234567890123456789", 40, 0);
        }
        if (rc == CT_OK) {
            rc = ct_commit(t);
        } else {
            ct_abort(t);
        }
        if (rc != CT_OK) {
            break;
        }
        committed++;
    }
    print_message("  %d txns of 100 puts fit in 300 pages; the next one: %s\n", committed,
                  ct_errname(rc));
    th_assert_rc(rc, CT_NOSPACE);
    assert_true(committed > 0);
    for (int round = 0; round < committed; round++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "r%02d-", round);
        assert_int_equal(count_prefix(db, prefix), 100);
    }
    th_check_clean(db);
    /* Make room: delete the first half of the rounds (in small txns, each
       of which itself needs pages for its copy-on-write path). */
    for (int round = 0; round < committed / 2; round++) {
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 100; i++) {
            char k[32];
            snprintf(k, sizeof(k), "r%02d-%05d", round, i);
            th_assert_rc(ct_del(t, NULL, k, strlen(k)), CT_OK);
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    th_put1(db, "x", 1, "1", 1);
    th_put1(db, "x", 1, "2", 1);
    put_range(db, "again", 100, CT_OK);
    th_check_clean(db);
    ct_close(db);
    th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
    assert_int_equal(count_prefix(db, "again"), 100);
    th_check_clean(db);
    ct_close(db);
    ps->ops->close(ps);
}

/* Order-independent digest of the db's content (or of a model). */
static uint64_t digest_db(ct_db *db)
{
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    ct_cursor *c = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c), CT_OK);
    uint64_t h = 1469598103934665603ull;
    int rc = ct_cursor_first(c);
    for (; rc == CT_OK; rc = ct_cursor_next(c)) {
        const void *k = NULL;
        const void *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        th_assert_rc(ct_cursor_get(c, &k, &kl, &v, &vl), CT_OK);
        for (size_t i = 0; i < kl; i++) {
            h = (h ^ ((const uint8_t *)k)[i]) * 1099511628211ull;
        }
        h = (h ^ 0x100u ^ kl) * 1099511628211ull;
        for (size_t i = 0; i < vl; i++) {
            h = (h ^ ((const uint8_t *)v)[i]) * 1099511628211ull;
        }
        h = (h ^ 0x200u ^ vl) * 1099511628211ull;
    }
    th_assert_rc(rc, CT_NOTFOUND);
    ct_abort(t);
    return h;
}

static uint64_t digest_model(const th_model *m)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t j = 0; j < th_model_count(m); j++) {
        const uint8_t *k = NULL;
        const uint8_t *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        th_model_at(m, j, &k, &kl, &v, &vl);
        for (size_t i = 0; i < kl; i++) {
            h = (h ^ k[i]) * 1099511628211ull;
        }
        h = (h ^ 0x100u ^ kl) * 1099511628211ull;
        for (size_t i = 0; i < vl; i++) {
            h = (h ^ v[i]) * 1099511628211ull;
        }
        h = (h ^ 0x200u ^ vl) * 1099511628211ull;
    }
    return h;
}

/* CT_SYNC_NONE: commits, a ct_sync now and then, more commits, then a power
   cut with a random crash outcome: the reopened database holds the last
   synced commit or one of the unsynced commits after it (never anything
   else, never an older one), checks clean, and works on. 40 crashes. */
static void test_sync_none_crash(void **state)
{
    (void)state;
    uint64_t rounds = th_scaled(40);
    for (uint64_t round = 0; round < rounds; round++) {
        th_set_ctx("round %llu", (unsigned long long)round);
        ct_pagestore *ps = th_mem_create(512, (int)(round % 2), 0);
        ct_options o;
        ct_options_init(&o);
        o.durability = CT_SYNC_NONE;
        ct_db *db = NULL;
        th_assert_rc(ct_open(ps, &o, &db), CT_OK);
        th_model *m = th_model_new();
        th_rng r;
        th_rng_seed(&r, 500 + round);
        uint64_t digests[64];
        size_t ndig = 0;
        size_t synced = 0; /* index in digests of the last synced commit */
        digests[ndig++] = digest_model(m);
        int commits = 10 + (int)th_below(&r, 40);
        for (int c = 0; c < commits && ndig < 64; c++) {
            ct_txn *t = NULL;
            th_assert_rc(ct_begin(db, 0, &t), CT_OK);
            churn(&r, t, m, 1 + (int)th_below(&r, 30));
            th_assert_rc(ct_commit(t), CT_OK);
            digests[ndig++] = digest_model(m);
            if (th_chance(&r, 1, 5)) {
                th_assert_rc(ct_sync(db), CT_OK);
                synced = ndig - 1;
            }
        }
        ct_close(db);
        ct_crash_outcome co;
        memset(&co, 0, sizeof(co));
        co.mode = CT_CRASH_RANDOM;
        co.seed = round;
        th_assert_rc(ct_memstore_crash(ps, &co), CT_OK);
        th_assert_rc(ct_open(ps, &o, &db), CT_OK);
        uint64_t d = digest_db(db);
        size_t found = SIZE_MAX;
        for (size_t i = ndig; i-- > 0;) {
            if (digests[i] == d) {
                found = i;
                break;
            }
        }
        if (found == SIZE_MAX || found < synced) {
            print_error("after the crash: commit %zu of %zu (last synced %zu)\n", found, ndig - 1,
                        synced);
        }
        th_assert_true(found != SIZE_MAX && found >= synced);
        th_check_clean(db);
        th_put1(db, "after", 5, "1", 1);
        th_assert_rc(ct_sync(db), CT_OK);
        th_check_clean(db);
        ct_close(db);
        th_model_free(m);
        ps->ops->close(ps);
    }
    th_ctx[0] = '\0';
}

/* Reads that rot (one flipped bit per faulty read), lost writes and
   misdirected writes (memory store faults): every ct_get or scan returns
   the right data or an error (CT_CORRUPT / CT_IO), never wrong data, and
   never crashes. The workload runs until the faults make it stop. */
static void test_faults_never_wrong_data(void **state)
{
    (void)state;
    const char *names[] = {"bit rot", "lost writes", "misdirected writes"};
    for (int kind = 0; kind < 3; kind++) {
        ct_pagestore *ps = th_mem_create(512, 0, 0);
        ct_db *db = NULL;
        th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
        th_model *m = th_model_new();
        th_rng r;
        th_rng_seed(&r, 900 + (uint64_t)kind);
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        churn(&r, t, m, 600);
        th_assert_rc(ct_commit(t), CT_OK);
        ct_memstore_faults f;
        memset(&f, 0, sizeof(f));
        if (kind == 0) {
            f.bit_rot = (ct_ratio){1, 20};
        } else if (kind == 1) {
            f.lost_write = (ct_ratio){1, 10};
        } else {
            f.misdirected_write = (ct_ratio){1, 10};
        }
        th_assert_rc(ct_memstore_set_faults(ps, &f, 7), CT_OK);
        uint64_t good = 0;
        uint64_t errors = 0;
        for (int round = 0; round < 60; round++) {
            /* A write txn (its commit may fail or silently lose pages). */
            int rc = ct_begin(db, 0, &t);
            if (rc == CT_OK) {
                th_model_begin(m);
                for (int i = 0; i < 10 && rc == CT_OK; i++) {
                    uint8_t key[16];
                    size_t kl = th_gen_key(&r, key, 16);
                    uint8_t val[40];
                    size_t vl = (size_t)th_below(&r, sizeof(val));
                    th_fill(&r, val, vl);
                    rc = ct_put(t, NULL, key, kl, val, vl, 0);
                    if (rc == CT_OK) {
                        th_model_put(m, key, kl, val, vl);
                    }
                }
                rc = rc == CT_OK ? ct_commit(t) : (ct_abort(t), rc);
                if (rc == CT_OK) {
                    th_model_commit(m);
                } else {
                    th_model_rollback(m);
                    assert_true(rc == CT_IO || rc == CT_CORRUPT || rc == CT_POISONED);
                }
            }
            /* Reads: each key either right or an error. */
            ct_txn *rt = NULL;
            th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &rt), CT_OK);
            for (size_t j = 0; j < th_model_count(m); j += 7) {
                const uint8_t *mk = NULL;
                const uint8_t *mv = NULL;
                size_t mkl = 0;
                size_t mvl = 0;
                th_model_at(m, j, &mk, &mkl, &mv, &mvl);
                const void *v = NULL;
                size_t vl = 0;
                int g = ct_get(rt, NULL, mk, mkl, &v, &vl);
                if (g == CT_OK) {
                    th_assert_eq(vl, mvl);
                    th_assert_mem(v, mv, vl);
                    good++;
                } else {
                    if (g != CT_CORRUPT && g != CT_IO) {
                        th_assert_rc(g, CT_CORRUPT);
                    }
                    errors++;
                }
            }
            ct_abort(rt);
        }
        print_message("  %s: %llu right reads, %llu reported errors, 0 wrong\n", names[kind],
                      (unsigned long long)good, (unsigned long long)errors);
        th_assert_rc(ct_memstore_set_faults(ps, NULL, 0), CT_OK);
        /* The checker reports the damage or finds none; never crashes. */
        ct_check_report rep;
        int crc = ct_check(db, &rep);
        assert_true(crc == CT_OK || crc == CT_CORRUPT);
        ct_close(db);
        th_model_free(m);
        ps->ops->close(ps);
    }
}

/* ct_open_path finds the page size from whichever meta slot is valid: a
   torn slot 0 (here: garbage) must not make it open a 512-byte-page file
   at the default 4096, where no meta verifies and the file would pass for
   an interrupted creation and be created afresh (found by the fault store
   over a file store). */
static void test_open_path_torn_slot0_small_pages(void **state)
{
    (void)state;
    char dir[512];
    th_tmpdir_make(dir, sizeof dir);
    char path[600];
    snprintf(path, sizeof path, "%s/db", dir);
    ct_options o;
    ct_options_init(&o);
    o.page_size = 512;
    ct_db *db = NULL;
    th_assert_rc(ct_open_path(path, &o, &db), CT_OK);
    for (int i = 0; i < 4; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        th_put1(db, k, strlen(k), "v", 1);
    }
    ct_close(db);
    uint8_t junk[512];
    memset(junk, 0x5a, sizeof junk);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    close(fd);
    th_assert_rc(ct_open_path(path, NULL, &db), CT_OK);
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    assert_int_equal(st.page_size, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vlen = 0;
    th_assert_rc(ct_get(t, NULL, "k0", 2, &v, &vlen), CT_OK);
    ct_abort(t);
    th_check_clean(db);
    ct_close(db);
    th_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_meta_damaged_ram),
        cmocka_unit_test(test_newest_meta_damaged_memstore),
        cmocka_unit_test(test_newest_meta_damaged_file),
        cmocka_unit_test(test_both_metas_broken),
        cmocka_unit_test(test_newest_commit_page_damaged),
        cmocka_unit_test(test_two_page_store_created_afresh),
        cmocka_unit_test(test_small_foreign_file_kept),
        cmocka_unit_test(test_empty_store_flags),
        cmocka_unit_test(test_newer_version),
        cmocka_unit_test(test_io_error_during_recovery_is_returned),
        cmocka_unit_test(test_readonly_open),
        cmocka_unit_test(test_power_cut_during_commit),
        cmocka_unit_test(test_sync_failure_poisons),
        cmocka_unit_test(test_write_failure_commits_nothing),
        cmocka_unit_test(test_nospace),
        cmocka_unit_test(test_sync_none_crash),
        cmocka_unit_test(test_faults_never_wrong_data),
        cmocka_unit_test(test_open_path_torn_slot0_small_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
