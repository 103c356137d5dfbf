#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_pool_header.py — pool.h matches the library, function by function.

usage: check_pool_header.py POOL_H LIBPOOL_A

Checks, and says which name breaks each:
  - every function pool.h declares is defined in the library (nm);
  - every pool_* function the library defines is declared in pool.h (the pool_
    prefix is the public namespace; internal helpers use other names);
  - every pool_* name in pool.h's comments ("see pool_poll", "pool_stats()") is a
    function, function-like macro or type pool.h declares (so the contract never
    names a function that does not exist).
Exit status 0 when all hold, 1 otherwise.
"""
import re
import subprocess
import sys


def declared(header):
    """Functions declared, function-like macros and type names defined in the
    header, and the pool_* names its comments use."""
    comments = " ".join(re.findall(r"/\*.*?\*/", header, re.S))
    code = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    code = re.sub(r"//[^\n]*", " ", code)
    macros = set(re.findall(r"^\s*#\s*define\s+(pool_\w+)\(", code, re.M))
    # Join each declaration onto one line: statements end at ';'.
    flat = re.sub(r"\s+", " ", re.sub(r"^\s*#.*$", " ", code, flags=re.M))
    functions = set()
    for stmt in flat.split(";"):
        if "typedef" in stmt or "{" in stmt and "(" not in stmt.split("{")[-1]:
            stmt = stmt.split("}")[-1]
        if "typedef" in stmt:
            continue
        m = re.search(r"\b(pool_\w+)\s*\(", stmt)
        if m and not re.search(r"\(\s*\*", stmt[: m.start()]):
            functions.add(m.group(1))
    types = set(re.findall(r"\b(?:struct|enum)\s+(pool_\w+|pool)\b", code))
    types |= set(re.findall(r"\(\s*\*\s*(pool_\w+)\s*\)", code))
    types |= set(re.findall(r"\}\s*(pool_\w+)\s*;", code))
    named = set(re.findall(r"\b(pool_[a-z0-9_]+)", comments))
    called = set(re.findall(r"\b(pool_[a-z0-9_]+)\(", comments))
    return functions, macros, types, named, called


def defined(lib):
    out = subprocess.run(["nm", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] == "T"}


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        functions, macros, types, named, called = declared(f.read())
    symbols = defined(argv[2])
    problems = []
    for fn in sorted(functions - symbols):
        problems.append(f"{fn}: declared in pool.h, not defined in the library")
    for sym in sorted(s for s in symbols if s.startswith("pool_") and s not in functions):
        problems.append(f"{sym}: defined in the library, not declared in pool.h")
    for name in sorted(named - functions - macros - types):
        problems.append(f"{name}: named in a comment of pool.h, but no such function "
                        "or type")
    for name in sorted(called - functions - macros):
        problems.append(f"{name}(): called in a comment of pool.h, but no such function")
    for p in problems:
        print("check_pool_header:", p)
    print(f"check_pool_header: {len(functions)} functions, {len(macros)} macros, "
          f"{len(types)} types, "
          f"{len(named)} names in comments, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
