/* SPDX-License-Identifier: MIT */
/*
 * discover.c — walk the PATHs, pick the images, plan their outputs. See discover.h.
 *
 * Why fts(3) and not nftw(3): nftw drives the walk itself and calls back for every
 * entry; it cannot be paused between two files (short of a thread or a longjmp out
 * of the callback). fts hands out one entry per fts_read(), so discover_next() walks
 * exactly as far as the next file and returns: the pool works on the first photo
 * while the rest of the tree is still unread. Memory holds the folders on the current
 * path (fts reads one folder's entries at a time, to sort them) and the collision
 * set; nothing else grows with the tree.
 *
 * Decisions beyond discover.h:
 *   - A PATH that does not exist, cannot be read, or is neither a file nor a folder
 *     is an ITEM_ERROR for that PATH and the walk goes on with the next one: a cron
 *     job one of whose folders vanished still does the others. Even when every PATH
 *     is missing the result is just error items. discover_open() fails only for
 *     configuration errors: no PATH, no sizes, a bad name template (or one that names
 *     two sizes alike), an output folder that exists but is not a folder.
 *   - Symlinks. A PATH that is a symlink is followed (FTS_COMFOLLOW). Inside a walked
 *     folder (FTS_PHYSICAL: links are not followed by fts) a link with an image name
 *     to a regular file is taken: the input is the link's path, size and mtime are
 *     the target's. A link to a folder is skipped (no walking out of the tree, no
 *     cycles); a dangling or looping link with an image name is an ITEM_ERROR.
 *     Reading through a link that points outside the tree is fine: we only read, and
 *     outputs are always under out_dir whatever the inputs are.
 *   - include/exclude also apply to a file given as a PATH (matched against its base
 *     name), so `--exclude '*_small.jpg' *.jpg` does what it says; only the extension
 *     and hidden-name rules are waived for a file named explicitly.
 *   - The output folder is skipped wherever the walk meets it (by st_dev/st_ino). It
 *     may not exist when the walk starts and be made by the workers while we walk,
 *     so until it exists it is looked up again at every folder entered. A folder PATH
 *     that is the output folder is an ITEM_ERROR (its files are never read).
 *   - An output must never be an input. The output of the file itself is caught by
 *     st_dev/st_ino. When a PATH lies inside the output tree (`-o .. photos`), an
 *     output that lands on that file or under that folder (compared on canonical
 *     paths, lexically below the output folder) is an ITEM_ERROR: it would overwrite
 *     an input, or be read as one on the next run. Outputs under the output folder
 *     can reach no other input: the walk never enters the output tree.
 *   - Collisions are found by the 64-bit XXH3 hash of the output path alone: a slot
 *     is 16 bytes, the first claimant's input path is kept once per input in an
 *     append-only arena. Two different paths with one hash (odds ~ n^2 / 2^65) would
 *     be reported as a collision, never overwritten silently.
 *   - {size}: a square box "W" (a single number on the command line), "WxH", "W"
 *     for a width alone, "xH" for a height alone.
 *   - The config's arrays and strings are borrowed: they must outlive the walker.
 */
#include <errno.h>
#include <fnmatch.h>
#include <fts.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "discover.h"

/* Extensions of the images we read, compared without regard to case. */
static const char *const image_exts[] = {
	"jpg", "jpeg", "jpe", "png", "webp", "tif", "tiff", "gif", "heic", "heif", "avif", NULL,
};

/* The template's placeholders, in the order the usage message lists them. */
enum { PH_DIR, PH_STEM, PH_EXT, PH_INEXT, PH_W, PH_H, PH_SIZE, PH_COUNT };
static const char *const placeholders[PH_COUNT] = {
	"dir", "stem", "ext", "inext", "w", "h", "size",
};

/* Causes discover_expand() gives (static: the header promises it). */
static const char WHY_UNKNOWN[] =
	"the name template has an unknown placeholder (known: {dir} {stem} {ext} {inext} "
	"{w} {h} {size})";
static const char WHY_OPEN[] = "the name template has a '{' without its '}'";
static const char WHY_CLOSE[] = "the name template has a '}' without its '{'";
static const char WHY_ABSOLUTE[] =
	"the name template is an absolute path; it must name a path inside the output folder";
static const char WHY_EMPTY[] = "the name template gives an empty path";
static const char WHY_SLASH[] = "the name template gives a path ending in '/'";
static const char WHY_DOTDOT[] =
	"the name template gives a path with a '..' component (outside the output folder)";
