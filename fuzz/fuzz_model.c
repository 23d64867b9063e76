/*
 * fuzz_model.c - see fuzz_model.h.
 */
#include "fuzz_model.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

const uint8_t *fz_pattern(void)
{
    static uint8_t pat[FZ_PATTERN_PERIOD + FZ_SEED_SPAN];
    static int ready;
    if (!ready) {
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < sizeof(pat); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pat[i] = (uint8_t)(x >> 24);
        }
        ready = 1;
    }
    return pat;
}

size_t fz_map_lower(const fz_map *m, const uint8_t *key, size_t klen, int *found)
{
    size_t lo = 0;
    size_t hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fz_key_cmp(m->v[mid].key, m->v[mid].klen, key, klen) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (found) {
        *found = lo < m->n && fz_key_cmp(m->v[lo].key, m->v[lo].klen, key, klen) == 0;
    }
    return lo;
}

static uint8_t *dup_key(const uint8_t *key, size_t klen)
{
    uint8_t *k = malloc(klen ? klen : 1);
    FZ_CHECK(k != NULL, "out of memory");
    if (klen) {
        memcpy(k, key, klen);
    }
    return k;
}

void fz_map_put(fz_map *m, const uint8_t *key, size_t klen, size_t vlen, uint32_t vseed)
{
    int found = 0;
    size_t i = fz_map_lower(m, key, klen, &found);
    if (found) {
        m->v[i].vlen = vlen;
        m->v[i].vseed = vseed;
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        fz_ent *v = realloc(m->v, cap * sizeof(*v));
        FZ_CHECK(v != NULL, "out of memory");
        m->v = v;
        m->cap = cap;
    }
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
    m->v[i].key = dup_key(key, klen);
    m->v[i].klen = klen;
    m->v[i].vlen = vlen;
    m->v[i].vseed = vseed;
    m->n++;
}

int fz_map_del(fz_map *m, const uint8_t *key, size_t klen)
{
    int found = 0;
    size_t i = fz_map_lower(m, key, klen, &found);
    if (!found) {
        return 0;
    }
    free(m->v[i].key);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
    m->n--;
    return 1;
}

void fz_map_clear(fz_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
    }
    m->n = 0;
}

void fz_map_free(fz_map *m)
{
    fz_map_clear(m);
    free(m->v);
    m->v = NULL;
    m->cap = 0;
}

void fz_map_copy(fz_map *dst, const fz_map *src)
{
    if (dst == src) {
        return;
    }
    fz_map_clear(dst);
    if (dst->cap < src->n) {
        fz_ent *v = realloc(dst->v, src->n * sizeof(*v));
        FZ_CHECK(v != NULL, "out of memory");
        dst->v = v;
        dst->cap = src->n;
    }
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i] = src->v[i];
        dst->v[i].key = dup_key(src->v[i].key, src->v[i].klen);
    }
    dst->n = src->n;
}

/* Compares the cursor's entry with model entry e. 0 equal, 1 different, <0 rc. */
static int entry_compare(ct_cursor *c, const fz_ent *e, int values, const char **why)
{
    const void *k = NULL;
    const void *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    int rc = values ? ct_cursor_get(c, &k, &kl, &v, &vl) : ct_cursor_get(c, &k, &kl, NULL, NULL);
    if (rc != CT_OK) {
        return rc;
    }
    if (fz_key_cmp(k, kl, e->key, e->klen) != 0) {
        *why = "key differs";
        return 1;
    }
    if (values && !fz_val_equal(v, vl, e->vlen, e->vseed)) {
        *why = "value differs";
        return 1;
    }
    return 0;
}

static int scan(ct_cursor *c, const fz_map *m, int backward, int values, const char **why)
{
    int rc = backward ? ct_cursor_last(c) : ct_cursor_first(c);
    for (size_t i = 0; i < m->n; i++) {
        if (rc == CT_NOTFOUND) {
            *why = "engine has fewer entries";
            return 1;
        }
        if (rc != CT_OK) {
            return rc;
        }
        int d = entry_compare(c, &m->v[backward ? m->n - 1 - i : i], values, why);
        if (d != 0) {
            return d;
        }
        rc = backward ? ct_cursor_prev(c) : ct_cursor_next(c);
    }
    if (rc == CT_OK) {
        *why = "engine has more entries";
        return 1;
    }
    return rc == CT_NOTFOUND ? 0 : rc;
}

size_t fz_map_value_bytes(const fz_map *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        n += m->v[i].vlen;
    }
    return n;
}

int fz_map_compare(ct_txn *t, ct_bucket *b, const fz_map *m, unsigned how, const char **why)
{
    ct_cursor *c = NULL;
    *why = "";
    int rc = ct_cursor_open(t, b, &c);
    if (rc != CT_OK) {
        return rc;
    }
    int d = scan(c, m, 0, (how & FZ_CMP_VALUES) != 0, why);
    if (d == 0 && (how & FZ_CMP_BACKWARD)) {
        d = scan(c, m, 1, 0, why);
    }
    ct_cursor_close(c);
    return d;
}
