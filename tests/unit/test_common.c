/* SPDX-License-Identifier: MIT */
/* test_common.c - unit tests of base64, durations, RFC 3339 times, buffers and error names */
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_util.h"
#include "tmain.h"

static void test_b64_roundtrip(void)
{
	const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		char *e = sh_b64_encode(cases[i], strlen(cases[i]));
		CU_ASSERT_STRING_EQUAL(e, enc[i]);
		size_t n;
		char *d = sh_b64_decode(e, strlen(e), &n);
		CU_ASSERT_EQUAL(n, strlen(cases[i]));
		CU_ASSERT_EQUAL(memcmp(d, cases[i], n), 0);
		free(e);
		free(d);
	}
	unsigned char bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (unsigned char)i;
	char *e = sh_b64_encode(bin, sizeof(bin));
	size_t n;
	char *d = sh_b64_decode(e, strlen(e), &n);
	CU_ASSERT_EQUAL(n, 256);
	CU_ASSERT_EQUAL(memcmp(d, bin, 256), 0);
	free(e);
	free(d);
}

static void test_b64_invalid(void)
{
	size_t n;
	CU_ASSERT_PTR_NULL(sh_b64_decode("Zm9v!", 5, &n));
	CU_ASSERT_PTR_NULL(sh_b64_decode("Z", 1, &n));
	CU_ASSERT_PTR_NULL(sh_b64_decode("Zm 9", 4, &n));
}

static void test_durations(void)
{
	int64_t ms;
	CU_ASSERT_EQUAL(sh_parse_duration_ms("500ms", &ms), 0);
	CU_ASSERT_EQUAL(ms, 500);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("3s", &ms), 0);
	CU_ASSERT_EQUAL(ms, 3000);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("2m", &ms), 0);
	CU_ASSERT_EQUAL(ms, 120000);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("1h30m", &ms), 0);
	CU_ASSERT_EQUAL(ms, 5400000);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("720h", &ms), 0);
	CU_ASSERT_EQUAL(ms, INT64_C(2592000000));
	CU_ASSERT_EQUAL(sh_parse_duration_ms("10", &ms), 0);
	CU_ASSERT_EQUAL(ms, 10000);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("1.5s", &ms), 0);
	CU_ASSERT_EQUAL(ms, 1500);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("", &ms), -1);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("3x", &ms), -1);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("-3s", &ms), -1);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("s", &ms), -1);
	CU_ASSERT_EQUAL(sh_parse_duration_ms("3s garbage", &ms), -1);
}

static void test_rfc3339(void)
{
	char buf[40];
	int64_t t = INT64_C(1795871715123000000); /* 2026-11-28T13:15:15.123Z */
	sh_rfc3339(t, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2026-11-28T13:15:15.123Z");
	int64_t back;
	CU_ASSERT_EQUAL(sh_parse_rfc3339(buf, &back), 0);
	CU_ASSERT_EQUAL(back, t);
	CU_ASSERT_EQUAL(sh_parse_rfc3339("2026-11-28T14:15:15.123+01:00", &back), 0);
	CU_ASSERT_EQUAL(back, t);
	CU_ASSERT_EQUAL(sh_parse_rfc3339("2026-11-28T13:15:15.123456789Z", &back), 0);
	CU_ASSERT_EQUAL(back, INT64_C(1795871715123456789));
	CU_ASSERT_EQUAL(sh_parse_rfc3339("2026-11-28 13:15:15Z", &back), -1);
	CU_ASSERT_EQUAL(sh_parse_rfc3339("2026-11-28T13:15:15", &back), -1);
	CU_ASSERT_EQUAL(sh_parse_rfc3339("2026-11-28T13:15:15Zjunk", &back), -1);
}

static void test_i64(void)
{
	int64_t v;
	CU_ASSERT_EQUAL(sh_parse_i64("9223372036854775807", &v), 0);
	CU_ASSERT_EQUAL(v, INT64_MAX);
	CU_ASSERT_EQUAL(sh_parse_i64("9223372036854775808", &v), -1);
	CU_ASSERT_EQUAL(sh_parse_i64("12a", &v), -1);
	CU_ASSERT_EQUAL(sh_parse_i64("", &v), -1);
}

static void test_buf(void)
{
	sh_buf b = SH_BUF_INIT;
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(sh_buf_addf(&b, "%d,", i), 0);
	CU_ASSERT_EQUAL(strncmp(b.buf, "0,1,2,", 6), 0);
	size_t before = b.len;
	sh_buf_consume(&b, 2);
	CU_ASSERT_EQUAL(b.len, before - 2);
	CU_ASSERT_EQUAL(strncmp(b.buf, "1,2,", 4), 0);
	sh_buf_consume(&b, b.len + 5);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(b.buf, "");
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(sh_buf_addf(&b, "%s", big), 0);
	CU_ASSERT_EQUAL(b.len, 599);
	sh_buf_release(&b);
	CU_ASSERT_PTR_NULL(b.buf);
}

static void test_errors(void)
{
	CU_ASSERT_STRING_EQUAL(sh_errname(SH_E_TIMEOUT), "TIMEOUT");
	CU_ASSERT_STRING_EQUAL(sh_strerror(SH_OK), "success");
	CU_ASSERT_EQUAL((int)SH_E_COMPACTED, 10);
	CU_ASSERT_STRING_EQUAL(sh_errname((sh_err)999), "UNKNOWN");
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"b64_roundtrip", test_b64_roundtrip},
		{"b64_invalid", test_b64_invalid},
		{"durations", test_durations},
		{"rfc3339", test_rfc3339},
		{"i64", test_i64},
		{"buf", test_buf},
		{"errors", test_errors},
		{NULL, NULL},
	};
	return t_run("common", cases, argc, argv);
}
