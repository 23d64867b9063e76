/*
 * btree.c - descend, copy-on-write path, insert with split propagation,
 * delete with rebalancing (borrow or merge) and root collapse.
 *
 * Invariants kept for every tree: all leaves at depth `depth`; keys ascend
 * within and across pages; a branch separator k[i] bounds child i from
 * below; non-root nodes hold at least one cell; non-root nodes off the
 * right spine hold at least a quarter page (min_fill): after a delete, such
 * a node borrows from or merges with a sibling. The right spine is exempt
 * so CT_APPEND can fill pages completely, like LMDB's MDB_APPEND: its
 * splits leave the new last node short, and only appends grow it. Walks use a
 * fixed-depth path (CT_DEPTH_MAX), never recursion.
 */
#include <string.h>

#include "internal.h"

typedef ct__path path;

static uint8_t level_type(const ct__tree *tr, uint32_t level)
{
    return level + 1 == tr->depth ? CT_PT_LEAF : CT_PT_BRANCH;
}

static uint32_t ovf_pages(uint32_t page_size, uint32_t vlen)
{
    uint64_t bytes = (uint64_t)CT_PAGE_HDR_BYTES + vlen;
    return (uint32_t)((bytes + page_size - 1) / page_size);
}

/* Read-only descent to key: the child index taken at each branch level
   (at may be NULL), the leaf and the key's index in it. CT_NOTFOUND
   dirties nothing. */
