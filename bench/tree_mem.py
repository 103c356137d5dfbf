#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tree_mem.py — the memory columns of bench/compare.sh: the peak memory of a
command's whole process tree, read from /proc while it runs.

    tree_mem.py [--period MS] [--descendants] -- COMMAND [ARG...]

Runs COMMAND and, every MS milliseconds (default 20) until it exits, finds the
processes under it (the parent links of /proc/PID/stat) and reads, for each:

  Pss   from /proc/PID/smaps_rollup: its resident pages, each shared page divided
        by the number of processes mapping it. Summed over the tree, the
        libraries and copy-on-write pages that forked workers share count once,
        where a sum of RSS would count them once per process. (Pages shared
        with processes outside the tree are split with them too.)
  VmHWM from /proc/PID/status: its peak RSS so far.

A process that is gone by the time its files are read (short-lived ones: GNU
parallel's and xargs' vipsthumbnails) is skipped, as is a zombie (no Pss).

Prints one line on stdout, COMMAND's own stdout going to our stderr:

  PSS_SUM_KB MAX_PROC_KB SAMPLES STATUS

  PSS_SUM_KB   the largest sum of the tree's Pss seen in one sample, in kB
  MAX_PROC_KB  the largest single-process peak RSS, in kB: the largest VmHWM
               seen, or COMMAND's wait4() ru_maxrss if larger (the largest peak
               of COMMAND and every descendant reaped in its tree, short-lived
               ones included: what /usr/bin/time %M prints). Linux counts in a
               process's ru_maxrss the memory it had before exec, so COMMAND's
               starts at our own peak RSS (about 12 MB): wait4's figure is used
               only when above that, where it is a real process's peak.
  SAMPLES      how many samples were taken
  STATUS       COMMAND's exit status (128 + N when killed by signal N)

--descendants leaves COMMAND's own process out of the sampled figures: for a
wrapper shell that only waits for the command it runs (compare.sh's runners).
wait4's ru_maxrss still includes it, but a shell's few MB are below the floor
above, so never used.

Both figures are sampled peaks: the sum is the largest seen at a sample, not
between samples, and a process living less than a period may be missed by it.

Exit status: 0 when COMMAND ran (whatever its status), 2 on a usage error or
when COMMAND cannot be started. Linux only; Python's standard library only.
"""
import argparse
import os
import subprocess
import sys
import time


def parent_links():
    """{pid: ppid} of every process now listed in /proc."""
    links = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone since the listing
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses,
        # so the fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) >= 2:
            links[int(name)] = int(fields[1])
    return links


def tree(root, links):
    """root and every descendant of it in links."""
    children = {}
    for pid, ppid in links.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def field_kb(path, key):
    """The kB figure of the line starting with key (b"Pss:") in a /proc file,
    or None when the process is gone or has no such line (a zombie)."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main():
    ap = argparse.ArgumentParser(
        description="Peak memory of a command's process tree (sum of PSS, "
        "largest single-process peak RSS), sampled from /proc.")
    ap.add_argument("--period", type=float, default=20.0, metavar="MS",
                    help="milliseconds between samples (default 20)")
    ap.add_argument("--descendants", action="store_true",
                    help="leave COMMAND's own process out of the sampled figures")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        ap.error("no COMMAND")
    if args.period <= 0:
        ap.error("--period must be > 0")
    period = args.period / 1000

    try:
        child = subprocess.Popen(args.command, stdout=sys.stderr.fileno())
    except OSError as e:
        print(f"tree_mem.py: cannot run {args.command[0]}: {e.strerror}", file=sys.stderr)
        return 2
    root = child.pid
    # the floor of COMMAND's ru_maxrss: our peak, now that it has been started
    floor = field_kb("/proc/self/status", b"VmHWM:") or 0

    pss_peak = hwm_peak = samples = 0
    while True:
        t0 = time.monotonic()
        pss_sum = 0
        for pid in tree(root, parent_links()):
            if args.descendants and pid == root:
                continue
            pss = field_kb(f"/proc/{pid}/smaps_rollup", b"Pss:")
            if pss is not None:
                pss_sum += pss
            hwm = field_kb(f"/proc/{pid}/status", b"VmHWM:")
            if hwm is not None:
                hwm_peak = max(hwm_peak, hwm)
        pss_peak = max(pss_peak, pss_sum)
        samples += 1
        # reaped here, not by Popen, for the rusage of the whole reaped tree
        pid, status, usage = os.wait4(root, os.WNOHANG)
        if pid == root:
            break
        time.sleep(max(0.0, period - (time.monotonic() - t0)))

    child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    code = child.returncode if child.returncode >= 0 else 128 - child.returncode
    # ru_maxrss is in kB on Linux
    if usage.ru_maxrss > floor:
        hwm_peak = max(hwm_peak, usage.ru_maxrss)
    print(pss_peak, hwm_peak, samples, code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
