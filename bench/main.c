/*
 * main.c - cowtree-bench: runs db_bench-style workloads on cowtree and the
 * peer engines compiled in, and prints a table (ops/s, ratios, space
 * amplification, peak RSS) and optionally a CSV.
 *
 * Each engine runs in its own child process (fork): a crash in one engine
 * is reported and the others still run, and the child's peak RSS
 * (wait4's ru_maxrss) is that engine's alone. Results come back through a
 * shared anonymous mapping.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const bench_engine *const all_engines[] = {
    &bench_engine_cowtree,
#ifdef BENCH_HAVE_LMDB
    &bench_engine_lmdb,
#endif
#ifdef BENCH_HAVE_SQLITE
    &bench_engine_sqlite,
#endif
#ifdef BENCH_HAVE_ROCKSDB
    &bench_engine_rocksdb,
#endif
#ifdef BENCH_HAVE_LEVELDB
    &bench_engine_leveldb,
#endif
};
#define ENGINE_COUNT (sizeof all_engines / sizeof all_engines[0])

/* The --benchmarks names (bigvalue stands for its two rows). */
static const char *const default_benchmarks =
    "fillseq,fillrandom,overwrite,readrandom,readseq,readreverse,seekrandom,"
    "readwhilewriting,deleterandom,fillsync,fillsyncmt,bigvalue";

