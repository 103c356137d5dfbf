# tests/property.cmake — the output-safety property test (test_output_property.py)
# as a CTest entry. Included from app/app.cmake, next to the cli test.
#
# PROPERTY_SEQUENCES random sequences (50 by default: about two minutes on two
# cores); a sanitizer build runs fewer, each run being several times slower there.
# IMGPOOL_PROPERTY_SEED in the environment replays a failing CTest run; `make soak`
# runs 1000 sequences outside CTest.
if(SANITIZE)
  set(PROPERTY_SEQUENCES_DEFAULT 15)
else()
  set(PROPERTY_SEQUENCES_DEFAULT 50)
endif()
set(PROPERTY_SEQUENCES ${PROPERTY_SEQUENCES_DEFAULT} CACHE STRING
  "random sequences the output property test runs")
add_test(NAME output-property
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_output_property.py
    $<TARGET_FILE:imgpool> --sequences ${PROPERTY_SEQUENCES})
set_tests_properties(output-property PROPERTIES TIMEOUT 1200 LABELS app)
