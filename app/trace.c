/* SPDX-License-Identifier: MIT */
/*
 * trace.c — Chrome trace events and the SVG timeline of a run. See trace.h.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "sidefile.h"
#include "sinks.h"
#include "trace.h"

/* One bar of the timeline. */
typedef struct bar {
	int64_t start, end;   /* ns since t0 */
	int16_t worker;
	uint8_t status;       /* trace_status, or 255 for a death marker */
} bar;

struct trace {
	pthread_mutex_t lock;
	int64_t t0;
	int workers;
	sidefile *json_file;	/* --trace */
	FILE *json;
	char *svg_path;		/* --timeline, written at the end */
	int first_event;
	bar *bars;
	size_t nbars, capbars;
};

static double us(const trace *t, int64_t ns)
{
	return (double)(ns - t->t0) / 1e3;
}

/* Write one event, comma-separated from the previous (caller holds the lock). */
static void begin_event(trace *t)
{
	if (!t->first_event)
		fputs(",\n", t->json);
	t->first_event = 0;
}

trace *trace_open(const char *json_path, const char *svg_path, int64_t t0_ns, int workers,
		  char *msg, size_t msglen)
{
	trace *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->t0 = t0_ns;
	t->workers = workers;
	t->first_event = 1;
	/* The timeline is written at the end: a name it may not replace is said now. */
	if (svg_path && sidefile_check("--timeline", svg_path, SIDEFILE_SVG, 1, 0, msg, msglen) != 0) {
		free(t);
		return NULL;
	}
	if (svg_path && !(t->svg_path = strdup(svg_path))) {
		snprintf(msg, msglen, "out of memory");
		free(t);
		return NULL;
	}
	if (json_path) {
		t->json_file = sidefile_create("--trace", json_path, SIDEFILE_TRACE, 1, 0, msg,
					       msglen);
		if (!t->json_file) {
			free(t->svg_path);
			free(t);
			return NULL;
		}
		t->json = sidefile_stream(t->json_file);
		fputs(SIDEFILE_TRACE_BEGINS "\"traceEvents\":[\n", t->json);
		begin_event(t);
		fputs("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":"
		      "\"imgpool\"}}", t->json);
		for (int i = 0; i < workers; i++) {
			begin_event(t);
			fprintf(t->json, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,"
					 "\"tid\":%d,\"args\":{\"name\":\"worker %d\"}}", i + 1, i);
		}
	}
	return t;
}

static void add_bar(trace *t, int worker, int64_t start, int64_t end, int status)
{
	if (!t->svg_path)
		return;
	if (t->nbars == t->capbars) {
		size_t cap = t->capbars ? t->capbars * 2 : 1024;
		bar *b = realloc(t->bars, cap * sizeof *b);
		if (!b)
			return; /* a timeline missing bars beats a failed run */
		t->bars = b;
		t->capbars = cap;
	}
	t->bars[t->nbars++] = (bar){start - t->t0, end - t->t0, (int16_t)worker,
				    (uint8_t)status};
}

static const char *status_name(trace_status st)
{
	static const char *const names[] = {"ok", "error", "crashed", "timeout", "cancelled"};
	return st <= TRACE_CANCELLED ? names[st] : "?";
}

void trace_attempt(trace *t, int worker, int pid, int64_t start_ns, int64_t end_ns,
		   const char *name, trace_status st, const char *args_json)
{
	if (!t || start_ns <= 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->json) {
		begin_event(t);
		fputs("{\"name\":", t->json);
		report_json_string(t->json, name);
		fprintf(t->json, ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,"
				 "\"tid\":%d,\"args\":{\"status\":\"%s\",\"worker_pid\":%d%s%s}}",
			status_name(st), us(t, start_ns),
			(double)(end_ns > start_ns ? end_ns - start_ns : 0) / 1e3, worker + 1,
			status_name(st), pid, args_json ? "," : "", args_json ? args_json : "");
	}
	add_bar(t, worker, start_ns, end_ns, st);
	pthread_mutex_unlock(&t->lock);
}

void trace_instant(trace *t, int worker, int64_t at_ns, const char *name, const char *cause)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->json) {
		begin_event(t);
		fputs("{\"name\":", t->json);
		report_json_string(t->json, name);
		fprintf(t->json, ",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":1,\"tid\":%d,"
				 "\"args\":{\"cause\":", us(t, at_ns), worker + 1);
		report_json_string(t->json, cause ? cause : "");
		fputs("}}", t->json);
	}
	if (!strcmp(name, "worker died"))
		add_bar(t, worker, at_ns, at_ns, 255);
	pthread_mutex_unlock(&t->lock);
}

void trace_counter(trace *t, const char *name, int64_t at_ns, double value)
{
	if (!t || !t->json)
		return;
	pthread_mutex_lock(&t->lock);
	if (!sinks_ready(fileno(t->json))) { /* the monitor's: see report_progress() */
		pthread_mutex_unlock(&t->lock);
		return;
	}
	begin_event(t);
	fputs("{\"name\":", t->json);
	report_json_string(t->json, name);
	fprintf(t->json, ",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{\"value\":%.3f}}",
		us(t, at_ns), value);
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------------------- */
/* The SVG timeline                                                           */

#define PLOT_X 90.0
#define PLOT_W 1000.0
#define LANE_H 26.0
#define TOP 60.0

/* A tick step of 1, 2 or 5 x 10^k giving about eight ticks over span. */
static double tick_step(double span)
{
	double raw = span / 8, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static const char *bar_colour(int st)
{
	switch (st) {
	case TRACE_OK: return "#43a047";
	case TRACE_ERROR: return "#fb8c00";
	case TRACE_CRASHED: return "#e53935";
	case TRACE_TIMEOUT: return "#8e24aa";
	default: return "#9e9e9e";
	}
}

/* Text safe in XML: escapes, and '?' for control bytes and non-UTF-8 bytes. */
static void xml_text(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: putc(*p < 0x20 || *p >= 0x80 ? '?' : *p, f);
		}
	}
}

