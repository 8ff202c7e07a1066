/* SPDX-License-Identifier: MIT */
/* test_drain_signals.c - the monitoring rules of the node-drain decision (DESIGN.md "Node health"), one per rule */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "drain_ctl.h"
#include "tmain.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)
#define T0 (INT64_C(1000) * S)

static const drain_policy mpol = {.restore_after_ns = 30 * S, .monitoring = 1};

static drain_node live(const char *id)
{
	return (drain_node){.id = id, .swarm_state = "ready", .availability = "active", .hb_present = 1,
			    .hb_engine_up = 1, .hb_engine = DRAIN_ENGINE_UP, .hb_runs_as = "systemd"};
}

/* what the shell does each pass: decide, keep the memory */
static drain_result pass(const drain_policy *p, drain_node *n, size_t cnt, int64_t now)
{
	drain_result r;
	CU_ASSERT_EQUAL_FATAL(drain_decide_all(p, n, cnt, NULL, 0, now, &r), SH_OK);
	for (size_t i = 0; i < cnt; i++)
		n[i].watch = r.watch[i];
	return r;
}

static size_t count_kind(const drain_result *r, enum drain_kind k, long node)
{
	size_t c = 0;
	for (size_t i = 0; i < r->nacts; i++)
		c += r->acts[i].kind == k && (node < 0 || r->acts[i].node == (size_t)node);
	return c;
}

static const drain_action *find_kind(const drain_result *r, enum drain_kind k, size_t node)
{
	for (size_t i = 0; i < r->nacts; i++)
		if (r->acts[i].kind == k && r->acts[i].node == node)
			return &r->acts[i];
	return NULL;
}

/* the reason of the first action of that kind for node, "" when there is none */
static const char *reason_of(const drain_result *r, enum drain_kind k, size_t node)
{
	const drain_action *a = find_kind(r, k, node);
	return a ? a->reason : "";
}

static void lose_key(drain_node *n)
{
	n->hb_present = 0;
	n->hb_engine = DRAIN_ENGINE_UNSET;
	n->hb_runs_as = NULL;
}

static void set_probe(drain_node *n, enum drain_probe pr, int64_t at)
{
	n->probe = pr;
	n->probe_at_ns = at;
}

/* swarmheald first: a node whose heartbeat was never seen is unmonitored, noted once, never drained for it */
static void test_never_seen_is_unmonitored(void)
{
	drain_node n[3] = {live("a"), live("b"), live("c")};
	lose_key(&n[2]);
	drain_result r = pass(&mpol, n, 3, T0);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_UNMONITORED);
	CU_ASSERT_EQUAL(r.count[DRAIN_MON_UNMONITORED], 1);
	CU_ASSERT_EQUAL(r.count[DRAIN_MON_MONITORED], 2);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0);
	const drain_action *a = find_kind(&r, DRAIN_ACT_NOTE, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "no agent heartbeat seen"));
	drain_result_free(&r);
	r = pass(&mpol, n, 3, T0 + 60 * S);
	CU_ASSERT_EQUAL(r.nacts, 0); /* noted once, still not drained a minute later */
	drain_result_free(&r);
}

/* the first heartbeat makes a node monitored */
static void test_first_heartbeat_monitors(void)
{
	drain_node n[3] = {live("a"), live("b"), live("c")};
	lose_key(&n[2]);
	drain_result r = pass(&mpol, n, 3, T0);
	drain_result_free(&r);
	n[2] = (drain_node){.id = "c", .swarm_state = "ready", .availability = "active", .hb_present = 1,
			    .hb_engine = DRAIN_ENGINE_UP, .watch = n[2].watch};
	r = pass(&mpol, n, 3, T0 + S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_MONITORED);
	CU_ASSERT_EQUAL(n[2].watch.mon_since_ns, T0 + S);
	drain_result_free(&r);
	/* and from then on a lost key is a suspect, not unmonitored */
	lose_key(&n[2]);
	r = pass(&mpol, n, 3, T0 + 2 * S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
}

/* an unmonitored node is judged by Swarm's state: down past the grace is drained, unknown is not */
static void test_unmonitored_judged_by_swarm(void)
{
	drain_policy p = mpol;
	p.grace_ns = 5 * S;
	drain_node n[3] = {live("a"), live("b"), live("c")};
	lose_key(&n[2]);
	n[2].swarm_state = "unknown";
	drain_result r = pass(&p, n, 3, T0);
	drain_result_free(&r);
	r = pass(&p, n, 3, T0 + 60 * S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
	n[2].swarm_state = "down";
	r = pass(&p, n, 3, T0 + 61 * S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0); /* grace */
	drain_result_free(&r);
	r = pass(&p, n, 3, T0 + 66 * S);
	const drain_action *a = find_kind(&r, DRAIN_ACT_DRAIN, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "swarm reports it down"));
	drain_result_free(&r);
}

/* heartbeat gone with the agent's stop mark: unmonitored, no probe, no drain */
static void test_stop_mark_unmonitored(void)
{
	drain_node n[3] = {live("a"), live("b"), live("c")};
	drain_result r = pass(&mpol, n, 3, T0);
	drain_result_free(&r);
	n[2].hb_stopped = 1;
	n[2].hb_engine = DRAIN_ENGINE_UNSET;
	r = pass(&mpol, n, 3, T0 + S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_UNMONITORED);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0);
	const drain_action *a = find_kind(&r, DRAIN_ACT_NOTE, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "stopped on purpose"));
	drain_result_free(&r);
	/* then the mark goes too (deleted by a person): still unmonitored */
	n[2].hb_stopped = 0;
	lose_key(&n[2]);
	r = pass(&mpol, n, 3, T0 + 30 * S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_UNMONITORED);
	CU_ASSERT_EQUAL(r.nacts, 0);
	drain_result_free(&r);
}

