/* SPDX-License-Identifier: MIT */
/*
 * pool_bench.c — how fast libpool dispatches, and how it compares with Python's
 * multiprocessing.Pool doing the same.
 *
 *   pool_bench [--quick] [--repeat N] [--python-script PATH | --no-python]
 *
 * Everything runs with a pool of 2 workers, a fresh pool per measurement. The pool is
 * created (and a first round trip made) before the clock starts; the clock covers
 * submitting every task, waiting, and reading, checking and releasing every result,
 * which is what a caller pays. Each task returns its 8-byte argument and every result
 * is checked (status, length, value, index; for unordered results also the count and
 * the sum of indices), so a fast run of wrong work cannot pass for a measurement.
 *
 *   parent RSS      first, on a fresh heap: 10 million no-op tasks through
 *                   imap_unordered with a lazy feed (chunksize 100), VmRSS after the
 *                   first tenth and at the end
 *   no-op tasks     apply_async (submit all, get all, free all; and freeing each as
 *                   it is got), imap_unordered over a lazy feed (chunksize 1), map
 *                   chunksize 1, map chunksize 100: all at default options, which
 *                   is what users run; and map chunksize 1 with prefetch 1 (a fixed
 *                   one task ahead, the old default) to show what batching buys
 *   1 ms tasks      nanosleep(1 ms) through map, imap_unordered and apply_async at
 *                   default options: from the workers' own task times, how busy the
 *                   pool kept the workers (the target: 97 %), and the rate as a share
 *                   of the ideal 2 workers x 1000/s, which the sleep's own overshoot
 *                   (the kernel's wake-up latency) also lowers
 *   Python          bench/pool_bench_python.py, the same shapes with
 *                   multiprocessing.Pool(2) ('fork'), and the ratio ours / Python
 *
 * The targets are printed with "met" / "NOT met" as information: timings on a noisy
 * 2-core machine are not a test. The exit status is 1 only when something broke (a
 * pool call failed, a task failed or returned a wrong result, the Python script ran
 * but failed or printed nothing we could read), else 0. A missing Python (or script)
 * is not an error: the comparison is left out.
 *
 * --quick runs 10x fewer tasks everywhere (and passes --quick to the Python script).
 * --repeat N runs every row N times, ours and Python's alike, and keeps the best.
 *
 * Where the Python script is: --python-script PATH, else the path compiled in with
 * -DPOOL_BENCH_PY="...", else pool_bench_python.py beside this source file (from
 * __FILE__, which CMake passes as an absolute path).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

extern char **environ;

#define WORKERS 2
#define DEFAULT_PREFETCH 0   /* pool_options.prefetch left at its default */
#define SLEEP_NS 1000000L    /* the "1 ms" task */
#define IDEAL_SLEEP_RATE (WORKERS * 1e9 / SLEEP_NS)

/* Targets (information only). */
#define TARGET_RATIO 20.0            /* ours / Python, no-op tasks, chunksize 1 */
#define TARGET_MAP100_RATE 5e6       /* no-op map chunksize 100, tasks/s */
#define TARGET_SLEEP_BUSY 97.0       /* 1 ms tasks, % of the time workers are in tasks */
#define TARGET_RSS_KIB 1024L         /* parent RSS drift over the long feed */

/* Task counts for a full run; --quick divides them by 10. At today's rates each
 * measurement takes 0.5-4 s on a 2-core machine (well above timer noise) and the
 * whole run, Python included, 25-40 s. */
#define N_NOOP 1000000u        /* chunksize 1: imap_unordered, map */
#define N_APPLY 100000u        /* apply_async: one future (and job) per task */
#define N_BATCHED 4000000u     /* map chunksize 100 */
#define N_SLEEP 2000u          /* 1 ms tasks: 1 s of ideal time */
#define N_RSS 10000000u        /* the long lazy feed */

/* ------------------------------------------------------------------------- */
/* Tasks                                                                      */

/* The value task i carries: distinct for every i (odd multiplier), never 0, so a
 * result cannot be right by accident. */
static uint64_t value_of(uint64_t i)
{
	return (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
}

/* The no-op task: return the argument. All the time measured is the pool's. */
static int noop_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	if (pool_buf_append(out, arg, len) < 0) {
		out->len = 0;
		return 1;
	}
	return 0;
}

