/* SPDX-License-Identifier: MIT */
/* rollback_ctl.c - rollback controller shell: events and resync queue services; the worker observes one, decides, acts */
#include "rollback_ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

/* what the controller remembers about a service between looks */
typedef struct svc_mem {
	char id[64];
	int64_t last_version;    /* the service version the worker last read */
	int64_t next_check;      /* monotonic ns of the next look (0: only when the version changes) */
	int64_t seen_pass;       /* the last pass that listed it */
	int have_state, unreadable;
	rec_rollback_state st;   /* the persisted judgement (cached; written through) */
	char notes[4][320];      /* the last refusals/dry runs/hands-off noted: each recorded once */
	unsigned nnote;
	int fails;               /* looks in a row that failed (engine or etcd): the next waits 1 s << fails, up to 64 s */
} svc_mem;

typedef struct rb_shell {
	svc_mem *v;
	size_t n, cap;
	int64_t pass;
} rb_shell;

static svc_mem *mem_find(rb_shell *r, const char *id, int create)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].id, id))
			return &r->v[i];
	if (!create)
		return NULL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		svc_mem *nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		r->v = nv;
		r->cap = cap;
	}
	svc_mem *m = &r->v[r->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->last_version = -1;
	return m;
}

static sh_err rb_init(ctl_ctx *x, void **state)
{
	(void)x;
	*state = calloc(1, sizeof(rb_shell));
	return *state ? SH_OK : SH_E_NOMEM;
}

static void rb_release(void *state)
{
	rb_shell *r = state;
	if (r)
		free(r->v);
	free(r);
}

static const cJSON *jget(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *p = strtok_r(buf, ".", &save); p && o; p = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, p);
	return o;
}

static int service_off(const cJSON *spec)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "Labels"),
							  "swarmheal.rollback");
	if (cJSON_IsString(l) && !strcmp(l->valuestring, "off"))
		return 1;
	/* jobs run to completion: an exit is their success */
	return jget(spec, "Mode.ReplicatedJob") != NULL || jget(spec, "Mode.GlobalJob") != NULL;
}

/* the spec's JSON text and its digest (the bytes a snapshot stores) */
static char *spec_text(const cJSON *spec, char hex[65])
{
	hex[0] = '\0';
	if (!spec)
		return NULL;
	char *t = cJSON_PrintUnformatted(spec);
	if (t)
		rec_rollback_digest(t, strlen(t), hex);
	return t;
}

static double ratio_of(const char *s)
{
	return s ? strtod(s, NULL) : 0;
}

static int check_ratio(const void *val, char *err, size_t errlen)
{
	const char *s = *(const char *const *)val;
	char *end = NULL;
	errno = 0;
	double d = s ? strtod(s, &end) : -1;
	if (!s || errno || end == s || *end || d < 0 || d > 1) {
		snprintf(err, errlen, "invalid --max-failure-ratio '%s' (want a number from 0 to 1)", s ? s : "");
		return -1;
	}
	return 0;
}

/* fenced put of the judgement alone (no action record): what is being judged, or what was found done */
static sh_err put_state(ctl_ctx *x, svc_mem *m, const rec_rollback_state *st)
{
	char key[400];
	if (rec_rollback_state_key(key, sizeof(key), x->common.prefix, m->id))
		return SH_E_INVAL;
	rec_rollback_state w = *st;
	w.fence = x->el ? x->el->rev : 0;
	char *js = rec_rollback_state_encode(&w);
	if (!js)
		return SH_E_NOMEM;
	if (!ctl_may_act(x)) {
		free(js);
		return SH_E_NOT_LEADER;
	}
	etcd_op op = {.kind = ETCD_OP_PUT, .key = key, .value = js, .value_len = strlen(js)};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_election_guarded_txn(x->el, NULL, 0, &op, 1, NULL);
	ctl_etcd_done(x, t0);
	free(js);
	if (e == SH_OK) {
		m->st = w;
		m->have_state = 1;
	}
	return e;
}

