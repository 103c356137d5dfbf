/* SPDX-License-Identifier: MIT */
/*
 * test_pool_edges.c — promises of pool.h at their edges, each one a random
 * property test broke: a map future freed before its tasks are all produced and
 * then the pool ended every way, results up to max_message, a caller whose
 * standard descriptors are closed, a worker stopped from outside while it
 * retires, waits with a timeout of zero, pool_future_cancel() after a crash
 * its task will be retried for, a child the caller forked and a SIGCHLD handler
 * of the caller's that reaps every child.
 *
 * Run under ASan+UBSan in a sanitizer build and under valgrind otherwise
 * (tests/pool_tests.cmake), as the other pool tests are: the first test's defect
 * was a use-after-free, a double free in a plain build only now and then.
 *
 * Usage: test_pool_edges [NAME-GLOB]
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool_testlib.h"
#include "wire.h" /* the header stray bytes imitate */

/* The worker inside the finalizer, on a page the forks share. */
static _Atomic int *fini_pid;

static void slow_fini(void *state)
{
	(void)state;
	*fini_pid = getpid();
	usleep(300 * 1000); /* a finalizer that takes its time */
}

/* ------------------------------------------------------------------------- */

enum ending { END_DESTROY, END_TERMINATE, END_INTERRUPT, END_BREAK };

/* "pool_future_free: an unfinished task still runs; its result is dropped." A map
 * whose future was freed with tasks not produced yet, then the pool ended: the
 * loop that cancels a map's unproduced tasks settled and freed the job at the
 * last one, then read it again (and freed it twice). */
static void test_a_freed_map_future_then_every_ending(void **state)
{
	(void)state;
	enum { N = 300 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int end = END_DESTROY; end <= END_BREAK; end++) {
		tl_reset_shared();
		pool_options o = {.workers = 1, .init = tl_init, .retries = -1};
		pool *p = pool_create(&o, NULL);
		assert_non_null(p);
		for (int i = 0; i < N; i++) {
			args[i] = (job_arg){B_SLEEP_MS, 1, (uint64_t)i};
			if (end == END_BREAK && i == 0) {
				/* the worker dies, and its replacement cannot start */
				args[i] = J(B_SEGV, 0);
				atomic_store(&sh->init_fail_after, atomic_load(&sh->inits));
			}
			t[i] = (pool_task){&args[i], sizeof args[i]};
		}
		memset(r, 0, sizeof r);
		pool_future *f = pool_map_async(p, tl_task, t, N, 1, r);
		assert_non_null(f);
		pool_poll(p, 0.005);
		pool_future_free(f);
		if (end == END_TERMINATE)
			pool_terminate(p);
		if (end == END_INTERRUPT) {
			pool_interrupt(p);
			pool_poll(p, 0.01);
		}
		for (int turns = 0; end == END_BREAK && turns < 1000 &&
				    pool_get_state(p) != POOL_BROKEN; turns++)
			pool_poll(p, 0.01);
		if (end == END_BREAK)
			assert_int_equal(pool_get_state(p), POOL_BROKEN);
		pool_destroy(p);
		for (int i = 0; i < N; i++) /* what came back before the free is ours */
			pool_result_release(&r[i]);
		tl_assert_no_children();
	}
}

/* "max_message: largest task or result accepted". The worker sent up to 64
 * results in one message and the parent held the message to max_message: small
 * results ended POOL_CRASHED, their worker killed as sending a malformed message.
 * A result over the limit is that task's error, its worker unharmed. */
