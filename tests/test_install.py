#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`cmake --install` into a temporary prefix, then use what it put there: the
command, its man page, and the pool library from a C program built with
pkg-config alone (shared, and static from the archive). Also checks that the
shared library exports exactly the functions pool.h declares.

Run by CTest as: test_install.py BUILD_DIR, with IMGPOOL_VERSION, IMGPOOL_SRC,
CMAKE_COMMAND and CC in the environment. The pool library's own version (file
name, SONAME, .pc Version) is read from IMGPOOL_SRC/pool/pool.h, as CMake reads it. Needs pkg-config, a C compiler and
binutils (readelf, nm), which building needs anyway. Stdlib only (unittest).
The same, as a user of the Debian packages, runs in a fresh Debian by
`make test-install` (tests/install/debian_test.sh).
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = None
VERSION = os.environ.get("IMGPOOL_VERSION", "")
SRC = os.environ.get("IMGPOOL_SRC", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CC = os.environ.get("CC", "cc")
POOL_VERSION = None     # "MAJOR.MINOR.PATCH" of pool/pool.h, set in main
SONAME = None           # "libimgpool-pool.so.MAJOR"


def pool_h_version(src):
    """The pool library's (MAJOR, MINOR, PATCH) from pool/pool.h's
    POOL_VERSION_* lines, the home of that version."""
    with open(os.path.join(src, "pool", "pool.h"), encoding="utf-8") as f:
        text = f.read()
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        found = re.findall(r"(?m)^#define[ \t]+POOL_VERSION_" + part + r"[ \t]+(\d+)[ \t]*$",
                           text)
        if len(found) != 1:
            sys.exit(f"pool/pool.h: expected one #define POOL_VERSION_{part}, found {found}")
        parts.append(int(found[0]))
    return tuple(parts)


def run(cmd, **kw):
    kw.setdefault("timeout", 120)
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}:\n"
                             f"{done.stdout}{done.stderr}")
    return done.stdout


def files_under(root):
    """Every file and symlink under root, as paths relative to it."""
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def dynamic_entries(path, tag):
    """The values of one kind of dynamic-section entry (NEEDED, SONAME)."""
    out = run(["readelf", "-d", path])
    return re.findall(r"\(" + tag + r"\)\s+[^[]*\[([^]]+)\]", out)


