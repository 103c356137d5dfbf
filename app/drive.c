/* SPDX-License-Identifier: MIT */
/*
 * drive.c — the results loop of an imap over a lazy feed. See drive.h.
 */
#include "drive.h"

drive_end drive_imap(pool *p, pool_fn fn, pool_feed_fn feed, void *feed_data, int feed_fd,
		     const drive_ops *ops)
{
	pool_iter *it = pool_imap_unordered(p, fn, feed, feed_data, 1);
	pool_iter_wait_fd(it, feed_fd);
	drive_end end = it ? DRIVE_DONE : DRIVE_BROKEN;
	pool_result r;
	for (int k; it && (k = pool_iter_next_timed(it, &r, ops->wait ? ops->wait(ops->data)
								    : DRIVE_DEFAULT_WAIT)) != 0;) {
		if (k < 0) {
			end = DRIVE_BROKEN;
			break;
		}
		if (k == 1) {
			ops->on_result(ops->data, &r);
			pool_result_release(&r);
		}
		if (ops->tick)
			ops->tick(ops->data, p);
		if (end != DRIVE_TERMINATED && ops->terminate_now && ops->terminate_now(ops->data)) {
			pool_terminate(p);
			end = DRIVE_TERMINATED;
		}
	}
	pool_iter_free(it);
	return end;
}
