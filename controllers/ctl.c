/* SPDX-License-Identifier: MIT */
/* ctl.c - logfmt logging, fenced action records and the metrics endpoint shared by controllers */
#include "ctl.h"

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "sh_util.h"

void ctl_log(const char *level, const char *controller, const char *fmt, ...)
{
	char ts[40], msg[1024];
	sh_rfc3339(sh_real_ns(), ts, sizeof(ts));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* msg holds key=value pairs after the first " | " when the caller gives them */
	char *kv = strstr(msg, " | ");
	if (kv)
		*kv = '\0';
	char q[1100];
	size_t o = 0;
	for (const char *p = msg; *p && o + 2 < sizeof(q); p++) {
		if (*p == '"' || *p == '\\')
			q[o++] = '\\';
		q[o++] = *p;
	}
	q[o] = '\0';
	fprintf(stderr, "ts=%s level=%s controller=%s msg=\"%s\"%s%s\n", ts, level, controller ? controller : "-", q,
		kv ? " " : "", kv ? kv + 3 : "");
}

sh_err ctl_record(ctl_ctx *x, const char *kind, const char *target, const char *reason, const char *result,
		  const char *state_key, const char *state_json)
{
	if (!x->el)
		return SH_E_NOT_LEADER;
	char ts[40], key[512], fence[24];
	int64_t now = sh_real_ns();
	sh_rfc3339(now, ts, sizeof(ts));
	snprintf(fence, sizeof(fence), "%lld", (long long)x->el->rev);
	snprintf(key, sizeof(key), "%s/actions/%019lld-%s-%s-%s", x->prefix, (long long)now, x->name, kind, target);
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "ts", ts);
	cJSON_AddStringToObject(rec, "controller", x->name);
	cJSON_AddStringToObject(rec, "kind", kind);
	cJSON_AddStringToObject(rec, "target", target);
	cJSON_AddStringToObject(rec, "reason", reason);
	cJSON_AddStringToObject(rec, "result", result);
	cJSON_AddNumberToObject(rec, "fence", (double)x->el->rev);
	char *val = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if (!val)
		return SH_E_NOMEM;
	etcd_op ops[2] = {
		{.kind = ETCD_OP_PUT, .key = key, .value = val, .value_len = strlen(val)},
		{.kind = ETCD_OP_PUT, .key = state_key, .value = state_json, .value_len = state_json ? strlen(state_json) : 0},
	};
	int64_t t0 = sh_mono_ns();
	sh_err e = etcd_election_guarded_txn(x->el, NULL, 0, ops, state_key ? 2 : 1, NULL);
	if (x->m) {
		atomic_fetch_add(&x->m->etcd_ns_total, sh_mono_ns() - t0);
		atomic_fetch_add(&x->m->etcd_calls, 1);
	}
	free(val);
	if (e == SH_OK)
		ctl_log("info", x->name, "%s %s: %s | kind=%s target=%s result=%s fence=%s", kind, target, reason, kind,
			target, result, fence);
	else
		ctl_log("error", x->name, "cannot record %s of %s: %s | kind=%s target=%s", kind, target,
			x->el->errbuf[0] ? x->el->errbuf : sh_strerror(e), kind, target);
	return e;
}

