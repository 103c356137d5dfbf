#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_adversarial.py IMGPOOL [TEST-NAME...] — imgpool against hostile input and
faults: the adversarial image set (make-adversarial.py), paths that try to leave
the output folder, a disk that fills, and a huge tree.

Prints one line per case (PASS / FAIL / SKIP, with what imgpool did) and ends
with exactly "N passed, N failed, N skipped"; exits 1 if any case failed.
TEST-NAMEs pick test functions (e.g. test_huge_tree). IMGPOOL_HUGE sets the
file count of the huge tree (default 20000; the issue's full size is 100000).

Stdlib only, plus the vips CLI (libvips-tools) and, when present, setpriv and
prlimit (util-linux). Root is used when available (tmpfs, running as nobody)
and the root-only cases are skipped with a reason otherwise.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

IMGPOOL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(HERE, "make-adversarial.py")
RUN_TIMEOUT = 300          # seconds before a run counts as hung and is killed
WORKER_RSS_LIMIT_KB = 400 * 1024
PARENT_RSS_LIMIT_KB = 64 * 1024
IS_ROOT = os.geteuid() == 0
# A sanitizer build's RSS is mostly ASan's shadow and quarantine: bounds on it
# say nothing of the program, so they are skipped there (outcomes are not).
SANITIZED = os.environ.get("IMGPOOL_SANITIZED", "0") not in ("", "0")


# --------------------------------------------------------------------------
# Results: one line per case, the tally at the end

class Results:
    """Counts and prints cases as they are decided, so a hang still shows
    what passed before it."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}",
              flush=True)
        return ok

    def skip(self, name, reason):
        self.skipped += 1
        print(f"SKIP {name}: {reason}", flush=True)


R = Results()


def show(b):
    """Bytes or str as a readable one-line str (escapes kept visible)."""
    if isinstance(b, bytes):
        b = b.decode("utf-8", "surrogateescape")
    return repr(b)[1:-1]


# --------------------------------------------------------------------------
# Running imgpool

class Run:
    """What one imgpool run did."""
    rc = None
    out = b""
    err = b""
    maxrss_kb = 0      # wait4's ru_maxrss: the max of imgpool and its reaped workers
    parent_hwm_kb = 0  # VmHWM of the imgpool process alone, polled
    worker_hwm_kb = 0  # the largest VmHWM seen among its children, polled
    wall = 0.0
    hung = False


def read_hwm(pid):
    """The peak RSS (VmHWM, kB) of one process, or 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid):
    """Pids of the direct children of pid (the workers of imgpool)."""
    kids = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def time_peak_kb(path):
    """The %M figure /usr/bin/time wrote as the last line of path (0 if none)."""
    try:
        with open(path) as f:
            lines = f.read().split()
        return int(lines[-1]) if lines else 0
    except (OSError, ValueError):
        return 0


def run_imgpool(args, prefix=(), on_first_line=None, timeout=RUN_TIMEOUT):
    """Run prefix + [IMGPOOL] + args under `/usr/bin/time -f %M`, collecting
    stdout, stderr, the exit code and memory:
      maxrss_kb      %M: the peak RSS of the largest single process of the run
                     (Linux folds the peak of every reaped child into the
                     parent's, so it covers the workers; it is not a sum).
                     Measured by time, not by our own wait4: a child forked
                     from this (big) Python process carries Python's RSS into
                     its peak across exec, which time's small fork does not.
      parent_hwm_kb  VmHWM of the imgpool process alone, polled from /proc
                     (setpriv and prlimit exec it: same pid), so a peak in its
                     last 50 ms may be missed: maxrss_kb bounds it from above.
      worker_hwm_kb  the largest VmHWM polled among its children.
    on_first_line(line) runs when the first stdout line arrives. A run past
    timeout is killed, with everything it started, and marked hung."""
    r = Run()
    t0 = time.monotonic()
    tfile = tempfile.NamedTemporaryFile(prefix="imgpool-time-", delete=False).name
    cmd = list(prefix) + [IMGPOOL] + list(args)
    if TIME:
        cmd = [TIME, "-f", "%M", "-o", tfile] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)

    def kill():
        r.hung = True
        os.killpg(p.pid, 9)

    timer = threading.Timer(timeout, kill)
    timer.start()
    errs = []
    reader = threading.Thread(target=lambda: errs.append(p.stderr.read()))
    reader.start()
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            main = (children_of(p.pid) or [None])[0] if TIME else p.pid
            if main:
                r.parent_hwm_kb = max(r.parent_hwm_kb, read_hwm(main))
                for kid in children_of(main):
                    r.worker_hwm_kb = max(r.worker_hwm_kb, read_hwm(kid))
            stop.wait(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    first = p.stdout.readline()
    if first and on_first_line:
        on_first_line(first)
    r.out = first + p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    poller.join()
    timer.cancel()
    reader.join()
    r.err = errs[0] if errs else b""
    r.rc = p.returncode if p.returncode >= 0 else 128 - p.returncode
    r.maxrss_kb = time_peak_kb(tfile) if TIME else usage.ru_maxrss
    os.unlink(tfile)
    r.wall = time.monotonic() - t0
    return r


def as_nobody_prefix():
    """setpriv to nobody, for cases that only bite without root's powers."""
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def can_run_as_nobody():
    """Can nobody run IMGPOOL (setpriv present, the binary reachable by others)?"""
    if not shutil.which("setpriv"):
        return False
    r = subprocess.run(as_nobody_prefix() + [IMGPOOL, "--version"], capture_output=True)
    return r.returncode == 0


def chown_tree(top, user="nobody", group="nogroup"):
    """Give a whole tree (links themselves, not their targets) to user."""
    import grp
    import pwd
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    os.chown(top, uid, gid)
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, gid, follow_symlinks=False)


