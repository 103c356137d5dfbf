/* SPDX-License-Identifier: MIT */
/*
 * publish.c — the ownership rule and the write-ahead publishing of outputs. See
 * publish.h.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filehash.h"
#include "io.h"
#include "publish.h"

#define NAME_LEN 64 /* quarantine names */

/* The checksum of the bytes of file leaf in the folder open at pfd (beneath OUT),
 * whose stat is st, into *sum: 0, or -1 when it cannot be read (errno) or is no
 * longer the file st says. Never through a symlink. */
static int bytes_of(int pfd, const char *leaf, const struct stat *st, uint64_t *sum)
{
	struct stat now;
	int fd = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc = -1;
	if (fd >= 0 && fstat(fd, &now) == 0 && filehash_fd(fd, sum) == 0) {
		rc = now.st_dev == st->st_dev && now.st_ino == st->st_ino ? 0 : -1;
		errno = rc ? ESTALE : 0;
	}
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return rc;
}

/* Output rel, imgpool's by its bytes in another file (a copied or restored output
 * folder): each folder above it recorded as imgpool's at its path under another
 * identity is that folder copied, and recorded as it is now, as the thumbnail is
 * (an emptied one stayed for good). One the user made (not recorded) stays
 * theirs. */
static void adopt_copied_folders(const publisher *pb, const char *rel)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", rel);
	for (char *slash; (slash = strrchr(dir, '/'));) {
		*slash = '\0';
		const char *leaf;
		int pfd = journal_folder_known(pb->j, dir) ? outdir_parent(pb->od, dir, 0, &leaf) : -1;
		uint64_t id = pfd >= 0 ? io_identity(pfd, leaf, 0) : 0;
		if (id && !journal_folder_ours(pb->j, dir, id, 0))
			journal_folder_made(pb->j, dir, id);
		if (pfd >= 0)
			close(pfd);
	}
}

out_state publish_inspect(const publisher *pb, const char *rel, uint64_t in_dev,
			  uint64_t in_ino, file_ident *id, char *why, size_t len)
{
	struct stat st;
	size_t plen = strlen(OUTDIR_PRIVATE);
	memset(id, 0, sizeof *id);
	why[0] = '\0';
	/* A --name that leads into imgpool's own folder would replace its journal
	 * or lock (any case: the output folder may be on a case-blind disk). */
	if (!strncasecmp(rel, OUTDIR_PRIVATE, plen) && (rel[plen] == '/' || !rel[plen])) {
		snprintf(why, len, "is inside imgpool's own folder " OUTDIR_PRIVATE);
		return OUT_BLOCKED;
	}
	if (outdir_stat(pb->od, rel, &st) < 0) {
		if (errno == ENOENT)
			return OUT_ABSENT;
		snprintf(why, len, "cannot be reached: %s", outdir_strerror(errno));
		return OUT_UNREACHABLE;
	}
	*id = outdir_ident_of(&st);
	if ((uint64_t)st.st_dev == in_dev && (uint64_t)st.st_ino == in_ino) {
		snprintf(why, len, "is the input itself");
		return OUT_BLOCKED;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, len, "is a folder");
		return OUT_BLOCKED;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, len, "is a symlink (imgpool never writes through one)");
		return OUT_BLOCKED;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "is not a regular file");
		return OUT_BLOCKED;
	}
	if (outdir_kept(pb->od, &st)) { /* --report out/dog.jpg: never taken */
		snprintf(why, len, "is this run's --report file");
		return OUT_BLOCKED;
	}
	/* A lookup that failed is no answer: taken for "not imgpool's", the file
	 * was refused as the user's, or made again over a thumbnail it still had. */
	uint64_t read_errors = journal_read_errors(pb->j, NULL), proof = 0;
	const char *cause;
	int owns = journal_owns(pb->j, rel, id, io_stamp(&st), &proof), same = 0;
	if (owns == 2) { /* imgpool's only if its bytes are: then known, not read again */
		uint64_t stamp, sum = 0;
		same = publish_placed(pb, rel, id, &stamp, &sum) < 0 ? -1 : sum == proof;
		if (same == 1) {
			journal_output_moved(pb->j, rel, id, stamp);
			adopt_copied_folders(pb, rel);
		}
	}
	if (owns == 1 || same == 1)
		return OUT_OURS;
	if (same < 0) {
		snprintf(why, len, "cannot be told imgpool's or not: cannot read it: %s",
			 outdir_strerror(errno));
		return OUT_UNREACHABLE;
	}
	if (journal_read_errors(pb->j, &cause) != read_errors) {
		snprintf(why, len, "cannot be told imgpool's or not: %s", cause);
		return OUT_UNREACHABLE;
	}
	return OUT_FOREIGN;
}