/* The 1 ms task: sleep (leaving the CPU to the parent, as I/O-bound work would),
 * then return the argument. */
static int sleep_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	struct timespec ts = {0, SLEEP_NS};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return noop_task(arg, len, out, state);
}

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */

/* CLOCK_MONOTONIC in seconds, for timing runs. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's VmRSS in KiB, from /proc/self/status (-1 if unreadable): what the
 * RSS flatness check samples. */
static long vm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Say what went wrong in a run; the run is then reported as failed and the program
 * exits 1. */
static void complain(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void complain(const char *what, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "pool_bench: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Check one result: it must be POOL_OK, carry index (the position we expect or, for
 * unordered results, the one it claims, which must be below n) and return the 8
 * bytes of `want`. Returns 0 when right. */
static int check_result(const char *what, const pool_result *r, uint64_t index, uint64_t n,
			uint64_t want)
{
	if (r->status != POOL_OK) {
		complain(what, "task %" PRIu64 " ended with status %d: %s", r->index,
			 (int)r->status, r->data ? r->data : "(no message)");
		return -1;
	}
	if (r->index != index || index >= n) {
		complain(what, "result index %" PRIu64 ", expected %" PRIu64 " (of %" PRIu64 ")",
			 r->index, index, n);
		return -1;
	}
	uint64_t v;
	if (r->len != sizeof v) {
		complain(what, "task %" PRIu64 " returned %zu bytes, expected %zu", r->index,
			 r->len, sizeof v);
		return -1;
	}
	memcpy(&v, r->data, sizeof v);
	if (v != want) {
		complain(what, "task %" PRIu64 " returned a wrong value", r->index);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Measurements                                                               */

/* What one measurement found. */
typedef struct run {
	const char *kind;     /* "noop", "1ms": the Python line it compares with */
	const char *method;   /* "map", "imap_unordered", "apply_async" */
	size_t chunksize;
	int prefetch;         /* pool_options.prefetch; 0: the default */
	int compare;          /* 1: this row is the one compared with Python's */
	int free_early;       /* apply_async: free each future as soon as it is got */
	uint64_t n;
	double seconds;
	double rate;          /* tasks/s */
	double busy_s;        /* sum of the tasks' own run times (workers' clocks) */
	int ok;
} run;

/* Start a pool of WORKERS with the given prefetch and make one round trip, so the
 * workers are up and warm before the clock starts. NULL (reported) on failure. */
static pool *start_pool(const char *what, int prefetch)
{
	pool_options o = {.workers = WORKERS, .prefetch = prefetch};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p) {
		complain(what, "pool_create: %s", err ? err : "?");
		free(err);
		return NULL;
	}
	uint64_t v[WORKERS];
	pool_task t[WORKERS];
	pool_result r[WORKERS];
	memset(r, 0, sizeof r); /* released below even if pool_map refused to start */
	for (int i = 0; i < WORKERS; i++) {
		v[i] = value_of((uint64_t)i);
		t[i] = (pool_task){&v[i], sizeof v[i]};
	}
	int bad = pool_map(p, noop_task, t, WORKERS, 1, r) < 0;
	for (int i = 0; i < WORKERS; i++) {
		if (!bad && check_result(what, &r[i], (uint64_t)i, WORKERS, v[i]) < 0)
			bad = 1;
		pool_result_release(&r[i]);
	}
	if (bad) {
		complain(what, "warm-up failed: %s", pool_error(p));
		pool_destroy(p);
		return NULL;
	}
	return p;
}

/* Close and join a pool after a run, then check its counters agree with the run:
 * every task done, none failed (n == 0: the run already failed, skip that check).
 * Returns 0 when all is well. */
static int finish_pool(const char *what, pool *p, uint64_t n)
{
	pool_stats s;
	pool_stats_get(p, &s);
	pool_close(p);
	int rc = pool_join(p);
	if (rc < 0)
		complain(what, "pool_join: %s", pool_error(p));
	/* The warm-up's WORKERS tasks count too. */
	if (n && (s.failed || s.done != n + WORKERS)) {
		complain(what, "pool counted %" PRIu64 " done and %" PRIu64 " failed, expected %"
			 PRIu64 " done", s.done, s.failed, n + WORKERS);
		rc = -1;
	}
	pool_destroy(p);
	return rc;
}

/* A row label such as "noop map cs=1 (default)" or "noop map cs=1 (prefetch 1)". */
static void label_of(const run *r, char *buf, size_t size)
{
	char opts[48];
	if (r->prefetch == DEFAULT_PREFETCH)
		snprintf(opts, sizeof opts, "default%s", r->free_early ? ", free as got" : "");
	else
		snprintf(opts, sizeof opts, "prefetch %d%s", r->prefetch,
			 r->free_early ? ", free as got" : "");
	if (!strcmp(r->method, "apply_async"))
		snprintf(buf, size, "%s apply_async (%s)", r->kind, opts);
	else
		snprintf(buf, size, "%s %s cs=%zu (%s)", r->kind, r->method, r->chunksize, opts);
}

/* Add a task's run time (as its worker measured it) to the run's busy total. */
static void add_busy(run *r, const pool_result *res)
{
	if (res->end_ns > res->start_ns)
		r->busy_s += (double)(res->end_ns - res->start_ns) / 1e9;
}

/* pool_map over n tasks: the array of arguments and tasks is built and the results
 * array touched before the clock, so it times the pool, not page faults. */
static void bench_map(run *r, pool_fn fn)
{
	char what[96];
	label_of(r, what, sizeof what);
	uint64_t n = r->n;
	uint64_t *v = malloc(n * sizeof *v);
	pool_task *t = malloc(n * sizeof *t);
	pool_result *res = malloc(n * sizeof *res);
	if (!v || !t || !res) {
		complain(what, "out of memory for %" PRIu64 " tasks", n);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		v[i] = value_of(i);
		t[i] = (pool_task){&v[i], sizeof v[i]};
	}
	memset(res, 0, n * sizeof *res);
	pool *p = start_pool(what, r->prefetch);
	if (!p)
		goto out;

	int bad = 0;
	double t0 = now_s();
	if (pool_map(p, fn, t, n, r->chunksize, res) < 0) {
		complain(what, "pool_map: %s", pool_error(p));
		bad = 1;
	}
	for (uint64_t i = 0; i < n && !bad; i++) {
		if (check_result(what, &res[i], i, n, v[i]) < 0)
			bad = 1;
		add_busy(r, &res[i]);
		pool_result_release(&res[i]);
	}
	r->seconds = now_s() - t0;
	if (bad)
		for (uint64_t i = 0; i < n; i++)
			pool_result_release(&res[i]);
	r->ok = finish_pool(what, p, bad ? 0 : n) == 0 && !bad;
out:
	free(v);
	free(t);
	free(res);
}

/* The state of a lazy feed: it makes task i's argument on demand, so nothing of size
 * n is ever allocated. */
typedef struct feed {
	uint64_t next, n;
	uint64_t arg; /* the bytes of the task just given (valid until the next call) */
} feed;

/* pool_feed_fn: hand out value_of(0), value_of(1), ... value_of(n - 1). */
static int feed_next(void *data, pool_task *task)
{
	feed *f = data;
	if (f->next >= f->n)
		return 0;
	f->arg = value_of(f->next++);
	*task = (pool_task){&f->arg, sizeof f->arg};
	return 1;
}

/* Checks over unordered results: each one is checked against the index it claims,
 * and the count and the sum of indices must come out exactly, so every index was
 * seen (a duplicate would need a matching gap to hide). */
typedef struct tally {
	uint64_t count, index_sum;
} tally;

/* Take every result of an unordered iteration, checking each (see tally). When
 * sample_at is non-zero, VmRSS is read after that many results (*rss_mid) and again
 * every sample_at results, keeping the largest (*rss_peak). Returns 0 when right. */
static int drain_unordered(run *r, const char *what, pool *p, pool_iter *it,
			   uint64_t sample_at, long *rss_mid, long *rss_peak)
{
	tally t = {0, 0};
	pool_result res;
	int k;
	while ((k = pool_iter_next(it, &res)) == 1) {
		int bad = check_result(what, &res, res.index, r->n, value_of(res.index)) < 0;
		add_busy(r, &res);
		t.count++;
		t.index_sum += res.index;
		pool_result_release(&res);
		if (bad)
			return -1;
		if (sample_at && t.count % sample_at == 0) {
			long kib = vm_rss_kib();
			if (t.count == sample_at)
				*rss_mid = kib;
			if (kib > *rss_peak)
				*rss_peak = kib;
		}
	}
	if (k < 0) {
		complain(what, "pool_iter_next: %s", pool_error(p));
		return -1;
	}
	/* sum of 0..n-1, computed so it cannot overflow for any n we use */
	uint64_t n = r->n, want = n % 2 ? (n - 1) / 2 * n : n / 2 * (n - 1);
	if (t.count != n || t.index_sum != want) {
		complain(what, "got %" PRIu64 " results (index sum %" PRIu64 "), expected %"
			 PRIu64 " (index sum %" PRIu64 ")", t.count, t.index_sum, n, want);
		return -1;
	}
	return 0;
}

/* pool_imap_unordered over a lazy feed of n tasks. With sample_at, also samples the
 * parent's RSS (see drain_unordered) and reads it at the end, before the iterator is
 * freed. */
static void bench_imap_unordered(run *r, pool_fn fn, uint64_t sample_at, long *rss_mid,
				 long *rss_peak, long *rss_end)
{
	char what[96];
	label_of(r, what, sizeof what);
	pool *p = start_pool(what, r->prefetch);
	if (!p)
		return;
	feed f = {0, r->n, 0};
	int bad = 0;
	double t0 = now_s();
	pool_iter *it = pool_imap_unordered(p, fn, feed_next, &f, r->chunksize);
	if (!it) {
		complain(what, "pool_imap_unordered: %s", pool_error(p));
		bad = 1;
	} else {
		bad = drain_unordered(r, what, p, it, sample_at, rss_mid, rss_peak) < 0;
	}
	r->seconds = now_s() - t0;
	if (rss_end)
		*rss_end = vm_rss_kib();
	pool_iter_free(it);
	r->ok = finish_pool(what, p, bad ? 0 : r->n) == 0 && !bad;
}

/* apply_async: submit n tasks (each its own future), get them all in order, then
 * free them all; as Python's futures = [apply_async(...) for ...], .get() on each,
 * and the list dropped. With r->free_early, each future is freed right after its
 * get instead: the two differ when finished futures cost the pool something. */
static void bench_apply_async(run *r, pool_fn fn)
{
	char what[96];
	label_of(r, what, sizeof what);
	uint64_t n = r->n;
	pool_future **f = calloc(n, sizeof *f);
	if (!f) {
		complain(what, "out of memory for %" PRIu64 " futures", n);
		return;
	}
	pool *p = start_pool(what, r->prefetch);
	if (!p) {
		free(f);
		return;
	}
	int bad = 0;
	double t0 = now_s();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = value_of(i);
		f[i] = pool_apply_async(p, fn, &v, sizeof v, NULL, NULL);
		if (!f[i]) {
			complain(what, "pool_apply_async: %s", pool_error(p));
			bad = 1;
			break;
		}
	}
	for (uint64_t i = 0; i < n && !bad; i++) {
		const pool_result *res = pool_future_get(f[i], -1);
		if (!res) {
			complain(what, "pool_future_get: %s", pool_error(p));
			bad = 1;
			break;
		}
		/* A future's result carries index 0 (its job has one task): check it as
		 * task i of n, so a message names the future. */
		pool_result as_i = *res;
		as_i.index = i;
		if (check_result(what, &as_i, i, n, value_of(i)) < 0)
			bad = 1;
		add_busy(r, res);
		if (r->free_early) {
			pool_future_free(f[i]);
			f[i] = NULL;
		}
	}
	for (uint64_t i = 0; i < n; i++)
		pool_future_free(f[i]);
	r->seconds = now_s() - t0;
	free(f);
	r->ok = finish_pool(what, p, bad ? 0 : n) == 0 && !bad;
}

/* Run one row once, whatever its method, and work out its rate. */
static void bench_once(run *r)
{
	pool_fn fn = strcmp(r->kind, "1ms") ? noop_task : sleep_task;
	r->seconds = r->busy_s = 0;
	r->ok = 0;
	if (!strcmp(r->method, "map"))
		bench_map(r, fn);
	else if (!strcmp(r->method, "imap_unordered"))
		bench_imap_unordered(r, fn, 0, NULL, NULL, NULL);
	else
		bench_apply_async(r, fn);
	r->rate = r->seconds > 0 ? (double)r->n / r->seconds : 0;
}

/* Run one row `repeat` times (a fresh pool each) and keep the fastest run: on a
 * shared machine the best run is the one least disturbed by others. Any failed run
 * fails the row. Says how long each took on stderr when that is a terminal, since a
 * full run is quiet for a while otherwise. */
static void bench(run *r, int repeat)
{
	run best = *r;
	best.ok = 0;
	for (int k = 0; k < repeat; k++) {
		run one = *r;
		bench_once(&one);
		if (isatty(2)) {
			char label[96];
			label_of(r, label, sizeof label);
			fprintf(stderr, "  %-44s %7.3f s%s\n", label, one.seconds,
				one.ok ? "" : "  FAILED");
		}
		if (!one.ok) {
			*r = one;
			return;
		}
		if (!best.ok || one.rate > best.rate)
			best = one;
	}
	*r = best;
}

/* ------------------------------------------------------------------------- */
/* Python                                                                     */

/* One line of the Python script: python <kind> <method> <chunksize> <ntasks>
 * <seconds> <tasks_per_s>. */
typedef struct py_row {
	char kind[16], method[32];
	size_t chunksize;
	uint64_t n;
	double seconds, rate;
} py_row;

#define MAX_PY_ROWS 32

/* What running the Python script gave. */
typedef struct py_out {
	const char *python;   /* the interpreter that ran it; NULL if none could */
	py_row rows[MAX_PY_ROWS];
	int nrows;
	int broke;            /* it ran but failed, or printed nothing usable */
	char note[4608];      /* why there is no comparison, if there is none */
} py_out;

/* Where the Python script is: the option, else the compiled-in path, else beside
 * this source file (NULL if that cannot be worked out). */
static const char *python_script_path(const char *opt)
{
	if (opt)
		return opt;
#ifdef POOL_BENCH_PY
	return POOL_BENCH_PY;
#else
	static char path[4096];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	if (src[0] != '/' || !slash)
		return NULL;
	snprintf(path, sizeof path, "%.*s/pool_bench_python.py", (int)(slash - src), src);
	return path;
#endif
}

/* Start `python script [--quick]` with its stdout on a pipe (stderr passes through
 * to ours). Tries /usr/bin/python3, then python3 from PATH. Returns the pid and sets
 * *fd and *used, or -1 when no interpreter could be started. */
static pid_t spawn_python(const char *script, int quick, int *fd, const char **used)
{
	static const char *const pythons[] = {"/usr/bin/python3", "python3"};
	for (size_t i = 0; i < sizeof pythons / sizeof pythons[0]; i++) {
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) < 0)
			return -1;
		/* The child keeps only the write end, as its stdout (dup2 clears CLOEXEC). */
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
		char *argv[] = {(char *)pythons[i], (char *)script, quick ? "--quick" : NULL,
				NULL};
		pid_t pid;
		fflush(stdout);
		fflush(stderr);
		int rc = posix_spawnp(&pid, pythons[i], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[1]);
		if (rc == 0) {
			*fd = pfd[0];
			*used = pythons[i];
			return pid;
		}
		close(pfd[0]);
	}
	return -1;
}

