/* SPDX-License-Identifier: MIT */
/*
 * plan_owner.c — whose thumbnails the outputs found at a file's output paths are:
 * this input's own and up to date, this input's to adopt (a rename, a row a kill
 * lost), another input's, or none. Each output's row says who it was made for,
 * with which settings and from which bytes. See plan_owner.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "filehash.h"
#include "plan_owner.h"

/* See plan_owner.h. Remembered, so that the file is not taken for another file and
 * made again (plan.c: cannot_tell()). */
void owner_hash_input(owner_query *q, uint64_t *sum)
{
	if (filehash_path(q->it->input, sum) == 0)
		return;
	*sum = 0;
	/* With --checksum the bytes decide, and a file that cannot be read now
	 * (no permission) may be read later: neither the same nor another. */
	if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == EAGAIN ||
	    errno == EINTR || (q->checksum && (errno == EACCES || errno == EPERM)))
		q->hash_errno = errno;
}

/* Output i's row says it was made for this very input, whose own row a kill -9
 * lost: is the file now the one it was made from? The source the row recorded
 * decides: size and mtime, and the bytes too with --checksum or where the mtime
 * lies near the output's (rewritten within its granule after it was read). Taken
 * by mtime alone, an older file synced in its place (rsync -a, a restore) adopted
 * the thumbnails for good. A row of an older journal, with no source, is taken
 * by the mtime alone but near the output's, and never with --checksum. */
static int lost_row_shows(owner_query *q, const journal_source *src, const file_ident *out)
{
	const discover_item *it = q->it;
	int near = discover_item_mtime_ns(it) > out->mtime_ns - q->lost_row_ns;
	uint64_t *now = q->it_checksum;
	if (!src->known)
		return !near && !q->checksum;
	if (src->size != it->size || src->mtime_ns != discover_item_mtime_ns(it))
		return 0;
	q->owner_checksum = src->checksum;
	if (!near && !q->checksum)
		return 1;
	if (!src->checksum || !now)
		return 0;
	if (!*now)
		owner_hash_input(q, now);
	return *now == src->checksum;
}

/* Is the owner's path this very input, reached by another path (the photo folder
 * moved and a symlink left where it was)? Then the owner did not stay: its input
 * is here, under its new name, as after a rename, and takes its thumbnails over
 * (each run refused them as the thumbnails of an input "still there", itself).
 * The same real path, not only the same inode: another input that is a hard link
 * of this one is another input, whose thumbnails stay its own. */
static int is_this_input(const discover_item *it, const char *owner)
{
	struct stat st;
	if (stat(owner, &st) != 0 || (uint64_t)st.st_dev != it->dev ||
	    (uint64_t)st.st_ino != it->ino)
		return 0;
	char *a = realpath(owner, NULL), *b = realpath(it->input, NULL);
	int same = a && b && !strcmp(a, b);
	free(a);
	free(b);
	return same;
}

/* Is output i, which a journal says imgpool made, this input's own: made for it
 * (owner == this input), with these settings, from the file its row describes --
 * or, for adoption (row NULL), for this very file under another name (its owner
 * input is gone and the journal had it with this file's size and mtime: a rename)
 * or for this file whose row a kill lost? A thumbnail of another input (a case
 * twin, a {inext} twin), of other settings or of other bytes is never taken as up
 * to date. */
