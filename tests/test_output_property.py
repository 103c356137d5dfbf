#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The output-safety property test (issue 14, "Done when" 2).

    test_output_property.py IMGPOOL [--sequences N] [--seed S] [--length N]
                            [--steps LIST] [--without LIST] [--keep] [-v]

Drives the built imgpool through random photo trees and random sequences of
steps, and checks after EVERY step that imgpool kept its promises:

  (a) nothing outside OUT changed: the inputs and a sentinel tree beside them
      (which holds the current folder of every run, $HOME, and the targets of the
      symlinks planted in OUT) keep their listing and every lstat-level fact
      (type, mode, size, mtime, bytes, link target; folders' mtimes too, so a file
      made and removed again shows), symlinks never followed;
  (b) nothing in OUT that imgpool did not make changed or vanished: the user's
      planted files, hardlinks and symlinks (a user's edit of a thumbnail makes
      that file the user's); only --overwrite may replace a user's regular file,
      and only at a path that run planned;
  (c) every other file in OUT (outside OUT/.imgpool) is a whole image: a JPEG
      whose marker segments run from SOI to the scan and that ends in EOI, or a
      PNG whose every chunk's CRC holds and whose pixels inflate to the size its
      header gives; after the final runs vipsheader reads every one, with the
      same size. imgpool never makes a symlink or anything but regular files;
  (d) the exit code is a documented one, and the one this run can give: 0 or 1
      for a run nobody stopped (the arguments are valid, so never 2, and no two
      runs overlap, so never 75), also -9 for a kill -9, also 143 or -15 for a
      SIGTERM; 0 only without error lines; no process of a run outlives it;
  (e) no stray file in OUT: everything there is the user's or a path some run of
      the sequence planned (temp files live in OUT/.imgpool only), also after a
      kill -9;
  (f) the run's report: at most one answer per input (exactly one for a run that
      is unsharded and not stopped); every error has a reason the test can see
      (the bytes are not an image; an output name is longer than 255 bytes; the
      output collides with another input's; a folder, a symlink, a non-folder on
      the way, or a file imgpool did not make is in the way); every input
      answered "ok" or "skipped" has all its outputs in place, imgpool's, in the
      expected format, of the size its input and box give (so no input has
      another's thumbnail, and no edited or re-sized input a stale one).
After the steps, the user may remove the symlinks planted in the way; then a
final clean run under the last settings (unsharded, no --overwrite; recursive
when any run was, because --prune never deletes the outputs of inputs that are
merely excluded, prune.h), and the same run with --prune, which must make
nothing. OUT must then hold exactly the planned outputs, the user's files,
.imgpool/, and earlier outputs of inputs the final run refused (it cannot redo
them); no folder is left empty but where the user emptied it.

Steps: runs with a random subset of -r, -s (1-3 sizes), -f, --name, --prune,
--checksum, --force, --overwrite (rarely), -j1/-j2 and --shard K/N, from a random
current folder with absolute or relative paths; kill -9 and SIGTERM of the run's
whole process group at a random moment; renames of inputs and folders (also
case-only), deletions, touches (same bytes, new mtime), edits (new bytes,
sometimes not an image), new inputs; symlinks planted in OUT (to folders and
files outside OUT, into OUT, dangling; at planned folders and outputs), the
user's files planted in OUT (at planned and unplanned paths, where a folder is
planned, folders at output paths, hardlinks to files outside OUT), a user's edit
or deletion of a thumbnail; races: while a run works, a symlink or the user's
file appears where it plans a folder or an output, or one of imgpool's folders
or outputs is moved aside and replaced by a symlink. Names have spaces, quotes, newlines, tabs, a leading
'-', non-UTF-8 bytes, braces, up to 255 bytes, case-only twins, and a folder
name may end with a newline.

Seeded: sequence i runs with seed S+i (S random unless --seed or
IMGPOOL_PROPERTY_SEED). A failure prints the seed, the violation, the steps as
executed and the command that replays it: --seed N --sequences 1, and --steps
LIST (e.g. 0-7 or 0,3,5-6: the indices of the generated steps to execute, to
cut a reproducer down; the final runs always follow). --without shard,kill9
(step kinds or run options) leaves those out, to tell which feature a failure
needs. The moment a kill lands depends on the machine, so a kill's effect may
need a few replays.

Stdlib only (unittest); images from the `vips` CLI (libvips-tools), made once
and copied. No timing is asserted: durations are only printed.
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
import zlib

IMGPOOL = ""
OPTS = None          # parsed command line (see main)

RUN_TIMEOUT = 300    # a run still going after this is hung (liveness, not speed)
GONE_TIMEOUT = 60    # the processes of a finished run must be gone by then
NAME_MAX = 255
PRIVATE = b".imgpool"

IMAGE_EXTS = {b"jpg", b"jpeg", b"jpe", b"png", b"webp", b"tif", b"tiff", b"gif", b"heic",
              b"heif", b"avif"}
JPEG_EXTS = {b"jpg", b"jpeg", b"jpe", b"jfif"}
PNG_SIG = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"

# Sizes whose {size}, {w}x{h} and boxes are all distinct, so any subset is valid.
SIZE_POOL = ["8", "10", "14", "12x6", "x9", "16x", "9x20"]
# Templates valid for any number of sizes (None: imgpool's default).
TEMPLATES_ANY = [None, None, "{dir}/{stem}_{size}.{ext}", "{dir}/{size}/{stem}.{ext}",
                 "{dir}/{stem}-{inext}_{w}x{h}.{ext}", "flat/{stem}_{size}.{ext}",
                 "{dir}/{stem}_{size}.{inext}"]
# Templates for one size only.
TEMPLATES_ONE = ["{dir}/{stem}.{ext}", "{dir}/t/{stem}.{ext}", "all/{stem}.{ext}"]

# The tiny images every tree is made of: name, format, width, height. Aspect
# ratios differ, so a thumbnail's size tells which input it was made from.
BASES = [("wide", "jpeg", 32, 8), ("tall", "jpeg", 8, 32), ("square", "png", 24, 24),
         ("land", "jpeg", 30, 20), ("port", "png", 20, 30), ("half", "png", 12, 24),
         ("strip", "jpeg", 40, 16)]
JUNK = [b"this is not a picture\n", b"", b"\xff\xd8\xff\xe0 truncated jpeg"]

# Step kinds and their weights.
STEP_KINDS = [("run", 24), ("kill9", 9), ("term", 7), ("race", 5), ("rename", 7), ("rename_case", 4),
              ("rename_dir", 3), ("delete", 5), ("delete_dir", 2), ("add", 5),
              ("touch", 5), ("edit", 6), ("symlink", 7), ("userfile", 7),
              ("user_edit_output", 2), ("user_delete_output", 2)]


class Violation(Exception):
    """imgpool broke an invariant (or the test met something it cannot explain)."""


def show(b):
    """A byte path for a message: repr keeps newlines and odd bytes visible."""
    return repr(b)[1:] if isinstance(b, bytes) else repr(b)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def j(*parts):
    return os.path.join(*parts)


# ---------------------------------------------------------------------------
# Images

class Bases:
    """The tiny images, made once with the vips CLI; lookup by content."""

    def __init__(self, folder):
        self.items = []
        self.by_hash = {}
        for name, fmt, w, h in BASES:
            raw = j(folder, name + ".v")
            path = j(folder, name + (".jpg" if fmt == "jpeg" else ".png"))
            subprocess.run(["vips", "gaussnoise", raw, str(w), str(h), "--mean", "128",
                            "--sigma", "60"], check=True, capture_output=True)
            subprocess.run(["vips", "cast", raw, path + ("[Q=80]" if fmt == "jpeg" else ""),
                            "uchar"], check=True, capture_output=True)
            data = read_bytes(path)
            self.items.append((name, fmt, w, h, data))
            self.by_hash[hashlib.sha1(data).digest()] = (w, h, fmt)

    def info(self, data):
        """(w, h, fmt) of bytes that are one of the images, else None."""
        return self.by_hash.get(hashlib.sha1(data).digest())


