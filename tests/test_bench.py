#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of `imgpool bench` (the "done when" list of issue 4).
Run as: test_bench.py IMGPOOL [TEST-NAME...]

Images are made with the `vips` command-line tool: a few noise JPEGs, one truncated
JPEG (the bad file) and a text file (not an image). Every bench runs with TMPDIR
pointed at a private folder, so "no temporary folder left behind" is checked
exactly. Needs xmllint (Debian: libxml2-utils) for the SVG check. Stdlib only.
"""
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

IMGPOOL = os.path.abspath(sys.argv[1])
BAD = "corrupt-truncated.jpg"
SVG_NS = "{http://www.w3.org/2000/svg}"


class Skip(Exception):
    pass


def assert_eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def assert_true(cond, what):
    if not cond:
        raise AssertionError(what)


def make_jpeg(path, w=1200, h=800):
    """A noise JPEG (noise keeps the decoder busy like a photo does)."""
    tmp = path + ".v"
    subprocess.run(["vips", "gaussnoise", tmp, str(w), str(h), "--mean", "128",
                    "--sigma", "50"], check=True)
    subprocess.run(["vips", "cast", tmp, path + "[Q=85]", "uchar"], check=True)
    os.unlink(tmp)


def make_set(folder, n=8):
    """n JPEGs (one made, the rest copies), a truncated JPEG and a text file."""
    os.makedirs(folder, exist_ok=True)
    first = os.path.join(folder, "img000.jpg")
    make_jpeg(first)
    for i in range(1, n):
        shutil.copyfile(first, os.path.join(folder, f"img{i:03d}.jpg"))
    with open(first, "rb") as f:
        data = f.read()
    with open(os.path.join(folder, BAD), "wb") as f:
        f.write(data[: len(data) // 3])
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image\n")


class Bench:
    """One `imgpool bench` run with its own TMPDIR; stdout, stderr, exit code."""

    def __init__(self, tmp, args, timeout=120):
        self.tmpdir = tempfile.mkdtemp(prefix="tmpdir-", dir=tmp)
        env = dict(os.environ, TMPDIR=self.tmpdir)
        r = subprocess.run([IMGPOOL, "bench"] + args, capture_output=True, text=True,
                           env=env, timeout=timeout)
        self.out, self.err, self.rc = r.stdout, r.stderr, r.returncode

    def left_behind(self):
        return os.listdir(self.tmpdir)


# jobs, wall s, spread, CPU s, images/s, speedup, efficiency, Karp-Flatt
ROW = re.compile(r"^\s*(seq|\d+)(\*?)\s+([\d.]+)\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                 r"\s+([\d.]+)\s+(\S+)\s*$")


def table_rows(out):
    """{'seq' or jobs: dict of the numbers} from the printed table."""
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            key = m.group(1)
            rows[key] = {
                "over": m.group(2) == "*", "wall": float(m.group(3)),
                "cpu": float(m.group(5)), "rate": float(m.group(6)),
                "speedup": float(m.group(7)), "eff": float(m.group(8)),
                "kf": None if m.group(9) == "-" else float(m.group(9)),
            }
    return rows


def close(table_value, csv_value, decimals, what):
    """The table's rounded value is the CSV's value at the table's precision."""
    tol = 0.5 * 10 ** -decimals + 1e-9
    assert_true(abs(table_value - csv_value) <= tol,
                f"{what}: table {table_value} vs CSV {csv_value}")


# ---------------------------------------------------------------------------
# One bench on the set, shared by the checks that read its outputs.

MAIN = {}


def main_bench(tmp, images):
    if not MAIN:
        c, p = os.path.join(tmp, "bench.csv"), os.path.join(tmp, "bench.svg")
        t = os.path.join(tmp, "timeline.svg")
        b = Bench(tmp, ["--jobs-list", "1,2", "--repeat", "1", "--csv", c, "--plot", p,
                        "--timeline", t, "-v", images])
        MAIN.update(b=b, csv=c, svg=p, timeline=t)
    return MAIN


