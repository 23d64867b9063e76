/*
 * case.c - value bytes, names, and the pt_case container.
 * Pure apart from malloc: no I/O, no clock.
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/memstore.h"
#include "prng.h"
#include "pt.h"

uint8_t pt_value_byte(uint32_t vseed, uint32_t i)
{
    /* Position-dependent so a shifted or truncated copy never matches. */
    return (uint8_t)(prng_mix64(((uint64_t)vseed << 32) | i) >> 56);
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