/* What step 3 does with one output. */
typedef struct out_plan {
	file_ident fresh;        /* the temp file's identity (size, mtime survive rename) */
	int replace;             /* 1: move imgpool's (or --overwrite's) file aside first */
	file_ident old;          /* the file replaced */
	char qname[NAME_LEN];
} out_plan;

/* publish_inspect() of output i; where it is blocked by this input's own
 * thumbnails of earlier settings (a --name that swapped a file and a folder),
 * those are removed first and it is looked at again: they would go once the new
 * outputs are in place (step 4), and in the way they failed the file on every
 * run. A removal that fails is the cause in err. */
static out_state inspect_freeing(const publisher *pb, const publish_item *it, int i,
				 file_ident *id, char *why, size_t why_len, char *err, size_t len)
{
	out_state s = publish_inspect(pb, it->out_rel[i], it->in_dev, it->in_ino, id, why,
				      why_len);
	if ((s == OUT_BLOCKED || s == OUT_UNREACHABLE) &&
	    publish_own_in_way(pb, it, i, 1, err, len) > 0)
		s = publish_inspect(pb, it->out_rel[i], it->in_dev, it->in_ino, id, why, why_len);
	return s;
}

/* Step 1: check the temp files and the output paths. */
static int check_all(const publisher *pb, const publish_item *it, out_plan *plan, char *err,
		     size_t len)
{
	char why[200];
	for (int i = 0; i < it->n; i++) {
		struct stat st;
		if (outdir_tmp_stat(pb->od, it->temps[i], &st) < 0) {
			snprintf(err, len, "the worker's output for %s is missing: %s", it->display[i],
				 strerror(errno));
			return -1;
		}
		/* Another file put at its name (a same-user process writing in
		 * .imgpool): never published, nor given its folder's group and ACL. */
		if (it->inos && it->inos[i] && (uint64_t)st.st_ino != it->inos[i]) {
			snprintf(err, len, "the worker's output for %s was replaced in imgpool's "
				 "temp folder by another file; nothing was put in place",
				 it->display[i]);
			return -1;
		}
		plan[i].fresh = outdir_ident_of(&st); /* a rename keeps all of it */
		switch (inspect_freeing(pb, it, i, &plan[i].old, why, sizeof why, err, len)) {
		case OUT_ABSENT:
			plan[i].replace = 0;
			break;
		case OUT_OURS:
			plan[i].replace = 1;
			break;
		case OUT_FOREIGN:
			if (!pb->overwrite) {
				snprintf(err, len, "its output %s exists and %s; --overwrite "
					 "replaces it", it->display[i], PUBLISH_NOT_OURS(1));
				return -1;
			}
			plan[i].replace = 1;
			break;
		case OUT_BLOCKED:
		case OUT_UNREACHABLE:
			if (!err[0])
				snprintf(err, len, "its output %s %s", it->display[i], why);
			return -1;
		}
		if (plan[i].replace)
			outdir_quarantine_name(pb->od, plan[i].qname, sizeof plan[i].qname);
	}
	return 0;
}

/* Step 2: the write-ahead records (committed by the caller, once for a batch). */
static int write_ahead(const publisher *pb, const publish_item *it, const out_plan *plan)
{
	for (int i = 0; i < it->n; i++)
		if (journal_output_intent(pb->j, it->out_rel[i], &plan[i].fresh,
					  it->sums ? it->sums[i] : 0, it->root, it->rel, &it->src) < 0 ||
		    (plan[i].replace && journal_quarantine_add(pb->j, plan[i].qname,
							       it->out_rel[i], &plan[i].old) < 0))
			return -1;
	return 0;
}

/* May an output this input no longer plans be removed? Not when another current
 * input plans that path. */
static int still_planned(const publisher *pb, const publish_item *it, const char *path)
{
	for (int i = 0; i < it->n; i++)
		if (!strcmp(path, it->out_rel[i]))
			return 1;
	return pb->d && discover_planned(pb->d, path);
}

/* Removal of an output of earlier settings: said to pb->removed. */
static int remove_earlier(const publisher *pb, const publish_item *it, const char *path,
			  const file_ident *id, char *err, size_t len)
{
	int rc = publish_remove(pb, path, id, err, len);
	if (rc == 1 && pb->removed)
		pb->removed(pb->removed_data, it, path);
	return rc;
}