# --------------------------------------------------------------------------
# Looking at the results

def read_report(path):
    """(file objects, summary object or None) of a JSON Lines report."""
    files, summary = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if o["type"] == "file":
                files.append(o)
            elif o["type"] == "summary":
                summary = o
    return files, summary


def raw(s):
    """A report string back to the exact bytes of the name."""
    return s.encode("utf-8", "surrogateescape")


def temps_in(folder):
    """Temp files imgpool may have left (".<name>.imgpool-XXXXXX")."""
    found = []
    for root, _, files in os.walk(os.fsencode(folder)):
        found += [os.path.join(root, f) for f in files if b".imgpool-" in f]
    return found


def listing(top, exclude=()):
    """{relative path: (kind, size, mtime_ns)} of a tree, to see what a run
    changed; paths under any of exclude (bytes, relative) are left out."""
    top = os.fsencode(top)
    seen = {}
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, top)
            if any(rel == e or rel.startswith(e + b"/") for e in exclude):
                continue
            st = os.lstat(p)
            kind = "l" if os.path.islink(p) else "d" if os.path.isdir(p) else "f"
            seen[rel] = (kind, st.st_size if kind == "f" else 0,
                         st.st_mtime_ns if kind == "f" else 0)
    return seen


def diff_listing(before, after):
    """Human list of what appeared, vanished or changed between two listings."""
    out = [f"+{show(k)}" for k in after if k not in before]
    out += [f"-{show(k)}" for k in before if k not in after]
    out += [f"~{show(k)}" for k in before if k in after and before[k] != after[k]]
    return out


def decodes(path):
    """Is path a whole image libvips can read? (vipsheader reads the header;
    `vips avg` reads every pixel, so a truncated file fails it.)"""
    return subprocess.run(["vips", "avg", path], capture_output=True).returncode == 0


def cause_matches(cause, want):
    """want is a substring or a list of alternatives."""
    alts = want if isinstance(want, list) else [want]
    return any(a in cause for a in alts)


def repeated_clause(cause):
    """A clause said twice in one error ("a; b; a; b"): noise, not a cause."""
    parts = [p.strip() for p in cause.split(";") if p.strip()]
    dup = [p for i, p in enumerate(parts) if p in parts[:i]]
    return dup[0] if dup else None


def outputs_of(entry):
    return [raw(o["path"]) for o in entry.get("outputs", [])]


def inside(path, folder):
    """Does path (resolved) lie inside folder (resolved)?"""
    rp, rf = os.path.realpath(path), os.path.realpath(os.fsencode(folder))
    return rp == rf or rp.startswith(rf + b"/")


def check_rss(label, kb, limit_kb):
    """A memory bound, skipped (with the figure) in a sanitizer build."""
    if SANITIZED:
        R.skip(label, f"sanitizer build ({kb / 1024:.0f} MB measured)")
        return True
    return R.check(label, 0 < kb < limit_kb, f"{kb / 1024:.1f} MB")


# --------------------------------------------------------------------------
# The adversarial set

