/* SPDX-License-Identifier: MIT */
/*
 * test_pool_contract.c — each promise of pool.h on its own: failed starts and the
 * backoff, breaking (and what every call then says), the refusals' messages, NULL,
 * empty arguments, what `attempts` counts, no task waiting behind a stuck one, the
 * initializer timeout, pool_create returning at the first ready worker, the ABI
 * rules, pool_wait_any and pool_future_cancel, pool_join with an unread
 * iterator, and the fork gate for the caller's own threads. The same promises under random kills are in test_pool_churn.c.
 *
 * No assertion here is on how long something took, except lower bounds the pool
 * promises (a backoff waits at least so long), which a slow machine cannot break.
 * Where a test needs "X happens while Y waits", Y waits for a flag the test sets
 * (B_WAIT), and a generous watchdog turns a hang into a failure with a cause.
 *
 * Usage: test_pool_contract [NAME-GLOB]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool_testlib.h"

#define WATCHDOG 60.0 /* seconds: only a hang gets near it */

/* ------------------------------------------------------------------------- */
/* Events                                                                     */

#define MAX_EV 64
static pool_event evs[MAX_EV];
static char ev_causes[MAX_EV][320];
static int nev;

static void record(const pool_event *e, void *data)
{
	(void)data;
	if (nev < MAX_EV) {
		evs[nev] = *e;
		snprintf(ev_causes[nev], sizeof ev_causes[nev], "%s", e->cause ? e->cause : "");
		evs[nev].cause = ev_causes[nev];
		nev++;
	}
}

/* A pool of workers with o's options, the initializer tl_init() unless o names
 * one, every event recorded. */
static pool *init_pool(int workers, pool_options o)
{
	o.workers = workers;
	o.init = o.init ? o.init : tl_init;
	o.on_event = record;
	nev = 0;
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	return p;
}

static void assert_contains(const char *s, const char *part)
{
	if (!s || !strstr(s, part))
		fail_msg("\"%s\" lacks \"%s\"", s ? s : "(null)", part);
}

/* ------------------------------------------------------------------------- */
/* Starting workers                                                           */

/* A worker that dies while it starts is replaced after a backoff; the pool breaks
 * only after 3 failed starts in a row, with the last cause, and no more tries. */
static void test_failed_starts_are_retried_with_backoff(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_crash_first, 2);
	pool *p = init_pool(1, (pool_options){0});
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.failed_starts == 2);
	assert_true(s.crashed == 0);
	/* spawn, exit, spawn, exit, spawn: the gaps are the backoff, 10 then 20 ms. */
	int64_t exit_at = 0;
	int failed = 0;
	for (int i = 0; i < nev; i++) {
		if (evs[i].kind == POOL_EV_EXIT) {
			assert_true(evs[i].while_starting);
			assert_contains(evs[i].cause, "killed by signal 11 (SIGSEGV) while starting");
			exit_at = evs[i].at_ns;
			failed++;
		} else if (evs[i].kind == POOL_EV_SPAWN && exit_at) {
			assert_true(evs[i].at_ns - exit_at >= (int64_t)failed * 10000000);
			exit_at = 0;
		}
	}
	assert_int_equal(failed, 2);
	tl_apply_square(p, 4);
	pool_destroy(p);
	tl_assert_no_children();

	/* Three in a row: no pool, the last cause, and no fourth try. */
	for (int workers = 1; workers <= 2; workers++) {
		tl_reset_shared();
		atomic_store(&sh->init_crash_first, 1000);
		pool_options o = {.workers = workers, .init = tl_init};
		char *err = NULL;
		assert_null(pool_create(&o, &err));
		assert_contains(err, "3 workers in a row failed to start; the last: worker ");
		assert_contains(err, "killed by signal 11 (SIGSEGV) while starting");
		free(err);
		/* Three, and no storm: with two workers the other may be starting too. */
		int inits = atomic_load(&sh->inits);
		assert_true(inits >= 3 && inits <= 2 + workers);
		tl_assert_no_children();
	}
}

/* Failed starts of other slots while one worker is still starting break nothing:
 * under a process limit with room for one worker, -j4's three other first forks
 * failed at once, and the pool broke with that worker about to be ready. Here
 * the first start is slow and every later one crashes: the pool goes on with the
 * one worker. */
static void test_failed_starts_wait_for_a_worker_still_starting(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_slow_first_ms, 300);
	atomic_store(&sh->init_crash_after, 1);
	pool *p = init_pool(4, (pool_options){0});
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.failed_starts >= 3);
	tl_apply_square(p, 8);
	atomic_store(&sh->init_crash_after, 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* An initializer that returns an error breaks the pool at once. */
static void test_initializer_error_breaks_at_once(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_fail_after, -1); /* every run fails */
	pool_options o = {.workers = 2, .init = tl_init};
	char *err = NULL;
	assert_null(pool_create(&o, &err));
	assert_string_equal(err, "worker initializer failed: cannot open the model file");
	free(err);
	assert_true(atomic_load(&sh->inits) <= 2); /* the first two, no respawn */
	tl_assert_no_children();

	/* The state reaches the tasks; an initializer that starts failing on respawn
	 * breaks the pool with its message instead of looping. */
	tl_reset_shared();
	atomic_store(&sh->init_fail_after, 1);
	pool *p = init_pool(1, (pool_options){0});
	pool_result r;
	job_arg a = J(B_SQUARE, 3);
	assert_int_equal(pool_apply(p, tl_state_task, &a, sizeof a, &r), 0);
	void *got;
	memcpy(&got, r.data, sizeof got);
	assert_ptr_equal(got, (void *)0x1234);
	pool_result_release(&r);
	a = J(B_SEGV, 5);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), -1);
	assert_null(r.data);
	const char *broken = "broken: worker initializer failed: cannot open the model file";
	assert_string_equal(pool_error(p), broken);
	assert_int_equal(pool_get_state(p), POOL_BROKEN);
	assert_int_equal(atomic_load(&sh->inits), 2);
	pool_destroy(p);
	tl_assert_no_children();
}

/* A hung initializer is a failed start after init_timeout (default: the task
 * timeout). */
static void test_initializer_timeout(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_hang_first, 1);
	pool *p = init_pool(1, (pool_options){.init_timeout = 0.2});
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.failed_starts == 1);
	assert_int_equal(evs[1].kind, POOL_EV_EXIT);
	assert_true(evs[1].while_starting);
	assert_contains(evs[1].cause, "not ready after 0.2 s (initializer timeout)");
	assert_true(evs[1].at_ns - evs[0].at_ns >= 200000000);
	pool_destroy(p);

	/* The task timeout covers it when init_timeout is left 0. */
	tl_reset_shared();
	atomic_store(&sh->init_hang_first, 1);
	p = init_pool(1, (pool_options){.timeout = 0.3});
	pool_stats_get(p, &s);
	assert_true(s.failed_starts == 1);
	assert_contains(evs[1].cause, "not ready after 0.3 s");
	pool_destroy(p);

	/* Always hangs: three failed starts. */
	tl_reset_shared();
	atomic_store(&sh->init_hang_first, 1000);
	pool_options o = {.workers = 1, .init = tl_init, .init_timeout = 0.1};
	char *err = NULL;
	assert_null(pool_create(&o, &err));
	assert_contains(err, "3 workers in a row failed to start");
	assert_contains(err, "(initializer timeout)");
	free(err);
	tl_assert_no_children();
}

/* The killer of test_killed_starts_are_replaced: kills each worker seen in its
 * initializer (held there), SIGKILL and SIGTERM in turn, target times; then lets
 * the next one start, and waits to be stopped. */
typedef struct start_killer {
	pthread_t thread;
	_Atomic int stop;
	_Atomic int kills;
	int target;
} start_killer;

static void *kill_starting(void *arg)
{
	start_killer *k = arg;
	int last = 0;
	while (!atomic_load(&k->stop) && atomic_load(&k->kills) < k->target) {
		int pid = atomic_load(&sh->init_pid);
		if (pid && pid != last && kill(pid, atomic_load(&k->kills) % 2 ? SIGTERM : SIGKILL) == 0) {
			last = pid;
			atomic_fetch_add(&k->kills, 1);
		}
		usleep(200);
	}
	atomic_store(&sh->init_hold, 0);
	while (!atomic_load(&k->stop))
		usleep(1000);
	return NULL;
}

