/* SPDX-License-Identifier: MIT */
/*
 * fuzz_template.c — the --name template (template_expand in app/discover.h), the
 * one place a user string becomes a path under the output folder.
 *
 * Input: 4 bytes of box (w, h as little-endian u16), then NUL-separated fields:
 * template, relative folder, stem, input extension, output extension (missing
 * fields are "").
 * Invariant, the security one: whatever the fields, an expansion that succeeds
 * is a relative path that stays inside the output folder: not empty, no leading
 * '/', no empty, "." or ".." component, no trailing '/'. A failure names a cause.
 */
#include "discover.h"
#include "template.h"
#include "fuzz_util.h"

/* Does the expansion obey the rules of discover.h? */
static void check_path(const char *p)
{
	FUZZ_CHECK(*p != '\0', "empty path");
	FUZZ_CHECK(*p != '/', "absolute path '%s'", p);
	for (const char *s = p;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		FUZZ_CHECK(n > 0, "empty component in '%s'", p);
		FUZZ_CHECK(!(n == 1 && s[0] == '.'), "'.' component in '%s'", p);
		FUZZ_CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'), "'..' component in '%s'", p);
		if (!slash)
			break;
		s = slash + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	thumb_size box = {data[0] | data[1] << 8, data[2] | data[3] << 8};
	char *f[5];
	int n = fuzz_split(data + 4, size - 4, f, 5);
	for (int i = n; i < 5; i++)
		f[i] = fuzz_strdup(NULL, 0);
	const char *why = NULL;
	char *out = template_expand(f[0], f[1], f[2], f[3], f[4], box, &why);
	if (out) {
		check_path(out);
		free(out);
	} else {
		FUZZ_CHECK(why != NULL && *why, "refused without a cause");
	}
	fuzz_free_all(f, 5);
	return 0;
}