def judge_file(name, exp, got, out_dir):
    """Check one file's report entry against its expected outcome; one line."""
    label = f"hostile {show(name)} ({exp['why']})"
    want = exp["expect"]
    if want == "skip":
        return R.check(label, got is None,
                       "skipped silently" if got is None else f"was reported: {got['status']}")
    if got is None:
        return R.check(label, False, f"expected {want}, not in the report")
    status, cause = got["status"], got.get("error") or ""
    now = f"{status}" + (f": {cause}" if cause else "")
    outs = outputs_of(got)
    if status == "error":
        problems = []
        if want == "ok":
            problems.append("expected ok")
        if "cause" in exp and not cause_matches(cause, exp["cause"]):
            problems.append(f"cause lacks {exp['cause']!r}")
        rep = repeated_clause(cause)
        if rep:
            problems.append(f"the cause repeats {rep!r}")
        left = [o for o in outs if os.path.lexists(o)]
        if left:
            problems.append(f"output left: {show(left[0])}")
        return R.check(label, not problems, "; ".join(problems + [now]) if problems else now)
    if status == "ok":
        problems = []
        if want == "error":
            problems.append("expected an error")
        for o in outs:
            if not os.path.exists(o):
                problems.append(f"output missing: {show(o)}")
            elif not inside(o, out_dir):
                problems.append(f"output outside -o: {show(o)}")
            elif not decodes(o):
                problems.append(f"output does not decode: {show(o)}")
        if not outs:
            problems.append("no output listed")
        return R.check(label, not problems, "; ".join(problems + [now]) if problems else
                       f"ok -> {', '.join(show(os.path.basename(o)) for o in outs)}")
    return R.check(label, False, f"unexpected status {now}")


def test_hostile_inputs(tmp):
    """Every hostile file gets its expected outcome; the run as a whole stays
    sane: exit 1, one line per file, no temp file, bounded worker memory, no
    write outside -o, and the file deleted mid-run is one clean error."""
    setdir = os.path.join(tmp, "set")
    subprocess.run([sys.executable, GENERATOR, setdir], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(setdir, "expected.json")) as f:
        expected = json.load(f)
    src = os.path.join(setdir, expected["src"])
    out = os.path.join(tmp, "out")
    report = os.path.join(tmp, "report.jsonl")
    rows = {raw(e["name"]): e for e in expected["files"]}

    prefix = []
    if IS_ROOT:
        if can_run_as_nobody():
            # Root reads a mode-000 file, so the whole run is done as nobody.
            os.chmod(tmp, 0o755)
            chown_tree(tmp)
            prefix = as_nobody_prefix()
            print("note: running as nobody (root would read the mode-000 file)")
        else:
            for n, e in list(rows.items()):
                if e.get("as_nonroot"):
                    R.skip(f"hostile {show(n)}", "root, and nobody cannot run imgpool "
                           "(no setpriv, or the binary is not reachable by others)")
                    e["expect"] = "ignore"
    before = listing(tmp, exclude=[b"out", b"report.jsonl"])
    victims = [os.path.join(os.fsencode(src), n) for n, e in rows.items()
               if e.get("delete_during_run")]

    def delete_victims(line):
        """Runs on the first output line: discovery has seen the folder, the
        workers are busy with the big files, the victims come last."""
        for v in victims:
            os.unlink(v)

    r = run_imgpool(["--timeout", "20", "--progress", "none", "--report", report,
                     "-o", out, src], prefix=prefix, on_first_line=delete_victims)
    if not R.check("hostile run ends (no hang)", not r.hung,
                   f"{r.wall:.1f} s" if not r.hung else f"killed after {RUN_TIMEOUT} s"):
        return
    R.check("hostile run exit code 1", r.rc == 1, f"exit {r.rc}; stderr {show(r.err[-300:])}")
    files, summary = read_report(report)
    got, dups = {}, []
    prefix_b = os.fsencode(src) + b"/"
    for o in files:
        p = raw(o["input"])
        name = p[len(prefix_b):] if p.startswith(prefix_b) else p
        (dups if name in got else []).append(name)
        got[name] = o
    R.check("hostile report has one entry per file", not dups,
            f"{len(files)} entries" if not dups else f"twice: {[show(d) for d in dups]}")
    for name, exp in rows.items():
        if exp["expect"] != "ignore":
            judge_file(name, exp, got.get(name), out)
    extra = [show(n) for n in got if n not in rows]
    R.check("hostile report names only known files", not extra, f"unknown: {extra}" if extra else "")
    check_run_hygiene(r, src, out, tmp, before, files, summary,
                      deleted={os.path.relpath(v, os.fsencode(tmp)) for v in victims})


def split_lines(data):
    return data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")


