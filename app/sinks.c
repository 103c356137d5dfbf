/* SPDX-License-Identifier: MIT */
/*
 * sinks.c — the pipes the answers go to, made non-blocking by a stop. See
 * sinks.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include "sinks.h"

/* stdout, stderr, a --report, a --trace and a --timeline descriptor. */
#define MAX_SINKS 5

static volatile sig_atomic_t sink_fd[MAX_SINKS], sink_flags[MAX_SINKS], sink_ours[MAX_SINKS];
static volatile sig_atomic_t nsinks, stopped;

/* Hold the signals whose handler reads the set while it changes. */
static void hold(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void let_go(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void sinks_note(int fd, int ours)
{
	struct stat st;
	int flags;
	sigset_t old;

	if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) ||
	    (flags = fcntl(fd, F_GETFL)) < 0 || (flags & O_NONBLOCK))
		return;
	hold(&old);
	int known = 0;
	for (int i = 0; i < nsinks; i++)
		known |= sink_fd[i] == fd;
	if (!known && nsinks < MAX_SINKS) {
		sink_fd[nsinks] = fd;
		sink_flags[nsinks] = flags;
		sink_ours[nsinks] = ours;
		nsinks++;
		if (stopped)
			fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	}
	let_go(&old);
}

void sinks_forget(int fd)
{
	sigset_t old;

	hold(&old);
	for (int i = 0; i < nsinks; i++)
		if (sink_fd[i] == fd && sink_ours[i]) {
			sink_fd[i] = sink_fd[nsinks - 1];
			sink_flags[i] = sink_flags[nsinks - 1];
			sink_ours[i] = sink_ours[nsinks - 1];
			nsinks--;
			break;
		}
	let_go(&old);
}

void sinks_unblock(void)
{
	int e = errno;

	stopped = 1;
	for (int i = 0; i < nsinks; i++)
		fcntl(sink_fd[i], F_SETFL, sink_flags[i] | O_NONBLOCK);
	errno = e;
}

int sinks_ready(int fd)
{
	struct stat st;
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 1;
	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

void sinks_restore_from_handler(void)
{
	int e = errno;

	for (int i = 0; i < nsinks; i++)
		fcntl(sink_fd[i], F_SETFL, sink_flags[i]);
	errno = e;
}

void sinks_restore(void)
{
	sigset_t old;

	hold(&old);
	sinks_restore_from_handler();
	nsinks = 0;
	let_go(&old);
}
