/* SPDX-License-Identifier: MIT */
/* arbiter-elect - one-shot fenced election for scripts, key-compatible with `etcdctl elect` */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd_concurrency.h"
#include "etcd_flags.h"
#include "sh_proc.h"
#include "sh_util.h"

/* Exit statuses (documented in README.md); otherwise the command's own. */
enum {
	EXIT_OK = 0,
	EXIT_NO_LEADER = 1,   /* --leader: there is none */
	EXIT_USAGE = 64,      /* bad flags or arguments */
	EXIT_SOFTWARE = 70,   /* internal error (out of memory, fork failed) */
	EXIT_ETCD = 69,       /* etcd unreachable, or refused (auth, TLS, errors) */
	EXIT_TIMEOUT = 75,    /* --timeout passed before we became leader */
	EXIT_LOST = 76,       /* leadership lost: lease expired, key deleted, etcd gone past the deadline */
	EXIT_EXEC = 127,      /* the command could not be started */
};

static volatile sig_atomic_t got_signal;
static int wake_pipe[2] = {-1, -1}; /* signals and child exits wake the loop */

static void poke(void)
{
	int saved = errno;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0)
		(void)0;
	errno = saved;
}

static void on_signal(int sig)
{
	got_signal = sig;
	poke();
}

static void on_child(int sig)
{
	(void)sig;
	poke();
}

