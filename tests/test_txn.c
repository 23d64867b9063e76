/*
 * test_txn.c - transactions and concurrency: read snapshots stay exactly
 * what they were while other threads commit (pthreads; the content of each
 * commit is a function of its generation, so a reader can check its whole
 * snapshot); a long reader held across thousands of commits; one writer at
 * a time (a second write txn on the same thread is CT_INVALID, writers on
 * different threads serialize without lost updates); readers never block
 * on the writer; txn ids; a second process opening the file gets CT_BUSY
 * (fork); the sticky FAILED state after an I/O error; and
 * allocation failure at every allocation point returns CT_NOMEM and leaves
 * the database usable. Threads never call cmocka: they record failures and
 * the main thread asserts after joining them.
 */
#include "helpers.h"
#include "internal.h" /* CT_WRITE_RUN_PAGES_MAX, CT_WRITE_VEC_PAGES_MAX */

#include "cowtree/memstore.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- generation-determined content ---------------------------------------- */

#define GEN_KEYS 120u  /* "k000".."k119": value = generation, some overflow */
#define GEN_DKEYS 40u  /* "d00".."d39": present iff (gen + j) % 3 != 0 */

static size_t gen_vlen(uint64_t gen, uint32_t i)
{
    /* Mostly 8..40 bytes; key 7 carries an overflow value on odd gens. */
    if (i == 7 && gen % 2 == 1) {
        return 600 + (size_t)(gen % 5) * 300;
    }
    return 8 + (size_t)((gen + i) % 33);
}

static void gen_key(uint32_t i, char k[8])
{
    snprintf(k, 8, "k%03u", i % 1000u);
}

static void dkey(uint32_t j, char k[8])
{
    snprintf(k, 8, "d%02u", j % 100u);
}

/* Writes generation gen's content in an open write txn. */
static int write_gen(ct_txn *t, uint64_t gen)
{
    uint8_t v[2048];
    char k[8];
    int rc = CT_OK;
    for (uint32_t i = 0; i < GEN_KEYS && rc == CT_OK; i++) {
        size_t vl = gen_vlen(gen, i);
        th_value_fill(v, vl, gen * 1000u + i);
        gen_key(i, k);
        rc = ct_put(t, NULL, k, 4, v, vl, 0);
    }
    for (uint32_t j = 0; j < GEN_DKEYS && rc == CT_OK; j++) {
        dkey(j, k);
        if ((gen + j) % 3 != 0) {
            rc = ct_put(t, NULL, k, 3, &gen, sizeof(gen), 0);
        } else {
            rc = ct_del(t, NULL, k, 3);
            rc = rc == CT_NOTFOUND ? CT_OK : rc;
        }
    }
    if (rc == CT_OK) {
        rc = ct_put(t, NULL, "gen", 3, &gen, sizeof(gen), 0);
    }
    return rc;
}

/* Checks a txn's whole view against generation gen; 0 when it matches,
   else a short description in why. Never calls cmocka (thread-safe). */
static int check_gen(ct_txn *t, uint64_t gen, char *why, size_t why_len)
{
    const void *v = NULL;
    size_t vl = 0;
    char k[8];
    for (uint32_t i = 0; i < GEN_KEYS; i++) {
        gen_key(i, k);
        int rc = ct_get(t, NULL, k, 4, &v, &vl);
        if (rc != CT_OK || vl != gen_vlen(gen, i) ||
            th_value_check(v, vl, gen * 1000u + i) != vl) {
            snprintf(why, why_len, "gen %llu key %s rc %s vlen %zu",
                     (unsigned long long)gen, k, ct_errname(rc), vl);
            return 1;
        }
    }
    /* A cursor scan sees exactly the expected key set, in order. */
    ct_cursor *c = NULL;
    if (ct_cursor_open(t, NULL, &c) != CT_OK) {
        snprintf(why, why_len, "cursor open");
        return 1;
    }
    uint32_t seen_d = 0;
    uint32_t seen_k = 0;
    int rc = ct_cursor_first(c);
    for (; rc == CT_OK; rc = ct_cursor_next(c)) {
        const void *ck = NULL;
        size_t ckl = 0;
        if (ct_cursor_get(c, &ck, &ckl, &v, &vl) != CT_OK) {
            rc = CT_CORRUPT;
            break;
        }
        const char *s = ck;
        if (ckl == 3 && s[0] == 'd') {
            uint32_t j = (uint32_t)((s[1] - '0') * 10 + (s[2] - '0'));
            uint64_t g = 0;
            if ((gen + j) % 3 == 0 || vl != sizeof(g)) {
                snprintf(why, why_len, "gen %llu: d%02u should be absent",
                         (unsigned long long)gen, j);
                return 1;
            }
            memcpy(&g, v, sizeof(g));
            if (g != gen) {
                snprintf(why, why_len, "gen %llu: d%02u holds gen %llu", (unsigned long long)gen,
                         j, (unsigned long long)g);
                return 1;
            }
            seen_d++;
        } else if (ckl == 4 && s[0] == 'k') {
            seen_k++;
        }
    }
    ct_cursor_close(c);
    uint32_t want_d = 0;
    for (uint32_t j = 0; j < GEN_DKEYS; j++) {
        want_d += (gen + j) % 3 != 0;
    }
    if (rc != CT_NOTFOUND || seen_d != want_d || seen_k != GEN_KEYS) {
        snprintf(why, why_len, "gen %llu: scan rc %s, %u d-keys (want %u), %u k-keys",
                 (unsigned long long)gen, ct_errname(rc), seen_d, want_d, seen_k);
        return 1;
    }
    return 0;
}

