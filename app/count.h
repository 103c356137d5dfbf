/* SPDX-License-Identifier: MIT */
/*
 * count.h — the counting walk: beside the run's own lazy walk, a thread walks the
 * same PATHs with discovery's own filters and this run's shard, names only (no
 * output is planned, nothing is opened), so the progress bar and the ETA have a
 * real total as soon as it is done, and every "not started" count is exact.
 *
 * It writes run_counters.total and then sets total_known; nothing else. A list
 * read from --files-from is not counted (standard input cannot be read twice): the
 * total then stays unknown until the run's own walk ends.
 */
#ifndef IMGPOOL_COUNT_H
#define IMGPOOL_COUNT_H

#include "discover.h"
#include "monitor.h"
#include "shard.h"

typedef struct counter counter;

/* Start counting (cfg and sh are copied; the strings they point to must outlive
 * the counter). NULL when there is nothing it can count or the thread cannot
 * start: the total is then the run's own walk's. */
counter *counter_start(const discover_config *cfg, const shard *sh, run_counters *c);

/* Stop (at the next file) and join, once the pool forks no more (a walk that is
 * over waits for this: thread.h); NULL is a no-op. */
void counter_stop(counter *k);

#endif
