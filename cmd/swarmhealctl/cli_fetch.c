/* SPDX-License-Identifier: MIT */
/* cli_fetch.c - swarmhealctl's reads: the etcd prefixes a view needs, each endpoint's status, Swarm's nodes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec.h"
#include "rec_cert.h"
#include "rec_election.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

static sh_err range_prefix(cli_ctx *c, cli_snap *s, const char *sub, etcd_range_result *r, const etcd_range_opts *o)
{
	char key[512];
	if (rec_key(key, sizeof(key), s->prefix, sub, NULL))
		return SH_E_INVAL;
	etcd_range_opts def = {.prefix = 1};
	sh_err e = etcd_range(c->etcd, key, o ? o : &def, r);
	if (!e && r->revision > s->revision)
		s->revision = r->revision;
	return e;
}

/* Each endpoint on its own: a cluster with one member down still answers, and status says which. */
static void read_endpoints(cli_ctx *c, cli_snap *s)
{
	char list[2048];
	snprintf(list, sizeof(list), "%s", c->ecfg.endpoints ? c->ecfg.endpoints : "http://127.0.0.1:2379");
	char *save = NULL;
	for (char *ep = strtok_r(list, ",", &save); ep && s->neps < sizeof(s->eps) / sizeof(s->eps[0]);
	     ep = strtok_r(NULL, ",", &save)) {
		cli_endpoint *e = &s->eps[s->neps++];
		memset(e, 0, sizeof(*e));
		snprintf(e->endpoint, sizeof(e->endpoint), "%s", ep);
		etcd_config one = c->ecfg;
		one.endpoints = ep;
		etcd_client *ec;
		char err[300];
		if (etcd_client_new(&one, &ec, err, sizeof(err))) {
			snprintf(e->error, sizeof(e->error), "%s", err);
			continue;
		}
		etcd_status st;
		if (etcd_status_get(ec, &st)) {
			snprintf(e->error, sizeof(e->error), "%s", etcd_errmsg(ec));
		} else {
			e->reachable = 1;
			snprintf(e->version, sizeof(e->version), "%s", st.version);
			e->db_size = st.db_size;
			e->revision = st.revision;
			e->member_id = st.member_id;
			e->leader = st.leader;
		}
		etcd_client_free(ec);
	}
}

static int has_name(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, name, n))
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

/* The newest record of each controller that is expected (--controllers) or campaigns. */
static sh_err read_last_actions(cli_ctx *c, cli_snap *s)
{
	char names[16][64];
	size_t n = 0;
	const char *p = s->controllers;
	while (p && *p && n < 16) {
		size_t k = strcspn(p, ",");
		if (k && k < 64)
			snprintf(names[n++], 64, "%.*s", (int)k, p);
		p += k + (p[k] == ',');
	}
	static rec_election_view views[64];
	size_t nv = rec_election_views(s->prefix, s->elections.kvs, s->elections.n, views, 64);
	for (size_t i = 0; i < nv && i < 64 && n < 16; i++)
		if (!strncmp(views[i].name, "controller.", 11) && !has_name(s->controllers, views[i].name + 11) &&
		    strlen(views[i].name + 11) < 64)
			snprintf(names[n++], 64, "%s", views[i].name + 11);
	for (size_t i = 0; i < n; i++) {
		char key[512];
		if (rec_action_prefix(key, sizeof(key), s->prefix, names[i]))
			continue;
		etcd_range_opts o = {.prefix = 1, .limit = 1, .sort_order = ETCD_SORT_DESCEND, .sort_target = ETCD_SORT_KEY};
		sh_err e = etcd_range(c->etcd, key, &o, &s->last_action[s->nlast]);
		if (e)
			return e;
		snprintf(s->last_action_ctl[s->nlast++], 64, "%s", names[i]);
	}
	return SH_OK;
}

