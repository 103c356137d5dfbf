/* SPDX-License-Identifier: MIT */
/*
 * stop.c — INT, TERM, HUP, QUIT, USR1, USR2 and XCPU: recorded, handed to the
 * pool; CONT handed to the pool too. See stop.h.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sinks.h"
#include "stop.h"

/* How long the setup may take to end after a second signal before the signal's
 * own action ends imgpool (on_alarm()). */
#define SETUP_GRACE_S 2

static volatile sig_atomic_t got_signal, signal_count;
static pool *volatile the_pool;
static volatile sig_atomic_t pool_done;   /* the pool has run: the summary is being made */
static volatile sig_atomic_t alarm_armed; /* by a second signal, not from outside */
static volatile sig_atomic_t setup_done;  /* stop_setup_over(): no alarm from here */

static void on_signal(int sig)
{
	int e = errno; /* pool_interrupt() and sinks_unblock() keep it too */

	got_signal = sig;
	signal_count++;
	sinks_unblock(); /* a stalled reader cannot hold the stop (sinks.h) */
	pool *p = the_pool;
	if (p) {
		pool_interrupt(p); /* async-signal-safe */
	} else if (signal_count == 2 && !pool_done && !setup_done) {
		/* A second one before the pool runs (a slow walk, workers that will
		 * not start): the setup notices the first and ends with a summary;
		 * where it does not within SETUP_GRACE_S, on_alarm() ends imgpool. A
		 * third does not put that off. */
		alarm_armed = 1;
		alarm(SETUP_GRACE_S);
	}
	errno = e;
}

/* Continued after a stop (Ctrl-Z, then fg): the pool counts the time stopped
 * against no file's --timeout, wherever the stop found imgpool (pool.h). */
static void on_continue(int sig)
{
	int e = errno;
	(void)sig;
	pool_continued(the_pool);
	errno = e;
}

/* The setup did not end in time after a second signal: stop at once, as the
 * signal would have. An alarm imgpool did not set ends it as it always did. */
static void on_alarm(int sig)
{
	int s = alarm_armed ? got_signal : sig;

	sinks_restore_from_handler();
	if (s == SIGQUIT || s == SIGXCPU) /* their own action dumps core, outside OUT */
		_exit(128 + s);
	signal(s, SIG_DFL);
	raise(s);
}

/* Handle sig as sa says, and note it in *taken: the signals to unblock. */
static void take(int sig, const struct sigaction *sa, sigset_t *taken)
{
	sigaction(sig, sa, NULL);
	sigaddset(taken, sig);
}

void stop_install(void)
{
	struct sigaction sa;
	/* A signal mask is inherited across exec: a parent that blocked TERM (a
	 * Python program, a service manager's helper) left every stop pending for
	 * ever, and the scheduler's SIGKILL came with no summary. Each signal
	 * handled here is unblocked at the end. */
	sigset_t taken;

	sigemptyset(&taken);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	take(SIGINT, &sa, &taken);
	take(SIGTERM, &sa, &taken);
	/* `nohup imgpool …` asks that the end of the session not stop the run: a
	 * SIGHUP ignored when imgpool starts stays ignored. (SIGINT is taken even
	 * so: test harnesses and CI runners start programs with it ignored, and
	 * then send it to stop them.) */
	struct sigaction hup;
	if (sigaction(SIGHUP, NULL, &hup) != 0 || hup.sa_handler != SIG_IGN)
		take(SIGHUP, &sa, &taken);
	/* Their default action ended imgpool with no summary and files unanswered:
	 * schedulers warn with them (Grid Engine's -notify: USR1, USR2; a CPU time
	 * limit: XCPU, SIGKILL after), and QUIT is Ctrl-\. A stop as TERM's. */
	take(SIGQUIT, &sa, &taken);
	take(SIGUSR1, &sa, &taken);
	take(SIGUSR2, &sa, &taken);
	take(SIGXCPU, &sa, &taken);
	sa.sa_handler = on_alarm;
	take(SIGALRM, &sa, &taken);
	sa.sa_handler = on_continue;
	sa.sa_flags = SA_RESTART; /* it ends no wait of imgpool's own */
	take(SIGCONT, &sa, &taken);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &taken, NULL);
}

int stop_signal(void)
{
	return got_signal;
}

int stop_now(void)
{
	return signal_count >= 2;
}

void stop_setup_over(void)
{
	setup_done = 1; /* first: a signal now arms nothing that alarm(0) would miss */
	alarm(0);
	alarm_armed = 0;
}

void stop_pool_started(pool *p)
{
	the_pool = p;
	stop_setup_over();
	if (got_signal)
		pool_interrupt(p); /* it came during the setup */
}

void stop_pool_done(void)
{
	pool_done = 1;
	the_pool = NULL;
}
