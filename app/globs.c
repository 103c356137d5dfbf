/* SPDX-License-Identifier: MIT */
/*
 * globs.c — the --include / --exclude rule. See globs.h.
 *
 * fnmatch() does the matching (libc's, with FNM_CASEFOLD: a GNU extension glibc
 * has); no FNM_PATHNAME, so '*' crosses '/'.
 */
#include <fnmatch.h>
#include <limits.h>
#include <string.h>

#include "globs.h"

#define GLOB_FLAGS FNM_CASEFOLD

int globs_match(const char *const *globs, int n, const char *rel)
{
	for (int i = 0; i < n; i++) {
		if (!fnmatch(globs[i], rel, GLOB_FLAGS))
			return 1;
		for (const char *part = rel; *part;) {
			size_t len = strcspn(part, "/");
			char name[NAME_MAX + 1];
			if (len > 0 && len <= NAME_MAX) {
				memcpy(name, part, len);
				name[len] = '\0';
				if (!fnmatch(globs[i], name, GLOB_FLAGS))
					return 1;
			}
			part += len + (part[len] == '/');
		}
	}
	return 0;
}
