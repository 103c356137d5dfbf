/* SPDX-License-Identifier: MIT */
/*
 * bench_args.c — `imgpool bench`'s command line: its own options, and the run's
 * options for the thumbnails themselves (parsed by options_parse(), so they are
 * exactly a run's). See bench_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_internal.h"
#include "report.h"
#include "discover.h"
#include "optvalues.h"
#include "sidefile.h"

/* Stands in for -o in the argv handed to options_parse(); a user's -o comes later
 * and wins, which is how we notice one. */
static const char out_placeholder[] = "\x01imgpool-bench-temp";

static const char bench_usage_text[] =
	"Usage: imgpool bench [OPTIONS] PATH...\n"
	"Measure how thumbnailing speeds up with workers: the same files once with a\n"
	"plain sequential loop (no pool: the baseline) and with the pool at each job\n"
	"count; print wall time, images/s, speedup, efficiency, the Karp-Flatt serial\n"
	"fraction and the pool's own overhead. Outputs go to a temporary folder that is\n"
	"removed afterwards; inputs are never modified.\n"
	"\n"
	"  --jobs-list LIST   job counts, comma separated (default 1,2,...,2 x the CPUs\n"
	"                     usable; above 16 a thinned series ending at 2 x CPUs)\n"
	"  --repeat N         rounds; the median of each configuration is kept\n"
	"                     (default 3)\n"
	"  --csv FILE         write the table as CSV (its cpus column: the CPUs usable)\n"
	"  --plot FILE.svg    write a chart: measured speedup, ideal, fitted Amdahl curve\n"
	"  --timeline FILE.svg  what each worker did in the last run at the largest count\n"
	"  -q, --quiet        no progress line\n"
	"  -v, --verbose      also say where the temporary outputs go\n"
	"  -h, --help         this text\n"
	"\n"
	"The options that shape thumbnails work as in a run (see imgpool --help):\n"
	"-s, --fit, --crop, --enlarge, -f, -Q, --background, --keep-metadata,\n"
	"--max-pixels, -r, --include, --exclude, --name, --timeout, --retries.\n"
	"\n"
	"Timing: the baseline is one process thumbnailing every file in order, libvips\n"
	"started before the clock; a pool run is timed from just before the pool starts\n"
	"(fork, libvips start-up in each worker) until it has joined, which is what a\n"
	"run costs a user. Speedup = T(seq) / T(jobs).\n"
	"\n"
	"Exit status: 0 measured (bad files are reported, not fatal), 1 nothing could be\n"
	"measured, 2 usage error (a PATH that is missing too: said before measuring),\n"
	"130/143/129 interrupted by INT/TERM/HUP.\n"
	"\n"
	"Example:\n"
	"  imgpool bench --jobs-list 1,2,3,4 --plot speedup.svg ~/Photos/2024\n";

/* ------------------------------------------------------------------------- */
/* Command line                                                                */

/* Parse "1,2,4" into b->jobs: whole numbers 1..BENCH_MAX_JOBS, sorted, duplicates
 * dropped (the chart and the fit want them in order). */
