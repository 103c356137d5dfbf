/* SPDX-License-Identifier: MIT */
/*
 * help.h — what `imgpool --help` and `imgpool --version` print. Every option of the
 * parser's table (options.c) is described here and in the man page (a test checks
 * both).
 */
#ifndef IMGPOOL_HELP_H
#define IMGPOOL_HELP_H

#include <stdio.h>

/* The usage text, with the image extensions from their one table (settings.h). */
void help_usage(FILE *out);

/* imgpool's version and its libraries'. */
void help_version(FILE *out);

#endif
