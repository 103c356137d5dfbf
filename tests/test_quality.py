#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_quality.py IMGPOOL — the quality guard: imgpool's thumbnails look at least
as good as vipsthumbnail's at the same settings, whichever decode path made them
(libvips, the JPEG fast path and its DC-only progressive decode, the PNG path).

Settings: longest side 256, JPEG quality 80, metadata stripped
(imgpool -s 256 -f jpeg -Q 80; vipsthumbnail -s '256x256>' -o %s.jpg[Q=80,strip]:
neither enlarges a smaller image). Every output path handed to vipsthumbnail is
absolute: it writes relative ones next to the input.
imgpool colour manages every input with an embedded profile to sRGB, so for
those inputs vipsthumbnail gets the same request (--export-profile srgb); inputs
without a profile are thumbnailed as they are by both. Alpha is flattened on
white for JPEG by both (imgpool's default background; background=255 for
vipsthumbnail's JPEG).

Groups of cases, one case per file:
  - every corpus JPEG at 256, JPEG out;
  - every progressive corpus JPEG at 100, JPEG out: small enough a box that
    imgpool decodes them at 1/8 from their DC scans;
  - PNGs at 256, JPEG out: the corpus PNGs (16-bit, alpha, EXIF-oriented) and
    ones made here from corpus photos (palette with and without transparency,
    interlaced RGBA, grey of 1 bit, grey + alpha, 16-bit RGB);
  - the same PNGs at 256, PNG out.
JPEG out:
  - same dimensions as vipsthumbnail's thumbnail, exactly (both make the same
    shrink-on-load and resize computation, so no rounding slack is needed);
  - same orientation and content: PSNR against a lossless reference
    (vipsthumbnail to PNG, same settings, flattened on white) at most 0.5 dB
    below the PSNR of vipsthumbnail's own JPEG against that reference. A
    thumbnail turned the wrong way (same size after a 180 degree turn or a
    flip, or swapped sides) scores far below that, so this also checks the EXIF
    orientation;
PNG out:
  - same dimensions, and the same picture as vipsthumbnail's PNG: PSNR of the
    two, both flattened on white, at least 40 dB;
and one case for the corpus JPEGs at 256:
  - total bytes of imgpool's thumbnails within 5 % of vipsthumbnail's (faster
    by writing smaller, worse files does not count; nor does bloat).

Needs python3 (stdlib) and the vips, vipsthumbnail and vipsheader commands.
The corpus is $IMGPOOL_CORPUS, else ../shared/corpus/photos beside this
repository; without it (or without the vips tools) everything is skipped.
On unittest: each group (corpus JPEGs, progressive through the DC path, PNGs to
JPEG, PNGs to PNG) is a test case. Prints one line per file and "N passed, N
failed, N skipped"; exits 1 when a case failed.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SIZE = 256
# The small box of test_jpegs_small_to_png.
SMALL_SIZE = 32
DC_SIZE = 100
QUALITY = 80
MAX_PSNR_LOSS_DB = 0.5
MIN_SAME_PICTURE_DB = 40.0
MIN_RESAMPLED_DB = 30.0  # a smaller size of several, against vipsthumbnail's of it alone
MAX_BYTES_DIFF = 0.05

passed = failed = skipped = 0


def report(status, name, msg):
    """Count one case and print its line."""
    global passed, failed, skipped
    if status == "ok":
        passed += 1
    elif status == "FAIL":
        failed += 1
    else:
        skipped += 1
    print(f"{status:4}  {name}: {msg}", flush=True)


def corpus_dir():
    """The corpus folder: $IMGPOOL_CORPUS, else ../shared/corpus/photos beside
    the repository this test lives in."""
    env = os.environ.get("IMGPOOL_CORPUS")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "corpus", "photos"))


def corpus_files(folder, exts):
    """The non-empty files with one of exts (lower case, with the dot) directly
    in folder, by name; of files with the same stem only the first (both tools
    name outputs by stem)."""
    seen, out = set(), []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        stem, ext = os.path.splitext(name)
        if name.startswith(".") or ext.lower() not in exts:
            continue
        if not os.path.isfile(path) or os.path.getsize(path) == 0 or stem in seen:
            continue
        seen.add(stem)
        out.append(path)
    return out


