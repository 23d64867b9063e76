/*
 * helpers_broken_store.h - a deliberately broken page store for the
 * conformance kit's tests (tests/test_storecheck.c): a plain RAM store,
 * persistent through its context (sync copies to a "disk" that a reopen
 * loads), with one contract violation per mode.
 */
#ifndef CT_TESTS_BROKEN_STORE_H
#define CT_TESTS_BROKEN_STORE_H

#include <stdint.h>

#include "cowtree/pagestore.h"

typedef enum bs_mode {
    BS_CORRECT = 0,           /* no violation: the control */
    BS_DROP_LAST_PAGE = 1,    /* multi-page writes forget their last page */
    BS_GARBAGE_UNWRITTEN = 2, /* never-written pages read 0xee, not zeros */
    BS_READ_BEYOND = 3,       /* reads at/after size() succeed (zero-filled) */
    BS_SHRINK_KEEPS = 4,      /* shrink keeps the tail: regrowth shows old bytes */
    BS_ERRNO = 5,             /* bad arguments return -EINVAL (-22); sync returns -5 (-EIO) */
    BS_MAP_MOVES = 6,         /* map() returns one scratch buffer, rewritten on each call */
    BS_SYNC_NOOP = 7,         /* sync() returns CT_OK and persists nothing */
    BS_NO_GROW = 8,           /* size() ignores writes beyond the end (only resize grows) */
    BS_WRITEV_FIRST = 9,      /* writev() writes pages[0] to every page of the run */
    BS_MODES = 10
} bs_mode;

/* The "disk" a broken store persists to; zero-initialize, set mode, and
   free with bs_disk_free. */
typedef struct bs_disk {
    bs_mode mode;
    uint32_t page_size;
    uint64_t npages;
    uint8_t **pages; /* NULL = never written */
    uint64_t opens;  /* stores opened so far */
    uint64_t closes; /* stores closed so far */
} bs_disk;

/* ct_storecheck_open_fn over a bs_disk (ctx). */
int bs_open(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out);
void bs_disk_free(bs_disk *d);
const char *bs_mode_name(bs_mode mode);

#endif
