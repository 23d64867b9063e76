/*
 * faults.c - the memory store's fault decisions: seeded ratio faults,
 * SQLite-style countdowns, and the set of sticky unreadable pages.
 *
 * Owns: ct__mem_state.faults, .countdown, .faults_injected,
 * .countdown_failures, the store PRNG's use for fault decisions, and the
 * sticky page set.
 * Invariants: a decision draws from the store PRNG only when its ratio is
 * on (den != 0), so for a given seed, rate set and op sequence every
 * decision replays identically. Every injected fault is counted once, when
 * it is injected.
 * Must never: read a clock or rand(), touch page data, or fail an op by
 * itself (callers turn a decision into a result code).
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* The info array is indexed by field order: pin that order. */
_Static_assert(offsetof(ct_memstore_faults, write_error) ==
                   CT_MEMSTORE_FAULT_WRITE_ERROR * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, read_error) ==
                   CT_MEMSTORE_FAULT_READ_ERROR * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, read_error_sticky) ==
                   CT_MEMSTORE_FAULT_READ_ERROR_STICKY * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, sync_error) ==
                   CT_MEMSTORE_FAULT_SYNC_ERROR * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, bit_rot) ==
                   CT_MEMSTORE_FAULT_BIT_ROT * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, misdirected_write) ==
                   CT_MEMSTORE_FAULT_MISDIRECTED_WRITE * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, lost_write) ==
                   CT_MEMSTORE_FAULT_LOST_WRITE * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, lost_sync) ==
                   CT_MEMSTORE_FAULT_LOST_SYNC * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, nospace) ==
                   CT_MEMSTORE_FAULT_NOSPACE * sizeof(ct_ratio),
               "fault index order");
_Static_assert(offsetof(ct_memstore_faults, misdirected_read) ==
                   CT_MEMSTORE_FAULT_MISDIRECTED_READ * sizeof(ct_ratio),
               "fault index order");
_Static_assert(sizeof(ct_memstore_faults) == CT_MEMSTORE_FAULT_KINDS * sizeof(ct_ratio),
               "one ratio per fault kind");
_Static_assert(sizeof(((ct_memstore_info *)0)->faults_injected) ==
                   CT_MEMSTORE_FAULT_KINDS * sizeof(uint64_t),
               "one counter per fault kind");

static ct_ratio ratio_of(const ct_memstore_faults *f, ct_memstore_fault_kind kind)
{
    switch (kind) {
    case CT_MEMSTORE_FAULT_WRITE_ERROR:
        return f->write_error;
    case CT_MEMSTORE_FAULT_READ_ERROR:
        return f->read_error;
    case CT_MEMSTORE_FAULT_READ_ERROR_STICKY:
        return f->read_error_sticky;
    case CT_MEMSTORE_FAULT_SYNC_ERROR:
        return f->sync_error;
    case CT_MEMSTORE_FAULT_BIT_ROT:
        return f->bit_rot;
    case CT_MEMSTORE_FAULT_MISDIRECTED_WRITE:
        return f->misdirected_write;
    case CT_MEMSTORE_FAULT_LOST_WRITE:
        return f->lost_write;
    case CT_MEMSTORE_FAULT_LOST_SYNC:
        return f->lost_sync;
    case CT_MEMSTORE_FAULT_NOSPACE:
        return f->nospace;
    case CT_MEMSTORE_FAULT_MISDIRECTED_READ:
        return f->misdirected_read;
    case CT_MEMSTORE_FAULT_KINDS:
        break;
    }
    ct_ratio off = {0, 0};
    return off;
}

int ct__mem_fault_hits(ct__mem_state *st, ct_memstore_fault_kind kind)
{
    ct_ratio r = ratio_of(&st->faults, kind);
    if (r.den == 0) {
        return 0;
    }
    /* Always draw when the rate is on (even at num >= den), so the draw
       sequence depends on the rate set only through which rates are on. */
    uint64_t draw = ct__mem_prng_below(&st->prng, r.den);
    if (draw >= r.num) {
        return 0;
    }
    st->faults_injected[kind]++;
    return 1;
}

