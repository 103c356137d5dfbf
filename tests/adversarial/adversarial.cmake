# SPDX-License-Identifier: MIT
# tests/adversarial/adversarial.cmake — the hostile-input suite as CTest entries.
#
# Included from the top CMakeLists.txt after app/app.cmake (it needs the imgpool
# target). Two entries, so the long one can be left out (ctest -E huge):
#   adversarial            the hostile set, path escapes, disk full (tmpfs as root,
#                          RLIMIT_FSIZE for anyone): about 15 s
#   adversarial-huge-tree  IMGPOOL_HUGE files (default 20000; IMGPOOL_HUGE=100000
#                          ctest -R huge for the issue's bench) in nested folders:
#                          about 30 s on 2 cores
# Under SANITIZE the memory bounds are not checked (ASan's shadow and quarantine
# are not the program's memory); every outcome still is.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET imgpool)
  set(ADVERSARIAL_ENV "IMGPOOL_SANITIZED=$<IF:$<BOOL:${SANITIZE}>,1,0>")
  add_test(NAME adversarial
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_adversarial.py
      $<TARGET_FILE:imgpool> test_hostile_inputs test_path_safety test_disk_full_tmpfs
      test_disk_full_scratch test_disk_nearly_full_damaged_photo
      test_disk_full_fsize)
  set_tests_properties(adversarial PROPERTIES TIMEOUT 600 LABELS "app;adversarial"
    ENVIRONMENT "${ADVERSARIAL_ENV}")
  add_test(NAME adversarial-huge-tree
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_adversarial.py
      $<TARGET_FILE:imgpool> test_huge_tree)
  # Alone on the machine: its timings are part of the report.
  set_tests_properties(adversarial-huge-tree PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE
    LABELS "app;adversarial" ENVIRONMENT "${ADVERSARIAL_ENV}")
endif()
