#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_quality.py IMGPOOL — the quality guard: imgpool's thumbnails of the corpus
JPEGs look at least as good as vipsthumbnail's at the same settings.

Settings: longest side 256, JPEG quality 80, metadata stripped
(imgpool -s 256 -f jpeg -Q 80; vipsthumbnail -s 256 -o %s.jpg[Q=80,strip]).
imgpool colour manages every input with an embedded profile to sRGB, so for
those inputs vipsthumbnail gets the same request (--export-profile srgb); inputs
without a profile are thumbnailed as they are by both.

For every corpus JPEG (one case each):
  - same dimensions as vipsthumbnail's thumbnail, exactly (both make the same
    shrink-on-load and resize computation, so no rounding slack is needed);
  - same orientation and content: PSNR against a lossless reference
    (vipsthumbnail to PNG, same settings) at most 0.5 dB below the PSNR of
    vipsthumbnail's own JPEG against that reference. A thumbnail turned the
    wrong way (same size after a 180 degree turn or a flip, or swapped sides)
    scores far below that, so this also checks the EXIF orientation;
and one case for the whole set:
  - total bytes of imgpool's thumbnails within 5 % of vipsthumbnail's (faster
    by writing smaller, worse files does not count; nor does bloat).

Needs python3 (stdlib) and the vips, vipsthumbnail and vipsheader commands.
The corpus is $IMGPOOL_CORPUS, else ../shared/corpus/photos beside this
repository; without it (or without the vips tools) everything is skipped.
Prints one line per case and "N passed, N failed, N skipped"; exits 1 when a
case failed.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

SIZE = 256
QUALITY = 80
MAX_PSNR_LOSS_DB = 0.5
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


def finish():
    """The summary line; exit status 1 when any case failed."""
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


def corpus_dir():
    """The corpus folder: $IMGPOOL_CORPUS, else ../shared/corpus/photos beside
    the repository this test lives in."""
    env = os.environ.get("IMGPOOL_CORPUS")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "corpus", "photos"))


def corpus_jpegs(folder):
    """The non-empty *.jpg / *.jpeg files directly in folder, by name; of files
    with the same stem only the first (both tools name outputs by stem)."""
    seen, out = set(), []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        stem, ext = os.path.splitext(name)
        if name.startswith(".") or ext.lower() not in (".jpg", ".jpeg"):
            continue
        if not os.path.isfile(path) or os.path.getsize(path) == 0 or stem in seen:
            continue
        seen.add(stem)
        out.append(path)
    return out


