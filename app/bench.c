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
#include <errno.h>
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
#include <fcntl.h>

#include "bench.h"
#include "discover.h"
#include "options.h"
#include "report.h"
#include "run.h"
#include "shard.h"
#include "task.h"
#include "trace.h"

#define BENCH_MAX_FILES 100000
#define BENCH_MAX_JOBS 1024
#define BENCH_MAX_REPEAT 100
#define BENCH_MAX_LISTED 20   /* bad files named in the summary, the rest counted */

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
	"  --jobs-list LIST   job counts, comma separated (default 1,2,...,2 x the online\n"
	"                     CPUs; above 16 a thinned series ending at 2 x CPUs)\n"
	"  --repeat N         rounds; the median of each configuration is kept (default 3)\n"
	"  --csv FILE         write the table as CSV\n"
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
	"measured, 2 usage error, 130/143 interrupted.\n"
	"\n"
	"Example:\n"
	"  imgpool bench --jobs-list 1,2,3,4 --plot speedup.svg ~/Photos/2024\n";

/* One input: its task bytes (task_encode: input and outputs) and how it fared. */
typedef struct bench_file {
	char *task;
	size_t len;
	uint64_t size;
	int fails;          /* measured runs in which it failed */
	char *cause;        /* the first failure's cause (malloc'd) */
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
	int cpus;                   /* online CPUs */
	int usable;                 /* CPUs this process may run on */
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

/* ------------------------------------------------------------------------- */
/* Signals: the handler only records and asks a running pool to stop.          */

static volatile sig_atomic_t bench_signal;
static pool *volatile bench_pool;

/* SIGINT/SIGTERM: remember it and drain the pool (async-signal-safe); the main
 * loop terminates the pool and cleans up. */
static void on_signal(int sig)
{
	bench_signal = sig;
	pool *p = bench_pool;
	if (p)
		pool_interrupt(p);
}

/* Install the handler without SA_RESTART, so a blocking read of the baseline's
 * pipe returns EINTR and we notice the signal. old[] keeps what was there. */
static void install_signals(struct sigaction old[3])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old[2]);
}

/* Put back the dispositions install_signals() replaced. */
static void restore_signals(const struct sigaction old[3])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	sigaction(SIGPIPE, &old[2], NULL);
}

/* ------------------------------------------------------------------------- */
/* Small helpers                                                               */

/* CLOCK_MONOTONIC in nanoseconds: the pool's and the trace's clock. */
static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The same in seconds, for wall times. */
static double now_s(void)
{
	return (double)now_ns() / 1e9;
}

/* The input path inside a file's task bytes ("?" if they do not decode). */
static const char *file_input(const bench_file *f)
{
	const char *input, *outputs[THUMB_MAX_SIZES];
	int n;
	return task_decode(f->task, f->len, &input, outputs, &n) == 0 ? input : "?";
}

/* The last component of a path, for timeline bars. */
static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Copy a cause as one line: messages from libvips may hold newlines. */
static char *one_line(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i < len; i++)
		c[i] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	while (len && c[len - 1] == ' ')
		len--;
	c[len] = '\0';
	return c;
}

/* Record that file i failed in one run; the first cause is the one reported. */
static void note_failure(bench *b, size_t i, const char *cause, size_t len)
{
	if (i >= b->nfiles)
		return;
	b->files[i].fails++;
	if (!b->files[i].cause)
		b->files[i].cause = one_line(cause, len);
}

/* ------------------------------------------------------------------------- */
/* Command line                                                                */

/* Parse "1,2,4" into b->jobs: whole numbers 1..BENCH_MAX_JOBS, sorted, duplicates
 * dropped (the chart and the fit want them in order). */
