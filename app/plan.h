/* SPDX-License-Identifier: MIT */
/*
 * plan.h — per file: redo it, skip it (up to date), skip it as failed earlier, or
 * refuse it; and, once it has run, what the journal remembers of it.
 *
 * The planner pulls files from discovery (discover.h), takes this run's shard, and
 * looks at each planned output through the output folder's fd (outdir.h, never
 * through a symlink):
 *   - absent; imgpool's (the journal records its size and mtime: journal_owns);
 *     someone else's; or blocked (a folder, a symlink, a symlink on the way, the
 *     input itself).
 *   - Up to date: every output is there, imgpool's, not older than the input, and
 *     the journal's row matches the input (size and mtime, or with --checksum its
 *     bytes: a touched file whose bytes are unchanged is up to date, as rsync -c
 *     says; and its bytes too where the row is racy, plan_racy()) and the settings
 *     fingerprint, and each output's row says it was made with these settings from
 *     the file the row describes (a kill -9 between the renames and the row's
 *     commit leaves the row of the file before). Without a journal (--no-journal):
 *     every output there and not older than the input.
 *   - Adopted: no row for the input, but its outputs are there, not older than it,
 *     imgpool's, and made from this very file (an input renamed, or the row lost
 *     to a kill -9: each output's row records the input it was made from). They
 *     are recorded as imgpool's and the file is skipped.
 *   - Failed earlier: the row says it failed, the input, the settings and the
 *     limits are unchanged, and the failure is one that is remembered (failure.h);
 *     --retry-failed tries it anyway.
 *   - Refused, before any work: an output that exists and is not imgpool's ("exists
 *     and was not made by imgpool; --overwrite replaces it"), or that is blocked.
 * Everything passed over is handed to the caller's on_passed, so that every file
 * gets its one answer.
 */
#ifndef IMGPOOL_PLAN_H
#define IMGPOOL_PLAN_H

#include <stdint.h>

#include "discover.h"
#include "failure.h"
#include "journal.h"
#include "outdir.h"
#include "settings.h"
#include "shard.h"

struct publish_item; /* publish.h */

typedef struct planner planner;

/* Why a file was passed over. */
typedef enum { PLAN_SKIPPED, PLAN_FAILED } plan_pass;

typedef struct planner_config {
	discover *d;
	outdir *od;
	journal *j;                 /* NULL: no journal (or, with empty_journal, one with
	                               no rows yet) */
	int empty_journal;          /* j NULL stands for an empty journal, not none: a dry
	                               run where the run would start one anew (it is lost)
	                               judges as that run will, not by --no-journal's rule */
	int no_journal;             /* --no-journal: j NULL by choice (the errors say so) */
	const thumb_settings *settings;
	uint64_t fingerprint;       /* journal_fingerprint() of the settings */
	uint64_t limits;            /* journal_limits() of this run */
	shard shard;                /* n == 0: every file */
	int force, overwrite, checksum, retry_failed;
	int64_t run_start_ns;       /* the wall clock (clock_wall_ns()) when the run began,
	                               before any input was read: plan_racy() (0: not
	                               known, every row made is racy) */
	int hold_contested;         /* hold files whose output name another input of this
	                               run may free (plan_next_held()); 0 (a dry run, a
	                               --files-from list): refuse them at once */
	int hold_for_prune;         /* with hold_contested, --prune runs in this run: hold
	                               a file whose output is a folder, or lies beneath
	                               a file, until it has (plan_prune_due()): the
	                               thumbnails of a photo that became a folder of
	                               that name, or the reverse, are in the way */
	int hold_claims;            /* a dry run of a run that would hold files (no
	                               --files-from list): hold a file refused for a claim
	                               of this walk as that run does, for plan_next_held()
	                               once the walk is over, when the claimant's outcome
	                               is the dry run's own (it cannot be read: the name
	                               is free) */
	int dry_run_holds;          /* a dry run of a run that would hold files (no
	                               --files-from list): one it would hold for the
	                               prune counts as to make, as that run makes it
	                               once the prune freed its way */
	/* A file passed over: an error (kind, cause) or up to date (kind FAIL_NONE). */
	void (*on_passed)(void *data, const discover_item *it, plan_pass how,
			  failure_kind kind, const char *cause);
	/* An up-to-date file's thumbnails of earlier settings that a run before could
	 * not remove (their rows kept: publish.h, step 4) are removed before
	 * on_passed() says it is up to date: each told here as publishing tells it
	 * (publisher.removed, .kept), with data; in a dry run (dry_run), each that
	 * would go is told to on_removed, and nothing is removed. NULL: left. */
	void (*on_removed)(void *data, const struct publish_item *it, const char *rel);
	void (*on_kept)(void *data, const struct publish_item *it, const char *rel,
			const char *cause);
	int dry_run;
	void *data;
} planner_config;

