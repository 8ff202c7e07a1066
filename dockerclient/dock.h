/* SPDX-License-Identifier: MIT */
/* dock.h - Docker Engine API client (unix socket or tcp+TLS): info, swarm, nodes, services, tasks, containers, events */
#ifndef DOCK_H
#define DOCK_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/*
 * One dock_client per thread. The API version is negotiated from GET /version
 * (at least 1.41; the engine's own version is used, so newer engines work).
 * Every call returns an sh_err; dock_errmsg() holds one line naming what
 * failed, e.g. "engine at 'unix:///run/docker.sock' refused node update: ...".
 * Objects keep their raw Spec (cJSON) so updates send back the whole spec.
 */
typedef struct dock_config {
	const char *host;       /* unix:///path or tcp://host:port; NULL: $DOCKER_HOST, else unix:///var/run/docker.sock */
	const char *tls_ca, *tls_cert, *tls_key; /* for tcp:// with TLS */
	long timeout_ms;        /* per request, default 10000 */
} dock_config;

typedef struct dock_client dock_client;

sh_err dock_client_new(const dock_config *cfg, dock_client **out, char *errbuf, size_t errlen);
void dock_client_free(dock_client *c);
const char *dock_errmsg(const dock_client *c);
const char *dock_host(const dock_client *c);
/* Negotiated API version ("1.41"); negotiates on first use. */
const char *dock_api_version(dock_client *c);
/*
 * An owner's reason to give a request up before its timeout, e.g. a controller whose
 * leadership lease is about to end while an engine call hangs (a manager that lost its raft
 * quorum answers nothing for the whole timeout). fn is called on the calling thread before
 * each request and whenever libcurl reports progress (CURLOPT_XFERINFOFUNCTION: on every
 * read or write, but only about once a second while idle); it returns SH_OK to go on, or
 * the code to end the request with at once (e.g. SH_E_NOT_LEADER), which the call returns
 * with dock_errmsg() "gave up REQUEST at engine 'HOST': DESCRIPTION OF THE CODE". When it
 * returns SH_OK it may set *left_ms (>= 0; it is -1 on entry: unknown) to how long from now
 * it will go on saying SH_OK at most: the request's timeout is cut to that, so the give-up
 * is on time rather than up to a second late, and a request cut there ends as given up. fn
 * NULL removes it. The event stream (dock_events_*) does not use it.
 */
typedef sh_err (*dock_abort_fn)(void *arg, long *left_ms);
void dock_set_abort(dock_client *c, dock_abort_fn fn, void *arg);

/* ---- info, ping, swarm ---- */
typedef struct dock_info {
	char node_id[64], node_addr[64], local_node_state[32], name[256], server_version[64];
	char docker_root_dir[512];
	int control_available;
} dock_info;
sh_err dock_info_get(dock_client *c, dock_info *out);
sh_err dock_ping(dock_client *c);

typedef struct dock_swarm {
	char id[64];
	int64_t version;
	char worker_token[128], manager_token[128];
	char trust_root[8192];        /* TLSInfo.TrustRoot: the root CA certificate (PEM); "" when absent or longer */
	int root_rotation_in_progress; /* RootRotationInProgress: a root CA rotation has not finished */
	cJSON *spec;
} dock_swarm;
sh_err dock_swarm_inspect(dock_client *c, dock_swarm *out);
/* POST /swarm/update?version=N with spec (NULL: current spec); flags below. A root CA rotation is a spec
 * with CAConfig.ForceRotate incremented and no SigningCACert/SigningCAKey (Swarm then generates the new root). */
enum { DOCK_ROTATE_WORKER_TOKEN = 1, DOCK_ROTATE_MANAGER_TOKEN = 2 };
sh_err dock_swarm_update(dock_client *c, const dock_swarm *sw, const cJSON *spec, int rotate_flags);
/* POST /swarm/init; force_new_cluster for disaster recovery. node_id may be NULL. */
sh_err dock_swarm_init(dock_client *c, const char *listen_addr, const char *advertise_addr, int force_new_cluster,
		       char *node_id, size_t node_id_len);
void dock_swarm_free(dock_swarm *s);

/* ---- nodes ---- */
typedef struct dock_node {
	char id[64], hostname[256], role[16], availability[16], state[16], addr[64], reachability[16];
	int64_t version;
	int leader;
	cJSON *spec;   /* NodeSpec: Name, Labels, Role, Availability */
	cJSON *labels; /* Spec.Labels (borrowed from spec) */
} dock_node;
typedef struct dock_node_list {
	dock_node *v;
	size_t n;
} dock_node_list;
sh_err dock_nodes_list(dock_client *c, dock_node_list *out);
sh_err dock_node_inspect(dock_client *c, const char *id, dock_node *out);
/* Node label value or NULL. */
const char *dock_node_label(const dock_node *n, const char *key);
/*
 * Update a node: read it, let mutate() change the NodeSpec, post it with the
 * read version. On "update out of sequence" (HTTP 500: the node changed
 * underneath) re-read and call mutate() again, up to 5 times. mutate returns
 * 1 to apply, 0 when the change no longer holds (nothing is posted; the call
 * returns SH_E_CANCELED), -1 on error.
 */
typedef int (*dock_node_mutate_fn)(dock_node *n, cJSON *spec, void *ud);
sh_err dock_node_update(dock_client *c, const char *id, dock_node_mutate_fn mutate, void *ud);
/* Set availability (active, pause, drain) keeping the rest of the spec. */
sh_err dock_node_set_availability(dock_client *c, const char *id, const char *availability);
void dock_node_free(dock_node *n);
void dock_node_list_free(dock_node_list *l);

/* ---- services ---- */
typedef struct dock_service {
	char id[64], name[256];
	int64_t version;
	char update_state[32]; /* UpdateStatus.State: updating, paused, completed, rollback_started, ... */
	char update_message[512];
	int64_t update_started_ns, update_completed_ns; /* UpdateStatus.StartedAt/CompletedAt, real ns, 0 absent */
	int64_t replicas;      /* -1 for global */
	cJSON *spec, *previous_spec; /* previous_spec NULL when absent */
} dock_service;
typedef struct dock_service_list {
	dock_service *v;
	size_t n;
} dock_service_list;
sh_err dock_services_list(dock_client *c, dock_service_list *out);
sh_err dock_service_inspect(dock_client *c, const char *id, dock_service *out);
/* POST /services/{id}/update?version=N with spec. */
sh_err dock_service_update(dock_client *c, const char *id, int64_t version, const cJSON *spec);
/* Roll back to PreviousSpec (rollback=previous, body = current spec). SH_E_NOT_FOUND when
 * there is no previous spec (e.g. after an automatic rollback). Retries once when out of sequence. */
sh_err dock_service_rollback(dock_client *c, const char *id);
/* Create a service from a spec; id out. */
sh_err dock_service_create(dock_client *c, const cJSON *spec, char *id, size_t idlen);
sh_err dock_service_remove(dock_client *c, const char *id);
void dock_service_free(dock_service *s);
void dock_service_list_free(dock_service_list *l);
/*
 * Update a service the way dock_node_update updates a node: read it, let
 * mutate() change the ServiceSpec, post it with the read version; on "update
 * out of sequence" re-read and call mutate() again, up to 5 times. mutate
 * returns 1 to apply, 0 when the change no longer holds (SH_E_CANCELED,
 * nothing posted), -1 on error (SH_E_INVAL).
 */
typedef int (*dock_service_mutate_fn)(dock_service *s, cJSON *spec, void *ud);
sh_err dock_service_update_with(dock_client *c, const char *id, dock_service_mutate_fn mutate, void *ud);
/*
 * Secret references of a ServiceSpec (TaskTemplate.ContainerSpec.Secrets), edited in place, for one
 * update that swaps versions: remove the references named old_name (NULL: none) and, when new_name is
 * given, add {SecretName new_name, SecretID new_id, File}: File is the removed reference's (same path,
 * owner and mode in the task), else {Name new_name, UID "0", GID "0", Mode mode}; target, when not NULL,
 * sets File.Name. 0 ok; -1 malformed spec or out of memory; 1 when old_name was not referenced (nothing
 * removed; the new one is still added).
 */
int dock_spec_secret_swap(cJSON *spec, const char *old_name, const char *new_name, const char *new_id,
			  const char *target, int mode);

/* ---- tasks ---- */
typedef struct dock_task {
	char id[64], service_id[64], node_id[64], desired_state[16], state[16], container_id[80];
	char message[256], err[256];
	int64_t slot, version;
	int64_t spec_version;  /* SpecVersion.Index: the service spec version the task was made for (0 absent) */
	int64_t created_ns;    /* CreatedAt, real ns (0 absent) */
	int64_t status_ns;     /* Status.Timestamp: when it entered its state, real ns (0 absent) */
	int64_t exit_code;     /* Status.ContainerStatus.ExitCode (0 when absent) */
} dock_task;
typedef struct dock_task_list {
	dock_task *v;
	size_t n;
} dock_task_list;
/* Filters as a JSON object of arrays, e.g. {"service":["x"],"desired-state":["running"]}; NULL: all. */
sh_err dock_tasks_list(dock_client *c, const char *filters_json, dock_task_list *out);
void dock_task_list_free(dock_task_list *l);

/* ---- containers ---- */
typedef struct dock_container {
	char id[80], name[256], image[256], state[32], health[32];
	int64_t started_at_ns, health_start_period_ns;
	int64_t restart_count;
	int failing_streak;
	int64_t stop_timeout_s; /* inspect: Config.StopTimeout (docker run --stop-timeout), -1 when unset */
	cJSON *labels; /* owned */
} dock_container;
typedef struct dock_container_list {
	dock_container *v;
	size_t n;
} dock_container_list;
sh_err dock_containers_list(dock_client *c, const char *filters_json, int all, dock_container_list *out);
sh_err dock_container_inspect(dock_client *c, const char *id, dock_container *out);
sh_err dock_container_kill(dock_client *c, const char *id, const char *signal);
/*
 * Send signal ("SIGHUP", "HUP", "1"; NULL: the engine's default, SIGKILL) to every running container
 * with the label ("app=api" or a bare key "app"). *signalled (may be NULL) counts those signalled.
 * Every container is tried; the first error is returned (dock_errmsg names the container), others are
 * counted in *failed (may be NULL). A container that stopped meanwhile is skipped, not an error.
 */
sh_err dock_containers_kill_by_label(dock_client *c, const char *label, const char *signal, int *signalled,
				     int *failed);
sh_err dock_container_restart(dock_client *c, const char *id, int timeout_s);
void dock_container_free(dock_container *ct);
void dock_container_list_free(dock_container_list *l);

/* ---- secrets (Swarm; a manager answers) ---- */
typedef struct dock_secret {
	char id[64], name[256];
	int64_t version, created_ns;
	cJSON *labels; /* owned; Spec.Labels, NULL when none */
} dock_secret;
typedef struct dock_secret_list {
	dock_secret *v;
	size_t n;
} dock_secret_list;
/* GET /secrets; filters as a JSON object of arrays ({"name":["api-tls."]} matches name prefixes,
 * {"label":["k=v"]}); NULL: all. The engine never returns a secret's data. */
sh_err dock_secrets_list(dock_client *c, const char *filters_json, dock_secret_list *out);
/* Label value or NULL. */
const char *dock_secret_label(const dock_secret *s, const char *key);
/* POST /secrets/create with data (any bytes, at most 500 KB as Swarm allows; base64 on the wire) and
 * labels (a JSON object of strings; may be NULL). id (may be NULL) gets the new ID. SH_E_CONFLICT when
 * the name exists (secrets are immutable: create a new version instead). */
sh_err dock_secret_create(dock_client *c, const char *name, const void *data, size_t len, const cJSON *labels,
			  char *id, size_t idlen);
/* DELETE /secrets/{id or name}. SH_E_NOT_FOUND when it is gone already; SH_E_HTTP when a service still
 * refers to it (the engine answers 400 "... is in use by the following service ..."). */
sh_err dock_secret_remove(dock_client *c, const char *id_or_name);
void dock_secret_free(dock_secret *s);
void dock_secret_list_free(dock_secret_list *l);

/* ---- events ---- */
typedef struct dock_event {
	char type[32], action[64], actor_id[128], scope[16];
	int64_t time_nano;
	cJSON *attributes; /* owned; Actor.Attributes */
} dock_event;
typedef struct dock_events dock_events;
/* Stream GET /events with filters (JSON object of arrays, may be NULL) from since_ns (0: now). */
sh_err dock_events_open(dock_client *c, const char *filters_json, int64_t since_ns, dock_events **out);
/* Next event within timeout_ms. SH_E_TIMEOUT: none yet. SH_E_UNREACHABLE: engine down right now
 * (the stream resumes from the last event's time, dropping repeats). */
sh_err dock_events_next(dock_events *ev, dock_event *out, long timeout_ms);
const char *dock_events_errmsg(const dock_events *ev);
long dock_events_reconnects(const dock_events *ev);
void dock_event_free(dock_event *e);
void dock_events_close(dock_events *ev);

#endif
