/*
 * test_check.c - ct_check finds deliberate defects. Each test builds a
 * database (three-level tree, free pages, an overflow value, a bucket),
 * then edits the store image the way a bug would leave it and reseals the
 * page CRCs with ct__page_seal, so the defect is structural rather than a
 * checksum failure: a leaked page (the meta's high-water mark bumped; a
 * free-list entry dropped), a page both free and live, a page live twice,
 * keys out of order inside a page and across pages, a wrong separator, a
 * bad overflow run, a wrong entry count, a bad bucket descriptor, a free
 * entry past the end, an underfull page (fill bounds), a live page among
 * the entries a meta carries. ct_check must return CT_CORRUPT with
 * problems > 0, a first_problem text saying what and the page number;
 * after the image is restored the check is clean again. A meta whose
 * entries name a page of the free list's own chain is refused by
 * recovery, which opens the commit before. Also: plain checksum and identity
 * damage, and what a clean report counts. Edits go to the RAM store's
 * bytes (map and read paths), the memory store (peek/poke) and the file
 * (pwrite).
 */
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cowtree/memstore.h"
#include "internal.h"

#define PS 512u
#define NKEYS 3000u

/* Keys "k%07u" of 3*i: fixed length, with gaps between neighbours. */
static void key_of(uint32_t i, char k[9])
{
    snprintf(k, 9, "k%07u", 3u * (i % 1000000u));
}

/* ---- page access with the db open or closed ------------------------------ */

static void pg_read(th_env *e, uint64_t pgno, uint8_t *buf)
{
    if (e->kind == TH_STORE_RAM || e->kind == TH_STORE_RAM_NOMAP) {
        uint8_t *p = th_ram_page(e->ps, pgno);
        assert_non_null(p);
        memcpy(buf, p, PS);
    } else if (e->kind == TH_STORE_FILE) {
        int fd = open(e->path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, PS, (off_t)(pgno * PS)), (ssize_t)PS);
        close(fd);
    } else {
        th_assert_rc(ct_memstore_peek(e->ps, pgno, buf), CT_OK);
    }
}

static void pg_write(th_env *e, uint64_t pgno, const uint8_t *buf)
{
    if (e->kind == TH_STORE_RAM || e->kind == TH_STORE_RAM_NOMAP) {
        uint8_t *p = th_ram_page(e->ps, pgno);
        assert_non_null(p);
        memcpy(p, buf, PS);
    } else if (e->kind == TH_STORE_FILE) {
        int fd = open(e->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, buf, PS, (off_t)(pgno * PS)), (ssize_t)PS);
        close(fd);
    } else {
        th_assert_rc(ct_memstore_poke(e->ps, pgno, buf), CT_OK);
    }
}

/* ---- the fixture ---------------------------------------------------------- */

typedef struct fixture {
    th_env e;
    uint64_t npages;
    uint8_t *image;     /* every page as built */
    uint64_t leaves[2048];
    uint64_t leaf_parent[2048];
    uint32_t leaf_idx[2048];
    size_t nleaves;
    uint64_t root;
    uint32_t depth;
    ct__meta meta;      /* last commit */
    int meta_slot;
    uint64_t *free_pgno; /* the free list's entries on its pages, ascending */
    size_t nfree;
    size_t nfree_total; /* with those the meta carries */
    uint64_t chain[64];
    size_t nchain;
    uint64_t ovf_pgno;   /* the overflow run of key "big" */
    uint32_t ovf_pages;
    uint64_t cat_leaf;   /* catalog root (a leaf) */
} fixture;

static void collect(const th_page_info *pi, void *ctx)
{
    fixture *f = ctx;
    if (pi->leaf && f->nleaves < 2048) {
        f->leaves[f->nleaves] = pi->pgno;
        f->leaf_parent[f->nleaves] = pi->parent_pgno;
        f->leaf_idx[f->nleaves] = pi->parent_idx;
        f->nleaves++;
    }
    if (pi->level == 0) {
        f->root = pi->pgno;
        f->depth = pi->depth;
    }
}

static void save_image(fixture *f)
{
    f->npages = th_env_store_pages(&f->e);
    f->image = realloc(f->image, (size_t)f->npages * PS);
    assert_non_null(f->image);
    for (uint64_t p = 0; p < f->npages; p++) {
        pg_read(&f->e, p, f->image + p * PS);
    }
}

static void restore_image(fixture *f)
{
    for (uint64_t p = 0; p < f->npages; p++) {
        pg_write(&f->e, p, f->image + p * PS);
    }
}

