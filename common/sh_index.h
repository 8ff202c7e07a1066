/* SPDX-License-Identifier: MIT */
/* sh_index.h - a read-only hash index from string keys to array positions (open addressing, FNV-1a) */
#ifndef SH_INDEX_H
#define SH_INDEX_H

#include <stddef.h>

typedef struct sh_index {
	long *slot;   /* position or -1 */
	size_t mask;
	const char *const *keys; /* not owned: keys[i] for position i */
} sh_index;

/* Index keys[0..n) (NULL keys are skipped; a repeated key finds its first position).
 * 0 ok, -1 out of memory. keys must outlive the index. */
int sh_index_build(sh_index *ix, const char *const *keys, size_t n);
/* Position of key, or -1. */
long sh_index_find(const sh_index *ix, const char *key);
void sh_index_free(sh_index *ix);

#endif
