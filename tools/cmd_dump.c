/*
 * cmd_dump.c - dump and load in the text format of LMDB's mdb_dump
 * (documented in docs/cowtree.1, DUMP FORMAT): per bucket a section of
 * header lines ("VERSION=3", "format=bytevalue" or "format=print",
 * "type=btree", optionally "database=NAME"), "HEADER=END", then two lines
 * per entry, key then value, each starting with one space and holding the
 * bytes in hex (bytevalue) or printable form (print), then "DATA=END".
 * Loaders ignore header keys they do not know. A dump reads one snapshot
 * and replaces its output file only when complete. A load checks the
 * whole input before it opens the database for writing, so input that
 * does not parse changes nothing; it then commits in batches, so a load
 * that fails after that (a key that exists under -N, a full disk) leaves
 * the batches before the failure committed (it says how many entries).
 */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowtree/filestore.h"
#include "cowtree/memstore.h"
#include "report.h"
#include "tool.h"

#define DUMP_VERSION 3

static const struct option dump_opts[] = {
    {"bucket", required_argument, NULL, 'b'}, {"all", no_argument, NULL, 'a'},
    {"print", no_argument, NULL, 'p'},        {"output", required_argument, NULL, 'o'},
    {"input", required_argument, NULL, 'f'},  {"no-overwrite", no_argument, NULL, 'N'},
    {"batch", required_argument, NULL, 'B'},  {"page-size", required_argument, NULL, 'P'},
    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
};

typedef struct dump_args {
    const char *bucket;
    const char *file; /* -o for dump, -f for load; NULL = stdout/stdin */
    int all;
    int print;
    int no_overwrite;
    int help;
    uint64_t batch;
    uint32_t page_size;
} dump_args;

static int parse_dump_opts(const char *cmd, int argc, char **argv, const char *shorts, dump_args *a)
{
    memset(a, 0, sizeof(*a));
    a->batch = TOOL_LOAD_BATCH_ENTRIES;
    optind = 0;
    opterr = 0;
    for (;;) {
        int li = -1;
        int c = getopt_long(argc, argv, shorts, dump_opts, &li);
        if (c == -1) {
            break;
        }
        uint64_t n = 0;
        /* Long options map to short ones; reject those the command lacks. */
        if (c != '?' && c != ':' && !strchr(shorts, c)) {
            return tool_usage_error(cmd, "option %s does not apply",
                                    tool_option_word(argv, c, dump_opts, li));
        }
        switch (c) {
        case 'b':
            if (tool_bucket_arg_bad(cmd, optarg)) {
                return TOOL_EXIT_USAGE;
            }
            a->bucket = optarg;
            break;
        case 'a':
            a->all = 1;
            break;
        case 'p':
            a->print = 1;
            break;
        case 'o':
        case 'f':
            a->file = optarg;
            break;
        case 'N':
            a->no_overwrite = 1;
            break;
        case 'h':
            a->help = 1;
            break;
        case 'B':
            if (tool_parse_u64(optarg, &a->batch) != 0) {
                return tool_usage_error(cmd, "--batch wants a number, not '%s'", optarg);
            }
            break;
        case 'P':
            if (tool_parse_u64(optarg, &n) != 0 || n < CT_PAGE_SIZE_MIN || n > CT_PAGE_SIZE_MAX ||
                (n & (n - 1)) != 0) {
                return tool_usage_error(cmd, "--page-size wants a power of two from %u to %u",
                                        CT_PAGE_SIZE_MIN, CT_PAGE_SIZE_MAX);
            }
            a->page_size = (uint32_t)n;
            break;
        case ':':
            return tool_usage_error(cmd, "option %s needs an argument",
                                    tool_option_word(argv, c, dump_opts, li));
        default:
            return tool_usage_error(cmd, "unknown option %s",
                                    tool_option_word(argv, c, dump_opts, li));
        }
    }
    if (!a->help && argc - optind != 1) {
        return tool_usage_error(cmd, "wants FILE");
    }
    if (a->all && a->bucket) {
        return tool_usage_error(cmd, "-a and -b exclude each other");
    }
    return TOOL_EXIT_OK;
}

/* ---- dump ---- */

