/*
 * cursor.c - cursors over one bucket: a fixed-depth stack of (page,
 * index) from the root to a leaf entry. In a write txn a change bumps
 * txn->mod_seq; a cursor built on an older mod_seq re-seeks to a copy of
 * its key before moving (next after a deleted key lands on its successor,
 * as LMDB's cursor does after mdb_cursor_del).
 */
#include <string.h>

#include "internal.h"

void ct__cursor_free(ct_cursor *c)
{
    ct_db *db = c->txn->db;
    ct__free(&db->alloc, c->keybuf);
    ct__free(&db->alloc, c);
}

int ct_cursor_open(ct_txn *t, ct_bucket *b, ct_cursor **out)
{
    if (!t || !out) {
        return CT_INVALID;
    }
    if (t->failed) {
        return t->failed; /* only commit or abort after a failure, as ct_get */
    }
    int rc = ct__bucket_check(t, &b);
    if (rc != CT_OK) {
        return rc;
    }
    ct_cursor *c = ct__calloc(&t->db->alloc, 1, sizeof(*c));
    if (!c) {
        return CT_NOMEM;
    }
    c->txn = t;
    c->b = b;
    c->next = t->cursors;
    t->cursors = c;
    *out = c;
    return CT_OK;
}

void ct_cursor_close(ct_cursor *c)
{
    if (!c) {
        return;
    }
    ct_txn *t = c->txn;
    for (ct_cursor **pp = &t->cursors; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    ct__cursor_free(c);
}

static uint8_t type_at(const ct_cursor *c, uint32_t level)
{
    return level + 1 == c->b->tree.depth ? CT_PT_LEAF : CT_PT_BRANCH;
}

static int load(ct_cursor *c, uint32_t level, uint64_t pgno, uint64_t gen)
{
    const uint8_t *p = NULL;
    int rc = ct__page_get(c->txn, pgno, gen, type_at(c, level), &p);
    if (rc == CT_OK) {
        c->stack[level].pgno = pgno;
        c->stack[level].page = p;
    }
    return rc;
}

/* Remembers the current key (write txns) so a later change can re-seek. */
static int remember(ct_cursor *c)
{
    c->mod_seq = c->txn->mod_seq;
    if (c->txn->rdonly) {
        return CT_OK;
    }
    const ct__cframe *f = &c->stack[c->depth - 1];
    const uint8_t *cell = ct__node_cell(f->page, f->idx);
    size_t klen = ct__leaf_klen(cell);
    int rc = ct__grow(&c->txn->db->alloc, (void **)&c->keybuf, &c->keybuf_cap, klen + 1, 1);
    if (rc != CT_OK) {
        return rc;
    }
    memcpy(c->keybuf, ct__leaf_key(cell), klen);
    c->keybuf_len = klen;
    return CT_OK;
}

/* Descends from level to a leaf, taking the first (dir 0) or last child. */
static int descend_edge(ct_cursor *c, uint32_t level, int last)
{
    for (;;) {
        const uint8_t *p = c->stack[level].page;
        uint32_t n = ct__ph_count(p);
        if (n == 0) {
            return level == 0 ? CT_NOTFOUND : CT__CORRUPT(c->stack[level].pgno, "empty node");
        }
        c->stack[level].idx = last ? n - 1 : 0;
        if (level + 1 == c->depth) {
            return CT_OK;
        }
        const uint8_t *cell = ct__node_cell(p, c->stack[level].idx);
        int rc = load(c, level + 1, ct__branch_child(cell), ct__branch_gen(cell));
        if (rc != CT_OK) {
            return rc;
        }
        level++;
    }
}

static int start(ct_cursor *c)
{
    c->positioned = 0;
    const ct__tree *tr = &c->b->tree;
    if (c->b->dropped) {
        return CT_INVALID;
    }
    if (tr->root == 0) {
        return CT_NOTFOUND;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    c->depth = tr->depth;
    return load(c, 0, tr->root, tr->gen);
}

static int finish(ct_cursor *c, int rc)
{
    if (rc == CT_OK) {
        c->positioned = 1;
        rc = remember(c);
    }
    if (rc != CT_OK) {
        c->positioned = 0;
    }
    return rc;
}

static int edge(ct_cursor *c, int last)
{
    if (!c) {
        return CT_INVALID;
    }
    if (c->txn->failed) {
        return c->txn->failed;
    }
    int rc = start(c);
    if (rc == CT_OK) {
        rc = descend_edge(c, 0, last);
    }
    return finish(c, rc);
}

int ct_cursor_first(ct_cursor *c)
{
    return edge(c, 0);
}

int ct_cursor_last(ct_cursor *c)
{
    return edge(c, 1);
}

/* Moves frame f to its next (dir 1) or previous (dir -1) cell: 1, or 0
   when f is at that end of its page. */
static inline int frame_step(ct__cframe *f, int dir)
{
    if (dir > 0 ? f->idx + 1 >= ct__ph_count(f->page) : f->idx == 0) {
        return 0;
    }
    f->idx = dir > 0 ? f->idx + 1 : f->idx - 1;
    return 1;
}

/* Moves to the next (dir 1) or previous (dir -1) leaf entry. */
static int step(ct_cursor *c, int dir)
{
    uint32_t level = c->depth - 1;
    for (;;) {
        if (frame_step(&c->stack[level], dir)) {
            break;
        }
        if (level == 0) {
            return CT_NOTFOUND;
        }
        level--;
    }
    if (level + 1 == c->depth) {
        return CT_OK;
    }
    const uint8_t *cell = ct__node_cell(c->stack[level].page, c->stack[level].idx);
    int rc = load(c, level + 1, ct__branch_child(cell), ct__branch_gen(cell));
    if (rc == CT_OK) {
        rc = descend_edge(c, level + 1, dir < 0);
    }
    return rc;
}

static int seek_raw(ct_cursor *c, const uint8_t *key, size_t klen, int *exact)
{
    int rc = start(c);
    if (rc != CT_OK) {
        return rc;
    }
    for (uint32_t level = 0;; level++) {
        const uint8_t *p = c->stack[level].page;
        if (level + 1 == c->depth) {
            int found = 0;
            uint32_t i = ct__leaf_search(p, key, klen, &found);
            *exact = found;
            if (i < ct__ph_count(p)) {
                c->stack[level].idx = i;
                return CT_OK;
            }
            if (ct__ph_count(p) == 0) {
                return CT_NOTFOUND;
            }
            c->stack[level].idx = i - 1;
            return step(c, 1);
        }
        uint32_t i = ct__branch_search(p, key, klen);
        c->stack[level].idx = i;
        const uint8_t *cell = ct__node_cell(p, i);
        rc = load(c, level + 1, ct__branch_child(cell), ct__branch_gen(cell));
        if (rc != CT_OK) {
            return rc;
        }
    }
}

int ct_cursor_seek(ct_cursor *c, const void *key, size_t klen)
{
    if (!c || (!key && klen)) {
        return CT_INVALID;
    }
    if (c->txn->failed) {
        return c->txn->failed;
    }
    int exact = 0;
    return finish(c, seek_raw(c, key, klen, &exact));
}

/* Re-seeks after a change in the txn; *moved: landed past the old key. */
static int refresh(ct_cursor *c, int *moved)
{
    *moved = 0;
    if (c->mod_seq == c->txn->mod_seq) {
        return CT_OK;
    }
    int exact = 0;
    int rc = seek_raw(c, c->keybuf, c->keybuf_len, &exact);
    *moved = rc == CT_OK && !exact;
    return rc;
}

CT_NOINLINE static int move(ct_cursor *c, int dir)
{
    if (!c) {
        return CT_INVALID;
    }
    if (c->txn->failed) {
        return c->txn->failed;
    }
    if (c->b->dropped) {
        c->positioned = 0;
        return CT_INVALID; /* as every other call on the dropped bucket */
    }
    if (!c->positioned) {
        return dir > 0 ? ct_cursor_first(c) : ct_cursor_last(c);
    }
    int moved = 0;
    int rc = refresh(c, &moved);
    if (rc == CT_NOTFOUND && dir < 0) {
        rc = edge(c, 1); /* everything from the old key on is gone */
        return rc;
    }
    if (rc == CT_OK && !(moved && dir > 0)) {
        rc = step(c, dir);
    }
    return finish(c, rc);
}

/* The common step of a read txn: to the neighbour on the same leaf. What
   move() does then, without its calls: a read txn never changes mod_seq,
   so nothing needs a re-seek, and remember() has no key to copy. (A scan
   spent about 80 instructions an entry in move() and its callees.) */
static int step_in_leaf(ct_cursor *c, int dir)
{
    return c->positioned && c->txn->rdonly && c->mod_seq == c->txn->mod_seq &&
           frame_step(&c->stack[c->depth - 1], dir);
}

int ct_cursor_next(ct_cursor *c)
{
    return c && step_in_leaf(c, 1) ? CT_OK : move(c, 1);
}

int ct_cursor_prev(ct_cursor *c)
{
    return c && step_in_leaf(c, -1) ? CT_OK : move(c, -1);
}

/* ct_cursor_get of a value in an overflow run. */
CT_NOINLINE static int overflow_value(ct_cursor *c, const uint8_t *cell, const void **val,
                                      size_t *vlen)
{
    const uint8_t *v = NULL;
    size_t n = 0;
    int rc = ct__cell_value(c->txn, cell, &v, &n);
    if (rc != CT_OK) {
        return rc;
    }
    if (val) {
        *val = v;
    }
    if (vlen) {
        *vlen = n;
    }
    return CT_OK;
}

/* The current entry, once the stack is current. */
static inline int read_entry(ct_cursor *c, const void **key, size_t *klen, const void **val,
                             size_t *vlen)
{
    const ct__cframe *f = &c->stack[c->depth - 1];
    const uint8_t *cell = ct__node_cell(f->page, f->idx);
    if (key) {
        *key = ct__leaf_key(cell);
    }
    if (klen) {
        *klen = ct__leaf_klen(cell);
    }
    if (val || vlen) {
        if (ct__leaf_flags(cell) & CT_CELL_OVERFLOW) {
            return overflow_value(c, cell, val, vlen);
        }
        if (val) {
            *val = ct__leaf_val(cell);
        }
        if (vlen) {
            *vlen = ct__leaf_vlen(cell);
        }
    }
    return CT_OK;
}

/* ct_cursor_get after a change in the txn: back onto the current key
   first. Out of line, so the common case needs no stack frame. */
CT_NOINLINE static int read_after_change(ct_cursor *c, const void **key, size_t *klen,
                                         const void **val, size_t *vlen)
{
    int moved = 0;
    int rc = finish(c, refresh(c, &moved)); /* start() cleared positioned */
    return rc != CT_OK ? rc : read_entry(c, key, klen, val, vlen);
}

int ct_cursor_get(ct_cursor *c, const void **key, size_t *klen, const void **val, size_t *vlen)
{
    if (!c) {
        return CT_INVALID;
    }
    if (c->txn->failed) {
        return c->txn->failed;
    }
    if (c->b->dropped) {
        return CT_INVALID;
    }
    if (!c->positioned) {
        return CT_NOTFOUND;
    }
    if (c->mod_seq != c->txn->mod_seq) {
        return read_after_change(c, key, klen, val, vlen);
    }
    return read_entry(c, key, klen, val, vlen);
}
