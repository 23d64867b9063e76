/*
 * tool.h - shared declarations of the cowtree command-line tool: exit
 * codes, the subcommand table, byte buffers, the text encodings
 * (escape.c), opening a database with one-line error reports (main.c) and
 * the read-only catalog reader (catalog.c).
 *
 * The tool uses only the public API (include/), except catalog.c, which
 * reads the documented on-disk format (docs/format.md) read-only to list
 * bucket names, because the API has no way to enumerate buckets.
 */
#ifndef COWTREE_TOOL_H
#define COWTREE_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cowtree.h"

/* Exit codes (documented in docs/cowtree.1). */
#define TOOL_EXIT_OK 0
#define TOOL_EXIT_NOTFOUND 1 /* key or bucket absent, or the database is corrupt */
#define TOOL_EXIT_USAGE 2    /* bad command line */
#define TOOL_EXIT_ERROR 3    /* anything else: I/O, locked, missing file, bad input */

/* Entries between two progress updates and between load commits. */
#define TOOL_PROGRESS_EVERY 4096u
#define TOOL_LOAD_BATCH_ENTRIES 10000u
#define TOOL_LOAD_BATCH_BYTES ((size_t)16 << 20)

/* A growable byte buffer. */
typedef struct tool_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} tool_buf;

int tool_buf_reserve(tool_buf *b, size_t extra);
int tool_buf_append(tool_buf *b, const void *p, size_t n);
void tool_buf_free(tool_buf *b);

/* ---- escape.c: text forms of byte strings ---- */

/* Appends lowercase hex (two digits per byte). Returns 0 or -1 (no memory). */
int tool_hex_encode(tool_buf *out, const void *p, size_t n);
/* Decodes hex (either case, even length, no separators). Returns 0, or -1
   with *why set to a static reason. */
int tool_hex_decode(tool_buf *out, const char *s, size_t n, const char **why);
/* Printable form (as mdb_dump -p): bytes 0x20..0x7e except backslash as
   themselves, backslash as two backslashes, every other byte as a
   backslash and two hex digits. The result never holds a control byte. */
int tool_print_encode(tool_buf *out, const void *p, size_t n);
/* Inverse of tool_print_encode. Returns 0, or -1 with *why set. */
int tool_print_decode(tool_buf *out, const char *s, size_t n, const char **why);
/* Writes p[0..n) to f in printable form. Returns 0 or -1 (write error). */
int tool_print_escaped(FILE *f, const void *p, size_t n);

/* ---- main.c: helpers shared by the subcommands ---- */

#define TOOL_OPEN_READ 0   /* read-only, the file must exist */
#define TOOL_OPEN_WRITE 1  /* read-write, the file must exist */
#define TOOL_OPEN_CREATE 2 /* read-write, created if missing */

/* Opens path; on failure prints one line naming cmd, path and the reason
   and returns the exit code; 0 on success. page_size applies to a new file
   (0 = default). */
int tool_open(const char *cmd, const char *path, int mode, uint32_t page_size, ct_db **out);
/* Prints "cowtree CMD: PATH: WHAT: CT_NAME (message)" on stderr; returns the
   exit code that rc maps to. what may be NULL. */
int tool_fail(const char *cmd, const char *path, const char *what, int rc);
/* Maps a CT_* code to an exit code. */
int tool_exit_code(int rc);
/* Prints a usage error and returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens bucket name (NULL = the default bucket: *out = NULL) in txn, or
   prints one line and returns the exit code (1 for a missing bucket). */
int tool_open_bucket(const char *cmd, const char *path, ct_txn *txn, const char *name,
                     unsigned flags, ct_bucket **out);
/* Reads a whole file (path "-" = stdin) into out. Returns 0 or -1 with
   errno set. */
int tool_read_file(const char *path, tool_buf *out);
/* Parses an unsigned decimal argument; returns 0 or -1. */
int tool_parse_u64(const char *s, uint64_t *out);
/* 1 when stderr is a terminal (progress is shown only then). */
int tool_progress_enabled(void);

/* ---- catalog.c: the on-disk catalog, read-only ---- */

typedef struct tool_bucket_info {
    uint8_t name[CT_BUCKET_NAME_MAX + 1]; /* NUL-terminated */
    size_t name_len;
    uint32_t depth;
    uint64_t entries;
    uint64_t root;
    uint64_t root_gen;
} tool_bucket_info;

/* Tree shape gathered by tool_tree_walk. */
typedef struct tool_tree_stats {
    uint64_t branch_pages;
    uint64_t leaf_pages;
    uint64_t overflow_pages;
    uint64_t branch_used_bytes; /* header + slots + cells */
    uint64_t leaf_used_bytes;
    uint64_t overflow_value_bytes;
    uint64_t key_bytes;
    uint64_t value_bytes;
} tool_tree_stats;

typedef struct tool_catalog {
    int fd;
    uint32_t page_size;
    uint64_t txnid;
    uint64_t meta_slot;
    uint64_t hwm;
    uint64_t freelist_entries;
    tool_bucket_info main_tree; /* the default bucket (name "") */
    tool_bucket_info catalog_tree;
    tool_bucket_info *buckets; /* sorted by name */
    size_t bucket_count;
    uint64_t problem_pgno; /* page of the first problem when CT_CORRUPT */
    const char *problem;
} tool_catalog;

/* Reads the meta of commit txnid (the snapshot of a read txn on the same
   file) and every named bucket's descriptor. Returns CT_OK, CT_CORRUPT
   (problem_pgno and problem set), CT_IO, CT_NOMEM. */
int tool_catalog_read(const char *path, uint32_t page_size, uint64_t txnid, tool_catalog *cat);
/* Walks a tree, adding its pages and bytes to st. */
int tool_tree_walk(tool_catalog *cat, const tool_bucket_info *tree, tool_tree_stats *st);
void tool_catalog_close(tool_catalog *cat);

/* ---- subcommands: each returns an exit code; argv[0] is the name ---- */

int cmd_stat(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_buckets(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_copy(int argc, char **argv);

#endif /* COWTREE_TOOL_H */
