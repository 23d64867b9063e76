/*
 * util.c - checked allocation, the chunked arena, hex formatting.
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "cowtree-sim: out of memory (%zu bytes)\n", n);
    exit(2);
}

void *sim_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        out_of_memory(n);
    }
    return p;
}

void *sim_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p) {
        out_of_memory(count * n);
    }
    return p;
}

void *sim_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        out_of_memory(n);
    }
    return q;
}

void sim_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (o + 2 + 4 > cap) {
            if (o + 4 <= cap) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        out[o++] = digits[p[i] >> 4];
        out[o++] = digits[p[i] & 15];
    }
    out[o < cap ? o : cap - 1] = 0;
}

const uint8_t *sim_arena_copy(sim_arena *a, const void *p, size_t n)
{
    sim_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = sim_xmalloc(sizeof(*c) + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    uint8_t *d = c->data + c->used;
    if (n) {
        memcpy(d, p, n);
    }
    c->used += n;
    return d;
}

void sim_arena_free(sim_arena *a)
{
    while (a->head) {
        sim_arena_chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}
