/*
 * test_fs_mapwrite.c - the file store's rewrites through a writable
 * mapping (ct_filestore_options.map_writes, pagestore/file/mapwrite.c)
 * through its public surface: the vtable, ct_filestore_mapped_pages and
 * the file's bytes read back with pread. A page goes through the mapping
 * only when the store wrote it with pwrite since the last sync or resize,
 * below the file's end, as a tree page; what it writes is what pwrite
 * would have written, and survives close and reopen.
 *
 * The file system must be one the store maps writes on (ext2/3/4, XFS,
 * tmpfs): the tests run in the build tree when it is one and else in
 * /dev/shm, and fail when neither is.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/filestore.h"
#include "cowtree/memstore.h"

#ifndef COWTREE_TEST_TMPDIR
#define COWTREE_TEST_TMPDIR "/tmp"
#endif

#define PS 4096u

static char path[512];

/* pwritev as the store's default syscalls reach it (a syscall table would
   turn the writable mapping off): this executable's definition comes
   before libc's, as test_fs_open's flock does. The next pwritev_fail
   calls fail with EIO; the others make the system call, its offset in
   two halves as libc passes it. */
static int pwritev_fail;
ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (pwritev_fail > 0) {
        pwritev_fail--;
        errno = EIO;
        return -1;
    }
    return (ssize_t)syscall(SYS_pwritev, fd, iov, iovcnt, (long)off,
                            (long)((uint64_t)off >> 32));
}

/* A directory on a file system the store maps writes on, or NULL. */
static const char *mappable_dir(void)
{
    static const char *const dirs[] = {COWTREE_TEST_TMPDIR, "/dev/shm"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        struct statfs st;
        if (statfs(dirs[i], &st) != 0) {
            continue;
        }
        unsigned long t = (unsigned long)st.f_type;
        if (t == 0xEF53u || t == 0x58465342u || t == 0x01021994u) {
            return dirs[i];
        }
    }
    return NULL;
}

static ct_pagestore *open_at(const ct_filestore_options *o)
{
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(path, o, &ps), CT_OK);
    return ps;
}

/* Opens the file at path again, with these two options. */
static ct_pagestore *reopen(int map_writes, int enable_map)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS;
    o.map_writes = map_writes;
    o.enable_map = enable_map;
    return open_at(&o);
}

static ct_pagestore *open_fresh(int map_writes, const ct_filestore_syscalls *sys)
{
    const char *dir = mappable_dir();
    if (!dir) {
        fail_msg("neither %s nor /dev/shm is ext2/3/4, XFS or tmpfs", COWTREE_TEST_TMPDIR);
    }
    snprintf(path, sizeof path, "%s/fs-mapwrite-%ld-XXXXXX", dir, (long)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    assert_int_equal(o.map_writes, 1); /* the default */
    o.page_size = PS;
    o.map_writes = map_writes;
    o.syscalls = sys;
    return open_at(&o);
}

static void close_and_remove(ct_pagestore *ps)
{
    ps->ops->close(ps);
    assert_int_equal(unlink(path), 0);
}

/* Pages first..first+n-1 in one writev, each its own buffer (tree
   nodes), page i's bytes all (salt + i); returns the writev's code. */
static int writev_nodes(ct_pagestore *ps, uint64_t first, uint32_t n, unsigned char salt)
{
    const void *pages[64];
    assert_true(n <= 64);
    /* Every other page of one block: no page continues into the next
       one's memory (the store would take that for a run), whatever the
       allocator (separate mallocs may lie back to back). */
    unsigned char *block = malloc((size_t)n * 2u * PS);
    assert_non_null(block);
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *p = block + (size_t)i * 2u * PS;
        memset(p, (unsigned char)(salt + i), PS);
        pages[i] = p;
    }
    int rc = ps->ops->writev(ps, first, n, pages);
    free(block);
    return rc;
}

/* The same, which must succeed. */
static void write_nodes(ct_pagestore *ps, uint64_t first, uint32_t n, unsigned char salt)
{
    assert_int_equal(writev_nodes(ps, first, n, salt), CT_OK);
}

/* The file's bytes of page pgno, read with pread past the store. */
static void assert_file_page_is(uint64_t pgno, unsigned char want)
{
    unsigned char buf[PS];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, PS, (off_t)(pgno * PS)), (ssize_t)PS);
    close(fd);
    for (size_t i = 0; i < PS; i++) {
        if (buf[i] != want) {
            fail_msg("page %llu byte %zu: %u, want %u", (unsigned long long)pgno, i, buf[i], want);
        }
    }
}

