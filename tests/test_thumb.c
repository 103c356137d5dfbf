/* SPDX-License-Identifier: MIT */
/*
 * test_thumb.c — unit tests of app/thumb.c and app/settings.c.
 *
 * Inputs are generated with libvips itself in a temp folder; the real photos of
 * IMGPOOL_CORPUS are run through when that folder exists (skipped otherwise).
 * thumb_worker_init() runs in-process: no pool is needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "failure.h"
#include "filehash.h"
#include "settings.h"
#include "thumb.h"
#include "vipserr.h"
#include "modules_testlib.h"
#include "vipsmodules.h"

static char tmpdir[PATH_MAX];	/* this run's scratch folder */
static const char *self_exe = "/proc/self/exe";	/* argv[0] when it is a path (valgrind) */

/* ---------------------------------------------------------------- helpers -- */

/* A path under tmpdir, in a static ring so a test can hold a few at once. */
static const char *tpath(const char *fmt, ...)
{
	static char ring[8][PATH_MAX];
	static int next;
	char *p = ring[next++ % 8];
	char rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	if (snprintf(p, PATH_MAX, "%s/%s", tmpdir, rel) >= PATH_MAX)
		fail_msg("path too long: %s/%s", tmpdir, rel);
	return p;
}

/* Default settings: one box, fit inside, defaults everywhere. */
static thumb_settings settings_box(int w, int h)
{
	thumb_settings s;

	memset(&s, 0, sizeof s);
	s.sizes[0].w = w;
	s.sizes[0].h = h;
	s.nsizes = 1;
	s.background[0] = s.background[1] = s.background[2] = 255;
	s.max_pixels = 268402689;
	return s;
}

/* Write a w x h test image to path (format from its suffix): a gradient, 3 bands
 * (1 when grey), 16-bit when deep, an alpha band of value `alpha` (0..255 scale)
 * when alpha >= 0, EXIF orientation when orientation > 1. */
static void make_image(const char *path, int w, int h, int grey, int deep, int alpha,
		       int orientation)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 8);
	VipsImage *in;
	double scale = deep ? 257.0 : 1.0;

	/* x + y, wrapped to 0..255: something to look at, and JPEG-friendly. */
	assert_int_equal(vips_xyz(&t[0], w, h, NULL), 0);
	assert_int_equal(vips_bandmean(t[0], &t[1], NULL), 0);
	assert_int_equal(vips_remainder_const1(t[1], &t[2], 256, NULL), 0);
	in = t[2];
	if (!grey) {
		VipsImage *bands[3] = { in, in, in };

		assert_int_equal(vips_bandjoin(bands, &t[3], 3, NULL), 0);
		in = t[3];
	}
	if (alpha >= 0) {
		assert_int_equal(vips_bandjoin_const1(in, &t[4], alpha, NULL), 0);
		in = t[4];
	}
	assert_int_equal(vips_linear1(in, &t[5], scale, 0, NULL), 0);
	assert_int_equal(vips_cast(t[5], &t[6], deep ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR,
				   NULL), 0);
	assert_int_equal(vips_copy(t[6], &t[7], "interpretation",
				   deep ? (grey ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16)
					: (grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB),
				   NULL), 0);
	if (orientation > 1)
		vips_image_set_int(t[7], VIPS_META_ORIENTATION, orientation);
	assert_int_equal(vips_image_write_to_file(t[7], path, NULL), 0);
	g_object_unref(base);
}

/* Open an output for checking; fails the test when it does not load. */
static VipsImage *load(const char *path)
{
	VipsImage *im = vips_image_new_from_file(path, NULL);

	if (!im)
		fail_msg("cannot load %s: %s", path, vips_error_buffer());
	return im;
}

/* Assert an output is 8-bit sRGB with 3 or 4 bands. */
static void assert_srgb8(const char *path)
{
	VipsImage *im = load(path);

	assert_int_equal(im->BandFmt, VIPS_FORMAT_UCHAR);
	assert_true(im->Bands == 3 || im->Bands == 4);
	assert_int_equal(vips_image_guess_interpretation(im), VIPS_INTERPRETATION_sRGB);
	g_object_unref(im);
}

/* Entries of folder dir, "." and ".." excepted; any temp file fails the test. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strstr(e->d_name, ".imgpool-"))
			fail_msg("temp file left behind: %s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* rm -rf, for the scratch folder (only ever paths under tmpdir). */
static void remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		chmod(path, 0700);
		while (d && (e = readdir(d))) {
			char sub[PATH_MAX];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			remove_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%.*s", PATH_MAX - 1, dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static failure_kind last_kind;

/* thumb_run()'s beneath and found file for the next run_paths() (reset by it). */
static size_t next_beneath;
static thumb_found next_found;

/* thumb_run with outputs named by path, as the parent plans them: the format from
 * the name (thumb_output_format, as the planner does), the folder made and opened
 * here, the file created by thumb_run itself under its final name. */
static int run_paths(const thumb_settings *s, const char *in, const char *const *paths,
		     thumb_result *res, char *err, size_t errlen)
{
	thumb_output outs[THUMB_MAX_SIZES];
	char dirs[THUMB_MAX_SIZES][PATH_MAX];
	int rc = -1, n = s->nsizes;

	err[0] = '\0';
	for (int i = 0; i < n; i++)
		outs[i].dirfd = -1;
	for (int i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/');

		snprintf(dirs[i], sizeof dirs[i], "%.*s", (int)(slash - paths[i]) & 0xfff, paths[i]);
		outs[i].name = slash + 1;
		if (thumb_output_format(s->format, paths[i], &outs[i].format) < 0) {
			snprintf(err, errlen, "cannot write \"%s\" files", strrchr(paths[i], '.') + 1);
			goto done;
		}
		if (make_dirs(dirs[i]) < 0 ||
		    (outs[i].dirfd = open(dirs[i], O_RDONLY | O_DIRECTORY)) < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto done;
		}
	}
	rc = thumb_run(s, in, next_beneath, next_found.dev || next_found.ino ? &next_found : NULL,
		       outs, res, &last_kind, err, errlen);
	next_found = (thumb_found){0, 0};
done:
	next_beneath = 0;
	for (int i = 0; i < n; i++)
		if (outs[i].dirfd >= 0)
			close(outs[i].dirfd);
	return rc;
}

/* One run with a single output; returns its rc. */
static int run1(const thumb_settings *s, const char *in, const char *out,
		thumb_result *res, char *err, size_t errlen)
{
	const char *outs[1] = { out };

	return run_paths(s, in, outs, res, err, errlen);
}

/* Fixtures: a fresh scratch folder per test. */
static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "%s/test_thumb.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	remove_tree(tmpdir);
	vips_error_clear();
	return 0;
}

