/* SPDX-License-Identifier: MIT */
/*
 * test_pool_churn.c — every promise of pool.h holds while workers are killed from
 * outside at any moment and tasks crash on their own.
 *
 * For each API (map with chunks of 1 and 5, map_async, imap, imap_unordered,
 * apply_async with callbacks, blocking apply) a fresh pool of 2 workers runs a few
 * thousand tasks while a killer thread SIGKILLs workers in a cycle of four moments:
 *   task   the worker that last started a task (during it, or just after);
 *   between  a worker that has ended a task and not started another (between
 *          tasks and batches: its result may not be sent yet);
 *   fork   the replacement that appears next, as soon as its pid is listed (right
 *          after fork, before or while it resets itself);
 *   init   a replacement held inside its initializer.
 * Every 17th task crashes on its first start (SIGSEGV, abort or _exit(3)), every
 * 10th sleeps a millisecond. One task waits until the killer has gone round its cycle
 * once, so every API sees every kind of kill. The killer stops after 40 cycles.
 * Under valgrind, where each respawn costs a tenth of a second, CTest passes
 * POOL_CHURN_CYCLES and POOL_CHURN_TASKS to do less of both.
 *
 * A kill at "fork" or "init" is a failed start, and 3 in a row with no worker ready
 * in between break a pool by design (pool.h, Errors). The killer never does a third:
 * after two it waits until a task has run in a worker whose initializer began after
 * its last such kill (that worker was ready, which resets the count).
 *
 * Checked: the pool never breaks; every task is answered exactly once, POOL_OK with
 * the right value; attempts counts every start: it is at least the starts the task
 * itself saw, and over all tasks exceeds them by no more than the kills (a kill can
 * land between the pool's claim of a task and its first instruction); a task that
 * crashed on its first start shows 2 starts or more; the failed starts the pool
 * counted include every kill in an initializer; nothing is left behind.
 *
 * Usage: test_pool_churn [NAME-GLOB]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool_testlib.h"

#define N_TASKS 2000   /* per API, at most; POOL_CHURN_TASKS: fewer */
#define N_APPLY 300     /* blocking applies: one round trip each */
#define GATE_INDEX 7    /* the task that waits for a full cycle of the killer */

/* ------------------------------------------------------------------------- */
/* The tasks                                                                  */

static job_arg args[N_TASKS];
static pool_task tasks[N_TASKS];
static size_t n_tasks = N_TASKS;

static void make_tasks(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i == GATE_INDEX)
			args[i] = J(B_WAIT, i);
		else if (i % 17 == 5)
			args[i] = (job_arg){B_CRASH_ONCE, (uint32_t)(i / 17 % 3), i};
		else if (i % 10 == 3)
			args[i] = (job_arg){B_SLEEP_MS, 1, i};
		else
			args[i] = J(B_SQUARE, i);
		tasks[i] = (pool_task){&args[i], sizeof args[i]};
	}
}

/* The result task i must have. */
static void check_result(const pool_result *r, uint64_t i)
{
	if (r->status != POOL_OK)
		fail_msg("task %llu: status %d: %s", (unsigned long long)i, (int)r->status,
			 r->data ? r->data : "");
	assert_true(r->index == i);
	uint64_t want = args[i].behaviour == B_SQUARE || args[i].behaviour == B_CRASH_ONCE
				? i * i : i;
	uint64_t got;
	assert_int_equal(r->len, sizeof got);
	memcpy(&got, r->data, sizeof got);
	if (got != want)
		fail_msg("task %llu: wrong value", (unsigned long long)i);
}

/* ------------------------------------------------------------------------- */
/* The killer                                                                 */

typedef struct killer {
	pool *p;
	pthread_t thread;
	_Atomic int stop;
	int kills_task, kills_between, kills_fork, kills_init, cycles;
	int max_cycles;       /* then it stops: POOL_CHURN_CYCLES, default 40 */
	int start_kills;      /* fork / init kills since the last proof of a ready worker */
	int gen_mark;         /* sh->inits at the last of them */
	int unseen_pid;       /* a start kill the pool had not seen when the killer stopped */
	unsigned seed;
} killer;

