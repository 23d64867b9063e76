/*
 * cmd_data.c - get, put, del and scan: single keys and ordered ranges.
 * Keys and values on the command line are taken as text (the bytes of the
 * argument) or, with --hex, as hex; output is escaped (or hex) so no byte
 * of the data reaches a terminal raw, unless get --raw is asked for.
 * Reads use a read-only open and one read txn; writes one write txn.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

/* Options shared by the data commands; each command accepts a subset. */
typedef struct data_opts {
    const char *bucket;
    int hex;
    int raw;
    int keys_only;
    int reverse;
    int no_overwrite;
    const char *value_file;
    const char *key_file;
    const char *from;
    const char *to;
    const char *prefix;
    uint64_t limit;
    int limited; /* --limit given (0 is a limit: nothing is shown) */
    uint32_t page_size;
    int help;
} data_opts;

enum {
    OPT_HEX = 256,
    OPT_RAW,
    OPT_VALUE_FILE,
    OPT_KEY_FILE,
    OPT_FROM,
    OPT_TO,
    OPT_PREFIX,
    OPT_REVERSE,
    OPT_LIMIT,
    OPT_KEYS_ONLY,
    OPT_PAGE_SIZE
};

static const struct option long_opts[] = {
    {"bucket", required_argument, NULL, 'b'},
    {"hex", no_argument, NULL, OPT_HEX},
    {"raw", no_argument, NULL, OPT_RAW},
    {"value-file", required_argument, NULL, OPT_VALUE_FILE},
    {"key-file", required_argument, NULL, OPT_KEY_FILE},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"reverse", no_argument, NULL, OPT_REVERSE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"keys-only", no_argument, NULL, OPT_KEYS_ONLY},
    {"no-overwrite", no_argument, NULL, 'N'},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* allowed: the long option codes (and 'b', 'N') this command accepts. */
static int parse_opts(const char *cmd, int argc, char **argv, const int *allowed, data_opts *o)
{
    memset(o, 0, sizeof(*o));
    optind = 0;
    opterr = 0;
    for (;;) {
        int li = -1;
        int c = getopt_long(argc, argv, ":b:Nh", long_opts, &li);
        if (c == -1) {
            break;
        }
        if (c == '?' || c == ':') {
            const char *bad = tool_option_word(argv, c, long_opts, li);
            return tool_usage_error(
                cmd, c == ':' ? "option %s needs an argument" : "unknown option %s", bad);
        }
        int ok = c == 'h';
        for (const int *a = allowed; *a; a++) {
            ok |= *a == c;
        }
        if (!ok) {
            return tool_usage_error(cmd, "option %s does not apply",
                                    tool_option_word(argv, c, long_opts, li));
        }
        uint64_t n = 0;
        switch (c) {
        case 'b':
            if (tool_bucket_arg_bad(cmd, optarg)) {
                return TOOL_EXIT_USAGE;
            }
            o->bucket = optarg;
            break;
        case 'N':
            o->no_overwrite = 1;
            break;
        case 'h':
            o->help = 1;
            break;
        case OPT_HEX:
            o->hex = 1;
            break;
        case OPT_RAW:
            o->raw = 1;
            break;
        case OPT_VALUE_FILE:
            o->value_file = optarg;
            break;
        case OPT_KEY_FILE:
            o->key_file = optarg;
            break;
        case OPT_FROM:
            o->from = optarg;
            break;
        case OPT_TO:
            o->to = optarg;
            break;
        case OPT_PREFIX:
            o->prefix = optarg;
            break;
        case OPT_REVERSE:
            o->reverse = 1;
            break;
        case OPT_KEYS_ONLY:
            o->keys_only = 1;
            break;
        case OPT_LIMIT:
            if (tool_parse_u64(optarg, &o->limit) != 0) {
                return tool_usage_error(cmd, "--limit wants a number, not '%s'", optarg);
            }
            o->limited = 1;
            break;
        case OPT_PAGE_SIZE:
            if (tool_parse_u64(optarg, &n) != 0 || n < CT_PAGE_SIZE_MIN || n > CT_PAGE_SIZE_MAX ||
                (n & (n - 1)) != 0) {
                return tool_usage_error(cmd, "--page-size wants a power of two from %u to %u",
                                        CT_PAGE_SIZE_MIN, CT_PAGE_SIZE_MAX);
            }
            o->page_size = (uint32_t)n;
            break;
        default:
            return tool_usage_error(cmd, "unexpected option");
        }
    }
    return TOOL_EXIT_OK;
}

