/* SPDX-License-Identifier: MIT */
/* dock_api.c - Engine API calls: info, swarm, nodes, services, tasks, containers, decoded into plain structs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dock_internal.h"

#define MAX_RETRIES 5

static sh_err bad_id(dock_client *c, const char *what, const char *id)
{
	dock_setf(c, "invalid %s '%s'", what, id ? id : "");
	return SH_E_INVAL;
}

static sh_err malformed(dock_client *c, const char *what)
{
	dock_setf(c, "malformed %s answer from engine at '%s'", what, c->host);
	return SH_E_PROTO;
}

sh_err dock_ping(dock_client *c)
{
	/* answers "OK" as text: success is the status */
	return dock_call(c, "GET", "/_ping", NULL, "ping", NULL);
}

sh_err dock_info_get(dock_client *c, dock_info *out)
{
	memset(out, 0, sizeof(*out));
	cJSON *j;
	sh_err e = dock_call(c, "GET", "/info", NULL, "info query", &j);
	if (e)
		return e;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return malformed(c, "info");
	}
	jcopy(out->node_id, sizeof(out->node_id), j, "Swarm.NodeID");
	jcopy(out->node_addr, sizeof(out->node_addr), j, "Swarm.NodeAddr");
	jcopy(out->local_node_state, sizeof(out->local_node_state), j, "Swarm.LocalNodeState");
	jcopy(out->name, sizeof(out->name), j, "Name");
	jcopy(out->server_version, sizeof(out->server_version), j, "ServerVersion");
	jcopy(out->docker_root_dir, sizeof(out->docker_root_dir), j, "DockerRootDir");
	out->control_available = cJSON_IsTrue(jpath(j, "Swarm.ControlAvailable"));
	cJSON_Delete(j);
	return SH_OK;
}

sh_err dock_swarm_inspect(dock_client *c, dock_swarm *out)
{
	memset(out, 0, sizeof(*out));
	cJSON *j;
	sh_err e = dock_call(c, "GET", "/swarm", NULL, "swarm inspect", &j);
	if (e)
		return e;
	const cJSON *spec = jpath(j, "Spec");
	if (!cJSON_IsObject(spec)) {
		cJSON_Delete(j);
		return malformed(c, "swarm inspect");
	}
	jcopy(out->id, sizeof(out->id), j, "ID");
	out->version = jint(j, "Version.Index", 0);
	jcopy(out->worker_token, sizeof(out->worker_token), j, "JoinTokens.Worker");
	jcopy(out->manager_token, sizeof(out->manager_token), j, "JoinTokens.Manager");
	const cJSON *tr = jpath(j, "TLSInfo.TrustRoot");
	if (cJSON_IsString(tr) && strlen(tr->valuestring) < sizeof(out->trust_root))
		snprintf(out->trust_root, sizeof(out->trust_root), "%s", tr->valuestring);
	out->root_rotation_in_progress = cJSON_IsTrue(jpath(j, "RootRotationInProgress"));
	out->spec = jdup(spec);
	cJSON_Delete(j);
	return out->spec ? SH_OK : SH_E_NOMEM;
}

sh_err dock_swarm_update(dock_client *c, const dock_swarm *sw, const cJSON *spec, int rotate)
{
	char path[256];
	snprintf(path, sizeof(path), "/swarm/update?version=%lld%s%s", (long long)sw->version,
		 rotate & DOCK_ROTATE_WORKER_TOKEN ? "&rotateWorkerToken=true" : "",
		 rotate & DOCK_ROTATE_MANAGER_TOKEN ? "&rotateManagerToken=true" : "");
	return dock_call(c, "POST", path, spec ? spec : sw->spec, "swarm update", NULL);
}

sh_err dock_swarm_init(dock_client *c, const char *listen_addr, const char *advertise_addr, int force_new_cluster,
		       char *node_id, size_t node_id_len)
{
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return SH_E_NOMEM;
	cJSON_AddStringToObject(req, "ListenAddr", listen_addr ? listen_addr : "0.0.0.0:2377");
	if (advertise_addr)
		cJSON_AddStringToObject(req, "AdvertiseAddr", advertise_addr);
	cJSON_AddBoolToObject(req, "ForceNewCluster", force_new_cluster);
	cJSON *j;
	sh_err e = dock_call(c, "POST", "/swarm/init", req, "swarm init", &j);
	cJSON_Delete(req);
	if (e)
		return e;
	if (node_id)
		snprintf(node_id, node_id_len, "%s", cJSON_IsString(j) ? j->valuestring : "");
	cJSON_Delete(j);
	return SH_OK;
}

