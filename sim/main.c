/*
 * main.c - the cowtree-sim program: flags, the seed loop, failure
 * reports and the summary line.
 *
 * With no flags it runs the README's default job: a range of seeds, each
 * with a generated workload checked at every crash point (several outcomes
 * each, a sample of them two levels deep), deep crash points on the
 * long-lived handle, a short countdown sweep and one random-fault round.
 * The only clock read here measures images per second for the summary;
 * nothing in the simulated world ever sees it.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

typedef struct flags {
    sim_config base;
    uint64_t seed_lo;
    uint64_t seed_hi;
    int dur_mode;   /* -1 by seed, else CT_SYNC_* */
    int map_mode;   /* -1 by seed, else 0/1 */
    int cache_mode; /* -1 by seed */
    const char *replay;
    int minimize;
    int quiet;
    int keep_going;
    int print_ops;
    uint32_t jobs;
} flags;

static void usage(void)
{
    fprintf(stderr,
            "usage: cowtree-sim [flags]\n"
            "  --seed S            one seed (integer, 0x hex, or a 40-hex commit id)\n"
            "  --seeds A..B        seeds A to B inclusive\n"
            "  --txns N            write txns per workload\n"
            "  --crash all|N|none  every crash point, N sampled ones, or none\n"
            "  --deep N            crash points on the long-lived handle's path\n"
            "  --level2 N          crash inside recovery on every Nth image (0 off)\n"
            "  --meta-loss N       damage the newest meta on every Nth image (0 off)\n"
            "  --subset N          every subset of the unsynced log up to N entries\n"
            "  --faults LIST       random faults: all, none, or bit_rot,misdirected,\n"
            "                      lost_write,lost_sync,read_error,write_error,\n"
            "                      sync_error,nospace,alloc,misread\n"
            "  --rounds N          random-fault rounds per seed\n"
            "  --sweeps N          countdown error sweeps over the first N txns (0 off)\n"
            "  --swarm             vary op kinds and weights per seed\n"
            "  --durability full|none|group|seed (seed: full or none)\n"
            "  --page-size N       page size (512)\n"
            "  --map on|off|seed   memstore map() (off: every read through read())\n"
            "  --store SPEC        memory (default), file:DIR or plugin:LIB.so:DIR: run\n"
            "                      the engine over the fault store stacked on a real\n"
            "                      store, one fresh file per store in DIR (map off)\n"
            "  --cache N           engine page cache (pages; default by seed)\n"
            "  --stable-cursor P   %% of range deletes relying on cursor stability\n"
            "  --replay \"LINE\"     rerun exactly the case of a replay line\n"
            "  --minimize          shrink a failure to a minimal replay line\n"
            "  --keep-going        do not stop at the first failing seed\n"
            "  --print-ops         print the workload of each seed (or of the replay)\n"
            "  --self-test         unit checks of the simulator's own modules\n"
            "  --jobs N            worker processes for a seed range (2); results and\n"
            "                      trace are those of a sequential run\n"
            "  --quiet             only the summary line (and failures)\n"
            "  --verbose           one line per seed\n");
}

static int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dots = strstr(s, "..");
    if (!dots) {
        return -1;
    }
    char a[64];
    size_t n = (size_t)(dots - s);
    if (n >= sizeof(a)) {
        return -1;
    }
    memcpy(a, s, n);
    a[n] = 0;
    if (sim_seed_parse(a, lo) != 0 || sim_seed_parse(dots + 2, hi) != 0 || *hi < *lo) {
        return -1;
    }
    return 0;
}

