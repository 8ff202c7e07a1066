/* SPDX-License-Identifier: MIT */
/* cli_main.c - swarmhealctl's entry: kubectl-style argv (verb anywhere, -o/-w/-l/-h) onto sh_opt tables, dispatch */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dock_flags.h"
#include "etcd_flags.h"
#include "sh_util.h"

static int check_output(const void *v, char *err, size_t len)
{
	enum cli_fmt f;
	const char *jp;
	const char *s = *(const char *const *)v;
	if (s && cli_parse_output(s, &f, &jp) == 0)
		return 0;
	snprintf(err, len, "unknown output format '%s' (want table, wide, json, yaml or jsonpath=EXPR)", s ? s : "");
	return -1;
}

static int check_color(const void *v, char *err, size_t len)
{
	const char *s = *(const char *const *)v;
	if (s && (!strcmp(s, "auto") || !strcmp(s, "always") || !strcmp(s, "never")))
		return 0;
	snprintf(err, len, "invalid --color '%s' (want auto, always or never)", s ? s : "");
	return -1;
}

#define GO(f) offsetof(cli_global, f)
const sh_opt cli_global_table[] = {
	{"output", SH_OPT_STRING, GO(output), "table", "FORMAT", "-o: table, wide, json, yaml or jsonpath=EXPR",
	 "SWARMHEALCTL_OUTPUT", 0, 0, NULL},
	{"prefix", SH_OPT_STRING, GO(prefix), "/swarmheal", "PREFIX", "etcd key prefix", "SWARMHEAL_PREFIX", 0, 0,
	 NULL},
	{"controllers", SH_OPT_LIST, GO(controllers), "drain", "LIST",
	 "controllers expected to have a leader (as swarmheald's --controllers)", "SWARMHEAL_CONTROLLERS", 0, 0, NULL},
	{"etcd-quota", SH_OPT_COUNT, GO(etcd_quota), "2147483648", "BYTES",
	 "etcd's --quota-backend-bytes, for QUOTA USE (etcd does not report it)", "SWARMHEALCTL_ETCD_QUOTA", 0, 1,
	 NULL},
	{"color", SH_OPT_STRING, GO(color), "auto", "WHEN",
	 "colour: auto (on a terminal, unless NO_COLOR), always, never", "SWARMHEALCTL_COLOR", 0, 0, NULL},
	{0},
};

static cli_global g_vals;
static etcd_flag_values g_ev;
static cli_verb_opts g_verb;

/* Every table whose options may appear on the command line, to know which take a value. */
static const sh_opt *takes_value(const char *name, size_t len)
{
	const sh_opt *tables[3 + 16] = {cli_global_table, etcd_flag_table, dock_flag_table};
	size_t nt = 3;
	for (size_t i = 0; i < cli_ncmds && nt < sizeof(tables) / sizeof(tables[0]); i++)
		if (cli_cmds[i].opts)
			tables[nt++] = cli_cmds[i].opts;
	for (size_t t = 0; t < nt; t++)
		for (const sh_opt *o = tables[t]; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, name, len))
				return o->type == SH_OPT_BOOL ? NULL : o;
	if (len == 6 && !strncmp(name, "config", 6))
		return cli_global_table; /* any non-NULL */
	return NULL;
}

/*
 * kubectl-style command lines onto getopt's: options may come before or after
 * the verb and its operands; -o X, -oX, -w, -l X and -h are the short forms of
 * --output, --watch, --selector and --help. Builds argv' = prog, options...,
 * "--", operands... (malloc'd array of borrowed or malloc'd strings in *owned).
 */
static int normalize(int argc, char **argv, char ***out, int *outc, char **owned, size_t *nowned)
{
	char **opt = calloc((size_t)argc * 2 + 2, sizeof(char *)), **ops = calloc((size_t)argc + 1, sizeof(char *));
	size_t no = 0, nops = 0;
	if (!opt || !ops) {
		free(opt);
		free(ops);
		return -1;
	}
	opt[no++] = argv[0];
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (++i < argc)
				ops[nops++] = argv[i];
			break;
		}
		if (!strncmp(a, "--", 2)) {
			opt[no++] = a;
			if (!strchr(a, '=') && takes_value(a + 2, strlen(a + 2)) && i + 1 < argc)
				opt[no++] = argv[++i];
			continue;
		}
		if (a[0] == '-' && a[1]) {
			const char *longname = a[1] == 'o' ? "output" : a[1] == 'l' ? "selector" : a[1] == 'w' ? "watch"
					       : a[1] == 'h' ? "help" : NULL;
			if (!longname)
				return sh_usage_error("swarmhealctl", "unknown option '%s'", a), free(opt), free(ops),
				       1;
			int needs = a[1] == 'o' || a[1] == 'l';
			if (needs && !a[2] && i + 1 >= argc)
				return sh_usage_error("swarmhealctl", "option '%s' needs a value", a), free(opt),
				       free(ops), 1;
			if (!needs && a[2])
				return sh_usage_error("swarmhealctl", "unknown option '%s'", a), free(opt), free(ops),
				       1;
			char *s = NULL;
			if (needs && asprintf(&s, "--%s=%s", longname, a[2] ? a + 2 : argv[++i]) < 0)
				s = NULL;
			if (!needs && asprintf(&s, "--%s", longname) < 0)
				s = NULL;
			if (!s)
				return free(opt), free(ops), -1;
			owned[(*nowned)++] = s;
			opt[no++] = s;
			continue;
		}
		ops[nops++] = a;
	}
	opt[no++] = "--";
	for (size_t k = 0; k < nops; k++)
		opt[no++] = ops[k];
	opt[no] = NULL;
	free(ops);
	*out = opt;
	*outc = (int)no;
	return 0;
}

