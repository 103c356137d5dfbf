/* SPDX-License-Identifier: MIT */
/*
 * bench.c — `imgpool bench`: how speedup grows with workers, for teaching. See bench.h.
 *
 * The shape of a bench:
 *   parse     options_parse() on a rebuilt argv (so the size/format options are
 *             exactly those of a run), plus our own --jobs-list --repeat --csv
 *             --plot --timeline
 *   discover  once, into memory (at most BENCH_MAX_FILES files), outputs planned
 *             into a mkdtemp folder; every input is read once beforehand so that no
 *             measured run pays the disk for the others
 *   measure   --repeat rounds; each round runs the baseline (one forked child that
 *             starts libvips and then thumbnails every file in a plain loop) and then
 *             the pool at every job count. Rounds interleave the configurations, so
 *             drift (another job on the machine, a CPU clocking down) touches all of
 *             them alike instead of biasing whichever ran last.
 *   report    medians, the table, CSV, the SVG chart; a bad file is named once
 *   clean up  the temp folder is removed, after Ctrl-C as well
 * The parent never calls into libvips: the baseline runs in a child, pool runs in
 * workers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_internal.h"
#include "clock.h"
#include "discover.h"
#include "drive.h"
#include "options.h"
#include "report.h"
#include "run.h"
#include "shard.h"
#include "task.h"
#include "thumb.h"
#include "trace.h"
#include "vipsmodules.h"

/* The pool's and the trace's clock (clock.h). */
#define now_ns clock_now_ns
#define now_s clock_now_s

/* ------------------------------------------------------------------------- */
/* The temporary output folder                                                 */

/* Make "$TMPDIR/imgpool-bench-XXXXXX" (or under /tmp). */
static int make_tmpdir(bench *b)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(b->tmpdir, sizeof b->tmpdir, "%s/imgpool-bench-XXXXXX", base);
	if (!mkdtemp(b->tmpdir)) {
		report_say(stderr, "imgpool bench: cannot make a temporary folder in '%s': %s",
			base, strerror(errno));
		b->tmpdir[0] = '\0';
		return -1;
	}
	return 0;
}

/* nftw callback: remove one entry, depth first, never following a link. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (remove(path) < 0)
		report_say(stderr, "imgpool bench: cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* rm -rf the temporary folder (if made). */
