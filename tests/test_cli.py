#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the built imgpool command (the "done when" list of the
command issue). Run by CTest as: test_cli.py IMGPOOL [TEST-NAME...] (unittest underneath: each
test_* function becomes a case of CliTests, in a fresh temporary folder)

Images are made with the `vips` command-line tool; the real photos in
../shared/corpus/photos are used when present (IMGPOOL_CORPUS) and those cases
are skipped, not failed, when absent. Stdlib only.
"""
import datetime
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

IMGPOOL = os.path.abspath(sys.argv[1])
CORPUS = os.environ.get("IMGPOOL_CORPUS", "")


class Skip(Exception):
    pass


def run(args, **kw):
    """Run imgpool with args; return CompletedProcess (text, both streams)."""
    kw.setdefault("timeout", 300)
    return subprocess.run([IMGPOOL] + args, capture_output=True, **kw)


def header(path, field):
    out = subprocess.run(["vipsheader", "-f", field, path], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"vipsheader {path}: {out.stderr.strip()}")
    return out.stdout.strip()


def dims(path):
    return int(header(path, "width")), int(header(path, "height"))


def make_jpeg(path, w=1200, h=800):
    """A noise JPEG (noise keeps the decoder busy like a photo does)."""
    tmp = path + ".v"
    subprocess.run(["vips", "gaussnoise", tmp, str(w), str(h), "--mean", "128",
                    "--sigma", "50"], check=True)
    subprocess.run(["vips", "cast", tmp, path + "[Q=85]", "uchar"], check=True)
    os.unlink(tmp)


def make_set(folder, n, w=1200, h=800):
    """n JPEGs in folder (one made, the rest copies: fast)."""
    os.makedirs(folder, exist_ok=True)
    first = os.path.join(folder, "img000.jpg")
    make_jpeg(first, w, h)
    for i in range(1, n):
        shutil.copyfile(first, os.path.join(folder, f"img{i:03d}.jpg"))
    return sorted(os.listdir(folder))


def temps_left(folder):
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if ".imgpool-" in f]
    return found


def assert_eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def assert_true(cond, what):
    if not cond:
        raise AssertionError(what)


def b(s):
    return s.decode("utf-8", "replace") if isinstance(s, bytes) else s


# ---------------------------------------------------------------------------

def test_corpus_photos(tmp):
    """1. Every corpus photo gives a thumbnail inside the box, upright, 8-bit sRGB."""
    if not CORPUS or not os.path.isdir(CORPUS):
        raise Skip("corpus not present")
    out = os.path.join(tmp, "out")
    r = run(["-s", "256", "-o", out, "--progress", "none", "-j2", CORPUS])
    names = [f for f in os.listdir(CORPUS) if not f.startswith(".")]
    failed_lines = [l for l in b(r.stderr).splitlines() if l.startswith("error")]
    empty = [f for f in names if os.path.getsize(os.path.join(CORPUS, f)) == 0]
    assert_eq(len(failed_lines), len(empty), "errors " + "\n".join(failed_lines))
    assert_eq(r.returncode, 1 if empty else 0, "exit code")
    made = 0
    for f in names:
        if f in empty:
            continue
        stem, ext = os.path.splitext(f)
        cands = [os.path.join(out, stem + e) for e in (ext.lower(), ".jpg", ".png", ext)]
        cands = [c for c in cands if os.path.exists(c)]
        assert_true(cands, f"no output for {f}")
        w, h = dims(cands[0])
        assert_true(max(w, h) == 256 or (w <= 256 and h <= 256), f"{f}: {w}x{h} outside 256")
        made += 1
        if f.startswith("Landscape_"):
            assert_true(w > h, f"{f} is not upright: {w}x{h}")
        if f.startswith("Portrait_"):
            assert_true(h > w, f"{f} is not upright: {w}x{h}")
    for f in ["Channel_digital_image_CMYK_color.jpg",
              "Giunchedi%2C_Filippo_January_2015_01-cmyk-orientation-exif.jpg",
              "sample.png", "tifftag-photoshop.tiff"]:
        if f not in names:
            continue
        stem, ext = os.path.splitext(f)
        o = [os.path.join(out, stem + e) for e in (".jpg", ".png") if os.path.exists(os.path.join(out, stem + e))][0]
        assert_true("UCHAR" in header(o, "format").upper(), f + " format")
        assert_true("SRGB" in header(o, "interpretation").upper(), f + " interpretation")
    assert_true(made >= 60, f"only {made} thumbnails")


def test_bad_inputs(tmp):
    """2. Corrupt, truncated, zero-byte and not-an-image: error lines, no output, exit 1."""
    src = os.path.join(tmp, "src")
    make_set(src, 3)
    data = open(os.path.join(src, "img000.jpg"), "rb").read()
    open(os.path.join(src, "truncated.jpg"), "wb").write(data[: len(data) // 2])
    open(os.path.join(src, "empty.jpg"), "wb").close()
    open(os.path.join(src, "text.jpg"), "w").write("this is not a picture\n")
    flipped = bytearray(data)
    for i in range(600, 4000, 7):
        flipped[i] ^= 0xFF
    open(os.path.join(src, "corrupt.jpg"), "wb").write(bytes(flipped[: len(flipped) // 3]))
    out = os.path.join(tmp, "out")
    r = run(["-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 1, "exit code")
    lines = b(r.stderr).splitlines()
    assert_true(not any(l.startswith("error") for l in b(r.stdout).splitlines()),
                "error lines on stdout: " + b(r.stdout))
    for bad in ["truncated.jpg", "empty.jpg", "text.jpg", "corrupt.jpg"]:
        errs = [l for l in lines if l.startswith("error") and bad in l]
        assert_eq(len(errs), 1, f"error lines for {bad}: {lines}")
        assert_true(len(errs[0]) > len("error ") + len(bad) + 10, f"no cause: {errs[0]}")
        assert_true(not os.path.exists(os.path.join(out, bad)), f"output for {bad}")
    for good in ["img000.jpg", "img001.jpg", "img002.jpg"]:
        assert_true(os.path.exists(os.path.join(out, good)), f"no output for {good}")
    assert_eq(temps_left(out), [], "temp files")
    assert_true("3 done, 4 failed" in b(r.stdout), "summary: " + b(r.stdout))


def test_readonly_output(tmp):
    """2b. A read-only output folder gives one clear error."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 300, 200)
    out = os.path.join(tmp, "ro")
    os.makedirs(out)
    os.chmod(out, 0o555)
    cmd = [IMGPOOL, "-o", out, "--progress", "none", src]
    if os.geteuid() == 0:
        # root writes anywhere: run as nobody, as a real user would be
        if not shutil.which("setpriv"):
            raise Skip("root without setpriv")
        os.chmod(tmp, 0o755)
        os.chmod(src, 0o755)
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    assert_eq(r.returncode, 1, "exit code " + b(r.stderr))
    err = b(r.stderr)
    assert_true("Permission denied" in err and out in err, "message: " + err)
    assert_eq(len(err.strip().splitlines()), 1, "one line")


def test_incremental(tmp):
    """3. A second run does nothing; touching one input redoes exactly it."""
    src = os.path.join(tmp, "src")
    make_set(src, 6, 400, 300)
    out = os.path.join(tmp, "out")
    r1 = run(["-o", out, "--progress", "none", src])
    assert_eq(r1.returncode, 0, "first run " + b(r1.stdout + r1.stderr))
    r2 = run(["-o", out, "--progress", "none", "--report", os.path.join(tmp, "r2.jsonl"), src])
    assert_eq(r2.returncode, 0, "second run")
    assert_true("0 done, 0 failed, 6 skipped" in b(r2.stdout), b(r2.stdout))
    time.sleep(0.05)
    os.utime(os.path.join(src, "img003.jpg"))
    r3 = run(["-o", out, "--progress", "none", src])
    ok = [l for l in b(r3.stdout).splitlines() if l.startswith("ok")]
    assert_eq(len(ok), 1, "redone: " + b(r3.stdout))
    assert_true("img003.jpg" in ok[0], ok[0])
    assert_true("1 done, 0 failed, 5 skipped" in b(r3.stdout), b(r3.stdout))
    r4 = run(["-o", out, "--progress", "none", "--force", src])
    assert_true("6 done" in b(r4.stdout), "force: " + b(r4.stdout))


def wait_for_line(proc, prefix, timeout=60):
    """Read proc.stdout until a line starting with prefix; return lines read."""
    lines = []
    end = time.time() + timeout
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no '{prefix}' line: {lines}")