/* heartbeat gone without a mark: suspect, a probe is asked for, nothing drained, not asked twice at once */
static void test_lost_key_asks_probe(void)
{
	drain_node n[3] = {live("a"), live("b"), live("c")};
	drain_result r = pass(&mpol, n, 3, T0);
	drain_result_free(&r);
	lose_key(&n[2]);
	r = pass(&mpol, n, 3, T0 + S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_EQUAL(r.count[DRAIN_MON_SUSPECT], 1);
	CU_ASSERT_EQUAL(r.nacts, 1);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_PROBE, 2));
	drain_result_free(&r);
	r = pass(&mpol, n, 3, T0 + S + 500 * MS); /* still outstanding */
	CU_ASSERT_EQUAL(r.nacts, 0);
	drain_result_free(&r);
	r = pass(&mpol, n, 3, T0 + 4 * S); /* never answered: asked again */
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_PROBE, 2));
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
}

static void suspect_of(drain_node *n, size_t cnt, size_t who, const drain_policy *p)
{
	drain_result r = pass(p, n, cnt, T0);
	drain_result_free(&r);
	lose_key(&n[who]);
	r = pass(p, n, cnt, T0 + S);
	drain_result_free(&r);
}

/* suspect + refused or timed out: dead, drained once the settle window has passed */
static void test_probe_failure_drains(void)
{
	static const enum drain_probe fails[] = {DRAIN_PROBE_REFUSED, DRAIN_PROBE_TIMEOUT};
	for (int f = 0; f < 2; f++) {
		drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
		suspect_of(n, 4, 3, &mpol);
		set_probe(&n[3], fails[f], T0 + S + 100 * MS);
		drain_result r = pass(&mpol, n, 4, T0 + 3 * S);
		CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
		const drain_action *a = find_kind(&r, DRAIN_ACT_DRAIN, 3);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, f ? "does not answer" : "refuses connections"));
		drain_result_free(&r);
	}
	/* a probe result from before the key vanished is no evidence */
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	suspect_of(n, 4, 3, &mpol);
	set_probe(&n[3], DRAIN_PROBE_REFUSED, T0 + S - 1);
	drain_result r = pass(&mpol, n, 4, T0 + 3 * S);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
}

/* suspect + the probe connects: alive, no drain, "agent lost, node answers" recorded once */
static void test_probe_answer_no_drain_noted_once(void)
{
	drain_node n[3] = {live("a"), live("b"), live("c")};
	suspect_of(n, 3, 2, &mpol);
	set_probe(&n[2], DRAIN_PROBE_ALIVE, T0 + S + 10 * MS);
	drain_result r = pass(&mpol, n, 3, T0 + 2 * S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_TRUE(n[2].watch.answered);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_NOTE, 2), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_NOTE, 2), "agent lost, node answers"));
	drain_result_free(&r);
	r = pass(&mpol, n, 3, T0 + 3 * S);
	CU_ASSERT_EQUAL(r.nacts, 0);
	drain_result_free(&r);
	/* it answers again after a re-probe: still one note */
	set_probe(&n[2], DRAIN_PROBE_ALIVE, T0 + 8 * S);
	r = pass(&mpol, n, 3, T0 + 9 * S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_NOTE, -1), 0);
	drain_result_free(&r);
}

/* a node whose agent is lost is probed again every reprobe interval; a later failure is death */
static void test_reprobe(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	suspect_of(n, 4, 3, &mpol);
	set_probe(&n[3], DRAIN_PROBE_ALIVE, T0 + S + 10 * MS);
	drain_result r = pass(&mpol, n, 4, T0 + 2 * S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0);
	drain_result_free(&r);
	r = pass(&mpol, n, 4, T0 + 7 * S); /* 5 s after the answer */
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_PROBE, 3));
	drain_result_free(&r);
	set_probe(&n[3], DRAIN_PROBE_TIMEOUT, T0 + 7 * S + 300 * MS);
	r = pass(&mpol, n, 4, T0 + 7 * S + 400 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_DRAIN, 3));
	drain_result_free(&r);
}

/* the agent reports its engine down: dead first-hand, drained after the grace; slow is not dead */
static void test_engine_down_dead_slow_alive(void)
{
	drain_policy p = mpol;
	p.grace_ns = 2 * S;
	drain_node n[3] = {live("a"), live("b"), live("c")};
	drain_result r = pass(&p, n, 3, T0);
	drain_result_free(&r);
	n[2].hb_engine = DRAIN_ENGINE_SLOW;
	r = pass(&p, n, 3, T0 + S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_MONITORED);
	drain_result_free(&r);
	r = pass(&p, n, 3, T0 + 60 * S);
	CU_ASSERT_EQUAL(r.nacts, 0);
	drain_result_free(&r);
	n[2].hb_engine = DRAIN_ENGINE_DOWN;
	r = pass(&p, n, 3, T0 + 61 * S);
	CU_ASSERT_EQUAL(n[2].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0); /* grace */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0); /* first-hand: no probe needed */
	drain_result_free(&r);
	r = pass(&p, n, 3, T0 + 63 * S);
	const drain_action *a = find_kind(&r, DRAIN_ACT_DRAIN, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "engine down"));
	drain_result_free(&r);
}

