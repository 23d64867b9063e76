/*
 * test_tool.c - the cowtree command, end to end: every subcommand is run
 * as a child process on databases the test builds with the library in a
 * temp directory, and its exit code, stdout and stderr are checked. The
 * dump/load round trip uses random binary keys (0..key max bytes) and
 * values (0 bytes to overflow runs); error paths cover bad arguments,
 * missing files, corrupt pages and a file locked by another process.
 * Random tests print their seed; COWTREE_TEST_SEED=N replays one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"

#define ARGS_MAX 16

static char tmp_dir[256];

typedef struct run_result {
    int code;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} run_result;

/* Paths handed out by tmp_path, freed by teardown_dir. */
#define TMP_PATHS_MAX 64
static char *tmp_paths[TMP_PATHS_MAX];
static size_t tmp_path_count;

static const char *tmp_path(const char *name)
{
    assert_true(tmp_path_count < TMP_PATHS_MAX);
    size_t len = strlen(tmp_dir) + 1 + strlen(name) + 1;
    char *p = malloc(len);
    assert_non_null(p);
    snprintf(p, len, "%s/%s", tmp_dir, name);
    tmp_paths[tmp_path_count++] = p;
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096;
    size_t n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void result_free(run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

/* The program run_env runs: NULL = the tool; else a name found in PATH. */
static const char *run_exe;

/* Runs the tool with args (NULL-terminated, without argv[0]); stdin from
   in_path (NULL = /dev/null). extra_env ("NAME=VALUE") may be NULL. */
static int run_env(run_result *r, const char *in_path, const char *extra_env,
                   const char *const *args)
{
    result_free(r);
    char out_path[512];
    char err_path[512];
    snprintf(out_path, sizeof(out_path), "%s/.stdout", tmp_dir);
    snprintf(err_path, sizeof(err_path), "%s/.stderr", tmp_dir);
    char *argv[ARGS_MAX + 2];
    size_t n = 0;
    argv[n++] = (char *)(run_exe ? run_exe : COWTREE_TOOL_PATH);
    for (; args[n - 1] && n < ARGS_MAX + 1; n++) {
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(err, 2) < 0) {
            _exit(126);
        }
        if (extra_env) {
            putenv((char *)extra_env);
        } else {
            unsetenv("COWTREE_PROGRESS");
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    r->code = WEXITSTATUS(status);
    r->out = slurp(out_path, &r->out_len);
    r->err = slurp(err_path, &r->err_len);
    return r->code;
}

#define RUN(r, ...) run_env((r), NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(r, in, ...) run_env((r), (in), NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Prints the child's streams when an expectation fails. */
static void expect_code(const run_result *r, int code)
{
    if (r->code != code) {
        print_error("exit %d, wanted %d\nstdout: %s\nstderr: %s\n", r->code, code, r->out, r->err);
    }
    assert_int_equal(r->code, code);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) {
        print_error("'%s' not found in:\n%s\n", needle, haystack);
    }
    assert_non_null(strstr(haystack, needle));
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/cowtree-tool-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    for (size_t i = 0; i < tmp_path_count; i++) {
        free(tmp_paths[i]);
    }
    tmp_path_count = 0;
    return nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the library side ---- */

static ct_db *db_open(const char *path, uint32_t page_size)
{
    ct_options opt;
    ct_options_init(&opt);
    opt.page_size = page_size;
    ct_db *db = NULL;
    assert_int_equal(ct_open_path(path, &opt, &db), CT_OK);
    return db;
}

static void db_put(ct_db *db, const char *bucket, const void *k, size_t klen, const void *v,
                   size_t vlen)
{
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    assert_int_equal(ct_begin(db, 0, &txn), CT_OK);
    if (bucket) {
        assert_int_equal(ct_bucket_open(txn, bucket, CT_CREATE, &b), CT_OK);
    }
    assert_int_equal(ct_put(txn, b, k, klen, v, vlen, 0), CT_OK);
    assert_int_equal(ct_commit(txn), CT_OK);
}

static uint64_t prng_state;

static uint64_t prng_next(void)
{
    uint64_t x = prng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    prng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t prng_below(uint64_t n)
{
    return n ? prng_next() % n : 0;
}

static void seed_prng(const char *test)
{
    const char *env = getenv("COWTREE_TEST_SEED");
    uint64_t seed =
        env ? (uint64_t)strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    prng_state = seed ? seed : 1;
    printf("%s: seed %" PRIu64 " (replay: COWTREE_TEST_SEED=%" PRIu64 ")\n", test, seed, seed);
}

/* ---- tests ---- */

/* Every subcommand has --help (exit 0, usage on stdout); bad command lines
   exit 2 with one line on stderr. */
static void test_help_and_usage(void **state)
{
    (void)state;
    static const char *const cmds[] = {"stat", "check", "buckets", "dump", "load",
                                       "get",  "put",   "del",     "scan", "copy"};
    run_result r = {0};
    RUN(&r, "--help");
    expect_code(&r, 0);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        expect_in(r.out, cmds[i]);
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run_result h = {0};
        RUN(&h, cmds[i], "--help");
        expect_code(&h, 0);
        char want[64];
        snprintf(want, sizeof(want), "usage: cowtree %s", cmds[i]);
        expect_in(h.out, want);
        RUN(&h, "help", cmds[i]);
        expect_code(&h, 0);
        expect_in(h.out, want);
        result_free(&h);
    }
    const char *db = tmp_path("usage.ct");
    RUN(&r, "--version");
    expect_code(&r, 0);
    run_env(&r, NULL, NULL, (const char *const[]){NULL});
    expect_code(&r, 2);
    RUN(&r, "frobnicate", db);
    expect_code(&r, 2);
    expect_in(r.err, "unknown command");
    RUN(&r, "get", db);
    expect_code(&r, 2);
    expect_in(r.err, "cowtree get:");
    assert_int_equal(count_lines(r.err), 1);
    RUN(&r, "get", "--bogus", db, "k");
    expect_code(&r, 2);
    expect_in(r.err, "--bogus");
    RUN(&r, "scan", "--limit", "x", db);
    expect_code(&r, 2);
    RUN(&r, "get", "--hex", db, "abc");
    expect_code(&r, 2);
    expect_in(r.err, "hex");
    RUN(&r, "put", "--page-size", "1000", db, "k", "v");
    expect_code(&r, 2);
    RUN(&r, "dump", "-a", "-b", "x", db);
    expect_code(&r, 2);
    RUN(&r, "put", "--raw", db, "k", "v");
    expect_code(&r, 2);
    expect_in(r.err, "does not apply");
    /* A bucket name no bucket can have is bad usage in every command (put
       and get said exit 3, CT_INVALID, where load said 2). */
    char long_name[300];
    memset(long_name, 'b', 256);
    long_name[256] = '\0';
    const char *const names[] = {"", long_name};
    for (size_t i = 0; i < 2; i++) {
        RUN(&r, "put", "-b", names[i], db, "k", "v");
        expect_code(&r, 2);
        expect_in(r.err, "bucket names are 1..255 bytes");
        RUN(&r, "get", "-b", names[i], db, "k");
        expect_code(&r, 2);
        RUN(&r, "scan", "-b", names[i], db);
        expect_code(&r, 2);
        RUN(&r, "dump", "-b", names[i], db);
        expect_code(&r, 2);
    }
    /* None of these created the file. */
    assert_int_equal(access(db, F_OK), -1);
    result_free(&r);
}

/* put/get/del with text, hex, raw output, a value file of overflow size,
   --no-overwrite, buckets, and the not-found exits. */
static void test_put_get_del(void **state)
{
    (void)state;
    const char *db = tmp_path("pgd.ct");
    run_result r = {0};
    RUN(&r, "put", db, "hello", "world");
    expect_code(&r, 0);
    RUN(&r, "get", db, "hello");
    expect_code(&r, 0);
    assert_string_equal(r.out, "world\n");
    RUN(&r, "put", "--hex", db, "00ff", "");
    expect_code(&r, 0);
    RUN(&r, "get", "--hex", db, "00ff");
    expect_code(&r, 0);
    assert_string_equal(r.out, "\n");
    RUN(&r, "put", "-N", db, "hello", "again");
    expect_code(&r, 1);
    expect_in(r.err, "CT_EXISTS");
    RUN(&r, "get", db, "hello");
    assert_string_equal(r.out, "world\n");

    /* A 20000-byte binary value from a file, read back exactly with --raw. */
    size_t vlen = 20000;
    unsigned char *v = malloc(vlen);
    assert_non_null(v);
    for (size_t i = 0; i < vlen; i++) {
        v[i] = (unsigned char)(i * 131u + 7u);
    }
    const char *vfile = tmp_path("value.bin");
    FILE *f = fopen(vfile, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(v, 1, vlen, f), vlen);
    fclose(f);
    RUN(&r, "put", "--value-file", vfile, db, "big");
    expect_code(&r, 0);
    RUN(&r, "get", "--raw", db, "big");
    expect_code(&r, 0);
    assert_int_equal(r.out_len, vlen);
    assert_memory_equal(r.out, v, vlen);
    RUN_IN(&r, vfile, "put", "-b", "files", "--value-file", "-", db, "big");
    expect_code(&r, 0);
    RUN(&r, "get", "-b", "files", "--raw", db, "big");
    assert_int_equal(r.out_len, vlen);
    /* --hex with --raw: the key is hex ("big"), the value comes out raw. */
    RUN(&r, "get", "-b", "files", "--hex", "--raw", db, "626967");
    expect_code(&r, 0);
    assert_int_equal(r.out_len, vlen);
    assert_memory_equal(r.out, v, vlen);
    free(v);

    /* A binary key (NUL, newline) from a file. */
    const char *kfile = tmp_path("key.bin");
    f = fopen(kfile, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("a\0b\n", 1, 4, f), 4);
    fclose(f);
    RUN(&r, "put", "--key-file", kfile, db, "binary key");
    expect_code(&r, 0);
    RUN(&r, "get", "--hex", db, "610062");
    expect_code(&r, 1);
    RUN(&r, "get", "--hex", db, "6100620a");
    expect_code(&r, 0);
    assert_string_equal(r.out, "62696e617279206b6579\n");
    RUN(&r, "get", "--key-file", kfile, db);
    expect_code(&r, 0);
    assert_string_equal(r.out, "binary key\n");
    RUN(&r, "put", "--key-file", kfile, db, "k", "v");
    expect_code(&r, 2);
    RUN(&r, "del", "--key-file", kfile, db);
    expect_code(&r, 0);
    RUN(&r, "get", "--key-file", kfile, db);
    expect_code(&r, 1);

    RUN(&r, "del", db, "hello");
    expect_code(&r, 0);
    RUN(&r, "del", db, "hello");
    expect_code(&r, 1);
    expect_in(r.err, "CT_NOTFOUND");
    RUN(&r, "get", db, "hello");
    expect_code(&r, 1);
    assert_int_equal(r.out_len, 0);
    RUN(&r, "get", "-b", "nosuch", db, "k");
    expect_code(&r, 1);
    expect_in(r.err, "no such bucket");
    RUN(&r, "put", "--value-file", tmp_path("nofile"), db, "k");
    expect_code(&r, 3);
    expect_in(r.err, "cannot read");

    char long_key[2000];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    RUN(&r, "put", db, long_key, "v");
    expect_code(&r, 3);
    expect_in(r.err, "CT_TOOBIG");
    /* A put that fails leaves no new, empty database behind; an existing
       one stays. */
    const char *fresh = tmp_path("never.ct");
    RUN(&r, "put", fresh, long_key, "v");
    expect_code(&r, 3);
    expect_in(r.err, "CT_TOOBIG");
    assert_int_not_equal(access(fresh, F_OK), 0);
    RUN(&r, "put", "-b", "", fresh, "k", "v");
    assert_int_not_equal(r.code, 0);
    assert_int_not_equal(access(fresh, F_OK), 0);
    assert_int_equal(access(db, F_OK), 0);
    result_free(&r);
}

/* Guards found by a review: dump -o naming the database itself is refused
   (opening OUT used to truncate the database under its own mapping);
   get reports a failed write to standard output; a key and a value both
   from standard input are a usage error; a bad option inside a bundle of
   short ones is named as itself. */
static void test_guards(void **state)
{
    (void)state;
    const char *db = tmp_path("guards.ct");
    ct_db *d = db_open(db, 0);
    db_put(d, NULL, "k", 1, "value", 5);
    ct_close(d);
    run_result r = {0};
    RUN(&r, "dump", "-o", db, db);
    expect_code(&r, 2);
    expect_in(r.err, "database file itself");
    RUN(&r, "get", db, "k");
    expect_code(&r, 0);
    assert_string_equal(r.out, "value\n");

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "exec '%s' get '%s' k >/dev/full", COWTREE_TOOL_PATH, db);
    run_exe = "sh";
    RUN(&r, "-c", cmd);
    run_exe = NULL;
    expect_code(&r, 3);
    expect_in(r.err, "cowtree get: write error on standard output");
    const char *const unwritable[] = {"--version", "help", "help get"};
    for (size_t i = 0; i < sizeof(unwritable) / sizeof(unwritable[0]); i++) {
        snprintf(cmd, sizeof(cmd), "exec '%s' %s >/dev/full", COWTREE_TOOL_PATH, unwritable[i]);
        run_exe = "sh";
        RUN(&r, "-c", cmd);
        run_exe = NULL;
        expect_code(&r, 3);
        expect_in(r.err, "write error on standard output");
    }

    RUN(&r, "put", "--key-file", "-", "--value-file", "-", db);
    expect_code(&r, 2);
    expect_in(r.err, "standard input");
    RUN(&r, "put", "-xN", db, "k", "v");
    expect_code(&r, 2);
    expect_in(r.err, "unknown option -x");
    RUN(&r, "dump", "-pz", db);
    expect_code(&r, 2);
    expect_in(r.err, "unknown option -z");
    RUN(&r, "get", "-N", db, "k");
    expect_code(&r, 2);
    expect_in(r.err, "option -N does not apply");
    RUN(&r, "get", "--page-size", "4096", db, "k");
    expect_code(&r, 2);
    expect_in(r.err, "option --page-size does not apply");
    result_free(&r);
}

/* Output never carries a control byte: escapes for ESC, newline, tab,
   backslash and high bytes; the escaped text decodes back exactly. */
static void test_output_escaped(void **state)
{
    (void)state;
    const char *db = tmp_path("esc.ct");
    ct_db *d = db_open(db, 0);
    db_put(d, NULL, "k\x1b[2J", 5, "a\nb\\c\t\x7f\xff", 8);
    ct_close(d);
    run_result r = {0};
    RUN(&r, "scan", db);
    expect_code(&r, 0);
    assert_string_equal(r.out, "k\\1b[2J\ta\\0ab\\\\c\\09\\7f\\ff\n");
    RUN(&r, "get", db, "k\x1b[2J");
    expect_code(&r, 0);
    assert_string_equal(r.out, "a\\0ab\\\\c\\09\\7f\\ff\n");
    RUN(&r, "scan", "--hex", db);
    assert_string_equal(r.out, "6b1b5b324a\t610a625c63097fff\n");
    result_free(&r);
}

static void put_numbered(const char *db, int count)
{
    ct_db *d = db_open(db, 0);
    ct_txn *txn = NULL;
    assert_int_equal(ct_begin(d, 0, &txn), CT_OK);
    for (int i = 0; i < count; i++) {
        char k[16];
        char v[16];
        snprintf(k, sizeof(k), "k%03d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(ct_put(txn, NULL, k, strlen(k), v, strlen(v), 0), CT_OK);
    }
    static const unsigned char ff[][3] = {{0xfe}, {0xff}, {0xff, 0x00}, {0xff, 0xff}};
    static const size_t fflen[] = {1, 1, 2, 2};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ct_put(txn, NULL, ff[i], fflen[i], "x", 1, 0), CT_OK);
    }
    assert_int_equal(ct_commit(txn), CT_OK);
    ct_close(d);
}

/* scan: whole bucket, --from/--to (half open), --prefix (also at 0xff
   bytes), --reverse, --limit, --keys-only. */
static void test_scan(void **state)
{
    (void)state;
    const char *db = tmp_path("scan.ct");
    put_numbered(db, 100);
    run_result r = {0};
    RUN(&r, "scan", db);
    expect_code(&r, 0);
    assert_int_equal(count_lines(r.out), 104);
    assert_memory_equal(r.out, "k000\tv0\nk001\tv1\n", 16);
    RUN(&r, "scan", "--from", "k010", "--to", "k020", db);
    assert_int_equal(count_lines(r.out), 10);
    assert_memory_equal(r.out, "k010\tv10\n", 9);
    RUN(&r, "scan", "--prefix", "k05", "--keys-only", db);
    assert_string_equal(r.out, "k050\nk051\nk052\nk053\nk054\nk055\nk056\nk057\nk058\nk059\n");
    RUN(&r, "scan", "--reverse", "--limit", "3", "--keys-only", "--prefix", "k", db);
    assert_string_equal(r.out, "k099\nk098\nk097\n");
    RUN(&r, "scan", "--limit", "0", db); /* at most 0: nothing (it printed everything) */
    expect_code(&r, 0);
    assert_string_equal(r.out, "");
    RUN(&r, "scan", "--reverse", "--prefix", "k05", "--to", "k053", "--keys-only", db);
    assert_string_equal(r.out, "k052\nk051\nk050\n");
    RUN(&r, "scan", "--reverse", "--from", "k097", "--keys-only", "--prefix", "k", db);
    assert_string_equal(r.out, "k099\nk098\nk097\n");
    RUN(&r, "scan", "--hex", "--prefix", "ff", "--keys-only", db);
    assert_string_equal(r.out, "ff\nff00\nffff\n");
    RUN(&r, "scan", "--hex", "--reverse", "--prefix", "ff", "--keys-only", db);
    assert_string_equal(r.out, "ffff\nff00\nff\n");
    RUN(&r, "scan", "--hex", "--from", "fffff0", db);
    expect_code(&r, 0);
    assert_int_equal(r.out_len, 0);
    RUN(&r, "scan", "-b", "nosuch", db);
    expect_code(&r, 1);
    result_free(&r);
}

/* buckets lists names in order, escaped; -l adds entries and depth; stat
   reports the commit, page counts by type, buckets and fill. */
static void test_buckets_and_stat(void **state)
{
    (void)state;
    const char *db = tmp_path("buckets.ct");
    ct_db *d = db_open(db, 512);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof(k), "%05d", i);
        db_put(d, "beta", k, strlen(k), "value", 5);
    }
    db_put(d, "alpha", "a", 1, "1", 1);
    db_put(d, "new\nline", "b", 1, "2", 1);
    db_put(d, NULL, "top", 3, "level", 5);
    ct_close(d);
    run_result r = {0};
    RUN(&r, "buckets", db);
    expect_code(&r, 0);
    assert_string_equal(r.out, "alpha\nbeta\nnew\\0aline\n");
    RUN(&r, "buckets", "-l", db);
    expect_code(&r, 0);
    expect_in(r.out, "1\t1\talpha\n");
    expect_in(r.out, "300\t");
    RUN(&r, "stat", db);
    expect_code(&r, 0);
    expect_in(r.out, "page size: 512\n");
    expect_in(r.out, "txn id: ");
    expect_in(r.out, "pages by type: meta 2, branch ");
    expect_in(r.out, "named buckets: 3\n");
    expect_in(r.out, "bucket 'beta': depth ");
    expect_in(r.out, "entries 300\n");
    expect_in(r.out, "bucket 'new\\0aline'");
    expect_in(r.out, "entries: 303 in all buckets\n");
    expect_in(r.out, "fill factor: leaf ");
    expect_in(r.out, "file size: ");
    result_free(&r);
}

