/* SPDX-License-Identifier: MIT */
/*
 * bench_files.c — the files a benchmark runs: the input each task names, and the
 * failures each file met over the runs (the first cause is the one reported).
 */
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "task.h"

/* The input path inside a file's task bytes ("?" if they do not decode). */
const char *bench_file_input(const bench_file *f)
{
	task_desc t;
	return task_decode(f->task, f->len, &t) == 0 ? t.input : "?";
}

/* The last component of a path, for timeline bars. */
const char *bench_base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Copy a cause as one line: messages from libvips may hold newlines. */
char *bench_one_line(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i < len; i++)
		c[i] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	while (len && c[len - 1] == ' ')
		len--;
	c[len] = '\0';
	return c;
}

/* Record that file i failed in one run; the first cause is the one reported. */
void bench_note_failure(bench *b, size_t i, failure_kind kind, const char *cause, size_t len)
{
	if (i >= b->nfiles)
		return;
	b->files[i].fails++;
	if (!b->files[i].cause) {
		b->files[i].cause = bench_one_line(cause, len);
		b->files[i].kind = kind;
	}
}
