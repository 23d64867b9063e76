/*
 * model.c - ordered maps per bucket, immutable committed states, digests.
 * Pure: no engine calls, no I/O. Allocation failure in the simulator
 * itself is fatal (sim_xalloc reports and exits).
 */
#include "model.h"

#include <stdio.h>
#include <string.h>

#include "prng.h"
#include "util.h"

static char long_name[256];

static const char *const names[SIM_NAMED] = {"a", "bucket-b", "c\x01\xff", "dd/dd/dd", long_name};

void sim_bucket_names_init(size_t key_max)
{
    /* The longest legal name: 255 bytes, or the catalog's key limit on
       small pages. */
    size_t n = key_max < 255 ? key_max : 255;
    memset(long_name, 0, sizeof(long_name));
    memset(long_name, 'e', n ? n : 1);
}

const char *sim_bucket_name(int b)
{
    if (long_name[0] == 0) {
        sim_bucket_names_init(90);
    }
    return (b >= 1 && b <= SIM_NAMED) ? names[b - 1] : "";
}

sim_state *sim_state_new(void)
{
    sim_state *s = sim_xcalloc(1, sizeof(*s));
    s->refs = 1;
    s->b[0].present = 1;
    return s;
}

sim_state *sim_state_copy(const sim_state *s)
{
    sim_state *c = sim_xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->digest_ok = s->digest_ok;
    c->digest = s->digest;
    for (int b = 0; b < SIM_BUCKETS; b++) {
        const sim_bmap *m = &s->b[b];
        c->b[b].present = m->present;
        c->b[b].count = m->count;
        c->b[b].cap = m->count;
        if (m->count) {
            c->b[b].v = sim_xmalloc(m->count * sizeof(sim_entry));
            memcpy(c->b[b].v, m->v, m->count * sizeof(sim_entry));
        }
    }
    return c;
}

sim_state *sim_state_ref(sim_state *s)
{
    s->refs++;
    return s;
}

void sim_state_unref(sim_state *s)
{
    if (!s || --s->refs > 0) {
        return;
    }
    for (int b = 0; b < SIM_BUCKETS; b++) {
        free(s->b[b].v);
    }
    free(s);
}

int sim_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return (alen > blen) - (alen < blen);
}

int sim_bmap_above_all(const sim_bmap *m, const uint8_t *key, size_t klen)
{
    const sim_entry *last = m->count ? &m->v[m->count - 1] : NULL;
    return !last || sim_key_cmp(key, klen, last->key, last->klen) > 0;
}

size_t sim_bmap_lower(const sim_bmap *m, const uint8_t *key, size_t klen, int *found)
{
    size_t lo = 0;
    size_t hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sim_key_cmp(m->v[mid].key, m->v[mid].klen, key, klen) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (found) {
        *found = lo < m->count && sim_key_cmp(m->v[lo].key, m->v[lo].klen, key, klen) == 0;
    }
    return lo;
}

const sim_entry *sim_bmap_get(const sim_bmap *m, const uint8_t *key, size_t klen)
{
    int found = 0;
    size_t i = sim_bmap_lower(m, key, klen, &found);
    return found ? &m->v[i] : NULL;
}

void sim_state_put(sim_state *s, int b, const sim_entry *e)
{
    sim_bmap *m = &s->b[b];
    int found = 0;
    size_t i = sim_bmap_lower(m, e->key, e->klen, &found);
    s->digest_ok = 0;
    if (found) {
        m->v[i] = *e;
        return;
    }
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = sim_xrealloc(m->v, m->cap * sizeof(sim_entry));
    }
    memmove(&m->v[i + 1], &m->v[i], (m->count - i) * sizeof(sim_entry));
    m->v[i] = *e;
    m->count++;
}

int sim_state_del(sim_state *s, int b, const uint8_t *key, size_t klen)
{
    sim_bmap *m = &s->b[b];
    int found = 0;
    size_t i = sim_bmap_lower(m, key, klen, &found);
    if (!found) {
        return 0;
    }
    memmove(&m->v[i], &m->v[i + 1], (m->count - i - 1) * sizeof(sim_entry));
    m->count--;
    s->digest_ok = 0;
    return 1;
}

