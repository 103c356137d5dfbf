/*
 * monitor.c — the progress thread. See monitor.h.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor.h"

#define BAR_TICK_S 0.2

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
	struct timespec start;
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* "1:02:03" or "2:03" */
static void fmt_duration(char *buf, size_t len, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void monitor_format(char *buf, size_t len, int bar, const run_counters *c,
		    const pool_stats *s, double elapsed)
{
	uint64_t found = atomic_load(&c->found), done = atomic_load(&c->done);
	uint64_t failed = atomic_load(&c->failed), skipped = atomic_load(&c->skipped);
	int walked = atomic_load(&c->walk_done);
	uint64_t finished = done + failed + skipped;
	double rate = elapsed > 0 ? (double)(done + failed) / elapsed : 0;
	char eta[32] = "?";
	if (walked && rate > 0 && found >= finished)
		fmt_duration(eta, sizeof eta, (double)(found - finished) / rate);
	char total[32];
	snprintf(total, sizeof total, "%llu%s", (unsigned long long)found, walked ? "" : "+");
	if (bar) {
		char b[21];
		int fill = found ? (int)(20.0 * (double)finished / (double)found) : 0;
		if (fill > 20)
			fill = 20;
		memset(b, '#', (size_t)fill);
		memset(b + fill, '-', (size_t)(20 - fill));
		b[20] = '\0';
		snprintf(buf, len, "[%s] %llu/%s  %.1f img/s  ETA %s  failed %llu  busy %d/%d", b,
			 (unsigned long long)finished, total, rate, eta,
			 (unsigned long long)failed, s->busy, s->workers);
	} else {
		char el[32];
		fmt_duration(el, sizeof el, elapsed);
		snprintf(buf, len,
			 "imgpool: %s  %llu/%s files (%llu done, %llu failed, %llu skipped)  "
			 "%.1f img/s  ETA %s  busy %d/%d workers",
			 el, (unsigned long long)finished, total, (unsigned long long)done,
			 (unsigned long long)failed, (unsigned long long)skipped, rate, eta,
			 s->busy, s->workers);
	}
}

static void *monitor_main(void *arg)
{
	monitor *m = arg;
	double tick = m->mode == PROGRESS_BAR ? BAR_TICK_S : m->interval;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		long ns = (long)((tick - (long)tick) * 1e9) + until.tv_nsec;
		until.tv_sec += (time_t)tick + ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		pool_stats s;
		pool_stats_get(m->p, &s);
		char line[256];
		monitor_format(line, sizeof line, m->mode == PROGRESS_BAR, m->c, &s,
			       seconds_since(&m->start));
		report_progress(m->r, line, m->mode == PROGRESS_BAR);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

monitor *monitor_start(progress_mode mode, double interval, const pool *p,
		       const run_counters *c, report *r)
{
	monitor *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->mode = mode;
	m->interval = interval;
	m->p = p;
	m->c = c;
	m->r = r;
	clock_gettime(CLOCK_MONOTONIC, &m->start);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->wake, &ca);
	pthread_condattr_destroy(&ca);

	/* Signals go to the main thread, which turns them into a drain. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&m->thread, NULL, monitor_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&m->wake);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	return m;
}

void monitor_stop(monitor *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
