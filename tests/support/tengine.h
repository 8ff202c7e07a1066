/* SPDX-License-Identifier: MIT */
/* tengine.h - a small scripted Docker Engine API on loopback (a tresp_start_fn responder) for tests */
#ifndef TENGINE_H
#define TENGINE_H

#include <pthread.h>

#include "tsupport.h"

/* What it is for: failed-answer and malformed-answer input (an engine whose service list fails, a node
 * list that changes while a daemon runs) and fakes where a real engine cannot be made to misbehave or
 * show a given swarm on this machine. Real engines, real swarms and real node failures come from the
 * lab (tests/lab); a test that can use one should.
 *
 * Inputs: the test fills n and nodes[] (and optionally hook, ud) of a zeroed tengine, then calls
 * tengine_start. Empty node fields take defaults at start: hostname = id, addr "0.0.0.0", state "ready",
 * availability "active", role "worker". The engine speaks API version 1.41, HTTP/1.1, one request per
 * connection (Connection: close), and answers, in this order:
 *   - hook(e, req), when set: a whole HTTP response (tengine_reply) answers the request; NULL falls
 *     through to the routes below;
 *   - GET /version            200 {"ApiVersion":"1.41","Version":"scripted"}
 *   - GET /_ping, /v1.41/_ping 200 OK
 *   - GET /v1.41/nodes        200 the node list, nodes[0..n-1] as below
 *   - GET /v1.41/nodes/ID     200 that node; 404 {"message":"node not found"} for an unknown ID
 *   - POST /v1.41/nodes/ID/update?version=V: the body's Spec.Availability (a JSON string) becomes the
 *     node's availability, its version grows by 1 and its updates counter by 1, 200 with no body; a
 *     body without Availability: 500, nothing changes; an unknown ID: 404. V is not compared with the
 *     node's version (no 409 "update out of sequence").
 *   - GET /v1.41/services, GET /v1.41/tasks?...: 200 [] (no services, no tasks)
 *   - GET /v1.41/events...    200 with no body: the stream ends at once (a watcher resyncs)
 *   - anything else           404 {"message":"page not found"}
 * A node as shown: {"ID","Version":{"Index":version},"Spec":{"Role","Availability","Labels":{}},
 * "Description":{"Hostname"},"Status":{"State","Addr"}} (no ManagerStatus, no labels).
 *
 * Threads: requests are answered on the responder's thread, one at a time, with e->mu held (also
 * while the hook runs). The test reads or changes nodes[] and its own hook state while the engine
 * runs only between tengine_lock and tengine_unlock. */

#define TENGINE_MAX_NODES 8

typedef struct tengine_node {
	char id[64];
	char hostname[64];
	char addr[64];         /* Status.Addr */
	char state[16];        /* Status.State: "ready", "down", "unknown", "disconnected" */
	char availability[16]; /* Spec.Availability: "active", "pause", "drain"; node updates change it */
	char role[16];         /* Spec.Role: "worker", "manager" */
	int version;           /* Version.Index; 1 more per node update */
	int updates;           /* node updates taken (POSTs that carried an Availability) */
} tengine_node;

typedef struct tengine tengine;
/* A route of the test's own, called with e->mu held before the built-in routes: a whole HTTP response,
 * malloc'd (tengine_reply), answers the request; NULL lets the built-in routes answer it. req is the
 * request as read: request line, headers, body. */
typedef char *(*tengine_hook)(tengine *e, const char *req);

struct tengine {
	int n;                                 /* nodes in use, 0..TENGINE_MAX_NODES */
	tengine_node nodes[TENGINE_MAX_NODES]; /* the swarm's nodes, in list order */
	tengine_hook hook;                     /* may be NULL */
	void *ud;                              /* the hook's state */
	pthread_mutex_t mu;                    /* set up by tengine_start */
	tresp *r;
};

/* Listen on an ephemeral port of 127.0.0.1 and serve until tengine_stop; 0 ok, -1 (nothing started) when
 * n is out of range or the responder cannot listen. */
int tengine_start(tengine *e);
/* The port it listens on; the daemon's --docker-host is tcp://127.0.0.1:PORT. */
int tengine_port(const tengine *e);
/* Stop serving (the responder's thread joined, e->mu destroyed); nodes[] and the counters stay readable
 * directly, without the lock. */
void tengine_stop(tengine *e);
void tengine_lock(tengine *e);
void tengine_unlock(tengine *e);
/* nodes[i].updates, read under the lock (while it runs). */
int tengine_updates(tengine *e, int i);

/* A whole HTTP/1.1 response: status with its reason phrase, JSON content type, Content-Length of body,
 * Connection: close; malloc'd (NULL when out of memory). */
char *tengine_reply(int status, const char *body);
/* 1 when the request starts with prefix (e.g. "GET /v1.41/services "). */
int tengine_is(const char *req, const char *prefix);

#endif