void dock_swarm_free(dock_swarm *s)
{
	if (s) {
		cJSON_Delete(s->spec);
		s->spec = NULL;
	}
}

int dock_decode_node(const cJSON *j, dock_node *n)
{
	memset(n, 0, sizeof(*n));
	const cJSON *spec = jpath(j, "Spec");
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "ID")) || !cJSON_IsObject(spec) ||
	    !cJSON_IsNumber(jpath(j, "Version.Index")))
		return -1;
	jcopy(n->id, sizeof(n->id), j, "ID");
	n->version = jint(j, "Version.Index", 0);
	jcopy(n->hostname, sizeof(n->hostname), j, "Description.Hostname");
	jcopy(n->role, sizeof(n->role), j, "Spec.Role");
	jcopy(n->availability, sizeof(n->availability), j, "Spec.Availability");
	jcopy(n->state, sizeof(n->state), j, "Status.State");
	jcopy(n->addr, sizeof(n->addr), j, "Status.Addr");
	jcopy(n->reachability, sizeof(n->reachability), j, "ManagerStatus.Reachability");
	n->leader = cJSON_IsTrue(jpath(j, "ManagerStatus.Leader"));
	n->spec = jdup(spec);
	if (!n->spec)
		return -1;
	n->labels = cJSON_GetObjectItemCaseSensitive(n->spec, "Labels");
	return 0;
}

