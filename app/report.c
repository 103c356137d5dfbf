/* SPDX-License-Identifier: MIT */
/*
 * report.c — per-file lines, JSON Lines, progress and summary. See report.h.
 *
 * JSON is written by hand here: the libraries in Debian (json-c, jansson) either
 * refuse strings that are not UTF-8 or copy their bytes raw, producing invalid JSON,
 * and file names on Linux are bytes. The writer below is the few lines it takes to
 * escape a byte string losslessly; numbers and keys are ours.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "outdir.h"
#include "report.h"
#include "sidefile.h"
#include "sinks.h"

/* The report's stdio buffer: a record is written whole, in one write(). */
#define REPORT_RECORD_MAX (1 << 20)

struct report {
	pthread_mutex_t lock;
	FILE *out, *err;
	FILE *json;
	sidefile *json_file; /* --report FILE (not "-") */
	char *json_buf;      /* its stdio buffer, REPORT_RECORD_MAX bytes */
	int json_is_stdout;
	int quiet, verbose;
	int live_shown;     /* a live progress line is on the terminal now */
	char started[40];   /* RFC 3339, when the report was opened */
	const char *fixed_time; /* report_fix_time(): every record's time (tests) */
	int json_failed;    /* a record's write failed (its errno): no more are written */
	off_t json_good;    /* where the last whole record ends (-1: not a file of its
	                       own, which others write too: never cut back) */
};

report *report_open(FILE *out, FILE *err, int quiet, int verbose, const char *json_path,
		    char *msg, size_t msglen)
{
	return report_open_append(out, err, quiet, verbose, json_path, 0, msg, msglen);
}

report *report_open_append(FILE *out, FILE *err, int quiet, int verbose,
			   const char *json_path, int append, char *msg, size_t msglen)
{
	report *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->out = out;
	r->err = err;
	r->quiet = quiet;
	r->verbose = verbose;
	clock_iso_now(r->started, sizeof r->started);
	if (json_path && !strcmp(json_path, "-")) {
		r->json = out;
		r->json_is_stdout = 1;
		r->out = err; /* keep stdout pure JSON */
	} else if (json_path) {
		r->json_file = sidefile_create("--report", json_path, SIDEFILE_REPORT, 0, append,
					       msg, msglen);
		if (!r->json_file && errno == EINTR) {
			/* Only a FIFO's open() waits: for a reader, until a signal came. */
			snprintf(msg, msglen, "--report: '%s' is a FIFO no reader opened; "
				 "stopped waiting for one (a signal came)", json_path);
		}
		if (!r->json_file) {
			int e = errno; /* EWOULDBLOCK: another run writes it */
			pthread_mutex_destroy(&r->lock);
			free(r);
			errno = e;
			return NULL;
		}
		r->json = sidefile_stream(r->json_file);
		/* One write() per record: runs appending to one file at once (shards,
		 * O_APPEND) interleave whole writes only, and a record longer than
		 * stdio's 4 KiB buffer (long paths, several sizes) went out in two,
		 * another shard's record in between. Every record is flushed at its
		 * end, and none comes near this size (9 paths of PATH_MAX and a cause,
		 * each escaped). glibc takes the size only with a buffer given. */
		r->json_buf = malloc(REPORT_RECORD_MAX);
		if (r->json_buf)
			setvbuf(r->json, r->json_buf, _IOFBF, REPORT_RECORD_MAX);
	}
	/* Only a file imgpool opened by its name, and no other run appends to, is
	 * its own to cut back (json_end_record()). */
	r->json_good = sidefile_is_own_file(r->json_file) && !append
			       ? lseek(fileno(r->json), 0, SEEK_CUR)
			       : -1;
	return r;
}

/* Is the report still being written? */
static int json_on(const report *r)
{
	return r->json && !r->json_failed;
}

