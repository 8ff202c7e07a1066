/* SPDX-License-Identifier: MIT */
/* test_rollback_lab.c - swarmheald's rollback controller against the 3-node lab and real etcd */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

static const char *lab, *eps;
static char sock[256], prefix[64];

/* Swarm's defaults (FailureAction pause, Monitor 5s) unless a test says otherwise; tasks stop at once */
#define SVC_OPTS "-d --no-resolve-image --replicas 1 --stop-grace-period 0s --restart-delay 1s"
#define IMG "swarmheal-test-busybox"

static void inspect(const char *svc, const char *fmt, char *out, size_t len)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "docker -H %s service inspect %s --format '%s' 2>/dev/null", sock, svc, fmt);
	t_sh_line(cmd, out, len);
}

static void svc_id(const char *svc, char *out, size_t len)
{
	inspect(svc, "{{.ID}}", out, len);
}

/* the service's container args as JSON, e.g. ["sleep","1000"] */
static void args_of(const char *svc, char *out, size_t len)
{
	inspect(svc, "{{json .Spec.TaskTemplate.ContainerSpec.Args}}", out, len);
}

static int dk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int dk(const char *fmt, ...)
{
	char body[2000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return t_sh("docker -H %s %s >/dev/null 2>&1", sock, body);
}

/* action records of the rollback controller for the service (by ID) that contain needle */
static int actions(const char *svc, const char *needle)
{
	char id[80], cmd[900], out[32];
	svc_id(svc, id, sizeof(id));
	if (!id[0])
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/rollback/ --print-value-only | "
		 "grep -F '\"target\":\"%s\"' | grep -cF '%s'",
		 eps, prefix, id, needle);
	t_sh_line(cmd, out, sizeof(out));
	return atoi(out);
}

static int wait_actions(const char *svc, const char *needle, int want, int ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		if (actions(svc, needle) >= want)
			return 1;
		usleep(100000);
	}
	return 0;
}

static int wait_args(const char *svc, const char *want, int ms)
{
	char a[200];
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		args_of(svc, a, sizeof(a));
		if (!strcmp(a, want))
			return 1;
		usleep(100000);
	}
	return 0;
}

static int wait_state(const char *svc, const char *want, int ms)
{
	char a[64];
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		inspect(svc, "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", a, sizeof(a));
		if (strstr(want, a) && a[0])
			return 1;
		usleep(100000);
	}
	return 0;
}

/* wait until the number a shell command prints reaches want */
static int wait_count(const char *cmd, int want, long ms)
{
	char out[32];
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end;) {
		t_sh_line(cmd, out, sizeof(out));
		if (atoi(out) >= want)
			return 1;
		usleep(100000);
	}
	return 0;
}

static int wait_snapshots(const char *svc, int want, int ms)
{
	char id[80], cmd[600];
	svc_id(svc, id, sizeof(id));
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/rollback/snapshots/%s/ --keys-only | grep -c .",
		 eps, prefix, id);
	return wait_count(cmd, want, ms);
}

/* the rollback state record of the service (by ID) contains needle */
static int wait_state_record(const char *svc, const char *needle, long ms)
{
	char id[80], cmd[700];
	svc_id(svc, id, sizeof(id));
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get %s/rollback/state/%s --print-value-only | grep -cF '%s'",
		 eps, prefix, id, needle);
	return wait_count(cmd, 1, ms);
}

/* one running task */
static int wait_running(const char *svc, int ms)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "docker -H %s service ps %s --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running",
		 sock, svc);
	return wait_count(cmd, 1, ms);
}

/* swarmheald --controllers rollback, its log in /tmp/swarmheal-rollback-NAME.log, metrics on *mport */
static pid_t start_daemon(const char *name, const char *extra, int *mport)
{
	char logf[128];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-rollback-%s.log", name);
	*mport = t_free_port();
	return t_spawn(logf,
		       "%s --controllers rollback --endpoints %s --docker-host %s --prefix %s --ttl 3s --metrics-addr 127.0.0.1:%d %s",
		       t_bin("swarmheald"), eps, sock, prefix, *mport, extra);
}

#define PASSES "swarmheal_reconciles_total{controller=\"rollback\"}"

