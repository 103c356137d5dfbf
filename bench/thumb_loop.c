/* SPDX-License-Identifier: MIT */
/*
 * thumb_loop.c — one worker's work in one process, for profilers: thumb_worker_init()
 * once, then thumb_run() on every file named, exactly as a pool worker calls them
 * (app/task.c), with the settings of bench/compare.sh (longest side 256, JPEG Q80).
 * No pool, no parent, no fork: callgrind and perf see the worker's cost alone.
 *
 *   thumb_loop [-s SIZE[,SIZE...]] [-Q Q] [-f jpeg|png|webp] [-r ROUNDS] [-t] OUTDIR FILE...
 *
 * -t prints each file's fastest round in milliseconds to stdout ("12.345 FILE"),
 * to find which images cost what.
 *
 * SIZE is a longest side. Output i goes to OUTDIR/<stem of FILE>.<ext>, or
 * OUTDIR/<stem>_<size>.<ext> with several sizes. Built by bench/profile.sh against
 * build/libimgpool_app.a; not part of the CMake build.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "thumb.h"

/* Fill s with the settings of a plain `imgpool -s SIZES -f FMT -Q Q` run. */
static void default_settings(thumb_settings *s, const char *sizes, int q, thumb_format f)
{
	memset(s, 0, sizeof *s);
	for (const char *p = sizes; *p && s->nsizes < THUMB_MAX_SIZES; ) {
		int n = atoi(p);

		s->sizes[s->nsizes].w = s->sizes[s->nsizes].h = n > 0 ? n : 256;
		s->nsizes++;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	s->fit = FIT_INSIDE;
	s->format = f;
	s->quality = q;
	s->background[0] = s->background[1] = s->background[2] = 255;
	s->max_pixels = 268402689;	/* libvips' own default limit, 16383^2 */
}

/* OUTDIR/<stem of input>.<ext> (size 0) or OUTDIR/<stem>_<size>.<ext> into out. */
static void output_path(char *out, size_t len, const char *dir, const char *input,
			int size, const char *ext)
{
	const char *base = strrchr(input, '/');
	const char *dot;
	int stem;

	base = base ? base + 1 : input;
	dot = strrchr(base, '.');
	stem = dot ? (int)(dot - base) : (int)strlen(base);
	if (size)
		snprintf(out, len, "%s/%.*s_%d.%s", dir, stem, base, size, ext);
	else
		snprintf(out, len, "%s/%.*s.%s", dir, stem, base, ext);
}

int main(int argc, char **argv)
{
	thumb_settings s;
	thumb_format f = FORMAT_JPEG;
	const char *ext = "jpg";
	const char *sizes = "256";
	int q = 80, rounds = 1, timing = 0, opt, failed = 0;
	char err[1024];

	while ((opt = getopt(argc, argv, "s:Q:f:r:t")) != -1) {
		switch (opt) {
		case 't': timing = 1; break;
		case 's': sizes = optarg; break;
		case 'Q': q = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'f':
			if (!strcmp(optarg, "png")) { f = FORMAT_PNG; ext = "png"; }
			else if (!strcmp(optarg, "webp")) { f = FORMAT_WEBP; ext = "webp"; }
			break;
		default:
			fprintf(stderr, "usage: thumb_loop [-s SIZE[,SIZE...]] [-Q Q] [-f jpeg|png|webp] [-r N] [-t] OUTDIR FILE...\n");
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: thumb_loop [-s SIZE[,SIZE...]] [-Q Q] [-f jpeg|png|webp] [-r N] [-t] OUTDIR FILE...\n");
		return 2;
	}
	default_settings(&s, sizes, q, f);
	if (thumb_worker_init(1, err, sizeof err) < 0) {
		fprintf(stderr, "thumb_loop: %s\n", err);
		return 1;
	}
	double *best = calloc((size_t)argc, sizeof *best);
	int dir = open(argv[optind], O_RDONLY | O_DIRECTORY);

	if (!best || dir < 0) {
		fprintf(stderr, "thumb_loop: %s: cannot open the output folder\n", argv[optind]);
		return 1;
	}
	for (int r = 0; r < rounds; r++)
		for (int i = optind + 1; i < argc; i++) {
			char out[THUMB_MAX_SIZES][4096];
			thumb_output outputs[THUMB_MAX_SIZES];
			thumb_result res;
			failure_kind kind;
			struct timespec t0, t1;
			double ms;

			/* A worker creates each output as a new file: clear the last round's. */
			for (int k = 0; k < s.nsizes; k++) {
				output_path(out[k], sizeof out[k], ".", argv[i],
					    s.nsizes > 1 ? s.sizes[k].w : 0, ext);
				outputs[k] = (thumb_output){dir, out[k] + 2, f};
				unlinkat(dir, outputs[k].name, 0);
			}
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (thumb_run(&s, argv[i], 0, NULL, outputs, &res, &kind, err, sizeof err) < 0) {
				fprintf(stderr, "thumb_loop: %s: %s\n", argv[i], err);
				failed++;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
			if (r == 0 || ms < best[i])
				best[i] = ms;
		}
	if (timing)
		for (int i = optind + 1; i < argc; i++)
			printf("%.3f %s\n", best[i], argv[i]);
	free(best);
	thumb_worker_fini();
	return failed ? 1 : 0;
}
