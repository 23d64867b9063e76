/*
 * shrink.c - delta debugging over a failing case, to a fixed point:
 *   1. cut everything after the failing op;
 *   2. remove whole txns (the ops up to and including a commit, abort or
 *      reopen), then chunks of ops, halving the chunk size down to 1;
 *   3. shrink every number of every op: key and value byte lengths, scan
 *      and walk lengths, walk moves; and simplify: flags off, default
 *      bucket, read through the write txn, start at the first key;
 *   4. when that changes nothing: grow one put's value if another op can go;
 *   5. when that changes nothing: delta debugging on the bytes of each
 *      distinct key, cut from every op that uses the key (so a put and its
 *      later del stay the same key).
 * A candidate is kept when it still fails (any failure of the same
 * property). Stops when a whole round changes nothing, or after
 * SHRINK_RUNS_MAX runs. The result is 1-minimal for op removal and
 * for each single-field reduction tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"

/* Bounds the shrinking time of a pathological case (each run replays it). */
#define SHRINK_RUNS_MAX 20000u

typedef struct shrinker {
    pt_case *c;
    pt_result *res;
    uint32_t runs;
    int verbose;
    int kind; /* failure_kind of the case being shrunk */
} shrinker;

/* How a result fails: answers that differ, a crash, a hang, a backend that
   would not open, or ct_check after a commit. A candidate must fail the
   same way as the case being shrunk, or shrinking could trade the bug it
   found for another one and report that. */
static int failure_kind(const pt_result *r)
{
    if (strncmp(r->why, "crashed:", 8) == 0) {
        return 1;
    }
    if (strncmp(r->why, "hung:", 5) == 0) {
        return 2;
    }
    if (strncmp(r->why, "open:", 5) == 0) {
        return 3;
    }
    return strstr(r->why, "after the commit:") ? 4 : 0;
}

static int fails(shrinker *s, const pt_case *cand)
{
    if (s->runs >= SHRINK_RUNS_MAX) {
        return 0;
    }
    s->runs++;
    pt_result r;
    /* a candidate may crash the engine: isolated */
    if (pt_exec_isolated(cand, &r) != 0 && failure_kind(&r) == s->kind) {
        *s->res = r;
        return 1;
    }
    return 0;
}

/* Tries the case without ops [from, to); keeps the removal if it fails. */
static int try_remove(shrinker *s, uint32_t from, uint32_t to)
{
    pt_case *c = s->c;
    if (from >= to || to > c->n) {
        return 0;
    }
    pt_case cand = *c;
    cand.ops = malloc((c->n - (to - from)) * sizeof(pt_op) + sizeof(pt_op));
    if (!cand.ops) {
        return 0;
    }
    memcpy(cand.ops, c->ops, from * sizeof(pt_op));
    memcpy(cand.ops + from, c->ops + to, (c->n - to) * sizeof(pt_op));
    cand.n = c->n - (to - from);
    int f = fails(s, &cand);
    if (f) {
        for (uint32_t i = from; i < to; i++) {
            free(c->ops[i].key);
        }
        memmove(c->ops + from, c->ops + to, (c->n - to) * sizeof(pt_op));
        c->n = cand.n;
    }
    free(cand.ops);
    return f;
}

static int is_boundary(const pt_op *op)
{
    return op->kind == PT_COMMIT || op->kind == PT_ABORT || op->kind == PT_REOPEN;
}

static int remove_txns(shrinker *s)
{
    int progress = 0;
    uint32_t start = 0;
    while (start < s->c->n) {
        uint32_t end = start;
        while (end < s->c->n && !is_boundary(&s->c->ops[end])) {
            end++;
        }
        end = end < s->c->n ? end + 1 : end;
        if (try_remove(s, start, end)) {
            progress = 1;
        } else {
            start = end;
        }
    }
    return progress;
}

static int remove_chunks(shrinker *s)
{
    int progress = 0;
    for (uint32_t chunk = s->c->n / 2; chunk >= 1; chunk /= 2) {
        uint32_t at = 0;
        while (at < s->c->n) {
            uint32_t to = at + chunk < s->c->n ? at + chunk : s->c->n;
            if (try_remove(s, at, to)) {
                progress = 1;
            } else {
                at = to;
            }
        }
    }
    return progress;
}

/* Shrinks *field (a uint32_t in op i) toward lo: lo, halfway, -1/4, -1. */
static int shrink_u32(shrinker *s, uint32_t i, uint32_t *field, uint32_t lo)
{
    int progress = 0;
    for (;;) {
        uint32_t x = *field;
        if (x <= lo) {
            return progress;
        }
        uint32_t cands[4] = {lo, lo + (x - lo) / 2, x - (x - lo + 3) / 4, x - 1};
        int kept = 0;
        for (int k = 0; k < 4 && !kept; k++) {
            if (cands[k] >= x || (k > 0 && cands[k] == cands[k - 1])) {
                continue;
            }
            *field = cands[k];
            if (fails(s, s->c)) {
                kept = 1;
            } else {
                *field = x;
            }
        }
        if (!kept) {
            return progress;
        }
        progress = 1;
        (void)i;
    }
}