static int find_path(ct_txn *t, const ct__tree *tr, const uint8_t *key, size_t klen,
                     uint32_t *at, const uint8_t **leaf, uint32_t *leaf_idx)
{
    if (tr->root == 0) {
        return CT_NOTFOUND;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    uint64_t pgno = tr->root;
    uint64_t gen = tr->gen;
    for (uint32_t level = 0;; level++) {
        const uint8_t *p = NULL;
        int rc = ct__page_get(t, pgno, gen, level_type(tr, level), &p);
        if (rc != CT_OK) {
            return rc;
        }
        if (level + 1 == tr->depth) {
            int found = 0;
            *leaf = p;
            *leaf_idx = ct__leaf_search(p, key, klen, &found);
            return found ? CT_OK : CT_NOTFOUND;
        }
        uint32_t i = ct__branch_search(p, key, klen);
        if (at) {
            at[level] = i;
        }
        const uint8_t *c = ct__node_cell(p, i);
        pgno = ct__branch_child(c);
        gen = ct__branch_gen(c);
    }
}

int ct__tree_get(ct_txn *t, const ct__tree *tr, const uint8_t *key, size_t klen,
                 const uint8_t **cell)
{
    const uint8_t *leaf = NULL;
    uint32_t i = 0;
    int rc = find_path(t, tr, key, klen, NULL, &leaf, &i);
    if (rc == CT_OK) {
        *cell = ct__node_cell(leaf, i);
    }
    return rc;
}

int ct__cell_value(ct_txn *t, const uint8_t *cell, const uint8_t **val, size_t *vlen)
{
    uint32_t n = ct__leaf_vlen(cell);
    *vlen = n;
    if (ct__leaf_flags(cell) & CT_CELL_OVERFLOW) {
        const uint8_t *ref = ct__leaf_val(cell);
        return ct__overflow_get(t, ct__get64(ref), ct__get64(ref + 8), n, val);
    }
    *val = ct__leaf_val(cell);
    return CT_OK;
}

/* Copies child i of the dirty parent for writing (copy-on-write) and points
   the parent's cell at the copy. */
static int touch_child(ct_txn *t, uint8_t *parent, uint32_t i, uint8_t type, uint8_t **out)
{
    uint8_t *c = (uint8_t *)ct__node_cell(parent, i);
    uint64_t child = ct__branch_child(c);
    uint64_t gen = ct__branch_gen(c);
    int rc = ct__page_touch(t, &child, &gen, type, out);
    if (rc == CT_OK) {
        ct__branch_set_child(c, child, gen);
    }
    return rc;
}

/* Copy-on-write descent: every page on the path to key becomes dirty.
   at != NULL: the child indices are at[0..depth-2], found by a read-only
   descent (copying a page keeps its cells' order), and key is unused. */
static int cow_path(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen, int rightmost,
                    const uint32_t *at, path *pt)
{
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    pt->depth = tr->depth;
    int rc = ct__page_touch(t, &tr->root, &tr->gen, level_type(tr, 0), &pt->page[0]);
    if (rc != CT_OK) {
        return rc;
    }
    pt->pgno[0] = tr->root;
    for (uint32_t level = 0; level + 1 < tr->depth; level++) {
        uint8_t *p = pt->page[level];
        uint32_t i = at          ? at[level]
                     : rightmost ? ct__ph_count(p) - 1u
                                 : ct__branch_search(p, key, klen);
        rc = touch_child(t, p, i, level_type(tr, level + 1), &pt->page[level + 1]);
        if (rc != CT_OK) {
            return rc;
        }
        pt->idx[level] = i;
        pt->pgno[level + 1] = ct__branch_child(ct__node_cell(p, i));
    }
    return CT_OK;
}

/* The key of a leaf or branch ref (*klen its length). */
static const uint8_t *ref_key(uint8_t type, const ct__cellref *r, uint32_t *klen)
{
    if (type == CT_PT_LEAF) {
        *klen = ct__leaf_klen(r->raw);
        return ct__leaf_key(r->raw);
    }
    *klen = r->klen;
    return r->key;
}

/* A corrupt image can hold a key in a page its parent's separators do not
   lead to. Each page is validated alone when read, so order across pages
   is checked where they meet: cells of two siblings joined into refs, and
   a separator set among its parent's. Without these checks a commit would
   write a page whose keys are out of order. */

/* refs[i - 1] < refs[i] for every i in [from, to] that has both (a
   branch's refs[0] has no key). Callers pass where two pages' cells meet:
   inside each page the order was validated when it was read, and every
   write keeps it. */
static int refs_ordered_at(uint8_t type, const ct__cellref *refs, uint32_t n, uint32_t from,
                           uint32_t to, uint64_t pgno)
{
    uint32_t first = type == CT_PT_LEAF ? 1u : 2u;
    for (uint32_t i = from < first ? first : from; i <= to && i < n; i++) {
        uint32_t al = 0;
        uint32_t bl = 0;
        const uint8_t *a = ref_key(type, &refs[i - 1], &al);
        const uint8_t *b = ref_key(type, &refs[i], &bl);
        if (ct__key_cmp(a, al, b, bl) >= 0) {
            return CT__CORRUPT(pgno, "sibling keys out of order");
        }
    }
    return CT_OK;
}

/* sep lies strictly between branch cells lo and hi (cell 0 has no key, and
   hi may be one past the last cell). */
static int sep_between(const uint8_t *branch, uint32_t lo, uint32_t hi, const uint8_t *sep,
                       uint32_t seplen)
{
    if (lo >= 1 && lo < hi) {
        const uint8_t *c = ct__node_cell(branch, lo);
        if (ct__key_cmp(ct__branch_key(c), ct__branch_klen(c), sep, seplen) >= 0) {
            return CT__CORRUPT(ct__ph_pgno(branch), "separator below its left neighbour");
        }
    }
    if (hi < ct__ph_count(branch)) {
        const uint8_t *c = ct__node_cell(branch, hi);
        if (ct__key_cmp(sep, seplen, ct__branch_key(c), ct__branch_klen(c)) >= 0) {
            return CT__CORRUPT(ct__ph_pgno(branch), "separator above its right neighbour");
        }
    }
    return CT_OK;
}

/* Fewest bytes (cells and slots) a non-root node holds once an operation
   completes; ct_check verifies it. */
static uint32_t min_fill(const ct_db *db)
{
    return ct__node_min_fill(db->page_size);
}

/* Split point for n refs: both halves fit and, when possible, both hold at
   least min_fill bytes; among those, balanced bytes. Appending in order (on
   the right spine, which the fill bound exempts): as full a left page as
   possible, the right one may hold just the new cell. */
static uint32_t choose_split(const ct_db *db, uint8_t type, const ct__cellref *refs, uint32_t n,
                             int append)
{
    uint32_t cap = db->page_size - CT_PAGE_HDR_BYTES;
    uint32_t min = min_fill(db);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += ct__ref_bytes(type, &refs[i], i == 0);
    }
    uint32_t best = 1;
    uint64_t best_cost = UINT64_MAX;
    int best_filled = 0;
    uint64_t left = 0;
    for (uint32_t s = 1; s < n; s++) {
        left += ct__ref_bytes(type, &refs[s - 1], s == 1);
        /* The right node's first branch cell drops its key. */
        uint64_t right = total - left - (type == CT_PT_BRANCH ? refs[s].klen : 0u);
        if (left > cap || right > cap) {
            continue;
        }
        int filled = left >= min && (append || right >= min);
        uint64_t cost = append ? cap - left : (left > right ? left - right : right - left);
        if ((filled && !best_filled) || (filled == best_filled && cost < best_cost)) {
            best_cost = cost;
            best = s;
            best_filled = filled;
        }
    }
    CT_ASSERT(best_cost != UINT64_MAX);
    return best;
}

/* Builds refs[0..n) into page (left, keeps pgno) and a new right page.
   *sep receives the first key of the right side (copied to sepbuf). */