static void test_results_up_to_max_message_pass(void **state)
{
	(void)state;
	tl_reset_shared();
	enum { N = 400, MAX = 3000 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result r[N];
	pool_options o = {.workers = 2, .max_message = MAX};
	pool *p = pool_create(&o, NULL);
	assert_non_null(p);
	srand(7);
	for (int i = 0; i < N; i++) {
		args[i] = J(B_BIG, (uint64_t)(i == N - 1 ? MAX + 1 : rand() % (MAX + 1)));
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	assert_int_equal(pool_map(p, tl_task, t, N, 0, r), 0);
	for (int i = 0; i < N - 1; i++) {
		if (r[i].status != POOL_OK || r[i].len != args[i].value)
			fail_msg("task %d, a result of %llu bytes (max_message %d): status %d, %s", i,
				 (unsigned long long)args[i].value, MAX, (int)r[i].status,
				 r[i].status == POOL_OK ? "a wrong length" : r[i].data);
		pool_result_release(&r[i]);
	}
	assert_int_equal(r[N - 1].status, POOL_ERROR);
	assert_non_null(strstr(r[N - 1].data, "over the pool's message size limit"));
	pool_result_release(&r[N - 1]);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.crashed, 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* In a child (the test keeps its own descriptors): close the standard
 * descriptors in `which` (a bit set) before the pool, or stdin after it and then
 * make a worker die so that its replacement's channel is made then; then work,
 * close and join. Exits 0 when join returned. */
static void closed_stdio_child(int which, int after)
{
	alarm(30); /* a hang ends as SIGALRM */
	for (int fd = 0; fd < 3 && !after; fd++)
		if (which & (1 << fd))
			close(fd);
	pool_options o = {.workers = 2, .retries = -1};
	pool *p = pool_create(&o, NULL);
	if (!p)
		_exit(2);
	pool_result r;
	if (after) {
		close(0);
		job_arg crash = J(B_SEGV, 0);
		pool_apply(p, tl_task, &crash, sizeof crash, &r); /* a respawn follows */
		pool_result_release(&r);
	}
	for (int i = 0; i < 10; i++) {
		job_arg a = J(B_SQUARE, (uint64_t)i);
		if (pool_apply(p, tl_task, &a, sizeof a, &r) != 0 || r.status != POOL_OK)
			_exit(3);
		pool_result_release(&r);
	}
	pool_close(p);
	int k = pool_join(p);
	pool_destroy(p);
	_exit(k == 0 ? 0 : 4);
}

/* A caller with stdin (or all three) closed: a channel made then landed on 0,
 * which a worker keeps as the caller's stdin. The worker held the parent's end of
 * its own channel, never saw EOF when let go, and pool_join never returned. */
static void test_join_with_standard_descriptors_closed(void **state)
{
	(void)state;
	static const struct {
		int which, after;
	} cases[] = {{1, 0}, {1, 1}, {7, 0}};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		tl_reset_shared();
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			closed_stdio_child(cases[c].which, cases[c].after);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("closed %#x %s the pool: %s %d", cases[c].which,
				 cases[c].after ? "after" : "before",
				 WIFSIGNALED(status) ? "killed by signal" : "exit",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
}

/* "A worker that holds tasks but starts none of them within the timeout, and is
 * seen stopped from outside, is replaced ... charging no task." A worker
 * retiring (over max_worker_rss, or at max_tasks_per_worker) and stopped in its
 * finalizer was never looked at again: its slot and the tasks it held were held
 * for good. */
static void test_a_worker_stopped_while_it_retires_is_replaced(void **state)
{
	(void)state;
	enum { N = 12 };
	job_arg args[N];
	pool_task t[N];
	pool_result r[N];
	for (int limit = 0; limit < 2; limit++) {
		tl_reset_shared();
		*fini_pid = 0;
		pool_options o = {.workers = 1, .timeout = 1.0, .fini = slow_fini};
		if (limit == 0)
			o.max_worker_rss = 1; /* over it after every task */
		else
			o.max_tasks_per_worker = 3;
		pool *p = pool_create(&o, NULL);
		assert_non_null(p);
		tl_square_tasks(args, t, N);
		memset(r, 0, sizeof r);
		pool_future *f = pool_map_async(p, tl_task, t, N, 1, r);
		assert_non_null(f);
		pid_t stopped = 0;
		for (int turns = 0; !stopped && turns < 5000; turns++) {
			pool_poll(p, 0.001);
			if ((stopped = *fini_pid))
				kill(stopped, SIGSTOP);
		}
		assert_true(stopped > 0);
		if (pool_future_wait(f, 30.0) != 1) {
			kill(stopped, SIGKILL);
			fail_msg("%s: the worker stopped in its finalizer was never replaced",
				 limit ? "max_tasks_per_worker" : "max_worker_rss");
		}
		for (int i = 0; i < N; i++) {
			tl_check_square(&r[i], (uint64_t)i);
			pool_result_release(&r[i]);
		}
		pool_future_free(f);
		kill(stopped, SIGCONT); /* killed by then; harmless */
		pool_close(p);
		assert_int_equal(pool_join(p), 0);
		pool_destroy(p);
		tl_assert_no_children();
	}
}

/* A feed of four B_SQUARE tasks. */
static int four_squares(void *data, pool_task *task)
{
	int *next = data;
	static job_arg args[4];
	if (*next >= 4)
		return POOL_FEED_END;
	args[*next] = J(B_SQUARE, (uint64_t)*next);
	*task = (pool_task){&args[*next], sizeof args[*next]};
	(*next)++;
	return POOL_FEED_TASK;
}

/* "There is no background thread: work is dispatched and results collected
 * inside the blocking calls." Those calls looked at the clock before their first
 * turn, so a caller polling with a timeout of 0 between its own work never
 * dispatched anything. */
static void test_a_zero_timeout_still_drives_the_pool(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, 0, 0);
	job_arg a = J(B_SQUARE, 9);
	pool_future *f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	int polls = 0;
	while (pool_future_wait(f, 0) == 0 && ++polls < 5000)
		usleep(1000);
	assert_true(pool_future_ready(f));
	pool_future_free(f);

	f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	size_t which;
	polls = 0;
	while (pool_wait_any(&f, 1, 0, &which) == 0 && ++polls < 5000)
		usleep(1000);
	assert_true(pool_future_ready(f));
	pool_future_free(f);

	int next = 0;
	pool_iter *it = pool_imap(p, tl_task, four_squares, &next, 1);
	assert_non_null(it);
	pool_result r;
	int got = 0, k;
	polls = 0;
	while ((k = pool_iter_next_timed(it, &r, 0)) != 0 && k != -1 && polls < 5000) {
		if (k == 1) {
			got++;
			pool_result_release(&r);
		} else {
			polls++;
			usleep(1000);
		}
	}
	assert_int_equal(got, 4);
	pool_iter_free(it);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

static int retried;
static void on_retry(const pool_event *e, void *data)
{
	(void)data;
	retried |= e->kind == POOL_EV_RETRY;
}

/* A replacement worker that takes its time to start: the task its predecessor
 * crashed on waits in the queue for its retry meanwhile. */
static int slow_second_init(void *arg, void **st, pool_buf *err)
{
	if (atomic_fetch_add(&sh->inits, 1) > 0)
		usleep(200 * 1000);
	return tl_init(arg, st, err);
}

/* "pool_future_cancel: when no task of the future has started yet, none will ...
 * 0 when a task of it has started or finished (nothing changes)". A task back in
 * the queue for its retry had started, but only the workers' tasks were looked
 * at: it was cancelled as "not started", with attempts 1. */
static void test_cancel_after_a_crash_is_too_late(void **state)
{
	(void)state;
	tl_reset_shared();
	retried = 0;
	pool_options o = {.workers = 1, .retries = 1, .init = slow_second_init,
			  .on_event = on_retry};
	pool *p = pool_create(&o, NULL);
	assert_non_null(p);
	job_arg a = J(B_CRASH_ONCE, 5);
	pool_future *f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	for (int turns = 0; !retried && turns < 3000; turns++)
		pool_poll(p, 0.01);
	assert_true(retried);
	assert_false(pool_future_ready(f));
	assert_int_equal(pool_future_cancel(f), 0);
	const pool_result *r = pool_future_get(f, 30);
	assert_non_null(r);
	tl_check_square(r, 5);
	assert_int_equal(r->attempts, 2);
	pool_future_free(f);
	pool_destroy(p);
}

/* max_message near SIZE_MAX: the parent's read limit, max_message + 4096, wrapped
 * to a few bytes, and every result past them was a crash. */
static void test_a_huge_max_message_does_not_wrap(void **state)
{
	(void)state;
	tl_reset_shared();
	pool_options o = {.workers = 1, .max_message = SIZE_MAX - 100};
	pool *p = pool_create(&o, NULL);
	assert_non_null(p);
	job_arg a = J(B_BIG, 5000);
	pool_result r;
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_int_equal(r.len, 5000);
	pool_result_release(&r);
	pool_destroy(p);
}

/* A task that crashes its worker a little after it starts. */
static int crash_later(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg, (void)len, (void)out, (void)state;
	usleep(100 * 1000);
	raise(SIGSEGV);
	return 1;
}

/* A worker that died running a task while the caller was away past the task's
 * timeout: the next turn killed it "for its timeout" before reading that it had
 * ended, and the task said POOL_TIMEOUT, not the crash it was. */
static void test_a_crash_while_the_caller_is_away_is_a_crash(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0.4, -1, 0);
	pool_future *f = pool_apply_async(p, crash_later, NULL, 0, NULL, NULL);
	pool_poll(p, 0.02); /* sent; it starts */
	usleep(1000 * 1000); /* the caller's own work, past the timeout */
	const pool_result *r = pool_future_get(f, 30);
	assert_non_null(r);
	if (r->status != POOL_CRASHED)
		fail_msg("status %d: %s", (int)r->status, r->data ? r->data : "");
	assert_int_equal(r->term_signal, SIGSEGV);
	pool_future_free(f);
	pool_destroy(p);
}

/* A child the caller fork()s without exec, still running: it holds copies of the
 * pool's descriptors, the parent's ends of the workers' channels among them.
 * Closing ours was then no EOF for a worker: a worker at max_tasks_per_worker
 * never retired, and pool_join() waited for that child to exit. */
static void test_a_callers_forked_child_keeps_no_worker(void **state)
{
	(void)state;
	enum { N = 8 };
	for (unsigned limit = 0; limit < 2; limit++) {
		tl_reset_shared();
		pool *p = tl_make_pool(2, 0, -1, limit);
		tl_map_squares(p, 2); /* both started */
		int go[2];
		assert_int_equal(pipe(go), 0);
		fflush(NULL);
		pid_t kid = fork();
		assert_true(kid >= 0);
		if (kid == 0) { /* holds everything until told, or 20 s */
			close(go[1]);
			struct pollfd pf = {go[0], POLLIN, 0};
			poll(&pf, 1, 20000);
			_exit(0);
		}
		close(go[0]);
		int64_t t0 = tl_now_ns();
		tl_map_squares(p, N);
		pool_close(p);
		assert_int_equal(pool_join(p), 0);
		double took = (double)(tl_now_ns() - t0) / 1e9;
		/* gone already when it waited its 20 s: no SIGPIPE for the test */
		void (*was)(int) = signal(SIGPIPE, SIG_IGN);
		ssize_t told = write(go[1], "x", 1);
		signal(SIGPIPE, was);
		(void)told;
		close(go[1]);
		while (waitpid(kid, NULL, 0) < 0 && errno == EINTR)
			;
		pool_destroy(p);
		if (took > 10)
			fail_msg("max_tasks_per_worker %u: the map and pool_join took %.1f s, "
				 "waiting for the caller's child", limit, took);
		tl_assert_no_children();
	}
}

static void reap_every_child(int sig)
{
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

/* A caller's SIGCHLD handler that reaps with waitpid(-1) takes the workers' exit
 * statuses. A worker that retired at max_tasks_per_worker, or was let go by
 * pool_join(), inside no task, was counted a crash (and its exit event said so). */
static void test_a_reaping_sigchld_handler_makes_no_crashes(void **state)
{
	(void)state;
	enum { N = 40 };
	struct sigaction sa = {.sa_handler = reap_every_child, .sa_flags = SA_RESTART}, old;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &sa, &old), 0);
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, -1, 1);
	tl_map_squares(p, N);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_stats st;
	pool_stats_get(p, &st);
	pool_destroy(p);
	sigaction(SIGCHLD, &old, NULL);
	if (st.crashed)
		fail_msg("%llu of the workers' planned exits counted as crashes (%llu recycled)",
			 (unsigned long long)st.crashed, (unsigned long long)st.recycled);
	assert_true(st.recycled >= N - 2);
}

/* The only child of this thread (the pool's one worker), or -1. */
static pid_t only_child(void)
{
	char path[64];
	int pid = -1;
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)syscall(SYS_gettid));
	FILE *f = fopen(path, "r");
	if (f && fscanf(f, "%d", &pid) != 1)
		pid = -1;
	if (f)
		fclose(f);
	return pid;
}

