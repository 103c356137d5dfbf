/*
 * main.c — imgpool: options -> run -> exit code; nothing else.
 */
#include <stdio.h>

#include "options.h"
#include "run.h"

int main(int argc, char **argv)
{
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