int ct__mem_countdown_fires(ct__mem_state *st, ct_memstore_op_kind kind)
{
    ct__mem_countdown *cd = &st->countdown[kind];
    int fires = 0;
    if (cd->tripped) {
        fires = 1;
    } else if (cd->remaining != 0) {
        cd->remaining--;
        if (cd->remaining == 0) {
            fires = 1;
            cd->tripped = cd->sticky;
        }
    }
    if (fires) {
        st->countdown_failures[kind]++;
    }
    return fires;
}

/* Index of the first element >= pgno. */
static uint64_t pgset_lower_bound(const ct__mem_pgset *set, uint64_t pgno)
{
    uint64_t lo = 0;
    uint64_t hi = set->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2u;
        if (set->pgnos[mid] < pgno) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int ct__mem_pgset_any_in(const ct__mem_pgset *set, uint64_t pgno, uint32_t npages)
{
    uint64_t i = pgset_lower_bound(set, pgno);
    return i < set->count && set->pgnos[i] - pgno < npages;
}

int ct__mem_pgset_add(ct__mem_pgset *set, uint64_t pgno)
{
    uint64_t i = pgset_lower_bound(set, pgno);
    if (i < set->count && set->pgnos[i] == pgno) {
        return CT_OK;
    }
    if (set->count == set->cap) {
        uint64_t cap = set->cap ? set->cap * 2u : 8u;
        if (cap > SIZE_MAX / sizeof(uint64_t)) {
            return CT_NOMEM;
        }
        uint64_t *p = realloc(set->pgnos, (size_t)cap * sizeof(uint64_t));
        if (!p) {
            return CT_NOMEM;
        }
        set->pgnos = p;
        set->cap = cap;
    }
    memmove(set->pgnos + i + 1, set->pgnos + i, (size_t)(set->count - i) * sizeof(uint64_t));
    set->pgnos[i] = pgno;
    set->count++;
    return CT_OK;
}

int ct__mem_pgset_copy(ct__mem_pgset *dst, const ct__mem_pgset *src)
{
    memset(dst, 0, sizeof *dst);
    if (src->count == 0) {
        return CT_OK;
    }
    dst->pgnos = malloc((size_t)src->count * sizeof(uint64_t));
    if (!dst->pgnos) {
        return CT_NOMEM;
    }
    memcpy(dst->pgnos, src->pgnos, (size_t)src->count * sizeof(uint64_t));
    dst->count = src->count;
    dst->cap = src->count;
    return CT_OK;
}

void ct__mem_pgset_release(ct__mem_pgset *set)
{
    free(set->pgnos);
    memset(set, 0, sizeof *set);
}

int ct_memstore_set_faults(ct_pagestore *ps, const ct_memstore_faults *faults, uint64_t seed)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    if (faults) {
        s->st.faults = *faults;
    } else {
        memset(&s->st.faults, 0, sizeof s->st.faults);
    }
    if (seed != 0) {
        ct__mem_prng_seed(&s->st.prng, seed);
    }
    ct__mem_pgset_release(&s->sticky);
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

int ct_memstore_fail_nth(ct_pagestore *ps, ct_memstore_op_kind kind, uint64_t n, int sticky)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s || (unsigned)kind >= (unsigned)CT_MEMSTORE_OP_KINDS || n == 0) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    ct__mem_countdown *cd = &s->st.countdown[kind];
    cd->remaining = n;
    cd->sticky = sticky != 0;
    cd->tripped = 0;
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}

int ct_memstore_clear_countdowns(ct_pagestore *ps)
{
    ct__memstore *s = ct__mem_from(ps);
    if (!s) {
        return CT_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    memset(s->st.countdown, 0, sizeof s->st.countdown);
    pthread_mutex_unlock(&s->lock);
    return CT_OK;
}
