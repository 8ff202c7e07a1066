/* SPDX-License-Identifier: MIT */
/* swarmheal-agent - keeps this node's heartbeat key alive in etcd, with the facts the drain controller reads */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "answer.h"
#include "dock_flags.h"
#include "sh_log.h"
#include "rec.h"
#include "etcd_concurrency.h"
#include "etcd_flags.h"
#include "rec_action.h"
#include "rec_drain.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_ETCD = 69, EXIT_ENGINE = 74 };

typedef struct agent_opts {
	int64_t ttl_ms, interval_ms, down_after_ms, ah_stop_ms;
	int autoheal;
	const char *zone, *prefix;
} agent_opts;

static int check_ttl(const void *v, char *err, size_t len)
{
	int64_t ms = *(const int64_t *)v;
	if (ms % 1000 || ms < 2000) {
		snprintf(err, len, "invalid --ttl %lldms (whole seconds, at least 2s)", (long long)ms);
		return -1;
	}
	return 0;
}

static int check_zone(const void *v, char *err, size_t len)
{
	const char *z = *(const char *const *)v;
	if (z && strlen(z) >= sizeof(((rec_heartbeat *)0)->zone)) {
		snprintf(err, len, "invalid --zone '%s' (at most 63 bytes)", z);
		return -1;
	}
	return 0;
}

#define AO(f) offsetof(agent_opts, f)
static const sh_opt agent_opt_table[] = {
	{"ttl", SH_OPT_DURATION, AO(ttl_ms), "15s", NULL,
	 "heartbeat lease TTL, whole seconds >= 2 (a keepalive every TTL/3; a dead host is found by the drain "
	 "controller's probe and challenge, not by the lease's expiry)",
	 "SWARMHEAL_AGENT_TTL", 0, 0, check_ttl},
	{"interval", SH_OPT_DURATION, AO(interval_ms), "1s", NULL, "engine ping period", "SWARMHEAL_AGENT_INTERVAL", 0, 100,
	 NULL},
	{"engine-down-after", SH_OPT_DURATION, AO(down_after_ms), "8s", NULL,
	 "an engine silent this long is down, not slow (a refused socket is down at once)", "SWARMHEAL_ENGINE_DOWN_AFTER",
	 0, 1000, NULL},
	{"zone", SH_OPT_STRING, AO(zone), NULL, "NAME", "zone of this node (default: the node label 'zone', when readable)",
	 "SWARMHEAL_ZONE", 0, 0, check_zone},
	{"autoheal", SH_OPT_BOOL, AO(autoheal), "false", NULL,
	 "restart standalone containers labelled autoheal=true that turn unhealthy (after their health start period), "
	 "once per unhealthy episode; never a Swarm task's container (Swarm replaces those)",
	 "SWARMHEAL_AUTOHEAL", 0, 0, NULL},
	{"autoheal-stop-timeout", SH_OPT_DURATION, AO(ah_stop_ms), "10s", NULL,
	 "stop timeout of such a restart when the container has neither an autoheal.stop.timeout label nor its own",
	 "SWARMHEAL_AUTOHEAL_STOP_TIMEOUT", 0, 0, NULL},
	{"prefix", SH_OPT_STRING, AO(prefix), "/swarmheal", "PREFIX", "etcd key prefix", "SWARMHEAL_PREFIX", 0, 0, NULL},
	{0},
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

/* ---- autoheal: a thread of its own (own engine and etcd clients), so a restart never holds up pings ---- */

/* One restart we made: the container and the start (StartedAt) it ended. An unhealthy episode is one start
 * of the container; we restart it at most once per episode, whatever a slow or timed-out restart call does. */
typedef struct ah_done {
	char id[80];
	int64_t started_at_ns;
} ah_done;

typedef struct autoheal_ctx {
	dock_config dcfg;
	etcd_client *etcd;
	const char *prefix, *node_id;
	int64_t default_stop_s, interval_ms;
	ah_done *done;
	size_t ndone;
	pthread_t th;
	int running;
} autoheal_ctx;

static int is_swarm_task(const cJSON *labels)
{
	return cJSON_GetObjectItemCaseSensitive(labels, "com.docker.swarm.task.id") != NULL;
}

/* the restart's stop timeout: the autoheal.stop.timeout label (seconds, or a duration), else the container's own
 * (docker run --stop-timeout), else --autoheal-stop-timeout; what it came from in src */
static int64_t stop_timeout_s(const dock_container *ct, int64_t dflt_s, const char **src)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(ct->labels, "autoheal.stop.timeout");
	int64_t ms;
	if (cJSON_IsString(l) && sh_parse_duration_ms(l->valuestring, &ms) == 0 && ms <= 3600 * 1000) {
		*src = "label autoheal.stop.timeout";
		return (ms + 999) / 1000;
	}
	if (ct->stop_timeout_s >= 0) {
		*src = "the container's stop timeout";
		return ct->stop_timeout_s;
	}
	*src = "--autoheal-stop-timeout";
	return dflt_s;
}

