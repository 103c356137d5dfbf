/* SPDX-License-Identifier: MIT */
/*
 * results.c — what a run does with each result: publish the thumbnails made (in
 * batches, the journal written ahead), remember the outcome, report it, count it,
 * draw it on the trace. See run_internal.h.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "clock.h"
#include "drive.h"
#include "run_internal.h"
#include "stop.h"
#include "task.h"

/* The temp file names of a task's outputs as made by worker pid. */
static void temp_names(const inflight_file *f, int pid, char names[][TASK_TEMP_NAME_MAX])
{
	for (int i = 0; i < f->n; i++)
		task_temp_name(names[i], TASK_TEMP_NAME_MAX, f->index, i, pid);
}

/* Remove the temp files an attempt by pid may have left (a worker removes its own
 * on every error, but not when it is killed). */
void run_remove_temps(run_ctx *x, const inflight_file *f, int pid)
{
	char names[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX];
	if (!f || pid <= 0)
		return;
	temp_names(f, pid, names);
	for (int i = 0; i < f->n; i++)
		outdir_tmp_remove(x->od, names[i]);
}

/* The "args" members of a task's trace event into buf. */
static void trace_args(const report_file *f, char *buf, size_t len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&p, &n);
	buf[0] = '\0';
	if (!m)
		return;
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
		uint64_t out = 0;
		for (int i = 0; i < f->res->nout; i++)
			out += f->res->out[i].bytes;
		fprintf(m, ",\"in\":\"%dx%d\",\"bytes_in\":%llu,\"out\":\"%dx%d\",\"bytes_out\":%llu",
			f->res->in_w, f->res->in_h, (unsigned long long)f->res->in_bytes,
			f->res->out[0].w, f->res->out[0].h, (unsigned long long)out);
	}
	if (f->cause) {
		fputs(",\"cause\":", m);
		report_json_string(m, f->cause);
	}
	if (f->kind != FAIL_NONE) {
		fputs(",\"kind\":", m);
		report_json_string(m, failure_name(f->kind));
	}
	fprintf(m, ",\"attempts\":%d", f->attempts);
	fclose(m);
	snprintf(buf, len, "%s", n < len ? p : "\"truncated\":true");
	free(p);
}

/* What a pool status means for a file whose task did not return a result; buf
 * holds a cause made here. */
static failure_kind kind_of(const pool_result *r, const char **cause, char *buf, size_t len)
{
	failure_kind k;
	switch (r->status) {
	case POOL_ERROR:
		task_error_decode(r->data, r->len, &k, cause);
		return k;
	case POOL_CRASHED:
		*cause = r->len ? r->data : "its worker crashed";
		/* A fault of the worker's own (SIGSEGV, SIGABRT, SIGILL, SIGFPE, SIGSYS,
		 * SIGTRAP: a decoder reading out of bounds, an assertion) is a crash on
		 * the file. Any other signal says nothing sure about it, nor does an end
		 * whose cause is not known (-1): tried again next run, remembered after
		 * FAILURE_STRIKES of them. Those are signals from outside (SIGKILL: an
		 * OOM killer, a cgroup limit, an operator; TERM, HUP, USR1, USR2, QUIT,
		 * ALRM: schedulers' warnings), SIGXCPU (ulimit -t, which counts every file
		 * a worker ran: the one running when it fires is seldom the cause), and
		 * SIGBUS (a write to a mapped file on a full filesystem, liborc's code
		 * file in the scratch folder beneath OUT, or a mapped file cut short). */
		switch (r->term_signal) {
		case SIGSEGV: case SIGABRT: case SIGILL: case SIGFPE: case SIGSYS: case SIGTRAP:
			return FAIL_CRASH;
		case SIGBUS:
			snprintf(buf, len, "%.*s (a file it had mapped in memory could not be "
				 "written or read: the output filesystem full, or a file cut "
				 "short under it)", (int)(r->len ? r->len : 20),
				 r->len ? r->data : "its worker crashed");
			*cause = buf;
			return FAIL_ENVIRONMENT;
		default:
			return FAIL_ENVIRONMENT;
		}
	case POOL_TIMEOUT:
		/* what to do about it: a huge photo on a slow disk may need longer */
		snprintf(buf, len, "%.*s (--timeout gives each file longer)",
			 (int)(r->len ? r->len : 9), r->len ? r->data : "timed out");
		*cause = buf;
		return FAIL_TIMEOUT;
	default: /* POOL_CANCELLED */
		/* The pool broke ("broken: <cause>"): not a stop anyone asked for, an
		 * error naming the cause, as the files never handed to it get
		 * (answer_unstarted()). */
		if (r->len > 8 && !strncmp(r->data, "broken: ", 8)) {
			snprintf(buf, len, "%s: the worker pool stopped (%.*s)",
				 r->attempts ? "not finished" : "not started", (int)r->len, r->data);
			*cause = buf;
			return FAIL_ENVIRONMENT;
		}
		/* A first signal lets running files finish: those cancelled then were
		 * only queued (sent ahead to a worker, or waiting), never started. */
		*cause = r->attempts ? "interrupted before it finished; the next run does it"
				     : "stopped before it started; the next run does it";
		return FAIL_INTERRUPTED;
	}
}