/* publish_drop_stale()'s walk over the rows. */
typedef struct unplanned {
	const publisher *pb;
	const publish_item *it;
} unplanned;

/* One that cannot be removed is said and stays with its row: the input is made
 * all the same. Failing the input instead (its row failed) gave its name away:
 * another input of that name took the thumbnail just put in place. */
static int drop_if_unplanned(void *data, const char *path, const file_ident *id)
{
	unplanned *u = data;
	char why[300];
	if (!still_planned(u->pb, u->it, path) &&
	    remove_earlier(u->pb, u->it, path, id, why, sizeof why) < 0 && u->pb->kept)
		u->pb->kept(u->pb->removed_data, u->it, path, why);
	return 0;
}

/* A dry run's: listed as removed, nothing removed. */
static void list_unplanned(void *data, const char *path)
{
	const unplanned *u = data;
	u->pb->removed(u->pb->removed_data, u->it, path);
}

void publish_drop_stale(const publisher *pb, const publish_item *it, int list_only)
{
	unplanned u = {pb, it};
	if (list_only && pb->removed)
		publish_stale_outputs(pb, it, list_unplanned, &u);
	else if (!list_only && pb->j)
		journal_outputs_of(pb->j, it->root, it->rel, drop_if_unplanned, &u);
}

/* publish_stale_outputs()'s walk over the rows. */
typedef struct stale_walk {
	const publisher *pb;
	const publish_item *it;
	void (*each)(void *data, const char *rel);
	void *data;
	int count;
} stale_walk;

static int tell_if_stale(void *data, const char *path, const file_ident *id)
{
	stale_walk *w = data;
	char why[300];
	file_ident now;
	if (!still_planned(w->pb, w->it, path) &&
	    publish_inspect_recorded(w->pb, path, &now, why, sizeof why) == OUT_OURS &&
	    now.size == id->size && now.mtime_ns == id->mtime_ns) {
		if (w->each)
			w->each(w->data, path);
		w->count++;
	}
	return 0;
}

int publish_stale_outputs(const publisher *pb, const publish_item *it,
			  void (*each)(void *data, const char *rel), void *data)
{
	stale_walk w = {pb, it, each, data, 0};
	if (pb->j)
		journal_outputs_of(pb->j, it->root, it->rel, tell_if_stale, &w);
	return w.count;
}

/* journal_outputs_of() callback: counts the rows. */
static int count_row(void *data, const char *path, const file_ident *id)
{
	(void)path;
	(void)id;
	++*(long *)data;
	return 0;
}

/* Is path beneath folder (a path relative to OUT)? */
static int beneath(const char *folder, const char *path)
{
	size_t n = strlen(folder);
	return !strncmp(folder, path, n) && path[n] == '/';
}

/* publish_files_beneath()'s walk. */
typedef struct beneath_walk {
	const publisher *pb;
	long max, count;
	int (*each)(void *data, const char *path);
	void *data;
	char path[PATH_MAX];
} beneath_walk;

/* Did imgpool make the folder open at fd, at path beneath OUT (as recorded, or
 * adopted as a copy of one by a thumbnail in it just proved imgpool's by its
 * bytes: adopt_copied_folders())? Only such a folder goes once emptied
 * (outdir_remove_empty_dirs()). */
static int made_folder(const publisher *pb, int fd, const char *path)
{
	uint64_t earlier, id = io_identities(fd, "", AT_EMPTY_PATH, &earlier);
	return journal_folder_ours(pb->j, path, id, earlier);
}

/* The folder open at fd (closed here), on device dev, whose path is b->path (len
 * bytes): 0, or -1 where it could not be emptied (publish_files_beneath()), or
 * would stay once emptied (a folder in it imgpool did not make). */
