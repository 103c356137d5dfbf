/* SPDX-License-Identifier: MIT */
/*
 * run.c — one imgpool run. See run.h.
 *
 * The parent never decodes a pixel: the planner (plan.h) walks and decides, the
 * feed hands one task per file to the pool (so the first thumbnail is made while a
 * big tree is still being walked), and each result is published into the output
 * folder (publish.h: the only writer beneath OUT, with the journal written ahead),
 * remembered (plan_remember) and reported as it comes. Only the files in flight are
 * kept in memory (inflight.h).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bug.h"
#include "clock.h"
#include "costguess.h"
#include "count.h"
#include "discover.h"
#include "drive.h"
#include "inflight.h"
#include "journal.h"
#include "lookahead.h"
#include "monitor.h"
#include "outdir.h"
#include "plan.h"
#include "prune.h"
#include "publish.h"
#include "report.h"
#include "run.h"
#include "run_internal.h"
#include "shard.h"
#include "sinks.h"
#include "stop.h"
#include "task.h"
#include "thumb.h"
#include "trace.h"
#include "vipsmodules.h"

/* ------------------------------------------------------------------------- */

/* A file planned that cannot be held or handed out (cause; NULL: out of memory):
 * an error now. */
static void feed_failed(run_ctx *x, const char *input, int n, char *const *outputs,
			const char *cause)
{
	report_file f = {.status = REPORT_ERROR, .kind = FAIL_ENVIRONMENT, .input = input,
			 .noutputs = n, .outputs = (const char *const *)outputs,
			 .cause = cause ? cause : "out of memory", .worker = -1};
	atomic_fetch_add(&x->c.found, 1);
	atomic_fetch_add(&x->c.failed, 1);
	report_file_done(x->rep, &f);
}

/* The window's key for a planned file (costguess.h). Not read for a window of
 * one (a --files-from stream: no order to choose), nor once a guess has been
 * slow: reading heads in the parent, one after another, would serialise the
 * reads of cold or remote storage that the workers do side by side; the bytes
 * then do. */
#define GUESS_SLOW_S 0.010

static uint64_t guess_cost(run_ctx *x, const discover_item *it)
{
	if (x->o->files_from || x->guess_slow)
		return it->size;
	double t0 = clock_now_s();
	uint64_t cost = costguess(it->input, it->size);
	if (clock_now_s() - t0 > GUESS_SLOW_S)
		x->guess_slow = 1;
	return cost;
}

/* Move up to `most` planned files into the look-ahead window (fewer when it is
 * full or the plan runs dry). A few per call rather than a full window at once: the first file
 * starts after a few are planned, not after 256, and a list read from a pipe is
 * never waited on for more than the pool asks. */
static void top_up(run_ctx *x, int most)
{
	plan_item item;

	x->plan_later = 0;
	for (int i = 0; i < most && !x->plan_dry && !lookahead_full(x->window); i++) {
		int got = plan_next(x->plan, &item);
		if (got == DISCOVER_LATER) {
			x->plan_later = 1;
			break;
		}
		if (!got) {
			x->plan_dry = 1;
			break;
		}
		if (lookahead_put(x->window, &item, guess_cost(x, item.it)) < 0)
			feed_failed(x, item.it->input, item.it->noutputs,
				    (char *const *)item.it->outputs, NULL);
	}
}

/* The files the planner held (plan.h) once nothing is in flight or unpublished, up
 * to the first to make (the others may wait for its outcome). 0: not yet, or none. */
static int top_up_held(run_ctx *x)
{
	plan_item item;
	if (!plan_holding(x->plan) || inflight_count(x->flight) || x->nfinished)
		return 0;
	/* Files whose outputs a stale folder or thumbnail is in the way of: the
	 * prune first, then plan_next() hands them out, as the walk's files. Not
	 * when the run stops or its pool broke (no prune then, or --min-free's at
	 * the end): they are answered as held files are. */
	if (plan_prune_due(x->plan)) {
		if (stop_signal() || x->stop_msg[0] || x->pool_over || journal_moved(x->j))
			return 0;
		run_prune(x);
		plan_pruned(x->plan);
		x->plan_dry = 0;
		return 1;
	}
	if (plan_next_held(x->plan, &item))
		if (lookahead_put(x->window, &item, guess_cost(x, item.it)) < 0)
			feed_failed(x, item.it->input, item.it->noutputs,
				    (char *const *)item.it->outputs, NULL);
	return 1;
}

