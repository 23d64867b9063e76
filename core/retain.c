/*
 * retain.c - the allocator a db uses when the embedder gives none: libc's,
 * except that large blocks are kept for reuse instead of going back to
 * libc when freed.
 *
 * Why: every commit builds its free-list arrays (the merged free set, the
 * thawed frozen entries, sort buffers, the dirty-page list) anew, from tens
 * of KiB to megabytes. glibc hands such blocks back to the kernel (munmap,
 * or a trim of the heap's top) and the next commit faults every page of
 * them in again. On this project's virtual machines a page fault costs
 * microseconds: fillrandom + deleterandom at 1M keys took 42,500 faults,
 * 10,900 with glibc told never to give memory back (docs/bench.md).
 *
 * Layout: every block carries a 16-byte header in front of the caller's
 * bytes: its capacity and the size last asked for, so realloc copies
 * only what the caller may have used. Blocks of at least r->min_bytes
 * (CT_RETAIN_MIN_BYTES, or four pages when pages are larger, so that page
 * buffers and cache entries always go straight to libc) get a capacity
 * rounded up to a power of two and are kept when freed, up to
 * CT_RETAIN_SLOTS of them and CT_RETAIN_TOTAL_MAX bytes in all (the
 * smallest kept block makes room for a larger one), and handed out again
 * to a request they hold that is at least 1/CT_RETAIN_FIT_RATIO of their
 * capacity (the smallest such block). Kept blocks are freed at close.
 *
 * Under AddressSanitizer a kept block is poisoned, and so is the part of
 * a live block past the size asked for: a use after free or an overrun
 * into the rounded capacity is still reported.
 *
 * Never: retains blocks of an embedder's allocator (tests and the
 * simulator count and fail its calls; a retained block would hide a call),
 * or hands a block to two callers: the slots change only under r->mu, and
 * readers and the writer may allocate at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define CT_RETAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CT_RETAIN_ASAN 1
#endif
#endif
#ifdef CT_RETAIN_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HDR_BYTES 16u /* two size_t; keeps malloc's 16-byte alignment */

static size_t cap_of(const uint8_t *raw)
{
    size_t cap;
    memcpy(&cap, raw, sizeof(cap));
    return cap;
}

static size_t size_of(const uint8_t *raw)
{
    size_t size;
    memcpy(&size, raw + sizeof(size_t), sizeof(size));
    return size;
}

/* Records size n in raw's header and lets the caller reach exactly
   [0, n) of the block (capacity cap). */
static void *hand_out(uint8_t *raw, size_t cap, size_t n)
{
    memcpy(raw, &cap, sizeof(cap));
    memcpy(raw + sizeof(size_t), &n, sizeof(n));
    UNPOISON(raw + HDR_BYTES, n);
    POISON(raw + HDR_BYTES + n, cap - n);
    return raw + HDR_BYTES;
}

static void free_raw(uint8_t *raw)
{
    if (raw) {
        UNPOISON(raw, HDR_BYTES + cap_of(raw));
        free(raw);
    }
}

static uint8_t *raw_of(void *p)
{
    return (uint8_t *)p - HDR_BYTES;
}

/* A kept block that holds n bytes and is at most CT_RETAIN_FIT_RATIO times
   n (the smallest), taken out of r; NULL if none. */
static uint8_t *take(ct__retain *r, size_t n)
{
    uint8_t *raw = NULL;
    pthread_mutex_lock(&r->mu);
    size_t best = r->count;
    for (size_t i = 0; i < r->count; i++) {
        if (r->cap[i] >= n && r->cap[i] / CT_RETAIN_FIT_RATIO <= n &&
            (best == r->count || r->cap[i] < r->cap[best])) {
            best = i;
        }
    }
    if (best < r->count) {
        raw = r->block[best];
        r->bytes -= r->cap[best];
        r->count--;
        r->block[best] = r->block[r->count];
        r->cap[best] = r->cap[r->count];
    }
    pthread_mutex_unlock(&r->mu);
    return raw;
}

/* Keeps raw (capacity cap) in r, evicting smaller blocks for room;
   returns what is to be freed (raw itself when it does not fit). */
