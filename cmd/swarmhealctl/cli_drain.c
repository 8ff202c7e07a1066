/* SPDX-License-Identifier: MIT */
/* cli_drain.c - swarmhealctl drain, uncordon and wait: the drain request record, the min-available gate, waiting */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "drain.h"
#include "rec.h"
#include "rec_heartbeat.h"
#include "sh_util.h"


static int node_arg(cli_ctx *c, const char *verb, int argc, char **argv, const char **node)
{
	if (argc < 1)
		return sh_usage_error(c->uprog, "which node? ('%s NODE')", verb);
	if (argc > 1)
		return sh_usage_error(c->uprog, "unexpected argument '%s'", argv[1]);
	*node = !strncmp(argv[0], "node/", 5) ? argv[0] + 5 : argv[0];
	char key[512];
	if (rec_drain_request_key(key, sizeof(key), c->g.prefix, *node))
		return sh_usage_error(c->uprog, "invalid node name '%s'", argv[0]);
	return 0;
}

/*
 * The gate, asked of the drain controller's own decision (drain_decide) with
 * what the engine shows now: every node, the heartbeats, our drain states,
 * the requests (this one included) and the services with a
 * swarmheal.min-available label with their running tasks. The controller's
 * --max-drained is not known here: its default (a third of the nodes) is used.
 */
int cli_gate_decide(const cli_snap *s, const struct drain_service *svcs, size_t nsvc, const char *node,
		    int64_t now_mono, char *reason, size_t len)
{
	size_t n = s->swarm.n;
	drain_node *nodes = calloc(n ? n : 1, sizeof(*nodes));
	drain_action *acts = calloc(n ? n : 1, sizeof(*acts));
	int rc = -1;
	if (!nodes || !acts) {
		snprintf(reason, len, "out of memory");
		goto out;
	}
	size_t target = n;
	for (size_t i = 0; i < n; i++) {
		const dock_node *sw = &s->swarm.v[i];
		drain_node *d = &nodes[i];
		d->id = sw->id;
		d->hostname = sw->hostname;
		d->swarm_state = sw->state;
		d->availability = sw->availability;
		char key[512];
		etcd_kv *hb = NULL;
		rec_key(key, sizeof(key), s->prefix, "/nodes/", sw->id);
		for (size_t k = 0; k < s->nodes.n && !hb; k++)
			if (!strcmp(s->nodes.kvs[k].key, key))
				hb = &s->nodes.kvs[k];
		rec_heartbeat h;
		char why[200];
		d->hb_present = hb != NULL;
		d->hb_engine_up = 1;
		if (hb && !rec_heartbeat_parse(hb->value, hb->value_len, &h, why, sizeof(why))) {
			d->hb_present = !h.stopped;
			d->hb_engine_up = h.engine != REC_ENGINE_DOWN;
			d->zone = NULL;
		}
		rec_key(key, sizeof(key), s->prefix, "/drain/requests/", sw->id);
		for (size_t k = 0; k < s->drain_req.n; k++)
			d->requested |= !strcmp(s->drain_req.kvs[k].key, key);
		rec_key(key, sizeof(key), s->prefix, "/drain/state/", sw->id);
		for (size_t k = 0; k < s->drain_state.n; k++) {
			rec_drain_state ds;
			if (strcmp(s->drain_state.kvs[k].key, key))
				continue;
			if (rec_drain_state_parse(s->drain_state.kvs[k].value, s->drain_state.kvs[k].value_len, &ds,
						  why, sizeof(why)) ||
			    !strcmp(ds.state, "drained") || !strcmp(ds.state, "draining"))
				d->state = DRAIN_DRAINED;
			else if (!strcmp(ds.state, "restored"))
				d->state = DRAIN_RESTORED;
		}
		if (!strcmp(sw->id, node) || !strcmp(sw->hostname, node)) {
			target = i;
			d->requested = 1;
		}
	}
	if (target == n) {
		snprintf(reason, len, "node '%s' is not in the swarm", node);
		goto out;
	}
	rec_arbiter_mode m;
	char why[200];
	drain_policy p = {
		.read_only = s->arbiter_present &&
			     (rec_arbiter_mode_parse(s->arbiter.value, s->arbiter.value_len, &m, why, sizeof(why)) ||
			      m.mode == REC_MODE_READ_ONLY)};
	size_t na = drain_decide(&p, nodes, n, svcs, nsvc, now_mono, acts, n); /* one action at most per node */
	const drain_action *mine = NULL;
	for (size_t i = 0; i < na; i++)
		if (acts[i].node == target)
			mine = &acts[i];
	if (mine && mine->kind == DRAIN_ACT_DRAIN) {
		rc = 1;
		snprintf(reason, len, "every service keeps its swarmheal.min-available");
	} else if (mine && mine->kind == DRAIN_ACT_REFUSE) {
		rc = 0;
		snprintf(reason, len, "%s", mine->reason);
	} else {
		snprintf(reason, len, "%s",
			 !strcmp(nodes[target].availability, "drain")
				 ? "already drained"
				 : "the drain controller would not act on it now (node dead or already ours)");
	}
out:
	free(nodes);
	free(acts);
	return rc;
}

