/* SPDX-License-Identifier: MIT */
/*
 * outfolder.h — where thumbnails go when -o is not given: "<first folder>-thumbs"
 * beside it (by its real path), or ./thumbs for files; and whether a folder (which
 * may not exist yet) lies inside, or is, an input folder.
 */
#ifndef IMGPOOL_OUTFOLDER_H
#define IMGPOOL_OUTFOLDER_H

#include <stddef.h>

/* The default output folder for the given paths, by the first that exists:
 * "<it>-thumbs" beside a folder, "thumbs" beside a file; where none exists,
 * "<first path>-thumbs". NULL with msg set when it cannot be chosen safely. */
char *options_default_out_dir(const char *const *paths, int npaths, char *msg,
			      size_t msglen);

/* The index of the first of paths that is there (lstat() finds it, or fails
 * otherwise than ENOENT), -1 when none is. */
int outfolder_first_there(const char *const *paths, int npaths);

/* Is folder out (it may not exist yet: its nearest existing ancestor is resolved;
 * a bare name's is the current folder) inside, or equal to, folder in? */
int outfolder_inside(const char *out, const char *in);

#endif
