/* SPDX-License-Identifier: MIT */
/*
 * outdir_words.c — what outdir.h's failures mean, in the words a report line
 * gives them (outdir_strerror()): the errno values outdir.c gives a meaning of
 * its own (ESTALE, EMLINK, OUTDIR_EMOVED ...) and libc's for the rest.
 */
#include <errno.h>
#include <string.h>

#include "outdir.h"

const char *outdir_strerror(int err)
{
	switch (err) {
	case ELOOP: return "a symlink is in the way (imgpool never follows one in the output folder)";
	case ENODEV: return "something other than a regular file is there (a FIFO, a device or a folder)";
	case EMLINK: return "that file has other hard links (imgpool never writes through one in its own files)";
	case ESTALE: return "the file there changed while imgpool was replacing or removing it; it "
			    "was left as it is";
	case EXDEV: return "it is on another filesystem than the output folder's .imgpool";
	case EEXIST: return "a file is already there";
	case OUTDIR_EMOVED: return "its folder was moved out of the output folder meanwhile; "
				   "the file was taken back";
	case OUTDIR_EQMOVED: return "imgpool's quarantine folder (.imgpool/quarantine) was moved "
				    "out of the output folder meanwhile; the file was left in "
				    "its place";
	case OUTDIR_EKEPT: return "its folder was moved out of the output folder meanwhile, and "
				  "a file imgpool did not make was at its name there: that file is "
				  "kept in the output folder's .imgpool/quarantine";
	case OUTDIR_ETEMP: return "its temp file in .imgpool was replaced by another file "
				  "before it was put in place; nothing was put there";
	case EOPNOTSUPP: return "the output folder's filesystem can neither rename a file without "
				"replacing one (RENAME_NOREPLACE) nor make a hard link, so nothing "
				"can be put in place there without risking a file imgpool did not "
				"make: give an output folder on another filesystem";
	default: return strerror(err);
	}
}