static int owned_by_this(owner_query *q, const char *root, int i, const outputs_seen *o,
			 const journal_row *row)
{
	const discover_item *it = q->it;
	journal_output info;
	struct stat st;
	if (!journal_output_info(q->j, it->out_rel[i], &o->id[i], &info))
		return 0;
	int mine = !strcmp(info.root, root) && !strcmp(info.rel, it->rel);
	int ok = mine;
	/* The row is committed after the outputs' renames: a kill -9 between them
	 * left the row of the file before, or of other settings. */
	if (row)
		ok = mine && (!info.fingerprint || info.fingerprint == q->fingerprint) &&
		     journal_source_shows(&info.src, row->size, row->mtime_ns, row->checksum);
	else {
		ok = info.fingerprint == q->fingerprint;
		journal_row was = {.status = JOURNAL_NONE};
		if (ok && !mine) {
			char *owner = NULL;
			ok = asprintf(&owner, "%s/%s", info.root, info.rel) >= 0 &&
			     ((lstat(owner, &st) < 0 && errno == ENOENT) || is_this_input(it, owner));
			free(owner);
		}
		/* The owner's row: this input's own in another journal of the folder
		 * (a shard's, or the unsharded run's), or the renamed file's. */
		if (ok)
			journal_get_any(q->j, info.root, info.rel, &was);
		if (ok && mine && was.status == JOURNAL_NONE) {
			ok = lost_row_shows(q, &info.src, &o->id[i]);
			journal_output_free(&info);
			return ok;
		}
		/* That row says which file the output shows (and the output was made
		 * from it): the renamed file must be this one, and so must this input
		 * where its row is in another journal (a run with --shard after one
		 * without, or another N); another size or mtime, another file (a photo
		 * put there with an older mtime than the thumbnail's). */
		int same_times = ok && was.status == JOURNAL_OK && was.size == it->size &&
				 was.mtime_ns == discover_item_mtime_ns(it) &&
				 journal_source_shows(&info.src, was.size, was.mtime_ns, was.checksum);
		ok = same_times;
		/* With --checksum, or where the owner's row is racy (plan_racy()), its
		 * bytes too: an edit that kept size and mtime. The file is read only
		 * here, after the cheap checks. */
		uint64_t *now = q->it_checksum;
		if (same_times && was.checksum && (q->checksum || was.racy) && now && !*now)
			owner_hash_input(q, now);
		/* bytes that cannot be read prove nothing with --checksum: made again,
		 * where the read fails and says why */
		if (same_times && was.checksum)
			ok = !now || !*now ? !was.racy && !q->checksum : *now == was.checksum;
		else if (same_times && was.racy)
			ok = 0; /* racy, and no bytes to compare with: made again */
		/* With --checksum, bytes decide (same_file()): the renamed file's row
		 * without a checksum says nothing of the bytes the outputs show. */
		if (q->checksum && !(same_times && was.checksum))
			ok = 0;
		if (ok && same_times && was.checksum) {
			q->owner_checksum = was.checksum;
			q->owner_racy = was.racy;
		}
	}
	journal_output_free(&info);
	return ok;
}

/* Is output i, which a journal says imgpool made, the thumbnail of another input
 * that is still there (and has not failed since)? Making this one would replace it
 * without a word: two inputs of two runs with one output path (-o out A, then -o
 * out B, A/x.jpg and B/x.jpg; c.png, then c.jpg beside it with -f jpeg) took turns
 * at it, each "ok". *owner: that input's path (malloc'd). Made with other settings
 * (another --name: IMG_1.JPG made IMG_1_256.jpg, and with {inext} makes
 * IMG_1_256.JPG), it is not what that input would make now: a stale thumbnail,
 * taken over. An owner that is gone hands it over too (a renamed input; ENOTDIR: a
 * folder on its way is a file now); one that cannot be looked at is taken to be
 * there. */