static uint64_t read_gen(ct_txn *t)
{
    const void *v = NULL;
    size_t vl = 0;
    uint64_t g = 0;
    if (ct_get(t, NULL, "gen", 3, &v, &vl) == CT_OK && vl == sizeof(g)) {
        memcpy(&g, v, sizeof(g));
    }
    return g;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- snapshot threads ------------------------------------------------------ */

typedef struct shared {
    ct_db *db;
    atomic_int stop;
    atomic_int failures;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t snapshots_checked;
    atomic_uint_fast64_t max_gen_lag; /* commits that happened under a held snapshot */
    uint64_t commits_per_writer;
    pthread_mutex_t mu;
    char first_failure[200];
} shared;

static void record_failure(shared *sh, const char *what)
{
    pthread_mutex_lock(&sh->mu);
    if (atomic_fetch_add(&sh->failures, 1) == 0) {
        snprintf(sh->first_failure, sizeof(sh->first_failure), "%s", what);
    }
    pthread_mutex_unlock(&sh->mu);
}

static void *writer_main(void *arg)
{
    shared *sh = arg;
    for (uint64_t i = 0; i < sh->commits_per_writer; i++) {
        ct_txn *t = NULL;
        int rc = ct_begin(sh->db, 0, &t);
        if (rc != CT_OK) {
            record_failure(sh, "writer: ct_begin");
            return NULL;
        }
        uint64_t gen = read_gen(t) + 1;
        rc = write_gen(t, gen);
        if (rc == CT_OK) {
            rc = ct_commit(t);
        } else {
            ct_abort(t);
        }
        if (rc != CT_OK) {
            char msg[100];
            snprintf(msg, sizeof(msg), "writer: commit of gen %llu: %s", (unsigned long long)gen,
                     ct_errname(rc));
            record_failure(sh, msg);
            return NULL;
        }
        atomic_fetch_add(&sh->commits, 1);
    }
    return NULL;
}

/* Begins a snapshot, checks it, waits while writers commit, checks it again
   (and again), then ends it; repeats until told to stop. */
static void *reader_main(void *arg)
{
    shared *sh = arg;
    char why[200];
    while (!atomic_load(&sh->stop)) {
        ct_txn *t = NULL;
        if (ct_begin(sh->db, CT_TXN_RDONLY, &t) != CT_OK) {
            record_failure(sh, "reader: ct_begin");
            return NULL;
        }
        uint64_t gen = read_gen(t);
        uint64_t c0 = atomic_load(&sh->commits);
        for (int round = 0; round < 3; round++) {
            if (gen > 0 && check_gen(t, gen, why, sizeof(why)) != 0) {
                record_failure(sh, why);
                ct_abort(t);
                return NULL;
            }
            for (int y = 0; y < 20; y++) {
                sched_yield();
            }
        }
        uint64_t lag = atomic_load(&sh->commits) - c0;
        uint64_t cur = atomic_load(&sh->max_gen_lag);
        while (lag > cur && !atomic_compare_exchange_weak(&sh->max_gen_lag, &cur, lag)) {
        }
        atomic_fetch_add(&sh->snapshots_checked, 1);
        ct_abort(t);
    }
    return NULL;
}

/* Readers on 3 threads check whole snapshots while 2 writer threads commit
   (each commit rewrites 120 keys and flips 40 others); plus one snapshot
   taken before the writers start and checked again after OLD_HELD_COMMITS
   of their commits. */
#define OLD_HELD_COMMITS 40u
static void snapshot_case(th_store_kind kind, uint64_t commits_per_writer)
{
    th_env e;
    th_env_init(&e, kind, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    th_assert_rc(write_gen(t, 1), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    ct_txn *old = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &old), CT_OK);
    char why[200] = "";
    assert_int_equal(check_gen(old, 1, why, sizeof(why)), 0);

    shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.db = e.db;
    sh.commits_per_writer = commits_per_writer;
    pthread_mutex_init(&sh.mu, NULL);
    pthread_t w[2];
    pthread_t r[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&r[i], NULL, reader_main, &sh), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&w[i], NULL, writer_main, &sh), 0);
    }
    /* The snapshot from before the writers started is still exactly gen 1
       after OLD_HELD_COMMITS of their commits (checked while they go on),
       then released. (Held much longer, the engine's free list explodes:
       see test_space.c, test_long_reader_across_commits.) */
    uint64_t hold_for = 2 * commits_per_writer < OLD_HELD_COMMITS ? 2 * commits_per_writer
                                                                   : OLD_HELD_COMMITS;
    while (atomic_load(&sh.commits) < hold_for && !atomic_load(&sh.failures)) {
        sleep_ms(1);
    }
    uint64_t held_over = atomic_load(&sh.commits);
    int bad = check_gen(old, 1, why, sizeof(why));
    ct_abort(old);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i], NULL);
    }
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(r[i], NULL);
    }
    if (bad) {
        print_error("old snapshot after %llu commits: %s\n", (unsigned long long)held_over, why);
    }
    assert_int_equal(bad, 0);
    assert_true(held_over >= hold_for);
    if (sh.failures) {
        print_error("first failure: %s\n", sh.first_failure);
    }
    assert_int_equal(atomic_load(&sh.failures), 0);
    assert_int_equal(atomic_load(&sh.commits), 2 * commits_per_writer);
    print_message("  %s: %llu commits, %llu snapshots checked, max %llu commits under one "
                  "snapshot\n",
                  th_store_name(kind), (unsigned long long)atomic_load(&sh.commits),
                  (unsigned long long)atomic_load(&sh.snapshots_checked),
                  (unsigned long long)atomic_load(&sh.max_gen_lag));
    assert_true(atomic_load(&sh.snapshots_checked) > 0);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(read_gen(t), 1 + 2 * commits_per_writer);
    assert_int_equal(check_gen(t, 1 + 2 * commits_per_writer, why, sizeof(why)), 0);
    ct_abort(t);
    th_check_clean(e.db);
    pthread_mutex_destroy(&sh.mu);
    th_env_destroy(&e);
}

static void test_snapshots_under_concurrent_commits_ram(void **state)
{
    (void)state;
    snapshot_case(TH_STORE_RAM, th_scaled(400));
    snapshot_case(TH_STORE_RAM_NOMAP, th_scaled(200));
}

static void test_snapshots_under_concurrent_commits_memstore(void **state)
{
    (void)state;
    snapshot_case(TH_STORE_MEM, th_scaled(200));
    snapshot_case(TH_STORE_MEM_NOMAP, th_scaled(200));
}

static void test_snapshots_under_concurrent_commits_file(void **state)
{
    (void)state;
    snapshot_case(TH_STORE_FILE, th_scaled(200));
}

/* ---- writer exclusion ----------------------------------------------------- */

/* A second write txn on the thread that holds one is CT_INVALID; the first
   stays usable and commits. */
static void test_second_write_txn_same_thread(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    th_assert_rc(ct_put(t, NULL, "a", 1, "1", 1, 0), CT_OK);
    ct_txn *t2 = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t2), CT_INVALID);
    /* A read txn on the same thread is fine. */
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    ct_abort(r);
    th_assert_rc(ct_put(t, NULL, "b", 1, "2", 1, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    /* After it ended, a new write txn works. */
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, "b", 1, &v, &vl), CT_OK);
    ct_abort(t);
    th_env_destroy(&e);
}

typedef struct blocker {
    ct_db *db;
    atomic_int began;
    int rc;
    uint64_t id;
    int saw_value;
} blocker;

static void *second_writer(void *arg)
{
    blocker *b = arg;
    ct_txn *t = NULL;
    b->rc = ct_begin(b->db, 0, &t);
    atomic_store(&b->began, 1);
    if (b->rc == CT_OK) {
        b->id = ct_txn_id(t);
        const void *v = NULL;
        size_t vl = 0;
        b->saw_value = ct_get(t, NULL, "first", 5, &v, &vl) == CT_OK;
        b->rc = ct_put(t, NULL, "second", 6, "2", 1, 0);
        int rc = ct_commit(t);
        if (b->rc == CT_OK) {
            b->rc = rc;
        }
    }
    return NULL;
}

/* A write txn begun on another thread waits until the first writer ends,
   then sees its commit (ids consecutive). */
static void test_writers_serialize(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, 0, &t), CT_OK);
    uint64_t id1 = ct_txn_id(t);
    blocker b;
    memset(&b, 0, sizeof(b));
    b.db = e.db;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, second_writer, &b), 0);
    sleep_ms(150);
    assert_int_equal(atomic_load(&b.began), 0); /* still waiting */
    th_assert_rc(ct_put(t, NULL, "first", 5, "1", 1, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    pthread_join(th, NULL);
    th_assert_rc(b.rc, CT_OK);
    assert_int_equal(b.id, id1 + 1);
    assert_true(b.saw_value);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(ct_txn_id(t), id1 + 1);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, "second", 6, &v, &vl), CT_OK);
    ct_abort(t);
    th_env_destroy(&e);
}

typedef struct counter_arg {
    ct_db *db;
    int n;
    int errors;
} counter_arg;

