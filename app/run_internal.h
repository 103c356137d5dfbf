/* SPDX-License-Identifier: MIT */
/*
 * run_internal.h — what the files of one run share (run.c: the feed, the pool,
 * the summary; run_setup.c: setting up and tearing down; results.c: what happens
 * to each result and each file passed over; run_checks.c: what may stop a run
 * midway; run_prune.c: --prune). Private to them:
 * the contract of a run is run.h.
 */
#ifndef IMGPOOL_RUN_INTERNAL_H
#define IMGPOOL_RUN_INTERNAL_H

#include <stdint.h>

#include "count.h"
#include "discover.h"
#include "inflight.h"
#include "lookahead.h"
#include "journal.h"
#include "lock.h"
#include "monitor.h"
#include "options.h"
#include "outdir.h"
#include "outsync.h"
#include "plan.h"
#include "pool.h"
#include "publish.h"
#include "report.h"
#include "shard.h"
#include "thumb.h"
#include "trace.h"

#define MSG_LEN 4200    /* one message line: a cause naming a path or two */
#define TRACE_ARGS 4096 /* the "args" of one trace event */
/* Finished thumbnails are published in batches, with one write-ahead commit each:
 * at most this many, waiting at most this long (a commit per file was most of what
 * publishing cost the parent). */
#define PUBLISH_BATCH OUTSYNC_SLOTS /* 32: one fsync slot each */
#define PUBLISH_WAIT_S 0.05

/* How one attempt of a task went, as the pool said (for the report and the trace). */
typedef struct attempt {
	pool_status status;
	int pid, worker, attempts;
	int64_t start_ns, end_ns;
} attempt;

/* A thumbnail made, waiting to be published. */
typedef struct finished {
	inflight_file *f;
	attempt a;
	thumb_result res;
	char temps[THUMB_MAX_SIZES][TASK_TEMP_NAME_MAX]; /* its outputs in the temp folder */
} finished;

/* The look-ahead window (lookahead.h): files held, and files planned per feed
 * call while it fills. 256 x ~1 KB; enough for the last folders' large files
 * to be seen before the small ones of a tree run out. */
#define LOOKAHEAD_FILES 256
#define LOOKAHEAD_TOP_UP 8

/* The outputs of earlier settings one file's publishing removed (or, dry run, would
 * remove), as the report shows them: OUT as given / rel. */
typedef struct removed_list {
	char **shown;
	int n;
} removed_list;

typedef struct run_ctx {
	const imgpool_options *o;
	int64_t started_ns;      /* the wall clock when the run began (clock_wall_ns()):
	                            the journal's racy rows (plan_racy()) */
	shard shard;
	outdir *od;
	run_lock *lock;
	report *rep;
	discover *d;
	counter *count;          /* the counting walk, for a real total */
	journal *j;
	planner *plan;
	publisher pb;
	inflight *flight;
	lookahead *window;       /* planned, not yet handed out: largest first */
	int plan_dry;            /* plan_next() said the walk is over */
	int pool_over;           /* the pool broke, never started, or the run stopped
	                            itself: no --prune from the feed (top_up_held()) */
	int plan_later;          /* it said DISCOVER_LATER at the last top-up */
	int guess_slow;          /* a cost guess was slow: sizes alone from now */
	trace *tr;
	run_counters c;
	report_summary sum;
	pool_buf buf;            /* the task being handed to the pool */
	uint64_t produced;       /* tasks given to the pool so far = next feed index */
	uint64_t pruned;
	int prune_ran;           /* run_prune() ran: once a run */
	int removal_trouble;     /* --prune kept an output it could not remove, or failed;
	                            or a thumbnail of earlier settings stayed */
	removed_list passed_removed; /* an up-to-date file's, for its skipped record */
	int64_t min_free;        /* bytes; 0: no check */
	char stop_msg[512];      /* set when the run must stop: the disk ran low, or the
	                            journal was deleted or moved */
	char stop_why[400];      /* its cause alone, for the answers of the files it left
	                            (answer_unstarted()) */
	int stop_for_disk;       /* that stop was --min-free's: --prune still runs */
	int stop_said;           /* a signal's stop was said as it came (report_stopping()) */
	int journal_unrecorded;  /* a file's outcome could not be put in the journal */
	double disk_checked;     /* when free space was last looked at */
	double journal_checked;  /* when the journal's path was last looked at */
	char shard_label[64];
	char *report_path;
	int report_refused;       /* it could not be opened: never tried again */
	int stdout_is_side;       /* standard output holds a side file, not the lines */
	finished finished[PUBLISH_BATCH];
	int nfinished;
	outsync *sync;           /* fsyncs finished[]'s temp files, slot k for finished[k] */
	double finished_since;   /* when the oldest of them came */
} run_ctx;

/* run_setup.c */

/* The number of workers: --jobs, or the CPUs the scheduler gave this task. */
int run_jobs(const imgpool_options *o);

/* Everything before the pool: output folder, lock, report, walk, journal, planner.
 * Returns -1 with x->sum.exit_code set when the run cannot go on. */
int run_setup(run_ctx *x);

/* The one cleanup path: whatever run_setup() and the run opened, in reverse. */
void run_teardown(run_ctx *x);

/* run_prune.c: --prune, once the walk is over (at most once a run: when files
 * wait for it, plan_prune_due(), before they are decided; else at the end). */
void run_prune(run_ctx *x);

/* run_checks.c: the looks at every turn of the loop that may stop the run (each
 * says its stop once and drains the pool): free space below --min-free, the
 * journal or the temp folder deleted or moved away. */
void run_check_disk(run_ctx *x, pool *p);
void run_check_journal(run_ctx *x, pool *p);
/* --min-free in bytes: as given, or the default of 1 GiB or 2 % of the output
 * filesystem (fd), the smaller. */
int64_t run_min_free_bytes(const imgpool_options *o, int fd);

/* run_dry.c */

/* --dry-run: walk and plan, list what a run would make and remove (and, with
 * --prune, prune), change nothing. */
void run_dry(run_ctx *x);

/* results.c */

/* A file a signal stopped before it was handed to the pool: cancelled, as the
 * pool's queued ones are. */
void run_answer_cancelled(run_ctx *x, const char *input, int n, const char *const *outputs);

/* planner_config.on_removed, .on_kept: an up-to-date file's thumbnails of earlier
 * settings, removed by the planner or not (said, exit 1). */
void run_on_stale_removed(void *data, const publish_item *it, const char *rel);
void run_on_stale_kept(void *data, const publish_item *it, const char *rel, const char *cause);

/* A file planned but passed over: up to date, or refused (one answer each); the
 * planner's on_passed callback, data the run_ctx. */
void run_on_passed(void *data, const discover_item *it, plan_pass how, failure_kind kind,
		   const char *cause);

/* Remove the temp files an attempt by pid may have left (a worker removes its own
 * on every error, but not when it is killed). */
void run_remove_temps(run_ctx *x, const inflight_file *f, int pid);

/* One result from the pool. A thumbnail made waits (at most PUBLISH_WAIT_S, or until
 * PUBLISH_BATCH are waiting) to be published with others; anything else is final at
 * once. */
void run_handle_result(run_ctx *x, const pool_result *r);

/* Publish every finished file waiting, with one write-ahead commit for all. */
void run_flush_finished(run_ctx *x);

/* How long the results loop may wait: not past a waiting batch's deadline. */
double run_results_wait(const run_ctx *x);

void run_removed_add(removed_list *l, const outdir *od, const char *rel);
void run_removed_free(removed_list *l);

#endif
