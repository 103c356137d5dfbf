/* SPDX-License-Identifier: MIT */
/*
 * template.c — the --name template. See template.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "outdir.h"
#include "template.h"

/* The template's placeholders, in the order the usage message lists them. */
enum { PH_DIR, PH_STEM, PH_EXT, PH_INEXT, PH_W, PH_H, PH_SIZE, PH_COUNT };
static const char *const placeholders[PH_COUNT] = {
	"dir", "stem", "ext", "inext", "w", "h", "size",
};

/* Causes template_expand() gives (static: the header promises it). */
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

/* The box as a name: a square "W" (a single number on the command line, or WxW:
 * one box), "WxH", "Wx" for a width alone (it was "W", the name of the square
 * box: -s 50,50x gave two outputs one name), "xH" for a height alone. */
void template_size_text(thumb_size box, char *buf, size_t len)
{
	if (box.w > 0 && box.h > 0 && box.w != box.h)
		snprintf(buf, len, "%dx%d", box.w, box.h);
	else if (box.w > 0 && box.h > 0)
		snprintf(buf, len, "%d", box.w);
	else if (box.w > 0)
		snprintf(buf, len, "%dx", box.w);
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
	default: template_size_text(v->box, num, len); return num;
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

/* See template.h. NULL strings count as empty. */
char *template_expand(const char *tmpl, const char *rel_dir, const char *stem,
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
char *template_check(const char *tmpl, const thumb_settings *s)
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
		/* Every file's output in imgpool's own folder: one usage error, not an
		 * error per file (publish_inspect() refuses each) */
		size_t np = strlen(OUTDIR_PRIVATE);
		if (!msg && !why && !strncasecmp(names[i], OUTDIR_PRIVATE, np) &&
		    (names[i][np] == '/' || !names[i][np]) &&
		    asprintf(&msg, "--name: '%s' gives paths inside imgpool's own folder "
			     OUTDIR_PRIVATE " of the output folder", tmpl) < 0)
			msg = NULL;
		thumb_format f;
		if (!msg && !why && thumb_output_format(s->format, names[i], &f) < 0 &&
		    asprintf(&msg, "--name: '%s' gives names without the extension of a format "
			     "imgpool writes (jpg, jpeg, jpe, jfif, png, webp, avif; like '%s'): "
			     "end it with .{ext} or a fixed one (.webp), or choose the format "
			     "with -f", tmpl, names[i]) < 0)
			msg = NULL;
		for (int j = 0; j < i && !msg && !why; j++) {
			char a[32], b[32];
			if (strcmp(names[i], names[j]))
				continue;
			template_size_text(s->sizes[j], a, sizeof a);
			template_size_text(s->sizes[i], b, sizeof b);
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

