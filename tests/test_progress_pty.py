#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The counting walk seen from outside: on a tree of 20 000 tiny JPEGs, the live
bar under a real pseudo-terminal shows the true total and an ETA long before the
run ends; a Ctrl-C typed on that terminal leaves an exact "not started" count
(the next run plans exactly those files); `--progress lines` on a pipe carry the
same total; with --exclude and --shard, the total is the files this run answers.

Without the counting walk the lazy walk's total is what it has seen so far
("412+"), the ETA stays "?" and the summary can only say "at least N not
started": each of those is an assertion below. Nothing here is timed: a run is
stopped by what its progress shows, not by the clock.

Run by CTest as: test_progress_pty.py IMGPOOL [unittest arguments]
Stdlib only (unittest, a pty from os.openpty); the one image is made with `vips`.
About 12 to 25 s on 2 busy cores (load average 4): the tree takes under a second, and
each of the three runs makes one to three thousand files before it is stopped.
"""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import unittest

IMGPOOL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "imgpool"

N_FILES = 20000
N_FOLDERS = 200           # 100 files a folder, in a few hundred folders
# The runs stop when the progress shows this many files finished with the total
# known (the bar: enough to fill 3 of its 20 cells), or twice as many without it.
STOP_BAR_AT = 3 * N_FILES // 20
STOP_LINES_AT = N_FILES // 20
RUN_TIMEOUT = 600         # a hung run, not a timing check

# monitor_format()'s two shapes (app/monitor.c). The bar:
#   [#####---------------] 5012/20000  1234.5 img/s  ETA 0:12  failed 0  busy 2/2  ...
BAR = re.compile(rb"\[([#-]{20})\] (\d+)/(\d+)(\+?)  (\d+\.\d) img/s  ETA (.+?)  "
                 rb"failed \d+  busy \d+/\d+  CPU ")
# The line: imgpool: 0:02  1927/20000 files (1927 done, 0 failed, 0 skipped)  961.8 img/s
#           ETA 0:19  busy 2/2 workers  ...
LINE = re.compile(r"imgpool: \S+  (\d+)/(\d+)(\+?) files \((\d+) done, (\d+) failed, "
                  r"(\d+) skipped\)  (\d+\.\d) img/s  ETA (.+?)  busy ")
ETA = re.compile(r"\d+:\d\d(:\d\d)?|> 1 year")
# report_summary_print() (app/report.c): the stop on standard error (on the
# terminal, after the bar's clearing escape), the counts on standard output.
INTERRUPTED = re.compile(r"imgpool: interrupted by SIGINT: running files finished, "
                         r"([^\r\n]*)")
NOT_STARTED = re.compile(r"(\d+) not started")
COUNTS = re.compile(r"^imgpool: (?:shard \S+: )?(\d+) done, (\d+) failed, (\d+) skipped in ",
                    re.M)


class Frame:
    """One progress frame: finished (done + failed + skipped), the total shown,
    whether it is known (no "+"), the rate and the ETA as printed."""

    def __init__(self, finished, total, known, rate, eta, fill=None):
        self.finished, self.total, self.known = finished, total, known
        self.rate, self.eta, self.fill = rate, eta, fill

    def __repr__(self):
        bar = f"[{'#' * self.fill}{'-' * (20 - self.fill)}] " if self.fill is not None else ""
        return (f"{bar}{self.finished}/{self.total}{'' if self.known else '+'} "
                f"{self.rate} img/s ETA {self.eta}")


def bar_frames(data):
    """The bar's frames in what the terminal got: each is redrawn after '\\r'."""
    frames = []
    for piece in data.split(b"\r"):
        m = BAR.search(piece)
        if m:
            frames.append(Frame(int(m[2]), int(m[3]), not m[4], float(m[5]),
                                m[6].decode(), fill=m[1].count(b"#")))
    return frames