static void *increment_main(void *arg)
{
    counter_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        ct_txn *t = NULL;
        if (ct_begin(a->db, 0, &t) != CT_OK) {
            a->errors++;
            continue;
        }
        const void *v = NULL;
        size_t vl = 0;
        uint64_t c = 0;
        if (ct_get(t, NULL, "counter", 7, &v, &vl) == CT_OK && vl == sizeof(c)) {
            memcpy(&c, v, sizeof(c));
        }
        c++;
        if (ct_put(t, NULL, "counter", 7, &c, sizeof(c), 0) != CT_OK || ct_commit(t) != CT_OK) {
            a->errors++;
        }
    }
    return NULL;
}

/* Four threads each increment a counter 300 times in read-modify-write txns:
   the writer lock serializes them, so no update is lost. */
static void test_no_lost_updates(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    pthread_t th[4];
    counter_arg a[4];
    int per = (int)th_scaled(300);
    for (int i = 0; i < 4; i++) {
        a[i].db = e.db;
        a[i].n = per;
        a[i].errors = 0;
        assert_int_equal(pthread_create(&th[i], NULL, increment_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].errors, 0);
    }
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_get(t, NULL, "counter", 7, &v, &vl), CT_OK);
    uint64_t c = 0;
    memcpy(&c, v, sizeof(c));
    assert_int_equal(c, (uint64_t)(4 * per));
    ct_abort(t);
    th_check_clean(e.db);
    th_env_destroy(&e);
}

typedef struct reader_arg {
    ct_db *db;
    atomic_int done;
    int rc;
    int found;
} reader_arg;

static void *quick_reader(void *arg)
{
    reader_arg *a = arg;
    ct_txn *t = NULL;
    a->rc = ct_begin(a->db, CT_TXN_RDONLY, &t);
    if (a->rc == CT_OK) {
        const void *v = NULL;
        size_t vl = 0;
        a->found = ct_get(t, NULL, "k", 1, &v, &vl) == CT_OK;
        ct_abort(t);
    }
    atomic_store(&a->done, 1);
    return NULL;
}

/* Read txns never wait for the writer: a reader thread begins, reads and
   ends while this thread holds an open write txn (with uncommitted data
   the reader must not see). */
static void test_readers_do_not_block(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    th_assert_rc(ct_put(w, NULL, "k", 1, "v", 1, 0), CT_OK);
    reader_arg a;
    memset(&a, 0, sizeof(a));
    a.db = e.db;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, quick_reader, &a), 0);
    for (int i = 0; i < 500 && !atomic_load(&a.done); i++) {
        sleep_ms(10);
    }
    assert_int_equal(atomic_load(&a.done), 1); /* finished while the writer is open */
    pthread_join(th, NULL);
    th_assert_rc(a.rc, CT_OK);
    assert_int_equal(a.found, 0);
    th_assert_rc(ct_commit(w), CT_OK);
    th_env_destroy(&e);
}

/* Txn ids: a read txn reads the last commit's id; a write txn will write
   last + 1; an aborted or empty write txn does not consume an id for
   readers; a commit does. */
static void test_txn_ids(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_RAM, 512);
    struct ct_stat st;
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    uint64_t base = st.txnid;
    ct_txn *r = NULL;
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    assert_int_equal(ct_txn_id(r), base);
    ct_abort(r);
    ct_txn *w = NULL;
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    assert_int_equal(ct_txn_id(w), base + 1);
    ct_abort(w);
    th_assert_rc(ct_begin(e.db, 0, &w), CT_OK);
    assert_int_equal(ct_txn_id(w), base + 1);
    th_assert_rc(ct_commit(w), CT_OK); /* nothing changed */
    th_put1(e.db, "x", 1, "y", 1);
    th_assert_rc(ct_begin(e.db, CT_TXN_RDONLY, &r), CT_OK);
    assert_true(ct_txn_id(r) > base);
    th_assert_rc(ct_stat(e.db, &st), CT_OK);
    assert_int_equal(ct_txn_id(r), st.txnid);
    ct_abort(r);
    assert_int_equal(ct_txn_id(NULL), 0);
    th_env_destroy(&e);
}

/* ---- a store whose reads can be made to fail -------------------------------- */

typedef struct flaky {
    th_fwd_store fwd;
    int fail_reads;
} flaky;

static int fl_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    if (((flaky *)ps)->fail_reads) {
        return CT_IO;
    }
    return th_fwd_read(ps, pgno, npages, buf);
}

static const ct_pagestore_ops flaky_ops = {fl_read,       th_fwd_write, th_fwd_sync, th_fwd_size,
                                           th_fwd_resize, th_fwd_close, NULL,        NULL};

/* A write op that fails with CT_IO puts the txn in the sticky FAILED
   state: every later call returns CT_IO, commit returns it and aborts
   (nothing committed), and the db then works normally. */
