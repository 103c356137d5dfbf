/* SPDX-License-Identifier: MIT */
/*
 * modules_testlib.h — for the app's unit tests that check what libvips' modules
 * do (test_thumb, test_thread): is there a HEIF module where imgpool loads them
 * from? Where there is none, such a check has nothing to look at and skips.
 */
#ifndef IMGPOOL_MODULES_TESTLIB_H
#define IMGPOOL_MODULES_TESTLIB_H

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "vipsmodules.h"

static inline int heif_module_here(void)
{
	char heif[PATH_MAX];

	if (!vipsmodules_dir())
		return 0;
	snprintf(heif, sizeof heif, "%s/vips-heif.so", vipsmodules_dir());
	return access(heif, F_OK) == 0;
}

#endif
