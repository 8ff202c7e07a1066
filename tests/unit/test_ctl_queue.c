/* SPDX-License-Identifier: MIT */
/* test_ctl_queue.c - the work queue: dedup, one worker per key, per-key backoff, global rate limit */
#include <string.h>

#include "ctl_queue.h"
#include "tmain.h"

#define S INT64_C(1000000000)

static void test_dedup_and_fifo(void)
{
	ctl_queue *q = ctl_queue_new(S, 60 * S, 100, 100);
	ctl_queue_add(q, "a", 0);
	ctl_queue_add(q, "b", 0);
	ctl_queue_add(q, "a", 0);
	CU_ASSERT_EQUAL(ctl_queue_len(q), 2);
	char k[16];
	CU_ASSERT_TRUE(ctl_queue_get(q, 0, k, sizeof(k)));
	CU_ASSERT_STRING_EQUAL(k, "a");
	CU_ASSERT_TRUE(ctl_queue_get(q, 0, k, sizeof(k)));
	CU_ASSERT_STRING_EQUAL(k, "b");
	CU_ASSERT_FALSE(ctl_queue_get(q, 0, k, sizeof(k)));
	ctl_queue_free(q);
}

static void test_one_worker_per_key(void)
{
	ctl_queue *q = ctl_queue_new(S, 60 * S, 100, 100);
	char k[16];
	ctl_queue_add(q, "a", 0);
	CU_ASSERT_TRUE(ctl_queue_get(q, 0, k, sizeof(k)));
	/* added while being worked on: not handed out again until done */
	ctl_queue_add(q, "a", 0);
	CU_ASSERT_FALSE(ctl_queue_get(q, 0, k, sizeof(k)));
	ctl_queue_done(q, "a", 1, 1);
	CU_ASSERT_TRUE(ctl_queue_get(q, 1, k, sizeof(k)));
	CU_ASSERT_STRING_EQUAL(k, "a");
	ctl_queue_done(q, "a", 2, 1);
	CU_ASSERT_FALSE(ctl_queue_get(q, 2, k, sizeof(k)));
	ctl_queue_free(q);
}

static void test_backoff_capped_and_reset(void)
{
	ctl_queue *q = ctl_queue_new(S, 4 * S, 1000, 1000);
	char k[16];
	int64_t now = 0;
	ctl_queue_add(q, "n", now);
	int64_t want[] = {1, 2, 4, 4, 4};
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_TRUE(ctl_queue_get(q, now, k, sizeof(k)));
		ctl_queue_done(q, "n", now, 0);
		CU_ASSERT_TRUE(ctl_queue_backing_off(q, "n", now));
		CU_ASSERT_EQUAL(ctl_queue_next_ready(q), now + want[i] * S);
		CU_ASSERT_FALSE(ctl_queue_get(q, now + want[i] * S - 1, k, sizeof(k)));
		now += want[i] * S;
	}
	CU_ASSERT_EQUAL(ctl_queue_failures(q, "n"), 5);
	CU_ASSERT_TRUE(ctl_queue_get(q, now, k, sizeof(k)));
	ctl_queue_done(q, "n", now, 1);
	CU_ASSERT_EQUAL(ctl_queue_failures(q, "n"), 0);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), INT64_MAX);
	/* adding a key that is backing off does not cut its wait */
	ctl_queue_add(q, "n", now);
	CU_ASSERT_TRUE(ctl_queue_get(q, now, k, sizeof(k)));
	ctl_queue_done(q, "n", now, 0);
	ctl_queue_add(q, "n", now);
	CU_ASSERT_FALSE(ctl_queue_get(q, now, k, sizeof(k)));
	ctl_queue_free(q);
}

static void test_global_rate_limit(void)
{
	/* 2 per second, burst 3 */
	ctl_queue *q = ctl_queue_new(S, 60 * S, 2, 3);
	char k[16], name[8];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		ctl_queue_add(q, name, 0);
	}
	int got = 0;
	while (ctl_queue_get(q, 0, k, sizeof(k)))
		got++;
	CU_ASSERT_EQUAL(got, 3);
	CU_ASSERT_EQUAL(ctl_queue_len(q), 7);
	while (ctl_queue_get(q, S, k, sizeof(k)))
		got++;
	CU_ASSERT_EQUAL(got, 5);
	ctl_queue_free(q);
}

static void test_add_after(void)
{
	ctl_queue *q = ctl_queue_new(S, 60 * S, 10, 20);
	char k[16];
	const int64_t ms = 1000000;
	/* idle: ready after the delay */
	ctl_queue_add_after(q, "s", 0, 200 * ms);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), 200 * ms);
	CU_ASSERT_FALSE(ctl_queue_get(q, 199 * ms, k, sizeof(k)));
	CU_ASSERT_TRUE(ctl_queue_get(q, 200 * ms, k, sizeof(k)));
	/* asked again while in hands: queued that long after done */
	ctl_queue_add_after(q, "s", 210 * ms, 200 * ms);
	ctl_queue_done(q, "s", 300 * ms, 1);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), 500 * ms);
	/* an ask for sooner wins; a later one does not postpone */
	ctl_queue_add_after(q, "s", 310 * ms, 900 * ms);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), 500 * ms);
	ctl_queue_add(q, "s", 320 * ms);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), 320 * ms);
	/* but a backoff is never cut short */
	CU_ASSERT_TRUE(ctl_queue_get(q, 320 * ms, k, sizeof(k)));
	ctl_queue_done(q, "s", 320 * ms, 0);
	ctl_queue_add_after(q, "s", 330 * ms, 0);
	CU_ASSERT_EQUAL(ctl_queue_next_ready(q), 320 * ms + S);
	ctl_queue_free(q);
}

static void test_next_ready_waits_for_a_token(void)
{
	/* 2 per second, burst 1: with the bucket empty a ready key is due when the next token is */
	ctl_queue *q = ctl_queue_new(S, 60 * S, 2, 1);
	char k[16];
	ctl_queue_add(q, "a", 0);
	ctl_queue_add(q, "b", 0);
	CU_ASSERT_TRUE(ctl_queue_get(q, 0, k, sizeof(k)));
	CU_ASSERT_FALSE(ctl_queue_get(q, 0, k, sizeof(k)));
	int64_t nr = ctl_queue_next_ready(q);
	CU_ASSERT(nr > S / 2 - 10 && nr <= S / 2 + 10);
	CU_ASSERT_TRUE(ctl_queue_get(q, nr, k, sizeof(k)));
	ctl_queue_free(q);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"dedup_and_fifo", test_dedup_and_fifo},
		{"one_worker_per_key", test_one_worker_per_key},
		{"backoff_capped_and_reset", test_backoff_capped_and_reset},
		{"global_rate_limit", test_global_rate_limit},
		{"add_after", test_add_after},
		{"next_ready_waits_for_a_token", test_next_ready_waits_for_a_token},
		{NULL, NULL},
	};
	return t_run("ctl_queue", cases, argc, argv);
}
