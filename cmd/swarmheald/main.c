/* SPDX-License-Identifier: MIT */
/* swarmheald - runs the chosen controllers; per controller only the elected replica acts */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arbiter_ctl.h"
#include "certs_ctl.h"
#include "ctl.h"
#include "dock_flags.h"
#include "drain_ctl.h"
#include "etcd_flags.h"
#include "rollback_ctl.h"
#include "sh_util.h"

enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_ETCD = 69, EXIT_SOFTWARE = 70 };

/* The controller table: adding a controller is its folder, one line here, and its tests. */
static const ctl_def *const controllers[] = {
	&drain_def,
	&rollback_def,
	&arbiter_def,
	&certs_def,
};
#define NCTL (sizeof(controllers) / sizeof(*controllers))

static int check_ttl(const void *v, char *err, size_t len)
{
	int64_t ms = *(const int64_t *)v;
	if (ms % 1000 || ms < 2000) {
		snprintf(err, len, "invalid --ttl %lldms (whole seconds, at least 2s)", (long long)ms);
		return -1;
	}
	return 0;
}

#define CO(f) offsetof(ctl_common, f)
static const sh_opt common_opts[] = {
	{"controllers", SH_OPT_LIST, CO(controllers), "drain", "LIST", "controllers to run, comma separated (each has a section below)",
	 "SWARMHEAL_CONTROLLERS", 0, 0, NULL},
	{"dry-run", SH_OPT_BOOL, CO(dry_run), "false", NULL, "decide and record \"would-...\" actions, change nothing",
	 "SWARMHEAL_DRY_RUN", SH_OPT_RELOAD, 0, NULL},
	{"metrics-addr", SH_OPT_STRING, CO(metrics_addr), "127.0.0.1:9473", "ADDR",
	 "serve /metrics, /healthz, /readyz on HOST:PORT ('' off)", "SWARMHEAL_METRICS_ADDR", 0, 0, NULL},
	{"ttl", SH_OPT_DURATION, CO(ttl_ms), "5s", NULL, "leadership lease TTL, whole seconds >= 2", "SWARMHEAL_TTL", 0,
	 2000, check_ttl},
	{"resync", SH_OPT_DURATION, CO(resync_ms), "1s", NULL, "full re-read period", "SWARMHEAL_RESYNC", SH_OPT_RELOAD,
	 100, NULL},
	{"actions-retention", SH_OPT_DURATION, CO(actions_retention_ms), "168h", NULL,
	 "delete action records older than this", "SWARMHEAL_ACTIONS_RETENTION", SH_OPT_RELOAD, 60000, NULL},
	{"actions-max", SH_OPT_COUNT, CO(actions_max), "10000", NULL, "keep at most this many action records per controller",
	 "SWARMHEAL_ACTIONS_MAX", SH_OPT_RELOAD, 1, NULL},
	{"prefix", SH_OPT_STRING, CO(prefix), "/swarmheal", "PREFIX", "etcd key prefix", "SWARMHEAL_PREFIX", 0, 0, NULL},
	{0},
};

static volatile sig_atomic_t got_stop, got_hup;
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = sig;
}

