#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# compare.sh — time imgpool against the usual ways of thumbnailing a folder, on the
# same files with the same settings (longest side 256, JPEG quality 80, all outputs
# JPEG, or all PNG with --png; not recursive), and print medians, images/s, the
# memory each tool's processes hold at their peak, the speed-up ratios we aim at,
# and how good each tool's thumbnails are (PSNR).
#
#   bench/compare.sh [--runs N] [--imgpool PATH] [--jpeg | --png] [--targets SET]
#                    [--sharp-dir DIR | --no-sharp] [--no-quality] FOLDER
#
# Contenders, each given the same list of files:
#   the decode floor (bench/decode_floor.c: libjpeg-turbo alone at the smallest DCT
#     scale that covers the box, one process, output discarded; JPEG sets only)
#   the decode floor at imgpool's scale (decode_floor -d -v: imgpool's own decoder
#     at the scale imgpool and vips_thumbnail() decode at, which leaves a factor
#     of two for the lanczos3 resize: what imgpool must spend at least)
#   imgpool -j1, imgpool -j2
#   imgpool -j1 and -j2 --fast-shrink (JPEG sets only: decoded at the floor's scale)
#   vipsthumbnail, all files in one process, with VIPS_CONCURRENCY=1 (the single-core
#     cost) and with libvips' default threads
#   GNU parallel -j2, one vipsthumbnail per file
#   xargs -P2 -n 8 vipsthumbnail
#   Python multiprocessing.Pool(2) + Pillow (bench/pillow_pool.py; JPEG output only),
#     draft() at the box, and with "reducing gap 2" (draft at twice the box, as
#     Pillow's own thumbnail() asks by default)
#   sharp (bench/sharp_thumbs.js; npm install sharp in a scratch folder, once), 2 and
#     4 images in flight, default settings and with fastShrinkOnLoad off (not on
#     PNG-only sets, where that option changes nothing)
#
# Two scales, two qualities. imgpool, vipsthumbnail and sharp with fastShrinkOnLoad
# off decode a JPEG at libvips' DCT scale, which leaves at least a factor of two
# for the final lanczos3 resample. The decode floor (the smallest M/8 that covers
# the box) and sharp's default (fastShrinkOnLoad on) decode coarser on nearly
# every photo (the floor on 51 of the corpus's 54 JPEGs and on all 1500
# many-small ones); Pillow's draft at the box (the coarsest 1/2^k at which both
# sides still reach the box's side) on most (40 of 54; 836 of 1500), and with
# reducing gap 2 it decodes at libvips' scale or finer. Coarser is less decoding
# and more aliasing: those rows do less work than imgpool at a lower quality
# (imgpool --fast-shrink decodes at the floor's scale too, for the like-for-like
# rows). The report says by how much: the "floor at imgpool's scale" rows, the
# equal-quality sharp and Pillow rows (ratios without target), and the PSNR
# columns. The targets of issue 18 are unchanged.
#
# The table's columns, per contender: median s (wall seconds, median of the timed
# runs), images/s (inputs / median), CPU s (user + system of the tool and its
# children, mean of the timed runs), sum PSS MB and max proc MB (below), outputs
# (thumbnails made / inputs, last run), exit (the tool's status, last run), dB med
# and dB min (PSNR, below). MB are 10^6 bytes.
#
# Memory (one more run of each contender after its timed runs, untimed, so the
# sampling does not touch the timings; needs python3, standard library only):
# bench/tree_mem.py samples the contender's whole process tree (the runner shell
# that only waits for it left out) from /proc every 20 ms.
#   sum PSS MB   the largest sum of the tree's PSS (smaps_rollup) seen in one
#                sample. PSS splits each shared page among the processes that
#                map it, so the libraries and copy-on-write pages of forked
#                workers count once: what the tool as a whole holds, comparable
#                between one process with threads and many processes. Pages
#                shared with processes outside the tree (libc; libvips while
#                other libvips programs run) are split with them too, so the
#                figure drops a little on a busy machine.
#   max proc MB  the largest peak RSS of a single process of the tree (VmHWM,
#                sampled, and the kernel's ru_maxrss of every reaped process,
#                which /usr/bin/time %M prints: short-lived ones included).
# The sum is sampled: a process living less than 20 ms (GNU parallel's and xargs'
# vipsthumbnails on small files) may be missing from it, and it is the peak seen
# at a sample, not between two. The memory run adds a run's time to each row's
# cost (a sample takes about 2 ms); its outputs are the ones counted and compared
# for PSNR (it is the last run).
#
# Quality (after the timed runs, from the last run's outputs, not timed; --no-quality
# skips it): bench/thumb_psnr.py compares up to 24 inputs' thumbnails per tool,
# spread evenly over the sorted input list (the same sample on every run of a set),
# with a reference made from the full-size decode (no shrink-on-load) by
# `vips thumbnail_image` to the same box, embedded profiles exported to sRGB,
# kept lossless; PSNR in sRGB 8-bit, median and minimum per tool. A thumbnail a
# pixel off the reference's size is compared with a reference made at its own size
# from the full decode (not resized or cropped: see thumb_psnr.py for why).
# Outputs are compared as written (JPEG Q80 included). A tool whose colour
# handling differs scores low on such a file, and that is then its minimum, not
# its scale: an embedded profile's colours written unconverted (vipsthumbnail
# with [strip], Pillow), CMYK converted another way (Pillow without a profile,
# sharp's own libvips). `thumb_psnr.py --per-file` names the file.
#
# Which files: *.jpg *.jpeg *.png *.webp *.tif *.tiff (any case) directly in FOLDER,
# not hidden (with --jpeg: *.jpg *.jpeg only; with --png: *.png only). Two refinements keep the work identical for every tool:
#   - zero-byte files go to imgpool only (it reports them as errors; the other tools
#     cannot succeed on them either, and would only add a failed start-up each);
#   - of files with the same stem (photo.jpg, photo.webp), only the first by name is
#     kept: every tool here writes <stem>.jpg (or .png), so the others would only overwrite it
#     (imgpool refuses the collision instead, and would do less work).
# imgpool therefore gets the files as PATH arguments, not FOLDER (it would also take
# GIF/HEIC/AVIF files the others skip); they are still plain files of FOLDER.
set -euo pipefail
# Decimal points in every number we print and parse; byte order for sorting names.
export LC_ALL=C

