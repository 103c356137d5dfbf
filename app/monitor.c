/* SPDX-License-Identifier: MIT */
/*
 * monitor.c — the progress thread. See monitor.h.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "thread.h"

#define BAR_TICK_S 0.2
#define SAMPLE_S 1.0
#define MAX_PIDS 1024

struct monitor {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	progress_mode mode;
	double interval;
	const pool *p;
	const run_counters *c;
	report *r;
	trace *tr;
	struct timespec start;
	/* /proc sampling */
	monitor_sample ms;
	int npids;
	int pids[MAX_PIDS];
	uint64_t ticks[MAX_PIDS];   /* CPU ticks of each at the last sample */
	double last_sample;
	long hz;
};

/* utime + stime of pid in clock ticks, and its RSS in bytes; -1 if it is gone. */
static int read_proc(int pid, uint64_t *ticks, uint64_t *rss)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: start after ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	long long rss_pages = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
			       "%*d %*d %*d %*d %*d %*d %*u %*u %lld", &ut, &st, &rss_pages) != 3)
		return -1;
	*ticks = ut + st;
	*rss = (uint64_t)(rss_pages > 0 ? rss_pages : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

/* Sample the workers: CPU use since the last sample (of the pids seen both times),
 * RSS now, peak RSS of one worker. */
static void sample(monitor *m, double now)
{
	int pids[MAX_PIDS];
	uint64_t ticks[MAX_PIDS];
	int n = pool_worker_pids(m->p, pids, MAX_PIDS), k = 0;
	uint64_t used = 0, rss_total = 0;
	for (int i = 0; i < n; i++) {
		uint64_t t, rss;
		if (read_proc(pids[i], &t, &rss) < 0)
			continue;
		for (int j = 0; j < m->npids; j++)
			if (m->pids[j] == pids[i] && t >= m->ticks[j])
				used += t - m->ticks[j];
		rss_total += rss;
		if (rss > m->ms.rss_peak)
			m->ms.rss_peak = rss;
		pids[k] = pids[i];
		ticks[k++] = t;
	}
	double dt = now - m->last_sample;
	if (m->last_sample > 0 && dt > 0)
		m->ms.cpu_pct = 100.0 * (double)used / (double)m->hz / dt;
	m->ms.rss_total = rss_total;
	memcpy(m->pids, pids, (size_t)k * sizeof *pids);
	memcpy(m->ticks, ticks, (size_t)k * sizeof *ticks);
	m->npids = k;
	m->last_sample = now;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* "1:02:03" or "2:03" */
/* A time past a year is not worth its digits (and a double past LONG_MAX would
 * not convert): "> 1 year". */
#define DURATION_MAX (366.0 * 86400)
static void fmt_duration(char *buf, size_t len, double s)
{
	if (!(s < DURATION_MAX)) {
		snprintf(buf, len, "> 1 year");
		return;
	}
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void monitor_format(char *buf, size_t len, int bar, const run_counters *c,
		    const pool_stats *s, const monitor_sample *ms, double elapsed)
{
	char rss[32];
	report_bytes(ms->rss_total, rss, sizeof rss);
	uint64_t found = atomic_load(&c->found), done = atomic_load(&c->done);
	uint64_t failed = atomic_load(&c->failed), skipped = atomic_load(&c->skipped);
	int walked = atomic_load(&c->walk_done);
	/* The counting walk's total as soon as it is known; until then what either walk
	 * has seen, with a "+". */
	if (atomic_load(&c->total_known) && !walked) {
		found = atomic_load(&c->total);
		walked = 1;
	} else if (!walked && atomic_load(&c->total) > found) {
		found = atomic_load(&c->total);
	}
	uint64_t finished = done + failed + skipped;
	double rate = elapsed > 0 ? (double)(done + failed) / elapsed : 0;
	char eta[40] = "ETA ?";
	if (atomic_load(&c->stopping)) /* the files left wait for the next run */
		snprintf(eta, sizeof eta, "stopping");
	else if (walked && rate > 0 && found >= finished)
		fmt_duration(eta + 4, sizeof eta - 4, (double)(found - finished) / rate);
	char total[32], cpu[16] = "?";
	snprintf(total, sizeof total, "%llu%s", (unsigned long long)found, walked ? "" : "+");
	/* Of the cores given, as the summary says it ("CPU 88% of 200" read as a
	 * figure out of 200 beside the summary's "= 44% of 2 cores") */
	if (ms->cpu_pct >= 0)
		snprintf(cpu, sizeof cpu, "%.0f%%", ms->cpu_pct / (ms->cores > 0 ? ms->cores : 1));
	const char *cores = ms->cores == 1 ? "core" : "cores";
	if (bar) {
		char b[21];
		int fill = found ? (int)(20.0 * (double)finished / (double)found) : 0;
		if (fill > 20)
			fill = 20;
		memset(b, '#', (size_t)fill);
		memset(b + fill, '-', (size_t)(20 - fill));
		b[20] = '\0';
		snprintf(buf, len, "[%s] %llu/%s  %.1f img/s  %s  failed %llu  busy %d/%d  "
			 "CPU %s of %d %s  RSS %s", b, (unsigned long long)finished, total, rate,
			 eta, (unsigned long long)failed, s->busy, s->workers,
			 cpu, ms->cores, cores, rss);
	} else {
		char el[32];
		fmt_duration(el, sizeof el, elapsed);
		snprintf(buf, len,
			 "imgpool: %s  %llu/%s files (%llu done, %llu failed, %llu skipped)  "
			 "%.1f img/s  %s  busy %d/%d workers  CPU %s of %d %s  RSS %s",
			 el, (unsigned long long)finished, total, (unsigned long long)done,
			 (unsigned long long)failed, (unsigned long long)skipped, rate, eta,
			 s->busy, s->workers, cpu, ms->cores, cores, rss);
	}
}

static void *monitor_main(void *arg)
{
	monitor *m = arg;
	double tick = m->mode == PROGRESS_BAR ? BAR_TICK_S
		      : m->mode == PROGRESS_LINES && m->interval < SAMPLE_S ? m->interval
									    : SAMPLE_S;
	double next_line = m->interval;
	/* Sampling and printing allocate and take locks: the pool forks workers
	 * meanwhile, never in the middle of them (pool.h, "Fork safety"). */
	pool_nofork_begin();
	sample(m, seconds_since(&m->start)); /* the baseline for the first CPU figure */
	pool_nofork_end();
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec until = thread_deadline(tick);
		while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		pool_nofork_begin();
		double now = seconds_since(&m->start);
		pool_stats s;
		pool_stats_get(m->p, &s);
		if (now - m->last_sample >= SAMPLE_S - 1e-3) {
			sample(m, now);
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			trace_counter(m->tr, "busy workers", at, s.busy);
			trace_counter(m->tr, "queued tasks", at, (double)s.queued);
			trace_counter(m->tr, "worker RSS MB", at, m->ms.rss_total / 1048576.0);
			trace_counter(m->tr, "worker CPU %", at, m->ms.cpu_pct);
		}
		int print = m->mode == PROGRESS_BAR ||
			    (m->mode == PROGRESS_LINES && now >= next_line - 1e-3);
		if (print) {
			if (m->mode == PROGRESS_LINES)
				while (next_line <= now + 1e-3)
					next_line += m->interval;
			char line[320];
			monitor_format(line, sizeof line, m->mode == PROGRESS_BAR, m->c, &s, &m->ms,
				       now);
			report_progress(m->r, line, m->mode == PROGRESS_BAR);
		}
		pool_nofork_end();
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

monitor *monitor_start(progress_mode mode, double interval, const pool *p,
		       const run_counters *c, report *r, trace *tr)
{
	monitor *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->mode = mode;
	m->interval = interval;
	m->p = p;
	m->c = c;
	m->r = r;
	m->tr = tr;
	m->hz = sysconf(_SC_CLK_TCK);
	cpu_set_t set;
	m->ms.cpu_pct = -1; /* not measured yet: a first second's line said 0 % */
	m->ms.cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
	clock_gettime(CLOCK_MONOTONIC, &m->start);
	pthread_mutex_init(&m->lock, NULL);
	thread_cond_init_monotonic(&m->wake);

	if (thread_start(&m->thread, monitor_main, m) != 0) {
		pthread_cond_destroy(&m->wake);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	return m;
}

void monitor_stop(monitor *m, monitor_sample *last)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	if (last)
		*last = m->ms;
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
