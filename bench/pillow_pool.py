#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pillow_pool.py — the fair Python competitor of imgpool in bench/compare.sh.

    pillow_pool.py [--jobs N] [--size N] [--quality Q] [--draft-gap G]
                   [--files0-from LIST] SRC OUT

Thumbnails every JPEG/PNG/WebP/TIFF directly in SRC (not in subfolders; hidden
files skipped) into OUT/<stem>.jpg, over a multiprocessing.Pool of N workers
(default 2, start method 'fork'), the way a competent Python user would:

  open; draft('RGB', (size, size)) for JPEG (libjpeg's shrink-on-load: decode
  at 1/2, 1/4 or 1/8 scale, still at least size x size); ImageOps.exif_transpose
  (correct orientation, as imgpool does); to RGB (alpha flattened on white, as
  imgpool's default --background); thumbnail((size, size)); save JPEG at
  quality Q (default 80).

--draft-gap G asks draft() for G times the box instead (G = 2: what Pillow's own
thumbnail() asks for by default, reducing_gap=2.0). draft() picks the coarsest
scale 1/2^k at which both sides still reach the box's side: at the box itself
(G = 1, the default) that is coarser than libvips' scale (which leaves a factor
of two for the resample) for most photos, less work at a lower PSNR; at G = 2 it
is libvips' scale or finer.

With --files0-from LIST the inputs are the NUL-separated paths in LIST instead
of the files in SRC (compare.sh gives every tool the same list this way).

A file that fails is reported on stderr and counted; the exit status is still 0
(as long as the pool itself ran), so a benchmark can time a folder with bad
files. Last line on stderr: "pillow: X made, Y failed of Z in S s".

Needs Pillow (Debian: python3-pil, for /usr/bin/python3; a pyenv python3 on the
PATH may not have it).
"""

import argparse
import multiprocessing
import os
import sys
import time

try:
    from PIL import Image, ImageOps
except ImportError:
    sys.stderr.write("pillow_pool.py: Pillow is missing for %s: run it with /usr/bin/python3 "
                     "(Debian python3-pil) or pip install Pillow\n" % sys.executable)
    sys.exit(2)

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}

# Set in each worker by init_worker (fork copies them anyway; explicit is clearer).
SIZE = 256
QUALITY = 80
OUT = "."
DRAFT = 256


def init_worker(size, quality, out, draft):
    """Per-worker settings, once, as imgpool's worker initializer does."""
    global SIZE, QUALITY, OUT, DRAFT
    SIZE, QUALITY, OUT, DRAFT = size, quality, out, draft


def to_rgb(img):
    """RGB for JPEG: images with alpha are flattened on white, others converted."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: scale to 8 bits first (convert("RGB") would clip at 255)
        img = img.point(lambda v: v / 256).convert("L")
    return img.convert("RGB") if img.mode != "RGB" else img


def thumb(path):
    """One task: path -> OUT/<stem>.jpg. Returns (path, None) or (path, error text)."""
    try:
        stem = os.path.splitext(os.path.basename(path))[0]
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft("RGB", (DRAFT, DRAFT))
            img = ImageOps.exif_transpose(img)
            img = to_rgb(img)
            img.thumbnail((SIZE, SIZE))
            img.save(os.path.join(OUT, stem + ".jpg"), "JPEG", quality=QUALITY)
        return path, None
    except Exception as e:  # noqa: BLE001 - any failure of one file is that file's error
        return path, "%s: %s" % (type(e).__name__, e)


def list_inputs(src, files0_from):
    """The inputs: the paths in the NUL-separated list, or the images directly in src."""
    if files0_from:
        with open(files0_from, "rb") as f:
            return [os.fsdecode(p) for p in f.read().split(b"\0") if p]
    paths = []
    with os.scandir(src) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_file():
                continue
            if os.path.splitext(e.name)[1].lower() in EXTENSIONS:
                paths.append(e.path)
    paths.sort()
    return paths


def main(argv):
    parser = argparse.ArgumentParser(
        description="Thumbnail the images of a folder with a multiprocessing.Pool and Pillow.")
    parser.add_argument("src", metavar="SRC", help="folder of images (not walked recursively)")
    parser.add_argument("out", metavar="OUT", help="output folder (made if missing)")
    parser.add_argument("-j", "--jobs", type=int, default=2, metavar="N",
                        help="worker processes (default 2)")
    parser.add_argument("-s", "--size", type=int, default=256, metavar="N",
                        help="longest side of the thumbnails (default 256)")
    parser.add_argument("-Q", "--quality", type=int, default=80, metavar="Q",
                        help="JPEG quality (default 80)")
    parser.add_argument("--draft-gap", type=float, default=1.0, metavar="G",
                        help="JPEG draft() asks for G times the box (default 1; 2 is "
                             "Pillow's thumbnail() default, reducing_gap=2.0)")
    parser.add_argument("--files0-from", metavar="LIST",
                        help="take the input paths from LIST (NUL-separated), not SRC")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.size < 1 or not 1 <= args.quality <= 100 or args.draft_gap < 1:
        parser.error("--jobs and --size must be >= 1, --quality 1-100, --draft-gap >= 1")

    paths = list_inputs(args.src, args.files0_from)
    os.makedirs(args.out, exist_ok=True)

    t0 = time.perf_counter()
    made = failed = 0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.jobs, initializer=init_worker,
                  initargs=(args.size, args.quality, args.out,
                            int(args.size * args.draft_gap))) as pool:
        for path, err in pool.imap_unordered(thumb, paths, chunksize=1):
            if err is None:
                made += 1
            else:
                failed += 1
                sys.stderr.write("pillow: %s: %s\n" % (path, err))
    seconds = time.perf_counter() - t0
    sys.stderr.write("pillow: %d made, %d failed of %d in %.2f s\n"
                     % (made, failed, len(paths), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