static int parse_jobs_list(bench *b, const char *s, char *msg, size_t len)
{
	b->njobs = 0;
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (n == 0 || errno || end != p + n || v < 1 || v > BENCH_MAX_JOBS) {
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
static void default_jobs_list(bench *b)
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
	return NULL;
}

/* Split argv into our options and the rest, parse the rest with options_parse()
 * (so -s, -f, --fit ... mean what they mean in a run), then check both.
 * Returns OPTIONS_RUN, OPTIONS_EXIT_OK (help or version printed) or OPTIONS_USAGE. */
static int parse_args(bench *b, int argc, char **argv)
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
			fprintf(stderr, "imgpool bench: %s needs a value (see imgpool bench --help)\n",
				name);
			status = OPTIONS_USAGE;
		}
	}
	for (; i < argc && status == OPTIONS_RUN; i++)
		rest[nrest++] = argv[i];
	if (status == OPTIONS_RUN) {
		status = options_parse(nrest, rest, &b->o, stdout, stderr);
		b->o_parsed = status == OPTIONS_RUN;
	}
	/* o.paths points into rest: keep the array for the life of the bench. */
	const char *bad = b->o_parsed ? run_only_option(&b->o) : NULL;
	if (bad) {
		fprintf(stderr, "imgpool bench: %s\n", bad);
		status = OPTIONS_USAGE;
	}
	if (status == OPTIONS_RUN && jobs_list &&
	    parse_jobs_list(b, jobs_list, msg, sizeof msg) < 0) {
		fprintf(stderr, "imgpool bench: --jobs-list: %s\n", msg);
		status = OPTIONS_USAGE;
	}
	if (status == OPTIONS_RUN && repeat) {
		char *end;
		errno = 0;
		long v = strtol(repeat, &end, 10);
		if (errno || end == repeat || *end || v < 1 || v > BENCH_MAX_REPEAT) {
			fprintf(stderr, "imgpool bench: --repeat: '%s': expected a whole number "
					"from 1 to %d\n", repeat, BENCH_MAX_REPEAT);
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
 * Checks the folder of each (exists, writable); one line naming the option. */
static int check_output_paths(const bench *b)
{
	const char *paths[3] = {b->csv_path, b->plot_path, b->timeline_path};
	const char *names[3] = {"--csv", "--plot", "--timeline"};
	for (int i = 0; i < 3; i++) {
		if (!paths[i])
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", paths[i]);
		char *slash = strrchr(dir, '/');
		if (!slash)
			strcpy(dir, ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		if (access(dir, W_OK) < 0) {
			fprintf(stderr, "imgpool bench: %s: cannot write '%s': folder '%s': %s\n",
				names[i], paths[i], dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

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
		fprintf(stderr, "imgpool bench: cannot make a temporary folder in '%s': %s\n",
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
		fprintf(stderr, "imgpool bench: cannot remove '%s': %s\n", path, strerror(errno));
	return 0;
}

/* rm -rf the temporary folder (if made). */
static void remove_tmpdir(bench *b)
{
	if (b->tmpdir[0])
		nftw(b->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	b->tmpdir[0] = '\0';
}

/* Unlink every planned output, so each run creates its files afresh: the same
 * work every time, not "create" in the first run and "replace" after. */
static void clear_outputs(const bench *b)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		const char *input, *outputs[THUMB_MAX_SIZES];
		int n;
		if (task_decode(b->files[i].task, b->files[i].len, &input, outputs, &n) < 0)
			continue;
		for (int k = 0; k < n; k++)
			unlink(outputs[k]);
	}
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
	if (task_encode(&buf, it->input, it->outputs, it->noutputs) < 0) {
		pool_buf_release(&buf);
		return -1;
	}
	b->files[b->nfiles++] = (bench_file){buf.data, buf.len, it->size, 0, NULL};
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
		.name_template = b->o.name_template, .settings = &b->o.settings, .force = 1,
	};
	char *err = NULL;
	discover *d = discover_open(&dc, &err);
	if (!d) {
		fprintf(stderr, "imgpool bench: %s\n", err ? err : "cannot start the walk");
		free(err);
		return -1;
	}
	discover_item it;
	int bad_paths = 0;
	while (discover_next(d, &it)) {
		if (it.state == ITEM_ERROR && !strcmp(it.rel, it.input)) {
			fprintf(stderr, "imgpool bench: %s: %s\n", it.input, it.error);
			bad_paths++;
			continue;
		}
		if (it.state == ITEM_ERROR) {
			fprintf(stderr, "imgpool bench: left out: %s: %s\n", it.input, it.error);
			b->unplanned++;
			continue;
		}
		if (b->nfiles == BENCH_MAX_FILES) {
			b->capped = 1;
			break;
		}
		if (add_file(b, &it) < 0) {
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
		int fd = open(file_input(&b->files[i]), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof buf) > 0)
			;
		close(fd);
	}
}

/* ------------------------------------------------------------------------- */
/* The baseline: one child, libvips in it, a plain loop                        */

static task_config bench_config; /* before any fork: children and workers see it */

/* The child's side (never returns): start libvips with one thread, thumbnail every
 * file in order, and send back "T <seconds>" then one "F <index> <cause>" per failed
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
		double t0 = now_s();
		for (size_t i = 0; i < b->nfiles; i++) {
			const char *input, *outputs[THUMB_MAX_SIZES];
			int n;
			thumb_result res;
			*current = i;
			if (task_decode(b->files[i].task, b->files[i].len, &input, outputs, &n) < 0)
				continue;
			if (thumb_run(&bench_config.settings, input, outputs, &res, err, sizeof err) < 0) {
				for (char *c = err; *c; c++)
					if (*c == '\n')
						*c = ' ';
				pool_buf_printf(&fails, "F %zu %s\n", i, err);
			}
		}
		pool_buf_printf(&out, "T %.9f\n", now_s() - t0);
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
static int run_baseline(bench *b, double *secs, char *msg, size_t len)
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
				 "out with --exclude)", how, file_input(&b->files[crashed_on]));
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
			if (*end == ' ')
				note_failure(b, idx, end + 1, strcspn(end + 1, "\n"));
		}
		ok = 0;
	}
	pool_buf_release(&in);
	return ok;
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
		note_failure(b, r->index, bad, sizeof bad - 1);
	} else if (r->status != POOL_OK && r->status != POOL_CANCELLED) {
		const char *cause = r->data && r->len ? r->data : "unknown error";
		note_failure(b, r->index, cause, strlen(cause));
	}
	if (tr && r->start_ns && r->index < b->nfiles) {
		static const trace_status ts[] = {
			[POOL_OK] = TRACE_OK, [POOL_ERROR] = TRACE_ERROR,
			[POOL_CRASHED] = TRACE_CRASHED, [POOL_TIMEOUT] = TRACE_TIMEOUT,
			[POOL_CANCELLED] = TRACE_CANCELLED, [POOL_PENDING] = TRACE_CANCELLED,
		};
		trace_attempt(tr, r->worker, r->pid, r->start_ns, r->end_ns,
			      base_of(file_input(&b->files[r->index])), ts[r->status], NULL);
	}
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
	bench_pool = p;
	if (bench_signal)
		pool_interrupt(p);
	int broken = 0, terminated = 0;
	pool_iter *it = pool_imap_unordered(p, task_thumbnail, bench_feed, &fs, 1);
	if (!it) {
		broken = 1;
	} else {
		pool_result r;
		int k;
		while ((k = pool_iter_next_timed(it, &r, 0.25)) != 0) {
			if (k == 1) {
				take_result(b, &r, tr);
				pool_result_release(&r);
			} else if (k < 0) {
				broken = 1;
				break;
			}
			if (bench_signal && !terminated) {
				pool_terminate(p); /* outputs are scratch: stop now */
				terminated = 1;
			}
		}
		pool_iter_free(it);
	}
	if (broken)
		snprintf(msg, len, "the worker pool stopped: %s", pool_error(p));
	pool_close(p);
	if (!terminated && !broken && pool_join(p) < 0 && !broken) {
		snprintf(msg, len, "the worker pool stopped: %s", pool_error(p));
		broken = 1;
	}
	*secs = now_s() - t0;
	bench_pool = NULL;
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
			fprintf(stderr, "imgpool bench: --timeline: %s\n", msg);
	}
	double cpu0 = children_cpu();
	if (row->jobs == 0)
		rc = run_baseline(b, &secs, msg, sizeof msg);
	else
		rc = run_pool(b, row->jobs, tr, &secs, msg, sizeof msg);
	double cpu = children_cpu() - cpu0;
	if (tr) {
		char title[200], tmsg[600];
		snprintf(title, sizeof title, "imgpool bench: %zu files on %d workers (run %d of %d)",
			 b->nfiles, row->jobs, round, b->repeat);
		if (trace_close(tr, now_ns(), title, tmsg, sizeof tmsg) < 0)
			fprintf(stderr, "imgpool bench: --timeline: %s\n", tmsg);
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
	fprintf(stderr, "imgpool bench: %s: %s\n",
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
/* The numbers                                                                 */

/* Amdahl's law: the speedup on p workers with serial fraction s. */
static double amdahl(double s, double p)
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
static void fit_amdahl(bench *b)
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

/* The derived numbers of one row (the baseline is row 0, p = 1, S = 1). */
typedef struct row_numbers {
	double speedup, efficiency, karp_flatt, rate, amdahl;
	int has_kf, has_amdahl, oversubscribed;
} row_numbers;

/* Speedup, efficiency, Karp-Flatt e = (1/S - 1/p) / (1 - 1/p), images/s. */
static row_numbers numbers_of(const bench *b, const bench_row *r)
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
static const bench_row *one_job_row(const bench *b)
{
	for (int i = 1; i <= b->njobs; i++)
		if (b->rows[i].jobs == 1 && b->rows[i].n)
			return &b->rows[i];
	return NULL;
}

/* "-s 256 -f same, fit inside" for headings. */
static void describe_settings(const thumb_settings *s, char *buf, size_t len)
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
static void print_table(const bench *b)
{
	char bytes[32], settings[200];
	describe_settings(&b->o.settings, settings, sizeof settings);
	printf("imgpool bench: %zu images (%s), %s; %d CPUs online", b->nfiles,
	       report_bytes(b->bytes, bytes, sizeof bytes), settings, b->cpus);
	if (b->usable != b->cpus)
		printf(" (%d usable by this process)", b->usable);
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
		row_numbers n = numbers_of(b, r);
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
	const bench_row *one = one_job_row(b);
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
		printf("* oversubscribed: more workers than the %d CPUs\n", b->cpus);
	printf("CPU s: user + system time of the processes doing the work (the loop's child, "
	       "the workers)\n");
	if (b->load_before >= 0.5)
		printf("note: the load average was %.2f on %d CPUs before the bench started: other "
		       "processes\n  competed for the CPUs, so wall times are noisy (see spread); CPU "
		       "s is steadier\n", b->load_before, b->cpus);
}

/* Bad files, each named once: those that failed in every run, then any that
 * failed only sometimes (a flaky file, or a timeout under load). */
static void print_failures(const bench *b)
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
			if (pass)
				printf("  %s: %s (in %d of %d runs)\n", file_input(f),
				       f->cause ? f->cause : "?", f->fails, b->runs_done);
			else
				printf("  %s: %s\n", file_input(f), f->cause ? f->cause : "?");
		}
	}
	if (b->unplanned)
		printf("%zu file%s left out (named above: they cannot be planned)\n", b->unplanned,
		       b->unplanned == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------- */
/* CSV                                                                         */

/* Write the table as CSV: the numbers of the table, with more digits. */
static int write_csv(const bench *b)
{
	FILE *f = fopen(b->csv_path, "we");
	if (!f) {
		fprintf(stderr, "imgpool bench: --csv: cannot write '%s': %s\n", b->csv_path,
			strerror(errno));
		return -1;
	}
	fprintf(f, "config,jobs,wall_s_median,wall_s_min,wall_s_max,runs,cpu_s_median,"
		   "images_per_s,speedup,"
		   "efficiency,karp_flatt,amdahl_fit,oversubscribed,pool_overhead,cpus,images\n");
	const bench_row *one = one_job_row(b);
	for (int i = 0; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (!r->n || !b->rows[0].n)
			continue;
		row_numbers n = numbers_of(b, r);
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
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "imgpool bench: --csv: writing '%s' failed: %s\n", b->csv_path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------- */
/* The chart                                                                   */

/* Text for an SVG element, XML-escaped. */
static void svg_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				putc(*s, f);
		}
	}
}

/* A tick step of 1, 2 or 5 x 10^k giving at most `most` ticks over `range`. */
static double nice_step(double range, int most)
{
	double raw = range / most, mag = pow(10, floor(log10(raw)));
	for (int i = 0; i < 3; i++) {
		static const double m[] = {1, 2, 5};
		if (m[i] * mag >= raw)
			return m[i] * mag;
	}
	return 10 * mag;
}

/* Plot geometry: data coordinates to SVG pixels. */
typedef struct plot_area {
	double left, top, width, height, xmax, ymax;
} plot_area;

static double px(const plot_area *a, double x)
{
	return a->left + x / a->xmax * a->width;
}

static double py(const plot_area *a, double y)
{
	return a->top + a->height - y / a->ymax * a->height;
}

/* Axes, grid, tick labels and axis titles. */
static void svg_axes(FILE *f, const plot_area *a, int xmax_int)
{
	double xs = fmax(1, nice_step(xmax_int, 12)), ys = nice_step(a->ymax, 8);
	fprintf(f, "<g id=\"axes\" class=\"axes\">\n");
	for (double y = 0; y <= a->ymax + 1e-9; y += ys)
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
			a->left, py(a, y), a->left + a->width, py(a, y), a->left - 8, py(a, y) + 4, y);
	for (double x = 0; x <= xmax_int + 1e-9; x += xs)
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
			px(a, x), a->top, px(a, x), a->top + a->height, px(a, x),
			a->top + a->height + 18, x);
	fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
		a->left, a->top, a->width, a->height);
	fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">jobs "
		   "(worker processes)</text>\n", a->left + a->width / 2, a->top + a->height + 42);
	fprintf(f, "<text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
		   "text-anchor=\"middle\">speedup = T(seq) / T(jobs)</text>\n",
		a->left - 44, a->top + a->height / 2);
	fprintf(f, "</g>\n");
}