/*
 * End a record: flush it, in one write. One that failed (a full disk, a closed
 * pipe) may have written part of the record, and records written after it, once
 * the disk had room again, followed the cut one on its line: every reader of
 * JSON Lines stops there. So the report stops at the first failure: a file of
 * its own is cut back to its last whole record; a file others append to too
 * (--report-append shards), or a stream, gets a newline, so that what follows
 * starts a line of its own. What stdio still holds is dropped; report_close()
 * says the report was not written whole.
 */
static void json_end_record(report *r)
{
	int fd = fileno(r->json);
	if (fflush(r->json) == 0 && !ferror(r->json)) {
		if (r->json_good >= 0)
			r->json_good = lseek(fd, 0, SEEK_CUR);
		return;
	}
	r->json_failed = errno ? errno : EIO;
	__fpurge(r->json);
	if (r->json_good < 0 || ftruncate(fd, r->json_good) != 0)
		(void)!write(fd, "\n", 1);
}

/* Erase a live progress line before other output (caller holds the lock). */
static void clear_live(report *r)
{
	if (r->live_shown) {
		fputs("\r\033[K", r->err);
		fflush(r->err);
		r->live_shown = 0;
	}
}

static const char *status_word(report_status s)
{
	switch (s) {
	case REPORT_OK: return "ok";
	case REPORT_ERROR: return "error";
	case REPORT_SKIPPED: return "skipped";
	case REPORT_PLANNED: return "planned";
	case REPORT_CANCELLED: return "cancelled";
	}
	return "?";
}

/* The stream a file's line goes to: errors to stderr (a cron job's `>/dev/null`
 * must not hide a failure; vipsthumbnail, mogrify and parallel do the same), the
 * rest to stdout. */
static FILE *stream_of(const report *r, const report_file *f)
{
	return f->status == REPORT_ERROR ? r->err : r->out;
}

static void human_line(report *r, const report_file *f)
{
	FILE *o = stream_of(r, f);
	char b1[32], b2[32];
	switch (f->status) {
	case REPORT_OK: {
		fputs("ok    ", o);
		report_put_name(o, f->input);
		fprintf(o, "  %dx%d %s ->", f->res->in_w, f->res->in_h,
			report_bytes(f->res->in_bytes, b1, sizeof b1));
		for (int i = 0; i < f->noutputs && i < f->res->nout; i++) {
			fputc(' ', o);
			report_put_name(o, f->outputs[i]);
			fprintf(o, " %dx%d %s", f->res->out[i].w, f->res->out[i].h,
				report_bytes(f->res->out[i].bytes, b2, sizeof b2));
			if (i + 1 < f->noutputs)
				fputc(',', o);
		}
		fprintf(o, "  %.0f ms\n", f->ms);
		break;
	}
	case REPORT_ERROR:
		fputs("error ", o);
		report_put_name(o, f->input);
		fputs(": ", o);
		report_put_name(o, f->cause ? f->cause : "unknown error");
		fputc('\n', o);
		break;
	case REPORT_SKIPPED:
		fputs("skip  ", o);
		report_put_name(o, f->input);
		fputs(" (up to date)\n", o);
		break;
	case REPORT_PLANNED:
		fputs("would ", o);
		report_put_name(o, f->input);
		fputs(" ->", o);
		for (int i = 0; i < f->noutputs; i++) {
			fputc(' ', o);
			report_put_name(o, f->outputs[i]);
		}
		fputc('\n', o);
		break;
	case REPORT_CANCELLED:
		/* Not a failure: the run was stopped; still one answer for the file. */
		fputs("stop  ", o);
		report_put_name(o, f->input);
		fputs(": ", o);
		report_put_name(o, f->cause ? f->cause : "interrupted");
		fputc('\n', o);
		break;
	}
	/* Its thumbnails of earlier settings (-s 1600,320 then -s 1200,320) went as
	 * it was redone: said, as --prune's are, not taken away unseen. */
	for (int i = 0; i < f->nremoved; i++) {
		fputs(f->status == REPORT_PLANNED || f->dry_run ? "would remove " : "remove ", o);
		report_put_name(o, f->removed[i]);
		fputs(" (no longer an output of ", o);
		report_put_name(o, f->input);
		fputs(")\n", o);
	}
}

