/* SPDX-License-Identifier: MIT */
/* cli_get.c - swarmhealctl get and describe: read, build the view, print; --watch redraws on each etcd change */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rec.h"
#include "sh_util.h"

/* One line on stderr and the status for an etcd failure: 69 unless the answer itself was bad. */
int cli_etcd_fail(cli_ctx *c, sh_err e, const char *msg)
{
	fprintf(stderr, "%s: etcd: %s\n", c->prog, msg && *msg ? msg : etcd_errmsg(c->etcd));
	return e == SH_E_NOMEM || e == SH_E_PROTO ? CLI_SOFTWARE : CLI_UNAVAILABLE;
}

typedef struct subject {
	const char *name, *alias;
	unsigned what;
	cJSON *(*view)(const cli_snap *s, const cli_filter *f, int64_t limit);
} subject;

static cJSON *v_status(const cli_snap *s, const cli_filter *f, int64_t n)
{
	return cli_view_status(s, f, n);
}
static cJSON *v_nodes(const cli_snap *s, const cli_filter *f, int64_t n)
{
	(void)n;
	return cli_view_nodes(s, f);
}
static cJSON *v_elections(const cli_snap *s, const cli_filter *f, int64_t n)
{
	(void)n;
	return cli_view_elections(s, f);
}
static cJSON *v_certs(const cli_snap *s, const cli_filter *f, int64_t n)
{
	(void)n;
	return cli_view_certs(s, f);
}
static cJSON *v_actions(const cli_snap *s, const cli_filter *f, int64_t n)
{
	return cli_view_actions(s, f, n);
}
static cJSON *v_services(const cli_snap *s, const cli_filter *f, int64_t n)
{
	(void)n;
	return cli_view_services(s, f);
}

static const subject subjects[] = {
	{"status", NULL, CLI_READ_STATUS, v_status},
	{"nodes", "node", CLI_READ_NODES, v_nodes},
	{"elections", "election", CLI_READ_ELECTIONS, v_elections},
	{"certs", "cert", CLI_READ_CERTS, v_certs},
	{"actions", "action", CLI_READ_ACTIONS, v_actions},
	{"services", "service", CLI_READ_SERVICES | CLI_READ_SNAPSHOTS, v_services},
};

const char *const cli_get_subjects[] = {"status", "nodes", "elections", "certs", "actions", "services", NULL};
const char *const cli_describe_subjects[] = {"node", "service", "cert", NULL};

/* Wait for the next change under the prefix; drain what arrived with it. 0 changed, else the status to exit with. */
static int wait_change(cli_ctx *c, etcd_watch *w)
{
	for (;;) {
		etcd_watch_batch b = {0};
		sh_err e = etcd_watch_next(w, &b, 60000);
		if (e == SH_E_TIMEOUT)
			continue;
		if (e == SH_E_UNREACHABLE) {
			fprintf(stderr, "%s: etcd: %s (retrying)\n", c->prog, etcd_watch_errmsg(w));
			sleep(1);
			continue;
		}
		if (e && e != SH_E_COMPACTED) {
			fprintf(stderr, "%s: etcd watch: %s\n", c->prog, etcd_watch_errmsg(w));
			return CLI_UNAVAILABLE;
		}
		size_t n = b.n;
		etcd_watch_batch_free(&b);
		if (e == SH_E_COMPACTED || n)
			return 0; /* a compacted start means we missed changes: redraw */
	}
}

static int show(cli_ctx *c, const subject *sj, cli_filter *f, int *degraded, int64_t *rev)
{
	cli_snap s;
	sh_err e = cli_fetch(c, sj->what, c->v.limit, &s);
	if (e) {
		int rc_ = cli_etcd_fail(c, e, s.error);
		cli_snap_release(&s);
		return rc_;
	}
	int64_t t0 = sh_mono_ns();
	cJSON *v = sj->view(&s, f, c->v.limit);
	*rev = s.revision;
	cli_snap_release(&s);
	if (!v)
		return CLI_SOFTWARE;
	int64_t t1 = sh_mono_ns();
	int rc = cli_print(c, v) ? CLI_USAGE : CLI_OK;
	if (getenv("SWARMHEALCTL_TRACE"))
		fprintf(stderr, "trace: %-28s %7.2f ms\ntrace: %-28s %7.2f ms\n", "view", (double)(t1 - t0) / 1e6,
			"print", (double)(sh_mono_ns() - t1) / 1e6);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "degraded");
	*degraded = cJSON_IsTrue(d);
	cJSON_Delete(v);
	fflush(c->out);
	return rc;
}

