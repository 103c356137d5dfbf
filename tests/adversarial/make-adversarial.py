#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-adversarial.py OUTDIR — a folder of hostile inputs for imgpool, and the
outcome each one must have.

Everything is made here from images the `vips` command generates (nothing is
downloaded), with the Python standard library for the byte surgery:

  OUTDIR/src/           the folder imgpool is run over (not recursively)
  OUTDIR/outside/       a valid image the out-of-tree symlink points to, and a
                        folder a symlink named like an image points to
  OUTDIR/expected.json  {"src": "src", "files": [ENTRY, ...]}

Each ENTRY says what imgpool must do with one name found in src/:
  "name"   the name, a str decoded with surrogateescape (so invalid UTF-8
           round-trips: name.encode("utf-8", "surrogateescape"))
  "bytes"  the same name as a list of byte values, for tools that prefer them
  "expect" "ok" (thumbnailed), "error" (one error line, no output), "skip"
           (silently not picked up: hidden, not an image name, in a subfolder)
           or "either" (ok or error: damage a decoder cannot always see)
  "cause"  for "error": a substring that must appear in the error, or a list of
           alternatives (any one of them)
  "why"    what the case is, for the test's output
  "as_nonroot"        the case only bites for a user without CAP_DAC_OVERRIDE
  "delete_during_run" the test deletes this file once the run has started; it
                      is the smallest valid image, so imgpool (which visits the
                      files of a folder largest first) reaches it last
The "filler" images are big, slow-ish valid JPEGs, there so a run lasts long
enough for that deletion to land mid-run.

Usage: make-adversarial.py OUTDIR [--fillers N]
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

# Cause substrings. Kept loose where libjpeg/libpng word the same fault in
# several ways depending on where the bytes run out.
NOT_IMAGE = "not a known file format"
OVER_LIMIT = "over the limit"
PREMATURE = "Premature end"
# libvips' PNG loader reports "libpng read error" and sends libpng's own words
# ("IDAT: CRC error", "Read Error") to a glib warning; the first alternatives
# are what imgpool says today, the others what a better message would hold.
PNG_BODY = ["libpng read error", "CRC error", "Read Error", "Not enough image data",
            "data check"]
PNG_HEADER = ["cannot read the image header", "libpng read error", "CRC error",
              "Read Error", "IHDR"]


# --------------------------------------------------------------------------
# Base images, made once with the vips CLI

def vips(*args):
    """Run one vips command; a failure stops the generator with its message."""
    r = subprocess.run(["vips"] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"make-adversarial: vips {' '.join(map(str, args))}: {r.stderr.strip()}")


def noise_image(path, w, h, options=""):
    """A noise image (noise makes every byte of the compressed body matter, so
    a cut or a flipped bit is really felt by the decoder). Seeded: the same
    bytes on every run, so the seeded bit flips below land on the same bits."""
    tmp = path + ".v"
    vips("gaussnoise", tmp, w, h, "--mean", 128, "--sigma", 40, "--seed", 42)
    vips("cast", tmp, path + options, "uchar")
    os.unlink(tmp)


def make_bases(work):
    """The valid images every case is cut from: returns {name: bytes}."""
    paths = {
        "jpeg": (os.path.join(work, "base.jpg"), 640, 480, "[Q=85]"),
        "png": (os.path.join(work, "base.png"), 320, 240, ""),
        "small": (os.path.join(work, "small.jpg"), 64, 48, "[Q=85]"),
        "tiny": (os.path.join(work, "tiny.jpg"), 8, 8, "[Q=50,strip]"),
        "filler": (os.path.join(work, "filler.jpg"), 2400, 1600, "[Q=90]"),
    }
    out = {}
    for key, (path, w, h, opts) in paths.items():
        noise_image(path, w, h, opts)
        with open(path, "rb") as f:
            out[key] = f.read()
    return out


# --------------------------------------------------------------------------
# Byte surgery