/* The bytes an argument stands for: itself, or its hex decoding. */
static int arg_bytes(const char *cmd, const char *what, const char *s, int hex, tool_buf *out)
{
    out->len = 0;
    if (!hex) {
        if (tool_buf_append(out, s, strlen(s)) != 0) {
            return tool_fail(cmd, NULL, what, CT_NOMEM);
        }
        return TOOL_EXIT_OK;
    }
    const char *why = NULL;
    if (tool_hex_decode(out, s, strlen(s), &why) != 0) {
        return tool_usage_error(cmd, "%s is not valid hex: %s", what, why);
    }
    return TOOL_EXIT_OK;
}

/* The bytes of file path (- = stdin) as argument what. */
static int file_bytes(const char *cmd, const char *what, const char *path, tool_buf *out)
{
    out->len = 0;
    if (tool_read_file(path, out) == 0) {
        return TOOL_EXIT_OK;
    }
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    fprintf(stderr, ": cannot read the %s: %s\n", what, strerror(errno));
    return TOOL_EXIT_ERROR;
}

/* Checks the positional count (FILE, then KEY unless --key-file, then VALUE
   for put unless --value-file) and decodes KEY and VALUE. */
static int key_value_args(const char *cmd, const data_opts *o, int argc, char **argv, tool_buf *key,
                          tool_buf *val)
{
    int want = 1 + (o->key_file ? 0 : 1) + (val && !o->value_file ? 1 : 0);
    if (val && o->key_file && o->value_file && strcmp(o->key_file, "-") == 0 &&
        strcmp(o->value_file, "-") == 0) {
        return tool_usage_error(cmd, "--key-file - and --value-file - would both read standard "
                                     "input");
    }
    if (argc - optind != want) {
        return tool_usage_error(cmd, "wants FILE%s%s", o->key_file ? "" : " KEY",
                                val && !o->value_file ? " VALUE" : "");
    }
    int next = optind + 1;
    int code = o->key_file ? file_bytes(cmd, "key", o->key_file, key)
                           : arg_bytes(cmd, "KEY", argv[next++], o->hex, key);
    if (code == TOOL_EXIT_OK && val) {
        code = o->value_file ? file_bytes(cmd, "value", o->value_file, val)
                             : arg_bytes(cmd, "VALUE", argv[next], o->hex, val);
    }
    return code;
}

static int write_bytes(FILE *f, const void *p, size_t n, int hex)
{
    if (!hex) {
        return tool_print_escaped(f, p, n);
    }
    tool_buf b = {0};
    int rc = tool_hex_encode(&b, p, n);
    if (rc == 0 && b.len > 0 && fwrite(b.data, 1, b.len, f) != b.len) {
        rc = -1;
    }
    tool_buf_free(&b);
    return rc;
}

static void help_common(void)
{
    printf("  -b, --bucket NAME  use the named bucket (default: the default bucket)\n"
           "  --hex              KEY, VALUE and output are hex\n"
           "  -h, --help         this help\n");
}

