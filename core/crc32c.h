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

#endif
