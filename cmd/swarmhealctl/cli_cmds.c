/* SPDX-License-Identifier: MIT */
/* cli_cmds.c - swarmhealctl's verbs: one table entry each (name, synopsis, help with examples, options, run) */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dock_flags.h"
#include "etcd_flags.h"
#include "sh_util.h"

int cli_run_get(cli_ctx *c, int argc, char **argv);
int cli_run_describe(cli_ctx *c, int argc, char **argv);
int cli_run_drain(cli_ctx *c, int argc, char **argv);
int cli_run_uncordon(cli_ctx *c, int argc, char **argv);
int cli_run_wait(cli_ctx *c, int argc, char **argv);
extern const char *const cli_get_subjects[];
extern const char *const cli_describe_subjects[];

#define VO(f) offsetof(cli_verb_opts, f)
static const sh_opt get_opts[] = {
	{"watch", SH_OPT_BOOL, VO(watch), "false", NULL, "-w: print again on every change (an etcd watch, not polling)",
	 NULL, 0, 0, NULL},
	{"selector", SH_OPT_STRING, VO(selector), NULL, "SEL",
	 "-l: only items whose fields match: FIELD=VALUE or FIELD!=VALUE, comma separated", NULL, 0, 0, NULL},
	{"zone", SH_OPT_STRING, VO(zone), NULL, "ZONE", "only nodes of this zone", NULL, 0, 0, NULL},
	{"limit", SH_OPT_COUNT, VO(limit), "10", "N", "actions: the newest N (status and get actions)", NULL, 0, 1,
	 NULL},
	{"fail-on-degraded", SH_OPT_BOOL, VO(fail_on_degraded), "false", NULL,
	 "get status: exit 3 when something needs a person", NULL, 0, 0, NULL},
	{0},
};
static const sh_opt drain_opts[] = {
	{"reason", SH_OPT_STRING, VO(reason), NULL, "TEXT", "why (required; recorded with the request and the drain)",
	 NULL, 0, 0, NULL},
	{"requested-by", SH_OPT_STRING, VO(requested_by), NULL, "WHO", "who asks (default USER@HOSTNAME)", NULL, 0, 0,
	 NULL},
	{0},
};
static const sh_opt wait_opts[] = {
	{"for", SH_OPT_STRING, VO(for_cond), NULL, "COND", "drained or active (required)", NULL, 0, 0, NULL},
	{"timeout", SH_OPT_DURATION, VO(timeout_ms), "60s", NULL, "give up after this long (exit 124)", NULL, 0, 0,
	 NULL},
	{0},
};
static const sh_opt no_opts[] = {{0}};

static int run_completion(cli_ctx *c, int argc, char **argv);
static int run_man(cli_ctx *c, int argc, char **argv);
static const char *const completion_subjects[] = {"bash", NULL};