/* correlated losses: the first probe death waits the settle window, by then the guard sees the others */
static void test_settle_window_counts_losses_together(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	drain_result r = pass(&mpol, n, 4, T0);
	drain_result_free(&r);
	/* d's key goes first; we are cut off from the nodes, so its probe fails at once */
	lose_key(&n[3]);
	r = pass(&mpol, n, 4, T0 + S);
	drain_result_free(&r);
	set_probe(&n[3], DRAIN_PROBE_TIMEOUT, T0 + S + 50 * MS);
	r = pass(&mpol, n, 4, T0 + S + 60 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0); /* settling: 1 of 4 would have passed the guard */
	drain_result_free(&r);
	/* b and c go within a third of the TTL; their probes have not answered yet */
	lose_key(&n[1]);
	lose_key(&n[2]);
	r = pass(&mpol, n, 4, T0 + 2 * S);
	drain_result_free(&r);
	r = pass(&mpol, n, 4, T0 + S + 1600 * MS); /* d's window is over: 3 of 4 look dead */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	const drain_action *a = find_kind(&r, DRAIN_ACT_REFUSE, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "suspecting our own partition"));
	drain_result_free(&r);
	/* settle < 0 switches the window off: d alone is drained at once */
	drain_policy p = mpol;
	p.settle_ns = -1;
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	suspect_of(m, 4, 3, &p);
	set_probe(&m[3], DRAIN_PROBE_TIMEOUT, T0 + S + 50 * MS);
	r = pass(&p, m, 4, T0 + S + 60 * MS);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_DRAIN, 3));
	drain_result_free(&r);
}

/* suspects that have not answered count for the partition guard; suspects that answered do not */
static void test_guard_counts_unanswered_suspects(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	drain_result r = pass(&mpol, n, 4, T0);
	drain_result_free(&r);
	lose_key(&n[1]);
	lose_key(&n[2]);
	lose_key(&n[3]);
	r = pass(&mpol, n, 4, T0 + S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 3);
	drain_result_free(&r);
	set_probe(&n[3], DRAIN_PROBE_REFUSED, T0 + S + 10 * MS);
	r = pass(&mpol, n, 4, T0 + 3 * S);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_REFUSE, 3));
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
	/* b and c answer: only d is dead, 1 of 4 */
	set_probe(&n[1], DRAIN_PROBE_ALIVE, T0 + 3 * S);
	set_probe(&n[2], DRAIN_PROBE_ALIVE, T0 + 3 * S);
	r = pass(&mpol, n, 4, T0 + 3 * S + 10 * MS);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_DRAIN, 3));
	drain_result_free(&r);
}

/* ---- early suspicion (policy.probe_every_ns): the port of a live node, then its lease ---- */

static const drain_policy epol = {.restore_after_ns = 30 * S, .monitoring = 1, .probe_every_ns = 500 * MS};

static void set_lease(drain_node *n, int64_t ttl, int64_t granted, int64_t at)
{
	n->lease_ttl_s = ttl;
	n->lease_granted_s = granted;
	n->lease_at_ns = at;
}

/* four live nodes watched since T0; node 3's probe at T0 + 1 s fails */
static void early_suspect_of(drain_node *n, size_t cnt, size_t who, const drain_policy *p, enum drain_probe pr)
{
	drain_result r = pass(p, n, cnt, T0);
	drain_result_free(&r);
	for (size_t i = 0; i < cnt; i++)
		set_probe(&n[i], DRAIN_PROBE_ALIVE, T0 + 10 * MS);
	set_probe(&n[who], pr, T0 + S);
}

/* every live monitored node is probed, at most every probe_every_ns; off by default */
static void test_live_nodes_probed_every(void)
{
	/* off (0): a failed probe result of a live node is ignored */
	drain_node o[2] = {live("a"), live("b")};
	drain_result r0 = pass(&mpol, o, 2, T0);
	CU_ASSERT_EQUAL(count_kind(&r0, DRAIN_ACT_PROBE, -1), 0);
	drain_result_free(&r0);
	set_probe(&o[1], DRAIN_PROBE_REFUSED, T0 + S);
	r0 = pass(&mpol, o, 2, T0 + 2 * S);
	CU_ASSERT_EQUAL(o[1].watch.mon, DRAIN_MON_MONITORED);
	CU_ASSERT_EQUAL(r0.nacts, 0);
	drain_result_free(&r0);

	drain_node n[3] = {live("a"), live("b"), live("c")};
	drain_result r = pass(&epol, n, 3, T0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_PROBE, 0), "watching node a"));
	drain_result_free(&r);
	r = pass(&epol, n, 3, T0 + 100 * MS); /* asked, not answered yet: not asked twice */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0);
	drain_result_free(&r);
	for (int i = 0; i < 3; i++)
		set_probe(&n[i], DRAIN_PROBE_ALIVE, T0 + 200 * MS);
	r = pass(&epol, n, 3, T0 + 600 * MS); /* 400 ms after the answers */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 0);
	CU_ASSERT_EQUAL(r.count[DRAIN_MON_MONITORED], 3);
	drain_result_free(&r);
	r = pass(&epol, n, 3, T0 + 700 * MS); /* 500 ms after */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 3);
	drain_result_free(&r);
	/* an unmonitored node is not watched */
	drain_node u[2] = {live("a"), live("b")};
	lose_key(&u[1]);
	r = pass(&epol, u, 2, T0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, 1), 0);
	drain_result_free(&r);
}