/* The next planned file, the largest in the window: 1 with *lf filled, 0 when the
 * plan is over, DISCOVER_LATER when a --files-from pipe has no whole line yet, or
 * when held files wait for the outcomes of files in flight. */
static int take_next(run_ctx *x, lookahead_file *lf)
{
	for (;;) {
		top_up(x, LOOKAHEAD_TOP_UP);
		if (lookahead_take(x->window, lf))
			return 1;
		if (x->plan_dry && !plan_holding(x->plan))
			return 0;
		if (x->plan_dry && !top_up_held(x))
			return DISCOVER_LATER;
		if (x->plan_later)
			return DISCOVER_LATER;
		/* empty but neither: every file just planned failed to be held, or held
		 * files were decided */
	}
}

/* Files still held when a run ends early: an error naming the cause, or (cause
 * NULL) cancelled by a signal. */
static void answer_held(run_ctx *x, const char *cause)
{
	const discover_item *it;
	while (plan_take_held(x->plan, &it))
		if (cause)
			feed_failed(x, it->input, it->noutputs, (char *const *)it->outputs, cause);
		else
			run_answer_cancelled(x, it->input, it->noutputs, it->outputs);
}

/* The pool asks for the next file to thumbnail. */
static int feed(void *data, pool_task *t)
{
	run_ctx *x = data;
	lookahead_file lf;
	int got;

	while ((got = take_next(x, &lf)) == 1) {
		inflight_file *f = lf.f;
		task_desc td = {.index = x->produced, .n = f->n, .input = f->input,
				.beneath = (uint32_t)f->beneath, .found = {f->dev, f->ino}};
		memcpy(td.formats, lf.formats, sizeof td.formats);
		if (task_encode(&x->buf, &td) < 0) {
			feed_failed(x, f->input, f->n, f->display, NULL);
			inflight_file_free(f);
			continue;
		}
		atomic_fetch_add(&x->c.found, 1);
		f->index = x->produced++;
		inflight_insert(x->flight, f);
		*t = (pool_task){x->buf.data, x->buf.len};
		return 1;
	}
	/* A pipe with no whole line yet: the pool goes on with what it has and asks
	 * again when the pipe is readable. */
	if (got == DISCOVER_LATER)
		return POOL_FEED_LATER;
	atomic_store(&x->c.walk_done, 1);
	return 0;
}

/* A stop by signal: the files planned and not yet handed to the pool (the
 * window's) are answered as the pool's queued ones are, cancelled; the walk is
 * not carried on after Ctrl-C (the summary counts what it did not reach). */
static void answer_window(run_ctx *x)
{
	lookahead_file lf;

	while (lookahead_take(x->window, &lf)) {
		run_answer_cancelled(x, lf.f->input, lf.f->n, (const char *const *)lf.f->display);
		inflight_file_free(lf.f);
	}
	answer_held(x, NULL);
	if (x->plan_dry) /* the walk was over: only held files waited */
		atomic_store(&x->c.walk_done, 1);
}

/* Turns of a --files-from pipe or device that give no entry (a piece of one over
 * 64 KiB, 4096 entries passed over), taken after the pool broke. */
#define LIST_LATE_READS 1024

