/* SPDX-License-Identifier: MIT */
/*
 * speedup.c — the same work in a plain loop, then on the pool: is it faster?
 *
 *   Python
 *   ------
 *   t0 = time.perf_counter(); serial = [count(c) for c in chunks]
 *   t1 = time.perf_counter(); parallel = p.map(count, chunks)
 *   print(f"speedup {(t1 - t0) / (time.perf_counter() - t1):.2f}x")
 *
 * The work: count the primes below LIMIT by trial division, split in CHUNKS ranges.
 * Each range is a task; the parent only hands out ranges and adds up counts, so on
 * N idle CPUs the pool should come close to N times faster. What it prints depends
 * on the machine and on what else runs there: the figures are a lesson, not a test
 * (the exit status only says whether both ways found the same count).
 *
 *   speedup [WORKERS]   (default: the CPUs this process may use)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

#define LIMIT 3000000u
#define CHUNKS 64u

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The primes in [lo, hi). */
static uint64_t count_primes(uint32_t lo, uint32_t hi)
{
	uint64_t n = 0;
	for (uint32_t k = lo < 2 ? 2 : lo; k < hi; k++) {
		int prime = 1;
		for (uint32_t d = 2; (uint64_t)d * d <= k; d++)
			if (k % d == 0) {
				prime = 0;
				break;
			}
		n += prime;
	}
	return n;
}

/* The task: a range in, its count out. */
static int count_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	uint32_t range[2];
	if (len != sizeof range)
		return 1;
	memcpy(range, arg, sizeof range);
	uint64_t n = count_primes(range[0], range[1]);
	return pool_buf_append(out, &n, sizeof n);
}

int main(int argc, char **argv)
{
	static uint32_t ranges[CHUNKS][2];
	pool_task tasks[CHUNKS];
	pool_result res[CHUNKS];
	for (uint32_t i = 0; i < CHUNKS; i++) {
		ranges[i][0] = (uint32_t)((uint64_t)LIMIT * i / CHUNKS);
		ranges[i][1] = (uint32_t)((uint64_t)LIMIT * (i + 1) / CHUNKS);
		tasks[i] = (pool_task){ranges[i], sizeof ranges[i]};
	}

	double t0 = now_s();
	uint64_t serial = 0;
	for (uint32_t i = 0; i < CHUNKS; i++)
		serial += count_primes(ranges[i][0], ranges[i][1]);
	double serial_s = now_s() - t0;

	pool_options o = {.workers = argc > 1 ? atoi(argv[1]) : 0};
	char *err = NULL;
	pool *p = pool_create(&o, &err); /* started before the clock, as Pool() would be */
	if (!p) {
		fprintf(stderr, "speedup: %s\n", err);
		free(err);
		return 1;
	}
	double t1 = now_s();
	int bad = pool_map(p, count_task, tasks, CHUNKS, 0, res) < 0;
	uint64_t parallel = 0;
	for (uint32_t i = 0; i < CHUNKS; i++) {
		uint64_t n = 0;
		if (res[i].status == POOL_OK && res[i].len == sizeof n)
			memcpy(&n, res[i].data, sizeof n);
		else
			bad = 1;
		parallel += n;
		pool_result_release(&res[i]);
	}
	double parallel_s = now_s() - t1;
	int workers = pool_workers(p);
	pool_close(p);
	bad |= pool_join(p) < 0;
	pool_destroy(p);

	printf("primes below %u: %llu (loop) and %llu (pool)\n", LIMIT,
	       (unsigned long long)serial, (unsigned long long)parallel);
	printf("loop %.3f s, pool of %d workers %.3f s: speedup %.2fx, efficiency %.0f%%\n",
	       serial_s, workers, parallel_s, serial_s / parallel_s,
	       100 * serial_s / parallel_s / workers);
	return bad || serial != parallel;
}
