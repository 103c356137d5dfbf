# SPDX-License-Identifier: MIT
# cmake/manpage.cmake — write the man page with the project's version in its header.
#
#   cmake -DIN=imgpool.1 -DOUT=build/imgpool.1 -DVERSION=0.1.0 -P cmake/manpage.cmake
#
# The .TH line's fourth field (the footer's source, "imgpool" in the tree) becomes
# "imgpool VERSION", so the version is written in one place, project(VERSION).
file(READ "${IN}" page)
string(REGEX REPLACE "(\n|^)(\\.TH +[^ \n]+ +[^ \n]+ +\"[^\"\n]*\") +\"imgpool[^\"\n]*\""
  "\\1\\2 \"imgpool ${VERSION}\"" out "${page}")
if(NOT out MATCHES "(\n|^)\\.TH [^\n]*\"imgpool ${VERSION}\"")
  message(FATAL_ERROR "${IN}: no .TH line of the form .TH NAME 1 \"DATE\" \"imgpool\"")
endif()
file(WRITE "${OUT}" "${out}")