static void test_failed_txn_is_sticky(void **state)
{
    (void)state;
    flaky f;
    memset(&f, 0, sizeof(f));
    th_fwd_init(&f.fwd, &flaky_ops, th_ram_create(512, 0));
    ct_db *db = NULL;
    th_assert_rc(ct_open(&f.fwd.base, NULL, &db), CT_OK);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint32_t i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05u", i);
        th_assert_rc(ct_put(t, NULL, k, strlen(k), k, strlen(k), 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    th_assert_rc(ct_put(t, NULL, "zzz", 3, "1", 1, 0), CT_OK);
    ct_cursor *c0 = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c0), CT_OK);
    th_assert_rc(ct_cursor_first(c0), CT_OK);
    f.fail_reads = 1;
    th_assert_rc(ct_put(t, NULL, "key00100", 8, "new", 3, 0), CT_IO);
    f.fail_reads = 0;
    /* Sticky: even calls that would now succeed return the error. */
    const void *v = NULL;
    size_t vl = 0;
    th_assert_rc(ct_put(t, NULL, "other", 5, "1", 1, 0), CT_IO);
    th_assert_rc(ct_del(t, NULL, "zzz", 3), CT_IO);
    th_assert_rc(ct_get(t, NULL, "zzz", 3, &v, &vl), CT_IO);
    /* Cursors too: a walk of the half-changed tree would show a torn txn
       as CT_OK. */
    const void *k = NULL;
    size_t kl = 0;
    ct_cursor *c1 = NULL;
    th_assert_rc(ct_cursor_open(t, NULL, &c1), CT_IO);
    th_assert_rc(ct_cursor_first(c0), CT_IO);
    th_assert_rc(ct_cursor_last(c0), CT_IO);
    th_assert_rc(ct_cursor_next(c0), CT_IO);
    th_assert_rc(ct_cursor_prev(c0), CT_IO);
    th_assert_rc(ct_cursor_seek(c0, "key", 3), CT_IO);
    th_assert_rc(ct_cursor_get(c0, &k, &kl, &v, &vl), CT_IO);
    th_assert_rc(ct_commit(t), CT_IO);
    /* Nothing of it was committed; the db accepts new txns. */
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    th_assert_rc(ct_get(t, NULL, "zzz", 3, &v, &vl), CT_NOTFOUND);
    th_assert_rc(ct_get(t, NULL, "key00100", 8, &v, &vl), CT_OK);
    assert_memory_equal(v, "key00100", 8);
    th_assert_rc(ct_put(t, NULL, "zzz", 3, "2", 1, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    th_check_clean(db);
    ct_close(db);
    f.fwd.inner->ops->close(f.fwd.inner);
}

/* A failed ct_sync poisons the handle, also when the writer's own thread
   calls it between the puts of its open txn: that txn's commit then
   returns CT_POISONED and writes nothing on top of writes in an unknown
   state (it used to commit and acknowledge). */
static void test_commit_after_failed_sync_is_poisoned(void **state)
{
    (void)state;
    ct_pagestore *ps = th_mem_create(512, 1, 5);
    ct_options o;
    ct_options_init(&o);
    o.durability = CT_SYNC_NONE;
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, &o, &db), CT_OK);
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    th_assert_rc(ct_put(t, NULL, "a", 1, "1", 1, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    th_assert_rc(ct_put(t, NULL, "b", 1, "2", 1, 0), CT_OK);
    th_assert_rc(ct_memstore_fail_nth(ps, CT_MEMSTORE_OP_SYNC, 1, 0), CT_OK);
    th_assert_rc(ct_sync(db), CT_IO);
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    uint64_t id_before = st.txnid;
    th_assert_rc(ct_commit(t), CT_POISONED);
    th_assert_rc(ct_stat(db, &st), CT_OK);
    assert_int_equal(st.txnid, id_before);
    th_assert_rc(ct_begin(db, 0, &t), CT_POISONED);
    ct_close(db);
    ps->ops->close(ps);
}

/* ---- allocation failures ---------------------------------------------------- */

typedef struct failing_alloc {
    long countdown; /* fail when it reaches 0; < 0: never */
    long calls;
    long failures;
} failing_alloc;

static void *fa_malloc(void *ctx, size_t n)
{
    failing_alloc *a = ctx;
    a->calls++;
    if (a->countdown >= 0 && a->countdown-- == 0) {
        a->failures++;
        return NULL;
    }
    return malloc(n ? n : 1);
}

static void *fa_realloc(void *ctx, void *p, size_t n)
{
    failing_alloc *a = ctx;
    a->calls++;
    if (a->countdown >= 0 && a->countdown-- == 0) {
        a->failures++;
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

static void fa_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* One workload step: a write txn of puts (splits, an overflow value) and
   deletes, a cursor walk, commit. Returns the first error (CT_OK if none). */
static int nomem_workload(ct_db *db, int round, th_model *m)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, 0, &t);
    if (rc != CT_OK) {
        return rc;
    }
    th_model_begin(m);
    uint8_t big[1500];
    th_value_fill(big, sizeof(big), (uint64_t)round);
    for (int i = 0; i < 60 && rc == CT_OK; i++) {
        char k[32];
        snprintf(k, sizeof(k), "r%02d-%03d", round % 7, i);
        size_t vl = i == 5 ? sizeof(big) : (size_t)(i % 30);
        rc = ct_put(t, NULL, k, strlen(k), big, vl, 0);
        if (rc == CT_OK) {
            th_model_put(m, k, strlen(k), big, vl);
        }
        if (rc == CT_OK && i % 3 == 0) {
            snprintf(k, sizeof(k), "r%02d-%03d", (round + 3) % 7, i);
            rc = ct_del(t, NULL, k, strlen(k));
            if (rc == CT_OK) {
                th_model_del(m, k, strlen(k));
            } else if (rc == CT_NOTFOUND) {
                rc = CT_OK;
            }
        }
    }
    ct_cursor *c = NULL;
    if (rc == CT_OK) {
        rc = ct_cursor_open(t, NULL, &c);
    }
    if (rc == CT_OK) {
        rc = ct_cursor_first(c);
        while (rc == CT_OK) {
            const void *v = NULL;
            size_t vl = 0;
            rc = ct_cursor_get(c, NULL, NULL, &v, &vl);
            if (rc == CT_OK) {
                rc = ct_cursor_next(c);
            }
        }
        rc = rc == CT_NOTFOUND ? CT_OK : rc;
    }
    if (rc == CT_OK) {
        rc = ct_commit(t);
        if (rc == CT_OK) {
            th_model_commit(m);
        } else {
            th_model_rollback(m);
        }
        return rc;
    }
    ct_abort(t);
    th_model_rollback(m);
    return rc;
}

/* With an allocator that fails the nth allocation (n = 0, 1, 2, ... until a
   workload step completes without reaching it), the step returns CT_OK or
   CT_NOMEM (never crashes, never another code), and after each failure the
   database is consistent: its content equals the model of what committed,
   ct_check is clean, and the next step succeeds. (libuv style.) */
static void test_nomem_at_every_allocation(void **state)
{
    (void)state;
    failing_alloc fa = {-1, 0, 0};
    ct_allocator alloc = {fa_malloc, fa_realloc, fa_free, &fa};
    ct_pagestore *ps = th_ram_create(512, 1);
    ct_options o;
    ct_options_init(&o);
    o.alloc = &alloc;
    ct_db *db = NULL;
    /* Open itself under every failure point. */
    for (long n = 0;; n++) {
        fa.countdown = n;
        int rc = ct_open(ps, &o, &db);
        fa.countdown = -1;
        if (rc == CT_OK) {
            break;
        }
        th_assert_rc(rc, CT_NOMEM);
        assert_null(db);
        assert_true(n < 10000);
    }
    th_model *m = th_model_new();
    long points = 0;
    for (int round = 0; round < 6; round++) {
        for (long n = 0;; n++) {
            th_set_ctx("round %d, allocation %ld fails", round, n);
            fa.countdown = n;
            long before = fa.failures;
            int rc = nomem_workload(db, round, m);
            fa.countdown = -1;
            if (fa.failures == before) {
                th_assert_rc(rc, CT_OK); /* the failure point was never reached */
                break;
            }
            points++;
            if (rc != CT_OK) { /* a failure the engine could absorb may still succeed */
                th_assert_rc(rc, CT_NOMEM);
            }
            if (n % 7 == 0) {
                th_verify_db(db, NULL, m);
                th_check_clean(db);
            }
            assert_true(n < 100000);
        }
        th_verify_db(db, NULL, m);
        th_check_clean(db);
    }
    print_message("  %ld allocation failure points exercised\n", points);
    ct_close(db);
    /* Reopen without the failing allocator: the same content. */
    th_assert_rc(ct_open(ps, NULL, &db), CT_OK);
    th_verify_db(db, NULL, m);
    th_check_clean(db);
    ct_close(db);
    th_model_free(m);
    ps->ops->close(ps);
    th_ctx[0] = '\0';
}

/* Counts the allocations of exactly one page (page buffers). */
typedef struct page_allocs {
    size_t page_size;
    size_t count;
} page_allocs;

static void *pa_malloc(void *ctx, size_t n)
{
    page_allocs *pa = ctx;
    pa->count += n == pa->page_size;
    return malloc(n ? n : 1);
}

static void *pa_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n ? n : 1);
}

static void pa_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Commits that dirty as many pages as the ones before them take every
   page buffer from the db's spares, the free-list pages included: a
   buffer from libc that goes back into the spares at the txn's end makes
   them grow commit after commit, and fresh heap faults in (a 1M-key
   fillseq took 1,000 extra page faults that way). */