/* A bucket name of the key limit at 512-byte pages (90 bytes) keeps its
   descriptor in an overflow run: buckets, buckets -l, stat and dump -a
   still list it (they use the library's ct_bucket_list). */
static void test_buckets_long_name(void **state)
{
    (void)state;
    const char *db = tmp_path("longname.ct");
    ct_db *d = db_open(db, 512);
    char name[91];
    memset(name, 'n', 90);
    name[90] = '\0';
    db_put(d, name, "k", 1, "v", 1);
    db_put(d, "a", "k", 1, "v", 1);
    ct_close(d);
    char want[160];
    snprintf(want, sizeof(want), "a\n%s\n", name);
    run_result r = {0};
    RUN(&r, "buckets", db);
    expect_code(&r, 0);
    assert_string_equal(r.out, want);
    snprintf(want, sizeof(want), "1\t1\t%s\n", name);
    RUN(&r, "buckets", "-l", db);
    expect_code(&r, 0);
    expect_in(r.out, want);
    RUN(&r, "stat", db);
    expect_code(&r, 0);
    expect_in(r.out, "named buckets: 2\n");
    expect_in(r.out, "': depth 1, entries 1\n");
    RUN(&r, "dump", "-a", db);
    expect_code(&r, 0);
    expect_in(r.out, name);
    result_free(&r);
}

