/* SPDX-License-Identifier: MIT */
/* bench_retention.c - what action records cost etcd's DB and what retention gives back (after compaction + defrag) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "rec.h"
#include "sh_util.h"

static int64_t db_size(etcd_client *c)
{
	etcd_status st;
	if (etcd_status_get(c, &st)) {
		fprintf(stderr, "bench_retention: %s\n", etcd_errmsg(c));
		exit(1);
	}
	return st.db_size;
}

static void compact_defrag(const char *ep, etcd_client *c)
{
	etcd_status st;
	etcd_status_get(c, &st);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints %s compact --physical %lld >/dev/null && "
				   "ETCDCTL_API=3 etcdctl --endpoints %s defrag >/dev/null",
		 ep, (long long)st.revision, ep);
	if (system(cmd)) {
		fprintf(stderr, "bench_retention: etcdctl compact/defrag failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_retention ENDPOINT RECORDS MAX\n");
		return 64;
	}
	const char *ep = argv[1];
	int n = atoi(argv[2]), max = atoi(argv[3]);
	etcd_config cfg = {.endpoints = ep};
	etcd_client *c;
	if (etcd_client_new(&cfg, &c, NULL, 0))
		return 1;
	compact_defrag(ep, c);
	int64_t base = db_size(c), now = sh_real_ns(), day = 24 * 3600 * SH_NS_PER_S;
	char keys[100][300];
	etcd_op ops[100];
	char *vals[100];
	int64_t t0 = sh_mono_ns();
	for (int i = 0; i < n; i += 100) {
		int k = n - i < 100 ? n - i : 100;
		for (int j = 0; j < k; j++) {
			int64_t ts = now - 8 * day + (int64_t)(i + j) * (8 * day / n);
			rec_action a = {.ts_ns = ts, .controller = "drain", .kind = "refuse", .target = "x4k2l0q9h8j7g6f5d4s3a2p1o",
					.reason = "not draining node x4k2l0q9h8j7g6f5d4s3a2p1o (heartbeat key is gone): 4 of 6 "
						  "nodes look dead, suspecting our own partition",
					.result = "refused", .fence = 1234};
			vals[j] = rec_action_encode(&a);
			rec_action_key(keys[j], sizeof(keys[j]), "/bench", "drain", ts, "refuse", "x4k2l0q9h8j7g6f5d4s3a2p1o");
			ops[j] = (etcd_op){.kind = ETCD_OP_PUT, .key = keys[j], .value = vals[j], .value_len = strlen(vals[j])};
		}
		etcd_txn_result tr;
		if (etcd_txn(c, NULL, 0, ops, (size_t)k, NULL, 0, &tr)) {
			fprintf(stderr, "bench_retention: %s\n", etcd_errmsg(c));
			return 1;
		}
		etcd_txn_result_free(&tr);
		for (int j = 0; j < k; j++)
			free(vals[j]);
	}
	double write_s = (double)(sh_mono_ns() - t0) / 1e9;
	int64_t full = db_size(c);
	compact_defrag(ep, c);
	int64_t full_defrag = db_size(c);
	rec_retention r = {.retention_ns = 7 * day, .max = max};
	int64_t deleted = 0;
	t0 = sh_mono_ns();
	if (rec_actions_prune(c, "/bench", "drain", now, &r, &deleted)) {
		fprintf(stderr, "bench_retention: %s\n", etcd_errmsg(c));
		return 1;
	}
	double prune_s = (double)(sh_mono_ns() - t0) / 1e9;
	int64_t after = db_size(c);
	compact_defrag(ep, c);
	int64_t after_defrag = db_size(c);
	printf("%d action records (spread over 8 days) written in %.2f s\n", n, write_s);
	printf("etcd DB: %.2f MiB empty (after defrag), %.1f MiB with them (%.1f MiB after compaction+defrag)\n",
	       base / 1048576.0, full / 1048576.0, full_defrag / 1048576.0);
	printf("retention (7 days, at most %d): deleted %lld in %.2f s (%.0f records/s)\n", max, (long long)deleted,
	       prune_s, deleted / (prune_s > 0 ? prune_s : 1e-9));
	printf("etcd DB after pruning: %.1f MiB before compaction, %.1f MiB after compaction+defrag\n", after / 1048576.0,
	       after_defrag / 1048576.0);
	etcd_delete_opts d = {.prefix = 1};
	etcd_delete(c, "/bench/", &d, NULL);
	etcd_client_free(c);
	return 0;
}
