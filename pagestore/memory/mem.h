/*
 * mem.h - private to pagestore/memory/: the memory store's state and the
 * interfaces between its files (memstore.c: vtable, options, info;
 * device.c: images, log, sync, crash, poke/peek; faults.c: fault decisions
 * and countdowns; snapshot.c; trace.c: the trace hash; prng.c).
 *
 * Invariants:
 *   1. A page buffer (ct__mem_page) is immutable once published: it is
 *      filled right after allocation and never written again. Sharing is
 *      by reference count (atomic: a snapshot may be freed without the
 *      store's lock, even after the store is closed).
 *   2. An image slot holding NULL is a page never written: it reads as
 *      zeros. Slots at or beyond an image's npages are meaningless.
 *   3. Each image slot, log entry page and pin holds one reference.
 *   4. A buffer whose pinned_by equals a store's id is in that store's pin
 *      list (it stays alive until close or ct_memstore_unmap_all).
 *   5. Every field of ct__mem_state is plain data: a struct copy saves it
 *      (snapshots, and the roll-back of an op that ran out of memory).
 *   6. With an inner store (a fault store, inner.c), `applied` names the
 *      buffers inner holds (slot by slot, NULL = zeros), unless
 *      inner_stale: then inner's contents are unknown and the next mirror
 *      rewrites every page. After every change of the durable image,
 *      applied == durable (or inner_stale and an error was returned).
 * Must never: include anything from core/, abort, or modify a published
 * page buffer.
 */
#ifndef CT_MEM_MEM_H
#define CT_MEM_MEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cowtree.h"
#include "cowtree/faultstore.h"
#include "cowtree/memstore.h"
#include "prng.h"

/* Log entry action at a crash or failed sync. */
enum { CT__MEM_DROP = 0, CT__MEM_WHOLE = 1, CT__MEM_TORN = 2 };

/* Trace record kinds (READ..RESIZE equal ct_memstore_op_kind). */
enum { CT__MEM_TRACE_CRASH = 4, CT__MEM_TRACE_POKE = 5 };

/* mis_index value of a write that landed where it was asked to. */
#define CT__MEM_NO_MISDIRECT UINT32_MAX

typedef struct ct__mem_page {
    _Atomic uint64_t refs;
    _Atomic uint64_t pinned_by; /* id of the store whose pin list holds it, 0 = none */
    unsigned char data[];       /* page_size bytes */
} ct__mem_page;

typedef struct ct__mem_image {
    ct__mem_page **pages; /* cap slots, npages meaningful */
    uint64_t npages;
    uint64_t cap;
} ct__mem_image;

typedef struct ct__mem_entry {
    ct__mem_page **pages; /* write: npages buffers; resize: NULL */
    uint64_t pgno;        /* write: first page; resize: the new size in pages */
    uint64_t mis_pgno;    /* write: where page mis_index landed instead */
    uint32_t npages;      /* write: page count; resize: 0 */
    uint32_t mis_index;   /* CT__MEM_NO_MISDIRECT unless misdirected */
    int is_write;
} ct__mem_entry;

typedef struct ct__mem_log {
    ct__mem_entry *entries;
    uint64_t count;
    uint64_t cap;
} ct__mem_log;

/* Sorted set of page numbers (sticky unreadable pages). */
typedef struct ct__mem_pgset {
    uint64_t *pgnos;
    uint64_t count;
    uint64_t cap;
} ct__mem_pgset;

typedef struct ct__mem_countdown {
    uint64_t remaining; /* ops of the kind until the failing one, 0 = off */
    int sticky;
    int tripped; /* sticky countdown fired: every op of the kind fails */
} ct__mem_countdown;

/* Every scalar of the store's state (see invariant 5). */
typedef struct ct__mem_state {
    ct__mem_prng prng;
    ct_memstore_faults faults;
    ct__mem_countdown countdown[CT_MEMSTORE_OP_KINDS];
    uint64_t power_cut_at; /* UINT64_MAX = never */
    int power_out;
    uint64_t ops;
    uint64_t reads;
    uint64_t writes;
    uint64_t syncs;
    uint64_t resizes;
    uint64_t faults_injected[CT_MEMSTORE_FAULT_KINDS];
    uint64_t countdown_failures[CT_MEMSTORE_OP_KINDS];
    uint64_t trace_hash;
} ct__mem_state;

