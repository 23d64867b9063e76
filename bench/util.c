/*
 * util.c - errors, clock and directory helpers of the benchmark. The
 * benchmark measures time, so unlike the library it reads a clock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static _Thread_local char last_error[512];

int bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *bench_last_error(void)
{
    return last_error;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return bench_fail("open %s: %s", path, strerror(errno));
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        return bench_fail("fsync %s: %s", path, strerror(saved));
    }
    return 0;
}

int bench_fsync_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return bench_fail("opendir %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char path[BENCH_PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            rc = bench_fail("path too long");
        } else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = fsync_path(path, O_RDONLY);
        }
    }
    closedir(d);
    return rc == 0 ? fsync_path(dir, O_RDONLY | O_DIRECTORY) : rc;
}

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* nftw has no context argument; only the writer thread measures sizes. */
static uint64_t dir_apparent_sum;
static uint64_t dir_alloc_sum;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F) {
        dir_apparent_sum += (uint64_t)st->st_size;
        dir_alloc_sum += (uint64_t)st->st_blocks * 512u;
    }
    return 0;
}

uint64_t bench_dir_bytes(const char *dir, uint64_t *alloc_bytes)
{
    dir_apparent_sum = 0;
    dir_alloc_sum = 0;
    nftw(dir, add_size, 16, FTW_PHYS);
    *alloc_bytes = dir_alloc_sum;
    return dir_apparent_sum;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_rm_rf(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
