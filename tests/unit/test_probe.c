/* SPDX-License-Identifier: MIT */
/* test_probe.c - sh_probe against real loopback sockets: listening (alive), closed (refused), full backlog (timeout) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sh_probe.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

/* a listening socket on 127.0.0.1 (or ::1); returns fd, port in *port */
static int listen_on(const char *host, int backlog, int *port)
{
	int v6 = strchr(host, ':') != NULL;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, host, &a->sin6_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, host, &a->sin_addr);
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog) || getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/*
 * A blackholed port without root or firewall rules: a listener with backlog 0
 * that never accepts. Once its accept queue is full, Linux drops further SYNs
 * (tcp_conn_request: "listen overflow"), so a new connect gets no answer at all,
 * exactly like a dead host. Fills the queue; returns the listener, fillers in fill[].
 */
static int blackhole(int *port, int *fill, int nfill)
{
	int l = listen_on("127.0.0.1", 0, port);
	if (l < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int i = 0; i < nfill; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(100 * 1000);
	return l;
}

static void test_alive(void)
{
	int port;
	int l = listen_on("127.0.0.1", 16, &port);
	CU_ASSERT_FATAL(l >= 0);
	sh_probe p = {.host = "127.0.0.1", .port = port};
	CU_ASSERT_EQUAL(sh_probe_many(&p, 1, 500, NULL), SH_OK);
	CU_ASSERT_EQUAL(p.result, SH_PROBE_ALIVE);
	CU_ASSERT_EQUAL(p.tries, 1);
	CU_ASSERT_EQUAL(p.err, 0);
	close(l);
	/* IPv6 loopback when the host has it */
	l = listen_on("::1", 16, &port);
	if (l >= 0) {
		sh_probe q = {.host = "::1", .port = port}, r = {.host = "[::1]", .port = port};
		sh_probe_many(&q, 1, 500, NULL);
		sh_probe_many(&r, 1, 500, NULL);
		CU_ASSERT_EQUAL(q.result, SH_PROBE_ALIVE);
		CU_ASSERT_EQUAL(r.result, SH_PROBE_ALIVE);
		close(l);
	}
}

static void test_refused_retried_once(void)
{
	sh_probe p = {.host = "127.0.0.1", .port = t_free_port()};
	CU_ASSERT_EQUAL(sh_probe_many(&p, 1, 500, NULL), SH_OK);
	CU_ASSERT_EQUAL(p.result, SH_PROBE_REFUSED);
	CU_ASSERT_EQUAL(p.err, ECONNREFUSED);
	CU_ASSERT_EQUAL(p.tries, 2);
}

static void test_timeout_retried_once(void)
{
	int port, fill[4];
	int l = blackhole(&port, fill, 4);
	CU_ASSERT_FATAL(l >= 0);
	sh_probe p = {.host = "127.0.0.1", .port = port};
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(sh_probe_many(&p, 1, 300, NULL), SH_OK);
	int64_t ms = (sh_mono_ns() - t0) / SH_NS_PER_MS;
	printf("\n  timeout probe: %s after %lld ms, %d tries\n", sh_probe_result_name(p.result), (long long)ms, p.tries);
	CU_ASSERT_EQUAL(p.result, SH_PROBE_TIMEOUT);
	CU_ASSERT_EQUAL(p.tries, 2);
	CU_ASSERT(ms >= 590 && ms < 900);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(l);
}

/* 200 dead nodes cost one timeout per try, not 200; mixed results land on the right probe */
static void test_many_concurrent(void)
{
	enum { NDEAD = 200, NALIVE = 100, NREF = 100, N = NDEAD + NALIVE + NREF };
	int bport, fill[4];
	int bl = blackhole(&bport, fill, 4);
	int aport;
	int al = listen_on("127.0.0.1", 512, &aport);
	int rport = t_free_port();
	CU_ASSERT_FATAL(bl >= 0 && al >= 0);
	sh_probe *v = calloc(N, sizeof(*v));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (int i = 0; i < N; i++) {
		v[i].host = "127.0.0.1";
		v[i].port = i % 4 == 0 ? aport : i % 4 == 1 ? rport : bport;
	}
	/* i%4: 0 alive (100), 1 refused (100), 2 and 3 blackholed (200) */
	int64_t t0 = sh_mono_ns();
	CU_ASSERT_EQUAL(sh_probe_many(v, N, 300, NULL), SH_OK);
	int64_t ms = (sh_mono_ns() - t0) / SH_NS_PER_MS;
	int bad = 0;
	for (int i = 0; i < N; i++) {
		sh_probe_result want = i % 4 == 0 ? SH_PROBE_ALIVE : i % 4 == 1 ? SH_PROBE_REFUSED : SH_PROBE_TIMEOUT;
		bad += v[i].result != want;
	}
	printf("\n  %d probes (200 blackholed, 100 refused, 100 alive), 300 ms timeout: %lld ms, %d wrong\n", N,
	       (long long)ms, bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(ms < 1200); /* two tries of 300 ms, not 200 of them */
	free(v);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(bl);
	close(al);
}

static void test_bad_input(void)
{
	sh_probe p[3] = {{.host = "node-1.example", .port = 7946}, {.host = "127.0.0.1", .port = 0}, {.host = NULL}};
	CU_ASSERT_EQUAL(sh_probe_many(p, 3, 100, NULL), SH_OK);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(p[i].result, SH_PROBE_ERROR);
	CU_ASSERT_EQUAL(sh_probe_many(p, 1, 0, NULL), SH_E_INVAL);
	CU_ASSERT_EQUAL(sh_probe_many(NULL, 0, 100, NULL), SH_OK);
	CU_ASSERT_STRING_EQUAL(sh_probe_result_name(SH_PROBE_TIMEOUT), "timeout");
}

static void test_stop(void)
{
	int port, fill[4];
	int l = blackhole(&port, fill, 4);
	CU_ASSERT_FATAL(l >= 0);
	volatile int stop = 1;
	sh_probe p = {.host = "127.0.0.1", .port = port};
	int64_t t0 = sh_mono_ns();
	sh_probe_many(&p, 1, 2000, &stop);
	CU_ASSERT((sh_mono_ns() - t0) / SH_NS_PER_MS < 100);
	CU_ASSERT_EQUAL(p.result, SH_PROBE_NONE);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(l);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"alive", test_alive},
		{"refused_retried_once", test_refused_retried_once},
		{"timeout_retried_once", test_timeout_retried_once},
		{"many_concurrent", test_many_concurrent},
		{"bad_input", test_bad_input},
		{"stop", test_stop},
		{NULL, NULL},
	};
	return t_run("probe", cases, argc, argv);
}
