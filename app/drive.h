/* SPDX-License-Identifier: MIT */
/*
 * drive.h — the results loop of a pool_imap_unordered() over a lazy feed, as a run
 * and the bench both drive it: wait for results (no longer than the caller allows),
 * hand each one over, give the caller a tick after every wake-up, terminate the pool
 * once when the caller says so, and tell a broken pool from a finished feed.
 */
#ifndef IMGPOOL_DRIVE_H
#define IMGPOOL_DRIVE_H

#include "pool.h"

typedef struct drive_ops {
	/* One result; released by the loop after the call. */
	void (*on_result)(void *data, const pool_result *r);
	/* The longest wait for the next result, in seconds; NULL: DRIVE_DEFAULT_WAIT. */
	double (*wait)(void *data);
	/* After every wake-up (a result, or the wait over); may be NULL. */
	void (*tick)(void *data, pool *p);
	/* 1: terminate the pool now (once); may be NULL. */
	int (*terminate_now)(void *data);
	void *data;
} drive_ops;

#define DRIVE_DEFAULT_WAIT 0.25

typedef enum { DRIVE_DONE = 0, DRIVE_BROKEN, DRIVE_TERMINATED } drive_end;

/* Run fn over the feed on p until the feed is dry and every result is in, the pool
 * breaks (pool_error says why), or it is terminated. feed_fd: what the feed waits on
 * when it answers POOL_FEED_LATER (pool_iter_wait_fd), or -1. */
drive_end drive_imap(pool *p, pool_fn fn, pool_feed_fn feed, void *feed_data, int feed_fd,
		     const drive_ops *ops);

#endif
