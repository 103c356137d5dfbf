/* SPDX-License-Identifier: MIT */
/*
 * options.c — parse and check the imgpool command line. See options.h.
 *
 * getopt_long from libc rather than a hand-made parser: it gives the GNU
 * conventions users already know (--opt=value, bundled flags, "--") for free.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "globs.h"
#include "help.h"
#include "options.h"
#include "report.h"
#include "optvalues.h"
#include "thumb.h"

#define DEFAULT_MAX_PIXELS 268402689ULL /* 16383 x 16383, sharp's limitInputPixels */


enum {
	OPT_NAME = 256, OPT_INCLUDE, OPT_EXCLUDE, OPT_FIT, OPT_CROP, OPT_ENLARGE,
	OPT_BACKGROUND, OPT_KEEP_METADATA, OPT_MAX_PIXELS, OPT_TIMEOUT, OPT_RETRIES,
	OPT_FORCE, OPT_REPORT, OPT_PROGRESS, OPT_PROGRESS_INTERVAL, OPT_TRACE, OPT_TIMELINE,
	OPT_MIN_FREE, OPT_MAX_WORKER_RSS, OPT_SHARD, OPT_SHARD_COUNT, OPT_RETRY_FAILED,
	OPT_PRUNE, OPT_CHECKSUM, OPT_NO_JOURNAL, OPT_OVERWRITE, OPT_FILES_FROM, OPT_BASE, OPT_REPORT_APPEND,
	OPT_PROGRESSIVE, OPT_SUBSAMPLE, OPT_EFFORT, OPT_LOSSLESS, OPT_NO_ROTATE, OPT_FAST_SHRINK, OPT_FAIL_ON,
};

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"name", required_argument, NULL, OPT_NAME},
	{"recursive", no_argument, NULL, 'r'},
	{"files-from", required_argument, NULL, OPT_FILES_FROM},
	{"null", no_argument, NULL, '0'},
	{"base", required_argument, NULL, OPT_BASE},
	{"include", required_argument, NULL, OPT_INCLUDE},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"size", required_argument, NULL, 's'},
	{"fit", required_argument, NULL, OPT_FIT},
	{"crop", required_argument, NULL, OPT_CROP},
	{"enlarge", no_argument, NULL, OPT_ENLARGE},
	{"format", required_argument, NULL, 'f'},
	{"quality", required_argument, NULL, 'Q'},
	{"background", required_argument, NULL, OPT_BACKGROUND},
	{"keep-metadata", optional_argument, NULL, OPT_KEEP_METADATA},
	{"progressive", no_argument, NULL, OPT_PROGRESSIVE},
	{"subsample", required_argument, NULL, OPT_SUBSAMPLE},
	{"effort", required_argument, NULL, OPT_EFFORT},
	{"lossless", no_argument, NULL, OPT_LOSSLESS},
	{"no-rotate", no_argument, NULL, OPT_NO_ROTATE},
	{"fast-shrink", no_argument, NULL, OPT_FAST_SHRINK},
	{"fail-on", required_argument, NULL, OPT_FAIL_ON},
	{"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
	{"jobs", required_argument, NULL, 'j'},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"force", no_argument, NULL, OPT_FORCE},
	{"overwrite", no_argument, NULL, OPT_OVERWRITE},
	{"dry-run", no_argument, NULL, 'n'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"report", required_argument, NULL, OPT_REPORT},
	{"report-append", no_argument, NULL, OPT_REPORT_APPEND},
	{"progress", required_argument, NULL, OPT_PROGRESS},
	{"progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL},
	{"trace", required_argument, NULL, OPT_TRACE},
	{"timeline", required_argument, NULL, OPT_TIMELINE},
	{"min-free", required_argument, NULL, OPT_MIN_FREE},
	{"max-worker-rss", required_argument, NULL, OPT_MAX_WORKER_RSS},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
	{"prune", no_argument, NULL, OPT_PRUNE},
	{"checksum", no_argument, NULL, OPT_CHECKSUM},
	{"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
	{"shard-count", required_argument, NULL, OPT_SHARD_COUNT},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Append to a grown array of strings pointing into argv. */
static int push(const char ***arr, int *n, const char *s)
{
	const char **a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
	if (!a)
		return -1;
	a[(*n)++] = s;
	*arr = a;
	return 0;
}

/* ------------------------------------------------------------------------- */
/* One handler per option that takes a value; flags are a table of fields.    */

/* What handlers share beyond the options: who speaks and where, the -o given, room
 * for a message. */
typedef struct parse_state {
	const char *command; /* names itself in errors: "imgpool", "imgpool bench" */
	FILE *err;           /* where usage errors go */
	const char *out_dir;
	int keep_bare;       /* --keep-metadata without =LIST */
	char sizes[1024];    /* the -s lists so far, joined by ',' */
	char msg[200];
	int lists;           /* --files-from given so far */
} parse_state;

/* Take arg for one option. NULL, or why the value is wrong: a fixed text (the
 * message quotes the value) or ps->msg (a whole message of its own). */
typedef const char *(*opt_handler)(imgpool_options *o, const char *arg, parse_state *ps);

static const char *const fits[] = {"inside", "cover", "fill", NULL};
static const char *const crops[] = {"centre", "attention", "center", NULL};
static const char *const formats[] = {"same", "jpeg", "png", "webp", "avif", "jpg", NULL};
static const char *const progresses[] = {"auto", "bar", "lines", "none", NULL};
static const char *const subsamples[] = {"on", "off", "auto", NULL};
static const char *const fail_ons[] = {"none", "truncated", "error", "warning", NULL};

static const char *take_output(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)o;
	ps->out_dir = arg;
	/* "-" is standard output elsewhere (--report -): a folder named "-" made in
	 * its place, silently, is not what was meant */
	if (!strcmp(arg, "-"))
		return "the output is a folder (write ./- for a folder named -)";
	return *arg ? NULL : "the output folder name is empty";
}

static const char *take_name(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->name_template = arg;
	return NULL;
}

static const char *take_files_from(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->files_from = arg;
	return *arg ? NULL : "the file name is empty";
}

static const char *take_base(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->base = arg;
	return *arg ? NULL : "the folder name is empty";
}

/* globs_problem() says why a pattern that can match nothing is refused. */
static const char *take_include(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	const char *problem = globs_problem(arg);
	if (problem)
		return problem;
	return push(&o->includes, &o->nincludes, arg) < 0 ? "out of memory" : NULL;
}

static const char *take_exclude(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	const char *problem = globs_problem(arg);
	if (problem)
		return problem;
	return push(&o->excludes, &o->nexcludes, arg) < 0 ? "out of memory" : NULL;
}

/* -s again adds its boxes (-s 1600 -s 320 is -s 1600,320): the last alone was
 * taken, and a script's one thumbnail size was lost without a word. */
static const char *take_size(imgpool_options *o, const char *arg, parse_state *ps)
{
	size_t n = strlen(ps->sizes);
	if (snprintf(ps->sizes + n, sizeof ps->sizes - n, "%s%s", n ? "," : "", arg) >=
	    (int)(sizeof ps->sizes - n))
		return "the -s lists are too long together";
	return options_parse_sizes(ps->sizes, &o->settings, ps->msg, sizeof ps->msg) < 0 ? ps->msg
											  : NULL;
}

static const char *take_fit(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	int k = optval_pick(arg, fits);
	if (k < 0)
		return "expected inside, cover or fill";
	o->settings.fit = (thumb_fit)k;
	return NULL;
}

static const char *take_crop(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	int k = optval_pick(arg, crops);
	if (k < 0)
		return "expected centre or attention";
	o->settings.crop = k == 1 ? CROP_ATTENTION : CROP_CENTRE;
	return NULL;
}

static const char *take_format(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	int k = optval_pick(arg, formats);
	if (k < 0)
		return "expected same, jpeg, png, webp or avif";
	o->settings.format = k == 5 ? FORMAT_JPEG : (thumb_format)k;
	return NULL;
}

static const char *take_quality(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 1, 100, &v) < 0)
		return "expected a whole number from 1 to 100";
	o->settings.quality = (int)v;
	return NULL;
}

