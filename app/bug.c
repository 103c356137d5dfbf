/* SPDX-License-Identifier: MIT */
/*
 * bug.c — see bug.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bug.h"

void bug_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "imgpool: BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (please report it)\n", stderr);
	abort();
}
