/* SPDX-License-Identifier: MIT */
/* etcd_session.c - a lease kept alive by a thread of its own, with a locally known deadline */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd_concurrency.h"
#include "etcd_internal.h"

struct etcd_session {
	etcd_client *c; /* the thread's own client */
	etcd_client *owner; /* the creator's client: grant and revoke go through it */
	int64_t lease, ttl;
	_Atomic int64_t deadline;
	atomic_int lost;
	atomic_int stop;
	atomic_int revoke_now; /* the thread revokes on its own client, then ends */
	_Atomic(_Atomic int64_t *) sink;
	_Atomic int64_t period;  /* normal keepalive period (ns) */
	_Atomic int64_t max_gap; /* longest keepalive gap (ns) */
	atomic_long keepalives, failures;
	void (*gap_fn)(void *arg, int64_t gap_ns); /* under mu */
	void *gap_arg;
	int64_t granted_at; /* send time of the grant */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char errbuf[256];
};

void etcd_client_set_timeout(etcd_client *c, long timeout_ms)
{
	if (timeout_ms > 0) {
		c->timeout_ms = timeout_ms;
		if (c->connect_timeout_ms > timeout_ms)
			c->connect_timeout_ms = timeout_ms;
	}
}

int64_t etcd_session_lease(const etcd_session *s)
{
	return s->lease;
}

int64_t etcd_session_ttl(const etcd_session *s)
{
	return s->ttl;
}

int64_t etcd_session_deadline(const etcd_session *s)
{
	return atomic_load(&s->deadline);
}

int etcd_session_alive(const etcd_session *s)
{
	return !atomic_load(&s->lost) && sh_mono_ns() < atomic_load(&s->deadline);
}

void etcd_session_set_sink(etcd_session *s, _Atomic int64_t *sink)
{
	if (sink)
		atomic_store(sink, atomic_load(&s->deadline));
	atomic_store(&s->sink, sink);
}

void etcd_session_errmsg(etcd_session *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	if (!s->errbuf[0] && sh_mono_ns() >= atomic_load(&s->deadline))
		snprintf(s->errbuf, sizeof(s->errbuf), "lease %llx passed its deadline without a keepalive",
			 (unsigned long long)s->lease);
	snprintf(buf, len, "%s", s->errbuf);
	pthread_mutex_unlock(&s->mu);
}

static void set_deadline(etcd_session *s, int64_t d)
{
	atomic_store(&s->deadline, d);
	_Atomic int64_t *sink = atomic_load(&s->sink);
	if (sink)
		atomic_store(sink, d);
}

int64_t etcd_session_period(int64_t ttl_ns, int64_t budget_ns)
{
	if (budget_ns <= 0 || budget_ns > ttl_ns)
		budget_ns = ttl_ns;
	int64_t p = budget_ns - ETCD_SESSION_ELECTION_NS - ETCD_SESSION_SLACK_NS;
	if (p > ttl_ns / 3)
		p = ttl_ns / 3;
	if (p < ETCD_SESSION_MIN_PERIOD_NS)
		p = ETCD_SESSION_MIN_PERIOD_NS;
	return p;
}

long etcd_session_request_timeout(int64_t ttl_ns)
{
	int64_t t = ttl_ns / 16 / SH_NS_PER_MS;
	return t < 200 ? 200 : t > 1000 ? 1000 : (long)t;
}

int64_t etcd_session_next_send(int64_t last_ok, int64_t last_try, int64_t now, int64_t deadline, int64_t period,
			       int failures)
{
	int64_t next;
	if (failures == 0)
		next = last_ok + period;
	else if (failures == 1)
		next = now;
	else
		next = last_try + ETCD_SESSION_RETRY_NS > now ? last_try + ETCD_SESSION_RETRY_NS : now;
	return next < deadline ? next : deadline;
}

void etcd_session_set_budget(etcd_session *s, int64_t budget_ns)
{
	atomic_store(&s->period, etcd_session_period(s->ttl * SH_NS_PER_S, budget_ns));
	pthread_mutex_lock(&s->mu);
	pthread_cond_signal(&s->cv); /* reschedule with the new period */
	pthread_mutex_unlock(&s->mu);
}

int64_t etcd_session_keepalive_period(const etcd_session *s)
{
	return atomic_load(&s->period);
}

void etcd_session_set_gap_hook(etcd_session *s, void (*fn)(void *arg, int64_t gap_ns), void *arg)
{
	pthread_mutex_lock(&s->mu);
	s->gap_fn = fn;
	s->gap_arg = arg;
	pthread_mutex_unlock(&s->mu);
}

int64_t etcd_session_max_gap_ns(const etcd_session *s)
{
	return atomic_load(&s->max_gap);
}

long etcd_session_keepalives(const etcd_session *s)
{
	return atomic_load(&s->keepalives);
}

long etcd_session_failures(const etcd_session *s)
{
	return atomic_load(&s->failures);
}