static void fixture_init(fixture *f, th_store_kind kind)
{
    memset(f, 0, sizeof(*f));
    th_env_init(&f->e, kind, PS);
    ct_db *db = f->e.db;
    ct_txn *t = NULL;
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint32_t i = 0; i < NKEYS; i++) {
        char k[9];
        key_of(i, k);
        th_assert_rc(ct_put(t, NULL, k, 8, "value-value", 11, 0), CT_OK);
    }
    uint8_t big[2000];
    th_value_fill(big, sizeof(big), 5);
    th_assert_rc(ct_put(t, NULL, "big", 3, big, sizeof(big), 0), CT_OK);
    ct_bucket *b = NULL;
    th_assert_rc(ct_bucket_open(t, "bucket", CT_CREATE, &b), CT_OK);
    th_assert_rc(ct_put(t, b, "bk", 2, "bv", 2, 0), CT_OK);
    th_assert_rc(ct_commit(t), CT_OK);
    /* Deletes and overwrites leave free pages; two small commits later the
       tree pages we edit are older than the newest commit's durable base,
       so opening the store does not validate them (reads and the checker
       meet the damage). */
    th_assert_rc(ct_begin(db, 0, &t), CT_OK);
    for (uint32_t i = 0; i < NKEYS; i += 7) {
        char k[9];
        key_of(i, k);
        th_assert_rc(ct_put(t, NULL, k, 8, "v2", 2, 0), CT_OK);
    }
    th_assert_rc(ct_commit(t), CT_OK);
    th_put1(db, "zzz", 3, "1", 1);
    th_put1(db, "zzz", 3, "2", 1);
    th_check_clean(db);
    th_walk_tree(db, NULL, collect, f);
    assert_true(f->depth >= 3);
    assert_true(f->nleaves > 100);
    th_assert_rc(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    f->meta = t->meta;
    const uint8_t *cell = NULL;
    th_assert_rc(ct__tree_get(t, &t->meta.main, (const uint8_t *)"big", 3, &cell), CT_OK);
    assert_true(ct__leaf_flags(cell) & CT_CELL_OVERFLOW);
    f->ovf_pgno = ct__get64(ct__leaf_val(cell));
    f->ovf_pages = (uint32_t)((CT_PAGE_HDR_BYTES + sizeof(big) + PS - 1) / PS);
    assert_int_equal(t->meta.catalog.depth, 1);
    f->cat_leaf = t->meta.catalog.root;
    ct_abort(t);
    pthread_mutex_lock(&db->mu);
    f->meta_slot = db->meta_slot;
    /* The entries on chain pages (the defects edit those pages); the
       meta carries the others. */
    f->nfree = 0;
    f->nfree_total = db->free.count;
    f->free_pgno = malloc((db->free.count + 1) * sizeof(uint64_t));
    assert_non_null(f->free_pgno);
    for (size_t i = 0; i < db->free.count; i++) {
        if (db->free.v[i].home != CT__NO_HOME) {
            f->free_pgno[f->nfree++] = db->free.v[i].pgno;
        }
    }
    f->nchain = db->free.chain_count;
    assert_true(f->nchain <= 64);
    memcpy(f->chain, db->free.chain, f->nchain * sizeof(uint64_t));
    pthread_mutex_unlock(&db->mu);
    assert_true(f->nfree > 10);
    assert_true(f->nchain > 0);
    assert_true(f->meta.free_inline > 0); /* the single puts' frees */
    assert_int_equal(f->meta.txnid % 2, (uint64_t)f->meta_slot);
    save_image(f);
}

static void fixture_free(fixture *f)
{
    th_env_destroy(&f->e);
    free(f->image);
    free(f->free_pgno);
}

/* ct_check must report CT_CORRUPT, at least one problem, a first problem
   whose text contains `what` (NULL: any) and, unless pgno is UINT64_MAX,
   at page pgno. */
static void expect_problem(ct_db *db, const char *defect, const char *what, uint64_t pgno)
{
    ct_check_report r;
    int rc = ct_check(db, &r);
    print_message("  %-34s -> %s, %llu problem(s), first: \"%s\"\n", defect, ct_errname(rc),
                  (unsigned long long)r.problems, r.first_problem);
    th_assert_rc(rc, CT_CORRUPT);
    assert_true(r.problems > 0);
    assert_true(strlen(r.first_problem) > 0);
    if (what && !strstr(r.first_problem, what)) {
        print_error("%s: first problem \"%s\" does not mention \"%s\"\n", defect, r.first_problem,
                    what);
        fail();
    }
    if (pgno != UINT64_MAX) {
        if (r.first_problem_pgno != pgno) {
            print_error("%s: first problem at page %llu, expected %llu\n", defect,
                        (unsigned long long)r.first_problem_pgno, (unsigned long long)pgno);
        }
        assert_int_equal(r.first_problem_pgno, pgno);
    }
}

