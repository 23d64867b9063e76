/*
 * xorstore.h - an example page store that "encrypts" every page by XORing
 * it with a key stream derived from a key and the page number, stacked on
 * any other page store (typically the file store).
 *
 * A toy cipher, not security: it shows how to write a stacking store
 * (docs/embedding.md, "Writing your own page store"). What it does get
 * right is the contract: a page never written reads as zeros (an all-zero
 * page of the inner store is passed through as zeros: a ciphertext is all
 * zeros only when the plaintext equals the key stream, one chance in
 * 2^(8 * page_size)), and it has no map() because the bytes on the inner
 * store are not the plaintext.
 */
#ifndef XORSTORE_H
#define XORSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "cowtree/pagestore.h"

/* Longest key, in bytes. */
#define XORSTORE_KEY_MAX 64u

/* Wraps inner (same page size). Takes ownership of inner on success:
   closing the wrapper closes inner; on failure inner is still the
   caller's. key (1..XORSTORE_KEY_MAX bytes) is copied.
   Errors: CT_INVALID, CT_NOMEM. */
int xorstore_wrap(ct_pagestore *inner, const void *key, size_t key_len, ct_pagestore **out);

#endif