typedef struct dumper {
    FILE *out;
    int print;
    uint64_t page_size;
    uint64_t txnid;
    uint64_t dumped;
    int progress;
    tool_buf line;
} dumper;

static int dump_bytes(dumper *d, const void *p, size_t n)
{
    d->line.len = 0;
    int rc = tool_buf_append(&d->line, " ", 1);
    if (rc == 0) {
        rc = d->print ? tool_print_encode(&d->line, p, n) : tool_hex_encode(&d->line, p, n);
    }
    if (rc == 0) {
        rc = tool_buf_append(&d->line, "\n", 1);
    }
    if (rc != 0) {
        return CT_NOMEM;
    }
    return fwrite(d->line.data, 1, d->line.len, d->out) == d->line.len ? CT_OK : CT_IO;
}

static int dump_header(dumper *d, const uint8_t *name, size_t name_len)
{
    fprintf(d->out, "VERSION=%d\nformat=%s\ntype=btree\n", DUMP_VERSION,
            d->print ? "print" : "bytevalue");
    if (name) {
        fputs("database=", d->out);
        tool_print_escaped(d->out, name, name_len);
        fputc('\n', d->out);
    }
    fprintf(d->out, "db_pagesize=%" PRIu64 "\ntxnid=%" PRIu64 "\nHEADER=END\n", d->page_size,
            d->txnid);
    return ferror(d->out) ? CT_IO : CT_OK;
}

/* Dumps bucket b (NULL = the default bucket), whose name (NULL for the
   default bucket) goes into the header. Returns a CT_* code. */
static int dump_section(dumper *d, ct_txn *txn, ct_bucket *b, const uint8_t *name, size_t name_len)
{
    ct_cursor *c = NULL;
    int rc = dump_header(d, name, name_len);
    if (rc == CT_OK) {
        rc = ct_cursor_open(txn, b, &c);
    }
    if (rc == CT_OK) {
        rc = ct_cursor_first(c);
    }
    while (rc == CT_OK) {
        const void *k = NULL;
        const void *v = NULL;
        size_t klen = 0;
        size_t vlen = 0;
        rc = ct_cursor_get(c, &k, &klen, &v, &vlen);
        if (rc == CT_OK) {
            rc = dump_bytes(d, k, klen);
        }
        if (rc == CT_OK) {
            rc = dump_bytes(d, v, vlen);
        }
        if (rc == CT_OK && ++d->dumped % TOOL_PROGRESS_EVERY == 0 && d->progress) {
            fprintf(stderr, "\rdumped %" PRIu64 " entries", d->dumped);
        }
        if (rc == CT_OK) {
            rc = ct_cursor_next(c);
        }
    }
    ct_cursor_close(c);
    if (rc == CT_NOTFOUND) {
        fputs("DATA=END\n", d->out);
        rc = ferror(d->out) ? CT_IO : CT_OK;
    }
    return rc;
}

/* What dump writes: one bucket (bucket, NULL = the default one) or, with
   -a, the default bucket and every one of names. */
static int dump_all(dumper *d, ct_txn *txn, const dump_args *a, ct_bucket *bucket,
                    const tool_bucket_names *names)
{
    if (!a->all) {
        size_t len = a->bucket ? strlen(a->bucket) : 0;
        return dump_section(d, txn, bucket, (const uint8_t *)a->bucket, len);
    }
    int rc = dump_section(d, txn, NULL, NULL, 0);
    for (size_t i = 0; rc == CT_OK && i < names->count; i++) {
        ct_bucket *b = NULL;
        rc = ct_bucket_open(txn, names->v[i].name, 0, &b);
        if (rc == CT_OK) {
            rc = dump_section(d, txn, b, (const uint8_t *)names->v[i].name, names->v[i].name_len);
        }
    }
    return rc;
}

/* Where a dump goes. A regular OUT is written as a temporary file in its
   directory and renamed over it only when the whole dump is written and
   synced, so a failed dump leaves OUT as it was and no partial file. */
typedef struct dump_output {
    FILE *f;
    const char *name; /* OUT as given, for messages; NULL = stdout */
    char *target;     /* the file tmp replaces (OUT, its links resolved) */
    char *tmp;        /* NULL when writing straight to f */
} dump_output;

