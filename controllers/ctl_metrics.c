/* SPDX-License-Identifier: MIT */
/* ctl_metrics.c - labelled metrics registry and its libmicrohttpd endpoint */
#include "ctl_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };
static const double lat_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NB (sizeof(lat_buckets) / sizeof(*lat_buckets))

static const struct family {
	const char *name;
	enum kind kind;
	const char *help;
} families[] = {
	{"swarmheal_reconciles_total", COUNTER, "Reconcile passes."},
	{"swarmheal_reconcile_errors_total", COUNTER, "Reconcile passes that failed."},
	{"swarmheal_actions_total", COUNTER, "Actions recorded, by controller, kind and result."},
	{"swarmheal_actions_pruned_total", COUNTER, "Action records deleted by retention."},
	{"swarmheal_leader", GAUGE, "1 while this replica leads the controller."},
	{"swarmheal_queue_depth", GAUGE, "Keys waiting in the controller's work queue (rate limit or backoff)."},
	{"swarmheal_nodes", GAUGE, "Nodes per monitoring state, as the drain controller's leader sees them."},
	{"swarmheal_reconcile_duration_seconds", HISTOGRAM, "Duration of one reconcile pass."},
	{"swarmheal_etcd_request_duration_seconds", HISTOGRAM, "Latency of the controllers' etcd requests."},
	{"swarmheal_engine_request_duration_seconds", HISTOGRAM, "Latency of the controllers' Engine API requests."},
	{"swarmheal_session_keepalive_gap_seconds", HISTOGRAM, "Time between successive successful lease keepalives."},
};
#define NF (sizeof(families) / sizeof(*families))

typedef struct series {
	size_t fam;
	char labels[200];
	double value, sum;
	unsigned long count, bucket[NB];
} series;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series *all;
static size_t nall, capall;
static atomic_int ready;

static long fam_index(const char *name)
{
	for (size_t i = 0; i < NF; i++)
		if (!strcmp(families[i].name, name))
			return (long)i;
	return -1;
}

/* with lock held */
static series *get(const char *family, const char *labels)
{
	long f = fam_index(family);
	if (f < 0)
		return NULL;
	if (!labels)
		labels = "";
	for (size_t i = 0; i < nall; i++)
		if (all[i].fam == (size_t)f && !strcmp(all[i].labels, labels))
			return &all[i];
	if (nall == capall) {
		size_t nc = capall ? capall * 2 : 32;
		series *n = realloc(all, nc * sizeof(*n));
		if (!n)
			return NULL;
		all = n;
		capall = nc;
	}
	series *s = &all[nall++];
	memset(s, 0, sizeof(*s));
	s->fam = (size_t)f;
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	return s;
}

void ctl_metric_add(const char *family, const char *labels, double by)
{
	pthread_mutex_lock(&lock);
	series *s = get(family, labels);
	if (s)
		s->value += by;
	pthread_mutex_unlock(&lock);
}

void ctl_metric_set(const char *family, const char *labels, double v)
{
	pthread_mutex_lock(&lock);
	series *s = get(family, labels);
	if (s)
		s->value = v;
	pthread_mutex_unlock(&lock);
}

void ctl_metric_observe(const char *family, const char *labels, double v)
{
	pthread_mutex_lock(&lock);
	series *s = get(family, labels);
	if (s) {
		s->count++;
		s->sum += v;
		for (size_t b = 0; b < NB; b++)
			if (v <= lat_buckets[b])
				s->bucket[b]++;
	}
	pthread_mutex_unlock(&lock);
}

double ctl_metric_get(const char *family, const char *labels)
{
	double v = 0;
	pthread_mutex_lock(&lock);
	long f = fam_index(family);
	for (size_t i = 0; f >= 0 && i < nall; i++)
		if (all[i].fam == (size_t)f && !strcmp(all[i].labels, labels ? labels : ""))
			v = all[i].value;
	pthread_mutex_unlock(&lock);
	return v;
}

char *ctl_metrics_text(void)
{
	sh_buf b = SH_BUF_INIT;
	static const char *tn[] = {"counter", "gauge", "histogram"};
	pthread_mutex_lock(&lock);
	for (size_t f = 0; f < NF; f++) {
		sh_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
			    tn[families[f].kind]);
		for (size_t i = 0; i < nall; i++) {
			series *s = &all[i];
			if (s->fam != f)
				continue;
			const char *sep = s->labels[0] ? "," : "";
			if (families[f].kind != HISTOGRAM) {
				sh_buf_addf(&b, "%s{%s} %.17g\n", families[f].name, s->labels, s->value);
				continue;
			}
			for (size_t k = 0; k < NB; k++)
				sh_buf_addf(&b, "%s_bucket{%s%sle=\"%g\"} %lu\n", families[f].name, s->labels, sep,
					    lat_buckets[k], s->bucket[k]);
			sh_buf_addf(&b, "%s_bucket{%s%sle=\"+Inf\"} %lu\n%s_sum{%s} %.9f\n%s_count{%s} %lu\n",
				    families[f].name, s->labels, sep, s->count, families[f].name, s->labels, s->sum,
				    families[f].name, s->labels, s->count);
		}
	}
	pthread_mutex_unlock(&lock);
	return b.buf ? b.buf : strdup("");
}

void ctl_metrics_set_ready(int r)
{
	atomic_store(&ready, r);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			     const char *version, const char *upload, size_t *upload_len, void **state)
{
	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	unsigned status = MHD_HTTP_OK;
	char *body = NULL;
	if (strcmp(method, "GET")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = strdup("method not allowed\n");
	} else if (!strcmp(url, "/healthz")) {
		body = strdup("ok\n");
	} else if (!strcmp(url, "/readyz")) {
		int r = atomic_load(&ready);
		status = r ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		body = strdup(r ? "ready\n" : "not ready\n");
	} else if (!strcmp(url, "/metrics")) {
		body = ctl_metrics_text();
	} else {
		status = MHD_HTTP_NOT_FOUND;
		body = strdup("not found\n");
	}
	if (!body)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

void *ctl_metrics_start(const char *addr, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
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
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, serve, NULL,
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
	pthread_mutex_lock(&lock);
	free(all);
	all = NULL;
	nall = capall = 0;
	pthread_mutex_unlock(&lock);
}