/* ------------------------------------------------------------------ tests -- */

/* One size: fits inside, dimensions and sizes reported, no temp file left. */
/* A cause says why: libtiff's complaints about tags it skips (which filled
 * libvips' error buffer until its real error was cut off), a sniff's "bad seek"
 * and the line cut at "..." are left out where something else is said; a loader
 * imgpool blocks says the file's content is that format. */
static void test_causes_without_noise(void **state)
{
	(void)state;
	char err[512];
	vipserr_clear();
	vips_error("TIFFFetchNormalTag", "Defined set_field_type of custom tag 6912 (Tag 6912) "
		   "is TIFF_SETGET_UNDEFINED and thus tag is not read from file");
	vips_error("tiff2vips", "read error");
	vipserr_cause(err, sizeof err, "/p/a.tif", "cannot decode the image");
	assert_string_equal(err, "tiff2vips: read error");
	/* libvips' buffer full: "...", the line before it cut, the real error lost */
	vipserr_clear();
	for (int i = 0; i < 400; i++)
		vips_error("TIFFFetchNormalTag", "Defined set_field_type of custom tag %d (Tag %d) "
			   "is TIFF_SETGET_UNDEFINED and thus tag is not read from file", i, i);
	vips_error("tiff2vips", "read error");
	vipserr_cause(err, sizeof err, "/p/a.tif", "cannot decode the image");
	assert_string_equal(err, "cannot decode the image");
	vipserr_clear();
	vips_error("TIFFFetchNormalTag", "Defined set_field_type of custom tag 1 (Tag 1) is "
		   "TIFF_SETGET_UNDEFINED and thus tag is not read from file");
	vipserr_cause(err, sizeof err, "/p/a.tif", "cannot decode the image");
	assert_non_null(strstr(err, "TIFF_SETGET_UNDEFINED")); /* all there is: said */
	vipserr_clear();
	vips_error("source", "bad seek to 371");
	vips_error("heif", "Security limit exceeded");
	vipserr_cause(err, sizeof err, "/p/a.avif", "cannot decode the image");
	assert_string_equal(err, "heif: Security limit exceeded");
	vipserr_clear();
	vips_error("radload_source", "operation is blocked");
	vipserr_cause(err, sizeof err, "/p/a.tif", "cannot decode the image");
	assert_string_equal(err, "its content is Radiance HDR, a format imgpool does not read "
				 "(whatever its name says)");
	vipserr_clear();
	vips_error("newload", "operation is blocked");
	vipserr_cause(err, sizeof err, "/p/a.tif", "cannot decode the image");
	assert_non_null(strstr(err, "(libvips' newload)"));
	vipserr_clear();
}

static void test_single_size(void **state)
{
	thumb_settings s = settings_box(100, 100);
	thumb_result res;
	char err[512];
	struct stat st;
	VipsImage *im;

	(void)state;
	make_image(tpath("in.jpg"), 400, 300, 0, 0, -1, 0);
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("out/a.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.in_w, 400);
	assert_int_equal(res.in_h, 300);
	assert_int_equal(res.nout, 1);
	assert_int_equal(res.out[0].w, 100);
	assert_int_equal(res.out[0].h, 75);
	assert_int_equal(stat(tpath("in.jpg"), &st), 0);
	assert_int_equal(res.in_bytes, (uint64_t)st.st_size);
	assert_int_equal(stat(tpath("out/a.jpg"), &st), 0);
	assert_int_equal(res.out[0].bytes, (uint64_t)st.st_size);
	im = load(tpath("out/a.jpg"));
	assert_int_equal(im->Xsize, 100);
	assert_int_equal(im->Ysize, 75);
	g_object_unref(im);
	assert_int_equal(count_entries(tpath("out")), 1);
}

/* One run of in, whose part from beneath on a folder walk found. */
static int run_walked(const thumb_settings *s, const char *in, size_t beneath, char *err,
		      size_t errlen)
{
	thumb_result res;
	unlink(tpath("out/t.jpg")); /* the last run's */
	next_beneath = beneath;
	return run1(s, in, tpath("out/t.jpg"), &res, err, errlen);
}

/* The folders a walk found below its root are never read through a symlink: one
 * swapped for a symlink since the walk fails the file (environment: the next run
 * walks again) and writes nothing; a symlinked file in such a folder, and a root
 * reached through a symlink (the user's), are read. Without beneath (a file named
 * as a PATH, a listed one) the path is followed as given. JPEG (the fast path's
 * bytes) and PNG (read by name). */
static void test_walked_folders_not_through_a_symlink(void **state)
{
	thumb_settings s = settings_box(100, 100);
	char err[512];
	const char *names[] = {"x.jpg", "y.png"};
	(void)state;
	assert_int_equal(make_dirs(tpath("root/b")), 0);
	assert_int_equal(make_dirs(tpath("elsewhere")), 0);
	for (int i = 0; i < 2; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "root/b/%s", names[i]);
		make_image(tpath(p), 400, 300, 0, 0, -1, 0);
		snprintf(p, sizeof p, "elsewhere/%s", names[i]);
		make_image(tpath(p), 300, 400, 0, 0, -1, 0);
	}
	assert_int_equal(symlink(tpath("root"), tpath("rootlink")), 0);
	assert_int_equal(symlink(tpath("elsewhere/x.jpg"), tpath("root/b/link.jpg")), 0);
	size_t at = strlen(tpath("root/")), at_link = strlen(tpath("rootlink/"));
	assert_int_equal(run_walked(&s, tpath("root/b/x.jpg"), at, err, sizeof err), 0);
	assert_int_equal(run_walked(&s, tpath("root/b/y.png"), at, err, sizeof err), 0);
	assert_int_equal(run_walked(&s, tpath("root/b/link.jpg"), at, err, sizeof err), 0);
	assert_int_equal(run_walked(&s, tpath("rootlink/b/x.jpg"), at_link, err, sizeof err), 0);
	/* b swapped for a symlink to a folder outside the tree */
	assert_int_equal(rename(tpath("root/b"), tpath("b.real")), 0);
	assert_int_equal(symlink(tpath("elsewhere"), tpath("root/b")), 0);
	for (int i = 0; i < 2; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "root/b/%s", names[i]);
		assert_int_equal(run_walked(&s, tpath(p), at, err, sizeof err), -1);
		assert_int_equal(last_kind, FAIL_ENVIRONMENT);
		assert_non_null(strstr(err, "replaced"));
		assert_int_equal(access(tpath("out/t.jpg"), F_OK), -1);
		assert_int_equal(run_walked(&s, tpath(p), 0, err, sizeof err), 0); /* as given */
	}
}

