/* SPDX-License-Identifier: MIT */
/*
 * thumb.c — the task run in a worker: one input file -> one thumbnail per size,
 * each saved atomically. The contract is in thumb.h; this file is the how.
 *
 * The shape of thumb_run(), and which file does each part:
 *   1. make a "master": the whole image, uniformly scaled for the largest box,
 *      upright, colour managed to sRGB, 8-bit, held in memory. The first path
 *      that takes the file makes it:
 *      - the JPEG fast path (fastpath.c: libjpeg-turbo at the DCT scale
 *        vips_thumbnail() would pick, from the DC scans alone where that gives
 *        the same pixels, then resize.c and colour.c), for 8-bit JPEGs within the
 *        pixel limit without --keep-metadata;
 *      - the PNG path (pngmaster.c: libpng, resized as vips_thumbnail() does),
 *        after pngcheck.c has refused a PNG whose header chunks run past its end;
 *      - the libvips path (vipsload.c: the header, then vips_thumbnail()), for
 *        everything else and every error: its error text is what users read;
 *      the master's geometry (which box it is made for, the shrink) is
 *      geometry.c's, so every path makes the same pixels;
 *   2. make every output from the master (here: vips_thumbnail_image() for crop,
 *      force and premultiplied alpha; resize.c for a plain fit; nothing when the
 *      master already is the output), encode it and write it as a new file in
 *      the folder the caller gave (save.c);
 *   3. close them, their writeback started. Their fsync and moving them into the
 *      output tree are the parent's (outsync.c, publish.c): a worker never waits
 *      for the disk, and never renames or deletes anything it did not create.
 * Outputs of one file are all-or-nothing: any failure removes the files this call
 * created. Causes are one line (vipserr.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
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

#include "colour.h"
#include "fastjpeg.h"
#include "fastpath.h"
#include "filehash.h"
#include "geometry.h"
#include "io.h"
#include "jpegscan.h"
#include "machine.h"
#include "outdir.h"
#include "pngcheck.h"
#include "pngmaster.h"
#include "reduce.h"
#include "resize.h"
#include "save.h"
#include "thumb.h"
#include "vipserr.h"
#include "vipsload.h"
#include "vipsmodules.h"

/* ------------------------------------------------------------ worker setup -- */

/* Keep libvips' warnings off the terminal (a worker must never write there: the
 * parent owns it) and note them for the file's cause, if it fails (vipserr.h);
 * infos and debug lines are dropped. */
static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
		      gpointer data)
{
	(void)domain; (void)data;
	if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
		vipserr_note_warning(msg);
}

/* Keep freed memory in the heap between images instead of unmapping it and
 * faulting fresh zeroed pages in for the next one: every image allocates the same
 * few large buffers (compressed file, decoded pixels, libvips regions). Blocks up
 * to 32 MiB (glibc's ceiling for the threshold) come from the heap, and up to
 * 128 MiB of free heap is kept. A worker that grows is recycled by the pool
 * (--max-worker-rss). */