static int output_error(const dump_output *o, const char *what)
{
    int err = errno;
    fprintf(stderr, "cowtree dump: ");
    tool_print_escaped(stderr, o->name, strlen(o->name));
    fprintf(stderr, ": %s: %s\n", what, strerror(err));
    return TOOL_EXIT_ERROR;
}

static int output_open(dump_output *o, const char *name)
{
    memset(o, 0, sizeof(*o));
    o->name = name;
    if (!name) {
        o->f = stdout;
        return TOOL_EXIT_OK;
    }
    struct stat st;
    int exists = stat(name, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        /* A device or a pipe (-o /dev/null): nothing to replace, and a
           rename would put a regular file in its place. */
        o->f = fopen(name, "wb");
        return o->f ? TOOL_EXIT_OK : output_error(o, "cannot open");
    }
    /* Replace the file a symbolic link points to, not the link. */
    o->target = exists ? realpath(name, NULL) : strdup(name);
    if (!o->target) {
        return output_error(o, "cannot resolve");
    }
    const char *slash = strrchr(o->target, '/');
    int dir_len = slash ? (int)(slash - o->target + 1) : 0;
    size_t tmp_size = (size_t)dir_len + sizeof(".cowtree-dump.XXXXXX");
    o->tmp = malloc(tmp_size);
    int fd = -1;
    if (o->tmp) {
        /* The same directory, so the rename is atomic. */
        snprintf(o->tmp, tmp_size, "%.*s.cowtree-dump.XXXXXX", dir_len, o->target);
        fd = mkstemp(o->tmp);
    } else {
        errno = ENOMEM;
    }
    if (fd >= 0) {
        /* mkstemp makes the file 0600: give it the mode OUT has, or the
           one a new file gets under the umask. */
        mode_t mask = umask(0);
        umask(mask);
        mode_t mode = exists ? st.st_mode & 07777 : 0666 & ~mask;
        o->f = fchmod(fd, mode) == 0 ? fdopen(fd, "wb") : NULL;
    }
    if (o->f) {
        return TOOL_EXIT_OK;
    }
    int code = output_error(o, "cannot create a temporary file beside it");
    if (fd >= 0) {
        close(fd);
        unlink(o->tmp);
    }
    free(o->tmp);
    free(o->target);
    memset(o, 0, sizeof(*o));
    return code;
}

/* Ends the output: when the dump succeeded (code 0) syncs the temporary
   file and renames it over OUT, else removes it. Returns the exit code. */
static int output_close(dump_output *o, int code)
{
    if (o->f == stdout || !o->f) {
        return code;
    }
    if (!o->tmp) {
        if (fclose(o->f) != 0 && code == TOOL_EXIT_OK) {
            code = output_error(o, "write error");
        }
        return code;
    }
    if (code == TOOL_EXIT_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)) {
        code = output_error(o, "write error");
    }
    if (fclose(o->f) != 0 && code == TOOL_EXIT_OK) {
        code = output_error(o, "write error");
    }
    if (code == TOOL_EXIT_OK && rename(o->tmp, o->target) != 0) {
        code = output_error(o, "cannot replace");
    }
    if (code != TOOL_EXIT_OK) {
        unlink(o->tmp);
    }
    free(o->tmp);
    free(o->target);
    return code;
}

/* Opens what dump reads (the bucket, or with -a the bucket names) before
   any output exists, so a missing bucket or a damaged catalog leaves OUT
   alone. Returns the exit code. */
static int dump_prepare(const char *path, const dump_args *a, ct_db *db, ct_txn *txn,
                        ct_bucket **bucket, tool_bucket_names *names)
{
    int rc = CT_OK;
    if (a->all) {
        rc = tool_bucket_names_get(txn, names);
    } else if (a->bucket) {
        rc = ct_bucket_open(txn, a->bucket, 0, bucket);
    }
    if (rc == CT_CORRUPT) {
        return report_corrupt("dump", path, db, a->all ? "listing the buckets" : "bucket");
    }
    if (rc != CT_OK && !a->all) {
        /* Its one-line report, naming the bucket. */
        return tool_open_bucket("dump", path, txn, a->bucket, 0, bucket);
    }
    return rc == CT_OK ? TOOL_EXIT_OK : tool_fail("dump", path, "listing the buckets", rc);
}

