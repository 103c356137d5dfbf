/* SPDX-License-Identifier: MIT */
/*
 * io.c — whole reads and writes. See io.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

void io_hold_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() gives the lowest free number: this one, since the lower
		 * ones are open (or were just filled). */
		int got = open("/dev/null", (fd == 0 ? O_WRONLY : O_RDONLY));
		if (got >= 0 && got != fd)
			close(got); /* not ours to take; leave it closed */
	}
}

int io_fd_readable(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_ACCMODE) != O_WRONLY;
}

size_t io_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* io_open_regular() once the open is done: fd when it is a regular file. */
static int regular_or_close(int fd, struct stat *st)
{
	if (fd < 0)
		return -1;
	int e = fstat(fd, st) != 0 ? errno : !S_ISREG(st->st_mode) ? 0
		: fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ? errno : -1;
	if (e < 0)
		return fd;
	close(fd);
	errno = e;
	return -1;
}

int io_open_regular_at(int dirfd, const char *path, struct stat *st)
{
	return regular_or_close(openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK),
				st);
}

int io_open_regular(const char *path, struct stat *st)
{
	return io_open_regular_at(AT_FDCWD, path, st);
}

int io_read_signed_file(const char *path, const unsigned char *sig, size_t sig_len,
			size_t max, unsigned char **data, size_t *len)
{
	struct stat st;
	int fd = io_open_regular(path, &st);

	if (fd < 0)
		return -1;
	int rc = io_read_signed_fd(fd, (uint64_t)st.st_size, sig, sig_len, max, data, len);
	close(fd);
	return rc == 0 ? 0 : -1;
}

int io_read_signed_fd(int fd, uint64_t size, const unsigned char *sig, size_t sig_len,
		      size_t max, unsigned char **data, size_t *len)
{
	unsigned char head[16], *buf = NULL;
	size_t got;

	if (sig_len > sizeof head || size <= sig_len || size > max)
		return 1;
	/* The signature first: a file of another format costs one small read and
	 * no allocation of its size. */
	errno = 0;
	got = io_read_all(fd, head, sig_len);
	if (got == sig_len && !memcmp(head, sig, sig_len) && (buf = malloc((size_t)size))) {
		memcpy(buf, head, sig_len);
		got += io_read_all(fd, buf + sig_len, (size_t)size - sig_len);
		if (got == size) {
			*data = buf;
			*len = (size_t)size;
			return 0;
		}
		free(buf);
	}
	/* Not read whole: not such a file, no memory, the end of the file (it
	 * shrank), or an error. */
	return got < size && errno && errno != EINTR && errno != ENOMEM ? -1 : 1;
}

int io_folder_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = d != NULL;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	if (d)
		closedir(d);
	return empty;
}

/* An inode and a time in nanoseconds as one value that is never 0 (the time
 * spread over every bit: a time alone repeats no inode). */
static uint64_t ino_and_time(uint64_t ino, uint64_t sec, uint64_t nsec)
{
	uint64_t id = ino ^ ((sec * 1000000000u + nsec) * 0x9E3779B97F4A7C15ULL);
	return id ? id : 1;
}

/* A folder's inode generation (FS_IOC_GETVERSION), where the filesystem keeps
 * one: ext4, XFS and btrfs draw a new one each time an inode number is given
 * again. 0 where it cannot be read. Only a folder is opened for it (opening a
 * device can act on it). */
static uint32_t dir_generation(int dirfd, const char *name, int flags, const struct statx *sx)
{
	if (!S_ISDIR(sx->stx_mode))
		return 0;
	int fd = (flags & AT_EMPTY_PATH) && !*name
			 ? dirfd
			 : openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* ext4, XFS and btrfs write an int; the request says a long, and FUSE
	 * passes a long's bytes: room for both, the int read where one is put. */
	union {
		long l;
		int i;
	} gen = {0};
	if (fd >= 0 && ioctl(fd, FS_IOC_GETVERSION, &gen) < 0)
		gen.l = 0;
	if (fd >= 0 && fd != dirfd)
		close(fd);
	return (uint32_t)gen.i;
}

uint64_t io_identities(int dirfd, const char *name, int flags, uint64_t *earlier)
{
	struct statx sx;
	if (earlier)
		*earlier = 0;
	if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW,
		  STATX_TYPE | STATX_INO | STATX_BTIME, &sx) < 0)
		return 0;
	if (sx.stx_mask & STATX_BTIME)
		return ino_and_time(sx.stx_ino, (uint64_t)sx.stx_btime.tv_sec,
				    sx.stx_btime.tv_nsec);
	/* No birth time (ext4 with 128-byte inodes, some network filesystems): the
	 * generation tells a folder made again on a freed inode number from the one
	 * recorded, which the number alone did not (the user's folder was removed
	 * as imgpool's). Builds before recorded the number alone. */
	if (earlier)
		*earlier = sx.stx_ino ? sx.stx_ino : 1;
	int e = errno;
	uint32_t gen = dir_generation(dirfd, name, flags, &sx);
	errno = e;
	return ino_and_time(sx.stx_ino, 0, gen);
}

uint64_t io_identity(int dirfd, const char *name, int flags)
{
	return io_identities(dirfd, name, flags, NULL);
}

uint64_t io_stamp(const struct stat *st)
{
	return ino_and_time((uint64_t)st->st_ino, (uint64_t)st->st_ctim.tv_sec,
			    (uint64_t)st->st_ctim.tv_nsec);
}