int cli_run_get(cli_ctx *c, int argc, char **argv)
{
	if (argc < 1)
		return sh_usage_error(c->uprog, "what to get? (status, nodes, elections, certs, actions, services)");
	if (argc > 1)
		return sh_usage_error(c->uprog, "unexpected argument '%s'", argv[1]);
	const subject *sj = NULL;
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]) && !sj; i++)
		if (!strcmp(argv[0], subjects[i].name) || (subjects[i].alias && !strcmp(argv[0], subjects[i].alias)))
			sj = &subjects[i];
	if (!sj)
		return sh_usage_error(
			c->uprog, "unknown kind '%s' (status, nodes, elections, certs, actions, services)", argv[0]);
	cli_filter f = {c->v.selector, c->v.zone};
	char err[300];
	if (cli_filter_check(&f, err, sizeof(err)))
		return sh_usage_error(c->uprog, "%s", err);
	if (c->v.fail_on_degraded && strcmp(sj->name, "status"))
		return sh_usage_error(c->uprog, "--fail-on-degraded goes with 'get status' only");
	int degraded = 0, tty = isatty(fileno(c->out));
	int64_t rev = 0;
	if (c->v.watch && tty && c->fmt <= CLI_WIDE)
		fputs("\033[H\033[2J", c->out);
	int rc = show(c, sj, &f, &degraded, &rev);
	if (rc || !c->v.watch)
		return rc ? rc : (c->v.fail_on_degraded && degraded ? CLI_DEGRADED : CLI_OK);
	/* --watch: one watch on the whole prefix from just after what was shown; redraw on each change */
	char key[512];
	if (rec_key(key, sizeof(key), c->g.prefix, "/", NULL))
		return sh_usage_error(c->uprog, "--prefix too long");
	etcd_watch_opts wo = {.prefix = 1, .start_revision = rev + 1};
	etcd_watch *w;
	sh_err e = etcd_watch_open(c->etcd, key, &wo, &w);
	if (e)
		return cli_etcd_fail(c, e, NULL);
	for (;;) {
		if ((rc = wait_change(c, w)))
			break;
		if (tty && c->fmt <= CLI_WIDE)
			fputs("\033[H\033[2J", c->out);
		else if (c->fmt <= CLI_WIDE)
			fputc('\n', c->out);
		if ((rc = show(c, sj, &f, &degraded, &rev)))
			break;
	}
	etcd_watch_close(w);
	return rc;
}

/*
 * describe service with --docker-host: Swarm's own update state of the service (UpdateStatus: updating, paused,
 * rollback_started, ...), its message and version. A service Swarm knows but swarmheal has no record of is
 * still described.
 */
static cJSON *service_engine_view(cli_ctx *c, const char *name, cJSON *v)
{
	char err[300];
	dock_service sv;
	if (!c->dock && dock_client_new(&c->dcfg, &c->dock, err, sizeof(err))) {
		fprintf(stderr, "%s: warning: Swarm: %s\n", c->prog, err);
		return v;
	}
	sh_err e = dock_service_inspect(c->dock, name, &sv);
	if (e) {
		if (v || e != SH_E_NOT_FOUND)
			fprintf(stderr, "%s: warning: Swarm: %s\n", c->prog, dock_errmsg(c->dock));
		return v;
	}
	if (!v) {
		v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "name", sv.id);
		cJSON_AddStringToObject(v, "state", "ok");
		cJSON_AddNullToObject(v, "last_action");
		cJSON_AddStringToObject(v, "kind", "Service");
	}
	cJSON *o = cJSON_AddObjectToObject(v, "swarm");
	cJSON_AddStringToObject(o, "id", sv.id);
	cJSON_AddStringToObject(o, "name", sv.name);
	cJSON_AddNumberToObject(o, "version", (double)sv.version);
	cJSON_AddNumberToObject(o, "replicas", (double)sv.replicas);
	cJSON_AddStringToObject(o, "update_state", sv.update_state);
	cJSON_AddStringToObject(o, "update_message", sv.update_message);
	dock_service_free(&sv);
	return v;
}

int cli_run_describe(cli_ctx *c, int argc, char **argv)
{
	if (argc < 2)
		return sh_usage_error(c->uprog, "want KIND NAME (node, service or cert)");
	if (argc > 2)
		return sh_usage_error(c->uprog, "unexpected argument '%s'", argv[2]);
	const char *kind = argv[0], *name = argv[1];
	unsigned what;
	if (!strcmp(kind, "node") || !strcmp(kind, "nodes"))
		what = CLI_READ_NODES | CLI_READ_ALL_ACTIONS;
	else if (!strcmp(kind, "service") || !strcmp(kind, "services"))
		what = CLI_READ_SERVICES | CLI_READ_SNAPSHOTS;
	else if (!strcmp(kind, "cert") || !strcmp(kind, "certs"))
		what = CLI_READ_CERTS | CLI_READ_ALL_ACTIONS;
	else
		return sh_usage_error(c->uprog, "unknown kind '%s' (node, service or cert)", kind);
	cli_snap s;
	sh_err e = cli_fetch(c, what, 0, &s);
	if (e) {
		int rc_ = cli_etcd_fail(c, e, s.error);
		cli_snap_release(&s);
		return rc_;
	}
	cJSON *v = kind[0] == 'n' ? cli_view_node(&s, name) : kind[0] == 's' ? cli_view_service(&s, name)
									      : cli_view_cert(&s, name);
	cli_snap_release(&s);
	if (kind[0] == 's' && c->docker)
		v = service_engine_view(c, name, v);
	if (!v) {
		fprintf(stderr, "%s: %s '%s' not found\n", c->prog,
			kind[0] == 'n'	 ? "node"
			: kind[0] == 's' ? "service"
					 : "cert",
			name);
		return CLI_NOT_FOUND;
	}
	int rc = cli_print(c, v) ? CLI_USAGE : CLI_OK;
	cJSON_Delete(v);
	return rc;
}