sh_err cli_fetch(cli_ctx *c, unsigned what, int64_t limit, cli_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->prefix = c->g.prefix;
	s->controllers = c->g.controllers;
	s->etcd_quota = c->g.etcd_quota;
	s->now_ns = sh_real_ns();
	sh_err e = SH_OK;
	if (what & CLI_READ_ENDPOINTS)
		read_endpoints(c, s);
	if (!e && (what & CLI_READ_NODES) && !(e = range_prefix(c, s, "/nodes/", &s->nodes, NULL)) &&
	    !(e = range_prefix(c, s, "/drain/state/", &s->drain_state, NULL)))
		e = range_prefix(c, s, "/drain/requests/", &s->drain_req, NULL);
	if (!e && (what & CLI_READ_ELECTIONS) && !(e = range_prefix(c, s, "/elections/", &s->elections, NULL)))
		e = read_last_actions(c, s);
	if (!e && (what & CLI_READ_CERTS) && !(e = range_prefix(c, s, REC_CERT_PATH_SPECS, &s->cert_specs, NULL)))
		e = range_prefix(c, s, REC_CERT_PATH_STATUS, &s->cert_status, NULL);
	if (!e && (what & (CLI_READ_ACTIONS | CLI_READ_ALL_ACTIONS))) {
		/* newest first: mod_revision orders writes across every writer */
		etcd_range_opts o = {.prefix = 1,
				     .limit = (what & CLI_READ_ALL_ACTIONS) ? 0 : (limit > 0 ? limit : 10),
				     .sort_order = ETCD_SORT_DESCEND,
				     .sort_target = ETCD_SORT_MOD};
		e = range_prefix(c, s, "/actions/", &s->actions, &o);
	}
	if (!e && (what & CLI_READ_ARBITER)) {
		char key[512];
		rec_arbiter_mode_key(key, sizeof(key), s->prefix);
		e = etcd_get(c->etcd, key, &s->arbiter, NULL);
		s->arbiter_present = e == SH_OK;
		if (e == SH_E_NOT_FOUND)
			e = SH_OK;
	}
	if (!e && (what & CLI_READ_SERVICES)) {
		etcd_range_opts o = {.prefix = 1, .limit = 1000, .sort_order = ETCD_SORT_DESCEND, .sort_target = ETCD_SORT_KEY};
		char key[512];
		if (rec_action_prefix(key, sizeof(key), s->prefix, "rollback") == 0)
			e = etcd_range(c->etcd, key, &o, &s->rollback_actions);
	}
	if (!e && (what & CLI_READ_SNAPSHOTS)) {
		/* get/describe services: every snapshot (status leaves them: a spec each, 2,000 services are MiBs) */
		e = range_prefix(c, s, "/rollback/snapshots/", &s->snapshots, NULL);
		s->have_snapshots = e == SH_OK;
	}
	if (!e && (what & CLI_READ_NODES) && c->docker) {
		char err[300];
		if (!c->dock && dock_client_new(&c->dcfg, &c->dock, err, sizeof(err))) {
			snprintf(s->swarm_error, sizeof(s->swarm_error), "%s", err);
		} else if (dock_nodes_list(c->dock, &s->swarm)) {
			snprintf(s->swarm_error, sizeof(s->swarm_error), "%s", dock_errmsg(c->dock));
		} else {
			s->have_swarm = 1;
		}
	}
	return e;
}

void cli_snap_release(cli_snap *s)
{
	etcd_range_result_free(&s->nodes);
	etcd_range_result_free(&s->drain_state);
	etcd_range_result_free(&s->drain_req);
	etcd_range_result_free(&s->elections);
	etcd_range_result_free(&s->cert_specs);
	etcd_range_result_free(&s->cert_status);
	etcd_range_result_free(&s->actions);
	etcd_range_result_free(&s->snapshots);
	etcd_range_result_free(&s->rollback_actions);
	for (size_t i = 0; i < s->nlast; i++)
		etcd_range_result_free(&s->last_action[i]);
	if (s->arbiter_present)
		etcd_kv_free(&s->arbiter);
	if (s->have_swarm)
		dock_node_list_free(&s->swarm);
	memset(s, 0, sizeof(*s));
}