def is_progressive(path):
    """Whether a JPEG's first frame header is progressive (SOF2 or SOF10)."""
    with open(path, "rb") as f:
        data = f.read()
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        m = data[at + 1]
        if m in (0xC2, 0xCA):
            return True
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xCC) or m == 0xDA:
            return False
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return False


def run(cmd, **kw):
    """Run a command, output captured; the CompletedProcess."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def has_profile(path):
    """Whether libvips sees an embedded ICC profile in path."""
    return run(["vipsheader", "-f", "icc-profile-data", path]).returncode == 0


def vipsthumbnail(files, outspec, size):
    """vipsthumbnail -s size on files, output spec outspec (e.g.
    DIR/%s.jpg[Q=80,strip]); inputs with a profile go to sRGB (--export-profile
    srgb), as imgpool does."""
    with_icc = [f for f in files if has_profile(f)]
    without = [f for f in files if f not in with_icc]
    for group, extra in ((with_icc, ["--export-profile", "srgb"]), (without, [])):
        if group:
            # one file per call would be slow; vipsthumbnail goes on after a
            # failed file, and a missing output is reported per case below
            run(["vipsthumbnail", "-s", f"{size}x{size}>"] + extra + ["-o", outspec] + group)


def read_pnm(path):
    """Width, height, channels and samples of a binary PGM/PPM (P5/P6, 8-bit),
    comments allowed in the header."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval != 255:
        raise ValueError(f"{path}: not an 8-bit binary PNM")
    bands = 3 if magic == b"P6" else 1
    pixels = data[pos + 1:pos + 1 + w * h * bands]
    return w, h, bands, pixels


def decode(path, work):
    """path decoded by libvips to 8-bit samples, alpha flattened on white:
    (w, h, samples)."""
    out = os.path.join(work, "decoded.pnm")
    bands = run(["vipsheader", "-f", "bands", path]).stdout.decode().strip()
    if bands in ("2", "4"):
        white = "255" if bands == "2" else "255 255 255"
        r = run(["vips", "flatten", path, out, "--background", white])
    else:
        r = run(["vips", "copy", path, out])
    if r.returncode != 0:
        raise ValueError(f"vips cannot decode {path}: {r.stderr.decode(errors='replace').strip()}")
    w, h, bands, px = read_pnm(out)
    if bands == 1:
        # a grey thumbnail against a colour one: compare as RGB
        px = bytes(v for v in px for _ in range(3))
    return w, h, px


def psnr(a, b):
    """PSNR in dB of two equal-length sample strings (inf when identical)."""
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    if se == 0:
        return math.inf
    return 10 * math.log10(255.0 * 255.0 * len(a) / se)


def imgpool_outputs(imgpool, files, outdir, work, size, fmt):
    """Run imgpool on files; input path -> (output path, w, h) for each file it
    made, from its JSON Lines report; and its stderr."""
    rep = os.path.join(work, "report.jsonl")
    r = run([imgpool, "-j", "2", "--force", "-q", "--progress", "none",
             "-s", str(size), "-f", fmt, "-Q", str(QUALITY),
             "--report", rep, "-o", outdir] + files)
    made = {}
    if os.path.exists(rep):
        with open(rep) as f:
            for line in f:
                o = json.loads(line)
                if o.get("type") == "file" and o.get("status") == "ok" and o.get("outputs"):
                    out = o["outputs"][0]
                    made[o["input"]] = (out["path"], out["width"], out["height"])
    return made, r.stderr.decode(errors="replace")


def against_reference(made, ref, work):
    """imgpool's thumbnail made and a reference thumbnail ref, decoded: their sizes
    and the PSNR between them (0 where the sizes differ)."""
    iw, ih, ip = decode(made, work)
    vw, vh, vp = decode(ref, work)
    return (iw, ih), (vw, vh), psnr(ip, vp) if (iw, ih) == (vw, vh) else 0


