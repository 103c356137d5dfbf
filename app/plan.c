/* SPDX-License-Identifier: MIT */
/*
 * plan.c — per-file decisions: redo, up to date, adopted, failed earlier, refused.
 * See plan.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "plan.h"
#include "plan_owner.h"
#include "publish.h"

/* A cause names up to two paths (an output, and the input that owns it), each up to
 * PATH_MAX: cut shorter, it named neither (names of 250-byte folders). */
#define WHY_LEN (2 * PATH_MAX + 512)

/* A file held until the input that has its output name has an outcome
 * (plan_next_held()), or until --prune ran: the item, with its strings copied. */
typedef struct held_file {
	discover_item it;
	char *input, *rel, *root, *outputs[THUMB_MAX_SIZES], *out_rel[THUMB_MAX_SIZES];
	int claim_first;              /* held for a claim (discover_item.taken_by): asked
	                                 again first, its refusal's words as the walk's */
} held_file;

/* Files held, in the order met; those before `next` are decided or answered. */
typedef struct held_list {
	held_file *files;
	int n, next;
} held_list;

struct planner {
	planner_config cfg;
	publisher pb;
	char *root_given, *root_real; /* cache: the real path of the last root seen */
	uint64_t adopted, failed_earlier;
	int walk_errors;
	discover_item it;             /* the current file */
	owner_query q;                /* its outputs' owners (plan_owner.h) */
	uint64_t read_errors;         /* the journal's count before its first lookup */
	held_list contested;          /* for another input's outcome: plan_next_held() */
	held_list for_prune;          /* until --prune ran: plan_next() after plan_pruned() */
	int releasing, shows_ours;    /* deciding a held file; an output of it is imgpool's */
	int pruned;                   /* plan_pruned(): it ran */
	char why[WHY_LEN];
};

/* Is a row of this input, whose bytes this run read, racy? */
static int racy_now(const planner *p, const discover_item *it)
{
	return plan_racy(discover_item_mtime_ns(it), p->cfg.run_start_ns, clock_wall_ns());
}


planner *planner_new(const planner_config *cfg)
{
	planner *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->pb = (publisher){.od = cfg->od, .j = cfg->j, .overwrite = cfg->overwrite, .d = cfg->d,
			    .removed = cfg->on_removed, .removed_data = cfg->data,
			    .kept = cfg->on_kept};
	p->q = (owner_query){.j = cfg->j, .pb = &p->pb, .it = &p->it,
			     .fingerprint = cfg->fingerprint, .checksum = cfg->checksum,
			     .lost_row_ns = PLAN_LOST_ROW_NS};
	return p;
}

static void held_free(held_file *h)
{
	free(h->input);
	free(h->rel);
	free(h->root);
	for (int i = 0; i < THUMB_MAX_SIZES; i++) {
		free(h->outputs[i]);
		free(h->out_rel[i]);
	}
}

static void held_list_free(held_list *l)
{
	for (int i = 0; i < l->n; i++)
		held_free(&l->files[i]);
	free(l->files);
}

void planner_free(planner *p)
{
	if (!p)
		return;
	held_list_free(&p->contested);
	held_list_free(&p->for_prune);
	free(p->root_given);
	free(p->root_real);
	free(p);
}

uint64_t plan_adopted(const planner *p) { return p->adopted; }
uint64_t plan_failed_earlier(const planner *p) { return p->failed_earlier; }
int plan_walk_errors(const planner *p) { return p->walk_errors; }

/* The real path of the item's root folder, cached per root: the journal's key. */
static const char *root_of(planner *p, const discover_item *it)
{
	if (p->root_given && !strcmp(p->root_given, it->root))
		return p->root_real;
	free(p->root_given);
	free(p->root_real);
	p->root_given = strdup(it->root);
	p->root_real = p->root_given ? realpath(it->root, NULL) : NULL;
	return p->root_real;
}

/* Is this file in this run's shard? Errors of a PATH itself (rel is the PATH) go
 * to every shard's report, so none of them loses sight of a missing folder. */
static int ours(const planner *p, const discover_item *it)
{
	if (!p->cfg.shard.n)
		return 1;
	if (it->state == ITEM_ERROR && it->noutputs == 0 && !strcmp(it->rel, it->input))
		return 1;
	return shard_of(it->rel, p->cfg.shard.n) == p->cfg.shard.k;
}

