/*
 * fuzz_ops.c - libFuzzer target: the public API on the memory store,
 * checked against an ordered-map model after every step.
 *
 * Input format (every prefix is a valid input; an exhausted input reads
 * as zeros, see fuzz_common.h):
 *   byte 0   config: bits 0-2 page size page_sizes[n]; bit 3 store without
 *            map (reads through the page cache); bit 4 CT_SYNC_NONE;
 *            bits 5-7 cache size class (cache_sizes[])
 *   then ops, each an opcode byte (low 4 bits) and its arguments:
 *   key      one byte s: s < 0xc0 a generated key 'k', s, then (s % 8)*11
 *            bytes of s (ordered by s); s = 0xff the empty key; otherwise a
 *            literal key: length byte, then that many bytes (up to 255, so
 *            longer than ct_key_max at small pages: CT_TOOBIG)
 *   value    one byte v: length value_lengths[v & 15], seed v and the op
 *            number (overflow runs from 90 bytes at 512-byte pages)
 *   bucket   one byte: index % 4 (0 the default bucket, 1..3 "b1".."b3")
 * Opcodes are listed in the enum below. Writes begin a write txn when none
 * is active; reads use the write txn, else the open read txn, else a
 * temporary read txn. Every result is compared with the model; commits,
 * reopens and VERIFY compare whole buckets and run ct_check.
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree/memstore.h"
#include "fuzz_common.h"
#include "fuzz_model.h"

#define NB 4u                     /* buckets: default + 3 named */
#define OPS_MAX 4000u             /* ops per input: keeps one run well under a second */
#define VALUE_BUDGET_BYTES (2u << 20)  /* value bytes per input, so big values stay cheap */
/* Value bytes whole-state checks may read per input (compares and
   ct_check): beyond it they compare keys only and skip ct_check, so many
   reopens of a store full of big values stay fast. */
#define HEAVY_BUDGET_BYTES (16u << 20)
#define KEY_BUF_BYTES 256u
#define RUN_MAX 64u               /* puts or deletes in one PUT_RUN / DEL_RUN */

enum {
    OP_BEGIN = 0,
    OP_COMMIT = 1,
    OP_ABORT = 2,
    OP_PUT = 3,      /* bucket key value flags */
    OP_GET = 4,      /* bucket key */
    OP_DEL = 5,      /* bucket key */
    OP_WALK = 6,     /* bucket dir steps: cursor from an end */
    OP_SEEK = 7,     /* bucket key dir steps */
    OP_REOPEN = 8,   /* flags: bit 0 read-only */
    OP_BUCKET = 9,   /* sub: kind (create, create-excl, open, drop) and index */
    OP_READER = 10,  /* sub: begin, verify one, end, verify all */
    OP_PUT_RUN = 11, /* bucket start(u16) count value flags */
    OP_DEL_RUN = 12, /* bucket key count */
    OP_SYNC = 13,
    OP_VERIFY = 14,
    OP_PCURSOR = 15 /* sub (+ key): a cursor kept open across writes */
};

static const size_t value_lengths[16] = {0,   1,    2,    7,    16,   40,    90,    100,
                                         200, 400,  1000, 2000, 5000, 20000, 70000, 150000};
/* Small pages mostly (more splits per byte of input); 16 KiB for the
   large-page paths (64 KiB pages cost 5 ms per run: fuzz_open covers them). */
static const uint32_t page_sizes[8] = {512, 512, 65536, 1024, 1024, 2048, 4096, 16384};
static const size_t cache_sizes[8] = {0, 3, 8, 16, 32, 64, 256, 0};
static const char *const bucket_names[NB] = {"", "b1", "b2", "b3"};

/* One view of the data: the txn that sees it, its bucket handles, its model. */
typedef struct view {
    ct_txn *t;
    ct_bucket *h[NB];
    fz_map m[NB];
    int exists[NB];
} view;

typedef struct st {
    ct_pagestore *ps;
    ct_db *db;
    ct_options opt;
    size_t key_max;
    view w;         /* write txn (t NULL when none) and its working model */
    view r;         /* read txn (t NULL when none) and its snapshot */
    view c;         /* committed state (c.t is a temporary read txn, if any) */
    ct_cursor *pc;  /* OP_PCURSOR's cursor (write txn, default bucket) */
    int pc_pos;
    uint8_t pc_key[KEY_BUF_BYTES];
    size_t pc_klen;
    uint32_t opno;
    size_t value_bytes;
    size_t heavy_bytes; /* against HEAVY_BUDGET_BYTES */
    uint8_t *vbuf;
    size_t vbuf_cap;
} st;

