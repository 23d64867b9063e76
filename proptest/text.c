/*
 * text.c - the replay format: a case as readable text, one op a line.
 *
 *   # comment
 *   property model        (model, sqlite, lmdb, snapshot, reopen)
 *   page_size 512
 *   durability full       (full, none)
 *   map on                (on, off)
 *   seed 0x1234           (informational)
 *   put b=0 k=x6162 v=40/0x9a3c f=noover
 *   get b=1 snap=0 k=x
 *   scan b=0 start=seek k=xff dir=back n=20
 *   walk b=0 start=first n=7 moves=0x5
 *   commit | abort | reopen | check
 *   bucket-create b=2 | bucket-drop b=2 | snap-begin snap=1 | snap-end snap=1
 *
 * k= is hex after an 'x' ("k=x" is the empty key); v=LEN/SEED names the
 * value whose byte i is pt_value_byte(SEED, i). Unknown header keys are
 * ignored; an unknown op or field is an error with its line number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "pt.h"

static size_t add(char *buf, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static size_t add(char *buf, size_t cap, size_t at, const char *fmt, ...)
{
    if (at >= cap) {
        return at;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + at, cap - at, fmt, ap);
    va_end(ap);
    if (w < 0) {
        return at;
    }
    return at + (size_t)w >= cap ? cap - 1 : at + (size_t)w;
}

static int printable(const uint8_t *k, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (k[i] < 0x20 || k[i] > 0x7e || k[i] == '"') {
            return 0;
        }
    }
    return 1;
}

void pt_op_format(const pt_op *op, char *buf, size_t cap)
{
    static const char *const starts[] = {"seek", "first", "last"};
    pt_kind k = (pt_kind)op->kind;
    size_t at = add(buf, cap, 0, "%s", pt_kind_name(k));
    int keyed = k == PT_PUT || k == PT_GET || k == PT_DEL ||
                ((k == PT_SCAN || k == PT_WALK) && op->start == PT_START_SEEK);
    if (k == PT_PUT || k == PT_GET || k == PT_DEL || k == PT_SCAN || k == PT_WALK ||
        k == PT_BUCKET_CREATE || k == PT_BUCKET_DROP) {
        at = add(buf, cap, at, " b=%u", op->bucket);
    }
    if ((k == PT_GET || k == PT_SCAN || k == PT_WALK) && op->snap >= 0) {
        at = add(buf, cap, at, " snap=%d", op->snap);
    }
    if (k == PT_SNAP_BEGIN || k == PT_SNAP_END) {
        at = add(buf, cap, at, " snap=%d", op->snap);
    }
    if (k == PT_SCAN || k == PT_WALK) {
        at = add(buf, cap, at, " start=%s", starts[op->start % 3u]);
    }
    if (keyed) {
        at = add(buf, cap, at, " k=x");
        for (uint32_t i = 0; i < op->klen; i++) {
            at = add(buf, cap, at, "%02x", op->key[i]);
        }
    }
    if (k == PT_PUT) {
        at = add(buf, cap, at, " v=%u/0x%x", op->vlen, op->vseed);
        if (op->flags & PT_F_NOOVERWRITE) {
            at = add(buf, cap, at, " f=noover");
        }
        if (op->flags & PT_F_APPEND) {
            at = add(buf, cap, at, " f=append");
        }
    }
    if (k == PT_SCAN) {
        at = add(buf, cap, at, " dir=%s n=%u", op->dir ? "back" : "fwd", op->count);
    }
    if (k == PT_WALK) {
        at = add(buf, cap, at, " n=%u moves=0x%x", op->count, op->moves);
    }
    if (keyed && op->klen > 0 && op->klen <= 40 && printable(op->key, op->klen)) {
        at = add(buf, cap, at, "  # \"%.*s\"", (int)op->klen, (const char *)op->key);
    } else if (keyed && op->klen > 40) {
        at = add(buf, cap, at, "  # key of %u bytes", op->klen);
    }
    (void)at;
}

static void print_case(const pt_case *c, FILE *f)
{
    fprintf(f, "property %s\npage_size %u\ndurability %s\nmap %s\nseed 0x%llx\n",
            pt_prop_name(c->prop), c->page_size,
            c->durability == CT_SYNC_NONE ? "none" : "full", c->map ? "on" : "off",
            (unsigned long long)c->seed);
    char *line = malloc(8192);
    if (!line) {
        return;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        pt_op_format(&c->ops[i], line, 8192);
        fprintf(f, "%s\n", line);
    }
    free(line);
}

void pt_case_print(const pt_case *c, void *stream)
{
    print_case(c, (FILE *)stream);
}

int pt_case_write(const pt_case *c, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "# cowtree-proptest replay: cowtree-proptest --replay %s\n", path);
    print_case(c, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* Parses one "name=value" field into op; 0 or -1. */