/* The newest meta, decoded, changed by fn, re-encoded (sealed) in place. */
static void edit_meta(fixture *f, void (*fn)(ct__meta *m, void *arg), void *arg)
{
    uint8_t p[PS];
    pg_read(&f->e, (uint64_t)f->meta_slot, p);
    ct__meta m;
    th_assert_rc(ct__meta_decode(p, PS, f->meta_slot, &m), CT_OK);
    fn(&m, arg);
    ct__meta_encode(&m, p, PS, f->meta_slot);
    pg_write(&f->e, (uint64_t)f->meta_slot, p);
}

static void bump_hwm(ct__meta *m, void *arg)
{
    (void)arg;
    m->hwm++;
}

static void drop_one_free(ct__meta *m, void *arg)
{
    (void)arg;
    m->free_count--;
}

static void bump_entries(ct__meta *m, void *arg)
{
    (void)arg;
    m->main.entries++;
}

static void reopen_on_image(fixture *f)
{
    th_env_close(&f->e);
    th_assert_rc(th_env_open(&f->e), CT_OK);
}

/* Locates free entry `idx` (in pgno order) in the chain: page and offset
   of the entry (chain pages list entries in any order, docs/format.md). */
static void free_entry_at(fixture *f, size_t idx, uint64_t *page, uint32_t *off)
{
    for (size_t c = 0; c < f->nchain; c++) {
        uint8_t p[PS];
        pg_read(&f->e, f->chain[c], p);
        for (uint32_t i = 0; i < ct__ph_count(p); i++) {
            uint32_t at = CT_PAGE_HDR_BYTES + 16u + i * 16u;
            if (ct__get64(p + at) == f->free_pgno[idx]) {
                *page = f->chain[c];
                *off = at;
                return;
            }
        }
    }
    fail_msg("free entry %zu (page %llu) is on no chain page", idx,
             (unsigned long long)f->free_pgno[idx]);
}

/* ---- defects -------------------------------------------------------------- */

/* A leaked page: the newest meta's high-water mark is one higher (resealed
   meta), so the page past the old end is neither live nor free. Also with
   the edit made through pwrite on the file store. */
static void defect_leak_hwm(fixture *f)
{
    edit_meta(f, bump_hwm, NULL);
    /* The store must reach the new mark: recovery rejects a meta whose
       mark lies past the end of the store (and falls back a commit). */
    uint8_t zero[PS];
    memset(zero, 0, sizeof(zero));
    if (f->e.kind == TH_STORE_FILE) {
        pg_write(&f->e, f->meta.hwm, zero);
    } else {
        th_assert_rc(f->e.ps->ops->write(f->e.ps, f->meta.hwm, 1, zero), CT_OK);
    }
    reopen_on_image(f);
    expect_problem(f->e.db, "leaked page (hwm + 1)", "leaked", f->meta.hwm);
    restore_image(f);
    reopen_on_image(f);
}

/* A leaked page: the last free-list entry removed (its chain page's count
   and the meta's free count lowered, both resealed). */
static void defect_leak_free_entry(fixture *f)
{
    uint64_t page = 0;
    uint32_t off = 0;
    free_entry_at(f, f->nfree - 1, &page, &off);
    uint8_t p[PS];
    pg_read(&f->e, page, p);
    uint64_t lost = ct__get64(p + off);
    assert_int_equal(lost, f->free_pgno[f->nfree - 1]);
    uint32_t last = CT_PAGE_HDR_BYTES + 16u + (ct__ph_count(p) - 1u) * 16u;
    memmove(p + off, p + last, 16); /* the page's last entry takes its place */
    ct__ph_set_count(p, (uint16_t)(ct__ph_count(p) - 1));
    ct__page_seal(p, PS);
    pg_write(&f->e, page, p);
    edit_meta(f, drop_one_free, NULL);
    reopen_on_image(f);
    expect_problem(f->e.db, "leaked page (free entry dropped)", "leaked", lost);
    restore_image(f);
    reopen_on_image(f);
}

/* A page both free and live: a free-list entry replaced (in order) by the
   number of a live leaf, chain page resealed. */
static void defect_free_and_live(fixture *f)
{
    /* A live leaf strictly between two neighbouring free entries. */
    size_t at = SIZE_MAX;
    uint64_t leaf = 0;
    for (size_t l = 0; l < f->nleaves && at == SIZE_MAX; l++) {
        for (size_t i = 1; i + 1 < f->nfree; i++) {
            if (f->free_pgno[i - 1] < f->leaves[l] && f->leaves[l] < f->free_pgno[i + 1]) {
                at = i;
                leaf = f->leaves[l];
                break;
            }
        }
    }
    assert_true(at != SIZE_MAX);
    uint64_t page = 0;
    uint32_t off = 0;
    free_entry_at(f, at, &page, &off);
    uint8_t p[PS];
    pg_read(&f->e, page, p);
    ct__put64(p + off, leaf);
    ct__page_seal(p, PS);
    pg_write(&f->e, page, p);
    expect_problem(f->e.db, "page both free and live", "twice", leaf);
    restore_image(f);
}

