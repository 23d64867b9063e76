/*
 * runner.c - the conformance kit's runner and report: the table of checks,
 * the loop over page sizes and checks, violation messages (printed,
 * called back, counted) and the summary.
 *
 * Invariants: every (check, page size) pair ends as exactly one of passed,
 * failed or not applicable; not-applicable is never counted as passed;
 * each check starts from the same PRNG state for a given seed, page size
 * and check, so a run repeats exactly.
 * Never: aborts, reads a clock, or keeps state between runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kit.h"

/* Longest violation sentence; longer ones are cut. */
#define SC_MESSAGE_MAX 320u
/* Default number of violations shown per (check, page size). */
#define SC_SHOWN_DEFAULT 10u

typedef struct sc_check {
    const char *name;
    int (*fn)(ct__sc *c);
    const char *na_reason; /* printed when fn returns CT_NOTSUP */
} sc_check;

static const sc_check checks[] = {
    {"open", ct__sc_check_open, ""},
    {"read-after-write", ct__sc_check_read_after_write, ""},
    {"zero-fill", ct__sc_check_zero_fill, ""},
    {"bounds", ct__sc_check_bounds, ""},
    {"grow-on-write", ct__sc_check_grow_on_write, ""},
    {"resize", ct__sc_check_resize, ""},
    {"boundaries", ct__sc_check_boundaries, ""},
    {"sync", ct__sc_check_sync, ""},
    {"durability", ct__sc_check_durability, "the store is volatile (reopen: CT_NOTSUP)"},
    {"map", ct__sc_check_map, "the store has no map()"},
    {"writev", ct__sc_check_writev, "the store has no writev()"},
    {"power-cut", ct__sc_check_power_cut, ""},
    {"return-codes", ct__sc_check_return_codes, ""},
};
#define SC_CHECK_COUNT ((uint32_t)(sizeof(checks) / sizeof(checks[0])))

const char *ct_storecheck_name(uint32_t i)
{
    return i < SC_CHECK_COUNT ? checks[i].name : NULL;
}

void ct_storecheck_options_init(ct_storecheck_options *opt)
{
    if (!opt) {
        return;
    }
    memset(opt, 0, sizeof(*opt));
    opt->persistence = CT_STORECHECK_DETECT;
}

/* Copies src into dst (cap > 0 bytes), cut to fit, NUL-terminated. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1u;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void ct__sc_violation(ct__sc *c, const char *fmt, ...)
{
    c->violations++;
    c->rep->violations++;
    uint32_t shown_max =
        c->opt->violations_shown_max ? c->opt->violations_shown_max : SC_SHOWN_DEFAULT;
    int first = c->rep->first_violation[0] == '\0';
    if (c->violations > shown_max && !first) {
        return;
    }
    char msg[SC_MESSAGE_MAX];
    int len = snprintf(msg, sizeof(msg), "%s: ", c->check);
    va_list ap;
    va_start(ap, fmt);
    if (len > 0 && (size_t)len < sizeof(msg)) {
        len += vsnprintf(msg + len, sizeof(msg) - (size_t)len, fmt, ap);
    }
    va_end(ap);
    if (len > 0 && (size_t)len < sizeof(msg)) {
        snprintf(msg + len, sizeof(msg) - (size_t)len, " (page size %u)", (unsigned)c->page_size);
    }
    if (first) {
        copy_cut(c->rep->first_failed_check, sizeof(c->rep->first_failed_check), c->check);
        copy_cut(c->rep->first_violation, sizeof(c->rep->first_violation), msg);
    }
    if (c->violations > shown_max) {
        return;
    }
    if (c->opt->out) {
        fprintf(c->opt->out, "  violation: %s\n", msg);
    }
    if (c->opt->on_violation) {
        c->opt->on_violation(c->opt->cb_ctx, c->check, c->page_size, msg);
    }
}

static int valid_page_size(uint32_t page_size)
{
    return page_size >= CT_PAGE_SIZE_MIN && page_size <= CT_PAGE_SIZE_MAX &&
           (page_size & (page_size - 1u)) == 0;
}

/* Runs check k at c->page_size and files its outcome. */
static int run_one(ct__sc *c, uint32_t k)
{
    c->check = checks[k].name;
    c->violations = 0;
    c->rng = (c->opt->seed ? c->opt->seed : 0x5c0ffee5u) ^ ((uint64_t)c->page_size << 20) ^ k;
    int rc = checks[k].fn(c);
    c->rep->checks_run++;
    FILE *out = c->opt->out;
    int quiet = (c->opt->flags & CT_STORECHECK_QUIET) != 0;
    if (rc == CT_NOMEM) {
        return rc;
    }
    if (c->violations > 0) {
        c->rep->checks_failed++;
        if (out) {
            fprintf(out, "FAIL %-17s page size %-6u %llu violation%s\n", c->check,
                    (unsigned)c->page_size, (unsigned long long)c->violations,
                    c->violations == 1 ? "" : "s");
        }
    } else if (rc == CT_NOTSUP) {
        c->rep->checks_not_applicable++;
        if (out && !quiet) {
            fprintf(out, "n/a  %-17s page size %-6u %s\n", c->check, (unsigned)c->page_size,
                    checks[k].na_reason);
        }
    } else {
        c->rep->checks_passed++;
        if (out && !quiet) {
            fprintf(out, "ok   %-17s page size %u\n", c->check, (unsigned)c->page_size);
        }
    }
    return CT_OK;
}