static void test_steady_commits_reuse_page_buffers(void **state)
{
    (void)state;
    enum { PAGE = 4096, BUILD = 20, WARM = 40, MEASURED = 40, PUTS = 300 };
    page_allocs pa = {PAGE, 0};
    ct_allocator alloc = {pa_malloc, pa_realloc, pa_free, &pa};
    ct_pagestore *ps = th_ram_create(PAGE, 1);
    ct_options o;
    ct_options_init(&o);
    o.alloc = &alloc;
    ct_db *db = NULL;
    th_assert_rc(ct_open(ps, &o, &db), CT_OK);
    uint8_t val[100];
    memset(val, 0x5a, sizeof(val));
    uint64_t next = 0;
    size_t after_warmup = 0;
    for (int c = 0; c < WARM + MEASURED; c++) {
        if (c == WARM) {
            after_warmup = pa.count;
        }
        ct_txn *t = NULL;
        th_assert_rc(ct_begin(db, 0, &t), CT_OK);
        /* BUILD commits of appends, then overwrites spread over every
           leaf: each frees more entries than a meta carries, so the
           commits write free-list pages. */
        for (int i = 0; i < PUTS; i++) {
            uint64_t k = c < BUILD ? next++ : ((uint64_t)i * 20u + (uint64_t)c) % next;
            uint8_t key[8];
            for (int b = 0; b < 8; b++) { /* big-endian: byte order is numeric order */
                key[b] = (uint8_t)(k >> (56 - 8 * b));
            }
            th_assert_rc(ct_put(t, NULL, key, sizeof(key), val, sizeof(val),
                                c < BUILD ? CT_APPEND : 0u),
                         CT_OK);
        }
        th_assert_rc(ct_commit(t), CT_OK);
    }
    struct ct_stat st;
    th_assert_rc(ct_stat(db, &st), CT_OK);
    assert_true(st.free_list_pages > 0); /* the commits did write free-list pages */
    /* A deeper tree may dirty one more page now and then: a few, not one a commit. */
    assert_true(pa.count - after_warmup <= 4);
    th_check_clean(db);
    ct_close(db);
    ps->ops->close(ps);
}

/* In a forked child: opens path with flags and exits with the rc's
   negation (0 = CT_OK, 10 = CT_BUSY, ...). The child never calls cmocka. */
static int open_in_child(const char *path, unsigned flags)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ct_options o;
        ct_options_init(&o);
        o.flags = flags;
        ct_db *db = NULL;
        int rc = ct_open_path(path, &o, &db);
        ct_close(db);
        _exit(-rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return -WEXITSTATUS(status);
}

/* While a process holds the file open, a second process (fork) opening it
   with ct_open_path gets CT_BUSY, read-write or read-only, and so does a
   second open in the same process; the holder is undisturbed; once it
   closes, the other process opens the file. */
static void test_second_process_gets_busy(void **state)
{
    (void)state;
    th_env e;
    th_env_init(&e, TH_STORE_FILE, 512);
    th_put1(e.db, "k", 1, "v", 1);
    th_assert_rc(open_in_child(e.path, 0), CT_BUSY);
    th_assert_rc(open_in_child(e.path, CT_RDONLY), CT_BUSY);
    ct_db *db2 = NULL;
    th_assert_rc(ct_open_path(e.path, NULL, &db2), CT_BUSY);
    assert_null(db2);
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = 512;
    ct_pagestore *ps = NULL;
    th_assert_rc(ct_filestore_open(e.path, &fo, &ps), CT_BUSY);
    th_put1(e.db, "k2", 2, "v", 1);
    th_check_clean(e.db);
    th_env_close(&e);
    th_assert_rc(open_in_child(e.path, 0), CT_OK);
    th_assert_rc(open_in_child(e.path, CT_RDONLY), CT_OK);
    /* Two read-only opens share the file. */
    ct_options o;
    ct_options_init(&o);
    o.flags = CT_RDONLY;
    ct_db *ro = NULL;
    th_assert_rc(ct_open_path(e.path, &o, &ro), CT_OK);
    th_assert_rc(open_in_child(e.path, CT_RDONLY), CT_OK);
    th_assert_rc(open_in_child(e.path, 0), CT_BUSY);
    ct_close(ro);
    th_env_destroy(&e);
}

/* ---- writev ------------------------------------------------------------------ */

/* A memory store behind a wrapper that offers writev (counting calls and
   pages, failing on demand) or, with the second table, no writev. */
typedef struct wv_store {
    th_fwd_store fwd;
    unsigned writev_calls;
    uint64_t writev_pages;
    uint32_t writev_max; /* most pages one writev carried */
    int fail_writev; /* 1: writev returns CT_IO without writing */
} wv_store;

static int wv_writev(ct_pagestore *ps, uint64_t p, uint32_t n, const void *const *v)
{
    wv_store *s = (wv_store *)ps;
    if (s->fail_writev) {
        return CT_IO;
    }
    s->writev_calls++;
    s->writev_pages += n;
    s->writev_max = n > s->writev_max ? n : s->writev_max;
    return s->fwd.inner->ops->writev(s->fwd.inner, p, n, v);
}
/* th_fwd_close: the test closes inner itself, after reading its trace. */
static const ct_pagestore_ops wv_ops = {th_fwd_read,   th_fwd_write, th_fwd_sync, th_fwd_size,
                                        th_fwd_resize, th_fwd_close, NULL,        wv_writev};
static const ct_pagestore_ops wv_ops_staging = {th_fwd_read,   th_fwd_write, th_fwd_sync,
                                                th_fwd_size,   th_fwd_resize, th_fwd_close,
                                                NULL,          NULL};

static void wv_init(wv_store *s, int with_writev)
{
    memset(s, 0, sizeof(*s));
    th_fwd_init(&s->fwd, with_writev ? &wv_ops : &wv_ops_staging, th_mem_create(512, 1, 9));
}

/* Commits of small and overflow values: adjacent dirty pages make runs. */
static void wv_workload(ct_db *db)
{
    char val[3000];
    for (int c = 0; c < 6; c++) {
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 40; i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%02d-%03d", c, i);
            size_t vlen = (i % 7 == 0) ? sizeof(val) : 20u + (size_t)i;
            memset(val, 'a' + (c + i) % 26, vlen);
            assert_int_equal(ct_put(t, NULL, key, strlen(key), val, vlen, 0), CT_OK);
        }
        assert_int_equal(ct_commit(t), CT_OK);
    }
}

/* Commit hands coalesced runs (overflow runs expanded to one pointer per
   page) to writev when the store has it, and the store then sees exactly
   the writes the staging path makes while no run passes the staging
   buffer's CT_WRITE_RUN_PAGES_MAX pages (none does here): the memory
   store's trace hash is the same either way. The database reads back
   clean. */
static void test_commit_uses_writev(void **state)
{
    (void)state;
    uint64_t hash[2];
    for (int with = 0; with < 2; with++) {
        wv_store s;
        wv_init(&s, with);
        ct_db *db = NULL;
        assert_int_equal(ct_open(&s.fwd.base, NULL, &db), CT_OK);
        wv_workload(db);
        th_check_clean(db);
        ct_close(db);
        if (with) {
            assert_true(s.writev_calls > 0);
            assert_true(s.writev_pages >= 2u * s.writev_calls); /* runs, not single pages */
        } else {
            assert_int_equal(s.writev_calls, 0);
        }
        ct_memstore_info in;
        assert_int_equal(ct_memstore_get_info(s.fwd.inner, &in), CT_OK);
        hash[with] = in.trace_hash;
        s.fwd.inner->ops->close(s.fwd.inner);
    }
    assert_true(hash[0] == hash[1]);
}