/* Closes the db, puts the saved image back, edits its newest meta (which
   is meta_slot's there: a reopen writes a fence into the other slot) and
   opens the db on it. */
static void open_on_edited_meta(fixture *f, void (*fn)(ct__meta *m, void *arg), void *arg)
{
    th_env_close(&f->e);
    restore_image(f);
    edit_meta(f, fn, arg);
    th_assert_rc(th_env_open(&f->e), CT_OK);
}

static void meta_entry_to_leaf(ct__meta *m, void *arg)
{
    m->free_inline_pgno[0] = *(const uint64_t *)arg;
}

static void meta_entry_to_chain_head(ct__meta *m, void *arg)
{
    (void)arg;
    m->free_inline_pgno[0] = m->free_head;
}

/* A meta whose entries name the free list's own first page (resealed):
   a writer would hand that page out while it holds the list. Recovery
   refuses that commit (CT_CORRUPT at the page) and opens the one before;
   the other slot's commit checks clean. */
static void defect_meta_lists_chain_page(fixture *f)
{
    open_on_edited_meta(f, meta_entry_to_chain_head, NULL);
    struct ct_stat st;
    th_assert_rc(ct_stat(f->e.db, &st), CT_OK);
    print_message("  %-34s -> commit %llu rejected at page %llu, opened %llu\n",
                  "meta lists its chain's page", (unsigned long long)st.rejected_txnid,
                  (unsigned long long)st.rejected_pgno, (unsigned long long)st.txnid);
    assert_int_equal(st.rejected_txnid, f->meta.txnid);
    assert_int_equal(st.rejected_pgno, f->meta.free_head);
    th_check_clean(f->e.db);
    restore_image(f);
    reopen_on_image(f);
}

/* A page both free and live, the entry in the meta: its first entry
   replaced by a live leaf's number (meta resealed). */
static void defect_meta_entry_live(fixture *f)
{
    uint64_t leaf = f->leaves[f->nleaves / 2];
    open_on_edited_meta(f, meta_entry_to_leaf, &leaf);
    expect_problem(f->e.db, "meta's free entry live", "twice", leaf);
    restore_image(f);
    reopen_on_image(f);
}

/* A page live twice: a branch's cell i+1 made to point at the same child
   (and generation) as cell i; the branch resealed. */
static void defect_live_twice(fixture *f)
{
    uint64_t parent = f->leaf_parent[10];
    uint8_t p[PS];
    pg_read(&f->e, parent, p);
    uint32_t n = ct__ph_count(p);
    assert_true(n >= 2);
    const uint8_t *c0 = ct__node_cell(p, 0);
    uint8_t *c1 = (uint8_t *)ct__node_cell(p, 1);
    uint64_t child = ct__branch_child(c0);
    ct__branch_set_child(c1, child, ct__branch_gen(c0));
    ct__page_seal(p, PS);
    pg_write(&f->e, parent, p);
    /* Reported as keys outside the separators or as a page used twice,
       whichever the walk meets first; the page is the shared child. */
    expect_problem(f->e.db, "page live twice", NULL, child);
    restore_image(f);
}

/* Keys out of order inside a leaf: two slots swapped, leaf resealed. */
static void defect_order_in_page(fixture *f)
{
    uint64_t leaf = f->leaves[20];
    uint8_t p[PS];
    pg_read(&f->e, leaf, p);
    uint8_t *slots = p + CT_PAGE_HDR_BYTES;
    uint8_t a[CT_SLOT_BYTES];
    memcpy(a, slots + CT_SLOT_BYTES, CT_SLOT_BYTES);
    memmove(slots + CT_SLOT_BYTES, slots + 2 * CT_SLOT_BYTES, CT_SLOT_BYTES);
    memcpy(slots + 2 * CT_SLOT_BYTES, a, CT_SLOT_BYTES);
    ct__page_seal(p, PS);
    pg_write(&f->e, leaf, p);
    expect_problem(f->e.db, "keys out of order in a page", "structure", leaf);
    restore_image(f);
}

/* Rewrites the last key of leaf (8 bytes) to key, which keeps it the
   largest in its page (the page itself stays valid), and expects ct_check
   to find the leaf outside its separators. */
static void last_key_becomes(fixture *f, uint64_t leaf, const uint8_t *key, const char *defect)
{
    uint8_t p[PS];
    pg_read(&f->e, leaf, p);
    uint8_t *c = (uint8_t *)ct__node_cell(p, ct__ph_count(p) - 1);
    assert_int_equal(ct__leaf_klen(c), 8);
    memcpy(c + CT_LEAF_CELL_FIXED, key, 8);
    ct__node_reprefix(p);
    ct__page_seal(p, PS);
    th_assert_rc(ct__node_validate(p, PS, ct__key_max_bytes(PS)), CT_OK);
    pg_write(&f->e, leaf, p);
    expect_problem(f->e.db, defect, "separators", leaf);
    restore_image(f);
}