/* Every command on a missing file: exit 3, one line naming the file and
   CT_NOTFOUND; nothing is created. */
static void test_missing_file(void **state)
{
    (void)state;
    const char *db = tmp_path("missing.ct");
    run_result r = {0};
    const char *const cmds[][4] = {{"stat", db}, {"check", db},    {"buckets", db},
                                   {"dump", db}, {"get", db, "k"}, {"del", db, "k"},
                                   {"scan", db}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run_env(&r, NULL, NULL, cmds[i]);
        expect_code(&r, 3);
        expect_in(r.err, db);
        expect_in(r.err, "CT_NOTFOUND");
        assert_int_equal(count_lines(r.err), 1);
    }
    expect_in(r.err, "no such file");
    assert_int_equal(access(db, F_OK), -1);
    RUN(&r, "load", "-f", tmp_path("no-input"), db);
    expect_code(&r, 3);
    assert_int_equal(access(db, F_OK), -1);
    /* An empty file and a small one that holds no database are named as
       such, and left as they are. */
    FILE *f = fopen(db, "wb");
    assert_non_null(f);
    fclose(f);
    RUN(&r, "get", db, "k");
    expect_code(&r, 3);
    expect_in(r.err, "an empty file, not a database");
    f = fopen(db, "wb");
    assert_non_null(f);
    fputs("hello, not a database\n", f);
    fclose(f);
    RUN(&r, "del", db, "k");
    expect_code(&r, 3);
    expect_in(r.err, "22 bytes with no valid meta page");
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_size, 22);
    result_free(&r);
}

