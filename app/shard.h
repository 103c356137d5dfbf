/* SPDX-License-Identifier: MIT */
/*
 * shard.h — which share of the files this run takes, when a batch is spread over a
 * scheduler's array tasks (Slurm job arrays, Kubernetes Indexed Jobs, AWS Batch).
 *
 * A file belongs to shard 1 + (XXH3-64 of its path relative to its input root) mod N:
 * shards are disjoint, cover every file together, and a file keeps its shard when
 * others are added or removed (it depends on nothing but its own name and N).
 */
#ifndef IMGPOOL_SHARD_H
#define IMGPOOL_SHARD_H

typedef struct shard {
	int k, n;            /* this run is shard k of n (1 <= k <= n); n == 0: no sharding */
	const char *source;  /* where it came from: "--shard", "SLURM_ARRAY_TASK_ID", ... */
} shard;

/*
 * Decide this run's shard. arg: the --shard value ("K/N", "none") or NULL to read
 * the scheduler's variables; count: --shard-count (0 if not given), the task count
 * for Kubernetes and AWS Batch, whose index variables don't carry it.
 * Returns 0, or -1 with a one-line message (a bad value, an index without a count).
 */
int shard_resolve(const char *arg, int count, shard *s, char *msg, size_t msglen);

/* The shard (1..n) a relative path belongs to. */
int shard_of(const char *rel, int n);

/* "K-of-N", or "all" without sharding, for file names ({shard}). */
void shard_name(const shard *s, char *buf, size_t len);

/* CPUs the scheduler gave this task: SLURM_CPUS_PER_TASK, else the affinity mask. */
int shard_cpus(void);

/* A one-line warning in buf (1) when SLURM_CPUS_PER_TASK is set but is not a
 * count of 1 to 4096 (shard_cpus() then counts the affinity mask), else 0. */
int shard_cpus_warning(char *buf, size_t len);

#endif
