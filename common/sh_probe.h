/* SPDX-License-Identifier: MIT */
/* sh_probe.h - is a host there? non-blocking TCP connects to many ADDR:PORT at once, one poll loop, no threads */
#ifndef SH_PROBE_H
#define SH_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

/*
 * The drain controller's second signal (DESIGN.md "Node health"): when a
 * node's heartbeat vanishes without a stop mark, connect to its Swarm gossip
 * port (7946/tcp, served by every Swarm node's engine). A connect that
 * completes means the host and its engine live; a refusal (RST: the host is
 * up, nothing listens) or silence means the engine is gone. The connection is
 * closed at once without sending anything.
 */
typedef enum sh_probe_result {
	SH_PROBE_NONE = 0,    /* not probed (yet) */
	SH_PROBE_ALIVE,       /* the connect completed */
	SH_PROBE_REFUSED,     /* ECONNREFUSED: the host answered, nothing listens there */
	SH_PROBE_TIMEOUT,     /* no answer within the timeout (every try) */
	SH_PROBE_UNREACHABLE, /* EHOSTUNREACH/ENETUNREACH: an ICMP error or no route; no answer from the host */
	SH_PROBE_ERROR,       /* could not try: malformed address, no socket (err says why) */
} sh_probe_result;

typedef struct sh_probe {
	/* in */
	const char *host; /* IPv4 or IPv6 literal, no names (no DNS in the probe's path) */
	int port;         /* 1..65535, e.g. 7946 */
	/* out */
	sh_probe_result result;
	int err;          /* errno of the last attempt (0 when alive) */
	int tries;        /* attempts made */
	int64_t rtt_ns;   /* connect time of the successful attempt */
} sh_probe;

/*
 * Probe every v[i] concurrently: each attempt is a non-blocking connect that
 * gets timeout_ms to complete; an attempt that does not find the host alive is
 * retried once at once (tries = 2 in all), so a probe ends within
 * 2 * timeout_ms and the whole call within about 2 * timeout_ms whatever n is
 * (at most 512 sockets are open at once; more probes queue behind them and
 * each gets its own full timeout). Stops early, with every unfinished probe
 * left SH_PROBE_NONE, when *stop becomes nonzero (stop may be NULL).
 * Returns SH_OK, or SH_E_INVAL for timeout_ms <= 0; per-probe failures are in
 * v[i].result, never in the return value.
 */
sh_err sh_probe_many(sh_probe *v, size_t n, long timeout_ms, volatile int *stop);

/* "alive", "refused", "timeout", "unreachable", "error", "none". */
const char *sh_probe_result_name(sh_probe_result r);

#endif
