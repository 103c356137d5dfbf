/* SPDX-License-Identifier: MIT */
/*
 * test_options.c — the command line (app/options.c): the defaults, every option's
 * accepted and refused values with the exact one-line message, the GNU conventions
 * (bundled flags, --opt=value, "--", options after paths), the checks across
 * options, the default output folder, and the size and byte-size parsers.
 *
 * Each test runs in a fresh temporary folder, so the default output folder is
 * chosen beside folders the test made.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"

/* ------------------------------------------------------------------------- */
/* Fixture                                                                    */

static char tmp_dir[PATH_MAX];
static int old_cwd = -1;

static int setup(void **state)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp_dir, sizeof tmp_dir, "%s/test_options.XXXXXX", base);
	if (!mkdtemp(tmp_dir))
		return -1;
	old_cwd = open(".", O_RDONLY | O_DIRECTORY);
	return chdir(tmp_dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	if (old_cwd >= 0) {
		if (fchdir(old_cwd) < 0)
			return -1;
		close(old_cwd);
		old_cwd = -1;
	}
	nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Running the parser                                                         */

/* What the last parse printed. */
static char *out_text, *err_text;
/* The last argv copies handed to the parser. */
#define KEPT 64
static char **kept[KEPT];
static int nkept;

/* options_parse on a copy of argv (getopt permutes it), output captured. */
static int parse_argv(imgpool_options *o, int argc, char *const *args)
{
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	assert_non_null(argv);
	for (int i = 0; i < argc; i++)
		argv[i] = args[i];
	size_t on, en;
	free(out_text);
	free(err_text);
	out_text = err_text = NULL;
	FILE *out = open_memstream(&out_text, &on), *err = open_memstream(&err_text, &en);
	assert_non_null(out);
	assert_non_null(err);
	int rc = options_parse(argc, argv, o, out, err);
	fclose(out);
	fclose(err);
	/* paths point into argv: keep it for as long as the test looks at *o */
	free(kept[nkept % KEPT]);
	kept[nkept++ % KEPT] = argv;
	return rc;
}

#define ARGV(...) ((char *[]){"imgpool", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof ARGV(__VA_ARGS__) / sizeof(char *)))
#define PARSE(o, ...) parse_argv((o), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

/* The value is accepted: the parse goes on, prints nothing. */
static void accepts(imgpool_options *o, const char *opt, const char *value)
{
	int rc = PARSE(o, (char *)opt, (char *)value, "in");
	if (rc != OPTIONS_RUN)
		fail_msg("%s %s refused: %s", opt, value, err_text);
	assert_string_equal(out_text, "");
	assert_string_equal(err_text, "");
}

/* The value is refused with exactly this line (without "imgpool: " and '\n'). */
static void refuses(const char *opt, const char *value, const char *line)
{
	imgpool_options o;
	char want[512];
	int rc = PARSE(&o, (char *)opt, (char *)value, "in");
	snprintf(want, sizeof want, "imgpool: %s\n", line);
	if (rc != OPTIONS_USAGE)
		fail_msg("%s '%s' accepted", opt, value);
	assert_string_equal(err_text, want);
	assert_string_equal(out_text, "");
	/* a refusal frees what was allocated: nothing for the caller to free */
	assert_null(o.out_dir);
	assert_null(o.includes);
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(buf, 0755);
			*s = '/';
		}
	mkdir(buf, 0755);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/* ------------------------------------------------------------------------- */
/* Defaults and flags                                                         */

static void test_defaults(void **state)
{
	imgpool_options o;
	mkdirs("photos");
	assert_int_equal(PARSE(&o, "photos"), OPTIONS_RUN);
	assert_string_equal(err_text, "");
	assert_int_equal(o.settings.nsizes, 1);
	assert_int_equal(o.settings.sizes[0].w, 256);
	assert_int_equal(o.settings.sizes[0].h, 256);
	assert_int_equal(o.settings.fit, FIT_INSIDE);
	assert_int_equal(o.settings.crop, CROP_CENTRE);
	assert_int_equal(o.settings.format, FORMAT_SAME);
	assert_int_equal(o.settings.quality, 0);
	assert_int_equal(o.settings.enlarge, 0);
	assert_int_equal(o.settings.keep_metadata, 0);
	for (int i = 0; i < 3; i++)
		assert_true(o.settings.background[i] == 255);
	assert_int_equal(o.settings.max_pixels, 268402689ULL);
	assert_int_equal(o.npaths, 1);
	assert_string_equal(o.paths[0], "photos");
	char want[PATH_MAX + 16];
	char *real = realpath(".", NULL);
	snprintf(want, sizeof want, "%s/photos-thumbs", real);
	free(real);
	assert_string_equal(o.out_dir, want);
	assert_int_equal(o.out_dir_defaulted, 1);
	assert_int_equal(o.recursive, 0);
	assert_int_equal(o.nincludes, 0);
	assert_int_equal(o.nexcludes, 0);
	assert_null(o.name_template);
	assert_int_equal(o.force + o.dry_run + o.quiet + o.verbose + o.overwrite, 0);
	assert_int_equal(o.jobs, 0);
	assert_true(o.timeout == 120);
	assert_int_equal(o.retries, 1);
	assert_null(o.report_path);
	assert_int_equal(o.progress, PROGRESS_AUTO);
	assert_true(o.progress_interval == 10);
	assert_null(o.trace_path);
	assert_null(o.timeline_path);
	assert_int_equal(o.min_free_set, 0);
	assert_int_equal(o.max_worker_rss, 0);
	assert_int_equal(o.retry_failed + o.prune + o.checksum + o.no_journal, 0);
	assert_null(o.shard_arg);
	assert_int_equal(o.shard_count, 0);
	options_free(&o);
	assert_null(o.out_dir);
}

static void test_flags(void **state)
{
	imgpool_options o;
	/* Each flag sets its own field and no other. */
	static const struct {
		const char *flag;
		size_t field;
	} flags[] = {
		{"-r", offsetof(imgpool_options, recursive)},
		{"--recursive", offsetof(imgpool_options, recursive)},
		{"--enlarge", offsetof(imgpool_options, settings.enlarge)},
		{"--progressive", offsetof(imgpool_options, settings.progressive)},
		{"--lossless", offsetof(imgpool_options, settings.lossless)},
		{"--no-rotate", offsetof(imgpool_options, settings.no_rotate)},
		{"--fast-shrink", offsetof(imgpool_options, settings.fast_shrink)},
		{"--force", offsetof(imgpool_options, force)},
		{"--overwrite", offsetof(imgpool_options, overwrite)},
		{"-n", offsetof(imgpool_options, dry_run)},
		{"--dry-run", offsetof(imgpool_options, dry_run)},
		{"-q", offsetof(imgpool_options, quiet)},
		{"--quiet", offsetof(imgpool_options, quiet)},
		{"-v", offsetof(imgpool_options, verbose)},
		{"--verbose", offsetof(imgpool_options, verbose)},
		{"--retry-failed", offsetof(imgpool_options, retry_failed)},
		{"--prune", offsetof(imgpool_options, prune)},
		{"--checksum", offsetof(imgpool_options, checksum)},
		{"--no-journal", offsetof(imgpool_options, no_journal)},
	};
	static const size_t all[] = {
		offsetof(imgpool_options, recursive), offsetof(imgpool_options, settings.enlarge),
		offsetof(imgpool_options, settings.progressive),
		offsetof(imgpool_options, settings.lossless),
		offsetof(imgpool_options, settings.no_rotate),
		offsetof(imgpool_options, settings.fast_shrink), offsetof(imgpool_options, force),
		offsetof(imgpool_options, overwrite), offsetof(imgpool_options, dry_run),
		offsetof(imgpool_options, quiet), offsetof(imgpool_options, verbose),
		offsetof(imgpool_options, retry_failed), offsetof(imgpool_options, prune),
		offsetof(imgpool_options, checksum), offsetof(imgpool_options, no_journal),
	};
	for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
		/* --lossless needs a format that can be lossless */
		assert_int_equal(PARSE(&o, (char *)flags[i].flag, "-f", "webp", "in"), OPTIONS_RUN);
		for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
			int v = *(int *)((char *)&o + all[k]);
			if (v != (all[k] == flags[i].field))
				fail_msg("%s: field at offset %zu is %d", flags[i].flag, all[k], v);
		}
		options_free(&o);
	}
	/* -q turns the automatic progress off, not one asked for */
	assert_int_equal(PARSE(&o, "-q", "in"), OPTIONS_RUN);
	assert_int_equal(o.progress, PROGRESS_NONE);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-q", "--progress", "bar", "in"), OPTIONS_RUN);
	assert_int_equal(o.progress, PROGRESS_BAR);
	options_free(&o);
}