static void keep_memory_mapped(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

int thumb_worker_init(int threads, char *err, size_t errlen)
{
	static int quiet;

	keep_memory_mapped();

	if (!quiet) {
		g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
				  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log, NULL);
		quiet = 1;
	}
	if (vipsmodules_vips_init("imgpool")) {
		vipserr_cause(err, errlen, NULL, "libvips failed to start");
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
	colour_free();
	vips_shutdown();
}

/* ---------------------------------------------------------------- outputs -- */

/* What the outputs' sizes are computed from: the upright input size, and whether
 * it was loaded as a JPEG (shrunk on load; see geometry_fit_size()); and the
 * input's path, taken out of a cause: the master is decoded as the outputs are
 * made, so the decoder's errors (libtiff's "<path>: bad seek to 1134") come then. */
typedef struct master_input {
	int w, h;
	int jpeg;
	const char *path;
} master_input;

/* Whether box b leaves the master as it is, so the output is the master itself
 * (the usual case of one size: the master was made for that box). Cover and
 * fill: the master is the box's size already. Fit inside with one size: the
 * master fits the box and either touches it or may not be enlarged, so the shrink
 * vips_thumbnail_image() would compute is exactly 1, where the master is made for
 * box b. Another box the master merely touches is not enough: the master of
 * -s 164,x16 for a 1000x100 image is 164x16, which touches x16, where x16 alone
 * makes 160x16; there the master must have the size that box alone gives (ow x oh,
 * from geometry_fit_size()). Saves a resize pipeline per output. */
static int output_is_master(const thumb_settings *s, const VipsImage *m, const master_input *in,
			    thumb_size b, int ow, int oh)
{
	int bounded = b.w > 0 && b.h > 0;
	int fits = (b.w <= 0 || m->Xsize <= b.w) && (b.h <= 0 || m->Ysize <= b.h);
	int touches = (b.w > 0 && m->Xsize == b.w) || (b.h > 0 && m->Ysize == b.h);

	if (bounded && s->fit != FIT_INSIDE)
		return m->Xsize == b.w && m->Ysize == b.h;
	if (!geometry_is_master_box(s, in->w, in->h, b))
		return m->Xsize == ow && m->Ysize == oh;
	return fits && (touches || !s->enlarge);
}

/* u, or a factor a few units in its last place from it, that shrinks from
 * pixels to exactly `to` (reduce_height()); 0 when none does. ow x oh comes from
 * the input, u from the master: on a tie (a side of 169.5) the two round apart,
 * and two factors each from a rounded side stretch the picture (36 dB against a
 * run of that box alone where one factor gives 47). */
static double near_factor(int from, int to, double u)
{
	/* A side the factor takes below half a pixel is held at one pixel
	 * (reduce_height()), whatever the factor: one far past it (571 on the one
	 * row of a 4000x1 master to 7x1) is no factor of that side, and the
	 * resampler has no kernel that wide (the file failed). */
	if ((double)from / u < 0.5)
		return 0;
	double lo = u, hi = u;
	for (int i = 0; i < 8; i++, lo = nextafter(lo, 0), hi = nextafter(hi, INFINITY)) {
		if (reduce_height(from, lo) == to)
			return lo;
		if (reduce_height(from, hi) == to)
			return hi;
	}
	return 0;
}

/* The master shrunk to ow x oh, the size box b alone gives (geometry_fit_size()):
 * 0 with *out, -1 on error, 1 when that size is not reached by shrinking (a side
 * of the master is shorter). */
static int shrink_master(VipsImage *master, thumb_size b, int ow, int oh, VipsImage **out)
{
	double hs = (double)master->Xsize / ow, vs = (double)master->Ysize / oh;
	/* One factor on both axes, as vips_thumbnail() scales: that of the axis the
	 * box decides (its side is the box's), where it gives this size on the
	 * other axis too. Two, each from a rounded side, made the smaller sizes of
	 * a multi-size run a little stretched (450/282 across, 478/300 down: 30 dB
	 * against a run of that size alone, 22 dB on fine stripes). */
	double u = oh == b.h ? vs : ow == b.w ? hs : 0;
	double hu = u >= 1 ? near_factor(master->Xsize, ow, u) : 0;
	double vu = u >= 1 ? near_factor(master->Ysize, oh, u) : 0;
	if (hu && vu) {
		hs = hu;
		vs = vu;
	}
	if (hs < 1 || vs < 1)
		return 1;
	if (!vips_image_hasalpha(master))
		return resize_oriented(master, hs, vs, 1, out) ? -1 : 0; /* the SIMD way */
	if (hs == vs) /* alpha: premultiplied, by libvips */
		return vips_thumbnail_image(master, out, oh == b.h ? VIPS_MAX_COORD : ow, "height",
					    oh == b.h ? oh : VIPS_MAX_COORD, "size", VIPS_SIZE_DOWN,
					    "no_rotate", TRUE, NULL) ? -1 : 0;
	return vips_thumbnail_image(master, out, ow, "height", oh, "size", VIPS_SIZE_FORCE,
				    "no_rotate", TRUE, NULL) ? -1 : 0;
}

/* One output image from the master: fit, cover (crop) or fill box b. A box with
 * an unconstrained side is always "fit inside" (nothing to crop or stretch).
 * Fit inside and cover take the size box b alone gives (before the crop, for
 * cover: geometry_fit_size() of a cover box is the image that covers it), not one
 * rounded again from the master's: a cover box cropped from the master made
 * 116 wide where b alone makes 115 put the crop half a pixel off (dog.jpg at
 * -s 150x150,77x77: 21.8 dB against vipsthumbnail). The crop is then
 * vips_thumbnail()'s own (vips_smartcrop() of at most the box).
 * Fill without enlarge stretches to the box, but no side of the input grows:
 * a side shorter than the box's keeps its length, as cover keeps it (libvips'
 * VIPS_SIZE_FORCE, which fill is, knows no "down only"). */
static int make_output(const thumb_settings *s, VipsImage *master, const master_input *in,
		       thumb_size b, VipsImage **out)
{
	int bounded = b.w > 0 && b.h > 0;
	VipsSize size = s->enlarge ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN;
	VipsInteresting crop = VIPS_INTERESTING_NONE;

	if (bounded && s->fit == FIT_FILL && !s->enlarge) {
		b.w = b.w < in->w ? b.w : in->w;
		b.h = b.h < in->h ? b.h : in->h;
	}
	int inside = !bounded || s->fit == FIT_INSIDE, cover = bounded && s->fit == FIT_COVER;
	int ow = 0, oh = 0, rc;
	if (inside || cover)
		geometry_fit_size(s, in->w, in->h, b, in->jpeg, &ow, &oh);
	if (output_is_master(s, master, in, b, ow, oh)) {
		g_object_ref(master);
		*out = master;
		return 0;
	}
	if (cover)
		crop = s->crop == CROP_ATTENTION ? VIPS_INTERESTING_ATTENTION
						 : VIPS_INTERESTING_CENTRE;
	if (inside && (rc = shrink_master(master, b, ow, oh, out)) <= 0)
		return rc;
	if (cover) {
		VipsImage *pre = master;
		/* The master made for this box is its image before the crop. */
		rc = geometry_is_master_box(s, in->w, in->h, b) ? 0
		     : shrink_master(master, b, ow, oh, &pre);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			rc = vips_smartcrop(pre, out, b.w < pre->Xsize ? b.w : pre->Xsize,
					    b.h < pre->Ysize ? b.h : pre->Ysize, "interesting", crop,
					    NULL);
			if (pre != master)
				g_object_unref(pre);
			return rc ? -1 : 0;
		}
	}
	if (bounded && s->fit == FIT_FILL)
		size = VIPS_SIZE_FORCE;
	return vips_thumbnail_image(master, out, b.w > 0 ? b.w : VIPS_MAX_COORD,
				    "height", b.h > 0 ? b.h : VIPS_MAX_COORD,
				    "size", size,
				    "crop", crop,
				    "no_rotate", TRUE,
				    NULL);
}

