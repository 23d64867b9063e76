/*
 * model.h - the oracle's model: an ordered map per bucket, and states.
 *
 * Owns: sim_state, the content of a whole database (the default bucket
 * plus SIM_NAMED named buckets, each present or absent), as sorted arrays
 * of entries. Keys point into the workload's arena (stable for the run);
 * values are represented by (length, seed, hash) and regenerated on demand.
 * A committed state is immutable and reference counted; a write txn works
 * on a private copy. The digest of a state equals sim_db_digest() of a
 * database holding exactly that content (oracle.c), so comparing content
 * is comparing two u64s. Pure: no engine calls.
 */
#ifndef SIM_MODEL_H
#define SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* Named buckets in the universe (index 1..SIM_NAMED; 0 is the default). */
#define SIM_NAMED 5
#define SIM_BUCKETS (SIM_NAMED + 1)

/* Sizes the longest bucket name for a key limit (call before a run). */
void sim_bucket_names_init(size_t key_max);
/* Name of bucket index b (1..SIM_NAMED). */
const char *sim_bucket_name(int b);

typedef struct sim_entry {
    const uint8_t *key;
    uint32_t klen;
    uint32_t vlen;
    uint64_t vseed;
    uint64_t vhash;
} sim_entry;

typedef struct sim_bmap {
    int present;
    sim_entry *v;
    size_t count;
    size_t cap;
} sim_bmap;

typedef struct sim_state {
    int refs;
    int digest_ok;
    uint64_t digest;
    sim_bmap b[SIM_BUCKETS];
} sim_state;

/* A new empty database state (default bucket present, no named ones). */
sim_state *sim_state_new(void);
/* Mutable deep copy (refs 1). */
sim_state *sim_state_copy(const sim_state *s);
sim_state *sim_state_ref(sim_state *s);
void sim_state_unref(sim_state *s);

int sim_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Index of the first entry with key >= key; *found set when equal. */
size_t sim_bmap_lower(const sim_bmap *m, const uint8_t *key, size_t klen, int *found);
/* key sorts above every key of m (what CT_APPEND requires). */
int sim_bmap_above_all(const sim_bmap *m, const uint8_t *key, size_t klen);
const sim_entry *sim_bmap_get(const sim_bmap *m, const uint8_t *key, size_t klen);

/* Mutations of a private (refs 1) state; they clear the cached digest. */
void sim_state_put(sim_state *s, int b, const sim_entry *e);
int sim_state_del(sim_state *s, int b, const uint8_t *key, size_t klen); /* 1 if it was there */
void sim_state_create(sim_state *s, int b);
void sim_state_drop(sim_state *s, int b);

/* Digest helpers shared with the engine-side digest (oracle.c). */
uint64_t sim_entry_hash(uint64_t h, const uint8_t *key, size_t klen, size_t vlen,
                        uint64_t vhash);
uint64_t sim_bucket_hash(uint64_t h, int b, int present, uint64_t count, uint64_t content);
uint64_t sim_state_digest(sim_state *s);
uint64_t sim_state_entries(const sim_state *s);

/* The committed history: a growing vector of state references. */
typedef struct sim_hist {
    sim_state **v;
    size_t count;
    size_t cap;
} sim_hist;

/* Appends a reference (takes one ref); returns its index. */
size_t sim_hist_push(sim_hist *h, sim_state *s);
void sim_hist_free(sim_hist *h);

/* Short description of the first difference (for failure reports). */
void sim_state_diff(const sim_state *want, const sim_state *got, char *out, size_t cap);

#endif