/* A child of the caller's with process number want (ns_last_pid: root only), which
 * exits 0 after 6 s, or -1 where the number cannot be chosen. */
static pid_t child_numbered(pid_t want)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
	if (!f)
		return -1;
	fprintf(f, "%d", (int)want - 1);
	if (fclose(f) != 0)
		return -1;
	fflush(NULL);
	pid_t kid = fork();
	if (kid == 0) {
		sleep(6);
		_exit(0);
	}
	if (kid > 0 && kid != want) {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		return -1;
	}
	return kid;
}

/* A worker whose status a SIGCHLD handler of the caller's took, and a child the
 * caller forked since that was given the worker's number. The pool waited for
 * the worker by that number: pool_terminate() waited for the caller's child
 * until it exited, and took its status; a map went on only once it had. Through
 * the worker's pidfd it waits for the worker alone. (Not under valgrind, which
 * has no pidfds: the pool waits by number there.) */
static void test_a_workers_number_given_to_a_callers_child(void **state)
{
	(void)state;
	long fd = syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0)
		skip();
	close((int)fd);
	for (int terminate = 1; terminate >= 0; terminate--) {
		tl_reset_shared();
		pool *p = tl_make_pool(1, 0, -1, 0);
		pid_t worker = only_child();
		assert_true(worker > 0);
		kill(worker, SIGKILL);
		assert_int_equal(waitpid(worker, NULL, 0), worker); /* the caller's handler */
		pid_t kid = child_numbered(worker);
		if (kid < 0) {
			pool_destroy(p);
			skip(); /* not root, or the number was taken */
		}
		int64_t t0 = tl_now_ns();
		if (terminate)
			pool_terminate(p);
		else
			tl_map_squares(p, 20); /* on a new worker */
		double took = (double)(tl_now_ns() - t0) / 1e9;
		int kid_status = -1;
		pid_t r = waitpid(kid, &kid_status, WNOHANG);
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		pool_destroy(p);
		if (r != 0 || took > 4)
			fail_msg("%s took %.1f s; the caller's child (the worker's number) was %s",
				 terminate ? "pool_terminate" : "a map", took,
				 r == 0 ? "still the caller's" : "reaped by the pool");
		tl_assert_no_children();
	}
}

/* The next spawns_to_signal workers get spawn_signal as they start (the pool's
 * spawn event): someone outside killing or stopping them. */
static int spawns_to_signal, spawn_signal;

static void signal_new_workers(const pool_event *e, void *data)
{
	(void)data;
	if (e->kind == POOL_EV_SPAWN && spawns_to_signal > 0) {
		spawns_to_signal--;
		kill(e->pid, spawn_signal);
	}
}

/* Workers killed from outside as they start break the pool after 20 in a row, a
 * failure of their own after 3. With a reaping SIGCHLD handler of the caller's
 * their statuses are not the pool's to read: each such end counted as a failure
 * of its own, and 4 kills broke the pool. They count as kills now. */
static void test_a_reaping_sigchld_handler_and_killed_starts(void **state)
{
	(void)state;
	struct sigaction sa = {.sa_handler = reap_every_child, .sa_flags = SA_RESTART}, old;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &sa, &old), 0);
	tl_reset_shared();
	spawns_to_signal = 5;
	spawn_signal = SIGKILL;
	pool_options o = {.workers = 1, .min_ready = -1, .on_event = signal_new_workers};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	job_arg a = J(B_SQUARE, 3);
	pool_result r = {0};
	int rc = pool_apply(p, tl_task, &a, sizeof a, &r);
	char why[300];
	snprintf(why, sizeof why, "%s", rc ? pool_error(p) : "");
	pool_result_release(&r);
	pool_destroy(p);
	sigaction(SIGCHLD, &old, NULL);
	if (rc != 0)
		fail_msg("5 starts killed from outside: %s", why);
}

/* A task that closes its worker's end of the channel (descriptor 3, as a library
 * that "closes every descriptor above 2" does) and returns: its result cannot be
 * sent, and the worker exits 0 between tasks. Not charged, the task re-ran with a
 * fresh worker each time, for ever: no answer. */
static int close_my_channel(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg;
	(void)len;
	(void)state;
	close(3);
	return pool_buf_append(out, "done", 4);
}

enum { CLOSER = 7 };

/* B_SQUARE, and task CLOSER closes its channel first. */
static int square_or_close(const void *arg, size_t len, pool_buf *out, void *state)
{
	const job_arg *a = arg;
	if (a->value == CLOSER)
		close(3);
	return tl_task(arg, len, out, state);
}

static void test_a_task_whose_result_cannot_be_sent_is_answered(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, 1, 0);
	pool_future *f = pool_apply_async(p, close_my_channel, NULL, 0, NULL, NULL);
	assert_non_null(f);
	const pool_result *r = pool_future_get(f, 30);
	if (!r)
		fail_msg("no answer after 30 s");
	assert_int_equal(r->status, POOL_CRASHED);
	assert_non_null(strstr(r->data, "before its result was sent"));
	assert_true(r->attempts <= 8);
	pool_future_free(f);
	pool_destroy(p);
	tl_assert_no_children();

	/* Among others in one batch, without retries: only it fails. The healthy
	 * tasks its worker ran after it, in the batch that was lost with it, were
	 * charged with it (37 of 39). */
	enum { N = 40 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result res[N];
	tl_reset_shared();
	p = tl_make_pool(1, 0, -1, 0);
	tl_square_tasks(args, t, N);
	assert_int_equal(pool_map(p, square_or_close, t, N, 1, res), 0);
	for (int i = 0; i < N; i++) {
		if (i == CLOSER) {
			assert_int_equal(res[i].status, POOL_CRASHED);
			assert_non_null(strstr(res[i].data, "before its result was sent"));
		} else {
			tl_check_square(&res[i], (uint64_t)i);
		}
		pool_result_release(&res[i]);
	}
	pool_destroy(p);
	tl_assert_no_children();
}

