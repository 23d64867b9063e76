/*
 * kit.h - private to pagestore/check/: the state of one check at one page
 * size, the store-call wrappers every check uses, and the check groups.
 *
 * Every call the kit makes to a store goes through the ct__sc_* wrappers,
 * which remember return codes outside the CT_* set for "return-codes".
 * A check function returns CT_OK when it ran (its violations are counted
 * in the run), CT_NOTSUP when it does not apply to this store, or
 * CT_NOMEM when the kit itself ran out of memory. Checks open every store
 * they use and close it before returning, on every path.
 * Never: reads a clock, calls rand(), or touches a store after closing it.
 */
#ifndef CT_STORECHECK_KIT_H
#define CT_STORECHECK_KIT_H

#include <stdint.h>

#include "cowtree.h"
#include "cowtree/plugin.h"
#include "cowtree/storecheck.h"

/* Codes outside the CT_* set remembered per page size (the rest counted). */
#define SC_BAD_CODES_MAX 8u

typedef struct ct__sc_bad_code {
    int rc;
    const char *op;    /* static: "read", "write", ... */
    const char *check; /* static: the check it happened in */
} ct__sc_bad_code;

typedef struct ct__sc {
    ct_storecheck_open_fn open;
    void *ctx;
    const ct_storecheck_options *opt;
    uint32_t page_size;
    const char *check;   /* the check running now */
    uint64_t violations; /* of the check running now */
    uint64_t rng;        /* splitmix64 state, reseeded per check */
    ct_storecheck_report *rep;
    /* Codes outside CT_* seen at this page size, for "return-codes". */
    ct__sc_bad_code bad[SC_BAD_CODES_MAX];
    uint32_t bad_count;
} ct__sc;

/* Reports one violation of the running check; the page size is appended. */
void ct__sc_violation(ct__sc *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 when rc is one of the CT_* codes of cowtree.h. */
int ct__sc_is_ct_code(int rc);
/* "CT_IO" or "-22 (not a CT_* code)": a static or per-thread buffer. */
const char *ct__sc_rcname(int rc);

/* Store calls through the return-code recorder. open reports its own
   failures (a violation of the running check) except CT_NOTSUP on reopen. */
int ct__sc_open(ct__sc *c, unsigned flags, ct_pagestore **out);
int ct__sc_read(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf);
int ct__sc_write(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf);
int ct__sc_writev(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                  const void *const *pages);
int ct__sc_sync(ct__sc *c, ct_pagestore *ps);
int ct__sc_resize(ct__sc *c, ct_pagestore *ps, uint64_t npages);
/* size(); on failure reports a violation and returns UINT64_MAX. */
uint64_t ct__sc_size(ct__sc *c, ct_pagestore *ps);

/* Deterministic page contents: page pgno in version v (v 0 = zeros). */
void ct__sc_fill(const ct__sc *c, uint8_t *page, uint64_t pgno, uint32_t version);
/* Offset of the first byte of page differing from fill(pgno, version), or
   page_size when equal. */
uint32_t ct__sc_diff(const ct__sc *c, const uint8_t *page, uint64_t pgno, uint32_t version);
/* Next PRNG value uniform in [0, n) (n > 0). */
uint64_t ct__sc_below(ct__sc *c, uint64_t n);

/* Writes npages pages at pgno each filled with version v (buf holds at
   least npages pages); reports a failed write. Returns the write's rc. */
int ct__sc_write_pattern(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                         uint32_t version, uint8_t *buf);
/* Reads npages pages at pgno and compares page i with versions[i] (or with
   version v for every page when versions is NULL). what names the step in
   messages. Returns the number of pages that differ (or npages when the
   read fails, which is reported too). */
uint32_t ct__sc_expect(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                       const uint32_t *versions, uint32_t v, uint8_t *buf, const char *what);
/* Expects size() == want; reports otherwise. Returns 1 when equal. */
int ct__sc_expect_size(ct__sc *c, ct_pagestore *ps, uint64_t want, const char *what);
/* Expects read(pgno, npages) to be CT_INVALID. */
void ct__sc_expect_invalid_read(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                                uint8_t *buf, const char *what);
/* A fresh store and a buffer of npages pages for a check. Returns 1 when
   both are ready; else 0 with nothing left open, and *result set to what
   the check returns (CT_OK after an open failure, which open reported as a
   violation; CT_NOMEM when the buffer could not be allocated). */
int ct__sc_open_fresh(ct__sc *c, uint32_t npages, ct_pagestore **ps, uint8_t **buf, int *result);
/* malloc of npages pages (NULL on failure). */
uint8_t *ct__sc_pages(const ct__sc *c, uint32_t npages);

/* The check groups (data.c, shape.c, durable.c, map.c, writev.c). */
int ct__sc_check_open(ct__sc *c);
int ct__sc_check_read_after_write(ct__sc *c);
int ct__sc_check_zero_fill(ct__sc *c);
int ct__sc_check_bounds(ct__sc *c);
int ct__sc_check_grow_on_write(ct__sc *c);
int ct__sc_check_resize(ct__sc *c);
int ct__sc_check_boundaries(ct__sc *c);
int ct__sc_check_sync(ct__sc *c);
int ct__sc_check_durability(ct__sc *c);
int ct__sc_check_map(ct__sc *c);
int ct__sc_check_writev(ct__sc *c); /* writev.c */
int ct__sc_check_power_cut(ct__sc *c); /* powercut.c */
int ct__sc_check_return_codes(ct__sc *c);

#endif