int plan_racy(int64_t mtime_ns, int64_t run_start_ns, int64_t now_ns)
{
	return mtime_ns > run_start_ns - PLAN_RACY_NS && mtime_ns < now_ns + PLAN_RACY_NS;
}

static void pass(planner *p, plan_pass how, failure_kind kind, const char *cause)
{
	/* A file refused here makes nothing this run: its outputs are claimed no
	 * more (discover_release()), so another input may take a name that is not
	 * its (the journal's owner, met later), and --prune may remove the stale
	 * thumbnail of a gone input there. */
	if (how == PLAN_FAILED)
		discover_release(p->cfg.d, &p->it);
	if (p->cfg.on_passed)
		p->cfg.on_passed(p->cfg.data, &p->it, how, kind, cause);
}

static int hold(planner *p, held_list *l, int claim_first);
static int next_released(planner *p, held_list *l, plan_item *item);

/* Is output rel blocked in a way this run's --prune may mend: a folder there, or a
 * file on its way (a stale thumbnail where a photo is a folder now, or a stale
 * folder of thumbnails where a folder of photos is a photo now)? */
static int prune_may_free(planner *p, const char *rel)
{
	struct stat st;
	if (!p->cfg.hold_for_prune || p->pruned || p->releasing)
		return 0;
	if (outdir_stat(p->pb.od, rel, &st) == 0)
		return S_ISDIR(st.st_mode);
	return errno == ENOTDIR;
}

/* A thumbnail in the way that this run's --prune will remove, as a dry run can
 * tell: imgpool's, planned by no input met so far, and its input certainly gone
 * because the very change that blocks the way took it: a folder where the photo
 * was, or a file on the way to it (the photo became a folder of its name, or the
 * reverse). Other gone inputs, which the prune decides with more care (a disk not
 * mounted), are not taken: the dry run then says the error it said before. */
static int swapped_away(void *data, const char *path)
{
	planner *p = data;
	char why[256], *input = NULL;
	file_ident id;
	journal_output info;
	struct stat st;
	if (publish_inspect(&p->pb, path, 0, 0, &id, why, sizeof why) != OUT_OURS ||
	    discover_planned(p->cfg.d, path) || journal_output_info(p->cfg.j, path, &id, &info) != 1)
		return 0;
	int gone = asprintf(&input, "%s/%s", info.root, info.rel) >= 0 &&
		   (lstat(input, &st) == 0 ? S_ISDIR(st.st_mode) : errno == ENOTDIR);
	free(input);
	journal_output_free(&info);
	return gone;
}

/* For a dry run, which holds nothing: will what blocks output rel
 * (prune_may_free()) go in this run's prune, so that the run makes the file
 * after it? Every thumbnail in the folder at rel, or the file on its way, must be
 * swapped_away(). */
static int prunable(planner *p, const char *rel)
{
	char at[PATH_MAX];
	switch (publish_blocker(&p->pb, rel, at, sizeof at)) {
	case BLOCKED_BY_FOLDER:
		return publish_files_beneath(&p->pb, at, -1, swapped_away, p) > 0;
	case BLOCKED_BY_FILE:
		return swapped_away(p, at);
	default:
		return 0;
	}
}

/* Is output i blocked by this input's own thumbnails of earlier settings (a --name
 * that swapped a file and a folder)? Publishing removes them first (publish.h):
 * the output is as good as absent. */
static int own_in_way(planner *p, const char *root, int i)
{
	const discover_item *it = &p->it;
	publish_item mine = {.root = root, .rel = it->rel, .n = it->noutputs,
			     .out_rel = it->out_rel};
	return root && p->cfg.j && publish_own_in_way(&p->pb, &mine, i, 0, NULL, 0) > 0;
}

/* Inspect every output; an output that is blocked refuses the file (1), or holds
 * it until --prune has run (prune_may_free()). */