/* ------------------------------------------------------------------------- */
/* Options with a value                                                       */

static void test_output_name_globs(void **state)
{
	imgpool_options o;
	accepts(&o, "-o", "out/dir");
	assert_string_equal(o.out_dir, "out/dir");
	assert_int_equal(o.out_dir_defaulted, 0);
	options_free(&o);
	accepts(&o, "--output", "x");
	assert_string_equal(o.out_dir, "x");
	options_free(&o);
	refuses("-o", "", "-o: '': the output folder name is empty");
	refuses("--output", "", "-o: '': the output folder name is empty");

	accepts(&o, "--name", "{dir}/{stem}_{w}.{ext}");
	assert_string_equal(o.name_template, "{dir}/{stem}_{w}.{ext}");
	options_free(&o);

	assert_int_equal(PARSE(&o, "--include", "*.jpg", "--exclude", "raw/*", "--include",
			       "*.png", "--exclude=tmp*", "in"), OPTIONS_RUN);
	assert_int_equal(o.nincludes, 2);
	assert_string_equal(o.includes[0], "*.jpg");
	assert_string_equal(o.includes[1], "*.png");
	assert_int_equal(o.nexcludes, 2);
	assert_string_equal(o.excludes[0], "raw/*");
	assert_string_equal(o.excludes[1], "tmp*");
	options_free(&o);
	assert_null(o.includes);
	assert_null(o.excludes);

	accepts(&o, "--report", "-");
	assert_string_equal(o.report_path, "-");
	options_free(&o);
	accepts(&o, "--trace", "t.json");
	assert_string_equal(o.trace_path, "t.json");
	options_free(&o);
	accepts(&o, "--timeline", "t.svg");
	assert_string_equal(o.timeline_path, "t.svg");
	options_free(&o);
	/* --shard is checked later, against the scheduler's variables (shard.h) */
	accepts(&o, "--shard", "2/4");
	assert_string_equal(o.shard_arg, "2/4");
	options_free(&o);
}

static void test_size(void **state)
{
	imgpool_options o;
	accepts(&o, "-s", "1600,800,320");
	assert_int_equal(o.settings.nsizes, 3);
	assert_int_equal(o.settings.sizes[0].w, 1600);
	assert_int_equal(o.settings.sizes[1].h, 800);
	assert_int_equal(o.settings.sizes[2].w, 320);
	options_free(&o);
	accepts(&o, "--size", "320x240");
	assert_int_equal(o.settings.nsizes, 1);
	assert_int_equal(o.settings.sizes[0].w, 320);
	assert_int_equal(o.settings.sizes[0].h, 240);
	options_free(&o);
	refuses("-s", "12y", "--size: '12y' is not a size (N, WxH, Wx or xH, 1-100000)");
	refuses("-s", "+5", "--size: '+5' is not a size (N, WxH, Wx or xH, 1-100000)");
	refuses("--include", "", "--include: '': the pattern is empty");
	refuses("--exclude", "", "--exclude: '': the pattern is empty");
	/* fnmatch takes an unclosed '[' as the character: a typo matched nothing */
	refuses("--include", "[", "--include: '[': a '[' no ']' closes (write \\[ for the "
		"character)");
	refuses("--exclude", "IMG_[0-9*.jpg", "--exclude: 'IMG_[0-9*.jpg': a '[' no ']' closes "
		"(write \\[ for the character)");
	accepts(&o, "--include", "\\[*");
	options_free(&o);
	accepts(&o, "--include", "*[]x]*");
	options_free(&o);
	accepts(&o, "--exclude", "[!]]");
	options_free(&o);
	/* a class's own ']' does not close the bracket: fnmatch matched nothing */
	refuses("--include", "[[:alpha:]*", "--include: '[[:alpha:]*': a '[' no ']' closes "
		"(write \\[ for the character)");
	refuses("--exclude", "[[:alfa:]]*", "--exclude: '[[:alfa:]]*': no such character class "
		"(alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper or "
		"xdigit)");
	accepts(&o, "--include", "[[:alpha:]]*");
	options_free(&o);
	accepts(&o, "--include", "[[:alpha]");   /* no ':]': the '[' is a member */
	options_free(&o);
	accepts(&o, "--include", "[[.a.][=b=]x]*");
	options_free(&o);
	accepts(&o, "--include", "[\\]]*");
	options_free(&o);
	/* as glibc reads them: "[=ab=]" is no equivalence (its '[' a member), and
	 * "a-[" a range before ":alpha:" */
	accepts(&o, "--include", "[[=ab=]*");
	options_free(&o);
	accepts(&o, "--include", "[a-[:alpha:]");
	options_free(&o);
	accepts(&o, "--include", "[!9-0]*");
	options_free(&o);
	/* patterns that match nothing: a collating symbol of two characters or
	 * none closed, an escape of nothing, a range backwards alone */
	refuses("--include", "[[.ab.]]*", "--include: '[[.ab.]]*': a collating symbol ([.c.]) is "
		"one character");
	refuses("--include", "[[.a]*", "--include: '[[.a]*': a '[.' no '.]' closes");
	refuses("--include", "a.jpg\\", "--include: 'a.jpg\\': a '\\' at its end escapes nothing "
		"(write \\\\ for the character)");
	refuses("--exclude", "[9-0]*", "--exclude: '[9-0]*': a range whose end comes before its "
		"start ([z-a]) matches nothing");
	refuses("--size", "", "--size: '' is not a size (N, WxH, Wx or xH, 1-100000)");
	refuses("-s", "256,256", "--size: '256' is given twice (N and NxN are one box)");
	refuses("-s", "1,2,3,4,5,6,7,8,9", "--size: at most 8 sizes");
	/* -s again adds its boxes: the last alone was taken */
	assert_int_equal(PARSE(&o, "-s", "1600", "--size", "320x240", "in"), OPTIONS_RUN);
	assert_int_equal(o.settings.nsizes, 2);
	assert_int_equal(o.settings.sizes[0].w, 1600);
	assert_int_equal(o.settings.sizes[1].h, 240);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-s", "256", "-s", "256", "in"), OPTIONS_USAGE);
	assert_non_null(strstr(err_text, "'256' is given twice"));
}

