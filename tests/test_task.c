/* SPDX-License-Identifier: MIT */
/*
 * test_task.c — one file's work as it crosses the pool (app/task.c): task bytes
 * round trip for every output count and odd input names, every malformed task
 * refused, the checks on what a worker sends back (result and error), the temp
 * file names, and the worker side run in-process (no pool needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "task.h"

/* ------------------------------------------------------------------------- */
/* Encoding and decoding tasks                                                */

/* Input names that must cross unchanged: bytes, not text. */
static const char *const NAMES[] = {
	"a.jpg",
	"/abs/path/with spaces/IMG 0001.JPG",
	"-starts-with-dash.png",
	"new\nline\tand\rcontrol\x01.jpg",
	"caf\xc3\xa9/\xff\xfe not utf-8.jpg",
	"x",
};

/* Where the format bytes begin: after n, the index, beneath and the found file. */
enum { FORMATS_AT = 4 + 8 + 4 + 8 + 8 };

static void round_trip(uint64_t index, int n, const char *input)
{
	pool_buf b = {0};
	task_desc in = {.index = index, .n = n, .input = input,
			.beneath = (uint32_t)(strlen(input) / 2),
			.found = {index ^ 0x1234, ~index}}, out;
	for (int i = 0; i < n; i++)
		in.formats[i] = (thumb_format)((i + n) % (FORMAT_AVIF + 1));
	assert_int_equal(task_encode(&b, &in), 0);
	/* the documented layout: u32 n | u64 index | u32 beneath | u64 found dev |
	 * u64 found inode | n format bytes | input NUL */
	assert_int_equal(b.len, FORMATS_AT + (size_t)n + strlen(input) + 1);
	memset(&out, 0xee, sizeof out);
	assert_int_equal(task_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.index, index);
	assert_int_equal(out.n, n);
	assert_int_equal(out.beneath, in.beneath);
	assert_int_equal(out.found.dev, in.found.dev);
	assert_int_equal(out.found.ino, in.found.ino);
	for (int i = 0; i < n; i++)
		assert_int_equal(out.formats[i], in.formats[i]);
	assert_string_equal(out.input, input);
	/* strings point into the task bytes: no copy to free */
	assert_true(out.input > b.data && out.input < b.data + b.len);
	pool_buf_release(&b);
}

static void test_round_trip(void **state)
{
	static const uint64_t indexes[] = {0, 1, 4242, 1ULL << 40, UINT64_MAX};
	for (int n = 1; n <= THUMB_MAX_SIZES; n++)
		for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
			for (size_t k = 0; k < sizeof indexes / sizeof *indexes; k++)
				round_trip(indexes[k], n, NAMES[i]);
	/* a path as long as Linux allows, and longer */
	char *lng = malloc(3 * PATH_MAX);
	assert_non_null(lng);
	memset(lng, 'p', 3 * PATH_MAX - 1);
	lng[3 * PATH_MAX - 1] = '\0';
	round_trip(7, 3, lng);
	free(lng);
	/* encoding again into a used buffer starts it over */
	pool_buf b = {0};
	task_desc t = {.index = 1, .n = 1, .formats = {FORMAT_PNG}, .input = "first-and-longer"};
	assert_int_equal(task_encode(&b, &t), 0);
	t.input = "b";
	assert_int_equal(task_encode(&b, &t), 0);
	assert_int_equal(b.len, FORMATS_AT + 1 + 2);
	task_desc out;
	assert_int_equal(task_decode(b.data, b.len, &out), 0);
	assert_string_equal(out.input, "b");
	pool_buf_release(&b);
}

/* A good task of n outputs for input, in a malloc'd buffer of exactly its size. */
static unsigned char *good_task(int n, const char *input, size_t *len)
{
	pool_buf b = {0};
	task_desc t = {.index = 99, .n = n, .input = input};
	for (int i = 0; i < n; i++)
		t.formats[i] = FORMAT_JPEG;
	assert_int_equal(task_encode(&b, &t), 0);
	unsigned char *copy = malloc(b.len);
	memcpy(copy, b.data, b.len);
	*len = b.len;
	pool_buf_release(&b);
	return copy;
}

