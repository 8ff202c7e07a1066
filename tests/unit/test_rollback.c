/* SPDX-License-Identifier: MIT */
/* test_rollback.c - every rule of the rollback decision on plain structs (README "Rollback controller") */
#include <stdio.h>
#include <string.h>

#include "rollback_decide.h"
#include "tmain.h"

#define S INT64_C(1000000000)
#define NOW (INT64_C(100000) * S)
#define STARTED (NOW - 10 * S) /* the update under judgement started 10 s ago */

/* digests are opaque to the decision: short stand-ins, 64 hex digits each */
#define D(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define GOOD D("a")
#define BAD D("b")
#define OLDER D("c")
#define WORSE D("e")

static const rb_opts opts = {.healthy_after_ns = 30 * S, .pending_timeout_ns = 30 * S, .start_timeout_ns = 300 * S,
			     .max_failure_ratio = 0};

static rb_task tk(const char *id, const char *state, int64_t slot, int64_t created, const char *err)
{
	return (rb_task){.id = id, .state = state, .err = err, .node_id = "n1", .slot = slot, .created_ns = created,
			 .status_ns = created + 1 * S, .exit_code = strcmp(state, "failed") ? 0 : 1};
}

/* a replicated service of 2 in the middle of an update from GOOD (previous) to BAD */
static rb_service svc(rb_task *t, size_t n)
{
	return (rb_service){.id = "svc1", .update_state = "updating", .update_started_ns = STARTED,
			    .spec_sha256 = BAD, .prev_sha256 = GOOD, .replicas = 2, .tasks = t, .ntasks = n};
}

static rb_decision decide(const rb_service *s, const rec_rollback_state *j)
{
	rb_decision d;
	rollback_decide(&opts, s, j, NOW, &d);
	return d;
}

static void test_new_task_failed_rolls_back(void)
{
	rb_task t[2] = {tk("new1", "failed", 1, STARTED + S, "task: non-zero exit (1)"),
			tk("old2", "running", 2, STARTED - 100 * S, "")};
	rb_service s = svc(t, 2);
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_EQUAL(d.nfailed, 1);
	CU_ASSERT_EQUAL(d.failed[0], 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.why[0], "non-zero exit"));
	CU_ASSERT_TRUE(d.persist);
	CU_ASSERT_STRING_EQUAL(d.next.state, "rolling-back");
	CU_ASSERT_EQUAL(d.next.update_ns, STARTED);
	CU_ASSERT_TRUE(rec_rollback_state_is_bad(&d.next, BAD));
}

static void test_rejected_and_exited_count(void)
{
	rb_task t[1] = {tk("n", "rejected", 1, STARTED + S, "No such image")};
	rb_service s = svc(t, 1);
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_ROLLBACK);
	t[0] = tk("n", "complete", 1, STARTED + S, "");
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.why[0], "exited"));
	t[0] = tk("n", "shutdown", 1, STARTED + S, ""); /* stopped by Swarm: not a failure */
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
}

static void test_unhealthy_counts(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "task: non-zero exit (137): dockerexec: unhealthy container")};
	rb_service s = svc(t, 1);
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.why[0], "unhealthy:"));
}

static void test_old_tasks_not_judged(void)
{
	/* a task of the old spec failed (created before the update started): not this update's fault */
	rb_task t[2] = {tk("old", "failed", 1, STARTED - S, "task: non-zero exit (1)"),
			tk("new", "running", 1, STARTED + S, "")};
	rb_service s = svc(t, 2);
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_EQUAL(d.updated_slots, 1);
	CU_ASSERT_EQUAL(d.recheck_ns, RB_POLL_NS); /* being judged: looked at again soon */
	CU_ASSERT_STRING_EQUAL(d.next.state, "judging");
	CU_ASSERT_TRUE(d.persist);
}

static void test_pending_with_scheduling_error_after_timeout(void)
{
	const char *nsn = "no suitable node (scheduling constraints not satisfied on 3 nodes)";
	rb_task t[1] = {tk("p", "pending", 1, NOW - 29 * S, nsn)};
	rb_service s = svc(t, 1);
	s.update_started_ns = NOW - 60 * S;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
	t[0].created_ns = NOW - 30 * S;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.why[0], "pending for 30.0 s: no suitable node"));
	/* pending without a scheduling error is only bound by the start timeout */
	t[0].err = "";
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
}

static void test_start_timeout_and_health_start_period(void)
{
	rb_task t[1] = {tk("p", "preparing", 1, NOW - 301 * S, "")};
	rb_service s = svc(t, 1);
	s.update_started_ns = NOW - 400 * S;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.why[0], "not running after 301.0 s (still preparing)"));
	/* never less than the health check's start period */
	s.health_start_period_ns = 360 * S;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
	t[0].created_ns = NOW - 361 * S;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_ROLLBACK);
}