static int walk_beneath(beneath_walk *b, int fd, dev_t dev, size_t len, int depth)
{
	DIR *dir = fd >= 0 && depth < 64 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	long before = b->count;
	int rc = 0;
	struct dirent *e;
	struct stat st;
	for (;;) {
		if (rc || (b->max >= 0 && b->count > b->max))
			break;
		errno = 0;
		if (!(e = readdir(dir))) {
			rc = errno ? -1 : 0;
			break;
		}
		size_t k = strlen(e->d_name);
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (len + 1 + k >= sizeof b->path ||
		    fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev) {
			rc = -1;
			break;
		}
		b->path[len] = '/';
		memcpy(b->path + len + 1, e->d_name, k + 1);
		if (S_ISREG(st.st_mode))
			rc = b->each && !b->each(b->data, b->path) ? -1 : (b->count++, 0);
		else if (S_ISDIR(st.st_mode))
			rc = walk_beneath(b, openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY |
						    O_NOFOLLOW | O_CLOEXEC), dev, len + 1 + k, depth + 1);
		else
			rc = -1;
		b->path[len] = '\0';
	}
	/* A folder holding no file stays when the files go: in the way still; so
	 * does one imgpool did not make, asked once its files were looked at (each()
	 * proving one by its bytes adopts a copied folder). */
	if (!rc && b->count > before && !made_folder(b->pb, dirfd(dir), b->path))
		rc = -1;
	closedir(dir);
	return rc < 0 || b->count == before ? -1 : 0;
}

long publish_files_beneath(const publisher *pb, const char *rel, long max,
			   int (*each)(void *data, const char *path), void *data)
{
	beneath_walk b = {.pb = pb, .max = max, .each = each, .data = data};
	const char *leaf;
	struct stat st;
	size_t len = strlen(rel);
	if (len >= sizeof b.path || outdir_stat(pb->od, rel, &st) < 0 || !S_ISDIR(st.st_mode))
		return -1;
	int pfd = outdir_parent(pb->od, rel, 0, &leaf);
	if (pfd < 0)
		return -1;
	memcpy(b.path, rel, len + 1);
	int rc = walk_beneath(&b, openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC), st.st_dev, len, 0);
	close(pfd);
	return rc < 0 ? -1 : b.count;
}

/* publish_own_in_way()'s look at output i's way, then its walk over the input's
 * output rows. */
typedef struct in_way {
	const publisher *pb;
	const publish_item *it;
	char way[PATH_MAX];       /* what must go: the folder at out_rel[i], or the file
	                             on its way */
	int folder;               /* way is a folder: the rows beneath it; else the row
	                             at way */
	int remove;
	long ours, others;        /* paths there still the files recorded / not to touch */
	char **seen;              /* the paths counted: a row adopted by a shard is in
	                             two journals, one file */
	size_t nseen;
	char *err;
	size_t len;
} in_way;