/* a live node whose probe fails is an early suspect at once: its lease is read, it is not drained */
static void test_live_probe_failure_suspect_reads_lease(void)
{
	static const enum drain_probe fails[] = {DRAIN_PROBE_REFUSED, DRAIN_PROBE_TIMEOUT};
	for (int f = 0; f < 2; f++) {
		drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
		early_suspect_of(n, 4, 3, &epol, fails[f]);
		drain_result r = pass(&epol, n, 4, T0 + S + 10 * MS);
		CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
		CU_ASSERT_EQUAL(n[3].watch.early_ns, T0 + S);
		CU_ASSERT_EQUAL(r.count[DRAIN_MON_SUSPECT], 1);
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 1);
		CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_LEASE, 3));
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
		drain_result_free(&r);
	}
	/* a failed probe from before the heartbeat came back is no evidence */
	drain_node n[2] = {live("a"), live("b")};
	drain_result r = pass(&epol, n, 2, T0);
	drain_result_free(&r);
	lose_key(&n[1]);
	set_probe(&n[1], DRAIN_PROBE_REFUSED, T0 + 2 * S);
	r = pass(&epol, n, 2, T0 + 2 * S);
	drain_result_free(&r);
	CU_ASSERT_EQUAL(n[1].watch.mon, DRAIN_MON_DEAD); /* lost key, refused probe */
	drain_node back = live("b");                      /* the agent is back; no probe since */
	back.watch = n[1].watch;
	back.probe = DRAIN_PROBE_REFUSED;
	back.probe_at_ns = T0 + 2 * S;
	n[1] = back;
	r = pass(&epol, n, 2, T0 + 3 * S);
	CU_ASSERT_EQUAL(n[1].watch.mon, DRAIN_MON_MONITORED);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0);
	drain_result_free(&r);
}

/* the agent still keeps its lease (TTL 2 of 3: a keepalive within the last second): suspect, never drained;
 * the lease is read again every DRAIN_LEASE_REASK_NS, and a lease read before the failure does not count */
static void test_lease_kept_not_dead(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_REFUSED);
	set_lease(&n[3], 1, 3, T0 + S - 1); /* read before the probe failed */
	drain_result r = pass(&epol, n, 4, T0 + S + 10 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_LEASE, 3));
	drain_result_free(&r);
	set_lease(&n[3], 2, 3, T0 + S + 20 * MS);
	r = pass(&epol, n, 4, T0 + S + 30 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0); /* just read */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 120 * MS);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_LEASE, 3));
	drain_result_free(&r);
	set_lease(&n[3], 2, 3, T0 + 10 * S);
	r = pass(&epol, n, 4, T0 + 10 * S + 10 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
	/* 5 s after the first failed probe the lease is read every second, not every 100 ms */
	r = pass(&epol, n, 4, T0 + 10 * S + 500 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + 11 * S);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_LEASE, 3));
	drain_result_free(&r);
}

/* the threshold: remaining < granted - keepalive period (etcd_session_period) - 250 ms, etcd rounding down */
static void test_missed_keepalive_threshold(void)
{
	static const struct {
		int64_t granted, dead_ttl, live_ttl;
	} c[] = {
		{3, 1, 2},  /* period 750 ms: under 2 s left is a missed keepalive */
		{2, 0, 1},  /* period 100 ms: 1.65 s, so only 0 */
		{10, 5, 6}, /* period 3.33 s: 6.42 s */
		{6, 2, 3},  /* period 2 s: 3.75 s (without the slack 4 s would take 3) */
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		for (int dead = 0; dead < 2; dead++) {
			drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
			early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_REFUSED);
			set_lease(&n[3], dead ? c[k].dead_ttl : c[k].live_ttl, c[k].granted, T0 + S + 10 * MS);
			drain_result r = pass(&epol, n, 4, T0 + S + 20 * MS);
			CU_ASSERT_EQUAL(n[3].watch.mon, dead ? DRAIN_MON_DEAD : DRAIN_MON_SUSPECT);
			drain_result_free(&r);
		}
	}
	/* a lease etcd no longer has (-1, granted omitted) is a missed keepalive too; an unknown granted TTL with a
	 * remaining one says nothing */
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	set_lease(&n[3], -1, 0, T0 + S + 10 * MS);
	drain_result r = pass(&epol, n, 4, T0 + S + 20 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + 2 * S);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_DRAIN, 3),
				      "does not answer on port 7946 and its agent missed a keepalive (lease under 1s "
				      "left or gone)"));
	drain_result_free(&r);
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(m, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	set_lease(&m[3], 0, 0, T0 + S + 10 * MS);
	r = pass(&epol, m, 4, T0 + S + 20 * MS);
	CU_ASSERT_EQUAL(m[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
}

/* port down + missed keepalive: dead, drained probe_every_ns after the first failed probe (every other node
 * probed once more by then), with both signals in the reason */
static void test_early_death_drained_after_a_round(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_REFUSED);
	set_lease(&n[3], 1, 3, T0 + S + 10 * MS);
	drain_result r = pass(&epol, n, 4, T0 + S + 20 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0); /* settling */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0); /* no need to read it again */
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 499 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0); /* dead already: its lease is not read again */
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 500 * MS);
	const drain_action *a = find_kind(&r, DRAIN_ACT_DRAIN, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "refuses connections on port 7946 and its agent missed a keepalive"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "lease TTL 1s of 3s"));
	drain_result_free(&r);
	/* Swarm's own down is not held back by that window */
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(m, 4, 3, &epol, DRAIN_PROBE_REFUSED);
	set_lease(&m[3], 1, 3, T0 + S + 10 * MS);
	m[3].swarm_state = "down";
	r = pass(&epol, m, 4, T0 + S + 20 * MS);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_DRAIN, 3));
	drain_result_free(&r);
}