/* Decode exactly len bytes from a buffer of that size (ASan sees any overread). */
static int decode_exact(const void *bytes, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);
	memcpy(copy, bytes, len);
	task_desc t;
	int rc = task_decode(copy, len, &t);
	if (rc == 0)
		assert_true((const unsigned char *)t.input >= copy &&
			    (const unsigned char *)t.input < copy + len);
	free(copy);
	return rc;
}

static void test_malformed(void **state)
{
	size_t len;
	unsigned char *t = good_task(2, "in.jpg", &len);
	assert_int_equal(decode_exact(t, len), 0);
	/* every shorter prefix: too short, no NUL, or no name */
	for (size_t k = 0; k < len; k++)
		if (decode_exact(t, k) == 0)
			fail_msg("a prefix of %zu of %zu bytes was accepted", k, len);
	/* a byte more after the NUL: the name has no end, or two */
	unsigned char *more = malloc(len + 2);
	memcpy(more, t, len);
	more[len] = 'x';
	assert_int_equal(decode_exact(more, len + 1), -1);
	more[len] = '\0';
	assert_int_equal(decode_exact(more, len + 1), -1);
	more[len] = 'x';
	more[len + 1] = '\0';
	assert_int_equal(decode_exact(more, len + 2), -1);
	free(more);
	/* a NUL inside the name */
	unsigned char *inner = malloc(len);
	memcpy(inner, t, len);
	inner[len - 3] = '\0';
	assert_int_equal(decode_exact(inner, len), -1);
	free(inner);
	/* the walk's part of the path beginning past its end */
	unsigned char *past = malloc(len);
	memcpy(past, t, len);
	uint32_t beyond = (uint32_t)strlen("in.jpg") + 1;
	memcpy(past + 12, &beyond, 4);
	assert_int_equal(decode_exact(past, len), -1);
	beyond--;
	memcpy(past + 12, &beyond, 4);
	assert_int_equal(decode_exact(past, len), 0);
	free(past);
	/* counts outside 1..THUMB_MAX_SIZES */
	static const uint32_t counts[] = {0, THUMB_MAX_SIZES + 1, 255, 0x80000000u, 0xffffffffu};
	for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
		unsigned char *c = malloc(len);
		memcpy(c, t, len);
		memcpy(c, &counts[i], 4);
		if (decode_exact(c, len) == 0)
			fail_msg("count %u accepted", counts[i]);
		free(c);
	}
	/* a count that eats the name: 2 outputs claimed as 8 */
	unsigned char *c = malloc(len);
	memcpy(c, t, len);
	uint32_t eight = 8;
	memcpy(c, &eight, 4);
	assert_int_equal(decode_exact(c, len), -1);
	free(c);
	/* a format byte no format has */
	for (int bad = FORMAT_AVIF + 1; bad < 256; bad += (bad < 16 ? 1 : 37)) {
		unsigned char *f = malloc(len);
		memcpy(f, t, len);
		f[FORMATS_AT + 1] = (unsigned char)bad;
		if (decode_exact(f, len) == 0)
			fail_msg("format byte %d accepted", bad);
		free(f);
	}
	/* nothing at all */
	assert_int_equal(decode_exact("", 0), -1);
	free(t);
	/* every format byte that is a format is accepted */
	for (int fmt = FORMAT_SAME; fmt <= FORMAT_AVIF; fmt++) {
		unsigned char *f = good_task(1, "a", &len);
		f[FORMATS_AT] = (unsigned char)fmt;
		task_desc d;
		assert_int_equal(task_decode(f, len, &d), 0);
		assert_int_equal(d.formats[0], fmt);
		free(f);
	}
}

/* ------------------------------------------------------------------------- */
/* Results and errors from a worker                                           */