def check_run_hygiene(r, src, out, tmp, before, files, summary, deleted=()):
    """The whole-run checks of the hostile set. ok lines are on stdout, error lines
    on stderr (with the progress lines, which start "imgpool: ")."""
    out_lines, err_lines = split_lines(r.out), split_lines(r.err)
    per_file = ([l for l in out_lines if l.startswith(b"ok ")] +
                [l for l in err_lines if l.startswith(b"error ")])
    other = ([l for l in out_lines if not l.startswith((b"ok ", b"imgpool: "))] +
             [l for l in err_lines if not l.startswith((b"error ", b"imgpool: "))])
    shown = [o for o in files if o["status"] in ("ok", "error")]
    R.check("hostile stdout and stderr: exactly one line per file (odd names never break a line)",
            len(per_file) == len(shown) and not other,
            f"{len(per_file)} file lines for {len(shown)} files; stray: "
            f"{[show(l) for l in other[:3]]}")
    if summary:
        ok = sum(o["status"] == "ok" for o in files)
        bad = sum(o["status"] == "error" for o in files)
        R.check("hostile summary matches the report",
                summary["done"] == ok and summary["failed"] == bad,
                f"summary {summary['done']} done {summary['failed']} failed; report {ok}/{bad}")
    else:
        R.check("hostile summary matches the report", False, "no summary line in the report")
    left = temps_in(out) + temps_in(src)
    R.check("hostile no temp files", not left, f"left: {[show(t) for t in left[:3]]}")
    made = set()
    for root, dirs, fs in os.walk(os.fsencode(out)):
        dirs[:] = [d for d in dirs if d != b".imgpool"]
        made |= {os.path.join(root, f) for f in fs}
    listed = {p for o in files if o["status"] == "ok" for p in outputs_of(o)}
    stray = made - listed
    R.check("hostile output folder holds exactly the ok outputs", not stray and listed <= made,
            f"{len(made)} files" if not stray else f"stray: {[show(s) for s in list(stray)[:3]]}")
    check_rss("hostile peak RSS of any process < 400 MB (bombs refused before decoding)",
              r.maxrss_kb, WORKER_RSS_LIMIT_KB)
    after = listing(tmp, exclude=[b"out", b"report.jsonl"])
    changed = [c for c in diff_listing(before, after)
               if not (c.startswith("-") and os.fsencode(c[1:]) in deleted)]
    R.check("hostile nothing written outside -o (source tree and its parent unchanged)",
            not changed, f"changed: {changed[:5]}" if changed else "")


# --------------------------------------------------------------------------
# Paths that try to leave the output folder

def small_jpeg(path, w=64, h=48):
    """A small valid JPEG."""
    v = path + ".v"
    subprocess.run(["vips", "gaussnoise", v, str(w), str(h), "--seed", "3"], check=True)
    subprocess.run(["vips", "cast", v, path, "uchar"], check=True)
    os.unlink(v)


def test_path_safety(tmp):
    """No name template, relative path or output-side symlink makes imgpool
    write outside -o."""
    src, out, elsewhere = (os.path.join(tmp, d) for d in ("src", "out", "elsewhere"))
    os.makedirs(os.path.join(src, "sub"))
    os.makedirs(elsewhere)
    small_jpeg(os.path.join(src, "top.jpg"))
    shutil.copy(os.path.join(src, "top.jpg"), os.path.join(src, "sub", "deep.jpg"))
    with open(os.path.join(elsewhere, "precious.jpg"), "wb") as f:
        f.write(b"precious, not a thumbnail")
    # Older than the inputs, so a link to it never makes an output look up to date.
    os.utime(os.path.join(elsewhere, "precious.jpg"), (0, 0))
    base = ["--progress", "none", "-o", out]
    for tmpl in ["../{stem}.{ext}", "{dir}/../../{stem}.{ext}", "{stem}/../../x.{ext}",
                 "./../{stem}.{ext}", "..", "{dir}/.."]:
        before = listing(tmp)
        r = run_imgpool(base + ["-r", "--name", tmpl, src], timeout=60)
        changed = [c for c in diff_listing(before, listing(tmp)) if c[1:4] != "out"]
        err = r.err.decode(errors="replace").strip()
        R.check(f"path --name {tmpl!r} is refused", r.rc == 2 and not changed and
                len(err.splitlines()) == 1, f"exit {r.rc}: {err}" +
                (f"; changed {changed}" if changed else ""))
    # An absolute template may be refused or taken as relative to -o; never more.
    shutil.rmtree(out, ignore_errors=True)
    before = listing(tmp)
    r = run_imgpool(base + ["--name", "/{stem}.{ext}", src], timeout=60)
    changed = [c for c in diff_listing(before, listing(tmp)) if c[1:4] != "out"]
    err = r.err.decode(errors="replace").strip()
    R.check("path --name '/{stem}.{ext}' is refused or stays inside -o",
            not changed and ((r.rc == 2 and len(err.splitlines()) == 1) or
                             (r.rc == 0 and os.path.isfile(os.path.join(out, "top.jpg")))),
            f"exit {r.rc}: {err or show(r.out)[:120]}" +
            (f"; changed {changed}" if changed else ""))
    # Output-side symlinks planted in -o: a link to a folder outside, and a
    # link to a file outside, in place of the outputs imgpool will write.
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    os.symlink(elsewhere, os.path.join(out, "sub"))
    os.symlink(os.path.join(elsewhere, "precious.jpg"), os.path.join(out, "top.jpg"))
    before = listing(elsewhere)
    r = run_imgpool(base + ["-r", src], timeout=60)
    changed = diff_listing(before, listing(elsewhere))
    R.check("path output symlink to a folder outside -o is not followed",
            not changed, f"exit {r.rc}; " + (f"wrote outside: {changed}" if changed else
                                            show(r.out)[:200]))
    with open(os.path.join(elsewhere, "precious.jpg"), "rb") as f:
        intact = f.read() == b"precious, not a thumbnail"
    R.check("path output symlink to a file outside -o is replaced, its target untouched",
            intact, "target intact" if intact else "the target outside -o was overwritten")


