/*
 * sort.h - sorting records by a u64 key (page numbers): LSD radix on
 * 11-bit digits, insertion sort for short arrays. A commit sorts a
 * thousand scattered pages (and as many freed ones); qsort's callback per
 * comparison cost 5% of a random fill. Pure: no allocation (the caller
 * passes tmp, room for n records), stable.
 */
#ifndef CT_CORE_SORT_H
#define CT_CORE_SORT_H

#include <stddef.h>

/* Sorts n records of `size` bytes by the native-endian uint64_t at
   key_offset in each, ascending. */
void ct__sort_by_u64(void *base, size_t n, size_t size, size_t key_offset, void *tmp);

#endif
