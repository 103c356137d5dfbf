/* SPDX-License-Identifier: MIT */
/*
 * result.h — what a worker made of one file, as plain data: the input's size and
 * checksum, and each output's dimensions and bytes. It crosses the pool as it is
 * (task.h) and the parent reports it (report.h), so the parent's modules need this
 * and not the worker's API (thumb.h).
 */
#ifndef IMGPOOL_RESULT_H
#define IMGPOOL_RESULT_H

#include <stdint.h>

#include "settings.h"

typedef struct thumb_result {
	int in_w, in_h;              /* input dimensions, after EXIF rotation */
	uint64_t in_bytes;           /* input file size */
	uint64_t in_checksum;        /* XXH3-64 of the input's bytes (never 0) */
	int nout;                    /* == settings->nsizes */
	struct {
		int w, h;            /* thumbnail dimensions */
		uint64_t bytes;      /* output file size */
		uint64_t checksum;   /* XXH3-64 of its bytes: the proof it is imgpool's */
		uint64_t ino;        /* the temp file's inode, as the worker made it (0: not
		                        known): the parent publishes only that file */
	} out[THUMB_MAX_SIZES];
} thumb_result;

#endif
