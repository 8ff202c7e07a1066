/* SPDX-License-Identifier: MIT */
/* test_arbiter.c - every rule of the arbiter's decisions (live nodes, mode, grace, placement, quorum guard) */
#include <stdio.h>
#include <string.h>

#include "arbiter_decide.h"
#include "tmain.h"

#define S INT64_C(1000000000)
#define NOW (INT64_C(1000) * S)

static const arbiter_policy pol = {.zone_min_live = 2, .normal_pct = 50, .grace_ns = 5 * S};

static arbiter_node up(const char *id, const char *zone)
{
	return (arbiter_node){.id = id, .zone = zone, .hb = ARB_HB_RUNNING, .hb_seen = 1, .swarm_state = "ready",
			      .monitor = "monitored"};
}

static arbiter_node lost(const char *id, const char *zone)
{
	arbiter_node n = up(id, zone);
	n.hb = ARB_HB_ABSENT;
	return n;
}

/* ---- live ---- */

static void test_L1_running_heartbeat_is_live_even_if_swarm_says_down(void)
{
	arbiter_node n = up("a", "z");
	n.swarm_state = "down";
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
}

/* the drain controller's early death (port silent, challenge unanswered) outranks a key still on its lease; its
 * other reasons for dead (Swarm's down) do not, and a suspect is still live */
static void test_L0_drain_dead_outranks_running_heartbeat(void)
{
	arbiter_node n = up("a", "z");
	n.monitor = "dead";
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL)); /* a verdict left by a drain leader that is gone */
	n.monitor_current = 1;
	const char *why = NULL;
	CU_ASSERT_FALSE(arbiter_node_live(&n, &why));
	CU_ASSERT_STRING_EQUAL(why, "port and agent silent");
	n.swarm_state = "down";
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
	n.swarm_state = "disconnected";
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
	n.swarm_state = "ready";
	n.monitor = "suspect";
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
}

static void test_L2_engine_down_is_not_live(void)
{
	arbiter_node n = up("a", "z");
	n.hb_engine_down = 1;
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
}

static void test_L3_lost_heartbeat_not_live_though_swarm_ready(void)
{
	arbiter_node n = lost("a", "z"); /* swarm still says ready: the other side of a partition */
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
	n.hb_seen = 0;
	n.monitor = "suspect"; /* a new leader that never saw it: the drain controller's word */
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
	n.monitor = "dead";
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
}

static void test_L4_unmonitored_judged_by_swarm(void)
{
	arbiter_node n = {.id = "a", .zone = "z", .hb = ARB_HB_ABSENT, .monitor = "unmonitored", .swarm_state = "ready"};
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
	n.hb = ARB_HB_STOPPED;
	CU_ASSERT_TRUE(arbiter_node_live(&n, NULL));
	n.swarm_state = "down";
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
	n.swarm_state = "ready";
	n.manager = 1;
	n.reachability = "unreachable";
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL));
	n.swarm_state = "";
	n.manager = 0;
	CU_ASSERT_FALSE(arbiter_node_live(&n, NULL)); /* nothing known: not live */
}

/* ---- mode ---- */

static void test_M0_one_zone_is_normal(void)
{
	arbiter_node n[3] = {up("a", "z"), lost("b", "z"), lost("c", NULL)};
	arbiter_view v;
	arbiter_view_of(&pol, n, 3, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_NORMAL);
	CU_ASSERT_EQUAL(v.nzones, 1);
	CU_ASSERT_EQUAL(v.zoneless, 1);
}

static void test_M1_every_zone_below_min_live_is_read_only(void)
{
	/* three zones, one live node each: more than half live, still read-only */
	arbiter_node n[5] = {up("1", "a"), lost("4", "a"), up("2", "b"), lost("5", "b"), up("3", "c")};
	arbiter_view v;
	arbiter_view_of(&pol, n, 5, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_READ_ONLY);
	CU_ASSERT_EQUAL(v.live_zones, 3);
	CU_ASSERT_EQUAL(v.strong_zones, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.reason, "no zone of 3 has 2 live nodes"));
}

