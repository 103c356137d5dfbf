/* SPDX-License-Identifier: MIT */
/*
 * bench_report.c — `imgpool bench`'s numbers (speedup, efficiency, Karp-Flatt, the
 * fitted Amdahl serial fraction), its table and its CSV. See bench_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "bench_internal.h"
#include "clock.h"
#include "report.h"
#include "sidefile.h"
#include "thumb.h"

#define now_s clock_now_s

/* ------------------------------------------------------------------------- */
/* The numbers                                                                 */

/* Amdahl's law: the speedup on p workers with serial fraction s. */
double amdahl(double s, double p)
{
	return 1.0 / (s + (1.0 - s) / p);
}

/* Squared error of the Amdahl curve with serial fraction s against the measured
 * speedups of pool runs with 1 <= jobs <= max_jobs. */
static double amdahl_error(const bench *b, double s, int max_jobs)
{
	double e = 0;
	const bench_row *seq = &b->rows[0];
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (!r->n || r->jobs > max_jobs)
			continue;
		double d = seq->median / r->median - amdahl(s, r->jobs);
		e += d * d;
	}
	return e;
}

/* Fit s in [0,1] by least squares: a grid of 1001 points, then golden-section
 * search around the best. Fitted to the runs with jobs <= CPUs (past that the
 * flattening is the hardware, not a serial part of the work); to all of them when
 * every run was oversubscribed. No fit without a measured run with jobs > 1. */
void bench_fit_amdahl(bench *b)
{
	int max_jobs = b->cpus, usable_points = 0, any = 0;
	for (int i = 1; i <= b->njobs; i++)
		if (b->rows[i].n && b->rows[i].jobs > 1) {
			any = 1;
			usable_points += b->rows[i].jobs <= b->cpus;
		}
	b->amdahl_s = -1;
	if (!any || !b->rows[0].n)
		return;
	if (!usable_points)
		max_jobs = BENCH_MAX_JOBS;
	double best = 0, best_e = INFINITY;
	for (int k = 0; k <= 1000; k++) {
		double e = amdahl_error(b, k / 1000.0, max_jobs);
		if (e < best_e)
			best_e = e, best = k / 1000.0;
	}
	double lo = fmax(0, best - 0.001), hi = fmin(1, best + 0.001);
	const double g = (sqrt(5) - 1) / 2;
	for (int k = 0; k < 60; k++) {
		double a = hi - g * (hi - lo), c = lo + g * (hi - lo);
		if (amdahl_error(b, a, max_jobs) < amdahl_error(b, c, max_jobs))
			hi = c;
		else
			lo = a;
	}
	b->amdahl_s = (lo + hi) / 2;
	b->fit_jobs_max = 0;
	for (int i = 1; i <= b->njobs; i++)
		if (b->rows[i].n && b->rows[i].jobs <= max_jobs && b->rows[i].jobs > b->fit_jobs_max)
			b->fit_jobs_max = b->rows[i].jobs;
}

/* Speedup, efficiency, Karp-Flatt e = (1/S - 1/p) / (1 - 1/p), images/s. */
row_numbers bench_numbers(const bench *b, const bench_row *r)
{
	row_numbers n = {0};
	int p = r->jobs ? r->jobs : 1;
	n.speedup = r->jobs ? b->rows[0].median / r->median : 1.0;
	n.efficiency = n.speedup / p;
	n.rate = (double)b->nfiles / r->median;
	n.has_kf = r->jobs > 1;
	if (n.has_kf)
		n.karp_flatt = (1 / n.speedup - 1.0 / p) / (1 - 1.0 / p);
	n.has_amdahl = r->jobs && b->amdahl_s >= 0;
	if (n.has_amdahl)
		n.amdahl = amdahl(b->amdahl_s, p);
	n.oversubscribed = r->jobs > b->cpus;
	return n;
}

/* The row of the pool at 1 job, or NULL. */
const bench_row *bench_one_job_row(const bench *b)
{
	for (int i = 1; i <= b->njobs; i++)
		if (b->rows[i].jobs == 1 && b->rows[i].n)
			return &b->rows[i];
	return NULL;
}