/* Workers killed from outside while they start (an operator's kill, a scheduler's
 * TERM, a killer that watches for new pids) say nothing of whether workers can
 * start: 8 in a row are replaced and cost no task, where 3 crashes in a row break
 * the pool (test_failed_starts_are_retried_with_backoff). */
static void test_killed_starts_are_replaced(void **state)
{
	tl_reset_shared();
	pool *p = init_pool(1, (pool_options){0});
	start_killer k = {.target = 8};
	atomic_store(&sh->init_hold, 1); /* every initializer after the first waits */
	tl_thread_start(&k.thread, kill_starting, &k);
	/* The crash makes the first replacement, the killer the next seven. */
	pool_result r;
	job_arg a = J(B_SEGV, 1);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	pool_result_release(&r);
	a = J(B_SQUARE, 7);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, 7);
	pool_result_release(&r);
	atomic_store(&k.stop, 1);
	pthread_join(k.thread, NULL);
	assert_int_equal(atomic_load(&k.kills), 8);
	assert_int_equal(pool_get_state(p), POOL_RUNNING);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.failed_starts == 8);
	int killed = 0;
	for (int i = 0; i < nev; i++)
		killed += evs[i].kind == POOL_EV_EXIT && evs[i].while_starting;
	assert_int_equal(killed, 8);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();

	/* Killed every time: not forever. The 20th in a row breaks the pool, with the
	 * cause (about 13 s of backoff). */
	tl_reset_shared();
	p = init_pool(1, (pool_options){0});
	start_killer forever = {.target = 1000};
	atomic_store(&sh->init_hold, 1);
	tl_thread_start(&forever.thread, kill_starting, &forever);
	a = J(B_SEGV, 1); /* its retry waits for a worker that never starts */
	int rc = pool_apply(p, tl_task, &a, sizeof a, &r);
	atomic_store(&forever.stop, 1); /* before any assertion: the next tests start workers */
	pthread_join(forever.thread, NULL);
	assert_int_equal(rc, -1);
	assert_contains(pool_error(p), "broken: 20 workers in a row were killed while starting");
	assert_int_equal(atomic_load(&forever.kills), 20);
	pool_destroy(p);
	tl_assert_no_children();
}

/* A worker ready and thumbnailing while another slot cannot start (a descriptor
 * or process limit others hold): the pool goes on with the one, trying the
 * slot again every second, and takes the second once it starts. It broke after
 * 3 failed starts in a row, killing the busy worker's task. */
static void test_failed_starts_beside_a_ready_worker_keep_the_pool(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_crash_after, 1); /* the first starts, the rest crash */
	pool *p = init_pool(2, (pool_options){.min_ready = 1});
	pool_stats s;
	int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
	enum { N = 40 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result res[N];
	tl_square_tasks(args, t, N);
	do { /* tasks all along, while the second slot fails again and again */
		assert_int_equal(pool_map(p, tl_task, t, N, 1, res), 0);
		for (int i = 0; i < N; i++) {
			tl_check_square(&res[i], (uint64_t)i);
			pool_result_release(&res[i]);
		}
		pool_stats_get(p, &s);
		assert_true(tl_now_ns() < give_up);
	} while (s.failed_starts < 5);
	assert_int_equal(pool_get_state(p), POOL_RUNNING);
	atomic_store(&sh->init_crash_after, 0); /* the limit is lifted */
	do {
		assert_int_equal(pool_poll(p, 50), 0);
		pool_stats_get(p, &s);
		assert_true(tl_now_ns() < give_up);
	} while (s.alive < 2 || atomic_load(&sh->inits) < (int)s.failed_starts + 2);
	assert_int_equal(pool_map(p, tl_task, t, N, 1, res), 0);
	for (int i = 0; i < N; i++)
		pool_result_release(&res[i]);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

/* min_ready: pool_create returns once that many workers are ready; the others
 * start while tasks run, and a failure among them breaks the pool later. */
static void test_create_returns_at_first_ready_worker(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_hold, 1); /* every initializer but the first waits */
	pool *p = init_pool(2, (pool_options){.min_ready = 1});
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	pool_result r;
	job_arg a = J(B_PID, 1);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	pool_result_release(&r);
	/* The second is still in its initializer, waiting. */
	int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
	while (!atomic_load(&sh->init_pid))
		assert_true(tl_now_ns() < give_up);
	atomic_store(&sh->init_hold, 0);
	tl_map_squares(p, 200);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);

	/* The second initializer fails after pool_create returned. */
	tl_reset_shared();
	atomic_store(&sh->init_fail_after, 1);
	atomic_store(&sh->init_hold, 1);
	p = init_pool(2, (pool_options){.min_ready = 1});
	a = J(B_SQUARE, 2);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, 2);
	pool_result_release(&r);
	atomic_store(&sh->init_hold, 0);
	assert_int_equal(pool_poll(p, -1), -1);
	assert_string_equal(pool_error(p),
			    "broken: worker initializer failed: cannot open the model file");
	pool_destroy(p);
	tl_assert_no_children();
}

/* min_ready < 0: pool_create returns once the workers are forked, and
 * pool_wait_ready() is the wait it would have made, one a signal handler's
 * pool_interrupt() ends: a stop while the workers take long to start (stopped
 * from outside, say) waited for their start to time out, or for ever. */
static int hold_every_init(void *arg, void **state, pool_buf *err)
{
	while (atomic_load(&sh->init_hold))
		usleep(1000);
	return tl_init(arg, state, err);
}

static pool *volatile to_interrupt;

static void interrupt_on_alarm(int sig)
{
	(void)sig;
	pool_interrupt(to_interrupt);
}

static void test_wait_ready_of_a_create_that_does_not_wait(void **state)
{
	tl_reset_shared();
	atomic_store(&sh->init_hold, 1);
	pool *p = init_pool(2, (pool_options){.min_ready = -1, .init = hold_every_init});
	pool_stats s;
	pool_stats_get(p, &s);
	assert_int_equal(s.alive, 2);
	assert_int_equal(pool_get_state(p), POOL_RUNNING);
	struct sigaction sa = {.sa_handler = interrupt_on_alarm}, old;
	sigaction(SIGALRM, &sa, &old);
	to_interrupt = p;
	struct itimerval in50ms = {.it_value = {0, 50000}};
	setitimer(ITIMER_REAL, &in50ms, NULL);
	int64_t t0 = tl_now_ns();
	assert_int_equal(pool_wait_ready(p, 1), -1);
	assert_string_equal(pool_error(p), "interrupted");
	assert_true(tl_now_ns() - t0 < (int64_t)(WATCHDOG * 1e9));
	sigaction(SIGALRM, &old, NULL);
	atomic_store(&sh->init_hold, 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);

	/* Nothing in the way: n ready (0: all), then tasks as ever. */
	tl_reset_shared();
	p = init_pool(2, (pool_options){.min_ready = -1});
	assert_int_equal(pool_wait_ready(p, 0), 0);
	assert_int_equal(pool_wait_ready(p, 5), 0); /* more than it has: all */
	tl_apply_square(p, 3);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);

	/* A failing initializer: the cause pool_create would have given. */
	tl_reset_shared();
	atomic_store(&sh->init_fail_after, -1); /* every run fails */
	p = init_pool(2, (pool_options){.min_ready = -1});
	assert_int_equal(pool_wait_ready(p, 1), -1);
	assert_string_equal(pool_error(p),
			    "broken: worker initializer failed: cannot open the model file");
	pool_destroy(p);
	assert_int_equal(pool_wait_ready(NULL, 1), -1);
	tl_assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* Breaking, and what calls say                                               */

typedef struct feed_state {
	uint64_t next, n;
	uint64_t bad;     /* index of the task that crashes (with SIGSEGV) */
	job_arg a;
} feed_state;

