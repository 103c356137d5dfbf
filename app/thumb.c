/*
 * thumb.c — the task run in a worker: one input file -> one thumbnail per size,
 * each saved atomically. The contract is in thumb.h; this file is the how.
 *
 * The shape of thumb_run():
 *   1. read the header only: input size, EXIF orientation, ICC profile or not,
 *      and the pixel limit;
 *   2. decode once with vips_thumbnail() (file based, so JPEG/WebP/HEIC shrink on
 *      load) to a "master": the whole image, uniformly scaled for the largest box,
 *      colour managed to sRGB, made 8-bit and held in memory;
 *   3. make every output from the master with vips_thumbnail_image() (crop, force
 *      and premultiplied alpha handled there), flatten alpha for JPEG, encode to
 *      memory and write each to a temp file in its destination folder;
 *   4. only when every temp file is complete, rename them all into place.
 * Outputs of one file are all-or-nothing: a failure before step 4 removes the temp
 * files and leaves any older outputs untouched; a rename that fails in step 4
 * removes the outputs already renamed by this call (their older versions are gone
 * by then, which the caller sees as "failed", i.e. redo).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <vips/vips.h>
#include <png.h>
#include <jconfig.h>	/* libjpeg-turbo's build config: LIBJPEG_TURBO_VERSION */

#include "thumb.h"

/* The failure mode passed to every loader: a truncated or corrupt file fails
 * instead of giving a thumbnail of half an image. "warning", as sharp's default
 * failOn: "truncated" and "error" let libjpeg's "Corrupt JPEG data: premature end
 * of data segment" through with grey garbage in the picture, while every photo of
 * the 64-file corpus still loads cleanly at "warning". */
#define THUMB_FAIL_ON VIPS_FAIL_ON_WARNING

/* Default quality per format when settings->quality is 0. */
#define JPEG_QUALITY 80
#define WEBP_QUALITY 80
#define AVIF_QUALITY 50

/* Temp names are ".<name>.imgpool-tmp": this much longer than <name>. */
#define TEMP_SUFFIX ".imgpool-"
#define TEMP_EXTRA (1 + sizeof TEMP_SUFFIX - 1 + 3)

/* ------------------------------------------------------------------ errors -- */

/* printf into the caller's error buffer (cut to errlen, always terminated). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Remove every occurrence of needle from s, in place. */
static void strip_all(char *s, const char *needle)
{
	size_t n = strlen(needle);
	char *p;

	if (n == 0)
		return;
	while ((p = strstr(s, needle)))
		memmove(p, p + n, strlen(p + n) + 1);
}

/* A new string: s with every needle replaced by with (g_free it). */
static char *replace_all(const char *s, const char *needle, const char *with)
{
	char **parts = g_strsplit(s, needle, -1);
	char *joined = g_strjoinv(with, parts);

	g_strfreev(parts);
	return joined;
}

/* Take libvips' error text (and clear it, so the next file starts clean) as one
 * line: lines joined with "; ", repeated lines dropped, the input path removed
 * (the caller names the file): libvips' quoted "<path>" becomes "file", e.g.
 * "VipsForeignLoad: file is not a known file format". Falls back to
 * `fallback` when libvips left nothing. */
static void vips_cause(char *err, size_t errlen, const char *input, const char *fallback)
{
	char *msg = vips_error_buffer_copy();
	GString *line = g_string_new(NULL);
	char *save = NULL, *prev = NULL;

	if (input && *input) {
		char *quoted = g_strdup_printf("\"%s\"", input);
		char *colon = g_strdup_printf("%s: ", input);
		char *tmp = replace_all(msg, quoted, "file");

		g_free(msg);
		msg = tmp;
		strip_all(msg, colon);
		/* Bare only when it cannot be an ordinary word of a message. */
		if (strchr(input, '/'))
			strip_all(msg, input);
		g_free(quoted);
		g_free(colon);
	}
	for (char *l = strtok_r(msg, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		g_strstrip(l);
		if (!*l || (prev && strcmp(prev, l) == 0))
			continue;
		if (line->len)
			g_string_append(line, "; ");
		g_string_append(line, l);
		prev = l;
	}
	set_err(err, errlen, "%s", line->len ? line->str : fallback);
	g_string_free(line, TRUE);
	g_free(msg);
}

/* ------------------------------------------------------------ worker setup -- */

/* Swallow libvips' warnings and infos: a worker must never write to the
 * terminal (the parent owns it); failures reach the caller through err. */
static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
		      gpointer data)
{
	(void)domain; (void)level; (void)msg; (void)data;
}