static void test_M2_one_live_zone_with_two_is_single_zone(void)
{
	arbiter_node n[5] = {up("1", "a"), up("4", "a"), lost("2", "b"), lost("5", "b"), lost("3", "c")};
	arbiter_view v;
	arbiter_view_of(&pol, n, 5, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_SINGLE_ZONE);
	CU_ASSERT_STRING_EQUAL(v.survivor, "a");
	CU_ASSERT_EQUAL(v.zones[0].live, 2);
	CU_ASSERT_EQUAL(v.zones[1].live, 0);
	CU_ASSERT_EQUAL(v.zones[1].swarm_ready, 2); /* evidence: swarm does not know yet */
	CU_ASSERT_EQUAL(v.zones[1].disagree, 0);
	/* two zones, one gone: single-zone too (more specific than half the zones) */
	arbiter_node m[3] = {up("1", "a"), up("4", "a"), lost("2", "b")};
	arbiter_view_of(&pol, m, 3, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_SINGLE_ZONE);
}

static void test_M3_half_the_zones_live_is_normal(void)
{
	arbiter_node n[5] = {up("1", "a"), up("4", "a"), up("2", "b"), lost("5", "b"), lost("3", "c")};
	arbiter_view v;
	arbiter_view_of(&pol, n, 5, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_NORMAL);
	CU_ASSERT_EQUAL(v.live_zones, 2);
	/* the threshold is an option: 70 % of three zones needs all three */
	arbiter_policy p = pol;
	p.normal_pct = 70;
	arbiter_view_of(&p, n, 5, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_READ_ONLY);
}

static void test_M4_few_live_zones_of_many_is_read_only(void)
{
	arbiter_node n[6] = {up("1", "a"), up("2", "a"), up("3", "b"), lost("4", "c"), lost("5", "d"), lost("6", "e")};
	arbiter_view v;
	arbiter_view_of(&pol, n, 6, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_READ_ONLY);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.reason, "no side can be trusted"));
	/* zone_min_live is an option: 1 makes one live node per zone enough to leave M1 */
	arbiter_node m[3] = {up("1", "a"), up("2", "b"), up("3", "c")};
	arbiter_policy p = pol;
	arbiter_view_of(&p, m, 3, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_READ_ONLY);
	p.zone_min_live = 1;
	arbiter_view_of(&p, m, 3, &v);
	CU_ASSERT_EQUAL(v.mode, REC_MODE_NORMAL);
}

/* ---- grace ---- */

static arbiter_view view_of(enum rec_mode m, const char *surv)
{
	arbiter_view v = {.mode = m};
	snprintf(v.survivor, sizeof(v.survivor), "%s", surv);
	return v;
}

static void test_G1_same_mode_forgets_pending(void)
{
	rec_arbiter_mode pub = {.mode = REC_MODE_NORMAL};
	arbiter_mem mem = {0};
	arbiter_view ro = view_of(REC_MODE_READ_ONLY, ""), nm = view_of(REC_MODE_NORMAL, "");
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &ro, NOW), 0); /* one lost heartbeat */
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &nm, NOW + 2 * S), 0); /* back */
	CU_ASSERT_EQUAL(mem.pending_since, 0);
	/* losing it again starts a fresh grace: not published 5 s after the first loss */
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &ro, NOW + 4 * S), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &ro, NOW + 6 * S), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &ro, NOW + 9 * S), 1);
}

static void test_G2_first_normal_record_at_once(void)
{
	arbiter_mem mem = {0};
	arbiter_view nm = view_of(REC_MODE_NORMAL, ""), sz = view_of(REC_MODE_SINGLE_ZONE, "a");
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, NULL, 0, &nm, NOW), 1);
	/* an absent record reads as normal: any other mode waits out the grace */
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, NULL, 0, &sz, NOW), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, NULL, 0, &sz, NOW + 5 * S), 1);
}

static void test_G3_change_held_for_grace_is_published(void)
{
	rec_arbiter_mode pub = {.mode = REC_MODE_NORMAL};
	arbiter_mem mem = {0};
	arbiter_view sa = view_of(REC_MODE_SINGLE_ZONE, "a"), sb = view_of(REC_MODE_SINGLE_ZONE, "b");
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &sa, NOW), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &sa, NOW + 4 * S), 0);
	/* the survivor changed: the clock restarts */
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &sb, NOW + 5 * S), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &sb, NOW + 9 * S), 0);
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pub, 1, &sb, NOW + 10 * S), 1);
	/* a published single-zone whose survivor moves is a transition too */
	rec_arbiter_mode pa = {.mode = REC_MODE_SINGLE_ZONE, .survivor = "a"};
	memset(&mem, 0, sizeof(mem));
	CU_ASSERT_EQUAL(arbiter_step(&pol, &mem, &pa, 1, &sb, NOW), 0);
	CU_ASSERT_NOT_EQUAL(mem.pending_since, 0);
}