static int split_build(ct_txn *t, uint8_t type, uint8_t *page, ct__cellref *refs, uint32_t n,
                       int append, uint64_t *right_pgno, const uint8_t **sep, uint32_t *seplen,
                       uint8_t *sepbuf)
{
    ct_db *db = t->db;
    uint32_t s = choose_split(db, type, refs, n, append);
    uint8_t *right = NULL;
    uint64_t rp = 0;
    int rc = ct__page_new(t, 1, type, &rp, &right);
    if (rc != CT_OK) {
        return rc;
    }
    const uint8_t *first = ref_key(type, &refs[s], seplen); /* the right side's first key */
    memmove(sepbuf, first, *seplen);
    ct__node_build(right, db->page_size, type, rp, t->id, refs + s, n - s);
    if (!(append && s == n - 1)) {
        /* An append that leaves every old cell on the left (the new one at
           the end, alone on the right) keeps the page as it is. */
        uint8_t *lbuf = t->scratch;
        ct__node_build(lbuf, db->page_size, type, ct__ph_pgno(page), t->id, refs, s);
        memcpy(page, lbuf, db->page_size);
    }
    CT_ASSERT(ct__ph_txnid(page) == t->id);
    *right_pgno = rp;
    *sep = sepbuf;
    return CT_OK;
}

/* Gives the tree a new root over the old root (left) and `right`. */
static int grow_root(ct_txn *t, ct__tree *tr, uint64_t left, uint64_t right, const uint8_t *sep,
                     uint32_t seplen)
{
    uint8_t *root = NULL;
    uint64_t rp = 0;
    int rc = ct__page_new(t, 1, CT_PT_BRANCH, &rp, &root);
    if (rc != CT_OK) {
        return rc;
    }
    ct__cellref two[2];
    memset(two, 0, sizeof(two));
    two[0].child = left;
    two[0].gen = t->id;
    two[1].child = right;
    two[1].gen = t->id;
    two[1].key = sep;
    two[1].klen = seplen;
    ct__node_build(root, t->db->page_size, CT_PT_BRANCH, rp, t->id, two, 2);
    tr->root = rp;
    tr->gen = t->id;
    tr->depth++;
    return CT_OK;
}

/* Inserts the branch cell (child, gen, sep) at index `at` of the path's
   branch at `level`, splitting upward as needed. sep must not live in
   t->scratch (t->sepbuf's first half is fine). */
static int insert_branch(ct_txn *t, ct__tree *tr, path *pt, uint32_t level, uint32_t at,
                         uint64_t child, uint64_t gen, const uint8_t *sep, uint32_t seplen,
                         int append)
{
    ct_db *db = t->db;
    int flip = 0;
    for (;;) {
        uint8_t *page = pt->page[level];
        int rc = at >= 1 ? sep_between(page, at - 1u, at, sep, seplen) : CT_OK;
        if (rc != CT_OK) {
            return rc;
        }
        uint8_t *bcell = t->scratch + 2u * db->page_size;
        ct__put64(bcell, child);
        ct__put64(bcell + 8, gen);
        ct__put16(bcell + 16, (uint16_t)seplen);
        memmove(bcell + CT_BRANCH_CELL_FIXED, sep, seplen);
        if (ct__node_insert(page, db->page_size, at, bcell, CT_BRANCH_CELL_FIXED + seplen,
                            t->scratch) == 0) {
            return CT_OK;
        }
        uint32_t n = ct__ph_count(page);
        ct__node_refs(page, t->refs);
        memmove(&t->refs[at + 1], &t->refs[at], (n - at) * sizeof(*t->refs));
        memset(&t->refs[at], 0, sizeof(*t->refs));
        t->refs[at].child = child;
        t->refs[at].gen = gen;
        t->refs[at].key = bcell + CT_BRANCH_CELL_FIXED;
        t->refs[at].klen = seplen;
        flip ^= 1;
        uint8_t *sepbuf = t->sepbuf + (size_t)flip * db->page_size;
        uint64_t right = 0;
        rc = split_build(t, CT_PT_BRANCH, page, t->refs, n + 1, append && at == n, &right, &sep,
                         &seplen, sepbuf);
        if (rc != CT_OK) {
            return rc;
        }
        if (level == 0) {
            return grow_root(t, tr, pt->pgno[0], right, sep, seplen);
        }
        level--;
        at = pt->idx[level] + 1;
        child = right;
        gen = t->id;
    }
}

static int replace_sep(ct_txn *t, uint8_t *parent, uint32_t i, const uint8_t *sep,
                       uint32_t seplen);
static int fix_underflow_from(ct_txn *t, ct__tree *tr, path *pt, uint32_t level);

/* Rebuilds the siblings L and R (R is child ri of pt's parent of `level`)
   from t->refs[0..n), split where their bytes balance, and gives the parent
   R's new first key as separator. *split: the parent split to take a
   longer separator (pt is stale above `level`). */
