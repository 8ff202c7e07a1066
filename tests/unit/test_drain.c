/* SPDX-License-Identifier: MIT */
/* test_drain.c - every rule of the node-drain decision on plain structs */
#include <stdio.h>
#include <string.h>

#include "drain.h"
#include "tmain.h"

#define S INT64_C(1000000000)
#define NOW (INT64_C(1000) * S)

static drain_policy pol = {.grace_ns = 0, .restore_after_ns = 30 * S};

static drain_node healthy(const char *id)
{
	return (drain_node){.id = id, .swarm_state = "ready", .availability = "active", .hb_present = 1,
			    .hb_engine_up = 1, .healthy_since_ns = NOW - 100 * S};
}

static drain_node dead_hb(const char *id)
{
	drain_node n = healthy(id);
	n.hb_present = 0;
	n.unhealthy_since_ns = NOW - 1 * S;
	n.healthy_since_ns = 0;
	return n;
}

static size_t decide(const drain_policy *p, drain_node *n, size_t cnt, drain_action *a)
{
	return drain_decide(p, n, cnt, NULL, 0, NOW, a, 16);
}

static void test_dead_heartbeat_drained(void)
{
	drain_node n[3] = {healthy("a"), healthy("b"), dead_hb("c")};
	drain_action a[16];
	size_t k = decide(&pol, n, 3, a);
	CU_ASSERT_EQUAL_FATAL(k, 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 2);
	CU_ASSERT_EQUAL(a[0].new_state, DRAIN_DRAINED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "heartbeat key is gone"));
}

static void test_engine_down_and_swarm_down(void)
{
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	n[2].hb_engine_up = 0;
	n[2].unhealthy_since_ns = NOW;
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "engine down"));
	n[2] = healthy("c");
	n[2].swarm_state = "down";
	n[2].unhealthy_since_ns = NOW;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "swarm reports it down"));
}

static void test_unknown_alone_is_not_death(void)
{
	/* after a Swarm leader change every node shows unknown; heartbeats are fine */
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	for (int i = 0; i < 3; i++)
		n[i].swarm_state = "unknown";
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	CU_ASSERT_FALSE(drain_node_dead(&n[0]));
}

static void test_grace(void)
{
	drain_policy p = pol;
	p.grace_ns = 5 * S;
	drain_node n[3] = {healthy("a"), healthy("b"), dead_hb("c")};
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&p, n, 3, a), 0); /* dead for 1 s only */
	n[2].unhealthy_since_ns = NOW - 6 * S;
	CU_ASSERT_EQUAL(decide(&p, n, 3, a), 1);
}

static void test_partition_guard(void)
{
	/* two of three dead: suspect our own partition, drain nothing, say why */
	drain_node n[3] = {healthy("a"), dead_hb("b"), dead_hb("c")};
	drain_action a[16];
	size_t k = decide(&pol, n, 3, a);
	CU_ASSERT_EQUAL(k, 2);
	for (size_t i = 0; i < k; i++) {
		CU_ASSERT_EQUAL(a[i].kind, DRAIN_ACT_REFUSE);
		CU_ASSERT_PTR_NOT_NULL(strstr(a[i].reason, "suspecting our own partition"));
	}
	/* zones: every node of 2 of 3 zones dead, though only 2 of 6 nodes */
	drain_node z[6] = {healthy("a1"), healthy("a2"), dead_hb("b1"), healthy("b2"), dead_hb("c1"), healthy("c2")};
	const char *zn[6] = {"a", "a", "b", "b", "c", "c"};
	for (int i = 0; i < 6; i++)
		z[i].zone = zn[i];
	drain_policy p = pol;
	p.max_drained = 3;
	k = decide(&p, z, 6, a);
	CU_ASSERT_EQUAL(k, 2); /* b1 and c1: zones b and c still have a live node */
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	z[3] = dead_hb("b2");
	z[5] = dead_hb("c2");
	z[3].zone = "b";
	z[5].zone = "c";
	k = decide(&p, z, 6, a);
	CU_ASSERT_EQUAL(k, 4);
	for (size_t i = 0; i < k; i++)
		CU_ASSERT_EQUAL(a[i].kind, DRAIN_ACT_REFUSE);
}