typedef struct engine_run {
    const bench_engine *eng;
    bench_result *results; /* BENCH_ROW_COUNT rows, shared with the child */
    long peak_rss_kb;
    char status[96]; /* "" when the child exited normally */
} engine_run;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cowtree-bench [options]\n"
            "  --num N            keys (default 1000000)\n"
            "  --key-size B       key bytes (default 16)\n"
            "  --value-size B     value bytes (default 100)\n"
            "  --batch N          ops per write txn and per read txn (default 1000)\n"
            "  --reads N          gets in readrandom and readwhilewriting (default --num)\n"
            "  --seeks N          seeks in seekrandom (default --num / 10)\n"
            "  --seek-nexts N     entries read after each seek (default 100)\n"
            "  --sync-ops N       durable 1-put commits in fillsync and fillsyncmt (default 3000)\n"
            "  --sync-threads N   threads committing at once in fillsyncmt (default %d, max %d)\n"
            "  --big-count N      values in bigvalue (default 4000)\n"
            "  --big-size B       bigvalue value bytes (default 65536)\n"
            "  --big-batch N      puts per txn in bigvalue (default 16)\n"
            "  --engines LIST     comma-separated (default: every engine compiled in)\n"
            "  --benchmarks LIST  comma-separated, run in order (default:\n"
            "                     %s)\n"
            "  --seed N           (default 301)\n"
            "  --dir DIR          parent of the temp directories (default $TMPDIR or /tmp)\n"
            "  --csv FILE         also write the results as CSV\n"
            "  --bulk-durable     bulk workloads make every txn durable (default: no sync\n"
            "                     per txn, one sync at the end of each write workload)\n"
            "  --keep             keep the database directories\n"
            "  --repeat N         N rounds of every engine, interleaved (engine A, B, ..., then\n"
            "                     B, ..., A: each round starts one engine later, so no engine\n"
            "                     always runs first); each row reports the round with its\n"
            "                     median ops/s (default 1, max %d)\n"
            "  --pair             the engines one right after the other for each workload\n"
            "                     (A, B, ... for fillseq, then for the next), each in a\n"
            "                     process of its own, so a ratio compares runs seconds\n"
            "                     apart; workloads that share a db state (overwrite through\n"
            "                     deleterandom) stay together in one process\n"
            "  --quick            --num 100000 --sync-ops 200 --big-count 200 (CI smoke run)\n"
            "engines compiled in:",
            BENCH_SYNC_THREADS_DEFAULT, BENCH_SYNC_THREADS_MAX, default_benchmarks,
            BENCH_REPEAT_MAX);
    for (size_t i = 0; i < ENGINE_COUNT; i++) {
        fprintf(f, " %s", all_engines[i]->name);
    }
    fprintf(f, "\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min) {
        fprintf(stderr, "cowtree-bench: %s needs an integer >= %llu, not '%s'\n", opt,
                (unsigned long long)min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int find_bench(const char *name, size_t len)
{
    if (len == 8 && memcmp(name, "bigvalue", 8) == 0) {
        return BENCH_ROW_BIGVALUE_PUT;
    }
    for (int i = 0; i < BENCH_ROW_COUNT; i++) {
        if (i != BENCH_ROW_BIGVALUE_PUT && i != BENCH_ROW_BIGVALUE_GET &&
            strlen(bench_row_names[i]) == len && memcmp(bench_row_names[i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* Splits a comma list; calls add(name, len, ctx) for each non-empty item. */
static int each_item(const char *list, int (*add)(const char *, size_t, void *), void *ctx)
{
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len > 0 && add(p, len, ctx) != 0) {
            return -1;
        }
        p += len + (p[len] == ',' ? 1 : 0);
    }
    return 0;
}

typedef struct selection {
    int benchmarks[BENCH_ROW_COUNT * 4];
    size_t benchmark_count;
    const bench_engine *engines[ENGINE_COUNT];
    size_t engine_count;
} selection;

static int add_bench(const char *name, size_t len, void *ctx)
{
    selection *sel = ctx;
    int b = find_bench(name, len);
    if (b < 0) {
        fprintf(stderr, "cowtree-bench: unknown benchmark '%.*s'\n", (int)len, name);
        return -1;
    }
    if (sel->benchmark_count == sizeof sel->benchmarks / sizeof sel->benchmarks[0]) {
        fprintf(stderr, "cowtree-bench: too many benchmarks\n");
        return -1;
    }
    sel->benchmarks[sel->benchmark_count++] = b;
    return 0;
}

static int add_engine(const char *name, size_t len, void *ctx)
{
    selection *sel = ctx;
    for (size_t i = 0; i < ENGINE_COUNT; i++) {
        const bench_engine *e = all_engines[i];
        if (strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
            for (size_t j = 0; j < sel->engine_count; j++) {
                if (sel->engines[j] == e) {
                    return 0;
                }
            }
            sel->engines[sel->engine_count++] = e;
            return 0;
        }
    }
    fprintf(stderr, "cowtree-bench: engine '%.*s' is not compiled in (skipped)\n", (int)len, name);
    return 0;
}

typedef struct num_opt {
    const char *name;
    uint64_t min;
    int is_size; /* stored in a size_t */
    size_t offset;
} num_opt;

#define NUM_OPT(n, min, field, sz)                                                                 \
    {                                                                                              \
        n, min, sz, offsetof(bench_config, field)                                                  \
    }
static const num_opt num_opts[] = {
    NUM_OPT("--num", 1, num, 0),
    NUM_OPT("--key-size", 1, key_size_bytes, 1),
    NUM_OPT("--value-size", 1, value_size_bytes, 1),
    NUM_OPT("--batch", 1, batch, 0),
    NUM_OPT("--reads", BENCH_RWW_READERS, reads, 0),
    NUM_OPT("--seeks", 1, seeks, 0),
    NUM_OPT("--seek-nexts", 0, seek_nexts, 0),
    NUM_OPT("--sync-ops", 1, sync_ops, 0),
    NUM_OPT("--sync-threads", 1, sync_threads, 0),
    NUM_OPT("--big-count", 1, big_count, 0),
    NUM_OPT("--big-size", 1, big_size_bytes, 1),
    NUM_OPT("--big-batch", 1, big_batch, 0),
    NUM_OPT("--seed", 0, seed, 0),
    NUM_OPT("--repeat", 1, repeat, 0),
};

/* Parses argv into cfg and sel; returns 0, 1 (--help) or -1. */
static int parse_args(int argc, char **argv, bench_config *cfg, selection *sel,
                      const char **csv_path)
{
    const char *engines = NULL;
    const char *benchmarks = default_benchmarks;
    int reads_set = 0;
    int seeks_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        size_t k;
        for (k = 0; k < sizeof num_opts / sizeof num_opts[0]; k++) {
            if (strcmp(a, num_opts[k].name) == 0) {
                break;
            }
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--quick") == 0) {
            cfg->num = 100000;
            cfg->sync_ops = 200;
            cfg->big_count = 200;
        } else if (strcmp(a, "--bulk-durable") == 0) {
            cfg->bulk_durable = 1;
        } else if (strcmp(a, "--keep") == 0) {
            cfg->keep = 1;
        } else if (strcmp(a, "--pair") == 0) {
            cfg->pair = 1;
        } else if (val == NULL) {
            fprintf(stderr, "cowtree-bench: unknown option or missing value: %s\n", a);
            return -1;
        } else if (k < sizeof num_opts / sizeof num_opts[0]) {
            uint64_t v;
            if (parse_u64(a, val, num_opts[k].min, &v) != 0) {
                return -1;
            }
            char *field = (char *)cfg + num_opts[k].offset;
            if (num_opts[k].is_size) {
                *(size_t *)(void *)field = (size_t)v;
            } else {
                *(uint64_t *)(void *)field = v;
            }
            reads_set |= strcmp(a, "--reads") == 0;
            seeks_set |= strcmp(a, "--seeks") == 0;
            i++;
        } else if (strcmp(a, "--engines") == 0) {
            engines = argv[++i];
        } else if (strcmp(a, "--benchmarks") == 0) {
            benchmarks = argv[++i];
        } else if (strcmp(a, "--dir") == 0) {
            cfg->dir = argv[++i];
        } else if (strcmp(a, "--csv") == 0) {
            *csv_path = argv[++i];
        } else {
            fprintf(stderr, "cowtree-bench: unknown option %s (try --help)\n", a);
            return -1;
        }
    }
    if (!reads_set) {
        cfg->reads = cfg->num < BENCH_RWW_READERS ? BENCH_RWW_READERS : cfg->num;
    }
    if (!seeks_set) {
        cfg->seeks = cfg->num / 10 > 0 ? cfg->num / 10 : 1;
    }
    if (each_item(benchmarks, add_bench, sel) != 0) {
        return -1;
    }
    if (engines == NULL) {
        for (size_t e = 0; e < ENGINE_COUNT; e++) {
            sel->engines[sel->engine_count++] = all_engines[e];
        }
    } else if (each_item(engines, add_engine, sel) != 0) {
        return -1;
    }
    return 0;
}

static int check_config(const bench_config *cfg)
{
    uint64_t digits = 1;
    for (uint64_t n = cfg->num - 1; n >= 10; n /= 10) {
        digits++;
    }
    if (cfg->num > UINT32_MAX || cfg->big_count > UINT32_MAX) {
        fprintf(stderr, "cowtree-bench: --num and --big-count are at most %u\n", UINT32_MAX);
        return -1;
    }
    if (cfg->key_size_bytes < digits || cfg->key_size_bytes > 511) {
        fprintf(stderr, "cowtree-bench: --key-size must be %llu..511 for --num %llu\n",
                (unsigned long long)digits, (unsigned long long)cfg->num);
        return -1;
    }
    if (cfg->repeat > BENCH_REPEAT_MAX) {
        fprintf(stderr, "cowtree-bench: --repeat is at most %d\n", BENCH_REPEAT_MAX);
        return -1;
    }
    if (cfg->sync_threads > BENCH_SYNC_THREADS_MAX) {
        fprintf(stderr, "cowtree-bench: --sync-threads is at most %d\n", BENCH_SYNC_THREADS_MAX);
        return -1;
    }
    if (cfg->value_size_bytes > ((size_t)1 << 30) || cfg->big_size_bytes > ((size_t)1 << 30)) {
        fprintf(stderr, "cowtree-bench: value sizes are at most 1 GiB\n");
        return -1;
    }
    return 0;
}

/* Runs benchmarks[0..count) of run->eng in a child process, whose rows
   land in run->results (shared memory); a failure of the child itself
   goes to run->status, and its peak RSS raises run->peak_rss_kb. */
static void run_engine(engine_run *run, const bench_config *cfg, const int *benchmarks,
                       size_t count)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(run->status, sizeof run->status, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        int rc = bench_run_engine(run->eng, cfg, benchmarks, count, run->results);
        fflush(stderr);
        _exit(rc == 0 ? 0 : 2);
    }
    int wstatus;
    struct rusage ru;
    while (wait4(pid, &wstatus, 0, &ru) < 0) {
        if (errno != EINTR) {
            snprintf(run->status, sizeof run->status, "wait4: %s", strerror(errno));
            return;
        }
    }
    run->peak_rss_kb = ru.ru_maxrss > run->peak_rss_kb ? ru.ru_maxrss : run->peak_rss_kb;
    if (run->status[0] != '\0') {
        return; /* keep the first failure of a round */
    }
    if (WIFSIGNALED(wstatus)) {
        snprintf(run->status, sizeof run->status, "crashed: signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0 && WEXITSTATUS(wstatus) != 2) {
        snprintf(run->status, sizeof run->status, "exited with status %d", WEXITSTATUS(wstatus));
    }
}

/* Whether workload b starts from a state a process of its own reproduces:
   a fresh db, or (after fillrandom, which ensure_loaded repeats with the
   same seeds, or after a workload that emptied or closed its db) the
   untimed load the workloads needing one make. */
static int starts_afresh(int prev, int b)
{
    switch (b) {
    case BENCH_ROW_FILLSEQ:
    case BENCH_ROW_FILLRANDOM:
    case BENCH_ROW_FILLSYNC:
    case BENCH_ROW_FILLSYNCMT:
    case BENCH_ROW_BIGVALUE_PUT:
        return 1;
    default:
        return prev == BENCH_ROW_FILLRANDOM || prev == BENCH_ROW_DELETERANDOM ||
               prev == BENCH_ROW_FILLSYNC || prev == BENCH_ROW_FILLSYNCMT ||
               prev == BENCH_ROW_BIGVALUE_PUT;
    }
}

/* --pair: the workloads from index s that one process runs, so that each
   workload sees the state it would in a single run of the whole list
   (overwrite through deleterandom share one db). */
static size_t segment_len(const selection *sel, size_t s)
{
    size_t n = 1;
    while (s + n < sel->benchmark_count &&
           !starts_afresh(sel->benchmarks[s + n - 1], sel->benchmarks[s + n])) {
        n++;
    }
    return n;
}

/* Round k of engine i writes its rows at shared + (k * ENGINE_COUNT + i) *
   BENCH_ROW_COUNT; with --repeat the medians go to block k = rounds. */
static bench_result *round_rows(bench_result *shared, size_t k, size_t i)
{
    return shared + (k * ENGINE_COUNT + i) * BENCH_ROW_COUNT;
}

/* ops/s of a result, or -1 when it did not run successfully. */
static double result_rate(const bench_result *res)
{
    if (!res->done || !res->ok || res->seconds <= 0) {
        return -1;
    }
    return (double)res->ops / res->seconds;
}

/* Copies into dst the result of row among rounds[0..n) with the median
   ops/s (the lower middle one for even n). A round that failed the row
   ranks below every success, so the median is a failure only when at
   least half of the rounds failed. */
static void median_result(bench_result *dst, const bench_result *const *rounds, size_t n)
{
    const bench_result *sorted[BENCH_REPEAT_MAX];
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && result_rate(sorted[j - 1]) > result_rate(rounds[i]); j--) {
            sorted[j] = sorted[j - 1];
        }
        sorted[j] = rounds[i];
    }
    *dst = *sorted[(n - 1) / 2];
}

/* ---- reporting ---------------------------------------------------------- */

/* ops/s of row on run, or -1 when it did not run successfully. */
static double rate(const engine_run *run, int row)
{
    return result_rate(&run->results[row]);
}

/* The rows to report, in benchmark order (bigvalue gives two). */
static size_t report_rows(const selection *sel, int *rows)
{
    size_t n = 0;
    int seen[BENCH_ROW_COUNT] = {0};
    for (size_t i = 0; i < sel->benchmark_count; i++) {
        int b = sel->benchmarks[i];
        int last = b == BENCH_ROW_BIGVALUE_PUT ? BENCH_ROW_BIGVALUE_GET : b;
        for (int row = b; row <= last; row++) {
            if (!seen[row]) {
                seen[row] = 1;
                rows[n++] = row;
            }
        }
    }
    return n;
}

static const engine_run *find_run(const engine_run *runs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(runs[i].eng->name, name) == 0) {
            return &runs[i];
        }
    }
    return NULL;
}

