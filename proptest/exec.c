/*
 * exec.c - runs one case against cowtree and the property's reference
 * backend in lockstep and compares their answers as canonical text.
 *
 * What is compared (docs/proptest.md):
 *  - every op's answer: return codes, values read, every cursor position
 *    of a walk or scan (key, value, NOTFOUND, and the get after each move);
 *  - after every put/del: a get of the same key (the post-state);
 *  - after every commit, abort, reopen and bucket op, and at the end: the
 *    full contents of every bucket through the write txn, forward and
 *    backward, and of every open snapshot;
 *  - after every commit: ct_check on cowtree (when the backend has check).
 * The epilogue commits, compares, reopens and compares again, so every
 * case also checks that a closed and reopened database equals the model.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "be.h"

typedef struct sb {
    char *p;
    size_t n;
    size_t cap;
} sb;

static void sb_printf(sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sb *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = s->cap - s->n;
        int w = vsnprintf(s->p ? s->p + s->n : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            return;
        }
        if ((size_t)w < room) {
            s->n += (size_t)w;
            return;
        }
        size_t cap = s->cap ? 2 * s->cap : 4096;
        while (cap - s->n <= (size_t)w) {
            cap *= 2;
        }
        char *p = realloc(s->p, cap);
        if (!p) {
            fprintf(stderr, "cowtree-proptest: out of memory\n");
            exit(2);
        }
        s->p = p;
        s->cap = cap;
    }
}

typedef struct side {
    const pt_be_ops *ops;
    pt_be *be;
    sb out;
} side;

typedef struct run {
    const pt_case *c;
    side s[2];
    int snap_open[PT_SNAPS];
    uint8_t *vbuf;
    pt_result *res;
} run;

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Keys up to 24 bytes in hex, longer ones as length, head and hash. */
static void put_key(sb *s, const uint8_t *k, size_t kl)
{
    size_t show = kl <= 24 ? kl : 8;
    sb_printf(s, "x");
    for (size_t i = 0; i < show; i++) {
        sb_printf(s, "%02x", k[i]);
    }
    if (show < kl) {
        sb_printf(s, "..(%zu:%016llx)", kl, (unsigned long long)hash_bytes(k, kl));
    }
}

static void put_val(sb *s, const uint8_t *v, size_t vl)
{
    sb_printf(s, "%zu:%016llx", vl, (unsigned long long)hash_bytes(v, vl));
}

static const char *rname(int r)
{
    static const char *const names[] = {"OK", "NOTFOUND", "EXISTS", "TOOBIG", "NOBUCKET"};
    return r >= 0 && r <= PT_R_NOBUCKET ? names[r] : "ERROR";
}

static void put_rc(sb *s, int r)
{
    if (r >= 0 && r <= PT_R_NOBUCKET) {
        sb_printf(s, "%s", rname(r));
    } else {
        sb_printf(s, "ERROR(%d)", r);
    }
}

/* Cursor get after a move: "OK k=.. v=.." or the code. */
static void cur_entry(side *sd, sb *s)
{
    const uint8_t *k = NULL;
    const uint8_t *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    int r = sd->ops->cur_get(sd->be, &k, &kl, &v, &vl);
    put_rc(s, r);
    if (r == PT_R_OK) {
        sb_printf(s, " k=");
        put_key(s, k, kl);
        sb_printf(s, " v=");
        put_val(s, v, vl);
    }
}

static int key_eq_cur(side *sd, const uint8_t *key, size_t klen)
{
    const uint8_t *k = NULL;
    const uint8_t *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    if (sd->ops->cur_get(sd->be, &k, &kl, &v, &vl) != PT_R_OK) {
        return 0;
    }
    return kl == klen && (klen == 0 || memcmp(k, key, klen) == 0);
}

/* A scan: position at the seek key (backward: the last key <= it), then
   collect up to count entries moving in dir. */
