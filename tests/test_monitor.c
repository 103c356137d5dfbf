/* SPDX-License-Identifier: MIT */
/*
 * test_monitor.c — the progress line (app/monitor.c): the live bar and the plain
 * line, to the character, for fixed counters, pool stats and samples; their edge
 * cases (nothing found yet, the walk still going, more finished than found, hours,
 * numbers as big as the counters hold); and the thread started and stopped around
 * a real pool.
 *
 * monitor_format is a pure function of what it is given: no clock is read, so
 * nothing here depends on timing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

/* Counters as the driving thread would have them. */
static void set(run_counters *c, uint64_t found, uint64_t done, uint64_t failed,
		uint64_t skipped, int walk_done)
{
	atomic_store(&c->found, found);
	atomic_store(&c->done, done);
	atomic_store(&c->failed, failed);
	atomic_store(&c->skipped, skipped);
	atomic_store(&c->walk_done, walk_done);
	atomic_store(&c->total, 0);       /* no counting walk (count.h) unless a test says */
	atomic_store(&c->total_known, 0);
	atomic_store(&c->stopping, 0);
}

static char line[512];

/* The counting walk has seen total files (known: it has finished). */
static void set_total(run_counters *c, uint64_t total, int known)
{
	atomic_store(&c->total, total);
	atomic_store(&c->total_known, known);
}

static const char *format(int bar, const run_counters *c, int busy, int workers,
			  double cpu_pct, int cores, uint64_t rss, double elapsed)
{
	pool_stats s;
	memset(&s, 0, sizeof s);
	s.busy = busy;
	s.workers = workers;
	monitor_sample ms = {.cpu_pct = cpu_pct, .rss_total = rss, .rss_peak = rss / 2,
			     .cores = cores};
	memset(line, 'Z', sizeof line);
	monitor_format(line, sizeof line, bar, c, &s, &ms, elapsed);
	return line;
}

static void test_typical(void **state)
{
	run_counters c;
	/* 50 of 100 finished in 10 s, 45 of them worked on: 4.5/s, 50 left: 11 s */
	set(&c, 100, 40, 5, 5, 1);
	assert_string_equal(format(1, &c, 2, 4, 150.4, 2, 123456789, 10),
			    "[##########----------] 50/100  4.5 img/s  ETA 0:11  failed 5  "
			    "busy 2/4  CPU 75% of 2 cores  RSS 123.5 MB");
	assert_string_equal(format(0, &c, 2, 4, 150.4, 2, 123456789, 10),
			    "imgpool: 0:10  50/100 files (40 done, 5 failed, 5 skipped)  "
			    "4.5 img/s  ETA 0:11  busy 2/4 workers  CPU 75% of 2 cores  RSS 123.5 MB");
	/* skipped files do not make the rate: 1 worked on in 4 s, 7 left */
	set(&c, 10, 1, 0, 2, 1);
	assert_string_equal(format(0, &c, 1, 1, 99.5, 1, 999, 4),
			    "imgpool: 0:04  3/10 files (1 done, 0 failed, 2 skipped)  "
			    "0.2 img/s  ETA 0:28  busy 1/1 workers  CPU 100% of 1 core  RSS 999 B");
	/* the bar: a fifth per 20th */
	set(&c, 20, 7, 0, 0, 1);
	assert_true(!strncmp(format(1, &c, 0, 2, 0, 2, 0, 7), "[#######-------------] 7/20 ", 27));
	set(&c, 3, 1, 0, 0, 1);
	assert_true(!strncmp(format(1, &c, 0, 2, 0, 2, 0, 1), "[######--------------] 1/3 ", 27));
}

/* Before the first second's sample, the CPU figure is not known: "?", where it
 * said 0 %. */
static void test_cpu_not_measured_yet(void **state)
{
	run_counters c;
	(void)state;
	set(&c, 100, 0, 0, 0, 1);
	assert_non_null(strstr(format(1, &c, 2, 2, -1, 2, 1000, 0.2), "  CPU ? of 2 cores  "));
	assert_non_null(strstr(format(0, &c, 2, 2, -1, 2, 1000, 0.2), "  CPU ? of 2 cores  "));
	assert_non_null(strstr(format(0, &c, 2, 2, 0, 2, 1000, 1.2), "  CPU 0% of 2 cores  "));
}