/* Is the --files-from list a regular file (read to its end, it ends)? */
static int list_is_file(const run_ctx *x)
{
	struct stat st;
	int fd = discover_wait_fd(x->d);
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Is more of the --files-from list readable now (and no signal came)? */
static int list_readable(const run_ctx *x)
{
	struct pollfd list = {discover_wait_fd(x->d), POLLIN, 0};
	return !stop_signal() && list.fd >= 0 && poll(&list, 1, 0) == 1;
}

/* The pool broke, or never started, or the run stopped itself (--min-free):
 * every file planned and not handed to it gets an error naming the cause, so a
 * broken pool never looks like a run with files merely left for later (a
 * --files-from pipe read only as far as it has come); after a signal, also one
 * come after the pool broke (none to stop), a stop's answers: answer_window(). */
static void answer_unstarted(run_ctx *x, const char *cause)
{
	char why[MSG_LEN];
	lookahead_file lf;
	int got;

	x->pool_over = 1;
	if (stop_signal()) {
		answer_window(x);
		return;
	}
	snprintf(why, sizeof why, "not started: %s", cause);
	discover_nowait(x->d, 1);
	/* As far as the list has come: what is readable now (an entry without end
	 * is read a piece at a time; a list of entries passed over comes back now
	 * and then), not what a producer may write later; a file to its end, a
	 * pipe or device not for ever (/dev/zero: LIST_LATE_READS turns at most). */
	int late_reads = 0, finite = list_is_file(x);
	while ((got = take_next(x, &lf)) == 1 ||
	       (got == DISCOVER_LATER && (finite || late_reads++ < LIST_LATE_READS) &&
		list_readable(x))) {
		if (got != 1)
			continue;
		feed_failed(x, lf.f->input, lf.f->n, lf.f->display, why);
		inflight_file_free(lf.f);
	}
	answer_held(x, why); /* left waiting for files in flight */
	if (!got || (x->plan_dry && !plan_holding(x->plan)))
		atomic_store(&x->c.walk_done, 1);
}

/* The results loop's callbacks (drive.h). */
static void drive_result(void *data, const pool_result *r)
{
	run_handle_result(data, r);
}

static double drive_wait(void *data)
{
	return run_results_wait(data);
}

static void drive_tick(void *data, pool *p)
{
	run_ctx *x = data;
	if (stop_signal() && !x->stop_said) {
		x->stop_said = 1;
		atomic_store(&x->c.stopping, 1);
		report_stopping(x->rep, stop_signal());
	}
	run_check_disk(x, p);
	run_check_journal(x, p);
	if (x->nfinished && run_results_wait(x) == 0)
		run_flush_finished(x);
}

static int drive_terminate(void *data)
{
	(void)data;
	return stop_now(); /* a second Ctrl-C: stop now */
}

/* Pool events: deaths, respawns and retried attempts, for the trace; a dead
 * attempt's temp files are removed before the retry runs. */
static void on_pool_event(const pool_event *ev, void *data)
{
	run_ctx *x = data;
	inflight_file *f = ev->kind == POOL_EV_RETRY ? inflight_get(x->flight, ev->index) : NULL;
	if (f)
		run_remove_temps(x, f, ev->pid);
	if (!x->tr)
		return;
	switch (ev->kind) {
	case POOL_EV_SPAWN:
		trace_instant(x->tr, ev->worker, ev->at_ns, "worker started", "");
		break;
	case POOL_EV_EXIT:
		trace_instant(x->tr, ev->worker, ev->at_ns,
			      ev->recycled ? "worker left" : "worker died", ev->cause);
		break;
	case POOL_EV_RETRY: {
		const char *input = f ? f->input : "?", *slash = strrchr(input, '/');
		char args[64];
		snprintf(args, sizeof args, "\"attempt\":%d", ev->attempt);
		trace_attempt(x->tr, ev->worker, ev->pid, ev->start_ns, ev->end_ns,
			      slash ? slash + 1 : input,
			      ev->status == POOL_TIMEOUT ? TRACE_TIMEOUT : TRACE_CRASHED, args);
		trace_instant(x->tr, ev->worker, ev->at_ns, "retry", ev->cause);
		break;
	}
	}
}

/* The CPU the process had used when the run began: loading libvips' 106 shared
 * libraries and parsing the options came before the run's clock started, and
 * counting them made a run that stopped at once report "383% of 2 cores". */
static double cpu_at_start;

/* CPU seconds of this process and its reaped workers since the run began. */
static double cpu_seconds(void)
{
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
			kids.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
			kids.ru_stime.tv_usec) / 1e6 - cpu_at_start;
}