int cmd_dump(int argc, char **argv)
{
    dump_args a;
    int code = parse_dump_opts("dump", argc, argv, ":b:apo:h", &a);
    if (code != TOOL_EXIT_OK || a.help) {
        if (a.help) {
            printf("usage: cowtree dump [-b BUCKET | -a] [-p] [-o OUT] FILE\n"
                   "Writes a bucket as text in mdb_dump's format (see cowtree(1)).\n"
                   "  -b, --bucket NAME  dump the named bucket (default: the default bucket)\n"
                   "  -a, --all          the default bucket and every named bucket\n"
                   "  -p, --print        printable form instead of hex\n"
                   "  -o, --output OUT   write to OUT instead of standard output (replaced\n"
                   "                     only when the whole dump is written)\n"
                   "  -h, --help         this help\n");
        }
        return code;
    }
    const char *path = argv[optind];
    struct stat in_st;
    struct stat out_st;
    if (a.file && stat(path, &in_st) == 0 && stat(a.file, &out_st) == 0 &&
        in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
        /* Replacing OUT would destroy the database. */
        return tool_usage_error("dump", "OUT is the database file itself");
    }
    dumper d = {.print = a.print, .progress = tool_progress_enabled()};
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    ct_bucket *bucket = NULL;
    tool_bucket_names names = {0};
    struct ct_stat st;
    code = tool_open("dump", path, TOOL_OPEN_READ, 0, &db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    int rc = ct_begin(db, CT_TXN_RDONLY, &txn);
    if (rc == CT_OK) {
        rc = ct_stat(db, &st);
    }
    code = rc == CT_OK ? dump_prepare(path, &a, db, txn, &bucket, &names)
                       : tool_fail("dump", path, "begin", rc);
    dump_output out = {0};
    if (code == TOOL_EXIT_OK) {
        code = output_open(&out, a.file);
    }
    if (code == TOOL_EXIT_OK) {
        d.out = out.f;
        d.page_size = st.page_size;
        d.txnid = ct_txn_id(txn);
        rc = dump_all(&d, txn, &a, bucket, &names);
        if (d.progress && d.dumped >= TOOL_PROGRESS_EVERY) {
            fprintf(stderr, "\rdumped %" PRIu64 " entries\n", d.dumped);
        }
        if (rc == CT_IO && ferror(d.out)) {
            fprintf(stderr, "cowtree dump: write error: %s\n", strerror(errno));
            code = TOOL_EXIT_ERROR;
        } else if (rc == CT_CORRUPT) {
            code = report_corrupt("dump", path, db, "dump");
        } else if (rc != CT_OK) {
            code = tool_fail("dump", path, "dump", rc);
        }
        code = output_close(&out, code);
    }
    tool_buf_free(&d.line);
    tool_bucket_names_free(&names);
    ct_abort(txn);
    ct_close(db);
    return code;
}

/* ---- load ---- */

/* A load reads its input twice: a check pass parses and validates all of
   it without the database (db NULL), so bad input fails before the file
   is opened for writing (which writes a fence meta) or created; only then
   the load pass puts the entries, in batches. */
typedef struct loader {
    const dump_args *a;
    const char *path;
    const char *input;
    ct_db *db; /* NULL in the check pass */
    ct_txn *txn;
    ct_bucket *bucket;
    size_t key_max; /* of FILE, or of the database a load would create */
    FILE *copy;     /* check pass: where an input that cannot be reread is kept */
    char name[CT_BUCKET_NAME_MAX + 1]; /* the section's bucket; "" = default */
    int print;
    uint64_t line_no;
    uint64_t batch_entries;
    size_t batch_bytes;
    uint64_t committed;
    uint64_t loaded; /* entries checked (check pass) or put (load pass) */
    int progress;
    tool_buf key;
    tool_buf val;
} loader;

static int load_error(loader *l, const char *why)
{
    if (l->progress && l->loaded >= TOOL_PROGRESS_EVERY) {
        fputc('\n', stderr); /* end the progress line the report would run into */
    }
    fprintf(stderr, "cowtree load: ");
    tool_print_escaped(stderr, l->input, strlen(l->input));
    fprintf(stderr, ":%" PRIu64 ": %s", l->line_no, why);
    if (l->db) {
        fprintf(stderr, " (%" PRIu64 " entries committed before it)\n", l->committed);
    } else {
        fprintf(stderr, " (nothing loaded)\n");
    }
    return TOOL_EXIT_ERROR;
}

static int load_ct_error(loader *l, const char *what, int rc)
{
    char why[160];
    snprintf(why, sizeof(why), "%s: %s (%s)", what, ct_errname(rc), ct_strerror(rc));
    load_error(l, why);
    return tool_exit_code(rc) == TOOL_EXIT_NOTFOUND ? TOOL_EXIT_NOTFOUND : TOOL_EXIT_ERROR;
}

static int load_begin(loader *l)
{
    if (!l->db) {
        return TOOL_EXIT_OK;
    }
    int rc = ct_begin(l->db, 0, &l->txn);
    l->bucket = NULL;
    if (rc == CT_OK && l->name[0]) {
        rc = ct_bucket_open(l->txn, l->name, CT_CREATE, &l->bucket);
    }
    return rc == CT_OK ? TOOL_EXIT_OK : load_ct_error(l, "begin", rc);
}

static int load_commit(loader *l)
{
    if (!l->db) {
        return TOOL_EXIT_OK;
    }
    int rc = ct_commit(l->txn);
    l->txn = NULL;
    if (rc != CT_OK) {
        return load_ct_error(l, "commit", rc);
    }
    l->committed += l->batch_entries;
    l->batch_entries = 0;
    l->batch_bytes = 0;
    return TOOL_EXIT_OK;
}

static int decode_line(loader *l, const char *s, size_t n, tool_buf *out)
{
    const char *why = NULL;
    out->len = 0;
    if (n == 0 || s[0] != ' ') {
        return load_error(l, "data line does not start with a space");
    }
    int rc = l->print ? tool_print_decode(out, s + 1, n - 1, &why)
                      : tool_hex_decode(out, s + 1, n - 1, &why);
    return rc == 0 ? TOOL_EXIT_OK : load_error(l, why);
}

/* A bucket name the database takes: 1..255 bytes, no NUL, and within the
   key limit (the catalog's keys are the names). why gets the reason. */
static int bucket_name_ok(const loader *l, const uint8_t *name, size_t len, char *why,
                          size_t why_size)
{
    if (len == 0 || len > CT_BUCKET_NAME_MAX || memchr(name, 0, len) != NULL) {
        snprintf(why, why_size, "bucket name of 1..%u bytes without NUL wanted",
                 CT_BUCKET_NAME_MAX);
        return 0;
    }
    if (len > l->key_max) {
        snprintf(why, why_size,
                 "bucket name of %zu bytes is over the key limit of %zu bytes at this page "
                 "size",
                 len, l->key_max);
        return 0;
    }
    return 1;
}

static int load_database_line(loader *l, const char *s, size_t n)
{
    tool_buf name = {0};
    const char *decode_why = NULL;
    char why[160] = "";
    int ok = tool_print_decode(&name, s, n, &decode_why) == 0;
    if (!ok) {
        snprintf(why, sizeof(why), "%s", decode_why);
    } else {
        ok = bucket_name_ok(l, name.data, name.len, why, sizeof(why));
    }
    if (ok) {
        memcpy(l->name, name.data, name.len);
        l->name[name.len] = '\0';
    }
    tool_buf_free(&name);
    return ok ? TOOL_EXIT_OK : load_error(l, why);
}

/* One header line of a section. *done is set at HEADER=END. */
static int load_header_line(loader *l, const char *s, size_t n, int first, int *done)
{
    if (first) {
        if (strcmp(s, "VERSION=3") == 0) {
            return TOOL_EXIT_OK;
        }
        return load_error(l, strncmp(s, "VERSION=", 8) == 0 ? "unsupported dump VERSION"
                                                            : "not a dump: no VERSION= line");
    }
    if (strcmp(s, "HEADER=END") == 0) {
        *done = 1;
        return load_begin(l);
    }
    /* Unknown keys are skipped, so anything else that looks like a header
       line would be too: a missing HEADER=END would swallow the section's
       entries and the next section's header without a word. */
    if (s[0] == ' ') {
        return load_error(l, "data line before HEADER=END");
    }
    if (strcmp(s, "DATA=END") == 0) {
        return load_error(l, "DATA=END before HEADER=END");
    }
    if (strncmp(s, "VERSION=", 8) == 0) {
        return load_error(l, "VERSION= inside a header: HEADER=END missing before it");
    }
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) {
        return load_error(l, "header line is not KEY=VALUE");
    }
    if (strncmp(s, "format=", 7) == 0) {
        l->print = strcmp(s + 7, "print") == 0;
        if (!l->print && strcmp(s + 7, "bytevalue") != 0) {
            return load_error(l, "unknown format (bytevalue or print)");
        }
    } else if (strncmp(s, "type=", 5) == 0 && strcmp(s + 5, "btree") != 0) {
        return load_error(l, "unsupported type (btree only)");
    } else if (strncmp(s, "database=", 9) == 0 && !l->a->bucket) {
        return load_database_line(l, s + 9, n - 9);
    }
    return TOOL_EXIT_OK; /* other keys are ignored, as mdb_load does */
}

