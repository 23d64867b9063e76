/*
 * main.c - the cowtree command: dispatches to a subcommand and holds the
 * helpers they share (opening a database, one-line error reports, exit
 * codes, reading files). Every error is reported once, on stderr, as
 * "cowtree CMD: FILE: what: CT_NAME (message)"; stdout carries only data.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowtree/filestore.h"
#include "tool.h"

typedef struct tool_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} tool_command;

static const tool_command commands[] = {
    {"stat", cmd_stat, "commit id, page counts by type, depth, entries, fill factor"},
    {"check", cmd_check, "verify every page (exit 1 when corrupt)"},
    {"buckets", cmd_buckets, "list the named buckets with their entries and depth"},
    {"dump", cmd_dump, "write a bucket as text (mdb_dump format)"},
    {"load", cmd_load, "read dump text into a database"},
    {"get", cmd_get, "print the value of a key"},
    {"put", cmd_put, "set a key to a value"},
    {"del", cmd_del, "delete a key"},
    {"scan", cmd_scan, "list keys and values in order, by range or prefix"},
    {"copy", cmd_copy, "copy the last commit into a new file, optionally compacted"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: cowtree COMMAND [OPTIONS] FILE [ARGS]\n"
               "       cowtree COMMAND --help\n\n"
               "Commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nExit status: 0 ok, 1 not found or corrupt, 2 usage error, 3 other error.\n"
               "See cowtree(1).\n");
}

int tool_exit_code(int rc)
{
    switch (rc) {
    case CT_OK:
        return TOOL_EXIT_OK;
    case CT_NOTFOUND:
    case CT_CORRUPT:
        return TOOL_EXIT_NOTFOUND;
    default:
        return TOOL_EXIT_ERROR;
    }
}

static const char *hint(int rc)
{
    switch (rc) {
    case CT_BUSY:
        return "database is locked: another process has it open";
    case CT_CORRUPT:
        return "database corrupt: run cowtree check for the page";
    default:
        return ct_strerror(rc);
    }
}

int tool_fail(const char *cmd, const char *path, const char *what, int rc)
{
    fprintf(stderr, "cowtree %s: ", cmd);
    if (path) {
        tool_print_escaped(stderr, path, strlen(path));
        fputs(": ", stderr);
    }
    if (what) {
        fprintf(stderr, "%s: ", what);
    }
    fprintf(stderr, "%s (%s)\n", ct_errname(rc), hint(rc));
    return tool_exit_code(rc);
}

int tool_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cowtree %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try: cowtree %s --help)\n", cmd);
    return TOOL_EXIT_USAGE;
}

int tool_bucket_arg_bad(const char *cmd, const char *name)
{
    size_t len = strlen(name);
    if (len > 0 && len <= CT_BUCKET_NAME_MAX) {
        return 0;
    }
    tool_usage_error(cmd, "bucket names are 1..%u bytes", CT_BUCKET_NAME_MAX);
    return 1;
}

const char *tool_option_word(char *const *argv, int c, const struct option *opts, int longindex)
{
    static char word[80];
    const char *last = optind > 0 ? argv[optind - 1] : "";
    if (longindex >= 0) {
        snprintf(word, sizeof(word), "--%s", opts[longindex].name);
        return word;
    }
    int ch = c == '?' || c == ':' ? optopt : c;
    /* A long option missing its argument may leave longindex unset: its
       word is the last one read. */
    int long_word = (c == '?' || c == ':') && strncmp(last, "--", 2) == 0;
    if (ch > ' ' && ch < 127 && !long_word) {
        snprintf(word, sizeof(word), "-%c", ch);
        return word;
    }
    return last;
}

/* Warns when open recovered an older commit than the newest the file
   holds: after a crash during that commit it is expected (it was never
   acknowledged), otherwise the medium damaged it. The command goes on,
   and a command that writes makes the older commit the last for good. */
