/* SPDX-License-Identifier: MIT */
/* rec_drain.h - /drain/state/NODEID (the drain controller's memory) and /drain/requests/NODEID (a person's ask) */
#ifndef REC_DRAIN_H
#define REC_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/* state: none, draining, drained, restoring, restored, reactivated-by-person
 * (draining/restoring: the intent is recorded, the engine call may not be). */
typedef struct rec_drain_state {
	char state[24];
	char reason[300];
	int64_t since_ns;   /* real time the state was entered */
	int64_t flaps;      /* failures soon after a restore: the restore hold-off exponent, 0..31 */
	int64_t fence;      /* the writer's fencing token (its election key's create_revision) */
	char monitor[16];   /* monitoring state when written: unmonitored, monitored, suspect, dead; "" unknown */
} rec_drain_state;

int rec_drain_state_key(char *buf, size_t len, const char *prefix, const char *node_id);
char *rec_drain_state_encode(const rec_drain_state *r);
/* SH_E_MALFORMED when not JSON, a field has the wrong type, or state is not one of the names above. */
sh_err rec_drain_state_parse(const char *json, size_t len, rec_drain_state *out, char *why, size_t wlen);

/* /drain/requests/NODEID: written by swarmhealctl drain or any tool; deleted to withdraw. */
typedef struct rec_drain_request {
	char reason[300];
	char requested_by[128];
	int64_t ts_ns;
} rec_drain_request;

int rec_drain_request_key(char *buf, size_t len, const char *prefix, const char *node_id);
char *rec_drain_request_encode(const rec_drain_request *r);
/* reason is required; requested_by and ts optional. */
sh_err rec_drain_request_parse(const char *json, size_t len, rec_drain_request *out, char *why, size_t wlen);

/*
 * /drain/challenge/NODEID: the drain leader asks a node's agent to prove it lives, answered at once
 * (drain.h "Early suspicion"). The leader writes {nonce, ts} on the lease of the node's heartbeat (so the
 * key lives and dies with the agent's lease: no leftovers); the agent, which watches its own key, puts the
 * same nonce back with `answered` on its lease. A challenge is answered when the key holds an answer
 * whose nonce is the leader's newest. Written and read by swarmheal alone; its meaning is swarmheal's own
 * (no Swarm or etcd counterpart).
 */
typedef struct rec_drain_challenge {
	char nonce[33];        /* required: 1-32 lowercase hex digits, the leader's random */
	int64_t ts_ns;         /* required: real time the challenge was written */
	int64_t answered_ns;   /* real time the agent answered; 0: not answered (a challenge) */
} rec_drain_challenge;

int rec_drain_challenge_key(char *buf, size_t len, const char *prefix, const char *node_id);
/* malloc'd compact JSON; NULL when out of memory or the nonce is empty or not lowercase hex. */
char *rec_drain_challenge_encode(const rec_drain_challenge *r);
/* SH_E_MALFORMED (why names the field) when not a JSON object, nonce is missing, empty, longer than 32 or
 * not lowercase hex, ts is missing, or a time does not parse. */
sh_err rec_drain_challenge_parse(const char *json, size_t len, rec_drain_challenge *out, char *why, size_t wlen);

#endif