/* Keep row in out: a new measurement, or a faster run of one already there (the
 * best of --repeat runs, as for ours). */
static void keep_python_row(py_out *out, const py_row *row)
{
	for (int i = 0; i < out->nrows; i++) {
		py_row *o = &out->rows[i];
		if (!strcmp(o->kind, row->kind) && !strcmp(o->method, row->method) &&
		    o->chunksize == row->chunksize) {
			if (row->rate > o->rate)
				*o = *row;
			return;
		}
	}
	if (out->nrows < MAX_PY_ROWS)
		out->rows[out->nrows++] = *row;
}

/* Run the Python script once and add its lines to out (see keep_python_row). Lines
 * that are not measurements are passed on as they are, so nothing it says is lost.
 * Returns 0, or -1 when it could not run or failed (out->note says why). */
static int run_python_once(const char *script, int quick, py_out *out)
{
	if (!script) {
		snprintf(out->note, sizeof out->note,
			 "cannot tell where pool_bench_python.py is (use --python-script)");
		return -1;
	}
	if (access(script, R_OK) < 0) {
		snprintf(out->note, sizeof out->note, "%s: %s", script, strerror(errno));
		return -1;
	}
	int fd;
	const char *used = NULL;
	pid_t pid = spawn_python(script, quick, &fd, &used);
	if (pid < 0) {
		snprintf(out->note, sizeof out->note,
			 "no Python found (tried /usr/bin/python3 and python3 on PATH)");
		return -1;
	}
	out->python = used;
	FILE *f = fdopen(fd, "r");
	char line[512];
	int got = 0;
	while (f && fgets(line, sizeof line, f)) {
		py_row row;
		int end = 0;
		if (sscanf(line, "python %15s %31s %zu %" SCNu64 " %lf %lf %n", row.kind,
			   row.method, &row.chunksize, &row.n, &row.seconds, &row.rate,
			   &end) == 6 && line[end] == '\0') {
			keep_python_row(out, &row);
			got++;
		} else {
			line[strcspn(line, "\n")] = '\0';
			printf("  (python said: %s)\n", line);
		}
	}
	if (f)
		fclose(f);
	else
		close(fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		out->broke = 1;
		if (WIFEXITED(status))
			snprintf(out->note, sizeof out->note, "%s %s exited with status %d", used,
				 script, WEXITSTATUS(status));
		else
			snprintf(out->note, sizeof out->note, "%s %s was killed by signal %d",
				 used, script, WTERMSIG(status));
		return -1;
	}
	if (!got) {
		out->broke = 1;
		snprintf(out->note, sizeof out->note, "%s %s printed no measurement", used,
			 script);
		return -1;
	}
	return 0;
}

