/* SPDX-License-Identifier: MIT */
/* test_dock_secrets.c - secret decoding and the in-place secret reference swap of a service spec */
#include <stdlib.h>
#include <string.h>

#include "dock_internal.h"
#include "tmain.h"

static void test_decode_secret(void)
{
	cJSON *j =
		cJSON_Parse("{\"ID\":\"abc\",\"Version\":{\"Index\":12},\"CreatedAt\":\"2026-11-28T13:15:15.5Z\","
			    "\"Spec\":{\"Name\":\"api-tls.cert.v3\",\"Labels\":{\"swarmheal.cert.serial\":\"4a\"}}}");
	dock_secret s;
	CU_ASSERT_EQUAL_FATAL(dock_decode_secret(j, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.id, "abc");
	CU_ASSERT_STRING_EQUAL(s.name, "api-tls.cert.v3");
	CU_ASSERT_EQUAL(s.version, 12);
	CU_ASSERT(s.created_ns > 0);
	CU_ASSERT_STRING_EQUAL(dock_secret_label(&s, "swarmheal.cert.serial"), "4a");
	CU_ASSERT_PTR_NULL(dock_secret_label(&s, "nope"));
	dock_secret_free(&s);
	cJSON_Delete(j);
	/* no labels at all */
	j = cJSON_Parse("{\"ID\":\"abc\",\"Spec\":{\"Name\":\"x\"}}");
	CU_ASSERT_EQUAL(dock_decode_secret(j, &s), 0);
	CU_ASSERT_PTR_NULL(dock_secret_label(&s, "swarmheal.cert.serial"));
	dock_secret_free(&s);
	cJSON_Delete(j);
	/* malformed */
	const char *bad[] = {"[]", "{\"ID\":1,\"Spec\":{\"Name\":\"x\"}}", "{\"ID\":\"a\"}",
			     "{\"ID\":\"a\",\"Spec\":{}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i]);
		CU_ASSERT_EQUAL(dock_decode_secret(j, &s), -1);
		dock_secret_free(&s);
		cJSON_Delete(j);
	}
}

static cJSON *refs_of(cJSON *spec)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "TaskTemplate"),
						 "ContainerSpec"),
		"Secrets");
}

static void test_swap(void)
{
	cJSON *spec = cJSON_Parse(
		"{\"Name\":\"api\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"Secrets\":["
		"{\"SecretName\":\"db\",\"SecretID\":\"d1\",\"File\":{\"Name\":\"db\",\"UID\":\"0\",\"GID\":\"0\","
		"\"Mode\":256}},"
		"{\"SecretName\":\"t.cert.v1\",\"SecretID\":\"c1\",\"File\":{\"Name\":\"tls/cert.pem\",\"UID\":\"101\","
		"\"GID\":\"102\",\"Mode\":288}}]}}}");
	CU_ASSERT_EQUAL_FATAL(dock_spec_secret_swap(spec, "t.cert.v1", "t.cert.v2", "c2", NULL, 0444), 0);
	cJSON *refs = refs_of(spec);
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(refs), 2);
	cJSON *r = cJSON_GetArrayItem(refs, 1);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r, "SecretName")->valuestring, "t.cert.v2");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r, "SecretID")->valuestring, "c2");
	cJSON *f = cJSON_GetObjectItem(r, "File");
	/* same path, owner and mode as the old reference */
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(f, "Name")->valuestring, "tls/cert.pem");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(f, "UID")->valuestring, "101");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(f, "Mode")->valueint, 288);
	/* the unrelated secret is untouched */
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(refs, 0), "SecretName")->valuestring, "db");
	/* old name not there: 1, the new one still added with defaults and the given target */
	CU_ASSERT_EQUAL(dock_spec_secret_swap(spec, "t.key.v1", "t.key.v2", "k2", "t.key", 0400), 1);
	r = cJSON_GetArrayItem(refs_of(spec), 2);
	f = cJSON_GetObjectItem(r, "File");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(f, "Name")->valuestring, "t.key");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(f, "UID")->valuestring, "0");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(f, "Mode")->valueint, 0400);
	/* remove only */
	CU_ASSERT_EQUAL(dock_spec_secret_swap(spec, "db", NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(refs_of(spec)), 2);
	cJSON_Delete(spec);
	/* a spec without Secrets gets the array; one without a ContainerSpec is malformed */
	spec = cJSON_Parse("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}");
	CU_ASSERT_EQUAL(dock_spec_secret_swap(spec, NULL, "t.cert.v1", "c1", "cert.pem", 0444), 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(refs_of(spec)), 1);
	cJSON_Delete(spec);
	spec = cJSON_Parse("{\"TaskTemplate\":{}}");
	CU_ASSERT_EQUAL(dock_spec_secret_swap(spec, NULL, "t.cert.v1", "c1", NULL, 0444), -1);
	cJSON_Delete(spec);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"decode_secret", test_decode_secret},
		{"swap", test_swap},
		{NULL, NULL},
	};
	return t_run("dock_secrets", cases, argc, argv);
}