# --------------------------------------------------------------------------
# A disk that fills

def photo_set(folder, n_big, n_small):
    """n_big noise JPEGs (their 1200 px thumbnails are ~380 kB) and n_small
    smooth ones (~30 kB thumbnails), hard-linked from one of each."""
    os.makedirs(folder)
    work = tempfile.mkdtemp(dir=os.path.dirname(folder))
    subprocess.run(["vips", "gaussnoise", f"{work}/n.v", "1600", "1200", "--seed", "1"],
                   check=True)
    subprocess.run(["vips", "cast", f"{work}/n.v", f"{work}/big.jpg[Q=90]", "uchar"], check=True)
    subprocess.run(["vips", "sines", f"{work}/s.v", "1600", "1200"], check=True)
    subprocess.run(["vips", "linear", f"{work}/s.v", f"{work}/s2.v", "100", "128"], check=True)
    subprocess.run(["vips", "cast", f"{work}/s2.v", f"{work}/small.jpg[Q=90]", "uchar"],
                   check=True)
    names = []
    for i in range(n_big):
        names.append(f"big{i:02d}.jpg")
        os.link(f"{work}/big.jpg", os.path.join(folder, names[-1]))
    for i in range(n_small):
        names.append(f"small{i:02d}.jpg")
        os.link(f"{work}/small.jpg", os.path.join(folder, names[-1]))
    shutil.rmtree(work)
    return names


def check_full_disk_run(label, r, report, out, n, why):
    """After a run that ran out of room: errors name the cause, every output
    present is whole, no temp file, a summary. Returns how many were made."""
    files, summary = read_report(report)
    bad = [o for o in files if o["status"] == "error"]
    good = [o for o in files if o["status"] == "ok"]
    # A --min-free stop answers the files it did not start with its own cause.
    def names_the_disk(e):
        return why in e or (e.startswith("not started: only ") and "below --min-free" in e)
    R.check(f"{label}: files that do not fit are errors naming {why!r} (or the "
            "--min-free stop)",
            bad and all(names_the_disk(o.get("error") or "") for o in bad),
            f"{len(good)} ok, {len(bad)} errors; first: {bad[0].get('error') if bad else None}")
    whole = all(decodes(p) for o in good for p in outputs_of(o))
    partial = [o for o in bad for p in outputs_of(o) if os.path.lexists(p)]
    R.check(f"{label}: no truncated output (every output present decodes, no error "
            "has one)", whole and not partial, f"{len(partial)} errors with outputs")
    left = temps_in(out)
    R.check(f"{label}: no temp files", not left, f"left: {[show(t) for t in left[:3]]}")
    text = r.out.decode(errors="replace") + r.err.decode(errors="replace")
    said = [l for l in text.splitlines() if l.startswith("imgpool:")]
    # Every file is accounted for, or the run says it stopped early (the
    # --min-free guard drains a run when the disk is nearly full: the files it
    # never reached are left for the next run).
    accounted = summary and summary["done"] + summary["failed"] == n
    stopped = any("stopped" in l and "free" in l for l in said)
    R.check(f"{label}: a clear summary, exit 1",
            r.rc == 1 and summary and (accounted or stopped) and
            f"{summary['done']} done, {summary['failed']} failed" in text,
            f"exit {r.rc}; {said}")
    return len(good)