static void gate(cli_ctx *c, const cli_snap *s, const char *node, cJSON *out)
{
	cJSON *g = cJSON_AddObjectToObject(out, "gate");
	if (!s->have_swarm) {
		cJSON_AddBoolToObject(g, "checked", 0);
		cJSON_AddNullToObject(g, "allowed");
		cJSON_AddStringToObject(g, "reason",
					s->swarm_error[0] ? s->swarm_error
							  : "not checked: give --docker-host (a manager's engine) to "
							    "read the services' swarmheal.min-available labels");
		return;
	}
	dock_service_list sl = {0};
	size_t nsvc = 0;
	drain_service *svcs = NULL;
	dock_task_list *tls = NULL;
	char err[400] = "";
	if (dock_services_list(c->dock, &sl)) {
		snprintf(err, sizeof(err), "cannot list services: %s", dock_errmsg(c->dock));
		goto done;
	}
	svcs = calloc(sl.n ? sl.n : 1, sizeof(*svcs));
	tls = calloc(sl.n ? sl.n : 1, sizeof(*tls));
	if (!svcs || !tls) {
		snprintf(err, sizeof(err), "out of memory");
		goto done;
	}
	for (size_t i = 0; i < sl.n; i++) {
		const cJSON *lab = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(sl.v[i].spec, "Labels"), "swarmheal.min-available");
		if (!cJSON_IsString(lab))
			continue;
		char f[200];
		snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", sl.v[i].id);
		if (dock_tasks_list(c->dock, f, &tls[nsvc])) {
			snprintf(err, sizeof(err), "cannot list tasks of '%s': %s", sl.v[i].name, dock_errmsg(c->dock));
			goto done;
		}
		drain_service *sv = &svcs[nsvc];
		sv->name = sl.v[i].name;
		sv->min_available = lab->valuestring;
		sv->replicas = sl.v[i].replicas;
		sv->task_nodes = calloc(tls[nsvc].n ? tls[nsvc].n : 1, sizeof(char *));
		for (size_t t = 0; sv->task_nodes && t < tls[nsvc].n; t++)
			if (!strcmp(tls[nsvc].v[t].state, "running"))
				sv->task_nodes[sv->ntasks++] = tls[nsvc].v[t].node_id;
		nsvc++;
	}
	char reason[400];
	int allowed = cli_gate_decide(s, svcs, nsvc, node, sh_mono_ns(), reason, sizeof(reason));
	cJSON_AddBoolToObject(g, "checked", 1);
	if (allowed < 0)
		cJSON_AddNullToObject(g, "allowed");
	else
		cJSON_AddBoolToObject(g, "allowed", allowed);
	cJSON_AddStringToObject(g, "reason", reason);