/* wait until the daemon has finished `more` more passes (the counter counts passes begun) */
static int wait_passes(int mport, int more, long ms)
{
	/* no line yet (-1) is no pass begun yet: "leading" is logged before the first pass adds the series */
	double c = t_metric(mport, PASSES);
	return t_wait_metric(mport, PASSES, (c > 0 ? c : 0) + more + 1, ms);
}

/* wait until the daemon logged that it leads */
static int wait_leading(const char *name, long ms)
{
	char logf[128];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-rollback-%s.log", name);
	return t_wait_file(logf, "msg=\"leading\"", ms);
}

static void round_prefix(const char *name)
{
	snprintf(prefix, sizeof(prefix), "/trb-%s-%d", name, (int)getpid());
}

static double since(int64_t t0)
{
	return (double)(sh_mono_ns() - t0) / 1e9;
}

/*
 * Four bad updates Swarm leaves broken (FailureAction pause), a service labelled off, two rapid updates
 * and a good update, side by side under one controller.
 */
static void test_bad_updates_rolled_back(void)
{
	round_prefix("bad");
	static const char *const names[] = {"rb-exit", "rb-crash8", "rb-health", "rb-pending", "rb-off", "rb-rapid",
					    "rb-good"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		dk("service rm %s", names[i]);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-exit " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-crash8 " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-health --replicas 2 --update-delay 5s --update-order start-first " IMG " sleep 1000",
				 SVC_OPTS),
			      0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-pending " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-off --label swarmheal.rollback=off " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-rapid " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-good " IMG " sleep 1000", SVC_OPTS), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		CU_ASSERT_TRUE(wait_running(names[i], 30000));
	int mp;
	pid_t d = start_daemon("bad", "--healthy-after 6s --pending-timeout 3s --start-timeout 60s", &mp);
	CU_ASSERT_TRUE(wait_leading("bad", 10000));
	CU_ASSERT_TRUE(wait_passes(mp, 1, 10000));
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'exit 3'\" rb-exit"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'sleep 8; exit 1'\" rb-crash8"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --health-cmd false --health-interval 1s --health-retries 1 --health-timeout 1s rb-health"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --constraint-add node.labels.lab-node==none rb-pending"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'exit 3'\" rb-off"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'exit 3'\" rb-rapid"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --args \"sleep 2000\" rb-rapid"), 0);
	CU_ASSERT_EQUAL(dk("service update -d --args \"sleep 2000\" rb-good"), 0);

	/* the immediate exit: rolled back at the first failed task */
	CU_ASSERT_TRUE(wait_actions("rb-exit", "\"kind\":\"rollback\"", 2, 20000));
	fprintf(stderr, "exit at once: rolled back %.2f s after the update\n", since(t0));
	CU_ASSERT_TRUE(wait_args("rb-exit", "[\"sleep\",\"1000\"]", 5000));
	CU_ASSERT_EQUAL(actions("rb-exit", "\"result\":\"ok\""), 1);
	CU_ASSERT(actions("rb-exit", "exited") + actions("rb-exit", "non-zero exit") >= 1); /* the failing task in details */
	/* no longer pending: rolled back within --pending-timeout (3 s) of the task's creation */
	CU_ASSERT_TRUE(wait_actions("rb-pending", "\"result\":\"ok\"", 1, 20000));
	fprintf(stderr, "pending: rolled back %.2f s after the update\n", since(t0));
	CU_ASSERT_TRUE(wait_args("rb-pending", "[\"sleep\",\"1000\"]", 5000));
	CU_ASSERT(actions("rb-pending", "no suitable node") >= 1);
	/* the failing health check (start-first, update delay 5 s) */
	CU_ASSERT_TRUE(wait_actions("rb-health", "\"result\":\"ok\"", 1, 30000));
	fprintf(stderr, "unhealthy: rolled back %.2f s after the update\n", since(t0));
	char hc[200];
	for (int64_t end = t_now_ms() + 5000; t_now_ms() < end;) {
		inspect("rb-health", "{{.Spec.TaskTemplate.ContainerSpec.Healthcheck}}", hc, sizeof(hc));
		if (!strcmp(hc, "<nil>"))
			break;
		usleep(100000);
	}
	CU_ASSERT_STRING_EQUAL(hc, "<nil>");
	/* the crash 8 s after starting: after Swarm called the update completed */
	CU_ASSERT_TRUE(wait_actions("rb-crash8", "\"result\":\"ok\"", 1, 30000));
	fprintf(stderr, "crash after 8 s: rolled back %.2f s after the update\n", since(t0));
	CU_ASSERT_TRUE(wait_args("rb-crash8", "[\"sleep\",\"1000\"]", 5000));
	CU_ASSERT(actions("rb-crash8", "completed") >= 1); /* judged after Swarm's "completed" */
	/* labelled off: untouched, Swarm's pause stands */
	char a[200];
	args_of("rb-off", a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "[\"sh\",\"-c\",\"exit 3\"]");
	CU_ASSERT_EQUAL(actions("rb-off", "\"kind\""), 0);
	/* two rapid updates: only the newest is judged, and it is good */
	args_of("rb-rapid", a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "[\"sleep\",\"2000\"]");
	CU_ASSERT_EQUAL(actions("rb-rapid", "\"kind\":\"rollback\""), 0);
	/* the good update: no rollback; its spec is snapshotted after --healthy-after */
	CU_ASSERT_TRUE(wait_snapshots("rb-good", 1, 20000));
	CU_ASSERT_EQUAL(actions("rb-good", "\"kind\":\"rollback\""), 0);
	CU_ASSERT_TRUE(wait_actions("rb-good", "\"kind\":\"snapshot\"", 1, 1000));
	/* and a rolled-back service is not rolled back again (two more passes) */
	CU_ASSERT_TRUE(wait_passes(mp, 2, 10000));
	CU_ASSERT_EQUAL(actions("rb-exit", "\"kind\":\"rollback\""), 2); /* started + ok */
	CU_ASSERT_EQUAL(actions("rb-crash8", "\"kind\":\"rollback\""), 2);
	t_stop_clean(d);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		dk("service rm %s", names[i]);
}