def compare_one(label, path, made, refdir, fmt, work):
    """One file of a group: dimensions and PSNR against vipsthumbnail's; returns
    the bytes of (imgpool's, vipsthumbnail's) thumbnails, or None when not
    compared."""
    name = f"{label}: {os.path.basename(path)}"
    stem = os.path.splitext(os.path.basename(path))[0]
    vt_out = os.path.join(refdir, stem + "." + ("png" if fmt == "png" else "jpg"))
    vt_png = os.path.join(refdir, stem + ".png")
    if not (os.path.exists(vt_out) and os.path.exists(vt_png)):
        report("skip", name, "vipsthumbnail made no thumbnail of it")
        return None
    if path not in made:
        report("FAIL", name, "imgpool made no thumbnail (vipsthumbnail did)")
        return None
    out, w, h = made[path]
    try:
        rw, rh, ref = decode(vt_png, work)
        vw, vh, vt = decode(vt_out, work)
        iw, ih, ip = decode(out, work)
    except ValueError as e:
        report("FAIL", name, str(e))
        return None
    if (iw, ih) != (vw, vh) or (iw, ih) != (w, h) or (rw, rh) != (vw, vh):
        report("FAIL", name, f"imgpool {iw}x{ih} (reported {w}x{h}), vipsthumbnail "
               f"{vw}x{vh} (PNG {rw}x{rh})")
        return None
    if fmt == "png":
        p = psnr(ip, vt)
        msg = f"{iw}x{ih}, PSNR {p:.2f} dB against vipsthumbnail's PNG"
        if p < MIN_SAME_PICTURE_DB:
            report("FAIL", name, msg + f": below {MIN_SAME_PICTURE_DB} dB (not the same picture)")
            return None
        report("ok", name, msg)
        return os.path.getsize(out), os.path.getsize(vt_out)
    p_ip, p_vt = psnr(ip, ref), psnr(vt, ref)
    msg = f"{iw}x{ih}, PSNR {p_ip:.2f} dB (vipsthumbnail {p_vt:.2f} dB)"
    if p_ip < p_vt - MAX_PSNR_LOSS_DB:
        report("FAIL", name, msg + f": more than {MAX_PSNR_LOSS_DB} dB worse "
               "(wrong orientation or content, or lower quality)")
        return None
    report("ok", name, msg)
    return os.path.getsize(out), os.path.getsize(vt_out)


def check_group(imgpool, label, files, size, fmt, work, total_bytes=False):
    """Thumbnail files with imgpool and vipsthumbnail at size, output format fmt
    (jpeg or png), and compare each pair; with total_bytes, also the sum of the
    JPEG sizes."""
    gwork = os.path.join(work, label.replace(" ", "-"))
    outdir, refdir = os.path.join(gwork, "imgpool"), os.path.join(gwork, "vips")
    os.makedirs(refdir)
    made, err = imgpool_outputs(imgpool, files, outdir, gwork, size, fmt)
    if not made:
        report("FAIL", label, "imgpool made no thumbnail at all: " + err.strip()[:500])
        return
    if fmt == "png":
        vipsthumbnail(files, os.path.join(refdir, "%s.png"), size)
    else:
        vipsthumbnail(files, os.path.join(refdir, f"%s.jpg[Q={QUALITY},strip,background=255]"),
                      size)
        vipsthumbnail(files, os.path.join(refdir, "%s.png"), size)
    total_ip = total_vt = 0
    for path in files:
        sizes = compare_one(label, path, made, refdir, fmt, gwork)
        if sizes:
            total_ip += sizes[0]
            total_vt += sizes[1]
    if total_bytes and total_vt:
        diff = (total_ip - total_vt) / total_vt
        msg = (f"imgpool {total_ip} bytes, vipsthumbnail {total_vt} bytes "
               f"({100 * diff:+.2f} %)")
        report("ok" if abs(diff) <= MAX_BYTES_DIFF else "FAIL", f"{label}: total bytes",
               msg if abs(diff) <= MAX_BYTES_DIFF else
               msg + f": more than {100 * MAX_BYTES_DIFF:.0f} % apart")


