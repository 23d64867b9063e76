/*
 * calls.c - the conformance kit's hands: every store call it makes (with
 * the return-code recorder), the deterministic page patterns, and the
 * "expect" helpers that turn a wrong answer into one violation sentence.
 *
 * Invariants: a page pattern depends only on (seed, pgno, version), so a
 * page that lands at the wrong number, a stale version or a torn page all
 * read back different; version 0 is all zeros.
 * Never: reads a clock or calls rand(); allocates except ct__sc_pages.
 */
#include <stdlib.h>
#include <string.h>

#include "kit.h"

int ct__sc_is_ct_code(int rc)
{
    switch (rc) {
#define SC_CODE_CASE(name, value, msg) case name:
        CT_ERROR_TABLE(SC_CODE_CASE)
#undef SC_CODE_CASE
        return 1;
    default:
        return 0;
    }
}

const char *ct__sc_rcname(int rc)
{
    static _Thread_local char buf[48];
    if (ct__sc_is_ct_code(rc)) {
        return ct_errname(rc);
    }
    snprintf(buf, sizeof(buf), "%d (not a CT_* code)", rc);
    return buf;
}

/* Remembers rc for "return-codes" when it is not a CT_* code. */
static int record(ct__sc *c, const char *op, int rc)
{
    if (!ct__sc_is_ct_code(rc)) {
        if (c->bad_count < SC_BAD_CODES_MAX) {
            c->bad[c->bad_count].rc = rc;
            c->bad[c->bad_count].op = op;
            c->bad[c->bad_count].check = c->check;
        }
        c->bad_count++;
    }
    return rc;
}

int ct__sc_open(ct__sc *c, unsigned flags, ct_pagestore **out)
{
    *out = NULL;
    ct_pagestore *ps = NULL;
    int rc = record(c, "open", c->open(c->ctx, c->page_size, flags, &ps));
    const char *how = (flags & CT_STORE_PLUGIN_FRESH) ? "a fresh open" : "a reopen";
    if (rc == CT_NOTSUP && !(flags & CT_STORE_PLUGIN_FRESH)) {
        return rc; /* a volatile store: the caller decides */
    }
    if (rc != CT_OK) {
        ct__sc_violation(c, "%s failed with %s", how, ct__sc_rcname(rc));
        return rc;
    }
    if (!ps || !ps->ops) {
        ct__sc_violation(c, "%s returned CT_OK but no store (or a store without ops)", how);
        return CT_INVALID;
    }
    const ct_pagestore_ops *o = ps->ops;
    if (!o->read || !o->write || !o->sync || !o->size || !o->resize || !o->close) {
        ct__sc_violation(c, "%s returned a store with a required op slot NULL", how);
        if (o->close) {
            o->close(ps);
        }
        return CT_INVALID;
    }
    if (ps->page_size != c->page_size) {
        ct__sc_violation(c, "%s asked for page size %u and got a store of page size %u", how,
                         (unsigned)c->page_size, (unsigned)ps->page_size);
        o->close(ps);
        return CT_INVALID;
    }
    *out = ps;
    return CT_OK;
}

int ct__sc_read(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    return record(c, "read", ps->ops->read(ps, pgno, npages, buf));
}

int ct__sc_write(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    return record(c, "write", ps->ops->write(ps, pgno, npages, buf));
}

int ct__sc_writev(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                  const void *const *pages)
{
    return record(c, "writev", ps->ops->writev(ps, pgno, npages, pages));
}

int ct__sc_sync(ct__sc *c, ct_pagestore *ps)
{
    return record(c, "sync", ps->ops->sync(ps));
}

int ct__sc_resize(ct__sc *c, ct_pagestore *ps, uint64_t npages)
{
    return record(c, "resize", ps->ops->resize(ps, npages));
}

uint64_t ct__sc_size(ct__sc *c, ct_pagestore *ps)
{
    uint64_t n = UINT64_MAX;
    int rc = record(c, "size", ps->ops->size(ps, &n));
    if (rc != CT_OK) {
        ct__sc_violation(c, "size() failed with %s", ct__sc_rcname(rc));
        return UINT64_MAX;
    }
    return n;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t ct__sc_below(ct__sc *c, uint64_t n)
{
    return n ? splitmix(&c->rng) % n : 0;
}

static uint64_t page_seed(const ct__sc *c, uint64_t pgno, uint32_t version)
{
    uint64_t s = (c->opt->seed ? c->opt->seed : 0x5c0ffee5u) ^ (pgno * 0xd1b54a32d192ed03u) ^
                 ((uint64_t)version * 0x8cb92ba72f3d8dd7u) ^ ((uint64_t)c->page_size << 40);
    (void)splitmix(&s);
    return s;
}

/* Little-endian bytes of v into p (8 bytes). */
static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8u; i++) {
        p[i] = (uint8_t)(v >> (8u * i));
    }
}