/* ---- placement ---- */

static void test_P1_leader_outside_survivor_resigns(void)
{
	rec_arbiter_mode m = {.mode = REC_MODE_SINGLE_ZONE, .survivor = "a"};
	CU_ASSERT_EQUAL(arbiter_placement(&m, "b", 1), ARB_RESIGN);
	CU_ASSERT_EQUAL(arbiter_placement(&m, "", 1), ARB_RESIGN);
}

static void test_P2_no_replica_in_survivor_stays(void)
{
	rec_arbiter_mode m = {.mode = REC_MODE_SINGLE_ZONE, .survivor = "a"};
	CU_ASSERT_EQUAL(arbiter_placement(&m, "b", 0), ARB_STAY_ALONE);
}

static void test_P3_right_zone_or_other_mode_stays(void)
{
	rec_arbiter_mode m = {.mode = REC_MODE_SINGLE_ZONE, .survivor = "a"};
	CU_ASSERT_EQUAL(arbiter_placement(&m, "a", 1), ARB_STAY);
	m.mode = REC_MODE_READ_ONLY;
	CU_ASSERT_EQUAL(arbiter_placement(&m, "b", 1), ARB_STAY);
	m.mode = REC_MODE_NORMAL;
	CU_ASSERT_EQUAL(arbiter_placement(&m, "b", 1), ARB_STAY);
}

/* ---- quorum guard ---- */

static arbiter_manager mgr(const char *id, const char *zone, int answers, int leader)
{
	return (arbiter_manager){.host = id, .node_id = id, .zone = zone, .answers = answers, .is_manager = answers,
				 .has_leader = leader};
}

static const arbiter_qpolicy qpol = {.allow_force = 1, .grace_ns = 10 * S, .my_zone = "a", .may_act = 1};

/* three managers, two gone, the survivor in zone a */
static void lost3(arbiter_manager *m)
{
	m[0] = mgr("m1", "a", 1, 0);
	m[1] = mgr("m2", "b", 0, 0);
	m[2] = mgr("m3", "c", 0, 0);
}

static void test_Q1_a_leader_means_no_loss_and_ends_one(void)
{
	arbiter_manager m[3];
	lost3(m);
	m[2] = mgr("m3", "c", 1, 1);
	arbiter_qmem mem = {.lost_since = NOW - 100 * S, .reported = 1, .acted = 0};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_RECOVERED);
	CU_ASSERT_EQUAL(mem.lost_since, 0);
	/* past the grace, flag on, yet one manager reports a leader: never force */
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW + 100 * S, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
}

static void test_Q2_no_manager_answers_nothing_known(void)
{
	arbiter_manager m[2] = {mgr("m1", "a", 0, 0), mgr("m2", "b", 0, 0)};
	arbiter_qmem mem = {0};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 2, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
	CU_ASSERT_EQUAL(mem.lost_since, 0);
	/* an engine that answers but is no longer a manager is not a manager without a leader */
	m[0].answers = 1;
	arbiter_quorum_step(&qpol, &mem, m, 2, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
}

static void test_Q3_loss_reported_once(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qmem mem = {0};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_LOST);
	CU_ASSERT_EQUAL(mem.lost_since, NOW);
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW + S, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
}