/* ------------------------------------------------------------------ thumb -- */

/* Make, save_encode as its format and write (to a new file, left open in *fd) output
 * i. Fills res->out[i]. */
static int produce(const thumb_settings *s, VipsImage *master, const master_input *in,
		   int i, const thumb_output *out, int *fd, thumb_result *res,
		   failure_kind *kind, char *err, size_t errlen)
{
	VipsImage *im = NULL;
	void *buf = NULL;
	size_t len = 0;
	int rc;

	int fit = make_output(s, master, in, s->sizes[i], &im) == 0;
	int most = save_max_side(out->format);
	if (fit && most && (im->Xsize > most || im->Ysize > most)) {
		/* the settings', not the photo's: an encoder's bare "image too large",
		 * blamed on the input as a decode failure, said neither */
		vipserr_printf(err, errlen, "the thumbnail would be %dx%d, and %s holds %d pixels "
			       "a side at most: give a smaller -s, or another -f", im->Xsize,
			       im->Ysize, out->format == FORMAT_JPEG ? "JPEG"
			       : out->format == FORMAT_WEBP ? "WebP" : "AVIF", most);
		*kind = FAIL_LIMIT;
		g_object_unref(im);
		return -1;
	}
	if (!fit || save_encode(s, im, out->format, &buf, &len)) {
		vipserr_cause(err, errlen, in->path, "cannot make the thumbnail");
		*kind = FAIL_DECODE;
		if (im)
			g_object_unref(im);
		return -1;
	}
	res->out[i].w = im->Xsize;
	res->out[i].h = im->Ysize;
	res->out[i].bytes = len;
	res->out[i].checksum = filehash_bytes(buf, len);
	g_object_unref(im);
	rc = save_write(out, buf, len, fd, err, errlen);
	struct stat made;
	if (rc)
		*kind = FAIL_OUTPUT;
	else if (fstat(*fd, &made) == 0)
		res->out[i].ino = (uint64_t)made.st_ino;
	g_free(buf);
	return rc;
}