void ct__sc_fill(const ct__sc *c, uint8_t *page, uint64_t pgno, uint32_t version)
{
    if (version == 0) {
        memset(page, 0, c->page_size);
        return;
    }
    uint64_t s = page_seed(c, pgno, version);
    for (uint32_t off = 0; off < c->page_size; off += 8u) {
        put64(page + off, splitmix(&s));
    }
}

uint32_t ct__sc_diff(const ct__sc *c, const uint8_t *page, uint64_t pgno, uint32_t version)
{
    uint64_t s = page_seed(c, pgno, version);
    uint8_t want[8];
    for (uint32_t off = 0; off < c->page_size; off += 8u) {
        if (version == 0) {
            memset(want, 0, sizeof(want));
        } else {
            put64(want, splitmix(&s));
        }
        for (uint32_t i = 0; i < 8u; i++) {
            if (page[off + i] != want[i]) {
                return off + i;
            }
        }
    }
    return c->page_size;
}

uint8_t *ct__sc_pages(const ct__sc *c, uint32_t npages)
{
    return malloc((size_t)c->page_size * npages);
}

int ct__sc_write_pattern(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                         uint32_t version, uint8_t *buf)
{
    for (uint32_t i = 0; i < npages; i++) {
        ct__sc_fill(c, buf + (size_t)i * c->page_size, pgno + i, version);
    }
    int rc = ct__sc_write(c, ps, pgno, npages, buf);
    if (rc != CT_OK) {
        ct__sc_violation(c, "a %u-page write at page %llu failed with %s", (unsigned)npages,
                         (unsigned long long)pgno, ct__sc_rcname(rc));
    }
    return rc;
}

uint32_t ct__sc_expect(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                       const uint32_t *versions, uint32_t v, uint8_t *buf, const char *what)
{
    memset(buf, 0xa5, (size_t)npages * c->page_size); /* a read that fills nothing shows */
    int rc = ct__sc_read(c, ps, pgno, npages, buf);
    if (rc != CT_OK) {
        ct__sc_violation(c, "%s: a %u-page read at page %llu failed with %s", what,
                         (unsigned)npages, (unsigned long long)pgno, ct__sc_rcname(rc));
        return npages;
    }
    uint32_t bad = 0;
    uint32_t first = 0;
    uint32_t first_off = 0;
    for (uint32_t i = 0; i < npages; i++) {
        uint32_t want = versions ? versions[i] : v;
        uint32_t off = ct__sc_diff(c, buf + (size_t)i * c->page_size, pgno + i, want);
        if (off != c->page_size && bad++ == 0) {
            first = i;
            first_off = off;
        }
    }
    if (bad == 0) {
        return 0;
    }
    /* One sentence per read: the first bad page in detail, then a count. */
    uint32_t want = versions ? versions[first] : v;
    char more[64] = "";
    if (bad > 1u) {
        snprintf(more, sizeof(more), "; %u of the %u pages differ", (unsigned)bad,
                 (unsigned)npages);
    }
    ct__sc_violation(c,
                     "%s: page %llu (page %u of a %u-page read at %llu) reads back %s "
                     "(first difference at byte %u)%s",
                     what, (unsigned long long)(pgno + first), (unsigned)first, (unsigned)npages,
                     (unsigned long long)pgno,
                     want == 0 ? "non-zero bytes where zeros belong" : "different bytes",
                     (unsigned)first_off, more);
    return bad;
}

int ct__sc_expect_size(ct__sc *c, ct_pagestore *ps, uint64_t want, const char *what)
{
    uint64_t n = ct__sc_size(c, ps);
    if (n == UINT64_MAX) {
        return 0;
    }
    if (n != want) {
        ct__sc_violation(c, "%s: size() is %llu pages, expected %llu", what, (unsigned long long)n,
                         (unsigned long long)want);
        return 0;
    }
    return 1;
}

void ct__sc_expect_invalid_read(ct__sc *c, ct_pagestore *ps, uint64_t pgno, uint32_t npages,
                                uint8_t *buf, const char *what)
{
    int rc = ct__sc_read(c, ps, pgno, npages, buf);
    if (rc != CT_INVALID) {
        ct__sc_violation(c, "%s: a %u-page read at page %llu returned %s, expected CT_INVALID",
                         what, (unsigned)npages, (unsigned long long)pgno, ct__sc_rcname(rc));
    }
}

int ct__sc_open_fresh(ct__sc *c, uint32_t npages, ct_pagestore **ps, uint8_t **buf, int *result)
{
    *buf = NULL;
    *result = CT_OK;
    if (ct__sc_open(c, CT_STORE_PLUGIN_FRESH, ps) != CT_OK) {
        return 0;
    }
    *buf = ct__sc_pages(c, npages);
    if (!*buf) {
        (*ps)->ops->close(*ps);
        *ps = NULL;
        *result = CT_NOMEM;
        return 0;
    }
    return 1;
}
