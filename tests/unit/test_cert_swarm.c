/* SPDX-License-Identifier: MIT */
/* test_cert_swarm.c - node certificates expiring while down, root CA rotation */
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

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"nodes", test_nodes},
		{"root_rotation", test_root_rotation},
		{NULL, NULL},
	};
	return t_run("cert_swarm", cases, argc, argv);
}
