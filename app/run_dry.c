/* SPDX-License-Identifier: MIT */
/*
 * run_dry.c — --dry-run: walk and plan, list what a run would make and remove,
 * change nothing. See run_internal.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inflight.h"
#include "io.h"
#include "run_internal.h"
#include "stop.h"

/* An output of earlier settings a dry run's file would remove (publish.h). */
typedef struct removal {
	run_ctx *x;
	removed_list *gone;
} removal;

static void dry_run_removal(void *data, const char *rel)
{
	removal *r = data;
	run_removed_add(r->gone, r->x->od, rel);
}

/* The files of a dry run that have outputs of earlier settings to list (would
 * remove), the oldest first: each is listed once as many files more are planned
 * as the run's look-ahead window holds (lookahead.h: LOOKAHEAD_FILES, 1 for a
 * --files-from list), or the walk is over. Listed at once, an output a file met
 * later in the walk plans (another input's name now) was "would remove", where
 * the run, which plans that far ahead before it publishes, replaces it: -n said
 * 2 removals, the run made none. Listed later, a file the run publishes first
 * missed a removal the run makes. */
#define DRY_WINDOW LOOKAHEAD_FILES
typedef struct waiting {
	inflight_file *f[DRY_WINDOW];
	uint64_t seq[DRY_WINDOW];     /* files planned before it */
	size_t head, n;
	uint64_t planned;             /* files planned so far */
	uint64_t window;              /* the run's look-ahead */
} waiting;

/* List one planned file: its outputs, and those of earlier settings it would
 * remove that no file planned so far makes. */
static void dry_list(run_ctx *x, const char *input, const char *root, const char *rel, int n,
		     const char *const *out_rel, const char *const *outputs)
{
	removed_list gone = {0};
	if (root && x->j) {
		publish_item mine = {.root = root, .rel = rel, .n = n,
				     .out_rel = out_rel};
		publish_stale_outputs(&x->pb, &mine, dry_run_removal, &(removal){x, &gone});
	}
	report_file f = {.status = REPORT_PLANNED, .input = input, .noutputs = n,
			 .outputs = outputs, .worker = -1, .nremoved = gone.n,
			 .removed = (const char *const *)gone.shown};
	x->sum.planned++;
	x->sum.removed += (uint64_t)gone.n;
	atomic_fetch_add(&x->c.found, 1);
	report_file_done(x->rep, &f);
	run_removed_free(&gone);
}

/* List the oldest waiting file (1), or none is waiting (0). */
static int dry_list_oldest(run_ctx *x, waiting *w)
{
	if (!w->n)
		return 0;
	inflight_file *f = w->f[w->head];
	w->head = (w->head + 1) % DRY_WINDOW;
	w->n--;
	dry_list(x, f->input, f->root, f->rel, f->n, (const char *const *)f->out_rel,
		 (const char *const *)f->display);
	inflight_file_free(f);
	return 1;
}

static void dry_wait(run_ctx *x, waiting *w, inflight_file *f)
{
	if (w->n == DRY_WINDOW)
		dry_list_oldest(x, w);
	size_t at = (w->head + w->n++) % DRY_WINDOW;
	w->f[at] = f;
	w->seq[at] = w->planned;
}

/* One more file planned: list those it is the window's last file after. */
static void dry_planned(run_ctx *x, waiting *w)
{
	w->planned++;
	while (w->n && w->planned - w->seq[w->head] > w->window)
		dry_list_oldest(x, w);
}

/* A file of the dry run: planned, or an error where the run's worker would fail
 * it at once, before any decoder: it cannot be opened (chmod 000, say), or it is
 * empty. Its output name is then free for another input that has it, as in the
 * run (results.c). */
static void dry_one(run_ctx *x, waiting *w, const plan_item *item)
{
	struct stat st;
	const discover_item *it = item->it;
	int fd = -1, empty = it->size == 0; /* the worker looks at the size first */
	if (!empty && (fd = io_open_regular(it->input, &st)) >= 0)
		close(fd);
	if (empty || fd < 0) {
		if (empty)
			run_on_passed(x, it, PLAN_FAILED, FAIL_DECODE, THUMB_EMPTY_FILE);
		else
			run_on_passed(x, it, PLAN_FAILED, FAIL_ENVIRONMENT,
				      errno ? strerror(errno) : "not a regular file");
		/* Free for a file held for it; not from a list, whose run refuses
		 * the others before this one's outcome comes (plan.h) */
		if (!x->o->files_from)
			discover_release_outputs(x->d, it->input, (char *const *)it->out_rel,
						 it->noutputs);
		return;
	}
	if (item->root && x->j && publish_stale_outputs(&x->pb, &(publish_item){
			.root = item->root, .rel = it->rel, .n = it->noutputs,
			.out_rel = it->out_rel}, NULL, NULL) > 0) {
		inflight_file *f = inflight_file_copy(item);
		if (f) {
			dry_wait(x, w, f);
			return;
		}
	}
	dry_list(x, it->input, item->root, it->rel, it->noutputs,
		 (const char *const *)it->out_rel, (const char *const *)it->outputs);
}

/* A --files-from pipe is waited on here rather than inside a read(), so a signal
 * stops the dry run even while the pipe is quiet (the handlers do not restart
 * system calls: poll() ends with EINTR; the timeout covers a signal that comes
 * just before the poll). The files held for another input's outcome (its output
 * name) are decided once the walk is over, as the run decides them. */
void run_dry(run_ctx *x)
{
	plan_item item;
	int got;
	waiting w = {.window = x->o->files_from ? 1 : LOOKAHEAD_FILES};
	discover_nowait(x->d, 1);
	while (!stop_signal() && (got = plan_next(x->plan, &item))) {
		if (got == DISCOVER_LATER) {
			struct pollfd list = {discover_wait_fd(x->d), POLLIN, 0};
			poll(&list, 1, 250);
			continue;
		}
		dry_planned(x, &w);
		dry_one(x, &w, &item);
	}
	while (dry_list_oldest(x, &w))
		;
	while (!stop_signal() && plan_next_held(x->plan, &item)) {
		dry_one(x, &w, &item);
		while (dry_list_oldest(x, &w))
			;
	}
	const discover_item *held; /* a signal: the held ones answered, as in a run */
	while (plan_take_held(x->plan, &held))
		run_answer_cancelled(x, held->input, held->noutputs, held->outputs);
	/* Every file answered (planned, skipped or an error): the summary's total,
	 * with the planned ones as not started, as the report's schema says. */
	if (!stop_signal())
		atomic_store(&x->c.walk_done, 1);
	if (x->o->prune && x->j && !stop_signal())
		run_prune(x);
}
