# SPDX-License-Identifier: MIT
# The libpool tutorial (examples/pool/README.md): each example is built with the pool
# and run by CTest, so `make test` proves they work. Included from the top
# CMakeLists.txt.
set(POOL_EXAMPLES squares apply_callback imap_progress initializer errors speedup futures)
foreach(ex ${POOL_EXAMPLES})
  add_executable(example_${ex} ${CMAKE_CURRENT_LIST_DIR}/${ex}.c)
  target_link_libraries(example_${ex} pool)
  add_test(NAME example-${ex} COMMAND example_${ex})
  set_tests_properties(example-${ex} PROPERTIES TIMEOUT 120 LABELS "pool;examples")
endforeach()