int thumb_worker_init(int threads, char *err, size_t errlen)
{
	static int quiet;

	if (!quiet) {
		g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
				  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log, NULL);
		quiet = 1;
	}
	if (VIPS_INIT("imgpool")) {
		vips_cause(err, errlen, NULL, "libvips failed to start");
		return -1;
	}
	/* Every call works on a new file: the operation cache only costs memory and
	 * keeps files open. */
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	vips_concurrency_set(threads < 1 ? 1 : threads);
	/* Loaders not fuzzed for hostile input (matload, ...) are refused. */
	vips_block_untrusted_set(TRUE);
	return 0;
}

void thumb_worker_fini(void)
{
	vips_shutdown();
}

/* ----------------------------------------------------------------- sizing -- */

/* How one box scales an input of w x h (already rotated upright): the uniform
 * scale before any crop, and whether the width (else the height) decides it.
 * A 0 side is unconstrained, so such a box is always "fit inside". Without
 * enlarge the scale stops at 1. */
static double box_scale(const thumb_settings *s, thumb_size b, int w, int h, int *by_width)
{
	double sx = b.w > 0 ? (double)b.w / w : 0;
	double sy = b.h > 0 ? (double)b.h / h : 0;
	double scale;

	if (b.h <= 0)
		*by_width = 1;
	else if (b.w <= 0)
		*by_width = 0;
	else if (s->fit == FIT_INSIDE)
		*by_width = sx <= sy;
	else		/* cover and fill: the master must cover the box */
		*by_width = sx >= sy;
	scale = *by_width ? sx : sy;
	if (!s->enlarge && scale > 1)
		scale = 1;
	return scale;
}

/* The vips_thumbnail() target for the master: the box whose uniform scale is the
 * largest, pinned on the axis that decides it (the other axis unconstrained), so
 * that every output is that master scaled down (or equal) and maybe cropped. */
static void master_target(const thumb_settings *s, int w, int h, int *tw, int *th)
{
	double best = -1;

	for (int i = 0; i < s->nsizes; i++) {
		int by_width;
		double scale = box_scale(s, s->sizes[i], w, h, &by_width);

		if (scale > best) {
			best = scale;
			*tw = by_width ? s->sizes[i].w : VIPS_MAX_COORD;
			*th = by_width ? VIPS_MAX_COORD : s->sizes[i].h;
		}
	}
}

/* Check the boxes before any work: 1..THUMB_MAX_SIZES of them, no negative side,
 * not both sides unconstrained. */
static int check_sizes(const thumb_settings *s, char *err, size_t errlen)
{
	if (s->nsizes < 1 || s->nsizes > THUMB_MAX_SIZES) {
		set_err(err, errlen, "%d sizes requested (1 to %d allowed)",
			s->nsizes, THUMB_MAX_SIZES);
		return -1;
	}
	for (int i = 0; i < s->nsizes; i++) {
		thumb_size b = s->sizes[i];

		if (b.w < 0 || b.h < 0 || (b.w == 0 && b.h == 0) ||
		    b.w > VIPS_MAX_COORD || b.h > VIPS_MAX_COORD) {
			set_err(err, errlen, "size %d is %dx%d: not a box", i + 1, b.w, b.h);
			return -1;
		}
	}
	return 0;
}

/* --------------------------------------------------------------- decoding -- */

