/* SPDX-License-Identifier: MIT */
/*
 * report.h — what imgpool tells the user: one line per file as it finishes, JSON
 * Lines for machines, the progress line, and the final summary.
 *
 * Streams: ok, skipped, planned and stopped lines and the summary go to `out`
 * (stdout); error lines and the progress line go to `err` (stderr), so that
 * `imgpool ... >/dev/null` in a crontab still shows every failure. One mutex orders every write, so a progress line and a
 * file line never mix inside a line; a live progress line (terminal) is erased
 * before a file line is printed and redrawn by the next progress tick.
 *
 * JSON: one object per line, each with "schema" (REPORT_SCHEMA), "time" (RFC 3339,
 * "+01:00") and "type": "file" records, "prune" records, then one "summary";
 * the fields are documented in docs/report-schema.md, and a test validates real
 * reports against docs/report.schema.json.
 * Strings are valid JSON for any file name: quotes, control characters and
 * newlines are escaped; bytes that are not UTF-8 are written as \udc80-\udcff,
 * the "surrogateescape" convention, so `s.encode('utf-8', 'surrogateescape')` in
 * Python gives the exact bytes of the name back.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef IMGPOOL_REPORT_H
#define IMGPOOL_REPORT_H

#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#include "failure.h"
#include "result.h"

/* The version of the JSON records' layout: a consumer checks it. */
#define REPORT_SCHEMA 1

typedef struct report report;

typedef enum {
	REPORT_OK,       /* thumbnails made */
	REPORT_ERROR,    /* the file failed; cause says why */
	REPORT_SKIPPED,  /* up to date */
	REPORT_PLANNED,  /* --dry-run: would be made */
	REPORT_CANCELLED /* interrupted before it was done */
} report_status;

/* One file's outcome. */
typedef struct report_file {
	report_status status;
	const char *input;
	int noutputs;
	const char *const *outputs;
	const thumb_result *res;  /* REPORT_OK only */
	const char *cause;        /* REPORT_ERROR / REPORT_CANCELLED */
	failure_kind kind;        /* REPORT_ERROR / REPORT_CANCELLED: why, as a type */
	double ms;                /* time in the worker, last attempt */
	int attempts;
	int worker;               /* slot, -1 if never run */
	int nremoved;             /* its outputs of earlier settings removed (would be, */
	const char *const *removed; /* dry run), as shown */
	int dry_run;              /* removed: would be (REPORT_PLANNED says so itself) */
} report_file;

typedef struct report_summary {
	uint64_t done, failed, skipped, cancelled, planned;
	uint64_t total;             /* files this run answers for, when total_known */
	int total_known;
	double wall_s, cpu_s;       /* cpu: parent + workers, user + system */
	uint64_t bytes_in, bytes_out;
	double task_s;              /* sum of time spent in tasks */
	int workers;
	int interrupted;            /* the signal, or 0 */
	int stopped_running;        /* a second signal stopped the running files */
	const char *stop_reason;    /* why the run stopped early (disk low), or NULL */
	int not_run;                /* the setup failed (its cause is on stderr): no file
	                               was looked at */
	uint64_t rss_peak;          /* bytes: the largest one worker was seen at */
	int cores;                  /* CPUs given to the run */
	uint64_t recycled, crashed; /* workers retired by a limit / died on their own */
	const char *shard;          /* "K/N", or "" without sharding */
	uint64_t adopted;           /* up-to-date outputs taken into a new journal */
	uint64_t failed_earlier;    /* of failed: skipped, failed before and unchanged */
	uint64_t pruned;            /* outputs removed (or listed, dry run) by --prune */
	uint64_t removed;           /* outputs of earlier settings removed as their inputs
	                               were redone (or listed, dry run) */
	int dry_run;
	int exit_code;
	uint64_t not_walked;        /* subfolders passed over without -r (discover.h) */
	uint64_t other_outputs;     /* subfolders not walked: imgpool output folders */
	const char *other_output;   /* the first of them */
} report_summary;

