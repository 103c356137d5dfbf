/* SPDX-License-Identifier: MIT */
/*
 * vipserr.h — the worker's causes as one line: printf into the caller's buffer, and
 * libvips' error text cleaned up (lines joined with "; ", repeats dropped, the input
 * path taken out: the caller names the file).
 */
#ifndef IMGPOOL_VIPSERR_H
#define IMGPOOL_VIPSERR_H

#include <stddef.h>

/* printf into err (cut to errlen, always terminated); a NULL err is a no-op. */
void vipserr_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Take libvips' error text (and clear it, so the next file starts clean) as one line
 * into err, input's path replaced by "file" or removed; fallback when libvips left
 * nothing. */
void vipserr_cause(char *err, size_t errlen, const char *input, const char *fallback);

/* libvips' and its codecs' warnings (libpng's reason for a "libpng read error", a
 * header too short to read) go to GLib's log, not to libvips' error buffer. The
 * worker's log handler hands them here, and vipserr_cause() adds those of the
 * current file to its cause: a file is not failed with only "cannot read the image
 * header" when the codec said why. Any thread (libvips' own log from theirs). */
void vipserr_note_warning(const char *msg);

/* Forget the warnings and libvips' error text: a new file starts. */
void vipserr_clear(void);

#endif