/* ctl_record with the judgement put in the same fenced txn */
static sh_err record(ctl_ctx *x, svc_mem *m, const char *kind, const char *reason, const char *result,
		     const char *details, const rec_rollback_state *st)
{
	char key[400];
	char *js = NULL;
	rec_rollback_state w;
	if (st) {
		if (rec_rollback_state_key(key, sizeof(key), x->common.prefix, m->id))
			return SH_E_INVAL;
		w = *st;
		w.fence = x->el ? x->el->rev : 0;
		if (!(js = rec_rollback_state_encode(&w)))
			return SH_E_NOMEM;
	}
	sh_err e = ctl_record(x, kind, m->id, reason, result, details, st ? key : NULL, js);
	free(js);
	if (e == SH_OK && st) {
		m->st = w;
		m->have_state = 1;
	}
	return e;
}

/*
 * record once per distinct note (refusals, dry runs, hands-off): the note is KIND|ONCE_PER, or
 * KIND|REASON when once_per is NULL
 */
static sh_err record_once(ctl_ctx *x, svc_mem *m, const char *kind, const char *once_per, const char *reason,
			  const char *result, const char *details)
{
	char note[320];
	snprintf(note, sizeof(note), "%s|%.250s", kind, once_per ? once_per : reason);
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(m->notes[i], note))
			return SH_OK;
	sh_err e = ctl_record(x, kind, m->id, reason, result, details, NULL, NULL);
	if (e == SH_OK)
		snprintf(m->notes[m->nnote++ % 4], sizeof(m->notes[0]), "%s", note);
	return e;
}

typedef struct snaps {
	etcd_range_result r;
	rb_snapshot *v;
	rec_rollback_snapshot *rec; /* parsed records (spec NULL when malformed) */
	size_t n;
} snaps;

static void snaps_free(snaps *s)
{
	for (size_t i = 0; i < s->n; i++)
		rec_rollback_snapshot_free(&s->rec[i]);
	free(s->v);
	free(s->rec);
	etcd_range_result_free(&s->r);
	memset(s, 0, sizeof(*s));
}

/* /rollback/snapshots/ID/, newest first (keys end in the zero-padded service version) */
static sh_err read_snaps(ctl_ctx *x, const char *id, snaps *s)
{
	memset(s, 0, sizeof(*s));
	char p[400];
	snprintf(p, sizeof(p), "%s/rollback/snapshots/%s/", x->common.prefix, id);
	etcd_range_opts o = {.prefix = 1, .sort_order = ETCD_SORT_DESCEND, .sort_target = ETCD_SORT_KEY};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_range(x->etcd, p, &o, &s->r);
	ctl_etcd_done(x, t0);
	if (e) {
		sh_log("error", x->def->name, "cannot read %s | error=\"%s\"", p, etcd_errmsg(x->etcd));
		return e;
	}
	s->v = calloc(s->r.n + 1, sizeof(*s->v));
	s->rec = calloc(s->r.n + 1, sizeof(*s->rec));
	if (!s->v || !s->rec) {
		snaps_free(s);
		return SH_E_NOMEM;
	}
	for (size_t i = 0; i < s->r.n; i++) {
		char why[200];
		const etcd_kv *kv = &s->r.kvs[i];
		if (rec_rollback_snapshot_parse(kv->value, kv->value_len, &s->rec[i], why, sizeof(why))) {
			ctl_warn_record(x, kv->key, kv->mod_revision, why);
			s->v[i].malformed = 1;
			s->v[i].sha256 = "";
		} else {
			s->v[i].sha256 = s->rec[i].sha256;
			s->v[i].verified = rec_rollback_snapshot_verify(&s->rec[i]);
			s->v[i].healthy = s->rec[i].healthy;
		}
		s->n++;
	}
	return SH_OK;
}

/* the failing tasks and the update, as the action's details */
static char *details_json(const rb_service *s, const rb_decision *d, const char *snap_key)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "update_state", s->update_state);
	cJSON_AddStringToObject(j, "spec_sha256", s->spec_sha256);
	if (s->prev_sha256[0])
		cJSON_AddStringToObject(j, "previous_sha256", s->prev_sha256);
	cJSON_AddNumberToObject(j, "updated", (double)d->updated_slots);
	cJSON_AddNumberToObject(j, "failed", (double)d->failed_slots);
	cJSON *a = cJSON_AddArrayToObject(j, "failed_tasks");
	for (size_t i = 0; a && i < d->nfailed; i++) {
		const rb_task *t = &s->tasks[d->failed[i]];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", t->id);
		cJSON_AddStringToObject(o, "state", t->state);
		cJSON_AddStringToObject(o, "error", t->err);
		cJSON_AddNumberToObject(o, "exit_code", (double)t->exit_code);
		cJSON_AddStringToObject(o, "why", d->why[i]);
		cJSON_AddItemToArray(a, o);
	}
	if (snap_key)
		cJSON_AddStringToObject(j, "snapshot", snap_key);
	char *out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return out;
}