static ah_done *done_find(autoheal_ctx *a, const char *id)
{
	for (size_t i = 0; i < a->ndone; i++)
		if (!strcmp(a->done[i].id, id))
			return &a->done[i];
	return NULL;
}

static void record_restart(autoheal_ctx *a, const char *id, const char *reason, const char *result)
{
	char ctl[128], key[700];
	snprintf(ctl, sizeof(ctl), "agent.%s", a->node_id);
	int64_t now = sh_real_ns();
	rec_action r = {.ts_ns = now, .controller = ctl, .kind = "restart", .target = (char *)id,
			.reason = (char *)reason, .result = (char *)result, .node = (char *)a->node_id};
	char *v = rec_action_encode(&r);
	if (!v || rec_action_key(key, sizeof(key), a->prefix, ctl, now, "restart", id) ||
	    etcd_put(a->etcd, key, v, strlen(v), NULL, NULL, NULL))
		sh_log("error", "agent", "cannot record autoheal restart | container=%.12s error=\"%s\"", id,
			v ? etcd_errmsg(a->etcd) : "out of memory");
	free(v);
}

/* one pass: restart standalone containers labelled autoheal=true that are unhealthy past their start period */
static void autoheal_pass(autoheal_ctx *a, dock_client *dock)
{
	dock_container_list l;
	if (dock_containers_list(dock, "{\"label\":[\"autoheal=true\"],\"health\":[\"unhealthy\"]}", 0, &l))
		return;
	/* forget restarts of containers no longer unhealthy and running: their episode is over */
	for (size_t d = 0; d < a->ndone;) {
		int listed = 0;
		for (size_t i = 0; i < l.n && !listed; i++)
			listed = !strcmp(l.v[i].id, a->done[d].id);
		if (!listed)
			a->done[d] = a->done[--a->ndone];
		else
			d++;
	}
	for (size_t i = 0; i < l.n && !stop; i++) {
		if (is_swarm_task(l.v[i].labels))
			continue; /* Swarm replaces its tasks' containers itself (moby/moby#33862) */
		/* the re-check right before the restart: still running, still unhealthy, past its start period,
		 * and not a start we already restarted (a restart in flight, or one whose call timed out) */
		dock_container ct;
		if (dock_container_inspect(dock, l.v[i].id, &ct))
			continue;
		int64_t now = sh_real_ns();
		ah_done *dn = done_find(a, ct.id);
		int due = !strcmp(ct.state, "running") && !strcmp(ct.health, "unhealthy") && !is_swarm_task(ct.labels) &&
			  now - ct.started_at_ns >= ct.health_start_period_ns &&
			  !(dn && dn->started_at_ns == ct.started_at_ns);
		const char *src = "";
		int64_t t = stop_timeout_s(&ct, a->default_stop_s, &src);
		char reason[400];
		snprintf(reason, sizeof(reason), "container %s is unhealthy (failing streak %d); stop timeout %llds from %s",
			 ct.name, ct.failing_streak, (long long)t, src);
		int64_t started = ct.started_at_ns;
		dock_container_free(&ct);
		if (!due)
			continue;
		if (!dn) {
			ah_done *nd = realloc(a->done, (a->ndone + 1) * sizeof(*nd));
			if (!nd)
				continue;
			a->done = nd;
			dn = &a->done[a->ndone++];
			snprintf(dn->id, sizeof(dn->id), "%s", l.v[i].id);
		}
		dn->started_at_ns = started;
		/* a client whose request timeout covers this container's stop timeout */
		dock_config hc = a->dcfg;
		hc.timeout_ms = (long)(t * 1000 + 15000);
		dock_client *heal;
		char err[300];
		sh_err e = dock_client_new(&hc, &heal, err, sizeof(err));
		if (e == SH_OK) {
			e = dock_container_restart(heal, l.v[i].id, (int)t);
			snprintf(err, sizeof(err), "%s", e ? dock_errmsg(heal) : "");
			dock_client_free(heal);
		}
		/* a definite failure may be retried next pass; a timeout may still be in flight: not this episode */
		if (e && e != SH_E_TIMEOUT)
			dn->started_at_ns = 0;
		record_restart(a, l.v[i].id, reason, e ? err : "ok");
		sh_log(e ? "error" : "info", "agent", "autoheal restart: %s | container=%.12s result=\"%s\"", reason,
			l.v[i].id, e ? err : "ok");
	}
	dock_container_list_free(&l);
}