def make_pngs(folder, jpegs, dest):
    """PNG kinds the corpus lacks, made with libvips from two corpus photos: the
    first as the picture, the second's first band as a varied alpha. Returns the
    paths made (none when a step fails)."""
    os.makedirs(dest)
    base, other = os.path.join(dest, "base.v"), os.path.join(dest, "other.v")
    rgba, grey = os.path.join(dest, "rgba.v"), os.path.join(dest, "grey.v")
    steps = [
        ["vipsthumbnail", jpegs[0], "-s", "1200x800!", "-o", base],
        ["vipsthumbnail", jpegs[1], "-s", "1200x800!", "-o", other],
        ["vips", "extract_band", other, os.path.join(dest, "alpha.v"), "0"],
        ["vips", "bandjoin", f"{base} {os.path.join(dest, 'alpha.v')}", rgba],
        ["vips", "colourspace", rgba, grey, "b-w"],
    ]
    kinds = {
        "gen-palette.png": (base, ["--palette"]),
        "gen-palette-alpha.png": (rgba, ["--palette"]),
        "gen-rgba-interlaced.png": (rgba, ["--interlace"]),
        "gen-grey-1bit.png": (os.path.join(dest, "grey1.v"), ["--bitdepth", "1"]),
        "gen-grey-alpha.png": (grey, []),
        "gen-rgb16.png": (os.path.join(dest, "rgb16.v"), []),
    }
    steps += [["vips", "colourspace", base, os.path.join(dest, "grey1.v"), "b-w"],
              ["vips", "colourspace", base, os.path.join(dest, "rgb16.v"), "rgb16"]]
    steps += [["vips", "pngsave", src, os.path.join(dest, name)] + opts
              for name, (src, opts) in kinds.items()]
    for cmd in steps:
        r = run(cmd)
        if r.returncode != 0:
            report("skip", "generated PNGs", f"{' '.join(cmd)}: "
                   f"{r.stderr.decode(errors='replace').strip()[:200]}")
            return []
    return [os.path.join(dest, name) for name in kinds]


