/* SPDX-License-Identifier: MIT */
/* certs_ctl.c - certs controller shell: a key per spec, cert_sync() as the worker, status written fenced */
#include "certs_ctl.h"

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
	return swarm_pki(x, c, o);
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
	cert_env env = {.dock = x->dock, .policy = CERT_POLICY_DEFAULT, .dry_run = x->common.dry_run};
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
		e = ctl_record(x, kind, name, out.decision.reason[0] ? out.decision.reason : "status changed", result,
			       NULL, tkey, sj);
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

#define CO(f) offsetof(certs_opts, f)
static const sh_opt certs_opt_table[] = {
	{"cert-recheck", SH_OPT_DURATION, CO(recheck_ms), "60s", NULL,
	 "longest wait between two checks of a certificate (files on disk, wall-clock jumps)", "SWARMHEAL_CERT_RECHECK",
	 SH_OPT_RELOAD, 1000, NULL},
	{"swarm-cert-warn", SH_OPT_DURATION, CO(swarm_warn_ms), "168h", NULL,
	 "warn when a down node's Swarm certificate expires within this (it could not rejoin)",
	 "SWARMHEAL_SWARM_CERT_WARN", SH_OPT_RELOAD, 0, NULL},
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