/* A found file that is a folder now (removed, and a folder made in its place,
 * which ext4 gives the inode number the file freed) was replaced: an
 * environment failure, tried again next run, not "not a regular file" (decode),
 * which stayed "failed earlier" once the same file was back. Without a found
 * file to compare, a folder is still not a regular file. */
static void test_a_found_file_now_a_folder_was_replaced(void **state)
{
	thumb_settings s = settings_box(100, 100);
	thumb_result res;
	struct stat st;
	char err[512];
	(void)state;
	assert_int_equal(make_dirs(tpath("gone.jpg")), 0);
	assert_int_equal(stat(tpath("gone.jpg"), &st), 0);
	next_found = (thumb_found){(uint64_t)st.st_dev, (uint64_t)st.st_ino};
	assert_int_equal(run1(&s, tpath("gone.jpg"), tpath("out/t.jpg"), &res, err, sizeof err), -1);
	assert_int_equal(last_kind, FAIL_ENVIRONMENT);
	assert_non_null(strstr(err, "replaced"));
	assert_int_equal(run1(&s, tpath("gone.jpg"), tpath("out/t.jpg"), &res, err, sizeof err), -1);
	assert_int_equal(last_kind, FAIL_DECODE);
	assert_string_equal(err, "not a regular file");
	assert_int_equal(access(tpath("out/t.jpg"), F_OK), -1);
}

/* The input's checksum is that of its bytes, whether the JPEG fast path read it
 * whole (and took the checksum from the bytes it decodes) or another file was
 * checksummed as it streamed by; and equal for equal bytes, whichever way. */