static int redistribute(ct_txn *t, ct__tree *tr, path *pt, uint32_t level, uint8_t type,
                        uint8_t *L, uint8_t *R, uint32_t ri, uint32_t n, int *split)
{
    ct_db *db = t->db;
    uint8_t *parent = pt->page[level - 1];
    uint32_t s = choose_split(db, type, t->refs, n, 0);
    uint8_t *sepbuf = t->sepbuf;
    uint32_t seplen = 0;
    const uint8_t *first = ref_key(type, &t->refs[s], &seplen); /* R's new first key */
    memmove(sepbuf, first, seplen);
    int rc = sep_between(parent, ri - 1u, ri + 1u, sepbuf, seplen);
    if (rc != CT_OK) {
        return rc;
    }
    uint8_t *lbuf = t->scratch;
    uint8_t *rbuf = t->scratch + db->page_size;
    ct__node_build(lbuf, db->page_size, type, ct__ph_pgno(L), t->id, t->refs, s);
    ct__node_build(rbuf, db->page_size, type, ct__ph_pgno(R), t->id, t->refs + s, n - s);
    memcpy(L, lbuf, db->page_size);
    memcpy(R, rbuf, db->page_size);
    if (replace_sep(t, parent, ri, sepbuf, seplen) == 0) {
        return CT_OK;
    }
    /* The new separator is longer and the parent is full: take the old
       cell out and insert the new one, splitting upward like an insert. */
    const uint8_t *old = ct__node_cell(parent, ri);
    uint64_t child = ct__branch_child(old);
    uint64_t gen = ct__branch_gen(old);
    ct__node_delete(parent, ri);
    *split = 1;
    return insert_branch(t, tr, pt, level - 1, ri, child, gen, sepbuf, seplen, 0);
}

/* Largest cell of leaf p, with its slot. */
static uint32_t leaf_cell_max(const uint8_t *p)
{
    uint32_t n = ct__ph_count(p);
    uint32_t most = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = ct__leaf_cell_bytes(ct__node_cell(p, i));
        most = b > most ? b : most;
    }
    return most + CT_SLOT_BYTES;
}

/* Whether a spill may put the cells of leaves a and b plus one new cell of
   len bytes (total bytes with their slots) into the two pages: they must
   split into two pages that fit, with room left for the next inserts.
   Take the last split point whose left side fits (it is never the end:
   the cells overfill one page): one more cell would overfill the left, so
   the right side holds less than total - cap + the longest cell, which
   fits when the room 2 cap - total is at least the longest cell. A cell
   with its slot takes at most cap/4 (node.h), so up to 2 cap - cap/4 any
   cells split; up to 2 cap - cap/8 only when no cell is longer than the
   room, which small cells meet. The fuller bound packs random inserts
   tighter: test_space's random build went from 75.4% to 77.8% average
   fill, the file after a random fill of 1M keys from 1.46x to 1.41x the
   raw data. */
static int spill_splits(const ct_db *db, uint64_t total, const uint8_t *a, const uint8_t *b,
                        uint32_t len)
{
    uint32_t cap = db->page_size - CT_PAGE_HDR_BYTES;
    if (total <= 2u * (uint64_t)cap - cap / 4u) {
        return 1;
    }
    if (total > 2u * (uint64_t)cap - cap / 8u) {
        return 0;
    }
    uint32_t most = len + CT_SLOT_BYTES;
    uint32_t ma = leaf_cell_max(a);
    uint32_t mb = leaf_cell_max(b);
    most = ma > most ? ma : most;
    most = mb > most ? mb : most;
    return 2u * (uint64_t)cap - total >= most;
}

/* The sibling (index in the parent) with the most free bytes, or -1;
   *page is its (read-only) page. */
static int roomiest_sibling(ct_txn *t, const uint8_t *parent, uint32_t pidx, uint32_t *used,
                            const uint8_t **page)
{
    uint32_t pn = ct__ph_count(parent);
    int best = -1;
    *used = UINT32_MAX;
    for (int d = -1; d <= 1; d += 2) {
        if ((d < 0 && pidx == 0) || (d > 0 && pidx + 1 >= pn)) {
            continue;
        }
        uint32_t i = pidx + (uint32_t)d;
        const uint8_t *c = ct__node_cell(parent, i);
        const uint8_t *p = NULL;
        if (ct__page_get(t, ct__branch_child(c), ct__branch_gen(c), CT_PT_LEAF, &p) != CT_OK) {
            continue; /* a damaged sibling is left to the split path and ct_check */
        }
        uint32_t u = ct__node_used_bytes(p);
        if (u < *used) {
            *used = u;
            best = (int)i;
            *page = p;
        }
    }
    return best;
}

/* B*-style spill: a full leaf (pt's, with the new cell at idx) shares its
   cells with its roomiest sibling instead of splitting, when the two then
   fit (spill_splits). Random inserts then fill pages to ~78% instead
   of ln 2 (docs/bench.md: space after fillrandom), at the price of one
   more dirty page per spill. *done: the cell is in the tree; *split: the
   parent split to take a longer separator (pt is stale). */