static thumb_result a_result(int nout)
{
	thumb_result r;
	memset(&r, 0, sizeof r);
	r.in_w = 4000;
	r.in_h = 3000;
	r.in_bytes = 123456789;
	r.in_checksum = 0xabcdef0123456789ULL;
	r.nout = nout;
	for (int i = 0; i < nout; i++) {
		r.out[i].w = 100 + i;
		r.out[i].h = 200 + i;
		r.out[i].bytes = 1000 + (uint64_t)i;
	}
	return r;
}

static void test_result_decode(void **state)
{
	for (int n = 1; n <= THUMB_MAX_SIZES; n++) {
		thumb_result sent = a_result(n), got;
		memset(&got, 0xee, sizeof got);
		assert_int_equal(task_result_decode(&sent, sizeof sent, &got), 0);
		assert_memory_equal(&got, &sent, sizeof sent);
	}
	thumb_result r = a_result(1), got;
	unsigned char big[sizeof r + 1];
	memcpy(big, &r, sizeof r);
	big[sizeof r] = 0;
	assert_int_equal(task_result_decode(&r, sizeof r - 1, &got), -1);
	assert_int_equal(task_result_decode(big, sizeof big, &got), -1);
	assert_int_equal(task_result_decode(&r, 0, &got), -1);
	static const int bad_n[] = {0, -1, THUMB_MAX_SIZES + 1, 1 << 30};
	for (size_t i = 0; i < sizeof bad_n / sizeof *bad_n; i++) {
		thumb_result b = a_result(1);
		b.nout = bad_n[i];
		if (task_result_decode(&b, sizeof b, &got) == 0)
			fail_msg("nout %d accepted", bad_n[i]);
	}
	thumb_result b = a_result(2);
	b.in_w = -1;
	assert_int_equal(task_result_decode(&b, sizeof b, &got), -1);
	b = a_result(2);
	b.in_h = -5;
	assert_int_equal(task_result_decode(&b, sizeof b, &got), -1);
}

static void error_decode(const char *data, size_t len, failure_kind want_kind,
			 const char *want_text)
{
	failure_kind kind = FAIL_NONE;
	const char *text = NULL;
	task_error_decode(data, len, &kind, &text);
	assert_int_equal(kind, want_kind);
	assert_non_null(text);
	assert_string_equal(text, want_text);
}

