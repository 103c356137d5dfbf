/* SPDX-License-Identifier: MIT */
/*
 * test_discover.c — the folder walk, its filters, output planning, collisions and
 * the up-to-date check (app/discover.c).
 *
 * Each test builds a small tree of fake files in a fresh temporary folder and works
 * in it (relative paths, as a user types them). discover never decodes a pixel, so
 * file contents do not matter, only names, sizes and times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "discover.h"
#include "template.h"

/* ------------------------------------------------------------------------- */
/* Fixture: a temporary folder to work in                                     */

/* The current test's temporary folder, and where the runner was before it. */
static char tmp_dir[4096];
static int old_cwd = -1;

/* Make and enter a fresh temporary folder. */
static int setup(void **state)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp_dir, sizeof tmp_dir, "%s/test_discover.XXXXXX", base);
	if (!mkdtemp(tmp_dir))
		return -1;
	old_cwd = open(".", O_RDONLY | O_DIRECTORY);
	return chdir(tmp_dir);
}

/* nftw callback: remove one entry (children first with FTW_DEPTH). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	chmod(path, 0700); /* the unreadable-folder test leaves one at 0 */
	remove(path);
	return 0;
}

/* Leave and remove the temporary folder. */
static int teardown(void **state)
{
	if (old_cwd >= 0) {
		if (fchdir(old_cwd) < 0)
			return -1;
		close(old_cwd);
		old_cwd = -1;
	}
	chmod(tmp_dir, 0700);
	nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* mkdir -p of the folder part of path (all of it when dir_too). */
static void make_parents(const char *path, int dir_too)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(buf, 0755);
			*s = '/';
		}
	if (dir_too)
		mkdir(buf, 0755);
}

/* A file of size bytes (its folders made as needed). */
static void mkfile(const char *path, size_t size)
{
	make_parents(path, 0);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	assert_int_equal(fclose(f), 0);
}

/* mkdir -p. */
static void mkdirs(const char *path)
{
	make_parents(path, 1);
}


/* ------------------------------------------------------------------------- */
/* Running a walk and keeping what it gave                                    */

/* One item, copied out of the walker. */
typedef struct got {
	discover_state state;
	char *input, *rel, *error;
	uint64_t size;
	struct timespec mtime;
	int noutputs;
	char *outputs[THUMB_MAX_SIZES];
	char *out_rel[THUMB_MAX_SIZES];
} got;

typedef struct walk {
	got *items;
	int n;
	uint64_t count;         /* discover_count() at the end */
} walk;

/* Settings with these boxes and format (nothing else matters for names). */
static thumb_settings sizes(int n, const thumb_size *boxes, thumb_format format)
{
	thumb_settings s;
	memset(&s, 0, sizeof s);
	for (int i = 0; i < n; i++)
		s.sizes[i] = boxes[i];
	s.nsizes = n;
	s.format = format;
	return s;
}

/* The default: one 256 px box. */
static const thumb_size BOX256[] = {{256, 256}};

/* A config of the usual shape: no globs, default template, no force. */
static discover_config config(const char *const *paths, int npaths, const char *out,
			      const thumb_settings *s, int recursive)
{
	discover_config c;
	memset(&c, 0, sizeof c);
	c.paths = paths;
	c.npaths = npaths;
	c.out_dir = out;
	c.settings = s;
	c.recursive = recursive;
	return c;
}

/* Copy an item into the walk's list (the walker owns its strings only until the
 * next call). */
static void keep(walk *w, const discover_item *it)
{
	w->items = realloc(w->items, (size_t)(w->n + 1) * sizeof *w->items);
	assert_non_null(w->items);
	got *g = &w->items[w->n++];
	memset(g, 0, sizeof *g);
	g->state = it->state;
	g->input = strdup(it->input);
	g->rel = strdup(it->rel);
	g->error = it->error ? strdup(it->error) : NULL;
	g->size = it->size;
	g->mtime = it->mtime;
	g->noutputs = it->noutputs;
	for (int i = 0; i < it->noutputs; i++) {
		g->outputs[i] = strdup(it->outputs[i]);
		g->out_rel[i] = strdup(it->out_rel[i]);
	}
}

/* Walk to the end; the config must open. */
static walk run_walk(const discover_config *cfg)
{
	walk w = {0};
	char *err = NULL;
	discover *d = discover_open(cfg, &err);
	if (!d)
		fail_msg("discover_open: %s", err ? err : "(no message)");
	discover_item it;
	while (discover_next(d, &it))
		keep(&w, &it);
	w.count = discover_count(d);
	discover_close(d);
	return w;
}

/* Free what run_walk()/keep() copied. */
static void walk_free(walk *w)
{
	for (int i = 0; i < w->n; i++) {
		free(w->items[i].input);
		free(w->items[i].rel);
		free(w->items[i].error);
		for (int j = 0; j < w->items[i].noutputs; j++)
			free(w->items[i].outputs[j]), free(w->items[i].out_rel[j]);
	}
	free(w->items);
	memset(w, 0, sizeof *w);
}

/* The item with this rel, or NULL. */
static const got *find(const walk *w, const char *rel)
{
	for (int i = 0; i < w->n; i++)
		if (!strcmp(w->items[i].rel, rel))
			return &w->items[i];
	return NULL;
}