int cmd_get(int argc, char **argv)
{
    static const int allowed[] = {'b', OPT_HEX, OPT_RAW, OPT_KEY_FILE, 0};
    data_opts o;
    int code = parse_opts("get", argc, argv, allowed, &o);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    if (o.help) {
        printf("usage: cowtree get [-b BUCKET] [--hex] [--raw] FILE KEY\n"
               "       cowtree get [-b BUCKET] [--hex] [--raw] --key-file F FILE\n"
               "Prints the value of KEY, escaped (or hex) and followed by a newline.\n"
               "  --raw              write the value's exact bytes, no newline (with\n"
               "                     --hex, KEY is still read as hex)\n"
               "  --key-file F       read the key's bytes from file F (- = stdin)\n");
        help_common();
        return TOOL_EXIT_OK;
    }
    const char *path = argc > optind ? argv[optind] : NULL;
    tool_buf key = {0};
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    code = key_value_args("get", &o, argc, argv, &key, NULL);
    if (code == TOOL_EXIT_OK) {
        code = tool_open("get", path, TOOL_OPEN_READ, 0, &db);
    }
    if (code == TOOL_EXIT_OK) {
        int rc = ct_begin(db, CT_TXN_RDONLY, &txn);
        code = rc == CT_OK ? TOOL_EXIT_OK : tool_fail("get", path, "begin", rc);
    }
    if (code == TOOL_EXIT_OK) {
        code = tool_open_bucket("get", path, txn, o.bucket, 0, &b);
    }
    if (code == TOOL_EXIT_OK) {
        const void *val = NULL;
        size_t vlen = 0;
        int rc = ct_get(txn, b, key.data, key.len, &val, &vlen);
        if (rc == CT_NOTFOUND) {
            code = tool_fail("get", path, "key", rc);
        } else if (rc != CT_OK) {
            code = tool_fail("get", path, "get", rc);
        } else if (o.raw ? vlen > 0 && fwrite(val, 1, vlen, stdout) != vlen
                         : write_bytes(stdout, val, vlen, o.hex) != 0 || putchar('\n') == EOF) {
            fprintf(stderr, "cowtree get: write error on standard output: %s\n", strerror(errno));
            code = TOOL_EXIT_ERROR;
        }
    }
    ct_abort(txn);
    ct_close(db);
    tool_buf_free(&key);
    return code;
}

/* The key over db's limit, reported: TOOL_EXIT_ERROR; else TOOL_EXIT_OK. */
static int key_over_limit(const char *cmd, const tool_buf *key, ct_db *db)
{
    if (key->len <= ct_key_max(db)) {
        return TOOL_EXIT_OK;
    }
    fprintf(stderr,
            "cowtree %s: key of %zu bytes is longer than this database's limit "
            "(%zu bytes): CT_TOOBIG\n",
            cmd, key->len, ct_key_max(db));
    return TOOL_EXIT_ERROR;
}

/* A put -N of a key that exists, reported: its exit code. */
static int key_exists(const char *cmd)
{
    fprintf(stderr, "cowtree %s: key exists and --no-overwrite was given: CT_EXISTS\n", cmd);
    return TOOL_EXIT_NOTFOUND;
}

/* What a put or del can find wrong before it writes (a key over the
   database's limit, -N on a key that exists, a del of an absent key or
   bucket, a file that is no database), found through a read-only open of
   an existing FILE: a command that fails must leave FILE as it was, and a
   writable open alone writes to it (its fence meta). The write checks
   again inside its txn. TOOL_EXIT_OK when the write should go ahead, a
   missing or empty FILE included (put creates it, del's open reports it). */
static int precheck(const char *cmd, const char *path, const data_opts *o, const tool_buf *key,
                    int is_put)
{
    struct stat st;
    if (stat(path, &st) != 0 || (S_ISREG(st.st_mode) && st.st_size == 0)) {
        return TOOL_EXIT_OK;
    }
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    ct_options opt;
    ct_options_init(&opt);
    opt.flags = CT_RDONLY | CT_NOCREATE;
    if (ct_open_path(path, &opt, &db) != CT_OK) {
        return TOOL_EXIT_OK; /* the write's own open fails alike, writing nothing, and says why */
    }
    int code = key_over_limit(cmd, key, db);
    if (code != TOOL_EXIT_OK) {
        ct_close(db);
        return code;
    }
    int rc = ct_begin(db, CT_TXN_RDONLY, &txn);
    if (rc != CT_OK) {
        code = tool_fail(cmd, path, "begin", rc);
    }
    if (code == TOOL_EXIT_OK && o->bucket) {
        rc = ct_bucket_open(txn, o->bucket, 0, &b);
        if (rc == CT_NOTFOUND && is_put) {
            rc = CT_OK; /* the put creates it */
        } else if (rc != CT_OK) {
            code = tool_open_bucket(cmd, path, txn, o->bucket, 0, &b); /* reports it */
        }
    }
    if (code == TOOL_EXIT_OK && (b || !o->bucket) && (!is_put || o->no_overwrite)) {
        const void *v = NULL;
        size_t vlen = 0;
        rc = ct_get(txn, b, key->data, key->len, &v, &vlen);
        if (rc == CT_NOTFOUND && !is_put) {
            code = tool_fail(cmd, path, "key", rc);
        } else if (rc == CT_OK && is_put) {
            code = key_exists(cmd);
        } else if (rc != CT_OK && rc != CT_NOTFOUND) {
            code = tool_fail(cmd, path, "get", rc);
        }
    }
    ct_abort(txn);
    ct_close(db);
    return code;
}