# Pillow makes the test's own CMYK JPEGs: the interpreter running this may lack
# it (a pyenv one) where the system's has it (python3-pil).
PILLOW_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class QualityTests(unittest.TestCase):
    """Each group of the guard is a test case: it fails when any file of the group
    does (every file's line is printed above the result), and skips where the
    corpus or the vips tools are missing."""

    @classmethod
    def setUpClass(cls):
        cls.why_skip = None
        cls.work = tempfile.mkdtemp(prefix="imgpool-quality.")
        folder = corpus_dir()
        missing = [t for t in ("vips", "vipsthumbnail", "vipsheader") if not shutil.which(t)]
        if not os.path.isdir(folder):
            cls.why_skip = f"no corpus at {folder} (set IMGPOOL_CORPUS)"
        elif missing:
            cls.why_skip = f"{', '.join(missing)} missing (apt-get install libvips-tools)"
        if cls.why_skip:
            report("skip", "quality", cls.why_skip)
            return
        cls.folder = folder
        cls.jpegs = corpus_files(folder, (".jpg", ".jpeg"))
        cls.pngs = corpus_files(folder, (".png",))
        if len(cls.jpegs) >= 2:
            cls.pngs += make_pngs(folder, cls.jpegs, os.path.join(cls.work, "pngs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def corpus_photo(self, name, folder):
        """The corpus photo name and a new work folder of that name; skipped where
        the guard is, or the photo is missing."""
        if self.why_skip:
            self.skipTest(self.why_skip)
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            self.skipTest(f"no {name} in {self.folder}")
        work = os.path.join(self.work, folder)
        os.makedirs(work)
        return path, work

    def group(self, files, what, label, size, fmt, **kw):
        if self.why_skip:
            self.skipTest(self.why_skip)
        if not files:
            self.skipTest(f"no {what} in {self.folder}")
        before = failed
        check_group(IMGPOOL, label, files, size, fmt, self.work, **kw)
        self.assertEqual(failed - before, 0, f"{label}: see the FAIL lines above")

    def test_corpus_jpegs(self):
        self.group(getattr(self, "jpegs", []), "JPEGs", "corpus JPEGs", SIZE, "jpeg",
                   total_bytes=True)

    def test_progressive_through_the_dc_path(self):
        progressive = [f for f in getattr(self, "jpegs", []) if is_progressive(f)]
        self.group(progressive, "progressive JPEG", f"progressive at {DC_SIZE}", DC_SIZE,
                   "jpeg")

    def test_jpegs_small_to_png(self):
        """Every corpus JPEG at a small box, PNG out: the same picture as
        vipsthumbnail's where the fast path's resample, DC-only decode and
        colour conversion differ most from a full decode (a CMYK photo resampled
        before its conversion to sRGB was 38.9 dB at 32 px)."""
        self.group(getattr(self, "jpegs", []), "JPEGs", f"JPEGs at {SMALL_SIZE} to PNG",
                   SMALL_SIZE, "png")

    def test_pngs_to_jpeg(self):
        self.group(getattr(self, "pngs", []), "PNGs", "PNGs to JPEG", SIZE, "jpeg")

    def test_pngs_to_png(self):
        self.group(getattr(self, "pngs", []), "PNGs", "PNGs to PNG", SIZE, "png")

    def test_cover_boxes_of_a_multi_size_run(self):
        """-s 150x150,77x77 --fit cover: each crop the picture vipsthumbnail makes
        of its box alone. The 77x77 was cut from the 150x150's image resized
        again (108 wide where the box alone gives 109): a pixel off, 21.8 dB on
        dog.jpg. The largest box is vipsthumbnail's own (40 dB); a smaller one
        is resampled from it where vipsthumbnail decodes that box at a smaller
        DCT scale, which floors a partial block row (1364 rows of dog.jpg taken
        as 1360): the same picture, 30 dB at least (the man page's -s)."""
        if self.why_skip:
            self.skipTest(self.why_skip)
        names = ("dog.jpg", "people.jpg", "Landscape_6.jpg", "2569067123_aca715a2ee_o.jpg",
                 "alpha-premultiply-2048x1536-paper.png", "aurora.jpg")
        files = [os.path.join(self.folder, n) for n in names
                 if os.path.exists(os.path.join(self.folder, n))]
        if not files:
            self.skipTest("none of the photos in " + self.folder)
        work = os.path.join(self.work, "cover")
        out = os.path.join(work, "imgpool")
        r = run([IMGPOOL, "-q", "--no-journal", "--progress", "none", "-s", "150x150,77x77",
                 "--fit", "cover", "-f", "png", "-o", out] + files)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        bad = []
        for path in files:
            stem = os.path.splitext(os.path.basename(path))[0]
            for side in (150, 77):
                ref = os.path.join(work, f"{stem}-{side}.png")
                self.assertEqual(run(["vips", "thumbnail", path, ref, str(side), "--height",
                                      str(side), "--crop", "centre"]).returncode, 0, ref)
                (iw, ih), _, p = against_reference(os.path.join(out, f"{stem}_{side}.png"),
                                                   ref, work)
                least = MIN_SAME_PICTURE_DB if side == 150 else MIN_RESAMPLED_DB
                report("ok" if p >= least else "FAIL",
                       f"cover {side}x{side} of -s 150x150,77x77: {stem}",
                       f"{iw}x{ih}, PSNR {p:.2f} dB against vipsthumbnail's (box alone)")
                if p < least:
                    bad.append(f"{stem} {side}: {p:.1f} dB")
        self.assertEqual(bad, [])

    def test_an_enlarged_cmyk_photo_is_turned_upright(self):
        """A CMYK JPEG with an EXIF orientation, made larger (--enlarge): the
        conversion to sRGB dropped the orientation, and the photo came out in
        its stored layout stretched into the upright box (10 dB against
        vipsthumbnail's; a reviewer's case). Each orientation, and the corpus's
        CMYK photo with one."""
        if self.why_skip:
            self.skipTest(self.why_skip)
        work = os.path.join(self.work, "cmyk-enlarged")
        os.makedirs(work)
        files = []
        for o in (3, 6, 8):
            path = os.path.join(work, f"cmyk-{o}.jpg")
            run([PILLOW_PYTHON, "-c", f"""
from PIL import Image, ImageDraw
im = Image.new("CMYK", (301, 203), (0, 0, 0, 0))
d = ImageDraw.Draw(im)
d.rectangle((0, 0, 150, 60), fill=(255, 0, 0, 0))
d.rectangle((200, 120, 300, 202), fill=(0, 200, 255, 30))
d.ellipse((20, 100, 120, 190), fill=(0, 0, 0, 200))
ex = Image.Exif()
ex[0x112] = {o}
im.save({path!r}, quality=95, exif=ex)
"""])
            if os.path.exists(path):
                files.append(path)
        corpus = [f for f in corpus_files(self.folder, (".jpg",)) if "cmyk-orientation" in f]
        files += corpus
        if not files:
            self.skipTest("cannot make CMYK JPEGs here (python3-pil)")
        out = os.path.join(work, "out")
        r = run([IMGPOOL, "-q", "--no-journal", "--progress", "none", "-s", "1000",
                 "--enlarge", "-f", "png", "-o", out] + files)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        bad = []
        for path in files:
            stem = os.path.splitext(os.path.basename(path))[0]
            ref = os.path.join(work, stem + "-ref.png")
            self.assertEqual(run(["vips", "thumbnail", path, ref, "1000", "--size",
                                  "both"]).returncode, 0, ref)
            (iw, ih), (vw, vh), p = against_reference(os.path.join(out, stem + ".png"), ref,
                                                      work)
            report("ok" if p >= MIN_SAME_PICTURE_DB else "FAIL", f"enlarged CMYK {stem}",
                   f"{iw}x{ih} (vipsthumbnail {vw}x{vh}), PSNR {p:.2f} dB")
            if p < MIN_SAME_PICTURE_DB:
                bad.append(f"{stem}: {iw}x{ih}, {p:.1f} dB")
        self.assertEqual(bad, [])

    def test_an_enlarged_fill_is_one_stretch_of_the_input(self):
        """--fit fill --enlarge made its master at the scale that covers the box,
        then squeezed it: 2047x15 in 20x3000 needed a 409400x3000 image (over
        --max-pixels, an error; 35 s and 4 GB without the limit), and a photo
        cut to 1203x855 at 100x2000 was 22 dB against vipsthumbnail's '!' (a
        reviewer's case). Now each is vipsthumbnail's own stretch."""
        dog, work = self.corpus_photo("dog.jpg", "fill")
        strip, cut = os.path.join(work, "strip.png"), os.path.join(work, "cut.jpg")
        self.assertEqual(run(["vips", "black", strip, "2047", "15", "--bands", "3"]).returncode, 0)
        self.assertEqual(run(["vips", "crop", dog, cut, "0", "0", "1203", "855"]).returncode, 0)
        out = os.path.join(work, "out")
        r = run([IMGPOOL, "-q", "--no-journal", "--progress", "none", "-s", "20x3000",
                 "--fit", "fill", "--enlarge", "-f", "png", "-o", out, strip])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(decode(os.path.join(out, "strip.png"), work)[:2], (20, 3000))
        r = run([IMGPOOL, "-q", "--no-journal", "--progress", "none", "-s",
                 "100x2000,2000x100", "--fit", "fill", "--enlarge", "-f", "png", "-o", out, cut])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        for w, h in ((100, 2000), (2000, 100)):
            ref = os.path.join(work, f"ref-{w}x{h}.png")
            self.assertEqual(run(["vips", "thumbnail", cut, ref, str(w), "--height", str(h),
                                  "--size", "force"]).returncode, 0)
            mine, theirs, p = against_reference(os.path.join(out, f"cut_{w}x{h}.png"), ref,
                                                work)
            self.assertEqual(mine, theirs)
            report("ok" if p >= MIN_SAME_PICTURE_DB else "FAIL", f"fill {w}x{h} --enlarge",
                   f"PSNR {p:.2f} dB against vipsthumbnail's '!'")
            self.assertGreaterEqual(p, MIN_SAME_PICTURE_DB)

    def test_a_smaller_size_on_a_tie_is_not_stretched(self):
        """-s 1652,226x276 on a 2688x2016 PNG: 226x170 is 169.5 rounded, a tie. The
        shrink from the 1652x1239 master rounds it the other way (1239 over
        1 / (1 / (1652 / 226)) is 169.49999999999997), so the one factor was
        given up for two, one per rounded side: a stretch, 36.4 dB against
        vipsthumbnail's 226x170 where one factor gives 47.8."""
        dog, work = self.corpus_photo("dog.jpg", "tie")
        src = os.path.join(work, "dog.png")
        self.assertEqual(run(["vips", "thumbnail", dog, src, "2688", "--height", "2016",
                              "--size", "force"]).returncode, 0)
        out = os.path.join(work, "out")
        r = run([IMGPOOL, "-q", "--no-journal", "--progress", "none", "-s", "1652,226x276",
                 "-f", "png", "-o", out, src])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        ref = os.path.join(work, "ref.png")
        self.assertEqual(run(["vips", "thumbnail", src, ref, "226", "--height",
                              "276"]).returncode, 0)
        mine, theirs, p = against_reference(os.path.join(out, "dog_226x276.png"), ref, work)
        self.assertEqual(mine, theirs)
        report("ok" if p >= MIN_SAME_PICTURE_DB else "FAIL", "226x170 of -s 1652,226x276",
               f"PSNR {p:.2f} dB against vipsthumbnail's (box alone)")
        self.assertGreaterEqual(p, MIN_SAME_PICTURE_DB)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: test_quality.py IMGPOOL", file=sys.stderr)
        sys.exit(2)
    IMGPOOL = os.path.abspath(sys.argv[1])
    result = unittest.main(argv=sys.argv[:1], verbosity=2, exit=False).result
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)