/* A page written once goes through pwrite; written again before a sync,
   through the map, and the file holds the new bytes, also after reopen. */
static void test_rewrite_goes_through_map(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 16, 10);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    write_nodes(ps, 0, 16, 40);
    assert_int_equal(ct_filestore_mapped_pages(ps), 16);
    for (uint64_t p = 0; p < 16; p++) {
        assert_file_page_is(p, (unsigned char)(40 + p));
    }
    unsigned char page[PS];
    memset(page, 99, sizeof page);
    assert_int_equal(ps->ops->write(ps, 5, 1, page), CT_OK); /* write(), one page */
    assert_int_equal(ct_filestore_mapped_pages(ps), 17);
    assert_file_page_is(5, 99);
    /* The store's own read path sees it too. */
    unsigned char back[PS];
    assert_int_equal(ps->ops->read(ps, 5, 1, back), CT_OK);
    assert_memory_equal(back, page, PS);
    const unsigned char *m = ps->ops->map ? ps->ops->map(ps, 5) : NULL;
    assert_non_null(m);
    assert_memory_equal(m, page, PS);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    ps->ops->close(ps);

    ps = reopen(0, 1);
    assert_int_equal(ps->ops->read(ps, 5, 1, back), CT_OK);
    assert_memory_equal(back, page, PS);
    assert_file_page_is(15, 40 + 15);
    close_and_remove(ps);
}

/* After a sync no page counts as written: the next write of each is a
   pwrite again, the one after it a copy. */
static void test_sync_starts_over(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 0, 4, 3);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    write_nodes(ps, 0, 4, 4);
    assert_int_equal(ct_filestore_mapped_pages(ps), 8);
    for (uint64_t p = 0; p < 4; p++) {
        assert_file_page_is(p, (unsigned char)(4 + p));
    }
    close_and_remove(ps);
}

/* Within one writev, pages already written go through the map and the
   others through pwritev, each with its own bytes. */
static void test_mixed_writev(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 16, 1);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 2, 3, 20);  /* pages 2..4 */
    write_nodes(ps, 9, 2, 30);  /* pages 9..10 */
    write_nodes(ps, 0, 16, 50); /* 5 copies, 11 pwrites */
    assert_int_equal(ct_filestore_mapped_pages(ps), 5);
    for (uint64_t p = 0; p < 16; p++) {
        assert_file_page_is(p, (unsigned char)(50 + p));
    }
    close_and_remove(ps);
}

/* Growth never goes through the map (no page past the end is mapped),
   and a shrink starts over: a page the shrink dropped and growth brought
   back is a pwrite first. */
static void test_growth_and_shrink(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 4, 4, 5); /* past the end */
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_int_equal(ps->ops->resize(ps, 4), CT_OK);
    assert_int_equal(ps->ops->resize(ps, 8), CT_OK);
    write_nodes(ps, 4, 4, 9); /* inside the file again, but after a resize */
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    write_nodes(ps, 4, 4, 13);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_file_page_is(7, 16);
    close_and_remove(ps);
}

/* A resize that grows the file leaves a hole past the old end: pages
   written before it and rewritten after it stay pwrites while the hole
   is there (a folio of theirs may hold a page of the hole). */
static void test_growing_resize_leaves_a_hole(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 4, 1);
    assert_int_equal(ps->ops->resize(ps, 64), CT_OK); /* pages 4..63: a hole */
    write_nodes(ps, 0, 4, 2);
    write_nodes(ps, 0, 4, 3);
    write_nodes(ps, 0, 4, 4);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_file_page_is(3, 7);
    close_and_remove(ps);
}

/* A write a few pages past the end fills the pages between with zeros
   (CT_FS_GAP_FILL_PAGES), so the file has no hole and rewrites still go
   through the mapping; the gap reads as zeros. */
static void test_small_gap_filled(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 4 + CT_FS_GAP_FILL_PAGES, 1, 2); /* past the end by the most filled */
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 0, 4, 3);
    write_nodes(ps, 0, 4, 4);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    for (uint64_t p = 4; p < 4 + CT_FS_GAP_FILL_PAGES; p++) {
        assert_file_page_is(p, 0);
    }
    assert_file_page_is(4 + CT_FS_GAP_FILL_PAGES, 2);
    close_and_remove(ps);
}

