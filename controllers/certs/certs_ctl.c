/* SPDX-License-Identifier: MIT */
/* certs_ctl.c - certs controller shell: a key per spec, cert_sync() as the worker, status written fenced */
#include "certs_ctl.h"

#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_swarm.h"
#include "cert_sync.h"
#include "rec_cert.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

/* what the shell remembers per spec name (this process only: everything else is re-read) */
typedef struct spec_mem {
	char name[128];
	int64_t mod_rev;        /* of the spec the last check saw */
	int64_t next_check_ns;  /* real time */
	cert_check_memo memo;   /* skips re-verifying unchanged files */
	int seen;               /* present in the last pass */
} spec_mem;

typedef struct certs_shell {
	spec_mem *v;
	size_t n;
	char warned[64][64];    /* nodes warned about this episode (Swarm certificate expiring while down) */
	size_t nwarned;
	struct {
		int watching;          /* a root CA rotation is under way (ours, or one found running) */
		int by_us;             /* we asked for it */
		char serial[80];       /* the root it replaces */
		int64_t not_after_ns;  /* and that root's expiry */
		int64_t since_ns;      /* monotonic: when we started (or first saw) it */
		char dry_serial[80];   /* dry run: the root a would-rotate-ca was recorded for */
		int64_t retry_ns;      /* monotonic: no new attempt before this after a refused one */
	} ca;
} certs_shell;

static sh_err certs_init(ctl_ctx *x, void **state)
{
	(void)x;
	*state = calloc(1, sizeof(certs_shell));
	return *state ? SH_OK : SH_E_NOMEM;
}

static void certs_release(void *state)
{
	certs_shell *c = state;
	if (c)
		free(c->v);
	free(c);
}

static spec_mem *mem_for(certs_shell *c, const char *name, int create)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, name))
			return &c->v[i];
	if (!create || strlen(name) >= sizeof(c->v[0].name))
		return NULL;
	spec_mem *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	c->v = nv;
	spec_mem *m = &c->v[c->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	return m;
}

static int was_warned(certs_shell *c, const char *id)
{
	for (size_t i = 0; i < c->nwarned; i++)
		if (!strcmp(c->warned[i], id))
			return 1;
	return 0;
}

/* Swarm's own PKI: a node whose certificate will expire while it is down cannot rejoin (moby/moby#42660) */
static sh_err swarm_pki(ctl_ctx *x, certs_shell *c, const certs_opts *o)
{
	if (!x->dock)
		return SH_OK;
	dock_node_list nl;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_nodes_list(x->dock, &nl);
	ctl_engine_done(x, t0);
	if (e == SH_E_NOT_LEADER)
		return e; /* given up: the lease is lapsing */
	if (e)
		return SH_OK; /* not a manager, or the engine is away: nothing to judge this pass */
	etcd_range_result hb = {0};
	if (ctl_range(x, "/nodes/", &hb)) {
		dock_node_list_free(&nl);
		return SH_OK;
	}
	cert_swarm_node *nodes = calloc(nl.n + 1, sizeof(*nodes));
	cert_swarm_action *acts = calloc(nl.n + 1, sizeof(*acts));
	size_t na = 0;
	if (nodes && acts) {
		for (size_t i = 0; i < nl.n; i++) {
			nodes[i].id = nl.v[i].id;
			nodes[i].hostname = nl.v[i].hostname;
			nodes[i].down = !strcmp(nl.v[i].state, "down") || !strcmp(nl.v[i].state, "disconnected");
			for (size_t k = 0; k < hb.n; k++) {
				const char *leaf = strrchr(hb.kvs[k].key, '/');
				rec_heartbeat h;
				char why[100];
				if (leaf && !strcmp(leaf + 1, nl.v[i].id) &&
				    rec_heartbeat_parse(hb.kvs[k].value, hb.kvs[k].value_len, &h, why, sizeof(why)) == SH_OK)
					nodes[i].cert_not_after_ns = h.cert_not_after_ns;
			}
		}
		cert_swarm_in in = {.nodes = nodes, .n = nl.n, .warn_within_ns = o->swarm_warn_ms * SH_NS_PER_MS};
		na = cert_swarm_decide(&in, sh_real_ns(), acts, nl.n + 1);
	}
	for (size_t a = 0; a < na && e == SH_OK; a++) {
		if (acts[a].kind != CERT_SWARM_WARN_NODE)
			continue;
		const char *id = nodes[acts[a].node].id;
		if (was_warned(c, id) || c->nwarned >= 64)
			continue;
		snprintf(c->warned[c->nwarned++], 64, "%s", id);
		e = ctl_record(x, "warn", id, acts[a].reason, "recorded", NULL, NULL, NULL);
	}
	/* a node that is up again may be warned about next time it goes down */
	for (size_t i = 0; i < c->nwarned; i++) {
		int still = 0;
		for (size_t k = 0; k < nl.n; k++)
			still |= nodes && !strcmp(nl.v[k].id, c->warned[i]) && nodes[k].down;
		if (!still) {
			memmove(c->warned[i], c->warned[i + 1], (c->nwarned - i - 1) * sizeof(c->warned[0]));
			c->nwarned--;
			i--;
		}
	}
	free(nodes);
	free(acts);
	etcd_range_result_free(&hb);
	dock_node_list_free(&nl);
	return e;
}