/* Reads page pgno of a closed database file. */
static void file_page(const char *path, uint64_t pgno, uint32_t ps, unsigned char *buf, int write)
{
    int fd = open(path, write ? O_WRONLY : O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n =
        write ? pwrite(fd, buf, ps, (off_t)(pgno * ps)) : pread(fd, buf, ps, (off_t)(pgno * ps));
    assert_int_equal(n, (ssize_t)ps);
    close(fd);
}

static uint64_t get64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Flips (or restores) one byte in the middle of page pgno. */
static void flip_page_byte(const char *path, uint64_t pgno, uint32_t ps)
{
    unsigned char buf[512];
    file_page(path, pgno, ps, buf, 0);
    buf[ps / 2] ^= 0x5a;
    file_page(path, pgno, ps, buf, 1);
}

/* The live leaf of the newest generation whose first key starts with
   first_key (pages with stale copies have older generations). */
static uint64_t find_leaf(const char *path, uint32_t ps, const char *first_key)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    uint64_t pages = (uint64_t)st.st_size / ps;
    unsigned char buf[512];
    uint64_t newest = 0;
    uint64_t found = 0;
    for (uint64_t p = 2; p < pages; p++) {
        file_page(path, p, ps, buf, 0);
        size_t cell = (size_t)buf[32] | (size_t)buf[33] << 8;
        size_t klen = strlen(first_key);
        if (buf[4] == 3 && get64le(buf + 8) == p && get64le(buf + 16) > newest &&
            cell + 4 + klen <= ps && memcmp(buf + cell + 4, first_key, klen) == 0) {
            newest = get64le(buf + 16);
            found = p;
        }
    }
    assert_true(found >= 2);
    return found;
}

static void expect_corrupt_page(run_result *r, const char *cmd, const char *db, uint64_t pgno)
{
    char want[64];
    snprintf(want, sizeof(want), "CT_CORRUPT: page %" PRIu64 ":", pgno);
    RUN(r, cmd, db);
    expect_code(r, 1);
    expect_in(r->err, want);
    expect_in(r->err, db);
    assert_int_equal(count_lines(r->err), 1);
}

/* A database at db (pages of ps bytes) of two commits: 200 keys
   key00000.. with "some value", then "zzz" = "last". */
static void make_two_commits(const char *db, uint32_t ps)
{
    ct_db *d = db_open(db, ps);
    ct_txn *txn = NULL;
    assert_int_equal(ct_begin(d, 0, &txn), CT_OK);
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05d", i);
        assert_int_equal(ct_put(txn, NULL, k, strlen(k), "some value", 10, 0), CT_OK);
    }
    assert_int_equal(ct_commit(txn), CT_OK);
    db_put(d, NULL, "zzz", 3, "last", 4);
    ct_close(d);
}

/* A clean file checks clean (exit 0). A byte flipped in a leaf of an older
   commit: check and stat exit 1 naming that page. A byte flipped in a page
   of the newest commit: recovery rolls back to the commit before, and
   check says so (exit 1, the page). Both meta pages bad: exit 1 at open,
   naming pages 0 and 1. */
static void test_check_corrupt(void **state)
{
    (void)state;
    const uint32_t ps = 512;
    const char *db = tmp_path("corrupt.ct");
    make_two_commits(db, ps);
    run_result r = {0};
    RUN(&r, "check", db);
    expect_code(&r, 0);
    expect_in(r.out, "clean");
    expect_in(r.out, "pages by type: meta 2");

    uint64_t old_leaf = find_leaf(db, ps, "key00000");
    flip_page_byte(db, old_leaf, ps);
    expect_corrupt_page(&r, "check", db, old_leaf);
    expect_in(r.out, "CORRUPT");
    expect_corrupt_page(&r, "stat", db, old_leaf);
    flip_page_byte(db, old_leaf, ps);
    RUN(&r, "check", db);
    expect_code(&r, 0);

    uint64_t zzz_leaf = 0;
    {
        /* The leaf holding zzz was written by the newest commit. */
        struct stat st;
        assert_int_equal(stat(db, &st), 0);
        unsigned char buf[512];
        uint64_t newest = 0;
        for (uint64_t p = 2; p < (uint64_t)st.st_size / ps; p++) {
            file_page(db, p, ps, buf, 0);
            if (buf[4] == 3 && get64le(buf + 8) == p && get64le(buf + 16) > newest &&
                memmem(buf, ps, "zzz", 3) != NULL) {
                newest = get64le(buf + 16);
                zzz_leaf = p;
            }
        }
    }
    assert_true(zzz_leaf >= 2);
    flip_page_byte(db, zzz_leaf, ps);
    expect_corrupt_page(&r, "check", db, zzz_leaf);
    expect_in(r.err, "rolled back");
    expect_in(r.out, "fails verification");
    RUN(&r, "get", db, "zzz");
    expect_code(&r, 1); /* the rolled-back commit's key is gone */

    flip_page_byte(db, zzz_leaf, ps);
    RUN(&r, "check", db);
    expect_code(&r, 0);

    /* One meta slot garbled: the other slot's commit opens, and check and
       stat say which slot failed. */
    for (uint64_t p = 0; p < 2; p++) {
        char want[64];
        flip_page_byte(db, p, ps);
        RUN(&r, "check", db);
        expect_code(&r, 1);
        snprintf(want, sizeof(want), "meta slot %u fails its checksum", (unsigned)p);
        expect_in(r.err, want);
        snprintf(want, sizeof(want), "meta slot %u: fails verification", (unsigned)p);
        expect_in(r.out, want);
        RUN(&r, "stat", db);
        expect_code(&r, 1);
        expect_in(r.out, want);
        flip_page_byte(db, p, ps);
    }
    RUN(&r, "check", db);
    expect_code(&r, 0);
    flip_page_byte(db, zzz_leaf, ps);

    /* Both meta slots garbled: no commit can be opened. */
    for (uint64_t p = 0; p < 2; p++) {
        flip_page_byte(db, p, ps);
    }
    RUN(&r, "check", db);
    expect_code(&r, 1);
    expect_in(r.err, "CT_CORRUPT");
    expect_in(r.err, "pages 0 and 1");
    RUN(&r, "get", db, "key00001");
    expect_code(&r, 1);
    expect_in(r.err, "CT_CORRUPT");
    result_free(&r);
}

/* A file another process holds open: every command fails with exit 3 and a
   line saying CT_BUSY and that it is locked. */
