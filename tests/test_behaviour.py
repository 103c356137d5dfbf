#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of behaviour once wrong or unclear (the command's conventions
issue): a --name without an extension refused at once, --include/--exclude
ignoring case and matching folders, the summary of a run with nothing to make,
the codec's own reason in a damaged file's error line, and --help saying what
{w} and {h} mean.

Run by CTest as: test_behaviour.py IMGPOOL. Images are made with the `vips`
command-line tool, as the other end-to-end tests make theirs. Stdlib only.
"""
import fcntl
import json
import os
import random
import pty
import select
import shutil
import signal
import struct
import subprocess
import zlib
import sys
import tempfile
import termios
import time
import unittest

IMGPOOL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "imgpool"



def run(args, cwd=None):
    return subprocess.run([IMGPOOL] + args, capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def photo(path, size=(120, 90)):
    """A noise image, its format from the name's extension."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    v = path + ".v"
    subprocess.run(["vips", "gaussnoise", v, str(size[0]), str(size[1]), "--mean", "128",
                    "--sigma", "40"], check=True)
    subprocess.run(["vips", "cast", v, path, "uchar"], check=True)
    os.unlink(v)
    return path


def loader(path):
    return subprocess.run(["vipsheader", "-f", "vips-loader", path], capture_output=True,
                          text=True, check=True).stdout.strip()