/* the root CA's facts from TLSInfo.TrustRoot (its first certificate); 0 ok */
static int root_info(const char *pem, cert_info *info)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *r = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!r)
		return -1;
	cert_info_of(r, info);
	X509_free(r);
	return 0;
}

/*
 * Swarm's root CA (--swarm-ca-rotate-before): rotate it when it nears expiry, record the start with its
 * reason, and record the end (new root, how long it took) once Swarm says the rotation is over. A rotation
 * found running (started by a predecessor or a person) is waited for, never doubled.
 */
static sh_err swarm_ca(ctl_ctx *x, certs_shell *c, const certs_opts *o)
{
	if (!x->dock || o->ca_rotate_before_ms <= 0)
		return SH_OK;
	dock_swarm sw;
	int64_t t0 = sh_mono_ns();
	sh_err e = dock_swarm_inspect(x->dock, &sw);
	ctl_engine_done(x, t0);
	if (e == SH_E_NOT_LEADER)
		return e; /* given up: the lease is lapsing */
	if (e)
		return SH_OK; /* not a manager, or the engine is away: nothing to judge this pass */
	cert_info root = {0};
	if (root_info(sw.trust_root, &root)) {
		dock_swarm_free(&sw);
		return SH_OK;
	}
	char why[600], t1[40], t2[40];
	if (c->ca.watching && !sw.root_rotation_in_progress) {
		double secs = (double)(sh_mono_ns() - c->ca.since_ns) / 1e9;
		int changed = strcmp(root.serial, c->ca.serial) != 0;
		sh_rfc3339(root.not_after_ns, t1, sizeof(t1));
		sh_rfc3339(c->ca.not_after_ns, t2, sizeof(t2));
		if (changed)
			snprintf(why, sizeof(why),
				 "swarm root CA rotation finished after %.1f s%s: new root %s valid until %s (was %s until %s)",
				 secs, c->ca.by_us ? "" : " (found under way)", root.serial, t1, c->ca.serial, t2);
		else
			snprintf(why, sizeof(why), "swarm root CA rotation ended after %.1f s with the root unchanged (%s)",
				 secs, root.serial);
		/* still watching until the end is on record: a failed write is tried again next pass */
		e = ctl_record(x, "rotate-ca", sw.id, why, changed ? "ok" : "failed", NULL, NULL, NULL);
		if (e) {
			ctl_resync_after(x, 500 * SH_NS_PER_MS);
			dock_swarm_free(&sw);
			return e;
		}
		c->ca.watching = 0;
		if (!changed) /* not again at once: the same 60 s as after a refused one */
			c->ca.retry_ns = sh_mono_ns() + 60 * 1000 * SH_NS_PER_MS;
	}
	cert_swarm_in in = {.root_not_after_ns = root.not_after_ns,
			    .rotate_before_ns = o->ca_rotate_before_ms * SH_NS_PER_MS,
			    .rotation_in_progress = sw.root_rotation_in_progress};
	cert_swarm_action a;
	size_t na = cert_swarm_decide(&in, sh_real_ns(), &a, 1);
	if (na && a.kind == CERT_SWARM_WAIT_ROTATION && !c->ca.watching) {
		c->ca.watching = 1;
		c->ca.by_us = 0;
		c->ca.since_ns = sh_mono_ns();
		c->ca.not_after_ns = root.not_after_ns;
		snprintf(c->ca.serial, sizeof(c->ca.serial), "%s", root.serial);
		sh_log("info", "certs", "a swarm root CA rotation is under way: waiting for it | root=%s", root.serial);
	} else if (na && a.kind == CERT_SWARM_ROTATE_CA && x->common.dry_run) {
		if (strcmp(c->ca.dry_serial, root.serial)) {
			snprintf(c->ca.dry_serial, sizeof(c->ca.dry_serial), "%s", root.serial);
			e = ctl_record(x, "would-rotate-ca", sw.id, a.reason, "dry-run", NULL, NULL, NULL);
		}
	} else if (na && a.kind == CERT_SWARM_ROTATE_CA && sh_mono_ns() >= c->ca.retry_ns) {
		e = ctl_record(x, "rotate-ca", sw.id, a.reason, "started", NULL, NULL, NULL);
		if (!e) {
			t0 = sh_mono_ns();
			sh_err de = cert_swarm_rotate_spec(sw.spec, NULL) ? SH_E_NOMEM
									  : dock_swarm_update(x->dock, &sw, NULL, 0);
			ctl_engine_done(x, t0);
			if (de) {
				snprintf(why, sizeof(why), "swarm root CA rotation refused (next attempt in 60 s): %s",
					 de == SH_E_NOMEM ? "out of memory" : dock_errmsg(x->dock));
				c->ca.retry_ns = sh_mono_ns() + 60 * 1000 * SH_NS_PER_MS;
				e = ctl_record(x, "rotate-ca", sw.id, why, "failed", NULL, NULL, NULL);
			} else {
				c->ca.watching = 1;
				c->ca.by_us = 1;
				c->ca.since_ns = sh_mono_ns();
				c->ca.not_after_ns = root.not_after_ns;
				snprintf(c->ca.serial, sizeof(c->ca.serial), "%s", root.serial);
				sh_log("info", "certs", "swarm root CA rotation started | root=%s", root.serial);
			}
		}
	}
	if (c->ca.watching)
		ctl_resync_after(x, 500 * SH_NS_PER_MS); /* see the end soon, not at the next --resync */
	dock_swarm_free(&sw);
	return e;
}