/* Run the Python script `repeat` times, keeping its best figure for each row. A
 * missing interpreter or script leaves out->python NULL and out->broke 0 (no
 * comparison, nothing broken); a script that fails sets out->broke. */
static void run_python(const char *script, int quick, int repeat, py_out *out)
{
	memset(out, 0, sizeof *out);
	for (int k = 0; k < repeat; k++) {
		if (isatty(2))
			fprintf(stderr, "  python %s%s (run %d of %d)\n", script ? script : "?",
				quick ? " --quick" : "", k + 1, repeat);
		if (run_python_once(script, quick, out) < 0)
			return;
	}
}

/* Python's figure for the same kind, method and chunksize, or NULL. */
static const py_row *python_row(const py_out *py, const run *r)
{
	for (int i = 0; i < py->nrows; i++)
		if (!strcmp(py->rows[i].kind, r->kind) && !strcmp(py->rows[i].method, r->method) &&
		    py->rows[i].chunksize == r->chunksize)
			return &py->rows[i];
	return NULL;
}

/* ------------------------------------------------------------------------- */
/* Report                                                                     */

/* Print the table of measurements, with Python's figure and the ratio where there
 * is one. */
static void print_table(const run *rows, int nrows, const py_out *py)
{
	printf("\n%-44s %9s %8s %12s %7s %12s %9s\n", "measurement", "tasks", "seconds",
	       "tasks/s", "ideal", "python/s", "ours/py");
	for (int i = 0; i < nrows; i++) {
		const run *r = &rows[i];
		char label[96], ideal[16] = "-", pyrate[24] = "-", ratio[24] = "-";
		label_of(r, label, sizeof label);
		if (!r->ok) {
			printf("%-44s %9" PRIu64 " %8s\n", label, r->n, "FAILED");
			continue;
		}
		if (!strcmp(r->kind, "1ms"))
			snprintf(ideal, sizeof ideal, "%.1f%%", 100 * r->rate / IDEAL_SLEEP_RATE);
		const py_row *pr = python_row(py, r);
		if (pr) {
			snprintf(pyrate, sizeof pyrate, "%.0f", pr->rate);
			if (pr->rate > 0)
				snprintf(ratio, sizeof ratio, "%.1fx", r->rate / pr->rate);
		}
		printf("%-44s %9" PRIu64 " %8.3f %12.0f %7s %12s %9s\n", label, r->n, r->seconds,
		       r->rate, ideal, pyrate, ratio);
	}
}