/* quiet: only error lines (and nothing else on out). verbose: skipped files too.
 * json_path: NULL, "-" (stdout, and then the human lines go to err) or a file,
 * written by sidefile.h's rules (never through a symlink; an existing file only
 * if it is an earlier report).
 * Returns NULL with *msg set (static text + errno text in buf) on failure; errno
 * EWOULDBLOCK where another run writes the file (sidefile.h: a wait, not a fault). */
report *report_open(FILE *out, FILE *err, int quiet, int verbose, const char *json_path,
		    char *msg, size_t msglen);

void report_file_done(report *r, const report_file *f);

/* The monitor's line: live (redrawn in place on a terminal) or a whole line. */
void report_progress(report *r, const char *line, int live);

/* A first signal stops the run: said once, as it comes (not with -q), with what
 * a second does. The line at the end said it alone: a Ctrl-C met silence while
 * the files running finished (15 s of AVIF), the ETA still ticking. */
void report_stopping(report *r, int sig);

/* Is $TERM "dumb": a terminal without the escape that clears a line (Emacs' shell,
 * some CI logs)? Then --progress auto prints lines, not a bar. (Unset is not: a
 * terminal a program opened itself, as a test's pty, often has no TERM.) */
int report_term_dumb(void);

/* The summary: its lines (report_summary_text(), standard output, and standard
 * error for a stop's cause), then its record (report_summary_record(), in the
 * JSON report). Apart, so that a run whose summary line itself could not be
 * written (standard output lost) records the exit status it then has. */
void report_summary_print(report *r, const report_summary *s);
void report_summary_text(report *r, const report_summary *s);
void report_summary_record(report *r, const report_summary *s);

/* --prune removed (or, dry_run, would remove) output, whose input is gone. */
void report_pruned(report *r, const char *output, const char *input, int dry_run);

/* An output of a gone input that --prune could not remove (or, dry run, could not
 * look at) (cause, one line): a line on the error stream, and a prune record with
 * an "error". */
void report_prune_kept(report *r, const char *output, const char *input, const char *cause,
		       int dry_run);

/* An input's thumbnail of earlier settings that could not be removed (cause, one
 * line; the next run tries again): a line on the error stream, and a prune record
 * with an "error" (not dry_run). */
void report_removal_kept(report *r, const char *output, const char *input, const char *cause);

/* The same, appending to json_path when append (--report-append: one file a
 * month of nightly runs). */
report *report_open_append(FILE *out, FILE *err, int quiet, int verbose,
			   const char *json_path, int append, char *msg, size_t msglen);

/* Write iso as every record's time (for tests; NULL: the clock). */
void report_fix_time(report *r, const char *iso);

/* Flush and close the JSON file. Returns 0, or -1 if writing it failed. */
int report_close(report *r);

/* Write s as a JSON string (with quotes) to f. Exposed for tests and fuzzing. */
void report_json_string(FILE *f, const char *s);

/* The same for a value that is one line of text (a record's "error"): a control
 * character in it, from a name it quotes (an output in the way, the other input
 * of a collision), is '?', as in a human line. The exact names are the records'
 * "file" and "outputs". */
void report_json_line(FILE *f, const char *s);

/* Write s for a human line: every character that could end the line, move the
 * cursor or reorder the text shown as '?' (C0 and C1 controls, DEL, U+2028 and
 * U+2029, the bidirectional overrides and isolates), and so is every byte
 * 0x80-0x9f that is not part of valid UTF-8 (a C1 control to an 8-bit terminal);
 * anything else as it is (a Latin-1 name's other bytes too). The JSON report
 * keeps the exact bytes. */
void report_put_name(FILE *f, const char *s);

/* One line of imgpool's own on f (a usage error, a warning, why the run
 * stopped), fmt as printf's, a newline added: shown through report_put_name(),
 * so that a control character in a name it quotes (-o, a --report path, a
 * PATH) cannot end the line or reach the terminal. Not for the per-file lines
 * (report_file() writes those). */
void report_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_vsay(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* "3.2 MB", "18 kB", "512 B" into buf. */
const char *report_bytes(uint64_t n, char *buf, size_t len);

#endif