static sh_err certs_reconcile(ctl_ctx *x, void *state)
{
	certs_shell *c = state;
	const certs_opts *o = x->cfg;
	etcd_range_result specs = {0};
	sh_err e = ctl_range(x, "/certs/specs/", &specs);
	if (e)
		return e;
	int64_t now = sh_real_ns(), soonest = 0;
	for (size_t i = 0; i < c->n; i++)
		c->v[i].seen = 0;
	for (size_t k = 0; k < specs.n; k++) {
		const char *name = strrchr(specs.kvs[k].key, '/');
		name = name ? name + 1 : specs.kvs[k].key;
		spec_mem *m = mem_for(c, name, 1);
		if (!m)
			continue;
		m->seen = 1;
		/* due, or the spec changed since the last check: hand it to the worker */
		if (m->mod_rev != specs.kvs[k].mod_revision || !m->next_check_ns || now >= m->next_check_ns)
			ctl_enqueue(x, name);
		else if (!soonest || m->next_check_ns < soonest)
			soonest = m->next_check_ns;
	}
	/* forget specs that are gone (their files and secrets stay: deleting a spec is not revoking) */
	for (size_t i = 0; i < c->n; i++)
		if (!c->v[i].seen) {
			c->v[i] = c->v[--c->n];
			i--;
		}
	if (soonest)
		ctl_resync_after(x, soonest - now);
	etcd_range_result_free(&specs);
	e = swarm_pki(x, c, o);
	return e ? e : swarm_ca(x, c, o);
}

