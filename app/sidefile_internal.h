/* SPDX-License-Identifier: MIT */
/*
 * sidefile_internal.h — what sidefile.c and sidefile_files.c share: where a name
 * leads, whether a file there is imgpool's, its temp file, and opening it in
 * place. Not a public contract: sidefile.h is.
 */
#ifndef IMGPOOL_SIDEFILE_INTERNAL_H
#define IMGPOOL_SIDEFILE_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>

#include "sidefile.h"

/* Where a name leads: nothing yet, a file, or a stream (a character device, a
 * FIFO or a socket, itself or behind a symlink), which no write can lose. */
typedef enum place { PLACE_NONE, PLACE_FILE, PLACE_STREAM, PLACE_FD } place;

/* A stream: a character device, a FIFO or a socket, which no write can lose. */
int sidefile_is_stream(mode_t m);

/* Does the open file fd begin as imgpool begins a file of this kind, or is it
 * empty? 1, 0, or -1 when it cannot be read. */
int sidefile_is_own(int fd, sidefile_kind kind);

/* The refusal of a file at path that imgpool did not make (into err): -1. */
int sidefile_refuse_foreign(const char *opt, const char *path, sidefile_kind kind, char *err,
			    size_t errlen);

/* The lock a run writing path in place takes (sidefile_open_in_place()), or -1 with errno
 * (EWOULDBLOCK: another run holds it) on fd. */
int sidefile_lock_in_place(int fd, int append);

/* The refusal when another run holds path: which run, and the cure. */
void sidefile_refuse_locked(const char *opt, const char *path, int append, char *err,
			     size_t errlen);

/* The temp name a whole file of path is written under ("PATH.imgpool.tmp"),
 * malloc'd; NULL out of memory. */
char *sidefile_temp_name(const char *path);

/* Is the temp name tmp free for a new temp file: nothing there (0), or one a run
 * that was killed left (no lock on it) that is empty or begins as imgpool begins a
 * file of this kind: it can show it is imgpool's (0, and removed when remove)? A
 * locked one (another run's, writing the same name) is EBUSY, anything else
 * EEXIST, and another failure -1 with errno. */
int sidefile_temp_free(const char *tmp, sidefile_kind kind, int remove);

/* The cause when a whole file's temp name is taken (code: sidefile_temp_free()'s). */
void sidefile_refuse_temp(const char *opt, const char *path, int code, char *err, size_t errlen);

/* The new file beside path that a whole file is written to (sidefile_temp_name()), created
 * exclusively (never an existing file, never through a symlink) and flock()ed
 * while it is written; one a killed run left is replaced as sidefile_temp_free() says. fd
 * with *tmp (malloc'd), or -1 with errno (EEXIST, EBUSY: sidefile_temp_free()'s). */
int sidefile_make_temp(const char *path, sidefile_kind kind, char **tmp);

/* Open in place what classify() found at path: a stream, or a file (made if none)
 * checked again on the open descriptor and emptied unless append; one with other
 * hard links gets a file of its own first. fd, or -1 with the cause in err and
 * errno kept. Tried again where a sibling holds it for a moment, a minute at most: a
 * sibling giving a large report a file of its own holds it as long as the copy
 * takes (about a second a GB); a run that empties it, for good (then refused). */
int sidefile_open_in_place(const char *opt, const char *path, sidefile_kind kind, place p,
			   int append, char *err, size_t errlen);

/* Rename tmp to path where nothing was there a moment ago, and nothing made
 * there since is replaced (RENAME_NOREPLACE; a filesystem without it, plain
 * rename). */
int sidefile_put_in_place(const char *tmp, const char *path);

/* Replace path (imgpool's own file: judged, as classify_file() read it) with tmp.
 * Swapped (RENAME_EXCHANGE), then the file that left path must be that very file:
 * one put there since (a user's) is swapped back, and kept (EEXIST). A filesystem
 * without the exchange gets a plain rename. Returns 0, -1 (errno), or -2 when the
 * swap back failed: the file put there is at tmp then, and must stay there. */
int sidefile_replace_own(const char *tmp, const char *path, const struct stat *judged);

#endif