/* The file at the input is not the one found (or check_task() saw): another
 * put there by a rename, or reached through a folder swapped for a symlink. */
#define REPLACED "the input was replaced since it was found (the file, or a folder on " \
		 "its path by a symlink): not read"

/* The checks before any decoding: sizes, outputs, and an input that is a
 * non-empty regular file we may read (*st: what it was then). */
static int check_task(const thumb_settings *settings, const char *input,
		      const thumb_found *found, const thumb_output *outputs, thumb_result *res,
		      struct stat *st, failure_kind *kind, char *err, size_t errlen)
{
	*kind = FAIL_DECODE;
	if (geometry_check_sizes(settings, err, errlen))
		return -1;
	for (int i = 0; i < settings->nsizes; i++)
		if (!outputs[i].name || !*outputs[i].name || strchr(outputs[i].name, '/') ||
		    outputs[i].format == FORMAT_SAME) {
			vipserr_printf(err, errlen, "no usable output for size %d", i + 1);
			*kind = FAIL_OUTPUT;
			return -1;
		}
	if (stat(input, st) != 0) {
		vipserr_printf(err, errlen, "%s", strerror(errno));
		*kind = FAIL_ENVIRONMENT;
		return -1;
	}
	if (found && (found->dev || found->ino) &&
	    ((uint64_t)st->st_dev != found->dev || (uint64_t)st->st_ino != found->ino)) {
		/* read_input() then checks that the file opened is this one */
		vipserr_printf(err, errlen, "%s", REPLACED);
		*kind = FAIL_ENVIRONMENT;
		return -1;
	}
	res->in_bytes = (uint64_t)st->st_size;
	if (!S_ISREG(st->st_mode)) {
		/* The walk queues regular files only: one found that is something
		 * else now was replaced, though it has the found one's inode (ext4
		 * gives a folder made after rm the number the file freed). Not a
		 * verdict on the file, which comes back as it was. */
		int replaced = found && (found->dev || found->ino);
		vipserr_printf(err, errlen, "%s", replaced ? REPLACED : "not a regular file");
		if (replaced)
			*kind = FAIL_ENVIRONMENT;
		return -1;
	}
	if (st->st_size == 0) {
		vipserr_printf(err, errlen, THUMB_EMPTY_FILE);
		return -1;
	}
	return 0;
}

/* A folder the walk found on the input's path is a symlink now. */
#define FOLDER_SWAPPED "a folder on its path was replaced (by a symlink?) during the run: " \
		       "not read through it"

/* Open the input as io_open_regular() does, with the folders after the first
 * `beneath` bytes of input (the part a folder walk found below the root the user
 * gave) opened one at a time, never through a symlink (outdir_walk_dirs()): one
 * swapped since the walk for a symlink to elsewhere, or for anything but a
 * folder, fails with *swapped set instead of being read through. The file itself
 * may be a symlink (followed, as the walk reads one). */