static void test_max_failure_ratio(void)
{
	rb_opts o = opts;
	o.max_failure_ratio = 0.3;
	rb_task t[4] = {tk("a", "failed", 1, STARTED + S, "x"), tk("b", "running", 2, STARTED + S, ""),
			tk("c", "running", 3, STARTED + S, ""), tk("d", "running", 4, STARTED + S, "")};
	rb_service s = svc(t, 4);
	s.replicas = 4;
	rb_decision d;
	rollback_decide(&o, &s, NULL, NOW, &d);
	CU_ASSERT_EQUAL(d.kind, RB_NONE); /* 1 of 4 = 0.25 <= 0.3 */
	t[1] = tk("b", "failed", 2, STARTED + S, "x");
	rollback_decide(&o, &s, NULL, NOW, &d);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK); /* 2 of 4 */
	CU_ASSERT_EQUAL(d.failed_slots, 2);
	CU_ASSERT_EQUAL(d.updated_slots, 4);
	/* a slot that crash-loops counts once: 1 slot of 2 tasks */
	rb_task c[2] = {tk("a1", "failed", 1, STARTED + S, "x"), tk("a2", "failed", 1, STARTED + 2 * S, "x")};
	rb_task both[6] = {c[0], c[1], t[2], t[3], tk("e", "running", 5, STARTED + S, ""), tk("f", "running", 6, STARTED + S, "")};
	s.tasks = both;
	s.ntasks = 6;
	rollback_decide(&o, &s, NULL, NOW, &d);
	CU_ASSERT_EQUAL(d.failed_slots, 1);
	CU_ASSERT_EQUAL(d.updated_slots, 5);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
}

static void test_judged_for_healthy_after_once_completed(void)
{
	/* crashes 8 s after starting: Swarm calls the update completed before that */
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "task: non-zero exit (1)")};
	rb_service s = svc(t, 1);
	s.update_state = "completed";
	s.update_completed_ns = NOW - 29 * S;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_ROLLBACK);
	/* after --healthy-after the update is no longer judged */
	s.update_completed_ns = NOW - 31 * S;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
}

static void test_swarm_rolling_back_left_alone(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_service s = svc(t, 1);
	s.update_state = "rollback_started";
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_LEAVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "Swarm is rolling back"));
	CU_ASSERT_EQUAL(d.recheck_ns, RB_POLL_NS);
}

static void test_labelled_off_left_alone(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_service s = svc(t, 1);
	s.off = 1;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_LEAVE);
	CU_ASSERT_FALSE(d.persist);
}

static void test_empty_previous_restores_newest_snapshot(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[3] = {{.sha256 = BAD, .verified = 1, .healthy = 1}, /* the failing spec itself: skipped */
			     {.sha256 = GOOD, .verified = 1, .healthy = 1},
			     {.sha256 = OLDER, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.prev_sha256 = "";
	s.snaps = sn;
	s.nsnaps = 3;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_RESTORE);
	CU_ASSERT_EQUAL(d.snapshot, 1);
	CU_ASSERT_STRING_EQUAL(d.next.state, "restoring");
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "PreviousSpec is empty"));
}

static void test_previous_known_bad_restores_snapshot(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[1] = {{.sha256 = GOOD, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.prev_sha256 = WORSE;
	s.snaps = sn;
	s.nsnaps = 1;
	rec_rollback_state j = {.state = "judging", .update_ns = STARTED};
	rec_rollback_state_add_bad(&j, WORSE);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_RESTORE);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "PreviousSpec is known bad"));
	/* without that knowledge it is an ordinary rollback */
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_ROLLBACK);
}

static void test_tampered_snapshot_refused(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[2] = {{.sha256 = GOOD, .verified = 0, .healthy = 1}, {.sha256 = OLDER, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.prev_sha256 = "";
	s.snaps = sn;
	s.nsnaps = 2;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_RESTORE);
	CU_ASSERT_EQUAL(d.snapshot, 1);
	CU_ASSERT_EQUAL(d.nrefused, 1);
	CU_ASSERT_EQUAL(d.refused[0], 0);
	/* nothing verified left: held for a person, never applied */
	s.nsnaps = 1;
	d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_HOLD);
	CU_ASSERT_EQUAL(d.nrefused, 1);
	CU_ASSERT_EQUAL(d.snapshot, -1);
	CU_ASSERT_STRING_EQUAL(d.next.state, "held");
}