typedef struct ct__memstore {
    ct_pagestore base; /* first: a ct_pagestore * is a ct__memstore * */
    pthread_mutex_t lock;
    uint64_t id;        /* unique per store in the process, never 0 */
    uint64_t max_pages; /* 0 = unlimited */
    ct__mem_state st;
    ct__mem_image durable;
    ct__mem_image view;
    ct__mem_log log;
    ct__mem_pgset sticky;
    ct__mem_page **pins; /* buffers map() handed out (invariant 4) */
    uint64_t npins;
    uint64_t cap_pins;
    /* Fault store only (inner.c); inner NULL for a memory store. */
    ct_pagestore *inner;
    ct__mem_image applied; /* invariant 6 */
    int inner_stale;
    ct_faultstore_info finfo;
} ct__memstore;

struct ct_memstore_snapshot {
    uint32_t page_size;
    ct__mem_state st;
    ct__mem_image durable;
    ct__mem_image view;
    ct__mem_log log;
    ct__mem_pgset sticky;
};

/* memstore.c */
ct__memstore *ct__mem_from(ct_pagestore *ps); /* NULL unless ps is a memstore */
/* A new store of the given page size with the options' fault state; ops
   chosen by enable_map and inner (a fault store never maps). */
int ct__mem_new(const ct_memstore_options *opt, uint32_t page_size, int has_inner,
                ct__memstore **out);

/* inner.c (store locked): the fault store's traffic to its inner store. */
/* Reads view page pgno into out: from inner when inner holds the same
   buffer as the view, else from the view's buffer. */
int ct__mem_read_page(ct__memstore *s, uint64_t pgno, unsigned char *out);
/* Makes inner hold the durable image (only differing pages are written),
   then syncs inner when do_sync. No-op without inner. */
int ct__mem_mirror(ct__memstore *s, int do_sync);
void ct__mem_inner_close(ct__memstore *s);

/* device.c: page buffers */
ct__mem_page *ct__mem_page_new(uint32_t page_size); /* refs 1, data uninitialised */
void ct__mem_page_ref(ct__mem_page *p);             /* NULL-safe */
void ct__mem_page_unref(ct__mem_page *p);           /* NULL-safe; frees at 0 */

/* device.c: images */
int ct__mem_image_reserve(ct__mem_image *img, uint64_t npages);
void ct__mem_image_resize(ct__mem_image *img, uint64_t npages); /* cap reserved */
int ct__mem_image_copy(ct__mem_image *dst, const ct__mem_image *src, uint64_t cap_min);
void ct__mem_image_release(ct__mem_image *img);
/* Bytes of page pgno of img into out (zeros if never written). */
void ct__mem_image_read(const ct__mem_image *img, uint32_t page_size, uint64_t pgno,
                        unsigned char *out);

/* device.c: the log */
int ct__mem_log_copy(ct__mem_log *dst, const ct__mem_log *src);
void ct__mem_log_release(ct__mem_log *log);

/* The bytes of one write: a single buffer (write) or one pointer per page
   (writev). Either way the device sees one write of the run. */
typedef struct ct__mem_src {
    const unsigned char *buf; /* npages * page_size bytes, or NULL */
    const void *const *pages; /* used when buf is NULL */
} ct__mem_src;

/* Page k of src (page_size bytes). */
static inline const unsigned char *ct__mem_src_page(const ct__mem_src *src, uint32_t k,
                                                    uint32_t page_size)
{
    return src->buf ? src->buf + (size_t)k * page_size : (const unsigned char *)src->pages[k];
}

/* device.c: the device operations (store locked, op already numbered).
   A write always shows in the view where it was meant to go (the page
   cache serves what the program wrote); the log records what the device
   does: the entry (with a misdirected page's landing) or, lost, nothing. */
int ct__mem_device_write(ct__memstore *s, const ct__mem_entry *proto, const ct__mem_src *src,
                         int lost);
int ct__mem_device_resize(ct__memstore *s, uint64_t npages);
int ct__mem_device_sync(ct__memstore *s);
int ct__mem_device_sync_failed(ct__memstore *s);

/* faults.c (store locked) */
int ct__mem_fault_hits(ct__mem_state *st, ct_memstore_fault_kind kind);
int ct__mem_countdown_fires(ct__mem_state *st, ct_memstore_op_kind kind);
int ct__mem_pgset_any_in(const ct__mem_pgset *set, uint64_t pgno, uint32_t npages);
int ct__mem_pgset_add(ct__mem_pgset *set, uint64_t pgno);
int ct__mem_pgset_copy(ct__mem_pgset *dst, const ct__mem_pgset *src);
void ct__mem_pgset_release(ct__mem_pgset *set);

/* trace.c */
uint64_t ct__mem_content_hash(const void *buf, size_t len);
/* ct__mem_content_hash of the npages pages of src laid end to end. */
uint64_t ct__mem_content_hash_src(const ct__mem_src *src, uint32_t npages, uint32_t page_size);
void ct__mem_trace(ct__mem_state *st, uint32_t kind, uint64_t pgno, uint64_t npages,
                   uint64_t content, int rc);

#endif