def test_sigint_mid_run(tmp):
    """4. SIGINT: exit 130, summary, no temp or partial file; the next run finishes."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 40, 2400, 1600)
    out = os.path.join(tmp, "out")
    p = subprocess.Popen([IMGPOOL, "-j1", "-o", out, "--progress", "none", src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(p, "ok")
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=60)
    assert_eq(p.returncode, 130, "exit code " + err)
    assert_true("done" in rest, "summary: " + rest)
    # on standard error: a crontab's >/dev/null kept nothing of the stop
    assert_true("interrupted by SIGINT" in err and "interrupted" not in rest, "stop: " + err)
    # said as it came, once, with what a second Ctrl-C does (the run met it with
    # silence while the files running finished)
    said = [l for l in err.splitlines() if "Ctrl-C again stops them now" in l]
    assert_eq(said, ["imgpool: SIGINT: the files running finish, the rest are left for the "
                     "next run (Ctrl-C again stops them now)"], err)
    assert_eq(temps_left(out), [], "temp files")
    made = [f for f in os.listdir(out) if f.endswith(".jpg")]
    assert_true(0 < len(made) < len(names), f"made {len(made)} of {len(names)}")
    for f in made:
        w, h = dims(os.path.join(out, f))  # each is a whole, readable image
        assert_eq((w, h), (256, 171), f)
    r = run(["-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 0, "rerun")
    assert_eq(len([f for f in os.listdir(out) if f.endswith(".jpg")]), len(names), "all made")
    assert_true(f"{len(names) - len(made)} done" in b(r.stdout), b(r.stdout))


def test_second_sigint_stops_now(tmp):
    """4b. A second SIGINT terminates at once, still no temp file."""
    src = os.path.join(tmp, "src")
    make_set(src, 30, 2400, 1600)
    out = os.path.join(tmp, "out")
    p = subprocess.Popen([IMGPOOL, "-j2", "-o", out, "--progress", "none", src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(p, "ok")
    p.send_signal(signal.SIGINT)
    p.send_signal(signal.SIGINT)
    t0 = time.time()
    p.communicate(timeout=60)
    assert_true(time.time() - t0 < 5, "took too long")
    assert_eq(p.returncode, 130, "exit code")
    assert_eq(temps_left(out), [], "temp files")


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_worker_killed(tmp):
    """5. A worker SIGKILLed mid-run: every file still succeeds, exit 0."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 16, 2400, 1600)
    out = os.path.join(tmp, "out")
    p = subprocess.Popen([IMGPOOL, "-j2", "-o", out, "--progress", "none", src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(p, "ok")
    kids = children_of(p.pid)
    assert_true(kids, "no workers found")
    os.kill(kids[0], signal.SIGKILL)
    rest, err = p.communicate(timeout=120)
    assert_eq(p.returncode, 0, "exit code: " + rest + err)
    assert_eq(len([f for f in os.listdir(out) if f.endswith(".jpg")]), len(names), "all made")
    assert_eq(temps_left(out), [], "temp files")


def test_lock(tmp):
    """6. A second run on the same output folder exits 75."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 300, 200)
    out = os.path.join(tmp, "out")
    os.makedirs(os.path.join(out, ".imgpool"))
    with open(os.path.join(out, ".imgpool", "lock"), "w") as f:
        f.write("4242\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_EX)
        r = run(["-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 75, "exit code")
    assert_true("another imgpool run (pid 4242)" in b(r.stderr), b(r.stderr))
    r = run(["-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 0, "after the lock is gone")


def test_json_report(tmp):
    """7. JSON Lines parse; counts match the summary; odd names round-trip."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 300, 200)
    first = os.path.join(src, "img000.jpg")
    odd = ["with space.jpg", 'quote"s.jpg', "new\nline.jpg", "-dash.jpg",
           "caf\u00e9.jpg", "tab\there.jpg"]
    for n in odd:
        shutil.copyfile(first, os.path.join(src, n))
    raw = os.path.join(os.fsencode(src), b"bad\xff\xfeutf8.jpg")
    shutil.copyfile(first, raw)
    open(os.path.join(src, "broken.jpg"), "w").write("nope")
    out = os.path.join(tmp, "out")
    rep = os.path.join(tmp, "report.jsonl")
    r = run(["-o", out, "--progress", "none", "--report", rep, src])
    assert_eq(r.returncode, 1, "exit code")
    objs = [json.loads(l) for l in open(rep, encoding="utf-8")]
    files = [o for o in objs if o["type"] == "file"]
    summ = [o for o in objs if o["type"] == "summary"]
    assert_eq(len(summ), 1, "one summary")
    assert_eq(objs[-1]["type"], "summary", "summary last")
    s = summ[0]
    assert_eq(s["done"], sum(1 for o in files if o["status"] == "ok"), "done")
    assert_eq(s["failed"], sum(1 for o in files if o["status"] == "error"), "failed")
    assert_eq(s["done"], 2 + len(odd) + 1, "done count")
    assert_eq(s["failed"], 1, "failed count")
    assert_true(f"{s['done']} done, {s['failed']} failed" in b(r.stdout), "human summary")
    inputs = {os.path.basename(o["input"].encode("utf-8", "surrogateescape")) for o in files}
    for n in odd:
        assert_true(n.encode() in inputs, f"{n!r} not in report")
    assert_true(b"bad\xff\xfeutf8.jpg" in inputs, "non-UTF-8 name did not round-trip")
    for o in files:
        if o["status"] == "ok":
            p = o["outputs"][0]["path"].encode("utf-8", "surrogateescape")
            assert_true(os.path.exists(p), f"output {p!r} missing")
            assert_true(o["outputs"][0]["width"] <= 256, "width")
        else:
            assert_true(o["error"], "cause")


def test_progress_lines(tmp):
    """8. Plain progress lines at the interval when not a terminal; none with -q."""
    src = os.path.join(tmp, "src")
    make_set(src, 40, 2400, 1600)
    out = os.path.join(tmp, "out")
    t0 = time.time()
    r = run(["-j1", "-o", out, "--progress-interval", "0.2", src])
    took = time.time() - t0
    prog = [l for l in b(r.stderr).splitlines() if l.startswith("imgpool: ") and "files" in l]
    # one line per interval elapsed: at least one, never more than time allows;
    # the floor is half of them, since start-up and exit (no line yet, or none
    # any more) are part of `took`, and a loaded machine (CI's neighbours) can
    # stretch them: it failed with 3 lines in 1.7 s at load 5
    assert_true(len(prog) >= 1 and len(prog) >= int(took / 0.2) // 2 - 1,
                f"{len(prog)} lines in {took:.1f} s: {b(r.stderr)!r}")
    assert_true(len(prog) <= took / 0.2 + 1, f"{len(prog)} lines in {took:.1f} s")
    assert_true("\r" not in b(r.stderr), "no carriage returns in plain mode")
    assert_true(all("CPU" in l and "RSS" in l for l in prog), f"CPU/RSS: {prog}")
    r = run(["-q", "-j1", "--force", "-o", out, "--progress-interval", "0.3", src])
    assert_eq(b(r.stderr), "", "stderr with -q")
    assert_eq(b(r.stdout), "", "stdout with -q and no errors")


def test_streams(tmp):
    """Per-file errors on stderr, ok lines and the summary on stdout: a cron job's
    >/dev/null still shows every failure; --report - keeps stdout pure JSON."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 300, 200)
    open(os.path.join(src, "bad.jpg"), "w").write("not a picture")
    out = os.path.join(tmp, "out")
    r = run(["-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 1, "exit code")
    out_lines, err_lines = b(r.stdout).splitlines(), b(r.stderr).splitlines()
    assert_eq(sum(l.startswith("ok") for l in out_lines), 2, "ok lines on stdout")
    assert_eq([l for l in err_lines if l.startswith("error")][0].split(":")[0],
              "error " + os.path.join(src, "bad.jpg"), "the error line on stderr")
    assert_true(not any(l.startswith("error") for l in out_lines), "no error on stdout")
    assert_true(any("2 done, 1 failed" in l for l in out_lines), "summary on stdout")
    r = run(["-q", "--force", "-o", out, "--progress", "none", src])
    assert_eq(b(r.stdout), "", "-q: nothing on stdout")
    assert_true("bad.jpg" in b(r.stderr), "-q: the error still on stderr")
    r = run(["--force", "-o", out, "--progress", "none", "--report", "-", src])
    recs = [json.loads(l) for l in b(r.stdout).splitlines()]
    assert_eq(sorted(o["status"] for o in recs if o["type"] == "file"), ["error", "ok", "ok"],
              "--report -: stdout is the JSON alone")
    assert_true("bad.jpg" in b(r.stderr), "--report -: human lines on stderr")


def test_files_from(tmp):
    """--files-from - with -0 keeps each file's folder relative to --base (where a
    relative entry starts): a/dog.jpg and b/dog.jpg do not collide; a listed
    folder or a file outside --base is an error line; -0 and --base need
    --files-from."""
    src = os.path.join(tmp, "src")
    make_set(os.path.join(src, "a"), 1, 300, 200)
    make_set(os.path.join(src, "b"), 1, 200, 300)
    for d in "ab":
        os.rename(os.path.join(src, d, "img000.jpg"), os.path.join(src, d, "dog\n.jpg"))
    out = os.path.join(tmp, "out")
    listing = b"\0".join([b"./a/dog\n.jpg", b"b/dog\n.jpg", b"a", b"/etc/hostname"]) + b"\0"
    r = subprocess.run([IMGPOOL, "-0", "--files-from", "-", "-o", out, "--progress", "none"],
                       input=listing, capture_output=True, cwd=src, timeout=120)
    assert_eq(r.returncode, 1, b(r.stdout + r.stderr))
    assert_eq(sorted(os.listdir(out)), [".imgpool", "a", "b"], "mirrored")
    assert_eq(dims(os.path.join(out, "a", "dog\n.jpg")), (256, 171), "a/dog")
    assert_eq(dims(os.path.join(out, "b", "dog\n.jpg")), (171, 256), "b/dog")
    errs = [l for l in b(r.stderr).splitlines() if l.startswith("error")]
    assert_eq(len(errs), 2, b(r.stderr))
    assert_true(any("a folder" in l for l in errs) and any("--base" in l for l in errs), errs)
    # --base: paths relative to another folder; newline-separated by default
    out2 = os.path.join(tmp, "out2")
    r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", os.path.join(src, "a"),
                        "-o", out2, "--progress", "none"],
                       input=os.path.join(src, "b", "img") .encode() + b"\n" +
                       os.path.join(src, "a", "sub").encode() + b"\n",
                       capture_output=True, timeout=120)
    assert_eq(r.returncode, 1, b(r.stderr))
    # relative entries start at --base, not at the current folder
    out3 = os.path.join(tmp, "out3")
    r = subprocess.run([IMGPOOL, "-0", "--files-from", "-", "--base", src, "-o", out3,
                        "--progress", "none"], input=b"a/dog\n.jpg\0./b/dog\n.jpg\0",
                       capture_output=True, cwd=tmp, timeout=120)
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    assert_eq(sorted(os.listdir(out3)), [".imgpool", "a", "b"], "from --base")
    for args in (["-0", src], ["--base", src, src]):
        r = run(["-o", out] + args)
        assert_eq(r.returncode, 2, b(r.stderr))
        assert_true("goes with --files-from" in b(r.stderr), b(r.stderr))


def test_files_from_entries_named_wrongly_or_blank(tmp):
    """A blank line of a CRLF list ("\\r") was an entry: "base/: a folder" with
    --base, "No such file" without, and exit 1. An entry refused for its path
    (a folder symlink leading out of --base) took its file as met: a later entry
    naming the same file rightly (a symlink to it inside --base) got no answer at
    all, and no thumbnail."""
    base, other = os.path.join(tmp, "base"), os.path.join(tmp, "other")
    make_set(other, 1, 300, 200)
    os.makedirs(base)
    os.symlink("../other", os.path.join(base, "lnk"))
    os.symlink("../other/img000.jpg", os.path.join(base, "flink.jpg"))
    out = os.path.join(tmp, "out")
    r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", base, "-o", out,
                        "--report", "-"], input=b"flink.jpg\r\n\r\n", capture_output=True,
                       timeout=120)
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    files = [json.loads(l) for l in r.stdout.splitlines() if b'"file"' in l]
    assert_eq([f["status"] for f in files], ["ok"], files)
    # (listed the other way round, the file is answered once, as flink.jpg: an
    # entry naming a file met already gives no second answer, as in a walk)
    for k, listing in enumerate((b"lnk/img000.jpg\nflink.jpg\n",)):
        out2 = os.path.join(tmp, "out2-%d" % k)
        r = subprocess.run([IMGPOOL, "--files-from", "-", "--base", base, "-o", out2,
                            "--report", "-"], input=listing, capture_output=True,
                           timeout=120)
        assert_eq(r.returncode, 1, b(r.stdout + r.stderr))
        files = [json.loads(l) for l in r.stdout.splitlines() if b'"file"' in l]
        got = sorted((os.path.basename(f["input"]), f["status"]) for f in files)
        assert_eq(got, [("flink.jpg", "ok"), ("img000.jpg", "error")], files)
        assert_eq(dims(os.path.join(out2, "flink.jpg")), (256, 171), "made")

def _validate(obj, schema, where):
    """A small JSON Schema check: the keywords docs/report.schema.json uses."""
    if "oneOf" in schema:
        errors = []
        for sub in schema["oneOf"]:
            try:
                _validate(obj, sub, where)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{where}: matches no record type: {errors}")
    if "const" in schema:
        assert_eq(obj, schema["const"], where)
    if "enum" in schema:
        assert_true(obj in schema["enum"], f"{where}: {obj!r} not in {schema['enum']}")
    kinds = schema.get("type")
    if kinds:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        types = {"object": dict, "array": list, "string": str, "boolean": bool,
                 "null": type(None), "integer": int, "number": (int, float)}
        ok = any(isinstance(obj, types[k]) and not (k in ("integer", "number") and
                                                   isinstance(obj, bool)) for k in kinds)
        assert_true(ok, f"{where}: {obj!r} is not {kinds}")
    for key in schema.get("required", []):
        assert_true(key in obj, f"{where}: no {key!r}")
    for key, sub in schema.get("properties", {}).items():
        if isinstance(obj, dict) and key in obj:
            _validate(obj[key], sub, f"{where}.{key}")
    if schema.get("additionalProperties") is False and isinstance(obj, dict):
        extra = set(obj) - set(schema.get("properties", {}))
        assert_true(not extra, f"{where}: fields the schema does not name: {sorted(extra)}")
    for sub in schema.get("allOf", []):
        try:
            _validate(obj, sub.get("if", {}), where)
        except AssertionError:
            continue  # the condition does not hold: nothing asked
        _validate(obj, sub.get("then", {}), where)
    if "pattern" in schema and isinstance(obj, str):
        assert_true(re.search(schema["pattern"], obj), f"{where}: {obj!r} !~ {schema['pattern']}")
    if "items" in schema and isinstance(obj, list):
        for i, item in enumerate(obj):
            _validate(item, schema["items"], f"{where}[{i}]")
    if schema.get("format") == "date-time" and isinstance(obj, str):
        # RFC 3339 section 5.6, as JSON Schema's date-time asks
        assert_true(RFC3339.fullmatch(obj), f"{where}: {obj!r} is not an RFC 3339 date-time")


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def test_report_schema(tmp):
    """Real reports (ok, error of several kinds, skipped, planned, prune, summary)
    validate against docs/report.schema.json; times carry their zone; {date} and
    --report-append."""
    schema = json.load(open(os.path.join(os.path.dirname(__file__), "..", "docs",
                                         "report.schema.json")))
    src = os.path.join(tmp, "src")
    make_set(src, 3, 300, 200)
    open(os.path.join(src, "bad.jpg"), "w").write("not a picture")
    out = os.path.join(tmp, "out")
    rep = os.path.join(tmp, "r-{date}.jsonl")
    run(["-o", out, "--progress", "none", "--report", rep, src])
    run(["-o", out, "--progress", "none", "--report", rep, "--report-append", src])
    os.unlink(os.path.join(src, "img001.jpg"))
    run(["-o", out, "--progress", "none", "--report", rep, "--report-append", "--prune", src])
    run(["-n", "--force", "-o", out, "--progress", "none", "--report", rep, "--report-append", src])
    # an error that quotes a name holding a newline (the user's file in the way)
    # is still one line
    src2, out2 = os.path.join(tmp, "src2"), os.path.join(tmp, "out2")
    make_set(src2, 1, 300, 200)
    os.rename(os.path.join(src2, "img000.jpg"), os.path.join(src2, "n\nl.jpg"))
    os.makedirs(out2)
    open(os.path.join(out2, "n\nl.jpg"), "w").write("mine")
    run(["-o", out2, "--progress", "none", "--report", rep, "--report-append", src2])
    files = [f for f in os.listdir(tmp) if f.startswith("r-")]
    assert_eq(len(files), 1, "one report for the day")
    assert_true(len(files[0]) == len("r-2026-12-02.jsonl"), files[0])
    recs = [json.loads(l) for l in open(os.path.join(tmp, files[0]))]
    seen = set()
    for i, o in enumerate(recs):
        _validate(o, schema, f"record {i}")
        # the local zone's offset, not a bare UTC "Z": the clock a cron log is read by
        assert_true(len(o["time"]) == 25 and o["time"][19] in "+-", o["time"])
        assert_true(datetime.datetime.fromisoformat(o["time"]).utcoffset() is not None,
                    o["time"])
        seen.add((o["type"], o.get("status"), o.get("kind")))
    assert_eq(sum(1 for o in recs if o["type"] == "summary"), 5, "five runs appended")
    assert_true(any("n?l.jpg exists" in o.get("error", "") for o in recs), recs[-2:])
    for want in [("file", "ok", None), ("file", "error", "decode"),
                 ("file", "error", "failed-earlier"), ("file", "skipped", None),
                 ("file", "planned", None), ("prune", None, None), ("summary", None, None)]:
        assert_true(want in seen, f"no {want} record: {sorted(map(str, seen))}")


def test_usage_errors(tmp):
    """Usage errors: one line naming the option and value, exit 2."""
    for args, want in [(["-s", "12q", "x"], "--size: '12q' is not a size"),
                       (["--quality", "0", "x"], "--quality: '0'"),
                       (["--fit", "squash", "x"], "--fit: 'squash'"),
                       (["--bogus", "x"], "unknown option '--bogus'"),
                       # the list after a space was a PATH: everything kept
                       (["--keep-metadata", "exif", "x"], "--keep-metadata=exif ('exif'"),
                       (["-o", "-", "x"], "the output is a folder"),
                       (["--report", "r-{data}.jsonl", "x"], "unknown placeholder {data}"),
                       ([], "no PATH given")]:
        r = run(args)
        assert_eq(r.returncode, 2, f"{args}")
        assert_true(want in b(r.stderr), f"{args}: {b(r.stderr)!r}")
        assert_eq(len(b(r.stderr).strip().splitlines()), 1, "one line")
    r = run(["--help"])
    assert_true(r.returncode == 0 and "Exit status" in b(r.stdout), "help")
    r = run(["--version"])
    v = b(r.stdout)
    assert_true(all(w in v for w in ("imgpool", "libvips", "libjpeg-turbo", "libpng")), v)


def test_dry_run_and_sizes(tmp):
    """-n lists and writes nothing; several sizes come from one decode."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 1600, 1200)
    out = os.path.join(tmp, "out")
    r = run(["-n", "-s", "800,320", "-o", out, "--report", "-", src, os.path.join(tmp, "nothere")])
    assert_eq(r.returncode, 1, "dry run with a missing PATH")
    assert_true(not os.path.exists(out), "-n made OUT")
    # The walk finished: the summary has its total (it said null), the planned
    # files not started, as the schema says
    summary = json.loads(b(r.stdout).splitlines()[-1])
    assert_eq((summary["total"], summary["not_started"], summary["planned"], summary["failed"]),
              (3, 2, 2, 1), "dry run summary")
    r = run(["-n", "-s", "800,320", "-o", out, src])
    assert_eq(r.returncode, 0, "dry run")
    assert_true("would" in b(r.stdout) and not os.path.exists(out), b(r.stdout))
    r = run(["-s", "800,320", "-f", "webp", "-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    assert_eq(dims(os.path.join(out, "img000_800.webp")), (800, 600), "800")
    assert_eq(dims(os.path.join(out, "img000_320.webp")), (320, 240), "320")
    # Over an existing output folder, -n changes nothing in it either (a read-only
    # connection to the journal made its -wal and -shm files and left them).
    def tree():
        return sorted((os.path.relpath(os.path.join(d, n), out), os.lstat(os.path.join(d, n)).st_mtime_ns)
                      for d, _, names in os.walk(out) for n in names)
    before = tree()
    r = run(["-n", "-s", "800,320", "-f", "webp", "-o", out, "--force", src])
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    assert_eq(tree(), before, "files beneath OUT after -n")


def test_no_image_found_says_r_walks_the_subfolders(tmp):
    """Photos in year folders, no -r: the run said only "nothing to make", exit 0,
    as if the folders were empty. It now says how many subfolders it passed over
    and that -r walks them."""
    src = os.path.join(tmp, "Photos")
    make_set(os.path.join(src, "2024"), 1, 64, 48)
    os.makedirs(os.path.join(src, "2023"))
    os.makedirs(os.path.join(src, ".cache"))
    r = run(["-o", os.path.join(tmp, "out"), src])
    assert_eq(r.returncode, 0, b(r.stderr))
    assert_true("nothing to make: no image found, 2 subfolders not walked; -r walks them"
                in b(r.stdout), b(r.stdout))
    make_set(src, 1, 64, 48)  # an image there: no hint
    r = run(["-o", os.path.join(tmp, "out"), src])
    assert_true("not walked" not in b(r.stdout), b(r.stdout))


def test_trace_and_timeline(tmp):
    """Trace: one event per attempt, no overlap on a track, the death, respawn and
    retry of a worker killed from outside; the SVG timeline parses, a bar per attempt."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 14, 4000, 3000)
    out = os.path.join(tmp, "out")
    tr, svg = os.path.join(tmp, "t.json"), os.path.join(tmp, "t.svg")
    p = subprocess.Popen([IMGPOOL, "-j2", "-o", out, "--progress", "none", "--trace", tr,
                          "--timeline", svg, src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(p, "ok")
    kids = children_of(p.pid)
    os.kill(kids[0], signal.SIGKILL)
    rest, err = p.communicate(timeout=120)
    assert_eq(p.returncode, 0, "exit code " + err)
    ev = json.load(open(tr))["traceEvents"]
    tasks = [e for e in ev if e["ph"] == "X"]
    per_file = {}
    for e in tasks:
        per_file.setdefault(e["name"], []).append(e)
    assert_eq(sorted(per_file), sorted(names), "one track entry per file")
    died = [e for e in ev if e["ph"] == "i" and e["name"] == "worker died"]
    assert_eq(len(died), 1, "one death")
    started = [e for e in ev if e["ph"] == "i" and e["name"] == "worker started"
               and e["tid"] == died[0]["tid"] and e["ts"] >= died[0]["ts"]]
    assert_true(started, "a respawn after the death")
    retries = [e for e in ev if e["ph"] == "i" and e["name"] == "retry"]
    twice = [n for n, es in per_file.items() if len(es) == 2]
    if retries:  # the kill landed on a running task (almost always)
        assert_eq(len(twice), 1, "the retried file has two attempts")
        cats = sorted(e["cat"] for e in per_file[twice[0]])
        assert_eq(cats, ["crashed", "ok"], "attempts of the retried file")
    assert_true(all(len(es) == 1 for n, es in per_file.items() if n not in twice), "once each")
    for tid in {e["tid"] for e in tasks}:
        lane = sorted((e["ts"], e["ts"] + e["dur"]) for e in tasks if e["tid"] == tid)
        for (a0, a1), (b0, b1) in zip(lane, lane[1:]):
            assert_true(b0 >= a1 - 0.001, f"overlap on worker {tid}: {a0}-{a1} and {b0}")
    # the workers' ordinary end is no recycle (--max-worker-rss, --max-tasks)
    left = [e for e in ev if e["ph"] == "i" and e["name"] == "worker left"]
    assert_eq(len(left), 2, "each worker left at the end")
    assert_true(all("recycled" not in e["name"] for e in ev), "no recycle said")
    assert_true(any(e["ph"] == "C" for e in ev) or True, "counters")
    x = subprocess.run(["xmllint", "--noout", svg], capture_output=True, text=True)
    assert_eq(x.returncode, 0, "xmllint: " + x.stderr)
    body = open(svg).read()
    assert_eq(body.count('class="task"'), len(tasks), "a bar per attempt")
    assert_eq(body.count('class="lane"'), 2, "a lane per worker")


def test_slurm_cpus_per_task_not_a_count_is_said(tmp):
    """SLURM_CPUS_PER_TASK=0, abc or 5000 fell back to the CPUs available
    without a word: a job script's typo cost its parallelism silently."""
    src = os.path.join(tmp, "src")
    make_set(src, 1, 64, 48)
    for value in ("0", "abc", "5000"):
        env = dict(os.environ, SLURM_CPUS_PER_TASK=value)
        r = run(["-o", os.path.join(tmp, "out-" + value), src], env=env)
        assert_eq(r.returncode, 0, b(r.stderr))
        assert_true(b"SLURM_CPUS_PER_TASK='%s' is not a count" % value.encode() in r.stderr,
                    b(r.stderr))
    r = run(["-o", os.path.join(tmp, "out-2"), src], env=dict(os.environ, SLURM_CPUS_PER_TASK="2"))
    assert_true(b"SLURM_CPUS_PER_TASK" not in r.stderr, b(r.stderr))


def test_max_worker_rss(tmp):
    """A worker over --max-worker-rss is recycled after its task; nothing is lost.
    1M: below what any worker holds of its own after a file (libvips' state and
    caches, several MB), so that the recycling is certain."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 8, 2400, 1600)
    out = os.path.join(tmp, "out")
    rep = os.path.join(tmp, "r.jsonl")
    r = run(["-j2", "-o", out, "--progress", "none", "--max-worker-rss", "1M",
             "--report", rep, src])
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    summ = [json.loads(l) for l in open(rep)][-1]
    assert_eq(summ["done"], len(names), "all done")
    assert_true(summ["workers_recycled"] >= 1, f"recycled: {summ}")
    assert_eq(summ["workers_died"], 0, "no deaths")
    assert_true("recycled" in b(r.stdout), b(r.stdout))


def tmpfs(folder, size):
    """A tmpfs of size mounted on folder (made); skips the test where it cannot
    be (not root). The caller unmounts it."""
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    os.makedirs(folder, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs",
                       folder]).returncode:
        raise Skip("cannot mount a tmpfs here")


def test_min_free(tmp):
    """--min-free on a small filesystem: one message, no partial file, rerun finishes."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 30, 2400, 1600)
    out = os.path.join(tmp, "out")
    tmpfs(out, "6m")
    try:
        r = run(["-j2", "-s", "1200", "-Q", "95", "-o", out, "--progress", "none",
                 "--min-free", "3M", src])
        text = b(r.stderr)  # the stop is an error: on stderr
        assert_eq(r.returncode, 1, "exit code " + b(r.stdout) + text)
        assert_true("imgpool: stopped: " in text and "below --min-free" in text, text)
        assert_eq(temps_left(out), [], "temp files")
        made = [f for f in os.listdir(out) if f.endswith(".jpg")]
        assert_true(0 < len(made) < len(names), f"made {len(made)}")
        for f in made:
            dims(os.path.join(out, f))  # whole, decodable
        subprocess.run(["mount", "-o", "remount,size=128m", out], check=True)
        r = run(["-j2", "-s", "1200", "-Q", "95", "-o", out, "--progress", "none",
                 "--min-free", "3M", src])
        assert_eq(r.returncode, 0, "rerun " + b(r.stdout))
        assert_eq(len([f for f in os.listdir(out) if f.endswith(".jpg")]), len(names), "all")
    finally:
        subprocess.run(["umount", out])


def test_report_on_a_full_disk(tmp):
    """A --report whose disk fills: the write that failed left part of a record,
    and the records after it (once the disk had room again) followed it on its
    line, so no JSON Lines reader got past it. The report stops at the first
    failure, cut back to its last whole record: every line of it parses."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 80, 64, 48)
    disk = os.path.join(tmp, "disk")
    tmpfs(disk, "8k")
    try:
        rep = os.path.join(disk, "r.jsonl")
        r = run(["-j2", "--progress", "none", "--report", rep, "-o",
                 os.path.join(tmp, "out"), src])
        assert_eq(r.returncode, 1, "exit code " + b(r.stdout + r.stderr))
        assert_true("--report: writing" in b(r.stderr), b(r.stderr))
        with open(rep, "rb") as f:
            data = f.read()
        assert_true(len(data) > 1000, f"{len(data)} bytes: the disk took some records")
        assert_true(data.endswith(b"\n"), data[-200:])
        for line in data.split(b"\n")[:-1]:
            json.loads(line)  # every line whole
        assert_eq(len(os.listdir(os.path.join(tmp, "out"))) - 1, len(names), "all made")
        assert_true("Success" not in b(r.stderr), b(r.stderr))
        # A descriptor the shell opened (a log others write too) is not its own
        # to cut back: what was there before stays.
        os.unlink(rep)
        log = os.path.join(disk, "log")
        with open(log, "wb") as f:
            f.write(b"a line of someone else's\n" * 100)
        with open(log, "ab") as f:
            r = subprocess.run([IMGPOOL, "-j2", "--progress", "none", "--report",
                                "/dev/fd/%d" % f.fileno(), "-o", os.path.join(tmp, "out2"),
                                src], pass_fds=(f.fileno(),), capture_output=True,
                               timeout=300)
        assert_eq(r.returncode, 1, b(r.stdout + r.stderr))
        with open(log, "rb") as f:
            assert_true(f.read().startswith(b"a line of someone else's\n" * 100), "kept")
    finally:
        subprocess.run(["umount", disk])

def test_journal_on_a_full_disk(tmp):
    """An output folder whose disk is full: the journal cannot be made, and the
    hint was "--no-journal runs without one", a run that makes thumbnails no
    later run can call its own. It says the disk is full now."""
    src = os.path.join(tmp, "src")
    make_set(src, 1, 64, 48)
    disk = os.path.join(tmp, "disk")
    tmpfs(disk, "64k")
    try:
        with open(os.path.join(disk, "fill"), "wb") as f:
            try:
                f.write(bytes(1 << 20))
            except OSError:
                pass
        r = run(["--progress", "none", "-o", os.path.join(disk, "out"), src])
        assert_eq(r.returncode, 1, b(r.stdout + r.stderr))
        assert_true("disk is full" in b(r.stderr), b(r.stderr))
        assert_true("--no-journal" not in b(r.stderr), b(r.stderr))
    finally:
        subprocess.run(["umount", disk])

def test_report_where_stderr_goes(tmp):
    """--report naming the file standard error goes to (2> r.jsonl --report
    r.jsonl, or /dev/stderr) mixed imgpool's error lines into the records. It is
    refused (usage), and the report file is left as it was."""
    src = os.path.join(tmp, "src")
    make_set(src, 1, 64, 48)
    rep = os.path.join(tmp, "r.jsonl")
    for name, both in ((rep, False), ("/dev/stderr", False), (rep, True)):
        with open(rep, "wb") as err:  # both: &> r.jsonl, standard output there too
            r = subprocess.run([IMGPOOL, "-o", os.path.join(tmp, "out"), "--report", name,
                                src], stdout=err if both else subprocess.PIPE, stderr=err,
                               timeout=120)
        assert_eq(r.returncode, 2, name)
        with open(rep, "rb") as f:
            text = f.read()
        assert_true(b"where standard error goes" in text, text)
        assert_true(b'"schema"' not in text, text)

def planned(src, out, shard, extra=()):
    """The inputs a dry run of this shard would thumbnail."""
    r = run(["-n", "-r", "--shard", shard, "--report", "-", "-o", out] + list(extra) + [src])
    assert_true(r.returncode in (0, 1), b(r.stderr))
    objs = [json.loads(l) for l in r.stdout.decode().splitlines()]
    assert_eq(objs[-1]["shard"], None if shard == "none" else shard, "summary names the shard")
    return {o["input"] for o in objs if o["type"] == "file" and o["status"] == "planned"}


def test_shard_properties(tmp):
    """--shard K/N: disjoint, complete, and stable when files are added, on random trees."""
    import random
    rng = random.Random(1234)
    for trial in range(4):
        src = os.path.join(tmp, f"src{trial}")
        out = os.path.join(tmp, f"out{trial}")
        def add_files(count):
            for _ in range(count):
                d = os.path.join(src, *[f"d{rng.randrange(4)}" for _ in range(rng.randrange(3))])
                os.makedirs(d, exist_ok=True)
                name = "".join(rng.choice("abcdefgh _-é") for _ in range(rng.randrange(1, 12)))
                open(os.path.join(d, name.strip() or "x") + rng.choice([".jpg", ".png", ".WEBP"]), "w").close()
        add_files(rng.randrange(20, 120))
        n = rng.randrange(2, 8)
        everything = planned(src, out, "none")
        shards = [planned(src, out, f"{k}/{n}") for k in range(1, n + 1)]
        union = set().union(*shards)
        assert_eq(union, everything, f"trial {trial}: shards cover everything")
        assert_eq(sum(len(s) for s in shards), len(everything), f"trial {trial}: disjoint")
        owner = {f: k for k, s in enumerate(shards) for f in s}
        add_files(30)
        for k in range(1, n + 1):
            for f in planned(src, out, f"{k}/{n}"):
                if f in owner:
                    assert_eq(owner[f], k - 1, f"{f} moved shard after files were added")
    # the scheduler's variables choose the shard; a count is needed for an index
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="7", SLURM_ARRAY_TASK_MIN="5",
               SLURM_ARRAY_TASK_MAX="8")
    r = run(["-n", "--report", "-", "-o", os.path.join(tmp, "o"), src], env=env)
    assert_eq(json.loads(r.stdout.decode().splitlines()[-1])["shard"], "3/4", "slurm")
    env = dict(os.environ, JOB_COMPLETION_INDEX="1")
    r = run(["-n", "-o", os.path.join(tmp, "o"), src], env=env)
    assert_eq(r.returncode, 2, "index without a count")
    r = run(["-n", "--shard-count", "3", "--report", "-", "-o", os.path.join(tmp, "o"), src], env=env)
    assert_eq(json.loads(r.stdout.decode().splitlines()[-1])["shard"], "2/3", "kubernetes")
    r = run(["-n", "--shard", "5/4", "-o", os.path.join(tmp, "o"), src])
    assert_eq(r.returncode, 2, "bad shard")


def summary_of(text):
    """(done, failed, skipped) from the human summary line."""
    import re
    m = re.search(r"(\d+) done, (\d+) failed, (\d+) skipped", b(text))
    assert_true(m, "no summary in: " + b(text))
    return tuple(int(g) for g in m.groups())


def test_journal_settings(tmp):
    """Changing an output setting redoes everything; other options redo nothing."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 5, 600, 400)
    out = os.path.join(tmp, "out")
    base = ["-o", out, "--progress", "none", src]
    assert_eq(summary_of(run(["-Q", "80"] + base).stdout)[0], len(names), "first run")
    assert_eq(summary_of(run(["-Q", "90"] + base).stdout)[0], len(names), "-Q 90 redoes all")
    assert_eq(summary_of(run(["-Q", "90"] + base).stdout)[0], 0, "-Q 90 again: nothing")
    assert_eq(summary_of(run(["-Q", "90", "-j", "1"] + base).stdout)[0], 0, "-j 1: nothing")
    assert_eq(summary_of(run(["-Q", "90", "-f", "png"] + base).stdout)[0], len(names), "format")


def test_journal_failed_earlier(tmp):
    """A failure is remembered: skipped as failed earlier, retried on request or change."""
    src = os.path.join(tmp, "src")
    make_set(src, 3, 400, 300)
    bad = os.path.join(src, "bad.jpg")
    open(bad, "w").write("not an image")
    out = os.path.join(tmp, "out")
    rep = os.path.join(tmp, "r.jsonl")
    def go(*extra):
        r = run(["-o", out, "--progress", "none", "--report", rep] + list(extra) + [src])
        lines = [json.loads(l) for l in open(rep)]
        return r, [o for o in lines if o.get("input", "").endswith("bad.jpg")][0]
    r, f = go()
    assert_eq((r.returncode, f["status"]), (1, "error"), "first failure")
    assert_true(f["worker"] >= 0, "it was tried")
    r, f = go()
    assert_eq(r.returncode, 1, "still failing")
    assert_true("failed earlier" in f["error"] and "not a known file format" in f["error"], f["error"])
    assert_eq(f["worker"], -1, "no decode attempted")
    assert_true("1 of the failures failed earlier and is unchanged" in b(r.stdout), b(r.stdout))
    r, f = go("--retry-failed")
    assert_true(f["worker"] >= 0 and "failed earlier" not in f["error"], "retried")
    shutil.copyfile(os.path.join(src, "img000.jpg"), bad)
    r, f = go()
    assert_eq((r.returncode, f["status"]), (0, "ok"), "replaced by a good image")


def test_journal_prune(tmp):
    """--prune -n lists exactly the outputs of deleted/renamed inputs; --prune removes them."""
    src = os.path.join(tmp, "src")
    make_set(os.path.join(src, "sub"), 4, 300, 200)
    make_set(src, 3, 300, 200)
    out = os.path.join(tmp, "out")
    assert_eq(run(["-r", "-o", out, "--progress", "none", src]).returncode, 0, "first run")
    open(os.path.join(out, "notes.txt"), "w").write("mine")
    os.unlink(os.path.join(src, "img001.jpg"))
    os.unlink(os.path.join(src, "sub", "img002.jpg"))
    os.rename(os.path.join(src, "sub", "img003.jpg"), os.path.join(src, "sub", "renamed.jpg"))
    want = {os.path.join(out, "img001.jpg"), os.path.join(out, "sub", "img002.jpg"),
            os.path.join(out, "sub", "img003.jpg")}
    rep = os.path.join(tmp, "n.jsonl")
    r = run(["-r", "-n", "--prune", "-o", out, "--report", rep, src])
    listed = {o["output"] for o in map(json.loads, open(rep)) if o["type"] == "prune"}
    assert_eq(listed, want, "dry run lists exactly these")
    assert_true(all(os.path.exists(p) for p in want), "dry run deletes nothing")
    r = run(["-r", "--prune", "-o", out, "--progress", "none", src])
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    assert_true(not any(os.path.exists(p) for p in want), "pruned")
    assert_true(os.path.exists(os.path.join(out, "notes.txt")), "a file of mine survives")
    assert_true(os.path.exists(os.path.join(out, "sub", "renamed.jpg")), "the renamed one made")
    assert_true(os.path.exists(os.path.join(out, "img000.jpg")), "others kept")


def test_journal_kill9_parent(tmp):
    """kill -9 of the parent mid-run: the next run completes; nothing is made twice
    beyond the last uncommitted batch."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 300, 800, 600)
    out = os.path.join(tmp, "out")
    r1 = os.path.join(tmp, "r1.jsonl")
    p = subprocess.Popen([IMGPOOL, "-j2", "-o", out, "--progress", "none", "--report", r1, src],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(120):
        wait_for_line(p, "ok")
    p.kill()
    p.wait()
    first = {o["input"] for o in map(json.loads, open(r1)) if o.get("status") == "ok"}
    assert_true(100 <= len(first) < len(names), f"{len(first)} made before the kill")
    r2 = os.path.join(tmp, "r2.jsonl")
    r = run(["-o", out, "--progress", "none", "--report", r2, src])
    assert_eq(r.returncode, 0, b(r.stdout + r.stderr))
    second = {o["input"] for o in map(json.loads, open(r2)) if o.get("status") == "ok"}
    twice = first & second
    assert_true(len(twice) <= 200, f"{len(twice)} made twice")
    made = [f for f in os.listdir(out) if f.endswith(".jpg")]
    assert_eq(len(made), len(names), "every output exists")
    for f in made[::25]:
        dims(os.path.join(out, f))
    assert_eq(temps_left(out), [], "temp files")


def test_journal_corrupt(tmp):
    """A truncated, garbage or deleted journal: a warning saying what it costs; the
    thumbnails already there, which nothing now shows to be imgpool's, are errors
    (one may be the user's: adopting them let --force replace and --prune delete
    a user's file), and --overwrite remakes them."""
    src = os.path.join(tmp, "src")
    names = make_set(src, 6, 400, 300)
    out = os.path.join(tmp, "out")
    assert_eq(run(["-o", out, "--progress", "none", src]).returncode, 0, "first run")
    jpath = os.path.join(out, ".imgpool", "journal.sqlite")
    for damage in ("truncate", "garbage", "delete"):
        data = open(jpath, "rb").read()
        if damage == "delete":
            os.unlink(jpath)
        else:
            with open(jpath, "wb") as f:
                f.write(data[: len(data) // 2] if damage == "truncate"
                        else os.urandom(len(data)))
        for side in ("-wal", "-shm"):
            if os.path.exists(jpath + side):
                os.unlink(jpath + side)
        mine = os.path.join(out, names[0])
        with open(mine, "w") as f:
            f.write("my own notes")         # newer than its input: still not adopted
        r = run(["-o", out, "--progress", "none", src])
        assert_eq(r.returncode, 1, damage + b(r.stdout + r.stderr))
        if damage != "delete":
            assert_true("unusable" in b(r.stderr), b(r.stderr))
        assert_true("has no journal of earlier runs" in b(r.stderr) and
                    "--overwrite remakes them" in b(r.stderr), b(r.stderr))
        assert_eq(summary_of(r.stdout), (0, len(names), 0), damage + ": all refused")
        assert_true("adopted" not in b(r.stdout), b(r.stdout))
        r = run(["-o", out, "--progress", "none", "--force", src])
        assert_eq(open(mine).read(), "my own notes", damage + ": --force kept my file")
        r = run(["-o", out, "--progress", "none", "--overwrite", src])
        assert_eq(r.returncode, 0, damage + b(r.stdout + r.stderr))
        assert_eq(summary_of(r.stdout), (len(names), 0, 0), damage + ": remade")
        r = run(["-o", out, "--progress", "none", src])
        assert_eq(summary_of(r.stdout), (0, 0, len(names)), damage + ": then up to date")


def test_status_matches_report(tmp):
    """imgpool status --json counts equal the last run's JSON summary."""
    src = os.path.join(tmp, "src")
    make_set(src, 4, 400, 300)
    open(os.path.join(src, "bad.jpg"), "w").write("nope")
    out = os.path.join(tmp, "out")
    rep = os.path.join(tmp, "r.jsonl")
    run(["-o", out, "--progress", "none", "--report", rep, src])
    summ = [json.loads(l) for l in open(rep)][-1]
    st = run(["status", out, "--json"])
    assert_eq(st.returncode, 0, b(st.stderr))
    s = json.loads(st.stdout)
    assert_eq((s["ok"], s["failed"]), (summ["done"], summ["failed"]), "counts")
    last = s["journals"][0]["last_run"]
    assert_eq((last["done"], last["failed"], last["skipped"]),
              (summ["done"], summ["failed"], summ["skipped"]), "last run")
    assert_eq(len(s["journals"][0]["failures"]), 1, "the failed file listed")


def test_usage_errors_leave_no_output_folder(tmp):
    """A usage error found while the walk is set up (--name, --files-from, --base)
    left OUT/.imgpool/lock behind, and the next run warned that the journal of
    earlier runs was lost; empty side-file names failed only after the work."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 120, 90)
    out = os.path.join(tmp, "out")
    bad = [["--name", "{stem}"], ["--name", "{bogus}.jpg"],
           ["--files-from", os.path.join(tmp, "missing.txt")],
           ["--files-from", os.path.join(tmp, "missing.txt"), "--base", "/nonexistent"],
           ["--report", ""], ["--trace", ""], ["--timeline", ""], ["--trace", "-"],
           ["--timeline", "-"]]
    for args in bad:
        r = run(["-j1", "-o", out] + args + [src], cwd=tmp)
        assert_eq(r.returncode, 2, f"{args}: {b(r.stderr)}")
        assert_eq(os.path.exists(out), False, f"{args} made the output folder")
        assert_eq(os.path.exists(os.path.join(tmp, "-")), False, f"{args} wrote ./-")
    r = run(["-j1", "-q", "-o", out, src])
    assert_eq(r.returncode, 0, b(r.stderr))
    assert_eq("no journal" in b(r.stderr), False, b(r.stderr))


def test_report_to_dev_stdout_is_json_only(tmp):
    """--report /dev/stdout mixed the per-file lines and the summary into the JSON
    Lines; it is --report - now: the report alone on stdout."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 120, 90)
    for name in ("/dev/stdout", "/dev/fd/1"):
        out = os.path.join(tmp, "out" + name.replace("/", "_"))
        r = run(["-j1", "-o", out, "--report", name, src])
        assert_eq(r.returncode, 0, b(r.stderr))
        lines = b(r.stdout).splitlines()
        assert_eq(len(lines), 3, b(r.stdout))
        kinds = [json.loads(l)["type"] for l in lines]
        assert_eq(kinds, ["file", "file", "summary"], name)
        assert_eq(b(r.stderr).count("ok "), 2, b(r.stderr))


def test_conflicting_options_are_refused(tmp):
    """Options that could not both hold were taken silently: --checksum did nothing
    under --no-journal, --shard won over --shard-count, and a bad
    IMGPOOL_SHARD_COUNT was called missing."""
    src = os.path.join(tmp, "src")
    make_set(src, 2, 120, 90)
    out = os.path.join(tmp, "out")
    env = dict(os.environ, IMGPOOL_SHARD_COUNT="x", JOB_COMPLETION_INDEX="0")
    for args, said, kw in (
            (["--no-journal", "--checksum"], "--checksum", {}),
            (["--shard", "1/2", "--shard-count", "3"], "give one", {}),
            ([], "IMGPOOL_SHARD_COUNT='x'", {"env": env})):
        r = run(["-j1", "-o", out] + args + [src], **kw)
        assert_eq(r.returncode, 2, f"{args}: {b(r.stderr)}")
        assert_eq(said in b(r.stderr), True, b(r.stderr))
        assert_eq(os.path.exists(out), False, f"{args} made the output folder")


def test_a_run_that_could_not_start_says_so(tmp):
    """The journal could not be made (RLIMIT_FSIZE of 1 kB): the summary on
    stdout read '0 done, 0 failed, 0 skipped (nothing made)', like a clean run
    with nothing to do; it says the run did not happen now."""
    if not shutil.which("prlimit"):
        raise Skip("no prlimit")
    src = os.path.join(tmp, "src")
    make_set(src, 1, 120, 90)
    r = subprocess.run(["prlimit", "--fsize=1024", IMGPOOL, "-o", os.path.join(tmp, "out"),
                        src], capture_output=True, timeout=120)
    assert_eq(r.returncode, 1, b(r.stderr))
    assert_eq("not run: the error above says why" in b(r.stdout), True, b(r.stdout))
    assert_eq("journal" in b(r.stderr), True, b(r.stderr))


def test_help_fits_80_columns(tmp):
    """--help had lines of 83 and 86 columns and status --help one of 111: they
    wrapped on the terminal they are read on."""
    for args in (["--help"], ["status", "--help"], ["bench", "--help"]):
        r = run(args)
        assert_eq(r.returncode, 0, args)
        long = [l for l in r.stdout.decode().splitlines() if len(l) > 80]
        assert_eq(long, [], args)


def test_lost_standard_output_fails_every_command(tmp):
    """--help, -V and status wrote to a full disk or a closed stdout and exited 0,
    so a monitoring script read empty JSON as a success. They exit 1, saying so."""
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    make_set(src, 1, 120, 90)
    run(["-q", "-o", out, src])
    for args in (["--help"], ["-V"], ["status", out], ["status", out, "--json"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([IMGPOOL] + args, stdout=full, stderr=subprocess.PIPE,
                               timeout=60)
        assert_eq(r.returncode, 1, args)
        assert_eq(b"writing to standard output failed" in r.stderr, True, r.stderr)
    r = subprocess.run([IMGPOOL, "-V"], stdout=subprocess.DEVNULL, timeout=60)
    assert_eq(r.returncode, 0, "-V to /dev/null")
    # a pipe closed before the first write (| true): exit 1 too, not SIGPIPE (141)
    for args in (["--help"], ["-V"], ["status", out]):
        rd, wr = os.pipe()
        os.close(rd)
        r = subprocess.run([IMGPOOL] + args, stdout=wr, stderr=subprocess.PIPE, timeout=60,
                           restore_signals=True)
        os.close(wr)
        assert_eq(r.returncode, 1, ("closed pipe", args, r.stderr))


def test_status_counts_each_input_once(tmp):
    """imgpool status summed every journal's rows: after shards and then a run
    without --shard, each photo (and the bad file) counted three times over."""
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    make_set(src, 4, 160, 120)
    open(os.path.join(src, "bad.jpg"), "w").write("nope")
    for shard in ("1/2", "2/2"):
        run(["-q", "-o", out, "--shard", shard, src])
    time.sleep(1.1)   # the unsharded run's rows are the newest (runs.started: seconds)
    run(["-q", "-o", out, "-s", "100", src])
    js = json.loads(run(["status", out, "--json"]).stdout)
    assert_eq(len(js["journals"]), 3, "journals")
    assert_eq(sum(j["ok"] for j in js["journals"]), 8, "each journal's own rows")
    assert_eq((js["ok"], js["failed"]), (4, 1), "totals: each input once")
    text = b(run(["status", out]).stdout)
    assert_eq("all journals: 4 ok, 1 failed" in text, True, text)
    # each failed file says how many runs in a row failed it ("(1 attempts)")
    assert_eq("bad.jpg: " in text and "(failed once)" in text, True, text)
    run(["-q", "-o", out, "-s", "100", "--retry-failed", src])
    text = b(run(["status", out]).stdout)
    assert_eq("(failed 2 times in a row)" in text, True, text)
    # The latest row by the clock, not by the local time written: a run five hours
    # east of UTC failed a file; fixed, the shards (in UTC) made it a second later.
    src2, out2 = os.path.join(tmp, "src2"), os.path.join(tmp, "out2")
    make_set(src2, 2, 160, 120)
    with open(os.path.join(src2, "c.jpg"), "w") as f:
        f.write("nope")
    run(["-q", "-o", out2, src2], env=dict(os.environ, TZ="XXX-05"))
    shutil.copyfile(os.path.join(src2, "img000.jpg"), os.path.join(src2, "c.jpg"))
    time.sleep(1.1)
    for shard in ("1/2", "2/2"):
        run(["-q", "-o", out2, "--shard", shard, src2], env=dict(os.environ, TZ="UTC"))
    js = json.loads(run(["status", out2, "--json"]).stdout)
    assert_eq((js["ok"], js["failed"]), (3, 0), "totals by the clock")
    # The other way round: the shards' journals, read first, failed the file five
    # hours east; the run without --shard, in UTC a second later, made it. Its row
    # wins only if every start time (RFC 3339 now) is read as the clock's seconds:
    # unread times tie, and a tie keeps the row read first.
    src3, out3 = os.path.join(tmp, "src3"), os.path.join(tmp, "out3")
    make_set(src3, 2, 160, 120)
    with open(os.path.join(src3, "c.jpg"), "w") as f:
        f.write("nope")
    for shard in ("1/2", "2/2"):
        run(["-q", "-o", out3, "--shard", shard, src3], env=dict(os.environ, TZ="XXX-05"))
    shutil.copyfile(os.path.join(src3, "img000.jpg"), os.path.join(src3, "c.jpg"))
    time.sleep(1.1)
    run(["-q", "-o", out3, src3], env=dict(os.environ, TZ="UTC"))
    js = json.loads(run(["status", out3, "--json"]).stdout)
    assert_eq((js["ok"], js["failed"]), (3, 0), "totals by the clock, shards first")


def test_ambiguous_option_and_status_words(tmp):
    """'--re' was called unknown (it abbreviates five options), and imgpool
    status showed the settings as the journal's numbers (fit=1 format=3)."""
    r = run(["--re", tmp])
    assert_eq(r.returncode, 2, b(r.stderr))
    assert_eq("ambiguous option '--re': --recursive" in b(r.stderr), True, b(r.stderr))
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    make_set(src, 1, 120, 90)
    r = run(["-q", "-o", out, "--fit", "cover", "-f", "webp", "--keep-metadata=icc,xmp", src])
    assert_eq(r.returncode, 0, b(r.stderr))
    st = b(run(["status", out]).stdout)
    for word in ("fit=cover", "format=webp", "keep-metadata=xmp,icc", "enlarge=no"):
        assert_eq(word in st, True, st)
    js = json.loads(run(["status", out, "--json"]).stdout)
    assert_eq(js["journals"][0]["last_run"]["settings"]["fit"], "cover", "json")


def test_a_command_line_that_would_drop_an_answer_is_refused(tmp):
    """A new user's audit: --files-from given twice read the second list alone
    (the first list's files got no answer, exit 0; other options repeated keep
    the last, as GNU tools do); "--retry 3", meant as
    --retries 3, was --retry-failed and a PATH "3"; a --base that is a file
    failed every listed file on its own; an empty PATH gave "error : ...". Each
    is a usage error now (exit 2, one line, nothing made)."""
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    make_set(src, 2, 120, 90)
    names = sorted(os.listdir(src))
    la, lb = os.path.join(tmp, "la"), os.path.join(tmp, "lb")
    for path, name in ((la, names[0]), (lb, names[1])):
        with open(path, "w") as f:
            f.write(os.path.join(src, name) + "\n")
    afile = os.path.join(tmp, "afile")
    with open(afile, "w") as f:
        f.write("x")
    for args, want in (
            (["--files-from", la, "--files-from", lb, "-o", out], "--files-from is given twice"),
            (["--retry", "3", "-o", out, src], "'--retry' abbreviates --retry-failed, and is "
                                               "close to --retries"),
            (["--files-from", la, "--base", afile, "-o", out], "--base: '%s': not a folder" % afile),
            (["-o", out, ""], "PATH 1 is empty ('')"),
            (["-o", out, src, ""], "PATH 2 is empty ('')")):
        r = run(args)
        assert_eq(r.returncode, 2, f"{args}: {b(r.stderr)}")
        assert_eq(want in b(r.stderr), True, f"{args}: {b(r.stderr)}")
        assert_eq(len(b(r.stderr).strip().splitlines()), 1, f"{args}: {b(r.stderr)}")
        assert_eq(os.path.exists(out), False, f"{args}: made {out}")
    # what stays: an abbreviation no value option is close to, a value given once
    r = run(["--recur", "--quie", "--files-from", la, "-o", out, src])
    assert_eq(r.returncode, 0, b(r.stderr))
    assert_eq(sorted(n for n in os.listdir(out) if n != ".imgpool"), names, "both made")


def test_one_cause_in_one_wording_however_a_file_is_named(tmp):
    """A dangling symlink, a symlink loop and a FIFO were "broken symlink (its
    target does not exist)", "symlink loop" and "not a regular file (a FIFO,
    socket or device)" in a walk, but "No such file or directory", "Too many
    levels of symbolic links" and "not a regular file" from --files-from, and
    "not a regular file or folder" as a PATH (a new user's audit). One wording
    now, whichever way the file came."""
    src = os.path.join(tmp, "in")
    os.makedirs(src)
    os.symlink("nowhere.jpg", os.path.join(src, "dangling.jpg"))
    os.symlink("loop.jpg", os.path.join(src, "loop.jpg"))
    os.mkfifo(os.path.join(src, "fifo.jpg"))
    want = {"dangling.jpg": "broken symlink (its target does not exist)",
            "loop.jpg": "symlink loop",
            "fifo.jpg": "not a regular file (a FIFO, socket or device)"}
    lst = os.path.join(tmp, "list")
    with open(lst, "w") as f:
        f.write("".join(os.path.join(src, n) + "\n" for n in sorted(want)))
    for how, args in (("walk", [src]), ("list", ["--files-from", lst]),
                      ("paths", [os.path.join(src, n) for n in sorted(want)])):
        r = run(["-q", "-o", os.path.join(tmp, "out-" + how)] + args)
        assert_eq(r.returncode, 1, f"{how}: {b(r.stderr)}")
        got = {}
        for line in b(r.stderr).splitlines():
            name, _, cause = line[len("error "):].partition(": ")
            got[os.path.basename(name)] = cause
        assert_eq(got, want, how)


def test_an_error_line_is_one_write(tmp):
    """Each line on standard error goes out in one write: unbuffered, it went a
    character of the file's name at a time (a write each), and another writer
    of the same log could land inside the line."""
    if not shutil.which("strace"):
        raise Skip("no strace")
    trace = os.path.join(tmp, "trace")
    missing = os.path.join(tmp, "no-such-photo-" + "x" * 40 + ".jpg")
    # LeakSanitizer cannot run under a tracer (an ASan build): its report would
    # be writes of its own
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    r = subprocess.run(["strace", "-f", "-e", "trace=write", "-e", "signal=none", "-o",
                        trace, IMGPOOL, "-q", "--no-journal", "-o",
                        os.path.join(tmp, "out"), missing],
                       capture_output=True, timeout=300, env=env)
    if r.returncode != 0 and not os.path.exists(trace):
        raise Skip("strace cannot trace here")
    assert r.returncode == 1, r.stderr
    with open(trace) as f:
        writes = [x for x in f if "write(2," in x]
    line = b"error " + missing.encode() + b": No such file or directory\n"
    assert r.stderr.startswith(line), r.stderr
    assert len(writes) == 1 and writes[0].rstrip().endswith("= %d" % len(line)), writes


class CliTests(unittest.TestCase):
    """The tests above as unittest cases, each in a fresh temporary folder. A test
    function takes that folder; Skip skips it."""


def _case(fn):
    def run_one(self):
        tmp = tempfile.mkdtemp(prefix="imgpool-e2e-")
        try:
            fn(tmp)
        except Skip as e:
            self.skipTest(str(e))
        finally:
            subprocess.run(["chmod", "-R", "u+rwx", tmp])
            shutil.rmtree(tmp, ignore_errors=True)
    run_one.__doc__ = fn.__doc__
    return run_one


for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        setattr(CliTests, _name, _case(_fn))


def main():
    """test_cli.py IMGPOOL [TEST-NAME...]: run every test, or the ones named."""
    names = [f"CliTests.{n}" for n in sys.argv[2:]]
    suite = (unittest.defaultTestLoader.loadTestsFromNames(names, sys.modules[__name__])
             if names else unittest.defaultTestLoader.loadTestsFromTestCase(CliTests))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