static void trace_result(run_ctx *x, const attempt *a, const report_file *f)
{
	static const trace_status ts[] = {
		[POOL_OK] = TRACE_OK, [POOL_ERROR] = TRACE_ERROR, [POOL_CRASHED] = TRACE_CRASHED,
		[POOL_TIMEOUT] = TRACE_TIMEOUT, [POOL_CANCELLED] = TRACE_CANCELLED,
	};
	char args[TRACE_ARGS];
	if (!x->tr || !a->start_ns)
		return;
	trace_args(f, args, sizeof args);
	const char *slash = strrchr(f->input, '/');
	trace_attempt(x->tr, a->worker, a->pid, a->start_ns, a->end_ns,
		      slash ? slash + 1 : f->input,
		      f->status == REPORT_ERROR && a->status == POOL_OK ? TRACE_ERROR
									 : ts[a->status],
		      args);
}

/* A file's outcome is final: remember, report, count, free. */
static void complete(run_ctx *x, inflight_file *f, const attempt *a, report_file *rf,
		     const thumb_result *res)
{
	if (rf->status != REPORT_OK)
		run_remove_temps(x, f, a->pid); /* a failed or killed attempt's leftovers */
	if (a->status == POOL_OK || a->status == POOL_ERROR)
		x->sum.task_s += rf->ms / 1e3;
	plan_outcome po = {
		.root = f->root, .rel = f->rel, .size = f->size, .mtime_ns = f->mtime_ns,
		.checksum = res ? res->in_checksum : f->checksum, .kind = rf->kind,
		.cause = rf->cause, .ms = rf->ms, .attempts = a->attempts,
	};
	/* A task the pool cancelled (a stop, a break) says nothing of the file: not
	 * remembered, or a pool broken thrice alike would skip its files for good. */
	if (a->status != POOL_CANCELLED && plan_remember(x->plan, &po) < 0)
		x->journal_unrecorded = 1; /* said at the end (finish()) */
	if (rf->status == REPORT_OK) {
		atomic_fetch_add(&x->c.done, 1);
		x->sum.bytes_in += res->in_bytes;
		for (int i = 0; i < res->nout; i++)
			x->sum.bytes_out += res->out[i].bytes;
	} else if (rf->status == REPORT_ERROR) {
		atomic_fetch_add(&x->c.failed, 1);
		discover_release_outputs(x->d, f->input, f->out_rel, f->n);
	} else {
		x->sum.cancelled++;
	}
	report_file_done(x->rep, rf);
	trace_result(x, a, rf);
	inflight_file_free(f);
}

static report_file file_report(const inflight_file *f, const attempt *a)
{
	return (report_file){
		.input = f->input, .noutputs = f->n, .outputs = (const char *const *)f->display,
		.attempts = a->attempts, .worker = a->worker,
		.ms = a->end_ns > a->start_ns ? (double)(a->end_ns - a->start_ns) / 1e6 : 0,
	};
}

void run_removed_add(removed_list *l, const outdir *od, const char *rel)
{
	char *shown, **more;
	if (asprintf(&shown, "%s/%s", outdir_path(od), rel) < 0)
		return;
	if (!(more = realloc(l->shown, (size_t)(l->n + 1) * sizeof *more))) {
		free(shown);
		return;
	}
	l->shown = more;
	l->shown[l->n++] = shown;
}

void run_removed_free(removed_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->shown[i]);
	free(l->shown);
	*l = (removed_list){0};
}