/* pool_join() of closed pool p (0) under a 60 s alarm (a wait for good ends the
 * test), then the starts held let go, *st taken and p destroyed: the join's
 * seconds. */
static double join_held_starts(pool *p, pool_stats *st)
{
	int64_t t0 = tl_now_ns();
	alarm(60);
	assert_int_equal(pool_join(p), 0);
	alarm(0);
	double took = (double)(tl_now_ns() - t0) / 1e9;
	atomic_store(&sh->init_hold, 0);
	pool_stats_get(p, st);
	pool_destroy(p);
	return took;
}

/* pool_join() while a replacement worker hangs in its initializer: the
 * initializer timeout no longer applied once the worker was let go, and
 * pool_join() waited for good. */
static void test_join_while_a_worker_hangs_starting(void **state)
{
	(void)state;
	tl_reset_shared();
	atomic_store(&sh->init_hold, 1); /* every start after the first hangs */
	pool_options o = {.workers = 2, .init = tl_init, .init_timeout = 0.5, .min_ready = 1};
	pool *p = pool_create(&o, NULL);
	assert_non_null(p);
	tl_apply_square(p, 3);
	pool_close(p);
	pool_stats st;
	assert_true(join_held_starts(p, &st) < 10);
	assert_int_equal((int)st.crashed, 0);
	tl_assert_no_children();
}

/* pool_join() with every task answered and a worker stopped from outside
 * (SIGSTOP) before its finalizer: between tasks, or in its initializer. It was
 * killed only after the task timeout (30 s here, imgpool's 120 s: a run whose
 * files were all done in 3 s ended at 120). It goes 2 s after it was let go
 * now, as a kill of the pool's (no crash); the join is 0. */
static void test_join_with_a_stopped_worker_and_every_task_answered(void **state)
{
	(void)state;
	for (int k = 0; k < 4; k++) {
		int starting = k & 1;
		double timeout = k < 2 ? 30 : 0;
		tl_reset_shared();
		atomic_store(&sh->init_hold, starting); /* every start after the first hangs */
		pool_options o = {.workers = 2, .init = tl_init, .timeout = timeout,
				  .min_ready = starting ? 1 : 2};
		pool *p = pool_create(&o, NULL);
		assert_non_null(p);
		tl_apply_square(p, 3);
		int pids[2], stopped = 0;
		if (starting) {
			while (!(stopped = atomic_load(&sh->init_pid)))
				usleep(1000);
		} else {
			assert_int_equal(pool_worker_pids(p, pids, 2), 2);
			stopped = pids[1];
		}
		assert_int_equal(kill(stopped, SIGSTOP), 0);
		pool_close(p);
		pool_stats st;
		double took = join_held_starts(p, &st);
		if (took > 10)
			fail_msg("%s worker stopped, timeout %g: pool_join took %.1f s",
				 starting ? "a starting" : "an idle", timeout, took);
		assert_int_equal((int)st.crashed, 0);
		tl_assert_no_children();
	}
}

/* Workers that are at work, not held, when pool_join() lets them go: the
 * second still in a 3 s initializer, and every worker stopped and continued every
 * 30 ms (a throttle such as cpulimit; strace's stops at each system call look the
 * same in /proc). A first 1.7.8 took one look for "stopped" 2 s after letting
 * them go and killed the worker (its finalizer not run); now only a job-control
 * stop seen at every look for 2 s is a hold. */
static atomic_int *join_finis;
static atomic_int join_throttling;

static int busy_second_init(void *arg, void **state, pool_buf *err)
{
	(void)arg;
	(void)state;
	(void)err;
	if (atomic_fetch_add(&join_finis[1], 1) == 0)
		return 0;
	int64_t end = tl_now_ns() + (int64_t)3000 * 1000 * 1000;
	while (tl_now_ns() < end)
		syscall(SYS_getppid);
	return 0;
}

static void count_fini(void *state)
{
	(void)state;
	atomic_fetch_add(&join_finis[0], 1);
}

static void *throttle_workers(void *arg)
{
	pool *p = arg;
	while (atomic_load(&join_throttling)) {
		int pids[2], n = pool_worker_pids(p, pids, 2);
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGSTOP);
		usleep(30 * 1000);
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGCONT);
		usleep(30 * 1000);
	}
	return NULL;
}

static void join_throttled(double timeout)
{
	atomic_store(&join_finis[0], 0);
	atomic_store(&join_finis[1], 0);
	pool_options o = {.workers = 2, .init = busy_second_init, .fini = count_fini,
			  .timeout = timeout, .init_timeout = 30, .min_ready = 1};
	pool *p = pool_create(&o, NULL);
	assert_non_null(p);
	pool_close(p);
	atomic_store(&join_throttling, 1);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, throttle_workers, p), 0);
	alarm(60);
	assert_int_equal(pool_join(p), 0);
	alarm(0);
	atomic_store(&join_throttling, 0);
	pthread_join(t, NULL);
	int pids[2];
	for (int i = 0, n = pool_worker_pids(p, pids, 2); i < n; i++)
		kill(pids[i], SIGCONT);
	int finis = atomic_load(&join_finis[0]);
	pool_destroy(p);
	if (finis != 2)
		fail_msg("timeout %g: a throttled worker at work was killed when let go: %d of "
			 "2 finalizers ran", timeout, finis);
	tl_assert_no_children();
}

/* With any task timeout: none (its one look at 2 s was the old rule's), one
 * under the 2 s of looks, a long one. */
