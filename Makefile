# imgpool — the two commands of the README: `make demo` and `make test`.
# Both install the Debian packages that are missing (as root, or with sudo),
# or print the exact apt-get line to run.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
SOAK_SEQUENCES ?= 1000
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

# What the build, the tests and the demo use, all from Debian.
PACKAGES = gcc make cmake pkg-config python3 libvips-dev libvips-tools \
           libjpeg62-turbo-dev libpng-dev libsqlite3-dev libxxhash-dev libcmocka-dev \
           valgrind util-linux clang libclang-rt-14-dev

.PHONY: all deps build demo test test-asan test-fuzz fuzz soak test-cluster clean

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "imgpool: installing missing Debian packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	elif command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else \
	  echo "imgpool: please run: apt-get install$$missing"; exit 1; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

# Thumbnail the generated sample images: per-file lines, one error line (the
# deliberately corrupt sample) and the summary. Exit 1 from imgpool is expected
# there, because of that one file.
demo: build
	samples/make-samples.sh $(BUILD)/samples
	@echo
	@echo '$$ imgpool -s 256 --force -o $(BUILD)/samples-thumbs $(BUILD)/samples'
	@$(BUILD)/imgpool -s 256 --force -o $(BUILD)/samples-thumbs $(BUILD)/samples; \
	rc=$$?; echo; echo "imgpool exited with $$rc (1: some files failed, as the corrupt sample must)"; \
	echo "thumbnails are in $(BUILD)/samples-thumbs"; [ $$rc -le 1 ]

# Every test: unit tests, end-to-end tests, the pool under valgrind, then the
# module and end-to-end tests again under ASan + UBSan (the command too).
test: build
	cd $(BUILD) && ctest --output-on-failure
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure

# The fuzzers (libFuzzer, clang, ASan+UBSan): replay every kept crash input and
# seed, then fuzz each parser for FUZZ_SECONDS (the wire frames, the size spec, the
# name template, the command line, JSON strings, task bytes).
test-fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DFUZZ=ON -DFUZZ_SMOKE_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz-harnesses
	cd $(BUILD_FUZZ) && ctest --output-on-failure -j2 -R '^fuzz-'

# Longer fuzzing by hand: make fuzz FUZZ_SECONDS=600
fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DFUZZ=ON -DFUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz-run

# The output-safety property test at length (make test runs 50 sequences): random
# trees and steps, kills and SIGTERMs, invariants after every step. About 2 s a
# sequence on two cores. SOAK_SEED=N replays from seed N.
soak: build
	python3 tests/test_output_property.py $(BUILD)/imgpool --sequences $(SOAK_SEQUENCES) \
	  $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# The scale-out test: a real single-node Slurm on loopback (Debian's slurmctld,
# slurmd, slurm-client and munge, installed when run as root; a SKIP line, saying
# why, where they cannot be had) runs the samples as a 4-task job array, then
# examples/slurm/thumbs.sbatch, and checks the shards against a one-machine run.
test-cluster: build
	samples/make-samples.sh $(BUILD)/samples
	tests/cluster/slurm_test.sh $(BUILD)/imgpool $(BUILD)/samples

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
