/*
 * cmd_info.c - stat, check and buckets: what a database holds and whether
 * it is sound. All three open the file read-only and read one snapshot.
 * Page counts by type come from ct_check's report; bucket names, depths
 * and fill from catalog.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

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
        int c = getopt_long(argc, argv, ":lh", info_opts, NULL);
        if (c == -1) {
            break;
        }
        if (c == 'h') {
            *help = 1;
        } else if (c == 'l' && allow_long) {
            *long_fmt = 1;
        } else {
            return tool_usage_error(cmd, "unknown option %s", argv[optind - 1]);
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

/* A read txn and the catalog at its snapshot. */
typedef struct snapshot {
    ct_db *db;
    ct_txn *txn;
    struct ct_stat st;
    tool_catalog cat;
    int have_cat;
} snapshot;

static int snapshot_open(const char *cmd, const char *path, snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->cat.fd = -1;
    int code = tool_open(cmd, path, TOOL_OPEN_READ, 0, &s->db);
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
    rc = tool_catalog_read(path, s->st.page_size, ct_txn_id(s->txn), &s->cat);
    s->have_cat = 1;
    if (rc == CT_CORRUPT) {
        fprintf(stderr, "cowtree %s: ", cmd);
        tool_print_escaped(stderr, path, strlen(path));
        fprintf(stderr, ": CT_CORRUPT: page %" PRIu64 ": %s\n", s->cat.problem_pgno,
                s->cat.problem);
        return TOOL_EXIT_NOTFOUND;
    }
    if (rc != CT_OK) {
        return tool_fail(cmd, path, "reading the bucket catalog", rc);
    }
    return TOOL_EXIT_OK;
}

static void snapshot_close(snapshot *s)
{
    if (s->have_cat) {
        tool_catalog_close(&s->cat);
    }
    ct_abort(s->txn);
    ct_close(s->db);
}

static void print_name(const tool_bucket_info *b)
{
    tool_print_escaped(stdout, b->name, b->name_len);
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
    snapshot s;
    code = snapshot_open("buckets", argv[optind], &s);
    for (size_t i = 0; code == TOOL_EXIT_OK && i < s.cat.bucket_count; i++) {
        const tool_bucket_info *b = &s.cat.buckets[i];
        if (long_fmt) {
            printf("%" PRIu64 "\t%" PRIu32 "\t", b->entries, b->depth);
        }
        print_name(b);
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

/* The report's text without a leading "page N: " (we print the page). */
static const char *problem_text(const ct_check_report *r, size_t *len)
{
    const char *t = r->first_problem;
    char prefix[48];
    int n = snprintf(prefix, sizeof(prefix), "page %" PRIu64 ": ", r->first_problem_pgno);
    *len = strnlen(t, sizeof(r->first_problem));
    if (n > 0 && (size_t)n <= *len && memcmp(t, prefix, (size_t)n) == 0) {
        *len -= (size_t)n;
        return t + n;
    }
    return t;
}

static void print_problem(const char *cmd, const char *path, const ct_check_report *r)
{
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    fprintf(stderr, ": CT_CORRUPT: page %" PRIu64 ": ", r->first_problem_pgno);
    size_t len = 0;
    const char *text = problem_text(r, &len);
    tool_print_escaped(stderr, text, len);
    fprintf(stderr, " (%" PRIu64 " problem%s)\n", r->problems, r->problems == 1 ? "" : "s");
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

static void print_fill(snapshot *s, int *code)
{
    tool_tree_stats t;
    memset(&t, 0, sizeof(t));
    int rc = tool_tree_walk(&s->cat, &s->cat.main_tree, &t);
    for (size_t i = 0; rc == CT_OK && i < s->cat.bucket_count; i++) {
        rc = tool_tree_walk(&s->cat, &s->cat.buckets[i], &t);
    }
    if (rc != CT_OK) {
        fprintf(stderr, "cowtree stat: fill not measured: %s at page %" PRIu64 ": %s\n",
                ct_errname(rc), s->cat.problem_pgno, s->cat.problem ? s->cat.problem : "");
        *code = tool_exit_code(rc);
        return;
    }
    uint64_t ps = s->st.page_size;
    printf("fill factor: leaf %.1f%%, branch %.1f%% (bytes used in tree pages)\n",
           percent(t.leaf_used_bytes, t.leaf_pages * ps),
           percent(t.branch_used_bytes, t.branch_pages * ps));
    printf("data: %" PRIu64 " key bytes, %" PRIu64 " value bytes (%" PRIu64
           " on overflow pages); %.1f%% of the pages in use\n",
           t.key_bytes, t.value_bytes, t.overflow_value_bytes,
           percent(t.key_bytes + t.value_bytes, s->st.pages_in_use * ps));
}

static void print_stat(const char *path, snapshot *s, const ct_check_report *r)
{
    struct stat fst;
    uint64_t file_bytes = stat(path, &fst) == 0 ? (uint64_t)fst.st_size : 0;
    printf("file size: %" PRIu64 " bytes (%" PRIu64 " pages)\n", file_bytes, s->st.store_pages);
    printf("page size: %" PRIu32 "\n", s->st.page_size);
    printf("txn id: %" PRIu64 " (meta slot %" PRIu64 ")\n", s->st.txnid, s->cat.meta_slot);
    printf("key max: %" PRIu64 " bytes\n", s->st.key_max);
    printf("pages: %" PRIu64 " total, %" PRIu64 " in use, %" PRIu64 " free (%" PRIu64
           " held by readers)\n",
           s->st.pages_total, s->st.pages_in_use, s->st.pages_free, s->st.pages_held_by_readers);
    print_pages(r);
    printf("default bucket: depth %" PRIu32 ", entries %" PRIu64 "\n", s->st.depth, s->st.entries);
    printf("named buckets: %" PRIu64 "\n", s->st.buckets);
    for (size_t i = 0; i < s->cat.bucket_count; i++) {
        const tool_bucket_info *b = &s->cat.buckets[i];
        printf("  bucket '");
        print_name(b);
        printf("': depth %" PRIu32 ", entries %" PRIu64 "\n", b->depth, b->entries);
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
    memset(&r, 0, sizeof(r));
    code = snapshot_open("stat", path, &s);
    if (code == TOOL_EXIT_OK) {
        code = run_check("stat", path, s.db, s.st.pages_total, &r);
    }
    if (code == TOOL_EXIT_OK || (code == TOOL_EXIT_NOTFOUND && r.problems > 0)) {
        print_stat(path, &s, &r);
        if (code == TOOL_EXIT_OK) {
            print_fill(&s, &code);
        } else {
            print_problem("stat", path, &r);
        }
    }
    if (code != TOOL_EXIT_ERROR && s.db &&
        newest_meta_skipped("stat", path, &s.st)) {
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
    code = tool_open("check", path, TOOL_OPEN_READ, 0, &db);
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
            const char *text = problem_text(&r, &len);
            tool_print_escaped(stdout, text, len);
            putchar('\n');
            print_problem("check", path, &r);
        }
    }
    if (code != TOOL_EXIT_ERROR && newest_meta_skipped("check", path, &st)) {
        code = TOOL_EXIT_NOTFOUND;
    }
    ct_close(db);
    return code;
}