static int feed(void *data, pool_task *t)
{
	feed_state *f = data;
	if (f->next >= f->n)
		return 0;
	f->a = J(f->next == f->bad ? B_SEGV : B_SQUARE, f->next);
	f->next++;
	*t = (pool_task){&f->a, sizeof f->a};
	return 1;
}

/* After a break, iterators end with -1, never 0, once what was delivered (each
 * unfinished task cancelled "broken: ...") was taken; every call refuses. */
static void test_break_ends_iterations_with_minus_one(void **state)
{
	const char *broken = "broken: worker initializer failed: cannot open the model file";
	for (int ordered = 0; ordered < 2; ordered++) {
		tl_reset_shared();
		atomic_store(&sh->init_fail_after, 2); /* the first two start, no more */
		/* The tasks after the crash wait for the break, however slow the respawn
		 * that breaks the pool (valgrind on a loaded machine): else the other
		 * worker may finish them all first, and there is nothing to break. */
		atomic_store(&sh->hold_above, 100);
		pool *p = init_pool(2, (pool_options){0});
		feed_state f = {.n = 5000, .bad = 100};
		pool_iter *it = ordered ? pool_imap(p, tl_task, feed, &f, 1)
					: pool_imap_unordered(p, tl_task, feed, &f, 1);
		assert_non_null(it);
		static unsigned char seen[5000];
		memset(seen, 0, sizeof seen);
		pool_result r;
		int rc;
		uint64_t got = 0;
		while ((rc = pool_iter_next(it, &r)) == 1) {
			assert_true(r.index < 5000);
			assert_int_equal(seen[r.index], 0);
			seen[r.index] = 1;
			got++;
			if (r.status == POOL_OK) {
				tl_check_square(&r, r.index);
			} else if (r.status == POOL_CRASHED) {
				/* The crashing task, when its retry ran (and crashed) on the
				 * other worker before the break. */
				assert_true(r.index == f.bad);
				assert_contains(r.data, "SIGSEGV");
			} else {
				assert_int_equal(r.status, POOL_CANCELLED);
				assert_string_equal(r.data, broken);
				/* the crashing task, when its retry waited for the break:
				 * its attempt names its worker, as any started one */
				assert_true(r.attempts ? r.worker >= 0 && r.pid > 0 && r.start_ns > 0
						       : r.worker == -1 && r.pid == 0);
			}
			pool_result_release(&r);
		}
		assert_int_equal(rc, -1);
		assert_string_equal(pool_error(p), broken);
		assert_true(f.next < 5000);  /* the feed was not read to its end */
		assert_true(got == f.next);  /* every task it gave answered, once */
		/* Again: still -1, never 0. */
		assert_int_equal(pool_iter_next(it, &r), -1);
		pool_iter_free(it);

		/* Every call now refuses with the cause. */
		job_arg a = J(B_SQUARE, 1);
		assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
		assert_string_equal(pool_error(p), broken);
		pool_result one;
		assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &one), -1);
		pool_task t = {&a, sizeof a};
		assert_int_equal(pool_map(p, tl_task, &t, 1, 1, &one), -1);
		pool_result_release(&one);
		assert_null(pool_imap(p, tl_task, feed, &f, 1));
		assert_int_equal(pool_poll(p, 0), -1);
		pool_close(p);
		assert_int_equal(pool_join(p), -1);
		assert_string_equal(pool_error(p), broken);
		pool_destroy(p);
		tl_assert_no_children();
	}

	/* pool_map: -1, and every result filled. */
	tl_reset_shared();
	atomic_store(&sh->init_fail_after, 2);
	atomic_store(&sh->hold_above, 50); /* as above */
	pool *p = init_pool(2, (pool_options){0});
	enum { N = 3000 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result res[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i == 50 ? B_SEGV : B_SQUARE, (uint64_t)i);
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	assert_int_equal(pool_map(p, tl_task, t, N, 1, res), -1);
	assert_string_equal(pool_error(p), broken);
	for (int i = 0; i < N; i++) {
		assert_true(res[i].index == (uint64_t)i);
		if (res[i].status == POOL_OK)
			tl_check_square(&res[i], (uint64_t)i);
		else if (i == 50 && res[i].status == POOL_CRASHED)
			assert_contains(res[i].data, "SIGSEGV");
		else if (res[i].status != POOL_CANCELLED || strcmp(res[i].data, broken))
			fail_msg("result %d: status %d: %s", i, (int)res[i].status,
				 res[i].data ? res[i].data : "");
		pool_result_release(&res[i]);
	}
	pool_destroy(p);
}

/* "closed", "interrupted", "terminated", "broken: <cause>": one each, as
 * pool_error() and as pool_get_state(). */
static void test_refusals_say_why(void **state)
{
	tl_reset_shared();
	job_arg a = J(B_SQUARE, 1);
	pool_task t = {&a, sizeof a};
	pool_result r;
	feed_state f = {.n = 1, .bad = ~0ull};

	pool *p = tl_make_pool(1, 0, 0, 0);
	assert_int_equal(pool_get_state(p), POOL_RUNNING);
	pool_close(p);
	assert_int_equal(pool_get_state(p), POOL_CLOSED);
	assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
	assert_string_equal(pool_error(p), "closed");
	assert_int_equal(pool_map(p, tl_task, &t, 1, 1, &r), -1);
	assert_string_equal(pool_error(p), "closed");
	assert_null(pool_imap_unordered(p, tl_task, feed, &f, 1));
	assert_string_equal(pool_error(p), "closed");
	assert_null(pool_map_async(p, tl_task, &t, 1, 1, &r));
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);

	p = tl_make_pool(1, 0, 0, 0);
	pool_interrupt(p);
	assert_int_equal(pool_get_state(p), POOL_INTERRUPTED);
	assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
	assert_string_equal(pool_error(p), "interrupted");
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), -1);
	assert_string_equal(pool_error(p), "interrupted");
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);

	p = tl_make_pool(1, 0, 0, 0);
	pool_terminate(p);
	assert_int_equal(pool_get_state(p), POOL_TERMINATED);
	assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
	assert_string_equal(pool_error(p), "terminated");
	assert_null(pool_imap(p, tl_task, feed, &f, 1));
	assert_string_equal(pool_error(p), "terminated");
	assert_int_equal(pool_join(p), 0); /* as Python: terminate() then join() */
	pool_destroy(p);

	atomic_store(&sh->init_fail_after, 1);
	p = init_pool(1, (pool_options){0});
	job_arg segv = J(B_SEGV, 2);
	assert_int_equal(pool_apply(p, tl_task, &segv, sizeof segv, &r), -1);
	assert_int_equal(pool_get_state(p), POOL_BROKEN);
	assert_null(pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL));
	assert_string_equal(pool_error(p),
			    "broken: worker initializer failed: cannot open the model file");
	pool_destroy(p);
	tl_assert_no_children();
}

/* Every function takes NULL for its handle. */
static void test_null_is_harmless(void **state)
{
	pool_result r = {0};
	pool_stats s;
	int pids[4];
	size_t idx;
	pool_buf_release(NULL);
	assert_int_equal(pool_buf_append(NULL, "x", 1), -1);
	assert_int_equal(pool_buf_reserve(NULL, 1), -1);
	assert_int_equal(pool_buf_printf(NULL, "%d", 1), -1);
	pool_result_release(NULL);
	pool_close(NULL);
	assert_int_equal(pool_join(NULL), -1);
	pool_terminate(NULL);
	pool_interrupt(NULL);
	assert_int_equal(pool_interrupted(NULL), 0);
	pool_destroy(NULL);
	assert_string_equal(pool_error(NULL), "no pool");
	assert_int_equal(pool_get_state(NULL), POOL_BROKEN);
	assert_int_equal(pool_workers(NULL), 0);
	assert_int_equal(pool_poll(NULL, 0), -1);
	assert_null(pool_apply_async(NULL, tl_task, NULL, 0, NULL, NULL));
	assert_int_equal(pool_apply(NULL, tl_task, NULL, 0, &r), -1);
	assert_int_equal(pool_future_ready(NULL), 0);
	assert_int_equal(pool_future_successful(NULL), 0);
	assert_int_equal(pool_future_wait(NULL, 0), -1);
	assert_null(pool_future_get(NULL, 0));
	assert_int_equal(pool_future_take(NULL, &r), -1);
	assert_int_equal(pool_future_cancel(NULL), -1);
	pool_future_free(NULL);
	assert_int_equal(pool_wait_any(NULL, 0, 0, &idx), -1);
	pool_future *none[2] = {NULL, NULL};
	assert_int_equal(pool_wait_any(none, 2, 0, &idx), -1);
	assert_int_equal(pool_map(NULL, tl_task, NULL, 0, 0, NULL), -1);
	assert_null(pool_map_async(NULL, tl_task, NULL, 0, 0, NULL));
	assert_null(pool_imap(NULL, tl_task, feed, NULL, 0));
	assert_null(pool_imap_unordered(NULL, tl_task, feed, NULL, 0));
	assert_int_equal(pool_iter_next(NULL, &r), -1);
	assert_int_equal(pool_iter_next_timed(NULL, &r, 0), -1);
	pool_iter_free(NULL);
	pool_stats_get(NULL, &s);
	assert_int_equal(s.workers, 0);
	pool_stats_get(NULL, NULL);
	assert_int_equal(pool_worker_pids(NULL, pids, 4), 0);
}