static int parse_jobs_list(bench *b, const char *s, char *msg, size_t len)
{
	b->njobs = 0;
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		char num[24];
		long long v = 0;
		if (n < sizeof num) {
			memcpy(num, p, n);
			num[n] = '\0';
		}
		if (n == 0 || n >= sizeof num || optval_int(num, 1, BENCH_MAX_JOBS, &v) < 0) {
			snprintf(msg, len, "'%.*s' is not a job count (whole numbers from 1 to %d, "
				 "comma separated)", (int)(n > 40 ? 40 : n), p, BENCH_MAX_JOBS);
			return -1;
		}
		int k = 0;
		while (k < b->njobs && b->jobs[k] < v)
			k++;
		if (k == b->njobs || b->jobs[k] != v) {
			if (b->njobs == BENCH_MAX_JOBS) {
				snprintf(msg, len, "at most %d job counts", BENCH_MAX_JOBS);
				return -1;
			}
			memmove(&b->jobs[k + 1], &b->jobs[k], (size_t)(b->njobs - k) * sizeof b->jobs[0]);
			b->jobs[k] = (int)v;
			b->njobs++;
		}
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* The default: 1, 2, ..., 2 x CPUs; past 16 counts a thinned series (1 2 3 4 6 8
 * 12 16 24 ...) plus the CPU count and twice it, so a 64-core machine does not run
 * 128 configurations. */
void bench_default_jobs_list(bench *b)
{
	int top = 2 * b->cpus > BENCH_MAX_JOBS ? BENCH_MAX_JOBS : 2 * b->cpus;
	char list[8192];
	size_t used = 0;
	for (int p = 1; p <= top && used < sizeof list - 16;) {
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", used ? "," : "", p);
		if (top <= 16 || p < 4)
			p++;
		else {
			int pow2 = 1;
			while (pow2 * 2 <= p)
				pow2 *= 2;
			p = p == pow2 ? p + p / 2 : 2 * pow2; /* 4 6 8 12 16 24 ... */
		}
	}
	char msg[16];
	snprintf(list + used, sizeof list - used, ",%d,%d", b->cpus, top);
	parse_jobs_list(b, list, msg, sizeof msg);
}

/* Is tok our option `name` (as "--name" with the value next, or "--name=V")?
 * Returns 1 and sets *val (NULL when the value is missing), 0 if not ours. */
static int take_valued(char **argv, int argc, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	const char *tok = argv[*i];
	if (strncmp(tok, name, n))
		return 0;
	if (tok[n] == '=') {
		*val = tok + n + 1;
		return 1;
	}
	if (tok[n])
		return 0;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return 1;
}

/* The options imgpool takes for a run that make no sense here: a one-line error
 * for the first one found, or NULL. */
static const char *run_only_option(const imgpool_options *o)
{
	if (strcmp(o->out_dir, out_placeholder))
		return "-o/--output: bench writes into a temporary folder and removes it";
	if (o->jobs)
		return "-j/--jobs: bench runs every count of --jobs-list instead";
	if (o->dry_run)
		return "-n/--dry-run: a bench has nothing to list";
	if (o->report_path)
		return "--report: bench prints a table (--csv writes it to a file)";
	if (o->trace_path)
		return "--trace: not available in bench (--timeline draws the largest run)";
	if (o->prune || o->retry_failed || o->checksum)
		return "--prune/--retry-failed/--checksum: bench keeps no journal";
	if (o->shard_arg || o->shard_count)
		return "--shard: bench measures the whole set";
	if (o->files_from)
		return "--files-from: bench takes its images as PATHs (it measured the PATHs "
		       "alone and dropped the list)";
	return NULL;
}

/* Split argv into our options and the rest, parse the rest with options_parse()
 * (so -s, -f, --fit ... mean what they mean in a run), then check both.
 * Returns OPTIONS_RUN, OPTIONS_EXIT_OK (help or version printed) or OPTIONS_USAGE. */
int bench_parse_args(bench *b, int argc, char **argv)
{
	char **rest = calloc((size_t)argc + 4, sizeof *rest);
	if (!rest) {
		fprintf(stderr, "imgpool bench: out of memory\n");
		return OPTIONS_USAGE;
	}
	int nrest = 0, status = OPTIONS_RUN;
	const char *jobs_list = NULL, *repeat = NULL, *val;
	char msg[200];
	rest[nrest++] = "imgpool";
	rest[nrest++] = "-o";
	rest[nrest++] = (char *)out_placeholder;
	int i;
	for (i = 1; i < argc && status == OPTIONS_RUN; i++) {
		const char *tok = argv[i], *name = NULL;
		if (!strcmp(tok, "--"))
			break;
		if (!strcmp(tok, "-h") || !strcmp(tok, "--help")) {
			fputs(bench_usage_text, stdout);
			status = OPTIONS_EXIT_OK;
		} else if (take_valued(argv, argc, &i, "--jobs-list", &val)) {
			name = "--jobs-list", jobs_list = val;
		} else if (take_valued(argv, argc, &i, "--repeat", &val)) {
			name = "--repeat", repeat = val;
		} else if (take_valued(argv, argc, &i, "--csv", &val)) {
			name = "--csv", b->csv_path = val;
		} else if (take_valued(argv, argc, &i, "--plot", &val)) {
			name = "--plot", b->plot_path = val;
		} else if (take_valued(argv, argc, &i, "--timeline", &val)) {
			name = "--timeline", b->timeline_path = val;
		} else {
			rest[nrest++] = argv[i];
		}
		if (name && (!val || !*val)) {
			report_say(stderr, "imgpool bench: %s needs a value (see imgpool bench --help)",
				name);
			status = OPTIONS_USAGE;
		}
	}
	for (; i < argc && status == OPTIONS_RUN; i++)
		rest[nrest++] = argv[i];
	/* Bare `imgpool bench`: said here, naming the bench's help, not a run's. */
	if (status == OPTIONS_RUN && nrest == 3) {
		report_say(stderr, "imgpool bench: no PATH given: name folders or images to "
			   "measure on (see imgpool bench --help)");
		status = OPTIONS_USAGE;
	}
	if (status == OPTIONS_RUN) {
		status = options_parse_as("imgpool bench", nrest, rest, &b->o, stdout, stderr);
		b->o_parsed = status == OPTIONS_RUN;
	}
	/* o.paths points into rest: keep the array for the life of the bench. */
	const char *bad = b->o_parsed ? run_only_option(&b->o) : NULL;
	if (bad) {
		report_say(stderr, "imgpool bench: %s", bad);
		status = OPTIONS_USAGE;
	}
	if (status == OPTIONS_RUN && jobs_list &&
	    parse_jobs_list(b, jobs_list, msg, sizeof msg) < 0) {
		report_say(stderr, "imgpool bench: --jobs-list: %s", msg);
		status = OPTIONS_USAGE;
	}
	if (status == OPTIONS_RUN && repeat) {
		long long v;
		if (optval_int(repeat, 1, BENCH_MAX_REPEAT, &v) < 0) {
			report_say(stderr, "imgpool bench: --repeat: '%s': expected a whole number "
					"from 1 to %d", repeat, BENCH_MAX_REPEAT);
			status = OPTIONS_USAGE;
		} else {
			b->repeat = (int)v;
		}
	}
	if (status != OPTIONS_RUN) {
		if (b->o_parsed)
			options_free(&b->o);
		b->o_parsed = 0;
		free(rest);
		return status;
	}
	b->args = rest; /* o.paths and the globs point into it: freed at the end */
	return OPTIONS_RUN;
}

/* Before an hour of measuring: can the files we were asked to write be written?
 * By sidefile.h's rules, and the folder of each (exists, writable); one line
 * naming the option. */
int bench_check_output_paths(const bench *b)
{
	const char *paths[3] = {b->csv_path, b->plot_path, b->timeline_path};
	const char *names[3] = {"--csv", "--plot", "--timeline"};
	const sidefile_kind kinds[3] = {SIDEFILE_CSV, SIDEFILE_SVG, SIDEFILE_SVG};
	for (int i = 0; i < 3; i++) {
		if (!paths[i])
			continue;
		char why[PATH_MAX + 256];
		if (sidefile_check(names[i], paths[i], kinds[i], 1, 0, why, sizeof why) != 0) {
			report_say(stderr, "imgpool bench: %s", why);
			return -1;
		}
	}
	return 0;
}

