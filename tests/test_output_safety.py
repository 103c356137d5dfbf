#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end reproducers of the output-safety promise: imgpool writes, renames or
deletes only beneath its output folder, never through a symlink, and never a file
it cannot show it made. One test per way it was once broken.

Run by CTest as: test_output_safety.py IMGPOOL [unittest arguments]
Stdlib only (unittest); images are made with the `vips` command-line tool.
"""
import fcntl
import hashlib
import json
import os
import shutil
import struct
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_behaviour import children_of  # noqa: E402  (the pids of a process's children)

IMGPOOL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "imgpool"


def run(args, cwd=None, timeout=300, prefix=(), **kw):
    return subprocess.run(list(prefix) + [IMGPOOL] + [os.fsencode(a) if isinstance(a, bytes)
                                                      else a for a in args],
                          capture_output=True, cwd=cwd, timeout=timeout, **kw)


def vips(*args):
    subprocess.run(["vips"] + list(args), check=True, capture_output=True)


_cache = {}


def jpeg(path, w=64, h=48, mean=128):
    """A small noise JPEG with the given mean grey (made once per shape, then copied)."""
    key = (w, h, mean)
    if key not in _cache:
        d = tempfile.mkdtemp(prefix="imgpool-safety-img-")
        v = os.path.join(d, "n.v")
        vips("gaussnoise", v, str(w), str(h), "--mean", str(mean), "--sigma", "4")
        out = os.path.join(d, "img.jpg")
        vips("cast", v, out + "[Q=90]", "uchar")
        _cache[key] = out
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    shutil.copyfile(_cache[key], path)


def mean_of(path):
    out = subprocess.run(["vips", "avg", path], capture_output=True, text=True, check=True)
    return float(out.stdout)


def sleeping(pid):
    """pid is in nanosleep() or clock_nanosleep() (x86-64 numbers; elsewhere
    never, and the caller's wait runs out)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] in ("35", "230")
    except (OSError, IndexError):
        return False


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(root):
    """Every entry under root (not following symlinks): kind and content hash."""
    seen = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                seen[p] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                seen[p] = ("dir",)
            else:
                seen[p] = ("file", digest(p))
    return seen


def outputs_in(out):
    """Files in OUT outside .imgpool, relative to OUT."""
    found = set()
    for dirpath, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if d != ".imgpool"]
        for f in files:
            found.add(os.path.relpath(os.path.join(dirpath, f), out))
    return found


class SafetyCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgpool-safety-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def ok(self, r, codes=(0,)):
        self.assertIn(r.returncode, codes, (r.stdout + r.stderr).decode(errors="replace"))
        return r

    def no_dac(self, args):
        """run() where a folder's permission bits hold, also for root: its
        override of them dropped (as root, the sandbox of CI)."""
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                self.skipTest("needs setpriv as root")
            return run(args, prefix=["setpriv", "--bounding-set",
                                     "-dac_override,-dac_read_search", "--"])
        return run(args)