int owner_owned_by_another(owner_query *q, const char *root, int i, const outputs_seen *o,
			   char **owner, int *owner_changed)
{
	const discover_item *it = q->it;
	journal_output info;
	struct stat st;
	*owner = NULL;
	*owner_changed = 0;
	if (!journal_output_info(q->j, it->out_rel[i], &o->id[i], &info))
		return 0;
	/* Gone as --prune takes it: no file there, or a folder (or a symlink to one)
	 * where it was (the photo x.gif became a folder x.gif/: its twin x.png was
	 * refused as the partner of one "still there", and the same run pruned it). */
	int other = (!root || strcmp(info.root, root) || strcmp(info.rel, it->rel)) &&
		    info.fingerprint == q->fingerprint &&
		    asprintf(owner, "%s/%s", info.root, info.rel) >= 0 &&
		    (lstat(*owner, &st) == 0
			     ? !S_ISDIR(st.st_mode) &&
				       !(S_ISLNK(st.st_mode) && stat(*owner, &st) == 0 &&
					 S_ISDIR(st.st_mode))
			     : !(errno == ENOENT || errno == ENOTDIR)) &&
		    !is_this_input(it, *owner);
	/* An owner that failed since (damaged now) makes nothing: its thumbnail shows
	 * bytes that are no more, and its name is free (the twin of another
	 * extension was refused every night, for good). */
	journal_row row;
	if (other) {
		journal_get_any(q->j, info.root, info.rel, &row);
		other = row.status != JOURNAL_FAILED;
		/* Changed since its row (another size or mtime: stat() reads what the
		 * walk reads, a symlink's target): if this run makes it again, it
		 * may fail (plan_next_held()). */
		*owner_changed = other && row.status == JOURNAL_OK && stat(*owner, &st) == 0 &&
				 ((uint64_t)st.st_size != row.size ||
				  (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
					  row.mtime_ns);
	}
	journal_output_free(&info);
	if (!other) {
		free(*owner);
		*owner = NULL;
	}
	return other;
}

/* Every output this input's own (see owned_by_this())? */
int owner_all_owned(owner_query *q, const char *root, const outputs_seen *o,
		    const journal_row *row)
{
	for (int i = 0; i < q->it->noutputs; i++)
		if (o->state[i] != OUT_OURS || !owned_by_this(q, root, i, o, row))
			return 0;
	return 1;
}

/* Record the outputs of a file with no row as imgpool's, made for it, and the file
 * as made. Each output gets its row in this run's own journal, also one that only
 * another journal had (a shard's: the renamed input was done by a sharded run),
 * where a change of owner alone would change nothing and the next run would find
 * the outputs still another input's. */
/* journal_outputs_of() callback: counts the rows. */
static int count_output(void *data, const char *path, const file_ident *id)
{
	(void)path;
	(void)id;
	++*(long *)data;
	return 0;
}

/* After an adoption: the input that owned the outputs before (rel in root, the
 * folder renamed since: MV/x.jpg, now MV2/x.jpg), where it is gone and owns no
 * output any more, is forgotten. Its row stayed for good (--prune walks only the
 * PATHs given), and `imgpool status` counted 34 files for 17. */
static void forget_former_owner(owner_query *q, const char *root, const char *rel)
{
	long outputs = 0;
	char *path = NULL;
	struct stat st;
	if (asprintf(&path, "%s/%s", root, rel) < 0)
		return;
	if (lstat(path, &st) < 0 && errno == ENOENT &&
	    journal_outputs_of(q->j, root, rel, count_output, &outputs) >= 0 && !outputs)
		journal_input_forget(q->j, root, rel);
	free(path);
}

void owner_adopt(owner_query *q, const char *root, const outputs_seen *o, uint64_t checksum,
		 int racy)
{
	const discover_item *it = q->it;
	journal_output was[THUMB_MAX_SIZES];
	int nwas = 0;
	for (int i = 0; i < it->noutputs; i++) {
		if (journal_output_info(q->j, it->out_rel[i], &o->id[i], &was[nwas]) == 1) {
			if (strcmp(was[nwas].root, root) || strcmp(was[nwas].rel, it->rel))
				nwas++;
			else
				journal_output_free(&was[nwas]);
		}
	}
	for (int i = 0; i < it->noutputs; i++) {
		/* Its checksum and stamp kept: without them a copied output folder's
		 * adopted thumbnails could not be shown imgpool's. */
		uint64_t stamp, sum = 0;
		journal_source src = {1, it->size, discover_item_mtime_ns(it), checksum};
		publish_placed(q->pb, it->out_rel[i], NULL, &stamp, &sum);
		journal_output_intent(q->j, it->out_rel[i], &o->id[i], sum, root, it->rel,
				      &src);
		journal_output_made(q->j, it->out_rel[i], &o->id[i], stamp);
	}
	journal_row row = {.status = JOURNAL_OK, .size = it->size, .mtime_ns = discover_item_mtime_ns(it),
			   .fingerprint = q->fingerprint, .checksum = checksum, .attempts = 1,
			   .racy = racy};
	journal_put(q->j, root, it->rel, &row);
	for (int k = 0; k < nwas; k++) {
		forget_former_owner(q, was[k].root, was[k].rel);
		journal_output_free(&was[k]);
	}
}