const char *dock_node_label(const dock_node *n, const char *key)
{
	const cJSON *v = cJSON_IsObject(n->labels) ? cJSON_GetObjectItemCaseSensitive(n->labels, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void dock_node_free(dock_node *n)
{
	if (n) {
		cJSON_Delete(n->spec);
		n->spec = n->labels = NULL;
	}
}

void dock_node_list_free(dock_node_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		dock_node_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Decode a JSON array with a per-item decoder into a malloc'd vector. */
#define DECODE_LIST(c, j, what, type, decode, free_one, out)                     \
	do {                                                                     \
		if (!cJSON_IsArray(j)) {                                         \
			cJSON_Delete(j);                                         \
			return malformed(c, what);                               \
		}                                                                \
		int cnt_ = cJSON_GetArraySize(j);                                \
		(out)->v = cnt_ ? calloc((size_t)cnt_, sizeof(type)) : NULL;     \
		(out)->n = 0;                                                    \
		const cJSON *it_;                                                \
		cJSON_ArrayForEach(it_, j)                                       \
		{                                                                \
			if (!(out)->v || decode(it_, &(out)->v[(out)->n])) {     \
				for (size_t k_ = 0; k_ < (out)->n; k_++)         \
					free_one(&(out)->v[k_]);                 \
				free((out)->v);                                  \
				(out)->v = NULL;                                 \
				(out)->n = 0;                                    \
				cJSON_Delete(j);                                 \
				return malformed(c, what);                       \
			}                                                        \
			(out)->n++;                                              \
		}                                                                \
		cJSON_Delete(j);                                                 \
	} while (0)

sh_err dock_nodes_list(dock_client *c, dock_node_list *out)
{
	memset(out, 0, sizeof(*out));
	cJSON *j;
	sh_err e = dock_call(c, "GET", "/nodes", NULL, "node list", &j);
	if (e)
		return e;
	DECODE_LIST(c, j, "node list", dock_node, dock_decode_node, dock_node_free, out);
	return SH_OK;
}

sh_err dock_node_inspect(dock_client *c, const char *id, dock_node *out)
{
	memset(out, 0, sizeof(*out));
	if (!dock_id_ok(id))
		return bad_id(c, "node ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/nodes/%s", id);
	cJSON *j;
	sh_err e = dock_call(c, "GET", path, NULL, "node inspect", &j);
	if (e)
		return e;
	int bad = dock_decode_node(j, out);
	cJSON_Delete(j);
	return bad ? malformed(c, "node inspect") : SH_OK;
}

sh_err dock_node_update(dock_client *c, const char *id, dock_node_mutate_fn mutate, void *ud)
{
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		dock_node n;
		sh_err e = dock_node_inspect(c, id, &n);
		if (e)
			return e;
		int r = mutate(&n, n.spec, ud);
		if (r <= 0) {
			dock_node_free(&n);
			if (r == 0) {
				dock_setf(c, "node update of '%s' no longer needed", id);
				return SH_E_CANCELED;
			}
			dock_setf(c, "node update of '%s' refused by the caller", id);
			return SH_E_INVAL;
		}
		char path[256];
		snprintf(path, sizeof(path), "/nodes/%s/update?version=%lld", id, (long long)n.version);
		e = dock_call(c, "POST", path, n.spec, "node update", NULL);
		dock_node_free(&n);
		if (e != SH_E_CONFLICT)
			return e;
		/* out of sequence: the node changed underneath; re-read and re-decide */
	}
	return SH_E_CONFLICT;
}

static int set_availability(dock_node *n, cJSON *spec, void *ud)
{
	(void)n;
	const char *avail = ud;
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "Availability");
	return cJSON_AddStringToObject(spec, "Availability", avail) ? 1 : -1;
}

sh_err dock_node_set_availability(dock_client *c, const char *id, const char *availability)
{
	if (strcmp(availability, "active") && strcmp(availability, "pause") && strcmp(availability, "drain")) {
		dock_setf(c, "invalid availability '%s' (want active, pause or drain)", availability);
		return SH_E_INVAL;
	}
	return dock_node_update(c, id, set_availability, (void *)availability);
}

int dock_decode_service(const cJSON *j, dock_service *s)
{
	memset(s, 0, sizeof(*s));
	const cJSON *spec = jpath(j, "Spec");
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "ID")) || !cJSON_IsObject(spec) ||
	    !cJSON_IsNumber(jpath(j, "Version.Index")))
		return -1;
	jcopy(s->id, sizeof(s->id), j, "ID");
	jcopy(s->name, sizeof(s->name), j, "Spec.Name");
	s->version = jint(j, "Version.Index", 0);
	jcopy(s->update_state, sizeof(s->update_state), j, "UpdateStatus.State");
	jcopy(s->update_message, sizeof(s->update_message), j, "UpdateStatus.Message");
	s->update_started_ns = jtime(j, "UpdateStatus.StartedAt");
	s->update_completed_ns = jtime(j, "UpdateStatus.CompletedAt");
	s->replicas = cJSON_IsObject(jpath(spec, "Mode.Global")) ? -1 : jint(spec, "Mode.Replicated.Replicas", 1);
	s->spec = jdup(spec);
	const cJSON *prev = jpath(j, "PreviousSpec");
	s->previous_spec = cJSON_IsObject(prev) ? jdup(prev) : NULL;
	return s->spec ? 0 : -1;
}

void dock_service_free(dock_service *s)
{
	if (s) {
		cJSON_Delete(s->spec);
		cJSON_Delete(s->previous_spec);
		s->spec = s->previous_spec = NULL;
	}
}

void dock_service_list_free(dock_service_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		dock_service_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

sh_err dock_services_list(dock_client *c, dock_service_list *out)
{
	memset(out, 0, sizeof(*out));
	cJSON *j;
	sh_err e = dock_call(c, "GET", "/services", NULL, "service list", &j);
	if (e)
		return e;
	DECODE_LIST(c, j, "service list", dock_service, dock_decode_service, dock_service_free, out);
	return SH_OK;
}

sh_err dock_service_inspect(dock_client *c, const char *id, dock_service *out)
{
	memset(out, 0, sizeof(*out));
	if (!dock_id_ok(id))
		return bad_id(c, "service ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/services/%s", id);
	cJSON *j;
	sh_err e = dock_call(c, "GET", path, NULL, "service inspect", &j);
	if (e)
		return e;
	int bad = dock_decode_service(j, out);
	cJSON_Delete(j);
	return bad ? malformed(c, "service inspect") : SH_OK;
}

sh_err dock_service_update(dock_client *c, const char *id, int64_t version, const cJSON *spec)
{
	if (!dock_id_ok(id))
		return bad_id(c, "service ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/services/%s/update?version=%lld", id, (long long)version);
	return dock_call(c, "POST", path, spec, "service update", NULL);
}

sh_err dock_service_rollback(dock_client *c, const char *id)
{
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		dock_service s;
		sh_err e = dock_service_inspect(c, id, &s);
		if (e)
			return e;
		if (!s.previous_spec) {
			dock_service_free(&s);
			dock_setf(c, "service '%s' has no previous spec to roll back to", id);
			return SH_E_NOT_FOUND;
		}
		char path[256];
		snprintf(path, sizeof(path), "/services/%s/update?version=%lld&rollback=previous", id,
			 (long long)s.version);
		e = dock_call(c, "POST", path, s.spec, "service rollback", NULL);
		dock_service_free(&s);
		if (e != SH_E_CONFLICT)
			return e;
	}
	return SH_E_CONFLICT;
}

