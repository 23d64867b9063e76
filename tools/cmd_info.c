/*
 * cmd_info.c - stat, check and buckets: what a database holds and whether
 * it is sound. All three open the file read-only and read one snapshot.
 * Page counts by type come from ct_check's report; bucket names from
 * ct_bucket_list; depths, entries and fill from ct_bucket_stat.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "tool.h"

enum { OPT_LONG = 256 };

static const struct option info_opts[] = {
    {"long", no_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses [-l] [-h] FILE. Returns -1 to go on, or an exit code. */
static int parse_file_arg(const char *cmd, int argc, char **argv, int allow_long, int *help,
                          int *long_fmt)
{
    optind = 0;
    opterr = 0;
    *help = 0;
    *long_fmt = 0;
    for (;;) {
        int li = -1;
        int c = getopt_long(argc, argv, ":lh", info_opts, &li);
        if (c == -1) {
            break;
        }
        if (c == 'h') {
            *help = 1;
        } else if (c == 'l' && allow_long) {
            *long_fmt = 1;
        } else {
            return tool_usage_error(cmd, "unknown option %s",
                                    tool_option_word(argv, c, info_opts, li));
        }
    }
    if (*help) {
        return -1;
    }
    if (argc - optind != 1) {
        return tool_usage_error(cmd, "wants FILE");
    }
    return -1;
}

/* A read txn and the bucket names at its snapshot. */
typedef struct snapshot {
    ct_db *db;
    ct_txn *txn;
    struct ct_stat st;
    tool_bucket_names names;
} snapshot;

/* stat reports what recovery fell back from itself; buckets has
   tool_open warn. */