void report_fix_time(report *r, const char *iso)
{
	r->fixed_time = iso;
	if (iso)
		snprintf(r->started, sizeof r->started, "%s", iso);
}

/* Every record starts alike: the schema version (docs/report-schema.md), when it
 * was written (RFC 3339, clock_iso_now(): a cron log read elsewhere stays right), and
 * its type. */
static void json_head(report *r, const char *type)
{
	char now[40];
	if (r->fixed_time)
		snprintf(now, sizeof now, "%s", r->fixed_time);
	else
		clock_iso_now(now, sizeof now);
	fprintf(r->json, "{\"schema\":%d,\"time\":\"%s\",\"type\":\"%s\"", REPORT_SCHEMA, now,
		type);
}

static void json_line(report *r, const report_file *f)
{
	FILE *j = r->json;
	json_head(r, "file");
	fputs(",\"status\":", j);
	report_json_string(j, status_word(f->status));
	fputs(",\"input\":", j);
	report_json_string(j, f->input);
	if (f->status == REPORT_OK) {
		fprintf(j, ",\"width\":%d,\"height\":%d,\"bytes\":%llu", f->res->in_w,
			f->res->in_h, (unsigned long long)f->res->in_bytes);
	}
	fputs(",\"outputs\":[", j);
	for (int i = 0; i < f->noutputs; i++) {
		if (i)
			putc(',', j);
		fputs("{\"path\":", j);
		report_json_string(j, f->outputs[i]);
		if (f->status == REPORT_OK && i < f->res->nout)
			fprintf(j, ",\"width\":%d,\"height\":%d,\"bytes\":%llu",
				f->res->out[i].w, f->res->out[i].h,
				(unsigned long long)f->res->out[i].bytes);
		putc('}', j);
	}
	putc(']', j);
	if (f->cause) {
		fputs(",\"error\":", j);
		report_json_line(j, f->cause);
	}
	if (f->nremoved) {
		fputs(",\"removed\":[", j);
		for (int i = 0; i < f->nremoved; i++) {
			if (i)
				putc(',', j);
			report_json_string(j, f->removed[i]);
		}
		putc(']', j);
	}
	if ((f->status == REPORT_ERROR || f->status == REPORT_CANCELLED) && f->kind != FAIL_NONE) {
		fputs(",\"kind\":", j);
		report_json_string(j, failure_name(f->kind));
	}
	if (f->status == REPORT_OK || f->status == REPORT_ERROR)
		fprintf(j, ",\"ms\":%.1f,\"attempts\":%d,\"worker\":%d", f->ms, f->attempts,
			f->worker);
	fputs("}\n", j);
}

void report_file_done(report *r, const report_file *f)
{
	pthread_mutex_lock(&r->lock);
	int show = f->status == REPORT_ERROR ||
		   (!r->quiet && (f->status != REPORT_SKIPPED || r->verbose || f->nremoved));
	if (show) {
		clear_live(r);
		human_line(r, f);
		fflush(stream_of(r, f));
	}
	if (json_on(r)) {
		json_line(r, f);
		json_end_record(r); /* a kill -9 still leaves every finished file reported */
	}
	pthread_mutex_unlock(&r->lock);
}

int report_term_dumb(void)
{
	const char *t = getenv("TERM");
	return t && !strcmp(t, "dumb");
}

/* The width of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else no limit (a
 * pty whose size was never set says 0). */
static int terminal_columns(int fd)
{
	/* Any width the terminal gives: below 20 columns the bar was left uncut,
	 * and wrapped. 0 is a terminal that does not know (a serial line). */
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *env = getenv("COLUMNS");
	int n = env ? atoi(env) : 0;
	return n > 0 && n <= 100000 ? n : INT_MAX;
}