static void test_join_spares_throttled_workers_at_work(void **state)
{
	(void)state;
	join_finis = mmap(NULL, 2 * sizeof *join_finis, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(join_finis != MAP_FAILED);
	join_throttled(0);
	join_throttled(1.5);
	join_throttled(30);
	munmap(join_finis, 2 * sizeof *join_finis);
}

static pool *nested_pool;
static int nested_refused, nested_other;

static void call_back_in(pool_future *f, const pool_result *r, void *data)
{
	(void)f;
	(void)r;
	(void)data;
	job_arg a = J(B_SQUARE, 2);
	pool_result got;
	if (pool_apply(nested_pool, tl_task, &a, sizeof a, &got) == -1 &&
	    strstr(pool_error(nested_pool), "from one of the pool's own callbacks"))
		nested_refused++;
	else
		nested_other++;
	pool_result_release(&got);
	/* a map of tasks that are gone once it returns: refused before its job
	 * was made (one refused later went on reading them) */
	job_arg args[4];
	pool_task t[4];
	pool_result res[4];
	tl_square_tasks(args, t, 4);
	if (pool_map(nested_pool, tl_task, t, 4, 1, res) == -1 && res[3].worker == -1)
		nested_refused++;
	else
		nested_other++;
	for (int i = 0; i < 4; i++)
		pool_result_release(&res[i]);
	/* a poll: refused before it forgot what the outer call had finished */
	if (pool_poll(nested_pool, 0) == -1)
		nested_refused++;
	else
		nested_other++;
}

/* A pool call that waits, made from a completion callback: the nested turn read
 * the channel under the turn parsing its message, took a worker's next packet for
 * EOF (its tasks re-ran, the worker counted as crashed), and the outer turn then
 * charged a healthy task to the worker that replaced it. It is refused now, and
 * the pool goes on. */
static void test_a_call_that_waits_from_a_callback_is_refused(void **state)
{
	(void)state;
	enum { N = 60 };
	tl_reset_shared();
	nested_refused = nested_other = 0;
	pool *p = nested_pool = tl_make_pool(2, 0, -1, 0);
	job_arg args[N];
	pool_future *f[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(B_SQUARE, (uint64_t)i);
		f[i] = pool_apply_async(p, tl_task, &args[i], sizeof args[i],
					i % 5 ? NULL : call_back_in, NULL);
		assert_non_null(f[i]);
	}
	for (int i = 0; i < N; i++) {
		const pool_result *r = pool_future_get(f[i], 30);
		assert_non_null(r);
		tl_check_square(r, (uint64_t)i);
		pool_future_free(f[i]);
	}
	pool_stats st;
	pool_stats_get(p, &st);
	pool_destroy(p);
	assert_int_equal(nested_refused, 3 * N / 5);
	assert_int_equal(nested_other, 0);
	assert_int_equal((int)st.crashed, 0);
	assert_int_equal((int)st.reruns, 0);
	assert_int_equal((int)st.submitted, N); /* nothing refused ran */
}

static int exits_seen, exit_pid_twice, terminated_in_event;
static int exit_pids[64];

static void terminate_on_exit(const pool_event *e, void *data)
{
	if (e->kind != POOL_EV_EXIT)
		return;
	for (int i = 0; i < exits_seen && i < 64; i++)
		exit_pid_twice |= exit_pids[i] == e->pid;
	if (exits_seen < 64)
		exit_pids[exits_seen] = e->pid;
	exits_seen++;
	if (!terminated_in_event) {
		terminated_in_event = 1;
		pool_terminate(*(pool **)data);
	}
}

/* pool_terminate() from on_event, at a worker's EXIT: the event came before the
 * slot was emptied, so the terminate killed that pid again (long reaped: another
 * process may have its number by then), ended the worker a second time (a second
 * EXIT event for it) and took pool_stats.alive to -1. */
static void test_terminate_from_an_exit_event(void **state)
{
	(void)state;
	enum { N = 40 };
	tl_reset_shared();
	exits_seen = exit_pid_twice = terminated_in_event = 0;
	static pool *p;
	pool_options o = {.workers = 3, .retries = -1, .on_event = terminate_on_exit,
			  .event_data = &p};
	p = pool_create(&o, NULL);
	assert_non_null(p);
	job_arg args[N];
	pool_task t[N];
	pool_result r[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i == 5 ? B_SEGV : B_SLEEP_MS, (uint64_t)i);
		args[i].param = 20;
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	pool_map(p, tl_task, t, N, 1, r);
	for (int i = 0; i < N; i++)
		pool_result_release(&r[i]);
	pool_stats st;
	pool_stats_get(p, &st);
	pool_destroy(p);
	assert_int_equal(terminated_in_event, 1);
	assert_int_equal(exit_pid_twice, 0);
	assert_int_equal(exits_seen, 3);
	assert_int_equal(st.alive, 0);
	tl_assert_no_children();
}

/* pool_create() under a descriptor limit that leaves room for some of its
 * workers only: it broke no pool (one was ready) and waited for all of them, for
 * good. It returns with those, and pool_wait_ready() says why not all. */
static void test_create_with_room_for_some_workers(void **state)
{
	(void)state;
	tl_reset_shared();
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	int base = tl_count_fds();
	pool *p = NULL;
	int ready = 0;
	/* each worker takes a channel and a pidfd; the pool a few of its own */
	for (int extra = 3; extra <= 24 && !ready; extra++) {
		low = was;
		low.rlim_cur = (rlim_t)(base + extra);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
		pool_options o = {.workers = 6};
		char *err = NULL;
		int64_t t0 = tl_now_ns();
		alarm(60); /* it waited for good: SIGALRM ends the test */
		p = pool_create(&o, &err);
		alarm(0);
		double took = (double)(tl_now_ns() - t0) / 1e9;
		if (took > 20)
			fail_msg("pool_create took %.1f s", took);
		if (!p) {
			free(err);
			continue;
		}
		pool_stats st;
		pool_stats_get(p, &st);
		if (extra == 3 && st.alive == 6) {
			/* valgrind takes the limit and enforces none of it */
			pool_destroy(p);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
			print_message("the descriptor limit does not bind here (valgrind?)\n");
			skip();
		}
		ready = st.alive > 0 && st.alive < 6;
		if (ready) {
			tl_apply_square(p, 7);
			assert_int_equal(pool_wait_ready(p, 6), -1);
			assert_non_null(strstr(pool_error(p), "workers ready; starting more fails"));
			/* the limit raised, the same call gets them all (it gave up at
			 * once, for good, once starts had failed) */
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
			alarm(60);
			assert_int_equal(pool_wait_ready(p, 6), 0);
			alarm(0);
		}
		pool_destroy(p);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	assert_true(ready);
	tl_assert_no_children();
}

/* pidfd_open refused while this is set, as under valgrind, Linux before 5.3 or a
 * seccomp profile (the pool calls it through syscall(), which this test binary's
 * own definition takes the place of). */
static int refuse_pidfd;

long syscall(long n, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a[6];
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_pidfd_open && refuse_pidfd) {
		errno = ENOSYS;
		return -1;
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Fork a child that keeps the worker's end of the channel (as a helper program
 * started without exec would), then die. */
static int die_leaving_a_child(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg;
	(void)len;
	(void)out;
	(void)state;
	pid_t child = fork();
	if (child == 0) {
		sleep(60);
		_exit(0);
	}
	sh->victim_pid = child;
	raise(SIGKILL);
	return 1;
}

/* Without a pidfd a worker was reaped only once its channel closed: one that died
 * leaving a child holding the channel was never seen dead, and its task (whose
 * timeout never fired either: it had ended) had no answer while that child lived. */
static void test_a_death_is_seen_without_a_pidfd_while_a_child_holds_the_channel(void **state)
{
	(void)state;
	tl_reset_shared();
	refuse_pidfd = 1;
	pool_options o = {.workers = 1, .timeout = 30, .retries = -1};
	pool *p = pool_create(&o, NULL);
	refuse_pidfd = 0;
	assert_non_null(p);
	pool_result r;
	alarm(50); /* the child lives 60 s: before, it ended the test here */
	assert_int_equal(pool_apply(p, die_leaving_a_child, NULL, 0, &r), 0);
	alarm(0);
	if (sh->victim_pid > 0)
		kill(sh->victim_pid, SIGKILL);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_non_null(strstr(r.data, "SIGKILL"));
	pool_result_release(&r);
	tl_apply_square(p, 5); /* a new worker took its place */
	pool_destroy(p);
	tl_assert_no_children();
}

/* Task 0 writes stray bytes into its worker's channel (descriptor 3) and returns;
 * the others sleep a while and succeed. */
static int stray_bytes_or_sleep(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)len;
	(void)state;
	int i = *(const int *)arg;
	if (i == 0) {
		char junk[32];
		memset(junk, 'x', sizeof junk);
		if (write(3, junk, sizeof junk) < 0)
			return 1;
	} else {
		usleep(200 * 1000);
	}
	return pool_buf_printf(out, "task %d", i);
}

/* Stray bytes on a channel are the doing of a task that ran on that worker; the
 * one running when they were read (here the healthy task after the writer, which
 * returned at once, its result held a moment behind them) was charged: crashed,
 * with no retry. Now the writer alone is charged. */
static void test_stray_bytes_are_charged_to_the_task_that_wrote_them(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, -1, 0);
	int writer = 0, healthy = 1;
	pool_future *fw = pool_apply_async(p, stray_bytes_or_sleep, &writer, sizeof writer, NULL,
					   NULL);
	pool_future *fh = pool_apply_async(p, stray_bytes_or_sleep, &healthy, sizeof healthy,
					   NULL, NULL);
	assert_int_equal(pool_poll(p, 0), 0); /* both sent to the one worker */
	usleep(100 * 1000);
	const pool_result *rw = pool_future_get(fw, -1), *rh = pool_future_get(fh, -1);
	assert_int_equal(rw->status, POOL_CRASHED);
	assert_non_null(strstr(rw->data, "malformed message"));
	assert_int_equal(rh->status, POOL_OK);
	assert_string_equal(rh->data, "task 1");
	pool_future_free(fw);
	pool_future_free(fh);
	pool_destroy(p);
	tl_assert_no_children();
}

