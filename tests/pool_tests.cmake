# SPDX-License-Identifier: MIT
# The pool's tests. Included from the top CMakeLists.txt.
#
#   pool, pool-churn, pool-contract   cmocka programs (ASan+UBSan in a SANITIZE build)
#   pool*-valgrind                    the same under valgrind
#   pool-tsan                         the thread-safe calls (stats, pids, interrupt)
#                                     under ThreadSanitizer, with forks
#   pool-header                       pool.h declares exactly the library's functions

add_library(pool_testlib STATIC tests/pool_testlib.c)
target_link_libraries(pool_testlib PUBLIC pool PkgConfig::CMOCKA)
target_include_directories(pool_testlib PUBLIC tests)

# Workers are forks that leave through _exit, so their copies of the parent's heap are
# not leaks (--child-silent-after-fork). valgrind has no pidfd_open, so this also runs
# the pool's fallback path for noticing a worker's end.
find_program(VALGRIND valgrind)

foreach(t pool pool_churn pool_contract pool_edges)
  string(REPLACE "_" "-" name ${t})
  add_executable(test_${t} tests/test_${t}.c)
  target_link_libraries(test_${t} pool_testlib)
  add_test(NAME ${name} COMMAND test_${t})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS pool)
  if(VALGRIND AND NOT SANITIZE)
    add_test(NAME ${name}-valgrind COMMAND ${VALGRIND} -q --leak-check=full
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99
      --child-silent-after-fork=yes $<TARGET_FILE:test_${t}>)
    set_tests_properties(${name}-valgrind PROPERTIES TIMEOUT 600 LABELS "pool;valgrind"
      ENVIRONMENT "POOL_CHURN_CYCLES=5;POOL_CHURN_TASKS=400")
  endif()
endforeach()

# ThreadSanitizer cannot share a build with ASan, so this one program is built with
# its own copy of the pool's sources. TSan reports a forked child's inherited threads
# as leaked when it exits: not a finding here (the worker never touches them).
if(NOT SANITIZE AND NOT FUZZ)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=thread)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=thread)
  check_c_source_compiles("int main(void) { return 0; }" POOL_HAVE_TSAN)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(POOL_HAVE_TSAN)
    get_target_property(pool_sources pool SOURCES)
    add_executable(test_pool_tsan tests/test_pool_tsan.c ${pool_sources})
    target_include_directories(test_pool_tsan PRIVATE pool)
    target_compile_options(test_pool_tsan PRIVATE -fsanitize=thread -O1 -g)
    target_link_options(test_pool_tsan PRIVATE -fsanitize=thread)
    target_link_libraries(test_pool_tsan Threads::Threads)
    add_test(NAME pool-tsan COMMAND test_pool_tsan)
    set_tests_properties(pool-tsan PROPERTIES TIMEOUT 300 LABELS pool
      ENVIRONMENT "TSAN_OPTIONS=report_thread_leaks=0:halt_on_error=1:exitcode=66")
  endif()
endif()

find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME pool-header COMMAND ${Python3_EXECUTABLE}
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/check_pool_header.py
    ${CMAKE_CURRENT_SOURCE_DIR}/pool/pool.h $<TARGET_FILE:pool>)
  set_tests_properties(pool-header PROPERTIES TIMEOUT 60 LABELS pool)
endif()
