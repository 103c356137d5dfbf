/* SPDX-License-Identifier: MIT */
/*
 * outdir.c — opening OUT, and every rename and delete of a file beneath it. See
 * outdir.h; the folders beneath OUT (resolving, making, removing) are
 * outdir_folders.c's, imgpool's own files in OUT/.imgpool and the workers' temp
 * folder outdir_private.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "outdir.h"
#include "paths.h"
#include "outdir_internal.h"

#define QUARANTINE "quarantine"
/* A folder made for a publish was removed before the file got in (another imgpool,
 * a shard of the same array job, removing the folders its last output left empty):
 * make it again. Bounded, so a rival that always wins cannot hold a publish for ever.
 * Each retry first waits a random while of up to 2^retry microseconds
 * (at most REMADE_FOLDER_MAX_WAIT_US): two processes publishing and removing in
 * step can otherwise lose to each other a hundred times in a row (measured: about
 * 1 run in 10 of test_outdir's two-rival test gave up after 100 quick retries in
 * 13 ms); a random wait breaks the step, as Ethernet's backoff does. */
#define REMADE_FOLDER_RETRIES 100
#define REMADE_FOLDER_MAX_WAIT_US 4096

file_ident outdir_ident_of(const struct stat *st)
{
	return (file_ident){(uint64_t)st->st_size,
			    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
			    (uint64_t)st->st_dev, (uint64_t)st->st_ino};
}

int outdir_ident_same(const file_ident *a, const file_ident *b)
{
	if (a->size != b->size || a->mtime_ns != b->mtime_ns)
		return 0;
	if ((a->dev || a->ino) && (b->dev || b->ino))
		return a->dev == b->dev && a->ino == b->ino;
	return 1;
}


/* ------------------------------------------------------------------------- */
/* Opening OUT                                                                */

/* One folder make_path() made, in the folder open at parent: remembered (a
 * duplicate of that folder's fd, its name, its identity) so that a run that
 * leaves nothing in OUT can take away what it made (outdir_unmake()). */
