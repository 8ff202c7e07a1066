/* SPDX-License-Identifier: MIT */
/* test_rec_cert.c - certificate spec and status records: keys, round trips, malformed input, JSON Schema */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_cert.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define S INT64_C(1000000000)

static const char *full_spec =
	"{\"common_name\":\"manager-1.swarm.internal\",\"dns_names\":[\"manager-1.swarm.internal\",\"m1\"],"
	"\"ip_addresses\":[\"10.0.0.11\",\"fd00::11\"],\"duration\":\"720h\",\"renew_before\":\"240h\","
	"\"key_type\":\"rsa-3072\",\"ca\":{\"cert_file\":\"/etc/swarmheal/ca.pem\",\"key_file\":\"/etc/swarmheal/"
	"ca-key.pem\","
	"\"chain_file\":\"/etc/swarmheal/intermediates.pem\"},\"files\":{\"cert\":\"/etc/app/tls/cert.pem\","
	"\"chain\":\"/etc/app/tls/chain.pem\",\"key\":\"/etc/app/tls/key.pem\",\"reload_label\":\"app=api\","
	"\"signal\":\"SIGUSR1\"},\"secret\":{\"name\":\"api-tls\",\"services\":[\"api\",\"web\"]}}";

static const char *min_spec = "{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\","
			      "\"ca\":{\"cert_file\":\"/c\",\"key_file\":\"/k\"},\"secret\":{\"name\":\"a\"}}";

