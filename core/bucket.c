/*
 * bucket.c - named buckets kept in a catalog tree: key = name (1..255
 * bytes), value = a 32-byte descriptor (root u64, root gen u64, depth u32,
 * pad u32, entries u64). A txn keeps one handle per open bucket; a write
 * txn writes changed descriptors into the catalog at commit, so changes to
 * several buckets commit atomically.
 */
#include <string.h>

#include "internal.h"

int ct__bucket_desc_decode(const uint8_t *val, size_t vlen, ct__tree *out)
{
    if (vlen != CT_BUCKET_DESC_BYTES) {
        return CT__CORRUPT(0, "bucket descriptor size");
    }
    out->root = ct__get64(val);
    out->gen = ct__get64(val + 8);
    out->depth = ct__get32(val + 16);
    out->entries = ct__get64(val + 24);
    if ((out->root == 0) != (out->depth == 0) || out->depth > CT_DEPTH_MAX ||
        (out->root != 0 && out->root < 2) || (out->root == 0 && out->entries != 0)) {
        return CT__CORRUPT(out->root, "bucket descriptor fields");
    }
    return CT_OK;
}

static void desc_encode(const ct__tree *t, uint8_t *out)
{
    ct__put64(out, t->root);
    ct__put64(out + 8, t->gen);
    ct__put32(out + 16, t->depth);
    ct__put32(out + 20, 0);
    ct__put64(out + 24, t->entries);
}

int ct__bucket_check(ct_txn *t, ct_bucket **b)
{
    if (!*b) {
        *b = &t->main;
        return CT_OK;
    }
    if ((*b)->txn != t || (*b)->dropped) {
        return CT_INVALID;
    }
    return CT_OK;
}

static size_t name_hash(const char *name, size_t len)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static void index_place(ct_bucket **index, size_t cap, ct_bucket *b)
{
    size_t i = name_hash(b->name, b->name_len) & (cap - 1);
    while (index[i]) {
        i = (i + 1) & (cap - 1);
    }
    index[i] = b;
}

/* Adds b (not yet on the list) to the index, growing it first. */
static int index_add(ct_txn *t, ct_bucket *b)
{
    if ((t->bucket_handles + 1) * 2 > t->bucket_index_cap) {
        size_t cap = t->bucket_index_cap ? t->bucket_index_cap * 2 : 16;
        ct_bucket **index = ct__calloc(&t->db->alloc, cap, sizeof(*index));
        if (!index) {
            return CT_NOMEM;
        }
        for (ct_bucket *o = t->buckets; o; o = o->next) {
            index_place(index, cap, o);
        }
        ct__free(&t->db->alloc, t->bucket_index);
        t->bucket_index = index;
        t->bucket_index_cap = cap;
    }
    index_place(t->bucket_index, t->bucket_index_cap, b);
    t->bucket_handles++;
    return CT_OK;
}

static ct_bucket *find_open(ct_txn *t, const char *name, size_t len)
{
    if (!t->bucket_index) {
        return NULL;
    }
    size_t mask = t->bucket_index_cap - 1;
    for (size_t i = name_hash(name, len) & mask; t->bucket_index[i]; i = (i + 1) & mask) {
        ct_bucket *b = t->bucket_index[i];
        if (!b->dropped && b->name_len == len && memcmp(b->name, name, len) == 0) {
            return b;
        }
    }
    return NULL;
}

static int name_len(const char *name, size_t *len)
{
    if (!name) {
        return CT_INVALID;
    }
    size_t n = strnlen(name, CT_BUCKET_NAME_MAX + 1);
    if (n == 0 || n > CT_BUCKET_NAME_MAX) {
        return CT_INVALID;
    }
    *len = n;
    return CT_OK;
}

static int new_handle(ct_txn *t, const char *name, size_t len, const ct__tree *tree,
                      ct_bucket **out)
{
    ct_bucket *b = ct__calloc(&t->db->alloc, 1, sizeof(*b));
    if (!b) {
        return CT_NOMEM;
    }
    b->txn = t;
    b->tree = *tree;
    b->name_len = len;
    memcpy(b->name, name, len);
    if (index_add(t, b) != CT_OK) {
        ct__free(&t->db->alloc, b);
        return CT_NOMEM;
    }
    b->next = t->buckets;
    t->buckets = b;
    *out = b;
    return CT_OK;
}