def jpeg_segments(data):
    """(marker, offset, length) of each JPEG header segment up to and including
    SOS; length counts the segment's own 2-byte length field."""
    segs, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segs.append((marker, pos, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return segs


def jpeg_scan_start(data):
    """Offset of the first entropy-coded byte (just after the SOS header)."""
    _, off, length = [s for s in jpeg_segments(data) if s[0] == 0xDA][0]
    return off + 2 + length


def jpeg_set_size(data, w, h):
    """The same JPEG with its SOF0 declaring w x h: a header that lies."""
    for marker, off, _ in jpeg_segments(data):
        if marker in (0xC0, 0xC1, 0xC2):
            b = bytearray(data)
            b[off + 5:off + 9] = struct.pack(">HH", h, w)
            return bytes(b)
    raise ValueError("no SOF segment")


def png_chunks(data):
    """(type, offset of the length field, data length) of each PNG chunk."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        chunks.append((data[pos + 4:pos + 8], pos, n))
        pos += 12 + n
    return chunks


def png_chunk(ctype, body):
    """One PNG chunk with a correct CRC."""
    return (struct.pack(">I", len(body)) + ctype + body +
            struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF))


def png_bomb(w, h):
    """A PNG whose header declares w x h 8-bit grey pixels, with a valid IHDR
    and a small IDAT (two zero rows): tiny on disk, w*h bytes if decoded."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (2 * (w + 1)), 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) +
            png_chunk(b"IEND", b""))


def flip(data, offsets):
    """data with every byte at offsets inverted."""
    b = bytearray(data)
    for i in offsets:
        b[i] ^= 0xFF
    return bytes(b)


def random_offsets(seed, lo, hi, n):
    """n distinct offsets in [lo, hi), the same on every run (seeded)."""
    return random.Random(seed).sample(range(lo, hi), n)


def png_flip_idat(data, fix_crc):
    """Flip bytes inside the first IDAT; with fix_crc, recompute its CRC so the
    damage reaches zlib instead of being caught by the chunk checksum."""
    ctype, off, n = [c for c in png_chunks(data) if c[0] == b"IDAT"][0]
    body = flip(data[off + 8:off + 8 + n], random_offsets(7, n // 4, n, 16))
    chunk = png_chunk(b"IDAT", body) if fix_crc else \
        data[off:off + 8] + body + data[off + 8 + n:off + 12 + n]
    return data[:off] + chunk + data[off + 12 + n:]


# --------------------------------------------------------------------------
# The cases

def entry(name, expect, why, cause=None, **flags):
    """One row of expected.json (name as str or bytes)."""
    raw = name if isinstance(name, bytes) else name.encode("utf-8")
    e = {"name": raw.decode("utf-8", "surrogateescape"), "bytes": list(raw),
         "expect": expect, "why": why}
    if cause is not None:
        e["cause"] = cause
    e.update(flags)
    return e


def jpeg_marker_in_scan(data):
    """A JPEG whose scan has an end-of-image marker in its middle: the decoder
    meets a marker where entropy-coded data should be."""
    scan = jpeg_scan_start(data)
    mid = (scan + len(data)) // 2
    return data[:mid] + b"\xff\xd9" + data[mid + 2:]


def content_cases(b):
    """Regular files whose bytes are hostile: (name, bytes, ENTRY).

    "either" marks damage no decoder can always see (inverted bytes inside
    entropy-coded data decode to wrong pixels without any complaint): the rule
    there is only no crash, no hang, and an error leaves no output."""
    jpg, png = b["jpeg"], b["png"]
    scan = jpeg_scan_start(jpg)
    ihdr_end = 8 + 12 + 13
    sof = [s for s in jpeg_segments(jpg) if s[0] in (0xC0, 0xC1, 0xC2)][0]
    dht = [s for s in jpeg_segments(jpg) if s[0] == 0xC4][0]
    cases = [
        ("empty.jpg", b"", "error", "zero-byte file named .jpg", "empty file"),
        ("empty.png", b"", "error", "zero-byte file named .png", "empty file"),
        ("jpeg-soi-only.jpg", jpg[:2], "error", "JPEG cut after its first 2 bytes",
         [PREMATURE, NOT_IMAGE]),
        ("jpeg-header-only.jpg", jpg[:scan], "error",
         "JPEG cut at the start of its scan (all headers, no pixels)", PREMATURE),
        ("jpeg-trunc-10.jpg", jpg[:len(jpg) // 10], "error", "JPEG cut at 10 %", PREMATURE),
        ("jpeg-trunc-50.jpg", jpg[:len(jpg) // 2], "error", "JPEG cut at 50 %", PREMATURE),
        ("jpeg-trunc-90.jpg", jpg[:len(jpg) * 9 // 10], "error", "JPEG cut at 90 %", PREMATURE),
        ("jpeg-no-eoi.jpg", jpg[:-2], "either",
         "JPEG missing only its 2-byte end marker (every pixel is there; libjpeg warns "
         "only if its look-ahead runs into the end)", PREMATURE),
        ("png-sig-only.png", png[:8], "error", "PNG signature alone", PNG_HEADER),
        ("png-header-only.png", png[:ihdr_end], "error", "PNG cut after its IHDR",
         PNG_HEADER),
        ("png-trunc-10.png", png[:len(png) // 10], "error", "PNG cut at 10 %", PNG_BODY),
        ("png-trunc-50.png", png[:len(png) // 2], "error", "PNG cut at 50 %", PNG_BODY),
        ("png-trunc-90.png", png[:len(png) * 9 // 10], "error", "PNG cut at 90 %", PNG_BODY),
        ("png-huge-text.png", png[:ihdr_end] + struct.pack(">I", 0x3FFFFFFF) + b"tEXt" +
         png_chunk(b"IEND", b""), "error",
         "PNG whose text chunk claims 1 GiB in 53 bytes (as libpng's crashers; a "
         "decoder would allocate it first)", "tEXt chunk claims 1073741823 bytes"),
        ("png-no-iend.png", png[:-12], "ok",
         "PNG missing only its IEND trailer (every pixel is there)", None),
        ("jpeg-flip-soi.jpg", flip(jpg, [0]), "error",
         "JPEG with its start-of-image marker inverted", NOT_IMAGE),
        ("jpeg-flip-sof.jpg", flip(jpg, [sof[1] + 4, sof[1] + 9]), "error",
         "JPEG with bytes of its frame header inverted", ["Bogus", "VipsJpeg"]),
        ("jpeg-flip-dht.jpg", flip(jpg, range(dht[1] + 5, dht[1] + 21)), "error",
         "JPEG with its first Huffman table's code counts inverted",
         ["Bogus Huffman table", "VipsJpeg"]),
        ("jpeg-marker-in-scan.jpg", jpeg_marker_in_scan(jpg), "error",
         "JPEG with an end-of-image marker in the middle of its scan", "Corrupt JPEG data"),
        ("jpeg-flip-body.jpg", flip(jpg, random_offsets(1, scan, len(jpg) - 2, 64)), "either",
         "JPEG with 64 random bytes of its scan inverted (undetectable in general)",
         "Corrupt JPEG data"),
        ("png-flip-sig.png", flip(png, [1]), "error", "PNG with its signature broken",
         NOT_IMAGE),
        ("png-flip-ihdr.png", flip(png, [17, 18]), "error",
         "PNG with its IHDR width inverted (CRC now wrong)", PNG_HEADER),
        ("png-flip-body.png", png_flip_idat(png, fix_crc=False), "error",
         "PNG with 16 IDAT bytes inverted (CRC now wrong)", PNG_BODY),
        ("png-flip-body-crc-ok.png", png_flip_idat(png, fix_crc=True), "error",
         "PNG with 16 IDAT bytes inverted and the CRC fixed up (zlib sees it)", PNG_BODY),
        ("text.jpg", b"This is a text file, not a photo.\n" * 20, "error",
         "a text file named .jpg", NOT_IMAGE),
        ("html.png", b"<!doctype html><title>404 Not Found</title>\n", "error",
         "an HTML error page saved as .png", NOT_IMAGE),
        ("jpeg-named.png", jpg, "ok", "a valid JPEG named .png (sniffed by content)", None),
        ("png-named.jpg", png, "ok", "a valid PNG named .jpg (sniffed by content)", None),
        ("bomb-100000.png", png_bomb(100000, 100000), "error",
         "PNG declaring 100000 x 100000 pixels, a few hundred bytes on disk", OVER_LIMIT),
        ("bomb-sof-65500.jpg", jpeg_set_size(b["small"], 65500, 65500), "error",
         "small JPEG whose frame header claims 65500 x 65500", OVER_LIMIT),
    ]
    return [(n, data, entry(n, exp, why, cause)) for n, data, exp, why, cause in cases]


def odd_name_cases(b):
    """Valid small JPEGs whose names are hostile to shells, terminals and JSON."""
    names = [
        ("with space.jpg", "a space"),
        ('double"quote.jpg', "a double quote"),
        ("single'quote.jpg", "a single quote"),
        ("new\nline.jpg", "a newline"),
        ("tab\there.jpg", "a tab"),
        ("-leading-dash.jpg", "a leading dash"),
        ("--help.jpg", "a leading double dash"),
        ("back\\slash.jpg", "a backslash"),
        ("brace{stem}.jpg", "a template placeholder"),
        ("caf\u00e9 \u65e5\u672c.jpg", "valid UTF-8 beyond ASCII"),
        (b"bad\xff\xfeutf8.jpg", "invalid UTF-8 bytes"),
        (b"lone\xc3.jpg", "a cut UTF-8 sequence"),
        (b"ctrl\x01\x1b[31m.jpg", "control bytes and an escape sequence"),
        ("UPPER.JPG", "an upper-case extension"),
    ]
    return [(n, b["small"], entry(n, "ok", "name with " + why)) for n, why in names]


def skip_cases(b):
    """Files imgpool must not pick up at all."""
    return [
        (".hidden.jpg", b["small"], entry(".hidden.jpg", "skip", "a hidden file")),
        ("notes.txt", b"not an image\n", entry("notes.txt", "skip", "not an image name")),
        ("README", b"no extension\n", entry("README", "skip", "no extension")),
        ("sub/inner.jpg", b["small"], entry("sub/inner.jpg", "skip",
                                            "in a subfolder, run without -r")),
    ]


def write_files(src, cases):
    """Write every (name, bytes) case under src."""
    for name, data, _ in cases:
        path = os.path.join(os.fsencode(src), name if isinstance(name, bytes) else
                            name.encode("utf-8"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def big_jpeg(src):
    """A real 20000 x 20000 JPEG: black compresses to a few MB in well under a
    second. Over the default --max-pixels (268402689), so refused from its
    header."""
    vips("black", os.path.join(src, "huge-20000.jpg"), 20000, 20000)
    return entry("huge-20000.jpg", "error",
                 "a real 20000 x 20000 JPEG (400 Mpx, a few MB on disk)", OVER_LIMIT)


def special_files(src, outside, b):
    """Things that are not plain files: mode 000, FIFO, symlinks."""
    def at(name):
        return os.path.join(src, name)

    rows = []
    with open(at("unreadable.jpg"), "wb") as f:
        f.write(b["small"])
    os.chmod(at("unreadable.jpg"), 0)
    rows.append(entry("unreadable.jpg", "error", "a file of mode 000", "Permission denied",
                      as_nonroot=True))
    os.mkfifo(at("fifo.jpg"))
    rows.append(entry("fifo.jpg", "error", "a FIFO named .jpg (opening it would block)",
                      "not a regular file"))
    os.symlink("loop-b.jpg", at("loop-a.jpg"))
    os.symlink("loop-a.jpg", at("loop-b.jpg"))
    os.symlink("loop-self.jpg", at("loop-self.jpg"))
    for n in ("loop-a.jpg", "loop-b.jpg", "loop-self.jpg"):
        rows.append(entry(n, "error", "a symlink loop",
                          ["symlink loop", "Too many levels of symbolic links"]))
    os.symlink("no-such-target.jpg", at("dangling.jpg"))
    rows.append(entry("dangling.jpg", "error", "a dangling symlink",
                      ["broken symlink", "No such file or directory"]))
    with open(os.path.join(outside, "target.jpg"), "wb") as f:
        f.write(b["small"])
    os.symlink(os.path.join("..", "outside", "target.jpg"), at("outside-link.jpg"))
    rows.append(entry("outside-link.jpg", "ok",
                      "a symlink to a valid image outside the tree (read through; "
                      "the output still goes inside -o)"))
    os.makedirs(os.path.join(outside, "folder"), exist_ok=True)
    os.symlink(os.path.join("..", "outside", "folder"), at("folder-link.jpg"))
    rows.append(entry("folder-link.jpg", "skip", "a symlink to a folder, named .jpg"))
    return rows


def filler_and_victim(src, b, n):
    """n big valid JPEGs (so the run lasts a second or two) and the smallest
    valid image, which the test deletes mid-run."""
    rows = []
    first = os.path.join(src, "filler-00.jpg")
    with open(first, "wb") as f:
        f.write(b["filler"])
    for i in range(n):
        name = f"filler-{i:02d}.jpg"
        if i:
            os.link(first, os.path.join(src, name))  # hard links: no disk cost
        rows.append(entry(name, "ok", "a big valid JPEG (keeps the run busy)"))
    with open(os.path.join(src, "vanish.jpg"), "wb") as f:
        f.write(b["tiny"])
    rows.append(entry("vanish.jpg", "error",
                      "a file deleted while the run is going (after discovery saw it)",
                      "No such file or directory", delete_during_run=True))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--fillers", type=int, default=48,
                    help="big valid JPEGs that keep the run busy (default 48)")
    a = ap.parse_args()
    src = os.path.join(a.outdir, "src")
    outside = os.path.join(a.outdir, "outside")
    if os.path.exists(src):
        sys.exit(f"make-adversarial: {src} exists; give a new or empty OUTDIR")
    os.makedirs(src)
    os.makedirs(outside, exist_ok=True)
    work = tempfile.mkdtemp(prefix="adversarial-base-")
    try:
        b = make_bases(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cases = content_cases(b) + odd_name_cases(b) + skip_cases(b)
    write_files(src, cases)
    rows = [c[2] for c in cases]
    rows.append(big_jpeg(src))
    rows += special_files(src, outside, b)
    rows += filler_and_victim(src, b, a.fillers)
    with open(os.path.join(a.outdir, "expected.json"), "w") as f:
        json.dump({"src": "src", "files": rows}, f, indent=1)
    print(f"make-adversarial: {len(rows)} cases in {src}")


if __name__ == "__main__":
    main()