static void test_busy(void **state)
{
    (void)state;
    const char *db = tmp_path("busy.ct");
    ct_db *d = db_open(db, 0);
    db_put(d, NULL, "k", 1, "v", 1);
    ct_close(d);
    int ready[2];
    int release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        ct_db *held = NULL;
        char c = ct_open_path(db, NULL, &held) == CT_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) {
            _exit(1);
        }
        while (read(release[0], &c, 1) > 0) {
        }
        ct_close(held);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    run_result r = {0};
    const char *copy_dst = tmp_path("busy-copy.ct");
    const char *const cmds[][5] = {{"get", db, "k"}, {"put", db, "k", "w"},
                                   {"stat", db},     {"check", db},
                                   {"dump", db},     {"scan", db},
                                   {"buckets", db},  {"copy", db, copy_dst},
                                   {"del", db, "k"}, {"load", "-f", "/dev/null", db}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run_env(&r, NULL, NULL, cmds[i]);
        expect_code(&r, 3);
        expect_in(r.err, "CT_BUSY");
        expect_in(r.err, "locked");
        expect_in(r.err, db);
        assert_int_equal(count_lines(r.err), 1);
    }
    assert_int_equal(access(copy_dst, F_OK), -1);
    close(release[1]);
    close(ready[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    RUN(&r, "get", db, "k");
    expect_code(&r, 0);
    assert_string_equal(r.out, "v\n");
    result_free(&r);
}

/* ---- dump/load round trip ---- */

static const char *const rt_buckets[] = {NULL, "plain", "\x01odd=name\n\\\xff", NULL};

/* count random entries: keys kmin..kmax bytes (kmax 0 = the db's limit),
   values 0 B .. three overflow pages. */
static void fill_random(ct_db *d, const char *bucket, int count, size_t kmin, size_t kmax)
{
    kmax = kmax ? kmax : ct_key_max(d);
    size_t vmax = 3 * 4096 + 100;
    unsigned char *k = malloc(kmax);
    unsigned char *v = malloc(vmax);
    assert_true(k && v);
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    assert_int_equal(ct_begin(d, 0, &txn), CT_OK);
    if (bucket) {
        assert_int_equal(ct_bucket_open(txn, bucket, CT_CREATE, &b), CT_OK);
    }
    for (int i = 0; i < count; i++) {
        uint64_t pick = prng_below(10);
        size_t klen = pick == 0   ? kmin
                      : pick == 1 ? kmax
                                  : kmin + (size_t)prng_below(kmax - kmin + 1);
        pick = prng_below(10);
        size_t vlen = pick == 0  ? 0
                      : pick < 3 ? (size_t)prng_below(vmax + 1)
                                 : (size_t)prng_below(200);
        for (size_t j = 0; j < klen; j++) {
            k[j] = (unsigned char)prng_next();
        }
        for (size_t j = 0; j < vlen; j++) {
            v[j] = (unsigned char)prng_next();
        }
        assert_int_equal(ct_put(txn, b, k, klen, v, vlen, 0), CT_OK);
    }
    assert_int_equal(ct_commit(txn), CT_OK);
    free(k);
    free(v);
}

/* Asserts bucket name holds the same entries in both databases. */
static void same_bucket(ct_db *a, const char *an, ct_db *b, const char *bn)
{
    ct_txn *ta = NULL;
    ct_txn *tb = NULL;
    ct_bucket *ba = NULL;
    ct_bucket *bb = NULL;
    ct_cursor *ca = NULL;
    ct_cursor *cb = NULL;
    assert_int_equal(ct_begin(a, CT_TXN_RDONLY, &ta), CT_OK);
    assert_int_equal(ct_begin(b, CT_TXN_RDONLY, &tb), CT_OK);
    if (an) {
        assert_int_equal(ct_bucket_open(ta, an, 0, &ba), CT_OK);
    }
    if (bn) {
        assert_int_equal(ct_bucket_open(tb, bn, 0, &bb), CT_OK);
    }
    assert_int_equal(ct_cursor_open(ta, ba, &ca), CT_OK);
    assert_int_equal(ct_cursor_open(tb, bb, &cb), CT_OK);
    int ra = ct_cursor_first(ca);
    int rb = ct_cursor_first(cb);
    size_t n = 0;
    while (ra == CT_OK && rb == CT_OK) {
        const void *ka;
        const void *kb;
        const void *va;
        const void *vb;
        size_t kal;
        size_t kbl;
        size_t val;
        size_t vbl;
        assert_int_equal(ct_cursor_get(ca, &ka, &kal, &va, &val), CT_OK);
        assert_int_equal(ct_cursor_get(cb, &kb, &kbl, &vb, &vbl), CT_OK);
        assert_int_equal(kal, kbl);
        assert_int_equal(val, vbl);
        assert_memory_equal(ka, kb, kal);
        assert_memory_equal(va, vb, val);
        n++;
        ra = ct_cursor_next(ca);
        rb = ct_cursor_next(cb);
    }
    assert_int_equal(ra, CT_NOTFOUND);
    assert_int_equal(rb, CT_NOTFOUND);
    assert_true(n > 0);
    ct_abort(ta);
    ct_abort(tb);
}

static void same_db(const char *pa, const char *pb)
{
    ct_db *a = db_open(pa, 0);
    ct_db *b = db_open(pb, 0);
    for (size_t i = 0; i < 3; i++) {
        same_bucket(a, rt_buckets[i], b, rt_buckets[i]);
    }
    ct_close(a);
    ct_close(b);
}

/* Random binary keys (0..key max bytes) and values (0 B .. 3 overflow
   pages) in three buckets (one with a binary name) survive dump -a | load
   exactly, in hex and printable form, with small load batches, and a
   single bucket loads into another name. */
static void test_dump_load_roundtrip(void **state)
{
    (void)state;
    seed_prng("test_dump_load_roundtrip");
    const char *src = tmp_path("rt-src.ct");
    ct_db *d = db_open(src, 0);
    for (size_t i = 0; i < 3; i++) {
        fill_random(d, rt_buckets[i], 150, 0, 0);
    }
    ct_close(d);
    run_result r = {0};
    const char *hex_dump = tmp_path("rt.hex");
    RUN(&r, "dump", "-a", "-o", hex_dump, src);
    expect_code(&r, 0);
    const char *dst1 = tmp_path("rt-hex.ct");
    RUN(&r, "load", "-f", hex_dump, dst1);
    expect_code(&r, 0);
    same_db(src, dst1);
    RUN(&r, "check", dst1);
    expect_code(&r, 0);

    RUN(&r, "dump", "-a", "-p", src);
    expect_code(&r, 0);
    expect_in(r.out, "format=print\n");
    expect_in(r.out, "database=\\01odd=name\\0a\\\\\\ff\n");
    const char *print_dump = tmp_path("rt.print");
    FILE *f = fopen(print_dump, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(r.out, 1, r.out_len, f), r.out_len);
    fclose(f);
    const char *dst2 = tmp_path("rt-print.ct");
    RUN_IN(&r, print_dump, "load", "--batch", "7", dst2);
    expect_code(&r, 0);
    same_db(src, dst2);

    /* One bucket, dumped alone and loaded under another name. */
    const char *one = tmp_path("rt.one");
    RUN(&r, "dump", "-b", "plain", "-o", one, src);
    expect_code(&r, 0);
    const char *dst3 = tmp_path("rt-one.ct");
    RUN(&r, "load", "-b", "renamed", "-f", one, dst3);
    expect_code(&r, 0);
    ct_db *a = db_open(src, 0);
    ct_db *b = db_open(dst3, 0);
    same_bucket(a, "plain", b, "renamed");
    ct_close(a);
    ct_close(b);
    RUN(&r, "dump", "-b", "nosuch", src);
    expect_code(&r, 1);
    expect_in(r.err, "no such bucket");
    result_free(&r);
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Malformed input fails with exit 3 and the line number; a truncated dump
   commits nothing of its last batch; unknown header keys (mdb_dump's) are
   ignored. */
static void test_load_errors(void **state)
{
    (void)state;
    const char *db = tmp_path("loaderr.ct");
    run_result r = {0};
    RUN_IN(&r, write_text("e1", "hello\n"), "load", db);
    expect_code(&r, 3);
    expect_in(r.err, "(stdin):1: not a dump");
    RUN(&r, "load", "-f", write_text("e2", ""), db);
    expect_code(&r, 3);
    expect_in(r.err, "empty input");
    RUN(&r, "load", "-f",
        write_text("e3", "VERSION=3\nformat=bytevalue\nHEADER=END\n 6b\n 7\n"
                         "DATA=END\n"),
        db);
    expect_code(&r, 3);
    expect_in(r.err, ":5: odd number of hex digits");
    RUN(&r, "load", "-f", write_text("e4", "VERSION=3\nHEADER=END\n 6b\n 76\n"), db);
    expect_code(&r, 3);
    expect_in(r.err, "unexpected end of input");
    /* Each failed load removed the file it had created. */
    assert_int_not_equal(access(db, F_OK), 0);
    RUN(&r, "load", "-f", write_text("e5", "VERSION=3\ntype=dupsort\nHEADER=END\nDATA=END\n"), db);
    expect_code(&r, 3);
    expect_in(r.err, "type");
    RUN(&r, "load", "-f",
        write_text("e6", "VERSION=3\nformat=print\nHEADER=END\n a\\q\n v\n"
                         "DATA=END\n"),
        db);
    expect_code(&r, 3);
    expect_in(r.err, ":4: backslash");
    RUN(&r, "load", "-f", write_text("e7", "VERSION=2\nHEADER=END\nDATA=END\n"), db);
    expect_code(&r, 3);
    expect_in(r.err, "VERSION");

    const char *mdb = "VERSION=3\nformat=print\ntype=btree\nmapsize=1048576\nmaxreaders=126\n"
                      "db_pagesize=4096\nHEADER=END\n a\\5cb\\\\\n c d\n k\n \nDATA=END\n";
    RUN(&r, "load", "-f", write_text("ok1", mdb), db);
    expect_code(&r, 0);
    RUN(&r, "scan", db);
    assert_string_equal(r.out, "a\\\\b\\\\\tc d\nk\t\n");
    /* A failed load into an existing database keeps it and its data. */
    RUN(&r, "load", "-f", write_text("e8", "VERSION=3\nHEADER=END\n 6b\n"), db);
    expect_code(&r, 3);
    RUN(&r, "scan", db);
    assert_string_equal(r.out, "a\\\\b\\\\\tc d\nk\t\n");
    RUN(&r, "load", "-N", "-f", tmp_path("ok1"), db);
    expect_code(&r, 3);
    expect_in(r.err, "CT_EXISTS");
    result_free(&r);
}

/* Before HEADER=END only KEY=VALUE lines are header lines: a data line,
   DATA=END, a second VERSION= or free text there is an error with its line
   number. (Skipping them as unknown keys let a section without HEADER=END
   swallow its entries and the next section's header: exit 0, data lost.) */
static void test_load_header_strict(void **state)
{
    (void)state;
    const char *db = tmp_path("strict.ct");
    run_result r = {0};
    RUN(&r, "load", "-f",
        write_text("no-end", "VERSION=3\nformat=bytevalue\ntype=btree\n 6b31\n 7631\n 6b32\n"
                             " 7632\nDATA=END\nVERSION=3\nformat=bytevalue\ntype=btree\n"
                             "database=users\nHEADER=END\n 6b33\n 7633\nDATA=END\n"),
        db);
    expect_code(&r, 3);
    expect_in(r.err, "no-end:4: data line before HEADER=END");
    assert_int_equal(count_lines(r.err), 1);
    assert_int_equal(access(db, F_OK), -1);
    const char *const cases[][2] = {
        {"VERSION=3\nhello world\nHEADER=END\nDATA=END\n", ":2: header line is not KEY=VALUE"},
        {"VERSION=3\n=x\nHEADER=END\nDATA=END\n", ":2: header line is not KEY=VALUE"},
        {"VERSION=3\nformat=bytevalue\nDATA=END\n", ":3: DATA=END before HEADER=END"},
        {"VERSION=3\ntype=btree\nVERSION=3\nHEADER=END\nDATA=END\n", ":3: VERSION= inside"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        RUN(&r, "load", "-f", write_text("bad-header", cases[i][0]), db);
        expect_code(&r, 3);
        expect_in(r.err, cases[i][1]);
        assert_int_equal(access(db, F_OK), -1);
    }
    result_free(&r);
}

/* Runs the tool with standard input a FIFO that a child feeds text into:
   an input that cannot be read twice. */
static void run_piped(run_result *r, const char *text, const char *const *args)
{
    char fifo[512];
    snprintf(fifo, sizeof(fifo), "%s/.stdin-fifo", tmp_dir);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fflush(NULL);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        signal(SIGPIPE, SIG_IGN);
        int fd = open(fifo, O_WRONLY);
        size_t len = strlen(text);
        for (size_t done = 0; fd >= 0 && done < len;) {
            ssize_t n = write(fd, text + done, len - done);
            if (n <= 0) {
                break;
            }
            done += (size_t)n;
        }
        _exit(0);
    }
    run_env(r, fifo, NULL, args);
    int status = 0;
    assert_int_equal(waitpid(writer, &status, 0), writer);
    unlink(fifo);
}

/* Asserts path holds exactly len bytes equal to want. */
static void expect_file_bytes(const char *path, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = slurp(path, &got_len);
    if (got_len != len || memcmp(got, want, len) != 0) {
        print_error("%s changed: %zu bytes, wanted %zu\n", path, got_len, len);
    }
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* load checks the whole input (every line, the decodings, the key and
   bucket-name limits of FILE's page size) before it opens FILE for writing:
   input that fails leaves an existing FILE byte for byte as it was (the
   writable open alone wrote a fence meta, and batches before a bad line
   late in the input were committed) and creates no new file, whether the
   input is a file or a pipe. Valid input still loads in batches. */
static void test_load_checks_first(void **state)
{
    (void)state;
    const char *db = tmp_path("first.ct");
    ct_db *d = db_open(db, 512); /* key limit 90 bytes */
    db_put(d, NULL, "k", 1, "v", 1);
    db_put(d, "b", "bk", 2, "bv", 2);
    ct_close(d);
    size_t before_len = 0;
    char *before = slurp(db, &before_len);

    /* Two good sections of 6 entries (3 batches of 2 each), then input
       that goes wrong at line late_line. */
    char good[2048] = "";
    size_t used = 0;
    for (int sec = 0; sec < 2; sec++) {
        used += (size_t)snprintf(good + used, sizeof(good) - used, "VERSION=3\n%sHEADER=END\n",
                                 sec ? "database=c\n" : "");
        for (int i = 0; i < 6; i++) {
            used += (size_t)snprintf(good + used, sizeof(good) - used, " 6e%02x\n 76\n", i);
        }
        used += (size_t)snprintf(good + used, sizeof(good) - used, "DATA=END\n");
    }
    const uint64_t late_line = 2 * (2 + 12 + 1) + 2; /* the tail's first line */
    char long_key[2 * 91 + 1];
    memset(long_key, 'a', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    char long_name[92];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char tails[3][512];
    snprintf(tails[0], sizeof(tails[0]), "VERSION=3\nHEADER=END\n 6b\n 7\nDATA=END\n");
    snprintf(tails[1], sizeof(tails[1]), "VERSION=3\nHEADER=END\n 6b\n 76\n %s\n 76\nDATA=END\n",
             long_key);
    snprintf(tails[2], sizeof(tails[2]), "VERSION=3\ndatabase=%s\nHEADER=END\nDATA=END\n",
             long_name);
    const uint64_t tail_line[3] = {late_line + 3, late_line + 4, late_line + 1};
    const char *const why[3] = {"odd number of hex digits", "key of 91 bytes", "bucket name"};
    static char text[4096];
    run_result r = {0};
    for (size_t i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "%s%s", good, tails[i]);
        char want[64];
        snprintf(want, sizeof(want), ":%" PRIu64 ": ", tail_line[i]);
        RUN(&r, "load", "--batch", "2", "-f", write_text("late.dump", text), db);
        expect_code(&r, 3);
        expect_file_bytes(db, before, before_len);
        expect_in(r.err, want);
        expect_in(r.err, why[i]);
        expect_in(r.err, "nothing loaded");
        run_piped(&r, text, (const char *const[]){"load", "--batch", "2", db, NULL});
        expect_code(&r, 3);
        expect_file_bytes(db, before, before_len);
        expect_in(r.err, want);
    }
    /* Empty input and garbage: nothing to load, and nothing written. */
    RUN(&r, "load", "-f", write_text("empty.dump", ""), db);
    expect_code(&r, 3);
    expect_file_bytes(db, before, before_len);
    RUN_IN(&r, write_text("garbage.dump", "garbage\n"), "load", db);
    expect_code(&r, 3);
    expect_file_bytes(db, before, before_len);

    /* A new file: a key over the limit of the page size it would get is
       found before it is created (with one entry per batch, the first
       entry was committed and the file stayed). */
    const char *fresh = tmp_path("first-new.ct");
    snprintf(text, sizeof(text), "%s", tails[1]);
    RUN(&r, "load", "--batch", "1", "--page-size", "512", "-f", write_text("new.dump", text),
        fresh);
    expect_code(&r, 3);
    expect_in(r.err, ":5: key of 91 bytes");
    assert_int_equal(access(fresh, F_OK), -1);

    /* Good input loads, in batches, from a file and from a pipe. */
    RUN(&r, "load", "--batch", "2", "-f", write_text("good.dump", good), db);
    expect_code(&r, 0);
    RUN(&r, "scan", "-b", "c", "--keys-only", "--hex", db);
    expect_code(&r, 0);
    assert_int_equal(count_lines(r.out), 6);
    run_piped(&r, good, (const char *const[]){"load", "--batch", "2", fresh, NULL});
    expect_code(&r, 0);
    RUN(&r, "scan", "--keys-only", "--hex", fresh);
    expect_code(&r, 0);
    assert_string_equal(r.out, "6e00\n6e01\n6e02\n6e03\n6e04\n6e05\n");
    free(before);
    result_free(&r);
}

/* No leftover temporary file of dump -o in the test directory. */
static void expect_no_temp_files(void)
{
    DIR *dir = opendir(tmp_dir);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, ".cowtree-dump", 13) == 0) {
            print_error("left behind: %s\n", e->d_name);
        }
        assert_int_not_equal(strncmp(e->d_name, ".cowtree-dump", 13), 0);
    }
    closedir(dir);
}

/* dump -o replaces OUT only when the whole dump is written: a missing
   bucket, or a damaged page met halfway through, leaves an existing OUT
   as it was (it was truncated, or left holding part of the dump) and
   creates no new one; a good dump replaces OUT and keeps its mode; a
   device is written in place. */
static void test_dump_output_replaced(void **state)
{
    (void)state;
    const uint32_t ps = 512;
    const char *db = tmp_path("dumpout.ct");
    make_two_commits(db, ps);
    const char *out = write_text("out.txt", "precious\n");
    assert_int_equal(chmod(out, 0640), 0);
    run_result r = {0};
    RUN(&r, "dump", "-b", "nosuch", "-o", out, db);
    expect_code(&r, 1);
    expect_in(r.err, "no such bucket");
    expect_file_bytes(out, "precious\n", 9);

    RUN(&r, "dump", "-o", out, db);
    expect_code(&r, 0);
    RUN(&r, "dump", db);
    expect_code(&r, 0);
    expect_file_bytes(out, r.out, r.out_len);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    /* A leaf of the first commit damaged: open succeeds, the dump fails
       halfway, after many lines were written. */
    write_text("out.txt", "precious\n");
    uint64_t leaf = find_leaf(db, ps, "key0010");
    flip_page_byte(db, leaf, ps);
    char want[64];
    snprintf(want, sizeof(want), "CT_CORRUPT: page %" PRIu64 ":", leaf);
    RUN(&r, "dump", "-o", out, db);
    expect_code(&r, 1);
    expect_in(r.err, want);
    expect_file_bytes(out, "precious\n", 9);
    const char *fresh = tmp_path("fresh.txt");
    RUN(&r, "dump", "-o", fresh, db);
    expect_code(&r, 1);
    assert_int_equal(access(fresh, F_OK), -1);
    expect_no_temp_files();
    flip_page_byte(db, leaf, ps);

    RUN(&r, "dump", "-o", "/dev/null", db);
    expect_code(&r, 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    expect_no_temp_files();
    result_free(&r);
}

/* dump -a on a damaged bucket catalog names the bad page, as buckets does
   (it said only "run cowtree check for the page"). */
static void test_dump_all_damaged_catalog(void **state)
{
    (void)state;
    const uint32_t ps = 512;
    const char *db = tmp_path("catalog.ct");
    ct_db *d = db_open(db, ps);
    db_put(d, "cat-a", "k", 1, "v", 1);
    db_put(d, "cat-b", "k", 1, "v", 1);
    db_put(d, NULL, "k", 1, "v", 1); /* a newer commit that leaves the catalog */
    ct_close(d);
    uint64_t catalog = find_leaf(db, ps, "cat-");
    flip_page_byte(db, catalog, ps);
    char want[64];
    snprintf(want, sizeof(want), "CT_CORRUPT: page %" PRIu64 ":", catalog);
    run_result r = {0};
    RUN(&r, "buckets", db);
    expect_code(&r, 1);
    expect_in(r.err, want);
    RUN(&r, "dump", "-a", db);
    expect_code(&r, 1);
    expect_in(r.err, want);
    expect_in(r.err, db);
    assert_int_equal(count_lines(r.err), 1);
    assert_int_equal(r.out_len, 0);
    result_free(&r);
}

/* A copy whose destination cannot be created (its directory is missing)
   exits 3, the code for anything but not-found or corrupt, with the
   system's reason, and leaves nothing behind. */
static void test_copy_dst_errors(void **state)
{
    (void)state;
    const char *db = tmp_path("src.ct");
    ct_db *d = db_open(db, 512);
    db_put(d, NULL, "k", 1, "v", 1);
    ct_close(d);
    const char *dst = tmp_path("nodir/x.ct");
    run_result r = {0};
    RUN(&r, "copy", db, dst);
    expect_code(&r, 3);
    expect_in(r.err, "No such file or directory");
    assert_int_equal(access(dst, F_OK), -1);
    result_free(&r);
}

/* Whether path holds exactly the bytes (len) in want. */
static int file_is(const char *path, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = slurp(path, &got_len);
    int same = got_len == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

/* put and load never make a new database of an existing file with bytes
   in it (the engine would take a small file with no valid meta for a
   creation a crash cut short and overwrite it); an empty file they do. */
static void test_put_keeps_other_files(void **state)
{
    (void)state;
    const char *notes = tmp_path("notes.txt");
    char text[8192];
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = (char)('a' + i % 26);
    }
    FILE *f = fopen(notes, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof(text), f), sizeof(text));
    fclose(f);
    run_result r = {0};
    RUN(&r, "put", notes, "k", "v");
    expect_code(&r, 3);
    expect_in(r.err, "no valid meta page");
    assert_true(file_is(notes, text, sizeof(text)));
    RUN(&r, "load", "-f", write_text("one.dump", "VERSION=3\nformat=print\nHEADER=END\n k\n v\n"
                                                 "DATA=END\n"),
        notes);
    expect_code(&r, 3);
    assert_true(file_is(notes, text, sizeof(text)));
    const char *empty = tmp_path("empty.ct");
    f = fopen(empty, "wb");
    assert_non_null(f);
    fclose(f);
    RUN(&r, "put", empty, "k", "v");
    expect_code(&r, 0);
    RUN(&r, "get", empty, "k");
    expect_code(&r, 0);
    expect_in(r.out, "v");
    result_free(&r);
}

/* A put or del that fails before its commit (an absent key, -N on a
   present one, a key over the limit, an absent bucket) leaves the file
   byte for byte as it was: no writable open (which writes its fence). */
static void test_failed_write_leaves_file(void **state)
{
    (void)state;
    const char *db = tmp_path("kept.ct");
    ct_db *d = db_open(db, 512);
    db_put(d, NULL, "k", 1, "v", 1);
    ct_close(d);
    size_t len = 0;
    char *before = slurp(db, &len);
    char long_key[600];
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    run_result r = {0};
    RUN(&r, "del", db, "absent");
    expect_code(&r, 1);
    assert_true(file_is(db, before, len));
    RUN(&r, "del", "-b", "nosuch", db, "k");
    expect_code(&r, 1);
    assert_true(file_is(db, before, len));
    RUN(&r, "put", "-N", db, "k", "w");
    expect_code(&r, 1);
    expect_in(r.err, "CT_EXISTS");
    assert_true(file_is(db, before, len));
    RUN(&r, "put", db, long_key, "w");
    expect_code(&r, 3);
    expect_in(r.err, "CT_TOOBIG");
    assert_true(file_is(db, before, len));
    RUN(&r, "put", db, "k2", "w");
    expect_code(&r, 0);
    assert_false(file_is(db, before, len));
    free(before);
    result_free(&r);
}

/* When open recovers an older commit than the newest the file holds (its
   meta slot damaged here), every command but check and stat, which
   report it themselves, warns on stderr and goes on. */
static void test_fallback_warned(void **state)
{
    (void)state;
    const char *db = tmp_path("fell.ct");
    ct_db *d = db_open(db, 512);
    db_put(d, NULL, "k1", 2, "v1", 2);
    db_put(d, NULL, "k2", 2, "v2", 2);
    struct ct_stat st;
    assert_int_equal(ct_stat(d, &st), CT_OK);
    uint32_t newest_slot = st.meta_slot;
    ct_close(d);
    flip_page_byte(db, newest_slot, 512);
    run_result r = {0};
    RUN(&r, "get", db, "k1");
    expect_code(&r, 0);
    expect_in(r.err, "warning: meta slot");
    expect_in(r.err, "run cowtree check");
    RUN(&r, "get", db, "k2");
    expect_code(&r, 1);
    expect_in(r.err, "warning: meta slot");
    RUN(&r, "dump", db);
    expect_code(&r, 0);
    expect_in(r.err, "warning: meta slot");
    RUN(&r, "stat", db);
    assert_null(strstr(r.err, "warning"));
    result_free(&r);
}

/* With COWTREE_PROGRESS=1 (as if stderr were a terminal) long loads and
   dumps report progress on stderr; stdout carries only data. */
static void test_progress(void **state)
{
    (void)state;
    const char *text = tmp_path("progress.txt");
    FILE *f = fopen(text, "wb");
    assert_non_null(f);
    fputs("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n", f);
    for (unsigned i = 0; i < 5000; i++) {
        fprintf(f, " %08x\n %04x\n", i, i & 0xffffu);
    }
    fputs("DATA=END\n", f);
    fclose(f);
    const char *db = tmp_path("progress.ct");
    run_result r = {0};
    run_env(&r, NULL, "COWTREE_PROGRESS=1", (const char *const[]){"load", "-f", text, db, NULL});
    expect_code(&r, 0);
    expect_in(r.err, "loaded 5000 entries");
    run_env(&r, NULL, "COWTREE_PROGRESS=1", (const char *const[]){"dump", db, NULL});
    expect_code(&r, 0);
    expect_in(r.err, "dumped 5000 entries");
    assert_int_equal(count_lines(r.out), 5 + 1 + 2 * 5000 + 1);
    RUN(&r, "dump", db);
    assert_int_equal(r.err_len, 0);
    result_free(&r);
}

/* 1 when an executable called name is in PATH. */
static int in_path(const char *name)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        char candidate[1024];
        snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, path, name);
        if (len > 0 && access(candidate, X_OK) == 0) {
            return 1;
        }
        path = end ? end + 1 : NULL;
    }
    return 0;
}

