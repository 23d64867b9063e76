/*
 * case.c - the PRNG, value bytes, names, and the pt_case container.
 * Pure apart from malloc: no I/O, no clock.
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/memstore.h"
#include "pt.h"

uint64_t pt_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void pt_rng_seed(pt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ull;
        r->s[i] = pt_mix64(x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1;
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t pt_rng_next(pt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t pt_rng_below(pt_rng *r, uint64_t n)
{
    if (n == 0) {
        return 0;
    }
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    for (;;) {
        uint64_t x = pt_rng_next(r);
        if (x <= limit) {
            return x % n;
        }
    }
}

int pt_rng_chance(pt_rng *r, uint32_t num, uint32_t den)
{
    return den != 0 && pt_rng_below(r, den) < num;
}

uint8_t pt_value_byte(uint32_t vseed, uint32_t i)
{
    /* Position-dependent so a shifted or truncated copy never matches. */
    return (uint8_t)(pt_mix64(((uint64_t)vseed << 32) | i) >> 56);
}

void pt_value_fill(uint8_t *buf, uint32_t vseed, uint32_t vlen)
{
    for (uint32_t i = 0; i < vlen; i++) {
        buf[i] = pt_value_byte(vseed, i);
    }
}

static const char *const prop_names[PT_PROPS] = {"model", "sqlite", "lmdb", "snapshot",
                                                 "reopen"};

const char *pt_prop_name(pt_prop p)
{
    return (unsigned)p < PT_PROPS ? prop_names[p] : "?";
}

int pt_prop_parse(const char *s, pt_prop *out)
{
    for (unsigned i = 0; i < PT_PROPS; i++) {
        if (strcmp(s, prop_names[i]) == 0) {
            *out = (pt_prop)i;
            return 0;
        }
    }
    return -1;
}

static const char *const kind_names[PT_KINDS] = {
    "put",    "get",           "del",         "scan",       "walk",     "commit", "abort",
    "reopen", "bucket-create", "bucket-drop", "snap-begin", "snap-end", "check"};

const char *pt_kind_name(pt_kind k)
{
    return (unsigned)k < PT_KINDS ? kind_names[k] : "?";
}

void pt_case_init(pt_case *c)
{
    memset(c, 0, sizeof(*c));
    c->page_size = 512;
}

void pt_case_free(pt_case *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        free(c->ops[i].key);
    }
    free(c->ops);
    c->ops = NULL;
    c->n = 0;
    c->cap = 0;
}

int pt_case_push(pt_case *c, const pt_op *op)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? 2 * c->cap : 64;
        pt_op *ops = realloc(c->ops, cap * sizeof(*ops));
        if (!ops) {
            return -1;
        }
        c->ops = ops;
        c->cap = cap;
    }
    pt_op *o = &c->ops[c->n];
    *o = *op;
    o->key = NULL;
    if (op->klen) {
        o->key = malloc(op->klen);
        if (!o->key) {
            return -1;
        }
        memcpy(o->key, op->key, op->klen);
    }
    c->n++;
    return 0;
}

int pt_case_copy(pt_case *dst, const pt_case *src)
{
    pt_case_init(dst);
    dst->prop = src->prop;
    dst->page_size = src->page_size;
    dst->durability = src->durability;
    dst->map = src->map;
    dst->seed = src->seed;
    for (uint32_t i = 0; i < src->n; i++) {
        if (pt_case_push(dst, &src->ops[i]) != 0) {
            pt_case_free(dst);
            return -1;
        }
    }
    return 0;
}

uint32_t pt_key_max_for(uint32_t page_size)
{
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_size;
    ct_pagestore *ps = NULL;
    if (ct_memstore_create(&mo, &ps) != CT_OK) {
        return 0;
    }
    ct_db *db = NULL;
    uint32_t kmax = 0;
    if (ct_open(ps, NULL, &db) == CT_OK) {
        kmax = (uint32_t)ct_key_max(db);
        ct_close(db);
    }
    ps->ops->close(ps);
    return kmax;
}