static void defaults(flags *f)
{
    memset(f, 0, sizeof(*f));
    sim_config *c = &f->base;
    /* The default job: about a minute on 2 cores, over a million images. */
    c->txns = 32;
    c->page_size = 512;
    c->crash_all = 1;
    c->level2_every = 8;
    c->meta_every = 4;
    c->subset_max = 10;
    c->deep_n = 8;
    c->fault_rounds = 4;
    c->faults = (1u << SIM_F_KINDS) - 1;
    c->sweeps = 1;
    c->sweep_txns = 3;
    f->seed_lo = 1;
    f->seed_hi = 80;
    f->dur_mode = -1;
    f->map_mode = -1;
    f->cache_mode = -1;
    c->stable_cursor_pct = -1;
    f->jobs = 2;
}

/* Flags without a value; 1 if a is one. */
static int parse_switch(const char *a, flags *f)
{
    sim_config *c = &f->base;
    if (strcmp(a, "--swarm") == 0) {
        c->swarm = 1;
    } else if (strcmp(a, "--minimize") == 0) {
        f->minimize = 1;
    } else if (strcmp(a, "--quiet") == 0) {
        f->quiet = 1;
    } else if (strcmp(a, "--verbose") == 0) {
        c->verbose = 1;
    } else if (strcmp(a, "--print-ops") == 0) {
        f->print_ops = 1;
    } else if (strcmp(a, "--keep-going") == 0) {
        f->keep_going = 1;
    } else {
        return 0;
    }
    return 1;
}

/* Flags of the workload and the store. */
static int parse_world_flag(const char *a, const char *v, flags *f)
{
    sim_config *c = &f->base;
    if (strcmp(a, "--txns") == 0) {
        c->txns = (uint32_t)strtoul(v, NULL, 0);
    } else if (strcmp(a, "--durability") == 0) {
        f->dur_mode = strcmp(v, "full") == 0   ? CT_SYNC_FULL
                      : strcmp(v, "none") == 0 ? CT_SYNC_NONE
                      : strcmp(v, "group") == 0 ? CT_SYNC_GROUP
                                               : -1;
    } else if (strcmp(a, "--page-size") == 0) {
        c->page_size = (uint32_t)strtoul(v, NULL, 0);
    } else if (strcmp(a, "--map") == 0) {
        f->map_mode = strcmp(v, "on") == 0 ? 1 : strcmp(v, "off") == 0 ? 0 : -1;
    } else if (strcmp(a, "--cache") == 0) {
        f->cache_mode = atoi(v);
    } else if (strcmp(a, "--stable-cursor") == 0) {
        c->stable_cursor_pct = atoi(v);
    } else if (strcmp(a, "--jobs") == 0) {
        f->jobs = (uint32_t)atoi(v);
        f->jobs = f->jobs < 1 ? 1 : f->jobs > 64 ? 64 : f->jobs;
    } else if (strcmp(a, "--replay") == 0) {
        f->replay = v;
    } else if (strcmp(a, "--store") == 0) {
        c->store = v;
    } else {
        return 0;
    }
    return 1;
}

/* Flags of what is checked; -1 on a bad value, 0 if a is not one. */
static int parse_check_flag(const char *a, const char *v, flags *f)
{
    sim_config *c = &f->base;
    if (strcmp(a, "--seed") == 0) {
        if (sim_seed_parse(v, &f->seed_lo) != 0) {
            return -1;
        }
        f->seed_hi = f->seed_lo;
    } else if (strcmp(a, "--seeds") == 0) {
        return parse_range(v, &f->seed_lo, &f->seed_hi) == 0 ? 1 : -1;
    } else if (strcmp(a, "--crash") == 0) {
        c->crash_all = strcmp(v, "all") == 0;
        c->crash_n = c->crash_all || strcmp(v, "none") == 0 ? 0 : (uint32_t)atoi(v);
    } else if (strcmp(a, "--deep") == 0) {
        c->deep_n = (uint32_t)atoi(v);
    } else if (strcmp(a, "--level2") == 0) {
        c->level2_every = (uint32_t)atoi(v);
    } else if (strcmp(a, "--meta-loss") == 0) {
        c->meta_every = (uint32_t)atoi(v);
    } else if (strcmp(a, "--subset") == 0) {
        c->subset_max = (uint32_t)atoi(v);
    } else if (strcmp(a, "--faults") == 0) {
        if (sim_faults_parse(v, &c->faults) != 0) {
            fprintf(stderr, "cowtree-sim: unknown fault kind in %s\n", v);
            return -1;
        }
    } else if (strcmp(a, "--rounds") == 0) {
        c->fault_rounds = (uint32_t)atoi(v);
    } else if (strcmp(a, "--sweeps") == 0) {
        c->sweep_txns = (uint32_t)atoi(v);
        c->sweeps = c->sweep_txns > 0;
    } else {
        return 0;
    }
    return 1;
}

