/* SPDX-License-Identifier: MIT */
/*
 * paths.h — path strings, in one place: joining, the last component, "is this below
 * that", and the canonical form of a path that may not exist yet. Lexical only
 * (plus realpath): nothing here opens or writes a file.
 */
#ifndef IMGPOOL_PATHS_H
#define IMGPOOL_PATHS_H

/* a + "/" + b, without doubling a '/' that ends a. malloc'd; NULL out of memory. */
char *path_join(const char *a, const char *b);

/* The absolute path of p with symlinks resolved as far as it exists; the part that
 * does not exist yet is appended as written. malloc'd; NULL when it cannot be told
 * (out of memory, a component that is not a folder, a missing part "." or ".."). */
char *path_canonical(const char *p);
/* p's last name (trailing slashes dropped) appended to the path_canonical() of the
 * folder holding it: p itself is never looked at (a mount point whose server does
 * not answer would hold the look). NULL as path_canonical(). */
char *path_in_real_folder(const char *p);

/* path without "." components, doubled slashes and a trailing slash ("./a//./b/"
 * is "a/b"; ".." is kept: undoing it lexically would be wrong past a symlink).
 * malloc'd; NULL out of memory. */
char *path_lexical(const char *path);

/* Is path the folder dir or below it? Both canonical. */
int path_is_under(const char *path, const char *dir);

/* The folder part of path: everything before its last '/', "/" when that is the
 * first character, "." when there is none. malloc'd; NULL out of memory. */
char *path_dir(const char *path);

/* The last component of path (the whole path when it has no '/'). */
const char *path_base(const char *path);

/* The extension after the last dot of a base name: "" when there is none or the
 * only dot starts the name (".profile" has no extension, ".x.jpg" has "jpg"). */
const char *path_extension(const char *base);

#endif
