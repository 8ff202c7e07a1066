/* SPDX-License-Identifier: MIT */
/* sh_log.c - logfmt lines on stderr */
#include "sh_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sh_util.h"

void sh_log(const char *level, const char *component, const char *fmt, ...)
{
	char ts[40], msg[1024];
	sh_rfc3339(sh_real_ns(), ts, sizeof(ts));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char *kv = strstr(msg, " | ");
	if (kv)
		*kv = '\0';
	char q[1100];
	size_t o = 0;
	for (const char *p = msg; *p && o + 2 < sizeof(q); p++) {
		if (*p == '"' || *p == '\\')
			q[o++] = '\\';
		q[o++] = *p;
	}
	q[o] = '\0';
	fprintf(stderr, "ts=%s level=%s controller=%s msg=\"%s\"%s%s\n", ts, level, component ? component : "-", q,
		kv ? " " : "", kv ? kv + 3 : "");
}
