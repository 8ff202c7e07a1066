/* SPDX-License-Identifier: MIT */
/* swarmheal-agent - keeps this node's heartbeat key alive in etcd, with the facts the drain controller reads */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ctl.h"
#include "dock_flags.h"
#include "etcd_flags.h"
#include "sh_util.h"

enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_ETCD = 69, EXIT_ENGINE = 74 };

static const char usage_text[] =
	"usage: swarmheal-agent [options]\n"
	"\n"
	"Keep PREFIX/nodes/NODEID alive in etcd on a lease of --ttl, with hostname, zone, address\n"
	"and the engine's state (GET /_ping every --interval). The node ID comes from the engine.\n"
	"\n"
	"  --ttl DUR              heartbeat lease TTL, whole seconds >= 2 (default 3s)\n"
	"  --interval DUR         engine ping period (default 1s)\n"
	"  --zone NAME            zone of this node (default: the node label 'zone', when readable)\n"
	"  --autoheal             restart standalone containers labelled autoheal=true that turn\n"
	"                         unhealthy (after their health start period)\n"
	"  --autoheal-stop-timeout DUR  stop timeout of such a restart (default 10s)\n"
	"  --prefix PREFIX        key prefix (default /swarmheal)\n"
	DOCK_FLAGS_HELP ETCD_FLAGS_HELP
	"  --help, --version\n"
	"\n"
	"exit: 0 stopped by SIGINT/SIGTERM, 64 usage, 69 etcd unreachable or refused at start,\n"
	"      74 the engine never told its node ID\n";

enum { O_TTL = 1, O_INTERVAL, O_ZONE, O_PREFIX, O_HELP, O_VERSION, O_AUTOHEAL, O_AH_STOP };
static const struct option options[] = {
	{"ttl", required_argument, 0, O_TTL},
	{"interval", required_argument, 0, O_INTERVAL},
	{"zone", required_argument, 0, O_ZONE},
	{"autoheal", no_argument, 0, O_AUTOHEAL},
	{"autoheal-stop-timeout", required_argument, 0, O_AH_STOP},
	{"prefix", required_argument, 0, O_PREFIX},
	{"help", no_argument, 0, O_HELP},
	{"version", no_argument, 0, O_VERSION},
	ETCD_FLAG_OPTIONS,
	DOCK_FLAG_OPTIONS,
	{0, 0, 0, 0},
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	stop = sig;
}

#define usage_error(...) sh_usage_error("swarmheal-agent", __VA_ARGS__)

/* not_after of the node's Swarm certificate under the engine's root dir; 0 when unreadable */
static int64_t swarm_cert_expiry(const dock_info *info)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/swarm/certificates/swarm-node.crt", info->docker_root_dir);
	FILE *f = info->docker_root_dir[0] ? fopen(path, "r") : NULL;
	if (!f)
		return 0;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return 0;
	struct tm tm;
	int64_t t = 0;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		t = (int64_t)timegm(&tm) * SH_NS_PER_S;
	X509_free(x);
	return t;
}

/* restart containers labelled autoheal=true that are unhealthy past their start period; record each */
static void autoheal(dock_client *dock, etcd_client *etcd, const char *prefix, const dock_info *info, int stop_timeout_s)
{
	dock_container_list l;
	if (dock_containers_list(dock, "{\"label\":[\"autoheal=true\"],\"health\":[\"unhealthy\"]}", 0, &l))
		return;
	for (size_t i = 0; i < l.n; i++) {
		dock_container ct;
		if (dock_container_inspect(dock, l.v[i].id, &ct))
			continue;
		int64_t now = sh_real_ns();
		int due = !strcmp(ct.health, "unhealthy") && now - ct.started_at_ns >= ct.health_start_period_ns;
		char reason[300];
		snprintf(reason, sizeof(reason), "container %s is unhealthy (failing streak %d)", ct.name, ct.failing_streak);
		dock_container_free(&ct);
		if (!due)
			continue;
		sh_err e = dock_container_restart(dock, l.v[i].id, stop_timeout_s);
		char ts[40], key[600];
		sh_rfc3339(now, ts, sizeof(ts));
		snprintf(key, sizeof(key), "%s/actions/%019lld-agent-restart-%.12s", prefix, (long long)now, l.v[i].id);
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "ts", ts);
		cJSON_AddStringToObject(j, "controller", "agent");
		cJSON_AddStringToObject(j, "kind", "restart");
		cJSON_AddStringToObject(j, "target", l.v[i].id);
		cJSON_AddStringToObject(j, "node", info->node_id);
		cJSON_AddStringToObject(j, "reason", reason);
		cJSON_AddStringToObject(j, "result", e ? dock_errmsg(dock) : "ok");
		char *v = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (v && etcd_put(etcd, key, v, strlen(v), NULL, NULL, NULL))
			ctl_log("error", "agent", "cannot record autoheal restart | error=\"%s\"", etcd_errmsg(etcd));
		free(v);
		ctl_log(e ? "error" : "info", "agent", "autoheal restart: %s | container=%.12s result=\"%s\"", reason,
			l.v[i].id, e ? dock_errmsg(dock) : "ok");
	}
	dock_container_list_free(&l);
}