int ct_bucket_open(ct_txn *t, const char *name, unsigned flags, ct_bucket **out)
{
    size_t len = 0;
    if (!t || !out || (flags & ~(CT_CREATE | CT_EXCL)) || name_len(name, &len) != CT_OK) {
        return CT_INVALID;
    }
    if (t->failed) {
        return t->failed;
    }
    if (len > t->db->key_max) {
        return CT_TOOBIG; /* small pages: the catalog key limit is below 255 */
    }
    int excl = (flags & (CT_CREATE | CT_EXCL)) == (CT_CREATE | CT_EXCL);
    ct_bucket *b = find_open(t, name, len);
    if (b) {
        if (excl) {
            return CT_EXISTS;
        }
        *out = b;
        return CT_OK;
    }
    const uint8_t *cell = NULL;
    int rc = ct__tree_get(t, &t->meta.catalog, (const uint8_t *)name, len, &cell);
    if (rc == CT_OK) {
        if (excl) {
            return CT_EXISTS;
        }
        const uint8_t *v = NULL;
        size_t vlen = 0;
        ct__tree tree;
        rc = ct__cell_value(t, cell, &v, &vlen);
        if (rc == CT_OK) {
            rc = ct__bucket_desc_decode(v, vlen, &tree);
        }
        if (rc == CT_OK) {
            rc = new_handle(t, name, len, &tree, out);
        }
        return rc;
    }
    if (rc != CT_NOTFOUND) {
        ct__txn_fail(t, rc);
        return rc;
    }
    if (!(flags & CT_CREATE)) {
        return CT_NOTFOUND;
    }
    if (t->rdonly) {
        return (t->db->flags & CT_RDONLY) ? CT_READONLY : CT_INVALID;
    }
    ct__tree empty;
    memset(&empty, 0, sizeof(empty));
    rc = new_handle(t, name, len, &empty, out);
    if (rc == CT_OK) {
        (*out)->dirty = 1;
        (*out)->created = 1;
        t->meta.buckets++;
        t->catalog_dirty = 1;
        t->mod_seq++;
    }
    return rc;
}

int ct_bucket_drop(ct_txn *t, const char *name)
{
    size_t len = 0;
    if (!t || name_len(name, &len) != CT_OK) {
        return CT_INVALID;
    }
    if (t->rdonly) {
        return (t->db->flags & CT_RDONLY) ? CT_READONLY : CT_INVALID;
    }
    if (t->failed) {
        return t->failed;
    }
    ct_bucket *b = NULL;
    int rc = ct_bucket_open(t, name, 0, &b);
    if (rc != CT_OK) {
        return rc;
    }
    t->mod_seq++;
    rc = ct__tree_free_all(t, &b->tree);
    if (rc == CT_OK) {
        rc = ct__tree_del(t, &t->meta.catalog, (const uint8_t *)name, len);
        if (rc == CT_NOTFOUND && b->created) {
            rc = CT_OK; /* created in this txn: never reached the catalog */
        }
    }
    if (rc != CT_OK) {
        ct__txn_fail(t, rc);
        return rc;
    }
    b->dropped = 1;
    t->meta.buckets--;
    t->catalog_dirty = 1;
    return CT_OK;
}

int ct__buckets_flush(ct_txn *t)
{
    uint8_t desc[CT_BUCKET_DESC_BYTES];
    for (ct_bucket *b = t->buckets; b; b = b->next) {
        if (b->dropped || !b->dirty) {
            continue;
        }
        desc_encode(&b->tree, desc);
        int rc = ct__tree_put(t, &t->meta.catalog, (const uint8_t *)b->name, b->name_len, desc,
                              sizeof(desc), 0);
        if (rc != CT_OK) {
            return rc;
        }
        b->dirty = 0;
    }
    return CT_OK;
}
