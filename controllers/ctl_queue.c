/* SPDX-License-Identifier: MIT */
/* ctl_queue.c - keyed work queue with per-key exponential backoff under a global token bucket */
#include "ctl_queue.h"

#include <stdlib.h>
#include <string.h>

enum { K_IDLE, K_QUEUED, K_WORKING };

typedef struct entry {
	char *key;
	int state;
	int requeue;     /* added again while being worked on */
	int64_t requeue_delay; /* ... with this delay after done (ctl_queue_add_after) */
	int failures;
	int64_t ready_at;
	uint64_t seq;    /* FIFO among equally ready keys */
} entry;

struct ctl_queue {
	entry *v;
	size_t n, cap;
	int64_t base, max;
	double rate, tokens;
	int burst;
	int64_t last_refill;
	uint64_t seq;
};

ctl_queue *ctl_queue_new(int64_t base, int64_t max, double rate, int burst)
{
	ctl_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->base = base > 0 ? base : 1000000000;
	q->max = max >= q->base ? max : q->base;
	q->rate = rate > 0 ? rate : 10;
	q->burst = burst > 0 ? burst : 20;
	q->tokens = q->burst;
	q->last_refill = -1;
	return q;
}

void ctl_queue_free(ctl_queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].key);
	free(q->v);
	free(q);
}

static entry *find(const ctl_queue *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].key, key))
			return &q->v[i];
	return NULL;
}

int ctl_queue_add(ctl_queue *q, const char *key, int64_t now)
{
	return ctl_queue_add_after(q, key, now, 0);
}

int ctl_queue_add_after(ctl_queue *q, const char *key, int64_t now, int64_t delay_ns)
{
	if (delay_ns < 0)
		delay_ns = 0;
	entry *e = find(q, key);
	if (!e) {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 16;
			entry *nv = realloc(q->v, cap * sizeof(*nv));
			if (!nv)
				return -1;
			q->v = nv;
			q->cap = cap;
		}
		e = &q->v[q->n];
		memset(e, 0, sizeof(*e));
		e->key = strdup(key);
		if (!e->key)
			return -1;
		q->n++;
	}
	if (e->state == K_WORKING) {
		/* the soonest of the asks wins */
		if (!e->requeue || delay_ns < e->requeue_delay)
			e->requeue_delay = delay_ns;
		e->requeue = 1;
	} else if (e->state == K_IDLE) {
		e->state = K_QUEUED;
		e->ready_at = now + delay_ns;
		e->seq = q->seq++;
	} else if (e->failures == 0 && e->ready_at > now + delay_ns) {
		e->ready_at = now + delay_ns; /* waiting out an add_after, not a backoff: the sooner ask wins */
	}
	/* already queued (maybe backing off): stays once, keeps its time */
	return 0;
}

static void refill(ctl_queue *q, int64_t now)
{
	if (q->last_refill < 0)
		q->last_refill = now;
	double add = (double)(now - q->last_refill) / 1e9 * q->rate;
	if (add > 0) {
		q->tokens = q->tokens + add > q->burst ? q->burst : q->tokens + add;
		q->last_refill = now;
	}
}

int ctl_queue_get(ctl_queue *q, int64_t now, char *key, size_t len)
{
	refill(q, now);
	if (q->tokens < 1)
		return 0;
	entry *best = NULL;
	for (size_t i = 0; i < q->n; i++) {
		entry *e = &q->v[i];
		if (e->state != K_QUEUED || e->ready_at > now)
			continue;
		if (!best || e->seq < best->seq)
			best = e;
	}
	if (!best)
		return 0;
	q->tokens -= 1;
	best->state = K_WORKING;
	best->requeue = 0;
	best->requeue_delay = 0;
	size_t kl = strlen(best->key);
	if (kl >= len)
		kl = len - 1;
	memcpy(key, best->key, kl);
	key[kl] = '\0';
	return 1;
}

void ctl_queue_done(ctl_queue *q, const char *key, int64_t now, int ok)
{
	entry *e = find(q, key);
	if (!e || e->state != K_WORKING)
		return;
	if (ok) {
		e->failures = 0;
		if (e->requeue) {
			e->state = K_QUEUED;
			e->ready_at = now + e->requeue_delay;
			e->seq = q->seq++;
		} else {
			e->state = K_IDLE;
		}
		return;
	}
	int64_t d = q->base;
	for (int i = 0; i < e->failures && d < q->max; i++)
		d *= 2;
	if (d > q->max)
		d = q->max;
	e->failures++;
	e->state = K_QUEUED;
	e->ready_at = now + d;
	e->seq = q->seq++;
}

int ctl_queue_failures(const ctl_queue *q, const char *key)
{
	entry *e = find(q, key);
	return e ? e->failures : 0;
}

int ctl_queue_backing_off(const ctl_queue *q, const char *key, int64_t now)
{
	entry *e = find(q, key);
	return e && e->state == K_QUEUED && e->ready_at > now;
}

size_t ctl_queue_len(const ctl_queue *q)
{
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		n += q->v[i].state == K_QUEUED;
	return n;
}

int64_t ctl_queue_next_ready(const ctl_queue *q)
{
	int64_t t = INT64_MAX;
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].state == K_QUEUED && q->v[i].ready_at < t)
			t = q->v[i].ready_at;
	/* a ready key with no token left waits for the next token, not in a busy loop */
	if (t != INT64_MAX && q->tokens < 1 && q->last_refill >= 0) {
		int64_t tok = q->last_refill + (int64_t)((1 - q->tokens) / q->rate * 1e9) + 1;
		if (tok > t)
			t = tok;
	}
	return t;
}
