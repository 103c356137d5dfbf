/* SPDX-License-Identifier: MIT */
/*
 * bench_plot.c — `imgpool bench --plot`: the speedup chart as self-contained SVG. See
 * bench_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "bench_internal.h"
#include "clock.h"
#include "report.h"
#include "sidefile.h"
#include "thumb.h"

#define now_s clock_now_s

/* ------------------------------------------------------------------------- */
/* The chart                                                                   */

/* Text for an SVG element, XML-escaped. */
static void svg_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				putc(*s, f);
		}
	}
}

/* A tick step of 1, 2 or 5 x 10^k giving at most `most` ticks over `range`. */
static double nice_step(double range, int most)
{
	double raw = range / most, mag = pow(10, floor(log10(raw)));
	for (int i = 0; i < 3; i++) {
		static const double m[] = {1, 2, 5};
		if (m[i] * mag >= raw)
			return m[i] * mag;
	}
	return 10 * mag;
}

/* Plot geometry: data coordinates to SVG pixels. */
typedef struct plot_area {
	double left, top, width, height, xmax, ymax;
} plot_area;

static double px(const plot_area *a, double x)
{
	return a->left + x / a->xmax * a->width;
}

static double py(const plot_area *a, double y)
{
	return a->top + a->height - y / a->ymax * a->height;
}

/* Axes, grid, tick labels and axis titles. */
static void svg_axes(FILE *f, const plot_area *a, int xmax_int)
{
	double xs = fmax(1, nice_step(xmax_int, 12)), ys = nice_step(a->ymax, 8);
	fprintf(f, "<g id=\"axes\" class=\"axes\">\n");
	for (double y = 0; y <= a->ymax + 1e-9; y += ys)
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
			a->left, py(a, y), a->left + a->width, py(a, y), a->left - 8, py(a, y) + 4, y);
	for (double x = 0; x <= xmax_int + 1e-9; x += xs)
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
			px(a, x), a->top, px(a, x), a->top + a->height, px(a, x),
			a->top + a->height + 18, x);
	fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
		a->left, a->top, a->width, a->height);
	fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">jobs "
		   "(worker processes)</text>\n", a->left + a->width / 2, a->top + a->height + 42);
	fprintf(f, "<text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
		   "text-anchor=\"middle\">speedup = T(seq) / T(jobs)</text>\n",
		a->left - 44, a->top + a->height / 2);
	fprintf(f, "</g>\n");
}

/* The CPU count: a vertical marker, and the oversubscribed region shaded when a
 * run had more jobs than CPUs. The shade starts half a job past the CPU count, so
 * the point at jobs = CPUs (not oversubscribed) stays clear of it. Labels at the
 * foot of the marker, clear of the legend at the top left. */
static void svg_cpus(FILE *f, const plot_area *a, int cpus, const char *which, int max_jobs)
{
	double x = px(a, cpus);
	fprintf(f, "<g id=\"cpus\" class=\"cpus\">\n");
	if (max_jobs > cpus) {
		double from = px(a, cpus + 0.5);
		fprintf(f, "<rect class=\"oversubscribed\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			   "height=\"%.1f\"><title>oversubscribed: more workers than CPUs</title></rect>\n"
			   "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">oversubscribed</text>\n",
			from, a->top, a->left + a->width - from, a->height, from + 6,
			a->top + a->height - 8);
	}
	fprintf(f, "<line class=\"cpu-line\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
		   "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">%d CPU%s %s</text>\n</g>\n",
		x, a->top, x, a->top + a->height, x + 6, a->top + a->height - 26, cpus,
		cpus == 1 ? "" : "s", which);
}

/* The ideal line S = p, the fitted Amdahl curve and the measured series: one group
 * each, with ids the tests look for. */