static void drain_wake(void)
{
	char buf[64];
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Sleep up to ms, woken at once by a signal or a child's exit. */
static void wait_wake(long ms)
{
	struct pollfd p = {wake_pipe[0], POLLIN, 0};
	if (ms > 0)
		poll(&p, 1, (int)ms);
}

#define usage_error(...) sh_usage_error("arbiter-elect", __VA_ARGS__)

typedef struct opts {
	const char *prefix, *name, *proposal;
	int64_t ttl_ms, timeout_ms, kill_after_ms;
	int kill_after_set, leader, observe;
	char **cmd;
	etcd_flag_values ev;
	etcd_config cfg;
	sh_opts so;
	sh_opt_group groups[2];
} opts;

static int check_ttl(const void *v, char *err, size_t len)
{
	int64_t ms = *(const int64_t *)v;
	if (ms % 1000)
		snprintf(err, len, "--ttl %lldms is not a whole number of seconds", (long long)ms);
	else if (ms < 2000)
		snprintf(err, len, "--ttl %llds is below etcd's minimum lease TTL of 2s", (long long)(ms / 1000));
	return ms % 1000 || ms < 2000 ? -1 : 0;
}

#define OO(f) offsetof(opts, f)
static const sh_opt ae_opts[] = {
	{"prefix", SH_OPT_STRING, OO(prefix), "/swarmheal/elections/", "PREFIX",
	 "election prefix; the key is PREFIX NAME/LEASEHEX ('' gives etcdctl elect's keys)", NULL, 0, 0,
	 NULL},
	{"ttl", SH_OPT_DURATION, OO(ttl_ms), "10s", NULL, "session lease TTL, whole seconds >= 2", NULL, 0, 0,
	 check_ttl},
	{"timeout", SH_OPT_DURATION, OO(timeout_ms), NULL, NULL, "give up campaigning after DUR (exit 75)", NULL, 0, 1,
	 NULL},
	{"kill-after", SH_OPT_DURATION, OO(kill_after_ms), "2s", NULL,
	 "after SIGTERM, SIGKILL the command's group after DUR (less with short TTLs so an etcd leader election "
	 "fits before it; at most half the TTL minus the safety margin)", NULL, 0,
	 0, NULL},
	{"proposal", SH_OPT_STRING, OO(proposal), NULL, "VALUE", "value of our key (default HOSTNAME:PID)", NULL, 0, 0,
	 NULL},
	{"leader", SH_OPT_BOOL, OO(leader), "false", NULL, "print the current leader and exit (1 when none)", NULL, 0, 0,
	 NULL},
	{"observe", SH_OPT_BOOL, OO(observe), "false", NULL, "print every leader change until interrupted", NULL, 0, 0,
	 NULL},
	{0},
};

static int exit_for(sh_err e)
{
	switch (e) {
	case SH_OK:
		return EXIT_OK;
	case SH_E_TIMEOUT:
		return EXIT_TIMEOUT;
	case SH_E_LEASE_LOST:
	case SH_E_NOT_LEADER:
		return EXIT_LOST;
	case SH_E_NOMEM:
		return EXIT_SOFTWARE;
	default:
		return EXIT_ETCD;
	}
}

static void print_leader(const etcd_kv *kv)
{
	printf("%s %lld %.*s\n", kv->key, (long long)kv->create_revision, (int)kv->value_len, kv->value);
	fflush(stdout);
}

static int do_leader(etcd_client *c, const opts *o)
{
	etcd_kv kv;
	sh_err e = etcd_election_leader(c, o->prefix, o->name, &kv);
	if (e == SH_E_NOT_FOUND)
		return EXIT_NO_LEADER;
	if (e) {
		fprintf(stderr, "arbiter-elect: %s\n", etcd_errmsg(c));
		return exit_for(e);
	}
	print_leader(&kv);
	etcd_kv_free(&kv);
	return EXIT_OK;
}

static int do_observe(etcd_client *c, const opts *o)
{
	char *last = NULL;
	int64_t last_rev = -1;
	etcd_watch *w = NULL;
	char prefix[1024];
	snprintf(prefix, sizeof(prefix), "%s%s/", o->prefix, o->name);
	int rc = EXIT_OK;
	while (!got_signal) {
		etcd_kv kv;
		int64_t rev = 0;
		sh_err e = etcd_election_leader(c, o->prefix, o->name, &kv);
		if (e && e != SH_E_NOT_FOUND) {
			fprintf(stderr, "arbiter-elect: %s\n", etcd_errmsg(c));
			rc = exit_for(e);
			break;
		}
		rev = e ? 0 : kv.create_revision;
		if (rev != last_rev || (last && e == SH_OK && strcmp(last, kv.key))) {
			if (e == SH_OK) {
				print_leader(&kv);
			} else {
				printf("(no leader)\n");
				fflush(stdout);
			}
			free(last);
			last = e ? NULL : strdup(kv.key);
			last_rev = rev;
		}
		if (e == SH_OK)
			etcd_kv_free(&kv);
		if (!w) {
			etcd_watch_opts wo = {.prefix = 1};
			if ((e = etcd_watch_open(c, prefix, &wo, &w))) {
				fprintf(stderr, "arbiter-elect: %s\n", etcd_errmsg(c));
				rc = exit_for(e);
				break;
			}
		}
		/* wait for any change under the prefix, then re-read the leader */
		for (;;) {
			etcd_watch_batch b;
			e = etcd_watch_next(w, &b, 200);
			if (got_signal)
				break;
			if (e == SH_OK) {
				int events = b.n > 0;
				etcd_watch_batch_free(&b);
				if (events)
					break;
			} else if (e == SH_E_COMPACTED) {
				etcd_watch_close(w);
				w = NULL;
				break;
			} else if (e != SH_E_TIMEOUT) {
				/* unreachable: keep trying, the watch resumes */
				sh_sleep_ms(200, &got_signal);
			}
		}
	}
	etcd_watch_close(w);
	free(last);
	return rc;
}

/*
 * The safety margin: the watchdog SIGKILLs the command's group this long before the lease's
 * deadline (send time of the last successful keepalive + TTL), room for its own wake-up on a
 * loaded machine and the group's death: TTL/8, at most 1 s (500 ms at --ttl 4s).
 */
static int64_t margin_ms(int64_t ttl_ms)
{
	return ttl_ms / 8 < 1000 ? ttl_ms / 8 : 1000;
}

static int64_t margin_ns(const opts *o)
{
	return margin_ms(o->ttl_ms) * SH_NS_PER_MS;
}

/*
 * How long etcd may stay leaderless before the command gets SIGTERM, by default: the longest
 * leaderless time measured after killing the leader of a 3-member etcd at its defaults
 * (tests/integration/test_failover.c, bench_failover: up to 2.8 s on a loaded 2-core machine,
 * split votes included), longer than the session's ETCD_SESSION_ELECTION_NS, which sizes the
 * keepalive cadence of the many (agents) rather than the few.
 */
#define AE_LEADERLESS_NS (2800 * SH_NS_PER_MS)

/*
 * With a command, the watch on our own key opens this long after the command
 * starts: a command that ends sooner (a one-shot `-- true`) never pays for a
 * stream of its own (a connection, HTTP/2 set-up, the watch's creation) on the
 * way to its exit. The watch replays from the key's creation, so nothing is
 * missed: a deletion of our key by someone else within that time is noticed
 * at most this much later. The lease deadline and the watchdog do not depend
 * on the watch.
 */
#define AE_WATCH_DELAY_MS 50

/* Leadership loop: returns the exit status. The watch on our own key is left
 * open in *wp for the caller to close after its resign, off the way to it. */

static int hold(etcd_client *c, etcd_session *s, etcd_election *el, const opts *o, sh_watchdog *wd,
		etcd_watch **wp)
{
	int64_t margin = margin_ns(o);
	int64_t kill_after = o->kill_after_ms * SH_NS_PER_MS;
	pid_t child = 0;
	int rc = EXIT_OK;
	const char *lost_reason = NULL;
	char lease_hex[20], rev[24];
	snprintf(lease_hex, sizeof(lease_hex), "%llx", (unsigned long long)etcd_session_lease(s));
	snprintf(rev, sizeof(rev), "%lld", (long long)el->rev);

	if (o->cmd) {
		char *envv[5] = {NULL};
		if (asprintf(&envv[0], "ARBITER_NAME=%s", o->name) < 0 ||
		    asprintf(&envv[1], "ARBITER_KEY=%s", el->key) < 0 ||
		    asprintf(&envv[2], "ARBITER_REVISION=%s", rev) < 0 ||
		    asprintf(&envv[3], "ARBITER_LEASE=%s", lease_hex) < 0)
			return EXIT_SOFTWARE;
		child = sh_spawn_group(o->cmd, envv);
		int spawn_errno = errno;
		for (int i = 0; i < 4; i++)
			free(envv[i]);
		if (child < 0) {
			fprintf(stderr, "arbiter-elect: cannot run '%s': %s\n", o->cmd[0], strerror(spawn_errno));
			return EXIT_EXEC;
		}
		atomic_store(&wd->pgid, child);
	} else {
		printf("%s %s\n", el->key, rev);
		fflush(stdout);
	}

	/* watch our own key: deletion by anyone else ends leadership (with a command,
	 * from AE_WATCH_DELAY_MS on; if it cannot open, the deadline alone, retried) */
	etcd_watch *w = NULL;
	etcd_watch_opts wo = {.start_revision = el->rev + 1, .filter_noput = 1};
	int64_t watch_at = child ? sh_mono_ns() + AE_WATCH_DELAY_MS * SH_NS_PER_MS : 0;
	int exited = 0;
	for (;;) {
		drain_wake();
		if (got_signal)
			break;
		if (child && sh_wait_exit(child, 0)) {
			exited = 1;
			break;
		}
		int64_t left = etcd_session_deadline(s) - sh_mono_ns();
		if (!etcd_session_alive(s) || left < margin + kill_after) {
			lost_reason = "session lease is about to expire without a keepalive";
			break;
		}
		int64_t now = sh_mono_ns();
		if (!w && now >= watch_at) {
			if (etcd_watch_open(c, el->key, &wo, &w) != SH_OK)
				w = NULL;
			else
				etcd_watch_set_wake_fd(w, wake_pipe[0]);
		}
		if (!w) {
			long ms = now < watch_at ? (long)((watch_at - now) / SH_NS_PER_MS) + 1 : 50;
			wait_wake(ms < 50 ? ms : 50);
			continue;
		}
		etcd_watch_batch b;
		sh_err e = etcd_watch_next(w, &b, 50);
		if (e == SH_OK) {
			int deleted = 0;
			for (size_t i = 0; i < b.n; i++)
				deleted |= b.events[i].type == ETCD_EV_DELETE;
			etcd_watch_batch_free(&b);
			if (deleted) {
				lost_reason = "election key was deleted";
				break;
			}
		} else if (e == SH_E_COMPACTED) {
			/* cannot replay: ask directly */
			etcd_watch_close(w);
			w = NULL;
			int64_t now_rev = 0;
			if (etcd_election_check(el, &now_rev) == SH_E_NOT_LEADER) {
				lost_reason = "election key is gone";
				break;
			}
			/* watch on from the revision of that read */
			if (now_rev)
				wo.start_revision = now_rev + 1;
		}
	}
	*wp = w;

	if (child) {
		if (exited) {
			atomic_store(&wd->pgid, 0);
			rc = sh_reap(child);
			kill(-child, SIGKILL); /* whatever the command left in its group */
			if (atomic_load(&wd->fired) || !etcd_session_alive(s)) {
				/* we were frozen: the watchdog killed the command at the deadline */
				lost_reason = "the watchdog stopped the command at the lease deadline";
				rc = EXIT_LOST;
			}
		} else {
			/* stop the command: SIGTERM to its group, SIGKILL after kill-after,
			 * and never later than the deadline minus the margin */
			kill(-child, SIGTERM);
			kill(-child, SIGCONT);
			int64_t until = sh_mono_ns() + kill_after;
			int64_t hard = etcd_session_deadline(s) - margin;
			if (lost_reason && hard < until)
				until = hard;
			long wait_ms = (long)((until - sh_mono_ns()) / SH_NS_PER_MS);
			if (!sh_wait_exit(child, wait_ms > 0 ? wait_ms : 0))
				kill(-child, SIGKILL);
			kill(-child, SIGKILL);
			atomic_store(&wd->pgid, 0);
			int st = sh_reap(child);
			rc = lost_reason ? EXIT_LOST : got_signal ? 128 + got_signal : st;
		}
	} else if (lost_reason) {
		rc = EXIT_LOST;
	}
	if (lost_reason)
		fprintf(stderr, "arbiter-elect: leadership of '%s' lost: %s\n", o->name, lost_reason);
	return rc;
}

/*
 * Without TLS to etcd (every endpoint http://, no certificate flags) this process
 * makes no TLS connection at all: libcurl's start-up (which initialises OpenSSL
 * and reads its system configuration, ~0.3 ms of every run) is told to skip that
 * file. With any TLS, OpenSSL reads it as usual.
 */
static void skip_openssl_config_without_tls(const etcd_config *cfg)
{
	if ((cfg->endpoints && strcasestr(cfg->endpoints, "https:")) || cfg->cacert || cfg->cert || cfg->key)
		return;
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof(*o));
	/* split at the first "--": what follows is the command */
	int nargs = argc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			nargs = i;
			if (i + 1 >= argc)
				return usage_error("%s", "no command after '--'");
			o->cmd = &argv[i + 1];
			break;
		}
	}
	o->groups[0] = (sh_opt_group){"arbiter-elect", ae_opts, o, sizeof(*o)};
	o->groups[1] = (sh_opt_group){"etcd connection", etcd_flag_table, &o->ev, sizeof(o->ev)};
	o->so = (sh_opts){
		.prog = "arbiter-elect",
		.synopsis = "[options] NAME [-- COMMAND [ARGS...]]\n--leader [options] NAME\n--observe [options] NAME",
		.description = "Campaign in the election NAME; once leader, print the key and its revision and hold\n"
			       "leadership until SIGINT/SIGTERM, or run COMMAND only while leader.",
		.footer = "exit: 0 ok, 1 no leader (--leader), 64 usage, 69 etcd unreachable or refused,\n"
			  "      70 internal error, 75 timed out, 76 leadership lost, 127 command not started,\n"
			  "      otherwise the command's status (128+N if it died of signal N)\n",
		.groups = o->groups,
		.ngroups = 2,
		.permute = 1,
	};
	int optind_ = 0;
	int r = sh_opts_parse(&o->so, nargs, argv, &optind_);
	if (r == SH_OPTS_EXIT)
		return -1;
	if (r)
		return r;
	o->kill_after_set = o->so.src[0][3] != 0; /* ae_opts[3] is --kill-after: set by a flag or the config */
	char err[256];
	if (etcd_flag_config(&o->ev, &o->cfg, err, sizeof(err)))
		return usage_error("%s", err);
	int first = optind_; /* the first operand */
	if (first >= nargs)
		return usage_error("%s", "missing election NAME");
	if (first + 1 < nargs)
		return usage_error("unexpected argument '%s' (put the command after '--')", argv[first + 1]);
	o->name = argv[first];
	if (!*o->name)
		return usage_error("%s", "election NAME must not be empty");
	if (strchr(o->name, '/'))
		return usage_error("election NAME '%s' must not contain '/'", o->name);
	if (o->leader + o->observe > 1 || ((o->leader || o->observe) && o->cmd))
		return usage_error("%s", "--leader, --observe and a command exclude each other");
	int64_t margin = margin_ms(o->ttl_ms);
	int64_t max_kill = o->ttl_ms / 2 - margin;
	if (!o->kill_after_set) {
		/* by default leave room for a whole etcd leader election (and a keepalive
		 * after it) before the command gets SIGTERM; at least 500 ms of grace */
		int64_t room = o->ttl_ms - margin -
			       (AE_LEADERLESS_NS + ETCD_SESSION_SLACK_NS + ETCD_SESSION_MIN_PERIOD_NS) / SH_NS_PER_MS;
		int64_t floor = max_kill < 500 ? max_kill : 500;
		if (room < floor)
			room = floor;
		if (o->kill_after_ms > room)
			o->kill_after_ms = room;
	}
	if (o->kill_after_ms > max_kill) {
		if (o->kill_after_set) {
			char msg[128];
			snprintf(msg, sizeof(msg), "--kill-after must be at most %lldms with --ttl %llds",
				 (long long)max_kill, (long long)(o->ttl_ms / 1000));
			return usage_error("%s", msg);
		}
		o->kill_after_ms = max_kill;
	}
	return 0;
}

