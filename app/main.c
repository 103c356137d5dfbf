/* SPDX-License-Identifier: MIT */
/*
 * main.c — imgpool: options -> run -> exit code; nothing else.
 * `imgpool bench ...` is the speedup benchmark (bench.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "io.h"
#include "options.h"
#include "run.h"
#include "status.h"

/* What went to standard output (--help, -V, status, bench's table) is what these
 * commands are for: lost (a full disk, a closed stdout), the command failed, as
 * coreutils' do. A run has said so already (its exit code is not 0 then). */
static int stdout_checked(int rc)
{
	errno = 0;
	if ((fflush(stdout) == 0 && !ferror(stdout)) || rc != 0)
		return rc;
	fprintf(stderr, "imgpool: writing to standard output failed%s%s\n", errno ? ": " : "",
		errno ? strerror(errno) : "");
	return EXIT_SOME_FAILED;
}

/* A soft limit of descriptors below what a run needs (the journal and its WAL,
 * the lock, a pipe and a pidfd per worker, the folders being walked, libvips'
 * own) made files fail with "Too many open files", or a whole folder one error,
 * while the hard limit had room (ulimit -Sn 20: 5 photos, 0 done). The soft limit
 * is raised to the hard one, at most 65536, as Go's runtime and systemd's
 * services do; workers inherit it. A hard limit too low stays the user's. */
static void raise_descriptor_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return;
	rlim_t want = r.rlim_max == RLIM_INFINITY || r.rlim_max > 65536 ? 65536 : r.rlim_max;
	if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
		r.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(int argc, char **argv)
{
	io_hold_std_fds();
	raise_descriptor_limit();
	/* A line per write: unbuffered, stderr wrote each character of a file's name
	 * on its own (report_put_name() puts them one by one), and another writer of
	 * the same log could land inside a line. Lines without an end (the progress
	 * bar) are flushed where they are drawn. */
	setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	/* --help, -V and status into a pipe closed early (| head -1, | true): a
	 * failed write, exit 1 as the man page says, not death by SIGPIPE (141). A
	 * run and bench set their own handling; they start from the default. */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "status"))
		return stdout_checked(status_main(argc - 1, argv + 1));
	if (argc > 1 && !strcmp(argv[1], "bench")) {
		signal(SIGPIPE, SIG_DFL);
		return stdout_checked(bench_main(argc - 1, argv + 1));
	}
	imgpool_options o;
	int k = options_parse(argc, argv, &o, stdout, stderr);
	if (k == OPTIONS_EXIT_OK)
		return stdout_checked(0);
	if (k == OPTIONS_USAGE)
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_DFL);
	int rc = run_imgpool(&o);
	options_free(&o);
	return stdout_checked(rc);
}