static void remove_tmpdir(bench *b)
{
	if (b->tmpdir[0])
		nftw(b->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	b->tmpdir[0] = '\0';
}

/* Unlink every output of the last run (the workers make them as new files in the
 * temp folder), so each run does the same work. */
static void clear_outputs(const bench *b)
{
	DIR *d = opendir(b->tmpdir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* ------------------------------------------------------------------------- */
/* The files                                                                   */

/* Keep one discovered file: its encoded task and size. */
static int add_file(bench *b, const discover_item *it)
{
	if (b->nfiles == b->capfiles) {
		size_t cap = b->capfiles ? 2 * b->capfiles : 64;
		bench_file *f = realloc(b->files, cap * sizeof *f);
		if (!f)
			return -1;
		b->files = f;
		b->capfiles = cap;
	}
	pool_buf buf = {0};
	task_desc t = {.index = b->nfiles, .n = it->noutputs, .input = it->input,
		       .beneath = (uint32_t)it->beneath, .found = {it->dev, it->ino}};
	for (int i = 0; i < it->noutputs; i++)
		if (thumb_output_format(b->o.settings.format, it->out_rel[i], &t.formats[i]) < 0)
			return 1;
	if (task_encode(&buf, &t) < 0) {
		pool_buf_release(&buf);
		return -1;
	}
	b->files[b->nfiles++] = (bench_file){.task = buf.data, .len = buf.len, .size = it->size};
	b->bytes += it->size;
	return 0;
}

/* Walk the PATHs once, planning outputs into the temp folder. Files that cannot
 * be planned (collisions, unreadable) are named once here and left out. Returns
 * 0, or -1 when a PATH itself is missing or unreadable (a usage error: better said
 * now than after an hour of measuring the other PATHs). */
static int discover_files(bench *b)
{
	discover_config dc = {
		.paths = b->o.paths, .npaths = b->o.npaths, .recursive = b->o.recursive,
		.includes = b->o.includes, .nincludes = b->o.nincludes,
		.excludes = b->o.excludes, .nexcludes = b->o.nexcludes, .out_dir = b->tmpdir,
		.name_template = b->o.name_template, .settings = &b->o.settings,
	};
	char *err = NULL;
	discover *d = discover_open(&dc, &err);
	if (!d) {
		report_say(stderr, "imgpool bench: %s", err ? err : "cannot start the walk");
		free(err);
		return -1;
	}
	discover_item it;
	int bad_paths = 0;
	while (discover_next(d, &it)) {
		if (it.state == ITEM_ERROR && !strcmp(it.rel, it.input)) {
			report_say(stderr, "imgpool bench: %s: %s", it.input, it.error);
			bad_paths++;
			continue;
		}
		if (it.state == ITEM_ERROR) {
			report_say(stderr, "imgpool bench: left out: %s: %s", it.input, it.error);
			b->unplanned++;
			continue;
		}
		if (b->nfiles == BENCH_MAX_FILES) {
			b->capped = 1;
			break;
		}
		int added = add_file(b, &it);
		if (added > 0) {
			report_say(stderr, "imgpool bench: left out: %s: its output name gives no "
					"format imgpool writes", it.input);
			b->unplanned++;
		} else if (added < 0) {
			fprintf(stderr, "imgpool bench: out of memory after %zu files\n", b->nfiles);
			break;
		}
	}
	discover_close(d);
	if (bad_paths)
		return -1;
	if (b->capped)
		fprintf(stderr, "imgpool bench: using the first %d files only (a bench set is "
				"held in memory; name fewer or smaller folders)\n", BENCH_MAX_FILES);
	return 0;
}

/* Read every input once (bytes only, no decoding), so that the first measured
 * run does not pay the disk while the later ones find the page cache warm. */
static void warm_page_cache(const bench *b)
{
	static char buf[1 << 16];
	for (size_t i = 0; i < b->nfiles && !bench_signal; i++) {
		int fd = open(bench_file_input(&b->files[i]), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof buf) > 0)
			;
		close(fd);
	}
}

/* ------------------------------------------------------------------------- */
/* Pool runs                                                                   */

typedef struct feed_state {
	bench *b;
	size_t next;
} feed_state;

/* The lazy feed: the files in order, as their ready-made task bytes. */
static int bench_feed(void *data, pool_task *t)
{
	feed_state *fs = data;
	if (fs->next >= fs->b->nfiles)
		return 0;
	const bench_file *f = &fs->b->files[fs->next++];
	*t = (pool_task){f->task, f->len};
	return 1;
}

/* Pool events onto the timeline: worker start-up is part of what we measure. */
static void bench_event(const pool_event *ev, void *data)
{
	trace *tr = data;
	switch (ev->kind) {
	case POOL_EV_SPAWN:
		trace_instant(tr, ev->worker, ev->at_ns, "worker started", "");
		break;
	case POOL_EV_EXIT:
		trace_instant(tr, ev->worker, ev->at_ns,
			      ev->recycled ? "worker left" : "worker died", ev->cause);
		break;
	case POOL_EV_RETRY:
		trace_attempt(tr, ev->worker, ev->pid, ev->start_ns, ev->end_ns, "retried",
			      ev->status == POOL_TIMEOUT ? TRACE_TIMEOUT : TRACE_CRASHED, NULL);
		break;
	}
}

/* One result: count a failure against its file; draw it on the timeline. */
static void take_result(bench *b, const pool_result *r, trace *tr)
{
	thumb_result res;
	if (r->status == POOL_OK && task_result_decode(r->data, r->len, &res) < 0) {
		static const char bad[] = "internal error: malformed result from a worker";
		bench_note_failure(b, r->index, FAIL_CRASH, bad, sizeof bad - 1);
	} else if (r->status == POOL_ERROR) {
		failure_kind kind;
		const char *cause;
		task_error_decode(r->data, r->len, &kind, &cause);
		bench_note_failure(b, r->index, kind, cause, strlen(cause));
	} else if (r->status != POOL_OK && r->status != POOL_CANCELLED) {
		const char *cause = r->data && r->len ? r->data : "unknown error";
		bench_note_failure(b, r->index, r->status == POOL_TIMEOUT ? FAIL_TIMEOUT : FAIL_CRASH,
				   cause, strlen(cause));
	}
	if (tr && r->start_ns && r->index < b->nfiles) {
		static const trace_status ts[] = {
			[POOL_OK] = TRACE_OK, [POOL_ERROR] = TRACE_ERROR,
			[POOL_CRASHED] = TRACE_CRASHED, [POOL_TIMEOUT] = TRACE_TIMEOUT,
			[POOL_CANCELLED] = TRACE_CANCELLED, [POOL_PENDING] = TRACE_CANCELLED,
		};
		trace_attempt(tr, r->worker, r->pid, r->start_ns, r->end_ns,
			      bench_base_of(bench_file_input(&b->files[r->index])), ts[r->status], NULL);
	}
}

/* The results loop's callbacks (drive.h). */
typedef struct bench_drive {
	bench *b;
	trace *tr;
} bench_drive;

static void bench_result(void *data, const pool_result *r)
{
	bench_drive *bd = data;
	take_result(bd->b, r, bd->tr);
}

static int bench_terminate(void *data)
{
	(void)data;
	return bench_signal != 0; /* outputs are scratch: stop now */
}

/* One pool run at `jobs` workers, timed from just before pool_create to just after
 * pool_join. Returns 0 with *secs, or -1 with a cause in msg. */
static int run_pool(bench *b, int jobs, trace *tr, double *secs, char *msg, size_t len)
{
	pool_options po = {
		.workers = jobs, .init = task_worker_init, .init_arg = &bench_config,
		.fini = task_worker_fini, .timeout = b->o.timeout,
		.retries = b->o.retries ? b->o.retries : -1, .prefetch = 1,
		.max_worker_rss = b->o.max_worker_rss,
		.on_event = tr ? bench_event : NULL, .event_data = tr,
	};
	feed_state fs = {b, 0};
	char *err = NULL;
	fflush(NULL);
	double t0 = now_s();
	pool *p = pool_create(&po, &err);
	if (!p) {
		snprintf(msg, len, "cannot start %d workers: %s", jobs, err ? err : "?");
		free(err);
		return -1;
	}
	bench_signals_watch(p);
	if (bench_signal)
		pool_interrupt(p);
	bench_drive bd = {b, tr};
	drive_ops ops = {bench_result, NULL, NULL, bench_terminate, &bd};
	drive_end end = drive_imap(p, task_thumbnail, bench_feed, &fs, -1, &ops);
	int broken = end == DRIVE_BROKEN, terminated = end == DRIVE_TERMINATED;
	if (broken)
		snprintf(msg, len, "the worker pool stopped: %s", pool_error(p));
	pool_close(p);
	if (!terminated && !broken && pool_join(p) < 0 && !broken) {
		snprintf(msg, len, "the worker pool stopped: %s", pool_error(p));
		broken = 1;
	}
	*secs = now_s() - t0;
	bench_signals_watch(NULL);
	pool_destroy(p);
	if (bench_signal && !broken)
		snprintf(msg, len, "interrupted");
	return broken || bench_signal ? -1 : 0;
}

/* ------------------------------------------------------------------------- */
/* Measuring                                                                   */

/* "bench: run 2/3, jobs 2 ... " before a run; its time after it. stderr. */
static void progress(const bench *b, int round, int jobs, const char *done)
{
	if (b->o.quiet)
		return;
	if (!done && jobs)
		fprintf(stderr, "bench: run %d/%d, jobs %d ... ", round, b->repeat, jobs);
	else if (!done)
		fprintf(stderr, "bench: run %d/%d, in-process loop ... ", round, b->repeat);
	else
		fprintf(stderr, "%s\n", done);
}

/* CPU seconds (user + system) of our reaped children so far: the baseline child
 * and every pool worker are direct children that are waited for, so the change
 * across a run is the CPU the run's work took, whatever else the machine ran. */
static double children_cpu(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Run one configuration once and file its time. Returns -1 when interrupted. */
static int measure(bench *b, bench_row *row, int round, int last_round)
{
	char msg[1200], done[64];
	double secs = 0;
	int rc;
	trace *tr = NULL;
	int draw = last_round && b->timeline_path && row->jobs == b->jobs[b->njobs - 1];
	if (row->error)
		return 0; /* it could not run before: no point trying again */
	progress(b, round, row->jobs, NULL);
	clear_outputs(b);
	if (draw) {
		tr = trace_open(NULL, b->timeline_path, now_ns(), row->jobs, msg, sizeof msg);
		if (!tr)
			report_say(stderr, "imgpool bench: %s", msg);
	}
	double cpu0 = children_cpu();
	if (row->jobs == 0)
		rc = bench_run_baseline(b, &secs, msg, sizeof msg);
	else
		rc = run_pool(b, row->jobs, tr, &secs, msg, sizeof msg);
	double cpu = children_cpu() - cpu0;
	if (tr) {
		char title[200], tmsg[600];
		snprintf(title, sizeof title, "imgpool bench: %zu file%s on %d worker%s (run %d of %d)",
			 b->nfiles, b->nfiles == 1 ? "" : "s", row->jobs, row->jobs == 1 ? "" : "s",
			 round, b->repeat);
		if (trace_close(tr, now_ns(), title, tmsg, sizeof tmsg) < 0)
			report_say(stderr, "imgpool bench: %s", tmsg);
	}
	if (rc == 0) {
		row->cpu[row->n] = cpu;
		row->t[row->n++] = secs;
		b->runs_done++;
		snprintf(done, sizeof done, "%.3f s", secs);
		progress(b, round, row->jobs, done);
		return 0;
	}
	progress(b, round, row->jobs, bench_signal ? "interrupted" : "failed");
	if (bench_signal)
		return -1;
	report_say(stderr, "imgpool bench: %s: %s",
		row->jobs ? "pool run" : "in-process loop", msg);
	row->error = strdup(msg);
	return 0;
}

/* Sort v[0..n) in place and return its median (0 for none). Insertion sort:
 * n <= BENCH_MAX_REPEAT. */
static double sorted_median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* Median, smallest and largest wall time of a row's runs; median CPU time. */
static void summarise_row(bench_row *row)
{
	double s[BENCH_MAX_REPEAT], c[BENCH_MAX_REPEAT];
	int n = row->n;
	memcpy(s, row->t, (size_t)n * sizeof s[0]);
	memcpy(c, row->cpu, (size_t)n * sizeof c[0]);
	row->median = sorted_median(s, n);
	row->lo = n ? s[0] : 0;
	row->hi = n ? s[n - 1] : 0;
	row->cpu_median = sorted_median(c, n);
}

/* ------------------------------------------------------------------------- */

/* Free everything the bench holds. */
static void bench_free(bench *b)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		free(b->files[i].task);
		free(b->files[i].cause);
	}
	free(b->files);
	if (b->rows)
		for (int i = 0; i <= b->njobs; i++)
			free(b->rows[i].error);
	free(b->rows);
	if (b->o_parsed)
		options_free(&b->o);
	free(b->args);
}

/* The rounds: each measures the baseline, then every job count. Returns 0, or -1
 * when interrupted. */
static int measure_all(bench *b)
{
	for (int round = 1; round <= b->repeat; round++)
		for (int i = 0; i <= b->njobs; i++)
			if (measure(b, &b->rows[i], round, round == b->repeat) < 0)
				return -1;
	return 0;
}

int bench_main(int argc, char **argv)
{
	static bench b; /* large (the jobs list); one per process */
	memset(&b, 0, sizeof b);
	b.repeat = 3;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	b.online = online > 0 ? (int)online : 1;
	/* Under taskset, a cgroup's cpuset or Slurm, 2 workers on 1 usable CPU
	 * are oversubscribed however many the machine has: the lesson counts the
	 * CPUs the workers can run on. */
	b.cpus = shard_cpus();
	int k = bench_parse_args(&b, argc, argv);
	if (k != OPTIONS_RUN)
		return k == OPTIONS_EXIT_OK ? 0 : EXIT_USAGE;
	if (!b.njobs)
		bench_default_jobs_list(&b);
	if (bench_check_output_paths(&b) < 0) {
		bench_free(&b);
		return EXIT_USAGE;
	}
	struct sigaction old[BENCH_SIGNALS];
	bench_install_signals(old);
	int rc = EXIT_SOME_FAILED;
	if (make_tmpdir(&b) < 0)
		goto out;
	if (b.o.verbose)
		report_say(stderr, "bench: outputs go to %s (removed at the end)", b.tmpdir);
	if (discover_files(&b) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (!b.nfiles) {
		fprintf(stderr, "imgpool bench: no images found in the given paths: nothing to "
				"measure\n");
		goto out;
	}
	b.rows = calloc((size_t)b.njobs + 1, sizeof *b.rows);
	if (!b.rows) {
		fprintf(stderr, "imgpool bench: out of memory\n");
		goto out;
	}
	for (int i = 1; i <= b.njobs; i++)
		b.rows[i].jobs = b.jobs[i - 1];
	bench_config.settings = b.o.settings;
	bench_config.vips_threads = 1;
	snprintf(bench_config.tmp_path, sizeof bench_config.tmp_path, "%s", b.tmpdir);
	double load[1];
	b.load_before = getloadavg(load, 1) == 1 ? load[0] : -1;
	warm_page_cache(&b);
	vipsmodules_preload();	/* as the command does, before its pool */
	int interrupted = measure_all(&b) < 0 || bench_signal;
	for (int i = 0; i <= b.njobs; i++)
		summarise_row(&b.rows[i]);
	bench_fit_amdahl(&b);
	int any_pool = 0;
	for (int i = 1; i <= b.njobs; i++)
		any_pool |= b.rows[i].n > 0;
	if (b.rows[0].n || any_pool) {
		if (interrupted)
			printf("(interrupted: the runs that finished)\n");
		bench_print_table(&b);
		bench_print_failures(&b);
	}
	size_t always = 0;
	for (size_t i = 0; i < b.nfiles; i++)
		always += b.files[i].fails >= b.runs_done && b.runs_done;
	rc = EXIT_ALL_DONE;
	if (interrupted) {
		fprintf(stderr, "imgpool bench: interrupted; the temporary outputs are removed\n");
	} else if (!b.rows[0].n || !any_pool) {
		report_say(stderr, "imgpool bench: nothing could be measured: %s",
			!b.rows[0].n ? "the sequential baseline did not run" : "no pool run finished");
		rc = EXIT_SOME_FAILED;
	} else if (always == b.nfiles) {
		fprintf(stderr, "imgpool bench: every file failed in every run: the times measure "
				"failures, not thumbnails\n");
		rc = EXIT_SOME_FAILED;
	}
	if (rc == EXIT_ALL_DONE && b.csv_path && bench_write_csv(&b) < 0)
		rc = EXIT_SOME_FAILED;
	if (rc == EXIT_ALL_DONE && b.plot_path && bench_write_plot(&b) < 0)
		rc = EXIT_SOME_FAILED;
	if (interrupted)
		rc = 128 + (bench_signal ? bench_signal : SIGINT);
out:
	fflush(stdout);
	remove_tmpdir(&b);
	bench_restore_signals(old);
	bench_free(&b);
	return rc;
}