/* The item with this rel; fails the test when absent. */
static const got *must_find(const walk *w, const char *rel)
{
	const got *g = find(w, rel);
	if (!g)
		fail_msg("no item with rel '%s' among %d", rel, w->n);
	return g;
}

/* The walk gave exactly these rels, in this order. */
static void assert_rels(const walk *w, const char *const *rels, int n)
{
	for (int i = 0; i < w->n && i < n; i++)
		if (strcmp(w->items[i].rel, rels[i]))
			fail_msg("item %d: rel '%s', want '%s'", i, w->items[i].rel, rels[i]);
	assert_int_equal(w->n, n);
	assert_int_equal(w->count, (uint64_t)n);
}

/* discover_open must fail with a message containing want. */
static void assert_open_fails(const discover_config *cfg, const char *want)
{
	char *err = NULL;
	discover *d = discover_open(cfg, &err);
	if (d) {
		discover_close(d);
		fail_msg("discover_open accepted a config that should fail with '%s'", want);
	}
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	free(err);
}

/* s must contain want. */
static void assert_contains(const char *s, const char *want)
{
	if (!s || !strstr(s, want))
		fail_msg("'%s' does not contain '%s'", s ? s : "(null)", want);
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */

/* Subfolders only with recursive; rel and input mirror the tree. */
static void test_recursive(void **state)
{
	mkfile("photos/a.jpg", 30);
	mkfile("photos/sub/b.jpg", 20);
	mkfile("photos/sub/deeper/c.png", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};

	discover_config c = config(paths, 1, "out", &s, 0);
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"a.jpg"}, 1);
	assert_string_equal(w.items[0].input, "photos/a.jpg");
	walk_free(&w);

	c.recursive = 1;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"a.jpg", "sub/b.jpg", "sub/deeper/c.png"}, 3);
	assert_string_equal(w.items[1].input, "photos/sub/b.jpg");
	assert_string_equal(w.items[2].input, "photos/sub/deeper/c.png");
	walk_free(&w);

	/* a root given with a trailing slash: no doubled slash in the input */
	const char *slashed[] = {"photos/"};
	c.paths = slashed;
	w = run_walk(&c);
	assert_string_equal(must_find(&w, "sub/b.jpg")->input, "photos/sub/b.jpg");
	assert_string_equal(must_find(&w, "sub/b.jpg")->outputs[0], "out/sub/b.jpg");
	walk_free(&w);
}

/* Hidden files and folders are skipped; a hidden file named as a PATH is not. */
static void test_hidden(void **state)
{
	mkfile("photos/.h.jpg", 10);
	mkfile("photos/.hid/x.jpg", 10);
	mkfile("photos/sub/.y.jpg", 10);
	mkfile("photos/sub/.deep/z.jpg", 10);
	mkfile("photos/ok.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"ok.jpg"}, 1);
	walk_free(&w);

	const char *explicit[] = {"photos/.h.jpg"};
	c.paths = explicit;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){".h.jpg"}, 1);
	assert_int_equal(w.items[0].state, ITEM_TODO);
	assert_string_equal(w.items[0].outputs[0], "out/.h.jpg");
	walk_free(&w);
}

/* Only image extensions, in any case; a file named as a PATH is taken whatever its
 * extension. */
static void test_extensions(void **state)
{
	const char *images[] = {"A.JPG", "b.Jpeg", "c.heic", "d.TIFF", "e.avif", "f.gif",
				"g.webp", "h.jpe", "i.heif", "j.png", "k.tif"};
	for (size_t i = 0; i < sizeof images / sizeof *images; i++) {
		char p[64];
		snprintf(p, sizeof p, "photos/%s", images[i]);
		mkfile(p, 10);
	}
	mkfile("photos/notes.txt", 10);
	mkfile("photos/raw.CR2", 10);
	mkfile("photos/noext", 10);
	mkfile("photos/x.jpg.bak", 10);
	mkfile("photos/jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 0);
	walk w = run_walk(&c);
	assert_int_equal(w.n, (int)(sizeof images / sizeof *images));
	for (size_t i = 0; i < sizeof images / sizeof *images; i++)
		must_find(&w, images[i]);
	walk_free(&w);

	const char *explicit[] = {"photos/notes.txt"};
	c.paths = explicit;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"notes.txt"}, 1);
	assert_int_equal(w.items[0].state, ITEM_TODO);
	assert_string_equal(w.items[0].input, "photos/notes.txt");
	assert_string_equal(w.items[0].outputs[0], "out/notes.jpg");
	walk_free(&w);
}

/* include/exclude, against the relative path and the base name. */
static void test_globs(void **state)
{
	mkfile("photos/a.jpg", 40);
	mkfile("photos/b.png", 30);
	mkfile("photos/sub/c.png", 20);
	mkfile("photos/sub/d.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);

	const char *inc[] = {"*.png"};
	c.includes = inc;
	c.nincludes = 1;
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"b.png", "sub/c.png"}, 2);
	walk_free(&w);

	const char *inc2[] = {"*.png", "d.jpg"}; /* one include of several is enough */
	c.includes = inc2;
	c.nincludes = 2;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"b.png", "sub/c.png", "sub/d.jpg"}, 3);
	walk_free(&w);

	const char *exc[] = {"c.png"}; /* a base name */
	c.excludes = exc;
	c.nexcludes = 1;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"b.png", "sub/d.jpg"}, 2);
	walk_free(&w);

	const char *exc2[] = {"sub/*"}; /* a relative path */
	c.includes = NULL;
	c.nincludes = 0;
	c.excludes = exc2;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"a.jpg", "b.png"}, 2);
	walk_free(&w);

	/* globs apply to a file named as a PATH too (by its base name) */
	const char *exc3[] = {"*.png"};
	const char *files[] = {"photos/b.png", "photos/a.jpg"};
	c.paths = files;
	c.npaths = 2;
	c.excludes = exc3;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"a.jpg"}, 1);
	walk_free(&w);
}