static int spill_leaf(ct_txn *t, ct__tree *tr, path *pt, uint32_t idx, const uint8_t *cell,
                      uint32_t len, int *done, int *split)
{
    ct_db *db = t->db;
    uint32_t level = pt->depth - 1;
    *done = 0;
    if (level == 0) {
        return CT_OK;
    }
    uint8_t *parent = pt->page[level - 1];
    uint32_t pidx = pt->idx[level - 1];
    uint8_t *page = pt->page[level];
    uint32_t sib_used = 0;
    const uint8_t *sib_read = NULL;
    int sib = roomiest_sibling(t, parent, pidx, &sib_used, &sib_read);
    if (sib < 0 ||
        !spill_splits(db, (uint64_t)ct__node_used_bytes(page) + CT_SLOT_BYTES + len + sib_used,
                      page, sib_read, len)) {
        return CT_OK;
    }
    uint8_t *sibpage = NULL;
    int rc = touch_child(t, parent, (uint32_t)sib, CT_PT_LEAF, &sibpage);
    if (rc != CT_OK) {
        return rc;
    }
    int left_sib = (uint32_t)sib < pidx;
    uint8_t *L = left_sib ? sibpage : page;
    uint8_t *R = left_sib ? page : sibpage;
    uint32_t ri = left_sib ? pidx : pidx + 1;
    uint32_t ln = ct__ph_count(L);
    uint32_t rn = ct__ph_count(R);
    ct__node_refs(L, t->refs);
    ct__node_refs(R, t->refs + ln);
    uint32_t at = left_sib ? ln + idx : idx; /* the new cell's place among L+R */
    memmove(&t->refs[at + 1], &t->refs[at], (ln + rn - at) * sizeof(*t->refs));
    memset(&t->refs[at], 0, sizeof(*t->refs));
    t->refs[at].raw = cell;
    t->refs[at].len = len;
    uint32_t meet = left_sib ? ln : ln + 1u; /* R's first cell among L+R */
    rc = refs_ordered_at(CT_PT_LEAF, t->refs, ln + rn + 1, meet, meet, ct__ph_pgno(R));
    if (rc != CT_OK) {
        return rc;
    }
    *done = 1;
    int parent_split = 0;
    rc = redistribute(t, tr, pt, level, CT_PT_LEAF, L, R, ri, ln + rn + 1, &parent_split);
    *split = 1;
    if (rc != CT_OK || parent_split) {
        return rc;
    }
    /* A shorter separator may leave the parent under the fill bound. */
    return fix_underflow_from(t, tr, pt, level - 1);
}

/* Inserts the encoded cell at pt's leaf; spills into a sibling or splits
   upward as needed. *split: pt no longer describes the tree's shape. */
static int insert_cell(ct_txn *t, ct__tree *tr, path *pt, uint32_t idx, const uint8_t *cell,
                       uint32_t len, int append, int *split)
{
    ct_db *db = t->db;
    uint32_t level = pt->depth - 1;
    uint8_t *page = pt->page[level];
    *split = 0;
    if (ct__node_insert(page, db->page_size, idx, cell, len, t->scratch) == 0) {
        return CT_OK;
    }
    *split = 1;
    if (!append) {
        int done = 0;
        int rc = spill_leaf(t, tr, pt, idx, cell, len, &done, split);
        if (rc != CT_OK || done) {
            return rc;
        }
    }
    uint32_t n = ct__ph_count(page);
    ct__node_refs(page, t->refs);
    memmove(&t->refs[idx + 1], &t->refs[idx], (n - idx) * sizeof(*t->refs));
    memset(&t->refs[idx], 0, sizeof(*t->refs));
    t->refs[idx].raw = cell;
    t->refs[idx].len = len;
    uint64_t right = 0;
    const uint8_t *sep = NULL;
    uint32_t seplen = 0;
    int rc = split_build(t, CT_PT_LEAF, page, t->refs, n + 1, append && idx == n, &right, &sep,
                         &seplen, t->sepbuf);
    if (rc != CT_OK) {
        return rc;
    }
    if (level == 0) {
        return grow_root(t, tr, pt->pgno[0], right, sep, seplen);
    }
    return insert_branch(t, tr, pt, level - 1, pt->idx[level - 1] + 1, right, t->id, sep, seplen,
                         append);
}

/* Encodes the leaf cell for key/val into the cell scratch buffer, writing
   an overflow run first when the value does not fit inline. */
static int make_leaf_cell(ct_txn *t, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, uint32_t *len)
{
    ct_db *db = t->db;
    uint8_t *cell = t->scratch + 2u * db->page_size;
    if (ct__leaf_cell_size(klen, vlen, 0) <= db->cell_max) {
        ct__leaf_cell_encode(cell, key, klen, val, vlen, 0, 0, 0);
        *len = ct__leaf_cell_size(klen, vlen, 0);
        return CT_OK;
    }
    uint32_t np = ovf_pages(db->page_size, (uint32_t)vlen);
    uint64_t pgno = 0;
    uint8_t *run = NULL;
    int rc = ct__page_new_with(t, np, CT_PT_OVERFLOW, val, vlen, &pgno, &run);
    if (rc != CT_OK) {
        return rc;
    }
    ct__ph_set_upper(run, np);
    ct__put32(run + CT_PH_AUX, (uint32_t)vlen);
    ct__leaf_cell_encode(cell, key, klen, NULL, vlen, 1, pgno, t->id);
    *len = ct__leaf_cell_size(klen, 0, 1);
    return CT_OK;
}