static void test_rolled_back_spec_fails_too_held(void)
{
	/* the controller rolled back to GOOD; GOOD's new tasks fail too */
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_service s = svc(t, 1);
	s.update_state = "rollback_completed";
	s.update_completed_ns = NOW - S;
	s.spec_sha256 = GOOD;
	s.prev_sha256 = BAD;
	rec_rollback_state j = {.state = "rolled-back", .update_ns = STARTED - 20 * S};
	snprintf(j.spec_sha256, 65, "%s", BAD);
	snprintf(j.target_sha256, 65, "%s", GOOD);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_HOLD);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "never rolling back a rollback"));
	/* and once held, nothing more */
	d = decide(&s, &d.next);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_EQUAL(d.recheck_ns, 0);
}

static void test_restored_snapshot_fails_too_held(void)
{
	/* the controller restored GOOD (an ordinary update); GOOD's new tasks fail: no second restore */
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[2] = {{.sha256 = GOOD, .verified = 1, .healthy = 1}, {.sha256 = OLDER, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.spec_sha256 = GOOD;
	s.prev_sha256 = BAD;
	s.snaps = sn;
	s.nsnaps = 2;
	rec_rollback_state j = {.state = "restored", .update_ns = STARTED - 20 * S};
	rec_rollback_state_add_bad(&j, BAD);
	snprintf(j.target_sha256, 65, "%s", GOOD);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_HOLD);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "after the restore of a snapshot put it back"));
}

static void test_unhealthy_snapshot_never_restored(void)
{
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[2] = {{.sha256 = GOOD, .verified = 1, .healthy = 0}, {.sha256 = OLDER, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.prev_sha256 = "";
	s.snaps = sn;
	s.nsnaps = 2;
	rb_decision d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_RESTORE);
	CU_ASSERT_EQUAL(d.snapshot, 1);
}

static void test_our_rollback_in_progress_not_left_alone(void)
{
	/* rollback_started by the controller itself is judged, not left to Swarm */
	rb_task t[1] = {tk("n", "running", 1, STARTED + S, "")};
	rb_service s = svc(t, 1);
	s.update_state = "rollback_started";
	s.spec_sha256 = GOOD;
	rec_rollback_state j = {.state = "rolled-back", .update_ns = STARTED - 20 * S};
	snprintf(j.target_sha256, 65, "%s", GOOD);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_EQUAL(d.recheck_ns, RB_POLL_NS);
	CU_ASSERT_FALSE(d.persist);
}

static void test_swarm_rollback_failing_with_empty_previous_restores(void)
{
	/* Swarm's own rollback emptied PreviousSpec and what it put back fails: restore a snapshot */
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_snapshot sn[1] = {{.sha256 = GOOD, .verified = 1, .healthy = 1}};
	rb_service s = svc(t, 1);
	s.update_state = "rollback_paused";
	s.prev_sha256 = "";
	s.snaps = sn;
	s.nsnaps = 1;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_RESTORE);
	/* a person's rollback (PreviousSpec kept): never rolled back again */
	s.prev_sha256 = WORSE;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_HOLD);
}

static void test_intent_finished_once(void)
{
	/* a previous leader recorded rolling-back and died before the engine call */
	rb_task t[1] = {tk("n", "failed", 1, STARTED + S, "x")};
	rb_service s = svc(t, 1);
	s.update_state = "paused";
	rec_rollback_state j = {.state = "rolling-back", .update_ns = STARTED, .reason = "1 of 1 updated tasks failed"};
	snprintf(j.spec_sha256, 65, "%s", BAD);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_ROLLBACK);
	CU_ASSERT_TRUE(d.finishing);
	/* it did make the call: the spec is GOOD and rolling back; recorded as done, no second rollback */
	s.update_state = "rollback_started";
	s.spec_sha256 = GOOD;
	s.prev_sha256 = BAD;
	t[0] = tk("g", "running", 1, NOW - S / 2, "");
	s.update_started_ns = NOW - S;
	d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_TRUE(d.persist);
	CU_ASSERT_STRING_EQUAL(d.next.state, "rolled-back");
	CU_ASSERT_STRING_EQUAL(d.next.target_sha256, GOOD);
}