/* A page whose pwrite failed is not one the store wrote in this epoch:
   its next write is a pwrite again, never a copy into the mapping (the
   page may be neither cached nor allocated, and a fault there that needs
   the disk raises SIGBUS where a pwrite returns CT_IO). */
static void test_failed_pwrite_is_not_noted(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    write_nodes(ps, 0, 4, 1);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    pwritev_fail = 1;
    assert_int_equal(writev_nodes(ps, 0, 4, 2), CT_IO);
    assert_int_equal(pwritev_fail, 0); /* the store's call met the failure */
    write_nodes(ps, 0, 4, 3);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    write_nodes(ps, 0, 4, 4); /* written in this epoch now: copies */
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_file_page_is(3, 7);
    close_and_remove(ps);
}

/* A file with holes below its end gets no copies: the kernel makes a whole
   folio writable at a fault, and a hole in it would need a block then
   (SIGBUS on a full disk). Once every hole is written, the next epoch
   copies again. A write past the end leaves a hole between, too. */
static void test_holes_keep_pwrite(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    ps->ops->close(ps);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(32u * PS)), 0); /* 32 pages of hole */
    close(fd);
    ps = reopen(1, 1);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 0, 4, 3);
    write_nodes(ps, 0, 4, 4); /* pages 4..31 still a hole */
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    for (uint64_t p = 4; p < 32; p += 4) {
        write_nodes(ps, p, 4, 5);
    }
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 0, 4, 6);
    write_nodes(ps, 0, 4, 7);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_file_page_is(3, 10);

    write_nodes(ps, 80, 1, 8); /* far past the end: pages 32..79 a hole */
    write_nodes(ps, 0, 4, 9);
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    write_nodes(ps, 0, 4, 10);
    write_nodes(ps, 0, 4, 11); /* still a hole after the sync */
    assert_int_equal(ct_filestore_mapped_pages(ps), 4);
    assert_file_page_is(0, 11);
    close_and_remove(ps);
}

/* Fallocated (unwritten) extents below the end count as holes on ext4,
   also once read into the page cache: without delayed allocation a fault
   converts the folio's other unwritten blocks, which may take a block. tmpfs has nothing to
   convert, and no FIEMAP: there the pages are copied. */
static void test_unwritten_extents(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    ps->ops->close(ps);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, (off_t)(32u * PS)), 0);
    unsigned char page[PS];
    for (off_t off = 0; off < (off_t)(32u * PS); off += PS) {
        /* Cached, SEEK_HOLE calls unwritten extents data (uncached, holes). */
        assert_int_equal(pread(fd, page, PS, off), (ssize_t)PS);
    }
    struct statfs st;
    assert_int_equal(fstatfs(fd, &st), 0);
    close(fd);
    ps = reopen(1, 1);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    if ((unsigned long)st.f_type == 0xEF53u) {
        assert_int_equal(ct_filestore_mapped_pages(ps), 0);
        for (uint64_t p = 4; p < 32; p += 4) { /* written: no longer unwritten */
            write_nodes(ps, p, 4, 3);
        }
        assert_int_equal(ps->ops->sync(ps), CT_OK);
        write_nodes(ps, 0, 4, 4);
        write_nodes(ps, 0, 4, 5);
        assert_int_equal(ct_filestore_mapped_pages(ps), 4);
        assert_file_page_is(2, 7);
    } else {
        assert_int_equal(ct_filestore_mapped_pages(ps), 4);
        assert_file_page_is(2, 4);
    }
    close_and_remove(ps);
}

/* An overflow run (one buffer of several pages) is write-once data and
   stays pwrite, also when rewritten. */
static void test_runs_stay_pwrite(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    unsigned char *run = malloc(8u * PS);
    assert_non_null(run);
    memset(run, 7, 8u * PS);
    assert_int_equal(ps->ops->write(ps, 0, 8, run), CT_OK);
    memset(run, 8, 8u * PS);
    assert_int_equal(ps->ops->write(ps, 0, 8, run), CT_OK);
    const void *pages[8];
    for (int i = 0; i < 8; i++) {
        pages[i] = run + (size_t)i * PS;
    }
    memset(run, 9, 8u * PS);
    assert_int_equal(ps->ops->writev(ps, 0, 8, pages), CT_OK);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_file_page_is(7, 9);
    free(run);
    close_and_remove(ps);
}

