/*
 * xorstore_demo.c - a cowtree database over a custom page store: the XOR
 * "encrypting" store (xorstore.c) stacked on the file store. Writes keys,
 * closes, reopens the same file through the same stack, reads every key
 * back, runs ct_check, and shows that the file holds no plaintext value.
 * Every rc is checked: an unexpected one is printed and the program exits 1.
 *
 * Usage: xorstore_demo [PATH]   (default: xorstore-demo.pages; recreated)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowtree.h"
#include "cowtree/filestore.h"
#include "xorstore.h"

#define DEMO_KEY "demo secret"
#define DEMO_ENTRIES 200

static int failed(int rc, const char *what)
{
    if (rc == CT_OK) {
        return 0;
    }
    fprintf(stderr, "xorstore_demo: %s: %s (%s)\n", what, ct_strerror(rc), ct_errname(rc));
    return 1;
}

/* The stack: file store at path, XOR store over it (which owns it). */
static int open_stack(const char *path, ct_pagestore **out)
{
    ct_pagestore *file = NULL;
    int rc = ct_filestore_open(path, NULL, &file);
    if (failed(rc, "ct_filestore_open")) {
        return rc;
    }
    rc = xorstore_wrap(file, DEMO_KEY, strlen(DEMO_KEY), out);
    if (failed(rc, "xorstore_wrap")) {
        file->ops->close(file);
    }
    return rc;
}

static void entry(int i, char *key, size_t kcap, char *val, size_t vcap)
{
    snprintf(key, kcap, "user:%04d", i);
    snprintf(val, vcap, "secret-value-%04d", i * 7);
}

static int write_entries(ct_db *db)
{
    ct_txn *txn = NULL;
    if (failed(ct_begin(db, 0, &txn), "ct_begin")) {
        return 1;
    }
    for (int i = 0; i < DEMO_ENTRIES; i++) {
        char key[32];
        char val[32];
        entry(i, key, sizeof(key), val, sizeof(val));
        if (failed(ct_put(txn, NULL, key, strlen(key), val, strlen(val), 0), "ct_put")) {
            ct_abort(txn);
            return 1;
        }
    }
    return failed(ct_commit(txn), "ct_commit");
}

static int read_entries(ct_db *db)
{
    ct_txn *txn = NULL;
    if (failed(ct_begin(db, CT_TXN_RDONLY, &txn), "ct_begin (read)")) {
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < DEMO_ENTRIES && !bad; i++) {
        char key[32];
        char val[32];
        entry(i, key, sizeof(key), val, sizeof(val));
        const void *v = NULL;
        size_t vlen = 0;
        bad = failed(ct_get(txn, NULL, key, strlen(key), &v, &vlen), "ct_get");
        if (!bad && (vlen != strlen(val) || memcmp(v, val, vlen) != 0)) {
            fprintf(stderr, "xorstore_demo: %s has the wrong value\n", key);
            bad = 1;
        }
    }
    ct_abort(txn);
    return bad;
}

/* 1 when the raw file contains needle (it must not: it is "encrypted"). */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return 0;
    }
    size_t n = strlen(needle);
    size_t matched = 0;
    int c;
    int found = 0;
    while (!found && (c = fgetc(f)) != EOF) {
        matched = (unsigned char)c == (unsigned char)needle[matched] ? matched + 1u
                  : (unsigned char)c == (unsigned char)needle[0]     ? 1u
                                                                     : 0u;
        found = matched == n;
    }
    fclose(f);
    return found;
}

/* Opens the stack and a database on it; the caller closes db then store. */
static int open_db(const char *path, ct_pagestore **ps, ct_db **db)
{
    if (open_stack(path, ps) != CT_OK) {
        return 1;
    }
    if (failed(ct_open(*ps, NULL, db), "ct_open")) {
        (*ps)->ops->close(*ps);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "xorstore-demo.pages";
    remove(path);
    ct_pagestore *ps = NULL;
    ct_db *db = NULL;
    if (open_db(path, &ps, &db)) {
        return 1;
    }
    int bad = write_entries(db);
    ct_close(db);
    ps->ops->close(ps);
    if (bad) {
        return 1;
    }
    printf("wrote %d entries through the XOR store\n", DEMO_ENTRIES);

    if (open_db(path, &ps, &db)) {
        return 1;
    }
    bad = read_entries(db);
    ct_check_report rep;
    bad = bad || failed(ct_check(db, &rep), "ct_check");
    ct_close(db);
    ps->ops->close(ps);
    if (bad) {
        return 1;
    }
    printf("reopened: all %d entries read back, ct_check clean (%llu pages)\n", DEMO_ENTRIES,
           (unsigned long long)rep.pages_total);
    if (file_contains(path, "secret-value-") || file_contains(path, "user:0")) {
        fprintf(stderr, "xorstore_demo: plaintext found in %s\n", path);
        return 1;
    }
    printf("the file holds no plaintext key or value\n");
    return 0;
}
