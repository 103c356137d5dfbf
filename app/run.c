/* SPDX-License-Identifier: MIT */
/*
 * run.c — one imgpool run. See run.h.
 *
 * The parent never decodes a pixel: it walks (discover), hands one task per file to
 * the pool through a lazy feed (so the first thumbnail is made while a big tree is
 * still being walked), reports each result as it comes, and keeps only the tasks in
 * flight in memory (to name the file of a result the pool made itself: a crash, a
 * timeout, a cancel).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "discover.h"
#include "journal.h"
#include "monitor.h"
#include "report.h"
#include "run.h"
#include "shard.h"
#include "task.h"
#include "trace.h"

/* ------------------------------------------------------------------------- */
/* Signals: the handler only records and asks the pool to drain.               */

static volatile sig_atomic_t got_signal, signal_count;
static pool *volatile the_pool;

static void on_signal(int sig)
{
	got_signal = sig;
	signal_count++;
	pool *p = the_pool;
	if (p)
		pool_interrupt(p); /* async-signal-safe */
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a closed report pipe is an error, not death */
}

/* ------------------------------------------------------------------------- */
/* The output folder: create it, lock it.                                      */

/* mkdir -p */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return rc;
}

/*
 * Take the run lock: OUT/.imgpool/lock, flock()ed for the life of the process (the
 * kernel drops it if we die, so a crash never leaves a stale lock). Returns the fd,
 * -1 with a message for a folder we cannot use, -2 when another run holds it.
 */