static void test_checksum_of_the_bytes(void **state)
{
	thumb_settings s = settings_box(100, 100);
	thumb_result res;
	char err[512];
	uint64_t sum;

	(void)state;
	make_image(tpath("in.jpg"), 400, 300, 0, 0, -1, 0);
	make_image(tpath("in.png"), 400, 300, 0, 0, -1, 0);
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("out/a.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(filehash_path(tpath("in.jpg"), &sum), 0);
	assert_true(res.in_checksum == sum && sum != 0);
	assert_int_equal(run1(&s, tpath("in.png"), tpath("out/b.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(filehash_path(tpath("in.png"), &sum), 0);
	assert_true(res.in_checksum == sum && sum != 0);
	/* A JPEG that does not decode still has the checksum of its bytes. */
	static const char bad[] = "\xff\xd8\xff\xe0 not much of a JPEG";
	int fd = open(tpath("bad.jpg"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
	close(fd);
	assert_int_equal(run1(&s, tpath("bad.jpg"), tpath("out/c.jpg"), &res, err, sizeof err), -1);
	assert_int_equal(filehash_path(tpath("bad.jpg"), &sum), 0);
	assert_true(res.in_checksum == sum);
	assert_true(filehash_bytes(bad, sizeof bad - 1) == sum);
}

/* Several sizes from one decode; unconstrained sides; nested missing folders. */
static void test_multiple_sizes(void **state)
{
	thumb_settings s = settings_box(200, 200);
	static const int want[][2] = { { 200, 150 }, { 40, 30 }, { 80, 60 }, { 120, 90 } };
	const char *outs[4];
	thumb_result res;
	char err[512];

	(void)state;
	s.sizes[1] = (thumb_size){ 40, 40 };
	s.sizes[2] = (thumb_size){ 0, 60 };
	s.sizes[3] = (thumb_size){ 120, 0 };
	s.nsizes = 4;
	make_image(tpath("in.png"), 400, 300, 0, 0, -1, 0);
	outs[0] = tpath("o/big/in.png");
	outs[1] = tpath("o/small/in.png");
	outs[2] = tpath("o/h60/deeper/in.png");
	outs[3] = tpath("o/w120/in.png");
	assert_int_equal(run_paths(&s, tpath("in.png"), outs, &res, err, sizeof err), 0);
	assert_int_equal(res.nout, 4);
	for (int i = 0; i < 4; i++) {
		VipsImage *im = load(outs[i]);

		assert_int_equal(res.out[i].w, want[i][0]);
		assert_int_equal(res.out[i].h, want[i][1]);
		assert_int_equal(im->Xsize, want[i][0]);
		assert_int_equal(im->Ysize, want[i][1]);
		g_object_unref(im);
	}
}

/* A small image is never enlarged unless asked. */
static void test_enlarge(void **state)
{
	thumb_settings s = settings_box(400, 400);
	thumb_result res;
	char err[512];

	(void)state;
	make_image(tpath("in.jpg"), 100, 80, 0, 0, -1, 0);
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("a.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 100);
	assert_int_equal(res.out[0].h, 80);
	s.enlarge = 1;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("b.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 400);
	assert_int_equal(res.out[0].h, 320);

	/* Cover and fill: no side grows without enlarge (fill stretched a 100x80
	 * image to 400x400); a side longer than the box's still shrinks to it. The
	 * sides are the upright image's: EXIF orientation 6 turns 100x80 to 80x100. */
	static const struct {
		thumb_fit fit;
		int orientation, bw, bh, enlarge, w, h;
	} cases[] = {
		{FIT_FILL, 0, 400, 400, 0, 100, 80},  {FIT_FILL, 0, 400, 40, 0, 100, 40},
		{FIT_FILL, 0, 50, 400, 0, 50, 80},    {FIT_FILL, 6, 400, 90, 0, 80, 90},
		{FIT_FILL, 0, 400, 400, 1, 400, 400}, {FIT_COVER, 0, 400, 400, 0, 100, 80},
		{FIT_COVER, 0, 400, 40, 0, 100, 40},  {FIT_COVER, 6, 400, 90, 0, 80, 90},
	};
	make_image(tpath("rot6.jpg"), 100, 80, 0, 0, -1, 6);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		VipsImage *im;

		s = settings_box(cases[i].bw, cases[i].bh);
		s.fit = cases[i].fit;
		s.enlarge = cases[i].enlarge;
		if (run1(&s, tpath(cases[i].orientation ? "rot6.jpg" : "in.jpg"),
			 tpath("grow%zu.jpg", i), &res, err, sizeof err))
			fail_msg("case %zu: %s", i, err);
		im = load(tpath("grow%zu.jpg", i));
		if (im->Xsize != cases[i].w || im->Ysize != cases[i].h)
			fail_msg("case %zu: %dx%d, not %dx%d", i, im->Xsize, im->Ysize,
				 cases[i].w, cases[i].h);
		assert_int_equal(res.out[0].w, cases[i].w);
		assert_int_equal(res.out[0].h, cases[i].h);
		g_object_unref(im);
	}
}

/* Cover fills the box exactly (centre and attention crop); fill stretches. */
static void test_cover_and_fill(void **state)
{
	thumb_settings s = settings_box(100, 100);
	thumb_result res;
	char err[512];
	VipsImage *im;

	(void)state;
	make_image(tpath("in.jpg"), 400, 300, 0, 0, -1, 0);
	s.fit = FIT_COVER;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("c.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 100);
	assert_int_equal(res.out[0].h, 100);
	s.crop = CROP_ATTENTION;
	s.sizes[0] = (thumb_size){ 50, 120 };
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("ca.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 50);
	assert_int_equal(res.out[0].h, 120);
	im = load(tpath("ca.jpg"));
	assert_int_equal(im->Xsize, 50);
	assert_int_equal(im->Ysize, 120);
	g_object_unref(im);

	/* Two cover boxes of opposite shapes from one master. */
	s.sizes[0] = (thumb_size){ 200, 50 };
	s.sizes[1] = (thumb_size){ 50, 200 };
	s.nsizes = 2;
	{
		const char *outs[2] = { tpath("w.jpg"), tpath("t.jpg") };

		assert_int_equal(run_paths(&s, tpath("in.jpg"), outs, &res, err, sizeof err), 0);
		assert_int_equal(res.out[0].w, 200);
		assert_int_equal(res.out[0].h, 50);
		assert_int_equal(res.out[1].w, 50);
		assert_int_equal(res.out[1].h, 200);
	}

	s = settings_box(50, 200);
	s.fit = FIT_FILL;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("f.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 50);
	assert_int_equal(res.out[0].h, 200);
	im = load(tpath("f.jpg"));
	assert_int_equal(im->Xsize, 50);
	assert_int_equal(im->Ysize, 200);
	g_object_unref(im);
}

/* EXIF orientation 6: the output is upright (w/h swapped) and so is in_w/in_h. */
static void test_orientation(void **state)
{
	thumb_settings s = settings_box(100, 100);
	thumb_result res;
	char err[512];
	VipsImage *im;

	(void)state;
	make_image(tpath("rot.jpg"), 400, 300, 0, 0, -1, 6);
	im = load(tpath("rot.jpg"));
	assert_int_equal(vips_image_get_orientation(im), 6);	/* the test's own premise */
	g_object_unref(im);
	assert_int_equal(run1(&s, tpath("rot.jpg"), tpath("o.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.in_w, 300);
	assert_int_equal(res.in_h, 400);
	assert_int_equal(res.out[0].w, 75);
	assert_int_equal(res.out[0].h, 100);
	im = load(tpath("o.jpg"));
	assert_int_equal(im->Xsize, 75);
	assert_int_equal(im->Ysize, 100);
	assert_int_equal(vips_image_get_orientation(im), 1);
	g_object_unref(im);
}

/* 16-bit PNG (RGB and grey) comes out as 8-bit sRGB, as PNG and as JPEG. */
static void test_16bit(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	VipsImage *im;

	(void)state;
	make_image(tpath("deep.png"), 200, 100, 0, 1, -1, 0);
	im = load(tpath("deep.png"));
	assert_int_equal(im->BandFmt, VIPS_FORMAT_USHORT);	/* premise */
	g_object_unref(im);
	assert_int_equal(run1(&s, tpath("deep.png"), tpath("d.png"), &res, err, sizeof err), 0);
	assert_srgb8(tpath("d.png"));
	assert_int_equal(run1(&s, tpath("deep.png"), tpath("d.jpg"), &res, err, sizeof err), 0);
	assert_srgb8(tpath("d.jpg"));

	/* The values are scaled, not clipped: the gradient is still there. */
	im = load(tpath("d.png"));
	{
		double min, max;

		assert_int_equal(vips_min(im, &min, NULL), 0);
		assert_int_equal(vips_max(im, &max, NULL), 0);
		assert_true(max - min > 100);
	}
	g_object_unref(im);

	make_image(tpath("deepgrey.png"), 200, 100, 1, 1, 65535 / 257, 0);
	assert_int_equal(run1(&s, tpath("deepgrey.png"), tpath("g.png"), &res, err, sizeof err), 0);
	im = load(tpath("g.png"));
	assert_int_equal(im->BandFmt, VIPS_FORMAT_UCHAR);
	g_object_unref(im);
}

/* A CMYK JPEG without a profile comes out 8-bit sRGB (vips' built-in CMYK
 * profile); a grey JPEG stays 8-bit. */
static void test_cmyk_and_grey(void **state)
{
	thumb_settings s = settings_box(64, 64);
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 3);
	thumb_result res;
	char err[512];
	VipsImage *im;
	double *px;
	int n;

	(void)state;
	/* C=0 M=0 Y=0 K=0: white paper. */
	assert_int_equal(vips_black(&t[0], 200, 100, "bands", 4, NULL), 0);
	assert_int_equal(vips_cast_uchar(t[0], &t[1], NULL), 0);
	assert_int_equal(vips_copy(t[1], &t[2], "interpretation", VIPS_INTERPRETATION_CMYK,
				   NULL), 0);
	assert_int_equal(vips_image_write_to_file(t[2], tpath("cmyk.jpg"), NULL), 0);
	g_object_unref(base);
	im = load(tpath("cmyk.jpg"));
	assert_int_equal(im->Bands, 4);		/* premise: really CMYK */
	assert_false(vips_image_get_typeof(im, VIPS_META_ICC_NAME));
	g_object_unref(im);

	assert_int_equal(run1(&s, tpath("cmyk.jpg"), tpath("c.jpg"), &res, err, sizeof err), 0);
	assert_srgb8(tpath("c.jpg"));
	im = load(tpath("c.jpg"));
	assert_int_equal(im->Bands, 3);
	assert_int_equal(vips_getpoint(im, &px, &n, 5, 5, NULL), 0);
	assert_true(px[0] > 200 && px[1] > 200 && px[2] > 200);	/* white, not black */
	g_free(px);
	g_object_unref(im);

	make_image(tpath("grey.jpg"), 200, 100, 1, 0, -1, 0);
	assert_int_equal(run1(&s, tpath("grey.jpg"), tpath("g.jpg"), &res, err, sizeof err), 0);
	im = load(tpath("g.jpg"));
	assert_int_equal(im->BandFmt, VIPS_FORMAT_UCHAR);
	assert_int_equal(im->Bands, 1);
	g_object_unref(im);
}

/* Alpha is kept for PNG/WebP, flattened onto the background for JPEG. */
static void test_alpha(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	VipsImage *im;
	double *px;
	int n;

	(void)state;
	make_image(tpath("a.png"), 200, 100, 0, 0, 0, 0);	/* fully transparent */
	assert_int_equal(run1(&s, tpath("a.png"), tpath("a_out.png"), &res, err, sizeof err), 0);
	im = load(tpath("a_out.png"));
	assert_int_equal(im->Bands, 4);
	g_object_unref(im);
	assert_int_equal(run1(&s, tpath("a.png"), tpath("a_out.webp"), &res, err, sizeof err), 0);
	im = load(tpath("a_out.webp"));
	assert_int_equal(im->Bands, 4);
	g_object_unref(im);

	s.background[0] = 255;
	s.background[1] = 0;
	s.background[2] = 0;
	assert_int_equal(run1(&s, tpath("a.png"), tpath("a_out.jpg"), &res, err, sizeof err), 0);
	im = load(tpath("a_out.jpg"));
	assert_int_equal(im->Bands, 3);
	assert_int_equal(vips_getpoint(im, &px, &n, 10, 10, NULL), 0);
	assert_int_equal(n, 3);
	assert_true(px[0] > 230 && px[1] < 25 && px[2] < 25);	/* red background */
	g_free(px);
	g_object_unref(im);

	/* Grey + alpha to JPEG: one band, flattened onto the background's grey. */
	make_image(tpath("ga.png"), 200, 100, 1, 0, 0, 0);
	s.background[0] = s.background[1] = s.background[2] = 200;
	assert_int_equal(run1(&s, tpath("ga.png"), tpath("ga.jpg"), &res, err, sizeof err), 0);
	im = load(tpath("ga.jpg"));
	assert_int_equal(im->Bands, 1);
	assert_int_equal(vips_getpoint(im, &px, &n, 10, 10, NULL), 0);
	assert_true(px[0] > 190 && px[0] < 210);
	g_free(px);
	g_object_unref(im);
}

/* A truncated JPEG fails with a cause and leaves nothing in the output folder;
 * an older output of the same name is left as it was. */
static void test_truncated(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	struct stat st;
	FILE *f;

	(void)state;
	make_image(tpath("whole.jpg"), 800, 600, 0, 0, -1, 0);
	assert_int_equal(stat(tpath("whole.jpg"), &st), 0);
	assert_int_equal(truncate(tpath("whole.jpg"), st.st_size / 2), 0);
	assert_int_equal(mkdir(tpath("out"), 0777), 0);
	assert_int_equal(run1(&s, tpath("whole.jpg"), tpath("out/t.jpg"), &res, err, sizeof err), -1);
	print_message("truncated: %s\n", err);
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
	assert_null(strstr(err, tpath("whole.jpg")));
	assert_int_equal(count_entries(tpath("out")), 0);

	/* Two outputs: neither appears. An older output stays untouched. */
	f = fopen(tpath("out/old.jpg"), "w");
	assert_non_null(f);
	fputs("old", f);
	fclose(f);
	s.sizes[1] = (thumb_size){ 32, 32 };
	s.nsizes = 2;
	{
		const char *outs[2] = { tpath("out/old.jpg"), tpath("out/new/t.jpg") };

		assert_int_equal(run_paths(&s, tpath("whole.jpg"), outs, &res, err, sizeof err), -1);
	}
	assert_int_equal(stat(tpath("out/old.jpg"), &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(count_entries(tpath("out")), 2);	/* old.jpg, new/ (made by run_paths) */
	assert_int_equal(count_entries(tpath("out/new")), 0);
}

/* Not an image: text named .jpg, an empty file, a missing file. */
static void test_not_an_image(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	FILE *f = fopen(tpath("x.jpg"), "w");

	(void)state;
	assert_non_null(f);
	fputs("this is not a JPEG\n", f);
	fclose(f);
	assert_int_equal(run1(&s, tpath("x.jpg"), tpath("o.jpg"), &res, err, sizeof err), -1);
	print_message("text: %s\n", err);
	assert_true(strlen(err) > 0);
	assert_null(strstr(err, tpath("x.jpg")));
	assert_null(strchr(err, '\n'));

	f = fopen(tpath("empty.jpg"), "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(run1(&s, tpath("empty.jpg"), tpath("o.jpg"), &res, err, sizeof err), -1);
	print_message("empty: %s\n", err);
	assert_true(strlen(err) > 0);

	assert_int_equal(run1(&s, tpath("missing.jpg"), tpath("o.jpg"), &res, err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(count_entries(tmpdir), 2);	/* x.jpg, empty.jpg */
}

/* CRC-32 as PNG uses it, for the hand-made PNG below. */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

/* Write one PNG chunk (length, type, data, CRC). */
static void png_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t len)
{
	unsigned char buf[64];

	assert_true(len + 4 <= sizeof buf);
	fputc(len >> 24, f); fputc(len >> 16, f); fputc(len >> 8, f); fputc(len, f);
	memcpy(buf, type, 4);
	if (len)
		memcpy(buf + 4, data, len);
	fwrite(buf, 1, len + 4, f);
	uint32_t c = crc32_png(buf, len + 4);
	fputc(c >> 24, f); fputc(c >> 16, f); fputc(c >> 8, f); fputc(c, f);
}

/* A decompression bomb: a tiny PNG declaring 100000 x 100000 pixels is refused
 * from its header, naming the limit; so is a real image over a small limit. */
static void test_pixel_limit(void **state)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char ihdr[13] = { 0, 0x01, 0x86, 0xa0, 0, 0x01, 0x86, 0xa0, 8, 2, 0, 0, 0 };
	static const unsigned char idat[11] = { 0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1, 0, 0 };
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	FILE *f = fopen(tpath("bomb.png"), "wb");

	(void)state;
	assert_non_null(f);
	fwrite(sig, 1, sizeof sig, f);
	png_chunk(f, "IHDR", ihdr, sizeof ihdr);
	png_chunk(f, "IDAT", idat, sizeof idat);
	png_chunk(f, "IEND", NULL, 0);
	fclose(f);
	assert_int_equal(run1(&s, tpath("bomb.png"), tpath("out/b.png"), &res, err, sizeof err), -1);
	print_message("bomb: %s\n", err);
	assert_non_null(strstr(err, "100000x100000"));
	assert_non_null(strstr(err, "268402689"));
	assert_non_null(strstr(err, "--max-pixels"));
	assert_int_equal(count_entries(tpath("out")), 0);

	make_image(tpath("small.jpg"), 200, 100, 0, 0, -1, 0);
	s.max_pixels = 19999;
	assert_int_equal(run1(&s, tpath("small.jpg"), tpath("out/s.jpg"), &res, err, sizeof err), -1);
	assert_non_null(strstr(err, "20000 pixels"));
	s.max_pixels = 20000;
	assert_int_equal(run1(&s, tpath("small.jpg"), tpath("out/s.jpg"), &res, err, sizeof err), 0);

	/* The outputs too: -s 100000 --enlarge grew a worker to 10 GB making the
	 * master, until the timeout killed it, twice. A JPEG and a PNG (their own
	 * decoders), at once, and nothing written; within the limit, made. */
	make_image(tpath("small.png"), 200, 100, 0, 0, -1, 0);
	s = settings_box(100000, 100000);
	s.enlarge = 1;
	for (int png = 0; png < 2; png++) {
		const char *in = tpath(png ? "small.png" : "small.jpg");

		assert_int_equal(run1(&s, in, tpath("out/e.jpg"), &res, err, sizeof err), -1);
		print_message("enlarged: %s\n", err);
		assert_non_null(strstr(err, "100000x50000"));
		assert_non_null(strstr(err, "--max-pixels"));
		assert_int_equal(access(tpath("out/e.jpg"), F_OK), -1);
	}
	s.max_pixels = 0; /* no limit: not refused (a small box keeps it quick) */
	s.sizes[0] = (thumb_size){ 400, 400 };
	assert_int_equal(run1(&s, tpath("small.jpg"), tpath("out/e.jpg"), &res, err, sizeof err), 0);
	assert_int_equal(res.out[0].w, 400);
}

/* A worker only ever creates new files: a file or folder already at an output
 * name is never replaced (EEXIST), the outputs it made before are removed again,
 * and the cause is an output failure. As non-root, a read-only folder too. */
static void test_unwritable(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	struct stat st;
	char err[512];
	FILE *f;

	(void)state;
	make_image(tpath("in.jpg"), 200, 100, 0, 0, -1, 0);
	assert_int_equal(mkdir(tpath("o"), 0777), 0);
	f = fopen(tpath("o/taken.jpg"), "w");
	assert_non_null(f);
	fputs("mine", f);
	fclose(f);
	s.sizes[1] = (thumb_size){ 32, 32 };
	s.nsizes = 2;
	{
		const char *outs[2] = { tpath("o/first.jpg"), tpath("o/taken.jpg") };

		assert_int_equal(run_paths(&s, tpath("in.jpg"), outs, &res, err, sizeof err), -1);
	}
	print_message("eexist: %s\n", err);
	assert_non_null(strstr(err, "File exists"));
	assert_int_equal(last_kind, FAIL_OUTPUT);
	assert_int_equal(stat(tpath("o/taken.jpg"), &st), 0);
	assert_int_equal(st.st_size, 4);			/* untouched */
	assert_int_equal(count_entries(tpath("o")), 1);		/* first.jpg removed again */

	/* A folder sits where the output should be: left alone, nothing else left. */
	s.nsizes = 1;
	assert_int_equal(mkdir(tpath("o/isdir.jpg"), 0777), 0);
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("o/isdir.jpg"), &res, err, sizeof err), -1);
	print_message("eexist (folder): %s\n", err);
	assert_non_null(strstr(err, "File exists"));
	assert_int_equal(count_entries(tpath("o")), 2);

	/* A symlink at the output name is never written through. */
	assert_int_equal(symlink(tpath("in.jpg"), tpath("o/link.jpg")), 0);
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("o/link.jpg"), &res, err, sizeof err), -1);
	assert_int_equal(lstat(tpath("o/link.jpg"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	if (geteuid() != 0) {
		assert_int_equal(mkdir(tpath("ro"), 0555), 0);
		assert_int_equal(run1(&s, tpath("in.jpg"), tpath("ro/o.jpg"), &res, err,
				      sizeof err), -1);
		assert_non_null(strstr(err, "Permission denied"));
		assert_int_equal(count_entries(tpath("ro")), 0);
	}

	/* An input that cannot be read is the machine's failure, not the file's. */
	assert_int_equal(run1(&s, tpath("missing.jpg"), tpath("o/m.jpg"), &res, err, sizeof err), -1);
	assert_int_equal(last_kind, FAIL_ENVIRONMENT);
}

/* The child side of test_disk_full, in a fresh process (exec'd, so libvips is
 * started after the limit): tiny RLIMIT_FSIZE, SIGXFSZ ignored, one run. Prints
 * the cause on stdout; exit 0 when thumb_run failed as it should. */
static int disk_full_child(const char *in, const char *out)
{
	thumb_settings s = settings_box(800, 800);
	struct rlimit rl = { 4096, 4096 };
	thumb_result res;
	char err[512];

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 3;
	if (thumb_worker_init(1, err, sizeof err) != 0)
		return 4;
	s.quality = 100;
	if (run1(&s, in, out, &res, err, sizeof err) == 0)
		return 1;
	printf("%s\n", err);
	thumb_worker_fini();
	return 0;
}

/* A full disk (RLIMIT_FSIZE stands in: EFBIG "File too large") fails with the
 * errno text and leaves no temp file. Runs in a child so the limit stays there. */
static void test_disk_full(void **state)
{
	int pipefd[2], status;
	char out[512] = "";
	ssize_t n;
	pid_t pid;

	(void)state;
	make_image(tpath("big.jpg"), 1200, 900, 0, 0, -1, 0);
	assert_int_equal(mkdir(tpath("out"), 0777), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		setenv("TEST_THUMB_DISK_FULL_IN", tpath("big.jpg"), 1);
		setenv("TEST_THUMB_DISK_FULL_OUT", tpath("out/big.jpg"), 1);
		execl(self_exe, "test_thumb", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], out, sizeof out - 1);
	close(pipefd[0]);
	out[n > 0 ? n : 0] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	print_message("disk full: %s", out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(strstr(out, "File too large") || strstr(out, "No space left"));
	assert_int_equal(count_entries(tpath("out")), 0);
}

/* The output extension rules of settings.c. */
static void test_output_ext(void **state)
{
	(void)state;
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "jpg"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "JPEG"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "png"), "png");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "WebP"), "webp");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "avif"), "avif");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "tiff"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "TIF"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "heic"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, "gif"), "png");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, ""), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_SAME, NULL), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_JPEG, "png"), "jpg");
	assert_string_equal(thumb_output_ext(FORMAT_PNG, "jpg"), "png");
	assert_string_equal(thumb_output_ext(FORMAT_WEBP, "jpg"), "webp");
	assert_string_equal(thumb_output_ext(FORMAT_AVIF, "jpg"), "avif");
}

/* Explicit formats, quality, metadata, and an unwritable extension. */
static void test_formats(void **state)
{
	thumb_settings s = settings_box(64, 64);
	thumb_result res;
	char err[512];
	VipsImage *im;

	(void)state;
	make_image(tpath("in.jpg"), 200, 100, 0, 0, -1, 6);
	s.format = FORMAT_AVIF;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("o.avif"), &res, err, sizeof err), 0);
	im = load(tpath("o.avif"));
	assert_int_equal(im->Xsize, 32);
	assert_int_equal(im->Ysize, 64);
	g_object_unref(im);
	s.format = FORMAT_WEBP;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("o.webp"), &res, err, sizeof err), 0);
	assert_srgb8(tpath("o.webp"));

	/* Quality changes the bytes; metadata is stripped unless kept. */
	s = settings_box(150, 150);
	s.quality = 20;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("q20.jpg"), &res, err, sizeof err), 0);
	uint64_t low = res.out[0].bytes;
	s.quality = 95;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("q95.jpg"), &res, err, sizeof err), 0);
	assert_true(res.out[0].bytes > low);
	im = load(tpath("q95.jpg"));
	assert_false(vips_image_get_typeof(im, VIPS_META_EXIF_NAME));
	g_object_unref(im);
	s.keep_metadata = 1;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("k.jpg"), &res, err, sizeof err), 0);
	im = load(tpath("k.jpg"));
	assert_true(vips_image_get_typeof(im, VIPS_META_EXIF_NAME));
	assert_int_equal(vips_image_get_orientation(im), 1);	/* upright, says so */
	g_object_unref(im);

	s.keep_metadata = 0;
	assert_int_equal(run1(&s, tpath("in.jpg"), tpath("o.tiff"), &res, err, sizeof err), -1);
	assert_non_null(strstr(err, "tiff"));
	assert_int_equal(count_entries(tmpdir), 6);
}

