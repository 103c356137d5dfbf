/* SPDX-License-Identifier: MIT */
/*
 * sidefile_files.c — the file at a side file's name: is it imgpool's (by its first
 * bytes), the temp file a whole one is written to beside it, and opening one in
 * place (the locks appending runs share; a file of its own where it has other hard
 * links). See sidefile_internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sidefile_internal.h"

/* What of a header a file cut short must hold to be taken for imgpool's. */
#define CUT_AT_LEAST 16

/* How imgpool begins a file of each kind (the first bytes it writes), and what
 * such a file is called in a cause. */
static const struct {
	const char *begins[2];
	const char *name;
} kinds[] = {
	[SIDEFILE_REPORT] = {{NULL}, "a report"}, /* its first record: report_begins() */
	[SIDEFILE_TRACE] = {{SIDEFILE_TRACE_BEGINS, /* and as builds before 0.1.0's began one */
			     "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n{\"name\":\"process_name\","
			     "\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"imgpool\"}}"},
			    "a trace"},
	[SIDEFILE_SVG] = {{SIDEFILE_SVG_BEGINS, NULL}, "an SVG file"},
	[SIDEFILE_CSV] = {{SIDEFILE_CSV_BEGINS, NULL}, "a table"},
};

int sidefile_is_stream(mode_t m)
{
	return S_ISCHR(m) || S_ISFIFO(m) || S_ISSOCK(m);
}

/* Does head[*at..n) go on with part? 1 yes (*at past it), 2 it ends inside part
 * (a record a kill cut short), 0 no. */
static int goes_on(const char *head, size_t n, size_t *at, const char *part)
{
	size_t len = strlen(part), have = n - *at < len ? n - *at : len;
	if (memcmp(head + *at, part, have))
		return 0;
	*at += have;
	return have < len ? 2 : 1;
}

/* Does head (n bytes) begin as every record of imgpool's report begins,
 * {"schema":N,"time":"...","type":" (report.c), or as much of it as a kill left?
 * A file of the user's that merely starts with {"schema": is not one. */
static int report_begins(const char *head, size_t n)
{
	size_t at = 0, digits = 0;
	if (goes_on(head, n, &at, "{\"schema\":") != 1)
		return 0;
	for (; at < n && head[at] >= '0' && head[at] <= '9'; at++)
		digits++;
	if (at == n)
		return 1;
	int r = digits ? goes_on(head, n, &at, ",\"time\":\"") : 0;
	if (r != 1)
		return r == 2;
	while (at < n && head[at] != '"' && head[at] != '\n')
		at++; /* the time: RFC 3339 */
	return at == n || goes_on(head, n, &at, "\",\"type\":\"") != 0;
}

