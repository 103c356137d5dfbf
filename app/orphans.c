/* SPDX-License-Identifier: MIT */
/*
 * orphans.c — workers a killed run left stopped, holding its locks. See orphans.h.
 *
 * Read from /proc (no library lists another process's descriptors): the state
 * and parent from /proc/PID/stat, the descriptors by stat() through
 * /proc/PID/fd/N, which gives the open file's own device and inode. Only looked
 * at when a lock is found busy, so its cost (a directory per stopped process)
 * never falls on a run that starts normally.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orphans.h"

/* The state letter and parent of process pid, from /proc/PID/stat: 0, or -1. The
 * command name in parentheses may hold anything, spaces and ')' too: the fields
 * start after the last ')'. */
static int stat_of(long pid, char *state, long *ppid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end = strrchr(buf, ')');
	return end && sscanf(end + 1, " %c %ld", state, ppid) == 2 ? 0 : -1;
}

/* Does process pid hold a descriptor on the file dev/ino? */
static int holds(long pid, dev_t dev, ino_t ino)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0) /* follows to the open file */
			continue;
		found = st.st_dev == dev && st.st_ino == ino;
	}
	closedir(d);
	return found;
}

static int is_run(long pid, const long *runs, int nruns)
{
	for (int i = 0; i < nruns; i++)
		if (runs[i] == pid)
			return 1;
	return 0;
}

int orphans_continue(int folder_fd, const long *runs, int nruns)
{
	struct stat folder;
	DIR *proc = fstat(folder_fd, &folder) == 0 ? opendir("/proc") : NULL;
	if (!proc)
		return 0;
	long self = (long)getpid();
	int continued = 0;
	struct dirent *e;
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		long pid = strtol(e->d_name, NULL, 10), ppid;
		char state;
		if (pid == self || is_run(pid, runs, nruns) || stat_of(pid, &state, &ppid) != 0 ||
		    state != 'T' ||
		    !holds(pid, folder.st_dev, folder.st_ino) ||
		    (ppid > 1 && holds(ppid, folder.st_dev, folder.st_ino)))
			continue;
		if (kill((pid_t)pid, SIGCONT) == 0)
			continued++;
	}
	closedir(proc);
	return continued;
}
