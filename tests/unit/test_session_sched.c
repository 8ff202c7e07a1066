/* SPDX-License-Identifier: MIT */
/* test_session_sched.c - the session's keepalive schedule: period from the owner's budget, request timeout, retries */
#include "etcd_concurrency.h"
#include "sh_util.h"
#include "tmain.h"

#define MS SH_NS_PER_MS
#define S SH_NS_PER_S

static void test_period(void)
{
	/* budget = TTL: what is left after a worst-case election and a retry, capped at TTL/3 */
	CU_ASSERT_EQUAL(etcd_session_period(3 * S, 0), 750 * MS);
	CU_ASSERT_EQUAL(etcd_session_period(3 * S, 3 * S), 750 * MS);
	CU_ASSERT_EQUAL(etcd_session_period(3 * S, 10 * S), 750 * MS); /* a budget is never more than the TTL */
	CU_ASSERT_EQUAL(etcd_session_period(5 * S, 0), 5 * S / 3);
	CU_ASSERT_EQUAL(etcd_session_period(10 * S, 0), 10 * S / 3);
	/* swarmheald's fifth of the TTL: 4 s budget at 5 s */
	CU_ASSERT_EQUAL(etcd_session_period(5 * S, 4 * S), 5 * S / 3);
	/* arbiter-elect --ttl 4s: 4 - 0.8 - 0.85 = 2.35 s leaves 100 ms */
	CU_ASSERT_EQUAL(etcd_session_period(4 * S, 2350 * MS), 100 * MS);
	/* a budget that cannot hold an election: as often as allowed, never more */
	CU_ASSERT_EQUAL(etcd_session_period(2 * S, 0), ETCD_SESSION_MIN_PERIOD_NS);
	CU_ASSERT_EQUAL(etcd_session_period(4 * S, 1 * S), ETCD_SESSION_MIN_PERIOD_NS);
	/* an election and its slack always fit between the last success and the budget's end */
	for (int64_t ttl = 3 * S; ttl <= 60 * S; ttl += S) {
		int64_t p = etcd_session_period(ttl, 0);
		CU_ASSERT(p <= ttl / 3);
		CU_ASSERT(p + ETCD_SESSION_ELECTION_NS + ETCD_SESSION_SLACK_NS <= ttl);
	}
}

static void test_request_timeout(void)
{
	CU_ASSERT_EQUAL(etcd_session_request_timeout(2 * S), 200);
	CU_ASSERT_EQUAL(etcd_session_request_timeout(3 * S), 200);
	CU_ASSERT_EQUAL(etcd_session_request_timeout(4 * S), 250);
	CU_ASSERT_EQUAL(etcd_session_request_timeout(10 * S), 625);
	CU_ASSERT_EQUAL(etcd_session_request_timeout(60 * S), 1000);
	/* within the slack an election leaves: a hung request never eats the room for a retry */
	for (int64_t ttl = 2 * S; ttl <= 4 * S; ttl += S)
		CU_ASSERT(etcd_session_request_timeout(ttl) * MS <= ETCD_SESSION_SLACK_NS);
}

static void test_next_send(void)
{
	int64_t ok = 100 * S, dl = ok + 3 * S, per = 750 * MS;
	/* after a success: one period after that success was sent */
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, ok, ok + 2 * MS, dl, per, 0), ok + per);
	/* first failure: at once (on the next endpoint) */
	int64_t try1 = ok + per, end1 = try1 + 200 * MS;
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, try1, end1, dl, per, 1), end1);
	/* later failures: RETRY after the last attempt was sent ... */
	int64_t try2 = end1, end2 = try2 + 1 * MS; /* refused at once */
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, try2, end2, dl, per, 2), try2 + ETCD_SESSION_RETRY_NS);
	/* ... or at once when the attempt itself took longer (it timed out) */
	int64_t end3 = try2 + 200 * MS;
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, try2, end3, dl, per, 5), end3);
	/* never past the deadline: there the session is lost */
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, dl - 10 * MS, dl - 5 * MS, dl, per, 3), dl);
	CU_ASSERT_EQUAL(etcd_session_next_send(ok, ok, ok, ok + 100 * MS, per, 0), ok + 100 * MS);
	/* a whole default election: with failures every attempt, attempts keep coming until the deadline */
	int64_t now = ok + per, last = now;
	int n = 0, f = 1;
	while (now < dl) {
		int64_t next = etcd_session_next_send(ok, last, now, dl, per, f++);
		CU_ASSERT(next >= now);
		CU_ASSERT(next - now <= ETCD_SESSION_RETRY_NS);
		last = next;
		now = next + 200 * MS; /* each attempt times out */
		n++;
	}
	CU_ASSERT(n >= 10);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"period", test_period},
		{"request_timeout", test_request_timeout},
		{"next_send", test_next_send},
		{NULL, NULL},
	};
	return t_run("session_sched", cases, argc, argv);
}