PROG=${0##*/}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

RUNS=5
IMGPOOL="$SCRIPT_DIR/../build/imgpool"
SIZE=256
QUALITY=80
JOBS=2
FLOOR="$SCRIPT_DIR/../build/decode_floor"
SHARP_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/imgpool-bench/sharp"
QSAMPLE=24      # inputs whose thumbnails are compared for PSNR, at most

usage() {
	cat <<EOF
usage: $PROG [--runs N] [--imgpool PATH] [--jpeg | --png] [--targets SET]
       [--sharp-dir DIR | --no-sharp] [--no-quality] FOLDER

Time the decode floor (at the smallest covering scale, and at imgpool's scale),
imgpool -j1/-j2, vipsthumbnail (1 thread and default threads), GNU parallel -j2
vipsthumbnail, xargs -P2 vipsthumbnail, Python Pool(2) + Pillow (draft at the box,
and at twice the box) and sharp (2 and 4 images in flight; fastShrinkOnLoad on, its
default, and off) on the images directly in FOLDER (longest side $SIZE, JPEG
quality $QUALITY), check that each made an output for every input, and print
medians, images/s, peak memory (sum of PSS over each tool's process tree, and
its largest process's peak RSS, from one more untimed run), ratios and the PSNR
of each tool's thumbnails against a full-decode lanczos3 reference (up to
$QSAMPLE inputs spread by name, not timed).

  --runs N        timed runs per tool, the median is reported (default $RUNS;
                  1 for a quick check)
  --imgpool PATH  the imgpool to time (default: build/imgpool of this repository)
  --jpeg          only *.jpg / *.jpeg files (the per-image cost targets are
                  set on JPEGs: the corpus's JPEGs and the many-small set)
  --png           only *.png files, and every tool writes PNG (imgpool -f png)
  --targets SET   the targets the ratios are checked against: corpus,
                  many-small or png (issue 18); default: those of issue 10
  --floor PATH    the decode floor tool (default: build/decode_floor)
  --sharp-dir DIR where sharp is installed, with npm, when missing (default
                  $SHARP_DIR)
  --no-sharp      leave sharp out
  --no-quality    skip the PSNR columns (they need a python3 with Pillow and
                  the vips CLI, and add a few seconds after the timed runs)
  --bash-timer    time with a bash loop even when hyperfine is installed
  -h, --help      this text

Uses hyperfine when installed (else a bash timing loop), python3 for the memory
columns (bench/tree_mem.py), GNU parallel, a python3 with Pillow and node with
npm when available (Debian: hyperfine parallel python3-pil nodejs npm); a
missing one skips its row (or, for Pillow, the PSNR columns; for python3, the
memory columns). The floors run on JPEG-only sets (they decode JPEGs alone).
EOF
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 2
}

# Progress and notes go to stderr, so stdout holds only the results.
note() {
	printf '%s\n' "$*" >&2
}

# ---------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------
FOLDER=""
USE_HYPERFINE=1
JPEG_ONLY=0
PNG_ONLY=0
TARGETS=default
USE_SHARP=1
USE_QUALITY=1
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS=$2; shift 2 ;;
	--runs=*) RUNS=${1#--runs=}; shift ;;
	--imgpool) [ $# -ge 2 ] || die "--imgpool needs a path"; IMGPOOL=$2; shift 2 ;;
	--imgpool=*) IMGPOOL=${1#--imgpool=}; shift ;;
	--bash-timer) USE_HYPERFINE=0; shift ;;
	--jpeg) JPEG_ONLY=1; shift ;;
	--png) PNG_ONLY=1; shift ;;
	--targets) [ $# -ge 2 ] || die "--targets needs a set"; TARGETS=$2; shift 2 ;;
	--targets=*) TARGETS=${1#--targets=}; shift ;;
	--floor) [ $# -ge 2 ] || die "--floor needs a path"; FLOOR=$2; shift 2 ;;
	--floor=*) FLOOR=${1#--floor=}; shift ;;
	--sharp-dir) [ $# -ge 2 ] || die "--sharp-dir needs a folder"; SHARP_DIR=$2; shift 2 ;;
	--sharp-dir=*) SHARP_DIR=${1#--sharp-dir=}; shift ;;
	--no-sharp) USE_SHARP=0; shift ;;
	--no-quality) USE_QUALITY=0; shift ;;
	--) shift; break ;;
	-*) usage >&2; die "unknown option '$1'" ;;
	*)
		[ -z "$FOLDER" ] || die "one FOLDER only (got '$FOLDER' and '$1')"
		FOLDER=$1
		shift
		;;
	esac