static void scan(side *sd, sb *s, const pt_op *op)
{
    int r = sd->ops->cur_open(sd->be, op->snap, op->bucket);
    if (r != PT_R_OK) {
        put_rc(s, r);
        return;
    }
    int back = op->dir != 0;
    if (op->start == PT_START_FIRST) {
        r = sd->ops->cur_move(sd->be, PT_CUR_FIRST, NULL, 0);
    } else if (op->start == PT_START_LAST) {
        r = sd->ops->cur_move(sd->be, PT_CUR_LAST, NULL, 0);
    } else {
        r = sd->ops->cur_move(sd->be, PT_CUR_SEEK, op->key, op->klen);
        sb_printf(s, "seek:");
        put_rc(s, r);
        if (back && r == PT_R_NOTFOUND) {
            r = sd->ops->cur_move(sd->be, PT_CUR_LAST, NULL, 0); /* everything is below */
        } else if (back && r == PT_R_OK && !key_eq_cur(sd, op->key, op->klen)) {
            r = sd->ops->cur_move(sd->be, PT_CUR_PREV, NULL, 0);
        }
    }
    sb_printf(s, " [");
    uint32_t n = 0;
    while (r == PT_R_OK && n < op->count) {
        sb_printf(s, "\n    ");
        cur_entry(sd, s);
        n++;
        r = sd->ops->cur_move(sd->be, back ? PT_CUR_PREV : PT_CUR_NEXT, NULL, 0);
    }
    sb_printf(s, "\n  ] n=%u end=", n);
    put_rc(s, r);
    sd->ops->cur_close(sd->be);
}

static void walk(side *sd, sb *s, const pt_op *op)
{
    int r = sd->ops->cur_open(sd->be, op->snap, op->bucket);
    if (r != PT_R_OK) {
        put_rc(s, r);
        return;
    }
    static const char *const how_names[] = {"first", "last", "seek", "next", "prev"};
    int how = op->start == PT_START_FIRST  ? PT_CUR_FIRST
              : op->start == PT_START_LAST ? PT_CUR_LAST
                                           : PT_CUR_SEEK;
    for (uint32_t i = 0; i <= op->count; i++) {
        if (i > 0) {
            how = (op->moves >> ((i - 1) % 32u)) & 1u ? PT_CUR_PREV : PT_CUR_NEXT;
        }
        r = sd->ops->cur_move(sd->be, how, op->key, op->klen);
        sb_printf(s, "\n    %s:", how_names[how]);
        put_rc(s, r);
        sb_printf(s, " get:");
        cur_entry(sd, s);
    }
    sd->ops->cur_close(sd->be);
}

/* A point read of the cursor's current key (routing through the branch
   separators, which a cursor walk never consults). */
static void point_read(side *sd, sb *s, int snap, unsigned bucket)
{
    const uint8_t *k = NULL;
    const uint8_t *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    if (sd->ops->cur_get(sd->be, &k, &kl, &v, &vl) != PT_R_OK) {
        return;
    }
    uint8_t *key = malloc(kl ? kl : 1);
    if (!key) {
        fprintf(stderr, "cowtree-proptest: out of memory\n");
        exit(2);
    }
    if (kl) {
        memcpy(key, k, kl);
    }
    int r = sd->ops->get(sd->be, snap, bucket, key, kl, &v, &vl);
    sb_printf(s, " get:");
    put_rc(s, r);
    if (r == PT_R_OK) {
        sb_printf(s, " v=");
        put_val(s, v, vl);
    }
    free(key);
}

