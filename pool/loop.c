/* SPDX-License-Identifier: MIT */
/*
 * loop.c — loop_once(), the only place the parent waits: one turn dispatches,
 * polls the channels, the pidfds, the feeds' descriptors and the interrupt pipe
 * with the nearest deadline as the timeout, then reads results, reaps the workers
 * that ended and keeps the deadlines. Part of the parent side: see
 * parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "parent.h"


static void reap(pool *p, worker *w)
{
	if (w->state == W_EMPTY)
		return;
	int status;
	if (!reap_worker(w, WNOHANG, &status))
		return; /* not ended yet (a stale poll event) */
	if (w->fd >= 0)
		drain_channel(p, w);
	worker_ended(p, w, status);
}

/* Feeds that said POOL_FEED_LATER and whose descriptor was not watched (none, or
 * no room in the poll set): ask again once due. */
static void feeds_due(pool *p)
{
	for (job *j = p->jobs; j; j = j->next)
		if (j->feed_later && j->feed_pfd < 0 && p->now >= j->feed_later_at + FEED_RETRY_NS)
			j->feed_later = 0;
}

/* Room for n entries in the poll scratch arrays. */
static int pfd_reserve(pool *p, size_t n)
{
	if (n <= p->pfd_cap)
		return 0;
	struct pollfd *f = realloc(p->pfd, n * sizeof *f);
	if (f)
		p->pfd = f;
	int *who = f ? realloc(p->pfd_who, n * sizeof *who) : NULL;
	if (who)
		p->pfd_who = who;
	if (!f || !who)
		return -1;
	p->pfd_cap = n;
	return 0;
}

/* Append the descriptors of the feeds waiting for one to the poll set of n
 * entries, each job noting its entry; bring *nearest forward for those with none,
 * or where the set cannot grow (they are asked again in a while). Returns the new n. */
static int add_feed_fds(pool *p, int n, int64_t *nearest)
{
	for (job *j = p->jobs; j; j = j->next) {
		j->feed_pfd = -1;
		if (!j->feed_later)
			continue;
		if (j->feed_fd >= 0 && pfd_reserve(p, (size_t)n + 1) == 0) {
			p->pfd[n] = (struct pollfd){j->feed_fd, POLLIN, 0};
			p->pfd_who[n] = -2;
			j->feed_pfd = n++;
		} else if (j->feed_later_at + FEED_RETRY_NS < *nearest) {
			*nearest = j->feed_later_at + FEED_RETRY_NS;
		}
	}
	return n;
}

/* Feeds whose descriptor poll found readable (or hung up, or in error) are asked
 * again. Nothing ran since add_feed_fds() but poll(): the jobs and their entries
 * are as it left them. A descriptor the caller closed (POLLNVAL) is no longer
 * watched: the feed is asked again in a while instead. */
static void feeds_readable(pool *p)
{
	for (job *j = p->jobs; j; j = j->next) {
		if (!j->feed_later || j->feed_pfd < 0)
			continue;
		short ev = p->pfd[j->feed_pfd].revents;
		if (ev & POLLNVAL) {
			j->feed_fd = -1;
			j->feed_pfd = -1;
		} else if (ev) {
			j->feed_later = 0;
		}
	}
}

/*
 * One turn: dispatch, wait for an event or `until` (absolute ns; INT64_MAX: no
 * limit; 0: don't wait), handle what happened. Returns -1 if the pool is broken.
 */
