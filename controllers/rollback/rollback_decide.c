/* SPDX-License-Identifier: MIT */
/* rollback_decide.c - judge a service's update from its tasks; choose rollback, restore, hold or snapshot */
#include "rollback_decide.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000.0

const char *rollback_kind_name(enum rb_kind k)
{
	switch (k) {
	case RB_NONE: return "none";
	case RB_LEAVE: return "leave";
	case RB_ROLLBACK: return "rollback";
	case RB_RESTORE: return "restore";
	case RB_HOLD: return "hold";
	case RB_SNAPSHOT: return "snapshot";
	}
	return "?";
}

static int is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* states a task passes through before running */
static int starting(const char *st)
{
	static const char *const v[] = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		if (is(st, v[i]))
			return 1;
	return 0;
}

int rollback_task_failed(const rb_opts *o, const rb_service *s, const rb_task *t, int64_t now, char *why, size_t wlen)
{
	const char *err = t->err ? t->err : "";
	if (is(t->state, "failed")) {
		if (strstr(err, "unhealthy"))
			snprintf(why, wlen, "unhealthy: %s", err);
		else
			snprintf(why, wlen, "failed (exit code %lld): %s", (long long)t->exit_code, err);
		return 1;
	}
	if (is(t->state, "rejected")) {
		snprintf(why, wlen, "rejected: %s", err);
		return 1;
	}
	if (is(t->state, "complete")) {
		snprintf(why, wlen, "exited (exit code %lld)", (long long)t->exit_code);
		return 1;
	}
	int64_t age = now - t->created_ns;
	if (is(t->state, "pending") && *err && age >= o->pending_timeout_ns) {
		snprintf(why, wlen, "pending for %.1f s: %s", (double)age / NS_PER_S, err);
		return 1;
	}
	int64_t start_to = o->start_timeout_ns;
	if (s->health_start_period_ns > start_to)
		start_to = s->health_start_period_ns;
	if (starting(t->state) && age >= start_to) {
		snprintf(why, wlen, "not running after %.1f s (still %s)%s%s", (double)age / NS_PER_S, t->state,
			 *err ? ": " : "", err);
		return 1;
	}
	return 0;
}

/* a slot's identity: the slot number, or the node for global services */
static int same_slot(const rb_task *a, const rb_task *b)
{
	if (a->slot || b->slot)
		return a->slot == b->slot;
	return is(a->node_id, b->node_id) && a->node_id[0];
}

/* count distinct slots among new tasks, and those with a failure; fill d->failed */
static void judge_tasks(const rb_opts *o, const rb_service *s, int64_t now, rb_decision *d)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const rb_task *t = &s->tasks[i];
		if (t->created_ns < s->update_started_ns)
			continue; /* made for an older spec */
		char why[200];
		int f = rollback_task_failed(o, s, t, now, why, sizeof(why));
		if (f && d->nfailed < RB_MAX_FAILED) {
			d->failed[d->nfailed] = i;
			snprintf(d->why[d->nfailed], sizeof(d->why[0]), "%s", why);
			d->nfailed++;
		}
		/* first task of its slot? then count the slot; failed if any of its tasks failed */
		int first = 1, slot_failed = f;
		for (size_t k = 0; k < s->ntasks; k++) {
			const rb_task *u = &s->tasks[k];
			if (k == i || u->created_ns < s->update_started_ns || !same_slot(t, u))
				continue;
			if (k < i) {
				first = 0;
				break;
			}
			char w2[8];
			slot_failed |= rollback_task_failed(o, s, u, now, w2, sizeof(w2));
		}
		if (!first)
			continue;
		/* unassigned global tasks have no slot and no node: each counts alone */
		d->updated_slots++;
		d->failed_slots += slot_failed != 0;
	}
}

/* newest healthy snapshot whose digest matches, is not the failing spec and not known bad */
static long pick_snapshot(const rb_service *s, const rec_rollback_state *st, rb_decision *d)
{
	for (size_t i = 0; i < s->nsnaps; i++) {
		const rb_snapshot *p = &s->snaps[i];
		if (p->malformed || !p->verified) {
			if (d->nrefused < RB_MAX_REFUSED)
				d->refused[d->nrefused++] = i;
			continue;
		}
		if (!p->healthy || rec_rollback_state_is_bad(st, p->sha256)) /* the failing spec is known bad by now */
			continue;
		return (long)i;
	}
	return -1;
}