/* The CPU count: a vertical marker, and the oversubscribed region shaded. Labels
 * at the foot of the marker, clear of the legend at the top left. */
static void svg_cpus(FILE *f, const plot_area *a, int cpus)
{
	double x = px(a, cpus);
	fprintf(f, "<g id=\"cpus\" class=\"cpus\">\n");
	if (cpus < a->xmax)
		fprintf(f, "<rect class=\"oversubscribed\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			   "height=\"%.1f\"><title>oversubscribed: more workers than CPUs</title></rect>\n"
			   "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">oversubscribed</text>\n",
			x, a->top, a->left + a->width - x, a->height, x + 6, a->top + a->height - 8);
	fprintf(f, "<line class=\"cpu-line\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
		   "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">%d CPU%s online</text>\n</g>\n",
		x, a->top, x, a->top + a->height, x + 6, a->top + a->height - 26, cpus,
		cpus == 1 ? "" : "s");
}

/* The ideal line S = p, the fitted Amdahl curve and the measured series: one group
 * each, with ids the tests look for. */
static void svg_series(FILE *f, const bench *b, const plot_area *a)
{
	fprintf(f, "<g id=\"ideal\" class=\"series ideal\" clip-path=\"url(#plot)\">\n"
		   "<title>ideal: S = p</title>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
		   "</g>\n", px(a, 1), py(a, 1), px(a, a->xmax), py(a, a->xmax));
	fprintf(f, "<g id=\"baseline\" class=\"baseline\"><circle class=\"baseline\" "
		   "cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>sequential loop: %.3f s, speedup 1 by "
		   "construction</title></circle></g>\n", px(a, 1), py(a, 1), b->rows[0].median);
	fprintf(f, "<g id=\"amdahl\" class=\"series amdahl\" clip-path=\"url(#plot)\">\n");
	if (b->amdahl_s >= 0) {
		fprintf(f, "<title>Amdahl fit: S(p) = 1 / (s + (1 - s) / p), s = %.3f</title>\n"
			   "<polyline points=\"", b->amdahl_s);
		for (int k = 0; k <= 200; k++) {
			double p = 1 + (a->xmax - 1) * k / 200.0;
			fprintf(f, "%s%.1f,%.1f", k ? " " : "", px(a, p), py(a, amdahl(b->amdahl_s, p)));
		}
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "</g>\n<g id=\"measured\" class=\"series measured\">\n"
		   "<title>measured speedup (median)</title>\n<polyline points=\"");
	int first = 1;
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (r->n) {
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(a, r->jobs),
				py(a, b->rows[0].median / r->median));
			first = 0;
		}
	}
	fprintf(f, "\"/>\n");
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (!r->n)
			continue;
		double s = b->rows[0].median / r->median, x = px(a, r->jobs);
		if (r->n > 1) /* the spread of the runs, as speedups */
			fprintf(f, "<line class=\"spread\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				   "y2=\"%.1f\"/>\n", x, py(a, b->rows[0].median / r->hi), x,
				py(a, b->rows[0].median / r->lo));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"><title>jobs %d: speedup "
			   "%.2f, %.3f s (median of %d)</title></circle>\n", x, py(a, s), r->jobs, s,
			r->median, r->n);
		if (b->njobs <= 16)
			fprintf(f, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
				   "%.2f</text>\n", x, py(a, s) + 18, s);
	}
	fprintf(f, "</g>\n");
}