static int inspect_outputs(planner *p, const char *root, outputs_seen *o)
{
	const discover_item *it = &p->it;
	char why[PATH_MAX + 256];
	memset(o, 0, sizeof *o);
	for (int i = 0; i < it->noutputs; i++) {
		o->state[i] = publish_inspect(&p->pb, it->out_rel[i], it->dev, it->ino, &o->id[i],
					      why, sizeof why);
		if ((o->state[i] == OUT_BLOCKED || o->state[i] == OUT_UNREACHABLE) &&
		    own_in_way(p, root, i))
			o->state[i] = OUT_ABSENT;
		if (o->state[i] == OUT_BLOCKED || o->state[i] == OUT_UNREACHABLE) {
			if (prune_may_free(p, it->out_rel[i])) {
				if (hold(p, &p->for_prune, 0))
					return 1;
				if (p->cfg.dry_run_holds && prunable(p, it->out_rel[i])) {
					o->state[i] = OUT_ABSENT;
					continue;
				}
			}
			snprintf(p->why, sizeof p->why, "its output %s %s", it->outputs[i], why);
			pass(p, PLAN_FAILED, FAIL_OUTPUT, p->why);
			return 1;
		}
		if (o->state[i] == OUT_ABSENT)
			continue;
		o->present++;
		o->ours += o->state[i] == OUT_OURS;
		o->foreign += o->state[i] == OUT_FOREIGN;
		o->fresh += o->id[i].mtime_ns >= discover_item_mtime_ns(it);
	}
	return 0;
}

/* Does the journal's row describe this very file? With --checksum its bytes decide
 * (a touched file with the same bytes is the same file); a row stored without a
 * checksum (one adopted after a kill lost its owner's row, a failure), or a file
 * that cannot be read now, proves nothing then: it is another file. (Taken by
 * size and mtime, an edit that kept them went unseen, and the row was given the
 * new bytes' checksum: unseen for good; an unreadable file was "up to date".) A
 * racy row (plan_racy()) whose size and mtime match proves nothing by them: its
 * bytes decide, and without a checksum to compare it is another file. *touched:
 * same bytes, another mtime. */
static int same_file(planner *p, const journal_row *row, uint64_t *checksum, int *touched)
{
	const discover_item *it = &p->it;
	int by_time = row->size == it->size && row->mtime_ns == discover_item_mtime_ns(it);
	int racy = by_time && row->racy;
	*touched = 0;
	if (row->status == JOURNAL_NONE)
		return 0;
	if ((!p->cfg.checksum && !racy) || row->size != it->size)
		return by_time;
	if (!*checksum)
		owner_hash_input(&p->q, checksum);
	if (!row->checksum || !*checksum)
		return !p->cfg.checksum && by_time && !racy;
	*touched = row->checksum == *checksum && !by_time;
	return row->checksum == *checksum;
}

