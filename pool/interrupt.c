/* SPDX-License-Identifier: MIT */
/*
 * interrupt.c — pool_interrupt(): a stop asked from any thread or a signal
 * handler, and, in the loop's thread, the tasks it cancels. Part of the parent
 * side: see parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <unistd.h>

#include "parent.h"

/* No task of any worker starts after this (see worker.h). */
static void stop_claims(pool *p)
{
	for (int i = 0; i < p->nworkers; i++)
		atomic_fetch_or_explicit(&p->shm[i].claim, CLAIM_STOP, memory_order_acq_rel);
}

void pool_interrupt(pool *p)
{
	if (!p)
		return;
	int saved = errno;
	p->interrupted = 1;
	stop_claims(p);
	ssize_t ignored = write(p->intr_pipe[1], "!", 1);
	(void)ignored;
	errno = saved;
}

int pool_interrupted(const pool *p)
{
	return p && p->interrupted;
}

/* In the loop: stop producing, and end every task that has not started. */
void handle_interrupt(pool *p)
{
	char buf[64];
	while (read(p->intr_pipe[0], buf, sizeof buf) > 0)
		;
	if (p->interrupt_handled)
		return;
	p->interrupt_handled = 1;
	/* Again, from this thread: a worker spawned while the signal handler ran may
	 * have had its claim word reset after the handler set it. */
	stop_claims(p);
	task *t;
	while ((t = list_pop(&p->queue)))
		cancel_task(p, t, "interrupted");
	for (int i = 0; i < p->nworkers; i++) {
		worker *w = &p->w[i];
		uint64_t claimed = atomic_load(&p->shm[i].claim) & CLAIM_SEQ;
		for (task *next, *u = w->held.head; u; u = next) {
			next = u->next;
			if (u->seq < claimed)
				continue;
			list_unlink(u);
			w->held_bytes -= u->len;
			cancel_task(p, u, "interrupted");
		}
	}
	for (job *j = p->jobs, *next; j; j = next) {
		next = j->next;
		job_cancel_rest(p, j, "interrupted");
	}
}