static int parse_flags(int argc, char **argv, flags *f)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (parse_switch(a, f)) {
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "cowtree-sim: unknown flag or missing value: %s\n", a);
            return -1;
        }
        int r = parse_check_flag(a, v, f);
        if (r == 0) {
            r = parse_world_flag(a, v, f);
        }
        if (r <= 0) {
            if (r == 0) {
                fprintf(stderr, "cowtree-sim: unknown flag %s\n", a);
            }
            return -1;
        }
        i++;
    }
    if (f->base.fault_rounds == 0) {
        f->base.faults = 0;
    }
    char err[512];
    if (sim_store_spec_check(f->base.store, err, sizeof(err)) != 0) {
        fprintf(stderr, "cowtree-sim: %s\n", err);
        return -1;
    }
    if (!sim_store_is_memory(f->base.store)) {
        f->map_mode = 0; /* a fault store never maps: replay lines say so */
    }
    return 0;
}

/* The configuration of one seed: flags, with "by seed" choices drawn. */
static sim_config seed_config(const flags *f, uint64_t seed)
{
    sim_config c = f->base;
    c.seed = seed;
    uint64_t r = prng_derive(seed, 0x636f6e666967ull); /* "config" */
    c.durability = f->dur_mode >= 0 ? f->dur_mode : (int)(r & 1);
    c.enable_map = f->map_mode >= 0 ? f->map_mode : (int)((r >> 1) & 1);
    static const uint32_t caches[4] = {0, 2, 8, 64};
    c.cache_pages = f->cache_mode >= 0 ? (uint32_t)f->cache_mode : caches[(r >> 2) & 3];
    /* 0 = never (the default). */
    static const uint32_t autosyncs[4] = {0, 3, 12, 48};
    c.autosync_pages = autosyncs[(r >> 4) & 3];
    return c;
}

static void print_failure(FILE *out, const sim_seed_run *r, char *line, size_t cap)
{
    const sim_case *c = &r->fail_case;
    static const char *const phases[SIM_PHASES] = {"golden run", "crash", "sweep", "faults"};
    const sim_workload *wl = r->wl;
    const sim_op *op = r->fail_op < wl->count ? &wl->ops[r->fail_op] : NULL;
    char oc[64];
    sim_outcome_format(&c->out, oc, sizeof(oc));
    fprintf(out, "FAIL seed=0x%" PRIx64 " phase=%s op=%zu", r->cfg->seed, phases[c->phase],
           r->fail_op);
    if (op) {
        fprintf(out, " (%s, txn %u)", sim_op_name(op->kind), op->txn);
    }
    fprintf(out, "\n");
    if (c->phase == SIM_PHASE_CRASH) {
        fprintf(out, "  image: segment %d, power cut before store op %" PRIu64 ", outcome %s%s\n",
               c->seg == UINT32_MAX ? -1 : (int)c->seg, c->cut, oc,
               c->deep ? " (long-lived handle)" : "");
        if (c->level2) {
            sim_outcome_format(&c->out2, oc, sizeof(oc));
            fprintf(out, "  level 2: power cut at op +%" PRIu64 " of recovery, outcome %s\n",
                   c->cut2, oc);
        }
        if (c->meta_damage) {
            static const char *const how[4] = {"", "zeroed", "one bit flipped", "garbage"};
            fprintf(out, "  meta loss: the newest valid meta %s\n", how[c->meta_damage & 3]);
        }
    } else if (c->phase == SIM_PHASE_SWEEP) {
        fprintf(out, "  sweep: segment %u, %s op #%" PRIu64 " fails%s\n", c->seg,
               sim_sweep_name(c->sweep_kind), c->cut, c->sweep_sticky ? " (sticky)" : "");
    }
    fprintf(out, "  why: %s\n", r->fail_msg);
    sim_replay_format(r->cfg, wl, c, line, cap);
    fprintf(out, "  replay: cowtree-sim --replay \"%s\"\n", line);
}

