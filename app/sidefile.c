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
#include "sidefile_internal.h"
#include "sinks.h"

struct sidefile {
	FILE *f;
	char *path;
	char *tmp;	/* the temp file beside path, when written whole */
	const char *opt;
	sidefile_kind kind;
	int own_file;	/* opened here by its name, a regular file (PLACE_NONE, _FILE) */
};

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
		if (stat(path, &to) == 0 && sidefile_is_stream(to.st_mode)) {
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
	if (sidefile_is_stream(st.st_mode)) {
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
	int own = fd < 0 ? -1 : sidefile_is_own(fd, kind);
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
	return own ? 0 : sidefile_refuse_foreign(opt, path, kind, err, errlen);
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

int sidefile_check(const char *opt, const char *path, sidefile_kind kind, int whole,
		   int append, char *err, size_t errlen)
{
	place p;

	if (classify(opt, path, kind, &p, err, errlen) != 0)
		return -1;
	/* An appending run waits its turn (two seconds here, and in sidefile_open_in_place())
	 * where a sibling holds the file whole for a moment: ending a cut line, or
	 * giving a hard-linked report a file of its own. */
	if (!whole && p == PLACE_FILE) {
		int busy = 0;
		for (int tries = 0; tries < (append ? 100 : 1); tries++) {
			if (tries)
				nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
			int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			busy = fd >= 0 && sidefile_lock_in_place(fd, append) != 0 && errno == EWOULDBLOCK;
			if (fd >= 0)
				close(fd); /* the probe's lock goes with it */
			if (!busy)
				break;
		}
		if (busy) {
			sidefile_refuse_locked(opt, path, append, err, errlen);
			return -3; /* for a while: as another run's lock on OUT */
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
	char *tmp = whole ? sidefile_temp_name(path) : NULL;
	int code = !whole ? 0 : tmp ? sidefile_temp_free(tmp, kind, 0) : ENOMEM;
	if (code < 0)
		code = errno; /* sidefile_temp_free()'s, before free() */
	free(tmp);
	if (code != 0)
		sidefile_refuse_temp(opt, path, code, err, errlen);
	return code ? -1 : 0;
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
			fd = sidefile_make_temp(path, kind, &s->tmp);
			if (fd < 0)
				sidefile_refuse_temp(opt, path, errno, err, errlen);
		} else {
			fd = sidefile_open_in_place(opt, path, kind, p, append, err, errlen);
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

/* Put the temp file of s at its name: new (p PLACE_NONE), or in place of imgpool's
 * own file judged. 0, or -1 with the cause in err. */
static int put_file(const sidefile *s, place p, const struct stat *judged, char *err,
		    size_t errlen)
{
	int rc = p == PLACE_NONE ? sidefile_put_in_place(s->tmp, s->path) : sidefile_replace_own(s->tmp, s->path,
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
	/* Put in place while it is still open and locked (sidefile_make_temp()): another run
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
		 * of sidefile_replace_own() that failed left the user's file there). */
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