static sh_err store_snapshot(ctl_ctx *x, svc_mem *m, const dock_service *sv, const char *text, const char *hex,
			     const snaps *sn, const rb_decision *d)
{
	const rollback_opts *o = x->cfg;
	char key[400];
	if (rec_rollback_snapshot_key(key, sizeof(key), x->common.prefix, m->id, sv->version))
		return SH_E_INVAL;
	rec_rollback_snapshot r = {.spec = (char *)text, .ts_ns = sh_real_ns(), .healthy = 1, .version = sv->version};
	snprintf(r.sha256, sizeof(r.sha256), "%s", hex);
	char *js = rec_rollback_snapshot_encode(&r);
	char det[600];
	snprintf(det, sizeof(det), "{\"snapshot\":\"%s\",\"sha256\":\"%s\"}", key, hex);
	sh_err e = js ? ctl_record(x, "snapshot", m->id, d->reason, "stored", det, key, js) : SH_E_NOMEM;
	free(js);
	if (e)
		return e;
	/* keep the newest --keep: the one just stored plus keep-1 of those read before */
	size_t keep = o->keep > 0 ? (size_t)o->keep : 1;
	if (sn->n + 1 > keep) {
		size_t nd = sn->n + 1 - keep;
		etcd_op *ops = calloc(nd, sizeof(*ops));
		if (!ops)
			return SH_E_NOMEM;
		for (size_t i = 0; i < nd; i++) {
			ops[i].kind = ETCD_OP_DELETE;
			ops[i].key = sn->r.kvs[sn->n - 1 - i].key;
		}
		int64_t t0 = sh_mono_ns();
		e = etcd_election_guarded_txn(x->el, NULL, 0, ops, nd, NULL);
		ctl_etcd_done(x, t0);
		free(ops);
	}
	if (e == SH_OK && d->persist)
		e = put_state(x, m, &d->next);
	return e;
}

/* after an engine call: the digest of the spec now in place */
static void current_digest(ctl_ctx *x, const char *id, char hex[65])
{
	dock_service now;
	hex[0] = '\0';
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_service_inspect(x->dock, id, &now);
	ctl_engine_done(x, t0);
	if (e == SH_OK) {
		free(spec_text(now.spec, hex));
		dock_service_free(&now);
	}
}

/* roll back or restore: the intent (fenced, with the judgement), the engine call, the result */
static sh_err act(ctl_ctx *x, svc_mem *m, const rb_service *s, const rb_decision *d, const snaps *sn,
		  const char *details)
{
	int rb = d->kind == RB_ROLLBACK;
	const char *kind = rb ? "rollback" : "restore";
	const char *reason = d->reason;
	if (ctl_mode(x) == REC_MODE_READ_ONLY) {
		char why[400];
		snprintf(why, sizeof(why), "read-only mode (arbiter): not acting on: %.300s", d->reason);
		/* once per spec: the reason names the newest failed task and changes as tasks keep failing */
		return record_once(x, m, kind, s->spec_sha256, why, "refused", details);
	}
	if (x->common.dry_run) {
		char k[32];
		snprintf(k, sizeof(k), "would-%s", kind);
		return record_once(x, m, k, s->spec_sha256, d->reason, "dry-run", details);
	}
	rec_rollback_state prev = m->st; /* to put back when the engine call fails */
	int had = m->have_state;
	sh_err e = record(x, m, kind, reason, "started", details, &d->next);
	if (e)
		return e;
	int64_t t0 = sh_mono_ns();
	sh_err de;
	if (rb) {
		de = dock_service_rollback(x->dock, s->id);
	} else {
		cJSON *spec = cJSON_Parse(sn->rec[d->snapshot].spec);
		dock_service cur;
		de = spec ? dock_service_inspect(x->dock, s->id, &cur) : SH_E_MALFORMED;
		if (de == SH_OK) {
			de = dock_service_update(x->dock, s->id, cur.version, spec);
			dock_service_free(&cur);
		}
		cJSON_Delete(spec);
	}
	ctl_engine_done(x, t0);
	memset(m->notes, 0, sizeof(m->notes));
	if (de != SH_OK) {
		char res[400];
		snprintf(res, sizeof(res), "failed: %s", dock_errmsg(x->dock));
		rec_rollback_state back = had ? prev : d->next;
		if (!had)
			snprintf(back.state, sizeof(back.state), "judging");
		e = record(x, m, kind, reason, res, details, &back);
		return e ? e : de;
	}
	rec_rollback_state done = d->next;
	snprintf(done.state, sizeof(done.state), "%s", rb ? "rolled-back" : "restored");
	current_digest(x, s->id, done.target_sha256);
	done.since_ns = sh_real_ns();
	return record(x, m, kind, reason, "ok", details, &done);
}

