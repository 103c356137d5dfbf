/* SPDX-License-Identifier: MIT */
/*
 * sidefile.c — the files a user names for imgpool to write besides the
 * thumbnails, written by the output folder's rules. See sidefile.h.
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

#include "paths.h"
#include "settings.h"
#include "sidefile.h"
#include "sinks.h"

struct sidefile {
	FILE *f;
	char *path;
	char *tmp;	/* the temp file beside path, when written whole */
	const char *opt;
	sidefile_kind kind;
	int own_file;	/* opened here by its name, a regular file (PLACE_NONE, _FILE) */
};

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

/* Where a name leads: nothing yet, a file, or a stream (a character device, a
 * FIFO or a socket, itself or behind a symlink), which no write can lose. */
typedef enum place { PLACE_NONE, PLACE_FILE, PLACE_STREAM, PLACE_FD } place;

/* The descriptor a name for one of ours stands for (/dev/stdout, /dev/stderr,
 * /dev/fd/N, /proc/self/fd/N), or -1. What the shell opened there is written
 * through a copy of it: opening the name anew would follow /proc's link to a file
 * (truncating what the shell's redirection already set up) or a new description
 * of a pipe. */
static int named_descriptor(const char *path)
{
	const char *n = !strcmp(path, "/dev/stdout") ? "1"
			: !strcmp(path, "/dev/stderr") ? "2"
			: !strncmp(path, "/dev/fd/", 8) ? path + 8
			: !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
	if (!n || !*n || strlen(n) > 6 || n[strspn(n, "0123456789")])
		return -1;
	return atoi(n);
}

static int is_stream(mode_t m)
{
	return S_ISCHR(m) || S_ISFIFO(m) || S_ISSOCK(m);
}

/* What of a header a file cut short must hold to be taken for imgpool's. */
#define CUT_AT_LEAST 16

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

/* Does the open file fd begin as imgpool begins a file of this kind, or is it
 * empty? 1, 0, or -1 when it cannot be read. */
static int is_own(int fd, sidefile_kind kind)
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

static int refuse_foreign(const char *opt, const char *path, sidefile_kind kind, char *err,
			  size_t errlen)
{
	snprintf(err, errlen, "%s: '%s' exists and is not %s imgpool wrote; imgpool replaces "
		 "only its own files: give another name, or remove that file first", opt, path,
		 kinds[kind].name);
	return -1;
}

/* Can a new file be made at path: is its folder there, and writable? 0, or -1
 * with the cause (said before a run rather than after it). */
static int folder_writable(const char *opt, const char *path, char *err, size_t errlen)
{
	char *dir = path_dir(path);
	int rc = dir ? access(dir, W_OK) : (errno = ENOMEM, -1);

	if (rc != 0)
		snprintf(err, errlen, "%s: cannot write '%s': folder '%s': %s", opt, path,
			 dir ? dir : "?", strerror(errno));
	free(dir);
	return rc;
}

/* Where path leads now, by the rules of sidefile.h: 0 with *p, or -1 with the
 * cause of a refusal in err. For PLACE_FILE, *judged (when not NULL) is the file
 * found to be imgpool's own, as opened and read. */
static int classify_file(const char *opt, const char *path, sidefile_kind kind, place *p,
			 struct stat *judged, char *err, size_t errlen)
{
	struct stat st;
	int fd = named_descriptor(path), flags;

