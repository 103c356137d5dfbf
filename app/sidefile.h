/* SPDX-License-Identifier: MIT */
/*
 * sidefile.h — the files a user names for imgpool to write besides the
 * thumbnails: --report, --trace and --timeline, and imgpool bench's --csv,
 * --plot and --timeline. They go where the user says, not under the output
 * folder, so they get the output folder's rules in their own form:
 *
 *   - Never through a symlink. A symlink to a terminal, pipe or other character
 *     device (/dev/stdout is one) is followed: no file can be lost through it.
 *   - An existing file is replaced, or appended to, only when it is empty (but
 *     not an empty file with an image's name: it may be an input) or begins as
 *     imgpool begins a file of that kind, with what says it is imgpool's (a
 *     report's first record: {"schema":N,"time":"...","type":"; a trace's and an
 *     SVG's header naming imgpool, below; the bench table's header line), or a
 *     beginning of that which a kill cut short. A
 *     photo, a journal, another tool's trace or chart, or anything else named by
 *     mistake (--report IMG_0001.jpg, --trace in/a.jpg) is refused, never
 *     truncated.
 *   - A file written whole (everything but the report, which is written as the
 *     run goes) is made beside its name under a new name of its own, created
 *     exclusively, and renamed over the name when complete: the old one stays
 *     whole until then, and nothing else at that temporary name is touched.
 *     A device or pipe is written directly.
 *
 * Causes are whole sentences naming the option and the path, for stderr.
 */
#ifndef IMGPOOL_SIDEFILE_H
#define IMGPOOL_SIDEFILE_H

/* How imgpool begins each kind that is not a report: its writers write these
 * first, and a file that begins so is imgpool's to replace. */
#define SIDEFILE_TRACE_BEGINS "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"imgpool\"},"
#define SIDEFILE_SVG_BEGINS "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by imgpool -->\n"
#define SIDEFILE_CSV_BEGINS "config,jobs,wall_s_median,wall_s_min,wall_s_max,runs,cpu_s_median,"

#include <stdio.h>

/* What a file holds: how imgpool begins it, so how an earlier one is known. */
typedef enum sidefile_kind {
	SIDEFILE_REPORT,   /* JSON Lines report */
	SIDEFILE_TRACE,    /* Chrome trace events (JSON) */
	SIDEFILE_SVG,      /* a timeline or chart */
	SIDEFILE_CSV,      /* imgpool bench's table */
} sidefile_kind;

typedef struct sidefile sidefile;

/* May path be written as a file of this kind (the rules above), whole or in
 * place (as sidefile_create() will; append: added to), and can its folder take
 * the new file (whole: is its temp name free)? In place, is another run writing it (its lock: one that
 * replaces it holds it alone, ones that append share it)? 0; -1 with the cause
 * in err (opt names the option: "--report") for a name refused; -2 for a folder
 * that cannot take the file (missing, not writable); -3 while another run writes
 * it (a wait, not a mistake: exit 75, as for a locked OUT). Nothing is created. For
 * checking before long work; sidefile_create() and sidefile_close() check
 * again. */
int sidefile_check(const char *opt, const char *path, sidefile_kind kind, int whole,
		   int append, char *err, size_t errlen);

/* Do the names a and b lead to one file, pipe or socket: links to one file, a
 * name for a descriptor (/dev/stdout) and a name of what is open there, one file
 * not there yet named two ways? Not a character device (a terminal, /dev/null),
 * where writes may mix; 0 when either cannot be told. */
int sidefile_same_place(const char *a, const char *b);

/* Start writing path as a file of this kind: whole (a temp file beside it, put
 * in place by sidefile_close()) or, when !whole, in place (emptied first, or
 * appended to when append). NULL with the cause in err; errno is EINTR when a
 * signal ended the wait in open() for a FIFO's reader, EWOULDBLOCK when another
 * run writes it (taken since sidefile_check(): its -3). */
sidefile *sidefile_create(const char *opt, const char *path, sidefile_kind kind, int whole,
			  int append, char *err, size_t errlen);

/* The stream to write to. */
FILE *sidefile_stream(sidefile *f);

/* Is it a regular file imgpool opened by its name, its own to cut back (not a
 * shell's descriptor, /dev/stderr, a FIFO or a terminal, which others write)? */
int sidefile_is_own_file(const sidefile *f);

/* Finish: flush and close; a whole file is renamed over its name if it may still
 * be replaced (checked again: the name may have changed meanwhile), else its
 * temp file is removed, as it is when !keep. 0, or -1 with the cause in err.
 * NULL is a no-op. */
int sidefile_close(sidefile *f, int keep, char *err, size_t errlen);

#endif
