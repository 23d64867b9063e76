/*
 * fuzz_open.c - libFuzzer target: a store image built from the input is
 * opened, scanned both ways, read, written, committed, checked and
 * reopened. Whatever the bytes, only CT_* codes may come back: no crash,
 * no sanitizer report, no leak, no hang, and no allocation sized by a
 * length field (a counting allocator aborts above ALLOC_ONE_MAX_BYTES for
 * one block or ALLOC_LIVE_MAX_BYTES live).
 *
 * A meta whose hwm lies past the end of the store is rejected at open
 * (it once sized ct_check's bitmap and the next commit's writes: the
 * corpus keeps both inputs as regress-*-hwm-*).
 *
 * Input format (zeros past the end, see fuzz_common.h):
 *   byte 0   bits 0-2 page size 512 << n; bit 3 store without map; bit 4
 *            open CT_RDONLY; bit 5 seal: recompute every page's crc32c
 *            (overflow runs over their whole run) so mutations get past
 *            the checksum; bit 6 CT_SYNC_NONE; bit 7 set each header's
 *            pgno to the page's own number before sealing
 *   byte 1   pages in the image: 2 + byte % 15
 *   pages    each sparse, so large pages cost few input bytes: u16 head
 *            length, the bytes at the start of the page; u16 tail
 *            length, the bytes at the end of the page; zeros between
 *   rest     actions after a successful open: keys to get, put, delete
 *            (each a length byte and bytes), a value length byte
 */
#include <stdlib.h>
#include <string.h>

#include "cowtree/memstore.h"
#include "crc32c.h"
#include "fuzz_common.h"
#include "page.h"

#define PAGES_MAX 16u
#define ALLOC_ONE_MAX_BYTES (32u << 20)  /* no legit block is this large here */
#define ALLOC_LIVE_MAX_BYTES (256u << 20) /* images are at most 1 MiB */
#define SCAN_STEPS_MAX 20000u             /* the largest image holds far fewer */
#define ALLOC_HDR_BYTES 16u               /* size prefix, keeps max_align_t */

/* ---- counting allocator ---------------------------------------------- */

typedef struct alloc_stats {
    size_t live_bytes;
} alloc_stats;

static void *a_realloc(void *ctx, void *ptr, size_t size)
{
    alloc_stats *s = ctx;
    FZ_CHECK(size <= ALLOC_ONE_MAX_BYTES, "allocation of %zu bytes", size);
    size_t old = 0;
    uint8_t *base = NULL;
    if (ptr) {
        base = (uint8_t *)ptr - ALLOC_HDR_BYTES;
        memcpy(&old, base, sizeof(old));
    }
    FZ_CHECK(s->live_bytes - old + size <= ALLOC_LIVE_MAX_BYTES, "%zu bytes live",
             s->live_bytes - old + size);
    uint8_t *n = realloc(base, size + ALLOC_HDR_BYTES);
    if (!n) {
        return NULL;
    }
    s->live_bytes = s->live_bytes - old + size;
    memcpy(n, &size, sizeof(size));
    return n + ALLOC_HDR_BYTES;
}

static void *a_malloc(void *ctx, size_t size)
{
    return a_realloc(ctx, NULL, size);
}

static void a_free(void *ctx, void *ptr)
{
    alloc_stats *s = ctx;
    if (!ptr) {
        return;
    }
    uint8_t *base = (uint8_t *)ptr - ALLOC_HDR_BYTES;
    size_t old = 0;
    memcpy(&old, base, sizeof(old));
    s->live_bytes -= old;
    free(base);
}

/* ---- image ------------------------------------------------------------- */

static void seal_pages(uint8_t *img, uint32_t page_size, uint32_t npages, int fix_pgno)
{
    for (uint32_t i = 0; i < npages; i++) {
        uint8_t *p = img + (size_t)i * page_size;
        if (p[CT_PH_TYPE] < CT_PT_META || p[CT_PH_TYPE] > CT_PT_FREELIST) {
            continue;
        }
        if (fix_pgno) {
            ct__put64(p + CT_PH_PGNO, i);
        }
        uint64_t run = 1;
        if (p[CT_PH_TYPE] == CT_PT_OVERFLOW && ct__ph_upper(p) >= 1 &&
            ct__ph_upper(p) <= npages - i) {
            run = ct__ph_upper(p);
        }
        size_t run_bytes = (size_t)run * page_size;
        ct__put32(p + CT_PH_CRC, ct__crc32c(0, p + 4, run_bytes - 4));
    }
}

/* Decodes the image; returns it (npages * page_size bytes). */
static uint8_t *read_image(fz_in *in, uint32_t page_size, uint32_t npages)
{
    uint8_t *img = calloc(npages, page_size);
    FZ_CHECK(img != NULL, "out of memory");
    for (uint32_t i = 0; i < npages; i++) {
        uint8_t *p = img + (size_t)i * page_size;
        uint32_t head = fz_u16(in);
        head = head < page_size ? head : page_size;
        fz_bytes(in, p, head);
        uint32_t tail = fz_u16(in);
        tail = tail < page_size - head ? tail : page_size - head;
        fz_bytes(in, p + page_size - tail, tail);
    }
    return img;
}

/* ---- actions ------------------------------------------------------------ */

#define RC_OK(rc) FZ_CHECK(fz_is_ct_code(rc), "rc %d is not a CT_* code", (rc))

static size_t read_key(fz_in *in, uint8_t *k)
{
    size_t len = fz_u8(in);
    fz_bytes(in, k, len);
    return len;
}