/* A key ct_put would refuse (CT_TOOBIG), found on its own line. */
static int check_key(loader *l)
{
    if (l->key.len <= l->key_max) {
        return TOOL_EXIT_OK;
    }
    char why[160];
    snprintf(why, sizeof(why),
             "key of %zu bytes is over the limit of %zu bytes at this page size: CT_TOOBIG",
             l->key.len, l->key_max);
    return load_error(l, why);
}

/* The rest of the check pass's limits, at the value line. */
static int check_entry(loader *l)
{
    char why[160];
    if (l->val.len > CT_VALUE_MAX) {
        snprintf(why, sizeof(why), "value of %zu bytes is over the limit of %zu bytes: CT_TOOBIG",
                 l->val.len, CT_VALUE_MAX);
        return load_error(l, why);
    }
    if (++l->loaded % TOOL_PROGRESS_EVERY == 0 && l->progress) {
        fprintf(stderr, "\rchecked %" PRIu64 " entries", l->loaded);
    }
    return TOOL_EXIT_OK;
}

static int load_entry(loader *l)
{
    if (!l->db) {
        return check_entry(l);
    }
    unsigned flags = l->a->no_overwrite ? CT_NOOVERWRITE : 0u;
    int rc = ct_put(l->txn, l->bucket, l->key.data, l->key.len, l->val.data, l->val.len, flags);
    if (rc == CT_EXISTS) {
        return load_error(l, "key exists and -N was given: CT_EXISTS");
    }
    if (rc != CT_OK) {
        return load_ct_error(l, "put", rc);
    }
    l->batch_entries++;
    l->batch_bytes += l->key.len + l->val.len;
    if (++l->loaded % TOOL_PROGRESS_EVERY == 0 && l->progress) {
        fprintf(stderr, "\rloaded %" PRIu64 " entries", l->loaded);
    }
    if ((l->a->batch > 0 && l->batch_entries >= l->a->batch) ||
        l->batch_bytes >= TOOL_LOAD_BATCH_BYTES) {
        int code = load_commit(l);
        return code == TOOL_EXIT_OK ? load_begin(l) : code;
    }
    return TOOL_EXIT_OK;
}