void report_progress(report *r, const char *line, int live)
{
	pthread_mutex_lock(&r->lock);
	/* The monitor's thread, which no signal reaches, never waits on a reader:
	 * a line it does not take at once is dropped (sinks.h). */
	if (!sinks_ready(fileno(r->err))) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (live) {
		/* Cut to the terminal's width: a line that wraps is cleared only in its
		 * last row, and every tick then scrolls a stale copy up. The line is
		 * imgpool's own ASCII (no name), so bytes are columns. */
		int cols = terminal_columns(fileno(r->err));
		/* Narrow (a split pane, a phone's ssh): the count and the ETA first, the
		 * bar ("[" 20 "] ") dropped, where the cut kept the bar alone. */
		if (cols < 60 && line[0] == '[' && strlen(line) > 23 && line[21] == ']')
			line += 23;
		fprintf(r->err, "\r\033[K%.*s", cols == INT_MAX ? cols : cols - 1, line);
		r->live_shown = 1;
	} else {
		clear_live(r);
		fprintf(r->err, "%s\n", line);
	}
	fflush(r->err);
	pthread_mutex_unlock(&r->lock);
}

/* "SIGINT", "SIGTERM", "SIGHUP" for the signals a run stops on. */
static const char *signal_name(int sig)
{
	static char buf[16];
	const char *ab = sigabbrev_np(sig);
	snprintf(buf, sizeof buf, "SIG%s", ab ? ab : "INT");
	return buf;
}

void report_stopping(report *r, int sig)
{
	if (r->quiet)
		return;
	pthread_mutex_lock(&r->lock);
	clear_live(r);
	fprintf(r->err, "imgpool: %s: the files running finish, the rest are left for the next "
		"run (%s stops them now)\n", signal_name(sig),
		sig == SIGINT ? "Ctrl-C again" : "a second signal");
	fflush(r->err);
	pthread_mutex_unlock(&r->lock);
}

/* How many files the run answers for were not started: exact once the total is
 * known (the walk or the counting walk finished: 1), unknown before (0). */
static int not_started_count(const report_summary *s, uint64_t *n)
{
	uint64_t answered = s->done + s->failed + s->skipped;
	*n = s->total > answered ? s->total - answered : 0;
	return s->total_known;
}

/* "12 not started" when the count is exact; otherwise the files handed out and
 * cancelled, and "at least". */
static void not_started(const report_summary *s, char *buf, size_t len)
{
	uint64_t n;
	if (not_started_count(s, &n))
		snprintf(buf, len, "%llu not started", (unsigned long long)n);
	else
		snprintf(buf, len, "at least %llu not started; the walk did not finish",
			 (unsigned long long)s->cancelled);
}

/* What the summary derives from the counts: one place for the line and the JSON. */
typedef struct run_rates {
	double images_per_s, mb_per_s, cpu_pct, efficiency;
} run_rates;

static run_rates rates_of(const report_summary *s)
{
	run_rates k = {0};
	if (s->wall_s > 0) {
		k.images_per_s = (double)s->done / s->wall_s;
		k.mb_per_s = (double)s->bytes_in / 1e6 / s->wall_s;
		if (s->cores)
			k.cpu_pct = 100 * s->cpu_s / (s->wall_s * s->cores);
		if (s->workers)
			k.efficiency = s->task_s / (s->wall_s * s->workers);
	}
	return k;
}

/* The ending of a count's noun: "1 error", "2 errors". */
static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* The summary line's figures in brackets. Rates and the parallel efficiency only
 * when something was made: "0.0 images/s, parallel efficiency 0%" after a run that
 * found everything up to date would read as a failure of speed. */
