/* SPDX-License-Identifier: MIT */
/* ctl_queue.h - work queue of keys: never a key twice, never one key in two hands, per-key backoff, global rate limit */
#ifndef CTL_QUEUE_H
#define CTL_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Like client-go's rate-limited work queue. A key added while queued stays
 * once; a key added while being worked on is queued again when done. done()
 * with failure re-queues it after base << failures (capped at max); success
 * forgets its failures. get() hands out ready keys while the global token
 * bucket (rate per second, burst) allows. Clock: caller's monotonic ns.
 */
typedef struct ctl_queue ctl_queue;

ctl_queue *ctl_queue_new(int64_t base_backoff_ns, int64_t max_backoff_ns, double rate_per_s, int burst);
void ctl_queue_free(ctl_queue *q);
/* 0 ok, -1 no memory */
int ctl_queue_add(ctl_queue *q, const char *key, int64_t now);
/* Like ctl_queue_add, ready delay_ns after now (client-go's AddAfter): to look at a key again soon. A key
 * already queued keeps the sooner time (a backoff is never cut short); one being worked on is queued again
 * delay_ns after it is done. 0 ok, -1 no memory */
int ctl_queue_add_after(ctl_queue *q, const char *key, int64_t now, int64_t delay_ns);
/* 1 and key copied when a key is ready and the rate allows; 0 otherwise */
int ctl_queue_get(ctl_queue *q, int64_t now, char *key, size_t len);
void ctl_queue_done(ctl_queue *q, const char *key, int64_t now, int ok);
/* failures recorded for key (0 when none) */
int ctl_queue_failures(const ctl_queue *q, const char *key);
/* is key waiting out a backoff at now? */
int ctl_queue_backing_off(const ctl_queue *q, const char *key, int64_t now);
/* keys queued (waiting or backing off), not counting those being worked on */
size_t ctl_queue_len(const ctl_queue *q);
/* earliest time a queued key becomes ready and a token allows it (INT64_MAX when none) */
int64_t ctl_queue_next_ready(const ctl_queue *q);

#endif