/* Case is ignored beyond ASCII (--exclude 'été*' kept ÉTÉ.png: the C locale's
 * FNM_CASEFOLD folds A-Z only), '?' is one character, and a name that is not
 * UTF-8 still matches byte by byte. */
static void test_globs_beyond_ascii(void **state)
{
	mkfile("photos/\xc3\x89T\xc3\x89.png", 40);      /* ÉTÉ.png */
	mkfile("photos/caf\xc3\xa9.jpg", 30);              /* café.jpg */
	mkfile("photos/caf\xe9.jpg", 20);                   /* Latin-1 café */
	mkfile("photos/x.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	const char *exc[] = {"\xc3\xa9t\xc3\xa9*"};          /* été* */
	c.excludes = exc;
	c.nexcludes = 1;
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"caf\xc3\xa9.jpg", "caf\xe9.jpg", "x.jpg"}, 3);
	walk_free(&w);
	const char *inc[] = {"CAF?.JPG"};
	c.excludes = NULL;
	c.nexcludes = 0;
	c.includes = inc;
	c.nincludes = 1;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"caf\xc3\xa9.jpg", "caf\xe9.jpg"}, 2);
	walk_free(&w);
}

/* Within a folder: files largest first, ties by name in byte order, then folders. */
static void test_order(void **state)
{
	mkfile("photos/small.jpg", 10);
	mkfile("photos/big.jpg", 1000);
	mkfile("photos/mid.jpg", 100);
	mkfile("photos/a.jpg", 50);
	mkfile("photos/B.jpg", 50);
	mkfile("photos/z.jpg", 50);
	mkfile("photos/\xff.jpg", 50);
	mkfile("photos/0dir/huge.jpg", 5000);
	mkfile("photos/0dir/tiny.jpg", 1);
	mkfile("photos/zz/y.jpg", 5);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"big.jpg", "mid.jpg", "B.jpg", "a.jpg", "z.jpg",
					 "\xff.jpg", "small.jpg", "0dir/huge.jpg",
					 "0dir/tiny.jpg", "zz/y.jpg"}, 10);
	assert_int_equal(w.items[0].size, 1000);
	assert_int_equal(w.items[7].size, 5000);
	walk_free(&w);
}

/* Output paths: default templates for one and several sizes, the layout mirrored,
 * extensions following the format. */
static void test_output_paths(void **state)
{
	mkfile("photos/a.jpg", 40);
	mkfile("photos/c.tif", 30);
	mkfile("photos/d.gif", 20);
	mkfile("photos/sub/b.PNG", 10);
	const char *paths[] = {"photos"};

	thumb_settings one = sizes(1, BOX256, FORMAT_SAME);
	discover_config c = config(paths, 1, "out/", &one, 1);
	walk w = run_walk(&c);
	assert_int_equal(w.n, 4);
	assert_int_equal(must_find(&w, "a.jpg")->noutputs, 1);
	assert_string_equal(must_find(&w, "a.jpg")->outputs[0], "out/a.jpg");
	assert_string_equal(must_find(&w, "c.tif")->outputs[0], "out/c.jpg");
	assert_string_equal(must_find(&w, "d.gif")->outputs[0], "out/d.png");
	assert_string_equal(must_find(&w, "sub/b.PNG")->outputs[0], "out/sub/b.png");
	walk_free(&w);

	thumb_size boxes[] = {{320, 320}, {0, 240}, {640, 480}, {800, 0}};
	thumb_settings four = sizes(4, boxes, FORMAT_WEBP);
	c.settings = &four;
	c.out_dir = "out";
	w = run_walk(&c);
	const got *g = must_find(&w, "sub/b.PNG");
	assert_int_equal(g->noutputs, 4);
	assert_string_equal(g->outputs[0], "out/sub/b_320.webp");
	assert_string_equal(g->outputs[1], "out/sub/b_x240.webp");
	assert_string_equal(g->outputs[2], "out/sub/b_640x480.webp");
	assert_string_equal(g->outputs[3], "out/sub/b_800x.webp"); /* a width alone */
	assert_string_equal(must_find(&w, "a.jpg")->outputs[0], "out/a_320.webp");
	walk_free(&w);

	/* a file PATH: dir is "" whatever folder it is in */
	const char *file[] = {"photos/sub/b.PNG"};
	c.paths = file;
	c.settings = &one;
	w = run_walk(&c);
	assert_rels(&w, (const char *[]){"b.PNG"}, 1);
	assert_string_equal(w.items[0].outputs[0], "out/b.png");
	walk_free(&w);

	/* a template of one's own: {w} {h} {inext}; "//" from an empty {h} collapses */
	thumb_settings wide = sizes(1, (thumb_size[]){{320, 0}}, FORMAT_SAME);
	c.paths = paths;
	c.settings = &wide;
	c.name_template = "{w}/{h}/{dir}/{stem}.{inext}.{ext}";
	w = run_walk(&c);
	assert_string_equal(must_find(&w, "c.tif")->outputs[0], "out/320/c.tif.jpg");
	assert_string_equal(must_find(&w, "sub/b.PNG")->outputs[0], "out/320/sub/b.PNG.png");
	walk_free(&w);

	/* template_expand itself */
	const char *why = NULL;
	char *r = template_expand("{dir}/{stem}.{ext}", "", "a", "JPG", "jpg",
				  (thumb_size){256, 256}, &why);
	assert_non_null(r);
	assert_string_equal(r, "a.jpg");
	free(r);
	r = template_expand("{dir}/{stem}_{size}_{w}_{h}.{ext}", "x/y", "a", "png", "webp",
			    (thumb_size){0, 240}, &why);
	assert_non_null(r);
	assert_string_equal(r, "x/y/a_x240__240.webp");
	free(r);
	/* a width alone is "Wx": "W" is the square box's name (-s 50,50x: one name) */
	r = template_expand("{stem}_{size}_{w}_{h}.{ext}", "", "a", "png", "png",
			    (thumb_size){50, 0}, &why);
	assert_non_null(r);
	assert_string_equal(r, "a_50x_50_.png");
	free(r);
	r = template_expand("{stem}_{size}.{ext}", "", "a", "png", "png", (thumb_size){50, 50}, &why);
	assert_non_null(r);
	assert_string_equal(r, "a_50.png");
	free(r);
	r = template_expand("{stem}_{size}.{ext}", "", "a", "png", "png", (thumb_size){50, 40}, &why);
	assert_non_null(r);
	assert_string_equal(r, "a_50x40.png");
	free(r);
}