/* cowtree's rate over the best peer's on row; *best names that peer. */
static double best_peer(const engine_run *runs, size_t n, int row, const char **best)
{
    double top = -1;
    *best = "-";
    for (size_t i = 0; i < n; i++) {
        double r = rate(&runs[i], row);
        if (strcmp(runs[i].eng->name, "cowtree") != 0 && r > top) {
            top = r;
            *best = runs[i].eng->name;
        }
    }
    return top;
}

static void print_ratio(double num, double den)
{
    if (num > 0 && den > 0) {
        printf(" %8.2fx", num / den);
    } else {
        printf(" %9s", "-");
    }
}

static void print_table(const engine_run *runs, size_t n, const int *rows, size_t row_count)
{
    const engine_run *ct = find_run(runs, n, "cowtree");
    const engine_run *lm = find_run(runs, n, "lmdb");
    printf("\n%-17s", "ops/s");
    for (size_t i = 0; i < n; i++) {
        printf(" %12s", runs[i].eng->name);
    }
    printf(" %9s %9s %s\n", "ct/lmdb", "ct/best", "best peer");
    for (size_t r = 0; r < row_count; r++) {
        printf("%-17s", bench_row_names[rows[r]]);
        for (size_t i = 0; i < n; i++) {
            double v = rate(&runs[i], rows[r]);
            if (v >= 0) {
                printf(" %12.0f", v);
            } else {
                const bench_result *res = &runs[i].results[rows[r]];
                printf(" %12s", !res->done ? "-" : res->unsupported ? "n/a" : "FAILED");
            }
        }
        const char *best;
        double peer = best_peer(runs, n, rows[r], &best);
        print_ratio(ct != NULL ? rate(ct, rows[r]) : -1, lm != NULL ? rate(lm, rows[r]) : -1);
        print_ratio(ct != NULL ? rate(ct, rows[r]) : -1, peer);
        printf(" %s\n", best);
    }
    printf("\nnotes:\n");
    for (size_t i = 0; i < n; i++) {
        if (runs[i].status[0] != '\0') {
            printf("  %s: %s\n", runs[i].eng->name, runs[i].status);
        }
        for (size_t r = 0; r < row_count; r++) {
            const bench_result *res = &runs[i].results[rows[r]];
            if (res->note[0] != '\0' || (res->done && !res->ok)) {
                printf("  %s %s: %s%s\n", runs[i].eng->name, bench_row_names[rows[r]],
                       res->ok || res->unsupported ? "" : "FAILED: ", res->note);
            }
        }
    }
}