static const char WHY_NOMEM[] = "out of memory";

#define ARENA_BLOCK 65536

/* One planned output, for collisions: its path's hash and the first input that
 * claimed it (in the arena). An empty slot has input == NULL. */
typedef struct claim {
	uint64_t hash;
	const char *input;
} claim;

/* Append-only storage for claimants' paths: one malloc per 64 KiB, freed at close. */
typedef struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
} arena_block;

/* A PATH that lies inside the output tree: outputs must not land on it. */
typedef struct inside_path {
	char *canon;            /* realpath of the PATH */
	int folder;             /* 1: also nothing under it */
} inside_path;

struct discover {
	discover_config cfg;    /* as given: arrays and strings borrowed */
	thumb_settings settings;
	char *tmpl;             /* the name template in use */
	char *out_dir;          /* the output folder, trailing '/' trimmed ("/" stays) */
	char *out_canon;        /* its canonical path, as far as it exists; NULL: unknown */
	int out_known;          /* the output folder exists: its identity below */
	dev_t out_dev;
	ino_t out_ino;
	inside_path *inside;    /* PATHs inside the output tree, sorted by canon */
	int ninside;

	int next_path;          /* next PATH argument to start */
	FTS *fts;               /* walk of the current folder PATH, or NULL */
	const char *root;       /* that PATH as given */
	size_t root_len;        /* the length fts gives the root (rel starts after it) */
	uint64_t count;

	claim *claims;          /* open addressing, power-of-two capacity, load <= 1/2 */
	size_t ncap, nused;
	arena_block *arena;

	/* the current item's strings, freed at the next discover_next() */
	char *input, *rel, *error;
	char *outputs[THUMB_MAX_SIZES];
};

/* ------------------------------------------------------------------------- */
/* Names and filters                                                          */

/* The last component of a path (the whole path when it has no '/'). */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The extension after the last dot of a base name: "" when there is none or the
 * only dot starts the name (".profile" has no extension, ".x.jpg" has "jpg"). */
static const char *extension(const char *base)
{
	const char *dot = strrchr(base, '.');
	return dot && dot != base ? dot + 1 : "";
}

/* Does the name end in the extension of an image we read? */
static int is_image_name(const char *base)
{
	const char *ext = extension(base);
	for (int i = 0; image_exts[i]; i++)
		if (!strcasecmp(ext, image_exts[i]))
			return 1;
	return 0;
}

/* Does one of n globs match the relative path or the base name? */
static int glob_hit(const char *const *globs, int n, const char *rel, const char *base)
{
	for (int i = 0; i < n; i++)
		if (!fnmatch(globs[i], rel, 0) || !fnmatch(globs[i], base, 0))
			return 1;
	return 0;
}

/* The include/exclude rule: one include when any are given, and no exclude. */
static int wanted_by_globs(const discover *d, const char *rel)
{
	const char *base = base_name(rel);
	if (d->cfg.nincludes > 0 && !glob_hit(d->cfg.includes, d->cfg.nincludes, rel, base))
		return 0;
	return !glob_hit(d->cfg.excludes, d->cfg.nexcludes, rel, base);
}

/* Would a file found in a walked folder with this name be an input? (Hidden names
 * and other extensions are skipped silently.) */
static int wanted_in_walk(const discover *d, const char *name, const char *rel)
{
	return name[0] != '.' && is_image_name(name) && wanted_by_globs(d, rel);
}

/* ------------------------------------------------------------------------- */
/* Canonical paths (the output-may-not-be-an-input guard)                     */

/* a + "/" + b, without doubling a '/' that ends a. malloc'd; NULL out of memory. */
static char *join(const char *a, const char *b)
{
	size_t la = strlen(a);
	int slash = la > 0 && a[la - 1] == '/';
	char *r;
	if (asprintf(&r, "%s%s%s", a, slash ? "" : "/", b) < 0)
		return NULL;
	return r;
}

/* The absolute path of p with symlinks resolved as far as it exists; the part that
 * does not exist yet is appended as written. The output folder needs this: it is
 * often made by the run itself. NULL when it cannot be told (out of memory, a
 * component that is not a folder, a missing part ending in "." or ".."). */