	if (fd >= 0) {
		*p = PLACE_FD;
		if ((flags = fcntl(fd, F_GETFL)) >= 0 && (flags & O_ACCMODE) != O_RDONLY)
			return 0;
		snprintf(err, errlen, "%s: '%s' is not open for writing", opt, path);
		return -1;
	}
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT) {
			*p = PLACE_NONE;
			return 0;
		}
		snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		struct stat to;
		if (stat(path, &to) == 0 && is_stream(to.st_mode)) {
			*p = PLACE_STREAM;
			return 0;
		}
		char *target = realpath(path, NULL);
		snprintf(err, errlen, "%s: '%s' is a symlink%s%s%s; imgpool never writes a file "
			 "through one: give the file itself", opt, path, target ? " to '" : "",
			 target ? target : "", target ? "'" : "");
		free(target);
		return -1;
	}
	if (is_stream(st.st_mode)) {
		*p = PLACE_STREAM;
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: '%s' is %s", opt, path,
			 S_ISDIR(st.st_mode) ? "a folder" : "not a file");
		return -1;
	}
	*p = PLACE_FILE;
	if (judged)
		*judged = st;
	/* An empty file is replaced, but not one with an image's name: it may be an
	 * input (--report in/new.jpg, where new.jpg is a photo still being copied). */
	if (st.st_size == 0 && thumb_is_input_ext(path_extension(path_base(path)))) {
		snprintf(err, errlen, "%s: '%s' is an empty file with an image's name, which may "
			 "be an input; imgpool never writes over one: give another name, or "
			 "remove that file first", opt, path);
		return -1;
	}
	if (st.st_size == 0)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int own = fd < 0 ? -1 : is_own(fd, kind);
	int e = errno;

	if (fd >= 0) {
		if (judged && fstat(fd, judged) != 0)
			own = 0; /* cannot say which file was judged: not taken for ours */
		close(fd);
	}
	if (own < 0) {
		snprintf(err, errlen, "%s: cannot read '%s' to see what it is: %s", opt, path,
			 strerror(e));
		return -1;
	}
	return own ? 0 : refuse_foreign(opt, path, kind, err, errlen);
}

static int classify(const char *opt, const char *path, sidefile_kind kind, place *p, char *err,
		    size_t errlen)
{
	return classify_file(opt, path, kind, p, NULL, err, errlen);
}

/* Where a name leads, to tell whether two names lead to one place: the file or
 * stream it names or stands for (*st), or else the canonical path of a file not
 * there yet (*canon, malloc'd). 0, or -1 when it cannot be told. */
static int place_of(const char *path, struct stat *st, char **canon)
{
	int fd = named_descriptor(path);
	*canon = NULL;
	if (fd >= 0 ? fstat(fd, st) == 0 : stat(path, st) == 0)
		return 0;
	if (fd >= 0 || errno != ENOENT)
		return -1;
	return (*canon = path_canonical(path)) ? 0 : -1;
}

int sidefile_same_place(const char *a, const char *b)
{
	struct stat sa, sb;
	char *ca, *cb;
	if (place_of(a, &sa, &ca) != 0)
		return 0;
	int same = 0;
	if (place_of(b, &sb, &cb) == 0) {
		/* a character device (a terminal, /dev/null) is a place no reader
		 * parses: writes to it may mix */
		same = ca || cb ? ca && cb && !strcmp(ca, cb)
				: !S_ISCHR(sa.st_mode) && sa.st_dev == sb.st_dev &&
					  sa.st_ino == sb.st_ino;
		free(cb);
	}
	free(ca);
	return same;
}

/* The lock a run writing path in place takes (open_in_place()), or -1 with errno
 * (EWOULDBLOCK: another run holds it) on fd. */
static int lock_in_place(int fd, int append)
{
	return flock(fd, (append ? LOCK_SH : LOCK_EX) | LOCK_NB);
}

