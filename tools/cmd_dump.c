/*
 * cmd_dump.c - dump and load in the text format of LMDB's mdb_dump
 * (documented in docs/cowtree.1, DUMP FORMAT): per bucket a section of
 * header lines ("VERSION=3", "format=bytevalue" or "format=print",
 * "type=btree", optionally "database=NAME"), "HEADER=END", then two lines
 * per entry, key then value, each starting with one space and holding the
 * bytes in hex (bytevalue) or printable form (print), then "DATA=END".
 * Loaders ignore header keys they do not know. A dump reads one snapshot;
 * a load commits in batches, so a failed load leaves the batches before
 * the failure committed (it says how many entries).
 */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
    const char *path;
    int print;
    uint64_t page_size;
    uint64_t txnid;
    uint64_t dumped;
    int progress;
    int missing_bucket; /* the bucket to dump does not exist */
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

/* Dumps one bucket (name NULL = the default bucket). Returns a CT_* code. */
static int dump_section(dumper *d, ct_txn *txn, const uint8_t *name, size_t name_len)
{
    ct_bucket *b = NULL;
    ct_cursor *c = NULL;
    int rc = CT_OK;
    if (name) {
        rc = ct_bucket_open(txn, (const char *)name, 0, &b);
        if (rc != CT_OK) {
            d->missing_bucket = rc == CT_NOTFOUND;
            return rc;
        }
    }
    rc = dump_header(d, name, name_len);
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

static int dump_all(dumper *d, ct_txn *txn, const dump_args *a)
{
    if (!a->all) {
        size_t len = a->bucket ? strlen(a->bucket) : 0;
        return dump_section(d, txn, (const uint8_t *)a->bucket, len);
    }
    tool_bucket_names names;
    int rc = tool_bucket_names_get(txn, &names);
    if (rc == CT_OK) {
        rc = dump_section(d, txn, NULL, 0);
    }
    for (size_t i = 0; rc == CT_OK && i < names.count; i++) {
        rc = dump_section(d, txn, (const uint8_t *)names.v[i].name, names.v[i].name_len);
    }
    tool_bucket_names_free(&names);
    return rc;
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
                   "  -o, --output OUT   write to OUT instead of standard output\n"
                   "  -h, --help         this help\n");
        }
        return code;
    }
    const char *path = argv[optind];
    struct stat in_st;
    struct stat out_st;
    if (a.file && stat(path, &in_st) == 0 && stat(a.file, &out_st) == 0 &&
        in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
        /* Opening OUT truncates it: that would destroy the database. */
        return tool_usage_error("dump", "OUT is the database file itself");
    }
    dumper d = {.path = path, .print = a.print, .progress = tool_progress_enabled()};
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    struct ct_stat st;
    code = tool_open("dump", path, TOOL_OPEN_READ, 0, &db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    int rc = ct_begin(db, CT_TXN_RDONLY, &txn);
    if (rc == CT_OK) {
        rc = ct_stat(db, &st);
    }
    if (rc != CT_OK) {
        ct_abort(txn);
        ct_close(db);
        return tool_fail("dump", path, "begin", rc);
    }
    d.page_size = st.page_size;
    d.txnid = ct_txn_id(txn);
    d.out = a.file ? fopen(a.file, "wb") : stdout;
    if (!d.out) {
        fprintf(stderr, "cowtree dump: ");
        tool_print_escaped(stderr, a.file, strlen(a.file));
        fprintf(stderr, ": cannot create: %s\n", strerror(errno));
        code = TOOL_EXIT_ERROR;
    } else {
        rc = dump_all(&d, txn, &a);
        if (d.progress && d.dumped >= TOOL_PROGRESS_EVERY) {
            fprintf(stderr, "\rdumped %" PRIu64 " entries\n", d.dumped);
        }
        if (d.missing_bucket) {
            code = tool_open_bucket("dump", path, txn, a.bucket, 0, &(ct_bucket *){NULL});
        } else if (rc == CT_IO && ferror(d.out)) {
            fprintf(stderr, "cowtree dump: write error: %s\n", strerror(errno));
            code = TOOL_EXIT_ERROR;
        } else if (rc != CT_OK) {
            code = tool_fail("dump", path, "dump", rc);
        }
        if (d.out != stdout && fclose(d.out) != 0 && code == TOOL_EXIT_OK) {
            fprintf(stderr, "cowtree dump: write error: %s\n", strerror(errno));
            code = TOOL_EXIT_ERROR;
        }
    }
    tool_buf_free(&d.line);
    ct_abort(txn);
    ct_close(db);
    return code;
}