static void test_budget(void)
{
	/* 9 nodes: default limit 3; one already drained by us */
	drain_node n[9];
	char ids[9][4];
	for (int i = 0; i < 9; i++) {
		snprintf(ids[i], 4, "n%d", i);
		n[i] = healthy(ids[i]);
	}
	n[0].state = DRAIN_DRAINED;
	n[0].availability = "drain";
	n[0].hb_present = 0;
	n[0].healthy_since_ns = 0;
	for (int i = 1; i <= 3; i++)
		n[i] = dead_hb(ids[i]);
	drain_action a[16];
	size_t k = decide(&pol, n, 9, a);
	CU_ASSERT_EQUAL(k, 3);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[1].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[2].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[2].reason, "the limit is 3"));
}

static void test_human_drain_and_reactivation(void)
{
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	/* a person drained c: never undone, even when healthy */
	n[2].availability = "drain";
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	/* we drained c, a person set it active while still dead: hands off */
	n[2] = dead_hb("c");
	n[2].state = DRAIN_DRAINED;
	n[2].availability = "active";
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_FORGET);
	CU_ASSERT_EQUAL(a[0].new_state, DRAIN_HUMAN_ACTIVE);
	/* next pass: still dead, state says a person took over: no re-drain */
	n[2].state = DRAIN_HUMAN_ACTIVE;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	/* healthy for restore-after: back under our care */
	n[2] = healthy("c");
	n[2].state = DRAIN_HUMAN_ACTIVE;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].new_state, DRAIN_NONE);
}

static void test_restore_and_flap_holdoff(void)
{
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	n[2].state = DRAIN_DRAINED;
	n[2].availability = "drain";
	n[2].healthy_since_ns = NOW - 20 * S;
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0); /* healthy 20 s < 30 s */
	n[2].healthy_since_ns = NOW - 31 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_RESTORE);
	/* it fails again 10 s after the restore: a flap */
	n[2] = dead_hb("c");
	n[2].state = DRAIN_RESTORED;
	n[2].since_ns = NOW - 10 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].flaps, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "failed again soon"));
	/* with one flap, restore needs 60 s; two flaps 120 s */
	n[2] = healthy("c");
	n[2].state = DRAIN_DRAINED;
	n[2].availability = "drain";
	n[2].flaps = 1;
	n[2].healthy_since_ns = NOW - 45 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	n[2].healthy_since_ns = NOW - 61 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	n[2].flaps = 2;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	/* a failure long after a restore is not a flap */
	n[2] = dead_hb("c");
	n[2].state = DRAIN_RESTORED;
	n[2].flaps = 2;
	n[2].since_ns = NOW - 600 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].flaps, 0);
}

static void test_manual_request_min_available(void)
{
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	n[1].requested = 1;
	const char *tasks[] = {"a", "b", "c"};
	drain_service s = {.name = "web", .min_available = "3", .replicas = 3, .task_nodes = tasks, .ntasks = 3};
	drain_action a[16];
	size_t k = drain_decide(&pol, n, 3, &s, 1, NOW, a, 16);
	CU_ASSERT_EQUAL(k, 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "below its min-available 3"));
	/* capacity returns: a fourth task elsewhere */
	const char *tasks2[] = {"a", "b", "c", "a"};
	s.task_nodes = tasks2;
	s.ntasks = 4;
	k = drain_decide(&pol, n, 3, &s, 1, NOW, a, 16);
	CU_ASSERT_EQUAL(k, 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_STRING_EQUAL(a[0].reason, "manual request");
	/* percentages round up */
	CU_ASSERT_EQUAL(drain_min_available("50%", 3), 2);
	CU_ASSERT_EQUAL(drain_min_available("100%", 4), 4);
	CU_ASSERT_EQUAL(drain_min_available("2", 9), 2);
	CU_ASSERT_EQUAL(drain_min_available("x", 3), -1);
	CU_ASSERT_EQUAL(drain_min_available("150%", 3), -1);
	s.min_available = "lots";
	k = drain_decide(&pol, n, 3, &s, 1, NOW, a, 16);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "malformed swarmheal.min-available"));
}