static void test_error_decode(void **state)
{
	/* a kind byte, then the cause: every kind a worker may send */
	for (int k = FAIL_NONE + 1; k < FAIL_KIND_COUNT; k++) {
		char msg[64];
		msg[0] = (char)k;
		snprintf(msg + 1, sizeof msg - 1, "cause %d", k);
		error_decode(msg, strlen(msg + 1) + 1, (failure_kind)k, msg + 1);
	}
	/* only a kind byte: an empty cause */
	static const char only[2] = {FAIL_OUTPUT, '\0'};
	error_decode(only, 1, FAIL_OUTPUT, "");
	/* no valid kind byte: FAIL_DECODE with the whole text */
	error_decode("plain text", 10, FAIL_DECODE, "plain text");
	static const char zero[] = "\0rest";
	failure_kind kind;
	const char *text;
	task_error_decode(zero, 5, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_ptr_equal(text, zero);
	char past[16];
	past[0] = (char)FAIL_KIND_COUNT;
	strcpy(past + 1, "x");
	task_error_decode(past, 2, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_ptr_equal(text, past);
	past[0] = (char)0xff;
	task_error_decode(past, 2, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_ptr_equal(text, past);
	/* nothing at all */
	error_decode("", 0, FAIL_DECODE, "");
	task_error_decode(NULL, 0, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_string_equal(text, "");
}

static void test_temp_name(void **state)
{
	char buf[TASK_TEMP_NAME_MAX];
	task_temp_name(buf, sizeof buf, 17, 0, 4242);
	assert_string_equal(buf, "17-0-4242.tmp");
	/* the longest fits */
	task_temp_name(buf, sizeof buf, UINT64_MAX, THUMB_MAX_SIZES - 1, INT32_MAX);
	assert_string_equal(buf, "18446744073709551615-7-2147483647.tmp");
	assert_true(strlen(buf) < TASK_TEMP_NAME_MAX);
	/* distinct for every index, output and attempt (pid) */
	char a[TASK_TEMP_NAME_MAX], b[TASK_TEMP_NAME_MAX];
	task_temp_name(a, sizeof a, 1, 11, 1);
	task_temp_name(b, sizeof b, 11, 1, 1);
	assert_string_not_equal(a, b);
	task_temp_name(a, sizeof a, 1, 2, 34);
	task_temp_name(b, sizeof b, 1, 23, 4);
	assert_string_not_equal(a, b);
	/* what it makes, and only that, is taken for imgpool's in the temp folder */
	assert_true(task_temp_name_ours(buf));
	assert_true(task_temp_name_ours("17-0-4242.tmp"));
	static const char *const not_ours[] = {"", "notes.txt", "17-0-4242.tmp.bak", "17-0.tmp",
					       "a-0-1.tmp", "17--1-2.tmp", "17-0-4242.TMP",
					       "-1-0-2.tmp", "1-0-2.tmpx", ".1-0-2.tmp",
					       "123456789012345678901-0-1.tmp"};
	for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++)
		if (task_temp_name_ours(not_ours[i]))
			fail_msg("'%s' taken for a temp file", not_ours[i]);
	/* never a path, never hidden */
	assert_null(strchr(buf, '/'));
	assert_true(buf[0] != '.');
	char tiny[5];
	task_temp_name(tiny, sizeof tiny, 123456, 0, 1);
	assert_string_equal(tiny, "1234");
}

/* ------------------------------------------------------------------------- */
/* The worker side, in this process                                           */

static char tmp_dir[PATH_MAX / 2]; /* room for the names made in it */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

/* Does folder dir hold nothing? */
static int dir_empty(const char *dir)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

static void test_worker(void **state)
{
	snprintf(tmp_dir, sizeof tmp_dir, "%s/test_task.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(tmp_dir));
	char tmp[PATH_MAX / 2 + 8], in[PATH_MAX / 2 + 16], link[PATH_MAX / 2 + 16];
	snprintf(tmp, sizeof tmp, "%s/tmp", tmp_dir);
	snprintf(in, sizeof in, "%s/in.jpg", tmp_dir);
	snprintf(link, sizeof link, "%s/tmp-link", tmp_dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(symlink(tmp, link), 0);
	struct stat st;
	assert_int_equal(stat(tmp, &st), 0);

	task_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.settings.sizes[0] = (thumb_size){32, 32};
	cfg.settings.sizes[1] = (thumb_size){16, 16};
	cfg.settings.nsizes = 2;
	cfg.settings.background[0] = cfg.settings.background[1] = cfg.settings.background[2] = 255;
	cfg.settings.max_pixels = 268402689;
	cfg.vips_threads = 1;
	void *ws = NULL;
	pool_buf err = {0};

	/* the temp folder must be there, not a symlink, and the very one the parent made */
	snprintf(cfg.tmp_path, sizeof cfg.tmp_path, "%s/absent", tmp_dir);
	assert_int_not_equal(task_worker_init(&cfg, &ws, &err), 0);
	assert_non_null(strstr(err.data, "cannot open the temp folder"));
	err.len = 0;
	snprintf(cfg.tmp_path, sizeof cfg.tmp_path, "%s", link);
	assert_int_not_equal(task_worker_init(&cfg, &ws, &err), 0);
	assert_non_null(strstr(err.data, "cannot open the temp folder"));
	err.len = 0;
	snprintf(cfg.tmp_path, sizeof cfg.tmp_path, "%s", tmp);
	cfg.tmp_dev = (uint64_t)st.st_dev;
	cfg.tmp_ino = (uint64_t)st.st_ino + 1;
	assert_int_not_equal(task_worker_init(&cfg, &ws, &err), 0);
	assert_non_null(strstr(err.data, "was replaced"));
	err.len = 0;
	cfg.tmp_ino = (uint64_t)st.st_ino;
	if (task_worker_init(&cfg, &ws, &err) != 0)
		fail_msg("task_worker_init: %s", err.data);
	assert_non_null(ws);

	/* an input to thumbnail */
	VipsImage *im;
	assert_int_equal(vips_black(&im, 64, 48, "bands", 3, NULL), 0);
	assert_int_equal(vips_image_write_to_file(im, in, NULL), 0);
	g_object_unref(im);

	/* a good task: one temp file per output, named by index, output and pid */
	pool_buf task = {0}, out = {0};
	task_desc t = {.index = 5, .n = 2, .formats = {FORMAT_JPEG, FORMAT_PNG}, .input = in};
	assert_int_equal(task_encode(&task, &t), 0);
	if (task_thumbnail(task.data, task.len, &out, ws) != 0)
		fail_msg("task_thumbnail: %s", out.len > 1 ? out.data + 1 : "");
	thumb_result res;
	assert_int_equal(task_result_decode(out.data, out.len, &res), 0);
	assert_int_equal(res.nout, 2);
	assert_int_equal(res.in_w, 64);
	assert_int_equal(res.in_h, 48);
	assert_int_equal(res.out[0].w, 32);
	assert_int_equal(res.out[1].w, 16);
	for (int i = 0; i < 2; i++) {
		char name[TASK_TEMP_NAME_MAX], path[PATH_MAX + 64];
		task_temp_name(name, sizeof name, 5, i, (int)getpid());
		snprintf(path, sizeof path, "%s/%s", tmp, name);
		struct stat ost;
		assert_int_equal(stat(path, &ost), 0);
		assert_int_equal((uint64_t)ost.st_size, res.out[i].bytes);
		unlink(path);
	}

	/* a malformed task, and one whose output count is not the run's */
	static const unsigned char junk[] = {1, 2, 3};
	out.len = 0;
	assert_int_not_equal(task_thumbnail(junk, sizeof junk, &out, ws), 0);
	failure_kind kind;
	const char *text;
	task_error_decode(out.data, out.len, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_string_equal(text, "internal error: malformed task");
	t.n = 1;
	assert_int_equal(task_encode(&task, &t), 0);
	out.len = 0;
	assert_int_not_equal(task_thumbnail(task.data, task.len, &out, ws), 0);
	task_error_decode(out.data, out.len, &kind, &text);
	assert_string_equal(text, "internal error: malformed task");

	/* an input that is not there: a kind and a cause, and no temp file left */
	t.n = 2;
	t.input = "/nonexistent/in.jpg";
	assert_int_equal(task_encode(&task, &t), 0);
	out.len = 0;
	assert_int_not_equal(task_thumbnail(task.data, task.len, &out, ws), 0);
	task_error_decode(out.data, out.len, &kind, &text);
	assert_true(kind > FAIL_NONE && kind < FAIL_KIND_COUNT);
	assert_true(strlen(text) > 0);
	assert_null(strstr(text, "/nonexistent/in.jpg")); /* the caller names the input */
	/* a file that is not an image: FAIL_DECODE */
	FILE *f = fopen(in, "w");
	fputs("not a jpeg at all", f);
	fclose(f);
	t.input = in;
	assert_int_equal(task_encode(&task, &t), 0);
	out.len = 0;
	assert_int_not_equal(task_thumbnail(task.data, task.len, &out, ws), 0);
	task_error_decode(out.data, out.len, &kind, &text);
	assert_int_equal(kind, FAIL_DECODE);
	assert_true(dir_empty(tmp));

	pool_buf_release(&task);
	pool_buf_release(&out);
	pool_buf_release(&err);
	task_worker_fini(ws);
	nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_result_decode),
		cmocka_unit_test(test_error_decode),
		cmocka_unit_test(test_temp_name),
		cmocka_unit_test(test_worker), /* last: it shuts libvips down */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
