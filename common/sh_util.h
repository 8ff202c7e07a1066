/* SPDX-License-Identifier: MIT */
/* sh_util.h - small helpers every part uses: base64, clocks, durations, RFC 3339, buffers */
#ifndef SH_UTIL_H
#define SH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Growable byte buffer. Invariant: buf is NULL or NUL-terminated at len. */
typedef struct sh_buf {
	char *buf;
	size_t len, cap;
} sh_buf;
#define SH_BUF_INIT {NULL, 0, 0}
int sh_buf_add(sh_buf *b, const void *data, size_t n);  /* 0 ok, -1 no memory */
int sh_buf_addf(sh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sh_buf_consume(sh_buf *b, size_t n);               /* drop the first n bytes */
void sh_buf_release(sh_buf *b);

/* Base64 (standard alphabet, padded). Returned strings are malloc'd and
 * NUL-terminated; NULL on allocation failure or (decode) invalid input. */
char *sh_b64_encode(const void *data, size_t len);
char *sh_b64_decode(const char *s, size_t slen, size_t *out_len);

/* Clocks in nanoseconds. */
int64_t sh_mono_ns(void);
int64_t sh_real_ns(void);
#define SH_NS_PER_MS INT64_C(1000000)
#define SH_NS_PER_S INT64_C(1000000000)

/* Go-style duration ("500ms", "3s", "2m", "1h30m", "720h"); a bare number is
 * seconds. Result in milliseconds. Returns 0 ok, -1 malformed or negative. */
int sh_parse_duration_ms(const char *s, int64_t *ms);

/* RFC 3339 UTC with milliseconds ("2026-11-28T13:15:15.123Z"); out >= 32 bytes. */
void sh_rfc3339(int64_t real_ns, char *out, size_t outlen);
/* Parse RFC 3339 (Z or +hh:mm offset, optional fraction). 0 ok, -1 malformed. */
int sh_parse_rfc3339(const char *s, int64_t *real_ns);

/* Strict integer parse of the whole string. 0 ok, -1 malformed or out of range. */
int sh_parse_i64(const char *s, int64_t *v);

/* Sleep for ms milliseconds, resuming after signals unless *stop becomes set. */
void sh_sleep_ms(int64_t ms, volatile int *stop);

/* Print "PROG: MESSAGE" and "Try 'PROG --help' ..." on stderr, git-style; returns 64 (EX_USAGE). */
int sh_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strdup that tolerates NULL. */
char *sh_strdup(const char *s);

#endif
