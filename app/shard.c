/* SPDX-License-Identifier: MIT */
/*
 * shard.c — this run's share of a batch. See shard.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "shard.h"

/* A whole number in [lo, hi] (lo >= 0), digits only, or -1: strtol() also takes
 * leading blanks and a '+'. */
static long whole(const char *s, long lo, long hi)
{
	char *end;
	if (!s || !*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	return v;
}

int shard_of(const char *rel, int n)
{
	return n > 0 ? (int)(XXH3_64bits(rel, strlen(rel)) % (unsigned)n) + 1 : 1;
}

void shard_name(const shard *s, char *buf, size_t len)
{
	if (s->n > 0)
		snprintf(buf, len, "%d-of-%d", s->k, s->n);
	else
		snprintf(buf, len, "all");
}

/* An index variable whose text is value: index is its 0-based position (value
 * minus the array's first id), n the count from --shard-count or the environment.
 * Messages quote the variable as it is set. */
static int from_index(const char *var, const char *value, long index, long first, long n,
		      shard *s, char *msg, size_t msglen)
{
	if (n < 1) {
		snprintf(msg, msglen, "%s is set but the number of tasks is not: give "
				      "--shard-count N (or --shard none)", var);
		return -1;
	}
	if (index < 0 && whole(value, 0, 100000000) < 0) {
		snprintf(msg, msglen, "%s='%s' is not a number", var, value);
		return -1;
	}
	if (index < 0 || index >= n) {
		snprintf(msg, msglen, "%s=%s is outside %ld..%ld", var, value, first, first + n - 1);
		return -1;
	}
	*s = (shard){(int)index + 1, (int)n, var};
	return 0;
}

int shard_resolve(const char *arg, int count, shard *s, char *msg, size_t msglen)
{
	*s = (shard){0, 0, "none"};
	if (arg && !strcmp(arg, "none"))
		return 0;
	if (arg) {
		/* strtol, not sscanf's %d: a number past INT_MAX is refused, not wrapped. */
		char *slash = strchr(arg, '/'), kbuf[32];
		long k = -1, n = -1;
		if (slash && (size_t)(slash - arg) < sizeof kbuf) {
			memcpy(kbuf, arg, (size_t)(slash - arg));
			kbuf[slash - arg] = '\0';
			k = whole(kbuf, 1, 1000000);
			n = whole(slash + 1, 1, 1000000);
		}
		if (k < 1 || n < 1 || k > n) {
			snprintf(msg, msglen, "--shard: '%s': expected K/N with 1 <= K <= N <= "
				 "1000000, or none", arg);
			return -1;
		}
		*s = (shard){(int)k, (int)n, "--shard"};
		return 0;
	}
	/* Slurm job arrays: the ids may start anywhere (--array=5-8) and step
	 * (--array=1-7:2): a task's shard is its place in the range. */
	const char *id = getenv("SLURM_ARRAY_TASK_ID");
	if (id && *id) {
		long tid = whole(id, 0, 100000000), min = whole(getenv("SLURM_ARRAY_TASK_MIN"), 0, 100000000);
		long max = whole(getenv("SLURM_ARRAY_TASK_MAX"), 0, 100000000);
		long cnt = whole(getenv("SLURM_ARRAY_TASK_COUNT"), 1, 1000000);
		long step = whole(getenv("SLURM_ARRAY_TASK_STEP"), 1, 100000000);
		if (tid < 0) {
			snprintf(msg, msglen, "SLURM_ARRAY_TASK_ID='%s' is not a number", id);
			return -1;
		}
		if (min < 0)
			min = 0;
		if (step < 1)
			step = 1;
		long places = max >= min ? (max - min) / step + 1 : -1;
		long tasks = cnt > 0 ? cnt : places;
		/* A list of ids (--array=3,7: failed tasks sent again), or an array of
		 * fewer tasks than --shard-count asks: some shards would be no task's,
		 * and their files would get no answer from any. */
		if ((cnt > 0 && places > 0 && cnt != places) || (tid - min) % step ||
		    (count > 0 && tasks > 0 && tasks < count)) {
			snprintf(msg, msglen, "SLURM_ARRAY_TASK_ID=%s: the array (%ld tasks, ids %ld..%ld"
				 " step %ld) is not one task per shard%s: give --shard K/N", id,
				 tasks, min, max, step, count > 0 ? " of --shard-count" : "");
			return -1;
		}
		long n = count > 0 ? count : tasks;
		return from_index("SLURM_ARRAY_TASK_ID", id, (tid - min) / step, min, n, s, msg,
				  msglen);
	}
	const char *env_count = getenv("IMGPOOL_SHARD_COUNT");
	long n = count > 0 ? count : whole(env_count, 1, 1000000);
	const char *ix = getenv("JOB_COMPLETION_INDEX"); /* Kubernetes Indexed Job */
	if (ix && *ix && count <= 0 && env_count && *env_count && n < 1) {
		snprintf(msg, msglen, "IMGPOOL_SHARD_COUNT='%s': expected a number of tasks "
				      "from 1 to 1000000", env_count);
		return -1;
	}
	if (ix && *ix)
		return from_index("JOB_COMPLETION_INDEX", ix, whole(ix, 0, 1000000), 0, n, s, msg,
				  msglen);
	ix = getenv("AWS_BATCH_JOB_ARRAY_INDEX");
	if (ix && *ix) {
		if (n < 1)
			n = whole(getenv("AWS_BATCH_JOB_ARRAY_SIZE"), 1, 1000000);
		return from_index("AWS_BATCH_JOB_ARRAY_INDEX", ix, whole(ix, 0, 1000000), 0, n, s,
				  msg, msglen);
	}
	return 0;
}

int shard_cpus_warning(char *buf, size_t len)
{
	const char *v = getenv("SLURM_CPUS_PER_TASK");
	if (!v || whole(v, 1, 4096) > 0)
		return 0;
	snprintf(buf, len, "imgpool: warning: SLURM_CPUS_PER_TASK='%s' is not a count of "
		 "CPUs (1 to 4096): it is ignored, and the %d CPUs this process may run on "
		 "are counted", v, shard_cpus());
	return 1;
}

int shard_cpus(void)
{
	long v = whole(getenv("SLURM_CPUS_PER_TASK"), 1, 4096);
	if (v > 0)
		return (int)v;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
