/* SPDX-License-Identifier: MIT */
/*
 * worker.c — the child side of the pool: reset what fork inherited, run the
 * initializer once, then loop { read tasks; run each; write results } until the
 * channel reaches EOF.
 *
 * The worker trusts its parent (it is the parent's own fork), so malformed input
 * from the parent simply ends the worker.
 */
/* pidfd_open, close_range, sigabbrev_np, pipe2: Linux and glibc extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"
#include "worker.h"

/* Results travel back in batches: at the end of each message of tasks, or sooner
 * when this many results, this many bytes have piled up or this long has passed
 * since the last send. The count keeps several batches in flight when the parent
 * sent many tasks at once, so the parent refills while the worker works. The time
 * bound keeps slow tasks reporting one by one (a send costs microseconds, nothing
 * beside a millisecond task) while tiny tasks still travel in batches; it also
 * bounds what a crash costs: results of the last millisecond, whose tasks then run
 * again (pool.h: at least once). */
#define FLUSH_TASKS 64u
#define FLUSH_BYTES ((size_t)65536)
#define FLUSH_NS ((int64_t)1000 * 1000)

/*
 * Make the fork a clean process: die with the parent, no descriptor but 0-2 and
 * the channel (other workers' sockets and the parent's pipes would keep them alive,
 * and a lock the parent holds through a shared description, flock's, would be held
 * by this copy), default signal handling (SIGINT ignored: Ctrl-C reaches the whole
 * process group and the parent decides), an empty mask, no core files in the
 * user's folders.
 *
 * In that order: a worker stopped from outside as it starts (SIGSTOP cannot be
 * blocked) and then orphaned by a parent killed meanwhile stayed stopped for good
 * when the stop came before prctl, holding the caller's descriptors (imgpool's
 * output folder lock: every later run was refused). Now only the few instructions
 * between fork and prctl are such a moment. The parent forks with every signal
 * blocked (spawn()), so none of its handlers runs in this copy before they are
 * reset here.
 */
static int reset_process(const worker_args *a)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != a->parent) /* the parent died before prctl took effect */
		_exit(1);

	int fd = a->fd;
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			return -1;
		fd = 3;
	}
	if (close_range(4, ~0U, 0) < 0) {
		/* Old kernels: close one by one. */
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = 4; i < max; i++)
			close((int)i);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	struct rlimit core = {0, 0};
	setrlimit(RLIMIT_CORE, &core);
	return fd;
}

/* Leave: flush what tasks printed (the parent flushed its own buffers before fork),
 * then _exit so no atexit handler of the parent runs twice. */
static void leave(const worker_args *a, void *state, int run_fini, int code)
{
	if (run_fini && a->fini) {
		atomic_store(&a->shm->finishing, 1);
		a->fini(state);
	}
	fflush(NULL);
	_exit(code);
}

/* This process's resident memory, from /proc/self/statm opened once (fd; 0 if
 * unreadable). pread on a kept descriptor costs a couple of microseconds, so it can
 * follow every task. */
