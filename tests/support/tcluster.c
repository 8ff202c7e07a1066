/* SPDX-License-Identifier: MIT */
/* tcluster.c - a private multi-member etcd cluster on loopback (see tcluster.h) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd.h"
#include "sh_util.h"
#include "tcluster.h"
#include "tsupport.h"

static int port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int spawn_member(tcluster *c, int i, const char *state)
{
	struct tcluster_member *m = &c->m[i];
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "exec etcd --name m%d --data-dir %s/m%d --listen-client-urls http://127.0.0.1:%d "
		 "--advertise-client-urls http://127.0.0.1:%d --listen-peer-urls http://127.0.0.1:%d "
		 "--initial-advertise-peer-urls http://127.0.0.1:%d --initial-cluster %s "
		 "--initial-cluster-state %s --initial-cluster-token tcluster-%d >>%s 2>&1",
		 i, c->dir, i, m->client_port, m->client_port, m->peer_port, m->peer_port, c->initial, state,
		 (int)getpid(), m->log);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	m->pid = pid;
	return 0;
}

static int wait_port(tcluster *c, int i)
{
	for (int k = 0; k < 300; k++) {
		if (port_accepts(c->m[i].client_port))
			return 0;
		if (waitpid(c->m[i].pid, NULL, WNOHANG) == c->m[i].pid) {
			c->m[i].pid = 0;
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

int tcluster_start(tcluster *c, int n)
{
	memset(c, 0, sizeof(*c));
	if (n < 1 || n > TCLUSTER_MAX)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/swarmheal-tcluster-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	c->n = n;
	int used[2 * TCLUSTER_MAX], nused = 0;
	size_t il = 0, el = 0;
	for (int i = 0; i < n; i++) {
		struct tcluster_member *m = &c->m[i];
		for (int which = 0; which < 2; which++) {
			int p, dup;
			do {
				p = t_free_port();
				dup = 0;
				for (int k = 0; k < nused; k++)
					dup |= used[k] == p;
			} while (dup);
			used[nused++] = p;
			*(which ? &m->peer_port : &m->client_port) = p;
		}
		snprintf(m->endpoint, sizeof(m->endpoint), "http://127.0.0.1:%d", m->client_port);
		snprintf(m->log, sizeof(m->log), "%s/m%d.log", c->dir, i);
		il += (size_t)snprintf(c->initial + il, sizeof(c->initial) - il, "%sm%d=http://127.0.0.1:%d",
				       i ? "," : "", i, m->peer_port);
		el += (size_t)snprintf(c->endpoints + el, sizeof(c->endpoints) - el, "%s%s", i ? "," : "",
				       m->endpoint);
	}
	for (int i = 0; i < n; i++)
		if (spawn_member(c, i, "new")) {
			tcluster_stop(c);
			return -1;
		}
	for (int i = 0; i < n; i++)
		if (wait_port(c, i)) {
			fprintf(stderr, "tcluster: member %d did not start, see %s\n", i, c->m[i].log);
			tcluster_stop(c);
			return -1;
		}
	if (tcluster_leader(c, 20000, -1) < 0) {
		fprintf(stderr, "tcluster: no leader within 20 s, see %s/m*.log\n", c->dir);
		tcluster_stop(c);
		return -1;
	}
	return 0;
}

/* status of member i through a client of its own with a short timeout */
static int member_status(tcluster *c, int i, etcd_status *st)
{
	if (!c->m[i].pid)
		return -1;
	etcd_config cfg = {.endpoints = c->m[i].endpoint, .timeout_ms = 300, .connect_timeout_ms = 200};
	etcd_client *ec;
	if (etcd_client_new(&cfg, &ec, NULL, 0))
		return -1;
	int r = etcd_status_get(ec, st) == SH_OK ? 0 : -1;
	etcd_client_free(ec);
	return r;
}

int tcluster_leader(tcluster *c, long timeout_ms, int not)
{
	int64_t until = sh_mono_ns() + timeout_ms * SH_NS_PER_MS;
	for (;;) {
		for (int i = 0; i < c->n; i++) {
			etcd_status st;
			if (i != not && member_status(c, i, &st) == 0 && st.leader && st.leader == st.member_id)
				return i;
		}
		if (sh_mono_ns() >= until)
			return -1;
		usleep(10000);
	}
}

int64_t tcluster_term(tcluster *c)
{
	for (int i = 0; i < c->n; i++) {
		etcd_status st;
		if (member_status(c, i, &st) == 0)
			return st.raft_term;
	}
	return 0;
}

void tcluster_kill(tcluster *c, int i)
{
	if (c->m[i].pid > 0) {
		kill(-c->m[i].pid, SIGKILL);
		kill(c->m[i].pid, SIGKILL);
		waitpid(c->m[i].pid, NULL, 0);
		c->m[i].pid = 0;
	}
}

int tcluster_restart(tcluster *c, int i)
{
	tcluster_kill(c, i);
	if (spawn_member(c, i, "existing"))
		return -1;
	return wait_port(c, i);
}

void tcluster_stop(tcluster *c)
{
	for (int i = 0; i < c->n; i++)
		tcluster_kill(c, i);
	if (c->dir[0] && getenv("TCLUSTER_KEEP"))
		fprintf(stderr, "tcluster: logs and data kept in %s\n", c->dir);
	else if (c->dir[0])
		t_sh("rm -rf '%s'", c->dir);
	c->dir[0] = '\0';
}