/* look at one service: observe, decide, record, act; sets its next look (m->next_check) */
static sh_err judge_one(ctl_ctx *x, rb_shell *r, const char *id)
{
	const rollback_opts *o = x->cfg;
	svc_mem *m = mem_find(r, id, 1);
	if (!m)
		return SH_E_NOMEM;
	dock_service sv;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_service_inspect(x->dock, id, &sv);
	ctl_engine_done(x, t0);
	if (e == SH_E_NOT_FOUND) {
		m->next_check = 0;
		return SH_OK; /* removed: the pass forgets it */
	}
	if (e) {
		sh_log("warn", x->def->name, "cannot inspect service | service=%s error=\"%s\"", id, dock_errmsg(x->dock));
		return e;
	}
	m->last_version = sv.version;
	m->next_check = 0;
	char filt[200];
	snprintf(filt, sizeof(filt), "{\"service\":[\"%s\"]}", id);
	dock_task_list tl = {0};
	t0 = sh_mono_ns();
	e = dock_tasks_list(x->dock, filt, &tl);
	ctl_engine_done(x, t0);
	if (e) {
		sh_log("warn", x->def->name, "cannot list tasks | service=%s error=\"%s\"", id, dock_errmsg(x->dock));
		dock_service_free(&sv);
		return e;
	}
	snaps sn;
	if ((e = read_snaps(x, id, &sn))) {
		dock_task_list_free(&tl);
		dock_service_free(&sv);
		return e;
	}
	char hex[65], phex[65];
	char *text = spec_text(sv.spec, hex);
	free(spec_text(sv.previous_spec, phex));
	rb_task *tasks = calloc(tl.n + 1, sizeof(*tasks));
	if (!text || !tasks) {
		free(text);
		free(tasks);
		snaps_free(&sn);
		dock_task_list_free(&tl);
		dock_service_free(&sv);
		return SH_E_NOMEM;
	}
	for (size_t i = 0; i < tl.n; i++) {
		const dock_task *t = &tl.v[i];
		tasks[i] = (rb_task){.id = t->id, .state = t->state, .err = t->err, .node_id = t->node_id, .slot = t->slot,
				     .created_ns = t->created_ns, .status_ns = t->status_ns, .exit_code = t->exit_code};
	}
	const cJSON *sp = jget(sv.spec, "TaskTemplate.ContainerSpec.Healthcheck.StartPeriod");
	rb_service s = {.id = id, .off = service_off(sv.spec), .update_state = sv.update_state,
			.update_started_ns = sv.update_started_ns, .update_completed_ns = sv.update_completed_ns,
			.spec_sha256 = hex, .prev_sha256 = phex, .replicas = sv.replicas,
			.health_start_period_ns = cJSON_IsNumber(sp) ? (int64_t)sp->valuedouble : 0, .tasks = tasks,
			.ntasks = tl.n, .snaps = sn.v, .nsnaps = sn.n};
	rb_opts ro = {.healthy_after_ns = o->healthy_after_ms * SH_NS_PER_MS,
		      .pending_timeout_ns = o->pending_timeout_ms * SH_NS_PER_MS,
		      .start_timeout_ns = o->start_timeout_ms * SH_NS_PER_MS,
		      .max_failure_ratio = ratio_of(o->max_failure_ratio)};
	rb_decision *d = calloc(1, sizeof(*d));
	if (!d) {
		e = SH_E_NOMEM;
		goto out;
	}
	if (m->unreadable) {
		e = record_once(x, m, "refuse", NULL, "its rollback state is unreadable: leaving the service as it is", "refused",
				NULL);
		goto out;
	}
	rollback_decide(&ro, &s, m->have_state ? &m->st : NULL, sh_real_ns(), d);
	/* snapshots whose digest does not match: refused, recorded, never applied */
	for (size_t i = 0; i < d->nrefused && e == SH_OK; i++) {
		char why[600], det[600];
		size_t k = d->refused[i];
		snprintf(why, sizeof(why), "snapshot %s %s: refused", sn.r.kvs[k].key,
			 sn.v[k].malformed ? "is malformed" : "does not match its sha256");
		snprintf(det, sizeof(det), "{\"snapshot\":\"%s\",\"claimed_sha256\":\"%s\"}", sn.r.kvs[k].key,
			 sn.v[k].sha256);
		e = record_once(x, m, "refuse", NULL, why, "refused", det);
	}
	char *det = NULL;
	switch (d->kind) {
	case RB_NONE:
		if (d->persist && !x->common.dry_run)
			e = e ? e : put_state(x, m, &d->next);
		break;
	case RB_LEAVE:
		if (!s.off)
			e = e ? e : record_once(x, m, "leave", NULL, d->reason, "recorded", NULL);
		if (d->persist && !x->common.dry_run)
			e = e ? e : put_state(x, m, &d->next);
		break;
	case RB_SNAPSHOT:
		if (!x->common.dry_run)
			e = e ? e : store_snapshot(x, m, &sv, text, hex, &sn, d);
		break;
	case RB_HOLD:
		det = details_json(&s, d, NULL);
		if (x->common.dry_run)
			e = e ? e : record_once(x, m, "would-hold", s.spec_sha256, d->reason, "dry-run", det);
		else
			e = e ? e : record(x, m, "hold", d->reason, "recorded", det, &d->next);
		break;
	case RB_ROLLBACK:
	case RB_RESTORE:
		det = details_json(&s, d, d->kind == RB_RESTORE ? sn.r.kvs[d->snapshot].key : NULL);
		e = e ? e : act(x, m, &s, d, &sn, det);
		if (e == SH_OK)
			d->recheck_ns = RB_POLL_NS;
		break;
	}
	free(det);
	if (d->recheck_ns)
		m->next_check = sh_mono_ns() + d->recheck_ns;
out:
	free(d);
	free(text);
	free(tasks);
	snaps_free(&sn);
	dock_task_list_free(&tl);
	dock_service_free(&sv);
	return e;
}