static const char *take_background(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	return optval_colour(arg, o->settings.background) < 0
		       ? "expected white, black, #rrggbb or R,G,B" : NULL;
}

/* --keep-metadata[=LIST]: bare, everything but GPS. */
static const char *take_keep_metadata(imgpool_options *o, const char *arg, parse_state *ps)
{
	ps->keep_bare |= !arg;
	o->settings.keep_metadata = KEEP_DEFAULT;
	int rc = arg ? options_parse_keep(arg, &o->settings.keep_metadata) : 0;
	return rc == -2 ? "GPS lives inside the EXIF block, which keeps nothing alone: give "
			  "exif,gps"
	       : rc < 0 ? "expected a comma list of exif, xmp, iptc, icc, gps or all "
			  "(gps goes with exif)"
			: NULL;
}

static const char *take_subsample(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	int k = optval_pick(arg, subsamples);
	if (k < 0)
		return "expected on, off or auto";
	o->settings.subsample = k == 0 ? SUBSAMPLE_ON : k == 1 ? SUBSAMPLE_OFF : SUBSAMPLE_AUTO;
	return NULL;
}

/* 0-9, AVIF's range; WebP's 0-6 is checked with the format (check_together()). */
static const char *take_effort(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 0, 9, &v) < 0)
		return "expected a whole number from 0 to 9 (WebP: 0 to 6)";
	o->settings.effort = (int)v;
	o->settings.effort_given = 1;
	return NULL;
}

