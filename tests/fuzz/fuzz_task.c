/* SPDX-License-Identifier: MIT */
/*
 * fuzz_task.c — the bytes of one file's task and result as they cross the pool
 * (task_decode / task_result_decode in app/task.h). The parent trusts nothing a
 * worker sends, and a worker nothing it is handed.
 *
 * Input: byte 0 picks the decoder, the rest is the buffer (copied to exactly
 * its size, so ASan sees any read past it).
 * Invariants: a task that decodes has 1..THUMB_MAX_SIZES outputs with formats
 * that are written (never FORMAT_SAME's range is exceeded), an input string that
 * lies inside the buffer, and encodes back to exactly the same bytes
 * (task_encode); a result that decodes has 1..THUMB_MAX_SIZES outputs and no
 * negative size; an error message always yields a kind and a text inside it.
 */
#include "fuzz_util.h"
#include "task.h"

/* Does s lie, with its NUL, inside [buf, buf + len)? */
static int within(const char *s, const char *buf, size_t len)
{
	return s >= buf && s < buf + len && memchr(s, '\0', (size_t)(buf + len - s));
}

static void fuzz_task(const char *buf, size_t len)
{
	task_desc t;
	if (task_decode(buf, len, &t) < 0)
		return;
	FUZZ_CHECK(t.n >= 1 && t.n <= THUMB_MAX_SIZES, "n %d", t.n);
	FUZZ_CHECK(within(t.input, buf, len), "input outside the task");
	for (int i = 0; i < t.n; i++)
		FUZZ_CHECK(t.formats[i] >= FORMAT_SAME && t.formats[i] <= FORMAT_AVIF,
			   "format %d of output %d", t.formats[i], i);
	pool_buf again = {0};
	if (task_encode(&again, &t) == 0)
		FUZZ_CHECK(again.len == len && !memcmp(again.data, buf, len),
			   "decode then encode changed the task (%zu -> %zu bytes)", len, again.len);
	pool_buf_release(&again);
}

static void fuzz_error(const char *buf, size_t len)
{
	failure_kind kind;
	const char *text;
	task_error_decode(buf, len, &kind, &text);
	FUZZ_CHECK(kind > FAIL_NONE && kind < FAIL_KIND_COUNT, "kind %d", kind);
	FUZZ_CHECK(len == 0 || (text >= buf && text <= buf + len), "text outside the message");
}

static void fuzz_result(const char *buf, size_t len)
{
	thumb_result res;
	if (task_result_decode(buf, len, &res) < 0)
		return;
	FUZZ_CHECK(res.nout >= 1 && res.nout <= THUMB_MAX_SIZES, "nout %d", res.nout);
	FUZZ_CHECK(res.in_w >= 0 && res.in_h >= 0, "input %dx%d", res.in_w, res.in_h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *buf = fuzz_dup(data + 1, size - 1);
	if (!buf)
		return 0;
	if (data[0] % 3 == 1)
		fuzz_result(buf, size - 1);
	else if (data[0] % 3 == 2)
		fuzz_error(buf, size - 1);
	else
		fuzz_task(buf, size - 1);
	free(buf);
	return 0;
}