static void set_state(rb_decision *d, const char *state, const char *reason, int64_t now)
{
	snprintf(d->next.state, sizeof(d->next.state), "%s", state);
	snprintf(d->next.reason, sizeof(d->next.reason), "%s", reason);
	d->next.since_ns = now;
	d->persist = 1;
}

static void restore_or_hold(const rb_service *s, rb_decision *d, const char *failing, int64_t now)
{
	long k = pick_snapshot(s, &d->next, d);
	if (k >= 0) {
		d->kind = RB_RESTORE;
		d->snapshot = k;
		snprintf(d->reason, sizeof(d->reason), "%s; restoring the newest known-good snapshot", failing);
		set_state(d, "restoring", d->reason, now);
		return;
	}
	d->kind = RB_HOLD;
	snprintf(d->reason, sizeof(d->reason), "%s; no verified known-good snapshot to restore: left for a person%s",
		 failing, d->nrefused ? " (snapshots with a wrong digest refused)" : "");
	set_state(d, "held", d->reason, now);
}

static int in_window(const rb_opts *o, const rb_service *s, int64_t now)
{
	const char *u = s->update_state;
	if (is(u, "updating") || is(u, "paused") || is(u, "rollback_started") || is(u, "rollback_paused"))
		return 1;
	if (is(u, "completed") || is(u, "rollback_completed"))
		return !s->update_completed_ns || now - s->update_completed_ns < o->healthy_after_ns;
	return 0;
}

static void snapshot_path(const rb_opts *o, const rb_service *s, int64_t now, rb_decision *d)
{
	int held = is(d->next.state, "held");
	if (s->nsnaps && is(s->snaps[0].sha256, s->spec_sha256) && s->snaps[0].verified && !s->snaps[0].malformed) {
		d->kind = RB_NONE; /* stored already */
		return;
	}
	if (held || rec_rollback_state_is_bad(&d->next, s->spec_sha256))
		return; /* never store a spec judged bad */
	const char *u = s->update_state;
	if (*u && !is(u, "completed") && !is(u, "rollback_completed"))
		return;
	size_t running = 0;
	int64_t latest = 0;
	int converged = 1;
	for (size_t i = 0; i < s->ntasks; i++) {
		const rb_task *t = &s->tasks[i];
		if (is(t->state, "running")) {
			running++;
			if (t->status_ns > latest)
				latest = t->status_ns;
		} else if (is(t->state, "failed") || is(t->state, "rejected") || is(t->state, "complete")) {
			if (t->status_ns > latest)
				latest = t->status_ns; /* a recent failure restarts the healthy clock */
		} else if (starting(t->state)) {
			converged = 0;
		}
	}
	if (s->update_completed_ns > latest)
		latest = s->update_completed_ns;
	if (s->replicas >= 0 ? (int64_t)running != s->replicas : running == 0)
		converged = 0;
	int64_t slow = o->healthy_after_ns / 2;
	if (slow < 1000000000)
		slow = 1000000000;
	if (slow > 10 * (int64_t)1000000000)
		slow = 10 * (int64_t)1000000000;
	if (!converged || !s->replicas) {
		d->recheck_ns = s->replicas ? slow : 0;
		return;
	}
	int64_t left = latest + o->healthy_after_ns - now;
	if (left > 0) {
		d->recheck_ns = left < RB_POLL_NS ? RB_POLL_NS : left;
		return;
	}
	d->kind = RB_SNAPSHOT;
	snprintf(d->reason, sizeof(d->reason), "converged: %zu tasks running and none failed for %.0f s", running,
		 (double)o->healthy_after_ns / NS_PER_S);
	if (d->next.update_ns && is(d->next.state, "judging"))
		set_state(d, "settled", "the update stayed healthy", now);
}