/* An empty argument (NULL, 0) is a task like any other (no memcpy from NULL: the
 * UBSan build checks). */
static int empty_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	return pool_buf_printf(out, "%s %zu", arg ? "arg" : "null", len);
}

static int empty_feed(void *data, pool_task *t)
{
	int *left = data;
	if (!*left)
		return 0;
	--*left;
	*t = (pool_task){NULL, 0};
	return 1;
}

static void test_empty_argument(void **state)
{
	pool *p = tl_make_pool(1, 0, 0, 0);
	pool_result r;
	assert_int_equal(pool_apply(p, empty_task, NULL, 0, &r), 0);
	assert_int_equal(r.status, POOL_OK);
	assert_string_equal(r.data, "arg 0"); /* a worker sees an empty, valid argument */
	pool_result_release(&r);
	pool_task t[3] = {{NULL, 0}, {"x", 0}, {NULL, 0}};
	pool_result res[3];
	assert_int_equal(pool_map(p, empty_task, t, 3, 1, res), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(res[i].status, POOL_OK);
		pool_result_release(&res[i]);
	}
	int left = 3;
	pool_iter *it = pool_imap(p, empty_task, empty_feed, &left, 1);
	int n = 0;
	while (pool_iter_next(it, &r) == 1) {
		assert_int_equal(r.status, POOL_OK);
		pool_result_release(&r);
		n++;
	}
	assert_int_equal(n, 3);
	pool_iter_free(it);
	pool_destroy(p);
}

/* A task that kills its own worker with SIGKILL, as the OOM killer would. */
static int sigkill_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)arg, (void)len, (void)out, (void)state;
	raise(SIGKILL);
	return 0;
}

/* Run sigkill_task once without retries; its result's term_signal. */
static int killed_task_signal(pool *p)
{
	pool_result r;
	assert_int_equal(pool_apply(p, sigkill_task, NULL, 0, &r), 0);
	assert_int_equal(r.status, POOL_CRASHED);
	int sig = r.term_signal;
	pool_result_release(&r);
	return sig;
}

/* With SIGCHLD ignored on entry (a parent's SIG_IGN or SA_NOCLDWAIT, kept through
 * exec) the kernel reaped the workers itself: waitpid() said ECHILD and a worker
 * killed by SIGKILL was reported as having exited with status 0 (term_signal 0:
 * a crash of its own). pool_create() sets SIGCHLD back to SIG_DFL; ignored again
 * behind the pool's back, an end it cannot know is -1, not 0. */
static void test_sigchld_ignored_keeps_exit_statuses(void **state)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old, now;
	sigemptyset(&ign.sa_mask);
	for (int flags = 0; flags < 2; flags++) {
		struct sigaction given = ign;
		if (flags) { /* SIG_DFL with SA_NOCLDWAIT: the flag alone has the effect */
			given.sa_handler = SIG_DFL;
			given.sa_flags = SA_NOCLDWAIT;
		}
		assert_int_equal(sigaction(SIGCHLD, &given, &old), 0);
		pool *p = tl_make_pool(1, 0, -1, 0);
		assert_non_null(p);
		assert_int_equal(killed_task_signal(p), SIGKILL);
		assert_int_equal(sigaction(SIGCHLD, NULL, &now), 0);
		assert_true(now.sa_handler == SIG_DFL && !(now.sa_flags & SA_NOCLDWAIT));
		/* ignored again while the pool runs: not known, never "exited 0" */
		assert_int_equal(sigaction(SIGCHLD, &given, NULL), 0);
		assert_int_equal(killed_task_signal(p), -1);
		pool_destroy(p);
		/* the last pool gone, what it found is given back */
		assert_int_equal(sigaction(SIGCHLD, NULL, &now), 0);
		assert_true(now.sa_handler == given.sa_handler &&
			    (now.sa_flags & SA_NOCLDWAIT) == (given.sa_flags & SA_NOCLDWAIT));
		assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
	}
	tl_assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* attempts, and running at least once                                        */

/* A crash re-runs the tasks its worker had finished but not answered; attempts
 * counts every start, and only the crashed task is charged. */
static void test_attempts_count_every_start(void **state)
{
	tl_reset_shared();
	pool *p = init_pool(1, (pool_options){.retries = 1});
	long reruns = 0;
	for (int rep = 0; rep < 20; rep++) {
		/* One message of three: two quick tasks, then one that crashes once. */
		uint64_t base = (uint64_t)rep * 3;
		job_arg a[3] = {J(B_ECHO, base), J(B_ECHO, base + 1),
				{B_CRASH_ONCE, 0, base + 2}};
		pool_task t[3];
		pool_result r[3];
		for (int i = 0; i < 3; i++)
			t[i] = (pool_task){&a[i], sizeof a[i]};
		assert_int_equal(pool_map(p, tl_task, t, 3, 3, r), 0);
		for (int i = 0; i < 3; i++) {
			uint64_t k = base + (uint64_t)i;
			assert_int_equal(r[i].status, POOL_OK);
			assert_int_equal(r[i].attempts, atomic_load(&sh->begun[k]));
			assert_int_equal(atomic_load(&sh->runs[k]), i == 2 ? 1 : r[i].attempts);
			if (i < 2)
				reruns += r[i].attempts - 1;
			pool_result_release(&r[i]);
		}
		assert_int_equal(atomic_load(&sh->begun[base + 2]), 2);
	}
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.retried == 20);      /* the crashed task, charged once each time */
	assert_true(s.reruns == (uint64_t)reruns);
	/* The two quick tasks finish well inside the 1 ms a worker holds results: at
	 * least once in 20 the crash caught them unsent. */
	assert_true(reruns > 0);
	int retries = 0;
	for (int i = 0; i < nev; i++)
		retries += evs[i].kind == POOL_EV_RETRY;
	assert_int_equal(retries, 20);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* No task waits behind a stuck one                                            */

/* Tasks 1..n-1 are quick; task 0 waits for sh->release. All the quick ones must be
 * answered while it waits, whatever was sent ahead with it, and each runs once. */
static void stuck_imap(int prefetch, size_t chunksize)
{
	tl_reset_shared();
	pool *p = init_pool(2, (pool_options){.prefetch = prefetch});
	enum { N = 201 };
	static job_arg args[N];
	static pool_task t[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i ? B_SQUARE : B_WAIT, (uint64_t)i);
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	static pool_result res[N];
	pool_future *f = pool_map_async(p, tl_task, t, N, chunksize, res);
	int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
	for (int i = 1; i < N; i++)
		while (res[i].status == POOL_PENDING) {
			if (tl_now_ns() > give_up)
				fail_msg("prefetch %d, chunksize %zu: task %d waited behind a stuck "
					 "one", prefetch, chunksize, i);
			assert_true(pool_poll(p, 0.05) >= 0);
		}
	assert_false(pool_future_ready(f));
	atomic_store(&sh->release, 1);
	assert_int_equal(pool_future_wait(f, -1), 1);
	pool_future_free(f);
	for (int i = 0; i < N; i++) {
		if (i)
			tl_check_square(&res[i], (uint64_t)i);
		assert_int_equal(atomic_load(&sh->begun[i]), 1);
		assert_int_equal(res[i].attempts, 1);
		pool_result_release(&res[i]);
	}
	assert_int_equal(atomic_load(&sh->overlap), 0);
	pool_destroy(p);
}

