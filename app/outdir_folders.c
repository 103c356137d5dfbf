/* SPDX-License-Identifier: MIT */
/*
 * outdir_folders.c — the folders beneath OUT: resolving a path to the folder that
 * holds it through no symlink, making the missing ones (each recorded as
 * imgpool's before it takes its place), and removing those a removal left empty
 * where imgpool made them. See outdir.h.
 *
 * Why openat2 and not realpath()+prefix checks: a check made on a path string is
 * stale the moment it returns (a folder can be swapped for a symlink between the
 * check and the open). Resolving with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS makes
 * the kernel refuse the escape at the moment of the open, and the *at calls then
 * act on the folder that fd holds, whatever happens to its path afterwards. glibc
 * 2.36 has no openat2() wrapper, hence syscall(). The fallback walk opens one
 * component at a time with O_NOFOLLOW, which gives the same guarantee with more
 * system calls.
 *
 * Why a folder is made in the temp folder and renamed into place: "imgpool made
 * it" must be on record before the folder is there (as an output's row is written
 * ahead of its rename), or a kill between the mkdir and the record leaves a folder
 * no run can show is imgpool's, kept for good once emptied. A folder's rename
 * keeps its inode and birth time, so the identity recorded is the folder's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io.h"
#include "outdir.h"
#include "outdir_internal.h"

#define OPENAT2_RETRIES 16 /* EAGAIN: a rename raced the lookup; try again */

/* Is rel a clean relative path: not empty, not absolute, no "", "." or ".."
 * component? */
static int clean_rel(const char *rel)
{
	if (!rel || !*rel || *rel == '/')
		return 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/' && !*++p)
			return 0; /* trailing '/' */
	}
	return 1;
}

static int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return (int)syscall(SYS_openat2, dirfd, path, how, sizeof *how);
}

/* See outdir_internal.h. */
int outdir_not_a_folder(int dirfd, const char *name, int err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return ELOOP;
	return err;
}

/* Folder name, just made in fd's folder (path beneath OUT, its identity id; 0:
 * unknown): is fd still beneath OUT? A folder on the way moved out of OUT, or
 * swapped for a symlink, took fd with it, and the new folder was left outside
 * OUT. It is removed again (the one made, by its identity) and forgotten: -1 with
 * outdir_parent_in_place()'s errno (OUTDIR_EMOVED). */
static int made_in_place(outdir *od, int fd, const char *name, const char *path, uint64_t id)
{
	if (outdir_parent_in_place(od, path, fd) == 0)
		return 0;
	int e = errno;
	if (id && io_identity(fd, name, 0) == id)
		unlinkat(fd, name, AT_REMOVEDIR);
	if (od->folders.made && od->folders.removed)
		od->folders.removed(od->folders.data, path);
	errno = e;
	return -1;
}

/* Make folder name in the folder open at fd, whose path beneath OUT is
 * rel[0..n): in the temp folder, given what mkdir in fd's folder gives (group,
 * setgid bit, default ACL: outdir_as_made_in()), recorded as imgpool's
 * (od->folders.made), then renamed into place without replacing. Where that
 * cannot be (no temp folder yet, no record kept, a mount point between the temp
 * folder and fd: EXDEV, a filesystem without RENAME_NOREPLACE: EINVAL, a temp
 * folder that kept a default ACL, a group or ACL that cannot be given) it is made
 * in place, and recorded after: a kill between the two leaves that folder
 * unrecorded, kept for good once emptied. 0, or -1 with mkdir's errno (EEXIST:
 * one is there), or made_in_place()'s (its folder left OUT). */