enum { LOAD_START, LOAD_HEADER, LOAD_KEY, LOAD_VALUE };

/* One pass over the input: the check pass when l->db is NULL (it also
   copies each line to l->copy when that is set), else the load pass. */
static int load_stream(loader *l, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int state = LOAD_START;
    int code = TOOL_EXIT_OK;
    l->line_no = 0;
    l->loaded = 0;
    while (code == TOOL_EXIT_OK && (got = getline(&line, &cap, in)) >= 0) {
        size_t n = (size_t)got;
        l->line_no++;
        if (l->copy && fwrite(line, 1, n, l->copy) != n) {
            code = load_error(l, "cannot keep a copy of the input for the load pass");
            break;
        }
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        if (strlen(line) != n && state != LOAD_KEY && state != LOAD_VALUE) {
            code = load_error(l, "NUL byte in a header line");
        } else if (state == LOAD_START || state == LOAD_HEADER) {
            int done = 0;
            if (state == LOAD_START) {
                l->name[0] = '\0';
                l->print = 0;
                if (l->a->bucket) {
                    snprintf(l->name, sizeof(l->name), "%s", l->a->bucket);
                }
            }
            code = load_header_line(l, line, n, state == LOAD_START, &done);
            state = done ? LOAD_KEY : LOAD_HEADER;
        } else if (state == LOAD_KEY && strcmp(line, "DATA=END") == 0) {
            code = load_commit(l);
            state = LOAD_START;
        } else if (state == LOAD_KEY) {
            code = decode_line(l, line, n, &l->key);
            if (code == TOOL_EXIT_OK) {
                code = check_key(l);
            }
            state = LOAD_VALUE;
        } else {
            code = decode_line(l, line, n, &l->val);
            if (code == TOOL_EXIT_OK) {
                code = load_entry(l);
            }
            state = LOAD_KEY;
        }
    }
    free(line);
    if (code == TOOL_EXIT_OK && ferror(in)) {
        code = load_error(l, "read error");
    } else if (code == TOOL_EXIT_OK && state != LOAD_START) {
        code = load_error(l, "unexpected end of input (no DATA=END)");
    } else if (code == TOOL_EXIT_OK && l->line_no == 0) {
        code = load_error(l, "empty input: not a dump");
    }
    return code;
}

