# SPDX-License-Identifier: MIT
# The imgpool command and its tests. Included from the top CMakeLists.txt.
pkg_check_modules(VIPS REQUIRED IMPORTED_TARGET vips)
# vipsmodules.c opens libvips' modules itself (g_module_open), as vips_init() does.
pkg_check_modules(GMODULE REQUIRED IMPORTED_TARGET gmodule-2.0)
pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)

# Every module of the command, listed: a file renamed or missing fails the build
# instead of silently dropping out.
set(APP_MODULES settings failure bug clock io filehash outdir outdir_folders outdir_inherit outdir_private outdir_words lock orphans thumb vipsmodules vipserr geometry vipsload resize fastpath save metadata colour exif fastjpeg
  jpegscan fastpng pnginflate pngcheck shrink pngmaster reduce lines discover discover_item discover_list discover_folder globs paths inside template arena claims fileids plan plan_owner machine publish publish_recover prune
  inflight thread outsync lookahead costguess drive count options options_conflict optvalues help outfolder report report_text sidefile sidefile_files sinks stop monitor task run run_setup run_checks run_prune run_dry results trace shard journal journal_open journal_folders journal_schema journal_fingerprint status bench
  bench_args bench_baseline bench_report bench_plot bench_files bench_signals)
set(APP_SOURCES)
foreach(m ${APP_MODULES})
  list(APPEND APP_SOURCES app/${m}.c)
endforeach()
add_library(imgpool_app STATIC ${APP_SOURCES})
# The resampler's inner loops are written for the vectoriser, which -O2 (gcc 12)
# leaves off: scalar, they made the worker slower than libvips' own orc code.
set_source_files_properties(app/reduce.c app/shrink.c PROPERTIES COMPILE_OPTIONS "-O3")
target_include_directories(imgpool_app PUBLIC app)
# Where libvips loads its dynamic modules from (vipsmodules.c):
# LIBDIR/vips-modules-MAJOR.MINOR, as libvips 8.13 and later build it.
pkg_get_variable(VIPS_LIBDIR vips libdir)
string(REGEX MATCH "^[0-9]+\\.[0-9]+" VIPS_MAJOR_MINOR "${VIPS_VERSION}")
if(VIPS_LIBDIR AND VIPS_MAJOR_MINOR)
  set_property(SOURCE app/vipsmodules.c APPEND PROPERTY COMPILE_DEFINITIONS
    IMGPOOL_VIPS_MODULE_DIR="${VIPS_LIBDIR}/vips-modules-${VIPS_MAJOR_MINOR}")
endif()
target_compile_definitions(imgpool_app PUBLIC IMGPOOL_VERSION="${PROJECT_VERSION}")
target_link_libraries(imgpool_app PUBLIC pool PkgConfig::VIPS PkgConfig::GMODULE PkgConfig::JPEG PkgConfig::PNG PkgConfig::ZLIB
  PkgConfig::XXHASH PkgConfig::SQLITE PkgConfig::DEFLATE Threads::Threads m)

add_executable(imgpool app/main.c)
target_link_libraries(imgpool imgpool_app)

# The rest is tests (cmocka, Python), left out by -DBUILD_TESTING=OFF.
if(NOT BUILD_TESTING)
  return()
endif()

# Where tests find the real photos; they skip their cases when it is absent.
get_filename_component(IMGPOOL_CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/../shared/corpus/photos ABSOLUTE)

# One cmocka test file per module that has one.
set(APP_UNIT_TESTS thumb exif colour reduce lines discover outdir jpegscan pngmaster options report journal lookahead costguess pnginflate pngcheck
  shard task monitor plan thread)