/* Validates the options; fills sizes with the page sizes to test. */
static int plan(const ct_storecheck_options *o, uint32_t *sizes, uint32_t *count)
{
    *count = 0;
    if (!o->page_sizes || o->page_size_count == 0) {
        for (uint32_t ps = CT_PAGE_SIZE_MIN; ps <= CT_PAGE_SIZE_MAX; ps *= 2u) {
            sizes[(*count)++] = ps;
        }
    } else {
        if (o->page_size_count > CT_STORECHECK_PAGE_SIZES_MAX) {
            return CT_INVALID;
        }
        for (uint32_t i = 0; i < o->page_size_count; i++) {
            if (!valid_page_size(o->page_sizes[i])) {
                return CT_INVALID;
            }
            sizes[(*count)++] = o->page_sizes[i];
        }
    }
    if (o->persistence < CT_STORECHECK_DETECT || o->persistence > CT_STORECHECK_VOLATILE) {
        return CT_INVALID;
    }
    if (o->only) {
        for (uint32_t k = 0; k < SC_CHECK_COUNT; k++) {
            if (strcmp(o->only, checks[k].name) == 0) {
                return CT_OK;
            }
        }
        return CT_INVALID;
    }
    return CT_OK;
}

int ct_storecheck_run(ct_storecheck_open_fn open, void *ctx, const ct_storecheck_options *opt,
                      ct_storecheck_report *rep)
{
    ct_storecheck_report local;
    if (!rep) {
        rep = &local;
    }
    memset(rep, 0, sizeof(*rep));
    ct_storecheck_options o;
    ct_storecheck_options_init(&o);
    if (opt) {
        o = *opt;
    }
    uint32_t sizes[CT_STORECHECK_PAGE_SIZES_MAX];
    uint32_t size_count = 0;
    if (!open || plan(&o, sizes, &size_count) != CT_OK) {
        return CT_INVALID;
    }
    ct__sc c;
    memset(&c, 0, sizeof(c));
    c.open = open;
    c.ctx = ctx;
    c.opt = &o;
    c.rep = rep;
    for (uint32_t s = 0; s < size_count; s++) {
        c.page_size = sizes[s];
        c.bad_count = 0;
        for (uint32_t k = 0; k < SC_CHECK_COUNT; k++) {
            if (o.only && strcmp(o.only, checks[k].name) != 0 &&
                strcmp(checks[k].name, "return-codes") != 0) {
                continue;
            }
            if (run_one(&c, k) == CT_NOMEM) {
                return CT_NOMEM;
            }
        }
    }
    if (o.out) {
        fprintf(o.out,
                "storecheck: %u checks: %u passed, %u failed, %u not applicable; "
                "%llu violation%s\n",
                (unsigned)rep->checks_run, (unsigned)rep->checks_passed,
                (unsigned)rep->checks_failed, (unsigned)rep->checks_not_applicable,
                (unsigned long long)rep->violations, rep->violations == 1 ? "" : "s");
    }
    return rep->checks_failed ? CT_CORRUPT : CT_OK;
}