static void *session_loop(void *arg)
{
	etcd_session *s = arg;
	int64_t last_ok = s->granted_at, last_try = last_ok, end = last_ok;
	int failures = 0;
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop)) {
		int64_t next = etcd_session_next_send(last_ok, last_try, end, atomic_load(&s->deadline),
						      atomic_load(&s->period), failures);
		struct timespec ts = {(time_t)(next / SH_NS_PER_S), (long)(next % SH_NS_PER_S)};
		if (sh_mono_ns() < next)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (atomic_load(&s->revoke_now)) {
			pthread_mutex_unlock(&s->mu);
			etcd_lease_revoke(s->c, s->lease);
			pthread_mutex_lock(&s->mu);
			atomic_store(&s->lost, 1);
			break;
		}
		if (atomic_load(&s->stop))
			break;
		int64_t now = sh_mono_ns();
		if (now >= atomic_load(&s->deadline)) {
			/* the lease may already be gone on the server: lost for good */
			snprintf(s->errbuf, sizeof(s->errbuf),
				 "lease %llx passed its deadline without a keepalive (%d attempts failed, last: %s)",
				 (unsigned long long)s->lease, failures, etcd_errmsg(s->c));
			atomic_store(&s->lost, 1);
			break;
		}
		/* woken early (a new budget, a spurious wake-up): recompute */
		if (now < etcd_session_next_send(last_ok, last_try, end, atomic_load(&s->deadline),
						 atomic_load(&s->period), failures))
			continue;
		pthread_mutex_unlock(&s->mu);
		size_t cur = s->c->cur;
		int64_t sent = sh_mono_ns(), ttl = 0;
		last_try = sent;
		sh_err e = etcd_lease_keepalive(s->c, s->lease, &ttl);
		end = sh_mono_ns();
		pthread_mutex_lock(&s->mu);
		if (e == SH_OK && end >= atomic_load(&s->deadline)) {
			/* answered too late: owners may have seen the deadline pass and stopped;
			 * a session once past its deadline stays lost */
			snprintf(s->errbuf, sizeof(s->errbuf),
				 "lease %llx passed its deadline before a keepalive was answered (%d attempts failed)",
				 (unsigned long long)s->lease, failures);
			atomic_store(&s->lost, 1);
			break;
		} else if (e == SH_OK) {
			int64_t d = sent + ttl * SH_NS_PER_S;
			/* never move the deadline past what the granted TTL allows */
			if (ttl > s->ttl)
				d = sent + s->ttl * SH_NS_PER_S;
			set_deadline(s, d);
			int64_t gap = end - last_ok;
			if (gap > atomic_load(&s->max_gap))
				atomic_store(&s->max_gap, gap);
			atomic_fetch_add(&s->keepalives, 1);
			last_ok = sent;
			failures = 0;
			void (*fn)(void *, int64_t) = s->gap_fn;
			void *fa = s->gap_arg;
			if (fn) {
				pthread_mutex_unlock(&s->mu);
				fn(fa, gap);
				pthread_mutex_lock(&s->mu);
			}
		} else if (e == SH_E_LEASE_LOST) {
			snprintf(s->errbuf, sizeof(s->errbuf), "%s", etcd_errmsg(s->c));
			atomic_store(&s->lost, 1);
			break;
		} else {
			/* no leader, leader changed, unavailable, timed out, refused:
			 * the next member at once, then at most every RETRY until the deadline */
			atomic_fetch_add(&s->failures, 1);
			failures++;
			if (s->c->cur == cur && s->c->neps > 1)
				s->c->cur = (s->c->cur + 1) % s->c->neps;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

sh_err etcd_session_new(etcd_client *c, int64_t ttl_s, etcd_session **out)
{
	*out = NULL;
	if (ttl_s < 1) {
		etcd_setf(c, "session TTL must be at least 1 second");
		return SH_E_INVAL;
	}
	etcd_session *s = calloc(1, sizeof(*s));
	if (!s)
		return SH_E_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	sh_err e = etcd_client_dup(c, &s->c);
	if (e) {
		etcd_setf(c, "out of memory creating session client");
		goto fail;
	}
	int64_t sent = sh_mono_ns(), granted = 0;
	e = etcd_lease_grant(c, ttl_s, &s->lease, &granted);
	if (e)
		goto fail;
	s->ttl = granted > 0 && granted < ttl_s ? granted : ttl_s;
	s->owner = c;
	s->granted_at = sent;
	/* a keepalive that hangs (at a member waiting for a leader) is cut short and retried elsewhere */
	long ka_timeout = etcd_session_request_timeout(s->ttl * SH_NS_PER_S);
	etcd_client_set_timeout(s->c, ka_timeout < c->timeout_ms ? ka_timeout : c->timeout_ms);
	atomic_store(&s->period, etcd_session_period(s->ttl * SH_NS_PER_S, 0));
	atomic_store(&s->deadline, sent + s->ttl * SH_NS_PER_S);
	if (pthread_create(&s->thr, NULL, session_loop, s)) {
		etcd_lease_revoke(c, s->lease);
		etcd_setf(c, "cannot start session thread");
		e = SH_E_NOMEM;
		goto fail;
	}
	*out = s;
	return SH_OK;
fail:
	etcd_client_free(s->c);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return e;
}

void etcd_session_revoke_start(etcd_session *s)
{
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->revoke_now, 1);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void etcd_session_close(etcd_session *s, int revoke)
{
	if (!s)
		return;
	if (atomic_load(&s->revoke_now))
		revoke = 0; /* already done by the thread */
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, 1);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* revoke at once, on the owner's connection (already open), while the thread
	 * winds down on its own client: a keepalive it may still have in flight
	 * touches nothing of ours, and its answer no longer matters */
	if (revoke)
		etcd_lease_revoke(s->owner, s->lease);
	pthread_join(s->thr, NULL);
	atomic_store(&s->deadline, 0);
	etcd_client_free(s->c);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