/* Full contents of one view (snap -1: the write txn), both directions. */
static void dump(side *sd, sb *s, int snap)
{
    for (unsigned b = 0; b < PT_BUCKETS; b++) {
        sb_printf(s, "\n  bucket %u:", b);
        int r = sd->ops->cur_open(sd->be, snap, b);
        if (r != PT_R_OK) {
            put_rc(s, r);
            continue;
        }
        for (int back = 0; back < 2; back++) {
            sb_printf(s, back ? "\n   backward:" : "\n   forward:");
            r = sd->ops->cur_move(sd->be, back ? PT_CUR_LAST : PT_CUR_FIRST, NULL, 0);
            for (uint32_t n = 0; r == PT_R_OK && n < 1000000u; n++) {
                sb_printf(s, "\n    ");
                cur_entry(sd, s);
                if (!back) {
                    point_read(sd, s, snap, b);
                }
                r = sd->ops->cur_move(sd->be, back ? PT_CUR_PREV : PT_CUR_NEXT, NULL, 0);
            }
            sb_printf(s, "\n    end ");
            put_rc(s, r);
        }
        sd->ops->cur_close(sd->be);
    }
}

static void dump_all(run *rn, side *sd, sb *s)
{
    sb_printf(s, "\n write txn:");
    dump(sd, s, -1);
    for (unsigned i = 0; i < PT_SNAPS; i++) {
        if (rn->snap_open[i]) {
            sb_printf(s, "\n snapshot %u:", i);
            dump(sd, s, (int)i);
        }
    }
}

static void get_after(side *sd, sb *s, const pt_op *op)
{
    const uint8_t *v = NULL;
    size_t vl = 0;
    int r = sd->ops->get(sd->be, -1, op->bucket, op->key, op->klen, &v, &vl);
    sb_printf(s, "\n  then get:");
    put_rc(s, r);
    if (r == PT_R_OK) {
        sb_printf(s, " v=");
        put_val(s, v, vl);
    }
}

/* The answer of side sd to op, appended to sd->out. */
static void answer(run *rn, side *sd, const pt_op *op)
{
    sb *s = &sd->out;
    const uint8_t *v = NULL;
    size_t vl = 0;
    int r;
    if (op->snap >= 0 && (op->kind == PT_GET || op->kind == PT_SCAN || op->kind == PT_WALK) &&
        (op->snap >= (int)PT_SNAPS || !rn->snap_open[op->snap])) {
        sb_printf(s, "skipped (snapshot slot not open)");
        return;
    }
    if (op->bucket >= PT_BUCKETS) {
        sb_printf(s, "skipped (bucket out of range)");
        return;
    }
    switch ((pt_kind)op->kind) {
    case PT_PUT:
        pt_value_fill(rn->vbuf, op->vseed, op->vlen);
        put_rc(s, sd->ops->put(sd->be, op->bucket, op->key, op->klen, rn->vbuf, op->vlen,
                               op->flags));
        get_after(sd, s, op);
        return;
    case PT_GET:
        r = sd->ops->get(sd->be, op->snap, op->bucket, op->key, op->klen, &v, &vl);
        put_rc(s, r);
        if (r == PT_R_OK) {
            sb_printf(s, " v=");
            put_val(s, v, vl);
        }
        return;
    case PT_DEL:
        put_rc(s, sd->ops->del(sd->be, op->bucket, op->key, op->klen));
        get_after(sd, s, op);
        return;
    case PT_SCAN:
        scan(sd, s, op);
        return;
    case PT_WALK:
        walk(sd, s, op);
        return;
    case PT_COMMIT:
        put_rc(s, sd->ops->commit(sd->be));
        dump_all(rn, sd, s);
        return;
    case PT_ABORT:
        sd->ops->abort(sd->be);
        sb_printf(s, "aborted");
        dump_all(rn, sd, s);
        return;
    case PT_REOPEN:
        put_rc(s, sd->ops->reopen(sd->be));
        dump_all(rn, sd, s);
        return;
    case PT_BUCKET_CREATE:
    case PT_BUCKET_DROP:
        if (op->bucket == 0) {
            sb_printf(s, "skipped (default bucket)");
            return;
        }
        r = op->kind == PT_BUCKET_CREATE ? sd->ops->bucket_create(sd->be, op->bucket)
                                         : sd->ops->bucket_drop(sd->be, op->bucket);
        put_rc(s, r);
        dump_all(rn, sd, s);
        return;
    case PT_CHECK:
        sb_printf(s, "contents:");
        dump_all(rn, sd, s);
        return;
    default:
        sb_printf(s, "skipped");
        return;
    }
}