static int free_value(ct_txn *t, const uint8_t *cell)
{
    if (!(ct__leaf_flags(cell) & CT_CELL_OVERFLOW)) {
        return CT_OK;
    }
    const uint8_t *ref = ct__leaf_val(cell);
    return ct__page_free(t, ct__get64(ref), ovf_pages(t->db->page_size, ct__leaf_vlen(cell)),
                         ct__get64(ref + 8));
}

/* Largest key of a tree, for CT_APPEND's promise. */
static int last_key(ct_txn *t, const ct__tree *tr, const uint8_t **key, uint32_t *klen)
{
    uint64_t pgno = tr->root;
    uint64_t gen = tr->gen;
    for (uint32_t level = 0; level < tr->depth; level++) {
        const uint8_t *p = NULL;
        int rc = ct__page_get(t, pgno, gen, level_type(tr, level), &p);
        if (rc != CT_OK) {
            return rc;
        }
        uint32_t n = ct__ph_count(p);
        if (n == 0) {
            return CT_NOTFOUND;
        }
        const uint8_t *c = ct__node_cell(p, n - 1);
        if (level + 1 == tr->depth) {
            *key = ct__leaf_key(c);
            *klen = ct__leaf_klen(c);
            return CT_OK;
        }
        pgno = ct__branch_child(c);
        gen = ct__branch_gen(c);
    }
    return CT_NOTFOUND;
}

static int new_root_leaf(ct_txn *t, ct__tree *tr)
{
    uint8_t *p = NULL;
    uint64_t pgno = 0;
    int rc = ct__page_new(t, 1, CT_PT_LEAF, &pgno, &p);
    if (rc != CT_OK) {
        return rc;
    }
    ct__ph_set_upper(p, t->db->page_size);
    tr->root = pgno;
    tr->gen = t->id;
    tr->depth = 1;
    return CT_OK;
}

static int fix_underflow(ct_txn *t, ct__tree *tr, path *pt);

/* Keeps pt as the txn's append path when it still describes the tree. */
static void note_append_path(ct_txn *t, const ct__tree *tr, const path *pt, int split)
{
    t->append_tree = split ? NULL : tr;
    if (!split) {
        if (pt != &t->append_path) { /* append_on_path passes it: 644 B to skip */
            t->append_path = *pt;
        }
        t->append_seq = t->mod_seq;
    }
}

/* CT_APPEND right after another CT_APPEND to the same tree, with nothing in
   between (mod_seq): the right spine is still dirty and in
   t->append_path, so no descent is needed (LMDB keeps its cursor on the
   last page for MDB_APPEND the same way). */
static int append_on_path(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen,
                          const uint8_t *val, size_t vlen)
{
    path *pt = &t->append_path;
    uint8_t *leaf = pt->page[pt->depth - 1];
    uint32_t n = ct__ph_count(leaf);
    CT_ASSERT(n > 0); /* the previous append left its cell there */
    const uint8_t *last = ct__node_cell(leaf, n - 1);
    if (ct__key_cmp(key, klen, ct__leaf_key(last), ct__leaf_klen(last)) <= 0) {
        return CT_EXISTS;
    }
    uint32_t len = 0;
    int rc = make_leaf_cell(t, key, klen, val, vlen, &len);
    int split = 0;
    if (rc == CT_OK) {
        rc = insert_cell(t, tr, pt, n, t->scratch + 2u * t->db->page_size, len, 1, &split);
    }
    if (rc == CT_OK) {
        tr->entries++;
        note_append_path(t, tr, pt, split);
    }
    return rc;
}

int ct__tree_put(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen, const uint8_t *val,
                 size_t vlen, unsigned flags)
{
    int append = (flags & CT_APPEND) != 0;
    if (append && tr->root != 0 && t->append_tree == tr && t->append_seq + 1u == t->mod_seq) {
        return append_on_path(t, tr, key, klen, val, vlen);
    }
    if (tr->root != 0 && append) {
        /* A key above the last one cannot exist: one descent answers both
           questions. Equal or lower: LMDB's MDB_APPEND answer. */
        const uint8_t *lk = NULL;
        uint32_t lklen = 0;
        int rc = last_key(t, tr, &lk, &lklen);
        if (rc == CT_OK && ct__key_cmp(key, klen, lk, lklen) <= 0) {
            return CT_EXISTS;
        }
        if (rc != CT_OK && rc != CT_NOTFOUND) {
            return rc;
        }
    } else if (tr->root != 0 && (flags & CT_NOOVERWRITE)) {
        const uint8_t *c = NULL;
        int rc = ct__tree_get(t, tr, key, klen, &c);
        if (rc == CT_OK) {
            return CT_EXISTS;
        }
        if (rc != CT_NOTFOUND) {
            return rc;
        }
    }
    int rc = CT_OK;
    if (tr->root == 0) {
        rc = new_root_leaf(t, tr);
        if (rc != CT_OK) {
            return rc;
        }
    }
    path pt;
    rc = cow_path(t, tr, key, klen, append, NULL, &pt);
    if (rc != CT_OK) {
        return rc;
    }
    uint8_t *leaf = pt.page[pt.depth - 1];
    int found = 0;
    uint32_t idx = ct__leaf_search(leaf, key, klen, &found);
    /* Copy the value before freeing the old one: val may point into it. */
    uint32_t len = 0;
    rc = make_leaf_cell(t, key, klen, val, vlen, &len);
    if (rc == CT_OK && found) {
        rc = free_value(t, ct__node_cell(leaf, idx));
        if (rc == CT_OK) {
            ct__node_delete(leaf, idx);
        }
    }
    int split = 0;
    if (rc == CT_OK) {
        rc = insert_cell(t, tr, &pt, idx, t->scratch + 2u * t->db->page_size, len, append,
                         &split);
    }
    if (rc == CT_OK && !found) {
        tr->entries++;
    }
    if (rc == CT_OK && append) {
        note_append_path(t, tr, &pt, split);
    }
    if (rc == CT_OK && found && !split) {
        rc = fix_underflow(t, tr, &pt); /* a smaller value may leave the leaf underfull */
    }
    return rc;
}