static int make_folder(outdir *od, int fd, const char *name, const char *rel, size_t n)
{
	char path[PATH_MAX], tmp[64];
	if (!od || n >= sizeof path)
		return mkdirat(fd, name, 0777);
	memcpy(path, rel, n);
	path[n] = '\0';
	if (!od->folders.made) {
		if (mkdirat(fd, name, 0777) < 0)
			return -1;
		return made_in_place(od, fd, name, path, io_identity(fd, name, 0));
	}
	snprintf(tmp, sizeof tmp, OUTDIR_FOLDER_TEMP_PREFIX "%ld-%u", (long)getpid(), ++od->fcount);
	if (od->tmp >= 0 && !od->tmp_acl && mkdirat(od->tmp, tmp, 0777) == 0) {
		uint64_t id = outdir_as_made_in(od->tmp, tmp, fd, 0777, NULL) == 0
				      ? io_identity(od->tmp, tmp, 0)
				      : 0;
		int recorded = id && od->folders.made(od->folders.data, path, id) == 0;
		int rc = recorded ? renameat2(od->tmp, tmp, fd, name, RENAME_NOREPLACE) : -1;
		int e = recorded ? errno : 0;
		if (rc == 0)
			return made_in_place(od, fd, name, path, id);
		unlinkat(od->tmp, tmp, AT_REMOVEDIR);
		if (recorded && od->folders.removed)
			od->folders.removed(od->folders.data, path);
		if (e == EEXIST || e == ENOENT) {
			errno = e; /* one made there meanwhile, or fd's folder removed */
			return -1;
		}
	}
	if (mkdirat(fd, name, 0777) < 0)
		return -1;
	uint64_t id = io_identity(fd, name, 0);
	if (id)
		od->folders.made(od->folders.data, path, id);
	return made_in_place(od, fd, name, path, id);
}