/* A commit of large values side by side reaches writev in runs of up to
   CT_WRITE_VEC_PAGES_MAX pages, past the staging path's
   CT_WRITE_RUN_PAGES_MAX (the file store gives such a run large page-cache
   folios, which mapped reads of the values fault in a few at a time), and
   a store without writev gets the same bytes in runs of at most
   CT_WRITE_RUN_PAGES_MAX. Both read back clean. */
static void test_commit_gathers_large_runs(void **state)
{
    (void)state;
    enum { VALUES = 7, VALUE_BYTES = 65536 };
    static unsigned char val[VALUE_BYTES];
    for (size_t i = 0; i < sizeof(val); i++) {
        val[i] = (unsigned char)(i * 131u + 7u);
    }
    for (int with = 0; with < 2; with++) {
        wv_store s;
        wv_init(&s, with);
        ct_db *db = NULL;
        assert_int_equal(ct_open(&s.fwd.base, NULL, &db), CT_OK);
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < VALUES; i++) {
            char key[16];
            snprintf(key, sizeof(key), "big-%d", i);
            assert_int_equal(ct_put(t, NULL, key, strlen(key), val, sizeof(val), 0), CT_OK);
        }
        assert_int_equal(ct_commit(t), CT_OK);
        if (with) {
            /* the pages one value's run takes */
            uint32_t run = (VALUE_BYTES + CT_PAGE_HDR_BYTES + 511u) / 512u;
            assert_true(VALUES * run > CT_WRITE_RUN_PAGES_MAX);
            assert_true(VALUES * run <= CT_WRITE_VEC_PAGES_MAX);
            assert_true(s.writev_max >= VALUES * run);
            assert_true(s.writev_max <= CT_WRITE_VEC_PAGES_MAX);
        } else {
            assert_int_equal(s.writev_calls, 0);
        }
        assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
        for (int i = 0; i < VALUES; i++) {
            char key[16];
            snprintf(key, sizeof(key), "big-%d", i);
            const void *got = NULL;
            size_t got_len = 0;
            assert_int_equal(ct_get(t, NULL, key, strlen(key), &got, &got_len), CT_OK);
            assert_int_equal(got_len, sizeof(val));
            assert_memory_equal(got, val, sizeof(val));
        }
        ct_abort(t);
        th_check_clean(db);
        ct_close(db);
        s.fwd.inner->ops->close(s.fwd.inner);
    }
}

/* A failed writev fails the commit like a failed write: the last commit
   stays, nothing is poisoned, and the next commit succeeds. */
static void test_commit_writev_failure(void **state)
{
    (void)state;
    wv_store s;
    wv_init(&s, 1);
    ct_db *db = NULL;
    assert_int_equal(ct_open(&s.fwd.base, NULL, &db), CT_OK);
    wv_workload(db);
    s.fail_writev = 1;
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    char val[3000];
    memset(val, 'z', sizeof(val));
    assert_int_equal(ct_put(t, NULL, "lost", 4, val, sizeof(val), 0), CT_OK);
    /* Leaves enough for pages side by side from separate buffers, which
       the commit hands to writev (one run alone goes to write). */
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof(key), "lost-%03d", i);
        assert_int_equal(ct_put(t, NULL, key, strlen(key), val, 150, 0), CT_OK);
    }
    assert_int_equal(ct_commit(t), CT_IO);
    s.fail_writev = 0;
    const void *got = NULL;
    size_t got_len = 0;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    assert_int_equal(ct_get(t, NULL, "lost", 4, &got, &got_len), CT_NOTFOUND);
    ct_abort(t);
    th_put1(db, "kept", 4, val, sizeof(val));
    th_check_clean(db);
    ct_close(db);
    s.fwd.inner->ops->close(s.fwd.inner);
}

/* ---- CT_SYNC_GROUP ---------------------------------------------------------- */

/* A memory store whose sync takes 2 ms (so concurrent committers pile up
   behind it) and counts; everything else forwards. */
typedef struct slow_sync_store {
    th_fwd_store fwd;
    atomic_uint syncs;
    atomic_int fail_syncs; /* 1: every sync returns CT_IO */
    atomic_int hold_syncs; /* 1: a sync waits until it is 0 again */
    atomic_int in_sync;    /* syncs running now */
    atomic_uint fail_from; /* nonzero: syncs numbered from it on (1 = the first) fail */
    long sync_delay_ns;    /* each sync sleeps this long first */
    atomic_int fail_armed; /* writes of a thread marked failing land but return CT_IO */
    atomic_int failed_writes;
} slow_sync_store;

static _Thread_local int failing_thread; /* this thread's writes may fail (fail_armed) */

static int ss_write(ct_pagestore *ps, uint64_t p, uint32_t n, const void *b)
{
    slow_sync_store *s = (slow_sync_store *)ps;
    int rc = th_fwd_write(ps, p, n, b);
    if (failing_thread && atomic_load(&s->fail_armed)) {
        atomic_fetch_add(&s->failed_writes, 1);
        return CT_IO; /* the store contract leaves a failed write's pages in any state */
    }
    return rc;
}
static int ss_sync(ct_pagestore *ps)
{
    slow_sync_store *s = (slow_sync_store *)ps;
    unsigned number = atomic_fetch_add(&s->syncs, 1u) + 1u;
    unsigned fail_from = atomic_load(&s->fail_from);
    atomic_fetch_add(&s->in_sync, 1);
    struct timespec delay = {0, s->sync_delay_ns};
    struct timespec ms = {0, 1000000};
    nanosleep(&delay, NULL);
    while (atomic_load(&s->hold_syncs)) {
        nanosleep(&ms, NULL);
    }
    int fail = atomic_load(&s->fail_syncs) || (fail_from != 0 && number >= fail_from);
    int rc = fail ? CT_IO : th_fwd_sync(ps);
    atomic_fetch_sub(&s->in_sync, 1);
    return rc;
}

/* Polls flag every millisecond for up to 5 s; returns its last value. */
static int wait_for_flag(atomic_int *flag)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000 && !atomic_load(flag); i++) {
        nanosleep(&ms, NULL);
    }
    return atomic_load(flag);
}
static void ss_close(ct_pagestore *ps)
{
    ct_pagestore *inner = ((slow_sync_store *)ps)->fwd.inner;
    inner->ops->close(inner);
    free(ps);
}
static const ct_pagestore_ops ss_ops = {th_fwd_read, ss_write,     ss_sync, th_fwd_size,
                                        th_fwd_resize, ss_close, NULL,    NULL};

static slow_sync_store *slow_sync_create(void)
{
    slow_sync_store *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    ct_pagestore *inner = NULL;
    assert_int_equal(ct_memstore_create(NULL, &inner), CT_OK);
    th_fwd_init(&s->fwd, &ss_ops, inner);
    s->sync_delay_ns = 2000000;
    return s;
}

static ct_db *open_group(slow_sync_store *s)
{
    ct_options o;
    ct_options_init(&o);
    o.durability = CT_SYNC_GROUP;
    ct_db *db = NULL;
    assert_int_equal(ct_open(&s->fwd.base, &o, &db), CT_OK);
    return db;
}

typedef struct group_arg {
    ct_db *db;
    int id;
    int commits;
    int failures;
} group_arg;

