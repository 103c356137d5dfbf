# SPDX-License-Identifier: MIT
# cmake/install.cmake — what `cmake --install` (and `make install PREFIX=...`) puts
# where. Included from the top CMakeLists.txt after the targets.
#
# Three install components, which cmake/package.cmake turns into the three Debian
# packages (paths relative to the prefix; LIBDIR is lib, or lib/<multiarch> for /usr):
#   tool  bin/imgpool, share/man/man1/imgpool.1.gz,
#         share/doc/imgpool/{README.md,changelog.gz,copyright}
#   lib   LIBDIR/libimgpool-pool.so.MAJOR (MAJOR of pool.h, see below) and the
#         file it points to
#   dev   include/imgpool/pool.h, LIBDIR/libimgpool-pool.{so,a},
#         LIBDIR/pkgconfig/imgpool-pool.pc
#
# The pool library is installed as libimgpool-pool: "libpool" and a top-level
# pool.h are names other projects already use. A program includes
# <imgpool/pool.h> and links with `pkg-config --cflags --libs imgpool-pool`
# (examples/libpool/squares.c). The imgpool command links the archive, so the
# tool alone needs no library package and a later libimgpool-pool2 cannot break it.
#
# Two versions, each with one home:
# - imgpool's, project(VERSION) in CMakeLists.txt: `imgpool -V`, the report's
#   "version", the man page's header and the Debian packages' versions (all three
#   packages are built from the one source, and a library package carries its
#   source package's version).
# - the pool library's, POOL_VERSION_MAJOR/MINOR/PATCH in pool/pool.h, read from
#   there below: the shared object's file name (libimgpool-pool.so.1.7.5 for
#   1.7.5), its SONAME (libimgpool-pool.so.MAJOR, and so the library package's
#   name, libimgpool-pool<MAJOR>) and the Version of imgpool-pool.pc. The library
#   has its own because that is the number a program sees, POOL_VERSION when it
#   compiles and pool_version() when it runs, and pool.h's "ABI" promises
#   compatibility within one major version: `pkg-config --atleast-version`,
#   `#if POOL_VERSION >= ...` and the SONAME must all speak of that one number.
#   imgpool's version says nothing of the library's ABI.

include(GNUInstallDirs)
# Man pages and changelogs are installed gzipped, as Debian policy wants.
find_program(GZIP gzip REQUIRED)

# ---- the pool library: shared (with a SONAME) and static --------------------
# Its version, from pool.h (the header a program compiles against says the same).
# POOL_VERSION_MAJOR is the ABI: bump it in pool.h on any incompatible change, and
# the SONAME and the Debian package's name follow (package.cmake).
set(POOL_VERSION_PARTS)
foreach(part MAJOR MINOR PATCH)
  file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/pool/pool.h line
    REGEX "^#define[ \t]+POOL_VERSION_${part}[ \t]+[0-9]+[ \t]*$")
  list(LENGTH line n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "pool/pool.h: expected one line '#define POOL_VERSION_${part} <number>', "
      "found ${n}: the pool library's version (SONAME, .pc Version) is read from there")
  endif()
  string(REGEX REPLACE "^#define[ \t]+POOL_VERSION_${part}[ \t]+([0-9]+).*$" "\\1"
    POOL_VERSION_${part} "${line}")
  list(APPEND POOL_VERSION_PARTS ${POOL_VERSION_${part}})
endforeach()
list(JOIN POOL_VERSION_PARTS . POOL_LIB_VERSION)     # MAJOR.MINOR.PATCH
# A new version in pool.h configures again (the build would keep the old SONAME).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/pool/pool.h)
set(POOL_SOVERSION ${POOL_VERSION_MAJOR})
message(STATUS "libimgpool-pool ${POOL_LIB_VERSION} (SONAME libimgpool-pool.so.${POOL_SOVERSION})")

# The same sources as the `pool` archive the tool and tests link, compiled again
# as position-independent code (the archive is not; four small files).
get_target_property(POOL_SOURCES pool SOURCES)
add_library(pool_shared SHARED ${POOL_SOURCES})
target_link_libraries(pool_shared PRIVATE Threads::Threads)
set_target_properties(pool_shared PROPERTIES
  OUTPUT_NAME imgpool-pool
  VERSION ${POOL_LIB_VERSION}
  SOVERSION ${POOL_SOVERSION}
  LINK_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/pool/libimgpool-pool.map)
target_link_options(pool_shared PRIVATE
  -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/pool/libimgpool-pool.map)
# The archive keeps its target name `pool` inside the build; installed, it is
# libimgpool-pool.a beside the shared object.
set_target_properties(pool PROPERTIES OUTPUT_NAME imgpool-pool)

install(TARGETS pool_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS pool ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES pool/pool.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imgpool COMPONENT dev)

