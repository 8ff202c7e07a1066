/* SPDX-License-Identifier: MIT */
/* answer.h - the agent's half of the drain challenge: answer PREFIX/drain/challenge/NODEID at once */
#ifndef AGENT_ANSWER_H
#define AGENT_ANSWER_H

#include <signal.h>
#include <stdint.h>

#include "etcd.h"
#include "sh_err.h"

/*
 * The drain leader challenges the agent of a node whose gossip port 7946 stops
 * answering while its heartbeat lives (controllers/drain/drain.h, "Early
 * suspicion"): it writes a rec_drain_challenge (nonce, ts) to
 * PREFIX/drain/challenge/NODEID on the heartbeat's lease. A thread of the agent
 * watches that one key (an idle watch costs etcd nothing per second) and puts
 * the same nonce back with `answered` on the heartbeat's lease at once; no
 * answer within the leader's --drain-challenge-timeout (500 ms) is its second
 * signal that the node is dead. A challenge that was written before the watch
 * began is answered too (the key is read first, then watched from the revision
 * after that read; a compacted watch starts over the same way). A challenge
 * seen while there is no lease yet, or whose answer's put fails, is tried again
 * every 50 ms for 2 s (an answer later than the leader's timeout is useless).
 *
 * The thread uses etcd, its own client (the caller's is not shared), for
 * everything; its puts use that client's request timeout.
 */
typedef struct agent_answer agent_answer;

/* Start the thread. etcd: a client of the thread's own (taken over: freed by agent_answer_stop, also when this
 * fails); key: the node's challenge key; stop: the process's stop flag (the thread ends within 200 ms of it
 * being set while it waits on its watch; a read, watch open or answer in flight first ends, within the client's
 * request timeout, 5 s by default, when etcd does not answer). SH_OK; SH_E_INVAL when key is longer than 511
 * bytes; SH_E_NOMEM (no memory or no thread). */
sh_err agent_answer_start(etcd_client *etcd, const char *key, volatile sig_atomic_t *stop, agent_answer **out);
/* The heartbeat's current lease (0: none; challenges are not answered meanwhile). Any thread. */
void agent_answer_set_lease(agent_answer *a, int64_t lease);
/* Challenges answered so far. Any thread. */
long agent_answer_count(agent_answer *a);
/* Wait for the thread to end (the stop flag must be set) and free everything. NULL is fine. */
void agent_answer_stop(agent_answer *a);

#endif