/* Is pid a worker of the pool now? */
static int listed(pool *p, int pid)
{
	int pids[16];
	int n = pool_worker_pids(p, pids, 16);
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

/* SIGKILL pid if it is one of the pool's workers. Through a pidfd checked against the
 * pool's list after it is opened, so a pid reused by another process after the
 * worker was reaped is never hit. Where there is no pidfd (valgrind), a plain kill
 * right after the check. Returns 1 when the signal went. */
static int kill_worker_pid(pool *p, int pid)
{
	if (pid <= 0 || !listed(p, pid))
		return 0;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ENOSYS && kill(pid, SIGKILL) == 0;
	int sent = 0;
	if (listed(p, pid))
		sent = syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0;
	close(fd);
	return sent;
}

static void pause_us(killer *k, unsigned max_us)
{
	usleep(rand_r(&k->seed) % (max_us + 1));
}

/* Before a kill that may be a failed start: never a third in a row. */
static int may_kill_starting(killer *k)
{
	while (k->start_kills >= 2 && !atomic_load(&k->stop)) {
		if (atomic_load(&sh->init_gen_seen) > k->gen_mark) {
			k->start_kills = 0;
			break;
		}
		usleep(100);
	}
	return !atomic_load(&k->stop);
}

/* A kill that may be a failed start went to pid. The pool counts failed starts in
 * the order it sees the deaths, which can be well after the kill (a child killed
 * before it ever ran dies when it first gets a CPU): wait until the pool has seen
 * it (the pid leaves its list), so the proof of a ready worker comes after. */
static void counted_start_kill(killer *k, int pid)
{
	k->start_kills++;
	while (listed(k->p, pid) && !atomic_load(&k->stop))
		usleep(100);
	if (listed(k->p, pid))
		k->unseen_pid = pid;
	k->gen_mark = atomic_load(&sh->inits);
}

/* task: the worker that last started a task, if it is still there; if it has been
 * gone for a while (waiting_since, 0: not yet) the worker holding the gate task.
 * Without that fallback the killer waited for ever when every other task had ended
 * before its first cycle (the blocking applies on a loaded machine): the worker that
 * ran the last one was killed between tasks, no task started again, and the gate
 * waits for the end of that cycle. Leaves *before with the pids listed just before
 * the kill, so the fork step can tell the replacement. Returns 1 when it killed. */
static int try_kill_at_task(killer *k, int *before, int *nbefore, int64_t *waiting_since)
{
	*nbefore = pool_worker_pids(k->p, before, 16);
	int pid = atomic_load(&sh->running_pid), gate = 0;
	if (listed(k->p, pid)) {
		*waiting_since = 0;
	} else {
		int64_t now = tl_now_ns();
		if (!*waiting_since)
			*waiting_since = now;
		if (now - *waiting_since > 20 * 1000000)
			gate = pid = atomic_load(&sh->waiting_pid);
	}
	if (!kill_worker_pid(k->p, pid))
		return 0;
	if (gate) /* it will not say it left the gate: never aim at its pid again */
		atomic_compare_exchange_strong(&sh->waiting_pid, &gate, 0);
	*waiting_since = 0;
	k->kills_task++;
	return 1;
}

static void kill_at_task(killer *k, int *before, int *nbefore)
{
	int64_t waiting_since = 0;
	while (!atomic_load(&k->stop) && !try_kill_at_task(k, before, nbefore, &waiting_since))
		usleep(200);
}

/* between: a worker that ended a task and has not started the next. */
static void kill_between(killer *k)
{
	while (!atomic_load(&k->stop)) {
		if (kill_worker_pid(k->p, atomic_load(&sh->between_pid))) {
			k->kills_between++;
			return;
		}
		sched_yield();
	}
}

/* fork: the first listed pid not in before[], at once. */
static void kill_at_fork(killer *k, const int *before, int nbefore)
{
	if (!may_kill_starting(k))
		return;
	while (!atomic_load(&k->stop)) {
		int pids[16];
		int n = pool_worker_pids(k->p, pids, 16);
		for (int i = 0; i < n; i++) {
			int known = 0;
			for (int j = 0; j < nbefore; j++)
				known |= pids[i] == before[j];
			if (!known && kill_worker_pid(k->p, pids[i])) {
				k->kills_fork++;
				counted_start_kill(k, pids[i]);
				return;
			}
		}
		sched_yield();
	}
}

/* init: hold the next initializer and kill the worker inside it. When no
 * replacement comes (the last one started before the hold was set), make one by a
 * kill at a task. */
static void kill_at_init(killer *k)
{
	if (!may_kill_starting(k))
		return;
	atomic_store(&sh->init_pid, 0);
	atomic_store(&sh->init_hold, 1);
	int64_t force_at = tl_now_ns() + 20 * 1000000, waiting_since = 0;
	while (!atomic_load(&k->stop)) {
		int pid = atomic_load(&sh->init_pid);
		if (pid && kill_worker_pid(k->p, pid)) {
			k->kills_init++;
			counted_start_kill(k, pid);
			break;
		}
		if (tl_now_ns() > force_at) {
			int before[16], nbefore;
			if (try_kill_at_task(k, before, &nbefore, &waiting_since))
				force_at = tl_now_ns() + 20 * 1000000;
		}
		usleep(200);
	}
	atomic_store(&sh->init_hold, 0);
}

static void *killer_main(void *arg)
{
	killer *k = arg;
	while (!atomic_load(&k->stop) && k->cycles < k->max_cycles) {
		int before[16], nbefore = 0;
		kill_between(k);
		pause_us(k, 2000);
		kill_at_task(k, before, &nbefore);
		pause_us(k, 300);
		kill_at_fork(k, before, nbefore);
		pause_us(k, 5000);
		kill_at_init(k);
		pause_us(k, 5000);
		if (!atomic_load(&k->stop) && ++k->cycles == 1)
			atomic_store(&sh->release, 1); /* the gate task may end now */
	}
	return NULL;
}

/* ------------------------------------------------------------------------- */
/* Each API                                                                   */

static int spawns, start_exits;

static void on_event(const pool_event *e, void *data)
{
	(void)data;
	spawns += e->kind == POOL_EV_SPAWN;

	start_exits += e->kind == POOL_EV_EXIT && e->while_starting;
}

static pool *churn_pool(killer *k, unsigned seed)
{
	tl_reset_shared();
	spawns = start_exits = 0;
	pool_options o = {.workers = 2, .retries = 1000, .init = tl_init,
			  .on_event = on_event};
	char *err = NULL;
	pool *p = pool_create(&o, &err);
	if (!p)
		fail_msg("pool_create: %s", err);
	memset(k, 0, sizeof *k);
	k->p = p;
	k->seed = seed;
	const char *cycles = getenv("POOL_CHURN_CYCLES");
	k->max_cycles = cycles && atoi(cycles) > 0 ? atoi(cycles) : 40;
	tl_thread_start(&k->thread, killer_main, k);
	return p;
}

/* Stop the killer, check the attempts of tasks[0..n) and the pool's state, shut the
 * pool down and check nothing is left. */
static void finish(killer *k, pool *p, const int *attempts, size_t n, int fds_before)
{
	atomic_store(&k->stop, 1);
	pthread_join(k->thread, NULL);
	atomic_store(&sh->init_hold, 0);
	/* The last kill in an initializer may have come as the last task ended: nothing
	 * ran the pool's loop since, so it has not seen that death yet (CI, ASan, once).
	 * Run it until it has, so the count below is complete. */
	for (int i = 0; i < 1000 && k->unseen_pid && listed(p, k->unseen_pid); i++)
		assert_true(pool_poll(p, 0.01) >= 0);
	printf("# kills: %d at a task, %d between tasks, %d right after fork, %d in an "
	       "initializer; %d cycles; %d failed starts\n", k->kills_task, k->kills_between,
	       k->kills_fork, k->kills_init, k->cycles, start_exits);
	assert_true(k->kills_task >= 1 && k->kills_between >= 1 && k->kills_fork >= 1 &&
		    k->kills_init >= 1);
	int kills = k->kills_task + k->kills_between + k->kills_fork + k->kills_init;
	long extra = 0;
	for (size_t i = 0; i < n; i++) {
		int begun = atomic_load(&sh->begun[i]);
		int runs = atomic_load(&sh->runs[i]);
		if (attempts[i] < begun || begun < 1 || runs < 1 || runs > begun)
			fail_msg("task %zu: attempts %d, started %d times, ran %d to the end", i,
				 attempts[i], begun, runs);
		if (args[i].behaviour == B_CRASH_ONCE)
			assert_true(begun >= 2);
		extra += attempts[i] - begun;
	}
	if (extra > kills)
		fail_msg("attempts exceed the starts seen by %ld, more than the %d kills", extra,
			 kills);
	assert_int_equal(pool_get_state(p), POOL_RUNNING);
	pool_stats s;
	pool_stats_get(p, &s);
	assert_true(s.failed_starts >= (uint64_t)k->kills_init);
	assert_true(s.failed == 0);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
	tl_assert_no_children();
	assert_int_equal(tl_count_fds(), fds_before);
}

static int attempts[N_TASKS];

static void churn_map(size_t chunksize, int async)
{
	int fds = tl_count_fds();
	killer k;
	make_tasks(n_tasks);
	pool *p = churn_pool(&k, (unsigned)(chunksize * 7 + (size_t)async));
	static pool_result r[N_TASKS];
	if (async) {
		pool_future *f = pool_map_async(p, tl_task, tasks, n_tasks, chunksize, r);
		assert_non_null(f);
		assert_int_equal(pool_future_wait(f, -1), 1);
		assert_true(pool_future_successful(f));
		pool_future_free(f);
	} else {
		if (pool_map(p, tl_task, tasks, n_tasks, chunksize, r) < 0)
			fail_msg("pool_map: %s", pool_error(p));
	}
	for (size_t i = 0; i < n_tasks; i++) {
		check_result(&r[i], i);
		attempts[i] = r[i].attempts;
		pool_result_release(&r[i]);
	}
	finish(&k, p, attempts, n_tasks, fds);
}

static void test_churn_map(void **state)
{
	churn_map(1, 0);
}

static void test_churn_map_chunks(void **state)
{
	churn_map(5, 0);
}

static void test_churn_map_async(void **state)
{
	churn_map(1, 1);
}

typedef struct feed_state {
	size_t next, n;
} feed_state;

static int feed(void *data, pool_task *t)
{
	feed_state *f = data;
	if (f->next >= f->n)
		return 0;
	*t = tasks[f->next++];
	return 1;
}

static void churn_imap(int ordered)
{
	int fds = tl_count_fds();
	killer k;
	make_tasks(n_tasks);
	pool *p = churn_pool(&k, 100u + (unsigned)ordered);
	feed_state f = {0, n_tasks};
	pool_iter *it = ordered ? pool_imap(p, tl_task, feed, &f, 1)
				: pool_imap_unordered(p, tl_task, feed, &f, 1);
	assert_non_null(it);
	static unsigned char seen[N_TASKS];
	memset(seen, 0, sizeof seen);
	pool_result r;
	int rc;
	size_t got = 0;
	while ((rc = pool_iter_next(it, &r)) == 1) {
		assert_true(r.index < n_tasks);
		if (ordered)
			assert_true(r.index == got);
		assert_int_equal(seen[r.index], 0);
		seen[r.index] = 1;
		check_result(&r, r.index);
		attempts[r.index] = r.attempts;
		pool_result_release(&r);
		got++;
	}
	if (rc != 0)
		fail_msg("pool_iter_next: %d: %s", rc, pool_error(p));
	assert_int_equal(got, n_tasks);
	pool_iter_free(it);
	finish(&k, p, attempts, n_tasks, fds);
}

static void test_churn_imap(void **state)
{
	churn_imap(1);
}

static void test_churn_imap_unordered(void **state)
{
	churn_imap(0);
}

static int callbacks[N_TASKS];

static void on_done(pool_future *f, const pool_result *r, void *data)
{
	size_t i = (size_t)(uintptr_t)data;
	callbacks[i]++;
	check_result(&(pool_result){.status = r->status, .data = r->data, .len = r->len,
				    .index = i}, i);
	attempts[i] = r->attempts;
}

static void test_churn_apply_async(void **state)
{
	int fds = tl_count_fds();
	killer k;
	make_tasks(n_tasks);
	pool *p = churn_pool(&k, 200);
	static pool_future *fs[N_TASKS];
	memset(callbacks, 0, sizeof callbacks);
	for (size_t i = 0; i < n_tasks; i++) {
		fs[i] = pool_apply_async(p, tl_task, &args[i], sizeof args[i], on_done,
					 (void *)(uintptr_t)i);
		assert_non_null(fs[i]);
	}
	/* Taken in completion order, as concurrent.futures.as_completed. */
	for (size_t left = n_tasks; left; left--) {
		size_t i;
		assert_int_equal(pool_wait_any(fs, n_tasks, -1, &i), 1);
		assert_int_equal(callbacks[i], 1);
		pool_future_free(fs[i]);
		fs[i] = NULL;
	}
	finish(&k, p, attempts, n_tasks, fds);
}

static void test_churn_apply(void **state)
{
	int fds = tl_count_fds();
	killer k;
	make_tasks(N_APPLY);
	pool *p = churn_pool(&k, 300);
	/* The gate task would hold a blocking apply: run it asynchronously. */
	pool_future *gate = pool_apply_async(p, tl_task, &args[GATE_INDEX],
					     sizeof args[GATE_INDEX], NULL, NULL);
	for (size_t i = 0; i < N_APPLY; i++) {
		if (i == GATE_INDEX)
			continue;
		pool_result r;
		if (pool_apply(p, tl_task, &args[i], sizeof args[i], &r) < 0)
			fail_msg("pool_apply: %s", pool_error(p));
		r.index = i;
		check_result(&r, i);
		attempts[i] = r.attempts;
		pool_result_release(&r);
	}
	const pool_result *g = pool_future_get(gate, -1);
	assert_non_null(g);
	check_result(&(pool_result){.status = g->status, .data = g->data, .len = g->len,
				    .index = GATE_INDEX}, GATE_INDEX);
	attempts[GATE_INDEX] = g->attempts;
	pool_future_free(gate);
	finish(&k, p, attempts, N_APPLY, fds);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *n = getenv("POOL_CHURN_TASKS");
	if (n && atoi(n) > GATE_INDEX && atoi(n) <= N_TASKS)
		n_tasks = (size_t)atoi(n);
	static const struct CMUnitTest all[] = {
		cmocka_unit_test(test_churn_map),
		cmocka_unit_test(test_churn_map_chunks),
		cmocka_unit_test(test_churn_map_async),
		cmocka_unit_test(test_churn_imap),
		cmocka_unit_test(test_churn_imap_unordered),
		cmocka_unit_test(test_churn_apply_async),
		cmocka_unit_test(test_churn_apply),
	};
	return tl_run("pool-churn", argc, argv, all, sizeof all / sizeof *all);
}
