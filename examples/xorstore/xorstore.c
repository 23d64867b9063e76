/*
 * xorstore.c - the XOR "encrypting" stacking store (see xorstore.h).
 *
 * Invariants: byte i of page p is stored as plain[i] ^ stream(key, p)[i];
 * the stream depends on the page number, so equal plaintext pages differ
 * on disk; an all-zero stored page reads as zeros (never written). Reads
 * decrypt in the caller's buffer (readers may run concurrently); a write
 * encrypts into a buffer of its own. Every op forwards the inner store's
 * rc unchanged.
 * Never: hands out a pointer to stored bytes (map is NULL), or aborts.
 */
#include "xorstore.h"

#include <stdlib.h>
#include <string.h>

#include "cowtree.h"

typedef struct xor_store {
    ct_pagestore base; /* first: the engine only sees this */
    ct_pagestore *inner;
    uint64_t key_hash;
} xor_store;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* XORs one page with the key stream of page pgno. */
static void xor_page(const xor_store *x, uint8_t *page, uint64_t pgno)
{
    uint64_t s = mix(x->key_hash ^ mix(pgno + 0x9e3779b97f4a7c15u));
    for (uint32_t off = 0; off < x->base.page_size; off += 8u) {
        s += 0x9e3779b97f4a7c15u;
        uint64_t k = mix(s);
        for (uint32_t i = 0; i < 8u; i++) {
            page[off + i] ^= (uint8_t)(k >> (8u * i));
        }
    }
}

static int all_zero(const uint8_t *page, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        if (page[i]) {
            return 0;
        }
    }
    return 1;
}

static int xor_read(ct_pagestore *ps, uint64_t pgno, uint32_t npages, void *buf)
{
    xor_store *x = (xor_store *)ps;
    int rc = x->inner->ops->read(x->inner, pgno, npages, buf);
    if (rc != CT_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < npages; i++) {
        uint8_t *page = (uint8_t *)buf + (size_t)i * ps->page_size;
        if (!all_zero(page, ps->page_size)) {
            xor_page(x, page, pgno + i);
        }
    }
    return CT_OK;
}

static int xor_write(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void *buf)
{
    xor_store *x = (xor_store *)ps;
    if (!buf || npages == 0 || npages > SIZE_MAX / ps->page_size) {
        return CT_INVALID;
    }
    uint8_t *enc = malloc((size_t)npages * ps->page_size);
    if (!enc) {
        return CT_NOMEM;
    }
    memcpy(enc, buf, (size_t)npages * ps->page_size);
    for (uint32_t i = 0; i < npages; i++) {
        xor_page(x, enc + (size_t)i * ps->page_size, pgno + i);
    }
    int rc = x->inner->ops->write(x->inner, pgno, npages, enc);
    free(enc);
    return rc;
}

static int xor_sync(ct_pagestore *ps)
{
    xor_store *x = (xor_store *)ps;
    return x->inner->ops->sync(x->inner);
}

static int xor_size(ct_pagestore *ps, uint64_t *npages)
{
    xor_store *x = (xor_store *)ps;
    return x->inner->ops->size(x->inner, npages);
}

static int xor_resize(ct_pagestore *ps, uint64_t npages)
{
    xor_store *x = (xor_store *)ps;
    return x->inner->ops->resize(x->inner, npages);
}

static void xor_close(ct_pagestore *ps)
{
    if (!ps) {
        return;
    }
    xor_store *x = (xor_store *)ps;
    x->inner->ops->close(x->inner);
    free(x);
}

static const ct_pagestore_ops xor_ops = {
    .read = xor_read,
    .write = xor_write,
    .sync = xor_sync,
    .size = xor_size,
    .resize = xor_resize,
    .close = xor_close,
    .map = NULL,    /* the stored bytes are ciphertext */
    .writev = NULL, /* write() encrypts into one buffer anyway */
};

int xorstore_wrap(ct_pagestore *inner, const void *key, size_t key_len, ct_pagestore **out)
{
    if (!out) {
        return CT_INVALID;
    }
    *out = NULL;
    if (!inner || !inner->ops || !key || key_len == 0 || key_len > XORSTORE_KEY_MAX) {
        return CT_INVALID;
    }
    xor_store *x = calloc(1, sizeof(*x));
    if (!x) {
        return CT_NOMEM;
    }
    x->base.ops = &xor_ops;
    x->base.page_size = inner->page_size;
    x->inner = inner;
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then mixed */
    for (size_t i = 0; i < key_len; i++) {
        h = (h ^ ((const uint8_t *)key)[i]) * 0x100000001b3u;
    }
    x->key_hash = mix(h);
    *out = &x->base;
    return CT_OK;
}