def line_frames(text):
    frames = []
    for ln in text.splitlines():
        m = LINE.match(ln)
        if m:
            frames.append(Frame(int(m[1]), int(m[2]), not m[3], float(m[7]), m[8]))
            # The line spells the parts out: they must add up.
            if int(m[4]) + int(m[5]) + int(m[6]) != int(m[1]):
                raise AssertionError(f"parts do not add up in: {ln}")
    return frames


def time_to_stop(frames, at):
    """Stop once the total is known and `at` files are finished, or (the total
    never showing) once twice as many are."""
    return any((f.known and f.finished >= at) or f.finished >= 2 * at for f in frames)


def make_tree(src):
    """N_FILES tiny JPEGs in N_FOLDERS folders: one 16x16 JPEG made once, then hard
    links (a copy where the file system refuses a link)."""
    one = os.path.join(os.path.dirname(src), "tiny.jpg")
    v = one + ".v"
    subprocess.run(["vips", "gaussnoise", v, "16", "16"], check=True, capture_output=True)
    subprocess.run(["vips", "cast", v, one, "uchar"], check=True, capture_output=True)
    os.unlink(v)
    per = N_FILES // N_FOLDERS
    for d in range(N_FOLDERS):
        folder = os.path.join(src, f"d{d:03d}")
        os.makedirs(folder)
        for i in range(per):
            name = os.path.join(folder, f"f{i:03d}.jpg")
            try:
                os.link(one, name)
            except OSError:
                shutil.copyfile(one, name)


def read_report(path):
    """The report's file records and its summary record (docs/report-schema.md)."""
    files, summary = [], None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for ln in f:
            rec = json.loads(ln)
            if rec["type"] == "file":
                files.append(rec)
            elif rec["type"] == "summary":
                summary = rec
    return files, summary


class ProgressOnHugeTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="imgpool-pty-")
        cls.src = os.path.join(cls.tmp, "src")
        make_tree(cls.src)
        cls._pty = None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def args(cls, out, report, *more, shard="none"):
        # "--shard none": a scheduler's variables in the environment pick no share.
        return [IMGPOOL, "-r", "-s", "8", "--shard", shard, "--report", report, *more,
                "-o", out, cls.src]

    # ---- the run under a terminal, shared by the two tests that read it

    @classmethod
    def pty_run(cls):
        """imgpool with standard error (and input) on a pseudo-terminal that is its
        controlling terminal, as in a shell; Ctrl-C typed once the bar shows the
        total. Returns (exit code, terminal bytes, stdout text, out, report)."""
        if cls._pty:
            return cls._pty
        out, report = cls.path("out-pty"), cls.path("pty.jsonl")
        try:
            master, slave = os.openpty()
        except OSError as e:   # a container without /dev/ptmx
            raise unittest.SkipTest(f"no pseudo-terminal: {e}")
        with open(cls.path("pty.stdout"), "w+", encoding="utf-8",
                  errors="surrogateescape") as stdout:
            p = subprocess.Popen(
                cls.args(out, report), stdin=slave, stdout=stdout, stderr=slave,
                start_new_session=True,
                # The terminal becomes the session's: ^C then reaches the whole
                # foreground group (imgpool and its workers), as from a shell.
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            os.close(slave)
            data, typed = b"", False
            try:
                while True:
                    ready, _, _ = select.select([master], [], [], RUN_TIMEOUT)
                    if not ready:
                        raise AssertionError("no output from imgpool for "
                                             f"{RUN_TIMEOUT} s: hung")
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: every holder of the terminal has gone
                        break
                    if not chunk:
                        break
                    data += chunk
                    # Whole frames only: the last piece may still be arriving.
                    whole = data[:data.rfind(b"\r")]
                    if not typed and time_to_stop(bar_frames(whole), STOP_BAR_AT):
                        os.write(master, b"\x03")
                        typed = True
                rc = p.wait(timeout=RUN_TIMEOUT)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                os.close(master)
            stdout.seek(0)
            cls._pty = (rc, data, stdout.read(), out, report)
        return cls._pty

    def test_bar_shows_the_total_and_an_eta_before_the_end(self):
        data = self.pty_run()[1]
        frames = bar_frames(data)
        self.assertTrue(frames, f"no bar on the terminal: {data[-500:]!r}")
        early = [f for f in frames if f.known and f.total == N_FILES and f.finished < N_FILES]
        self.assertTrue(early, f"no frame shows the total {N_FILES} before the end; "
                               f"last frames: {frames[-3:]}")
        for f in frames:
            # The bar's 20 cells are finished / total, rounded down.
            self.assertEqual(f.fill, min(20, 20 * f.finished // f.total) if f.total else 0,
                             f"bar fill in {f}")
            self.assertLessEqual(f.finished, f.total, f"more finished than the total: {f}")
            if f.known:
                # Known is known: never another total, never the "+" again.
                self.assertEqual(f.total, N_FILES, f"a wrong total shown as known: {f}")
                if f.finished:   # a file answered in a fresh run: a rate, so an ETA
                    self.assertRegex(f.eta, ETA, f"no ETA with the total known: {f}")
            else:
                self.assertEqual(f.eta, "?", f"an ETA without a total: {f}")
        self.assertTrue(any(f.known and f.fill for f in frames),
                        f"no frame with the total known and the bar filling: {frames[-3:]}")

    def test_ctrl_c_leaves_an_exact_not_started_count(self):
        rc, data, stdout, out, report = self.pty_run()
        self.assertEqual(rc, 128 + signal.SIGINT, f"exit code; stdout tail: {stdout[-500:]}")
        m = INTERRUPTED.search(data.decode("utf-8", "replace"))
        self.assertIsNotNone(m, f"no interruption line: {data[-500:]}")
        ns = NOT_STARTED.fullmatch(m[1])
        self.assertIsNotNone(ns, f"the not-started count is not exact: {m[0]}")
        not_started = int(ns[1])
        c = COUNTS.search(stdout)
        self.assertIsNotNone(c, f"no counts line: {stdout[-500:]}")
        done, failed, skipped = int(c[1]), int(c[2]), int(c[3])
        self.assertEqual((failed, skipped), (0, 0), c[0])
        self.assertGreater(done, 0, "stopped before any file was done")
        self.assertGreater(not_started, 0, "stopped after every file")
        self.assertEqual(done + failed + skipped + not_started, N_FILES,
                         f"{c[0]} / {m[0]}")

        # The report says the same, file by file.
        files, summary = read_report(report)
        self.assertIsNotNone(summary, "no summary record")
        self.assertTrue(summary["interrupted"])
        self.assertEqual(summary["exit_code"], rc)
        self.assertEqual((summary["done"], summary["failed"], summary["skipped"]),
                         (done, failed, skipped), "report summary vs the summary line")
        by = {}
        for f in files:
            by[f["status"]] = by.get(f["status"], 0) + 1
        self.assertEqual(by.get("ok", 0), done, f"file records: {by}")
        self.assertEqual(by.get("cancelled", 0), summary["cancelled"], f"file records: {by}")
        # One Ctrl-C lets running files finish: a cancelled one was only queued,
        # and its line says so (it said "interrupted before it finished").
        for f in files:
            if f["status"] == "cancelled":
                self.assertEqual(f["error"], "stopped before it started; the next run does it", f)
        # Cancelled files were handed out, not finished: they are among the not started.
        self.assertLessEqual(summary["cancelled"], not_started)
        self.assertEqual(N_FILES - done - failed - skipped, not_started)
        self.assertEqual((summary["total"], summary["not_started"]), (N_FILES, not_started),
                         "the report's summary: the total and the files not started")

        # The next run would make exactly the files that were not started (-n:
        # planned from the journal, nothing made).
        planned = self.path("planned.jsonl")
        r = subprocess.run(self.args(out, planned, "-n", "--progress", "none"),
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout[-500:] + r.stderr[-500:])
        _, again = read_report(planned)
        self.assertEqual((again["planned"], again["failed"], again["skipped"]),
                         (not_started, 0, done), "the next run (-n)")

    def lines_run(self, name, *more, shard="none"):
        """imgpool --progress lines on pipes, SIGINT once a line shows the total;
        returns (exit code, standard error, standard output)."""
        out, report = self.path(f"out-{name}"), self.path(f"{name}.jsonl")
        err, outb, sent = b"", b"", False
        with subprocess.Popen(self.args(out, report, "--progress", "lines",
                                        "--progress-interval", "0.1", *more, shard=shard),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
            try:
                streams = [p.stdout, p.stderr]
                while streams:
                    ready, _, _ = select.select(streams, [], [], RUN_TIMEOUT)
                    if not ready:
                        raise AssertionError(f"no output from imgpool for {RUN_TIMEOUT} s")
                    for s in ready:
                        chunk = os.read(s.fileno(), 65536)
                        if not chunk:
                            streams.remove(s)
                        elif s is p.stderr:
                            err += chunk
                        else:
                            outb += chunk
                    whole = err[:err.rfind(b"\n") + 1].decode("utf-8", "replace")
                    if not sent and time_to_stop(line_frames(whole), STOP_LINES_AT):
                        p.send_signal(signal.SIGINT)
                        sent = True
            except BaseException:
                p.kill()
                raise
            rc = p.wait(timeout=RUN_TIMEOUT)
        return rc, err.decode("utf-8", "replace"), outb.decode("utf-8", "replace")

    def check_lines(self, rc, text, stdout, total):
        """The lines carry `total` before the end, with an ETA; the summary after
        SIGINT adds up to it."""
        self.assertNotIn("\r", text, "a live bar on a pipe")
        frames = line_frames(text)
        self.assertTrue(frames, f"no progress lines: {text[-500:]}")
        self.assertTrue([f for f in frames if f.known and f.total == total
                         and 0 < f.finished < total],
                        f"no line shows the total {total} before the end: {frames[-3:]}")
        for f in frames:
            if f.known:
                self.assertEqual(f.total, total, f"a wrong total shown as known: {f}")
                if f.finished:
                    self.assertRegex(f.eta, ETA, f"no ETA with the total known: {f}")
        self.assertEqual(rc, 128 + signal.SIGINT, text[-500:])
        m, c = INTERRUPTED.search(text), COUNTS.search(stdout)
        self.assertTrue(m and c, text[-500:] + stdout[-500:])
        ns = NOT_STARTED.fullmatch(m[1])
        self.assertIsNotNone(ns, f"the not-started count is not exact: {m[0]}")
        self.assertEqual(int(c[1]) + int(c[2]) + int(c[3]) + int(ns[1]), total,
                         f"{c[0]} / {m[0]}")

    def test_lines_on_a_pipe_carry_the_total(self):
        self.check_lines(*self.lines_run("lines"), N_FILES)

    def test_the_total_follows_the_filters_and_the_shard(self):
        """The counting walk drops what discovery drops and keeps this shard's
        share: its total is what a dry run (which does not count) plans."""
        picks = ("--exclude", "f04*")    # 10 of each folder's 100
        report = self.path("share.jsonl")
        r = subprocess.run(self.args(self.path("out-share-n"), report, "-n", "--progress",
                                     "none", *picks, shard="1/2"),
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout[-500:] + r.stderr[-500:])
        share = read_report(report)[1]["planned"]
        # A hash share of 18 000 files: about half, never all or none.
        self.assertTrue(0 < share < N_FILES * 9 // 10, share)
        self.check_lines(*self.lines_run("share", *picks, shard="1/2"), share)


if __name__ == "__main__":
    unittest.main(verbosity=2)
