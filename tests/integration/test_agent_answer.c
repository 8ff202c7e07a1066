/* SPDX-License-Identifier: MIT */
/* test_agent_answer.c - swarmheal-agent's challenge thread (cmd/swarmheal-agent/answer.h) against a private etcd
 * and a scripted engine: it answers a challenge, and still answers after etcd was killed and restarted and after
 * the key's history was compacted; a SIGTERM ends the agent cleanly (the thread joined) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "rec_drain.h"
#include "rec_heartbeat.h"
#include "sh_util.h"
#include "tengine.h"
#include "tmain.h"
#include "tsupport.h"

#define NODE "agentanswern1"

/* an engine that is a swarm worker (its /info; /version and /_ping are the scripted engine's own routes) */
static char *info(tengine *e, const char *req)
{
	(void)e;
	if (!tengine_is(req, "GET /v1.41/info "))
		return NULL;
	return tengine_reply(200, "{\"Name\":\"host1\",\"ServerVersion\":\"scripted\",\"DockerRootDir\":\"/nonexistent\","
				  "\"Swarm\":{\"NodeID\":\"" NODE "\",\"NodeAddr\":\"127.0.0.9\","
				  "\"LocalNodeState\":\"active\",\"ControlAvailable\":false}}");
}

static etcd_client *ec;
static char prefix[128], hkey[256], ckey[256];

/* the heartbeat's lease, once the agent's heartbeat says answers_challenge (0 none yet) */
static int64_t heartbeat_lease(void)
{
	etcd_kv kv = {0};
	rec_heartbeat h;
	char why[128];
	int64_t lease = 0;
	if (etcd_get(ec, hkey, &kv, NULL) == SH_OK && kv.value &&
	    rec_heartbeat_parse(kv.value, kv.value_len, &h, why, sizeof(why)) == SH_OK && h.answers_challenge)
		lease = kv.lease;
	etcd_kv_free(&kv);
	return lease;
}

/* write a challenge with nonce on the lease (0: none), as the drain leader does */
static int write_challenge(const char *nonce, int64_t lease)
{
	rec_drain_challenge c = {.ts_ns = sh_real_ns()};
	snprintf(c.nonce, sizeof(c.nonce), "%s", nonce);
	char *v = rec_drain_challenge_encode(&c);
	etcd_put_opts po = {.lease = lease};
	sh_err e = v ? etcd_put(ec, ckey, v, strlen(v), &po, NULL, NULL) : SH_E_NOMEM;
	free(v);
	if (e)
		fprintf(stderr, "cannot write the challenge: %s\n", etcd_errmsg(ec));
	return e == SH_OK;
}

/* 1 when the key holds the agent's answer to nonce within ms */
static int answer_seen(const char *nonce, int ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(20000)) {
		etcd_kv kv = {0};
		rec_drain_challenge a;
		char why[128];
		int ok = etcd_get(ec, ckey, &kv, NULL) == SH_OK && kv.value &&
			 rec_drain_challenge_parse(kv.value, kv.value_len, &a, why, sizeof(why)) == SH_OK &&
			 a.answered_ns && !strcmp(a.nonce, nonce);
		etcd_kv_free(&kv);
		if (ok)
			return 1;
	}
	return 0;
}

/* write a challenge; 1 when the agent answers it within ms */
static int challenge_answered(const char *nonce, int64_t lease, int ms)
{
	return write_challenge(nonce, lease) && answer_seen(nonce, ms);
}

static void test_answers_across_etcd_restart_and_compaction(void)
{
	tetcd et;
	CU_ASSERT_EQUAL_FATAL(tetcd_start(&et, NULL), 0);
	snprintf(prefix, sizeof(prefix), "/agentanswer");
	snprintf(hkey, sizeof(hkey), "%s/nodes/%s", prefix, NODE);
	snprintf(ckey, sizeof(ckey), "%s/drain/challenge/%s", prefix, NODE);
	etcd_config cfg = {.endpoints = et.endpoint};
	char err[256];
	CU_ASSERT_EQUAL_FATAL(etcd_client_new(&cfg, &ec, err, sizeof(err)), SH_OK);
	static tengine eng; /* static: a failed FATAL assertion leaves its thread running */
	eng = (tengine){.hook = info};
	CU_ASSERT_EQUAL_FATAL(tengine_start(&eng), 0);
	const char *log = "/tmp/swarmheal-agent-answer.log";
	/* a challenge already there when the agent starts, read before it has a lease: answered once it has one */
	CU_ASSERT_FATAL(write_challenge("0a", 0));
	pid_t p = t_spawn(log, "%s --endpoints %s --prefix %s --docker-host tcp://127.0.0.1:%d --ttl 15s",
			  t_bin("swarmheal-agent"), et.endpoint, prefix, tengine_port(&eng));
	CU_ASSERT_FATAL(p > 0);
	int64_t lease = 0;
	for (int64_t end = t_now_ms() + 10000; t_now_ms() < end && !(lease = heartbeat_lease());)
		usleep(50000);
	CU_ASSERT_FATAL(lease != 0);
	CU_ASSERT(answer_seen("0a", 3000));

	/* answered at once */
	int64_t t0 = t_now_ms();
	CU_ASSERT(challenge_answered("a1", lease, 2000));
	printf("\n  answered in %lld ms\n", (long long)(t_now_ms() - t0));

	/* etcd killed and restarted (same data): the agent's watch resumes, the next challenge is answered */
	tetcd_kill(&et);
	usleep(1000000); /* the fault itself: etcd down for 1 s, the agent's watch cut */
	CU_ASSERT_EQUAL_FATAL(tetcd_restart(&et), 0);
	t0 = t_now_ms();
	CU_ASSERT(challenge_answered("b2", lease, 10000));
	printf("  after an etcd restart: answered in %lld ms\n", (long long)(t_now_ms() - t0));

	/* history compacted past the agent's position while it waits: still answered */
	int64_t rev = 0;
	for (int i = 0; i < 20; i++)
		etcd_put(ec, "/agentanswer-other", "x", 1, NULL, &rev, NULL);
	CU_ASSERT_EQUAL(t_sh("ETCDCTL_API=3 etcdctl --endpoints=%s compact %lld >/dev/null", et.endpoint,
			     (long long)rev),
			0);
	CU_ASSERT(challenge_answered("c3", lease, 5000));

	/* a clean stop: the stop mark, the thread joined, exit 0 */
	t_stop_clean(p);
	CU_ASSERT(t_wait_file(log, "stop mark written", 1000));
	etcd_client_free(ec);
	tengine_stop(&eng);
	tetcd_stop(&et);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"answers_across_etcd_restart_and_compaction", test_answers_across_etcd_restart_and_compaction},
		{NULL, NULL},
	};
	return t_run("agent_answer", cases, argc, argv);
}
