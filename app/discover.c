/*
 * discover.c — walk the PATHs, pick the images, plan their outputs. See discover.h.
 *
 * fts(3) rather than nftw(3): nftw drives the walk with a callback and cannot stop
 * between two files, fts hands out one entry per call, which is exactly a stream
 * that discover_next() can pause while the pool works. Only the set of planned
 * output paths grows with the tree (to catch two inputs writing one output).
 */
#include <errno.h>
#include <fnmatch.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "discover.h"

static const char *const image_exts[] = {
	"jpg", "jpeg", "jpe", "png", "webp", "tif", "tiff", "gif", "heic", "heif", "avif", NULL,
};

/* One planned output, to detect collisions: hash of the path, first input. */
typedef struct claim {
	uint64_t hash;
	char *input;
} claim;

struct discover {
	discover_config cfg;
	const char *tmpl;
	int next_path;          /* next PATH argument to start */
	FTS *fts;               /* walk of the current folder PATH, or NULL */
	size_t root_len;        /* length of that PATH as given (for rel) */
	uint64_t count;
	int out_known;          /* the output folder exists: its identity below */
	dev_t out_dev;
	ino_t out_ino;
	claim *claims;          /* open addressing, power-of-two capacity */
	size_t ncap, nused;
	/* the current item's strings */
	char *input, *rel;
	char *outputs[THUMB_MAX_SIZES];
	char error[600];
};

/* ------------------------------------------------------------------------- */
/* Names                                                                      */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The extension after the last dot of a base name ("" when none, or a dotfile). */
static const char *extension(const char *base)
{
	const char *dot = strrchr(base, '.');
	return dot && dot != base ? dot + 1 : "";
}

static int is_image_name(const char *base)
{
	const char *ext = extension(base);
	for (int i = 0; image_exts[i]; i++)
		if (!strcasecmp(ext, image_exts[i]))
			return 1;
	return 0;
}

