/* SPDX-License-Identifier: MIT */
/* sh_proc.c - process groups that die with their parent, and the deadline watchdog process */
#include "sh_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sh_util.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

/* Default dispositions, then an empty mask (in this order, so no handler of
 * ours can run in between). Safe in a vfork child: only system calls. */
static void reset_signals(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

extern char **environ;

pid_t sh_spawn_group(char *const argv[], char *const env[])
{
	/* the child's environment: ours plus env, built before vfork (the child
	 * shares our memory until exec and must not allocate) */
	size_t n = 0, k = 0;
	while (environ && environ[n])
		n++;
	while (env && env[k])
		k++;
	char **envp = calloc(n + k + 1, sizeof(char *));
	if (!envp)
		return -1;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		int overridden = 0;
		for (size_t j = 0; j < k && !overridden; j++) {
			const char *eq = strchr(env[j], '=');
			size_t nl = eq ? (size_t)(eq - env[j]) + 1 : strlen(env[j]);
			overridden = !strncmp(environ[i], env[j], nl);
		}
		if (!overridden)
			envp[m++] = environ[i];
	}
	for (size_t j = 0; j < k; j++)
		envp[m++] = env[j];
	envp[m] = NULL;

	/* block every signal so no handler of ours runs in the vfork child */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t parent = getpid();
	volatile int child_errno = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		reset_signals(); /* what the command expects */
		execvpe(argv[0], argv, envp);
		child_errno = errno;
		_exit(127);
	}
	int saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(envp);
	if (pid < 0) {
		errno = saved;
		return -1;
	}
	setpgid(pid, pid);
	if (child_errno) {
		waitpid(pid, NULL, 0);
		errno = child_errno;
		return -1;
	}
	return pid;
}

int sh_wait_exit(pid_t pid, long timeout_ms)
{
	int64_t until = sh_mono_ns() + (int64_t)timeout_ms * SH_NS_PER_MS;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			return 1;
		if (errno == ECHILD)
			return 1;
		if (sh_mono_ns() >= until)
			return 0;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int sh_reap(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return 127;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 127;
}

static volatile sig_atomic_t parent_gone;
static void on_parent_death(int sig)
{
	(void)sig;
	parent_gone = 1;
}

static void watchdog_loop(sh_watchdog *w, pid_t parent)
{
	for (;;) {
		int pg = atomic_load(&w->pgid);
		int64_t dl = atomic_load(&w->deadline);
		int64_t now = sh_mono_ns();
		if (parent_gone || getppid() != parent) {
			if (pg > 0)
				kill(-pg, SIGKILL);
			_exit(0);
		}
		if (pg > 0 && dl > 0 && now >= dl - atomic_load(&w->margin)) {
			if (kill(-pg, SIGKILL) == 0)
				atomic_store(&w->fired, 1);
		}
		int64_t sleep_ns = 50 * SH_NS_PER_MS;
		if (pg > 0 && dl > 0) {
			int64_t until = dl - atomic_load(&w->margin) - now;
			if (until < sleep_ns)
				sleep_ns = until > SH_NS_PER_MS ? until : SH_NS_PER_MS;
		}
		struct timespec ts = {(time_t)(sleep_ns / SH_NS_PER_S), (long)(sleep_ns % SH_NS_PER_S)};
		nanosleep(&ts, NULL);
	}
}

sh_watchdog *sh_watchdog_start(int64_t margin_ns)
{
	sh_watchdog *w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		return NULL;
	memset(w, 0, sizeof(*w));
	atomic_store(&w->margin, margin_ns);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		munmap(w, sizeof(*w));
		return NULL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		reset_signals();
		signal(SIGTERM, on_parent_death);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		prctl(PR_SET_NAME, "arbiter-watchdog");
		watchdog_loop(w, parent);
		_exit(0);
	}
	/* its own group from both sides: it may be killed before it runs at all (an
	 * early exit of ours), and must not be found in our caller's group then either */
	setpgid(pid, pid);
	w->pid = pid;
	return w;
}

void sh_watchdog_stop(sh_watchdog *w)
{
	if (!w)
		return;
	atomic_store(&w->pgid, 0);
	kill(w->pid, SIGKILL);
	/* not waited for: it holds nothing, and its teardown (a copy of our address
	 * space) would be paid on our way out; reaped by init once we exit */
	waitpid(w->pid, NULL, WNOHANG);
	munmap(w, sizeof(*w));
}

/* The exit helper's stack: static, so starting it allocates nothing. */
static _Alignas(16) char exit_helper_stack[64 * 1024];
static pid_t exit_helper_parent;

/* Runs in a process that shares our memory but not our descriptor table,
 * signal handlers or thread (no TLS of its own: it makes no call that can
 * fail, so it never writes the errno it would share with our main thread). */
__attribute__((no_sanitize_address)) static int exit_helper(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setpgid(0, 0); /* out of our caller's process group (see sh_exit_detached) */
	/* its copy of our descriptors: a caller that reads our stdout to EOF must not wait for it */
	close_range(0, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != exit_helper_parent)
		return 0; /* we are gone already */
	for (;;)
		pause(); /* until SIGKILL, when we have exited */
}

/* valgrind runs no clone like the helper's: it stops the program instead of refusing it */
static int under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	if (pre && strstr(pre, "vgpreload"))
		return 1;
#if __has_include(<valgrind/valgrind.h>)
	return RUNNING_ON_VALGRIND != 0;
#else
	return 0;
#endif
}

void sh_exit_detached(int status)
{
	if (under_valgrind())
		exit(status);
	fflush(NULL);
	exit_helper_parent = getpid();
	/* where this clone is refused: a plain exit */
	pid_t h = clone(exit_helper, exit_helper_stack + sizeof(exit_helper_stack), CLONE_VM | SIGCHLD, NULL);
	/* a group of its own, set from both sides so it holds before we exit: whoever
	 * checks that nothing of our process group is left must not find it */
	if (h > 0)
		setpgid(h, h);
#if defined(__SANITIZE_ADDRESS__)
	exit(status); /* LeakSanitizer checks from an exit handler */
#else
	/* the exit handlers left (libcrypto's, gnutls', p11-kit's: ~0.5 ms) only free
	 * memory the teardown frees anyway; stdio is flushed above */
	_exit(status);
#endif
}
