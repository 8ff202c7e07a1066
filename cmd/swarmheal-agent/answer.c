/* SPDX-License-Identifier: MIT */
/* answer.c - the agent's half of the drain challenge (answer.h) */
#include "answer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec_drain.h"
#include "sh_log.h"
#include "sh_util.h"

struct agent_answer {
	etcd_client *etcd;
	char key[512];
	volatile sig_atomic_t *stop;
	_Atomic int64_t lease;
	atomic_long answered;
	int64_t bad_rev; /* the mod_revision of a malformed challenge already warned about */
	rec_drain_challenge pending; /* the newest challenge not answered yet (nonce "" none), seen at pending_since */
	int64_t pending_since;
	int failing;     /* the last answer's put failed (logged once until one succeeds) */
	pthread_t th;
};

/* put the pending challenge's answer on the current lease; kept pending (retried by the loop) when there is no
 * lease yet or the put fails, for up to ANSWER_RETRY_NS after it was seen */
#define ANSWER_RETRY_NS (2000 * INT64_C(1000000))
static void try_answer(agent_answer *a)
{
	if (!a->pending.nonce[0])
		return;
	if (sh_mono_ns() - a->pending_since > ANSWER_RETRY_NS) {
		sh_log("error", "agent", "challenge given up: not answered within 2s | nonce=%s", a->pending.nonce);
		a->pending.nonce[0] = '\0';
		return;
	}
	int64_t lease = atomic_load(&a->lease);
	if (!lease)
		return; /* no heartbeat lease yet (or being replaced): retried */
	rec_drain_challenge c = a->pending;
	c.answered_ns = sh_real_ns();
	char *v = rec_drain_challenge_encode(&c);
	etcd_put_opts po = {.lease = lease};
	int64_t t0 = sh_mono_ns();
	sh_err e = v ? etcd_put(a->etcd, a->key, v, strlen(v), &po, NULL, NULL) : SH_E_NOMEM;
	free(v);
	if (e) {
		if (!a->failing)
			sh_log("error", "agent", "cannot answer a challenge, retrying | nonce=%s error=\"%s\"", c.nonce,
			       e == SH_E_NOMEM ? "out of memory" : etcd_errmsg(a->etcd));
		a->failing = 1;
		return;
	}
	a->failing = 0;
	a->pending.nonce[0] = '\0';
	atomic_fetch_add(&a->answered, 1);
	sh_log("info", "agent", "answered a challenge | nonce=%s put_ms=%.1f since_seen_ms=%.1f", c.nonce,
	       (double)(sh_mono_ns() - t0) / 1e6, (double)(sh_mono_ns() - a->pending_since) / 1e6);
}

/* one version of the key: a challenge (not our own answer) becomes the pending one, answered at once */
static void answer(agent_answer *a, const etcd_kv *kv)
{
	rec_drain_challenge c;
	char why[160];
	if (rec_drain_challenge_parse(kv->value, kv->value_len, &c, why, sizeof(why))) {
		if (kv->mod_revision != a->bad_rev)
			sh_log("warn", "agent", "malformed challenge, not answered | key=%s error=\"%s\"", a->key, why);
		a->bad_rev = kv->mod_revision;
		return;
	}
	if (c.answered_ns)
		return; /* an answer (ours) */
	a->pending = c;
	a->pending_since = sh_mono_ns();
	try_answer(a);
}

static void *answer_main(void *arg)
{
	agent_answer *a = arg;
	while (!*a->stop) {
		/* read the key, then watch it from the revision after that read: nothing is missed in between */
		etcd_range_result r = {0};
		if (etcd_range(a->etcd, a->key, NULL, &r)) {
			sh_log("warn", "agent", "cannot read the challenge key, retrying | key=%s error=\"%s\"", a->key,
			       etcd_errmsg(a->etcd));
			sh_sleep_ms(500, a->stop);
			continue;
		}
		if (r.n)
			answer(a, &r.kvs[0]);
		etcd_watch_opts wo = {.start_revision = r.revision + 1, .filter_nodelete = 1};
		etcd_range_result_free(&r);
		etcd_watch *w = NULL;
		if (etcd_watch_open(a->etcd, a->key, &wo, &w)) {
			sh_log("warn", "agent", "cannot watch the challenge key, retrying | key=%s error=\"%s\"", a->key,
			       etcd_errmsg(a->etcd));
			sh_sleep_ms(500, a->stop);
			continue;
		}
		while (!*a->stop) {
			etcd_watch_batch b;
			sh_err e = etcd_watch_next(w, &b, a->pending.nonce[0] ? 50 : 200);
			try_answer(a); /* one seen earlier, waiting for a lease or after a failed put */
			if (e == SH_OK) {
				for (size_t i = 0; i < b.n; i++)
					if (b.events[i].type == ETCD_EV_PUT)
						answer(a, &b.events[i].kv);
				etcd_watch_batch_free(&b);
			} else if (e != SH_E_TIMEOUT && e != SH_E_UNREACHABLE) {
				/* compacted, or the watch ended: read and watch afresh */
				sh_log("warn", "agent", "challenge watch ended, reopening | key=%s error=\"%s\"", a->key,
				       etcd_watch_errmsg(w));
				break;
			}
		}
		etcd_watch_close(w);
	}
	return NULL;
}

sh_err agent_answer_start(etcd_client *etcd, const char *key, volatile sig_atomic_t *stop, agent_answer **out)
{
	*out = NULL;
	agent_answer *a = calloc(1, sizeof(*a));
	if (!a || strlen(key) >= sizeof(a->key)) {
		free(a);
		etcd_client_free(etcd);
		return a ? SH_E_INVAL : SH_E_NOMEM;
	}
	a->etcd = etcd;
	a->stop = stop;
	snprintf(a->key, sizeof(a->key), "%s", key);
	atomic_init(&a->lease, 0);
	atomic_init(&a->answered, 0);
	if (pthread_create(&a->th, NULL, answer_main, a)) {
		etcd_client_free(etcd);
		free(a);
		return SH_E_NOMEM;
	}
	*out = a;
	return SH_OK;
}

void agent_answer_set_lease(agent_answer *a, int64_t lease)
{
	if (a)
		atomic_store(&a->lease, lease);
}

long agent_answer_count(agent_answer *a)
{
	return a ? atomic_load(&a->answered) : 0;
}

void agent_answer_stop(agent_answer *a)
{
	if (!a)
		return;
	pthread_join(a->th, NULL);
	etcd_client_free(a->etcd);
	free(a);
}