/* Read the header only (no pixel is decoded): the upright input size, whether
 * an ICC profile is embedded, and the pixel limit checked against what the loader
 * would decode (its default page). */
static int read_header(const thumb_settings *s, const char *input, int *w, int *h,
		       int *has_icc, char *err, size_t errlen)
{
	VipsImage *im = vips_image_new_from_file(input, "fail_on", THUMB_FAIL_ON, NULL);
	uint64_t pixels;

	if (!im) {
		vips_cause(err, errlen, input, "cannot read the image header");
		return -1;
	}
	pixels = (uint64_t)im->Xsize * (uint64_t)im->Ysize;
	/* max_pixels 0 means no limit. */
	if (s->max_pixels && pixels > s->max_pixels) {
		set_err(err, errlen, "image is %dx%d (%" PRIu64 " pixels), over the limit "
			"of %" PRIu64 " (--max-pixels)", im->Xsize, im->Ysize, pixels,
			s->max_pixels);
		g_object_unref(im);
		return -1;
	}
	*w = im->Xsize;
	*h = im->Ysize;
	*has_icc = vips_image_get_typeof(im, VIPS_META_ICC_NAME) != 0;
	if (vips_image_get_orientation_swap(im)) {
		*w = im->Ysize;
		*h = im->Xsize;
	}
	g_object_unref(im);
	return 0;
}

/* Make in 8-bit sRGB (or 8-bit B_W for 1-2 band images), alpha kept. The master
 * from vips_thumbnail() is normally that already (it converts to sRGB or B_W, and
 * the export profile gives 8 bits); this catches 16-bit and odd interpretations
 * that slip through. *out is a new reference. */
static int to_srgb8(VipsImage *in, VipsImage **out)
{
	VipsInterpretation want = in->Bands < 3 ? VIPS_INTERPRETATION_B_W
						: VIPS_INTERPRETATION_sRGB;
	VipsImage *t = NULL;

	if (in->BandFmt == VIPS_FORMAT_UCHAR && in->Type == want) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	/* colourspace scales 16-bit RGB16/GREY16 down; a plain cast would clip. */
	if (vips_colourspace(in, &t, want, NULL))
		return -1;
	if (t->BandFmt == VIPS_FORMAT_UCHAR) {
		*out = t;
		return 0;
	}
	if (vips_cast_uchar(t, out, NULL)) {
		g_object_unref(t);
		return -1;
	}
	g_object_unref(t);
	return 0;
}

/* Decode the input once into the in-memory master (see the top of the file).
 * An embedded ICC profile is honoured by transforming to sRGB (export profile);
 * without one, vips_thumbnail() converts to sRGB or B_W itself (CMYK through its
 * built-in CMYK profile), which keeps grey images 1-band and skips an lcms pass.
 * Truncated or corrupt data fails here, when the pixels are actually read. */