/* Has writing to standard output failed (now, or earlier: the stream's error
 * flag)? Said once on stderr. */
static int stdout_lost(const run_ctx *x)
{
	static int said;
	int e = 0;

	if (fflush(stdout) != 0)
		e = errno;
	if (!ferror(stdout))
		return 0;
	/* Holding the report or a trace, whose close names it: the lines were on
	 * standard error, and not lost. */
	if (!said++ && !x->stdout_is_side)
		fprintf(stderr, "imgpool: writing to standard output failed%s%s: per-file lines "
			"were lost\n", e ? ": " : "", e ? strerror(e) : "");
	return 1;
}

/* The least time a worker has to start, whatever --timeout says. */
#define START_TIMEOUT_S 60.0

static task_config worker_config; /* in the parent's memory before fork: workers see it */

/* Start the pool, stream every file through it, collect. Returns 1 when the pool
 * broke or could not start (its error said on stderr), -1 before it was tried. */
static int run_pool(run_ctx *x, double t0)
{
	const imgpool_options *o = x->o;
	char msg[MSG_LEN];
	int cpus = shard_cpus(); /* what the scheduler gave this task, not the node */
	int jobs = run_jobs(o);
	if (shard_cpus_warning(msg, sizeof msg))
		report_say(stderr, "%s", msg);
	/* -j 100 on 2 CPUs: every worker is started (and pays libvips' start-up and
	 * its memory) before the first file; 2 files took 0.45 s where -j 2 takes
	 * 0.05 s. Said, not refused: a lesson on oversubscription asks for it. */
	if (jobs > 4 * cpus && !o->quiet)
		report_say(stderr, "imgpool: warning: -j %d starts %d workers on %d CPU%s: past "
			   "the CPUs they only wait their turn, each with its own memory; -j %d is "
			   "the default here", jobs, jobs, cpus, cpus == 1 ? "" : "s", cpus);
	if (o->trace_path || o->timeline_path) {
		x->tr = trace_open(o->trace_path, o->timeline_path,
				   clock_now_ns() - (int64_t)((clock_now_s() - t0) * 1e9), jobs, msg,
				   sizeof msg);
		if (!x->tr) {
			report_say(stderr, "imgpool: %s", msg);
			/* A --trace FIFO's open() waits for a reader: a signal ends it. */
			x->sum.exit_code = stop_signal() ? 128 + stop_signal() : EXIT_USAGE;
			return -1;
		}
	}
	x->min_free = run_min_free_bytes(o, outdir_fd(x->od));
	worker_config.settings = o->settings;
	worker_config.vips_threads = cpus / jobs > 1 ? cpus / jobs : 1;
	file_ident tid = outdir_tmp_ident(x->od);
	snprintf(worker_config.tmp_path, sizeof worker_config.tmp_path, "%s",
		 outdir_tmp_path(x->od));
	worker_config.tmp_dev = tid.dev;
	worker_config.tmp_ino = tid.ino;
	/* prefetch 0: the pool sizes it by measured task time, and takes back what a
	 * stuck worker holds; min_ready -1: pool_create() returns once the workers are
	 * forked, and the wait for the first ready one below is one a signal ends
	 * (workers stopped from outside as they started kept a TERM waiting until
	 * their start timed out, or for ever with --timeout 0). The first file starts
	 * as soon as one worker has started libvips, while the others still start. */
	pool_options po = {
		.workers = jobs, .init = task_worker_init, .init_arg = &worker_config,
		.fini = task_worker_fini, .timeout = o->timeout,
		/* A worker's start (fork, libvips) is not a file: a --timeout short
		 * enough for files must not fail every start on a loaded machine. */
		.init_timeout = o->timeout > 0 && o->timeout < START_TIMEOUT_S ? START_TIMEOUT_S : 0,
		.retries = o->retries ? o->retries : -1, .prefetch = 0, .min_ready = -1,
		.max_worker_rss = o->max_worker_rss, .on_event = on_pool_event, .event_data = x,
	};
	char *perr = NULL;
	vipsmodules_preload();
	pool *p = pool_create(&po, &perr);
	if (p) {
		stop_pool_started(p); /* a signal of the setup's stops it before the first file */
		if (pool_wait_ready(p, 1) < 0 && !pool_interrupted(p)) {
			const char *why = pool_error(p); /* "broken: " + pool_create's */
			perr = strdup(strncmp(why, "broken: ", 8) ? why : why + 8);
			stop_pool_done();
			pool_destroy(p);
			p = NULL;
		}
	}
	if (!p) {
		/* A broken pool: every file an error, a summary, exit 1. */
		report_say(stderr, "imgpool: cannot start the workers: %s", perr ? perr : "?");
		snprintf(msg, sizeof msg, "the workers could not be started (%s)", perr ? perr : "?");
		free(perr);
		answer_unstarted(x, msg);
		x->sum.workers = jobs;
		x->sum.cores = cpus;
		return 1;
	}
	progress_mode mode = o->progress;
	if (mode == PROGRESS_AUTO) /* a terminal that cannot redraw a line gets lines */
		mode = isatty(STDERR_FILENO) && !report_term_dumb() ? PROGRESS_BAR : PROGRESS_LINES;
	monitor *mon = monitor_start(mode, o->progress_interval, p, &x->c, x->rep, x->tr);
	run_check_disk(x, p);
	drive_ops ops = {drive_result, drive_wait, drive_tick, drive_terminate, x};
	discover_nowait(x->d, 1); /* the feed answers POOL_FEED_LATER rather than block */
	drive_end end = drive_imap(p, task_thumbnail, feed, x, discover_wait_fd(x->d), &ops);
	int broken = end == DRIVE_BROKEN, terminated = end == DRIVE_TERMINATED;
	x->sum.stopped_running = terminated;
	run_flush_finished(x);
	/* Every file handed to the pool came back, unless the pool broke. */
	if (end != DRIVE_BROKEN && inflight_count(x->flight))
		BUG("%llu files handed to the pool never came back",
		    (unsigned long long)inflight_count(x->flight));
	/* A stop leaves files planned and never handed to the pool, which had no
	 * answer but the summary's count. One of the run's own (--min-free, the
	 * journal gone) answers every file left as a broken pool does, an error
	 * naming the cause; a signal, those already planned, as cancelled. (A stop
	 * before the first file ends the imap at once, as DRIVE_BROKEN.) */
	if (pool_interrupted(p))
		x->stop_msg[0] ? answer_unstarted(x, x->stop_why) : answer_window(x);
	/* A pool this run stopped (a signal, --min-free) ends its calls with -1 and
	 * "interrupted" too: that stop has its own line, this one is for a pool that
	 * broke. The exit code says "not finished" either way. */
	int stopped = pool_interrupted(p);
	if (broken && !stopped)
		report_say(stderr, "imgpool: the worker pool stopped: %s", pool_error(p));
	pool_close(p);
	if (!terminated && !broken && pool_join(p) < 0) {
		if (!stopped)
			report_say(stderr, "imgpool: the worker pool stopped: %s", pool_error(p));
		broken = 1;
	}
	if (broken && !stopped) {
		snprintf(msg, sizeof msg, "the worker pool stopped (%s)", pool_error(p));
		answer_unstarted(x, msg);
	}
	monitor_sample ms = {0};
	monitor_stop(mon, &ms);
	pool_stats ps;
	pool_stats_get(p, &ps);
	x->sum.recycled = ps.recycled;
	x->sum.crashed = ps.crashed;
	stop_pool_done(); /* from here a second signal is recorded: the summary says 128+it */
	pool_destroy(p);
	x->sum.workers = jobs;
	x->sum.rss_peak = ms.rss_peak;
	/* Every worker has been waited for now, and the kernel kept the peak of the
	 * largest (RUSAGE_CHILDREN's ru_maxrss, in KiB): exact, where the monitor's
	 * samples miss a file's spike between two of them (a 6000x6000 PNG: 16 MB
	 * sampled, 113 MB true). */
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0 && (uint64_t)ru.ru_maxrss * 1024 > x->sum.rss_peak)
		x->sum.rss_peak = (uint64_t)ru.ru_maxrss * 1024;
	x->sum.cores = ms.cores ? ms.cores : cpus;
	return broken;
}