/* ---- load ---- */

typedef struct loader {
    const dump_args *a;
    const char *path;
    const char *input;
    ct_db *db;
    ct_txn *txn;
    ct_bucket *bucket;
    char name[CT_BUCKET_NAME_MAX + 1]; /* the section's bucket; "" = default */
    int print;
    uint64_t line_no;
    uint64_t batch_entries;
    size_t batch_bytes;
    uint64_t committed;
    uint64_t loaded;
    int progress;
    tool_buf key;
    tool_buf val;
} loader;

static int load_error(loader *l, const char *why)
{
    fprintf(stderr, "cowtree load: ");
    tool_print_escaped(stderr, l->input, strlen(l->input));
    fprintf(stderr, ":%" PRIu64 ": %s (%" PRIu64 " entries committed before it)\n", l->line_no, why,
            l->committed);
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
    int rc = ct_begin(l->db, 0, &l->txn);
    l->bucket = NULL;
    if (rc == CT_OK && l->name[0]) {
        rc = ct_bucket_open(l->txn, l->name, CT_CREATE, &l->bucket);
    }
    return rc == CT_OK ? TOOL_EXIT_OK : load_ct_error(l, "begin", rc);
}

static int load_commit(loader *l)
{
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

/* One header line of a section. *done is set at HEADER=END. */
static int load_header_line(loader *l, const char *s, size_t n, int first, int *done)
{
    if (first && strcmp(s, "VERSION=3") != 0) {
        return load_error(l, strncmp(s, "VERSION=", 8) == 0 ? "unsupported dump VERSION"
                                                            : "not a dump: no VERSION= line");
    }
    if (strcmp(s, "HEADER=END") == 0) {
        *done = 1;
        return load_begin(l);
    }
    if (strncmp(s, "format=", 7) == 0) {
        l->print = strcmp(s + 7, "print") == 0;
        if (!l->print && strcmp(s + 7, "bytevalue") != 0) {
            return load_error(l, "unknown format (bytevalue or print)");
        }
    } else if (strncmp(s, "type=", 5) == 0 && strcmp(s + 5, "btree") != 0) {
        return load_error(l, "unsupported type (btree only)");
    } else if (strncmp(s, "database=", 9) == 0 && !l->a->bucket) {
        tool_buf name = {0};
        const char *why = "bucket name of 1..255 bytes without NUL wanted";
        int bad = tool_print_decode(&name, s + 9, n - 9, &why) != 0 || name.len == 0 ||
                  name.len > CT_BUCKET_NAME_MAX || memchr(name.data, 0, name.len) != NULL;
        if (!bad) {
            memcpy(l->name, name.data, name.len);
            l->name[name.len] = '\0';
        }
        tool_buf_free(&name);
        if (bad) {
            return load_error(l, why);
        }
    }
    return TOOL_EXIT_OK; /* other keys are ignored, as mdb_load does */
}

static int load_entry(loader *l)
{
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

static int load_stream(loader *l, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int state = LOAD_START;
    int code = TOOL_EXIT_OK;
    while (code == TOOL_EXIT_OK && (got = getline(&line, &cap, in)) >= 0) {
        size_t n = (size_t)got;
        l->line_no++;
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
        code = load_error(l, "unexpected end of input (no DATA=END): the last batch is not "
                             "committed");
    } else if (code == TOOL_EXIT_OK && l->line_no == 0) {
        code = load_error(l, "empty input: not a dump");
    }
    return code;
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
                   "if missing), or the default bucket.\n"
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
    if (a.bucket && (strlen(a.bucket) == 0 || strlen(a.bucket) > CT_BUCKET_NAME_MAX)) {
        return tool_usage_error("load", "bucket names are 1..%u bytes", CT_BUCKET_NAME_MAX);
    }
    FILE *in = a.file ? fopen(a.file, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "cowtree load: ");
        tool_print_escaped(stderr, a.file, strlen(a.file));
        fprintf(stderr, ": cannot open: %s\n", strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    int created = 0;
    code = tool_open_create("load", l.path, a.page_size, &l.db, &created);
    if (code == TOOL_EXIT_OK) {
        code = load_stream(&l, in);
        if (l.progress && l.loaded >= TOOL_PROGRESS_EVERY) {
            fprintf(stderr, "\rloaded %" PRIu64 " entries\n", l.loaded);
        }
    }
    ct_abort(l.txn);
    tool_close_created(l.db, l.path, created, code);
    if (in != stdin) {
        fclose(in);
    }
    tool_buf_free(&l.key);
    tool_buf_free(&l.val);
    return code;
}