int main(int argc, char **argv)
{
	opts o;
	int r = parse(argc, argv, &o);
	if (r) {
		sh_opts_release(&o.so);
		return r < 0 ? EXIT_OK : r;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "arbiter-elect: cannot create pipe: %s\n", strerror(errno));
		sh_opts_release(&o.so);
		return EXIT_SOFTWARE;
	}

	/* every request answers well within a third of the TTL */
	long req_timeout = (long)(o.ttl_ms / 3);
	if (!o.cfg.timeout_ms || o.cfg.timeout_ms > req_timeout)
		o.cfg.timeout_ms = req_timeout;
	/* the watchdog (a forked copy of us) starts before the etcd client: it copies
	 * fewer pages, holds none of its connections, and what the client allocates
	 * after is no copy-on-write page of ours */
	sh_watchdog *wd = NULL;
	if (o.cmd && !(wd = sh_watchdog_start(margin_ns(&o)))) {
		fprintf(stderr, "arbiter-elect: cannot start watchdog: %s\n", strerror(errno));
		sh_opts_release(&o.so);
		return EXIT_SOFTWARE;
	}
	skip_openssl_config_without_tls(&o.cfg);
	etcd_client *c;
	char err[512];
	sh_err e = etcd_client_new(&o.cfg, &c, err, sizeof(err));
	if (e) {
		fprintf(stderr, "arbiter-elect: %s\n", err);
		sh_watchdog_stop(wd);
		sh_opts_release(&o.so);
		return e == SH_E_INVAL ? EXIT_USAGE : EXIT_SOFTWARE;
	}
	int rc;
	if (o.leader) {
		rc = do_leader(c, &o);
		goto out;
	}
	if (o.observe) {
		rc = do_observe(c, &o);
		goto out;
	}
	char proposal[300];
	if (o.proposal) {
		snprintf(proposal, sizeof(proposal), "%s", o.proposal);
	} else {
		char host[256] = "unknown";
		gethostname(host, sizeof(host) - 1);
		snprintf(proposal, sizeof(proposal), "%s:%d", host, (int)getpid());
	}
	etcd_session *s;
	if ((e = etcd_session_new(c, o.ttl_ms / 1000, &s))) {
		fprintf(stderr, "arbiter-elect: %s\n", etcd_errmsg(c));
		rc = exit_for(e) == EXIT_LOST ? EXIT_ETCD : exit_for(e);
		goto out;
	}
	/* we act until margin + kill-after before the deadline: keep alive often
	 * enough that AE_LEADERLESS_NS of etcd without a leader fits in what is left
	 * (the session's cadence rule allows for ETCD_SESSION_ELECTION_NS: ask for the difference) */
	int64_t budget = (o.ttl_ms - o.kill_after_ms) * SH_NS_PER_MS - margin_ns(&o) -
			 (AE_LEADERLESS_NS - ETCD_SESSION_ELECTION_NS);
	etcd_session_set_budget(s, budget > 0 ? budget : 1); /* <= 0 would read as "the whole TTL" */
	if (wd)
		etcd_session_set_sink(s, &wd->deadline);
	etcd_election el;
	etcd_watch *w = NULL;
	if (etcd_election_init(&el, c, s, o.prefix, o.name)) {
		etcd_session_close(s, 1);
		rc = EXIT_SOFTWARE;
		goto out;
	}
	e = etcd_election_campaign(&el, proposal, (long)o.timeout_ms, &got_signal);
	if (e == SH_OK) {
		rc = hold(c, s, &el, &o, wd, &w);
	} else if (e == SH_E_CANCELED) {
		rc = EXIT_OK;
	} else {
		fprintf(stderr, "arbiter-elect: %s\n", el.errbuf);
		rc = exit_for(e);
	}
	/* resign by revoking the lease alone: etcd deletes the key with it (the delete
	 * event a waiter watches), one raft write where a delete and a revoke were two
	 * (issue 17: one-shot 3 writes, etcdctl lock's 4); if etcd is unreachable the
	 * lease ends by its TTL and takes the key with it */
	/* how close the lease came to its deadline: worth a line when unusual */
	int64_t gap = etcd_session_max_gap_ns(s);
	if (rc == EXIT_LOST || gap > o.ttl_ms * SH_NS_PER_MS / 4)
		fprintf(stderr, "arbiter-elect: longest keepalive gap of lease %llx: %lld ms (ttl %lld s)\n",
			(unsigned long long)etcd_session_lease(s), (long long)(gap / SH_NS_PER_MS),
			(long long)(o.ttl_ms / 1000));
	etcd_session_close(s, 1); /* at once, on the connection the campaign used */
	etcd_watch_close(w);
	etcd_election_release(&el);
out:
	sh_watchdog_stop(wd);
	etcd_client_free(c);
	sh_opts_release(&o.so);
	/* whoever waits for us (the next command of a script) need not wait for our teardown */
	sh_exit_detached(rc);
}
