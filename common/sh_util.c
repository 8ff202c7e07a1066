/* SPDX-License-Identifier: MIT */
/* sh_util.c - base64, clocks, Go-style durations, RFC 3339 times, byte buffers */
#include "sh_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sh_buf_add(sh_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb)
			return -1;
		b->buf = nb;
		b->cap = cap;
	}
	if (n)
		memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

int sh_buf_addf(sh_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return sh_buf_add(b, small, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int r = sh_buf_add(b, big, (size_t)n);
	free(big);
	return r;
}

void sh_buf_consume(sh_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->buf, b->buf + n, b->len - n);
		b->len -= n;
	}
	if (b->buf)
		b->buf[b->len] = '\0';
}

void sh_buf_release(sh_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sh_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t olen = 4 * ((len + 2) / 3);
	char *out = malloc(olen + 1), *p = out;
	if (!out)
		return NULL;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = b64chars[v >> 18 & 63];
		*p++ = b64chars[v >> 12 & 63];
		*p++ = b64chars[v >> 6 & 63];
		*p++ = b64chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*p++ = b64chars[v >> 18 & 63];
		*p++ = b64chars[v >> 12 & 63];
		*p++ = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

char *sh_b64_decode(const char *s, size_t slen, size_t *out_len)
{
	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	if (slen % 4 == 1)
		return NULL;
	char *out = malloc(slen / 4 * 3 + 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < slen; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

int64_t sh_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SH_NS_PER_S + ts.tv_nsec;
}

int64_t sh_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SH_NS_PER_S + ts.tv_nsec;
}

int sh_parse_duration_ms(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return -1;
	const char *p = s;
	/* bare number: seconds */
	char *end;
	errno = 0;
	double bare = strtod(s, &end);
	if (*end == '\0') {
		if (errno || bare < 0 || bare > 9e12)
			return -1;
		*ms = (int64_t)(bare * 1000.0 + 0.5);
		return 0;
	}
	double total = 0;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno)
			return -1;
		p = end;
		double unit;
		if (!strncmp(p, "ms", 2)) {
			unit = 1;
			p += 2;
		} else if (!strncmp(p, "us", 2) || !strncmp(p, "µs", 3)) {
			unit = 0.001;
			p += (*p == 'u') ? 2 : 3;
		} else if (!strncmp(p, "ns", 2)) {
			unit = 0.000001;
			p += 2;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else {
			return -1;
		}
		total += v * unit;
		if (total > 9e15)
			return -1;
	}
	*ms = (int64_t)(total + 0.5);
	return 0;
}

void sh_rfc3339(int64_t real_ns, char *out, size_t outlen)
{
	time_t secs = (time_t)(real_ns / SH_NS_PER_S);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", base, (int)(real_ns % SH_NS_PER_S / SH_NS_PER_MS));
}

int sh_parse_rfc3339(const char *s, int64_t *real_ns)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			if (digits < 9) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (!digits)
			return -1;
		while (digits++ < 9)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = sign * (hh * 3600 + mm * 60);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	time_t t = timegm(&tm);
	*real_ns = ((int64_t)t - off) * SH_NS_PER_S + frac;
	return 0;
}

int sh_parse_i64(const char *s, int64_t *v)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

void sh_sleep_ms(int64_t ms, volatile int *stop)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
		if (stop && *stop)
			return;
	}
}

char *sh_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int sh_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	va_end(ap);
	return 64;
}
