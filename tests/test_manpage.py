#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The man page keeps up with the command: every long option that
`imgpool --help` shows is in imgpool.1, and the page renders without a warning.

Run by CTest as: test_manpage.py IMGPOOL MANPAGE. Stdlib only (unittest).
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

IMGPOOL = MANPAGE = None


def long_options(text):
    """The long options named in a text, e.g. {"--output", "--no-journal"}."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*", text))


def man_source_as_text(source):
    """The roff source with its escapes for a minus and for fonts undone, so that
    `.BR \\-\\-no\\-journal` reads --no-journal."""
    text = source.replace("\\-", "-")
    return re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", text)


class ManPage(unittest.TestCase):
    def test_every_help_option_is_in_the_man_page(self):
        helped = subprocess.run([IMGPOOL, "--help"], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(helped.returncode, 0, helped.stderr)
        options = long_options(helped.stdout)
        # --help lists dozens; a handful means the parse above broke, not a pass.
        self.assertGreater(len(options), 20, f"too few options parsed: {options}")
        with open(MANPAGE, encoding="utf-8") as f:
            documented = long_options(man_source_as_text(f.read()))
        missing = sorted(options - documented)
        self.assertEqual(missing, [], f"in `imgpool --help` but not in {MANPAGE}")

    def test_the_page_renders_without_warnings(self):
        if not shutil.which("man"):
            self.skipTest("no man command (Debian package man-db)")
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        shown = subprocess.run(["man", "--warnings", "-l", MANPAGE], capture_output=True,
                               text=True, env=env, timeout=60)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(shown.stderr, "", "groff warnings")
        self.assertIn("OPTIONS", shown.stdout)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_manpage.py IMGPOOL MANPAGE [unittest args]")
    IMGPOOL, MANPAGE = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
