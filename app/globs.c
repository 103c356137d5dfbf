/* SPDX-License-Identifier: MIT */
/*
 * globs.c — the --include / --exclude rule. See globs.h.
 *
 * fnmatch() does the matching (libc's, with FNM_CASEFOLD: a GNU extension glibc
 * has); no FNM_PATHNAME, so '*' crosses '/'. It matches in the C.UTF-8 locale,
 * set for the calling thread only (uselocale(): the walk and the counting walk
 * are threads, and nothing else of the process changes): in the C locale
 * FNM_CASEFOLD folds ASCII letters alone (--exclude 'été*' kept ÉTÉ.png) and '?'
 * is one byte (half an é). glibc matches a name that is not UTF-8 byte by byte.
 */
#include <fnmatch.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>

#include "globs.h"

#define GLOB_FLAGS FNM_CASEFOLD

static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_open(void)
{
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); /* 0: the C locale's rule */
}

static int matches(const char *const *globs, int n, const char *rel)
{
	for (int i = 0; i < n; i++) {
		if (!fnmatch(globs[i], rel, GLOB_FLAGS))
			return 1;
		for (const char *part = rel; *part;) {
			size_t len = strcspn(part, "/");
			char name[NAME_MAX + 1];
			if (len > 0 && len <= NAME_MAX) {
				memcpy(name, part, len);
				name[len] = '\0';
				if (!fnmatch(globs[i], name, GLOB_FLAGS))
					return 1;
			}
			part += len + (part[len] == '/');
		}
	}
	return 0;
}

int globs_match(const char *const *globs, int n, const char *rel)
{
	if (n == 0)
		return 0;
	pthread_once(&utf8_once, utf8_open);
	locale_t was = utf8 ? uselocale(utf8) : (locale_t)0;
	int yes = matches(globs, n, rel);
	if (utf8)
		uselocale(was);
	return yes;
}

/* The classes POSIX names, the ones fnmatch() knows in every locale: another
 * name between "[:" and ":]" matches no character at all. */
static int known_class(const char *name, size_t len)
{
	static const char *const classes[] = { "alnum", "alpha", "blank", "cntrl",
		"digit", "graph", "lower", "print", "punct", "space", "upper", "xdigit" };
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strlen(classes[i]) == len && !memcmp(classes[i], name, len))
			return 1;
	return 0;
}

/* Past a "[:name:]", "[.c.]" or "[=c=]" that starts at q (q[0] is '['), as
 * fnmatch() reads one: its own ']' does not close the bracket. NULL when q
 * starts none of them (the '[' is then a member); *bad_class is set for a
 * "[:name:]" of a class fnmatch() does not know. */
static const char *past_bracket_term(const char *q, int *bad_class)
{
	char kind = q[1];
	if (kind != ':' && kind != '.' && kind != '=')
		return NULL;
	const char *r = q + 2;
	if (kind == ':') {
		/* glibc's fnmatch: a name of lower-case letters, else the '[' is a member */
		while (*r >= 'a' && *r <= 'z')
			r++;
		if (r[0] != ':' || r[1] != ']')
			return NULL;
		*bad_class = !known_class(q + 2, (size_t)(r - (q + 2)));
		return r + 2;
	}
	const char *end = r;
	while (*end && !(end[0] == kind && end[1] == ']'))
		end++;
	return *end ? end + 2 : NULL;
}

/* See globs.h. */
const char *globs_problem(const char *glob)
{
	if (!*glob)
		return "the pattern is empty";
	for (const char *p = glob; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != '[')
			continue;
		const char *q = p + 1;
		if (*q == '!' || *q == '^')
			q++;
		if (*q == ']')
			q++; /* a ']' first is a member */
		while (*q && *q != ']') {
			int bad_class = 0;
			const char *past = *q == '[' ? past_bracket_term(q, &bad_class) : NULL;
			if (bad_class)
				return "no such character class (alnum, alpha, blank, cntrl, digit, "
				       "graph, lower, print, punct, space, upper or xdigit)";
			if (past)
				q = past;
			else
				q += (*q == '\\' && q[1]) ? 2 : 1;
		}
		if (!*q)
			return "a '[' no ']' closes (write \\[ for the character)";
		p = q;
	}
	return NULL;
}