static void test_no_task_waits_behind_a_stuck_one(void **state)
{
	stuck_imap(0, 1);   /* automatic prefetch */
	stuck_imap(0, 3);   /* ... the stuck task's chunk holds two more */
	stuck_imap(4, 1);   /* a fixed prefetch */
	stuck_imap(-1, 1);  /* none */

	/* apply_async, taken as they complete, while the first waits. */
	tl_reset_shared();
	pool *p = init_pool(2, (pool_options){0});
	enum { N = 51 };
	static pool_future *fs[N];
	static job_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i ? B_SQUARE : B_WAIT, (uint64_t)i);
		fs[i] = pool_apply_async(p, tl_task, &args[i], sizeof args[i], NULL, NULL);
	}
	pool_future *waiting = fs[0];
	fs[0] = NULL;
	for (int left = N - 1; left; left--) {
		size_t i;
		if (pool_wait_any(fs, N, WATCHDOG, &i) != 1)
			fail_msg("a quick future waited behind a stuck one");
		tl_check_square(pool_future_get(fs[i], 0), i);
		pool_future_free(fs[i]);
		fs[i] = NULL;
	}
	assert_false(pool_future_ready(waiting));
	atomic_store(&sh->release, 1);
	assert_non_null(pool_future_get(waiting, -1));
	pool_future_free(waiting);
	pool_stats s;
	pool_stats_get(p, &s);
	printf("# taken back: %llu\n", (unsigned long long)s.taken_back);
	pool_destroy(p);
}

/* A worker stopped from outside (SIGSTOP) while idle, then handed a task: it never
 * started it, so no task's timeout began and the caller waited for ever. After the
 * timeout with nothing started it is replaced, and the task runs on the new worker,
 * charged nothing (its first attempt). */
static void test_a_stopped_idle_worker_is_replaced(void **state)
{
	tl_reset_shared();
	pool *p = init_pool(1, (pool_options){.timeout = 1, .retries = 0});
	tl_apply_square(p, 3);
	int pid = 0;
	assert_int_equal(pool_worker_pids(p, &pid, 1), 1);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	job_arg b = J(B_SQUARE, 5);
	pool_future *f = pool_apply_async(p, tl_task, &b, sizeof b, NULL, NULL);
	assert_non_null(f);
	const pool_result *got = pool_future_get(f, WATCHDOG);
	kill(pid, SIGCONT); /* if it still lives, let it go */
	if (!got)
		fail_msg("a task held by a stopped worker never finished");
	tl_check_square(got, 5);
	int seen = 0;
	for (int i = 0; i < nev; i++)
		seen |= evs[i].kind == POOL_EV_EXIT && strstr(evs[i].cause, "stopped from outside");
	assert_true(seen);
	pool_future_free(f);
	pool_destroy(p);
}

/* A worker stopped from outside when the work is done: pool_join let it go and
 * waited for it to exit, for ever (a second Ctrl-C included). It is killed after the
 * task timeout, or at once after a stop (pool_interrupt) with no timeout. An alarm
 * turns a hang into a failure. */
static void join_past_a_stopped_worker(double timeout, int interrupt)
{
	tl_reset_shared();
	pool *p = init_pool(1, (pool_options){.timeout = timeout});
	job_arg a = J(B_SQUARE, 4);
	pool_result r;
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	pool_result_release(&r);
	int pid = 0;
	assert_int_equal(pool_worker_pids(p, &pid, 1), 1);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	pool_close(p);
	if (interrupt)
		pool_interrupt(p);
	alarm((unsigned)WATCHDOG);
	assert_int_equal(pool_join(p), 0);
	alarm(0);
	kill(pid, SIGCONT);
	int seen = 0;
	for (int i = 0; i < nev; i++)
		seen |= evs[i].kind == POOL_EV_EXIT && strstr(evs[i].cause, "did not exit");
	assert_true(seen);
	pool_destroy(p);
}

static void test_join_past_a_stopped_worker(void **state)
{
	join_past_a_stopped_worker(1, 0);	/* the task timeout */
	join_past_a_stopped_worker(0, 1);	/* no timeout, a stop asked */
}

/* ------------------------------------------------------------------------- */
/* ABI                                                                        */

static void test_abi_sizes_and_version(void **state)
{
	assert_int_equal(pool_version(), POOL_VERSION);
	assert_int_equal(POOL_VERSION / 10000, POOL_VERSION_MAJOR);
	/* Frozen within the major version: new fields take the reserved space. */
	assert_int_equal(sizeof(pool_result), 96);
	assert_int_equal(sizeof(pool_stats), 152);

	/* A caller built with the 1.0 options (they ended at event_data): the fields
	 * after are not read, whatever the memory holds. */
	pool_options o;
	memset(&o, 0x7f, sizeof o);
	memset(&o, 0, offsetof(pool_options, init_timeout));
	o.workers = 1;
	char *err = NULL;
	pool *p = pool_create_sized(&o, offsetof(pool_options, init_timeout), &err);
	assert_non_null(p);
	pool_result r;
	job_arg a = J(B_SQUARE, 6);
	assert_int_equal(pool_apply(p, tl_task, &a, sizeof a, &r), 0);
	tl_check_square(&r, 6);
	assert_int_equal(r.term_signal, 0);
	assert_int_equal(r.reserved_int, 0);
	for (int i = 0; i < 2; i++)
		assert_true(r.reserved[i] == 0);
	pool_result_release(&r);
	pool_stats s;
	pool_stats_get(p, &s);
	for (int i = 0; i < 5; i++)
		assert_true(s.reserved[i] == 0);
	pool_destroy(p);

	/* A caller built with a newer header: fine while what we do not know is 0. */
	struct {
		pool_options o;
		uint64_t later;
	} newer;
	memset(&newer, 0, sizeof newer);
	newer.o.workers = 1;
	p = pool_create_sized(&newer.o, sizeof newer, &err);
	assert_non_null(p);
	pool_destroy(p);
	newer.later = 1;
	assert_null(pool_create_sized(&newer.o, sizeof newer, &err));
	assert_contains(err, "newer pool.h");
	free(err);
	/* The function behind the macro. */
	p = (pool_create)(&newer.o, NULL);
	assert_non_null(p);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* wait_any / as_completed, cancel                                            */

static void test_wait_any(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 0);
	enum { N = 6 };
	pool_future *fs[N];
	job_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i ? B_SQUARE : B_WAIT, (uint64_t)i);
		fs[i] = pool_apply_async(p, tl_task, &args[i], sizeof args[i], NULL, NULL);
	}
	/* as_completed over all but the waiting one. */
	int seen[N] = {0};
	for (int k = 1; k < N; k++) {
		size_t i = N;
		assert_int_equal(pool_wait_any(fs, N, WATCHDOG, &i), 1);
		assert_true(i >= 1 && i < N);
		assert_int_equal(seen[i]++, 0);
		tl_check_square(pool_future_get(fs[i], 0), i);
		pool_future_free(fs[i]);
		fs[i] = NULL;
	}
	size_t i = N;
	assert_int_equal(pool_wait_any(fs, N, 0, &i), 0); /* only the waiting one left */
	assert_int_equal(pool_wait_any(fs, N, 0.05, &i), 0);
	assert_int_equal(i, N);
	atomic_store(&sh->release, 1);
	assert_int_equal(pool_wait_any(fs, N, -1, &i), 1);
	assert_int_equal(i, 0);
	pool_future_free(fs[0]);
	fs[0] = NULL;
	assert_int_equal(pool_wait_any(fs, N, -1, &i), -1); /* nothing left to wait for */
	pool_destroy(p);
}

