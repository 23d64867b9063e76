/*
 * replay_main.c - a plain main() that feeds files to LLVMFuzzerTestOneInput,
 * so any compiler (gcc included, which has no libFuzzer) can run a target's
 * corpus: `fuzz_replay_ops fuzz/corpus/ops [more files or dirs]`.
 *
 * Each argument is a file or a directory (its regular files, in name order,
 * not recursive). Prints the name of each input before running it, so the
 * last name printed before a crash is the culprit. Exits 0 when every input
 * ran (a failed check aborts), 1 on unreadable arguments or no input at all.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_FILE_MAX_BYTES (64u << 20) /* larger than any corpus input */

static int run_file(const char *path, int verbose)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *nbuf = ncap <= REPLAY_FILE_MAX_BYTES ? realloc(buf, ncap) : NULL;
            if (!nbuf) {
                fprintf(stderr, "replay: %s too large or out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    if (verbose) {
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    }
    /* A private copy of exactly len bytes, so ASan sees reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (len) {
        memcpy(exact, buf, len);
    }
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; returns inputs run or -1. */
static int run_dir(const char *dir, int verbose)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t count = 0;
    size_t cap = 0;
    struct dirent *e = NULL;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **n = realloc(names, cap * sizeof(*n));
            if (!n) {
                closedir(d);
                return -1;
            }
            names = n;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count]) {
            closedir(d);
            return -1;
        }
        snprintf(names[count], len, "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof(*names), name_cmp);
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            ran += run_file(names[i], verbose) > 0;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    int verbose = getenv("FUZZ_REPLAY_QUIET") == NULL;
    long total = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = -1;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            n = run_dir(argv[i], verbose);
        } else {
            n = run_file(argv[i], verbose);
        }
        if (n < 0) {
            bad = 1;
        } else {
            total += n;
        }
    }
    printf("replay: %ld inputs ran, no failure\n", total);
    if (bad || total == 0) {
        fprintf(stderr, "replay: %s\n", bad ? "some arguments could not be read" : "no input");
        return 1;
    }
    return 0;
}