/* The subfolders a walk without -r passed over, for the summary's "-r walks
 * them": not hidden ones, excluded ones, the output folder or an earlier one. */
static void test_not_walked(void **state)
{
	(void)state;
	mkdirs("photos/2023");
	mkdirs("photos/2024");
	mkdirs("photos/.cache");
	mkdirs("photos/skip");
	mkdirs("photos/thumbs");
	mkdirs("photos/old-thumbs/.imgpool");
	thumb_settings jpeg = sizes(1, BOX256, FORMAT_JPEG);
	const char *paths[] = {"photos"};
	const char *skip[] = {"skip"};
	discover_config c = config(paths, 1, "photos/thumbs", &jpeg, 0);
	c.excludes = skip;
	c.nexcludes = 1;
	char *err = NULL;
	discover *d = discover_open(&c, &err);
	assert_non_null(d);
	discover_item it;
	while (discover_next(d, &it))
		;
	assert_int_equal(discover_not_walked(d), 2);
	discover_close(d);
}

/* Two inputs, one output: the second is an error naming the first; the claim set
 * spans PATHs; a template that names two sizes alike is refused at open. */
static void test_collision(void **state)
{
	mkfile("photos/a.jpg", 10);
	mkfile("photos/a.webp", 10);
	mkfile("photos/a.png", 10);
	mkfile("other/a.jpg", 10);
	thumb_settings jpeg = sizes(1, BOX256, FORMAT_JPEG);
	const char *paths[] = {"photos", "other"};
	discover_config c = config(paths, 2, "out", &jpeg, 0);
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"a.jpg", "a.png", "a.webp", "a.jpg"}, 4);
	assert_int_equal(w.items[0].state, ITEM_TODO);
	assert_string_equal(w.items[0].outputs[0], "out/a.jpg");
	for (int i = 1; i < 4; i++) {
		assert_int_equal(w.items[i].state, ITEM_ERROR);
		assert_int_equal(w.items[i].noutputs, 0);
		assert_string_equal(w.items[i].error,
				    "output out/a.jpg is also the output of photos/a.jpg (a --name "
				    "with {inext} or {dir} keeps both)");
	}
	assert_string_equal(w.items[3].input, "other/a.jpg");
	walk_free(&w);

	/* with the same format the three photos do not collide */
	thumb_settings same = sizes(1, BOX256, FORMAT_SAME);
	c.settings = &same;
	c.npaths = 1;
	w = run_walk(&c);
	for (int i = 0; i < w.n; i++)
		assert_int_equal(w.items[i].state, ITEM_TODO);
	walk_free(&w);

	thumb_size two[] = {{320, 320}, {640, 640}};
	thumb_settings s2 = sizes(2, two, FORMAT_SAME);
	c.settings = &s2;
	c.name_template = "{dir}/{stem}.{ext}";
	assert_open_fails(&c, "gives sizes 320 and 640 the same name");
	/* "320" (a square) and "320x" (a width) were both named "320", and refused
	 * with advice to put {size} in the template, which was there */
	thumb_size alike[] = {{320, 320}, {320, 0}};
	thumb_settings s3 = sizes(2, alike, FORMAT_SAME);
	c.settings = &s3;
	c.name_template = NULL;
	char *err = NULL;
	discover *d = discover_open(&c, &err);
	if (!d)
		fail_msg("-s 320,320x refused: %s", err);
	discover_close(d);
}