static void *autoheal_main(void *arg)
{
	autoheal_ctx *a = arg;
	dock_client *dock;
	char err[300];
	if (dock_client_new(&a->dcfg, &dock, err, sizeof(err))) {
		sh_log("error", "agent", "autoheal off | error=\"%s\"", err);
		return NULL;
	}
	while (!stop) {
		autoheal_pass(a, dock);
		sh_sleep_ms(a->interval_ms, &stop);
	}
	dock_client_free(dock);
	return NULL;
}

/* ---- how this agent runs, for the heartbeat (the drain controller restores nodes whose agent cannot run there) ---- */

/* the 64-hex ID of the container we run in, from the bind mounts docker makes (/etc/hostname and friends) */
static int own_container_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -1;
	char line[4096];
	int found = -1;
	while (found && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "/containers/");
		while (p && found) {
			p += strlen("/containers/");
			size_t n = 0;
			while (isxdigit((unsigned char)p[n]))
				n++;
			if (n == 64 && p[n] == '/' && len > 64) {
				memcpy(out, p, 64);
				out[64] = '\0';
				found = 0;
			}
			p = strstr(p, "/containers/");
		}
	}
	fclose(f);
	return found;
}

static int in_container(void)
{
	if (access("/.dockerenv", F_OK) == 0)
		return 1;
	FILE *f = fopen("/proc/1/cgroup", "r");
	if (!f)
		return 0;
	char line[1024];
	int yes = 0;
	while (!yes && fgets(line, sizeof(line), f))
		yes = strstr(line, "docker") || strstr(line, "containerd") || strstr(line, "kubepods");
	fclose(f);
	return yes;
}

/* a Swarm task's container carries com.docker.swarm.task.id; systemd sets INVOCATION_ID for its services */
static rec_runs_as detect_runs_as(dock_client *dock)
{
	if (in_container()) {
		char id[80];
		dock_container ct;
		if (own_container_id(id, sizeof(id)) == 0 && dock_container_inspect(dock, id, &ct) == SH_OK) {
			int task = is_swarm_task(ct.labels);
			dock_container_free(&ct);
			return task ? REC_RUNS_SWARM_TASK : REC_RUNS_CONTAINER;
		}
		return REC_RUNS_CONTAINER;
	}
	if (getenv("INVOCATION_ID"))
		return REC_RUNS_SYSTEMD;
	return REC_RUNS_PROCESS;
}

/* ---- the engine's state: up, slow (silent for less than --engine-down-after), down ---- */
typedef struct engine_watch {
	int64_t last_ok_ns; /* monotonic: the engine's last answer */
	int64_t down_after_ns;
} engine_watch;

/* Pure: a refused connection (nothing listens on the socket) is down at once; a ping that times out or fails
 * otherwise is slow until the engine has not answered for down_after. */
static rec_engine engine_next(engine_watch *w, sh_err ping, int64_t now)
{
	if (ping == SH_OK) {
		w->last_ok_ns = now;
		return REC_ENGINE_UP;
	}
	if (ping == SH_E_UNREACHABLE)
		return REC_ENGINE_DOWN;
	return now - w->last_ok_ns >= w->down_after_ns ? REC_ENGINE_DOWN : REC_ENGINE_SLOW;
}

static void heartbeat_fill(rec_heartbeat *h, const dock_info *info, const char *zone, rec_engine engine,
			   rec_runs_as runs_as)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->node_id, sizeof(h->node_id), "%s", info->node_id);
	snprintf(h->hostname, sizeof(h->hostname), "%s", info->name);
	snprintf(h->zone, sizeof(h->zone), "%s", zone ? zone : "");
	snprintf(h->addr, sizeof(h->addr), "%s", info->node_addr);
	h->engine = engine;
	h->runs_as = runs_as;
	h->ts_ns = sh_real_ns();
	h->cert_not_after_ns = swarm_cert_expiry(info);
}