static char *canonical(const char *p)
{
	char *r = realpath(p, NULL);
	if (r || errno != ENOENT)
		return r;
	char *copy = strdup(p);
	if (!copy)
		return NULL;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	const char *name = slash ? slash + 1 : copy;
	const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
	if (slash && slash != copy)
		*slash = '\0';
	char *pc = NULL;
	if (*name && strcmp(name, ".") && strcmp(name, "..") && (pc = canonical(parent)))
		r = join(pc, name);
	free(pc);
	free(copy);
	return r;
}

/* Is path the folder dir or below it? Both canonical. */
static int is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/* qsort/bsearch order of inside_path by canonical path. */
static int inside_cmp(const void *a, const void *b)
{
	return strcmp(((const inside_path *)a)->canon, ((const inside_path *)b)->canon);
}

/* Record the PATHs that lie strictly inside the output tree (a folder PATH equal to
 * the output folder is caught while walking). Most runs have none, and then the
 * per-output check costs nothing. Returns -1 only when out of memory. */
static int find_inside_paths(discover *d)
{
	if (!d->out_canon)
		return 0;
	for (int i = 0; i < d->cfg.npaths; i++) {
		char *c = realpath(d->cfg.paths[i], NULL);
		struct stat st;
		if (!c)
			continue;
		if (!is_under(c, d->out_canon) || !strcmp(c, d->out_canon) || stat(c, &st) < 0) {
			free(c);
			continue;
		}
		inside_path *t = realloc(d->inside, (size_t)(d->ninside + 1) * sizeof *t);
		if (!t) {
			free(c);
			return -1;
		}
		d->inside = t;
		d->inside[d->ninside++] = (inside_path){c, S_ISDIR(st.st_mode)};
	}
	if (d->ninside > 1)
		qsort(d->inside, (size_t)d->ninside, sizeof *d->inside, inside_cmp);
	return 0;
}

/* The PATH inside the output tree that an output (relative to the output folder)
 * would overwrite or land under, or NULL. Looks up the whole canonical path, then
 * each of its parent folders: O(depth log n). */
static const char *output_hits_input(const discover *d, const char *out_rel)
{
	if (d->ninside == 0)
		return NULL;
	char *p = join(d->out_canon, out_rel);
	if (!p)
		return NULL;
	const char *hit = NULL;
	size_t n = strlen(p);
	/* the path itself, then each prefix that ends before a '/' */
	for (size_t end = n; end > 0 && !hit; ) {
		char saved = p[end];
		p[end] = '\0';
		inside_path key = {p, 0};
		inside_path *f = bsearch(&key, d->inside, (size_t)d->ninside, sizeof *d->inside,
					 inside_cmp);
		if (f && (f->folder || end == n))
			hit = f->canon;
		p[end] = saved;
		while (end > 0 && p[--end] != '/')
			;
	}
	free(p);
	return hit;
}

/* ------------------------------------------------------------------------- */
/* The name template                                                          */

