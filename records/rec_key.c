/* SPDX-License-Identifier: MIT */
/* rec_key.c - key builders shared by every record */
#include "rec.h"

#include <stdio.h>
#include <string.h>

int rec_key(char *buf, size_t len, const char *prefix, const char *path, const char *id)
{
	if (id && (!*id || strchr(id, '/')))
		return -1;
	int n = snprintf(buf, len, "%s%s%s", prefix ? prefix : "", path, id ? id : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
