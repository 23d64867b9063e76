/*
 * crc32c.c - CRC32C with a runtime choice between the SSE4.2 instruction
 * and a portable 8-way slicing table. Both give identical results (a unit
 * test compares them). Pure: no I/O, no allocation after init; the tables
 * are built once under pthread_once.
 *
 * The hardware path runs three independent crc32 chains over three
 * adjacent blocks of HW_BLOCK bytes (the instruction has a latency of
 * three cycles but a throughput of one, so one chain leaves two thirds of
 * the unit idle) and joins them with "shift by HW_BLOCK zero bytes"
 * tables: crc(A B) = shift(crc(A), |B|) ^ crc0(B), where crc0 starts from
 * a zero register (the CRC is linear). The shift operator is a 32x32
 * matrix over GF(2) built by repeated squaring (Mark Adler's method);
 * applied a byte at a time through four 256-entry tables.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

/* Bytes of each of the three interleaved blocks (a power of two: the
   shift operator is built by squaring). 256: a 4 KiB page is five rounds
   of 768 bytes and a 256-byte tail. */
#define HW_BLOCK 256u

static uint32_t table[8][256];
static uint32_t shift_block[4][256]; /* apply HW_BLOCK zero bytes to a crc register */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_hw;
static int have_fold; /* crc32c_fold.c: carry-less folding of 64-byte blocks */

/* Buffers this long go through the folding path first (when the CPU has
   it): below it, the folding's fixed cost outweighs its speed. */
#define FOLD_MIN_BYTES 256u

/* mat (32 columns) times vec over GF(2). */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (unsigned n = 0; vec != 0; n++, vec >>= 1) {
        if (vec & 1u) {
            sum ^= mat[n];
        }
    }
    return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (unsigned n = 0; n < 32; n++) {
        square[n] = gf2_times(mat, mat[n]);
    }
}

/* The operator that feeds len zero bytes (len a power of two) through a
   reflected crc register. */
static void zeros_op(uint32_t *even, uint32_t len)
{
    uint32_t odd[32];
    odd[0] = CRC32C_POLY_REFLECTED; /* one zero bit */
    for (unsigned n = 1; n < 32; n++) {
        odd[n] = (uint32_t)1 << (n - 1);
    }
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four zero bits */
    for (;;) {
        gf2_square(even, odd); /* 8, 32, 128... zero bits */
        len >>= 1;
        if (len == 0) {
            return;
        }
        gf2_square(odd, even); /* 16, 64, 256... zero bits */
        len >>= 1;
        if (len == 0) {
            break;
        }
    }
    memcpy(even, odd, sizeof(odd));
}

static void shift_init(void)
{
    uint32_t op[32];
    zeros_op(op, HW_BLOCK);
    for (uint32_t n = 0; n < 256; n++) {
        shift_block[0][n] = gf2_times(op, n);
        shift_block[1][n] = gf2_times(op, n << 8);
        shift_block[2][n] = gf2_times(op, n << 16);
        shift_block[3][n] = gf2_times(op, n << 24);
    }
}

static void table_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        }
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        for (int t = 1; t < 8; t++) {
            table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xffu];
        }
    }
    shift_init();
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
    have_fold = ct__crc32c_fold_init() && have_hw;
}

uint32_t ct__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    pthread_once(&table_once, table_init);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                             ((uint32_t)p[3] << 24));
        uint32_t hi = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) |
                      ((uint32_t)p[7] << 24);
        crc = table[7][lo & 0xffu] ^ table[6][(lo >> 8) & 0xffu] ^ table[5][(lo >> 16) & 0xffu] ^
              table[4][lo >> 24] ^ table[3][hi & 0xffu] ^ table[2][(hi >> 8) & 0xffu] ^
              table[1][(hi >> 16) & 0xffu] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xffu];
    }
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The register c followed by HW_BLOCK zero bytes. */
static uint64_t shift(uint64_t c)
{
    return shift_block[0][c & 0xffu] ^ shift_block[1][(c >> 8) & 0xffu] ^
           shift_block[2][(c >> 16) & 0xffu] ^ shift_block[3][(c >> 24) & 0xffu];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
                                                              size_t len, int fold)
{
    const uint8_t *p = buf;
    uint64_t c = (uint32_t)~crc;
    if (fold && len >= FOLD_MIN_BYTES) {
        size_t n = len & ~(size_t)63;
        c = ct__crc32c_fold((uint32_t)c, p, n);
        p += n;
        len -= n;
    }
    while (len >= 3u * HW_BLOCK) {
        uint64_t c1 = 0;
        uint64_t c2 = 0;
        for (size_t i = 0; i < HW_BLOCK; i += 8) {
            uint64_t w0;
            uint64_t w1;
            uint64_t w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + HW_BLOCK + i, 8);
            memcpy(&w2, p + 2u * HW_BLOCK + i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = shift(c) ^ c1;
        c = shift(c) ^ c2;
        p += 3u * HW_BLOCK;
        len -= 3u * HW_BLOCK;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian: matches the reflected CRC */
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    }
    return ~c32;
}
#endif

uint32_t ct__crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, table_init);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_hw) {
        return crc32c_hw(crc, buf, len, have_fold);
    }
#endif
    return ct__crc32c_sw(crc, buf, len);
}

int ct__crc32c_path_available(int path)
{
    pthread_once(&table_once, table_init);
    return path == CT_CRC32C_TABLE || (path == CT_CRC32C_INSTRUCTION && have_hw) ||
           (path == CT_CRC32C_FOLD && have_fold);
}

uint32_t ct__crc32c_path(int path, uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (ct__crc32c_path_available(path) && path != CT_CRC32C_TABLE) {
        return crc32c_hw(crc, buf, len, path == CT_CRC32C_FOLD);
    }
#endif
    return ct__crc32c_sw(crc, buf, len);
}
