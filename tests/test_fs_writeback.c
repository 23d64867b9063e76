/*
 * test_fs_writeback.c - the file store's early writeback
 * (ct_filestore_options.writeback_bytes, pagestore/file/writeback.c)
 * through its public surface: the vtable and a sync_file_range override
 * that records what the store asked for. Overflow runs and bulk appends
 * are handed to the kernel once enough bytes of them were written; tree
 * nodes rewritten inside the file never are; the call is only a hint.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

#ifndef COWTREE_TEST_TMPDIR
#define COWTREE_TEST_TMPDIR "/tmp"
#endif

#define PS 4096u
#define KIB ((uint64_t)1024)

/* ---- A recording sync_file_range ----------------------------------------- */

#define SFR_KEPT 64

static int sfr_calls;
static int sfr_fail_errno; /* 0: succeed */
static off_t sfr_off;      /* the last call's range and flags */
static off_t sfr_len;
static unsigned sfr_flags;
static off_t sfr_offs[SFR_KEPT]; /* every call's range, the first SFR_KEPT */
static off_t sfr_lens[SFR_KEPT];

static int fake_sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
    (void)fd;
    if (sfr_calls < SFR_KEPT) {
        sfr_offs[sfr_calls] = off;
        sfr_lens[sfr_calls] = len;
    }
    sfr_calls++;
    sfr_off = off;
    sfr_len = len;
    sfr_flags = flags;
    if (sfr_fail_errno) {
        errno = sfr_fail_errno;
        return -1;
    }
    return 0;
}

static const ct_filestore_syscalls recording = {.sync_file_range = fake_sync_file_range};

static int test_setup(void **state)
{
    (void)state;
    sfr_calls = 0;
    sfr_fail_errno = 0;
    sfr_off = -1;
    sfr_len = -1;
    sfr_flags = 0;
    return 0;
}

/* ---- Helpers ----------------------------------------------------------------- */

static char path[512];

static ct_pagestore *open_fresh(unsigned flags, uint64_t writeback_bytes)
{
    snprintf(path, sizeof path, "%s/fs-writeback-%ld-XXXXXX", COWTREE_TEST_TMPDIR,
             (long)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(unlink(path), 0); /* the store creates it */
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS;
    o.flags = flags;
    o.syscalls = &recording;
    o.writeback_bytes = writeback_bytes;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(path, &o, &ps), CT_OK);
    return ps;
}

static void close_and_remove(ct_pagestore *ps)
{
    ps->ops->close(ps);
    assert_int_equal(unlink(path), 0);
}

/* One buffer of npages pages (an overflow run, as the engine writes it),
   every byte tagged with salt. */
static void write_run(ct_pagestore *ps, uint64_t pgno, uint32_t npages, unsigned char salt)
{
    size_t bytes = (size_t)npages * PS;
    unsigned char *buf = malloc(bytes);
    assert_non_null(buf);
    memset(buf, salt, bytes);
    assert_int_equal(ps->ops->write(ps, pgno, npages, buf), CT_OK);
    free(buf);
}

/* One page through writev from a buffer of its own (a tree node). */
static void write_node(ct_pagestore *ps, uint64_t pgno, unsigned char salt)
{
    unsigned char *buf = malloc(PS);
    assert_non_null(buf);
    memset(buf, salt, PS);
    const void *pages[1] = {buf};
    assert_int_equal(ps->ops->writev(ps, pgno, 1, pages), CT_OK);
    free(buf);
}

static void assert_page_is(ct_pagestore *ps, uint64_t pgno, unsigned char salt)
{
    unsigned char buf[PS];
    assert_int_equal(ps->ops->read(ps, pgno, 1, buf), CT_OK);
    for (size_t i = 0; i < PS; i++) {
        assert_int_equal(buf[i], salt);
    }
}

/* ---- Tests ------------------------------------------------------------------- */

/* Runs are kicked once the threshold is reached, over the range they
   cover since the last kick, with SYNC_FILE_RANGE_WRITE only. */
static void test_runs_kicked_past_threshold(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 64 * KIB);
    write_run(ps, 0, 8, 1); /* 32 KiB: below the threshold */
    assert_int_equal(sfr_calls, 0);
    write_run(ps, 8, 8, 2); /* 64 KiB in all */
    assert_int_equal(sfr_calls, 1);
    assert_int_equal(sfr_off, 0);
    assert_int_equal(sfr_len, 64 * KIB);
    assert_int_equal(sfr_flags, 2u); /* SYNC_FILE_RANGE_WRITE: waits for nothing */
    write_run(ps, 16, 16, 3);
    assert_int_equal(sfr_calls, 2);
    assert_int_equal(sfr_off, 64 * KIB); /* only what came since the last kick */
    assert_int_equal(sfr_len, 64 * KIB);
    assert_page_is(ps, 31, 3);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    close_and_remove(ps);
}

/* Single pages rewritten inside the file (tree nodes) are never kicked,
   however many bytes of them are written. */