static const char *take_fail_on(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	static const thumb_fail_on levels[] = {FAILON_NONE, FAILON_TRUNCATED, FAILON_ERROR,
					       FAILON_WARNING};
	int k = optval_pick(arg, fail_ons);
	if (k < 0)
		return "expected none, truncated, error or warning";
	o->settings.fail_on = levels[k];
	return NULL;
}

static const char *take_max_pixels(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 0, INT64_MAX, &v) < 0)
		return "expected a whole number from 0 (no limit) to 9223372036854775807";
	o->settings.max_pixels = (uint64_t)v;
	return NULL;
}

static const char *take_jobs(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 1, 1024, &v) < 0)
		return "expected a whole number from 1 to 1024";
	o->jobs = (int)v;
	return NULL;
}

static const char *take_timeout(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	return optval_seconds(arg, &o->timeout) < 0 ? "expected seconds from 0 to 86400" : NULL;
}

static const char *take_retries(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 0, 100, &v) < 0)
		return "expected a whole number from 0 to 100";
	o->retries = (int)v;
	return NULL;
}

static const char *take_report(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->report_path = arg;
	return *arg ? NULL : "the file name is empty (- is standard output)";
}

/* --trace and --timeline: a file, never "-" (a file of that name in the current
 * folder, where --report - means standard output, was a surprise). */
static const char *side_file_name(const char *arg)
{
	if (!*arg)
		return "the file name is empty";
	if (!strcmp(arg, "-"))
		return "give a file name (/dev/stdout writes to standard output, with -q "
		       "so that the per-file lines stay out of it)";
	return NULL;
}

static const char *take_progress(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	int k = optval_pick(arg, progresses);
	if (k < 0)
		return "expected auto, bar, lines or none";
	o->progress = (progress_mode)k;
	return NULL;
}

static const char *take_progress_interval(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	return optval_seconds(arg, &o->progress_interval) < 0 || o->progress_interval < 0.1
		       ? "expected seconds from 0.1 to 86400" : NULL;
}

static const char *take_trace(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->trace_path = arg;
	return side_file_name(arg);
}

static const char *take_timeline(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->timeline_path = arg;
	return side_file_name(arg);
}

static const char *take_min_free(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	if (options_parse_bytes(arg, &o->min_free, &o->min_free_pct) < 0)
		return "expected a size such as 2G, 500M or 5%";
	o->min_free_set = 1;
	o->min_free_text = arg;
	return NULL;
}

static const char *take_max_worker_rss(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	return options_parse_bytes(arg, &o->max_worker_rss, NULL) < 0 || o->max_worker_rss == 0
		       ? "expected a size such as 1G or 500M" : NULL;
}

static const char *take_shard(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	o->shard_arg = arg;
	return NULL;
}

static const char *take_shard_count(imgpool_options *o, const char *arg, parse_state *ps)
{
	(void)ps;
	long long v;
	if (optval_int(arg, 1, 1000000, &v) < 0)
		return "expected a whole number from 1 to 1000000";
	o->shard_count = (int)v;
	return NULL;
}