/* found dead early, then its key expires: still dead for the same reason, no second settle window; the
 * port answering again ends it */
static void test_early_death_kept_when_key_expires(void)
{
	drain_policy p = epol;
	p.read_only = 1; /* a refusal per pass shows the reason each time */
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &p, DRAIN_PROBE_REFUSED);
	set_lease(&n[3], 1, 3, T0 + S + 10 * MS);
	drain_result r = pass(&p, n, 4, T0 + 2 * S);
	char first[256];
	snprintf(first, sizeof(first), "%s", reason_of(&r, DRAIN_ACT_REFUSE, 3));
	CU_ASSERT_PTR_NOT_NULL(strstr(first, "missed a keepalive"));
	drain_result_free(&r);
	lose_key(&n[3]);
	r = pass(&p, n, 4, T0 + 2 * S + 100 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_STRING_EQUAL(reason_of(&r, DRAIN_ACT_REFUSE, 3), first);
	drain_result_free(&r);
	set_probe(&n[3], DRAIN_PROBE_ALIVE, T0 + 3 * S);
	r = pass(&p, n, 4, T0 + 3 * S + 10 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_TRUE(n[3].watch.answered);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_REFUSE, 3), 0);
	drain_result_free(&r);
}

/* the probe answers again: the suspicion ends, nothing is drained */
static void test_early_suspect_answers_again(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	drain_result r = pass(&epol, n, 4, T0 + S + 10 * MS);
	drain_result_free(&r);
	set_probe(&n[3], DRAIN_PROBE_ALIVE, T0 + S + 500 * MS);
	set_lease(&n[3], 1, 3, T0 + S + 600 * MS);
	r = pass(&epol, n, 4, T0 + S + 700 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_MONITORED);
	CU_ASSERT_EQUAL(n[3].watch.early_ns, 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0);
	drain_result_free(&r);
}

/* early suspects count for the partition guard: two of four nodes stop answering in one probe round */
static void test_guard_counts_early_suspects(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(n, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	set_probe(&n[2], DRAIN_PROBE_TIMEOUT, T0 + S);
	set_probe(&n[1], DRAIN_PROBE_TIMEOUT, T0 + S);
	set_lease(&n[3], 1, 3, T0 + S + 10 * MS);
	drain_result r = pass(&epol, n, 4, T0 + S + 20 * MS);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + 2 * S);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_REFUSE, 3), "suspecting our own partition"));
	drain_result_free(&r);
	/* one of them alone: drained */
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(m, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	set_lease(&m[3], 1, 3, T0 + S + 10 * MS);
	r = pass(&epol, m, 4, T0 + S + 20 * MS);
	drain_result_free(&r);
	r = pass(&epol, m, 4, T0 + 2 * S);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_DRAIN, 3));
	drain_result_free(&r);
}

static int snap(const dock_node_list *nl, const etcd_range_result *hb, const drain_mem *prev, drain_node *out,
		drain_persisted *ps, drain_mem *mem, char (*zones)[64], char (*bad)[160])
{
	static const char *const prev_ids[] = {"n1"};
	etcd_range_result none = {0};
	return drain_snapshot(nl, hb, &none, &none, prev_ids, prev, 1, T0, T0, out, ps, mem, zones, bad);
}

/* the shell's snapshot: the lease of a live heartbeat key goes into the memory, a new lease (agent restarted)
 * drops the old reading, and the reading reaches the decision's input */
static void test_snapshot_carries_lease(void)
{
	dock_node dn = {.id = "n1", .hostname = "h1", .availability = "active", .state = "ready", .addr = "10.0.0.1"};
	dock_node_list nl = {.v = &dn, .n = 1};
	rec_heartbeat h = {.engine = REC_ENGINE_UP, .ts_ns = 1};
	snprintf(h.node_id, sizeof(h.node_id), "n1");
	snprintf(h.addr, sizeof(h.addr), "10.0.0.9");
	char *v = rec_heartbeat_encode(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	etcd_kv kv = {.key = "/p/nodes/n1", .value = v, .value_len = strlen(v), .lease = 0x1234};
	etcd_range_result hb = {.kvs = &kv, .n = 1}, none = {0};
	drain_node out[1];
	drain_persisted ps[1];
	drain_mem mem[1], prev[1] = {{.lease = 0x1234, .lease_ttl = 2, .lease_granted = 3, .lease_at = 5 * S}};
	char zones[1][64], bad[1][160];
	/* the same lease: the reading is kept and handed to the decision */
	CU_ASSERT_EQUAL_FATAL(snap(&nl, &hb, prev, out, ps, mem, zones, bad), 0);
	CU_ASSERT_EQUAL(mem[0].lease, 0x1234);
	CU_ASSERT_EQUAL(mem[0].lease_at, 5 * S);
	CU_ASSERT_EQUAL(out[0].lease_ttl_s, 2);
	CU_ASSERT_EQUAL(out[0].lease_granted_s, 3);
	CU_ASSERT_EQUAL(out[0].lease_at_ns, 5 * S);
	CU_ASSERT_STRING_EQUAL(mem[0].addr, "10.0.0.9");
	/* a new lease: no reading of it yet */
	kv.lease = 0x5678;
	CU_ASSERT_EQUAL_FATAL(snap(&nl, &hb, prev, out, ps, mem, zones, bad), 0);
	CU_ASSERT_EQUAL(mem[0].lease, 0x5678);
	CU_ASSERT_EQUAL(mem[0].lease_at, 0);
	CU_ASSERT_EQUAL(out[0].lease_at_ns, 0);
	/* the key gone: the last lease is remembered, nothing else changes */
	CU_ASSERT_EQUAL_FATAL(snap(&nl, &none, prev, out, ps, mem, zones, bad), 0);
	CU_ASSERT_EQUAL(mem[0].lease, 0x1234);
	CU_ASSERT_EQUAL(out[0].hb_present, 0);
	free(v);
}

/* probe deaths still go through the read-only mode and the budget */
static void test_probe_death_read_only_and_budget(void)
{
	drain_policy p = mpol;
	p.read_only = 1;
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	suspect_of(n, 4, 3, &p);
	set_probe(&n[3], DRAIN_PROBE_REFUSED, T0 + S + 10 * MS);
	drain_result r = pass(&p, n, 4, T0 + 3 * S);
	const drain_action *a = find_kind(&r, DRAIN_ACT_REFUSE, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "read-only"));
	drain_result_free(&r);
	p = mpol;
	p.max_drained = 1;
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	m[0].state = DRAIN_DRAINED;
	m[0].availability = "drain";
	suspect_of(m, 4, 3, &p);
	set_probe(&m[3], DRAIN_PROBE_REFUSED, T0 + S + 10 * MS);
	r = pass(&p, m, 4, T0 + 3 * S);
	a = find_kind(&r, DRAIN_ACT_REFUSE, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->reason, "the limit is 1"));
	drain_result_free(&r);
}

