#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-corpus.py — (re)write the seed inputs of the fuzz harnesses in
tests/fuzz/corpus/<name>/ and their dictionaries (<name>.dict). Both are kept in
git; this script says how each was made, so a change of format (wire.h, task.h)
or a new option is one run of it.

Seeds are small valid inputs in each harness's input format (see the comment at
the top of each fuzz_<name>.c): libFuzzer mutates from them, so they only need
to reach the interesting code, not to be clever.
"""
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

WIRE_MAGIC = 0x4C4F4F50
WIRE_TASKS, WIRE_RESULTS, WIRE_READY, WIRE_INIT_FAILED = 1, 2, 3, 4


def pad8(b):
    return b + b"\0" * (-len(b) % 8)


def wire_message(mtype, records=(), body=b""):
    """A wire message: header {magic, type, flags, count, pad, len} + body."""
    body = body + b"".join(records)
    return struct.pack("<IHHIIQ", WIRE_MAGIC, mtype, 0, len(records), 0, len(body)) + body


def task_record(tid, fn, arg):
    return struct.pack("<QQQ", tid, fn, len(arg)) + pad8(arg)


def result_record(tid, status, data, start=1000, end=2000):
    return struct.pack("<QIIqqQ", tid, status, 0, start, end, len(data)) + pad8(data)


def task_bytes(inp, formats, index=0):
    """task_encode(): u32 count, u64 feed index, a format byte per output, then the
    NUL-terminated input."""
    return struct.pack("<IQ", len(formats), index) + bytes(formats) + inp + b"\0"


def thumb_result(in_w, in_h, in_bytes, outs):
    """struct thumb_result on x86-64: in_w, in_h, in_bytes, in_checksum, nout, then 8
    output slots of {int w, h; u64 bytes}."""
    slots = list(outs) + [(0, 0, 0)] * (8 - len(outs))
    return (struct.pack("<iiQQi4x", in_w, in_h, in_bytes, 0x1234, len(outs)) +
            b"".join(struct.pack("<iiQ", *s) for s in slots))


def packets(*chunks):
    """The socket path's input: each packet as a 2-byte length then its bytes."""
    return b"".join(struct.pack("<H", len(c)) + c for c in chunks)


def seeds():
    """{harness: {file name: bytes}}."""
    task = task_bytes(b"/photos/a.jpg", [1, 1], 7)
    res = thumb_result(4032, 3024, 3100000, [(1600, 1200, 412300), (320, 240, 21000)])
    tasks_msg = wire_message(WIRE_TASKS, [task_record(1, 0, task), task_record(2, 0, b"x")])
    results_msg = wire_message(WIRE_RESULTS, [result_record(1, 1, res),
                                              result_record(2, 2, b"VipsJpeg: Premature end")])
    ready = wire_message(WIRE_READY)
    failed = wire_message(WIRE_INIT_FAILED, body=b"libvips: cannot start")
    half = len(results_msg) // 2
    return {
        "wire": {
            "tasks": b"\0\5" + tasks_msg,
            "results": b"\0\5" + results_msg,
            "ready": b"\0\5" + ready,
            "init-failed": b"\0\5" + failed,
            "sock-results": b"\1\5" + packets(results_msg),
            "sock-split": b"\1\4" + packets(results_msg[:half], results_msg[half:]),
            "sock-two": b"\1\5" + packets(ready, tasks_msg),
        },
        "sizes": {n: v.encode() for n, v in [
            ("one", "256"), ("list", "1600,800,320"), ("box", "320x240"),
            ("height", "x200"), ("width", "300x"), ("bytes", "1.5GiB"), ("pct", "5%"),
            ("mega", "512M")]},
        "template": {
            "default": b"\x00\x01\x00\x01{dir}/{stem}.{ext}\0a/b\0photo\0JPG\0jpg",
            "sizes": b"\x40\x06\xb0\x04{dir}/{stem}_{size}.{ext}\0\0IMG_0412\0jpeg\0webp",
            "fields": b"\x40\x01\x00\x00{w}x{h}/{inext}/{stem}.{ext}\0d\0s\0png\0png",
        },
        "cmdline": {
            "recursive": b"-r\0-s\0" b"1600,320\0-o\0/nonexistent/out\0src",
            "bundle": b"-rqn\0-j2\0--fit=cover\0--crop\0attention\0-o\0/nonexistent/o\0x",
            "formats": b"-f\0webp\0-Q\0" b"90\0--background\0#102030\0--name\0{stem}.{ext}\0p",
            "report": b"--report\0-\0--progress\0lines\0--progress-interval\0" b"0.5\0--\0-x",
            "limits": b"--max-pixels\0" b"100\0--timeout\0" b"2.5\0--retries\0" b"3\0"
                      b"--min-free\0" b"5%\0--max-worker-rss\0" b"1G\0--shard\0" b"2/3\0a",
            "help": b"--help",
        },
        "json": {
            "plain": b"/photos/2024/IMG_0412.jpg",
            "escapes": b"new\nline\ttab \"quoted\" back\\slash \x01\x1f\x7f",
            "utf8": "caf\u00e9 \u65e5\u672c \U0001f4f7.jpg".encode(),
            "bad-utf8": b"bad\xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80.jpg",
        },
        "task": {
            "task": b"\0" + task,
            "task-one": b"\0" + task_bytes(b"in.png", [2]),
            "result": b"\1" + res,
            "error": b"\2" + bytes([1]) + b"VipsJpeg: Premature end of input file",
        },
    }