/* Snapshot slot bookkeeping, shared by both sides. */
static int snap_op(run *rn, const pt_op *op)
{
    if (op->snap < 0 || op->snap >= (int)PT_SNAPS) {
        return 0;
    }
    unsigned slot = (unsigned)op->snap;
    if (!rn->s[0].ops->snap_begin || !rn->s[1].ops->snap_begin) {
        for (int i = 0; i < 2; i++) {
            sb_printf(&rn->s[i].out, "skipped (no snapshots in %s)", rn->s[1].ops->name);
        }
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        side *sd = &rn->s[i];
        if (rn->snap_open[slot]) {
            sd->ops->snap_end(sd->be, slot);
        }
        if (op->kind == PT_SNAP_BEGIN) {
            int r = sd->ops->snap_begin(sd->be, slot);
            sb_printf(&sd->out, "begin:");
            put_rc(&sd->out, r);
        } else {
            sb_printf(&sd->out, "ended");
        }
    }
    rn->snap_open[slot] = op->kind == PT_SNAP_BEGIN;
    return 0;
}

static void end_snaps(run *rn)
{
    for (unsigned slot = 0; slot < PT_SNAPS; slot++) {
        if (rn->snap_open[slot]) {
            for (int i = 0; i < 2; i++) {
                rn->s[i].ops->snap_end(rn->s[i].be, slot);
            }
            rn->snap_open[slot] = 0;
        }
    }
}

/* First differing line of the two answers, into res->why. */
static int compare(run *rn, uint32_t at, const char *what)
{
    const sb *a = &rn->s[0].out;
    const sb *b = &rn->s[1].out;
    if (a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0)) {
        return 0;
    }
    size_t i = 0;
    while (i < a->n && i < b->n && a->p[i] == b->p[i]) {
        i++;
    }
    size_t ls = i;
    while (ls > 0 && a->p[ls - 1] != '\n') {
        ls--;
    }
    size_t ae = i;
    while (ae < a->n && a->p[ae] != '\n') {
        ae++;
    }
    size_t be = i;
    while (be < b->n && b->p[be] != '\n') {
        be++;
    }
    rn->res->failed = 1;
    rn->res->fail_op = at;
    snprintf(rn->res->why, sizeof(rn->res->why),
             "%s: answers differ at byte %zu\n  %-8s: %.*s\n  %-8s: %.*s", what, i,
             rn->s[0].ops->name, (int)(ae - ls), a->p + ls, rn->s[1].ops->name, (int)(be - ls),
             b->p + ls);
    return -1;
}

static const pt_be_ops *reference(pt_prop p)
{
    switch (p) {
    case PT_PROP_SQLITE:
        return &pt_be_sqlite;
    case PT_PROP_LMDB:
        return &pt_be_lmdb;
    default:
        return &pt_be_model;
    }
}

static int step(run *rn, uint32_t i, const pt_op *op)
{
    char what[160];
    if (op->kind == PT_SNAP_BEGIN || op->kind == PT_SNAP_END) {
        snap_op(rn, op);
    } else {
        if (op->kind == PT_REOPEN) {
            end_snaps(rn);
        }
        for (int k = 0; k < 2; k++) {
            answer(rn, &rn->s[k], op);
        }
    }
    snprintf(what, sizeof(what), "op %u", i);
    if (compare(rn, i, what) != 0) {
        return -1;
    }
    if (op->kind == PT_COMMIT && rn->s[0].ops->check) {
        char why[400];
        if (rn->s[0].ops->check(rn->s[0].be, why, sizeof(why)) != 0) {
            rn->res->failed = 1;
            rn->res->fail_op = i;
            snprintf(rn->res->why, sizeof(rn->res->why), "op %u: after the commit: %s", i, why);
            return -1;
        }
    }
    return 0;
}