done:
	if (err[0]) {
		cJSON_AddBoolToObject(g, "checked", 0);
		cJSON_AddNullToObject(g, "allowed");
		cJSON_AddStringToObject(g, "reason", err);
	}
	for (size_t i = 0; svcs && i < nsvc; i++) {
		free(svcs[i].task_nodes);
		dock_task_list_free(&tls[i]);
	}
	free(svcs);
	free(tls);
	dock_service_list_free(&sl);
}

/* What the drain controller will make of it: its leader and the arbiter mode. */
static void context(const cli_snap *s, cJSON *out)
{
	cJSON *st = cli_view_status(s, NULL, 0);
	cJSON_AddItemToObject(out, "arbiter_mode",
			      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
						      cJSON_GetObjectItemCaseSensitive(st, "arbiter"), "mode"),
					      1));
	const cJSON *ctl, *leader = NULL;
	cJSON_ArrayForEach(ctl, cJSON_GetObjectItemCaseSensitive(st, "controllers"))
	{
		if (!strcmp(cJSON_GetObjectItemCaseSensitive(ctl, "name")->valuestring, "drain"))
			leader = cJSON_GetObjectItemCaseSensitive(ctl, "leader");
	}
	if (cJSON_IsString(leader))
		cJSON_AddStringToObject(out, "drain_controller", leader->valuestring);
	else
		cJSON_AddNullToObject(out, "drain_controller");
	cJSON_Delete(st);
}

static int print_result(cli_ctx *c, cJSON *r)
{
	int rc = 0;
	if (c->fmt <= CLI_WIDE) {
		const char *node = cJSON_GetObjectItemCaseSensitive(r, "node")->valuestring,
			   *act = cJSON_GetObjectItemCaseSensitive(r, "action")->valuestring;
		fprintf(c->out, "node/%s %s\n", node, act);
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "gate");
		if (g) {
			const cJSON *al = cJSON_GetObjectItemCaseSensitive(g, "allowed");
			fprintf(c->out, "min-available gate: %s: %s\n",
				cJSON_IsTrue(al) ? "lets it through" : cJSON_IsFalse(al) ? "refuses it" : "unknown",
				cJSON_GetObjectItemCaseSensitive(g, "reason")->valuestring);
		}
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "arbiter_mode"),
			    *l = cJSON_GetObjectItemCaseSensitive(r, "drain_controller"),
			    *n = cJSON_GetObjectItemCaseSensitive(r, "note");
		if (cJSON_IsString(m) && strcmp(m->valuestring, "normal"))
			fprintf(c->out, "arbiter mode: %s: the drain controller records refusals instead of acting\n",
				m->valuestring);
		if (l && !cJSON_IsString(l))
			fprintf(c->out, "drain controller: no leader: nothing acts on the request until one runs\n");
		else if (cJSON_IsString(l))
			fprintf(c->out, "drain controller: led by %s\n", l->valuestring);
		if (cJSON_IsString(n))
			fprintf(c->out, "%s\n", n->valuestring);
	} else {
		rc = cli_print(c, r);
	}
	return rc ? CLI_USAGE : CLI_OK;
}

