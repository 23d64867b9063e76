/*
 * trace.c - the memory store's trace hash: the simulator's determinism
 * witness, and the content hash of written buffers that feeds it.
 *
 * Owns: the record encoding and both hash functions.
 * Invariants: a record is kind (1 byte), pgno (8), npages (8), content
 * hash (8) and result code (4), all little-endian, folded byte by byte
 * with FNV-1a 64; the content hash reads bytes little-endian too. Both
 * are therefore equal on every machine for the same op sequence.
 * Must never: depend on pointers, clocks, or the host's byte order.
 */
#include <string.h>

#include "mem.h"

#define FNV_PRIME UINT64_C(0x100000001b3)
#define CONTENT_PRIME UINT64_C(0x9e3779b97f4a7c15)

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8u; i++) {
        v |= (uint64_t)p[i] << (8u * i);
    }
    return v;
}

static uint64_t fnv_le(uint64_t h, uint64_t v, unsigned nbytes)
{
    for (unsigned i = 0; i < nbytes; i++) {
        h ^= (v >> (8u * i)) & 0xffu;
        h *= FNV_PRIME;
    }
    return h;
}

/* A word-at-a-time hash (not FNV: pages are hashed on every write, so it
   must be fast); the xor-shift after each multiply carries high bits down.
   Split in three so a gathered write hashes exactly like one buffer. */
static uint64_t content_begin(size_t len)
{
    return UINT64_C(0xcbf29ce484222325) ^ (uint64_t)len;
}

/* Folds len bytes in; only the last piece of a hash may have len % 8 != 0. */
static uint64_t content_step(uint64_t h, const unsigned char *p, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8u; i += 8u) {
        h ^= load_le64(p + i);
        h *= CONTENT_PRIME;
        h ^= h >> 29;
    }
    for (; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t content_end(uint64_t h)
{
    h ^= h >> 32;
    h *= CONTENT_PRIME;
    return h ^ (h >> 29);
}

uint64_t ct__mem_content_hash(const void *buf, size_t len)
{
    return content_end(content_step(content_begin(len), buf, len));
}

uint64_t ct__mem_content_hash_src(const ct__mem_src *src, uint32_t npages, uint32_t page_size)
{
    /* page_size is a power of two >= 512: every page ends on a word. */
    uint64_t h = content_begin((size_t)npages * page_size);
    for (uint32_t k = 0; k < npages; k++) {
        h = content_step(h, ct__mem_src_page(src, k, page_size), page_size);
    }
    return content_end(h);
}

void ct__mem_trace(ct__mem_state *st, uint32_t kind, uint64_t pgno, uint64_t npages,
                   uint64_t content, int rc)
{
    uint64_t h = st->trace_hash;
    h = fnv_le(h, kind, 1u);
    h = fnv_le(h, pgno, 8u);
    h = fnv_le(h, npages, 8u);
    h = fnv_le(h, content, 8u);
    h = fnv_le(h, (uint64_t)(uint32_t)rc, 4u);
    st->trace_hash = h;
}