/* Write the trace and the summary; fix the exit code before it is printed. */
static void finish(run_ctx *x, double t0, int broken)
{
	char msg[MSG_LEN];
	x->sum.done = atomic_load(&x->c.done);
	x->sum.failed = atomic_load(&x->c.failed);
	x->sum.skipped = atomic_load(&x->c.skipped);
	x->sum.wall_s = clock_now_s() - t0;
	x->sum.cpu_s = cpu_seconds();
	x->sum.interrupted = stop_signal();
	/* The run's own walk, if it finished, or the counting walk's total. */
	x->sum.total_known = atomic_load(&x->c.walk_done) || atomic_load(&x->c.total_known);
	x->sum.total = atomic_load(&x->c.walk_done) ? atomic_load(&x->c.found)
						   : atomic_load(&x->c.total);
	x->sum.stop_reason = x->stop_msg[0] ? x->stop_msg : NULL;
	x->sum.adopted = plan_adopted(x->plan);
	x->sum.failed_earlier = plan_failed_earlier(x->plan);
	x->sum.pruned = x->pruned;
	x->sum.not_walked = discover_not_walked(x->d);
	x->sum.other_outputs = discover_other_outputs(x->d, &x->sum.other_output);
	int trouble = 0;
	if (x->tr) {
		char title[300];
		unsigned long long files = x->sum.done + x->sum.failed;
		snprintf(title, sizeof title, "imgpool: %llu file%s on %d worker%s", files,
			 files == 1 ? "" : "s", x->sum.workers, x->sum.workers == 1 ? "" : "s");
		if (trace_close(x->tr, clock_now_ns(), title, msg, sizeof msg) < 0) {
			report_say(stderr, "imgpool: %s", msg);
			trouble = 1;
		}
		x->tr = NULL;
	}
	/* The journal's last batch is committed here, not at teardown, after the
	 * exit code: a commit that fails (a full disk, the journal moved away after
	 * the last look) loses the records of files this run made, which the next
	 * run adopts or makes again; said, and the run is not a clean one. */
	int journal_gone = x->stop_msg[0] && !x->stop_for_disk; /* said by its stop */
	if (x->j && !x->o->dry_run &&
	    (journal_sync(x->j) < 0 || x->journal_unrecorded || journal_rollbacks(x->j)) &&
	    !journal_gone) {
		/* Moved away, it takes every record with it: the next run finds
		 * the thumbnails there without proof, and refuses them (they might be
		 * yours), as it warns then. */
		report_say(stderr, "imgpool: the journal could not record every file (%s): %s",
			   journal_error(x->j),
			   journal_moved(x->j) ? "if it was moved, put it back before the "
						 "next run, which without it takes no "
						 "thumbnail there for imgpool's (--overwrite "
						 "makes them again)"
					       : "the next run adopts or makes again the "
						 "thumbnails made");
		trouble = 1;
	}
	/* The per-file lines are the files' answers: lost ones (a full disk, a pipe
	 * its reader closed) fail the run, as a lost report does. */
	if (stdout_lost(x))
		trouble = 1;
	/* A broken pool, or files left unfinished without a stop, never look done. */
	x->sum.exit_code = stop_signal() ? 128 + stop_signal()
			   : x->sum.failed || broken || trouble || x->stop_msg[0] ||
					   x->sum.cancelled || x->removal_trouble
				   ? EXIT_SOME_FAILED
				   : EXIT_ALL_DONE;
	report_summary_text(x->rep, &x->sum);
	if (!trouble && stdout_lost(x) && x->sum.exit_code == EXIT_ALL_DONE)
		x->sum.exit_code = EXIT_SOME_FAILED; /* before the record says it */
	report_summary_record(x->rep, &x->sum);
	if (report_close(x->rep) < 0) {
		report_say(stderr, "imgpool: --report: writing '%s' failed: %s", x->report_path,
			strerror(errno));
		if (x->sum.exit_code == EXIT_ALL_DONE)
			x->sum.exit_code = EXIT_SOME_FAILED;
	}
	x->rep = NULL;
}