int loop_once(pool *p, int64_t until)
{
	if (p->broken)
		return -1;
	/* A turn from inside a callback would read and reap under the turn that
	 * runs it, in the middle of a message it is parsing: a nested pool_apply()
	 * took a healthy worker's next packet for EOF and ran its tasks again, and
	 * the outer turn then charged a task to the worker that replaced it. */
	if (refuse_in_callback(p)) {
		p->reentered = 1;
		return -1;
	}
	/* The clock first: a stop before the read has counted a continue by then (its
	 * time credited here), one after it leaves `now` from before the stop. */
	p->now = pool_now_ns();
	note_continued(p);
	/* A stop that lands in this turn is credited from here, not from the last
	 * turn's end: the caller's time away from the pool in between was the
	 * workers' time, which counts. */
	mark_turn(p);
	feeds_due(p);
	/* Dispatch can itself finish things (a feed that runs dry, a task refused):
	 * then the caller must look before we sleep. */
	uint64_t before = p->finished_now + p->sources_ended;
	dispatch(p);
	if (p->broken)
		return -1;
	if (p->finished_now + p->sources_ended != before)
		until = 0;
	int64_t now = p->now;
	int64_t nearest = check_deadlines(p, now);
	if (p->broken)
		return -1;
	if (until < nearest)
		nearest = until;
	int64_t unstick = idle_wakeup(p);
	if (unstick < nearest)
		nearest = unstick;

	int n = 0;
	p->pfd[n] = (struct pollfd){p->intr_pipe[0], POLLIN, 0};
	p->pfd_who[n++] = -1;
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state == W_EMPTY)
			continue;
		if (w->fd >= 0) {
			short ev = POLLIN;
			if (w->out_off < w->out.len)
				ev |= POLLOUT;
			p->pfd[n] = (struct pollfd){w->fd, ev, 0};
			p->pfd_who[n++] = i;
		}
		if (w->pidfd >= 0) {
			p->pfd[n] = (struct pollfd){w->pidfd, POLLIN, 0};
			p->pfd_who[n++] = i + p->nworkers;
		} else if (w->fd < 0 && now + REAP_POLL_NS < nearest) {
			nearest = now + REAP_POLL_NS; /* no pidfd: look again soon */
		} else if (w->fd >= 0) {
			if (!w->reap_look_at)
				w->reap_look_at = now + REAP_OPEN_POLL_NS;
			if (w->reap_look_at < nearest)
				nearest = w->reap_look_at; /* no pidfd: now and then */
		}
	}
	int feeds_from = n;
	n = add_feed_fds(p, n, &nearest);
	/* While a task may time out, look at least every LOST_SLACK_NS: a stop of the
	 * whole group inside poll() is then credited (lost_time()) to within that. */
	if (p->o.timeout > 0 && holding_any(p) && now + LOST_SLACK_NS < nearest)
		nearest = now + LOST_SLACK_NS;
	int timeout_ms;
	if (nearest == INT64_MAX)
		timeout_ms = -1;
	else if (nearest <= now)
		timeout_ms = 0;
	else if (nearest - now > (int64_t)INT_MAX * 1000000)
		timeout_ms = INT_MAX;
	else
		timeout_ms = (int)((nearest - now + 999999) / 1000000);
	p->awake_until = timeout_ms < 0 ? 0 : pool_now_ns() + (int64_t)timeout_ms * 1000000;
	int k = poll(p->pfd, (nfds_t)n, timeout_ms);
	int poll_errno = errno;
	note_awake(p);
	errno = poll_errno;
	if (k < 0 && errno != EINTR) {
		set_err(p, "poll: %s", strerror(errno));
		return -1;
	}
	if (k > 0 && n > feeds_from)
		feeds_readable(p); /* first: the job list is as polled */
	if (k > 0) {
		/* Channels first, so results sent just before a death are counted. */
		for (int i = 0; i < n; i++) {
			if (!p->pfd[i].revents)
				continue;
			int who = p->pfd_who[i];
			if (who == -2)
				continue; /* a feed's descriptor */
			if (who == -1) {
				handle_interrupt(p);
				continue;
			}
			if (who >= p->nworkers)
				continue;
			worker *w = &p->w[who];
			if (w->fd != p->pfd[i].fd)
				continue;
			if (p->pfd[i].revents & POLLOUT)
				send_pending(w);
			if (p->pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_channel(p, w, 64);
			if (p->broken)
				return -1;
		}
		for (int i = 0; i < n; i++) {
			int who = p->pfd_who[i];
			if (who < p->nworkers || !p->pfd[i].revents)
				continue;
			worker *w = &p->w[who - p->nworkers];
			if (w->state != W_EMPTY && w->pidfd == p->pfd[i].fd)
				reap(p, w);
			if (p->broken)
				return -1;
		}
	}
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		if (w->state != W_EMPTY && w->pidfd < 0 && w->fd < 0)
			reap(p, w);
		else if (w->state != W_EMPTY && w->pidfd < 0 && w->reap_look_at &&
			 pool_now_ns() >= w->reap_look_at) {
			w->reap_look_at = 0; /* set again by the next turn's poll */
			reap(p, w);       /* ended with its channel held by a child of its */
		}
		if (p->broken)
			return -1;
		retire_if_done(p, w);
	}
	mark_turn(p);
	return p->broken ? -1 : 0;
}