void ctl_arbiter_mode(ctl_ctx *x, char *mode, size_t len)
{
	snprintf(mode, len, "normal");
	char key[300];
	snprintf(key, sizeof(key), "%s/arbiter/mode", x->prefix);
	etcd_kv kv;
	if (etcd_get(x->etcd, key, &kv, NULL) != SH_OK)
		return;
	cJSON *j = cJSON_ParseWithLength(kv.value, kv.value_len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "mode");
	if (cJSON_IsString(m) && (!strcmp(m->valuestring, "normal") || !strcmp(m->valuestring, "single-zone") ||
				  !strcmp(m->valuestring, "read-only")))
		snprintf(mode, len, "%s", m->valuestring);
	else
		ctl_log("warn", x->name, "ignoring malformed %s | key=%s", key, key);
	cJSON_Delete(j);
	etcd_kv_free(&kv);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			     const char *version, const char *upload, size_t *upload_len, void **state)
{
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	ctl_metrics *m = cls;
	char body[4096];
	unsigned status = MHD_HTTP_OK;
	if (strcmp(method, "GET")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		snprintf(body, sizeof(body), "method not allowed\n");
	} else if (!strcmp(url, "/healthz")) {
		snprintf(body, sizeof(body), "ok\n");
	} else if (!strcmp(url, "/readyz")) {
		int ready = atomic_load(&m->ready);
		status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(body, sizeof(body), "%s\n", ready ? "ready" : "not ready");
	} else if (!strcmp(url, "/metrics")) {
		long ec = atomic_load(&m->etcd_calls), dc = atomic_load(&m->engine_calls);
		snprintf(body, sizeof(body),
			 "# HELP swarmheal_reconciles_total Reconcile passes.\n# TYPE swarmheal_reconciles_total counter\n"
			 "swarmheal_reconciles_total %ld\n"
			 "# HELP swarmheal_reconcile_errors_total Reconcile passes that failed.\n# TYPE swarmheal_reconcile_errors_total counter\n"
			 "swarmheal_reconcile_errors_total %ld\n"
			 "# HELP swarmheal_actions_total Actions by kind and result.\n# TYPE swarmheal_actions_total counter\n"
			 "swarmheal_actions_total{kind=\"drain\",result=\"ok\"} %ld\n"
			 "swarmheal_actions_total{kind=\"drain\",result=\"failed\"} %ld\n"
			 "swarmheal_actions_total{kind=\"restore\",result=\"ok\"} %ld\n"
			 "swarmheal_actions_total{kind=\"restore\",result=\"failed\"} %ld\n"
			 "swarmheal_actions_total{kind=\"refuse\",result=\"refused\"} %ld\n"
			 "swarmheal_actions_total{kind=\"would\",result=\"dry-run\"} %ld\n"
			 "# HELP swarmheal_queue_depth Nodes waiting for an engine action (rate limit or backoff).\n# TYPE swarmheal_queue_depth gauge\n"
			 "swarmheal_queue_depth %ld\n"
			 "# HELP swarmheal_leader 1 while this replica leads its controller.\n# TYPE swarmheal_leader gauge\n"
			 "swarmheal_leader %d\n"
			 "# HELP swarmheal_etcd_request_seconds_avg Mean etcd write latency.\n# TYPE swarmheal_etcd_request_seconds_avg gauge\n"
			 "swarmheal_etcd_request_seconds_avg %.6f\n"
			 "# HELP swarmheal_engine_request_seconds_avg Mean Engine API latency.\n# TYPE swarmheal_engine_request_seconds_avg gauge\n"
			 "swarmheal_engine_request_seconds_avg %.6f\n",
			 atomic_load(&m->reconciles), atomic_load(&m->reconcile_errors), atomic_load(&m->drains_ok),
			 atomic_load(&m->drains_failed), atomic_load(&m->restores_ok), atomic_load(&m->restores_failed),
			 atomic_load(&m->refusals), atomic_load(&m->dry_runs), atomic_load(&m->queue_depth),
			 atomic_load(&m->leader),
			 ec ? (double)atomic_load(&m->etcd_ns_total) / ec / 1e9 : 0.0,
			 dc ? (double)atomic_load(&m->engine_ns_total) / dc / 1e9 : 0.0);
	} else {
		status = MHD_HTTP_NOT_FOUND;
		snprintf(body, sizeof(body), "not found\n");
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

void *ctl_metrics_start(const char *addr, ctl_metrics *m, char *err, size_t errlen)
{
	if (!addr || !*addr)
		return NULL;
	char host[64];
	int port;
	const char *colon = strrchr(addr, ':');
	if (!colon || colon - addr >= (long)sizeof(host) || sscanf(colon + 1, "%d", &port) != 1 || port <= 0 ||
	    port > 65535) {
		snprintf(err, errlen, "invalid --metrics-addr '%s' (want HOST:PORT)", addr);
		return NULL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "invalid --metrics-addr '%s' (want an IPv4 address)", addr);
		return NULL;
	}
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, serve, m,
						MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
						(unsigned)5, MHD_OPTION_END);
	if (!d)
		snprintf(err, errlen, "cannot serve metrics on '%s' (address in use?)", addr);
	return d;
}

void ctl_metrics_stop(void *srv)
{
	if (srv)
		MHD_stop_daemon(srv);
}