/* Keys out of order across pages: the last key of a leaf rewritten to
   "k9999999" (still the largest in its page, so the page itself is valid)
   is above the separator of the next leaf. */
static void defect_order_across_pages(fixture *f)
{
    last_key_becomes(f, f->leaves[30], (const uint8_t *)"k9999999",
                     "keys out of order across pages");
}

/* A leaf's last key rewritten to exactly the separator in front of the
   next leaf (still the largest in its page): that key belongs to the next
   leaf, where a lookup goes and misses it. */
static void defect_key_at_next_separator(fixture *f)
{
    size_t l = 30;
    while (f->leaf_idx[l + 1] == 0 || f->leaf_parent[l + 1] != f->leaf_parent[l]) {
        l++; /* the next leaf's separator is in the same parent */
    }
    uint8_t parent[PS];
    pg_read(&f->e, f->leaf_parent[l + 1], parent);
    const uint8_t *sep = ct__node_cell(parent, f->leaf_idx[l + 1]);
    assert_int_equal(ct__branch_child(sep), f->leaves[l + 1]);
    assert_int_equal(ct__branch_klen(sep), 8);
    last_key_becomes(f, f->leaves[l], sep + CT_BRANCH_CELL_FIXED,
                     "key equal to the next separator");
}

/* A wrong separator: the separator in front of a leaf raised by one (it
   stays between its neighbours, so the branch itself is valid), so the
   leaf's first key falls below it. */
static void defect_wrong_separator(fixture *f)
{
    size_t l = 40;
    while (f->leaf_idx[l] == 0) {
        l++; /* a leaf that has a separator in front of it */
    }
    uint64_t parent = f->leaf_parent[l];
    uint8_t p[PS];
    pg_read(&f->e, parent, p);
    uint8_t *c = (uint8_t *)ct__node_cell(p, f->leaf_idx[l]);
    assert_int_equal(ct__branch_child(c), f->leaves[l]);
    assert_int_equal(ct__branch_klen(c), 8);
    uint8_t *key = c + CT_BRANCH_CELL_FIXED;
    key[7]++; /* "k0001233" -> "k0001234": between this key and the next */
    ct__node_reprefix(p);
    ct__page_seal(p, PS);
    th_assert_rc(ct__node_validate(p, PS, ct__key_max_bytes(PS)), CT_OK);
    pg_write(&f->e, parent, p);
    expect_problem(f->e.db, "wrong separator", "separators", f->leaves[l]);
    restore_image(f);
}

/* A bad overflow run: its header's value length changed and the whole run
   resealed (CRC fine), so it no longer matches its reference. */
static void defect_overflow_run(fixture *f)
{
    size_t bytes = (size_t)f->ovf_pages * PS;
    uint8_t *run = malloc(bytes);
    assert_non_null(run);
    for (uint32_t i = 0; i < f->ovf_pages; i++) {
        pg_read(&f->e, f->ovf_pgno + i, run + (size_t)i * PS);
    }
    th_assert_rc(ct__page_verify(run, bytes, CT_PT_OVERFLOW, f->ovf_pgno, ct__ph_txnid(run)),
                 CT_OK);
    ct__put32(run + CT_PH_AUX, ct__ph_aux(run) - 1);
    ct__page_seal(run, bytes);
    for (uint32_t i = 0; i < f->ovf_pages; i++) {
        pg_write(&f->e, f->ovf_pgno + i, run + (size_t)i * PS);
    }
    free(run);
    expect_problem(f->e.db, "bad overflow run", "overflow", UINT64_MAX);
    restore_image(f);
}

/* A wrong entry count: the newest meta says one entry more than the tree
   holds (meta resealed). */
static void defect_entry_count(fixture *f)
{
    edit_meta(f, bump_entries, NULL);
    reopen_on_image(f);
    expect_problem(f->e.db, "wrong entry count", "entry count", f->root);
    restore_image(f);
    reopen_on_image(f);
}

static void lower_buckets(ct__meta *m, void *arg)
{
    (void)arg;
    m->buckets--;
}

static void raise_buckets(ct__meta *m, void *arg)
{
    (void)arg;
    m->buckets++;
}

static void raise_catalog_entries(ct__meta *m, void *arg)
{
    (void)arg;
    m->catalog.entries++;
}

/* The meta's bucket count one below and one above the catalog's buckets,
   and the catalog's entry count one above its tree (meta resealed). Each
   edit is opened on the image as saved: a reopen writes a fence meta into
   the other slot, newer than the one edit_meta edits, and restoring the
   image takes it away again. */