/* "-s 256 -f same, fit inside" for headings. */
void bench_describe_settings(const thumb_settings *s, char *buf, size_t len)
{
	static const char *const formats[] = {"same", "jpeg", "png", "webp", "avif"};
	static const char *const fits[] = {"inside", "cover", "fill"};
	size_t used = (size_t)snprintf(buf, len, "-s ");
	for (int i = 0; i < s->nsizes && used < len; i++) {
		const thumb_size *z = &s->sizes[i];
		const char *comma = i ? "," : "";
		if (z->w && z->w == z->h)
			used += (size_t)snprintf(buf + used, len - used, "%s%d", comma, z->w);
		else if (z->w && z->h)
			used += (size_t)snprintf(buf + used, len - used, "%s%dx%d", comma, z->w, z->h);
		else if (z->w)
			used += (size_t)snprintf(buf + used, len - used, "%s%dx", comma, z->w);
		else
			used += (size_t)snprintf(buf + used, len - used, "%sx%d", comma, z->h);
	}
	if (used < len)
		snprintf(buf + used, len - used, " -f %s --fit %s", formats[s->format], fits[s->fit]);
}

/* ------------------------------------------------------------------------- */
/* The table                                                                   */

/* Print the table and the lines under it to stdout. */
void bench_print_table(const bench *b)
{
	char bytes[32], settings[200];
	bench_describe_settings(&b->o.settings, settings, sizeof settings);
	printf("imgpool bench: %zu images (%s), %s; %d CPUs online", b->nfiles,
	       report_bytes(b->bytes, bytes, sizeof bytes), settings, b->online);
	if (b->cpus != b->online)
		printf(" (%d usable by this process)", b->cpus);
	printf("; median of %d run%s\n", b->repeat, b->repeat == 1 ? "" : "s");
	printf("seq: one process, libvips started, thumbnailing every file in a loop (no pool)\n"
	       "jobs N: timed from just before the pool starts (fork + libvips start-up in each\n"
	       "        worker) until it has joined: what a run costs\n\n");
	printf("%5s %10s %7s %7s %9s %8s %11s %11s\n", "jobs", "wall s", "spread", "CPU s",
	       "images/s", "speedup", "efficiency", "Karp-Flatt");
	int over = 0;
	for (int i = 0; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		char label[16];
		if (r->jobs)
			snprintf(label, sizeof label, "%d%s", r->jobs, r->jobs > b->cpus ? "*" : " ");
		else
			snprintf(label, sizeof label, "seq ");
		over |= r->jobs > b->cpus;
		if (!r->n) {
			printf("%6s %s\n", label, r->error ? "could not run" : "not run (interrupted)");
			continue;
		}
		if (!b->rows[0].n) {
			printf("%6s %10.3f\n", label, r->median);
			continue;
		}
		row_numbers n = bench_numbers(b, r);
		char spread[16], kf[16];
		if (r->n > 1)
			snprintf(spread, sizeof spread, "%.1f%%", 100 * (r->hi - r->lo) / r->median);
		else
			snprintf(spread, sizeof spread, "-");
		if (n.has_kf)
			snprintf(kf, sizeof kf, "%.3f", n.karp_flatt);
		else
			snprintf(kf, sizeof kf, "-");
		printf("%6s %9.3f %7s %7.2f %9.2f %8.2f %11.2f %11s\n", label, r->median, spread,
		       r->cpu_median, n.rate, n.speedup, n.efficiency, kf);
	}
	putchar('\n');
	/* Before any conclusion: a fit on a busy machine's times is no finding. */
	if (b->load_before >= 0.5)
		printf("note: the load average was %.2f on %d CPUs before the bench started: other "
		       "processes\n  competed for the CPUs, so wall times are noisy (see spread) "
		       "and the fits below\n  are unreliable; CPU s is steadier\n",
		       b->load_before, b->online);
	const bench_row *one = bench_one_job_row(b);
	if (one && b->rows[0].n)
		printf("pool overhead: %+.1f%% = (T(1) - T(seq)) / T(seq) = (%.3f - %.3f) / %.3f\n"
		       "  what the pool adds to one worker's work: fork, libvips start-up in the "
		       "worker, task and result messages\n",
		       100 * (one->median - b->rows[0].median) / b->rows[0].median, one->median,
		       b->rows[0].median, b->rows[0].median);
	if (b->amdahl_s > 0)
		printf("Amdahl fit (jobs <= %d): serial fraction s = %.3f, so no number of workers "
		       "gives more than %.1fx\n", b->fit_jobs_max, b->amdahl_s, 1 / b->amdahl_s);
	else if (b->amdahl_s == 0)
		printf("Amdahl fit (jobs <= %d): serial fraction s = 0.000 (no serial part seen)\n",
		       b->fit_jobs_max);
	printf("Karp-Flatt e = (1/S - 1/p) / (1 - 1/p): the serial fraction each row implies;\n"
	       "  rising with p means the overhead grows with the workers\n");
	if (over)
		printf("* oversubscribed: more workers than the %d CPU%s %s\n", b->cpus,
		       b->cpus == 1 ? "" : "s", b->cpus == b->online ? "online" : "it may use");
	printf("CPU s: user + system time of the processes doing the work (the loop's child, "
	       "the workers)\n");
}

