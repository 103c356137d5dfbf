#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# debian_test.sh — the Debian packages as a user gets them: installed with apt-get in
# a minimal Debian 12 that this script makes, used there, then purged.
#
#   tests/install/debian_test.sh DEB_DIR SAMPLES_DIR CACHE_DIR
#
# DEB_DIR holds the packages `make deb` makes (imgpool, libimgpool-pool<MAJOR>,
# libimgpool-pool-dev; MAJOR is POOL_VERSION_MAJOR of pool/pool.h, the SONAME's
# number); SAMPLES_DIR what samples/make-samples.sh makes (made here,
# outside, since the new system has no vips command); CACHE_DIR a folder of the
# build tree for what a second run can reuse.
#
# What it does:
#   1. as root only (else "SKIP: <why>", exit 0), makes a Debian 12 root with
#      `debootstrap --variant=minbase bookworm` from the Debian archive this
#      machine's apt sources name (apt-get indextargets; IMGPOOL_DEBIAN_MIRROR
#      overrides it), installing debootstrap first when it is missing. Where that
#      cannot be done (no debootstrap, no network) it prints "SKIP: <why>" and
#      exits 0: it never pretends to have run anything. The fresh root is kept as
#      CACHE_DIR/bookworm-minbase.tar, and a later run starts from that (~40 s
#      saved), with apt's downloads kept in CACHE_DIR/apt-archives;
#   2. in that root (chroot, with /proc mounted), with the same suites as this
#      machine (bookworm, -updates, -security): `apt-get install ./*.deb` of the
#      three packages alone, which proves their Depends; then checks that the
#      loader knows the library (the ldconfig trigger) and that `imgpool -V`
#      prints the packages' version;
#   3. installs man-db, gcc and pkg-config, and checks, as an ordinary user
#      (nobody), `man imgpool`, a run on the samples (every image but the corrupt
#      one thumbnailed, exit 1 for that one), and examples/libpool/squares.c built
#      with `pkg-config --cflags --libs imgpool-pool` alone, then run;
#   4. `apt-get purge`s the three packages and checks that nothing of theirs is
#      left: no file they listed, no file or folder named *imgpool* outside /tmp,
#      no dpkg record, no ld.so cache entry;
#   5. from source, in the same root: copies the repository's files in and runs
#      `make demo` and `make install PREFIX=/usr/local` as root, which install the
#      Debian packages building and running need; checks the build left the tests
#      out, that no test tool (cmocka, valgrind, clang) came with it, and that the
#      installed imgpool runs.
# Prints PASS / FAIL lines, the seconds each stage took, and ends with
# "N passed, N failed"; exits 1 on a failure. The root is deleted at the end
# (KEEP=1 keeps it, in CACHE_DIR/root). The time each stage took is printed; most
# of it is apt-get downloading and unpacking libvips, gcc and their -dev packages.
set -euo pipefail

