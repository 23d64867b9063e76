/*
 * mapcost.c - cowtree-mapcost: what a cold read of a 64-KiB value through
 * a read-only file mapping costs, without any engine, to see where the
 * bigvalue_get workload's time goes (docs/bench.md, seventeenth stop).
 *
 * It writes `--values` runs of 17 pages (a 64-KiB value and its header)
 * the way an engine's commits would, 16 runs and one tree page a commit,
 * fdatasyncs, maps the file and reads the first and last byte of
 * `--values` runs picked at random (as the bench's gets do). Variants:
 *   pieces-256k  each commit's runs in writes that stop at 256-KiB edges
 *                (cowtree's file store until the twentieth stop)
 *   pieces-1m    the same with 1-MiB edges (cowtree's file store since,
 *                CT_FS_RUN_PIECE_BYTES)
 *   one-write    each commit's runs in one write (LMDB's writev)
 *   populated    as pieces-256k, then MADV_POPULATE_READ over the whole
 *                mapping before the reads: no page fault is left to take
 *   first-only   as pieces-256k, reading only the first byte of each value
 *   warm         as pieces-256k, the reads repeated on the same mapping
 *   pread        as pieces-256k, each value copied out with one pread into
 *                a buffer reused for every read, instead of mapped
 *   primed-2m    as pieces-256k, but before a commit's write first reaches
 *                into a 2-MiB block past the file's end, the file is
 *                lengthened to the block's end and the block read once
 *                through a throwaway mapping with MADV_HUGEPAGE, so the
 *                page cache holds it as one 2-MiB folio, which the read
 *                mapping then maps whole at its first fault
 *   write-pop    as pieces-1m, with the reading mapping made before the
 *                writes and each commit's pages populated in it
 *                (MADV_POPULATE_READ) right after their write: what a
 *                writer that pre-maps what it wrote would pay and save
 *   aligned-16   as pieces-1m, but each commit starts at a page number
 *                that is a multiple of 16 (the pages between commits are
 *                left unwritten), as the engine places large runs
 *                (CT_RUN_ALIGN_PAGES)
 *   aligned-64   the same at multiples of 64 pages (for both, the folios
 *                column also counts the pages of the unwritten gaps, which
 *                the count's populate puts in folios of their own)
 * Each prints microseconds per value written (the writes and the
 * fdatasync), per read, the minor faults the reads took, and the
 * page-cache folios that hold the file (counted after the reads through
 * /proc/self/pagemap and /proc/kpageflags, which need root; -1 without).
 * A read fault maps a whole folio, so fewer, larger folios take fewer
 * faults (docs/bench.md, twentieth stop). --pause S
 * sleeps S seconds before each variant's writes, so the memory the last
 * variant freed has been idle that long (docs/bench.md, eighteenth stop,
 * has why that matters on this machine).
 *
 *   cowtree-mapcost [--values N] [--rounds R] [--pause S] [--dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096
#define RUN_PAGES 17   /* a 65,536-byte value and its page header */
#define RUNS_PER_COMMIT 16
#define PIECE_BYTES ((size_t)256 << 10)
#define PIECE_1M_BYTES ((size_t)1 << 20)
#define BLOCK_BYTES ((size_t)2 << 20) /* a PMD's reach with 4-KiB pages */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

enum variant {
    V_PIECES,
    V_PIECES_1M,
    V_ONE_WRITE,
    V_POPULATED,
    V_FIRST_ONLY,
    V_WARM,
    V_PREAD,
    V_PRIMED,
    V_POPULATE_ON_WRITE,
    V_ALIGNED_16,
    V_ALIGNED_64,
    V_COUNT
};
static const char *const variant_name[V_COUNT] = {
    "pieces-256k", "pieces-1m", "one-write", "populated",
    "first-only",  "warm",      "pread",     "primed-2m", "write-pop", "aligned-16", "aligned-64"};