/* A growing string. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
} strbuf;

/* Append n bytes of s; -1 when out of memory. */
static int sb_add(strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *t = realloc(b->s, cap);
		if (!t)
			return -1;
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* The box as a name: a square "W" (a single number on the command line), "WxH",
 * "W" for a width alone, "xH" for a height alone. */
static void size_text(thumb_size box, char *buf, size_t len)
{
	if (box.w > 0 && box.h > 0 && box.w != box.h)
		snprintf(buf, len, "%dx%d", box.w, box.h);
	else if (box.w > 0)
		snprintf(buf, len, "%d", box.w);
	else if (box.h > 0)
		snprintf(buf, len, "x%d", box.h);
	else
		buf[0] = '\0';
}

/* What a template's placeholders stand for, for one input and one box. */
typedef struct tmpl_vars {
	const char *dir, *stem, *in_ext, *out_ext;
	thumb_size box;
} tmpl_vars;

/* The value of placeholder k (num holds numbers). */
static const char *placeholder_value(int k, const tmpl_vars *v, char *num, size_t len)
{
	num[0] = '\0';
	switch (k) {
	case PH_DIR: return v->dir;
	case PH_STEM: return v->stem;
	case PH_EXT: return v->out_ext;
	case PH_INEXT: return v->in_ext;
	case PH_W: if (v->box.w > 0) snprintf(num, len, "%d", v->box.w); return num;
	case PH_H: if (v->box.h > 0) snprintf(num, len, "%d", v->box.h); return num;
	default: size_text(v->box, num, len); return num;
	}
}

/* Expand the placeholders of tmpl into *out (malloc'd, not yet normalised). Returns
 * NULL, or a static cause with *out NULL; for WHY_UNKNOWN, *bad and *badlen locate
 * the unknown name inside tmpl so that discover_open() can quote it. */
static const char *expand_raw(const char *tmpl, const tmpl_vars *v, char **out,
			      const char **bad, size_t *badlen)
{
	strbuf b = {0};
	char num[32];
	const char *why = NULL;
	*out = NULL;
	if (tmpl[0] == '/')
		return WHY_ABSOLUTE;
	if (sb_add(&b, "", 0) < 0)
		return WHY_NOMEM;
	for (const char *p = tmpl; *p && !why;) {
		if (*p == '}') {
			why = WHY_CLOSE;
			break;
		}
		if (*p != '{') {
			size_t n = strcspn(p, "{}");
			if (sb_add(&b, p, n) < 0)
				why = WHY_NOMEM;
			p += n;
			continue;
		}
		size_t n = strcspn(p + 1, "{}");
		if (p[1 + n] != '}') {
			why = WHY_OPEN;
			break;
		}
		int k = 0;
		while (k < PH_COUNT && !(strlen(placeholders[k]) == n &&
					 !strncmp(p + 1, placeholders[k], n)))
			k++;
		if (k == PH_COUNT) {
			*bad = p + 1;
			*badlen = n;
			why = WHY_UNKNOWN;
			break;
		}
		const char *val = placeholder_value(k, v, num, sizeof num);
		if (sb_add(&b, val, strlen(val)) < 0)
			why = WHY_NOMEM;
		p += n + 2;
	}
	if (why)
		free(b.s);
	else
		*out = b.s;
	return why;
}

/* Make an expansion a clean path below the output folder, in place: "//" collapses,
 * a leading "/" (from an empty {dir}) and "." components go; ".." components, an
 * empty result or a trailing '/' are refused. Returns NULL or the cause. */
static const char *normalise(char *path)
{
	char *w = path;
	const char *r = path;
	while (*r) {
		while (*r == '/')
			r++;
		size_t n = strcspn(r, "/");
		if (n == 2 && r[0] == '.' && r[1] == '.')
			return WHY_DOTDOT;
		if (n == 0 || (n == 1 && r[0] == '.')) {
			r += n;
			continue;
		}
		if (w != path)
			*w++ = '/';
		memmove(w, r, n);
		w += n;
		r += n;
	}
	int trailing = w > path && r > path && r[-1] == '/';
	*w = '\0';
	if (!*path)
		return WHY_EMPTY;
	return trailing ? WHY_SLASH : NULL;
}

/* See discover.h. NULL strings count as empty. */
char *discover_expand(const char *tmpl, const char *rel_dir, const char *stem,
		      const char *in_ext, const char *out_ext, thumb_size box,
		      const char **why)
{
	tmpl_vars v = {rel_dir ? rel_dir : "", stem ? stem : "", in_ext ? in_ext : "",
		       out_ext ? out_ext : "", box};
	const char *bad;
	size_t badlen;
	char *out;
	*why = expand_raw(tmpl ? tmpl : "", &v, &out, &bad, &badlen);
	if (!*why && (*why = normalise(out))) {
		free(out);
		out = NULL;
	}
	return out;
}

/* Check the template once, at open, so a bad one is one usage error rather than an
 * error per file: it must parse, give a clean relative path for a sample input, and
 * give each size its own name. Returns NULL or a malloc'd message naming the cause. */
static char *check_template(const char *tmpl, const thumb_settings *s)
{
	char *names[THUMB_MAX_SIZES] = {0};
	char *msg = NULL;
	for (int i = 0; i < s->nsizes && !msg; i++) {
		tmpl_vars v = {"a/b", "c", "jpg", "jpg", s->sizes[i]};
		const char *bad = NULL;
		size_t badlen = 0;
		const char *why = expand_raw(tmpl, &v, &names[i], &bad, &badlen);
		if (!why && (why = normalise(names[i]))) {
			free(names[i]);
			names[i] = NULL;
		}
		if (why == WHY_UNKNOWN) {
			if (asprintf(&msg, "--name: unknown placeholder {%.*s} (known: dir, stem, "
				     "ext, inext, w, h, size)", (int)badlen, bad) < 0)
				msg = NULL;
		} else if (why) {
			if (asprintf(&msg, "--name: '%s': %s", tmpl, why) < 0)
				msg = NULL;
		}
		for (int j = 0; j < i && !msg; j++) {
			char a[32], b[32];
			if (strcmp(names[i], names[j]))
				continue;
			size_text(s->sizes[j], a, sizeof a);
			size_text(s->sizes[i], b, sizeof b);
			if (asprintf(&msg, "--name: '%s' gives sizes %s and %s the same name; "
				     "put {size} (or {w}, {h}) in it", tmpl, a, b) < 0)
				msg = NULL;
		}
		if (why && !msg)
			msg = strdup(WHY_NOMEM);
	}
	for (int i = 0; i < THUMB_MAX_SIZES; i++)
		free(names[i]);
	return msg;
}

/* ------------------------------------------------------------------------- */
/* Collisions                                                                 */

/* A copy of s that lives until discover_close(); NULL when out of memory. */
static const char *arena_strdup(discover *d, const char *s)
{
	size_t n = strlen(s) + 1;
	arena_block *b = d->arena;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = d->arena;
		b->used = 0;
		b->cap = cap;
		d->arena = b;
	}
	char *p = b->data + b->used;
	memcpy(p, s, n);
	b->used += n;
	return p;
}

