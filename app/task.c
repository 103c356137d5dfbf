/* SPDX-License-Identifier: MIT */
/*
 * task.c — encode/decode one file's task and result; the worker's side of it.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "task.h"

int task_encode(pool_buf *b, const char *input, const char *const *outputs, int n)
{
	uint32_t count = (uint32_t)n;
	b->len = 0;
	if (pool_buf_append(b, &count, sizeof count) < 0 ||
	    pool_buf_append(b, input, strlen(input) + 1) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (pool_buf_append(b, outputs[i], strlen(outputs[i]) + 1) < 0)
			return -1;
	return 0;
}

/* The next NUL-terminated string in [*p, end), or NULL when it runs off the end. */
static const char *next_string(const char **p, const char *end)
{
	const char *s = *p;
	const char *nul = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
	if (!nul)
		return NULL;
	*p = nul + 1;
	return s;
}

int task_decode(const void *arg, size_t len, const char **input,
		const char *outputs[THUMB_MAX_SIZES], int *n)
{
	uint32_t count;
	if (len < sizeof count)
		return -1;
	memcpy(&count, arg, sizeof count);
	if (count < 1 || count > THUMB_MAX_SIZES)
		return -1;
	const char *p = (const char *)arg + sizeof count, *end = (const char *)arg + len;
	if (!(*input = next_string(&p, end)))
		return -1;
	for (uint32_t i = 0; i < count; i++)
		if (!(outputs[i] = next_string(&p, end)))
			return -1;
	*n = (int)count;
	return p == end ? 0 : -1;
}

int task_result_decode(const void *data, size_t len, thumb_result *res)
{
	if (len != sizeof *res)
		return -1;
	memcpy(res, data, sizeof *res);
	if (res->nout < 1 || res->nout > THUMB_MAX_SIZES || res->in_w < 0 || res->in_h < 0)
		return -1;
	return 0;
}

/* The worker keeps its config pointer (its copy of the parent's memory, made by
 * fork) as the pool state. */
int task_worker_init(void *arg, void **state, pool_buf *err)
{
	const task_config *cfg = arg;
	/* Past RLIMIT_FSIZE a write must fail with EFBIG ("File too large") for that
	 * file, not kill the worker with SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);
	char msg[256];
	if (thumb_worker_init(cfg->vips_threads, msg, sizeof msg) < 0) {
		pool_buf_printf(err, "libvips: %s", msg);
		return -1;
	}
	*state = arg;
	return 0;
}

/* libvips repeats a message once per tile or retry ("unable to open for read; unix
 * error: Permission denied; unable to open ..."): keep each "; "-separated part
 * once, in order, so the error line says it once. */
static void drop_repeats(char *s)
{
	char out[1024];
	size_t n = 0;
	out[0] = '\0';
	for (char *part = s; part && *part;) {
		char *sep = strstr(part, "; ");
		size_t len = sep ? (size_t)(sep - part) : strlen(part);
		int seen = 0;
		for (const char *q = out; *q && !seen;) {
			const char *qs = strstr(q, "; ");
			size_t ql = qs ? (size_t)(qs - q) : strlen(q);
			seen = ql == len && !strncmp(q, part, len);
			q = qs ? qs + 2 : q + ql;
		}
		if (!seen && n + len + 3 < sizeof out) {
			n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s", n ? "; " : "",
					      (int)len, part);
		}
		part = sep ? sep + 2 : NULL;
	}
	strcpy(s, out);
}

int task_thumbnail(const void *arg, size_t len, pool_buf *out, void *state)
{
	const task_config *cfg = state;
	const char *input, *outputs[THUMB_MAX_SIZES];
	int n;
	if (task_decode(arg, len, &input, outputs, &n) < 0 || n != cfg->settings.nsizes) {
		pool_buf_printf(out, "internal error: malformed task");
		return -1;
	}
	thumb_result res;
	memset(&res, 0, sizeof res);
	char err[1024];
	if (thumb_run(&cfg->settings, input, outputs, &res, err, sizeof err) < 0) {
		drop_repeats(err);
		pool_buf_printf(out, "%s", err);
		return -1;
	}
	return pool_buf_append(out, &res, sizeof res);
}

void task_worker_fini(void *state)
{
	(void)state;
	thumb_worker_fini();
}