PROG=${0##*/}
SUITE=bookworm          # Debian 12

usage() {
	cat <<EOF
usage: $PROG DEB_DIR SAMPLES_DIR CACHE_DIR

Install the imgpool Debian packages in DEB_DIR into a fresh minimal Debian 12
(debootstrap, as root), use them there (imgpool -V, man imgpool, a run on
SAMPLES_DIR, a C program built with pkg-config against the pool library), purge
them and check that nothing is left. Prints "SKIP: ..." and exits 0 where the
Debian root cannot be made here. KEEP=1 keeps the root in CACHE_DIR/root.
EOF
}

case "${1-}" in
-h | --help) usage; exit 0 ;;
esac
[ $# -eq 3 ] || { usage >&2; exit 2; }

npass=0
nfail=0
pass() { echo "PASS: $*"; npass=$((npass + 1)); }
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
check() { # check DESCRIPTION COMMAND...: one verdict line per check
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
skip() { echo "SKIP: $PROG: $*"; exit 0; }
die() { echo "$PROG: $*" >&2; exit 2; }

T0=$SECONDS
stage() { # stage NAME: a heading, with the seconds since the start
	echo "-- $1 (at $((SECONDS - T0)) s)"
}

DEB_DIR=$(cd "$1" && pwd) || die "no folder $1"
SAMPLES=$(cd "$2" && pwd) || die "no folder $2"
mkdir -p "$3"
CACHE=$(cd "$3" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=$CACHE/root

DEBS=("$DEB_DIR"/*.deb)
[ -e "${DEBS[0]}" ] || die "no .deb in $DEB_DIR (make deb makes them)"
PACKAGES=()
DEB_NAMES=()            # ./NAME.deb: what `apt-get install ./*.deb` is given in their folder
for deb in "${DEBS[@]}"; do
	PACKAGES+=("$(dpkg-deb -f "$deb" Package)")
	DEB_NAMES+=("./${deb##*/}")
done
TOOL_DEB=$(ls "$DEB_DIR"/imgpool_*.deb 2>/dev/null | head -n 1)
[ -n "$TOOL_DEB" ] || die "no imgpool_*.deb in $DEB_DIR"
DEB_VERSION=$(dpkg-deb -f "$TOOL_DEB" Version)
VERSION=${DEB_VERSION%-*}    # the upstream version, without the Debian revision

# ---- 1. the Debian root ------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "not root: debootstrap and chroot need root"
if ! command -v debootstrap >/dev/null 2>&1; then
	stage "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
		skip "debootstrap is missing and apt-get could not install it"
fi

# The archive this machine reaches, as its apt sources say: every suite of Debian
# 12 they list (bookworm, bookworm-updates, bookworm-security) with its components.
SOURCES=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
		'Identifier: Packages' 2>/dev/null |
	awk -v s="$SUITE" '$2 == s || index($2, s "-") == 1' | sort -u |
	awk '{k = $1 " " $2; if (!(k in c)) { o[++n] = k; c[k] = $3 } else c[k] = c[k] " " $3}
	     END { for (i = 1; i <= n; i++) print "deb " o[i] " " c[o[i]] }')
if [ -n "${IMGPOOL_DEBIAN_MIRROR-}" ]; then
	MIRROR=$IMGPOOL_DEBIAN_MIRROR
	SOURCES="deb $MIRROR $SUITE main"
else
	MIRROR=$(printf '%s\n' "$SOURCES" | awk -v s="$SUITE" '$3 == s { print $2; exit }')
fi
[ -n "$MIRROR" ] || skip "this machine's apt sources name no Debian 12 ($SUITE) archive" \
	"(set IMGPOOL_DEBIAN_MIRROR)"

# What this script mounts inside the root.
MOUNTS=("$ROOT/proc" "$ROOT/var/cache/apt/archives")
# Unmount them and delete the root, never while anything is still mounted in it
# (rm would go through a bind mount into what it shows).
remove_root() {
	local m
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m"; then umount "$m" || umount -l "$m" || true; fi
	done
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m"; then
			echo "$PROG: $m is still mounted; $ROOT left in place" >&2
			return 1
		fi
	done
	rm -rf --one-file-system "$ROOT"
}
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && umount "$m"; done
		echo "kept: $ROOT"
	else
		remove_root
	fi
}
trap cleanup EXIT

remove_root || die "cannot clear $ROOT"
TARBALL=$CACHE/$SUITE-minbase.tar
if [ -s "$TARBALL" ]; then
	stage "unpacking the cached Debian root ($TARBALL)"
	mkdir -p "$ROOT"
	tar -C "$ROOT" -xpf "$TARBALL"
else
	stage "debootstrap --variant=minbase $SUITE from $MIRROR"
	if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
		tail -n 5 "$CACHE/debootstrap.log" >&2 || true
		skip "debootstrap could not make a Debian root from $MIRROR (no network?);" \
			"its log: $CACHE/debootstrap.log"
	fi
	tar -C "$ROOT" -cpf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
fi

printf '%s\n' "$SOURCES" >"$ROOT/etc/apt/sources.list"
# A chroot starts no services.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$ROOT/proc"
mkdir -p "$CACHE/apt-archives/partial"
mount --bind "$CACHE/apt-archives" "$ROOT/var/cache/apt/archives"

# Run a command in the root, with a clean environment: as root (apt-get, dpkg),
# or as an ordinary user (nobody), as one uses the command and the library.
CHROOT=$(command -v chroot)
in_root() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$CHROOT" "$ROOT" "$@"
}
as_user() {
	env -i PATH=/usr/bin:/bin HOME=/tmp LC_ALL=C.UTF-8 \
		"$CHROOT" --userspec=nobody:nogroup "$ROOT" "$@"
}
apt_in_root() { # apt_in_root ARGS...: quiet; the end of its output on a failure
	apt_in_root_in / "$@"
}
apt_in_root_in() { # apt_in_root_in DIR ARGS...: the same, run in DIR of the root
	local dir=$1; shift
	if ! in_root sh -c 'cd "$1" && shift && exec apt-get -q -o Dpkg::Use-Pty=0 "$@"' \
		_ "$dir" "$@" >"$CACHE/apt.log" 2>&1; then
		tail -n 20 "$CACHE/apt.log" >&2
		return 1
	fi
}

stage "apt-get update in the root"
apt_in_root update || skip "apt-get update in the Debian root failed (no network?)"

# ---- 2. the packages alone ----------------------------------------------------
LIB_DEB=$(ls "$DEB_DIR"/libimgpool-pool[0-9]*_*.deb 2>/dev/null | head -n 1)
# The SONAME's number is pool.h's POOL_VERSION_MAJOR (cmake/install.cmake reads it
# there); the library package is named after it.
POOL_MAJOR=$(sed -n 's/^#define[ \t]*POOL_VERSION_MAJOR[ \t]*\([0-9][0-9]*\)[ \t]*$/\1/p' \
	"$SRC/pool/pool.h")
[ -n "$POOL_MAJOR" ] || die "no #define POOL_VERSION_MAJOR in $SRC/pool/pool.h"
SONAME=libimgpool-pool.so.$POOL_MAJOR
LIB_PACKAGE=libimgpool-pool$POOL_MAJOR
check "the library package is $LIB_PACKAGE, after its SONAME $SONAME" \
	test "$(dpkg-deb -f "$LIB_DEB" Package 2>/dev/null)" = "$LIB_PACKAGE"
check "its shlibs file says $SONAME is in $LIB_PACKAGE (>= $DEB_VERSION)" \
	sh -c 'dpkg-deb --info "$1" shlibs 2>/dev/null | grep -qxF "libimgpool-pool $2 $3 (>= $4)"' \
	_ "$LIB_DEB" "$POOL_MAJOR" "$LIB_PACKAGE" "$DEB_VERSION"
DEV_DEB=$(ls "$DEB_DIR"/libimgpool-pool-dev_*.deb 2>/dev/null | head -n 1)
check "libimgpool-pool-dev depends on $LIB_PACKAGE (= $DEB_VERSION)" \
	sh -c 'dpkg-deb -f "$1" Depends 2>/dev/null | tr , "\n" | sed "s/^ *//" | grep -qxF "$2"' \
	_ "$DEV_DEB" "$LIB_PACKAGE (= $DEB_VERSION)"
check "the library package activates the ldconfig trigger" \
	sh -c 'dpkg-deb --info "$1" triggers 2>/dev/null | grep -qx "activate-noawait ldconfig"' \
	_ "$LIB_DEB"
stage "apt-get install ./*.deb (${PACKAGES[*]})"
mkdir -p "$ROOT/tmp/imgpool-debs"
cp "${DEBS[@]}" "$ROOT/tmp/imgpool-debs/"
check "apt-get install ./*.deb installs ${PACKAGES[*]} with their Depends" \
	apt_in_root_in /tmp/imgpool-debs install -y --no-install-recommends "${DEB_NAMES[@]}"
for p in "${PACKAGES[@]}"; do
	check "$p is installed" test "$(in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" \
		= "install ok installed"
done
check "the loader knows $SONAME (ldconfig ran)" \
	sh -c "chroot '$ROOT' ldconfig -p | grep -qF '$SONAME '"
version_line=$(as_user imgpool -V 2>&1 | head -n 1 || true)
check "imgpool -V says 'imgpool $VERSION' (got '$version_line')" \
	test "$version_line" = "imgpool $VERSION"

# ---- 3. using them --------------------------------------------------------------
stage "apt-get install man-db gcc libc6-dev pkg-config"
check "man-db, gcc and pkg-config install" \
	apt_in_root install -y --no-install-recommends man-db gcc libc6-dev pkg-config

stage "man imgpool, a run on the samples, a program using the pool library"
man_page=$(as_user env MANPAGER=cat MANWIDTH=80 man imgpool 2>&1 || true)
check "man imgpool shows the page of imgpool $VERSION" \
	sh -c 'printf "%s\n" "$1" | grep -q "^NAME" &&
	       printf "%s\n" "$1" | grep -q "^imgpool $2 "' _ "$man_page" "$VERSION"

rm -rf "$ROOT/tmp/samples" "$ROOT/tmp/thumbs"
cp -r "$SAMPLES" "$ROOT/tmp/samples"
inputs=$(find "$ROOT/tmp/samples" -type f ! -name '.*' | wc -l)
rc=0
as_user imgpool -q -s 128 -o /tmp/thumbs /tmp/samples >"$CACHE/run.log" 2>&1 || rc=$?
outputs=$({ find "$ROOT/tmp/thumbs" -path "$ROOT/tmp/thumbs/.imgpool" -prune -o \
	-type f -size +0 -print 2>/dev/null || true; } | wc -l)
check "imgpool on the $inputs samples exits 1 (the one corrupt sample; got $rc)" test "$rc" = 1
check "it names the corrupt sample" grep -q 'corrupt-truncated\.jpg' "$CACHE/run.log"
check "it made $((inputs - 1)) thumbnails (made $outputs)" test "$outputs" = "$((inputs - 1))"

cp "$SRC/examples/libpool/squares.c" "$ROOT/tmp/squares.c"
squares=$(as_user sh -c 'cd /tmp && gcc -std=c11 -Wall -Wextra -Werror -o squares squares.c \
	$(pkg-config --cflags --libs imgpool-pool) && ./squares' 2>&1 || true)
check "squares.c builds with pkg-config alone and runs on the shared library" \
	sh -c 'printf "%s\n" "$1" | grep -qx "9 squared is 81" &&
	       printf "%s\n" "$1" | grep -q "^7 failed after 2 attempts: .*SIGSEGV"' _ "$squares"
check "squares is linked to $SONAME" \
	sh -c "chroot '$ROOT' ldd /tmp/squares | grep -Eq '^[[:space:]]*libimgpool-pool\.so\.$POOL_MAJOR => /(usr/)?lib/'"

# ---- 4. purge ---------------------------------------------------------------------
stage "apt-get purge ${PACKAGES[*]}"
owned=$(in_root dpkg -L "${PACKAGES[@]}" | sort -u)
check "apt-get purge removes them" apt_in_root purge -y "${PACKAGES[@]}"
left=""
while IFS= read -r f; do
	# Folders such as /usr/share/doc are shared; a file or link of ours is not.
	if [ -n "$f" ] && { [ -L "$ROOT$f" ] || { [ -e "$ROOT$f" ] && [ ! -d "$ROOT$f" ]; }; }; then
		left="$left $f"
	fi
done <<<"$owned"
check "no file of the packages is left${left:+:$left}" test -z "$left"
named=$(cd "$ROOT" && find . -xdev \( -path ./tmp -o -path ./proc \) -prune -o -name '*imgpool*' -print)
check "nothing named *imgpool* is left outside /tmp${named:+: $named}" test -z "$named"
for p in "${PACKAGES[@]}"; do
	check "dpkg has no record of $p" \
		sh -c "! chroot '$ROOT' dpkg-query -W '$p' >/dev/null 2>&1"
done
check "the loader no longer lists libimgpool-pool" \
	sh -c "! chroot '$ROOT' ldconfig -p | grep -q libimgpool-pool"

# ---- 5. from source, with the runtime packages alone ---------------------------
# The same root, now without our packages: the source tree copied in, `make demo`
# and `make install` as a newcomer runs them (as root, so the Makefile installs
# the Debian packages it needs). They must build and run with the runtime -dev
# packages alone (-DBUILD_TESTING=OFF): no test tool may be installed on the way.
stage "from source: make demo and make install PREFIX=/usr/local"
rm -rf "$ROOT/src"
mkdir -p "$ROOT/src"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# The files of the repository (and new ones not yet committed), not build folders.
	(cd "$SRC" && git ls-files -z -co --exclude-standard) |
		(cd "$SRC" && tar --null -T - -cf -) | tar -C "$ROOT/src" -xf -
else
	tar -C "$SRC" --exclude='./build*' -cf - . | tar -C "$ROOT/src" -xf -
fi
check "make installs" apt_in_root install -y --no-install-recommends make
if in_root sh -c 'cd /src && make demo && make install PREFIX=/usr/local' >"$CACHE/source.log" 2>&1; then
	pass "make demo and make install PREFIX=/usr/local from source"
else
	tail -n 30 "$CACHE/source.log" >&2
	fail "make demo and make install PREFIX=/usr/local from source (log: $CACHE/source.log)"
fi
check "the build left the tests out (BUILD_TESTING=OFF)" \
	grep -q '^BUILD_TESTING:BOOL=OFF$' "$ROOT/src/build/CMakeCache.txt"
for p in libcmocka-dev valgrind clang; do
	check "$p was not installed for it" \
		sh -c "! chroot '$ROOT' dpkg-query -W -f='\${Status}' '$p' 2>/dev/null | grep -q 'ok installed'"
done
version_line=$(as_user /usr/local/bin/imgpool -V 2>&1 | head -n 1 || true)
check "/usr/local/bin/imgpool -V says 'imgpool $VERSION' (got '$version_line')" \
	test "$version_line" = "imgpool $VERSION"

stage "done"
echo "test-install took $((SECONDS - T0)) s"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
