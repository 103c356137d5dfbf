/* SPDX-License-Identifier: MIT */
/*
 * journal_open.c — opening the run journal (or a read-only view of it for a dry
 * run), the other shards' journals beside it, and closing them all. See journal.h.
 *
 * SQLite opens files by name (and makes its -wal and -shm names from it): the name
 * comes from outdir_private_path(), the canonical path checked to lead to the
 * OUT/.imgpool outdir.c holds, and SQLITE_OPEN_NOFOLLOW refuses a symlink planted
 * at the journal's own name. Where that path is longer than SQLite's unix VFS
 * takes (MAX_PATHNAME, 512 bytes: an output folder two long names deep could not
 * be used at all), the name is /proc/self/fd/N/<file>, N the folder's descriptor
 * outdir.c holds, and the VFS registered here as the default keeps such a name
 * as it is: the unix VFS would resolve its symlink back to the long path.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "journal.h"
#include "journal_internal.h"
#include "journal_schema.h"

static const char *const side_suffixes[] = {"", "-wal", "-shm"};

#define FD_NAMES "/proc/self/fd/"
/* Longest canonical path given to SQLite: its MAX_PATHNAME (512) less room. */
#define SQLITE_PATH_MAX 480

static sqlite3_vfs *unix_vfs;
static sqlite3_vfs fd_vfs; /* the unix VFS, but for FD_NAMES names (above) */

static int fd_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	size_t len = strlen(name);
	if (!strncmp(name, FD_NAMES, strlen(FD_NAMES)) && len < (size_t)n) {
		memcpy(out, name, len + 1);
		return SQLITE_OK;
	}
	return unix_vfs->xFullPathname(unix_vfs, name, n, out);
}

static void register_fd_vfs(void)
{
	if (!(unix_vfs = sqlite3_vfs_find(NULL)))
		return;
	fd_vfs = *unix_vfs; /* its methods and their data (the unix VFS's own) */
	fd_vfs.zName = "imgpool-unix";
	fd_vfs.xFullPathname = fd_full_pathname;
	fd_vfs.pNext = NULL;
	if (sqlite3_vfs_register(&fd_vfs, 1) != SQLITE_OK)
		unix_vfs = NULL;
}

/* The name SQLite opens OUT/.imgpool/<file> by (the head comment); malloc'd, or
 * NULL. */
static char *db_path(outdir *od, const char *file)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char *path = outdir_private_path(od, file), *by_fd;
	if (!path || strlen(path) + 8 < SQLITE_PATH_MAX)
		return path;
	pthread_once(&once, register_fd_vfs);
	if (!unix_vfs || access(FD_NAMES, X_OK) != 0 ||
	    asprintf(&by_fd, FD_NAMES "%d/%s", outdir_private_fd(od), file) < 0)
		return path; /* SQLite says why it cannot */
	free(path);
	return by_fd;
}

/* What is at OUT/.imgpool/<name><suffix>. */
typedef enum side_kind {
	SIDE_ABSENT,
	SIDE_PLAIN,  /* a regular file with one link */
	SIDE_SHARED, /* a regular file with other hard links: a write there reaches them */
	SIDE_ALIEN,  /* a folder, symlink, FIFO...: no journal's (SQLite would wait for
	              * ever on a FIFO's other end; a signal cannot end that wait) */
} side_kind;