/* With LMDB's tools installed (lmdb-utils): random binary data goes
   cowtree dump -> mdb_load -> mdb_dump -> cowtree load unchanged (keys
   within LMDB's 1..511 bytes; the hex
   form; LMDB 0.9.24's mdb_load mis-decodes an escaped backslash in the
   print form). Skipped without mdb_load and mdb_dump. */
static void test_lmdb_interop(void **state)
{
    (void)state;
    if (!in_path("mdb_load") || !in_path("mdb_dump")) {
        print_message("mdb_load/mdb_dump not in PATH (lmdb-utils): skipped\n");
        skip();
    }
    seed_prng("test_lmdb_interop");
    const char *src = tmp_path("lmdb-src.ct");
    ct_db *d = db_open(src, 0);
    fill_random(d, NULL, 120, 1, 511); /* LMDB: keys of 1..511 bytes */
    ct_close(d);
    run_result r = {0};
    const char *ours = tmp_path("lmdb-ours.txt");
    const char *theirs = tmp_path("lmdb-theirs.txt");
    const char *env = tmp_path("lmdb.mdb");
    RUN(&r, "dump", "-o", ours, src);
    expect_code(&r, 0);
    run_exe = "mdb_load";
    RUN(&r, "-n", "-f", ours, env);
    run_exe = "mdb_dump";
    int dumped = r.code == 0 ? RUN(&r, "-n", "-f", theirs, env) : -1;
    run_exe = NULL;
    expect_code(&r, 0);
    assert_int_equal(dumped, 0);
    const char *dst = tmp_path("lmdb-back.ct");
    RUN(&r, "load", "-f", theirs, dst);
    expect_code(&r, 0);
    ct_db *a = db_open(src, 0);
    ct_db *b = db_open(dst, 0);
    same_bucket(a, NULL, b, NULL);
    ct_close(a);
    ct_close(b);
    result_free(&r);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* copy and copy --compact give databases that check clean and hold the
   same entries; compact is smaller after deletes; an existing DST is never
   overwritten; a missing or corrupt SRC leaves no DST behind. */
static void test_copy(void **state)
{
    (void)state;
    const uint32_t ps = 512;
    const char *src = tmp_path("copy-src.ct");
    ct_db *d = db_open(src, ps);
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    assert_int_equal(ct_begin(d, 0, &txn), CT_OK);
    assert_int_equal(ct_bucket_open(txn, "b", CT_CREATE, &b), CT_OK);
    for (int i = 0; i < 600; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05d", i);
        assert_int_equal(ct_put(txn, NULL, k, strlen(k), "value", 5, 0), CT_OK);
        assert_int_equal(ct_put(txn, b, k, strlen(k), k, strlen(k), 0), CT_OK);
    }
    assert_int_equal(ct_commit(txn), CT_OK);
    assert_int_equal(ct_begin(d, 0, &txn), CT_OK);
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05d", i);
        assert_int_equal(ct_del(txn, NULL, k, strlen(k)), CT_OK);
    }
    assert_int_equal(ct_commit(txn), CT_OK);
    ct_close(d);

    run_result r = {0};
    const char *plain = tmp_path("copy-plain.ct");
    const char *compact = tmp_path("copy-compact.ct");
    RUN(&r, "copy", src, plain);
    expect_code(&r, 0);
    expect_in(r.out, "copied txn ");
    RUN(&r, "copy", "--compact", src, compact);
    expect_code(&r, 0);
    expect_in(r.out, "compacted");
    const char *copies[] = {plain, compact};
    for (size_t i = 0; i < 2; i++) {
        RUN(&r, "check", copies[i]);
        expect_code(&r, 0);
        ct_db *a = db_open(src, 0);
        ct_db *c = db_open(copies[i], 0);
        same_bucket(a, NULL, c, NULL);
        same_bucket(a, "b", c, "b");
        ct_close(a);
        ct_close(c);
    }
    assert_true(file_size(compact) < file_size(src));

    off_t before = file_size(plain);
    RUN(&r, "copy", src, plain);
    expect_code(&r, 3);
    expect_in(r.err, "exists");
    assert_int_equal(file_size(plain), before);
    const char *dst = tmp_path("copy-dst.ct");
    RUN(&r, "copy", tmp_path("no-src.ct"), dst);
    expect_code(&r, 3);
    expect_in(r.err, "CT_NOTFOUND");
    assert_int_equal(access(dst, F_OK), -1);
    RUN(&r, "copy", src);
    expect_code(&r, 2);

    uint64_t leaf = find_leaf(src, ps, "key00500");
    flip_page_byte(src, leaf, ps);
    RUN(&r, "copy", src, dst);
    expect_code(&r, 1);
    expect_in(r.err, "CT_CORRUPT");
    assert_int_equal(access(dst, F_OK), -1);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_and_usage, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_guards, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_output_escaped, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_scan, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_buckets_and_stat, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_buckets_long_name, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_missing_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_check_corrupt, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_busy, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dump_load_roundtrip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_header_strict, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_load_checks_first, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dump_output_replaced, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dump_all_damaged_catalog, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_put_keeps_other_files, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_failed_write_leaves_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_fallback_warned, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_copy_dst_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_progress, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_copy, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_lmdb_interop, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
