/* SPDX-License-Identifier: MIT */
/* test_drain_challenge.c - the drain controller's challenge against real etcd and a scripted engine: a live node
 * whose agent answers every challenge within 100 ms (the lab saw 112 ms) is never found dead or drained, also when
 * the pass that follows a challenge spends its rounds on a slow probe of another node (a silent port: 600 ms) */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "etcd.h"
#include "rec_drain.h"
#include "rec_heartbeat.h"
#include "sh_util.h"
#include "tengine.h"
#include "tmain.h"
#include "tsupport.h"

static const char *eps;
static char prefix[128];

/* ---- the scripted engine: four ready worker nodes; X (n1) and Y (n2) have heartbeats, n3 and n4 none ---- */

#define NNODES 4
static const char *const node_ids[NNODES] = {"drainchaln1", "drainchaln2", "drainchaln3", "drainchaln4"};

static tengine eng;

/* ---- the nodes' ports: X's refuses (nothing on 127.0.0.2:7946), Y's is silent (its accept queue is full) ---- */

static int silent_port(const char *addr, int *filler)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7946)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 0)) {
		if (l >= 0)
			close(l);
		return -1;
	}
	/* backlog 0 holds one connection; never accepted, so every later SYN is dropped: connects time out */
	*filler = socket(AF_INET, SOCK_STREAM, 0);
	if (*filler < 0 || connect(*filler, (struct sockaddr *)&sa, sizeof(sa))) {
		close(l);
		return -1;
	}
	return l;
}

/* ---- etcd: heartbeats on one 15 s lease, X's agent answering its challenges ---- */

static etcd_client *ec;
static int64_t lease;

static int put_heartbeat(etcd_client *c, int i, const char *addr)
{
	rec_heartbeat h = {.engine = REC_ENGINE_UP, .ts_ns = sh_real_ns(), .answers_challenge = 1};
	snprintf(h.node_id, sizeof(h.node_id), "%s", node_ids[i]);
	snprintf(h.hostname, sizeof(h.hostname), "host%d", i + 1);
	snprintf(h.addr, sizeof(h.addr), "%s", addr);
	char key[256], *v = rec_heartbeat_encode(&h);
	snprintf(key, sizeof(key), "%s/nodes/%s", prefix, node_ids[i]);
	etcd_put_opts po = {.lease = lease};
	sh_err e = v ? etcd_put(c, key, v, strlen(v), &po, NULL, NULL) : SH_E_NOMEM;
	free(v);
	return e == SH_OK ? 0 : -1;
}

#define ANSWER_DELAY_MS 150

typedef struct fake_agent {
	etcd_client *c;
	atomic_int stop;
	atomic_int challenges, answers, max_ms;
	int64_t start_rev;
} fake_agent;

/* X's agent: answers each challenge ANSWER_DELAY_MS after it sees it, on the heartbeat's lease; at the third one,
 * Y's heartbeat appears (its first probe, in the next pass, meets Y's silent port) */
static void *agent_main(void *arg)
{
	fake_agent *a = arg;
	char key[256];
	snprintf(key, sizeof(key), "%s/drain/challenge/%s", prefix, node_ids[0]);
	etcd_watch_opts wo = {.start_revision = a->start_rev, .filter_nodelete = 1};
	etcd_watch *w = NULL;
	if (etcd_watch_open(a->c, key, &wo, &w))
		return NULL;
	while (!atomic_load(&a->stop)) {
		etcd_watch_batch b;
		if (etcd_watch_next(w, &b, 100))
			continue;
		for (size_t k = 0; k < b.n; k++) {
			rec_drain_challenge ch;
			char why[128];
			if (b.events[k].type != ETCD_EV_PUT ||
			    rec_drain_challenge_parse(b.events[k].kv.value, b.events[k].kv.value_len, &ch, why,
						      sizeof(why)) ||
			    ch.answered_ns)
				continue;
			int64_t t0 = sh_mono_ns();
			if (atomic_fetch_add(&a->challenges, 1) == 2)
				put_heartbeat(a->c, 1, "127.0.0.3");
			usleep(ANSWER_DELAY_MS * 1000);
			ch.answered_ns = sh_real_ns();
			char *v = rec_drain_challenge_encode(&ch);
			etcd_put_opts po = {.lease = lease};
			if (v && etcd_put(a->c, key, v, strlen(v), &po, NULL, NULL) == SH_OK) {
				atomic_fetch_add(&a->answers, 1);
				int ms = (int)((sh_mono_ns() - t0) / 1000000);
				if (ms > atomic_load(&a->max_ms))
					atomic_store(&a->max_ms, ms);
			}
			free(v);
		}
		etcd_watch_batch_free(&b);
	}
	etcd_watch_close(w);
	return NULL;
}

