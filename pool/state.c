/* SPDX-License-Identifier: MIT */
/*
 * state.c — the pool's state (pool_state) and the message a call it refuses
 * leaves in pool_error(). Part of the parent side: see parent.h.
 */
/* POSIX, Linux and glibc calls (clock_gettime in worker.h) under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>

#include "parent.h"

void set_err(pool *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
}

/* The state that refuses new work, most serious first (see pool_get_state). */
pool_state state_of(const pool *p)
{
	if (p->broken)
		return POOL_BROKEN;
	if (p->terminated)
		return POOL_TERMINATED;
	if (p->interrupted)
		return POOL_INTERRUPTED;
	if (p->closed)
		return POOL_CLOSED;
	return POOL_RUNNING;
}

/* Leave the message of the pool's state in pool_error(); for calls it refuses. */
void set_state_err(pool *p)
{
	if (p->reentered) { /* loop_once() said why */
		p->reentered = 0;
		return;
	}
	switch (state_of(p)) {
	case POOL_BROKEN:
		set_err(p, "broken: %s", p->cause);
		break;
	case POOL_TERMINATED:
		set_err(p, "terminated");
		break;
	case POOL_INTERRUPTED:
		set_err(p, "interrupted");
		break;
	case POOL_CLOSED:
		set_err(p, "closed");
		break;
	case POOL_RUNNING:
		break;
	}
}

int refuse_in_callback(pool *p)
{
	if (!p->in_callback)
		return 0;
	set_err(p, "%s", CALLBACK_REFUSAL);
	return 1;
}
