/* SPDX-License-Identifier: MIT */
/*
 * count.c — the counting walk. See count.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "count.h"
#include "pool.h"
#include "thread.h"

struct counter {
	discover_config cfg;
	shard sh;
	run_counters *c;
	int paths_only;		/* a --files-from list too: the PATHs' count is no total */
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t lock;	/* with stopped: a walk that is over waits to be stopped */
	pthread_cond_t stopped;
};

/* Is this item one this run answers? The planner's rule (plan.c): a PATH's own
 * error goes to every shard. */
static int in_shard(const shard *sh, const discover_item *it)
{
	if (!sh->n || (it->state == ITEM_ERROR && !strcmp(it->rel, it->input)))
		return 1;
	return shard_of(it->rel, sh->n) == sh->k;
}

static void *count_files(void *arg)
{
	counter *k = arg;
	char *err = NULL;
	/* The walk allocates: the pool forks workers meanwhile, never in the middle
	 * of a step (pool.h, "Fork safety"). */
	pool_nofork_begin();
	discover *d = discover_open(&k->cfg, &err);
	free(err);
	pool_nofork_end();
	uint64_t n = 0;
	discover_item it;
	int more = d != NULL;
	while (more && !atomic_load(&k->stop)) {
		pool_nofork_begin();
		more = discover_next(d, &it);
		pool_nofork_end();
		if (more && in_shard(&k->sh, &it))
			atomic_store(&k->c->total, ++n);
	}
	if (d && !atomic_load(&k->stop) && !k->paths_only)
		atomic_store(&k->c->total_known, 1);
	pool_nofork_begin();
	discover_close(d);
	pool_nofork_end();
	/* A thread's end is not under the fork gate (thread.h): the pool may still
	 * fork workers, so this one ends only when counter_stop() asks. */
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop))
		pthread_cond_wait(&k->stopped, &k->lock);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

counter *counter_start(const discover_config *cfg, const shard *sh, run_counters *c)
{
	if (cfg->npaths < 1)
		return NULL;
	counter *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->cfg = *cfg;
	/* A list is read once, by the run, and not counted ahead: with one, the
	 * PATHs' count is a lower bound for the progress line ("432+"), never the
	 * total (report-schema.md: null until the walk ends): a stop said "0 not
	 * started" of a run that had most of its list left. */
	k->paths_only = cfg->files_from != NULL;
	k->cfg.files_from = NULL;
	k->cfg.count_only = 1;
	k->sh = *sh;
	k->c = c;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->stopped, NULL);
	if (thread_start(&k->thread, count_files, k)) {
		pthread_cond_destroy(&k->stopped);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return NULL;
	}
	return k;
}

void counter_stop(counter *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->stop, 1);
	pthread_cond_signal(&k->stopped);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->stopped);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