static int field(pt_op *op, const char *f, uint8_t *kbuf)
{
    unsigned long long u = 0;
    if (sscanf(f, "b=%llu", &u) == 1) {
        op->bucket = (uint8_t)(u < PT_BUCKETS ? u : PT_BUCKETS);
        return u < PT_BUCKETS ? 0 : -1;
    }
    if (sscanf(f, "snap=%llu", &u) == 1) {
        op->snap = (int8_t)(u < PT_SNAPS ? u : 0);
        return u < PT_SNAPS ? 0 : -1;
    }
    if (strncmp(f, "k=x", 3) == 0) {
        const char *h = f + 3;
        size_t n = strlen(h);
        if (n % 2 || n / 2 > PT_KEY_BYTES_MAX + 8) {
            return -1;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hexval(h[2 * i]);
            int lo = hexval(h[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            kbuf[i] = (uint8_t)(hi * 16 + lo);
        }
        op->klen = (uint32_t)(n / 2);
        op->key = kbuf;
        return 0;
    }
    unsigned long long s = 0;
    if (sscanf(f, "v=%llu/%llx", &u, &s) == 2) {
        op->vlen = (uint32_t)(u <= PT_VALUE_BYTES_MAX ? u : 0);
        op->vseed = (uint32_t)s;
        return u <= PT_VALUE_BYTES_MAX ? 0 : -1;
    }
    if (strcmp(f, "f=noover") == 0) {
        op->flags |= PT_F_NOOVERWRITE;
        return 0;
    }
    if (strcmp(f, "f=append") == 0) {
        op->flags |= PT_F_APPEND;
        return 0;
    }
    static const char *const starts[] = {"start=seek", "start=first", "start=last"};
    for (uint8_t i = 0; i < 3; i++) {
        if (strcmp(f, starts[i]) == 0) {
            op->start = i;
            return 0;
        }
    }
    if (strcmp(f, "dir=fwd") == 0 || strcmp(f, "dir=back") == 0) {
        op->dir = f[4] == 'b';
        return 0;
    }
    if (sscanf(f, "n=%llu", &u) == 1) {
        op->count = (uint32_t)(u < 100000 ? u : 100000);
        return 0;
    }
    if (sscanf(f, "moves=%llx", &u) == 1) {
        op->moves = (uint32_t)u;
        return 0;
    }
    return -1;
}

static int parse_op(pt_op *op, char *line, uint8_t *kbuf)
{
    memset(op, 0, sizeof(*op));
    op->snap = -1;
    char *save = NULL;
    char *tok = strtok_r(line, " \t", &save);
    int kind = -1;
    for (int k = 0; k < PT_KINDS; k++) {
        if (strcmp(tok, pt_kind_name((pt_kind)k)) == 0) {
            kind = k;
        }
    }
    if (kind < 0) {
        return -1;
    }
    op->kind = (uint8_t)kind;
    while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
        if (tok[0] == '#') {
            break;
        }
        if (field(op, tok, kbuf) != 0) {
            return -1;
        }
    }
    if ((kind == PT_SNAP_BEGIN || kind == PT_SNAP_END) && op->snap < 0) {
        return -1;
    }
    return 0;
}

static int header(pt_case *c, const char *line)
{
    char word[32];
    char val[64];
    if (sscanf(line, "%31s %63s", word, val) != 2) {
        return 1;
    }
    if (strcmp(word, "property") == 0) {
        return pt_prop_parse(val, &c->prop) == 0 ? 0 : -1;
    }
    if (strcmp(word, "page_size") == 0) {
        c->page_size = (uint32_t)strtoul(val, NULL, 0);
        return 0;
    }
    if (strcmp(word, "durability") == 0) {
        c->durability = strcmp(val, "none") == 0 ? CT_SYNC_NONE : CT_SYNC_FULL;
        return 0;
    }
    if (strcmp(word, "map") == 0) {
        c->map = strcmp(val, "off") != 0;
        return 0;
    }
    if (strcmp(word, "seed") == 0) {
        c->seed = strtoull(val, NULL, 0);
        return 0;
    }
    return 1; /* not a header line */
}

int pt_case_read(pt_case *c, const char *path, char *err, size_t errcap)
{
    pt_case_init(c);
    c->map = 1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot open %s", path);
        return -1;
    }
    size_t cap = 16384;
    char *line = malloc(cap);
    uint8_t *kbuf = malloc(PT_KEY_BYTES_MAX + 16);
    int rc = line && kbuf ? 0 : -1;
    unsigned lineno = 0;
    while (rc == 0 && fgets(line, (int)cap, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *p = line + strspn(line, " \t");
        if (*p == 0 || *p == '#') {
            continue;
        }
        int h = header(c, p);
        if (h == 0) {
            continue;
        }
        pt_op op;
        if (h < 0 || parse_op(&op, p, kbuf) != 0 || pt_case_push(c, &op) != 0) {
            snprintf(err, errcap, "%s:%u: cannot parse: %.80s", path, lineno, p);
            rc = -1;
        }
    }
    fclose(f);
    free(line);
    free(kbuf);
    if (rc != 0) {
        pt_case_free(c);
    }
    return rc;
}