/* The key limit of a database the load would create: the library's own
   answer for that page size, from a database in memory. */
static int new_db_key_max(uint32_t page_size, size_t *out)
{
    ct_filestore_options fs;
    ct_filestore_options_init(&fs); /* a new file's page size, when -P is not given */
    ct_memstore_options ms;
    ct_memstore_options_init(&ms);
    ms.page_size = page_size ? page_size : fs.page_size;
    ct_pagestore *store = NULL;
    ct_db *db = NULL;
    int rc = ct_memstore_create(&ms, &store);
    if (rc == CT_OK) {
        rc = ct_open(store, NULL, &db);
    }
    if (rc == CT_OK) {
        *out = ct_key_max(db);
    }
    ct_close(db);
    if (store) {
        store->ops->close(store);
    }
    return rc;
}

/* The key limit of FILE, read through a read-only open (which writes
   nothing; TOOL_OPEN_INSPECT: the load's writable open warns of a
   recovered older commit, once), or of the database a load would create
   in a missing or empty file. Returns the exit code (reported). */
static int load_key_max(loader *l)
{
    struct stat st;
    if (stat(l->path, &st) == 0 && st.st_size > 0) {
        ct_db *db = NULL;
        int code = tool_open("load", l->path, TOOL_OPEN_INSPECT, 0, &db);
        if (code == TOOL_EXIT_OK) {
            l->key_max = ct_key_max(db);
            ct_close(db);
        }
        return code;
    }
    int rc = new_db_key_max(l->a->page_size, &l->key_max);
    return rc == CT_OK ? TOOL_EXIT_OK : tool_fail("load", l->path, "key limit", rc);
}

/* When in cannot be read again from its start (a pipe, a terminal), the
   check pass keeps a copy of it in an unlinked temporary file, in TMPDIR
   or /tmp. *start gets where a rereadable input begins. */
