/* SPDX-License-Identifier: MIT */
/*
 * main.c — imgpool: options -> run -> exit code; nothing else.
 * `imgpool bench ...` is the speedup benchmark (bench.h).
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "io.h"
#include "options.h"
#include "run.h"
#include "status.h"

int main(int argc, char **argv)
{
	io_hold_std_fds();
	if (argc > 1 && !strcmp(argv[1], "status"))
		return status_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "bench"))
		return bench_main(argc - 1, argv + 1);
	imgpool_options o;
	int k = options_parse(argc, argv, &o, stdout, stderr);
	if (k == OPTIONS_EXIT_OK)
		return 0;
	if (k == OPTIONS_USAGE)
		return EXIT_USAGE;
	int rc = run_imgpool(&o);
	options_free(&o);
	return rc;
}
