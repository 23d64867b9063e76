/*
 * main.c - cowtree-storecheck: runs the page-store conformance kit
 * (cowtree/storecheck.h) on a store named on the command line.
 *
 *   cowtree-storecheck [--page-sizes 512,4096] [--quiet] [--seed N]
 *                      [--only CHECK] [--persistent | --volatile] STORE
 *   cowtree-storecheck --list
 *
 * STORE is memory, file:PATH or plugin:LIB.so[:ARG] (tools/storespec).
 * Prints one line per check (ok / FAIL / n/a), every violation and a
 * summary line. Exit status: 0 every check passed (or was not
 * applicable), 1 violations (or the kit could not run), 2 usage error or
 * a store that cannot be opened at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cowtree.h"
#include "cowtree/storecheck.h"
#include "storespec.h"

#define EXIT_VIOLATIONS 1
#define EXIT_USAGE 2
/* Room for the store's own reason in one line. */
#define ERR_MAX 512u

static void usage(FILE *f)
{
    fprintf(f, "usage: cowtree-storecheck [--page-sizes N,N,...] [--quiet] [--seed N]\n"
               "                          [--only CHECK] [--persistent | --volatile] STORE\n"
               "       cowtree-storecheck --list\n"
               "STORE: memory | file:PATH | plugin:LIB.so[:ARG]\n"
               "file:PATH must be missing or empty: the checks overwrite it.\n"
               "Page sizes default to every power of two from 512 to 65536.\n"
               "Exit: 0 all checks pass, 1 violations, 2 usage error.\n");
}

/* The kit's open callback: ctx is the spec. Prints the store's reason for
   a failed open (the kit reports the code as a violation). */
static int open_spec(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    char err[ERR_MAX];
    int rc = storespec_open((const char *)ctx, page_size, flags, out, err, sizeof(err));
    if (rc != CT_OK && !(rc == CT_NOTSUP && !(flags & CT_STORE_PLUGIN_FRESH))) {
        fprintf(stderr, "cowtree-storecheck: %s\n", err);
    }
    return rc;
}

/* Parses "512,4096" into sizes; returns the count, 0 on a bad list. */
static uint32_t parse_sizes(const char *s, uint32_t *sizes, uint32_t cap)
{
    uint32_t n = 0;
    while (*s) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || v > CT_PAGE_SIZE_MAX || n == cap) {
            return 0;
        }
        sizes[n++] = (uint32_t)v;
        s = end;
        if (*s == ',') {
            s++;
            if (!*s) {
                return 0;
            }
        } else if (*s) {
            return 0;
        }
    }
    return n;
}

static int list_checks(void)
{
    for (uint32_t i = 0; ct_storecheck_name(i); i++) {
        printf("%s\n", ct_storecheck_name(i));
    }
    return 0;
}

/* Opens and closes the store once, so a bad spec is a usage error. */
static int try_open(const char *spec, uint32_t page_size)
{
    char err[ERR_MAX];
    ct_pagestore *ps = NULL;
    int rc = storespec_open(spec, page_size, CT_STORE_PLUGIN_FRESH, &ps, err, sizeof(err));
    if (rc != CT_OK) {
        fprintf(stderr, "cowtree-storecheck: cannot open the store: %s\n", err);
        return EXIT_USAGE;
    }
    ps->ops->close(ps);
    return 0;
}

int main(int argc, char **argv)
{
    ct_storecheck_options opt;
    ct_storecheck_options_init(&opt);
    uint32_t sizes[CT_STORECHECK_PAGE_SIZES_MAX];
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--list") == 0) {
            return list_checks();
        } else if (strcmp(a, "--quiet") == 0) {
            opt.flags |= CT_STORECHECK_QUIET;
        } else if (strcmp(a, "--persistent") == 0) {
            opt.persistence = CT_STORECHECK_PERSISTENT;
        } else if (strcmp(a, "--volatile") == 0) {
            opt.persistence = CT_STORECHECK_VOLATILE;
        } else if (strcmp(a, "--page-sizes") == 0 && val) {
            opt.page_sizes = sizes;
            opt.page_size_count = parse_sizes(val, sizes, CT_STORECHECK_PAGE_SIZES_MAX);
            if (opt.page_size_count == 0) {
                fprintf(stderr, "cowtree-storecheck: bad --page-sizes \"%s\"\n", val);
                return EXIT_USAGE;
            }
            i++;
        } else if (strcmp(a, "--seed") == 0 && val) {
            char *end = NULL;
            errno = 0;
            opt.seed = strtoull(val, &end, 0);
            if (errno != 0 || end == val || *end != '\0' || val[0] == '-') {
                fprintf(stderr, "cowtree-storecheck: bad --seed \"%s\"\n", val);
                return EXIT_USAGE;
            }
            i++;
        } else if (strcmp(a, "--only") == 0 && val) {
            opt.only = val;
            i++;
        } else if (a[0] == '-' || spec) {
            usage(stderr);
            return EXIT_USAGE;
        } else {
            spec = a;
        }
    }
    if (!spec) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *file = strncmp(spec, "file:", 5) == 0 ? spec + 5 : NULL;
    struct stat st;
    if (file && stat(file, &st) == 0 && st.st_size > 0) {
        /* Every check opens the store fresh, which truncates the file. */
        fprintf(stderr,
                "cowtree-storecheck: %s exists and is not empty: the checks would "
                "overwrite it (remove it, or name another path)\n",
                file);
        return EXIT_USAGE;
    }
    opt.out = stdout;
    /* Options the kit would reject are usage errors, found before any open. */
    ct_storecheck_report rep;
    if (try_open(spec, opt.page_sizes ? sizes[0] : CT_PAGE_SIZE_MIN) != 0) {
        return EXIT_USAGE;
    }
    int rc = ct_storecheck_run(open_spec, (void *)spec, &opt, &rep);
    fflush(stdout);
    if (rc == CT_INVALID) {
        fprintf(stderr, "cowtree-storecheck: bad options (page sizes must be powers of two "
                        "from 512 to 65536; --only takes a name from --list)\n");
        return EXIT_USAGE;
    }
    if (rc == CT_NOMEM) {
        fprintf(stderr, "cowtree-storecheck: out of memory\n");
        return EXIT_VIOLATIONS;
    }
    return rc == CT_OK ? 0 : EXIT_VIOLATIONS;
}
