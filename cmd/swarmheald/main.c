/* SPDX-License-Identifier: MIT */
/* swarmheald - runs the chosen controllers; per controller only the elected replica acts */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "drain_ctl.h"
#include "dock_flags.h"
#include "etcd_flags.h"
#include "sh_util.h"

enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_ETCD = 69, EXIT_SOFTWARE = 70 };

static const char usage_text[] =
	"usage: swarmheald [options]\n"
	"\n"
	"Run the chosen controllers. For each, only the replica elected under\n"
	"PREFIX/elections/controller.NAME/ acts; the others stand by and take over.\n"
	"--docker-host must name a Swarm manager's engine.\n"
	"\n"
	"  --controllers LIST     comma list; built so far: drain (default drain)\n"
	"  --dry-run              decide and record \"would-...\" actions, change nothing\n"
	"  --metrics-addr ADDR    serve /metrics, /healthz, /readyz (default 127.0.0.1:9473; '' off)\n"
	"  --ttl DUR              leadership lease TTL, whole seconds >= 2 (default 5s)\n"
	"  --resync DUR           full re-read period (default 1s)\n"
	"  --drain-grace DUR      how long a node must look dead before it is drained (default 0s)\n"
	"  --restore-after DUR    healthy time before a drained node goes back to active (default 30s)\n"
	"  --max-drained N        nodes drained by swarmheal at once (default a third, at least 1)\n"
	"  --config FILE          name=value lines (dry-run, resync, drain-grace, restore-after,\n"
	"                         max-drained) read at start and again on SIGHUP\n"
	"  --prefix PREFIX        key prefix (default /swarmheal)\n"
	DOCK_FLAGS_HELP ETCD_FLAGS_HELP
	"  --help, --version\n"
	"\n"
	"exit: 0 stopped by SIGTERM/SIGINT (resigned), 64 usage, 69 etcd unreachable or refused at start,\n"
	"      70 internal error\n";

enum {
	O_CONTROLLERS = 1, O_DRY, O_METRICS, O_TTL, O_RESYNC, O_GRACE, O_RESTORE, O_MAXD, O_PREFIX,
	O_HELP, O_VERSION, O_CONFIG
};
static const struct option options[] = {
	{"controllers", required_argument, 0, O_CONTROLLERS},
	{"dry-run", no_argument, 0, O_DRY},
	{"metrics-addr", required_argument, 0, O_METRICS},
	{"ttl", required_argument, 0, O_TTL},
	{"resync", required_argument, 0, O_RESYNC},
	{"drain-grace", required_argument, 0, O_GRACE},
	{"restore-after", required_argument, 0, O_RESTORE},
	{"max-drained", required_argument, 0, O_MAXD},
	{"prefix", required_argument, 0, O_PREFIX},
	{"config", required_argument, 0, O_CONFIG},
	{"help", no_argument, 0, O_HELP},
	{"version", no_argument, 0, O_VERSION},
	ETCD_FLAG_OPTIONS,
	DOCK_FLAG_OPTIONS,
	{0, 0, 0, 0},
};

static volatile sig_atomic_t stop, reload;
static void on_signal(int sig)
{
	stop = sig;
}
static void on_hup(int sig)
{
	(void)sig;
	reload = 1;
}

/*
 * --config FILE: one "name=value" per line with the long flag names the
 * controller can change while running (dry-run, resync, drain-grace,
 * restore-after, max-drained); '#' starts a comment. Read at start and on
 * SIGHUP; a bad file changes nothing and says which line is wrong.
 */
static int load_config(const char *path, drain_ctl *d, int64_t *resync_ms)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		ctl_log("error", "drain", "cannot read config | file=%s", path);
		return -1;
	}
	drain_policy pol = d->pol;
	int dry = d->x.dry_run;
	int64_t resync = *resync_ms;
	char line[512];
	int lineno = 0, bad = 0;
	while (!bad && fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = '\0';
		if (!*p)
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			bad = lineno;
			break;
		}
		*eq = '\0';
		char *name = p, *val = eq + 1;
		name[strcspn(name, " \t")] = '\0';
		val += strspn(val, " \t");
		val[strcspn(val, " \t")] = '\0';
		int64_t ms;
		char *end;
		if (!strcmp(name, "dry-run"))
			dry = !strcmp(val, "true") || !strcmp(val, "1");
		else if (!strcmp(name, "resync") && !sh_parse_duration_ms(val, &ms) && ms >= 100)
			resync = ms;
		else if (!strcmp(name, "drain-grace") && !sh_parse_duration_ms(val, &ms))
			pol.grace_ns = ms * SH_NS_PER_MS;
		else if (!strcmp(name, "restore-after") && !sh_parse_duration_ms(val, &ms))
			pol.restore_after_ns = ms * SH_NS_PER_MS;
		else if (!strcmp(name, "max-drained") && (pol.max_drained = (int)strtol(val, &end, 10)) >= 1 && !*end)
			;
		else
			bad = lineno;
	}
	fclose(f);
	if (bad) {
		ctl_log("error", "drain", "config not applied: bad line | file=%s line=%d", path, bad);
		return -1;
	}
	d->pol = pol;
	d->x.dry_run = dry;
	*resync_ms = resync;
	return 0;
}