def check_rerun(label, r, out, n, n_before):
    """The rerun after space was freed (a plain rerun: the failures were the
    disk's, not the files') makes exactly the outputs still missing."""
    text = r.out.decode(errors="replace")
    made = [f for f in os.listdir(out) if f.endswith(".jpg")]
    R.check(f"{label}: the rerun after space is freed finishes the rest",
            r.rc == 0 and len(made) == n and
            f"{n - n_before} done, 0 failed, {n_before} skipped" in text,
            f"exit {r.rc}; {len(made)}/{n} outputs; "
            f"{[l for l in text.splitlines() if l.startswith('imgpool:')][:2]}")


def mount_tmpfs(path, size, label, more=""):
    """A tmpfs of size (and the mount options in more) mounted on the new folder
    path; False (the check skipped, under label) when mount fails."""
    os.makedirs(path)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size + more, "tmpfs", path],
                       capture_output=True, text=True)
    if m.returncode != 0:
        R.skip(label, f"mount failed: {m.stderr.strip()}")
        return False
    return True


def test_disk_full_tmpfs(tmp):
    """Outputs on a 2 MB tmpfs (root only): ENOSPC errors, then a rerun on the
    same folder grown to 64 MB finishes the rest."""
    if not IS_ROOT or not shutil.which("mount"):
        R.skip("disk full (tmpfs)", "needs root to mount a tmpfs")
        return
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    names = photo_set(src, 40, 0)
    if not mount_tmpfs(out, "2m", "disk full (tmpfs)"):
        return
    try:
        report = os.path.join(tmp, "r1.jsonl")
        r = run_imgpool(["-s", "1200", "--progress", "none", "--report", report, "-o", out,
                         src], timeout=180)
        made = check_full_disk_run("disk full (tmpfs 2 MB)", r, report, out, len(names),
                                   "No space left on device")
        subprocess.run(["mount", "-o", "remount,size=64m", out], check=True)
        r = run_imgpool(["-s", "1200", "--progress", "none", "-o", out, src], timeout=180)
        check_rerun("disk full (tmpfs 2 MB)", r, out, len(names), made)
    finally:
        subprocess.run(["umount", out])


def test_disk_full_scratch(tmp):
    """libvips' scratch images on a full output disk (root only: a 3 MB tmpfs,
    VIPS_DISC_THRESHOLD=1): its "write failed ... No space left on device" was
    typed a decode failure and remembered at once, so the next run, with room
    again, skipped the photo as "failed earlier". Now the worker asks the disk and
    types it environment: the rerun makes it."""
    if not IS_ROOT or not shutil.which("mount"):
        R.skip("disk full (scratch images)", "needs root to mount a tmpfs")
        return
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "mnt")
    os.makedirs(src)
    v = os.path.join(tmp, "n.v")
    subprocess.run(["vips", "gaussnoise", v, "1500", "1000", "--mean", "128", "--sigma",
                    "40"], check=True)
    for name in ("a.webp", "b.webp"):  # WebP: the libvips path, not a fast one
        subprocess.run(["vips", "cast", v, os.path.join(src, name), "uchar"], check=True)
    with open(os.path.join(src, "junk.webp"), "wb") as f:  # no header: the file's fault
        f.write(os.urandom(5000))
    if not mount_tmpfs(out, "3m", "disk full (scratch images)"):
        return
    try:
        st = os.statvfs(out)
        fill = os.path.join(out, "fill")
        with open(fill, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 100 * 1024))
        env = ["env", "VIPS_DISC_THRESHOLD=1"]
        report = os.path.join(tmp, "r1.jsonl")
        r = run_imgpool(["--progress", "none", "--min-free", "0", "--report", report, "-o",
                         os.path.join(out, "od"), src], prefix=env, timeout=180)
        with open(report) as f:
            recs = [json.loads(l) for l in f if '"type":"file"' in l]
        kinds = sorted(x.get("kind", "") for x in recs if x["status"] == "error" and
                       not x["input"].endswith("junk.webp"))
        junk = [x.get("kind") for x in recs if x["input"].endswith("junk.webp")]
        R.check("disk full (scratch images): typed by the machine, not decode; a file "
                "with no header still decode",
                r.rc == 1 and kinds and "decode" not in kinds and junk == ["decode"],
                f"exit {r.rc}; kinds {kinds}; junk {junk}; "
                f"{r.err.decode(errors='replace')[-300:]}")
        os.unlink(fill)
        r = run_imgpool(["--progress", "none", "-o", os.path.join(out, "od"), src],
                        prefix=env, timeout=180)
        made = [f for f in os.listdir(os.path.join(out, "od")) if f.endswith(".webp")]
        R.check("disk full (scratch images): the rerun with room makes them",
                r.rc == 1 and len(made) == 2 and r.err.count(b"failed earlier") == 1,
                f"exit {r.rc}; {made}; {r.err.decode(errors='replace')[-300:]}")
    finally:
        subprocess.run(["umount", out])


