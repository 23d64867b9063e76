/*
 * test_storecheck.c - the page-store conformance kit (cowtree/storecheck.h)
 * checked both ways: the memory and file stores (and a correct RAM store)
 * pass with zero violations at every page size, and each mode of the
 * deliberately broken store (helpers_broken_store.c) makes the kit report
 * a violation in the check that covers it, with a message saying what.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/faultstore.h"
#include "cowtree/filestore.h"
#include "cowtree/memstore.h"
#include "cowtree/plugin.h"
#include "cowtree/storecheck.h"
#include "helpers.h"
#include "helpers_broken_store.h"

/* Violations the callback keeps for the asserts. */
#define SEEN_MAX 64u

typedef struct seen {
    uint32_t count;
    char check[SEEN_MAX][32];
    char message[SEEN_MAX][320];
} seen;

static void on_violation(void *ctx, const char *check, uint32_t page_size, const char *message)
{
    seen *s = ctx;
    (void)page_size;
    if (s->count < SEEN_MAX) {
        snprintf(s->check[s->count], sizeof(s->check[0]), "%s", check);
        snprintf(s->message[s->count], sizeof(s->message[0]), "%s", message);
    }
    s->count++;
}

/* 1 when some kept violation is of check and its message contains text. */
static int saw(const seen *s, const char *check, const char *text)
{
    uint32_t n = s->count < SEEN_MAX ? s->count : SEEN_MAX;
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(s->check[i], check) == 0 && strstr(s->message[i], text)) {
            return 1;
        }
    }
    return 0;
}

static void print_seen(const seen *s)
{
    uint32_t n = s->count < SEEN_MAX ? s->count : SEEN_MAX;
    for (uint32_t i = 0; i < n; i++) {
        print_message("  [%s] %s\n", s->check[i], s->message[i]);
    }
}

/* A fresh memory store (volatile: a reopen is CT_NOTSUP). */
static int open_memory_map(uint32_t page_size, unsigned flags, int enable_map, ct_pagestore **out)
{
    if (!(flags & CT_STORE_PLUGIN_FRESH)) {
        return CT_NOTSUP;
    }
    ct_memstore_options o;
    ct_memstore_options_init(&o);
    o.page_size = page_size;
    o.enable_map = enable_map;
    return ct_memstore_create(&o, out);
}

static int open_memory(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    (void)ctx;
    return open_memory_map(page_size, flags, 1, out);
}

static int open_memory_nomap(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    (void)ctx;
    return open_memory_map(page_size, flags, 0, out);
}

/* ctx: the file path. FRESH truncates (under the store's lock) and syncs. */
static int open_file(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = page_size;
    int rc = ct_filestore_open((const char *)ctx, &o, out);
    if (rc == CT_OK && (flags & CT_STORE_PLUGIN_FRESH)) {
        rc = (*out)->ops->resize(*out, 0);
        rc = rc == CT_OK ? (*out)->ops->sync(*out) : rc;
        if (rc != CT_OK) {
            (*out)->ops->close(*out);
            *out = NULL;
        }
    }
    return rc;
}

/* ctx: the file path. The fault store (no faults) stacked on the file store. */
static int open_fault_file(void *ctx, uint32_t page_size, unsigned flags, ct_pagestore **out)
{
    ct_pagestore *file = NULL;
    int rc = open_file(ctx, page_size, flags, &file);
    if (rc != CT_OK) {
        return rc;
    }
    rc = ct_faultstore_wrap(file, NULL, out);
    if (rc != CT_OK) {
        file->ops->close(file);
    }
    return rc;
}

static const uint32_t sizes_small[] = {512, 4096};

static void run_clean(ct_storecheck_open_fn fn, void *ctx, int persistence, uint32_t na_want)
{
    seen s;
    memset(&s, 0, sizeof(s));
    ct_storecheck_options opt;
    ct_storecheck_options_init(&opt);
    opt.persistence = persistence;
    opt.on_violation = on_violation;
    opt.cb_ctx = &s;
    ct_storecheck_report rep;
    int rc = ct_storecheck_run(fn, ctx, &opt, &rep);
    if (rc != CT_OK) {
        print_seen(&s);
    }
    th_assert_rc(rc, CT_OK);
    uint32_t names = 0;
    while (ct_storecheck_name(names)) {
        names++;
    }
    th_assert_eq(rep.checks_run, names * 8u); /* 512..65536 */
    th_assert_eq(rep.checks_failed, 0);
    th_assert_eq(rep.violations, 0);
    th_assert_eq(s.count, 0);
    th_assert_eq(rep.checks_not_applicable, na_want);
    th_assert_eq(rep.checks_passed, rep.checks_run - na_want);
    assert_string_equal(rep.first_violation, "");
}

