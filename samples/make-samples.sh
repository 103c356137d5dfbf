#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-samples.sh — generate the demo images of imgpool, deterministically, with the
# libvips command-line tools only (Debian package libvips-tools; nothing is downloaded).
#
#   samples/make-samples.sh OUTDIR
#
# Makes 26 images (about 6 MB) in OUTDIR: JPEGs with EXIF orientations 1-8 in landscape
# and portrait, ordinary photo-like JPEGs (one of 12.6 MP, one with a space and a
# non-ASCII character in its name), a grayscale JPEG, a PNG with alpha, a 16-bit PNG, a
# WebP, a TIFF, a GIF, and exactly one broken file, corrupt-truncated.jpg (a JPEG cut to
# half its length), which imgpool must report as the one failure of the demo.
#
# Idempotent: does nothing when OUTDIR/.complete exists and is newer than this script.
# An interrupted run leaves OUTDIR as it was: the set is made in OUTDIR.tmp and moved
# into place at the end.
set -euo pipefail
# Numbers printed by awk and parsed by vips always with a decimal point.
export LC_ALL=C

PROG=${0##*/}

usage() {
	cat <<EOF
usage: $PROG OUTDIR

Generate the imgpool demo images into OUTDIR with the 'vips' command-line tool
(Debian package libvips-tools). Skips the work when OUTDIR/.complete is newer than
this script. Prints "samples: N images in OUTDIR" at the end.
EOF
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

case "${1-}" in
-h | --help) usage; exit 0 ;;
"" | -*) usage >&2; exit 2 ;;
esac
[ $# -eq 1 ] || { usage >&2; exit 2; }
OUTDIR=${1%/}
[ -n "$OUTDIR" ] || die "OUTDIR must not be /"

command -v vips >/dev/null 2>&1 ||
	die "the 'vips' command is missing: install it with 'apt-get install libvips-tools'"

# Count the images of a finished set (every regular, non-hidden file), for the last line.
count_images() {
	find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l
}

# Up to date: the marker exists and this script has not changed since it was written.
if [ -f "$OUTDIR/.complete" ] && ! [ "$0" -nt "$OUTDIR/.complete" ]; then
	printf 'samples: %d images in %s\n' "$(count_images "$OUTDIR")" "$OUTDIR"
	exit 0
fi

TMPOUT="$OUTDIR.tmp"
# Scratch in RAM when we can: the many intermediate .v files are written and read
# once. The peak is under 200 MB (the 12.6 MP image), so only with room to spare
# (a container's /dev/shm is often 64 MB).
shm_free_mb() {
	df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }'
}
scratch_parent=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(shm_free_mb || echo 0)" -ge 512 ] 2>/dev/null; then
	scratch_parent=/dev/shm