static void set_mode(const char *mode)
{
	t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s put %s/arbiter/mode '{\"mode\":\"%s\"}' >/dev/null", eps, prefix, mode);
}

/*
 * Swarm's own rollback emptied PreviousSpec and put back a spec that crashes: restored from the newest
 * snapshot whose digest matches; a forged newer snapshot is refused; read-only mode is obeyed meanwhile.
 */
static void test_restore_from_snapshot_after_swarm_rollback(void)
{
	round_prefix("restore");
	dk("service rm rb-restore");
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-restore --update-failure-action rollback --update-monitor 3s "
				 IMG " sleep 1000",
				 SVC_OPTS),
			      0);
	CU_ASSERT_TRUE(wait_running("rb-restore", 30000));
	int mp;
	pid_t d = start_daemon("restore", "--healthy-after 12s --pending-timeout 3s --start-timeout 60s", &mp);
	/* the good spec is snapshotted once healthy for 12 s */
	CU_ASSERT_TRUE_FATAL(wait_snapshots("rb-restore", 1, 30000));
	char id[80];
	svc_id("rb-restore", id, sizeof(id));
	/* a forged newer snapshot: another spec under the good one's digest */
	CU_ASSERT_EQUAL(t_sh("v=$(ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/rollback/snapshots/%s/ --print-value-only | head -1); "
			     "ETCDCTL_API=3 etcdctl --endpoints=%s put %s/rollback/snapshots/%s/99999999999999999999 "
			     "\"$(printf '%%s' \"$v\" | sed 's/1000/6666/')\" >/dev/null",
			     eps, prefix, id, eps, prefix, id),
			0);
	/* read-only while the bad state is made (Swarm's own rollback reacts to the failed task at once: the
	 * controller leaves it alone) */
	set_mode("read-only"); /* read from etcd before every action: in force at once */
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'sleep 8; exit 1'\" rb-restore"), 0);
	CU_ASSERT_TRUE(wait_state("rb-restore", "completed", 20000));
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'exit 3'\" rb-restore"), 0);
	/* Swarm rolls back to the crashing spec and empties PreviousSpec */
	CU_ASSERT_TRUE(wait_state("rb-restore", "rollback_started rollback_completed rollback_paused", 20000));
	CU_ASSERT_TRUE(wait_args("rb-restore", "[\"sh\",\"-c\",\"sleep 8; exit 1\"]", 20000));
	char prev[64];
	inspect("rb-restore", "{{if .PreviousSpec}}set{{else}}empty{{end}}", prev, sizeof(prev));
	CU_ASSERT_STRING_EQUAL(prev, "empty");
	/* what Swarm put back crashes 8 s after starting: the restore is refused while read-only */
	CU_ASSERT_TRUE(wait_actions("rb-restore", "read-only mode", 1, 25000));
	char a[200];
	args_of("rb-restore", a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "[\"sh\",\"-c\",\"sleep 8; exit 1\"]");
	CU_ASSERT_EQUAL(actions("rb-restore", "\"kind\":\"restore\""), 1); /* the refusal only */
	set_mode("normal");
	/* the crashing spec Swarm put back is replaced by the verified snapshot, not by the forged one */
	CU_ASSERT_TRUE(wait_actions("rb-restore", "\"kind\":\"restore\"", 3, 30000));
	CU_ASSERT_TRUE(wait_args("rb-restore", "[\"sleep\",\"1000\"]", 5000));
	CU_ASSERT(actions("rb-restore", "does not match its sha256") >= 1);
	CU_ASSERT_EQUAL(actions("rb-restore", "\"kind\":\"restore\""), 3); /* refused, started, ok */
	args_of("rb-restore", a, sizeof(a));
	CU_ASSERT_PTR_NULL(strstr(a, "6666"));
	t_stop_clean(d);
	dk("service rm rb-restore");
}