static int epilogue(run *rn, uint32_t n)
{
    static const pt_op fin[] = {
        {.kind = PT_CHECK, .snap = -1},
        {.kind = PT_COMMIT, .snap = -1},
        {.kind = PT_REOPEN, .snap = -1},
        {.kind = PT_CHECK, .snap = -1},
    };
    for (unsigned k = 0; k < sizeof(fin) / sizeof(fin[0]); k++) {
        if (step(rn, n, &fin[k]) != 0) {
            snprintf(rn->res->why + strlen(rn->res->why), 40, " (epilogue %s)",
                     pt_kind_name((pt_kind)fin[k].kind));
            return -1;
        }
        for (int j = 0; j < 2; j++) {
            rn->s[j].out.n = 0;
        }
    }
    return 0;
}

int pt_exec(const pt_case *c, pt_result *res)
{
    memset(res, 0, sizeof(*res));
    run rn;
    memset(&rn, 0, sizeof(rn));
    rn.c = c;
    rn.res = res;
    rn.s[0].ops = &pt_be_cowtree;
    rn.s[1].ops = reference(c->prop);
    rn.vbuf = malloc(PT_VALUE_BYTES_MAX);
    int rc = rn.vbuf ? 0 : -1;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char err[256] = "";
        if (rn.s[k].ops->open(&rn.s[k].be, c, err, sizeof(err)) != 0) {
            res->failed = 1;
            snprintf(res->why, sizeof(res->why), "open: %s", err);
            rc = -1;
        }
    }
    for (uint32_t i = 0; i < c->n && rc == 0; i++) {
        rc = step(&rn, i, &c->ops[i]);
        for (int k = 0; k < 2; k++) {
            rn.s[k].out.n = 0;
        }
    }
    if (rc == 0) {
        rc = epilogue(&rn, c->n);
    }
    if (rn.s[0].be && rn.s[1].be) {
        end_snaps(&rn);
    }
    for (int k = 0; k < 2; k++) {
        if (rn.s[k].be) {
            rn.s[k].ops->close(rn.s[k].be);
        }
        free(rn.s[k].out.p);
    }
    free(rn.vbuf);
    return res->failed ? -1 : 0;
}

/* Runs pt_exec in a child process, so a crash (a CT_ASSERT abort, a
   segfault, a sanitizer report) is a failure like any other instead of
   the end of the runner. The child sends its pt_result through a pipe. */
void pt_why_signal(pt_result *res, int sig)
{
    if (sig == SIGALRM) {
        snprintf(res->why, sizeof(res->why), "hung: no answer in %u s", PT_CASE_SECONDS);
    } else {
        snprintf(res->why, sizeof(res->why),
                 "crashed: signal %d (a CT_ASSERT abort, a memory error or a sanitizer report)",
                 sig);
    }
}

int pt_exec_isolated(const pt_case *c, pt_result *res)
{
    memset(res, 0, sizeof(*res));
    int fds[2];
    if (pipe(fds) != 0) {
        return pt_exec(c, res);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return pt_exec(c, res);
    }
    if (pid == 0) {
        close(fds[0]);
        /* The child's own stderr noise (an assert message) stays visible. */
        pt_result r;
        alarm(PT_CASE_SECONDS);
        int rc = pt_exec(c, &r);
        alarm(0);
        const char *p = (const char *)&r;
        size_t left = sizeof(r);
        while (left > 0) {
            ssize_t w = write(fds[1], p, left);
            if (w <= 0) {
                break;
            }
            p += w;
            left -= (size_t)w;
        }
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    char *p = (char *)res;
    while (got < sizeof(*res)) {
        ssize_t n = read(fds[0], p + got, sizeof(*res) - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status) && got == sizeof(*res)) {
        return res->failed ? -1 : 0;
    }
    memset(res, 0, sizeof(*res));
    res->failed = 1;
    res->fail_op = c->n;
    if (WIFSIGNALED(status)) {
        pt_why_signal(res, WTERMSIG(status));
    } else {
        snprintf(res->why, sizeof(res->why), "crashed: exit status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return -1;
}
