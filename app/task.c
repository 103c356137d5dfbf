/* SPDX-License-Identifier: MIT */
/*
 * task.c — encode/decode one file's task and result; the worker's side of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "task.h"

void task_temp_name(char *buf, size_t len, uint64_t index, int i, int pid)
{
	snprintf(buf, len, "%llu-%d-%d.tmp", (unsigned long long)index, i, pid);
}

int task_temp_name_ours(const char *name)
{
	const char *p = name;
	for (int field = 0; field < 3; field++) {
		const char *start = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || p - start > 20 || *p != (field < 2 ? '-' : '.'))
			return 0;
		p++;
	}
	return !strcmp(p, "tmp");
}

/* Layout: u32 n | u64 index | u32 beneath | u64 found dev | u64 found inode |
 * n format bytes | input NUL. */
int task_encode(pool_buf *b, const task_desc *t)
{
	uint32_t count = (uint32_t)t->n;
	uint64_t index = t->index;
	uint32_t beneath = t->beneath;
	unsigned char formats[THUMB_MAX_SIZES];

	b->len = 0;
	for (int i = 0; i < t->n; i++)
		formats[i] = (unsigned char)t->formats[i];
	if (pool_buf_append(b, &count, sizeof count) < 0 ||
	    pool_buf_append(b, &index, sizeof index) < 0 ||
	    pool_buf_append(b, &beneath, sizeof beneath) < 0 ||
	    pool_buf_append(b, &t->found.dev, sizeof t->found.dev) < 0 ||
	    pool_buf_append(b, &t->found.ino, sizeof t->found.ino) < 0 ||
	    pool_buf_append(b, formats, (size_t)t->n) < 0 ||
	    pool_buf_append(b, t->input, strlen(t->input) + 1) < 0)
		return -1;
	return 0;
}

int task_decode(const void *arg, size_t len, task_desc *t)
{
	const unsigned char *p = arg;
	uint32_t count;

	const size_t at_found = sizeof count + sizeof t->index + sizeof t->beneath;
	const size_t fixed = at_found + sizeof t->found.dev + sizeof t->found.ino;
	if (len < fixed)
		return -1;
	memcpy(&count, p, sizeof count);
	memcpy(&t->index, p + sizeof count, sizeof t->index);
	memcpy(&t->beneath, p + sizeof count + sizeof t->index, sizeof t->beneath);
	memcpy(&t->found.dev, p + at_found, sizeof t->found.dev);
	memcpy(&t->found.ino, p + at_found + sizeof t->found.dev, sizeof t->found.ino);
	if (count < 1 || count > THUMB_MAX_SIZES)
		return -1;
	size_t head = fixed + count;
	if (len <= head || p[len - 1] != '\0' || memchr(p + head, '\0', len - head) != p + len - 1)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		if (p[fixed + i] > FORMAT_AVIF)
			return -1;
		t->formats[i] = (thumb_format)p[fixed + i];
	}
	t->n = (int)count;
	t->input = (const char *)p + head;
	if (t->beneath >= len - head)
		return -1; /* past the input's end */
	return 0;
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

void task_error_decode(const char *data, size_t len, failure_kind *kind, const char **text)
{
	unsigned char k = len ? (unsigned char)data[0] : 0;
	if (len >= 1 && k > FAIL_NONE && k < FAIL_KIND_COUNT) {
		*kind = (failure_kind)k;
		*text = data + 1;
	} else {
		*kind = FAIL_DECODE;
		*text = len ? data : "";
	}
}

/* A worker's state: its config (its copy of the parent's memory, made by fork)
 * and the temp folder it creates outputs in. */
typedef struct worker_state {
	const task_config *cfg;
	int tmp_fd;
} worker_state;

/* Open the run's temp folder, never through a symlink, and check it is the one
 * the parent made (its device and inode). */
