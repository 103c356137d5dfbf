/* SPDX-License-Identifier: MIT */
/*
 * inflight.c — see inflight.h. A fixed array of chains: the pool keeps a bounded
 * number of tasks in flight (a few per worker), so chains stay short.
 */
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "inflight.h"

#define BUCKETS 1024

struct inflight {
	inflight_file *bucket[BUCKETS];
	uint64_t count;
};

inflight *inflight_new(void)
{
	return calloc(1, sizeof(inflight));
}

void inflight_file_free(inflight_file *f)
{
	if (!f)
		return;
	free(f->input);
	free(f->rel);
	free(f->root);
	for (int i = 0; i < f->n; i++) {
		free(f->display[i]);
		free(f->out_rel[i]);
	}
	free(f);
}

void inflight_free(inflight *t)
{
	if (!t)
		return;
	for (int b = 0; b < BUCKETS; b++)
		for (inflight_file *f = t->bucket[b], *next; f; f = next) {
			next = f->next;
			inflight_file_free(f);
		}
	free(t);
}

inflight_file *inflight_file_copy(const plan_item *item)
{
	const discover_item *it = item->it;
	inflight_file *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->input = strdup(it->input);
	f->rel = strdup(it->rel);
	f->root = item->root ? strdup(item->root) : NULL;
	f->n = it->noutputs;
	int ok = f->input && f->rel && (f->root || !item->root);
	for (int i = 0; i < f->n; i++) {
		f->display[i] = strdup(it->outputs[i]);
		f->out_rel[i] = strdup(it->out_rel[i]);
		ok = ok && f->display[i] && f->out_rel[i];
	}
	if (!ok) {
		inflight_file_free(f);
		return NULL;
	}
	f->size = it->size;
	f->mtime_ns = discover_item_mtime_ns(it);
	f->checksum = item->checksum;
	f->dev = it->dev;
	f->ino = it->ino;
	f->beneath = it->beneath;
	return f;
}

void inflight_insert(inflight *t, inflight_file *f)
{
	if (inflight_get(t, f->index))
		BUG("feed index %llu handed out twice", (unsigned long long)f->index);
	f->next = t->bucket[f->index % BUCKETS];
	t->bucket[f->index % BUCKETS] = f;
	t->count++;
}

uint64_t inflight_count(const inflight *t)
{
	return t ? t->count : 0;
}

inflight_file *inflight_get(inflight *t, uint64_t index)
{
	for (inflight_file *f = t->bucket[index % BUCKETS]; f; f = f->next)
		if (f->index == index)
			return f;
	return NULL;
}

inflight_file *inflight_take(inflight *t, uint64_t index)
{
	for (inflight_file **pp = &t->bucket[index % BUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->index == index) {
			inflight_file *f = *pp;
			*pp = f->next;
			t->count--;
			return f;
		}
	return NULL;
}
