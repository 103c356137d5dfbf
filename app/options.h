/* SPDX-License-Identifier: MIT */
/*
 * options.h — the imgpool command line: what the user asked for, checked.
 *
 * options_parse() turns argv into an imgpool_options (getopt_long: the GNU
 * conventions people expect, --opt=value and --opt value, bundled short flags,
 * "--" to end options). Every error is one line naming the option and the bad
 * value, e.g. "imgpool: --size: '12x' is not a size (W, WxH, Wx or xH)".
 */
#ifndef IMGPOOL_OPTIONS_H
#define IMGPOOL_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "outfolder.h"
#include "optvalues.h"
#include "settings.h"

typedef enum {
	PROGRESS_AUTO = 0, /* a live bar on a terminal, periodic lines otherwise */
	PROGRESS_BAR,
	PROGRESS_LINES,
	PROGRESS_NONE,
} progress_mode;

typedef struct imgpool_options {
	thumb_settings settings;       /* everything that changes output bytes */
	const char **paths;            /* PATH arguments (point into argv) */
	int npaths;
	const char *files_from;        /* --files-from FILE or "-": more inputs, listed */
	int files_nul;                 /* -0: that list is NUL-separated */
	const char *base;              /* --base DIR: listed paths are kept relative to it */
	char *out_dir;                 /* -o, or the default (malloc'd) */
	int out_dir_defaulted;         /* 1 when no -o was given */
	int recursive;
	const char **includes;         /* --include globs (point into argv) */
	int nincludes;
	const char **excludes;
	int nexcludes;
	const char *name_template;     /* --name, or NULL for the default */
	int force, dry_run, quiet, verbose;
	int overwrite;                 /* replace files at output paths imgpool did not make */
	int jobs;                      /* 0: the CPUs we may use */
	double timeout;                /* seconds per file; 0: none */
	int retries;                   /* after a worker crash or timeout */
	const char *report_path;       /* --report FILE or "-" */
	int report_append;             /* --report-append: add to FILE, not replace it */
	progress_mode progress;
	double progress_interval;      /* seconds between plain progress lines */
	const char *trace_path;        /* --trace FILE.json */
	const char *timeline_path;     /* --timeline FILE.svg */
	uint64_t min_free;             /* --min-free in bytes (when not a percentage) */
	double min_free_pct;           /* --min-free N% of the filesystem; 0: bytes */
	int min_free_set;              /* 0: the default, min(1 GiB, 2 %) */
	const char *min_free_text;     /* --min-free as given (G is GiB), for messages */
	uint64_t max_worker_rss;       /* --max-worker-rss bytes; 0: none */
	int retry_failed;              /* try files that failed before and did not change */
	int prune;                     /* delete outputs of inputs that are gone */
	int checksum;                  /* compare input contents too, not just size+mtime */
	int no_journal;                /* up to date by modification times only */
	const char *shard_arg;         /* --shard K/N | none; NULL: the scheduler's env */
	int shard_count;               /* --shard-count N; 0: not given */
} imgpool_options;

enum { OPTIONS_RUN = 0, OPTIONS_EXIT_OK = 1, OPTIONS_USAGE = 2 };

/* Parse argv into *o. OPTIONS_RUN: go on. OPTIONS_EXIT_OK: --help or --version was
 * printed to out. OPTIONS_USAGE: a one-line error was printed to err (exit 2). */
int options_parse(int argc, char **argv, imgpool_options *o, FILE *out, FILE *err);

/* The same for another command that takes a run's options ("imgpool bench"): its
 * errors begin "COMMAND: " and point to "COMMAND --help". */
int options_parse_as(const char *command, int argc, char **argv, imgpool_options *o, FILE *out,
		     FILE *err);

/* Options that do not go together in *o: -1 with a one-line message in msg (the
 * usage error options_parse() gives), or 0. */
int options_conflict(const imgpool_options *o, char *msg, size_t len);

/* Free what options_parse allocated. */
void options_free(imgpool_options *o);

#endif