def squares_output_ok(test, out):
    """examples/libpool/squares.c printed every square, and 7 as crashed."""
    lines = out.splitlines()
    test.assertEqual(len(lines), 10, out)
    for n, line in enumerate(lines):
        if n == 7:
            test.assertRegex(line, r"^7 failed after 2 attempts: worker \d+ \(pid \d+\) "
                                   r"killed by signal 11 \(SIGSEGV\)")
        else:
            test.assertEqual(line, f"{n} squared is {n * n}")


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="imgpool-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run([CMAKE, "--install", BUILD, "--prefix", cls.prefix])
        cls.files = files_under(cls.prefix)
        sos = [f for f in cls.files if f.endswith("/libimgpool-pool.so")]
        if len(sos) != 1:
            raise AssertionError(f"expected one libimgpool-pool.so, found {sos}")
        cls.libdir = os.path.dirname(sos[0])     # lib, or lib/<multiarch> for /usr
        cls.env = dict(os.environ, LC_ALL="C",
                       PKG_CONFIG_PATH=os.path.join(cls.prefix, cls.libdir, "pkgconfig"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.prefix, rel)

    def test_installs_exactly_these_files(self):
        lib = self.libdir
        expected = {
            "bin/imgpool",
            "share/man/man1/imgpool.1.gz",
            "share/doc/imgpool/README.md",
            "share/doc/imgpool/changelog.gz",
            "share/doc/imgpool/copyright",
            "share/doc/imgpool/docs/report-schema.md",
            "share/doc/imgpool/docs/report.schema.json",
            "share/doc/imgpool/docs/speedup-corpus.svg",
            "share/doc/imgpool/docs/speedup-samples.svg",
            "share/doc/imgpool/docs/timeline-samples.svg",
            "include/imgpool/pool.h",
            f"{lib}/libimgpool-pool.so",
            f"{lib}/{SONAME}",
            f"{lib}/libimgpool-pool.so.{POOL_VERSION}",
            f"{lib}/libimgpool-pool.a",
            f"{lib}/pkgconfig/imgpool-pool.pc",
        }
        self.assertEqual(self.files, expected)
        # The usual chain of names: .so (for the linker) -> .so.MAJOR (the SONAME,
        # for the loader) -> .so.MAJOR.MINOR.PATCH (the file), pool.h's version.
        self.assertEqual(os.readlink(self.path(f"{lib}/libimgpool-pool.so")), SONAME)
        self.assertEqual(os.readlink(self.path(f"{lib}/{SONAME}")),
                         f"libimgpool-pool.so.{POOL_VERSION}")

    def test_the_command_says_its_version(self):
        out = run([self.path("bin/imgpool"), "-V"])
        self.assertEqual(out.splitlines()[0], f"imgpool {VERSION}")

    def test_the_man_page_carries_the_version(self):
        with gzip.open(self.path("share/man/man1/imgpool.1.gz"), "rt") as f:
            page = f.read()
        self.assertRegex(page, r'(?m)^\.TH IMGPOOL 1 "[^"]+" "imgpool ' + re.escape(VERSION) + '"')
        if shutil.which("man"):
            shown = run(["man", "-l", self.path("share/man/man1/imgpool.1.gz")],
                        env=dict(self.env, MANWIDTH="80"))
            self.assertIn(f"imgpool {VERSION}", shown)

    def test_pkg_config_knows_the_library(self):
        # The library's version, as pool.h's POOL_VERSION says, not imgpool's:
        # --atleast-version and `#if POOL_VERSION >= ...` agree.
        self.assertEqual(run(["pkg-config", "--modversion", "imgpool-pool"],
                             env=self.env).strip(), POOL_VERSION)
        run(["pkg-config", "--atleast-version", POOL_VERSION, "imgpool-pool"], env=self.env)
        self.assertEqual(run(["pkg-config", "--variable=prefix", "imgpool-pool"],
                             env=self.env).strip(), self.prefix)

    def test_a_program_builds_with_pkg_config_alone_and_runs(self):
        flags = run(["pkg-config", "--cflags", "--libs", "imgpool-pool"], env=self.env).split()
        exe = os.path.join(self.tmp, "squares-shared")
        run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe,
             os.path.join(SRC, "examples/libpool/squares.c")] + flags)
        self.assertIn(SONAME, dynamic_entries(exe, "NEEDED"))
        env = dict(self.env, LD_LIBRARY_PATH=self.path(self.libdir))
        squares_output_ok(self, run([exe], env=env))

    def test_the_header_the_library_and_pkg_config_agree_on_the_version(self):
        """POOL_VERSION as a program compiles it, pool_version() of the installed
        shared object it runs on, and the .pc Version: one number."""
        flags = run(["pkg-config", "--cflags", "--libs", "imgpool-pool"], env=self.env).split()
        c = os.path.join(self.tmp, "version.c")
        with open(c, "w") as f:
            f.write("#include <stdio.h>\n#include <imgpool/pool.h>\n"
                    "int main(void) { printf(\"%d %d\\n\", POOL_VERSION, pool_version()); "
                    "return 0; }\n")
        exe = os.path.join(self.tmp, "version")
        run([CC, "-std=c11", "-Wall", "-Werror", "-o", exe, c] + flags)
        env = dict(self.env, LD_LIBRARY_PATH=self.path(self.libdir))
        pc = run(["pkg-config", "--modversion", "imgpool-pool"], env=self.env).strip()
        major, minor, patch = (int(x) for x in pc.split("."))
        number = str(major * 10000 + minor * 100 + patch)
        self.assertEqual(run([exe], env=env).split(), [number, number])

    def test_a_program_links_the_archive_statically(self):
        cflags = run(["pkg-config", "--cflags", "imgpool-pool"], env=self.env).split()
        other = run(["pkg-config", "--static", "--libs-only-other", "imgpool-pool"],
                    env=self.env).split()
        exe = os.path.join(self.tmp, "squares-static")
        run([CC, "-std=c11", "-o", exe, os.path.join(SRC, "examples/libpool/squares.c")]
            + cflags + [self.path(f"{self.libdir}/libimgpool-pool.a")] + other)
        self.assertNotIn(SONAME, dynamic_entries(exe, "NEEDED"))
        squares_output_ok(self, run([exe]))

    def test_the_library_exports_pool_h_and_nothing_else(self):
        so = self.path(f"{self.libdir}/{SONAME}")
        self.assertEqual(dynamic_entries(so, "SONAME"), [SONAME])
        self.assertEqual(dynamic_entries(so, "NEEDED"), ["libc.so.6"])
        exported = set(run(["nm", "-D", "--defined-only", "--format=just-symbols", so])
                       .split())
        with open(self.path("include/imgpool/pool.h"), encoding="utf-8") as f:
            header = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        # A declaration's name is the first pool_* followed by "(" on its line
        # (function-pointer typedefs read "(*pool_fn)(", so they do not match).
        declared = set()
        for line in header.splitlines():
            m = re.search(r"\b(pool_\w+)\s*\(", line)
            if m and not line.lstrip().startswith(("typedef", "#")):
                declared.add(m.group(1))
        self.assertGreater(len(declared), 20, declared)
        self.assertEqual(exported, declared)
        # The static archive cannot hide its private modules' functions, so they
        # are named within the project (imgpool_*): a program's own worker_main or
        # wire_send took the pool's place at link time, and its workers crashed.
        a = self.path(f"{self.libdir}/libimgpool-pool.a")
        globs = {line.split()[-1] for line in
                 run(["nm", "-g", "--defined-only", a]).splitlines()
                 if len(line.split()) == 3}
        self.assertTrue(declared <= globs, declared - globs)
        self.assertEqual({g for g in globs if not g.startswith(("pool_", "imgpool_"))},
                         set())

    def test_destdir_stages_and_keeps_the_real_prefix(self):
        stage = os.path.join(self.tmp, "stage")
        run([CMAKE, "--install", BUILD, "--prefix", "/opt/imgpool"],
            env=dict(os.environ, DESTDIR=stage))
        self.assertEqual(files_under(os.path.join(stage, "opt/imgpool")), self.files)
        with open(os.path.join(stage, "opt/imgpool", self.libdir,
                               "pkgconfig/imgpool-pool.pc")) as f:
            self.assertEqual(f.readline().strip(), "prefix=/opt/imgpool")

    def test_make_uninstall_takes_back_every_file(self):
        """make uninstall removes each file the last install from the build folder
        put in place (with the same DESTDIR), and nothing else; folders stay."""
        if not shutil.which("make"):
            self.skipTest("no make")
        stage = os.path.join(self.tmp, "unstage")
        run([CMAKE, "--install", BUILD, "--prefix", "/opt/imgpool"],
            env=dict(os.environ, DESTDIR=stage))
        root = os.path.join(stage, "opt/imgpool")
        self.assertEqual(files_under(root), self.files)
        mine = os.path.join(root, "bin", "not-imgpools")
        with open(mine, "w") as f:
            f.write("a file beside the installed ones\n")
        # Another DESTDIR (or none: the real /opt/imgpool) is refused, naming the
        # right one, and removes nothing there: the manifest lists the files
        # without their DESTDIR, and files of those names there are not this
        # install's.
        other = os.path.join(self.tmp, "other")
        os.makedirs(os.path.join(other, "opt/imgpool/bin"))
        theirs = os.path.join(other, "opt/imgpool/bin/imgpool")
        with open(theirs, "w") as f:
            f.write("another install's file\n")
        for wrong in (other, ""):
            r = subprocess.run(["make", "-s", "-C", SRC, "uninstall",
                                "BUILD=" + os.path.abspath(BUILD), "DESTDIR=" + wrong],
                               capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn(f"went under DESTDIR='{stage}'", r.stderr)
            self.assertNotIn("removed", r.stdout)
        self.assertTrue(os.path.isfile(theirs))
        self.assertEqual(files_under(root), self.files | {"bin/not-imgpools"})
        # cpack installs into its staging folder, and its list of those files
        # replaced CMake's: make uninstall said it removed them, and left the
        # install in place.
        manifest = os.path.join(BUILD, "install_manifest.txt")
        with open(manifest, "w") as f:
            f.write(os.path.join(os.path.abspath(BUILD), "_CPack_Packages/Linux/TGZ/"
                                 "imgpool-0-Linux/bin/imgpool") + "\n")
        os.utime(manifest, (time.time() + 5,) * 2)  # newer than the install's list
        out = run(["make", "-s", "-C", SRC, "uninstall", "BUILD=" + os.path.abspath(BUILD),
                   "DESTDIR=" + stage])
        self.assertEqual(files_under(root), {"bin/not-imgpools"}, out)
        removed = [x for x in out.splitlines() if x.startswith("removed ")]
        self.assertEqual(len([x for x in removed if not x.endswith("/")]), len(self.files),
                         out)
        # imgpool's own folders go once empty; shared ones stay
        self.assertFalse(os.path.lexists(os.path.join(root, "share", "doc", "imgpool")))
        self.assertFalse(os.path.lexists(os.path.join(root, "include", "imgpool")))
        self.assertTrue(os.path.isdir(os.path.join(root, "share", "man", "man1")))
        # Nothing left to take back: said, and a failure.
        gone = subprocess.run(["make", "-s", "-C", SRC, "uninstall",
                               "BUILD=" + os.path.abspath(BUILD), "DESTDIR=" + stage],
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn("nothing to take back", gone.stderr)

if __name__ == "__main__":
    if len(sys.argv) < 2 or not VERSION or not SRC:
        sys.exit("usage: IMGPOOL_VERSION=V IMGPOOL_SRC=DIR test_install.py BUILD_DIR")
    BUILD = sys.argv[1]
    major, minor, patch = pool_h_version(SRC)
    POOL_VERSION = f"{major}.{minor}.{patch}"
    SONAME = f"libimgpool-pool.so.{major}"
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