int cli_run_drain(cli_ctx *c, int argc, char **argv)
{
	const char *node = NULL;
	int rc = node_arg(c, "drain", argc, argv, &node);
	if (rc)
		return rc;
	if (!c->v.reason || !*c->v.reason)
		return sh_usage_error(c->uprog, "--reason is required (it is recorded with the drain)");
	rec_drain_request rq = {.ts_ns = sh_real_ns()};
	char host[128] = "";
	gethostname(host, sizeof(host) - 1);
	const char *user = getenv("USER");
	if (c->v.requested_by && *c->v.requested_by)
		snprintf(rq.requested_by, sizeof(rq.requested_by), "%s", c->v.requested_by);
	else
		snprintf(rq.requested_by, sizeof(rq.requested_by), "%.60s@%.60s", user && *user ? user : "unknown", host);
	if (strlen(c->v.reason) >= sizeof(rq.reason))
		return sh_usage_error(c->uprog, "--reason is longer than %zu bytes", sizeof(rq.reason) - 1);
	snprintf(rq.reason, sizeof(rq.reason), "%s", c->v.reason);
	cli_snap s;
	sh_err e = cli_fetch(c, CLI_READ_NODES | CLI_READ_ELECTIONS | CLI_READ_ARBITER, 0, &s);
	if (e) {
		int rc_ = cli_etcd_fail(c, e, s.error);
		cli_snap_release(&s);
		return rc_;
	}
	char key[512];
	rec_drain_request_key(key, sizeof(key), c->g.prefix, node);
	char *json = rec_drain_request_encode(&rq);
	if (!json) {
		cli_snap_release(&s);
		return CLI_SOFTWARE;
	}
	e = etcd_put(c->etcd, key, json, strlen(json), NULL, NULL, NULL);
	free(json);
	if (e) {
		int rc_ = cli_etcd_fail(c, e, s.error);
		cli_snap_release(&s);
		return rc_;
	}
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "DrainResult");
	cJSON_AddStringToObject(r, "node", node);
	cJSON_AddStringToObject(r, "action", "drain requested");
	cJSON_AddStringToObject(r, "key", key);
	cJSON *req = cJSON_AddObjectToObject(r, "request");
	cJSON_AddStringToObject(req, "reason", rq.reason);
	cJSON_AddStringToObject(req, "requested_by", rq.requested_by);
	cJSON *nv = cli_view_node(&s, node);
	if (!nv)
		cJSON_AddStringToObject(
			r, "note",
			"warning: no heartbeat, drain record or Swarm node is known by that name; the request "
			"waits for a node with that ID");
	cJSON_Delete(nv);
	gate(c, &s, node, r);
	context(&s, r);
	rc = print_result(c, r);
	cJSON_Delete(r);
	cli_snap_release(&s);
	return rc;
}

int cli_run_uncordon(cli_ctx *c, int argc, char **argv)
{
	const char *node = NULL;
	int rc = node_arg(c, "uncordon", argc, argv, &node);
	if (rc)
		return rc;
	char key[512];
	rec_drain_request_key(key, sizeof(key), c->g.prefix, node);
	etcd_delete_result dr = {0};
	sh_err e = etcd_delete(c->etcd, key, NULL, &dr);
	if (e)
		return cli_etcd_fail(c, e, NULL);
	int64_t deleted = dr.deleted;
	etcd_delete_result_free(&dr);
	cli_snap s;
	e = cli_fetch(c, CLI_READ_NODES | CLI_READ_ELECTIONS | CLI_READ_ARBITER, 0, &s);
	if (e) {
		int rc_ = cli_etcd_fail(c, e, s.error);
		cli_snap_release(&s);
		return rc_;
	}
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "DrainResult");
	cJSON_AddStringToObject(r, "node", node);
	cJSON_AddStringToObject(r, "action", deleted ? "drain request withdrawn" : "had no drain request");
	cJSON_AddStringToObject(r, "key", key);
	cJSON *nv = cli_view_node(&s, node);
	const cJSON *by = nv ? cJSON_GetObjectItemCaseSensitive(nv, "drained_by") : NULL;
	if (cJSON_IsString(by) && !strcmp(by->valuestring, "swarmheal"))
		cJSON_AddStringToObject(r, "note", "the drain controller sets it active again when it is healthy "
						   "(after its --restore-after)");
	else if (cJSON_IsString(by) && !strcmp(by->valuestring, "person"))
		cJSON_AddStringToObject(r, "note", "drained by a person, not by swarmheal: set it active with "
						   "'docker node update --availability active'");
	cJSON_Delete(nv);
	context(&s, r);
	rc = print_result(c, r);
	cJSON_Delete(r);
	cli_snap_release(&s);
	return rc;
}

/*
 * drained: the drain controller recorded state "drained" (with --docker-host:
 * or Swarm's availability is drain). active: neither draining nor drained
 * recorded (with --docker-host: and Swarm's availability is active).
 * 1 met, 0 not; *now describes what is seen.
 */