/* a node we drained whose agent ran as a Swarm task: ready + answering -> restored after --restore-after */
static void test_task_agent_restored_without_heartbeat(void)
{
	for (int task = 0; task < 2; task++) {
		drain_node n[3] = {live("a"), live("b"), live("c")};
		n[2].hb_runs_as = task ? "swarm-task" : "systemd";
		drain_result r = pass(&mpol, n, 3, T0);
		drain_result_free(&r);
		/* we drained it; its agent task stopped without a mark (killed) */
		n[2].state = DRAIN_DRAINED;
		n[2].availability = "drain";
		lose_key(&n[2]);
		r = pass(&mpol, n, 3, T0 + S);
		drain_result_free(&r);
		set_probe(&n[2], DRAIN_PROBE_ALIVE, T0 + S + 10 * MS);
		r = pass(&mpol, n, 3, T0 + 2 * S);
		drain_result_free(&r);
		set_probe(&n[2], DRAIN_PROBE_ALIVE, T0 + 31 * S);
		r = pass(&mpol, n, 3, T0 + 31 * S); /* healthy 29 s */
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_RESTORE, -1), 0);
		drain_result_free(&r);
		r = pass(&mpol, n, 3, T0 + 33 * S);
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_RESTORE, 2), (size_t)task);
		if (task)
			CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_RESTORE, 2), "swarm task"));
		drain_result_free(&r);
		/* not while Swarm calls it anything but ready */
		if (task) {
			n[2].swarm_state = "unknown";
			r = pass(&mpol, n, 3, T0 + 34 * S);
			CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_RESTORE, -1), 0);
			drain_result_free(&r);
		}
	}
}

/* more actions than any fixed array: 200 lost heartbeats give 200 probes */
static void test_no_fixed_cap(void)
{
	enum { N = 400 };
	drain_node *n = calloc(N, sizeof(*n));
	char(*ids)[8] = calloc(N, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], 8, "n%d", i);
		n[i] = live(ids[i]);
	}
	drain_result r = pass(&mpol, n, N, T0);
	drain_result_free(&r);
	for (int i = 0; i < 200; i++)
		lose_key(&n[i]);
	r = pass(&mpol, n, N, T0 + S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_PROBE, -1), 200);
	CU_ASSERT_EQUAL(r.count[DRAIN_MON_SUSPECT], 200);
	drain_result_free(&r);
	free(n);
	free(ids);
}

/* the shell's mappings: heartbeat record -> node inputs, sh_probe result -> probe input */
static void test_mappings(void)
{
	drain_node n = {0};
	drain_node_set_heartbeat(&n, NULL, 0);
	CU_ASSERT_FALSE(n.hb_present);
	CU_ASSERT_PTR_NULL(n.hb_runs_as);
	rec_heartbeat h = {.engine = REC_ENGINE_SLOW, .runs_as = REC_RUNS_SWARM_TASK};
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_TRUE(n.hb_present);
	CU_ASSERT_FALSE(n.hb_stopped);
	CU_ASSERT_EQUAL(n.hb_engine, DRAIN_ENGINE_SLOW);
	CU_ASSERT_TRUE(n.hb_engine_up);
	CU_ASSERT_STRING_EQUAL(n.hb_runs_as, "swarm-task");
	h.engine = REC_ENGINE_DOWN;
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_EQUAL(n.hb_engine, DRAIN_ENGINE_DOWN);
	CU_ASSERT_FALSE(n.hb_engine_up);
	h.stopped = 1;
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_TRUE(n.hb_present && n.hb_stopped);
	CU_ASSERT_EQUAL(n.hb_engine, DRAIN_ENGINE_UNSET);
	/* a key that does not parse is a live heartbeat, engine unknown: never death */
	drain_node_set_heartbeat(&n, &h, 0);
	CU_ASSERT_TRUE(n.hb_present);
	CU_ASSERT_FALSE(n.hb_stopped);
	CU_ASSERT_TRUE(n.hb_engine_up);
	CU_ASSERT_PTR_NULL(n.hb_runs_as);
	CU_ASSERT_EQUAL(drain_probe_from(SH_PROBE_ALIVE), DRAIN_PROBE_ALIVE);
	CU_ASSERT_EQUAL(drain_probe_from(SH_PROBE_REFUSED), DRAIN_PROBE_REFUSED);
	CU_ASSERT_EQUAL(drain_probe_from(SH_PROBE_TIMEOUT), DRAIN_PROBE_TIMEOUT);
	CU_ASSERT_EQUAL(drain_probe_from(SH_PROBE_UNREACHABLE), DRAIN_PROBE_TIMEOUT);
	CU_ASSERT_EQUAL(drain_probe_from(SH_PROBE_ERROR), DRAIN_PROBE_NONE);
	CU_ASSERT_STRING_EQUAL(drain_mon_name(DRAIN_MON_SUSPECT), "suspect");
}

