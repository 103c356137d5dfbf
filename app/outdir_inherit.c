/* SPDX-License-Identifier: MIT */
/*
 * outdir_inherit.c — what a file or folder made in a folder takes from it, given
 * to one made aside before it is renamed there. Outputs are written in
 * OUT/.imgpool/tmp-* and renamed into place (an output is the complete file or
 * absent), and folders are made there too (recorded as imgpool's before they are
 * in place): a rename keeps what the temp folder gave, which is OUT's, not that of
 * the folder they end up in (out/web, setgid to the web server's group, with a
 * default ACL of its own). What mkdir or open in that folder gives:
 *   - the folder's group where it has the setgid bit, this process's otherwise,
 *     and for a folder the setgid bit with it;
 *   - the folder's default ACL: as the access ACL, masked by the mode asked for
 *     (the umask is not applied then), and for a folder as its own default too.
 *
 * Why the ACL is read and written as the raw system.posix_acl_* attribute: libacl
 * is not a dependency, and that attribute's format is the kernel's ABI
 * (include/uapi/linux/posix_acl_xattr.h): a little-endian header (version 2), then
 * 8-byte entries {tag, perm, id}. Masking by the mode is what the kernel does at
 * create (posix_acl_create_masq()); setting the access ACL sets the mode bits from
 * it (and stores none where it says no more than the mode).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "outdir_internal.h"

#define ACL_ACCESS "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"
#define ACL_HEADER 4 /* version, le32 */
#define ACL_ENTRY 8  /* tag le16, perm le16, id le32 */
enum { TAG_USER_OBJ = 0x01, TAG_GROUP_OBJ = 0x04, TAG_MASK = 0x10, TAG_OTHER = 0x20 };

/* The default ACL of the folder open at pfd (O_PATH too), in a new buffer (*len
 * bytes): 0, 1 with none, -1 where it cannot be read. Read through /proc/self/fd:
 * getxattr needs no read permission on the folder (a write-and-search-only one,
 * as imgpool may fill), where an open(".") to read it through does. */
static int read_default(int pfd, unsigned char **acl, size_t *len)
{
	char at[64];
	int rc = -1, dir = -1;
	snprintf(at, sizeof at, "/proc/self/fd/%d", pfd);
	*acl = NULL;
	/* No /proc: through the folder opened to read (which needs read permission).
	 * Looked at once: it is there or not for the whole run (publishing is a hot
	 * path, one output at a time). */
	static int no_proc = -1;
	if (no_proc < 0)
		no_proc = access("/proc/self/fd", X_OK) < 0;
	if (no_proc)
		dir = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int tries = 0; tries < 4; tries++) { /* ERANGE: it grew */
		ssize_t n = dir >= 0 ? fgetxattr(dir, ACL_DEFAULT, NULL, 0)
				     : getxattr(at, ACL_DEFAULT, NULL, 0);
		if (n < 0) {
			rc = errno == ENODATA || errno == EOPNOTSUPP ? 1 : -1;
			break;
		}
		free(*acl);
		if (!(*acl = malloc((size_t)n + 1)))
			break;
		if ((n = dir >= 0 ? fgetxattr(dir, ACL_DEFAULT, *acl, (size_t)n)
				  : getxattr(at, ACL_DEFAULT, *acl, (size_t)n)) >= 0) {
			*len = (size_t)n;
			rc = n >= ACL_HEADER && (n - ACL_HEADER) % ACL_ENTRY == 0 ? 0 : -1;
			break;
		}
		if (errno != ERANGE)
			break;
	}
	int e = errno;
	if (dir >= 0)
		close(dir);
	if (rc != 0) {
		free(*acl);
		*acl = NULL;
	}
	errno = e;
	return rc;
}

int outdir_default_acl(int fd)
{
	unsigned char *acl;
	size_t len;
	int has = read_default(fd, &acl, &len); /* not known (-1): taken as one */
	free(acl);
	return has != 1;
}

/* acl (a default ACL) as the access ACL of one made with mode: each class's
 * permissions masked by the mode's bits for it (the group class's in the mask
 * entry where there is one, else in the owning group's), in place. */