/* Can the file be opened for reading now? */
static int readable_now(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* Can a file be put at each output path of the current file now, as far as
 * permissions tell (outdir_can_write())? */
static int writable_now(const planner *p)
{
	for (int i = 0; i < p->it.noutputs; i++)
		if (!outdir_can_write(p->pb.od, p->it.out_rel[i]))
			return 0;
	return 1;
}

/* Failed before, and nothing that would change the outcome has changed? A failure
 * of the machine's (a permission, most often) is remembered only while the file
 * still cannot be opened: the chmod that mends it changes neither its size nor
 * its mtime, and the photo was "failed earlier" for good. One of the output side
 * (a folder there that cannot be written) likewise only while an output's folder
 * cannot be written: a full disk given room, a folder made writable, is tried
 * again. */
static int failed_earlier(const planner *p, const journal_row *row, int same, int same_settings)
{
	if (row->status != JOURNAL_FAILED || !same || !same_settings || p->cfg.retry_failed ||
	    row->limits != p->cfg.limits)
		return 0;
	if (!failure_remembered_at_once(row->kind) && row->strikes < FAILURE_STRIKES)
		return 0;
	if (row->kind == FAIL_OUTPUT)
		return !writable_now(p);
	return row->kind != FAIL_ENVIRONMENT || !readable_now(p->it.input);
}

/* Could this file's lookups not be made (journal rows; bytes: read_errors is the
 * journal's count before)? Then "no row", "not imgpool's" or "another file" was
 * "cannot tell": refused now (1), nothing recorded, the next run looks again (under
 * a low open-files limit every recent photo was made again, failed, made again). */
static int cannot_tell(planner *p)
{
	const char *cause;
	if (journal_read_errors(p->cfg.j, &cause) != p->read_errors)
		snprintf(p->why, sizeof p->why, "cannot tell whether it is up to date: %s", cause);
	else if (p->q.hash_errno && !p->cfg.force)
		snprintf(p->why, sizeof p->why, "cannot read it to tell whether it changed: %s",
			 strerror(p->q.hash_errno));
	else
		return 0;
	/* unreadable, an output of imgpool's at its name: no release to let --prune go */
	if ((p->q.hash_errno == EACCES || p->q.hash_errno == EPERM) && p->shows_ours &&
	    p->cfg.on_passed)
		p->cfg.on_passed(p->cfg.data, &p->it, PLAN_FAILED, FAIL_ENVIRONMENT, p->why);
	else
		pass(p, PLAN_FAILED, FAIL_ENVIRONMENT, p->why);
	return 1;
}

/* Another shard's file claims its output names in this walk as in its own run
 * (discover.h), so that every shard agrees which of two inputs of one output name
 * makes it. Its names are given back where its own run will answer it "failed
 * earlier" and make nothing: failed_earlier() of the row in that shard's own
 * journal, as that run reads it, of the file as it is now (size and mtime; never
 * with --checksum, whose answer needs its bytes read). Held for good, the other
 * input was refused every night for a thumbnail that was never made. A failure
 * that run tries again (of the output side, or not yet remembered) keeps them:
 * given back, both runs made the name, one replacing the other's. */
static void release_if_failing_elsewhere(planner *p)
{
	const discover_item *it = &p->it;
	const char *root = it->state == ITEM_TODO && p->cfg.j && !p->cfg.checksum ? root_of(p, it)
										 : NULL;
	shard theirs = {.k = shard_of(it->rel, p->cfg.shard.n), .n = p->cfg.shard.n};
	char file[64], name[32];
	journal_row row;
	if (!root)
		return;
	shard_name(&theirs, name, sizeof name);
	snprintf(file, sizeof file, "journal-%s.sqlite", name);
	journal_get_in(p->cfg.j, file, root, it->rel, &row);
	int same = row.status != JOURNAL_NONE && row.size == it->size &&
		   row.mtime_ns == discover_item_mtime_ns(it);
	if (failed_earlier(p, &row, same, row.fingerprint == p->cfg.fingerprint))
		discover_release(p->cfg.d, it);
}

/* Hold the current file, unanswered, in l: until the input that has its output name
 * has an outcome (p->contested: plan_next_held()), or until --prune ran
 * (p->for_prune): 1, or 0 when it is not held (a dry run, a held file decided
 * again, no memory) and is answered now. claim_first: held for a claim of this
 * walk (discover_item.taken_by), whose outputs are not its; else its claims are
 * given up (held for an owner this run may make again, or for the prune). */
static int hold(planner *p, held_list *l, int claim_first)
{
	const discover_item *it = &p->it;
	int n = claim_first ? it->wanted : it->noutputs;
	if (!(p->cfg.hold_contested || (claim_first && p->cfg.hold_claims)) || p->releasing ||
	    n <= 0 || n > THUMB_MAX_SIZES)
		return 0;
	held_file *more = realloc(l->files, (size_t)(l->n + 1) * sizeof *more);
	if (!more)
		return 0;
	l->files = more;
	held_file *h = memset(&more[l->n], 0, sizeof *h);
	int ok = (h->input = strdup(it->input)) && (h->rel = strdup(it->rel)) &&
		 (h->root = strdup(it->root));
	for (int i = 0; ok && i < n; i++)
		ok = (h->outputs[i] = strdup(it->outputs[i])) && (h->out_rel[i] = strdup(it->out_rel[i]));
	if (!ok) {
		held_free(h);
		return 0;
	}
	h->it = *it;
	h->it.state = ITEM_TODO;
	h->it.input = h->input;
	h->it.rel = h->rel;
	h->it.root = h->root;
	h->it.noutputs = n;
	for (int i = 0; i < n; i++) {
		h->it.outputs[i] = h->outputs[i];
		h->it.out_rel[i] = h->out_rel[i];
	}
	h->it.in_out = h->it.error = h->it.taken_by = NULL;
	h->it.wanted = 0;
	h->claim_first = claim_first;
	if (!claim_first)
		discover_release(p->cfg.d, it);
	l->n++;
	return 1;
}

/* 1: thumbnail it; 0: passed over (told to on_passed). Every answer drawn from the
 * journal or the file's bytes, and every write to the journal, comes after a
 * cannot_tell(): a lookup that failed read as "no row" (a row lost to a kill, the
 * file then adopted) or "has not failed since" (another's output). */
static int decide(planner *p, const char *root, uint64_t *checksum)
{
	const discover_item *it = &p->it;
	outputs_seen o;
	p->q.hash_errno = 0;
	if (inspect_outputs(p, root, &o))
		return 0;
	p->shows_ours = o.ours > 0;
	int all_fresh = o.present == it->noutputs && o.fresh == it->noutputs;
	if ((!p->cfg.j && !p->cfg.empty_journal) || !root) {
		if (all_fresh && !p->cfg.force) {
			pass(p, PLAN_SKIPPED, FAIL_NONE, NULL);
			return 0;
		}
	} else {
		journal_row row;
		int touched;
		journal_get(p->cfg.j, root, it->rel, &row);
		int same = same_file(p, &row, checksum, &touched);
		int same_settings = row.fingerprint == p->cfg.fingerprint;
		if (cannot_tell(p))
			return 0;
		if (failed_earlier(p, &row, same, same_settings)) {
			snprintf(p->why, sizeof p->why, "failed earlier, unchanged since: %s "
				 "(--retry-failed tries again)", row.cause);
			p->failed_earlier++;
			pass(p, PLAN_FAILED, FAIL_EARLIER, p->why);
			return 0;
		}
		if (!p->cfg.force && row.status == JOURNAL_OK && same && same_settings &&
		    o.ours == it->noutputs && owner_all_owned(&p->q, root, &o, &row)) {
			/* Its bytes read now (--checksum, or a racy row): racy or not
			 * by this run's times, which its mtime may be safely older
			 * than by now. */
			int racy = *checksum ? racy_now(p, it) : row.racy;
			if (cannot_tell(p))
				return 0;
			if (touched || (*checksum && !row.checksum) || racy != row.racy) {
				row.mtime_ns = discover_item_mtime_ns(it);
				row.checksum = *checksum;
				row.racy = racy;
				journal_put(p->cfg.j, root, it->rel, &row);
			}
			/* Its thumbnails of earlier settings still recorded: ones a
			 * run before could not remove (their folder could not be
			 * written). Removed now (or listed), or said again; left,
			 * they stayed for good with the file up to date. */
			publish_item mine = {.root = root, .rel = it->rel, .input = it->input,
					     .n = it->noutputs, .out_rel = it->out_rel};
			if (p->pb.removed)
				publish_drop_stale(&p->pb, &mine, p->cfg.dry_run);
			pass(p, PLAN_SKIPPED, FAIL_NONE, NULL);
			return 0;
		}
		/* Only outputs a journal records as made by imgpool are adopted: after
		 * the journal is lost, a file at an output path is foreign like any
		 * other, however new (it may be the user's: taking it as a thumbnail
		 * would let --force replace it and --prune delete it). */
		/* A take-over records the checksum the outputs were made from (the
		 * renamed input's), so that a later --checksum run knows what bytes they
		 * show: without it, an edit that kept size and mtime went unseen for
		 * good. Nothing is read for it but with --checksum (owned_by_this()). */
		p->q.it_checksum = checksum;
		p->q.owner_checksum = 0;
		p->q.owner_racy = 0;
		if (!p->cfg.force && row.status == JOURNAL_NONE && all_fresh &&
		    o.ours == it->noutputs && owner_all_owned(&p->q, root, &o, NULL)) {
			/* Racy as the owner's row was, or by this run where its bytes
			 * were read now. */
			if (cannot_tell(p))
				return 0;
			if (*checksum)
				owner_adopt(&p->q, root, &o, *checksum, racy_now(p, it));
			else
				owner_adopt(&p->q, root, &o, p->q.owner_checksum, p->q.owner_racy);
			p->adopted++;
			pass(p, PLAN_SKIPPED, FAIL_NONE, NULL);
			return 0;
		}
	}
	for (int i = 0; i < it->noutputs && !p->cfg.overwrite; i++) {
		char *owner = NULL;
		int owner_changed = 0;
		if (o.state[i] == OUT_FOREIGN)
			snprintf(p->why, sizeof p->why, "its output %s exists and %s; --overwrite "
				 "replaces it", it->outputs[i], PUBLISH_NOT_OURS(!p->cfg.no_journal));
		else if (o.state[i] == OUT_OURS && p->cfg.j &&
			 owner_owned_by_another(&p->q, root, i, &o, &owner, &owner_changed)) {
			snprintf(p->why, sizeof p->why, "its output %s is the thumbnail of %s, which "
				 "is still there (an earlier run made it); --overwrite replaces it",
				 it->outputs[i], owner);
		} else
			continue;
		free(owner);
		if (!cannot_tell(p) && !(owner_changed && hold(p, &p->contested, 0)))
			pass(p, PLAN_FAILED, FAIL_OUTPUT, p->why);
		return 0;
	}
	return !cannot_tell(p);
}

/* The format of each output, from its name; a template that names a format we do
 * not write refuses the file. */
static int formats_of(planner *p, plan_item *item)
{
	for (int i = 0; i < p->it.noutputs; i++) {
		if (thumb_output_format(p->cfg.settings->format, p->it.out_rel[i],
					&item->formats[i]) < 0) {
			const char *dot = strrchr(p->it.out_rel[i], '.');
			snprintf(p->why, sizeof p->why, "cannot write \"%s\" files (output %s)",
				 dot ? dot + 1 : "", p->it.outputs[i]);
			pass(p, PLAN_FAILED, FAIL_OUTPUT, p->why);
			return -1;
		}
	}
	return 0;
}

/* Is the input, a file in the output folder (discover.h: in_out), a thumbnail
 * there: a file a journal of the folder records as an output, as it is now?
 * Read as an input it was thumbnailed again into the same tree ("ok"): a PATH
 * inside the output folder (-o .. photos) that holds thumbnails, a symlink to
 * one. A photo the user keeps there is read as before. */
static int is_thumbnail(planner *p)
{
	const discover_item *it = &p->it;
	file_ident id;
	char why[256];
	return p->cfg.j && publish_inspect(&p->pb, it->in_out, 0, 0, &id, why, sizeof why) == OUT_OURS &&
	       id.size == it->size && id.mtime_ns == discover_item_mtime_ns(it);
}

int plan_next(planner *p, plan_item *item)
{
	int got;
	while ((got = discover_next(p->cfg.d, &p->it)) == 1) {
		if (!ours(p, &p->it)) {
			release_if_failing_elsewhere(p);
			continue;
		}
		if (p->it.state == ITEM_ERROR) {
			/* A PATH itself is missing (not a listed entry: --prune prunes
			 * under the folder PATHs alone, and one deleted after the list
			 * was made kept it from them) */
			if (!strcmp(p->it.rel, p->it.input) && !discover_reading_list(p->cfg.d))
				p->walk_errors++;
			/* Not one in the output folder: it is never held, where the
			 * question whether it is a thumbnail there comes below. */
			if (!(p->it.taken_by && !p->it.in_out && hold(p, &p->contested, 1)))
				pass(p, PLAN_FAILED, p->it.error_kind, p->it.error);
			continue;
		}
		p->read_errors = journal_read_errors(p->cfg.j, NULL);
		if (p->it.in_out && is_thumbnail(p)) {
			pass(p, PLAN_FAILED, FAIL_ENVIRONMENT,
			     "a thumbnail imgpool made in the output folder (its journal says "
			     "so), which is never read as an input");
			continue;
		}
		memset(item, 0, sizeof *item);
		item->it = &p->it;
		item->root = root_of(p, &p->it);
		if (formats_of(p, item) < 0 || !decide(p, item->root, &item->checksum))
			continue;
		return 1;
	}
	/* The walk is over: once the prune ran, the files held for it come as its
	 * own did, all at once (they wait for no one's outcome). */
	if (!got && p->pruned)
		return next_released(p, &p->for_prune, item);
	return got; /* 0, or DISCOVER_LATER */
}

int plan_holding(const planner *p)
{
	return p->contested.n - p->contested.next + p->for_prune.n - p->for_prune.next;
}

int plan_prune_due(const planner *p)
{
	return p->for_prune.n > p->for_prune.next && !p->pruned;
}

void plan_pruned(planner *p)
{
	p->pruned = 1;
}

/* Claim the held file's outputs again: 1 when they are its; 0 when another input
 * still has one, the file then refused with the walk's words, or (may_wait)
 * held for that input's outcome. (Not pass(): its release would take claims
 * that are not this file's.) */
static int claim_again(planner *p, int may_wait)
{
	discover_clash c;
	if (!discover_claim(p->cfg.d, &p->it, &c))
		return 1;
	/* Released with the files held for the prune, another of them took the
	 * name first (a.jpg and a.png, -f jpeg): this one waits for its outcome,
	 * as in the walk, rather than be refused before it (a damaged a.jpg). */
	if (may_wait) {
		p->it.wanted = p->it.noutputs;
		p->releasing = 0;
		int held = hold(p, &p->contested, 1);
		p->releasing = 1;
		if (held)
			return 0;
	}
	discover_clash_cause(&p->it, &c, p->why, sizeof p->why);
	p->it.noutputs = 0; /* as the walk's error has it */
	if (p->cfg.on_passed)
		p->cfg.on_passed(p->cfg.data, &p->it, PLAN_FAILED, FAIL_OUTPUT, p->why);
	return 0;
}

/* Decide the held files of l in turn: 1 with *item filled for the first to make;
 * 0 when none is left (each passed over was answered). */
static int next_released(planner *p, held_list *l, plan_item *item)
{
	while (l->next < l->n) {
		held_file *h = &l->files[l->next++];
		p->it = h->it;
		p->releasing = 1;
		p->read_errors = journal_read_errors(p->cfg.j, NULL);
		memset(item, 0, sizeof *item);
		item->it = &p->it;
		item->root = root_of(p, &p->it);
		/* Held for a claim: asked first, as the walk asked. Held for an owner:
		 * decided first, so that a refusal names the owner. */
		if (h->claim_first && !claim_again(p, 0))
			continue;
		if (formats_of(p, item) < 0 || !decide(p, item->root, &item->checksum))
			continue;
		if (!h->claim_first && !claim_again(p, l == &p->for_prune))
			continue;
		return 1;
	}
	return 0;
}

int plan_next_held(planner *p, plan_item *item)
{
	return next_released(p, &p->contested, item);
}

int plan_take_held(planner *p, const discover_item **it)
{
	held_list *l = p->contested.next < p->contested.n ? &p->contested : &p->for_prune;
	if (l->next >= l->n)
		return 0;
	*it = &l->files[l->next++].it;
	return 1;
}

int plan_remember(planner *p, const plan_outcome *o)
{
	if (!p->cfg.j || !o->root || o->kind == FAIL_INTERRUPTED)
		return 0;
	journal_row old, row = {
		.size = o->size, .mtime_ns = o->mtime_ns, .fingerprint = p->cfg.fingerprint,
		.checksum = o->checksum, .ms = o->ms, .attempts = 1,
	};
	if (o->kind == FAIL_NONE) {
		row.status = JOURNAL_OK;
		/* The worker read the file after the run began and before now. */
		row.racy = plan_racy(o->mtime_ns, p->cfg.run_start_ns, clock_wall_ns());
		return journal_put(p->cfg.j, o->root, o->rel, &row);
	}
	journal_get(p->cfg.j, o->root, o->rel, &old);
	row.status = JOURNAL_FAILED;
	row.kind = o->kind;
	row.limits = p->cfg.limits;
	snprintf(row.cause, sizeof row.cause, "%s", o->cause ? o->cause : "");
	int again = old.status == JOURNAL_FAILED;
	row.attempts = again ? old.attempts + 1 : 1;
	/* A strike is the same failure again, of the same file. */
	row.strikes = again && old.kind == o->kind && !strcmp(old.cause, row.cause) &&
			      old.size == o->size && old.mtime_ns == o->mtime_ns
			      ? old.strikes + 1
			      : 1;
	return journal_put(p->cfg.j, o->root, o->rel, &row);
}