class TestPruneNames(SafetyCase):
    def test_newline_names_prune_from_another_folder(self):
        """A photo named 'y\\n.bashrc\\nreport.docx\\nz.jpg' and one in a folder 'x\\n':
        --prune from a cron job's $HOME deletes only their thumbnails."""
        home, src = self.path("home"), self.path("home", "photos")
        os.makedirs(src)
        for name in (".bashrc", "report.docx", "photo.jpg"):
            with open(os.path.join(home, name), "w") as f:
                f.write("precious " + name)
        jpeg(os.path.join(src, "photo.jpg"))
        jpeg(os.path.join(src, "y\n.bashrc\nreport.docx\nz.jpg"))
        jpeg(os.path.join(src, "x\nphoto.jpg"))
        jpeg(os.path.join(src, "x\n", "deep.jpg"))
        work = self.path("work")
        os.makedirs(work)
        # a relative -o, typed in another folder
        self.ok(run(["-r", "-q", "-o", "../thumbs", src], cwd=work))
        out = self.path("thumbs")
        self.assertEqual(outputs_in(out), {"photo.jpg", "y\n.bashrc\nreport.docx\nz.jpg",
                                           "x\nphoto.jpg", "x\n/deep.jpg"})
        before = snapshot(home)
        for name in ("y\n.bashrc\nreport.docx\nz.jpg", "x\nphoto.jpg", "x\n/deep.jpg"):
            os.unlink(os.path.join(src, name))
        for name in ("y\n.bashrc\nreport.docx\nz.jpg", "x\nphoto.jpg", "x\n/deep.jpg"):
            del before[os.path.join(src, name)]
        r = self.ok(run(["-r", "-q", "--prune", "-o", out, src], cwd=home))
        self.assertEqual(snapshot(home), before, "nothing outside OUT changed")
        self.assertEqual(outputs_in(out), {"photo.jpg"}, r.stdout)


    def test_folder_behind_a_symlink_is_not_gone(self):
        """A photo folder replaced by a symlink (to a disk not mounted now: dangling;
        or to another folder) is not walked, and its photos are not gone: --prune
        deleted every thumbnail of a dangling one, since lstat() of the whole path
        followed the symlink and said ENOENT. A folder that no longer exists, or is
        a file now (nothing can be beneath a file), takes its thumbnails with it.
        The kept thumbnails are said, once per symlink, with exit 1: they were kept
        silently for ever, and once the user deletes them the warning stops."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "keep.jpg"))
        for i in range(3):
            jpeg(os.path.join(src, "trip", f"t{i}.jpg"))
            jpeg(os.path.join(src, "trip", "day 2", f"d{i}.jpg"))
        self.ok(run(["-r", "-q", "-o", out, src]))
        made = outputs_in(out)
        self.assertEqual(len(made), 7)
        elsewhere = self.path("elsewhere")
        os.makedirs(elsewhere)
        shutil.move(os.path.join(src, "trip"), self.path("trip-saved"))
        for swap in ("dangling", "other folder"):
            trip = os.path.join(src, "trip")
            if swap == "dangling":
                os.symlink(self.path("unmounted", "trip"), trip)
            else:
                os.symlink(elsewhere, trip)
            for dry in ([], ["--dry-run"]):
                r = self.ok(run(["-r", "-q", "--prune", "-o", out, src] + dry), (1,))
                self.assertEqual(outputs_in(out), made, swap)
                said = [l for l in r.stderr.splitlines() if b"symlink now" in l]
                self.assertEqual(len(said), 1, r.stderr)
                self.assertIn(b"of 6 file(s) recorded behind", said[0])
                self.assertIn(b"/trip'", said[0])
            os.unlink(trip)
        # the user deletes some by hand: the others are still said; then none
        os.symlink(elsewhere, trip)
        for name in ("t0.jpg", "t1.jpg", "t2.jpg"):
            os.unlink(os.path.join(out, "trip", name))
        r = self.ok(run(["-r", "-q", "--prune", "-o", out, src]), (1,))
        self.assertIn(b"of 3 file(s) recorded behind", r.stderr)
        shutil.rmtree(os.path.join(out, "trip"))
        r = self.ok(run(["-r", "-q", "--prune", "-o", out, src]))
        self.assertNotIn(b"symlink now", r.stderr)
        os.unlink(trip)
        made = outputs_in(out) | {os.path.join("trip", n) for n in ("t0.jpg", "t1.jpg", "t2.jpg")} \
            | {os.path.join("trip", "day 2", f"d{i}.jpg") for i in range(3)}
        # gone for real, or a file now: pruned
        for gone in ("file", "nothing"):
            if gone == "file":
                with open(os.path.join(src, "trip"), "w") as f:
                    f.write("not a folder")
            else:
                shutil.move(self.path("trip-saved"), os.path.join(src, "trip"))
                self.ok(run(["-r", "-q", "-o", out, src]))
                self.assertEqual(outputs_in(out), made)
                shutil.rmtree(os.path.join(src, "trip"))
            r = self.ok(run(["-r", "-q", "--prune", "-o", out, src]))
            self.assertEqual(outputs_in(out), {"keep.jpg"}, r.stdout)
            if gone == "file":
                os.unlink(os.path.join(src, "trip"))

    def test_a_photo_whose_name_is_a_symlink_to_a_folder_now_is_gone(self):
        """A photo replaced by a symlink to a folder under its name is a folder
        where the file was: the walk passes such a symlink by without a word,
        and --prune kept the photo's thumbnail, silently, with exit 0, for ever.
        A symlink to a photo there is an input; a dangling one is the walk's
        error, and a failed input keeps its thumbnail."""
        src, out = self.path("src"), self.path("out")
        for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
            jpeg(os.path.join(src, name))
        jpeg(self.path("elsewhere", "e.jpg"))
        self.ok(run(["-r", "-q", "-o", out, src]))
        for name, target in (("b.jpg", self.path("elsewhere")),
                             ("c.jpg", self.path("elsewhere", "e.jpg")),
                             ("d.jpg", self.path("nowhere"))):
            os.unlink(os.path.join(src, name))
            os.symlink(target, os.path.join(src, name))
        r = self.ok(run(["-r", "--prune", "-o", out, src]), (1,))
        self.assertEqual(outputs_in(out), {"a.jpg", "c.jpg", "d.jpg"}, r.stdout + r.stderr)
        self.assertIn(b"prune " + os.path.join(out, "b.jpg").encode(), r.stdout)
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)  # d.jpg dangling
        self.assertEqual(snapshot(self.path("elsewhere")).keys(),
                         {self.path("elsewhere", "e.jpg")})

    def test_a_photo_and_a_folder_that_swap_a_name_are_in_sync_in_one_run(self):
        """A photo replaced by a folder of its name (a.jpg/b.jpg), or the reverse:
        the new file's output lay beneath the old thumbnail, or where the old
        folder of thumbnails was, and was an error ("Not a directory", "is a
        folder") in the very run whose --prune then removed what was in the way:
        one night out of sync and an exit 1 for each. Such a file now waits for
        the prune and is made after it. Without --prune, and where the user's own
        file is in the way, it is the error it was."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), mean=40)
        jpeg(os.path.join(src, "c.jpg"))
        self.ok(run(["-r", "-q", "-o", out, src]))
        os.unlink(os.path.join(out, "c.jpg"))
        with open(os.path.join(out, "c.jpg"), "w") as f:
            f.write("my notes")  # the user's file where c.jpg's thumbnail was
        for name in ("a.jpg", "c.jpg"):
            os.unlink(os.path.join(src, name))
            jpeg(os.path.join(src, name, "b.jpg"), mean=200)
        r = self.ok(run(["-r", "-o", out, src]), (1,))  # no --prune: in the way
        self.assertIn(b"Not a directory", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "c.jpg"})
        # a dry run says what the run does: a.jpg/b.jpg made, c.jpg/b.jpg not
        r = self.ok(run(["-r", "-n", "--prune", "-o", out, src]), (1,))
        self.assertIn(b"would prune", r.stdout)
        self.assertIn(b"1 to make", r.stdout + r.stderr)
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
        self.assertIn(b"c.jpg/b.jpg cannot be reached: Not a directory", r.stderr)
        r = self.ok(run(["-r", "--prune", "-o", out, src]), (1,))
        self.assertEqual(outputs_in(out), {"a.jpg/b.jpg", "c.jpg"}, r.stdout + r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg", "b.jpg")), 150)
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
        self.assertIn(b"c.jpg/b.jpg cannot be reached: Not a directory", r.stderr)
        with open(os.path.join(out, "c.jpg")) as f:
            self.assertEqual(f.read(), "my notes")
        # and back: the folder of thumbnails goes, the photo's is made
        shutil.rmtree(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "a.jpg"), mean=90)
        r = self.ok(run(["-r", "-n", "--prune", "-o", out, src]), (1,))  # c.jpg still
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
        self.assertNotIn(b"a.jpg is a folder", r.stderr)
        r = self.ok(run(["-r", "--prune", "-o", out, src]), (1,))  # c.jpg still
        self.assertEqual(outputs_in(out), {"a.jpg", "c.jpg"}, r.stdout + r.stderr)
        self.assertLess(abs(mean_of(os.path.join(out, "a.jpg")) - 90), 20)
        self.assertNotIn(b"a.jpg is a folder", r.stderr)

    def test_a_dry_run_says_what_the_prune_leaves_in_the_way(self):
        """-n --prune takes a thumbnail in the way as going only where the prune
        removes it: a folder of the user's at a photo's thumbnail name, or the
        thumbnail of a photo still there (in1/a.jpg, in the way of in2/a.jpg/x.jpg),
        were said to be "to make" and failed in the run. And a gone photo's row
        beneath what is now a thumbnail: the dry run said "would not be pruned",
        exit 1; the run forgets it."""
        src, src2, out = self.path("in"), self.path("in2"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"))
        jpeg(os.path.join(src2, "a.jpg", "x.jpg"))
        os.makedirs(os.path.join(out, "b.jpg"))
        with open(os.path.join(out, "b.jpg", "notes.txt"), "w") as f:
            f.write("mine")
        args = ["-r", "--prune", "--name", "{dir}/{stem}.{ext}", "-o", out, src, src2]
        r = self.ok(run(["-q", "-o", out, os.path.join(src, "a.jpg")]))
        for dry in (["-n"], []):
            r = self.ok(run(dry + args), (1,))
            self.assertIn(b"out/b.jpg is a folder", r.stderr)
            # in/a.jpg, met first, keeps its output: a collision of the walk
            # (it was the planner's "a.jpg/x.jpg cannot be reached: Not a directory")
            self.assertIn(b"out/a.jpg/x.jpg would lie in " + os.fsencode(out) +
                          b"/a.jpg, the output of " + os.fsencode(src) + b"/a.jpg", r.stderr)
        # a gone photo's row beneath a thumbnail now
        src3, out3 = self.path("in3"), self.path("out3")
        jpeg(os.path.join(src3, "a.jpg", "x.jpg"))
        self.ok(run(["-q", "-r", "-o", out3, src3]))
        shutil.rmtree(os.path.join(src3, "a.jpg"))
        shutil.rmtree(os.path.join(out3, "a.jpg"))
        jpeg(os.path.join(src3, "a.jpg"))
        self.ok(run(["-q", "-r", "-o", out3, src3]))
        for dry in (["-n"], []):
            r = self.ok(run(dry + ["-r", "--prune", "-o", out3, src3]))
            self.assertNotIn(b"not be pruned", r.stderr)

    def test_a_file_held_for_the_prune_of_a_run_that_stops_first(self):
        """A run stopped before its prune (--min-free) answers a file held for it
        as every file not started: it said the stale thumbnail in its way was in
        the way, which the prune at its end then removed."""
        src, out, report = self.path("src"), self.path("out"), self.path("r.jsonl")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-r", "-q", "-o", out, src]))
        os.unlink(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "a.jpg", "x.jpg"))
        r = self.ok(run(["-r", "--prune", "--min-free", "100000T", "--report", report,
                         "-o", out, src]), (1,))
        with open(report) as f:
            files = [json.loads(x) for x in f if '"type":"file"' in x]
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0]["error"].startswith("not started: only "), files)

    def test_two_files_held_for_the_prune_on_one_name_wait_their_turn(self):
        """A damaged a.jpg and a good a.png (-f jpeg: one output name) where a
        folder a.jpg of thumbnails was: both wait for the prune; released
        together, a.png was refused against a.jpg's claim before a.jpg failed,
        and neither was made. It waits for a.jpg's outcome, as in the walk."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg", "x.jpg"))
        self.ok(run(["-r", "-q", "-f", "jpeg", "-o", out, src]))
        shutil.rmtree(os.path.join(src, "a.jpg"))
        with open(os.path.join(src, "a.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0" + b"\x07" * 3000)  # damaged, and larger
        vips("black", os.path.join(src, "a.png"), "30", "20")
        r = self.ok(run(["-r", "--prune", "-f", "jpeg", "-o", out, src]), (1,))
        self.assertIn(b" 1 done, 1 failed", r.stdout, r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg"})
        self.assertLess(mean_of(os.path.join(out, "a.jpg")), 30)  # a.png's picture

    def test_prune_with_only_a_list_says_it_prunes_nothing(self):
        """--prune with --files-from and no folder PATH pruned nothing, silently,
        exit 0 (a nightly `find | imgpool -0 --files-from - --prune`). It still
        prunes nothing (a list names files, not the tree: a disk not mounted
        below --base would look emptied), and says so, with exit status 1."""
        src, out = self.path("src"), self.path("out")
        for name in ("a.jpg", "b.jpg"):
            jpeg(os.path.join(src, name))
        listed = self.path("list")
        with open(listed, "w") as f:
            f.write("a.jpg\nb.jpg\n")
        self.ok(run(["--prune", "--files-from", listed, "-o", out], cwd=src), (1,))
        os.unlink(os.path.join(src, "b.jpg"))
        with open(listed, "w") as f:
            f.write("a.jpg\n")
        r = self.ok(run(["--prune", "--files-from", listed, "-o", out], cwd=src), (1,))
        self.assertIn(b"--prune: nothing pruned", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        # files as PATHs: the same (it was silent, exit 0)
        r = self.ok(run(["--prune", "-o", out, os.path.join(src, "a.jpg")]), (1,))
        self.assertIn(b"--prune: nothing pruned: it prunes under the folder PATHs given, "
                      b"and none is a folder", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        r = self.ok(run(["--prune", "-o", out, src]))  # the folder as a PATH
        self.assertEqual(outputs_in(out), {"a.jpg"}, r.stdout)
        # a folder PATH beside a list: a listed file deleted since the list was
        # made is its error, not a PATH that could not be walked ("--prune
        # skipped"): the folder is pruned
        jpeg(os.path.join(src, "c.jpg"))
        self.ok(run(["-q", "-o", out, src]))
        os.unlink(os.path.join(src, "c.jpg"))
        with open(listed, "w") as f:
            f.write("gone.jpg\n")
        r = self.ok(run(["--prune", "--files-from", listed, "-o", out, src], cwd=src), (1,))
        self.assertNotIn(b"--prune skipped", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg"}, r.stdout + r.stderr)

    def test_prune_leaves_an_unmounted_disks_thumbnails_alone(self):
        """The photo folder is where /etc/fstab mounts a disk, and the disk did not
        mount tonight: the folder is empty, every input looked gone, and --prune
        deleted every thumbnail, exit 0. It keeps them now, says why, exit 1; a
        folder in it that is such a mount point too, also where the bare mount
        point holds an empty folder of the disk's name (a sync tool's), and where
        fstab spells the mount point with a trailing slash or through a symlink
        on the way.
        ($IMGPOOL_FSTAB stands in for /etc/fstab, and a plain folder for the
        unmounted disk: no root needed.) An emptied folder that is no mount point
        is pruned as before."""
        src, out = self.path("photos"), self.path("thumbs")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "usb", "b.jpg"), mean=90)
        jpeg(os.path.join(src, "usb", "2024", "c.jpg"), mean=40)
        self.ok(run(["-r", "-q", "--prune", "-o", out, src]))
        every = {"a.jpg", "usb/b.jpg", "usb/2024/c.jpg"}
        self.assertEqual(outputs_in(out), every)
        fstab = self.path("fstab")
        env = dict(os.environ, IMGPOOL_FSTAB=fstab)
        os.symlink(self.tmp, self.path("tmp-link"))
        shutil.move(src, self.path("disk-away"))
        os.makedirs(src)
        for spelled in (os.path.realpath(src), os.path.realpath(src) + "/",
                        self.path("tmp-link", "photos")):
            with open(fstab, "w") as f:
                f.write("UUID=1234 %s ext4 defaults,nofail 0 2\n" % spelled)
            r = run(["-r", "-q", "--prune", "-o", out, src], env=env)
            self.assertEqual(r.returncode, 1, spelled + r.stderr.decode())
            self.assertIn(b"it is where /etc/fstab mounts a disk, and the disk is not mounted",
                          r.stderr)
            self.assertEqual(outputs_in(out), every, spelled)
        # The disk back, but its usb folder an unmounted mount point of its own,
        # holding nothing but an empty 2024/.
        shutil.rmtree(src)
        shutil.move(self.path("disk-away"), src)
        shutil.rmtree(os.path.join(src, "usb"))
        os.makedirs(os.path.join(src, "usb", "2024"))
        with open(fstab, "w") as f:
            f.write("/dev/sdb1 %s/ vfat noauto 0 0\n" % os.path.realpath(
                os.path.join(src, "usb")))
        self.ok(run(["-r", "-q", "--prune", "-o", out, src], env=env))
        self.assertEqual(outputs_in(out), every)
        with open(fstab, "w") as f:
            f.write("# nothing mounted there\n")
        self.ok(run(["-r", "-q", "--prune", "-o", out, src], env=env))
        self.assertEqual(outputs_in(out), {"a.jpg"})

    @unittest.skipUnless(os.geteuid() == 0, "bind-mounts a folder: needs root")
    def test_prune_goes_on_beneath_a_mounted_bind_mount_in_fstab(self):
        """A folder of the tree that fstab bind-mounts from the same filesystem,
        mounted: its device is its parent's, so it was taken for a disk not
        mounted, and the thumbnail of a photo deleted in it (or beneath it) was
        kept for good, exit 0. Whether something is mounted there is asked of
        the kernel now (statx's STATX_ATTR_MOUNT_ROOT)."""
        store, src, out = self.path("store"), self.path("photos"), self.path("thumbs")
        lib = os.path.join(src, "lib")
        jpeg(os.path.join(store, "a.jpg"))
        jpeg(os.path.join(store, "2023", "b.jpg"), mean=90)
        jpeg(os.path.join(store, "2023", "c.jpg"), mean=30)
        jpeg(os.path.join(src, "top.jpg"), mean=60)
        os.makedirs(lib)
        fstab = self.path("fstab")
        with open(fstab, "w") as f:
            f.write("%s %s none bind 0 0\n" % (store, lib))
        env = dict(os.environ, IMGPOOL_FSTAB=fstab)
        if subprocess.run(["mount", "--bind", store, lib]).returncode != 0:
            self.skipTest("cannot bind-mount here")
        try:
            self.ok(run(["-r", "-q", "-o", out, src], env=env))
            self.assertEqual(outputs_in(out), {"top.jpg", "lib/a.jpg", "lib/2023/b.jpg",
                                               "lib/2023/c.jpg"})
            os.unlink(os.path.join(store, "a.jpg"))
            os.unlink(os.path.join(store, "2023", "b.jpg"))
            self.ok(run(["-r", "-q", "--prune", "-o", out, src], env=env))
            self.assertEqual(outputs_in(out), {"top.jpg", "lib/2023/c.jpg"})
        finally:
            subprocess.run(["umount", lib], check=True)

    @unittest.skipUnless(os.geteuid() == 0, "mounts a tmpfs: needs root")
    def test_prune_leaves_a_hand_mounted_disks_thumbnails_alone(self):
        """The photo folder is a disk mounted by hand (not in /etc/fstab), and it
        is not mounted tonight: an empty folder on the device that holds it, and
        --prune deleted every thumbnail. The journal keeps the device each PATH
        was on when a run last found files there: empty and on another device,
        the thumbnails are kept, with the reason, exit 1. Mounted again, the
        prune goes on as usual. A folder of the tree that is such a disk keeps
        its inputs' thumbnails too, also where an empty folder of the disk's name
        is on its bare mount point."""
        src, out = self.path("disk"), self.path("thumbs")
        os.makedirs(src)
        env = dict(os.environ, IMGPOOL_FSTAB=self.path("no-fstab"))
        open(self.path("no-fstab"), "w").close()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", src], check=True)
        try:
            jpeg(os.path.join(src, "a.jpg"))
            jpeg(os.path.join(src, "b.jpg"), mean=90)
            self.ok(run(["-q", "--prune", "-o", out, src], env=env))
            self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        finally:
            subprocess.run(["umount", src], check=True)
        # A dry run, the run, and shards (whose own journals have no record yet:
        # every journal of the folder is asked).
        for args in (["-n"], [], ["--shard", "1/2"], ["--shard", "2/2"]):
            r = run(args + ["-q", "--prune", "-o", out, src], env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"it holds no image, and is on another filesystem "
                          b"than when a run last found files there", r.stderr)
            self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        # The mount point holding a hidden file, a note or an empty folder (a
        # sync tool's: no image in it) is no disk's content: taken for some, it
        # pruned every thumbnail.
        for junk in (".DS_Store", "README.txt", "2024/"):
            if junk.endswith("/"):
                os.makedirs(os.path.join(src, junk))
            else:
                open(os.path.join(src, junk), "w").close()
            r = run(["-q", "--prune", "-o", out, src], env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        for junk in (".DS_Store", "README.txt"):
            os.unlink(os.path.join(src, junk))
        os.rmdir(os.path.join(src, "2024"))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", src], check=True)
        try:
            jpeg(os.path.join(src, "a.jpg"))
            self.ok(run(["-q", "--prune", "-o", out, src], env=env))
            self.assertEqual(outputs_in(out), {"a.jpg"})
        finally:
            subprocess.run(["umount", src], check=True)
        # A disk mounted there, its photos deleted and a note kept: a disk is
        # mounted on the PATH, so its thumbnails go (they were kept for good).
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", src], check=True)
        try:
            open(os.path.join(src, "README.txt"), "w").close()
            self.ok(run(["-q", "--prune", "-o", out, src], env=env))
            self.assertEqual(outputs_in(out), set())
        finally:
            subprocess.run(["umount", src], check=True)
        # A folder in the tree that is such a disk (-r): its inputs are not gone.
        tree, usb, out3 = self.path("tree"), self.path("tree", "usb"), self.path("t3")
        jpeg(os.path.join(tree, "a.jpg"))
        jpeg(os.path.join(tree, "c.jpg"), mean=60)
        os.makedirs(usb)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", usb], check=True)
        try:
            jpeg(os.path.join(usb, "b.jpg"), mean=90)
            jpeg(os.path.join(usb, "2024", "d.jpg"), mean=30)
            self.ok(run(["-q", "-r", "--prune", "-o", out3, tree], env=env))
        finally:
            subprocess.run(["umount", usb], check=True)
        os.unlink(os.path.join(tree, "c.jpg"))
        self.ok(run(["-q", "-r", "--prune", "-o", out3, tree], env=env))
        self.assertEqual(outputs_in(out3), {"a.jpg", "usb/b.jpg", "usb/2024/d.jpg"})
        # The bare mount point holding an empty folder of the disk's (a sync
        # tool's mkdir -p): the missing name is in that folder, and the disk's
        # thumbnails beneath it were pruned.
        os.makedirs(os.path.join(usb, "2024"))
        self.ok(run(["-q", "-r", "--prune", "-o", out3, tree], env=env))
        self.assertEqual(outputs_in(out3), {"a.jpg", "usb/b.jpg", "usb/2024/d.jpg"})
        os.rmdir(os.path.join(usb, "2024"))
        # Emptied on purpose, on its own device: pruned as before.
        other = self.path("plain")
        jpeg(os.path.join(other, "c.jpg"))
        self.ok(run(["-q", "--prune", "-o", self.path("t2"), other], env=env))
        os.unlink(os.path.join(other, "c.jpg"))
        self.ok(run(["-q", "--prune", "-o", self.path("t2"), other], env=env))
        self.assertEqual(outputs_in(self.path("t2")), set())

class TestPrivateFolder(SafetyCase):
    def test_name_into_the_private_folder_refused(self):
        """--name .imgpool/journal.sqlite (with --overwrite) replaced the journal with
        a JPEG; the next run then called the journal lost. Any output path inside
        .imgpool, in any case, is refused whatever the flags: a template that
        leads there for every file is a usage error (it was an error per file),
        and publishing refuses any other way there."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-q", "-o", out, src]))
        private = os.path.join(out, ".imgpool")
        before = {n: open(os.path.join(private, n), "rb").read()
                  for n in os.listdir(private) if os.path.isfile(os.path.join(private, n))}
        for name in (".imgpool/journal.sqlite", ".imgpool/lock", ".IMGPOOL/{stem}.{ext}",
                     ".imgpool/quarantine/{stem}.{ext}", ".imgpool/{stem}.{ext}"):
            r = run(["-q", "-o", out, "--name", name, "-f", "jpeg", "--overwrite", src])
            self.assertEqual(r.returncode, 2, name)
            self.assertIn(b"inside imgpool's own folder", r.stderr, name)
        after = {n: open(os.path.join(private, n), "rb").read()
                 for n in os.listdir(private) if os.path.isfile(os.path.join(private, n))}
        self.assertEqual(after["journal.sqlite"][:16], b"SQLite format 3\x00")
        self.assertEqual(set(after) - set(before) - {"journal.sqlite-wal",
                                                     "journal.sqlite-shm"}, set())
        r = self.ok(run(["-o", out, src]))
        self.assertNotIn(b"lost", r.stderr)
        self.assertIn(b"1 skipped", r.stdout)

    def test_no_output_folder_or_output_in_another_ones_private_folder(self):
        """-o out/.imgpool/tmp-all was taken: its thumbnails, named as temp files
        (--name '{stem}.tmp' of a 7-1-1.jpg), were deleted by the next run of out
        as its own leftovers. And a listed file in list/a/.imgpool/ made, with
        --name '{dir}/{stem}', out/a/.imgpool/journal.sqlite, replacing (with
        --overwrite) the journal of the output folder out/a."""
        src, other, out = self.path("in"), self.path("b"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(other, "7-1-1.jpg"))
        self.ok(run(["-q", "-o", out, src]))
        os.symlink(os.path.join(out, ".imgpool"), self.path("lnk"))
        for inner in (os.path.join(out, ".imgpool", "tmp-all"),
                      os.path.join(out, ".IMGPOOL", "x"), self.path("lnk", "sub")):
            r = run(["-q", "-o", inner, "-f", "jpeg", "--name", "{stem}.tmp", other])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"in a folder named .imgpool", r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(out, ".imgpool"))),
                         sorted(n for n in os.listdir(os.path.join(out, ".imgpool"))
                                if n in ("journal.sqlite", "journal.sqlite-wal",
                                         "journal.sqlite-shm", "lock", "lock.meta")))
        nested, listed = os.path.join(out, "a"), self.path("list")
        self.ok(run(["-q", "-o", nested, src]))
        jpeg(os.path.join(listed, "a", ".imgpool", "journal.sqlite.jpg"))
        journal = os.path.join(nested, ".imgpool", "journal.sqlite")
        r = run(["-o", out, "--base", listed, "--files-from", "-", "--name", "{dir}/{stem}",
                 "-f", "jpeg", "--overwrite"], input=b"a/.imgpool/journal.sqlite.jpg\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"would lie in a folder named .imgpool", r.stderr)
        with open(journal, "rb") as f:
            self.assertEqual(f.read(16), b"SQLite format 3\x00")

    def test_a_report_named_at_an_output_path_is_never_replaced(self):
        """--report out/dog.jpg --overwrite: the thumbnail of in/dog.jpg took the
        report's place (moved to the quarantine and deleted), the rest of the
        records went to a deleted file, and the run said 0."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "dog.jpg"))
        jpeg(os.path.join(src, "cat.jpg"))
        report = os.path.join(out, "dog.jpg")
        r = run(["--overwrite", "--report", report, "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"is this run's --report file", r.stderr)
        with open(report) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual({rec.get("input") for rec in recs if rec["type"] == "file"},
                         {os.path.join(src, "dog.jpg"), os.path.join(src, "cat.jpg")})


class TestSymlinksInOut(SafetyCase):
    def test_symlinked_folder_never_adopted_or_pruned(self):
        src, out, elsewhere = self.path("src"), self.path("out"), self.path("elsewhere")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        os.makedirs(elsewhere)
        victim = os.path.join(elsewhere, "a.jpg")
        with open(victim, "w") as f:
            f.write("not a thumbnail")
        os.makedirs(os.path.join(out, ".imgpool"))
        os.symlink(elsewhere, os.path.join(out, "sub"))
        r = run(["-r", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(b"symlink", r.stdout + r.stderr)
        os.unlink(os.path.join(src, "sub", "a.jpg"))
        run(["-r", "--prune", "-o", out, src])
        with open(victim) as f:
            self.assertEqual(f.read(), "not a thumbnail")

    def test_symlink_swapped_in_mid_run(self):
        """A folder of OUT swapped for a symlink while the run writes there: nothing
        lands outside OUT."""
        src, out, elsewhere = self.path("src"), self.path("out"), self.path("elsewhere")
        for i in range(60):
            jpeg(os.path.join(src, "sub", f"i{i:02d}.jpg"), 800, 600)
        os.makedirs(elsewhere)
        os.makedirs(os.path.join(out, "sub"))
        stop = threading.Event()

        def swapper():
            real, link = os.path.join(out, "sub"), os.path.join(out, "sub.real")
            while not stop.is_set():
                try:
                    os.rename(real, link)
                    os.symlink(elsewhere, real)
                    time.sleep(0.002)
                    os.unlink(real)
                    os.rename(link, real)
                except OSError:
                    pass
                time.sleep(0.002)
        t = threading.Thread(target=swapper)
        t.start()
        try:
            run(["-r", "-j2", "-q", "-o", out, src])
        finally:
            stop.set()
            t.join()
        self.assertEqual(os.listdir(elsewhere), [], "written through the symlink")

    def test_symlink_at_the_lock(self):
        out, victim = self.path("out"), self.path("victim.txt")
        with open(victim, "w") as f:
            f.write("keep me")
        os.makedirs(os.path.join(out, ".imgpool"))
        os.symlink(victim, os.path.join(out, ".imgpool", "lock"))
        jpeg(self.path("src", "a.jpg"))
        r = run(["-o", out, self.path("src")])
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "keep me")

    def test_symlink_at_the_journal(self):
        out, victim = self.path("out"), self.path("victim.db")
        with open(victim, "w") as f:
            f.write("keep me")
        os.makedirs(os.path.join(out, ".imgpool"))
        os.symlink(victim, os.path.join(out, ".imgpool", "journal.sqlite"))
        jpeg(self.path("src", "a.jpg"))
        run(["-o", out, self.path("src")])
        with open(victim) as f:
            self.assertEqual(f.read(), "keep me")


class TestForeignFiles(SafetyCase):
    def test_output_inside_the_photo_tree(self):
        """imgpool -r -o photos/2024 photos never replaces an original."""
        photos = self.path("photos")
        jpeg(os.path.join(photos, "a.jpg"), 640, 480, 60)
        jpeg(os.path.join(photos, "2024", "a.jpg"), 640, 480, 200)
        original = digest(os.path.join(photos, "2024", "a.jpg"))
        for _ in range(2):  # the second run sees .imgpool there already
            r = run(["-r", "-o", os.path.join(photos, "2024"), photos])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(b"was not made by imgpool", r.stdout + r.stderr)
            self.assertEqual(digest(os.path.join(photos, "2024", "a.jpg")), original)
        # --overwrite is the user's explicit word
        self.ok(run(["-r", "--overwrite", "-o", os.path.join(photos, "2024"), photos]))
        self.assertNotEqual(digest(os.path.join(photos, "2024", "a.jpg")), original)

    def test_user_file_kept_and_replaced_only_when_ours(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 300, 200)
        self.ok(run(["-o", out, src]))
        # an edited thumbnail is the user's now: not replaced when the input changes
        with open(os.path.join(out, "a.jpg"), "ab") as f:
            f.write(b"edited")
        mine = digest(os.path.join(out, "a.jpg"))
        time.sleep(0.01)
        jpeg(os.path.join(src, "a.jpg"), 300, 200, 90)
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(digest(os.path.join(out, "a.jpg")), mine)


class TestSameSizeAndTime(SafetyCase):
    """A file of the user's put at a thumbnail's path with the thumbnail's size and
    mtime (touch -r, cp -p, rsync -t of a same-sized file) was taken for imgpool's:
    replaced when its input changed, deleted by --prune. The journal records each
    output's inode and checksum: another inode is imgpool's only by its bytes, so
    a copied or restored tree stays imgpool's and the user's file does not."""

    def users_file_in_place_of(self, path):
        st = os.stat(path)
        mine = path + ".mine"
        with open(mine, "wb") as f:
            f.write(bytes((i * 7 + 3) % 256 for i in range(st.st_size)))
        os.utime(mine, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(mine, path)
        return digest(path)

    def users_bytes_over(self, path):
        """The user's bytes written over the thumbnail in place (same inode), the
        size and mtime given back: cat > f; touch -r."""
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(bytes((i * 7 + 3) % 256 for i in range(st.st_size)))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return digest(path)

    def test_adopted_thumbnails_of_a_copied_tree_stay_imgpools(self):
        """A renamed input adopts its thumbnails; the output folder copied then
        (cp -a): the adopted rows had lost their checksum, and every thumbnail
        was "not made by imgpool" (a reviewer's case)."""
        src, out, moved = self.path("src"), self.path("out"), self.path("moved")
        for name in ("a.jpg", "b.jpg"):
            jpeg(os.path.join(src, name), 300, 200)
        self.ok(run(["-o", out, src]))
        os.rename(src, self.path("src2"))
        src = self.path("src2")
        r = self.ok(run(["-o", out, src]))
        self.assertIn(b"adopted", r.stdout + r.stderr)
        shutil.copytree(out, moved, symlinks=True, copy_function=shutil.copy2)
        shutil.rmtree(out)
        r = self.ok(run(["-o", moved, src]))
        self.assertIn(b" 0 done,", r.stdout + r.stderr)
        time.sleep(0.01)
        jpeg(os.path.join(src, "a.jpg"), 300, 200, 30)
        self.ok(run(["-o", moved, src]))
        self.assertLess(mean_of(os.path.join(moved, "a.jpg")), 60)

    def users_files(self):
        """The user's file in the thumbnail's place (a new inode), and the user's
        bytes written over it in place (the same inode: only the change time
        tells; rm then cp gets the same inode on ext4, too: a reviewer's case)."""
        return (("in its place", self.users_file_in_place_of),
                ("written over", self.users_bytes_over))

    def test_not_replaced_when_its_input_changes(self):
        for how, users_file in self.users_files():
            with self.subTest(how=how):
                src, out = self.path(how, "src"), self.path(how, "out")
                jpeg(os.path.join(src, "a.jpg"), 300, 200)
                self.ok(run(["-o", out, src]))
                mine = users_file(os.path.join(out, "a.jpg"))
                time.sleep(0.01)
                jpeg(os.path.join(src, "a.jpg"), 300, 200, 90)
                r = run(["-o", out, src])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(b"was not made by imgpool", r.stderr)
                self.assertEqual(digest(os.path.join(out, "a.jpg")), mine)

    def test_not_pruned_when_its_input_goes(self):
        for how, users_file in self.users_files():
            with self.subTest(how=how):
                src, out = self.path(how, "src"), self.path(how, "out")
                jpeg(os.path.join(src, "a.jpg"), 300, 200)
                jpeg(os.path.join(src, "b.jpg"), 300, 200)
                self.ok(run(["-o", out, src]))
                mine = users_file(os.path.join(out, "a.jpg"))
                os.unlink(os.path.join(src, "a.jpg"))
                self.ok(run(["--prune", "-o", out, src]), (0, 1))
                self.assertEqual(digest(os.path.join(out, "a.jpg")), mine)

    def test_a_copied_tree_stays_imgpools(self):
        """cp -a of the output folder (a new disk, a restore): every inode is new,
        the bytes are imgpool's. Unchanged inputs are skipped, a changed one's
        thumbnail replaced, a gone one's pruned."""
        src, out, moved = self.path("src"), self.path("out"), self.path("moved")
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            jpeg(os.path.join(src, name), 300, 200)
        self.ok(run(["-o", out, src]))
        def stamp(tree):
            db = sqlite3.connect(os.path.join(tree, ".imgpool", "journal.sqlite"))
            row = db.execute("SELECT stamp FROM outputs WHERE path = CAST('b.jpg' AS BLOB)")
            value = row.fetchone()[0]
            db.close()
            return value
        made = stamp(out)
        shutil.copytree(out, moved, symlinks=True, copy_function=shutil.copy2)
        shutil.rmtree(out)
        r = self.ok(run(["-o", moved, src]))
        self.assertIn(b" 0 done,", r.stdout + r.stderr)
        # read once by its bytes, then known by its new stamp (inode, change time)
        proven = stamp(moved)
        self.assertNotIn(proven, (0, made))
        self.ok(run(["-o", moved, src]))
        self.assertEqual(stamp(moved), proven)
        time.sleep(0.01)
        jpeg(os.path.join(src, "a.jpg"), 300, 200, 30)
        os.unlink(os.path.join(src, "c.jpg"))
        r = self.ok(run(["--prune", "-o", moved, src]))
        self.assertIn(b" 1 done,", r.stdout + r.stderr)
        self.assertLess(mean_of(os.path.join(moved, "a.jpg")), 60)
        self.assertEqual(outputs_in(moved), {"a.jpg", "b.jpg"})


class TestFoldersOfTheUsers(SafetyCase):
    """An output gone from its place (deleted by hand, or no longer planned) took
    the folders it leaves empty with it, also a folder the user had made since
    at that path (its mode, owner and attributes lost; a mount point's), or one
    the user had made before any run. Only the folders imgpool made go now (the
    journal records each, with its inode, before it is in place), and imgpool's
    own folders still go."""

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("mkfs.ext4"),
                         "mounts an ext4 image: needs root and mkfs.ext4")
    def test_a_folder_made_again_on_its_inode_number_without_birth_times(self):
        """On a filesystem that keeps no birth time (ext4 with 128-byte inodes),
        a folder was known by its inode number alone: the user's folder made
        again at the path of one of imgpool's, on the freed number (ext4 gives
        it again soon), was imgpool's, and --prune removed it once emptied. The
        inode's generation tells them apart now; imgpool's own folder still goes,
        also one an earlier build recorded by its inode number alone."""
        img, mnt = self.path("fs.img"), self.path("mnt")
        os.makedirs(mnt)
        with open(img, "wb") as f:
            f.truncate(32 << 20)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", img],
                              capture_output=True)
        if made.returncode != 0 or subprocess.run(
                ["mount", "-o", "loop", img, mnt], capture_output=True).returncode != 0:
            self.skipTest("cannot make or mount an ext4 image here")
        try:
            src, out = os.path.join(mnt, "in"), os.path.join(mnt, "out")
            jpeg(os.path.join(src, "sub", "a.jpg"))
            jpeg(os.path.join(src, "own", "b.jpg"), mean=90)
            self.ok(run(["-r", "-q", "-o", out, src]))
            born = subprocess.run(["stat", "-c", "%W", os.path.join(out, "sub")],
                                  capture_output=True, text=True).stdout.strip()
            if born != "0":  # 0: no birth time known
                self.skipTest("this ext4 keeps birth times")
            ino = os.stat(os.path.join(out, "sub")).st_ino
            shutil.rmtree(os.path.join(out, "sub"))
            for i in range(2000):  # the user's folder, on the freed number
                tried = os.path.join(out, "u%d" % i)
                os.mkdir(tried)
                if os.stat(tried).st_ino == ino:
                    os.rename(tried, os.path.join(out, "sub"))
                    break
            for n in os.listdir(out):
                if n.startswith("u"):
                    os.rmdir(os.path.join(out, n))
            if not os.path.isdir(os.path.join(out, "sub")):
                self.skipTest("the inode number was not given again")
            self.ok(run(["-r", "-q", "-o", out, src]))  # its thumbnail in the user's folder
            os.unlink(os.path.join(src, "sub", "a.jpg"))
            os.unlink(os.path.join(src, "own", "b.jpg"))
            self.ok(run(["-r", "-q", "--prune", "-o", out, src]))
            self.assertEqual(outputs_in(out), set())
            self.assertTrue(os.path.isdir(os.path.join(out, "sub")))
            self.assertFalse(os.path.exists(os.path.join(out, "own")))
            # A folder an earlier build recorded by its inode number alone is
            # still imgpool's, and goes once emptied.
            jpeg(os.path.join(src, "old", "c.jpg"))
            self.ok(run(["-r", "-q", "-o", out, src]))
            db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
            with db:
                changed = db.execute("UPDATE folders SET id = ? WHERE path = ?",
                                     (os.stat(os.path.join(out, "old")).st_ino,
                                      b"old")).rowcount
            db.close()
            self.assertEqual(changed, 1)
            os.unlink(os.path.join(src, "old", "c.jpg"))
            self.ok(run(["-r", "-q", "--prune", "-o", out, src]))
            self.assertFalse(os.path.exists(os.path.join(out, "old")))
        finally:
            subprocess.run(["umount", mnt], check=True)

    def test_a_folder_the_user_made_before_the_first_run_stays(self):
        """out/web made by the user (mode 2750) before imgpool put thumbnails in
        it: --prune removed it once they were gone, as if imgpool had made it."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "sub", "b.jpg"))
        web = os.path.join(out, "web")
        os.makedirs(web)
        os.chmod(web, 0o2750)
        name = ["--name", "web/{dir}/{stem}.{ext}"]
        self.ok(run(["-r"] + name + ["-o", out, src]))
        self.assertEqual(outputs_in(out), {"web/a.jpg", "web/sub/b.jpg"})
        os.unlink(os.path.join(src, "a.jpg"))
        shutil.rmtree(os.path.join(src, "sub"))
        jpeg(os.path.join(src, "keep", "c.jpg"))
        for dry in (["-n"], []):
            self.ok(run(dry + ["-r", "--prune"] + name + ["-o", out, src]))
        self.assertEqual(outputs_in(out), {"web/keep/c.jpg"})
        self.assertFalse(os.path.exists(os.path.join(web, "sub")))  # imgpool's: gone
        os.unlink(os.path.join(src, "keep", "c.jpg"))
        self.ok(run(["-r", "--prune"] + name + ["-o", out, src]))
        self.assertEqual(os.listdir(web), [])
        self.assertEqual(os.stat(web).st_mode & 0o7777, 0o2750)

    def test_a_users_folder_of_old_thumbnails_in_the_way_stays(self):
        """A --name that swaps a thumbnail and a folder of them: where the folder
        in the way is the user's (made before the run that put the thumbnails in
        it), removing them would not free the way: nothing is removed, the photo
        fails, and a dry run says the same."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"))
        os.makedirs(os.path.join(out, "a.jpg"))
        self.ok(run(["--name", "{stem}.{ext}/{size}.{ext}", "-s", "32", "-o", out, src]))
        before = outputs_in(out)
        self.assertEqual(before, {"a.jpg/32.jpg", "b.jpg/32.jpg"})
        for dry in (["-n"], []):
            r = run(dry + ["--name", "{stem}.{ext}", "-s", "32", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"out/a.jpg is a folder", r.stderr)
            self.assertNotIn(b"out/b.jpg is a folder", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg/32.jpg", "b.jpg"})

    def test_a_users_folder_made_again_around_imgpools_keeps_the_way(self):
        """The user made out/a.jpg again and moved imgpool's folder of thumbnails
        back into it; then a --name swap. A folder recorded at that path was
        taken for imgpool's whoever made it: the thumbnails were removed, the
        user's folder stayed in the way (and the dry run said the photo would be
        made). A reviewer's case."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["--name", "{stem}.{ext}/sub/{size}.{ext}", "-s", "32", "-o", out, src]))
        os.rename(os.path.join(out, "a.jpg"), os.path.join(out, "old"))
        os.mkdir(os.path.join(out, "a.jpg"))
        os.rename(os.path.join(out, "old", "sub"), os.path.join(out, "a.jpg", "sub"))
        os.rmdir(os.path.join(out, "old"))
        for dry in (["-n"], []):
            r = run(dry + ["--name", "{stem}.{ext}", "-s", "32", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"out/a.jpg is a folder", r.stderr)
            self.assertEqual(outputs_in(out), {"a.jpg/sub/32.jpg"})

    def test_a_folder_takes_what_its_parent_gives_not_the_temp_folders(self):
        """Folders are made in OUT/.imgpool/tmp-*, which takes OUT's setgid group
        and default ACL: a folder made there for a parent that has neither (out/web
        with its own group) took them into it (a reviewer's case)."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        web = os.path.join(out, "web")
        os.makedirs(web)
        os.chmod(web, 0o755)
        root = os.geteuid() == 0
        if root:
            os.chown(out, -1, 65534)
            os.chown(web, -1, 0)
        os.chmod(out, 0o2775)
        acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in (
            (0x01, 7, 0xffffffff), (0x02, 7, 65534), (0x04, 5, 0xffffffff),
            (0x10, 7, 0xffffffff), (0x20, 5, 0xffffffff)))
        try:
            os.setxattr(out, "system.posix_acl_default", acl)
            has_acl = True
        except OSError:
            has_acl = False
        self.ok(run(["-r", "--name", "web/{dir}/{stem}.{ext}", "-o", out, src]))
        made = os.path.join(web, "sub")
        st = os.stat(made)
        self.assertFalse(st.st_mode & 0o2000, oct(st.st_mode))
        if root:
            self.assertEqual(st.st_gid, 0)
        if has_acl:
            with self.assertRaises(OSError):
                os.getxattr(made, "system.posix_acl_default")

    def test_a_thumbnail_takes_what_its_folder_gives_not_the_temp_folders(self):
        """Thumbnails are written in OUT/.imgpool/tmp-* and renamed into their
        folder: they kept the temp folder's group and ACL (OUT's), where a file
        made in out/web, setgid to the web server's group with a default ACL of
        its own, takes that folder's (and one in a plain folder this process's
        group, not setgid OUT's)."""
        src, out = self.path("in"), self.path("out")
        for rel in ("web/a.jpg", "plain/a.jpg", "web/sub/a.jpg"):
            jpeg(os.path.join(src, rel))
        web, plain = os.path.join(out, "web"), os.path.join(out, "plain")
        os.makedirs(web)
        os.makedirs(plain)
        root = os.geteuid() == 0
        if root:
            os.chown(out, -1, 65534)
            os.chown(web, -1, 65533)
            os.chown(plain, -1, 65532)
        os.chmod(out, 0o2775)
        os.chmod(web, 0o2775)
        os.chmod(plain, 0o755)
        # user 65534 r-x beside the owner's rwx: the file's 0666 masks the mask
        acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in (
            (0x01, 7, 0xffffffff), (0x02, 5, 65534), (0x04, 5, 0xffffffff),
            (0x10, 7, 0xffffffff), (0x20, 0, 0xffffffff)))
        try:
            os.setxattr(web, "system.posix_acl_default", acl)
            has_acl = True
        except OSError:
            has_acl = False
        self.ok(run(["-r", "-s", "16", "-o", out, src]))
        thumb, other = os.path.join(web, "a.jpg"), os.path.join(plain, "a.jpg")
        deep = os.path.join(web, "sub", "a.jpg")
        if root:
            self.assertEqual(os.stat(thumb).st_gid, 65533)
            self.assertEqual(os.stat(deep).st_gid, 65533)
            self.assertEqual(os.stat(other).st_gid, os.getegid())
        if has_acl:
            for made in (thumb, deep):
                got = os.getxattr(made, "system.posix_acl_access")
                entries = {struct.unpack_from("<HHI", got, 4 + 8 * i)
                           for i in range((len(got) - 4) // 8)}
                self.assertIn((0x02, 5, 65534), entries)
                self.assertIn((0x10, 6, 0xffffffff), entries)  # rwx masked by rw-
                self.assertEqual(os.stat(made).st_mode & 0o777, 0o660)
            self.assertEqual(os.getxattr(os.path.join(web, "sub"),
                                         "system.posix_acl_default"), acl)
            with self.assertRaises(OSError):
                os.getxattr(other, "system.posix_acl_access")

    def test_a_copied_output_folders_way_is_freed_as_the_dry_run_says(self):
        """After cp -a of the output folder, a photo folder a.jpg/ became a photo
        a.jpg: the copy's folder of old thumbnails is in the way. The run freed it
        (adopting the copied folder) where the dry run said an error."""
        src, out, copy = self.path("in"), self.path("out"), self.path("copy")
        jpeg(os.path.join(src, "a.jpg", "z.jpg"))
        self.ok(run(["-r", "-s", "16", "-o", out, src]))
        shutil.copytree(out, copy, symlinks=True, copy_function=shutil.copy2)
        shutil.rmtree(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "a.jpg"))
        r = self.ok(run(["-n", "-r", "-s", "16", "--prune", "-o", copy, src]))
        self.assertIn(b"1 to make", r.stdout + r.stderr)
        self.assertNotIn(b"is a folder", r.stderr)
        self.ok(run(["-r", "-s", "16", "--prune", "-o", copy, src]))
        self.assertEqual(outputs_in(copy), {"a.jpg"})

    def test_a_folder_made_in_a_setgid_folder_takes_its_bit(self):
        """Folders are made aside and renamed into place (recorded first): one
        made in a setgid folder has the setgid bit and group mkdir gives there."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        os.makedirs(out)
        os.chmod(out, 0o2755)
        self.ok(run(["-r", "-o", out, src]))
        st = os.stat(os.path.join(out, "sub"))
        self.assertTrue(st.st_mode & 0o2000)
        self.assertEqual(st.st_gid, os.stat(out).st_gid)

    def test_a_folder_made_again_by_the_user_stays(self):
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        jpeg(os.path.join(src, "keep.jpg"))
        self.ok(run(["-r", "-o", out, src]))
        shutil.rmtree(os.path.join(out, "sub"))
        os.mkdir(os.path.join(out, "sub"))
        os.chmod(os.path.join(out, "sub"), 0o1777)
        os.unlink(os.path.join(src, "sub", "a.jpg"))
        self.ok(run(["-r", "--prune", "-o", out, src]))
        self.assertTrue(os.path.isdir(os.path.join(out, "sub")))

    def test_a_folder_above_made_again_by_the_user_stays(self):
        """The output's own folder gone with it, and the one above made again by
        the user: nothing tells that one imgpool's any more (a reviewer's case)."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "deep", "a.jpg"))
        jpeg(os.path.join(src, "keep.jpg"))
        self.ok(run(["-r", "-o", out, src]))
        shutil.rmtree(os.path.join(out, "sub"))
        os.mkdir(os.path.join(out, "sub"))
        os.unlink(os.path.join(src, "sub", "deep", "a.jpg"))
        self.ok(run(["-r", "--prune", "-o", out, src]))
        self.assertTrue(os.path.isdir(os.path.join(out, "sub")))

    def test_a_copied_trees_folders_are_known_once_its_thumbnails_are(self):
        """In a copied output folder every folder is another: once a thumbnail
        there was known by its bytes, its folder was still the old one, and a
        thumbnail deleted by hand left its empty folder behind for good."""
        src, out, moved = self.path("in"), self.path("out"), self.path("moved")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        jpeg(os.path.join(src, "keep.jpg"))
        self.ok(run(["-r", "-o", out, src]))
        shutil.copytree(out, moved, symlinks=True, copy_function=shutil.copy2)
        self.ok(run(["-r", "-o", moved, src]))  # known by their bytes
        os.unlink(os.path.join(moved, "sub", "a.jpg"))
        os.unlink(os.path.join(src, "sub", "a.jpg"))
        self.ok(run(["-r", "--prune", "-o", moved, src]))
        self.assertFalse(os.path.exists(os.path.join(moved, "sub")))

    def test_a_new_name_leaves_the_users_folders(self):
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        self.ok(run(["-r", "--name", "x/{dir}/{stem}.{ext}", "-o", out, src]))
        shutil.rmtree(os.path.join(out, "x"))
        os.makedirs(os.path.join(out, "x", "sub"))
        self.ok(run(["-r", "--name", "{dir}/{stem}.{ext}", "-o", out, src]))
        self.assertTrue(os.path.isdir(os.path.join(out, "x", "sub")))
        self.assertTrue(os.path.isfile(os.path.join(out, "sub", "a.jpg")))

    def test_a_name_that_swaps_a_thumbnail_and_a_folder_of_them(self):
        """--name '{stem}.{ext}/{size}.{ext}' then '{stem}.{ext}' (and back): the
        new output's place was taken by the same photo's thumbnails of the old
        name, removed only after the new ones were in place, so the photo failed
        on every run ("its output out/a.jpg is a folder", "Not a directory")."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"))
        folders = ["--name", "{stem}.{ext}/{size}.{ext}", "-s", "32,48"]
        files = ["--name", "{stem}.{ext}", "-s", "32"]
        for first, then in ((folders, files), (files, folders)):
            shutil.rmtree(out, ignore_errors=True)
            self.ok(run(first + ["-o", out, src]))
            r = run(then + ["-o", out, src])
            self.ok(r)
            flat = then is files
            for stem in ("a", "b"):
                made = os.path.join(out, stem + ".jpg")
                self.assertEqual(os.path.isfile(made), flat, r.stdout)
                if not flat:
                    self.assertEqual(sorted(os.listdir(made)), ["32.jpg", "48.jpg"])
            again = run(then + ["-o", out, src])
            self.ok(again)
            self.assertIn(b"2 skipped", again.stdout)

    def test_a_users_file_beside_old_thumbnails_keeps_the_folder(self):
        """Only where nothing but the photo's own old thumbnails is in the way do
        they go first: a file imgpool did not make (the user's, an edited
        thumbnail) keeps the folder in the way, and then nothing is removed (the
        photo lost its thumbnails and failed still). A dry run says so too."""
        src, out = self.path("in"), self.path("out")
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            jpeg(os.path.join(src, name))
        self.ok(run(["--name", "{stem}.{ext}/{size}.{ext}", "-s", "32,48", "-o", out, src]))
        with open(os.path.join(out, "a.jpg", "notes.txt"), "w") as f:
            f.write("mine")
        edited = os.path.join(out, "b.jpg", "48.jpg")
        with open(edited, "ab") as f:
            f.write(b"an edit")
        os.mkdir(os.path.join(out, "c.jpg", "keep"))  # empty, and stays
        def mine():
            return {k: v for k, v in snapshot(out).items() if "/.imgpool" not in k}
        before = mine()
        for dry in (["-n"], []):
            r = run(dry + ["--name", "{stem}.{ext}", "-s", "32", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"out/a.jpg is a folder", r.stderr)
            self.assertIn(b"out/b.jpg is a folder", r.stderr)
            self.assertIn(b"out/c.jpg is a folder", r.stderr)
            self.assertEqual(mine(), before)

    def test_a_thumbnail_in_two_journals_is_one_file_in_the_way(self):
        """A shard run adopts a thumbnail into its own journal: one file, two rows.
        Counted twice, the old thumbnail went where a file of the user's beside
        it kept the folder in the way (and a dry run said it would make it); or,
        alone there, it was never freed."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"))
        folders = ["--name", "{stem}.{ext}/{size}.{ext}", "-s", "32", "-o", out, src]
        self.ok(run(["-q"] + folders))
        self.ok(run(["-q", "--shard", "1/1"] + folders))  # adopted: a second row each
        with open(os.path.join(out, "a.jpg", "notes.txt"), "w") as f:
            f.write("mine")
        flat = ["--shard", "1/1", "--name", "{stem}.{ext}", "-s", "32", "-o", out, src]
        r = run(["-n"] + flat)
        self.assertIn(b"out/a.jpg is a folder", r.stderr)
        self.assertIn(b"1 to make", r.stdout)
        r = run(flat)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg/32.jpg", "a.jpg/notes.txt", "b.jpg"})

    def test_old_thumbnails_of_a_photo_and_of_a_gone_one_in_the_way(self):
        """The folder in the way holds the photo's old thumbnail and one of a
        photo deleted since: with --prune the photo waits for the prune, then is
        made (its own old thumbnail was removed, the photo failed, and the prune
        then emptied the folder)."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        vips("copy", os.path.join(src, "a.jpg"), os.path.join(src, "a.png"))
        self.ok(run(["--name", "{stem}.jpg/{size}.{ext}", "-s", "32", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"a.jpg/32.jpg", "a.jpg/32.png"})
        os.unlink(os.path.join(src, "a.png"))
        r = self.ok(run(["--prune", "--name", "{stem}.{ext}", "-s", "32", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"a.jpg"}, r.stdout + r.stderr)

    def test_imgpools_own_folders_still_go(self):
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "deep", "a.jpg"))
        jpeg(os.path.join(src, "keep.jpg"))
        self.ok(run(["-r", "-o", out, src]))
        os.unlink(os.path.join(out, "sub", "deep", "a.jpg"))  # by hand
        shutil.rmtree(os.path.join(src, "sub"))
        self.ok(run(["-r", "--prune", "-o", out, src]))
        self.assertEqual(sorted(os.listdir(out)), [".imgpool", "keep.jpg"])


class TestLeftoversOfKilledRuns(SafetyCase):
    """What a run killed with -9 leaves in OUT/.imgpool is cleared by the next run
    that can tell it is a leftover: the temp files of another shard's run (only
    that shard's next run cleared them: an array task killed and finished by a
    plain run left them for good), and a copy of a hard-linked journal cut short."""

    def test_other_shards_temp_files_go_unless_a_run_holds_them(self):
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-o", out, src]))
        priv = os.path.join(out, ".imgpool")
        for shard in ("tmp-1-of-2", "tmp-2-of-2", "tmp-1-of-3"):
            os.makedirs(os.path.join(priv, shard))
            with open(os.path.join(priv, shard, "12-0-4242.tmp"), "wb") as f:
                f.write(b"half a thumbnail")
        with open(os.path.join(priv, "tmp-2-of-2", "notes.txt"), "w") as f:
            f.write("not imgpool's")
        held = os.open(os.path.join(priv, "tmp-1-of-3"), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run of that shard
            self.ok(run(["-o", out, src]))
            self.assertFalse(os.path.exists(os.path.join(priv, "tmp-1-of-2")))
            self.assertEqual(os.listdir(os.path.join(priv, "tmp-2-of-2")), ["notes.txt"])
            self.assertEqual(os.listdir(os.path.join(priv, "tmp-1-of-3")), ["12-0-4242.tmp"])
        finally:
            os.close(held)

    def test_a_journal_copy_cut_short_goes(self):
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-o", out, src]))
        priv = os.path.join(out, ".imgpool")
        for name in ("journal.sqlite.unshare-31337", "journal.sqlite.unshare-x1"):
            with open(os.path.join(priv, name), "wb") as f:
                f.write(b"SQLite format 3\x00" + b"\x00" * 100)
        self.ok(run(["-o", out, src]))
        left = sorted(n for n in os.listdir(priv) if ".unshare-" in n)
        self.assertEqual(left, ["journal.sqlite.unshare-x1"])


class TestLongNames(SafetyCase):
    def test_pairs_of_long_names_get_their_own_thumbnails(self):
        """40 pairs of 245-byte names sharing a prefix, -j2: each thumbnail is its
        own input's picture."""
        src, out = self.path("src"), self.path("out")
        means = {}
        for i in range(40):
            for k, m in ((0, 30), (1, 220)):
                name = "p" * 236 + f"{i:03d}-{k}.jpg"
                self.assertEqual(len(name), 245)
                mean = m + (i % 10)
                jpeg(os.path.join(src, name), 96, 64, mean)
                means[name] = mean
        self.ok(run(["-j2", "-q", "-s", "32", "-o", out, src]))
        for name, mean in means.items():
            got = mean_of(os.path.join(out, name))
            self.assertLess(abs(got - mean), 6, f"{name[-12:]}: mean {got}, want {mean}")