static void test_new_update_judged_afresh(void)
{
	/* held for a person; the person ships a new spec: judged again, what is known bad kept */
	rb_task t[1] = {tk("n", "running", 1, STARTED + S, "")};
	rb_service s = svc(t, 1);
	s.spec_sha256 = OLDER;
	rec_rollback_state j = {.state = "held", .update_ns = STARTED - 100 * S};
	rec_rollback_state_add_bad(&j, BAD);
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_STRING_EQUAL(d.next.state, "judging");
	CU_ASSERT_EQUAL(d.next.update_ns, STARTED);
	CU_ASSERT_TRUE(rec_rollback_state_is_bad(&d.next, BAD));
	/* two rapid updates: the older one's failed tasks predate the newer's start and are not held against it */
	rb_task t2[2] = {tk("b1", "failed", 1, STARTED - S, "x"), tk("c1", "running", 1, STARTED + S, "")};
	s.tasks = t2;
	s.ntasks = 2;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
}

static void test_snapshot_when_converged_and_healthy(void)
{
	rb_task t[2] = {tk("a", "running", 1, NOW - 100 * S, ""), tk("b", "running", 2, NOW - 100 * S, "")};
	rb_service s = svc(t, 2);
	s.update_state = "completed";
	s.update_completed_ns = NOW - 31 * S;
	s.spec_sha256 = GOOD;
	rec_rollback_state j = {.state = "judging", .update_ns = STARTED};
	rb_decision d = decide(&s, &j);
	CU_ASSERT_EQUAL(d.kind, RB_SNAPSHOT);
	CU_ASSERT_STRING_EQUAL(d.next.state, "settled");
	/* a service never updated is snapshotted too */
	s.update_state = "";
	s.update_started_ns = s.update_completed_ns = 0;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_SNAPSHOT);
	/* not for a spec already stored */
	rb_snapshot sn[1] = {{.sha256 = GOOD, .verified = 1, .healthy = 1}};
	s.snaps = sn;
	s.nsnaps = 1;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
	s.nsnaps = 0;
	/* nor before every replica runs */
	s.replicas = 3;
	d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT(d.recheck_ns > 0);
	s.replicas = 2;
	/* nor before healthy_after has passed since a task started */
	t[1].status_ns = NOW - 10 * S;
	d = decide(&s, NULL);
	CU_ASSERT_EQUAL(d.kind, RB_NONE);
	CU_ASSERT_EQUAL(d.recheck_ns, 20 * S);
	/* nor when a task failed within healthy_after */
	t[1].status_ns = NOW - 100 * S;
	rb_task f[3] = {t[0], t[1], tk("x", "failed", 1, NOW - 12 * S, "x")};
	s.tasks = f;
	s.ntasks = 3;
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_NONE);
	/* nor for a spec known bad */
	s.ntasks = 2;
	rec_rollback_state jb = {.state = "settled"};
	rec_rollback_state_add_bad(&jb, GOOD);
	CU_ASSERT_EQUAL(decide(&s, &jb).kind, RB_NONE);
	CU_ASSERT_EQUAL(decide(&s, NULL).kind, RB_SNAPSHOT);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"new_task_failed_rolls_back", test_new_task_failed_rolls_back},
		{"rejected_and_exited_count", test_rejected_and_exited_count},
		{"unhealthy_counts", test_unhealthy_counts},
		{"old_tasks_not_judged", test_old_tasks_not_judged},
		{"pending_with_scheduling_error_after_timeout", test_pending_with_scheduling_error_after_timeout},
		{"start_timeout_and_health_start_period", test_start_timeout_and_health_start_period},
		{"max_failure_ratio", test_max_failure_ratio},
		{"judged_for_healthy_after_once_completed", test_judged_for_healthy_after_once_completed},
		{"swarm_rolling_back_left_alone", test_swarm_rolling_back_left_alone},
		{"labelled_off_left_alone", test_labelled_off_left_alone},
		{"empty_previous_restores_newest_snapshot", test_empty_previous_restores_newest_snapshot},
		{"previous_known_bad_restores_snapshot", test_previous_known_bad_restores_snapshot},
		{"tampered_snapshot_refused", test_tampered_snapshot_refused},
		{"rolled_back_spec_fails_too_held", test_rolled_back_spec_fails_too_held},
		{"restored_snapshot_fails_too_held", test_restored_snapshot_fails_too_held},
		{"unhealthy_snapshot_never_restored", test_unhealthy_snapshot_never_restored},
		{"our_rollback_in_progress_not_left_alone", test_our_rollback_in_progress_not_left_alone},
		{"swarm_rollback_failing_with_empty_previous_restores", test_swarm_rollback_failing_with_empty_previous_restores},
		{"intent_finished_once", test_intent_finished_once},
		{"new_update_judged_afresh", test_new_update_judged_afresh},
		{"snapshot_when_converged_and_healthy", test_snapshot_when_converged_and_healthy},
		{NULL, NULL},
	};
	return t_run("rollback", cases, argc, argv);
}
