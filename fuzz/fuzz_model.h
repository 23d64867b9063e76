/*
 * fuzz_model.h - the ordered-map model the fuzz targets check the engine
 * against: sorted entries, keys owned by the map, values described by
 * (length, seed) and generated on demand (fz_val_byte), so a model of
 * megabytes of values costs a few bytes per entry.
 *
 * Test code: allocation failure aborts.
 */
#ifndef CT_FUZZ_MODEL_H
#define CT_FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree.h"

typedef struct fz_ent {
    uint8_t *key;
    size_t klen;
    size_t vlen;
    uint32_t vseed;
} fz_ent;

typedef struct fz_map {
    fz_ent *v; /* sorted by key */
    size_t n;
    size_t cap;
} fz_map;

/* Index of the first key >= key; *found = exact match (may be NULL). */
size_t fz_map_lower(const fz_map *m, const uint8_t *key, size_t klen, int *found);
/* Inserts or replaces. */
void fz_map_put(fz_map *m, const uint8_t *key, size_t klen, size_t vlen, uint32_t vseed);
/* 1 when key was present (and is now gone), else 0. */
int fz_map_del(fz_map *m, const uint8_t *key, size_t klen);
/* dst becomes a deep copy of src (dst's old entries are freed). */
void fz_map_copy(fz_map *dst, const fz_map *src);
void fz_map_clear(fz_map *m);
void fz_map_free(fz_map *m);

/* What fz_map_compare compares. */
#define FZ_CMP_VALUES 0x1u   /* forward scan: values too (else keys only) */
#define FZ_CMP_BACKWARD 0x2u /* then a backward scan: keys only */

/* Scans bucket b of txn t forward (and backward with FZ_CMP_BACKWARD) and
   compares with m. Returns 0 equal, 1 different (why: a short reason),
   or a negative CT_* code the engine returned. */
int fz_map_compare(ct_txn *t, ct_bucket *b, const fz_map *m, unsigned how, const char **why);

/* Bytes of all values in m. */
size_t fz_map_value_bytes(const fz_map *m);

#endif