/* With --repeat: each row's lowest and highest ops/s over the rounds, so
   a median is read with its spread ("-" for a round that failed). */
static void print_round_ranges(bench_result *shared, size_t rounds, const selection *sel,
                               const int *rows, size_t row_count)
{
    printf("\nops/s range over the %zu rounds:\n", rounds);
    for (size_t r = 0; r < row_count; r++) {
        printf("  %-17s", bench_row_names[rows[r]]);
        for (size_t i = 0; i < sel->engine_count; i++) {
            double lo = -1;
            double hi = -1;
            for (size_t k = 0; k < rounds; k++) {
                double v = result_rate(&round_rows(shared, k, i)[rows[r]]);
                if (v >= 0) {
                    lo = lo < 0 || v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
            }
            if (lo < 0) {
                printf(" %s -", sel->engines[i]->name);
            } else {
                printf(" %s %.0f-%.0f", sel->engines[i]->name, lo, hi);
            }
        }
        printf("\n");
    }
}

/* With --repeat and both cowtree and LMDB selected: cowtree's rate over
   LMDB's within each round, whose two runs are minutes apart (seconds
   with --pair) rather than the whole run's span. On a machine whose speed
   drifts, the ratio of two medians can come from different stretches;
   these per-round ratios show how often cowtree led (the rounds at or
   above 1.0x). */
static void print_round_ratios(bench_result *shared, size_t rounds, const engine_run *runs,
                               size_t n_runs, const int *rows, size_t row_count)
{
    const engine_run *ct_run = find_run(runs, n_runs, "cowtree");
    const engine_run *lm_run = find_run(runs, n_runs, "lmdb");
    if (ct_run == NULL || lm_run == NULL) {
        return;
    }
    size_t ct = (size_t)(ct_run - runs); /* runs[i] is engine i of the selection */
    size_t lm = (size_t)(lm_run - runs);
    printf("\ncowtree/lmdb within each round (median, lowest-highest, rounds at or above 1.0x):\n");
    for (size_t r = 0; r < row_count; r++) {
        double ratio[BENCH_REPEAT_MAX];
        size_t n = 0;
        size_t ahead = 0;
        for (size_t k = 0; k < rounds; k++) {
            double c = result_rate(&round_rows(shared, k, ct)[rows[r]]);
            double l = result_rate(&round_rows(shared, k, lm)[rows[r]]);
            if (c > 0 && l > 0) {
                size_t j = n++;
                for (; j > 0 && ratio[j - 1] > c / l; j--) {
                    ratio[j] = ratio[j - 1];
                }
                ratio[j] = c / l;
                ahead += c >= l;
            }
        }
        if (n == 0) {
            printf("  %-17s -\n", bench_row_names[rows[r]]);
            continue;
        }
        printf("  %-17s %.2fx  %.2f-%.2fx  %zu of %zu\n", bench_row_names[rows[r]],
               ratio[(n - 1) / 2], ratio[0], ratio[n - 1], ahead, n);
    }
}

static double amp(const bench_result *res)
{
    return res->done && res->ok && res->raw_bytes > 0
               ? (double)res->db_bytes / (double)res->raw_bytes
               : -1;
}

static void print_space(const engine_run *runs, size_t n)
{
    printf("\nspace amplification: size of the db's files / raw key+value bytes, after each "
           "workload;\nbytes after fillrandom (allocated = st_blocks, counts preallocation); "
           "peak RSS of the engine's process\n");
    printf("%-10s %12s %12s %12s %10s %10s %10s %12s\n", "engine", "file bytes", "allocated",
           "raw bytes", "fillrandom", "overwrite", "fillseq", "peak RSS MiB");
    for (size_t i = 0; i < n; i++) {
        const bench_result *fr = &runs[i].results[BENCH_ROW_FILLRANDOM];
        printf("%-10s %12llu %12llu %12llu", runs[i].eng->name, (unsigned long long)fr->db_bytes,
               (unsigned long long)fr->alloc_bytes, (unsigned long long)fr->raw_bytes);
        const int cols[] = {BENCH_ROW_FILLRANDOM, BENCH_ROW_OVERWRITE, BENCH_ROW_FILLSEQ};
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            double a = amp(&runs[i].results[cols[c]]);
            if (a >= 0) {
                printf(" %9.2fx", a);
            } else {
                printf(" %10s", "-");
            }
        }
        printf(" %12.1f\n", (double)runs[i].peak_rss_kb / 1024.0);
    }
}