static void warn_if_fell_back(const char *cmd, const char *path, ct_db *db)
{
    struct ct_stat st;
    if (ct_stat(db, &st) != CT_OK || (st.rejected_txnid == 0 && st.meta_slots_invalid == 0)) {
        return;
    }
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    if (st.rejected_txnid != 0) {
        fprintf(stderr,
                ": warning: the newest commit (txn %llu) fails verification at page %llu; "
                "this is txn %llu (expected only after a crash; otherwise damage: run cowtree "
                "check)\n",
                (unsigned long long)st.rejected_txnid, (unsigned long long)st.rejected_pgno,
                (unsigned long long)st.txnid);
    } else {
        fprintf(stderr,
                ": warning: meta slot %u fails its checksum; this is txn %llu (expected only "
                "after a crash during a commit; otherwise damage: run cowtree check)\n",
                (st.meta_slots_invalid & 1u) ? 0u : 1u, (unsigned long long)st.txnid);
    }
}

int tool_open(const char *cmd, const char *path, int mode, uint32_t page_size, ct_db **out)
{
    ct_options opt;
    ct_options_init(&opt);
    if (mode == TOOL_OPEN_READ || mode == TOOL_OPEN_INSPECT) {
        opt.flags = CT_RDONLY | CT_NOCREATE;
    } else if (mode == TOOL_OPEN_WRITE) {
        opt.flags = CT_NOCREATE;
    }
    opt.page_size = page_size;
    int rc = ct_open_path(path, &opt, out);
    if (rc == CT_OK) {
        if (mode != TOOL_OPEN_INSPECT) {
            warn_if_fell_back(cmd, path, *out);
        }
        return TOOL_EXIT_OK;
    }
    *out = NULL;
    struct stat st;
    int exists = stat(path, &st) == 0;
    /* A writable open says CT_NOTFOUND for a small file (two pages of the
       default size at most) with no valid meta, a read-only one
       CT_CORRUPT: report both as the writable open does. */
    ct_filestore_options fo;
    ct_filestore_options_init(&fo); /* its page_size: a new file's, and the engine's guess */
    int small = exists && st.st_size <= 2 * (off_t)fo.page_size;
    if (rc == CT_NOTFOUND || (rc == CT_CORRUPT && small)) {
        /* The engine says CT_NOTFOUND for a missing file, an empty one and
           one of at most two pages with no valid meta: tell them apart. */
        fprintf(stderr, "cowtree %s: ", cmd);
        tool_print_escaped(stderr, path, strlen(path));
        if (!exists) {
            fprintf(stderr, ": cannot open: CT_NOTFOUND (no such file)\n");
        } else if (st.st_size == 0) {
            fprintf(stderr, ": cannot open: CT_NOTFOUND (an empty file, not a database)\n");
        } else {
            fprintf(stderr,
                    ": cannot open: CT_NOTFOUND (%lld bytes with no valid meta page: not a "
                    "database, or one whose creation a crash cut short)\n",
                    (long long)st.st_size);
        }
        return TOOL_EXIT_ERROR;
    }
    if (rc == CT_CORRUPT) {
        tool_fail(cmd, path, "cannot open: no valid meta page (pages 0 and 1)", rc);
        return TOOL_EXIT_NOTFOUND;
    }
    tool_fail(cmd, path, "cannot open", rc);
    return TOOL_EXIT_ERROR;
}

int tool_open_create(const char *cmd, const char *path, uint32_t page_size, ct_db **out,
                     int *created)
{
    struct stat st;
    int missing = stat(path, &st) != 0 && errno == ENOENT;
    int empty = !missing && S_ISREG(st.st_mode) && st.st_size == 0;
    int code = tool_open(cmd, path, missing || empty ? TOOL_OPEN_CREATE : TOOL_OPEN_WRITE,
                         page_size, out);
    *created = code == TOOL_EXIT_OK && missing;
    return code;
}