/* outdir_walk_dirs(), making folders beneath OUT (od: NULL for other folders). */
static int walk_dirs(outdir *od, int base, const char *dir, int create)
{
	int fd = openat(base, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char name[NAME_MAX + 1];
	for (const char *p = dir; fd >= 0 && *p;) {
		size_t n = strcspn(p, "/");
		if (n > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (make_folder(od, fd, name, dir, (size_t)(p - dir)) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			/* ENOENT: removed again before the open (move_into() retries) */
			next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		p += *p == '/';
		if (next < 0) {
			int e = errno == ENOTDIR || errno == ELOOP ? outdir_not_a_folder(fd, name, errno)
								   : errno;
			close(fd);
			errno = e;
			return -1;
		}
		close(fd);
		fd = next;
	}
	return fd;
}

int outdir_walk_dirs(int base, const char *dir, int create)
{
	return walk_dirs(NULL, base, dir, create);
}

/* Open folder dir beneath base through no symlink: openat2 first, the walk where
 * the kernel has no openat2 (or a seccomp filter refuses it) or a folder must be
 * made. */
static int open_beneath(outdir *od, int base, const char *dir, int create)
{
	if (!od->no_openat2) {
		struct open_how how = {
			.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		for (int i = 0; i < OPENAT2_RETRIES; i++) {
			int fd = sys_openat2(base, dir, &how);
			if (fd >= 0)
				return fd;
			if (errno == EAGAIN)
				continue;
			if (errno == ENOSYS || errno == EPERM || errno == E2BIG) {
				od->no_openat2 = 1;
				break;
			}
			if (errno == ENOENT && create)
				break; /* the walk makes what is missing */
			return -1; /* ELOOP: a symlink on the way */
		}
	}
	return walk_dirs(od, base, dir, create);
}

int outdir_parent(outdir *od, const char *rel, int create, const char **leaf)
{
	if (!clean_rel(rel) || od->fd < 0) {
		errno = od->fd < 0 ? ENOENT : EINVAL; /* no OUT yet (dry run): nothing in it */
		return -1;
	}
	const char *slash = strrchr(rel, '/');
	*leaf = slash ? slash + 1 : rel;
	if (strlen(*leaf) > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!slash)
		return openat(od->fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t n = (size_t)(slash - rel);
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char dir[PATH_MAX];
	memcpy(dir, rel, n);
	dir[n] = '\0';
	return open_beneath(od, od->fd, dir, create);
}

int outdir_stat(outdir *od, const char *rel, struct stat *st)
{
	const char *leaf;
	int pfd = outdir_parent(od, rel, 0, &leaf);
	if (pfd < 0)
		return -1;
	int rc = fstatat(pfd, leaf, st, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	close(pfd);
	errno = e;
	return rc;
}

int outdir_can_write(outdir *od, const char *rel)
{
	char dir[PATH_MAX];
	struct stat st;
	if (snprintf(dir, sizeof dir, "%s", rel) >= (int)sizeof dir)
		return 0;
	for (char *slash; (slash = strrchr(dir, '/'));) {
		*slash = '\0';
		if (outdir_stat(od, dir, &st) == 0)
			return S_ISDIR(st.st_mode) &&
			       faccessat(od->fd, dir, W_OK | X_OK, AT_EACCESS) == 0;
		if (errno != ENOENT)
			return 0;
	}
	return faccessat(od->fd, ".", W_OK | X_OK, AT_EACCESS) == 0;
}

/* See outdir_internal.h. */
int outdir_parent_in_place(outdir *od, const char *rel, int pfd)
{
	const char *leaf;
	struct stat a, b;
	int again = outdir_parent(od, rel, 0, &leaf);
	if (again < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			errno = OUTDIR_EMOVED;
		return -1;
	}
	int rc = fstat(again, &a) == 0 && fstat(pfd, &b) == 0 ? 0 : -1;
	int e = errno;
	close(again);
	if (rc == 0 && (a.st_dev != b.st_dev || a.st_ino != b.st_ino)) {
		rc = -1;
		e = OUTDIR_EMOVED;
	}
	errno = e;
	return rc;
}

/* Is folder dir (beneath OUT, leaf in the folder open at pfd) one imgpool made
 * (od->folders.ours)? */
static int made_here(outdir *od, int pfd, const char *leaf, const char *dir)
{
	uint64_t earlier, id = io_identities(pfd, leaf, 0, &earlier);
	return id && od->folders.ours &&
	       od->folders.ours(od->folders.data, dir, id, earlier) == 1;
}

void outdir_remove_empty_dirs(outdir *od, const char *rel)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", rel);
	for (char *slash; (slash = strrchr(dir, '/'));) {
		*slash = '\0';
		const char *leaf;
		int pfd = outdir_parent(od, dir, 0, &leaf);
		if (pfd < 0) { /* gone already: its parent may be empty */
			if (errno == ENOENT)
				continue;
			return;
		}
		struct stat was;
		int rc = fstatat(pfd, leaf, &was, AT_SYMLINK_NOFOLLOW) < 0 ? -1
			 : !made_here(od, pfd, leaf, dir) ? (errno = EPERM, -1)
			 : unlinkat(pfd, leaf, AT_REMOVEDIR);
		int e = errno;
		if (rc == 0 && outdir_parent_in_place(od, dir, pfd) < 0) {
			/* Its folder left OUT between the look and the rmdir (or that
			 * cannot be told): the empty folder was outside OUT by then. Made
			 * again as it was (name, mode), and nothing more is removed up
			 * there. */
			e = errno;
			if (mkdirat(pfd, leaf, 0700) == 0) {
				/* by its descriptor: a symlink put at leaf since is not followed */
				int nfd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (nfd >= 0) {
					fchmod(nfd, was.st_mode & 07777);
					close(nfd);
				}
			}
			rc = -1;
		} else if (rc == 0 && od->folders.removed) {
			od->folders.removed(od->folders.data, dir);
		}
		close(pfd);
		if (rc < 0 && e != ENOENT)
			return;
	}
}

void outdir_record_folders(outdir *od, const outdir_folder_record *r)
{
	od->folders = r ? *r : (outdir_folder_record){0};
}