/* Words picked from a list, any case; refused with the list. */
static void test_words(void **state)
{
	imgpool_options o;
	static const struct {
		const char *word;
		thumb_fit fit;
	} fits[] = {{"inside", FIT_INSIDE}, {"cover", FIT_COVER}, {"fill", FIT_FILL},
		    {"COVER", FIT_COVER}};
	for (size_t i = 0; i < sizeof fits / sizeof *fits; i++) {
		accepts(&o, "--fit", fits[i].word);
		assert_int_equal(o.settings.fit, fits[i].fit);
		options_free(&o);
	}
	refuses("--fit", "crop", "--fit: 'crop': expected inside, cover or fill");
	refuses("--fit", "", "--fit: '': expected inside, cover or fill");

	static const char *const centres[] = {"centre", "center", "Centre"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(PARSE(&o, "--fit", "cover", "--crop", (char *)centres[i], "in"),
				 OPTIONS_RUN);
		assert_int_equal(o.settings.crop, CROP_CENTRE);
		options_free(&o);
	}
	assert_int_equal(PARSE(&o, "--fit", "cover", "--crop", "attention", "in"), OPTIONS_RUN);
	assert_int_equal(o.settings.crop, CROP_ATTENTION);
	options_free(&o);
	refuses("--crop", "entropy", "--crop: 'entropy': expected centre or attention");

	static const struct {
		const char *word;
		thumb_format format;
	} formats[] = {{"same", FORMAT_SAME}, {"jpeg", FORMAT_JPEG}, {"jpg", FORMAT_JPEG},
		       {"png", FORMAT_PNG}, {"webp", FORMAT_WEBP}, {"avif", FORMAT_AVIF},
		       {"PNG", FORMAT_PNG}};
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		accepts(&o, "-f", formats[i].word);
		assert_int_equal(o.settings.format, formats[i].format);
		options_free(&o);
	}
	refuses("-f", "gif", "--format: 'gif': expected same, jpeg, png, webp or avif");
	refuses("--format", "tiff", "--format: 'tiff': expected same, jpeg, png, webp or avif");

	static const struct {
		const char *word;
		progress_mode mode;
	} modes[] = {{"auto", PROGRESS_AUTO}, {"bar", PROGRESS_BAR}, {"lines", PROGRESS_LINES},
		     {"none", PROGRESS_NONE}};
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
		accepts(&o, "--progress", modes[i].word);
		assert_int_equal(o.progress, modes[i].mode);
		options_free(&o);
	}
	refuses("--progress", "live", "--progress: 'live': expected auto, bar, lines or none");
}

static void test_background(void **state)
{
	imgpool_options o;
	static const struct {
		const char *colour;
		double rgb[3];
	} good[] = {
		{"white", {255, 255, 255}}, {"BLACK", {0, 0, 0}}, {"#ff8000", {255, 128, 0}},
		{"#0A0b0C", {10, 11, 12}}, {"1,2,3", {1, 2, 3}}, {"255,0,255", {255, 0, 255}},
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		accepts(&o, "--background", good[i].colour);
		for (int c = 0; c < 3; c++)
			if (o.settings.background[c] != good[i].rgb[c])
				fail_msg("%s: channel %d is %g", good[i].colour, c,
					 o.settings.background[c]);
		options_free(&o);
	}
	static const char *const bad[] = {
		"red", "#12345", "#1234567", "#gggggg", "1,2", "1,2,3,4", "256,0,0", "-1,0,0",
		"1,,2", "", "#", "1.5,2,3",
		"0000000000000000000000000000000000000000000000000000000000000000000,1,2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char line[256];
		snprintf(line, sizeof line, "--background: '%s': expected white, black, #rrggbb or "
			 "R,G,B", bad[i]);
		refuses("--background", bad[i], line);
	}
}

/* The output controls: each value, the defaults, and each refusal in one line
 * naming the option and what it takes. */
