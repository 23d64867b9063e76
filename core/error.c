/*
 * error.c - ct_strerror/ct_errname generated from the one error table in
 * cowtree.h, and the single place every corruption report passes through.
 */
#include <stdio.h>
#include <stdlib.h>

#include "debug.h"

const char *ct_strerror(int rc)
{
    switch (rc) {
#define CT__ERROR_MSG(name, value, msg)                                                    \
    case value:                                                                            \
        return msg;
        CT_ERROR_TABLE(CT__ERROR_MSG)
#undef CT__ERROR_MSG
    default:
        return "unknown error";
    }
}

const char *ct_errname(int rc)
{
    switch (rc) {
#define CT__ERROR_NAME(name, value, msg)                                                   \
    case value:                                                                            \
        return #name;
        CT_ERROR_TABLE(CT__ERROR_NAME)
#undef CT__ERROR_NAME
    default:
        return "CT_UNKNOWN";
    }
}

static _Thread_local uint64_t last_corrupt_pgno;

uint64_t ct__last_corrupt_pgno(void)
{
    return last_corrupt_pgno;
}

int ct__corrupt_report(const char *file, int line, uint64_t pgno, const char *why)
{
    last_corrupt_pgno = pgno;
#if defined(CT_DEBUG) && CT_DEBUG
    static int quiet = -1;
    if (quiet < 0) {
        quiet = 1; /* reports are expected under fault injection: opt in to see them */
        const char *v = getenv("COWTREE_TRACE_CORRUPT");
        quiet = !(v && *v == '1');
    }
    if (!quiet) {
        fprintf(stderr, "cowtree: corrupt page %llu at %s:%d: %s\n", (unsigned long long)pgno,
                file, line, why);
    }
#else
    (void)file;
    (void)line;
    (void)pgno;
    (void)why;
#endif
    return CT_CORRUPT;
}
