/* SPDX-License-Identifier: MIT */
/* tengine.c - a small scripted Docker Engine API on loopback for tests (see tengine.h) */
#include "tengine.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tengine_reply(int status, const char *body)
{
	const char *phrase = status == 200   ? "OK"
			     : status == 404 ? "Not Found"
			     : status == 409 ? "Conflict"
					     : "Internal Server Error";
	char *r = NULL;
	if (asprintf(&r,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
		     "\r\n%s",
		     status, phrase, strlen(body), body) < 0)
		return NULL;
	return r;
}

int tengine_is(const char *req, const char *prefix)
{
	return !strncmp(req, prefix, strlen(prefix));
}

/* one node as the engine shows it, appended at out + *k; *k stays below len (e->mu held) */
static void node_json(const tengine_node *nd, char *out, size_t len, size_t *k)
{
	int w = snprintf(out + *k, len - *k,
			 "{\"ID\":\"%s\",\"Version\":{\"Index\":%d},"
			 "\"Spec\":{\"Role\":\"%s\",\"Availability\":\"%s\",\"Labels\":{}},"
			 "\"Description\":{\"Hostname\":\"%s\"},\"Status\":{\"State\":\"%s\",\"Addr\":\"%s\"}}",
			 nd->id, nd->version, nd->role, nd->availability, nd->hostname, nd->state, nd->addr);
	*k = w < 0 || (size_t)w >= len - *k ? len - 1 : *k + (size_t)w;
}

/* the node whose ID follows "/nodes/" in the request line, ended by ' ', '/' or '?'; -1 none */
static int node_index(const tengine *e, const char *req)
{
	const char *id = strstr(req, "/nodes/") + 7;
	for (int j = 0; j < e->n; j++) {
		size_t l = strlen(e->nodes[j].id);
		if (l && !strncmp(id, e->nodes[j].id, l) && (id[l] == ' ' || id[l] == '/' || id[l] == '?'))
			return j;
	}
	return -1;
}

static char *node_update(tengine *e, int i, const char *req)
{
	const char *body = strstr(req, "\r\n\r\n");
	cJSON *spec = body ? cJSON_Parse(body + 4) : NULL;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "Availability");
	char *out;
	if (cJSON_IsString(a)) {
		tengine_node *nd = &e->nodes[i];
		snprintf(nd->availability, sizeof(nd->availability), "%s", a->valuestring);
		nd->version++;
		nd->updates++;
		out = tengine_reply(200, "");
	} else {
		out = tengine_reply(500, "{\"message\":\"scripted engine: no Availability in the node spec\"}");
	}
	cJSON_Delete(spec);
	return out;
}

static char *route(tengine *e, const char *req)
{
	if (tengine_is(req, "GET /version "))
		return tengine_reply(200, "{\"ApiVersion\":\"1.41\",\"Version\":\"scripted\"}");
	if (tengine_is(req, "GET /_ping ") || tengine_is(req, "GET /v1.41/_ping "))
		return tengine_reply(200, "OK");
	if (tengine_is(req, "GET /v1.41/nodes ")) {
		/* a node takes at most ~400 bytes (its fields' sizes): 512 each, a comma and the brackets fit */
		size_t len = (size_t)e->n * 512 + 8, k = 1;
		char *buf = malloc(len);
		if (!buf)
			return NULL;
		buf[0] = '[';
		for (int i = 0; i < e->n; i++) {
			if (i)
				buf[k++] = ',';
			node_json(&e->nodes[i], buf, len - 2, &k);
		}
		buf[k++] = ']';
		buf[k] = '\0';
		char *out = tengine_reply(200, buf);
		free(buf);
		return out;
	}
	if (tengine_is(req, "GET /v1.41/nodes/") || tengine_is(req, "POST /v1.41/nodes/")) {
		int i = node_index(e, req);
		if (i < 0)
			return tengine_reply(404, "{\"message\":\"node not found\"}");
		if (req[0] == 'P')
			return node_update(e, i, req);
		char buf[512];
		size_t k = 0;
		node_json(&e->nodes[i], buf, sizeof(buf), &k);
		return tengine_reply(200, buf);
	}
	if (tengine_is(req, "GET /v1.41/services ") || tengine_is(req, "GET /v1.41/tasks?"))
		return tengine_reply(200, "[]");
	if (tengine_is(req, "GET /v1.41/events"))
		return tengine_reply(200, "");
	return tengine_reply(404, "{\"message\":\"page not found\"}");
}

static char *serve(void *ud, const char *req)
{
	tengine *e = ud;
	pthread_mutex_lock(&e->mu);
	char *out = e->hook ? e->hook(e, req) : NULL;
	if (!out)
		out = route(e, req);
	pthread_mutex_unlock(&e->mu);
	return out;
}

static void set_default(char *field, size_t len, const char *def)
{
	if (!field[0])
		snprintf(field, len, "%s", def);
}

int tengine_start(tengine *e)
{
	if (e->n < 0 || e->n > TENGINE_MAX_NODES)
		return -1;
	for (int i = 0; i < e->n; i++) {
		tengine_node *nd = &e->nodes[i];
		set_default(nd->hostname, sizeof(nd->hostname), nd->id);
		set_default(nd->addr, sizeof(nd->addr), "0.0.0.0");
		set_default(nd->state, sizeof(nd->state), "ready");
		set_default(nd->availability, sizeof(nd->availability), "active");
		set_default(nd->role, sizeof(nd->role), "worker");
	}
	pthread_mutex_init(&e->mu, NULL);
	e->r = tresp_start_fn(serve, e);
	if (!e->r) {
		pthread_mutex_destroy(&e->mu);
		return -1;
	}
	return 0;
}

int tengine_port(const tengine *e)
{
	return tresp_port(e->r);
}

void tengine_stop(tengine *e)
{
	if (!e->r)
		return;
	tresp_stop(e->r);
	e->r = NULL;
	pthread_mutex_destroy(&e->mu);
}

void tengine_lock(tengine *e)
{
	pthread_mutex_lock(&e->mu);
}

void tengine_unlock(tengine *e)
{
	pthread_mutex_unlock(&e->mu);
}

int tengine_updates(tengine *e, int i)
{
	pthread_mutex_lock(&e->mu);
	int v = e->nodes[i].updates;
	pthread_mutex_unlock(&e->mu);
	return v;
}