int main(int argc, char **argv)
{
	static agent_opts ao;
	static etcd_flag_values ev;
	static dock_config dcfg;
	sh_opt_group groups[] = {
		{"swarmheal-agent", agent_opt_table, &ao, sizeof(ao)},
		{"etcd connection", etcd_flag_table, &ev, sizeof(ev)},
		{"Docker engine", dock_flag_table, &dcfg, sizeof(dcfg)},
	};
	sh_opts so = {
		.prog = "swarmheal-agent",
		.synopsis = "[options]",
		.description =
			"Keep PREFIX/nodes/NODEID alive in etcd on a lease of --ttl, with hostname, zone, address,\n"
			"how the agent runs and the engine's state (GET /_ping every --interval): up; slow while its\n"
			"pings time out, for less than --engine-down-after; down when its socket refuses or it has\n"
			"not answered for --engine-down-after. On SIGTERM/SIGINT it leaves a stop mark without a\n"
			"lease ({\"agent\":\"stopped\",...}) before revoking the lease. The node ID comes from the engine.\n"
			"It answers the drain controller's challenges (PREFIX/drain/challenge/NODEID) at once.",
		.footer = "exit: 0 stopped by SIGINT/SIGTERM, 64 usage, 69 etcd unreachable or refused at start,\n"
			  "      74 the engine never told its node ID\n",
		.groups = groups,
		.ngroups = 3,
	};
	int argi, prc = sh_opts_parse(&so, argc, argv, &argi);
	if (prc) {
		sh_opts_release(&so);
		return prc == SH_OPTS_EXIT ? EXIT_OK : EXIT_USAGE;
	}
	if (argi < argc) {
		sh_opts_release(&so);
		return usage_error("unexpected argument '%s'", argv[argi]);
	}
	int64_t ttl_ms = ao.ttl_ms, interval_ms = ao.interval_ms, ah_stop_ms = ao.ah_stop_ms,
		down_after_ms = ao.down_after_ms;
	int do_autoheal = ao.autoheal;
	const char *zone = ao.zone, *prefix = ao.prefix;
	etcd_config ecfg;
	char err[512];
	if (etcd_flag_config(&ev, &ecfg, err, sizeof(err))) {
		sh_opts_release(&so);
		return usage_error("%s", err);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!ecfg.timeout_ms || ecfg.timeout_ms > ttl_ms / 3)
		ecfg.timeout_ms = (long)(ttl_ms / 3);
	etcd_client *etcd;
	if (etcd_client_new(&ecfg, &etcd, err, sizeof(err))) {
		fprintf(stderr, "swarmheal-agent: %s\n", err);
		return EXIT_USAGE;
	}
	dcfg.timeout_ms = interval_ms < 2000 ? (long)interval_ms : 2000;
	dock_client *dock;
	if (dock_client_new(&dcfg, &dock, err, sizeof(err))) {
		fprintf(stderr, "swarmheal-agent: %s\n", err);
		etcd_client_free(etcd);
		return EXIT_USAGE;
	}
	/* the node ID: wait for the engine (it may start after us), up to a minute */
	dock_info info;
	int tries = 0;
	while (!stop && dock_info_get(dock, &info) != SH_OK) {
		if (tries++ % 10 == 0)
			sh_log("warn", "agent", "waiting for the engine | error=\"%s\"", dock_errmsg(dock));
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
	char zbuf[sizeof(((rec_heartbeat *)0)->zone)] = "";
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
	if (!stop && rec_heartbeat_key(key, sizeof(key), prefix, info.node_id)) {
		fprintf(stderr, "swarmheal-agent: node ID '%s' does not fit a key under '%s'\n", info.node_id, prefix);
		rc = EXIT_USAGE;
		stop = 1;
	}
	rec_runs_as runs_as = stop ? REC_RUNS_UNKNOWN : detect_runs_as(dock);
	engine_watch ew = {.last_ok_ns = sh_mono_ns(), .down_after_ns = down_after_ms * SH_NS_PER_MS};
	/* autoheal restarts wait for stop timeouts: a thread with clients of its own */
	autoheal_ctx ah = {.dcfg = dcfg, .prefix = prefix, .node_id = info.node_id,
			   .default_stop_s = (ah_stop_ms + 999) / 1000, .interval_ms = interval_ms};
	if (!stop && do_autoheal) {
		if (etcd_client_dup(etcd, &ah.etcd) == SH_OK && pthread_create(&ah.th, NULL, autoheal_main, &ah) == 0)
			ah.running = 1;
		else
			sh_log("error", "agent", "autoheal off: cannot start its thread");
	}
	/* the drain leader's challenges (answer.h): a thread with a client of its own answers them at once */
	agent_answer *ans = NULL;
	char ckey[512];
	if (!stop) {
		etcd_client *ce = NULL;
		sh_err ae = rec_drain_challenge_key(ckey, sizeof(ckey), prefix, info.node_id) ? SH_E_INVAL
			    : etcd_client_dup(etcd, &ce)					      ? SH_E_NOMEM
												      : agent_answer_start(ce, ckey, &stop, &ans);
		if (ae)
			sh_log("error", "agent", "challenges off: not answered, and the heartbeat does not claim to | error=\"%s\"", sh_errname(ae));
	}
	etcd_session *s = NULL;
	int engine = REC_ENGINE_UP, last_put_up = -1, first = 1; /* last_put_up: engine state last written, -1 none */
	rec_heartbeat hb = {0};
	while (!stop) {
		if (!s || !etcd_session_alive(s)) {
			if (s) {
				/* the key is put again at once under the same name with the new lease: a put
				 * replaces it, so a watcher sees no delete unless etcd already expired the old one */
				char why[256];
				etcd_session_errmsg(s, why, sizeof(why));
				sh_log("warn", "agent", "heartbeat lease lost, starting a new one | node=%s max_keepalive_gap_ms=%lld error=\"%s\"",
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
				sh_log("error", "agent", "cannot grant heartbeat lease | error=\"%s\"", etcd_errmsg(etcd));
				sh_sleep_ms(100, &stop);
				continue;
			}
			last_put_up = -1;
			agent_answer_set_lease(ans, etcd_session_lease(s));
		}
		if (last_put_up != engine) {
			heartbeat_fill(&hb, &info, zone, (rec_engine)engine, runs_as);
			hb.answers_challenge = ans != NULL;
			char *v = rec_heartbeat_encode(&hb);
			etcd_put_opts po = {.lease = etcd_session_lease(s)};
			sh_err e = v ? etcd_put(etcd, key, v, strlen(v), &po, NULL, NULL) : SH_E_NOMEM;
			free(v);
			if (e == SH_OK) {
				sh_log("info", "agent", "heartbeat written | node=%s engine=%s runs_as=%s key=%s",
					info.node_id, rec_engine_name(hb.engine), rec_runs_as_name(runs_as), key);
				last_put_up = engine;
				first = 0;
			} else {
				sh_log("error", "agent", "cannot write heartbeat | error=\"%s\"", etcd_errmsg(etcd));
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
		sh_err pe = dock_ping(dock);
		int next = engine_next(&ew, pe, sh_mono_ns());
		if (next != engine)
			sh_log(next == REC_ENGINE_UP ? "info" : "warn", "agent", "engine %s | node=%s error=\"%s\"",
				next == REC_ENGINE_UP	  ? "answers again"
				: next == REC_ENGINE_SLOW ? "is slow (ping timed out)"
							  : "is down",
				info.node_id, pe ? dock_errmsg(dock) : "");
		engine = next;
	}
	/* a graceful stop: leave the stop mark (no lease: it outlives the lease) before revoking the lease, so the
	 * drain controller tells a stopped agent from a dead node */
	agent_answer_set_lease(ans, 0);
	if (s && hb.node_id[0] && rc == EXIT_OK) {
		hb.stopped = 1;
		hb.engine = REC_ENGINE_UNKNOWN; /* no one watches the engine from now on */
		hb.ts_ns = sh_real_ns();
		char *v = rec_heartbeat_encode(&hb);
		sh_err e = v ? etcd_put(etcd, key, v, strlen(v), NULL, NULL, NULL) : SH_E_NOMEM;
		free(v);
		if (e)
			sh_log("error", "agent", "cannot leave the stop mark | key=%s error=\"%s\"", key,
				e == SH_E_NOMEM ? "out of memory" : etcd_errmsg(etcd));
		else
			sh_log("info", "agent", "stop mark written | node=%s key=%s", info.node_id, key);
	}
	if (s) {
		sh_log("info", "agent", "heartbeat session closed | node=%s max_keepalive_gap_ms=%lld", info.node_id,
			(long long)(etcd_session_max_gap_ns(s) / SH_NS_PER_MS));
		etcd_session_close(s, 1); /* revoke: a key still on the lease goes with it, the stop mark stays */
	}
	stop = stop ? stop : 1;
	agent_answer_stop(ans);
	if (ah.running)
		pthread_join(ah.th, NULL);
	etcd_client_free(ah.etcd);
	free(ah.done);
	dock_client_free(dock);
	etcd_client_free(etcd);
	sh_opts_release(&so);
	return rc;
}