static char *heartbeat_json(const dock_info *info, const char *zone, int engine_up)
{
	char ts[40];
	sh_rfc3339(sh_real_ns(), ts, sizeof(ts));
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "node_id", info->node_id);
	cJSON_AddStringToObject(j, "hostname", info->name);
	cJSON_AddStringToObject(j, "zone", zone ? zone : "");
	cJSON_AddStringToObject(j, "addr", info->node_addr);
	cJSON_AddStringToObject(j, "engine", engine_up ? "up" : "down");
	cJSON_AddStringToObject(j, "ts", ts);
	int64_t exp = swarm_cert_expiry(info);
	if (exp) {
		char es[40];
		sh_rfc3339(exp, es, sizeof(es));
		cJSON_AddStringToObject(j, "cert_not_after", es);
	}
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

int main(int argc, char **argv)
{
	int64_t ttl_ms = 3000, interval_ms = 1000, ah_stop_ms = 10000;
	int do_autoheal = 0;
	const char *zone = NULL, *prefix = "/swarmheal";
	dock_config dcfg = {0};
	etcd_flags ef;
	etcd_flags_init(&ef);
	char err[512];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case O_TTL:
			if (sh_parse_duration_ms(optarg, &ttl_ms) || ttl_ms % 1000 || ttl_ms < 2000)
				return usage_error("invalid --ttl '%s' (whole seconds, at least 2s)", optarg);
			break;
		case O_INTERVAL:
			if (sh_parse_duration_ms(optarg, &interval_ms) || interval_ms < 100)
				return usage_error("invalid --interval '%s' (at least 100ms)", optarg);
			break;
		case O_ZONE:
			zone = optarg;
			break;
		case O_AUTOHEAL:
			do_autoheal = 1;
			break;
		case O_AH_STOP:
			if (sh_parse_duration_ms(optarg, &ah_stop_ms))
				return usage_error("invalid --autoheal-stop-timeout '%s'", optarg);
			break;
		case O_PREFIX:
			prefix = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			etcd_flags_release(&ef);
			return EXIT_OK;
		case O_VERSION:
			printf("swarmheal-agent %s\n", SWARMHEAL_VERSION);
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
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!ef.cfg.timeout_ms || ef.cfg.timeout_ms > ttl_ms / 3)
		ef.cfg.timeout_ms = (long)(ttl_ms / 3);
	etcd_client *etcd;
	if (etcd_client_new(&ef.cfg, &etcd, err, sizeof(err))) {
		fprintf(stderr, "swarmheal-agent: %s\n", err);
		return EXIT_USAGE;
	}
	dcfg.timeout_ms = interval_ms < 2000 ? (long)interval_ms : 2000;
	dock_client *dock, *heal = NULL;
	if (dock_client_new(&dcfg, &dock, err, sizeof(err))) {
		fprintf(stderr, "swarmheal-agent: %s\n", err);
		etcd_client_free(etcd);
		return EXIT_USAGE;
	}
	/* restarts wait for the stop timeout: their own client, with room for it */
	dock_config hcfg = dcfg;
	hcfg.timeout_ms = (long)ah_stop_ms + 15000;
	if (do_autoheal && dock_client_new(&hcfg, &heal, err, sizeof(err))) {
		fprintf(stderr, "swarmheal-agent: %s\n", err);
		dock_client_free(dock);
		etcd_client_free(etcd);
		return EXIT_USAGE;
	}
	/* the node ID: wait for the engine (it may start after us), up to a minute */
	dock_info info;
	int tries = 0;
	while (!stop && dock_info_get(dock, &info) != SH_OK) {
		if (tries++ % 10 == 0)
			ctl_log("warn", "agent", "waiting for the engine | error=\"%s\"", dock_errmsg(dock));
		if (tries > 60) {
			fprintf(stderr, "swarmheal-agent: %s\n", dock_errmsg(dock));
			dock_client_free(dock);
			etcd_client_free(etcd);
			return EXIT_ENGINE;
		}
		sh_sleep_ms(1000, &stop);
	}
	int rc = EXIT_OK;
	if (!stop && !info.node_id[0]) {
		fprintf(stderr, "swarmheal-agent: engine at '%s' is not part of a swarm (no Swarm.NodeID)\n",
			dock_host(dock));
		rc = EXIT_ENGINE;
		stop = 1;
	}
	char zbuf[128] = "";
	if (!zone && info.control_available) {
		dock_node n;
		if (dock_node_inspect(dock, info.node_id, &n) == SH_OK) {
			const char *z = dock_node_label(&n, "zone");
			snprintf(zbuf, sizeof(zbuf), "%s", z ? z : "");
			dock_node_free(&n);
		}
		zone = zbuf;
	}
	char key[512];
	snprintf(key, sizeof(key), "%s/nodes/%s", prefix, info.node_id);
	etcd_session *s = NULL;
	int engine_up = 1, last_put_up = -1, first = 1;
	while (!stop) {
		if (!s || !etcd_session_alive(s)) {
			if (s) {
				/* the key is put again at once under the same name with the new lease: a put
				 * replaces it, so a watcher sees no delete unless etcd already expired the old one */
				char why[256];
				etcd_session_errmsg(s, why, sizeof(why));
				ctl_log("warn", "agent", "heartbeat lease lost, starting a new one | node=%s max_keepalive_gap_ms=%lld error=\"%s\"",
					info.node_id, (long long)(etcd_session_max_gap_ns(s) / SH_NS_PER_MS), why);
				etcd_session_close(s, 0);
				s = NULL;
			}
			sh_err e = etcd_session_new(etcd, ttl_ms / 1000, &s);
			if (e) {
				if (first) {
					fprintf(stderr, "swarmheal-agent: %s\n", etcd_errmsg(etcd));
					rc = EXIT_ETCD;
					break;
				}
				ctl_log("error", "agent", "cannot grant heartbeat lease | error=\"%s\"", etcd_errmsg(etcd));
				sh_sleep_ms(100, &stop);
				continue;
			}
			last_put_up = -1;
		}
		if (last_put_up != engine_up) {
			char *v = heartbeat_json(&info, zone, engine_up);
			etcd_put_opts po = {.lease = etcd_session_lease(s)};
			sh_err e = v ? etcd_put(etcd, key, v, strlen(v), &po, NULL, NULL) : SH_E_NOMEM;
			free(v);
			if (e == SH_OK) {
				ctl_log("info", "agent", "heartbeat written | node=%s engine=%s key=%s", info.node_id,
					engine_up ? "up" : "down", key);
				last_put_up = engine_up;
				first = 0;
			} else {
				ctl_log("error", "agent", "cannot write heartbeat | error=\"%s\"", etcd_errmsg(etcd));
				if (first) {
					fprintf(stderr, "swarmheal-agent: %s\n", etcd_errmsg(etcd));
					rc = e == SH_E_AUTH ? EXIT_ETCD : EXIT_ETCD;
					break;
				}
			}
		}
		/* wake at once when the session is lost: the key must come back without a gap */
		int64_t until = sh_mono_ns() + interval_ms * SH_NS_PER_MS;
		while (!stop && etcd_session_alive(s) && sh_mono_ns() < until)
			sh_sleep_ms(20, &stop);
		if (stop)
			break;
		if (!etcd_session_alive(s))
			continue;
		int up = dock_ping(dock) == SH_OK;
		if (up && do_autoheal)
			autoheal(heal, etcd, prefix, &info, (int)((ah_stop_ms + 999) / 1000));
		if (up != engine_up)
			ctl_log(up ? "info" : "warn", "agent", "engine %s | node=%s error=\"%s\"", up ? "answers again" : "stopped answering",
				info.node_id, up ? "" : dock_errmsg(dock));
		engine_up = up;
	}
	if (s) {
		ctl_log("info", "agent", "heartbeat session closed | node=%s max_keepalive_gap_ms=%lld", info.node_id,
			(long long)(etcd_session_max_gap_ns(s) / SH_NS_PER_MS));
		etcd_session_close(s, 1); /* the key goes with the lease */
	}
	dock_client_free(heal);
	dock_client_free(dock);
	etcd_client_free(etcd);
	etcd_flags_release(&ef);
	return rc;
}