static void *group_committer(void *p)
{
    group_arg *a = p;
    for (int i = 0; i < a->commits; i++) {
        char k[32];
        snprintf(k, sizeof(k), "t%d-%04d", a->id, i);
        ct_txn *t = NULL;
        int rc = ct_begin(a->db, 0, &t);
        if (rc == CT_OK) {
            rc = ct_put(t, NULL, k, strlen(k), k, strlen(k), 0);
            rc = rc == CT_OK ? ct_commit(t) : (ct_abort(t), rc);
        }
        a->failures += rc != CT_OK;
    }
    return NULL;
}

/* Four threads commit one put each, 60 times, under CT_SYNC_GROUP: every
   commit is acknowledged, each acknowledged commit is durable (a crash
   that drops everything unsynced keeps them all), and the threads shared
   syncs: fewer syncs than commits. */
static void test_group_commit_shares_syncs(void **state)
{
    (void)state;
    slow_sync_store *s = slow_sync_create();
    ct_db *db = open_group(s);
    unsigned before = atomic_load(&s->syncs);
    enum { THREADS = 4, COMMITS = 60 };
    pthread_t th[THREADS];
    group_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (group_arg){db, i, COMMITS, 0};
        assert_int_equal(pthread_create(&th[i], NULL, group_committer, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(a[i].failures, 0);
    }
    unsigned syncs = atomic_load(&s->syncs) - before;
    printf("group commit: %d commits, %u syncs\n", THREADS * COMMITS, syncs);
    assert_true(syncs >= 1);
    assert_true(syncs < (unsigned)(THREADS * COMMITS * 3 / 4));
    ct_close(db);

    ct_crash_outcome drop = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(s->fwd.inner, &drop), CT_OK);
    db = open_group(s);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < COMMITS; j++) {
            char k[32];
            snprintf(k, sizeof(k), "t%d-%04d", i, j);
            const void *v = NULL;
            size_t vl = 0;
            assert_int_equal(ct_get(t, NULL, k, strlen(k), &v, &vl), CT_OK);
        }
    }
    ct_abort(t);
    th_check_clean(db);
    ct_close(db);
    s->fwd.base.ops->close(&s->fwd.base);
}

typedef struct pipelined_arg {
    ct_db *db;
    const char *key;     /* NULL: "second" */
    atomic_int put_done; /* its txn got the writer lock and put its key */
    int rc;
} pipelined_arg;

static void *pipelined_committer(void *p)
{
    pipelined_arg *a = p;
    const char *k = a->key ? a->key : "second";
    ct_txn *t = NULL;
    a->rc = ct_begin(a->db, 0, &t);
    if (a->rc == CT_OK) {
        a->rc = ct_put(t, NULL, k, strlen(k), "2", 1, 0);
        atomic_store(&a->put_done, 1);
        a->rc = a->rc == CT_OK ? ct_commit(t) : (ct_abort(t), a->rc);
    }
    return NULL;
}

/* While a group sync flushes, the next committer gets the writer lock and
   writes its txn (the sync holds the lock only to write the meta); it then
   waits for the next sync, and after a crash that drops every unsynced
   write both commits are there. */
static void test_group_commit_pipelines(void **state)
{
    (void)state;
    slow_sync_store *s = slow_sync_create();
    ct_db *db = open_group(s);
    atomic_store(&s->hold_syncs, 1);
    pthread_t first;
    group_arg a = {db, 0, 1, 0};
    assert_int_equal(pthread_create(&first, NULL, group_committer, &a), 0);
    int flushing = wait_for_flag(&s->in_sync);
    pipelined_arg b = {.db = db};
    pthread_t second;
    assert_int_equal(pthread_create(&second, NULL, pipelined_committer, &b), 0);
    int overlapped = flushing && wait_for_flag(&b.put_done) && atomic_load(&s->in_sync) == 1;
    atomic_store(&s->hold_syncs, 0); /* before asserting: nobody stays blocked */
    assert_int_equal(pthread_join(first, NULL), 0);
    assert_int_equal(pthread_join(second, NULL), 0);
    assert_true(flushing);
    assert_true(overlapped);
    assert_int_equal(a.failures, 0);
    assert_int_equal(b.rc, CT_OK);
    ct_close(db);

    ct_crash_outcome drop = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(s->fwd.inner, &drop), CT_OK);
    db = open_group(s);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    assert_int_equal(ct_get(t, NULL, "t0-0000", 7, &v, &vl), CT_OK);
    assert_int_equal(ct_get(t, NULL, "second", 6, &v, &vl), CT_OK);
    assert_memory_equal(v, "2", 1);
    ct_abort(t);
    th_check_clean(db);
    ct_close(db);
    s->fwd.base.ops->close(&s->fwd.base);
}

/* Commits made while a group sync flushes an older commit's meta must not
   overwrite that commit's pages: B frees pages of A's tree (copy on
   write) while A's sync runs, and C, committing before that sync
   reaches the device, must not reuse them. Every later sync fails, so
   after a crash A is the newest commit recovery may take, and it was
   acknowledged: it must be there, whole. */
static void test_group_commit_flush_keeps_its_tree(void **state)
{
    (void)state;
    slow_sync_store *s = slow_sync_create();
    ct_db *db = open_group(s);
    for (int i = 0; i < 40; i++) { /* a few leaves for A, B and C to copy */
        char k[16];
        snprintf(k, sizeof(k), "base%03d", i);
        th_put1(db, k, strlen(k), "v", 1);
    }
    atomic_store(&s->fail_from, atomic_load(&s->syncs) + 2u); /* A's sync passes */
    atomic_store(&s->hold_syncs, 1);
    pthread_t ta;
    group_arg a = {db, 0, 1, 0};
    assert_int_equal(pthread_create(&ta, NULL, group_committer, &a), 0);
    int flushing = wait_for_flag(&s->in_sync);
    pipelined_arg b = {.db = db, .key = "t0-0000"}; /* rewrites A's leaf */
    pipelined_arg c = {.db = db, .key = "t0-0001"};
    pthread_t tb;
    pthread_t tc;
    assert_int_equal(pthread_create(&tb, NULL, pipelined_committer, &b), 0);
    int b_put = wait_for_flag(&b.put_done);
    assert_int_equal(pthread_create(&tc, NULL, pipelined_committer, &c), 0);
    int c_put = wait_for_flag(&c.put_done);
    struct timespec settle = {0, 50000000}; /* C's commit writes its pages */
    nanosleep(&settle, NULL);
    atomic_store(&s->hold_syncs, 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(pthread_join(tc, NULL), 0);
    assert_true(flushing && b_put && c_put);
    assert_int_equal(a.failures, 0);    /* A's sync passed: acknowledged */
    assert_int_not_equal(c.rc, CT_OK); /* the later sync failed */
    ct_close(db);

    ct_crash_outcome drop = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(s->fwd.inner, &drop), CT_OK);
    atomic_store(&s->fail_from, 0u);
    db = open_group(s);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    assert_int_equal(ct_get(t, NULL, "t0-0000", 7, &v, &vl), CT_OK);
    assert_int_equal(ct_get(t, NULL, "base039", 7, &v, &vl), CT_OK);
    ct_abort(t);
    th_check_clean(db);
    ct_close(db);
    s->fwd.base.ops->close(&s->fwd.base);
}

typedef struct failing_txn_arg {
    ct_db *db;
    slow_sync_store *s;
    int updates;
    unsigned seed;
    atomic_int done;
    int rc;
} failing_txn_arg;

