/* SPDX-License-Identifier: MIT */
/* tsupport.c - scripted HTTP responder, free ports, private etcd processes, recorded process groups for tests */
#include "tsupport.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- recorded process groups ---- */

#define T_MAX_PROCS 512
#define T_MAX_LEFT 16

typedef struct t_proc {
	pid_t pgid;    /* leader's pid = group id; 0: free slot */
	int in_test;   /* started inside a test (killed after it) or by main (killed at exit) */
	int reaped;    /* leader reaped by t_wait_pid / tetcd_kill */
	int nleft;     /* members the group still had when its leader was reaped */
	pid_t left[T_MAX_LEFT];
	unsigned long long left_start[T_MAX_LEFT]; /* their start times (/proc stat field 22): no pid reuse */
} t_proc;

typedef struct t_dir {
	char path[256];
	int in_test;
} t_dir;

static t_proc procs[T_MAX_PROCS];
static t_dir dirs[64];
static volatile sig_atomic_t in_test;
static int killed_last, hooks_installed;
static pid_t main_pid;

int64_t t_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pgid and start time of pid from /proc/PID/stat; 0 ok */
static int proc_stat(pid_t pid, pid_t *pgid, unsigned long long *start)
{
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	if (!rp)
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice threads itrealvalue starttime */
	char state;
	int ppid, pg;
	unsigned long long f[16];
	if (sscanf(rp + 2, "%c %d %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &state, &ppid, &pg, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10],
		   &f[11], &f[12], &f[13], &f[14], &f[15]) != 19)
		return -1;
	*pgid = pg;
	*start = f[15];
	return 0;
}

static void kill_all_signal(int sig);

static void at_exit_kill(void)
{
	if (getpid() == main_pid)
		t_procs_kill_all();
}

static void install_hooks(void)
{
	if (hooks_installed)
		return;
	hooks_installed = 1;
	main_pid = getpid();
	atexit(at_exit_kill);
	struct sigaction sa = {.sa_handler = kill_all_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void track(pid_t pid)
{
	install_hooks();
	for (size_t i = 0; i < T_MAX_PROCS; i++)
		if (!procs[i].pgid) {
			procs[i] = (t_proc){.pgid = pid, .in_test = in_test};
			return;
		}
	fprintf(stderr, "tsupport: more than %d live process groups recorded, group %d is not\n", T_MAX_PROCS, (int)pid);
}

static t_proc *find_proc(pid_t pid)
{
	for (size_t i = 0; i < T_MAX_PROCS; i++)
		if (procs[i].pgid == pid)
			return &procs[i];
	return NULL;
}

/* the leader was reaped: remember who is left in its group, forget the group if nobody is */
static void reaped(pid_t pid)
{
	t_proc *p = find_proc(pid);
	if (!p)
		return;
	p->reaped = 1;
	p->nleft = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d)) && p->nleft < T_MAX_LEFT) {
		char *end;
		long q = strtol(de->d_name, &end, 10);
		pid_t pg;
		unsigned long long st;
		if (*end || q <= 0 || proc_stat((pid_t)q, &pg, &st) || pg != pid)
			continue;
		p->left[p->nleft] = (pid_t)q;
		p->left_start[p->nleft++] = st;
	}
	if (d)
		closedir(d);
	if (!p->nleft)
		p->pgid = 0;
}