static void test_read_only(void)
{
	drain_policy p = pol;
	p.read_only = 1;
	drain_node n[3] = {healthy("a"), healthy("b"), dead_hb("c")};
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&p, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "read-only"));
}

static void test_zone_guard_alone(void)
{
	/* zones a (one node), b (one node), c (four nodes): a and b are dead. Only 2 of 6
	 * nodes look dead, so the node-count half would drain both; every node of 2 of 3
	 * zones is dead, so the zone half refuses */
	drain_node z[6] = {dead_hb("a1"), dead_hb("b1"), healthy("c1"), healthy("c2"), healthy("c3"), healthy("c4")};
	const char *zn[6] = {"a", "b", "c", "c", "c", "c"};
	for (int i = 0; i < 6; i++)
		z[i].zone = zn[i];
	drain_policy p = pol;
	p.max_drained = 6;
	drain_action a[16];
	size_t k = decide(&p, z, 6, a);
	CU_ASSERT_EQUAL_FATAL(k, 2);
	for (size_t i = 0; i < k; i++) {
		CU_ASSERT_EQUAL(a[i].kind, DRAIN_ACT_REFUSE);
		CU_ASSERT_EQUAL(a[i].node, i);
		CU_ASSERT_PTR_NOT_NULL(strstr(a[i].reason, "2 of 6 nodes or most zones look dead"));
	}
	/* one zone of three down is no partition: a1 alone dead is drained */
	z[1] = healthy("b1");
	z[1].zone = "b";
	k = decide(&p, z, 6, a);
	CU_ASSERT_EQUAL_FATAL(k, 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 0);
	/* a single zone label counts for nothing: its only node dead, the unlabelled ones fine */
	drain_node u[4] = {dead_hb("u1"), healthy("u2"), healthy("u3"), healthy("u4")};
	u[0].zone = "lonely";
	k = decide(&p, u, 4, a);
	CU_ASSERT_EQUAL_FATAL(k, 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
}

static void test_budget_floor_of_one(void)
{
	/* 2 nodes: a third is 0, the floor makes it 1 */
	drain_node n[2] = {healthy("a"), dead_hb("b")};
	drain_action a[16];
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 2, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 1);
	/* and exactly 1: with a drained by us (alive, not yet healthy long enough) b is refused */
	n[0].state = DRAIN_DRAINED;
	n[0].availability = "drain";
	n[0].healthy_since_ns = NOW - 1 * S;
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 2, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(a[0].node, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "1 nodes already drained by swarmheal, the limit is 1"));
}

static drain_node drained_by_us(const char *id, int flaps, int64_t healthy_for)
{
	drain_node n = healthy(id);
	n.state = DRAIN_DRAINED;
	n.availability = "drain";
	n.flaps = flaps;
	n.healthy_since_ns = NOW - healthy_for;
	return n;
}

static void test_holdoff_cap_one_hour(void)
{
	/* restore-after 30 s and 10 flaps would be 30 s << 10 = 8.5 h: capped at 1 h */
	drain_node n[3] = {healthy("a"), healthy("b"), drained_by_us("c", 10, 3599 * S)};
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	n[2].healthy_since_ns = NOW - 3600 * S;
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_RESTORE);
	CU_ASSERT_EQUAL(a[0].node, 2);
	/* a policy's own cap wins over the default */
	drain_policy p = pol;
	p.holdoff_max_ns = 100 * S;
	n[2].healthy_since_ns = NOW - 99 * S;
	CU_ASSERT_EQUAL(decide(&p, n, 3, a), 0);
	n[2].healthy_since_ns = NOW - 100 * S;
	CU_ASSERT_EQUAL_FATAL(decide(&p, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_RESTORE);
}