/*
 * Services due for another look are polled together under one queue key, so
 * that looking at several services every RB_POLL_NS costs one token of the
 * runtime's rate limit per round, not one per service.
 */
#define POLL_KEY "*poll"

static void schedule_poll(ctl_ctx *x, const rb_shell *r)
{
	int64_t now = sh_mono_ns(), soonest = INT64_MAX;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].next_check && r->v[i].next_check < soonest)
			soonest = r->v[i].next_check;
	if (soonest != INT64_MAX)
		ctl_queue_add_after(x->q, POLL_KEY, now, soonest > now ? soonest - now : 0);
}

static sh_err rb_work(ctl_ctx *x, void *state, const char *key)
{
	rb_shell *r = state;
	sh_err e = SH_OK;
	if (strcmp(key, POLL_KEY)) {
		e = judge_one(x, r, key);
	} else {
		int64_t now = sh_mono_ns();
		for (size_t i = 0; i < r->n && e != SH_E_NOT_LEADER; i++) {
			if (!r->v[i].next_check || r->v[i].next_check > now + SH_NS_PER_MS * 5)
				continue;
			char id[64];
			snprintf(id, sizeof(id), "%s", r->v[i].id);
			sh_err je = judge_one(x, r, id);
			if (je == SH_E_NOT_LEADER) {
				e = je;
			} else if (je) {
				/* its own failure: look again after a backoff, the others go on */
				svc_mem *m = &r->v[i];
				m->next_check = sh_mono_ns() + (SH_NS_PER_S << (m->fails < 6 ? m->fails : 6));
				m->fails++;
			} else {
				r->v[i].fails = 0;
			}
		}
	}
	schedule_poll(x, r);
	return e;
}

static const char *leaf(const char *key)
{
	const char *s = strrchr(key, '/');
	return s ? s + 1 : key;
}

