/* SPDX-License-Identifier: MIT */
/*
 * bench.h — `imgpool bench`: how speedup grows with workers, for teaching.
 *
 * Thumbnails the same files once with an in-process sequential loop (no pool: the
 * baseline, in one forked child so the parent still never decodes a pixel) and then
 * with the pool at each job count, and prints speedup, efficiency, the Karp-Flatt
 * serial fraction and the pool's own overhead; optionally a CSV and an SVG chart.
 */
#ifndef IMGPOOL_BENCH_H
#define IMGPOOL_BENCH_H

/* argv[0] is "bench". Returns the exit code. */
int bench_main(int argc, char **argv);

#endif
