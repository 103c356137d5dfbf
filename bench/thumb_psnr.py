#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""thumb_psnr.py — the quality side of bench/compare.sh: how close each tool's
thumbnails are to the best a lanczos3 thumbnailer can make.

    thumb_psnr.py --size N --files0-from LIST --work DIR [--sample K] [--ceiling Q]
                  [--per-file] NAME=OUTDIR...

Sample: up to K (default 24) of the inputs in LIST (NUL-separated, in the order
given: compare.sh sorts them by name), spread evenly over it (input i * n // K for
i = 0..K-1), so the same set gives the same sample on every run.

Reference for each sampled input: the whole image decoded at full size (no
shrink-on-load), then `vips thumbnail_image` to the box N x N (fit inside, no
enlargement, turned upright, to sRGB: vips_thumbnail()'s steps on every decoded
pixel; an embedded profile's colours exported to sRGB, as imgpool writes them),
saved as PNG in DIR (lossless). Every tool's output for that input,
OUTDIR/<stem of input>.jpg (or .png), is compared with it in sRGB 8-bit (grey
made RGB; alpha compared only where both have it, so never for JPEG sets):
PSNR = 10 log10(255^2 / MSE) over all pixels and bands.

A tool's output may be a pixel wider or taller than the reference (its own
rounding of the scaled size). Then the reference is made again from the full
decode at exactly the tool's size (thumbnail_image --size force): the tool is
judged against the best image of its own geometry. Resizing the tool's output
to the reference size would add a second resample (blur) that the tool never
made, and cropping would leave the two images' content up to a pixel apart at
the far edge: both would charge the tool for the size, not for its pixels.

With --ceiling Q, the references themselves saved as JPEG at quality Q (vips
jpegsave, as libvips-based tools write) are compared too, as the tool "@ceiling":
the best a thumbnailer writing JPEG Q can score, so a tool's figure reads as a
distance from it rather than from infinity.

--per-file also prints "NAME dB INPUT" on stderr for every comparison (where a
minimum comes from).

Prints one line per tool, in the order given (@ceiling first):
    NAME compared missing refitted median_dB min_dB