def option_words():
    """Every long option of app/options.c, the short ones and common values:
    the dictionary that lets fuzz_cmdline reach each option quickly."""
    src = open(os.path.join(HERE, "..", "..", "app", "options.c")).read()
    longs = re.findall(r'\{"([a-z0-9-]+)", (?:required|no|optional)_argument', src)
    words = {"--" + w for w in longs}
    words |= {"-" + c for c in "orsfQjnqvhV"}
    words |= {"--", "-", "=", "none", "auto", "bar", "lines", "inside", "cover", "fill",
              "centre", "attention", "same", "jpeg", "png", "webp", "avif", "white",
              "black", "#ffffff", "1,2,3", "x", "1G", "5%", "1/2", "{shard}"}
    return sorted(words)


def dictionaries():
    """{file name: (comment, words)} of the libFuzzer dictionaries."""
    return {
        "cmdline.dict": ("Option names and values of imgpool, for fuzz_cmdline.",
                         option_words()),
        "template.dict": ("Placeholders and path pieces, for fuzz_template.",
                          ["{dir}", "{stem}", "{ext}", "{inext}", "{w}", "{h}", "{size}",
                           "/", "//", "..", ".", "{", "}", "\\x00"]),
        "sizes.dict": ("Pieces of --size, --min-free and --max-worker-rss values.",
                       [",", "x", "X", "%", "K", "M", "G", "T", "B", "iB", "e", ".", "-",
                        "+", "100000", "0x", "inf", "nan"]),
        "png.dict": ("PNG chunk names and the signature, for fuzz_png.",
                     ["\\x89PNG\\x0d\\x0a\\x1a\\x0a", "IHDR", "PLTE", "IDAT", "IEND", "tRNS",
                      "eXIf", "iCCP", "gAMA", "sRGB", "bKGD", "MM\\x00*", "II*\\x00",
                      "\\x01\\x12\\x00\\x03"]),
        "jpegscan.dict": ("JPEG markers and scan headers, for fuzz_jpegscan.",
                          ["\\xFF\\xD8", "\\xFF\\xD9", "\\xFF\\xDA", "\\xFF\\xC2",
                           "\\xFF\\xC0", "\\xFF\\xC4", "\\xFF\\xDB", "\\xFF\\xDD",
                           "\\xFF\\xDC", "\\xFF\\xFE", "\\xFF\\xD0", "\\xFF\\x00",
                           "\\xFF\\xFF", "\\x00\\x08\\x01\\x01\\x00\\x01\\x3F\\x00",
                           "\\x00\\x0C\\x03\\x01\\x00\\x02\\x11\\x03\\x11\\x00\\x00\\x01"]),
    }