static void test_nodes_inside_file_not_kicked(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 64 * KIB);
    write_run(ps, 0, 64, 1); /* 256 KiB: the file the nodes land in */
    int after_fill = sfr_calls;
    assert_true(after_fill >= 1);
    for (unsigned i = 0; i < 512; i++) { /* 2 MiB of node writes */
        write_node(ps, i % 64, (unsigned char)(i & 0x7f));
    }
    for (unsigned i = 0; i < 64; i++) {
        unsigned char page[PS];
        memset(page, 9, sizeof page);
        assert_int_equal(ps->ops->write(ps, i, 1, page), CT_OK);
    }
    assert_int_equal(sfr_calls, after_fill);
    assert_page_is(ps, 63, 9);
    close_and_remove(ps);
}

/* Whether some call since call `from` handed over a byte of pages
   [lo, hi). */
static int kicked_any(int from, uint64_t lo, uint64_t hi)
{
    for (int i = from; i < sfr_calls && i < SFR_KEPT; i++) {
        uint64_t a = (uint64_t)sfr_offs[i];
        uint64_t b = a + (uint64_t)sfr_lens[i];
        if (a < hi * PS && b > lo * PS) {
            return 1;
        }
    }
    return 0;
}

/* Whether the calls since call `from` handed over all of pages [lo, hi). */
static int kicked_all(int from, uint64_t lo, uint64_t hi)
{
    for (uint64_t p = lo; p < hi; p++) {
        if (!kicked_any(from, p, p + 1)) {
            return 0;
        }
    }
    return 1;
}

/* Tree nodes rewritten between two runs are not handed over with them:
   a kick covers the runs' ranges only, not the span from the first to the
   last (which it did once, and then wrote 800 node pages out early). */
static void test_nodes_between_runs_not_kicked(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 1024 * KIB);
    write_run(ps, 3000, 16, 1); /* the file's end: past every page below */
    int from = sfr_calls;
    write_run(ps, 10, 16, 2);
    for (uint64_t p = 100; p < 900; p++) {
        write_node(ps, p, 3);
    }
    assert_int_equal(sfr_calls, from);
    write_run(ps, 2000, 240, 4); /* 1,088 KiB of runs in all: a kick */
    assert_true(sfr_calls > from);
    assert_true(kicked_all(from, 10, 26));
    assert_true(kicked_all(from, 2000, 2240));
    assert_true(kicked_all(from, 3000, 3016));
    assert_false(kicked_any(from, 26, 2000));
    assert_false(kicked_any(from, 2240, 3000));
    assert_page_is(ps, 899, 3);
    close_and_remove(ps);
}

/* One writev inside the file of two tree nodes, an overflow run and two
   nodes (as a commit coalesces pages that sit side by side): only the
   run's pages are handed over (the whole call was, once). */
static void test_nodes_beside_a_run_not_kicked(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 16 * KIB);
    write_run(ps, 0, 64, 1); /* the file the writev lands in */
    int from = sfr_calls;
    enum { RUN = 8, TOTAL = RUN + 4 };
    unsigned char *run = malloc((size_t)RUN * PS);
    /* The nodes every other page of one block, so no node's memory runs
       on into another's (separate mallocs may lie back to back: TSan's
       allocator puts them so) nor into the run's (outside the block). */
    unsigned char *block = malloc((size_t)8 * PS);
    unsigned char *nodes[4];
    const void *pages[TOTAL];
    assert_non_null(run);
    assert_non_null(block);
    memset(run, 5, (size_t)RUN * PS);
    memset(block, 6, (size_t)8 * PS);
    for (int i = 0; i < 4; i++) {
        nodes[i] = block + (size_t)(2 * i) * PS;
    }
    pages[0] = nodes[0];
    pages[1] = nodes[1];
    for (int i = 0; i < RUN; i++) {
        pages[2 + i] = run + (size_t)i * PS;
    }
    pages[TOTAL - 2] = nodes[2];
    pages[TOTAL - 1] = nodes[3];
    assert_int_equal(ps->ops->writev(ps, 10, TOTAL, pages), CT_OK);
    assert_true(sfr_calls > from); /* 32 KiB of run: past the threshold */
    assert_true(kicked_all(from, 12, 12 + RUN));
    assert_false(kicked_any(from, 10, 12));
    assert_false(kicked_any(from, 12 + RUN, 10 + TOTAL));
    assert_page_is(ps, 11, 6);
    assert_page_is(ps, 12, 5);
    assert_page_is(ps, 21, 6);
    free(block);
    free(run);
    close_and_remove(ps);
}

/* Runs that meet merge into one range, even when a run bridges two:
   each byte is handed over once. More separate ranges than the store
   keeps are handed over early rather than dropped. */