void tool_close_created(ct_db *db, const char *path, int created, int code)
{
    if (!db) {
        return;
    }
    struct ct_stat st;
    /* Creation is txns 0 and 1 (recover.c); any commit is above. */
    if (code != TOOL_EXIT_OK && created && ct_stat(db, &st) == CT_OK && st.txnid <= 1 &&
        unlink(path) != 0) {
        fprintf(stderr, "cowtree: cannot remove the new, empty ");
        tool_print_escaped(stderr, path, strlen(path));
        fprintf(stderr, ": %s\n", strerror(errno));
    }
    ct_close(db);
}

int tool_open_bucket(const char *cmd, const char *path, ct_txn *txn, const char *name,
                     unsigned flags, ct_bucket **out)
{
    *out = NULL;
    if (!name) {
        return TOOL_EXIT_OK;
    }
    int rc = ct_bucket_open(txn, name, flags, out);
    if (rc == CT_OK) {
        return TOOL_EXIT_OK;
    }
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    fprintf(stderr, ": bucket '");
    tool_print_escaped(stderr, name, strlen(name));
    fprintf(stderr, "': %s (%s)\n", ct_errname(rc),
            rc == CT_NOTFOUND ? "no such bucket" : ct_strerror(rc));
    return tool_exit_code(rc);
}

static int add_name(void *ctx, const char *name, size_t name_len)
{
    tool_bucket_names *names = ctx;
    tool_bucket_name *grown = realloc(names->v, (names->count + 1) * sizeof(*grown));
    if (!grown) {
        return CT_NOMEM;
    }
    names->v = grown;
    memcpy(grown[names->count].name, name, name_len + 1);
    grown[names->count].name_len = name_len;
    names->count++;
    return CT_OK;
}

int tool_bucket_names_get(ct_txn *txn, tool_bucket_names *out)
{
    out->v = NULL;
    out->count = 0;
    int rc = ct_bucket_list(txn, add_name, out);
    if (rc != CT_OK) {
        tool_bucket_names_free(out);
    }
    return rc;
}

void tool_bucket_names_free(tool_bucket_names *names)
{
    free(names->v);
    names->v = NULL;
    names->count = 0;
}

int tool_read_file(const char *path, tool_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        return -1;
    }
    int rc = 0;
    for (;;) {
        if (tool_buf_reserve(out, 65536) != 0) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        size_t n = fread(out->data + out->len, 1, out->cap - out->len, f);
        out->len += n;
        if (n == 0) {
            if (ferror(f)) {
                errno = EIO;
                rc = -1;
            }
            break;
        }
    }
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

int tool_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int tool_progress_enabled(void)
{
    const char *force = getenv("COWTREE_PROGRESS");
    if (force && *force) {
        return strcmp(force, "0") != 0;
    }
    return isatty(STDERR_FILENO);
}

/* code, unless it is success and stdout cannot be written out (a full
   disk, a closed pipe): then that is reported and the exit is 3. */
static int flushed_stdout(const char *name, int code)
{
    if (fflush(stdout) != 0 && code == TOOL_EXIT_OK) {
        fprintf(stderr, "cowtree %s: write error on standard output: %s\n", name,
                strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < COMMAND_COUNT; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return flushed_stdout(argv[2], commands[i].run(2, hargv));
                }
            }
        }
        usage(stdout);
        return flushed_stdout("help", TOOL_EXIT_OK);
    }
    if (strcmp(name, "--version") == 0) {
        printf("cowtree %d.%d.%d\n", CT_VERSION_MAJOR, CT_VERSION_MINOR, CT_VERSION_PATCH);
        return flushed_stdout("--version", TOOL_EXIT_OK);
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return flushed_stdout(name, commands[i].run(argc - 1, argv + 1));
        }
    }
    fprintf(stderr, "cowtree: unknown command '");
    tool_print_escaped(stderr, name, strlen(name));
    fprintf(stderr, "' (try: cowtree --help)\n");
    return TOOL_EXIT_USAGE;
}
