/*
 * endian.h - explicit little-endian encoding, byte by byte. Never cast a
 * struct onto a page; widen to unsigned before shifting. Pure.
 */
#ifndef CT_CORE_ENDIAN_H
#define CT_CORE_ENDIAN_H

#include <stdint.h>

static inline uint16_t ct__get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

static inline uint32_t ct__get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t ct__get64(const uint8_t *p)
{
    return (uint64_t)ct__get32(p) | ((uint64_t)ct__get32(p + 4) << 32);
}

static inline void ct__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void ct__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
    p[2] = (uint8_t)((v >> 16) & 0xffu);
    p[3] = (uint8_t)(v >> 24);
}

static inline void ct__put64(uint8_t *p, uint64_t v)
{
    ct__put32(p, (uint32_t)(v & 0xffffffffu));
    ct__put32(p + 4, (uint32_t)(v >> 32));
}

#endif
