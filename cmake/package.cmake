# SPDX-License-Identifier: MIT
# cmake/package.cmake — `cpack -G DEB`: Debian packages split as Debian splits them.
# Included from the top CMakeLists.txt after cmake/install.cmake, whose install
# components become the packages:
#   tool -> imgpool               the command and its man page (Section graphics)
#   lib  -> libimgpool-pool1      the pool library's shared object (Section libs)
#   dev  -> libimgpool-pool-dev   its header, .so link, archive and .pc (libdevel)
#
# `make deb` builds them in build-deb/ with /usr as the prefix (so the library goes
# to /usr/lib/<multiarch>, as in Debian) and the tests left out; they land in
# build-deb/debs/. Runtime Depends come from dpkg-shlibdeps (dpkg-dev; CPack finds
# the ELF files with `file`), so they name the library packages of the system that
# built them: build the packages on the release they are for (here Debian 12).

set(IMGPOOL_DEB_MAINTAINER "imgpool authors <imgpool@example.org>" CACHE STRING
  "Maintainer field of the Debian packages: set it to whoever publishes them")

# The library package is named after its SONAME, as Debian names them: the MAJOR
# of pool.h (install.cmake). Every package's version is imgpool's (PROJECT_VERSION,
# below): they are built from one source, and a Debian library package carries
# its source package's version, not its SONAME's; the shlibs file and -dev's
# Depends name that version.
set(DEB_TOOL_PACKAGE imgpool)
set(DEB_LIB_PACKAGE libimgpool-pool${POOL_SOVERSION})
set(DEB_DEV_PACKAGE libimgpool-pool-dev)

set(CPACK_PACKAGE_NAME imgpool)
set(CPACK_PACKAGE_VENDOR "the imgpool authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${IMGPOOL_DEB_MAINTAINER}")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_OUTPUT_FILE_PREFIX debs)
# Plain `cpack` makes the Debian packages (make deb runs cpack -G DEB in a build
# with /usr as prefix, where the library goes to Debian's multiarch folder).
set(CPACK_GENERATOR DEB)
# Debian ships stripped binaries (dh_strip does it there).
set(CPACK_STRIP_FILES ON)

set(CPACK_COMPONENTS_ALL lib dev)
if(TARGET imgpool)                            # not with POOL_ONLY
  list(PREPEND CPACK_COMPONENTS_ALL tool)
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)       # name_version-release_arch.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME ${DEB_TOOL_PACKAGE})
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION graphics)
set(CPACK_DEBIAN_TOOL_DESCRIPTION
"thumbnail photo folders in parallel on a crash-proof process pool
imgpool makes thumbnails of every image in folders and of single files
(JPEG, PNG, WebP, TIFF, GIF, HEIC/AVIF) with libvips and a libjpeg-turbo
fast path, one task per image on a pool of pre-forked worker processes.
A corrupt image or a crashing worker costs that one file, which is reported
with its cause; every output is written whole or not at all.

It is made for cron and batch schedulers: incremental runs remembered in a
journal, a JSON Lines report, exit codes that say what happened, and shards
for Slurm job arrays and Kubernetes Indexed Jobs.")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${DEB_LIB_PACKAGE})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# DEBIAN/shlibs, so that packages built against the library depend on it:
# written for each package that holds a shared object, which is this one.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# The ldconfig trigger, as debhelper adds to a library package. (CPack also
# writes a postinst and postrm that run ldconfig when it sees a library under
# /usr/lib, and has no switch to leave them out: the second run costs nothing.)
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_SOURCE_DIR}/cmake/debian/triggers)
set(CPACK_DEBIAN_LIB_DESCRIPTION
"crash-proof process pool for C (shared library)
libimgpool-pool runs tasks on pre-forked worker processes, with the calls of
Python's multiprocessing.Pool: apply, apply_async, map, imap, imap_unordered
and a lazy feed. A worker that crashes, exits or runs past its timeout costs
only the task it held, which is retried on a fresh worker and then reported
with its cause; the other tasks go on.

This package holds the shared library, from imgpool.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${DEB_DEV_PACKAGE})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The -dev package depends on the library of exactly its own version:
# "Depends: libimgpool-pool<MAJOR> (= <imgpool's version>)".
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_DEV_DEPENDS lib)
set(CPACK_DEBIAN_DEV_DESCRIPTION
"crash-proof process pool for C (development files)
libimgpool-pool runs tasks on pre-forked worker processes, with the calls of
Python's multiprocessing.Pool: apply, apply_async, map, imap, imap_unordered
and a lazy feed. A worker that crashes, exits or runs past its timeout costs
only the task it held, which is retried on a fresh worker and then reported
with its cause; the other tasks go on.

This package holds the header <imgpool/pool.h>, the static library and the
pkg-config file imgpool-pool.pc.")

# Each package carries /usr/share/doc/<package>/copyright, the licence whole, and
# changelog.Debian.gz, the packaging's own changes. cmake/install.cmake installs
# the tool's copyright (every install gets that one); the rest is installed only
# for packaging (EXCLUDE_FROM_ALL: a plain `cmake --install` leaves it out).
# The date honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(DEB_CHANGELOGS)
foreach(comp tool lib dev)
  string(TOUPPER ${comp} COMP)
  set(pkg ${DEB_${COMP}_PACKAGE})
  file(WRITE ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian
    "${pkg} (${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}) unstable; urgency=medium\n\n"
    "  * Packaged with CPack from imgpool ${PROJECT_VERSION}. Its changes are in\n"
    "    /usr/share/doc/imgpool/changelog.gz (package imgpool).\n\n"
    " -- ${IMGPOOL_DEB_MAINTAINER}  ${DEB_DATE}\n")
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian.gz
    COMMAND ${GZIP} -9n -c ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian
      > ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian.gz
    DEPENDS ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian)
  list(APPEND DEB_CHANGELOGS ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian.gz)
  install(FILES ${CMAKE_BINARY_DIR}/debian/${pkg}/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp} EXCLUDE_FROM_ALL)
  if(NOT comp STREQUAL tool)
    install(FILES ${CMAKE_BINARY_DIR}/copyright
      DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp} EXCLUDE_FROM_ALL)
  endif()
endforeach()
add_custom_target(debian-changelogs ALL DEPENDS ${DEB_CHANGELOGS})

include(CPack)