static void defect_catalog_counts(fixture *f)
{
    static const struct {
        void (*edit)(ct__meta *, void *);
        const char *defect;
        const char *what;
    } cases[] = {
        {lower_buckets, "bucket count lowered", "bucket count"},
        {raise_buckets, "bucket count raised", "bucket count"},
        {raise_catalog_entries, "catalog entry count raised", "entry count"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        edit_meta(f, cases[i].edit, NULL);
        reopen_on_image(f);
        expect_problem(f->e.db, cases[i].defect, cases[i].what, f->cat_leaf);
        restore_image(f);
    }
    reopen_on_image(f);
}

/* A bad bucket descriptor: the catalog's descriptor gets root page 1 (a
   meta slot), catalog leaf resealed. */
static void defect_bucket_descriptor(fixture *f)
{
    uint8_t p[PS];
    pg_read(&f->e, f->cat_leaf, p);
    assert_int_equal(ct__ph_count(p), 1);
    uint8_t *c = (uint8_t *)ct__node_cell(p, 0);
    assert_int_equal(ct__leaf_vlen(c), CT_BUCKET_DESC_BYTES);
    ct__put64(c + CT_LEAF_CELL_FIXED + ct__leaf_klen(c), 1);
    ct__page_seal(p, PS);
    pg_write(&f->e, f->cat_leaf, p);
    expect_problem(f->e.db, "bad bucket descriptor", "bucket", f->cat_leaf);
    restore_image(f);
    /* An empty tree (root 0, depth 0) that counts entries. */
    pg_read(&f->e, f->cat_leaf, p);
    c = (uint8_t *)ct__node_cell(p, 0);
    uint8_t *desc = c + CT_LEAF_CELL_FIXED + ct__leaf_klen(c);
    assert_true(ct__get64(desc + 24) > 0);
    ct__put64(desc, 0);
    ct__put32(desc + 16, 0);
    ct__page_seal(p, PS);
    pg_write(&f->e, f->cat_leaf, p);
    expect_problem(f->e.db, "entries in an empty bucket", "bucket", f->cat_leaf);
    restore_image(f);
}

/* A catalog key that is no bucket name (a NUL byte inside it), resealed:
   ct_bucket_list refuses it, so the check must too. */
static void defect_catalog_name(fixture *f)
{
    uint8_t p[PS];
    pg_read(&f->e, f->cat_leaf, p);
    uint8_t *c = (uint8_t *)ct__node_cell(p, 0);
    assert_true(ct__leaf_klen(c) >= 2);
    c[CT_LEAF_CELL_FIXED + 1] = 0;
    ct__page_seal(p, PS);
    pg_write(&f->e, f->cat_leaf, p);
    expect_problem(f->e.db, "catalog key with a NUL byte", "bucket name", f->cat_leaf);
    restore_image(f);
}

/* A meta page that rotted in place after it was read: the next open
   would fall back to the other slot's commit without a word, so the
   check reads both slots as stored. */
static void defect_meta_rot(fixture *f)
{
    for (int slot = 0; slot < 2; slot++) {
        uint8_t p[PS];
        pg_read(&f->e, (uint64_t)slot, p);
        p[100] ^= 0x01;
        pg_write(&f->e, (uint64_t)slot, p);
        expect_problem(f->e.db, slot == f->meta_slot ? "rotted live meta" : "rotted older meta",
                       "meta page", (uint64_t)slot);
        restore_image(f);
    }
}

/* A free-list entry past the high-water mark (order kept, resealed). */
static void defect_free_past_end(fixture *f)
{
    uint64_t page = 0;
    uint32_t off = 0;
    free_entry_at(f, f->nfree - 1, &page, &off);
    uint8_t p[PS];
    pg_read(&f->e, page, p);
    ct__put64(p + off, f->meta.hwm + 5);
    ct__page_seal(p, PS);
    pg_write(&f->e, page, p);
    expect_problem(f->e.db, "free entry past the end", "free", UINT64_MAX);
    restore_image(f);
}

static void lower_entries(ct__meta *m, void *arg)
{
    m->main.entries -= *(const uint32_t *)arg;
}

/* An underfull page (fill bounds, which ct_check promises to verify): a
   leaf cut down to its first cell (a few dozen bytes, under a quarter of
   the page), resealed, with the meta's entry count lowered to match, so
   nothing but the fill is wrong. */
static void defect_underfull_leaf(fixture *f)
{
    uint64_t leaf = f->leaves[60];
    uint8_t p[PS];
    pg_read(&f->e, leaf, p);
    uint32_t n = ct__ph_count(p);
    assert_true(n > 4);
    ct__ph_set_count(p, 1);
    ct__page_seal(p, PS);
    th_assert_rc(ct__node_validate(p, PS, ct__key_max_bytes(PS)), CT_OK);
    assert_true(ct__node_used_bytes(p) < (PS - CT_PAGE_HDR_BYTES) / 4u);
    pg_write(&f->e, leaf, p);
    uint32_t removed = n - 1;
    edit_meta(f, lower_entries, &removed);
    reopen_on_image(f);
    expect_problem(f->e.db, "underfull leaf (fill bound)", NULL, leaf);
    restore_image(f);
    reopen_on_image(f);
}

/* Not structural, for completeness: a flipped bit (no reseal) and a leaf
   overwritten by another leaf (misdirected write) are reported too. */
static void defect_checksum_and_identity(fixture *f)
{
    uint64_t leaf = f->leaves[50];
    uint8_t p[PS];
    pg_read(&f->e, leaf, p);
    p[PS - 3] ^= 0x10;
    pg_write(&f->e, leaf, p);
    expect_problem(f->e.db, "flipped bit in a leaf", "checksum", leaf);
    restore_image(f);
    pg_read(&f->e, f->leaves[51], p);
    pg_write(&f->e, leaf, p);
    expect_problem(f->e.db, "misdirected leaf", "identity", leaf);
    restore_image(f);
}

static void run_defects(th_store_kind kind)
{
    fixture f;
    fixture_init(&f, kind);
    print_message(" %s: depth %u, %zu leaves, %zu free pages in %zu chain pages, hwm %llu\n",
                  th_store_name(kind), f.depth, f.nleaves, f.nfree, f.nchain,
                  (unsigned long long)f.meta.hwm);
    void (*defects[])(fixture *) = {
        defect_leak_hwm,         defect_leak_free_entry,   defect_free_and_live,
        defect_live_twice,       defect_order_in_page,     defect_order_across_pages,
        defect_wrong_separator,  defect_overflow_run,      defect_entry_count,
        defect_bucket_descriptor, defect_free_past_end,     defect_checksum_and_identity,
        defect_underfull_leaf,   defect_meta_entry_live,   defect_meta_lists_chain_page,
        defect_catalog_name,     defect_meta_rot,          defect_key_at_next_separator,
        defect_catalog_counts,
    };
    for (size_t i = 0; i < sizeof(defects) / sizeof(defects[0]); i++) {
        defects[i](&f);
        th_check_clean(f.e.db); /* the restored image is clean again */
    }
    fixture_free(&f);
}

static void test_defects_ram(void **state)
{
    (void)state;
    run_defects(TH_STORE_RAM);
}

static void test_defects_ram_nomap(void **state)
{
    (void)state;
    run_defects(TH_STORE_RAM_NOMAP);
}

static void test_defects_memstore(void **state)
{
    (void)state;
    run_defects(TH_STORE_MEM_NOMAP);
}

/* On the file store, edited with pwrite: a leaked page (hwm + 1) and a
   wrong separator are reported; the restored file checks clean. */
static void test_defects_file(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, TH_STORE_FILE);
    defect_leak_hwm(&f);
    th_check_clean(f.e.db);
    defect_wrong_separator(&f);
    th_check_clean(f.e.db);
    defect_free_and_live(&f);
    th_check_clean(f.e.db);
    fixture_free(&f);
}

