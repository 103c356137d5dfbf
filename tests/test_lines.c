/* SPDX-License-Identifier: MIT */
/*
 * test_lines.c — entries of a --files-from list (app/lines.c): split at '\n' or
 * '\0', the last one without a separator, empty ones kept (the caller skips them);
 * an entry longer than LINES_MAX cut there and the rest of it dropped, whatever
 * the read sizes; a pipe read without waiting answers LINES_LATER until a whole
 * entry is in (a partial one is never handed out), and the end once the writer
 * closes; a read error is LINES_ERROR.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lines.h"

/* A pipe holding bytes (the writer closed unless keep_open: then *writer). */
static int pipe_with(const void *bytes, size_t n, int keep_open, int *writer)
{
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) >= (int)n, 1);
	assert_int_equal(write(fds[1], bytes, n), (ssize_t)n);
	if (keep_open)
		*writer = fds[1];
	else
		close(fds[1]);
	return fds[0];
}

/* The next entry must be text (not cut). */
static void expect(lines *l, int nowait, const char *text)
{
	lines_entry e;
	assert_int_equal(lines_next(l, nowait, &e), LINES_ENTRY);
	assert_string_equal(e.text, text);
	assert_int_equal(e.len, strlen(text));
	assert_int_equal(e.too_long, 0);
}

static void test_separators_and_the_last_entry(void **state)
{
	(void)state;
	static const char nl[] = "a.jpg\n\nb c.png\nlast";
	int fd = pipe_with(nl, sizeof nl - 1, 0, NULL);
	lines *l = lines_new(fd, '\n');
	expect(l, 0, "a.jpg");
	expect(l, 0, "");
	expect(l, 0, "b c.png");
	expect(l, 0, "last");
	lines_entry e;
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	lines_free(l);
	close(fd);

	static const char nul[] = "new\nline.jpg\0x.jpg\0";
	fd = pipe_with(nul, sizeof nul - 1, 0, NULL);
	l = lines_new(fd, '\0');
	expect(l, 0, "new\nline.jpg");
	expect(l, 0, "x.jpg");
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	lines_free(l);
	close(fd);
}

/* Entries of LINES_MAX - 1, LINES_MAX and LINES_MAX + 1 bytes and one of 3 MB, then
 * a short one: the first two whole, the others cut at LINES_MAX, the short one
 * intact after them. Read from a file, so every read is as large as asked. */
static void test_too_long_entries(void **state)
{
	(void)state;
	char path[] = "/tmp/test_lines.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	size_t sizes[] = {LINES_MAX - 1, LINES_MAX, LINES_MAX + 1, 3u << 20};
	size_t n = sizeof sizes / sizeof *sizes;
	char *big = malloc((3u << 20) + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++) {
		memset(big, (int)('a' + i), sizes[i]);
		big[sizes[i]] = '\n';
		assert_int_equal(write(fd, big, sizes[i] + 1), (ssize_t)sizes[i] + 1);
	}
	assert_int_equal(write(fd, "tail\n", 5), 5);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	lines *l = lines_new(fd, '\n');
	for (size_t i = 0; i < n; i++) {
		lines_entry e;
		assert_int_equal(lines_next(l, 0, &e), LINES_ENTRY);
		size_t want = sizes[i] > LINES_MAX ? LINES_MAX : sizes[i];
		assert_int_equal(e.len, want);
		assert_int_equal(strlen(e.text), want);
		assert_int_equal(e.too_long, sizes[i] > LINES_MAX);
		for (size_t k = 0; k < want; k++)
			if (e.text[k] != (char)('a' + i))
				fail_msg("entry %zu: byte %zu is %d", i, k, e.text[k]);
	}
	expect(l, 0, "tail");
	lines_entry e;
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	lines_free(l);
	close(fd);
	free(big);
}

/* Around the cut, from a pipe: LINES_MAX bytes and the separator are whole (they
 * fill the buffer exactly); LINES_MAX + 1 bytes are cut with the separator right
 * after the cut dropped; so is the last entry, without a separator, of LINES_MAX. */