static int open_input(const char *input, size_t beneath, struct stat *st, int *swapped)
{
	const char *leaf = strrchr(input, '/');
	*swapped = 0;
	if (!beneath || beneath > strlen(input) || !leaf || leaf < input + beneath)
		return io_open_regular(input, st); /* no folder of the walk's on the way */
	char *root = strndup(input, beneath);
	char *below = strndup(input + beneath, (size_t)(leaf - input) - beneath);
	int base = root && below ? open(root, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	int dfd = base >= 0 ? outdir_walk_dirs(base, below, 0) : -1;
	*swapped = base >= 0 && dfd < 0 && (errno == ELOOP || errno == ENOTDIR);
	int fd = dfd >= 0 ? io_open_regular_at(dfd, leaf + 1, st) : -1;
	int e = errno;
	if (dfd >= 0)
		close(dfd);
	if (base >= 0)
		close(base);
	free(root);
	free(below);
	errno = e;
	return fd;
}

/* Leading zero bytes that no image format begins with. */
#define ZERO_HEAD_BYTES 64

/* Read the input once. A JPEG the fast path takes (fastjpeg.h: its signature, at
 * most FASTJPEG_MAX_FILE_BYTES) is read whole, its checksum taken from those
 * bytes, which the fast path then decodes (*bytes): one read of each file, where
 * the checksum's own read was 2 % of a run over small photos (perf), and the
 * checksum is of the very bytes decoded. Any other file, or any with
 * --keep-metadata (which the fast path leaves to libvips), or one there is no
 * memory to hold, is checksummed as it streams by (*bytes NULL: not the fast
 * path's). One open, open_input()'s: a FIFO swapped in after
 * check_task()'s stat cannot block it, a folder of the walk's swapped for a symlink
 * is not passed through, and the file must be the one check_task() saw. It stays
 * open (*fd_out) for the decoders. Reading here also tells an input we may not read
 * (environmental) from one we cannot decode. */
static int read_input(const thumb_settings *settings, const char *input, size_t beneath,
		      const struct stat *was, thumb_result *res, unsigned char **bytes,
		      size_t *nbytes, int *fd_out, failure_kind *kind, char *err, size_t errlen)
{
	struct stat st;
	int swapped;
	int fd = open_input(input, beneath, &st, &swapped);
	const char *why = NULL;

	*bytes = NULL;
	*fd_out = -1;
	if (fd < 0) {
		why = swapped ? FOLDER_SWAPPED : errno ? NULL : "not a regular file";
		goto fail;
	}
	if (st.st_dev != was->st_dev || st.st_ino != was->st_ino) {
		/* check_task()'s stat by name reached another file: a file replaced in
		 * between, or (beneath) a folder on the way swapped for a symlink */
		why = REPLACED;
		goto fail;
	}
	int got = settings->keep_metadata
			  ? 1
			  : io_read_signed_fd(fd, (uint64_t)st.st_size, FASTJPEG_SIGNATURE,
					      FASTJPEG_SIGNATURE_LEN, FASTJPEG_MAX_FILE_BYTES,
					      bytes, nbytes);
	if (got < 0)
		goto fail;
	/* A file that begins with zeros is no image any loader reads, and libvips'
	 * sniffing (matrixload looks for the end of a first line) and the checksum
	 * read it to the end first: 17 s for a 2 GiB sparse file, a copy or download
	 * that preallocated and never finished. Asked only of a file not read whole
	 * (one that was begins with the JPEG signature): no extra read a JPEG. */
	unsigned char head[ZERO_HEAD_BYTES];
	if (got == 1 && pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head && !head[0] &&
	    !memcmp(head, head + 1, sizeof head - 1)) {
		close(fd);
		vipserr_printf(err, errlen, "not an image: it begins with %d zero bytes (a copy "
			       "or download that never finished?)", ZERO_HEAD_BYTES);
		*kind = FAIL_DECODE;
		return -1;
	}
	if (got == 0)
		res->in_checksum = filehash_bytes(*bytes, *nbytes);
	else if (filehash_fd(fd, &res->in_checksum) != 0)
		goto fail;
	*fd_out = fd; /* the decoders read this very file (thumb_run()) */
	return 0;
fail:
	vipserr_printf(err, errlen, "%s", why ? why : strerror(errno));
	if (fd >= 0)
		close(fd);
	*kind = FAIL_ENVIRONMENT;
	return -1;
}

/* Has the open input (was: its stat before it was read; sum: the checksum of
 * its bytes then) been written to since? Another size or mtime says so. Its
 * change time alone also moves for a chmod or a hard link (cp -al backups): the
 * writer may have set the mtime back (touch -r), so then its bytes tell. */
static int written_since(int fd, const struct stat *was, uint64_t sum)
{
	struct stat now;
	uint64_t again;
	if (fstat(fd, &now) != 0)
		return 0; /* unknowable, and the read itself went well */
	file_ident a = outdir_ident_of(was), b = outdir_ident_of(&now);
	if (!outdir_ident_same(&a, &b))
		return 1;
	if (now.st_ctim.tv_sec == was->st_ctim.tv_sec &&
	    now.st_ctim.tv_nsec == was->st_ctim.tv_nsec)
		return 0;
	return filehash_fd(fd, &again) == 0 && again != sum;
}

/* Is the file at input no longer the one check_task() saw? */
static int input_changed(const char *input, const struct stat *was)
{
	struct stat now;
	if (stat(input, &now) != 0)
		return 1;
	file_ident a = outdir_ident_of(was), b = outdir_ident_of(&now);
	return !outdir_ident_same(&a, &b);
}

int thumb_run(const thumb_settings *settings, const char *input, size_t beneath,
	      const thumb_found *found, const thumb_output *outputs, thumb_result *res,
	      failure_kind *kind, char *err, size_t errlen)
{
	int fds[THUMB_MAX_SIZES], made[THUMB_MAX_SIZES] = {0};
	VipsImage *master = NULL;
	int w = 0, h = 0, icc_intent = VIPSLOAD_NO_ICC, rc = -1;
	vipsload_format format = VIPSLOAD_OTHER;

	memset(res, 0, sizeof *res);
	vipserr_clear(); /* nothing of an earlier file in this one's cause */
	for (int i = 0; i < THUMB_MAX_SIZES; i++)
		fds[i] = -1;
	struct stat was;
	unsigned char *bytes;
	size_t nbytes = 0;
	int in_fd = -1;
	if (check_task(settings, input, found, outputs, res, &was, kind, err, errlen) ||
	    read_input(settings, input, beneath, &was, res, &bytes, &nbytes, &in_fd, kind, err,
		       errlen))
		return -1;
	/* The decoders after the fast path open a file by name: they get the one
	 * read_input() opened and checked, through /proc (a name of that open file),
	 * never the path again, which a rename or a folder swapped for a symlink since
	 * may lead elsewhere; by the path only where /proc is not there. */
	char by_fd[32];
	snprintf(by_fd, sizeof by_fd, "/proc/self/fd/%d", in_fd);
	int by_name = access(by_fd, R_OK) != 0;
	const char *name = by_name ? input : by_fd;
	*kind = FAIL_DECODE;
	master_input in = {0, 0, 0, name};
	/* --fail-on none thumbnails what a cut-short file holds, as it asks; the
	 * memory it may take is --max-pixels' to bound. */
	int cw, ch;
	if (bytes && settings->fail_on != FAILON_NONE &&
	    jpegscan_too_short(bytes, nbytes, &cw, &ch)) {
		vipserr_printf(err, errlen, "cut short: its header says %dx%d, more than its %zu "
			       "bytes can hold (a progressive JPEG takes a bit an 8x8 block at "
			       "least); not decoded, which would take memory for the whole image",
			       cw, ch, nbytes);
		free(bytes);
		goto done;
	}
	int fast = bytes ? fastpath_master(settings, name, bytes, nbytes, &w, &h, &master, err,
					   errlen)
			 : 1;
	if (fast == 0) {
		in.jpeg = 1;
		by_name = 0; /* decoded from its bytes */
	}
	else if (fast < 0)
		goto done;
	else if (pngcheck_file(name, err, errlen))
		goto done;	/* a PNG no decoder can read, before one allocates for it */
	else if (pngmaster_make(settings, name, &w, &h, &master) == 0)
		in.jpeg = 0;
	else if (vipsload_header(settings, name, &w, &h, &icc_intent, &format, kind, err,
				 errlen))
		goto done;
	/* libvips does not check a PNG's zlib stream (pngcheck.h); after the header,
	 * whose limits refuse a file before a byte of it is inflated */
	else if (settings->fail_on <= FAILON_ERROR && pngcheck_image_data(name, err, errlen)) {
		*kind = FAIL_DECODE;
		goto done;
	} else if (vipsload_master(settings, name, w, h, icc_intent, format, &master, err,
				 errlen))
		goto done;
	else
		in.jpeg = format == VIPSLOAD_JPEG;
	in.w = res->in_w = w;
	in.h = res->in_h = h;
	res->nout = settings->nsizes;
	for (int i = 0; i < settings->nsizes; i++) {
		if (produce(settings, master, &in, i, &outputs[i], &fds[i], res, kind, err,
			    errlen))
			goto done;
		made[i] = 1;
	}
	rc = save_close(settings->nsizes, fds, err, errlen);
	if (rc) {
		*kind = FAIL_OUTPUT;
	} else if (beneath && by_name && input_changed(input, &was)) {
		/* Read by name (no /proc): still the file opened? */
		vipserr_printf(err, errlen, "%s", FOLDER_SWAPPED);
		*kind = FAIL_ENVIRONMENT;
		rc = -1;
	} else if (written_since(in_fd, &was, res->in_checksum)) {
		/* Written in place while it was read (a copy or an editor saving over
		 * it): the decoders may have read part of each version, and the
		 * thumbnail would be a mix of two pictures. Its size, its mtime or,
		 * where only its change time moved, its bytes tell; tried again next
		 * run. */
		vipserr_printf(err, errlen, "the input was written to while it was read");
		*kind = FAIL_ENVIRONMENT;
		rc = -1;
	}
done:
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (rc && made[i])
			unlinkat(outputs[i].dirfd, outputs[i].name, 0);
	}
	if (master)
		g_object_unref(master); /* libvips may read the input until here */
	close(in_fd);
	vipserr_clear();
	/* What the decoded image needs if it goes to disk: 4 bytes a pixel, the
	 * widest libvips' 8-bit loaders make (16-bit ones more, but rarely). */
	const char *short_of = rc && *kind == FAIL_DECODE
				       ? machine_short((uint64_t)w * (uint64_t)h * 4)
				       : NULL;
	if (short_of) {
		/* A decoder's failure while the machine is short of what decoding
		 * needs says nothing of the file (libvips words it "write failed",
		 * "Error creating thread"...): tried again next run, not remembered
		 * as the file's own. Asked of the machine, not read from the words. */
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (%s)", short_of);
		*kind = FAIL_ENVIRONMENT;
	} else if (rc && *kind == FAIL_DECODE && input_changed(input, &was)) {
		/* The decoders open the input by name, one after another: one that
		 * failed because the file was moved, replaced or removed meanwhile says
		 * nothing of the file (a decode failure would be remembered and the file
		 * skipped until it changes). Looked at right after the failure. */
		vipserr_printf(err, errlen, "the input was moved, replaced or removed while it "
			       "was read");
		*kind = FAIL_ENVIRONMENT;
	}
	if (rc) {
		/* What was learnt of the input stays; no output exists. */
		res->nout = 0;
		memset(res->out, 0, sizeof res->out);
	} else {
		*kind = FAIL_NONE;
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

