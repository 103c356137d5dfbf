/* SPDX-License-Identifier: MIT */
/*
 * fuzz_util.h — the few helpers the libFuzzer harnesses share.
 *
 * Every harness copies its input into buffers of exactly the size it needs, so
 * AddressSanitizer sees a read one byte past the end (libFuzzer's own buffer can
 * have slack). Header-only: each harness is one translation unit plus this.
 */
#ifndef IMGPOOL_FUZZ_UTIL_H
#define IMGPOOL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stop the run with a message libFuzzer keeps next to the crash input: a broken
 * invariant is a finding just like a memory error. */
#define FUZZ_CHECK(cond, ...)                                                     \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "fuzz: invariant broken: %s: ", #cond);   \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			abort();                                                  \
		}                                                                 \
	} while (0)

/* A malloc'd copy of data[0, n) with no slack (n == 0 still gives a valid
 * pointer). */
static inline char *fuzz_dup(const uint8_t *data, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (p && n)
		memcpy(p, data, n);
	return p;
}

/* A malloc'd NUL-terminated copy of data[0, n) (an inner NUL ends the string
 * early, as it would for a C caller). */
static inline char *fuzz_strdup(const uint8_t *data, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, data, n);
		p[n] = '\0';
	}
	return p;
}

/*
 * Split data on NUL bytes into at most max malloc'd strings (each exactly its
 * own size + 1), stored in out. Returns how many; free them with fuzz_free_all.
 * A trailing piece without a NUL is a string too, so every byte is used.
 */
static inline int fuzz_split(const uint8_t *data, size_t n, char **out, int max)
{
	int k = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n && k < max; i++) {
		if (i == n && start == n && k > 0)
			break;
		if (i == n || data[i] == '\0') {
			out[k++] = fuzz_strdup(data + start, i - start);
			start = i + 1;
		}
	}
	return k;
}

static inline void fuzz_free_all(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

#endif