static int make_master(const thumb_settings *s, const char *input, int w, int h,
		       int has_icc, VipsImage **master, char *err, size_t errlen)
{
	VipsImage *thumb = NULL, *mem = NULL;
	int tw = 0, th = 0;
	int rc;

	master_target(s, w, h, &tw, &th);
	if (vips_thumbnail(input, &thumb, tw,
			   "height", th,
			   "size", s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN,
			   "no_rotate", FALSE,
			   "export_profile", has_icc ? "srgb" : NULL,
			   "fail_on", THUMB_FAIL_ON,
			   NULL)) {
		vips_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	mem = vips_image_copy_memory(thumb);
	g_object_unref(thumb);
	if (!mem) {
		vips_cause(err, errlen, input, "cannot decode the image");
		return -1;
	}
	rc = to_srgb8(mem, master);
	g_object_unref(mem);
	if (rc) {
		vips_cause(err, errlen, input, "cannot convert the image to 8-bit sRGB");
		return -1;
	}
	return 0;
}

/* One output image from the master: fit, cover (crop) or fill box b. A box with
 * an unconstrained side is always "fit inside" (nothing to crop or stretch). */
static int make_output(const thumb_settings *s, VipsImage *master, thumb_size b,
		       VipsImage **out)
{
	int bounded = b.w > 0 && b.h > 0;
	VipsSize size = s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN;
	VipsInteresting crop = VIPS_INTERESTING_NONE;

	if (bounded && s->fit == FIT_FILL)
		size = VIPS_SIZE_FORCE;
	if (bounded && s->fit == FIT_COVER)
		crop = s->crop == CROP_ATTENTION ? VIPS_INTERESTING_ATTENTION
						 : VIPS_INTERESTING_CENTRE;
	return vips_thumbnail_image(master, out, b.w > 0 ? b.w : VIPS_MAX_COORD,
				    "height", b.h > 0 ? b.h : VIPS_MAX_COORD,
				    "size", size,
				    "crop", crop,
				    "no_rotate", TRUE,
				    NULL);
}

/* --------------------------------------------------------------- encoding -- */

/* The extension of path (after the last dot of its last component), or "". */
static const char *path_ext(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');

	return dot ? dot + 1 : "";
}

/* The format an output is written in: the explicit one, else the one its
 * extension names (the planner chose it with thumb_output_ext()). */
static int output_format(const thumb_settings *s, const char *output, thumb_format *f,
			 char *err, size_t errlen)
{
	const char *ext = path_ext(output);

	*f = s->format;
	if (*f != FORMAT_SAME)
		return 0;
	if (!strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") ||
	    !strcasecmp(ext, "jpe") || !strcasecmp(ext, "jfif"))
		*f = FORMAT_JPEG;
	else if (!strcasecmp(ext, "png"))
		*f = FORMAT_PNG;
	else if (!strcasecmp(ext, "webp"))
		*f = FORMAT_WEBP;
	else if (!strcasecmp(ext, "avif"))
		*f = FORMAT_AVIF;
	else {
		set_err(err, errlen, "cannot write \"%s\" files (output %s)", ext, output);
		return -1;
	}
	return 0;
}

/* Flatten alpha onto the background for JPEG, which has none. One background
 * value (its luma) for grey + alpha. *out is a new reference. */
static int flatten_for_jpeg(const thumb_settings *s, VipsImage *in, VipsImage **out)
{
	const double *bg = s->background;
	double grey = 0.2126 * bg[0] + 0.7152 * bg[1] + 0.0722 * bg[2];
	VipsArrayDouble *background;
	int rc;

	if (!vips_image_hasalpha(in)) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	background = in->Bands <= 2 ? vips_array_double_new(&grey, 1)
				    : vips_array_double_new(bg, 3);
	rc = vips_flatten(in, out, "background", background, NULL);
	vips_area_unref(VIPS_AREA(background));
	return rc;
}

/* Encode im as format f into a new g_malloc'd buffer. Metadata is stripped unless
 * asked to keep it. */
static int encode(const thumb_settings *s, VipsImage *im, thumb_format f,
		  void **buf, size_t *len)
{
	gboolean strip = !s->keep_metadata;
	int q = s->quality;
	VipsImage *flat = NULL;
	int rc;

	switch (f) {
	case FORMAT_PNG:
		return vips_pngsave_buffer(im, buf, len, "strip", strip, NULL);
	case FORMAT_WEBP:
		return vips_webpsave_buffer(im, buf, len, "Q", q ? q : WEBP_QUALITY,
					    "strip", strip, NULL);
	case FORMAT_AVIF:
		return vips_heifsave_buffer(im, buf, len,
					    "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
					    "Q", q ? q : AVIF_QUALITY, "strip", strip, NULL);
	case FORMAT_JPEG:
	case FORMAT_SAME:
		break;
	}
	if (flatten_for_jpeg(s, im, &flat))
		return -1;
	rc = vips_jpegsave_buffer(flat, buf, len, "Q", q ? q : JPEG_QUALITY,
				  "strip", strip, NULL);
	g_object_unref(flat);
	return rc;
}

/* ------------------------------------------------------------ atomic save -- */

/* mkdir -p: make dir and its missing parents (mode 0777 less the umask). A part
 * that exists already is fine; one that is not a folder fails later, at open. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* Create the temp file ".<name>.imgpool-tmp" next to final (0666 less the umask,
 * as a plain open would give), making the folder when missing. The name is fixed,
 * not random: only one task ever writes a given output (discover refuses
 * collisions, the run lock keeps other runs out), so a temp file a killed worker
 * or a kill -9'd run left behind is simply overwritten by the next attempt at that
 * output, and the parent can remove it by name. O_NOFOLLOW: never write through a
 * symlink planted at that name. The name goes to tmp; returns the fd, or -1 with
 * errno. <name> is shortened when needed so the temp name still fits NAME_MAX. */
static int open_temp(const char *final, char *tmp, size_t tmplen)
{
	const char *slash = strrchr(final, '/');
	const char *name = slash ? slash + 1 : final;
	int dirlen = slash ? (int)(slash - final) : 0;
	int namelen = (int)strlen(name);
	int made_dirs = 0;

	if (namelen > NAME_MAX - (int)TEMP_EXTRA)
		namelen = NAME_MAX - (int)TEMP_EXTRA;
	for (int attempt = 0; attempt < 100; attempt++) {
		const char *rnd = "tmp";
		int n, fd;

		if (slash)
			n = snprintf(tmp, tmplen, "%.*s/.%.*s" TEMP_SUFFIX "%s",
				     dirlen ? dirlen : 1, dirlen ? final : "/",
				     namelen, name, rnd);
		else
			n = snprintf(tmp, tmplen, ".%.*s" TEMP_SUFFIX "%s", namelen, name, rnd);
		if (n < 0 || (size_t)n >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || made_dirs || !slash || dirlen == 0)
			return -1;
		/* The destination folder is missing: make it, then try again. */
		char dir[PATH_MAX];

		if (dirlen >= (int)sizeof dir) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, final, dirlen);
		dir[dirlen] = '\0';
		if (make_dirs(dir) != 0)
			return -1;
		made_dirs = 1;
	}
	errno = EEXIST;
	return -1;
}