static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const char *path, const engine_run *runs, size_t n, const int *rows,
                     size_t row_count)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "cowtree-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const engine_run *ct = find_run(runs, n, "cowtree");
    fprintf(
        f,
        "benchmark,engine,version,ops,seconds,ops_per_sec,db_bytes,alloc_bytes,raw_bytes,space_amp,"
        "peak_rss_kb,cowtree_ratio,status,note\n");
    for (size_t r = 0; r < row_count; r++) {
        for (size_t i = 0; i < n; i++) {
            const bench_result *res = &runs[i].results[rows[r]];
            double v = rate(&runs[i], rows[r]);
            double c = ct != NULL ? rate(ct, rows[r]) : -1;
            fprintf(f, "%s,%s,", bench_row_names[rows[r]], runs[i].eng->name);
            csv_text(f, runs[i].eng->version);
            fprintf(f, ",%llu,%.6f,", (unsigned long long)res->ops, res->seconds);
            if (v >= 0) {
                fprintf(f, "%.1f", v);
            }
            fprintf(f, ",%llu,%llu,%llu,", (unsigned long long)res->db_bytes,
                    (unsigned long long)res->alloc_bytes, (unsigned long long)res->raw_bytes);
            if (amp(res) >= 0) {
                fprintf(f, "%.4f", amp(res));
            }
            fprintf(f, ",%ld,", runs[i].peak_rss_kb);
            if (v > 0 && c > 0) {
                fprintf(f, "%.4f", c / v);
            }
            fprintf(f, ",%s,",
                    !res->done         ? "not-run"
                    : res->ok          ? "ok"
                    : res->unsupported ? "unsupported"
                                       : "failed");
            csv_text(f, res->note[0] != '\0' ? res->note : runs[i].status);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "cowtree-bench: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    bench_config cfg = {
        .num = 1000000,
        .key_size_bytes = 16,
        .value_size_bytes = 100,
        .batch = 1000,
        .seek_nexts = 100,
        /* Long enough to time: 1000 durable commits took 0.15-0.3 s and
           1000 big gets about 10 ms, and their ratios moved by 10% between
           runs of one build. */
        .sync_ops = 3000,
        .sync_threads = BENCH_SYNC_THREADS_DEFAULT,
        .big_count = 4000,
        .big_size_bytes = 65536,
        .big_batch = 16,
        .seed = 301,
        .repeat = 1,
        .dir = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp",
    };
    static selection sel;
    const char *csv_path = NULL;
    int prc = parse_args(argc, argv, &cfg, &sel, &csv_path);
    if (prc != 0) {
        return prc > 0 ? 0 : 2;
    }
    if (check_config(&cfg) != 0) {
        return 2;
    }
    int rows[BENCH_ROW_COUNT];
    size_t row_count = report_rows(&sel, rows);
    printf("cowtree-bench: num=%llu key=%zu B value=%zu B batch=%llu reads=%llu seeks=%llu"
           "x(1+%llu) sync-ops=%llu sync-threads=%llu bigvalue=%llux%zu B (batch %llu) seed=%llu "
           "bulk=%s\n",
           (unsigned long long)cfg.num, cfg.key_size_bytes, cfg.value_size_bytes,
           (unsigned long long)cfg.batch, (unsigned long long)cfg.reads,
           (unsigned long long)cfg.seeks, (unsigned long long)cfg.seek_nexts,
           (unsigned long long)cfg.sync_ops, (unsigned long long)cfg.sync_threads,
           (unsigned long long)cfg.big_count, cfg.big_size_bytes, (unsigned long long)cfg.big_batch,
           (unsigned long long)cfg.seed,
           cfg.bulk_durable ? "durable txns" : "no sync per txn, sync at end");
    printf("engines:");
    for (size_t i = 0; i < sel.engine_count; i++) {
        printf(" %s (%s)%s", sel.engines[i]->name, sel.engines[i]->version,
               i + 1 < sel.engine_count ? "," : "");
    }
    printf("\n");

    engine_run runs[ENGINE_COUNT];
    size_t rounds = (size_t)cfg.repeat;
    /* One block per round (round_rows), then one for the medians. */
    size_t shared_bytes = sizeof(bench_result) * BENCH_ROW_COUNT * ENGINE_COUNT * (rounds + 1);
    bench_result *shared =
        mmap(NULL, shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        fprintf(stderr, "cowtree-bench: mmap: %s\n", strerror(errno));
        return 1;
    }
    memset(shared, 0, shared_bytes);
    int failed = 0;
    long peak_rss_kb[ENGINE_COUNT] = {0};
    for (size_t k = 0; k < rounds; k++) {
        for (size_t i = 0; i < sel.engine_count; i++) {
            runs[i] = (engine_run){.eng = sel.engines[i], .results = round_rows(shared, k, i)};
        }
        /* Without --pair one step runs every workload; with it, a segment. */
        for (size_t s = 0; s < sel.benchmark_count;) {
            const int *first = &sel.benchmarks[s];
            size_t count = cfg.pair ? segment_len(&sel, s) : sel.benchmark_count;
            s += count;
            /* Round k starts at engine k: the engine that runs first after
               another workload (or after the last engine's) pays whatever
               that one left behind (on one VM here a full run slowed only
               the first engine's 64-KiB puts, to 0.5-0.7x, in 2 of 3 runs:
               docs/bench.md, twenty-second stop), so no engine keeps it. */
            for (size_t j = 0; j < sel.engine_count; j++) {
                size_t i = (j + k) % sel.engine_count;
                fprintf(stderr, "cowtree-bench: %s", runs[i].eng->name);
                if (cfg.pair) {
                    fprintf(stderr, " %s%s", bench_row_names[*first], count > 1 ? "..." : "");
                }
                if (rounds > 1) {
                    fprintf(stderr, " (round %zu of %zu)", k + 1, rounds);
                }
                fprintf(stderr, "\n");
                run_engine(&runs[i], &cfg, first, count);
            }
        }
        for (size_t i = 0; i < sel.engine_count; i++) {
            failed |= runs[i].status[0] != '\0';
            for (size_t r = 0; r < row_count; r++) {
                const bench_result *res = &runs[i].results[rows[r]];
                failed |= !res->ok && !res->unsupported;
            }
            peak_rss_kb[i] =
                runs[i].peak_rss_kb > peak_rss_kb[i] ? runs[i].peak_rss_kb : peak_rss_kb[i];
        }
    }
    if (rounds > 1) {
        for (size_t i = 0; i < sel.engine_count; i++) {
            bench_result *medians = round_rows(shared, rounds, i);
            for (size_t row = 0; row < BENCH_ROW_COUNT; row++) {
                const bench_result *each[BENCH_REPEAT_MAX];
                for (size_t k = 0; k < rounds; k++) {
                    each[k] = &round_rows(shared, k, i)[row];
                }
                median_result(&medians[row], each, rounds);
            }
            runs[i].results = medians;
            runs[i].peak_rss_kb = peak_rss_kb[i];
        }
        printf("each row: the median of %zu rounds (peak RSS: the largest)\n", rounds);
    }
    print_table(runs, sel.engine_count, rows, row_count);
    if (rounds > 1) {
        print_round_ranges(shared, rounds, &sel, rows, row_count);
        print_round_ratios(shared, rounds, runs, sel.engine_count, rows, row_count);
    }
    print_space(runs, sel.engine_count);
    if (csv_path != NULL && write_csv(csv_path, runs, sel.engine_count, rows, row_count) != 0) {
        failed = 1;
    }
    munmap(shared, shared_bytes);
    return failed ? 1 : 0;
}
