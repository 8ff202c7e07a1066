/* SPDX-License-Identifier: MIT */
/* tsupport.c - scripted HTTP responder, free ports, private etcd processes for tests */
#include "tsupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct tresp {
	int fd, port;
	const char *const *replies;
	int n, served, stop;
	char last[8192];
	pthread_t thr;
	pthread_mutex_t mu;
};

static void read_request(int fd, char *out, size_t outlen)
{
	char buf[16384];
	size_t len = 0;
	long want = -1;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		char *hend = strstr(buf, "\r\n\r\n");
		if (hend && want < 0) {
			char *cl = strcasestr(buf, "content-length:");
			want = (long)(hend + 4 - buf) + (cl ? atol(cl + 15) : 0);
		}
		if (want >= 0 && (long)len >= want)
			break;
		if (len >= sizeof(buf) - 1)
			break;
	}
	size_t n = len < outlen - 1 ? len : outlen - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
}

static void *tresp_loop(void *arg)
{
	tresp *r = arg;
	while (!r->stop) {
		struct pollfd p = {r->fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			continue;
		char req[8192];
		read_request(c, req, sizeof(req));
		pthread_mutex_lock(&r->mu);
		const char *reply = r->replies[r->served % r->n];
		r->served++;
		snprintf(r->last, sizeof(r->last), "%s", req);
		pthread_mutex_unlock(&r->mu);
		if (reply) {
			size_t off = 0, len = strlen(reply);
			while (off < len) {
				ssize_t w = write(c, reply + off, len - off);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
		} else {
			while (!r->stop)
				usleep(20000);
		}
		close(c);
	}
	return NULL;
}

tresp *tresp_start(const char *const *replies, int n)
{
	tresp *r = calloc(1, sizeof(*r));
	r->replies = replies;
	r->n = n;
	pthread_mutex_init(&r->mu, NULL);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) || listen(r->fd, 16) ||
	    getsockname(r->fd, (struct sockaddr *)&a, &al)) {
		close(r->fd);
		free(r);
		return NULL;
	}
	r->port = ntohs(a.sin_port);
	pthread_create(&r->thr, NULL, tresp_loop, r);
	return r;
}

int tresp_port(const tresp *r)
{
	return r->port;
}

int tresp_requests(const tresp *r)
{
	return r->served;
}

const char *tresp_last_request(tresp *r)
{
	return r->last;
}

void tresp_stop(tresp *r)
{
	if (!r)
		return;
	r->stop = 1;
	pthread_join(r->thr, NULL);
	close(r->fd);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int t_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	return ntohs(a.sin_port);
}

int t_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	int st = system(cmd);
	free(cmd);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int spawn_etcd(tetcd *e)
{
	char cmd[4096];
	const char *scheme = strstr(e->extra, "--cert-file") ? "https" : "http";
	snprintf(cmd, sizeof(cmd),
		 "exec etcd --name t --data-dir %s/data --listen-client-urls %s://127.0.0.1:%d "
		 "--advertise-client-urls %s://127.0.0.1:%d --listen-peer-urls http://127.0.0.1:%d "
		 "--initial-advertise-peer-urls http://127.0.0.1:%d --initial-cluster t=http://127.0.0.1:%d "
		 "%s >>%s/etcd.log 2>&1",
		 e->dir, scheme, e->client_port, scheme, e->client_port, e->peer_port, e->peer_port,
		 e->peer_port, e->extra, e->dir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	e->pid = pid;
	/* wait until the client port accepts (up to 15 s) */
	for (int i = 0; i < 300; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->client_port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok) {
			usleep(300000); /* let it elect itself */
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			e->pid = 0;
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

int tetcd_start(tetcd *e, const char *extra_flags)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/swarmheal-tetcd-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	e->client_port = t_free_port();
	do
		e->peer_port = t_free_port();
	while (e->peer_port == e->client_port);
	snprintf(e->extra, sizeof(e->extra), "%s", extra_flags ? extra_flags : "");
	snprintf(e->endpoint, sizeof(e->endpoint), "%s://127.0.0.1:%d",
		 strstr(e->extra, "--cert-file") ? "https" : "http", e->client_port);
	return spawn_etcd(e);
}

void tetcd_kill(tetcd *e)
{
	if (e->pid > 0) {
		kill(-e->pid, SIGKILL);
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
}

int tetcd_restart(tetcd *e)
{
	tetcd_kill(e);
	return spawn_etcd(e);
}

void tetcd_stop(tetcd *e)
{
	tetcd_kill(e);
	if (e->dir[0])
		t_sh("rm -rf '%s'", e->dir);
}

const char *t_endpoints(void)
{
	const char *e = getenv("SWARMHEAL_TEST_ENDPOINTS");
	return e && *e ? e : NULL;
}

const char *t_prefix(const char *name)
{
	static char buf[256];
	static int n;
	snprintf(buf, sizeof(buf), "/t/%s/%d-%d/", name, (int)getpid(), n++);
	return buf;
}

pid_t t_spawn(const char *outfile, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		char *full;
		if (asprintf(&full, "exec %s >%s 2>&1", cmd, outfile ? outfile : "/dev/null") < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	return pid;
}

int t_wait_pid(pid_t pid, long timeout_ms, int *status)
{
	for (long waited = 0;; waited += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status)
				*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return 1;
		}
		if (r < 0)
			return 1;
		if (waited >= timeout_ms)
			return 0;
		usleep(10000);
	}
}

char *t_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	char *buf = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int t_wait_file(const char *path, const char *needle, long timeout_ms)
{
	for (long waited = 0;; waited += 10) {
		char *s = t_read_file(path);
		int found = strstr(s, needle) != NULL;
		free(s);
		if (found)
			return 1;
		if (waited >= timeout_ms)
			return 0;
		usleep(10000);
	}
}

const char *t_bin(const char *name)
{
	static char buf[8][512];
	static int i;
	const char *dir = getenv("SWARMHEAL_BIN");
	char *b = buf[i++ % 8];
	snprintf(b, 512, "%s/%s", dir ? dir : "build/bin", name);
	return b;
}

int t_alive(pid_t pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}