int main(int argc, char **argv)
{
	static ctl_common common;
	static etcd_flag_values ev;
	static dock_config dcfg;
	void *cfgs[NCTL];
	sh_opt_group groups[3 + NCTL];
	char titles[NCTL][200];
	groups[0] = (sh_opt_group){"swarmheald", common_opts, &common, sizeof(common)};
	groups[1] = (sh_opt_group){"etcd connection", etcd_flag_table, &ev, sizeof(ev)};
	groups[2] = (sh_opt_group){"Docker engine", dock_flag_table, &dcfg, sizeof(dcfg)};
	for (size_t i = 0; i < NCTL; i++) {
		cfgs[i] = calloc(1, controllers[i]->cfg_size ? controllers[i]->cfg_size : 1);
		if (!cfgs[i])
			return EXIT_SOFTWARE;
		snprintf(titles[i], sizeof(titles[i]), "%s controller: %s", controllers[i]->name, controllers[i]->summary);
		groups[3 + i] = (sh_opt_group){titles[i], controllers[i]->opts, cfgs[i], controllers[i]->cfg_size};
	}
	sh_opts o = {
		.prog = "swarmheald",
		.synopsis = "[options]",
		.description = "Run the chosen controllers. For each, only the replica elected under\n"
			       "PREFIX/elections/controller.NAME/ acts; the others stand by and take over.\n"
			       "--docker-host must name a Swarm manager's engine.",
		.footer = "exit: 0 stopped by SIGTERM/SIGINT (resigned), 64 usage, 69 etcd unreachable or refused at\n"
			  "      start, 70 internal error\n",
		.groups = groups,
		.ngroups = 3 + NCTL,
	};
	int argi, rc = sh_opts_parse(&o, argc, argv, &argi), code = EXIT_OK;
	const ctl_def *chosen[NCTL];
	void *chosen_cfg[NCTL];
	size_t nchosen = 0;
	etcd_config ecfg;
	char err[512];
	void *msrv = NULL;
	ctl_rt *rt = NULL;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	if (rc) {
		code = rc == SH_OPTS_EXIT ? EXIT_OK : EXIT_USAGE;
		goto out;
	}
	if (argi < argc) {
		code = sh_usage_error("swarmheald", "unexpected argument '%s'", argv[argi]);
		goto out;
	}
	/* --controllers: names from the table, each once */
	char list[256];
	snprintf(list, sizeof(list), "%s", common.controllers);
	char *save = NULL;
	for (char *nm = strtok_r(list, ",", &save); nm; nm = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < NCTL && strcmp(controllers[i]->name, nm); i++)
			;
		if (i == NCTL) {
			char built[200] = "";
			for (size_t b = 0; b < NCTL; b++)
				snprintf(built + strlen(built), sizeof(built) - strlen(built), "%s%s", b ? ", " : "",
					 controllers[b]->name);
			code = sh_usage_error("swarmheald", "unknown controller '%s' in --controllers (built: %s)", nm, built);
			goto out;
		}
		for (size_t k = 0; k < nchosen; k++)
			if (chosen[k] == controllers[i]) {
				code = sh_usage_error("swarmheald", "controller '%s' named twice in --controllers", nm);
				goto out;
			}
		chosen_cfg[nchosen] = cfgs[i];
		chosen[nchosen++] = controllers[i];
	}
	if (etcd_flag_config(&ev, &ecfg, err, sizeof(err))) {
		code = sh_usage_error("swarmheald", "%s", err);
		goto out;
	}
	/* etcd must answer at start: a wrong endpoint or credentials is the user's to fix now */
	etcd_client *probe;
	etcd_status est;
	if (etcd_client_new(&ecfg, &probe, err, sizeof(err))) {
		code = sh_usage_error("swarmheald", "%s", err);
		goto out;
	}
	if (etcd_status_get(probe, &est)) {
		fprintf(stderr, "swarmheald: %s\n", etcd_errmsg(probe));
		etcd_client_free(probe);
		code = EXIT_ETCD;
		goto out;
	}
	etcd_client_free(probe);
	msrv = ctl_metrics_start(common.metrics_addr, err, sizeof(err));
	if (!msrv && err[0]) {
		code = sh_usage_error("swarmheald", "%s", err);
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ctl_start(chosen, chosen_cfg, nchosen, &common, &lock, &ecfg, &dcfg, &rt, err, sizeof(err))) {
		fprintf(stderr, "swarmheald: %s\n", err);
		code = EXIT_SOFTWARE;
		goto out;
	}
	ctl_metrics_set_ready(1);
	while (!got_stop) {
		sh_sleep_ms(200, &got_stop);
		if (got_hup) {
			got_hup = 0;
			if (!o.config_path) {
				sh_log("warn", NULL, "SIGHUP without --config: nothing to reload");
				continue;
			}
			pthread_mutex_lock(&lock);
			rc = sh_opts_reload(&o, err, sizeof(err));
			pthread_mutex_unlock(&lock);
			if (rc) {
				sh_log("error", NULL, "config not applied | file=%s error=\"%s\"", o.config_path, err);
				continue;
			}
			ctl_reload(rt);
			sh_log("info", NULL, "configuration reloaded | file=%s%s%s%s", o.config_path, err[0] ? " note=\"" : "",
			       err[0] ? err : "", err[0] ? "\"" : "");
		}
	}
	sh_log("info", NULL, "stopping | signal=%d", (int)got_stop);
	ctl_stop(rt);
out:
	ctl_metrics_stop(msrv);
	for (size_t i = 0; i < NCTL; i++)
		free(cfgs[i]);
	sh_opts_release(&o);
	return code;
}
