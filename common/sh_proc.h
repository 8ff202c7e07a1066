/* SPDX-License-Identifier: MIT */
/* sh_proc.h - run a command in its own process group that dies with us, and a deadline watchdog */
#ifndef SH_PROC_H
#define SH_PROC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Start argv[0] (PATH searched) in a new process group whose leader gets
 * SIGKILL when we die (PR_SET_PDEATHSIG). env: NULL-terminated "K=V" list
 * added to the environment. Returns the pid (= pgid) or -1 with errno.
 */
pid_t sh_spawn_group(char *const argv[], char *const env[]);

/* Wait up to timeout_ms for pid to exit without reaping it. 1 exited, 0 not yet. */
int sh_wait_exit(pid_t pid, long timeout_ms);
/* Reap pid; returns a shell-style status (code, or 128+signal). */
int sh_reap(pid_t pid);

/*
 * The watchdog: a separate process (own process group, so a stop of ours or
 * of our group does not freeze it) that SIGKILLs the process group in
 * `pgid` once the monotonic clock reaches `deadline - margin`, and also when
 * we die. The deadline and pgid live in shared memory the parent updates.
 */
typedef struct sh_watchdog {
	_Atomic int64_t deadline;   /* monotonic ns; 0 = disarmed */
	_Atomic int64_t margin;     /* ns */
	_Atomic int pgid;           /* group to kill; 0 = none */
	_Atomic int fired;          /* set by the watchdog when it killed */
	pid_t pid;                  /* the watchdog process */
} sh_watchdog;

sh_watchdog *sh_watchdog_start(int64_t margin_ns);
/* Stop the watchdog process (SIGKILL, not waited for: for a caller about to
 * exit, whose children init then reaps) and unmap. */
void sh_watchdog_stop(sh_watchdog *w);

/*
 * Exit with status, leaving the unmapping of our address space to a helper
 * process that shares it (CLONE_VM) and is SIGKILLed when we are gone
 * (PR_SET_PDEATHSIG), in a process group of its own: whoever waits for us
 * sees us exit before that teardown, about 1 ms for a program that loads
 * libcurl's thirty-odd shared libraries (issue 17: a one-shot arbiter-elect
 * pays it on every run). The helper blocks every signal and closes its copy
 * of our descriptors first.
 * stdio is flushed, then the exit is _exit(): atexit handlers and library
 * destructors (libcrypto's, gnutls', p11-kit's: they only free memory, ~0.5 ms)
 * do not run, except in an AddressSanitizer build (LeakSanitizer checks from
 * one). Under valgrind (which stops a program at such a clone) a plain exit();
 * where the clone fails, the exit goes on without the helper.
 * For a program's last act, from its main thread, with nothing of its own left
 * to run at exit.
 */
_Noreturn void sh_exit_detached(int status);

#endif
