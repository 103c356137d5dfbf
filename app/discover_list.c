/* SPDX-License-Identifier: MIT */
/*
 * discover_list.c — the files named by --files-from (a file, a pipe or standard
 * input; NUL or newline separated), taken relative to --base, after the PATHs are
 * walked. See discover.h for the contract, discover.c for the walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "claims.h"
#include "discover.h"
#include "discover_internal.h"
#include "io.h"
#include "lines.h"
#include "paths.h"

/* --files-from and --base. Returns NULL or a malloc'd message. */
char *discover_open_list(discover *d)
{
	char *msg = NULL;
	const char *base = d->cfg.base ? d->cfg.base : ".";
	struct stat bst;
	const char *why = !(d->base_real = realpath(base, NULL)) || stat(d->base_real, &bst) < 0
				  ? strerror(errno)
			  : !S_ISDIR(bst.st_mode) ? "not a folder"
						  : NULL;
	if (why) {
		if (asprintf(&msg, "--base: '%s': %s", base, why) < 0)
			msg = strdup(WHY_NOMEM);
		return msg;
	}
	d->list_owned = strcmp(d->cfg.files_from, "-") != 0;
	if (!d->list_owned && !io_fd_readable(STDIN_FILENO))
		return strdup("--files-from -: standard input is closed (or open only for "
			      "writing); give the list on it, or name a file");
	d->list_fd = d->list_owned ? open(d->cfg.files_from, O_RDONLY | O_CLOEXEC)
				   : STDIN_FILENO;
	if (d->list_fd < 0 && errno == EINTR) {
		/* Only a FIFO's open() waits: for a writer, until a signal came. */
		if (asprintf(&msg, "--files-from: '%s' is a FIFO no writer opened; stopped "
			     "waiting for one (a signal came)", d->cfg.files_from) < 0)
			msg = strdup(WHY_NOMEM);
		return msg;
	}
	if (d->list_fd < 0) {
		if (asprintf(&msg, "--files-from: cannot read '%s': %s", d->cfg.files_from,
			     strerror(errno)) < 0)
			msg = strdup(WHY_NOMEM);
		return msg;
	}
	struct stat st;
	if (fstat(d->list_fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (asprintf(&msg, "--files-from: '%s' is a folder (it takes a file listing "
			     "paths; name a folder as a PATH to walk it)", d->cfg.files_from) < 0)
			msg = strdup(WHY_NOMEM);
		return msg;
	}
	if (!(d->list = lines_new(d->list_fd, d->cfg.files_nul ? '\0' : '\n')))
		msg = strdup(WHY_NOMEM);
	return msg;
}

/* The folder of a listed file, resolved (symlinks and ".." included); malloc'd,
 * NULL with errno set when it cannot be. */
static char *real_folder(const char *path)
{
	const char *base = path_base(path);
	char *dir = base > path ? strndup(path, (size_t)(base - path)) : strdup(".");
	char *real = dir ? realpath(dir, NULL) : NULL;
	int e = errno;
	free(dir);
	errno = e;
	return real;
}

/* Why listed path is not taken, or NULL; st: what it is, *real: its folder
 * resolved (real_folder(), malloc'd; NULL when not looked at), for rel_to_base(). */
static const char *listed_refusal(const discover *d, const char *path, struct stat *st,
				  char **real)
{
	*real = NULL;
	if (stat(path, st) < 0)
		return discover_stat_cause(path, errno);
	if (S_ISDIR(st->st_mode))
		return "a folder: --files-from takes files (name a folder as a PATH to walk it)";
	if (!S_ISREG(st->st_mode))
		return DISCOVER_NOT_REGULAR;
	/* A walk never enters OUT; a list could name a thumbnail (a watcher over a
	 * tree that holds OUT lists each new one: thumbs/thumbs/... without end) or
	 * the journal. */
	*real = real_folder(path);
	if (*real && d->out_canon && path_is_under(*real, d->out_canon))
		return "inside the output folder: no file there is taken as an input "
		       "(thumbnails are written there; keep photos outside it)";
	return NULL;
}

/* The path of a listed file relative to --base, malloc'd; NULL when it is not
 * beneath it (*why). real: its folder resolved (real_folder(); NULL when it could
 * not be, errno telling why); the file's own name is kept as listed. */
static char *rel_to_base(discover *d, const char *path, const char *real, const char **why)
{
	const char *base = path_base(path);
	char *rel = NULL;
	size_t n = strlen(d->base_real);
	*why = NULL;
	if (!real)
		*why = strerror(errno);
	else if (!strcmp(real, d->base_real))
		rel = strdup(base);
	else if (path_is_under(real, d->base_real) && asprintf(&rel, "%s/%s", real + (n > 1 ? n + 1 : 1),
							  base) < 0)
		rel = NULL;
	else if (!path_is_under(real, d->base_real))
		*why = "it is not under --base (outputs mirror the paths below --base)";
	return rel;
}

/* Entries passed over (empty, named before, refused again) before the list's
 * reader may give the run's loop a turn. */
#define LIST_PASSED_MAX 4096

/* The next entry of --files-from: 1 with *it filled, 0 when the list is done,
 * DISCOVER_LATER when d->nowait and no whole entry has come yet, or a stop is
 * asked. */
int discover_next_listed(discover *d, discover_item *it)
{
	int passed = 0; /* entries that gave no item in this call */
	for (;;) {
		if (discover_stop_asked(d))
			return DISCOVER_LATER;
		/* A list of nothing but passed-over entries (/dev/zero with -0, a
		 * name again and again) comes back to the run's loop now and then,
		 * where nothing read is left waiting (lines.h). */
		if (d->nowait && passed++ >= LIST_PASSED_MAX && !lines_buffered(d->list))
			return DISCOVER_LATER;
		lines_entry e;
		lines_status got_line = lines_next(d->list, d->nowait, &e);
		if (got_line == LINES_LATER)
			return DISCOVER_LATER;
		if (got_line == LINES_ERROR) {
			/* the rest of the list is unknown: one error line names it */
			int err = errno;
			d->list_done = 1;
			discover_item_names(d, it, d->cfg.files_from, d->cfg.files_from);
			discover_item_error(d, it, "the --files-from list cannot be read further: %s",
				   strerror(err));
			it->error_kind = FAIL_ENVIRONMENT;
			return 1;
		}
		if (got_line == LINES_END) {
			d->list_done = 1;
			return 0;
		}
		if (e.len == 0 || (!d->cfg.files_nul && e.len == 1 && e.text[0] == '\r'))
			continue; /* an empty entry (a CRLF list's too): nothing listed */
		if (e.too_long) {
			/* named by its start: a report line need not carry 64 KiB */
			char start[208];
			snprintf(start, sizeof start, "%.200s...", e.text);
			return discover_path_error(d, it, start, start, "a listed entry longer than "
					  "65536 bytes (no path is that long)");
		}
		if (memchr(e.text, '\0', e.len)) {
			/* No name holds a NUL: the list is NUL-separated (find -print0)
			 * and -0 was not given. Named by what comes before the NUL; the
			 * rest of the entry would otherwise be dropped without a word. */
			char start[208];
			snprintf(start, sizeof start, "%.200s...", e.text);
			return discover_path_error(d, it, start, start, "a listed entry holds a NUL "
					  "byte, which no file name can (a list of find -print0 "
					  "needs -0)");
		}
		const char *line = e.text;
		struct stat st;
		/* Each entry is an origin of its own (fileids.h); wraps after 4 G
		 * entries, harmlessly (an origin equal to a PATH's, long done). */
		d->origin = (uint32_t)d->cfg.npaths + (uint32_t)d->list_entries++;
		const char *why;
		d->cur_root = d->cfg.base ? d->cfg.base : ".";
		/* --base is where listed paths start: a relative entry is taken from
		 * there, not from the current folder (as rsync's --files-from takes
		 * them from its source folder). */
		free(d->listed);
		d->listed = NULL;
		if (d->cfg.base && line[0] != '/' &&
		    asprintf(&d->listed, "%s/%s", d->cfg.base, line) < 0) {
			d->listed = NULL;
			return discover_path_error(d, it, line, line, WHY_NOMEM);
		}
		const char *path = d->listed ? d->listed : line;
		/* A list written with CRLF line ends (on Windows, by some tools) names
		 * "photo.jpg\r": a name that exists as written is taken as written,
		 * else the CR is the line's end, not the name's. */
		size_t plen = strlen(path);
		if (!d->cfg.files_nul && plen > 1 && path[plen - 1] == '\r' &&
		    lstat(path, &st) < 0 && errno == ENOENT) {
			if (!d->listed && !(d->listed = strdup(line)))
				return discover_path_error(d, it, line, line, WHY_NOMEM);
			d->listed[plen - 1] = '\0';
			path = d->listed;
		}
		if (discover_seen_before(d->listed_seen, path))
			continue;
		char *real;
		const char *refused = listed_refusal(d, path, &st, &real);
		if (refused) {
			free(real);
			/* the entry met already as a PATH's (a dangling link in a walked
			 * folder): answered there */
			if (discover_path_error_once(d, it, path, path, refused))
				return 1;
			continue;
		}
		char *rel = rel_to_base(d, path, real, &why);
		free(real);
		if (!rel) {
			/* a file a PATH's walk answered is not a second input (its
			 * canonical path is the key of both) */
			if (discover_path_refused_once(d, it, path, why ? why : WHY_NOMEM))
				return 1;
			continue;
		}
		int got = discover_wanted(d, rel) ? discover_plan(d, it, path, rel, &st) : 0;
		free(rel);
		if (got)
			return 1;
	}
}