/* What one delivery by secrets did, step by step: logged, the plan recorded before anything is created
 * (so a controller killed midway leaves a record of what it started), the rest in the renewal's record. */
typedef struct step_log {
	ctl_ctx *x;
	const char *name;
	char done[1024];
} step_log;

static sh_err on_step(cert_step s, const char *object, const char *detail, void *ud)
{
	step_log *l = ud;
	sh_log("info", "certs", "secret delivery | spec=\"%s\" step=%s object=\"%s\" detail=\"%s\"", l->name,
	       cert_step_name(s), object, detail);
	sh_err e = SH_OK;
	size_t n = strlen(l->done);
	if (s == CERT_STEP_PLANNED)
		e = ctl_record(l->x, "rotate", l->name, detail, "started", NULL, NULL, NULL);
	else if (s == CERT_STEP_CREATED)
		snprintf(l->done + n, sizeof(l->done) - n, "%s %s", detail, object);
	else if (s == CERT_STEP_SWITCHED)
		snprintf(l->done + n, sizeof(l->done) - n, "; switched service %s", object);
	else if (s == CERT_STEP_REMOVED)
		snprintf(l->done + n, sizeof(l->done) - n, "; removed %s", *detail ? detail : "nothing");
	/* tests only: stop this process right after the step, as a kill there would leave things */
	const char *stop_at = getenv("SWARMHEAL_TEST_CERTS_STOP_AT");
	if (!e && stop_at && !strcmp(stop_at, cert_step_name(s))) {
		sh_log("warn", "certs", "stopping after the step (SWARMHEAL_TEST_CERTS_STOP_AT) | step=%s", stop_at);
		raise(SIGSTOP);
	}
	return e;
}