sh_err dock_service_create(dock_client *c, const cJSON *spec, char *id, size_t idlen)
{
	cJSON *j;
	sh_err e = dock_call(c, "POST", "/services/create", spec, "service create", &j);
	if (e)
		return e;
	if (id)
		jcopy(id, idlen, j, "ID");
	cJSON_Delete(j);
	return SH_OK;
}

sh_err dock_service_remove(dock_client *c, const char *id)
{
	if (!dock_id_ok(id))
		return bad_id(c, "service ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/services/%s", id);
	return dock_call(c, "DELETE", path, NULL, "service remove", NULL);
}

int dock_decode_task(const cJSON *j, dock_task *t)
{
	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "ID")))
		return -1;
	jcopy(t->id, sizeof(t->id), j, "ID");
	jcopy(t->service_id, sizeof(t->service_id), j, "ServiceID");
	jcopy(t->node_id, sizeof(t->node_id), j, "NodeID");
	jcopy(t->desired_state, sizeof(t->desired_state), j, "DesiredState");
	jcopy(t->state, sizeof(t->state), j, "Status.State");
	jcopy(t->message, sizeof(t->message), j, "Status.Message");
	jcopy(t->err, sizeof(t->err), j, "Status.Err");
	jcopy(t->container_id, sizeof(t->container_id), j, "Status.ContainerStatus.ContainerID");
	t->slot = jint(j, "Slot", 0);
	t->version = jint(j, "Version.Index", 0);
	t->spec_version = jint(j, "SpecVersion.Index", 0);
	t->created_ns = jtime(j, "CreatedAt");
	t->status_ns = jtime(j, "Status.Timestamp");
	t->exit_code = jint(j, "Status.ContainerStatus.ExitCode", 0);
	return 0;
}

static void task_free_one(dock_task *t)
{
	(void)t;
}

void dock_task_list_free(dock_task_list *l)
{
	if (l) {
		free(l->v);
		l->v = NULL;
		l->n = 0;
	}
}

static sh_err filtered_path(dock_client *c, const char *base, const char *filters_json, const char *extra, char *path,
			    size_t len)
{
	if (filters_json) {
		cJSON *f = cJSON_Parse(filters_json);
		int ok = cJSON_IsObject(f);
		cJSON_Delete(f);
		if (!ok) {
			dock_setf(c, "invalid filters '%s' (want a JSON object of arrays)", filters_json);
			return SH_E_INVAL;
		}
		char enc[1500];
		urlencode(enc, sizeof(enc), filters_json);
		snprintf(path, len, "%s?filters=%s%s", base, enc, extra ? extra : "");
	} else {
		snprintf(path, len, "%s%s%s", base, extra ? "?" : "", extra ? extra + 1 : "");
	}
	return SH_OK;
}

sh_err dock_tasks_list(dock_client *c, const char *filters_json, dock_task_list *out)
{
	memset(out, 0, sizeof(*out));
	char path[2048];
	sh_err e = filtered_path(c, "/tasks", filters_json, NULL, path, sizeof(path));
	if (e)
		return e;
	cJSON *j;
	if ((e = dock_call(c, "GET", path, NULL, "task list", &j)))
		return e;
	DECODE_LIST(c, j, "task list", dock_task, dock_decode_task, task_free_one, out);
	return SH_OK;
}