/* ---- input decoding ------------------------------------------------------ */

static size_t read_key(fz_in *in, uint8_t *k)
{
    uint8_t s = fz_u8(in);
    if (s < 0xc0) {
        size_t pad = (size_t)(s % 8u) * 11u;
        k[0] = 'k';
        k[1] = s;
        memset(k + 2, s, pad);
        return 2 + pad;
    }
    if (s == 0xff) {
        return 0;
    }
    size_t len = fz_u8(in);
    fz_bytes(in, k, len);
    return len;
}

/* Decodes a value, fills s->vbuf with it; returns its length, *seed its seed. */
static size_t read_value(st *s, fz_in *in, uint32_t *seed)
{
    uint8_t v = fz_u8(in);
    size_t len = value_lengths[v & 15u];
    if (s->value_bytes + len > VALUE_BUDGET_BYTES) {
        len = v;
    }
    s->value_bytes += len;
    *seed = (uint32_t)v | (s->opno << 8);
    if (len > s->vbuf_cap) {
        uint8_t *b = realloc(s->vbuf, len);
        FZ_CHECK(b != NULL, "out of memory");
        s->vbuf = b;
        s->vbuf_cap = len;
    }
    fz_val_fill(s->vbuf, len, *seed);
    return len;
}

/* ---- views and txns ------------------------------------------------------ */

static void view_copy_model(view *dst, const view *src)
{
    for (unsigned b = 0; b < NB; b++) {
        fz_map_copy(&dst->m[b], &src->m[b]);
        dst->exists[b] = src->exists[b];
    }
}

static void view_end(view *v, int commit)
{
    if (v->t) {
        if (commit) {
            FZ_RC(ct_commit(v->t), CT_OK);
        } else {
            ct_abort(v->t);
        }
    }
    v->t = NULL;
    memset(v->h, 0, sizeof(v->h));
}

static void view_free(view *v)
{
    view_end(v, 0);
    for (unsigned b = 0; b < NB; b++) {
        fz_map_free(&v->m[b]);
    }
}

/* Handle of bucket b in view v: CT_OK (*out set; NULL = default bucket) or
   CT_NOTFOUND when the model says it does not exist (checked). */
static int view_bucket(view *v, unsigned b, ct_bucket **out)
{
    *out = NULL;
    if (b == 0) {
        return CT_OK;
    }
    if (v->h[b]) {
        *out = v->h[b];
        return CT_OK;
    }
    int rc = ct_bucket_open(v->t, bucket_names[b], 0, &v->h[b]);
    if (!v->exists[b]) {
        FZ_RC(rc, CT_NOTFOUND);
        return CT_NOTFOUND;
    }
    FZ_RC(rc, CT_OK);
    *out = v->h[b];
    return CT_OK;
}

static void writer_end(st *s, int commit)
{
    if (!s->w.t) {
        return;
    }
    s->pc = NULL; /* the txn frees its cursors */
    s->pc_pos = 0;
    view_end(&s->w, commit);
    if (commit) {
        view_copy_model(&s->c, &s->w);
    }
}

/* Begins the write txn if needed: 1 when one is active, 0 on a read-only db. */
static int writer(st *s)
{
    if (s->w.t) {
        return 1;
    }
    int rc = ct_begin(s->db, 0, &s->w.t);
    if (s->opt.flags & CT_RDONLY) {
        FZ_RC(rc, CT_READONLY);
        s->w.t = NULL;
        return 0;
    }
    FZ_RC(rc, CT_OK);
    view_copy_model(&s->w, &s->c);
    return 1;
}

/* The view reads go to: write txn, else read txn, else a temporary one. */
static view *reader_view(st *s)
{
    if (s->w.t) {
        return &s->w;
    }
    if (s->r.t) {
        return &s->r;
    }
    if (!s->c.t) {
        FZ_RC(ct_begin(s->db, CT_TXN_RDONLY, &s->c.t), CT_OK);
    }
    return &s->c;
}

/* Ends the temporary read txn reader_view may have begun. */
static void reader_done(st *s)
{
    view_end(&s->c, 0);
}

