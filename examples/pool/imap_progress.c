/* SPDX-License-Identifier: MIT */
/*
 * imap_progress.c — a long stream of tasks, results as they come, and a progress
 * line.
 *
 *   Python                                      C
 *   ------                                      -
 *   def words():                                int next_word(void *data, pool_task *t)
 *       for i in range(n): yield f"word{i}"         (a feed: called when the pool
 *                                                    has room for another task)
 *   for k, h in enumerate(                      it = pool_imap_unordered(p, hash_task,
 *           p.imap_unordered(h, words()), 1):            next_word, &feed, 1);
 *       print(f"\r{k}/{n}", end="")             while (pool_iter_next(it, &r) == 1) ...
 *
 * The feed is lazy, as a generator: the pool asks for a task only when it has room,
 * so memory stays flat however long the stream (ten million tasks cost what a few
 * thousand do). Results come in completion order; r.index says which task each one
 * answers (pool_imap gives them in feed order instead).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"

/* The task: a 64-bit FNV-1a hash of the bytes, stretched to take a little time. */
static int hash_task(const void *arg, size_t len, pool_buf *out, void *state)
{
	(void)state;
	uint64_t h = 1469598103934665603u;
	for (int round = 0; round < 2000; round++)
		for (size_t i = 0; i < len; i++)
			h = (h ^ ((const unsigned char *)arg)[i]) * 1099511628211u;
	return pool_buf_append(out, &h, sizeof h);
}

typedef struct feed {
	unsigned next, n;
	char word[32]; /* the bytes of the task just given: valid until the next call */
} feed;

static int next_word(void *data, pool_task *t)
{
	feed *f = data;
	if (f->next == f->n)
		return 0; /* the generator is exhausted */
	int len = snprintf(f->word, sizeof f->word, "word%u", f->next++);
	*t = (pool_task){f->word, (size_t)len}; /* the pool copies the bytes */
	return 1;
}

int main(void)
{
	char *err = NULL;
	pool *p = pool_create(NULL, &err);
	if (!p) {
		fprintf(stderr, "imap_progress: %s\n", err);
		free(err);
		return 1;
	}
	feed f = {0, 20000, ""};
	pool_iter *it = pool_imap_unordered(p, hash_task, next_word, &f, 1);
	int tty = isatty(STDOUT_FILENO);
	unsigned got = 0, step = f.n / 10;
	uint64_t xor_all = 0;
	unsigned char *seen = calloc(f.n, 1);
	pool_result r;
	int k;
	while ((k = pool_iter_next(it, &r)) == 1) {
		if (r.status == POOL_OK && r.len == 8 && r.index < f.n && !seen[r.index]) {
			uint64_t h;
			memcpy(&h, r.data, 8);
			xor_all ^= h;
			seen[r.index] = 1;
			got++;
		}
		pool_result_release(&r);
		/* A live line on a terminal, a line every 10 % otherwise. */
		if (tty)
			printf("\r%u/%u hashed", got, f.n), fflush(stdout);
		else if (got % step == 0)
			printf("%u/%u hashed\n", got, f.n);
	}
	if (tty)
		printf("\n");
	if (k < 0)
		fprintf(stderr, "imap_progress: %s\n", pool_error(p));
	pool_iter_free(it);
	free(seen);
	pool_close(p);
	int rc = pool_join(p);
	pool_destroy(p);
	printf("%u results, xor of all hashes %016llx\n", got, (unsigned long long)xor_all);
	return k < 0 || rc < 0 || got != f.n;
}
