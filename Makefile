# SPDX-License-Identifier: MIT
# imgpool — the commands of the README: `make demo`, `make test`, `make install`.
# Each installs the Debian packages it needs that are missing (as root, or with
# sudo), or prints the exact apt-get line to run. NO_APT=1 never installs (a
# packager's or CI's build that must not change the system): it names what is
# missing and stops.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_DEB  ?= build-deb
FUZZ_SECONDS ?= 15
SOAK_SEQUENCES ?= 1000
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
NO_APT     ?=

# What building and running need (make, make demo, make install), from Debian.
# gzip (for the man page) is essential in Debian, so always there.
PACKAGES = gcc make cmake pkg-config libvips-dev libvips-tools \
           libjpeg62-turbo-dev libpng-dev zlib1g-dev libsqlite3-dev libxxhash-dev libdeflate-dev
# What the tests add (make test).
TEST_PACKAGES = python3 python3-pil libcmocka-dev valgrind util-linux clang libclang-rt-14-dev strace liblcms2-dev
# What making the Debian packages adds (make deb): dpkg-shlibdeps, and file,
# with which CPack finds the ELF files to give it.
DEB_PACKAGES = dpkg-dev file

.PHONY: all deps deps-test deps-deb build build-tests install uninstall deb demo test test-asan \
        test-fuzz fuzz soak test-cluster test-install clean

all: build

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing, and
# what they depend on, not what they recommend (documentation, optional tools):
# only what the build, the run or the tests use, as Debian's builders do.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ -n "$(NO_APT)" ]; then \
	  echo "imgpool: missing Debian packages (NO_APT is set, so not installing them): apt-get install$$missing"; exit 1; \
	fi; \
	echo "imgpool: installing missing Debian packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	elif command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "imgpool: please run: apt-get install$$missing"; exit 1; \
	fi
endef

deps:
	$(call apt_install,$(PACKAGES))
deps-test:
	$(call apt_install,$(PACKAGES) $(TEST_PACKAGES))
deps-deb:
	$(call apt_install,$(PACKAGES) $(DEB_PACKAGES))

# The command and the pool library, without the tests (CTest's BUILD_TESTING).
build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
	cmake --build $(BUILD) -j$(JOBS)

# The same build folder with the tests.
build-tests: deps-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
	cmake --build $(BUILD) -j$(JOBS)

# make install PREFIX=~/.local (default /usr/local); DESTDIR=... stages it. As
# root into the system, ldconfig then lets the loader find the new library. A
# relative PREFIX is made absolute (the pkg-config file holds it).
install: build
	cmake --install $(BUILD) --prefix "$$(realpath -ms -- '$(PREFIX)')"
	cp -- $(BUILD)/install_manifest.txt $(MANIFEST)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Take away what `make install` put in place: the files CMake listed in
# $(BUILD)/install_manifest.txt as it installed them (the last install from this
# build folder, under the same DESTDIR: another is refused), each only while it
# is a file or a link.
# Folders stay: /usr/local/bin and the like are shared with everything else;
# only imgpool's own (include/imgpool, share/doc/imgpool and its docs/) go when
# that leaves them empty.
# make install keeps its own copy of CMake's list: cpack (which installs too, into
# its staging folder) rewrites install_manifest.txt. CMake's list is read when it
# is newer (a `cmake --install` since) and not cpack's.
MANIFEST = $(BUILD)/imgpool_installed.txt
# The DESTDIR of that install (cmake/install.cmake writes it): another one would
# name files this install did not put there.
INSTALLED_DESTDIR = $(BUILD)/install_destdir.txt
uninstall:
	@m=$(BUILD)/install_manifest.txt; if [ -f $$m ] && ! grep -q '/_CPack_Packages/' $$m && \
	  { [ ! -f "$(MANIFEST)" ] || [ $$m -nt "$(MANIFEST)" ]; }; then cp -- $$m "$(MANIFEST)"; fi
	@test -f "$(MANIFEST)" || { echo "make uninstall: nothing to take back: no install from $(BUILD) is on record ($(MANIFEST) is missing; make install writes it)" >&2; exit 1; }
	@if [ -f "$(INSTALLED_DESTDIR)" ] && [ "$$(cat -- "$(INSTALLED_DESTDIR)")" != "$(DESTDIR)" ]; then \
	  echo "make uninstall: the last install from $(BUILD) went under DESTDIR='$$(cat -- "$(INSTALLED_DESTDIR)")', not DESTDIR='$(DESTDIR)': give that one; nothing removed" >&2; exit 1; fi
	@failed=0; while IFS= read -r f || [ -n "$$f" ]; do p="$(DESTDIR)$$f"; \
	  if [ -f "$$p" ] || [ -L "$$p" ]; then \
	    if rm -f -- "$$p" && [ ! -e "$$p" ] && [ ! -L "$$p" ]; then echo "removed $$p"; else failed=1; fi; \
	  fi; \
	done < "$(MANIFEST)"; \
	if [ $$failed != 0 ]; then echo "make uninstall: some files could not be removed; $(MANIFEST) is kept" >&2; exit 1; fi
	@sed -n 's|/[^/]*$$||p' "$(MANIFEST)" | grep -E '/imgpool(/docs)?$$' | sort -ru | \
	  while IFS= read -r d; do rmdir -- "$(DESTDIR)$$d" 2>/dev/null && echo "removed $(DESTDIR)$$d/" || true; done
	@rm -f -- "$(MANIFEST)" $(BUILD)/install_manifest.txt "$(INSTALLED_DESTDIR)"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# The Debian packages imgpool, libimgpool-pool1 and libimgpool-pool-dev, in