done
if [ $# -gt 0 ]; then
	if [ -n "$FOLDER" ] || [ $# -gt 1 ]; then die "one FOLDER only"; fi
	FOLDER=$1
fi
[ -n "$FOLDER" ] || { usage >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs: '$RUNS' is not a number >= 1"
[ -d "$FOLDER" ] || die "'$FOLDER' is not a folder"
[ "$JPEG_ONLY$PNG_ONLY" != 11 ] || die "--jpeg and --png exclude each other"
case $TARGETS in default | corpus | many-small | png) ;; *) die "--targets: '$TARGETS' is not corpus, many-small or png" ;; esac
OUT_EXT=jpg
[ "$PNG_ONLY" = 0 ] || OUT_EXT=png
FOLDER=$(cd "$FOLDER" && pwd)

command -v vipsthumbnail >/dev/null 2>&1 ||
	die "vipsthumbnail is missing: apt-get install libvips-tools"
if ! [ -f "$IMGPOOL" ] || ! [ -x "$IMGPOOL" ]; then
	die "no imgpool at '$IMGPOOL': build it ('make build') or give --imgpool PATH"
fi
IMGPOOL=$(cd "$(dirname "$IMGPOOL")" && pwd)/$(basename "$IMGPOOL")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-compare.XXXXXX")
# Every output and scratch file of the comparison lives in WORK, removed however
# we leave.
cleanup() {
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------
# The inputs
# ---------------------------------------------------------------------------------
INPUTS=()       # non-empty, unique stems: every tool gets these
EMPTY=()        # zero-byte: imgpool only
COLLIDING=()    # "b.webp (as a.jpg)": left out
declare -A STEM_OF=()

# The image files directly in FOLDER (regular files or symlinks to them, not
# hidden), sorted by name, split into INPUTS / EMPTY / COLLIDING as described above.
select_inputs() {
	local f base stem
	local -a all=() names=(-iname '*.jpg' -o -iname '*.jpeg')
	[ "$PNG_ONLY" = 0 ] || names=(-iname '*.png')
	[ "$JPEG_ONLY" = 1 ] || [ "$PNG_ONLY" = 1 ] || names+=(-o -iname '*.png' -o -iname '*.webp' \
		-o -iname '*.tif' -o -iname '*.tiff')
	mapfile -d '' all < <(find "$FOLDER" -mindepth 1 -maxdepth 1 \
		\( -type f -o \( -type l -xtype f \) \) ! -name '.*' \
		\( "${names[@]}" \) -print0 | sort -z)
	for f in "${all[@]}"; do
		base=${f##*/}
		if [ ! -s "$f" ]; then
			EMPTY+=("$f")
			continue
		fi
		stem=${base%.*}
		if [ -n "${STEM_OF[$stem]+set}" ]; then
			COLLIDING+=("$base (as ${STEM_OF[$stem]})")
			continue
		fi
		STEM_OF[$stem]=$base
		INPUTS+=("$f")
	done
}

select_inputs
NIN=${#INPUTS[@]}
[ "$NIN" -gt 0 ] || die "no non-empty jpg/jpeg/png/webp/tif/tiff files directly in '$FOLDER'"
# Whether every input is a JPEG by name: the decode floor is a JPEG floor.
ALL_JPEG=1
for f in "${INPUTS[@]}"; do
	case ${f,,} in *.jpg | *.jpeg) ;; *) ALL_JPEG=0 ;; esac
done
printf '%s\0' "${INPUTS[@]}" >"$WORK/inputs0"
printf '%s\0' "${INPUTS[@]}" ${EMPTY[@]+"${EMPTY[@]}"} >"$WORK/imgpool-inputs0"
INPUT_BYTES=$(du -cbL "${INPUTS[@]}" | tail -n 1 | cut -f1)

# ---------------------------------------------------------------------------------
# The contenders: one runner script each, run from WORK by the timer
# ---------------------------------------------------------------------------------
TOOLS=()              # names, in table order
declare -A LABEL=()   # name -> label in the table
declare -A SKIP=()    # name -> why it is not timed
declare -A NO_OUTPUTS=()  # name -> 1 when it writes nothing (the decode floor)

# A runner: reads its list of files, runs one contender into WORK/out-NAME with its
# stdout/stderr kept in WORK/err-NAME (the last run's), and records the exit status
# in WORK/rc-NAME. It exits 0 when the tool ran, so the timer goes on: failures of
# single files show in the output count. ok_rc is the highest status that still
# means "ran" (imgpool: 1, some inputs bad) or "any" (the external tools, whose
# status says only that some file failed); 126/127 (cannot run) always fail.
# shellcheck disable=SC2016 # the $ in these lines are for the runner, not for us
write_runner() { # name ok_rc list command (a line of bash; sees $out and "${files[@]}")
	local name=$1 ok_rc=$2 list=$3 cmd=$4
	{
		printf '#!/usr/bin/env bash\n'
		printf 'set -uo pipefail\n'
		printf 'out=%q\n' "$WORK/out-$name"
		printf 'list=%q\n' "$list"
		printf 'mapfile -d "" files < "$list"\n'
		printf 'exec >%q 2>&1\n' "$WORK/err-$name"
		printf '%s\n' "$cmd"
		printf 'rc=$?\n'
		printf 'echo "$rc" >%q\n' "$WORK/rc-$name"
		printf 'case $rc in 126|127) exit "$rc" ;; esac\n'
		if [ "$ok_rc" = any ]; then
			printf 'exit 0\n'
		else
			printf '[ "$rc" -le %d ] || exit "$rc"\n' "$ok_rc"
			printf 'exit 0\n'
		fi
	} >"$WORK/run-$name.sh"
	# the timer empties the output folder before every run
	printf 'rm -rf %q && mkdir -p %q\n' "$WORK/out-$name" "$WORK/out-$name" >"$WORK/prep-$name.sh"
}

# Register a contender: table label and runner.
add_tool() { # name label ok_rc list command
	TOOLS+=("$1")
	LABEL[$1]=$2
	write_runner "$1" "$3" "$4" "$5"
}

# Register a contender that cannot run here, with the reason shown in the table.
skip_tool() { # name label reason
	TOOLS+=("$1")
	LABEL[$1]=$2
	SKIP[$1]=$3
}

# The Python interpreter for pillow_pool.py: the first that can import PIL
# (/usr/bin/python3 first: Debian's python3-pil is for it, while a pyenv python3
# on the PATH usually lacks Pillow).
find_pillow_python() {
	local py
	for py in /usr/bin/python3 python3 python; do
		if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import PIL' >/dev/null 2>&1; then
			command -v "$py"
			return 0
		fi
	done
	return 1
}

# shellcheck disable=SC2016 # $out is the runner's
if [ "$PNG_ONLY" = 1 ]; then
	VT_OUT='-s '"$SIZE"' -o "$out/%s.png[strip]"'
	IP_ARGS=(-s "$SIZE" -f png --force -q --progress none)
else
	VT_OUT='-s '"$SIZE"' -o "$out/%s.jpg[Q='"$QUALITY"',strip]"'
	IP_ARGS=(-s "$SIZE" -f jpeg -Q "$QUALITY" --force -q --progress none)
fi
IMGPOOL_Q=$(printf '%q' "$IMGPOOL")

# Install sharp into SHARP_DIR with npm when it is not there yet; 0 when usable,
# else 1 with the reason in SHARP_WHY.
SHARP_WHY=""
ensure_sharp() {
	command -v node >/dev/null 2>&1 || { SHARP_WHY="node missing (apt-get install nodejs npm)"; return 1; }
	if ! (cd / && node -e "require('$SHARP_DIR/node_modules/sharp')") >/dev/null 2>&1; then
		command -v npm >/dev/null 2>&1 || { SHARP_WHY="npm missing (apt-get install npm)"; return 1; }
		note "compare: installing sharp into $SHARP_DIR (npm install sharp) ..."
		mkdir -p "$SHARP_DIR"
		if ! npm install --prefix "$SHARP_DIR" --no-audit --no-fund --loglevel=error sharp >&2 ||
			! (cd / && node -e "require('$SHARP_DIR/node_modules/sharp')") >/dev/null 2>&1; then
			SHARP_WHY="npm install sharp failed in $SHARP_DIR"
			return 1
		fi
	fi
	SHARP_VERSION=$(cd / && node -e "const s = require('$SHARP_DIR/node_modules/sharp'); console.log('sharp ' + s.versions.sharp + ', libvips ' + s.versions.vips)")
}

if [ "$ALL_JPEG" = 1 ] && [ "$PNG_ONLY" = 0 ]; then
	if [ -x "$FLOOR" ]; then
		add_tool floor "decode floor (libjpeg-turbo)" any "$WORK/inputs0" \
			"$(printf '%q' "$FLOOR") -s $SIZE \"\${files[@]}\""
		NO_OUTPUTS[floor]=1
		add_tool floor-v "decode floor at imgpool's scale" any "$WORK/inputs0" \
			"$(printf '%q' "$FLOOR") -d -v -s $SIZE \"\${files[@]}\""
		NO_OUTPUTS[floor-v]=1
	else
		skip_tool floor "decode floor (libjpeg-turbo)" "no decode_floor at '$FLOOR' (make build)"
		skip_tool floor-v "decode floor at imgpool's scale" "no decode_floor at '$FLOOR' (make build)"
	fi
else
	skip_tool floor "decode floor (libjpeg-turbo)" "JPEG-only sets (--jpeg)"
	skip_tool floor-v "decode floor at imgpool's scale" "JPEG-only sets (--jpeg)"
fi
add_tool imgpool-j1 "imgpool -j1" 1 "$WORK/imgpool-inputs0" \
	"$IMGPOOL_Q -j 1 ${IP_ARGS[*]} -o \"\$out\" \"\${files[@]}\""
add_tool imgpool-j2 "imgpool -j2" 1 "$WORK/imgpool-inputs0" \
	"$IMGPOOL_Q -j $JOBS ${IP_ARGS[*]} -o \"\$out\" \"\${files[@]}\""
# --fast-shrink decodes JPEGs at the floor's own scale: the like-for-like rows
# against the floor and against sharp, whose default does the same.
if [ "$ALL_JPEG" = 1 ] && [ "$PNG_ONLY" = 0 ]; then
	add_tool imgpool-fs-j1 "imgpool -j1 --fast-shrink" 1 "$WORK/imgpool-inputs0" \
		"$IMGPOOL_Q -j 1 --fast-shrink ${IP_ARGS[*]} -o \"\$out\" \"\${files[@]}\""
	add_tool imgpool-fs-j2 "imgpool -j2 --fast-shrink" 1 "$WORK/imgpool-inputs0" \
		"$IMGPOOL_Q -j $JOBS --fast-shrink ${IP_ARGS[*]} -o \"\$out\" \"\${files[@]}\""
else
	skip_tool imgpool-fs-j1 "imgpool -j1 --fast-shrink" "JPEG-only sets (--jpeg)"
	skip_tool imgpool-fs-j2 "imgpool -j2 --fast-shrink" "JPEG-only sets (--jpeg)"
fi
add_tool vips-1t "vipsthumbnail, 1 thread" any "$WORK/inputs0" \
	"VIPS_CONCURRENCY=1 vipsthumbnail $VT_OUT \"\${files[@]}\""
add_tool vips "vipsthumbnail" any "$WORK/inputs0" \
	"vipsthumbnail $VT_OUT \"\${files[@]}\""
# (through a variable: "parallel --version | grep -q" can die of SIGPIPE under pipefail)
PARALLEL_VERSION=$(parallel --version 2>/dev/null || true)
if [[ $PARALLEL_VERSION == *"GNU parallel"* ]]; then
	# -q: parallel runs the command through a shell; quote it, or "[Q=80,strip]"
	# and paths with spaces would be read by that shell
	add_tool parallel "parallel -j$JOBS vipsthumbnail" any "$WORK/inputs0" \
		"parallel --will-cite -q -0 -j $JOBS -a \"\$list\" vipsthumbnail $VT_OUT {}"
else
	skip_tool parallel "parallel -j$JOBS vipsthumbnail" "GNU parallel missing (apt-get install parallel)"
fi
add_tool xargs "xargs -P$JOBS -n 8 vipsthumbnail" any "$WORK/inputs0" \
	"xargs -0 -P $JOBS -n 8 vipsthumbnail $VT_OUT < \"\$list\""
PY=""
PIL_LABEL="Python Pool($JOBS) + Pillow"
PIL_GAP_LABEL="Python Pool($JOBS) + Pillow, reducing gap 2"
if [ "$PNG_ONLY" = 1 ]; then
	skip_tool pillow "$PIL_LABEL" "bench/pillow_pool.py writes JPEG only"
	skip_tool pillow-gap2 "$PIL_GAP_LABEL" "bench/pillow_pool.py writes JPEG only"
elif PY=$(find_pillow_python); then
	PIL_VERSION=$("$PY" -c 'import PIL; print(PIL.__version__)')
	PIL_CMD="$(printf '%q' "$PY") $(printf '%q' "$SCRIPT_DIR/pillow_pool.py") -j $JOBS -s $SIZE -Q $QUALITY --files0-from \"\$list\" $(printf '%q' "$FOLDER") \"\$out\""
	add_tool pillow "$PIL_LABEL" any "$WORK/inputs0" "$PIL_CMD"
	# draft at twice the box: JPEGs decoded at libvips' scale or finer (informational)
	add_tool pillow-gap2 "$PIL_GAP_LABEL" any "$WORK/inputs0" "$PIL_CMD --draft-gap 2"
else
	PY=""
	skip_tool pillow "$PIL_LABEL" "no python3 with Pillow (apt-get install python3-pil)"
	skip_tool pillow-gap2 "$PIL_GAP_LABEL" "no python3 with Pillow (apt-get install python3-pil)"
fi
SHARP_VERSION=""
# sharp-K: its defaults (fastShrinkOnLoad on: about the smallest covering JPEG
# scale); sharp-nf-K: fastShrinkOnLoad off, at vipsthumbnail's scale and quality.
for name in sharp-2 sharp-4 sharp-nf-2 sharp-nf-4; do
	k=${name##*-}
	label="sharp, $k in flight"
	extra=""
	if [[ $name == sharp-nf-* ]]; then
		label="sharp, $k in flight, fastShrinkOnLoad off"
		extra=" --no-fast-shrink"
	fi
	if [ "$USE_SHARP" = 0 ]; then
		skip_tool "$name" "$label" "--no-sharp"
	elif [ -n "$extra" ] && [ "$PNG_ONLY" = 1 ]; then
		skip_tool "$name" "$label" "PNG set: the option only changes JPEG and WebP loading"
	elif [ -n "$SHARP_WHY" ] || ! ensure_sharp; then
		skip_tool "$name" "$label" "$SHARP_WHY"
	else
		add_tool "$name" "$label" any "$WORK/inputs0" \
			"node $(printf '%q' "$SCRIPT_DIR/sharp_thumbs.js") --sharp $(printf '%q' "$SHARP_DIR") --files0-from \"\$list\" --out \"\$out\" --size $SIZE --quality $QUALITY --format $([ "$PNG_ONLY" = 1 ] && echo png || echo jpeg) --in-flight $k$extra"
	fi
done

# ---------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------
declare -A MEDIAN=() CPU=() MADE=() EXIT=() FAILED=()

if [ "$USE_HYPERFINE" = 1 ] && command -v hyperfine >/dev/null 2>&1 &&
	command -v jq >/dev/null 2>&1; then
	TIMER="hyperfine $(hyperfine --version | awk '{print $2}')"
elif [ "$USE_HYPERFINE" = 1 ]; then
	TIMER="bash loop (for hyperfine: apt-get install hyperfine jq)"
else
	TIMER="bash loop"
fi

# kB (as /proc gives them) -> MB of 10^6 bytes, one decimal.
mbnum() { # kB
	awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'
}
mb() { # kB -> "12.3 MB"
	printf '%s MB' "$(mbnum "$1")"
}

# The median of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Time one contender RUNS times (output folder emptied before each run) and fill
# MEDIAN (wall seconds) and CPU (mean user+system seconds of it and its children).
# Hyperfine when present; else bash's time keyword, which reports the same three
# numbers for a command and its children. Returns 1 if the runner failed.
time_tool() { # name
	local name=$1
	if [[ $TIMER == hyperfine* ]]; then
		# -N: no intermediate shell; commands are relative to WORK, so no path in
		# them needs quoting
		(cd "$WORK" && hyperfine -N --style none --runs "$RUNS" \
			--prepare "bash prep-$name.sh" --export-json "hf-$name.json" \
			"bash run-$name.sh") >"$WORK/timer-$name.log" 2>&1 || return 1
		MEDIAN[$name]=$(jq -r '.results[0].median | . * 1000 | round / 1000' "$WORK/hf-$name.json")
		CPU[$name]=$(jq -r '.results[0] | (.user + .system) * 100 | round / 100' "$WORK/hf-$name.json")
	else
		local i TIMEFORMAT='%3R %3U %3S'
		: >"$WORK/times-$name"
		for ((i = 0; i < RUNS; i++)); do
			bash "$WORK/prep-$name.sh"
			{ time bash "$WORK/run-$name.sh"; } 2>>"$WORK/times-$name" || return 1
		done
		MEDIAN[$name]=$(cut -d' ' -f1 "$WORK/times-$name" | median)
		CPU[$name]=$(awk '{ s += $2 + $3 } END { printf "%.2f", s / NR }' "$WORK/times-$name")
	fi
}

# The memory run: one more run of a contender, untimed, under bench/tree_mem.py
# (see the header). MEM_WHY says why there are no memory columns, if there are none.
declare -A MEM_PSS=() MEM_MAX=()   # name -> kB: sum of PSS, largest process
MEM_PERIOD_MS=20
MEM_WHY=""
MEM_PY=""
for py in /usr/bin/python3 python3; do
	if command -v "$py" >/dev/null 2>&1; then
		MEM_PY=$(command -v "$py")
		break
	fi
done
[ -n "$MEM_PY" ] || MEM_WHY="python3 missing (apt-get install python3)"

# Fill MEM_PSS and MEM_MAX of a contender (nothing when its runner fails this
# time) and MEM_NOTE with what to tell.
MEM_NOTE=""
measure_memory() { # name
	local name=$1 pss max samples rc
	MEM_NOTE=""
	[ -z "$MEM_WHY" ] || return 0
	bash "$WORK/prep-$name.sh"
	# the runner shell only waits for the tool: --descendants leaves it out
	if ! (cd "$WORK" && "$MEM_PY" "$SCRIPT_DIR/tree_mem.py" --period "$MEM_PERIOD_MS" \
		--descendants -- bash "run-$name.sh") >"$WORK/mem-$name" 2>"$WORK/mem-$name.err" ||
		! read -r pss max samples rc <"$WORK/mem-$name"; then
		MEM_NOTE="memory not measured: $(tail -n 1 "$WORK/mem-$name.err" 2>/dev/null)"
		return 0
	fi
	if [ "$rc" != 0 ]; then
		MEM_NOTE="memory not measured: the memory run failed (exit $rc)"
		return 0
	fi
	MEM_PSS[$name]=$pss
	MEM_MAX[$name]=$max
	MEM_NOTE="memory: $(mb "$pss") sum of PSS, $(mb "$max") largest process ($samples samples)"
}

# Outputs of the last run of a contender: the .jpg (.png) files in its output
# folder; for a contender that writes nothing, as many as inputs.
count_outputs() { # name
	if [ -n "${NO_OUTPUTS[$1]-}" ]; then
		echo "$NIN"
		return
	fi
	find "$WORK/out-$1" -maxdepth 1 -type f -name "*.$OUT_EXT" 2>/dev/null | wc -l
}

# Warm the page cache, so the first contender does not pay for the disk.
cat "${INPUTS[@]}" >/dev/null

# Timings are only as good as the machine is quiet: say so when it is not.
LOAD=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$LOAD" 'BEGIN { exit !(l > 0.5) }'; then
	note "compare: warning: load average $LOAD before starting: other work is running, timings will be noisy"
fi

note "compare: $NIN images ($(awk -v b="$INPUT_BYTES" 'BEGIN{printf "%.1f", b/1e6}') MB) from $FOLDER, $RUNS run(s) each, timer: $TIMER"
[ ${#EMPTY[@]} -eq 0 ] || note "compare: ${#EMPTY[@]} zero-byte file(s) given to imgpool only"
for c in ${COLLIDING[@]+"${COLLIDING[@]}"}; do
	note "compare: left out $c: same output name"
done

for name in "${TOOLS[@]}"; do
	[ -z "${SKIP[$name]-}" ] || { note "compare: skip ${LABEL[$name]}: ${SKIP[$name]}"; continue; }
	note "compare: timing ${LABEL[$name]} ..."
	if time_tool "$name"; then
		measure_memory "$name"
		MADE[$name]=$(count_outputs "$name")
		EXIT[$name]=$(cat "$WORK/rc-$name" 2>/dev/null || echo "?")
		note "compare:   ${MEDIAN[$name]} s, made ${MADE[$name]} of $NIN outputs (exit ${EXIT[$name]})"
		[ -z "$MEM_NOTE" ] || note "compare:   $MEM_NOTE"
		if [ "${MADE[$name]}" -lt "$NIN" ] && [ -s "$WORK/err-$name" ]; then
			note "compare:   its messages (last run, first 5 lines):"
			head -n 5 "$WORK/err-$name" | sed 's/^/compare:     /' >&2
		fi
	else
		FAILED[$name]="FAILED (exit $(cat "$WORK/rc-$name" 2>/dev/null || echo '?')): see its messages above"
		note "compare:   ${LABEL[$name]} failed; its messages:"
		{ cat "$WORK/err-$name" "$WORK/timer-$name.log" 2>/dev/null || true; } |
			head -n 15 | sed 's/^/compare:     /' >&2
	fi
done

# ---------------------------------------------------------------------------------
# Quality: PSNR of each tool's thumbnails (last run's outputs), not timed
# ---------------------------------------------------------------------------------
declare -A PSNR_MED=() PSNR_MIN=() PSNR_N=() PSNR_REFIT=()
QUALITY_WHY=""   # why there are no PSNR columns, if there are none
QUALITY_SECS=""
QUALITY_NSAMPLE=$((NIN < QSAMPLE ? NIN : QSAMPLE))

# bench/thumb_psnr.py over every tool that wrote thumbnails; fills PSNR_* by name.
measure_quality() {
	local qpy name n refit med min t0
	local -a pairs=()
	[ "$USE_QUALITY" = 1 ] || { QUALITY_WHY="--no-quality"; return 0; }
	qpy=$(find_pillow_python) || { QUALITY_WHY="no python3 with Pillow (apt-get install python3-pil)"; return 0; }
	command -v vips >/dev/null 2>&1 || { QUALITY_WHY="the vips CLI is missing (apt-get install libvips-tools)"; return 0; }
	for name in "${TOOLS[@]}"; do
		if [ -n "${MEDIAN[$name]-}" ] && [ -z "${NO_OUTPUTS[$name]-}" ]; then
			pairs+=("$name=$WORK/out-$name")
		fi
	done
	[ ${#pairs[@]} -gt 0 ] || { QUALITY_WHY="no tool made thumbnails"; return 0; }
	note "compare: quality: PSNR of $QUALITY_NSAMPLE inputs' thumbnails per tool (not timed) ..."
	t0=$(date +%s.%N)
	local -a ceiling=()
	[ "$PNG_ONLY" = 1 ] || ceiling=(--ceiling "$QUALITY")
	if ! "$qpy" "$SCRIPT_DIR/thumb_psnr.py" --size "$SIZE" --sample "$QSAMPLE" \
		"${ceiling[@]}" --files0-from "$WORK/inputs0" --work "$WORK/quality" "${pairs[@]}" \
		>"$WORK/quality.txt" 2>"$WORK/quality.err"; then
		QUALITY_WHY="bench/thumb_psnr.py failed: $(tail -n 1 "$WORK/quality.err")"
		return 0
	fi
	QUALITY_SECS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[ ! -s "$WORK/quality.err" ] || sed 's/^/compare:   /' "$WORK/quality.err" >&2
	# (the third field, sampled inputs without an output, shows as n below the
	# sample size)
	while read -r name n _ refit med min; do
		PSNR_N[$name]=$n
		PSNR_REFIT[$name]=$refit
		PSNR_MED[$name]=$med
		PSNR_MIN[$name]=$min
	done <"$WORK/quality.txt"
}

measure_quality

# ---------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------
# a / b of two medians, or "n/a" when either is missing.
# a / b of two medians, or "n/a" when either is missing; times k when given.
ratio() { # name_a name_b [k]
	local a=${MEDIAN[$1]-} b=${MEDIAN[$2]-} k=${3:-1}
	if [ -n "$a" ] && [ -n "$b" ]; then
		awk -v a="$a" -v b="$b" -v k="$k" 'BEGIN { if (b > 0) printf "%.2f", k * a / b; else print "n/a" }'
	else
		echo n/a
	fi
}

# sharp's best setting (2 or 4 images in flight) as one more median, for its
# defaults (sharp-best) and with fastShrinkOnLoad off (sharp-nf-best).
for best in sharp sharp-nf; do
	for k in 2 4; do
		m=${MEDIAN[$best-$k]-}
		if [ -n "$m" ] && { [ -z "${MEDIAN[$best-best]-}" ] ||
			awk -v m="$m" -v b="${MEDIAN[$best-best]}" 'BEGIN { exit !(m < b) }'; }; then
			MEDIAN[$best-best]=$m
		fi
	done
done

# The targets the ratios are checked against: "<= x" or ">= x" per ratio, for the
# set named by --targets (issue 18's "done when"; default: issue 10's).
declare -A TARGET=()
case $TARGETS in
corpus)
	TARGET=([j2-floor]="<= 1.1" [vt-j1]=">= 2.0" [vt-j2]=">= 3.6" [j1-j2]=">= 1.85"
		[sharp-j2]=">= 2") ;;
many-small)
	TARGET=([j2-floor]="<= 1.5" [vt-j1]=">= 2.3" [vt-j2]=">= 4.2" [j1-j2]=">= 1.85"
		[sharp-j2]=">= 2") ;;
png)
	TARGET=([vt-j1]=">= 2.0") ;;
default)
	TARGET=([vt-j1]=">= 1.3" [vt-j2]=">= 2.4" [v-j2]=">= 1.6" [par-j2]=">= 2.5"
		[j1-j2]=">= 1.85") ;;
esac
# The --fast-shrink rows are held to the same targets.
for key in j2-floor vt-j1 vt-j2 j1-j2 sharp-j2; do
	[ -z "${TARGET[$key]-}" ] || TARGET[fs-$key]=${TARGET[$key]}
done

echo
printf 'imgpool compare: %s\n' "$FOLDER"
printf '  %d images, %.1f MB; longest side %d, JPEG Q%d; %d run(s) each, median; %s\n' \
	"$NIN" "$(awk -v b="$INPUT_BYTES" 'BEGIN{print b/1e6}')" "$SIZE" "$QUALITY" "$RUNS" "$TIMER"
printf '  %s CPUs, load average %s at start; %s; imgpool: %s\n' "$(nproc)" "$LOAD" \
	"$(vips --version 2>/dev/null || echo 'libvips ?')" "$IMGPOOL"
[ -z "$PY" ] || printf '  pillow: %s (Pillow %s)\n' "$PY" "$PIL_VERSION"
[ -z "$SHARP_VERSION" ] || printf '  sharp: %s (%s)\n' "$SHARP_VERSION" "$SHARP_DIR"
[ ${#EMPTY[@]} -eq 0 ] || printf '  %d zero-byte file(s) given to imgpool only\n' "${#EMPTY[@]}"
[ ${#COLLIDING[@]} -eq 0 ] || printf '  %d file(s) left out: same stem as another (same output name)\n' "${#COLLIDING[@]}"
echo
printf '%-42s %9s %9s %8s %11s %11s %9s %5s %7s %7s\n' tool "median s" "images/s" "CPU s" \
	"sum PSS MB" "max proc MB" outputs exit "dB med" "dB min"
printf '%-42s %9s %9s %8s %11s %11s %9s %5s %7s %7s\n' ---- -------- -------- ----- \
	---------- ----------- ------- ---- ------ ------
for name in "${TOOLS[@]}"; do
	if [ -n "${SKIP[$name]-}" ]; then
		printf '%-42s %s\n' "${LABEL[$name]}" "skipped: ${SKIP[$name]}"
		continue
	fi
	if [ -n "${FAILED[$name]-}" ]; then
		printf '%-42s %s\n' "${LABEL[$name]}" "${FAILED[$name]}"
		continue
	fi
	# PSNR over the sample; a count when some sampled inputs had no output
	qual=$(printf '%7s %7s' "${PSNR_MED[$name]--}" "${PSNR_MIN[$name]--}")
	if [ -n "${PSNR_N[$name]-}" ] && [ "${PSNR_N[$name]}" -lt "$QUALITY_NSAMPLE" ]; then
		qual+=" (of ${PSNR_N[$name]})"
	fi
	pss=-
	[ -z "${MEM_PSS[$name]-}" ] || pss=$(mbnum "${MEM_PSS[$name]}")
	max=-
	[ -z "${MEM_MAX[$name]-}" ] || max=$(mbnum "${MEM_MAX[$name]}")
	printf '%-42s %9.3f %9.1f %8.2f %11s %11s %9s %5s %s%s\n' "${LABEL[$name]}" "${MEDIAN[$name]}" \
		"$(awk -v n="$NIN" -v s="${MEDIAN[$name]}" 'BEGIN { print (s > 0 ? n / s : 0) }')" \
		"${CPU[$name]}" "$pss" "$max" "${MADE[$name]}/$NIN" "${EXIT[$name]}" "$qual" \
		"$([ "${MADE[$name]}" -ge "$NIN" ] || echo '  (missing outputs)')"
done
echo
if [ -n "$MEM_WHY" ]; then
	printf 'MB: not measured (%s)\n' "$MEM_WHY"
else
	printf 'MB: one more run per tool, untimed, its process tree read from /proc every %d ms. sum PSS: the peak\n' "$MEM_PERIOD_MS"
	printf '    of the PSS summed over the tree (shared pages split among sharers, so counted once); max proc:\n'
	printf '    the largest peak RSS of one process. A process living under %d ms may be missing from the sum\n' "$MEM_PERIOD_MS"
fi
if [ -n "$QUALITY_WHY" ]; then
	printf 'dB: not measured (%s)\n' "$QUALITY_WHY"
else
	printf 'dB: PSNR of the thumbnails of %d of the %d inputs (spread by name) against the full-size\n' \
		"$QUALITY_NSAMPLE" "$NIN"
	printf '    decode thumbnailed by vips thumbnail_image (lanczos3, no shrink-on-load, sRGB),\n'
	printf '    median and minimum, outputs as written (%s); %s s after the timed runs, not timed\n' \
		"$([ "$PNG_ONLY" = 1 ] && echo PNG || echo "JPEG Q$QUALITY")" "$QUALITY_SECS"
	[ -z "${PSNR_MED[@ceiling]-}" ] ||
		printf '    the ceiling, the references themselves saved at Q%d (vips jpegsave): %s median, %s min\n' \
			"$QUALITY" "${PSNR_MED[@ceiling]}" "${PSNR_MIN[@ceiling]}"
	refits=""
	for name in "${TOOLS[@]}"; do
		[ "${PSNR_REFIT[$name]-0}" = 0 ] || refits+="${refits:+, }${LABEL[$name]} ${PSNR_REFIT[$name]}"
	done
	[ -z "$refits" ] || printf '    a pixel off the reference size (compared with a reference of their own size): %s\n' "$refits"
	if [ "$PNG_ONLY" = 0 ]; then
		printf '    JPEGs: imgpool, vipsthumbnail and sharp "fastShrinkOnLoad off" decode at libvips'"'"'\n'
		printf '    scale (a factor of two left to resample), Pillow "reducing gap 2" there or finer;\n'
		printf '    the decode floor, sharp (fastShrinkOnLoad on) and Pillow (draft at the box)\n'
		printf '    decode coarser on most photos: less work, lower PSNR\n'
	fi
fi

echo
printf '%-50s %6s %8s   (targets: %s)\n' "ratio (median seconds)" value target "$TARGETS"
printf '%-50s %6s %8s\n' ---------------------- ----- ------
# key name_a name_b k label: the ratio k * a / b, checked against TARGET[key]
while IFS='|' read -r key a b k label; do
	r=$(ratio "$a" "$b" "$k")
	target=${TARGET[$key]-}
	verdict=""
	if [ -n "$target" ] && [ "$r" != n/a ]; then
		verdict=$(awk -v r="$r" -v op="${target% *}" -v t="${target#* }" \
			'BEGIN { ok = op == "<=" ? r <= t : r >= t; print (ok ? "met" : "MISSED") }')
	fi
	printf '%-50s %6s %8s  %s\n' "$label" "$r" "$target" "$verdict"
done <<EOF
j1-floor|imgpool-j1|floor|1|imgpool -j1 / decode floor
j2-floor|imgpool-j2|floor|2|imgpool -j2 / half the decode floor
j1-floorv|imgpool-j1|floor-v|1|imgpool -j1 / floor at imgpool's scale
j2-floorv|imgpool-j2|floor-v|2|imgpool -j2 / half the floor at imgpool's scale
vt-j1|vips-1t|imgpool-j1|1|vipsthumbnail 1 thread / imgpool -j1
vt-j2|vips-1t|imgpool-j2|1|vipsthumbnail 1 thread / imgpool -j2
v-j2|vips|imgpool-j2|1|vipsthumbnail / imgpool -j2
par-j2|parallel|imgpool-j2|1|parallel vipsthumbnail / imgpool -j2
j1-j2|imgpool-j1|imgpool-j2|1|imgpool -j1 / imgpool -j2
xargs-j2|xargs|imgpool-j2|1|xargs vipsthumbnail / imgpool -j2
pil-j2|pillow|imgpool-j2|1|Pool + Pillow / imgpool -j2
sharp-j2|sharp-best|imgpool-j2|1|sharp (best of 2, 4 in flight) / imgpool -j2
pilgap-j2|pillow-gap2|imgpool-j2|1|Pool + Pillow, reducing gap 2 / imgpool -j2
sharpnf-j2|sharp-nf-best|imgpool-j2|1|sharp at equal quality (best) / imgpool -j2
fs-j2-floor|imgpool-fs-j2|floor|2|--fast-shrink: -j2 / half the decode floor
fs-vt-j1|vips-1t|imgpool-fs-j1|1|--fast-shrink: vipsthumbnail 1 thread / -j1
fs-vt-j2|vips-1t|imgpool-fs-j2|1|--fast-shrink: vipsthumbnail 1 thread / -j2
fs-j1-j2|imgpool-fs-j1|imgpool-fs-j2|1|--fast-shrink: -j1 / -j2
fs-sharp-j2|sharp-best|imgpool-fs-j2|1|--fast-shrink: sharp (best, same scale) / -j2
EOF
printf "(the decode floor decodes less than imgpool: the smallest covering scale, at a lower\n"
printf " quality; the floor at imgpool's scale is what imgpool's own decoder must spend;\n"
printf " imgpool --fast-shrink and sharp's default decode at the floor's scale;\n"
printf " ratios without a target are for information)\n"