static int cancel_callbacks;

static void on_cancelled(pool_future *f, const pool_result *r, void *data)
{
	(void)f;
	(void)data;
	assert_int_equal(r->status, POOL_CANCELLED);
	assert_string_equal(r->data, "cancelled");
	cancel_callbacks++;
}

/* Wait until task index i has started. */
static void wait_started(pool *p, uint64_t i)
{
	int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
	while (!atomic_load(&sh->begun[i])) {
		assert_true(tl_now_ns() < give_up);
		assert_true(pool_poll(p, 0.01) >= 0);
	}
}

/* A one-worker pool running one B_WAIT task (started): *f its future, *pid its
 * worker. */
static pool *one_waiting_task(pool_options o, pool_future **f, int *pid)
{
	tl_reset_shared();
	pool *p = init_pool(1, o);
	job_arg a = J(B_WAIT, 0);
	*f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	assert_non_null(*f);
	wait_started(p, 0);
	assert_int_equal(pool_worker_pids(p, pid, 1), 1);
	return p;
}

/* A worker that dies from outside (sig) while the running tasks may finish after
 * a stop: its task was failed (crash, "attempts 1": a later run skipped a good
 * file as failed before) though it would have been retried. It is cancelled; only
 * with no retry left is it the crash it was. */
static void death_after_a_stop(int sig, int retries, pool_status want)
{
	pool_future *f;
	int pid = 0;
	pool *p = one_waiting_task((pool_options){.retries = retries}, &f, &pid);
	pool_interrupt(p);
	assert_int_equal(kill(pid, sig), 0);
	const pool_result *r = pool_future_get(f, WATCHDOG);
	if (!r)
		fail_msg("no answer after the worker died");
	if (r->status != want)
		fail_msg("signal %d, retries %d: status %d (%s), not %d", sig, retries,
			 (int)r->status, r->data ? r->data : "", (int)want);
	pool_future_free(f);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
}

static void test_a_death_after_a_stop_cancels_what_would_run_again(void **state)
{
	death_after_a_stop(SIGKILL, 1, POOL_CANCELLED);
	death_after_a_stop(SIGSEGV, 1, POOL_CANCELLED);
	death_after_a_stop(SIGSEGV, -1, POOL_CRASHED); /* no retry */
}

/* A worker stopped from outside in the middle of a task, then a stop asked: the
 * pool waited for that task until its timeout (and failed it as timed out), or for
 * ever without one. The task is cancelled at once. An alarm turns a hang into a
 * failure. */
static void stopped_mid_task_then_a_stop(double timeout)
{
	pool_future *f;
	int pid = 0;
	pool *p = one_waiting_task((pool_options){.timeout = timeout, .retries = 1}, &f, &pid);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	pool_interrupt(p);
	alarm((unsigned)WATCHDOG);
	const pool_result *r = pool_future_get(f, WATCHDOG);
	alarm(0);
	kill(pid, SIGCONT);
	if (!r)
		fail_msg("a task of a stopped worker held the stop");
	assert_int_equal(r->status, POOL_CANCELLED); /* not POOL_TIMEOUT */
	pool_future_free(f);
	pool_close(p);
	alarm((unsigned)WATCHDOG);
	assert_int_equal(pool_join(p), 0);
	alarm(0);
	pool_destroy(p);
	tl_assert_no_children();
}

static void test_a_stopped_worker_does_not_hold_a_stop(void **state)
{
	stopped_mid_task_then_a_stop(0);
	stopped_mid_task_then_a_stop(8);
}

static pool *continued_pool;

static void on_continue(int sig)
{
	(void)sig;
	pool_continued(continued_pool);
}

/* Is process pid asleep in poll() (its wchan)? */
static int in_poll(pid_t pid)
{
	char path[64], buf[64] = "";
	snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "poll") != NULL;
}

/* fork() a child in a process group of its own (set on both sides, so that
 * either may signal the group first); the shared counters reset. */
static pid_t fork_in_a_group(void)
{
	tl_reset_shared();
	fflush(NULL);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		setpgid(0, 0);
	else
		setpgid(child, child);
	return child;
}

/* The pool hears of SIGCONT (pool_continued() from the handler). */
static void tell_pool_of_continues(pool *p)
{
	continued_pool = p;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_continue;
	sigaction(SIGCONT, &sa, NULL);
}

/* Task 0: 0.4 s of the worker's own CPU time. */
static pool_future *spin_task_0(pool *p)
{
	job_arg a = J(B_SPIN_MS, 0);
	a.param = 400;
	return pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
}

/* The child's group is stopped: keep it so 6 s (longer than its tasks' 5 s
 * timeout), continue it, and see the child exit 0. */