/* the leader is killed mid-update; the standby finishes the judgement: exactly one rollback */
static void test_failover_mid_update_one_rollback(void)
{
	round_prefix("ha");
	dk("service rm rb-ha");
	CU_ASSERT_EQUAL_FATAL(dk("service create %s --name rb-ha " IMG " sleep 1000", SVC_OPTS), 0);
	CU_ASSERT_TRUE(wait_running("rb-ha", 30000));
	const char *opt = "--healthy-after 15s --pending-timeout 3s --start-timeout 60s";
	int mpa, mpb, mpc;
	pid_t a = start_daemon("ha-a", opt, &mpa);
	CU_ASSERT_TRUE_FATAL(wait_leading("ha-a", 10000));
	pid_t b = start_daemon("ha-b", opt, &mpb);
	CU_ASSERT_TRUE(t_wait_file("/tmp/swarmheal-rollback-ha-b.log", "msg=\"campaigning\"", 10000));
	/* tasks that crash 8 s after starting; the leader dies while it judges them */
	CU_ASSERT_EQUAL(dk("service update -d --args \"sh -c 'sleep 8; exit 1'\" rb-ha"), 0);
	CU_ASSERT_TRUE(wait_state_record("rb-ha", "\"state\":\"judging\"", 10000));
	kill(a, SIGKILL);
	t_wait_pid(a, 2000, NULL);
	CU_ASSERT_TRUE(wait_actions("rb-ha", "\"result\":\"ok\"", 1, 30000));
	CU_ASSERT_TRUE(wait_leading("ha-b", 100));
	CU_ASSERT_TRUE(wait_args("rb-ha", "[\"sleep\",\"1000\"]", 5000));
	/* the standby's judgement is persisted: started + ok, once (three more passes) */
	CU_ASSERT_TRUE(wait_passes(mpb, 3, 10000));
	CU_ASSERT_EQUAL(actions("rb-ha", "\"kind\":\"rollback\""), 2);
	/* a second standby taking over now does not roll back again either */
	kill(b, SIGKILL);
	t_wait_pid(b, 2000, NULL);
	pid_t c = start_daemon("ha-c", opt, &mpc);
	CU_ASSERT_TRUE(wait_leading("ha-c", 8000));
	CU_ASSERT_TRUE(wait_passes(mpc, 2, 10000));
	CU_ASSERT_EQUAL(actions("rb-ha", "\"kind\":\"rollback\""), 2);
	t_stop_clean(c);
	dk("service rm rb-ha");
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	eps = t_endpoints();
	if (!lab || !eps || t_sh("%s sock 3 >/dev/null 2>&1", lab)) {
		fprintf(stderr, "no lab or etcd (tests/run.sh brings them up): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s sock 1", lab);
	t_sh_line(cmd, sock, sizeof(sock));
	static const t_case cases[] = {
		{"bad_updates_rolled_back", test_bad_updates_rolled_back},
		{"restore_from_snapshot_after_swarm_rollback", test_restore_from_snapshot_after_swarm_rollback},
		{"failover_mid_update_one_rollback", test_failover_mid_update_one_rollback},
		{NULL, NULL},
	};
	return t_run("rollback_lab", cases, argc, argv);
}