/* The input that claimed the output with this hash, or NULL. */
static const char *claim_find(const discover *d, uint64_t h)
{
	if (d->ncap == 0)
		return NULL;
	for (size_t k = h & (d->ncap - 1); d->claims[k].input; k = (k + 1) & (d->ncap - 1))
		if (d->claims[k].hash == h)
			return d->claims[k].input;
	return NULL;
}

/* Put a claim in a table known to have room and not to hold h. */
static void claim_put(claim *t, size_t cap, uint64_t h, const char *input)
{
	size_t k = h & (cap - 1);
	while (t[k].input)
		k = (k + 1) & (cap - 1);
	t[k] = (claim){h, input};
}

/* Record that input claims the output with hash h. When memory runs out the claim
 * is dropped: collision checks get weaker, no file fails for it. */
static void claim_add(discover *d, uint64_t h, const char *input)
{
	if ((d->nused + 1) * 2 > d->ncap) {
		size_t cap = d->ncap ? d->ncap * 2 : 1024;
		claim *t = calloc(cap, sizeof *t);
		if (!t)
			return;
		for (size_t i = 0; i < d->ncap; i++)
			if (d->claims[i].input)
				claim_put(t, cap, d->claims[i].hash, d->claims[i].input);
		free(d->claims);
		d->claims = t;
		d->ncap = cap;
	}
	claim_put(d->claims, d->ncap, h, input);
	d->nused++;
}

/* ------------------------------------------------------------------------- */
/* Items                                                                      */

/* Forget the previous item's strings and blank *it. */
static void item_reset(discover *d, discover_item *it)
{
	free(d->input);
	free(d->rel);
	free(d->error);
	d->input = d->rel = d->error = NULL;
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		free(d->outputs[i]);
		d->outputs[i] = NULL;
	}
	memset(it, 0, sizeof *it);
}

/* Make *it an ITEM_ERROR with a printf-made cause and no outputs. Returns 1: an item
 * is ready. */
static int item_error(discover *d, discover_item *it, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(d->error);
	if (vasprintf(&d->error, fmt, ap) < 0)
		d->error = NULL;
	va_end(ap);
	it->state = ITEM_ERROR;
	it->error = d->error ? d->error : WHY_NOMEM;
	it->noutputs = 0;
	return 1;
}

/* Fill the item's input and rel (copies). -1 when out of memory, and then *it still
 * names the path (fts's or the config's string, valid until the next call). */
static int item_names(discover *d, discover_item *it, const char *input, const char *rel)
{
	d->count++;
	d->input = strdup(input);
	d->rel = strdup(rel);
	it->input = d->input ? d->input : input;
	it->rel = d->rel ? d->rel : rel;
	return d->input && d->rel ? 0 : -1;
}

/* An ITEM_ERROR about a path met on the way (a missing PATH, an unreadable folder,
 * a broken link): cause is one line without the path. */
static int path_error(discover *d, discover_item *it, const char *path, const char *rel,
		      const char *cause)
{
	item_names(d, it, path, rel);
	return item_error(d, it, "%s", cause);
}

/* The cause for a symlink that stat() cannot follow. */
static const char *link_cause(int err)
{
	if (err == ELOOP)
		return "symlink loop";
	if (err == ENOENT)
		return "broken symlink (its target does not exist)";
	return strerror(err);
}

/* Expand the template for every size into d->outputs; errors go into *it. Returns 0,
 * or 1 when *it became an ITEM_ERROR. */