def error_lines(stderr):
    """{file name: cause} of the "error PATH: CAUSE" lines."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("error "):
            path, cause = line[len("error "):].split(": ", 1)
            found[os.path.basename(path)] = cause
    return found


def wait_in(pid, where, seconds=60):
    """Until process pid sleeps in the kernel where it says (its wchan: pipe_write,
    wait_for_partner); False when it has not after seconds."""
    for _ in range(int(seconds / 0.05)):
        with open("/proc/%d/wchan" % pid) as f:
            if where in f.read():
                return True
        time.sleep(0.05)
    return False


def linked_photos(folder, one, n, name="photo-with-a-long-name-%04d.jpg"):
    """n names in folder for the one photo (hard links: cheap, and every one a file)."""
    os.makedirs(folder)
    for i in range(n):
        os.link(one, os.path.join(folder, name % i))


def children_of(pid):
    """The pids of pid's children (every thread's)."""
    kids = set()
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids.update(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


class Behaviour(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgpool-behaviour-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.tmp, *parts)

    def preload(self, name, source, *libs):
        """A library to LD_PRELOAD, built from C source as NAME.so in the test's
        folder; skips the test without a C compiler."""
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler for the preloaded " + name)
        src, lib = self.p(name + ".c"), self.p(name + ".so")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([cc, "-shared", "-fPIC", "-o", lib, src] + list(libs), check=True)
        return lib

    def test_an_output_folder_moved_away_mid_run_is_left_alone(self):
        """An output subfolder moved out of OUT while imgpool had it open: a
        thumbnail was put in it (outside OUT now), and --prune took a file from
        it and deleted it. The folder's place is looked at again after each move:
        the file goes back. A preloaded renameat2 moves OUT/a away just before
        the move into it (publish) or out of it (prune), so the moment is sure."""
        photo(self.p("src", "a", "x.jpg"))
        photo(self.p("src", "a", "y.jpg"))
        out, stash = self.p("out"), self.p("stash")
        os.makedirs(stash)
        shim = self.preload("moveaway", r"""#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int renameat2(int a, const char *from, int b, const char *to, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	if (!real)
		real = dlsym(RTLD_NEXT, "renameat2");
	const char *folder = getenv("MOVEAWAY_FOLDER"), *when = getenv("MOVEAWAY_WHEN");
	if (folder && when && strstr(to, when[0] == 'q' ? "q-" : "x.jpg")) {
		rename(folder, getenv("MOVEAWAY_TO"));
		unsetenv("MOVEAWAY_FOLDER");
	}
	return real(a, from, b, to, flags);
}
""", "-ldl")
        env = dict(os.environ, LD_PRELOAD=shim, MOVEAWAY_FOLDER=os.path.join(out, "a"),
                   MOVEAWAY_TO=os.path.join(stash, "a"), MOVEAWAY_WHEN="x",
                   ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
        os.makedirs(os.path.join(out, "a"))
        r = subprocess.run([IMGPOOL, "-r", "-j1", "-o", out, self.p("src")],
                           capture_output=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"its folder was moved out of the output folder meanwhile", r.stderr)
        # (y.jpg may have gone with the folder, made before it moved; x.jpg was
        # put in it after.)
        self.assertNotIn("x.jpg", os.listdir(os.path.join(stash, "a")))
        # --prune: the thumbnails made, the inputs gone, OUT/a moved away just
        # before the first is taken to the quarantine.
        shutil.rmtree(stash)
        os.makedirs(stash)
        subprocess.run([IMGPOOL, "-q", "-r", "-o", out, self.p("src")], check=True)
        shutil.rmtree(self.p("src", "a"))
        env.update(MOVEAWAY_FOLDER=os.path.join(out, "a"), MOVEAWAY_WHEN="q")
        r = subprocess.run([IMGPOOL, "-r", "--prune", "-o", out, self.p("src")],
                           capture_output=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(stash, "a"))), ["x.jpg", "y.jpg"])

    def test_trace_never_replaces_a_file_put_there_during_the_run(self):
        """--trace replaced the old trace (imgpool's) by a rename after looking at
        it: a user's file moved to that name in between was overwritten. Now the
        two are swapped and the one swapped out checked: a user's file goes back.
        The moment is made certain by a preloaded renameat2 that puts the user's
        file there just before the exchange."""
        photo(self.p("src", "a.jpg"))
        trace, mine = self.p("t.json"), self.p("mine")
        r = subprocess.run([IMGPOOL, "-q", "-o", self.p("out"), "--trace", trace,
                            self.p("src")], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(mine, "w") as f:
            f.write("my notes, not a trace\n")
        shim = self.preload("swapin", r"""#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int renameat2(int a, const char *from, int b, const char *to, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	if (!real)
		real = dlsym(RTLD_NEXT, "renameat2");
	const char *mine = getenv("SWAPIN_FILE");
	if (mine && (flags & RENAME_EXCHANGE) && strstr(to, "t.json")) {
		rename(mine, to); /* the user, just before */
		unsetenv("SWAPIN_FILE");
	}
	return real(a, from, b, to, flags);
}
""", "-ldl")
        env = dict(os.environ, LD_PRELOAD=shim, SWAPIN_FILE=mine,
                   ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
        r = subprocess.run([IMGPOOL, "-q", "--force", "-o", self.p("out"), "--trace", trace,
                            self.p("src")], capture_output=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"a file was put at", r.stderr)
        with open(trace) as f:
            self.assertEqual(f.read(), "my notes, not a trace\n")
        self.assertFalse([n for n in os.listdir(self.tmp) if "imgpool.tmp" in n])

    def test_a_trace_and_a_timeline_not_written_are_both_said(self):
        """Files put at both names during the run keep both from being written:
        only the trace's cause was said, the timeline's lost without a word. The
        run waits on its --files-from list while the user's files come."""
        photo(self.p("src", "a.jpg"))
        trace, svg = self.p("t.json"), self.p("tl.svg")
        p = subprocess.Popen([IMGPOOL, "-q", "-o", self.p("out"), "--trace", trace,
                              "--timeline", svg, "--files-from", "-", "--base", self.p("src")],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(600):  # its trace's temp file: the run has started
            if os.path.exists(trace + ".imgpool.tmp"):
                break
            time.sleep(0.05)
        for path in (trace, svg):
            with open(path, "w") as f:
                f.write("mine\n")
        _, err = p.communicate(self.p("src", "a.jpg") + "\n", timeout=300)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("--trace", err)
        self.assertIn("--timeline", err)
        for path in (trace, svg):
            with open(path) as f:
                self.assertEqual(f.read(), "mine\n")

    def test_lost_stdout_lines_fail_the_run(self):
        """The per-file lines are the answers: written to a full disk (or a pipe its
        reader closed) they were lost silently and the run exited 0."""
        photo(self.p("src", "a.jpg"))
        photo(self.p("src", "b.jpg"))
        with open("/dev/full", "w") as full:
            r = subprocess.run([IMGPOOL, "-o", self.p("out"), self.p("src")], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("writing to standard output failed", r.stderr)
        self.assertEqual(sorted(os.listdir(self.p("out"))), [".imgpool", "a.jpg", "b.jpg"])
        # Quiet, nothing to say on stdout: nothing lost.
        with open("/dev/full", "w") as full:
            r = subprocess.run([IMGPOOL, "-q", "--force", "-o", self.p("out"), self.p("src")],
                               stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        # A reader that leaves early: the files are still made, the run says so.
        p = subprocess.Popen([IMGPOOL, "--force", "-j1", "-o", self.p("out"), self.p("src")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()
        _, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"writing to standard output failed", err)


    def test_stalled_reader_cannot_hold_a_stop(self):
        """`imgpool ... | sleep 600`: the run blocked in a write to the full pipe, and
        TERM (twice, then INT) did not stop it until the reader went away."""
        src = self.p("src")  # ~150 bytes a line: more than a pipe holds
        linked_photos(src, photo(self.p("one.jpg"), size=(16, 12)), 900)
        err = open(self.p("err"), "w")
        p = subprocess.Popen([IMGPOOL, "-j1", "-o", self.p("out"), src], stdout=subprocess.PIPE,
                             stderr=err)
        try:
            self.assertTrue(wait_in(p.pid, "pipe_write"), "never blocked on the pipe")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 128 + signal.SIGTERM)
        finally:
            if p.poll() is None:
                p.kill()
            p.stdout.close()
            err.close()
        with open(self.p("err")) as f:
            self.assertIn("writing to standard output failed", f.read())
        self.assertFalse([n for n in os.listdir(self.p("out")) if n.endswith(".tmp")])
        r = run(["-q", "-o", self.p("out"), src])  # the next run finishes the job
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(os.listdir(self.p("out"))), 901)

    def test_stalled_fifos_and_a_stray_alarm(self):
        """A --report and a --trace FIFO opened by a reader that never reads held
        the stop like a stalled stdout; a SIGALRM from outside, which once ended
        imgpool, was swallowed by the setup's own alarm handler."""
        src = self.p("src")
        linked_photos(src, photo(self.p("one.jpg"), size=(16, 12)), 900)
        for opt in ("--report", "--trace"):
            fifo = self.p("fifo" + opt)
            os.mkfifo(fifo)
            p = subprocess.Popen([IMGPOOL, "-q", "-j1", "--force", opt, fifo, "-o",
                                  self.p("out"), src], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            reader = os.open(fifo, os.O_RDONLY)  # opened, never read
            try:
                self.assertTrue(wait_in(p.pid, "pipe_write"), opt + ": never blocked")
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=60), 128 + signal.SIGTERM, opt)
            finally:
                if p.poll() is None:
                    p.kill()
                os.close(reader)
                p.stderr.close()
        # Waiting for a --files-from FIFO's writer, the run has its handlers.
        os.mkfifo(self.p("list"))
        p = subprocess.Popen([IMGPOOL, "-q", "--files-from", self.p("list"), "-o",
                              self.p("out")], cwd=src, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            wait_in(p.pid, "wait_for_partner")
            p.send_signal(signal.SIGALRM)
            self.assertEqual(p.wait(timeout=60), -signal.SIGALRM)
        finally:
            if p.poll() is None:
                p.kill()

    def test_prune_follows_a_file_turned_folder_and_back(self):
        """An input path that is a folder now, or lies beneath a file now, proved
        nothing to --prune: a folder replaced by a note kept its thumbnails (exit
        0), and a photo replaced by a folder of photos (or the reverse) left an
        old output in the new one's way on every run."""
        src, out = self.p("src"), self.p("out")
        photo(self.p("src", "c", "r.jpg"))
        photo(self.p("src", "x.jpg"))
        photo(self.p("src", "album.jpg", "p.jpg"))

        def sync():
            return run(["-r", "-q", "--prune", "-s", "64", "-o", out, src])

        self.assertEqual(sync().returncode, 0)
        shutil.rmtree(self.p("src", "c"))
        with open(self.p("src", "c"), "w") as f:
            f.write("notes")
        os.unlink(self.p("src", "x.jpg"))
        photo(self.p("src", "x.jpg", "in.jpg"))
        shutil.rmtree(self.p("src", "album.jpg"))
        photo(self.p("src", "album.jpg"))
        sync()  # the old outputs are in the way this time, and pruned
        r = sync()
        self.assertEqual(r.returncode, 0, r.stderr)
        found = sorted(os.path.relpath(os.path.join(d, f), out)
                       for d, _, fs in os.walk(out) if ".imgpool" not in d for f in fs)
        self.assertEqual(found, ["album.jpg", "x.jpg/in.jpg"])

    def test_progress_never_waits_and_pipes_are_put_back(self):
        """The monitor's progress line, written by a thread no signal reaches, held
        the report's lock in a write to a full stderr pipe: the run hung, and TERM
        could not end it. And a stop left `--report -`'s stdout pipe non-blocking
        for the shell's next command."""
        import fcntl
        src = self.p("src")
        linked_photos(src, photo(self.p("one.jpg"), size=(16, 12)), 1500, "p%04d.jpg")
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)
        try:
            while True:
                os.write(w, b"x" * 4096)  # full before imgpool writes a line
        except BlockingIOError:
            pass
        fcntl.fcntl(w, fcntl.F_SETFL, 0)
        try:
            p = subprocess.run([IMGPOOL, "-q", "-j1", "--progress", "lines",
                                "--progress-interval", "0.1", "-o", self.p("out"), src],
                               stdout=subprocess.DEVNULL, stderr=w, timeout=120)
            self.assertEqual(p.returncode, 0)
        finally:
            os.close(r)
            os.close(w)
        r, w = os.pipe()
        try:
            p = subprocess.Popen([IMGPOOL, "-j1", "--force", "--report", "-", "-o",
                                  self.p("out"), src], stdout=w, stderr=subprocess.DEVNULL)
            wait_in(p.pid, "pipe_write")  # the pipe fills: nobody reads it yet
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 128 + signal.SIGTERM)
            self.assertFalse(fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK)
        finally:
            if p.poll() is None:
                p.kill()
            os.close(r)
            os.close(w)

    def test_peak_worker_memory_is_the_true_peak(self):
        """The summary's peak worker RSS was sampled by the monitor, which misses a
        file's spike between two samples: 16 MB for a 6000x6000 PNG that took a
        worker to 113 MB. The process tree's own peak (the kernel's, read by a
        parent whose only child is imgpool) is a worker's here."""
        src = self.p("src")
        os.makedirs(src)
        v = self.p("n.v")
        subprocess.run(["vips", "gaussnoise", v, "5000", "5000", "--mean", "128", "--sigma",
                        "30"], check=True)
        subprocess.run(["vips", "cast", v, os.path.join(src, "big.png"), "uchar"], check=True)
        os.unlink(v)
        rep = self.p("r.jsonl")
        tree = [sys.executable, "-c", "import resource, subprocess, sys; "
                "subprocess.run(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"]
        r = subprocess.run(tree + [IMGPOOL, "-q", "-j1", "--report", rep, "-o", self.p("out"),
                                   src], capture_output=True, text=True, timeout=300)
        tree_peak = int(r.stdout.split()[-1]) * 1024
        with open(rep) as f:
            summary = [json.loads(x) for x in f][-1]
        self.assertEqual(summary["done"], 1, r.stderr)
        self.assertGreater(tree_peak, 60 << 20)  # the decode's, not the parent's
        self.assertGreaterEqual(summary["peak_worker_rss"], tree_peak * 0.9)

    def test_name_without_extension_refused_before_any_file(self):
        """--name '{stem}' gave an error per file ("cannot write "" files"); now one
        usage error (exit 2) naming the option, and nothing made. With -f the format
        is chosen, so a name without an extension is fine."""
        photo(self.p("src", "a.jpg"))
        r = run(["--no-journal", "--name", "{stem}", "-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--name", r.stderr)
        self.assertIn("extension", r.stderr)
        self.assertFalse(os.path.exists(self.p("out", "a")))
        r = run(["--no-journal", "-f", "webp", "--name", "{stem}", "-o", self.p("out2"),
                 self.p("src")])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(loader(self.p("out2", "a")), "webpload")

    def test_globs_ignore_case_and_match_folders(self):
        """--include '*.jpg' takes IMG_1.JPG; --exclude 2024 leaves out the folder
        2024 wherever it lies, and nothing below it."""
        photo(self.p("src", "2024", "a.jpg"))
        photo(self.p("src", "2024", "deep", "b.jpg"))
        photo(self.p("src", "2025", "IMG_1.JPG"))
        photo(self.p("src", "2025", "c.png"))
        photo(self.p("src", "x", "2024", "d.jpg"))
        r = run(["-n", "-r", "--exclude", "2024", "-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 0, r.stderr)
        made = sorted(l.split()[1].split("/src/")[1] for l in r.stdout.splitlines()
                      if l.startswith("would "))
        self.assertEqual(made, ["2025/IMG_1.JPG", "2025/c.png"])
        r = run(["-n", "-r", "--include", "*.jpg", "-o", self.p("out"), self.p("src")])
        made = sorted(l.split()[1].split("/src/")[1] for l in r.stdout.splitlines()
                      if l.startswith("would "))
        self.assertEqual(made, ["2024/a.jpg", "2024/deep/b.jpg", "2025/IMG_1.JPG",
                                "x/2024/d.jpg"])

    def test_nothing_to_make_has_no_rates(self):
        """A run that finds everything up to date says so, not "0.0 images/s ...
        parallel efficiency 0%"."""
        photo(self.p("src", "a.jpg"))
        self.assertEqual(run(["-o", self.p("out"), self.p("src")]).returncode, 0)
        r = run(["-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 done, 0 failed, 1 skipped", r.stdout)
        self.assertIn("nothing to make", r.stdout)
        self.assertNotIn("images/s", r.stdout)
        self.assertNotIn("efficiency", r.stdout)

    def test_prune_runs_after_a_min_free_stop(self):
        """A disk below --min-free stopped the run and skipped --prune without a
        word: the thumbnails of deleted photos, whose removal is what would give
        the disk room back, stayed night after night. The walk goes on to the end
        to answer every file, so the prune is as sound as in a finished run."""
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            photo(self.p("src", name))
        out = self.p("out")
        self.assertEqual(run(["-q", "-o", out, self.p("src")]).returncode, 0)
        os.unlink(self.p("src", "a.jpg"))
        photo(self.p("src", "d.jpg"))  # new: not started, an error
        rep = self.p("r.jsonl")
        r = run(["--prune", "--min-free", "99%", "--report", rep, "-o", out, self.p("src")])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("below --min-free", r.stderr)
        self.assertEqual(sorted(os.listdir(out)), [".imgpool", "b.jpg", "c.jpg"])
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual([x["output"] for x in recs if x["type"] == "prune"],
                         [os.path.join(out, "a.jpg")])
        errors = [x for x in recs if x["type"] == "file" and x["status"] == "error"]
        self.assertEqual([os.path.basename(x["input"]) for x in errors], ["d.jpg"])

    def test_a_setting_the_format_ignores_remakes_nothing(self):
        """-Q 80 with JPEG (its default), --effort with JPEG or PNG, -Q,
        --progressive, --subsample or --background with PNG: the same bytes, and
        every thumbnail was made again, then again without them. A setting that
        does change them still remakes them."""
        photo(self.p("src", "a.jpg"))
        photo(self.p("src", "b.jpg"))
        same = {"jpeg": [["-Q", "80"], ["--effort", "6"]],
                "png": [["-Q", "50", "--progressive", "--subsample", "off", "--effort", "6",
                         "--background", "black"]],
                "webp": [["-Q", "80", "--effort", "4", "--progressive"]]}
        for fmt, variants in same.items():
            out = self.p("out-" + fmt)
            r = run(["-q", "-f", fmt, "-o", out, self.p("src")])
            self.assertEqual(r.returncode, 0, r.stderr)
            for extra in variants + [[]]:
                r = run(["-f", fmt] + extra + ["-o", out, self.p("src")])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("0 done, 0 failed, 2 skipped", r.stdout, (fmt, extra))
        r = run(["-f", "jpeg", "-Q", "81", "-o", self.p("out-jpeg"), self.p("src")])
        self.assertIn("2 done", r.stdout)

    def test_a_dry_run_says_a_shard_at_work(self):
        """-n took only its own shard's lock file for a look: beside a run of
        another sharding (a shard while -n is unsharded, or the other shard) it
        said nothing, and listed that run's half-made thumbnails as ones to
        adopt. Any run at work in OUT is said now."""
        photo(self.p("src", "a.jpg"))
        out, fifo = self.p("out"), self.p("list")
        os.mkfifo(fifo)
        p = subprocess.Popen([IMGPOOL, "-q", "--shard", "1/2", "--files-from", fifo,
                              "--base", self.tmp, "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with open(fifo, "w") as w:  # the run waits for the list's end
                deadline = time.time() + 30
                while time.time() < deadline and not os.path.exists(
                        os.path.join(out, ".imgpool", "lock-1-of-2")):
                    time.sleep(0.05)
                time.sleep(0.2)
                for extra in ([], ["--shard", "2/2"], ["--shard", "1/3"]):
                    r = run(["-n"] + extra + ["-o", out, self.p("src")])
                    self.assertIn("imgpool: -n: another run is at work in '%s' now (pid %d)"
                                  % (out, p.pid), r.stderr, extra)
                w.write(self.p("src", "a.jpg") + "\n")
        finally:
            p.communicate(timeout=60)
        self.assertNotIn("another run", run(["-n", "-o", out, self.p("src")]).stderr)

    def test_status_during_a_run_says_it_is_running(self):
        """imgpool status while a run goes on showed that run's row as a finished
        one: "0.00 s, 0 done, 0 failed, 0 skipped"."""
        photo(self.p("src", "a.jpg"))
        out, fifo = self.p("out"), self.p("list")
        self.assertEqual(run(["-q", "-o", out, self.p("src")]).returncode, 0)
        os.mkfifo(fifo)
        p = subprocess.Popen([IMGPOOL, "-q", "--force", "--files-from", fifo, "--base",
                              self.tmp, "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with open(fifo, "w") as w:  # the run waits for the list's end
                deadline = time.time() + 30
                while time.time() < deadline:
                    r = run(["status", out])
                    if "still running" in r.stdout:
                        break
                    time.sleep(0.05)
                self.assertIn("still running (pid %d)" % p.pid, r.stdout)
                self.assertNotIn("0 done", r.stdout)
                r = run(["status", out, "--json"])
                last = json.loads(r.stdout)["journals"][0]["last_run"]
                self.assertEqual((last["running"], last["pid"]), (True, p.pid))
                # -n takes no lock: what it lists is a moment's, and it says so
                # (a thumbnail being written was "an existing thumbnail to adopt")
                r = run(["-n", "-o", out, self.p("src")])
                self.assertIn("imgpool: -n: another run is at work in '%s' now (pid %d)"
                              % (out, p.pid), r.stderr)
                w.write(self.p("src", "a.jpg") + "\n")
        finally:
            p.communicate(timeout=60)
        r = run(["status", out])
        self.assertNotIn("still running", r.stdout)
        self.assertIn("1 done", r.stdout)
        self.assertNotIn("another run", run(["-n", "-o", out, self.p("src")]).stderr)

    def test_min_free_stop_before_the_first_file(self):
        """--min-free stopping before the first file said "the worker pool stopped:
        out of memory" (later "interrupted"); then only the stop's own line, the
        files counted as not started and given no answer; now each file's answer is
        an error naming the stop, and no "nothing to make"."""
        photo(self.p("src", "a.jpg"))
        photo(self.p("src", "b.jpg"))
        rep = self.p("r.jsonl")
        r = run(["--no-journal", "--min-free", "99%", "--report", rep, "-o", self.p("out"),
                 self.p("src")])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        both = r.stdout + r.stderr
        self.assertNotIn("worker pool stopped", both)
        self.assertNotIn("out of memory", both)
        self.assertIn("below --min-free", both)
        # in the binary units --min-free is written in (46G is 46 GiB, as df -h
        # says): decimal GB beside it read as another number
        self.assertRegex(both, r"only [0-9.]+ [KMGTP]iB free .* below --min-free 99% "
                               r"\([0-9.]+ [KMGTP]iB\)")
        self.assertIn("0 done, 2 failed", both)
        self.assertNotIn("nothing to make", both)
        # The stop's own line is an error, on stderr (a crontab's >/dev/null kept
        # only the per-file lines), without "(0 not started)" after two of them.
        self.assertNotIn("below --min-free", r.stdout)
        stop = [l for l in r.stderr.splitlines() if l.startswith("imgpool: stopped: ")]
        self.assertEqual(len(stop), 1, r.stderr)
        self.assertNotIn("not started)", stop[0])
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        files = [x for x in recs if x["type"] == "file"]
        self.assertEqual(len(files), 2, recs)
        for x in files:
            self.assertEqual((x["status"], x["kind"]), ("error", "environment"))
            self.assertIn("not started: only", x["error"])
        self.assertEqual(recs[-1]["not_started"], 0)
        # -q: errors only, the stop among them; no summary (it printed one)
        r = run(["-q", "--no-journal", "--min-free", "99%", "-o", self.p("out"),
                 self.p("src")])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(len([l for l in r.stderr.splitlines()
                              if l.startswith("imgpool: stopped: ")]), 1, r.stderr)

    def test_files_planned_when_a_signal_stops_the_run_are_answered(self):
        """TERM while files wait in the window (planned, not yet handed to the
        pool): they got no line and no record, only the summary's count. Now each
        is 'cancelled', so with the ones the pool held and the finished ones every
        file has one record."""
        for i in range(12):
            photo(self.p("src", "p%02d.jpg" % i), (2400, 1800))
        rep = self.p("r.jsonl")
        p = subprocess.Popen([IMGPOOL, "-j1", "-s", "1600", "--report", rep, "-o",
                              self.p("out"), self.p("src")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = p.stdout.readline()
        self.assertTrue(first.startswith("ok "), first)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        files = [x for x in recs if x["type"] == "file"]
        self.assertEqual(sorted(os.path.basename(x["input"]) for x in files),
                         ["p%02d.jpg" % i for i in range(12)], err)
        self.assertGreater(sum(x["status"] == "cancelled" for x in files), 0)
        s = recs[-1]  # the cancelled ones are the files not started
        self.assertEqual((s["not_started"], s["done"] + s["cancelled"]), (s["cancelled"], 12), s)

    def test_workers_that_cannot_start_still_leave_a_summary(self):
        """Every worker dying as it starts (here: a preloaded library whose
        fork handler ends each child at once): the pool gives up, and the report
        ended empty (no file answered, no summary). Now every file is an error
        naming the cause, and a summary with exit 1 ends it; for a --files-from
        list (the counting walk does not read it) too, each entry answered."""
        shim = self.preload("diefork", "#include <pthread.h>\n#include <unistd.h>\n"
                            "static void die(void) { _exit(9); }\n"
                            "__attribute__((constructor)) static void init(void)\n"
                            "{ pthread_atfork(NULL, NULL, die); }\n", "-lpthread")
        for i in range(4):
            photo(self.p("src", f"{i}.jpg"))
        rep = self.p("r.jsonl")
        env = dict(os.environ, LD_PRELOAD=shim,
                   ASAN_OPTIONS="verify_asan_link_order=0:" +
                   os.environ.get("ASAN_OPTIONS", ""))
        names = ["%d.jpg" % i for i in range(4)]
        for how in ("walk", "list"):
            args = [self.p("src")] if how == "walk" else [
                "--files-from", "-", "--base", self.p("src")]
            r = subprocess.run([IMGPOOL, "-j", "2", "-q", "--report", rep, "-o",
                                self.p("out")] + args, input="\n".join(names) + "\n",
                               capture_output=True, text=True, env=env, timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("cannot start the workers", r.stderr)
            with open(rep) as f:
                recs = [json.loads(line) for line in f]
            self.assertTrue(recs, "empty report")
            files = [x for x in recs if x["type"] == "file"]
            self.assertEqual(sorted(os.path.basename(x["input"]) for x in files), names, how)
            for x in files:
                self.assertEqual(x["status"], "error", x)
                self.assertIn("not started: the workers could not be started", x["error"])
            summary = recs[-1]
            self.assertEqual(summary["type"], "summary")
            self.assertEqual(summary["exit_code"], 1)
            self.assertEqual((summary["total"], summary["not_started"], summary["failed"],
                              summary["done"]), (4, 0, 4, 0), how)

    def stopfork_shim(self):
        """A preloaded library whose fork handler stops each child at once
        (SIGSTOP, which no mask holds): a worker stopped from outside in the
        moment after fork(), before any code of its own ran."""
        return self.preload("stopfork", "#include <pthread.h>\n#include <signal.h>\n"
                            "static void stop(void) { raise(SIGSTOP); }\n"
                            "__attribute__((constructor)) static void init(void)\n"
                            "{ pthread_atfork(NULL, NULL, stop); }\n", "-lpthread")

    def children_of(self, pid):
        return children_of(pid)

    def wait_stopped(self, pids, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            states = []
            for k in pids:
                try:
                    with open("/proc/%d/stat" % k) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except OSError:
                    states.append("gone")
            if all(x == "T" for x in states):
                return
            time.sleep(0.01)
        self.fail("workers not stopped: %r" % states)

    def start_with_stopped_workers(self, out, extra=(), output=subprocess.PIPE):
        for i in range(3):
            photo(self.p("src", f"{i}.jpg"))
        env = dict(os.environ, LD_PRELOAD=self.stopfork_shim(),
                   ASAN_OPTIONS="verify_asan_link_order=0:" +
                   os.environ.get("ASAN_OPTIONS", ""))
        proc = subprocess.Popen([IMGPOOL, "-j", "2", "-q", "--report", self.p("r.jsonl"),
                                 "-o", out] + list(extra) + [self.p("src")], env=env,
                                stdout=output, stderr=output)
        end = time.monotonic() + 20
        kids = set()
        while len(kids) < 2 and time.monotonic() < end and proc.poll() is None:
            kids = self.children_of(proc.pid)
            time.sleep(0.01)
        self.assertEqual(len(kids), 2, "two workers forked")
        for k in kids:  # whatever the test finds, none is left stopped after it
            self.addCleanup(lambda k=k: os.path.exists("/proc/%d" % k) and os.kill(k, 9))
        self.wait_stopped(kids)
        return proc, kids

    def test_a_stop_while_the_workers_start_ends_the_run(self):
        """Workers stopped as they started kept a TERM (or Ctrl-C) waiting: the
        wait for the first ready worker could not be ended, so imgpool went on
        until the start timed out (60 s), or for ever with --timeout 0."""
        for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
            out = self.p("out-%d" % sig)
            # a file, not a pipe: workers left stopped would hold a pipe open
            with open(self.p("stderr"), "w+") as log:
                proc, kids = self.start_with_stopped_workers(out, ["--timeout", "0"], log)
                t0 = time.monotonic()
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    for k in kids:
                        os.kill(k, signal.SIGKILL)
                    self.fail("a stop while the workers start did not end the run")
                log.seek(0)
                err = log.read()
            self.assertEqual(proc.returncode, code, err)
            self.assertLess(time.monotonic() - t0, 10)
            with open(self.p("r.jsonl")) as f:
                recs = [json.loads(line) for line in f]
            self.assertEqual(recs[-1]["type"], "summary")
            self.assertTrue(recs[-1]["interrupted"])
            for k in kids:  # none left behind, stopped
                self.assertFalse(os.path.exists("/proc/%d" % k) and
                                 self.children_of(1) and k in self.children_of(1)
                                 and open("/proc/%d/stat" % k).read().rsplit(")", 1)[1]
                                 .split()[0] == "T", "worker %d left stopped" % k)

    def test_workers_a_killed_run_left_stopped_do_not_hold_its_lock(self):
        """A worker stopped in the moment after fork(), before it asked to die
        with its parent, outlived a run killed meanwhile: stopped for good,
        holding the output folder's lock, so every later run was refused
        ("another imgpool run is writing", naming the dead run)."""
        out = self.p("out")
        # (the workers left hold standard output and error: no pipes to wait on)
        proc, kids = self.start_with_stopped_workers(out, output=subprocess.DEVNULL)
        proc.kill()
        proc.wait()
        for k in kids:
            self.assertTrue(os.path.exists("/proc/%d" % k), "the case: left stopped")
        r = subprocess.run([IMGPOOL, "-q", "-o", out, self.p("src")], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("were continued and have ended", r.stderr)
        self.assertEqual(sorted(os.listdir(out)), [".imgpool", "0.jpg", "1.jpg", "2.jpg"])
        end = time.monotonic() + 10
        while any(os.path.exists("/proc/%d" % k) for k in kids) and time.monotonic() < end:
            time.sleep(0.05)
        self.assertFalse([k for k in kids if os.path.exists("/proc/%d" % k)])
        # A run stopped by the user (its workers too) is not continued by another,
        # though the run the lock file names last has ended. It waits on a list
        # no line has come to yet: its workers are there, and it cannot end.
        fifo = self.p("list")
        os.mkfifo(fifo)
        stopped = subprocess.Popen([IMGPOOL, "-q", "-j", "2", "--force", "-o", out,
                                    "--files-from", fifo], start_new_session=True)
        with open(fifo, "w") as lines:
            try:
                kids2 = set()
                end = time.monotonic() + 20
                while len(kids2) < 2 and time.monotonic() < end:
                    kids2 = self.children_of(stopped.pid)
                    time.sleep(0.01)
                os.killpg(stopped.pid, signal.SIGSTOP)
                self.wait_stopped(kids2 | {stopped.pid})
                r = subprocess.run([IMGPOOL, "-q", "-o", out, self.p("src")],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 75, r.stderr)
                self.wait_stopped(kids2 | {stopped.pid}, timeout=1)
            finally:
                os.killpg(stopped.pid, signal.SIGCONT)
        self.assertEqual(stopped.wait(timeout=60), 0)

    def test_a_file_of_zeros_is_refused_without_reading_it(self):
        """A photo name on a file of zeros (a preallocated copy or download that
        never finished; sparse here, 2 GiB) was read to its end by the checksum and
        by libvips' sniffing before 'not a known file format': 17 s. It is refused
        from its first bytes now, as not an image."""
        photo(self.p("src", "good.jpg"))
        with open(self.p("src", "zero.jpg"), "wb") as f:
            f.truncate(2 << 30)
        r = run(["-j1", "-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("zero.jpg: not an image: it begins with 64 zero bytes", r.stderr)
        self.assertIn("1 done, 1 failed", r.stdout)

    def test_sigbus_is_the_machines_not_the_files(self):
        """A worker killed by SIGBUS (a write to a mapped file on a full disk:
        liborc's code file in the scratch folder beneath OUT; a mapped file cut
        short) was a crash, remembered at once: the photo was "failed earlier" on
        every later run. Now SIGBUS is typed environment and the next run makes it.
        (A preloaded jpeg_read_header() raises it.)"""
        shim = self.preload("bus", "#define _GNU_SOURCE\n#include <dlfcn.h>\n"
                            "#include <signal.h>\n#include <stdio.h>\n#include <jpeglib.h>\n"
                            "int jpeg_read_header(j_decompress_ptr c, boolean r)\n"
                            "{ raise(SIGBUS);\n"
                            "  int (*f)(j_decompress_ptr, boolean) = (int (*)(j_decompress_ptr, "
                            "boolean))dlsym(RTLD_NEXT, \"jpeg_read_header\");\n"
                            "  return f(c, r); }\n", "-ldl")
        photo(self.p("src", "a.jpg"))
        rep = self.p("r.jsonl")
        env = dict(os.environ, LD_PRELOAD=shim,
                   ASAN_OPTIONS="verify_asan_link_order=0:handle_sigbus=0:" +
                   os.environ.get("ASAN_OPTIONS", ""))
        r = subprocess.run([IMGPOOL, "-j1", "--retries", "0", "--report", rep, "-o",
                            self.p("out"), self.p("src")], capture_output=True, text=True,
                           env=env, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("SIGBUS", r.stderr)
        with open(rep) as f:
            rec = [json.loads(line) for line in f if '"type":"file"' in line][0]
        self.assertEqual((rec["status"], rec["kind"]), ("error", "environment"), rec)
        r = run(["-j1", "-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 done", r.stdout + r.stderr)

    def test_output_filesystem_that_cannot_move_without_replacing(self):
        """exfat-fuse (and rclone or s3fs mounts) have neither rename without
        replacing (RENAME_NOREPLACE) nor hard links: every thumbnail failed with
        "cannot put its output ... in place: Operation not permitted", night after
        night, as though it were a permission. The error says what the filesystem
        lacks; one with links but no RENAME_NOREPLACE (NFS) still works.
        (A preloaded renameat2() and linkat() play the filesystem.)"""
        shim = self.preload("nomove", r"""#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
int renameat2(int a, const char *b, int c, const char *d, unsigned f)
{ (void)a; (void)b; (void)c; (void)d; (void)f; errno = EINVAL; return -1; }
int linkat(int a, const char *b, int c, const char *d, int f)
{
	int (*real)(int, const char *, int, const char *, int) =
		(int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
	if (getenv("NO_LINKS")) { errno = EPERM; return -1; }
	return real(a, b, c, d, f);
}
""", "-ldl")
        photo(self.p("src", "a.jpg"))
        env = dict(os.environ, LD_PRELOAD=shim,
                   ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
        r = subprocess.run([IMGPOOL, "-o", self.p("out"), self.p("src")], capture_output=True,
                           text=True, env=dict(env, NO_LINKS="1"), timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(error_lines(r.stderr)), 1, r.stderr)
        self.assertIn("can neither rename a file without replacing one",
                      error_lines(r.stderr)["a.jpg"])
        self.assertNotIn("Operation not permitted", r.stderr)
        self.assertEqual(os.listdir(self.p("out")), [".imgpool"])
        r = subprocess.run([IMGPOOL, "-o", self.p("out"), self.p("src")], capture_output=True,
                           text=True, env=env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(self.p("out"))), [".imgpool", "a.jpg"])

    def fsync_shim(self):
        """Four photos in src/, and a preloaded fsync() that, for imgpool's temp
        files (the thumbnails before they are published), fails with EIO
        (FSYNC_SHIM=eio) or never returns (FSYNC_SHIM=hang: a dead disk or NFS
        server). Skips the test without a C compiler."""
        for i in range(4):
            photo(self.p("src", f"{i}.jpg"))
        return self.preload("fsync", r"""#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int fsync(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	const char *mode = getenv("FSYNC_SHIM");
	if (n > 0 && mode) {
		path[n] = 0;
		if (strstr(path, "/.imgpool/tmp-")) {
			if (!strcmp(mode, "eio") && strstr(path, "/1-")) {
				errno = EIO;
				return -1;
			}
			if (!strcmp(mode, "hang"))
				for (;;)
					pause();
		}
	}
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}
""", "-ldl")

    def shimmed_env(self, lib, mode):
        return dict(os.environ, LD_PRELOAD=lib, FSYNC_SHIM=mode,
                    ASAN_OPTIONS="verify_asan_link_order=0:" +
                    os.environ.get("ASAN_OPTIONS", ""))

    def test_a_thumbnail_that_does_not_reach_the_disk_is_an_error(self):
        """The fsync of each thumbnail before it is published (by the parent,
        outsync.c) failing with EIO: that file is an output error naming the
        cause, its thumbnail is not published and nothing of it is left in the
        temp folder; the other files are done."""
        lib = self.fsync_shim()
        rep = self.p("r.jsonl")
        r = subprocess.run([IMGPOOL, "-j", "2", "-q", "--report", rep, "-o", self.p("out"),
                            self.p("src")], capture_output=True, text=True,
                           env=self.shimmed_env(lib, "eio"), timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        files = {os.path.basename(x["input"]): x for x in recs if x["type"] == "file"}
        self.assertEqual(sorted(files), ["0.jpg", "1.jpg", "2.jpg", "3.jpg"])
        bad = [n for n, x in files.items() if x["status"] != "ok"]
        self.assertEqual(len(bad), 1, files)
        self.assertEqual(files[bad[0]]["kind"], "output", files[bad[0]])
        self.assertIn("Input/output error", files[bad[0]]["error"])
        self.assertFalse(os.path.exists(self.p("out", bad[0])))
        for n, x in files.items():
            if n != bad[0]:
                self.assertTrue(os.path.exists(self.p("out", n)), n)
        left = [n for d in os.listdir(self.p("out", ".imgpool"))
                if d.startswith("tmp-") for n in os.listdir(self.p("out", ".imgpool", d))]
        self.assertEqual(left, [])

    def test_a_second_signal_ends_a_run_whose_disk_hangs(self):
        """Thumbnails whose fsync never returns (a dead disk or NFS server): the
        first Ctrl-C drains and waits for them, the second must end the run at
        once, each file answered once (cancelled), nothing published, exit 130.
        Waiting on the disk after a second signal held the run for good."""
        import signal
        lib = self.fsync_shim()
        rep = self.p("r.jsonl")
        # after 2 s: every file made, its fsync hanging
        code, err = self.terminated_while_waiting(
            ["-j", "2", "-q", "--report", rep, "-o", self.p("out"), self.p("src")],
            [signal.SIGINT, signal.SIGINT], after=2.0, env=self.shimmed_env(lib, "hang"))
        self.assertEqual(code, 130, err)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        files = [x for x in recs if x["type"] == "file"]
        self.assertEqual(sorted(os.path.basename(x["input"]) for x in files),
                         ["0.jpg", "1.jpg", "2.jpg", "3.jpg"])
        self.assertEqual({x["status"] for x in files}, {"cancelled"}, files)
        self.assertEqual([n for n in os.listdir(self.p("out")) if n.endswith(".jpg")], [])
        self.assertEqual(recs[-1]["type"], "summary")

    def test_shards_append_long_records_whole(self):
        """Shards of an array job may add to one report at once (--report-append).
        A record longer than stdio's 4 KiB buffer (long paths, several sizes) went
        out in two writes, and another shard's record landed between them: lines
        that are not JSON. Each record is one write now."""
        one = photo(self.p("one.jpg"), (40, 30))
        deep = os.path.join(self.p("src"), *("d" * 200 + "%d" % i for i in range(3)))
        linked_photos(deep, one, 80, "n" * 100 + "_%03d.jpg")
        rep = self.p("r.jsonl")
        sizes = "20,18,16,14,12,10,8,6"
        for _ in range(3):
            procs = [subprocess.Popen([IMGPOOL, "-j1", "-q", "-r", "--force", "-s", sizes,
                                       "--shard", "%d/4" % k, "--report-append",
                                       "--report", rep, "-o", self.p("out"), self.p("src")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                     for k in range(1, 5)]
            for proc in procs:
                _, err = proc.communicate(timeout=300)
                self.assertEqual(proc.returncode, 0, err)
        with open(rep, "rb") as f:
            lines = f.read().split(b"\n")
        self.assertEqual(lines[-1], b"")
        recs = [json.loads(line) for line in lines[:-1]]
        files = [x for x in recs if x["type"] == "file"]
        self.assertEqual(len(files), 3 * 80)
        self.assertGreater(max(len(line) for line in lines), 4096)
        self.assertEqual(sum(x["type"] == "summary" for x in recs), 3 * 4)

    def test_report_that_is_standard_output_holds_the_report_alone(self):
        """> r.jsonl with --report r.jsonl: standard output is the report, as with
        --report -, so the per-file lines go to standard error. They were mixed
        into the report, over its records."""
        for i in range(3):
            photo(self.p("src", "%d.jpg" % i))
        rep = self.p("r.jsonl")
        with open(rep, "w") as f:
            r = subprocess.run([IMGPOOL, "-o", self.p("out"), "--report", rep,
                                self.p("src")], stdout=f, stderr=subprocess.PIPE,
                               text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.count("\nok ") + r.stderr.startswith("ok "), 3, r.stderr)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual([x["type"] for x in recs], ["file"] * 3 + ["summary"])

    def test_another_output_folder_in_the_tree_is_named(self):
        """A photo folder given to -o by mistake holds .imgpool: every later walk
        passed over it without a word (its edits and new photos never made). It
        is still not walked (another run's thumbnails are not photos), and a
        warning names it; -q (error lines only) keeps quiet: output folders side
        by side in the tree are a layout."""
        photo(self.p("src", "a", "x.jpg"))
        photo(self.p("src", "b.jpg"))
        photo(self.p("other", "o.jpg"))
        self.assertEqual(run(["-q", "-o", self.p("src", "a"), self.p("other")]).returncode, 0)
        r = run(["-q", "-r", "-o", self.p("out2"), self.p("src")])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run(["-r", "-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 folder not walked", r.stderr)
        self.assertIn(self.p("src", "a") + " (if not, delete its .imgpool)", r.stderr)
        self.assertTrue(os.path.exists(self.p("out", "b.jpg")))
        self.assertFalse(os.path.exists(self.p("out", "a")))

    def test_quiet_run_says_it_was_interrupted(self):
        """-q: a run ended by SIGTERM said nothing but its exit status."""
        photo(self.p("src", "a.jpg"))
        proc = subprocess.Popen([IMGPOOL, "-q", "--files-from", "-", "--base", self.p("src"),
                                 "-o", self.p("out")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertTrue(wait_in(proc.pid, "poll"))
        time.sleep(0.5)  # past the workers' start: waiting on the list
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 143, err)
        self.assertIn(b"imgpool: interrupted by SIGTERM", err)
        self.assertEqual(out, b"")

    def test_a_report_that_cannot_be_written_is_status_1(self):
        """--help: 1 when a --report file could not be written. A report in a
        folder that is not there was refused as a usage error (2), one whose open
        failed as 1."""
        photo(self.p("src", "a.jpg"))
        r = run(["-q", "-o", self.p("out"), "--report", self.p("no", "such", "r.jsonl"),
                 self.p("src")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--report: cannot write", r.stderr)
        r = run(["-q", "-o", self.p("out"), "--report", self.p("src", "a.jpg"),
                 self.p("src")])
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_the_summary_record_says_the_exit_status(self):
        """Standard output lost at the summary line (nothing went there before:
        every file up to date): the run exited 1, and its summary record, written
        before, said 0. The record says the status the run ends with."""
        photo(self.p("src", "a.jpg"))
        self.assertEqual(run(["-q", "-o", self.p("out"), self.p("src")]).returncode, 0)
        with open("/dev/full", "w") as full:
            r = subprocess.run([IMGPOOL, "--progress", "none", "-o", self.p("out"),
                                "--report", self.p("r.jsonl"), self.p("src")], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(self.p("r.jsonl")) as f:
            summary = [json.loads(line) for line in f][-1]
        self.assertEqual(summary["exit_code"], 1, summary)

    def test_a_lost_report_on_standard_output_is_named(self):
        """--report - into a full disk: the run said "per-file lines were lost",
        which went to standard error and were not; the report was."""
        photo(self.p("src", "a.jpg"))
        with open("/dev/full", "w") as full:
            r = subprocess.run([IMGPOOL, "-o", self.p("out"), "--report", "-",
                                self.p("src")], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("per-file lines were lost", r.stderr)
        self.assertIn("--report: writing '-' failed", r.stderr)
        self.assertIn("ok ", r.stderr)

    def test_unusable_output_folder_still_reported(self):
        """An output folder that cannot be used (here .imgpool is a symlink) left
        no report at all, and with --report-append the last summary in the file
        was still the previous run's exit 0. Now the run's summary says exit 1."""
        photo(self.p("src", "a.jpg"))
        rep = self.p("r.jsonl")
        self.assertEqual(run(["-q", "--report", rep, "-o", self.p("out"),
                              self.p("src")]).returncode, 0)
        private = self.p("out", ".imgpool")
        shutil.rmtree(private)
        os.symlink(self.p("elsewhere"), private)
        r = run(["-q", "--report", rep, "--report-append", "-o", self.p("out"),
                 self.p("src")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("symlink", r.stderr)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual([x["exit_code"] for x in recs if x["type"] == "summary"], [0, 1])
        self.assertEqual(recs[-1]["type"], "summary")

    def test_file_listed_twice_answered_once(self):
        """The same file listed twice (or as ./name, or also found by a PATH's walk)
        was an error against itself ("also the output of" itself) on every run.
        Now it is answered once; two different files with one output still clash."""
        photo(self.p("src", "a.jpg"))
        photo(self.p("two", "a.jpg"))
        photo(self.p("two", "a.png"))

        def listed(cwd, listing, *paths):
            rep = self.p("r.jsonl")
            r = subprocess.run([IMGPOOL, "--files-from", "-", "--report", rep, "-o",
                                self.p("out", os.path.basename(cwd)), "-f", "jpeg"] +
                               list(paths), input=listing, capture_output=True, text=True,
                               cwd=cwd, timeout=300)
            with open(rep) as f:
                files = [json.loads(line) for line in f if '"type":"file"' in line]
            return r, sorted((os.path.basename(x["input"]), x["status"]) for x in files)

        src = self.p("src")
        r, got = listed(src, "a.jpg\n./a.jpg\n" + os.path.join(src, "a.jpg") + "\n", src)
        self.assertEqual(got, [("a.jpg", "ok")], r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, got = listed(self.p("two"), "a.jpg\na.png\na.jpg\n")
        self.assertEqual(got, [("a.jpg", "ok"), ("a.png", "error")], r.stderr)
        self.assertIn("also the output of", r.stderr)
        # An entry that is an error (missing, a folder) listed again, under
        # other spellings of one path too, is answered once as well.
        os.makedirs(self.p("three", "sub"))
        r, got = listed(self.p("three"), "m.jpg\n./m.jpg\n.//m.jpg\nsub\n./sub/\nm.jpg\n")
        self.assertEqual(got, [("m.jpg", "error"), ("sub", "error")], r.stderr)

    def test_listed_file_starts_before_the_next_line(self):
        """A --files-from pipe (a watcher: one line per new photo, then quiet) held
        each file back until the line after it arrived, so the last photo waited
        for the next one. Each must be answered while the pipe stays open and
        quiet, a partial line not taken for a whole one; the run ends when the pipe
        closes. Too long an entry is an error line, not a memory hog."""
        import select
        import time
        names = [photo(self.p("src", "%d.jpg" % i)) for i in range(3)]
        p = subprocess.Popen([IMGPOOL, "--files-from", "-", "--base", self.p("src"),
                              "-o", self.p("out"), "--progress", "none", "-j", "2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            def answer(within):
                """The next stdout line, or None after `within` seconds."""
                ready, _, _ = select.select([p.stdout], [], [], within)
                return p.stdout.readline().decode() if ready else None

            for i, name in enumerate(names[:2]):
                p.stdin.write(("%d.jpg\n" % i).encode())
                p.stdin.flush()
                line = answer(60)
                self.assertIsNotNone(line, "no answer for %s while the pipe is quiet" % name)
                self.assertTrue(line.startswith("ok") and ("%d.jpg" % i) in line, line)
            p.stdin.write(b"2.j")           # half a line: nothing to start yet
            p.stdin.flush()
            self.assertIsNone(answer(1.5))
            self.assertIsNone(p.poll(), "the run ended with its list still open")
            out, err = p.communicate(b"pg\n" + b"x" * 70000 + b"\n", timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertIn("2.jpg", out.decode())
        self.assertIn("longer than 65536 bytes", err.decode())
        self.assertEqual(p.returncode, 1, err.decode())
        self.assertEqual(sorted(n for n in os.listdir(self.p("out")) if n != ".imgpool"),
                         ["0.jpg", "1.jpg", "2.jpg"])

    def test_dry_run_on_a_quiet_pipe_stops_at_a_signal(self):
        """--dry-run reading --files-from from a pipe that stays open and quiet
        (a watcher): one TERM (timeout(1), systemd, Slurm) must end it with its
        summary, not only a second one."""
        import signal
        import time
        photo(self.p("src", "a.jpg"))
        p = subprocess.Popen([IMGPOOL, "--dry-run", "--files-from", "-", "--base",
                              self.p("src"), "-o", self.p("out"), "--progress", "none"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            p.stdin.write(b"a.jpg\n")
            p.stdin.flush()
            time.sleep(1.0)                 # planned a.jpg, now waiting on the pipe
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)              # the pipe still open: no end of list
            out, err = p.communicate()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err.decode())
        self.assertIn("a.jpg", out.decode())
        self.assertIn("interrupted by SIGTERM", err.decode())

    def test_listed_files_inside_the_output_folder_refused(self):
        """A walk never enters the output folder; a list could name a thumbnail (a
        watcher over a tree holding OUT lists each new one: thumbs/thumbs/...) or
        the journal. Each is an error line, nothing is made of it."""
        photo(self.p("photos", "a.jpg"))
        out = self.p("photos", "thumbs")
        args = [IMGPOOL, "--files-from", "-", "--base", self.p("photos"), "-o", out,
                "--progress", "none"]
        r = subprocess.run(args, input="a.jpg\n", capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(args, input="thumbs/a.jpg\nthumbs/.imgpool/journal.sqlite\n",
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        errors = error_lines(r.stderr)
        self.assertEqual(sorted(errors), ["a.jpg", "journal.sqlite"], r.stderr)
        for cause in errors.values():
            self.assertIn("inside the output folder", cause)
        self.assertFalse(os.path.exists(os.path.join(out, "thumbs")))

    def test_heif_metadata_outlives_its_loader(self):
        """libvips 8.14's heifload lends its ICC profile and EXIF from the libheif
        image it owns: the worker kept them past the loader and the savers read
        freed memory (ASan: heap-use-after-free, the worker dies, the file a
        "crash"; found on Pillow's avif/icc_profile.avif). Run under the sanitizer
        build this fails on the old binary; every format and --keep-metadata=all
        must give an ok file."""
        v = self.p("grey.v")
        subprocess.run(["vips", "gaussnoise", v, "160", "120", "--mean", "128", "--sigma", "40"],
                       check=True)
        rgb = self.p("rgb.v")
        subprocess.run(["vips", "colourspace", v, rgb, "srgb"], check=True)
        tagged = self.p("tagged.jpg")
        subprocess.run(["vips", "copy", rgb, tagged + "[profile=srgb]"], check=True)
        src = self.p("src")
        os.makedirs(src)
        made = subprocess.run(["vips", "copy", tagged, os.path.join(src, "a.avif")],
                              capture_output=True, text=True)
        if made.returncode != 0:
            self.skipTest(f"libvips cannot write AVIF here: {made.stderr.strip()}")
        for args in (["-f", "webp"], ["-f", "png"], ["--keep-metadata=all"],
                     ["--keep-metadata=all", "-f", "png"]):
            out = self.p("out-" + "-".join(a.strip("-=") for a in args))
            rep = out + ".jsonl"
            r = run(["-j1", "--retries", "0", "--progress", "none", "--report", rep, "-o", out,
                     src] + args)
            self.assertEqual(r.returncode, 0, f"{args}: {r.stderr[-3000:]}")
            with open(rep) as f:
                records = [json.loads(line) for line in f]
            self.assertEqual([x["status"] for x in records if x["type"] == "file"], ["ok"], args)
            self.assertEqual(records[-1]["workers_died"], 0, args)

    def test_pyramid_tiffs_thumbnailed_from_the_main_image(self):
        """A pyramidal TIFF (pages or sub-IFDs, as `vips tiffsave --pyramid` and
        slide scanners write them) gave a 125x100 thumbnail of a 1000x800 image at
        every size: libvips 8.14's pyramid shortcut took the wrong level."""
        v = self.p("n.v")
        subprocess.run(["vips", "gaussnoise", v, "1000", "800", "--mean", "128", "--sigma",
                        "30"], check=True)
        u8 = self.p("n8.v")
        subprocess.run(["vips", "cast", v, u8, "uchar"], check=True)
        src = self.p("src")
        os.makedirs(src)
        subprocess.run(["vips", "tiffsave", u8, os.path.join(src, "pages.tif"), "--pyramid",
                        "--tile"], check=True)
        subprocess.run(["vips", "tiffsave", u8, os.path.join(src, "subifd.tif"), "--pyramid",
                        "--subifd", "--tile"], check=True)
        for size, want in (("256", "256x205"), ("600", "600x480"), ("2000", "1000x800")):
            out = self.p("out" + size)
            r = run(["-s", size, "--progress", "none", "-o", out, src])
            self.assertEqual(r.returncode, 0, r.stderr)
            for name in ("pages.jpg", "subifd.jpg"):
                got = subprocess.run(["vipsheader", "-f", "width", os.path.join(out, name)],
                                     capture_output=True, text=True, check=True).stdout.strip()
                got += "x" + subprocess.run(["vipsheader", "-f", "height",
                                             os.path.join(out, name)], capture_output=True,
                                            text=True, check=True).stdout.strip()
                self.assertEqual(got, want, f"{name} at -s {size}")

    def test_list_with_crlf_line_ends(self):
        """A list written with CRLF line ends named "a.jpg\\r" (an error: no such
        file); the CR is the line's end unless a file of that very name exists."""
        photo(self.p("src", "a.jpg"))
        os.rename(photo(self.p("src", "b.jpg")), self.p("src", "b.jpg\r"))
        out = self.p("out")
        r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", self.p("src"), "-o", out,
                            "--progress", "none"], input=b"a.jpg\r\nb.jpg\r\n",
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        made = sorted(os.listdir(out))
        self.assertEqual(made[:2], [".imgpool", "a.jpg"], made)
        self.assertTrue(len(made) == 3 and made[2].startswith("b.jpg"), made)

    def bar_frames(self, cols, env):
        """The live frames imgpool draws on a pseudo-terminal of cols columns while
        it waits on a --files-from pipe (so frames come, whatever the machine's
        speed), and what else it wrote there."""
        photo(self.p("src", "a.jpg"))
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        proc = subprocess.Popen([IMGPOOL, "--files-from", "-", "--base", self.p("src"),
                                 "-o", self.p("out"), "-j1", "--progress-interval", "0.3"],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        proc.stdin.write(b"a.jpg\n")
        proc.stdin.flush()
        got, deadline = b"", time.monotonic() + 60
        while got.count(b"\r") < 4 and got.count(b"\n") < 2 and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                got += os.read(master, 65536)
        proc.stdin.close()
        proc.wait(timeout=60)
        os.close(master)
        return got

    def test_live_bar_fits_the_terminal(self):
        """The bar was 99 columns wide: on an 80-column terminal it wrapped, and
        as \\r ESC[K clears only the last row, every tick scrolled a stale copy
        up. It is cut to the terminal's width, also below 20 columns (uncut there
        before), and below 60 without the bar (the count and ETA first: the cut
        kept the bar alone). TERM=dumb (no ESC[K) gets lines."""
        env = dict(os.environ, TERM="xterm")
        for cols in (80, 10):
            got = self.bar_frames(cols, env)
            start = b"[" if cols >= 60 else b"1/1"
            frames = [f for f in got.split(b"\r\x1b[K") if f.startswith(start)]
            self.assertGreater(len(frames), 2, got)
            for f in frames:
                self.assertLessEqual(len(f.split(b"\r")[0].split(b"\n")[0]), cols - 1, f)
        got = self.bar_frames(80, dict(os.environ, TERM="dumb"))
        self.assertNotIn(b"\x1b[K", got)
        self.assertIn(b"imgpool: ", got)

    def test_list_of_find_print0_without_dash_0(self):
        """find -print0 piped without -0: the whole list was one entry, taken as
        its first name, and every other file was dropped without a word (exit 0).
        An entry holding a NUL is an error line saying -0 is missing."""
        for n in "abc":
            photo(self.p("src", n + ".jpg"))
        r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", self.p("src"), "-o",
                            self.p("out"), "--progress", "none"],
                           input=b"a.jpg\0b.jpg\0c.jpg\0", capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"error a.jpg...: a listed entry holds a NUL byte", r.stderr)
        self.assertIn(b"needs -0", r.stderr)
        self.assertFalse(os.path.exists(self.p("out", "a.jpg")))

    def test_files_from_a_closed_stdin(self):
        """--files-from - with stdin closed: a usage error saying so (descriptor 0
        was taken by whatever the run opened first: "'-' is a folder")."""
        photo(self.p("src", "a.jpg"))
        r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", self.p("src"), "-o",
                            self.p("out"), "--progress", "none"], stdin=None,
                           capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: os.close(0))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("standard input is closed", r.stderr)
        self.assertFalse(os.path.exists(self.p("out", "a.jpg")))

    def terminated_while_waiting(self, args, signals=None, after=1.0, env=None):
        """Run imgpool with args, send it SIGTERM (or each of signals, half a
        second apart) after a second (while it waits in an open()), and return its
        exit status (-9: it did not end within a minute, and was killed) and
        standard error."""
        import signal
        import time
        p = subprocess.Popen([IMGPOOL, "--progress", "none"] + args, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(after)
            for i, sig in enumerate(signals or [signal.SIGTERM]):
                if i:
                    time.sleep(0.5)
                p.send_signal(sig)
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
                err = b"did not end within a minute of the signal"
        return p.returncode, err.decode()

    def test_signal_while_a_list_fifo_waits_for_its_writer(self):
        """--files-from naming a FIFO no writer has opened yet: open() waits; a TERM
        then is an interrupted run (143, a summary in the report), not a usage
        error (2, "Interrupted system call", no report)."""
        fifo = self.p("list")
        os.mkfifo(fifo)
        rep = self.p("r.jsonl")
        code, err = self.terminated_while_waiting(
            ["--files-from", fifo, "--base", self.tmp, "-o", self.p("out"), "--report", rep])
        self.assertEqual(code, 143, err)
        self.assertIn("no writer opened", err)
        with open(rep) as f:
            last = json.loads(f.read().splitlines()[-1])
        self.assertEqual((last["type"], last["exit_code"]), ("summary", 143), last)

    def test_signal_while_a_report_fifo_waits_for_its_reader(self):
        """--report naming a FIFO no reader has opened: open() waits; a TERM ended
        that wait, and the run then opened the FIFO again to write its summary and
        waited there for good. Now it ends, as an interrupted run (143), and says
        why."""
        src = self.p("src")
        os.makedirs(src)
        photo(os.path.join(src, "a.jpg"), (64, 48))
        fifo = self.p("report.fifo")
        os.mkfifo(fifo)
        code, err = self.terminated_while_waiting(["-o", self.p("out"), "--report", fifo, src])
        self.assertEqual(code, 143, err)
        self.assertIn("no reader opened", err)
        self.assertFalse(os.path.exists(self.p("out", "a.jpg")))

    def test_damaged_files_say_the_codecs_reason(self):
        """A PNG cut inside its header failed with only "cannot read the image
        header", a corrupt one with only "libpng read error": the reason libpng gave
        (through libvips' warnings) is in the line now."""
        src = self.p("src")
        good = photo(self.p("good.png"), (200, 150))
        data = open(good, "rb").read()
        os.makedirs(src)
        open(os.path.join(src, "header.png"), "wb").write(data[:40])
        open(os.path.join(src, "half.png"), "wb").write(data[: len(data) // 2])
        r = run(["--no-journal", "-o", self.p("out"), src])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        causes = error_lines(r.stderr)
        self.assertEqual(sorted(causes), ["half.png", "header.png"], r.stderr)
        for name, cause in causes.items():
            self.assertNotIn(cause.strip(), ("cannot read the image header",
                                             "cannot decode the image",
                                             "vipspng: libpng read error"), name)
            self.assertNotIn("error in tile", cause)
        self.assertIn("not enough data", causes["half.png"])

    def test_a_png_whose_zlib_stream_is_damaged_fails_at_warning(self):
        """A PNG whose image data has a bit flipped, its chunk CRC written after
        (a faulty writer), fails only zlib's Adler-32: libvips 8.14 reads PNGs
        with that check off, and the fast path handed such files to it. They were
        "ok", garbled thumbnails (a new user's audit: 146 of 200 random flips).
        At --fail-on warning and error they fail now, whichever path decodes
        them (the fast one, interlaced ones, kept metadata through libvips); at
        truncated and none they are thumbnailed, as libvips does."""
        src = self.p("src")
        os.makedirs(src)
        good = photo(self.p("good.png"), (300, 200))
        subprocess.run(["vips", "copy", good, self.p("inter.png") + "[interlace]"], check=True)

        def damaged(path, name, at):
            data = bytearray(open(path, "rb").read())
            pos, idat = 8, []
            while pos < len(data):
                n = int.from_bytes(data[pos:pos + 4], "big")
                if data[pos + 4:pos + 8] == b"IDAT":
                    idat.append((pos, n))
                pos += 12 + n
            pos, n = idat[-1] if at == "adler" else idat[0]
            off = pos + 8 + (n - 2 if at == "adler" else n // 2)
            data[off] ^= 0x10
            data[pos + 8 + n:pos + 12 + n] = zlib.crc32(bytes(data[pos + 4:pos + 8 + n])).to_bytes(4, "big")
            open(os.path.join(src, name), "wb").write(data)
        damaged(good, "adler.png", "adler")
        damaged(self.p("inter.png"), "inter-adler.png", "adler")
        damaged(good, "middle.png", "middle")
        # 1001 empty private chunks before the data: every one is walked past
        data = open(os.path.join(src, "adler.png"), "rb").read()
        chunk = b"\0\0\0\0prIv" + zlib.crc32(b"prIv").to_bytes(4, "big")
        open(os.path.join(src, "chunks.png"), "wb").write(data[:33] + chunk * 1001 + data[33:])
        names = ["adler.png", "chunks.png", "inter-adler.png", "middle.png"]
        for extra in ([], ["--keep-metadata"], ["--fail-on", "error"]):
            r = run(["--no-journal", "-s", "64", "-o", self.p("out%d" % len(extra))] + extra + [src])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            causes = error_lines(r.stderr)
            self.assertEqual(sorted(causes), names, r.stderr)
            self.assertIn("incorrect data check", causes["adler.png"], extra)
            self.assertIn("incorrect data check", causes["inter-adler.png"], extra)
        # over --max-pixels: a limit, refused before a byte is inflated
        rep = self.p("limit.jsonl")
        r = run(["--no-journal", "--max-pixels", "1000", "--report", rep, "-o", self.p("lim"),
                 os.path.join(src, "adler.png")])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        files = [x for x in map(json.loads, open(rep)) if x["type"] == "file"]
        self.assertEqual([x["kind"] for x in files], ["limit"], files)
        for level in ("truncated", "none"):
            out = self.p("lenient-" + level)
            r = run(["--no-journal", "-s", "64", "--fail-on", level, "-o", out, src])
            for name in ("adler.png", "inter-adler.png"):
                self.assertTrue(os.path.exists(os.path.join(out, name)), r.stdout + r.stderr)

    def test_a_thumbnail_past_its_formats_largest_side_is_a_limit(self):
        """A healthy panorama thumbnailed past what WebP holds (16383 px a side)
        failed with libvips' bare "webpsave: image too large" as a decode failure,
        "not an image, or damaged" (a new user's audit). It is a limit of the
        settings now, said with the size and what to change; PNG makes it."""
        src = self.p("src")
        os.makedirs(src)
        subprocess.run(["vips", "black", os.path.join(src, "pano.jpg"), "16400", "8", "--bands",
                        "3"], check=True)
        rep = self.p("r.jsonl")
        r = run(["--no-journal", "-s", "16400", "-f", "webp", "--report", rep,
                 "-o", self.p("out"), src])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the thumbnail would be 16400x8, and WebP holds 16383 pixels a side at "
                      "most: give a smaller -s, or another -f", r.stderr)
        recs = [json.loads(line) for line in open(rep)]
        files = [x for x in recs if x["type"] == "file"]
        self.assertEqual([x["kind"] for x in files], ["limit"], files)
        r = run(["--no-journal", "-s", "16400", "-f", "png", "-o", self.p("png"), src])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_damage_after_the_rows_a_thumbnail_needs_fails(self):
        """A baseline JPEG with a piece of its own data inserted half way, or random
        bytes over its last part, was thumbnailed (garbage in its lower half) at the
        default --fail-on warning: libjpeg warns only at the end of the stream
        ("extraneous bytes before marker 0xd9"), which the fast path did not read,
        nor does libvips; and libjpeg-turbo's fast Huffman decoder takes a bad code
        for 0 without a warning. Such files now fail at warning, as djpeg says;
        --fail-on error thumbnails them. Bytes after the EOI marker (a camera's
        trailer), zero bytes before it, or zeros and no EOI at all after data
        that is whole, are no damage: such files are thumbnailed, as libvips
        does."""
        good = photo(self.p("good.jpg"), (320, 240))
        data = open(good, "rb").read()
        sos = data.index(b"\xff\xda")
        start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
        end = data.rindex(b"\xff\xd9")
        mid = start + (end - start) // 2
        src = self.p("src")
        os.makedirs(src)
        damaged = {
            "inserted.jpg": data[:mid] + data[start + 100:start + 600] + data[mid:],
            "random-tail.jpg": data[:mid] + bytes((i * 167 + 13) % 251 for i in
                                                  range(end - mid)) + data[end:],
        }
        for name, b in damaged.items():
            open(os.path.join(src, name), "wb").write(b)
        open(os.path.join(src, "trailer.jpg"), "wb").write(data + b"trailer\0" * 100)
        open(os.path.join(src, "zeros.jpg"), "wb").write(data[:end] + b"\0" * 7 + data[end:])
        open(os.path.join(src, "zeros-no-eoi.jpg"), "wb").write(data[:end] + b"\0" * 64)
        for size in ("64", "320"):  # shrunk on load, and whole
            r = run(["--no-journal", "-s", size, "-o", self.p("out" + size), src])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            causes = error_lines(r.stderr)
            self.assertEqual(sorted(causes), sorted(damaged), r.stderr)
            for name, cause in causes.items():
                self.assertIn("Corrupt JPEG data", cause, name)
            for whole in ("trailer.jpg", "zeros.jpg", "zeros-no-eoi.jpg"):
                self.assertTrue(os.path.exists(self.p("out" + size, whole)), whole)
        r = run(["--no-journal", "--fail-on", "error", "-o", self.p("lenient"), src])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_bad_huffman_code_fails_at_warning(self):
        """Baseline JPEGs with one bit flipped in their coded data, such that
        libvips' own decode says "bad Huffman code" (an audit's, and a corpus
        photo): the fast path handed libjpeg the whole file at once, and
        libjpeg-turbo's fast Huffman decoder, used then, takes a bad code for 0
        without a warning. They were "ok", garbled thumbnails. They fail now,
        with the warning, as libvips fails them."""
        try:
            from PIL import Image
        except ImportError:
            self.skipTest("needs python3-pil (make test installs it)")
        rng = random.Random(3)
        im = Image.new("RGB", (640, 480))
        px = im.load()
        for y in range(480):
            for x in range(640):
                px[x, y] = ((x * y) % 256, (x + 3 * y) % 256,
                            rng.randrange(256) if (x // 40 + y // 40) % 2 else 128)
        im.save(self.p("good.jpg"), quality=85, optimize=True)
        flips = [(self.p("good.jpg"), 122267, 0x40)]
        here = os.path.dirname(os.path.abspath(__file__))
        corpus = os.path.join(os.environ.get("IMGPOOL_CORPUS") or os.path.join(
            here, "..", "..", "shared", "corpus", "photos"), "33-type_error.jpg")
        if os.path.exists(corpus):
            flips.append((corpus, 116923, 0x40))
        src = self.p("src")
        os.makedirs(src)
        bad = []
        for i, (path, at, bit) in enumerate(flips):
            b = bytearray(open(path, "rb").read())
            if len(b) <= at:
                continue
            b[at] ^= bit
            name = os.path.join(src, "bad%d.jpg" % i)
            open(name, "wb").write(b)
            v = subprocess.run(["vips", "thumbnail", name, self.p("v.png"), "256",
                                "--fail-on", "warning"], capture_output=True, text=True)
            if v.returncode != 0 and "bad Huffman code" in v.stderr:
                bad.append(os.path.basename(name))  # else not this libjpeg's bytes
            else:
                os.unlink(name)
        if not bad:
            self.skipTest("these encoders make other bytes: no flip to test")
        for size in ("256", "16"):
            r = run(["--no-journal", "-s", size, "-o", self.p("out" + size), src])
            causes = error_lines(r.stderr)
            self.assertEqual(sorted(causes), sorted(bad), r.stdout + r.stderr)
            for name, cause in causes.items():
                self.assertIn("bad Huffman code", cause, name)

    def test_a_jpeg_cut_in_its_last_rows_fails_at_truncated(self):
        """A baseline JPEG cut short in its last MCU row, thumbnailed to a box
        its rows past the last whole scaled pixel do not reach: the fast path
        read no further, and at --fail-on truncated and error it was "ok", where
        libvips reads those rows and fails it. At warning it failed already; at
        none it is thumbnailed."""
        good = photo(self.p("good.jpg"), (800, 533))
        data = open(good, "rb").read()
        src = self.p("src")
        os.makedirs(src)
        open(os.path.join(src, "cut.jpg"), "wb").write(data[:len(data) - len(data) // 250])
        for level in ("warning", "error", "truncated", "none"):
            r = run(["--no-journal", "-s", "16", "--fail-on", level, "-o",
                     self.p("out-" + level), src])
            causes = error_lines(r.stderr)
            if level == "none":
                self.assertEqual(causes, {}, r.stderr)
            else:
                self.assertIn("Premature end", causes.get("cut.jpg", ""), (level, r.stderr))

    def test_a_tiny_progressive_jpeg_claiming_a_huge_size_takes_no_memory(self):
        """A 600-byte progressive JPEG whose header claims 16383x16383 (just under
        the default --max-pixels) made each worker allocate 1.6 GB for the
        coefficients before failing as cut short (and libvips as much again).
        It fails now before any decoder runs, saying why."""
        good = photo(self.p("small.v.jpg"), (64, 64))
        src = self.p("src")
        os.makedirs(src)
        prog = os.path.join(src, "bomb.jpg")
        subprocess.run(["vips", "copy", good, prog + "[interlace]"], check=True)
        data = bytearray(open(prog, "rb").read())
        sof = data.index(b"\xff\xc2")
        data[sof + 5:sof + 9] = struct.pack(">HH", 16383, 16383)
        open(prog, "wb").write(bytes(data))
        rep = self.p("r.jsonl")
        r = run(["--no-journal", "-j1", "-o", self.p("out"), "--report", rep, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cut short: its header says 16383x16383", error_lines(r.stderr)["bomb.jpg"])
        summary = [json.loads(l) for l in open(rep)][-1]
        self.assertLess(summary["peak_worker_rss"], 600 << 20, summary)
        # --fail-on none thumbnails what a cut-short file holds (a download
        # stopped half way), as it did: a grey 640x480 needs 600 bytes at least
        cut = self.p("cut")
        os.makedirs(cut)
        whole = self.p("whole.jpg")
        subprocess.run(["vips", "copy", photo(self.p("p640.jpg"), (640, 480)),
                        whole + "[interlace,Q=90]"], check=True)
        open(os.path.join(cut, "cut.jpg"), "wb").write(open(whole, "rb").read()[:450])
        r = run(["--no-journal", "-o", self.p("cut-out"), cut])
        self.assertIn("cut short", error_lines(r.stderr).get("cut.jpg", ""), r.stderr)
        r = run(["--no-journal", "--fail-on", "none", "-o", self.p("cut-none"), cut])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_low_soft_descriptor_limit_is_raised(self):
        """ulimit -Sn 20 with the hard limit high: every photo of the folder
        failed with "Too many open files", or the folder was one error. imgpool
        raises its soft limit to the hard one, and the run goes."""
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 256:
            self.skipTest(f"the hard limit of descriptors is {hard}")
        for i in range(5):
            photo(self.p("src", f"p{i}.jpg"), (64, 48))
        r = subprocess.run([IMGPOOL, "-j2", "-o", self.p("out"), "--report", self.p("r.jsonl"),
                            self.p("src")],
                           capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                 (20, hard)))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len([n for n in os.listdir(self.p("out")) if n.endswith(".jpg")]), 5)

    def test_a_codec_warning_said_once_on_one_line(self):
        """libjpeg's warnings reached the cause once per read, some as one message of
        several lines: "Corrupt JPEG data: 16 extraneous bytes before marker 0xe1;
        read gave 1 warnings; Corrupt JPEG data: ...\\nCorrupt JPEG data: ..."
        (Pillow's photoshop-200dpi-broken.jpg). Each sentence now comes once, and
        the cause is one line."""
        good = photo(self.p("good.jpg"), (200, 150))
        data = open(good, "rb").read()
        # Stray bytes before the first marker after SOI's APP0: libjpeg warns
        # ("extraneous bytes before marker") and reads on.
        app0_end = 4 + int.from_bytes(data[4:6], "big")
        src = self.p("src")
        os.makedirs(src)
        bad = os.path.join(src, "stray.jpg")
        open(bad, "wb").write(data[:app0_end] + b"\x00" * 16 + data[app0_end:])
        report = self.p("report.jsonl")
        r = run(["--no-journal", "-o", self.p("out"), "--report", report, src])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rec = [json.loads(l) for l in open(report)][0]
        cause = rec["error"]
        self.assertIn("extraneous bytes", cause)
        self.assertNotIn("\n", cause)
        parts = [p.strip() for p in cause.split(";")]
        self.assertEqual(len(parts), len(set(parts)), cause)
        self.assertEqual(sum("extraneous bytes" in p for p in parts), 1, cause)
        # The human line says the same, on one line.
        self.assertEqual(error_lines(r.stderr), {"stray.jpg": cause}, r.stderr)
        # vipsthumbnail makes it with a warning; so does imgpool when told to.
        r = run(["--no-journal", "-o", self.p("out"), "--fail-on", "none", src])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_failure_for_want_of_memory_not_remembered_past_the_limit(self):
        """Under a low ulimit -v a good photo failed ("out of memory", or a C++
        decoder's abort on "Resource temporarily unavailable") as if its content were
        bad, and was skipped as "failed earlier" by every later run, the limit lifted
        or not. The workers' resource limits are now part of what a remembered
        failure holds under: the same limit fails it again, another tries again."""
        import resource
        src = self.p("src")
        os.makedirs(src)
        # An interlaced 16-bit PNG is decoded whole: 6000x6000x3x2 bytes.
        v = self.p("black.v")
        subprocess.run(["vips", "black", v, "6000", "6000", "--bands", "3"], check=True)
        subprocess.run(["vips", "cast", v, os.path.join(src, "big.png[interlace]"),
                        "ushort"], check=True)
        out, report = self.p("out"), self.p("report.jsonl")

        def under(limit_mb):
            def low():
                b = limit_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (b, b))
            return subprocess.run([IMGPOOL, "-o", out, "--report", report, src],
                                  capture_output=True, text=True, timeout=300,
                                  preexec_fn=low)

        def record():
            return [json.loads(l) for l in open(report)][0]

        for limit in (200, 250, 300, 350):
            r = under(limit)
            if r.returncode == 1 and record().get("kind") in ("decode", "crash"):
                break
        else:
            self.skipTest("no address-space limit failed the file as its content")
        r = under(limit)    # the same limit: remembered
        self.assertEqual(record().get("kind"), "failed-earlier", r.stdout + r.stderr)
        r = run(["-o", out, "--report", report, src])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(record()["status"], "ok")

    def report_records(self, report):
        with open(report) as f:
            return [json.loads(l) for l in f if json.loads(l)["type"] == "file"]

    def test_cause_of_a_failed_output_does_not_name_the_file(self):
        """A TIFF whose XResolution points past its end leaves libtiff's
        "<path>: bad seek to 100000" in libvips' error buffer; when an output then
        failed (a WebP wider than 16383), the cause started with the file's path,
        which a cause never holds (docs/report-schema.md). (Such a WebP is now
        refused before it is encoded, as a limit of the settings: the cause is
        still imgpool's own words, not the buffer's.)"""
        import struct
        w, h = 64, 2
        pixels = bytes((x * 4) & 255 for _ in range(h) for x in range(w))
        tags = [(256, 3, w), (257, 3, h), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                (273, 4, 0), (277, 3, 1), (278, 3, h), (279, 4, len(pixels)),
                (282, 5, 100000)]  # XResolution: a rational far past the end
        start = 8 + 2 + 12 * len(tags) + 4
        ifd = struct.pack("<H", len(tags))
        for tag, typ, value in tags:
            value = start if tag == 273 else value
            ifd += (struct.pack("<HHII", tag, typ, 1, value) if typ in (4, 5)
                    else struct.pack("<HHIHH", tag, typ, 1, value, 0))
        src = self.p("src")
        os.makedirs(src)
        name = "badres.tif"
        with open(os.path.join(src, name), "wb") as f:
            f.write(b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + pixels)
        report = self.p("report.jsonl")
        r = run(["--no-journal", "-f", "webp", "--enlarge", "-s", "17000", "--report",
                 report, "-o", self.p("out"), src])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        [rec] = self.report_records(report)
        self.assertIn("WebP holds 16383 pixels a side at most", rec["error"])
        self.assertNotIn(name, rec["error"])

    def test_tiff_extra_samples_made_into_jpeg(self):
        """A TIFF with more extra samples than one alpha (RGB with two, as image
        editors save extra channels; grey with three) failed as a JPEG ("linear:
        vector must have 1 or 4 elements": every extra band was flattened).
        vipsthumbnail makes it; now imgpool keeps the colour bands and the first
        extra, as libvips' savers do. Found with a go-fuzz-corpus TIFF."""
        src = self.p("src")
        os.makedirs(src)
        black = self.p("black.v")
        subprocess.run(["vips", "black", black, "300", "200", "--bands", "5"], check=True)
        five = self.p("five.v")
        subprocess.run(["vips", "linear", black, five, "1", "100 50 200 255 128", "--uchar"],
                       check=True)
        subprocess.run(["vips", "copy", five, os.path.join(src, "rgb2extra.tif")], check=True)
        four = self.p("four.v")
        subprocess.run(["vips", "extract_band", five, four, "0", "--n", "4"], check=True)
        subprocess.run(["vips", "copy", four, os.path.join(src, "grey3extra.tif"),
                        "--interpretation", "b-w"], check=True)
        for fmt, ext, bands in (("same", "jpg", "3"), ("png", "png", "4")):
            out = self.p("out-" + fmt)
            r = run(["--no-journal", "-f", fmt, "-o", out, src])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for stem in ("rgb2extra", "grey3extra"):
                made = os.path.join(out, stem + "." + ext)
                got = subprocess.run(["vipsheader", "-f", "bands", made], capture_output=True,
                                     text=True, check=True).stdout.strip()
                self.assertEqual(got, bands, made)
                avg = subprocess.run(["vips", "avg", made], capture_output=True, text=True,
                                     check=True).stdout.strip()
                self.assertGreater(float(avg), 40, made)  # the picture, not black

    def output_sizes(self, size_lists):
        """{(-s value, input name): [(w, h) of each output, as the report says]}
        of one --no-journal run over self.p("src") per -s value."""
        dims = {}
        for sizes in size_lists:
            rep = self.p(f"r{sizes}.jsonl")
            r = run(["--no-journal", "-s", sizes, "-o", self.p("o" + sizes), "--report", rep,
                     self.p("src")])
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(rep) as f:
                for rec in map(json.loads, f):
                    if rec.get("type") == "file":
                        dims[sizes, os.path.basename(rec["input"])] = [
                            (o["width"], o["height"]) for o in rec["outputs"]]
        return dims

    def test_each_size_as_a_run_of_that_size_alone(self):
        """-s 1200,320 made a 2164x1626 photo 320x241 where -s 320 made it 320x240:
        each output is now the size a run asking for its box alone gives. Small
        shapes with the same rounding (-s 300,80 made 400x202 80x41, -s 80 80x40),
        as JPEG and as PNG, so the test stays quick under the sanitizers."""
        for w, h in ((400, 202), (400, 222)):
            for ext in ("jpg", "png"):
                photo(self.p("src", f"p{w}.{ext}"), (w, h))
        dims = self.output_sizes(("300,80", "300", "80"))
        for name in sorted(os.listdir(self.p("src"))):
            self.assertEqual(dims["300,80", name], dims["300", name] + dims["80", name], name)

    def test_grey_with_alpha_on_a_colour_background(self):
        """A grey photo with transparency made into JPEG on --background '#ff0000'
        came out grey where it was transparent (the red's luma, 54): a grey
        image was flattened on one value. On a colour it becomes a colour JPEG
        now; on a grey background it stays grey."""
        src = self.p("src")
        os.makedirs(src)
        grey = photo(self.p("grey.png"), (60, 40))
        subprocess.run(["vips", "bandjoin_const", grey, os.path.join(src, "ga.png"), "0"],
                       check=True)  # transparent everywhere
        for bg, bands, want in (("#ff0000", "3", [255, 0, 0]), ("#808080", "1", [128])):
            out = self.p("out" + bg[1:])
            r = run(["--no-journal", "-f", "jpeg", "--background", bg, "-o", out, src])
            self.assertEqual(r.returncode, 0, r.stderr)
            made = os.path.join(out, "ga.jpg")
            got = subprocess.run(["vipsheader", "-f", "bands", made], capture_output=True,
                                 text=True, check=True).stdout.strip()
            self.assertEqual(got, bands, bg)
            point = subprocess.run(["vips", "getpoint", made, "5", "5"], capture_output=True,
                                   text=True, check=True).stdout.split()
            for v, w in zip(map(float, point), want):
                self.assertLess(abs(v - w), 6, (bg, point))

    def test_a_thin_image_in_several_sizes(self):
        """-s 4000,7 on a 10000x1 strip failed the file ("cannot make the
        thumbnail", remembered as a decode failure): the 7-wide size, shrunk from
        the 4000x1 master by its one factor (571) on both axes, asked the
        resampler for a kernel 571 rows wide over the one row held at one. Each
        size is now made as alone."""
        for ext, dims in (("png", (10000, 1)), ("jpg", (5000, 3)), ("webp", (2, 9000))):
            photo(self.p("src", "strip." + ext), dims)
        dims = self.output_sizes(("4000,7", "4000", "7", "1000,3", "1000", "3"))
        for a, b in (("4000", "7"), ("1000", "3")):
            for name in sorted(os.listdir(self.p("src"))):
                self.assertEqual(dims[a + "," + b, name], dims[a, name] + dims[b, name],
                                 (a, b, name))

    def test_a_box_the_master_only_touches_is_sized_as_alone(self):
        """-s 164,x16 made a 1000x100 image's x16 thumbnail 164x16, the master made
        for 164, because the master touches the box x16 and fits it; x16 alone
        (and vipsthumbnail) makes 160x16. Each box's output is now the size that
        box alone gives, whichever box the master is made for."""
        for ext in ("jpg", "png"):
            photo(self.p("src", "wide." + ext), (1000, 100))
            photo(self.p("src", "tall." + ext), (100, 1000))
        combos = (("164", "x16"), ("x16", "164"), ("16x", "x164"), ("170x16", "x16"),
                  ("164", "16x200"))
        dims = self.output_sizes({b for c in combos for b in c} | {",".join(c) for c in combos})
        for a, b in combos:
            for name in sorted(os.listdir(self.p("src"))):
                self.assertEqual(dims[a + "," + b, name], dims[a, name] + dims[b, name],
                                 (a, b, name))

    def test_sizes_on_a_tie_are_libvips_sizes(self):
        """A 3:2 photo at an odd height (-s x77: 1800x1200 to 115.5x77) came out
        116x77, vipsthumbnail's 115x77: libvips divides by 1 / (1 / shrink),
        which is not always the shrink, and on a tie that decides. Each
        size is now vipsthumbnail's, through the JPEG, PNG and libvips paths
        (and so the crop of a cover box, which had moved half a pixel)."""
        src = self.p("src")
        for ext in ("jpg", "png", "webp"):
            photo(os.path.join(src, ext, "p." + ext), (1800, 1200))
        for box in ("x77", "x99", "x33", "99x"):
            for ext in ("jpg", "png", "webp"):
                folder = os.path.join(src, ext)
                rep = self.p(f"r-{box}-{ext}.jsonl")
                r = run(["--no-journal", "-s", box, "-o", self.p("o", box, ext), "--report",
                         rep, folder])
                self.assertEqual(r.returncode, 0, r.stderr)
                got = [(o["width"], o["height"]) for rec in map(json.loads, open(rep))
                       if rec.get("type") == "file" for o in rec["outputs"]]
                w, h = box.split("x")
                ref = self.p("ref.png")
                subprocess.run(["vips", "thumbnail", os.path.join(folder, "p." + ext), ref,
                                w or "10000000", "--height", h or "10000000"], check=True)
                want = tuple(int(subprocess.run(["vipsheader", "-f", f, ref],
                                                capture_output=True, text=True,
                                                check=True).stdout) for f in ("width", "height"))
                self.assertEqual(got, [want], (box, ext))

    def test_each_size_the_picture_of_a_run_of_that_size_alone(self):
        """-s 256,64 made a 100x26 image's 64x17 thumbnail with two factors, 100/64
        across and 26/17 down (each from a rounded side), where -s 64 alone (and
        vipsthumbnail) scales by 100/64 both ways: stripes landed elsewhere, 22 dB
        apart. The master here is the image itself (nothing to shrink for 256),
        so the two runs must make the very same pixels for a JPEG, and for a PNG
        (with alpha too) the same within rounding (two resamplers)."""
        src = self.p("small")
        photo(os.path.join(src, "j.jpg"), (100, 26))
        photo(os.path.join(src, "p.png"), (100, 26))
        subprocess.run(["vips", "bandjoin_const", os.path.join(src, "p.png"),
                        os.path.join(src, "a.png"), "200"], check=True)
        for sizes in ("256,64", "64"):
            r = run(["--no-journal", "-f", "png", "-s", sizes, "-o", self.p("o" + sizes), src])
            self.assertEqual(r.returncode, 0, r.stderr)
        made_alone = sorted(n for n in os.listdir(self.p("o64")) if not n.startswith("."))
        self.assertEqual(made_alone, ["a.png", "j.png", "p.png"])
        for made in made_alone:
            alone, multi = self.p("o64", made), self.p("o256,64", made.replace(".", "_64.", 1))
            if made == "j.png":
                with open(alone, "rb") as f, open(multi, "rb") as g:
                    self.assertEqual(f.read(), g.read(), made)
                continue
            # PNG: alone, our own PNG path resamples; from a master, our reduce
            # (libvips with alpha): the same picture within rounding, a level on
            # average and a few at worst on this noise (3 seen now and then: the
            # noise is new each run); the stretch was tens of levels everywhere
            d = self.p("d.v")
            subprocess.run(["vips", "subtract", multi, alone, d], check=True)
            subprocess.run(["vips", "abs", d, self.p("e.v")], check=True)

            def stat(op):
                return float(subprocess.run(["vips", op, self.p("e.v")], capture_output=True,
                                            text=True, check=True).stdout)
            self.assertLessEqual(stat("max"), 4, made)
            self.assertLessEqual(stat("avg"), 1, made)

    def test_a_ctrl_z_longer_than_the_timeout_fails_nothing(self):
        """Ctrl-Z (the whole process group stopped) for longer than --timeout: the
        first turn of the pool after fg killed the files then running as timed out,
        before reading the results their workers sent as they resumed."""
        for i in range(24):
            photo(self.p("src", "p%02d.jpg" % i), (1600, 1200))
        # --timeout 5: room for a sanitizer build, where a file takes far longer
        p = subprocess.Popen([IMGPOOL, "-j2", "--timeout", "5", "--retries", "0",
                              "--progress", "none", "-o", self.p("out"), self.p("src")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            self.assertTrue(p.stdout.readline().startswith(b"ok "))  # files are running
            os.killpg(p.pid, signal.SIGSTOP)
            time.sleep(6)  # longer than the timeout
            os.killpg(p.pid, signal.SIGCONT)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        self.assertEqual(error_lines(err.decode(errors="replace")), {})

    def test_a_mistyped_path_leaves_no_output_folder(self):
        """A run that made its output folder and found no input (a mistyped PATH)
        takes the folder back: ./thumbs/.imgpool was left behind, and -o a/b/c made
        three folders. One that answered a file keeps it: the failure is recorded
        so that the next run skips the unchanged file."""
        os.makedirs(self.p("cwd"))
        r = run(["nothere.jpg"], cwd=self.p("cwd"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothere.jpg", error_lines(r.stderr))
        self.assertEqual(os.listdir(self.p("cwd")), [])
        r = run(["-o", self.p("a", "b", "c"), self.p("nothere"), self.p("nor-this.png")])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(sorted(error_lines(r.stderr)), ["nor-this.png", "nothere"])
        self.assertFalse(os.path.lexists(self.p("a")))
        # An empty folder as the only PATH: nothing to make, nothing left.
        os.makedirs(self.p("empty"))
        self.assertEqual(run(["-o", self.p("new"), self.p("empty")]).returncode, 0)
        self.assertFalse(os.path.lexists(self.p("new")))
        # OUT was there before (a photo folder given as -o by mistake): it stays
        # as it is, and the .imgpool the run made there goes: left there, it made
        # the folder an output folder, refused as input ever after. An earlier
        # run's .imgpool stays.
        os.makedirs(self.p("there"))
        with open(self.p("there", "dog.jpg"), "wb") as f:
            f.write(b"the user's photo")
        self.assertEqual(run(["-o", self.p("there"), self.p("nothere")]).returncode, 1)
        self.assertEqual(os.listdir(self.p("there")), ["dog.jpg"])
        # Also when it stopped before its journal opened: here a --report that
        # cannot be opened (past the check of its folder), in a folder that was
        # there and in a new one (its lock files were left, and the next run
        # warned of a lost journal).
        for out in ("there", "new-rep"):
            r = run(["-o", self.p(out), "--report", "/proc/version", self.p("nothere")])
            self.assertEqual(r.returncode, 1, r.stderr)  # --help: could not be written
            self.assertIn("/proc/version", r.stderr)
        self.assertEqual(os.listdir(self.p("there")), ["dog.jpg"])
        self.assertFalse(os.path.lexists(self.p("new-rep")))
        os.makedirs(self.p("there", ".imgpool"))
        self.assertEqual(run(["-o", self.p("there"), self.p("nothere")]).returncode, 1)
        self.assertTrue(os.path.isdir(self.p("there", ".imgpool")))
        self.assertEqual(run(["-o", self.p("there"), "--report", "/proc/version",
                              self.p("nothere")]).returncode, 1)
        self.assertTrue(os.path.isdir(self.p("there", ".imgpool")))
        # A report asked for inside the new folder keeps it.
        r = run(["-o", self.p("rep"), "--report", self.p("rep", "r.jsonl"), self.p("nothere")])
        self.assertEqual(r.returncode, 1)
        self.assertTrue(os.path.isfile(self.p("rep", "r.jsonl")))
        # A file that failed is recorded: the folder stays, the next run skips it.
        os.makedirs(self.p("src"))
        with open(self.p("src", "bad.jpg"), "wb") as f:
            f.write(b"not a jpeg at all")
        r = run(["-o", self.p("out"), self.p("src")])
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.jpg", error_lines(r.stderr))
        self.assertTrue(os.path.isdir(self.p("out", ".imgpool")))
        r = run(["-o", self.p("out"), self.p("src")])
        self.assertIn("1 of the failures failed earlier and is unchanged", r.stdout)
        # A shard never takes the folder back: its sisters may be writing there.
        r = run(["-o", self.p("sh"), "--shard", "1/2", self.p("nothere")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(os.path.isdir(self.p("sh", ".imgpool")))

    def test_the_journal_is_never_writable_by_others(self):
        """Under umask 000 (a root crontab's, say) .imgpool was 0777 and its lock
        files 0666: any user could have replaced the journal, which says what
        imgpool made and so may replace or delete. The thumbnails keep the umask,
        as cp's copies do."""
        photo(self.p("src", "a.jpg"))
        r = subprocess.run([IMGPOOL, "-q", "-o", self.p("out"), self.p("src")],
                           capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: os.umask(0))
        self.assertEqual(r.returncode, 0, r.stderr)
        for top, dirs, files in os.walk(self.p("out", ".imgpool")):
            for name in [top] + [os.path.join(top, f) for f in files]:
                self.assertEqual(os.lstat(name).st_mode & 0o022, 0, name)
        self.assertEqual(os.stat(self.p("out", "a.jpg")).st_mode & 0o777, 0o666)

    def test_imgpool_folder_on_another_filesystem_is_said_at_once(self):
        """OUT/.imgpool a mount point of its own: every file was decoded, then
        failed "on another filesystem". It is one error before any work now."""
        photo(self.p("src", "a.jpg"))
        os.makedirs(self.p("out", ".imgpool"))
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                           self.p("out", ".imgpool")], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here (not root?)")
        try:
            r = run(["-o", self.p("out"), self.p("src")])
        finally:
            subprocess.run(["umount", self.p("out", ".imgpool")], check=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is on another filesystem than", r.stderr)
        self.assertNotIn("a.jpg", r.stderr + r.stdout)
        self.assertFalse(os.path.exists(self.p("out", "a.jpg")))

    def test_help_says_w_and_h_are_the_box(self):
        """{w}/{h} are the box asked for, not the image: --help and the man page
        say so (the parent plans names before any decode)."""
        r = run(["--help"])
        self.assertIn("{w} {h}", r.stdout)
        self.assertIn("box asked for", r.stdout)
        man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imgpool.1")
        if os.path.exists(man):
            with open(man) as f:
                self.assertIn("box\nasked for", f.read())

    def test_a_photo_swapped_and_back_while_its_task_waits(self):
        """a.jpg was found, then swapped for another file while its task waited
        (the worker held by SIGSTOP), and put back after the worker had read it.
        The worker read whatever was at the path: another photo's thumbnail was
        recorded under a.jpg's own size and time (skipped for good), a damaged
        file or a FIFO made the good photo "failed earlier" for good. Now the
        worker checks the file is the one found: an error of kind environment,
        not remembered, and the next run makes the right thumbnail."""
        other = photo(self.p("other.jpg"), (60, 120))
        with open(self.p("damaged.jpg"), "wb") as f, open(photo(self.p("d.jpg"), (200, 100)),
                                                         "rb") as g:
            f.write(g.read()[:400])
        for swap in ("another photo", "a damaged file", "a FIFO"):
            with self.subTest(swap=swap):
                src, out = self.p("src-" + swap[2:5]), self.p("out-" + swap[2:5])
                a = photo(os.path.join(src, "a.jpg"), (200, 100))
                photo(os.path.join(src, "warm.jpg"))
                past = time.time() - 3600
                for n in ("a.jpg", "warm.jpg"):
                    os.utime(os.path.join(src, n), (past, past))
                r1 = self.p("r1-" + swap[2:5] + ".jsonl")
                proc = subprocess.Popen([IMGPOOL, "-j1", "-q", "--files-from", "-", "--base",
                                         src, "--report", r1, "-o", out],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                proc.stdin.write(b"warm.jpg\n")
                proc.stdin.flush()

                def reported(name):
                    end = time.monotonic() + 30
                    while time.monotonic() < end:
                        if os.path.exists(r1):
                            with open(r1) as f:
                                if name in f.read():
                                    return
                        time.sleep(0.02)
                    self.fail(name + " never answered")
                reported("warm.jpg")
                worker = sorted(self.children_of(proc.pid))[0]
                os.kill(worker, signal.SIGSTOP)
                proc.stdin.write(b"a.jpg\n")
                proc.stdin.flush()
                time.sleep(0.5)  # found (stat) and handed to the stopped worker
                os.rename(a, a + ".keep")
                if swap == "a FIFO":
                    os.mkfifo(a)
                else:
                    shutil.copy2(other if swap == "another photo" else self.p("damaged.jpg"), a)
                os.kill(worker, signal.SIGCONT)
                reported("a.jpg")
                os.unlink(a)
                os.rename(a + ".keep", a)
                proc.communicate(timeout=60)  # closes the list
                with open(r1) as f:
                    recs = [json.loads(l) for l in f if '"a.jpg"' in l or "/a.jpg" in l]
                rec = [x for x in recs if x["type"] == "file"][0]
                self.assertEqual((rec["status"], rec.get("kind")), ("error", "environment"), rec)
                self.assertIn("replaced since it was found", rec["error"])
                r = run(["-q", "-o", out, src])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(subprocess.run(["vipsheader", "-f", "width", os.path.join(
                    out, "a.jpg")], capture_output=True, text=True).stdout.strip(), "200")

    def test_temp_folder_deleted_during_the_run_stops_it(self):
        """OUT/.imgpool/tmp-all, where the workers write, deleted while a run
        goes: every later file failed on its own with "cannot create the
        thumbnail file: No such file or directory", naming nothing, and the run
        went on. Now the run stops, says why once, and the files it did not start
        are errors naming the temp folder, as for a deleted journal."""
        one = photo(self.p("one.jpg"), (1600, 1000))
        linked_photos(self.p("src"), one, 120)
        out, rep = self.p("out"), self.p("r.jsonl")
        proc = subprocess.Popen([IMGPOOL, "-j1", "-q", "--report", rep, "-o", out,
                                 self.p("src")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        tmp = os.path.join(out, ".imgpool", "tmp-all")
        end = time.monotonic() + 60
        while time.monotonic() < end and not (os.path.exists(rep) and os.path.getsize(rep)):
            time.sleep(0.005)
        while os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        _, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 1, err)
        stop = [l for l in err.splitlines() if l.startswith("imgpool: stopped: the temp folder")]
        self.assertEqual(len(stop), 1, err)
        with open(rep) as f:
            files = [x for x in map(json.loads, f) if x["type"] == "file"]
        self.assertEqual(len(files), 120)
        named = [x for x in files if "the temp folder" in (x.get("error") or "")]
        self.assertGreater(len(named), 0, files[-1])



    def test_a_mistyped_path_leaves_thumbs_alone(self):
        """imgpool -q Photos-typo in a folder holding the cron's thumbs/ took
        ./thumbs (the default beside a file), locked it and recorded itself as
        its last run. A missing PATH is passed over; with none there the run
        makes and takes back Photos-typo-thumbs, and touches nothing else."""
        work = self.p("work")
        photo(os.path.join(work, "Photos", "a.jpg"))
        self.assertEqual(run(["-q", "-o", "thumbs", "Photos"], cwd=work).returncode, 0)
        journal = os.path.join(work, "thumbs", ".imgpool", "journal.sqlite")
        before = os.stat(journal).st_mtime_ns
        r = run(["-q", "Photos-typo"], cwd=work)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Photos-typo: No such file or directory", r.stderr)
        self.assertEqual(sorted(os.listdir(work)), ["Photos", "thumbs"])
        self.assertEqual(os.stat(journal).st_mtime_ns, before)
        status = run(["status", "thumbs"], cwd=work).stdout
        self.assertIn("1 done, 0 failed", status)
        # a missing one first, then a folder: that folder's -thumbs
        r = run(["-q", "nope", "Photos"], cwd=work)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(work, "Photos-thumbs", "a.jpg")))
        # a shard cannot take its folder back (its sisters may be at work there),
        # and a list's own inputs went to the typo's -thumbs: both refused
        with open(os.path.join(work, "list"), "w") as f:
            f.write("Photos/a.jpg\n")
        for args in (["--shard", "1/2", "Photos-typo"], ["--files-from", "list", "Photos-typo"]):
            r = run(["-q"] + args, cwd=work)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("Photos-typo: No such file or directory; the output folder is chosen "
                          "beside the first PATH there: give -o DIR", r.stderr)
            self.assertEqual(sorted(os.listdir(work)), ["Photos", "Photos-thumbs", "list", "thumbs"])


    def test_status_follows_a_symlink_to_the_output_folder(self):
        """status only reads: through a symlink to OUT it said "no journal" of a
        folder that has one; what it cannot open, it now says why."""
        work = self.p("work")
        photo(os.path.join(work, "in", "a.jpg"))
        self.assertEqual(run(["-q", "-o", "out", "in"], cwd=work).returncode, 0)
        os.symlink("out", os.path.join(work, "link"))
        for name in ("link", "link/", "link/."):
            r = run(["status", name], cwd=work)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("1 ok", r.stdout)
        r = run(["status", "in/a.jpg"], cwd=work)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not a folder", r.stderr)
        # its arguments: an option it does not know is named as one (-j out said
        # "unexpected 'out'", -x "no journal in -x/.imgpool"), a missing folder
        # is said missing, and "out/" is not shown "out//.imgpool"
        for args, code, want in ((["-j", "out"], 2, "unknown option '-j'"),
                                 (["-x"], 2, "unknown option '-x'"),
                                 (["--bogus", "out"], 2, "unknown option '--bogus'"),
                                 (["out", "more"], 2, "unexpected 'more'"),
                                 (["--json=1", "out"], 2, "--json takes no value"),
                                 (["--help=1"], 2, "--help takes no value"),
                                 (["out=x", "-Zq"], 2, "unknown option '-Z'"),
                                 (["nosuch"], 1, "nosuch: No such file or directory")):
            r = run(["status"] + args, cwd=work)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertIn(want, r.stderr)
        r = run(["status", "out/"], cwd=work)
        self.assertIn("out/.imgpool/journal.sqlite: 1 ok", r.stdout)
        r = run(["status", "--", "out"], cwd=work)
        self.assertEqual(r.returncode, 0, r.stderr)


    def test_no_journal_says_why_its_own_thumbnail_is_kept(self):
        """--no-journal replaces nothing, its own thumbnails of an earlier run
        too: the error called such a thumbnail "not made by imgpool"."""
        src, out = self.p("src"), self.p("out")
        photo(os.path.join(src, "a.jpg"))
        self.assertEqual(run(["-q", "--no-journal", "-o", out, src]).returncode, 0)
        later = time.time() + 100  # edited since: to be made again
        os.utime(os.path.join(src, "a.jpg"), (later, later))
        r = run(["--no-journal", "-o", out, src])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot be shown imgpool's without a journal (--no-journal); "
                      "--overwrite replaces it", r.stderr)
        self.assertNotIn("not made by imgpool", r.stderr)


    def test_fail_on_and_an_auto_subsample_remake_nothing(self):
        """Adding --fail-on none to rescue one cut-short photo made every good
        thumbnail again (it was a setting of the fingerprint); it decides only
        whether a damaged file fails: the cut one is tried again, the rest are
        up to date. --subsample on at the default quality is libvips' auto there
        (4:2:0): up to date too."""
        src, out = self.p("src"), self.p("out")
        for n in ("a", "b"):
            photo(os.path.join(src, n + ".jpg"), (640, 480))
        whole = self.p("whole.jpg")
        subprocess.run(["vips", "copy", photo(self.p("p640.jpg"), (640, 480)),
                        whole + "[interlace,Q=90]"], check=True)
        open(os.path.join(src, "cut.jpg"), "wb").write(open(whole, "rb").read()[:450])
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        r = run(["--fail-on", "none", "-o", out, src])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 done, 0 failed, 2 skipped", r.stdout)
        r = run(["--fail-on", "none", "--subsample", "on", "-o", out, src])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 done, 0 failed, 3 skipped", r.stdout)


    def test_status_after_a_folder_rename_and_a_failed_file_deleted(self):
        """mv MV MV2 and a run on MV2: its thumbnails were adopted, and the rows
        of MV/* stayed for good (--prune walks the PATHs given): status said 4
        ok for 2 files. A failed file deleted since was listed as failing."""
        work = self.p("work")
        for n in ("a", "b"):
            photo(os.path.join(work, "MV", n + ".jpg"))
        with open(os.path.join(work, "MV", "bad.jpg"), "wb") as f:
            f.write(b"\xff\xd8 not a jpeg")
        self.assertEqual(run(["-q", "-o", "t", "MV"], cwd=work).returncode, 1)
        os.rename(os.path.join(work, "MV"), os.path.join(work, "MV2"))
        os.unlink(os.path.join(work, "MV2", "bad.jpg"))
        r = run(["-o", "t", "MV2"], cwd=work)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 existing thumbnails adopted", r.stdout)
        status = run(["status", "t"], cwd=work).stdout
        self.assertIn(": 2 ok, 1 failed", status)
        self.assertIn("gone   " + os.path.join(work, "MV", "bad.jpg"), status)
        got = json.loads(run(["status", "t", "--json"], cwd=work).stdout)
        failed = got["journals"][0]["failures"]
        self.assertEqual([(f["gone"]) for f in failed], [True], got)


    def test_many_more_workers_than_cpus_is_said(self):
        """-j 100 on 2 CPUs started 100 workers for 2 files (0.45 s, against 0.05 s
        at -j 2) without a word."""
        photo(self.p("src", "a.jpg"))
        one_cpu = lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        env = {k: v for k, v in os.environ.items() if k != "SLURM_CPUS_PER_TASK"}
        for jobs, said in (("5", True), ("4", False)):
            r = subprocess.run([IMGPOOL, "-j", jobs, "-o", self.p("out" + jobs), self.p("src")],
                               capture_output=True, text=True, timeout=120,
                               preexec_fn=one_cpu, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(f"-j {jobs} starts {jobs} workers on 1 CPU:" in r.stderr, said,
                             r.stderr)


class SignalsInherited(unittest.TestCase):
    """What imgpool's starter did to its signals. `nohup imgpool …` (SIGHUP
    ignored): imgpool put its own stop over it, and the end of the session
    stopped the batch. A TERM blocked by the starter (the mask is inherited
    across exec) stayed pending for ever: the run went on to its end. The run
    waits on a --files-from pipe: its first file listed and its worker started,
    the signal comes, then the second file is listed."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgpool-signals-")
        for name in ("a.jpg", "b.jpg"):
            photo(os.path.join(self.tmp, "src", name))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_signalled(self, sig, preexec):
        proc = subprocess.Popen([IMGPOOL, "-j1", "--progress", "none", "--files-from", "-",
                                 "-o", os.path.join(self.tmp, "out")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=preexec,
                                cwd=os.path.join(self.tmp, "src"))
        try:
            proc.stdin.write(b"a.jpg\n")
            proc.stdin.flush()
            end = time.monotonic() + 60  # its worker forked: its handlers are set
            while not children_of(proc.pid) and time.monotonic() < end:
                time.sleep(0.02)
            self.assertTrue(children_of(proc.pid), "no worker started")
            proc.send_signal(sig)
            time.sleep(0.3)
            out, err = proc.communicate(b"b.jpg\n", timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, out, err

    def test_nohup_keeps_sighup_ignored(self):
        rc, out, err = self.run_signalled(
            signal.SIGHUP, lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count(b"ok "), 2, out + err)

    def test_a_blocked_sigterm_still_stops_the_run(self):
        rc, out, err = self.run_signalled(
            signal.SIGTERM, lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}))
        self.assertEqual(rc, 128 + signal.SIGTERM, out + err)
        self.assertIn(b"interrupted by SIGTERM", out + err)


class TotalsWithAList(unittest.TestCase):
    """--files-from with a folder PATH, stopped: the counting walk counted the
    PATH alone and said it was the total (1 file where 128 were answered), and
    "0 not started" of a run that had most of its list left. A list is not
    counted ahead: the total is unknown (null) until the run's walk ends."""

    def test_a_stop_does_not_take_the_paths_for_the_total(self):
        tmp = tempfile.mkdtemp(prefix="imgpool-totals-")
        self.addCleanup(shutil.rmtree, tmp, True)
        one = photo(os.path.join(tmp, "a", "one.jpg"))
        listed = os.path.join(tmp, "listed")
        big = photo(os.path.join(listed, "p000.jpg"), (1600, 1200))
        names = ["p000.jpg"]
        for i in range(1, 150):
            names.append("p%03d.jpg" % i)
            shutil.copyfile(big, os.path.join(listed, names[-1]))
        with open(os.path.join(tmp, "list"), "w") as f:
            f.write("".join(os.path.join(listed, n) + "\n" for n in names))
        rep = os.path.join(tmp, "r.jsonl")
        proc = subprocess.Popen([IMGPOOL, "-j1", "--progress", "none", "--base", "/",
                                 "--files-from", os.path.join(tmp, "list"), "--report", rep,
                                 "-o", os.path.join(tmp, "out"), os.path.dirname(one)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3):
            proc.stdout.readline()  # a few files done
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        files = [r for r in recs if r["type"] == "file"]
        summary = recs[-1]
        self.assertEqual(summary["type"], "summary")
        if summary["total"] is not None:  # the list read to its end: exact then
            self.assertEqual(summary["total"], len(files) + summary["not_started"], summary)
        self.assertEqual(proc.returncode, 130, err)

if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