static int wanted(const discover *d, const char *rel)
{
	const char *base = base_name(rel);
	int inc = d->cfg.nincludes == 0;
	for (int i = 0; i < d->cfg.nincludes && !inc; i++)
		inc = !fnmatch(d->cfg.includes[i], rel, 0) ||
		      !fnmatch(d->cfg.includes[i], base, 0);
	if (!inc)
		return 0;
	for (int i = 0; i < d->cfg.nexcludes; i++)
		if (!fnmatch(d->cfg.excludes[i], rel, 0) || !fnmatch(d->cfg.excludes[i], base, 0))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------------- */
/* The name template                                                          */

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = (*cap + n + 1) * 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* The box as the user would write it. */
static void size_text(thumb_size box, char *buf, size_t len)
{
	if (box.w && box.h && box.w == box.h)
		snprintf(buf, len, "%d", box.w);
	else if (box.w && box.h)
		snprintf(buf, len, "%dx%d", box.w, box.h);
	else if (box.w)
		snprintf(buf, len, "%dx", box.w);
	else
		snprintf(buf, len, "x%d", box.h);
}

/* Collapse "//", drop a leading "/", refuse "..", "." or an empty last part: the
 * result must stay inside the output folder. */
static const char *normalise(char *path)
{
	char *w = path;
	for (const char *r = path; *r; r++) {
		if (*r == '/' && (w == path || w[-1] == '/'))
			continue;
		*w++ = *r;
	}
	*w = '\0';
	if (!*path)
		return "the name template gives an empty path";
	if (w[-1] == '/')
		return "the name template gives a path ending in '/'";
	for (char *s = path; s;) {
		char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if ((n == 2 && !strncmp(s, "..", 2)) || (n == 1 && s[0] == '.'))
			return "the name template gives a path with '.' or '..' in it";
		s = slash ? slash + 1 : NULL;
	}
	return NULL;
}

char *discover_expand(const char *tmpl, const char *rel_dir, const char *stem,
		      const char *in_ext, const char *out_ext, thumb_size box,
		      const char **why)
{
	char *buf = NULL, num[32];
	size_t len = 0, cap = 0;
	*why = NULL;
	if (append(&buf, &len, &cap, "", 0) < 0)
		goto oom;
	for (const char *p = tmpl; *p;) {
		if (*p == '}') {
			*why = "--name: a '}' without its '{'";
			goto fail;
		}
		if (*p != '{') {
			size_t n = strcspn(p, "{}");
			if (append(&buf, &len, &cap, p, n) < 0)
				goto oom;
			p += n;
			continue;
		}
		const char *end = strchr(p, '}');
		if (!end || memchr(p + 1, '{', (size_t)(end - p - 1))) {
			*why = "--name: a '{' without its '}'";
			goto fail;
		}
		size_t n = (size_t)(end - p - 1);
		const char *v = NULL;
		num[0] = '\0';
		if (n == 3 && !strncmp(p + 1, "dir", 3))
			v = rel_dir;
		else if (n == 4 && !strncmp(p + 1, "stem", 4))
			v = stem;
		else if (n == 3 && !strncmp(p + 1, "ext", 3))
			v = out_ext;
		else if (n == 5 && !strncmp(p + 1, "inext", 5))
			v = in_ext;
		else if (n == 1 && p[1] == 'w')
			v = box.w ? (snprintf(num, sizeof num, "%d", box.w), num) : "";
		else if (n == 1 && p[1] == 'h')
			v = box.h ? (snprintf(num, sizeof num, "%d", box.h), num) : "";
		else if (n == 4 && !strncmp(p + 1, "size", 4))
			v = (size_text(box, num, sizeof num), num);
		if (!v) {
			*why = "--name: unknown placeholder (known: {dir} {stem} {ext} {inext} "
			       "{w} {h} {size})";
			goto fail;
		}
		if (append(&buf, &len, &cap, v, strlen(v)) < 0)
			goto oom;
		p = end + 1;
	}
	if ((*why = normalise(buf)))
		goto fail;
	return buf;
oom:
	*why = "out of memory";
fail:
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------------------- */
/* Collisions                                                                 */

/* Claim an output path for input; NULL when it is new (or claimed by the same
 * input), else the input that had it first. */
static const char *claim_output(discover *d, const char *out, const char *input)
{
	if (d->nused * 2 >= d->ncap) {
		size_t cap = d->ncap ? d->ncap * 2 : 1024;
		claim *t = calloc(cap, sizeof *t);
		if (!t)
			return NULL; /* no memory: stop checking rather than fail files */
		for (size_t i = 0; i < d->ncap; i++) {
			if (!d->claims[i].input)
				continue;
			size_t k = d->claims[i].hash & (cap - 1);
			while (t[k].input)
				k = (k + 1) & (cap - 1);
			t[k] = d->claims[i];
		}
		free(d->claims);
		d->claims = t;
		d->ncap = cap;
	}
	uint64_t h = XXH3_64bits(out, strlen(out));
	size_t k = h & (d->ncap - 1);
	for (; d->claims[k].input; k = (k + 1) & (d->ncap - 1))
		if (d->claims[k].hash == h)
			return strcmp(d->claims[k].input, input) ? d->claims[k].input : NULL;
	d->claims[k].hash = h;
	d->claims[k].input = strdup(input);
	d->nused++;
	return NULL;
}

/* ------------------------------------------------------------------------- */
/* Items                                                                      */

static void clear_item(discover *d, discover_item *it)
{
	free(d->input);
	free(d->rel);
	d->input = d->rel = NULL;
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		free(d->outputs[i]);
		d->outputs[i] = NULL;
	}
	memset(it, 0, sizeof *it);
}

static int item_error(discover *d, discover_item *it, const char *path, const char *fmt,
		      const char *arg)
{
	d->count++;
	d->input = strdup(path);
	it->state = ITEM_ERROR;
	it->input = d->input ? d->input : "?";
	it->rel = it->input;
	snprintf(d->error, sizeof d->error, fmt, arg);
	it->error = d->error;
	return 1;
}

/* Plan a regular file: output paths, collisions, up to date. */
static int plan(discover *d, discover_item *it, const char *input, const char *rel,
		const struct stat *st)
{
	d->count++;
	d->input = strdup(input);
	d->rel = strdup(rel);
	if (!d->input || !d->rel)
		return item_error(d, it, input, "%s", "out of memory");
	it->input = d->input;
	it->rel = d->rel;
	it->size = (uint64_t)st->st_size;
	it->mtime = st->st_mtim;

	/* dir / stem / extensions of rel */
	const char *base = base_name(rel);
	size_t dirlen = base > rel ? (size_t)(base - rel - 1) : 0;
	char *dir = strndup(rel, dirlen);
	const char *ext = extension(base);
	char *stem = strndup(base, *ext ? (size_t)(ext - base - 1) : strlen(base));
	char lower[16] = "";
	for (size_t i = 0; ext[i] && i + 1 < sizeof lower; i++)
		lower[i] = (char)((ext[i] >= 'A' && ext[i] <= 'Z') ? ext[i] + 32 : ext[i]);
	const char *out_ext = thumb_output_ext(d->cfg.settings->format, lower);
	int rc = 1;
	it->state = ITEM_TODO;
	for (int i = 0; i < d->cfg.settings->nsizes && dir && stem; i++) {
		const char *why;
		char *r = discover_expand(d->tmpl, dir, stem, ext, out_ext,
					  d->cfg.settings->sizes[i], &why);
		if (!r) {
			it->state = ITEM_ERROR;
			snprintf(d->error, sizeof d->error, "%s", why);
			break;
		}
		size_t n = strlen(d->cfg.out_dir) + strlen(r) + 2;
		d->outputs[i] = malloc(n);
		if (d->outputs[i])
			snprintf(d->outputs[i], n, "%s/%s", d->cfg.out_dir, r);
		free(r);
		if (!d->outputs[i]) {
			it->state = ITEM_ERROR;
			snprintf(d->error, sizeof d->error, "out of memory");
			break;
		}
		it->outputs[i] = d->outputs[i];
		it->noutputs = i + 1;
		struct stat os;
		if (stat(d->outputs[i], &os) == 0 && os.st_dev == st->st_dev &&
		    os.st_ino == st->st_ino) {
			it->state = ITEM_ERROR;
			snprintf(d->error, sizeof d->error, "its output %.400s is the input itself",
				 d->outputs[i]);
			break;
		}
		const char *first = claim_output(d, d->outputs[i], input);
		if (first) {
			it->state = ITEM_ERROR;
			snprintf(d->error, sizeof d->error, "output %.250s is also the output of %.250s",
				 d->outputs[i], first);
			break;
		}
	}
	if (!dir || !stem) {
		it->state = ITEM_ERROR;
		snprintf(d->error, sizeof d->error, "out of memory");
	}
	free(dir);
	free(stem);
	if (it->state == ITEM_ERROR) {
		it->error = d->error;
		it->noutputs = 0;
		return rc;
	}
	if (!d->cfg.force) {
		int fresh = 1;
		for (int i = 0; i < it->noutputs && fresh; i++) {
			struct stat os;
			fresh = stat(it->outputs[i], &os) == 0 &&
				(os.st_mtim.tv_sec > st->st_mtim.tv_sec ||
				 (os.st_mtim.tv_sec == st->st_mtim.tv_sec &&
				  os.st_mtim.tv_nsec >= st->st_mtim.tv_nsec));
		}
		if (fresh)
			it->state = ITEM_UPTODATE;
	}
	return rc;
}

/* fts order: files before folders, files largest first, then by name. */
static int compare(const FTSENT **a, const FTSENT **b)
{
	int da = (*a)->fts_info == FTS_D, db = (*b)->fts_info == FTS_D;
	if (da != db)
		return da - db;
	if (!da && (*a)->fts_statp && (*b)->fts_statp) {
		off_t sa = (*a)->fts_statp->st_size, sb = (*b)->fts_statp->st_size;
		if (sa != sb)
			return sa < sb ? 1 : -1;
	}
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Start walking PATH argument i: a folder opens an fts walk; a file (or an error)
 * gives an item at once. Returns 1 when *it was filled. */
static int start_path(discover *d, discover_item *it, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return item_error(d, it, path, "%s", strerror(errno));
	if (S_ISREG(st.st_mode))
		return plan(d, it, path, base_name(path), &st);
	if (!S_ISDIR(st.st_mode))
		return item_error(d, it, path, "%s", "not a regular file or folder");
	char *argv[] = {(char *)path, NULL};
	d->fts = fts_open(argv, FTS_PHYSICAL | FTS_NOCHDIR, compare);
	if (!d->fts)
		return item_error(d, it, path, "%s", strerror(errno));
	d->root_len = strlen(path);
	return 0;
}

/* Next item from the current fts walk: 1 filled, 0 walk over. */
static int next_in_walk(discover *d, discover_item *it)
{
	FTSENT *e;
	while ((e = fts_read(d->fts))) {
		const char *name = e->fts_name;
		/* path relative to the root as given */
		const char *rel = e->fts_path + d->root_len;
		while (*rel == '/')
			rel++;
		switch (e->fts_info) {
		case FTS_D:
			if (e->fts_level == 0)
				break;
			if (name[0] == '.' || !d->cfg.recursive ||
			    (d->out_known && e->fts_statp->st_dev == d->out_dev &&
			     e->fts_statp->st_ino == d->out_ino))
				fts_set(d->fts, e, FTS_SKIP);
			break;
		case FTS_F:
			if (name[0] == '.' || !is_image_name(name) || !wanted(d, rel))
				break;
			return plan(d, it, e->fts_path, rel, e->fts_statp);
		case FTS_SL: {
			/* A link to an image file is read through; to a folder, not walked. */
			if (name[0] == '.' || !is_image_name(name) || !wanted(d, rel))
				break;
			struct stat st;
			if (stat(e->fts_path, &st) < 0)
				return item_error(d, it, e->fts_path, "%s", strerror(errno));
			if (S_ISREG(st.st_mode))
				return plan(d, it, e->fts_path, rel, &st);
			if (!S_ISDIR(st.st_mode))
				return item_error(d, it, e->fts_path, "%s", "not a regular file");
			break;
		}
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			if (name[0] == '.' && e->fts_level > 0)
				break;
			return item_error(d, it, e->fts_path, "%s", strerror(e->fts_errno));
		case FTS_DC:
			return item_error(d, it, e->fts_path, "%s", "folder cycle");
		case FTS_DEFAULT:
			/* FIFOs, sockets, devices: opening a FIFO would hang a worker. */
			if (name[0] == '.' || !is_image_name(name) || !wanted(d, rel))
				break;
			return item_error(d, it, e->fts_path, "%s", "not a regular file");
		default:
			break;
		}
	}
	fts_close(d->fts);
	d->fts = NULL;
	return 0;
}

int discover_next(discover *d, discover_item *it)
{
	clear_item(d, it);
	for (;;) {
		if (d->fts) {
			if (next_in_walk(d, it))
				return 1;
			continue;
		}
		if (d->next_path >= d->cfg.npaths)
			return 0;
		if (start_path(d, it, d->cfg.paths[d->next_path++]))
			return 1;
	}
}

discover *discover_open(const discover_config *cfg, char **err)
{
	*err = NULL;
	if (cfg->npaths < 1) {
		*err = strdup("no PATH given");
		return NULL;
	}
	discover *d = calloc(1, sizeof *d);
	if (!d) {
		*err = strdup("out of memory");
		return NULL;
	}
	d->cfg = *cfg;
	d->tmpl = cfg->name_template ? cfg->name_template
		  : cfg->settings->nsizes > 1 ? "{dir}/{stem}_{size}.{ext}"
					      : "{dir}/{stem}.{ext}";
	/* Try the template once so a bad one is a usage error, not one per file. */
	const char *why;
	char *t = discover_expand(d->tmpl, "a", "b", "jpg", "jpg", cfg->settings->sizes[0], &why);
	if (!t) {
		if (asprintf(err, "%s: '%s'", why, d->tmpl) < 0)
			*err = NULL;
		free(d);
		return NULL;
	}
	free(t);
	struct stat st;
	if (stat(cfg->out_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			if (asprintf(err, "the output folder '%s' is not a folder", cfg->out_dir) < 0)
				*err = NULL;
			free(d);
			return NULL;
		}
		d->out_known = 1;
		d->out_dev = st.st_dev;
		d->out_ino = st.st_ino;
	}
	return d;
}

uint64_t discover_count(const discover *d)
{
	return d->count;
}

void discover_close(discover *d)
{
	if (!d)
		return;
	discover_item it;
	clear_item(d, &it);
	if (d->fts)
		fts_close(d->fts);
	for (size_t i = 0; i < d->ncap; i++)
		free(d->claims[i].input);
	free(d->claims);
	free(d);
}