/* Setup failed (the output folder or its temp folder cannot be used, memory):
 * a --report still ends with a summary and the exit code, so that a cron job's
 * report (or the last summary of a --report-append file) never shows the
 * previous run's success. Opened here (quiet: the cause is on stderr already)
 * when the failure came before it was. Not for a usage error, nor when another
 * run holds the folder (its own report may be that very file). */
static void report_setup_failure(run_ctx *x, double t0)
{
	char msg[MSG_LEN];
	report *r = x->rep;
	x->rep = NULL;
	int summed = x->sum.exit_code == EXIT_SOME_FAILED || x->sum.interrupted;
	/* Not a second time when it was refused: a FIFO with no reader would hold the
	 * run in open() again, after the signal that ended the first wait. */
	if (summed && !r && x->report_path && !x->report_refused)
		r = report_open_append(stdout, stderr, 1, 0, x->report_path,
				       x->o->report_append, msg, sizeof msg);
	if (r && summed) {
		x->sum.not_run = !x->sum.interrupted;
		x->sum.wall_s = clock_now_s() - t0;
		x->sum.cpu_s = cpu_seconds();
		report_summary_print(r, &x->sum);
	}
	report_close(r);
}

int run_imgpool(const imgpool_options *o)
{
	double t0 = clock_now_s();
	cpu_at_start = cpu_seconds();
	static run_ctx x; /* one per process */
	memset(&x, 0, sizeof x);
	x.o = o;
	x.started_ns = clock_wall_ns(); /* before any input is read */
	int broken = 0;
	/* From the start: a TERM in the first milliseconds killed the run outright, with
	 * no summary (the handler only records it until the pool exists). */
	stop_install();
	sinks_note(STDOUT_FILENO, 0); /* the others are noted as opened (sidefile.c) */
	sinks_note(STDERR_FILENO, 0);
	int set_up = run_setup(&x);
	if (set_up == 0) {
		if (o->dry_run) {
			run_dry(&x);
			x.sum.dry_run = 1;
		} else if ((broken = run_pool(&x, t0), stop_setup_over(), broken) < 0) {
			int rc = x.sum.exit_code;
			report_close(x.rep);
			run_teardown(&x);
			sinks_restore();
			return rc;
		} else if (o->prune && x.j && !stop_signal() &&
			   (x.stop_for_disk || (!broken && !x.stop_msg[0])) &&
			   !journal_moved(x.j)) {
			/* After a --min-free stop too (one before the first file ends
			 * the pool as broken): the walk went on to the end to answer
			 * every file, and pruning is what gives a full disk room back
			 * (a nightly run would otherwise never free it). Not when the
			 * journal was moved away: it is not this run's to prune by. */
			run_prune(&x);
		}
		if (!o->dry_run && x.j)
			prune_note_roots(x.j, (const char *const *)o->paths, o->npaths, x.d);
		stop_setup_over();
		finish(&x, t0, broken);
	} else {
		/* A setup step a signal cut short (opening a --files-from FIFO whose
		 * writer has not come, or a --report FIFO whose reader has not: EINTR) is
		 * an interrupted run, not a usage error. */
		if (stop_signal()) {
			x.sum.interrupted = stop_signal();
			x.sum.exit_code = 128 + stop_signal();
		}
		stop_setup_over(); /* its summary is written below */
		report_setup_failure(&x, t0);
	}
	run_teardown(&x);
	sinks_restore();
	return x.sum.exit_code;
}
