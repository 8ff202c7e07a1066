/* SPDX-License-Identifier: MIT */
/* ctl_metrics.h - Prometheus metrics by label (counters, gauges, histograms) and the /metrics /healthz /readyz server */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stddef.h>

/*
 * One process-wide registry. The families are declared once in ctl_metrics.c
 * (name, type, help, histogram buckets); a series is a family plus a label
 * set written as Prometheus text ("controller=\"drain\",kind=\"drain\""). All
 * calls are thread-safe. Exposition is the Prometheus text format 0.0.4.
 *
 *   swarmheal_reconciles_total{controller}              counter
 *   swarmheal_reconcile_errors_total{controller}        counter
 *   swarmheal_actions_total{controller,kind,result}     counter
 *   swarmheal_actions_pruned_total{controller}          counter
 *   swarmheal_leader{controller}                        gauge 1 while this replica leads
 *   swarmheal_queue_depth{controller}                   gauge keys waiting (rate limit or backoff)
 *   swarmheal_nodes{state}                              gauge nodes per monitoring state (drain)
 *   swarmheal_reconcile_duration_seconds{controller}    histogram
 *   swarmheal_etcd_request_duration_seconds{controller} histogram
 *   swarmheal_engine_request_duration_seconds{controller} histogram
 *   swarmheal_session_keepalive_gap_seconds{controller} histogram (time between successful keepalives)
 */
void ctl_metric_add(const char *family, const char *labels, double by);  /* counter += by */
void ctl_metric_set(const char *family, const char *labels, double v);   /* gauge = v */
void ctl_metric_observe(const char *family, const char *labels, double v); /* histogram sample (seconds) */
/* Current value of a counter or gauge series (0 when absent); for tests and logs. */
double ctl_metric_get(const char *family, const char *labels);

/* The whole exposition as a malloc'd string. */
char *ctl_metrics_text(void);

/* 1 once the process is ready to serve its purpose (/readyz answers 200). */
void ctl_metrics_set_ready(int ready);

/* Serve /metrics, /healthz, /readyz on addr ("127.0.0.1:9473", IPv4); NULL or "" serves nothing
 * (returns NULL with err empty). NULL with err filled when the address is bad or in use. */
void *ctl_metrics_start(const char *addr, char *err, size_t errlen);
void ctl_metrics_stop(void *srv);

#endif