static int write_all(int fd, const unsigned char *buf, size_t len, off_t off, size_t piece)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        if (piece != 0) {
            size_t edge = piece - (size_t)((off + (off_t)done) % (off_t)piece);
            want = want < edge ? want : edge;
        }
        ssize_t n = pwrite(fd, buf + done, want, off + (off_t)done);
        if (n <= 0) {
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* Where commits start: page layout_base, then every layout_stride pages
   (set per variant by measure()). */
static long layout_base = 2;
static long layout_stride = RUNS_PER_COMMIT * RUN_PAGES + 1;

/* Page of run r: commits of 16 runs, each followed by one tree page. */
static long run_page(long r)
{
    return layout_base + (r / RUNS_PER_COMMIT) * layout_stride +
           (r % RUNS_PER_COMMIT) * RUN_PAGES;
}

/* Lengthens the file from *end to the end of the block holding the
   byte before `to` and reads each fresh block once through a throwaway
   mapping with MADV_HUGEPAGE (the block is a hole: no disk read). */
static int prime_blocks(int fd, off_t *end, off_t to)
{
    off_t first = (*end + (off_t)BLOCK_BYTES - 1) / (off_t)BLOCK_BYTES * (off_t)BLOCK_BYTES;
    if (to <= first) {
        return 0;
    }
    off_t last = (to + (off_t)BLOCK_BYTES - 1) / (off_t)BLOCK_BYTES * (off_t)BLOCK_BYTES;
    if (ftruncate(fd, last) != 0) {
        return -1;
    }
    *end = last;
    size_t len = (size_t)(last - first);
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, first);
    if (m == MAP_FAILED) {
        return -1;
    }
    int rc = madvise(m, len, MADV_HUGEPAGE) == 0 && madvise(m, len, MADV_RANDOM) == 0 ? 0 : -1;
    for (size_t at = 0; rc == 0 && at < len; at += BLOCK_BYTES) {
        rc = madvise((unsigned char *)m + at, PAGE, MADV_POPULATE_READ);
    }
    int saved = errno; /* what failed, for the caller's message */
    munmap(m, len);
    errno = saved;
    return rc;
}

/* The edges variant v's writes stop at (0: one write a commit). */
static size_t piece_bytes(enum variant v)
{
    switch (v) {
    case V_ONE_WRITE:
        return 0;
    case V_PIECES_1M:
    case V_POPULATE_ON_WRITE:
    case V_ALIGNED_16:
    case V_ALIGNED_64:
        return PIECE_1M_BYTES;
    default:
        return PIECE_BYTES;
    }
}

/* Writes the file for variant v; returns its length in pages, or -1.
   With a mapping `pop` (write-pop), each commit's pages are populated in
   it right after their write. */
static long write_file(int fd, enum variant v, long values, const unsigned char *buf,
                       unsigned char *pop)
{
    size_t commit_bytes = (size_t)RUNS_PER_COMMIT * RUN_PAGES * PAGE;
    long commits = (values + RUNS_PER_COMMIT - 1) / RUNS_PER_COMMIT;
    off_t end = 0; /* the file's length, for primed-2m */
    for (long c = 0; c < commits; c++) {
        off_t off = (off_t)run_page(c * RUNS_PER_COMMIT) * PAGE;
        size_t piece = piece_bytes(v);
        if (v == V_PRIMED &&
            prime_blocks(fd, &end, off + (off_t)commit_bytes + PAGE) != 0) {
            return -1;
        }
        if (write_all(fd, buf, commit_bytes, off, piece) != 0 ||
            write_all(fd, buf, PAGE, off + (off_t)commit_bytes, 0) != 0) {
            return -1;
        }
        if (pop != NULL &&
            madvise(pop + off, commit_bytes + PAGE, MADV_POPULATE_READ) != 0) {
            return -1;
        }
    }
    /* The last commit's end: its tree page is the file's last page. */
    long end_page = run_page((commits - 1) * RUNS_PER_COMMIT) + RUNS_PER_COMMIT * RUN_PAGES + 1;
    return fdatasync(fd) == 0 ? end_page : -1;
}