static void test_held_while_requested(void)
{
	/* healthy for an hour, but a manual request stands: stays drained, nothing recorded */
	drain_node n[3] = {healthy("a"), healthy("b"), drained_by_us("c", 0, 3600 * S)};
	n[2].requested = 1;
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	/* the request withdrawn: restored */
	n[2].requested = 0;
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_RESTORE);
	CU_ASSERT_EQUAL(a[0].new_state, DRAIN_RESTORED);
}

static void test_read_only_refuses_restore(void)
{
	drain_policy p = pol;
	p.read_only = 1;
	drain_node n[3] = {healthy("a"), healthy("b"), drained_by_us("c", 0, 31 * S)};
	drain_action a[16];
	CU_ASSERT_EQUAL_FATAL(decide(&p, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(a[0].node, 2);
	CU_ASSERT_EQUAL(a[0].new_state, DRAIN_DRAINED);
	CU_ASSERT_STRING_EQUAL(a[0].reason, "would restore node c but the arbiter mode is read-only");
}

static void test_swarm_disconnected_is_death(void)
{
	/* heartbeat fine, engine up, Swarm says disconnected */
	drain_node n[3] = {healthy("a"), healthy("b"), healthy("c")};
	n[2].swarm_state = "disconnected";
	n[2].unhealthy_since_ns = NOW;
	CU_ASSERT_TRUE(drain_node_dead(&n[2]));
	drain_action a[16];
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 2);
	CU_ASSERT_STRING_EQUAL(a[0].reason, "swarm reports it disconnected");
}

static void test_person_drain_not_ours(void)
{
	/* a person drained a; c dies: a's drain is not counted against our limit of 1 (3 nodes) */
	drain_node n[3] = {healthy("a"), healthy("b"), dead_hb("c")};
	n[0].availability = "drain";
	drain_action a[16];
	CU_ASSERT_EQUAL_FATAL(decide(&pol, n, 3, a), 1);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 2);
	/* a node a person drained that then dies is still theirs: no action at all */
	n[2] = healthy("c");
	n[0] = dead_hb("a");
	n[0].availability = "drain";
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
}

static void test_healthy_means_alive_now(void)
{
	/* a stale healthy_since on a node that is dead now neither restores nor forgets it */
	drain_node n[3] = {healthy("a"), healthy("b"), drained_by_us("c", 0, 100 * S)};
	n[2].hb_present = 0;
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	n[2].state = DRAIN_HUMAN_ACTIVE;
	n[2].availability = "active";
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
	/* a person reactivated it and it is healthy, but not yet for restore-after (30 s) */
	n[2] = healthy("c");
	n[2].state = DRAIN_HUMAN_ACTIVE;
	n[2].healthy_since_ns = NOW - 29 * S;
	CU_ASSERT_EQUAL(decide(&pol, n, 3, a), 0);
}

static void test_manual_request_rules(void)
{
	/* a request on a node that is dead but still within its grace: neither a death
	 * drain (grace) nor a manual one (requests drain healthy nodes) */
	drain_policy p = pol;
	p.grace_ns = 5 * S;
	drain_node n[3] = {healthy("a"), healthy("b"), dead_hb("c")};
	n[2].requested = 1;
	drain_action a[16];
	CU_ASSERT_EQUAL(decide(&p, n, 3, a), 0);
	/* the partition guard stops death drains, not a person's request: 2 of 3 dead,
	 * a manual request on a is carried out, the dead ones refused */
	drain_node m[3] = {healthy("a"), dead_hb("b"), dead_hb("c")};
	m[0].requested = 1;
	size_t k = decide(&pol, m, 3, a);
	CU_ASSERT_EQUAL_FATAL(k, 3);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[0].node, 0);
	CU_ASSERT_STRING_EQUAL(a[0].reason, "manual request");
	CU_ASSERT_EQUAL(a[1].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(a[2].kind, DRAIN_ACT_REFUSE);
}