/* Bad files, each named once: those that failed in every run, then any that
 * failed only sometimes (a flaky file, or a timeout under load). */
void bench_print_failures(const bench *b)
{
	size_t always = 0, sometimes = 0;
	for (size_t i = 0; i < b->nfiles; i++) {
		if (!b->files[i].fails)
			continue;
		if (b->files[i].fails >= b->runs_done)
			always++;
		else
			sometimes++;
	}
	for (int pass = 0; pass < 2; pass++) {
		size_t count = pass ? sometimes : always, listed = 0;
		if (!count)
			continue;
		printf("%zu file%s failed in %s run%s (the work of every run includes %s):\n",
		       count, count == 1 ? "" : "s", pass ? "some" : "every",
		       pass ? "s" : "", count == 1 ? "it" : "them");
		for (size_t i = 0; i < b->nfiles; i++) {
			const bench_file *f = &b->files[i];
			int in_every = f->fails >= b->runs_done;
			if (!f->fails || in_every == pass)
				continue;
			if (listed++ == BENCH_MAX_LISTED) {
				printf("  ... and %zu more\n", count - BENCH_MAX_LISTED);
				break;
			}
			/* Names as the run's own lines show them (report_say()). */
			if (pass)
				report_say(stdout, "  %s: %s [%s] (in %d of %d runs)",
					   bench_file_input(f), f->cause ? f->cause : "?",
					   failure_name(f->kind), f->fails, b->runs_done);
			else
				report_say(stdout, "  %s: %s [%s]", bench_file_input(f),
					   f->cause ? f->cause : "?", failure_name(f->kind));
		}
	}
	if (b->unplanned)
		printf("%zu file%s left out (named above: they cannot be planned)\n", b->unplanned,
		       b->unplanned == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------- */
/* CSV                                                                         */

/* Write the table as CSV: the numbers of the table, with more digits. */
int bench_write_csv(const bench *b)
{
	char why[PATH_MAX + 256];
	sidefile *file = sidefile_create("--csv", b->csv_path, SIDEFILE_CSV, 1, 0, why, sizeof why);
	if (!file) {
		report_say(stderr, "imgpool bench: %s", why);
		return -1;
	}
	FILE *f = sidefile_stream(file);
	fprintf(f, SIDEFILE_CSV_BEGINS
		   "images_per_s,speedup,"
		   "efficiency,karp_flatt,amdahl_fit,oversubscribed,pool_overhead,cpus,images\n");
	const bench_row *one = bench_one_job_row(b);
	for (int i = 0; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (!r->n || !b->rows[0].n)
			continue;
		row_numbers n = bench_numbers(b, r);
		fprintf(f, "%s,%d,%.6f,%.6f,%.6f,%d,%.4f,%.4f,%.4f,%.4f,", r->jobs ? "pool" : "seq",
			r->jobs ? r->jobs : 1, r->median, r->lo, r->hi, r->n, r->cpu_median, n.rate,
			n.speedup, n.efficiency);
		if (n.has_kf)
			fprintf(f, "%.4f", n.karp_flatt);
		putc(',', f);
		if (n.has_amdahl)
			fprintf(f, "%.4f", n.amdahl);
		fprintf(f, ",%d,", n.oversubscribed);
		if (r == one)
			fprintf(f, "%.4f", (one->median - b->rows[0].median) / b->rows[0].median);
		fprintf(f, ",%d,%zu\n", b->cpus, b->nfiles);
	}
	if (sidefile_close(file, 1, why, sizeof why) != 0) {
		report_say(stderr, "imgpool bench: %s", why);
		return -1;
	}
	return 0;
}