int dock_decode_container(const cJSON *j, dock_container *ct)
{
	memset(ct, 0, sizeof(*ct));
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "Id")))
		return -1;
	jcopy(ct->id, sizeof(ct->id), j, "Id");
	jcopy(ct->image, sizeof(ct->image), j, "Image");
	const cJSON *names = jpath(j, "Names");
	if (cJSON_IsArray(names) && cJSON_IsString(cJSON_GetArrayItem(names, 0)))
		snprintf(ct->name, sizeof(ct->name), "%s", cJSON_GetArrayItem(names, 0)->valuestring);
	else
		jcopy(ct->name, sizeof(ct->name), j, "Name");
	/* list: State is a string; inspect: an object */
	const cJSON *st = jpath(j, "State");
	if (cJSON_IsString(st)) {
		snprintf(ct->state, sizeof(ct->state), "%s", st->valuestring);
		const cJSON *status = jpath(j, "Status");
		if (cJSON_IsString(status)) {
			const char *h = strstr(status->valuestring, "(health: starting)") ? "starting"
					: strstr(status->valuestring, "(healthy)")       ? "healthy"
					: strstr(status->valuestring, "(unhealthy)")     ? "unhealthy"
											 : "";
			snprintf(ct->health, sizeof(ct->health), "%s", h);
		}
		ct->labels = jdup(jpath(j, "Labels"));
	} else {
		jcopy(ct->state, sizeof(ct->state), j, "State.Status");
		jcopy(ct->health, sizeof(ct->health), j, "State.Health.Status");
		ct->failing_streak = (int)jint(j, "State.Health.FailingStreak", 0);
		ct->started_at_ns = jtime(j, "State.StartedAt");
		ct->health_start_period_ns = jint(j, "Config.Healthcheck.StartPeriod", 0);
		ct->restart_count = jint(j, "RestartCount", 0);
		ct->stop_timeout_s = jint(j, "Config.StopTimeout", -1);
		ct->labels = jdup(jpath(j, "Config.Labels"));
	}
	return 0;
}

void dock_container_free(dock_container *ct)
{
	if (ct) {
		cJSON_Delete(ct->labels);
		ct->labels = NULL;
	}
}