static int condition(const cli_snap *s, const char *node, int want_drained, char *now, size_t len)
{
	cJSON *v = cli_view_node(s, node);
	const cJSON *st = v ? cJSON_GetObjectItemCaseSensitive(v, "drain_state") : NULL;
	const cJSON *sw = v ? cJSON_GetObjectItemCaseSensitive(v, "swarm") : NULL;
	const cJSON *av = cJSON_IsObject(sw) ? cJSON_GetObjectItemCaseSensitive(sw, "availability") : NULL;
	const char *state = cJSON_IsString(st) ? st->valuestring : "none";
	const char *avail = cJSON_IsString(av) ? av->valuestring : NULL;
	int drained = !strcmp(state, "drained") || (avail && !strcmp(avail, "drain"));
	int active = strcmp(state, "drained") && strcmp(state, "draining") && (!avail || !strcmp(avail, "active"));
	snprintf(now, len, "drain state %s%s%s", state, avail ? ", Swarm availability " : "", avail ? avail : "");
	cJSON_Delete(v);
	return want_drained ? drained : active;
}

int cli_run_wait(cli_ctx *c, int argc, char **argv)
{
	const char *node = NULL;
	int rc;
	if (argc >= 1 && !strncmp(argv[0], "node/", 5))
		rc = node_arg(c, "wait", argc, argv, &node); /* "node/NAME" is "node NAME" */
	else if (argc >= 1 && (!strcmp(argv[0], "node") || !strcmp(argv[0], "nodes")))
		rc = node_arg(c, "wait", argc - 1, argv + 1, &node);
	else
		return sh_usage_error(c->uprog, "want 'node NAME' (only nodes can be waited for)");
	if (rc)
		return rc;
	if (!c->v.for_cond || (strcmp(c->v.for_cond, "drained") && strcmp(c->v.for_cond, "active")))
		return sh_usage_error(c->uprog, "--for=drained or --for=active is required");
	int want_drained = !strcmp(c->v.for_cond, "drained");
	int64_t deadline = sh_mono_ns() + c->v.timeout_ms * SH_NS_PER_MS;
	unsigned what = CLI_READ_NODES;
	char key[512], seen[300] = "";
	rec_drain_state_key(key, sizeof(key), c->g.prefix, node);
	etcd_watch *w = NULL;
	for (;;) {
		cli_snap s;
		sh_err e = cli_fetch(c, what, 0, &s);
		if (e) {
			int rc_ = cli_etcd_fail(c, e, s.error);
			cli_snap_release(&s);
			if (w)
				etcd_watch_close(w);
			return rc_;
		}
		int met = condition(&s, node, want_drained, seen, sizeof(seen));
		int64_t rev = s.revision;
		cli_snap_release(&s);
		if (met) {
			fprintf(c->out, "node/%s condition met (%s)\n", node, seen);
			rc = CLI_OK;
			break;
		}
		int64_t left = (deadline - sh_mono_ns()) / SH_NS_PER_MS;
		if (left <= 0) {
			fprintf(stderr, "%s: timed out waiting for node '%s' to be %s (%s)\n", c->prog, node,
				c->v.for_cond, seen);
			rc = CLI_TIMEOUT;
			break;
		}
		if (!w) {
			/* this node's drain state, from just after what was read; Swarm (no etcd watch) every second */
			etcd_watch_opts wo = {.start_revision = rev + 1};
			if ((e = etcd_watch_open(c->etcd, key, &wo, &w))) {
				rc = cli_etcd_fail(c, e, NULL);
				break;
			}
		}
		etcd_watch_batch b = {0};
		e = etcd_watch_next(w, &b, c->docker && left > 1000 ? 1000 : left);
		etcd_watch_batch_free(&b);
		if (e && e != SH_E_TIMEOUT && e != SH_E_UNREACHABLE) {
			etcd_watch_close(w);
			w = NULL; /* compacted or broken: read again and watch anew */
		}
	}
	if (w)
		etcd_watch_close(w);
	return rc;
}