fi
SCRATCH=$(mktemp -d "$scratch_parent/imgpool-samples.XXXXXX")
lane_pids=()
# Intermediate .v files live in SCRATCH, the finished images in TMPOUT; both go away
# on any exit, so an interrupted run leaves neither half a set nor scratch behind.
# Lanes still running (we were interrupted) are stopped first, so that they do not
# go on writing into the folders being removed.
cleanup() {
	if [ ${#lane_pids[@]} -gt 0 ]; then
		kill "${lane_pids[@]}" 2>/dev/null || true
		wait "${lane_pids[@]}" 2>/dev/null || true
	fi
	rm -rf "$SCRATCH" "$TMPOUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$(dirname "$OUTDIR")"
rm -rf "$TMPOUT"
mkdir "$TMPOUT"

# The work runs in two lanes of short, single-threaded vips commands (see run_lane):
# libvips' worker threads would only add start-up cost to each command.
export VIPS_CONCURRENCY=1

# ---------------------------------------------------------------------------------
# Building blocks. Each writes a .v file in SCRATCH (fast, uncompressed, mmap'ed).
# ---------------------------------------------------------------------------------

# An sRGB gradient W x H: red grows left to right, green top to bottom, blue fixed.
# Smooth content compresses well and shows orientation errors at a glance.
gradient() { # out w h blue
	local out=$1 w=$2 h=$3 blue=$4
	vips xyz "$SCRATCH/xy.v" "$w" "$h"
	vips linear "$SCRATCH/xy.v" "$SCRATCH/g2.v" "$(awk "BEGIN{print 255/$w, 255/$h}")" "0 0" --uchar
	vips bandjoin_const "$SCRATCH/g2.v" "$SCRATCH/g3.v" "$blue"
	vips copy "$SCRATCH/g3.v" "$out" --interpretation srgb
}

# Mild deterministic noise on top of an 8-bit sRGB image, so JPEGs look like photos
# (fixed seed: the same bytes on every run). The sum keeps the sRGB interpretation
# and the cast clips to 0-255.
add_noise() { # in out w h sigma seed
	local in=$1 out=$2 w=$3 h=$4 sigma=$5 seed=$6
	vips gaussnoise "$SCRATCH/n.v" "$w" "$h" --sigma "$sigma" --mean 0 --seed "$seed"
	vips add "$in" "$SCRATCH/n.v" "$SCRATCH/sum.v"
	vips cast "$SCRATCH/sum.v" "$out" uchar
}

# Perlin "clouds" tinted between two colours: soft photo-like content with a seed.
# One uchar band through a 3-element linear gives the 3 sRGB bands.
clouds() { # out w h cell seed "r0 g0 b0" "r1 g1 b1"
	local out=$1 w=$2 h=$3 cell=$4 seed=$5 c0=$6 c1=$7
	vips perlin "$SCRATCH/p.v" "$w" "$h" --cell-size "$cell" --seed "$seed" --uchar
	# "--" ends the options: a slope may be negative
	vips linear "$SCRATCH/p.v" "$SCRATCH/cl.v" --uchar -- "$(awk -v a="$c0" -v b="$c1" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= 3; i++) printf "%s%g", (i > 1 ? " " : ""), (y[i] - x[i]) / 255 }')" \
		"$c0"
	vips copy "$SCRATCH/cl.v" "$out" --interpretation srgb
}

# An upright, clearly asymmetric test card: gradient, a big white "F" made of
# rectangles (no fonts needed, so identical on every machine), a red square in the
# top-left corner, and mild noise. u is the unit of the drawing: 1/12 of the short side.
test_card() { # out w h
	local out=$1 w=$2 h=$3 s u
	s=$((w < h ? w : h))
	u=$((s / 12))
	gradient "$SCRATCH/card.v" "$w" "$h" 150
	vips draw_rect "$SCRATCH/card.v" "255 255 255" $((3 * u)) $((2 * u)) $((2 * u)) $((8 * u)) --fill
	vips draw_rect "$SCRATCH/card.v" "255 255 255" $((3 * u)) $((2 * u)) $((6 * u)) $((2 * u)) --fill
	vips draw_rect "$SCRATCH/card.v" "255 255 255" $((3 * u)) $((5 * u)) $((4 * u)) $((3 * u / 2)) --fill
	vips draw_rect "$SCRATCH/card.v" "220 20 20" 0 0 $((3 * u / 2)) $((3 * u / 2)) --fill
	add_noise "$SCRATCH/card.v" "$out" "$w" "$h" 4 1
}

# A mask of 8 small squares in a row (1 band, 255 inside), u apart: the first n of
# them, drawn at the bottom left of card n, tell its orientation number. Made once,
# so each card costs one crop and one draw instead of n draws.
dots_mask() { # out u
	local out=$1 u=$2 i
	vips black "$out" $((8 * u)) $((2 * u / 3))
	for ((i = 0; i < 8; i++)); do
		vips draw_rect "$out" 255 $((i * u)) 0 $((2 * u / 3)) $((2 * u / 3)) --fill
	done
}

# The stored pixels for EXIF orientation n: the inverse of the transform a viewer
# applies for n, so that every card displays upright once correctly auto-rotated.
unorient() { # in out n
	local in=$1 out=$2 n=$3
	case $n in
	1) vips copy "$in" "$out" ;;
	2) vips flip "$in" "$out" horizontal ;;
	3) vips rot "$in" "$out" d180 ;;
	4) vips flip "$in" "$out" vertical ;;
	5) # transpose: mirror on the main diagonal
		vips rot "$in" "$SCRATCH/r.v" d90
		vips flip "$SCRATCH/r.v" "$out" horizontal ;;
	6) vips rot "$in" "$out" d270 ;;
	7) # transverse: mirror on the anti-diagonal
		vips rot "$in" "$SCRATCH/r.v" d90
		vips flip "$SCRATCH/r.v" "$out" vertical ;;
	8) vips rot "$in" "$out" d90 ;;
	*) die "bad orientation $n" ;;
	esac
}