static void made_one(outdir *od, int parent, const char *name, int fd)
{
	struct stat st;
	struct made_folder *more = realloc(od->made, (size_t)(od->nmade + 1) * sizeof *more);
	if (!more)
		return; /* not remembered: never taken away */
	od->made = more;
	struct made_folder *m = &more[od->nmade];
	if (fstat(fd, &st) < 0 || !(m->name = strdup(name)))
		return;
	if ((m->parent = fcntl(parent, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(m->name);
		return;
	}
	m->id = outdir_ident_of(&st);
	od->nmade++;
}

/* Does nothing but slashes follow s? */
static int last_component(const char *s)
{
	return s[strspn(s, "/")] == '\0';
}

/* mkdir -p: only for OUT itself and the folders above it, which the user named
 * (a symlink among those that were there is followed, as mkdir -p does; OUT itself
 * is then opened O_NOFOLLOW by open_out(), which explains a symlink or a file
 * there). Walked one folder fd at a time, so that each folder made is known by its
 * parent's fd rather than by a path whose folders may be renamed or swapped for
 * a symlink during the run. O_PATH: mkdir -p needs only search permission on the
 * folders above, as mkdir(2) by path did. */
static int make_path(outdir *od, const char *path)
{
	char *p = strdup(path);
	int dfd = p ? open(*p == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	int rc = dfd < 0 ? -1 : 0;
	char *save = NULL;
	for (char *name = rc ? NULL : strtok_r(p, "/", &save); name;
	     name = strtok_r(NULL, "/", &save)) {
		int made = mkdirat(dfd, name, 0777) == 0;
		int e = errno;
		int next = made || e == EEXIST
				   ? openat(dfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC |
							     (made ? O_NOFOLLOW : 0))
				   : -1;
		if (next < 0) {
			/* OUT itself there but not a folder: open_out() says what it is */
			if (!made && e == EEXIST && last_component(save ? save : ""))
				break;
			rc = -1;
			if (made || e == EEXIST)
				e = errno;
			errno = e;
			break;
		}
		if (made)
			made_one(od, dfd, name, next);
		close(dfd);
		dfd = next;
	}
	int e = errno;
	if (dfd >= 0)
		close(dfd);
	free(p);
	errno = e;
	return rc;
}

/* Open OUT itself, refusing a symlink with a message that names its target. */
static int open_out(outdir *od, int create, char *err, size_t errlen)
{
	if (create && make_path(od, od->path) < 0) {
		snprintf(err, errlen, "cannot create the output folder '%s': %s", od->path,
			 strerror(errno));
		return -1;
	}
	od->fd = open(od->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (od->fd >= 0)
		return 0;
	struct stat st;
	if (!create && errno == ENOENT)
		return 0; /* dry run: nothing there yet */
	if (lstat(od->path, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *target = realpath(od->path, NULL);
		snprintf(err, errlen, "the output folder '%s' is a symlink%s%s%s; imgpool never "
			 "writes through one: give the folder itself%s%s", od->path,
			 target ? " to '" : "", target ? target : "", target ? "'" : "",
			 target ? ", -o " : "", target ? target : "");
		free(target);
	} else if (errno == ENOTDIR) {
		/* it, or a folder on its way: "-o afile/sub" named afile/sub "not a
		 * folder", where afile is the file */
		char *way = strdup(od->path), *slash;
		while (way && lstat(way, &st) < 0 && errno == ENOTDIR && (slash = strrchr(way, '/')) &&
		       slash != way)
			*slash = '\0';
		if (way && strcmp(way, od->path) && lstat(way, &st) == 0 && !S_ISDIR(st.st_mode))
			snprintf(err, errlen, "the output folder '%s' cannot be: '%s' on its way "
				 "is a file, not a folder", od->path, way);
		else
			snprintf(err, errlen, "the output folder '%s' is not a folder", od->path);
		free(way);
	} else {
		snprintf(err, errlen, "cannot open the output folder '%s': %s", od->path,
			 strerror(errno));
	}
	return -1;
}

/* Open (making it when create) OUT/.imgpool, never through a symlink. */
static int open_private(outdir *od, int create, char *err, size_t errlen)
{
	struct stat st;
	od->had_priv = fstatat(od->fd, OUTDIR_PRIVATE, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       S_ISDIR(st.st_mode);
	/* Never writable by others, whatever the umask: under umask 000 (a root
	 * crontab's, say) any user could have replaced the journal, which says what
	 * imgpool made and so may replace or delete. */
	if (create && mkdirat(od->fd, OUTDIR_PRIVATE, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot write to the output folder '%s': %s", od->path,
			 strerror(errno));
		return -1;
	}
	od->priv = openat(od->fd, OUTDIR_PRIVATE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (od->priv >= 0 || (!create && errno == ENOENT))
		return 0;
	int e = errno == ENOTDIR || errno == ELOOP ? outdir_not_a_folder(od->fd, OUTDIR_PRIVATE, errno)
						   : errno;
	snprintf(err, errlen, "cannot use '%s/" OUTDIR_PRIVATE "': %s", od->path,
		 outdir_strerror(e));
	return -1;
}

int outdir_in_private(const char *path)
{
	size_t np = strlen(OUTDIR_PRIVATE);
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, "/");
		if (n == np && !strncasecmp(p, OUTDIR_PRIVATE, np))
			return 1;
		p += n;
		p += *p == '/';
	}
	return 0;
}

outdir *outdir_open(const char *path, int create, char *err, size_t errlen)
{
	outdir *od = calloc(1, sizeof *od);
	if (!od || !(od->path = strdup(path && *path ? path : "."))) {
		free(od);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	od->fd = od->priv = od->quarantine = od->tmp = -1;
	/* OUT's own name, without the trailing slashes and "." that would let the
	 * symlink check (O_NOFOLLOW acts on the last name only) pass a symlink:
	 * "link/." is "link". */
	size_t n = strlen(od->path);
	for (;;) {
		while (n > 1 && od->path[n - 1] == '/')
			od->path[--n] = '\0';
		if (n >= 2 && od->path[n - 1] == '.' && od->path[n - 2] == '/')
			od->path[n -= (n > 2 ? 2 : 1)] = '\0';
		else
			break;
	}
	/* Another output folder's own folder (out/.imgpool/tmp-all as -o): its temp
	 * files, which that folder's runs remove as theirs, would be this run's
	 * thumbnails. Looked at before anything is made (through the symlinks on its
	 * way that exist), and again once it is open. */
	char *canon = path_canonical(od->path); /* .imgpool/../out is ./out */
	int in_private = outdir_in_private(canon ? canon : od->path);
	free(canon);
	if (in_private) {
		snprintf(err, errlen, "the output folder '%s' lies in a folder named "
			 OUTDIR_PRIVATE ", where an output folder keeps its journal and temp "
			 "files; give another folder", od->path);
		outdir_close(od);
		return NULL;
	}
	if (open_out(od, create, err, errlen) < 0) {
		outdir_close(od);
		return NULL;
	}
	if (od->fd < 0)
		return od; /* dry run, OUT absent */
	/* The canonical path, checked to be the folder we hold. */
	struct stat a, b;
	od->real = realpath(od->path, NULL);
	if (!od->real || stat(od->real, &a) < 0 || fstat(od->fd, &b) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(err, errlen, "the output folder '%s' moved while it was opened", od->path);
		outdir_close(od);
		return NULL;
	}
	if (outdir_in_private(od->real)) {
		snprintf(err, errlen, "the output folder '%s' is '%s', in a folder named "
			 OUTDIR_PRIVATE ", where an output folder keeps its journal and temp "
			 "files; give another folder", od->path, od->real);
		outdir_close(od);
		return NULL;
	}
	if (open_private(od, create, err, errlen) < 0) {
		outdir_close(od);
		return NULL;
	}
	return od;
}

void outdir_close(outdir *od)
{
	if (!od)
		return;
	int fds[] = {od->fd, od->priv, od->quarantine, od->tmp};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(od->path);
	free(od->real);
	free(od->tmp_name);
	free(od->tmp_path);
	for (int i = 0; i < od->nmade; i++) {
		free(od->made[i].name);
		close(od->made[i].parent);
	}
	free(od->made);
	free(od);
}

void outdir_keep(outdir *od, const struct stat *st)
{
	if (od && od->nkept < OUTDIR_KEPT_MAX) {
		od->kept[od->nkept].dev = st->st_dev;
		od->kept[od->nkept++].ino = st->st_ino;
	}
}

int outdir_kept(const outdir *od, const struct stat *st)
{
	for (int i = 0; od && i < od->nkept; i++)
		if (od->kept[i].dev == st->st_dev && od->kept[i].ino == st->st_ino)
			return 1;
	return 0;
}

void outdir_force_walk(outdir *od) { od->no_openat2 = 1; }
const char *outdir_path(const outdir *od) { return od->path; }
const char *outdir_real(const outdir *od) { return od->real; }
int outdir_fd(const outdir *od) { return od->fd; }
int outdir_private_fd(const outdir *od) { return od->priv; }
int outdir_had_private(const outdir *od) { return od->had_priv; }

/* ------------------------------------------------------------------------- */
/* Moving files into place, aside and away                                    */

/* See outdir_internal.h. */
int outdir_move_noreplace(int from_dir, const char *from, int to_dir, const char *to)
{
	if (renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(from_dir, from, to_dir, to, 0) < 0) {
		/* Neither (exfat-fuse, rclone and s3fs mounts): EPERM, which would
		 * read as a permission problem, said as what the filesystem lacks. */
		if (errno == EPERM || errno == ENOSYS || errno == EINVAL)
			errno = EOPNOTSUPP;
		return -1;
	}
	unlinkat(from_dir, from, 0);
	return 0;
}

/* The random wait before retry i of move_into() (see REMADE_FOLDER_RETRIES). The
 * generator is seeded by the process id and the clock's nanoseconds, so that two
 * rivals draw different waits, also two with one pid (containers, shards of an
 * array job on other nodes sharing the folder). */
static void remade_folder_wait(int i)
{
	static unsigned state;
	if (i < 1)
		return;
	if (!state) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		state = ((unsigned)getpid() * 2654435761u ^ (unsigned)now.tv_nsec) | 1;
	}
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	unsigned cap = i < 12 && (1u << i) < REMADE_FOLDER_MAX_WAIT_US ? 1u << i
									: REMADE_FOLDER_MAX_WAIT_US;
	struct timespec ts = {0, (long)(1 + state % cap) * 1000};
	nanosleep(&ts, NULL);
}

/* Is the file at dirfd/name the one made (its device and inode; an unknown made,
 * all zero, matches any)? */
static int is_made(int dirfd, const char *name, const file_ident *made)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return !made || (!made->dev && !made->ino) ||
	       ((uint64_t)st.st_dev == made->dev && (uint64_t)st.st_ino == made->ino);
}

static int quarantine_fd(outdir *od);

/* Take the file just moved to pfd/leaf back to from_dir/from: only the one made
 * (the caller removes the temp name: taking a file the user saved over the new
 * one deleted it). One found to be another after the move (put at leaf in the
 * few system calls between the look and the move) goes back to leaf, or, where
 * its name was taken again, is kept in the quarantine as od->kept_name: 1. */
static int take_back(outdir *od, int pfd, const char *leaf, int from_dir, const char *from,
		     const file_ident *made)
{
	if (!is_made(pfd, leaf, made) || outdir_move_noreplace(pfd, leaf, from_dir, from) < 0)
		return 0;
	if (is_made(from_dir, from, made) || outdir_move_noreplace(from_dir, from, pfd, leaf) == 0)
		return 0;
	/* Another's, and its name taken again meanwhile: kept in the quarantine,
	 * not left at a temp name the run removes, under a name no run makes for
	 * its own (a pid is 1 in every container) and no record holds: nothing
	 * replaces or deletes it there. */
	struct timespec now;
	int qfd = quarantine_fd(od);
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(od->kept_name, sizeof od->kept_name, "kept-%lld%09ld-%ld-%u", (long long)now.tv_sec,
		 now.tv_nsec, (long)getpid(), ++od->qcount);
	return qfd >= 0 && outdir_move_noreplace(from_dir, from, qfd, od->kept_name) == 0;
}

const char *outdir_kept_name(const outdir *od) { return od->kept_name; }

/* outdir_move_noreplace() of from_dir/from to pfd/leaf, the folder opened for rel,
 * and then pfd looked at again: moved out of OUT meanwhile, the file is taken back
 * (-1, OUTDIR_EMOVED). A new file (fresh: a temp file, not a quarantined one put
 * back) is first given what making it in pfd's folder gives (group, default ACL);
 * what cannot be given (not a member of the setgid group) it keeps from the temp
 * folder, as a file copied there would. Another file at its name than made, or not
 * a regular file, is not moved (OUTDIR_ETEMP). Another file at leaf right after
 * the move (a user's mv -f over the new one) is the user's: it stays, and the
 * output fails (EEXIST). */
static int move_in_place(outdir *od, int from_dir, const char *from, int pfd, const char *leaf,
			 const char *rel, int fresh, const file_ident *made)
{
	if (fresh && outdir_as_made_in(from_dir, from, pfd, IO_NEW_FILE_MODE, made) < 0 &&
	    (errno == ESTALE || errno == EINVAL)) {
		errno = OUTDIR_ETEMP; /* not the file the worker made: never moved into OUT */
		return -1;
	}
	if (outdir_move_noreplace(from_dir, from, pfd, leaf) < 0)
		return -1;
	/* The name moved, not the file: what is at leaf now may be another's. */
	const file_ident *ours = made;
	if (ours && (ours->dev || ours->ino) && !is_made(pfd, leaf, ours)) {
		/* moved away meanwhile: nothing of imgpool's is there either */
		errno = faccessat(pfd, leaf, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? EEXIST : ESTALE;
		return -1;
	}
	if (outdir_parent_in_place(od, rel, pfd) == 0)
		return 0;
	int e = errno;
	if (take_back(od, pfd, leaf, from_dir, from, ours))
		e = OUTDIR_EKEPT;
	errno = e;
	return -1;
}

/* outdir_move_noreplace() of from_dir/from to rel, making rel's folders; a folder on the
 * way removed after it was opened, before the mkdir beneath it or the rename, is
 * made again (ENOENT with from still there; see REMADE_FOLDER_RETRIES). A folder
 * moved out of OUT meanwhile: the file is taken back (OUTDIR_EMOVED). */
static int move_into(outdir *od, int from_dir, const char *from, const char *rel, int fresh,
		     const file_ident *made)
{
	for (int i = 0;; i++) {
		remade_folder_wait(i);
		const char *leaf;
		int pfd = outdir_parent(od, rel, 1, &leaf), rc = -1, e = errno;
		if (pfd >= 0) {
			rc = move_in_place(od, from_dir, from, pfd, leaf, rel, fresh, made);
			e = errno;
			close(pfd);
		}
		struct stat st;
		if (rc == 0 || e != ENOENT || od->fd < 0 || i + 1 >= REMADE_FOLDER_RETRIES ||
		    fstatat(from_dir, from, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			errno = e;
			return rc;
		}
	}
}

int outdir_publish(outdir *od, const char *tmp_name, const char *rel, const file_ident *made)
{
	if (od->tmp < 0 || strchr(tmp_name, '/')) {
		errno = EINVAL;
		return -1;
	}
	return move_into(od, od->tmp, tmp_name, rel, 1, made);
}

void outdir_quarantine_name(outdir *od, char *buf, size_t len)
{
	snprintf(buf, len, "q-%ld-%u", (long)getpid(), ++od->qcount);
}

/* Is .imgpool, open at od->priv, still OUT's? */
static int private_in_place(outdir *od)
{
	struct stat p, at;
	if (fstat(od->priv, &p) < 0 || fstatat(od->fd, OUTDIR_PRIVATE, &at, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? (errno = OUTDIR_EQMOVED, -1) : -1;
	return p.st_dev == at.st_dev && p.st_ino == at.st_ino ? 0 : (errno = OUTDIR_EQMOVED, -1);
}

/* Is the quarantine open at od->quarantine still OUT/.imgpool/quarantine, and
 * .imgpool still OUT's? 0, or -1 with OUTDIR_EQMOVED (or the look's errno): one
 * moved out of OUT during the run holds no file of OUT's, and nothing is moved
 * into it or deleted from it then. */
static int quarantine_in_place(outdir *od)
{
	struct stat q, at;
	if (private_in_place(od) < 0)
		return -1;
	if (fstat(od->quarantine, &q) < 0 ||
	    fstatat(od->priv, QUARANTINE, &at, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? (errno = OUTDIR_EQMOVED, -1) : -1;
	return q.st_dev == at.st_dev && q.st_ino == at.st_ino ? 0 : (errno = OUTDIR_EQMOVED, -1);
}

/* OUT/.imgpool/quarantine, made on first use, and again where the one open was
 * moved away (never in a .imgpool moved out of OUT). */
static int quarantine_fd(outdir *od)
{
	if (od->quarantine >= 0 && quarantine_in_place(od) == 0)
		return od->quarantine;
	if (od->quarantine >= 0) {
		close(od->quarantine);
		od->quarantine = -1;
	}
	if (od->priv < 0) {
		errno = ENOENT;
		return -1;
	}
	if (private_in_place(od) < 0)
		return -1;
	if (mkdirat(od->priv, QUARANTINE, 0700) < 0 && errno != EEXIST)
		return -1;
	od->quarantine = openat(od->priv, QUARANTINE, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return od->quarantine;
}

/* Delete quarantined file qname, where the quarantine is still in OUT: moved out
 * of it meanwhile, the file stays there, outside OUT (imgpool deletes nothing
 * there). */
static void quarantine_delete(outdir *od, const char *qname)
{
	if (quarantine_in_place(od) == 0)
		unlinkat(od->quarantine, qname, 0);
}

/* Move the file at (pfd, leaf) to the quarantine as qname and check it is the one
 * seen (a regular file, same device and inode as before the move) and `expect`
 * (size, mtime; and the very file the caller proved imgpool's, where expect knows
 * its device and inode: another moved into its place since, with the same size
 * and mtime, is not it). Not its change time: a chmod, or a hard link a backup
 * (cp -al) adds, moves it, and the file is still the one proved. 0: it is there
 * and checked. -1: nothing moved (errno; ESTALE: not the file expected), or it
 * did not match and was put back (ESTALE; if even that failed it stays
 * quarantined). */
static int quarantine_checked(outdir *od, const char *rel, int pfd, const char *leaf,
			      const file_ident *expect, const char *qname)
{
	int qfd = quarantine_fd(od);
	struct stat before, after;
	if (qfd < 0 || fstatat(pfd, leaf, &before, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(before.st_mode)) {
		errno = S_ISLNK(before.st_mode) ? ELOOP : EISDIR;
		return -1;
	}
	if ((expect->dev || expect->ino) && ((uint64_t)before.st_dev != expect->dev ||
					     (uint64_t)before.st_ino != expect->ino)) {
		errno = ESTALE;
		return -1;
	}
	if (renameat2(pfd, leaf, qfd, qname, RENAME_NOREPLACE) < 0 &&
	    (errno != EINVAL || renameat(pfd, leaf, qfd, qname) < 0))
		return -1;
	file_ident seen = outdir_ident_of(&before), got;
	int ok = fstatat(qfd, qname, &after, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(after.st_mode);
	if (ok) {
		got = outdir_ident_of(&after);
		ok = got.dev == seen.dev && got.ino == seen.ino && got.size == expect->size &&
		     got.mtime_ns == expect->mtime_ns;
	}
	/* Taken from a folder that is still beneath OUT (one moved out meanwhile
	 * holds no file of OUT's any more), into the quarantine still in OUT. */
	int e = ESTALE;
	if (ok && outdir_parent_in_place(od, rel, pfd) == 0 && quarantine_in_place(od) == 0)
		return 0;
	if (ok)
		e = errno; /* OUTDIR_EMOVED, or why it cannot be told */
	outdir_move_noreplace(qfd, qname, pfd, leaf); /* put it back; if taken, it stays safe */
	errno = e;
	return -1;
}

int outdir_replace(outdir *od, const char *tmp_name, const char *rel,
		   const file_ident *expect, const char *qname, const file_ident *made)
{
	const char *leaf;
	if (od->tmp < 0 || strchr(tmp_name, '/')) {
		errno = EINVAL;
		return -1;
	}
	/* The old file gone since the caller's look, with its folder (moved or
	 * removed by the user: ENOENT on the way) or alone (nothing moved to the
	 * quarantine, and the file is not there now): nothing is left to replace,
	 * and the new one is published as a new file is, its folders made again
	 * (never replacing what appeared there meanwhile). */
	struct stat st;
	int pfd = outdir_parent(od, rel, 0, &leaf);
	if (pfd < 0)
		return errno == ENOENT ? move_into(od, od->tmp, tmp_name, rel, 1, made) : -1;
	int rc = quarantine_checked(od, rel, pfd, leaf, expect, qname);
	if (rc < 0 && errno == ENOENT && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT) {
		close(pfd);
		return move_into(od, od->tmp, tmp_name, rel, 1, made);
	}
	if (rc == 0) {
		rc = move_in_place(od, od->tmp, tmp_name, pfd, leaf, rel, 1, made);
		int e = errno;
		if (rc == 0)
			quarantine_delete(od, qname);
		else {
			/* The old one back, as the very file quarantined: into pfd's
			 * folder, checked after the move (move_in_place()); where rel's
			 * folder left OUT since the old file was taken from it, to rel
			 * beneath OUT as it is now, never into that folder. Failing that it
			 * stays quarantined, where its record (qname -> rel) has
			 * outdir_restore() put it back. */
			struct stat qs;
			if (fstatat(od->quarantine, qname, &qs, AT_SYMLINK_NOFOLLOW) == 0) {
				file_ident q = outdir_ident_of(&qs);
				if (e == OUTDIR_EMOVED || outdir_parent_in_place(od, rel, pfd) < 0 ||
				    move_in_place(od, od->quarantine, qname, pfd, leaf, rel, 0, &q) < 0)
					move_into(od, od->quarantine, qname, rel, 0, &q);
			}
		}
		errno = e;
	}
	int e = errno;
	close(pfd);
	errno = e;
	return rc;
}

int outdir_remove(outdir *od, const char *rel, const file_ident *expect, const char *qname)
{
	const char *leaf;
	int pfd = outdir_parent(od, rel, 0, &leaf);
	if (pfd < 0)
		return -1;
	int rc = quarantine_checked(od, rel, pfd, leaf, expect, qname);
	int e = errno;
	close(pfd);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	quarantine_delete(od, qname);
	outdir_remove_empty_dirs(od, rel);
	return 0;
}

int outdir_restore(outdir *od, const char *qname, const char *rel, const file_ident *owned)
{
	int qfd = quarantine_fd(od);
	struct stat st;
	if (qfd < 0)
		return -1;
	if (fstatat(qfd, qname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 3 : -1;
	/* Put back as the very file quarantined: another at its name right after,
	 * or one in a folder that left OUT, is never taken (take_back()). */
	file_ident got = outdir_ident_of(&st);
	if (move_into(od, qfd, qname, rel, 0, &got) == 0)
		return 1;
	int kept = errno == OUTDIR_EKEPT;
	/* moved in and then taken, or moved away, by another: none is kept */
	if (fstatat(qfd, qname, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return kept ? 4 : 3;
	/* Not put back: deleted if it is still that file and imgpool's. */
	if (owned && S_ISREG(st.st_mode) && got.size == owned->size &&
	    got.mtime_ns == owned->mtime_ns && is_made(qfd, qname, &got) &&
	    quarantine_in_place(od) == 0) {
		unlinkat(qfd, qname, 0);
		return 2;
	}
	return 0;
}
