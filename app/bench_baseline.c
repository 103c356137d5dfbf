/* SPDX-License-Identifier: MIT */
/*
 * bench_baseline.c — `imgpool bench`'s baseline: one forked child starts libvips and
 * thumbnails every file in a plain loop, no pool. See bench_internal.h.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "bench_internal.h"
#include "clock.h"
#include "thumb.h"

#define now_s clock_now_s

/* ------------------------------------------------------------------------- */
/* The baseline: one child, libvips in it, a plain loop                        */

task_config bench_config; /* before any fork: children and workers see it */

/* The child's side (never returns): start libvips with one thread, thumbnail every
 * file in order, and send back "T <seconds>" then one "F <index> <kind> <cause>" per failed
 * file. *current shows the parent which file a crash happened on. Failures are
 * collected in memory and sent after the clock stops. */
static void baseline_child(const bench *b, int fd, volatile size_t *current)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
	pool_buf out = {0}, fails = {0};
	char err[1024];
	if (thumb_worker_init(1, err, sizeof err) < 0) {
		pool_buf_printf(&out, "E libvips: %s\n", err);
	} else {
		int dir = open(b->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		double t0 = now_s();
		for (size_t i = 0; i < b->nfiles; i++) {
			task_desc t;
			thumb_output outs[THUMB_MAX_SIZES];
			char names[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX];
			failure_kind kind;
			thumb_result res;
			*current = i;
			if (task_decode(b->files[i].task, b->files[i].len, &t) < 0)
				continue;
			for (int k = 0; k < t.n; k++) {
				task_temp_name(names[k], sizeof names[k], t.index, k, 0);
				outs[k] = (thumb_output){dir, names[k], t.formats[k]};
			}
			if (thumb_run(&bench_config.settings, t.input, t.beneath, &t.found, outs, &res,
				      &kind, err, sizeof err) < 0) {
				for (char *c = err; *c; c++)
					if (*c == '\n')
						*c = ' ';
				pool_buf_printf(&fails, "F %zu %d %s\n", i, (int)kind, err);
			}
		}
		pool_buf_printf(&out, "T %.9f\n", now_s() - t0);
		if (dir >= 0)
			close(dir);
		pool_buf_append(&out, fails.data ? fails.data : "", fails.len);
	}
	for (size_t off = 0; off < out.len;) {
		ssize_t k = write(fd, out.data + off, out.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(3);
		off += (size_t)k;
	}
	_exit(0);
}

/* Read the child's report until EOF. A signal to us (EINTR with bench_signal set)
 * kills the child. Returns 0, or -1 on a read error. */
static int read_child(int fd, pid_t pid, pool_buf *in)
{
	for (;;) {
		if (pool_buf_reserve(in, 4096) < 0)
			return -1;
		ssize_t k = read(fd, in->data + in->len, 4096);
		if (k > 0) {
			in->len += (size_t)k;
			in->data[in->len] = '\0';
		} else if (k == 0) {
			return 0;
		} else if (errno == EINTR) {
			if (bench_signal)
				kill(pid, SIGKILL);
		} else {
			return -1;
		}
	}
}

/* Say how a child ended: "exited with status 3", "killed by signal 11 (SIGSEGV)". */
static void describe_wait(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* One baseline run: fork the child, collect its time and failures. Returns 0 with
 * *secs, or -1 with a one-line cause in msg. */
int bench_run_baseline(bench *b, double *secs, char *msg, size_t len)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	volatile size_t *current = mmap(NULL, sizeof *current, PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (current == MAP_FAILED) {
		snprintf(msg, len, "mmap: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	*current = (size_t)-1;
	fflush(NULL); /* nothing buffered is written twice */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(msg, len, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		munmap((void *)current, sizeof *current);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		baseline_child(b, fds[1], current);
	}
	close(fds[1]);
	pool_buf in = {0};
	int rc = read_child(fds[0], pid, &in);
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	size_t crashed_on = *current;
	munmap((void *)current, sizeof *current);
	int ok = -1;
	if (bench_signal) {
		snprintf(msg, len, "interrupted");
	} else if (rc < 0) {
		snprintf(msg, len, "reading from the baseline process: %s", strerror(errno));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !in.len) {
		char how[80];
		describe_wait(status, how, sizeof how);
		if (in.len > 2 && in.data[0] == 'E')
			snprintf(msg, len, "%.*s", (int)strcspn(in.data + 2, "\n"), in.data + 2);
		else if (crashed_on < b->nfiles)
			snprintf(msg, len, "the in-process loop %s while thumbnailing %s (leave it "
				 "out with --exclude)", how, bench_file_input(&b->files[crashed_on]));
		else
			snprintf(msg, len, "the in-process loop %s", how);
	} else if (sscanf(in.data, "T %lf", secs) != 1) {
		snprintf(msg, len, "the baseline process sent no time");
	} else {
		for (char *line = strchr(in.data, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
			char *end;
			if (line[1] != 'F' || line[2] != ' ')
				continue;
			size_t idx = strtoull(line + 3, &end, 10);
			long kind = *end == ' ' ? strtol(end + 1, &end, 10) : -1;
			if (*end == ' ' && kind > FAIL_NONE && kind < FAIL_KIND_COUNT)
				bench_note_failure(b, idx, (failure_kind)kind, end + 1,
						   strcspn(end + 1, "\n"));
		}
		ok = 0;
	}
	pool_buf_release(&in);
	return ok;
}

