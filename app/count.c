/* SPDX-License-Identifier: MIT */
/*
 * count.c — the counting walk. See count.h.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "count.h"
#include "pool.h"

struct counter {
	discover_config cfg;
	shard sh;
	run_counters *c;
	pthread_t thread;
	atomic_int stop;
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
	if (d && !atomic_load(&k->stop))
		atomic_store(&k->c->total_known, 1);
	pool_nofork_begin();
	discover_close(d);
	pool_nofork_end();
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
	k->cfg.files_from = NULL; /* a list is read once, by the run */
	k->cfg.count_only = 1;
	k->sh = *sh;
	k->c = c;
	/* Signals stay with the main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&k->thread, NULL, count_files, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(k);
		return NULL;
	}
	return k;
}

void counter_stop(counter *k)
{
	if (!k)
		return;
	atomic_store(&k->stop, 1);
	pthread_join(k->thread, NULL);
	free(k);
}
