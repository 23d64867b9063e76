/*
 * pt.h - cowtree-proptest: property and differential tests (docs/proptest.md).
 *
 * A case is a seeded sequence of ops (pt_case). The executor (exec.c) runs
 * it against cowtree and one reference backend in lockstep: the ordered-map
 * model (model.c), SQLite (prop_sqlite.c) or LMDB (prop_lmdb.c). Every op
 * yields an answer as canonical text from each side; the first answer that
 * differs, or a failed ct_check, fails the case, and shrink.c reduces it.
 *
 * Ownership: a pt_case owns its ops and every op owns its key bytes.
 * Determinism: everything follows from the case seed through a prng
 * (tools/prng/prng.h, the generator the simulator uses too); no clock, no
 * rand().
 */
#ifndef COWTREE_PROPTEST_PT_H
#define COWTREE_PROPTEST_PT_H

#include <stddef.h>
#include <stdint.h>

/* ---- Limits (each with its reason) ------------------------------------ */

/* Named buckets b1..b3 besides the default bucket 0: enough for
   independence and drop/re-create, few enough that ops hit them. */
#define PT_BUCKETS 4u
/* Open read txns at once (snapshot slots). */
#define PT_SNAPS 3u
/* Longest key we generate: cowtree's ct_key_max at 4096-byte pages. */
#define PT_KEY_BYTES_MAX 1024u
/* Values up to three 4096-byte pages (overflow runs of several pages)
   but for one in a hundred, which reach past 64 KiB. */
#define PT_VALUE_RUN_BYTES (3u * 4096u + 100u)
#define PT_VALUE_BYTES_MAX 70000u
/* A case that gives no answer in this long hangs (SIGALRM ends the process
   running it, and the case is reported as hung, not left to stall CI). */
#ifndef PT_CASE_SECONDS
#define PT_CASE_SECONDS 120u
#endif
/* Longest op sequence (--max-ops is capped here). */
#define PT_OPS_MAX 4096u
/* Entries a scan returns at most (bounds the answer text). */
#define PT_SCAN_MAX 64u
/* Moves in one cursor walk. */
#define PT_WALK_MOVES_MAX 24u
/* LMDB's default maximum key size (MDB_MAXKEYSIZE). */
#define PT_LMDB_KEY_MAX 511u

/* ---- Ops ---------------------------------------------------------------- */

typedef enum pt_kind {
    PT_PUT = 0,    /* flags: PT_F_NOOVERWRITE, PT_F_APPEND */
    PT_GET,        /* snap: -1 = the write txn, else a snapshot slot */
    PT_DEL,
    PT_SCAN,       /* from seek key (or an edge), count entries, dir */
    PT_WALK,       /* start (first/last/seek), then `count` moves, bit i of moves = prev */
    PT_COMMIT,
    PT_ABORT,
    PT_REOPEN,     /* ends snapshots, aborts the open write txn, closes, reopens */
    PT_BUCKET_CREATE,
    PT_BUCKET_DROP,
    PT_SNAP_BEGIN, /* opens a read txn in slot `snap` (ends the one there first) */
    PT_SNAP_END,
    PT_CHECK,      /* full scans of every bucket, both directions */
    PT_KINDS
} pt_kind;

#define PT_F_NOOVERWRITE 0x1u
#define PT_F_APPEND 0x2u

/* PT_SCAN / PT_WALK start position. */
#define PT_START_SEEK 0u
#define PT_START_FIRST 1u
#define PT_START_LAST 2u

typedef struct pt_op {
    uint8_t kind;
    uint8_t flags;  /* put flags */
    uint8_t bucket; /* 0 = default, 1..PT_BUCKETS-1 named "b1".. */
    int8_t snap;    /* -1: write txn; else snapshot slot (GET, SCAN, WALK, SNAP_*) */
    uint8_t start;  /* PT_START_* for SCAN and WALK */
    uint8_t dir;    /* SCAN: 0 forward, 1 backward */
    uint32_t count; /* SCAN: entries; WALK: moves */
    uint32_t moves; /* WALK: bit i set = move i is prev */
    uint32_t klen;
    uint8_t *key; /* owned; NULL when klen is 0 */
    uint32_t vlen;
    uint32_t vseed; /* value byte i = pt_value_byte(vseed, i) */
} pt_op;

typedef enum pt_prop {
    PT_PROP_MODEL = 0,
    PT_PROP_SQLITE,
    PT_PROP_LMDB,
    PT_PROP_SNAPSHOT,
    PT_PROP_REOPEN,
    PT_PROPS
} pt_prop;

typedef struct pt_case {
    pt_prop prop;
    uint32_t page_size;
    int durability; /* CT_SYNC_FULL / CT_SYNC_NONE */
    int map;        /* memstore map() on/off */
    uint64_t seed;  /* the case seed (for the report only) */
    uint32_t n;
    uint32_t cap;
    pt_op *ops;
} pt_case;

const char *pt_prop_name(pt_prop p);
int pt_prop_parse(const char *s, pt_prop *out);
const char *pt_kind_name(pt_kind k);

uint8_t pt_value_byte(uint32_t vseed, uint32_t i);
void pt_value_fill(uint8_t *buf, uint32_t vseed, uint32_t vlen);

/* case.c */
void pt_case_init(pt_case *c);
void pt_case_free(pt_case *c);
int pt_case_push(pt_case *c, const pt_op *op); /* copies op and its key; 0 or -1 (ENOMEM) */
int pt_case_copy(pt_case *dst, const pt_case *src);
uint32_t pt_key_max_for(uint32_t page_size); /* cowtree's ct_key_max, via a tiny db */

/* gen.c: a case for property p from seed, with at most max_ops ops. */
int pt_gen_case(pt_case *c, pt_prop p, uint64_t seed, uint32_t max_ops);

/* text.c: the readable replay format (docs/proptest.md). */
void pt_op_format(const pt_op *op, char *buf, size_t cap);
int pt_case_write(const pt_case *c, const char *path); /* 0 or -1 */
void pt_case_print(const pt_case *c, void *stream);    /* FILE * */
int pt_case_read(pt_case *c, const char *path, char *err, size_t errcap);

/* exec.c: runs c; 0 when every answer agreed. On failure fills why
   (op index and the two answers) and *fail_op (index of the failing op). */
typedef struct pt_result {
    int failed;
    uint32_t fail_op;
    char why[2048];
} pt_result;
int pt_exec(const pt_case *c, pt_result *res);
/* As pt_exec, in a forked child: a crash is reported as a failure. */
int pt_exec_isolated(const pt_case *c, pt_result *res);
/* res->why for a case whose process ended by signal sig (-1: unknown):
   hung (SIGALRM, PT_CASE_SECONDS) or crashed. */
void pt_why_signal(pt_result *res, int sig);

/* shrink.c: reduces a failing case in place; returns the number of runs. */
uint32_t pt_shrink(pt_case *c, pt_result *res, int verbose);

#endif /* COWTREE_PROPTEST_PT_H */