/* What one batch's publishing removed, per item (the publisher's removed()). */
typedef struct batch_removed {
	const publish_item *items;
	run_ctx *x;
	removed_list of[PUBLISH_BATCH];
} batch_removed;

static void on_removed(void *data, const publish_item *it, const char *rel)
{
	batch_removed *b = data;
	ptrdiff_t k = it - b->items;
	if (k >= 0 && k < PUBLISH_BATCH)
		run_removed_add(&b->of[k], b->x->od, rel);
}

/* A thumbnail of earlier settings that could not be removed: said, exit 1. */
static void say_kept(run_ctx *x, const publish_item *it, const char *rel, const char *cause)
{
	char *shown;
	if (asprintf(&shown, "%s/%s", outdir_path(x->od), rel) < 0)
		return;
	report_removal_kept(x->rep, shown, it->input, cause);
	x->removal_trouble = 1;
	free(shown);
}

static void on_kept(void *data, const publish_item *it, const char *rel, const char *cause)
{
	say_kept(((batch_removed *)data)->x, it, rel, cause);
}

/* The planner's removals for an up-to-date file (plan.h): on its skipped record. */
void run_on_stale_removed(void *data, const publish_item *it, const char *rel)
{
	run_ctx *x = data;
	(void)it;
	run_removed_add(&x->passed_removed, x->od, rel);
}

void run_on_stale_kept(void *data, const publish_item *it, const char *rel, const char *cause)
{
	say_kept(data, it, rel, cause);
}

/* Publish every finished file waiting, with one write-ahead commit for all. */
void run_flush_finished(run_ctx *x)
{
	publish_item items[PUBLISH_BATCH] = {{0}};
	batch_removed removed = {items, x, {{0}}};
	publish_error errs[PUBLISH_BATCH];
	const char *temps[PUBLISH_BATCH][THUMB_MAX_SIZES];
	uint64_t sums[PUBLISH_BATCH][THUMB_MAX_SIZES], inos[PUBLISH_BATCH][THUMB_MAX_SIZES];
	int sync_err[PUBLISH_BATCH], batch[PUBLISH_BATCH], m = 0;
	char sync_cause[PUBLISH_BATCH][96];
	int n = x->nfinished;
	if (!n)
		return;
	if (!x->sync)
		BUG("finished files without a temp folder to sync");
	/* Each file's temp files on disk first (outsync.h); the ones that are not
	 * fail, the others go into place together. */
	for (int k = 0; k < n; k++) {
		const finished *d = &x->finished[k];
		const inflight_file *f = d->f;
		if (outsync_wait(x->sync, k, &sync_err[k], stop_now) < 0) {
			if (sync_err[k] == EINTR)
				snprintf(sync_cause[k], sizeof sync_cause[k],
					 "interrupted before its thumbnail was on disk");
			else
				snprintf(sync_cause[k], sizeof sync_cause[k],
					 "cannot write the thumbnail: %s", strerror(sync_err[k]));
			continue;
		}
		for (int i = 0; i < f->n; i++) {
			temps[m][i] = d->temps[i];
			sums[m][i] = d->res.out[i].checksum;
			inos[m][i] = d->res.out[i].ino;
		}
		items[m] = (publish_item){
			.root = f->root ? f->root : "", .rel = f->rel, .input = f->input,
			.in_dev = f->dev,
			.in_ino = f->ino, .n = f->n, .out_rel = (const char *const *)f->out_rel,
			.display = (const char *const *)f->display, .temps = temps[m],
			.sums = sums[m], .inos = inos[m],
			.src = {1, f->size, f->mtime_ns, d->res.in_checksum},
		};
		batch[k] = m++;
	}
	if (m) {
		x->pb.removed = on_removed;
		x->pb.kept = on_kept;
		x->pb.removed_data = &removed;
		publish_batch(&x->pb, items, m, errs);
		x->pb.removed = NULL;
		x->pb.kept = NULL;
		x->pb.removed_data = NULL;
	}
	x->nfinished = 0;
	for (int k = 0; k < n; k++) {
		finished *d = &x->finished[k];
		report_file rf = file_report(d->f, &d->a);
		rf.status = REPORT_OK;
		rf.res = &d->res;
		const char *cause = sync_err[k] ? sync_cause[k]
				    : errs[batch[k]].failed ? errs[batch[k]].cause : NULL;
		if (cause) {
			rf.res = NULL;
			rf.status = sync_err[k] == EINTR ? REPORT_CANCELLED : REPORT_ERROR;
			rf.kind = sync_err[k] == EINTR ? FAIL_INTERRUPTED : FAIL_OUTPUT;
			rf.cause = cause;
		}
		/* also a file that failed after its earlier thumbnails in the way went */
		removed_list *gone = sync_err[k] ? NULL : &removed.of[batch[k]];
		if (gone) {
			rf.nremoved = gone->n;
			rf.removed = (const char *const *)gone->shown;
			x->sum.removed += (uint64_t)gone->n;
		}
		complete(x, d->f, &d->a, &rf, rf.status == REPORT_OK ? &d->res : NULL);
		if (gone)
			run_removed_free(gone);
	}
}