/* ---- whole-state checks -------------------------------------------------- */

/* Whether a whole-state check of v may read its values (charges them). */
static int heavy_ok(st *s, const view *v)
{
    size_t bytes = 0;
    for (unsigned b = 0; b < NB; b++) {
        bytes += v->exists[b] ? fz_map_value_bytes(&v->m[b]) : 0;
    }
    if (s->heavy_bytes + bytes > HEAVY_BUDGET_BYTES) {
        return 0;
    }
    s->heavy_bytes += bytes;
    return 1;
}

static void verify_view(view *v, unsigned only, unsigned how)
{
    for (unsigned b = 0; b < NB; b++) {
        if (only < NB && b != only) {
            continue;
        }
        ct_bucket *h = NULL;
        if (view_bucket(v, b, &h) != CT_OK) {
            continue;
        }
        const char *why = "";
        int d = fz_map_compare(v->t, h, &v->m[b], how, &why);
        FZ_CHECK(d == 0, "bucket %u differs from the model: %s (%s)", b, why,
                 d < 0 ? ct_errname(d) : "-");
    }
}

static void check_clean(st *s)
{
    ct_check_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = ct_check(s->db, &rep);
    FZ_CHECK(rc == CT_OK && rep.problems == 0, "ct_check: %s, %llu problems, first at page %llu: %s",
             ct_errname(rc), (unsigned long long)rep.problems,
             (unsigned long long)rep.first_problem_pgno, rep.first_problem);
    uint64_t entries = 0;
    uint64_t buckets = 0;
    for (unsigned b = 0; b < NB; b++) {
        entries += s->c.exists[b] ? s->c.m[b].n : 0;
        buckets += b > 0 && s->c.exists[b];
    }
    FZ_CHECK(rep.entries == entries && rep.buckets == buckets,
             "ct_check counts %llu entries, %llu buckets; model %llu, %llu",
             (unsigned long long)rep.entries, (unsigned long long)rep.buckets,
             (unsigned long long)entries, (unsigned long long)buckets);
}

/* Committed state against a fresh read txn, then ct_check. */
static void verify_committed(st *s)
{
    view_end(&s->c, 0);
    FZ_RC(ct_begin(s->db, CT_TXN_RDONLY, &s->c.t), CT_OK);
    int heavy = heavy_ok(s, &s->c);
    verify_view(&s->c, NB, FZ_CMP_BACKWARD | (heavy ? FZ_CMP_VALUES : 0u));
    view_end(&s->c, 0);
    if (heavy) {
        check_clean(s);
    }
}

/* ---- ops ----------------------------------------------------------------- */

static int expected_put(const st *s, const fz_map *m, const uint8_t *k, size_t klen,
                        unsigned flags)
{
    if (klen > s->key_max) {
        return CT_TOOBIG;
    }
    int found = 0;
    (void)fz_map_lower(m, k, klen, &found);
    if ((flags & CT_NOOVERWRITE) && found) {
        return CT_EXISTS;
    }
    if ((flags & CT_APPEND) && m->n > 0 &&
        fz_key_cmp(k, klen, m->v[m->n - 1].key, m->v[m->n - 1].klen) <= 0) {
        return CT_EXISTS;
    }
    return CT_OK;
}

static void put_one(st *s, ct_bucket *h, unsigned b, const uint8_t *k, size_t klen, size_t vlen,
                    uint32_t seed, unsigned flags)
{
    int want = expected_put(s, &s->w.m[b], k, klen, flags);
    int rc = ct_put(s->w.t, h, k, klen, s->vbuf, vlen, flags);
    FZ_CHECK(rc == want, "put bucket %u klen %zu vlen %zu flags %u: got %s want %s", b, klen,
             vlen, flags, ct_errname(rc), ct_errname(want));
    if (rc == CT_OK) {
        fz_map_put(&s->w.m[b], k, klen, vlen, seed);
    }
}

static void op_put(st *s, fz_in *in)
{
    unsigned b = fz_u8(in) % NB;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = read_key(in, k);
    uint32_t seed = 0;
    size_t vlen = read_value(s, in, &seed);
    unsigned flags = fz_u8(in) & (CT_NOOVERWRITE | CT_APPEND);
    ct_bucket *h = NULL;
    if (!writer(s) || view_bucket(&s->w, b, &h) != CT_OK) {
        return;
    }
    put_one(s, h, b, k, klen, vlen, seed, flags);
}