static int take_lock(const char *out_dir, const char *lock_name, char *msg, size_t len)
{
	char path[4096];
	if (make_dirs(out_dir) < 0) {
		snprintf(msg, len, "cannot create the output folder '%s': %s", out_dir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/.imgpool", out_dir);
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		snprintf(msg, len, "cannot write to the output folder '%s': %s", out_dir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/.imgpool/%s", out_dir, lock_name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		snprintf(msg, len, "cannot write to the output folder '%s': %s", out_dir,
			 strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(msg, len, "another imgpool run%s%s%s is writing to '%s'; try again "
			 "when it has finished", *pid ? " (pid " : "", pid, *pid ? ")" : "",
			 out_dir);
		close(fd);
		return -2;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		snprintf(msg, len, "cannot write to the output folder '%s': %s", out_dir,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------------- */
/* Tasks in flight, by feed index                                              */

#define INFLIGHT_BUCKETS 1024

typedef struct inflight {
	uint64_t index;
	char *task;
	size_t len;
	struct inflight *next;
	/* for the journal */
	char *root, *rel;
	uint64_t size, checksum;
	int64_t mtime_ns;
} inflight;

typedef struct run_ctx {
	const imgpool_options *o;
	discover *d;
	report *rep;
	run_counters c;
	pool_buf buf;            /* the task being handed to the pool */
	uint64_t produced;       /* tasks given to the pool so far = next feed index */
	inflight *bucket[INFLIGHT_BUCKETS];
	report_summary sum;
	int out_of_memory;
	trace *tr;
	journal *j;              /* NULL: run without one (could not open) */
	uint64_t fingerprint;    /* of the output settings */
	uint64_t adopted;        /* outputs found up to date with no journal row */
	uint64_t failed_earlier; /* skipped: failed before, unchanged since */
	char *root_given, *root_real; /* cache: the real path of the last root seen */
	char *out_real;          /* the output folder's real path */
	char *last_dir;          /* the last output folder found to stay inside */
	int walk_errors;         /* errors of the walk itself: no --prune then */
	uint64_t pruned;
	char last_cause[520];    /* the journal's cause for the last SKIP_FAILED */
	shard shard;             /* this run's share; n == 0: everything */
	int64_t min_free;        /* bytes; 0: no check */
	char disk_msg[512];      /* set when the disk ran low: the run stops */
} run_ctx;

static void inflight_free(inflight *e)
{
	if (e) {
		free(e->task);
		free(e->root);
		free(e->rel);
		free(e);
	}
}

static int inflight_add(run_ctx *x, uint64_t index, const char *task, size_t len,
			const char *root, const discover_item *it, uint64_t checksum)
{
	inflight *e = calloc(1, sizeof *e);
	char *copy = e ? malloc(len) : NULL;
	if (!copy) {
		free(e);
		return -1;
	}
	memcpy(copy, task, len);
	*e = (inflight){index, copy, len, x->bucket[index % INFLIGHT_BUCKETS],
			root ? strdup(root) : NULL, strdup(it->rel), it->size, checksum,
			(int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec};
	x->bucket[index % INFLIGHT_BUCKETS] = e;
	return 0;
}

/* Unlink and return the entry for index (caller frees), or NULL. */
static inflight *inflight_take(run_ctx *x, uint64_t index)
{
	for (inflight **pp = &x->bucket[index % INFLIGHT_BUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->index == index) {
			inflight *e = *pp;
			*pp = e->next;
			return e;
		}
	return NULL;
}

static inflight *inflight_peek(run_ctx *x, uint64_t index)
{
	for (inflight *e = x->bucket[index % INFLIGHT_BUCKETS]; e; e = e->next)
		if (e->index == index)
			return e;
	return NULL;
}

/* The input path of a task in flight, for traces ("?" if unknown). */
static const char *inflight_input(run_ctx *x, uint64_t index)
{
	inflight *e = inflight_peek(x, index);
	const char *input, *outputs[THUMB_MAX_SIZES];
	int n;
	if (e && task_decode(e->task, e->len, &input, outputs, &n) == 0)
		return input;
	return "?";
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ------------------------------------------------------------------------- */
/* Feed: discovery streams straight into the pool                              */

static void report_item(run_ctx *x, const discover_item *it, report_status st,
			const char *cause)
{
	report_file f = {
		.status = st, .input = it->input, .noutputs = it->noutputs,
		.outputs = it->outputs, .cause = cause, .worker = -1,
	};
	report_file_done(x->rep, &f);
}

/* The real path of the item's root folder (input minus rel), cached per root. */
static const char *root_of(run_ctx *x, const discover_item *it)
{
	size_t in = strlen(it->input), rl = strlen(it->rel);
	size_t n = in >= rl ? in - rl : 0;
	while (n > 1 && it->input[n - 1] == '/')
		n--;
	char *given = n ? strndup(it->input, n) : strdup(".");
	if (!given)
		return NULL;
	if (x->root_given && !strcmp(x->root_given, given)) {
		free(given);
		return x->root_real;
	}
	free(x->root_given);
	free(x->root_real);
	x->root_given = given;
	x->root_real = realpath(given, NULL);
	return x->root_real;
}

/* Does an output's folder lead outside the output folder (a symlink planted in the
 * output tree)? Returns a cause, or NULL when every output stays inside. The
 * nearest existing ancestor is resolved (the worker creates the rest); the last
 * folder checked is remembered, as files of one folder come together. */
static const char *outputs_escape(run_ctx *x, const discover_item *it)
{
	static char why[600];
	if (!x->out_real)
		return NULL;
	for (int i = 0; i < it->noutputs; i++) {
		const char *slash = strrchr(it->outputs[i], '/');
		if (!slash)
			continue;
		size_t dl = (size_t)(slash - it->outputs[i]);
		if (x->last_dir && strlen(x->last_dir) == dl &&
		    !strncmp(x->last_dir, it->outputs[i], dl))
			continue;
		char *dir = strndup(it->outputs[i], dl), *real = NULL;
		while (dir && !(real = realpath(dir, NULL))) {
			char *s = strrchr(dir, '/');
			if (!s || s == dir)
				break;
			*s = '\0';
		}
		size_t n = strlen(x->out_real);
		int inside = real && !strncmp(real, x->out_real, n) &&
			     (real[n] == '/' || real[n] == '\0');
		free(real);
		free(dir);
		if (!inside) {
			snprintf(why, sizeof why, "its output %.400s would be written outside the "
				 "output folder (through a symlink in it): refused", it->outputs[i]);
			return why;
		}
		free(x->last_dir);
		x->last_dir = strndup(it->outputs[i], dl);
	}
	return NULL;
}

/* XXH3 of a file's bytes (--checksum); 0 when it cannot be read. */
static uint64_t file_checksum(const char *path)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return 0;
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		XXH3_64bits_update(st, buf, n);
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	fclose(f);
	return h ? h : 1;
}

enum decision { DO_IT, SKIP_UPTODATE, SKIP_FAILED };

/*
 * Redo, skip, or skip as failed earlier? The journal's row must match the file
 * (size, mtime, content with --checksum) and the settings fingerprint; outputs must
 * exist (discover says so: ITEM_UPTODATE). Outputs that are up to date with no row
 * at all are adopted (first run with a journal, or a lost one).
 */
static enum decision decide(run_ctx *x, const discover_item *it, const char *root,
			    uint64_t *checksum)
{
	if (!x->j || !root)
		return it->state == ITEM_UPTODATE ? SKIP_UPTODATE : DO_IT;
	if (x->o->force)
		return DO_IT;
	journal_row row;
	journal_get(x->j, root, it->rel, &row);
	int64_t mtime = (int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec;
	if (x->o->checksum)
		*checksum = file_checksum(it->input);
	int same_file = row.status != JOURNAL_NONE && row.size == it->size &&
			row.mtime_ns == mtime && (!x->o->checksum || row.checksum == *checksum);
	int same_settings = row.fingerprint == x->fingerprint;
	if (same_file && same_settings && row.status == JOURNAL_FAILED && !x->o->retry_failed) {
		snprintf(x->last_cause, sizeof x->last_cause, "%s", row.cause);
		return SKIP_FAILED;
	}
	if (it->state != ITEM_UPTODATE)
		return DO_IT;
	if (row.status == JOURNAL_NONE) {
		journal_put(x->j, root, it->rel, it->size, mtime, x->fingerprint, *checksum,
			    JOURNAL_OK, NULL, it->outputs, it->noutputs, 0);
		x->adopted++;
		return SKIP_UPTODATE;
	}
	if (same_file && same_settings && row.status == JOURNAL_OK)
		return SKIP_UPTODATE;
	return DO_IT;
}

/* Is this file in this run's shard? Errors of a PATH itself (rel is the PATH) go
 * to every shard's report, so none of them loses sight of a missing folder. */
static int ours(const run_ctx *x, const discover_item *it)
{
	if (!x->shard.n)
		return 1;
	if (it->state == ITEM_ERROR && it->noutputs == 0 && !strcmp(it->rel, it->input))
		return 1;
	return shard_of(it->rel, x->shard.n) == x->shard.k;
}

/* The pool asks for the next file to thumbnail; up-to-date and bad ones are
 * reported here and passed over. */
static int feed(void *data, pool_task *t)
{
	run_ctx *x = data;
	discover_item it;
	while (discover_next(x->d, &it)) {
		if (!ours(x, &it))
			continue;
		atomic_fetch_add(&x->c.found, 1);
		if (it.state == ITEM_ERROR) {
			if (!strcmp(it.rel, it.input)) /* a PATH itself is missing or unreadable */
				x->walk_errors++;
			atomic_fetch_add(&x->c.failed, 1);
			report_item(x, &it, REPORT_ERROR, it.error);
			continue;
		}
		const char *root = root_of(x, &it);
		uint64_t checksum = 0;
		switch (decide(x, &it, root, &checksum)) {
		case SKIP_UPTODATE:
			atomic_fetch_add(&x->c.skipped, 1);
			report_item(x, &it, REPORT_SKIPPED, NULL);
			continue;
		case SKIP_FAILED: {
			char cause[700];
			snprintf(cause, sizeof cause, "failed earlier, unchanged since: %s "
						     "(--retry-failed tries again)", x->last_cause);
			x->failed_earlier++;
			atomic_fetch_add(&x->c.failed, 1);
			report_item(x, &it, REPORT_ERROR, cause);
			continue;
		}
		case DO_IT:
			break;
		}
		const char *escape = outputs_escape(x, &it);
		if (escape) {
			atomic_fetch_add(&x->c.failed, 1);
			report_item(x, &it, REPORT_ERROR, escape);
			continue;
		}
		if (task_encode(&x->buf, it.input, it.outputs, it.noutputs) < 0 ||
		    inflight_add(x, x->produced, x->buf.data, x->buf.len, root, &it, checksum) < 0) {
			atomic_fetch_add(&x->c.failed, 1);
			report_item(x, &it, REPORT_ERROR, "out of memory");
			continue;
		}
		x->produced++;
		*t = (pool_task){x->buf.data, x->buf.len};
		return 1;
	}
	atomic_store(&x->c.walk_done, 1);
	return 0;
}

/* Remove the temp files a killed worker may have left for these outputs: a worker
 * cleans up after itself on every error, but not after SIGKILL. Temp names are
 * fixed (".<name>.imgpool-tmp", see thumb.c), so this is one unlink each. */
static void remove_stale_temps(const char *const *outputs, int n)
{
	for (int i = 0; i < n; i++) {
		const char *slash = strrchr(outputs[i], '/');
		const char *base = slash ? slash + 1 : outputs[i];
		int dirlen = slash ? (int)(slash - outputs[i]) : 0;
		char tmp[4200];
		int k = slash ? snprintf(tmp, sizeof tmp, "%.*s/.%s.imgpool-tmp", dirlen,
					 outputs[i], base)
			      : snprintf(tmp, sizeof tmp, ".%s.imgpool-tmp", base);
		if (k > 0 && (size_t)k < sizeof tmp)
			unlink(tmp);
	}
}

/* The "args" members of a task's trace event (a static buffer: one at a time). */
static const char *trace_args(const report_file *f)
{
	static char buf[4096];
	char *p;
	size_t n;
	FILE *m = open_memstream(&p, &n);
	if (!m)
		return NULL;
	fputs("\"input\":", m);
	report_json_string(m, f->input);
	fputs(",\"outputs\":[", m);
	for (int i = 0; i < f->noutputs; i++) {
		if (i)
			putc(',', m);
		report_json_string(m, f->outputs[i]);
	}
	putc(']', m);
	if (f->res) {
		fprintf(m, ",\"in\":\"%dx%d\",\"bytes_in\":%llu", f->res->in_w, f->res->in_h,
			(unsigned long long)f->res->in_bytes);
		uint64_t out = 0;
		for (int i = 0; i < f->res->nout; i++)
			out += f->res->out[i].bytes;
		fprintf(m, ",\"out\":\"%dx%d\",\"bytes_out\":%llu", f->res->out[0].w,
			f->res->out[0].h, (unsigned long long)out);
	}
	if (f->cause) {
		fputs(",\"cause\":", m);
		report_json_string(m, f->cause);
	}
	fprintf(m, ",\"attempts\":%d", f->attempts);
	fclose(m);
	snprintf(buf, sizeof buf, "%s", n < sizeof buf ? p : "\"truncated\":true");
	free(p);
	return buf;
}

/* One result from the pool: report it and count it. */
static void handle_result(run_ctx *x, const pool_result *r)
{
	inflight *e = inflight_take(x, r->index);
	const char *input = "?", *outputs[THUMB_MAX_SIZES];
	int n = 0;
	if (!e || task_decode(e->task, e->len, &input, outputs, &n) < 0) {
		input = "?";
		n = 0;
	}
	report_file f = {
		.input = input, .noutputs = n, .outputs = outputs, .attempts = r->attempts,
		.worker = r->worker, .ms = r->end_ns > r->start_ns ? (r->end_ns - r->start_ns) / 1e6 : 0,
	};
	thumb_result res;
	switch (r->status) {
	case POOL_OK:
		if (task_result_decode(r->data, r->len, &res) < 0) {
			f.status = REPORT_ERROR;
			f.cause = "internal error: malformed result from a worker";
			break;
		}
		f.status = REPORT_OK;
		f.res = &res;
		break;
	case POOL_CANCELLED:
		f.status = REPORT_CANCELLED;
		f.cause = r->data;
		remove_stale_temps(outputs, n);
		break;
	default: /* POOL_ERROR, POOL_CRASHED, POOL_TIMEOUT */
		f.status = REPORT_ERROR;
		f.cause = r->data && r->len ? r->data : "unknown error";
		if (r->status != POOL_ERROR)
			remove_stale_temps(outputs, n);
		break;
	}
	if (r->status == POOL_OK || r->status == POOL_ERROR)
		x->sum.task_s += f.ms / 1e3;
	/* A failure of the output side (disk full, a folder we cannot write) says
	 * nothing about the input: not remembered as "failed earlier". */
	int output_side = f.status == REPORT_ERROR && f.cause &&
			  (!strncmp(f.cause, "cannot write ", 13) ||
			   !strncmp(f.cause, "cannot create ", 14) ||
			   !strncmp(f.cause, "cannot rename ", 14));
	if (x->j && e && e->root && !output_side &&
	    (f.status == REPORT_OK || f.status == REPORT_ERROR))
		journal_put(x->j, e->root, e->rel, e->size, e->mtime_ns, x->fingerprint, e->checksum,
			    f.status == REPORT_OK ? JOURNAL_OK : JOURNAL_FAILED, f.cause, outputs, n,
			    f.ms);
	if (f.status == REPORT_OK) {
		atomic_fetch_add(&x->c.done, 1);
		x->sum.bytes_in += res.in_bytes;
		for (int i = 0; i < res.nout; i++)
			x->sum.bytes_out += res.out[i].bytes;
	} else if (f.status == REPORT_ERROR) {
		atomic_fetch_add(&x->c.failed, 1);
	} else {
		x->sum.cancelled++;
	}
	report_file_done(x->rep, &f);
	if (x->tr && r->start_ns) {
		static const trace_status ts[] = {
			[POOL_OK] = TRACE_OK, [POOL_ERROR] = TRACE_ERROR,
			[POOL_CRASHED] = TRACE_CRASHED, [POOL_TIMEOUT] = TRACE_TIMEOUT,
			[POOL_CANCELLED] = TRACE_CANCELLED,
		};
		trace_attempt(x->tr, r->worker, r->pid, r->start_ns, r->end_ns, base_of(input),
			      ts[r->status], trace_args(&f));
	}
	inflight_free(e);
}

/* Pool events: deaths, respawns and retried attempts, for the trace. */
static void on_pool_event(const pool_event *ev, void *data)
{
	run_ctx *x = data;
	if (ev->kind == POOL_EV_RETRY) {
		/* The dead attempt may have left a temp file; the retry is not running yet
		 * (the event comes before it is queued again), so nothing else writes these
		 * names now. */
		inflight *e = inflight_peek(x, ev->index);
		const char *input, *outputs[THUMB_MAX_SIZES];
		int n;
		if (e && task_decode(e->task, e->len, &input, outputs, &n) == 0)
			remove_stale_temps(outputs, n);
	}
	if (!x->tr)
		return;
	switch (ev->kind) {
	case POOL_EV_SPAWN:
		trace_instant(x->tr, ev->worker, ev->at_ns, "worker started", "");
		break;
	case POOL_EV_EXIT:
		trace_instant(x->tr, ev->worker, ev->at_ns,
			      ev->recycled ? "worker recycled" : "worker died", ev->cause);
		break;
	case POOL_EV_RETRY: {
		const char *input = inflight_input(x, ev->index);
		char args[600];
		snprintf(args, sizeof args, "\"attempt\":%d", ev->attempt);
		trace_attempt(x->tr, ev->worker, ev->pid, ev->start_ns, ev->end_ns, base_of(input),
			      ev->status == POOL_TIMEOUT ? TRACE_TIMEOUT : TRACE_CRASHED, args);
		trace_instant(x->tr, ev->worker, ev->at_ns, "retry", ev->cause);
		break;
	}
	}
}

/* Is the output filesystem below --min-free? Then say so once and drain. */
static void check_disk(run_ctx *x, pool *p)
{
	struct statvfs vfs;
	if (!x->min_free || x->disk_msg[0] || statvfs(x->o->out_dir, &vfs) < 0)
		return;
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail >= (uint64_t)x->min_free)
		return;
	char a[32], l[32];
	snprintf(x->disk_msg, sizeof x->disk_msg,
		 "stopped: only %s free on the filesystem of '%.300s', below --min-free %s; "
		 "files not started are left for the next run",
		 report_bytes(avail, a, sizeof a), x->o->out_dir,
		 report_bytes((uint64_t)x->min_free, l, sizeof l));
	pool_interrupt(p);
}

/* ------------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
			kids.ru_stime.tv_sec) +
	       (self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
		kids.ru_stime.tv_usec) / 1e6;
}

/* --prune: one journal row whose input may be gone. Returns 1 to drop the row. */
static int prune_one(void *data, const char *root, const char *rel, const char *outputs)
{
	run_ctx *x = data;
	char input[8400];
	struct stat st;
	snprintf(input, sizeof input, "%s/%s", root, rel);
	if (lstat(input, &st) == 0 || errno != ENOENT)
		return 0; /* still there (or we cannot tell): keep its outputs */
	for (const char *p = outputs; *p;) {
		size_t n = strcspn(p, "\n");
		char *out = strndup(p, n);
		p += n + (p[n] == '\n');
		if (!out)
			continue;
		/* Only regular files the journal says we made; never follow a link. */
		if (lstat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (!x->o->dry_run && unlink(out) == 0) {
				/* and the folders it leaves empty, up to the output folder */
				char *dir = strdup(out);
				size_t top = strlen(x->o->out_dir);
				for (char *slash; dir && (slash = strrchr(dir, '/')) &&
						  (size_t)(slash - dir) > top;) {
					*slash = '\0';
					if (rmdir(dir) < 0)
						break;
				}
				free(dir);
			}
			report_pruned(x->rep, out, input, x->o->dry_run);
			x->pruned++;
		}
		free(out);
	}
	return !x->o->dry_run;
}

/* --prune after a whole walk: the outputs of recorded inputs that are gone. */
static void prune(run_ctx *x)
{
	if (x->walk_errors) {
		fprintf(stderr, "imgpool: --prune skipped: %d input path(s) could not be walked, "
				"so missing files may only be unreachable\n", x->walk_errors);
		return;
	}
	const char **roots = calloc((size_t)x->o->npaths, sizeof *roots);
	int n = 0;
	for (int i = 0; roots && i < x->o->npaths; i++) {
		struct stat st;
		if (stat(x->o->paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			char *r = realpath(x->o->paths[i], NULL);
			if (r)
				roots[n++] = r;
		}
	}
	journal_each(x->j, roots, n, prune_one, x);
	for (int i = 0; i < n; i++)
		free((char *)roots[i]);
	free(roots);
}

/* --dry-run: walk and plan, list, change nothing. */
static int dry_run(run_ctx *x)
{
	discover_item it;
	while (discover_next(x->d, &it)) {
		if (!ours(x, &it))
			continue;
		if (it.state == ITEM_ERROR) {
			if (!strcmp(it.rel, it.input))
				x->walk_errors++;
			x->sum.failed++;
			report_item(x, &it, REPORT_ERROR, it.error);
			continue;
		}
		uint64_t checksum = 0;
		enum decision d = decide(x, &it, root_of(x, &it), &checksum);
		if (d == SKIP_UPTODATE) {
			x->sum.skipped++;
			report_item(x, &it, REPORT_SKIPPED, NULL);
		} else if (d == SKIP_FAILED) {
			x->sum.failed++;
			report_item(x, &it, REPORT_ERROR, x->last_cause);
		} else {
			x->sum.planned++;
			report_item(x, &it, REPORT_PLANNED, NULL);
		}
	}
	if (x->o->prune && x->j)
		prune(x);
	x->sum.pruned = x->pruned;
	x->sum.dry_run = 1;
	x->sum.exit_code = x->sum.failed ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
	report_summary_print(x->rep, &x->sum);
	return x->sum.exit_code;
}

/* A --report path with {shard} replaced by "K-of-N" (or "all"); malloc'd. */
static char *expand_shard(const char *path, const char *name)
{
	size_t n = strlen(path) * (strlen(name) + 1) + 1;
	char *out = malloc(n), *w = out;
	if (!out)
		return NULL;
	for (const char *p = path; *p;) {
		if (!strncmp(p, "{shard}", 7)) {
			w += sprintf(w, "%s", name);
			p += 7;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	return out;
}

static task_config worker_config; /* in the parent's memory before fork: workers see it */

int run_imgpool(const imgpool_options *o)
{
	double t0 = now_s();
	char msg[4200];
	int lock_fd = -1;
	shard sh;
	if (shard_resolve(o->shard_arg, o->shard_count, &sh, msg, sizeof msg) < 0) {
		fprintf(stderr, "imgpool: %s\n", msg);
		return EXIT_USAGE;
	}
	char shname[64], lock_name[80], shard_label[64] = "";
	shard_name(&sh, shname, sizeof shname);
	/* Array tasks on one (shared) output folder each hold their own lock. */
	snprintf(lock_name, sizeof lock_name, sh.n ? "lock-%s" : "lock", shname);
	if (sh.n)
		snprintf(shard_label, sizeof shard_label, "%d/%d", sh.k, sh.n);
	char *report_path = o->report_path ? expand_shard(o->report_path, shname) : NULL;
	if (!o->dry_run) {
		lock_fd = take_lock(o->out_dir, lock_name, msg, sizeof msg);
		if (lock_fd < 0) {
			fprintf(stderr, "imgpool: %s\n", msg);
			free(report_path);
			return lock_fd == -2 ? EXIT_LOCKED : EXIT_SOME_FAILED;
		}
	}
	static run_ctx x; /* large (the in-flight table); one per process */
	memset(&x, 0, sizeof x);
	x.o = o;
	x.shard = sh;
	x.sum.shard = shard_label;
	x.rep = report_open(stdout, stderr, o->quiet, o->verbose, report_path, msg,
			    sizeof msg);
	if (!x.rep) {
		fprintf(stderr, "imgpool: %s\n", msg);
		free(report_path);
		return EXIT_USAGE;
	}
	discover_config dc = {
		.paths = o->paths, .npaths = o->npaths, .recursive = o->recursive,
		.includes = o->includes, .nincludes = o->nincludes, .excludes = o->excludes,
		.nexcludes = o->nexcludes, .out_dir = o->out_dir,
		.name_template = o->name_template, .settings = &o->settings, .force = o->force,
	};
	char *derr = NULL;
	x.d = discover_open(&dc, &derr);
	if (!x.d) {
		fprintf(stderr, "imgpool: %s\n", derr ? derr : "cannot start");
		free(derr);
		report_close(x.rep);
		free(report_path);
		return EXIT_USAGE;
	}
	x.out_real = realpath(o->out_dir, NULL);
	/* The journal: per shard, so array tasks never share an SQLite file. */
	char settings_text[1200], jname[96], jwarn[4400], jerr[4400];
	x.fingerprint = journal_fingerprint(&o->settings, o->name_template, settings_text,
					    sizeof settings_text);
	snprintf(jname, sizeof jname, sh.n ? "journal-%s.sqlite" : "journal.sqlite", shname);
	jwarn[0] = jerr[0] = '\0';
	x.j = o->no_journal ? NULL
			    : journal_open(o->out_dir, jname, settings_text, o->dry_run, jwarn,
					   sizeof jwarn, jerr, sizeof jerr);
	if (jwarn[0])
		fprintf(stderr, "%s\n", jwarn);
	if (!x.j && jerr[0])
		fprintf(stderr, "imgpool: warning: %s; going on without a journal (up to date "
				"by modification times only)\n", jerr);
	if (o->dry_run) {
		int rc = dry_run(&x);
		journal_close(x.j, 0, 0, 0, 0, 0);
		discover_close(x.d);
		report_close(x.rep);
		free(x.root_given);
		free(x.root_real);
		free(x.out_real);
		free(x.last_dir);
		free(report_path);
		return rc;
	}

	if (o->trace_path || o->timeline_path) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int jobs0 = o->jobs ? o->jobs : shard_cpus();
		x.tr = trace_open(o->trace_path, o->timeline_path,
				  (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
					  (int64_t)((now_s() - t0) * 1e9),
				  jobs0, msg, sizeof msg);
		if (!x.tr) {
			fprintf(stderr, "imgpool: %s\n", msg);
			discover_close(x.d);
			report_close(x.rep);
			free(report_path);
			return EXIT_USAGE;
		}
	}
	/* --min-free: the default is 1 GiB or 2 % of the filesystem, the smaller. */
	struct statvfs vfs;
	if (o->min_free_set)
		x.min_free = o->min_free_pct > 0 && statvfs(o->out_dir, &vfs) == 0
				     ? (int64_t)((double)vfs.f_blocks * vfs.f_frsize * o->min_free_pct / 100)
				     : (int64_t)o->min_free;
	else if (statvfs(o->out_dir, &vfs) == 0) {
		int64_t two_pct = (int64_t)((double)vfs.f_blocks * vfs.f_frsize * 0.02);
		x.min_free = two_pct < ((int64_t)1 << 30) ? two_pct : (int64_t)1 << 30;
	}

	int cpus = shard_cpus(); /* what the scheduler gave this task, not the node */
	int jobs = o->jobs ? o->jobs : cpus;
	worker_config.settings = o->settings;
	worker_config.vips_threads = cpus / jobs > 1 ? cpus / jobs : 1;
	pool_options po = {
		.workers = jobs, .init = task_worker_init, .init_arg = &worker_config,
		.fini = task_worker_fini, .timeout = o->timeout,
		.retries = o->retries ? o->retries : -1, .prefetch = 1,
		.max_worker_rss = o->max_worker_rss, .on_event = on_pool_event, .event_data = &x,
	};
	char *perr = NULL;
	pool *p = pool_create(&po, &perr);
	if (!p) {
		fprintf(stderr, "imgpool: cannot start the workers: %s\n", perr ? perr : "?");
		free(perr);
		discover_close(x.d);
		report_close(x.rep);
		free(report_path);
		return EXIT_SOME_FAILED;
	}
	the_pool = p;
	install_signals();

	progress_mode mode = o->progress;
	if (mode == PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
	monitor *mon = monitor_start(mode, o->progress_interval, p, &x.c, x.rep, x.tr);
	check_disk(&x, p);

	pool_iter *it = pool_imap_unordered(p, task_thumbnail, feed, &x, 1);
	int broken = 0, terminated = 0;
	if (!it) {
		broken = 1;
	} else {
		pool_result r;
		int k;
		while ((k = pool_iter_next_timed(it, &r, 0.25)) != 0) {
			if (k == 1) {
				handle_result(&x, &r);
				pool_result_release(&r);
				check_disk(&x, p);
			} else if (k < 0) {
				broken = 1;
				break;
			}
			if (signal_count >= 2 && !terminated) {
				pool_terminate(p); /* a second Ctrl-C: stop now */
				terminated = 1;
			}
		}
		pool_iter_free(it);
	}
	if (broken)
		fprintf(stderr, "imgpool: the worker pool stopped: %s\n", pool_error(p));
	pool_close(p);
	if (!terminated && !broken)
		pool_join(p);
	monitor_sample ms = {0};
	monitor_stop(mon, &ms);
	pool_stats ps;
	pool_stats_get(p, &ps);
	x.sum.recycled = ps.recycled;
	x.sum.crashed = ps.crashed;
	the_pool = NULL;
	pool_destroy(p);
	/* Whatever was never handed to the pool (interrupted) is neither done nor failed. */
	for (int b = 0; b < INFLIGHT_BUCKETS; b++)
		for (inflight *e = x.bucket[b], *n; e; e = n) {
			n = e->next;
			inflight_free(e);
		}
	if (o->prune && x.j && !got_signal && !broken && !x.disk_msg[0])
		prune(&x);
	x.sum.done = atomic_load(&x.c.done);
	x.sum.failed = atomic_load(&x.c.failed);
	x.sum.skipped = atomic_load(&x.c.skipped);
	x.sum.wall_s = now_s() - t0;
	x.sum.cpu_s = cpu_seconds();
	x.sum.workers = jobs;
	x.sum.interrupted = got_signal;
	x.sum.rss_peak = ms.rss_peak;
	x.sum.cores = ms.cores ? ms.cores : cpus;
	x.sum.stop_reason = x.disk_msg[0] ? x.disk_msg : NULL;
	x.sum.exit_code = got_signal ? 128 + got_signal
			  : x.disk_msg[0] ? EXIT_SOME_FAILED
			  : x.sum.failed || broken ? EXIT_SOME_FAILED
						   : EXIT_ALL_DONE;
	x.sum.adopted = x.adopted;
	x.sum.failed_earlier = x.failed_earlier;
	x.sum.pruned = x.pruned;
	report_summary_print(x.rep, &x.sum);
	journal_close(x.j, x.sum.done, x.sum.failed, x.sum.skipped, x.sum.wall_s, got_signal);
	free(x.root_given);
	free(x.root_real);
	free(x.out_real);
	free(x.last_dir);
	if (x.tr) {
		char title[300];
		snprintf(title, sizeof title, "imgpool: %llu files on %d workers",
			 (unsigned long long)(x.sum.done + x.sum.failed), jobs);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (trace_close(x.tr, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, title, msg,
				sizeof msg) < 0) {
			fprintf(stderr, "imgpool: %s\n", msg);
			if (x.sum.exit_code == EXIT_ALL_DONE)
				x.sum.exit_code = EXIT_SOME_FAILED;
		}
	}
	if (report_close(x.rep) < 0) {
		fprintf(stderr, "imgpool: --report: writing '%s' failed: %s\n", report_path,
			strerror(errno));
		if (x.sum.exit_code == EXIT_ALL_DONE)
			x.sum.exit_code = EXIT_SOME_FAILED;
	}
	discover_close(x.d);
	pool_buf_release(&x.buf);
	free(report_path);
	if (lock_fd >= 0)
		close(lock_fd);
	return x.sum.exit_code;
}
