/*
 * fuzz_common.h - shared pieces of the fuzz targets: a byte reader that
 * never fails (an exhausted input reads as zeros, so every prefix of an
 * input is itself a valid input), the check macro, and CT_* code checks.
 *
 * Test code, not the library: a failed check prints what differed and
 * aborts, which libFuzzer (and the replay driver under ASan) reports as a
 * crash with a backtrace.
 */
#ifndef CT_FUZZ_COMMON_H
#define CT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with file, line and a printf-style message when cond is false. */
#define FZ_CHECK(cond, ...)                                                                \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* rc must be exactly `want`. */
#define FZ_RC(rc, want)                                                                    \
    FZ_CHECK((rc) == (want), "got %s (%d), want %s", ct_errname(rc), (rc), ct_errname(want))

/* Input cursor. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline int fz_empty(const fz_in *in)
{
    return in->n == 0;
}

static inline uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0) {
        return 0;
    }
    uint8_t v = in->p[0];
    in->p++;
    in->n--;
    return v;
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t lo = fz_u8(in);
    uint16_t hi = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)(hi << 8));
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t lo = fz_u16(in);
    uint32_t hi = fz_u16(in);
    return lo | (hi << 16);
}

static inline uint64_t fz_u64(fz_in *in)
{
    uint64_t lo = fz_u32(in);
    uint64_t hi = fz_u32(in);
    return lo | (hi << 32);
}

/* Copies up to len bytes into out, zero-filling past the end of the input. */
static inline void fz_bytes(fz_in *in, uint8_t *out, size_t len)
{
    size_t take = len < in->n ? len : in->n;
    if (take) {
        memcpy(out, in->p, take);
    }
    if (len > take) {
        memset(out + take, 0, len - take);
    }
    in->p += take;
    in->n -= take;
}

/* Every code the public API may return. */
static inline int fz_is_ct_code(int rc)
{
    return rc <= CT_OK && rc >= CT_POISONED && strcmp(ct_errname(rc), "CT_UNKNOWN") != 0;
}

/* Keys compare bytewise unsigned, a prefix before its extensions. */
static inline int fz_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return (alen > blen) - (alen < blen);
}

/* Deterministic values: the value (len, seed) is len bytes of a fixed
   pseudo-random pattern, FZ_PATTERN_PERIOD bytes at a time, each period
   from its own offset (fz_val_period), so filling and comparing are memcpy
   and memcmp (a byte-wise generator made big-value inputs time out). */
#define FZ_PATTERN_PERIOD 65536u
#define FZ_SEED_SPAN 4093u /* prime: consecutive seeds give unrelated offsets */
const uint8_t *fz_pattern(void); /* FZ_PATTERN_PERIOD + FZ_SEED_SPAN bytes (fuzz_model.c) */

/* Where period k of value seed starts in the pattern: each period of a
   value starts elsewhere, so a value longer than a period never repeats
   itself (an engine that wrote its first period again in place of the
   second would otherwise return exactly the expected bytes). */
static inline const uint8_t *fz_val_period(uint32_t seed, size_t k)
{
    return fz_pattern() + (seed + (uint64_t)k * 1021u) % FZ_SEED_SPAN;
}

static inline void fz_val_fill(uint8_t *out, size_t len, uint32_t seed)
{
    for (size_t off = 0; off < len; off += FZ_PATTERN_PERIOD) {
        size_t n = len - off < FZ_PATTERN_PERIOD ? len - off : FZ_PATTERN_PERIOD;
        memcpy(out + off, fz_val_period(seed, off / FZ_PATTERN_PERIOD), n);
    }
}

/* 1 when v[0..vlen) is the value (len, seed). */
static inline int fz_val_equal(const void *v, size_t vlen, size_t len, uint32_t seed)
{
    if (vlen != len) {
        return 0;
    }
    for (size_t off = 0; off < len; off += FZ_PATTERN_PERIOD) {
        size_t n = len - off < FZ_PATTERN_PERIOD ? len - off : FZ_PATTERN_PERIOD;
        if (memcmp((const uint8_t *)v + off, fz_val_period(seed, off / FZ_PATTERN_PERIOD), n) !=
            0) {
            return 0;
        }
    }
    return 1;
}

#endif
