#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_public_suites.py IMGPOOL — imgpool over the images other decoders test
themselves with: libpng's PngSuite, its testpngs (every colour type, bit depth,
interlace, gamma and profile case) and its crashers (hostile files),
libjpeg-turbo's test images (baseline, progressive, arithmetic-coded, 12-bit),
libtiff's test images, giflib's and libwebp's pictures, libheif's example
and fuzzing corpus (hostile files), and gdk-pixbuf's EXIF-rotated JPEGs.

The files come from the Debian source tarballs of the libraries Debian 12 ships
(deb.debian.org, pinned by SHA-256: nothing is copied into this repository),
downloaded once into $IMGPOOL_SUITES_DIR (the build folder's public-suites/);
without the network, or with a tarball that no longer matches, everything is
skipped.

What must hold, over one run of `imgpool -r -j2 -f png` on all of them:
  - every image file gets exactly one answer in the report, no worker dies, and
    every failure is a decode or limit failure naming its cause;
  - every file outside crashers/ and fuzzing/ is thumbnailed, but those
    libvips 8.14 cannot read (UNREADABLE: a 12-bit JPEG, subsampled old-style
    JPEG TIFFs, float64 TIFFs with a predictor), which fail;
  - each crashers/huge_*_chunk.png (a chunk claiming 1 GiB in 57 bytes) fails
    with the chunk named, and no worker grows past 256 MB doing so;
  - each thumbnail is the same picture as libvips' own (vipsthumbnail, the same
    box, profiles to sRGB as imgpool does): same size, PSNR at least 40 dB, both
    flattened on white. Files vipsthumbnail itself cannot thumbnail are counted,
    not compared.
