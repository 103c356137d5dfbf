/* SPDX-License-Identifier: MIT */
/*
 * io.c — whole reads and writes. See io.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

int io_read_signed_file(const char *path, const unsigned char *sig, size_t sig_len,
			size_t max, unsigned char **data, size_t *len)
{
	struct stat st;
	unsigned char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size <= sig_len ||
	    (uint64_t)st.st_size > max || !(buf = malloc((size_t)st.st_size)))
		goto fail;
	size_t size = (size_t)st.st_size;
	if (io_read_all(fd, buf, sig_len) != sig_len || memcmp(buf, sig, sig_len) ||
	    io_read_all(fd, buf + sig_len, size - sig_len) != size - sig_len)
		goto fail;
	close(fd);
	*data = buf;
	*len = size;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}