/* One result from the pool. A thumbnail made waits (at most PUBLISH_WAIT_S, or
 * until PUBLISH_BATCH are waiting) to be published with others; anything else is
 * final at once. */
void run_handle_result(run_ctx *x, const pool_result *r)
{
	inflight_file *f = inflight_take(x->flight, r->index);
	attempt a = {r->status, r->pid, r->worker, r->attempts, r->start_ns, r->end_ns};
	thumb_result res;
	if (!f)
		BUG("a result for feed index %llu, which is not in flight",
		    (unsigned long long)r->index);
	if (r->status == POOL_OK && task_result_decode(r->data, r->len, &res) == 0) {
		if (!x->nfinished)
			x->finished_since = clock_now_s();
		if (x->nfinished >= PUBLISH_BATCH)
			BUG("%d files waiting to be published", x->nfinished);
		finished *d = &x->finished[x->nfinished];
		*d = (finished){f, a, res, {{0}}};
		temp_names(f, a.pid, d->temps);
		outsync_add(x->sync, x->nfinished++, (const char (*)[TASK_TEMP_NAME_MAX])d->temps,
			    f->n);
		if (x->nfinished == PUBLISH_BATCH)
			run_flush_finished(x);
		return;
	}
	report_file rf = file_report(f, &a);
	char why[MSG_LEN];
	if (r->status == POOL_OK) {
		rf.kind = FAIL_CRASH;
		rf.cause = "internal error: malformed result from a worker";
	} else {
		rf.kind = kind_of(r, &rf.cause, why, sizeof why);
	}
	rf.status = rf.kind == FAIL_INTERRUPTED ? REPORT_CANCELLED : REPORT_ERROR;
	complete(x, f, &a, &rf, NULL);
}

/* How long the results loop may wait: not past a waiting batch's deadline. */
double run_results_wait(const run_ctx *x)
{
	if (!x->nfinished)
		return DRIVE_DEFAULT_WAIT;
	double left = PUBLISH_WAIT_S - (clock_now_s() - x->finished_since);
	return left > 0 ? left : 0;
}

void run_answer_cancelled(run_ctx *x, const char *input, int n, const char *const *outputs)
{
	report_file rf = {.status = REPORT_CANCELLED, .kind = FAIL_INTERRUPTED, .input = input,
			  .noutputs = n, .outputs = outputs, .worker = -1,
			  .cause = "stopped before it started; the next run does it"};
	atomic_fetch_add(&x->c.found, 1);
	x->sum.cancelled++;
	report_file_done(x->rep, &rf);
}

/* Files planned but passed over: up to date, or refused (one answer each). */
void run_on_passed(void *data, const discover_item *it, plan_pass how, failure_kind kind,
		   const char *cause)
{
	run_ctx *x = data;
	report_file f = {
		.status = how == PLAN_SKIPPED ? REPORT_SKIPPED : REPORT_ERROR, .kind = kind,
		.input = it->input, .noutputs = it->noutputs, .outputs = it->outputs,
		.cause = cause, .worker = -1, .nremoved = x->passed_removed.n,
		.removed = (const char *const *)x->passed_removed.shown,
		.dry_run = x->o->dry_run,
	};
	atomic_fetch_add(&x->c.found, 1);
	atomic_fetch_add(how == PLAN_SKIPPED ? &x->c.skipped : &x->c.failed, 1);
	x->sum.removed += (uint64_t)x->passed_removed.n;
	report_file_done(x->rep, &f);
	run_removed_free(&x->passed_removed);
}