static void test_keys(void)
{
	char k[128];
	CU_ASSERT_EQUAL(rec_cert_spec_key(k, sizeof(k), "/swarmheal", "api"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/swarmheal/certs/specs/api");
	CU_ASSERT_EQUAL(rec_cert_status_key(k, sizeof(k), "/swarmheal", "api"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/swarmheal/certs/status/api");
	CU_ASSERT_EQUAL(rec_cert_spec_key(k, sizeof(k), "/p", "a/b"), -1);
	CU_ASSERT_EQUAL(rec_cert_spec_key(k, sizeof(k), "/p", ""), -1);
	CU_ASSERT_EQUAL(rec_cert_status_key(k, 10, "/swarmheal", "api"), -1);
}

static void test_parse_full(void)
{
	rec_cert_spec s;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(full_spec, strlen(full_spec), &s, why, sizeof(why)), SH_OK);
	CU_ASSERT_STRING_EQUAL(s.common_name, "manager-1.swarm.internal");
	CU_ASSERT_EQUAL(s.n_dns, 2);
	CU_ASSERT_STRING_EQUAL(s.dns_names[1], "m1");
	CU_ASSERT_EQUAL(s.n_ip, 2);
	CU_ASSERT_STRING_EQUAL(s.ip_addresses[1], "fd00::11");
	CU_ASSERT_EQUAL(s.duration_ns, 720 * 3600 * S);
	CU_ASSERT_EQUAL(s.renew_before_ns, 240 * 3600 * S);
	CU_ASSERT_EQUAL(s.key_type, REC_CERT_RSA_3072);
	CU_ASSERT_STRING_EQUAL(s.ca.chain_file, "/etc/swarmheal/intermediates.pem");
	CU_ASSERT_TRUE(s.has_files);
	CU_ASSERT_STRING_EQUAL(s.files.chain, "/etc/app/tls/chain.pem");
	CU_ASSERT_STRING_EQUAL(s.files.reload_label, "app=api");
	CU_ASSERT_STRING_EQUAL(s.files.signal, "SIGUSR1");
	CU_ASSERT_TRUE(s.has_secret);
	CU_ASSERT_STRING_EQUAL(s.secret.name, "api-tls");
	CU_ASSERT_EQUAL(s.secret.n_services, 2);
	CU_ASSERT_STRING_EQUAL(s.secret.services[1], "web");
}

static void test_defaults(void)
{
	rec_cert_spec s;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(min_spec, strlen(min_spec), &s, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(s.key_type, REC_CERT_EC_P256);
	CU_ASSERT_EQUAL(s.renew_before_ns, 0);
	CU_ASSERT_FALSE(s.has_files);
	CU_ASSERT_TRUE(s.has_secret);
	CU_ASSERT_EQUAL(s.secret.n_services, 0);
	const char *files_only =
		"{\"common_name\":\"a\",\"ip_addresses\":[\"127.0.0.1\"],\"duration\":\"90\","
		"\"ca\":{\"cert_file\":\"/c\",\"key_file\":\"/k\"},\"files\":{\"cert\":\"/c.pem\",\"key\":\"/k.pem\"},"
		"\"future_field\":{\"x\":1}}";
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(files_only, strlen(files_only), &s, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(s.duration_ns, 90 * S); /* a bare number is seconds */
	CU_ASSERT_STRING_EQUAL(s.files.signal, "SIGHUP");
	CU_ASSERT_STRING_EQUAL(s.files.chain, "");
	CU_ASSERT_FALSE(s.has_secret);
}

/* each case: JSON, the words `why` must hold */
static const struct {
	const char *json, *why;
} bad[] = {
	{"", "not valid JSON"},
	{"{\"common_name\":", "not valid JSON"},
	{"[1,2]", "not a JSON object"},
	{"{\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/c\",\"key_file\":\"/k\"},"
	 "\"secret\":{\"name\":\"a\"}}",
	 "field 'common_name' is missing"},
	{"{\"common_name\":7,\"dns_names\":[\"a\"]}", "field 'common_name' is not a string"},
	{"{\"common_name\":\"a\",\"duration\":\"1h\"}", "'dns_names' and 'ip_addresses' are both empty"},
	{"{\"common_name\":\"a\",\"dns_names\":\"a\"}", "field 'dns_names' is not an array"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\",3]}", "field 'dns_names' entry 1"},
	{"{\"common_name\":\"a\",\"ip_addresses\":[\"10.0.0.300\"]}",
	 "field 'ip_addresses' entry 0 is not an IP address"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"ca\":{}}", "field 'duration' is missing"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"3 days\"}",
	 "field 'duration' is not a positive duration"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"0s\"}",
	 "field 'duration' is not a positive duration"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"renew_before\":\"2h\"}",
	 "field 'renew_before' is not shorter than 'duration'"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"key_type\":\"dsa\"}",
	 "field 'key_type' is not one of"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\"}", "field 'ca' is missing"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":\"/c\"}",
	 "field 'ca' is not an object"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"key_file\":\"/k\"}}",
	 "field 'ca.cert_file' is missing"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"\"}}",
	 "field 'ca.key_file' is empty"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"}}",
	 "fields 'files' and 'secret' are both missing"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"},"
	 "\"files\":{\"cert\":\"/c\"}}",
	 "field 'files.key' is missing"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"},"
	 "\"files\":{\"cert\":\"/c\",\"key\":\"/k\",\"signal\":\"SIGKILL\"}}",
	 "field 'files.signal' is not a reload signal name"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"},"
	 "\"secret\":{\"name\":\"bad name\"}}",
	 "field 'secret.name' is not a Docker object name"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"},"
	 "\"secret\":{\"name\":\"a\",\"services\":[\"\"]}}",
	 "field 'secret.services' entry 0"},
	{"{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\",\"ca\":{\"cert_file\":\"/"
	 "c\",\"key_file\":\"/k\"},"
	 "\"secret\":{\"name\":\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij\"}}",
	 "field 'secret.name' is longer than 47 bytes"},
};

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rec_cert_spec s;
		char why[256] = "unset";
		sh_err e = rec_cert_spec_parse(bad[i].json, strlen(bad[i].json), &s, why, sizeof(why));
		if (e != SH_E_MALFORMED || !strstr(why, bad[i].why))
			fprintf(stderr, "case %zu: got %s '%s', want '%s'\n", i, sh_errname(e), why, bad[i].why);
		CU_ASSERT_EQUAL(e, SH_E_MALFORMED);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
	}
	/* too many names is an error, not a truncation */
	char big[4096] = "{\"common_name\":\"a\",\"dns_names\":[";
	for (int i = 0; i < REC_CERT_MAX_NAMES + 1; i++) {
		char one[32];
		snprintf(one, sizeof(one), "%s\"n%d\"", i ? "," : "", i);
		strncat(big, one, sizeof(big) - strlen(big) - 1);
	}
	strncat(big, "]}", sizeof(big) - strlen(big) - 1);
	rec_cert_spec s;
	char why[256];
	CU_ASSERT_EQUAL(rec_cert_spec_parse(big, strlen(big), &s, why, sizeof(why)), SH_E_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "more than 32 entries"));
	/* NULL json */
	CU_ASSERT_EQUAL(rec_cert_spec_parse(NULL, 0, &s, why, sizeof(why)), SH_E_MALFORMED);
}

static void test_spec_round_trip(void)
{
	rec_cert_spec s, t;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(full_spec, strlen(full_spec), &s, why, sizeof(why)), SH_OK);
	char *j = rec_cert_spec_encode(&s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(j, strlen(j), &t, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(memcmp(&s, &t, sizeof(s)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"duration\":\"720h\""));
	free(j);
}

static void test_status_round_trip(void)
{
	rec_cert_status s = {.serial = "0a1b2c",
			     .not_before_ns = 1700000000 * S,
			     .not_after_ns = 1700003600 * S,
			     .next_renewal_ns = 1700002400 * S + 123 * INT64_C(1000000),
			     .renewed_at_ns = 1700000001 * S,
			     .failures = 3,
			     .next_retry_ns = 1700000040 * S,
			     .secret_version = 7,
			     .spec_digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			     .last_error = "CA key '/k' does not match"};
	char *j = rec_cert_status_encode(&s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	rec_cert_status t;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(rec_cert_status_parse(j, strlen(j), &t, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(memcmp(&s, &t, sizeof(s)), 0);
	free(j);
	const char *bads[][2] = {
		{"{\"serial\":\"XY\"}", "field 'serial' is not lowercase hex"},
		{"{\"not_after\":\"yesterday\"}", "field 'not_after' is not an RFC 3339 time"},
		{"{\"failures\":-1}", "field 'failures' is not a non-negative integer"},
		{"{\"failures\":1.5}", "field 'failures' is not a non-negative integer"},
		{"{\"last_error\":[]}", "field 'last_error' is not a string"},
		{"nope", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		CU_ASSERT_EQUAL(rec_cert_status_parse(bads[i][0], strlen(bads[i][0]), &t, why, sizeof(why)),
				SH_E_MALFORMED);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, bads[i][1]));
	}
}

static void test_duration_format(void)
{
	char d[32];
	rec_duration_format(720 * 3600 * S, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "720h");
	rec_duration_format(5400 * S, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "1h30m");
	rec_duration_format(3661 * S, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "1h1m1s");
	rec_duration_format(1500 * INT64_C(1000000), d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "1500ms");
	rec_duration_format(0, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "0s");
}

/* Validate FILE against records/schema/SCHEMA with python3-jsonschema; exit status 0 valid, 1 invalid. */
static int schema_check(const char *schema, const char *json)
{
	const char *src = getenv("SWARMHEAL_SRC");
	char path[256];
	snprintf(path, sizeof(path), "/tmp/test_rec_cert.%d.json", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(json, f);
	fclose(f);
	int rc = t_sh("python3 -c 'import json,sys,jsonschema\n"
		      "s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n"
		      "v=jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())\n"
		      "errs=list(v.iter_errors(d))\n"
		      "[print(e.message, file=sys.stderr) for e in errs]\n"
		      "sys.exit(1 if errs else 0)' %s/records/schema/%s %s",
		      src ? src : ".", schema, path);
	unlink(path);
	return rc;
}

static void test_schema(void)
{
	if (t_sh("python3 -c 'import jsonschema' 2>/dev/null")) {
		fprintf(stderr, "python3-jsonschema missing (deploy/install-deps.sh installs it)\n");
		CU_FAIL("python3-jsonschema missing");
		return;
	}
	rec_cert_spec s;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(full_spec, strlen(full_spec), &s, why, sizeof(why)), SH_OK);
	char *j = rec_cert_spec_encode(&s);
	CU_ASSERT_EQUAL(schema_check("cert_spec.json", j), 0);
	free(j);
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(min_spec, strlen(min_spec), &s, why, sizeof(why)), SH_OK);
	j = rec_cert_spec_encode(&s);
	CU_ASSERT_EQUAL(schema_check("cert_spec.json", j), 0);
	free(j);
	rec_cert_status st = {.serial = "ff",
			      .spec_digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			      .not_before_ns = 1700000000 * S,
			      .not_after_ns = 1700003600 * S,
			      .last_error = ""};
	j = rec_cert_status_encode(&st);
	CU_ASSERT_EQUAL(schema_check("cert_status.json", j), 0);
	free(j);
	memset(&st, 0, sizeof(st));
	j = rec_cert_status_encode(&st);
	CU_ASSERT_EQUAL(schema_check("cert_status.json", j), 0);
	free(j);
	/* the schemas do reject: a spec without destination, a status with a bad serial */
	CU_ASSERT_EQUAL(schema_check("cert_spec.json",
				     "{\"common_name\":\"a\",\"dns_names\":[\"a\"],\"duration\":\"1h\","
				     "\"ca\":{\"cert_file\":\"/c\",\"key_file\":\"/k\"}}"),
			1);
	CU_ASSERT_EQUAL(schema_check("cert_status.json", "{\"serial\":\"XY\",\"failures\":0,\"last_error\":\"\"}"), 1);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"keys", test_keys},
		{"parse_full", test_parse_full},
		{"defaults", test_defaults},
		{"malformed", test_malformed},
		{"spec_round_trip", test_spec_round_trip},
		{"status_round_trip", test_status_round_trip},
		{"duration_format", test_duration_format},
		{"schema", test_schema},
		{NULL, NULL},
	};
	return t_run("rec_cert", cases, argc, argv);
}
