/* SPDX-License-Identifier: MIT */
/*
 * test_lookahead.c — the look-ahead window (app/lookahead.c): files come out
 * largest cost first (here the cost is the size), equal sizes in the order put, whatever order they went in;
 * copies outlive the plan item they came from; capacity holds; files left in
 * the window are freed (the ASan and valgrind runs see a leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookahead.h"

/* Put a file named name of size bytes with one output, from buffers that are
 * overwritten right after, as plan_next() overwrites its item. */
static void put(lookahead *w, const char *name, uint64_t size, thumb_format fmt)
{
	char input[64], rel[64], out[64], out_rel[64];
	discover_item it = {.state = ITEM_TODO, .input = input, .rel = rel, .root = "src",
			    .size = size, .noutputs = 1};
	plan_item item = {.it = &it, .root = "/abs/src", .formats = {fmt}};

	snprintf(input, sizeof input, "src/%s", name);
	snprintf(rel, sizeof rel, "%s", name);
	snprintf(out, sizeof out, "out/%s", name);
	snprintf(out_rel, sizeof out_rel, "%s", name);
	it.outputs[0] = out;
	it.out_rel[0] = out_rel;
	assert_int_equal(lookahead_put(w, &item, size), 0);
	memset(input, 'x', sizeof input - 1);
	memset(out, 'x', sizeof out - 1);
}

/* Take one file and check it is name (with its sizes, paths and format). */
static void takes(lookahead *w, const char *name, uint64_t size, thumb_format fmt)
{
	lookahead_file lf;
	char want[64];

	assert_int_equal(lookahead_take(w, &lf), 1);
	assert_string_equal(lf.f->rel, name);
	snprintf(want, sizeof want, "src/%s", name);
	assert_string_equal(lf.f->input, want);
	snprintf(want, sizeof want, "out/%s", name);
	assert_string_equal(lf.f->display[0], want);
	assert_string_equal(lf.f->root, "/abs/src");
	assert_int_equal(lf.f->n, 1);
	assert_int_equal(lf.f->size, size);
	assert_int_equal(lf.formats[0], fmt);
	inflight_file_free(lf.f);
}

static void test_largest_first(void **state)
{
	lookahead *w = lookahead_new(16);

	(void)state;
	put(w, "small.jpg", 10, FORMAT_JPEG);
	put(w, "huge.jpg", 9000, FORMAT_PNG);
	put(w, "mid.jpg", 500, FORMAT_JPEG);
	put(w, "big.jpg", 7000, FORMAT_WEBP);
	assert_int_equal(lookahead_count(w), 4);
	takes(w, "huge.jpg", 9000, FORMAT_PNG);
	put(w, "late.jpg", 8000, FORMAT_JPEG);	/* found later, bigger than the rest */
	takes(w, "late.jpg", 8000, FORMAT_JPEG);
	takes(w, "big.jpg", 7000, FORMAT_WEBP);
	takes(w, "mid.jpg", 500, FORMAT_JPEG);
	takes(w, "small.jpg", 10, FORMAT_JPEG);
	lookahead_file lf;
	assert_int_equal(lookahead_take(w, &lf), 0);
	lookahead_free(w);
}

/* Equal sizes keep the order they were put in, across many heap moves. */
static void test_ties_in_put_order(void **state)
{
	lookahead *w = lookahead_new(64);
	char name[32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "f%02d.jpg", i);
		put(w, name, (uint64_t)(i % 4) * 100, FORMAT_JPEG);
	}
	for (int size = 3; size >= 0; size--)
		for (int i = size; i < 40; i += 4) {
			snprintf(name, sizeof name, "f%02d.jpg", i);
			takes(w, name, (uint64_t)size * 100, FORMAT_JPEG);
		}
	assert_int_equal(lookahead_count(w), 0);
	lookahead_free(w);
}

/* A sorted stream through a window smaller than it comes out sorted; any stream
 * comes out with each file no smaller than every later one put before it. */
static void test_bounded_window(void **state)
{
	lookahead *w = lookahead_new(8);
	char name[32];
	uint64_t last = UINT64_MAX;
	int n = 0;

	(void)state;
	assert_null(lookahead_new(0));
	srand(7);
	for (int i = 0; i < 200 || lookahead_count(w); i++) {
		if (i < 200) {
			if (lookahead_full(w)) {
				lookahead_file lf;

				assert_int_equal(lookahead_take(w, &lf), 1);
				inflight_file_free(lf.f);
				n++;
			}
			snprintf(name, sizeof name, "r%03d.jpg", i);
			put(w, name, (uint64_t)(rand() % 1000), FORMAT_JPEG);
			assert_true(lookahead_count(w) <= 8);
			continue;
		}
		lookahead_file lf;	/* the drain: strictly by size, largest first */

		assert_int_equal(lookahead_take(w, &lf), 1);
		assert_true(lf.f->size <= last);
		last = lf.f->size;
		inflight_file_free(lf.f);
		n++;
	}
	assert_int_equal(n, 200);
	lookahead_free(w);
}

/* Files never taken are freed with the window. */
static void test_free_with_files(void **state)
{
	lookahead *w = lookahead_new(4);

	(void)state;
	put(w, "a.jpg", 1, FORMAT_JPEG);
	put(w, "b.jpg", 2, FORMAT_JPEG);
	assert_false(lookahead_full(w));
	put(w, "c.jpg", 3, FORMAT_JPEG);
	put(w, "d.jpg", 4, FORMAT_JPEG);
	assert_true(lookahead_full(w));
	lookahead_free(w);
	lookahead_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_largest_first),
		cmocka_unit_test(test_ties_in_put_order),
		cmocka_unit_test(test_bounded_window),
		cmocka_unit_test(test_free_with_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
