#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_writes_traced.py IMGPOOL — the first promise, seen from the kernel: every
file imgpool or one of its workers (and the libraries they run: libvips, its
loaders, liborc's code generator, SQLite) creates, opens for writing, truncates,
renames, links, deletes or changes the times, mode, owner or attributes of lies
beneath the output folder, bar the --report file.

Each run is traced with `strace -ff -y` (every process, into a file of its own so
that no call is split across lines; every file descriptor shown with its path)
and each call that changes the file system is resolved to the paths it touches:
the descriptor's path for *at() calls and for what open() returns,
"/proc/self/fd/N/..." through what that thread opened at that path or had open
as N (anything else is unknown, and fails the test).

Runs, over a folder of every format the corpus has (JPEG, PNG, WebP, TIFF, HEIC,
GIF) and hostile neighbours (a symlink to a file outside, a damaged JPEG):
a first run, an up-to-date second run, a forced run with two sizes and
--keep-metadata (the libvips path), and --prune after an input is deleted.
Skipped without strace, where it cannot trace (no ptrace), or without the corpus.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

IMGPOOL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "imgpool"
CORPUS = os.environ.get("IMGPOOL_CORPUS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpus", "photos")
CALLS = ("open,openat,openat2,creat,truncate,ftruncate,unlink,unlinkat,rename,renameat,"
         "renameat2,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat,mknod,mknodat,"
         "utimensat,utimes,utime,futimesat,chmod,fchmod,fchmodat,chown,fchown,lchown,"
         "fchownat,setxattr,lsetxattr,fsetxattr,removexattr,lremovexattr,fremovexattr")
# Written to, harmlessly: not files of anyone's.
DEVICES = ("/dev/null", "/dev/tty", "/dev/pts/")
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")

LINE = re.compile(r"^(\w+)\((.*)\) += (-?\d+)(<[^>]*>)?")
FD_PATH = re.compile(r"(AT_FDCWD|-?\d+)<([^>]*)>")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape").encode(
        "latin-1").decode("utf-8", "surrogateescape")


def touched(trace_prefix):
    """(pid, call, path) of each successful call that changes the file system:
    absolute paths, resolved as the kernel did (as far as strace shows)."""
    out = []
    folder, base = os.path.split(trace_prefix)
    for name in sorted(os.listdir(folder)):
        if name.startswith(base + "."):
            out += touched_by(os.path.join(folder, name), name[len(base) + 1:])
    return out


def touched_by(trace_path, pid):
    """touched() for the trace of one process."""
    fds = {}            # (pid, fd) -> path, from open*() returns
    opened = {}         # a path as given to open*() -> the path it opened
    out = []
    with open(trace_path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            call, args, ret, ret_path = m.groups()
            if int(ret) < 0:
                continue
            if ret_path and call.startswith(("open", "creat")):
                fds[(pid, ret)] = ret_path[1:-1]
                for s in STRING.findall(args)[:1]:
                    opened[unescape(s)] = ret_path[1:-1]
            # dirfd paths in the order given, and the string arguments
            dirs = FD_PATH.findall(args)
            names = [unescape(s) for s in STRING.findall(args)]
            if call.startswith(("open", "creat")):
                if call != "creat" and not any(fl in args for fl in WRITE_FLAGS):
                    continue
                # what was opened, resolved by the kernel
                out.append((pid, call, ret_path[1:-1] if ret_path else names[0]))
                continue
            paths = []
            if not names and dirs:
                # on a descriptor alone (fchmod, futimens, ftruncate...): its file
                paths.append(dirs[0][1])
            for i, name in enumerate(names):
                if call in ("symlink", "symlinkat") and i == 0:
                    continue        # a symlink's target is text, not touched
                if name in opened:      # made by this thread: mkstemp(), unlink()
                    paths.append(opened[name])
                elif name.startswith("/proc/self/fd/"):
                    n, _, rest = name[len("/proc/self/fd/"):].partition("/")
                    base = fds.get((pid, n), name)
                    paths.append(os.path.join(base, rest))
                elif os.path.isabs(name):
                    paths.append(name)
                else:
                    # *at(): the dirfd before this name; plain calls: the cwd
                    base = dirs[min(i, len(dirs) - 1)][1] if dirs else None
                    paths.append(os.path.join(base, name) if base else name)
            for p in paths:
                out.append((pid, call, p))
    return out


def can_trace():
    if not shutil.which("strace"):
        return "strace is not installed"
    r = subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True)
    return None if r.returncode == 0 else "strace cannot trace here: " + r.stderr.decode()


