/* SPDX-License-Identifier: MIT */
/*
 * task.h — one file's work as it crosses the pool: the bytes of a task and of its
 * result, and the worker-side functions the pool runs.
 *
 * A task is: a 4-byte output count n, the 8-byte feed index, the 4-byte beneath,
 * the found file's 8-byte device and inode, n format bytes, then the input path
 * (NUL-terminated). The worker writes output i as a new file named
 * task_temp_name(index, i, its pid) in the run's temp folder (task_config.tmp_path,
 * opened once per worker and checked to be the folder the parent made); the parent
 * knows the pid of the attempt from the pool's result, so no path ever travels back.
 *
 * A successful result is a thumb_result. A failed one (POOL_ERROR) is one byte of
 * failure_kind followed by the one-line cause. The parent trusts nothing a worker
 * sends: task_result_decode() and task_error_decode() check sizes, counts and kinds.
 */
#ifndef IMGPOOL_TASK_H
#define IMGPOOL_TASK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "failure.h"
#include "pool.h"
#include "settings.h"
#include "thumb.h"

/* What every worker needs, set up by the parent before the pool forks. */
typedef struct task_config {
	thumb_settings settings;
	int vips_threads;
	char tmp_path[PATH_MAX];   /* the folder workers create their outputs in */
	uint64_t tmp_dev, tmp_ino; /* ... which must be this one (0, 0: not checked) */
} task_config;

/* One file's task, decoded: strings point into the task bytes. */
typedef struct task_desc {
	uint64_t index;                      /* the feed index: names the temp files */
	int n;                               /* outputs: settings.nsizes */
	thumb_format formats[THUMB_MAX_SIZES];
	const char *input;
	uint32_t beneath;                    /* thumb_run()'s: 0, or where in input the
	                                        part a folder walk found begins */
	thumb_found found;                   /* thumb_run()'s: the file the parent found */
} task_desc;

/* Longest name task_temp_name() makes, with its NUL. */
#define TASK_TEMP_NAME_MAX 48

/* The temp file name of output i of the task at index, made by worker pid:
 * "<index>-<i>-<pid>.tmp". One home for the rule: the worker creates it, the parent
 * publishes or removes it. */
void task_temp_name(char *buf, size_t len, uint64_t index, int i, int pid);

/* Is name one task_temp_name() makes (digits, '-', digits, '-', digits, ".tmp")?
 * Only such files in the temp folder are imgpool's to remove (outdir.h). */
int task_temp_name_ours(const char *name);

/* Build the task bytes into b (reset first). 0, or -1 out of memory. */
int task_encode(pool_buf *b, const task_desc *t);

/* Split task bytes. 0, or -1 if malformed. */
int task_decode(const void *arg, size_t len, task_desc *t);

/* Check and copy a POOL_OK result. 0, or -1 if it is not a well-formed result. */
int task_result_decode(const void *data, size_t len, thumb_result *res);

/* Split a POOL_ERROR message: its kind and its text (pointing into data). A message
 * without a valid kind byte is FAIL_DECODE with the whole text. */
void task_error_decode(const char *data, size_t len, failure_kind *kind, const char **text);

/* Pool initializer (arg: const task_config *), task function and finalizer. */
int task_worker_init(void *arg, void **state, pool_buf *err);
int task_thumbnail(const void *arg, size_t len, pool_buf *out, void *state);
void task_worker_fini(void *state);

#endif
