/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cmdline.c — the whole command line (options_parse in app/options.h), and
 * the --shard value after it when shard.c is in the tree.
 *
 * Input: the arguments after argv[0], separated by NUL bytes (at most 64).
 * Invariants:
 *   - the result is RUN, EXIT_OK or USAGE; a usage error is text on err that
 *     starts with "imgpool: " and ends with a newline, and that names what the
 *     user typed, never the program itself ("unknown option 'imgpool'");
 *   - RUN gives at least one PATH pointing into argv, an output folder, and
 *     settings in their documented ranges;
 *   - options_parse can be called again: a fixed, valid command line parsed
 *     right after any input gives the expected result (getopt keeps hidden state
 *     between calls, so a parse that stops inside "-Zr" must not leak into the
 *     next one).
 * The streams are memory streams: nothing reaches the terminal.
 */
#include "fuzz_util.h"
#include "options.h"
#if __has_include("shard.h")
#include "shard.h"
#define HAVE_SHARD 1
#endif

#define MAX_ARGS 64
#define ARGV0 "imgpool"

/* A memory stream and its buffer, closed and freed by stream_close. */
typedef struct stream {
	FILE *f;
	char *text;
	size_t len;
} stream;

static int stream_open(stream *s)
{
	s->text = NULL;
	s->len = 0;
	s->f = open_memstream(&s->text, &s->len);
	return s->f ? 0 : -1;
}

static void stream_close(stream *s)
{
	if (s->f)
		fclose(s->f);
	free(s->text);
}

/* What a usage error must look like. An unknown option, or one missing its
 * value, is named as the user typed it: something starting with '-'. */
static void check_usage_text(stream *err)
{
	fflush(err->f);
	const char *t = err->text ? err->text : "";
	FUZZ_CHECK(!strncmp(t, "imgpool: ", 9), "usage error text '%s'", t);
	FUZZ_CHECK(err->len > 0 && t[err->len - 1] == '\n', "no newline: '%s'", t);
	static const char unknown[] = "imgpool: unknown option '";
	if (!strncmp(t, unknown, sizeof unknown - 1))
		FUZZ_CHECK(t[sizeof unknown - 1] == '-', "names a non-option: '%s'", t);
	const char *needs = strstr(t, " needs a value (see imgpool --help)\n");
	if (needs && !strchr(t + 9, '\'') )
		FUZZ_CHECK(t[9] == '-', "names a non-option: '%s'", t);
}

/* What a successful parse must give. */
static void check_run(const imgpool_options *o, char **argv, int argc)
{
	/* A PATH, or a list to read them from (--files-from: no PATH needed). */
	FUZZ_CHECK((o->npaths >= 1 && o->paths) || o->files_from, "no PATH and no list");
	for (int i = 0; i < o->npaths; i++) {
		int found = 0;
		for (int j = 1; j < argc && !found; j++)
			found = o->paths[i] == argv[j];
		FUZZ_CHECK(found, "PATH %d does not point into argv", i);
	}
	FUZZ_CHECK(o->out_dir != NULL, "no output folder"); /* "" fails at run time */
	const thumb_settings *s = &o->settings;
	FUZZ_CHECK(s->nsizes >= 1 && s->nsizes <= THUMB_MAX_SIZES, "nsizes %d", s->nsizes);
	FUZZ_CHECK(s->quality >= 0 && s->quality <= 100, "quality %d", s->quality);
	FUZZ_CHECK(o->jobs >= 0 && o->jobs <= 1024, "jobs %d", o->jobs);
	FUZZ_CHECK(o->retries >= 0 && o->retries <= 100, "retries %d", o->retries);
	FUZZ_CHECK(o->timeout >= 0 && o->timeout <= 86400, "timeout %g", o->timeout);
	for (int i = 0; i < 3; i++)
		FUZZ_CHECK(s->background[i] >= 0 && s->background[i] <= 255, "background %g",
			   s->background[i]);
#ifdef HAVE_SHARD
	shard sh;
	char msg[300];
	if (shard_resolve(o->shard_arg, o->shard_count, &sh, msg, sizeof msg) == 0)
		FUZZ_CHECK(sh.n == 0 || (sh.k >= 1 && sh.k <= sh.n), "shard %d of %d", sh.k, sh.n);
#endif
}

/* Parse argv (argc strings + NULL); check the outcome. */
static void parse_once(int argc, char **argv)
{
	stream out, err;
	if (stream_open(&out) < 0)
		return;
	if (stream_open(&err) < 0) {
		stream_close(&out);
		return;
	}
	imgpool_options o;
	int rc = options_parse(argc, argv, &o, out.f, err.f);
	FUZZ_CHECK(rc == OPTIONS_RUN || rc == OPTIONS_EXIT_OK || rc == OPTIONS_USAGE, "rc %d", rc);
	if (rc == OPTIONS_USAGE)
		check_usage_text(&err);
	if (rc == OPTIONS_RUN) {
		check_run(&o, argv, argc);
		options_free(&o);
	}
	stream_close(&out);
	stream_close(&err);
}

/* A fixed, valid command line must parse the same whatever came before. */
static void parse_known(void)
{
	char a0[] = ARGV0, a1[] = "-n", a2[] = "-o", a3[] = "/nonexistent/out", a4[] = "x";
	char *argv[] = {a0, a1, a2, a3, a4, NULL};
	stream out, err;
	if (stream_open(&out) < 0)
		return;
	if (stream_open(&err) < 0) {
		stream_close(&out);
		return;
	}
	imgpool_options o;
	int rc = options_parse(5, argv, &o, out.f, err.f);
	fflush(err.f);
	FUZZ_CHECK(rc == OPTIONS_RUN, "'-n -o DIR x' after this input gave %d: %s", rc,
		   err.text ? err.text : "");
	/* Flags the previous input may have set: none must carry over. */
	FUZZ_CHECK(o.dry_run && o.npaths == 1 && !strcmp(o.paths[0], "x") && !o.recursive &&
			   !o.quiet && !o.verbose && !o.force && o.jobs == 0 &&
			   o.settings.nsizes == 1 && o.settings.sizes[0].w == 256 &&
			   !strcmp(o.out_dir, "/nonexistent/out"),
		   "'-n -o DIR x' after this input parsed as recursive=%d quiet=%d verbose=%d "
		   "force=%d jobs=%d nsizes=%d", o.recursive, o.quiet, o.verbose, o.force, o.jobs,
		   o.settings.nsizes);
	options_free(&o);
	stream_close(&out);
	stream_close(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[MAX_ARGS];
	int n = size ? fuzz_split(data, size, args, MAX_ARGS - 2) : 0;
	char *argv[MAX_ARGS];
	argv[0] = fuzz_strdup((const uint8_t *)ARGV0, strlen(ARGV0));
	for (int i = 0; i < n; i++)
		argv[i + 1] = args[i];
	argv[n + 1] = NULL;
	parse_once(n + 1, argv);
	/* The strings stay alive over the next parse, as a caller's argv would: a
	 * stale pointer into them then shows as a wrong parse, not as freed memory
	 * that ASan cannot see libc read. */
	parse_known();
	free(argv[0]);
	fuzz_free_all(args, n);
	return 0;
}