static int count_drains(const char *target)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix %s/actions/drain/ --print-value-only", eps, prefix);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
		const cJSON *tg = cJSON_GetObjectItemCaseSensitive(j, "target");
		n += cJSON_IsString(kind) && !strcmp(kind->valuestring, "drain") && cJSON_IsString(tg) &&
		     !strcmp(tg->valuestring, target);
		cJSON_Delete(j);
	}
	pclose(f);
	return n;
}

/* lines of log that hold both a and b */
static int lines_with(const char *log, const char *a, const char *b)
{
	char *s = t_read_file(log);
	int n = 0;
	for (char *l = strtok(s, "\n"); l; l = strtok(NULL, "\n"))
		n += strstr(l, a) && strstr(l, b);
	free(s);
	return n;
}

static void test_answering_agent_never_drained_after_a_slow_round(void)
{
	snprintf(prefix, sizeof(prefix), "%s", t_prefix("drain_chal"));
	prefix[strlen(prefix) - 1] = '\0';
	eng = (tengine){.n = NNODES};
	for (int i = 0; i < NNODES; i++) {
		snprintf(eng.nodes[i].id, sizeof(eng.nodes[i].id), "%s", node_ids[i]);
		snprintf(eng.nodes[i].hostname, sizeof(eng.nodes[i].hostname), "host%d", i + 1);
		eng.nodes[i].version = 10;
	}
	int filler = -1, lsn = silent_port("127.0.0.3", &filler);
	CU_ASSERT_FATAL(lsn >= 0);
	etcd_config cfg = {.endpoints = eps};
	char err[256];
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &ec, err, sizeof(err)), SH_OK);
	int64_t granted = 0;
	CU_ASSERT_EQUAL_FATAL(etcd_lease_grant(ec, 15, &lease, &granted), SH_OK);
	CU_ASSERT_EQUAL_FATAL(put_heartbeat(ec, 0, "127.0.0.2"), 0);
	int64_t rev = 0;
	etcd_kv kv = {0};
	char hkey[256];
	snprintf(hkey, sizeof(hkey), "%s/nodes/%s", prefix, node_ids[0]);
	CU_ASSERT_EQUAL_FATAL(etcd_get(ec, hkey, &kv, &rev), SH_OK);
	etcd_kv_free(&kv);

	fake_agent a = {.start_rev = rev + 1};
	CU_ASSERT_EQUAL_FATAL(etcd_client_dup(ec, &a.c), SH_OK);
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, agent_main, &a), 0);

	CU_ASSERT_EQUAL_FATAL(tengine_start(&eng), 0);
	const char *log = "/tmp/swarmheal-drain-challenge.log";
	int mport = t_free_port();
	pid_t p = t_spawn(log,
			  "%s --controllers drain --endpoints %s --prefix %s --docker-host tcp://127.0.0.1:%d --ttl 2s "
			  "--resync 200ms --metrics-addr 127.0.0.1:%d --max-drained 2",
			  t_bin("swarmheald"), eps, prefix, tengine_port(&eng), mport);
	CU_ASSERT_FATAL(p > 0);

	/* X's agent answers five challenges (one a second while X's port refuses); Y, silent and unanswered, is
	 * drained meanwhile (its death is real) */
	for (int64_t end = t_now_ms() + 12000; t_now_ms() < end && atomic_load(&a.answers) < 5;)
		usleep(50000);
	CU_ASSERT(atomic_load(&a.answers) >= 5);
	CU_ASSERT(atomic_load(&a.max_ms) < 300);
	printf("\n  X answered %d of %d challenges, slowest %d ms; drains of X: %d, of Y: %d\n",
	       atomic_load(&a.answers), atomic_load(&a.challenges), atomic_load(&a.max_ms), count_drains(node_ids[0]),
	       count_drains(node_ids[1]));
	/* the finding: X is never dead nor drained */
	CU_ASSERT_EQUAL(count_drains(node_ids[0]), 0);
	CU_ASSERT_EQUAL(tengine_updates(&eng, 0), 0);
	int dead_lines = lines_with(log, node_ids[0], "did not answer a challenge");
	if (dead_lines)
		printf("  log lines calling X dead: %d (%s)\n", dead_lines, log);
	CU_ASSERT_EQUAL(dead_lines, 0);

	t_stop_clean(p);
	atomic_store(&a.stop, 1);
	pthread_join(th, NULL);
	etcd_client_free(a.c);
	etcd_lease_revoke(ec, lease);
	etcd_client_free(ec);
	tengine_stop(&eng);
	close(filler);
	close(lsn);
}

int main(int argc, char **argv)
{
	eps = t_endpoints();
	if (!eps) {
		fprintf(stderr, "no etcd (SWARMHEAL_TEST_ENDPOINTS): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	static const t_case cases[] = {
		{"answering_agent_never_drained_after_a_slow_round", test_answering_agent_never_drained_after_a_slow_round},
		{NULL, NULL},
	};
	return t_run("drain_challenge", cases, argc, argv);
}
