/* SPDX-License-Identifier: MIT */
/* ctl.c - what controllers call: fenced action records, the arbiter mode, timed reads, warn-once */
#include "ctl.h"
#include "ctl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

struct ctl_seen {
	char key[300];
	int64_t rev;
	struct ctl_seen *next;
};

int ctl_may_act(const ctl_ctx *x)
{
	if (!x->el || !x->s || !etcd_session_alive(x->s))
		return 0;
	return etcd_session_deadline(x->s) - sh_mono_ns() >= x->common.ttl_ms * SH_NS_PER_MS / 5;
}

/* dock_abort_fn: while leading, give a call up when the controller may no longer act, and never let it
 * run past that moment (the request's timeout is cut to it) */
static sh_err lease_lapsing(void *arg, long *left_ms)
{
	const ctl_ctx *x = arg;
	if (!x->el)
		return SH_OK;
	if (!ctl_may_act(x))
		return SH_E_NOT_LEADER;
	int64_t left = etcd_session_deadline(x->s) - sh_mono_ns() - x->common.ttl_ms * SH_NS_PER_MS / 5;
	*left_ms = left > 0 ? (long)(left / SH_NS_PER_MS) + 1 : 0; /* rounded up: cut once it has passed */
	return SH_OK;
}

void ctl_dock_guard(ctl_ctx *x, dock_client *c)
{
	if (c)
		dock_set_abort(c, lease_lapsing, x);
}

void ctl_resync_after(ctl_ctx *x, int64_t ns)
{
	int64_t at = sh_mono_ns() + (ns > 0 ? ns : 0);
	if (!x->pass_at || at < x->pass_at)
		x->pass_at = at;
}

void ctl_enqueue(ctl_ctx *x, const char *key)
{
	if (x->q && ctl_queue_add(x->q, key, sh_mono_ns()))
		sh_log("error", x->def->name, "cannot queue key: out of memory | key=%s", key);
}

void ctl_etcd_done(ctl_ctx *x, int64_t t0)
{
	ctl_metric_observe("swarmheal_etcd_request_duration_seconds", x->labels, (double)(sh_mono_ns() - t0) / 1e9);
}

void ctl_engine_done(ctl_ctx *x, int64_t t0)
{
	ctl_metric_observe("swarmheal_engine_request_duration_seconds", x->labels, (double)(sh_mono_ns() - t0) / 1e9);
}

sh_err ctl_record(ctl_ctx *x, const char *kind, const char *target, const char *reason, const char *result,
		  const char *details, const char *state_key, const char *state_json)
{
	if (!ctl_may_act(x))
		return SH_E_NOT_LEADER;
	int64_t now = sh_real_ns();
	char key[600];
	if (rec_action_key(key, sizeof(key), x->common.prefix, x->def->name, now, kind, target)) {
		sh_log("error", x->def->name, "cannot build an action key | kind=%s target=%s", kind, target);
		return SH_E_INVAL;
	}
	rec_action a = {.ts_ns = now, .controller = (char *)x->def->name, .kind = (char *)kind, .target = (char *)target,
			.reason = (char *)reason, .result = (char *)result, .details = (char *)details,
			.fence = x->el->rev};
	char *val = rec_action_encode(&a);
	if (!val)
		return SH_E_NOMEM;
	etcd_op ops[2] = {
		{.kind = ETCD_OP_PUT, .key = key, .value = val, .value_len = strlen(val)},
		{.kind = ETCD_OP_PUT, .key = state_key, .value = state_json, .value_len = state_json ? strlen(state_json) : 0},
	};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_election_guarded_txn(x->el, NULL, 0, ops, state_key ? 2 : 1, NULL);
	ctl_etcd_done(x, t0);
	free(val);
	if (e == SH_OK) {
		char l[300];
		snprintf(l, sizeof(l), "%s,kind=\"%s\",result=\"%s\"", x->labels, kind,
			 !strncmp(result, "failed", 6) ? "failed" : result);
		ctl_metric_add("swarmheal_actions_total", l, 1);
		sh_log("info", x->def->name, "%s %s: %s | kind=%s target=%s result=\"%s\" fence=%lld", kind, target, reason,
		       kind, target, result, (long long)x->el->rev);
	} else {
		sh_log("error", x->def->name, "cannot record %s of %s: %s | kind=%s target=%s", kind, target,
		       x->el->errbuf[0] ? x->el->errbuf : sh_strerror(e), kind, target);
	}
	return e;
}