/* ---- early suspicion by challenge: an agent that answers challenges is challenged instead of its lease read ---- */

/* four live nodes whose agents answer challenges; node 3's probe at T0 + 1 s fails */
static void challenge_suspect_of(drain_node *n, size_t cnt, const drain_policy *p, enum drain_probe pr)
{
	for (size_t i = 0; i < cnt; i++)
		n[i].hb_answers_challenge = 1;
	early_suspect_of(n, cnt, 3, p, pr);
}

static void set_challenge(drain_node *n, int64_t at, int answered)
{
	n->challenge_at_ns = at;
	n->challenge_answered = answered;
}

/* the first failed probe asks for a challenge (not a lease reading); a challenge not written (write failed) is
 * asked for again; one written and waiting is neither asked again nor death */
static void test_challenge_asked_instead_of_lease(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(n, 4, &epol, DRAIN_PROBE_TIMEOUT);
	drain_result r = pass(&epol, n, 4, T0 + S + 10 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 1);
	CU_ASSERT_PTR_NOT_NULL(find_kind(&r, DRAIN_ACT_CHALLENGE, 3));
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 20 * MS); /* the write failed: nothing recorded, asked again */
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, 3), 1);
	drain_result_free(&r);
	set_challenge(&n[3], T0 + S + 25 * MS, 0);
	r = pass(&epol, n, 4, T0 + S + 100 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, -1), 0);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
	/* an older agent (no answers_challenge) keeps the lease reading */
	drain_node o[4] = {live("a"), live("b"), live("c"), live("d")};
	early_suspect_of(o, 4, 3, &epol, DRAIN_PROBE_TIMEOUT);
	set_challenge(&o[3], T0 + S + 5 * MS, 0);
	r = pass(&epol, o, 4, T0 + 3 * S);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 0);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_LEASE, 3), 1);
	CU_ASSERT_EQUAL(o[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
}

/* no answer within the timeout (500 ms by default, measured from the write) is death, drained a probe round
 * after the first failed probe, with both signals in the reason; the policy's timeout is used when set */
static void test_challenge_unanswered_dead(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(n, 4, &epol, DRAIN_PROBE_REFUSED);
	set_challenge(&n[3], T0 + S + 20 * MS, 0);
	drain_result r = pass(&epol, n, 4, T0 + S + 519 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 520 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 0); /* dead: not challenged again */
	const drain_action *a = find_kind(&r, DRAIN_ACT_DRAIN, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(a->reason, "refuses connections on port 7946 and its agent did not answer a challenge within 500ms"));
	drain_result_free(&r);
	/* an answer to it came too late for that pass: the node answered, it is not dead any more */
	set_challenge(&n[3], T0 + S + 20 * MS, 1);
	r = pass(&epol, n, 4, T0 + S + 600 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);

	drain_policy p = epol;
	p.challenge_timeout_ns = 200 * MS;
	drain_node m[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(m, 4, &p, DRAIN_PROBE_TIMEOUT);
	set_challenge(&m[3], T0 + S + 20 * MS, 0);
	r = pass(&p, m, 4, T0 + S + 219 * MS);
	CU_ASSERT_EQUAL(m[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
	r = pass(&p, m, 4, T0 + S + 220 * MS);
	CU_ASSERT_EQUAL(m[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0); /* settling: a probe round after the first failure */
	drain_result_free(&r);
	r = pass(&p, m, 4, T0 + S + 500 * MS);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&r, DRAIN_ACT_DRAIN, 3), "did not answer a challenge within 200ms"));
	drain_result_free(&r);

	/* a timeout longer than the re-ask interval: a waiting challenge is not replaced (its clock would restart) */
	p.challenge_timeout_ns = 2 * S;
	drain_node k[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(k, 4, &p, DRAIN_PROBE_TIMEOUT);
	set_challenge(&k[3], T0 + S + 20 * MS, 0);
	r = pass(&p, k, 4, T0 + S + 1500 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 0);
	CU_ASSERT_EQUAL(k[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
	r = pass(&p, k, 4, T0 + S + 2020 * MS);
	CU_ASSERT_EQUAL(k[3].watch.mon, DRAIN_MON_DEAD);
	drain_result_free(&r);
}

/* an answering agent keeps its node alive however long the port fails; it is challenged again a second after
 * each challenge, and a later silence is death */
static void test_challenge_answered_alive(void)
{
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(n, 4, &epol, DRAIN_PROBE_TIMEOUT);
	set_challenge(&n[3], T0 + S + 20 * MS, 1);
	for (int64_t t = T0 + S + 30 * MS; t < T0 + S + 1020 * MS; t += 100 * MS) {
		drain_result r = pass(&epol, n, 4, t);
		CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, -1), 0);
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, -1), 0);
		drain_result_free(&r);
	}
	drain_result r = pass(&epol, n, 4, T0 + S + 1020 * MS);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, 3), 1);
	drain_result_free(&r);
	set_challenge(&n[3], T0 + S + 1030 * MS, 0);
	r = pass(&epol, n, 4, T0 + S + 1500 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
	drain_result_free(&r);
	r = pass(&epol, n, 4, T0 + S + 1530 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_DRAIN, 3), 1);
	drain_result_free(&r);
}