def test_rows(tmp, images):
    """1. Exit 0 and a row per job count, plus the baseline row."""
    m = main_bench(tmp, images)
    b = m["b"]
    assert_eq(b.rc, 0, "exit code (stderr: " + b.err.strip() + ")")
    rows = table_rows(b.out)
    assert_eq(sorted(rows), ["1", "2", "seq"], "table rows\n" + b.out)
    for k in ("seq", "1", "2"):
        assert_true(rows[k]["wall"] > 0 and rows[k]["speedup"] > 0, f"row {k}: {rows[k]}")
        assert_true(rows[k]["cpu"] > 0, f"row {k}: no CPU time counted")
    assert_true(rows["2"]["kf"] is not None and rows["1"]["kf"] is None,
                "Karp-Flatt only for jobs > 1")
    assert_true("pool overhead" in b.out, "no pool overhead line")


def test_baseline_is_one(tmp, images):
    """2. Speedup and efficiency of the sequential baseline are 1 by construction."""
    rows = table_rows(main_bench(tmp, images)["b"].out)
    assert_eq(rows["seq"]["speedup"], 1.0, "baseline speedup")
    assert_eq(rows["seq"]["eff"], 1.0, "baseline efficiency")
    # and every speedup is T(seq) / T(p), from the table's own times
    for k in ("1", "2"):
        want = rows["seq"]["wall"] / rows[k]["wall"]
        assert_true(abs(want - rows[k]["speedup"]) < 0.02 * want + 0.01,
                    f"jobs {k}: speedup {rows[k]['speedup']} vs T(seq)/T = {want:.3f}")


def test_csv_matches_table(tmp, images):
    """3. The CSV parses and holds the table's numbers."""
    m = main_bench(tmp, images)
    rows = table_rows(m["b"].out)
    with open(m["csv"], newline="") as f:
        data = list(csv.DictReader(f))
    assert_eq(len(data), 3, "CSV rows")
    for r in data:
        key = "seq" if r["config"] == "seq" else r["jobs"]
        t = rows[key]
        close(t["wall"], float(r["wall_s_median"]), 3, f"{key} wall s")
        close(t["cpu"], float(r["cpu_s_median"]), 2, f"{key} CPU s")
        close(t["rate"], float(r["images_per_s"]), 2, f"{key} images/s")
        close(t["speedup"], float(r["speedup"]), 2, f"{key} speedup")
        close(t["eff"], float(r["efficiency"]), 2, f"{key} efficiency")
        if t["kf"] is None:
            assert_eq(r["karp_flatt"], "", f"{key} Karp-Flatt")
        else:
            close(t["kf"], float(r["karp_flatt"]), 3, f"{key} Karp-Flatt")
        assert_eq(r["oversubscribed"] == "1", t["over"], f"{key} oversubscribed")


def test_svg(tmp, images):
    """4. The chart is valid XML with one series each: measured, ideal, amdahl."""
    m = main_bench(tmp, images)
    if not shutil.which("xmllint"):
        raise Skip("xmllint not installed (Debian: libxml2-utils)")
    for path in (m["svg"], m["timeline"]):
        r = subprocess.run(["xmllint", "--noout", path], capture_output=True, text=True)
        assert_eq(r.returncode, 0, f"xmllint {os.path.basename(path)}: {r.stderr}")
    root = ET.parse(m["svg"]).getroot()
    assert_eq(root.tag, SVG_NS + "svg", "root element")
    assert_true(not list(root.iter(SVG_NS + "script")), "the chart holds a script")
    for name in ("measured", "ideal", "amdahl"):
        found = [e for e in root.iter() if e.get("id") == name]
        assert_eq(len(found), 1, f"elements with id {name}")
        assert_true(name in (found[0].get("class") or "").split(), f"class of {name}")
        lines = [e for e in found[0].iter() if e.tag in (SVG_NS + "polyline", SVG_NS + "line")]
        assert_true(lines, f"series {name} draws nothing")
    measured = next(e for e in root.iter() if e.get("id") == "measured")
    pts = measured.find(SVG_NS + "polyline").get("points").split()
    assert_eq(len(pts), 2, "measured points")
    text = " ".join(t.text or "" for t in root.iter(SVG_NS + "text"))
    assert_true("jobs" in text and "speedup" in text, "axis labels: " + text[:200])
    assert_true(any(e.get("id") == "cpus" for e in root.iter()), "no CPU-count marker")