/* Version strings name their library and a number. */
static void test_versions(void **state)
{
	(void)state;
	assert_true(strncmp(thumb_vips_version(), "libvips 8.", 10) == 0);
	assert_true(strncmp(thumb_jpeg_version(), "libjpeg", 7) == 0);
	assert_true(strncmp(thumb_png_version(), "libpng 1.", 9) == 0);
	print_message("%s, %s, %s\n", thumb_vips_version(), thumb_jpeg_version(),
		      thumb_png_version());
}

/* The worker starts libvips with the modules imgpool uses (HEIC/AVIF) and not the
 * ones whose loaders it blocks (vipsmodules.h): no ImageMagick, poppler, OpenSlide
 * or libjxl in the process, their operations not even registered; VIPSHOME is
 * as it was. */
static void test_modules(void **state)
{
	(void)state;
	assert_null(getenv("VIPSHOME"));
	assert_int_equal(vips_type_find("VipsOperation", "magickload"), 0);
	assert_int_equal(vips_type_find("VipsOperation", "pdfload"), 0);
	assert_int_equal(vips_type_find("VipsOperation", "openslideload"), 0);
	assert_int_equal(vips_type_find("VipsOperation", "jxlload"), 0);
	FILE *maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	char line[4096];
	while (fgets(line, sizeof line, maps)) {
		if (strstr(line, "libMagickCore") || strstr(line, "libpoppler") ||
		    strstr(line, "libopenslide") || strstr(line, "libjxl"))
			fail_msg("mapped: %s", line);
	}
	fclose(maps);
	assert_true(vipsmodules_wanted("vips-heif.so"));
	assert_false(vipsmodules_wanted("vips-magick.so"));
	/* Where libvips has a HEIF module, it is loaded. */
	if (!heif_module_here())
		skip();
	assert_true(vips_type_find("VipsOperation", "heifload") != 0);
	assert_true(vips_type_find("VipsOperation", "heifsave") != 0);
}