static void test_tasks_on_dead_or_drained_nodes(void)
{
	/* web needs 2: tasks on a, b, c and d; d is dead, c is drained. A request on b
	 * would leave only a's task: refused */
	drain_node n[4] = {healthy("a"), healthy("b"), healthy("c"), healthy("d")};
	n[1].requested = 1;
	n[2].availability = "drain";
	n[3].swarm_state = "down";
	n[3].unhealthy_since_ns = NOW;
	const char *tasks[] = {"a", "b", "c", "d"};
	drain_service s = {.name = "web", .min_available = "2", .replicas = 4, .task_nodes = tasks, .ntasks = 4};
	drain_policy p = pol;
	p.max_drained = 4;
	drain_action a[16];
	size_t k = drain_decide(&p, n, 4, &s, 1, NOW, a, 16);
	CU_ASSERT_EQUAL_FATAL(k, 2);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(a[0].node, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[0].reason, "would keep 1 running tasks, below its min-available 2"));
	CU_ASSERT_EQUAL(a[1].kind, DRAIN_ACT_DRAIN); /* d itself: dead */
	CU_ASSERT_EQUAL(a[1].node, 3);
}

static void test_max_drained_flag(void)
{
	/* 9 nodes (a third would be 3), --max-drained 1: the second dead node is refused */
	drain_node n[9];
	char ids[9][4];
	for (int i = 0; i < 9; i++) {
		snprintf(ids[i], 4, "n%d", i);
		n[i] = healthy(ids[i]);
	}
	n[1] = dead_hb(ids[1]);
	n[2] = dead_hb(ids[2]);
	drain_policy p = pol;
	p.max_drained = 1;
	drain_action a[16];
	CU_ASSERT_EQUAL_FATAL(decide(&p, n, 9, a), 2);
	CU_ASSERT_EQUAL(a[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(a[1].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a[1].reason, "the limit is 1"));
}

static void test_manual_request_held_while_budgets_unknown(void)
{
	/* the shell could not read db's task list: db's budget is unknown this pass, so b's request is held
	 * (b's drain would be allowed by web's budget alone); d is dead, and dead nodes are never held by it,
	 * also when requested */
	drain_node n[4] = {healthy("a"), healthy("b"), healthy("c"), dead_hb("d")};
	n[1].requested = 1;
	n[3].requested = 1;
	const char *tasks[] = {"a", "b", "c", "a"};
	drain_service s = {.name = "web", .min_available = "2", .replicas = 4, .task_nodes = tasks, .ntasks = 4};
	drain_policy p = pol;
	p.max_drained = 2;
	p.budgets_unknown = "cannot read the task list of service 'db'";
	drain_result r;
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(&p, n, 4, &s, 1, NOW, &r), SH_OK);
	CU_ASSERT_EQUAL_FATAL(r.nacts, 2);
	CU_ASSERT_EQUAL(r.acts[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(r.acts[0].node, 1);
	CU_ASSERT_EQUAL(r.acts[0].held, 1);
	CU_ASSERT_EQUAL(r.acts[0].new_state, DRAIN_NONE);
	CU_ASSERT_STRING_EQUAL(r.acts[0].reason, "manual drain of node b held: the min-available budgets are unknown "
						 "this pass (cannot read the task list of service 'db')");
	CU_ASSERT_EQUAL(r.acts[1].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(r.acts[1].node, 3);
	CU_ASSERT_EQUAL(r.acts[1].held, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.acts[1].reason, "heartbeat key is gone"));
	drain_result_free(&r);
	/* the service list itself could not be read: no service at all, held all the same */
	p.budgets_unknown = "cannot read the service list";
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(&p, n, 4, NULL, 0, NOW, &r), SH_OK);
	CU_ASSERT_EQUAL_FATAL(r.nacts, 2);
	CU_ASSERT_EQUAL(r.acts[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(r.acts[0].held, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.acts[0].reason, "(cannot read the service list)"));
	CU_ASSERT_EQUAL(r.acts[1].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(r.acts[1].node, 3);
	drain_result_free(&r);
	/* the monitoring rules hold it the same way (the shell's mode) */
	drain_policy pm = p;
	pm.monitoring = 1;
	drain_node m[3] = {healthy("a"), healthy("b"), healthy("c")};
	m[1].requested = 1;
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(&pm, m, 3, NULL, 0, NOW, &r), SH_OK);
	size_t held = 0, drains = 0;
	for (size_t i = 0; i < r.nacts; i++) {
		held += r.acts[i].kind == DRAIN_ACT_REFUSE && r.acts[i].held && r.acts[i].node == 1;
		drains += r.acts[i].kind == DRAIN_ACT_DRAIN;
	}
	CU_ASSERT_EQUAL(held, 1);
	CU_ASSERT_EQUAL(drains, 0);
	drain_result_free(&r);
	/* every budget known again: b is drained */
	p.budgets_unknown = NULL;
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(&p, n, 4, &s, 1, NOW, &r), SH_OK);
	CU_ASSERT_EQUAL_FATAL(r.nacts, 2);
	CU_ASSERT_EQUAL(r.acts[0].kind, DRAIN_ACT_DRAIN);
	CU_ASSERT_EQUAL(r.acts[0].node, 1);
	CU_ASSERT_STRING_EQUAL(r.acts[0].reason, "manual request");
	drain_result_free(&r);
	/* a known budget that refuses is a refusal, not a hold */
	s.min_available = "4";
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(&p, n, 4, &s, 1, NOW, &r), SH_OK);
	CU_ASSERT_EQUAL_FATAL(r.nacts, 2);
	CU_ASSERT_EQUAL(r.acts[0].kind, DRAIN_ACT_REFUSE);
	CU_ASSERT_EQUAL(r.acts[0].held, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.acts[0].reason, "below its min-available 4"));
	drain_result_free(&r);
}