def jpeg_seeds():
    """Tiny JPEGs for fuzz_jpeg, made with Pillow (Debian's python3-pil): each
    kind the fast path parses -- baseline and progressive RGB, grey, CMYK (Adobe,
    inverted), an EXIF orientation, an ICC profile split over two APP2 chunks.
    Empty when Pillow is missing (the seeds in git stay as they are)."""
    try:
        import io
        from PIL import Image
    except ImportError:
        return {}

    def jpeg(mode, size=(24, 16), **kw):
        im = Image.new(mode, size)
        for y in range(size[1]):
            for x in range(size[0]):
                v = (x * 11 + y * 7) % 256
                im.putpixel((x, y), v if mode == "L" else tuple(
                    (v + 60 * k) % 256 for k in range(len(mode))))
        b = io.BytesIO()
        im.save(b, "JPEG", quality=60, **kw)
        return b.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    # An ICC-looking profile long enough to need two APP2 chunks' worth of
    # sequence numbers when split: header, an "RGB " space, a tag count of 0.
    icc = bytearray(128 + 4 + 200)
    icc[0:4] = len(icc).to_bytes(4, "big")
    icc[16:20] = b"RGB "
    icc[20:24] = b"XYZ "
    icc[36:40] = b"acsp"
    out = {
        "baseline.jpg": jpeg("RGB"),
        "progressive.jpg": jpeg("RGB", progressive=True),
        "grey.jpg": jpeg("L"),
        "cmyk.jpg": jpeg("CMYK"),
        "orientation-6.jpg": jpeg("RGB", exif=exif.tobytes()),
        "icc.jpg": jpeg("RGB", icc_profile=bytes(icc)),
    }
    # The ICC chunk rewritten as two: "ICC_PROFILE\0" seq 1 of 2 and 2 of 2.
    data = out["icc.jpg"]
    at = data.find(b"ICC_PROFILE\0")
    if at > 4:
        seg_start = at - 4
        seg_len = int.from_bytes(data[at - 2:at], "big")
        body = data[at + 14:at - 2 + seg_len]
        half = len(body) // 2
        segs = b""
        for seq, part in ((1, body[:half]), (2, body[half:])):
            payload = b"ICC_PROFILE\0" + bytes([seq, 2]) + part
            segs += b"\xff\xe2" + (len(payload) + 2).to_bytes(2, "big") + payload
        out["icc-two-chunks.jpg"] = data[:seg_start] + segs + data[at - 2 + seg_len:]
    return out


def jpegscan_seeds():
    """Small progressive JPEGs for fuzz_jpegscan, made with libvips' jpegsave
    (the vips command, Debian's libvips-tools; libjpeg's simple progression, whose
    DC refinement scan comes after AC scans): 4:2:0, 4:4:4 with restart markers,
    grey, CMYK, and a baseline one. Each ends in a byte the harness reads as its
    drop mask: a trailing byte after the EOI, which the walker leaves out.
    Empty when vips is missing (the seeds in git stay as they are)."""
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("vips"):
        return {}
    w, h = 40, 24
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        rgb = os.path.join(tmp, "in.ppm")
        grey = os.path.join(tmp, "in.pgm")
        cmyk = os.path.join(tmp, "cmyk.v")
        px = bytearray()
        for y in range(h):
            for x in range(w):
                px += bytes(((x * 11 + y * 7 + (x * y) % 13 + 60 * k) % 256) for k in range(3))
        with open(rgb, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h) + px)
        with open(grey, "wb") as f:
            f.write(b"P5\n%d %d\n255\n" % (w, h) + px[::3])
        subprocess.run(["vips", "colourspace", rgb, cmyk, "cmyk"], check=True)
        kinds = {
            "progressive-420.jpg": (rgb, ["--interlace", "--subsample-mode", "on"], 0x01),
            "progressive-444-restart.jpg": (rgb, ["--interlace", "--subsample-mode", "off",
                                                  "--restart-interval", "2"], 0x07),
            "progressive-grey.jpg": (grey, ["--interlace"], 0x01),
            "progressive-cmyk.jpg": (cmyk, ["--interlace"], 0x0F),
            "baseline.jpg": (rgb, [], 0x07),
        }
        for name, (src, opts, mask) in kinds.items():
            dst = os.path.join(tmp, name)
            subprocess.run(["vips", "jpegsave", src, dst, "--Q", "70", "--strip"] + opts,
                           check=True)
            with open(dst, "rb") as f:
                out[name] = f.read() + bytes([mask])
    return out