/* The memory store passes at every page size; durability is n/a (it is
   volatile: reopen is CT_NOTSUP), map is checked. Without map, map is n/a. */
static void test_memory_store_passes(void **state)
{
    (void)state;
    run_clean(open_memory, NULL, CT_STORECHECK_DETECT, 8);
    run_clean(open_memory_nomap, NULL, CT_STORECHECK_DETECT, 16);
}

/* The file store passes at every page size, durability and map()
   included: nothing is n/a. */
static void test_file_store_passes(void **state)
{
    (void)state;
    char dir[512];
    char path[600];
    th_tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/kit.pages", dir);
    run_clean(open_file, path, CT_STORECHECK_PERSISTENT, 0);
    th_tmpdir_remove(dir);
}

/* The fault store without faults, stacked on the file store, passes too,
   durability included (it never maps: map is n/a). */
static void test_fault_store_over_file_passes(void **state)
{
    (void)state;
    char dir[512];
    char path[600];
    th_tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/kit-fault.pages", dir);
    run_clean(open_fault_file, path, CT_STORECHECK_PERSISTENT, 8);
    th_tmpdir_remove(dir);
}

/* Runs the kit on the broken store in mode m at two page sizes. */
static int run_broken(bs_mode m, seen *s, ct_storecheck_report *rep)
{
    bs_disk d;
    memset(&d, 0, sizeof(d));
    d.mode = m;
    memset(s, 0, sizeof(*s));
    ct_storecheck_options opt;
    ct_storecheck_options_init(&opt);
    opt.page_sizes = sizes_small;
    opt.page_size_count = 2;
    opt.on_violation = on_violation;
    opt.cb_ctx = s;
    opt.violations_shown_max = 64;
    int rc = ct_storecheck_run(bs_open, &d, &opt, rep);
    th_assert_eq(d.opens, d.closes); /* the kit closes every store it opens */
    bs_disk_free(&d);
    return rc;
}

/* The correct mode of the broken store passes everything (durability and
   map included): the modes below differ from it by one fault each. */
static void test_broken_store_control_passes(void **state)
{
    (void)state;
    seen s;
    ct_storecheck_report rep;
    int rc = run_broken(BS_CORRECT, &s, &rep);
    print_seen(&s);
    th_assert_rc(rc, CT_OK);
    th_assert_eq(rep.checks_failed, 0);
    th_assert_eq(rep.checks_not_applicable, 0);
}

typedef struct broken_case {
    bs_mode mode;
    const char *check; /* a check that must fail */
    const char *text;  /* ...with a message containing this */
} broken_case;