void dock_container_list_free(dock_container_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		dock_container_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

sh_err dock_containers_list(dock_client *c, const char *filters_json, int all, dock_container_list *out)
{
	memset(out, 0, sizeof(*out));
	char path[2048];
	sh_err e = filtered_path(c, "/containers/json", filters_json, all ? "&all=1" : NULL, path, sizeof(path));
	if (e)
		return e;
	cJSON *j;
	if ((e = dock_call(c, "GET", path, NULL, "container list", &j)))
		return e;
	DECODE_LIST(c, j, "container list", dock_container, dock_decode_container, dock_container_free, out);
	return SH_OK;
}

sh_err dock_container_inspect(dock_client *c, const char *id, dock_container *out)
{
	memset(out, 0, sizeof(*out));
	if (!dock_id_ok(id))
		return bad_id(c, "container ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	cJSON *j;
	sh_err e = dock_call(c, "GET", path, NULL, "container inspect", &j);
	if (e)
		return e;
	int bad = dock_decode_container(j, out);
	cJSON_Delete(j);
	return bad ? malformed(c, "container inspect") : SH_OK;
}

sh_err dock_container_kill(dock_client *c, const char *id, const char *signal)
{
	if (!dock_id_ok(id))
		return bad_id(c, "container ID", id);
	if (signal && !dock_id_ok(signal))
		return bad_id(c, "signal", signal);
	char path[256];
	snprintf(path, sizeof(path), "/containers/%s/kill%s%s", id, signal ? "?signal=" : "", signal ? signal : "");
	return dock_call(c, "POST", path, NULL, "container kill", NULL);
}

sh_err dock_container_restart(dock_client *c, const char *id, int timeout_s)
{
	if (!dock_id_ok(id))
		return bad_id(c, "container ID", id);
	char path[256];
	snprintf(path, sizeof(path), "/containers/%s/restart?t=%d", id, timeout_s);
	return dock_call(c, "POST", path, NULL, "container restart", NULL);
}

sh_err dock_service_update_with(dock_client *c, const char *id, dock_service_mutate_fn mutate, void *ud)
{
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		dock_service s;
		sh_err e = dock_service_inspect(c, id, &s);
		if (e)
			return e;
		int r = mutate(&s, s.spec, ud);
		if (r <= 0) {
			dock_service_free(&s);
			if (r == 0) {
				dock_setf(c, "service update of '%s' no longer needed", id);
				return SH_E_CANCELED;
			}
			dock_setf(c, "service update of '%s' refused by the caller", id);
			return SH_E_INVAL;
		}
		e = dock_service_update(c, s.id, s.version, s.spec);
		dock_service_free(&s);
		if (e != SH_E_CONFLICT)
			return e;
		/* out of sequence: the service changed underneath; re-read and re-decide */
	}
	return SH_E_CONFLICT;
}

int dock_spec_secret_swap(cJSON *spec, const char *old_name, const char *new_name, const char *new_id,
			  const char *target, int mode)
{
	cJSON *cs = (cJSON *)jpath(spec, "TaskTemplate.ContainerSpec");
	if (!cJSON_IsObject(cs))
		return -1;
	cJSON *list = cJSON_GetObjectItemCaseSensitive(cs, "Secrets");
	if (!list || cJSON_IsNull(list)) {
		cJSON_DeleteItemFromObjectCaseSensitive(cs, "Secrets");
		list = cJSON_AddArrayToObject(cs, "Secrets");
	}
	if (!cJSON_IsArray(list))
		return -1;
	cJSON *kept_file = NULL;
	int removed = 0;
	if (old_name) {
		for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
			cJSON *ref = cJSON_GetArrayItem(list, i);
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "SecretName");
			if (!cJSON_IsString(n) || strcmp(n->valuestring, old_name))
				continue;
			const cJSON *file = cJSON_GetObjectItemCaseSensitive(ref, "File");
			if (!kept_file && cJSON_IsObject(file))
				kept_file = cJSON_Duplicate(file, 1);
			cJSON_DeleteItemFromArray(list, i);
			removed = 1;
		}
	}
	if (new_name) {
		cJSON *ref = cJSON_CreateObject();
		cJSON *file = kept_file;
		kept_file = NULL;
		if (!file && (file = cJSON_CreateObject()) &&
		    (!cJSON_AddStringToObject(file, "Name", new_name) || !cJSON_AddStringToObject(file, "UID", "0") ||
		     !cJSON_AddStringToObject(file, "GID", "0") || !cJSON_AddNumberToObject(file, "Mode", mode))) {
			cJSON_Delete(file);
			file = NULL;
		}
		if (file && target) {
			cJSON_DeleteItemFromObjectCaseSensitive(file, "Name");
			if (!cJSON_AddStringToObject(file, "Name", target)) {
				cJSON_Delete(file);
				file = NULL;
			}
		}
		if (!ref || !file || !cJSON_AddItemToObject(ref, "File", file)) {
			cJSON_Delete(file);
			cJSON_Delete(ref);
			return -1;
		}
		if (!cJSON_AddStringToObject(ref, "SecretName", new_name) ||
		    (new_id && !cJSON_AddStringToObject(ref, "SecretID", new_id)) || !cJSON_AddItemToArray(list, ref)) {
			cJSON_Delete(ref);
			return -1;
		}
	}
	cJSON_Delete(kept_file);
	return old_name && !removed ? 1 : 0;
}

int dock_decode_secret(const cJSON *j, dock_secret *s)
{
	memset(s, 0, sizeof(*s));
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "ID")) || !cJSON_IsString(jpath(j, "Spec.Name")))
		return -1;
	jcopy(s->id, sizeof(s->id), j, "ID");
	jcopy(s->name, sizeof(s->name), j, "Spec.Name");
	s->version = jint(j, "Version.Index", 0);
	s->created_ns = jtime(j, "CreatedAt");
	const cJSON *labels = jpath(j, "Spec.Labels");
	s->labels = cJSON_IsObject(labels) ? jdup(labels) : NULL;
	return 0;
}