static side_kind side_of(const outdir *od, const char *name, const char *suffix)
{
	char side[300];
	struct stat st;
	snprintf(side, sizeof side, "%s%s", name, suffix);
	if (fstatat(outdir_private_fd(od), side, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return SIDE_ABSENT;
	return !S_ISREG(st.st_mode) ? SIDE_ALIEN : st.st_nlink == 1 ? SIDE_PLAIN : SIDE_SHARED;
}

/* The worst of the journal file and its -wal and -shm, in the order above. */
static side_kind sides_of(const outdir *od, const char *name)
{
	side_kind worst = SIDE_ABSENT;
	for (int i = 0; i < 3; i++) {
		side_kind k = side_of(od, name, side_suffixes[i]);
		worst = k > worst ? k : worst;
	}
	return worst;
}

/* How long a live view waits for a shard that holds its journal's lock. */
#define VIEW_BUSY_MS 5000

int journal_open_view(outdir *od, const char *file, int change_nothing, sqlite3 **db)
{
	*db = NULL;
	side_kind main_file = side_of(od, file, "");
	if (main_file == SIDE_ABSENT || main_file == SIDE_ALIEN)
		return SQLITE_CANTOPEN;
	char *path = db_path(od, file);
	if (!path)
		return SQLITE_CANTOPEN;
	/* A reader writes only the -shm (never the journal or its -wal): that one must
	 * be a file of its own, or absent (then made, in OUT/.imgpool). Where there is
	 * no -wal, a look that must change nothing reads immutable (a reader would make
	 * a -wal and -shm and leave them); in a run, another shard may start writing at
	 * any time, and an immutable reader would never see it. */
	side_kind wal = side_of(od, file, "-wal"), shm = side_of(od, file, "-shm");
	int rc;
	if ((shm == SIDE_PLAIN || shm == SIDE_ABSENT) && wal != SIDE_ALIEN &&
	    (!change_nothing || wal != SIDE_ABSENT)) {
		rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
		free(path);
		/* Before the first statement is prepared (it reads the schema): a
		 * shard writing or checkpointing that journal just then made the
		 * prepare fail at once (SQLITE_BUSY), and the journal was passed
		 * over for the whole run, its records unseen. */
		if (rc == SQLITE_OK)
			sqlite3_busy_timeout(*db, VIEW_BUSY_MS);
		return rc;
	}
	/* file:PATH?immutable=1, PATH percent-encoded but for its plain bytes */
	size_t n = strlen(path);
	char *uri = malloc(3 * n + 32), *u = uri;
	if (!uri) {
		free(path);
		return SQLITE_NOMEM;
	}
	u += sprintf(u, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		u += isalnum(*p) || strchr("/._-~", *p) ? sprintf(u, "%c", *p)
							  : sprintf(u, "%%%02X", *p);
	strcpy(u, "?immutable=1");
	rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	free(uri);
	free(path);
	return rc;
}

int journal_would_keep(outdir *od, const char *file)
{
	sqlite3 *db = NULL;
	int version = -1;
	if (sides_of(od, file) != SIDE_ALIEN && journal_open_view(od, file, 1, &db) == SQLITE_OK)
		version = journal_schema_version(db);
	sqlite3_close(db);
	return version >= 1 && version <= SCHEMA_VERSION;
}

/* The journal and its -wal and -shm made ready for writing: each a file of its own
 * (a hard-linked one copied, outdir_private_unshare()). 0, or -1 with why said. */
static int own_sides(outdir *od, const char *file, char *why, size_t len)
{
	for (int i = 0; i < 3; i++) {
		char side[300];
		snprintf(side, sizeof side, "%s%s", file, side_suffixes[i]);
		if (outdir_private_unshare(od, side) < 0) {
			snprintf(why, len, "cannot give its%s file a copy of its own (it has other "
					   "hard links): %s", side_suffixes[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Open every other journal of the folder read-only, for ownership lookups. */
static void open_others(journal *j, const char *own)
{
	char **names = outdir_private_list(j->od, "journal", ".sqlite");
	for (char **n = names; n && *n && j->nothers < MAX_OTHERS; n++) {
		if (!strcmp(*n, own))
			continue;
		other_journal *o = &j->others[j->nothers];
		snprintf(o->file, sizeof o->file, "%s", *n);
		/* In a run, a live view: another shard may be writing it. */
		if (journal_open_view(j->od, *n, j->readonly, &o->db) == SQLITE_OK &&
		    (sqlite3_prepare_v2(o->db, journal_stmt_sql[S_OWNS], -1, &o->owns, NULL) ==
			     SQLITE_OK ||
		     sqlite3_prepare_v2(o->db, journal_owns_sql_v5, -1, &o->owns, NULL) ==
			     SQLITE_OK)) {
			/* An older schema lacks some: those lookups skip it. */
			if (sqlite3_prepare_v2(o->db, journal_stmt_sql[S_INFO], -1, &o->info,
					       NULL) != SQLITE_OK)
				sqlite3_prepare_v2(o->db, journal_info_sql_v6, -1, &o->info, NULL);
			sqlite3_prepare_v2(o->db, journal_stmt_sql[S_OUTS_OF], -1, &o->outs_of, NULL);
			if (sqlite3_prepare_v2(o->db, journal_stmt_sql[S_GET], -1, &o->get,
					       NULL) != SQLITE_OK)
				sqlite3_prepare_v2(o->db, journal_get_sql_v3, -1, &o->get, NULL);
			sqlite3_prepare_v2(o->db, journal_stmt_sql[S_INPUTS], -1, &o->inputs, NULL);
			sqlite3_prepare_v2(o->db, journal_stmt_sql[S_FOLDER_GET], -1, &o->folder,
					   NULL);
			j->nothers++;
		} else {
			sqlite3_close(o->db);
			o->db = NULL;
		}
	}
	outdir_names_free(names);
}


/* Every statement; on a dry run's view of an older journal (the run itself
 * converts it) S_GET reads a schema-3 journal's rows as not racy, S_OWNS a
 * schema-5 one's outputs as without checksums, S_INFO a schema-6 one's as made
 * from an input not known, the folders' statements are left out before schema 8
 * (no folder known as imgpool's), and S_PUT, S_INTENT, S_MADE_KEEP and S_MOVED,
 * never run there, are left out where their columns are not. */
static int prepare_all(journal *j, int version)
{
	for (int i = 0; i < S_COUNT; i++) {
		const char *sql = journal_stmt_sql[i];
		if (version == 3 && i == S_GET)
			sql = journal_get_sql_v3;
		else if (version <= 5 && i == S_OWNS)
			sql = journal_owns_sql_v5;
		else if (version <= 6 && i == S_INFO)
			sql = journal_info_sql_v6;
		else if ((version == 3 && i == S_PUT) ||
			 (version <= 6 && i == S_INTENT) ||
			 (version <= 5 && (i == S_MADE_KEEP || i == S_MOVED)) ||
			 (version <= 7 && (i == S_FOLDER_ADD || i == S_FOLDER_GET || i == S_FOLDER_DEL)))
			continue;
		if (sqlite3_prepare_v2(j->db, sql, -1, &j->st[i], NULL) != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* A dry run's view of its journal: read through a -wal that is there (its run going
 * on, or killed); immutable where there is none (the journal was closed cleanly:
 * every row is in the main file), as a read-only connection to a WAL database makes
 * -shm and -wal files and leaves them behind. Schemas 3 and later are read as they
 * are (4 lacks only the roots table, which journal_root_device_seen() takes as none
 * recorded); 1 and 2 are not. */
static journal *open_readonly(journal *j, const char *file)
{
	j->readonly = 1;
	int version = -1;
	if (journal_open_view(j->od, file, 1, &j->db) != SQLITE_OK ||
	    (version = journal_schema_version(j->db)) < 3 || version > SCHEMA_VERSION ||
	    prepare_all(j, version) < 0) {
		/* A schema-1 or -2 journal in a dry run: the run itself converts it. */
		journal_close(j, 0, 0, 0, 0, 0);
		return NULL;
	}
	return j;
}

journal *journal_open(outdir *od, const char *file, const char *settings_text,
		      int readonly, char *warn, size_t wlen, char *err, size_t elen)
{
	warn[0] = '\0';
	err[0] = '\0';
	char *path = db_path(od, file);
	journal *j = path ? calloc(1, sizeof *j) : NULL;
	if (!j) {
		if (!readonly || path)
			snprintf(err, elen, "%s", path ? "out of memory" : "no output folder");
		free(path);
		return NULL;
	}
	j->od = od;
	snprintf(j->file, sizeof j->file, "%s", file);
	struct stat there;
	if (readonly && fstatat(outdir_private_fd(od), file, &there, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT) {
		/* A dry run whose own journal does not exist yet (the first run with
		 * --shard after runs without, or another N): an empty one in memory,
		 * so that what the others of the folder know (outputs their rows show
		 * this input made) is judged as the run will judge it. */
		char why[300];
		free(path);
		if (journal_schema_open(":memory:", od, &j->db, why, sizeof why) !=
			    JOURNAL_SCHEMA_OPEN ||
		    prepare_all(j, SCHEMA_VERSION) < 0) {
			journal_close(j, 0, 0, 0, 0, 0);
			return NULL;
		}
		j->readonly = 1;
		open_others(j, file);
		if (!j->nothers) { /* none: no journal at all, as before */
			journal_close(j, 0, 0, 0, 0, 0);
			return NULL;
		}
		return j;
	}
	if (readonly) {
		j = open_readonly(j, file);
		free(path);
		if (j)
			open_others(j, file);
		return j;
	}
	char why[300];
	journal_schema_status how;
	if (sides_of(od, file) == SIDE_ALIEN) {
		snprintf(why, sizeof why, "it or its -wal or -shm is not a regular file");
		how = JOURNAL_SCHEMA_DAMAGED;
	} else if (own_sides(od, file, why, sizeof why) < 0) {
		how = JOURNAL_SCHEMA_UNAVAILABLE;
	} else {
		how = journal_schema_open(path, od, &j->db, why, sizeof why);
	}
	if (how == JOURNAL_SCHEMA_DAMAGED) {
		sqlite3_close(j->db);
		j->db = NULL;
		journal_move_aside(od, file, why, warn, wlen);
		how = journal_schema_open(path, od, &j->db, why, sizeof why);
	}
	if (how != JOURNAL_SCHEMA_OPEN) {
		/* Never moved aside for this: the file may hold the proof of every
		 * thumbnail there, and a run without it would make more it cannot show
		 * it made. */
		snprintf(err, elen, "cannot open the journal %s/" OUTDIR_PRIVATE "/%s: %s",
			 outdir_path(od), file, why);
		free(path);
		journal_close(j, 0, 0, 0, 0, 0);
		return NULL;
	}
	free(path);
	if (prepare_all(j, SCHEMA_VERSION) < 0) {
		snprintf(err, elen, "journal: %s", sqlite3_errmsg(j->db));
		journal_close(j, 0, 0, 0, 0, 0);
		return NULL;
	}
	sqlite3_stmt *st;
	char started[64];
	clock_iso_now(started, sizeof started);
	if (sqlite3_prepare_v2(j->db, "INSERT INTO runs (started, settings) VALUES (?1, ?2)", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, started, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, settings_text, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	j->run = sqlite3_last_insert_rowid(j->db);
	open_others(j, file);
	return j;
}

void journal_close(journal *j, uint64_t done, uint64_t failed, uint64_t skipped,
		   double wall_s, int interrupted)
{
	if (!j)
		return;
	if (!j->readonly && j->db) {
		journal_sync(j);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(j->db, "UPDATE runs SET wall_s=?1, done=?2, failed=?3,"
					      " skipped=?4, interrupted=?5 WHERE id=?6", -1, &st,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_double(st, 1, wall_s);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)done);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)failed);
			sqlite3_bind_int64(st, 4, (sqlite3_int64)skipped);
			sqlite3_bind_int(st, 5, interrupted);
			sqlite3_bind_int64(st, 6, j->run);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
	}
	if (j->od && j->keeps_folders)
		outdir_record_folders(j->od, NULL);
	for (size_t i = 0; i < j->ndry_folders; i++)
		free(j->dry_folders[i].path);
	free(j->dry_folders);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(j->st[i]);
	for (int i = 0; i < j->nothers; i++) {
		other_journal *o = &j->others[i];
		sqlite3_finalize(o->owns);
		sqlite3_finalize(o->info);
		sqlite3_finalize(o->outs_of);
		sqlite3_finalize(o->get);
		sqlite3_finalize(o->inputs);
		sqlite3_finalize(o->folder);
		sqlite3_close(o->db);
	}
	sqlite3_close(j->db);
	free(j);
}
