/* SPDX-License-Identifier: MIT */
/*
 * run.h — one imgpool run: lock the output folder, stream the discovered files
 * through the pool, report each, summarise, and choose the exit code.
 *
 * Exit codes: 0 all done (skipped counts as done), 1 some files failed (or the
 * output folder cannot be used), 75 another run holds the output folder or
 * writes the --report file, 130/143
 * interrupted by SIGINT/SIGTERM.
 */
#ifndef IMGPOOL_RUN_H
#define IMGPOOL_RUN_H

#include "options.h"

enum {
	EXIT_ALL_DONE = 0,
	EXIT_SOME_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_LOCKED = 75,
};

/* Run with the parsed options. Installs SIGINT/SIGTERM handlers for the run. */
int run_imgpool(const imgpool_options *o);

#endif