/* The options with a value: getopt's code, the name messages use, the handler. */
static const struct value_option {
	int val;
	const char *name;
	opt_handler take;
} value_options[] = {
	{'o', "-o", take_output}, {OPT_NAME, "--name", take_name},
	{OPT_FILES_FROM, "--files-from", take_files_from}, {OPT_BASE, "--base", take_base},
	{OPT_INCLUDE, "--include", take_include}, {OPT_EXCLUDE, "--exclude", take_exclude},
	{'s', "--size", take_size}, {OPT_FIT, "--fit", take_fit}, {OPT_CROP, "--crop", take_crop},
	{'f', "--format", take_format}, {'Q', "--quality", take_quality},
	{OPT_BACKGROUND, "--background", take_background},
	{OPT_MAX_PIXELS, "--max-pixels", take_max_pixels}, {'j', "--jobs", take_jobs},
	{OPT_TIMEOUT, "--timeout", take_timeout}, {OPT_RETRIES, "--retries", take_retries},
	{OPT_REPORT, "--report", take_report}, {OPT_PROGRESS, "--progress", take_progress},
	{OPT_PROGRESS_INTERVAL, "--progress-interval", take_progress_interval},
	{OPT_TRACE, "--trace", take_trace}, {OPT_TIMELINE, "--timeline", take_timeline},
	{OPT_MIN_FREE, "--min-free", take_min_free},
	{OPT_MAX_WORKER_RSS, "--max-worker-rss", take_max_worker_rss},
	{OPT_SHARD, "--shard", take_shard}, {OPT_SHARD_COUNT, "--shard-count", take_shard_count},
	{OPT_KEEP_METADATA, "--keep-metadata", take_keep_metadata},
	{OPT_SUBSAMPLE, "--subsample", take_subsample}, {OPT_EFFORT, "--effort", take_effort},
	{OPT_FAIL_ON, "--fail-on", take_fail_on},
};

/* The flags: getopt's code and the field it sets to 1. */
static const struct flag_option {
	int val;
	size_t field;
} flag_options[] = {
	{'r', offsetof(imgpool_options, recursive)},
	{'0', offsetof(imgpool_options, files_nul)},
	{OPT_ENLARGE, offsetof(imgpool_options, settings.enlarge)},
	{OPT_PROGRESSIVE, offsetof(imgpool_options, settings.progressive)},
	{OPT_LOSSLESS, offsetof(imgpool_options, settings.lossless)},
	{OPT_NO_ROTATE, offsetof(imgpool_options, settings.no_rotate)},
	{OPT_FAST_SHRINK, offsetof(imgpool_options, settings.fast_shrink)},
	{OPT_FORCE, offsetof(imgpool_options, force)},
	{OPT_OVERWRITE, offsetof(imgpool_options, overwrite)},
	{'n', offsetof(imgpool_options, dry_run)}, {'q', offsetof(imgpool_options, quiet)},
	{'v', offsetof(imgpool_options, verbose)},
	{OPT_RETRY_FAILED, offsetof(imgpool_options, retry_failed)},
	{OPT_PRUNE, offsetof(imgpool_options, prune)},
	{OPT_CHECKSUM, offsetof(imgpool_options, checksum)},
	{OPT_NO_JOURNAL, offsetof(imgpool_options, no_journal)},
	{OPT_REPORT_APPEND, offsetof(imgpool_options, report_append)},
};

/* ------------------------------------------------------------------------- */
/* Parsing                                                                    */

/* The defaults of a run. */
static void set_defaults(imgpool_options *o)
{
	memset(o, 0, sizeof *o);
	o->settings.sizes[0] = (thumb_size){256, 256};
	o->settings.nsizes = 1;
	o->settings.background[0] = o->settings.background[1] = o->settings.background[2] = 255;
	o->settings.max_pixels = DEFAULT_MAX_PIXELS;
	o->timeout = 120;
	o->retries = 1;
	o->progress_interval = 10;
}

/* Does --typed (without its "--", up to any '=') abbreviate several long options
 * and name none whole? Then which (some of them, in buf). getopt_long answers
 * '?' alike for an unknown option and an ambiguous one. */
static int ambiguous(const char *typed, char *buf, size_t len)
{
	size_t n = strcspn(typed, "="), used = 0;
	int hits = 0;
	if (!n)
		return 0;
	for (const struct option *lo = long_options; lo->name; lo++) {
		if (strncmp(lo->name, typed, n))
			continue;
		if (strlen(lo->name) == n)
			return 0;
		if (used + strlen(lo->name) + 8 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s--%s", hits ? ", " : "",
						 lo->name);
		hits++;
	}
	return hits > 1;
}

/* A usage error, said in one line, begun with the command's name; always
 * OPTIONS_USAGE. Errors about the command line's shape end "(see COMMAND --help)". */