static const char *run_figures(const report_summary *s, char *buf, size_t len)
{
	char rb[32];
	report_bytes(s->rss_peak, rb, sizeof rb);
	run_rates k = rates_of(s);
	uint64_t left = 0;
	int all_answered = not_started_count(s, &left) && !left && !s->cancelled;
	if (s->not_run)
		snprintf(buf, len, "not run: the error above says why");
	else if (!s->done && !s->failed && !s->skipped && all_answered && s->not_walked)
		snprintf(buf, len, "nothing to make: no image found, %llu subfolder%s not "
			 "walked; -r walks them", (unsigned long long)s->not_walked,
			 plural(s->not_walked));
	else if (!s->done && !s->failed)
		snprintf(buf, len, all_answered && !s->interrupted && !s->stop_reason
				   ? "nothing to make" : "nothing made");
	else if (!s->done)
		snprintf(buf, len, "CPU %.2f s = %.0f%% of %d core%s, peak worker RSS %s", s->cpu_s,
			 k.cpu_pct, s->cores, plural((uint64_t)s->cores), rb);
	else
		snprintf(buf, len,
			 "%.1f images/s, %.1f MB/s read, CPU %.2f s = %.0f%% of %d core%s, peak "
			 "worker RSS %s, parallel efficiency %.0f%% of %d worker%s",
			 k.images_per_s, k.mb_per_s, s->cpu_s, k.cpu_pct, s->cores,
			 plural((uint64_t)s->cores), rb, k.efficiency * 100, s->workers,
			 plural((uint64_t)s->workers));
	return buf;
}

void report_summary_print(report *r, const report_summary *s)
{
	report_summary_text(r, s);
	report_summary_record(r, s);
}

void report_summary_text(report *r, const report_summary *s)
{
	pthread_mutex_lock(&r->lock);
	clear_live(r);
	char figures[256];
	char ns[64];
	not_started(s, ns, sizeof ns);
	/* On standard error, with -q too: a cron run ended by a TERM said nothing but
	 * its exit status (a crontab's >/dev/null took it with the summary), and its
	 * files were neither done nor in error. */
	if (s->interrupted) {
		fprintf(r->err, "imgpool: interrupted by %s: running files %s, %s\n",
			signal_name(s->interrupted), s->stopped_running ? "stopped" : "finished",
			ns);
		fflush(r->err);
	}
	/* Why the run stopped itself (--min-free, the journal) is an error, on
	 * standard error as the files it left are: a crontab's >/dev/null keeps it,
	 * and -q too. The count only when some file has no answer of its own. */
	if (s->stop_reason) {
		uint64_t left = 0;
		int answered = not_started_count(s, &left) && !left;
		fputs("imgpool: ", r->err); /* it may name OUT: escaped */
		report_put_name(r->err, s->stop_reason);
		/* Those without an error of their own: the ones a worker held. "(2 not
		 * started)" beside 57 "not started" errors read as 2 left of 59. */
		if (answered)
			fputc('\n', r->err);
		else if (s->total_known)
			fprintf(r->err, " (%llu of them cancelled)\n", (unsigned long long)left);
		else
			fprintf(r->err, " (%s)\n", ns);
		fflush(r->err);
	}
	if (!r->quiet) {
		FILE *o = r->out;
		if (s->dry_run)
			fprintf(o, "imgpool: dry run: %llu to make, %llu up to date, %llu "
				   "error%s\n", (unsigned long long)s->planned,
				(unsigned long long)s->skipped, (unsigned long long)s->failed,
				plural(s->failed));
		else
			fprintf(o, "imgpool: %s%s%s%llu done, %llu failed, %llu skipped in %.2f s "
				   "(%s)\n",
				s->shard && *s->shard ? "shard " : "",
				s->shard && *s->shard ? s->shard : "",
				s->shard && *s->shard ? ": " : "",
				(unsigned long long)s->done, (unsigned long long)s->failed,
				(unsigned long long)s->skipped, s->wall_s,
				run_figures(s, figures, sizeof figures));
		if (s->adopted)
			fprintf(o, "imgpool: journal: %llu existing thumbnail%s %s (up to date, "
				   "recorded under another name or not at all)\n",
				(unsigned long long)s->adopted,
				plural(s->adopted), s->dry_run ? "to adopt" : "adopted");
		if (s->failed_earlier)
			fprintf(o, "imgpool: %llu of the failures failed earlier and %s unchanged: "
				   "not tried again (--retry-failed tries %s)\n",
				(unsigned long long)s->failed_earlier,
				s->failed_earlier == 1 ? "is" : "are",
				s->failed_earlier == 1 ? "it" : "them");
		if (s->pruned)
			fprintf(o, "imgpool: --prune: %llu thumbnail%s of deleted inputs %s\n",
				(unsigned long long)s->pruned, plural(s->pruned),
				s->dry_run ? "to remove" : "removed");
		if (s->removed)
			fprintf(o, "imgpool: %llu thumbnail%s of earlier settings %s\n",
				(unsigned long long)s->removed, plural(s->removed),
				s->dry_run ? "to remove" : "removed");
		if (s->recycled || s->crashed)
			fprintf(o, "imgpool: workers: %llu recycled (--max-worker-rss), %llu died and "
				   "were replaced\n", (unsigned long long)s->recycled,
				(unsigned long long)s->crashed);
		fflush(o);
	}
	/* A photo folder given to -o by mistake left every later walk without a
	 * word, its edits and new photos never thumbnailed. Not with -q (error lines
	 * only): output folders kept side by side in the tree are a layout, and a
	 * cron run would mail the line every night. */
	if (s->other_outputs && !r->quiet) {
		fprintf(r->err, "imgpool: warning: %llu folder%s not walked as %s an imgpool "
			"output folder (it holds " OUTDIR_PRIVATE "): %s",
			(unsigned long long)s->other_outputs, plural(s->other_outputs),
			s->other_outputs > 1 ? "each is" : "it is",
			s->other_outputs > 1 ? "the first, " : "");
		report_put_name(r->err, s->other_output ? s->other_output : "?");
		fputs(" (if not, delete its " OUTDIR_PRIVATE ")\n", r->err);
	}
	fflush(r->err);
	pthread_mutex_unlock(&r->lock);
}

