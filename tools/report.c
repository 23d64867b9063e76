/*
 * report.c - CT_CORRUPT reports that name the bad page (report.h), shared
 * by check, stat, buckets and dump so damage reads the same everywhere.
 */
#include <inttypes.h>
#include <string.h>

#include "report.h"
#include "tool.h"

const char *report_problem_text(const ct_check_report *r, size_t *len)
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

void report_problem(const char *cmd, const char *path, const ct_check_report *r)
{
    fprintf(stderr, "cowtree %s: ", cmd);
    tool_print_escaped(stderr, path, strlen(path));
    fprintf(stderr, ": CT_CORRUPT: page %" PRIu64 ": ", r->first_problem_pgno);
    size_t len = 0;
    const char *text = report_problem_text(r, &len);
    tool_print_escaped(stderr, text, len);
    fprintf(stderr, " (%" PRIu64 " problem%s)\n", r->problems, r->problems == 1 ? "" : "s");
}

int report_corrupt(const char *cmd, const char *path, ct_db *db, const char *what)
{
    ct_check_report r;
    if (ct_check(db, &r) == CT_CORRUPT && r.problems > 0) {
        report_problem(cmd, path, &r);
        return TOOL_EXIT_NOTFOUND;
    }
    return tool_fail(cmd, path, what, CT_CORRUPT);
}