static int plan_outputs(discover *d, discover_item *it, const char *rel)
{
	const char *base = base_name(rel);
	size_t dirlen = base > rel ? (size_t)(base - rel - 1) : 0;
	const char *ext = extension(base);
	size_t stemlen = *ext ? (size_t)(ext - base - 1) : strlen(base);
	char *dir = strndup(rel, dirlen), *stem = strndup(base, stemlen);
	const char *out_ext = thumb_output_ext(d->settings.format, ext);
	int failed = 0;
	if (!dir || !stem)
		failed = item_error(d, it, "%s", WHY_NOMEM);
	for (int i = 0; i < d->settings.nsizes && !failed; i++) {
		const char *why;
		char *r = discover_expand(d->tmpl, dir, stem, ext, out_ext, d->settings.sizes[i],
					  &why);
		if (!r) {
			failed = item_error(d, it, "%s", why);
			break;
		}
		d->outputs[i] = join(d->out_dir, r);
		free(r);
		if (!d->outputs[i])
			failed = item_error(d, it, "%s", WHY_NOMEM);
		for (int j = 0; j < i && !failed; j++)
			if (!strcmp(d->outputs[i], d->outputs[j]))
				failed = item_error(d, it, "the name template gives two of its sizes "
						    "one output, %s", d->outputs[i]);
		it->outputs[i] = d->outputs[i];
	}
	free(dir);
	free(stem);
	if (!failed)
		it->noutputs = d->settings.nsizes;
	return failed;
}

/* Stat the planned outputs: an output that is the input itself, a folder, or
 * another input (a PATH inside the output tree) is an error; all present and not
 * older than the input makes the item up to date. */
static void check_outputs(discover *d, discover_item *it, const struct stat *in)
{
	size_t skip = strlen(d->out_dir) + (d->out_dir[strlen(d->out_dir) - 1] != '/');
	int fresh = 1;
	for (int i = 0; i < it->noutputs; i++) {
		struct stat os;
		if (stat(it->outputs[i], &os) < 0) {
			fresh = 0;
			continue;
		}
		if (os.st_dev == in->st_dev && os.st_ino == in->st_ino) {
			item_error(d, it, "its output %s is the input itself", it->outputs[i]);
			return;
		}
		if (S_ISDIR(os.st_mode)) {
			item_error(d, it, "its output %s is a folder", it->outputs[i]);
			return;
		}
		if (os.st_mtim.tv_sec < in->st_mtim.tv_sec ||
		    (os.st_mtim.tv_sec == in->st_mtim.tv_sec &&
		     os.st_mtim.tv_nsec < in->st_mtim.tv_nsec))
			fresh = 0;
	}
	for (int i = 0; i < it->noutputs; i++) {
		const char *hit = output_hits_input(d, it->outputs[i] + skip);
		if (hit) {
			item_error(d, it, "its output %s would overwrite or land inside the "
				   "input %s", it->outputs[i], hit);
			return;
		}
	}
	it->state = fresh && !d->cfg.force ? ITEM_UPTODATE : ITEM_TODO;
}

/* Claim every output of the item, all or none: an output another input claimed
 * first makes the item an ITEM_ERROR naming that input (and claims nothing, so a
 * third claimant is told about the first, not about a failed one). */
static void claim_outputs(discover *d, discover_item *it)
{
	uint64_t h[THUMB_MAX_SIZES];
	for (int i = 0; i < it->noutputs; i++) {
		h[i] = XXH3_64bits(it->outputs[i], strlen(it->outputs[i]));
		const char *first = claim_find(d, h[i]);
		if (first) {
			item_error(d, it, "output %s is also the output of %s", it->outputs[i],
				   first);
			return;
		}
	}
	const char *input = it->noutputs ? arena_strdup(d, it->input) : NULL;
	for (int i = 0; i < it->noutputs && input; i++)
		claim_add(d, h[i], input);
}

/* Plan one input file: output paths, checks, collisions, up to date. st describes
 * the file read (a symlink's target). Returns 1: an item is ready. */
static int plan(discover *d, discover_item *it, const char *input, const char *rel,
		const struct stat *st)
{
	if (item_names(d, it, input, rel) < 0)
		return item_error(d, it, "%s", WHY_NOMEM);
	it->size = (uint64_t)st->st_size;
	it->mtime = st->st_mtim;
	if (plan_outputs(d, it, rel))
		return 1;
	check_outputs(d, it, st);
	if (it->state != ITEM_ERROR)
		claim_outputs(d, it);
	return 1;
}

