# SPDX-License-Identifier: MIT
# tests/property.cmake — the output-safety property test (test_output_property.py)
# as a CTest entry. Included from app/app.cmake, next to the cli test.
#
# PROPERTY_SEQUENCES random sequences: 50 by default (about two minutes on two
# cores), 25 in a sanitizer build (about a minute: imgpool's start-up dominates,
# which ASan slows little, but make test-asan runs everything a second time).
# PROPERTY_ARGS adds arguments (e.g. "--without;shard" leaves out a feature whose
# known bug is not fixed yet). IMGPOOL_PROPERTY_SEED in the environment replays a
# failing CTest run; `make soak` runs 1000 sequences outside CTest.
# (Plain variables unless given with -D, so that the default follows SANITIZE.)
if(NOT DEFINED PROPERTY_SEQUENCES)
  if(SANITIZE)
    set(PROPERTY_SEQUENCES 25)
  else()
    set(PROPERTY_SEQUENCES 50)
  endif()
endif()
add_test(NAME output-property
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_output_property.py
    $<TARGET_FILE:imgpool> --sequences ${PROPERTY_SEQUENCES} ${PROPERTY_ARGS})
set_tests_properties(output-property PROPERTIES TIMEOUT 1200 LABELS app)