/* Stray bytes that begin like a message's header (the magic, a body of 4096):
 * the task's own result then reads as that body, and the rest never comes. */
static int stray_header(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)len;
	(void)state;
	wire_hdr h = {.magic = WIRE_MAGIC, .type = WIRE_RESULTS, .len = 4096};
	if (*(const int *)arg == 0 && write(3, &h, sizeof h) < 0)
		return 1;
	return pool_buf_printf(out, "task %d", *(const int *)arg);
}

/* The parent waited for the rest for good: no task was running, so no timeout
 * fired, and pool_apply() never returned. Now a message begun and not ended for
 * RX_STALL_NS while the worker runs no task is a malformed one. */
static void test_a_message_begun_and_never_ended_is_malformed(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, -1, 0);
	int writer = 0, healthy = 1;
	pool_result r;
	alarm(60); /* before, it ended the test here */
	assert_int_equal(pool_apply(p, stray_header, &writer, sizeof writer, &r), 0);
	alarm(0);
	assert_int_equal(r.status, POOL_CRASHED);
	assert_non_null(strstr(r.data, "a message begun and not ended"));
	pool_result_release(&r);
	assert_int_equal(pool_apply(p, stray_header, &healthy, sizeof healthy, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_string_equal(r.data, "task 1");
	pool_result_release(&r);
	pool_destroy(p);
	tl_assert_no_children();
}

/* A result larger than the channel's buffer: the worker blocks in its send until
 * the parent reads on. */
#define BIG_RESULT ((size_t)16 << 20)
static int big_result(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg;
	(void)len;
	(void)state;
	if (pool_buf_reserve(out, BIG_RESULT) < 0)
		return 1;
	memset(out->data, 'r', BIG_RESULT);
	out->len = BIG_RESULT;
	atomic_store(&sh->returning_pid, (int)getpid());
	return 0;
}

/* The caller away in its own work longer than RX_STALL_NS while a large result
 * was on its way (pool.h: that time counts, the workers run meanwhile): the
 * worker waited in its send for the parent to read on, the parent took that
 * for a message begun and never ended, and a healthy task crashed. Bytes that
 * wait to be read are the parent's delay, not the worker's. */
static void test_a_result_the_caller_was_away_for_is_no_stall(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, -1, 0);
	assert_int_equal(pool_wait_ready(p, 1), 0);
	pool_future *f = pool_apply_async(p, big_result, NULL, 0, NULL, NULL);
	assert_non_null(f);
	alarm(60);
	while (!atomic_load(&sh->returning_pid))
		assert_int_equal(pool_future_wait(f, 0.001), 0);
	usleep(100 * 1000);	/* it fills the channel's buffer, then waits */
	assert_int_equal(pool_future_wait(f, 0), 0); /* a turn: the first bytes read */
	sleep(11);		/* the caller at its own work */
	assert_int_equal(pool_future_wait(f, 60), 1);
	alarm(0);
	const pool_result *r = pool_future_get(f, 0);
	assert_non_null(r);
	assert_int_equal(r->status, POOL_OK);
	assert_int_equal(r->attempts, 1);
	assert_int_equal(r->len, BIG_RESULT);
	pool_future_free(f);
	pool_destroy(p);
	tl_assert_no_children();
}

static int init_slowly(void *arg, void **state, pool_buf *err)
{
	(void)arg;
	(void)state;
	(void)err;
	usleep(300 * 1000);
	return 0;
}

/* pool_wait_ready(p, 1) under a limit that leaves room for one worker, whose start
 * takes a while: the other slots' starts failed 3 times in a row before it was
 * ready, and the wait gave up ("only 0 of 1 workers ready") on a pool that
 * worked, while that one was still starting. */
static void test_wait_ready_waits_for_the_one_starting(void **state)
{
	(void)state;
	tl_reset_shared();
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	int base = tl_count_fds(), some = 0, refused = 0;
	char why[512] = "";
	for (int extra = 3; extra <= 24 && !some; extra++) {
		low = was;
		low.rlim_cur = (rlim_t)(base + extra);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
		pool_options o = {.workers = 4, .init = init_slowly, .min_ready = -1};
		char *err = NULL;
		pool *p = pool_create(&o, &err);
		if (!p) {
			free(err);
			continue;
		}
		alarm(60);
		int rc = pool_wait_ready(p, 1);
		alarm(0);
		pool_stats st;
		pool_stats_get(p, &st);
		if (st.alive == 4 && extra == 3) {
			pool_destroy(p);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
			print_message("the descriptor limit does not bind here (valgrind?)\n");
			skip();
		}
		some = st.alive > 0 && st.alive < 4;
		if (some && rc != 0) {
			refused = 1;
			snprintf(why, sizeof why, "%d alive: %s", (int)st.alive, pool_error(p));
		} else if (some) {
			tl_apply_square(p, 7);
		}
		pool_destroy(p);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	if (refused)
		fail_msg("pool_wait_ready(p, 1) with %s", why);
	assert_true(some);
	tl_assert_no_children();
}

static int init_fails_at_length(void *arg, void **state, pool_buf *err)
{
	(void)arg;
	(void)state;
	pool_buf_printf(err, "%s", "cannot open the model file");
	for (int i = 0; i < 5000; i++)
		pool_buf_append(err, ".", 1);
	return 1;
}

/* An initializer's error longer than the parent's read limit (max_message + 4096)
 * was a malformed message: 3 failed starts and not its words. */
static void test_a_long_initializer_error_breaks_at_once(void **state)
{
	(void)state;
	pool_options o = {.workers = 1, .init = init_fails_at_length, .max_message = 64};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	assert_null(p);
	assert_non_null(err);
	assert_true(!strncmp(err, "worker initializer failed: cannot open the model file", 53));
	free(err);
	tl_assert_no_children();
}

/* Workers stopped from outside as they start, past the initializer timeout: each
 * counted as a start that failed on its own, and three such stops broke the pool.
 * They count as kills from outside now, which it takes many more of. */
static void test_stops_while_starting_break_nothing(void **state)
{
	(void)state;
	tl_reset_shared();
	spawns_to_signal = 3;
	spawn_signal = SIGSTOP;
	/* A timeout too: on a loaded machine a worker may be ready before its SPAWN
	 * event is told, and one stopped then holds its task until replaced. */
	pool_options o = {.workers = 1, .init_timeout = 0.1, .timeout = 2,
			  .on_event = signal_new_workers};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	tl_apply_square(p, 5);
	pool_destroy(p);
	assert_int_equal(spawns_to_signal, 0);
	tl_assert_no_children();
}

/* pool_poll(p, -1) on a pool with nothing to run: "until something finishes or
 * nothing is left to run". Its first turn waited with no deadline, for good. */
static void test_a_poll_without_work_returns(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, -1, 0);
	alarm(60); /* it waited for good: SIGALRM ends the test */
	assert_int_equal(pool_poll(p, -1), 0);
	alarm(0);
	pool_destroy(p);
}