static int open_tmp(const task_config *cfg, pool_buf *err)
{
	int fd = open(cfg->tmp_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		pool_buf_printf(err, "cannot open the temp folder %s: %s", cfg->tmp_path,
				strerror(errno));
		return -1;
	}
	if ((cfg->tmp_dev || cfg->tmp_ino) &&
	    (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != cfg->tmp_dev ||
	     (uint64_t)st.st_ino != cfg->tmp_ino)) {
		pool_buf_printf(err, "the temp folder %s was replaced", cfg->tmp_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Scratch files of the libraries a worker runs go to its temp folder, beneath the
 * output folder with the thumbnails: liborc (libvips' SIMD code generator)
 * writes the code it makes to a file it creates and unlinks at once, in
 * $XDG_RUNTIME_DIR, else $HOME, $TMPDIR or /tmp (one per worker: seen as
 * /root/orcexec.XXXXXX); libvips keeps images too large for memory in $TMPDIR.
 * The folder is named through /proc/self/fd, the one this worker opened
 * without following symlinks, so no swapped path component redirects them; by
 * its path where /proc is not mounted. The parent empties the folder at the
 * start and end of a run. On a noexec output folder liborc, which maps its file
 * executable, would fall back to $HOME: there libvips' vector paths are turned
 * off instead (VIPS_NOVECTOR, read by vips_init()), at some speed of the libvips
 * path (the fast paths do not use them). */
static void scratch_in(int tmp_fd, const char *tmp_path)
{
	char self[64];
	const char *dir;
	struct statvfs vfs;

	snprintf(self, sizeof self, "/proc/self/fd/%d", tmp_fd);
	dir = access(self, W_OK) == 0 ? self : tmp_path;
	setenv("TMPDIR", dir, 1);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	if (fstatvfs(tmp_fd, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC))
		setenv("VIPS_NOVECTOR", "1", 1);
}

/* The pool initializer. Workers ignore SIGTERM and SIGHUP as the pool makes them
 * ignore SIGINT: a scheduler (timeout, systemd, Slurm) signals the whole process
 * group, and the parent, which drains on the first of them, decides what happens;
 * a worker killed mid-file would turn a stop into a failure. */
int task_worker_init(void *arg, void **state, pool_buf *err)
{
	const task_config *cfg = arg;
	worker_state *ws = calloc(1, sizeof *ws);
	char msg[256];

	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN); /* the other stops of stop.c's, to the group too */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	/* Past RLIMIT_FSIZE a write must fail with EFBIG ("File too large") for that
	 * file, not kill the worker with SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);
	if (!ws) {
		pool_buf_printf(err, "out of memory");
		return -1;
	}
	ws->cfg = cfg;
	if ((ws->tmp_fd = open_tmp(cfg, err)) < 0) {
		free(ws);
		return -1;
	}
	scratch_in(ws->tmp_fd, cfg->tmp_path);	/* before libvips starts */
	if (thumb_worker_init(cfg->vips_threads, msg, sizeof msg) < 0) {
		pool_buf_printf(err, "libvips: %s", msg);
		close(ws->tmp_fd);
		free(ws);
		return -1;
	}
	*state = ws;
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
	const worker_state *ws = state;
	const task_config *cfg = ws->cfg;
	task_desc t;
	thumb_output outputs[THUMB_MAX_SIZES];
	char names[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX];
	unsigned char kind_byte;
	failure_kind kind = FAIL_NONE;

	if (task_decode(arg, len, &t) < 0 || t.n != cfg->settings.nsizes) {
		kind_byte = FAIL_DECODE;
		pool_buf_append(out, &kind_byte, 1);
		pool_buf_printf(out, "internal error: malformed task");
		return -1;
	}
	for (int i = 0; i < t.n; i++) {
		task_temp_name(names[i], sizeof names[i], t.index, i, (int)getpid());
		outputs[i] = (thumb_output){ws->tmp_fd, names[i], t.formats[i]};
	}
	thumb_result res;
	memset(&res, 0, sizeof res);
	char err[1024];
	if (thumb_run(&cfg->settings, t.input, t.beneath, &t.found, outputs, &res, &kind, err,
		      sizeof err) < 0) {
		drop_repeats(err);
		kind_byte = (unsigned char)(kind == FAIL_NONE ? FAIL_DECODE : kind);
		pool_buf_append(out, &kind_byte, 1);
		pool_buf_printf(out, "%s", err);
		return -1;
	}
	return pool_buf_append(out, &res, sizeof res);
}

void task_worker_fini(void *state)
{
	worker_state *ws = state;

	if (ws) {
		close(ws->tmp_fd);
		free(ws);
	}
	thumb_worker_fini();
}