/* SIGKILL one recorded group and reap its leader */
static void kill_group(t_proc *p)
{
	if (!p->reaped) {
		kill(-p->pgid, SIGKILL);
		kill(p->pgid, SIGKILL);
		while (waitpid(p->pgid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		for (int i = 0; i < p->nleft; i++) {
			pid_t pg;
			unsigned long long st;
			if (!proc_stat(p->left[i], &pg, &st) && st == p->left_start[i])
				kill(p->left[i], SIGKILL);
		}
	}
	p->pgid = 0;
}

/* still running: a leader not yet reaped that is not a zombie, or members left behind */
static int group_present(const t_proc *p)
{
	if (!p->reaped)
		return t_alive(p->pgid);
	for (int i = 0; i < p->nleft; i++) {
		pid_t pg;
		unsigned long long st;
		if (!proc_stat(p->left[i], &pg, &st) && st == p->left_start[i])
			return 1;
	}
	return 0;
}

static void cleanup(int only_test)
{
	killed_last = 0;
	for (size_t i = 0; i < T_MAX_PROCS; i++) {
		t_proc *p = &procs[i];
		if (!p->pgid || (only_test && !p->in_test))
			continue;
		if (group_present(p)) {
			killed_last++;
			if (only_test)
				fprintf(stderr, "tsupport: killing process group %d the test left running\n", (int)p->pgid);
		}
		kill_group(p);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (dirs[i].path[0] && (!only_test || dirs[i].in_test)) {
			t_sh("rm -rf '%s'", dirs[i].path);
			dirs[i].path[0] = '\0';
		}
}

static void kill_all_signal(int sig)
{
	/* async-signal-safe: kill only, no reaping, no allocation */
	for (size_t i = 0; i < T_MAX_PROCS; i++)
		if (procs[i].pgid && !procs[i].reaped) {
			kill(-procs[i].pgid, SIGKILL);
			kill(procs[i].pgid, SIGKILL);
		}
	signal(sig, SIG_DFL);
	raise(sig);
}

void t_procs_test_begin(void)
{
	install_hooks();
	in_test = 1;
}

void t_procs_test_end(void)
{
	in_test = 0;
	cleanup(1);
}

void t_procs_kill_all(void)
{
	in_test = 0;
	cleanup(0);
}

int t_procs_killed_last(void)
{
	return killed_last;
}

static void track_dir(const char *path)
{
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!dirs[i].path[0]) {
			snprintf(dirs[i].path, sizeof(dirs[i].path), "%s", path);
			dirs[i].in_test = in_test;
			return;
		}
}

void t_remove_after_test(const char *dir)
{
	track_dir(dir);
}

static void untrack_dir(const char *path)
{
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strcmp(dirs[i].path, path))
			dirs[i].path[0] = '\0';
}

/* in a fresh child: own group, die with the parent, no inherited descriptors above 2 */
static void child_setup(pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

int t_skip(const char *name, const char *why)
{
	const char *strict = getenv("SWARMHEAL_TEST_STRICT");
	if (strict && !strcmp(strict, "1")) {
		fprintf(stderr, "%s: failed: %s (SWARMHEAL_TEST_STRICT=1: a missing service is a failure)\n", name, why);
		return 1;
	}
	fprintf(stderr, "%s: skipped: %s\n", name, why);
	return 77;
}

struct tresp {
	int fd, port;
	const char *const *replies;
	const size_t *lens; /* binary replies (tresp_start_bin) */
	tresp_fn fn;        /* replies made from the request (tresp_start_fn) */
	void *ud;
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

/* Read until the peer pauses for 100 ms or closes (at most 2 s); keeps the first outlen-1 bytes. */
static void read_quiet(int fd, char *out, size_t outlen)
{
	size_t len = 0;
	int64_t end = t_now_ms() + 2000;
	while (t_now_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			break;
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		size_t n = (size_t)r < outlen - 1 - len ? (size_t)r : outlen - 1 - len;
		memcpy(out + len, buf, n);
		len += n;
	}
	out[len] = '\0';
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
		if (r->lens)
			read_quiet(c, req, sizeof(req));
		else
			read_request(c, req, sizeof(req));
		pthread_mutex_lock(&r->mu);
		int i = r->fn ? 0 : r->served % r->n;
		r->served++;
		snprintf(r->last, sizeof(r->last), "%s", req);
		pthread_mutex_unlock(&r->mu);
		char *made = r->fn ? r->fn(r->ud, req) : NULL;
		const char *reply = r->fn ? made : r->replies[i];
		if (reply) {
			size_t off = 0, len = r->lens ? r->lens[i] : strlen(reply);
			while (off < len) {
				ssize_t w = write(c, reply + off, len - off);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			if (r->lens) {
				/* let the client take it all in before the close (libcurl 7.88 drops
				 * HTTP/2 trailers that arrive together with the end of the connection,
				 * and unread data would turn the close into a reset) */
				read_quiet(c, req + strlen(req), sizeof(req) - strlen(req));
				shutdown(c, SHUT_WR);
				char rest[4096];
				read_quiet(c, rest, sizeof(rest));
			}
		} else {
			while (!r->stop)
				usleep(20000);
		}
		free(made);
		close(c);
	}
	return NULL;
}

static tresp *tresp_start_impl(const char *const *replies, const size_t *lens, int n, tresp_fn fn, void *ud)
{
	tresp *r = calloc(1, sizeof(*r));
	r->replies = replies;
	r->lens = lens;
	r->n = n;
	r->fn = fn;
	r->ud = ud;
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

tresp *tresp_start(const char *const *replies, int n)
{
	return tresp_start_impl(replies, NULL, n, NULL, NULL);
}

tresp *tresp_start_fn(tresp_fn fn, void *ud)
{
	return tresp_start_impl(NULL, NULL, 1, fn, ud);
}

tresp *tresp_start_bin(const char *const *replies, const size_t *lens, int n)
{
	return tresp_start_impl(replies, lens, n, NULL, NULL);
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

#define TPROXY_MAX 64 /* relayed connections at once */

struct tproxy {
	int fd, port, target, accepts, stop;
	int a[TPROXY_MAX], b[TPROXY_MAX]; /* client side, target side; -1 free */
	pthread_t thr;
	pthread_mutex_t mu;
};

/* Copy what fd has to peer; 0 when the pair is done (EOF, error). */
static int relay(int fd, int peer)
{
	char buf[16384];
	ssize_t r = read(fd, buf, sizeof(buf));
	if (r <= 0)
		return 0;
	for (ssize_t off = 0; off < r;) {
		ssize_t w = write(peer, buf + off, (size_t)(r - off));
		if (w <= 0)
			return 0;
		off += w;
	}
	return 1;
}

static void tproxy_accept(tproxy *p)
{
	int c = accept(p->fd, NULL, NULL);
	if (c < 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->accepts++;
	pthread_mutex_unlock(&p->mu);
	int u = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in t = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->target),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int slot = -1;
	for (int i = 0; i < TPROXY_MAX && slot < 0; i++)
		if (p->a[i] < 0)
			slot = i;
	if (u < 0 || slot < 0 || connect(u, (struct sockaddr *)&t, sizeof(t))) {
		close(c);
		if (u >= 0)
			close(u);
		return;
	}
	p->a[slot] = c;
	p->b[slot] = u;
}

static void *tproxy_loop(void *arg)
{
	tproxy *p = arg;
	while (!p->stop) {
		struct pollfd fds[1 + 2 * TPROXY_MAX];
		int slot[1 + 2 * TPROXY_MAX], n = 0;
		fds[n++] = (struct pollfd){p->fd, POLLIN, 0};
		for (int i = 0; i < TPROXY_MAX; i++) {
			if (p->a[i] < 0)
				continue;
			slot[n] = i;
			fds[n++] = (struct pollfd){p->a[i], POLLIN, 0};
			slot[n] = i;
			fds[n++] = (struct pollfd){p->b[i], POLLIN, 0};
		}
		if (poll(fds, (nfds_t)n, 100) <= 0)
			continue;
		if (fds[0].revents)
			tproxy_accept(p);
		for (int k = 1; k < n; k++) {
			int i = slot[k];
			if (!fds[k].revents || p->a[i] < 0)
				continue;
			int from_client = fds[k].fd == p->a[i];
			if (!relay(fds[k].fd, from_client ? p->b[i] : p->a[i])) {
				close(p->a[i]);
				close(p->b[i]);
				p->a[i] = p->b[i] = -1;
			}
		}
	}
	return NULL;
}

tproxy *tproxy_start(int target_port)
{
	tproxy *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->target = target_port;
	for (int i = 0; i < TPROXY_MAX; i++)
		p->a[i] = p->b[i] = -1;
	pthread_mutex_init(&p->mu, NULL);
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) || listen(p->fd, 64) ||
	    getsockname(p->fd, (struct sockaddr *)&a, &al)) {
		if (p->fd >= 0)
			close(p->fd);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return NULL;
	}
	p->port = ntohs(a.sin_port);
	pthread_create(&p->thr, NULL, tproxy_loop, p);
	return p;
}

int tproxy_port(const tproxy *p)
{
	return p->port;
}

int tproxy_accepts(tproxy *p)
{
	pthread_mutex_lock(&p->mu);
	int n = p->accepts;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void tproxy_stop(tproxy *p)
{
	if (!p)
		return;
	p->stop = 1;
	pthread_join(p->thr, NULL);
	for (int i = 0; i < TPROXY_MAX; i++) {
		if (p->a[i] >= 0) {
			close(p->a[i]);
			close(p->b[i]);
		}
	}
	close(p->fd);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int t_free_port(void)
{
	/* below the kernel's ephemeral range: a port bind(0) picks there could be taken by any
	 * process's next client connection before our server binds it */
	int lo = 32768;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d", &lo) != 1 || lo <= 12000)
			lo = 32768;
		fclose(f);
	}
	static unsigned seed;
	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)t_now_ms();
	for (int tries = 0; tries < 1000; tries++) {
		int p = 10000 + (int)(rand_r(&seed) % (unsigned)(lo - 10000));
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			break;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return p;
	}
	return 0;
}

void t_sh_line(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	out[0] = '\0';
	if (f) {
		if (!fgets(out, (int)len, f))
			out[0] = '\0';
		pclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
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
	char cmd[4096], logp[300], ready[64];
	snprintf(logp, sizeof(logp), "%s/etcd.log", e->dir);
	struct stat sb;
	long off = stat(logp, &sb) == 0 ? (long)sb.st_size : 0; /* a restart appends to the same log */
	snprintf(ready, sizeof(ready), "client requests on 127.0.0.1:%d", e->client_port);
	const char *scheme = strstr(e->extra, "--cert-file") ? "https" : "http";
	snprintf(cmd, sizeof(cmd),
		 "exec etcd --name t --data-dir %s/data --listen-client-urls %s://127.0.0.1:%d "
		 "--advertise-client-urls %s://127.0.0.1:%d --listen-peer-urls http://127.0.0.1:%d "
		 "--initial-advertise-peer-urls http://127.0.0.1:%d --initial-cluster t=http://127.0.0.1:%d "
		 "%s >>%s/etcd.log 2>&1",
		 e->dir, scheme, e->client_port, scheme, e->client_port, e->peer_port, e->peer_port,
		 e->peer_port, e->extra, e->dir);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_setup(parent);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	track(pid);
	e->pid = pid;
	/* wait (15 s at most) until etcd says it serves clients: it logs that once it has elected
	 * itself and published its member, so the first request needs no retry */
	for (int64_t t0 = t_now_ms(); t_now_ms() - t0 < 15000;) {
		char *log = t_read_file(logp);
		int ok = strlen(log) > (size_t)off && strstr(log + off, ready);
		free(log);
		if (ok)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			reaped(pid);
			e->pid = 0;
			fprintf(stderr, "tsupport: etcd exited at start, see %s\n", logp);
			return -1;
		}
		usleep(20000);
	}
	fprintf(stderr, "tsupport: etcd did not serve clients within 15 s, see %s\n", logp);
	return -1;
}

int tetcd_start(tetcd *e, const char *extra_flags)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/swarmheal-tetcd-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	track_dir(e->dir);
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
		reaped(e->pid);
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
	if (e->dir[0]) {
		t_sh("rm -rf '%s'", e->dir);
		untrack_dir(e->dir);
	}
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
	/* empty the output file now, not when the child's shell gets to it: a caller that waits for a
	 * line in it must never see what an earlier process (or an earlier run) left there */
	if (outfile) {
		int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(parent);
		char *full;
		if (asprintf(&full, "exec %s >%s 2>&1", cmd, outfile ? outfile : "/dev/null") < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	if (pid > 0) {
		setpgid(pid, pid); /* also here: no race with a kill(-pid) right after the fork */
		track(pid);
	}
	return pid;
}

int t_wait_pid(pid_t pid, long timeout_ms, int *status)
{
	for (int64_t t0 = t_now_ms();;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status)
				*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			reaped(pid);
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return 1;
		if (t_now_ms() - t0 >= timeout_ms)
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

void t_stop_clean(pid_t pid)
{
	kill(pid, SIGTERM);
	int st = -1;
	CU_ASSERT_TRUE(t_wait_pid(pid, 10000, &st));
	CU_ASSERT_EQUAL(st, 0);
}

int t_wait_file(const char *path, const char *needle, long timeout_ms)
{
	for (int64_t t0 = t_now_ms();;) {
		char *s = t_read_file(path);
		int found = strstr(s, needle) != NULL;
		free(s);
		if (found)
			return 1;
		if (t_now_ms() - t0 >= timeout_ms)
			return 0;
		usleep(10000);
	}
}

double t_metric(int port, const char *series)
{
	char cmd[128], line[1024];
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 2 http://127.0.0.1:%d/metrics", port);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	double v = -1;
	size_t n = strlen(series);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, series, n) && line[n] == ' ')
			v = strtod(line + n + 1, NULL);
	pclose(f);
	return v;
}

int t_wait_metric(int port, const char *series, double min, long timeout_ms)
{
	for (int64_t t0 = t_now_ms();;) {
		if (t_metric(port, series) >= min)
			return 1;
		if (t_now_ms() - t0 >= timeout_ms)
			return 0;
		usleep(50000);
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