# Give a JPEG saved with [strip] (so it has no APP segment at all) an EXIF
# orientation: a minimal APP1 segment, right after the SOI marker:
#   FFE1, length 34, "Exif\0\0", big-endian TIFF header "MM\0*" + IFD offset 8,
#   an IFD of one entry (tag 0x0112 Orientation, type 3 SHORT, count 1, value n),
#   next-IFD offset 0.
# The vips CLI cannot set metadata and we want no extra package (exiftool) for this.
set_orientation() { # in.jpg n out.jpg
	local in=$1 n=$2 out=$3
	[ "$(head -c 4 "$in" | od -An -tx1 | tr -d ' \n')" = ffd8ffdb ] ||
		die "set_orientation: $in does not start with SOI + DQT (not saved with strip?)"
	local byte
	byte=$(printf '\\0%03o' "$n") # for printf %b: \0 and 3 octal digits
	{
		head -c 2 "$in"
		printf '\377\341\000\042Exif\000\000MM\000\052\000\000\000\010'
		printf '\000\001\001\022\000\003\000\000\000\001\000%b\000\000' "$byte"
		printf '\000\000\000\000'
		tail -c +3 "$in"
	} >"$out"
}

# Save a .v as JPEG without any metadata (deterministic bytes, no EXIF to clash with).
jpeg() { # in.v out.jpg quality
	vips jpegsave "$1" "$2" --Q "$3" --strip
}

# ---------------------------------------------------------------------------------
# The set
# ---------------------------------------------------------------------------------

# 1-8: landscape and portrait test cards with every EXIF orientation. Shown correctly,
# all sixteen look the same: an upright F, red square top left, n squares bottom left.
make_orientations() {
	local shape w h u n
	dots_mask "$SCRATCH/dots.v" 66
	for shape in landscape portrait; do
		if [ "$shape" = landscape ]; then w=1200 h=800; else w=800 h=1200; fi
		u=$(((w < h ? w : h) / 12))  # 66, as dots_mask was made with
		test_card "$SCRATCH/base.v" "$w" "$h"
		for n in 1 2 3 4 5 6 7 8; do
			vips extract_area "$SCRATCH/dots.v" "$SCRATCH/d.v" 0 0 $((n * u)) $((2 * u / 3))
			vips copy "$SCRATCH/base.v" "$SCRATCH/card-$n.v"
			vips draw_mask "$SCRATCH/card-$n.v" "20 20 60" "$SCRATCH/d.v" $((u / 2)) $((h - 3 * u / 2))
			unorient "$SCRATCH/card-$n.v" "$SCRATCH/stored-$n.v" "$n"
			jpeg "$SCRATCH/stored-$n.v" "$SCRATCH/stored-$n.jpg" 85
			set_orientation "$SCRATCH/stored-$n.jpg" "$n" "$TMPOUT/$shape-orientation-$n.jpg"
		done
	done
}

