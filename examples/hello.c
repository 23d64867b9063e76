/*
 * hello.c - the smallest complete cowtree program: open a file database,
 * write a few keys in one write txn, commit, read them back in a read txn,
 * walk them in order with a cursor, close. Every call's rc is checked: an
 * unexpected one is printed with ct_strerror and the program exits 1.
 *
 * Usage: hello [PATH]   (default: hello.cowtree in the current directory)
 */
#include <stdio.h>
#include <string.h>

#include "cowtree.h"

/* Prints what failed and returns nonzero, so callers can write
   `if (failed(rc, "ct_put")) goto out;`. */
static int failed(int rc, const char *what)
{
    if (rc == CT_OK) {
        return 0;
    }
    fprintf(stderr, "hello: %s: %s (%s)\n", what, ct_strerror(rc), ct_errname(rc));
    return 1;
}

static const char *const fruit[][2] = {
    {"apple", "red"},
    {"banana", "yellow"},
    {"cherry", "dark red"},
    {"kiwi", "green"},
};
#define FRUIT_COUNT (sizeof(fruit) / sizeof(fruit[0]))

static int write_fruit(ct_db *db)
{
    ct_txn *txn = NULL;
    if (failed(ct_begin(db, 0, &txn), "ct_begin (write)")) {
        return 1;
    }
    for (size_t i = 0; i < FRUIT_COUNT; i++) {
        int rc = ct_put(txn, NULL, fruit[i][0], strlen(fruit[i][0]), fruit[i][1],
                        strlen(fruit[i][1]), 0);
        if (failed(rc, "ct_put")) {
            ct_abort(txn);
            return 1;
        }
        printf("put    %s = %s\n", fruit[i][0], fruit[i][1]);
    }
    /* ct_commit ends the txn whatever it returns: no abort after it. */
    if (failed(ct_commit(txn), "ct_commit")) {
        return 1;
    }
    printf("commit ok: %zu keys are durable\n", FRUIT_COUNT);
    return 0;
}

/* Point lookups, then an ordered scan; both must see exactly what we wrote. */
static int read_fruit(ct_txn *txn)
{
    for (size_t i = 0; i < FRUIT_COUNT; i++) {
        const void *val = NULL;
        size_t vlen = 0;
        if (failed(ct_get(txn, NULL, fruit[i][0], strlen(fruit[i][0]), &val, &vlen), "ct_get")) {
            return 1;
        }
        if (vlen != strlen(fruit[i][1]) || memcmp(val, fruit[i][1], vlen) != 0) {
            fprintf(stderr, "hello: ct_get(%s) returned the wrong value\n", fruit[i][0]);
            return 1;
        }
        printf("get    %s -> %.*s\n", fruit[i][0], (int)vlen, (const char *)val);
    }
    ct_cursor *c = NULL;
    if (failed(ct_cursor_open(txn, NULL, &c), "ct_cursor_open")) {
        return 1;
    }
    size_t seen = 0;
    int rc = ct_cursor_first(c);
    for (; rc == CT_OK; rc = ct_cursor_next(c)) {
        const void *key = NULL;
        const void *val = NULL;
        size_t klen = 0;
        size_t vlen = 0;
        if (failed(ct_cursor_get(c, &key, &klen, &val, &vlen), "ct_cursor_get")) {
            break;
        }
        printf("cursor %.*s = %.*s\n", (int)klen, (const char *)key, (int)vlen, (const char *)val);
        seen++;
    }
    ct_cursor_close(c);
    /* The scan ends with CT_NOTFOUND (past the last key), nothing else. */
    if (rc != CT_NOTFOUND && rc != CT_OK) {
        return failed(rc, "ct_cursor_next");
    }
    if (rc == CT_OK || seen != FRUIT_COUNT) {
        fprintf(stderr, "hello: cursor saw %zu keys, expected %zu\n", seen, FRUIT_COUNT);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "hello.cowtree";
    ct_db *db = NULL;
    if (failed(ct_open_path(path, NULL, &db), "ct_open_path")) {
        return 1;
    }
    printf("opened %s\n", path);
    int bad = write_fruit(db);
    ct_txn *txn = NULL;
    if (!bad && !failed(ct_begin(db, CT_TXN_RDONLY, &txn), "ct_begin (read)")) {
        bad = read_fruit(txn);
        ct_abort(txn); /* a read txn just ends */
    } else {
        bad = 1;
    }
    ct_close(db);
    printf("%s\n", bad ? "hello: FAILED" : "closed: all good");
    return bad;
}