/* Seconds since some fixed point. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The basename of path ends with suffix. */
static int named(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Every real photo through a 256x256 box: empty files fail, at least 60 succeed,
 * orientation-tagged Landscape_/Portrait_ sets come out the right way round, CMYK
 * and 16-bit inputs come out 8-bit sRGB. Skipped without the corpus. */
static void test_corpus(void **state)
{
	const char *corpus = getenv("IMGPOOL_CORPUS");
	thumb_settings s = settings_box(256, 256);
	struct dirent **names;
	int n, ok = 0, failed = 0;

	(void)state;
	if (!corpus || access(corpus, R_OK | X_OK) != 0)
		skip();
	n = scandir(corpus, &names, NULL, alphasort);
	assert_true(n >= 0);
	assert_int_equal(mkdir(tpath("out"), 0777), 0);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		const char *dot = strrchr(name, '.');
		char in[PATH_MAX], out[PATH_MAX], err[512];
		thumb_result res;
		struct stat st;
		double t0;
		int rc;

		snprintf(in, sizeof in, "%s/%s", corpus, name);
		if (name[0] == '.' || stat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(names[i]);
			continue;
		}
		if (snprintf(out, sizeof out, "%s/out/%s.%s", tmpdir, name,
			     thumb_output_ext(FORMAT_SAME, dot ? dot + 1 : "")) >= PATH_MAX)
			fail_msg("path too long: %s", name);
		t0 = now();
		rc = run1(&s, in, out, &res, err, sizeof err);
		if (rc != 0) {
			failed++;
			print_message("  FAIL %-40s %s\n", name, err);
			assert_true(strlen(err) > 0);
			assert_null(strchr(err, '\n'));
			assert_null(strstr(err, in));
			free(names[i]);
			continue;
		}
		ok++;
		if (st.st_size == 0)
			fail_msg("%s is empty but made a thumbnail", name);
		print_message("  ok   %-40s %5dx%-5d -> %3dx%-3d %6.3f s\n", name, res.in_w,
			      res.in_h, res.out[0].w, res.out[0].h, now() - t0);
		assert_true(res.out[0].w <= 256 && res.out[0].h <= 256);
		assert_true(res.out[0].w == 256 || res.out[0].h == 256 ||
			    (res.out[0].w == res.in_w && res.out[0].h == res.in_h));
		if (named(name, "Landscape_"))
			assert_true(res.out[0].w > res.out[0].h);
		if (named(name, "Portrait_"))
			assert_true(res.out[0].h > res.out[0].w);
		if (named(name, "Channel_digital_image_CMYK") || strstr(name, "-cmyk-") ||
		    !strcmp(name, "sample.png") || !strcmp(name, "tifftag-photoshop.tiff"))
			assert_srgb8(out);
		if (strstr(name, "-cmyk-orientation"))	/* orientation 6, 800x533 stored */
			assert_true(res.out[0].h > res.out[0].w);
		free(names[i]);
	}
	free(names);
	print_message("corpus: %d ok, %d failed\n", ok, failed);
	assert_true(ok >= 60);
}

