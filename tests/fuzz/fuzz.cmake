# SPDX-License-Identifier: MIT
# tests/fuzz/fuzz.cmake — libFuzzer harnesses for every parser of imgpool.
#
# Included from the top CMakeLists.txt when FUZZ=ON, in a build dir configured
# with clang (CC=clang), after app/app.cmake. Defines:
#   fuzz_<name>              one libFuzzer executable per harness, in <build>/fuzz/
#   fuzz-harnesses (target)  all of them, and nothing else of the project
#   fuzz-run (target)        each harness for FUZZ_SECONDS (default 30) from its seeds
#   fuzz-<name> (ctest)      replays tests/fuzz/regress/<name>/ and the seeds, once each
#   fuzz-<name>-smoke (ctest) a FUZZ_SMOKE_SECONDS (default 10) fuzzing run
#
# The project's sources are compiled a second time here, instrumented with
# -fsanitize=fuzzer-no-link,address,undefined, into one static library: the
# regular targets keep their flags, and each harness links only the objects it
# needs. A harness is tests/fuzz/fuzz_<name>.c; its seeds are in corpus/<name>/,
# the inputs that once crashed it in regress/<name>/ (kept for ever).

if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FUZZ=ON needs clang for libFuzzer: configure a fresh build "
                      "dir with CC=clang")
endif()

set(FUZZ_SECONDS 30 CACHE STRING "Seconds each harness runs in the fuzz-run target")
set(FUZZ_SMOKE_SECONDS 10 CACHE STRING "Seconds of each fuzz-<name>-smoke test")
set(FUZZ_HARNESSES wire sizes template cmdline json task jpeg jpegscan png)
set(FUZZ_SRC ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(FUZZ_TOP ${FUZZ_SRC}/../.. ABSOLUTE)
set(FUZZ_BIN ${CMAKE_BINARY_DIR}/fuzz)
set(FUZZ_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -g)

# Libraries the app's objects need: the very list imgpool_app links (less the
# uninstrumented pool library), or, without app.cmake, the ones it used to need.
find_package(Threads REQUIRED)
if(TARGET imgpool_app)
  get_target_property(FUZZ_LIBS imgpool_app LINK_LIBRARIES)
  list(REMOVE_ITEM FUZZ_LIBS pool)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(FUZZ_DEPS REQUIRED IMPORTED_TARGET vips libjpeg libpng libxxhash sqlite3 libdeflate)
  set(FUZZ_LIBS PkgConfig::FUZZ_DEPS Threads::Threads m)
endif()

# The sources: the same lists the regular targets build from, when they exist.
if(TARGET pool)
  get_target_property(FUZZ_POOL_SOURCES pool SOURCES)
else()
  file(GLOB FUZZ_POOL_SOURCES CONFIGURE_DEPENDS ${FUZZ_TOP}/pool/*.c)
endif()
if(DEFINED APP_SOURCES)
  set(FUZZ_APP_SOURCES ${APP_SOURCES})
else()
  file(GLOB FUZZ_APP_SOURCES CONFIGURE_DEPENDS ${FUZZ_TOP}/app/*.c)
  list(FILTER FUZZ_APP_SOURCES EXCLUDE REGEX "/main\\.c$")
endif()
set(FUZZ_PROJECT_SOURCES)
foreach(f ${FUZZ_POOL_SOURCES} ${FUZZ_APP_SOURCES})
  get_filename_component(f ${f} ABSOLUTE BASE_DIR ${FUZZ_TOP})
  list(APPEND FUZZ_PROJECT_SOURCES ${f})
endforeach()

add_library(fuzz_project STATIC ${FUZZ_PROJECT_SOURCES})
target_include_directories(fuzz_project PUBLIC ${FUZZ_TOP}/pool ${FUZZ_TOP}/app)
target_compile_definitions(fuzz_project PUBLIC IMGPOOL_VERSION="${PROJECT_VERSION}"
  _GNU_SOURCE)
target_compile_options(fuzz_project PUBLIC -fsanitize=fuzzer-no-link ${FUZZ_SANITIZE})
target_link_libraries(fuzz_project PUBLIC ${FUZZ_LIBS})

# One executable per harness; libFuzzer supplies main().
foreach(name ${FUZZ_HARNESSES})
  add_executable(fuzz_${name} ${FUZZ_SRC}/fuzz_${name}.c)
  target_link_libraries(fuzz_${name} fuzz_project)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer ${FUZZ_SANITIZE})
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${FUZZ_BIN})
  list(APPEND FUZZ_TARGETS fuzz_${name})
endforeach()

# Just the harnesses (what `ctest -L fuzz` needs), not the rest of the project.
add_custom_target(fuzz-harnesses DEPENDS ${FUZZ_TARGETS})

# `cmake --build . --target fuzz-run` (or `make fuzz`): every harness in turn; a
# crash is reported with its input and fails the target after all have run.
add_custom_target(fuzz-run
  COMMAND sh ${FUZZ_SRC}/run-fuzzers.sh run ${FUZZ_BIN} ${FUZZ_SECONDS} ${FUZZ_HARNESSES}
  DEPENDS ${FUZZ_TARGETS}
  USES_TERMINAL
  COMMENT "Fuzzing each of ${FUZZ_HARNESSES} for ${FUZZ_SECONDS} s")

# CTest: the kept inputs once (a fixed crash stays fixed), then a short run.
foreach(name ${FUZZ_HARNESSES})
  add_test(NAME fuzz-${name}
    COMMAND sh ${FUZZ_SRC}/run-fuzzers.sh replay ${FUZZ_BIN} ${name})
  add_test(NAME fuzz-${name}-smoke
    COMMAND sh ${FUZZ_SRC}/run-fuzzers.sh run ${FUZZ_BIN} ${FUZZ_SMOKE_SECONDS} ${name})
  set_tests_properties(fuzz-${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
  set_tests_properties(fuzz-${name}-smoke PROPERTIES TIMEOUT 300 LABELS fuzz
    DEPENDS fuzz-${name})
endforeach()