Needs python3 (stdlib) and the vips tools, as test_quality.py, whose helpers it
uses. IMGPOOL_PIXELS=0 (the sanitizer build) skips the picture comparison: the
same code makes the same pixels there, and the run itself is what ASan checks.
"""
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_quality as q  # noqa: E402  (the decode and PSNR helpers)

IMGPOOL = None
MIRROR = "http://deb.debian.org/debian/pool/main/"
TARBALLS = [
    # (path under MIRROR, sha256, folders inside the tarball to take)
    ("libp/libpng1.6/libpng1.6_1.6.39.orig.tar.gz",
     "a00e9d2f2f664186e4202db9299397f851aea71b36a35e74910b8820e380d441",
     ["libpng-1.6.39/contrib/pngsuite/", "libpng-1.6.39/contrib/testpngs/"]),
    ("libj/libjpeg-turbo/libjpeg-turbo_2.1.5.orig.tar.gz",
     "254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c",
     ["libjpeg-turbo-2.1.5/testimages/"]),
    # libtiff's test images (every photometric, bit depth, predictor, tiles,
    # old-style JPEG, IFD loops) and the pictures of its documentation
    ("t/tiff/tiff_4.5.0.orig.tar.bz2",
     "638f43d7dea33948d5dee7f39572fc0194d9cc3c74195de9dd26a4388a1f880a",
     ["libtiff-v4.5.0/test/images/", "libtiff-v4.5.0/doc/images/",
      "libtiff-v4.5.0/doc/specification/bigtiffpr_images/"]),
    # giflib's pictures (interlaced, transparent, animated, odd palettes)
    ("g/giflib/giflib_5.2.1.orig.tar.gz",
     "31da5562f44c5f15d63340a09a4fd62b48c45620cd302f77a6d9acf0077879bd",
     ["giflib-5.2.1/pic/", "giflib-5.2.1/doc/", "giflib-5.2.1/tests/"]),
    ("libw/libwebp/libwebp_1.2.4.orig.tar.gz",
     "7bf5a8a28cc69bcfa8cb214f2c3095703c6b73ac5fba4d5480c205331d9494df",
     ["libwebp-1.2.4/examples/test.webp", "libwebp-1.2.4/webp_js/"]),
    # libheif's example and its fuzzing corpus (hostile files, as crashers/);
    # not example.avif, whose PNG thumbnail would take example.heic's name
    # gdk-pixbuf's two JPEGs with their EXIF orientation stored as SLONG (as
    # some cameras write it): once thumbnailed lying on their side
    ("g/gdk-pixbuf/gdk-pixbuf_2.42.10+dfsg.orig.tar.xz",
     "46663e445468e92f4a0ca876b02aed4f8758595ee3acfaa6ef3ba2b29e1c1930",
     ["gdk-pixbuf-2.42.10/tests/bug143608-comment.jpg",
      "gdk-pixbuf-2.42.10/tests/bug725582-testrotate.jpg"]),
    ("libh/libheif/libheif_1.15.1.orig.tar.gz",
     "28d5a376fe7954d2d03453f983aaa0b7486f475c27c7806bda31df9102325556",
     ["libheif-1.15.1/examples/example.heic", "libheif-1.15.1/fuzzing/corpus/"]),
]
# imgpool's image extensions (--help); anything else in the folders is skipped.
EXTS = {"jpg", "jpeg", "jpe", "jfif", "png", "webp", "avif", "tif", "tiff", "heic",
        "heif", "gif"}
UNREADABLE = {
    "testorig12.jpg",    # 12-bit JPEG: libvips 8.14 has no reader
    # old-style JPEG-in-TIFF with subsampling, and 64-bit floats with the
    # horizontal predictor: libvips 8.14 refuses them (vipsthumbnail too)
    "ojpeg_chewey_subsamp21_multi_strip.tiff", "ojpeg_single_strip_no_rowsperstrip.tiff",
    "ojpeg_zackthecat_subsamp22_single_strip.tiff", "test_float64_predictor2_le_lzw.tif",
    "test_float64_predictor2_be_lzw.tif",
}
HOSTILE = ("/crashers/", "/fuzzing/")  # folders of files made to break decoders
SIZE = 256
MIN_PSNR_DB = 40.0
MAX_WORKER_RSS = 256 << 20


def fetch(cache, path, sha256):
    """The tarball at MIRROR/path in cache, downloaded if missing; None when it
    cannot be had or does not match."""
    dest = os.path.join(cache, os.path.basename(path))
    if not os.path.exists(dest):
        try:
            with urllib.request.urlopen(MIRROR + path, timeout=60) as r:
                data = r.read()
        except OSError as e:
            print(f"cannot download {MIRROR + path}: {e}")
            return None
        with open(dest + ".part", "wb") as f:
            f.write(data)
        os.replace(dest + ".part", dest)
    with open(dest, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != sha256:
            print(f"{dest}: not the pinned tarball")
            return None
    return dest


def extract(tarball, folders, dest):
    """The regular files of tarball under folders, into dest (paths kept)."""
    with tarfile.open(tarball) as t:
        for m in t.getmembers():
            if m.isfile() and any(m.name.startswith(f) for f in folders) and \
                    ".." not in m.name.split("/"):
                t.extract(m, dest)


def images_under(root):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            if not f.startswith(".") and f.rsplit(".", 1)[-1].lower() in EXTS:
                out.add(os.path.join(d, f))
    return out


class PublicSuites(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cache = os.environ.get("IMGPOOL_SUITES_DIR") or tempfile.mkdtemp()
        os.makedirs(cache, exist_ok=True)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.src = os.path.join(cls.tmp.name, "src")
        for path, sha, folders in TARBALLS:
            tarball = fetch(cache, path, sha)
            if not tarball:
                raise unittest.SkipTest("public test suites not available")
            extract(tarball, folders, cls.src)
        cls.inputs = images_under(cls.src)
        cls.out = os.path.join(cls.tmp.name, "out")
        rep = os.path.join(cls.tmp.name, "report.jsonl")
        # Under ASan a process keeps up to 256 MB of freed memory in quarantine,
        # so a worker's peak grows with the files it did: keep it to 32 MB, the
        # peak then the files' own, as MAX_WORKER_RSS means.
        env = dict(os.environ)
        if "ASAN_OPTIONS" in env:
            env["ASAN_OPTIONS"] += ":quarantine_size_mb=32"
        cls.result = q.run([IMGPOOL, "-r", "-j", "2", "-q", "--progress", "none",
                         "-s", str(SIZE), "-f", "png", "--report", rep, "-o", cls.out,
                         cls.src], env=env)
        with open(rep) as f:
            recs = [json.loads(line) for line in f]
        cls.files = [r for r in recs if r["type"] != "summary"]
        cls.summary = [r for r in recs if r["type"] == "summary"][-1]
        cls.by_input = {r["input"]: r for r in cls.files}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_file_answered_once(self):
        self.assertGreater(len(self.inputs), 150)
        self.assertEqual(sorted(r["input"] for r in self.files), sorted(self.inputs))
        self.assertEqual(self.summary["total"], len(self.inputs))
        self.assertEqual(self.summary["workers_died"], 0)
        failed = [r for r in self.files if r["status"] != "ok"]
        self.assertEqual(self.result.returncode, 1 if failed else 0)
        for r in failed:
            self.assertEqual(r["status"], "error", r)
            self.assertIn(r["kind"], ("decode", "limit"), r)
            self.assertTrue(r["error"].strip(), r)

    def test_valid_files_thumbnailed(self):
        bad = [f"{r['input']}: {r.get('error')}" for r in self.files
               if r["status"] != "ok" and not any(h in r["input"] for h in HOSTILE) and
               os.path.basename(r["input"]) not in UNREADABLE]
        self.assertEqual(bad, [])
        for name in UNREADABLE:
            r = [r for r in self.files if r["input"].endswith("/" + name)]
            self.assertEqual([x["status"] for x in r], ["error"])

    def test_huge_chunks_fail_cheaply(self):
        huge = [r for r in self.files if "/crashers/huge_" in r["input"] and
                r["input"].endswith("_chunk.png")]
        self.assertGreaterEqual(len(huge), 10)
        for r in huge:
            self.assertEqual(r["status"], "error", r)
            self.assertIn("chunk claims", r["error"])
        self.assertLess(self.summary["peak_worker_rss"], MAX_WORKER_RSS)

    @unittest.skipIf(os.environ.get("IMGPOOL_PIXELS") == "0",
                     "pixels compared in the plain build (IMGPOOL_PIXELS=0)")
    def test_same_pictures_as_libvips(self):
        work = os.path.join(self.tmp.name, "work")
        os.makedirs(work)
        # vipsthumbnail a folder at a time, into a folder of its own (names
        # repeat across the suites' folders, never within one)
        made = [r for r in self.files if r["status"] == "ok"]
        folders = sorted({os.path.dirname(r["input"]) for r in made})
        for i, d in enumerate(folders):
            os.makedirs(os.path.join(work, str(i)))
            q.vipsthumbnail([r["input"] for r in made if os.path.dirname(r["input"]) == d],
                            os.path.join(work, str(i), "%s.png"), SIZE)
        compared, no_ref, low = 0, 0, []
        for r in made:
            stem = os.path.splitext(os.path.basename(r["input"]))[0]
            ref = os.path.join(work, str(folders.index(os.path.dirname(r["input"]))),
                               stem + ".png")
            try:
                # vipsthumbnail can leave a broken file behind when it fails
                # (libpng's empty_ancillary_chunks.png: a text key it cannot write)
                b = q.decode(ref, work)
            except (OSError, ValueError):
                no_ref += 1
                continue
            a = q.decode(r["outputs"][0]["path"], work)
            self.assertEqual(a[:2], b[:2], r["input"])
            db = q.psnr(a[2], b[2])
            if db < MIN_PSNR_DB:
                low.append(f"{r['input']}: {db:.1f} dB")
            compared += 1
        print(f"{compared} compared with vipsthumbnail, {no_ref} it cannot make")
        self.assertGreater(compared, 150)
        self.assertLessEqual(no_ref, 3)
        self.assertEqual(low, [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_public_suites.py IMGPOOL")
    IMGPOOL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
