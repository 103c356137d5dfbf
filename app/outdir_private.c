/* SPDX-License-Identifier: MIT */
/*
 * outdir_private.c — imgpool's own files in OUT/.imgpool (journal, locks), held
 * by the descriptor outdir_open() took, and the workers' temp folder in it. See
 * outdir.h; everything else beneath OUT is outdir.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "io.h"
#include "outdir.h"
#include "outdir_internal.h"

/* ------------------------------------------------------------------------- */
/* imgpool's own files                                                        */

int outdir_private_open(outdir *od, const char *name, int flags)
{
	if (od->priv < 0 || strchr(name, '/')) {
		errno = od->priv < 0 ? ENOENT : EINVAL;
		return -1;
	}
	/* O_NONBLOCK: a FIFO put in a file's place would hold open() until a writer
	 * came, and a signal cannot end that wait (open() is restarted); on the regular
	 * files that pass the check below it changes nothing. */
	int fd = openat(od->priv, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
			0644); /* not writable by others whatever the umask (outdir.c) */
	if (fd < 0 && errno == EISDIR)
		errno = ENODEV; /* a folder: the same refusal as a FIFO's */
	if (fd < 0)
		return -1;
	struct stat st;
	/* A second hard link would let a write here reach a file elsewhere. Each
	 * refusal has its own errno, so that outdir_strerror() names what is there. */
	int e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? ENODEV
					  : st.st_nlink != 1	  ? EMLINK
								  : 0;
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int outdir_private_rename(outdir *od, const char *old_name, const char *new_name)
{
	if (od->priv < 0 || strchr(old_name, '/') || strchr(new_name, '/')) {
		errno = EINVAL;
		return -1;
	}
	return outdir_move_noreplace(od->priv, old_name, od->priv, new_name);
}

int outdir_private_unshare(outdir *od, const char *name)
{
	char copy[300];
	struct stat st;
	if (od->priv < 0 || strchr(name, '/') ||
	    snprintf(copy, sizeof copy, "%s.unshare-%ld", name, (long)getpid()) >= (int)sizeof copy) {
		errno = EINVAL;
		return -1;
	}
	/* Copies of name a killed run left (any pid): the caller holds the run's
	 * lock, so no other run is copying this file now. */
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%s.unshare-", name);
	char **left = outdir_private_list(od, prefix, "");
	for (char **n = left; n && *n; n++)
		if (n[0][strlen(prefix) + strspn(*n + strlen(prefix), "0123456789")] == '\0')
			unlinkat(od->priv, *n, 0);
	outdir_names_free(left);
	if (fstatat(od->priv, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = ENODEV;
		return -1;
	}
	if (st.st_nlink == 1)
		return 0;
	/* O_NONBLOCK: a FIFO swapped in since the look above must not hold open(). */
	int from = openat(od->priv, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int to = from < 0 ? -1 : openat(od->priv, copy, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC, st.st_mode & 0644);
	struct stat now;
	int rc = -1, e = 0;
	if (to >= 0 && fstat(from, &now) == 0 && S_ISREG(now.st_mode)) {
		char buf[65536];
		ssize_t got;
		while ((got = read(from, buf, sizeof buf)) > 0 && io_write_all(to, buf, (size_t)got) == 0)
			;
		rc = got == 0 && fsync(to) == 0 && renameat(od->priv, copy, od->priv, name) == 0 &&
			     fsync(od->priv) == 0 ? 0 : -1;
	} else if (to >= 0) {
		errno = ENODEV;
	}
	e = errno;
	if (rc < 0 && to >= 0)
		unlinkat(od->priv, copy, 0);
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	errno = e;
	return rc;
}

char *outdir_private_path(const outdir *od, const char *name)
{
	char *p = NULL, *dir = NULL;
	struct stat a, b;
	if (od->priv < 0 || !od->real || strchr(name, '/'))
		return NULL;
	/* The canonical path has no symlink in it; check it still leads to the folder
	 * we hold (SQLITE_OPEN_NOFOLLOW then guards the file's own name). */
	if (asprintf(&dir, "%s/" OUTDIR_PRIVATE, od->real) < 0)
		return NULL;
	if (lstat(dir, &a) == 0 && fstat(od->priv, &b) == 0 && S_ISDIR(a.st_mode) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino && asprintf(&p, "%s/%s", dir, name) < 0)
		p = NULL;
	free(dir);
	return p;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **outdir_private_list(const outdir *od, const char *prefix, const char *suffix)
{
	int dfd = od->priv >= 0 ? openat(od->priv, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t n = 0, pl = strlen(prefix), sl = strlen(suffix);
	char **names = calloc(1, sizeof *names);
	if (!d || !names) {
		if (d)
			closedir(d);
		else if (dfd >= 0)
			close(dfd);
		free(names);
		return NULL;
	}
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len < pl + sl || strncmp(e->d_name, prefix, pl) ||
		    strcmp(e->d_name + len - sl, suffix))
			continue;
		char **t = realloc(names, (n + 2) * sizeof *names);
		if (!t)
			break;
		names = t;
		if ((names[n] = strdup(e->d_name)))
			names[++n] = NULL;
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	return names;
}

void outdir_names_free(char **names)
{
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
}

/* ------------------------------------------------------------------------- */
/* Taking back a folder the run made and left empty                           */

/* Does OUT (fd) hold nothing but OUTDIR_PRIVATE? */
static int holds_only_private(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	int only = d != NULL;
	if (!d && dfd >= 0)
		close(dfd);
	for (struct dirent *e; only && (e = readdir(d));)
		only = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		       !strcmp(e->d_name, OUTDIR_PRIVATE);
	if (d)
		closedir(d);
	return only;
}

int outdir_holds_only_private(const outdir *od)
{
	return holds_only_private(od->fd);
}

/* One of the run's own files in OUT/.imgpool: a regular file (never a link, no
 * other hard link) is_own() names. */
static int is_own_file(const outdir *od, int (*is_own)(const char *name), const char *name)
{
	struct stat st;
	return is_own(name) && fstatat(od->priv, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/* Remove a folder the run made when it is still the folder made, through the fd
 * of the folder it was made in: never by a path, whose folders may have been
 * renamed or swapped for a symlink since (between a check and an rmdir by path
 * such a swap would remove someone else's empty folder). */
static int remove_made(const struct made_folder *m)
{
	struct stat st;
	if (fstatat(m->parent, m->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_dev != m->id.dev || st.st_ino != m->id.ino)
		return -1;
	return unlinkat(m->parent, m->name, AT_REMOVEDIR);
}

/* Remove OUT/.imgpool and the run's own files in it, when it is still the folder
 * open at od->priv and holds nothing else. 1 when it went. */
static int remove_private(outdir *od, int (*is_own)(const char *name))
{
	struct stat at, held;
	if (fstatat(od->fd, OUTDIR_PRIVATE, &at, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(at.st_mode) ||
	    fstat(od->priv, &held) < 0 || at.st_dev != held.st_dev || at.st_ino != held.st_ino)
		return 0;
	/* One listing: every entry but . and .. must be the run's own, then all go. */
	char **names = outdir_private_list(od, "", "");
	int own = names != NULL;
	for (char **p = names; own && p && *p; p++)
		own = !strcmp(*p, ".") || !strcmp(*p, "..") || is_own_file(od, is_own, *p);
	for (char **p = names; own && *p; p++)
		if (strcmp(*p, ".") && strcmp(*p, ".."))
			unlinkat(od->priv, *p, 0);
	outdir_names_free(names);
	return own && unlinkat(od->fd, OUTDIR_PRIVATE, AT_REMOVEDIR) == 0;
}

int outdir_unmake(outdir *od, int (*is_own)(const char *name))
{
	struct stat st;
	if (!od || od->fd < 0 || od->priv < 0)
		return 0;
	int made_out = od->nmade > 0 && fstat(od->fd, &st) == 0 &&
		       st.st_dev == od->made[od->nmade - 1].id.dev &&
		       st.st_ino == od->made[od->nmade - 1].id.ino;
	/* OUT/.imgpool made in a folder that was there (the user's photos, given as
	 * OUT by mistake) goes alone: left there, it made that folder an output
	 * folder, never read as input again. One an earlier run made stays. */
	if (!made_out && od->had_priv)
		return 0;
	if (made_out && !holds_only_private(od->fd))
		return 0;
	if (!remove_private(od, is_own) || !made_out)
		return 0;
	for (int i = od->nmade - 1; i >= 0; i--)
		if (remove_made(&od->made[i]) < 0)
			return i < od->nmade - 1;
	return 1;
}

/* ------------------------------------------------------------------------- */
/* The workers' temp folder                                                   */

/* Remove the entries of the folder open at fd that ours() says imgpool made (a
 * folder fails with EISDIR: left alone), and the empty folders a kill left before
 * their rename into OUT (OUTDIR_FOLDER_TEMP_PREFIX). Anything else there is a file
 * imgpool cannot show it made, and stays (every entry was removed before). */
static void empty_folder(int fd, int (*ours)(const char *entry))
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (ours && ours(e->d_name))
			unlinkat(fd, e->d_name, 0);
		else if (!strncmp(e->d_name, OUTDIR_FOLDER_TEMP_PREFIX,
				  strlen(OUTDIR_FOLDER_TEMP_PREFIX)))
			/* a folder a kill left before its rename (fails unless empty) */
			unlinkat(fd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* The temp folders of other shards' runs (tmp-*) that no run holds now (its
 * flock is free): their temp files are a killed run's, and the folder goes if
 * that empties it. Only the same shard's next run swept them: a killed array
 * task finished by a plain run left them for good. A run starting meanwhile
 * waits for the lock a moment (outdir_tmp_setup()). */
static void sweep_other_temp_folders(outdir *od, const char *own, int (*ours)(const char *entry))
{
	char **names = outdir_private_list(od, "tmp-", "");
	for (char **n = names; n && *n; n++) {
		if (!strcmp(*n, own))
			continue;
		int fd = openat(od->priv, *n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat held, at;
		/* Locked, and still the folder at that name: a run that ended meanwhile
		 * removed the one opened, and the name may be a new run's by now. */
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
		    fstatat(od->priv, *n, &at, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_dev == at.st_dev && held.st_ino == at.st_ino) {
			empty_folder(fd, ours);
			unlinkat(od->priv, *n, AT_REMOVEDIR); /* fails while it holds anything */
		}
		if (fd >= 0)
			close(fd);
	}
	outdir_names_free(names);
}

int outdir_tmp_setup(outdir *od, const char *name, int (*ours)(const char *entry))
{
	if (od->priv < 0 || od->tmp >= 0 || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	/* The folder is flock()ed for the run, and must still be the one at name once
	 * locked (a run ending meanwhile removes it, then unlocks). Its lock files keep a second run
	 * of the same shard out, but they can be deleted under a run (lock.h): this is
	 * what then stops the second before it empties the first's temp files. A
	 * filesystem that cannot lock a folder is not a refusal. */
	struct stat st, at;
	for (int tries = 0;; tries++) {
		if (mkdirat(od->priv, name, 0700) < 0 && errno != EEXIST)
			return -1;
		od->tmp = openat(od->priv, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* Another run's sweep (shards start together) removed it, empty and
		 * not locked yet, between the mkdir and the open: made again. */
		if (od->tmp < 0 && errno == ENOENT && tries < 3)
			continue;
		if (od->tmp < 0 || fstat(od->tmp, &st) < 0)
			return -1;
		if (flock(od->tmp, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			close(od->tmp);
			od->tmp = -1;
			if (tries == 3) {
				errno = EBUSY;
				return -1;
			}
			usleep(20000); /* a sweep of another run's holds it a moment */
			continue;
		}
		if (fstatat(od->priv, name, &at, AT_SYMLINK_NOFOLLOW) == 0 &&
		    at.st_dev == st.st_dev && at.st_ino == st.st_ino)
			break;
		close(od->tmp);
		od->tmp = -1;
		if (tries == 3) {
			errno = EBUSY; /* runs coming and going: not ours to take */
			return -1;
		}
	}
	/* Outputs are renamed from here into OUT: with .imgpool a mount point of its
	 * own, every file was decoded and then failed. Said once, before any work. */
	struct stat out;
	if (fstat(od->fd, &out) == 0 && out.st_dev != st.st_dev) {
		close(od->tmp);
		od->tmp = -1;
		errno = EXDEV;
		return -1;
	}
	/* Without a default ACL of its own (it took OUT's): what is made in it is
	 * given its own folder's when it moves there (outdir_as_made_in()); where it
	 * cannot lose it, folders are made in place. */
	if (fremovexattr(od->tmp, "system.posix_acl_default") < 0 && errno != ENODATA &&
	    errno != EOPNOTSUPP)
		od->tmp_acl = outdir_default_acl(od->tmp);
	od->tmp_id = outdir_ident_of(&st);
	od->tmp_name = strdup(name);
	if (!od->tmp_name || asprintf(&od->tmp_path, "%s/" OUTDIR_PRIVATE "/%s", od->real, name) < 0) {
		od->tmp_path = NULL;
		errno = ENOMEM;
		return -1;
	}
	od->tmp_ours = ours;
	empty_folder(od->tmp, ours);
	sweep_other_temp_folders(od, name, ours);
	return 0;
}

const char *outdir_tmp_path(const outdir *od) { return od->tmp_path; }
int outdir_tmp_fd(const outdir *od) { return od->tmp; }
file_ident outdir_tmp_ident(const outdir *od) { return od->tmp_id; }

int outdir_tmp_remove(outdir *od, const char *name)
{
	if (od->tmp < 0 || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	return unlinkat(od->tmp, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

void outdir_tmp_cleanup(outdir *od)
{
	if (od->tmp < 0)
		return;
	empty_folder(od->tmp, od->tmp_ours);
	/* Removed (when that emptied it) before the descriptor (and its lock)
	 * goes: a second run that locked it in between would have its new folder
	 * removed under it. */
	unlinkat(od->priv, od->tmp_name, AT_REMOVEDIR);
	close(od->tmp);
	od->tmp = -1;
}

int outdir_sync_in(int dirfd, const char *name)
{
	struct stat st;
	if (dirfd < 0 || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	/* O_NONBLOCK: a FIFO put in its place must not hold the open. */
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fstat(fd, &st) < 0 ? -1 : !S_ISREG(st.st_mode) ? (errno = ELOOP, -1) : fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int outdir_tmp_stat(outdir *od, const char *name, struct stat *st)
{
	if (od->tmp < 0 || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	if (fstatat(od->tmp, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(st->st_mode)) {
		errno = ELOOP;
		return -1;
	}
	return 0;
}