static int snapshot_open(const char *cmd, const char *path, snapshot *s)
{
    memset(s, 0, sizeof(*s));
    int mode = strcmp(cmd, "stat") == 0 ? TOOL_OPEN_INSPECT : TOOL_OPEN_READ;
    int code = tool_open(cmd, path, mode, 0, &s->db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    int rc = ct_begin(s->db, CT_TXN_RDONLY, &s->txn);
    if (rc == CT_OK) {
        rc = ct_stat(s->db, &s->st);
    }
    if (rc != CT_OK) {
        return tool_fail(cmd, path, "begin", rc);
    }
    rc = tool_bucket_names_get(s->txn, &s->names);
    if (rc == CT_CORRUPT) {
        return report_corrupt(cmd, path, s->db, "listing the buckets");
    }
    if (rc != CT_OK) {
        return tool_fail(cmd, path, "listing the buckets", rc);
    }
    return TOOL_EXIT_OK;
}

static void snapshot_close(snapshot *s)
{
    tool_bucket_names_free(&s->names);
    ct_abort(s->txn);
    ct_close(s->db);
}

static void print_name(const tool_bucket_name *b)
{
    tool_print_escaped(stdout, b->name, b->name_len);
}

/* ct_bucket_stat of named bucket i of the snapshot. */
static int bucket_stat(snapshot *s, size_t i, struct ct_bucket_stat *out)
{
    ct_bucket *b = NULL;
    int rc = ct_bucket_open(s->txn, s->names.v[i].name, 0, &b);
    if (rc == CT_OK) {
        rc = ct_bucket_stat(s->txn, b, out);
    }
    return rc;
}

int cmd_buckets(int argc, char **argv)
{
    int help = 0;
    int long_fmt = 0;
    int code = parse_file_arg("buckets", argc, argv, 1, &help, &long_fmt);
    if (code >= 0) {
        return code;
    }
    if (help) {
        printf("usage: cowtree buckets [-l] FILE\n"
               "Lists the named buckets, one escaped name a line, in name order.\n"
               "  -l, --long   also entries and tree depth: ENTRIES<TAB>DEPTH<TAB>NAME\n"
               "  -h, --help   this help\n");
        return TOOL_EXIT_OK;
    }
    const char *path = argv[optind];
    snapshot s;
    code = snapshot_open("buckets", path, &s);
    for (size_t i = 0; code == TOOL_EXIT_OK && i < s.names.count; i++) {
        if (long_fmt) {
            struct ct_bucket_stat bs;
            int rc = bucket_stat(&s, i, &bs);
            if (rc == CT_CORRUPT) {
                code = report_corrupt("buckets", path, s.db, "bucket statistics");
                break;
            }
            if (rc != CT_OK) {
                code = tool_fail("buckets", path, "bucket statistics", rc);
                break;
            }
            printf("%" PRIu64 "\t%" PRIu32 "\t", bs.entries, bs.depth);
        }
        print_name(&s.names.v[i]);
        putchar('\n');
    }
    snapshot_close(&s);
    return code;
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void print_pages(const ct_check_report *r)
{
    printf("pages by type: meta %" PRIu64 ", branch %" PRIu64 ", leaf %" PRIu64
           ", overflow %" PRIu64 ", free list %" PRIu64 ", free %" PRIu64 "\n",
           r->pages_meta, r->pages_branch, r->pages_leaf, r->pages_overflow, r->pages_freelist,
           r->pages_free);
}

static int run_check(const char *cmd, const char *path, ct_db *db, uint64_t pages,
                     ct_check_report *r)
{
    int progress = tool_progress_enabled();
    if (progress) {
        fprintf(stderr, "checking %" PRIu64 " pages...", pages);
        fflush(stderr);
    }
    memset(r, 0, sizeof(*r));
    int rc = ct_check(db, r);
    if (progress) {
        fprintf(stderr, "\r\033[K");
    }
    if (rc != CT_OK && rc != CT_CORRUPT) {
        return tool_fail(cmd, path, "check", rc);
    }
    if (rc == CT_CORRUPT && r->problems == 0) {
        return tool_fail(cmd, path, "check", rc);
    }
    return rc == CT_OK ? TOOL_EXIT_OK : TOOL_EXIT_NOTFOUND;
}

/* Recovery falls back to the older meta when the newest commit's pages do
   not verify: legitimate after a crash under CT_SYNC_NONE, otherwise lost
   or rotted pages. The engine reports it in ct_stat (rejected_txnid, and
   the page that failed). Returns 1 (and reports) when that happened. */
static int newest_meta_skipped(const char *cmd, const char *path, const struct ct_stat *st)
{
    if (st->rejected_txnid == 0) {
        return 0;
    }
    printf("newest commit: txn %" PRIu64 " fails verification; opened txn %" PRIu64 "\n",
           st->rejected_txnid, st->txnid);
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    fprintf(stderr,
            ": CT_CORRUPT: page %" PRIu64 ": the newest commit (txn %" PRIu64
            ") is rolled back to txn %" PRIu64 " (expected only after a crash under "
            "CT_SYNC_NONE)\n",
            st->rejected_pgno, st->rejected_txnid, st->txnid);
    return 1;
}

/* A meta slot that failed its checksum at open: a meta write a crash
   interrupted, or damage that took the commit it held (if it was the
   newer one). Returns 1 (and reports) when open found one. */
static int meta_slot_damaged(const char *cmd, const char *path, const struct ct_stat *st)
{
    int found = 0;
    for (unsigned slot = 0; slot < 2; slot++) {
        if (!(st->meta_slots_invalid & (1u << slot))) {
            continue;
        }
        found = 1;
        printf("meta slot %u: fails verification; opened txn %" PRIu64 " from slot %u\n", slot,
               st->txnid, st->meta_slot);
        fprintf(stderr, "cowtree %s: ", cmd);
        tool_print_escaped(stderr, path, strlen(path));
        fprintf(stderr,
                ": CT_CORRUPT: page %u: meta slot %u fails its checksum (expected only after a "
                "crash during a commit; otherwise damage, and a commit it held newer than txn "
                "%" PRIu64 " is lost)\n",
                slot, slot, st->txnid);
    }
    return found;
}

/* What open fell back from, reported: 1 when anything was. */
static int recovery_fell_back(const char *cmd, const char *path, const struct ct_stat *st)
{
    int skipped = newest_meta_skipped(cmd, path, st);
    int damaged = meta_slot_damaged(cmd, path, st);
    return skipped || damaged;
}

static void stat_add(struct ct_bucket_stat *sum, const struct ct_bucket_stat *b)
{
    sum->pages_branch += b->pages_branch;
    sum->pages_leaf += b->pages_leaf;
    sum->pages_overflow += b->pages_overflow;
    sum->branch_used_bytes += b->branch_used_bytes;
    sum->leaf_used_bytes += b->leaf_used_bytes;
    sum->key_bytes += b->key_bytes;
    sum->value_bytes += b->value_bytes;
    sum->overflow_value_bytes += b->overflow_value_bytes;
}

/* t: every bucket's ct_bucket_stat added up (print_stat), rc the first
   failure gathering them. */
static void print_fill(const char *path, const snapshot *s, const struct ct_bucket_stat *t, int rc,
                       int *code)
{
    if (rc != CT_OK) {
        fprintf(stderr, "cowtree stat: ");
        tool_print_escaped(stderr, path, strlen(path));
        fprintf(stderr, ": fill not measured: %s (%s)\n", ct_errname(rc), ct_strerror(rc));
        *code = tool_exit_code(rc);
        return;
    }
    uint64_t ps = s->st.page_size;
    printf("fill factor: leaf %.1f%%, branch %.1f%% (bytes used in tree pages)\n",
           percent(t->leaf_used_bytes, t->pages_leaf * ps),
           percent(t->branch_used_bytes, t->pages_branch * ps));
    printf("data: %" PRIu64 " key bytes, %" PRIu64 " value bytes (%" PRIu64
           " on overflow pages); %.1f%% of the pages in use\n",
           t->key_bytes, t->value_bytes, t->overflow_value_bytes,
           percent(t->key_bytes + t->value_bytes, s->st.pages_in_use * ps));
}

/* Also adds up every bucket's statistics into sum; *sum_rc gets the first
   failure. */
static void print_stat(const char *path, snapshot *s, const ct_check_report *r,
                       struct ct_bucket_stat *sum, int *sum_rc)
{
    struct ct_bucket_stat b;
    memset(sum, 0, sizeof(*sum));
    *sum_rc = ct_bucket_stat(s->txn, NULL, &b);
    if (*sum_rc == CT_OK) {
        stat_add(sum, &b);
    }
    struct stat fst;
    uint64_t file_bytes = stat(path, &fst) == 0 ? (uint64_t)fst.st_size : 0;
    printf("file size: %" PRIu64 " bytes (%" PRIu64 " pages)\n", file_bytes, s->st.store_pages);
    printf("page size: %" PRIu32 "\n", s->st.page_size);
    printf("txn id: %" PRIu64 " (meta slot %" PRIu32 ")\n", s->st.txnid, s->st.meta_slot);
    printf("key max: %" PRIu64 " bytes\n", s->st.key_max);
    printf("pages: %" PRIu64 " total, %" PRIu64 " in use, %" PRIu64 " free (%" PRIu64
           " held by readers)\n",
           s->st.pages_total, s->st.pages_in_use, s->st.pages_free, s->st.pages_held_by_readers);
    print_pages(r);
    printf("default bucket: depth %" PRIu32 ", entries %" PRIu64 "\n", s->st.depth, s->st.entries);
    printf("named buckets: %" PRIu64 "\n", s->st.buckets);
    for (size_t i = 0; i < s->names.count; i++) {
        int rc = bucket_stat(s, i, &b);
        if (rc == CT_OK) {
            stat_add(sum, &b);
        } else if (*sum_rc == CT_OK) {
            *sum_rc = rc;
        }
        printf("  bucket '");
        print_name(&s->names.v[i]);
        if (rc == CT_OK) {
            printf("': depth %" PRIu32 ", entries %" PRIu64 "\n", b.depth, b.entries);
        } else {
            printf("': %s\n", ct_errname(rc)); /* the check reports the damage */
        }
    }
    printf("entries: %" PRIu64 " in all buckets\n", r->entries);
}

int cmd_stat(int argc, char **argv)
{
    int help = 0;
    int long_fmt = 0;
    int code = parse_file_arg("stat", argc, argv, 0, &help, &long_fmt);
    if (code >= 0) {
        return code;
    }
    if (help) {
        printf("usage: cowtree stat FILE\n"
               "Prints the commit id, page counts by type (from a full check), tree depth,\n"
               "entries per bucket, free pages, file size and fill factor.\n"
               "Exit 1 when the check finds the database corrupt.\n"
               "  -h, --help   this help\n");
        return TOOL_EXIT_OK;
    }
    const char *path = argv[optind];
    snapshot s;
    ct_check_report r;
    struct ct_bucket_stat sum;
    int sum_rc = CT_OK;
    memset(&r, 0, sizeof(r));
    code = snapshot_open("stat", path, &s);
    if (code == TOOL_EXIT_OK) {
        code = run_check("stat", path, s.db, s.st.pages_total, &r);
    }
    if (code == TOOL_EXIT_OK || (code == TOOL_EXIT_NOTFOUND && r.problems > 0)) {
        print_stat(path, &s, &r, &sum, &sum_rc);
        if (code == TOOL_EXIT_OK) {
            print_fill(path, &s, &sum, sum_rc, &code);
        } else {
            report_problem("stat", path, &r);
        }
    }
    if (code != TOOL_EXIT_ERROR && s.db &&
        recovery_fell_back("stat", path, &s.st)) {
        code = TOOL_EXIT_NOTFOUND;
    }
    snapshot_close(&s);
    return code;
}

int cmd_check(int argc, char **argv)
{
    int help = 0;
    int long_fmt = 0;
    int code = parse_file_arg("check", argc, argv, 0, &help, &long_fmt);
    if (code >= 0) {
        return code;
    }
    if (help) {
        printf("usage: cowtree check FILE\n"
               "Verifies every page of the last commit (ct_check): checksums, page identity,\n"
               "key order, fill bounds, overflow runs, the free list and the catalog.\n"
               "Exit 0 clean, 1 corrupt (the first problem's page on stderr), 3 error.\n"
               "  -h, --help   this help\n");
        return TOOL_EXIT_OK;
    }
    const char *path = argv[optind];
    ct_db *db = NULL;
    code = tool_open("check", path, TOOL_OPEN_INSPECT, 0, &db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    struct ct_stat st;
    ct_check_report r;
    memset(&st, 0, sizeof(st));
    ct_stat(db, &st);
    code = run_check("check", path, db, st.pages_total, &r);
    if (code == TOOL_EXIT_OK || (code == TOOL_EXIT_NOTFOUND && r.problems > 0)) {
        printf("%s: txn %" PRIu64 ", %" PRIu64 " pages, %" PRIu64 " entries in %" PRIu64
               " named buckets and the default one\n",
               code == TOOL_EXIT_OK ? "clean" : "CORRUPT", st.txnid, r.pages_total, r.entries,
               r.buckets);
        print_pages(&r);
        if (code != TOOL_EXIT_OK) {
            printf("problems: %" PRIu64 ", first at page %" PRIu64 ": ", r.problems,
                   r.first_problem_pgno);
            size_t len = 0;
            const char *text = report_problem_text(&r, &len);
            tool_print_escaped(stdout, text, len);
            putchar('\n');
            report_problem("check", path, &r);
        }
    }
    if (code != TOOL_EXIT_ERROR && recovery_fell_back("check", path, &st)) {
        code = TOOL_EXIT_NOTFOUND;
    }
    ct_close(db);
    return code;
}
