/* SPDX-License-Identifier: MIT */
/*
 * vipsmodules.c — which of libvips' loadable modules imgpool loads. See
 * vipsmodules.h for why.
 *
 * vips_init() (libvips 8.14, iofuncs/init.c) loads every module in
 * LIBDIR/vips-modules-MAJOR.MINOR, LIBDIR worked out from $VIPSHOME when it is set.
 * It has no other switch, so vipsmodules_vips_init() sets VIPSHOME to /dev/null
 * for the call (a path beneath which no folder can ever be made, so nothing can be
 * planted there) and unsets it after (it only does so where VIPSHOME was not set:
 * see can_choose()). libvips' message catalogue is then not found either: its
 * messages stay in English, as imgpool's own are. Then it opens the wanted modules as
 * vips_load_plugins() does, with g_module_open(), whose g_module_check_init() hook
 * registers the module's operations. That is before thumb_worker_init() blocks the
 * untrusted ones, which walks the operations registered by then.
 */
#include <dlfcn.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmodule.h>
#include <vips/vips.h>

#include "vipsmodules.h"

/* Modules whose every loader libvips 8.14 marks untrusted (vips -l foreign says
 * "untrusted") and which save no format imgpool writes. A module not named here,
 * say one a later libvips splits out, is loaded, as libvips would. */
static const char *const unused_modules[] = {
	"vips-magick.so", "vips-poppler.so", "vips-openslide.so", "vips-jxl.so",
};

int vipsmodules_wanted(const char *file)
{
	for (size_t i = 0; i < sizeof unused_modules / sizeof *unused_modules; i++)
		if (strcmp(file, unused_modules[i]) == 0)
			return 0;
	return 1;
}

#ifdef IMGPOOL_VIPS_MODULE_DIR
/* Calls open on the path of each wanted module in the module folder. */
static void each_wanted(void (*open)(const char *path))
{
	glob_t g;
	if (glob(IMGPOOL_VIPS_MODULE_DIR "/*.so", 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *slash = strrchr(g.gl_pathv[i], '/');
		if (vipsmodules_wanted(slash ? slash + 1 : g.gl_pathv[i]))
			open(g.gl_pathv[i]);
	}
	globfree(&g);
}

/* RTLD_NOW: bind every symbol here, once, rather than on first use in each
 * worker. The worker's g_module_open() of the same file then only counts a
 * reference. A module that does not load is left to it. */
static void preload(const char *path) { (void)dlopen(path, RTLD_NOW | RTLD_LOCAL); }

/* As vips_load_plugins(): opened for good (never closed), G_MODULE_BIND_LAZY. */
static void open_module(const char *path) { (void)g_module_open(path, G_MODULE_BIND_LAZY); }
#endif

const char *vipsmodules_dir(void)
{
#ifdef IMGPOOL_VIPS_MODULE_DIR
	return IMGPOOL_VIPS_MODULE_DIR;
#else
	return NULL;
#endif
}

/* Whether the modules can be chosen: a module folder named at build time that
 * is there, for the libvips actually loaded (the folder's name carries the
 * major.minor of the headers built against: a libvips upgraded under imgpool
 * keeps its soname and moves its modules), and no VIPSHOME of the user's (who
 * then means another libvips install, whose modules libvips finds itself). */
static int can_choose(void)
{
	const char *dir = vipsmodules_dir();
	return dir && !getenv("VIPSHOME") && vips_version(0) == VIPS_MAJOR_VERSION &&
	       vips_version(1) == VIPS_MINOR_VERSION && access(dir, R_OK | X_OK) == 0;
}

void vipsmodules_preload(void)
{
#ifdef IMGPOOL_VIPS_MODULE_DIR
	if (can_choose())	/* else the workers load what libvips finds: nothing to share */
		each_wanted(preload);
#endif
}

int vipsmodules_vips_init(const char *prog)
{
#ifdef IMGPOOL_VIPS_MODULE_DIR
	if (!can_choose())
		return VIPS_INIT(prog);	/* libvips loads what it finds, as it would */
	setenv("VIPSHOME", "/dev/null", 1);
	int rc = VIPS_INIT(prog);
	unsetenv("VIPSHOME");
	if (rc == 0)
		each_wanted(open_module);
	return rc;
#else
	return VIPS_INIT(prog);
#endif
}