/* One line of the targets list. */
static void print_target(const char *what, const char *got, int met)
{
	printf("  %-54s %12s   %s\n", what, got, met ? "met" : "NOT met");
}

/* ------------------------------------------------------------------------- */

/* Print the usage text to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: pool_bench [--quick] [--repeat N] [--python-script PATH | --no-python]\n"
		"\n"
		"Measure libpool (2 workers) on no-op and 1 ms tasks and the parent's RSS over\n"
		"a long lazy feed, and compare with Python's multiprocessing.Pool(2).\n"
		"\n"
		"  --quick               10x fewer tasks (a smoke test, not a measurement)\n"
		"  --repeat N            run every row N times, ours and Python's, and keep\n"
		"                        the best of each (default 1; a full run takes about\n"
		"                        30 s per repeat)\n"
		"  --python-script PATH  the Python side (default: pool_bench_python.py\n"
		"                        beside this program's source)\n"
		"  --no-python           leave the Python comparison out\n"
		"\n"
		"Targets are printed as information. Exits 1 only when something broke: a pool\n"
		"call or a task failed, a result was wrong, or the Python script failed.\n");
}

/* The RSS check: push N_RSS no-op tasks through imap_unordered over a lazy feed and
 * print VmRSS after the first tenth and at the end. Runs first, on a fresh heap:
 * memory freed by earlier rows would otherwise be reused and could hide growth.
 * Returns the drift in KiB through *drift; 0 when the run was right. */