void rollback_decide(const rb_opts *o, const rb_service *s, const rec_rollback_state *j, int64_t now,
		     rb_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->snapshot = -1;
	if (j)
		d->next = *j;
	if (s->off) {
		d->kind = RB_LEAVE;
		snprintf(d->reason, sizeof(d->reason), "labelled swarmheal.rollback=off");
		return;
	}
	const char *cur = s->spec_sha256, *u = s->update_state;
	int is_rollback = !strncmp(u, "rollback_", 9);
	/* the spec in place is the one the controller put there (its rollback or restore) */
	int ours = j && j->target_sha256[0] && is(j->target_sha256, cur) &&
		   (is(j->state, "rolled-back") || is(j->state, "restored") || is(j->state, "held"));

	/* an intent a previous leader (or this one) recorded */
	if (j && (is(j->state, "rolling-back") || is(j->state, "restoring"))) {
		int rb = is(j->state, "rolling-back");
		if (is(cur, j->spec_sha256) && !is_rollback) {
			/* the engine call never happened: finish it, once */
			d->finishing = 1;
			if (rb && s->prev_sha256[0]) {
				d->kind = RB_ROLLBACK;
				snprintf(d->reason, sizeof(d->reason), "finishing a rollback a previous leader started: %.200s",
					 j->reason);
				return;
			}
			d->finishing = 0;
			restore_or_hold(s, d, j->reason, now);
			if (d->kind == RB_RESTORE)
				d->finishing = 1;
			return;
		}
		/* it happened: the spec in place is ours */
		set_state(d, rb ? "rolled-back" : "restored", j->reason, now);
		snprintf(d->next.target_sha256, sizeof(d->next.target_sha256), "%s", cur);
		ours = 1;
	}
	if (is(u, "rollback_started") && !ours) {
		d->kind = RB_LEAVE;
		snprintf(d->reason, sizeof(d->reason), "Swarm is rolling back by itself");
		d->recheck_ns = RB_POLL_NS;
		return;
	}
	/* a new update the controller did not make: judge it afresh, keep what is known bad */
	if (!ours && s->update_started_ns && d->next.update_ns != s->update_started_ns) {
		rec_rollback_state fresh = {.fence = d->next.fence, .nbad = d->next.nbad};
		memcpy(fresh.bad, d->next.bad, sizeof(fresh.bad));
		d->next = fresh;
		d->next.update_ns = s->update_started_ns;
		snprintf(d->next.spec_sha256, sizeof(d->next.spec_sha256), "%s", cur);
		set_state(d, "judging", "update started", now);
	}
	if (is(d->next.state, "held")) {
		snprintf(d->reason, sizeof(d->reason), "held for a person: %.250s", d->next.reason);
		return;
	}
	if (s->update_started_ns && in_window(o, s, now)) {
		judge_tasks(o, s, now, d);
		if (d->failed_slots == 0 || (double)d->failed_slots <= o->max_failure_ratio * (double)d->updated_slots) {
			d->recheck_ns = RB_POLL_NS;
			return;
		}
		char failing[200];
		snprintf(failing, sizeof(failing), "%zu of %zu updated tasks failed (max failure ratio %g)", d->failed_slots,
			 d->updated_slots, o->max_failure_ratio);
		rec_rollback_state_add_bad(&d->next, cur);
		if (ours) {
			d->kind = RB_HOLD;
			snprintf(d->reason, sizeof(d->reason), "%s after the %s put it back: never rolling back a rollback, left for a person",
				 failing, is(d->next.state, "restored") ? "restore of a snapshot" : "rollback");
			set_state(d, "held", d->reason, now);
			return;
		}
		if (is_rollback) {
			if (!s->prev_sha256[0]) {
				restore_or_hold(s, d, failing, now);
				return;
			}
			d->kind = RB_HOLD;
			snprintf(d->reason, sizeof(d->reason), "%s after a rollback by Swarm or a person: never rolling back a rollback, left for a person",
				 failing);
			set_state(d, "held", d->reason, now);
			return;
		}
		if (s->prev_sha256[0] && !rec_rollback_state_is_bad(&d->next, s->prev_sha256)) {
			d->kind = RB_ROLLBACK;
			snprintf(d->reason, sizeof(d->reason), "%s", failing);
			set_state(d, "rolling-back", failing, now);
			return;
		}
		char why[260];
		snprintf(why, sizeof(why), "%s; PreviousSpec is %s", failing,
			 s->prev_sha256[0] ? "known bad" : "empty (Swarm rolled back before)");
		restore_or_hold(s, d, why, now);
		return;
	}
	snapshot_path(o, s, now, d);
}