/* Replaces parent cell i's separator (child pointer kept). 0 when it fits. */
static int replace_sep(ct_txn *t, uint8_t *parent, uint32_t i, const uint8_t *sep,
                       uint32_t seplen)
{
    ct_db *db = t->db;
    const uint8_t *old = ct__node_cell(parent, i);
    uint32_t old_len = CT_BRANCH_CELL_FIXED + ct__branch_klen(old);
    uint32_t used = ct__node_used_bytes(parent) - old_len + CT_BRANCH_CELL_FIXED + seplen;
    if (used > db->page_size - CT_PAGE_HDR_BYTES) {
        return -1;
    }
    uint8_t *bcell = t->scratch + 2u * db->page_size;
    ct__put64(bcell, ct__branch_child(old));
    ct__put64(bcell + 8, ct__branch_gen(old));
    ct__put16(bcell + 16, (uint16_t)seplen);
    memmove(bcell + CT_BRANCH_CELL_FIXED, sep, seplen);
    ct__node_delete(parent, i);
    int r = ct__node_insert(parent, db->page_size, i, bcell, CT_BRANCH_CELL_FIXED + seplen,
                            t->scratch);
    CT_ASSERT(r == 0);
    return r;
}

/* Merges or rebalances the node at `level` with a sibling. *split: the
   parent split to take a longer separator (pt no longer describes the
   tree above `level`). */
static int rebalance(ct_txn *t, ct__tree *tr, path *pt, uint32_t level, int *split)
{
    ct_db *db = t->db;
    uint8_t *parent = pt->page[level - 1];
    uint32_t pidx = pt->idx[level - 1];
    uint32_t pn = ct__ph_count(parent);
    if (pn < 2) {
        return CT_OK; /* no sibling: the parent itself rebalances one level up */
    }
    uint8_t type = level_type(tr, level);
    uint32_t li = pidx > 0 ? pidx - 1 : 0;
    uint32_t ri = li + 1;
    uint32_t sib = pidx > 0 ? li : ri;
    uint8_t *sibpage = NULL;
    int rc = touch_child(t, parent, sib, type, &sibpage);
    if (rc != CT_OK) {
        return rc;
    }
    uint8_t *L = pidx > 0 ? sibpage : pt->page[level];
    uint8_t *R = pidx > 0 ? pt->page[level] : sibpage;
    uint64_t rpgno = ct__ph_pgno(R);
    uint32_t ln = ct__ph_count(L);
    uint32_t rn = ct__ph_count(R);
    ct__node_refs(L, t->refs);
    ct__node_refs(R, t->refs + ln);
    if (type == CT_PT_BRANCH) { /* R's first child takes the parent's separator */
        const uint8_t *pc = ct__node_cell(parent, ri);
        t->refs[ln].key = ct__branch_key(pc);
        t->refs[ln].klen = ct__branch_klen(pc);
    }
    uint32_t n = ln + rn;
    /* Where L meets R; a branch also has the parent's separator there. */
    rc = refs_ordered_at(type, t->refs, n, ln, type == CT_PT_BRANCH ? ln + 1u : ln, rpgno);
    if (rc != CT_OK) {
        return rc;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += ct__ref_bytes(type, &t->refs[i], i == 0);
    }
    uint8_t *lbuf = t->scratch;
    if (total <= db->page_size - CT_PAGE_HDR_BYTES) { /* merge into L */
        ct__node_build(lbuf, db->page_size, type, ct__ph_pgno(L), t->id, t->refs, n);
        memcpy(L, lbuf, db->page_size);
        ct__node_delete(parent, ri);
        return ct__page_free(t, rpgno, 1, t->id); /* R was touched: dirty */
    }
    return redistribute(t, tr, pt, level, type, L, R, ri, n, split);
}