static void test_states_roundtrip(void)
{
	enum drain_state s;
	CU_ASSERT_EQUAL(drain_state_parse("drained", &s), 0);
	CU_ASSERT_EQUAL(s, DRAIN_DRAINED);
	CU_ASSERT_EQUAL(drain_state_parse(drain_state_name(DRAIN_HUMAN_ACTIVE), &s), 0);
	CU_ASSERT_EQUAL(s, DRAIN_HUMAN_ACTIVE);
	CU_ASSERT_EQUAL(drain_state_parse("bogus", &s), -1);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"dead_heartbeat_drained", test_dead_heartbeat_drained},
		{"engine_down_and_swarm_down", test_engine_down_and_swarm_down},
		{"unknown_alone_is_not_death", test_unknown_alone_is_not_death},
		{"grace", test_grace},
		{"partition_guard", test_partition_guard},
		{"budget", test_budget},
		{"human_drain_and_reactivation", test_human_drain_and_reactivation},
		{"restore_and_flap_holdoff", test_restore_and_flap_holdoff},
		{"manual_request_min_available", test_manual_request_min_available},
		{"read_only", test_read_only},
		{"zone_guard_alone", test_zone_guard_alone},
		{"budget_floor_of_one", test_budget_floor_of_one},
		{"holdoff_cap_one_hour", test_holdoff_cap_one_hour},
		{"held_while_requested", test_held_while_requested},
		{"read_only_refuses_restore", test_read_only_refuses_restore},
		{"swarm_disconnected_is_death", test_swarm_disconnected_is_death},
		{"person_drain_not_ours", test_person_drain_not_ours},
		{"healthy_means_alive_now", test_healthy_means_alive_now},
		{"manual_request_rules", test_manual_request_rules},
		{"tasks_on_dead_or_drained_nodes", test_tasks_on_dead_or_drained_nodes},
		{"max_drained_flag", test_max_drained_flag},
		{"manual_request_held_while_budgets_unknown", test_manual_request_held_while_budgets_unknown},
		{"states_roundtrip", test_states_roundtrip},
		{NULL, NULL},
	};
	return t_run("drain", cases, argc, argv);
}
