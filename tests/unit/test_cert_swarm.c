/* SPDX-License-Identifier: MIT */
/* test_cert_swarm.c - node certificates expiring while down, root CA rotation */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cert_swarm.h"
#include "tmain.h"

#define S   INT64_C(1000000000)
#define DAY (86400 * S)
#define NOW (INT64_C(1800000000) * S)

static void test_nodes(void)
{
	cert_swarm_node nodes[] = {
		{"n1", "up-expiring", 0, 0, NOW + DAY}, /* up: Swarm renews it */
		{"n2", "down-expiring", 1, NOW - DAY, NOW + 2 * DAY},
		{"n3", "down-later", 1, NOW - DAY, NOW + 30 * DAY}, /* outside the window */
		{"n4", "down-expired", 1, NOW - 9 * DAY, NOW - S},
		{"n5", "down-unknown", 1, NOW - DAY, 0}, /* no report: nothing to say */
	};
	cert_swarm_in in = {.nodes = nodes, .n = 5, .warn_within_ns = 7 * DAY};
	cert_swarm_action a[8];
	size_t k = cert_swarm_decide(&in, NOW, a, 8);
	CU_ASSERT_EQUAL_FATAL(k, 2);
	CU_ASSERT_EQUAL(a[0].kind, CERT_SWARM_WARN_NODE);
	CU_ASSERT_EQUAL(a[0].node, 1);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(a[0].reason, "node 'down-expiring' (n2) is down and its swarm certificate expires at"));
	CU_ASSERT_EQUAL(a[1].node, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[1].reason, "expired at"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a[1].reason, "cannot rejoin"));
	/* max respected */
	CU_ASSERT_EQUAL(cert_swarm_decide(&in, NOW, a, 1), 1);
}

static void test_root_rotation(void)
{
	cert_swarm_in in = {.root_not_after_ns = NOW + 20 * DAY, .rotate_before_ns = 30 * DAY};
	cert_swarm_action a[4];
	CU_ASSERT_EQUAL_FATAL(cert_swarm_decide(&in, NOW, a, 4), 1);
	CU_ASSERT_EQUAL(a[0].kind, CERT_SWARM_ROTATE_CA);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "swarm root CA expires at"));
	/* under way: wait, never a second rotation */
	in.rotation_in_progress = 1;
	CU_ASSERT_EQUAL_FATAL(cert_swarm_decide(&in, NOW, a, 4), 1);
	CU_ASSERT_EQUAL(a[0].kind, CERT_SWARM_WAIT_ROTATION);
	in.rotation_in_progress = 0;
	/* far from expiry, or no flag, or unknown: nothing */
	in.root_not_after_ns = NOW + 60 * DAY;
	CU_ASSERT_EQUAL(cert_swarm_decide(&in, NOW, a, 4), 0);
	in.root_not_after_ns = NOW + DAY;
	in.rotate_before_ns = 0;
	CU_ASSERT_EQUAL(cert_swarm_decide(&in, NOW, a, 4), 0);
	in.rotate_before_ns = 30 * DAY;
	in.root_not_after_ns = 0;
	CU_ASSERT_EQUAL(cert_swarm_decide(&in, NOW, a, 4), 0);
}

static void test_rotate_spec(void)
{
	/* a spec after an external root: its cert (and key) go, ForceRotate goes up, the rest stays */
	cJSON *spec = cJSON_Parse("{\"Name\":\"default\",\"CAConfig\":{\"NodeCertExpiry\":7776000000000000,"
				  "\"ForceRotate\":4,\"SigningCACert\":\"-----BEGIN CERTIFICATE-----\","
				  "\"SigningCAKey\":\"k\"},\"Raft\":{\"SnapshotInterval\":10000}}");
	double fr = 0;
	CU_ASSERT_EQUAL_FATAL(cert_swarm_rotate_spec(spec, &fr), 0);
	CU_ASSERT_EQUAL(fr, 5);
	char *t = cJSON_PrintUnformatted(spec);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"ForceRotate\":5"));
	CU_ASSERT_PTR_NULL(strstr(t, "SigningCACert"));
	CU_ASSERT_PTR_NULL(strstr(t, "SigningCAKey"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "NodeCertExpiry"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "SnapshotInterval"));
	free(t);
	/* again: 6 (each call is one more rotation) */
	CU_ASSERT_EQUAL(cert_swarm_rotate_spec(spec, &fr), 0);
	CU_ASSERT_EQUAL(fr, 6);
	cJSON_Delete(spec);
	/* no CAConfig (or not an object): one is made with ForceRotate 1 */
	spec = cJSON_Parse("{\"Name\":\"default\",\"CAConfig\":null}");
	CU_ASSERT_EQUAL(cert_swarm_rotate_spec(spec, &fr), 0);
	CU_ASSERT_EQUAL(fr, 1);
	t = cJSON_PrintUnformatted(spec);
	CU_ASSERT_STRING_EQUAL(t, "{\"Name\":\"default\",\"CAConfig\":{\"ForceRotate\":1}}");
	free(t);
	cJSON_Delete(spec);
	/* not a spec */
	spec = cJSON_Parse("[1]");
	CU_ASSERT_EQUAL(cert_swarm_rotate_spec(spec, &fr), -1);
	CU_ASSERT_EQUAL(cert_swarm_rotate_spec(NULL, &fr), -1);
	cJSON_Delete(spec);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"nodes", test_nodes},
		{"root_rotation", test_root_rotation},
		{"rotate_spec", test_rotate_spec},
		{NULL, NULL},
	};
	return t_run("cert_swarm", cases, argc, argv);
}
