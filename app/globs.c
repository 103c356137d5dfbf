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
#include <stdint.h>
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

/* The bytes of the one character (UTF-8, as fnmatch() reads a pattern in the
 * C.UTF-8 locale) that starts at s; 1 for a byte that starts none. */
static size_t char_len(const char *s)
{
	size_t n = 1;
	if ((unsigned char)*s >= 0xc0)
		while (((unsigned char)s[n] & 0xc0) == 0x80)
			n++;
	return n;
}

/* What a '[' inside a bracket starts, as glibc's fnmatch() reads it. */
typedef struct bracket_term {
	const char *past;    /* past the term; NULL: none, the '[' is a member */
	const char *problem; /* a term that makes the pattern match nothing */
} bracket_term;

/* "[:name:]" (a name of lower-case letters: else the '[' is a member; a name
 * fnmatch() does not know matches nothing), "[=c=]" (one character: else a
 * member) or "[.c.]" (one character; another count, or no ".]", matches
 * nothing) at q. */
static bracket_term term_at(const char *q)
{
	bracket_term t = {NULL, NULL};
	const char *r = q + 2;
	if (q[1] == ':') {
		while (*r >= 'a' && *r <= 'z')
			r++;
		if (r[0] == ':' && r[1] == ']') {
			t.past = r + 2;
			if (!known_class(q + 2, (size_t)(r - (q + 2))))
				t.problem = "no such character class (alnum, alpha, blank, cntrl, "
					    "digit, graph, lower, print, punct, space, upper or "
					    "xdigit)";
		}
	} else if (q[1] == '=') {
		if (*r && r[char_len(r)] == '=' && r[char_len(r) + 1] == ']')
			t.past = r + char_len(r) + 2;
	} else if (q[1] == '.') {
		const char *end = r;
		while (*end && !(end[0] == '.' && end[1] == ']'))
			end++;
		t.past = *end ? end + 2 : end;
		if (!*end)
			t.problem = "a '[.' no '.]' closes";
		else if (end == r || r + char_len(r) != end)
			t.problem = "a collating symbol ([.c.]) is one character";
	}
	return t;
}

/* The code point of the UTF-8 character at s (its first byte where it is not
 * UTF-8: glibc then reads the pattern byte by byte). */
static uint32_t code_point(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = char_len(s);
	if (n == 1 || n > 4)
		return u[0];
	uint32_t cp = u[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (u[i] & 0x3f);
	return cp;
}

/* Past one character of a bracket at q, escaped or not, or a "[.c.]"; *cp: the
 * character. */
static const char *past_one(const char *q, const char **problem, uint32_t *cp)
{
	if (q[0] == '[' && q[1] == '.') {
		bracket_term t = term_at(q);
		*problem = t.problem;
		*cp = code_point(q + 2);
		return t.past;
	}
	if (*q == '\\' && q[1])
		q++;
	*cp = code_point(q);
	return q + char_len(q);
}

/* Past the member that starts at q (a character, an escaped one, a "[.c.]", or
 * a '[' that starts no term), and the range it may begin ("a-z"). *problem as
 * term_at()'s; *empty: a range whose end comes before its start ("z-a"), which
 * matches no character (in C.UTF-8, code points are the order). */
static const char *past_member(const char *q, const char **problem, int *empty)
{
	uint32_t from, to;
	*empty = 0;
	q = past_one(q, problem, &from);
	if (*problem || q[0] != '-' || !q[1] || q[1] == ']')
		return q;
	q = past_one(q + 1, problem, &to);
	*empty = to < from;
	return q;
}

/* See globs.h. */
const char *globs_problem(const char *glob)
{
	if (!*glob)
		return "the pattern is empty";
	for (const char *p = glob; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return "a '\\' at its end escapes nothing (write \\\\ for the "
				       "character)";
			p++;
			continue;
		}
		if (*p != '[')
			continue;
		const char *q = p + 1;
		int negated = *q == '!' || *q == '^', members = 0, empty;
		q += negated;
		const char *problem = NULL;
		if (*q == ']') { /* a ']' first is a member */
			q = past_member(q, &problem, &empty);
			members += !empty;
		}
		while (!problem && *q && *q != ']') {
			bracket_term t = {NULL, NULL};
			if (q[0] == '[' && (q[1] == ':' || q[1] == '='))
				t = term_at(q); /* a class or an equivalence: no range */
			if (t.past) {
				problem = t.problem;
				q = t.past;
				members++;
			} else {
				q = past_member(q, &problem, &empty);
				members += !empty;
			}
		}
		if (problem)
			return problem;
		if (!*q)
			return "a '[' no ']' closes (write \\[ for the character)";
		if (!members && !negated)
			return "a range whose end comes before its start ([z-a]) matches nothing";
		p = q;
	}
	return NULL;
}