/* The refusal when another run holds path: which run, and the cure. */
static void refuse_locked(const char *opt, const char *path, int append, char *err,
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

/* The temp name a whole file of path is written under ("PATH.imgpool.tmp"),
 * malloc'd; NULL out of memory. */
static char *temp_name(const char *path)
{
	char *tmp;
	return asprintf(&tmp, "%s.imgpool.tmp", path) < 0 ? NULL : tmp;
}

/* Is the temp name tmp free for a new temp file: nothing there (0), or one a run
 * that was killed left (no lock on it) that is empty or begins as imgpool begins a
 * file of this kind: it can show it is imgpool's (0, and removed when remove)? A
 * locked one (another run's, writing the same name) is EBUSY, anything else
 * EEXIST, and another failure -1 with errno. */
static int temp_free(const char *tmp, sidefile_kind kind, int remove)
{
	struct stat st;
	if (lstat(tmp, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	int old = open(tmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int locked = 0;
	int own = old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode) &&
		  !(locked = flock(old, LOCK_EX | LOCK_NB) != 0) && is_own(old, kind) == 1;
	int gone = own && (!remove || unlink(tmp) == 0);
	if (old >= 0)
		close(old);
	return gone ? 0 : locked ? EBUSY : EEXIST;
}

/* The cause when a whole file's temp name is taken (code: temp_free()'s). */
static void refuse_temp(const char *opt, const char *path, int code, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: cannot write '%s.imgpool.tmp' to replace '%s' with: %s", opt,
		 path, path,
		 code == EEXIST	 ? "a file imgpool did not make is there"
		 : code == EBUSY ? "another imgpool run is writing it"
				 : strerror(code));
}

int sidefile_check(const char *opt, const char *path, sidefile_kind kind, int whole,
		   int append, char *err, size_t errlen)
{
	place p;

	if (classify(opt, path, kind, &p, err, errlen) != 0)
		return -1;
	/* An appending run waits its turn (two seconds here, and in open_in_place())
	 * where a sibling holds the file whole for a moment: ending a cut line, or
	 * giving a hard-linked report a file of its own. */
	if (!whole && p == PLACE_FILE) {
		int busy = 0;
		for (int tries = 0; tries < (append ? 100 : 1); tries++) {
			if (tries)
				nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
			int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			busy = fd >= 0 && lock_in_place(fd, append) != 0 && errno == EWOULDBLOCK;
			if (fd >= 0)
				close(fd); /* the probe's lock goes with it */
			if (!busy)
				break;
		}
		if (busy) {
			refuse_locked(opt, path, append, err, errlen);
			return -1;
		}
	}
	/* A new file, or one written whole (a temp file beside it), is made in the
	 * folder; a whole one's temp name must be free (sidefile_create() would
	 * refuse it after the run: the report, emptied when it was opened, would
	 * have lost the last run's records for nothing). */
	if (p != PLACE_NONE && !(whole && p == PLACE_FILE))
		return 0;
	if (folder_writable(opt, path, err, errlen) != 0)
		return -2; /* cannot be written, as a failed open later would say */
	char *tmp = whole ? temp_name(path) : NULL;
	int code = !whole ? 0 : tmp ? temp_free(tmp, kind, 0) : ENOMEM;
	if (code < 0)
		code = errno; /* temp_free()'s, before free() */
	free(tmp);
	if (code != 0)
		refuse_temp(opt, path, code, err, errlen);
	return code ? -1 : 0;
}

/* The new file beside path that a whole file is written to (temp_name()), created
 * exclusively (never an existing file, never through a symlink) and flock()ed
 * while it is written; one a killed run left is replaced as temp_free() says. fd
 * with *tmp (malloc'd), or -1 with errno (EEXIST, EBUSY: temp_free()'s). */
static int make_temp(const char *path, sidefile_kind kind, char **tmp)
{
	if (!(*tmp = temp_name(path))) {
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
		int code = temp_free(*tmp, kind, 1);
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

static int replace_own(const char *tmp, const char *path, const struct stat *judged);

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
			refuse_locked(opt, path, append, err, errlen);
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
	if ((nfd = make_temp(path, kind, &tmp)) < 0) {
		refuse_temp(opt, path, errno, err, errlen);
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
	rc = n == 0 ? replace_own(tmp, path, st) : -1;
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
	if (fstat(fd, &st) != 0 || (p == PLACE_STREAM ? !is_stream(st.st_mode)
						      : !S_ISREG(st.st_mode))) {
		snprintf(err, errlen, "%s: '%s' changed while it was opened", opt, path);
		close(fd);
		return -1;
	}
	if (p == PLACE_STREAM)
		return fd;
	int own = is_own(fd, kind);
	if (own <= 0) {
		if (own < 0)
			snprintf(err, errlen, "%s: cannot read '%s': %s", opt, path, strerror(errno));
		else
			refuse_foreign(opt, path, kind, err, errlen);
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
	if (!alone && lock_in_place(fd, append) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (busy)
			refuse_locked(opt, path, append, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot lock '%s': %s", opt, path,
				 strerror(errno));
		close(fd);
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
	/* A line a killed run cut short: the first record appended went onto it, and
	 * neither could be read. It is ended first, by a run appending alone (the
	 * lock taken whole for a moment): another's record may be under way. Then
	 * shared, or refused if a run that empties it came in between. */
	struct stat now;
	char last;
	if (alone) {
		int bad = fstat(fd, &now) == 0 && now.st_size > 0 &&
			  pread(fd, &last, 1, now.st_size - 1) == 1 && last != '\n' &&
			  write(fd, "\n", 1) != 1;
		if (bad || lock_in_place(fd, append) != 0) {
			snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path,
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* open_in_place_once(), tried again where it says so, for a minute at most: a
 * sibling giving a large report a file of its own holds it as long as the copy
 * takes (about a second a GB); a run that empties it, for good (then refused). */
static int open_in_place(const char *opt, const char *path, sidefile_kind kind, place p,
			 int append, char *err, size_t errlen)
{
	int fd;
	for (int tries = 0; (fd = open_in_place_once(opt, path, kind, p, append, err, errlen)) == -2;
	     tries++) {
		if (tries == 3000)
			return -1;
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	return fd;
}

sidefile *sidefile_create(const char *opt, const char *path, sidefile_kind kind, int whole,
			  int append, char *err, size_t errlen)
{
	sidefile *s = calloc(1, sizeof *s);
	place p;
	int fd = -1;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->opt = opt;
	s->kind = kind;
	if (classify(opt, path, kind, &p, err, errlen) == 0) {
		if (p == PLACE_FD) {
			fd = fcntl(named_descriptor(path), F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path,
					 strerror(errno));
		} else if (whole && p != PLACE_STREAM) {
			fd = make_temp(path, kind, &s->tmp);
			if (fd < 0)
				refuse_temp(opt, path, errno, err, errlen);
		} else {
			fd = open_in_place(opt, path, kind, p, append, err, errlen);
		}
	}
	int e = errno;
	/* A copy of the shell's descriptor is written as the shell opened it: "a"
	 * would set O_APPEND on the description the shell shares. */
	if (fd >= 0 && !(s->f = fdopen(fd, append && p != PLACE_FD ? "a" : "w"))) {
		e = errno;
		snprintf(err, errlen, "%s: cannot write '%s': %s", opt, path, strerror(e));
		close(fd);
		fd = -1;
		if (s->tmp)
			unlink(s->tmp);
	}
	if (fd < 0) {
		free(s->tmp);
		free(s->path);
		free(s);
		errno = e;
		return NULL;
	}
	s->own_file = p == PLACE_NONE || p == PLACE_FILE;
	/* A pipe a stop must not wait on (sinks.h): the shell's own descriptor, which
	 * is put back at the end, or one opened here, forgotten when closed. */
	if (p == PLACE_FD)
		sinks_note(named_descriptor(path), 0);
	else if (p == PLACE_STREAM)
		sinks_note(fd, 1);
	return s;
}

/* Rename tmp to path where nothing was there a moment ago, and nothing made
 * there since is replaced (RENAME_NOREPLACE; a filesystem without it, plain
 * rename). */
static int put_in_place(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	return errno == EINVAL || errno == ENOSYS ? rename(tmp, path) : -1;
}

/* Replace path (imgpool's own file: judged, as classify_file() read it) with tmp.
 * Swapped (RENAME_EXCHANGE), then the file that left path must be that very file:
 * one put there since (a user's) is swapped back, and kept (EEXIST). A filesystem
 * without the exchange gets a plain rename. Returns 0, -1 (errno), or -2 when the
 * swap back failed: the file put there is at tmp then, and must stay there. */
static int replace_own(const char *tmp, const char *path, const struct stat *judged)
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

/* Put the temp file of s at its name: new (p PLACE_NONE), or in place of imgpool's
 * own file judged. 0, or -1 with the cause in err. */
static int put_file(const sidefile *s, place p, const struct stat *judged, char *err,
		    size_t errlen)
{
	int rc = p == PLACE_NONE ? put_in_place(s->tmp, s->path) : replace_own(s->tmp, s->path,
									       judged);
	if (rc == -2)
		snprintf(err, errlen, "%s: a file was put at '%s' while this one was written: "
			 "it is at '%s' now (this one is at its name)", s->opt, s->path, s->tmp);
	else if (rc && errno == EEXIST)
		snprintf(err, errlen, "%s: a file was put at '%s' while this one was written: it "
			 "is kept, and this one is not", s->opt, s->path);
	else if (rc)
		snprintf(err, errlen, "%s: writing '%s' failed: %s", s->opt, s->path,
			 strerror(errno));
	return rc ? -1 : 0;
}

FILE *sidefile_stream(sidefile *f)
{
	return f->f;
}

int sidefile_close(sidefile *s, int keep, char *err, size_t errlen)
{
	if (!s)
		return 0;
	int rc = 0, fd = fileno(s->f);
	/* A whole file is on disk before its name is: never an empty file in place
	 * of the old one after a crash. */
	if (fflush(s->f) != 0 || ferror(s->f) || (s->tmp && keep && fsync(fd) != 0))
		rc = -1;
	int e = errno;
	if (rc)
		snprintf(err, errlen, "%s: writing '%s' failed: %s", s->opt, s->path, strerror(e));
	/* Put in place while it is still open and locked (make_temp()): another run
	 * cannot take it for a killed run's in between; and only if the temp name is
	 * still this very file. */
	if (s->tmp) {
		struct stat mine, there, judged;
		place p = PLACE_NONE;
		int ours = 1;
		if (!rc && keep) {
			if (fstat(fd, &mine) != 0 || lstat(s->tmp, &there) != 0 ||
			    mine.st_dev != there.st_dev || mine.st_ino != there.st_ino) {
				snprintf(err, errlen, "%s: '%s.imgpool.tmp' was taken away while it "
					 "was written", s->opt, s->path);
				rc = -1;
				ours = 0;
			} else if (classify_file(s->opt, s->path, s->kind, &p, &judged, err,
						 errlen) != 0) {
				rc = -1;
			} else if (p == PLACE_STREAM || p == PLACE_FD) {
				snprintf(err, errlen, "%s: '%s' changed while it was written", s->opt,
					 s->path);
				rc = -1;
			} else if (put_file(s, p, &judged, err, errlen) != 0) {
				rc = -1;
			}
		}
		/* The temp name, unless it is not this file (taken away, or a swap back
		 * of replace_own() that failed left the user's file there). */
		if (ours && (rc || !keep) && fstat(fd, &mine) == 0 && lstat(s->tmp, &there) == 0 &&
		    mine.st_dev == there.st_dev && mine.st_ino == there.st_ino)
			unlink(s->tmp);
	}
	sinks_forget(fd); /* its number is free once closed */
	if (fclose(s->f) != 0 && !rc) {
		snprintf(err, errlen, "%s: writing '%s' failed: %s", s->opt, s->path,
			 strerror(errno));
		rc = -1;
	}
	free(s->tmp);
	free(s->path);
	free(s);
	return rc;
}

int sidefile_is_own_file(const sidefile *f)
{
	return f && f->own_file;
}