/* Sets a small field to a simpler value; keeps it if the case still fails. */
#define TRY_SET(s, lvalue, simpler)                                                           \
    do {                                                                                       \
        __typeof__(lvalue) old_ = (lvalue);                                                    \
        if (old_ != (simpler)) {                                                               \
            (lvalue) = (simpler);                                                              \
            if (fails((s), (s)->c)) {                                                          \
                progress = 1;                                                                  \
            } else {                                                                           \
                (lvalue) = old_;                                                               \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static int simplify_ops(shrinker *s)
{
    int progress = 0;
    for (uint32_t i = 0; i < s->c->n; i++) {
        pt_op *op = &s->c->ops[i];
        TRY_SET(s, op->flags, (uint8_t)0);
        TRY_SET(s, op->snap, (int8_t)-1);
        if (op->kind != PT_BUCKET_CREATE && op->kind != PT_BUCKET_DROP) {
            TRY_SET(s, op->bucket, (uint8_t)0);
        }
        if (op->kind == PT_SCAN || op->kind == PT_WALK) {
            TRY_SET(s, op->start, (uint8_t)PT_START_FIRST);
            TRY_SET(s, op->dir, (uint8_t)0);
            TRY_SET(s, op->moves, 0u);
            progress |= shrink_u32(s, i, &op->count, 0);
        }
        /* One op's key alone (shrink_keys cuts every use of a key). */
        uint32_t klen_min = s->c->prop == PT_PROP_LMDB && op->klen > 0 ? 1 : 0;
        progress |= shrink_u32(s, i, &op->klen, klen_min);
        progress |= shrink_u32(s, i, &op->vlen, 0);
    }
    return progress;
}

static int has_key(const pt_op *op)
{
    return op->kind == PT_PUT || op->kind == PT_GET || op->kind == PT_DEL ||
           ((op->kind == PT_SCAN || op->kind == PT_WALK) && op->start == PT_START_SEEK);
}

static int key_eq(const pt_op *a, const uint8_t *k, uint32_t kl)
{
    return a->klen == kl && (kl == 0 || memcmp(a->key, k, kl) == 0);
}

/* Cuts bytes [at, at+len) out of every occurrence of key k (kl bytes) in
   the case, so a put and a later get or del of the same key stay equal;
   keeps the cut when the case still fails. */
static int cut_key(shrinker *s, const uint8_t *k, uint32_t kl, uint32_t at, uint32_t len)
{
    pt_case *c = s->c;
    uint8_t *orig = malloc(kl ? kl : 1);
    uint8_t *mark = calloc(c->n ? c->n : 1, 1);
    if (!orig || !mark) {
        free(orig);
        free(mark);
        return 0;
    }
    memcpy(orig, k, kl);
    for (uint32_t i = 0; i < c->n; i++) {
        pt_op *op = &c->ops[i];
        if (has_key(op) && key_eq(op, orig, kl)) {
            mark[i] = 1;
            memmove(op->key + at, op->key + at + len, kl - at - len);
            op->klen = kl - len;
        }
    }
    int f = fails(s, c);
    if (!f) {
        for (uint32_t i = 0; i < c->n; i++) {
            if (mark[i]) {
                memcpy(c->ops[i].key, orig, kl);
                c->ops[i].klen = kl;
            }
        }
    }
    free(orig);
    free(mark);
    return f;
}

/* Delta debugging on the bytes of each distinct key: chunks of half,
   quarter, ... of its length, cut anywhere, in every op that uses it. */
static int shrink_keys(shrinker *s)
{
    int progress = 0;
    uint32_t kmin = s->c->prop == PT_PROP_LMDB ? 1 : 0;
    for (uint32_t i = 0; i < s->c->n; i++) {
        pt_op *op = &s->c->ops[i];
        if (!has_key(op) || op->klen <= kmin) {
            continue;
        }
        for (uint32_t len = op->klen / 2 ? op->klen / 2 : 1; len >= 1; len /= 2) {
            for (uint32_t at = 0; at + len <= op->klen && op->klen - len >= kmin;) {
                if (cut_key(s, op->key, op->klen, at, len)) {
                    progress = 1;
                } else {
                    at += len;
                }
            }
        }
    }
    return progress;
}

/* Op count before bytes: a put grown to a large inline value may replace
   other ops (fewer, fuller pages). Each accepted move removes one op, so
   this terminates. Only for short cases: it costs O(n^2) runs. */
#define SHRINK_GROW_OPS_MAX 40u

static int grow_and_remove(shrinker *s)
{
    pt_case *c = s->c;
    if (c->n > SHRINK_GROW_OPS_MAX) {
        return 0;
    }
    uint32_t sizes[3] = {c->page_size / 4 - 24, c->page_size / 8, c->page_size + 1};
    for (uint32_t i = 0; i < c->n; i++) {
        pt_op *op = &c->ops[i];
        if (op->kind != PT_PUT) {
            continue;
        }
        for (int k = 0; k < 3; k++) {
            uint32_t old = op->vlen;
            if (sizes[k] <= old) {
                continue;
            }
            op = &c->ops[i];
            op->vlen = sizes[k];
            for (uint32_t j = 0; j < c->n; j++) {
                if (j != i && try_remove(s, j, j + 1)) {
                    return 1; /* indices moved: the caller's next round restarts */
                }
            }
            c->ops[i].vlen = old;
        }
    }
    return 0;
}

uint32_t pt_shrink(pt_case *c, pt_result *res, int verbose)
{
    shrinker s = {.c = c, .res = res, .runs = 0, .verbose = verbose, .kind = failure_kind(res)};
    if (res->fail_op + 1 < c->n) {
        try_remove(&s, res->fail_op + 1, c->n);
    }
    for (int round = 1;; round++) {
        int progress = remove_txns(&s);
        progress |= remove_chunks(&s);
        progress |= simplify_ops(&s);
        /* Ops first: bytes are only cut once no op can go. */
        if (!progress) {
            progress = grow_and_remove(&s);
        }
        if (!progress) {
            progress = shrink_keys(&s);
        }
        if (verbose) {
            fprintf(stderr, "shrink: round %d: %u ops after %u runs\n", round, c->n, s.runs);
        }
        if (!progress || s.runs >= SHRINK_RUNS_MAX) {
            break;
        }
    }
    /* Leave res describing the final case. */
    pt_exec_isolated(c, res);
    return s.runs;
}