/* write() all of buf, going on after short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write buf to a new temp file beside final, fsync'd and closed: the name goes to
 * tmp. On failure nothing is left on disk and err names the cause (strerror, e.g.
 * "No space left on device"). */
static int write_temp(const char *final, const void *buf, size_t len,
		      char *tmp, size_t tmplen, char *err, size_t errlen)
{
	int fd = open_temp(final, tmp, tmplen);
	int e;

	if (fd < 0) {
		set_err(err, errlen, "cannot create a temp file for %s: %s", final,
			strerror(errno));
		tmp[0] = '\0';
		return -1;
	}
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	/* close() can report a delayed write error (NFS, quota). */
	if (close(fd) != 0) {
		e = errno;
		goto fail;
	}
	return 0;
fail:
	set_err(err, errlen, "cannot write %s: %s", final, strerror(e));
	unlink(tmp);
	tmp[0] = '\0';
	return -1;
}

/* Refuse an output path that is the input itself: a rename would destroy it. */
static int is_input(const struct stat *in, const char *output)
{
	struct stat st;

	return stat(output, &st) == 0 && st.st_dev == in->st_dev && st.st_ino == in->st_ino;
}

/* Rename each temp file over its output. If one fails, the outputs renamed so far
 * are removed and the remaining temp files too (all-or-nothing per input). */