static void svg_series(FILE *f, const bench *b, const plot_area *a)
{
	fprintf(f, "<g id=\"ideal\" class=\"series ideal\" clip-path=\"url(#plot)\">\n"
		   "<title>ideal: S = p</title>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
		   "</g>\n", px(a, 1), py(a, 1), px(a, a->xmax), py(a, a->xmax));
	fprintf(f, "<g id=\"baseline\" class=\"baseline\"><circle class=\"baseline\" "
		   "cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>sequential loop: %.3f s, speedup 1 by "
		   "construction</title></circle></g>\n", px(a, 1), py(a, 1), b->rows[0].median);
	fprintf(f, "<g id=\"amdahl\" class=\"series amdahl\" clip-path=\"url(#plot)\">\n");
	if (b->amdahl_s >= 0) {
		fprintf(f, "<title>Amdahl fit: S(p) = 1 / (s + (1 - s) / p), s = %.3f</title>\n"
			   "<polyline points=\"", b->amdahl_s);
		for (int k = 0; k <= 200; k++) {
			double p = 1 + (a->xmax - 1) * k / 200.0;
			fprintf(f, "%s%.1f,%.1f", k ? " " : "", px(a, p), py(a, amdahl(b->amdahl_s, p)));
		}
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "</g>\n<g id=\"measured\" class=\"series measured\">\n"
		   "<title>measured speedup (median)</title>\n<polyline points=\"");
	int first = 1;
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (r->n) {
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(a, r->jobs),
				py(a, b->rows[0].median / r->median));
			first = 0;
		}
	}
	fprintf(f, "\"/>\n");
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		if (!r->n)
			continue;
		double s = b->rows[0].median / r->median, x = px(a, r->jobs);
		if (r->n > 1) /* the spread of the runs, as speedups */
			fprintf(f, "<line class=\"spread\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				   "y2=\"%.1f\"/>\n", x, py(a, b->rows[0].median / r->hi), x,
				py(a, b->rows[0].median / r->lo));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"><title>jobs %d: speedup "
			   "%.2f, %.3f s (median of %d)</title></circle>\n", x, py(a, s), r->jobs, s,
			r->median, r->n);
		if (b->njobs <= 16)
			fprintf(f, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
				   "%.2f</text>\n", x, py(a, s) + 18, s);
	}
	fprintf(f, "</g>\n");
}

/* The legend, top left of the plot (above the measured points, below the ideal
 * line's far end). */
static void svg_legend(FILE *f, const bench *b, const plot_area *a)
{
	double x = a->left + 14, y = a->top + 14;
	char amdahl_label[120];
	if (b->amdahl_s >= 0)
		snprintf(amdahl_label, sizeof amdahl_label, "Amdahl fit: s = %.3f (jobs &lt;= %d)",
			 b->amdahl_s, b->fit_jobs_max);
	else
		snprintf(amdahl_label, sizeof amdahl_label, "Amdahl fit: needs a run with jobs &gt; 1");
	fprintf(f, "<g id=\"legend\" class=\"legend\">\n"
		   "<rect class=\"legend-box\" x=\"%.1f\" y=\"%.1f\" width=\"310\" height=\"112\"/>\n",
		x, y);
	const char *const cls[] = {"measured", "ideal", "amdahl", "cpu-line", "baseline"};
	char measured[80], cpus[80];
	snprintf(measured, sizeof measured, "measured (median of %d)", b->repeat);
	snprintf(cpus, sizeof cpus, "%d CPUs %s", b->cpus,
		 b->cpus == b->online ? "online" : "usable");
	const char *const text[] = {measured, "ideal: S = p", amdahl_label, cpus,
				    "sequential loop: S = 1 by construction"};
	for (int i = 0; i < 5; i++) {
		double ly = y + 18 + 20 * i;
		if (i == 4)
			fprintf(f, "<circle class=\"key baseline\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>",
				x + 25, ly);
		else
			fprintf(f, "<line class=\"key %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				   "y2=\"%.1f\"/>", cls[i], x + 10, ly, x + 40, ly);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 50, ly + 4, text[i]);
	}
	fprintf(f, "</g>\n");
}