static void test_edges(void **state)
{
	run_counters c;
	/* the very start: nothing found, walk going, no time yet */
	set(&c, 0, 0, 0, 0, 0);
	assert_string_equal(format(1, &c, 0, 2, 0, 2, 0, 0),
			    "[--------------------] 0/0+  0.0 img/s  ETA ?  failed 0  busy 0/2  "
			    "CPU 0% of 2 cores  RSS 0 B");
	assert_string_equal(format(0, &c, 0, 2, 0, 2, 0, 0),
			    "imgpool: 0:00  0/0+ files (0 done, 0 failed, 0 skipped)  0.0 img/s  "
			    "ETA ?  busy 0/2 workers  CPU 0% of 2 cores  RSS 0 B");
	/* walk still going: the total is a lower bound, and no ETA from it */
	set(&c, 10, 5, 0, 0, 0);
	assert_string_equal(format(1, &c, 2, 2, 200, 2, 0, 5),
			    "[##########----------] 5/10+  1.0 img/s  ETA ?  failed 0  busy 2/2  "
			    "CPU 100% of 2 cores  RSS 0 B");
	/* a finished walk with nothing in it */
	set(&c, 0, 0, 0, 0, 1);
	assert_string_equal(format(0, &c, 0, 2, 0, 2, 0, 3),
			    "imgpool: 0:03  0/0 files (0 done, 0 failed, 0 skipped)  0.0 img/s  "
			    "ETA ?  busy 0/2 workers  CPU 0% of 2 cores  RSS 0 B");
	/* all finished */
	set(&c, 8, 6, 2, 0, 1);
	assert_string_equal(format(1, &c, 0, 2, 0, 2, 0, 4),
			    "[####################] 8/8  2.0 img/s  ETA 0:00  failed 2  busy 0/2  "
			    "CPU 0% of 2 cores  RSS 0 B");
	/* a signal stops the run: the files left wait for the next run, no ETA (it
	 * ticked on while the files running finished) */
	set(&c, 100, 40, 5, 5, 1);
	atomic_store(&c.stopping, 1);
	assert_string_equal(format(1, &c, 2, 4, 150.4, 2, 123456789, 10),
			    "[##########----------] 50/100  4.5 img/s  stopping  failed 5  "
			    "busy 2/4  CPU 75% of 2 cores  RSS 123.5 MB");
	/* only skipped so far: no rate, no ETA */
	set(&c, 8, 0, 0, 4, 1);
	assert_true(strstr(format(0, &c, 0, 2, 0, 2, 0, 4), "0.0 img/s  ETA ?  "));
	/* counters read a moment apart: more finished than found never overflows the
	 * bar or the ETA */
	set(&c, 5, 7, 0, 0, 1);
	assert_string_equal(format(1, &c, 0, 2, 0, 2, 0, 7),
			    "[####################] 7/5  1.0 img/s  ETA ?  failed 0  busy 0/2  "
			    "CPU 0% of 2 cores  RSS 0 B");
	/* hours */
	set(&c, 10000, 3000, 0, 0, 1);
	assert_string_equal(format(0, &c, 4, 4, 400, 4, 5000000000ULL, 3725),
			    "imgpool: 1:02:05  3000/10000 files (3000 done, 0 failed, 0 skipped)  "
			    "0.8 img/s  ETA 2:24:52  busy 4/4 workers  CPU 100% of 4 cores  RSS 5.00 GB");
	/* a line cut to the buffer, NUL-terminated */
	char tiny[12];
	pool_stats s = {.busy = 1, .workers = 2};
	monitor_sample ms = {.cores = 2};
	set(&c, 100, 40, 5, 5, 1);
	memset(tiny, 'Z', sizeof tiny);
	monitor_format(tiny, sizeof tiny, 1, &c, &s, &ms, 10);
	assert_string_equal(tiny, "[##########");
}

/* Counters as big as they go: the line is whole in the monitor's own 320-byte
 * buffer, and nothing is negative. */
/* The counting walk (count.h): while it runs, its larger count is the total with
 * a "+"; once it has finished, its total is real and the ETA is given although the
 * run's own walk is still going. */
