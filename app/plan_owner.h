/* SPDX-License-Identifier: MIT */
/*
 * plan_owner.h — whose thumbnails the files at an input's output paths are: this
 * input's own and up to date (made for it, with these settings, from the file its
 * journal row describes), this input's to adopt (a rename; a row a kill -9 lost),
 * another input's, or none. Each output's journal row says who it was made for,
 * with which settings and from which bytes (journal.h: journal_source). The
 * planner (plan.c) asks; nothing here decides what a run does with the answer.
 */
#ifndef IMGPOOL_PLAN_OWNER_H
#define IMGPOOL_PLAN_OWNER_H

#include <stdint.h>

#include "discover.h"
#include "journal.h"
#include "outdir.h"
#include "publish.h"

/* What is at each planned output of an input. */
typedef struct outputs_seen {
	out_state state[THUMB_MAX_SIZES];
	file_ident id[THUMB_MAX_SIZES];
	int present, ours, foreign, fresh; /* counts; fresh: present, not older than input */
} outputs_seen;

/* One input's questions, and what answering them learnt. */
typedef struct owner_query {
	journal *j;                 /* the run's journal (it reads the folder's others) */
	const publisher *pb;
	const discover_item *it;    /* the input */
	uint64_t fingerprint;       /* this run's settings */
	int checksum;               /* --checksum: bytes decide */
	int64_t lost_row_ns;        /* an input changed this near its output's mtime may
	                               have been rewritten after it was read */
	uint64_t *it_checksum;      /* its bytes' checksum, taken once when asked (0: not
	                               yet; NULL: never) */
	uint64_t owner_checksum;    /* adoption: the checksum its outputs were made from */
	int owner_racy;             /* and whether that row was racy */
	int hash_errno;             /* its bytes could not be read for want of the machine */
} owner_query;

/* The checksum of the input's bytes now into *sum (0 when they cannot be read). A
 * read that failed for want of the machine (descriptors, memory; a signal) says
 * nothing of the file: remembered in q->hash_errno. */
void owner_hash_input(owner_query *q, uint64_t *sum);

/* Every output all OUT_OURS and this input's own (root: its root's real path):
 * made for it with these settings from the file its row describes; or, for
 * adoption (row NULL), made for this very file under another name, or before a
 * kill lost its row (q->owner_checksum, q->owner_racy: what to adopt it with). */
int owner_all_owned(owner_query *q, const char *root, const outputs_seen *o,
		    const journal_row *row);

/* Is output i the thumbnail of another input that is still there (and has not
 * failed since)? *owner: its path (malloc'd); *owner_changed: changed since its
 * row. */
int owner_owned_by_another(owner_query *q, const char *root, int i, const outputs_seen *o,
			   char **owner, int *owner_changed);

/* Record the input's outputs as imgpool's, made for it, and the input as made,
 * with this checksum (0: not known) and racy flag. */
void owner_adopt(owner_query *q, const char *root, const outputs_seen *o, uint64_t checksum,
		 int racy);

#endif
