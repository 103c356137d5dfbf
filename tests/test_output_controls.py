#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the output controls: --progressive, --subsample, --effort,
--lossless, --no-rotate, --keep-metadata[=LIST] and --fail-on. Each is checked in
the bytes of real outputs (Pillow decodes them), and each re-makes outputs when it
changes (the settings fingerprint).

Run by CTest as: test_output_controls.py IMGPOOL [unittest arguments]
Needs Pillow (Debian's python3-pil); skips where it is missing.
"""
import io
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib

IMGPOOL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "imgpool"

try:
    from PIL import Image, ImageCms, JpegImagePlugin
except ImportError:  # pragma: no cover - depends on the machine
    Image = None

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
# JpegImagePlugin.get_sampling(): 0 is 4:4:4, 2 is 4:2:0.
SAMPLING_444, SAMPLING_420 = 0, 2


def run(args):
    return subprocess.run([IMGPOOL] + args, capture_output=True, text=True, timeout=300)


def noise(w, h, seed=1):
    """An RGB image with detail in every channel (so encoders have work to do and
    subsampling and lossy coding change pixels)."""
    data = bytearray()
    x = seed
    for _ in range(w * h * 3):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        data.append((x >> 16) & 0xFF)
    return Image.frombytes("RGB", (w, h), bytes(data)).resize((w, h))


def exif_with(orientation=1, gps=True):
    ex = Image.Exif()
    ex[MAKE] = "imgpool-test"
    ex[ORIENTATION] = orientation
    if gps:
        ex[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)}
    return ex.tobytes()


@unittest.skipIf(Image is None, "Pillow (python3-pil) is not installed")
class OutputControls(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgpool-controls-")
        self.inp = os.path.join(self.tmp, "in")
        os.mkdir(self.inp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def photo(self, name, w=400, h=300, orientation=1, gps=True, icc=False):
        kw = {"exif": exif_with(orientation, gps), "quality": 92}
        if icc:
            kw["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        noise(w, h).save(os.path.join(self.inp, name), **kw)

    def make(self, *args, out="out", code=0):
        out = os.path.join(self.tmp, out)
        r = run(["-q", "-o", out, "--report", os.path.join(self.tmp, "report.jsonl")]
                + list(args) + [self.inp])
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return out

    def statuses(self):
        with open(os.path.join(self.tmp, "report.jsonl")) as f:
            return sorted(o["status"] for o in map(json.loads, f) if o["type"] == "file")

    def refused(self, args, want):
        r = run(args + [self.inp])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, "imgpool: " + want + "\n")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "in-thumbs")))

    # ------------------------------------------------------------ JPEG coding --

    def test_progressive(self):
        self.photo("a.jpg")
        plain = self.make(out="plain")
        prog = self.make("--progressive", out="prog")
        with Image.open(os.path.join(plain, "a.jpg")) as im:
            self.assertFalse(im.info.get("progressive"))
        with Image.open(os.path.join(prog, "a.jpg")) as im:
            self.assertTrue(im.info.get("progressive"))
            self.assertEqual(im.size, (256, 192))

    def test_subsample(self):
        self.photo("a.jpg")
        cases = [([], SAMPLING_420), (["--subsample", "off"], SAMPLING_444),
                 (["--subsample", "on", "-Q", "95"], SAMPLING_420),
                 (["--subsample", "auto", "-Q", "95"], SAMPLING_444),
                 (["--subsample", "off", "--progressive"], SAMPLING_444)]
        for i, (args, want) in enumerate(cases):
            out = self.make(*args, out="o%d" % i)
            with Image.open(os.path.join(out, "a.jpg")) as im:
                self.assertEqual(JpegImagePlugin.get_sampling(im), want, args)

    # ------------------------------------------------------------ decoding --

    def test_fast_shrink_keeps_sizes(self):
        """--fast-shrink decodes at a coarser DCT scale where vipsthumbnail's rule
        leaves a factor of two: other pixels, the same picture (PSNR against the
        default output), and the very sizes of a run without it, for every box,
        orientation and kind of JPEG (sizes once came out a pixel off: the master's
        size followed the decoded one)."""
        smooth = lambda w, h, seed: noise(w // 16 + 1, h // 16 + 1, seed).resize(
            (w, h), Image.BICUBIC)
        cases = {"wide.jpg": (1347, 1100, 1, "RGB", {}),
                 "tall.jpg": (1100, 1464, 6, "RGB", {}),
                 "big.jpg": (3001, 2003, 8, "RGB", {"progressive": True}),
                 "grey.jpg": (1601, 1203, 1, "L", {}),
                 "cmyk.jpg": (1300, 977, 1, "CMYK", {}),
                 "small.jpg": (300, 201, 1, "RGB", {})}
        for i, (name, (w, h, o, mode, kw)) in enumerate(cases.items()):
            im = smooth(w, h, i + 3).convert(mode)
            im.save(os.path.join(self.inp, name), quality=92, exif=exif_with(o, False), **kw)
        for sizes in (["-s", "256"], ["-s", "300,97x80"]):
            plain = self.make(*sizes, out="plain")
            fast = self.make(*sizes, "--fast-shrink", out="fast")
            self.assertEqual(self.statuses(), ["ok"] * len(cases))
            names = sorted(n for n in os.listdir(plain) if not n.startswith("."))
            self.assertEqual(names, sorted(n for n in os.listdir(fast) if not n.startswith(".")))
            self.assertEqual(len(names), len(cases) * (len(sizes[1].split(","))))
            differ = set()
            for n in names:
                with Image.open(os.path.join(plain, n)) as a, \
                        Image.open(os.path.join(fast, n)) as b:
                    self.assertEqual(a.size, b.size, (sizes, n))
                    a, b = a.convert("RGB"), b.convert("RGB")
                    err = sum((x - y) ** 2 for x, y in zip(a.tobytes(), b.tobytes()))
                    if err:
                        differ.add(n.split("_")[0].split(".")[0])
                        psnr = 10 * math.log10(255 ** 2 * len(a.tobytes()) / err)
                        self.assertGreater(psnr, 25, (sizes, n))  # a turn or shift: < 15
            # the rules differ for all but the small photo, which neither shrinks on load
            self.assertEqual(differ, {"wide", "tall", "big", "grey", "cmyk"}, sizes)
            shutil.rmtree(plain)
            shutil.rmtree(fast)
        # A fit decided by one axis whose other axis rounds up past the coarser
        # decode: 4000x2999 in 500 is 500x375 (a 1/8 decode has only 374 rows).
        for name in cases:
            os.unlink(os.path.join(self.inp, name))
        for w, h, box in ((4000, 2999, "500"), (5253, 850, "x425"), (700, 3911, "350x")):
            Image.new("RGB", (w, h), (90, 120, 150)).save(os.path.join(self.inp, "p.jpg"))
            plain = self.make("-s", box, out="plain")
            fast = self.make("-s", box, "--fast-shrink", out="fast")
            with Image.open(os.path.join(plain, "p.jpg")) as a, \
                    Image.open(os.path.join(fast, "p.jpg")) as b:
                self.assertEqual(a.size, b.size, (w, h, box))
            shutil.rmtree(plain)
            shutil.rmtree(fast)

    # ---------------------------------------------------- WebP / AVIF coding --

    def test_effort(self):
        self.photo("a.jpg")
        sizes = {}
        for e in ("0", "6"):
            out = self.make("-f", "webp", "--effort", e, out="e" + e)
            sizes[e] = os.path.getsize(os.path.join(out, "a.webp"))
            with Image.open(os.path.join(out, "a.webp")) as im:
                self.assertEqual(im.size, (256, 192))
        self.assertNotEqual(sizes["0"], sizes["6"])
        # AVIF takes 0-9 (Pillow does not read AVIF: the bytes differ, both decode)
        avif = {}
        for e in ("0", "9"):
            out = self.make("-f", "avif", "--effort", e, out="a" + e)
            with open(os.path.join(out, "a.avif"), "rb") as f:
                avif[e] = f.read()
            self.assertEqual(avif[e][4:12], b"ftypavif")
        self.assertNotEqual(avif["0"], avif["9"])
        self.refused(["--effort", "7", "-f", "webp"], "--effort: '7': WebP takes 0 to 6")
        self.refused(["--effort", "10"],
                     "--effort: '10': expected a whole number from 0 to 9 (WebP: 0 to 6)")

    def test_lossless(self):
        self.photo("a.jpg")
        png = self.make("-f", "png", out="png")
        lossless = self.make("-f", "webp", "--lossless", out="lossless")
        lossy = self.make("-f", "webp", out="lossy")
        with open(os.path.join(lossless, "a.webp"), "rb") as f:
            self.assertIn(b"VP8L", f.read())  # the lossless bitstream's chunk
        with open(os.path.join(lossy, "a.webp"), "rb") as f:
            self.assertNotIn(b"VP8L", f.read())
        with Image.open(os.path.join(png, "a.png")) as ref, \
                Image.open(os.path.join(lossless, "a.webp")) as a, \
                Image.open(os.path.join(lossy, "a.webp")) as b:
            ref = ref.convert("RGB").tobytes()
            self.assertEqual(a.convert("RGB").tobytes(), ref)
            self.assertNotEqual(b.convert("RGB").tobytes(), ref)
        why = ("--lossless needs --format webp or png (JPEG cannot be lossless, nor AVIF "
               "with libvips 8.14)")
        for fmt in (["-f", "jpeg"], [], ["-f", "avif"]):
            self.refused(["--lossless"] + fmt, why)

    # -------------------------------------------------------------- rotation --

    def test_no_rotate(self):
        # Stored 400x300, shown 300x400 (orientation 6: rotate 90 clockwise).
        self.photo("r.jpg", orientation=6)
        for keep in ([], ["--keep-metadata"]):  # the fast path, then libvips'
            up = self.make(*keep, out="up%d" % len(keep))
            stored = self.make("--no-rotate", *keep, out="stored%d" % len(keep))
            with Image.open(os.path.join(up, "r.jpg")) as im:
                self.assertEqual(im.size, (192, 256))
                self.assertIn(im.getexif().get(ORIENTATION), (None, 1), keep)
            with Image.open(os.path.join(stored, "r.jpg")) as im:
                self.assertEqual(im.size, (256, 192))
                # Pixels as stored: kept EXIF must still say how to show them.
                self.assertEqual(im.getexif().get(ORIENTATION), 6 if keep else None, keep)

    # -------------------------------------------------------------- metadata --

    def test_png_text_is_no_kind_of_metadata_kept(self):
        """A PNG's text chunks (tEXt/iTXt) are none of exif, xmp, iptc, icc: with
        --keep-metadata=icc a GIMP comment was still written, and a keyword the
        PNG rules forbid (a trailing space, byte 0x94) failed the file outright,
        as 'decode' (remembered, skipped after)."""
        from PIL import PngImagePlugin
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "Created with GIMP")
        info.add_text("Title ", "a keyword ending in a space")
        info.add_text("b\x94d", "a keyword with a byte over 0x7e")
        noise(64, 48).save(os.path.join(self.inp, "t.png"), pnginfo=info)
        for args in (["--keep-metadata=icc"], ["--keep-metadata"], ["--keep-metadata=all"]):
            out = self.make(*(args + ["-f", "png", "--force"]))
            with Image.open(os.path.join(out, "t.png")) as im:
                self.assertFalse(getattr(im, "text", {}), args)

    def test_checksum_sees_an_edit_after_a_rename(self):
        """A renamed photo whose thumbnail was taken over (a.jpeg -> a.JPG, one
        output) had no checksum recorded, so a later edit that kept its size and
        mtime (an orientation tag) went unseen by --checksum for good."""
        a = os.path.join(self.inp, "a.jpeg")
        noise(120, 80).save(a, exif=exif_with(1, gps=False), quality=92)
        turned = os.path.join(self.tmp, "turned.jpg")
        noise(120, 80).save(turned, exif=exif_with(6, gps=False), quality=92)
        self.assertEqual(os.path.getsize(a), os.path.getsize(turned))
        out = self.make("--checksum", "-s", "64")
        renamed = os.path.join(self.inp, "a.JPG")
        os.rename(a, renamed)
        self.make("--checksum", "-s", "64", "--prune")
        self.assertEqual(self.statuses(), ["skipped"])  # taken over, not remade
        st = os.stat(renamed)
        shutil.copyfile(turned, renamed)
        os.utime(renamed, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.make("--checksum", "-s", "64", "--prune")
        self.assertEqual(self.statuses(), ["ok"])
        with Image.open(os.path.join(out, "a.jpg")) as im:
            self.assertEqual(im.size, (43, 64))

    def test_keep_metadata_strips_gps(self):
        # A JPEG (imgpool's own decoder) and a WebP (libvips'), each with EXIF, a
        # GPS position and an ICC profile, thumbnailed as JPEG and as WebP.
        # libvips 8.14's WebP writer ignores strip: every WebP thumbnail of a
        # file libvips decoded carried its EXIF, GPS position included, and ICC.
        self.photo("j.jpg", icc=True)
        self.photo("w.webp", icc=True)
        cases = {
            "bare": (["--keep-metadata"], True, False, True),
            "gps": (["--keep-metadata=exif,gps"], True, True, False),
            "all": (["--keep-metadata=all"], True, True, True),
            "icc": (["--keep-metadata=icc"], False, False, True),
            "none": ([], False, False, False),
        }
        for (name, (args, exif, gps, icc)), ext in itertools.product(cases.items(),
                                                                    ("jpg", "webp")):
            out = self.make(*(args + ["-f", "jpeg" if ext == "jpg" else ext]),
                            out=name + "-" + ext)
            for stem in ("j", "w"):
                what = f"{name}: {stem} as {ext}"
                path = os.path.join(out, stem + "." + ext)
                with Image.open(path) as im:
                    ex = im.getexif()
                    self.assertEqual(ex.get(MAKE) == "imgpool-test", exif, what)
                    self.assertEqual(bool(ex.get_ifd(GPS_IFD)), gps, what)
                    self.assertEqual(GPS_IFD in ex, gps, what)  # no pointer to an empty IFD
                    self.assertEqual(bool(im.info.get("icc_profile")), icc, what)
                    # No EXIF block at all where none is kept: libvips 8.14's WebP
                    # writer made one of its own (size, resolution, orientation)
                    # for every WebP thumbnail. (Its JPEG writer does too when
                    # other metadata is kept: only "none" asks that of JPEG.)
                    if not exif and (ext == "webp" or name == "none"):
                        self.assertEqual(dict(ex), {}, what)
                    im.load()  # the chunks left still make a whole picture
                with open(path, "rb") as f:
                    data = f.read()
                if ext == "webp":
                    self.assertEqual(b"EXIF" in data, exif, what)
                # The latitude's rational 52/1 as Pillow wrote it (little-endian):
                # gone from the bytes, not merely from the parsed view.
                self.assertEqual((52).to_bytes(4, "little") + (1).to_bytes(4, "little")
                                 in data, gps, what)
        self.refused(["--keep-metadata=gps"],
                     "--keep-metadata: 'gps': GPS lives inside the EXIF block, which keeps "
                     "nothing alone: give exif,gps")


    def test_keep_metadata_drops_the_inputs_exif_preview(self):
        """A kept EXIF block kept the input's own preview (IFD1 and its JPEG): a
        picture of the whole photo, uncropped where --fit cover cropped it. The
        rest of the EXIF stays; the preview, and IFD1's tags, go."""
        preview = io.BytesIO()
        noise(160, 120).save(preview, "JPEG", quality=70)
        preview = preview.getvalue()
        # TIFF, little-endian: IFD0 (Make), then IFD1 (JPEG offset, length), the JPEG
        make = b"imgpool-test\0"
        ifd0_at, ifd1_at = 8, 8 + 2 + 12 + 4
        make_at = ifd1_at + 2 + 2 * 12 + 4
        jpeg_at = make_at + len(make)
        def entry(tag, kind, count, value):
            return (tag.to_bytes(2, "little") + kind.to_bytes(2, "little") +
                    count.to_bytes(4, "little") + value.to_bytes(4, "little"))
        tiff = (b"II*\0" + ifd0_at.to_bytes(4, "little") +
                (1).to_bytes(2, "little") + entry(0x10F, 2, len(make), make_at) +
                ifd1_at.to_bytes(4, "little") +
                (2).to_bytes(2, "little") + entry(0x201, 4, 1, jpeg_at) +
                entry(0x202, 4, 1, len(preview)) + (0).to_bytes(4, "little") +
                make + preview)
        buf = io.BytesIO()
        noise(400, 300).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        app1 = b"Exif\0\0" + tiff
        with open(os.path.join(self.inp, "p.jpg"), "wb") as f:
            f.write(data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 +
                    data[2:])
        fields = subprocess.run(["vipsheader", "-a", os.path.join(self.inp, "p.jpg")],
                                capture_output=True, text=True).stdout
        self.assertIn("jpeg-thumbnail-data", fields)  # the test's own premise
        for ext in ("jpg", "webp"):
            out = self.make("--keep-metadata", "--fit", "cover", "-s", "100x100", "-f",
                            "jpeg" if ext == "jpg" else ext, out="prev-" + ext)
            made = os.path.join(out, "p." + ext)
            fields = subprocess.run(["vipsheader", "-a", made], capture_output=True,
                                    text=True).stdout
            self.assertIn("imgpool-test", fields, ext)  # the EXIF kept
            self.assertNotIn("jpeg-thumbnail-data", fields, ext)
            self.assertNotIn("exif-ifd1-", fields, ext)
            with open(made, "rb") as f:
                self.assertNotIn(preview[-64:], f.read(), ext)

    def test_keep_metadata_drops_an_xmp_position_in_any_case(self):
        """An XMP packet that names a position is dropped whole unless gps is
        kept: DJI drones write drone-dji:GpsLatitude, which a case-sensitive
        search for GPSLatitude let through to every output. A packet without
        one is kept, its orientation made the thumbnail's own."""
        def with_xmp(name, body, orientation=1):
            packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                      b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description ' +
                      body + b'/></rdf:RDF></x:xmpmeta>')
            seg = b"http://ns.adobe.com/xap/1.0/\0" + packet
            buf = io.BytesIO()
            noise(200, 150).save(buf, "JPEG", quality=90, exif=exif_with(orientation, False))
            data = buf.getvalue()
            with open(os.path.join(self.inp, name), "wb") as f:
                f.write(data[:2] + b"\xff\xe1" + (len(seg) + 2).to_bytes(2, "big") + seg +
                        data[2:])
        with_xmp("drone.jpg", b'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
                 b'drone-dji:GpsLatitude="51.5007292" drone-dji:GpsLongitude="-0.1268141"')
        with_xmp("plain.jpg", b'xmlns:dc="http://purl.org/dc/elements/1.1/" '
                 b'dc:format="image/jpeg" dc:rights="keep-me"')
        # Lightroom's exports say the orientation in XMP too: turned upright,
        # the kept packet must say 1, or a viewer reading XMP turns it again.
        with_xmp("turned.jpg", b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
                 b'tiff:Orientation="6" dc:rights="keep-me"', orientation=6)
        # The same in other valid spellings: exiftool's single quotes, spaces
        # around '=', another prefix bound to the TIFF namespace (each was left
        # at 6). A prefix bound elsewhere is not the TIFF tag.
        spellings = {"quoted.jpg": b"tiff:Orientation='6'",
                     "spaced.jpg": b'tiff:Orientation = "6"',
                     "prefixed.jpg": b't:Orientation="6"'}
        for name, attr in spellings.items():
            with_xmp(name, b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
                     b'xmlns:t="http://ns.adobe.com/tiff/1.0/" ' + attr, orientation=6)
        with_xmp("other.jpg", b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
                 b'xmlns:o="http://example.com/other/" o:Orientation="6"', orientation=6)
        def readable(path):
            """The file's bytes, a PNG's compressed text chunks (zTXt, where
            libvips puts XMP) inflated."""
            with open(path, "rb") as f:
                data = f.read()
            if not data.startswith(b"\x89PNG"):
                return data
            at, text = 8, [data]
            while at + 8 <= len(data):
                n, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
                body = data[at + 8:at + 8 + n]
                if kind == b"zTXt":
                    text.append(zlib.decompress(body[body.index(b"\0") + 2:]))
                at += 12 + n
            return b"".join(text)
        for ext in ("jpg", "webp", "png"):
            out = self.make("--keep-metadata", "-f", "jpeg" if ext == "jpg" else ext,
                            out="out-" + ext)
            self.assertNotIn(b"51.5007292", readable(os.path.join(out, "drone." + ext)), ext)
            self.assertIn(b"keep-me", readable(os.path.join(out, "plain." + ext)), ext)
            data = readable(os.path.join(out, "turned." + ext))
            self.assertIn(b'tiff:Orientation="1"', data, ext)
            self.assertNotIn(b'tiff:Orientation="6"', data, ext)
            with Image.open(os.path.join(out, "turned." + ext)) as im:
                self.assertEqual(im.size, (150, 200), ext)  # upright
            for name, attr in spellings.items():
                data = readable(os.path.join(out, name.replace(".jpg", "." + ext)))
                self.assertIn(attr.replace(b"6", b"1"), data, (name, ext))
            self.assertIn(b'o:Orientation="6"', readable(os.path.join(out, "other." + ext)))
        # --no-rotate: the stored layout, and every tag still says how to show it
        out = self.make("--keep-metadata", "--no-rotate", out="out-norotate")
        with open(os.path.join(out, "turned.jpg"), "rb") as f:
            self.assertIn(b'tiff:Orientation="6"', f.read())
    def test_unusable_profile_is_as_none(self):
        """An embedded ICC profile lcms cannot read (7 bytes), on a grey and on an
        RGB JPEG: the file failed ("corrupt profile") at every --fail-on level,
        where vipsthumbnail makes its thumbnail; such a profile is as none."""
        grey = Image.effect_noise((120, 90), 40)
        grey.save(os.path.join(self.inp, "grey.jpg"), icc_profile=b"garbage")
        grey.convert("RGB").save(os.path.join(self.inp, "rgb.jpg"), icc_profile=b"\0" * 7)
        for args in ([], ["--fail-on", "none"]):
            out = self.make(*args, out="o" + "".join(args))
            self.assertEqual(self.statuses(), ["ok", "ok"], args)
            for name in ("grey.jpg", "rgb.jpg"):
                with Image.open(os.path.join(out, name)) as im:
                    self.assertEqual(im.size, (120, 90), name)

    # -------------------------------------------------------------- decoding --

    def test_fail_on(self):
        self.photo("t.jpg", gps=False)
        path = os.path.join(self.inp, "t.jpg")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) * 2 // 3])
        out = self.make(out="strict", code=1)
        self.assertFalse(os.path.exists(os.path.join(out, "t.jpg")))
        self.assertEqual(self.statuses(), ["error"])
        out = self.make("--fail-on", "warning", out="strict2", code=1)
        self.assertFalse(os.path.exists(os.path.join(out, "t.jpg")))
        out = self.make("--fail-on", "none", out="lenient")
        with Image.open(os.path.join(out, "t.jpg")) as im:
            self.assertEqual(im.size, (256, 192))
        # Where it failed before, a lower level retries it (not "failed earlier").
        self.make("--fail-on", "none", out="strict")
        self.assertEqual(self.statuses(), ["ok"])
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "strict", "t.jpg")))
        self.refused(["--fail-on", "never"],
                     "--fail-on: 'never': expected none, truncated, error or warning")

    # ----------------------------------------------------------- fingerprint --

    def test_changed_control_remakes_outputs(self):
        self.photo("a.jpg")
        self.make()
        self.make()
        self.assertEqual(self.statuses(), ["skipped"])
        steps = [["--progressive"], ["--subsample", "off"], ["--no-rotate"], ["--fast-shrink"],
                 ["--keep-metadata"], ["--keep-metadata=exif,gps"], ["--fail-on", "none"],
                 ["-f", "webp", "--effort", "2"], ["-f", "webp", "--effort", "5"],
                 ["-f", "webp", "--effort", "5", "--lossless"]]
        for args in steps:
            self.make(*args)
            self.assertEqual(self.statuses(), ["ok"], args)
            self.make(*args)
            self.assertEqual(self.statuses(), ["skipped"], args)
        r = subprocess.run([IMGPOOL, "status", "--json", os.path.join(self.tmp, "out")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        settings = json.loads(r.stdout)["journals"][0]["last_run"]["settings"]
        self.assertEqual(settings["effort"], "5")
        self.assertEqual(settings["lossless"], "1")
        self.assertNotIn("progressive", settings)  # defaults are not listed


if __name__ == "__main__":
    unittest.main()