sh_err ctl_put_fenced(ctl_ctx *x, const char *const *keys, const char *const *values, size_t n)
{
	etcd_op ops[100];
	for (size_t i = 0; i < n;) {
		if (!ctl_may_act(x))
			return SH_E_NOT_LEADER;
		size_t k = 0;
		for (; k < 100 && i + k < n; k++)
			ops[k] = (etcd_op){.kind = ETCD_OP_PUT, .key = keys[i + k], .value = values[i + k],
					   .value_len = strlen(values[i + k])};
		int64_t t0 = sh_mono_ns();
		sh_err e = etcd_election_guarded_txn(x->el, NULL, 0, ops, k, NULL);
		ctl_etcd_done(x, t0);
		if (e) {
			sh_log("error", x->def->name, "cannot write %zu records: %s", k,
			       x->el->errbuf[0] ? x->el->errbuf : sh_strerror(e));
			return e;
		}
		i += k;
	}
	return SH_OK;
}

void ctl_warn_record(ctl_ctx *x, const char *key, int64_t rev, const char *why)
{
	for (struct ctl_seen *s = x->seen; s; s = s->next)
		if (!strcmp(s->key, key)) {
			if (s->rev == rev)
				return;
			s->rev = rev;
			goto log;
		}
	struct ctl_seen *n = calloc(1, sizeof(*n));
	if (n) {
		snprintf(n->key, sizeof(n->key), "%s", key);
		n->rev = rev;
		n->next = x->seen;
		x->seen = n;
	}
log:
	sh_log("warn", x->def->name, "malformed record | key=%s mod_revision=%lld why=\"%s\"", key, (long long)rev, why);
}

void ctl_seen_free(ctl_ctx *x)
{
	while (x->seen) {
		struct ctl_seen *n = x->seen->next;
		free(x->seen);
		x->seen = n;
	}
}

/* the mode in force, logged when it differs from the one last logged */
static enum rec_mode mode_seen(ctl_ctx *x, enum rec_mode m, const char *source)
{
	if ((int)m != x->mode_last) {
		sh_log("info", x->def->name, "arbiter mode | mode=%s source=%s", rec_mode_name(m), source);
		x->mode_last = (int)m;
	}
	return m;
}

enum rec_mode ctl_mode(ctl_ctx *x)
{
	char key[300];
	rec_arbiter_mode_key(key, sizeof(key), x->common.prefix);
	etcd_kv kv;
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_get(x->etcd, key, &kv, NULL);
	ctl_etcd_done(x, t0);
	if (e == SH_E_NOT_FOUND)
		return mode_seen(x, REC_MODE_NORMAL, "no-record");
	if (e) {
		sh_log("warn", x->def->name, "cannot read the arbiter mode, acting as read-only | error=\"%s\"",
		       etcd_errmsg(x->etcd));
		return mode_seen(x, REC_MODE_READ_ONLY, "unreadable");
	}
	rec_arbiter_mode m;
	char why[200];
	int m_bad = rec_arbiter_mode_parse(kv.value, kv.value_len, &m, why, sizeof(why)) != 0;
	if (m_bad) {
		ctl_warn_record(x, key, kv.mod_revision, why);
		m.mode = REC_MODE_READ_ONLY;
	}
	etcd_kv_free(&kv);
	return mode_seen(x, m.mode, m_bad ? "malformed-record" : "record");
}

sh_err ctl_range(ctl_ctx *x, const char *sub, etcd_range_result *r)
{
	char p[400];
	snprintf(p, sizeof(p), "%s%s", x->common.prefix, sub);
	etcd_range_opts o = {.prefix = 1};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_range(x->etcd, p, &o, r);
	ctl_etcd_done(x, t0);
	if (e)
		sh_log("error", x->def->name, "cannot read %s | error=\"%s\"", p, etcd_errmsg(x->etcd));
	return e;
}