def test_journal_out_of_inodes(tmp):
    """An output disk with space but no inode left (root only: a tmpfs of 6 inodes):
    the journal's -wal could not be made, and the refusal blamed "No such file or
    directory" for a journal that is there (SQLite's last try, read-only, set it).
    It names the cause now."""
    if not IS_ROOT or not shutil.which("mount"):
        R.skip("journal out of inodes", "needs root to mount a tmpfs")
        return
    out = os.path.join(tmp, "mnt")
    if not mount_tmpfs(out, "20m", "journal out of inodes", ",nr_inodes=6"):
        return
    try:
        src = os.path.join(tmp, "src")
        photo_set(src, 1, 0)
        r = run_imgpool(["--progress", "none", "-o", os.path.join(out, "od"), src],
                        timeout=60)
        err = r.err.decode(errors="replace")
        R.check("journal out of inodes: refused, naming the cause",
                r.rc == 1 and "no inode left on its filesystem" in err and
                "No such file or directory" not in err, f"exit {r.rc}; {err[-300:]}")
    finally:
        subprocess.run(["umount", out])


def test_disk_nearly_full_damaged_photo(tmp):
    """A damaged photo on a nearly full output disk (root only: 6 MB left on a 16 MB
    tmpfs): it needed no scratch image (below libvips' disc threshold), so its
    failure is still the file's, remembered as decode, not blamed on the disk and
    retried on every run (the first cut of machine_short() blamed the disk under a
    fixed 64 MB, then 16 MB, of free space)."""
    if not IS_ROOT or not shutil.which("mount"):
        R.skip("damaged photo on a nearly full disk", "needs root to mount a tmpfs")
        return
    cut, out = os.path.join(tmp, "cut"), os.path.join(tmp, "mnt")
    os.makedirs(cut)
    v, whole = os.path.join(tmp, "n.v"), os.path.join(tmp, "whole.jpg")
    subprocess.run(["vips", "gaussnoise", v, "1500", "1000", "--mean", "128", "--sigma",
                    "40"], check=True)
    subprocess.run(["vips", "cast", v, whole, "uchar"], check=True)
    with open(whole, "rb") as f:
        data = f.read()
    with open(os.path.join(cut, "cut.jpg"), "wb") as f:
        f.write(data[:len(data) // 2])
    if not mount_tmpfs(out, "16m", "damaged photo on a nearly full disk"):
        return
    try:
        st = os.statvfs(out)
        with open(os.path.join(out, "fill"), "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 6 * 1024 * 1024))
        report = os.path.join(tmp, "r.jsonl")
        r = run_imgpool(["--progress", "none", "--min-free", "0", "--report", report, "-o",
                         os.path.join(out, "o"), cut], timeout=180)
        with open(report) as f:
            kinds = [json.loads(l).get("kind") for l in f if '"type":"file"' in l]
        R.check("damaged photo on a nearly full disk: decode, not the disk's",
                r.rc == 1 and kinds == ["decode"],
                f"exit {r.rc}; kinds {kinds}; {r.err.decode(errors='replace')[-300:]}")
    finally:
        subprocess.run(["umount", out])


def test_disk_full_fsize(tmp):
    """RLIMIT_FSIZE (any user): a file over the limit fails with EFBIG ("File too
    large"), the smaller ones are made; a rerun without the limit finishes."""
    if not shutil.which("prlimit"):
        R.skip("disk full (RLIMIT_FSIZE)", "no prlimit")
        return
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    names = photo_set(src, 10, 10)
    report = os.path.join(tmp, "r1.jsonl")
    r = run_imgpool(["-s", "1200", "--progress", "none", "--retries", "0", "--report",
                     report, "-o", out, src], prefix=["prlimit", "--fsize=150000"],
                    timeout=180)
    made = check_full_disk_run("disk full (RLIMIT_FSIZE 150 kB)", r, report, out,
                               len(names), "File too large")
    r = run_imgpool(["-s", "1200", "--progress", "none", "-o", out, src], timeout=180)
    check_rerun("disk full (RLIMIT_FSIZE 150 kB)", r, out, len(names), made)


# --------------------------------------------------------------------------
# A huge tree

def make_tree(src, n):
    """n tiny JPEGs in nested folders (top/mid/leaf, 100 files a leaf), hard
    links of one file per top folder (ext4 allows 65000 links per inode)."""
    base = os.path.join(os.path.dirname(src), "tiny.jpg")
    small_jpeg(base, 16, 16)
    made = 0
    t = 0
    while made < n:
        top = os.path.join(src, f"t{t:03d}")
        first = os.path.join(top, "first.jpg")
        os.makedirs(top)
        shutil.copy(base, first)
        made += 1
        for m in range(10):
            for leaf in range(10):
                d = os.path.join(top, f"m{m}", f"l{leaf}")
                os.makedirs(d)
                for i in range(100):
                    if made >= n:
                        return
                    os.link(first, os.path.join(d, f"f{i:02d}.jpg"))
                    made += 1
        t += 1


def test_huge_tree(tmp):
    """IMGPOOL_HUGE files (default 20000): discovery alone (-n) and the whole
    run; the parent stays under 64 MB; prints the timings."""
    n = int(os.environ.get("IMGPOOL_HUGE", "20000"))
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    t0 = time.monotonic()
    make_tree(src, n)
    print(f"note: huge tree of {n} files made in {time.monotonic() - t0:.1f} s")
    rep = os.path.join(tmp, "dry.jsonl")
    r = run_imgpool(["-r", "-n", "-q", "--progress", "none", "--report", rep, "-o", out, src],
                    timeout=600)
    files, _ = read_report(rep)
    planned = sum(o["status"] == "planned" for o in files)
    R.check(f"huge tree ({n}) discovery (-n): every file found",
            r.rc == 0 and planned == n,
            f"{planned} planned in {r.wall:.2f} s ({n / max(r.wall, 1e-9):.0f} files/s), "
            f"exit {r.rc}" + (f"; stderr: {show(r.err[:300])}" if r.rc else ""))
    # No workers in a dry run: wait4's peak is the parent's own.
    check_rss(f"huge tree ({n}) discovery: parent peak RSS < 64 MB", r.maxrss_kb,
              PARENT_RSS_LIMIT_KB)
    rep = os.path.join(tmp, "run.jsonl")
    r = run_imgpool(["-r", "-q", "--progress", "none", "--report", rep, "-o", out, src],
                    timeout=1800)
    _, summary = read_report(rep)
    done = summary["done"] if summary else -1
    R.check(f"huge tree ({n}) whole run: every file done",
            r.rc == 0 and done == n,
            f"{done} done in {r.wall:.1f} s ({n / max(r.wall, 1e-9):.0f} files/s), "
            f"exit {r.rc}" + (f"; stderr: {show(r.err[:300])}" if r.rc else ""))
    check_rss(f"huge tree ({n}) whole run: parent peak RSS (VmHWM, polled) < 64 MB",
              r.parent_hwm_kb, PARENT_RSS_LIMIT_KB)
    # Polling can miss a peak in the last moments before exit; wait4 cannot, but
    # it is the largest of the parent and every worker it reaped. Workers making
    # 16 px thumbnails need far less than 64 MB, so this bound holds for all.
    check_rss(f"huge tree ({n}) whole run: every process (wait4 peak) < 64 MB "
              f"(polled: workers up to {r.worker_hwm_kb / 1024:.1f} MB)",
              r.maxrss_kb, PARENT_RSS_LIMIT_KB)


# --------------------------------------------------------------------------

class AdversarialTests(unittest.TestCase):
    """Each test_* function above is a test case, in a fresh temporary folder: it
    fails when any of its checks does (each check prints its PASS/FAIL line as it
    is decided, so a hang still shows what passed before it)."""


def _case(fn):
    def run_one(self):
        tmp = tempfile.mkdtemp(prefix="imgpool-adv-")
        t0 = time.monotonic()
        before = R.failed
        try:
            fn(tmp)
        finally:
            subprocess.run(["chmod", "-R", "u+rwX", tmp])
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"note: {fn.__name__} took {time.monotonic() - t0:.1f} s", flush=True)
        self.assertEqual(R.failed - before, 0, f"{fn.__name__}: see the FAIL lines above")
    run_one.__doc__ = fn.__doc__
    return run_one


for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        setattr(AdversarialTests, _name, _case(_fn))


def main():
    """test_adversarial.py IMGPOOL [TEST-NAME...]: every test, or the ones named."""
    if not IMGPOOL or not os.access(IMGPOOL, os.X_OK):
        print("usage: test_adversarial.py IMGPOOL [TEST-NAME...]", file=sys.stderr)
        return 2
    # A hostile run may leave a core or big files: keep them out of CI's way.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    names = [f"AdversarialTests.{n}" for n in sys.argv[2:]]
    loader = unittest.defaultTestLoader
    suite = (loader.loadTestsFromNames(names, sys.modules[__name__]) if names
             else loader.loadTestsFromTestCase(AdversarialTests))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print(f"{R.passed} passed, {R.failed} failed, {R.skipped} skipped")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
