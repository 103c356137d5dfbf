#!/bin/sh
# SPDX-License-Identifier: MIT
# run-fuzzers.sh — run or replay the libFuzzer harnesses built by fuzz.cmake.
#
#   run-fuzzers.sh run BIN_DIR SECONDS NAME...   fuzz each NAME for SECONDS
#   run-fuzzers.sh replay BIN_DIR NAME...        run each kept input once
#
# run: the seeds (tests/fuzz/corpus/NAME) and the kept crashes (regress/NAME)
# start a working corpus in BIN_DIR/corpus/NAME, which grows there (never in the
# source tree). A crash leaves its input in BIN_DIR/artifacts/NAME/; copy it to
# tests/fuzz/regress/NAME/ once understood, so `ctest -R fuzz-NAME` replays it.
# Every harness runs even when one fails; the exit status is 1 if any did.
# One line per harness: execs, time, corpus size, and OK or the crash input.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: run-fuzzers.sh run BIN_DIR SECONDS NAME... | replay BIN_DIR NAME...}
bin=${2:?missing BIN_DIR}
shift 2
if [ "$mode" = run ]; then
	seconds=${1:?missing SECONDS}
	shift
fi

# The longest input worth trying: wire needs room for a packet over 64 KiB.
max_len() {
	case $1 in
	wire) echo 140000 ;;
	cmdline) echo 1024 ;;
	jpeg | jpegscan | png) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

# Existing input folders of a harness: its seeds, then its kept crashes.
inputs_of() {
	for d in "$HERE/corpus/$1" "$HERE/regress/$1"; do
		[ -d "$d" ] && printf '%s\n' "$d"
	done
}

# Fuzz one harness for $seconds; print its line; return its status.
fuzz_one() {
	name=$1
	work=$bin/corpus/$name
	art=$bin/artifacts/$name
	log=$bin/logs/fuzz_$name.log
	mkdir -p "$work" "$art" "$bin/logs"
	dict=
	[ -f "$HERE/$name.dict" ] && dict=-dict=$HERE/$name.dict
	# shellcheck disable=SC2046 # folder list split on newlines on purpose
	"$bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$name")" -print_final_stats=1 \
		-artifact_prefix="$art/" ${dict:+"$dict"} "$work" $(inputs_of "$name") >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	corpus=$(find "$work" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz_$name: OK, ${execs:-?} execs in $seconds s, corpus $corpus"
		return 0
	fi
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} execs; input: ${crash:-none}; log: $log"
	grep -E 'ERROR: |invariant broken|runtime error|SUMMARY' "$log" | head -n 5 | sed 's/^/  /'
	return 1
}

# Run every kept input of one harness once (files mode: no fuzzing).
replay_one() {
	name=$1
	files=$(for d in $(inputs_of "$name"); do find "$d" -type f; done)
	if [ -z "$files" ]; then
		echo "fuzz_$name: no kept inputs"
		return 0
	fi
	n=$(printf '%s\n' "$files" | wc -l)
	# shellcheck disable=SC2086 # one argument per file; names have no spaces
	if out=$("$bin/fuzz_$name" -timeout=10 -rss_limit_mb=2048 $files 2>&1); then
		echo "fuzz_$name: $n kept inputs replayed, OK"
		return 0
	fi
	echo "fuzz_$name: FAILED replaying kept inputs"
	printf '%s\n' "$out" | grep -E 'Running:|ERROR: |invariant broken|runtime error|SUMMARY' |
		tail -n 8 | sed 's/^/  /'
	return 1
}

status=0
for name in "$@"; do
	case $mode in
	run) fuzz_one "$name" || status=1 ;;
	replay) replay_one "$name" || status=1 ;;
	*) echo "run-fuzzers.sh: unknown mode '$mode'" >&2; exit 2 ;;
	esac
done
exit $status
