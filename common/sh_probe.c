/* SPDX-License-Identifier: MIT */
/* sh_probe.c - concurrent non-blocking TCP connect probes over one poll() loop */
#include "sh_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sh_util.h"

#define PROBE_TRIES 2
#define PROBE_MAX_OPEN 512

const char *sh_probe_result_name(sh_probe_result r)
{
	switch (r) {
	case SH_PROBE_NONE:
		return "none";
	case SH_PROBE_ALIVE:
		return "alive";
	case SH_PROBE_REFUSED:
		return "refused";
	case SH_PROBE_TIMEOUT:
		return "timeout";
	case SH_PROBE_UNREACHABLE:
		return "unreachable";
	case SH_PROBE_ERROR:
		return "error";
	}
	return "none";
}

static int make_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (!host || port <= 0 || port > 65535)
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	/* "[::1]" as well as "::1" */
	char h6[64];
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof(h6)) {
		memcpy(h6, host + 1, hl - 2);
		h6[hl - 2] = '\0';
		host = h6;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static sh_probe_result classify(int err)
{
	switch (err) {
	case 0:
		return SH_PROBE_ALIVE;
	case ECONNREFUSED:
		return SH_PROBE_REFUSED;
	case ETIMEDOUT:
		return SH_PROBE_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return SH_PROBE_UNREACHABLE;
	default:
		return SH_PROBE_ERROR;
	}
}

typedef struct slot {
	size_t idx; /* probe index */
	int fd;
	int64_t started, deadline;
} slot;

/* start an attempt for probe i: 1 pending (fd open), 0 finished at once (result set) */
static int start(sh_probe *p, slot *s, size_t i, long timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	p->tries++;
	if (make_addr(p->host, p->port, &ss, &len)) {
		p->result = SH_PROBE_ERROR;
		p->err = EINVAL;
		p->tries = PROBE_TRIES;
		return 0;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		p->result = SH_PROBE_ERROR;
		p->err = errno;
		return 0;
	}
	s->idx = i;
	s->fd = fd;
	s->started = sh_mono_ns();
	s->deadline = s->started + (int64_t)timeout_ms * SH_NS_PER_MS;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		p->result = SH_PROBE_ALIVE;
		p->err = 0;
		p->rtt_ns = sh_mono_ns() - s->started;
		close(fd);
		return 0;
	}
	if (errno == EINPROGRESS)
		return 1;
	p->err = errno;
	p->result = classify(errno);
	close(fd);
	return 0;
}

sh_err sh_probe_many(sh_probe *v, size_t n, long timeout_ms, volatile int *stop)
{
	if (timeout_ms <= 0)
		return SH_E_INVAL;
	for (size_t i = 0; i < n; i++) {
		v[i].result = SH_PROBE_NONE;
		v[i].err = 0;
		v[i].tries = 0;
		v[i].rtt_ns = 0;
	}
	size_t cap = n < PROBE_MAX_OPEN ? n : PROBE_MAX_OPEN;
	slot *sl = calloc(cap ? cap : 1, sizeof(*sl));
	struct pollfd *pf = calloc(cap ? cap : 1, sizeof(*pf));
	if (!sl || !pf) {
		free(sl);
		free(pf);
		return SH_E_NOMEM;
	}
	size_t next = 0, open = 0;
	for (;;) {
		/* fill free slots: first the queue of probes not started, each to its end through its retries */
		while (open < cap && next < n && !(stop && *stop)) {
			sh_probe *p = &v[next];
			int pending = 0;
			while (!pending && p->tries < PROBE_TRIES && p->result != SH_PROBE_ALIVE)
				pending = start(p, &sl[open], next, timeout_ms);
			if (pending)
				open++;
			next++;
		}
		if (open == 0 || (stop && *stop))
			break;
		int64_t now = sh_mono_ns(), wait = INT64_MAX;
		for (size_t k = 0; k < open; k++) {
			pf[k] = (struct pollfd){.fd = sl[k].fd, .events = POLLOUT};
			if (sl[k].deadline - now < wait)
				wait = sl[k].deadline - now;
		}
		int ms = wait <= 0 ? 0 : (int)((wait + SH_NS_PER_MS - 1) / SH_NS_PER_MS);
		int rc = poll(pf, open, ms);
		if (rc < 0 && errno != EINTR)
			break;
		now = sh_mono_ns();
		for (size_t k = 0; k < open;) {
			sh_probe *p = &v[sl[k].idx];
			int done = 0;
			if (rc > 0 && pf[k].revents) {
				int err = 0;
				socklen_t el = sizeof(err);
				if (getsockopt(sl[k].fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
					err = errno;
				if (err == EINPROGRESS || err == EALREADY) {
					/* spurious wake: keep waiting */
				} else {
					p->err = err;
					p->result = classify(err);
					if (!err)
						p->rtt_ns = now - sl[k].started;
					done = 1;
				}
			}
			if (!done && now >= sl[k].deadline) {
				p->err = ETIMEDOUT;
				p->result = SH_PROBE_TIMEOUT;
				done = 1;
			}
			if (!done) {
				k++;
				continue;
			}
			close(sl[k].fd);
			/* the retry takes the same slot */
			int pending = 0;
			size_t idx = sl[k].idx;
			while (!pending && p->result != SH_PROBE_ALIVE && p->tries < PROBE_TRIES && !(stop && *stop))
				pending = start(p, &sl[k], idx, timeout_ms);
			if (pending) {
				pf[k].revents = 0;
				k++;
				continue;
			}
			/* this slot is free: move the last one here (its pollfd too) */
			open--;
			sl[k] = sl[open];
			pf[k] = pf[open];
		}
	}
	for (size_t k = 0; k < open; k++) {
		close(sl[k].fd);
		v[sl[k].idx].result = SH_PROBE_NONE;
	}
	free(sl);
	free(pf);
	return SH_OK;
}
