/* SPDX-License-Identifier: MIT */
/*
 * status.h — the `imgpool status` command: counts by status, the failed files with
 * their causes, and the last run, from every journal in OUTDIR/.imgpool (one per
 * shard), read-only.
 */
#ifndef IMGPOOL_STATUS_H
#define IMGPOOL_STATUS_H

/* argv[0] is "status". Returns the exit code: 0, 1 (no journal, unreadable), 2
 * (usage). */
int status_main(int argc, char **argv);

#endif
