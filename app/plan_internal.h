/* SPDX-License-Identifier: MIT */
/*
 * plan_internal.h — the planner's state, shared by its two files: plan.c (each
 * file's decision) and plan_owner.c (whose thumbnails the outputs found are: the
 * journal's rows of them, and what they were made from). Not for other modules.
 */
#ifndef IMGPOOL_PLAN_INTERNAL_H
#define IMGPOOL_PLAN_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "clock.h"
#include "plan.h"
#include "publish.h"

/* A cause names up to two paths (an output, and the input that owns it), each up to
 * PATH_MAX: cut shorter, it named neither (names of 250-byte folders). */
#define WHY_LEN (2 * PATH_MAX + 512)

/* A file held until the input that has its output name has an outcome
 * (plan_next_held()): the item, with its strings copied. */
typedef struct held_file {
	discover_item it;
	char *input, *rel, *root, *outputs[THUMB_MAX_SIZES], *out_rel[THUMB_MAX_SIZES];
	int claim_first;              /* held for a claim (discover_item.taken_by): asked
	                                 again first, its refusal's words as the walk's */
} held_file;

struct planner {
	planner_config cfg;
	publisher pb;
	char *root_given, *root_real; /* cache: the real path of the last root seen */
	uint64_t adopted, failed_earlier;
	int walk_errors;
	discover_item it;             /* the current file */
	uint64_t *it_checksum;        /* its bytes' checksum, taken once when asked (0: not yet) */
	uint64_t owner_checksum;      /* adoption: the checksum its outputs were made from */
	int owner_racy;               /* and whether that row was racy */
	int hash_errno;               /* its bytes could not be read for want of the machine */
	uint64_t read_errors;         /* the journal's count before its first lookup */
	held_file *held;              /* plan_next_held() */
	int nheld, next_held;
	int releasing;                /* deciding a held file: never held again */
	char why[WHY_LEN];
};

/* What is at each planned output. */
typedef struct outputs_seen {
	out_state state[THUMB_MAX_SIZES];
	file_ident id[THUMB_MAX_SIZES];
	int present, ours, foreign, fresh; /* counts; fresh: present, not older than input */
} outputs_seen;

static inline int64_t plan_mtime_ns(const discover_item *it)
{
	return (int64_t)it->mtime.tv_sec * 1000000000 + it->mtime.tv_nsec;
}

/* Is a row of this input, whose bytes this run read, racy? */
static inline int plan_racy_now(const planner *p, const discover_item *it)
{
	return plan_racy(plan_mtime_ns(it), p->cfg.run_start_ns, clock_wall_ns());
}

/* plan_owner.c */

/* The checksum of the input's bytes now into *sum (0 when they cannot be read); a
 * read that failed for want of the machine is remembered in p->hash_errno. */
void plan_hash_input(planner *p, uint64_t *sum);

/* Every output of the current file, all OUT_OURS, its own: made for it with these
 * settings from the file its row describes; or, for adoption (row NULL), made
 * for this very file under another name or before a kill lost its row. */
int plan_all_owned(planner *p, const char *root, const outputs_seen *o,
		   const journal_row *row);

/* Is output i the thumbnail of another input that is still there? *owner: its
 * path (malloc'd); *owner_changed: changed since its row. */
int plan_owned_by_another(planner *p, const char *root, int i, const outputs_seen *o,
			  char **owner, int *owner_changed);

/* Record the current file's outputs as imgpool's, made for it, and the file as
 * made, with this checksum (0: not known) and racy flag. */
void plan_adopt(planner *p, const char *root, const outputs_seen *o, uint64_t checksum,
		int racy);

#endif