/* The legend, top left of the plot (above the measured points, below the ideal
 * line's far end). */
static void svg_legend(FILE *f, const bench *b, const plot_area *a)
{
	double x = a->left + 14, y = a->top + 14;
	char amdahl_label[120];
	if (b->amdahl_s >= 0)
		snprintf(amdahl_label, sizeof amdahl_label, "Amdahl fit: s = %.3f (jobs &lt;= %d)",
			 b->amdahl_s, b->fit_jobs_max);
	else
		snprintf(amdahl_label, sizeof amdahl_label, "Amdahl fit: needs a run with jobs &gt; 1");
	fprintf(f, "<g id=\"legend\" class=\"legend\">\n"
		   "<rect class=\"legend-box\" x=\"%.1f\" y=\"%.1f\" width=\"310\" height=\"112\"/>\n",
		x, y);
	const char *const cls[] = {"measured", "ideal", "amdahl", "cpu-line", "baseline"};
	char measured[80], cpus[80];
	snprintf(measured, sizeof measured, "measured (median of %d)", b->repeat);
	snprintf(cpus, sizeof cpus, "%d CPUs online", b->cpus);
	const char *const text[] = {measured, "ideal: S = p", amdahl_label, cpus,
				    "sequential loop: S = 1 by construction"};
	for (int i = 0; i < 5; i++) {
		double ly = y + 18 + 20 * i;
		if (i == 4)
			fprintf(f, "<circle class=\"key baseline\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>",
				x + 25, ly);
		else
			fprintf(f, "<line class=\"key %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				   "y2=\"%.1f\"/>", cls[i], x + 10, ly, x + 40, ly);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 50, ly + 4, text[i]);
	}
	fprintf(f, "</g>\n");
}

