/*
 * main.c - cowtree-proptest, the one runner for every property
 * (docs/proptest.md). Case i of a run draws its property round-robin
 * (model, sqlite, lmdb, snapshot, reopen) and its seed from the run seed,
 * so `--seed S --cases N` is the same N cases on every machine. A failing
 * case is shrunk, written as a replay file and printed with the commands
 * that replay it. Cases run in a child process and every shrink run in its
 * own, so an engine crash (a CT_ASSERT abort in debug builds) is reported,
 * shrunk and replayable like any other failure. Exit status: 0 when every case passed, 1 when one
 * failed, 2 on usage or setup errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prng.h"
#include "pt.h"

typedef struct opts {
    uint64_t seed;
    uint64_t cases;
    uint32_t max_ops;
    const char *replay;
    const char *out_dir;
    int prop; /* -1: round-robin */
    int have_case_seed;
    uint64_t case_seed;
    int shrink;
    int keep_going;
    int quiet;
} opts;

static void usage(void)
{
    fprintf(stderr,
            "usage: cowtree-proptest [--seed S] [--cases N] [--max-ops M] [--property P]\n"
            "                        [--case-seed X] [--replay FILE] [--out DIR]\n"
            "                        [--no-shrink] [--keep-going] [--quiet]\n"
            "  properties: model sqlite lmdb snapshot reopen (default: all, round-robin)\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 0);
    if (!s[0] || *end) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->cases = 500;
    o->max_ops = 200;
    o->out_dir = ".";
    o->prop = -1;
    o->shrink = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        if (strcmp(a, "--no-shrink") == 0) {
            o->shrink = 0;
        } else if (strcmp(a, "--keep-going") == 0) {
            o->keep_going = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (!v) {
            return -1;
        } else if (strcmp(a, "--seed") == 0 && parse_u64(v, &o->seed) == 0) {
            i++;
        } else if (strcmp(a, "--cases") == 0 && parse_u64(v, &o->cases) == 0) {
            i++;
        } else if (strcmp(a, "--max-ops") == 0 && parse_u64(v, &u) == 0 && u >= 1) {
            o->max_ops = (uint32_t)(u > PT_OPS_MAX ? PT_OPS_MAX : u);
            i++;
        } else if (strcmp(a, "--case-seed") == 0 && parse_u64(v, &o->case_seed) == 0) {
            o->have_case_seed = 1;
            i++;
        } else if (strcmp(a, "--property") == 0) {
            pt_prop p;
            if (pt_prop_parse(v, &p) != 0) {
                return -1;
            }
            o->prop = (int)p;
            i++;
        } else if (strcmp(a, "--replay") == 0) {
            o->replay = v;
            i++;
        } else if (strcmp(a, "--out") == 0) {
            o->out_dir = v;
            i++;
        } else {
            return -1;
        }
    }
    if (o->have_case_seed && o->prop < 0) {
        fprintf(stderr, "cowtree-proptest: --case-seed needs --property\n");
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Shrinks (unless disabled), writes the replay file, prints the report. */
static void report(const opts *o, pt_case *c, pt_result *res, uint64_t run_seed,
                   uint64_t index)
{
    fprintf(stderr, "FAIL property=%s case=%llu case-seed=0x%llx run-seed=%llu ops=%u\n%s\n",
            pt_prop_name(c->prop), (unsigned long long)index, (unsigned long long)c->seed,
            (unsigned long long)run_seed, c->n, res->why);
    uint32_t original = c->n;
    if (o->shrink) {
        double t0 = now_s();
        uint32_t runs = pt_shrink(c, res, !o->quiet);
        fprintf(stderr, "shrunk to %u ops (from %u) in %u runs, %.1f s\n", c->n, original, runs,
                now_s() - t0);
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/proptest-fail-%s-%llx.txt", o->out_dir,
             pt_prop_name(c->prop), (unsigned long long)c->seed);
    fprintf(stderr, "---- minimal case ----\n");
    pt_case_print(c, stderr);
    fprintf(stderr, "---- failure ----\n%s\n", res->why);
    if (pt_case_write(c, path) == 0) {
        fprintf(stderr, "replay: cowtree-proptest --replay %s\n", path);
    } else {
        fprintf(stderr, "(could not write %s)\n", path);
    }
    fprintf(stderr, "regenerate: cowtree-proptest --property %s --case-seed 0x%llx --max-ops %u\n",
            pt_prop_name(c->prop), (unsigned long long)c->seed, o->max_ops);
}

static int replay(const opts *o)
{
    pt_case c;
    char err[256];
    if (pt_case_read(&c, o->replay, err, sizeof(err)) != 0) {
        fprintf(stderr, "cowtree-proptest: %s\n", err);
        return 2;
    }
    pt_result res;
    int rc = pt_exec_isolated(&c, &res);
    if (rc == 0) {
        printf("PASS replay %s (%s, %u ops)\n", o->replay, pt_prop_name(c.prop), c.n);
    } else {
        fprintf(stderr, "FAIL replay %s (%s, %u ops)\n%s\n", o->replay, pt_prop_name(c.prop),
                c.n, res.why);
    }
    pt_case_free(&c);
    return rc == 0 ? 0 : 1;
}

/* Counters shared with the child that runs the cases. */
typedef struct progress {
    uint64_t current; /* index of the case being run */
    uint64_t per_prop[PT_PROPS];
    uint64_t ops;
    uint64_t failed;
} progress;

static void gen_or_die(pt_case *c, const opts *o, uint64_t i)
{
    pt_prop p = o->prop >= 0 ? (pt_prop)o->prop : (pt_prop)(i % PT_PROPS);
    uint64_t cs = o->have_case_seed ? o->case_seed : prng_mix64(o->seed ^ prng_mix64(i + 1));
    if (pt_gen_case(c, p, cs, o->max_ops) != 0) {
        fprintf(stderr, "cowtree-proptest: out of memory\n");
        exit(2);
    }
}

/* The child: cases from..n in process (fast); a failure is reported and
   shrunk here. Exits 0 when all passed, 1 after a failure. */
static void run_child(const opts *o, progress *pg, uint64_t from, uint64_t n)
{
    for (uint64_t i = from; i < n; i++) {
        pg->current = i;
        pt_case c;
        gen_or_die(&c, o, i);
        pg->per_prop[c.prop]++;
        pg->ops += c.n;
        pt_result res;
        alarm(PT_CASE_SECONDS); /* the parent reports a hang (SIGALRM) */
        int rc = pt_exec(&c, &res);
        alarm(0); /* shrinking may take longer: each of its runs has its own */
        if (rc != 0) {
            pg->failed++;
            report(o, &c, &res, o->seed, i);
            if (!o->keep_going) {
                pt_case_free(&c);
                exit(1);
            }
        }
        pt_case_free(&c);
    }
    /* exit, not _exit: LeakSanitizer checks the child at exit. */
    exit(pg->failed ? 1 : 0);
}

/* Runs the cases in a child process; when it crashes (a CT_ASSERT abort,
   a segfault), regenerates the case it was on, reports and shrinks it
   (every shrink run isolated), and goes on after it with --keep-going. */
static int run_cases(const opts *o, progress *pg, uint64_t n)
{
    uint64_t from = 0;
    while (from < n) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("cowtree-proptest: fork");
            return 2;
        }
        if (pid == 0) {
            run_child(o, pg, from, n);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {
        }
        if (WIFEXITED(status)) {
            int code = WEXITSTATUS(status);
            if (code > 1) {
                fprintf(stderr, "cowtree-proptest: the case runner exited with status %d "
                        "(a sanitizer report at exit, e.g. a leak?)\n", code);
            }
            return code == 0 ? 0 : 1;
        }
        uint64_t i = pg->current;
        pt_case c;
        gen_or_die(&c, o, i);
        pt_result res;
        memset(&res, 0, sizeof(res));
        res.failed = 1;
        res.fail_op = c.n;
        pt_why_signal(&res, WIFSIGNALED(status) ? WTERMSIG(status) : -1);
        pg->failed++;
        report(o, &c, &res, o->seed, i);
        pt_case_free(&c);
        if (!o->keep_going) {
            return 1;
        }
        from = i + 1;
    }
    return pg->failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    if (o.replay) {
        return replay(&o);
    }
    progress *pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);
    if (pg == MAP_FAILED) {
        perror("cowtree-proptest: mmap");
        return 2;
    }
    memset(pg, 0, sizeof(*pg));
    uint64_t n = o.have_case_seed ? 1 : o.cases;
    double t0 = now_s();
    int rc = run_cases(&o, pg, n);
    double dt = now_s() - t0;
    uint64_t ran = 0;
    for (unsigned p = 0; p < PT_PROPS; p++) {
        ran += pg->per_prop[p];
    }
    printf("%s: seed %llu: %llu cases (model %llu, sqlite %llu, lmdb %llu, snapshot %llu, "
           "reopen %llu), %llu ops, %llu failed, %.2f s, %.0f cases/s\n",
           rc ? "FAIL" : "PASS", (unsigned long long)o.seed, (unsigned long long)ran,
           (unsigned long long)pg->per_prop[0], (unsigned long long)pg->per_prop[1],
           (unsigned long long)pg->per_prop[2], (unsigned long long)pg->per_prop[3],
           (unsigned long long)pg->per_prop[4], (unsigned long long)pg->ops,
           (unsigned long long)pg->failed, dt, dt > 0 ? (double)ran / dt : 0.0);
    munmap(pg, sizeof(*pg));
    return rc == 2 ? 2 : rc ? 1 : 0;
}