static int commit_all(int n, char tmps[][PATH_MAX], const char *const *outputs,
		      char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		if (rename(tmps[i], outputs[i]) == 0) {
			tmps[i][0] = '\0';
			continue;
		}
		set_err(err, errlen, "cannot rename a temp file to %s: %s", outputs[i],
			strerror(errno));
		for (int j = 0; j < i; j++)
			unlink(outputs[j]);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ thumb -- */

/* Make, encode as f and write (to a temp file) output i. Fills res->out[i]. */
static int produce(const thumb_settings *s, VipsImage *master, int i, thumb_format f,
		   const char *output, char *tmp, thumb_result *res,
		   char *err, size_t errlen)
{
	VipsImage *im = NULL;
	void *buf = NULL;
	size_t len = 0;
	int rc;

	if (make_output(s, master, s->sizes[i], &im) || encode(s, im, f, &buf, &len)) {
		vips_cause(err, errlen, NULL, "cannot make the thumbnail");
		if (im)
			g_object_unref(im);
		return -1;
	}
	res->out[i].w = im->Xsize;
	res->out[i].h = im->Ysize;
	res->out[i].bytes = len;
	g_object_unref(im);
	rc = write_temp(output, buf, len, tmp, PATH_MAX, err, errlen);
	g_free(buf);
	return rc;
}

int thumb_run(const thumb_settings *settings, const char *input,
	      const char *const *outputs, thumb_result *res, char *err, size_t errlen)
{
	char tmps[THUMB_MAX_SIZES][PATH_MAX];
	thumb_format formats[THUMB_MAX_SIZES];
	VipsImage *master = NULL;
	struct stat st;
	int w = 0, h = 0, has_icc = 0, rc = -1;

	memset(res, 0, sizeof *res);
	for (int i = 0; i < THUMB_MAX_SIZES; i++)
		tmps[i][0] = '\0';
	if (check_sizes(settings, err, errlen))
		return -1;
	for (int i = 0; i < settings->nsizes; i++) {
		if (!outputs[i] || !*outputs[i]) {
			set_err(err, errlen, "no output path for size %d", i + 1);
			return -1;
		}
		if (output_format(settings, outputs[i], &formats[i], err, errlen))
			return -1;
	}
	if (stat(input, &st) != 0) {
		set_err(err, errlen, "%s", strerror(errno));
		return -1;
	}
	res->in_bytes = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "not a regular file");
		return -1;
	}
	if (st.st_size == 0) {
		set_err(err, errlen, "empty file");
		return -1;
	}
	for (int i = 0; i < settings->nsizes; i++)
		if (is_input(&st, outputs[i])) {
			set_err(err, errlen, "output %s is the input itself", outputs[i]);
			return -1;
		}

	if (read_header(settings, input, &w, &h, &has_icc, err, errlen) ||
	    make_master(settings, input, w, h, has_icc, &master, err, errlen))
		goto done;
	res->in_w = w;
	res->in_h = h;
	res->nout = settings->nsizes;
	for (int i = 0; i < settings->nsizes; i++)
		if (produce(settings, master, i, formats[i], outputs[i], tmps[i], res,
			    err, errlen))
			goto done;
	rc = commit_all(settings->nsizes, tmps, outputs, err, errlen);
done:
	for (int i = 0; i < THUMB_MAX_SIZES; i++)
		if (tmps[i][0])
			unlink(tmps[i]);
	if (master)
		g_object_unref(master);
	vips_error_clear();
	if (rc) {
		/* What was learnt of the input stays; no output exists. */
		res->nout = 0;
		memset(res->out, 0, sizeof res->out);
	}
	return rc;
}

/* --------------------------------------------------------------- versions -- */

#define STR_(x) #x
#define STR(x) STR_(x)

/* None of these starts libvips: vips_version() reads compiled-in numbers. */
const char *thumb_vips_version(void)
{
	static char v[32];

	snprintf(v, sizeof v, "libvips %d.%d.%d", vips_version(0), vips_version(1),
		 vips_version(2));
	return v;
}

const char *thumb_jpeg_version(void)
{
#ifdef LIBJPEG_TURBO_VERSION
	return "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION);
#else
	return "libjpeg " STR(JPEG_LIB_VERSION);
#endif
}

const char *thumb_png_version(void)
{
	static char v[32];

	snprintf(v, sizeof v, "libpng %s", png_get_libpng_ver(NULL));
	return v;
}
