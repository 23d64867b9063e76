/*
 * tool.h - shared declarations of the cowtree command-line tool: exit
 * codes, the subcommand table, byte buffers, the text encodings
 * (escape.c), opening a database with one-line error reports and the list
 * of bucket names (main.c).
 *
 * The tool uses only the public API (include/): bucket names come from
 * ct_bucket_list, tree shapes from ct_bucket_stat, page counts from
 * ct_check. It never reads the file itself.
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

#define TOOL_OPEN_READ 0    /* read-only, the file must exist */
#define TOOL_OPEN_WRITE 1   /* read-write, the file must exist */
#define TOOL_OPEN_CREATE 2  /* read-write, created if missing */
#define TOOL_OPEN_INSPECT 3 /* as READ, without the warning (reported elsewhere) */

/* Opens path; on failure prints one line naming cmd, path and the reason
   and returns the exit code; 0 on success. page_size applies to a new file
   (0 = default). When open recovered an older commit than the newest the
   file holds (ct_stat: rejected_txnid, meta_slots_invalid), a warning
   line says so on stderr (not for TOOL_OPEN_INSPECT). */
int tool_open(const char *cmd, const char *path, int mode, uint32_t page_size, ct_db **out);
/* tool_open(TOOL_OPEN_CREATE) for a missing or empty file, else
   tool_open(TOOL_OPEN_WRITE): an existing file with bytes in it is never
   made a new database (the engine takes a small file with no valid meta
   for a creation a crash cut short, and would overwrite it). *created = 1
   when this call made the file (it did not exist). */
int tool_open_create(const char *cmd, const char *path, uint32_t page_size, ct_db **out,
                     int *created);
/* Closes db (NULL is a no-op). When the command failed (code != 0) and it
   created the file, which holds no commit but its creation's, the file is
   removed first (while the lock is still held): a failed put or load
   leaves no empty database behind. */
void tool_close_created(ct_db *db, const char *path, int created, int code);
/* Prints "cowtree CMD: PATH: WHAT: CT_NAME (message)" on stderr; returns the
   exit code that rc maps to. what may be NULL. */
int tool_fail(const char *cmd, const char *path, const char *what, int rc);
/* Maps a CT_* code to an exit code. */
int tool_exit_code(int rc);
/* 1, after a usage error naming cmd, when name (a -b argument) is no
   name a bucket can have (empty, or over CT_BUCKET_NAME_MAX bytes). */
int tool_bucket_arg_bad(const char *cmd, const char *name);
/* Prints a usage error and returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct option;
/* The option getopt_long just returned c for, as the user wrote it, for
   an error message: "--name" when a long option matched (longindex >= 0),
   "-x" for a short one, even inside a bundle such as -Nx (where
   argv[optind - 1] is still the word before it), else the word itself
   (an unknown long option). Valid until the next call. */
const char *tool_option_word(char *const *argv, int c, const struct option *opts, int longindex);
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

/* ---- main.c: the named buckets of a txn (ct_bucket_list) ---- */

typedef struct tool_bucket_name {
    char name[CT_BUCKET_NAME_MAX + 1]; /* NUL-terminated */
    size_t name_len;
} tool_bucket_name;

typedef struct tool_bucket_names {
    tool_bucket_name *v; /* in name order */
    size_t count;
} tool_bucket_names;

/* Collects the names of txn's named buckets. Returns CT_OK, or an error of
   ct_bucket_list (CT_CORRUPT, CT_IO, CT_NOMEM); out is empty then. */
int tool_bucket_names_get(ct_txn *txn, tool_bucket_names *out);
void tool_bucket_names_free(tool_bucket_names *names);

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
