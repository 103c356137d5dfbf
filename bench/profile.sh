#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# profile.sh — profile one worker's work: thumb_worker_init() once, then thumb_run()
# on every file of a set, in one process (bench/thumb_loop.c: no pool, no parent),
# with the settings of bench/compare.sh (longest side 256, JPEG Q80).
#
#   bench/profile.sh [--callgrind | --perf | --stat] [--every K] [--out DIR] SET...
#
# SET is "corpus" (the JPEGs of ../shared/corpus/photos, or $IMGPOOL_CORPUS),
# "many" (the many-small set: $IMGPOOL_MANY, else made once with
# ../shared/tools/make-many-small.sh into build/many-small-300) or a folder.
#
#   --callgrind  (default) valgrind --tool=callgrind: instruction counts (Ir), which
#                do not depend on what else runs on the machine; printed per
#                library and per function, and per image. ~50x slower than a run.
#                (--smc-check=all: libvips' orc JIT code crashes valgrind without.)
#   --perf       perf record (software cpu-clock, 1999 Hz) and the share of each
#                library and symbol: real time, kernel included (page faults).
#   --stat       perf stat -r 5: task-clock, page faults, elapsed.
#   --every K    only every K-th file of each set (callgrind on 300 files ~10 min).
#   --out DIR    keep the raw profiles there (default build/profile).
#   --driver EXE profile another build of thumb_loop (e.g. one linked with an older
#                thumb.c, for a before/after); default build/thumb_loop, rebuilt
#                here when older than the library.
#
# Any environment (VIPS_*, GLIBC_TUNABLES, ...) reaches the measured process.
# Needs a built tree (cmake --build build): thumb_loop is compiled against
# build/libimgpool_app.a into build/thumb_loop.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
mode=callgrind
driver=""
every=1
out=$build/profile
sets=()

usage() {
	sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case $1 in
	--callgrind) mode=callgrind; shift ;;
	--perf) mode=perf; shift ;;
	--stat) mode=stat; shift ;;
	--every) every=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--driver) driver=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) sets+=("$1"); shift ;;
	esac
done
[ ${#sets[@]} -gt 0 ] || sets=(corpus many)
[[ $every =~ ^[1-9][0-9]*$ ]] || { echo "profile: --every needs a number >= 1" >&2; exit 2; }
[ -f "$build/libimgpool_app.a" ] || { echo "profile: build first (cmake --build build)" >&2; exit 1; }
mkdir -p "$out"

# The driver, rebuilt when the library or its source is newer.
loop=${driver:-$build/thumb_loop}
if [ -z "$driver" ] && { [ ! -x "$loop" ] || [ "$build/libimgpool_app.a" -nt "$loop" ] || [ "$here/thumb_loop.c" -nt "$loop" ]; }; then
	# shellcheck disable=SC2046 # pkg-config's words are meant to split
	cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$root/app" -I"$root/pool" \
		"$here/thumb_loop.c" "$build/libimgpool_app.a" "$build/libimgpool-pool.a" \
		$(pkg-config --cflags --libs vips libjpeg libpng libxxhash sqlite3 libdeflate gmodule-2.0) \
		-lpthread -lm -o "$loop"
fi

# The files of a set, one per line, every K-th.
set_files() { # set
	local dir
	case $1 in
	corpus) dir=${IMGPOOL_CORPUS:-$root/../shared/corpus/photos} ;;
	many)
		dir=${IMGPOOL_MANY:-$build/many-small-300}
		if [ ! -d "$dir" ]; then
			echo "profile: making the many-small set (300 files) in $dir ..." >&2
			"$root/../shared/tools/make-many-small.sh" "$dir" 300 >&2
		fi
		;;
	*) dir=$1 ;;
	esac
	[ -d "$dir" ] || { echo "profile: no folder '$dir'" >&2; exit 1; }
	find -L "$dir" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sort |
		awk -v k="$every" '(NR - 1) % k == 0'
}

# Sum a callgrind out file's self cost per library and per function (cost lines
# right after calls= are inclusive costs of the call, skipped).
callgrind_summary() { # file nimages
	python3 - "$1" "$2" <<'EOF'
import collections, os, re, sys
path, nimg = sys.argv[1], int(sys.argv[2])
names, cur, cost, skip = {}, {"ob": "?", "fn": "?"}, collections.Counter(), False
rx = re.compile(r"^(c?)(ob|fn|fl|fi|fe)=(?:\((\d+)\))?\s*(.*)$")
for line in open(path, errors="replace"):
    c = line[:1]
    if c.isdigit() or c in "+-*":
        if skip:
            skip = False
            continue
        p = line.split()
        if len(p) > 1:
            cost[(cur["ob"], cur["fn"])] += int(p[1])
        continue
    if line.startswith("calls="):
        skip = True
        continue
    m = rx.match(line)
    if not m:
        continue
    callee, kind, ident, name = m.groups()
    table = names.setdefault("fl" if kind in ("fi", "fe") else kind, {})
    if ident:
        if name.strip():
            table[ident] = name.strip()
        name = table.get(ident, name)
    if not callee and kind in ("ob", "fn"):
        cur[kind] = name.strip()
total = sum(cost.values()) or 1
print(f"  total {total / 1e9:.2f} G instructions, {total / nimg / 1e6:.1f} M per image")
lib = collections.Counter()
for (ob, _), v in cost.items():
    lib[os.path.basename(ob)] += v
print("  by library (self):")
for ob, v in lib.most_common(10):
    print(f"    {100 * v / total:5.1f} %  {v / nimg / 1e6:6.1f} M/image  {ob}")
print("  top functions (self; libvips/libjpeg are stripped: addresses):")
for (ob, fn), v in cost.most_common(15):
    print(f"    {100 * v / total:5.1f} %  {fn}  [{os.path.basename(ob)}]")
EOF
}

for s in "${sets[@]}"; do
	mapfile -t files < <(set_files "$s")
	n=${#files[@]}
	[ "$n" -gt 0 ] || { echo "profile: no JPEGs in set '$s'" >&2; exit 1; }
	tag=$(basename "$s")
	dest=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-profile.XXXXXX")
	echo "== $tag: $n files, $mode"
	case $mode in
	callgrind)
		valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$out/$tag.cg" \
			"$loop" "$dest" "${files[@]}" >"$out/$tag.cg.log" 2>&1 ||
			{ tail -n 20 "$out/$tag.cg.log" >&2; exit 1; }
		callgrind_summary "$out/$tag.cg" "$n"
		;;
	perf)
		perf record -q -e cpu-clock -F 1999 -o "$out/$tag.perf" "$loop" "$dest" "${files[@]}"
		echo "  by library:"
		perf report -i "$out/$tag.perf" --stdio --sort dso 2>/dev/null |
			grep -E '^ +[0-9]' | head -n 12 | sed 's/^ */    /'
		echo "  top symbols:"
		perf report -i "$out/$tag.perf" --stdio --sort dso,sym 2>/dev/null |
			grep -E '^ +[0-9]' | head -n 15 | sed 's/^ */    /'
		;;
	stat)
		perf stat -r 5 -e task-clock,page-faults "$loop" "$dest" "${files[@]}" 2>&1 |
			grep -E 'task-clock|page-faults|elapsed' | sed 's/^ */    /'
		;;
	esac
	rm -rf "$dest"
done
