/* SPDX-License-Identifier: MIT */
/*
 * io.h — whole reads and writes: read() and write() may stop short (a signal, a
 * pipe, a network filesystem); these go on until done, an error or the end.
 */
#ifndef IMGPOOL_IO_H
#define IMGPOOL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The mode a new file is created with, as a plain open gives (less the umask, or
 * masked into the folder's default ACL): outputs (save.c), and what outdir gives
 * one made aside before it is renamed into its folder (outdir_inherit.c). */
#define IO_NEW_FILE_MODE 0666

/* Read len bytes at buf, going on after short reads and EINTR; the count read
 * (short only at the end of the file or on an error). */
size_t io_read_all(int fd, void *buf, size_t len);

/* Write all len bytes of buf, going on after short writes and EINTR. 0, or -1 with
 * errno. */
int io_write_all(int fd, const void *buf, size_t len);

/* Open the regular file at path to read it: with O_NONBLOCK for the open only, so
 * that a FIFO put in its place cannot hold the caller waiting for a writer, then
 * blocking again (a FUSE file may honour the flag). fd with *st; -1 with errno
 * when it cannot be opened; -1 with errno 0 when path is not a regular file (*st
 * says what it is). */
int io_open_regular(const char *path, struct stat *st);

/* The same for path relative to folder dirfd (openat()'s). */
int io_open_regular_at(int dirfd, const char *path, struct stat *st);

/* Is the folder at path readable and empty (nothing but . and ..)? 0 when it
 * holds anything or cannot be read. */
int io_folder_is_empty(const char *path);

/* Read the whole regular file at path into a new malloc'd buffer, only if its first
 * sig_len bytes are sig (read first, so a file of another format costs one small
 * read) and it is at most max bytes. 0 with *data and *len, or -1 (not such a file,
 * unreadable, out of memory): for a decoder's fast path, which leaves every such
 * file to libvips and its words. */
int io_read_signed_file(const char *path, const unsigned char *sig, size_t sig_len,
			size_t max, unsigned char **data, size_t *len);

/* The same on a regular file already open at fd, size bytes long (its fstat()),
 * read from fd's offset (its start, for a file just opened). 0 with *data and
 * *len; 1 when it is not such a file (another signature, not longer than sig_len,
 * over max, no memory to hold it, fewer bytes than size: it shrank), nothing
 * kept; -1 with errno when a read failed. */
int io_read_signed_fd(int fd, uint64_t size, const unsigned char *sig, size_t sig_len,
		      size_t max, unsigned char **data, size_t *len);

/* Fill any of descriptors 0, 1 and 2 that is closed with /dev/null opened the
 * other way round (0 write-only, 1 and 2 read-only), so that reads and writes on
 * it still fail with EBADF as on a closed one, while no file the run opens (a
 * journal, a temp output) can take its number and receive the report (git's
 * sanitize_stdfds() does the like; io_fd_readable() tells a held stdin). Call
 * first thing in main(). */
void io_hold_std_fds(void);

/* What tells the entry name of the folder open at dirfd ("" with AT_EMPTY_PATH:
 * dirfd itself) from one made at its place later, never followed if a symlink:
 * its inode and, where the filesystem keeps one, its birth time; where it keeps
 * none (ext4 with 128-byte inodes), a folder's generation (FS_IOC_GETVERSION).
 * A freed inode number is soon given again: rmdir then mkdir gets the same one
 * on ext4. Never 0; 0 when it cannot be read (errno). */
uint64_t io_identity(int dirfd, const char *name, int flags);
/* io_identity(), and in *earlier what builds before the generation recorded for
 * the same folder where the filesystem keeps no birth time: its inode number
 * alone (0: nothing else was recorded; with one statx). */
uint64_t io_identities(int dirfd, const char *name, int flags, uint64_t *earlier);

/* What tells a file from another put at its place, or from itself written over:
 * its inode and its change time, which every write, truncate, touch -r, chmod or
 * link moves and no user can set back (an inode freed is soon given again: rm
 * then cp gets the same one on ext4). Never 0. */
uint64_t io_stamp(const struct stat *st);

/* 1 when fd is open for reading (O_RDONLY or O_RDWR), 0 when it is not (closed,
 * or held by io_hold_std_fds()). */
int io_fd_readable(int fd);

/* The big-endian 32-bit number at p, as file formats store them (a PNG chunk's
 * length). */
static inline uint32_t io_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The little-endian one (a RIFF chunk's size, an "II" TIFF block's numbers). */
static inline uint32_t io_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
