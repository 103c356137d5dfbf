#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_golden.py IMGPOOL [--update] — behaviour unchanged, shown by a golden diff.

Runs imgpool on the samples (made by samples/make-samples.sh: fixed seeds, the
same bytes every time) and on ../shared/corpus/photos (skipped when absent), then
writes what a user and a later run can observe, without anything that varies from
run to run (times, mtimes, inodes, temp paths):
  - the JSON report's file records (status, kind, error, outputs with their sizes)
    and the summary's counts;
  - every output's size and SHA-256;
  - the journal's rows: inputs (status, kind, cause, size) and outputs (path, size,
    state, the settings they were made with).
and compares that with tests/golden/<set>.txt. A restructuring (issue: one job per
file) must leave it identical; a change meant to change behaviour updates it with
--update, and the diff is reviewed with the change. Two settings per set: the
default run, and -s 320,96 -f webp --fit cover, then a second run of the default
(everything up to date).
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
IMGPOOL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "imgpool"
UPDATE = "--update" in sys.argv
if UPDATE:
    sys.argv.remove("--update")
CORPUS = os.environ.get("IMGPOOL_CORPUS") or os.path.join(HERE, "..", "..", "shared",
                                                          "corpus", "photos")
RUNS = [("default", ["-r"]),
        ("webp-cover", ["-r", "-s", "320,96", "-f", "webp", "--fit", "cover"]),
        ("again", ["-r"])]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def rel(path, base):
    return os.path.relpath(path, base) if path.startswith(base) else path


def describe(src, out, report, lines):
    """The observable results of one run, as sorted text lines."""
    recs = [json.loads(l) for l in open(report)]
    files = []
    for o in recs:
        if o.get("type") == "file":
            outs = ",".join(f"{rel(x['path'], out)}:{x.get('width', '-')}x{x.get('height', '-')}"
                            for x in o.get("outputs", []))
            error = o.get("error", "").replace(out, "$OUT").replace(src, "$SRC")
            files.append(f"  file {rel(o['input'], src)} {o['status']} {o.get('kind', '')} "
                         f"{error!r} [{outs}]")
        elif o.get("type") == "summary":
            summary = (f"  summary done={o['done']} failed={o['failed']} "
                       f"skipped={o['skipped']} cancelled={o.get('cancelled', 0)}")
    lines += sorted(files) + [summary]


def describe_tree(out, lines):
    found = []
    for root, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if d != ".imgpool"]
        for n in names:
            p = os.path.join(root, n)
            found.append(f"  output {rel(p, out)} {os.path.getsize(p)} {sha(p)}")
    lines += sorted(found)


def describe_journal(out, src_real, lines):
    db = sqlite3.connect(os.path.join(out, ".imgpool", "journal.sqlite"))
    rows = []
    for r, rl, size, status, kind, cause, fp in db.execute(
            "SELECT root, rel, size, status, kind, cause, fingerprint FROM files"):
        rows.append(f"  journal file {rel(r, src_real)}/{bytes(rl).decode(errors='replace')} "
                    f"size={size} status={status} kind={kind} cause={cause!r} fp={fp & 0xffff:04x}")
    for p, size, state, fp in db.execute("SELECT path, size, state, fingerprint FROM outputs"):
        rows.append(f"  journal output {bytes(p).decode(errors='replace')} size={size} "
                    f"state={state} fp={fp & 0xffff:04x}")
    db.close()
    lines += sorted(rows)


def golden_lines(src, work):
    lines = []
    out = os.path.join(work, "out")
    for label, args in RUNS:
        report = os.path.join(work, f"{label}.jsonl")
        r = subprocess.run([IMGPOOL, "-j2", "--progress", "none", "--report", report,
                            "-o", out] + args + [src], capture_output=True, timeout=600)
        lines.append(f"run {label}: exit {r.returncode}")
        describe(src, out, report, lines)
        describe_tree(out, lines)
        describe_journal(out, os.path.realpath(src), lines)
    return lines


class Golden(unittest.TestCase):
    def check(self, name, src):
        work = tempfile.mkdtemp(prefix="imgpool-golden-")
        try:
            got = "\n".join(golden_lines(src, work)) + "\n"
        finally:
            shutil.rmtree(work, ignore_errors=True)
        path = os.path.join(HERE, "golden", name + ".txt")
        if UPDATE or not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(got)
            if not UPDATE:
                self.skipTest(f"wrote {path}: no golden file yet")
            return
        with open(path) as f:
            want = f.read()
        if got != want:
            import difflib
            diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                "golden", "now", n=1))
            self.fail(f"behaviour changed against {path}:\n{diff[:6000]}")

    def test_samples(self):
        tmp = tempfile.mkdtemp(prefix="imgpool-golden-samples-")
        try:
            subprocess.run([os.path.join(HERE, "..", "samples", "make-samples.sh"), tmp],
                           check=True, capture_output=True)
            self.check("samples", tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_corpus(self):
        if not os.path.isdir(CORPUS):
            self.skipTest("corpus not present")
        self.check("corpus", CORPUS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
