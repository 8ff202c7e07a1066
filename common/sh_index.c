/* SPDX-License-Identifier: MIT */
/* sh_index.c - string-keyed hash index over an array */
#include "sh_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);
	while (*s)
		h = (h ^ (unsigned char)*s++) * UINT64_C(1099511628211);
	return h;
}

int sh_index_build(sh_index *ix, const char *const *keys, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	ix->keys = keys;
	ix->mask = cap - 1;
	ix->slot = malloc(cap * sizeof(long));
	if (!ix->slot)
		return -1;
	for (size_t i = 0; i < cap; i++)
		ix->slot[i] = -1;
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || sh_index_find(ix, keys[i]) >= 0)
			continue;
		size_t h = (size_t)fnv(keys[i]) & ix->mask;
		while (ix->slot[h] >= 0)
			h = (h + 1) & ix->mask;
		ix->slot[h] = (long)i;
	}
	return 0;
}

long sh_index_find(const sh_index *ix, const char *key)
{
	if (!key || !ix->slot)
		return -1;
	for (size_t h = (size_t)fnv(key) & ix->mask; ix->slot[h] >= 0; h = (h + 1) & ix->mask)
		if (!strcmp(ix->keys[ix->slot[h]], key))
			return ix->slot[h];
	return -1;
}

void sh_index_free(sh_index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}