void report_summary_record(report *r, const report_summary *s)
{
	pthread_mutex_lock(&r->lock);
	if (json_on(r)) {
		run_rates k = rates_of(s);
		json_head(r, "summary");
		fprintf(r->json, ",\"version\":\"%s\",\"started\":\"%s\",\"shard\":", IMGPOOL_VERSION,
			r->started);
		if (s->shard && *s->shard)
			report_json_string(r->json, s->shard);
		else
			fputs("null", r->json);
		uint64_t left;
		if (not_started_count(s, &left))
			fprintf(r->json, ",\"total\":%llu,\"not_started\":%llu",
				(unsigned long long)s->total, (unsigned long long)left);
		else
			fputs(",\"total\":null,\"not_started\":null", r->json);
		fprintf(r->json,
			",\"done\":%llu,\"failed\":%llu,\"skipped\":%llu,"
			"\"cancelled\":%llu,\"planned\":%llu,\"wall_s\":%.3f,\"cpu_s\":%.3f,"
			"\"images_per_s\":%.2f,\"mb_per_s_read\":%.2f,\"bytes_in\":%llu,"
			"\"bytes_out\":%llu,\"workers\":%d,\"parallel_efficiency\":%.3f,"
			"\"interrupted\":%s,\"peak_worker_rss\":%llu,\"workers_recycled\":%llu,"
			"\"workers_died\":%llu,\"adopted\":%llu,\"failed_earlier\":%llu,"
			"\"pruned\":%llu,\"removed\":%llu,\"exit_code\":%d}\n",
			(unsigned long long)s->done,
			(unsigned long long)s->failed,
			(unsigned long long)s->skipped, (unsigned long long)s->cancelled,
			(unsigned long long)s->planned, s->wall_s, s->cpu_s, k.images_per_s,
			k.mb_per_s, (unsigned long long)s->bytes_in,
			(unsigned long long)s->bytes_out, s->workers, k.efficiency,
			s->interrupted ? "true" : "false",
			(unsigned long long)s->rss_peak, (unsigned long long)s->recycled,
			(unsigned long long)s->crashed, (unsigned long long)s->adopted,
			(unsigned long long)s->failed_earlier, (unsigned long long)s->pruned,
			(unsigned long long)s->removed, s->exit_code);
		json_end_record(r); /* in one write, as every record (report_open_append()) */
	}
	pthread_mutex_unlock(&r->lock);
}

