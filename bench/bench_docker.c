/* SPDX-License-Identifier: MIT */
/* bench_docker.c - median latency of GET /nodes and of a node update: dockerclient vs the docker CLI */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dock.h"
#include "sh_util.h"

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_ms(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return (double)v[n / 2] / 1e6;
}

static int set_label(dock_node *n, cJSON *spec, void *ud)
{
	(void)n;
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(spec, "Labels");
	if (!labels)
		labels = cJSON_AddObjectToObject(spec, "Labels");
	cJSON_DeleteItemFromObjectCaseSensitive(labels, "bench");
	cJSON_AddStringToObject(labels, "bench", ud);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_docker DOCKER_HOST NODE_ID [N]\n");
		return 2;
	}
	const char *host = argv[1], *node = argv[2];
	int n = argc > 3 ? atoi(argv[3]) : 50;
	dock_config cfg = {.host = host};
	dock_client *c;
	char err[256];
	if (dock_client_new(&cfg, &c, err, sizeof(err))) {
		fprintf(stderr, "bench_docker: %s\n", err);
		return 1;
	}
	int64_t *lib_list = calloc((size_t)n, 8), *cli_list = calloc((size_t)n, 8);
	int64_t *lib_upd = calloc((size_t)n, 8), *cli_upd = calloc((size_t)n, 8);
	char cmd[1024];
	for (int i = 0; i < n; i++) {
		int64_t t0 = sh_mono_ns();
		dock_node_list l;
		if (dock_nodes_list(c, &l)) {
			fprintf(stderr, "bench_docker: %s\n", dock_errmsg(c));
			return 1;
		}
		dock_node_list_free(&l);
		lib_list[i] = sh_mono_ns() - t0;
		t0 = sh_mono_ns();
		snprintf(cmd, sizeof(cmd), "docker -H %s node ls >/dev/null", host);
		if (system(cmd))
			return 1;
		cli_list[i] = sh_mono_ns() - t0;
		char val[16];
		snprintf(val, sizeof(val), "v%d", i);
		t0 = sh_mono_ns();
		if (dock_node_update(c, node, set_label, val)) {
			fprintf(stderr, "bench_docker: %s\n", dock_errmsg(c));
			return 1;
		}
		lib_upd[i] = sh_mono_ns() - t0;
		t0 = sh_mono_ns();
		snprintf(cmd, sizeof(cmd), "docker -H %s node update --label-add bench=c%d %s >/dev/null", host, i, node);
		if (system(cmd))
			return 1;
		cli_upd[i] = sh_mono_ns() - t0;
	}
	double a = median_ms(lib_list, n), b = median_ms(cli_list, n);
	double u = median_ms(lib_upd, n), v = median_ms(cli_upd, n);
	printf("median over %d calls against %s (engine API %s):\n", n, host, dock_api_version(c));
	printf("  GET /nodes     dockerclient %7.2f ms   docker node ls     %7.2f ms   (%.1fx)\n", a, b, b / a);
	printf("  node update    dockerclient %7.2f ms   docker node update %7.2f ms   (%.1fx)\n", u, v, v / u);
	printf("  (a dockerclient update is inspect + update; the CLI does the same plus process start)\n");
	free(lib_list);
	free(cli_list);
	free(lib_upd);
	free(cli_upd);
	dock_client_free(c);
	return 0;
}
