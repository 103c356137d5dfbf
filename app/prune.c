/* SPDX-License-Identifier: MIT */
/*
 * prune.c — remove the outputs of inputs that are gone. See prune.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "prune.h"
#include "settings.h"

typedef struct prune_run {
	const prune_config *cfg;
	const char *root;
	char *input;                  /* root/rel of the input being pruned */
	int64_t count;
	int64_t kept;                 /* outputs that could not be removed */
	char *link;                   /* the symlink the last inputs kept lie behind */
	int64_t behind_link;          /* how many of them have a thumbnail no input plans */
	int input_unplanned;          /* unplanned_output()'s answer */
	char *holder;                 /* the last folder under_unmounted() judged */
	int holder_unmounted;         /* and its verdict */
} prune_run;

/* One output of a gone input. */
static int prune_output(void *data, const char *path, const file_ident *id)
{
	prune_run *r = data;
	const publisher *pb = r->cfg->pb;
	char *shown = NULL, err[300];
	if (pb->d && discover_planned(pb->d, path))
		return 0; /* a current input makes it: not stale */
	if (asprintf(&shown, "%s/%s", outdir_path(pb->od), path) < 0)
		shown = NULL;
	int rc;
	if (r->cfg->dry_run) {
		file_ident now;
		out_state s = publish_inspect_recorded(pb, path, &now, err, sizeof err);
		rc = s == OUT_UNREACHABLE ? -1
		     : s == OUT_OURS && now.size == id->size && now.mtime_ns == id->mtime_ns ? 1
											: 0;
	} else {
		rc = publish_remove(pb, path, id, err, sizeof err);
	}
	if (rc == 1) {
		r->cfg->on_pruned(r->cfg->data, shown ? shown : path, r->input, r->cfg->dry_run);
		r->count++;
	} else if (rc < 0) {
		r->cfg->on_kept(r->cfg->data, shown ? shown : path, r->input, err,
				r->cfg->dry_run);
		r->kept++;
	}
	free(shown);
	return 0;
}

/* The folders /etc/fstab names as mount points ($IMGPOOL_FSTAB instead, for the
 * tests: they cannot edit the machine's), read once; NULL-ended. Why fstab: a
 * disk that did not mount leaves its mount point an empty folder, where every
 * input looks gone; an emptied folder looks the same, and only the machine's
 * list of mount points tells them apart. */
static char **fstab_targets(void)
{
	static char **targets;
	static int read_once;
	if (read_once)
		return targets;
	read_once = 1;
	const char *tab = getenv("IMGPOOL_FSTAB");
	FILE *f = setmntent(tab && *tab ? tab : "/etc/fstab", "r");
	size_t n = 0;
	struct mntent *m;
	while (f && (m = getmntent(f))) {
		if (m->mnt_dir[0] != '/' || !strcmp(m->mnt_dir, "/"))
			continue; /* swap ("none"), the root filesystem */
		char **more = realloc(targets, (n + 2) * sizeof *more);
		if (!more)
			break;
		targets = more;
		/* As prune_unmounted_disk() compares: the real path. mount(8) takes
		 * "/mnt/photos/" and a spelling through a symlinked folder as well, and
		 * an entry spelled so was taken for no mount point. The mount point
		 * itself is not looked at (path_in_real_folder()): that would wait on
		 * an NFS server that does not answer, for any entry of fstab. */
		if ((targets[n] = path_in_real_folder(m->mnt_dir)) ||
		    (targets[n] = strdup(m->mnt_dir)))
			n++;
		targets[n] = NULL;
	}
	if (f)
		endmntent(f);
	return targets;
}

/* Is real (a folder's real path) where a filesystem is mounted now? 1 yes, 0 no.
 * statx's STATX_ATTR_MOUNT_ROOT says so of a bind mount of the same filesystem
 * too, whose device is its parent's: taken for a disk not mounted, every
 * thumbnail beneath it was kept for good. Where the kernel does not tell (before
 * Linux 5.8), another device than its parent's. */
