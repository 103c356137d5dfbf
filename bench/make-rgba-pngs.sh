#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-rgba-pngs.sh — the PNG set of issue 18's PNG target: the corpus PNGs
# (symlinked) and COUNT generated RGBA PNGs of 12 MP (4000x3000), made with
# libvips from the corpus photos: photo i forced to 4000x3000 sRGB, with the first
# band of photo i + 1 as its alpha (clear, opaque and soft regions, as in cut-outs and
# overlays), saved with pngsave's defaults (zlib level 6, adaptive filters).
#
#   bench/make-rgba-pngs.sh [PHOTO_DIR] OUT_DIR [COUNT]
#
#   PHOTO_DIR  default: ../shared/corpus/photos beside this repository
#   OUT_DIR    created; must be empty or absent
#   COUNT      default 20
#
# Then: bench/compare.sh --png --targets png OUT_DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case $# in
1) src=$here/../../shared/corpus/photos out=$1 count=20 ;;
2) if [[ $2 =~ ^[0-9]+$ ]]; then src=$here/../../shared/corpus/photos out=$1 count=$2; else src=$1 out=$2 count=20; fi ;;
3) src=$1 out=$2 count=$3 ;;
*)
	echo "usage: $0 [PHOTO_DIR] OUT_DIR [COUNT]" >&2
	exit 2
	;;
esac
command -v vips >/dev/null && command -v vipsthumbnail >/dev/null || {
	echo "make-rgba-pngs: needs vips and vipsthumbnail (apt-get install libvips-tools)" >&2
	exit 1
}
[ -d "$src" ] || { echo "make-rgba-pngs: no photo folder '$src'" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
[[ -z $(ls -A "$out") ]] || { echo "make-rgba-pngs: '$out' is not empty" >&2; exit 1; }

mapfile -t photos < <(find "$src" -maxdepth 1 -type f -iname '*.jpg' -size +100k | LC_ALL=C sort)
((${#photos[@]} >= 2)) || { echo "make-rgba-pngs: fewer than 2 JPEGs in '$src'" >&2; exit 1; }
for f in "$src"/*.png; do
	[ -e "$f" ] && ln -s "$f" "$out/"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-rgba-pngs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=${#photos[@]}
for ((i = 0; i < count; i++)); do
	a=${photos[i % n]} b=${photos[(i + 1) % n]}
	# Output paths absolute: vipsthumbnail writes relative ones beside the input.
	vipsthumbnail "$a" -s '4000x3000!' -o "$tmp/any.v"
	vipsthumbnail "$b" -s '4000x3000!' -o "$tmp/other.v"
	vips colourspace "$tmp/any.v" "$tmp/rgb.v" srgb	# grey photos too
	vips extract_band "$tmp/other.v" "$tmp/alpha.v" 0
	vips bandjoin "$tmp/rgb.v $tmp/alpha.v" "$tmp/rgba.v"
	vips pngsave "$tmp/rgba.v" "$out/rgba-$(printf %02d "$i").png" --strip
done
echo "make-rgba-pngs: $count RGBA PNGs of 4000x3000 and $(find "$out" -maxdepth 1 -type l | wc -l) corpus PNGs in $out"