static int bench_rss(uint64_t div, long *drift)
{
	run rss = {.kind = "noop", .method = "imap_unordered", .chunksize = 100,
		   .prefetch = DEFAULT_PREFETCH, .n = N_RSS / div};
	uint64_t sample_at = rss.n / 10;
	long mid = -1, peak = -1, end = -1;
	long before = vm_rss_kib();
	bench_imap_unordered(&rss, noop_task, sample_at, &mid, &peak, &end);
	rss.rate = rss.seconds > 0 ? (double)rss.n / rss.seconds : 0;
	printf("\nparent RSS over %" PRIu64 " no-op tasks, imap_unordered lazy feed, cs=100 "
	       "(default options):\n", rss.n);
	if (!rss.ok) {
		printf("  FAILED\n");
		return -1;
	}
	printf("  before the pool %ld KiB; after %" PRIu64 " tasks %ld KiB; at the end %ld KiB\n"
	       "  difference %+ld KiB (largest sample %ld KiB); %.2f s, %.0f tasks/s\n",
	       before, sample_at, mid, end, end - mid, peak, rss.seconds, rss.rate);
	*drift = end - mid;
	return 0;
}

int main(int argc, char **argv)
{
	int quick = 0, no_python = 0, repeat = 1;
	const char *script_opt = NULL;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--no-python")) {
			no_python = 1;
		} else if (!strcmp(argv[i], "--python-script") && i + 1 < argc) {
			script_opt = argv[++i];
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc &&
			   (repeat = (int)strtol(argv[i + 1], &end, 10)) > 0 && !*end) {
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	/* Lines come out as the runs end; keep them in order with stderr's. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint64_t div = quick ? 10 : 1;
	int broken = 0;

	printf("pool_bench: libpool, %d workers, %s run; a fresh pool per row, timed\n"
	       "from the first submission to the last result read, checked and released\n",
	       WORKERS, quick ? "quick (10x fewer tasks)" : "full");
	if (repeat > 1)
		printf("(best of %d runs for every row, ours and Python's)\n", repeat);

	long drift = 0;
	int rss_ok = bench_rss(div, &drift) == 0;
	broken |= !rss_ok;

	/* kind, method, chunksize, prefetch, compared with Python, free early, tasks */
#define ROW(k, m, cs, pf, cmp, fe, count) \
	{.kind = k, .method = m, .chunksize = cs, .prefetch = pf, .compare = cmp, \
	 .free_early = fe, .n = (count) / div}
	run rows[] = {
		ROW("noop", "apply_async", 1, DEFAULT_PREFETCH, 1, 0, N_APPLY),
		ROW("noop", "apply_async", 1, DEFAULT_PREFETCH, 0, 1, N_APPLY),
		ROW("noop", "imap_unordered", 1, DEFAULT_PREFETCH, 1, 0, N_NOOP),
		ROW("noop", "map", 1, DEFAULT_PREFETCH, 1, 0, N_NOOP),
		ROW("noop", "map", 1, 1, 0, 0, N_NOOP / 10),
		ROW("noop", "map", 100, DEFAULT_PREFETCH, 1, 0, N_BATCHED),
		ROW("1ms", "map", 1, DEFAULT_PREFETCH, 1, 0, N_SLEEP),
		ROW("1ms", "imap_unordered", 1, DEFAULT_PREFETCH, 1, 0, N_SLEEP),
		ROW("1ms", "apply_async", 1, DEFAULT_PREFETCH, 1, 0, N_SLEEP),
	};
#undef ROW
	int nrows = (int)(sizeof rows / sizeof rows[0]);
	for (int i = 0; i < nrows; i++) {
		bench(&rows[i], repeat);
		broken |= !rows[i].ok;
	}

	py_out py;
	if (no_python) {
		memset(&py, 0, sizeof py);
		snprintf(py.note, sizeof py.note, "left out (--no-python)");
	} else {
		run_python(python_script_path(script_opt), quick, repeat, &py);
		broken |= py.broke;
	}
	int have_py = py.python && !py.broke;

	print_table(rows, nrows, have_py ? &py : &(py_out){0});
	if (have_py)
		printf("(python: %s, multiprocessing.Pool(%d), 'fork')\n", py.python, WORKERS);
	else
		printf("(python: no comparison: %s)\n", py.note);

	/* 1 ms rows: tell the pool's gaps from the sleep's own overshoot. */
	printf("\n1 ms tasks: the mean task (as the workers timed it) and the share of the\n"
	       "wall time the workers spent in tasks (what the pool can be blamed for):\n");
	for (int i = 0; i < nrows; i++) {
		const run *r = &rows[i];
		if (strcmp(r->kind, "1ms") || !r->ok || !r->n || r->seconds <= 0)
			continue;
		char label[96];
		label_of(r, label, sizeof label);
		printf("  %-42s mean task %.3f ms, workers busy %.1f%%\n", label,
		       1e3 * r->busy_s / (double)r->n, 100 * r->busy_s / (WORKERS * r->seconds));
	}

	printf("\ntargets (information; timings on a shared machine vary):\n");
	char got[32];
	for (int i = 0; i < nrows; i++) {
		const run *r = &rows[i];
		if (strcmp(r->kind, "noop") || r->chunksize != 1 || !r->compare)
			continue;
		char what[128], label[96];
		label_of(r, label, sizeof label);
		snprintf(what, sizeof what, "%s >= %.0fx python", label, TARGET_RATIO);
		const py_row *pr = have_py ? python_row(&py, r) : NULL;
		if (!r->ok || !pr || pr->rate <= 0) {
			printf("  %-54s %12s   -\n", what, r->ok ? "no python" : "failed");
			continue;
		}
		snprintf(got, sizeof got, "%.1fx", r->rate / pr->rate);
		print_target(what, got, r->rate / pr->rate >= TARGET_RATIO);
	}
	for (int i = 0; i < nrows; i++) {
		const run *r = &rows[i];
		char what[128], label[96];
		label_of(r, label, sizeof label);
		if (!strcmp(r->kind, "noop") && r->chunksize == 100) {
			snprintf(what, sizeof what, "%s >= %.0fM tasks/s", label,
				 TARGET_MAP100_RATE / 1e6);
			snprintf(got, sizeof got, "%.2fM/s", r->rate / 1e6);
			print_target(what, r->ok ? got : "failed",
				     r->ok && r->rate >= TARGET_MAP100_RATE);
		} else if (!strcmp(r->kind, "1ms")) {
			snprintf(what, sizeof what, "%s: workers busy >= %.0f%%", label,
				 TARGET_SLEEP_BUSY);
			double busy = r->seconds > 0 ? 100 * r->busy_s / (WORKERS * r->seconds) : 0;
			snprintf(got, sizeof got, "%.1f%%", busy);
			print_target(what, r->ok ? got : "failed", r->ok && busy >= TARGET_SLEEP_BUSY);
		}
	}
	snprintf(got, sizeof got, "%+ld KiB", drift);
	print_target("parent RSS drift, first tenth to the end, within 1 MiB",
		     rss_ok ? got : "failed", rss_ok && labs(drift) <= TARGET_RSS_KIB);
	if (quick)
		printf("(--quick: too few tasks for the figures to mean much)\n");

	if (broken)
		printf("\npool_bench: something broke (see the messages above)\n");
	return broken ? 1 : 0;
}
