/* SPDX-License-Identifier: MIT */
/*
 * test_outdir.c — the output folder module: nothing beneath OUT is ever reached
 * through a symlink, nothing is replaced by a publish, a replace or delete only
 * takes the very file expected, and imgpool's own files are never links. Every case
 * runs twice: with openat2, and with the per-component walk used where openat2 is
 * refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "outdir.h"
#include "task.h"
#include "outsync.h"

static char root[PATH_MAX];
static int walk_only; /* the second pass: no openat2 */

static const char *at(const char *fmt, ...)
{
	static char buf[4][2 * PATH_MAX + 2];
	static int k;
	char rel[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
	return buf[k];
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof root, "%s/test_outdir.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The folder record of the tests (the journal's, in a run): the folders made,
 * in memory; made_absent counts those told of before they were at their place. */
#define MAX_FOLDERS 64
static struct {
	char rel[MAX_FOLDERS][PATH_MAX];
	uint64_t id[MAX_FOLDERS];
	int n, made_absent;
} folders;

static int folder_made(void *data, const char *rel, uint64_t id)
{
	(void)data;
	struct stat st;
	folders.made_absent += lstat(at("out/%s", rel), &st) < 0 && errno == ENOENT;
	for (int i = 0; i < folders.n; i++)
		if (!strcmp(folders.rel[i], rel)) {
			folders.id[i] = id;
			return 0;
		}
	if (folders.n == MAX_FOLDERS)
		return -1;
	snprintf(folders.rel[folders.n], PATH_MAX, "%s", rel);
	folders.id[folders.n++] = id;
	return 0;
}

static int folder_ours(void *data, const char *rel, uint64_t id, uint64_t earlier)
{
	(void)data;
	(void)earlier;
	for (int i = 0; i < folders.n; i++)
		if (!strcmp(folders.rel[i], rel) && folders.id[i] == id)
			return 1;
	return 0;
}

static void folder_removed(void *data, const char *rel)
{
	(void)data;
	for (int i = 0; i < folders.n; i++)
		if (!strcmp(folders.rel[i], rel)) {
			folders.n--;
			memmove(folders.rel[i], folders.rel[folders.n], PATH_MAX);
			folders.id[i] = folders.id[folders.n];
			return;
		}
}

/* OUT opened (made) with its temp folder and the folder record, in the mode of
 * this pass. */
static outdir *open_out(void)
{
	char err[512];
	outdir *od = outdir_open(at("out"), 1, err, sizeof err);
	if (!od)
		fail_msg("outdir_open: %s", err);
	if (walk_only)
		outdir_force_walk(od);
	assert_int_equal(outdir_tmp_setup(od, "tmp-test", task_temp_name_ours), 0);
	memset(&folders, 0, sizeof folders);
	outdir_record_folders(od, &(outdir_folder_record){folder_made, folder_ours,
							   folder_removed, NULL});
	return od;
}

/* A temp file the way a worker makes one. */
static void make_temp(outdir *od, const char *name, const char *text)
{
	int fd = openat(outdir_tmp_fd(od), name, O_WRONLY | O_CREAT | O_EXCL, 0666);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static file_ident ident(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return outdir_ident_of(&st);
}

static void test_open(void **state)
{
	(void)state;
	char err[512];
	/* OUT may not be a symlink: the message names the folder to give instead. */
	assert_int_equal(mkdir(at("real"), 0777), 0);
	assert_int_equal(symlink(at("real"), at("link")), 0);
	assert_null(outdir_open(at("link"), 1, err, sizeof err));
	assert_non_null(strstr(err, "is a symlink"));
	assert_non_null(strstr(err, at("real")));
	/* nor may OUT/.imgpool */
	assert_int_equal(mkdir(at("o2"), 0777), 0);
	assert_int_equal(symlink(at("real"), at("o2/.imgpool")), 0);
	assert_null(outdir_open(at("o2"), 1, err, sizeof err));
	/* nor a dangling one; a file at OUT or above it is named as such */
	assert_int_equal(symlink(at("nowhere"), at("dangling")), 0);
	assert_null(outdir_open(at("dangling"), 1, err, sizeof err));
	assert_non_null(strstr(err, "is a symlink"));
	put(at("file"), "x");
	assert_null(outdir_open(at("file"), 1, err, sizeof err));
	assert_non_null(strstr(err, "is not a folder"));
	assert_null(outdir_open(at("file/out"), 1, err, sizeof err));
	assert_non_null(strstr(err, "cannot create the output folder"));
	assert_non_null(strstr(err, strerror(ENOTDIR)));
	/* a dry run neither makes nor needs anything */
	outdir *od = outdir_open(at("absent"), 0, err, sizeof err);
	assert_non_null(od);
	struct stat st;
	assert_int_equal(outdir_stat(od, "a.jpg", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(at("absent"), F_OK), -1);
	outdir_close(od);
	od = open_out();
	assert_false(outdir_had_private(od));
	assert_string_equal(outdir_path(od), at("out"));
	outdir_close(od);
	od = open_out();
	assert_true(outdir_had_private(od));
	outdir_close(od);
	outdir_close(NULL);
}

static void test_bad_rel(void **state)
{
	(void)state;
	outdir *od = open_out();
	const char *bad[] = {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", "a/"};
	const char *leaf;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		errno = 0;
		assert_int_equal(outdir_parent(od, bad[i], 1, &leaf), -1);
		assert_int_equal(errno, EINVAL);
	}
	outdir_close(od);
}

static void test_symlinks_never_followed(void **state)
{
	(void)state;
	outdir *od = open_out();
	struct stat st;
	assert_int_equal(mkdir(at("elsewhere"), 0777), 0);
	put(at("elsewhere/a.jpg"), "precious");
	assert_int_equal(symlink(at("elsewhere"), at("out/sub")), 0);
	assert_int_equal(mkdir(at("out/d"), 0777), 0);
	assert_int_equal(symlink(at("elsewhere"), at("out/d/inner")), 0);
	/* stat, publish and remove through a symlinked folder all refuse */
	assert_int_equal(outdir_stat(od, "sub/a.jpg", &st), -1);
	assert_int_equal(errno, ELOOP);
	make_temp(od, "t1", "new");
	assert_int_equal(outdir_publish(od, "t1", "sub/b.jpg", NULL), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(outdir_publish(od, "t1", "d/inner/deeper/b.jpg", NULL), -1);
	assert_int_equal(errno, ELOOP);
	file_ident id = ident(at("elsewhere/a.jpg"));
	assert_int_equal(outdir_remove(od, "sub/a.jpg", &id, "q1"), -1);
	assert_string_equal(get(at("elsewhere/a.jpg")), "precious");
	assert_int_equal(access(at("elsewhere/b.jpg"), F_OK), -1);
	/* a symlink AT the leaf is stat'ed itself, and never replaced by a publish */
	assert_int_equal(symlink(at("elsewhere/a.jpg"), at("out/top.jpg")), 0);
	assert_int_equal(outdir_stat(od, "top.jpg", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(outdir_publish(od, "t1", "top.jpg", NULL), -1);
	assert_int_equal(errno, EEXIST);
	id = ident(at("out/top.jpg"));
	assert_int_equal(outdir_replace(od, "t1", "top.jpg", &id, "q2", NULL), -1);
	assert_string_equal(get(at("elsewhere/a.jpg")), "precious");
	outdir_close(od);
}

static void test_publish(void **state)
{
	(void)state;
	outdir *od = open_out();
	make_temp(od, "t1", "one");
	assert_int_equal(outdir_publish(od, "t1", "a/b/c.jpg", NULL), 0);	/* folders made */
	assert_string_equal(get(at("out/a/b/c.jpg")), "one");
	assert_int_equal(access(at("out/.imgpool/tmp-test/t1"), F_OK), -1);
	make_temp(od, "t2", "two");
	assert_int_equal(outdir_publish(od, "t2", "a/b/c.jpg", NULL), -1);	/* never replaces */
	assert_int_equal(errno, EEXIST);
	assert_string_equal(get(at("out/a/b/c.jpg")), "one");
	put(at("out/a/file"), "x");
	assert_int_equal(outdir_publish(od, "t2", "a/file/c.jpg", NULL), -1);	/* not a folder */
	assert_int_not_equal(errno, 0);
	outdir_close(od);
}

/* With one descriptor left, a publish's second look at its folder (still beneath
 * OUT?) fails with EMFILE: the file is taken back, and errno says that, not that
 * the folder was moved out of OUT (every thumbnail at a low `ulimit -n` was). */
static void test_publish_out_of_descriptors(void **state)
{
	(void)state;
	enum { MAX_FDS = 512 };
	outdir *od = open_out();
	make_temp(od, "t1", "one");
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	if (low.rlim_cur > MAX_FDS / 2)
		low.rlim_cur = MAX_FDS / 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fds[MAX_FDS], n = 0, fd;
	while (n < MAX_FDS && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	assert_true(n > 0 && n < MAX_FDS);
	close(fds[--n]); /* one left: the publish opens the folder with it */
	int rc = outdir_publish(od, "t1", "c.jpg", NULL);
	int e = errno;
	while (n)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	assert_int_equal(rc, -1);
	assert_int_equal(e, EMFILE);
	assert_int_equal(access(at("out/c.jpg"), F_OK), -1);
	assert_string_equal(get(at("out/.imgpool/tmp-test/t1")), "one"); /* taken back */
	outdir_close(od);
}

/* One shard's part of test_publish_while_folders_removed: rounds of publishing a
 * file into a/b, deleting it and removing the folders it leaves empty, as a removal
 * of an output does. Returns the publishes that failed (errno of the first in *e). */
static int publish_rounds(outdir *od, const char *who, int rounds, int *e)
{
	int failed = 0;
	for (int i = 0; i < rounds; i++) {
		char tmp[32], rel[64];
		snprintf(tmp, sizeof tmp, "%s%d", who, i);
		snprintf(rel, sizeof rel, "a/b/%s%d.jpg", who, i);
		make_temp(od, tmp, "x");
		if (outdir_publish(od, tmp, rel, NULL) < 0) {
			if (!failed++)
				*e = errno;
			outdir_tmp_remove(od, tmp);
			continue;
		}
		unlink(at("out/%s", rel));
		outdir_remove_empty_dirs(od, rel);
	}
	return failed;
}

/* Two imgpools (shards of one array job) publish into the same folders while each
 * removes the folders its last output left empty: every publish lands, a folder
 * removed between its mkdir and the rename made again. */
static void test_publish_while_folders_removed(void **state)
{
	(void)state;
	outdir *od = open_out();
	int e = 0;
	pid_t rival = fork();
	assert_true(rival >= 0);
	if (rival == 0)
		_exit(publish_rounds(od, "r", 2000, &e) ? 1 : 0);
	int failed = publish_rounds(od, "p", 2000, &e), status;
	assert_int_equal(waitpid(rival, &status, 0), rival);
	if (failed)
		fail_msg("%d of 2000 publishes failed, the first: %s", failed, strerror(e));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the rival's publishes failed");
	outdir_close(od);
}

/* Publishing gives a temp file its folder's group and ACL, then renames it: only
 * the file the worker made. Another put at its name (a hard link to a private
 * file: it took the folder's group and ACL, then was published) stays where it
 * is, untouched, and nothing is put in place. */
static void test_only_the_temp_file_made_is_published(void **state)
{
	(void)state;
	outdir *od = open_out();
	make_temp(od, "t1", "thumb");
	file_ident made;
	struct stat st;
	assert_int_equal(fstatat(outdir_tmp_fd(od), "t1", &st, AT_SYMLINK_NOFOLLOW), 0);
	made = outdir_ident_of(&st);
	/* swapped for a hard link to a private file of the user's */
	int fd = open(at("victim"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unlinkat(outdir_tmp_fd(od), "t1", 0), 0);
	assert_int_equal(linkat(AT_FDCWD, at("victim"), outdir_tmp_fd(od), "t1", 0), 0);
	assert_int_equal(mkdir(at("out/web"), 0755), 0);
	assert_int_equal(chmod(at("out/web"), 02775), 0);
	assert_int_equal(outdir_publish(od, "t1", "web/x.jpg", &made), -1);
	assert_int_equal(errno, OUTDIR_ETEMP);
	assert_int_equal(lstat(at("out/web/x.jpg"), &st), -1);
	assert_int_equal(stat(at("victim"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the file made itself: published */
	unlinkat(outdir_tmp_fd(od), "t1", 0);
	make_temp(od, "t2", "thumb");
	assert_int_equal(fstatat(outdir_tmp_fd(od), "t2", &st, AT_SYMLINK_NOFOLLOW), 0);
	made = outdir_ident_of(&st);
	assert_int_equal(outdir_publish(od, "t2", "web/x.jpg", &made), 0);
	assert_int_equal(lstat(at("out/web/x.jpg"), &st), 0);
	outdir_close(od);
}

/* Only the folders imgpool made go when a removal empties them: not one the user
 * made before (out/web, mode 2750), nor one made again at the path of imgpool's.
 * Each is recorded before it is at its place; one made in a setgid folder takes
 * its group bit, as mkdir in place gives it; a folder a kill left in the temp
 * folder goes at the next setup. */
static void test_only_folders_imgpool_made_go(void **state)
{
	(void)state;
	outdir *od = open_out();
	assert_int_equal(mkdir(at("out/web"), 0700), 0);
	assert_int_equal(chmod(at("out/web"), 02750), 0);
	make_temp(od, "t1", "thumb");
	assert_int_equal(outdir_publish(od, "t1", "web/x.jpg", NULL), 0);
	assert_int_equal(folders.n, 0); /* the user's: not recorded */
	assert_int_equal(unlink(at("out/web/x.jpg")), 0);
	outdir_remove_empty_dirs(od, "web/x.jpg");
	struct stat st;
	assert_int_equal(stat(at("out/web"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 02750);
	/* made by imgpool, inside the user's setgid folder */
	make_temp(od, "t2", "thumb");
	assert_int_equal(outdir_publish(od, "t2", "web/a/b/x.jpg", NULL), 0);
	assert_int_equal(folders.n, 2);
	assert_int_equal(folders.made_absent, 2);
	assert_int_equal(stat(at("out/web/a/b"), &st), 0);
	assert_true(st.st_mode & S_ISGID);
	assert_int_equal(unlink(at("out/web/a/b/x.jpg")), 0);
	outdir_remove_empty_dirs(od, "web/a/b/x.jpg");
	assert_int_equal(access(at("out/web/a"), F_OK), -1);
	assert_int_equal(access(at("out/web"), F_OK), 0);
	assert_int_equal(folders.n, 0);
	/* imgpool's folder replaced by the user's at its path: kept */
	make_temp(od, "t3", "thumb");
	assert_int_equal(outdir_publish(od, "t3", "c/x.jpg", NULL), 0);
	assert_int_equal(rename(at("out/c/x.jpg"), at("out/x.jpg")), 0);
	assert_int_equal(rmdir(at("out/c")), 0);
	assert_int_equal(mkdir(at("out/c"), 0755), 0);
	outdir_remove_empty_dirs(od, "c/x.jpg");
	assert_int_equal(access(at("out/c"), F_OK), 0);
	/* a kill between the mkdir in the temp folder and the rename: swept */
	assert_int_equal(mkdir(at("out/.imgpool/tmp-test/folder-1-1"), 0755), 0);
	outdir_close(od);
	od = open_out();
	assert_int_equal(access(at("out/.imgpool/tmp-test/folder-1-1"), F_OK), -1);
	outdir_close(od);
	/* without a record (no journal): none is imgpool's */
	od = open_out();
	outdir_record_folders(od, NULL);
	make_temp(od, "t4", "thumb");
	assert_int_equal(outdir_publish(od, "t4", "d/x.jpg", NULL), 0);
	assert_int_equal(unlink(at("out/d/x.jpg")), 0);
	outdir_remove_empty_dirs(od, "d/x.jpg");
	assert_int_equal(access(at("out/d"), F_OK), 0);
	outdir_close(od);
}

static void test_replace(void **state)
{
	(void)state;
	outdir *od = open_out();
	put(at("out/x.jpg"), "old");
	file_ident old = ident(at("out/x.jpg"));
	make_temp(od, "t1", "new!");
	assert_int_equal(outdir_replace(od, "t1", "x.jpg", &old, "q-1", NULL), 0);
	assert_string_equal(get(at("out/x.jpg")), "new!");
	assert_int_equal(access(at("out/.imgpool/quarantine/q-1"), F_OK), -1);
	/* the file changed since it was recorded: put back, ESTALE */
	file_ident stale = ident(at("out/x.jpg"));
	stale.size++;
	make_temp(od, "t2", "newer");
	assert_int_equal(outdir_replace(od, "t2", "x.jpg", &stale, "q-2", NULL), -1);
	assert_int_equal(errno, ESTALE);
	assert_string_equal(get(at("out/x.jpg")), "new!");
	assert_int_equal(access(at("out/.imgpool/quarantine/q-2"), F_OK), -1);
	outdir_close(od);
}

static void test_remove_and_restore(void **state)
{
	(void)state;
	outdir *od = open_out();
	put(at("out/keep.txt"), "mine");
	make_temp(od, "t1", "thumb");
	assert_int_equal(outdir_publish(od, "t1", "a/b/x.jpg", NULL), 0);
	file_ident id = ident(at("out/a/b/x.jpg"));
	file_ident wrong = id;
	wrong.mtime_ns++;
	assert_int_equal(outdir_remove(od, "a/b/x.jpg", &wrong, "q-1"), -1);
	assert_int_equal(errno, ESTALE);
	assert_string_equal(get(at("out/a/b/x.jpg")), "thumb");
	/* another file moved into its place, of the same size and mtime, is not it
	 * (a user's, put there after the look that proved the thumbnail imgpool's) */
	put(at("out/a/b/y.jpg"), "THUMB");
	struct timespec times[2] = {{0, UTIME_OMIT}, {id.mtime_ns / 1000000000,
						      id.mtime_ns % 1000000000}};
	assert_int_equal(utimensat(AT_FDCWD, at("out/a/b/y.jpg"), times, 0), 0);
	assert_int_equal(rename(at("out/a/b/y.jpg"), at("out/a/b/x.jpg")), 0);
	assert_int_equal(outdir_remove(od, "a/b/x.jpg", &id, "q-4"), -1);
	assert_int_equal(errno, ESTALE);
	assert_string_equal(get(at("out/a/b/x.jpg")), "THUMB");
	id = ident(at("out/a/b/x.jpg"));
	/* a chmod (or a hard link a backup adds) moves its change time: still it */
	assert_int_equal(chmod(at("out/a/b/x.jpg"), 0640), 0);
	assert_int_equal(outdir_remove(od, "a/b/x.jpg", &id, "q-2"), 0);
	assert_int_equal(access(at("out/a"), F_OK), -1);		/* empty folders go */
	assert_string_equal(get(at("out/keep.txt")), "mine");
	/* restore: a quarantined file goes back where its place is free... */
	assert_int_equal(mkdir(at("out/.imgpool/quarantine"), 0700) == 0 || errno == EEXIST, 1);
	put(at("out/.imgpool/quarantine/q-9"), "back");
	assert_int_equal(outdir_restore(od, "q-9", "r/x.jpg", NULL), 1);
	assert_string_equal(get(at("out/r/x.jpg")), "back");
	/* ... is deleted when its place is taken and it was imgpool's ... */
	put(at("out/.imgpool/quarantine/q-8"), "old");
	file_ident q8 = ident(at("out/.imgpool/quarantine/q-8"));
	assert_int_equal(outdir_restore(od, "q-8", "r/x.jpg", &q8), 2);
	assert_int_equal(access(at("out/.imgpool/quarantine/q-8"), F_OK), -1);
	/* ... and stays when it was not */
	put(at("out/.imgpool/quarantine/q-7"), "someone's");
	assert_int_equal(outdir_restore(od, "q-7", "r/x.jpg", &q8), 0);
	assert_string_equal(get(at("out/.imgpool/quarantine/q-7")), "someone's");
	assert_int_equal(outdir_restore(od, "q-6", "r/x.jpg", NULL), 3);
	outdir_close(od);
}

static void test_private_files(void **state)
{
	(void)state;
	outdir *od = open_out();
	put(at("victim"), "keep");
	assert_int_equal(symlink(at("victim"), at("out/.imgpool/lock")), 0);
	assert_int_equal(outdir_private_open(od, "lock", O_RDWR | O_CREAT), -1);
	assert_int_equal(link(at("victim"), at("out/.imgpool/hard")), 0);
	assert_int_equal(outdir_private_open(od, "hard", O_RDWR | O_CREAT), -1);
	assert_string_equal(get(at("victim")), "keep");
	int fd = outdir_private_open(od, "lock2", O_RDWR | O_CREAT);
	assert_true(fd >= 0);
	close(fd);
	put(at("out/.imgpool/journal-1-of-2.sqlite"), "");
	put(at("out/.imgpool/journal.sqlite"), "");
	char **names = outdir_private_list(od, "journal", ".sqlite");
	assert_non_null(names);
	assert_string_equal(names[0], "journal-1-of-2.sqlite");
	assert_string_equal(names[1], "journal.sqlite");
	assert_null(names[2]);
	outdir_names_free(names);
	char *p = outdir_private_path(od, "journal.sqlite");
	assert_non_null(p);
	assert_non_null(strstr(p, "/out/.imgpool/journal.sqlite"));
	free(p);
	assert_int_equal(outdir_private_rename(od, "lock2", "lock3"), 0);
	assert_int_equal(access(at("out/.imgpool/lock3"), F_OK), 0);
	outdir_close(od);
}

/* outdir_sync_in() in the temp folder: a regular temp file is fsync'd; a missing one is ENOENT; a
 * symlink or a FIFO in a temp file's place is refused (ELOOP) without following
 * it or waiting for a writer. */
static void test_tmp_sync(void **state)
{
	(void)state;
	outdir *od = open_out();
	make_temp(od, "t1", "bytes");
	assert_int_equal(outdir_sync_in(outdir_tmp_fd(od), "t1"), 0);
	assert_int_equal(outdir_sync_in(outdir_tmp_fd(od), "gone"), -1);
	assert_int_equal(errno, ENOENT);
	put(at("victim"), "keep");
	assert_int_equal(symlinkat(at("victim"), outdir_tmp_fd(od), "link"), 0);
	assert_int_equal(outdir_sync_in(outdir_tmp_fd(od), "link"), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(mkfifoat(outdir_tmp_fd(od), "fifo", 0600), 0);
	assert_int_equal(outdir_sync_in(outdir_tmp_fd(od), "fifo"), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(outdir_sync_in(outdir_tmp_fd(od), "a/b"), -1);
	assert_int_equal(errno, EINVAL);
	outdir_close(od);
}

/* outsync: slots queued as results come are synced in the order queued by its
 * thread, each waited for once; a slot whose file is missing says why; a slot is
 * reused after its wait; stopping with slots still queued syncs them and ends. */
static void test_outsync(void **state)
{
	(void)state;
	outdir *od = open_out();
	outsync *s = outsync_start(od, 3);
	assert_non_null(s);
	char names[2][TASK_TEMP_NAME_MAX] = {"a1", "a2"};
	make_temp(od, "a1", "x");
	make_temp(od, "a2", "y");
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < OUTSYNC_SLOTS; k++)
			outsync_add(s, k, (const char (*)[TASK_TEMP_NAME_MAX])names, k % 3 == 2 ? 1 : 2);
		for (int k = 0; k < OUTSYNC_SLOTS; k++) {
			int err = -1;
			assert_int_equal(outsync_wait(s, k, &err, NULL), 0);
			assert_int_equal(err, 0);
		}
	}
	char missing[2][TASK_TEMP_NAME_MAX] = {"a1", "nowhere"};
	outsync_add(s, 5, (const char (*)[TASK_TEMP_NAME_MAX])missing, 2);
	int err = 0;
	assert_int_equal(outsync_wait(s, 5, &err, NULL), -1);
	assert_int_equal(err, ENOENT);
	outsync_add(s, 6, (const char (*)[TASK_TEMP_NAME_MAX])names, 2);
	outsync_stop(s);	/* slot 6 never waited for: synced, then the thread ends */
	outdir_close(od);
}

static void test_tmp(void **state)
{
	(void)state;
	char err[512];
	outdir *od = open_out();
	make_temp(od, "17-0-4242.tmp", "left by a killed run");
	make_temp(od, "notes.txt", "a user's file");
	make_temp(od, "17-0-4242.tmp.bak", "a user's file too");
	outdir_close(od);
	od = outdir_open(at("out"), 1, err, sizeof err);
	assert_int_equal(outdir_tmp_setup(od, "tmp-test", task_temp_name_ours), 0);
	/* a killed run's temp file removed; a file imgpool cannot show it made stays */
	assert_int_equal(access(at("out/.imgpool/tmp-test/17-0-4242.tmp"), F_OK), -1);
	assert_int_equal(access(at("out/.imgpool/tmp-test/notes.txt"), F_OK), 0);
	assert_int_equal(access(at("out/.imgpool/tmp-test/17-0-4242.tmp.bak"), F_OK), 0);
	file_ident id = outdir_tmp_ident(od);
	file_ident seen = ident(outdir_tmp_path(od));
	assert_true(id.dev == seen.dev && id.ino == seen.ino);
	make_temp(od, "t", "x");
	assert_int_equal(outdir_tmp_remove(od, "t"), 0);
	assert_int_equal(outdir_tmp_remove(od, "t"), 0);		/* gone is fine */
	make_temp(od, "3-1-99.tmp", "x");
	outdir_tmp_cleanup(od);
	/* the user's files keep the folder */
	assert_int_equal(access(at("out/.imgpool/tmp-test/3-1-99.tmp"), F_OK), -1);
	assert_int_equal(access(at("out/.imgpool/tmp-test/notes.txt"), F_OK), 0);
	outdir_close(od);
	assert_int_equal(unlink(at("out/.imgpool/tmp-test/notes.txt")), 0);
	assert_int_equal(unlink(at("out/.imgpool/tmp-test/17-0-4242.tmp.bak")), 0);
	od = outdir_open(at("out"), 1, err, sizeof err);
	assert_int_equal(outdir_tmp_setup(od, "tmp-test", task_temp_name_ours), 0);
	make_temp(od, "u-0-1.tmp", "not a name a worker gives");
	assert_int_equal(unlink(at("out/.imgpool/tmp-test/u-0-1.tmp")), 0);
	outdir_tmp_cleanup(od);
	assert_int_equal(access(at("out/.imgpool/tmp-test"), F_OK), -1);
	outdir_close(od);
}

static int nothing_is_own(const char *name)
{
	(void)name;
	return 0;
}

/* A new OUT left empty is taken back with the folders made above it, each through
 * the folder it was made in: after a rename of those folders during the run, the
 * folders made go from where they are now, and a stranger's empty folders at the
 * old path stay (an rmdir by path would judge and remove the stranger's). */
static void test_unmake_follows_the_folders_made(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(mkdir(at("kept"), 0777), 0);
	outdir *od = outdir_open(at("kept/a/b/out"), 1, err, sizeof err);
	if (!od)
		fail_msg("outdir_open: %s", err);
	assert_int_equal(outdir_unmake(od, nothing_is_own), 1);
	outdir_close(od);
	assert_int_equal(access(at("kept/a"), F_OK), -1);
	assert_int_equal(access(at("kept"), F_OK), 0);		/* was there before */

	od = outdir_open(at("a/b/out"), 1, err, sizeof err);
	assert_non_null(od);
	assert_int_equal(rename(at("a"), at("moved")), 0);
	assert_int_equal(mkdir(at("a"), 0777), 0);
	assert_int_equal(mkdir(at("a/b"), 0777), 0);
	assert_int_equal(mkdir(at("a/b/out"), 0777), 0);
	assert_int_equal(outdir_unmake(od, nothing_is_own), 1);
	outdir_close(od);
	assert_int_equal(access(at("moved/b"), F_OK), -1);	/* made: taken back */
	assert_int_equal(access(at("moved"), F_OK), 0);		/* not where it was made */
	assert_int_equal(access(at("a/b/out"), F_OK), 0);	/* the stranger's */

	/* a file in OUT keeps everything */
	od = outdir_open(at("c/out"), 1, err, sizeof err);
	assert_non_null(od);
	put(at("c/out/thumb.jpg"), "x");
	assert_int_equal(outdir_unmake(od, nothing_is_own), 0);
	outdir_close(od);
	assert_int_equal(access(at("c/out/.imgpool"), F_OK), 0);
}

/* OUT that was there (a photo folder given as -o by mistake) keeps its files and
 * itself; the .imgpool the run made there goes, since left behind it made that
 * folder an output folder, never read as input again. A .imgpool that was there
 * before stays, and so does one that holds a file the run does not own. */
static void test_unmake_takes_back_its_imgpool_from_a_folder_that_was_there(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(mkdir(at("photos"), 0777), 0);
	put(at("photos/dog.jpg"), "x");
	outdir *od = outdir_open(at("photos"), 1, err, sizeof err);
	if (!od)
		fail_msg("outdir_open: %s", err);
	assert_int_equal(access(at("photos/.imgpool"), F_OK), 0);
	assert_int_equal(outdir_unmake(od, nothing_is_own), 0);	/* OUT stays */
	outdir_close(od);
	assert_int_equal(access(at("photos/.imgpool"), F_OK), -1);
	assert_int_equal(access(at("photos/dog.jpg"), F_OK), 0);

	assert_int_equal(mkdir(at("photos/.imgpool"), 0777), 0);	/* an earlier run's */
	od = outdir_open(at("photos"), 1, err, sizeof err);
	assert_non_null(od);
	assert_int_equal(outdir_unmake(od, nothing_is_own), 0);
	outdir_close(od);
	assert_int_equal(access(at("photos/.imgpool"), F_OK), 0);

	assert_int_equal(rmdir(at("photos/.imgpool")), 0);
	od = outdir_open(at("photos"), 1, err, sizeof err);
	assert_non_null(od);
	put(at("photos/.imgpool/notes.txt"), "the user's");
	assert_int_equal(outdir_unmake(od, nothing_is_own), 0);
	outdir_close(od);
	assert_int_equal(access(at("photos/.imgpool/notes.txt"), F_OK), 0);
}

static int both_ways(const struct CMUnitTest *tests, size_t n)
{
	int failed = 0;
	for (walk_only = 0; walk_only < 2; walk_only++)
		failed += _cmocka_run_group_tests(walk_only ? "outdir (walk)" : "outdir (openat2)",
						  tests, n, NULL, NULL);
	return failed;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_never_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_while_folders_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_folders_imgpool_made_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_the_temp_file_made_is_published, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tmp_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_out_of_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmake_follows_the_folders_made, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmake_takes_back_its_imgpool_from_a_folder_that_was_there,
						setup, teardown),
	};
	return both_ways(tests, sizeof tests / sizeof *tests);
}