static uint8_t *keep(ct__retain *r, uint8_t *raw, size_t cap, uint8_t **evicted, size_t *nevicted)
{
    pthread_mutex_lock(&r->mu);
    while (r->count == CT_RETAIN_SLOTS || r->bytes + cap > CT_RETAIN_TOTAL_MAX) {
        size_t small = 0;
        for (size_t i = 1; i < r->count; i++) {
            if (r->cap[i] < r->cap[small]) {
                small = i;
            }
        }
        if (r->count == 0 || r->cap[small] >= cap) {
            pthread_mutex_unlock(&r->mu);
            return raw; /* nothing smaller to give up for it */
        }
        evicted[(*nevicted)++] = r->block[small];
        r->bytes -= r->cap[small];
        r->count--;
        r->block[small] = r->block[r->count];
        r->cap[small] = r->cap[r->count];
    }
    r->block[r->count] = raw;
    r->cap[r->count] = cap;
    r->count++;
    r->bytes += cap;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* A large block's capacity: n rounded up to a power of two, so that a
   set growing commit after commit (the frozen entries of a long unsynced
   run) finds its last block big enough most times; the pages past n are
   not touched until a later request needs them. */
static size_t capacity_for(const ct__retain *r, size_t n)
{
    if (n < r->min_bytes || n > CT_RETAIN_TOTAL_MAX) {
        return n;
    }
    size_t cap = r->min_bytes; /* a power of two */
    while (cap < n) {
        cap *= 2;
    }
    return cap;
}

static void *retain_malloc(void *ctx, size_t n)
{
    ct__retain *r = ctx;
    if (n >= r->min_bytes) {
        uint8_t *raw = take(r, n);
        if (raw) {
            return hand_out(raw, cap_of(raw), n);
        }
    }
    size_t cap = capacity_for(r, n);
    if (cap > SIZE_MAX - HDR_BYTES) {
        return NULL;
    }
    uint8_t *raw = malloc(cap + HDR_BYTES);
    return raw ? hand_out(raw, cap, n) : NULL;
}

static void retain_free(void *ctx, void *p)
{
    if (!p) {
        return;
    }
    ct__retain *r = ctx;
    uint8_t *raw = raw_of(p);
    size_t cap = cap_of(raw);
    if (cap < r->min_bytes || cap > CT_RETAIN_TOTAL_MAX) {
        free_raw(raw);
        return;
    }
    POISON(raw + HDR_BYTES, cap); /* kept: nobody's until taken again */
    uint8_t *evicted[CT_RETAIN_SLOTS + 1];
    size_t nevicted = 0;
    uint8_t *unkept = keep(r, raw, cap, evicted, &nevicted);
    for (size_t i = 0; i < nevicted; i++) {
        free_raw(evicted[i]);
    }
    free_raw(unkept);
}

static void *retain_realloc(void *ctx, void *p, size_t n)
{
    if (!p) {
        return retain_malloc(ctx, n);
    }
    ct__retain *r = ctx;
    uint8_t *raw = raw_of(p);
    size_t cap = cap_of(raw);
    if (n <= cap) {
        return hand_out(raw, cap, n); /* in place; the block never shrinks */
    }
    if (cap < r->min_bytes && n < r->min_bytes) {
        UNPOISON(raw + HDR_BYTES, cap); /* libc's realloc copies the old block */
        uint8_t *nraw = realloc(raw, n + HDR_BYTES);
        return nraw ? hand_out(nraw, n, n) : NULL;
    }
    size_t used = size_of(raw);
    void *q = retain_malloc(ctx, n);
    if (q) {
        memcpy(q, p, used < n ? used : n);
        retain_free(ctx, p);
    }
    return q;
}

void ct__retain_init(ct__retain *r, ct_allocator *a, uint32_t page_size)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->min_bytes = CT_RETAIN_MIN_BYTES;
    while (r->min_bytes < 4u * (size_t)page_size) {
        r->min_bytes *= 2; /* stays a power of two: page sizes are */
    }
    a->malloc = retain_malloc;
    a->realloc = retain_realloc;
    a->free = retain_free;
    a->ctx = r;
}

void ct__retain_destroy(ct__retain *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free_raw(r->block[i]);
    }
    r->count = 0;
    r->bytes = 0;
    pthread_mutex_destroy(&r->mu);
}