def png_seeds():
    """Small PNGs for fuzz_png, made with libvips' pngsave (the vips command): RGB,
    RGBA interlaced, palette with transparency (tRNS), grey of 1 bit, grey +
    alpha, 16-bit RGB. Each ends in a byte the harness reads as its shrink and
    orientation: a trailing byte after the IEND chunk, which libpng never reads.
    Empty when vips is missing (the seeds in git stay as they are)."""
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("vips"):
        return {}
    w, h = 33, 21
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        rgb = os.path.join(tmp, "in.ppm")
        px = bytearray()
        for y in range(h):
            for x in range(w):
                px += bytes(((x * 11 + y * 7 + (x * y) % 13 + 60 * k) % 256) for k in range(3))
        with open(rgb, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h) + px)
        rgba = os.path.join(tmp, "rgba.v")
        grey = os.path.join(tmp, "grey.v")
        ga = os.path.join(tmp, "ga.v")
        rgb16 = os.path.join(tmp, "rgb16.v")
        subprocess.run(["vips", "bandjoin_const", rgb, rgba, "100"], check=True)
        subprocess.run(["vips", "colourspace", rgb, grey, "b-w"], check=True)
        subprocess.run(["vips", "bandjoin_const", grey, ga, "200"], check=True)
        subprocess.run(["vips", "colourspace", rgb, rgb16, "rgb16"], check=True)
        kinds = {
            "rgb.png": (rgb, [], 0x13),
            "rgba-interlaced.png": (rgba, ["--interlace"], 0x54),
            "palette-trns.png": (rgba, ["--palette"], 0x22),
            "grey-1bit.png": (grey, ["--bitdepth", "1"], 0x03),
            "grey-alpha.png": (ga, [], 0x75),
            "rgb16.png": (rgb16, [], 0x31),
        }
        for name, (src, opts, pick) in kinds.items():
            dst = os.path.join(tmp, name)
            subprocess.run(["vips", "pngsave", src, dst, "--strip"] + opts, check=True)
            with open(dst, "rb") as f:
                out[name] = f.read() + bytes([pick])
    return out


def main():
    for name, (comment, words) in dictionaries().items():
        with open(os.path.join(HERE, name), "w") as f:
            f.write(f"# {comment} Written by make-corpus.py.\n")
            for w in words:
                f.write('"' + w.replace('"', '\\"') + '"\n')
    all_seeds = seeds()
    jpegs = jpeg_seeds()
    if jpegs:
        all_seeds["jpeg"] = jpegs
    scans = jpegscan_seeds()
    if scans:
        all_seeds["jpegscan"] = scans
    pngs = png_seeds()
    if pngs:
        all_seeds["png"] = pngs
    for harness, files in all_seeds.items():
        d = os.path.join(HERE, "corpus", harness)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print(f"make-corpus: seeds written under {os.path.join(HERE, 'corpus')}")


if __name__ == "__main__":
    main()
