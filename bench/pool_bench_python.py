#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pool_bench_python.py — the Python side of the pool benchmark.

Measures multiprocessing.Pool(2) (start method 'fork') dispatch cost, the
numbers bench/pool_bench (libpool) is compared with. Two kinds of tasks:

  noop  return the argument: pure dispatch and result-collection overhead
  1ms   time.sleep(0.001): a task that takes time but no CPU, so the ideal
        rate with 2 workers is 2000 tasks/s

and four ways of running them: map (chunksize 1), imap_unordered (chunksize
1), apply_async (submit all, then .get() all), and map with chunksize 100
(noop only: it shows what batching buys).

Output, one line per measurement, for machines:

  python <kind> <method> <chunksize> <ntasks> <seconds> <tasks_per_s>

e.g. "python noop map 1 50000 1.02 49019". The pool is created (and its
workers started) before the clock starts and closed after it stops, so only
the dispatch of the tasks is timed. Standard library only.

usage: pool_bench_python.py [--quick] [--workers N]
"""

import argparse
import multiprocessing
import sys
import time

# Task counts for about 1-2 s per measurement on a 2-core machine (batched no-op
# tasks are ~30x cheaper, so they get more, to stay well above timer noise).
NOOP_TASKS = 50000
NOOP_BATCHED_TASKS = 1000000
SLEEP_TASKS = 2000


def noop(x):
    """The empty task: all the time measured is the pool's own."""
    return x


def sleep_1ms(x):
    """A 1 ms task that leaves the CPU to the parent (as I/O-bound work would)."""
    time.sleep(0.001)
    return x


def run_map(pool, fn, n, chunksize):
    """Pool.map: ordered, blocking; the list of results is built in the parent."""
    out = pool.map(fn, range(n), chunksize=chunksize)
    assert len(out) == n


def run_imap_unordered(pool, fn, n, chunksize):
    """Pool.imap_unordered: results in completion order, consumed one by one."""
    count = 0
    for _ in pool.imap_unordered(fn, range(n), chunksize=chunksize):
        count += 1
    assert count == n


def run_apply_async(pool, fn, n, chunksize):
    """apply_async per task (one AsyncResult each), then get() them all in order."""
    del chunksize  # apply_async has none: one task per message
    futures = [pool.apply_async(fn, (i,)) for i in range(n)]
    for f in futures:
        f.get()


METHODS = {
    "map": run_map,
    "imap_unordered": run_imap_unordered,
    "apply_async": run_apply_async,
}


def measure(ctx, workers, kind, fn, method, chunksize, n):
    """Time one (kind, method, chunksize) on a fresh pool and print its line."""
    with ctx.Pool(workers) as pool:
        # Make sure the workers are up before the clock starts (Pool starts them
        # eagerly, but a first round trip also warms up the result handler).
        pool.map(noop, range(workers), chunksize=1)
        t0 = time.perf_counter()
        METHODS[method](pool, fn, n, chunksize)
        seconds = time.perf_counter() - t0
    rate = n / seconds if seconds > 0 else float("inf")
    print(f"python {kind} {method} {chunksize} {n} {seconds:.3f} {rate:.0f}", flush=True)


def main(argv):
    parser = argparse.ArgumentParser(
        description="Time multiprocessing.Pool dispatch (fork) for no-op and 1 ms tasks.")
    parser.add_argument("--quick", action="store_true",
                        help="10x fewer tasks (a smoke test, not a measurement)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="pool size (default 2, as the C benchmark)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    scale = 10 if args.quick else 1
    n_noop = NOOP_TASKS // scale
    n_batched = NOOP_BATCHED_TASKS // scale
    n_sleep = SLEEP_TASKS // scale
    ctx = multiprocessing.get_context("fork")

    plan = [
        ("noop", noop, "map", 1, n_noop),
        ("noop", noop, "imap_unordered", 1, n_noop),
        ("noop", noop, "apply_async", 1, n_noop),
        ("noop", noop, "map", 100, n_batched),
        ("1ms", sleep_1ms, "map", 1, n_sleep),
        ("1ms", sleep_1ms, "imap_unordered", 1, n_sleep),
        ("1ms", sleep_1ms, "apply_async", 1, n_sleep),
    ]
    for kind, fn, method, chunksize, n in plan:
        measure(ctx, args.workers, kind, fn, method, chunksize, n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
