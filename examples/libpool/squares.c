/* SPDX-License-Identifier: MIT */
/*
 * squares.c — the pool library of imgpool (libimgpool-pool) in a program of its own.
 *
 *   cc -o squares squares.c $(pkg-config --cflags --libs imgpool-pool)
 *   ./squares
 *
 * Installed under a prefix the system does not search (make install
 * PREFIX=$HOME/.local): PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig for pkg-config,
 * and -Wl,-rpath,$HOME/.local/lib on the cc line for the loader.
 *
 * Squares the numbers 0..9 on two worker processes with pool_map(), the C
 * counterpart of Python's Pool.map. The task for 7 kills its worker (SIGSEGV) on
 * purpose: the pool retries it once on a fresh worker, then reports it as crashed
 * with the cause, and every other number still comes back. Prints one line per
 * number, in order; exits 0 when the pool ran, 1 when it could not.
 *
 * Needs the libimgpool-pool-dev package (or `make install` of imgpool) and
 * pkg-config. pool.h, installed as <imgpool/pool.h>, is the whole contract.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <imgpool/pool.h>

/* Runs in a worker: the task's bytes are one int; the result is text. */
static int square(const void *arg, size_t len, pool_buf *out, void *state)
{
	int n;

	(void)state;
	if (len != sizeof n) {
		pool_buf_printf(out, "bad task of %zu bytes", len);
		return 1;
	}
	memcpy(&n, arg, sizeof n);
	if (n == 7)
		raise(SIGSEGV);         /* a crash costs this task only */
	return pool_buf_printf(out, "%d", n * n) < 0;
}

int main(void)
{
	enum { N = 10 };
	int numbers[N];
	pool_task tasks[N];
	pool_result results[N];
	pool_options opt = { .workers = 2 };
	char *err = NULL;

	for (int i = 0; i < N; i++) {
		numbers[i] = i;
		tasks[i] = (pool_task){ .arg = &numbers[i], .len = sizeof numbers[i] };
	}
	pool *p = pool_create(&opt, &err);
	if (!p) {
		fprintf(stderr, "squares: %s\n", err);
		free(err);
		return 1;
	}
	if (pool_map(p, square, tasks, N, 1, results) != 0) {
		fprintf(stderr, "squares: %s\n", pool_error(p));
		pool_destroy(p);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		if (results[i].status == POOL_OK)
			printf("%d squared is %s\n", i, results[i].data);
		else
			printf("%d failed after %d attempts: %s\n", i, results[i].attempts,
			       results[i].data);
		pool_result_release(&results[i]);
	}
	pool_close(p);
	pool_join(p);
	pool_destroy(p);
	return 0;
}
