/* SPDX-License-Identifier: MIT */
/*
 * run_setup.c — everything a run opens before its pool starts, and the one path
 * that closes it all: the shard, the output folder and its lock, the report, the
 * walk and its counter, the journal (and what a failure is remembered under), the
 * planner, the temp folder. See run_internal.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "outfolder.h"
#include "paths.h"
#include "run.h"
#include "run_internal.h"
#include "sidefile.h"
#include "stop.h"
#include "task.h"

/* A --report path with its placeholders filled: {shard} ("K-of-N" or "all"),
 * {date} (YYYY-MM-DD) and {time} (HHMMSS), local time: a report a night. malloc'd. */
static char *expand_report_path(const char *path, const char *shard_text)
{
	char date[16], tod[16];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y-%m-%d", &tm);
	strftime(tod, sizeof tod, "%H%M%S", &tm);
	static const char *const names[] = {"{shard}", "{date}", "{time}"};
	const char *values[] = {shard_text, date, tod};
	size_t n = strlen(path) * (strlen(shard_text) + 16) + 1;
	char *out = malloc(n), *w = out;
	if (!out)
		return NULL;
	for (const char *p = path; *p;) {
		int k = 0;
		while (k < 3 && strncmp(p, names[k], strlen(names[k])))
			k++;
		if (k < 3) {
			w += sprintf(w, "%s", values[k]);
			p += strlen(names[k]);
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	return out;
}

/* The first "{word}" left in an expanded --report path (letters, digits, _), or NULL. */
static const char *unknown_placeholder(const char *path)
{
	for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
		size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_");
		if (n && p[1 + n] == '}')
			return p;
	}
	return NULL;
}

static void warn_line(void *data, const char *line)
{
	(void)data;
	report_say(stderr, "%s", line);
}

/* A removal of a --prune that a kill cut short of its record. */
static void pruned_before(void *data, const char *output, const char *input)
{
	run_ctx *x = data;
	report_pruned(x->rep, output, input, 0);
	x->pruned++;
}

/* Is there a journal file of this folder other than `own`? */
static int other_journals(outdir *od, const char *own)
{
	char **names = outdir_private_list(od, "journal", ".sqlite");
	int found = 0;
	for (char **p = names; p && *p; p++)
		found |= strcmp(*p, own) != 0;
	outdir_names_free(names);
	return found;
}

/* What besides --timeout and --max-pixels a remembered failure holds under: the
 * imgpool and libvips versions, and the resource limits the workers inherit
 * (ulimit -v, -d, -s, -u, -n, -t). Under a low one a good photo fails for want of
 * memory, stack, threads or descriptors ("Error creating thread", a C++ decoder's
 * abort, a stack overflow's crash), which looks like its content's fault; the same
 * limits fail it again, others try it again. */
static void failure_context(char *buf, size_t len)
{
	static const struct { int resource; const char *name; } limits[] = {
		{RLIMIT_AS, "as"}, {RLIMIT_DATA, "data"}, {RLIMIT_STACK, "stack"},
		{RLIMIT_NPROC, "nproc"}, {RLIMIT_NOFILE, "nofile"}, {RLIMIT_CPU, "cpu"},
	};
	int n = snprintf(buf, len, "imgpool %s %s", IMGPOOL_VERSION, thumb_vips_version());
	for (size_t i = 0; i < sizeof limits / sizeof limits[0] && n > 0 && (size_t)n < len; i++) {
		struct rlimit r;
		if (getrlimit(limits[i].resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
			n += snprintf(buf + n, len - (size_t)n, " %s=%llu", limits[i].name,
				      (unsigned long long)r.rlim_cur);
	}
}

/* Less free than this on the output folder's disk, and a journal that cannot be
 * opened is for want of room (SQLite needs a few pages for its -wal and -shm). */
#define FULL_DISK_BYTES ((uint64_t)1 << 20)

/* Open the journal (per shard, so array tasks never share an SQLite file), and
 * decide whether it was lost: then the thumbnails already there cannot be shown
 * to be imgpool's, and the run says so once (each is an error for its input).
 * *fresh: the run's journal starts empty (there is none yet, or an empty file).
 * -1 (exit code set, the cause said) when it cannot be opened or made. */
static int open_journal(run_ctx *x, const char *shname, uint64_t *fingerprint, int *lost,
			int *fresh)
{
	const imgpool_options *o = x->o;
	char settings_text[1200], jname[96], warn[MSG_LEN], err[MSG_LEN];
	*fingerprint = journal_fingerprint(&o->settings, o->name_template, settings_text,
					   sizeof settings_text);
	*lost = 0;
	*fresh = !o->no_journal;
	if (o->no_journal || outdir_private_fd(x->od) < 0)
		return 0;
	snprintf(jname, sizeof jname, x->shard.n ? "journal-%s.sqlite" : "journal.sqlite", shname);
	/* An empty file is no journal (a crash of the filesystem can leave one): what it
	 * held is lost as surely as if it were gone. */
	struct stat st;
	int existed = fstatat(outdir_private_fd(x->od), jname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      st.st_size > 0;
	*fresh = !existed;
	x->j = journal_open(x->od, jname, settings_text, o->dry_run, warn, sizeof warn, err,
			    sizeof err);
	if (warn[0]) {
		report_say(stderr, "%s", warn);
		*lost = 1;
	}
	journal_set_fingerprint(x->j, *fingerprint);
	journal_keep_folders(x->j); /* which folders beneath OUT are imgpool's */
	/* Where OUT holds nothing else, a lost journal cost nothing (a first run
	 * killed as it made its journal): no warning of thumbnails it cannot prove. */
	if (!existed && outdir_had_private(x->od) && !other_journals(x->od, jname) &&
	    !outdir_holds_only_private(x->od))
		*lost = 1;
	/* A dry run that cannot read its journal: where the run would move it aside,
	 * judge as with the empty one it would start (as for a lost one), and say so. */
	if (o->dry_run && !x->j && existed && !journal_would_keep(x->od, jname)) {
		report_say(stderr, "imgpool: warning: the journal %s/" OUTDIR_PRIVATE "/%s is "
			   "unusable: the run will move it aside and start anew",
			   outdir_path(x->od), jname);
		*fresh = *lost = 1;
	}
	if (!x->j && err[0]) {
		/* Going on without it would make thumbnails no later run can show are
		 * imgpool's: each would be an error for its input from then on. On a
		 * full disk, room is the answer, not --no-journal (asked of the disk,
		 * not read from SQLite's words). */
		struct statvfs vfs;
		int full = fstatvfs(outdir_fd(x->od), &vfs) == 0 &&
			   ((uint64_t)vfs.f_bavail * vfs.f_frsize < FULL_DISK_BYTES ||
			    (vfs.f_files > 0 && vfs.f_favail == 0));
		report_say(stderr, "imgpool: %s; no thumbnail was made (%s)", err,
			   full ? "the output folder's disk is full: make room there, and run "
				  "again"
				: "--no-journal runs without one");
		return x->sum.exit_code = EXIT_SOME_FAILED, -1;
	}
	if (*lost && !o->overwrite)
		report_say(stderr, "imgpool: warning: %s has no journal of earlier runs (it was "
			   "lost, or they ran with --no-journal): thumbnails already there "
			   "cannot be shown to be imgpool's, so each is left alone and is an "
			   "error for its input; --overwrite remakes them", outdir_path(x->od));
	return 0;
}

/* Is path a file in the output folder out, which is not there yet (the run makes
 * it: --report OUT/report.jsonl)? Nothing can be at path then, and its folder is
 * checked by being made. */
static int in_new_folder(const char *path, const char *out)
{
	char *dir = path_dir(path);
	char *a = dir ? path_lexical(dir) : NULL;
	char *b = a ? path_lexical(out) : NULL;
	int in = b && !strcmp(a, b) && access(out, F_OK) != 0 && errno == ENOENT;
	free(dir);
	free(a);
	free(b);
	return in;
}

/* The files named to be written besides the thumbnails (--report, --trace,
 * --timeline), before anything is made: one that may not be written (sidefile.h:
 * an input named by mistake, a symlink) is a usage error, with nothing in the
 * output folder to show for it. They are checked again as they are opened. On top
 * of sidefile.h's rules, a run's own:
 *   - none inside the output folder's private folder: written over its journal
 *     (its -wal file may be empty) or lock, the run would lose what shows which
 *     thumbnails are imgpool's;
 *   - no two lead to one place (--report - and --trace /dev/stdout, one file
 *     named twice): their writes would mix;
 *   - a trace or timeline on standard output moves the per-file lines to
 *     standard error (*lines_to_stderr), as --report - does (report_open()):
 *     standard output holds that file alone;
 *   - none where standard error goes (but a terminal): imgpool's own errors
 *     and warnings, which only standard error takes, would mix into it.
 * 0, -1 when one is refused, -3 when none is but another run writes one, or -2
 * when a folder cannot take one (sidefile_check()): each is said (on stderr), not only the first, so one try
 * shows everything to mend. */
static int check_side_files(run_ctx *x, int *lines_to_stderr, char *msg, size_t len)
{
	const imgpool_options *o = x->o;
	const char *opt[] = {"--report", "--trace", "--timeline"};
	const char *path[] = {x->report_path && strcmp(x->report_path, "-") ? x->report_path
									   : NULL,
			      o->trace_path, o->timeline_path};
	/* where each goes, for the comparisons: the report's "-" is standard output */
	const char *place[] = {x->report_path && !path[0] ? "/dev/stdout" : path[0], path[1],
			       path[2]};
	const sidefile_kind kind[] = {SIDEFILE_REPORT, SIDEFILE_TRACE, SIDEFILE_SVG};
	char *priv = path_join(o->out_dir, OUTDIR_PRIVATE);
	char *priv_canon = priv ? path_canonical(priv) : NULL;
	int refused = 0, unwritable = 0, busy = 0;
	free(priv);
	for (int i = 0; i < 3; i++) {
		int rc = 0;
		if (!place[i])
			continue;
		char *canon = path[i] ? path_canonical(path[i]) : NULL;
		if (canon && priv_canon && path_is_under(canon, priv_canon)) {
			snprintf(msg, len, "%s: '%s' is inside the output folder's own folder '%s', "
				 "which holds imgpool's journal and locks: give a name outside it",
				 opt[i], path[i], priv_canon);
			rc = -1;
		} else if (path[i] && !in_new_folder(path[i], o->out_dir)) {
			rc = sidefile_check(opt[i], path[i], kind[i], i > 0,
					    i == 0 && o->report_append, msg, len);
		}
		free(canon);
		for (int j = 0; j < i && !rc; j++) {
			if (place[j] && sidefile_same_place(place[i], place[j])) {
				snprintf(msg, len, "%s '%s' and %s '%s' lead to one place: their "
					 "writes would mix; give each its own", opt[j],
					 path[j] ? path[j] : "-", opt[i], path[i]);
				rc = -1;
			}
		}
		/* Standard error cannot hold a side file: imgpool's errors and warnings
		 * go there, and mixed into the records (2> r.jsonl --report r.jsonl;
		 * &> r.jsonl too, where standard output is that file as well). */
		if (!rc && path[i] && sidefile_same_place(place[i], "/dev/stderr")) {
			snprintf(msg, len, "%s '%s' is where standard error goes: imgpool's "
				 "errors and warnings would mix into it; give another file (or "
				 "-, standard output)", opt[i], path[i]);
			rc = -1;
		}
		/* Standard output holds the side file alone then, as with --report -:
		 * the report too (> r.jsonl --report r.jsonl mixed ok lines into it). */
		else if (!rc && path[i] && sidefile_same_place(place[i], "/dev/stdout"))
			*lines_to_stderr = 1;
		if (rc)
			report_say(stderr, "imgpool: %s", msg);
		refused |= rc == -1;
		unwritable |= rc == -2;
		busy |= rc == -3;
	}
	free(priv_canon);
	return refused ? -1 : busy ? -3 : unwritable ? -2 : 0;
}

/* Everything before the pool: output folder, lock, report, walk, journal, planner.
 * Returns -1 with x->sum.exit_code set when the run cannot go on. */
int run_setup(run_ctx *x)
{
	const imgpool_options *o = x->o;
	char msg[MSG_LEN], warn[MSG_LEN], shname[64];
	if (shard_resolve(o->shard_arg, o->shard_count, &x->shard, msg, sizeof msg) < 0) {
		report_say(stderr, "imgpool: %s", msg);
		return x->sum.exit_code = EXIT_USAGE, -1;
	}
	shard_name(&x->shard, shname, sizeof shname);
	if (x->shard.n)
		snprintf(x->shard_label, sizeof x->shard_label, "%d/%d", x->shard.k, x->shard.n);
	x->sum.shard = x->shard_label;
	/* Every PATH mistyped: the default output folder is the first one's -thumbs,
	 * which a run finding nothing takes back (run_teardown()). A shard cannot (its
	 * sisters may be at work there) and left PATH-thumbs/.imgpool; a --files-from
	 * list has inputs of its own, whose thumbnails went to the typo's -thumbs. */
	if (o->out_dir_defaulted && (x->shard.n || o->files_from) &&
	    outfolder_first_there(o->paths, o->npaths) < 0) {
		report_say(stderr, "imgpool: %s: No such file or directory; the output folder is "
			   "chosen beside the first PATH there: give -o DIR", o->paths[0]);
		return x->sum.exit_code = EXIT_USAGE, -1;
	}
	x->report_path = o->report_path ? expand_report_path(o->report_path, shname) : NULL;
	/* A mistyped placeholder ({data}) kept as it is named one file for every
	 * night, replaced each time: the history the name was to keep, lost */
	const char *brace = x->report_path ? unknown_placeholder(x->report_path) : NULL;
	if (brace) {
		report_say(stderr, "imgpool: --report: unknown placeholder %.*s in '%s' (known: "
			   "{date}, {time}, {shard})", (int)(strchr(brace, '}') - brace + 1), brace,
			   o->report_path);
		return x->sum.exit_code = EXIT_USAGE, -1;
	}
	/* Standard output named as a file is "-": the report alone goes there, the
	 * per-file lines to standard error (they were mixed into the JSON). */
	if (x->report_path && (!strcmp(x->report_path, "/dev/stdout") ||
			       !strcmp(x->report_path, "/dev/fd/1") ||
			       !strcmp(x->report_path, "/proc/self/fd/1")))
		strcpy(x->report_path, "-");
	int lines_to_stderr = 0; /* --report - moves them itself (report_open()) */
	int sides = check_side_files(x, &lines_to_stderr, msg, sizeof msg);
	if (sides != 0) {
		/* A name refused is a usage error; a file another run is writing, a
		 * wait (75, as a locked OUT: a job's retry rule, not its failure); a
		 * folder that cannot take the file is the file not written (1), as
		 * when its open fails later. */
		x->report_refused = 1;
		return x->sum.exit_code = sides == -1 ? EXIT_USAGE
				       : sides == -3 ? EXIT_LOCKED : EXIT_SOME_FAILED, -1;
	}
	discover_config dc = {
		.paths = o->paths, .npaths = o->npaths, .recursive = o->recursive,
		.includes = o->includes, .nincludes = o->nincludes, .excludes = o->excludes,
		.nexcludes = o->nexcludes, .out_dir = o->out_dir,
		.name_template = o->name_template, .settings = &o->settings,
		.files_from = o->files_from, .files_nul = o->files_nul, .base = o->base,
		.stopping = stop_signal, .sharded = x->shard.n > 0,
	};
	/* The walk's set-up (the --name template, the --files-from list, --base)
	 * before the output folder: a usage error leaves nothing there (a lock
	 * file in a new folder made the next run warn of a lost journal). An
	 * output folder that is a file is outdir_open()'s to refuse (exit 1, as
	 * documented), not a usage error of the walk's. */
	struct stat ost;
	int not_folder = stat(o->out_dir, &ost) == 0 ? !S_ISDIR(ost.st_mode) : errno == ENOTDIR;
	if (not_folder && !(x->od = outdir_open(o->out_dir, 0, msg, sizeof msg))) {
		report_say(stderr, "imgpool: %s", msg);
		return x->sum.exit_code = EXIT_SOME_FAILED, -1;
	}
	outdir_close(x->od);
	x->od = NULL;
	char *derr = NULL;
	if (!(x->d = discover_open(&dc, &derr))) {
		report_say(stderr, "imgpool: %s", derr ? derr : "cannot start");
		free(derr);
		return x->sum.exit_code = EXIT_USAGE, -1;
	}
	if (!(x->od = outdir_open(o->out_dir, !o->dry_run, msg, sizeof msg))) {
		report_say(stderr, "imgpool: %s", msg);
		return x->sum.exit_code = EXIT_SOME_FAILED, -1;
	}
	/* -n takes no lock: a run at work there now makes what it lists a moment's
	 * (a thumbnail being written was "an existing thumbnail to adopt"). Said. */
	long busy = o->dry_run ? lock_any_holder(x->od) : 0;
	if (busy) {
		char pid[32] = "";
		if (busy > 0)
			snprintf(pid, sizeof pid, " (pid %ld)", busy);
		report_say(stderr, "imgpool: -n: another run is at work in '%s' now%s: what it "
			   "has not finished yet is listed as it stands", o->out_dir, pid);
	}
	if (!o->dry_run) {
		int rc = lock_take(x->od, &x->shard, &x->lock, msg, sizeof msg, warn, sizeof warn);
		if (rc != LOCK_TAKEN) {
			report_say(stderr, "imgpool: %s", msg);
			return x->sum.exit_code = rc == LOCK_BUSY ? EXIT_LOCKED : EXIT_SOME_FAILED, -1;
		}
		if (warn[0])
			report_say(stderr, "%s", warn);
		/* The temp folder at once, under the lock: it is locked too, and that
		 * is what stops a second run of the same shard whose lock files were
		 * deleted, before it touches anything (the recovery below included). */
		char tmp[96];
		snprintf(tmp, sizeof tmp, "tmp-%s", shname);
		int tmp_rc = outdir_tmp_setup(x->od, tmp, task_temp_name_ours);
		if (tmp_rc < 0 && errno == EBUSY) {
			report_say(stderr, "imgpool: another imgpool run%s%s is writing to '%s' "
				   "(its lock files in '%s/" OUTDIR_PRIVATE "' were deleted); run "
				   "again when it has finished", x->shard.n ? " of shard " : "",
				   x->shard_label, o->out_dir, o->out_dir);
			return x->sum.exit_code = EXIT_LOCKED, -1;
		} else if (tmp_rc < 0 && errno == EXDEV) {
			report_say(stderr, "imgpool: '%s/" OUTDIR_PRIVATE "' is on another "
				   "filesystem than '%s' (a mount point?): the thumbnails made in "
				   "it could not be moved into place", o->out_dir, o->out_dir);
			return x->sum.exit_code = EXIT_SOME_FAILED, -1;
		} else if (tmp_rc < 0) {
			report_say(stderr, "imgpool: cannot make a temp folder in '%s/"
				   OUTDIR_PRIVATE "': %s", o->out_dir, outdir_strerror(errno));
			return x->sum.exit_code = EXIT_SOME_FAILED, -1;
		}
	}
	/* A --report FIFO waits in open() for a reader; a signal that came before the
	 * wait would not end it. Any other report is opened, to say the run was
	 * stopped (a file left absent or empty read as a run that never began). */
	struct stat rst;
	if (stop_signal() && x->report_path && strcmp(x->report_path, "-") &&
	    stat(x->report_path, &rst) == 0 && S_ISFIFO(rst.st_mode)) {
		x->report_refused = 1;
		return -1;
	}
	x->stdout_is_side = lines_to_stderr || (x->report_path && !strcmp(x->report_path, "-"));
	if (!(x->rep = report_open_append(lines_to_stderr ? stderr : stdout, stderr, o->quiet,
					  o->verbose, x->report_path, o->report_append, msg,
					  sizeof msg))) {
		/* past check_side_files(): not the command's fault but the machine's
		 * (read-only, full, no descriptor left), exit 1 as --help says; or
		 * another run took it since the check: a wait, 75, as the check says */
		int taken = errno == EWOULDBLOCK;
		x->report_refused = 1;
		report_say(stderr, "imgpool: %s", msg);
		return x->sum.exit_code = taken ? EXIT_LOCKED : EXIT_SOME_FAILED, -1;
	}
	/* Named inside OUT, even at an output's path (--report out/dog.jpg): no
	 * output takes its place, --overwrite or not (publish_inspect()). */
	struct stat rep;
	if (x->report_path && strcmp(x->report_path, "-") && stat(x->report_path, &rep) == 0 &&
	    S_ISREG(rep.st_mode))
		outdir_keep(x->od, &rep);
	if (!o->dry_run)
		x->count = counter_start(&dc, &x->shard, &x->c);
	uint64_t fingerprint;
	int lost, fresh;
	if (open_journal(x, shname, &fingerprint, &lost, &fresh) < 0)
		return -1;
	x->pb = (publisher){.od = x->od, .j = x->j, .overwrite = o->overwrite, .d = x->d};
	char context[256];
	failure_context(context, sizeof context);
	planner_config pc = {
		.d = x->d, .od = x->od, .j = x->j, .no_journal = o->no_journal,
		.settings = &o->settings,
		.fingerprint = fingerprint,
		.limits = journal_limits(o->timeout, o->settings.max_pixels, o->settings.fail_on,
					 context),
		.shard = x->shard, .force = o->force, .overwrite = o->overwrite,
		.checksum = o->checksum, .retry_failed = o->retry_failed,
		.run_start_ns = x->started_ns,
		/* Not for a --files-from list: its files go out as they come, and a
		 * watcher's pipe is closed only when the watcher ends. */
		.hold_contested = !o->dry_run && !o->files_from,
		.hold_for_prune = o->prune && x->j,
		.dry_run_holds = o->dry_run && !o->files_from,
		.hold_claims = o->dry_run && !o->files_from,
		.on_passed = run_on_passed, .data = x,
		.on_removed = run_on_stale_removed, .on_kept = run_on_stale_kept,
		.dry_run = o->dry_run,
		/* A dry run without a journal to read, where the run would start one
		 * anew: outputs there are no one's, as that run will find them. */
		.empty_journal = !x->j && fresh,
	};
	/* A list read from --files-from may be a live stream: its files go out as
	 * they come, with no window to fill. */
	errno = 0;
	if (!(x->plan = planner_new(&pc)) || !(x->flight = inflight_new()) ||
	    !(x->window = lookahead_new(o->files_from ? 1 : LOOKAHEAD_FILES))) {
		fprintf(stderr, "imgpool: cannot start the run: %s\n",
			strerror(errno ? errno : ENOMEM));
		return x->sum.exit_code = EXIT_SOME_FAILED, -1;
	}
	if (!o->dry_run) {
		publish_recover(&x->pb, warn_line, pruned_before, x);
		/* As many fsyncs in flight as workers, as when each made its own. */
		errno = 0;
		if (!(x->sync = outsync_start(x->od, run_jobs(o)))) {
			fprintf(stderr, "imgpool: cannot start the run: %s\n",
				strerror(errno ? errno : ENOMEM));
			return x->sum.exit_code = EXIT_SOME_FAILED, -1;
		}
	}
	return 0;
}

int run_jobs(const imgpool_options *o)
{
	return o->jobs ? o->jobs : shard_cpus(); /* what the scheduler gave, not the node */
}

/* The run's own files in OUT/.imgpool: its journal (journal.sqlite, journal-K-of-N
 * .sqlite, SQLite's -wal and -shm beside them) and its locks (lock.h). */
static int bookkeeping_name(const char *name)
{
	return !strncmp(name, "journal", 7) || !strncmp(name, "lock", 4);
}

/* The one cleanup path: whatever run_setup() and the run opened, in reverse. */
void run_teardown(run_ctx *x)
{
	/* Read before the journal closes: a run that found no input (every PATH
	 * mistyped) may take back the output folder it made. Not one that recorded a
	 * failure (the next run is to skip that file: --retry-failed) or cancelled
	 * one at a signal (it found inputs). One that stopped before its journal
	 * opened (it could not be made, or a --report could not) recorded nothing:
	 * outdir_unmake() leaves a .imgpool that was there before. */
	int no_file = x->sum.done + x->sum.skipped + x->sum.cancelled == 0 &&
		      (x->o->no_journal || !x->j || journal_holds_no_file(x->j));
	counter_stop(x->count);
	journal_close(x->j, x->sum.done, x->sum.failed, x->sum.skipped, x->sum.wall_s,
		      x->sum.interrupted);
	lookahead_free(x->window);
	planner_free(x->plan);
	inflight_free(x->flight);
	discover_close(x->d);
	outsync_stop(x->sync);	/* before the temp folder it syncs in goes */
	if (x->od)
		outdir_tmp_cleanup(x->od);
	/* A run that made the output folder, or only its .imgpool, and found
	 * nothing to put in it takes it back, under its lock; not a shard, whose
	 * sisters may be at work in the same new folder. */
	if (x->lock && !x->shard.n && no_file)
		outdir_unmake(x->od, bookkeeping_name);
	lock_release(x->lock);
	outdir_close(x->od);
	pool_buf_release(&x->buf);
	free(x->report_path);
}
