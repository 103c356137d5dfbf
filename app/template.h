/* SPDX-License-Identifier: MIT */
/*
 * template.h — the --name template: where, inside the output folder, each output of
 * an input goes.
 *
 * Placeholders: {dir} (the input's folder relative to its root, "" at the root),
 * {stem}, {ext} (the output's extension), {inext} (the input's), {w}, {h} (the box;
 * "" when 0) and {size} ("320" for -s 320 and for -s 320x, "x240", "320x240").
 * After expansion "//" collapses and a leading "/" (from an empty {dir}) and "."
 * components go; a result that is absolute, empty, ends in '/' or has a ".."
 * component is refused: no output ever lands outside the output folder.
 */
#ifndef IMGPOOL_TEMPLATE_H
#define IMGPOOL_TEMPLATE_H

#include <stddef.h>

#include "settings.h"

/* Expand a name template for one input and box. Returns a malloc'd relative path,
 * or NULL with a static cause in *why. NULL strings count as empty. */
char *template_expand(const char *tmpl, const char *rel_dir, const char *stem,
		      const char *in_ext, const char *out_ext, thumb_size box,
		      const char **why);

/* Check a template once, before any file: it must parse, give a clean relative
 * path, and give each of the settings' sizes its own name. NULL, or a malloc'd
 * one-line message naming the cause ("--name: unknown placeholder {x} ..."). */
char *template_check(const char *tmpl, const thumb_settings *s);

/* The box as {size} writes it: "W" (a square, a single number on the command line,
 * or a width alone), "WxH", "xH" (a height alone). */
void template_size_text(thumb_size box, char *buf, size_t len);

#endif
