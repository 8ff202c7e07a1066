/* SPDX-License-Identifier: MIT */
/* bench_etcd.c - put-to-watch-event latency and range throughput with and without connection reuse */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "sh_util.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static char ca[256], cert[256], key[256];
static int tls;

static etcd_client *client(const char *eps, int fresh)
{
	etcd_config cfg = {.endpoints = eps, .fresh_connect = fresh};
	if (tls) {
		cfg.cacert = ca;
		cfg.cert = cert;
		cfg.key = key;
	}
	etcd_client *c;
	char err[256];
	if (etcd_client_new(&cfg, &c, err, sizeof(err))) {
		fprintf(stderr, "bench_etcd: %s\n", err);
		exit(1);
	}
	return c;
}

static double range_rate(const char *eps, int fresh, int serializable, int n, long *connects)
{
	etcd_range_opts o = {.serializable = serializable};
	etcd_client *c = client(eps, fresh);
	int64_t t0 = sh_mono_ns();
	for (int i = 0; i < n; i++) {
		etcd_range_result r;
		if (etcd_range(c, "/bench/range", &o, &r)) {
			fprintf(stderr, "bench_etcd: %s\n", etcd_errmsg(c));
			exit(1);
		}
		etcd_range_result_free(&r);
	}
	double secs = (double)(sh_mono_ns() - t0) / 1e9;
	*connects = etcd_connects(c);
	etcd_client_free(c);
	return n / secs;
}

int main(int argc, char **argv)
{
	const char *eps = argc > 1 ? argv[1] : getenv("SWARMHEAL_ENDPOINTS");
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	if (!eps || n <= 0) {
		fprintf(stderr, "usage: bench_etcd ENDPOINTS [EVENTS [CERTDIR]]\n");
		return 2;
	}
	if (argc > 3) {
		tls = 1;
		snprintf(ca, sizeof(ca), "%s/ca.pem", argv[3]);
		snprintf(cert, sizeof(cert), "%s/client.pem", argv[3]);
		snprintf(key, sizeof(key), "%s/client.key", argv[3]);
	}
	etcd_client *c = client(eps, 0), *wc = client(eps, 0);
	etcd_put(c, "/bench/range", "v", 1, NULL, NULL, NULL);
	etcd_watch *w;
	etcd_watch_opts o = {.prefix = 1};
	if (etcd_watch_open(wc, "/bench/watch/", &o, &w)) {
		fprintf(stderr, "bench_etcd: %s\n", etcd_errmsg(wc));
		return 1;
	}
	etcd_watch_batch b;
	etcd_watch_next(w, &b, 200); /* let the watch be created */
	int64_t *lat = calloc((size_t)n, sizeof(int64_t));
	for (int i = 0; i < n; i++) {
		char k[64];
		snprintf(k, sizeof(k), "/bench/watch/%d", i % 16);
		int64_t t0 = sh_mono_ns();
		if (etcd_put(c, k, "x", 1, NULL, NULL, NULL)) {
			fprintf(stderr, "bench_etcd: %s\n", etcd_errmsg(c));
			return 1;
		}
		for (;;) {
			sh_err e = etcd_watch_next(w, &b, 5000);
			if (e == SH_OK && b.n) {
				etcd_watch_batch_free(&b);
				break;
			}
			etcd_watch_batch_free(&b);
			if (e != SH_OK && e != SH_E_TIMEOUT) {
				fprintf(stderr, "bench_etcd: watch: %s\n", etcd_watch_errmsg(w));
				return 1;
			}
		}
		lat[i] = sh_mono_ns() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	printf("put -> watch event latency over %d events: median %.3f ms, p99 %.3f ms (goal: median < 2 ms)\n", n,
	       (double)lat[n / 2] / 1e6, (double)lat[n * 99 / 100] / 1e6);
	free(lat);
	etcd_watch_close(w);
	etcd_client_free(c);
	etcd_client_free(wc);

	for (int ser = 1; ser >= 0; ser--) {
		long conn_reuse, conn_fresh;
		int m = n * 2;
		double reuse = range_rate(eps, 0, ser, m, &conn_reuse);
		double fresh = range_rate(eps, 1, ser, m, &conn_fresh);
		printf("sequential %s range requests: %.0f/s with one kept-alive connection (%ld connects), "
		       "%.0f/s with a new connection each (%ld connects)\n",
		       ser ? "serializable" : "linearizable", reuse, conn_reuse, fresh, conn_fresh);
		printf("  reuse/new-connection ratio: %.2fx (goal: >= 3x)\n", reuse / fresh);
	}
	return 0;
}