/* pool_terminate() from a feed, which pool.h allows: the item the feed gave back
 * as it returned was queued behind a killed worker and never answered, and the
 * iterator waited for ever. Every item given is answered now. */
static pool *feed_pool;
static int feed_calls;
static job_arg feed_args[16];

static int terminating_feed(void *data, pool_task *t)
{
	(void)data;
	if (++feed_calls == 3)
		pool_terminate(feed_pool);
	if (feed_calls > 10)
		return POOL_FEED_END;
	feed_args[feed_calls] = J(B_SQUARE, (uint64_t)feed_calls - 1);
	*t = (pool_task){&feed_args[feed_calls], sizeof feed_args[0]};
	return POOL_FEED_TASK;
}

static void test_terminate_from_a_feed(void **state)
{
	(void)state;
	tl_reset_shared();
	feed_calls = 0;
	feed_pool = tl_make_pool(2, 0, 0, 0);
	pool_iter *it = pool_imap(feed_pool, tl_task, terminating_feed, NULL, 1);
	assert_non_null(it);
	/* A map after it, its future freed: cancelled by the terminate, it is freed
	 * there, while the dispatch that called the feed stood on the job before it
	 * (a use after free, under ASan). */
	static job_arg margs[100];
	static pool_task mtasks[100];
	static pool_result mres[100];
	tl_square_tasks(margs, mtasks, 100);
	pool_future_free(pool_map_async(feed_pool, tl_task, mtasks, 100, 1, mres));
	alarm(60); /* it waited for good: SIGALRM ends the test */
	pool_result r;
	uint64_t n = 0;
	while (pool_iter_next(it, &r) == 1) {
		assert_true(r.index == n++);
		pool_result_release(&r);
	}
	alarm(0);
	assert_true(n == 3);
	pool_iter_free(it);
	pool_destroy(feed_pool);
	for (int i = 0; i < 100; i++)
		pool_result_release(&mres[i]);
	tl_assert_no_children();
}

/* A timeout of INFINITY or 1e10 s overflowed: the wait ended at once (0,
 * "timeout"), and pool_create() refused the start timeout as "-9.2e9 s". */
static void test_infinite_timeouts(void **state)
{
	(void)state;
	tl_reset_shared();
	pool_options o = {.workers = 1, .timeout = INFINITY, .init_timeout = 1e10};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	job_arg a = J(B_SLEEP_MS, 7);
	a.param = 100;
	pool_future *f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	assert_non_null(f);
	assert_int_equal(pool_future_wait(f, INFINITY), 1);
	assert_int_equal(pool_future_get(f, 1e10)->status, POOL_OK);
	pool_future_free(f);
	f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	assert_non_null(f);
	assert_int_equal(pool_future_wait(f, 1e300), 1);
	pool_future_free(f);
	pool_destroy(p);
	tl_assert_no_children();
}

/* One worker stopped from outside between tasks (SIGSTOP), then maps of 1 to 7
 * tasks (2: one task each, one left on the stopped one): an idle worker must take
 * back what waits there. alarm() is a hang guard, far from any wait of the pool. */
static void stopped_between_tasks(double timeout)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, timeout, 0, 0);
	tl_map_squares(p, 4);
	int pids[2];
	assert_int_equal(pool_worker_pids(p, pids, 2), 2);
	assert_int_equal(kill(pids[0], SIGSTOP), 0);
	alarm(20);
	for (int i = 1; i <= 7; i++)
		tl_map_squares(p, i);
	alarm(0);
	pool_stats st;
	pool_stats_get(p, &st);
	assert_true(st.taken_back >= 1);
	assert_int_equal(kill(pids[0], SIGCONT), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* In a pool without a task timeout, the one task sent to a worker stopped between
 * tasks before it was seen idle stayed there for ever while the other worker
 * idled. An idle worker takes it now. */
static void test_a_worker_stopped_between_tasks_keeps_no_task(void **state)
{
	(void)state;
	stopped_between_tasks(0);
}

/* The same with a task timeout (30 s): the idle worker takes the one task left
 * on the stopped one after IDLE_STUCK_NS (idle_wakeup()), not at the timeout. */
static void test_a_worker_stopped_between_tasks_with_a_timeout(void **state)
{
	(void)state;
	stopped_between_tasks(30);
}

/* Every worker stopped from outside between tasks, with a timeout: the task went
 * from one to the other every IDLE_STUCK_NS (each "idle"), none held it for the
 * timeout, none was seen stopped and replaced, and the caller waited for ever. A
 * stopped worker takes nothing back now: the one holding the task is replaced
 * after the timeout, and the task is answered. */
static void test_every_worker_stopped_between_tasks(void **state)
{
	(void)state;
	for (int workers = 2; workers <= 3; workers++) {
		tl_reset_shared();
		pool *p = tl_make_pool(workers, 1, -1, 0);
		int pids[3], n = pool_worker_pids(p, pids, 3);
		assert_int_equal(n, workers);
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGSTOP);
		job_arg a = J(B_SQUARE, 7);
		pool_future *f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
		assert_non_null(f);
		const pool_result *r = pool_future_get(f, 20);
		int answered = r && r->status == POOL_OK;
		pool_future_free(f);
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGCONT);
		pool_destroy(p);
		if (!answered)
			fail_msg("%d workers stopped: the task had no answer after 20 s", workers);
		tl_assert_no_children();
	}
}

/* The only idle worker stopped from outside at the moment the task waiting behind
 * a long one turns stuck (a debugger, a short SIGSTOP): it is given nothing then,
 * and the one wake-up planned for that moment had passed. Continued, it took the
 * task only once the long one ended (never, for one that hangs with no timeout).
 * The pool looks again while such a task waits. */
static void test_an_idle_worker_stopped_as_a_task_turns_stuck(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 0);
	job_arg warm[4];
	pool_task wt[4];
	pool_result wr[4];
	for (int i = 0; i < 4; i++) { /* 100 ms tasks: stuck after about 0.8 s */
		warm[i] = J(B_SLEEP_MS, 200 + (uint64_t)i);
		warm[i].param = 100;
		wt[i] = (pool_task){&warm[i], sizeof warm[i]};
	}
	assert_int_equal(pool_map(p, tl_task, wt, 4, 1, wr), 0);
	for (int i = 0; i < 4; i++)
		pool_result_release(&wr[i]);
	int pids[2];
	assert_int_equal(pool_worker_pids(p, pids, 2), 2);
	job_arg a[2] = {J(B_WAIT, 100), J(B_SLEEP_MS, 101)};
	a[1].param = 1;
	pool_task t[2] = {{&a[0], sizeof a[0]}, {&a[1], sizeof a[1]}};
	pool_result res[2] = {{0}};
	pool_future *f = pool_map_async(p, tl_task, t, 2, 2, res); /* one chunk: one worker */
	assert_non_null(f);
	while (!sh->waiting_pid)
		pool_future_get(f, 0.005);
	int other = pids[0] == sh->waiting_pid ? pids[1] : pids[0];
	kill(other, SIGSTOP);
	fflush(NULL);
	pid_t helper = fork();
	if (helper == 0) { /* continues it 1.5 s on, while the caller waits */
		usleep(1500000);
		kill(other, SIGCONT);
		_exit(0);
	}
	pool_future_get(f, 4.0); /* one wait, as a caller blocked on the future */
	int ran = sh->runs[101];
	waitpid(helper, NULL, 0);
	sh->release = 1;
	pool_future_get(f, 10);
	pool_future_free(f);
	pool_result_release(&res[0]);
	pool_result_release(&res[1]);
	pool_destroy(p);
	if (!ran)
		fail_msg("the task behind a waiting one was not run by the idle worker, "
			 "continued 2.5 s before");
}