/* The timeline into t->svg_path (sidefile.h's rules). 0, or -1 with the cause in
 * msg. */
static int write_svg(trace *t, int64_t end_ns, const char *title, char *msg, size_t msglen)
{
	sidefile *file = sidefile_create("--timeline", t->svg_path, SIDEFILE_SVG, 1, 0, msg,
					 msglen);
	if (!file)
		return -1;
	FILE *f = sidefile_stream(file);
	double span = (double)(end_ns - t->t0) / 1e9;
	if (span <= 0)
		span = 1e-3;
	double sx = PLOT_W / span;
	double h = TOP + LANE_H * t->workers + 90;
	int64_t first = INT64_MAX, last = 0;
	for (size_t i = 0; i < t->nbars; i++)
		if (t->bars[i].status != 255) {
			if (t->bars[i].start < first)
				first = t->bars[i].start;
			if (t->bars[i].end > last)
				last = t->bars[i].end;
		}
	fprintf(f, SIDEFILE_SVG_BEGINS
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		   "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">",
		PLOT_X + PLOT_W + 30, h, PLOT_X);
	xml_text(f, title ? title : "imgpool run");
	fprintf(f, "</text>\n<text x=\"%.0f\" y=\"40\" fill=\"#555\">%zu attempts on %d "
		   "workers in %.2f s; grey bands: serial time (before the first task, after "
		   "the last)</text>\n", PLOT_X, t->nbars, t->workers, span);
	/* Serial parts: before the first task starts and after the last one ends. */
	double lanes_h = LANE_H * t->workers;
	if (first != INT64_MAX) {
		fprintf(f, "<rect class=\"serial\" x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%.0f\" "
			   "fill=\"#cfd8dc\"><title>serial: start-up %.3f s</title></rect>\n",
			PLOT_X, TOP, first / 1e9 * sx, lanes_h, first / 1e9);
		fprintf(f, "<rect class=\"serial\" x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%.0f\" "
			   "fill=\"#cfd8dc\"><title>serial: tail %.3f s</title></rect>\n",
			PLOT_X + last / 1e9 * sx, TOP, (span - last / 1e9) * sx, lanes_h,
			span - last / 1e9);
	}
	for (int i = 0; i < t->workers; i++) {
		double y = TOP + LANE_H * i;
		fprintf(f, "<rect class=\"lane\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
			   "fill=\"none\" stroke=\"#ddd\"/>\n<text x=\"8\" y=\"%.0f\">worker %d</text>\n",
			PLOT_X, y, PLOT_W, LANE_H, y + LANE_H / 2 + 4, i);
	}
	for (size_t i = 0; i < t->nbars; i++) {
		const bar *b = &t->bars[i];
		double x = PLOT_X + b->start / 1e9 * sx, y = TOP + LANE_H * b->worker;
		if (b->status == 255) {
			fprintf(f, "<path class=\"death\" d=\"M%.2f %.0f l-5 -9 h10 z\" fill=\"#b71c1c\">"
				   "<title>worker %d died at %.3f s</title></path>\n",
				x, y + 2, b->worker, b->start / 1e9);
			continue;
		}
		double w = (b->end - b->start) / 1e9 * sx;
		fprintf(f, "<rect class=\"task\" x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%.0f\" "
			   "fill=\"%s\" stroke=\"white\" stroke-width=\"0.5\"><title>%s %.1f ms"
			   "</title></rect>\n",
			x, y + 3, w > 0.5 ? w : 0.5, LANE_H - 6, bar_colour(b->status),
			status_name(b->status), (b->end - b->start) / 1e6);
	}
	/* Time axis */
	double axis_y = TOP + lanes_h + 6, step = tick_step(span);
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#333\"/>\n",
		PLOT_X, axis_y, PLOT_X + PLOT_W, axis_y);
	for (double s = 0; s <= span + 1e-9; s += step)
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" stroke=\"#333\"/>"
			   "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n",
			PLOT_X + s * sx, axis_y, PLOT_X + s * sx, axis_y + 5, PLOT_X + s * sx,
			axis_y + 18, s);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time (s)</text>\n",
		PLOT_X + PLOT_W / 2, axis_y + 36);
	/* Legend */
	const char *names[] = {"ok", "error", "crashed", "timeout", "cancelled"};
	for (int i = 0; i < 5; i++)
		fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			   "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			PLOT_X + i * 110, axis_y + 48, bar_colour(i), PLOT_X + 16 + i * 110,
			axis_y + 58, names[i]);
	fputs("</svg>\n", f);
	return sidefile_close(file, 1, msg, msglen);
}

int trace_close(trace *t, int64_t end_ns, const char *title, char *msg, size_t msglen)
{
	if (!t)
		return 0;
	int rc = 0;
	if (t->json_file) {
		fputs("\n]}\n", t->json);
		if (sidefile_close(t->json_file, 1, msg, msglen) != 0)
			rc = -1;
	}
	/* Both causes are said, the trace's first: the timeline's alone was lost
	 * where both could not be written. */
	char svg_msg[256];
	if (t->svg_path && write_svg(t, end_ns, title, rc ? svg_msg : msg,
				     rc ? sizeof svg_msg : msglen) != 0) {
		size_t n = strlen(msg);
		if (rc && n < msglen)
			snprintf(msg + n, msglen - n, "; %s", svg_msg);
		rc = -1;
	}
	free(t->svg_path);
	free(t->bars);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}