@unittest.skipIf(can_trace(), can_trace() or "")
@unittest.skipUnless(os.path.isdir(CORPUS), "no corpus at " + CORPUS)
class WritesTraced(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgpool-traced-")
        self.src = os.path.join(self.tmp, "in")
        self.out = os.path.join(self.tmp, "out")
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(self.src, "sub"))
        os.makedirs(self.outside)
        picked = {}
        for name in sorted(os.listdir(CORPUS)):
            ext = name.rsplit(".", 1)[-1].lower()
            if ext in ("jpg", "png", "webp", "tif", "tiff", "heic", "gif") and \
                    len(picked.setdefault(ext, [])) < 2:
                picked[ext].append(name)
        for i, name in enumerate(n for names in picked.values() for n in names):
            dest = os.path.join(self.src, "sub" if i % 2 else "", name)
            shutil.copyfile(os.path.join(CORPUS, name), dest)
        first_jpg = os.path.join(CORPUS, picked["jpg"][0])
        with open(first_jpg, "rb") as f:
            data = f.read()
        with open(os.path.join(self.src, "cut.jpg"), "wb") as f:
            f.write(data[:len(data) // 3])
        shutil.copyfile(first_jpg, os.path.join(self.outside, "elsewhere.jpg"))
        os.symlink(os.path.join(self.outside, "elsewhere.jpg"),
                   os.path.join(self.src, "link.jpg"))
        self.report = os.path.join(self.tmp, "report.jsonl")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def traced(self, *args):
        traces = tempfile.mkdtemp(dir=self.tmp)
        trace = os.path.join(traces, "trace")
        r = subprocess.run(["strace", "-ff", "-qq", "-y", "-s", "4096", "-e",
                            "trace=" + CALLS, "-o", trace, IMGPOOL, "-r", "-j", "2", "-q",
                            "--report", self.report, "-o", self.out] + list(args) +
                           [self.src], capture_output=True, timeout=600)
        self.assertIn(r.returncode, (0, 1), r.stderr.decode(errors="replace"))
        calls = touched(trace)
        self.assertGreater(len(calls), 5, "the trace caught nothing: is -y working?")
        out = os.path.realpath(self.out) + os.sep
        bad = [(pid, call, p) for pid, call, p in calls
               if not (os.path.realpath(p) + os.sep).startswith(out) and
               os.path.realpath(p) != os.path.realpath(self.report) and
               not p.startswith(DEVICES)]
        self.assertEqual(bad, [], "touched outside the output folder")
        return r

    def test_every_run_writes_beneath_the_output_folder(self):
        self.traced()
        self.traced()                                   # up to date
        self.traced("--force", "-s", "64,200", "--keep-metadata")
        os.unlink(os.path.join(self.src, "sub", sorted(os.listdir(
            os.path.join(self.src, "sub")))[0]))
        self.traced("--prune")

    def test_every_output_is_on_disk_before_it_is_published(self):
        """An output is the complete new file or absent, also after a power cut:
        each temp file imgpool renames into the output tree was fsync'd (by
        whichever process or thread: the parent's outsync thread does it) and
        that fsync had returned 0 before the rename began."""
        trace = os.path.join(self.tmp, "sync-trace")
        r = subprocess.run(["strace", "-f", "-qq", "-y", "-ttt", "-s", "4096", "-e",
                            "trace=fsync,fdatasync,renameat2,renameat,rename", "-o", trace,
                            IMGPOOL, "-r", "-j", "2", "-q", "-s", "64,200", "-o", self.out,
                            self.src], capture_output=True, timeout=600)
        self.assertIn(r.returncode, (0, 1), r.stderr.decode(errors="replace"))
        synced = {}     # path -> when its fsync returned 0
        pending = {}    # pid -> the path of its unfinished fsync
        renames = []    # (when, source path, line)
        call = re.compile(r"^(\d+)\s+([\d.]+)\s+(.*)$")
        for line in open(trace, errors="replace"):
            m = call.match(line)
            if not m:
                continue
            pid, when, rest = m.group(1), float(m.group(2)), m.group(3)
            fs = re.match(r"f(?:data)?sync\(\d+<([^>]*)>", rest)
            if fs:
                if "<unfinished" in rest:
                    pending[pid] = fs.group(1)
                elif rest.strip().endswith("= 0"):
                    synced.setdefault(unescape(fs.group(1)), when)
                continue
            if rest.startswith("<... fsync resumed>") or \
                    rest.startswith("<... fdatasync resumed>"):
                if pid in pending and rest.strip().endswith("= 0"):
                    synced.setdefault(unescape(pending.pop(pid)), when)
                continue
            rn = re.match(r'renameat2?\(\d+<(.*?)>, "((?:[^"\\]|\\.)*)"', rest)
            # a folder made aside and renamed into place empty has no bytes to sync
            if rn and ".imgpool/tmp-" in rn.group(1) and \
                    not re.fullmatch(r"folder-\d+-\d+", unescape(rn.group(2))):
                renames.append((when, os.path.join(unescape(rn.group(1)),
                                                   unescape(rn.group(2))), line))
        self.assertGreater(len(renames), 5, "no publish seen: is -y working?")
        late = [line for when, src, line in renames
                if src not in synced or synced[src] > when]
        self.assertEqual(late, [], "published before its fsync returned")

    def test_noexec_output_folder(self):
        """On a noexec output folder liborc cannot map its code file from there
        and would take $HOME: libvips' vector paths are off there instead. Needs
        root (a tmpfs mounted noexec); skipped otherwise."""
        os.makedirs(self.out)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "noexec,size=256m", "tmpfs",
                            self.out], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a noexec tmpfs here: " + r.stderr.decode())
        try:
            self.traced("--keep-metadata")
        finally:
            subprocess.run(["umount", "-l", self.out], capture_output=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