def test_bad_file_named_once(tmp, images):
    """5. The truncated JPEG does not stop the bench; it is counted and named once."""
    b = main_bench(tmp, images)["b"]
    assert_eq(b.rc, 0, "exit code")
    both = b.out + b.err
    assert_eq(both.count(BAD), 1, "mentions of the bad file\n" + both)
    assert_true("1 file failed in every run" in b.out, "failure count line\n" + b.out)
    assert_true("notes.txt" not in both, "the text file was taken for an image")
    assert_true(re.search(r"\b9 images\b", b.out), "the set is 9 images:\n" + b.out)


def test_names_cannot_forge_lines(tmp, images):
    """5b. A bad file's name went out raw: an escape sequence reached the
    terminal and a newline forged a line. Shown as a run's lines show names."""
    folder = os.path.join(tmp, "hostile")
    os.makedirs(folder)
    name = "bad\x1b]0;x\x07\nFAKE: ok.jpg"
    shutil.copyfile(os.path.join(images, BAD), os.path.join(folder, name))
    shutil.copyfile(os.path.join(images, "img000.jpg"), os.path.join(folder, "good.jpg"))
    b = Bench(tmp, ["--jobs-list", "1", "--repeat", "1", folder])
    both = b.out + b.err
    assert_true("\x1b" not in both and "\x07" not in both, "raw control bytes:\n" + both)
    assert_true("\nFAKE" not in both, "a forged line:\n" + both)
    assert_true("bad?]0;x??FAKE: ok.jpg" in b.out, "the name as shown:\n" + b.out)


def test_no_temp_left(tmp, images):
    """6. The temporary output folder is removed (its path is printed with -v)."""
    b = main_bench(tmp, images)["b"]
    m = re.search(r"outputs go to (\S+)", b.err)
    assert_true(m, "-v does not name the temporary folder:\n" + b.err)
    assert_true(m.group(1).startswith(b.tmpdir), "temp folder not under TMPDIR")
    assert_true(not os.path.exists(m.group(1)), m.group(1) + " is still there")
    assert_eq(b.left_behind(), [], "left in TMPDIR")


def usable_cpus():
    """The CPUs imgpool may use: Slurm's share, else the affinity mask."""
    try:
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0))


def test_oversubscribed(tmp, images):
    """7. Job counts above the CPUs it may use are marked with '*' and a footnote."""
    cpus = usable_cpus()
    b = Bench(tmp, ["--jobs-list", f"1,{cpus + 1}", "--repeat", "1", "-q", images])
    assert_eq(b.rc, 0, "exit code: " + b.err)
    rows = table_rows(b.out)
    assert_true(rows[str(cpus + 1)]["over"] and not rows["1"]["over"], "marks\n" + b.out)
    assert_true(f"oversubscribed: more workers than the {cpus} CPU" in b.out,
                "footnote\n" + b.out)
    assert_eq(b.err, "", "-q: stderr")
    assert_eq(b.left_behind(), [], "left in TMPDIR")


def test_svg_shades_only_oversubscribed_jobs(tmp, images):
    """10. The chart shades the oversubscribed region only when a run had more jobs
    than CPUs, and then from past the CPU count: jobs = CPUs is not oversubscribed."""
    cpus = usable_cpus()
    for jobs, shaded in ((cpus, False), (cpus + 1, True)):
        svg = os.path.join(tmp, f"shade{jobs}.svg")
        b = Bench(tmp, ["--jobs-list", f"1,{jobs}", "--repeat", "1", "-q", "--plot", svg,
                        images])
        assert_eq(b.rc, 0, "exit code: " + b.err)
        text = open(svg).read()
        rect = re.search(r'<rect class="oversubscribed" x="([0-9.]+)"', text)
        assert_eq(bool(rect), shaded, f"jobs {jobs} on {cpus} CPUs: shaded")
        if rect:
            line = re.search(r'<line class="cpu-line" x1="([0-9.]+)"', text)
            assert_true(float(rect.group(1)) > float(line.group(1)) + 1,
                        "the shade starts past the CPU line")