# Drop the intermediates of the image just made (keeps the scratch peak small).
free_scratch() {
	rm -f "$SCRATCH"/*.v
}

# Ordinary pictures of varied content, sizes and formats.
make_others() {
	# 12.6 MP landscape JPEG (4200 x 3000): the big one that shrink-on-load helps most.
	clouds "$SCRATCH/big.v" 4200 3000 512 11 "40 90 160" "235 225 200"
	jpeg "$SCRATCH/big.v" "$TMPOUT/big-12mp-sky.jpg" 82
	free_scratch

	# 2.4 MP landscape with a space and a non-ASCII character in its name.
	clouds "$SCRATCH/cafe.v" 1920 1280 200 12 "90 50 20" "250 220 170"
	add_noise "$SCRATCH/cafe.v" "$SCRATCH/cafen.v" 1920 1280 5 12
	jpeg "$SCRATCH/cafen.v" "$TMPOUT/café au lait.jpg" 85
	free_scratch

	# 2.2 MP portrait of "cells" (Worley noise), greenish.
	vips worley "$SCRATCH/w.v" 1200 1800 --cell-size 160 --seed 13
	vips linear "$SCRATCH/w.v" "$SCRATCH/w1.v" 1.6 0 --uchar
	vips bandjoin "$SCRATCH/w1.v $SCRATCH/w1.v $SCRATCH/w1.v" "$SCRATCH/w3.v"
	vips linear "$SCRATCH/w3.v" "$SCRATCH/w4.v" "0.5 0.9 0.6" "20 40 20" --uchar
	vips copy "$SCRATCH/w4.v" "$SCRATCH/w5.v" --interpretation srgb
	jpeg "$SCRATCH/w5.v" "$TMPOUT/portrait-cells.jpg" 85
	free_scratch

	# 1.5 MP grayscale JPEG: a zone plate (rings of rising frequency), made small and
	# enlarged so the rings stay visible in a thumbnail.
	vips zone "$SCRATCH/z0.v" 300 200
	vips resize "$SCRATCH/z0.v" "$SCRATCH/z.v" 5
	vips linear "$SCRATCH/z.v" "$SCRATCH/z1.v" 127 128 --uchar
	vips copy "$SCRATCH/z1.v" "$SCRATCH/z2.v" --interpretation b-w
	jpeg "$SCRATCH/z2.v" "$TMPOUT/grayscale-zone.jpg" 85
	free_scratch

	# PNG with alpha: an orange disc with a soft edge on a transparent background.
	vips xyz "$SCRATCH/cxy.v" 800 800
	vips linear "$SCRATCH/cxy.v" "$SCRATCH/cc.v" 1 -- -400
	vips multiply "$SCRATCH/cc.v" "$SCRATCH/cc.v" "$SCRATCH/csq.v"
	vips bandmean "$SCRATCH/csq.v" "$SCRATCH/cm.v"  # (dx^2 + dy^2) / 2
	vips math2_const "$SCRATCH/cm.v" "$SCRATCH/cr.v" pow 0.5 # distance / sqrt 2
	# alpha: 255 inside radius 300, ramping to 0 over 8 px
	vips linear "$SCRATCH/cr.v" "$SCRATCH/ca.v" --uchar -- -45.078 9817.5
	gradient "$SCRATCH/cg.v" 800 800 40
	vips linear "$SCRATCH/cg.v" "$SCRATCH/cg2.v" "0.2 0.5 0.2" "230 100 10" --uchar
	vips bandjoin "$SCRATCH/cg2.v $SCRATCH/ca.v" "$SCRATCH/crgba.v"
	vips copy "$SCRATCH/crgba.v" "$SCRATCH/crgba2.v" --interpretation srgb
	vips pngsave "$SCRATCH/crgba2.v" "$TMPOUT/alpha-disc.png" --strip
	free_scratch

	# 16-bit RGB PNG (1024 x 768): a gradient over the whole 0-65535 range.
	vips xyz "$SCRATCH/dxy.v" 1024 768
	vips linear "$SCRATCH/dxy.v" "$SCRATCH/d2.v" "64 85.3" "0 0"
	vips bandjoin_const "$SCRATCH/d2.v" "$SCRATCH/d3.v" 30000
	vips cast "$SCRATCH/d3.v" "$SCRATCH/d4.v" ushort
	vips copy "$SCRATCH/d4.v" "$SCRATCH/d5.v" --interpretation rgb16
	vips pngsave "$SCRATCH/d5.v" "$TMPOUT/deep-16bit.png" --bitdepth 16 --strip
	free_scratch

	# WebP, 1.7 MP landscape: a sunset.
	clouds "$SCRATCH/sun.v" 1600 1067 120 14 "250 120 40" "60 20 90"
	vips webpsave "$SCRATCH/sun.v" "$TMPOUT/sunset.webp" --Q 80 --strip

	# TIFF, LZW, 1.1 MP: a sine grating over a gradient.
	vips sines "$SCRATCH/s.v" 1200 900 --hfreq 0.3 --vfreq 0.1
	vips linear "$SCRATCH/s.v" "$SCRATCH/s1.v" 60 0
	gradient "$SCRATCH/sg.v" 1200 900 90
	vips add "$SCRATCH/sg.v" "$SCRATCH/s1.v" "$SCRATCH/s2.v"
	vips cast "$SCRATCH/s2.v" "$SCRATCH/s3.v" uchar
	vips copy "$SCRATCH/s3.v" "$SCRATCH/s4.v" --interpretation srgb
	vips tiffsave "$SCRATCH/s4.v" "$TMPOUT/scan-grating.tiff" --compression lzw --strip
	free_scratch

	# GIF (palette), 600 x 400, when this libvips can write GIF (cgif, 8.12+).
	# (the list goes through a variable: "vips -l | grep -q" dies of SIGPIPE under pipefail)
	local ops
	ops=$(vips -l foreign 2>/dev/null || true)
	if [[ $ops == *"(gifsave)"* ]]; then
		clouds "$SCRATCH/gif.v" 600 400 120 15 "20 60 30" "200 240 120"
		vips gifsave "$SCRATCH/gif.v" "$TMPOUT/palette.gif" --strip
	else
		printf '%s: this libvips cannot save GIF: no GIF sample\n' "$PROG" >&2
	fi

	# The one broken file: a 1.9 MP JPEG cut to half its length. Headers intact, so
	# it opens, and fails when the missing scans are read.
	clouds "$SCRATCH/cut.v" 1600 1200 150 16 "30 30 80" "200 200 255"
	add_noise "$SCRATCH/cut.v" "$SCRATCH/cutn.v" 1600 1200 5 16
	jpeg "$SCRATCH/cutn.v" "$SCRATCH/whole.jpg" 85
	head -c $(($(stat -c %s "$SCRATCH/whole.jpg") / 2)) "$SCRATCH/whole.jpg" \
		>"$TMPOUT/corrupt-truncated.jpg"
}

# Two lanes on separate scratch folders, to use both cores: libvips is mostly
# single-threaded on these small images and much of the time is command start-up.
run_lane() { # name function
	local name=$1 fn=$2
	SCRATCH="$SCRATCH/$name"
	mkdir -p "$SCRATCH"
	"$fn"
}

run_lane a make_orientations &
lane_pids+=($!)
run_lane b make_others &
lane_pids+=($!)
status=0
for pid in "${lane_pids[@]}"; do
	wait "$pid" || status=$?
done
lane_pids=()
[ "$status" -eq 0 ] || die "generating the samples failed (exit $status)"

# Sanity: the orientation tags read back as written.
for n in 1 2 3 4 5 6 7 8; do
	for f in "$TMPOUT/landscape-orientation-$n.jpg" "$TMPOUT/portrait-orientation-$n.jpg"; do
		got=$(vipsheader -f orientation "$f")
		[ "$got" = "$n" ] || die "${f##*/}: orientation reads back as '$got', not $n"
	done
done

touch "$TMPOUT/.complete"

# Swap the finished set in: the old one (if any) is moved aside first, so OUTDIR is
# always either the old complete set or the new one, never a mix.
if [ -e "$OUTDIR" ]; then
	rm -rf "$OUTDIR.old"
	mv "$OUTDIR" "$OUTDIR.old"
	mv "$TMPOUT" "$OUTDIR"
	rm -rf "$OUTDIR.old"
else
	mv "$TMPOUT" "$OUTDIR"
fi

printf 'samples: %d images in %s\n' "$(count_images "$OUTDIR")" "$OUTDIR"