/* Walks the cursor in one direction; every rc must be a CT_* code. */
static void walk(ct_cursor *c, int backward)
{
    int rc = backward ? ct_cursor_last(c) : ct_cursor_first(c);
    for (unsigned n = 0; rc == CT_OK && n < SCAN_STEPS_MAX; n++) {
        const void *k = NULL;
        const void *v = NULL;
        size_t kl = 0;
        size_t vl = 0;
        rc = ct_cursor_get(c, &k, &kl, &v, &vl);
        RC_OK(rc);
        if (rc == CT_OK && vl) {
            /* Touch the value's first and last bytes: ASan checks the range. */
            volatile uint8_t sink = ((const uint8_t *)v)[0];
            sink = ((const uint8_t *)v)[vl - 1];
            (void)sink;
        }
        rc = backward ? ct_cursor_prev(c) : ct_cursor_next(c);
    }
    RC_OK(rc);
}

static void read_all(ct_db *db, fz_in *in)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, CT_TXN_RDONLY, &t);
    RC_OK(rc);
    if (rc != CT_OK) {
        return;
    }
    ct_cursor *c = NULL;
    rc = ct_cursor_open(t, NULL, &c);
    RC_OK(rc);
    if (rc == CT_OK) {
        walk(c, 0);
        walk(c, 1);
        uint8_t k[256];
        size_t klen = read_key(in, k);
        RC_OK(ct_cursor_seek(c, k, klen));
        RC_OK(ct_cursor_next(c));
        ct_cursor_close(c);
    }
    uint8_t k[256];
    size_t klen = read_key(in, k);
    const void *v = NULL;
    size_t vl = 0;
    RC_OK(ct_get(t, NULL, k, klen, &v, &vl));
    ct_bucket *b = NULL;
    rc = ct_bucket_open(t, "b1", 0, &b);
    RC_OK(rc);
    if (rc == CT_OK && ct_cursor_open(t, b, &c) == CT_OK) {
        walk(c, 0);
        ct_cursor_close(c);
    }
    ct_abort(t);
}

static void write_some(ct_db *db, fz_in *in, uint8_t *vbuf)
{
    ct_txn *t = NULL;
    int rc = ct_begin(db, 0, &t);
    RC_OK(rc);
    if (rc != CT_OK) {
        return;
    }
    uint8_t k[256];
    size_t klen = read_key(in, k);
    size_t vlen = (size_t)fz_u8(in) * 40u; /* up to 10200: overflow runs */
    fz_val_fill(vbuf, vlen, 7);
    RC_OK(ct_put(t, NULL, k, klen, vbuf, vlen, 0));
    klen = read_key(in, k);
    RC_OK(ct_del(t, NULL, k, klen));
    ct_bucket *b = NULL;
    rc = ct_bucket_open(t, "b1", CT_CREATE, &b);
    RC_OK(rc);
    if (rc == CT_OK) {
        RC_OK(ct_put(t, b, "x", 1, vbuf, vlen / 2, 0));
    }
    RC_OK(ct_bucket_drop(t, "b2"));
    RC_OK(ct_commit(t));
}

static void check(ct_db *db, alloc_stats *stats)
{
    (void)stats;
    ct_check_report rep;
    RC_OK(ct_check(db, &rep));
    struct ct_stat st;
    RC_OK(ct_stat(db, &st));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t cfg = fz_u8(&in);
    uint32_t page_size = 512u << (cfg & 7u);
    uint32_t npages = 2u + fz_u8(&in) % (PAGES_MAX - 1u);
    uint8_t *img = read_image(&in, page_size, npages);
    if (cfg & 0x20u) {
        seal_pages(img, page_size, npages, cfg & 0x80u);
    }
    ct_memstore_options mo;
    ct_memstore_options_init(&mo);
    mo.page_size = page_size;
    mo.enable_map = !(cfg & 8u);
    ct_pagestore *ps = NULL;
    FZ_RC(ct_memstore_create(&mo, &ps), CT_OK);
    for (uint32_t i = 0; i < npages; i++) {
        FZ_RC(ct_memstore_poke(ps, i, img + (size_t)i * page_size), CT_OK);
    }
    free(img);
    alloc_stats stats = {0};
    ct_allocator al = {a_malloc, a_realloc, a_free, &stats};
    ct_options o;
    ct_options_init(&o);
    o.flags = (cfg & 0x10u) ? CT_RDONLY : 0u;
    o.durability = (cfg & 0x40u) ? CT_SYNC_NONE : CT_SYNC_FULL;
    o.cache_pages = 4;
    o.alloc = &al;
    uint8_t *vbuf = malloc(255u * 40u);
    FZ_CHECK(vbuf != NULL, "out of memory");
    for (int round = 0; round < 2; round++) {
        ct_db *db = NULL;
        int rc = ct_open(ps, &o, &db);
        RC_OK(rc);
        if (rc != CT_OK) {
            break;
        }
        read_all(db, &in);
        check(db, &stats);
        struct ct_stat st;
        memset(&st, 0, sizeof(st));
        RC_OK(ct_stat(db, &st));
        FZ_CHECK(st.pages_total <= st.store_pages, "hwm %llu past the store's %llu pages",
                 (unsigned long long)st.pages_total, (unsigned long long)st.store_pages);
        if (!(o.flags & CT_RDONLY)) {
            write_some(db, &in, vbuf);
            check(db, &stats);
            RC_OK(ct_sync(db));
        }
        ct_close(db);
    }
    FZ_CHECK(stats.live_bytes == 0, "%zu bytes still allocated after ct_close",
             stats.live_bytes);
    free(vbuf);
    ps->ops->close(ps);
    return 0;
}