def run(cmd, **kw):
    """Run a command, output captured; the CompletedProcess."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def has_profile(path):
    """Whether libvips sees an embedded ICC profile in path."""
    return run(["vipsheader", "-f", "icc-profile-data", path]).returncode == 0


def vipsthumbnail(files, outspec):
    """vipsthumbnail -s SIZE on files, output spec outspec (e.g. DIR/%s.jpg[Q=80,strip]);
    inputs with a profile go to sRGB (--export-profile srgb), as imgpool does."""
    with_icc = [f for f in files if has_profile(f)]
    without = [f for f in files if f not in with_icc]
    for group, extra in ((with_icc, ["--export-profile", "srgb"]), (without, [])):
        if group:
            # one file per call would be slow; vipsthumbnail goes on after a
            # failed file, and a missing output is reported per case below
            run(["vipsthumbnail", "-s", str(SIZE)] + extra + ["-o", outspec] + group)


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
    """path decoded by libvips to 8-bit RGB samples: (w, h, samples)."""
    out = os.path.join(work, "decoded.ppm")
    r = run(["vips", "copy", path, out])
    if r.returncode != 0:
        raise ValueError(f"vips cannot decode {path}: {r.stderr.decode(errors='replace').strip()}")
    w, h, _, px = read_pnm(out)
    return w, h, px


def psnr(a, b):
    """PSNR in dB of two equal-length sample strings (inf when identical)."""
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    if se == 0:
        return math.inf
    return 10 * math.log10(255.0 * 255.0 * len(a) / se)


def imgpool_outputs(imgpool, files, outdir, work):
    """Run imgpool on files; input path -> (output path, w, h) for each file it
    made, from its JSON Lines report; and its stderr."""
    rep = os.path.join(work, "report.jsonl")
    r = run([imgpool, "-j", "2", "--force", "-q", "--progress", "none",
             "-s", str(SIZE), "-f", "jpeg", "-Q", str(QUALITY),
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


def check_file(path, made, refdir, work):
    """One corpus file: dimensions and PSNR against vipsthumbnail's; returns the
    bytes of (imgpool's, vipsthumbnail's) thumbnails, or None when not compared."""
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    vt_jpg = os.path.join(refdir, stem + ".jpg")
    vt_png = os.path.join(refdir, stem + ".png")
    if not (os.path.exists(vt_jpg) and os.path.exists(vt_png)):
        report("skip", name, "vipsthumbnail made no thumbnail of it")
        return None
    if path not in made:
        report("FAIL", name, "imgpool made no thumbnail (vipsthumbnail did)")
        return None
    out, w, h = made[path]
    try:
        rw, rh, ref = decode(vt_png, work)
        vw, vh, vt = decode(vt_jpg, work)
        iw, ih, ip = decode(out, work)
    except ValueError as e:
        report("FAIL", name, str(e))
        return None
    if (iw, ih) != (vw, vh) or (iw, ih) != (w, h) or (rw, rh) != (vw, vh):
        report("FAIL", name, f"imgpool {iw}x{ih} (reported {w}x{h}), vipsthumbnail "
               f"{vw}x{vh} (PNG {rw}x{rh})")
        return None
    p_ip, p_vt = psnr(ip, ref), psnr(vt, ref)
    msg = f"{iw}x{ih}, PSNR {p_ip:.2f} dB (vipsthumbnail {p_vt:.2f} dB)"
    if p_ip < p_vt - MAX_PSNR_LOSS_DB:
        report("FAIL", name, msg + f": more than {MAX_PSNR_LOSS_DB} dB worse "
               "(wrong orientation or content, or lower quality)")
        return None
    report("ok", name, msg)
    return os.path.getsize(out), os.path.getsize(vt_jpg)


def main():
    if len(sys.argv) != 2:
        print("usage: test_quality.py IMGPOOL", file=sys.stderr)
        sys.exit(2)
    imgpool = os.path.abspath(sys.argv[1])
    folder = corpus_dir()
    if not os.path.isdir(folder):
        report("skip", "quality", f"no corpus at {folder} (set IMGPOOL_CORPUS)")
        finish()
    missing = [t for t in ("vips", "vipsthumbnail", "vipsheader") if not shutil.which(t)]
    if missing:
        report("skip", "quality", f"{', '.join(missing)} missing (apt-get install libvips-tools)")
        finish()
    files = corpus_jpegs(folder)
    if not files:
        report("skip", "quality", f"no JPEGs in {folder}")
        finish()

    work = tempfile.mkdtemp(prefix="imgpool-quality.")
    try:
        outdir, refdir = os.path.join(work, "imgpool"), os.path.join(work, "vips")
        os.makedirs(refdir)
        made, err = imgpool_outputs(imgpool, files, outdir, work)
        if not made:
            report("FAIL", "imgpool", "made no thumbnail at all: " + err.strip()[:500])
            finish()
        vipsthumbnail(files, os.path.join(refdir, f"%s.jpg[Q={QUALITY},strip]"))
        vipsthumbnail(files, os.path.join(refdir, "%s.png"))
        total_ip = total_vt = 0
        for path in files:
            sizes = check_file(path, made, refdir, work)
            if sizes:
                total_ip += sizes[0]
                total_vt += sizes[1]
        if total_vt:
            diff = (total_ip - total_vt) / total_vt
            msg = (f"imgpool {total_ip} bytes, vipsthumbnail {total_vt} bytes "
                   f"({100 * diff:+.2f} %)")
            report("ok" if abs(diff) <= MAX_BYTES_DIFF else "FAIL", "total bytes",
                   msg if abs(diff) <= MAX_BYTES_DIFF else
                   msg + f": more than {100 * MAX_BYTES_DIFF:.0f} % apart")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