def png_facts(data):
    """(w, h) of a complete PNG: every chunk's CRC checks out, IEND ends it and
    the inflated pixels have the length the header gives. None otherwise."""
    if data[:8] != PNG_SIG:
        return None
    pos, idat, ihdr = 8, [], None
    while pos + 12 <= len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if len(body) != n or data[pos + 8 + n:pos + 12 + n] != \
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff):
            return None
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if kind != b"IEND" or pos != len(data) or not ihdr:
        return None
    w, h, depth, colour, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    try:
        pixels = zlib.decompress(b"".join(idat))
    except zlib.error:
        return None
    if channels and not interlace and \
            len(pixels) != h * (1 + (w * channels * depth + 7) // 8):
        return None
    return w, h


def jpeg_facts(data):
    """(w, h) of a complete baseline/progressive JPEG: SOI, well-formed marker
    segments up to the scan, a frame header, and EOI at the very end."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        return None
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        n = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if n < 2 or pos + 2 + n > len(data):
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            size = (w, h)
        if marker == 0xDA:   # the scan: entropy-coded data up to EOI
            return size
        pos += 2 + n
    return None


def image_facts(data):
    """(format, w, h) of a whole JPEG or PNG, else None."""
    for fmt, fn in (("jpeg", jpeg_facts), ("png", png_facts)):
        wh = fn(data)
        if wh:
            return fmt, wh[0], wh[1]
    return None


def thumb_dims(w, h, box):
    """The size vips_thumbnail gives a w x h image in box (bw, bh; 0 = free),
    never enlarged."""
    bw, bh = box
    scale = 1.0
    if bw:
        scale = min(scale, bw / w)
    if bh:
        scale = min(scale, bh / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


# ---------------------------------------------------------------------------
# Settings and the naming rules (README, --help, discover.h)

def parse_box(spec):
    if "x" not in spec:
        return int(spec), int(spec)
    w, h = spec.split("x")
    return int(w or 0), int(h or 0)


def size_text(box):
    """{size}: N for a square box (N or NxN), WxH, Wx for a width alone, xH."""
    w, h = box
    if w and h and w != h:
        return b"%dx%d" % (w, h)
    if w and h:
        return b"%d" % w
    if w:
        return b"%dx" % w
    return b"x%d" % h if h else b""


def ext_of(base):
    """The extension after the last dot; none when the only dot starts the name."""
    i = base.rfind(b".")
    return base[i + 1:] if i > 0 else b""


def out_ext(fmt, in_ext):
    if fmt == "jpeg":
        return b"jpg"
    if fmt == "png":
        return b"png"
    e = in_ext.lower()
    if e in JPEG_EXTS:
        return b"jpg"
    if e in (b"png", b"webp", b"avif"):
        return e
    return b"png" if e in (b"gif", b"svg", b"pdf", b"ico") else b"jpg"


def format_of_output(fmt, out_rel):
    """The format an output is written in: -f, else its extension's (None: one
    imgpool cannot write, which refuses the file)."""
    if fmt:
        return fmt
    e = ext_of(out_rel.rsplit(b"/", 1)[-1]).lower()
    if e in JPEG_EXTS:
        return "jpeg"
    if e == b"png":
        return "png"
    return {b"webp": "webp", b"avif": "avif"}.get(e)


def expand(tmpl, d, stem, in_ext, o_ext, box):
    """discover_expand: the output path relative to OUT, or None (refused)."""
    def val(m):
        k = m.group(1)
        if k == b"dir":
            return d
        if k == b"stem":
            return stem
        if k == b"ext":
            return o_ext
        if k == b"inext":
            return in_ext
        if k == b"w":
            return b"%d" % box[0] if box[0] else b""
        if k == b"h":
            return b"%d" % box[1] if box[1] else b""
        return size_text(box)
    s = re.sub(rb"\{([a-z]+)\}", val, tmpl)
    parts = [p for p in s.split(b"/") if p not in (b"", b".")]
    if not parts or b".." in parts:
        return None
    return b"/".join(parts)


class Settings:
    def __init__(self, sizes, fmt, template):
        self.sizes, self.fmt, self.template = sizes, fmt, template

    @staticmethod
    def random(rng):
        n = rng.choice((1, 1, 2, 3))
        sizes = rng.sample(SIZE_POOL, n)
        fmt = rng.choice((None, None, "jpeg", "png"))
        tmpl = rng.choice(TEMPLATES_ANY + (TEMPLATES_ONE if n == 1 else []))
        return Settings(sizes, fmt, tmpl)

    def args(self):
        a = ["-s", ",".join(self.sizes)]
        if self.fmt:
            a += ["-f", self.fmt]
        if self.template:
            a += ["--name", self.template]
        return a

    def tmpl_bytes(self):
        if self.template:
            return self.template.encode()
        return b"{dir}/{stem}_{size}.{ext}" if len(self.sizes) > 1 else b"{dir}/{stem}.{ext}"

    def __repr__(self):
        return " ".join(self.args())


class Input:
    """One input a walk finds: rel (bytes, relative to the source folder), and
    either its outputs or why it is refused before any work."""

    def __init__(self, rel, path):
        self.rel, self.path = rel, path
        self.info = None     # (w, h, fmt) when its bytes are one of the images
        self.outs = []       # output paths relative to OUT
        self.refused = None  # why the walk or the naming refuses it


class Plan:
    """What imgpool must plan for the tree as it is now (discover.h's rules)."""

    def __init__(self, src, settings, recursive, bases):
        self.settings = settings
        self.inputs = {}
        self.claims = {}     # output path -> rels of the inputs that plan it
        self._walk(src, b"", recursive, bases)
        tmpl = settings.tmpl_bytes()
        boxes = [parse_box(s) for s in settings.sizes]
        for inp in self.inputs.values():
            if inp.refused:
                continue
            base = inp.rel.rsplit(b"/", 1)[-1]
            d = inp.rel[:-len(base) - 1] if b"/" in inp.rel else b""
            e = ext_of(base)
            stem = base[:-len(e) - 1] if e else base
            for box in boxes:
                o = expand(tmpl, d, stem, e, out_ext(settings.fmt, e), box)
                if o is None:
                    inp.refused, inp.outs = "template", []
                    break
                inp.outs.append(o)
            for o in inp.outs:
                self.claims.setdefault(o, []).append(inp.rel)
        self.boxes = boxes

    def _walk(self, folder, rel, recursive, bases):
        for e in sorted(os.scandir(folder), key=lambda e: e.name):
            name = e.name
            if name.startswith(b"."):
                continue
            r = rel + b"/" + name if rel else name
            st = os.lstat(e.path)
            if stat.S_ISDIR(st.st_mode):
                if recursive and not os.path.lexists(j(e.path, PRIVATE)):
                    self._walk(e.path, r, recursive, bases)
                continue
            if ext_of(name).lower() not in IMAGE_EXTS:
                continue
            inp = Input(r, e.path)
            self.inputs[r] = inp
            if stat.S_ISLNK(st.st_mode):
                try:
                    tst = os.stat(e.path)
                except OSError:
                    inp.refused = "broken symlink"
                    continue
                if stat.S_ISDIR(tst.st_mode):
                    del self.inputs[r]   # a link to a folder is not walked
                    continue
                if not stat.S_ISREG(tst.st_mode):
                    inp.refused = "symlink to a non-file"
                    continue
            elif not stat.S_ISREG(st.st_mode):
                inp.refused = "not a regular file"
                continue
            with open(e.path, "rb") as f:
                inp.info = bases.info(f.read())

    def expected_format(self, out_rel):
        return format_of_output(self.settings.fmt, out_rel)


# ---------------------------------------------------------------------------
# Looking at files, lstat-level

def sig(path):
    """What a file is, never through a symlink: None when absent."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):   # a file on the way: not there
        return None
    m = st.st_mode
    if stat.S_ISLNK(m):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(m):
        return ("dir", stat.S_IMODE(m), st.st_mtime_ns)
    if stat.S_ISREG(m):
        try:   # mid-run (race()), imgpool may move it between the lstat and the open
            with open(path, "rb") as f:
                digest = hashlib.sha1(f.read()).hexdigest()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ("file", stat.S_IMODE(m), st.st_size, st.st_mtime_ns, digest)
    return ("other", stat.S_IFMT(m), stat.S_IMODE(m))


def tree_sigs(root, skip=None):
    """{path relative to root: sig} of everything beneath root, not through links."""
    out = {}

    def walk(folder, rel):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return   # gone meanwhile (a look taken while a run works)
        for e in entries:
            r = rel + b"/" + e.name if rel else e.name
            if skip and r == skip:
                continue
            s = sig(e.path)
            if s is None:
                continue   # gone since the listing
            out[r] = s
            if s[0] == "dir":
                walk(e.path, r)
    walk(root, b"")
    return out


def diff_sigs(before, after):
    """Lines naming what differs between two tree_sigs."""
    lines = []
    for p in sorted(set(before) | set(after)):
        a, b = before.get(p), after.get(p)
        if a != b:
            what = "appeared" if a is None else "vanished" if b is None else "changed"
            lines.append(f"  {show(p)} {what}: {a} -> {b}")
    return lines


def ancestors(paths):
    """Every folder that holds one of the relative paths."""
    out = set()
    for p in paths:
        parts = p.split(b"/")
        for i in range(1, len(parts)):
            out.add(b"/".join(parts[:i]))
    return out


def group_alive(pgid):
    """Pids of the live (non-zombie) processes of a process group."""
    alive = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            alive.append(int(d))
    return alive


# ---------------------------------------------------------------------------
# Names of the random trees

def file_stem(rng, n):
    """A stem of an awkward kind."""
    kind = rng.choice(["plain", "plain", "space", "quote", "newline", "tab", "dash",
                       "dashdash", "nonutf8", "latin1", "utf8", "braces", "inject",
                       "inject2", "dots", "percent", "long", "case"])
    tag = b"%d" % n
    return kind, {
        "plain": b"img" + tag,
        "space": b"my photo " + tag,
        "quote": b"it's \"q\" " + tag,
        "newline": b"line\nbreak " + tag,
        "tab": b"tab\t" + tag,
        "dash": b"-" + tag,
        "dashdash": b"--rf " + tag,
        "nonutf8": b"\xff\xfe " + tag,
        "latin1": b"caf\xe9 " + tag,
        "utf8": "ñandú ".encode() + tag,
        "braces": b"{stem}{size} " + tag,
        "inject": b"y\n.bashrc\nreport.docx\nz" + tag,
        "inject2": b"x\nphoto" + tag,
        "dots": b"a.b.c " + tag,
        "percent": b"%s%n " + tag,
        "long": b"long" + tag + b"-",      # padded to length by new_file_name
        "case": b"IMG_" + tag,
    }[kind]


def new_file_name(rng, n):
    """(name, twin): twin is a case-only sibling name to create too, or None."""
    kind, stem = file_stem(rng, n)
    ext = rng.choice([b".jpg", b".jpg", b".jpg", b".JPG", b".jpeg", b".png", b".PNG"])
    if kind == "long":
        stem += b"x" * (rng.randint(NAME_MAX - 27, NAME_MAX) - len(stem) - len(ext))
    twin = None
    if kind == "case":
        ext = b".JPG"
        if rng.random() < 0.6:
            twin = stem + b".jpg"
    return stem + ext, twin


DIR_NAMES = [b"sub", b"a b", b"x\n", b"-d", b"caf\xe9", b"q'\"", b"t\tab", b"{dir}",
             b"album.jpg", b"Sub", b"deep", b"nested"]


def case_variant(name):
    """The name with the case of its extension or of its stem flipped (None: no
    ASCII letters): IMG_1.JPG -> IMG_1.jpg or img_1.JPG."""
    e = ext_of(name)
    stem = name[:-len(e) - 1] if e else name
    dot_e = b"." + e if e else b""
    options = []
    if e.swapcase() != e:
        options.append(stem + dot_e.swapcase())
    if stem.swapcase() != stem:
        options.append(stem.swapcase() + dot_e)
    return options[len(name) % len(options)] if options else None


# ---------------------------------------------------------------------------
# One sequence

class Run:
    """What one imgpool run was asked to do and what happened."""

    def __init__(self, argv, cwd, plan, overwrite, kill):
        self.argv, self.cwd, self.plan, self.overwrite, self.kill = argv, cwd, plan, overwrite, kill
        self.rc = None
        self.raced = None    # a path the user changed while the run worked
        self.wall = 0.0
        self.report = []
        self.stdout = self.stderr = b""


class Sequence:
    def __init__(self, seed, bases, length, keep_steps):
        self.seed = seed
        self.bases = bases
        self.rng = random.Random(seed)
        self.T = tempfile.mkdtemp(prefix=f"imgpool-prop-{seed}-").encode()
        global NAME_MAX   # the longest names are as long as this filesystem takes
        NAME_MAX = min(255, os.pathconf(self.T, "PC_NAME_MAX"))
        self.src = j(self.T, b"src")
        self.sentinel = j(self.T, b"sentinel")
        self.out = j(self.T, b"out")
        self.logs = j(self.T, b"logs")
        os.mkdir(self.logs)
        self.counter = 0
        self.user = {}            # OUT-relative path -> sig: files imgpool did not make
        self.blocking_links = set()
        self.limbo = {}           # user files an --overwrite run took away mid-replace
        self.ever_planned = {}    # output path -> rels of inputs that planned it
        self.emptied = set()      # folders where the user deleted a thumbnail
        self.user_dirs = set()    # folders the user made in OUT (to plant files)
        self.ever_recursive = False
        self.ran = False
        self.verified = {}        # (path, ino, size, mtime) -> (w, h, fmt)
        self.est_run = 0.3        # seconds a clean run takes here, for kill moments
        self.log = []             # steps as executed
        self.prefix = ""          # of the step being executed, for the log
        self.runs = []
        self.stats = {"runs": 0, "killed": 0, "termed": 0}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SLURM_", "AWS_BATCH_")) and
                    k not in ("JOB_COMPLETION_INDEX", "IMGPOOL_SHARD_COUNT")}
        self.env["HOME"] = os.fsdecode(j(self.sentinel, b"home"))
        # libvips' liborc writes (and at once unlinks) an orcexec.* file in
        # $XDG_RUNTIME_DIR, else in $HOME: give it a folder the test does not check,
        # so that $HOME stays a sentinel of imgpool's own writes.
        self.env["XDG_RUNTIME_DIR"] = os.fsdecode(j(self.logs, b"runtime"))
        os.mkdir(j(self.logs, b"runtime"), 0o700)
        self.make_tree()
        self.settings = Settings.random(self.rng)
        kinds = [k for k, _ in STEP_KINDS]
        weights = [w for _, w in STEP_KINDS]
        self.steps = []
        for _ in range(length):
            kind = self.rng.choices(kinds, weights)[0]
            step = {"kind": kind, "r": [self.rng.random() for _ in range(6)],
                    "seed": self.rng.randrange(1 << 30)}
            if kind in ("run", "kill9", "term", "race"):
                step["run"] = self.random_run_flags(self.rng)
            self.steps.append(step)
        self.keep_steps = keep_steps
        self.outside = self.outside_sigs()

    # -- the tree --------------------------------------------------------

    def next_n(self):
        self.counter += 1
        return self.counter

    def image_bytes(self, rng, junk_chance=0.0):
        if rng.random() < junk_chance:
            return rng.choice(JUNK) + bytes([rng.randrange(256)])
        return rng.choice(self.bases.items)[4]

    def write_file(self, path, data):
        with open(path, "wb") as f:
            f.write(data)

    def make_tree(self):
        rng = self.rng
        # The sentinel: what a path resolved against the wrong folder would hit.
        for d in (b"cwd", b"home", b"dir/inner", b"keep"):
            os.makedirs(j(self.sentinel, d))
        for name, data in ((b".bashrc", b"alias ll='ls -l'\n"), (b"report.docx", b"PK\x03\x04"),
                           (b"photo.jpg", self.bases.items[0][4]),
                           (b"cwd/photo.jpg", self.bases.items[1][4]),
                           (b"cwd/.bashrc", b"# cwd\n"), (b"home/.bashrc", b"# home\n"),
                           (b"dir/a.jpg", self.bases.items[2][4]),
                           (b"dir/inner/b.txt", b"b\n"), (b"keep/k.jpg", self.bases.items[3][4])):
            self.write_file(j(self.sentinel, name), data)
        # The photos.
        os.mkdir(self.src)
        folders = [b""]
        for _ in range(rng.randint(1, 4)):
            parent = rng.choice(folders)
            name = rng.choice(DIR_NAMES)
            rel = parent + b"/" + name if parent else name
            if rel in folders:
                continue
            os.makedirs(j(self.src, rel))
            folders.append(rel)
        for _ in range(rng.randint(10, 24)):
            self.add_input(rng, rng.choice(folders), junk_chance=0.05)
        self.write_file(j(self.src, b"notes.txt"), b"not an image name\n")
        self.write_file(j(self.src, b".hidden.jpg"), self.bases.items[0][4])
        os.makedirs(j(self.src, b".cache"))
        self.write_file(j(self.src, b".cache/c.jpg"), self.bases.items[1][4])
        if rng.random() < 0.3:  # an input that is a symlink to a photo outside
            os.symlink(b"../sentinel/photo.jpg", j(self.src, b"link.jpg"))

    def add_input(self, rng, folder, junk_chance=0.1):
        name, twin = new_file_name(rng, self.next_n())
        made = []
        for n in (name, twin):
            if n is None:
                continue
            p = j(self.src, folder, n) if folder else j(self.src, n)
            if not os.path.lexists(p):
                self.write_file(p, self.image_bytes(rng, junk_chance))
                made.append(p)
        return made

    def src_files(self):
        """Every non-hidden file (and symlink) in the source tree, relative."""
        out = []
        for r, s in tree_sigs(self.src).items():
            if s[0] != "dir" and not any(p.startswith(b".") for p in r.split(b"/")):
                out.append(r)
        return sorted(out)

    def src_dirs(self):
        return sorted(r for r, s in tree_sigs(self.src).items()
                      if s[0] == "dir" and not any(p.startswith(b".") for p in r.split(b"/")))

    def outside_sigs(self):
        """What (a) compares: the source and sentinel trees and the top folder."""
        return {"top": sorted(set(os.listdir(self.T)) - {b"out"}), "src": tree_sigs(self.src),
                "sentinel": tree_sigs(self.sentinel)}

    def out_entries(self):
        """{OUT-relative path: sig} beneath OUT, except OUT/.imgpool."""
        if not os.path.isdir(self.out):
            return {}
        return tree_sigs(self.out, skip=PRIVATE)

    # -- steps -------------------------------------------------------------

    @staticmethod
    def random_run_flags(rng):
        f = {"change": rng.random() < 0.35, "settings": Settings.random(rng),
             "recursive": rng.random() < 0.75, "prune": rng.random() < 0.35,
             "checksum": rng.random() < 0.3, "force": rng.random() < 0.08,
             "overwrite": rng.random() < 0.06, "jobs": rng.choice((1, 2)),
             "place": rng.choice(("abs", "rel", "dot", "far")), "delay": rng.random(),
             "shard": None}
        if rng.random() < 0.15:
            n = rng.choice((2, 3))
            f["shard"] = (rng.randint(1, n), n)
        return f

    def pick(self, items, r):
        return items[int(r * len(items))] if items else None

    def execute(self, i, step):
        kind, r = step["kind"], step["r"]
        rng = random.Random(step["seed"])
        if kind in OPTS.without:
            return f"{kind}: left out (--without)"
        if kind in ("run", "kill9", "term", "race"):
            f = dict(step["run"])
            for flag in ("shard", "overwrite", "force", "checksum", "prune"):
                if flag in OPTS.without:
                    f[flag] = None if flag == "shard" else False
            if f["change"]:
                self.settings = f["settings"]
            if kind == "race":   # half of them redo every file, to race with
                f["force"] = f["force"] or r[2] < 0.5
                return self.do_run(f, self.settings, meddle=lambda plan: self.race(plan, r, rng))
            sig_ = {"run": None, "kill9": signal.SIGKILL, "term": signal.SIGTERM}[kind]
            return self.do_run(f, self.settings, kill=sig_)
        return getattr(self, "step_" + kind)(r, rng)

    def step_rename(self, r, rng):
        files = self.src_files()
        old = self.pick(files, r[0])
        if old is None:
            return "rename: no file"
        dirs = [b""] + self.src_dirs()
        folder = self.pick(dirs, r[1]) if r[2] < 0.3 else (old.rsplit(b"/", 1)[0]
                                                             if b"/" in old else b"")
        name, _ = new_file_name(rng, self.next_n())
        new = folder + b"/" + name if folder else name
        if os.path.lexists(j(self.src, new)):
            return f"rename {show(old)}: {show(new)} exists, nothing done"
        os.rename(j(self.src, old), j(self.src, new))
        return f"rename {show(old)} -> {show(new)}"

    def step_rename_case(self, r, rng):
        files = [f for f in self.src_files() if case_variant(f.rsplit(b"/", 1)[-1])]
        old = self.pick(files, r[0])
        if old is None:
            return "rename_case: no file"
        base = old.rsplit(b"/", 1)[-1]
        new = old[:-len(base)] + case_variant(base)
        if os.path.lexists(j(self.src, new)):
            return f"rename_case {show(old)}: {show(new)} exists, nothing done"
        os.rename(j(self.src, old), j(self.src, new))
        return f"rename_case {show(old)} -> {show(new)}"

    def step_rename_dir(self, r, rng):
        old = self.pick(self.src_dirs(), r[0])
        if old is None:
            return "rename_dir: no folder"
        base = old.rsplit(b"/", 1)[-1]
        parent = old[:-len(base)]
        cv = case_variant(base)
        name = cv if cv and r[1] < 0.4 else rng.choice(DIR_NAMES) + b"%d" % self.next_n()
        new = parent + name
        if os.path.lexists(j(self.src, new)):
            return f"rename_dir {show(old)}: {show(new)} exists, nothing done"
        os.rename(j(self.src, old), j(self.src, new))
        return f"rename_dir {show(old)} -> {show(new)}"

    def step_delete(self, r, rng):
        old = self.pick(self.src_files(), r[0])
        if old is None:
            return "delete: no file"
        os.unlink(j(self.src, old))
        return f"delete {show(old)}"

    def step_delete_dir(self, r, rng):
        old = self.pick(self.src_dirs(), r[0])
        if old is None:
            return "delete_dir: no folder"
        shutil.rmtree(j(self.src, old))
        return f"delete_dir {show(old)}"

    def step_add(self, r, rng):
        dirs = [b""] + self.src_dirs()
        folder = self.pick(dirs, r[0])
        if r[1] < 0.2:   # in a new folder
            folder = (folder + b"/" if folder else b"") + rng.choice(DIR_NAMES) + \
                b"%d" % self.next_n()
            os.makedirs(j(self.src, folder))
        made = self.add_input(rng, folder)
        return "add " + ", ".join(show(os.path.relpath(p, self.src)) for p in made)

    def step_touch(self, r, rng):
        files = [f for f in self.src_files() if not os.path.islink(j(self.src, f))]
        f = self.pick(files, r[0])
        if f is None:
            return "touch: no file"
        st = os.lstat(j(self.src, f))
        t = time.time_ns() + int((r[1] - 0.7) * 3 * 86400e9)
        if t == st.st_mtime_ns:
            t += 1000
        os.utime(j(self.src, f), ns=(t, t))
        return f"touch {show(f)} (mtime {t})"

    def step_edit(self, r, rng):
        files = [f for f in self.src_files() if not os.path.islink(j(self.src, f))]
        f = self.pick(files, r[0])
        if f is None:
            return "edit: no file"
        p = j(self.src, f)
        old = read_bytes(p)
        data = old
        while data == old:
            data = self.image_bytes(rng, junk_chance=0.15)
        st = os.lstat(p)
        self.write_file(p, data)
        if os.lstat(p).st_mtime_ns <= st.st_mtime_ns:   # a coarse clock: still newer
            t = st.st_mtime_ns + 1000000
            os.utime(p, ns=(t, t))
        info = self.bases.info(data)
        return f"edit {show(f)} -> {'%dx%d %s' % info if info else 'not an image'}"

    # planting in OUT

    def current_plan(self):
        return Plan(self.src, self.settings, True, self.bases)

    def planned_folders(self, plan):
        return sorted(ancestors(plan.claims))

    def free_path(self, rel):
        """Can rel be planted: nothing there and every folder on the way a real
        folder or absent (made then)?"""
        parts = rel.split(b"/")
        if any(len(p) > NAME_MAX for p in parts):
            return False
        for i in range(1, len(parts)):
            s = sig(j(self.out, b"/".join(parts[:i])))
            if s is not None and s[0] != "dir":
                return False
        return sig(j(self.out, rel)) is None and len(parts[-1]) <= NAME_MAX

    def make_dirs(self, rel):
        """Make folder rel in OUT as the user would, remembering each one made."""
        os.makedirs(self.out, exist_ok=True)
        parts = rel.split(b"/") if rel else []
        for i in range(1, len(parts) + 1):
            pre = b"/".join(parts[:i])
            if not os.path.lexists(j(self.out, pre)):
                os.mkdir(j(self.out, pre))
                self.user_dirs.add(pre)

    def make_parents(self, rel):
        self.make_dirs(rel.rsplit(b"/", 1)[0] if b"/" in rel else b"")

    def imgpool_files(self):
        """Regular files in OUT that are imgpool's (not the user's)."""
        return sorted(p for p, s in self.out_entries().items()
                      if s and s[0] == "file" and p not in self.user)

    def track(self, rel):
        self.user[rel] = sig(j(self.out, rel))

    def step_symlink(self, r, rng):
        plan = self.current_plan()
        kind = self.pick(["folder", "output", "anywhere", "into_out", "output"], r[0])
        targets_dir = [os.path.abspath(j(self.sentinel, b"dir")), b"../../sentinel/keep",
                       os.path.abspath(self.src)] + \
            [os.path.abspath(j(self.src, d)) for d in self.src_dirs()]
        targets_file = [os.path.abspath(j(self.sentinel, b"photo.jpg")),
                        os.path.abspath(j(self.sentinel, b".bashrc")),
                        b"/nonexistent/dangling.jpg"] + \
            [os.path.abspath(j(self.src, f)) for f in self.src_files()]
        rel = target = None
        if kind in ("folder", "into_out"):
            free = [d for d in self.planned_folders(plan) if self.free_path(d)]
            rel = self.pick(free, r[1])
            if rel is not None:
                if kind == "folder":
                    target = self.pick(targets_dir, r[2])
                else:
                    inside = [d for d, s in self.out_entries().items() if s[0] == "dir"]
                    if not inside:
                        return "symlink: no folder in OUT to point into"
                    t = self.pick(sorted(inside), r[2])
                    target = os.path.relpath(j(self.out, t), os.path.dirname(j(self.out, rel)))
        elif kind == "output":
            outs = sorted(plan.claims)
            rel = self.pick(outs, r[1])
            if rel is not None and rel in self.imgpool_files():
                os.unlink(j(self.out, rel))   # the user replaces a thumbnail by a link
                self.emptied |= ancestors([rel])
            elif rel is not None and not self.free_path(rel):
                rel = None
            target = self.pick(targets_file, r[2])
        if rel is None:   # anywhere: a new name in a folder of OUT
            kind = "anywhere"
            dirs = [b""] + sorted(d for d, s in self.out_entries().items() if s[0] == "dir")
            folder = self.pick(dirs, r[3])
            rel = (folder + b"/" if folder else b"") + b"link %d" % self.next_n() + \
                self.pick([b"", b".jpg", b"\n"], r[4])
            target = self.pick(targets_dir + targets_file, r[2])
        self.make_parents(rel)
        os.symlink(target, j(self.out, rel))
        self.track(rel)
        if kind != "anywhere":
            self.blocking_links.add(rel)
        return f"symlink ({kind}) OUT/{show(rel)} -> {show(target)}"

    def step_userfile(self, r, rng):
        plan = self.current_plan()
        kind = self.pick(["output", "output", "other_settings", "beside", "folder",
                          "file_for_folder", "folder_at_output", "hardlink"], r[0])
        content = rng.choice([b"my own notes\n", self.bases.items[-1][4],
                              b"user " * rng.randint(1, 50)])
        rel = None
        if kind == "output":
            rel = self.pick(sorted(plan.claims), r[1])
            if rel is not None and rel in self.imgpool_files():
                os.unlink(j(self.out, rel))   # the user puts their own file there
                self.emptied |= ancestors([rel])
            elif rel is not None and not self.free_path(rel):
                rel = None
        elif kind == "other_settings":   # where another -s / --name would write
            other = Plan(self.src, Settings.random(rng), True, self.bases)
            free = [o for o in sorted(other.claims) if self.free_path(o)]
            rel = self.pick(free, r[1])
        elif kind == "file_for_folder":
            free = [d for d in self.planned_folders(plan) if self.free_path(d)]
            rel = self.pick(free, r[1])
        elif kind == "folder_at_output":
            free = [o for o in sorted(plan.claims) if self.free_path(o)]
            o = self.pick(free, r[1])
            if o is not None:
                self.make_dirs(o)
                rel = o + b"/inside.txt"
        elif kind == "hardlink":
            free = [o for o in sorted(plan.claims) if self.free_path(o)]
            rel = self.pick(free, r[1])
            if rel is not None:
                self.make_parents(rel)
                os.link(j(self.sentinel, self.pick([b"photo.jpg", b"report.docx",
                                                    b"keep/k.jpg"], r[2])), j(self.out, rel))
                self.track(rel)
                return f"userfile (hardlink to a sentinel file) OUT/{show(rel)}"
        if rel is None:   # beside the outputs, or a folder of the user's
            kind = "beside" if kind != "folder" else kind
            dirs = [b""] + sorted(d for d, s in self.out_entries().items() if s[0] == "dir")
            folder = self.pick(dirs, r[2])
            if kind == "folder":
                folder = (folder + b"/" if folder else b"") + b"My Stuff %d" % self.next_n()
            name = self.pick([b"notes.txt", b"mine.jpg", b"-x\n.jpg", b"IMG_1.jpg"], r[3])
            rel = (folder + b"/" if folder else b"") + name
            if not self.free_path(rel):
                return f"userfile: OUT/{show(rel)} is taken, nothing done"
        self.make_parents(rel)
        self.write_file(j(self.out, rel), content)
        self.track(rel)
        return f"userfile ({kind}) OUT/{show(rel)}"

    def step_user_edit_output(self, r, rng):
        f = self.pick(self.imgpool_files(), r[0])
        if f is None:
            return "user_edit_output: no thumbnail"
        p = j(self.out, f)
        old = read_bytes(p)
        data = old
        for _ in range(100):
            if data != old and len(data) != len(old):
                break
            data = rng.choice([b"edited by hand\n", self.bases.items[rng.randrange(
                len(self.bases.items))][4]])
        with open(p, "r+b") as fh:   # in place, as an editor saving over it would
            fh.write(data)
            fh.truncate()
        self.track(f)
        return f"user_edit_output OUT/{show(f)} (now the user's)"

    def step_user_delete_output(self, r, rng):
        f = self.pick(self.imgpool_files(), r[0])
        if f is None:
            return "user_delete_output: no thumbnail"
        os.unlink(j(self.out, f))
        self.emptied |= ancestors([f])
        return f"user_delete_output OUT/{show(f)}"

    def race(self, plan, r, rng):
        """While a run works, as a user (or an attacker) could: put a symlink (to a
        folder or file outside OUT) or the user's own file where the run plans a
        folder or an output and nothing is yet; or swap one of imgpool's folders
        or outputs for a symlink (moved aside first: what was moved is the user's
        now). The run may get there first: nothing is ever replaced (O_EXCL,
        symlink() fails on EEXIST). Returns what was done."""
        entries = self.out_entries()
        mine = set(self.imgpool_files())
        kinds = ["folder_link", "output_link", "output_file", "swap_folder", "swap_output"]
        first = int(r[4] * len(kinds))
        for kind in kinds[first:] + kinds[:first]:
            if kind in ("folder_link", "swap_folder"):
                cands = [d for d in sorted(ancestors(plan.claims)) if self.parent_is_dir(d) and
                         (self.free_path(d) if kind == "folder_link" else
                          entries.get(d, ("",))[0] == "dir" and d not in self.user_dirs and
                          not any(u.startswith(d + b"/") for u in self.user))]
            else:
                cands = [o for o in sorted(plan.claims) if self.parent_is_dir(o) and
                         (o in mine if kind == "swap_output" else self.free_path(o))]
            rel = self.pick(cands, r[5])
            if rel is not None:
                break
        else:
            return "race: nothing to plant at"
        p = j(self.out, rel)
        moved = b""
        self.raced = rel   # the user changed it mid-run: the run's report may not hold
        try:
            if kind.startswith("swap"):   # beside it, under a short name
                moved = (rel.rsplit(b"/", 1)[0] + b"/" if b"/" in rel else b"") + \
                    b"moved %d" % self.next_n()
                os.rename(p, j(self.out, moved))
                self.adopt_user(moved)
            if kind.endswith("folder") or kind == "folder_link":
                os.symlink(os.path.abspath(self.pick([j(self.sentinel, b"dir"), self.src], r[3])), p)
            elif kind.endswith("output") or kind == "output_link":
                os.symlink(os.path.abspath(j(self.sentinel, b"photo.jpg")), p)
            else:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, b"the user's, written during a run\n")
                os.close(fd)
        except FileNotFoundError:
            return f"race: OUT/{show(rel)} went away before the user could move it"
        except (FileExistsError, NotADirectoryError):
            return f"race: imgpool got to OUT/{show(rel)} first" + \
                (f" (after the user moved it to {show(moved)})" if moved else "")
        self.track(rel)
        if kind != "output_file":
            self.blocking_links.add(rel)
        return f"race: {kind} at OUT/{show(rel)} mid-run" + \
            (f" (moved to {show(moved)})" if moved else "")

    def adopt_user(self, rel):
        """Everything at and beneath OUT/rel is the user's from now on."""
        s = sig(j(self.out, rel))
        if s is None:
            return
        if s[0] != "dir":
            self.user[rel] = s
            return
        self.user_dirs.add(rel)
        for sub, ss in tree_sigs(j(self.out, rel)).items():
            if ss[0] == "dir":
                self.user_dirs.add(rel + b"/" + sub)
            else:
                self.user[rel + b"/" + sub] = ss

    def parent_is_dir(self, rel):
        parent = rel.rsplit(b"/", 1)[0] if b"/" in rel else b""
        s = sig(j(self.out, parent)) if parent else ("dir",)
        return s is not None and s[0] == "dir"

    # -- runs --------------------------------------------------------------

    def paths_for(self, place):
        """(cwd, -o argument, PATH argument) for a way of naming the folders."""
        cwd = j(self.sentinel, b"cwd")
        if place == "rel":
            return self.T, b"out", b"src"
        if place == "dot":
            return self.src, b"../out", b"."
        if place == "far":
            return cwd, b"../../out", b"../../src"
        return cwd, self.out, self.src

    def do_run(self, f, settings, kill=None, meddle=None):
        recursive = f["recursive"]
        self.ever_recursive |= recursive
        self.ran = True
        cwd, out_arg, src_arg = self.paths_for(f["place"])
        plan = Plan(self.src, settings, recursive, self.bases)
        for o, rels in plan.claims.items():
            self.ever_planned.setdefault(o, set()).update(rels)
        n = len(self.runs)
        rep = j(self.logs, b"report-%d.jsonl" % n)
        # --min-free 0: a nearly full disk stops a run early, which is not what
        # this test is about.
        argv = [os.fsencode(IMGPOOL), b"-o", out_arg, b"--progress", b"none", b"--report", rep,
                b"--min-free", b"0", b"-j", b"%d" % f["jobs"]] + [a.encode() for a in settings.args()]
        for flag in ("recursive", "prune", "checksum", "force", "overwrite"):
            if f[flag]:
                argv.append(b"-r" if flag == "recursive" else b"--" + flag.encode())
        if f["shard"]:
            argv += [b"--shard", b"%d/%d" % f["shard"]]
        argv.append(src_arg)
        run = Run(argv, cwd, plan, f["overwrite"], kill)
        run.src_arg = src_arg
        run.sharded = bool(f["shard"])
        self.runs.append(run)
        self.stats["runs"] += 1
        with open(j(self.logs, b"stdout-%d" % n), "wb") as so, \
                open(j(self.logs, b"stderr-%d" % n), "wb") as se:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                                 stdout=so, stderr=se, start_new_session=True)
            meddled = ""
            if kill or meddle:
                # a random moment of the run: 0-0.5 s, within what a run takes here
                time.sleep(f["delay"] * min(0.5, self.est_run * 1.2))
            if kill:
                try:
                    os.killpg(p.pid, kill)   # p is not reaped yet: its group exists
                except ProcessLookupError:
                    pass
            if meddle:
                self.raced = None
                meddled = meddle(plan)
                run.raced = self.raced
            # A watchdog rather than wait(timeout=): that one polls with sleeps
            # of up to 50 ms, a good part of a tiny run.
            hung = []
            dog = threading.Timer(RUN_TIMEOUT, lambda: (hung.append(1),
                                                        os.killpg(p.pid, signal.SIGKILL)))
            dog.start()
            run.rc = p.wait()
            dog.cancel()
            run.wall = time.monotonic() - t0
            if hung:
                raise Violation(f"the run did not end within {RUN_TIMEOUT} s")
        if not kill and not meddle:
            self.est_run = 0.7 * self.est_run + 0.3 * run.wall
        run.stdout = read_bytes(j(self.logs, b"stdout-%d" % n))
        run.stderr = read_bytes(j(self.logs, b"stderr-%d" % n))
        run.report = self.read_report(rep)
        deadline = time.monotonic() + GONE_TIMEOUT
        while group_alive(p.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        left = group_alive(p.pid)
        if left:
            os.killpg(p.pid, signal.SIGKILL)
            raise Violation(f"processes {left} of the run were still alive "
                            f"{GONE_TIMEOUT} s after it ended (rc {run.rc})")
        if run.rc == -9:
            self.stats["killed"] += 1
        if run.rc in (-15, 143):
            self.stats["termed"] += 1
        words = [b"imgpool"] + [b"REPORT" if a == rep else a.replace(self.T, b"$T")
                                for a in argv[1:]]
        self.log.append(f"{self.prefix}{'run' if not kill else signal.Signals(kill).name} "
                        f"{show(b' '.join(words))} in {show(cwd.replace(self.T, b'$T'))}: "
                        f"rc {run.rc}" + (f" (after {run.wall:.2f} s)" if kill else "") +
                        (f"; {meddled}" if meddled else ""))
        self.check_exit(run)
        self.check_user(run)
        self.check_all()
        run.refused = self.check_answers(run)

    def read_report(self, path):
        lines = []
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            return lines
        for raw in data.split(b"\n"):
            if not raw:
                continue
            try:
                lines.append(json.loads(raw.decode("utf-8", "surrogateescape")))
            except ValueError:
                lines.append({"type": "broken", "raw": raw})  # a kill mid-line
        return lines

    # -- invariants ----------------------------------------------------------

    def check_exit(self, run):
        if run.kill == signal.SIGKILL:
            allowed = {0, 1, -9}
        elif run.kill == signal.SIGTERM:
            allowed = {0, 1, 143, -15}
        else:
            allowed = {0, 1}
        if run.rc not in allowed:
            raise Violation(f"exit code {run.rc}, expected one of {sorted(allowed)}")
        # Under ASan/UBSan (make test-asan) a finding exits 1 like a failed file.
        for word in (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:"):
            if word in run.stderr:
                raise Violation("the sanitizer reported: " +
                                run.stderr[run.stderr.index(word):][:3000].decode(errors="replace"))
        errors = [x for x in run.report if x.get("type") == "file" and x.get("status") == "error"]
        if run.rc == 0 and errors:
            raise Violation(f"exit code 0 with {len(errors)} error lines in the report")

    def check_user(self, run):
        """(b): the user's files, as the run found them."""
        planned = set(run.plan.claims)
        for rel, want in list(self.user.items()):
            now = sig(j(self.out, rel))
            if now == want:
                continue
            if run.overwrite and rel in planned and want[0] == "file":
                # --overwrite may replace a user's regular file at a path it plans
                del self.user[rel]
                self.blocking_links.discard(rel)
                if now is None:
                    self.limbo[rel] = want   # moved aside mid-replace: may come back
                continue
            raise Violation(f"OUT/{show(rel)}, which imgpool did not make, "
                            f"{'vanished' if now is None else 'changed'}: {want} -> {now}")
        for rel, want in list(self.limbo.items()):
            now = sig(j(self.out, rel))
            if now == want:
                self.user[rel] = want
                del self.limbo[rel]
            elif now is not None:
                del self.limbo[rel]

    def check_all(self):
        """(a), (c), (e) and the user's files, after any step."""
        now = self.outside_sigs()
        lines = []
        if now["top"] != self.outside["top"]:
            lines.append(f"  the test folder now holds {now['top']} (was {self.outside['top']})")
        for k in ("src", "sentinel"):
            lines += [f"  {k}/" + l.strip() for l in diff_sigs(self.outside[k], now[k])]
        if lines:
            raise Violation("files outside OUT changed:\n" + "\n".join(lines))
        entries = self.out_entries()
        for rel, want in self.user.items():
            if entries.get(rel) != want:
                raise Violation(f"OUT/{show(rel)}, which imgpool did not make, is now "
                                f"{entries.get(rel)} (was {want})")
        user_dirs = ancestors(self.user) | ancestors(self.limbo) | self.user_dirs
        planned_dirs = ancestors(self.ever_planned)
        fresh = []
        for rel, s in sorted(entries.items()):
            if rel in self.user:
                continue
            if s[0] == "dir":
                if rel not in user_dirs and rel not in planned_dirs and \
                        not any(rel.startswith(u + b"/") for u in self.user):
                    raise Violation(f"stray folder OUT/{show(rel)}: no run planned anything "
                                    f"in it and the user did not make it")
                continue
            if s[0] != "file":
                raise Violation(f"OUT/{show(rel)} is {s}, which the user did not make "
                                f"(imgpool makes regular files only)")
            if rel not in self.ever_planned:
                raise Violation(f"stray file OUT/{show(rel)}: no run planned it and the user "
                                f"did not make it (a temp file left behind?)")
            st = os.lstat(j(self.out, rel))
            key = (rel, st.st_ino, st.st_size, st.st_mtime_ns)
            if key not in self.verified:
                fresh.append(key)
        self.verify_images(fresh)

    def verify_images(self, keys):
        """(c): each is a whole JPEG or PNG (checked here, byte by byte)."""
        for key in keys:
            with open(j(self.out, key[0]), "rb") as fh:
                data = fh.read()
            facts = image_facts(data)
            if not facts:
                raise Violation(f"OUT/{show(key[0])} is not a whole image "
                                f"({len(data)} bytes, starts {data[:8]!r}, ends {data[-4:]!r})")
            self.verified[key] = (facts[1], facts[2], facts[0])

    def vipsheader_all(self):
        """(c) once more, by libvips: every output in OUT opens, with the size the
        test read from its bytes. One vipsheader for all (it starts slowly)."""
        rels = self.imgpool_files()
        if not rels:
            return
        paths = [os.path.abspath(j(self.out, r)) for r in rels]
        r = subprocess.run([b"vipsheader"] + paths, capture_output=True)
        out, pos = r.stdout, 0
        for rel, p in zip(rels, paths):
            head = p + b": "
            m = re.match(rb"(\d+)x(\d+) ", out[pos + len(head):]) if out.startswith(head, pos) \
                else None
            if not m:
                one = subprocess.run([b"vipsheader", p], capture_output=True)
                raise Violation(f"vipsheader cannot read OUT/{show(rel)}: "
                                f"{(one.stdout + one.stderr).decode(errors='replace').strip()}")
            st = os.lstat(p)
            w, h, _ = self.verified[(rel, st.st_ino, st.st_size, st.st_mtime_ns)]
            if (int(m.group(1)), int(m.group(2))) != (w, h):
                raise Violation(f"vipsheader says OUT/{show(rel)} is {m.group(0)!r}, its "
                                f"bytes say {w}x{h}")
            pos = out.index(b"\n", pos + len(head)) + 1
        if r.returncode:
            raise Violation(f"vipsheader failed: {r.stderr.decode(errors='replace')}")

    # -- the end -------------------------------------------------------------

    def final(self):
        """The final clean run, the --prune run, and the exact-tree checks."""
        rng = random.Random(self.seed * 7919 + 1)
        if rng.random() < 0.5:   # the user removes the symlinks that are in the way
            for rel in sorted(self.blocking_links):
                if rel in self.user and self.user[rel][0] == "link":
                    os.unlink(j(self.out, rel))
                    del self.user[rel]
                    self.emptied |= ancestors([rel])   # the user may leave a folder empty
            self.log.append(f"final: removed the blocking symlinks {sorted(map(show, self.blocking_links))}")
            self.blocking_links.clear()
            self.outside = self.outside_sigs()
            self.check_all()
        f = {"recursive": self.ever_recursive or not self.ran, "prune": False,
             "checksum": rng.random() < 0.3, "force": False, "overwrite": False,
             "jobs": rng.choice((1, 2)), "place": "abs", "shard": None, "delay": 0}
        self.prefix = "final: "
        self.do_run(f, self.settings)
        self.vipsheader_all()
        f = dict(f, prune=True)
        self.do_run(f, self.settings)
        self.vipsheader_all()
        run2 = self.runs[-1]
        refused = run2.refused
        made = [x for x in run2.report if x.get("type") == "file" and x.get("status") == "ok"]
        if made:
            raise Violation("the run after a clean run made files again: " +
                            "; ".join(x["input"] for x in made[:5]))
        self.check_exact(run2, refused)

    def answers(self, run):
        """{rel: report line} of a run; one answer per input."""
        prefix = run.src_arg.rstrip(b"/") + b"/"
        out = {}
        for x in run.report:
            if x.get("type") != "file":
                continue
            inp = x["input"].encode("utf-8", "surrogateescape")
            if not inp.startswith(prefix):
                raise Violation(f"the report names an input outside the source: {show(inp)}")
            rel = inp[len(prefix):]
            if rel in out:
                raise Violation(f"two answers for {show(rel)}: {out[rel]} and {x}")
            out[rel] = x
        return out

    def blocked(self, o):
        """Why output o cannot be made, from what is in OUT now (None: nothing)."""
        if any(len(p) > NAME_MAX for p in o.split(b"/")):
            return "name longer than 255 bytes"
        parts = o.split(b"/")
        for i in range(1, len(parts)):
            pre = b"/".join(parts[:i])
            s = sig(j(self.out, pre))
            if s is not None and s[0] != "dir":
                return f"OUT/{show(pre)} is {s[0]}, not a folder"
        s = sig(j(self.out, o))
        if s is None:
            return None
        if s[0] != "file":
            return f"a {s[0]} is there"
        if o in self.user or o in self.limbo:
            return "the user's file is there"
        return None

    def check_answers(self, run):
        """What the run's report says, checked against the tree: at most one answer
        per input (exactly one for a whole run: unsharded, not stopped); every
        error has a reason the test can see; every input answered ok or skipped
        has every output in place, imgpool's, in its format and of the size its
        input gives (no other input's thumbnail, no stale one); "cancelled" only
        when the run was stopped. Returns the rels of the inputs refused."""
        plan = run.plan
        ans = self.answers(run)
        extra = set(ans) - set(plan.inputs)
        if extra:
            raise Violation(f"answers for files that are not inputs: {sorted(map(show, extra))}")
        whole = run.kill is None and not run.sharded
        missing = set(plan.inputs) - set(ans) if whole else set()
        if missing:
            raise Violation(f"inputs without an answer: {sorted(map(show, missing))}")
        refused = set()
        for rel, x in sorted(ans.items()):
            inp = plan.inputs[rel]
            if x["status"] == "error":
                why = self.reason(plan, inp)
                if not why:
                    raise Violation(f"{show(rel)} was refused for no reason the test can see: "
                                    f"{x.get('error')!r} ({x.get('kind')})")
                refused.add(rel)
                continue
            if x["status"] == "cancelled" and run.kill is not None:
                continue
            if x["status"] not in ("ok", "skipped"):
                raise Violation(f"{show(rel)}: status {x['status']!r} in a run nobody stopped")
            if inp.refused or not inp.info:
                raise Violation(f"{show(rel)} was {x['status']}, but it cannot be: "
                                f"{inp.refused or 'its bytes are not an image'}")
            for k, o in enumerate(inp.outs):
                if run.raced and (o == run.raced or o.startswith(run.raced + b"/")):
                    continue   # the user moved or replaced it after the run's answer
                self.check_output(plan, inp, k, o, x["status"])
        return refused

    def reason(self, plan, inp):
        if inp.refused:
            return inp.refused
        if not inp.info:
            return "its bytes are not an image"
        for o in inp.outs:
            if len(plan.claims[o]) > 1:
                return f"collides with {sorted(map(show, plan.claims[o]))}"
            if plan.expected_format(o) not in ("jpeg", "png", "webp", "avif"):
                return "the template names a format imgpool does not write"
            b = self.blocked(o)
            if b:
                return b
        return None

    def check_output(self, plan, inp, k, o, status):
        p = j(self.out, o)
        parts = o.split(b"/")
        for i in range(1, len(parts)):   # lstat follows a symlink on the way: look first
            s = sig(j(self.out, b"/".join(parts[:i])))
            if s is None or s[0] != "dir":
                raise Violation(f"{show(inp.rel)} is {status}, but the folder of its output, "
                                f"OUT/{show(b'/'.join(parts[:i]))}, is {s}")
        s = sig(p)
        if s is None or s[0] != "file":
            raise Violation(f"{show(inp.rel)} is {status}, but its output OUT/{show(o)} is {s}")
        if o in self.user:
            raise Violation(f"{show(inp.rel)} is {status}, but its output OUT/{show(o)} is the "
                            f"user's file (imgpool took it as its own)")
        st = os.lstat(p)
        w, h, kind = self.verified[(o, st.st_ino, st.st_size, st.st_mtime_ns)]
        want_kind = plan.expected_format(o)
        if kind != want_kind:
            raise Violation(f"OUT/{show(o)} is {kind}, expected {want_kind}")
        ew, eh = thumb_dims(inp.info[0], inp.info[1], plan.boxes[k])
        if abs(w - ew) > 1 or abs(h - eh) > 1:
            raise Violation(f"{show(inp.rel)} is {status}, but its output OUT/{show(o)} is "
                            f"{w}x{h}, and the input ({inp.info[0]}x{inp.info[1]}) in box "
                            f"{plan.settings.sizes[k]} gives {ew}x{eh}: another input's "
                            f"thumbnail, or a stale one")

    def check_exact(self, run, refused):
        """OUT holds the planned outputs, the user's files, .imgpool/, and older
        outputs of inputs the final run refused; no empty folder it could remove."""
        plan = run.plan
        entries = self.out_entries()
        allowed = set(plan.claims)
        for o, rels in self.ever_planned.items():
            if rels & refused:
                allowed.add(o)
        files = set()
        wrong = []
        for rel, s in sorted(entries.items()):
            if s[0] == "dir":
                continue
            files.add(rel)
            if rel in self.user or rel in allowed:
                continue
            owners = sorted(map(show, self.ever_planned.get(rel, ())))
            wrong.append(f"  OUT/{show(rel)} (planned earlier for {owners}; those inputs "
                         f"are {'gone' if not any(r in plan.inputs for r in self.ever_planned.get(rel, ())) else 'still there'})")
        if wrong:
            raise Violation("after the final runs OUT holds files no current input plans "
                            "(stale outputs):\n" + "\n".join(wrong))
        needed = ancestors(files) | self.emptied | self.user_dirs
        empty = [d for d, s in entries.items() if s[0] == "dir" and d not in needed]
        if empty:
            raise Violation("after --prune OUT holds empty folders: " +
                            ", ".join(f"OUT/{show(d)}" for d in sorted(empty)))

    # -- driving -------------------------------------------------------------

    def play(self):
        """Run the steps and the final check; returns None or a failure text."""
        step_i = None
        try:
            self.check_all()
            for step_i, step in enumerate(self.steps):
                if self.keep_steps is not None and step_i not in self.keep_steps:
                    continue
                self.prefix = f"{step_i}: "
                desc = self.execute(step_i, step)
                if desc:   # a run logs itself before its checks
                    self.log.append(f"{step_i}: {desc}")
                if step["kind"] not in ("run", "kill9", "term", "race"):
                    self.outside = self.outside_sigs()
                self.check_all()
            step_i = "final"
            self.final()
            return None
        except Violation as v:
            return self.failure_text(step_i, v)
        except Exception:   # a bug of the test itself: still say how to replay it
            return self.failure_text(step_i, "the TEST failed:\n" + traceback.format_exc())

    def failure_text(self, step_i, v):
        lines = [f"VIOLATION in sequence seed {self.seed} at step {step_i}: {v}",
                 "steps as executed:"] + ["  " + s for s in self.log]
        if self.runs:
            r = self.runs[-1]
            lines += [f"last run: rc {r.rc}, {r.wall:.2f} s",
                      "  stdout: " + r.stdout[-1500:].decode(errors="replace").replace("\n", "\n    "),
                      "  stderr: " + r.stderr[-1500:].decode(errors="replace").replace("\n", "\n    ")]
        upto = len(self.steps) - 1 if step_i == "final" else step_i
        without = f" --without {','.join(sorted(OPTS.without))}" if OPTS.without else ""
        lines.append(f"replay: {sys.argv[0]} IMGPOOL --seed {self.seed} --sequences 1 "
                     f"--length {len(self.steps)} --steps 0-{upto}{without}")
        lines.append(f"files kept in {show(self.T)}")
        return "\n".join(lines)

    def cleanup(self):
        shutil.rmtree(self.T, ignore_errors=True)


def parse_steps(spec):
    if spec is None:
        return None
    keep = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            keep.update(range(int(a), int(b) + 1))
        elif part:
            keep.add(int(part))
    return keep


# ---------------------------------------------------------------------------

class OutputPropertyTest(unittest.TestCase):
    def test_random_sequences(self):
        if not shutil.which("vips") or not shutil.which("vipsheader"):
            self.skipTest("the vips CLI (libvips-tools) is not installed")
        base_seed = OPTS.seed
        if base_seed is None:
            env = os.environ.get("IMGPOOL_PROPERTY_SEED")
            base_seed = int(env) if env else random.SystemRandom().randrange(1 << 31)
        keep = parse_steps(OPTS.steps)
        print(f"\nproperty test: {OPTS.sequences} sequences of {OPTS.length} steps, seeds "
              f"{base_seed}..{base_seed + OPTS.sequences - 1} (IMGPOOL_PROPERTY_SEED or "
              f"--seed to replay)", flush=True)
        img = tempfile.mkdtemp(prefix="imgpool-prop-img-")
        bases = Bases(img)
        failures = []
        totals = {"runs": 0, "killed": 0, "termed": 0}
        t0 = time.monotonic()
        try:
            for i in range(OPTS.sequences):
                seed = base_seed + i
                seq = Sequence(seed, bases, OPTS.length, keep)
                text = seq.play()
                for k in totals:
                    totals[k] += seq.stats[k]
                if text:
                    failures.append((seed, text))
                    print(text, flush=True)
                else:
                    if OPTS.verbose:
                        print(f"seed {seed}: ok\n  " + "\n  ".join(seq.log), flush=True)
                    if not OPTS.keep:
                        seq.cleanup()
        finally:
            shutil.rmtree(img, ignore_errors=True)
        print(f"property test: {OPTS.sequences} sequences, {totals['runs']} runs "
              f"({totals['killed']} killed mid-run by SIGKILL, {totals['termed']} stopped by "
              f"SIGTERM) in {time.monotonic() - t0:.1f} s; failing seeds: "
              f"{[s for s, _ in failures] or 'none'}", flush=True)
        if failures:
            self.fail(f"{len(failures)} of {OPTS.sequences} sequences broke an invariant "
                      f"(seeds {[s for s, _ in failures]}); each is printed above")


def main():
    global IMGPOOL, OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("imgpool")
    ap.add_argument("--sequences", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None,
                    help="seed of the first sequence (default: random, printed)")
    ap.add_argument("--length", type=int, default=12, help="steps per sequence")
    ap.add_argument("--steps", default=None,
                    help="only these generated steps, e.g. 0-7 or 0,3,5-6")
    ap.add_argument("--without", default="",
                    help="leave out step kinds or run options, comma separated (e.g. "
                         "shard,kill9 to see whether a failure needs them): " +
                         ", ".join(k for k, _ in STEP_KINDS) +
                         ", shard, overwrite, force, checksum, prune")
    ap.add_argument("--keep", action="store_true", help="keep the folders of passing sequences")
    ap.add_argument("-v", "--verbose", action="count", default=0,
                    help="-v: print the steps of every sequence")
    OPTS, rest = ap.parse_known_args()
    OPTS.without = set(filter(None, OPTS.without.split(",")))
    IMGPOOL = os.path.abspath(OPTS.imgpool)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