/* Each broken mode fails the check that covers it, with a clear message. */
static void test_broken_modes_are_caught(void **state)
{
    (void)state;
    static const broken_case cases[] = {
        {BS_DROP_LAST_PAGE, "read-after-write",
         "page 2 of a 3-page read at 5) reads back different"},
        {BS_DROP_LAST_PAGE, "boundaries", "reads back different bytes"},
        {BS_GARBAGE_UNWRITTEN, "zero-fill", "non-zero bytes where zeros belong"},
        {BS_GARBAGE_UNWRITTEN, "resize", "page added by growing 8 -> 16"},
        {BS_READ_BEYOND, "bounds", "read at page 4 returned CT_OK, expected CT_INVALID"},
        {BS_READ_BEYOND, "resize", "a page dropped by shrinking 16 -> 5"},
        {BS_SHRINK_KEEPS, "resize", "old bytes must not come back"},
        {BS_ERRNO, "return-codes", "returned -22, not a CT_* code"},
        {BS_ERRNO, "bounds", "-22 (not a CT_* code), expected CT_INVALID"},
        {BS_ERRNO, "sync", "returned CT_NOMEM on a healthy store"},
        {BS_MAP_MOVES, "map", "the bytes behind the pointer map("},
        {BS_SYNC_NOOP, "durability", "after sync, close and reopen: size() is 0 pages"},
        {BS_NO_GROW, "grow-on-write", "after a 1-page write at 0: size() is 0 pages, expected 1"},
        {BS_DROP_LAST_PAGE, "power-cut", "does not hold what the power cut left there"},
        {BS_SYNC_NOOP, "power-cut", "after the power cuts, close and reopen"},
        {BS_GARBAGE_UNWRITTEN, "power-cut", "page 4 does not hold what the power cut left"},
        {BS_WRITEV_FIRST, "writev",
         "read after a 5-page writev: page 4 (page 1 of a 5-page read at 3) reads back different"},
        {BS_DROP_LAST_PAGE, "writev", "writev mixed with write"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen s;
        ct_storecheck_report rep;
        th_set_ctx("mode %s, check %s", bs_mode_name(cases[i].mode), cases[i].check);
        int rc = run_broken(cases[i].mode, &s, &rep);
        th_assert_rc(rc, CT_CORRUPT);
        th_assert_true(rep.checks_failed > 0);
        th_assert_true(rep.violations >= rep.checks_failed);
        th_assert_true(rep.first_violation[0] != '\0');
        if (!saw(&s, cases[i].check, cases[i].text)) {
            print_message("mode %s: no [%s] violation containing \"%s\"; got:\n",
                          bs_mode_name(cases[i].mode), cases[i].check, cases[i].text);
            print_seen(&s);
            fail();
        }
    }
}

/* The report counts, the FILE output and the options: `only`, bad page
   sizes, an unknown check name, a NULL open. */
static void test_options_and_report(void **state)
{
    (void)state;
    ct_storecheck_options opt;
    ct_storecheck_options_init(&opt);
    ct_storecheck_report rep;
    th_assert_rc(ct_storecheck_run(NULL, NULL, &opt, &rep), CT_INVALID);
    static const uint32_t bad_sizes[] = {4096, 1000};
    opt.page_sizes = bad_sizes;
    opt.page_size_count = 2;
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_INVALID);
    opt.page_sizes = sizes_small;
    opt.only = "no-such-check";
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_INVALID);
    opt.persistence = 7;
    opt.only = NULL;
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_INVALID);
    opt.persistence = CT_STORECHECK_DETECT;

    /* only: that check and return-codes, at each page size. */
    opt.only = "resize";
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_OK);
    th_assert_eq(rep.checks_run, 4);
    th_assert_eq(rep.checks_passed, 4);

    /* Printed output: a line per check and a summary; quiet drops "ok". */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    opt.only = "durability";
    opt.out = f;
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_OK);
    th_assert_eq(rep.checks_not_applicable, 2);
    th_assert_eq(rep.checks_passed, 2); /* return-codes */
    fclose(f);
    th_assert_true(strstr(text, "n/a  durability") != NULL);
    th_assert_true(strstr(text, "ok   return-codes") != NULL);
    th_assert_true(strstr(text, "storecheck: 4 checks: 2 passed, 0 failed, 2 not applicable; "
                                "0 violations") != NULL);
    free(text);

    /* A volatile store declared persistent: durability fails. */
    opt.out = NULL;
    opt.persistence = CT_STORECHECK_PERSISTENT;
    th_assert_rc(ct_storecheck_run(open_memory, NULL, &opt, &rep), CT_CORRUPT);
    th_assert_eq(rep.checks_failed, 2);
    assert_string_equal(rep.first_failed_check, "durability");
    th_assert_true(strstr(rep.first_violation, "declared persistent") != NULL);

    /* Runs repeat exactly (same seed, same result), and names end in NULL. */
    assert_string_equal(ct_storecheck_name(0), "open");
    assert_null(ct_storecheck_name(1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store_passes),
        cmocka_unit_test(test_file_store_passes),
        cmocka_unit_test(test_fault_store_over_file_passes),
        cmocka_unit_test(test_broken_store_control_passes),
        cmocka_unit_test(test_broken_modes_are_caught),
        cmocka_unit_test(test_options_and_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