/* a challenge from before this suspicion began (an earlier episode) is no answer and no silence */
static void test_challenge_of_earlier_episode_ignored(void)
{
	for (int answered = 0; answered < 2; answered++) {
		drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
		challenge_suspect_of(n, 4, &epol, DRAIN_PROBE_TIMEOUT);
		set_challenge(&n[3], T0 + S - 1, answered);
		drain_result r = pass(&epol, n, 4, T0 + 3 * S);
		CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_SUSPECT);
		CU_ASSERT_EQUAL(count_kind(&r, DRAIN_ACT_CHALLENGE, 3), 1);
		drain_result_free(&r);
	}
}

/* found dead by an unanswered challenge, then its key expires: still dead for the same reason */
static void test_challenge_death_kept_when_key_expires(void)
{
	drain_policy p = epol;
	p.read_only = 1; /* a refusal per pass shows the reason each time */
	drain_node n[4] = {live("a"), live("b"), live("c"), live("d")};
	challenge_suspect_of(n, 4, &p, DRAIN_PROBE_REFUSED);
	set_challenge(&n[3], T0 + S + 20 * MS, 0);
	drain_result r = pass(&p, n, 4, T0 + 2 * S);
	char first[256];
	snprintf(first, sizeof(first), "%s", reason_of(&r, DRAIN_ACT_REFUSE, 3));
	CU_ASSERT_PTR_NOT_NULL(strstr(first, "did not answer a challenge"));
	drain_result_free(&r);
	lose_key(&n[3]);
	drain_node_set_heartbeat(&n[3], NULL, 0);
	r = pass(&p, n, 4, T0 + 2 * S + 100 * MS);
	CU_ASSERT_EQUAL(n[3].watch.mon, DRAIN_MON_DEAD);
	CU_ASSERT_STRING_EQUAL(reason_of(&r, DRAIN_ACT_REFUSE, 3), first);
	drain_result_free(&r);
}

/* the heartbeat's answers_challenge reaches the decision only from a live, parsed heartbeat */
static void test_challenge_mapping(void)
{
	drain_node n = {0};
	rec_heartbeat h = {.engine = REC_ENGINE_UP, .answers_challenge = 1};
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_TRUE(n.hb_answers_challenge);
	drain_node_set_heartbeat(&n, &h, 0);
	CU_ASSERT_FALSE(n.hb_answers_challenge);
	h.stopped = 1;
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_FALSE(n.hb_answers_challenge);
	drain_node_set_heartbeat(&n, NULL, 0);
	CU_ASSERT_FALSE(n.hb_answers_challenge);
	h.stopped = 0;
	h.answers_challenge = 0;
	drain_node_set_heartbeat(&n, &h, 1);
	CU_ASSERT_FALSE(n.hb_answers_challenge);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"never_seen_is_unmonitored", test_never_seen_is_unmonitored},
		{"first_heartbeat_monitors", test_first_heartbeat_monitors},
		{"unmonitored_judged_by_swarm", test_unmonitored_judged_by_swarm},
		{"stop_mark_unmonitored", test_stop_mark_unmonitored},
		{"lost_key_asks_probe", test_lost_key_asks_probe},
		{"probe_failure_drains", test_probe_failure_drains},
		{"probe_answer_no_drain_noted_once", test_probe_answer_no_drain_noted_once},
		{"reprobe", test_reprobe},
		{"engine_down_dead_slow_alive", test_engine_down_dead_slow_alive},
		{"settle_window_counts_losses_together", test_settle_window_counts_losses_together},
		{"guard_counts_unanswered_suspects", test_guard_counts_unanswered_suspects},
		{"probe_death_read_only_and_budget", test_probe_death_read_only_and_budget},
		{"task_agent_restored_without_heartbeat", test_task_agent_restored_without_heartbeat},
		{"no_fixed_cap", test_no_fixed_cap},
		{"mappings", test_mappings},
		{"live_nodes_probed_every", test_live_nodes_probed_every},
		{"live_probe_failure_suspect_reads_lease", test_live_probe_failure_suspect_reads_lease},
		{"lease_kept_not_dead", test_lease_kept_not_dead},
		{"missed_keepalive_threshold", test_missed_keepalive_threshold},
		{"early_death_drained_after_a_round", test_early_death_drained_after_a_round},
		{"early_suspect_answers_again", test_early_suspect_answers_again},
		{"early_death_kept_when_key_expires", test_early_death_kept_when_key_expires},
		{"snapshot_carries_lease", test_snapshot_carries_lease},
		{"guard_counts_early_suspects", test_guard_counts_early_suspects},
		{"challenge_asked_instead_of_lease", test_challenge_asked_instead_of_lease},
		{"challenge_unanswered_dead", test_challenge_unanswered_dead},
		{"challenge_answered_alive", test_challenge_answered_alive},
		{"challenge_of_earlier_episode_ignored", test_challenge_of_earlier_episode_ignored},
		{"challenge_death_kept_when_key_expires", test_challenge_death_kept_when_key_expires},
		{"challenge_mapping", test_challenge_mapping},
		{NULL, NULL},
	};
	return t_run("drain_signals", cases, argc, argv);
}