static int mounted_here(const char *real)
{
	struct statx sx;
	if (statx(AT_FDCWD, real, 0, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	char *parent = path_join(real, "..");
	struct stat a, b;
	int other = parent && stat(real, &a) == 0 && stat(parent, &b) == 0 &&
		    a.st_dev != b.st_dev;
	free(parent);
	return other;
}

int prune_unmounted_disk(const char *folder)
{
	char **t = fstab_targets();
	if (!t)
		return 0;
	char *real = realpath(folder, NULL);
	int unmounted = 0;
	for (; real && *t && !unmounted; t++) {
		if (!strcmp(real, *t))
			unmounted = !mounted_here(real);
	}
	free(real);
	return unmounted;
}

/* How far folder_bare() looks: entries read, and folders deep. Past either the
 * tree is taken for content (a disk's mount point holds little). */
#define BARE_ENTRIES 10000
#define BARE_DEPTH 16

/* Is there an image (by its name, not hidden) in folder dfd or beneath it?
 * Takes dfd. 1 yes, or too much to tell (*budget spent); 0 no; -1 unreadable. */
static int holds_image(int dfd, int depth, int *budget)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (--*budget < 0 || depth >= BARE_DEPTH) {
			found = 1;
			break;
		}
		struct stat st;
		int is_dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			is_dir = S_ISDIR(st.st_mode);
		if (!is_dir) {
			found = thumb_is_input_ext(path_extension(e->d_name));
			continue;
		}
		int sub = openat(dirfd(d), e->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* a folder that cannot be read may hold photos: content */
		found = sub < 0 ? 1 : holds_image(sub, depth + 1, budget) != 0;
	}
	closedir(d);
	return found;
}

/* Is folder bare: no image (by its name, not hidden) in it or beneath it? Hidden
 * files, other files and folders without an image do not count: a mount point
 * whose disk is not mounted often holds a .DS_Store, a README or an empty folder a
 * sync tool made, and taking one for content pruned every thumbnail of the disk.
 * -1 when it cannot be read. */
static int folder_bare(const char *folder)
{
	int budget = BARE_ENTRIES;
	int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int found = holds_image(fd, 0, &budget);
	return found < 0 ? -1 : !found;
}

/* Is real (a folder's real path) bare (folder_bare()), on the device of the folder
 * holding it (no disk is mounted there now), and on another device than every
 * one the journals recorded when runs found files in it? A disk mounted there by
 * hand (not in fstab) and not mounted now leaves its mount point so. A folder
 * that is a mount point now holds a disk, whatever it holds: a new disk with the
 * photos deleted and a note kept was taken for one not mounted, for good. 1 yes;
 * 2 bare, and the journal could not be read to tell (taken as gone: a failed
 * lookup read as "nothing recorded" pruned the thumbnails of a disk not
 * mounted); 0 no. */
static int device_gone(journal *j, const char *real)
{
	struct stat st;
	if (stat(real, &st) < 0 || mounted_here(real))
		return 0;
	int seen = journal_root_device_seen(j, real, (uint64_t)st.st_dev);
	if ((seen != 0 && seen != -2) || folder_bare(real) != 1)
		return 0;
	return seen == 0 ? 1 : 2;
}

int prune_root_unsure(journal *j, const char *folder, char *why, size_t len)
{
	char *real = realpath(folder, NULL);
	int unsure = 0, gone;
	const char *cause;
	if (prune_unmounted_disk(folder)) {
		snprintf(why, len, "it is where /etc/fstab mounts a disk, and the disk is not "
			 "mounted");
		unsure = 1;
	} else if (real && (gone = device_gone(j, real)) == 1) {
		snprintf(why, len, "it holds no image, and is on another "
			 "filesystem than when a run last found files there: a disk that is not "
			 "mounted? (If it was emptied on purpose, delete the thumbnails by hand)");
		unsure = 1;
	} else if (real && gone == 2) {
		journal_read_errors(j, &cause);
		snprintf(why, len, "it holds no image, and whether it is the "
			 "disk a run found files on cannot be told: %s", cause);
		unsure = 1;
	}
	free(real);
	return unsure;
}

/* Record each folder's device where it is not bare (folder_bare()). */
static void note_devices(journal *j, const char *const *folders, int n)
{
	for (int i = 0; i < n; i++) {
		struct stat st;
		char *real = realpath(folders[i], NULL);
		if (real && stat(real, &st) == 0 && S_ISDIR(st.st_mode) && folder_bare(real) == 0)
			journal_set_root_device(j, real, (uint64_t)st.st_dev);
		free(real);
	}
}

void prune_note_roots(journal *j, const char *const *folders, int n, const discover *d)
{
	const char *const *mounts;
	note_devices(j, folders, n);
	if (d)
		note_devices(j, mounts, discover_mount_points(d, &mounts));
}

/* Is the folder path[0..end) the mount point of a disk that is not mounted (in
 * fstab, or by hand: device_gone())? Then the name missing in it proves nothing. */
static int holder_unmounted(journal *j, char *path, char *end)
{
	char keep = *end;
	*end = '\0';
	int yes = prune_unmounted_disk(path) || device_gone(j, path);
	*end = keep;
	return yes;
}

/* Is the folder path[0..holder_end), or a folder above it up to the root
 * path[0..root_len), such a mount point? Not only the folder holding the missing
 * name: an empty 2024/ that a sync tool made on the bare mount point of a disk
 * not mounted held the first missing name, and the disk's thumbnails beneath it
 * were pruned. The verdict of the last holder is kept (r->holder): inputs come
 * sorted by path, so those of one folder come together. */
static int under_unmounted(prune_run *r, char *path, size_t root_len, char *holder_end)
{
	journal *j = r->cfg->pb->j;
	size_t len = (size_t)(holder_end - path);
	if (r->holder && strlen(r->holder) == len && !strncmp(r->holder, path, len))
		return r->holder_unmounted;
	int yes = 0;
	for (char *end = path + root_len; !yes; end = strchr(end + 1, '/')) {
		yes = holder_unmounted(j, path, end);
		if (end == holder_end)
			break;
	}
	free(r->holder);
	r->holder = strndup(path, len);
	r->holder_unmounted = yes;
	return yes;
}

/* What input_gone() found of an input. */
enum { INPUT_HERE, INPUT_GONE, INPUT_BEHIND_LINK };

/* Is root/rel provably gone? Each folder on the way is looked at with lstat(),
 * not followed: the first name that does not exist (ENOENT) proves it gone, from
 * the folder that holds it, and so does a file on the way (nothing is beneath
 * a file) and a folder where the input was (the walk finds what is in it, not
 * it). A symlink on the way proves nothing (one to a folder on an unmounted
 * disk, dangling or not: the walk does not enter it, and a plain lstat() of the
 * whole path, which follows it, said ENOENT for every input behind a dangling
 * one): INPUT_BEHIND_LINK, *link_len the length of its path. Unreadable is not
 * gone either. The input's name itself a symlink to a folder is gone. */
static int input_gone(prune_run *r, char *path, size_t root_len, size_t *link_len)
{
	struct stat st;
	char *holder_end = path + root_len; /* the '/' after the folder holding the name */
	for (char *slash = path + root_len + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		int rc = lstat(path, &st), e = errno;
		*slash = '/';
		if (rc < 0)
			return e == ENOENT && !under_unmounted(r, path, root_len, holder_end) ? INPUT_GONE
										     : INPUT_HERE;
		if (S_ISLNK(st.st_mode)) {
			*link_len = (size_t)(slash - path);
			return INPUT_BEHIND_LINK;
		}
		if (!S_ISDIR(st.st_mode))
			return INPUT_GONE;
		holder_end = slash;
	}
	if (lstat(path, &st) < 0)
		return errno == ENOENT && !under_unmounted(r, path, root_len, holder_end) ? INPUT_GONE
										 : INPUT_HERE;
	/* The input's own name a symlink now: to a file, it is an input of the
	 * walk's (here); to a folder, that is a folder where the file was (the walk
	 * passes it by without a word: it walks no symlinked folder); dangling, the
	 * walk's error for it keeps its thumbnails, as for any failed input. */
	if (S_ISLNK(st.st_mode) && stat(path, &st) < 0)
		return INPUT_HERE;
	return S_ISDIR(st.st_mode) ? INPUT_GONE : INPUT_HERE;
}

/* Tell of the inputs kept behind r->link, if any, and forget it. */
static void flush_link(prune_run *r)
{
	if (r->link && r->behind_link && r->cfg->on_behind_link)
		r->cfg->on_behind_link(r->cfg->data, r->link, r->behind_link, r->cfg->dry_run);
	free(r->link);
	r->link = NULL;
	r->behind_link = 0;
}

/* journal_outputs_of() callback: is one of the input's outputs still the file
 * imgpool made, and planned by no current input (so kept only because of the
 * symlink)? One the user deleted or changed is not told of again. */
static int unplanned_output(void *data, const char *path, const file_ident *id)
{
	prune_run *r = data;
	const publisher *pb = r->cfg->pb;
	file_ident now;
	char err[300];
	if ((!pb->d || !discover_planned(pb->d, path)) &&
	    publish_inspect(pb, path, 0, 0, &now, err, sizeof err) == OUT_OURS &&
	    now.size == id->size && now.mtime_ns == id->mtime_ns)
		r->input_unplanned = 1;
	return 0;
}

/* One journal row: if its input is gone, its outputs go; 1 drops the row (not
 * while one of them is kept: the row leads the next --prune back to it). */
static int prune_input(void *data, const char *root, const char *rel)
{
	prune_run *r = data;
	int64_t kept = r->kept;
	if (r->cfg->shard.n && shard_of(rel, r->cfg->shard.n) != r->cfg->shard.k)
		return 0; /* another shard's */
	if (asprintf(&r->input, "%s/%s", root, rel) < 0)
		return 0;
	size_t link_len = 0;
	uint64_t read_errors = journal_read_errors(r->cfg->pb->j, NULL);
	int found = input_gone(r, r->input, strlen(root), &link_len),
	    gone = found == INPUT_GONE;
	if (gone)
		journal_outputs_of(r->cfg->pb->j, root, rel, prune_output, r);
	if (found == INPUT_BEHIND_LINK) {
		/* Inputs sorted by path: those behind one symlink come together. */
		if (!r->link || strlen(r->link) != link_len ||
		    strncmp(r->link, r->input, link_len)) {
			flush_link(r);
			r->link = strndup(r->input, link_len);
		}
		r->input_unplanned = 0;
		journal_outputs_of(r->cfg->pb->j, root, rel, unplanned_output, r);
		r->behind_link += r->input_unplanned;
	}
	free(r->input);
	r->input = NULL;
	/* Its row stays where its outputs could not all be read (said, as the
	 * prune's trouble: prune_gone()). */
	return gone && !r->cfg->dry_run && r->kept == kept &&
	       journal_read_errors(r->cfg->pb->j, NULL) == read_errors;
}

int64_t prune_gone(const prune_config *cfg, const char **cause)
{
	prune_run r = {cfg, NULL, NULL, 0, 0, NULL, 0, 0, NULL, 0};
	uint64_t read_errors = journal_read_errors(cfg->pb->j, NULL);
	int rc = journal_each_input(cfg->pb->j, cfg->roots, cfg->nroots, prune_input, &r);
	flush_link(&r);
	free(r.holder);
	*cause = NULL;
	if (journal_read_errors(cfg->pb->j, cause) == read_errors)
		*cause = rc < 0 ? journal_error(cfg->pb->j) : NULL;
	/* else some inputs or outputs were not read: the prune is not whole */
	return r.count;
}
