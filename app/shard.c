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

/* A whole number in [lo, hi] or -1. */
static long whole(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : -1;
	if (!s || errno || end == s || *end || v < lo || v > hi)
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

/* An index variable (0-based unless min given) with a count from count / env. */
static int from_index(const char *var, long index, long n, shard *s, char *msg,
		      size_t msglen)
{
	if (n < 1) {
		snprintf(msg, msglen, "%s is set but the number of tasks is not: give "
				      "--shard-count N (or --shard none)", var);
		return -1;
	}
	if (index < 0 || index >= n) {
		snprintf(msg, msglen, "%s=%ld is outside 0..%ld", var, index, n - 1);
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
		int k, n, used = 0;
		if (sscanf(arg, "%d/%d%n", &k, &n, &used) != 2 || arg[used] || n < 1 ||
		    n > 1000000 || k < 1 || k > n) {
			snprintf(msg, msglen, "--shard: '%s': expected K/N with 1 <= K <= N, or none",
				 arg);
			return -1;
		}
		*s = (shard){k, n, "--shard"};
		return 0;
	}
	/* Slurm job arrays: the ids may start anywhere (--array=5-8). */
	const char *id = getenv("SLURM_ARRAY_TASK_ID");
	if (id && *id) {
		long tid = whole(id, 0, 100000000), min = whole(getenv("SLURM_ARRAY_TASK_MIN"), 0, 100000000);
		long max = whole(getenv("SLURM_ARRAY_TASK_MAX"), 0, 100000000);
		long cnt = whole(getenv("SLURM_ARRAY_TASK_COUNT"), 1, 1000000);
		if (tid < 0) {
			snprintf(msg, msglen, "SLURM_ARRAY_TASK_ID='%s' is not a number", id);
			return -1;
		}
		if (min < 0)
			min = 0;
		long n = count > 0 ? count : cnt > 0 ? cnt : max >= min ? max - min + 1 : -1;
		return from_index("SLURM_ARRAY_TASK_ID", tid - min, n, s, msg, msglen);
	}
	const char *env_count = getenv("IMGPOOL_SHARD_COUNT");
	long n = count > 0 ? count : whole(env_count, 1, 1000000);
	const char *ix = getenv("JOB_COMPLETION_INDEX"); /* Kubernetes Indexed Job */
	if (ix && *ix)
		return from_index("JOB_COMPLETION_INDEX", whole(ix, 0, 1000000), n, s, msg, msglen);
	ix = getenv("AWS_BATCH_JOB_ARRAY_INDEX");
	if (ix && *ix) {
		if (n < 1)
			n = whole(getenv("AWS_BATCH_JOB_ARRAY_SIZE"), 1, 1000000);
		return from_index("AWS_BATCH_JOB_ARRAY_INDEX", whole(ix, 0, 1000000), n, s, msg,
				  msglen);
	}
	return 0;
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