/* A clean report accounts for every page: meta + branch + leaf + overflow +
   free-list + free = pages_total, with the exact counts of a walk; entries
   and buckets as written; ct_check never writes to the store. */
static void test_clean_report_counts(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, TH_STORE_RAM);
    ct_check_report r;
    th_ram_stats s0;
    th_ram_stats s1;
    th_ram_get_stats(f.e.ps, &s0);
    th_assert_rc(ct_check(f.e.db, &r), CT_OK);
    th_ram_get_stats(f.e.ps, &s1);
    assert_int_equal(s1.writes, s0.writes);
    assert_int_equal(s1.syncs, s0.syncs);
    assert_int_equal(r.problems, 0);
    assert_string_equal(r.first_problem, "");
    assert_int_equal(r.pages_total, f.meta.hwm);
    assert_int_equal(r.pages_meta, 2);
    assert_int_equal(r.pages_free, f.nfree_total);
    assert_int_equal(r.pages_freelist, f.nchain);
    assert_int_equal(r.pages_overflow, f.ovf_pages);
    assert_int_equal(r.entries, NKEYS + 3); /* keys, big, zzz, and the bucket's bk */
    assert_int_equal(r.buckets, 1);
    /* Leaves of the main tree + the catalog leaf + the bucket's leaf. */
    assert_int_equal(r.pages_leaf, f.nleaves + 2);
    assert_int_equal(r.pages_meta + r.pages_branch + r.pages_leaf + r.pages_overflow +
                         r.pages_freelist + r.pages_free,
                     r.pages_total);
    struct ct_stat st;
    th_assert_rc(ct_stat(f.e.db, &st), CT_OK);
    assert_int_equal(st.pages_total, r.pages_total);
    assert_int_equal(st.pages_free, r.pages_free);
    assert_int_equal(st.depth, f.depth);
    assert_int_equal(st.entries, NKEYS + 2);
    fixture_free(&f);
}