/* Write the chart: self-contained SVG (no script), one group per series. */
int bench_write_plot(const bench *b)
{
	char why[PATH_MAX + 256];
	sidefile *file = sidefile_create("--plot", b->plot_path, SIDEFILE_SVG, 1, 0, why, sizeof why);
	if (!file) {
		report_say(stderr, "imgpool bench: %s", why);
		return -1;
	}
	FILE *f = sidefile_stream(file);
	int xmax_int = b->cpus;
	double smax = 1;
	for (int i = 1; i <= b->njobs; i++) {
		const bench_row *r = &b->rows[i];
		xmax_int = r->jobs > xmax_int ? r->jobs : xmax_int;
		if (r->n)
			smax = fmax(smax, b->rows[0].median / r->lo);
	}
	if (xmax_int < 2)
		xmax_int = 2;
	plot_area a = {80, 70, 600, 380, xmax_int + 0.5, 0};
	/* Tall enough for the measured points and the ideal line up to the CPU count;
	 * past that the ideal line may leave the top: it is the ideal. */
	double want = fmax(smax * 1.15, fmin(xmax_int, b->cpus) * 1.05);
	if (b->amdahl_s >= 0)
		want = fmax(want, fmin(amdahl(b->amdahl_s, a.xmax), xmax_int) * 1.05);
	double step = nice_step(want, 8);
	a.ymax = ceil(want / step) * step;
	char settings[200], bytes[32];
	bench_describe_settings(&b->o.settings, settings, sizeof settings);
	fprintf(f, SIDEFILE_SVG_BEGINS
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"520\" "
		   "viewBox=\"0 0 760 520\" font-family=\"sans-serif\" font-size=\"13\">\n"
		   "<title>imgpool bench: speedup against jobs</title>\n<style>\n"
		   ".grid{stroke:#e4e4e4}.frame{fill:none;stroke:#888}.tick{fill:#555;font-size:12px}\n"
		   ".label{font-size:14px}.note{fill:#a33;font-size:12px}\n"
		   ".oversubscribed{fill:#f4e6e6}.cpu-line{stroke:#c33;stroke-width:1.5;"
		   "stroke-dasharray:3 3}\n"
		   ".ideal line,.key.ideal{stroke:#777;stroke-width:1.5;stroke-dasharray:7 5}\n"
		   ".amdahl polyline,.key.amdahl{fill:none;stroke:#e08a00;stroke-width:2}\n"
		   ".measured polyline,.key.measured{fill:none;stroke:#1f5fbf;stroke-width:2.5}\n"
		   ".measured circle{fill:#1f5fbf}.spread{stroke:#1f5fbf;stroke-width:6;"
		   "stroke-opacity:.3}.value{fill:#1f5fbf;font-size:11px}\n"
		   ".legend-box{fill:#fff;fill-opacity:.9;stroke:#ccc}\n"
		   ".baseline{fill:#fff;stroke:#222;stroke-width:1.5}\n</style>\n"
		   "<defs><clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		   "height=\"%.1f\"/></clipPath></defs>\n"
		   "<rect width=\"760\" height=\"520\" fill=\"#fff\"/>\n",
		a.left, a.top, a.width, a.height);
	fprintf(f, "<text x=\"380\" y=\"28\" text-anchor=\"middle\" font-size=\"17\">imgpool "
		   "bench: speedup of the pool over a sequential loop</text>\n"
		   "<text x=\"380\" y=\"50\" text-anchor=\"middle\" fill=\"#555\">");
	char sub[400];
	snprintf(sub, sizeof sub, "%zu images (%s), %s, median of %d run%s", b->nfiles,
		 report_bytes(b->bytes, bytes, sizeof bytes), settings, b->repeat,
		 b->repeat == 1 ? "" : "s");
	svg_escaped(f, sub);
	fprintf(f, "</text>\n");
	svg_axes(f, &a, xmax_int);
	int max_jobs = 0;
	for (int i = 1; i <= b->njobs; i++)
		max_jobs = b->rows[i].jobs > max_jobs ? b->rows[i].jobs : max_jobs;
	svg_cpus(f, &a, b->cpus, b->cpus == b->online ? "online" : "usable", max_jobs);
	/* The same warning as the text report's: a chart passed around without it
	 * would present a busy machine's figures as the pool's. */
	if (b->load_before >= 0.5) {
		char busy[160];
		snprintf(busy, sizeof busy, "measured on a busy machine: load average %.2f on %d "
			 "CPUs at the start; figures unreliable", b->load_before, b->online);
		fprintf(f, "<text id=\"load-warning\" class=\"note\" x=\"380\" y=\"66\" "
			   "text-anchor=\"middle\">");
		svg_escaped(f, busy);
		fprintf(f, "</text>\n");
	}
	svg_series(f, b, &a);
	svg_legend(f, b, &a);
	fprintf(f, "</svg>\n");
	if (sidefile_close(file, 1, why, sizeof why) != 0) {
		report_say(stderr, "imgpool bench: %s", why);
		return -1;
	}
	return 0;
}