static int usage_error(imgpool_options *o, const parse_state *ps, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage_error(imgpool_options *o, const parse_state *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(ps->err, "%s: ", ps->command);
	report_vsay(ps->err, fmt, ap); /* a PATH or -o may hold control characters */
	va_end(ap);
	options_free(o);
	return OPTIONS_USAGE;
}

/* Take option c of getopt: OPTIONS_RUN to go on, or what to return. */
static int take_option(imgpool_options *o, int c, char **argv, parse_state *ps, FILE *out)
{
	for (size_t i = 0; i < sizeof flag_options / sizeof *flag_options; i++)
		if (flag_options[i].val == c) {
			*(int *)((char *)o + flag_options[i].field) = 1;
			return OPTIONS_RUN;
		}
	for (size_t i = 0; i < sizeof value_options / sizeof *value_options; i++)
		if (value_options[i].val == c) {
			/* The last of a repeated option wins (-o, -j: a wrapper's default
			 * and the user's own), but a second list would leave every file of
			 * the first without an answer. */
			if (c == OPT_FILES_FROM && ps->lists++)
				return usage_error(o, ps, "--files-from is given twice: give one "
						   "list (cat them into one)");
			const char *why = value_options[i].take(o, optarg, ps);
			if (!why)
				return OPTIONS_RUN;
			if (why == ps->msg)
				return usage_error(o, ps, "%s: %s", value_options[i].name, why);
			return usage_error(o, ps, "%s: '%s': %s", value_options[i].name, optarg, why);
		}
	switch (c) {
	case 'h':
		help_usage(out);
		options_free(o);
		return OPTIONS_EXIT_OK;
	case 'V':
		help_version(out);
		options_free(o);
		return OPTIONS_EXIT_OK;
	case ':':
		/* A long option sets optopt to its short letter: name it as typed. */
		if (optopt != 0 && optopt < 256 && strncmp(argv[optind - 1], "--", 2))
			return usage_error(o, ps, "-%c needs a value (see %s --help)", (unsigned char)optopt,
					   ps->command);
		return usage_error(o, ps, "%s needs a value (see %s --help)", argv[optind - 1],
				   ps->command);
	default:
		/* Inside a bundle (-Zr) argv[optind - 1] is not the option: name it. A long
		 * one ("--quiet=1") is named as typed. */
		if (optopt != 0 && optopt < 256 && strncmp(argv[optind - 1], "--", 2)) {
			/* -dash.jpg, a file's name: say how to give it. The bundle is
			 * argv[optind] while getopt is inside it, else the one before. */
			const char *word = argv[optind] && argv[optind][0] == '-' &&
						   strchr(argv[optind], optopt)
						   ? argv[optind]
						   : argv[optind - 1];
			int file = word[0] == '-' && strchr(word, '.') != NULL;
			return usage_error(o, ps, "unknown option '-%c'%s%s%s (see %s --help)",
					   (unsigned char)optopt, file ? "; a file named '" : "",
					   file ? word : "",
					   file ? "' is given as ./name, or after --" : "", ps->command);
		}
		if (optopt != 0 && strchr(argv[optind - 1], '='))
			return usage_error(o, ps, "%.*s takes no value (see %s --help)",
					   (int)strcspn(argv[optind - 1], "="), argv[optind - 1],
					   ps->command);
		if (!strncmp(argv[optind - 1], "--", 2)) {
			char some[160];
			if (ambiguous(argv[optind - 1] + 2, some, sizeof some))
				return usage_error(o, ps, "ambiguous option '%s': %s (see %s --help)",
						   argv[optind - 1], some, ps->command);
		}
		const char *w = argv[optind - 1];
		if (strchr(w, '.') && !strchr(w, '=')) /* --prune.jpg: a file's name */
			return usage_error(o, ps, "unknown option '%s'; a file named '%s' is given "
					   "as ./name, or after -- (see %s --help)", w, w, ps->command);
		return usage_error(o, ps, "unknown option '%s' (see %s --help)", argv[optind - 1],
				   ps->command);
	}
}

/* The output folder: -o, or the default, which must never land inside an input
 * tree. */
static int choose_out_dir(imgpool_options *o, const char *given, const parse_state *ps)
{
	char msg[200];
	if (given) {
		o->out_dir = strdup(given);
		return o->out_dir ? OPTIONS_RUN : usage_error(o, ps, "out of memory");
	}
	o->out_dir_defaulted = 1;
	if (o->npaths == 0)
		return usage_error(o, ps, "--files-from without a PATH: give the output folder "
				  "with -o DIR");
	o->out_dir = options_default_out_dir(o->paths, o->npaths, msg, sizeof msg);
	if (!o->out_dir)
		return usage_error(o, ps, "%s", msg);
	for (int i = 0; i < o->npaths; i++) {
		struct stat st;
		if (stat(o->paths[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    outfolder_inside(o->out_dir, o->paths[i]))
			return usage_error(o, ps, "the default output folder '%s' lies inside '%s': "
					  "give -o DIR", o->out_dir, o->paths[i]);
	}
	return OPTIONS_RUN;
}

/* "--keep-metadata exif": getopt gives an optional value only after '=', so the
 * list was taken as a PATH (an error of its own) and every kind kept, GPS aside,
 * where exif alone was asked. A PATH that is a list and names nothing is that. */
static int check_keep_list(imgpool_options *o, const parse_state *ps)
{
	struct stat st;
	int kinds;
	for (int i = 0; ps->keep_bare && i < o->npaths; i++)
		if (options_parse_keep(o->paths[i], &kinds) == 0 && lstat(o->paths[i], &st) < 0 &&
		    errno == ENOENT)
			return usage_error(o, ps, "--keep-metadata takes its list after '=': "
					  "--keep-metadata=%s ('%s' was read as a PATH, which does "
					  "not exist)", o->paths[i], o->paths[i]);
	return OPTIONS_RUN;
}

/* A flag abbreviated (getopt_long takes any unique beginning) where an option
 * with a value begins as the typed name but its last letter does: refused, so
 * that "--retry 3", meant as --retries 3, is not read as --retry-failed and a
 * PATH "3". Other abbreviations stay as GNU tools take them. */
static int check_whole(imgpool_options *o, char **argv, int li, const parse_state *ps)
{
	/* a flag's word is the last one read (an option's value may be) */
	const char *word = argv[optind - 1], *name = long_options[li].name;
	if (long_options[li].has_arg || strncmp(word, "--", 2))
		return OPTIONS_RUN;
	size_t n = strcspn(word + 2, "=");
	if (n >= strlen(name) || n < 2)
		return OPTIONS_RUN;
	for (const struct option *lo = long_options; lo->name; lo++)
		if (lo->has_arg && !strncmp(lo->name, word + 2, n - 1))
			return usage_error(o, ps, "'--%.*s' abbreviates --%s, and is close to --%s: "
					   "write the one meant in full (see %s --help)", (int)n,
					   word + 2, name, lo->name, ps->command);
	return OPTIONS_RUN;
}

int options_parse(int argc, char **argv, imgpool_options *o, FILE *out, FILE *err)
{
	return options_parse_as("imgpool", argc, argv, o, out, err);
}

int options_parse_as(const char *command, int argc, char **argv, imgpool_options *o, FILE *out,
		     FILE *err)
{
	parse_state ps = {.command = command, .err = err};
	int c, k;
	set_defaults(o);
	optind = 0; /* 0, not 1: also resets glibc's place inside a bundle (-hr) */
	opterr = 0;
	int li = -1;
	while ((c = getopt_long(argc, argv, ":o:r0s:f:Q:j:nqvhV", long_options, &li)) != -1) {
		if ((li >= 0 && (k = check_whole(o, argv, li, &ps)) != OPTIONS_RUN) ||
		    (k = take_option(o, c, argv, &ps, out)) != OPTIONS_RUN)
			return k;
		li = -1;
	}
	for (int i = optind; i < argc; i++)
		if (!argv[i][0])
			return usage_error(o, &ps, "PATH %d is empty ('')", i - optind + 1);
	if (optind >= argc && !o->files_from)
		return usage_error(o, &ps, "no PATH given: name folders or images to thumbnail "
				   "(see %s --help)", command);
	if (o->report_append && !o->report_path)
		return usage_error(o, &ps, "--report-append goes with --report FILE");
	if ((o->files_nul || o->base) && !o->files_from)
		return usage_error(o, &ps, "%s goes with --files-from", o->base ? "--base" : "-0");
	if (options_conflict(o, ps.msg, sizeof ps.msg))
		return usage_error(o, &ps, "%s", ps.msg);
	o->paths = (const char **)argv + optind;
	o->npaths = argc - optind;
	if ((k = check_keep_list(o, &ps)) != OPTIONS_RUN)
		return k;
	if ((k = choose_out_dir(o, ps.out_dir, &ps)) != OPTIONS_RUN)
		return k;
	if (o->quiet && o->progress == PROGRESS_AUTO)
		o->progress = PROGRESS_NONE;
	return OPTIONS_RUN;
}

void options_free(imgpool_options *o)
{
	free(o->includes);
	free(o->excludes);
	free(o->out_dir);
	o->includes = o->excludes = NULL;
	o->out_dir = NULL;
}