static int load_prepare_reread(loader *l, FILE *in, off_t *start)
{
    struct stat st;
    *start = ftello(in);
    if (*start >= 0 && fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
        return TOOL_EXIT_OK;
    }
    const char *dir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/cowtree-load.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        unlink(tmp); /* removed by the system however the tool ends */
        l->copy = fdopen(fd, "w+b");
        if (!l->copy) {
            close(fd);
        }
    }
    if (!l->copy) {
        fprintf(stderr, "cowtree load: cannot create a temporary copy of ");
        tool_print_escaped(stderr, l->input, strlen(l->input));
        fprintf(stderr, " in %s: %s\n", dir && *dir ? dir : "/tmp", strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    return TOOL_EXIT_OK;
}

/* Positions the input of the load pass: the copy, or in at *start. */
static int load_reread(loader *l, FILE *in, off_t start, FILE **again)
{
    int failed = 0;
    if (l->copy) {
        failed = fflush(l->copy) != 0 || fseeko(l->copy, 0, SEEK_SET) != 0;
        *again = l->copy;
        l->copy = NULL; /* the load pass reads it, and copies nothing */
    } else {
        failed = fseeko(in, start, SEEK_SET) != 0;
        *again = in;
    }
    if (failed) {
        fprintf(stderr, "cowtree load: ");
        tool_print_escaped(stderr, l->input, strlen(l->input));
        fprintf(stderr, ": cannot read it again: %s\n", strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    return TOOL_EXIT_OK;
}

int cmd_load(int argc, char **argv)
{
    dump_args a;
    int code = parse_dump_opts("load", argc, argv, ":b:f:NB:P:h", &a);
    if (code != TOOL_EXIT_OK || a.help) {
        if (a.help) {
            printf("usage: cowtree load [-b BUCKET] [-f INPUT] [-N] [--batch N] FILE\n"
                   "Reads dump text (cowtree dump, mdb_dump) into FILE, creating it if\n"
                   "missing. Each section goes to the bucket its database= line names (created\n"
                   "if missing), or the default bucket. The whole input is checked first:\n"
                   "input that does not parse leaves FILE untouched.\n"
                   "  -b, --bucket NAME  load every section into bucket NAME\n"
                   "  -f, --input IN     read IN instead of standard input\n"
                   "  -N, --no-overwrite fail on a key that exists\n"
                   "  --batch N          entries per commit (default %u; 0 = one commit per\n"
                   "                     section; a batch also ends at 16 MiB of data)\n"
                   "  --page-size N      page size of a new FILE (default 4096)\n"
                   "  -h, --help         this help\n",
                   TOOL_LOAD_BATCH_ENTRIES);
        }
        return code;
    }
    loader l = {.a = &a,
                .path = argv[optind],
                .input = a.file ? a.file : "(stdin)",
                .progress = tool_progress_enabled()};
    FILE *in = a.file ? fopen(a.file, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "cowtree load: ");
        tool_print_escaped(stderr, a.file, strlen(a.file));
        fprintf(stderr, ": cannot open: %s\n", strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    char why[160];
    off_t start = 0;
    FILE *again = NULL;
    code = load_key_max(&l);
    if (code == TOOL_EXIT_OK && a.bucket &&
        !bucket_name_ok(&l, (const uint8_t *)a.bucket, strlen(a.bucket), why, sizeof(why))) {
        fprintf(stderr, "cowtree load: ");
        tool_print_escaped(stderr, l.path, strlen(l.path));
        fprintf(stderr, ": -b: %s\n", why);
        code = TOOL_EXIT_ERROR;
    }
    if (code == TOOL_EXIT_OK) {
        code = load_prepare_reread(&l, in, &start);
    }
    if (code == TOOL_EXIT_OK) {
        code = load_stream(&l, in);
    }
    if (l.progress && l.loaded >= TOOL_PROGRESS_EVERY && code == TOOL_EXIT_OK) {
        fprintf(stderr, "\rchecked %" PRIu64 " entries\n", l.loaded);
    }
    if (code == TOOL_EXIT_OK) {
        code = load_reread(&l, in, start, &again);
    }
    int created = 0;
    if (code == TOOL_EXIT_OK) {
        code = tool_open_create("load", l.path, a.page_size, &l.db, &created);
    }
    if (code == TOOL_EXIT_OK) {
        code = load_stream(&l, again);
        if (l.progress && l.loaded >= TOOL_PROGRESS_EVERY) {
            fprintf(stderr, "\rloaded %" PRIu64 " entries\n", l.loaded);
        }
    }
    ct_abort(l.txn);
    tool_close_created(l.db, l.path, created, code);
    if (l.copy) {
        fclose(l.copy);
    }
    if (again && again != in) {
        fclose(again);
    }
    if (in != stdin) {
        fclose(in);
    }
    tool_buf_free(&l.key);
    tool_buf_free(&l.val);
    return code;
}