static void *failing_txn(void *p)
{
    failing_txn_arg *a = p;
    ct_txn *t = NULL;
    a->rc = ct_begin(a->db, 0, &t);
    if (a->rc == CT_OK) {
        unsigned r = a->seed;
        for (int i = 0; i < a->updates; i++) {
            r = r * 1103515245u + 12345u;
            char k[16];
            snprintf(k, sizeof(k), "base%04u", (r >> 8) % 300u);
            assert_int_equal(ct_put(t, NULL, k, strlen(k), "w", 1, 0), CT_OK);
        }
        failing_thread = 1;
        atomic_store(&a->s->fail_armed, 1);
        a->rc = ct_commit(t);
        failing_thread = 0;
    }
    atomic_store(&a->done, 1);
    return NULL;
}

static uint64_t last_txnid(ct_db *db)
{
    ct_stat_info st;
    assert_int_equal(ct_stat(db, &st), CT_OK);
    return st.txnid;
}

/* One case of the test below; returns 1 when the acknowledged commit C is
   damaged (live ct_check) or lost after a crash. */
static int failed_txn_case(int updates, unsigned seed, int *failed)
{
    slow_sync_store *s = slow_sync_create();
    s->sync_delay_ns = 0; /* 400 commits to set up */
    ct_db *db = open_group(s);
    char val[300];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof(k), "base%04d", i);
        th_put1(db, k, strlen(k), val, sizeof(val));
    }
    for (int i = 0; i < 300; i += 3) { /* a free list of some pages */
        char k[16];
        snprintf(k, sizeof(k), "base%04d", i);
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        assert_int_equal(ct_del(t, NULL, k, strlen(k)), CT_OK);
        assert_int_equal(ct_commit(t), CT_OK);
    }
    struct timespec ms = {0, 1000000};
    atomic_store(&s->hold_syncs, 1);
    uint64_t before = last_txnid(db);
    pipelined_arg a = {.db = db, .key = "a0"};
    pthread_t ta;
    assert_int_equal(pthread_create(&ta, NULL, pipelined_committer, &a), 0);
    assert_true(wait_for_flag(&s->in_sync)); /* A's sync is flushing */
    pipelined_arg c = {.db = db, .key = "ckey"};
    pthread_t tc;
    assert_int_equal(pthread_create(&tc, NULL, pipelined_committer, &c), 0);
    for (int i = 0; i < 5000 && last_txnid(db) < before + 2; i++) {
        nanosleep(&ms, NULL); /* C committed; it waits behind A's sync */
    }
    uint64_t c_id = last_txnid(db);
    assert_true(c_id == before + 2);
    failing_txn_arg f = {.db = db, .s = s, .updates = updates, .seed = seed};
    pthread_t tf;
    assert_int_equal(pthread_create(&tf, NULL, failing_txn, &f), 0);
    assert_true(wait_for_flag(&f.done)); /* its commit failed while A still flushes */
    assert_int_equal(last_txnid(db), c_id);
    atomic_store(&s->fail_armed, 0);
    atomic_store(&s->hold_syncs, 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tc, NULL), 0);
    assert_int_equal(pthread_join(tf, NULL), 0);
    assert_int_equal(a.rc, CT_OK);
    assert_int_equal(c.rc, CT_OK); /* acknowledged by the next sync */
    *failed = f.rc == CT_IO && atomic_load(&s->failed_writes) == 1;
    ct_check_report r;
    int damaged = ct_check(db, &r) != CT_OK || r.problems != 0;
    ct_close(db);

    ct_crash_outcome drop = {.mode = CT_CRASH_DROP_ALL};
    assert_int_equal(ct_memstore_crash(s->fwd.inner, &drop), CT_OK);
    db = open_group(s);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    int lost = ct_get(t, NULL, "ckey", 4, &v, &vl) != CT_OK;
    ct_abort(t);
    ct_close(db);
    s->fwd.base.ops->close(&s->fwd.base);
    return damaged || lost;
}

/* A txn that begins while a group sync flushes A, after C committed (its
   meta not written yet: C is in no meta slot), drops pages of C's free
   list; its commit then fails on its first store write (which landed), so
   C stays the newest commit, and the next sync writes C's meta and
   acknowledges C. The failed txn must not have written over C's free-list
   pages: C stays whole, live and after a crash. Several sizes of the
   failing txn, so that its pages differ. */
static void test_group_commit_failed_txn_keeps_newest(void **state)
{
    (void)state;
    int bad = 0;
    int failed_txns = 0;
    for (unsigned seed = 1; seed <= 8; seed++) {
        for (int updates = 1; updates <= 40; updates += 13) {
            int failed = 0;
            if (failed_txn_case(updates, seed, &failed)) {
                printf("seed %u, %d updates: acknowledged commit damaged or lost\n", seed, updates);
                bad++;
            }
            failed_txns += failed;
        }
    }
    assert_int_equal(failed_txns, 32);
    assert_int_equal(bad, 0);
}

/* A failed group sync: the commit fails with CT_IO, the db is poisoned, and
   a reader begun afterwards sees the last durable commit, not the commit
   whose ct_commit failed. */
static void test_group_commit_failed_sync(void **state)
{
    (void)state;
    slow_sync_store *s = slow_sync_create();
    ct_db *db = open_group(s);
    th_put1(db, "a", 1, "1", 1);
    atomic_store(&s->fail_syncs, 1);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    assert_int_equal(ct_put(t, NULL, "b", 1, "2", 1, 0), CT_OK);
    assert_int_equal(ct_commit(t), CT_IO);
    assert_int_equal(ct_begin(db, 0, &t), CT_POISONED);
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    const void *v = NULL;
    size_t vl = 0;
    assert_int_equal(ct_get(t, NULL, "a", 1, &v, &vl), CT_OK);
    assert_int_equal(ct_get(t, NULL, "b", 1, &v, &vl), CT_NOTFOUND);
    ct_abort(t);
    ct_close(db);
    s->fwd.base.ops->close(&s->fwd.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_write_txn_same_thread),
        cmocka_unit_test(test_writers_serialize),
        cmocka_unit_test(test_no_lost_updates),
        cmocka_unit_test(test_readers_do_not_block),
        cmocka_unit_test(test_txn_ids),
        cmocka_unit_test(test_snapshots_under_concurrent_commits_ram),
        cmocka_unit_test(test_snapshots_under_concurrent_commits_memstore),
        cmocka_unit_test(test_snapshots_under_concurrent_commits_file),
        cmocka_unit_test(test_second_process_gets_busy),
        cmocka_unit_test(test_failed_txn_is_sticky),
        cmocka_unit_test(test_commit_after_failed_sync_is_poisoned),
        cmocka_unit_test(test_nomem_at_every_allocation),
        cmocka_unit_test(test_commit_uses_writev),
        cmocka_unit_test(test_commit_gathers_large_runs),
        cmocka_unit_test(test_commit_writev_failure),
        cmocka_unit_test(test_group_commit_shares_syncs),
        cmocka_unit_test(test_group_commit_pipelines),
        cmocka_unit_test(test_group_commit_flush_keeps_its_tree),
        cmocka_unit_test(test_group_commit_failed_txn_keeps_newest),
        cmocka_unit_test(test_group_commit_failed_sync),
        cmocka_unit_test(test_steady_commits_reuse_page_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