def test_usage_errors(tmp, images):
    """8. Usage errors exit 2 with one line naming the option; no images exit 1."""
    for args, name in ((["--jobs-list", "0,2", images], "--jobs-list"),
                       (["--repeat", "x", images], "--repeat"),
                       (["-j", "2", images], "--jobs"),
                       (["-o", os.path.join(tmp, "o"), images], "--output"),
                       (["-s", "12q", images], "--size"),
                       ([images, "--csv"], "--csv"),
                       (["--plot", "/nonexistent/dir/p.svg", images], "--plot"),
                       (["--files-from", os.path.join(tmp, "list"), images], "--files-from"),
                       ([], "imgpool bench --help"),
                       (["--repeat", " +1", images], "--repeat"),
                       (["--jobs-list", "1,0x2", images], "--jobs-list"),
                       # a thumbnail option's error names the bench's help, not a run's
                       (["--bogus", images], "imgpool bench: unknown option '--bogus' "
                                             "(see imgpool bench --help)")):
        b = Bench(tmp, args)
        assert_eq(b.rc, 2, f"{args}: exit code")
        lines = b.err.strip().splitlines()
        assert_eq(len(lines), 1, f"{args}: stderr lines")
        assert_true(name in lines[0], f"{args}: '{lines[0]}' does not name {name}")
        assert_eq(b.left_behind(), [], "left in TMPDIR")
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    b = Bench(tmp, [empty])
    assert_eq(b.rc, 1, "no images: exit code")
    assert_eq(b.left_behind(), [], "left in TMPDIR")


def test_interrupt(tmp, images):
    """9. Ctrl-C (or a closed terminal's HUP: it left the folder behind) in the
    middle of a pool run: exit 128 + the signal, temporary folder removed."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        tmpdir = tempfile.mkdtemp(prefix="tmpdir-", dir=tmp)
        env = dict(os.environ, TMPDIR=tmpdir)
        errpath = os.path.join(tmp, "interrupt.err")
        with open(errpath, "w") as err:
            p = subprocess.Popen([IMGPOOL, "bench", "--jobs-list", "1,2", "--repeat", "20",
                                  images], stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            with open(errpath) as f:
                if "jobs 2 ..." in f.read():
                    break
            time.sleep(0.02)
        assert_true(p.poll() is None, "the bench ended before a pool run")
        p.send_signal(sig)
        rc = p.wait(timeout=30)
        assert_eq(rc, 128 + sig, f"exit code ({sig})")
        assert_eq(os.listdir(tmpdir), [], f"left in TMPDIR ({sig})")


TESTS = [test_rows, test_baseline_is_one, test_csv_matches_table, test_svg,
         test_bad_file_named_once, test_names_cannot_forge_lines, test_no_temp_left,
         test_oversubscribed,
         test_usage_errors, test_interrupt, test_svg_shades_only_oversubscribed_jobs]


class BenchTests(unittest.TestCase):
    """The tests above as unittest cases, sharing one image set (made once)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_bench-")
        cls.images = os.path.join(cls.tmp, "images")
        make_set(cls.images)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


def _case(fn):
    def run_one(self):
        try:
            fn(self.tmp, self.images)
        except Skip as e:
            self.skipTest(str(e))
    run_one.__doc__ = fn.__doc__
    return run_one


for _fn in TESTS:
    setattr(BenchTests, _fn.__name__, _case(_fn))


def main():
    """test_bench.py IMGPOOL [TEST-NAME...]"""
    names = [f"BenchTests.{n}" for n in sys.argv[2:]]
    suite = (unittest.defaultTestLoader.loadTestsFromNames(names, sys.modules[__name__])
             if names else unittest.defaultTestLoader.loadTestsFromTestCase(BenchTests))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