static void op_get(st *s, fz_in *in)
{
    unsigned b = fz_u8(in) % NB;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = read_key(in, k);
    view *v = reader_view(s);
    ct_bucket *h = NULL;
    if (view_bucket(v, b, &h) == CT_OK) {
        const void *val = NULL;
        size_t vlen = 0;
        int found = 0;
        size_t i = fz_map_lower(&v->m[b], k, klen, &found);
        int rc = ct_get(v->t, h, k, klen, &val, &vlen);
        FZ_RC(rc, found ? CT_OK : CT_NOTFOUND);
        if (found) {
            const fz_ent *e = &v->m[b].v[i];
            FZ_CHECK(fz_val_equal(val, vlen, e->vlen, e->vseed),
                     "get bucket %u: value of %zu bytes, model %zu", b, vlen, e->vlen);
        }
    }
    reader_done(s);
}

static void op_del(st *s, fz_in *in)
{
    unsigned b = fz_u8(in) % NB;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = read_key(in, k);
    ct_bucket *h = NULL;
    if (!writer(s) || view_bucket(&s->w, b, &h) != CT_OK) {
        return;
    }
    int rc = ct_del(s->w.t, h, k, klen);
    FZ_RC(rc, fz_map_del(&s->w.m[b], k, klen) ? CT_OK : CT_NOTFOUND);
}

/* Checks cursor c sits on model entry i (or is unpositioned: i == SIZE_MAX). */
static void cursor_at(ct_cursor *c, int rc, const fz_map *m, size_t i)
{
    if (i >= m->n) {
        FZ_RC(rc, CT_NOTFOUND);
        return;
    }
    FZ_RC(rc, CT_OK);
    const void *k = NULL;
    const void *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    FZ_RC(ct_cursor_get(c, &k, &kl, &v, &vl), CT_OK);
    const fz_ent *e = &m->v[i];
    FZ_CHECK(fz_key_cmp(k, kl, e->key, e->klen) == 0, "cursor key differs at entry %zu of %zu",
             i, m->n);
    FZ_CHECK(fz_val_equal(v, vl, e->vlen, e->vseed), "cursor value differs at entry %zu", i);
}

/* Steps cursor c from model entry i, checking every entry on the way. */
static void cursor_steps(ct_cursor *c, const fz_map *m, size_t i, int backward, unsigned steps)
{
    for (unsigned n = 0; n < steps && i < m->n; n++) {
        int rc = backward ? ct_cursor_prev(c) : ct_cursor_next(c);
        i = backward ? (i == 0 ? SIZE_MAX : i - 1) : i + 1;
        cursor_at(c, rc, m, i);
    }
}

static void op_walk_or_seek(st *s, fz_in *in, int seek)
{
    unsigned b = fz_u8(in) % NB;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = seek ? read_key(in, k) : 0;
    uint8_t d = fz_u8(in);
    int backward = d & 1;
    unsigned steps = d & 0x80u ? 100000u : d >> 1;
    view *v = reader_view(s);
    ct_bucket *h = NULL;
    ct_cursor *c = NULL;
    if (view_bucket(v, b, &h) == CT_OK) {
        const fz_map *m = &v->m[b];
        FZ_RC(ct_cursor_open(v->t, h, &c), CT_OK);
        size_t i = 0;
        int rc = CT_OK;
        if (seek) {
            rc = ct_cursor_seek(c, k, klen);
            i = fz_map_lower(m, k, klen, NULL);
        } else {
            rc = backward ? ct_cursor_last(c) : ct_cursor_first(c);
            i = backward ? m->n - 1 : 0;
        }
        cursor_at(c, rc, m, i);
        cursor_steps(c, m, i, backward, steps);
        ct_cursor_close(c);
    }
    reader_done(s);
}

static void reopen(st *s, unsigned flags)
{
    view_end(&s->r, 0);
    writer_end(s, 0);
    reader_done(s);
    ct_close(s->db);
    s->db = NULL;
    s->opt.flags = flags;
    FZ_RC(ct_open(s->ps, &s->opt, &s->db), CT_OK);
    s->key_max = ct_key_max(s->db);
    verify_committed(s);
}

