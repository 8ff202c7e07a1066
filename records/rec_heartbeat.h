/* SPDX-License-Identifier: MIT */
/* rec_heartbeat.h - /nodes/NODEID: the agent's heartbeat (on its lease) and its stop mark (without a lease) */
#ifndef REC_HEARTBEAT_H
#define REC_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/*
 * Written only by swarmheal-agent, read by the drain controller and
 * swarmhealctl. Two shapes share the key (records/schema/heartbeat.json):
 *
 *  - running: {"agent":"running","node_id":..,"hostname":..,"zone":..,
 *    "addr":..,"engine":"up|slow|down","runs_as":..,"ts":..,
 *    "cert_not_after":..}, put with the agent's lease: it vanishes when the
 *    agent, its host or its path to etcd dies.
 *  - stopped (the stop mark): {"agent":"stopped",...the same facts, engine
 *    optional}, put WITHOUT a lease by an agent stopping on purpose (SIGTERM),
 *    before it revokes its lease. The node is unmonitored until the agent
 *    returns (DESIGN.md "Node health").
 *
 * Heartbeats from agents older than this record have no "agent" member; they
 * parse as running. engine: up answers pings; slow = pings time out, for less
 * than the agent's --engine-down-after; down = the engine's socket refuses, or
 * no answer for --engine-down-after. Only down is death.
 */
typedef enum rec_engine {
	REC_ENGINE_UNKNOWN = 0, /* absent (allowed in a stop mark only) */
	REC_ENGINE_UP,
	REC_ENGINE_SLOW,
	REC_ENGINE_DOWN,
} rec_engine;

/* How the agent runs: tells the drain controller whether it can run on a drained node
 * (a Swarm task cannot: Swarm runs no global-service task on a drained node). */
typedef enum rec_runs_as {
	REC_RUNS_UNKNOWN = 0, /* absent (older agents) */
	REC_RUNS_PROCESS,     /* a plain process */
	REC_RUNS_SYSTEMD,     /* a systemd service (INVOCATION_ID set) */
	REC_RUNS_CONTAINER,   /* a standalone container (docker run) */
	REC_RUNS_SWARM_TASK,  /* a container of a Swarm service task */
} rec_runs_as;

typedef struct rec_heartbeat {
	int stopped;             /* 1: the stop mark */
	char node_id[64];        /* required, the engine's Swarm.NodeID */
	char hostname[256];
	char zone[64];
	char addr[64];           /* required: the node's address (Swarm.NodeAddr), the probe's target */
	rec_engine engine;       /* required when running */
	rec_runs_as runs_as;
	int64_t ts_ns;           /* required: real time written */
	int64_t cert_not_after_ns; /* the node's Swarm certificate; 0 unknown */
	int answers_challenge;   /* the agent answers /drain/challenge/NODEID (rec_drain_challenge) at once;
				    absent (0) in older agents' heartbeats: the drain controller reads their lease instead */
} rec_heartbeat;

/* PREFIX/nodes/NODEID. */
int rec_heartbeat_key(char *buf, size_t len, const char *prefix, const char *node_id);
/* malloc'd compact JSON; NULL when out of memory or when engine/runs_as hold no valid value
 * (engine must be set unless stopped). */
char *rec_heartbeat_encode(const rec_heartbeat *r);
/* SH_E_MALFORMED (why names the first bad field) when not a JSON object, a member has the wrong type or
 * length, agent/engine/runs_as hold an unknown value, node_id/addr/ts are missing or engine is missing
 * from a running heartbeat. The caller decides what an unreadable heartbeat means: the drain controller
 * takes a key it cannot parse as present (the agent lives) with its engine unknown, never as death. */
sh_err rec_heartbeat_parse(const char *json, size_t len, rec_heartbeat *out, char *why, size_t wlen);

const char *rec_engine_name(rec_engine e);    /* "up", "slow", "down", "" */
const char *rec_runs_as_name(rec_runs_as r);  /* "process", "systemd", "container", "swarm-task", "" */
int rec_engine_parse(const char *s, rec_engine *out);   /* 0 ok, -1 unknown */
int rec_runs_as_parse(const char *s, rec_runs_as *out); /* 0 ok, -1 unknown */

#endif