static int put_or_del(const char *cmd, const char *path, const data_opts *o, const tool_buf *key,
                      const tool_buf *val)
{
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    int is_put = val != NULL;
    int created = 0;
    int code = precheck(cmd, path, o, key, is_put);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    code = is_put ? tool_open_create(cmd, path, o->page_size, &db, &created)
                  : tool_open(cmd, path, TOOL_OPEN_WRITE, 0, &db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    code = key_over_limit(cmd, key, db);
    if (code != TOOL_EXIT_OK) {
        tool_close_created(db, path, created, code);
        return code;
    }
    int rc = ct_begin(db, 0, &txn);
    if (rc != CT_OK) {
        code = tool_fail(cmd, path, "begin", rc);
    }
    if (code == TOOL_EXIT_OK) {
        code = tool_open_bucket(cmd, path, txn, o->bucket, is_put ? CT_CREATE : 0, &b);
    }
    if (code == TOOL_EXIT_OK) {
        if (is_put) {
            rc = ct_put(txn, b, key->data, key->len, val->data, val->len,
                        o->no_overwrite ? CT_NOOVERWRITE : 0u);
        } else {
            rc = ct_del(txn, b, key->data, key->len);
        }
        if (rc == CT_NOTFOUND) {
            code = tool_fail(cmd, path, "key", rc);
        } else if (rc == CT_EXISTS) {
            code = key_exists(cmd);
        } else if (rc != CT_OK) {
            code = tool_fail(cmd, path, is_put ? "put" : "del", rc);
        }
    }
    if (code == TOOL_EXIT_OK) {
        rc = ct_commit(txn);
        txn = NULL;
        if (rc != CT_OK) {
            code = tool_fail(cmd, path, "commit", rc);
        }
    }
    ct_abort(txn);
    tool_close_created(db, path, created, code);
    return code;
}

int cmd_put(int argc, char **argv)
{
    static const int allowed[] = {'b',          'N',           OPT_HEX, OPT_VALUE_FILE,
                                  OPT_KEY_FILE, OPT_PAGE_SIZE, 0};
    data_opts o;
    int code = parse_opts("put", argc, argv, allowed, &o);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    if (o.help) {
        printf("usage: cowtree put [-b BUCKET] [--hex] [-N] FILE KEY VALUE\n"
               "       cowtree put [-b BUCKET] [--hex] [-N] --value-file F FILE KEY\n"
               "Sets KEY to VALUE in one commit; creates FILE and the bucket if missing.\n"
               "  --value-file F     read the value's bytes from file F (- = stdin)\n"
               "  --key-file F       read the key's bytes from file F (KEY is then omitted)\n"
               "  -N, --no-overwrite fail (exit 1) if KEY exists\n"
               "  --page-size N      page size of a new FILE (default 4096)\n");
        help_common();
        return TOOL_EXIT_OK;
    }
    tool_buf key = {0};
    tool_buf val = {0};
    code = key_value_args("put", &o, argc, argv, &key, &val);
    if (code == TOOL_EXIT_OK && val.len > CT_VALUE_MAX) {
        fprintf(stderr, "cowtree put: value of %zu bytes is over the limit: CT_TOOBIG\n", val.len);
        code = TOOL_EXIT_ERROR;
    }
    if (code == TOOL_EXIT_OK) {
        code = put_or_del("put", argv[optind], &o, &key, &val);
    }
    tool_buf_free(&key);
    tool_buf_free(&val);
    return code;
}

int cmd_del(int argc, char **argv)
{
    static const int allowed[] = {'b', OPT_HEX, OPT_KEY_FILE, 0};
    data_opts o;
    int code = parse_opts("del", argc, argv, allowed, &o);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    if (o.help) {
        printf("usage: cowtree del [-b BUCKET] [--hex] FILE KEY\n"
               "       cowtree del [-b BUCKET] --key-file F FILE\n"
               "Deletes KEY in one commit; exit 1 when it is absent.\n"
               "  --key-file F       read the key's bytes from file F (- = stdin)\n");
        help_common();
        return TOOL_EXIT_OK;
    }
    tool_buf key = {0};
    code = key_value_args("del", &o, argc, argv, &key, NULL);
    if (code == TOOL_EXIT_OK) {
        code = put_or_del("del", argv[optind], &o, &key, NULL);
    }
    tool_buf_free(&key);
    return code;
}

/* Unsigned-byte order, a key before its extensions (the engine's order). */
static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

/* The least key above every key with prefix p: p with its last byte below
   0xff incremented and the rest dropped. Returns 0 when there is none (p
   is all 0xff bytes or empty). */
static int prefix_successor(const tool_buf *p, tool_buf *out)
{
    out->len = 0;
    size_t n = p->len;
    while (n > 0 && p->data[n - 1] == 0xff) {
        n--;
    }
    if (n == 0 || tool_buf_append(out, p->data, n) != 0) {
        return 0;
    }
    out->data[n - 1]++;
    return 1;
}

typedef struct scan_range {
    tool_buf lo; /* inclusive */
    tool_buf hi; /* exclusive */
    tool_buf prefix;
    int has_lo;
    int has_hi;
    int has_prefix;
} scan_range;

static int scan_range_make(const data_opts *o, scan_range *r)
{
    memset(r, 0, sizeof(*r));
    int code = TOOL_EXIT_OK;
    if (o->from) {
        code = arg_bytes("scan", "--from", o->from, o->hex, &r->lo);
        r->has_lo = 1;
    }
    if (code == TOOL_EXIT_OK && o->to) {
        code = arg_bytes("scan", "--to", o->to, o->hex, &r->hi);
        r->has_hi = 1;
    }
    if (code == TOOL_EXIT_OK && o->prefix) {
        code = arg_bytes("scan", "--prefix", o->prefix, o->hex, &r->prefix);
        r->has_prefix = r->prefix.len > 0;
    }
    if (code != TOOL_EXIT_OK || !r->has_prefix) {
        return code;
    }
    /* Narrow [lo, hi) to the prefix's range. */
    if (!r->has_lo || key_cmp(r->lo.data, r->lo.len, r->prefix.data, r->prefix.len) < 0) {
        r->lo.len = 0;
        if (tool_buf_append(&r->lo, r->prefix.data, r->prefix.len) != 0) {
            return tool_fail("scan", NULL, "prefix", CT_NOMEM);
        }
        r->has_lo = 1;
    }
    tool_buf succ = {0};
    if (prefix_successor(&r->prefix, &succ) &&
        (!r->has_hi || key_cmp(succ.data, succ.len, r->hi.data, r->hi.len) < 0)) {
        tool_buf_free(&r->hi);
        r->hi = succ;
        r->has_hi = 1;
    } else {
        tool_buf_free(&succ);
    }
    return TOOL_EXIT_OK;
}

static void scan_range_free(scan_range *r)
{
    tool_buf_free(&r->lo);
    tool_buf_free(&r->hi);
    tool_buf_free(&r->prefix);
}

/* Positions c on the first entry of the range in scan order. */
static int scan_start(ct_cursor *c, const scan_range *r, int reverse)
{
    if (!reverse) {
        return r->has_lo ? ct_cursor_seek(c, r->lo.data, r->lo.len) : ct_cursor_first(c);
    }
    if (!r->has_hi) {
        return ct_cursor_last(c);
    }
    int rc = ct_cursor_seek(c, r->hi.data, r->hi.len);
    if (rc == CT_NOTFOUND) {
        return ct_cursor_last(c);
    }
    return rc == CT_OK ? ct_cursor_prev(c) : rc;
}

static int scan_print(const data_opts *o, const void *k, size_t klen, const void *v, size_t vlen)
{
    if (write_bytes(stdout, k, klen, o->hex) != 0) {
        return -1;
    }
    if (!o->keys_only && (putchar('\t') == EOF || write_bytes(stdout, v, vlen, o->hex) != 0)) {
        return -1;
    }
    return putchar('\n') == EOF ? -1 : 0;
}

static int scan_run(const char *path, const data_opts *o, ct_cursor *c, const scan_range *r)
{
    uint64_t shown = 0;
    int rc = scan_start(c, r, o->reverse);
    while (rc == CT_OK && (!o->limited || shown < o->limit)) {
        const void *k = NULL;
        const void *v = NULL;
        size_t klen = 0;
        size_t vlen = 0;
        rc = ct_cursor_get(c, &k, &klen, &v, &vlen);
        if (rc != CT_OK) {
            break;
        }
        if (r->has_hi && key_cmp(k, klen, r->hi.data, r->hi.len) >= 0) {
            break; /* forward: past the end */
        }
        if (r->has_lo && key_cmp(k, klen, r->lo.data, r->lo.len) < 0) {
            break; /* reverse: before the start */
        }
        if (scan_print(o, k, klen, v, vlen) != 0) {
            fprintf(stderr, "cowtree scan: write error on standard output\n");
            return TOOL_EXIT_ERROR;
        }
        shown++;
        rc = o->reverse ? ct_cursor_prev(c) : ct_cursor_next(c);
    }
    if (rc != CT_OK && rc != CT_NOTFOUND) {
        return tool_fail("scan", path, "cursor", rc);
    }
    return TOOL_EXIT_OK;
}

int cmd_scan(int argc, char **argv)
{
    static const int allowed[] = {'b',         OPT_HEX,   OPT_FROM,      OPT_TO, OPT_PREFIX,
                                  OPT_REVERSE, OPT_LIMIT, OPT_KEYS_ONLY, 0};
    data_opts o;
    int code = parse_opts("scan", argc, argv, allowed, &o);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    if (o.help) {
        printf("usage: cowtree scan [-b BUCKET] [--hex] [--from K] [--to K] [--prefix P]\n"
               "                    [--reverse] [--limit N] [--keys-only] FILE\n"
               "Prints one line per entry, KEY<TAB>VALUE, escaped (or hex), in key order.\n"
               "  --from K           start at the first key >= K\n"
               "  --to K             stop before the first key >= K (exclusive)\n"
               "  --prefix P         only keys starting with P\n"
               "  --reverse          descending order\n"
               "  --limit N          at most N entries\n"
               "  --keys-only        print keys only\n");
        help_common();
        return TOOL_EXIT_OK;
    }
    if (argc - optind != 1) {
        return tool_usage_error("scan", "wants FILE");
    }
    const char *path = argv[optind];
    scan_range r;
    ct_db *db = NULL;
    ct_txn *txn = NULL;
    ct_bucket *b = NULL;
    ct_cursor *c = NULL;
    code = scan_range_make(&o, &r);
    if (code == TOOL_EXIT_OK) {
        code = tool_open("scan", path, TOOL_OPEN_READ, 0, &db);
    }
    if (code == TOOL_EXIT_OK) {
        int rc = ct_begin(db, CT_TXN_RDONLY, &txn);
        code = rc == CT_OK ? TOOL_EXIT_OK : tool_fail("scan", path, "begin", rc);
    }
    if (code == TOOL_EXIT_OK) {
        code = tool_open_bucket("scan", path, txn, o.bucket, 0, &b);
    }
    if (code == TOOL_EXIT_OK) {
        int rc = ct_cursor_open(txn, b, &c);
        code = rc == CT_OK ? scan_run(path, &o, c, &r) : tool_fail("scan", path, "cursor", rc);
    }
    ct_cursor_close(c);
    ct_abort(txn);
    ct_close(db);
    scan_range_free(&r);
    return code;
}