static void op_bucket(st *s, fz_in *in)
{
    uint8_t sub = fz_u8(in);
    unsigned kind = sub & 3u;
    unsigned b = 1u + (sub >> 2) % (NB - 1u);
    if (!writer(s)) {
        return;
    }
    view *w = &s->w;
    int exists = w->exists[b];
    ct_bucket *h = NULL;
    int rc = CT_OK;
    if (kind == 3) {
        rc = ct_bucket_drop(w->t, bucket_names[b]);
        FZ_RC(rc, exists ? CT_OK : CT_NOTFOUND);
        w->h[b] = NULL;
        w->exists[b] = 0;
        fz_map_clear(&w->m[b]);
        return;
    }
    unsigned flags = kind == 0 ? CT_CREATE : kind == 1 ? CT_CREATE | CT_EXCL : 0u;
    rc = ct_bucket_open(w->t, bucket_names[b], flags, &h);
    int want = kind == 1 && exists ? CT_EXISTS : (!exists && kind == 2) ? CT_NOTFOUND : CT_OK;
    FZ_RC(rc, want);
    if (rc == CT_OK) {
        w->h[b] = h;
        w->exists[b] = 1;
    }
}

static void op_reader(st *s, fz_in *in)
{
    uint8_t sub = fz_u8(in);
    switch (sub & 3u) {
    case 0:
        if (!s->r.t) {
            FZ_RC(ct_begin(s->db, CT_TXN_RDONLY, &s->r.t), CT_OK);
            view_copy_model(&s->r, &s->c);
        }
        break;
    case 1:
        if (s->r.t) {
            verify_view(&s->r, (sub >> 2) % NB, (sub & 0x10u) ? FZ_CMP_BACKWARD : FZ_CMP_VALUES);
        }
        break;
    case 2:
        view_end(&s->r, (sub >> 2) & 1); /* commit or abort: a read txn just ends */
        break;
    default:
        if (s->r.t) {
            verify_view(&s->r, NB, heavy_ok(s, &s->r) ? FZ_CMP_VALUES : 0u);
        }
        break;
    }
}

static void op_put_run(st *s, fz_in *in)
{
    unsigned b = fz_u8(in) % NB;
    unsigned start = fz_u16(in);
    unsigned count = 1u + fz_u8(in) % RUN_MAX;
    uint32_t seed = 0;
    size_t vlen = read_value(s, in, &seed);
    unsigned flags = fz_u8(in) & (CT_NOOVERWRITE | CT_APPEND);
    ct_bucket *h = NULL;
    if (!writer(s) || view_bucket(&s->w, b, &h) != CT_OK) {
        return;
    }
    uint8_t k[3 + 4 * 9];
    size_t klen = 3 + (start % 5u) * 9u;
    memset(k, 'p', sizeof(k));
    k[0] = 'r';
    for (unsigned i = 0; i < count; i++) {
        unsigned n = (start + i) & 0xffffu;
        k[1] = (uint8_t)(n >> 8);
        k[2] = (uint8_t)(n & 0xffu);
        put_one(s, h, b, k, klen, vlen, seed, flags);
    }
}

static void op_del_run(st *s, fz_in *in)
{
    unsigned b = fz_u8(in) % NB;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = read_key(in, k);
    unsigned count = 1u + fz_u8(in) % RUN_MAX;
    ct_bucket *h = NULL;
    if (!writer(s) || view_bucket(&s->w, b, &h) != CT_OK) {
        return;
    }
    fz_map *m = &s->w.m[b];
    size_t i = fz_map_lower(m, k, klen, NULL);
    for (unsigned n = 0; n < count && i < m->n; n++) {
        /* The model's key is freed by the delete: delete a copy. */
        uint8_t key[KEY_BUF_BYTES];
        size_t kl = m->v[i].klen;
        memcpy(key, m->v[i].key, kl);
        FZ_RC(ct_del(s->w.t, h, key, kl), CT_OK);
        FZ_CHECK(fz_map_del(m, key, kl) == 1, "model delete");
    }
}

/* OP_PCURSOR: a cursor in the write txn, default bucket, kept across writes.
   After a write it re-seeks to the key it was on (cursor.c): next after a
   deleted key lands on its successor; get shows the first key >= it. */
