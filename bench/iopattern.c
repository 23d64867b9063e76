/*
 * iopattern.c - cowtree-iopattern: the write-and-flush pattern of one
 * durable single-put commit, without any engine, to find the floor the
 * disk sets (docs/bench.md, "Durable commits: the disk's floor").
 *
 * Each pattern writes 4-KiB pages of a 256-KiB scratch file and flushes,
 * N times; it prints microseconds per commit and the ratio of LMDB's
 * pattern to each. The page numbers follow what strace shows for
 * fillsync: three pages spread over the file, and a meta page at 0 or 1.
 *   cowtree     three scattered pages, the meta, one fdatasync
 *   lmdb        three scattered pages, fdatasync, the meta through an
 *               O_DSYNC descriptor (a second flush)
 *   contiguous  the three pages in one pwritev, the meta, one fdatasync
 *   one-write   the three pages and the meta in one pwritev, one fdatasync
 *   two-pages   two scattered pages, the meta, one fdatasync (a commit
 *               whose free-list entries ride in the meta)
 *   two-adjacent  the two pages in one pwritev, the meta, one fdatasync
 *
 *   cowtree-iopattern [--commits N] [--rounds R] [--dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096
#define FILE_PAGES 64

enum pattern { P_COWTREE, P_LMDB, P_CONTIGUOUS, P_ONE_WRITE, P_TWO_PAGES, P_TWO_ADJACENT, P_COUNT };
static const char *const pattern_name[P_COUNT] = {"cowtree", "lmdb", "contiguous", "one-write", "two-pages", "two-adjacent"};

static int put(int fd, const unsigned char *buf, size_t pages, long pgno)
{
    ssize_t n = pwrite(fd, buf, pages * PAGE, (off_t)pgno * PAGE);
    return n == (ssize_t)(pages * PAGE) ? 0 : -1;
}

static int putv(int fd, unsigned char *buf, int pages, long pgno)
{
    struct iovec v[4];
    for (int i = 0; i < pages; i++) {
        v[i].iov_base = buf + (size_t)i * PAGE;
        v[i].iov_len = PAGE;
    }
    ssize_t n = pwritev(fd, v, pages, (off_t)pgno * PAGE);
    return n == (ssize_t)pages * PAGE ? 0 : -1;
}

/* One commit i of pattern p. */
static int commit(enum pattern p, int fd, int dsync_fd, unsigned char *buf, long i)
{
    long meta = i & 1;
    long a = 2 + (i * 7) % 20;
    long b = 24 + (i * 5) % 20;
    long c = 45 + (i * 3) % 15;
    buf[0] = (unsigned char)i;
    int rc = 0;
    switch (p) {
    case P_COWTREE:
        rc = put(fd, buf, 1, a) || put(fd, buf, 1, b) || put(fd, buf, 1, c) ||
             put(fd, buf, 1, meta) || fdatasync(fd);
        break;
    case P_LMDB:
        rc = put(fd, buf, 1, a) || put(fd, buf, 1, b) || put(fd, buf, 1, c) || fdatasync(fd) ||
             put(dsync_fd, buf, 1, meta);
        break;
    case P_CONTIGUOUS:
        rc = putv(fd, buf, 3, 10 + 3 * (i % 3)) || put(fd, buf, 1, meta) || fdatasync(fd);
        break;
    case P_ONE_WRITE:
        rc = putv(fd, buf, 4, 10 + 4 * (i % 3)) || fdatasync(fd);
        break;
    case P_TWO_PAGES:
        rc = put(fd, buf, 1, a) || put(fd, buf, 1, b) || put(fd, buf, 1, meta) || fdatasync(fd);
        break;
    case P_TWO_ADJACENT:
        rc = putv(fd, buf, 2, 10 + 2 * (i % 3)) || put(fd, buf, 1, meta) || fdatasync(fd);
        break;
    default:
        rc = -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    long commits = 2000;
    int rounds = 3;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc) {
            commits = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: cowtree-iopattern [--commits N] [--rounds R] [--dir DIR]\n");
            return 2;
        }
    }
    if (commits < 1 || rounds < 1) {
        fprintf(stderr, "cowtree-iopattern: --commits and --rounds must be positive\n");
        return 2;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cowtree-iopattern.%ld", dir, (long)getpid()) >=
        (int)sizeof path) {
        fprintf(stderr, "cowtree-iopattern: path too long\n");
        return 2;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    int dsync_fd = fd < 0 ? -1 : open(path, O_RDWR | O_DSYNC);
    if (fd < 0 || dsync_fd < 0) {
        fprintf(stderr, "cowtree-iopattern: %s: %s\n", path, strerror(errno));
        return 1;
    }
    static unsigned char buf[4 * PAGE];
    memset(buf, 0xa5, sizeof buf);
    int rc = 0;
    for (long pg = 0; pg < FILE_PAGES && rc == 0; pg++) {
        rc = put(fd, buf, 1, pg);
    }
    rc = rc || fsync(fd);
    /* Rounds interleave the patterns; each row reports its median. */
    double us[P_COUNT][16];
    if (rounds > 16) {
        rounds = 16;
    }
    for (int r = 0; r < rounds && rc == 0; r++) {
        for (int p = 0; p < P_COUNT && rc == 0; p++) {
            double t0 = bench_now_s();
            for (long i = 0; i < commits && rc == 0; i++) {
                rc = commit((enum pattern)p, fd, dsync_fd, buf, i);
            }
            us[p][r] = (bench_now_s() - t0) / (double)commits * 1e6;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "cowtree-iopattern: write or flush failed: %s\n", strerror(errno));
    }
    close(dsync_fd);
    close(fd);
    unlink(path);
    if (rc != 0) {
        return 1;
    }
    double median[P_COUNT];
    for (int p = 0; p < P_COUNT; p++) {
        for (int i = 1; i < rounds; i++) { /* insertion sort: at most 16 */
            double v = us[p][i];
            int j = i;
            for (; j > 0 && us[p][j - 1] > v; j--) {
                us[p][j] = us[p][j - 1];
            }
            us[p][j] = v;
        }
        median[p] = us[p][rounds / 2];
    }
    printf("%-13s %10s %10s %10s %12s\n", "pattern", "us/commit", "min", "max", "lmdb/pattern");
    for (int p = 0; p < P_COUNT; p++) {
        printf("%-13s %10.1f %10.1f %10.1f %11.2fx\n", pattern_name[p], median[p], us[p][0],
               us[p][rounds - 1], median[P_LMDB] / median[p]);
    }
    return 0;
}