static sh_err certs_work(ctl_ctx *x, void *state, const char *name)
{
	certs_shell *c = state;
	const certs_opts *o = x->cfg;
	spec_mem *m = mem_for(c, name, 0);
	if (!m)
		return SH_OK; /* the spec is gone */
	char skey[400], tkey[400];
	if (rec_cert_spec_key(skey, sizeof(skey), x->common.prefix, name) ||
	    rec_cert_status_key(tkey, sizeof(tkey), x->common.prefix, name))
		return SH_E_INVAL;
	etcd_kv spec, st;
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_get(x->etcd, skey, &spec, NULL);
	ctl_etcd_done(x, t0);
	if (e == SH_E_NOT_FOUND)
		return SH_OK;
	if (e)
		return e;
	rec_cert_status old, now_st;
	int have_old = 0;
	t0 = sh_mono_ns();
	sh_err se = etcd_get(x->etcd, tkey, &st, NULL);
	ctl_etcd_done(x, t0);
	if (se == SH_OK) {
		char why[200];
		have_old = rec_cert_status_parse(st.value, st.value_len, &old, why, sizeof(why)) == SH_OK;
		if (!have_old)
			ctl_warn_record(x, tkey, st.mod_revision, why);
		etcd_kv_free(&st);
	} else if (se != SH_E_NOT_FOUND) {
		etcd_kv_free(&spec);
		return se;
	}
	step_log sl = {.x = x, .name = name};
	cert_step_hook hook = {on_step, &sl};
	cert_env env = {.dock = x->dock, .policy = CERT_POLICY_DEFAULT, .dry_run = x->common.dry_run, .hook = &hook};
	if (o->recheck_ms > 0)
		env.policy.recheck_ns = o->recheck_ms * SH_NS_PER_MS;
	cert_sync_out out;
	memset(&now_st, 0, sizeof(now_st));
	cert_sync(&env, spec.value, spec.value_len, have_old ? &old : NULL, &m->memo, sh_real_ns(), &now_st, &out);
	m->mod_rev = spec.mod_revision;
	etcd_kv_free(&spec);
	int64_t next = out.next_check_ns;
	int64_t cap = sh_real_ns() + env.policy.recheck_ns;
	m->next_check_ns = next && next < cap ? next : cap; /* wall clock: a suspended machine renews on waking */
	if (out.status_changed && !x->common.dry_run) {
		char *sj = rec_cert_status_encode(&now_st);
		if (!sj)
			return SH_E_NOMEM;
		const char *kind = out.issued ? "renew" : out.err ? "renew-failed" : "status";
		const char *result = out.issued ? "ok" : out.err ? "failed" : "recorded";
		char *dj = NULL;
		if (sl.done[0]) {
			cJSON *d = cJSON_CreateObject();
			if (d && cJSON_AddStringToObject(d, "delivered", sl.done))
				dj = cJSON_PrintUnformatted(d);
			cJSON_Delete(d);
		}
		e = ctl_record(x, kind, name, out.decision.reason[0] ? out.decision.reason : "status changed", result,
			       dj, tkey, sj);
		free(dj);
		free(sj);
		if (e)
			return e;
	} else if (x->common.dry_run && out.decision.act == CERT_ACT_ISSUE) {
		e = ctl_record(x, "would-renew", name, out.decision.reason, "dry-run", NULL, NULL, NULL);
		if (e)
			return e;
	}
	ctl_resync_after(x, m->next_check_ns - sh_real_ns());
	return out.err && out.err != SH_E_MALFORMED ? out.err : SH_OK;
}

static int check_rotate_before(const void *val, char *err, size_t errlen)
{
	if (*(const int64_t *)val < CERTS_SWARM_ROOT_LIFE_MS)
		return 0;
	snprintf(err, errlen, "must be below 175200h: a root Swarm generates lasts 20 years, so every new root "
			      "would be rotated again at once");
	return -1;
}

#define CO(f) offsetof(certs_opts, f)
static const sh_opt certs_opt_table[] = {
	{"cert-recheck", SH_OPT_DURATION, CO(recheck_ms), "60s", NULL,
	 "longest wait between two checks of a certificate (files on disk, wall-clock jumps)", "SWARMHEAL_CERT_RECHECK",
	 SH_OPT_RELOAD, 1000, NULL},
	{"swarm-cert-warn", SH_OPT_DURATION, CO(swarm_warn_ms), "168h", NULL,
	 "warn when a down node's Swarm certificate expires within this (it could not rejoin)",
	 "SWARMHEAL_SWARM_CERT_WARN", SH_OPT_RELOAD, 0, NULL},
	{"swarm-ca-rotate-before", SH_OPT_DURATION, CO(ca_rotate_before_ms), "0s", NULL,
	 "rotate Swarm's root CA (CAConfig.ForceRotate) when it expires within this; 0 never",
	 "SWARMHEAL_SWARM_CA_ROTATE_BEFORE", SH_OPT_RELOAD, 0, check_rotate_before},
	{0},
};

static const char *const certs_watched[] = {"/certs/specs/", NULL};

const ctl_def certs_def = {
	.name = "certs",
	.summary = "renew, verify and deliver the certificates of /certs/specs/ (files or Swarm secrets)",
	.watch = certs_watched,
	.engine_events = NULL,
	.needs_engine = 1,
	.opts = certs_opt_table,
	.cfg_size = sizeof(certs_opts),
	.init = certs_init,
	.reconcile = certs_reconcile,
	.work = certs_work,
	.release = certs_release,
};
