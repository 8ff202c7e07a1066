/* SPDX-License-Identifier: MIT */
/* cert_swarm.h - pure decisions about Swarm's own PKI: node certificates expiring while down, root CA rotation */
#ifndef CERT_SWARM_H
#define CERT_SWARM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Swarm renews a node's certificate itself (90 days, at a random 50-80 % of
 * the lifetime), but only while the node is up: a node that stays down past
 * its certificate's expiry cannot rejoin (moby/moby#42660, #24132). The
 * agent reports each node's certificate expiry in its heartbeat; the root
 * CA's validity comes from the swarm (TLSInfo.TrustRoot). All times are
 * real-time ns; no I/O.
 */
typedef struct cert_swarm_node {
	const char *id, *hostname;
	int down;                  /* Swarm reports it down/disconnected, or its heartbeat is gone */
	int64_t down_since_ns;     /* 0 unknown */
	int64_t cert_not_after_ns; /* from the agent's last report; 0 unknown */
} cert_swarm_node;

typedef struct cert_swarm_in {
	const cert_swarm_node *nodes;
	size_t n;
	int64_t warn_within_ns;    /* warn when a down node's certificate expires within this; e.g. 7 days */
	int64_t root_not_after_ns; /* 0 unknown */
	int64_t rotate_before_ns;  /* --swarm-ca-rotate-before; 0 = never rotate */
	int rotation_in_progress;  /* a rotation was started and has not finished (its record says so) */
} cert_swarm_in;

typedef enum {
	CERT_SWARM_WARN_NODE = 1, /* record a warning about node[node] */
	CERT_SWARM_ROTATE_CA,     /* rotate the root CA (CAConfig.ForceRotate + 1), record it */
	CERT_SWARM_WAIT_ROTATION, /* a rotation is under way: wait for it, do not start another */
} cert_swarm_kind;

typedef struct cert_swarm_action {
	cert_swarm_kind kind;
	size_t node; /* WARN_NODE: index into in.nodes */
	char reason[256];
} cert_swarm_action;

/* Actions, at most max; returns how many. Rules in cert_swarm.c. */
size_t cert_swarm_decide(const cert_swarm_in *in, int64_t now_ns, cert_swarm_action *out, size_t max);

/*
 * The swarm spec (GET /swarm's Spec, edited in place) that asks Swarm for a new
 * root CA, as `docker swarm ca --rotate` without a certificate does:
 * CAConfig.ForceRotate + 1 (CAConfig created when absent), SigningCACert and
 * SigningCAKey removed (with them Swarm would rotate to that root instead, or
 * abort the rotation when it is the current one: swarmkit's validateCAConfig).
 * 0 ok, -1 not an object or out of memory. *force_rotate (may be NULL) gets the new value.
 */
struct cJSON;
int cert_swarm_rotate_spec(struct cJSON *spec, double *force_rotate);

#endif