static sh_err rb_reconcile(ctl_ctx *x, void *state)
{
	rb_shell *r = state;
	r->pass++;
	dock_service_list sl;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_services_list(x->dock, &sl);
	ctl_engine_done(x, t0);
	if (e) {
		sh_log("error", x->def->name, "cannot list services | error=\"%s\"", dock_errmsg(x->dock));
		return e;
	}
	etcd_range_result st = {0};
	if ((e = ctl_range(x, "/rollback/state/", &st))) {
		dock_service_list_free(&sl);
		return e;
	}
	for (size_t i = 0; i < sl.n; i++) {
		svc_mem *m = mem_find(r, sl.v[i].id, 1);
		if (!m) {
			e = SH_E_NOMEM;
			break;
		}
		m->seen_pass = r->pass;
	}
	/* the persisted judgements: what this or a previous leader decided (written through, so etcd is newest) */
	for (size_t k = 0; k < st.n; k++) {
		svc_mem *m = mem_find(r, leaf(st.kvs[k].key), 0);
		if (!m)
			continue;
		char why[200];
		rec_rollback_state rs;
		if (rec_rollback_state_parse(st.kvs[k].value, st.kvs[k].value_len, &rs, why, sizeof(why))) {
			ctl_warn_record(x, st.kvs[k].key, st.kvs[k].mod_revision, why);
			m->unreadable = 1;
			continue;
		}
		m->unreadable = 0;
		m->st = rs;
		m->have_state = 1;
	}
	int64_t now = sh_mono_ns();
	for (size_t i = 0; i < sl.n; i++) {
		svc_mem *m = mem_find(r, sl.v[i].id, 0);
		if (m && m->last_version != sl.v[i].version)
			ctl_enqueue(x, m->id);
		else if (m && m->next_check && now >= m->next_check + SH_NS_PER_S)
			ctl_enqueue(x, POLL_KEY); /* a poll that fell behind */
	}
	/* forget services that are gone */
	for (size_t i = 0; i < r->n;) {
		if (r->v[i].seen_pass != r->pass)
			r->v[i] = r->v[--r->n];
		else
			i++;
	}
	etcd_range_result_free(&st);
	dock_service_list_free(&sl);
	return e;
}

#define RO(f) offsetof(rollback_opts, f)
static const sh_opt rollback_opt_table[] = {
	{"healthy-after", SH_OPT_DURATION, RO(healthy_after_ms), "30s", NULL,
	 "an update is judged this long after Swarm calls it completed; a spec healthy this long is snapshotted",
	 "SWARMHEAL_ROLLBACK_HEALTHY_AFTER", SH_OPT_RELOAD, 100, NULL},
	{"pending-timeout", SH_OPT_DURATION, RO(pending_timeout_ms), "30s", NULL,
	 "a new task pending with a scheduling error this long counts as failed", "SWARMHEAL_ROLLBACK_PENDING_TIMEOUT",
	 SH_OPT_RELOAD, 100, NULL},
	{"start-timeout", SH_OPT_DURATION, RO(start_timeout_ms), "5m", NULL,
	 "a new task not running this long counts as failed (never less than its health start period)",
	 "SWARMHEAL_ROLLBACK_START_TIMEOUT", SH_OPT_RELOAD, 100, NULL},
	{"max-failure-ratio", SH_OPT_STRING, RO(max_failure_ratio), "0", "RATIO",
	 "roll back when failed new tasks exceed this share of the tasks updated so far (0 to 1)",
	 "SWARMHEAL_ROLLBACK_MAX_FAILURE_RATIO", SH_OPT_RELOAD, 0, check_ratio},
	{"keep", SH_OPT_COUNT, RO(keep), "5", "N", "known-good snapshots kept per service", "SWARMHEAL_ROLLBACK_KEEP",
	 SH_OPT_RELOAD, 1, NULL},
	{0},
};

static const char *const rollback_watch[] = {"/arbiter/", NULL};

const ctl_def rollback_def = {
	.name = "rollback",
	.summary = "roll back failed service updates Swarm leaves broken; restore verified known-good snapshots",
	.watch = rollback_watch,
	.engine_events = "{\"type\":[\"service\"]}",
	.needs_engine = 1,
	.opts = rollback_opt_table,
	.cfg_size = sizeof(rollback_opts),
	.init = rb_init,
	.reconcile = rb_reconcile,
	.work = rb_work,
	.release = rb_release,
};