void sim_state_create(sim_state *s, int b)
{
    if (!s->b[b].present) {
        s->b[b].present = 1;
        s->b[b].count = 0;
        s->digest_ok = 0;
    }
}

void sim_state_drop(sim_state *s, int b)
{
    s->b[b].present = 0;
    s->b[b].count = 0;
    s->digest_ok = 0;
}

uint64_t sim_entry_hash(uint64_t h, const uint8_t *key, size_t klen, size_t vlen, uint64_t vhash)
{
    h = prng_hash_u64(h, prng_hash_bytes(key, klen, 0x6b6579));
    h = prng_hash_u64(h, (uint64_t)vlen);
    return prng_hash_u64(h, vhash);
}

uint64_t sim_bucket_hash(uint64_t h, int b, int present, uint64_t count, uint64_t content)
{
    h = prng_hash_u64(h, (uint64_t)b);
    h = prng_hash_u64(h, (uint64_t)present);
    h = prng_hash_u64(h, count);
    return prng_hash_u64(h, content);
}

uint64_t sim_state_digest(sim_state *s)
{
    if (s->digest_ok) {
        return s->digest;
    }
    uint64_t h = 0x636f777472656521ull;
    for (int b = 0; b < SIM_BUCKETS; b++) {
        const sim_bmap *m = &s->b[b];
        uint64_t c = 0;
        if (m->present) {
            for (size_t i = 0; i < m->count; i++) {
                c = sim_entry_hash(c, m->v[i].key, m->v[i].klen, m->v[i].vlen, m->v[i].vhash);
            }
        }
        h = sim_bucket_hash(h, b, m->present, m->present ? m->count : 0, c);
    }
    s->digest = h;
    s->digest_ok = 1;
    return h;
}

uint64_t sim_state_entries(const sim_state *s)
{
    uint64_t n = 0;
    for (int b = 0; b < SIM_BUCKETS; b++) {
        if (s->b[b].present) {
            n += s->b[b].count;
        }
    }
    return n;
}

size_t sim_hist_push(sim_hist *h, sim_state *s)
{
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 32;
        h->v = sim_xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->count] = sim_state_ref(s);
    return h->count++;
}

void sim_hist_free(sim_hist *h)
{
    for (size_t i = 0; i < h->count; i++) {
        sim_state_unref(h->v[i]);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}

void sim_state_diff(const sim_state *want, const sim_state *got, char *out, size_t cap)
{
    for (int b = 0; b < SIM_BUCKETS; b++) {
        const sim_bmap *x = &want->b[b];
        const sim_bmap *y = &got->b[b];
        if (x->present != y->present) {
            snprintf(out, cap, "bucket %d present: want %d got %d", b, x->present, y->present);
            return;
        }
        size_t n = x->count < y->count ? x->count : y->count;
        for (size_t i = 0; i < n; i++) {
            const sim_entry *e = &x->v[i];
            const sim_entry *f = &y->v[i];
            if (sim_key_cmp(e->key, e->klen, f->key, f->klen) != 0 || e->vlen != f->vlen ||
                e->vhash != f->vhash) {
                char kx[40];
                char ky[40];
                sim_hex(e->key, e->klen, kx, sizeof(kx));
                sim_hex(f->key, f->klen, ky, sizeof(ky));
                snprintf(out, cap,
                         "bucket %d entry %zu: want key %s (%u bytes) vlen %u, got key %s "
                         "(%u bytes) vlen %u",
                         b, i, kx, e->klen, e->vlen, ky, f->klen, f->vlen);
                return;
            }
        }
        if (x->count != y->count) {
            snprintf(out, cap, "bucket %d: want %zu entries, got %zu", b, x->count, y->count);
            return;
        }
    }
    snprintf(out, cap, "no difference");
}