/* Page-cache folios behind the pages pages of mapping m: faults them all
   in, then counts the pages that are no folio's tail (kpageflags bit 16,
   KPF_COMPOUND_TAIL). -1 when the kernel will not tell (not root). */
static long count_folios(const unsigned char *m, size_t pages)
{
    if (madvise((void *)m, pages * PAGE, MADV_POPULATE_READ) != 0) {
        return -1;
    }
    int pagemap = open("/proc/self/pagemap", O_RDONLY);
    int flags = open("/proc/kpageflags", O_RDONLY);
    long folios = pagemap >= 0 && flags >= 0 ? 0 : -1;
    for (size_t i = 0; folios >= 0 && i < pages; i++) {
        uint64_t entry = 0;
        uint64_t kflags = 0;
        off_t at = (off_t)(((uintptr_t)m / PAGE + i) * sizeof(entry));
        if (pread(pagemap, &entry, sizeof(entry), at) != (ssize_t)sizeof(entry)) {
            folios = -1;
            break;
        }
        uint64_t pfn = entry & ((UINT64_C(1) << 55) - 1u);
        if (!(entry >> 63) || pfn == 0) { /* not present, or pfns hidden */
            folios = -1;
            break;
        }
        if (pread(flags, &kflags, sizeof(kflags), (off_t)(pfn * sizeof(kflags))) !=
            (ssize_t)sizeof(kflags)) {
            folios = -1;
            break;
        }
        folios += ((kflags >> 16) & 1u) ? 0 : 1;
    }
    if (pagemap >= 0) {
        close(pagemap);
    }
    if (flags >= 0) {
        close(flags);
    }
    return folios;
}

static volatile uint64_t sink;

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One variant: microseconds per value written into *write_us, per read
   into *us, the reads' faults into *faults. Returns 0, or -1 with errno. */
static int measure(const char *path, enum variant v, long values, const unsigned char *buf,
                   double *write_us, double *us, long *faults, long *folios)
{
    unlink(path);
    long align = v == V_ALIGNED_16 ? 16 : v == V_ALIGNED_64 ? 64 : 1;
    long used = RUNS_PER_COMMIT * RUN_PAGES + 1;
    layout_base = align > 1 ? align : 2;
    layout_stride = (used + align - 1) / align * align;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return -1;
    }
    unsigned char *pop = NULL;
    size_t all = 0;
    if (v == V_POPULATE_ON_WRITE) { /* the whole file-to-be, mapped first */
        long commits = (values + RUNS_PER_COMMIT - 1) / RUNS_PER_COMMIT;
        all = (size_t)run_page(commits * RUNS_PER_COMMIT) * PAGE;
        void *p = mmap(NULL, all, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return -1;
        }
        pop = p;
    }
    double w0 = bench_now_s();
    long pages = write_file(fd, v, values, buf, pop);
    *write_us = (bench_now_s() - w0) / (double)values * 1e6;
    unsigned char *copy = v == V_PREAD ? malloc((size_t)RUN_PAGES * PAGE) : NULL;
    size_t len = pages > 0 ? (size_t)pages * PAGE : 0;
    const unsigned char *m = MAP_FAILED;
    if (pages > 0) {
        m = pop != NULL ? pop : mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    } else if (pop != NULL) {
        munmap(pop, all); /* the writes failed: nothing to read */
    }
    int rc = m == MAP_FAILED || (v == V_PREAD && copy == NULL) ? -1 : 0;
    if (rc == 0 && v == V_POPULATED) {
        rc = madvise((void *)m, len, MADV_POPULATE_READ);
    }
    uint64_t acc = 0;
    for (int pass = 0; rc == 0 && pass < (v == V_WARM ? 2 : 1); pass++) {
        struct rusage a;
        struct rusage b;
        getrusage(RUSAGE_SELF, &a);
        uint64_t seed = 301;
        double t0 = bench_now_s();
        for (long i = 0; rc == 0 && i < values; i++) {
            size_t at = (size_t)run_page((long)(next_rand(&seed) % (uint64_t)values)) * PAGE;
            const unsigned char *val = m + at;
            if (v == V_PREAD) {
                size_t n = (size_t)RUN_PAGES * PAGE;
                rc = pread(fd, copy, n, (off_t)at) == (ssize_t)n ? 0 : -1;
                val = copy;
            }
            acc += val[16];
            if (v != V_FIRST_ONLY) {
                acc += val[(size_t)RUN_PAGES * PAGE - 1];
            }
        }
        *us = (bench_now_s() - t0) / (double)values * 1e6;
        getrusage(RUSAGE_SELF, &b);
        *faults = b.ru_minflt - a.ru_minflt;
    }
    sink = acc; /* keeps the reads */
    *folios = rc == 0 ? count_folios(m, len / PAGE) : -1;
    int saved = errno;
    free(copy);
    if (m != MAP_FAILED) {
        munmap((void *)m, len);
    }
    close(fd);
    unlink(path);
    errno = saved;
    return rc;
}