static void print_ops(FILE *out, const sim_workload *wl)
{
    for (size_t i = 0; i < wl->count; i++) {
        const sim_op *op = &wl->ops[i];
        char k[48];
        char k2[48];
        sim_hex(op->key, op->klen, k, sizeof(k));
        sim_hex(op->key2, op->k2len, k2, sizeof(k2));
        fprintf(out, "%5zu%s txn %3u %-13s b%u arg %u key %s(%u)%s%s vlen %u\n", i,
               wl->active[i] ? " " : "-", op->txn, sim_op_name(op->kind), op->b, op->arg, k,
               op->klen, op->k2len ? " key2 " : "", op->k2len ? k2 : "", op->vlen);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_summary(const sim_counters *cnt, double secs)
{
    char faults[512];
    size_t o = 0;
    faults[0] = 0;
    for (int k = 0; k < SIM_F_KINDS; k++) {
        o += (size_t)snprintf(faults + o, sizeof(faults) - o, "%s%s=%" PRIu64, k ? "," : "",
                              sim_fault_name(k), cnt->faults[k]);
    }
    uint64_t sweeps = 0;
    for (int k = 0; k < SIM_SWEEP_KINDS; k++) {
        sweeps += cnt->sweep_injected[k];
    }
    double rate = secs > 0 ? (double)cnt->images / secs : 0;
    printf("seeds %" PRIu64 " crash-points %" PRIu64 " images %" PRIu64 " (level-2 %" PRIu64
           ", meta-loss %" PRIu64 ") sweep-faults %" PRIu64 " faults %s corrupt-detected %" PRIu64
           " failures %" PRIu64 " trace %016" PRIx64 " images/s %.0f\n",
           cnt->seeds, cnt->crash_points, cnt->images, cnt->images_l2, cnt->images_meta, sweeps,
           faults,
           cnt->corrupt_detected, cnt->failures, cnt->trace, rate);
}

static int run_replay(const flags *f, sim_counters *cnt)
{
    sim_config cfg = seed_config(f, 0);
    sim_case c;
    char *drops = NULL;
    if (sim_replay_parse(f->replay, &cfg, &c, &drops) != 0) {
        fprintf(stderr, "cowtree-sim: cannot parse the replay line\n");
        return 2;
    }
    cfg.verbose = f->base.verbose;
    sim_gen_config g;
    sim_gen_config_of(&cfg, &g);
    sim_workload wl;
    sim_workload_gen(&g, &wl);
    (void)sim_drops_apply(&wl, drops);
    if (f->print_ops) {
        print_ops(stdout, &wl);
    }
    sim_seed_run *fail = NULL;
    int failed = sim_run_seed(&cfg, &wl, &c, cnt, &fail);
    char line[2048];
    if (failed && fail) {
        print_failure(stdout, fail, line, sizeof(line));
        sim_seed_run_free(fail);
        if (f->minimize) {
            char minl[2048];
            if (sim_minimize(&cfg, &c, drops, minl, sizeof(minl)) == 0) {
                printf("  minimal: cowtree-sim --replay \"%s\"\n", minl);
            }
        }
    } else {
        printf("replay: passes\n");
    }
    sim_workload_free(&wl);
    free(drops);
    return failed;
}

/* One seed of the loop: runs it, writes its report lines to out. */
static int seed_job(const flags *f, uint64_t s, FILE *out, sim_counters *cnt)
{
    sim_config cfg = seed_config(f, s);
    if (f->print_ops) {
        sim_gen_config g;
        sim_workload wl;
        sim_gen_config_of(&cfg, &g);
        sim_workload_gen(&g, &wl);
        print_ops(out, &wl);
        sim_workload_free(&wl);
    }
    sim_seed_run *fail = NULL;
    uint64_t before = cnt->images;
    int bad = sim_run_seed(&cfg, NULL, NULL, cnt, &fail);
    uint64_t mm = sim_store_take_mismatches();
    if (mm) {
        /* The engine may have coped (checksums), but the store is wrong. */
        fprintf(out, "FAIL seed=0x%" PRIx64 ": the store under test (%s) returned %" PRIu64
                " page read(s) unlike what was written to it\n", s, cfg.store, mm);
        cnt->store_mismatches += mm;
        cnt->failures += bad ? 0 : 1;
        bad = 1;
    }
    if (cfg.verbose) {
        fprintf(out, "seed 0x%" PRIx64 " dur=%s map=%d cache=%u images %" PRIu64 " trace %016" PRIx64 " %s\n", s,
                sim_durability_name(cfg.durability), cfg.enable_map, cfg.cache_pages,
                cnt->images - before, cnt->seed_trace, bad ? "FAIL" : "ok");
    }
    if (bad && fail) {
        char line[2048];
        print_failure(out, fail, line, sizeof(line));
        if (f->minimize) {
            char minl[2048];
            fflush(out);
            if (sim_minimize(&cfg, &fail->fail_case, NULL, minl, sizeof(minl)) == 0) {
                fprintf(out, "  minimal: cowtree-sim --replay \"%s\"\n", minl);
            }
        }
        sim_seed_run_free(fail);
    }
    return bad;
}

static void add_counters(sim_counters *t, const sim_counters *c)
{
    t->seeds += c->seeds;
    t->crash_points += c->crash_points;
    t->images += c->images;
    t->images_l2 += c->images_l2;
    t->images_meta += c->images_meta;
    t->corrupt_detected += c->corrupt_detected;
    t->rollbacks += c->rollbacks;
    for (int k = 0; k < SIM_F_KINDS; k++) {
        t->faults[k] += c->faults[k];
    }
    for (int k = 0; k < SIM_SWEEP_KINDS; k++) {
        t->sweep_injected[k] += c->sweep_injected[k];
    }
    t->sweep_runs += c->sweep_runs;
    t->fault_crashes += c->fault_crashes;
    t->failures += c->failures;
    t->store_mismatches += c->store_mismatches;
    t->trace = prng_hash_u64(t->trace, c->seed_trace);
}

/* What a worker sends back per seed. */
typedef struct seed_record {
    uint64_t seed;
    int failed;
    sim_counters cnt;
    uint32_t text_len;
} seed_record;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k <= 0) {
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t k = read(fd, c, n);
        if (k <= 0) {
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Worker j of n: seeds lo + j, lo + j + n, ...; one record per seed. */
static void worker(const flags *f, uint64_t j, uint64_t n, int fd)
{
    for (uint64_t s = f->seed_lo + j; s <= f->seed_hi && s >= f->seed_lo; s += n) {
        seed_record rec;
        memset(&rec, 0, sizeof(rec));
        rec.seed = s;
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        rec.failed = seed_job(f, s, out ? out : stdout, &rec.cnt);
        if (out) {
            fclose(out);
        }
        rec.text_len = (uint32_t)len;
        if (write_all(fd, &rec, sizeof(rec)) != 0 || write_all(fd, text, len) != 0) {
            exit(3);
        }
        free(text);
        if (rec.failed && !f->keep_going) {
            break;
        }
        if (s > UINT64_MAX - n) {
            break;
        }
    }
    close(fd);
    exit(0);
}

/* The seed loop on `jobs` processes, results folded in seed order, so the
   output and the trace are those of a sequential run. */
static int run_parallel(const flags *f, uint32_t jobs, sim_counters *cnt)
{
    uint64_t span = f->seed_hi - f->seed_lo + 1;
    uint64_t n = jobs > span ? span : jobs;
    int fds[64];
    pid_t pids[64];
    fflush(stdout);
    for (uint64_t j = 0; j < n; j++) {
        int p[2];
        if (pipe(p) != 0) {
            return 2;
        }
        pids[j] = fork();
        if (pids[j] == 0) {
            close(p[0]);
            worker(f, j, n, p[1]);
        }
        close(p[1]);
        fds[j] = p[0];
    }
    int failed = 0;
    int stopped = 0;
    for (uint64_t s = f->seed_lo; s <= f->seed_hi && s >= f->seed_lo; s++) {
        uint64_t j = (s - f->seed_lo) % n;
        seed_record rec;
        if (read_all(fds[j], &rec, sizeof(rec)) != 0 || rec.seed != s) {
            break; /* the worker stopped (its first failure) */
        }
        char *text = sim_xmalloc(rec.text_len + 1);
        if (read_all(fds[j], text, rec.text_len) != 0) {
            free(text);
            break;
        }
        if (!stopped) {
            fwrite(text, 1, rec.text_len, stdout);
            add_counters(cnt, &rec.cnt);
            failed |= rec.failed;
            stopped = rec.failed && !f->keep_going;
        }
        free(text);
        if (s == UINT64_MAX) {
            break;
        }
    }
    for (uint64_t j = 0; j < n; j++) {
        close(fds[j]);
        int st = 0;
        (void)waitpid(pids[j], &st, 0);
    }
    return failed;
}

static int run_sequential(const flags *f, sim_counters *cnt)
{
    int failed = 0;
    for (uint64_t s = f->seed_lo; s <= f->seed_hi && (!failed || f->keep_going); s++) {
        sim_counters c;
        memset(&c, 0, sizeof(c));
        failed |= seed_job(f, s, stdout, &c);
        add_counters(cnt, &c);
        if (s == UINT64_MAX) {
            break;
        }
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0) {
        return sim_self_test();
    }
    flags f;
    defaults(&f);
    if (parse_flags(argc, argv, &f) != 0) {
        usage();
        return 2;
    }
    sim_counters cnt;
    memset(&cnt, 0, sizeof(cnt));
    double t0 = now_s();
    int failed = 0;
    if (!f.quiet && !f.replay) {
        char faults[160];
        sim_faults_format(f.base.faults, faults, sizeof(faults));
        printf("cowtree-sim: seeds 0x%" PRIx64 "..0x%" PRIx64 ", %u txns each, crash %s, "
               "faults %s, sweeps over %u txns, %u job(s)\n",
               f.seed_lo, f.seed_hi, f.base.txns,
               f.base.crash_all ? "all" : f.base.crash_n ? "sampled" : "none", faults,
               f.base.sweeps ? f.base.sweep_txns : 0, f.jobs);
    }
    if (f.replay) {
        failed = run_replay(&f, &cnt);
    } else if (f.jobs > 1 && f.seed_hi > f.seed_lo && !f.minimize) {
        failed = run_parallel(&f, f.jobs, &cnt);
    } else {
        failed = run_sequential(&f, &cnt);
    }
    fflush(stdout);
    print_summary(&cnt, now_s() - t0);
    if (!sim_store_is_memory(f.base.store)) {
        printf("store %s: mismatching reads %" PRIu64 "\n", f.base.store, cnt.store_mismatches);
    }
    return failed ? 1 : 0;
}