static void op_pcursor(st *s, fz_in *in)
{
    uint8_t sub = fz_u8(in) % 6u;
    uint8_t k[KEY_BUF_BYTES];
    size_t klen = sub == 4 ? read_key(in, k) : 0;
    if (!writer(s)) {
        return;
    }
    if (!s->pc) {
        FZ_RC(ct_cursor_open(s->w.t, NULL, &s->pc), CT_OK);
        s->pc_pos = 0;
    }
    const fz_map *m = &s->w.m[0];
    int found = 0;
    size_t lb = s->pc_pos ? fz_map_lower(m, s->pc_key, s->pc_klen, &found) : 0;
    size_t want = SIZE_MAX;
    int rc = CT_OK;
    switch (sub) {
    case 0:
        rc = ct_cursor_first(s->pc);
        want = 0;
        break;
    case 1:
        rc = ct_cursor_last(s->pc);
        want = m->n - 1;
        break;
    case 2:
        rc = ct_cursor_next(s->pc);
        want = !s->pc_pos ? 0 : found ? lb + 1 : lb;
        break;
    case 3:
        rc = ct_cursor_prev(s->pc);
        want = !s->pc_pos ? m->n - 1 : lb == 0 ? SIZE_MAX : lb - 1;
        break;
    case 4:
        rc = ct_cursor_seek(s->pc, k, klen);
        want = fz_map_lower(m, k, klen, NULL);
        break;
    default:
        rc = ct_cursor_get(s->pc, NULL, NULL, NULL, NULL);
        want = s->pc_pos ? lb : SIZE_MAX;
        break;
    }
    cursor_at(s->pc, rc, m, want);
    s->pc_pos = want < m->n;
    if (s->pc_pos) {
        s->pc_klen = m->v[want].klen;
        memcpy(s->pc_key, m->v[want].key, s->pc_klen);
    }
}

static void op_verify(st *s, fz_in *in)
{
    uint8_t sub = fz_u8(in);
    if (s->w.t) {
        verify_view(&s->w, (sub >> 1) % (NB + 1u),
                    FZ_CMP_BACKWARD | (heavy_ok(s, &s->w) ? FZ_CMP_VALUES : 0u));
        return;
    }
    verify_committed(s);
}

static void step(st *s, fz_in *in)
{
    uint8_t op = fz_u8(in) & 15u;
    switch (op) {
    case OP_BEGIN:
        (void)writer(s);
        break;
    case OP_COMMIT:
        if (s->w.t) {
            writer_end(s, 1);
            verify_committed(s);
        }
        break;
    case OP_ABORT:
        writer_end(s, 0);
        break;
    case OP_PUT:
        op_put(s, in);
        break;
    case OP_GET:
        op_get(s, in);
        break;
    case OP_DEL:
        op_del(s, in);
        break;
    case OP_WALK:
    case OP_SEEK:
        op_walk_or_seek(s, in, op == OP_SEEK);
        break;
    case OP_REOPEN:
        reopen(s, fz_u8(in) & CT_RDONLY);
        break;
    case OP_BUCKET:
        op_bucket(s, in);
        break;
    case OP_READER:
        op_reader(s, in);
        break;
    case OP_PUT_RUN:
        op_put_run(s, in);
        break;
    case OP_DEL_RUN:
        op_del_run(s, in);
        break;
    case OP_SYNC:
        if (!(s->opt.flags & CT_RDONLY)) {
            FZ_RC(ct_sync(s->db), CT_OK);
        }
        break;
    case OP_VERIFY:
        op_verify(s, in);
        break;
    default:
        op_pcursor(s, in);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t cfg = fz_u8(&in);
    st s;
    memset(&s, 0, sizeof(s));
    s.c.exists[0] = 1;
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_sizes[cfg & 7u];
    mo.enable_map = !(cfg & 8u);
    FZ_RC(ct_memstore_create(&mo, &s.ps), CT_OK);
    ct_options_init(&s.opt);
    s.opt.durability = (cfg & 16u) ? CT_SYNC_NONE : CT_SYNC_FULL;
    s.opt.cache_pages = cache_sizes[cfg >> 5];
    FZ_RC(ct_open(s.ps, &s.opt, &s.db), CT_OK);
    s.key_max = ct_key_max(s.db);
    for (s.opno = 0; s.opno < OPS_MAX && !fz_empty(&in); s.opno++) {
        step(&s, &in);
    }
    view_free(&s.r);
    writer_end(&s, 0);
    reader_done(&s);
    view_free(&s.w);
    view_free(&s.c);
    ct_close(s.db);
    s.ps->ops->close(s.ps);
    free(s.vbuf);
    return 0;
}