/* One file to thumbnail. Strings point into the planner; valid until the next
 * plan_next(). */
typedef struct plan_item {
	const discover_item *it;    /* input, rel, outputs (display), out_rel, size, mtime */
	const char *root;           /* the real path of its input root (journal key); NULL
	                               when it cannot be told */
	uint64_t checksum;          /* of the input when computed here (--checksum), or 0 */
	thumb_format formats[THUMB_MAX_SIZES];
} plan_item;

planner *planner_new(const planner_config *cfg);
/* NULL is a no-op. */
void planner_free(planner *p);

/* The next file to thumbnail: 1 with *item filled, 0 when discovery is over,
 * DISCOVER_LATER when it waits for more of a --files-from list (discover_nowait). */
int plan_next(planner *p, plan_item *item);

/*
 * Files held. Two inputs with one output name: the one met first in the walk has it
 * (the other is refused: "output X is also the output of A"), or the one that made
 * the thumbnail there (the other: "is the thumbnail of A, which is still there").
 * When that one then fails in this run (damaged since), the name was free, and
 * only the next run made the other: a clean run was not the last word. With
 * hold_contested, a file refused so (by a claim of this walk, or for an owner
 * changed since, which this run may make again) is held unanswered, and decided
 * again once the walk is over and every file handed out has its outcome:
 * plan_holding() says how many wait; plan_next_held() decides them one by one as
 * plan_next() does (1: thumbnail it; 0: none left; the others are answered, the
 * name being still taken as before). A run stopped before that answers each
 * itself: plan_take_held().
 */
int plan_holding(const planner *p);
/* Files held until --prune has run (hold_for_prune; plan_holding() counts them):
 * the caller runs it once the walk is over and every file handed out has its
 * outcome, and says so with plan_pruned(), before plan_next_held(). plan_next()
 * then decides them, as it decides the walk's files, and ends (0) after them. A
 * run that cannot prune (stopped, its pool broken) answers them as other held
 * files: plan_take_held(). */
int plan_prune_due(const planner *p);
void plan_pruned(planner *p);
int plan_next_held(planner *p, plan_item *item);
int plan_take_held(planner *p, const discover_item **it);

/* Counters for the summary. */
uint64_t plan_adopted(const planner *p);
uint64_t plan_failed_earlier(const planner *p);
/* PATH arguments that could not be walked (a missing folder): no --prune then. */
int plan_walk_errors(const planner *p);

/* The outcome of one file's task, for the journal. */
typedef struct plan_outcome {
	const char *root, *rel;
	uint64_t size, checksum;
	int64_t mtime_ns;
	failure_kind kind;          /* FAIL_NONE: made */
	const char *cause;
	double ms;
	int attempts;
} plan_outcome;

/*
 * Is an input's mtime "racy" (as git calls it): not safely older than the moment
 * its bytes were read? On a filesystem with coarse timestamps (vfat 2 s, exfat 10 ms,
 * HFS+ and ext4 with 128-byte inodes 1 s, some NFS and SMB) a file rewritten with
 * the same size within the granule in which imgpool read it keeps its size and
 * mtime, and would be taken as up to date for good. The read came after the run
 * began (run_start_ns) and before now_ns (the row is recorded), so the mtime is
 * racy when it is later than run_start_ns - PLAN_RACY_NS and earlier than now_ns +
 * PLAN_RACY_NS (vfat's granule). A far-future mtime (a camera with a wrong clock) is
 * not: an edit now would give it another. A racy row is not trusted by size and
 * mtime: the next run compares the file's bytes with its checksum (and, when they
 * are equal and the mtime is safely old by then, records the row as not racy).
 */
#define PLAN_RACY_NS 2000000000LL
/* An input adopted with no row anywhere (lost to a kill -9) is made again instead
 * when its mtime lies within this of its output's: the read came before the
 * output's mtime by the file's time in the worker, a second mostly, at most the
 * timeout; past that the mtime is safely older than the read. */
#define PLAN_LOST_ROW_NS (PLAN_RACY_NS + 60 * 1000000000LL)
int plan_racy(int64_t mtime_ns, int64_t run_start_ns, int64_t now_ns);

/*
 * Remember a file's outcome in the journal: made, or failed with its kind. A
 * failure the run caused by stopping (FAIL_INTERRUPTED) changes nothing. An
 * environmental one counts a strike (identical to the last one: same kind and
 * cause) and is remembered as "failed earlier" from FAILURE_STRIKES on.
 * A file made is recorded racy or not (plan_racy(), with the run's start and now).
 * Returns 0 or -1 (journal_error).
 */
int plan_remember(planner *p, const plan_outcome *o);

#endif