int publish_blocker(const publisher *pb, const char *rel, char *at, size_t len)
{
	struct stat st;
	if (snprintf(at, len, "%s", rel) >= (int)len)
		return -1;
	if (outdir_stat(pb->od, at, &st) == 0)
		return S_ISDIR(st.st_mode) ? BLOCKED_BY_FOLDER : 0;
	if (errno != ENOTDIR)
		return 0;
	for (char *slash = strchr(at, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (outdir_stat(pb->od, at, &st) == 0 && !S_ISDIR(st.st_mode))
			return S_ISREG(st.st_mode) ? BLOCKED_BY_FILE : -1;
		*slash = '/';
	}
	return -1;
}

/* Is output i blocked by a folder at its path or by a regular file on its way
 * (w->way, w->folder)? */
static int way_of(in_way *w, int i)
{
	int blocker = publish_blocker(w->pb, w->it->out_rel[i], w->way, sizeof w->way);
	w->folder = blocker == BLOCKED_BY_FOLDER;
	return blocker == BLOCKED_BY_FOLDER || blocker == BLOCKED_BY_FILE;
}

/* Counted already (w->seen)? Else noted. -1: no memory. */
static int seen_before(in_way *w, const char *path)
{
	for (size_t k = 0; k < w->nseen; k++)
		if (!strcmp(w->seen[k], path))
			return 1;
	char **more = realloc(w->seen, (w->nseen + 1) * sizeof *more);
	if (!more || !(more[w->nseen] = strdup(path))) {
		if (more)
			w->seen = more;
		return -1;
	}
	w->seen = more;
	w->nseen++;
	return 0;
}

static int own_in_way(void *data, const char *path, const file_ident *id)
{
	in_way *w = data;
	char why[300];
	file_ident now;
	if (w->folder ? !beneath(w->way, path) : strcmp(w->way, path) != 0)
		return 0;
	if (still_planned(w->pb, w->it, path)) {
		w->others++;
		return 0;
	}
	if (!w->remove) {
		int seen = seen_before(w, path);
		if (seen < 0)
			w->others++; /* cannot count: not freed */
		else if (!seen)
			w->ours += publish_inspect(w->pb, path, 0, 0, &now, why, sizeof why) ==
					   OUT_OURS &&
				   now.size == id->size && now.mtime_ns == id->mtime_ns;
		return 0;
	}
	int rc = remove_earlier(w->pb, w->it, path, id, why, sizeof why);
	if (rc < 0)
		snprintf(w->err, w->len, "its earlier thumbnail %s/%s is in the way and cannot "
			 "be removed: %s", outdir_path(w->pb->od), path, why);
	w->ours += rc == 1;
	return rc < 0;
}

int publish_own_in_way(const publisher *pb, const publish_item *it, int i, int remove,
		       char *err, size_t len)
{
	in_way w = {.pb = pb, .it = it, .err = err, .len = len};
	/* Only where they are all that is in the way: removed otherwise, they left
	 * the photo without its thumbnails and in the way still. */
	long rows = 0, files;
	if (!pb->j)
		return 0;
	journal_outputs_of(pb->j, it->root, it->rel, count_row, &rows);
	if (!rows || !way_of(&w, i))
		return 0;
	/* The rows first: one proved imgpool's by its bytes (a copied output folder)
	 * adopts the folder it is in (adopt_copied_folders()), which the count then
	 * takes. The count: the regular files in the way, or -1 (a symlink, a FIFO,
	 * an empty folder, a mount point, a folder imgpool did not make there:
	 * nothing to free). */
	journal_outputs_of(pb->j, it->root, it->rel, own_in_way, &w);
	files = w.folder ? publish_files_beneath(pb, w.way, rows, NULL, NULL) : 1;
	for (size_t k = 0; k < w.nseen; k++)
		free(w.seen[k]);
	free(w.seen);
	if (files <= 0 || w.others || w.ours != files)
		return 0;
	if (!remove)
		return 1;
	w.remove = 1;
	w.ours = 0;
	journal_outputs_of(pb->j, it->root, it->rel, own_in_way, &w);
	/* a row in two journals: its second removal finds it gone (0) */
	return w.ours == files ? 1 : -(err[0] != '\0');
}

int publish_placed(const publisher *pb, const char *rel, const file_ident *expect,
		   uint64_t *stamp, uint64_t *sum)
{
	const char *leaf;
	struct stat st;
	int pfd = outdir_parent(pb->od, rel, 0, &leaf), rc = -1;
	*stamp = 0;
	if (pfd >= 0 && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (!expect || (uint64_t)st.st_ino == expect->ino || (errno = ESTALE, 0))) {
		*stamp = io_stamp(&st);
		rc = sum ? bytes_of(pfd, leaf, &st, sum) : 0;
		if (rc < 0) /* a stamp without its proof would disown it after a chmod */
			*stamp = 0;
	}
	int e = errno;
	if (pfd >= 0)
		close(pfd);
	errno = e;
	return rc;
}

/* Steps 3 and 4 for one input whose records are committed. */
static int move_into_place(const publisher *pb, const publish_item *it, const out_plan *plan,
			   char *err, size_t len)
{
	for (int i = 0; i < it->n; i++) {
		int rc = plan[i].replace
				 ? outdir_replace(pb->od, it->temps[i], it->out_rel[i], &plan[i].old,
						  plan[i].qname, &plan[i].fresh)
				 : outdir_publish(pb->od, it->temps[i], it->out_rel[i],
						  &plan[i].fresh);
		if (rc < 0) {
			int e = errno;
			journal_output_forget(pb->j, it->out_rel[i], &plan[i].fresh);
			if (e == OUTDIR_EKEPT) /* the kept name first: a long path is cut */
				snprintf(err, len, "%s, as %s; its output was not put in place: %s",
					 outdir_strerror(e), outdir_kept_name(pb->od), it->display[i]);
			else
				snprintf(err, len, "cannot put its output %s in place: %s",
					 it->display[i],
					 e == EEXIST ? "a file appeared there meanwhile (left as it is)"
						     : outdir_strerror(e));
			return -1;
		}
		uint64_t stamp;
		publish_placed(pb, it->out_rel[i], &plan[i].fresh, &stamp, NULL);
		journal_output_made(pb->j, it->out_rel[i], &plan[i].fresh, stamp);
		if (plan[i].replace)
			journal_quarantine_del(pb->j, plan[i].qname);
	}
	/* Always asked (an indexed query): the input row that would tell whether the
	 * input had outputs may have been lost to a kill -9, the output rows not. */
	publish_drop_stale(pb, it, 0);
	return 0;
}

int publish_batch(const publisher *pb, const publish_item *items, int n, publish_error *errs)
{
	out_plan (*plans)[THUMB_MAX_SIZES] = calloc((size_t)(n > 0 ? n : 1), sizeof *plans);
	int failed = 0, recorded = 0;
	for (int k = 0; k < n; k++) {
		errs[k].failed = 0;
		errs[k].cause[0] = '\0';
	}
	if (!plans) {
		for (int k = 0; k < n; k++) {
			errs[k].failed = 1;
			snprintf(errs[k].cause, sizeof errs[k].cause, "out of memory");
		}
		return n;
	}
	/* 1 and 2 for every input, then one commit: the write-ahead point of the batch.
	 * Rows undone on the way (a full batch's inner commit failed) fail it all. */
	uint64_t undone = journal_rollbacks(pb->j);
	for (int k = 0; k < n; k++) {
		errs[k].failed = check_all(pb, &items[k], plans[k], errs[k].cause,
					   sizeof errs[k].cause) < 0 ||
				 (recorded++, write_ahead(pb, &items[k], plans[k]) < 0);
		if (errs[k].failed && !errs[k].cause[0])
			snprintf(errs[k].cause, sizeof errs[k].cause, "cannot record its outputs, so "
				 "none was moved into place: %s", journal_error(pb->j));
	}
	if (recorded && (journal_sync(pb->j) < 0 || journal_rollbacks(pb->j) != undone))
		for (int k = 0; k < n; k++)
			if (!errs[k].failed) {
				errs[k].failed = 1;
				snprintf(errs[k].cause, sizeof errs[k].cause, "cannot record its outputs, so "
					 "none was moved into place: %s", journal_error(pb->j));
			}
	for (int k = 0; k < n; k++) {
		if (!errs[k].failed)
			errs[k].failed = move_into_place(pb, &items[k], plans[k], errs[k].cause,
							 sizeof errs[k].cause) < 0;
		failed += errs[k].failed;
	}
	free(plans);
	return failed;
}

int publish_outputs(const publisher *pb, const publish_item *it, char *err, size_t len)
{
	publish_error e;
	int failed = publish_batch(pb, it, 1, &e);
	snprintf(err, len, "%s", e.cause);
	return failed ? -1 : 0;
}

out_state publish_inspect_recorded(const publisher *pb, const char *rel, file_ident *id,
				   char *why, size_t len)
{
	struct stat st;
	out_state s = publish_inspect(pb, rel, 0, 0, id, why, len);
	/* Its row, kept as "cannot be reached", stayed for good where a file took
	 * its folder's name. */
	if (s == OUT_UNREACHABLE && outdir_stat(pb->od, rel, &st) < 0 && errno == ENOTDIR)
		s = OUT_ABSENT;
	return s;
}

int publish_remove(const publisher *pb, const char *rel, const file_ident *id, char *err,
		   size_t len)
{
	char qname[NAME_LEN], why[200];
	file_ident now;
	int rc = 0;
	err[0] = '\0';
	out_state s = publish_inspect_recorded(pb, rel, &now, why, sizeof why);
	if (s == OUT_OURS && now.size == id->size && now.mtime_ns == id->mtime_ns) {
		outdir_quarantine_name(pb->od, qname, sizeof qname);
		if (journal_quarantine_add(pb->j, qname, rel, id) < 0 || journal_sync(pb->j) < 0) {
			snprintf(err, len, "cannot record the removal: %s", journal_error(pb->j));
			return -1;
		}
		/* now: the file just proved imgpool's (its device and inode), which
		 * alone may go; one put in its place since stays (ESTALE) */
		if (outdir_remove(pb->od, rel, &now, qname) == 0) {
			rc = 1;
		} else if (errno != ENOENT) {
			/* ESTALE too: another file was moved into its place since it was
			 * proved imgpool's. Said, and its row kept: a later run proves the
			 * file there again (by its bytes) before it removes it. */
			snprintf(err, len, "%s", outdir_strerror(errno));
			rc = -1;
		}
		journal_quarantine_del(pb->j, qname);
	} else if (s == OUT_ABSENT) {
		/* Never there, or gone already: a kill between a publish's mkdir and its
		 * rename leaves its folders empty, with nothing else to lead back. */
		outdir_remove_empty_dirs(pb->od, rel);
	} else if (s == OUT_UNREACHABLE) {
		snprintf(err, len, "%s", why);
		rc = -1;
	}
	if (rc >= 0)
		journal_output_forget(pb->j, rel, id);
	return rc;
}