static int collapse_root(ct_txn *t, ct__tree *tr)
{
    for (;;) {
        uint8_t *root = NULL;
        int rc = ct__page_touch(t, &tr->root, &tr->gen, level_type(tr, 0), &root);
        if (rc != CT_OK) {
            return rc;
        }
        uint32_t n = ct__ph_count(root);
        if (tr->depth == 1 || n == 0) {
            if (n == 0) { /* a branch root too, once its last child went */
                rc = ct__page_free(t, tr->root, 1, tr->gen);
                tr->root = 0;
                tr->gen = 0;
                tr->depth = 0;
            }
            return rc;
        }
        if (n != 1) {
            return CT_OK;
        }
        const uint8_t *c = ct__node_cell(root, 0);
        uint64_t child = ct__branch_child(c);
        uint64_t gen = ct__branch_gen(c);
        rc = ct__page_free(t, tr->root, 1, tr->gen);
        if (rc != CT_OK) {
            return rc;
        }
        tr->root = child;
        tr->gen = gen;
        tr->depth--;
    }
}

/* pt's node at level is the last child of the last child ... of the root. */
static int on_right_spine(const path *pt, uint32_t level)
{
    for (uint32_t l = 0; l < level; l++) {
        if (pt->idx[l] + 1u != ct__ph_count(pt->page[l])) {
            return 0;
        }
    }
    return 1;
}

/* Restores the fill bound bottom-up along pt from `level` after that node
   shrank, then drops root levels left with a single child. A split of a
   parent stops the walk: split halves hold at least min_fill bytes. */
static int fix_underflow_from(ct_txn *t, ct__tree *tr, path *pt, uint32_t from)
{
    for (uint32_t level = from; level > 0; level--) {
        uint32_t n = ct__ph_count(pt->page[level]);
        if (n > 0 && (ct__node_used_at_least(pt->page[level], min_fill(t->db)) ||
                      on_right_spine(pt, level))) {
            break;
        }
        uint8_t *parent = pt->page[level - 1];
        if (n == 0 && ct__ph_count(parent) == 1) {
            /* An emptied only child (the right spine allows single-child
               branches): drop it; the parent, empty now, is next. */
            int rc = ct__page_free(t, pt->pgno[level], 1, t->id); /* touched: dirty */
            if (rc != CT_OK) {
                return rc;
            }
            ct__node_delete(parent, 0);
            continue;
        }
        int split = 0;
        int rc = rebalance(t, tr, pt, level, &split);
        if (rc != CT_OK) {
            return rc;
        }
        if (split) {
            break;
        }
    }
    return collapse_root(t, tr);
}

/* fix_underflow_from pt's leaf. */
static int fix_underflow(ct_txn *t, ct__tree *tr, path *pt)
{
    return fix_underflow_from(t, tr, pt, pt->depth - 1);
}

int ct__tree_del(ct_txn *t, ct__tree *tr, const uint8_t *key, size_t klen)
{
    uint32_t at[CT_DEPTH_MAX];
    const uint8_t *found_leaf = NULL;
    uint32_t idx = 0;
    int rc = find_path(t, tr, key, klen, at, &found_leaf, &idx);
    if (rc != CT_OK) {
        return rc;
    }
    path pt;
    rc = cow_path(t, tr, key, klen, 0, at, &pt);
    if (rc != CT_OK) {
        return rc;
    }
    uint8_t *leaf = pt.page[pt.depth - 1];
    rc = free_value(t, ct__node_cell(leaf, idx));
    if (rc != CT_OK) {
        return rc;
    }
    ct__node_delete(leaf, idx);
    tr->entries--;
    return fix_underflow(t, tr, &pt);
}

int ct__tree_free_all(ct_txn *t, const ct__tree *tr)
{
    if (tr->root == 0) {
        return CT_OK;
    }
    if (tr->depth == 0 || tr->depth > CT_DEPTH_MAX) {
        return CT__CORRUPT(tr->root, "tree depth");
    }
    struct {
        uint64_t pgno;
        uint64_t gen;
        uint32_t idx;
    } st[CT_DEPTH_MAX];
    uint32_t top = 0;
    st[0].pgno = tr->root;
    st[0].gen = tr->gen;
    st[0].idx = 0;
    for (;;) {
        const uint8_t *p = NULL;
        int rc = ct__page_get(t, st[top].pgno, st[top].gen, level_type(tr, top), &p);
        if (rc != CT_OK) {
            return rc;
        }
        uint32_t n = ct__ph_count(p);
        if (top + 1 == tr->depth) {
            for (uint32_t i = 0; i < n && rc == CT_OK; i++) {
                rc = free_value(t, ct__node_cell(p, i));
            }
        } else if (st[top].idx < n) {
            const uint8_t *c = ct__node_cell(p, st[top].idx++);
            top++;
            st[top].pgno = ct__branch_child(c);
            st[top].gen = ct__branch_gen(c);
            st[top].idx = 0;
            continue;
        }
        if (rc == CT_OK) {
            rc = ct__page_free(t, st[top].pgno, 1, st[top].gen);
        }
        if (rc != CT_OK) {
            return rc;
        }
        if (top == 0) {
            return CT_OK;
        }
        top--;
    }
}