/* Shrink-on-load is kept: a 6720 px JPEG thumbnails to the box; the time is
 * printed, not asserted (timing belongs in bench/, machines are shared). */
static void test_shrink_on_load(void **state)
{
	const char *corpus = getenv("IMGPOOL_CORPUS");
	thumb_settings s = settings_box(256, 256);
	char in[PATH_MAX], err[512];
	thumb_result res;
	double t0, best = 1e9;

	(void)state;
	if (!corpus)
		skip();
	snprintf(in, sizeof in, "%s/6720px_white.jpg", corpus);
	if (access(in, R_OK) != 0)
		skip();
	for (int i = 0; i < 3; i++) {
		unlink(tpath("w.jpg"));
		t0 = now();
		assert_int_equal(run1(&s, in, tpath("w.jpg"), &res, err, sizeof err), 0);
		if (now() - t0 < best)
			best = now() - t0;
	}
	print_message("6720px_white.jpg -> %dx%d in %.3f s\n", res.out[0].w, res.out[0].h, best);
	assert_int_equal(res.out[0].w, 256);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_ext),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_modules),
		cmocka_unit_test_setup_teardown(test_single_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_of_the_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walked_folders_not_through_a_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_found_file_now_a_folder_was_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiple_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enlarge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cover_and_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orientation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_16bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmyk_and_grey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alpha, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pixel_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test(test_causes_without_noise),
		cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink_on_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
	};
	const char *in = getenv("TEST_THUMB_DISK_FULL_IN");
	char err[512];
	int rc;

	(void)argc;
	if (argv[0] && strchr(argv[0], '/'))
		self_exe = argv[0];
	if (in)		/* re-exec'd by test_disk_full */
		return disk_full_child(in, getenv("TEST_THUMB_DISK_FULL_OUT"));
	if (thumb_worker_init(2, err, sizeof err) != 0) {
		fprintf(stderr, "thumb_worker_init: %s\n", err);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	thumb_worker_fini();
	return rc;
}