static void test_Q4_never_twice_for_one_loss(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qmem mem = {.lost_since = NOW - 20 * S, .reported = 1, .acted = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
	/* acted through the step itself: the next step does nothing either */
	arbiter_qmem fresh = {.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_quorum_step(&qpol, &fresh, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_FORCE);
	arbiter_quorum_step(&qpol, &fresh, m, 3, NOW + S, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
}

static void test_Q5_within_grace_waits(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qmem mem = {.lost_since = NOW - 9 * S, .reported = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
	arbiter_quorum_step(&qpol, &mem, m, 3, NOW + S, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_FORCE);
}

static void test_Q6_without_flag_refuses_once(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qpolicy p = qpol;
	p.allow_force = 0;
	arbiter_qmem mem = {.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&p, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.reason, "--allow-force-new-cluster is off"));
	arbiter_quorum_step(&p, &mem, m, 3, NOW + S, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
}

static void test_Q7_without_lease_nothing(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qpolicy p = qpol;
	p.may_act = 0;
	arbiter_qmem mem = {.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&p, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_NONE);
	CU_ASSERT_EQUAL(mem.acted, 0);
}

static void test_Q8_no_manager_in_my_zone_refuses(void)
{
	arbiter_manager m[3];
	lost3(m);
	arbiter_qpolicy p = qpol;
	p.my_zone = "b"; /* m2 in zone b is gone; m1 answers but sits in zone a */
	arbiter_qmem mem = {.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&p, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_REFUSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.reason, "no manager in zone 'b' answers"));
	CU_ASSERT_EQUAL(mem.acted, 0);
	p.my_zone = "";
	memset(&mem, 0, sizeof(mem));
	mem = (arbiter_qmem){.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_quorum_step(&p, &mem, m, 3, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_REFUSE); /* an arbiter that does not know its zone never forces */
}

static void test_Q9_force_on_answering_manager_in_zone(void)
{
	arbiter_manager m[4] = {mgr("m0", "b", 1, 0), mgr("m1", "a", 0, 0), mgr("m2", "a", 1, 0), mgr("m3", "c", 0, 0)};
	arbiter_qmem mem = {.lost_since = NOW - 20 * S, .reported = 1};
	arbiter_qaction a;
	arbiter_quorum_step(&qpol, &mem, m, 4, NOW, &a);
	CU_ASSERT_EQUAL(a.kind, ARB_Q_FORCE);
	CU_ASSERT_EQUAL(a.target, 2);
	CU_ASSERT_EQUAL(mem.acted, 1);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"L0_drain_dead_outranks_running_heartbeat", test_L0_drain_dead_outranks_running_heartbeat},
		{"L1_running_heartbeat_is_live_even_if_swarm_says_down", test_L1_running_heartbeat_is_live_even_if_swarm_says_down},
		{"L2_engine_down_is_not_live", test_L2_engine_down_is_not_live},
		{"L3_lost_heartbeat_not_live_though_swarm_ready", test_L3_lost_heartbeat_not_live_though_swarm_ready},
		{"L4_unmonitored_judged_by_swarm", test_L4_unmonitored_judged_by_swarm},
		{"M0_one_zone_is_normal", test_M0_one_zone_is_normal},
		{"M1_every_zone_below_min_live_is_read_only", test_M1_every_zone_below_min_live_is_read_only},
		{"M2_one_live_zone_with_two_is_single_zone", test_M2_one_live_zone_with_two_is_single_zone},
		{"M3_half_the_zones_live_is_normal", test_M3_half_the_zones_live_is_normal},
		{"M4_few_live_zones_of_many_is_read_only", test_M4_few_live_zones_of_many_is_read_only},
		{"G1_same_mode_forgets_pending", test_G1_same_mode_forgets_pending},
		{"G2_first_normal_record_at_once", test_G2_first_normal_record_at_once},
		{"G3_change_held_for_grace_is_published", test_G3_change_held_for_grace_is_published},
		{"P1_leader_outside_survivor_resigns", test_P1_leader_outside_survivor_resigns},
		{"P2_no_replica_in_survivor_stays", test_P2_no_replica_in_survivor_stays},
		{"P3_right_zone_or_other_mode_stays", test_P3_right_zone_or_other_mode_stays},
		{"Q1_a_leader_means_no_loss_and_ends_one", test_Q1_a_leader_means_no_loss_and_ends_one},
		{"Q2_no_manager_answers_nothing_known", test_Q2_no_manager_answers_nothing_known},
		{"Q3_loss_reported_once", test_Q3_loss_reported_once},
		{"Q4_never_twice_for_one_loss", test_Q4_never_twice_for_one_loss},
		{"Q5_within_grace_waits", test_Q5_within_grace_waits},
		{"Q6_without_flag_refuses_once", test_Q6_without_flag_refuses_once},
		{"Q7_without_lease_nothing", test_Q7_without_lease_nothing},
		{"Q8_no_manager_in_my_zone_refuses", test_Q8_no_manager_in_my_zone_refuses},
		{"Q9_force_on_answering_manager_in_zone", test_Q9_force_on_answering_manager_in_zone},
		{NULL, NULL},
	};
	return t_run("arbiter", cases, argc, argv);
}
