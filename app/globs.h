/* SPDX-License-Identifier: MIT */
/*
 * globs.h — the --include / --exclude rule for one path: fnmatch() globs, matched
 * ignoring case against the path relative to its PATH or any one name in it.
 */
#ifndef IMGPOOL_GLOBS_H
#define IMGPOOL_GLOBS_H

/* Does one of the n globs match rel, or the name of any of its parts: the file's
 * own name or a folder it lies in (so `--exclude 2024` leaves out the folder 2024
 * wherever it is, as rsync's patterns without a '/' do)? Case is ignored
 * (cameras name files IMG_0001.JPG, and `--include '*.jpg'` passing them over
 * would surprise), and '*' may match '/' in rel: 'trip*.jpg' also takes
 * trip/day1/a.jpg. */
int globs_match(const char *const *globs, int n, const char *rel);

/* What is wrong with glob as a pattern, in a few words, or NULL: a pattern that
 * can match no name, where a cron job's typo went unseen (a run of nothing to
 * make, exit 0), as glibc's fnmatch() reads it. An empty one (a variable left
 * unset in a script); a '[' that no ']' closes (taken as the character), as in
 * '[[:alpha:]*', whose only ']' ends the class; a class fnmatch() does not know
 * ('[[:alfa:]]'); a collating symbol of other than one character ('[[.ab.]]') or
 * not closed; a bracket whose only members are ranges backwards ('[9-0]'); a
 * '\' at the end. Options refuse them. An escaped '[' (\[) is the character. */
const char *globs_problem(const char *glob);

#endif