/* pool_buf_reserve() on an empty buffer left its text unterminated. */
static void test_a_reserved_buffer_is_empty_text(void **state)
{
	(void)state;
	pool_buf b = {0};
	assert_int_equal(pool_buf_reserve(&b, 10), 0);
	assert_string_equal(b.data, "");
	pool_buf_release(&b);
}

static int fail_without_words(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg, (void)len, (void)out, (void)state;
	return -1;
}

/* A task that failed without a word gave POOL_ERROR with an empty message. */
static void test_an_error_without_words_says_so(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(1, 0, 0, 0);
	pool_result r;
	assert_int_equal(pool_apply(p, fail_without_words, NULL, 0, &r), 0);
	assert_int_equal(r.status, POOL_ERROR);
	assert_string_equal(r.data, "(no message)");
	pool_result_release(&r);
	pool_destroy(p);
}

static void host_sigchld(int sig)
{
	(void)sig;
}

/* SIGCHLD ignored when the pool came, then a handler of the host's own: the last
 * pool's end put SIG_IGN back over that handler. */
static void test_a_sigchld_handler_set_since_is_kept(void **state)
{
	(void)state;
	tl_reset_shared();
	struct sigaction ign = {.sa_handler = SIG_IGN}, mine = {.sa_handler = host_sigchld};
	struct sigaction old, now;
	sigemptyset(&ign.sa_mask);
	sigemptyset(&mine.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	pool *p = tl_make_pool(1, 0, 0, 0);
	tl_apply_square(p, 3);
	assert_int_equal(sigaction(SIGCHLD, &mine, NULL), 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	assert_int_equal(sigaction(SIGCHLD, &old, &now), 0);
	assert_true(now.sa_handler == host_sigchld);
}

/* A NULL function crashed every worker that took the task (POOL_CRASHED, twice);
 * a huge imap chunksize made a window of 2^32 results ("out of memory") or wrapped
 * to 256. The first is refused; the second is taken as 65536. */
static int sum_feed_left;

static int count_feed(void *data, pool_task *t)
{
	static job_arg a[64];
	(void)data;
	if (sum_feed_left <= 0)
		return POOL_FEED_END;
	sum_feed_left--;
	a[sum_feed_left] = J(B_SQUARE, (uint64_t)(63 - sum_feed_left));
	*t = (pool_task){&a[sum_feed_left], sizeof a[0]};
	return POOL_FEED_TASK;
}

static void test_null_functions_and_huge_chunks(void **state)
{
	(void)state;
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 0);
	job_arg a = J(B_SQUARE, 3);
	assert_null(pool_apply_async(p, NULL, &a, sizeof a, NULL, NULL));
	assert_non_null(strstr(pool_error(p), "no task function"));
	assert_null(pool_imap(p, tl_task, NULL, NULL, 1));
	const size_t huge[] = {(size_t)1 << 32, (size_t)1 << 62, SIZE_MAX};
	for (int k = 0; k < 3; k++) {
		sum_feed_left = 64;
		pool_iter *it = pool_imap(p, tl_task, count_feed, NULL, huge[k]);
		if (!it)
			fail_msg("chunksize %zu: %s", huge[k], pool_error(p));
		pool_result r;
		uint64_t n = 0;
		while (pool_iter_next(it, &r) == 1) {
			tl_check_square(&r, n++);
			pool_result_release(&r);
		}
		assert_true(n == 64);
		pool_iter_free(it);
	}
	tl_apply_square(p, 5);
	pool_destroy(p);
	tl_assert_no_children();
}

int main(int argc, char **argv)
{
	fini_pid = mmap(NULL, sizeof *fini_pid, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (fini_pid == MAP_FAILED)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_freed_map_future_then_every_ending),
		cmocka_unit_test(test_results_up_to_max_message_pass),
		cmocka_unit_test(test_join_with_standard_descriptors_closed),
		cmocka_unit_test(test_a_worker_stopped_while_it_retires_is_replaced),
		cmocka_unit_test(test_a_zero_timeout_still_drives_the_pool),
		cmocka_unit_test(test_cancel_after_a_crash_is_too_late),
		cmocka_unit_test(test_a_huge_max_message_does_not_wrap),
		cmocka_unit_test(test_a_crash_while_the_caller_is_away_is_a_crash),
		cmocka_unit_test(test_a_callers_forked_child_keeps_no_worker),
		cmocka_unit_test(test_a_reaping_sigchld_handler_makes_no_crashes),
		cmocka_unit_test(test_a_task_whose_result_cannot_be_sent_is_answered),
		cmocka_unit_test(test_join_while_a_worker_hangs_starting),
		cmocka_unit_test(test_join_with_a_stopped_worker_and_every_task_answered),
		cmocka_unit_test(test_join_spares_throttled_workers_at_work),
		cmocka_unit_test(test_a_call_that_waits_from_a_callback_is_refused),
		cmocka_unit_test(test_terminate_from_an_exit_event),
		cmocka_unit_test(test_create_with_room_for_some_workers),
		cmocka_unit_test(test_wait_ready_waits_for_the_one_starting),
		cmocka_unit_test(test_stray_bytes_are_charged_to_the_task_that_wrote_them),
		cmocka_unit_test(test_a_message_begun_and_never_ended_is_malformed),
		cmocka_unit_test(test_a_result_the_caller_was_away_for_is_no_stall),
		cmocka_unit_test(test_a_death_is_seen_without_a_pidfd_while_a_child_holds_the_channel),
		cmocka_unit_test(test_a_long_initializer_error_breaks_at_once),
		cmocka_unit_test(test_stops_while_starting_break_nothing),
		cmocka_unit_test(test_a_poll_without_work_returns),
		cmocka_unit_test(test_terminate_from_a_feed),
		cmocka_unit_test(test_infinite_timeouts),
		cmocka_unit_test(test_a_worker_stopped_between_tasks_keeps_no_task),
		cmocka_unit_test(test_a_worker_stopped_between_tasks_with_a_timeout),
		cmocka_unit_test(test_every_worker_stopped_between_tasks),
		cmocka_unit_test(test_an_idle_worker_stopped_as_a_task_turns_stuck),
		cmocka_unit_test(test_a_reserved_buffer_is_empty_text),
		cmocka_unit_test(test_an_error_without_words_says_so),
		cmocka_unit_test(test_a_sigchld_handler_set_since_is_kept),
		cmocka_unit_test(test_a_workers_number_given_to_a_callers_child),
		cmocka_unit_test(test_a_reaping_sigchld_handler_and_killed_starts),
		cmocka_unit_test(test_null_functions_and_huge_chunks),
	};
	return tl_run("pool_edges", argc, argv, tests, sizeof tests / sizeof *tests);
}