static void continue_the_group_later(pid_t child)
{
	struct timespec stop = {6, 0};
	while (nanosleep(&stop, &stop) < 0 && errno == EINTR)
		;
	assert_int_equal(kill(-child, SIGCONT), 0);
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A child drives a pool in a process group of its own, one task of 0.4 s of work
 * with a 5 s timeout (room for a loaded machine under valgrind, where the busy
 * child and other tests share the cores with the worker); this test stops that
 * group for 6 s and continues it. The
 * task must end POOL_OK. busy: the child spins 50 ms between looks at the pool
 * (where the stop mostly finds it) and tells the pool of SIGCONT; otherwise it
 * waits in the pool. */
static void group_stop_of_a_child(int busy)
{
	pid_t child = fork_in_a_group();
	if (child == 0) {
		pool *p = init_pool(1, (pool_options){.timeout = 5, .retries = -1});
		if (busy)
			tell_pool_of_continues(p);
		pool_future *f = spin_task_0(p);
		int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
		while (busy && f && !pool_future_ready(f) && tl_now_ns() < give_up) {
			pool_poll(p, 0);
			tl_spin_ms(50);
			/* A system call that may block, as real work makes (I/O): valgrind
			 * runs a signal's handler only at one, so without it the SIGCONT
			 * handler ran after the pool's next turn had judged the timeout. */
			sched_yield();
		}
		const pool_result *r = f ? pool_future_get(f, busy ? 0 : WATCHDOG) : NULL;
		int ok = r && r->status == POOL_OK;
		if (!ok)
			printf("# child: %s\n", r && r->data ? r->data : "no result");
		fflush(stdout);
		pool_future_free(f);
		pool_destroy(p);
		_exit(ok ? 0 : 1);
	}
	int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
	while (!atomic_load(&sh->begun[0])) {
		assert_true(tl_now_ns() < give_up);
		usleep(1000);
	}
	usleep(100 * 1000);
	/* Waiting in the pool: in its poll(), as the kernel says (under valgrind the
	 * child may still be on its way there after 100 ms). */
	while (!busy && !in_poll(child)) {
		assert_true(tl_now_ns() < give_up);
		usleep(1000);
	}
	assert_int_equal(kill(-child, SIGSTOP), 0);
	continue_the_group_later(child);
}

/* The pool's own process stopped with its workers (Ctrl-Z stops the whole group)
 * for longer than the timeout, while it waits in the pool: the first turn after
 * it killed the running task as timed out. */
static void test_time_the_pool_was_stopped_is_no_tasks(void **state)
{
	group_stop_of_a_child(0);
}

/* The same stop finding the caller busy outside the pool: poll() saw no
 * oversleep, so only the caller's SIGCONT handler, through pool_continued(), can
 * say what the time was. */
static void test_a_stop_outside_the_pool_is_no_tasks_either(void **state)
{
	group_stop_of_a_child(1);
}

/* A result's callback, which runs inside the pool's turn, stops the caller's whole
 * group (as a Ctrl-Z landing there would). */
static void stop_my_group(pool_future *f, const pool_result *r, void *data)
{
	(void)f;
	(void)r;
	(void)data;
	kill(0, SIGSTOP);
}

/* A stop that lands inside the pool's turn, after its poll() came back: the turn's
 * end counted as "the loop last ran", so the caller's pool_continued() credited
 * nothing and the task running through the stop timed out. Task 0 (0.4 s of work,
 * 5 s timeout) runs on one worker; an echo on the other stops the group from its
 * callback; this test continues it 6 s later. */
static void test_a_stop_inside_a_turn_is_no_tasks_either(void **state)
{
	pid_t child = fork_in_a_group();
	if (child == 0) {
		pool *p = init_pool(2, (pool_options){.timeout = 5, .retries = -1, .prefetch = -1});
		tell_pool_of_continues(p);
		pool_future *f = spin_task_0(p);
		int64_t give_up = tl_now_ns() + (int64_t)(WATCHDOG * 1e9);
		while (!atomic_load(&sh->begun[0]) && tl_now_ns() < give_up)
			pool_poll(p, 0.01);
		job_arg e = J(B_ECHO, 1);
		pool_future *g = pool_apply_async(p, tl_task, &e, sizeof e, stop_my_group, NULL);
		const pool_result *r = f ? pool_future_get(f, WATCHDOG) : NULL;
		int ok = r && r->status == POOL_OK && g && pool_future_get(g, WATCHDOG);
		if (!ok)
			printf("# child: %s\n", r && r->data ? r->data : "no result");
		fflush(stdout);
		pool_future_free(f);
		pool_future_free(g);
		pool_destroy(p);
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	assert_int_equal(waitpid(child, &status, WUNTRACED), child);
	assert_true(WIFSTOPPED(status));
	continue_the_group_later(child);
}

/* A caller that looks in rarely (pool_poll(p, 0) every 0.4 s) gives a hung task
 * no grace: its worker ran all along. Counting the caller's absence as lost
 * time let such a task outlive its timeout for ever. */
static void test_a_rare_caller_still_times_out_a_hung_task(void **state)
{
	tl_reset_shared();
	pool *p = init_pool(1, (pool_options){.timeout = 1, .retries = -1});
	job_arg a = J(B_HANG, 0);
	pool_future *f = pool_apply_async(p, tl_task, &a, sizeof a, NULL, NULL);
	assert_non_null(f);
	int64_t t0 = tl_now_ns();
	while (!pool_future_ready(f)) {
		if (tl_now_ns() - t0 > (int64_t)10e9)
			fail_msg("a hung task outlived its 1 s timeout by 9 s");
		assert_true(pool_poll(p, 0) >= 0);
		usleep(400 * 1000);
	}
	const pool_result *r = pool_future_get(f, 0);
	assert_non_null(r);
	assert_int_equal(r->status, POOL_TIMEOUT);
	pool_future_free(f);
	pool_destroy(p);
}

static void test_cancel_a_future_not_started(void **state)
{
	tl_reset_shared();
	cancel_callbacks = 0;
	pool *p = tl_make_pool(1, 0, 0, 0);
	job_arg w = J(B_WAIT, 0), e1 = J(B_ECHO, 1), e2 = J(B_ECHO, 2);
	pool_future *f0 = pool_apply_async(p, tl_task, &w, sizeof w, NULL, NULL);
	pool_future *f1 = pool_apply_async(p, tl_task, &e1, sizeof e1, on_cancelled, NULL);
	pool_future *f2 = pool_apply_async(p, tl_task, &e2, sizeof e2, on_cancelled, NULL);
	wait_started(p, 0);
	/* f1 was sent ahead to the worker (taken back to cancel it); f2 may still be
	 * queued in the parent. */
	assert_int_equal(pool_future_cancel(f1), 1);
	assert_true(pool_future_ready(f1));
	assert_int_equal(pool_future_get(f1, 0)->status, POOL_CANCELLED);
	assert_int_equal(pool_future_get(f1, 0)->attempts, 0);
	assert_int_equal(pool_future_cancel(f2), 1);
	assert_int_equal(cancel_callbacks, 2);
	assert_int_equal(pool_future_cancel(f1), 0); /* already ready */
	assert_int_equal(pool_future_cancel(f0), 0); /* running */

	/* A map not started yet: every result cancelled. */
	enum { N = 10 };
	job_arg args[N];
	pool_task t[N];
	pool_result res[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(B_ECHO, (uint64_t)(10 + i));
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	pool_future *m = pool_map_async(p, tl_task, t, N, 1, res);
	assert_int_equal(pool_poll(p, 0), 0);
	assert_int_equal(pool_future_cancel(m), 1);
	assert_true(pool_future_ready(m));
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].status, POOL_CANCELLED);
		assert_string_equal(res[i].data, "cancelled");
		pool_result_release(&res[i]);
	}
	pool_future_free(m);

	atomic_store(&sh->release, 1);
	assert_non_null(pool_future_get(f0, -1));
	assert_true(pool_future_successful(f0));
	assert_int_equal(pool_future_cancel(f0), 0); /* finished */
	/* None of the cancelled ones ever started. */
	assert_int_equal(atomic_load(&sh->begun[1]) + atomic_load(&sh->begun[2]), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(atomic_load(&sh->begun[10 + i]), 0);
	pool_future_free(f0);
	pool_future_free(f1);
	pool_future_free(f2);

	/* Once a task of a map has started, cancel changes nothing. */
	m = pool_map_async(p, tl_task, t, N, 1, res);
	wait_started(p, 10);
	assert_int_equal(pool_future_cancel(m), 0);
	assert_int_equal(pool_future_wait(m, -1), 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].status, POOL_OK);
		pool_result_release(&res[i]);
	}
	pool_future_free(m);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* join                                                                       */

/* pool_join runs an open iterator's feed to its end even when nobody reads it
 * (beyond its usual window); its results are still there afterwards. */
static void test_join_drains_an_unread_iterator(void **state)
{
	tl_reset_shared();
	pool *p = tl_make_pool(2, 0, 0, 0);
	feed_state f = {.n = 6000, .bad = ~0ull};
	pool_iter *it = pool_imap(p, tl_task, feed, &f, 1);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	assert_true(f.next == 6000);
	pool_result r;
	uint64_t k = 0;
	int rc;
	while ((rc = pool_iter_next(it, &r)) == 1) {
		assert_true(r.index == k);
		tl_check_square(&r, k);
		pool_result_release(&r);
		k++;
	}
	assert_int_equal(rc, 0);
	assert_true(k == 6000);
	pool_iter_free(it);
	pool_destroy(p);
	tl_assert_no_children();
}

/* ------------------------------------------------------------------------- */
/* A feed that waits for input: POOL_FEED_LATER                                */

/* Tasks read from a pipe, one byte each (its value is the task's), without ever
 * blocking: POOL_FEED_LATER when nothing is readable. */
typedef struct pipe_feed {
	int fd;
	int calls, later;
	job_arg arg;
} pipe_feed;

static int pipe_feed_next(void *data, pool_task *t)
{
	pipe_feed *f = data;
	f->calls++;
	unsigned char c;
	ssize_t n = read(f->fd, &c, 1);
	if (n == 0)
		return POOL_FEED_END;
	if (n < 0) {
		assert_true(errno == EAGAIN);
		f->later++;
		return POOL_FEED_LATER;
	}
	f->arg = J(B_SQUARE, c);
	*t = (pool_task){&f->arg, sizeof f->arg};
	return POOL_FEED_TASK;
}

/* Each task given is sent and answered while the feed has nothing more (the writer
 * waits for each answer before it writes the next), the pool neither spins on the
 * feed nor holds a task back; the end of input ends the iteration. With the
 * descriptor given, and without (asked again every ~10 ms). */