# $(BUILD_DEB)/debs/ (cmake/package.cmake): a build of their own with /usr as
# the prefix, so the library goes where Debian puts libraries.
# Built with Debian's flags (dpkg-buildflags, hardening=+all: fortified calls, full
# RELRO and bind-now, and the build path mapped away so that two builds in two
# folders give the same files), as a Debian package's own rules would.
DEB_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
deb: deps-deb
	cmake -S . -B $(BUILD_DEB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=/usr \
	  -DCMAKE_C_FLAGS="$$($(DEB_FLAGS) CFLAGS) $$($(DEB_FLAGS) CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$($(DEB_FLAGS) LDFLAGS)" \
	  -DCMAKE_SHARED_LINKER_FLAGS="$$($(DEB_FLAGS) LDFLAGS)"
	cmake --build $(BUILD_DEB) -j$(JOBS)
	rm -rf $(BUILD_DEB)/debs
	cd $(BUILD_DEB) && cpack -G DEB

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
# module and end-to-end tests again under ASan + UBSan (the command too). Two tests
# at a time (JOBS): most are one process waiting on another, and none asserts a
# time; the one that reports timings (adversarial-huge-tree) runs alone.
test: build-tests
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure
	$(MAKE) test-asan
	$(MAKE) test-fuzz

# Under the sanitizers: every unit test and the end-to-end tests that drive the
# command's code paths (cli, output safety, 10 property sequences, the hostile set).
# The pixel comparisons (quality, golden, public-suites' pictures: IMGPOOL_PIXELS=0)
# and the 20 000-file tree measure nothing a sanitizer adds to and take minutes
# there: they run in the plain build above.
test-asan: deps-test
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON -DPROPERTY_SEQUENCES=10
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 IMGPOOL_PIXELS=0 ctest -j$(JOBS) --output-on-failure \
	  -E '^(quality|golden|adversarial-huge-tree)$$'

# The fuzzers (libFuzzer, clang, ASan+UBSan): replay every kept crash input and
# seed, then fuzz each parser for FUZZ_SECONDS (the wire frames, the size spec, the
# name template, the command line, JSON strings, task bytes).
test-fuzz: deps-test
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DFUZZ=ON -DFUZZ_SMOKE_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz-harnesses
	cd $(BUILD_FUZZ) && ctest --output-on-failure -j2 -R '^fuzz-'

# Longer fuzzing by hand: make fuzz FUZZ_SECONDS=600
fuzz: deps-test
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

# The packages as a user gets them: `make deb`, then, in a fresh minimal Debian 12
# (debootstrap, as root; a SKIP line saying why where it cannot be made),
# apt-get install ./*.deb, imgpool -V, man imgpool, a run on the samples, a C
# program built against the pool library with pkg-config, apt-get purge leaving
# nothing. Run by CI after test-cluster; about 2-3 minutes, less when
# $(BUILD_DEB)/test-install/ holds the cached Debian root of an earlier run.
test-install: deb
	samples/make-samples.sh $(BUILD)/samples
	tests/install/debian_test.sh $(BUILD_DEB)/debs $(BUILD)/samples $(BUILD_DEB)/test-install

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_DEB)