(missing: sampled inputs without an output; refitted: outputs compared against a
reference made at their own size; "inf" dB for identical images, "-" when
nothing was compared). Needs Pillow (Debian python3-pil) and the vips CLI
(libvips-tools). Stdlib otherwise: numpy is not needed (the squared error comes
from the histogram of ImageChops.difference).
"""

import argparse
import concurrent.futures
import math
import os
import statistics
import subprocess
import sys

try:
    from PIL import Image, ImageChops
except ImportError:
    sys.stderr.write("thumb_psnr.py: Pillow is missing for %s (Debian python3-pil)\n"
                     % sys.executable)
    sys.exit(2)


def sample(paths, k):
    """Up to k of paths, spread evenly, in order."""
    n = len(paths)
    if n <= k:
        return list(paths)
    return [paths[i * n // k] for i in range(k)]


def make_reference(src, dst, w, h, force):
    """src decoded at full size, thumbnailed to w x h (inside; forced when force),
    loaded. An embedded profile is honoured: libvips 8.14 keeps such an image in
    its own colour space (profile attached) unless an export profile is given,
    so an input with a profile is exported to sRGB, as imgpool and sharp write
    it (inputs without one are not: an sRGB-to-sRGB transform would move pixels
    by rounding alone). CMYK is imported to sRGB by thumbnail_image either way."""
    with Image.open(src) as img:
        profiled = bool(img.info.get("icc_profile"))
    cmd = ["vips", "thumbnail_image", src, dst, str(w), "--height", str(h),
           "--size", "force" if force else "down"]
    if profiled:
        cmd += ["--export-profile", "srgb"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    img = Image.open(dst)
    img.load()
    return img


def comparable(img, alpha):
    """img as RGB, or RGBA when both sides have alpha."""
    mode = "RGBA" if alpha else "RGB"
    return img if img.mode == mode else img.convert(mode)


def has_alpha(img):
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def psnr(a, b):
    """PSNR of two images of one size and mode, in dB (inf when identical)."""
    hist = ImageChops.difference(a, b).histogram()
    sq = sum(count * (i % 256) ** 2 for i, count in enumerate(hist) if count)
    mse = sq / (a.width * a.height * len(a.getbands()))
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def main(argv):
    p = argparse.ArgumentParser(description="PSNR of thumbnails against a full-decode reference.")
    p.add_argument("--size", type=int, required=True, metavar="N", help="the box, N x N")
    p.add_argument("--files0-from", required=True, metavar="LIST",
                   help="the inputs, NUL-separated, sorted")
    p.add_argument("--work", required=True, metavar="DIR", help="where the references go")
    p.add_argument("--sample", type=int, default=24, metavar="K",
                   help="inputs compared, at most (default 24)")
    p.add_argument("--ceiling", type=int, metavar="Q",
                   help="also score the references saved as JPEG at quality Q")
    p.add_argument("--per-file", action="store_true",
                   help="print each comparison's dB on stderr")
    p.add_argument("tools", nargs="+", metavar="NAME=OUTDIR")
    args = p.parse_args(argv)
    tools = []
    for t in args.tools:
        name, sep, out = t.partition("=")
        if not sep or not name or not out:
            p.error("'%s' is not NAME=OUTDIR" % t)
        tools.append((name, out))
    with open(args.files0_from, "rb") as f:
        paths = [os.fsdecode(x) for x in f.read().split(b"\0") if x]
    chosen = sample(paths, args.sample)
    os.makedirs(args.work, exist_ok=True)

    # The box references, two at a time (compare.sh's tools had two CPUs too).
    refs = {}

    def box_ref(i):
        dst = os.path.join(args.work, "ref-%d.png" % i)
        try:
            ref = make_reference(chosen[i], dst, args.size, args.size, False)
            if args.ceiling:
                os.makedirs(os.path.join(args.work, "@ceiling"), exist_ok=True)
                stem = os.path.splitext(os.path.basename(chosen[i]))[0]
                subprocess.run(["vips", "jpegsave", dst,
                                os.path.join(args.work, "@ceiling", stem + ".jpg"),
                                "--Q", str(args.ceiling), "--strip"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            return i, ref
        except subprocess.CalledProcessError as e:
            sys.stderr.write("thumb_psnr: no reference for %s: %s\n"
                             % (chosen[i], e.stderr.decode(errors="replace").strip()))
            return i, None

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i, img in pool.map(box_ref, range(len(chosen))):
            if img:
                refs[i] = img
    refitted_refs = {}  # (i, w, h) -> the reference made at that size

    def reference(i, w, h):
        if refs[i].size == (w, h):
            return refs[i], False
        key = (i, w, h)
        if key not in refitted_refs:
            dst = os.path.join(args.work, "ref-%d-%dx%d.png" % key)
            refitted_refs[key] = make_reference(chosen[i], dst, w, h, True)
        return refitted_refs[key], True

    if args.ceiling:
        tools.insert(0, ("@ceiling", os.path.join(args.work, "@ceiling")))
    for name, out in tools:
        dbs, missing, refitted = [], 0, 0
        for i, src in enumerate(chosen):
            if i not in refs:
                continue
            stem = os.path.splitext(os.path.basename(src))[0]
            found = [os.path.join(out, stem + e) for e in (".jpg", ".png")
                     if os.path.isfile(os.path.join(out, stem + e))]
            if not found:
                missing += 1
                continue
            with Image.open(found[0]) as img:
                img.load()
                ref, fitted = reference(i, img.width, img.height)
                refitted += fitted
                alpha = has_alpha(img) and has_alpha(ref)
                dbs.append(psnr(comparable(img, alpha), comparable(ref, alpha)))
            if args.per_file:
                sys.stderr.write("%s %.2f %s\n" % (name, dbs[-1], src))
        if dbs:
            print("%s %d %d %d %.2f %.2f" % (name, len(dbs), missing, refitted,
                                             statistics.median(dbs), min(dbs)))
        else:
            print("%s 0 %d 0 - -" % (name, missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
