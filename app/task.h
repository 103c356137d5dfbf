/* SPDX-License-Identifier: MIT */
/*
 * task.h — one file's work as it crosses the pool: the bytes of a task and of its
 * result, and the worker-side functions the pool runs.
 *
 * A task is "n, input, output 1 .. output n" as NUL-terminated strings after a
 * 4-byte count; a successful result is a thumb_result. The parent trusts nothing
 * a worker sends, so task_result_decode() checks the size and every count.
 */
#ifndef IMGPOOL_TASK_H
#define IMGPOOL_TASK_H

#include <stddef.h>

#include "pool.h"
#include "settings.h"
#include "thumb.h"

/* What every worker needs, set up by the parent before the pool forks. */
typedef struct task_config {
	thumb_settings settings;
	int vips_threads;
} task_config;

/* Build the task for one input into b (reset first). 0, or -1 out of memory. */
int task_encode(pool_buf *b, const char *input, const char *const *outputs, int n);

/* Split a task into its strings (pointing into arg). 0, or -1 if malformed. */
int task_decode(const void *arg, size_t len, const char **input,
		const char *outputs[THUMB_MAX_SIZES], int *n);

/* Check and copy a POOL_OK result. 0, or -1 if it is not a well-formed result. */
int task_result_decode(const void *data, size_t len, thumb_result *res);

/* Pool initializer (arg: const task_config *), task function and finalizer. */
int task_worker_init(void *arg, void **state, pool_buf *err);
int task_thumbnail(const void *arg, size_t len, pool_buf *out, void *state);
void task_worker_fini(void *state);

#endif