/* ---- ct_check beside commits ------------------------------------------ */

/* A memory store that parks one thread's first free-list read until
   released, so commits of another thread run while ct_check is mid-way. */
typedef struct parking_store {
    th_fwd_store fwd;
    atomic_int armed;
    atomic_int parked;
    atomic_int release;
} parking_store;

static _Thread_local int parks_here;

static int pk_read(ct_pagestore *ps, uint64_t p, uint32_t n, void *b)
{
    parking_store *s = (parking_store *)ps;
    int rc = th_fwd_read(ps, p, n, b);
    if (rc == CT_OK && parks_here && ct__ph_type(b) == CT_PT_FREELIST &&
        atomic_exchange(&s->armed, 0)) {
        atomic_store(&s->parked, 1);
        struct timespec ms = {0, 1000000};
        while (!atomic_load(&s->release)) {
            nanosleep(&ms, NULL);
        }
        rc = th_fwd_read(ps, p, n, b); /* reads what is there now */
    }
    return rc;
}
static const ct_pagestore_ops pk_ops = {pk_read,       th_fwd_write, th_fwd_sync, th_fwd_size,
                                        th_fwd_resize, th_fwd_close, NULL,        NULL};

typedef struct check_arg {
    ct_db *db;
    ct_check_report rep;
    int rc;
} check_arg;

static void *parked_check(void *p)
{
    check_arg *a = p;
    parks_here = 1;
    a->rc = ct_check(a->db, &a->rep);
    return NULL;
}

static void put_or_del(ct_db *db, int i, int del)
{
    char k[16];
    char v[900]; /* about four a leaf */
    snprintf(k, sizeof(k), "k%05d", i);
    memset(v, 'x', sizeof(v));
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    int rc = del ? ct_del(t, NULL, k, strlen(k)) : ct_put(t, NULL, k, strlen(k), v, sizeof(v), 0);
    assert_int_equal(rc, CT_OK);
    assert_int_equal(ct_commit(t), CT_OK);
}

/* ct_check reads the free list of its snapshot while other threads
   commit: later commits drop that list's pages, and must not reuse them
   while the check's snapshot lives (readers pin them as they pin tree
   pages). Every durability mode; the check must find nothing. */
static void test_check_beside_commits(void **state)
{
    (void)state;
    const int modes[] = {CT_SYNC_FULL, CT_SYNC_NONE, CT_SYNC_GROUP};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        parking_store *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        ct_memstore_options mo;
        ct_memstore_options_init(&mo);
        mo.enable_map = 0; /* every page through read(), where the store parks */
        ct_pagestore *inner = NULL;
        assert_int_equal(ct_memstore_create(&mo, &inner), CT_OK);
        th_fwd_init(&s->fwd, &pk_ops, inner);
        ct_options o;
        ct_options_init(&o);
        o.durability = modes[m];
        ct_db *db = NULL;
        assert_int_equal(ct_open(&s->fwd.base, &o, &db), CT_OK);
        for (int i = 0; i < 400; i++) {
            put_or_del(db, i, 0);
        }
        /* Half the keys in one txn: it frees more entries than a meta
           carries, so the free list has pages for the check to read. */
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 400; i += 2) {
            char k[16];
            snprintf(k, sizeof(k), "k%05d", i);
            assert_int_equal(ct_del(t, NULL, k, strlen(k)), CT_OK);
        }
        assert_int_equal(ct_commit(t), CT_OK);
        struct ct_stat st;
        assert_int_equal(ct_stat(db, &st), CT_OK);
        assert_true(st.free_list_pages > 0);
        atomic_store(&s->armed, 1);
        check_arg a = {.db = db};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, parked_check, &a), 0);
        struct timespec ms = {0, 1000000};
        for (int i = 0; i < 5000 && !atomic_load(&s->parked); i++) {
            nanosleep(&ms, NULL);
        }
        int parked = atomic_load(&s->parked);
        /* Commits that drop the list's pages and take every free page,
           the dropped ones too once the slots let them. */
        for (int i = 0; i < 64; i++) {
            put_or_del(db, 1000 + i, 0);
        }
        atomic_store(&s->release, 1);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(parked);
        if (a.rc != CT_OK || a.rep.problems != 0) {
            print_error("durability %d: %s, %llu problems: %s\n", modes[m], ct_errname(a.rc),
                        (unsigned long long)a.rep.problems, a.rep.first_problem);
        }
        assert_int_equal(a.rc, CT_OK);
        assert_int_equal(a.rep.problems, 0);
        th_check_clean(db);
        ct_close(db);
        inner->ops->close(inner);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_report_counts),
        cmocka_unit_test(test_defects_ram),
        cmocka_unit_test(test_defects_ram_nomap),
        cmocka_unit_test(test_defects_memstore),
        cmocka_unit_test(test_defects_file),
        cmocka_unit_test(test_check_beside_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