const cli_cmd cli_cmds[] = {
	{"get", "status|nodes|elections|certs|actions|services [options]",
	 "list what swarmheal records: status, nodes, elections, certs, actions, services",
	 "status: etcd endpoints (reachable, version, leader, DB size, quota use), each controller\n"
	 "(leader, standbys, last action), the arbiter mode and why, the nodes, services being judged\n"
	 "or rolled back, certificates, the last actions, and what needs a person.\n"
	 "nodes: monitoring state (monitored, unmonitored, suspect, dead), heartbeat age, zone, who\n"
	 "drained it, Swarm certificate expiry; Swarm's own state with --docker-host.\n"
	 "Output: -o table (default), wide (more columns, nothing cut), json, yaml, jsonpath=EXPR\n"
	 "(EXPR: {.items[*].name}, {.items[0].zone}, .nodes[*].monitor; text around {} is kept).\n\n"
	 "examples:\n"
	 "  swarmhealctl get status\n"
	 "  swarmhealctl get status --fail-on-degraded -o json   # for a HEALTHCHECK or cron\n"
	 "  swarmhealctl get nodes -o wide --zone a\n"
	 "  swarmhealctl get nodes -l monitor=unmonitored -o jsonpath='{.items[*].name}'\n"
	 "  swarmhealctl get actions --limit 50 -w",
	 get_opts, cli_get_subjects, cli_run_get},
	{"describe", "node|service|cert NAME [options]", "everything known about one node, service or certificate",
	 "node: its heartbeat, monitoring state and why, drain state, request, Swarm's view (with\n"
	 "--docker-host) and the actions that name it. service: its rollback state, snapshots (with\n"
	 "their digests checked) and rollback actions. cert: spec, status and actions.\n\n"
	 "examples:\n"
	 "  swarmhealctl describe node lz12abc\n"
	 "  swarmhealctl describe cert api-tls -o yaml",
	 no_opts, cli_describe_subjects, cli_run_describe},
	{"drain", "NODE --reason TEXT [options]", "ask the drain controller to drain a node (a drain request)",
	 "Writes PREFIX/drain/requests/NODE. The drain controller drains the node only while every\n"
	 "service keeps its swarmheal.min-available label; with --docker-host this says now whether\n"
	 "that gate lets it through (asked of the controller's own decision code). The node stays\n"
	 "drained while the request exists: 'uncordon' withdraws it.\n\n"
	 "examples:\n"
	 "  swarmhealctl drain lz12abc --reason 'kernel update'\n"
	 "  swarmhealctl drain lz12abc --reason 'disk swap' --docker-host unix:///var/run/docker.sock\n"
	 "  swarmhealctl wait node lz12abc --for=drained --timeout 5m",
	 drain_opts, NULL, cli_run_drain},
	{"uncordon", "NODE [options]", "withdraw a node's drain request",
	 "Deletes PREFIX/drain/requests/NODE; the drain controller sets the node active again once\n"
	 "it is healthy. A node a person drained stays drained.\n\n"
	 "examples:\n"
	 "  swarmhealctl uncordon lz12abc && swarmhealctl wait node lz12abc --for=active",
	 no_opts, NULL, cli_run_uncordon},
	{"wait", "node NAME --for=drained|active [--timeout DUR] [options]",
	 "wait until a node is drained or active again (exit 124 on timeout)",
	 "Watches the node's drain state (an etcd watch); with --docker-host Swarm's availability\n"
	 "counts too (read every second). Exits 0 when the condition holds, 124 after --timeout.\n\n"
	 "examples:\n"
	 "  swarmhealctl wait node lz12abc --for=drained --timeout 2m\n"
	 "  swarmhealctl wait node/lz12abc --for=active",
	 wait_opts, NULL, cli_run_wait},
	{"completion", "bash", "print the bash completion script (generated from these tables)",
	 "examples:\n"
	 "  source <(swarmhealctl completion bash)\n"
	 "  swarmhealctl completion bash > /etc/bash_completion.d/swarmhealctl",
	 no_opts, completion_subjects, run_completion},
	{"man", "[VERB]", "print a man page (roff) generated from the option tables",
	 "examples:\n"
	 "  swarmhealctl man | man -l -\n"
	 "  swarmhealctl man get > swarmhealctl-get.1",
	 no_opts, NULL, run_man},
};
const size_t cli_ncmds = sizeof(cli_cmds) / sizeof(cli_cmds[0]);

static void global_groups(sh_opt_group *g)
{
	g[0] = (sh_opt_group){"swarmhealctl", cli_global_table, NULL, 0};
	g[1] = (sh_opt_group){"etcd connection", etcd_flag_table, NULL, 0};
	g[2] = (sh_opt_group){"Docker engine (optional: Swarm's own view of the nodes)", dock_flag_table, NULL, 0};
}

static int run_completion(cli_ctx *c, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "bash"))
		return sh_usage_error(c->uprog, "only 'bash' is supported");
	sh_opt_group g[3];
	global_groups(g);
	cli_completion_bash(c->out, g, 3);
	return CLI_OK;
}

static int run_man(cli_ctx *c, int argc, char **argv)
{
	const cli_cmd *cmd = NULL;
	if (argc > 1)
		return sh_usage_error(c->uprog, "unexpected argument '%s'", argv[1]);
	if (argc == 1) {
		for (size_t i = 0; i < cli_ncmds && !cmd; i++)
			if (!strcmp(cli_cmds[i].name, argv[0]))
				cmd = &cli_cmds[i];
		if (!cmd)
			return sh_usage_error(c->uprog, "unknown verb '%s'", argv[0]);
	}
	sh_opt_group g[3];
	global_groups(g);
	cli_man_page(c->out, cmd, g, 3);
	return CLI_OK;
}