static void test_feed_later(void **state)
{
	for (int watch = 1; watch >= 0; watch--) {
		tl_reset_shared();
		pool *p = tl_make_pool(2, 0, 0, 0);
		int fds[2];
		assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
		pipe_feed f = {.fd = fds[0]};
		pool_iter *it = pool_imap_unordered(p, tl_task, pipe_feed_next, &f, 1);
		assert_non_null(it);
		if (watch)
			pool_iter_wait_fd(it, fds[0]);
		pool_result r;
		/* Nothing written: no result, and the feed is not asked in a loop. */
		assert_int_equal(pool_iter_next_timed(it, &r, 0.2), 2);
		assert_true(f.later >= 1);
		assert_true(watch ? f.calls <= 3 : f.calls <= 40);
		for (unsigned char v = 1; v <= 5; v++) {
			assert_int_equal(write(fds[1], &v, 1), 1);
			/* answered while nothing more is written (no timing asserted: a
			 * held-back task would never come) */
			assert_int_equal(pool_iter_next_timed(it, &r, 30.0), 1);
			tl_check_square(&r, v);
			pool_result_release(&r);
		}
		int before = f.calls;
		assert_int_equal(pool_iter_next_timed(it, &r, 0.1), 2);
		assert_true(watch ? f.calls - before <= 3 : f.calls - before <= 25);
		close(fds[1]);
		assert_int_equal(pool_iter_next_timed(it, &r, 5.0), 0); /* the end */
		pool_iter_free(it);
		close(fds[0]);
		pool_close(p);
		assert_int_equal(pool_join(p), 0);
		pool_destroy(p);
		tl_assert_no_children();
	}
}

/* ------------------------------------------------------------------------- */
/* Threads beside the pool                                                     */

/* A lock of the caller's, taken by its threads (inside the fork gate) and by every
 * worker's initializer: a worker forked while a thread held it would wait in its
 * initializer until the init timeout, a failed start. */
static pthread_mutex_t beside_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int beside_stop;
static atomic_long beside_rounds;

static void *beside_thread(void *arg)
{
	size_t size = (size_t)(uintptr_t)arg;
	while (!atomic_load(&beside_stop)) {
		pool_nofork_begin();
		pthread_mutex_lock(&beside_lock);
		void *m[8];
		for (int i = 0; i < 8; i++)
			m[i] = malloc(size << i); /* the allocator's locks too */
		for (int i = 0; i < 8; i++)
			free(m[i]);
		pthread_mutex_unlock(&beside_lock);
		fflush(stdout); /* a stdio lock, as spawn() holds them across fork */
		pool_nofork_end();
		atomic_fetch_add(&beside_rounds, 1);
		sched_yield(); /* valgrind runs one thread at a time and would let this
				* one keep the CPU, the driving thread shut out */
	}
	return NULL;
}

static int init_takes_the_lock(void *arg, void **state, pool_buf *err)
{
	(void)arg;
	(void)err;
	pthread_mutex_lock(&beside_lock);
	free(malloc(4096));
	pthread_mutex_unlock(&beside_lock);
	*state = NULL;
	return 0;
}

/* Two workers whose initializer takes beside_lock, a start allowed 5 s (a
 * worker forked holding the lock fails its start). */
static pool *pool_taking_the_lock(void)
{
	return init_pool(2, (pool_options){.init = init_takes_the_lock, .init_timeout = 5});
}

static void *echo_arg(void *arg)
{
	free(malloc(100)); /* the allocator, as a real thread's first steps */
	return arg;
}

/* pool_thread_start() runs fn(arg) in a new thread and leaves the gate as it found
 * it: threads started just before pool_create() (as a caller starts its helpers)
 * never cost a worker its start, and a pool made after they ended still forks
 * (a gate left held would make it wait for ever). */
static void test_thread_start(void **state)
{
	(void)state;
	for (int round = 0; round < 10; round++) {
		tl_reset_shared();
		pthread_t th[2];
		int marks[2];
		for (int i = 0; i < 2; i++)
			tl_thread_start(&th[i], echo_arg, &marks[i]);
		pool *p = pool_taking_the_lock();
		job_arg a[4];
		pool_task t[4];
		pool_result r[4];
		for (int i = 0; i < 4; i++) {
			a[i] = J(B_ECHO, (uint64_t)i);
			t[i] = (pool_task){&a[i], sizeof a[i]};
		}
		assert_int_equal(pool_map(p, tl_task, t, 4, 1, r), 0);
		for (int i = 0; i < 4; i++)
			pool_result_release(&r[i]);
		pool_stats s;
		pool_stats_get(p, &s);
		assert_true(s.failed_starts == 0);
		for (int i = 0; i < 2; i++) {
			void *got = NULL;
			assert_int_equal(pthread_join(th[i], &got), 0);
			assert_ptr_equal(got, &marks[i]);
		}
		pool_destroy(p);
		tl_assert_no_children();
	}
}

/* Two threads of the parent allocate and take a lock of their own without pause,
 * inside pool_nofork_begin/end, while the pool replaces a worker after every other
 * task: no worker is ever forked holding either (no failed start, every task
 * answered), and the threads are never shut out for good (they make progress). */
static void test_threads_beside_the_pool(void **state)
{
	tl_reset_shared();
	atomic_store(&beside_stop, 0);
	atomic_store(&beside_rounds, 0);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		tl_thread_start(&th[i], beside_thread, (void *)(uintptr_t)(24 + 1000 * i));
	pool *p = pool_taking_the_lock();
	enum { N = 300 };
	static job_arg args[N];
	static pool_task t[N];
	static pool_result r[N];
	for (int i = 0; i < N; i++) {
		args[i] = J(i % 2 ? B_EXIT3 : B_ECHO, (uint64_t)i);
		t[i] = (pool_task){&args[i], sizeof args[i]};
	}
	long before = atomic_load(&beside_rounds);
	int rc = pool_map(p, tl_task, t, N, 1, r);
	for (int i = 0; rc && i < nev; i++)
		if (evs[i].kind == POOL_EV_EXIT && evs[i].while_starting)
			print_message("failed start: %s\n", evs[i].cause);
	assert_int_equal(rc, 0);
	pool_stats s;
	pool_stats_get(p, &s);
	atomic_store(&beside_stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].status, i % 2 ? POOL_CRASHED : POOL_OK);
		pool_result_release(&r[i]);
	}
	assert_true(s.failed_starts == 0);
	assert_true(s.respawned >= N / 2);
	assert_true(atomic_load(&beside_rounds) > before);
	pool_destroy(p);
	tl_assert_no_children();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	static const struct CMUnitTest all[] = {
		cmocka_unit_test(test_failed_starts_are_retried_with_backoff),
		cmocka_unit_test(test_failed_starts_wait_for_a_worker_still_starting),
		cmocka_unit_test(test_initializer_error_breaks_at_once),
		cmocka_unit_test(test_initializer_timeout),
		cmocka_unit_test(test_killed_starts_are_replaced),
		cmocka_unit_test(test_failed_starts_beside_a_ready_worker_keep_the_pool),
		cmocka_unit_test(test_create_returns_at_first_ready_worker),
		cmocka_unit_test(test_wait_ready_of_a_create_that_does_not_wait),
		cmocka_unit_test(test_break_ends_iterations_with_minus_one),
		cmocka_unit_test(test_refusals_say_why),
		cmocka_unit_test(test_null_is_harmless),
		cmocka_unit_test(test_empty_argument),
		cmocka_unit_test(test_sigchld_ignored_keeps_exit_statuses),
		cmocka_unit_test(test_attempts_count_every_start),
		cmocka_unit_test(test_no_task_waits_behind_a_stuck_one),
		cmocka_unit_test(test_a_stopped_idle_worker_is_replaced),
		cmocka_unit_test(test_join_past_a_stopped_worker),
		cmocka_unit_test(test_abi_sizes_and_version),
		cmocka_unit_test(test_wait_any),
		cmocka_unit_test(test_cancel_a_future_not_started),
		cmocka_unit_test(test_a_death_after_a_stop_cancels_what_would_run_again),
		cmocka_unit_test(test_a_stopped_worker_does_not_hold_a_stop),
		cmocka_unit_test(test_time_the_pool_was_stopped_is_no_tasks),
		cmocka_unit_test(test_a_stop_outside_the_pool_is_no_tasks_either),
		cmocka_unit_test(test_a_stop_inside_a_turn_is_no_tasks_either),
		cmocka_unit_test(test_a_rare_caller_still_times_out_a_hung_task),
		cmocka_unit_test(test_join_drains_an_unread_iterator),
		cmocka_unit_test(test_feed_later),
		cmocka_unit_test(test_thread_start),
		cmocka_unit_test(test_threads_beside_the_pool),
	};
	return tl_run("pool-contract", argc, argv, all, sizeof all / sizeof *all);
}
