/*
 * crc32c.h - CRC32C (Castagnoli), hardware SSE4.2 when the CPU has it,
 * slicing table otherwise. Pure: no I/O, no allocation.
 */
#ifndef CT_CORE_CRC32C_H
#define CT_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf, continuing from crc (0 to start). */
uint32_t ct__crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table path alone (tests compare it with ct__crc32c). */
uint32_t ct__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* The paths apart, for tests: ct__crc32c_path computes with one path when
   ct__crc32c_path_available says the CPU has it, else with the table. */
#define CT_CRC32C_TABLE 0
#define CT_CRC32C_INSTRUCTION 1 /* SSE4.2 crc32, three interleaved chains */
#define CT_CRC32C_FOLD 2        /* VPCLMULQDQ folding, then the instruction */
int ct__crc32c_path_available(int path);
uint32_t ct__crc32c_path(int path, uint32_t crc, const void *buf, size_t len);

/* crc32c_fold.c: computes its constants; 1 if the CPU and OS can run it. */
int ct__crc32c_fold_init(void);
/* The crc register c (not inverted) after the n bytes at p (n a multiple of
   64, at least 64). Only after ct__crc32c_fold_init returned 1. */
uint32_t ct__crc32c_fold(uint32_t c, const uint8_t *p, size_t n);

#endif