/* Write the chart: self-contained SVG (no script), one group per series. */
static int write_plot(const bench *b)
{
	FILE *f = fopen(b->plot_path, "we");
	if (!f) {
		fprintf(stderr, "imgpool bench: --plot: cannot write '%s': %s\n", b->plot_path,
			strerror(errno));
		return -1;
	}
	int xmax_int = b->cpus;
	double smax = 1;
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		xmax_int = r->jobs > xmax_int ? r->jobs : xmax_int;
		if (r->n)
			smax = fmax(smax, b->rows[0].median / r->lo);
	}
	if (xmax_int < 2)
		xmax_int = 2;
	plot_area a = {80, 70, 600, 380, xmax_int + 0.5, 0};
	/* Tall enough for the measured points and the ideal line up to the CPU count;
	 * past that the ideal line may leave the top: it is the ideal. */
	double want = fmax(smax * 1.15, fmin(xmax_int, b->cpus) * 1.05);
	if (b->amdahl_s >= 0)
		want = fmax(want, fmin(amdahl(b->amdahl_s, a.xmax), xmax_int) * 1.05);
	double step = nice_step(want, 8);
	a.ymax = ceil(want / step) * step;
	char settings[200], bytes[32];
	describe_settings(&b->o.settings, settings, sizeof settings);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"520\" "
		   "viewBox=\"0 0 760 520\" font-family=\"sans-serif\" font-size=\"13\">\n"
		   "<title>imgpool bench: speedup against jobs</title>\n<style>\n"
		   ".grid{stroke:#e4e4e4}.frame{fill:none;stroke:#888}.tick{fill:#555;font-size:12px}\n"
		   ".label{font-size:14px}.note{fill:#a33;font-size:12px}\n"
		   ".oversubscribed{fill:#f4e6e6}.cpu-line{stroke:#c33;stroke-width:1.5;"
		   "stroke-dasharray:3 3}\n"
		   ".ideal line,.key.ideal{stroke:#777;stroke-width:1.5;stroke-dasharray:7 5}\n"
		   ".amdahl polyline,.key.amdahl{fill:none;stroke:#e08a00;stroke-width:2}\n"
		   ".measured polyline,.key.measured{fill:none;stroke:#1f5fbf;stroke-width:2.5}\n"
		   ".measured circle{fill:#1f5fbf}.spread{stroke:#1f5fbf;stroke-width:6;"
		   "stroke-opacity:.3}.value{fill:#1f5fbf;font-size:11px}\n"
		   ".legend-box{fill:#fff;fill-opacity:.9;stroke:#ccc}\n"
		   ".baseline{fill:#fff;stroke:#222;stroke-width:1.5}\n</style>\n"
		   "<defs><clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		   "height=\"%.1f\"/></clipPath></defs>\n"
		   "<rect width=\"760\" height=\"520\" fill=\"#fff\"/>\n",
		a.left, a.top, a.width, a.height);
	fprintf(f, "<text x=\"380\" y=\"28\" text-anchor=\"middle\" font-size=\"17\">imgpool "
		   "bench: speedup of the pool over a sequential loop</text>\n"
		   "<text x=\"380\" y=\"50\" text-anchor=\"middle\" fill=\"#555\">");
	char sub[400];
	snprintf(sub, sizeof sub, "%zu images (%s), %s, median of %d run%s", b->nfiles,
		 report_bytes(b->bytes, bytes, sizeof bytes), settings, b->repeat,
		 b->repeat == 1 ? "" : "s");
	svg_escaped(f, sub);
	fprintf(f, "</text>\n");
	svg_axes(f, &a, xmax_int);
	svg_cpus(f, &a, b->cpus);
	svg_series(f, b, &a);
	svg_legend(f, b, &a);
	fprintf(f, "</svg>\n");
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "imgpool bench: --plot: writing '%s' failed: %s\n", b->plot_path,
			strerror(errno));
		return -1;
	}
	return 0;
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
	b.cpus = online > 0 ? (int)online : 1;
	b.usable = shard_cpus(); /* the affinity mask, or what Slurm gave us */
	int k = parse_args(&b, argc, argv);
	if (k != OPTIONS_RUN)
		return k == OPTIONS_EXIT_OK ? 0 : EXIT_USAGE;
	if (!b.njobs)
		default_jobs_list(&b);
	if (check_output_paths(&b) < 0) {
		bench_free(&b);
		return EXIT_USAGE;
	}
	struct sigaction old[3];
	install_signals(old);
	int rc = EXIT_SOME_FAILED;
	if (make_tmpdir(&b) < 0)
		goto out;
	if (b.o.verbose)
		fprintf(stderr, "bench: outputs go to %s (removed at the end)\n", b.tmpdir);
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
	double load[1];
	b.load_before = getloadavg(load, 1) == 1 ? load[0] : -1;
	warm_page_cache(&b);
	int interrupted = measure_all(&b) < 0 || bench_signal;
	for (int i = 0; i <= b.njobs; i++)
		summarise_row(&b.rows[i]);
	fit_amdahl(&b);
	int any_pool = 0;
	for (int i = 1; i <= b.njobs; i++)
		any_pool |= b.rows[i].n > 0;
	if (b.rows[0].n || any_pool) {
		if (interrupted)
			printf("(interrupted: the runs that finished)\n");
		print_table(&b);
		print_failures(&b);
	}
	size_t always = 0;
	for (size_t i = 0; i < b.nfiles; i++)
		always += b.files[i].fails >= b.runs_done && b.runs_done;
	rc = EXIT_ALL_DONE;
	if (interrupted) {
		fprintf(stderr, "imgpool bench: interrupted; the temporary outputs are removed\n");
	} else if (!b.rows[0].n || !any_pool) {
		fprintf(stderr, "imgpool bench: nothing could be measured: %s\n",
			!b.rows[0].n ? "the sequential baseline did not run" : "no pool run finished");
		rc = EXIT_SOME_FAILED;
	} else if (always == b.nfiles) {
		fprintf(stderr, "imgpool bench: every file failed in every run: the times measure "
				"failures, not thumbnails\n");
		rc = EXIT_SOME_FAILED;
	}
	if (rc == EXIT_ALL_DONE && b.csv_path && write_csv(&b) < 0)
		rc = EXIT_SOME_FAILED;
	if (rc == EXIT_ALL_DONE && b.plot_path && write_plot(&b) < 0)
		rc = EXIT_SOME_FAILED;
	if (interrupted)
		rc = 128 + (bench_signal ? bench_signal : SIGINT);
out:
	fflush(stdout);
	remove_tmpdir(&b);
	restore_signals(old);
	bench_free(&b);
	return rc;
}