static size_t resident_bytes(int fd)
{
	char buf[128];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long size = 0, resident = 0;
	if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
		return 0;
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* The memory this process holds of its own, where statm's resident count is
 * over limit: the resident pages no other process maps (smaps_rollup's
 * Private_Clean + Private_Dirty). A fork starts with every resident page of the
 * parent it was forked from, shared copy-on-write: a parent that had read a
 * folder of 200 000 names made each fresh worker "grow" past a 60M limit before
 * its first task, and every task recycled its worker. smaps_rollup walks the
 * page tables (tens of microseconds to a millisecond), so it is read only past
 * statm's cheap count, which is never below it. statm's count when
 * smaps_rollup cannot be read (Linux before 4.14). */
static size_t own_bytes(int statm, size_t limit)
{
	size_t resident = resident_bytes(statm);
	if (resident <= limit)
		return resident;
	char buf[4096];
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return resident;
	buf[n] = '\0';
	unsigned long kb, own = 0;
	int found = 0;
	for (const char *line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if ((sscanf(line, "Private_Clean: %lu kB", &kb) == 1 ||
		     sscanf(line, "Private_Dirty: %lu kB", &kb) == 1) && ++found)
			own += kb;
	return found == 2 ? (size_t)own * 1024 : resident;
}

/* Claim task number seq (see worker.h): 1 when it is ours to run, 0 when the parent
 * took it back or an interrupt stopped the pool. */
static int claim(pool_slot_shm *shm, uint64_t seq)
{
	uint64_t expect = seq;
	return atomic_compare_exchange_strong_explicit(&shm->claim, &expect, seq + 1,
						       memory_order_acq_rel,
						       memory_order_acquire);
}

/* Send the results gathered in out, if any, and start a new message. */
static void flush(const worker_args *a, void *state, pool_buf *out)
{
	if (!imgpool_wire_count(out))
		return;
	size_t off = 0;
	if (imgpool_wire_send(a->fd, out, &off, 0) < 0)
		leave(a, state, 0, 0); /* the parent is gone */
	imgpool_wire_begin(out, WIRE_RESULTS);
}

/* An initializer's error as one line, as the pool's own messages it goes into
 * (pool_create()'s *err, the start failure's cause): line breaks become spaces. */
static void one_line(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n' || s[i] == '\r')
			s[i] = ' ';
}

/* Run one claimed task record and append its result to out (sending what out held
 * first when the result would take the message's body past max_message: the
 * parent refuses a larger message, and took 64 small results together for a
 * worker gone mad, charging every one of them). Returns when it ended. */
static int64_t run_task(const worker_args *a, const wire_record *t, void *state,
			pool_buf *result, pool_buf *out)
{
	int64_t start = pool_now_ns();
	atomic_store_explicit(&a->shm->started_ns, start, memory_order_relaxed);
	atomic_store_explicit(&a->shm->running, t->id, memory_order_release);

	pool_fn fn = (pool_fn)(uintptr_t)t->fn;
	result->len = 0;
	if (result->data)
		result->data[0] = '\0';
	int rc = fn(t->data, t->len, result, state);
	int64_t end = pool_now_ns();
	static const char too_big[] = "task result over the pool's message size limit";
	uint32_t status = rc == 0 ? WIRE_OK : WIRE_ERROR;
	const char *data = result->data;
	size_t len = result->len;
	if (status == WIRE_ERROR && !len) { /* an error says something */
		data = "(no message)";
		len = 12;
	}
	if (len > a->max_message) { /* its own message would be refused too */
		status = WIRE_ERROR;
		data = too_big;
		len = sizeof too_big - 1;
	}
	if (imgpool_wire_count(out) &&
	    out->len - sizeof(wire_hdr) + imgpool_wire_result_size(len) > a->max_message) {
		/* not running while the send may wait for the parent: no timeout */
		atomic_store_explicit(&a->shm->running, 0, memory_order_release);
		flush(a, state, out);
		/* running again for the copy, stamped now: a flush that waited for a
		 * parent away past the timeout must not look like the task's time */
		atomic_store_explicit(&a->shm->started_ns, pool_now_ns(), memory_order_relaxed);
		atomic_store_explicit(&a->shm->running, t->id, memory_order_release);
	}
	/* Still "running" until its result is in the message: a worker that dies
	 * copying it (out of memory) costs this task, not a rerun of it. */
	if (imgpool_wire_add_result(out, t->id, status, start, end, data, len) < 0)
		leave(a, state, 0, 70); /* out of memory: the parent sees us die */
	atomic_store_explicit(&a->shm->running, 0, memory_order_release);
	return end;
}

/* The longest initializer error sent (see imgpool_worker_main()). */
#define INIT_ERR_MAX 1024

void imgpool_worker_main(const worker_args *a)
{
	worker_args self = *a;
	self.fd = reset_process(a);
	if (self.fd < 0)
		_exit(71);

	pool_buf out = {0}, result = {0};
	void *state = NULL;
	if (self.init) {
		pool_buf err = {0};
		if (self.init(self.init_arg, &state, &err) != 0) {
			/* Cut to what any message limit lets through (the parent reads up
			 * to max_message + 4096): a longer one was a malformed message, 3
			 * failed starts, and not the initializer's own words. */
			size_t n = err.len > INIT_ERR_MAX ? INIT_ERR_MAX : err.len;
			one_line(err.data, n);
			imgpool_wire_begin(&out, WIRE_INIT_FAILED);
			imgpool_wire_add_bytes(&out, n ? err.data : "(no message)", n ? n : 12);
			size_t off = 0;
			imgpool_wire_send(self.fd, &out, &off, 0);
			leave(&self, state, 0, 0);
		}
		pool_buf_release(&err);
	}
	int statm = self.max_rss ? open("/proc/self/statm", O_RDONLY | O_CLOEXEC) : -1;
	imgpool_wire_begin(&out, WIRE_READY);
	size_t off = 0;
	if (imgpool_wire_send(self.fd, &out, &off, 0) < 0)
		leave(&self, state, 1, 0);

	wire_rx rx = {0};
	uint64_t seq = 0; /* the sequence number of the next task record to read */
	for (;;) {
		const char *why = NULL;
		int k;
		while ((k = imgpool_wire_rx_packet(&rx, self.fd, SIZE_MAX / 2, 0, &why)) ==
		       WIRE_RX_PARTIAL)
			;
		if (k != WIRE_RX_MESSAGE)
			leave(&self, state, k == WIRE_RX_EOF, 0); /* EOF: the pool let us go */

		wire_cursor c;
		if (imgpool_wire_open(&rx.buf, &c, &why) != WIRE_TASKS)
			leave(&self, state, 0, 72);
		imgpool_wire_begin(&out, WIRE_RESULTS);
		int64_t last_flush = pool_now_ns();
		wire_record t;
		while ((k = imgpool_wire_next_task(&c, &t, &why)) == 1) {
			uint64_t s = seq++;
			if (t.flags & WIRE_FLUSH_FIRST)
				flush(&self, state, &out);
			if (!claim(self.shm, s))
				continue; /* taken back, or stopped: no answer */
			int64_t end = run_task(&self, &t, state, &result, &out);
			if ((t.flags & WIRE_FLUSH_AFTER) || imgpool_wire_count(&out) >= FLUSH_TASKS ||
			    out.len >= FLUSH_BYTES || end - last_flush >= FLUSH_NS) {
				flush(&self, state, &out);
				last_flush = end;
			}
			if (self.max_rss && own_bytes(statm, self.max_rss) > self.max_rss) {
				/* Grown too big: leave now, before the next task, with every
				 * result sent; the parent takes back what was not started,
				 * uncharged, and starts a fresh worker. */
				flush(&self, state, &out);
				atomic_store(&self.shm->retiring, 1);
				leave(&self, state, 1, 0);
			}
		}
		if (k < 0)
			leave(&self, state, 0, 72);
		flush(&self, state, &out);
		imgpool_wire_rx_reset(&rx);
		/* Don't keep a 64 MiB result's buffer around for the next tiny one. */
		if (out.cap > 4 * FLUSH_BYTES) {
			pool_buf_release(&out);
			pool_buf_release(&result);
		}
		if (rx.buf.cap > 4 * FLUSH_BYTES)
			imgpool_wire_rx_release(&rx);
	}
}