class TestStops(SafetyCase):
    def test_group_term_is_not_a_failure(self):
        """timeout -s TERM on the whole group, then a plain run finishes, exit 0."""
        src, out = self.path("src"), self.path("out")
        for i in range(40):
            jpeg(os.path.join(src, f"i{i:02d}.jpg"), 2400, 1600)
        r = subprocess.run(["timeout", "-s", "TERM", "0.8", IMGPOOL, "-j2", "-q", "-o", out, src],
                           capture_output=True, timeout=120)
        self.assertIn(r.returncode, (0, 124, 143), r.stderr)
        self.assertNotIn(b"killed by signal", r.stdout + r.stderr)
        r = self.ok(run(["-j2", "-o", out, src]))
        self.assertNotIn(b"failed earlier", r.stdout + r.stderr)
        self.assertEqual(len(outputs_in(out)), 40)

    def test_a_schedulers_other_signals_to_the_group_are_stops(self):
        """USR1 and USR2 (Grid Engine's -notify warnings), QUIT (Ctrl-\\) and XCPU
        to the whole group ended imgpool by their default action: no summary, no
        answer for the files in flight or planned, and the workers' files failed.
        Each is a stop now, as TERM: every file planned answered once, exit 128 +
        the signal, and the next run finishes the rest."""
        src = self.path("src")
        for i in range(12):
            jpeg(os.path.join(src, f"i{i:02d}.jpg"), 2400, 1600)
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGXCPU):
            with self.subTest(sig=sig.name):
                out, rep = self.path("out-" + sig.name), self.path(sig.name + ".jsonl")
                p = subprocess.Popen([IMGPOOL, "-j2", "--progress", "none", "--report", rep,
                                      "-o", out, src], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
                p.stdout.readline()  # a file done: the rest in flight or planned
                os.killpg(p.pid, sig)
                stdout, stderr = p.communicate(timeout=120)
                self.assertEqual(p.returncode, 128 + sig, stderr)
                self.assertIn(b"interrupted by " + sig.name.encode(), stdout + stderr)
                with open(rep) as f:
                    recs = [json.loads(x) for x in f]
                files = [x for x in recs if x["type"] == "file"]
                self.assertEqual(len(files), len({x["input"] for x in files}), files)
                self.assertEqual([x for x in files if x["status"] == "error"], [])
                self.assertEqual(recs[-1]["type"], "summary")
                r = self.ok(run(["-j2", "-o", out, src]))
                self.assertNotIn(b"failed earlier", r.stdout + r.stderr)
                self.assertEqual(len(outputs_in(out)), 12)

    def test_an_output_side_failure_is_tried_again_once_mended(self):
        """A folder of the output that cannot be written: its failures were
        remembered after three in a row, and the photo was "failed earlier" for
        good once the folder was mended, which changes nothing of the input a run
        could see. They are remembered only while the folder cannot be
        written."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        jpeg(os.path.join(src, "sub", "b.jpg"))
        self.ok(run(["-q", "-r", "-o", out, src]))
        os.unlink(os.path.join(out, "sub", "b.jpg"))
        os.chmod(os.path.join(out, "sub"), 0o555)
        try:
            for night in range(4):
                r = self.no_dac(["-q", "-r", "-o", out, src])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(b"b.jpg in place: Permission denied", r.stderr)
                self.assertEqual(b"failed earlier" in r.stderr, night == 3, r.stderr)
        finally:
            os.chmod(os.path.join(out, "sub"), 0o755)
        r = self.ok(self.no_dac(["-r", "-o", out, src]))
        self.assertNotIn(b"failed earlier", r.stdout + r.stderr)
        self.assertEqual(outputs_in(out), {os.path.join("sub", n) for n in ("a.jpg", "b.jpg")})

    def test_a_thumbnail_of_earlier_settings_that_cannot_be_removed_is_said(self):
        """With --name changed, the thumbnail of the earlier name is removed; one
        in a folder that cannot be written stayed, and nothing said so: "ok",
        exit 0, and no later run tried again (the file was up to date; --prune
        keeps a present input's files). It is said now (an error line, a prune
        record with the error), exit 1, and each later run that finds the file
        up to date tries again, without decoding it. The file keeps its name:
        failed instead, its fresh thumbnail went to a.jpg, another input of that
        name (-f jpeg), at once."""
        src, out = self.path("in"), self.path("out")
        jpeg(self.path("big.jpg"), 320, 240, mean=200)
        os.makedirs(src)
        vips("copy", self.path("big.jpg"), os.path.join(src, "a.png"))  # larger: first
        jpeg(os.path.join(src, "a.jpg"), mean=40)
        r = run(["-f", "jpeg", "--name", "old/{stem}.{ext}", "-o", out, src])
        self.assertIn(b"also the output of", r.stderr)
        os.chmod(os.path.join(out, "old"), 0o555)
        try:
            for night in range(2):
                rep = self.path("r%d.jsonl" % night)
                r = self.no_dac(["-f", "jpeg", "--report", rep, "-o", out, src])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(b"old/a.jpg: not removed (no longer an output of ", r.stderr)
                with open(rep) as f:
                    recs = [json.loads(x) for x in f]
                files = {os.path.basename(x["input"]): x for x in recs if x["type"] == "file"}
                self.assertEqual(files["a.png"]["status"], "skipped" if night else "ok")
                self.assertEqual(files["a.jpg"]["status"], "error")
                kept = [x for x in recs if x["type"] == "prune"]
                self.assertEqual(len(kept), 1, recs)
                self.assertIn("Permission denied", kept[0]["error"])
                self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150)
        finally:
            os.chmod(os.path.join(out, "old"), 0o755)
        r = self.no_dac(["-n", "-f", "jpeg", "-o", out, src])  # lists it, removes nothing
        self.assertIn(b"would remove " + os.fsencode(os.path.join(out, "old", "a.jpg")), r.stdout)
        self.assertTrue(os.path.exists(os.path.join(out, "old", "a.jpg")))
        rep = self.path("r.jsonl")
        r = self.no_dac(["-f", "jpeg", "--report", rep, "-o", out, src])
        self.assertIn(b"remove " + os.fsencode(os.path.join(out, "old", "a.jpg")), r.stdout)
        with open(rep) as f:
            recs = [json.loads(x) for x in f]
        self.assertEqual([x.get("removed") for x in recs if x["type"] == "file" and
                          x["input"].endswith("a.png")], [[os.path.join(out, "old", "a.jpg")]])
        self.assertEqual(outputs_in(out), {"a.jpg"})
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150)

    def test_raised_limits_retry(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "big.jpg"), 2000, 1500)
        r = run(["--max-pixels", "1000", "-o", out, src])
        self.assertEqual(r.returncode, 1)
        r = run(["--max-pixels", "1000", "-o", out, src])
        self.assertIn(b"failed earlier", r.stdout + r.stderr)
        self.ok(run(["-o", out, src]))  # the default limit is higher: tried again
        self.assertEqual(outputs_in(out), {"big.jpg"})

    def test_raised_timeout_retry(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "big.jpg"), 6000, 4000)
        r = run(["--timeout", "0.001", "--retries", "0", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(b"timed out after 0.001 s (--timeout gives each file longer)", r.stderr)
        self.ok(run(["--timeout", "60", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"big.jpg"})


class TestKilledWorker(SafetyCase):
    def test_sigkill_from_outside_is_retried_next_run(self):
        """A worker SIGKILLed from outside (an OOM killer) fails that file as the
        machine's doing ("environment"), so the next run tries it again; a crash of
        its own would be remembered."""
        self.killed_worker(signal.SIGKILL)

    def test_other_signals_from_outside_are_retried_next_run(self):
        """SIGXCPU (ulimit -t: the CPU of every file the worker ran), SIGALRM and
        the like, not faults of the worker's own, were taken for a crash on the
        file, which was "failed earlier" for good. (USR1, USR2 and QUIT, also
        taken so, are ignored by workers now: stops, test_a_schedulers_...)"""
        for sig in (signal.SIGXCPU, signal.SIGALRM):
            with self.subTest(sig=sig.name):
                shutil.rmtree(self.path("out"), ignore_errors=True)
                self.killed_worker(sig)

    def killed_worker(self, sig):
        src, out = self.path("src"), self.path("out")
        for i in range(6):
            jpeg(os.path.join(src, f"i{i}.jpg"), 6000, 4000)
        rep = self.path("r.jsonl")
        p = subprocess.Popen([IMGPOOL, "-j1", "--retries", "0", "--progress", "none",
                              "--report", rep, "-o", out, src],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.readline()  # the first file is done: the worker is on the next
        killed = 0
        deadline = time.time() + 60
        while not killed and p.poll() is None and time.time() < deadline:
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                kids = []
            for k in kids:
                try:
                    os.kill(k, sig)
                    killed = 1
                except OSError:
                    pass
            time.sleep(0.05)
        p.communicate(timeout=120)
        self.assertTrue(killed, "no worker seen")
        recs = [json.loads(l) for l in open(rep)]
        hit = [o for o in recs if o.get("type") == "file" and o["status"] == "error"]
        if not hit:
            self.skipTest("the kill landed on a worker between files")
        self.assertEqual(hit[0]["kind"], "environment", hit[0])
        r = run(["-j1", "-o", out, src])
        self.assertNotIn(b"failed earlier", r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)


class TestLocks(SafetyCase):
    def slow_set(self):
        src = self.path("src")
        for i in range(30):
            jpeg(os.path.join(src, f"i{i:02d}.jpg"), 3000, 2000)
        return src

    def start(self, args):
        p = subprocess.Popen([IMGPOOL, "-j1", "--progress", "none"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline()  # the first file is done: it holds the lock
        if not line:
            self.fail(p.stderr.read())
        p.send_signal(signal.SIGSTOP)  # and keeps it, however fast this machine is
        return p

    def finish(self, p):
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=120)

    def test_unsharded_and_shard_exclude_each_other(self):
        src, out = self.slow_set(), self.path("out")
        p = self.start(["-o", out, src])
        try:
            r = run(["--shard", "1/2", "-o", out, src])
            self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        finally:
            self.finish(p)
        p = self.start(["--shard", "1/2", "-o", out, src])
        try:
            self.assertEqual(run(["-o", out, src]).returncode, 75)
            self.assertEqual(run(["--shard", "1/3", "-o", out, src]).returncode, 75)
            self.assertEqual(run(["--shard", "1/2", "-o", out, src]).returncode, 75)
            self.assertIn(run(["--shard", "2/2", "-o", out, src]).returncode, (0, 1))
        finally:
            self.finish(p)

    def test_a_deleted_lock_file_does_not_let_a_second_run_in(self):
        """rm OUT/.imgpool/lock while a run held it: a second run made a new one,
        took it, and the two ran at once (the second emptied the first's temp
        folder; files failed, and a thumbnail was 'not made by imgpool' for good).
        The folder .imgpool is locked too, and a folder cannot be deleted so."""
        src, out = self.slow_set(), self.path("out")
        p = self.start(["-o", out, src])
        try:
            os.unlink(os.path.join(out, ".imgpool", "lock"))
            for args in ([], ["--shard", "1/2"]):
                r = run(args + ["-o", out, src])
                self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
                self.assertIn(b"its lock file was deleted", r.stderr)
        finally:
            self.finish(p)
        self.assertIn(run(["-q", "-o", out, src]).returncode, (0, 1))

    def test_deleted_lock_files_do_not_let_the_same_shard_in_twice(self):
        """The same with a shard: rm OUT/.imgpool/lock* under shard 1/2, and a
        second 1/2 took new lock files (the folder's own lock is shared by the
        shards) and emptied the first's temp folder. The temp folder is locked
        too; shard 2/2 still runs beside it."""
        src, out = self.slow_set(), self.path("out")
        p = self.start(["--shard", "1/2", "-o", out, src])
        try:
            priv = os.path.join(out, ".imgpool")
            for name in os.listdir(priv):
                if name.startswith("lock"):
                    os.unlink(os.path.join(priv, name))
            temps = sorted(os.listdir(os.path.join(priv, "tmp-1-of-2")))
            r = run(["--shard", "1/2", "-o", out, src])
            self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
            self.assertIn(b"another imgpool run of shard 1/2", r.stderr)
            self.assertIn(b"were deleted", r.stderr)
            # (its workers go on while it is stopped: more may come, none goes)
            self.assertLessEqual(set(temps), set(os.listdir(os.path.join(priv, "tmp-1-of-2"))))
            self.assertIn(run(["-q", "--shard", "2/2", "-o", out, src]).returncode, (0, 1))
        finally:
            self.finish(p)
        self.assertIn(run(["-q", "--shard", "1/2", "-o", out, src]).returncode, (0, 1))


class TestTreeStaysExact(SafetyCase):
    def test_case_rename_with_prune(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "IMG_1.JPG"))
        self.ok(run(["-o", out, src]))
        self.assertEqual(outputs_in(out), {"IMG_1.jpg"})
        os.rename(os.path.join(src, "IMG_1.JPG"), os.path.join(src, "IMG_1.jpg"))
        self.ok(run(["--prune", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"IMG_1.jpg"})
        self.ok(run(["--prune", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"IMG_1.jpg"})

    def test_a_photo_folder_moved_behind_a_symlink_keeps_its_thumbnails(self):
        """The photo folder moved to another disk, a symlink left at its old path:
        the same files, under a new real path. Their thumbnails were refused as
        those of inputs "still there" (the old path, through the symlink: the
        same files) on every run, exit 1; they are taken over, as after a rename."""
        src, out, disk = self.path("Photos"), self.path("thumbs"), self.path("disk")
        jpeg(os.path.join(src, "2024", "a.jpg"))
        jpeg(os.path.join(src, "2024", "b.jpg"))
        self.ok(run(["-r", "-q", "-o", out, src]))
        os.makedirs(disk)
        os.rename(src, os.path.join(disk, "Photos"))
        os.symlink(os.path.join(disk, "Photos"), src)
        for args in ([], ["--prune"]):
            r = self.ok(run(["-r"] + args + ["-o", out, src]))
            self.assertIn(b"0 done, 0 failed, 2 skipped", r.stdout)
        self.assertEqual(outputs_in(out), {"2024/a.jpg", "2024/b.jpg"})
        # another folder of hard links to the same photos is other inputs: their
        # thumbnails stay the first folder's (they changed owner on each run)
        copy = self.path("copy")
        shutil.copytree(os.path.join(disk, "Photos"), copy, copy_function=os.link)
        r = self.ok(run(["-r", "-o", out, copy]), (1,))
        self.assertEqual(r.stderr.count(b"which is still there"), 2, r.stderr)

    def test_rename_after_a_sharded_run_is_adopted_once(self):
        """An input done by a sharded run (its outputs recorded in the shard's
        journal), then renamed: the unsharded run adopts its thumbnails, and the run
        after that finds them up to date (once made again every other run: the
        adoption changed the owner in no journal of its own)."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "tab\t11.jpg"))
        for k in (1, 2):
            self.ok(run(["--shard", f"{k}/2", "-o", out, src]))
        os.rename(os.path.join(src, "tab\t11.jpg"), os.path.join(src, "tab\t11.JPG"))
        r = self.ok(run(["--shard", "none", "-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 1 skipped", r.stdout)
        for args in ([], ["--prune"]):
            r = self.ok(run(["--shard", "none"] + args + ["-o", out, src]))
            self.assertIn(b"0 done, 0 failed, 1 skipped", r.stdout, args)
        self.assertEqual(outputs_in(out), {"tab\t11.jpg"})

    def test_dry_run_of_a_first_sharded_run_predicts_it(self):
        """-n with --shard after runs without: its own journal did not exist yet, so
        the dry run read no journal and called every thumbnail "not made by imgpool"
        (exit 1), where the real run adopts them (exit 0). It reads the others now."""
        src, out = self.path("src"), self.path("out")
        for n in ("a", "b", "c", "d"):
            jpeg(os.path.join(src, n + ".jpg"))
        self.ok(run(["-o", out, src]))
        for k in (1, 2):
            dry = self.ok(run(["-n", "--shard", f"{k}/2", "-o", out, src]))
            self.assertNotIn(b"not made by imgpool", dry.stdout + dry.stderr)
            self.assertIn(b"0 to make", dry.stdout + dry.stderr)
            real = self.ok(run(["--shard", f"{k}/2", "-o", out, src]))
            self.assertIn(b"0 done, 0 failed", real.stdout)

    def test_a_dry_run_lists_each_removal_once_beside_shard_journals(self):
        """Runs with and without --shard keep a journal each, both with a row of
        every output: the dry run listed each prune, and each removal of an
        earlier setting's thumbnail, once per journal (2 where the run removes 1)."""
        src, out = self.path("src"), self.path("out")
        for n in "abc":
            jpeg(os.path.join(src, n + ".jpg"))
        self.ok(run(["-q", "-o", out, src]))
        for k in (1, 2):
            self.ok(run(["-q", "--shard", f"{k}/2", "-o", out, src]))
        os.unlink(os.path.join(src, "a.jpg"))
        r = self.ok(run(["-n", "--prune", "-o", out, src]))
        self.assertEqual(r.stdout.count(b"would prune "), 1, r.stdout)
        self.assertIn(b"1 thumbnail of deleted inputs to remove", r.stdout)
        r = self.ok(run(["-n", "--prune", "-s", "32", "--name", "{stem}_s.{ext}", "-o", out,
                         src]))
        self.assertEqual(r.stdout.count(b"would remove "), 2, r.stdout)
        self.assertIn(b"2 thumbnails of earlier settings to remove", r.stdout)

    def test_a_twin_whose_partner_became_a_folder_is_made(self):
        """x.gif took out/x.png, its twin x.png was refused; then x.gif became a
        folder: x.png was refused as the partner of one "still there", while the
        same run pruned x.gif's thumbnail as gone. A folder where the file was
        is gone, as --prune takes it."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "x.gif"), 96, 64)
        jpeg(os.path.join(src, "x.png"), 32, 24)
        r = run(["-q", "--prune", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        os.unlink(os.path.join(src, "x.gif"))
        jpeg(os.path.join(src, "x.gif", "in.jpg"))
        r = self.ok(run(["-r", "--prune", "-o", out, src]))
        self.assertNotIn(b"still there", r.stderr)
        self.assertEqual(outputs_in(out), {"x.png", "x.gif/in.jpg"})
        # a symlink to a folder where it was: gone as well (the walk does not follow it)
        jpeg(os.path.join(src, "y.gif"), 96, 64)
        jpeg(os.path.join(src, "y.png"), 32, 24)
        self.assertEqual(run(["-q", "--prune", "-o", out, src]).returncode, 1)
        os.unlink(os.path.join(src, "y.gif"))
        jpeg(self.path("elsewhere", "d", "in.jpg"))
        os.symlink(self.path("elsewhere", "d"), os.path.join(src, "y.gif"))
        r = self.ok(run(["-r", "--prune", "-o", out, src]))
        self.assertNotIn(b"still there", r.stderr)
        self.assertIn("y.png", outputs_in(out))

    def test_size_change_removes_old_sizes(self):
        src, out = self.path("src"), self.path("out")
        for n in ("a", "b"):
            jpeg(os.path.join(src, "sub", n + ".jpg"), 2000, 1500)
        self.ok(run(["-r", "-s", "1600,320", "-o", out, src]))
        self.assertEqual(outputs_in(out), {f"sub/{n}_{s}.jpg" for n in "ab" for s in (1600, 320)})
        with open(os.path.join(out, "sub", "notes.txt"), "w") as f:
            f.write("mine")
        # Each removal is said (a line, the file's record, the summary's count),
        # and listed first by the dry run: they went without a word.
        gone = {os.path.join(out, "sub", f"{n}_1600.jpg") for n in "ab"}
        report = self.path("r.jsonl")
        for dry in (["-n"], []):
            r = self.ok(run(dry + ["-r", "-s", "1200,320", "--report", report, "-o", out,
                                   src]))
            verb = "would remove " if dry else "remove "
            said = {line[len(verb):].split(" (no longer an output of ")[0]
                    for line in r.stdout.decode().splitlines() if line.startswith(verb)}
            self.assertEqual(said, gone, r.stdout)
            with open(report) as f:
                recs = [json.loads(line) for line in f]
            listed = {p for rec in recs if rec["type"] == "file"
                      for p in rec.get("removed", [])}
            self.assertEqual(listed, gone)
            self.assertEqual(recs[-1]["removed"], 2)
        want = {f"sub/{n}_{s}.jpg" for n in "ab" for s in (1200, 320)} | {"sub/notes.txt"}
        self.assertEqual(outputs_in(out), want)
        self.ok(run(["-r", "--prune", "-s", "1200,320", "-o", out, src]))
        self.assertEqual(outputs_in(out), want)

    def test_a_dry_run_lists_the_removals_the_run_makes(self):
        """An output of earlier settings that a file met later in the walk now
        plans (its name, under the new settings) was listed by -n as "would
        remove", where the run, which plans ahead before it publishes, replaces
        it: -n said 2 removals and the run made none. -n lists a file's removals
        once the files after it are planned, as the run does."""
        def removals(report):
            with open(report) as f:
                recs = [json.loads(line) for line in f]
            return ({p for rec in recs if rec["type"] == "file"
                     for p in rec.get("removed", [])}, recs[-1]["removed"])

        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 64, 48, mean=40)
        jpeg(os.path.join(src, "a.JPG"), 120, 180, mean=200)
        jpeg(os.path.join(src, "b.jpg"), 64, 48, mean=90)
        jpeg(os.path.join(src, "b_256.jpg"), 64, 48, mean=150)
        r = run(["-q", "-s", "256,128", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)  # a.jpg and a.JPG: one name
        for args in (["-s", "256,128", "--name", "{stem}_{size}.{inext}"],
                     ["-s", "256", "--name", "{stem}_{size}.{inext}"]):
            said = []
            for dry in (["-n"], []):
                report = self.path("r%d.jsonl" % len(said))
                r = run(dry + args + ["--report", report, "-o", out, src])
                self.assertIn(r.returncode, (0, 1), r.stderr)
                said.append(removals(report))
            self.assertEqual(said[0], said[1], args)
        # And never one the run makes hidden: with more files after it than the
        # run plans ahead (256 at least, more as the workers take files), the run
        # may publish a file before the last one is planned, and remove what that
        # one would have taken over. -n, waiting for the whole walk, listed 1
        # removal where the run made 2. It may list one the run does not make.
        src2, fill, late, out2 = (self.path(n) for n in ("src2", "fill", "late", "out2"))
        jpeg(os.path.join(src2, "a.jpg"), 120, 90)
        self.ok(run(["-q", "-s", "256,128", "-o", out2, src2]))
        for i in range(300):
            jpeg(os.path.join(fill, "f%03d.jpg" % i), 8, 6)
        jpeg(os.path.join(late, "a_128.png"), 4, 3)  # the smallest: walked last
        said = []
        for dry in (["-n"], []):
            report = self.path("w%d.jsonl" % len(said))
            self.ok(run(dry + ["-q", "-s", "256", "--name", "{stem}.jpg", "--report", report,
                               "-o", out2, src2, fill, late]))
            said.append(removals(report))
        self.assertLessEqual(said[1][0], said[0][0])
        self.assertEqual(said[0][1], len(said[0][0]))

    def test_prune_cut_short_by_a_kill_is_reported_next_run(self):
        """A kill -9 between a --prune's removal and its record lost the record:
        the journal's quarantine row (committed before the removal) led the next
        run back and it forgot the row without a word. What a kill leaves there is
        made by hand here: the row committed, the output and its input gone. The
        next run says the removal (a prune line and record, counted); a row whose
        path holds a file (a replacement that ended) is no removal."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        self.ok(run(["-q", "-o", out, src]))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        for i, name in enumerate(("a.jpg", "b.jpg")):
            st = os.stat(os.path.join(out, name))
            db.execute("INSERT INTO quarantine VALUES (?, CAST(? AS BLOB), ?, ?)",
                       ("killed-%d" % i, name, st.st_size, st.st_mtime_ns))
        db.commit()
        db.close()
        os.unlink(os.path.join(out, "a.jpg"))
        os.unlink(os.path.join(src, "a.jpg"))
        rep = self.path("r.jsonl")
        r = self.ok(run(["-o", out, "--report", rep, src]))
        self.assertIn(b"prune " + os.path.join(out, "a.jpg").encode(), r.stdout)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        pruned = [x for x in recs if x["type"] == "prune"]
        self.assertEqual([(x["output"], x["input"]) for x in pruned],
                         [(os.path.join(out, "a.jpg"), os.path.join(src, "a.jpg"))])
        self.assertEqual(recs[-1]["pruned"], 1)
        self.assertEqual(outputs_in(out), {"b.jpg"})
        r = self.ok(run(["-o", out, "--prune", src]))   # said once
        self.assertNotIn(b"prune ", r.stdout)

    def test_deleted_input_pruned_changed_output_kept(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"))
        self.ok(run(["-o", out, src]))
        with open(os.path.join(out, "b.jpg"), "ab") as f:
            f.write(b"edited by hand")
        os.unlink(os.path.join(src, "a.jpg"))
        os.unlink(os.path.join(src, "b.jpg"))
        self.ok(run(["--prune", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"b.jpg"})


    def test_long_paths_in_an_ownership_error_are_whole(self):
        """The cause was cut at 700 bytes: with folders of 250-byte names it ended
        inside the other input's path, naming neither it nor the remedy."""
        a = self.path("a" * 250, "b" * 250)
        b = self.path("c" * 250, "d" * 250)
        out = self.path("o" * 250)
        jpeg(os.path.join(a, "x.jpg"), mean=40)
        jpeg(os.path.join(b, "x.jpg"), mean=200)
        self.ok(run(["-q", "-o", out, a]))
        rep = self.path("r.jsonl")
        r = run(["-q", "--report", rep, "-o", out, b])
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(rep) as f:
            err = [json.loads(line) for line in f][0]["error"]
        self.assertIn("is the thumbnail of " + os.path.join(a, "x.jpg"), err)
        self.assertTrue(err.endswith("--overwrite replaces it"), err)

    def test_another_inputs_thumbnail_is_not_taken_across_runs(self):
        """Two inputs with one output path in two runs (-o out A, then -o out B; c.png,
        then c.jpg beside it with -f jpeg): the second replaced the first one's
        thumbnail and said "ok", and every later run flipped it back. In one run
        that was already an error; across runs it is one too now, while the first
        input is there. Once it is gone, the output is handed over (a renamed
        input), and --overwrite replaces it."""
        a, b, out = self.path("A"), self.path("B"), self.path("out")
        jpeg(os.path.join(a, "x.jpg"), mean=40)
        jpeg(os.path.join(b, "x.jpg"), mean=200)
        self.ok(run(["-o", out, a]))
        with open(os.path.join(out, "x.jpg"), "rb") as f:
            made_for_a = f.read()
        for _ in range(2):
            r = run(["-o", out, b])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(b"is the thumbnail of " + os.path.join(a, "x.jpg").encode(), r.stderr)
            self.ok(run(["-o", out, a]))
            with open(os.path.join(out, "x.jpg"), "rb") as f:
                self.assertEqual(f.read(), made_for_a)
        self.ok(run(["--overwrite", "-o", out, b]))
        with open(os.path.join(out, "x.jpg"), "rb") as f:
            self.assertNotEqual(f.read(), made_for_a)
        # the same in one folder: c.png first, c.jpg added later, both to JPEG
        src, out2 = self.path("src"), self.path("out2")
        os.makedirs(src)
        subprocess.run(["vips", "black", os.path.join(src, "c.png"), "64", "48"], check=True)
        self.ok(run(["-f", "jpeg", "-o", out2, src]))
        jpeg(os.path.join(src, "c.jpg"), mean=200)
        for _ in range(2):
            r = run(["-f", "jpeg", "-o", out2, src])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stdout.count(b"ok "), 0, r.stdout)
        # the first input gone: its thumbnail is handed over
        a3, b3, out3 = self.path("A3"), self.path("B3"), self.path("out3")
        jpeg(os.path.join(a3, "y.jpg"), mean=40)
        jpeg(os.path.join(b3, "y.jpg"), mean=200)
        self.ok(run(["-o", out3, a3]))
        os.unlink(os.path.join(a3, "y.jpg"))
        r = run(["-o", out3, b3])
        self.ok(r)
        self.assertIn(b"ok ", r.stdout)

    def test_unreachable_output_of_a_gone_input_is_kept_for_the_next_prune(self):
        """--prune that could not reach a stale thumbnail (a symlink standing for a
        moment where its folder was; as another user, a folder it cannot search)
        said nothing and forgot both journal rows: no later --prune removed the
        thumbnail, and nothing showed it was imgpool's. Now it is an error record,
        exit status 1, the rows kept; the next --prune removes it."""
        src, out = self.path("src"), self.path("out")
        for d in ("a", "b"):
            for i in range(2):
                jpeg(os.path.join(src, d, "%d.jpg" % i), mean=50 + 40 * i)
        self.ok(run(["-r", "-o", out, src]))
        os.unlink(os.path.join(src, "b", "0.jpg"))
        os.rename(os.path.join(out, "b"), os.path.join(out, "b.real"))
        os.symlink("b.real", os.path.join(out, "b"))
        r = run(["-r", "-n", "--prune", "-o", out, src])    # a dry run says as much
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"would not be pruned", r.stderr)
        rep = self.path("r.jsonl")
        r = run(["-r", "--prune", "-o", out, "--report", rep, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"not pruned", r.stderr)
        with open(rep) as f:
            kept = [o for o in map(json.loads, f) if o["type"] == "prune"]
        self.assertEqual(len(kept), 1, kept)
        self.assertTrue(kept[0]["output"].endswith("b/0.jpg"), kept)
        self.assertIn("symlink", kept[0]["error"])
        os.unlink(os.path.join(out, "b"))
        os.rename(os.path.join(out, "b.real"), os.path.join(out, "b"))
        r = run(["-r", "--prune", "-o", out, src])
        self.ok(r)
        self.assertFalse(os.path.exists(os.path.join(out, "b", "0.jpg")), r.stdout)
        self.assertEqual(outputs_in(out), {"a/0.jpg", "a/1.jpg", "b/1.jpg"})

class TestWhatOutputsWereMadeFrom(SafetyCase):
    """Each output row records the settings and the input (size, mtime, checksum)
    it was made from. The input's own row alone said so, and it is committed after
    the outputs' renames, or lives in another journal (shards): a row of the file
    before, or of other settings, passed thumbnails made from other bytes or with
    other settings as up to date, for good."""

    def width(self, path):
        return int(subprocess.run(["vipsheader", "-f", "width", path], capture_output=True,
                                  text=True, check=True).stdout)

    def test_shards_after_an_unsharded_run_of_other_settings(self):
        src, out = self.path("src"), self.path("out")
        for i in range(4):
            jpeg(os.path.join(src, f"p{i}.jpg"), 400, 300, 40 * (i + 1))
        for k in (1, 2):
            self.ok(run(["-q", "-s", "64", "--shard", f"{k}/2", "-o", out, src]))
        self.ok(run(["-q", "-s", "96", "-o", out, src]))
        self.assertEqual({self.width(os.path.join(out, f"p{i}.jpg")) for i in range(4)}, {96})
        for k in (1, 2):
            self.ok(run(["-q", "-s", "64", "--shard", f"{k}/2", "-o", out, src]))
        self.assertEqual({self.width(os.path.join(out, f"p{i}.jpg")) for i in range(4)}, {64})
        r = self.ok(run(["-s", "96", "-o", out, src]))
        self.assertIn(b"4 done", r.stdout + r.stderr)

    def test_a_row_a_kill_left_of_other_settings(self):
        """kill -9 after the renames and before the row's commit: the row of the
        run before stays (here put back by hand, the same state)."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 400, 300)
        os.utime(os.path.join(src, "a.jpg"), (1.6e9, 1.6e9))
        self.ok(run(["-q", "-s", "64", "-o", out, src]))
        dbpath = os.path.join(out, ".imgpool", "journal.sqlite")
        db = sqlite3.connect(dbpath)
        before = db.execute("SELECT fingerprint FROM files").fetchall()
        db.close()
        self.ok(run(["-q", "-s", "96", "-o", out, src]))
        db = sqlite3.connect(dbpath)
        db.execute("UPDATE files SET fingerprint = ?", before[0])
        db.commit()
        db.close()
        r = self.ok(run(["-s", "64", "-o", out, src]))
        self.assertIn(b"1 done", r.stdout + r.stderr)
        self.assertEqual(self.width(os.path.join(out, "a.jpg")), 64)

    def test_a_row_a_kill_left_of_the_file_before(self):
        """Edited, made again, killed before the row's commit; then the old
        version restored (cp -a from a backup): its row matches, and the
        thumbnail shows the edit."""
        src, out = self.path("src"), self.path("out")
        a = os.path.join(src, "a.jpg")
        jpeg(a, 64, 48, 40)
        os.utime(a, (1.6e9, 1.6e9))
        backup = self.path("a-backup.jpg")
        shutil.copy2(a, backup)
        self.ok(run(["-q", "-o", out, src]))
        dbpath = os.path.join(out, ".imgpool", "journal.sqlite")
        db = sqlite3.connect(dbpath)
        before = db.execute("SELECT size, mtime_ns, checksum, racy FROM files").fetchall()
        db.close()
        jpeg(a, 64, 48, 220)
        os.utime(a, (1.7e9, 1.7e9))
        self.ok(run(["-q", "-o", out, src]))
        db = sqlite3.connect(dbpath)
        db.execute("UPDATE files SET size = ?, mtime_ns = ?, checksum = ?, racy = ?", before[0])
        db.commit()
        db.close()
        shutil.copy2(backup, a)
        r = self.ok(run(["-o", out, src]))
        self.assertIn(b"1 done", r.stdout + r.stderr)
        self.assertLess(mean_of(os.path.join(out, "a.jpg")), 80)

    def test_a_lost_row_and_an_older_file_synced_in_its_place(self):
        """kill -9 lost the row; then a version edited elsewhere arrives with its
        older mtime (rsync -a): the thumbnail of the file before was adopted."""
        src, out = self.path("src"), self.path("out")
        a = os.path.join(src, "a.jpg")
        jpeg(a, 64, 48, 40)
        os.utime(a, (1.6e9, 1.6e9))
        self.ok(run(["-q", "-o", out, src]))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        db.execute("DELETE FROM files")
        db.commit()
        db.close()
        jpeg(a, 64, 48, 220)
        os.utime(a, (1.5e9, 1.5e9))
        r = self.ok(run(["-o", out, src]))
        self.assertIn(b"1 done", r.stdout + r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 180)
        r = self.ok(run(["-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 1 skipped", r.stdout + r.stderr)


class TestWalk(SafetyCase):
    def test_path_max_deep_folder_is_an_error_line(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "top.jpg"))
        fd = os.open(src, os.O_RDONLY)
        depth = 0
        try:
            while depth * 101 < 4300:
                name = "d" * 100
                os.mkdir(name, dir_fd=fd)
                nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = nfd
                depth += 1
            with open(_cache[(64, 48, 128)], "rb") as f:
                data = f.read()
            w = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(w, data)
            os.close(w)
        finally:
            os.close(fd)
        r = run(["-r", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(any(line.startswith(b"error") and b"dddd" in line
                            for line in (r.stdout + r.stderr).splitlines()), r.stdout)
        self.assertIn("top.jpg", outputs_in(out))

    def test_earlier_output_folder_not_walked(self):
        src = self.path("photos")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-r", "-o", os.path.join(src, "thumbs"), src]))
        # a later run into another folder must not take photos/thumbs as input
        r = self.ok(run(["-r", "-o", self.path("other"), src]))
        self.assertEqual(outputs_in(self.path("other")), {"a.jpg"}, r.stdout)


    def test_thumbnails_are_never_inputs(self):
        """A PATH inside the output folder that held thumbnails (-r -o out
        out/sub), or a symlink in the tree to a thumbnail: imgpool's own
        thumbnails were thumbnailed again into the same folder, each "ok". A
        photo the user keeps in the output folder is still an input."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "sub", "b.jpg"), mean=90)
        self.ok(run(["-q", "-r", "-o", out, src]))

        def thumbs():
            return {k: v for k, v in snapshot(out).items() if "/.imgpool" not in k}
        before = thumbs()
        for paths in ([os.path.join(out, "sub")], [os.path.join(out, "sub", "b.jpg")]):
            rep = self.path("r.jsonl")
            r = run(["-q", "-r", "--report", rep, "-o", out] + paths)
            self.assertEqual(r.returncode, 1, r.stderr)
            with open(rep) as f:
                recs = [json.loads(line) for line in f if '"type":"file"' in line]
            self.assertEqual([(x["status"], os.path.basename(x["input"])) for x in recs],
                             [("error", "b.jpg")])
            self.assertIn("thumbnail imgpool made", recs[0]["error"])
            self.assertEqual(thumbs(), before, "no thumbnail of a thumbnail")
        os.symlink(os.path.join(out, "a.jpg"), os.path.join(src, "link.jpg"))
        r = run(["-q", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"link.jpg: a thumbnail imgpool made", r.stderr + r.stdout)
        self.assertFalse(os.path.exists(os.path.join(out, "link.jpg")))
        os.unlink(os.path.join(src, "link.jpg"))
        # the user's own photo in the output folder, named as a PATH or linked
        jpeg(os.path.join(out, "mine", "p.jpg"), mean=60)
        self.ok(run(["-q", "-o", out, os.path.join(out, "mine")]))
        self.assertTrue(os.path.exists(os.path.join(out, "p.jpg")))
        os.symlink(os.path.join(out, "mine", "p.jpg"), os.path.join(src, "q.jpg"))
        self.ok(run(["-q", "-o", out, src]))
        self.assertTrue(os.path.exists(os.path.join(out, "q.jpg")))

class TestChecksum(SafetyCase):
    def test_an_unreadable_photo_without_its_thumbnail_does_not_block_its_twin(self):
        """--checksum, a.jpg unreadable and its thumbnail gone, a.png new (-f jpeg:
        the same output name): a.jpg kept its claim on the name, and a.png was
        refused as its twin in every run (a review of the fix below). Only an
        unreadable file with a thumbnail of imgpool's at its name keeps it."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 300, 200)
        self.ok(run(["-q", "--checksum", "-f", "jpeg", "-o", out, src]))
        os.unlink(os.path.join(out, "a.jpg"))
        jpeg(os.path.join(src, "a.png"), 200, 100)
        os.chmod(os.path.join(src, "a.jpg"), 0)
        r = self.no_dac(["--checksum", "-f", "jpeg", "-o", out, src])
        os.chmod(os.path.join(src, "a.jpg"), 0o644)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"a.png", r.stdout)
        self.assertTrue(os.path.exists(os.path.join(out, "a.jpg")), r.stderr)

    def test_an_unreadable_renamed_photo_is_an_error_under_checksum(self):
        """--checksum: a photo made unreadable and renamed (a.jpeg to a.JPEG, the
        same thumbnail name) took its old thumbnail over by size and mtime and
        was "skipped", exit 0, its bytes never compared (a cron model's find).
        It is an error now, as the same file without the rename is, and its
        thumbnail is kept."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpeg"), 300, 200)
        os.utime(os.path.join(src, "a.jpeg"), (1761998400, 1761998400))
        self.ok(self.no_dac(["-q", "-r", "--prune", "--checksum", "-o", out, src]))
        os.chmod(os.path.join(src, "a.jpeg"), 0)
        os.rename(os.path.join(src, "a.jpeg"), os.path.join(src, "a.JPEG"))
        rep = self.path("r.jsonl")
        r = self.no_dac(["-q", "-r", "--prune", "--checksum", "--report", rep, "-o", out, src])
        os.chmod(os.path.join(src, "a.JPEG"), 0o644)
        self.assertEqual(r.returncode, 1, r.stderr)
        files = [x for x in map(json.loads, open(rep)) if x["type"] == "file"]
        self.assertEqual([(x["status"], x.get("kind")) for x in files], [("error", "environment")],
                         files)
        # "cannot tell", so --prune keeps what it may show (a third review)
        self.assertTrue(os.path.exists(os.path.join(out, "a.jpg")), "pruned")

    def test_checksum_after_plain_runs_and_touches(self):
        src, out = self.path("src"), self.path("out")
        for n in "abc":
            jpeg(os.path.join(src, n + ".jpg"), 300, 200)
        self.ok(run(["-o", out, src]))
        r = self.ok(run(["--checksum", "-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 3 skipped", r.stdout)
        time.sleep(0.01)
        os.utime(os.path.join(src, "a.jpg"))  # same bytes, new mtime
        r = self.ok(run(["--checksum", "-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 3 skipped", r.stdout)
        r = self.ok(run(["-o", out, src]))  # the row learnt the new mtime
        self.assertIn(b"0 done, 0 failed, 3 skipped", r.stdout)
        with open(os.path.join(src, "b.jpg"), "r+b") as f:  # new bytes, same size and mtime
            st = os.stat(f.fileno())
            f.seek(st.st_size - 3)
            f.write(b"\x00\x00\x00")
        os.utime(os.path.join(src, "b.jpg"), ns=(st.st_atime_ns, st.st_mtime_ns))
        r = run(["--checksum", "-o", out, src])
        self.assertIn(b"b.jpg", r.stdout + r.stderr)
        self.assertNotIn(b"3 skipped", r.stdout)


    def same_size_and_mtime_edit(self, path, image_like):
        """Replace path's bytes by image_like's (same size: padded or cut at the
        end) and keep its mtime."""
        st = os.stat(path)
        with open(image_like, "rb") as f:
            data = f.read()
        data = (data + b"\0" * st.st_size)[:st.st_size]
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def test_rows_without_a_checksum_prove_nothing(self):
        """--checksum took a row stored without a checksum by size and mtime: a
        thumbnail adopted after a kill had lost its input's row, or a file that
        failed, then edited keeping both, was "skipped" (and the row given the new
        bytes' checksum: unseen for good); a good copy put over a damaged one never
        got its thumbnail ("failed earlier, unchanged since")."""
        src, out = self.path("src"), self.path("out")
        a, b = os.path.join(src, "a.png"), os.path.join(src, "b.png")
        red, green = self.path("red.png"), self.path("green.png")
        vips("black", self.path("black.v"), "64", "48", "--bands", "3")
        vips("linear", self.path("black.v"), self.path("grey.v"), "1", "120", "--uchar")
        # stored, not compressed: two pictures of one size in bytes
        vips("copy", self.path("black.v"), red + "[compression=0]")
        vips("copy", self.path("grey.v"), green + "[compression=0]")
        self.assertEqual(os.path.getsize(red), os.path.getsize(green))
        os.makedirs(src)
        for f in (a, b):
            shutil.copy(red, f)
            os.utime(f, (1.6e9, 1.6e9))  # long before the run: not racy
        self.ok(run(["-q", "-o", out, src]))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        db.execute("DELETE FROM files WHERE rel = CAST('a.png' AS BLOB) OR rel = 'a.png'")
        db.commit()
        db.close()
        r = self.ok(run(["-o", out, src]))  # adopted: no checksum known
        self.same_size_and_mtime_edit(a, green)
        r = self.ok(run(["--checksum", "-o", out, src]))
        self.assertIn(b"1 done", r.stdout + r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.png")), 60, "green's thumbnail")
        # b: damaged (fails), then a good copy with the same size and mtime
        st = os.stat(b)
        with open(b, "r+b") as f:
            f.seek(20)
            f.write(b"\xff" * 8)
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.unlink(os.path.join(out, "b.png"))
        r = run(["-q", "--checksum", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        shutil.copy(red, b)
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.ok(run(["-q", "--checksum", "-o", out, src]))
        self.assertTrue(os.path.exists(os.path.join(out, "b.png")))

    def test_a_lost_row_under_checksum_is_adopted_by_its_bytes(self):
        """A kill -9 lost a file's row after its thumbnail was in place. The next
        run with --checksum adopted the thumbnail with no checksum (nothing was
        read), so the run after it, the same command, took the row for another
        file and made the thumbnail again: a clean run was followed by one that
        made files (the output property test, once). With --checksum nothing is
        adopted without comparing the bytes it shows (its output row records
        them): adopted with them, then up to date."""
        src, out = self.path("src"), self.path("out")
        os.makedirs(src)
        for name in ("a.jpg", "b.jpg"):
            jpeg(os.path.join(src, name))
            os.utime(os.path.join(src, name), (1.6e9, 1.6e9))  # not racy
        self.ok(run(["-q", "--checksum", "-o", out, src]))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        db.execute("DELETE FROM files WHERE rel = CAST('a.jpg' AS BLOB) OR rel = 'a.jpg'")
        db.commit()
        db.close()
        r = self.ok(run(["-n", "--checksum", "-o", out, src]))  # says so, writes nothing
        self.assertIn(b"1 existing thumbnail to adopt", r.stdout + r.stderr)
        r = self.ok(run(["--checksum", "-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 2 skipped", r.stdout + r.stderr)
        self.assertIn(b"1 existing thumbnail adopted", r.stdout + r.stderr)
        r = self.ok(run(["--checksum", "-o", out, src]))
        self.assertIn(b"0 done, 0 failed, 2 skipped", r.stdout + r.stderr)
        self.assertNotIn(b"adopted", r.stdout + r.stderr)

    def test_a_file_that_cannot_be_read_is_not_up_to_date(self):
        """--checksum answered "skipped" (up to date) for a file it could not read:
        nothing was compared, and nothing said so. It is an error naming the cause
        now; without --checksum size and mtime decide, as ever."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv, to run as nobody")
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        os.utime(os.path.join(src, "a.jpg"), (1.6e9, 1.6e9))  # not racy
        os.chmod(self.tmp, 0o755)
        subprocess.run(["chown", "-R", "65534:65534", self.tmp], check=True)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IMGPOOL]
        r = subprocess.run(nobody + ["-q", "-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(os.path.join(src, "a.jpg"), 0)
        r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)  # size and mtime: up to date
        r = subprocess.run(nobody + ["--checksum", "-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(b"Permission denied", r.stdout + r.stderr)

class TestRacyInputs(SafetyCase):
    """On a filesystem with coarse timestamps (vfat 2 s, exfat 10 ms, ext4 with
    128-byte inodes and HFS+ 1 s) an input rewritten with the same size within the
    timestamp granule in which imgpool read it keeps its size and mtime: every later
    run skipped it as up to date, its old thumbnail kept for good. Reproduced on any
    filesystem by giving the rewrite back the mtime it had."""

    def statuses(self, rep):
        with open(rep) as f:
            return {os.path.basename(r["input"]): r["status"]
                    for r in map(json.loads, f) if r["type"] == "file"}

    def test_rewrite_within_the_mtime_granule_is_redone(self):
        src, out, rep = self.path("src"), self.path("out"), self.path("r.jsonl")
        os.makedirs(src)
        racy, settled = os.path.join(src, "racy.tif"), os.path.join(src, "settled.tif")
        # uncompressed: another picture of the same size has the same file size
        light, dark = self.path("light.tif"), self.path("dark.tif")
        for path, mean in ((light, 200), (dark, 40)):
            vips("black", path + ".v", "64", "48")
            vips("linear", path + ".v", path, "1", str(mean), "--uchar")
        self.assertEqual(os.path.getsize(light), os.path.getsize(dark))
        shutil.copyfile(light, racy)
        shutil.copyfile(light, settled)
        minute_ago = time.time_ns() - 60 * 10**9
        os.utime(settled, ns=(minute_ago, minute_ago))
        now = time.time_ns()  # the moment just before the run: read in its granule
        os.utime(racy, ns=(now, now))
        self.ok(run(["-o", out, "--report", rep, src]))
        self.assertEqual(self.statuses(rep), {"racy.tif": "ok", "settled.tif": "ok"})
        self.assertGreater(mean_of(os.path.join(out, "racy.jpg")), 150)

        # rewritten in place at once, another picture of the same size, and the
        # mtime it had (the same granule); settled.tif too, a minute after its mtime
        for path, mtime in ((racy, now), (settled, minute_ago)):
            with open(dark, "rb") as f, open(path, "r+b") as g:
                g.write(f.read())
            os.utime(path, ns=(mtime, mtime))
        self.ok(run(["-o", out, "--report", rep, src]))
        # racy.tif is redone, with the new picture (before: "skipped", for good) ...
        self.assertEqual(self.statuses(rep), {"racy.tif": "ok", "settled.tif": "skipped"})
        self.assertLess(mean_of(os.path.join(out, "racy.jpg")), 100)
        # ... settled.tif, its mtime safely older than the run, is trusted by size and
        # mtime and not read: a change that keeps both is for --checksum to see
        self.assertGreater(mean_of(os.path.join(out, "settled.jpg")), 150)
        self.ok(run(["--checksum", "-o", out, "--report", rep, src]))
        self.assertEqual(self.statuses(rep), {"racy.tif": "skipped", "settled.tif": "ok"})

        # unchanged: racy.tif is up to date (by its bytes while it is racy)
        self.ok(run(["-o", out, "--report", rep, src]))
        self.assertEqual(self.statuses(rep), {"racy.tif": "skipped", "settled.tif": "skipped"})
        # a run once its mtime is safely old: skipped, and the row no longer racy
        time.sleep(max(0, (now + 2.2 * 10**9 - time.time_ns()) / 1e9))
        self.ok(run(["-o", out, "--report", rep, src]))
        self.assertEqual(self.statuses(rep), {"racy.tif": "skipped", "settled.tif": "skipped"})
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        rows = {os.path.basename(bytes(rel).decode()): flag
                for rel, flag in db.execute("SELECT rel, racy FROM files")}
        db.close()
        self.assertEqual(rows, {"racy.tif": 0, "settled.tif": 0})


class TestJournal(SafetyCase):
    def test_outputs_are_rows_relative_to_out(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "x\n", "a.jpg"))
        self.ok(run(["-r", "-s", "100,50", "-o", out, src], cwd=self.tmp))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        paths = sorted(bytes(p) for (p,) in db.execute("SELECT path FROM outputs"))
        self.assertEqual(paths, [b"x\n/a_100.jpg", b"x\n/a_50.jpg"])

    def test_schema_1_journal_converted(self):
        """A journal of schema 1 (outputs as one joined string) is converted: its
        outputs are imgpool's (replaced on a change), newline pieces that do not name
        a file beneath OUT are dropped."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["--no-journal", "-o", out, src]))
        st = os.stat(os.path.join(src, "a.jpg"))
        root = os.path.realpath(src)
        os.makedirs(os.path.join(out, ".imgpool"), exist_ok=True)
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        db.executescript(
            "CREATE TABLE files (root TEXT NOT NULL, rel BLOB NOT NULL, size INTEGER,"
            " mtime_ns INTEGER, fingerprint INTEGER, checksum INTEGER, status INTEGER,"
            " cause TEXT, outputs BLOB, attempts INTEGER DEFAULT 0, ms REAL,"
            " seen_run INTEGER, PRIMARY KEY (root, rel)) WITHOUT ROWID;"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, settings TEXT,"
            " wall_s REAL, done INTEGER, failed INTEGER, skipped INTEGER,"
            " interrupted INTEGER); PRAGMA user_version=1;")
        joined = (out + "/a.jpg\n.bashrc\n" + out + "/../victim").encode()
        db.execute("INSERT INTO files VALUES (?, ?, ?, ?, 0, 0, 1, NULL, ?, 1, 0, 1)",
                   (root, b"a.jpg", st.st_size, st.st_mtime_ns, joined))
        db.commit()
        db.close()
        time.sleep(0.01)
        jpeg(os.path.join(src, "a.jpg"), 64, 48, 30)  # changed: redo replaces the output
        r = self.ok(run(["-o", out, src]))
        self.assertIn(b"1 done", r.stdout)
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 8)
        self.assertEqual([bytes(p) for (p,) in db.execute("SELECT path FROM outputs")],
                         [b"a.jpg"])

    def test_a_schema_6_journal_upgraded_makes_nothing(self):
        """A journal of the version before (schema 6: output rows without the input
        they were made from) is upgraded to 7, and the run after the upgrade makes
        nothing, plain, in shards and with --checksum: the old rows keep their old
        rule."""
        src, out = self.path("src"), self.path("out")
        for i in range(3):
            jpeg(os.path.join(src, "d%d" % i, "p.jpg"), 64, 48, 40 + 40 * i)
        self.ok(run(["-q", "-r", "-o", out, src]))
        for k in (1, 2):
            self.ok(run(["-q", "-r", "--shard", "%d/2" % k, "-o", out, src]))
        for name in os.listdir(os.path.join(out, ".imgpool")):
            if not name.endswith(".sqlite"):
                continue
            db = sqlite3.connect(os.path.join(out, ".imgpool", name))
            db.executescript("ALTER TABLE outputs DROP COLUMN src_size;"
                             "ALTER TABLE outputs DROP COLUMN src_mtime_ns;"
                             "ALTER TABLE outputs DROP COLUMN src_checksum;"
                             "PRAGMA user_version=6;")
            db.close()
        for extra in ([], ["--checksum"], ["--shard", "1/2"], ["--shard", "2/2"]):
            r = self.ok(run(["-r", "-o", out, src] + extra))
            self.assertIn(b"0 done", r.stdout + r.stderr, extra)
            self.assertNotIn(b"adopted", r.stdout + r.stderr, extra)
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 8)
        db.close()

    def test_no_descriptor_limit_costs_a_later_run(self):
        """Under a low limit on open files the journal's first read failed, the
        journal was called "not an SQLite database", moved aside and started anew:
        every later run then found the thumbnails unprovable, each an error. A run
        under any limit now fails or works; the next plain run skips everything."""
        import resource
        src, out = self.path("src"), self.path("out")
        for i in range(4):
            jpeg(os.path.join(src, "p%d.jpg" % i))
        self.ok(run(["-o", out, src]))
        seen = set()
        for limit in range(4, 40):
            def low():
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            r = run(["-o", out, "--progress", "none", src], preexec_fn=low)
            said = (r.stdout + r.stderr).decode(errors="replace")
            self.assertIn(r.returncode, (0, 1), "limit %d: %s" % (limit, said))
            self.assertNotIn("unusable", said, "limit %d" % limit)
            if b"cannot open the journal" in r.stderr:
                seen.add(limit)
                self.assertIn("Too many open files", said)
            r = run(["-o", out, "--progress", "none", src])
            self.assertEqual(r.returncode, 0, "after limit %d: %s" % (
                limit, (r.stdout + r.stderr).decode(errors="replace")))
            self.assertIn(b"4 skipped", r.stdout + r.stderr, limit)
        self.assertTrue(seen, "no limit reached the journal: the test tests nothing")
        names = os.listdir(os.path.join(out, ".imgpool"))
        self.assertEqual([n for n in names if "unusable" in n], [])

    def test_fifo_in_the_journals_place(self):
        """A FIFO at the journal's name (or its -wal, or another shard's journal)
        held the run in open() for ever, past SIGTERM: it is moved aside (or, for
        another shard's, left alone) and the run goes on."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal-1-of-2.sqlite"):
            out = self.path("out-" + name)
            if name.endswith("-wal"):
                self.ok(run(["-o", out, src]))
            os.makedirs(os.path.join(out, ".imgpool"), exist_ok=True)
            os.mkfifo(os.path.join(out, ".imgpool", name))
            for dry in (["-n"], []):
                r = run(dry + ["-o", out, src], timeout=60)
                self.assertIn(r.returncode, (0, 1), (name, dry, r.stderr))
            self.assertTrue(os.path.exists(os.path.join(out, "a.jpg")), name)

    def test_hard_linked_journal_files_are_not_written_through(self):
        """The journal and its -wal and -shm are written by SQLite by name: where one
        had other hard links (a `cp -al` backup of OUT, or a link planted to a file
        elsewhere), a run wrote into the other file too, and so did `imgpool status`
        (a reader writes the -shm). Now a run gives each a copy of its own first (the
        journal's rows kept: the thumbnails stay provable), and readers open it
        without touching its side files."""
        src, out = self.path("src"), self.path("out")
        for i in range(3):
            jpeg(os.path.join(src, "%d.jpg" % i), mean=40 + 60 * i)
        self.ok(run(["-o", out, src]))
        priv = os.path.join(out, ".imgpool")
        backup = self.path("backup")
        os.makedirs(backup)
        files = {}
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            target = os.path.join(backup, name)
            if os.path.exists(os.path.join(priv, name)):
                os.link(os.path.join(priv, name), target)   # as cp -al makes it
            else:
                with open(target, "wb") as f:
                    f.write(b"the user's own bytes " * 100)
                os.link(target, os.path.join(priv, name))  # planted
            with open(target, "rb") as f:
                files[target] = f.read()
        r = subprocess.run([IMGPOOL, "status", out], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for target, data in files.items():
            with open(target, "rb") as f:
                self.assertEqual(f.read(), data, "status wrote %s" % target)
        os.utime(os.path.join(src, "1.jpg"), (1, 1))        # one file to redo
        r = run(["-v", "-o", out, src])
        self.ok(r)
        said = r.stdout.decode().splitlines()
        self.assertEqual(sorted(l.split()[0] for l in said if l.startswith(("ok", "skip"))),
                         ["ok", "skip", "skip"], r.stdout)
        self.assertNotIn(b"no journal", r.stderr)
        for target, data in files.items():
            with open(target, "rb") as f:
                self.assertEqual(f.read(), data, "the run wrote %s" % target)
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            p = os.path.join(priv, name)
            if os.path.exists(p):
                self.assertEqual(os.stat(p).st_nlink, 1, name)

    def test_a_hard_linked_report_is_not_written_through(self):
        """A --report file with other hard links (a cp -al backup of the folder it
        is in, a link made to keep last night's) was emptied and written in place,
        the other copy with it; --report-append added to both."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        report, keep = self.path("r.jsonl"), self.path("keep.jsonl")
        self.ok(run(["-q", "--report", report, "-o", self.path("out"), src]))
        os.chmod(report, 0o600)  # a private report stays private
        os.link(report, keep)
        with open(keep, "rb") as f:
            kept = f.read()
        for args in (["--force"], ["--force", "--report-append"]):
            self.ok(run(["-q", "--report", report] + args + ["-o", self.path("out"), src]))
            with open(keep, "rb") as f:
                self.assertEqual(f.read(), kept, args)
            self.assertEqual(os.stat(report).st_nlink, 1, args)
            self.assertEqual(stat.S_IMODE(os.stat(report).st_mode), 0o600, args)
        with open(report) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual([x["type"] for x in recs], ["file", "summary"] * 2)

    def test_journal_deleted_mid_run_stops_publishing(self):
        """The journal deleted while a run goes on: the run wrote the records of the
        thumbnails it made next into the unlinked file, said "ok", and the next run
        could not show they were imgpool's. Now nothing is moved into place once it
        is gone: those files are errors saying why, and the run stops."""
        src, out = self.path("src"), self.path("out")
        for i in range(2):
            jpeg(os.path.join(src, "%d.jpg" % i), mean=60 + 80 * i)
        fifo = self.path("list")
        os.mkfifo(fifo)
        p = subprocess.Popen([IMGPOOL, "-o", out, "--files-from", fifo, "--base", src,
                              "--progress", "none"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            with open(fifo, "w") as lst:
                lst.write("0.jpg\n")
                lst.flush()
                first = p.stdout.readline()
                self.assertTrue(first.startswith(b"ok"), first)
                for side in ("", "-wal", "-shm"):
                    try:
                        os.unlink(os.path.join(out, ".imgpool", "journal.sqlite" + side))
                    except FileNotFoundError:
                        pass
                lst.write("1.jpg\n")
            rest, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, rest + err)
        self.assertNotIn(b"ok", rest)
        self.assertIn(b"deleted or moved away", err)
        self.assertFalse(os.path.exists(os.path.join(out, "1.jpg")))

    def test_lost_or_emptied_journal_is_said_and_dry_run_agrees(self):
        """A journal deleted, emptied (a crashed filesystem leaves 0 bytes) or
        damaged: the run finds every thumbnail unprovable. The emptied one was taken
        as a new journal without a word, and -n said "up to date, exit 0" for all,
        by --no-journal's rule, where the run then failed every file. Now each
        warns, and -n predicts the errors."""
        src = self.path("src")
        for i in range(2):
            jpeg(os.path.join(src, "%d.jpg" % i), mean=60 + 80 * i)
        for how in ("deleted", "emptied", "garbage"):
            out = self.path("out-" + how)
            self.ok(run(["-o", out, src]))
            journal = os.path.join(out, ".imgpool", "journal.sqlite")
            if how == "deleted":
                os.unlink(journal)
            else:
                with open(journal, "w") as f:
                    f.write("" if how == "emptied" else "not a journal at all " * 20)
            dry = run(["-n", "-o", out, src])
            self.assertEqual(dry.returncode, 1, (how, dry.stdout, dry.stderr))
            self.assertEqual(dry.stderr.count(b"was not made by imgpool"), 2, (how, dry.stderr))
            self.assertFalse(os.path.exists(journal) and how == "deleted")  # -n made none
            real = run(["-o", out, src])
            self.assertEqual(real.returncode, 1, (how, real.stderr))
            self.assertIn(b"has no journal of earlier runs", real.stderr, how)
            self.assertEqual(real.stderr.count(b"was not made by imgpool"), 2, how)
        # A first run killed as it made its journal leaves an empty one and no
        # thumbnail: nothing was lost, and the next run said it was.
        out = self.path("out-first")
        os.makedirs(os.path.join(out, ".imgpool"))
        open(os.path.join(out, ".imgpool", "journal.sqlite"), "w").close()
        r = self.ok(run(["-o", out, src]))
        self.assertNotIn(b"has no journal", r.stderr)
        self.assertEqual(outputs_in(out), {"0.jpg", "1.jpg"})

    def test_what_is_in_the_locks_place_is_named(self):
        """A FIFO, a folder or a hard-linked file at OUT/.imgpool/lock is refused
        (never written through, never waited on), and the refusal names what is
        there: it said "a symlink is in the way" for all of them."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        elsewhere = self.path("elsewhere")
        open(elsewhere, "w").close()
        cases = {"fifo": (os.mkfifo, "FIFO"), "folder": (os.mkdir, "folder"),
                 "hardlink": (lambda p: os.link(elsewhere, p), "hard link"),
                 "symlink": (lambda p: os.symlink(elsewhere, p), "symlink")}
        for label, (make, said) in cases.items():
            out = self.path("out-" + label)
            os.makedirs(os.path.join(out, ".imgpool"))
            make(os.path.join(out, ".imgpool", "lock"))
            r = run(["-o", out, src], timeout=60)
            self.assertEqual(r.returncode, 1, (label, r.stderr))
            err = r.stderr.decode()
            self.assertIn("cannot lock the output folder", err, label)
            self.assertIn(said, err, label)
            if label != "symlink":
                self.assertNotIn("symlink", err, label)
            if label == "hardlink":                           # what to do about it
                self.assertIn("remove .imgpool/lock*", err)
            self.assertFalse(os.path.exists(os.path.join(out, "a.jpg")), label)
        self.assertEqual(os.path.getsize(elsewhere), 0)


class TestEnvironmentFailures(SafetyCase):
    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root")
    def test_permission_fixed_is_retried(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        os.chmod(os.path.join(src, "a.jpg"), 0)
        os.chmod(self.tmp, 0o755)
        os.makedirs(out)
        os.chown(out, 65534, 65534)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IMGPOOL]
        r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
        self.assertNotIn(b"failed earlier", r.stdout)  # an environmental failure: retried
        os.chmod(os.path.join(src, "a.jpg"), 0o644)
        r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root")
    def test_permission_fixed_after_three_failures_is_retried(self):
        """Unreadable for three runs, the failure was remembered; the chmod that
        mended it changed neither size nor mtime, so the photo was "failed earlier,
        unchanged since: Permission denied" on every later run."""
        src, out = self.path("src"), self.path("out")
        a = os.path.join(src, "a.jpg")
        jpeg(a)
        os.utime(a, (1.6e9, 1.6e9))
        os.chmod(a, 0)
        os.chmod(self.tmp, 0o755)
        os.makedirs(out)
        os.chown(out, 65534, 65534)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IMGPOOL]
        for _ in range(4):
            r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
            self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(b"failed earlier", r.stdout + r.stderr)  # remembered now
        os.chmod(a, 0o644)
        r = subprocess.run(nobody + ["-o", out, src], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "a.jpg")))

class TestSideFiles(SafetyCase):
    """--report, --trace, --timeline and bench's --csv/--plot are written where the
    user says: never over a file imgpool did not write, never through a symlink."""

    def test_named_input_is_refused_not_truncated(self):
        """--report in/a.jpg truncated the photo (and --trace, --timeline renamed a
        new file over it), then failed the photo as 'empty file'."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        before = snapshot(self.tmp)
        for opt in ("--report", "--trace", "--timeline"):
            for name in ("a.jpg", "b.jpg"):
                r = run(["-q", opt, os.path.join(src, name), "-o", self.path("out"), src])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"is not", r.stderr)
                self.assertIn(b"imgpool writes over or adds to only its own files", r.stderr)
        self.assertEqual(snapshot(self.tmp), before, "nothing changed, nothing made")
        b = self.path("bench.csv")
        for opt in ("--csv", "--plot", "--timeline"):
            r = run(["bench", "-q", "--jobs-list", "1", "--repeat", "1", opt,
                     os.path.join(src, "a.jpg"), src])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"imgpool writes over or adds to only its own files", r.stderr)
        self.assertFalse(os.path.exists(b))
        self.assertEqual(snapshot(self.tmp), before, "bench measured nothing")

    def test_empty_input_is_refused_not_written(self):
        """An empty file with an image's name (a photo still being copied) was
        taken as a report, trace or timeline left empty, and written over: an input
        was modified."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        empty = os.path.join(src, "new.jpg")
        open(empty, "wb").close()
        before = snapshot(self.tmp)
        for opt in ("--report", "--trace", "--timeline"):
            r = run(["-q", opt, empty, "-o", self.path("out"), src])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"empty file with an image's name", r.stderr)
        for opt in ("--csv", "--plot", "--timeline"):
            r = run(["bench", "-q", "--jobs-list", "1", "--repeat", "1", opt, empty, src])
            self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(snapshot(self.tmp), before, "nothing changed, nothing made")
        # an empty file of another name is still taken (as before)
        log = self.path("log.jsonl")
        open(log, "wb").close()
        self.ok(run(["-q", "--report", log, "-o", self.path("out"), src]), (1,))
        self.assertGreater(os.path.getsize(log), 0)

    def test_every_refusal_is_said(self):
        """With --trace and --timeline both refused, only the first refusal was
        said: mending it, the user met the second on the next try."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        for name in ("t.json", "t.svg"):
            with open(self.path(name), "w") as f:
                f.write("mine")
        r = run(["-q", "--trace", self.path("t.json"), "--timeline", self.path("t.svg"),
                 "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--trace: ", r.stderr)
        self.assertIn(b"--timeline: ", r.stderr)

    def test_never_inside_the_private_folder(self):
        """--report OUT/.imgpool/journal.sqlite-wal was written into the journal's
        write-ahead log (it can be empty): the journal was lost, and with it what
        shows the thumbnails are imgpool's. --trace OUT/.imgpool/lock.meta replaced
        the lock's record."""
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-q", "-o", out, src]))
        priv = os.path.join(out, ".imgpool")
        open(os.path.join(priv, "journal.sqlite-wal"), "ab").close()  # as SQLite leaves it
        os.symlink(priv, self.path("alias"))
        os.makedirs(os.path.join(out, "sub"))
        before = snapshot(self.tmp)
        cases = [("--report", os.path.join(priv, "journal.sqlite-wal")),
                 ("--report", os.path.join(priv, "new.jsonl")),
                 ("--trace", os.path.join(priv, "lock.meta")),
                 ("--timeline", os.path.join(priv, "t.svg")),
                 ("--report", os.path.join(self.path("alias"), "r.jsonl")),
                 ("--trace", os.path.join(out, "sub", "..", ".imgpool", "t.json"))]
        for opt, name in cases:
            r = run(["-q", "--force", opt, name, "-o", out, src])
            self.assertEqual(r.returncode, 2, (name, r.stderr))
            self.assertIn(b"inside the output folder's own folder", r.stderr)
        self.assertEqual(snapshot(self.tmp), before, "nothing changed, nothing made")
        r = run(["-q", "-o", out, src])
        self.ok(r)  # the journal still shows a.jpg's thumbnail is imgpool's

    def test_refused_run_keeps_the_last_report(self):
        """A run refused before it started (the trace's temp name taken by a user's
        file) had already emptied --report: last night's records were lost."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        report = self.path("r.jsonl")
        self.ok(run(["-q", "--report", report, "-o", self.path("out"), src]))
        with open(report, "rb") as f:
            last = f.read()
        with open(self.path("t.json.imgpool.tmp"), "w") as f:
            f.write("my notes")
        r = run(["-q", "--force", "--report", report, "--trace", self.path("t.json"),
                 "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"a file imgpool did not make is there", r.stderr)
        with open(report, "rb") as f:
            self.assertEqual(f.read(), last)
        self.assertFalse(os.path.exists(self.path("t.json")))

    def test_two_names_for_one_place(self):
        """--report - with --trace /dev/stdout mixed a trace into the JSON Lines;
        --report X --trace X was refused only after the run."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        out = self.path("out")
        os.symlink(".", self.path("here"))
        for args in (["--report", "-", "--trace", "/dev/stdout"],
                     ["--report", "-", "--timeline", "/dev/fd/1"],
                     ["--report", self.path("x"), "--trace", self.path("x")],
                     ["--trace", self.path("t"), "--timeline",
                      os.path.join(self.path("here"), "t")]):
            r = run(["-q"] + args + ["-o", out, src])
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(b"lead to one place", r.stderr)
            self.assertFalse(os.path.exists(out), "refused before anything was made")
        with open(self.path("stdout"), "wb") as f:  # --trace FILE, stdout to FILE
            r = subprocess.run([IMGPOOL, "--report", "-", "--trace", self.path("stdout"),
                                "-o", out, src], stdout=f, stderr=subprocess.PIPE,
                               timeout=300)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"lead to one place", r.stderr)
        # a trace alone on standard output: the per-file lines go to stderr
        r = run(["--trace", "/dev/stdout", "-o", out, src])
        self.ok(r)
        self.assertIn("traceEvents", json.loads(r.stdout))
        self.assertIn(b"a.jpg", r.stderr)
        # /dev/null twice is no conflict
        self.ok(run(["-q", "--report", "/dev/null", "--trace", "/dev/null", "-o", out,
                     "--force", src]))

    def test_symlinks_are_not_written_through(self):
        """A symlink at the report's name, or at the name of the temp file the trace
        and the timeline were written to (NAME.tmp), led the write elsewhere."""
        src, logs = self.path("src"), self.path("logs")
        jpeg(os.path.join(src, "a.jpg"))
        os.makedirs(logs)
        victim = self.path("victim.txt")
        with open(victim, "w") as f:
            f.write("precious")
        for name in ("r.jsonl", "t.json.tmp", "t.svg.tmp"):
            os.symlink(victim, os.path.join(logs, name))
        os.symlink(self.path("gone"), os.path.join(logs, "dangling.json"))
        r = run(["-q", "--report", os.path.join(logs, "r.jsonl"), "-o", self.path("o1"), src])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"is a symlink", r.stderr)
        r = run(["-q", "--trace", os.path.join(logs, "dangling.json"), "-o", self.path("o1"),
                 src])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertFalse(os.path.exists(self.path("gone")))
        before = snapshot(self.tmp)
        self.ok(run(["-q", "--trace", os.path.join(logs, "t.json"), "--timeline",
                     os.path.join(logs, "t.svg"), "-o", self.path("o2"), src]))
        with open(victim) as f:
            self.assertEqual(f.read(), "precious")
        for name in ("t.json.tmp", "t.svg.tmp"):
            self.assertEqual(os.readlink(os.path.join(logs, name)), victim)
        with open(os.path.join(logs, "t.json")) as f:
            self.assertTrue(json.load(f)["traceEvents"])
        made = set(os.listdir(logs)) - {os.path.basename(p) for p in before}
        self.assertEqual(made, {"t.json", "t.svg"}, "no temp file left behind")

    def test_own_files_are_replaced_and_streams_written(self):
        """An earlier report, trace or timeline is replaced (or appended to); a
        device is written, also behind a symlink (/dev/stdout is one)."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        rep, tr, tl = self.path("r.jsonl"), self.path("t.json"), self.path("t.svg")
        for _ in range(2):
            self.ok(run(["-q", "--force", "--report", rep, "--trace", tr, "--timeline", tl,
                         "-o", self.path("out"), src]))
        self.ok(run(["-q", "--force", "--report", rep, "--report-append", "-o",
                     self.path("out"), src]))
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        self.assertEqual([x["type"] for x in recs], ["file", "summary"] * 2)
        with open(tr) as f:
            self.assertTrue(json.load(f)["traceEvents"])
        with open(tl) as f:
            self.assertTrue(f.read().rstrip().endswith("</svg>"))
        empty = self.path("new.jsonl")
        open(empty, "w").close()
        self.ok(run(["-q", "--force", "--report", empty, "-o", self.path("out"), src]))
        self.assertGreater(os.path.getsize(empty), 0)
        # Never /dev/null itself: a regression would replace the machine's.
        null = self.path("null")
        os.symlink("/dev/null", null)
        r = self.ok(run(["-q", "--force", "--report", "/dev/stdout", "--trace", null,
                         "-o", self.path("out"), src]))
        self.assertEqual(json.loads(r.stdout.splitlines()[0])["status"], "ok")
        self.assertEqual(os.readlink(null), "/dev/null")
        if os.geteuid() == 0:  # a device itself, not behind a symlink: its twin here
            twin = self.path("null-twin")
            os.mknod(twin, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            self.ok(run(["-q", "--force", "--trace", twin, "--timeline", twin, "-o",
                         self.path("out"), src]))
            self.assertTrue(stat.S_ISCHR(os.lstat(twin).st_mode))

    def test_descriptors_temp_names_and_lookalikes(self):
        """/dev/stdout redirected to a file was refused (its /proc link leads to a
        file); a killed run's FILE.imgpool.tmp is replaced, anything else there is
        in the way; an SVG imgpool did not write (another tool's) is refused."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        # In the output folder the run is about to make (a Slurm array's reports).
        self.ok(run(["-q", "--report", self.path("new", "r-{shard}.jsonl"), "-o",
                     self.path("new"), src]))
        self.assertTrue(os.path.getsize(self.path("new", "r-all.jsonl")))
        rep_out = self.path("stdout.txt")
        with open(rep_out, "wb") as f:
            r = subprocess.run([IMGPOOL, "-q", "--report", "/dev/stdout", "-o",
                                self.path("out"), src], stdout=f, stderr=subprocess.PIPE,
                               timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(rep_out) as f:
            self.assertEqual([json.loads(x)["type"] for x in f], ["file", "summary"])
        tl = self.path("t.svg")
        with open(tl + ".imgpool.tmp", "w") as f:  # a killed run's, begun as ours
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by imgpool -->\n'
                    '<svg xmlns="http://www.w3.org/2000/svg" width="1120" height="3')
        self.ok(run(["-q", "--force", "--timeline", tl, "-o", self.path("out"), src]))
        self.assertFalse(os.path.exists(tl + ".imgpool.tmp"))
        with open(tl + ".imgpool.tmp", "w") as f:
            f.write("my notes")
        r = run(["-q", "--force", "--timeline", tl, "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 2, r.stderr)  # refused before the run
        self.assertIn(b"a file imgpool did not make is there", r.stderr)
        with open(tl + ".imgpool.tmp") as f:
            self.assertEqual(f.read(), "my notes")
        drawing = self.path("drawing.svg")
        with open(drawing, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg/>\n')
        r = run(["-q", "--force", "--timeline", drawing, "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 2, r.stderr)
        with open(drawing) as f:
            self.assertIn("standalone", f.read())

    def test_appending_after_a_line_cut_short(self):
        """--report-append onto a report whose last record a killed run (or a full
        disk) cut short: the first record appended went onto that line, and was
        lost with it; then the cut line was ended, and stayed a line no JSON
        reader takes (jq -s failed on the whole file). It is cut off now: every
        line of the file parses."""
        src, rep = self.path("src"), self.path("r.jsonl")
        jpeg(os.path.join(src, "a.jpg"))
        self.ok(run(["-q", "--report", rep, "-o", self.path("out"), src]))
        with open(rep, "a") as f:
            f.write('{"schema":1,"time":"2026-12-06T10:00:00+00:00","type":"file","sta')
        self.ok(run(["-q", "--force", "--report", rep, "--report-append", "-o",
                     self.path("out"), src]))
        with open(rep) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[-1], "")
        records = [json.loads(x) for x in lines[:-1]]  # every line
        self.assertEqual([x["type"] for x in records], ["file", "summary"] * 2)
        with open(rep, "a") as f:  # a first record cut short: nothing whole left
            f.truncate(0)
            f.write('{"schema":1,"ti')
        self.ok(run(["-q", "--force", "--report", rep, "--report-append", "-o",
                     self.path("out"), src]))
        with open(rep) as f:
            self.assertEqual([json.loads(x)["type"] for x in f], ["file", "summary"])

    def test_files_of_ours_cut_short_are_ours(self):
        """A report, trace or timeline a kill cut short inside its first bytes
        (shorter than what says it is imgpool's) was refused by every later run
        until removed by hand."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        for opt, name, text in (("--report", "r.jsonl", '{"schema":1,"ti'),
                                ("--trace", "t.json", '{"displayTimeUnit":"ms","oth'),
                                ("--timeline", "t.svg", '<?xml version="1.0" enc')):
            path = self.path(name)
            with open(path, "w") as f:
                f.write(text)
            self.ok(run(["-q", "--force", opt, path, "-o", self.path("out"), src]))
            self.assertGreater(os.path.getsize(path), len(text) + 20, opt)
        # but not a few bytes that anyone's file may begin with
        for opt, name, text in (("--report", "one.jsonl", "{"), ("--trace", "two.json", '{"d')):
            path = self.path(name)
            with open(path, "w") as f:
                f.write(text)
            r = run(["-q", "--force", opt, path, "-o", self.path("out"), src])
            self.assertEqual(r.returncode, 2, (opt, r.stderr))
        # a trace of a build before 0.1.0 named imgpool further on
        old = self.path("old.json")
        with open(old, "w") as f:
            f.write('{"displayTimeUnit":"ms","traceEvents":[\n{"name":"process_name","ph":"M",'
                    '"pid":1,"args":{"name":"imgpool"}}')
        self.ok(run(["-q", "--force", "--trace", old, "-o", self.path("out"), src]))

    def test_files_that_only_begin_like_ours_are_refused(self):
        """A file was taken for imgpool's by its first few bytes: notes of the
        user's in JSON Lines that begin with {"schema":, another tool's Chrome
        trace, an SVG drawing with the usual header: each was replaced. What
        imgpool writes first names it now, and only that is replaced."""
        src = self.path("src")
        jpeg(os.path.join(src, "a.jpg"))
        theirs = (("--report", "notes.jsonl", '{"schema":1,"note":"my own notes"}\n'),
                  ("--trace", "perf.json", '{"displayTimeUnit":"ms","traceEvents":[]}\n'),
                  ("--timeline", "drawing.svg",
                   '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns='
                   '"http://www.w3.org/2000/svg" width="10" height="10"/>\n'))
        for opt, name, text in theirs:
            path = self.path(name)
            with open(path, "w") as f:
                f.write(text)
            r = run(["-q", "--force", opt, path, "-o", self.path("out"), src])
            self.assertEqual(r.returncode, 2, (opt, r.stderr))
            self.assertIn(b"imgpool writes over or adds to only its own files", r.stderr)
            with open(path) as f:
                self.assertEqual(f.read(), text, opt)
            os.unlink(path)  # and imgpool's own file of each kind is replaced
            for _ in range(2):
                self.ok(run(["-q", "--force", opt, path, "-o", self.path("out"), src]))
            self.assertGreater(os.path.getsize(path), 20)

    def test_a_report_another_run_writes_is_refused(self):
        """Shards of an array run at once with one --report name emptied and wrote
        over each other's report: records lost, a line cut, every shard exit 0. A
        run that empties the file holds it alone now (flock), and runs that only
        append may share it. (The test holds the lock as the other run would.)"""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        rep = self.path("r.jsonl")
        open(rep, "w").close()
        with open(rep, "r+") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for extra, said in (([], b"another imgpool run is writing"),
                                (["--report-append"], b"another imgpool run is replacing")):
                r = run(["-q", "--report", rep, "-o", self.path("out")] + extra + [src])
                # a wait, not a mistake: 75 as for a locked OUT (a job's retry
                # rule; 2, a usage error, failed an array job for good)
                self.assertEqual(r.returncode, 75, r.stderr)
                self.assertIn(said, r.stderr)
                # refused before the output folder is made (a lock file left in a
                # new one made the next run warn of a lost journal)
                self.assertFalse(os.path.exists(self.path("out")))
            fcntl.flock(held, fcntl.LOCK_UN)
            fcntl.flock(held, fcntl.LOCK_SH | fcntl.LOCK_NB)  # an appending run
            self.ok(run(["-q", "--report", rep, "--report-append", "-o", self.path("out"),
                         src]))
            r = run(["-q", "--report", rep, "-o", self.path("out"), src])
            self.assertEqual(r.returncode, 75, r.stderr)
        self.ok(run(["-q", "--report", rep, "-o", self.path("out"), src]))

    def test_a_second_appending_run_keeps_its_lock(self):
        """An appending run tried the lock whole (to end a line a kill cut short)
        while another appended: the failed change left it no lock at all, and
        once the first ended a run that empties the file was let in under it (a
        reviewer's case). The test holds the first appender's lock; imgpool,
        appending from a list it waits on, is the second."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        rep = self.path("r.jsonl")
        open(rep, "w").close()
        with open(rep, "r+") as first:
            fcntl.flock(first, fcntl.LOCK_SH | fcntl.LOCK_NB)
            second = subprocess.Popen([IMGPOOL, "-q", "--report", rep, "--report-append",
                                       "--files-from", "-", "-o", self.path("out")],
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            for _ in range(100):  # until it holds its lock
                time.sleep(0.05)
                with open("/proc/locks") as f:
                    if f.read().count(":%d " % os.stat(rep).st_ino) >= 2:
                        break
        try:
            r = run(["-q", "--report", rep, "-o", self.path("out2"), src])
            self.assertEqual(r.returncode, 75, r.stderr)
            self.assertIn(b"another imgpool run is writing", r.stderr)
        finally:
            second.stdin.write((os.path.join(src, "a.jpg") + "\n").encode())
            second.stdin.close()
            second.wait(timeout=120)

class TestPathsNamedTwice(SafetyCase):
    def test_same_input_twice_is_answered_once(self):
        """The same photo given twice as a PATH (or its folder as 'in' and 'in/') got
        an 'ok' and an error 'is also the output of' itself, and exit 1."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        a = os.path.join(src, "a.jpg")
        for i, paths in enumerate(([a, a, os.path.join(src, ".", "a.jpg")],
                                   [src, src + "/", os.path.join(src, "."), a],
                                   ["missing.jpg", "missing.jpg"])):
            rep = self.path("r%d.jsonl" % i)
            r = run(["-q", "--report", rep, "-o", self.path("out%d" % i)] + paths,
                    cwd=self.tmp)
            with open(rep) as f:
                files = [json.loads(line) for line in f if '"type":"file"' in line]
            names = sorted(os.path.basename(x["input"]) for x in files)
            want = [["a.jpg"], ["a.jpg", "b.jpg"], ["missing.jpg"]][i]
            self.assertEqual(names, want, r.stderr)
            self.assertEqual(r.returncode, 1 if i == 2 else 0, r.stderr)


    def test_file_path_with_a_slash_is_its_own_error(self):
        """'in/a.jpg/' (not a folder: an error) hid 'in/a.jpg' named beside it: the
        two were one PATH to the check, the first won, the photo had no answer."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        a = os.path.join(src, "a.jpg")
        for i, paths in enumerate(([a + "/", a], [a, a + "/"], [a + "//", a + "/", a])):
            rep = self.path("r%d.jsonl" % i)
            r = run(["-q", "--report", rep, "-o", self.path("out%d" % i)] + paths)
            self.assertEqual(r.returncode, 1, r.stderr)
            with open(rep) as f:
                files = [json.loads(line) for line in f if '"type":"file"' in line]
            got = sorted((x["status"], x["input"].endswith("/")) for x in files)
            self.assertEqual(got, [("error", True), ("ok", False)], (paths, files))
            self.assertTrue(os.path.exists(self.path("out%d" % i, "a.jpg")))

    def test_errors_met_twice_are_answered_once(self):
        """A dangling link, a link loop or a FIFO met by the walk of its folder and
        also named as a PATH (or listed) got two error records: the totals counted
        more inputs than there were."""
        src = self.path("in")
        jpeg(os.path.join(src, "ok.jpg"))
        os.symlink("nowhere", os.path.join(src, "dangling.jpg"))
        os.symlink("loop.jpg", os.path.join(src, "loop.jpg"))
        os.mkfifo(os.path.join(src, "fifo.jpg"))
        bad = [os.path.join(src, n) for n in ("dangling.jpg", "loop.jpg", "fifo.jpg")]
        listed = self.path("list.txt")
        with open(listed, "w") as f:
            f.write("\n".join(bad + [os.path.join(src, "ok.jpg")]) + "\n")
        for i, args in enumerate(([src] + bad, bad + [src], bad + bad,
                                  ["--files-from", listed, src],
                                  ["--files-from", listed] + bad)):
            rep = self.path("r%d.jsonl" % i)
            r = run(["-q", "--report", rep, "-o", self.path("out%d" % i)] + args,
                    timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            with open(rep) as f:
                recs = [json.loads(line) for line in f]
            names = sorted(os.path.basename(x["input"]) for x in recs if x["type"] == "file")
            # (the listed ok.jpg of the last case is an error: not under --base)
            want = ["dangling.jpg", "fifo.jpg", "loop.jpg"] + (["ok.jpg"] if i != 2 else [])
            self.assertEqual(names, want, (args, recs))
            self.assertEqual(recs[-1]["total"], len(want), args)

class TestOutputFolderNamedThroughDot(SafetyCase):
    def test_symlink_with_trailing_dot_is_refused(self):
        """-o link/. passed the symlink check (O_NOFOLLOW sees only '.') and wrote
        into the folder behind the link."""
        src, real = self.path("src"), self.path("real")
        jpeg(os.path.join(src, "a.jpg"))
        os.makedirs(real)
        os.symlink(real, self.path("link"))
        for o in ("link", "link/", "link/.", "link/./", "link/.//", "./link/."):
            r = run(["-q", "-o", o, src], cwd=self.tmp)
            self.assertEqual(r.returncode, 1, o)
            self.assertIn(b"is a symlink", r.stderr)
        self.assertEqual(os.listdir(real), [])
        self.ok(run(["-q", "-o", "real/.", src], cwd=self.tmp))
        self.assertEqual(outputs_in(real), {"a.jpg"})


class TestInputsMetTwice(SafetyCase):
    def records(self, rep):
        with open(rep) as f:
            return [json.loads(line) for line in f if '"type":"file"' in line]

    def test_file_met_through_two_paths_is_answered_once(self):
        """A photo inside a folder PATH and also given as a PATH itself (or through
        a nested folder PATH, a symlinked folder, a --files-from entry) was made
        twice, under two outputs, with two answers."""
        src = self.path("in")
        jpeg(os.path.join(src, "sub", "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        os.symlink("in", self.path("lnk"))
        a = os.path.join("in", "sub", "a.jpg")
        cases = [(["in", a], {"b.jpg", "sub/a.jpg"}),
                 ([a, "in"], {"a.jpg", "b.jpg"}),
                 (["in", "in/sub"], {"b.jpg", "sub/a.jpg"}),
                 (["in/sub", "in"], {"a.jpg", "b.jpg"}),
                 (["./in//sub/a.jpg", self.path(a), "in"], {"a.jpg", "b.jpg"}),
                 (["in", "lnk"], {"b.jpg", "sub/a.jpg"})]
        for i, (paths, want) in enumerate(cases):
            out, rep = self.path("out%d" % i), self.path("r%d.jsonl" % i)
            r = self.ok(run(["-q", "-r", "--report", rep, "-o", out] + paths, cwd=self.tmp))
            recs = self.records(rep)
            self.assertEqual(len(recs), 2, (paths, r.stderr))
            self.assertEqual(outputs_in(out), want, paths)
        with open(self.path("list"), "w") as f:
            f.write("in/sub/a.jpg\nin/b.jpg\nlnk/b.jpg\n")
        rep = self.path("rl.jsonl")
        self.ok(run(["-q", "-r", "--report", rep, "-o", self.path("outl"), "--files-from",
                     "list", "in"], cwd=self.tmp))
        self.assertEqual(len(self.records(rep)), 2)

    def test_names_of_one_file_sharing_a_thumbnail_each_get_an_answer(self):
        """a.jpeg, a symlink a.jpg to it and a hard link a.JPG all name out/a.jpg:
        one was made and the other two were passed over without a line or a
        record (total 1, exit 0). Two names are two inputs: the second and third
        are errors naming the first, as for any two inputs sharing an output."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpeg"))
        os.symlink("a.jpeg", os.path.join(src, "a.jpg"))
        os.link(os.path.join(src, "a.jpeg"), os.path.join(src, "a.JPG"))
        rep = self.path("r.jsonl")
        r = run(["-q", "--report", rep, "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 1, r.stderr)
        recs = self.records(rep)
        self.assertEqual(sorted(os.path.basename(x["input"]) for x in recs),
                         ["a.JPG", "a.jpeg", "a.jpg"])
        self.assertEqual(sorted(x["status"] for x in recs), ["error", "error", "ok"])
        for x in recs:
            if x["status"] == "error":
                self.assertIn("is also the output of", x["error"])
        self.assertEqual(outputs_in(self.path("out")), {"a.jpg"})

    def test_hard_links_are_two_inputs(self):
        """Two names of one file (hard links) are two inputs, each answered and
        made, within one walk and across PATHs and list entries (a first take on
        'met twice' keyed by the inode dropped the second name with no answer)."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        os.link(os.path.join(src, "a.jpg"), os.path.join(src, "b.jpg"))
        os.makedirs(self.path("in2"))
        os.link(os.path.join(src, "a.jpg"), self.path("in2", "c.jpg"))
        with open(self.path("list"), "w") as f:
            f.write("in/a.jpg\nin/b.jpg\nin2/c.jpg\n")
        for i, args in enumerate((["in", "in/a.jpg"], ["in", "in2"],
                                  ["--files-from", "list"])):
            out, rep = self.path("out%d" % i), self.path("r%d.jsonl" % i)
            self.ok(run(["-q", "--report", rep, "-o", out] + args, cwd=self.tmp))
            want = [{"a.jpg", "b.jpg"}, {"a.jpg", "b.jpg", "c.jpg"},
                    {"in/a.jpg", "in/b.jpg", "in2/c.jpg"}][i]
            self.assertEqual(len(self.records(rep)), len(want), args)
            self.assertEqual(outputs_in(out), want, args)


class TestContestedOutputName(SafetyCase):
    def test_the_journal_owner_keeps_the_name_whatever_the_walk_order(self):
        """a.JPG and a.jpg both map to a.jpg, and a.JPG made it before a.jpg came.
        The walk visits the larger first, so when an edit made the owner (a.JPG)
        the smaller, a.jpg came first, was refused (the output is a.JPG's), and
        a.JPG was then refused as its second claimant: both failed on every run
        and the edit never reached the thumbnail. (a.jpg's own name does not take
        a thumbnail that is another input's.)"""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.JPG"), 240, 180, mean=60)
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 0, r.stderr)
        jpeg(os.path.join(src, "a.jpg"), 120, 90, mean=200)
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"a.jpg: output", r.stderr)
        self.assertLess(mean_of(os.path.join(out, "a.jpg")), 100)
        jpeg(os.path.join(src, "a.JPG"), 64, 48, mean=20)  # now the smaller one
        for _ in range(2):
            r = run(["-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
            self.assertIn(b"a.jpg: its output", r.stderr)
            self.assertLess(mean_of(os.path.join(out, "a.jpg")), 40)

    def test_a_name_two_inputs_make_stays_with_the_one_that_took_it(self):
        """a.jpg and a.tif both map to a.jpg (-f jpeg): the one met first (the
        larger, a.tif) takes it and the other is the error, naming it. On every
        run after, also once a.jpg has grown the larger, the same: a name never
        changes hands on its own (the journal's owner keeps it)."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 120, 90, mean=200)
        vips("black", os.path.join(src, "a.tif"), "640", "480")
        for k in range(3):
            if k == 2:
                jpeg(os.path.join(src, "a.jpg"), 1600, 1200, mean=200)  # now the larger
                self.assertGreater(os.path.getsize(os.path.join(src, "a.jpg")),
                                   os.path.getsize(os.path.join(src, "a.tif")))
            r = run(["-f", "jpeg", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            errors = [x for x in r.stderr.splitlines() if x.startswith(b"error ")]
            self.assertEqual(len(errors), 1, r.stderr)
            self.assertTrue(errors[0].startswith(b"error " + os.fsencode(os.path.join(src, "a.jpg"))),
                            errors[0])
            self.assertIn(os.fsencode(os.path.join(src, "a.tif")), errors[0])
            self.assertLess(mean_of(os.path.join(out, "a.jpg")), 20)  # a.tif's, black

    def test_a_damaged_twin_does_not_keep_the_name_from_its_sibling(self):
        """a.jpg (damaged) and a.tif both map to a.jpg: a.tif's thumbnail is made
        on the first run, and every run after answers the same way, one error for
        a.jpg and nothing made again."""
        src, out = self.path("in"), self.path("out")
        os.makedirs(src)
        with open(os.path.join(src, "a.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 damaged")
        vips("black", os.path.join(src, "a.tif"), "640", "480")
        r = run(["-f", "jpeg", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        for _ in range(2):
            r = run(["-f", "jpeg", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
            self.assertIn(b"a.jpg: ", r.stderr)
            self.assertLess(mean_of(os.path.join(out, "a.jpg")), 20)  # a.tif's, black

    def test_prune_is_not_held_by_a_claimant_that_made_nothing(self):
        """a.JPG made a.jpg; a.JPG was deleted and a.jpeg (also a.jpg), damaged,
        fails: --prune kept the deleted photo's thumbnail on every run, silently,
        because a current input 'planned' the path."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.JPG"), 120, 90, mean=60)
        with open(os.path.join(src, "a.jpeg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 damaged")
        run(["-o", out, src])
        self.assertEqual(outputs_in(out), {"a.jpg"})
        os.unlink(os.path.join(src, "a.JPG"))
        for _ in range(2):
            r = run(["--prune", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(outputs_in(out), set(), r.stdout + r.stderr)


    def test_an_owner_that_fails_since_frees_its_name(self):
        """a.jpg made a.jpg, a.jpeg (the same name) was refused; then a.jpg was
        damaged: it failed, and a.jpeg was refused every night as "the thumbnail
        of a.jpg, which is still there", the name showing bytes that were no more."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 120, 90, mean=40)
        r = run(["-o", out, src])
        jpeg(os.path.join(src, "a.jpeg"), 64, 48, mean=200)
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(mean_of(os.path.join(out, "a.jpg")), 100)
        with open(os.path.join(src, "a.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 damaged")
        # One run is enough: a.jpeg, met first, waits for a.jpg's outcome (it
        # fails). It took two: a.jpeg was refused for an owner that failed later
        # in the same run, and only the next run made it.
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150, r.stdout + r.stderr)
        self.assertNotIn(b"which is still there", r.stdout + r.stderr)
        r = run(["-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b" 0 done,", r.stdout + r.stderr)
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)

    def test_a_name_whose_first_claimant_fails_goes_to_the_next_in_the_same_run(self):
        """a.tif (met first: the larger) and a.jpg both map to a.jpg (-f jpeg), and
        a.tif is damaged. a.jpg was refused ("is also the output of a.tif"), a.tif
        then failed, and only the next run made a.jpg: a clean run was not the
        last word. a.jpg waits for a.tif's outcome now, and is made in that run."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 64, 48, mean=200)
        with open(os.path.join(src, "a.tif"), "wb") as f:
            f.write(b"II*\x00" + b"\x07" * 8000)
        self.assertGreater(os.path.getsize(os.path.join(src, "a.tif")),
                           os.path.getsize(os.path.join(src, "a.jpg")))
        r = run(["-f", "jpeg", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)
        self.assertIn(b"a.tif: ", r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150, r.stdout + r.stderr)
        for _ in range(2):
            r = run(["-f", "jpeg", "-o", out, src])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b" 0 done,", r.stdout + r.stderr)
            self.assertEqual(r.stderr.count(b"error "), 1, r.stderr)

    def test_an_output_where_another_needs_a_folder_is_a_collision(self):
        """x.png makes out/x.jpg (-f jpeg) and x.jpg/b.jpg makes out/x.jpg/b.jpg: a
        file cannot also be a folder. Only equal output paths were compared, so -n
        said both would be made, and the run failed one of them, either, with "a
        file appeared there meanwhile". The one met first (in a folder, its files
        before its subfolders; in a list, the one listed first) keeps its output,
        the other is the error naming it, -n says so too, and every run alike."""
        src = self.path("in")
        for name in ("x", "y"):  # two pairs: the order they were made in varied
            jpeg(os.path.join(src, name + ".png"), 64, 48, mean=60)
            jpeg(os.path.join(src, name + ".jpg", "b.jpg"), 48, 64, mean=200)

        def errors(r):
            return sorted(x for x in r.stderr.splitlines() if x.startswith(b"error "))

        def planned(args, cwd=None, stdin=None):
            dry = run(args + ["-n"], cwd=cwd, input=stdin)
            self.assertEqual(dry.returncode, 1, dry.stderr)
            return errors(dry), sorted(x.split()[1] for x in dry.stdout.splitlines()
                                       if x.startswith(b"would "))

        for k in range(5):
            out = self.path("out%d" % k)
            args = ["-r", "-f", "jpeg", "-o", out, src]
            dry = planned(args)
            r = run(args)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(len(errors(r)), 2, r.stderr)
            self.assertEqual(errors(r), dry[0])
            self.assertEqual(sorted(x.split()[1] for x in r.stdout.splitlines()
                                    if x.startswith(b"ok ")), dry[1])
            for name in ("x", "y"):
                loser = os.fsencode(os.path.join(src, name + ".jpg", "b.jpg"))
                mine = [x for x in errors(r) if x.startswith(b"error " + loser + b": ")]
                self.assertEqual(len(mine), 1, r.stderr)
                self.assertIn(os.fsencode(os.path.join(out, name + ".jpg")) + b", the output of " +
                              os.fsencode(os.path.join(src, name + ".png")), mine[0])
            self.assertEqual(outputs_in(out), {"x.jpg", "y.jpg"})
            self.assertLess(mean_of(os.path.join(out, "x.jpg")), 100)  # x.png's
        # The other way round: listed first, x.jpg/b.jpg keeps its folder.
        out = self.path("listed")
        args = ["--files-from", "-", "-f", "jpeg", "-o", out]
        listing = b"x.jpg/b.jpg\nx.png\n"
        dry = planned(args, cwd=src, stdin=listing)
        r = run(args, cwd=src, input=listing)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(errors(r), dry[0])
        self.assertEqual(len(dry[0]), 1, r.stderr)
        self.assertTrue(dry[0][0].startswith(b"error x.png: output "), dry[0])
        self.assertIn(b"holding an output of x.jpg/b.jpg", dry[0][0])
        self.assertEqual(outputs_in(out), {os.path.join("x.jpg", "b.jpg")})

    def test_a_dry_run_frees_the_name_of_a_file_it_cannot_read(self):
        """x.PNG (unreadable) and x.png share the output x.png; x.PNG, met first,
        has the name. The run fails x.PNG (Permission denied) and then makes
        x.png; -n listed x.PNG as to make and x.png as an error. It opens what
        it lists now, as the worker would, and decides a held file as the run."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv, to read as a user that cannot")
        src = self.path("in")
        jpeg(os.path.join(src, "x.PNG"), 640, 480)   # the larger: met first
        jpeg(os.path.join(src, "x.png"))
        os.chmod(os.path.join(src, "x.PNG"), 0)
        capless = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", IMGPOOL]
        def answers(args):
            r = subprocess.run(capless + ["--report", "-", "-o", self.path("out")] + args + [src],
                               capture_output=True)
            recs = [json.loads(l) for l in r.stdout.splitlines() if b'"type":"file"' in l]
            return r.returncode, sorted((os.path.basename(x["input"]), x["status"] != "error")
                                        for x in recs)
        dry = answers(["-n"])
        real = answers([])
        self.assertEqual(real, (1, [("x.PNG", False), ("x.png", True)]))
        self.assertEqual(dry, real)
        # from a list the run refuses the other before the first one's outcome
        # comes: so does -n (it freed the name there too)
        listing = os.path.join(src, "x.PNG") + "\n" + os.path.join(src, "x.png") + "\n"
        said = []
        for args in (["-n"], []):
            r = subprocess.run(capless + args + ["--files-from", "-", "--base", src, "-o",
                                                 self.path("out-list")],
                               input=listing.encode(), capture_output=True)
            said.append(sorted(l for l in r.stderr.splitlines() if l.startswith(b"error")))
        self.assertEqual(len(said[0]), 2, said)
        self.assertEqual(said[0], said[1])
        # an empty file, met first (its folder first): the worker's answer at once
        src2 = self.path("in2")
        os.makedirs(os.path.join(src2, "a"))
        open(os.path.join(src2, "a", "x.jpg"), "w").close()
        jpeg(os.path.join(src2, "b", "x.jpg"))
        said = []
        for args in (["-n"], []):
            r = run(args + ["-r", "--name", "{stem}.{ext}", "-o", self.path("out2"), src2])
            said.append(sorted(l for l in r.stderr.splitlines() if l.startswith(b"error")))
        self.assertEqual(said[0], [b"error " + os.fsencode(os.path.join(src2, "a", "x.jpg")) +
                                   b": empty file"])
        self.assertEqual(said[0], said[1])

    def test_shards_refuse_no_folder_for_another_shards_file(self):
        """Every shard claims every input, and one of another shard's that fails
        there (damaged) never gave its claim back: with the folder rule, a good
        x.jpg/b.jpg was refused every night for a damaged x.png ("would lie in
        out/x.jpg"), where an unsharded run makes it. Shards leave such a clash to
        the publish, as before the rule."""
        src, out = self.path("in"), self.path("out")
        os.makedirs(os.path.join(src, "x.jpg"))
        jpeg(os.path.join(src, "x.jpg", "b.jpg"))
        jpeg(self.path("whole.jpg"), 640, 480)
        with open(self.path("whole.jpg"), "rb") as f, open(os.path.join(src, "x.png"), "wb") as g:
            g.write(f.read()[:600])  # damaged
        for _ in range(2):
            for k in (1, 2):
                r = run(["-q", "-r", "-f", "jpeg", "--shard", "%d/2" % k, "-o", out, src])
                self.assertNotIn(b"would lie in", r.stderr)
        self.assertEqual(outputs_in(out), {os.path.join("x.jpg", "b.jpg")})

    def test_another_shards_failing_file_gives_its_output_name_back(self):
        """x.jpg and x.png, -f jpeg, in two shards: every shard claims every
        input, in one order, so both agree the first met (the larger) makes
        out/x.jpg. A damaged first one never gave its claim back: the good
        x.jpg was refused every night ("also the output of x.png"), where an
        unsharded run makes it. Once x.png's shard has recorded its failure, the
        other shard makes x.jpg, and then keeps it."""
        src, out = self.path("in"), self.path("out")
        for stem in ("x%d" % i for i in range(64)):
            shutil.rmtree(src, ignore_errors=True)
            jpeg(os.path.join(src, stem + ".jpg"))
            with open(os.path.join(src, stem + ".png"), "wb") as f:  # damaged, larger
                f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 65536)
            r = run(["-n", "-f", "jpeg", "--shard", "1/2", "-o", out, src])
            if r.stdout.count(b"would ") + r.stderr.count(b"error ") == 1:
                break
        else:
            self.fail("no stem whose two files fall in different shards")
        for night in range(3):
            said = b""
            for k in (1, 2):
                said += run(["-f", "jpeg", "--shard", "%d/2" % k, "-o", out, src]).stderr
            self.assertIn(stem.encode() + b".png: ", said)  # its own failure, each night
        self.assertNotIn(b"also the output of", said)
        self.assertEqual(outputs_in(out), {stem + ".jpg"})
        self.assertLess(abs(mean_of(os.path.join(out, stem + ".jpg")) - 128), 8)

    def test_another_shards_failure_it_tries_again_keeps_the_name(self):
        """The name goes back only where the other shard's own run answers its
        file "failed earlier": one it tries again (here a folder it could not
        write, never remembered while it can) kept the name no more, and both
        shards' runs made it, the second over the first's."""
        src, out = self.path("in"), self.path("out")
        for stem in ("e%d" % i for i in range(64)):
            shutil.rmtree(src, ignore_errors=True)
            jpeg(self.path("big.jpg"), 320, 240, mean=200)
            os.makedirs(src)
            vips("copy", self.path("big.jpg"), os.path.join(src, stem + ".png"))  # first
            jpeg(os.path.join(src, stem + ".jpg"), mean=40)
            r = run(["-n", "-f", "jpeg", "--shard", "1/2", "-o", out, src])
            if r.stdout.count(b"would ") + r.stderr.count(b"error ") == 1:
                break
        else:
            self.fail("no stem whose two files fall in different shards")
        png_shard = "1/2" if b".png" in r.stdout + r.stderr else "2/2"
        jpg_shard = "2/2" if png_shard == "1/2" else "1/2"
        run(["-q", "-f", "jpeg", "--shard", jpg_shard, "-o", out, src])  # its journal
        os.chmod(out, 0o555)
        try:
            r = self.no_dac(["-f", "jpeg", "--shard", png_shard, "-o", out, src])
            self.assertIn(b"in place: Permission denied", r.stderr)
        finally:
            os.chmod(out, 0o755)
        r = run(["-f", "jpeg", "--shard", jpg_shard, "-o", out, src])
        self.assertIn(b"also the output of", r.stderr)
        self.assertEqual(outputs_in(out), set())
        self.ok(run(["-f", "jpeg", "--shard", png_shard, "-o", out, src]))
        self.assertGreater(mean_of(os.path.join(out, stem + ".jpg")), 150)

class TestDeepFolders(SafetyCase):
    def test_folder_past_path_max_says_why_its_files_are_not_looked_at(self):
        """A folder whose path passes PATH_MAX: its files cannot be opened by name
        (by imgpool or libvips) and get no line of their own, and the folder's
        error said only 'File name too long'. It says what that means now."""
        src = self.path("in")
        os.makedirs(src)
        jpeg(self.path("one.jpg"))
        subprocess.run([sys.executable, "-c", (
            "import os, shutil, sys\n"
            "os.chdir(sys.argv[1])\n"
            "for i in range(24):\n"
            "    os.mkdir('d' * 200); os.chdir('d' * 200)\n"
            "    if i in (19, 23): shutil.copy(sys.argv[2], 'f.jpg')\n"),
            src, self.path("one.jpg")], check=True)
        r = run(["-r", "-o", self.path("out"), src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"longer than the system allows (PATH_MAX", r.stderr)
        self.assertEqual(r.stdout.count(b"ok    "), 1, r.stdout)


    def test_output_folder_past_sqlites_path_limit(self):
        """An output folder whose path passes 512 bytes (two 250-byte names) could
        not be used at all: SQLite's unix VFS takes no longer name for the journal
        ("unable to open database file"), nothing was made, no input answered."""
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        out = self.path("o" * 250, "p" * 250, "out")
        self.ok(run(["-q", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        r = self.ok(run(["-o", out, src]))  # the journal read back: up to date
        self.assertIn(b"2 skipped", r.stdout + r.stderr)
        os.unlink(os.path.join(src, "b.jpg"))
        self.ok(run(["-q", "--prune", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"a.jpg"})
        r = self.ok(run(["-n", "-o", out, src]))
        self.assertIn(b"1 up to date", r.stdout + r.stderr)
        for k in ("1/2", "2/2"):
            self.ok(run(["-q", "--shard", k, "-o", out, src]))

class TestNamesInLines(SafetyCase):
    DANGER = ["\x1b", "\r", "\x85", "\u2028", "\u2029", "\u202e", "\u2066", "\x9b",
              "\u061c"]

    def check_lines(self, text, n):
        s = text.decode("utf-8", errors="surrogateescape")
        lines = s.splitlines()  # Python splits on NEL, U+2028 and the like too
        self.assertEqual(len(lines), n, lines)
        for ch in self.DANGER:
            self.assertNotIn(ch, s, repr(s))
        self.assertNotIn("\udc9b", s)  # a raw 0x9b byte (C1 CSI to an 8-bit terminal)
        return lines

    def test_names_cannot_forge_or_hide_lines(self):
        """A name with NEL, U+2028, a bidi override or raw C1 bytes came out as it
        was: 3 real lines read as 9 to a reader splitting on Unicode line ends (a
        fake 'ok' among them), and ESC [2J cleared the screen of 'imgpool status'."""
        src = self.path("in")
        os.makedirs(src)
        names = [b"x\xc2\x85ok    evil.jpg", b"z\xe2\x80\xa8error other.jpg",
                 b"r\xe2\x80\xaegpj.exe.jpg", b"c1\x9b2J.jpg", b"caf\xc3\xa9.jpg",
                 b"bad\x1b[2J.jpg", b"alm\xd8\x9c.jpg"]
        for n in names:
            jpeg(os.path.join(os.fsencode(src), n))
        with open(os.path.join(os.fsencode(src), b"broken\n\x1b[2J.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 not a whole jpeg")
        out = self.path("out")
        r = run(["-j1", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.check_lines(r.stdout, len(names) + 1)  # + the summary
        self.check_lines(r.stderr, 1)
        self.assertIn("café.jpg", r.stdout.decode())  # other UTF-8 as it is
        st = run(["status", out])
        lines = self.check_lines(st.stdout, 4)
        self.assertTrue(any(l.startswith("  failed ") and "broken?" in l for l in lines), lines)
        # The JSON report on a terminal (--report -): the same strings, escaped.
        r = run(["-j1", "--force", "-o", out, "--report", "-", src])
        recs = [json.loads(l) for l in self.check_lines(r.stdout, len(names) + 2)]
        got = {os.fsencode(x["input"]) for x in recs if x["type"] == "file"}
        self.assertEqual(got, {os.path.join(os.fsencode(src), n) for n in names} |
                         {os.path.join(os.fsencode(src), b"broken\n\x1b[2J.jpg")})

    def test_setup_messages_escape_the_output_folders_name(self):
        """-o naming a file whose name holds a newline and an escape: the refusal
        printed it raw, over two lines, the escape reaching the terminal."""
        bad = self.path("bad\nout\x1b[31m")
        open(bad, "w").close()
        jpeg(self.path("in", "a.jpg"))
        r = run(["-q", "-o", bad, self.path("in")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.check_lines(r.stderr, 1)
        self.assertIn(b"bad?out?[31m' is not a folder", r.stderr)
        # with a '/' after it, or a folder below it: the same answer, exit 1 (the
        # output folder cannot be used), where "bad/" was a usage error, 2
        for given, said in ((bad + "/", b"is not a folder"),
                            (os.path.join(bad, "sub"), b"bad?out?[31m' on its way is a file")):
            r = run(["-q", "-o", given, self.path("in")])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.check_lines(r.stderr, 1)
            self.assertIn(said, r.stderr)

    def test_every_message_of_imgpool_escapes_names(self):
        """A usage error, imgpool status and the run's own messages (a --trace it
        cannot make, --prune at an unmounted disk, a --min-free stop, a folder
        not walked as another output folder) printed the names they quote raw: a
        newline split the line, an escape reached the terminal."""
        bad = "x\n\x1b[31m\u2028y"
        jpeg(self.path("in", "a.jpg"))
        cases = [
            (["--bogus" + bad, self.path("in")], 2, "unknown option '--bogusx??[31m?y'"),
            (["--effort", bad, "-f", "webp", "-o", self.path("o1"), self.path("in")], 2,
             "'x??[31m?y'"),
            (["status", self.path(bad)], 1, "x??[31m?y"),
            (["-q", "--trace", self.path("nodir", bad), "-o", self.path("o2"),
              self.path("in")], 1, "x??[31m?y"),  # cannot be written: 1
            # a stop's cause names OUT (the file's line and the run's)
            (["--min-free", "100000T", "-o", self.path("o3" + bad), self.path("in")], 1,
             "o3x??[31m?y'", 2),
            # a folder not walked, being another output folder
            (["-r", "-o", self.path("o4"), self.path("in2")], 0, "in2/x??[31m?y (if not"),
        ]
        jpeg(self.path("in2", "a.jpg"))
        os.makedirs(self.path("in2", bad, ".imgpool"))
        for argv, code, shown, *lines in cases:
            r = run(argv)
            self.assertEqual(r.returncode, code, (argv, r.stderr))
            self.check_lines(r.stderr, lines[0] if lines else 1)
            self.assertIn(shown, r.stderr.decode("utf-8", "surrogateescape"), argv)

SHIM_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "race_shim.c")
OUTDIR_TMP_MARK = ".imgpool/tmp-"  # a worker's temp folder, opened by its path


class RaceShimCase(SafetyCase):
    """Runs imgpool with tests/race_shim.c preloaded."""

    def shim(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler for the race shim")
        so = self.path("race_shim.so")
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", so, SHIM_SRC, "-ldl"],
                       check=True, capture_output=True)
        return so

    def racing(self, args, call, name, src, dst, then=None, prefix=(), touch=None,
               chmod=None, after=False, more=None):
        env = dict(os.environ, LD_PRELOAD=self.shim(), RACE_CALL=call, RACE_NAME=name,
                   RACE_FROM=src or "", RACE_TO=dst or "",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0")
        if after:
            env.update(RACE_WHEN="after")
        env.update(more or {})  # RACE2_*, RACE3_*: more moves at other moments
        if then:
            env.update(RACE_FROM2=then[0], RACE_TO2=then[1])
        if touch:
            env.update(RACE_TOUCH=touch)
        if chmod:
            env.update(RACE_CHMOD=chmod)
        if not prefix:
            return run(args, env=env)
        return subprocess.run(list(prefix) + [IMGPOOL] + args, capture_output=True,
                              timeout=300, env=env)


class TestPruneWithAnUnreadableJournal(RaceShimCase):
    """--prune when the journal's lookups fail (SQL_FAIL in tests/race_shim.c: an
    I/O error on every step of the statements named). A failed lookup read as
    "nothing recorded" or "no outputs": the thumbnails of a disk that did not mount
    were deleted, exit 0, without a word; an input whose outputs could not be read
    was forgotten, its thumbnails left for nobody to prune, without a word."""

    def failing(self, sql, args):
        env = dict(os.environ, LD_PRELOAD=self.shim(), SQL_FAIL=sql,
                   IMGPOOL_FSTAB=self.path("no-fstab"),
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0")
        return run(args, env=env)

    def test_a_disk_that_did_not_mount_is_not_pruned_when_its_record_cannot_be_read(self):
        import sqlite3
        src, out = self.path("disk"), self.path("thumbs")
        open(self.path("no-fstab"), "w").close()
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        self.ok(run(["-q", "--prune", "-o", out, src]))
        # The device a run found files on was another (a disk mounted there by
        # hand); tonight the folder is empty: the disk did not mount.
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        with db:
            self.assertEqual(db.execute("UPDATE roots SET dev = dev + 1").rowcount, 1)
        db.close()
        shutil.move(src, self.path("away"))
        os.makedirs(src)
        r = self.failing("FROM roots", ["-q", "--prune", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"it holds no image, and whether it is the disk a run found files on "
                      b"cannot be told: cannot read the journal", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})

    def test_an_input_whose_outputs_cannot_be_read_is_kept_for_the_next_prune(self):
        src, out = self.path("src"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "b.jpg"), mean=90)
        self.ok(run(["-q", "--prune", "-o", out, src]))
        os.unlink(os.path.join(src, "a.jpg"))
        r = self.failing("FROM outputs WHERE root=?1 AND rel=?2",
                         ["--prune", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"imgpool: --prune: cannot read the journal", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        r = self.ok(run(["--prune", "-o", out, src]))
        self.assertEqual(outputs_in(out), {"b.jpg"}, r.stdout + r.stderr)


class TestReportTakenAfterTheCheck(RaceShimCase):
    def test_a_report_another_run_takes_after_the_check_is_a_wait(self):
        """A --report another run writes is a wait (exit 75, as a locked OUT: a
        job's rule retries it) when the check before the work finds it held;
        taken by that run between the check and the open, it was exit 1, a
        failure. (SLOW_OPEN in tests/race_shim.c holds each open of the report
        3 s, so the other run takes it in between.)"""
        src, report = self.path("in"), self.path("taken.jsonl")
        jpeg(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(self.path("in2"), "binput.jpg"))
        self.ok(run(["-q", "--report", report, "-o", self.path("out0"), src]))
        base = dict(os.environ, LD_PRELOAD=self.shim(),
                    ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                    ":verify_asan_link_order=0")
        a = subprocess.Popen([IMGPOOL, "-q", "--report", report, "-o", self.path("out1"), src],
                             env=dict(base, SLOW_OPEN="taken.jsonl", SLOW_SECONDS="3"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(9)  # its check done (about 6 s), its opens for writing waiting (to 12)
        b = subprocess.Popen([IMGPOOL, "-q", "--report", report, "-o", self.path("out2"),
                              self.path("in2")],
                             env=dict(base, SLOW_OPEN="binput.jpg", SLOW_SECONDS="6"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, a_err = a.communicate(timeout=120)
        _, b_err = b.communicate(timeout=120)
        self.assertEqual(b.returncode, 0, b_err)
        self.assertIn(b"another imgpool run is writing", a_err)
        self.assertEqual(a.returncode, 75, a_err)


class TestHeldForAnotherInput(RaceShimCase):
    """A file whose output name another input of the run has (a.tif, met first,
    damaged; a.jpg, -f jpeg) waits for that input's outcome (plan.h: files held):
    until every file handed out has its outcome, also files that take long; and a
    run stopped meanwhile still answers it, once. (SLOW_OPEN in tests/race_shim.c
    keeps slow.jpg in flight for 2 s.)"""

    def inputs(self):
        src = self.path("in")
        jpeg(os.path.join(src, "a.jpg"), 64, 48, mean=200)
        with open(os.path.join(src, "a.tif"), "wb") as f:
            f.write(b"II*\x00" + b"\x07" * 3000)
        jpeg(os.path.join(src, "slow.jpg"), 400, 300)
        sizes = [os.path.getsize(os.path.join(src, n)) for n in ("slow.jpg", "a.tif", "a.jpg")]
        self.assertEqual(sizes, sorted(sizes, reverse=True))  # the walk's order
        return src

    def start(self, out, report):
        env = dict(os.environ, LD_PRELOAD=self.shim(), SLOW_OPEN="slow.jpg",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0")
        return subprocess.Popen([IMGPOOL, "-j1", "-f", "jpeg", "--report", report,
                                 "-o", out, self.inputs()], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def answers(self, report):
        with open(report) as f:
            recs = [json.loads(x) for x in f]
        files = [r for r in recs if r["type"] == "file"]
        names = sorted(os.path.basename(r["input"]) for r in files)
        self.assertEqual(names, ["a.jpg", "a.tif", "slow.jpg"], recs)
        return {os.path.basename(r["input"]): r for r in files}

    def test_the_held_file_waits_for_the_files_in_flight(self):
        out, report = self.path("out"), self.path("r.jsonl")
        p = self.start(out, report)
        stdout, stderr = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 1, stderr)
        got = self.answers(report)
        self.assertEqual(got["a.jpg"]["status"], "ok", got)
        self.assertEqual(got["a.tif"]["status"], "error", got)
        self.assertEqual(got["slow.jpg"]["status"], "ok", got)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150)

    def test_three_inputs_on_one_name_each_wait_their_turn(self):
        """a.tif, a.png (both damaged) and a.jpg map to a.jpg (-f jpeg), met in that
        order. a.png and a.jpg were held for a.tif; once it failed, a.png took the
        name and a.jpg was refused against it at once, before its outcome: only the
        next run made a.jpg. Each held file waits for the one before it now."""
        src, out = self.path("in"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"), 64, 48, mean=200)
        for name, head, n in (("a.tif", b"II*\x00", 6000), ("a.png", b"\x89PNG\r\n\x1a\n", 4000)):
            with open(os.path.join(src, name), "wb") as f:
                f.write(head + b"\x07" * n)
        r = run(["-f", "jpeg", "-o", out, src])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.count(b"error "), 2, r.stderr)
        self.assertGreater(mean_of(os.path.join(out, "a.jpg")), 150, r.stdout + r.stderr)
        r = run(["-f", "jpeg", "-o", out, src])
        self.assertIn(b" 0 done,", r.stdout + r.stderr)

    def test_a_thumbnail_in_the_output_folder_is_not_held_and_read(self):
        """A thumbnail in the output folder given as an input, whose output name
        another input had: held, it skipped the question whether it is a
        thumbnail, and once the other failed it was read as a photo and
        thumbnailed again."""
        src, src2, out = self.path("in"), self.path("in2"), self.path("out")
        jpeg(os.path.join(src, "a.jpg"))
        os.makedirs(src2)
        with open(os.path.join(src2, "at.tif"), "wb") as f:
            f.write(b"II*\x00" + b"\x07" * 3000)
        tpl = ["-f", "jpeg", "--name", "{stem}t.{ext}", "-o", out]
        self.ok(run(tpl + [src]))
        self.assertEqual(outputs_in(out), {"at.jpg"})
        r = run(tpl + [os.path.join(src2, "at.tif"), os.path.join(out, "at.jpg")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(outputs_in(out), {"at.jpg"}, r.stdout + r.stderr)
        self.assertEqual(r.stderr.count(b"error "), 2, r.stderr)

    def test_a_list_from_a_pipe_is_answered_as_it_comes(self):
        """From a --files-from pipe nothing is held: a watcher's pipe closes only
        when the watcher ends, and a held file waited for that, unanswered (and
        the parent spun, its feed asked again at once on the readable pipe)."""
        src, out, report = self.inputs(), self.path("out"), self.path("r.jsonl")
        env = dict(os.environ, LD_PRELOAD=self.shim(), SLOW_OPEN="a.tif",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0")  # a.tif in flight when a.jpg comes
        p = subprocess.Popen([IMGPOOL, "-f", "jpeg", "--report", report, "-o", out,
                              "--base", src, "--files-from", "-"], stdin=subprocess.PIPE, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.stdin.write(("%s\n%s\n" % (os.path.join(src, "a.tif"),
                                      os.path.join(src, "a.jpg"))).encode())
        p.stdin.flush()
        answered = []
        for _ in range(200):
            time.sleep(0.05)
            if not os.path.exists(report):  # not opened yet on a loaded machine
                continue
            with open(report) as f:
                answered = [json.loads(x) for x in f if '"type":"file"' in x]
            if len(answered) == 2:
                break
        p.stdin.close()
        p.wait(timeout=60)
        got = {os.path.basename(x["input"]): x for x in answered}
        self.assertEqual(sorted(got), ["a.jpg", "a.tif"], answered)
        self.assertIn("is also the output of", got["a.jpg"]["error"])

    def test_a_run_stopped_while_a_file_is_held_answers_it(self):
        out, report = self.path("out"), self.path("r.jsonl")
        p = self.start(out, report)
        # The stop once a worker sleeps in slow.jpg's open (the parent slept in
        # its own first, guessing its cost): a.tif and a.jpg are planned by
        # then; a stop before the walk reaches them leaves them to the next run
        # (the summary counts them, with no record).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                sleeping(kid) for kid in children_of(p.pid)):
            time.sleep(0.02)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=120)
        got = self.answers(report)
        self.assertEqual(got["a.jpg"]["status"], "cancelled", got)
        self.assertEqual(got["a.jpg"]["error"],
                         "stopped before it started; the next run does it", got)


class TestAPoolThatCannotStart(RaceShimCase):
    """Workers that cannot open their temp folder (FAIL_OPEN in
    tests/race_shim.c): the pool never starts, and every file is answered "not
    started"; --prune does not run (a run that made nothing proves nothing
    gone), also where a file waited for it; and a --files-from list is answered
    as far as it is readable, past an entry without end read a piece at a time
    (the entries after one were left without an answer)."""

    def env(self):
        return dict(os.environ, LD_PRELOAD=self.shim(), FAIL_OPEN=OUTDIR_TMP_MARK,
                    ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                    ":verify_asan_link_order=0")

    def test_no_prune_and_every_file_answered(self):
        src, out, report = self.path("src"), self.path("out"), self.path("r.jsonl")
        for name in ("a.jpg", "b.jpg", "gone.jpg"):
            jpeg(os.path.join(src, name))
        self.ok(run(["-r", "-q", "-o", out, src]))
        os.unlink(os.path.join(src, "gone.jpg"))
        os.unlink(os.path.join(src, "a.jpg"))
        jpeg(os.path.join(src, "a.jpg", "x.jpg"))
        os.utime(os.path.join(src, "b.jpg"))  # to make again
        r = run(["-r", "--prune", "--report", report, "-o", out, src], env=self.env())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot start the workers", r.stderr)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg", "gone.jpg"}, r.stdout)
        with open(report) as f:
            files = [json.loads(x) for x in f if '"type":"file"' in x]
        self.assertEqual(sorted(os.path.basename(x["input"]) for x in files),
                         ["b.jpg", "x.jpg"], files)
        self.assertTrue(all(x["error"].startswith("not started") for x in files), files)

    def test_a_list_past_an_entry_without_end(self):
        src, report = self.path("src"), self.path("r.jsonl")
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            jpeg(os.path.join(src, name))
        listed = self.path("list")
        with open(listed, "w") as f:
            f.write("a.jpg\n" + "x" * 200000 + "\nb.jpg\nc.jpg\n")
        r = run(["--files-from", listed, "--base", src, "--report", report,
                 "-o", self.path("out")], env=self.env())
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(report) as f:
            recs = [json.loads(x) for x in f]
        self.assertEqual(sum(x["type"] == "file" for x in recs), 4, r.stderr)
        self.assertEqual(recs[-1]["total"], 4, recs[-1])

    def test_a_list_without_end(self):
        """/dev/zero as the list once the pool could not start: read on for ever
        (an entry without end a piece at a time; with -0, empty entries)."""
        for nul in ([], ["-0"]):
            r = run(["--files-from", "/dev/zero", *nul, "-o", self.path("out")],
                    env=self.env(), timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"cannot start the workers", r.stderr)


class TestAStopJustAfterThePoolBroke(RaceShimCase):
    """A stop (SIGTERM) that comes after the pool broke and before its files were
    answered: the files planned and not handed out, and a file held, had no
    answer at all (the stop was left to answer them, and the pool it would have
    stopped was already broken). tests/race_shim.c: the worker that opens
    kill.jpg is killed (as the OOM killer does), every new worker then fails to
    open its temp folder (the pool breaks), and the line saying so raises
    SIGTERM."""

    def test_every_planned_file_is_answered(self):
        src, out, report = self.path("in"), self.path("out"), self.path("r.jsonl")
        jpeg(os.path.join(src, "kill.jpg"), 800, 600)
        with open(os.path.join(src, "a.tif"), "wb") as f:
            f.write(b"II*\x00" + b"\x07" * 3000)  # met before a.jpg, which it holds
        for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
            jpeg(os.path.join(src, name))
        env = dict(os.environ, LD_PRELOAD=self.shim(), KILL_OPEN="kill.jpg",
                   FAIL_OPEN=OUTDIR_TMP_MARK, FAIL_OPEN_AFTER=self.path("broken"),
                   RAISE_SAY="the worker pool stopped",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0")
        r = run(["-j1", "-f", "jpeg", "--report", report, "-o", out, src], env=env)
        self.assertEqual(r.returncode, 128 + signal.SIGTERM, r.stderr)
        self.assertIn(b"worker initializer failed", r.stderr)
        with open(report) as f:
            files = [json.loads(x) for x in f if '"type":"file"' in x]
        got = {}
        for rec in files:
            self.assertNotIn(os.path.basename(rec["input"]), got, files)  # once each
            got[os.path.basename(rec["input"])] = rec
        self.assertEqual(sorted(got), ["a.jpg", "a.tif", "b.jpg", "c.jpg", "d.jpg",
                                       "kill.jpg"], r.stderr)
        self.assertEqual(got["a.jpg"]["status"], "cancelled", got)  # held
        for rec in files:  # the pool's own (handed out) or the stop's (planned)
            if rec["status"] == "error":
                self.assertIn("the worker pool stopped", rec["error"], rec)
            else:
                self.assertEqual(rec["status"], "cancelled", rec)
        self.assertGreater(sum(x["status"] == "cancelled" for x in files), 1, files)
        self.assertEqual(outputs_in(out), set())


class TestFoldersMovedOutAtTheWorstMoment(RaceShimCase):
    """A folder of OUT moved out of it between two system calls of one step
    (tests/race_shim.c does the move, preloaded, right before the second call):
    nothing is put into, or taken from, the folder once it is outside OUT."""

    def test_a_replacement_puts_nothing_into_a_folder_that_left(self):
        """--force takes the old thumbnail aside, then moves the new one in: the
        folder moved out just before that move. The old thumbnail used to be put
        back into the moved folder, outside OUT."""
        jpeg(self.path("in", "a", "g.jpg"))
        out = self.path("out")
        self.ok(run(["-r", "-q", "-o", out, self.path("in")]))
        r = self.racing(["-r", "-q", "--force", "-o", out, self.path("in")], "rename",
                        "g.jpg", self.path("out", "a"), self.path("moved"))
        self.ok(r, (1,))
        self.assertIn(b"moved out of the output folder", r.stderr)
        self.assertEqual(os.listdir(self.path("moved")), [])

    def test_no_folder_is_made_in_a_folder_that_left(self):
        """A new thumbnail's new folder (sub/new) is made in OUT/sub, open as a
        descriptor: OUT/sub moved out of OUT right before the folder's rename
        into it. The folder was made outside OUT, left there, and recorded as
        imgpool's (a review's find); it is removed again now, and the file
        fails."""
        jpeg(self.path("in", "sub", "new", "a.jpg"))
        out = self.path("out")
        os.makedirs(os.path.join(out, "sub"))
        with open(os.path.join(out, "sub", "mine.txt"), "w") as f:
            f.write("mine")
        os.makedirs(self.path("outside"))
        r = self.racing(["-r", "-j1", "-o", out, self.path("in")], "rename", "new",
                        os.path.join(out, "sub"), self.path("outside", "sub"))
        self.ok(r, (1,))
        self.assertEqual(sorted(os.listdir(self.path("outside", "sub"))), ["mine.txt"])

    def test_an_rmdir_undone_changes_nothing_through_a_symlink(self):
        """--prune removes an emptied folder of imgpool's; its parent left OUT just
        before, so the removal is undone (the folder made again, its mode set);
        a symlink put in its place between the two had its target's mode set,
        outside OUT (a review's find)."""
        jpeg(self.path("in", "x", "sub", "a.jpg"))
        jpeg(self.path("in", "b.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-r", "-j1", "-o", out, self.path("in")]))
        os.unlink(self.path("in", "x", "sub", "a.jpg"))
        victim = self.path("victim")
        with open(victim, "w") as f:
            f.write("secret")
        os.chmod(victim, 0o600)
        os.symlink(victim, self.path("link"))
        os.makedirs(self.path("outside"))
        self.racing(["--prune", "-r", "-j1", "-o", out, self.path("in")], "rmdir", "sub",
                    os.path.join(out, "x"), self.path("outside", "x"),
                    more={"RACE2_CALL": "mkdir", "RACE2_NAME": "sub", "RACE2_WHEN": "after",
                          "RACE2_FROM": self.path("outside", "x", "sub"),
                          "RACE2_TO": self.path("outside", "x", "sub.made"),
                          "RACE2_FROM2": self.path("link"),
                          "RACE2_TO2": self.path("outside", "x", "sub")})
        self.assertTrue(os.path.isdir(self.path("outside", "x", "sub.made")), "no race")
        self.assertEqual(os.stat(victim).st_mode & 0o7777, 0o600)

    def test_an_empty_folder_that_left_is_not_removed(self):
        """--prune removes a gone input's thumbnail, then the folders this leaves
        empty: the folder holding the one to remove moved out just before its
        rmdir. It used to be removed there, outside OUT."""
        jpeg(self.path("in", "x", "y", "g.jpg"))
        jpeg(self.path("in", "keep.jpg"))
        out = self.path("out")
        self.ok(run(["-r", "-q", "-o", out, self.path("in")]))
        os.unlink(self.path("in", "x", "y", "g.jpg"))
        r = self.racing(["-r", "-q", "--prune", "-o", out, self.path("in")], "rmdir", "y",
                        self.path("out", "x"), self.path("moved"))
        self.ok(r)
        self.assertTrue(os.path.isdir(self.path("moved", "y")))
        self.assertEqual(os.listdir(self.path("moved")), ["y"])

    def test_nothing_goes_into_or_from_a_quarantine_that_left(self):
        """--force moves the old thumbnail into OUT/.imgpool/quarantine and deletes
        it there once the new one is in place: the quarantine moved out of OUT
        just before the move. The old thumbnail went into it and was deleted
        there, outside OUT; it is put back now (that file fails, and the next
        run makes it), and a later file of the run uses a quarantine made anew."""
        jpeg(self.path("in", "a.jpg"))
        jpeg(self.path("in", "b.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-j1", "-o", out, self.path("in")]))
        os.makedirs(os.path.join(out, ".imgpool", "quarantine"), exist_ok=True)
        r = self.racing(["-j1", "--force", "-o", out, self.path("in")], "rename",
                        "q-*", os.path.join(out, ".imgpool", "quarantine"),
                        self.path("moved"))
        self.ok(r, (1,))
        self.assertIn(b"moved out of the output folder", r.stderr)
        self.assertEqual(os.listdir(self.path("moved")), [])
        self.assertIn(b"1 done, 1 failed", r.stderr + r.stdout)
        self.assertEqual(outputs_in(out), {"a.jpg", "b.jpg"})
        again = self.ok(run(["-j1", "-o", out, self.path("in")]))
        self.assertIn(b"1 done", again.stdout + again.stderr)

    def test_no_quarantine_is_made_in_a_private_folder_that_left(self):
        """OUT/.imgpool moved out of OUT, then its quarantine away, right before
        a replacement's move into the quarantine: a new quarantine was made in
        the moved .imgpool, outside OUT, and thumbnails moved into it (a
        reviewer's case)."""
        jpeg(self.path("in", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-j1", "-o", out, self.path("in")]))
        os.makedirs(os.path.join(out, ".imgpool", "quarantine"), exist_ok=True)
        r = self.racing(["-j1", "--force", "-o", out, self.path("in")], "rename", "q-*",
                        os.path.join(out, ".imgpool"), self.path("movedpriv"),
                        then=(self.path("movedpriv", "quarantine"), self.path("movedq")))
        self.ok(r, (1,))
        self.assertIn(b"quarantine folder (.imgpool/quarantine) was moved", r.stderr)
        self.assertNotIn("quarantine", os.listdir(self.path("movedpriv")))
        self.assertEqual(os.listdir(self.path("movedq")), [])
        self.assertEqual(outputs_in(out), {"a.jpg"})



class TestAUsersFileSavedOverANewThumbnail(RaceShimCase):
    """A user's file moved over a thumbnail the moment imgpool has renamed it into
    place (mv -f, a sync tool, a file manager's "replace"; tests/race_shim.c does
    the move right after the rename). imgpool saw another file at the name, took
    it back into its temp folder and deleted it: the user's file was lost, and
    outside OUT where its folder had been moved out too. It is the user's now:
    left as it is, and the input fails."""

    USERS = b"the user's own file\n"

    def quarantined_by_a_killed_run(self):
        """OUT/sub/a.jpg made, then moved to the quarantine as q-1-1 with its
        record, as a --force killed between its two steps leaves it: out, the
        thumbnail's path, the quarantine."""
        import sqlite3
        jpeg(self.path("in", "sub", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-r", "-j1", "-o", out, self.path("in")]))
        thumb = os.path.join(out, "sub", "a.jpg")
        st = os.stat(thumb)
        q = os.path.join(out, ".imgpool", "quarantine")
        os.makedirs(q, exist_ok=True)
        os.rename(thumb, os.path.join(q, "q-1-1"))
        db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
        db.execute("insert into quarantine values('q-1-1', 'sub/a.jpg', ?, ?)",
                   (st.st_size, st.st_mtime_ns))
        db.commit()
        db.close()
        return out, thumb, q

    def users_file(self):
        path = self.path("user.jpg")
        with open(path, "wb") as f:
            f.write(self.USERS)
        return path

    def assert_users(self, path):
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.USERS, path)

    def test_a_new_thumbnail(self):
        jpeg(self.path("in", "2024", "a.jpg"))
        out = self.path("out")
        r = self.racing(["-r", "-o", out, self.path("in")], "rename", "a.jpg",
                        self.users_file(), os.path.join(out, "2024", "a.jpg"), after=True)
        self.ok(r, (1,))
        self.assertFalse(os.path.exists(self.path("user.jpg")), "the race did not run")
        self.assertIn(b"a file appeared there meanwhile (left as it is)", r.stderr)
        self.assert_users(os.path.join(out, "2024", "a.jpg"))
        again = run(["-r", "-o", out, self.path("in")])
        self.ok(again, (1,))
        self.assertIn(b"was not made by imgpool", again.stderr)
        self.assert_users(os.path.join(out, "2024", "a.jpg"))

    def test_a_replacement_with_force(self):
        """--force: the old thumbnail, taken aside, stays aside (the next run
        removes it from the quarantine); the user's file stays at the name."""
        jpeg(self.path("in", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-o", out, self.path("in")]))
        r = self.racing(["--force", "-o", out, self.path("in")], "rename", "a.jpg",
                        self.users_file(), os.path.join(out, "a.jpg"), after=True)
        self.ok(r, (1,))
        self.assertFalse(os.path.exists(self.path("user.jpg")), "the race did not run")
        self.assert_users(os.path.join(out, "a.jpg"))
        again = run(["--force", "-o", out, self.path("in")])
        self.ok(again, (1,))
        self.assert_users(os.path.join(out, "a.jpg"))
        self.assertEqual(os.listdir(os.path.join(out, ".imgpool", "quarantine")), [])

    def test_outside_out(self):
        """Its folder moved out of OUT, then the user's file saved over the
        thumbnail there: nothing outside OUT is taken or deleted."""
        jpeg(self.path("in", "2024", "a.jpg"))
        out = self.path("out")
        user = self.users_file()
        env_then = (user, self.path("kept", "a.jpg"))
        r = self.racing(["-r", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "2024"), self.path("kept"), then=env_then,
                        after=True)
        self.ok(r, (1,))
        self.assertFalse(os.path.exists(user), "the race did not run")
        self.assertEqual(os.listdir(self.path("kept")), ["a.jpg"])
        self.assert_users(self.path("kept", "a.jpg"))

    def test_a_quarantined_thumbnail_put_back_takes_nothing_else(self):
        """The old thumbnail that --force had left quarantined is put back by the
        next run; right after that rename its folder leaves OUT and a user's file
        is saved at the name there. Whatever was at the name was taken back and
        deleted: the user's file, outside OUT (a review's find)."""
        jpeg(self.path("in", "2024", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-r", "-o", out, self.path("in")]))
        r = self.racing(["-q", "--force", "-r", "-o", out, self.path("in")], "rename", "a.jpg",
                        self.users_file(), os.path.join(out, "2024", "a.jpg"), after=True)
        self.ok(r, (1,))
        self.assertEqual(len(os.listdir(os.path.join(out, ".imgpool", "quarantine"))), 1)
        os.unlink(os.path.join(out, "2024", "a.jpg"))  # the user takes theirs away
        user = self.users_file()
        self.racing(["-r", "-o", out, self.path("in")], "rename", "a.jpg",
                    os.path.join(out, "2024"), self.path("kept"),
                    then=(user, self.path("kept", "a.jpg")), after=True)
        self.assertFalse(os.path.exists(user), "the race did not run")
        self.assert_users(self.path("kept", "a.jpg"))

    def test_force_puts_nothing_back_into_a_folder_that_left(self):
        """--force: right after the new thumbnail's rename its folder leaves OUT
        and the new thumbnail is moved away from it. The old one, quarantined,
        was put back into that folder, outside OUT (a review's find); it goes
        back beneath OUT, or stays quarantined."""
        jpeg(self.path("in", "2024", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-r", "-o", out, self.path("in")]))
        r = self.racing(["--force", "-r", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "2024"), self.path("kept"),
                        then=(self.path("kept", "a.jpg"), self.path("moved.jpg")), after=True)
        self.ok(r, (1,))
        self.assertTrue(os.path.exists(self.path("moved.jpg")), "the race did not run")
        self.assertEqual(os.listdir(self.path("kept")), [])

    def test_recovery_says_nothing_of_a_file_it_put_back(self):
        """A killed run's quarantined thumbnail is put back by the next run, and
        the user's file moved over it right after: the run warned that the old
        one "is kept in .imgpool/quarantine/q-1-1 ... move it back by hand",
        where nothing was (a review's find)."""
        out, thumb, q = self.quarantined_by_a_killed_run()
        user = self.users_file()
        r = self.racing(["-r", "-j1", "-o", out, self.path("in")], "rename", "a.jpg",
                        user, thumb, after=True)
        self.assertFalse(os.path.exists(user), "the race did not run")
        self.assert_users(thumb)
        self.assertNotIn(b"q-1-1", r.stderr + r.stdout)
        self.assertEqual(os.listdir(q), [])

    def test_a_users_file_met_while_taking_back_is_kept(self):
        """Three moves (a review's find): the folder leaves OUT right after the new
        thumbnail's rename, so it is taken back; the user's file lands at the name
        just before that, and another file just after. The user's file went to
        the temp name, could not go back, and was deleted with the temp files. It
        is kept in .imgpool/quarantine now."""
        jpeg(self.path("in", "sub", "a.jpg"))
        out = self.path("out")
        os.makedirs(os.path.join(out, "sub"))
        os.makedirs(self.path("outside"))
        user = self.users_file()
        other = self.path("other.jpg")
        with open(other, "w") as f:
            f.write("another")
        r = self.racing(["-r", "-j1", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "sub"), self.path("outside", "sub"), after=True,
                        more={"RACE2_CALL": "rename", "RACE2_NAME": "0-0-*",
                              "RACE2_FROM": user, "RACE2_TO": self.path("outside", "sub", "a.jpg"),
                              "RACE3_CALL": "rename", "RACE3_NAME": "0-0-*", "RACE3_WHEN": "after",
                              "RACE3_FROM": other, "RACE3_TO": self.path("outside", "sub", "a.jpg")})
        self.ok(r, (1,))
        self.assertFalse(os.path.exists(other), "the races did not run")
        kept = [os.path.join(d, n) for d, _, ns in os.walk(self.path()) for n in ns
                if open(os.path.join(d, n), "rb").read() == self.USERS]
        self.assertEqual(len(kept), 1, "the user's file is gone")
        # where it is, said (a third review: nothing said it), under a name no
        # later run makes for its own quarantine (q-PID-N: PID 1 in containers)
        q = os.path.join(out, ".imgpool", "quarantine")
        self.assertEqual(os.path.dirname(kept[0]), q)
        name = os.path.basename(kept[0])
        self.assertTrue(name.startswith("kept-"), name)
        self.assertIn(("kept in the output folder's .imgpool/quarantine, as " + name).encode(),
                      r.stderr)

    def test_force_checks_its_put_back_after_the_move(self):
        """--force: the new thumbnail moved away right after its rename, then the
        folder leaves OUT right before the old one's put-back into it: the old one
        went into that folder, outside OUT (a review's find)."""
        jpeg(self.path("in", "sub", "a.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-r", "-j1", "-o", out, self.path("in")]))
        os.makedirs(self.path("outside"))
        r = self.racing(["--force", "-r", "-j1", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "sub", "a.jpg"), self.path("moved.jpg"), after=True,
                        more={"RACE2_CALL": "rename", "RACE2_NAME": "a.jpg", "RACE2_NTH": "2",
                              "RACE2_FROM": os.path.join(out, "sub"),
                              "RACE2_TO": self.path("outside", "sub")})
        self.ok(r, (1,))
        self.assertTrue(os.path.exists(self.path("moved.jpg")), "the race did not run")
        self.assertEqual(os.listdir(self.path("outside", "sub")), [])

    def test_recovery_names_a_users_file_it_keeps(self):
        """Recovery puts a killed run's quarantined thumbnail back; the folder
        leaves OUT right after, the user's file lands at the name before the
        take-back, another right after it: the user's file is kept in the
        quarantine, and a warning names it (a fourth review: it was silent)."""
        out, thumb, q = self.quarantined_by_a_killed_run()
        os.makedirs(self.path("outside"))
        user, other = self.users_file(), self.path("other.jpg")
        with open(other, "w") as f:
            f.write("another")
        r = self.racing(["-r", "-j1", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "sub"), self.path("outside", "sub"), after=True,
                        more={"RACE2_CALL": "rename", "RACE2_NAME": "q-1-1", "RACE2_FROM": user,
                              "RACE2_TO": self.path("outside", "sub", "a.jpg"),
                              "RACE3_CALL": "rename", "RACE3_NAME": "q-1-1", "RACE3_WHEN": "after",
                              "RACE3_FROM": other,
                              "RACE3_TO": self.path("outside", "sub", "a.jpg")})
        self.assertFalse(os.path.exists(other), "the races did not run")
        kept = [n for n in os.listdir(q) if n.startswith("kept-")]
        self.assertEqual(len(kept), 1, os.listdir(q))
        with open(os.path.join(q, kept[0]), "rb") as f:
            self.assertEqual(f.read(), self.USERS)
        self.assertIn(kept[0].encode(), r.stderr + r.stdout)

    def test_a_thumbnail_whose_folder_left_is_taken_back(self):
        """The folder moved out alone, the new thumbnail in it: that one is
        imgpool's and is taken back, as before."""
        jpeg(self.path("in", "2024", "a.jpg"))
        out = self.path("out")
        r = self.racing(["-r", "-o", out, self.path("in")], "rename", "a.jpg",
                        os.path.join(out, "2024"), self.path("kept"), after=True)
        self.ok(r, (1,))
        self.assertIn(b"moved out of the output folder", r.stderr)
        self.assertEqual(os.listdir(self.path("kept")), [])


class TestAFileSwappedInAfterItsProof(RaceShimCase):
    """A thumbnail is proved imgpool's, then replaced (--force) or deleted
    (--prune) a moment later. A file of the user's moved into its place between
    the two, with the thumbnail's size and mtime, passed the second look (which
    checked only those) and was replaced or deleted. The act now needs the very
    file proved (its inode and change time). tests/race_shim.c moves it in right
    before the journal's write-ahead record of the quarantine, which comes between
    the proof and the act."""

    def users_file_like(self, thumb):
        user = self.path("user.jpg")
        with open(user, "wb") as f:
            f.write(os.urandom(os.path.getsize(thumb)))
        st = os.stat(thumb)
        os.utime(user, ns=(st.st_atime_ns, st.st_mtime_ns))
        return user, digest(user)

    def test_prune_leaves_a_file_swapped_in(self):
        jpeg(self.path("in", "dog.jpg"))
        jpeg(self.path("in", "cat.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-o", out, self.path("in")]))
        thumb = self.path("out", "dog.jpg")
        user, want = self.users_file_like(thumb)
        os.unlink(self.path("in", "dog.jpg"))
        r = self.racing(["--prune", "-o", out, self.path("in")], "sql", "INTO quarantine",
                        user, thumb)
        self.assertFalse(os.path.exists(user), f"the shim did not move it: {r.stderr!r}")
        self.ok(r, (1,))
        self.assertTrue(os.path.exists(thumb), r.stdout + r.stderr)
        self.assertEqual(digest(thumb), want)
        self.assertNotIn(b"prune", r.stdout)
        self.assertIn(b"not pruned", r.stderr)  # said, and its row kept for later
        # the next run finds it is not imgpool's, keeps it, and says nothing more
        r = run(["--prune", "-o", out, self.path("in")])
        self.ok(r)
        self.assertEqual(digest(thumb), want)

    def test_force_leaves_a_file_swapped_in(self):
        jpeg(self.path("in", "dog.jpg"))
        out = self.path("out")
        self.ok(run(["-q", "-o", out, self.path("in")]))
        thumb = self.path("out", "dog.jpg")
        user, want = self.users_file_like(thumb)
        r = self.racing(["--force", "-o", out, self.path("in")], "sql", "INTO quarantine",
                        user, thumb)
        self.assertFalse(os.path.exists(user), f"the shim did not move it: {r.stderr!r}")
        self.assertEqual(digest(thumb), want, r.stdout + r.stderr)
        self.ok(r, (1,))
        self.assertIn(b"dog.jpg", r.stderr)
        # and the next run refuses it as the user's, as any file not imgpool's
        r = run(["--force", "-o", out, self.path("in")])
        self.ok(r, (1,))
        self.assertIn(b"not made by imgpool", r.stderr)
        self.assertEqual(digest(thumb), want)

class TestAReplacedThumbnailGoneMeanwhile(RaceShimCase):
    """--force checks the old thumbnail, records the replace (write-ahead), then
    replaces it: the user moved the thumbnail's folder (or deleted the thumbnail)
    in between. The input failed, "No such file or directory", where a new
    thumbnail makes the folder again (the next input's did, at once): there is
    nothing left to replace, and the new one is put in place as a new one is.
    tests/race_shim.c does the move right before the journal's write-ahead record
    of the quarantine (the output-property test met it under load)."""

    def setup_out(self):
        jpeg(self.path("in", "a.jpg"))
        jpeg(self.path("in", "b.jpg"), 48, 64)
        out = self.path("out")
        name = ["--name", "flat/{stem}.{ext}"]
        self.ok(run(["-q", "-j1", "-o", out] + name + [self.path("in")]))
        self.assertEqual(outputs_in(out), {"flat/a.jpg", "flat/b.jpg"})
        return out, name

    def test_a_folder_moved_away_is_made_again(self):
        out, name = self.setup_out()
        before = {n: digest(self.path("out", "flat", n)) for n in ("a.jpg", "b.jpg")}
        r = self.racing(["-j1", "--force", "-o", out] + name + [self.path("in")], "sql",
                        "INTO quarantine", self.path("out", "flat"), self.path("out", "moved"))
        self.ok(r)
        self.assertNotIn(b"No such file", r.stderr)
        self.assertEqual(outputs_in(out), {"flat/a.jpg", "flat/b.jpg", "moved/a.jpg",
                                           "moved/b.jpg"})
        # what the user moved is the user's, untouched
        self.assertEqual({n: digest(self.path("out", "moved", n)) for n in before}, before)
        # the folder made again is imgpool's: up to date, and pruned with its files
        again = self.ok(run(["-j1", "--prune", "-o", out] + name + [self.path("in")]))
        self.assertIn(b"2 skipped", again.stdout + again.stderr)
        for n in ("a.jpg", "b.jpg"):
            os.unlink(self.path("in", n))
        self.ok(run(["-j1", "--prune", "-o", out] + name + [self.path("in")]))
        self.assertEqual(outputs_in(out), {"moved/a.jpg", "moved/b.jpg"})
        self.assertFalse(os.path.lexists(self.path("out", "flat")))

    def test_a_folder_swapped_for_a_symlink_is_not_followed(self):
        out, name = self.setup_out()
        elsewhere = self.path("elsewhere")
        os.makedirs(elsewhere)
        os.symlink(elsewhere, self.path("link"))
        r = self.racing(["-j1", "--force", "-o", out] + name + [self.path("in")], "sql",
                        "INTO quarantine", self.path("out", "flat"), self.path("out", "moved"),
                        then=(self.path("link"), self.path("out", "flat")))
        self.ok(r, (1,))
        self.assertIn(b"a symlink is in the way", r.stderr)
        self.assertEqual(os.listdir(elsewhere), [])
        self.assertTrue(os.path.islink(self.path("out", "flat")))
        self.assertEqual(sorted(os.listdir(self.path("out", "moved"))), ["a.jpg", "b.jpg"])

    def test_a_thumbnail_deleted_is_made_again(self):
        out, name = self.setup_out()
        # both: whichever is replaced first finds its thumbnail gone
        r = self.racing(["-j1", "--force", "-o", out] + name + [self.path("in")], "sql",
                        "INTO quarantine", self.path("out", "flat", "a.jpg"),
                        self.path("gone-a.jpg"),
                        then=(self.path("out", "flat", "b.jpg"), self.path("gone-b.jpg")))
        self.assertTrue(os.path.exists(self.path("gone-b.jpg")), r.stderr)
        self.ok(r)
        self.assertEqual(outputs_in(out), {"flat/a.jpg", "flat/b.jpg"})


class TestAnInputWrittenWhileRead(RaceShimCase):
    """A file written in place while a decoder read it (a copy or an editor saving
    over it) gave a thumbnail mixed from two pictures, reported ok. It is an error
    of kind environment now, its output absent, and the next run makes it.
    tests/race_shim.c touches the input (mtime and ctime now, as a write in place)
    right as libvips opens it (through /proc/self/fd/N: WebP, which the JPEG and
    PNG paths of imgpool's own do not take)."""

    def test_a_write_during_the_decode_is_an_error(self):
        os.makedirs(self.path("in"))
        jpeg(self.path("a.jpg"), 120, 80, 200)
        photo = self.path("in", "y.webp")
        vips("copy", self.path("a.jpg"), photo)
        out = self.path("out")
        report = self.path("r.jsonl")
        r = self.racing(["-j1", "--report", report, "-o", out, photo], "open",
                        "/proc/self/fd/*", None, None, touch=photo)
        self.ok(r, (1,))
        self.assertIn(b"was written to while it was read", r.stderr)
        with open(report) as f:
            rec = [json.loads(line) for line in f if '"file"' in line][0]
        self.assertEqual((rec["status"], rec["kind"]), ("error", "environment"), rec)
        self.assertEqual(outputs_in(out), set())
        r = run(["-j1", "-o", out, photo])
        self.ok(r)
        self.assertEqual(outputs_in(out), {"y.webp"})

    def test_a_chmod_during_the_decode_is_no_write(self):
        """A chmod (or a hard link a backup adds) moves the change time alone:
        the bytes read are still the file's, and the thumbnail is made."""
        os.makedirs(self.path("in"))
        jpeg(self.path("a.jpg"), 120, 80, 200)
        photo = self.path("in", "y.webp")
        vips("copy", self.path("a.jpg"), photo)
        out = self.path("out")
        r = self.racing(["-j1", "-o", out, photo], "open", "/proc/self/fd/*", None, None,
                        chmod=photo)
        self.assertEqual(os.stat(photo).st_mode & 0o777, 0o640, "the shim did not chmod")
        self.ok(r)
        self.assertEqual(outputs_in(out), {"y.webp"})

class TestAStopDuringAWalkOfNothingToDo(SafetyCase):
    """A stop (SIGTERM) while the walk meets only entries that give no file to
    make: the planner passed them (up to date, seen before, empty) without
    coming back to the run's loop, so the stop waited for the walk's end (a
    Ctrl-C in a nightly run over a million thumbnails up to date took the whole
    walk) or for ever (--files-from /dev/zero)."""

    def test_a_stop_among_files_up_to_date(self):
        src, out, report = self.path("in"), self.path("out"), self.path("r.jsonl")
        jpeg(os.path.join(src, "f0000.jpg"), 16, 16)
        for i in range(1, 600):
            shutil.copyfile(os.path.join(src, "f0000.jpg"), os.path.join(src, f"f{i:04d}.jpg"))
        r = run(["-q", "-o", out, src])
        self.assertEqual(r.returncode, 0, r.stderr)
        # -v says "skip ... (up to date)" for each: into a pipe of one page,
        # which holds the walk at about its 100th file until the stop comes.
        rd, wr = os.pipe()
        fcntl.fcntl(wr, 1031, 4096)  # F_SETPIPE_SZ
        p = subprocess.Popen([IMGPOOL, "-v", "--report", report, "-o", out, src],
                             stdout=wr, stderr=subprocess.PIPE)
        os.close(wr)
        deadline, held, last = time.monotonic() + 60, 0, -1
        while time.monotonic() < deadline and held < 20 and p.poll() is None:
            n = int.from_bytes(fcntl.ioctl(rd, termios.FIONREAD, b"\0\0\0\0"),
                               sys.byteorder)
            held = held + 1 if n == last and n > 2048 else 0  # full: 0.2 s still
            last = n
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        with os.fdopen(rd, "rb") as f:
            shown = f.read()
        err = p.stderr.read()
        p.wait(timeout=60)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        with open(report) as f:
            files = [json.loads(x) for x in f if '"type":"file"' in x]
        self.assertTrue(all(x["status"] == "skipped" for x in files), files)
        self.assertLess(len(files), 400, "the walk went on after the stop")
        # the line the stop met may be lost (the stop makes the pipe
        # non-blocking: stop.h), not its record
        self.assertIn(len(files) - shown.count(b"(up to date)"), (0, 1), shown[-300:])

    def test_a_stop_in_a_list_without_end(self):
        for nul in (["-0"], []):  # empty entries; one entry without end
            with self.subTest(nul=nul):
                out = self.path("out" + "".join(nul))
                p = subprocess.Popen([IMGPOOL, "-q", "--files-from", "/dev/zero", *nul,
                                      "-o", out], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                time.sleep(1)
                p.send_signal(signal.SIGTERM)
                try:
                    _, err = p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    self.fail("a stop did not end a run reading /dev/zero")
                self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
                self.assertIn(b"the walk did not finish", err)


class TestInputFolderSwappedWithoutProc(RaceShimCase):
    """Where /proc is not mounted (a bare container or chroot), a worker cannot
    hand its decoders the input it opened folder by folder (/proc/self/fd/N): they
    open the path again. A folder on that path swapped for a symlink to another
    folder just then had that folder's file thumbnailed under the tree's name. The
    worker now looks again after decoding and refuses the file."""

    def test_a_decoder_reading_by_name_is_checked_after(self):
        unshare = shutil.which("unshare")
        if os.geteuid() != 0 or not unshare:
            self.skipTest("needs root and unshare(1) to run without /proc")
        probe = subprocess.run([unshare, "--mount", "--fork", "sh", "-c",
                                "umount -l /proc && ! test -e /proc/self"],
                               capture_output=True, timeout=60)
        if probe.returncode != 0:
            self.skipTest(f"cannot unmount /proc in a mount namespace: {probe.stderr!r}")
        with open(IMGPOOL, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("ASan reads its options (verify_asan_link_order=0, which the "
                              "preloaded shim needs) from /proc, which this test unmounts")
        # A WebP goes to libvips, which opens the file itself (JPEGs are decoded
        # from the bytes the worker read, PNGs by a libpng path that does too).
        photo = self.path("in", "d", "a.webp")
        os.makedirs(self.path("in", "d"))
        os.makedirs(self.path("decoy"))
        jpeg(self.path("a.jpg"), 120, 80, 200)
        vips("copy", self.path("a.jpg"), photo)
        jpeg(self.path("b.jpg"), 300, 200, 20)
        vips("copy", self.path("b.jpg"), self.path("decoy", "a.webp"))
        os.symlink(self.path("decoy"), self.path("dlink"))
        out = self.path("out")
        before = snapshot(self.path("decoy"))
        r = self.racing(["-r", "-j1", "-o", out, self.path("in")], "open", photo,
                        self.path("in", "d"), self.path("in", "d_aside"),
                        then=(self.path("dlink"), self.path("in", "d")),
                        prefix=[unshare, "--mount", "--fork", "sh", "-c",
                                'umount -l /proc && exec "$@"', "sh"])
        self.assertTrue(os.path.islink(self.path("in", "d")),
                        f"the shim did not swap the folder: {r.stderr!r}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"a folder on its path was replaced", r.stderr)
        self.assertEqual(outputs_in(out), set(), "the decoy's picture was published")
        self.assertEqual(snapshot(self.path("decoy")), before)

if __name__ == "__main__":
    unittest.main(verbosity=2)