static void verbs_text(char *buf, size_t len)
{
	size_t o =
		(size_t)snprintf(buf, len,
				 "Show whether the swarm heals itself, from what swarmheal records in etcd; ask it to\n"
				 "drain a node and give it back.\n\nverbs:\n");
	for (size_t i = 0; i < cli_ncmds && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "  %-11s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	if (o < len)
		snprintf(buf + o, len - o, "\n'swarmhealctl VERB --help' shows a verb's options and examples.");
}

static const char exit_text[] =
	"exit: 0 answered, 1 not found or refused, 3 get status --fail-on-degraded: something needs a\n"
	"      person, 64 usage, 69 etcd unreachable or refused, 70 internal error, 124 wait timed out\n";

int cli_main(int argc, char **argv)
{
	static dock_config dcfg;
	char **av = NULL, *owned[256];
	size_t nowned = 0;
	int ac, rc;
	/* one malloc arena: the parallel reads (cli_fetch) would otherwise each touch an arena of their own,
	 * 2+ MiB of peak RSS for nothing (measured: 18.1 MiB -> 15.8 MiB for get status on bench_ctl's etcd) */
	mallopt(M_ARENA_MAX, 1);
	if (argc > 120)
		return sh_usage_error("swarmhealctl", "too many arguments");
	if ((rc = normalize(argc, argv, &av, &ac, owned, &nowned)))
		return rc < 0 ? CLI_SOFTWARE : CLI_USAGE;
	/* the verb: the first operand */
	int dd = 1;
	while (strcmp(av[dd], "--"))
		dd++;
	const cli_cmd *cmd = NULL;
	if (dd + 1 < ac) {
		for (size_t i = 0; i < cli_ncmds && !cmd; i++)
			if (!strcmp(cli_cmds[i].name, av[dd + 1]))
				cmd = &cli_cmds[i];
		if (!cmd) {
			rc = sh_usage_error("swarmhealctl", "unknown verb '%s'", av[dd + 1]);
			goto out;
		}
	}
	char verbs[2048], prog[64], desc[4096];
	verbs_text(verbs, sizeof(verbs));
	sh_opt_group groups[4] = {
		{"swarmhealctl", cli_global_table, &g_vals, sizeof(g_vals)},
		{"etcd connection", etcd_flag_table, &g_ev, sizeof(g_ev)},
		{"Docker engine (optional: Swarm's own view of the nodes)", dock_flag_table, &dcfg, sizeof(dcfg)},
		{NULL, NULL, &g_verb, sizeof(g_verb)},
	};
	size_t ng = 3;
	if (cmd && cmd->opts && cmd->opts[0].name) {
		groups[3].title = cmd->name;
		groups[3].opts = cmd->opts;
		ng = 4;
	}
	if (cmd) {
		snprintf(prog, sizeof(prog), "swarmhealctl %s", cmd->name);
		snprintf(desc, sizeof(desc), "%s\n\n%s", cmd->summary, cmd->description);
	}
	sh_opts o = {
		.prog = cmd ? prog : "swarmhealctl",
		.synopsis = cmd ? cmd->synopsis : "VERB [ARGS] [options]",
		.description = cmd ? desc : verbs,
		.footer = exit_text,
		.groups = groups,
		.ngroups = ng,
	};
	int argi;
	rc = sh_opts_parse(&o, ac, av, &argi);
	if (rc) {
		rc = rc == SH_OPTS_EXIT ? CLI_OK : CLI_USAGE;
		goto release;
	}
	if (!cmd) {
		rc = sh_usage_error("swarmhealctl", "no verb given (get, describe, drain, uncordon, wait, ...)");
		goto release;
	}
	/* checked here, not in the table, so --print-config shows any value it was given */
	char err[512];
	if (check_output(&g_vals.output, err, sizeof(err)) || check_color(&g_vals.color, err, sizeof(err))) {
		rc = sh_usage_error("swarmhealctl", "%s", err);
		goto release;
	}
	cli_ctx c = {.prog = "swarmhealctl", .uprog = prog, .g = g_vals, .v = g_verb, .out = stdout, .dcfg = dcfg};
	cli_parse_output(c.g.output, &c.fmt, &c.jsonpath);
	c.color = !strcmp(c.g.color, "always") ||
		  (!strcmp(c.g.color, "auto") && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && c.fmt <= CLI_WIDE);
	c.docker = o.src[2][0] != 0; /* --docker-host or DOCKER_HOST given: Swarm's view too */
	if (etcd_flag_config(&g_ev, &c.ecfg, err, sizeof(err))) {
		rc = sh_usage_error("swarmhealctl", "%s", err);
		goto release;
	}
	if (etcd_client_new(&c.ecfg, &c.etcd, err, sizeof(err))) {
		rc = sh_usage_error("swarmhealctl", "%s", err);
		goto release;
	}
	rc = cmd->run(&c, ac - argi - 1, av + argi + 1);
	etcd_client_free(c.etcd);
	if (c.dock)
		dock_client_free(c.dock);
release:
	sh_opts_release(&o);
out:
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(av);
	return rc;
}