/* A prune record (under r->lock): cause NULL for an output removed (or, dry run,
 * to be removed), else why it is kept. */
static void json_prune(report *r, const char *output, const char *input, int dry_run,
		       const char *cause)
{
	if (!json_on(r))
		return;
	json_head(r, "prune");
	fputs(",\"output\":", r->json);
	report_json_string(r->json, output);
	fputs(",\"input\":", r->json);
	report_json_string(r->json, input);
	fprintf(r->json, ",\"dry_run\":%s", dry_run ? "true" : "false");
	if (cause) {
		fputs(",\"error\":", r->json);
		report_json_line(r->json, cause);
	}
	fputs("}\n", r->json);
	json_end_record(r); /* as a file's record: a kill -9 loses no deletion's */
}

void report_pruned(report *r, const char *output, const char *input, int dry_run)
{
	pthread_mutex_lock(&r->lock);
	clear_live(r);
	if (!r->quiet) {
		fputs(dry_run ? "would prune " : "prune ", r->out);
		report_put_name(r->out, output);
		fputs(" (its input ", r->out);
		report_put_name(r->out, input);
		fputs(" is gone)\n", r->out);
		fflush(r->out);
	}
	json_prune(r, output, input, dry_run, NULL);
	pthread_mutex_unlock(&r->lock);
}

void report_prune_kept(report *r, const char *output, const char *input, const char *cause,
		       int dry_run)
{
	pthread_mutex_lock(&r->lock);
	clear_live(r);
	fputs("error ", r->err);
	report_put_name(r->err, output);
	fputs(dry_run ? ": would not be pruned (its input " : ": not pruned (its input ", r->err);
	report_put_name(r->err, input);
	fputs(" is gone): ", r->err);
	report_put_name(r->err, cause);
	fprintf(r->err, "%s\n", dry_run ? "" : "; kept for the next --prune");
	fflush(r->err);
	json_prune(r, output, input, dry_run, cause);
	pthread_mutex_unlock(&r->lock);
}

void report_removal_kept(report *r, const char *output, const char *input, const char *cause)
{
	pthread_mutex_lock(&r->lock);
	clear_live(r);
	fputs("error ", r->err);
	report_put_name(r->err, output);
	fputs(": not removed (no longer an output of ", r->err);
	report_put_name(r->err, input);
	fputs("): ", r->err);
	report_put_name(r->err, cause);
	fputs("; the next run tries again\n", r->err);
	fflush(r->err);
	json_prune(r, output, input, 0, cause);
	pthread_mutex_unlock(&r->lock);
}

int report_close(report *r)
{
	if (!r)
		return 0;
	int rc = 0;
	char msg[256];
	if (r->json_failed)
		errno = r->json_failed; /* the cause, said by the caller or sidefile_close() */
	if (r->json_file) /* flushes, and checks, as below */
		rc = sidefile_close(r->json_file, 1, msg, sizeof msg);
	else if (r->json && (fflush(r->json) != 0 || ferror(r->json) || r->json_failed))
		rc = -1;
	int e = errno;
	free(r->json_buf); /* after the stream it buffered is closed */
	pthread_mutex_destroy(&r->lock);
	free(r);
	errno = e;
	return rc;
}
