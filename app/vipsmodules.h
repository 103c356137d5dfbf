/* SPDX-License-Identifier: MIT */
/*
 * vipsmodules.h — which of libvips' loadable modules imgpool loads, and when.
 *
 * libvips built with modules (Debian's is) loads every shared object in its
 * module folder at vips_init(). On Debian 12 those are heif (HEIC and AVIF, which
 * imgpool reads and writes) and magick, poppler (PDF), openslide and jxl, every
 * loader of which libvips marks untrusted, so that imgpool, which blocks untrusted
 * loaders (thumb_worker_init()), could never use them, and none of which saves a
 * format imgpool writes. Those four pull in ImageMagick, poppler, OpenSlide and
 * libjxl: mapping and binding them was about 18 ms of every run's start (measured
 * with perf stat on a one-file run: 53 ms of CPU with them, 35 ms without) and
 * memory in every worker, for nothing. imgpool loads the others only.
 */
#ifndef IMGPOOL_VIPSMODULES_H
#define IMGPOOL_VIPSMODULES_H

/* Once in the parent, before the workers fork: map and bind (RTLD_NOW) the
 * modules imgpool uses, without starting libvips, so that each worker's
 * vipsmodules_vips_init() finds them loaded instead of loading them again.
 * Loads nothing where libvips was built without modules, or where the workers
 * cannot choose them (below: the same rule); starts no libvips (vips_version()
 * reads compiled-in numbers) and no thread (fork stays safe). */
void vipsmodules_preload(void);

/* In a worker, instead of VIPS_INIT(): start libvips with the modules imgpool
 * uses and none of the others. Returns 0, or -1 with libvips' error buffer set,
 * as VIPS_INIT() does. A module that does not load is left out, as libvips itself
 * leaves it (its formats then fail with libvips' "not a known file format").
 * Where the modules cannot be chosen (the loaded libvips is another major.minor
 * than the one built against, its module folder is not where it was, or the
 * user set VIPSHOME), plain VIPS_INIT(): libvips loads every module it finds. */
int vipsmodules_vips_init(const char *prog);

/* Whether the module file name (e.g. "vips-heif.so") is one imgpool loads. */
int vipsmodules_wanted(const char *file);

/* The module folder named at build time, or NULL (a libvips without modules). */
const char *vipsmodules_dir(void);

#endif