static void test_output_controls(void **state)
{
	imgpool_options o;
	(void)state;

	assert_int_equal(PARSE(&o, "in"), OPTIONS_RUN);
	assert_int_equal(o.settings.keep_metadata, 0);
	assert_int_equal(o.settings.subsample, SUBSAMPLE_AUTO);
	assert_int_equal(o.settings.effort_given, 0);
	assert_int_equal(o.settings.fail_on, FAILON_WARNING);
	options_free(&o);

	/* --keep-metadata: bare keeps all but GPS; a list keeps what it names */
	assert_int_equal(PARSE(&o, "--keep-metadata", "in"), OPTIONS_RUN);
	assert_int_equal(o.settings.keep_metadata, KEEP_EXIF | KEEP_XMP | KEEP_IPTC | KEEP_ICC);
	assert_false(o.settings.keep_metadata & KEEP_GPS);
	options_free(&o);
	static const struct {
		const char *arg;
		int keep;
	} lists[] = {
		{"--keep-metadata=exif", KEEP_EXIF}, {"--keep-metadata=icc", KEEP_ICC},
		{"--keep-metadata=EXIF,gps", KEEP_EXIF | KEEP_GPS},
		{"--keep-metadata=xmp,iptc", KEEP_XMP | KEEP_IPTC},
		{"--keep-metadata=all", KEEP_ALL}, {"--keep-metadata=icc,all", KEEP_ALL},
	};
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
		assert_int_equal(PARSE(&o, (char *)lists[i].arg, "in"), OPTIONS_RUN);
		if (o.settings.keep_metadata != lists[i].keep)
			fail_msg("%s: %d", lists[i].arg, o.settings.keep_metadata);
		options_free(&o);
	}
	static const char *const bad_lists[] = {"exif,", ",exif", "", "exif,,icc", "location",
						"exifxmp"};
	for (size_t i = 0; i < sizeof bad_lists / sizeof *bad_lists; i++) {
		char arg[64], line[256];
		snprintf(arg, sizeof arg, "--keep-metadata=%s", bad_lists[i]);
		snprintf(line, sizeof line, "imgpool: --keep-metadata: '%s': expected a comma list "
			 "of exif, xmp, iptc, icc, gps or all (gps goes with exif)\n", bad_lists[i]);
		assert_int_equal(PARSE(&o, arg, "in"), OPTIONS_USAGE);
		assert_string_equal(err_text, line);
	}
	/* gps alone: what to give instead */
	assert_int_equal(PARSE(&o, "--keep-metadata=xmp,gps", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --keep-metadata: 'xmp,gps': GPS lives inside the "
			    "EXIF block, which keeps nothing alone: give exif,gps\n");

	accepts(&o, "--subsample", "off");
	assert_int_equal(o.settings.subsample, SUBSAMPLE_OFF);
	options_free(&o);
	accepts(&o, "--subsample", "on");
	assert_int_equal(o.settings.subsample, SUBSAMPLE_ON);
	options_free(&o);
	accepts(&o, "--subsample", "auto");
	assert_int_equal(o.settings.subsample, SUBSAMPLE_AUTO);
	options_free(&o);
	refuses("--subsample", "444", "--subsample: '444': expected on, off or auto");

	static const struct {
		const char *word;
		thumb_fail_on level;
	} levels[] = {{"none", FAILON_NONE}, {"truncated", FAILON_TRUNCATED},
		      {"error", FAILON_ERROR}, {"warning", FAILON_WARNING}};
	for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
		accepts(&o, "--fail-on", levels[i].word);
		assert_int_equal(o.settings.fail_on, levels[i].level);
		options_free(&o);
	}
	refuses("--fail-on", "never",
		"--fail-on: 'never': expected none, truncated, error or warning");

	accepts(&o, "--effort", "0");
	assert_int_equal(o.settings.effort_given, 1);
	assert_int_equal(o.settings.effort, 0);
	options_free(&o);
	accepts(&o, "--effort", "9");
	assert_int_equal(o.settings.effort, 9);
	options_free(&o);
	static const char *const bad_effort[] = {"-1", "10", "", "4.5", "max"};
	for (size_t i = 0; i < sizeof bad_effort / sizeof *bad_effort; i++) {
		char line[128];
		snprintf(line, sizeof line, "--effort: '%s': expected a whole number from 0 to 9 "
			 "(WebP: 0 to 6)", bad_effort[i]);
		refuses("--effort", bad_effort[i], line);
	}
	/* WebP's scale ends at 6; AVIF's at 9 */
	assert_int_equal(PARSE(&o, "--effort", "6", "-f", "webp", "in"), OPTIONS_RUN);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--effort", "7", "-f", "webp", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --effort: '7': WebP takes 0 to 6\n");
	assert_int_equal(PARSE(&o, "--effort", "9", "-f", "avif", "in"), OPTIONS_RUN);
	options_free(&o);

	/* --lossless: only where every output can be lossless */
	static const char *const lossless_ok[] = {"webp", "png"};
	for (size_t i = 0; i < sizeof lossless_ok / sizeof *lossless_ok; i++) {
		assert_int_equal(PARSE(&o, "--lossless", "-f", (char *)lossless_ok[i], "in"),
				 OPTIONS_RUN);
		assert_int_equal(o.settings.lossless, 1);
		options_free(&o);
	}
	static const char *const lossless_bad[] = {"jpeg", "same", "avif"};
	for (size_t i = 0; i < sizeof lossless_bad / sizeof *lossless_bad; i++) {
		assert_int_equal(PARSE(&o, "--lossless", "-f", (char *)lossless_bad[i], "in"),
				 OPTIONS_USAGE);
		assert_string_equal(err_text, "imgpool: --lossless needs --format webp or png "
				    "(JPEG cannot be lossless, nor AVIF with libvips 8.14)\n");
	}
	assert_int_equal(PARSE(&o, "--lossless", "in"), OPTIONS_USAGE);
	/* flags take no value */
	assert_int_equal(PARSE(&o, "--progressive=yes", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --progressive takes no value (see imgpool --help)\n");
}

/* Whole numbers in a range, seconds, sizes: the edges of each. */
static void test_numbers(void **state)
{
	imgpool_options o;
	accepts(&o, "-Q", "1");
	assert_int_equal(o.settings.quality, 1);
	options_free(&o);
	accepts(&o, "--quality", "100");
	assert_int_equal(o.settings.quality, 100);
	options_free(&o);
	static const char *const bad_q[] = {"0", "101", "-5", "50%", "", "8.5", "1e2"};
	for (size_t i = 0; i < sizeof bad_q / sizeof *bad_q; i++) {
		char line[128];
		snprintf(line, sizeof line, "--quality: '%s': expected a whole number from 1 to 100",
			 bad_q[i]);
		refuses("-Q", bad_q[i], line);
	}

	accepts(&o, "--max-pixels", "0");
	assert_int_equal(o.settings.max_pixels, 0);
	options_free(&o);
	accepts(&o, "--max-pixels", "9223372036854775807");
	assert_int_equal(o.settings.max_pixels, 9223372036854775807ULL);
	options_free(&o);
	refuses("--max-pixels", "-1", "--max-pixels: '-1': expected a whole number from 0 (no limit) to 9223372036854775807");
	refuses("--max-pixels", "9223372036854775808",
	       "--max-pixels: '9223372036854775808': expected a whole number from 0 (no limit) to 9223372036854775807");
	refuses("--max-pixels", "1M", "--max-pixels: '1M': expected a whole number from 0 (no limit) to 9223372036854775807");

	accepts(&o, "-j", "1");
	assert_int_equal(o.jobs, 1);
	options_free(&o);
	accepts(&o, "--jobs", "1024");
	assert_int_equal(o.jobs, 1024);
	options_free(&o);
	refuses("-j", "0", "--jobs: '0': expected a whole number from 1 to 1024");
	refuses("-j", "1025", "--jobs: '1025': expected a whole number from 1 to 1024");

	accepts(&o, "--timeout", "0");
	assert_true(o.timeout == 0);
	options_free(&o);
	accepts(&o, "--timeout", "2.5");
	assert_true(o.timeout == 2.5);
	options_free(&o);
	accepts(&o, "--timeout", "86400");
	assert_true(o.timeout == 86400);
	options_free(&o);
	/* strtod()'s other grammar: hexadecimal ('0x10' was 16 s), exponents, a sign,
	 * a blank first */
	static const char *const bad_t[] = {"-1", "86401", "nan", "inf", "1s", "", "1e400",
					    "0x10", "0x1p3", "1e2", "+5", " 5", ".", "1.2.3"};
	for (size_t i = 0; i < sizeof bad_t / sizeof *bad_t; i++) {
		char line[128];
		snprintf(line, sizeof line, "--timeout: '%s': expected seconds from 0 to 86400",
			 bad_t[i]);
		refuses("--timeout", bad_t[i], line);
	}

	accepts(&o, "--retries", "0");
	assert_int_equal(o.retries, 0);
	options_free(&o);
	accepts(&o, "--retries", "100");
	assert_int_equal(o.retries, 100);
	options_free(&o);
	refuses("--retries", "101", "--retries: '101': expected a whole number from 0 to 100");
	refuses("--retries", "-1", "--retries: '-1': expected a whole number from 0 to 100");
	refuses("--retries", "+1", "--retries: '+1': expected a whole number from 0 to 100");

	accepts(&o, "--progress-interval", "0.1");
	assert_true(o.progress_interval == 0.1);
	options_free(&o);
	accepts(&o, "--progress-interval", "86400");
	options_free(&o);
	refuses("--progress-interval", "0.05",
	       "--progress-interval: '0.05': expected seconds from 0.1 to 86400");
	refuses("--progress-interval", "0",
	       "--progress-interval: '0': expected seconds from 0.1 to 86400");
	refuses("--progress-interval", "86401",
	       "--progress-interval: '86401': expected seconds from 0.1 to 86400");

	accepts(&o, "--min-free", "2G");
	assert_int_equal(o.min_free, 2ULL << 30);
	assert_true(o.min_free_pct == 0);
	assert_int_equal(o.min_free_set, 1);
	options_free(&o);
	accepts(&o, "--min-free", "5%");
	assert_int_equal(o.min_free, 0);
	assert_true(o.min_free_pct == 5);
	assert_int_equal(o.min_free_set, 1);
	options_free(&o);
	accepts(&o, "--min-free", "0");
	assert_int_equal(o.min_free, 0);
	assert_int_equal(o.min_free_set, 1);
	options_free(&o);
	refuses("--min-free", "lots", "--min-free: 'lots': expected a size such as 2G, 500M or 5%");
	refuses("--min-free", "101%", "--min-free: '101%': expected a size such as 2G, 500M or 5%");
	refuses("--min-free", " 1G", "--min-free: ' 1G': expected a size such as 2G, 500M or 5%");
	refuses("--min-free", "0x10G", "--min-free: '0x10G': expected a size such as 2G, 500M or 5%");
	accepts(&o, "--min-free", "1.5G");
	assert_int_equal(o.min_free, 3ULL << 29);
	options_free(&o);

	accepts(&o, "--max-worker-rss", "1G");
	assert_int_equal(o.max_worker_rss, 1ULL << 30);
	options_free(&o);
	refuses("--max-worker-rss", "0", "--max-worker-rss: '0': expected a size such as 1G or 500M");
	refuses("--max-worker-rss", "5%",
	       "--max-worker-rss: '5%': expected a size such as 1G or 500M");

	accepts(&o, "--shard-count", "1");
	assert_int_equal(o.shard_count, 1);
	options_free(&o);
	accepts(&o, "--shard-count", "1000000");
	assert_int_equal(o.shard_count, 1000000);
	options_free(&o);
	refuses("--shard-count", "0", "--shard-count: '0': expected a whole number from 1 to 1000000");
	refuses("--shard-count", "1000001", "--shard-count: '1000001': expected a whole number from 1 to 1000000");
}

/* ------------------------------------------------------------------------- */
/* GNU conventions                                                            */

static void test_gnu_conventions(void **state)
{
	imgpool_options o;
	/* bundled short flags, and a value glued to the last of a bundle */
	assert_int_equal(PARSE(&o, "-rnqv", "in"), OPTIONS_RUN);
	assert_true(o.recursive && o.dry_run && o.quiet && o.verbose);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-rs320x200", "in"), OPTIONS_RUN);
	assert_int_equal(o.recursive, 1);
	assert_int_equal(o.settings.sizes[0].w, 320);
	assert_int_equal(o.settings.sizes[0].h, 200);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-rj", "3", "in"), OPTIONS_RUN);
	assert_int_equal(o.jobs, 3);
	options_free(&o);
	/* --opt=value and --opt value */
	assert_int_equal(PARSE(&o, "--size=64", "--jobs", "2", "--fit=cover", "in"), OPTIONS_RUN);
	assert_int_equal(o.settings.sizes[0].w, 64);
	assert_int_equal(o.jobs, 2);
	assert_int_equal(o.settings.fit, FIT_COVER);
	options_free(&o);
	/* an unambiguous abbreviation */
	assert_int_equal(PARSE(&o, "--recur", "--verb", "in"), OPTIONS_RUN);
	assert_true(o.recursive && o.verbose);
	options_free(&o);
	/* options after the paths, and the paths in their order */
	assert_int_equal(PARSE(&o, "b", "-r", "a", "--size", "99"), OPTIONS_RUN);
	assert_int_equal(o.recursive, 1);
	assert_int_equal(o.settings.sizes[0].w, 99);
	assert_int_equal(o.npaths, 2);
	assert_string_equal(o.paths[0], "b");
	assert_string_equal(o.paths[1], "a");
	options_free(&o);
	/* "--" ends the options: what follows are paths, even "-r" */
	assert_int_equal(PARSE(&o, "-q", "--", "-r", "--size"), OPTIONS_RUN);
	assert_int_equal(o.recursive, 0);
	assert_int_equal(o.quiet, 1);
	assert_int_equal(o.npaths, 2);
	assert_string_equal(o.paths[0], "-r");
	assert_string_equal(o.paths[1], "--size");
	options_free(&o);
	/* the last of a repeated option wins */
	assert_int_equal(PARSE(&o, "-j", "2", "-j", "5", "-o", "a", "-o", "b", "in"), OPTIONS_RUN);
	assert_int_equal(o.jobs, 5);
	assert_string_equal(o.out_dir, "b");
	options_free(&o);
	/* a parse starts from scratch: nothing of the one before is left */
	assert_int_equal(PARSE(&o, "in"), OPTIONS_RUN);
	assert_int_equal(o.jobs, 0);
	assert_int_equal(o.out_dir_defaulted, 1);
	options_free(&o);
}

static void test_usage_errors(void **state)
{
	imgpool_options o;
	static const struct {
		int argc;
		char *argv[4];
		const char *line;
	} cases[] = {
		{1, {"imgpool"},
		 "imgpool: no PATH given: name folders or images to thumbnail (see imgpool --help)\n"},
		{2, {"imgpool", "-r"},
		 "imgpool: no PATH given: name folders or images to thumbnail (see imgpool --help)\n"},
		{3, {"imgpool", "--bogus", "in"}, "imgpool: unknown option '--bogus' (see imgpool --help)\n"},
		{3, {"imgpool", "-Z", "in"}, "imgpool: unknown option '-Z' (see imgpool --help)\n"},
		/* inside a bundle the bad letter is named, not the bundle */
		{3, {"imgpool", "-rZq", "in"}, "imgpool: unknown option '-Z' (see imgpool --help)\n"},
		/* a file's name taken for options: how to give it */
		{3, {"imgpool", "-dash.jpg", "in"}, "imgpool: unknown option '-d'; a file named "
		 "'-dash.jpg' is given as ./name, or after -- (see imgpool --help)\n"},
		{3, {"imgpool", "--prune.jpg", "in"}, "imgpool: unknown option '--prune.jpg'; a file "
		 "named '--prune.jpg' is given as ./name, or after -- (see imgpool --help)\n"},
		{3, {"imgpool", "-\xe9", "in"}, "imgpool: unknown option '-\xe9' (see imgpool --help)\n"},
		{3, {"imgpool", "in", "-j"}, "imgpool: -j needs a value (see imgpool --help)\n"},
		{3, {"imgpool", "in", "--fit"}, "imgpool: --fit needs a value (see imgpool --help)\n"},
		{3, {"imgpool", "in", "--timeout"},
		 "imgpool: --timeout needs a value (see imgpool --help)\n"},
		/* ambiguous: --progress, --progress-interval, --prune */
		{3, {"imgpool", "--pr", "in"}, "imgpool: ambiguous option '--pr': --progressive, "
		 "--progress, --progress-interval, --prune (see imgpool --help)\n"},
		{3, {"imgpool", "--prune", "--no-journal"},
		 "imgpool: no PATH given: name folders or images to thumbnail (see imgpool --help)\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(parse_argv(&o, cases[i].argc, cases[i].argv), OPTIONS_USAGE);
		assert_string_equal(err_text, cases[i].line);
		assert_string_equal(out_text, "");
		assert_null(o.out_dir);
	}
	/* a flag given a value: still one line naming an option */
	assert_int_equal(PARSE(&o, "--force=yes", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --force takes no value (see imgpool --help)\n");
}

/* A long option with a short form is named as typed in its errors: "--quiet=1"
 * once gave "unknown option '-q'", an option that exists, and "--size" without a
 * value "-s needs a value" (getopt_long sets optopt to the short letter). */
static void test_long_flag_with_value(void **state)
{
	imgpool_options o;
	assert_int_equal(PARSE(&o, "--quiet=1", "in"), OPTIONS_USAGE);
	assert_null(strstr(err_text, "'-q'"));
	assert_non_null(strstr(err_text, "--quiet"));
	assert_int_equal(PARSE(&o, "in", "--size"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --size needs a value (see imgpool --help)\n");
}

static void test_together(void **state)
{
	imgpool_options o;
	assert_int_equal(PARSE(&o, "--prune", "--no-journal", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --prune needs the journal (it deletes only what "
			    "the journal says imgpool made): drop --no-journal\n");
	assert_int_equal(PARSE(&o, "--no-journal", "--prune", "in"), OPTIONS_USAGE);
	assert_int_equal(PARSE(&o, "--prune", "in"), OPTIONS_RUN);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--no-journal", "in"), OPTIONS_RUN);
	options_free(&o);

	assert_int_equal(PARSE(&o, "--crop", "attention", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --crop attention needs --fit cover\n");
	assert_int_equal(PARSE(&o, "--crop", "attention", "--fit", "fill", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --crop attention needs --fit cover\n");
	/* the order does not matter */
	assert_int_equal(PARSE(&o, "--crop", "attention", "--fit", "cover", "in"), OPTIONS_RUN);
	options_free(&o);
	/* centre is fine with any fit */
	assert_int_equal(PARSE(&o, "--crop", "centre", "in"), OPTIONS_RUN);
	options_free(&o);

	/* --fast-shrink did nothing with --keep-metadata, silently */
	assert_int_equal(PARSE(&o, "--keep-metadata", "--fast-shrink", "in"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: --fast-shrink and --keep-metadata: give one "
			    "(kept metadata goes through libvips, which decodes at its own scale)\n");
	assert_int_equal(PARSE(&o, "--fast-shrink", "--keep-metadata=icc", "in"), OPTIONS_USAGE);
	assert_int_equal(PARSE(&o, "--fast-shrink", "in"), OPTIONS_RUN);
	options_free(&o);
}

/* ------------------------------------------------------------------------- */
/* The default output folder                                                  */

static void test_default_out_dir(void **state)
{
	char msg[256], want[PATH_MAX + 32];
	char *here = realpath(".", NULL);
	assert_non_null(here);
	mkdirs("photos/2024");
	touch("photos/a.jpg");
	assert_int_equal(symlink("photos", "alias"), 0);

	/* beside a folder, by its real path, whatever way it was named */
	static const char *const names[] = {"photos", "photos/", "./photos", "photos/2024/..",
					    "alias"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const char *paths[] = {names[i]};
		char *out = options_default_out_dir(paths, 1, msg, sizeof msg);
		snprintf(want, sizeof want, "%s/photos-thumbs", here);
		assert_non_null(out);
		assert_string_equal(out, want);
		free(out);
	}
	/* the first path decides */
	const char *two[] = {"photos/2024", "photos"};
	char *out = options_default_out_dir(two, 2, msg, sizeof msg);
	snprintf(want, sizeof want, "%s/photos/2024-thumbs", here);
	assert_string_equal(out, want);
	free(out);
	/* a file: ./thumbs */
	const char *file[] = {"photos/a.jpg"};
	out = options_default_out_dir(file, 1, msg, sizeof msg);
	assert_string_equal(out, "thumbs");
	free(out);
	/* a path that is not there is passed over (a mistyped one took ./thumbs,
	 * the cron's); none there: the first one's -thumbs, taken back by the run */
	const char *missing[] = {"nowhere/"};
	out = options_default_out_dir(missing, 1, msg, sizeof msg);
	assert_string_equal(out, "nowhere-thumbs");
	free(out);
	const char *then[] = {"nowhere", "photos/2024"};
	out = options_default_out_dir(then, 2, msg, sizeof msg);
	snprintf(want, sizeof want, "%s/photos/2024-thumbs", here);
	assert_string_equal(out, want);
	free(out);
	/* nothing lies beside / */
	const char *root[] = {"/"};
	assert_null(options_default_out_dir(root, 1, msg, sizeof msg));
	assert_string_equal(msg, "cannot choose an output folder beside '/': give -o DIR");
	const char *root2[] = {"//."};
	assert_null(options_default_out_dir(root2, 1, msg, sizeof msg));
	assert_string_equal(msg, "cannot choose an output folder beside '//.': give -o DIR");

	/* through options_parse: the default is refused where it lies in an input tree */
	imgpool_options o;
	assert_int_equal(PARSE(&o, "photos/2024", "photos"), OPTIONS_USAGE);
	snprintf(want, sizeof want, "imgpool: the default output folder '%s/photos/2024-thumbs' "
		 "lies inside 'photos': give -o DIR\n", here);
	assert_string_equal(err_text, want);
	/* ./thumbs for a file, inside the folder "." also given: refused once it
	 * exists (test_default_inside_dot has the case before) */
	mkdirs("thumbs");
	assert_int_equal(PARSE(&o, "photos/a.jpg", "."), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: the default output folder 'thumbs' lies inside "
			    "'.': give -o DIR\n");
	rmdir("thumbs");
	assert_int_equal(PARSE(&o, "/"), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: cannot choose an output folder beside '/': give "
			    "-o DIR\n");
	/* -o is the user's choice: taken as given, even inside an input */
	assert_int_equal(PARSE(&o, "-o", "photos/out", "photos"), OPTIONS_RUN);
	assert_string_equal(o.out_dir, "photos/out");
	options_free(&o);
	/* beside, not inside: fine, also for a sibling whose name starts the same */
	mkdirs("photos-thumbs-src");
	assert_int_equal(PARSE(&o, "photos", "photos-thumbs-src", "photos/2024"), OPTIONS_RUN);
	snprintf(want, sizeof want, "%s/photos-thumbs", here);
	assert_string_equal(o.out_dir, want);
	options_free(&o);
	/* a file first, folders elsewhere: ./thumbs is fine */
	assert_int_equal(PARSE(&o, "photos/a.jpg", "photos"), OPTIONS_RUN);
	assert_string_equal(o.out_dir, "thumbs");
	options_free(&o);
	free(here);
}

/* The default ./thumbs (the first PATH a file) lies inside a folder "." also given:
 * refused before it exists too (the check once found no existing ancestor of a name
 * without '/', and a first run wrote inside the input tree). */
static void test_default_inside_dot(void **state)
{
	imgpool_options o;
	touch("a.jpg");
	assert_int_equal(PARSE(&o, "a.jpg", "."), OPTIONS_USAGE);
	assert_string_equal(err_text, "imgpool: the default output folder 'thumbs' lies inside "
			    "'.': give -o DIR\n");
}

/* ------------------------------------------------------------------------- */
/* --help and --version                                                       */

static const char *const long_names[] = {
	"output", "name", "recursive", "include", "exclude", "size", "fit", "crop", "enlarge",
	"format", "quality", "background", "keep-metadata", "max-pixels", "jobs", "timeout",
	"retries", "force", "overwrite", "dry-run", "quiet", "verbose", "report", "progress",
	"progress-interval", "trace", "timeline", "min-free", "max-worker-rss", "shard",
	"retry-failed", "prune", "checksum", "no-journal", "shard-count", "help", "version",
};

/* Is "--name" in the text as a whole option name? */
static int mentions(const char *text, const char *name)
{
	char want[64];
	snprintf(want, sizeof want, "--%s", name);
	size_t n = strlen(want);
	for (const char *p = text; (p = strstr(p, want)); p += n) {
		char next = p[n];
		if (!(next >= 'a' && next <= 'z') && next != '-')
			return 1;
	}
	return 0;
}

/* The long options of the parser's own table, read from options.c: an option added
 * there and not to --help fails here. */
static int table_names(char names[][32], int max)
{
	const char *src = getenv("IMGPOOL_SRC");
	char path[PATH_MAX];
	if (!src)
		return -1;
	snprintf(path, sizeof path, "%s/app/options.c", src);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0, in_table = 0;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "struct option long_options[]"))
			in_table = 1;
		else if (in_table && strstr(line, "};"))
			break;
		char name[32];
		if (in_table && n < max && sscanf(line, " {\"%31[^\"]\"", name) == 1)
			snprintf(names[n++], 32, "%s", name);
	}
	fclose(f);
	return n;
}

static void test_help(void **state)
{
	imgpool_options o;
	assert_int_equal(PARSE(&o, "--help"), OPTIONS_EXIT_OK);
	assert_string_equal(err_text, "");
	assert_true(!strncmp(out_text, "Usage: imgpool [OPTIONS] PATH...\n", 33));
	for (size_t i = 0; i < sizeof long_names / sizeof *long_names; i++)
		if (!mentions(out_text, long_names[i]))
			fail_msg("--help does not mention --%s", long_names[i]);
	char names[64][32];
	int n = table_names(names, 64);
	if (n >= 0) {
		assert_true(n >= (int)(sizeof long_names / sizeof *long_names));
		for (int i = 0; i < n; i++)
			if (!mentions(out_text, names[i]))
				fail_msg("--help does not mention --%s (in the option table)", names[i]);
	}
	/* the extension list comes from its one table, all of it */
	static const char *const exts[] = {"jpg", "jpeg", "jpe", "jfif", "png", "webp", "avif",
					   "tif", "tiff", "heic", "heif", "gif"};
	static const char intro[] = "images, by extension (any\ncase):";
	const char *list = strstr(out_text, intro);
	assert_non_null(list);
	list += strlen(intro);
	const char *end = strchr(list, '\n');
	assert_non_null(end);
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		char word[16];
		snprintf(word, sizeof word, " %s", exts[i]);
		const char *hit = strstr(list, word);
		if (!hit || hit > end)
			fail_msg("--help does not list .%s", exts[i]);
	}
	/* the text is printf'd: its percent signs come out single */
	assert_non_null(strstr(out_text, "1G or 2%, whichever"));
	assert_null(strstr(out_text, "%%"));
	/* -h, anywhere, even after a bad value would be seen */
	assert_int_equal(PARSE(&o, "-rh"), OPTIONS_EXIT_OK);
	assert_true(!strncmp(out_text, "Usage: imgpool", 14));
	assert_int_equal(PARSE(&o, "in", "-h", "-j", "0"), OPTIONS_EXIT_OK);
	assert_null(o.out_dir);

	assert_int_equal(PARSE(&o, "-V"), OPTIONS_EXIT_OK);
	assert_true(!strncmp(out_text, "imgpool " IMGPOOL_VERSION "\n", strlen(IMGPOOL_VERSION) + 9));
	assert_non_null(strstr(out_text, "libvips"));
	assert_string_equal(err_text, "");
	assert_int_equal(PARSE(&o, "--version"), OPTIONS_EXIT_OK);
}

/* ------------------------------------------------------------------------- */
/* The parsers                                                                */

static void test_parse_bytes(void **state)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} good[] = {
		{"0", 0}, {"100000", 100000}, {"512M", 512ULL << 20}, {"1G", 1ULL << 30},
		{"1.5GiB", 3ULL << 29}, {"1k", 1024}, {"1K", 1024}, {"1KB", 1024}, {"1kib", 1024},
		{"2T", 2ULL << 40}, {"3B", 3}, {"0.5K", 512}, {"7b", 7},
		{"8000000T", 8000000ULL << 40},
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		uint64_t b = 12345;
		double pct = 99;
		if (options_parse_bytes(good[i].s, &b, &pct) < 0)
			fail_msg("'%s' refused", good[i].s);
		if (b != good[i].bytes)
			fail_msg("'%s' gave %llu", good[i].s, (unsigned long long)b);
		assert_true(pct == 0);
		b = 12345;
		assert_int_equal(options_parse_bytes(good[i].s, &b, NULL), 0);
		assert_int_equal(b, good[i].bytes);
	}
	static const char *const bad[] = {
		"", "abc", "-1", "1X", "1GiBB", "iB", "1iB", "1 G", "nan", "inf", "1e30", "8E",
		"1e3", "0x10", "+1G", " 1G", ".G",
		"8388608T", "G", "1GG", "%", "1%%", "1.5.5M",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		uint64_t b = 777;
		double pct = 7;
		if (options_parse_bytes(bad[i], &b, &pct) == 0)
			fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)b);
		assert_int_equal(b, 777); /* untouched */
	}
	/* a percentage only where one is wanted */
	uint64_t b = 5;
	double pct = 0;
	assert_int_equal(options_parse_bytes("2%", &b, &pct), 0);
	assert_true(pct == 2);
	assert_int_equal(b, 0);
	assert_int_equal(options_parse_bytes("0.5%", &b, &pct), 0);
	assert_true(pct == 0.5);
	assert_int_equal(options_parse_bytes("100%", &b, &pct), 0);
	assert_true(pct == 100);
	assert_int_equal(options_parse_bytes("101%", &b, &pct), -1);
	assert_int_equal(options_parse_bytes("2%", &b, NULL), -1);
	assert_int_equal(options_parse_bytes("2 %", &b, &pct), -1);
}

static void test_parse_sizes(void **state)
{
	thumb_settings s;
	char msg[128];
	static const struct {
		const char *spec;
		int n;
		thumb_size sizes[3];
	} good[] = {
		{"256", 1, {{256, 256}}},
		{"320x240", 1, {{320, 240}}},
		{"320X240", 1, {{320, 240}}},
		{"x200", 1, {{0, 200}}},
		{"300x", 1, {{300, 0}}},
		{"1", 1, {{1, 1}}},
		{"100000", 1, {{100000, 100000}}},
		{"100000x100000", 1, {{100000, 100000}}},
		{"1600,800,320", 3, {{1600, 1600}, {800, 800}, {320, 320}}},
		{"x10,10x,10x10", 3, {{0, 10}, {10, 0}, {10, 10}}},
		{"10,10x5", 2, {{10, 10}, {10, 5}}},
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		memset(&s, 0xff, sizeof s);
		if (options_parse_sizes(good[i].spec, &s, msg, sizeof msg) < 0)
			fail_msg("'%s' refused: %s", good[i].spec, msg);
		assert_int_equal(s.nsizes, good[i].n);
		for (int k = 0; k < good[i].n; k++) {
			assert_int_equal(s.sizes[k].w, good[i].sizes[k].w);
			assert_int_equal(s.sizes[k].h, good[i].sizes[k].h);
		}
	}
	assert_int_equal(options_parse_sizes("1,2,3,4,5,6,7,8", &s, msg, sizeof msg), 0);
	assert_int_equal(s.nsizes, THUMB_MAX_SIZES);
	assert_int_equal(s.sizes[7].w, 8);

	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{"", "'' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"x", "'x' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"0", "'0' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"100001", "'100001' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"0x5", "'0x5' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"5x0", "'5x0' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"1x2x3", "'1x2x3' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"-5", "'-5' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"abc", "'abc' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"12.5", "'12.5' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"256,", "'' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{",256", "'' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"1,,2", "'' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"64,32,bad,16", "'bad' is not a size (N, WxH, Wx or xH, 1-100000)"},
		/* blanks either side (strtoll() skipped the leading ones) */
		{" 50", "' 50' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"50 ", "'50 ' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"50x 40", "'50x 40' is not a size (N, WxH, Wx or xH, 1-100000)"},
		{"64,64", "'64' is given twice (N and NxN are one box)"},
		{"64,64x64", "'64x64' is given twice (N and NxN are one box)"},
		{"x9,x9", "'x9' is given twice (N and NxN are one box)"},
		{"1,2,3,4,5,6,7,8,9", "at most 8 sizes"},
		{"1234567890123456789012345678901234567890123456789",
		 "'1234567890123456789012345678901234567890' is not a size (N, WxH, Wx or xH, "
		 "1-100000)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		msg[0] = '\0';
		if (options_parse_sizes(bad[i].spec, &s, msg, sizeof msg) == 0)
			fail_msg("'%s' accepted", bad[i].spec);
		assert_string_equal(msg, bad[i].msg);
	}
	/* a short message buffer is cut, never overrun */
	char tiny[8];
	assert_int_equal(options_parse_sizes("bad", &s, tiny, sizeof tiny), -1);
	assert_string_equal(tiny, "'bad' i");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_name_globs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gnu_conventions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_flag_with_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_out_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_inside_dot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test(test_parse_bytes),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test_setup_teardown(test_output_controls, setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	free(out_text);
	free(err_text);
	for (int i = 0; i < KEPT; i++)
		free(kept[i]);
	return failed;
}