static void test_counting_walk(void **state)
{
	(void)state;
	run_counters c;
	set(&c, 10, 5, 0, 0, 0);
	set_total(&c, 400, 0);
	assert_string_equal(format(1, &c, 2, 2, 200, 2, 0, 5),
			    "[--------------------] 5/400+  1.0 img/s  ETA ?  failed 0  busy 2/2  "
			    "CPU 100% of 2 cores  RSS 0 B");
	set_total(&c, 20, 1);
	assert_string_equal(format(1, &c, 2, 2, 200, 2, 0, 5),
			    "[#####---------------] 5/20  1.0 img/s  ETA 0:15  failed 0  busy 2/2  "
			    "CPU 100% of 2 cores  RSS 0 B");
	/* the run's own walk, once done, is the truth */
	set(&c, 18, 5, 0, 0, 1);
	set_total(&c, 20, 1);
	assert_true(strstr(format(1, &c, 2, 2, 200, 2, 0, 5), "] 5/18  "));
}

static void test_huge(void **state)
{
	run_counters c;
	char buf[320];
	pool_stats s = {.busy = 1024, .workers = 1024};
	monitor_sample ms = {.cpu_pct = 102400, .rss_total = UINT64_MAX, .cores = 1024};
	uint64_t big = UINT64_MAX / 4;
	set(&c, UINT64_MAX, big, big, big, 1);
	for (int bar = 0; bar < 2; bar++) {
		monitor_format(buf, sizeof buf, bar, &c, &s, &ms, 86400.0 * 365 * 100);
		size_t n = strlen(buf);
		assert_true(n < sizeof buf - 1);
		assert_string_equal(buf + n - 17, "18446744073.71 GB");
		if (!bar)
			assert_null(strchr(buf, '-'));
	}
	set(&c, UINT64_MAX, big, big, big, 0);
	monitor_format(buf, sizeof buf, 0, &c, &s, &ms, 1);
	assert_non_null(strstr(buf, "18446744073709551615+ files"));
}

/* An ETA past LONG_MAX seconds was converted to long (undefined behaviour: a
 * negative time on x86); past a year it says so. */
static void test_huge_eta(void **state)
{
	run_counters c;
	char buf[320];
	pool_stats s = {.busy = 1, .workers = 1};
	monitor_sample ms = {.cores = 1};
	/* one file in a day, 2^63 left */
	set(&c, UINT64_MAX, 1, 0, 0, 1);
	monitor_format(buf, sizeof buf, 0, &c, &s, &ms, 86400);
	const char *eta = strstr(buf, "ETA ");
	assert_non_null(eta);
	if (eta[4] == '-' || strstr(eta, ":-"))
		fail_msg("a negative ETA: %s", buf);
	assert_true(!strncmp(eta, "ETA > 1 year", 12));
}

/* ------------------------------------------------------------------------- */
/* The thread                                                                 */

static void test_start_stop(void **state)
{
	char *err = NULL;
	pool_options po = {.workers = 1};
	pool *p = pool_create(&po, &err);
	if (!p) {
		fprintf(stderr, "pool_create: %s\n", err);
		free(err);
		fail();
	}
	run_counters c;
	set(&c, 0, 0, 0, 0, 0);
	char msg[128];
	report *r = report_open(stdout, stderr, 1, 0, NULL, msg, sizeof msg);
	assert_non_null(r);
	/* PROGRESS_NONE prints nothing, yet samples for the summary */
	monitor *m = monitor_start(PROGRESS_NONE, 10, p, &c, r, NULL);
	assert_non_null(m);
	monitor_sample last;
	memset(&last, 0xee, sizeof last);
	monitor_stop(m, &last);
	cpu_set_t set_;
	assert_int_equal(sched_getaffinity(0, sizeof set_, &set_), 0);
	assert_int_equal(last.cores, CPU_COUNT(&set_));
	assert_true(last.cpu_pct >= 0 || last.cpu_pct == -1); /* -1: stopped within its first second */
	/* stop with no place for the sample; stop of NULL */
	m = monitor_start(PROGRESS_LINES, 3600, p, &c, r, NULL);
	assert_non_null(m);
	monitor_stop(m, NULL);
	monitor_stop(NULL, NULL);
	report_close(r);
	pool_close(p);
	assert_int_equal(pool_join(p), 0);
	pool_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typical),
		cmocka_unit_test(test_cpu_not_measured_yet),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_counting_walk),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_huge_eta),
		cmocka_unit_test(test_start_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