/* The output folder inside the input tree is not walked, also when the workers
 * make it only while the walk is under way; a PATH that is the output folder is an
 * error and the walk goes on. */
static void test_output_inside_input(void **state)
{
	mkfile("photos/x.jpg", 10);
	mkfile("photos/thumbs/old.jpg", 10);
	mkfile("photos/thumbs/sub/older.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "photos/thumbs", &s, 1);
	walk w = run_walk(&c);
	assert_rels(&w, (const char *[]){"x.jpg"}, 1);
	assert_string_equal(w.items[0].outputs[0], "photos/thumbs/x.jpg");
	walk_free(&w);

	/* made during the walk, in a folder not read yet */
	mkfile("late/a.jpg", 100);
	mkfile("late/sub/b.jpg", 10);
	const char *late[] = {"late"};
	for (int control = 0; control < 2; control++) {
		c = config(late, 1, control ? "elsewhere" : "late/sub/out", &s, 1);
		char *err = NULL;
		discover *d = discover_open(&c, &err);
		assert_non_null(d);
		discover_item it;
		assert_int_equal(discover_next(d, &it), 1);
		assert_string_equal(it.rel, "a.jpg");
		mkfile("late/sub/out/t.jpg", 10); /* the workers' first thumbnail */
		walk rest = {0};
		while (discover_next(d, &it))
			keep(&rest, &it);
		discover_close(d);
		must_find(&rest, "sub/b.jpg");
		if (control)    /* the walk does see files made late: the test means something */
			must_find(&rest, "sub/out/t.jpg");
		else
			assert_null(find(&rest, "sub/out/t.jpg"));
		assert_int_equal(rest.n, control ? 2 : 1);
		walk_free(&rest);
		assert_int_equal(remove("late/sub/out/t.jpg"), 0);
		assert_int_equal(remove("late/sub/out"), 0);
	}

	/* a PATH that is the output folder (however spelt) */
	mkfile("more/m.jpg", 10);
	const char *same[] = {"photos/thumbs/", "more"};
	c = config(same, 2, "photos/thumbs", &s, 1);
	w = run_walk(&c);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	assert_string_equal(w.items[0].input, "photos/thumbs/");
	assert_contains(w.items[0].error, "output folder");
	assert_string_equal(w.items[1].rel, "m.jpg");
	assert_int_equal(w.items[1].state, ITEM_TODO);
	walk_free(&w);
}

/* No output may be an input: the file itself, a file PATH inside the output tree,
 * or anything under a folder PATH inside the output tree. */
static void test_output_is_input(void **state)
{
	mkfile("photos/a.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *self[] = {"photos/a.jpg"};
	discover_config c = config(self, 1, "photos", &s, 0);
	walk w = run_walk(&c);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	/* the cause never names the file itself (report-schema.md) */
	assert_contains(w.items[0].error, "would overwrite the input itself");
	assert_null(strstr(w.items[0].error, "photos/a.jpg would"));
	walk_free(&w);

	/* T/a.jpg is an input given as a PATH; photos/a.jpg would write over it */
	mkfile("T/a.jpg", 10);
	const char *two[] = {"photos", "T/a.jpg"};
	c = config(two, 2, "T", &s, 0);
	w = run_walk(&c);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	assert_string_equal(w.items[0].input, "photos/a.jpg");
	assert_contains(w.items[0].error, "would overwrite or land inside the input");
	assert_contains(w.items[0].error, "/T/a.jpg");
	assert_int_equal(w.items[1].state, ITEM_ERROR); /* and T/a.jpg onto itself */
	assert_contains(w.items[1].error, "would overwrite the input itself");
	walk_free(&w);

	/* a folder PATH inside the output folder: outputs must not land in it */
	mkfile("T/src/src/a.jpg", 10);
	mkfile("T/src/b.jpg", 20);
	const char *inside[] = {"T/src"};
	c = config(inside, 1, "T", &s, 1);
	w = run_walk(&c);
	assert_int_equal(w.n, 2);
	assert_int_equal(must_find(&w, "b.jpg")->state, ITEM_TODO);
	assert_string_equal(must_find(&w, "b.jpg")->outputs[0], "T/b.jpg");
	assert_string_equal(must_find(&w, "b.jpg")->out_rel[0], "b.jpg");
	assert_int_equal(must_find(&w, "src/a.jpg")->state, ITEM_ERROR);
	assert_contains(must_find(&w, "src/a.jpg")->error, "/T/src");
	walk_free(&w);
}

/* Template errors are caught at open, naming the cause; a per-file expansion that
 * would leave the output folder is an error for that file. */
static void test_template_errors(void **state)
{
	mkfile("photos/a.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 0);
	struct {
		const char *tmpl, *want;
	} bad[] = {
		{"{foo}.jpg", "--name: unknown placeholder {foo} (known: dir, stem, ext, "
			      "inext, w, h, size)"},
		{"{stem}.{}", "--name: unknown placeholder {} (known:"},
		{"{stem.{ext}", "'{' without its '}'"},
		{"{stem", "'{' without its '}'"},
		{"{stem}}.jpg", "'}' without its '{'"},
		{"/abs/{stem}.{ext}", "absolute path"},
		{"{dir}/../{stem}.{ext}", "'..' component"},
		{"..", "'..' component"},
		{"", "empty path"},
		{"{stem}/", "ending in '/'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		c.name_template = bad[i].tmpl;
		assert_open_fails(&c, bad[i].want);
	}
	char *err = NULL;
	c.name_template = "{foo}.jpg";
	assert_null(discover_open(&c, &err));
	assert_string_equal(err, "--name: unknown placeholder {foo} (known: dir, stem, ext, "
			    "inext, w, h, size)");
	free(err);

	c.name_template = "{dir}/./{stem}-{w}x{h}.{ext}"; /* "." components are dropped */
	walk w = run_walk(&c);
	assert_string_equal(w.items[0].outputs[0], "out/a-256x256.jpg");
	walk_free(&w);

	/* a stem ".." (the file "...jpg") may not climb out of the output folder */
	mkfile("odd/...jpg", 10);
	const char *odd[] = {"odd/...jpg", "photos"};
	c.paths = odd;
	c.npaths = 2;
	c.name_template = "{stem}/{size}.{ext}";
	w = run_walk(&c);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	assert_contains(w.items[0].error, "'..'");
	assert_int_equal(w.items[1].state, ITEM_TODO); /* the walk goes on */
	assert_string_equal(w.items[1].outputs[0], "out/a/256.jpg");
	walk_free(&w);

	const char *why = NULL;
	assert_null(template_expand("{stem}/x.{ext}", "", "..", "jpg", "jpg",
				    (thumb_size){1, 1}, &why));
	assert_contains(why, "'..'");
	assert_null(template_expand("{bogus}", "", "a", "jpg", "jpg", (thumb_size){1, 1}, &why));
	assert_contains(why, "unknown placeholder");
}

/* Names are bytes: spaces, newlines, quotes, invalid UTF-8, leading dashes and glob
 * characters come through intact. */
static void test_odd_names(void **state)
{
	const char *names[] = {"with space.jpg", "new\nline.jpg", "bad\xff\xfe.jpg",
			       "-dash.jpg", "quo\"te's.jpg", "tab\there.jpg", "star*?[.jpg",
			       "d\n \xc3(ir/inner name.jpg"};
	const char *stems[] = {"with space", "new\nline", "bad\xff\xfe", "-dash",
			       "quo\"te's", "tab\there", "star*?[", "d\n \xc3(ir/inner name"};
	size_t n = sizeof names / sizeof *names;
	for (size_t i = 0; i < n; i++) {
		char p[256];
		snprintf(p, sizeof p, "photos/%s", names[i]);
		mkfile(p, 10 + i);
	}
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	walk w = run_walk(&c);
	assert_int_equal(w.n, (int)n);
	for (size_t i = 0; i < n; i++) {
		const got *g = must_find(&w, names[i]);
		char want[256];
		assert_int_equal(g->state, ITEM_TODO);
		snprintf(want, sizeof want, "photos/%s", names[i]);
		assert_string_equal(g->input, want);
		snprintf(want, sizeof want, "out/%s.jpg", stems[i]);
		assert_string_equal(g->outputs[0], want);
		assert_int_equal(g->size, 10 + i);
	}
	walk_free(&w);

	/* as PATHs too, a leading dash included */
	assert_int_equal(chdir("photos"), 0);
	const char *files[] = {"-dash.jpg", "new\nline.jpg"};
	c.paths = files;
	c.npaths = 2;
	c.out_dir = "../out";
	w = run_walk(&c);
	assert_rels(&w, files, 2);
	assert_string_equal(w.items[1].outputs[0], "../out/new\nline.jpg");
	walk_free(&w);
	assert_int_equal(chdir(".."), 0);
}

/* A PATH that does not exist is an error item and the walk goes on; when all are
 * missing there are only error items. */
static void test_missing_path(void **state)
{
	mkfile("photos/a.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"nope", "photos", "gone/x.jpg"};
	discover_config c = config(paths, 3, "out", &s, 0);
	walk w = run_walk(&c);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.count, 3);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	assert_string_equal(w.items[0].input, "nope");
	assert_string_equal(w.items[0].error, strerror(ENOENT));
	assert_int_equal(w.items[1].state, ITEM_TODO);
	assert_string_equal(w.items[1].input, "photos/a.jpg");
	assert_int_equal(w.items[2].state, ITEM_ERROR);
	assert_string_equal(w.items[2].input, "gone/x.jpg");
	walk_free(&w);

	const char *none[] = {"nope1", "nope2"};
	c = config(none, 2, "out", &s, 0);
	w = run_walk(&c);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.items[0].state, ITEM_ERROR);
	assert_int_equal(w.items[1].state, ITEM_ERROR);
	walk_free(&w);
}

/* Configuration errors are the only reasons discover_open() fails. */
static void test_config_errors(void **state)
{
	mkfile("photos/a.jpg", 10);
	mkfile("afile", 1);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 0, "out", &s, 0);
	assert_open_fails(&c, "no PATH given");
	c = config(paths, 1, "afile", &s, 0);
	assert_open_fails(&c, "the output folder afile is not a folder");
	thumb_settings none = sizes(0, BOX256, FORMAT_SAME);
	c = config(paths, 1, "out", &none, 0);
	assert_open_fails(&c, "no thumbnail size");
	discover_close(NULL); /* harmless */
	assert_int_equal(discover_count(NULL), 0);

	/* closing in the middle of a walk frees everything (valgrind checks) */
	mkfile("photos/sub/b.jpg", 5);
	c = config(paths, 1, "out", &s, 1);
	char *err = NULL;
	discover *d = discover_open(&c, &err);
	assert_non_null(d);
	discover_item it;
	assert_int_equal(discover_next(d, &it), 1);
	assert_int_equal(discover_count(d), 1);
	discover_close(d);
}

/* Symlinks: a loop does not hang (and is an error), a link to a file is read, a
 * link to a folder is not walked, a dangling one is an error; a PATH that is a link
 * to a folder is walked. */
/* The walk of c, with folder moved to away and a symlink to target put in its
 * place once the first item is out (the folder holding it listed, the walk not in
 * it yet: files come before folders). */
static walk walk_swapping(const discover_config *c, const char *folder, const char *away,
			  const char *target)
{
	char *err = NULL;
	discover *d = discover_open(c, &err);
	assert_non_null(d);
	walk w = {0};
	discover_item it;
	assert_int_equal(discover_next(d, &it), 1);
	keep(&w, &it);
	assert_int_equal(rename(folder, away), 0);
	assert_int_equal(symlink(target, folder), 0);
	while (discover_next(d, &it))
		keep(&w, &it);
	discover_close(d);
	return w;
}

/* A folder swapped for a symlink after the walk listed the folder holding it, and
 * before it went in (fts opens a folder by its path): the walk followed the link,
 * out of the tree. It is an error item now, and nothing behind the link is met. */
static void test_folder_swapped_for_a_symlink_mid_walk(void **state)
{
	mkfile("photos/a.jpg", 50);
	mkfile("photos/sub/b.jpg", 10);
	mkfile("decoy/secret.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	walk w = walk_swapping(&c, "photos/sub", "sub-away", "../decoy");
	assert_null(find(&w, "sub/secret.jpg"));
	const got *g = find(&w, "sub");
	assert_non_null(g);
	assert_int_equal(g->state, ITEM_ERROR);
	assert_non_null(strstr(g->error, "replaced while the walk"));
	walk_free(&w);

	/* The same with a link to an output folder (which the walk passes over
	 * without a word when it is met as itself): still said. */
	mkfile("photos/sub2/c.jpg", 10);
	mkfile("thumbs/.imgpool/journal.sqlite", 10);
	w = walk_swapping(&c, "photos/sub2", "sub2-away", "../thumbs");
	g = find(&w, "sub2");
	assert_non_null(g);
	assert_int_equal(g->state, ITEM_ERROR);
	walk_free(&w);
}

/* A folder swapped for a symlink while its entries come out (here: after its
 * first file): the rest, met at a path that now leads elsewhere, are not planned,
 * and the folder is one error item. */
static void test_folder_swapped_while_its_files_come_out(void **state)
{
	mkfile("photos/sub/big.jpg", 50);
	mkfile("photos/sub/small.jpg", 10);
	mkfile("decoy/small.jpg", 10);
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	walk w = walk_swapping(&c, "photos/sub", "sub-away", "../decoy");
	const got *g = find(&w, "sub/big.jpg");
	assert_non_null(g);
	assert_int_equal(g->state, ITEM_TODO);
	assert_null(find(&w, "sub/small.jpg"));
	g = find(&w, "sub");
	assert_non_null(g);
	assert_int_equal(g->state, ITEM_ERROR);
	assert_non_null(strstr(g->error, "replaced"));
	walk_free(&w);
}

static void test_symlinks(void **state)
{
	mkfile("photos/real.jpg", 10);
	mkfile("photos/sub/x.jpg", 10);
	mkfile("outside/o.jpg", 77);
	assert_int_equal(symlink("b.jpg", "photos/a.jpg"), 0);
	assert_int_equal(symlink("a.jpg", "photos/b.jpg"), 0);
	assert_int_equal(symlink("d2", "photos/d1"), 0);
	assert_int_equal(symlink("d1", "photos/d2"), 0);
	assert_int_equal(symlink("real.jpg", "photos/link.jpg"), 0);
	assert_int_equal(symlink("sub", "photos/dirlink"), 0);
	assert_int_equal(symlink("sub", "photos/album.jpg"), 0); /* a folder, image name */
	assert_int_equal(symlink("..", "photos/sub/up"), 0);
	assert_int_equal(symlink("nowhere.jpg", "photos/dangling.jpg"), 0);
	char abs[4200];
	snprintf(abs, sizeof abs, "%s/outside/o.jpg", tmp_dir);
	assert_int_equal(symlink(abs, "photos/out.jpg"), 0);
	assert_int_equal(symlink("photos", "plink"), 0);

	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	alarm(30); /* a hang fails the test instead of stalling CI */
	walk w = run_walk(&c);
	alarm(0);
	assert_int_equal(w.n, 7);
	assert_int_equal(must_find(&w, "a.jpg")->state, ITEM_ERROR);
	assert_string_equal(must_find(&w, "a.jpg")->error, "symlink loop");
	assert_string_equal(must_find(&w, "b.jpg")->error, "symlink loop");
	assert_int_equal(must_find(&w, "dangling.jpg")->state, ITEM_ERROR);
	assert_contains(must_find(&w, "dangling.jpg")->error, "broken symlink");
	assert_int_equal(must_find(&w, "link.jpg")->state, ITEM_TODO);
	assert_int_equal(must_find(&w, "link.jpg")->size, 10);   /* the target's */
	assert_string_equal(must_find(&w, "link.jpg")->input, "photos/link.jpg");
	assert_int_equal(must_find(&w, "out.jpg")->state, ITEM_TODO);
	assert_int_equal(must_find(&w, "out.jpg")->size, 77);
	assert_string_equal(must_find(&w, "out.jpg")->outputs[0], "out/out.jpg");
	must_find(&w, "real.jpg");
	must_find(&w, "sub/x.jpg");
	assert_null(find(&w, "dirlink/x.jpg"));
	assert_null(find(&w, "album.jpg"));
	assert_null(find(&w, "album.jpg/x.jpg"));
	walk_free(&w);

	const char *via[] = {"plink"};
	c.paths = via;
	w = run_walk(&c);
	assert_int_equal(w.n, 7);
	assert_string_equal(must_find(&w, "sub/x.jpg")->input, "plink/sub/x.jpg");
	walk_free(&w);
}

/* A folder that cannot be read is an error item and the walk goes on. root reads
 * everything, so when run as root the walk runs in a child as nobody. The child
 * answers by exit status: 0 good, 77 cannot test here, else the failed check. */
static void test_unreadable_folder(void **state)
{
	mkfile("photos/ok.jpg", 10);
	mkfile("photos/locked/x.jpg", 10);
	mkfile("photos/zz/after.jpg", 10);
	assert_int_equal(chmod("photos/locked", 0), 0);
	assert_int_equal(chmod(tmp_dir, 0755), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(77);
		if (access("photos", R_OK | X_OK) < 0 || access("photos/locked", R_OK) == 0)
			_exit(77);
		thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
		const char *paths[] = {"photos"};
		discover_config c = config(paths, 1, "out", &s, 1);
		char *err = NULL;
		discover *d = discover_open(&c, &err);
		if (!d)
			_exit(1);
		discover_item it;
		int ok = 0, after = 0, locked = 0, n = 0;
		while (discover_next(d, &it)) {
			n++;
			if (!strcmp(it.rel, "ok.jpg") && it.state == ITEM_TODO)
				ok = 1;
			if (!strcmp(it.rel, "zz/after.jpg") && it.state == ITEM_TODO)
				after = 1;
			if (!strcmp(it.rel, "locked") && it.state == ITEM_ERROR &&
			    strstr(it.error, "cannot list this folder") &&
			    strstr(it.error, strerror(EACCES)))
				locked = 1;
		}
		discover_close(d);
		_exit(!ok ? 2 : !locked ? 3 : !after ? 4 : n != 3 ? 5 : 0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Memory in use now (small blocks and mmapped ones). */
static size_t heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
}

/* The walk streams: the first item comes back before the tree is read (a file
 * added afterwards to a folder not yet visited is still found), and memory grows
 * only by the collision set, not by the tree. */
static void test_streaming(void **state)
{
	enum { TOP = 20, MID = 10, FILES = 100 };
	char p[64];
	for (int i = 0; i < TOP; i++)
		for (int j = 0; j < MID; j++) {
			snprintf(p, sizeof p, "photos/d%02d/e%d", i, j);
			mkdirs(p);
			for (int k = 0; k < FILES; k++) {
				snprintf(p, sizeof p, "photos/d%02d/e%d/f%03d.jpg", i, j, k);
				int fd = open(p, O_WRONLY | O_CREAT, 0644);
				assert_true(fd >= 0);
				close(fd);
			}
		}
	thumb_settings s = sizes(1, BOX256, FORMAT_SAME);
	const char *paths[] = {"photos"};
	discover_config c = config(paths, 1, "out", &s, 1);
	char *err = NULL;
	discover *d = discover_open(&c, &err);
	assert_non_null(d);
	discover_item it;
	assert_int_equal(discover_next(d, &it), 1);
	assert_string_equal(it.rel, "d00/e0/f000.jpg");
	assert_int_equal(discover_count(d), 1);
	mkfile("photos/d19/e9/late.jpg", 0); /* the last folder: not read yet */

	uint64_t n = 1;
	size_t at1000 = 0;
	int late = 0;
	while (discover_next(d, &it)) {
		n++;
		if (n == 1000)
			at1000 = heap_in_use();
		late += !strcmp(it.rel, "d19/e9/late.jpg");
		assert_int_equal(it.state, ITEM_TODO);
	}
	size_t at_end = heap_in_use();
	assert_int_equal(n, TOP * MID * FILES + 1);
	assert_int_equal(discover_count(d), n);
	assert_int_equal(late, 1);
	discover_close(d);
	/* 19 001 more items: the collision set (a 1 MiB table, ~0.5 MiB of paths) */
	if (at_end > at1000 && at_end - at1000 > 3u << 20)
		fail_msg("memory grew by %zu bytes over 19 001 items", at_end - at1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recursive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extensions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_globs_beyond_ascii, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_walked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_inside_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_is_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_swapped_for_a_symlink_mid_walk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_folder_swapped_while_its_files_come_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