int sidefile_is_own(int fd, sidefile_kind kind)
{
	char head[128];
	ssize_t n;

	do
		n = pread(fd, head, sizeof head, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 1;
	if (kind == SIDEFILE_REPORT)
		return report_begins(head, (size_t)n);
	for (int i = 0; i < 2 && kinds[kind].begins[i]; i++) {
		/* Or ends inside it: a file imgpool was writing when a kill cut it short
		 * (but not so short that a few bytes of anyone's would do). */
		size_t at = 0;
		int r = goes_on(head, (size_t)n, &at, kinds[kind].begins[i]);
		if (r == 1 || (r == 2 && n >= CUT_AT_LEAST))
			return 1;
	}
	return 0;
}

int sidefile_refuse_foreign(const char *opt, const char *path, sidefile_kind kind, char *err,
			    size_t errlen)
{
	snprintf(err, errlen, "%s: '%s' exists and is not %s imgpool wrote; imgpool writes "
		 "over or adds to only its own files: give another name, or remove that file "
		 "first", opt, path, kinds[kind].name);
	return -1;
}

int sidefile_lock_in_place(int fd, int append)
{
	return flock(fd, (append ? LOCK_SH : LOCK_EX) | LOCK_NB);
}

void sidefile_refuse_locked(const char *opt, const char *path, int append, char *err,
			    size_t errlen)
{
	if (append)
		snprintf(err, errlen, "%s: another imgpool run is replacing '%s'; wait for "
			 "it", opt, path);
	else
		snprintf(err, errlen, "%s: another imgpool run is writing '%s' (give each run "
			 "its own: {shard} in the name for an array job, or --report-append)",
			 opt, path);
}

char *sidefile_temp_name(const char *path)
{
	char *tmp;
	return asprintf(&tmp, "%s.imgpool.tmp", path) < 0 ? NULL : tmp;
}

int sidefile_temp_free(const char *tmp, sidefile_kind kind, int remove)
{
	struct stat st;
	if (lstat(tmp, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	int old = open(tmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int locked = 0;
	int own = old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode) &&
		  !(locked = flock(old, LOCK_EX | LOCK_NB) != 0) && sidefile_is_own(old, kind) == 1;
	int gone = own && (!remove || unlink(tmp) == 0);
	if (old >= 0)
		close(old);
	return gone ? 0 : locked ? EBUSY : EEXIST;
}

void sidefile_refuse_temp(const char *opt, const char *path, int code, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: cannot write '%s.imgpool.tmp' to replace '%s' with: %s", opt,
		 path, path,
		 code == EEXIST	 ? "a file imgpool did not make is there"
		 : code == EBUSY ? "another imgpool run is writing it"
				 : strerror(code));
}

int sidefile_make_temp(const char *path, sidefile_kind kind, char **tmp)
{
	if (!(*tmp = sidefile_temp_name(path))) {
		errno = ENOMEM;
		return -1;
	}
	for (int tries = 0; tries < 2; tries++) {
		int fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
			      0666);
		if (fd >= 0) {
			flock(fd, LOCK_EX | LOCK_NB); /* ours while it is open (below) */
			return fd;
		}
		if (errno != EEXIST)
			break;
		int code = sidefile_temp_free(*tmp, kind, 1);
		if (code != 0) {
			errno = code < 0 ? errno : code;
			break;
		}
	}
	int e = errno;
	free(*tmp);
	*tmp = NULL;
	errno = e;
	return -1;
}

/* The report at path, open at fd (st), has other hard links (a cp -al backup of the
 * folder it is in): emptied or added to in place, each of them changed with it.
 * It gets a file of its own instead (its bytes copied when appending), put in its
 * place while no other run has it (LOCK_EX), as imgpool's journal does. The new
 * fd, or -1 with the cause in err, or -2 (err said) where another run holds it:
 * try again (a sibling shard doing the same); fd is closed either way. */
static int own_copy(const char *opt, const char *path, sidefile_kind kind, int fd, int append,
		    const struct stat *st, char *err, size_t errlen)
{
	char *tmp = NULL, buf[65536];
	ssize_t n = 0;
	off_t at = 0;
	int nfd = -1, rc = -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (busy) /* a sibling run is giving it a file of its own: try again */
			sidefile_refuse_locked(opt, path, append, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot lock '%s': %s", opt, path, strerror(errno));
		close(fd);
		return busy ? -2 : -1;
	}
	/* A sibling run put its own file at path since this one was opened */
	struct stat now;
	if (lstat(path, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		snprintf(err, errlen, "%s: '%s' changed while it was opened", opt, path);
		close(fd);
		return -2;
	}
	if ((nfd = sidefile_make_temp(path, kind, &tmp)) < 0) {
		sidefile_refuse_temp(opt, path, errno, err, errlen);
		free(tmp);
		close(fd);
		return -1;
	}
	ssize_t put = 0;
	while (append && (n = pread(fd, buf, sizeof buf, at)) > 0 &&
	       (put = write(nfd, buf, (size_t)n)) == n)
		at += n;
	if (n > 0 && put >= 0)
		errno = ENOSPC; /* a short write: the disk is full */
	/* Who may read it stays as it was (a report names every photo); its
	 * lines are on disk before it takes the name */
	if (n == 0 && (fchmod(nfd, st->st_mode & 07777) != 0 ||
		       (fchown(nfd, (uid_t)-1, st->st_gid) != 0 && errno != EPERM) ||
		       fdatasync(nfd) != 0))
		n = -1;
	if (n == 0 && geteuid() == 0 && fchown(nfd, st->st_uid, (gid_t)-1) != 0)
		n = -1;
	rc = n == 0 ? sidefile_replace_own(tmp, path, st) : -1;
	if (rc != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: '%s' has other hard links, and a file of its own could "
			 "not be put in its place: %s%s%s", opt, path,
			 n == 0 && rc == -1 && e == EEXIST ? "it changed meanwhile" : strerror(e),
			 rc == -2 ? "; the file that was put there meanwhile is now " : "",
			 rc == -2 ? tmp : "");
		if (rc != -2) /* -2: the file put there meanwhile is at tmp now */
			unlink(tmp);
		close(nfd);
		nfd = -1;
	}
	free(tmp);
	close(fd);
	return nfd;
}

/* Where the last whole line of the file open at fd, size bytes long, ends (the
 * byte after its newline; 0 when there is none), or -1 when it cannot be read. */
static off_t last_line_end(int fd, off_t size)
{
	char buf[4096];
	for (off_t end = size; end > 0;) {
		size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
		ssize_t got = pread(fd, buf, n, end - (off_t)n);
		if (got != (ssize_t)n)
			return -1;
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n')
				return end - (off_t)n + (off_t)i;
		end -= (off_t)n;
	}
	return 0;
}

/* Open in place what classify() found at path: a stream, or a file (made if
 * none) checked again on the open descriptor and emptied unless append. fd, or
 * -1 with the cause in err and errno kept, or -2 (err said) to try again: the file
 * opened is no longer the one at path (a sibling run gave it a file of its own,
 * own_copy()), or it is being given one. */
static int open_in_place_once(const char *opt, const char *path, sidefile_kind kind,
			      place p, int append, char *err, size_t errlen)
{
	int app = append ? O_APPEND : 0;
	int fd = p == PLACE_STREAM
			 ? open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | app)
			 : open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | app, 0666);
	struct stat st;
	int e = errno;

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) != 0 || (p == PLACE_STREAM ? !sidefile_is_stream(st.st_mode)
						      : !S_ISREG(st.st_mode))) {
		snprintf(err, errlen, "%s: '%s' changed while it was opened", opt, path);
		close(fd);
		return -1;
	}
	if (p == PLACE_STREAM)
		return fd;
	int own = sidefile_is_own(fd, kind);
	if (own <= 0) {
		if (own < 0)
			snprintf(err, errlen, "%s: cannot read '%s': %s", opt, path, strerror(errno));
		else
			sidefile_refuse_foreign(opt, path, kind, err, errlen);
		close(fd);
		return -1;
	}
	if (st.st_nlink > 1 && (fd = own_copy(opt, path, kind, fd, append, &st, err, errlen)) < 0)
		return fd;
	/* Two runs on one file (shards of an array at once with one --report name)
	 * emptied and wrote over each other: records were lost, silently. A run
	 * that empties it holds it alone; appending runs may share it (each record
	 * one write). Held until the file is closed. An appending run alone takes it
	 * whole first, to end a cut line below (a failed change of a lock's kind
	 * leaves none: flock(2)). */
	int alone = append && flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (!alone && sidefile_lock_in_place(fd, append) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (busy)
			sidefile_refuse_locked(opt, path, append, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot lock '%s': %s", opt, path,
				 strerror(errno));
		int why = busy ? EWOULDBLOCK : errno; /* the caller's exit 75 */
		close(fd);
		errno = why;
		/* Appending: held whole by a sibling for a moment (a cut line ended,
		 * a file of its own swapped in): its turn comes */
		return busy && append ? -2 : -1;
	}
	/* Opened just before a sibling run put a file of its own at path: this one
	 * is only the other link's now (a backup's), and nothing may go into it. */
	struct stat at;
	if (fstat(fd, &st) != 0 || lstat(path, &at) != 0 || at.st_dev != st.st_dev ||
	    at.st_ino != st.st_ino) {
		snprintf(err, errlen, "%s: '%s' changed while it was opened", opt, path);
		close(fd);
		return -2;
	}
	if (!append && ftruncate(fd, 0) != 0) {
		snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path, strerror(errno));
		close(fd);
		return -1;
	}
	/* A record a run cut short (killed, or its disk full): the first record
	 * appended went onto it, and neither could be read; ended with a newline, it
	 * stayed a line no JSON reader takes (jq -s failed on the whole file). It is
	 * cut off first, by a run appending alone (the lock taken whole for a moment:
	 * no other run is writing, so it is a dead one's). Then shared, or refused if
	 * a run that empties it came in between. */
	if (alone) {
		off_t cut = last_line_end(fd, st.st_size); /* st: fstat()'d just above */
		int bad = cut < 0 || (cut < st.st_size && ftruncate(fd, cut) != 0);
		if (bad || sidefile_lock_in_place(fd, append) != 0) {
			snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path,
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int sidefile_open_in_place(const char *opt, const char *path, sidefile_kind kind, place p,
			   int append, char *err, size_t errlen)
{
	int fd;
	for (int tries = 0; (fd = open_in_place_once(opt, path, kind, p, append, err, errlen)) == -2;
	     tries++) {
		if (tries == 3000) {
			errno = EWOULDBLOCK; /* a minute: busy, the caller's exit 75 */
			return -1;
		}
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	return fd;
}

int sidefile_put_in_place(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	return errno == EINVAL || errno == ENOSYS ? rename(tmp, path) : -1;
}

int sidefile_replace_own(const char *tmp, const char *path, const struct stat *judged)
{
	struct stat gone;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0)
		return errno == EINVAL || errno == ENOSYS ? rename(tmp, path) : -1;
	if (lstat(tmp, &gone) == 0 && gone.st_dev == judged->st_dev &&
	    gone.st_ino == judged->st_ino) {
		unlink(tmp); /* the old one; left at the temp name if this fails */
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0)
		return -2;
	errno = EEXIST;
	return -1;
}
