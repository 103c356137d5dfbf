/* SPDX-License-Identifier: MIT */
/*
 * bench_signals.c — SIGINT, SIGTERM and SIGHUP during `imgpool bench`: the handler only
 * records the signal (bench_signal) and asks the pool running, if any, to stop;
 * the measuring loop and the baseline's reader see the flag, terminate and clean up.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "bench_internal.h"
#include "pool.h"

volatile sig_atomic_t bench_signal;
static pool *volatile bench_pool;

/* SIGINT/SIGTERM/SIGHUP: remember it and drain the pool (async-signal-safe); the main
 * loop terminates the pool and cleans up. */
static void on_signal(int sig)
{
	bench_signal = sig;
	pool *p = bench_pool;
	if (p)
		pool_interrupt(p);
}

/* Install the handler without SA_RESTART, so a blocking read of the baseline's
 * pipe returns EINTR and we notice the signal. old[] keeps what was there. */
void bench_install_signals(struct sigaction old[BENCH_SIGNALS])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	/* A closed terminal ended it at once, its temporary folder left behind;
	 * ignored when bench starts (nohup), it stays ignored, as in a run. */
	sigaction(SIGHUP, NULL, &old[3]);
	if (old[3].sa_handler != SIG_IGN)
		sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old[2]);
}

/* Put back the dispositions bench_install_signals() replaced. */
void bench_restore_signals(const struct sigaction old[BENCH_SIGNALS])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	sigaction(SIGPIPE, &old[2], NULL);
	sigaction(SIGHUP, &old[3], NULL);
}

void bench_signals_watch(pool *p)
{
	bench_pool = p;
}
