/*
 * report.h - reports of a damaged database that name the bad page. The
 * library's calls return CT_CORRUPT without a page; ct_check's report has
 * it, so every command that meets damage words it the same way as check:
 * "cowtree CMD: FILE: CT_CORRUPT: page N: what (K problems)".
 */
#ifndef COWTREE_TOOL_REPORT_H
#define COWTREE_TOOL_REPORT_H

#include <stddef.h>

#include "cowtree.h"

/* The report's first problem without its leading "page N: " (callers print
   the page themselves); *len gets its length. */
const char *report_problem_text(const ct_check_report *r, size_t *len);
/* Prints the one-line CT_CORRUPT report of r on stderr. */
void report_problem(const char *cmd, const char *path, const ct_check_report *r);
/* A call on db returned CT_CORRUPT: runs ct_check to name the first bad
   page and prints it (or, when the check finds nothing, the plain
   CT_CORRUPT line with what). Returns the exit code. */
int report_corrupt(const char *cmd, const char *path, ct_db *db, const char *what);

#endif /* COWTREE_TOOL_REPORT_H */