# pkg-config file. Its prefix is the one given at install time (cmake --install
# --prefix, cpack's /usr), not the one known at configure time, so the prefix line
# is written when installing, in front of the rest made here.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/imgpool-pool.pc.in ${CMAKE_BINARY_DIR}/imgpool-pool.pc.body @ONLY)
# A package cpack makes as an archive (cpack -G TGZ) is installed under a staging
# folder that is no prefix of anyone's: its .pc finds the prefix from where it
# lies (pkg-config's ${pcfiledir}), as unpacking it anywhere needs.
file(RELATIVE_PATH PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
install(CODE "
  file(READ \"${CMAKE_BINARY_DIR}/imgpool-pool.pc.body\" body)
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(prefix MATCHES \"/_CPack_Packages/\" AND NOT IS_ABSOLUTE \"${CMAKE_INSTALL_LIBDIR}\")
    set(prefix \"\\\${pcfiledir}/${PC_UP}\")
  endif()
  file(WRITE \"${CMAKE_BINARY_DIR}/imgpool-pool.pc\" \"prefix=\${prefix}\\n\${body}\")
  " COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/imgpool-pool.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

file(READ ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE IMGPOOL_LICENSE_TEXT)
file(WRITE ${CMAKE_BINARY_DIR}/copyright
  "imgpool\nCopyright: 2026 the imgpool authors\nLicense: MIT\n\n${IMGPOOL_LICENSE_TEXT}")

# ---- the imgpool command ------------------------------------------------------
if(TARGET imgpool)
  install(TARGETS imgpool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tool)

  # The man page gets the version into its header here (the source says just
  # "imgpool", so `man ./imgpool.1` reads the same) and is gzipped; man finds a
  # .gz under any prefix. gzip -n: no name or time inside, so the same source
  # makes the same bytes.
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/imgpool.1.gz
    COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_CURRENT_SOURCE_DIR}/imgpool.1
      -DOUT=${CMAKE_BINARY_DIR}/imgpool.1 -DVERSION=${PROJECT_VERSION}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/manpage.cmake
    COMMAND ${GZIP} -9nf ${CMAKE_BINARY_DIR}/imgpool.1
    DEPENDS imgpool.1 cmake/manpage.cmake
    COMMENT "Man page imgpool.1.gz (imgpool ${PROJECT_VERSION})")
  add_custom_target(manpage ALL DEPENDS ${CMAKE_BINARY_DIR}/imgpool.1.gz)
  install(FILES ${CMAKE_BINARY_DIR}/imgpool.1.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tool)

  # The licence and the changes as Debian names them, share/doc/<package>/
  # copyright and changelog.gz (package.cmake gives the library packages their
  # copyright files).
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.gz
    COMMAND ${GZIP} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/CHANGELOG.md > ${CMAKE_BINARY_DIR}/changelog.gz
    DEPENDS CHANGELOG.md)
  add_custom_target(changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.gz)
  # docs/ too: --help and the man page send the reader to docs/report-schema.md,
  # and the README shows the pictures there.
  install(FILES README.md ${CMAKE_BINARY_DIR}/changelog.gz ${CMAKE_BINARY_DIR}/copyright
    DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tool)
  install(FILES docs/report-schema.md docs/report.schema.json docs/timeline-samples.svg
    docs/speedup-samples.svg docs/speedup-corpus.svg
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT tool)
endif()

# Which DESTDIR the files went under: install_manifest.txt lists them without
# it, so `make uninstall` reads this to refuse another DESTDIR (where it would
# remove files of the same names that this install did not put there). Written
# by every install from this build folder, `cmake --install` or `make install`;
# in no package (CPACK_COMPONENTS_ALL does not name it).
# Not when cpack installs into its staging folder (an archive generator installs
# every component): that is no install of the user's.
install(CODE "
  if(NOT \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\" MATCHES \"/_CPack_Packages/\")
    file(WRITE \"${CMAKE_BINARY_DIR}/install_destdir.txt\" \"\$ENV{DESTDIR}\")
  endif()" COMPONENT destdir_record)

# ---- tests of the above ---------------------------------------------------------
if(BUILD_TESTING)
  find_package(Python3 COMPONENTS Interpreter)
  # Every long option of `imgpool --help` is in the man page.
  if(Python3_FOUND AND TARGET imgpool)
    add_test(NAME manpage COMMAND ${Python3_EXECUTABLE}
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_manpage.py
      $<TARGET_FILE:imgpool> ${CMAKE_CURRENT_SOURCE_DIR}/imgpool.1)
    set_tests_properties(manpage PROPERTIES TIMEOUT 60 LABELS install)
  endif()
  # Install into a temporary prefix and use what is there: the command, the man
  # page, the pool library's exports, and a C program built with pkg-config
  # alone, linked both ways. Not under SANITIZE: a program that is not itself
  # built with ASan cannot load an ASan-built shared library.
  if(Python3_FOUND AND TARGET imgpool AND NOT SANITIZE)
    add_test(NAME install COMMAND ${Python3_EXECUTABLE}
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_install.py ${CMAKE_BINARY_DIR})
    set_tests_properties(install PROPERTIES TIMEOUT 300 LABELS install
      ENVIRONMENT "IMGPOOL_VERSION=${PROJECT_VERSION};IMGPOOL_SRC=${CMAKE_CURRENT_SOURCE_DIR};CMAKE_COMMAND=${CMAKE_COMMAND};CC=${CMAKE_C_COMPILER}")
  endif()
endif()