int main(int argc, char **argv)
{
    long values = 4000;
    int rounds = 3;
    unsigned pause_s = 0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--values") == 0 && i + 1 < argc) {
            values = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--pause") == 0 && i + 1 < argc) {
            pause_s = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: cowtree-mapcost [--values N] [--rounds R] [--pause S] [--dir DIR]\n");
            return 2;
        }
    }
    if (values < 1 || values > 1000000 || rounds < 1 || rounds > 16 || pause_s > 600) {
        fprintf(stderr, "cowtree-mapcost: --values 1..1000000, --rounds 1..16, --pause 0..600\n");
        return 2;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cowtree-mapcost.%ld", dir, (long)getpid()) >=
        (int)sizeof path) {
        fprintf(stderr, "cowtree-mapcost: path too long\n");
        return 2;
    }
    size_t commit_bytes = (size_t)RUNS_PER_COMMIT * RUN_PAGES * PAGE;
    unsigned char *buf = malloc(commit_bytes);
    if (buf == NULL) {
        fprintf(stderr, "cowtree-mapcost: out of memory\n");
        return 1;
    }
    memset(buf, 0xa5, commit_bytes);
    /* Rounds interleave the variants; each row reports its median. */
    double write_us[V_COUNT][16];
    double us[V_COUNT][16];
    long faults[V_COUNT][16];
    long folios[V_COUNT][16];
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < V_COUNT; v++) {
            if (pause_s > 0) {
                sleep(pause_s);
            }
            if (measure(path, (enum variant)v, values, buf, &write_us[v][r], &us[v][r],
                        &faults[v][r], &folios[v][r]) != 0) {
                fprintf(stderr, "cowtree-mapcost: %s: %s\n", variant_name[v], strerror(errno));
                free(buf);
                return 1;
            }
        }
    }
    free(buf);
    printf("%-12s %10s %10s %10s %10s %8s %8s\n", "variant", "us/write", "us/read", "min", "max",
           "faults", "folios");
    for (int v = 0; v < V_COUNT; v++) {
        for (int i = 1; i < rounds; i++) { /* insertion sorts: at most 16 */
            double x = us[v][i];
            long f = faults[v][i];
            long g = folios[v][i];
            double w = write_us[v][i];
            int j = i;
            for (; j > 0 && us[v][j - 1] > x; j--) {
                us[v][j] = us[v][j - 1];
                faults[v][j] = faults[v][j - 1];
                folios[v][j] = folios[v][j - 1];
            }
            us[v][j] = x;
            faults[v][j] = f;
            folios[v][j] = g;
            for (j = i; j > 0 && write_us[v][j - 1] > w; j--) {
                write_us[v][j] = write_us[v][j - 1];
            }
            write_us[v][j] = w;
        }
        printf("%-12s %10.2f %10.2f %10.2f %10.2f %8ld %8ld\n", variant_name[v],
               write_us[v][rounds / 2], us[v][rounds / 2], us[v][0], us[v][rounds - 1],
               faults[v][rounds / 2], folios[v][rounds / 2]);
    }
    return 0;
}