static void mask_by_mode(unsigned char *acl, size_t len, mode_t mode)
{
	int has_mask = 0;
	for (size_t at = ACL_HEADER; at + ACL_ENTRY <= len; at += ACL_ENTRY)
		has_mask |= (acl[at] | acl[at + 1] << 8) == TAG_MASK;
	for (size_t at = ACL_HEADER; at + ACL_ENTRY <= len; at += ACL_ENTRY) {
		unsigned tag = acl[at] | acl[at + 1] << 8, bits = 7;
		if (tag == TAG_USER_OBJ)
			bits = (mode >> 6) & 7;
		else if (tag == TAG_MASK || (tag == TAG_GROUP_OBJ && !has_mask))
			bits = (mode >> 3) & 7;
		else if (tag == TAG_OTHER)
			bits = mode & 7;
		acl[at + 2] &= (unsigned char)bits; /* perm is 3 bits: its high byte is 0 */
	}
}

/* fd (of stat st) given the group and setgid bit a folder of stat parent gives. */
static int take_group(int fd, struct stat *st, const struct stat *parent)
{
	int setgid = (parent->st_mode & S_ISGID) != 0, dir = S_ISDIR(st->st_mode);
	gid_t gid = setgid ? parent->st_gid : getegid();
	mode_t mode = st->st_mode & 07777;
	if (dir)
		mode = (mode & ~(mode_t)S_ISGID) | (setgid ? S_ISGID : 0);
	if (st->st_gid == gid && (st->st_mode & 07777) == mode)
		return 0; /* as made there already */
	/* the mode set again after the chown, which may clear the bit */
	if ((st->st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0) || fchmod(fd, mode) < 0 ||
	    fstat(fd, st) < 0)
		return -1;
	return st->st_gid == gid && (st->st_mode & 07777) == mode ? 0 : -1;
}

/* name in dirfd opened to change it, only where it is a regular file or folder
 * and (made not NULL) still the file made: opened without following a link and
 * without opening what it is (O_PATH: a device put there is never opened), then
 * opened again through /proc/self/fd, which names that inode and no other. */
static int open_made(int dirfd, const char *name, const file_ident *made, struct stat *st)
{
	int path = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	if (path < 0)
		return -1;
	if (fstat(path, st) < 0) {
		/* errno says */
	} else if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
		errno = EINVAL; /* a symlink, a FIFO, a device: not what was made */
	} else if (made && (made->dev || made->ino) &&
		   ((uint64_t)st->st_dev != made->dev || (uint64_t)st->st_ino != made->ino)) {
		errno = ESTALE; /* another file put at its name */
	} else {
		char at[64];
		snprintf(at, sizeof at, "/proc/self/fd/%d", path);
		fd = open(at, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		struct stat again;
		/* No /proc (a container without it): by its name, then checked to be
		 * the same file. */
		if (fd < 0 && errno == ENOENT &&
		    (fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
						      O_CLOEXEC)) >= 0 &&
		    (fstat(fd, &again) < 0 || again.st_dev != st->st_dev ||
		     again.st_ino != st->st_ino)) {
			close(fd);
			fd = -1;
			errno = ESTALE;
		}
	}
	int e = errno;
	close(path);
	errno = e;
	return fd;
}

int outdir_as_made_in(int dirfd, const char *name, int pfd, mode_t mode, const file_ident *made)
{
	struct stat parent, st;
	unsigned char *acl = NULL;
	size_t len = 0;
	int fd = open_made(dirfd, name, made, &st);
	if (fd < 0)
		return -1;
	/* The group and the ACL apart: one that cannot be given (not a member of
	 * the setgid group) does not keep the other from it. */
	int rc = fstat(pfd, &parent) == 0 ? take_group(fd, &st, &parent) : -1;
	int has = read_default(pfd, &acl, &len);
	if (has == 0) {
		/* a folder's default first: the access ACL's mask is then the last word */
		if (S_ISDIR(st.st_mode) && fsetxattr(fd, ACL_DEFAULT, acl, len, 0) < 0)
			rc = -1;
		mask_by_mode(acl, len, mode);
		if (fsetxattr(fd, ACL_ACCESS, acl, len, 0) < 0)
			rc = -1;
	} else if (has < 0) {
		rc = -1;
	}
	int e = errno;
	free(acl);
	close(fd);
	errno = e;
	return rc;
}