static void test_ranges_merge_and_overflow(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 4096 * KIB);
    write_run(ps, 4000, 2, 1);
    int from = sfr_calls;
    write_run(ps, 0, 4, 1);
    write_run(ps, 8, 4, 1);
    write_run(ps, 4, 4, 1); /* bridges [0, 4) and [8, 12) */
    for (uint64_t i = 0; i < 16; i++) { /* 16 separate ranges of 2 pages */
        write_run(ps, 100 + 10 * i, 2, 1);
    }
    assert_true(sfr_calls > from); /* more ranges than kept: handed over */
    for (int i = from; i < sfr_calls; i++) {
        for (int k = i + 1; k < sfr_calls; k++) {
            assert_false(sfr_offs[i] < sfr_offs[k] + sfr_lens[k] &&
                         sfr_offs[k] < sfr_offs[i] + sfr_lens[i]);
        }
    }
    assert_true(kicked_all(from, 0, 12));
    assert_false(kicked_any(from, 12, 100));
    close_and_remove(ps);
}

/* A bulk load's appends (single pages past the end, nearly every write
   growing the file) are kicked like runs. */
static void test_bulk_appends_kicked(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 64 * KIB);
    for (uint64_t p = 0; p < 64; p++) {
        write_node(ps, p, (unsigned char)p);
    }
    assert_true(sfr_calls >= 3); /* 256 KiB of appends, a kick per 64 KiB */
    assert_true(sfr_len >= (off_t)(64 * KIB));
    assert_page_is(ps, 40, 40);
    close_and_remove(ps);
}

/* The same through write(), one page a call (a store user without
   writev, or a single page): kicked the same. */
static void test_bulk_single_page_writes_kicked(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 64 * KIB);
    for (uint64_t p = 0; p < 64; p++) {
        write_run(ps, p, 1, (unsigned char)p);
    }
    assert_true(sfr_calls >= 3);
    assert_true(sfr_len >= (off_t)(64 * KIB));
    assert_page_is(ps, 40, 40);
    close_and_remove(ps);
}

/* 0 is the default threshold, 4 MiB. */
static void test_default_threshold(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(0, 0);
    uint32_t run = (uint32_t)(CT_FS_WRITEBACK_DEFAULT_BYTES / PS / 4);
    for (uint64_t i = 0; i < 3; i++) {
        write_run(ps, i * run, run, 1);
    }
    assert_int_equal(sfr_calls, 0);
    write_run(ps, 3 * run, run, 1);
    assert_int_equal(sfr_calls, 1);
    assert_int_equal(sfr_len, (off_t)CT_FS_WRITEBACK_DEFAULT_BYTES);
    close_and_remove(ps);
}

/* CT_FS_NO_WRITEBACK: never called. */
static void test_flag_turns_it_off(void **state)
{
    (void)state;
    ct_pagestore *ps = open_fresh(CT_FS_NO_WRITEBACK, 64 * KIB);
    for (uint64_t i = 0; i < 8; i++) {
        write_run(ps, i * 16, 16, 1);
    }
    assert_int_equal(sfr_calls, 0);
    close_and_remove(ps);
}

/* Writes `runs` runs of 64 KiB (one kick each) with every kick failing
   with err: the writes and the sync succeed all along and the data reads
   back; returns how many kicks the store tried. */
static int kicks_failing_with(int err, uint64_t runs)
{
    sfr_fail_errno = err;
    ct_pagestore *ps = open_fresh(0, 64 * KIB);
    for (uint64_t i = 0; i < runs; i++) {
        write_run(ps, i * 16, 16, (unsigned char)(i + 1));
    }
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_page_is(ps, runs * 16 - 1, (unsigned char)runs);
    close_and_remove(ps);
    return sfr_calls;
}

/* ENOSYS (no such call): tried once, then off for the store's life. */
static void test_enosys_turns_it_off(void **state)
{
    (void)state;
    assert_int_equal(kicks_failing_with(ENOSYS, 8), 1);
}

/* Any other failure (EIO here) is ignored and the next kick tries again;
   neither the writes nor the sync report it (a sync reports what the
   device did, by itself). */
static void test_other_failures_ignored(void **state)
{
    (void)state;
    assert_int_equal(kicks_failing_with(EIO, 4), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_runs_kicked_past_threshold, test_setup),
        cmocka_unit_test_setup(test_nodes_inside_file_not_kicked, test_setup),
        cmocka_unit_test_setup(test_nodes_between_runs_not_kicked, test_setup),
        cmocka_unit_test_setup(test_nodes_beside_a_run_not_kicked, test_setup),
        cmocka_unit_test_setup(test_ranges_merge_and_overflow, test_setup),
        cmocka_unit_test_setup(test_bulk_appends_kicked, test_setup),
        cmocka_unit_test_setup(test_bulk_single_page_writes_kicked, test_setup),
        cmocka_unit_test_setup(test_default_threshold, test_setup),
        cmocka_unit_test_setup(test_flag_turns_it_off, test_setup),
        cmocka_unit_test_setup(test_enosys_turns_it_off, test_setup),
        cmocka_unit_test_setup(test_other_failures_ignored, test_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