static int pwritev_calls;

static ssize_t counting_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    pwritev_calls++;
    return pwritev(fd, iov, n, off);
}

static const ct_filestore_syscalls counting = {.pwritev = counting_pwritev};

/* map_writes 0, enable_map 0 (the user did not take the map's trade-off)
   or a syscall table (a fault test must see every write): every write is a
   pwrite. */
static void test_off_by_option_or_table(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, NULL);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_file_page_is(3, 5);
    close_and_remove(ps);

    ps = open_fresh(1, NULL);
    ps->ops->close(ps);
    ps = reopen(1, 0);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    close_and_remove(ps);

    pwritev_calls = 0;
    ps = open_fresh(1, &counting);
    write_nodes(ps, 0, 4, 1);
    write_nodes(ps, 0, 4, 2);
    assert_int_equal(ct_filestore_mapped_pages(ps), 0);
    assert_int_equal(pwritev_calls, 2);
    assert_file_page_is(3, 5);
    close_and_remove(ps);
}

/* Through the engine: commits without a sync between them rewrite their
   pages through the map, and everything committed is there, intact,
   after close and reopen (ct_check walks every page). */
static void test_engine_commits(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(1, NULL);
    ct_options opt;
    ct_options_init(&opt);
    opt.durability = CT_SYNC_NONE;
    ct_db *db = NULL;
    assert_int_equal(ct_open(ps, &opt, &db), CT_OK);
    char key[32];
    char val[64];
    for (int txn = 0; txn < 40; txn++) {
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        for (int i = 0; i < 200; i++) {
            unsigned k = (unsigned)(i * 7919 + txn * 104729) % 5000u;
            int kl = snprintf(key, sizeof key, "key-%05u", k);
            int vl = snprintf(val, sizeof val, "value-%05u-%d", k, txn);
            assert_int_equal(ct_put(t, NULL, key, (size_t)kl, val, (size_t)vl, 0), CT_OK);
        }
        assert_int_equal(ct_commit(t), CT_OK);
    }
    assert_true(ct_filestore_mapped_pages(ps) > 0);
    assert_int_equal(ct_sync(db), CT_OK);
    ct_close(db);
    ps->ops->close(ps);

    ps = reopen(0, 1);
    assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
    ct_check_report rep;
    assert_int_equal(ct_check(db, &rep), CT_OK);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    for (int i = 0; i < 200; i++) { /* the last txn's values */
        unsigned k = (unsigned)(i * 7919 + 39 * 104729) % 5000u;
        int kl = snprintf(key, sizeof key, "key-%05u", k);
        int vl = snprintf(val, sizeof val, "value-%05u-39", k);
        const void *v = NULL;
        size_t vlen = 0;
        assert_int_equal(ct_get(t, NULL, key, (size_t)kl, &v, &vlen), CT_OK);
        assert_int_equal(vlen, (size_t)vl);
        assert_memory_equal(v, val, vlen);
    }
    ct_abort(t);
    ct_close(db);
    close_and_remove(ps);
}

/* Not a file store: 0, not a crash. */
static void test_other_store_counts_zero(void **state)
{
    (void)state;
    assert_int_equal(ct_filestore_mapped_pages(NULL), 0);
    ct_pagestore *mem = NULL;
    assert_int_equal(ct_memstore_create(NULL, &mem), CT_OK);
    assert_int_equal(ct_filestore_mapped_pages(mem), 0);
    mem->ops->close(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_goes_through_map),
        cmocka_unit_test(test_sync_starts_over),
        cmocka_unit_test(test_mixed_writev),
        cmocka_unit_test(test_growth_and_shrink),
        cmocka_unit_test(test_growing_resize_leaves_a_hole),
        cmocka_unit_test(test_failed_pwrite_is_not_noted),
        cmocka_unit_test(test_small_gap_filled),
        cmocka_unit_test(test_holes_keep_pwrite),
        cmocka_unit_test(test_unwritten_extents),
        cmocka_unit_test(test_runs_stay_pwrite),
        cmocka_unit_test(test_off_by_option_or_table),
        cmocka_unit_test(test_engine_commits),
        cmocka_unit_test(test_other_store_counts_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