/* ------------------------------------------------------------------------- */
/* The walk                                                                   */

/* fts's order within a folder: files (anything not a folder) first, largest first,
 * then folders; names in byte order break ties. fts stats every entry before it
 * sorts (FTS_NOSTAT is off), so fts_statp is filled (zeroed when stat failed); a
 * symlink sorts by the size of the link itself (lstat), which is cheap and rarely
 * matters. */
static int compare(const FTSENT **a, const FTSENT **b)
{
	int da = (*a)->fts_info == FTS_D, db = (*b)->fts_info == FTS_D;
	if (da != db)
		return da - db;
	if (!da) {
		off_t sa = (*a)->fts_statp->st_size, sb = (*b)->fts_statp->st_size;
		if (sa != sb)
			return sa < sb ? 1 : -1;
	}
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Is this stat the output folder? It is looked up again until it exists: the
 * workers may make it while we walk. */
static int is_out_dir(discover *d, const struct stat *st)
{
	if (!d->out_known) {
		struct stat os;
		if (stat(d->out_dir, &os) == 0 && S_ISDIR(os.st_mode)) {
			d->out_known = 1;
			d->out_dev = os.st_dev;
			d->out_ino = os.st_ino;
		}
	}
	return d->out_known && st->st_dev == d->out_dev && st->st_ino == d->out_ino;
}

/* Start PATH argument i: a folder opens an fts walk; a file, or a PATH that cannot
 * be used, gives an item at once (an error item's rel is the PATH as given).
 * Returns 1 when *it was filled. */
static int start_path(discover *d, discover_item *it, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return path_error(d, it, path, path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		if (!wanted_by_globs(d, base_name(path)))
			return 0;
		return plan(d, it, path, base_name(path), &st);
	}
	if (!S_ISDIR(st.st_mode))
		return path_error(d, it, path, path, "not a regular file or folder");
	char *argv[] = {(char *)path, NULL};
	d->fts = fts_open(argv, FTS_PHYSICAL | FTS_NOCHDIR | FTS_COMFOLLOW, compare);
	if (!d->fts)
		return path_error(d, it, path, path, strerror(errno));
	d->root = path;
	d->root_len = strlen(path);
	return 0;
}

/* Act on one fts entry. Returns 1 when it gave an item. */
static int visit(discover *d, discover_item *it, FTSENT *e)
{
	const char *name = e->fts_name;
	const char *rel = e->fts_level > 0 ? e->fts_path + d->root_len : "";
	while (*rel == '/')
		rel++;
	switch (e->fts_info) {
	case FTS_D:
		if (e->fts_level == 0) {
			d->root_len = e->fts_pathlen;
			if (!is_out_dir(d, e->fts_statp))
				return 0;
			fts_set(d->fts, e, FTS_SKIP);
			return path_error(d, it, e->fts_path, d->root,
					  "this folder is the output folder, which is never "
					  "read as input");
		}
		if (name[0] == '.' || !d->cfg.recursive || is_out_dir(d, e->fts_statp))
			fts_set(d->fts, e, FTS_SKIP);
		return 0;
	case FTS_F:
		if (!wanted_in_walk(d, name, rel))
			return 0;
		return plan(d, it, e->fts_path, rel, e->fts_statp);
	case FTS_SL:
	case FTS_SLNONE: {
		if (!wanted_in_walk(d, name, rel))
			return 0;
		struct stat st;
		if (stat(e->fts_path, &st) < 0)
			return path_error(d, it, e->fts_path, rel, link_cause(errno));
		if (S_ISREG(st.st_mode))
			return plan(d, it, e->fts_path, rel, &st);
		if (S_ISDIR(st.st_mode))
			return 0; /* a link to a folder: not walked */
		return path_error(d, it, e->fts_path, rel,
				  "a symlink to something that is not a regular file");
	}
	case FTS_DEFAULT:
		/* FIFOs, sockets, devices: opening a FIFO would hang a worker. */
		if (!wanted_in_walk(d, name, rel))
			return 0;
		return path_error(d, it, e->fts_path, rel,
				  "not a regular file (a FIFO, socket or device)");
	case FTS_NS:
		/* stat failed (the file vanished?): report it only if it was an input */
		if (e->fts_level > 0 && !wanted_in_walk(d, name, rel))
			return 0;
		return path_error(d, it, e->fts_path, rel, strerror(e->fts_errno));
	case FTS_DNR:
	case FTS_ERR:
		return path_error(d, it, e->fts_path, rel, strerror(e->fts_errno));
	case FTS_DC:
		return path_error(d, it, e->fts_path, rel,
				  "folder cycle: it contains itself (a bind mount?)");
	default:
		return 0; /* FTS_DP: a folder's post-order visit */
	}
}

/* Next item from the current fts walk: 1 filled, 0 that walk is over. */
static int next_in_walk(discover *d, discover_item *it)
{
	for (;;) {
		errno = 0;
		FTSENT *e = fts_read(d->fts);
		if (!e) {
			int err = errno;
			fts_close(d->fts);
			d->fts = NULL;
			if (!err)
				return 0;
			item_names(d, it, d->root, d->root);
			return item_error(d, it, "the walk stopped: %s", strerror(err));
		}
		if (visit(d, it, e))
			return 1;
	}
}

/* See discover.h: walk on, PATH after PATH, until something gives an item. */
int discover_next(discover *d, discover_item *it)
{
	item_reset(d, it);
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

/* ------------------------------------------------------------------------- */
/* Open and close                                                             */

/* Give up opening: *err takes msg (malloc'd; NULL when even that failed), d is
 * freed. Returns NULL. */
static discover *open_fail(discover *d, char **err, char *msg)
{
	*err = msg;
	discover_close(d);
	return NULL;
}

/* The output folder: trimmed copy, must be a folder if it exists, its identity and
 * canonical path. Returns NULL or a malloc'd message. */
static char *setup_out_dir(discover *d, const char *out_dir)
{
	char *msg = NULL;
	if (!out_dir || !*out_dir)
		return strdup("no output folder given");
	d->out_dir = strdup(out_dir);
	if (!d->out_dir)
		return strdup(WHY_NOMEM);
	size_t n = strlen(d->out_dir);
	while (n > 1 && d->out_dir[n - 1] == '/')
		d->out_dir[--n] = '\0';
	struct stat st;
	if (stat(d->out_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			if (asprintf(&msg, "the output folder %s is not a folder", out_dir) < 0)
				msg = strdup(WHY_NOMEM);
			return msg;
		}
		d->out_known = 1;
		d->out_dev = st.st_dev;
		d->out_ino = st.st_ino;
	}
	d->out_canon = canonical(d->out_dir);
	if (find_inside_paths(d) < 0)
		return strdup(WHY_NOMEM);
	return NULL;
}

/* See discover.h. Only configuration errors fail here; see the top of this file. */
discover *discover_open(const discover_config *cfg, char **err)
{
	*err = NULL;
	if (!cfg || cfg->npaths < 1 || !cfg->paths)
		return open_fail(NULL, err, strdup("no PATH given"));
	if (!cfg->settings || cfg->settings->nsizes < 1 ||
	    cfg->settings->nsizes > THUMB_MAX_SIZES)
		return open_fail(NULL, err, strdup("no thumbnail size given"));
	discover *d = calloc(1, sizeof *d);
	if (!d)
		return open_fail(NULL, err, strdup(WHY_NOMEM));
	d->cfg = *cfg;
	d->settings = *cfg->settings;
	d->cfg.settings = &d->settings;
	const char *tmpl = cfg->name_template ? cfg->name_template
			 : cfg->settings->nsizes > 1 ? "{dir}/{stem}_{size}.{ext}"
						     : "{dir}/{stem}.{ext}";
	d->tmpl = strdup(tmpl);
	if (!d->tmpl)
		return open_fail(d, err, strdup(WHY_NOMEM));
	char *msg = check_template(d->tmpl, &d->settings);
	if (!msg)
		msg = setup_out_dir(d, cfg->out_dir);
	if (msg)
		return open_fail(d, err, msg);
	return d;
}

/* See discover.h: items handed out so far, all states. */
uint64_t discover_count(const discover *d)
{
	return d ? d->count : 0;
}

/* See discover.h; also fine in the middle of a walk. */
void discover_close(discover *d)
{
	if (!d)
		return;
	discover_item it;
	item_reset(d, &it);
	if (d->fts)
		fts_close(d->fts);
	free(d->claims);
	while (d->arena) {
		arena_block *next = d->arena->next;
		free(d->arena);
		d->arena = next;
	}
	for (int i = 0; i < d->ninside; i++)
		free(d->inside[i].canon);
	free(d->inside);
	free(d->out_canon);
	free(d->out_dir);
	free(d->tmpl);
	free(d);
}