static void test_cut_at_the_edges(void **state)
{
	(void)state;
	size_t len = 3 * (LINES_MAX + 2) + 8;
	char *b = malloc(len), *p = b;
	assert_non_null(b);
	memset(p, 'q', LINES_MAX);
	p[LINES_MAX] = '\n';
	p += LINES_MAX + 1;
	memset(p, 'r', LINES_MAX + 1);
	p[LINES_MAX + 1] = '\n';
	p += LINES_MAX + 2;
	memcpy(p, "z\n", 2);
	p += 2;
	memset(p, 's', LINES_MAX);
	p += LINES_MAX;
	int fd = pipe_with(b, (size_t)(p - b), 0, NULL);
	lines *l = lines_new(fd, '\n');
	lines_entry e;
	char want[] = "qrs";
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lines_next(l, 0, &e), LINES_ENTRY);
		assert_int_equal(e.len, LINES_MAX);
		assert_int_equal(e.too_long, i == 1);
		assert_true(e.text[0] == want[i] && e.text[LINES_MAX - 1] == want[i]);
		if (i == 1)
			expect(l, 0, "z");
	}
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	lines_free(l);
	close(fd);
	free(b);
}

/* Read without waiting from a pipe the writer fills bit by bit. */
static void test_nowait(void **state)
{
	(void)state;
	int w;
	int fd = pipe_with("one\ntw", 6, 1, &w);
	lines *l = lines_new(fd, '\n');
	lines_entry e;
	expect(l, 1, "one");
	assert_int_equal(lines_next(l, 1, &e), LINES_LATER); /* "tw" is no entry yet */
	assert_int_equal(lines_next(l, 1, &e), LINES_LATER);
	assert_int_equal(write(w, "o\nthr", 5), 5);
	expect(l, 1, "two");
	assert_int_equal(lines_next(l, 1, &e), LINES_LATER);
	assert_int_equal(write(w, "ee", 2), 2);
	assert_int_equal(lines_next(l, 1, &e), LINES_LATER);
	close(w);                                            /* the end: "three" is whole */
	expect(l, 1, "three");
	assert_int_equal(lines_next(l, 1, &e), LINES_END);
	lines_free(l);
	close(fd);

	/* O_NONBLOCK set by someone else: waiting still waits, not waiting does not */
	fd = pipe_with("", 0, 1, &w);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	l = lines_new(fd, '\n');
	assert_int_equal(lines_next(l, 1, &e), LINES_LATER);
	assert_int_equal(write(w, "x\n", 2), 2);
	close(w);
	expect(l, 0, "x");
	assert_int_equal(lines_next(l, 0, &e), LINES_END);
	lines_free(l);
	close(fd);
}

/* An entry without end (/dev/zero): without waiting, its rest is skipped one
 * read per call (LINES_LATER between, though more is readable), so that the
 * caller's loop comes round; /dev/zero itself is never done. */
static void test_nowait_skips_one_read_at_a_time(void **state)
{
	(void)state;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	lines *l = lines_new(fd, '\n');
	lines_entry e;
	assert_int_equal(lines_next(l, 1, &e), LINES_ENTRY);
	assert_int_equal(e.too_long, 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(lines_next(l, 1, &e), LINES_LATER);
	lines_free(l);
	close(fd);

	/* an entry whose end comes after a few reads: then the next one */
	size_t n = 5 * (size_t)LINES_MAX;
	char *b = malloc(n + 8);
	assert_non_null(b);
	memset(b, 'x', n);
	memcpy(b + n, "\nnext\n", 6);
	fd = pipe_with(b, n + 6, 0, NULL);
	l = lines_new(fd, '\n');
	assert_int_equal(lines_next(l, 1, &e), LINES_ENTRY);
	assert_int_equal(e.too_long, 1);
	int later = 0;
	lines_status got;
	while ((got = lines_next(l, 1, &e)) == LINES_LATER)
		assert_true(++later < 100);
	assert_true(later > 0);
	assert_int_equal(got, LINES_ENTRY);
	assert_string_equal(e.text, "next");
	assert_int_equal(lines_next(l, 1, &e), LINES_END);
	lines_free(l);
	close(fd);
	free(b);
}

static void test_read_error(void **state)
{
	(void)state;
	int fd = open("/", O_RDONLY | O_DIRECTORY); /* read() of a folder: EISDIR */
	assert_true(fd >= 0);
	lines *l = lines_new(fd, '\n');
	lines_entry e;
	errno = 0;
	assert_int_equal(lines_next(l, 0, &e), LINES_ERROR);
	assert_int_equal(errno, EISDIR);
	lines_free(l);
	close(fd);
	lines_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_separators_and_the_last_entry),
		cmocka_unit_test(test_too_long_entries),
		cmocka_unit_test(test_cut_at_the_edges),
		cmocka_unit_test(test_nowait),
		cmocka_unit_test(test_nowait_skips_one_read_at_a_time),
		cmocka_unit_test(test_read_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
