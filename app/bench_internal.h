/* SPDX-License-Identifier: MIT */
/*
 * bench_internal.h — what the files of `imgpool bench` share (bench.c: the command,
 * the files, the pool runs, measuring; bench_baseline.c: the sequential loop;
 * bench_report.c: the numbers, the table, CSV; bench_plot.c: the SVG chart).
 * Private to them: the command's contract is bench.h.
 */
#ifndef IMGPOOL_BENCH_INTERNAL_H
#define IMGPOOL_BENCH_INTERNAL_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "task.h"

#define BENCH_MAX_FILES 100000
#define BENCH_MAX_JOBS 1024
#define BENCH_MAX_REPEAT 100
#define BENCH_MAX_LISTED 20   /* bad files named in the summary, the rest counted */

/* One input: its task bytes (task_encode: input and outputs) and how it fared. */
typedef struct bench_file {
	char *task;
	size_t len;
	uint64_t size;
	int fails;          /* measured runs in which it failed */
	char *cause;        /* the first failure's cause (malloc'd) */
	failure_kind kind;  /* ... and its kind */
} bench_file;

/* One configuration: the baseline (jobs 0) or the pool at `jobs` workers. */
typedef struct bench_row {
	int jobs;
	double t[BENCH_MAX_REPEAT]; /* wall seconds of each finished run */
	double cpu[BENCH_MAX_REPEAT]; /* CPU seconds (user + system) of its processes */
	int n;
	double median, lo, hi, cpu_median;
	char *error;        /* set when it could not run at all (malloc'd) */
} bench_row;

typedef struct bench {
	imgpool_options o;
	int o_parsed;
	char **args;                /* the argv given to options_parse (o.paths points in) */
	int jobs[BENCH_MAX_JOBS];
	int njobs;
	int repeat;
	const char *csv_path, *plot_path, *timeline_path;
	int cpus;                   /* CPUs this process may run on (its affinity
	                               mask, or what Slurm gave it): more workers
	                               than these are oversubscribed */
	int online;                 /* online CPUs, of which cpus may be fewer */
	char tmpdir[PATH_MAX];
	bench_file *files;
	size_t nfiles, capfiles;
	uint64_t bytes;             /* input bytes in all */
	size_t unplanned;           /* discover errors: not benchmarked */
	int capped;                 /* more than BENCH_MAX_FILES were found */
	bench_row *rows;            /* rows[0]: baseline; rows[1..njobs]: pool */
	int runs_done;              /* measured runs that finished */
	double amdahl_s;            /* fitted serial fraction; <0: no fit */
	int fit_jobs_max;           /* the largest job count the fit used */
	double load_before;         /* 1-minute load average before we started; <0: unknown */
} bench;

/* The derived numbers of one row (the baseline is row 0, p = 1, S = 1). */
typedef struct row_numbers {
	double speedup, efficiency, karp_flatt, rate, amdahl;
	int has_kf, has_amdahl, oversubscribed;
} row_numbers;

/* Set by SIGINT/SIGTERM: stop measuring, clean up. */
extern volatile sig_atomic_t bench_signal;
/* What every worker and the baseline child need (set before any fork). */
extern task_config bench_config;

/* bench_signals.c: SIGINT/SIGTERM set bench_signal and interrupt the pool watched
 * (NULL: none); old[] keeps the dispositions replaced, which restore puts back. */
#define BENCH_SIGNALS 4 /* INT, TERM, PIPE, HUP */
void bench_install_signals(struct sigaction old[BENCH_SIGNALS]);
void bench_restore_signals(const struct sigaction old[BENCH_SIGNALS]);
void bench_signals_watch(pool *p);
/* bench_files.c */
const char *bench_file_input(const bench_file *f);
const char *bench_base_of(const char *path);
char *bench_one_line(const char *s, size_t len);
void bench_note_failure(bench *b, size_t i, failure_kind kind, const char *cause, size_t len);
/* bench_args.c: the command line into *b (0 go on, 1 --help was printed, 2 usage
 * error said); then whether the outputs can be written (0, or -1 said). */
int bench_parse_args(bench *b, int argc, char **argv);
int bench_check_output_paths(const bench *b);
/* The default --jobs-list: 1, 2, ..., 2 x CPUs (thinned past 16). */
void bench_default_jobs_list(bench *b);
/* bench_baseline.c: one baseline run; 0 with *secs, or -1 with a cause in msg. */
int bench_run_baseline(bench *b, double *secs, char *msg, size_t len);
/* bench_report.c */
/* Amdahl's law: the speedup on p workers with serial fraction s. */
double amdahl(double s, double p);
void bench_fit_amdahl(bench *b);
row_numbers bench_numbers(const bench *b, const bench_row *r);
const bench_row *bench_one_job_row(const bench *b);
void bench_describe_settings(const thumb_settings *s, char *buf, size_t len);
void bench_print_table(const bench *b);
void bench_print_failures(const bench *b);
int bench_write_csv(const bench *b);
/* bench_plot.c */
int bench_write_plot(const bench *b);

#endif