const char *dock_secret_label(const dock_secret *s, const char *key)
{
	const cJSON *v = s->labels ? cJSON_GetObjectItemCaseSensitive(s->labels, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void dock_secret_free(dock_secret *s)
{
	if (s) {
		cJSON_Delete(s->labels);
		s->labels = NULL;
	}
}

void dock_secret_list_free(dock_secret_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		dock_secret_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

sh_err dock_secrets_list(dock_client *c, const char *filters_json, dock_secret_list *out)
{
	memset(out, 0, sizeof(*out));
	char path[2048];
	sh_err e = filtered_path(c, "/secrets", filters_json, NULL, path, sizeof(path));
	if (e)
		return e;
	cJSON *j;
	if ((e = dock_call(c, "GET", path, NULL, "secret list", &j)))
		return e;
	DECODE_LIST(c, j, "secret list", dock_secret, dock_decode_secret, dock_secret_free, out);
	return SH_OK;
}

#define SECRET_MAX (500u * 1024)

sh_err dock_secret_create(dock_client *c, const char *name, const void *data, size_t len, const cJSON *labels,
			  char *id, size_t idlen)
{
	if (id && idlen)
		id[0] = '\0';
	if (!dock_id_ok(name))
		return bad_id(c, "secret name", name);
	if (len > SECRET_MAX) {
		dock_setf(c, "secret '%s' is %zu bytes; Swarm takes at most %u", name, len, SECRET_MAX);
		return SH_E_TOO_LARGE;
	}
	char *b64 = sh_b64_encode(data, len);
	cJSON *req = cJSON_CreateObject();
	int ok = b64 && req && cJSON_AddStringToObject(req, "Name", name) && cJSON_AddStringToObject(req, "Data", b64);
	if (ok && labels) {
		cJSON *l = cJSON_Duplicate(labels, 1);
		ok = l && cJSON_AddItemToObject(req, "Labels", l);
		if (!ok)
			cJSON_Delete(l);
	}
	free(b64);
	if (!ok) {
		cJSON_Delete(req);
		return SH_E_NOMEM;
	}
	cJSON *j;
	sh_err e = dock_call(c, "POST", "/secrets/create", req, "secret create", &j);
	cJSON_Delete(req);
	if (e)
		return e;
	if (id)
		jcopy(id, idlen, j, "ID");
	cJSON_Delete(j);
	return SH_OK;
}

sh_err dock_secret_remove(dock_client *c, const char *id_or_name)
{
	if (!dock_id_ok(id_or_name))
		return bad_id(c, "secret", id_or_name);
	char path[512];
	snprintf(path, sizeof(path), "/secrets/%s", id_or_name);
	return dock_call(c, "DELETE", path, NULL, "secret remove", NULL);
}

sh_err dock_containers_kill_by_label(dock_client *c, const char *label, const char *signal, int *signalled,
				     int *failed)
{
	if (signalled)
		*signalled = 0;
	if (failed)
		*failed = 0;
	if (!label || !*label) {
		dock_setf(c, "invalid label filter ''");
		return SH_E_INVAL;
	}
	cJSON *f = cJSON_CreateObject();
	cJSON *arr = f ? cJSON_AddArrayToObject(f, "label") : NULL;
	if (!arr || !cJSON_AddItemToArray(arr, cJSON_CreateString(label)) ||
	    !cJSON_AddItemToArray(cJSON_AddArrayToObject(f, "status"), cJSON_CreateString("running"))) {
		cJSON_Delete(f);
		return SH_E_NOMEM;
	}
	char *filters = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (!filters)
		return SH_E_NOMEM;
	dock_container_list l;
	sh_err e = dock_containers_list(c, filters, 0, &l);
	free(filters);
	if (e)
		return e;
	sh_err first = SH_OK;
	char firstmsg[1024] = "";
	for (size_t i = 0; i < l.n; i++) {
		sh_err k = dock_container_kill(c, l.v[i].id, signal);
		if (k == SH_OK) {
			if (signalled)
				(*signalled)++;
			continue;
		}
		/* stopped or removed meanwhile (409 not running, 404 gone): nothing left to reload */
		if (k == SH_E_CONFLICT || k == SH_E_NOT_FOUND)
			continue;
		if (failed)
			(*failed)++;
		if (!first) {
			first = k;
			snprintf(firstmsg, sizeof(firstmsg), "signal %.32s to container '%.200s': %s", signal ? signal : "KILL",
				 l.v[i].name, c->errbuf);
		}
	}
	dock_container_list_free(&l);
	if (first)
		dock_setf(c, "%s", firstmsg);
	return first;
}