#define usage_error(...) sh_usage_error("swarmheald", __VA_ARGS__)

int main(int argc, char **argv)
{
	const char *controllers = "drain", *metrics_addr = "127.0.0.1:9473", *prefix = "/swarmheal";
	int64_t ttl_ms = 5000, resync_ms = 1000, grace_ms = 0, restore_ms = 30000;
	long max_drained = 0;
	int dry_run = 0;
	const char *config_file = NULL;
	dock_config dcfg = {0};
	etcd_flags ef;
	etcd_flags_init(&ef);
	char err[512];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		char *end;
		switch (c) {
		case O_CONTROLLERS:
			controllers = optarg;
			break;
		case O_DRY:
			dry_run = 1;
			break;
		case O_METRICS:
			metrics_addr = optarg;
			break;
		case O_TTL:
			if (sh_parse_duration_ms(optarg, &ttl_ms) || ttl_ms % 1000 || ttl_ms < 2000)
				return usage_error("invalid --ttl '%s' (whole seconds, at least 2s)", optarg);
			break;
		case O_RESYNC:
			if (sh_parse_duration_ms(optarg, &resync_ms) || resync_ms < 100)
				return usage_error("invalid --resync '%s' (at least 100ms)", optarg);
			break;
		case O_GRACE:
			if (sh_parse_duration_ms(optarg, &grace_ms))
				return usage_error("invalid --drain-grace '%s'", optarg);
			break;
		case O_RESTORE:
			if (sh_parse_duration_ms(optarg, &restore_ms))
				return usage_error("invalid --restore-after '%s'", optarg);
			break;
		case O_MAXD:
			max_drained = strtol(optarg, &end, 10);
			if (*end || max_drained < 1)
				return usage_error("invalid --max-drained '%s' (a count, at least 1)", optarg);
			break;
		case O_PREFIX:
			prefix = optarg;
			break;
		case O_CONFIG:
			config_file = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			etcd_flags_release(&ef);
			return EXIT_OK;
		case O_VERSION:
			printf("swarmheald %s\n", SWARMHEAL_VERSION);
			etcd_flags_release(&ef);
			return EXIT_OK;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		case '?':
			return usage_error("unknown option '%s'", argv[optind - 1]);
		default:
			if (!dock_flags_set(&dcfg, c, optarg) && etcd_flags_set(&ef, c, optarg, err, sizeof(err)))
				return usage_error("%s", err);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (strcmp(controllers, "drain"))
		return usage_error("unsupported --controllers '%s' (built so far: drain)", controllers);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct sigaction sh = {.sa_handler = on_hup};
	sigaction(SIGHUP, &sh, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!ef.cfg.timeout_ms || ef.cfg.timeout_ms > ttl_ms / 3)
		ef.cfg.timeout_ms = (long)(ttl_ms / 3);
	etcd_client *etcd;
	if (etcd_client_new(&ef.cfg, &etcd, err, sizeof(err))) {
		fprintf(stderr, "swarmheald: %s\n", err);
		return EXIT_USAGE;
	}
	dock_client *dock;
	if (dock_client_new(&dcfg, &dock, err, sizeof(err))) {
		fprintf(stderr, "swarmheald: %s\n", err);
		etcd_client_free(etcd);
		return EXIT_USAGE;
	}
	static ctl_metrics metrics;
	err[0] = '\0';
	void *msrv = ctl_metrics_start(metrics_addr, &metrics, err, sizeof(err));
	if (!msrv && err[0]) {
		fprintf(stderr, "swarmheald: %s\n", err);
		dock_client_free(dock);
		etcd_client_free(etcd);
		return EXIT_USAGE;
	}
	drain_ctl d = {
		.x = {.name = "drain", .prefix = prefix, .etcd = etcd, .dock = dock, .dry_run = dry_run, .m = &metrics},
		.pol = {.grace_ns = grace_ms * SH_NS_PER_MS, .restore_after_ns = restore_ms * SH_NS_PER_MS,
			.max_drained = (int)max_drained},
	};
	if (config_file && load_config(config_file, &d, &resync_ms)) {
		fprintf(stderr, "swarmheald: invalid --config '%s' (see the log line above)\n", config_file);
		ctl_metrics_stop(msrv);
		dock_client_free(dock);
		etcd_client_free(etcd);
		etcd_flags_release(&ef);
		return EXIT_USAGE;
	}
	char eprefix[300];
	snprintf(eprefix, sizeof(eprefix), "%s/elections/", prefix);
	int rc = EXIT_OK, first = 1;
	while (!stop) {
		etcd_session *s;
		sh_err e = etcd_session_new(etcd, ttl_ms / 1000, &s);
		if (e) {
			if (first) {
				fprintf(stderr, "swarmheald: %s\n", etcd_errmsg(etcd));
				rc = EXIT_ETCD;
				break;
			}
			ctl_log("error", "drain", "cannot open a session | error=\"%s\"", etcd_errmsg(etcd));
			sh_sleep_ms(1000, &stop);
			continue;
		}
		first = 0;
		atomic_store(&metrics.ready, 1);
		etcd_election el;
		if (etcd_election_init(&el, etcd, s, eprefix, "controller.drain")) {
			etcd_session_close(s, 1);
			rc = EXIT_SOFTWARE;
			break;
		}
		ctl_log("info", "drain", "campaigning | key=%s", el.key);
		e = etcd_election_campaign(&el, "swarmheald", 0, &stop);
		if (e == SH_OK) {
			ctl_log("info", "drain", "leading | key=%s fence=%lld dry_run=%d", el.key, (long long)el.rev, dry_run);
			atomic_store(&metrics.leader, 1);
			d.x.el = &el;
			char wpre[300];
			snprintf(wpre, sizeof(wpre), "%s/", prefix);
			etcd_watch *w = NULL;
			etcd_watch_opts wo = {.prefix = 1};
			etcd_watch_open(etcd, wpre, &wo, &w);
			/* Swarm's own node events (manager only) also trigger a pass */
			dock_events *dev = NULL;
			if (dock_events_open(dock, "{\"type\":[\"node\"]}", 0, &dev))
				ctl_log("warn", "drain", "no engine event stream, resync only | error=\"%s\"", dock_errmsg(dock));
			int64_t last = 0;
			int dirty = 1;
			while (!stop) {
				/* stop acting before the lease can end: a margin of a fifth of the TTL */
				if (etcd_session_deadline(s) - sh_mono_ns() < ttl_ms * SH_NS_PER_MS / 5 ||
				    !etcd_session_alive(s)) {
					ctl_log("warn", "drain", "leadership lease about to end: stopped acting | key=%s", el.key);
					break;
				}
				if (dirty || sh_mono_ns() - last >= resync_ms * SH_NS_PER_MS) {
					e = drain_reconcile(&d);
					last = sh_mono_ns();
					dirty = 0;
					if (e == SH_E_NOT_LEADER) {
						ctl_log("warn", "drain", "no longer leader: stopped acting | key=%s", el.key);
						break;
					}
				}
				if (reload) {
					reload = 0;
					if (config_file && load_config(config_file, &d, &resync_ms) == 0)
						ctl_log("info", "drain", "configuration reloaded | file=%s", config_file);
					dirty = 1;
				}
				dock_event dv;
				while (dev && dock_events_next(dev, &dv, 0) == SH_OK) {
					dirty = 1;
					dock_event_free(&dv);
				}
				etcd_watch_batch b;
				sh_err we = w ? etcd_watch_next(w, &b, 100) : SH_E_TIMEOUT;
				if (!w)
					sh_sleep_ms(100, &stop);
				if (we == SH_OK) {
					for (size_t i = 0; i < b.n; i++)
						if (strstr(b.events[i].kv.key, "/nodes/") || strstr(b.events[i].kv.key, "/drain/") ||
						    strstr(b.events[i].kv.key, "/arbiter/"))
							dirty = 1;
					etcd_watch_batch_free(&b);
				} else if (we == SH_E_COMPACTED) {
					etcd_watch_close(w);
					w = NULL;
					etcd_watch_open(etcd, wpre, &wo, &w);
					dirty = 1;
				}
			}
			etcd_watch_close(w);
			dock_events_close(dev);
			d.x.el = NULL;
			atomic_store(&metrics.leader, 0);
		} else if (e != SH_E_CANCELED) {
			ctl_log("error", "drain", "campaign failed | error=\"%s\"", el.errbuf);
			sh_sleep_ms(1000, &stop);
		}
		etcd_session_revoke_start(s);
		etcd_election_resign(&el);
		etcd_session_close(s, 0);
		etcd_election_release(&el);
	}
	ctl_log("info", "drain", "stopped | signal=%d", (int)stop);
	ctl_metrics_stop(msrv);
	drain_ctl_release(&d);
	dock_client_free(dock);
	etcd_client_free(etcd);
	etcd_flags_release(&ef);
	return rc;
}