# test_colour builds a profile of its own with lcms2 (libvips-dev depends on it).
pkg_check_modules(LCMS2 REQUIRED IMPORTED_TARGET lcms2)
foreach(m ${APP_UNIT_TESTS})
  if(TRUE)
    add_executable(test_${m} tests/test_${m}.c)
    target_link_libraries(test_${m} imgpool_app PkgConfig::CMOCKA)
    add_test(NAME ${m} COMMAND test_${m})
    set_tests_properties(${m} PROPERTIES TIMEOUT 300 LABELS app
      ENVIRONMENT "IMGPOOL_CORPUS=${IMGPOOL_CORPUS};IMGPOOL_SRC=${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
endforeach()
target_link_libraries(test_colour PkgConfig::LCMS2)
# test_plan fails the planner's reads of inputs and of the journal at will
# (__wrap_filehash_path, __wrap_sqlite3_step).
target_link_options(test_plan PRIVATE -Wl,--wrap=filehash_path -Wl,--wrap=sqlite3_step)

# The resampler's other kernels against libvips too: the one this CPU picks is
# tested above; SSE2 and the portable loop run where AVX2 or x86 is missing.
foreach(kernel SSE2 PORTABLE)
  string(TOLOWER ${kernel} k)
  add_executable(test_reduce_${k} tests/test_reduce.c app/reduce.c)
  target_compile_definitions(test_reduce_${k} PRIVATE REDUCE_${kernel})
  target_link_libraries(test_reduce_${k} imgpool_app PkgConfig::CMOCKA)
  add_test(NAME reduce-${k} COMMAND test_reduce_${k})
  set_tests_properties(reduce-${k} PROPERTIES TIMEOUT 300 LABELS app)
endforeach()

# End to end: the built command on generated images and the corpus.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET imgpool)
  add_test(NAME cli COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cli.py
    $<TARGET_FILE:imgpool>)
  set_tests_properties(cli PROPERTIES TIMEOUT 900 LABELS app
    ENVIRONMENT "IMGPOOL_CORPUS=${IMGPOOL_CORPUS}")
  # The output folder's promise, one reproducer per way it was once broken.
  add_test(NAME output-safety COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_output_safety.py $<TARGET_FILE:imgpool>)
  set_tests_properties(output-safety PROPERTIES TIMEOUT 600 LABELS app)
  # The same promise from the kernel's side: every write of traced runs (strace).
  add_test(NAME writes-traced COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_writes_traced.py $<TARGET_FILE:imgpool>)
  set_tests_properties(writes-traced PROPERTIES TIMEOUT 600 LABELS app
    ENVIRONMENT "IMGPOOL_CORPUS=${IMGPOOL_CORPUS}")
  # Other decoders' own test images (libpng's PngSuite and crashers,
  # libjpeg-turbo's), from Debian's source tarballs; skipped offline.
  add_test(NAME public-suites COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_public_suites.py $<TARGET_FILE:imgpool>)
  set_tests_properties(public-suites PROPERTIES TIMEOUT 900 LABELS app
    ENVIRONMENT "IMGPOOL_SUITES_DIR=${CMAKE_BINARY_DIR}/public-suites")
  # The counting walk seen from a terminal: bar total, ETA and an exact "not
  # started" after Ctrl-C on 20 000 files; the total under --exclude and --shard
  # (12-25 s on 2 busy cores).
  add_test(NAME progress-pty COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_progress_pty.py $<TARGET_FILE:imgpool>)
  set_tests_properties(progress-pty PROPERTIES TIMEOUT 600 LABELS app)
  # The output controls, checked in the outputs' bytes with Pillow. The interpreter
  # found first may lack it (a pyenv one) where the system's has it (python3-pil):
  # take that one then; the test skips where neither has it.
  set(PILLOW_PYTHON ${Python3_EXECUTABLE})
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import PIL" RESULT_VARIABLE no_pillow
    OUTPUT_QUIET ERROR_QUIET)
  if(no_pillow AND EXISTS /usr/bin/python3)
    set(PILLOW_PYTHON /usr/bin/python3)
  endif()
  add_test(NAME output-controls COMMAND ${PILLOW_PYTHON}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_output_controls.py $<TARGET_FILE:imgpool>)
  set_tests_properties(output-controls PROPERTIES TIMEOUT 600 LABELS app)
  # The output-safety property test: random trees and steps, invariants after
  # each (about 2 s a sequence here; `make soak` runs 1000).
  include(${CMAKE_CURRENT_SOURCE_DIR}/tests/property.cmake)
  # Behaviour unchanged: the observable results on the samples and the corpus
  # against tests/golden/ (--update after a change meant to change them).
  add_test(NAME golden COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_golden.py $<TARGET_FILE:imgpool>)
  set_tests_properties(golden PROPERTIES TIMEOUT 600 LABELS app
    ENVIRONMENT "IMGPOOL_CORPUS=${IMGPOOL_CORPUS}")
  # Behaviour once wrong or unclear, one test each (the conventions issue).
  add_test(NAME behaviour COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_behaviour.py $<TARGET_FILE:imgpool>)
  set_tests_properties(behaviour PROPERTIES TIMEOUT 600 LABELS app)
  add_test(NAME bench COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_bench.py
    $<TARGET_FILE:imgpool>)
  set_tests_properties(bench PROPERTIES TIMEOUT 300 LABELS app)
  # The quality guard: thumbnails of the corpus as good as vipsthumbnail's.
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_quality.py)
    add_test(NAME quality COMMAND ${Python3_EXECUTABLE}
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_quality.py $<TARGET_FILE:imgpool>)
    set_tests_properties(quality PROPERTIES TIMEOUT 600 LABELS app
      ENVIRONMENT "IMGPOOL_CORPUS=${IMGPOOL_CORPUS}")
  endif()
endif()
